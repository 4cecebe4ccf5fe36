"""What a run writes (docs/outputs.md): field snapshots as a .pvd collection of compressed .vti
files that pyvista (and ParaView) re-open with the same names and values, the time-series CSV
columns, report.html, and clear errors for bad run directories."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

SMALL_CASE = ('[geometry]\nfamily = "cu_skeleton"\nwidth_um = 3.0\nheight_um = 4.0\nthickness_um = 2.0\n'
              'voxel_size_um = 0.25\nfibre_diameter_um = 0.5\n'
              '[[protocol.segment]]\nkind = "plate"\ncurrent_mA_cm2 = 1.0\ncapacity_mAh_cm2 = 0.3\n'
              '[[protocol.segment]]\nkind = "strip"\ncurrent_mA_cm2 = 1.0\ncapacity_mAh_cm2 = 0.1\n'
              '[numerics]\nprecision = "float64"\n[output]\nmax_frames = 6\n')


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A real (small) run through the CLI, batch mode (no report)."""
    from hostsim.cli import main

    d = tmp_path_factory.mktemp("run")
    case = d / "case.toml"
    case.write_text(SMALL_CASE)
    out = d / "out"
    assert main(["simulate", str(case), "--out", str(out), "--quiet", "--no-report"]) == 0
    return out


def _pvd_frames(path):
    root = ET.parse(path).getroot()
    return [(float(e.get("timestep")), e.get("file")) for e in root.iter("DataSet")]


def test_snapshots_form_a_time_series_pyvista_reopens(small_run):
    import pyvista as pv

    from hostsim.run.snapshots import UNITS

    name = "cu_skeleton"
    frames = _pvd_frames(small_run / f"{name}_fields.pvd")
    times = [t for t, _ in frames]
    assert 3 <= len(frames) <= 6 and times[0] == 0.0 and np.all(np.diff(times) > 0)
    reader = pv.get_reader(str(small_run / f"{name}_fields.pvd"))
    np.testing.assert_allclose(reader.time_values, times)
    reader.set_active_time_value(reader.time_values[-1])
    last = reader.read()[0]
    assert set(UNITS) <= set(last.cell_data.keys())
    assert json.loads(str(last.field_data["units"][0])) == UNITS
    final = pv.read(small_run / f"{name}_fields_final.vti")
    for key in UNITS:  # the last snapshot is the final state
        np.testing.assert_array_equal(np.asarray(last.cell_data[key]), np.asarray(final.cell_data[key]))
    summary = json.loads((small_run / f"{name}_summary.json").read_text())
    assert float(final.field_data["time_s"][0]) == pytest.approx(times[-1])
    assert float(final.field_data["voltage_V"][0]) == pytest.approx(summary["final_voltage_V"], rel=1e-6)
    assert float(final.spacing[0]) == pytest.approx(0.25e-6)
    # the Li metal gained (final - initial) in the files is the net charge passed less the Li the
    # SEI proxy took
    first = pv.read(small_run / frames[0][1])
    dtheta = np.sum(np.asarray(final.cell_data["li_fraction"], np.float64) - np.asarray(first.cell_data["li_fraction"]))
    from hostsim import FARADAY, LI_MOLAR_VOLUME

    passed = summary["passed_plating_charge_C"] - summary["passed_stripping_charge_C"]
    per_mah = (3e-6 * 3e-6) * 36000.0  # C per mAh/cm² over the 3 µm x 3 µm box
    sei = summary["sei_loss_mAh_cm2"] * per_mah
    assert 0 < sei < 0.2 * passed
    assert dtheta * (0.25e-6) ** 3 * FARADAY / LI_MOLAR_VOLUME == pytest.approx(passed - sei, rel=1e-6)
    assert summary["li_metal_mAh_cm2"] * per_mah == pytest.approx(passed - sei, rel=1e-6)
    # Li plated during the run carries its plating time; stripping current shows as negative current
    t = np.asarray(final.cell_data["plating_time_s"])
    assert t.max() <= times[-1] and t.max() > 0
    assert np.asarray(final.cell_data["plating_current_A_m2"]).min() < 0  # the run ends stripping
    # the snapshot files are compressed (LZ4) VTK XML
    assert b'compressor="vtkLZ4DataCompressor"' in (small_run / frames[1][1]).read_bytes()[:2000]


def test_timeseries_has_capacity_and_units(small_run):
    import csv

    rows = list(csv.reader(open(small_run / "cu_skeleton_timeseries.csv")))
    head = rows[0]
    for col in ("time_s", "voltage_V", "capacity_mAh_cm2", "envelope_mean_um", "flux_cv"):
        assert col in head
    cap = np.array([float(r[head.index("capacity_mAh_cm2")]) for r in rows[1:]])
    assert cap.max() == pytest.approx(0.3, rel=2e-2) and cap[-1] == pytest.approx(0.2, rel=3e-2)
    # one row per segment start (step_s 0) and per accepted step: the steps add up to the time
    column = {name: np.array([float(r[head.index(name)]) for r in rows[1:]])
              for name in ("time_s", "step_s", "segment")}
    assert np.sum(column["step_s"] == 0) == 2 and column["step_s"][0] == 0
    assert np.sum(column["step_s"]) == pytest.approx(column["time_s"][-1], rel=1e-6)
    assert list(np.unique(column["segment"])) == [0.0, 1.0] and np.all(np.diff(column["segment"]) >= 0)


def test_report_is_self_contained_with_numbers_and_plots(small_run):
    from hostsim.pictures.report import write_report

    page = write_report(small_run, renders=False)
    text = page.read_text()
    srcs = re.findall(r'src="([^"]*)"', text)
    assert len(srcs) >= 4 and all(s.startswith("data:image/") for s in srcs)  # embedded, no links
    assert "envelope growth (mean) [µm]" in text and "final voltage [mV]" in text
    assert "cu_skeleton" in text and 'kind = "strip"' in html.unescape(text)  # the case file is shown
    for png in ("voltage.png", "depth_profile.png", "current_histogram.png", "envelope.png"):
        assert (small_run / "figures" / png).stat().st_size > 5000


def test_report_cli_and_errors(tmp_path, capsys):
    from hostsim.cli import main

    assert main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hostsim: error:") and "nowhere" in err and "\n" not in err
    (tmp_path / "x_summary.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 2
    assert "x_summary.json" in capsys.readouterr().err


def test_bad_output_options_are_refused(tmp_path, capsys):
    from hostsim.cli import main

    case = tmp_path / "case.toml"
    case.write_text('[output]\nmax_frames = 1\n')
    assert main(["simulate", str(case), "--out", str(tmp_path / "o")]) == 2
    assert "max_frames" in capsys.readouterr().err
    case.write_text('[cell]\ntop = "lithium"\n')
    assert main(["simulate", str(case), "--out", str(tmp_path / "o")]) == 2
    assert "li_counter_electrode" in capsys.readouterr().err


def test_resumed_snapshot_series_keeps_its_frame_budget(tmp_path):
    """A SnapshotWriter resumed in a run directory continues the frame list with the max_frames
    the run started with (not the resuming command's), so the series stays within its budget;
    frames are spaced by the protocol time done."""
    from hostsim import Grid, get_electrolyte
    from hostsim.electrochemistry.plating import initial_state
    from hostsim.run.snapshots import SnapshotWriter

    g = Grid.create((2, 2, 4), voxel_size=1e-6, precision="float64")
    host = {"s": np.zeros(g.shape), "k": np.zeros(g.shape), "l": np.zeros(g.shape)}
    st = initial_state(g, np.zeros(g.shape), get_electrolyte("spec_oracle"))
    fields = {k: np.asarray(v) for k, v in st._asdict().items()}

    def checkpoint(done):  # the state after `done` of the protocol's 100 s
        return {"state": {**fields, "time": np.asarray(float(done))}, "done_time": float(done), "total_time": 100.0}

    first = SnapshotWriter(tmp_path, "h", g, host, max_frames=3)
    first.write(st, 0)
    for done in (10, 40):
        first.on_chunk(checkpoint(done))
    assert len(first.frames) == 1  # 1/(3-1) of the 100 s not reached yet
    again = SnapshotWriter(tmp_path, "h", g, host, max_frames=40, resume=True)
    assert again.max_frames == 3 and len(again.frames) == 1
    for done in range(25, 100, 25):
        again.on_chunk(checkpoint(done))
    assert [f[2] for f in again.frames] == [0.0, 50.0]
    again.finish(st._replace(time=np.asarray(100.0)))
    assert len(again.frames) == 3 and len(_pvd_frames(tmp_path / "h_fields.pvd")) == 3
    assert [t for t, _ in _pvd_frames(tmp_path / "h_fields.pvd")] == [0.0, 50.0, 100.0]


def test_fresh_run_clears_an_earlier_run_and_old_checkpoints_are_refused(small_run, tmp_path, capsys):
    import shutil

    from hostsim.run.pipeline import clear_outputs, load_checkpoint
    from hostsim.errors import InputError

    d = tmp_path / "old"
    shutil.copytree(small_run, d)
    (d / "stale_summary.json").write_text("{}")
    (d / "notes.txt").write_text("mine")
    clear_outputs(d)
    assert sorted(p.name for p in d.iterdir()) == ["case.toml", "notes.txt"]  # the case is copied in again
    # a checkpoint of the fixed-step scheme (format 1: no integrator carry, steps instead of time)
    from hostsim.electrochemistry.plating import PlatingState

    old = tmp_path / "old_checkpoint.npz"
    np.savez(old, **{f"state/{name}": np.zeros(3) for name in PlatingState._fields},
             **{"series/time": np.arange(3.0), "series/plated_charge": np.zeros(3), "segment": np.asarray(0),
                "chunk": np.asarray(1), "stopped": np.asarray(False), "interface_ratio": np.asarray(1.0),
                "done_steps": np.asarray(25), "total_steps": np.asarray(100), "logs": np.asarray("[]")})
    with pytest.raises(InputError) as refused:
        load_checkpoint(old)
    message = str(refused.value)
    assert "\n" not in message and "old_checkpoint.npz" in message and "another hostsim version" in message
    assert "delete it" in message


def test_run_pipeline_is_a_library(tmp_path, small_run):
    """The case -> hosts -> run -> files pipeline works without the CLI
    (geometries.case_hosts + hostsim.run.pipeline.run_hosts), with the CLI's numbers, and a resume of a
    finished run reads the summaries back instead of running again."""
    import tomllib

    import geometries as geo
    from hostsim.run.case import parse_case
    from hostsim.run.pipeline import prepare_output, run_hosts

    case = parse_case(tomllib.loads(SMALL_CASE), "small")
    hosts = geo.case_hosts(case)
    assert [name for name, _ in hosts] == ["cu_skeleton"]
    out = prepare_output(tmp_path / "lib")
    summaries = run_hosts(out, hosts, case, max_frames=3)
    cli = json.loads((small_run / "cu_skeleton_summary.json").read_text())
    for key in ("plated_mAh_cm2", "envelope_growth_um", "flux_cv", "final_voltage_V"):
        assert summaries["cu_skeleton"][key] == pytest.approx(cli[key], rel=1e-9), key
    assert (out / "cu_skeleton_fields_final.vti").exists() and not (out / "cu_skeleton_checkpoint.npz").exists()
    seen = []
    again = run_hosts(out, hosts, case, resume=True, on_host=lambda name, s, before: seen.append(before))
    assert seen == [True] and again["cu_skeleton"]["wall_time_s"] == summaries["cu_skeleton"]["wall_time_s"]
    assert [name for name, _ in geo.case_hosts(parse_case({}, "default"))] == ["foil", "cu_skeleton"]


def test_coulombic_efficiency_is_the_second_half_over_the_first_or_null_with_its_reason():
    """Plate-first: stripped / plated; strip-first (a pre-infused host): plated / stripped; in
    [0, 1]; a second half that passed more than the first, or nothing, gives null and a reason."""
    from hostsim.run.simulation import coulombic_efficiency, first_kind

    assert coulombic_efficiency(1.0, 0.93, "plate") == (pytest.approx(0.93), None)
    assert coulombic_efficiency(0.5, 0.8, "strip") == (pytest.approx(0.625), None)
    value, why = coulombic_efficiency(0.58, 1.0, "plate")  # a strip-first run read 1.72 as stripped / plated
    assert value is None and "1.724x" in why
    assert coulombic_efficiency(1.0, 0.0, "plate") == (None, "nothing was stripped after it was plated")
    assert coulombic_efficiency(0.0, 0.0, None) == (None, "no current passed")
    logs = [{"kind": "rest"}, {"kind": "strip"}, {"kind": "plate"}]
    assert first_kind(logs) == "strip" and first_kind(logs[:1]) is None
