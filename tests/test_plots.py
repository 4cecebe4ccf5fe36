"""Run-directory reader (hostsim.run.results) and matplotlib plots (hostsim.pictures.plots) on the synthetic
run of tests/run_fixture.py (cases foil and skeleton, 8x8x16 voxels of 0.5 µm, 4 frames)."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from run_fixture import COLUMNS, _fields, write_fake_run  # noqa: E402

from hostsim.errors import InputError  # noqa: E402
from hostsim.run.io import write_vti  # noqa: E402
from hostsim.pictures.plots import (  # noqa: E402
    FILES,
    UM_PER_MAH_CM2,
    envelope_growth,
    interface_currents,
    plot_current_histogram,
    plot_depth_profile,
    plot_envelope,
    plot_run,
    plot_voltage,
)
from hostsim.run.results import EXPECTED_COLUMNS, depth_profile, load_run, read_snapshot  # noqa: E402

SHAPE, VOXEL, T_END = (8, 8, 16), 0.5e-6, 3600.0
DPI = 120


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_fake_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def runs(run_dir):
    return load_run(run_dir)


def _png_size(path):
    from PIL import Image

    assert path.is_file() and path.stat().st_size > 5000
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size  # (width, height) in pixels


def _fresh_copy(src, dst):
    shutil.copytree(src, dst)
    return dst


# --- reading -----------------------------------------------------------------------------------
def test_load_run_cases_columns_snapshots(runs, run_dir):
    assert list(runs) == ["foil", "skeleton"]
    for name, r in runs.items():
        assert r.name == name and r.directory == run_dir
        assert r.summary["case"] == name
        assert set(EXPECTED_COLUMNS) <= set(COLUMNS) == set(r.series)
        # one row for the segment's start (no step) and one per step: 21 rows
        assert all(len(v) == 21 and v.dtype == np.float64 for v in r.series.values())
        np.testing.assert_allclose(r.series["time_s"][[0, 1, -1]], [0.0, 180.0, 3600.0])
        assert r.series["step_s"][0] == 0.0 and np.sum(r.series["step_s"]) == pytest.approx(3600.0)
        assert [t for t, _ in r.snapshots] == [0.0, 1200.0, 2400.0, 3600.0]
        assert [p.name for _, p in r.snapshots] == [f"{name}_{i:04d}.vti" for i in range(4)]
        assert all(p.is_file() for _, p in r.snapshots)
        assert r.final_snapshot == run_dir / f"{name}_fields_final.vti"


def test_fixture_columns_are_the_writers():
    """The fixture's header is the one write_outputs writes (capacity after the passed charge)."""
    from hostsim.run.simulation import SERIES_COLUMNS

    written = [label for _, label, _ in SERIES_COLUMNS]
    written.insert(5, "capacity_mAh_cm2")
    assert COLUMNS == written


def test_read_snapshot_fields_and_meta(runs):
    fields, meta = runs["skeleton"].read_snapshot(-1)
    assert set(fields) >= {"solid_fraction", "li_fraction", "plating_current_A_m2", "concentration_mol_m3"}
    assert all(v.shape == SHAPE for v in fields.values())
    expected, host_top = _fields("skeleton", SHAPE, 1.0, T_END)
    for name, value in expected.items():  # Fortran order undone: [x, y, z] as written
        np.testing.assert_allclose(fields[name], value, rtol=1e-6, err_msg=name)
    assert meta["voxel_size_m"] == pytest.approx(VOXEL)
    assert meta["collector_layers"] == 1 and meta["host_top"] == host_top == 8
    assert isinstance(meta["host_top"], int)
    assert meta["time_s"] == pytest.approx(T_END) and meta["capacity_mAh_cm2"] == pytest.approx(1.0)
    assert meta["case"] == "skeleton" and meta["units"]["concentration_mol_m3"] == "mol/m^3"
    only, _ = read_snapshot(runs["skeleton"].snapshots[0][1], fields=["li_fraction"])
    assert list(only) == ["li_fraction"]


@pytest.mark.parametrize("name", ["foil", "skeleton"])
def test_depth_profile_integrates_to_plated_thickness(runs, name):
    x, z_um, plated = depth_profile(runs[name])
    np.testing.assert_allclose(x, [0, 1 / 3, 2 / 3, 1], atol=1e-12)
    dz = VOXEL * 1e6
    np.testing.assert_allclose(z_um, (np.arange(SHAPE[2]) + 0.5) * dz)
    assert plated.shape == (4, SHAPE[2])
    theta0 = _fields(name, SHAPE, 0.0, T_END)[0]["li_fraction"]
    for f, frac in enumerate([0, 1 / 3, 2 / 3, 1]):
        theta = _fields(name, SHAPE, frac, T_END)[0]["li_fraction"]
        expected_um = np.sum(theta - theta0) * VOXEL * 1e6 / (SHAPE[0] * SHAPE[1])  # plated volume / area
        assert np.sum(plated[f]) * dz == pytest.approx(expected_um, rel=1e-6, abs=1e-12)
    assert np.sum(plated[-1]) * dz > 1.0  # something was plated
    t, _, _ = depth_profile(runs[name], x="time")
    np.testing.assert_allclose(t, [0, 1200, 2400, 3600])


def test_envelope_growth_and_currents(runs):
    q, gm, gx, ref = envelope_growth(runs["foil"])
    assert ref == "initial state" and q[0] == 0 and gm[0] == 0 and len(q) == 22
    np.testing.assert_allclose(gm[1:], runs["foil"].series["envelope_mean_um"])  # foil starts at 0 µm
    assert UM_PER_MAH_CM2 == pytest.approx(4.85, abs=0.005)
    i, t, mode = interface_currents(runs["skeleton"])  # the last frame is all-or-nothing: frame 2
    assert (t, mode) == (2400.0, "plating") and np.all(i == pytest.approx(10.0))
    assert interface_currents(runs["foil"]) is None  # the fake foil never has a partly filled voxel


# --- plots --------------------------------------------------------------------------------------
@pytest.mark.parametrize("func, size1, size2", [
    (plot_voltage, (1200, 504), (1200, 504)),
    (plot_depth_profile, (900, 552), (1152, 552)),
    (plot_current_histogram, (960, 552), (960, 552)),
    (plot_envelope, (960, 552), (960, 552)),
])
def test_plot_one_and_two_runs(runs, tmp_path, func, size1, size2):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    one = func(runs["skeleton"], tmp_path / "sub" / "one.png")
    assert one == tmp_path / "sub" / "one.png" and _png_size(one) == size1
    two = func([runs["foil"], runs["skeleton"]], tmp_path / "two.png")
    assert _png_size(two) == size2
    assert plt.get_fignums() == before  # nothing left open in pyplot


def test_plot_run_writes_four_files(run_dir, tmp_path):
    t0 = time.perf_counter()
    paths = plot_run(run_dir, tmp_path / "plots")
    assert time.perf_counter() - t0 < 10.0
    assert [p.name for p in paths] == [FILES[k] for k in ("voltage", "depth_profile", "current_histogram", "envelope")]
    assert all(_png_size(p)[0] > 800 for p in paths)
    default = plot_run(_fresh_copy(run_dir, tmp_path / "copy"))
    assert {p.parent for p in default} == {tmp_path / "copy"} and len(default) == 4


def test_a_cycled_run_gets_the_per_cycle_plot(run_dir, tmp_path):
    """A case of 5 cycles (its series' cycle column and the summary's per-cycle lists, one cycle
    without a stripping value): plot_run adds cycles.png; the cycles read from the summary are
    those written; a run of one cycle has no per-cycle plot (one line)."""
    import csv
    import json

    from hostsim.pictures.plots import _cycle_values, _voltage_of_cycle, cycle_count, plot_cycles

    d = _fresh_copy(run_dir, tmp_path / "cycled")
    path = d / "skeleton_timeseries.csv"
    rows = list(csv.reader(path.open()))
    cycle = rows[0].index("cycle")
    for j, row in enumerate(rows[1:]):
        row[cycle] = str(min(j * 5 // (len(rows) - 1), 4))
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    summary = json.loads((d / "skeleton_summary.json").read_text())
    summary |= {"cycle_coulombic_efficiency": [0.9, 0.95, 0.96, 0.97, 0.97],
                "cycle_dead_li_mAh_cm2": [0.01, 0.005, 0.004, 0.004, 0.003],
                "cycle_sei_loss_mAh_cm2": [0.02, 0.01, 0.01, 0.01, 0.01],
                "cycle_envelope_plated_um": [2.0, 2.1, 2.2, 2.3, 2.4],
                "cycle_envelope_stripped_um": [0.1, 0.2, 0.3, 0.4, None]}
    (d / "skeleton_summary.json").write_text(json.dumps(summary))
    runs = load_run(d)
    assert cycle_count(runs["skeleton"]) == 5 and cycle_count(runs["foil"]) == 0
    n, ce = _cycle_values(runs["skeleton"], "cycle_coulombic_efficiency", 100.0)
    assert list(n) == [1, 2, 3, 4, 5] and ce[0] == pytest.approx(90.0)
    assert list(_cycle_values(runs["skeleton"], "cycle_envelope_stripped_um")[0]) == [1, 2, 3, 4]
    t, v = _voltage_of_cycle(runs["skeleton"], 2)
    assert len(t) >= 2 and t[0] == 0.0 and np.all(np.diff(t) > 0) and np.all(v < 0)
    paths = plot_run(d, tmp_path / "plots")
    assert paths[-1].name == FILES["cycles"] and _png_size(paths[-1]) == (1320, 912)
    with pytest.raises(InputError, match="two or more cycles"):
        plot_cycles(runs["foil"], tmp_path / "none.png")


def test_stripping_switches_to_time_axis_and_diverging_scale(run_dir, tmp_path):
    """Pre-infused Li (0.5 in layer 1), plated to 1, then stripped to 0: the capacity goes back,
    the profile goes negative; the plots take the time axis and still render."""
    d = _fresh_copy(run_dir, tmp_path / "strip")
    fields, _ = _fields("foil", SHAPE, 0.0, T_END)
    meta = {"voxel_size_m": VOXEL, "collector_layers": 1, "host_top": 1, "case": "foil"}
    for i, (theta1, q) in enumerate([(0.5, 0.0), (0.75, 0.05), (1.0, 0.1), (0.0, -0.1)]):
        fields["li_fraction"] = np.zeros(SHAPE)
        fields["li_fraction"][:, :, 1] = theta1
        fields["plating_current_A_m2"] = np.where(fields["li_fraction"] > 0, 10.0 if i < 3 else -5.0, 0.0)
        if i == 3:
            fields["plating_current_A_m2"][:, :, 1] = -5.0
        write_vti(d / f"foil_fields/foil_{i:04d}.vti", fields, voxel_size=VOXEL,
                  metadata={**meta, "time_s": 1200.0 * i, "capacity_mAh_cm2": q})
    csv = d / "foil_timeseries.csv"  # the start row and 10 plating steps, then 10 stripping steps
    lines = csv.read_text().splitlines()
    cols = lines[0].split(",")
    for j in range(11, 21):
        row = lines[j + 1].split(",")
        row[cols.index("segment")] = "1"
        row[cols.index("current_A")] = str(-float(row[cols.index("current_A")]))
        row[cols.index("voltage_V")] = str(-float(row[cols.index("voltage_V")]))
        row[cols.index("capacity_mAh_cm2")] = str(0.1 * (20 - j) / 10 * 5)
        lines[j + 1] = ",".join(row)
    csv.write_text("\n".join(lines) + "\n")
    foil = load_run(d)["foil"]
    assert _png_size(plot_voltage(foil, tmp_path / "v.png")) == (1200, 504)
    x, _, plated = depth_profile(foil)
    np.testing.assert_allclose(x, [0.0, 0.05, 0.1, -0.1])
    np.testing.assert_allclose(np.sum(plated, axis=1) * VOXEL * 1e6, [0.0, 0.125, 0.25, -0.25])
    assert _png_size(plot_depth_profile(foil, tmp_path / "d.png")) == (900, 552)
    i, t, mode = interface_currents(foil)
    assert (t, mode) == (2400.0, "plating") and i.size == 64  # the last frame with plating current
    assert _png_size(plot_current_histogram(foil, tmp_path / "h.png")) == (960, 552)


def test_run_without_snapshots_skips_field_plots(run_dir, tmp_path):
    d = _fresh_copy(run_dir, tmp_path / "nosnap")
    for name in ("foil", "skeleton"):
        (d / f"{name}_fields.pvd").unlink()
        (d / f"{name}_fields_final.vti").unlink()
    runs = load_run(d)
    assert runs["foil"].snapshots == [] and runs["foil"].final_snapshot is None
    with pytest.warns(UserWarning, match="skipped"):
        paths = plot_run(d)
    assert [p.name for p in paths] == ["voltage.png", "envelope.png"]
    q, gm, _, ref = envelope_growth(runs["skeleton"])  # mean reference from envelope_growth_um
    assert ref == "first step" and gm[-1] == pytest.approx(runs["skeleton"].summary["envelope_growth_um"])
    with pytest.raises(InputError, match="nosnap.*no case has field snapshots"):
        plot_depth_profile(list(runs.values()), tmp_path / "x.png")


# --- errors -------------------------------------------------------------------------------------
def test_empty_or_missing_directory(tmp_path):
    with pytest.raises(InputError, match=f"{tmp_path}.*no NAME_summary.json"):
        load_run(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        load_run(tmp_path / "nope")


def test_csv_missing_column(run_dir, tmp_path):
    d = _fresh_copy(run_dir, tmp_path / "col")
    csv = d / "skeleton_timeseries.csv"
    lines = csv.read_text().splitlines()
    k = lines[0].split(",").index("capacity_mAh_cm2")
    csv.write_text("\n".join(",".join(c for j, c in enumerate(ln.split(",")) if j != k) for ln in lines) + "\n")
    with pytest.raises(InputError, match=r"skeleton_timeseries\.csv: missing column capacity_mAh_cm2$"):
        load_run(d)
    csv.unlink()
    with pytest.raises(InputError, match=r"skeleton_timeseries\.csv: time series file not found"):
        load_run(d)


def test_corrupt_files(run_dir, tmp_path):
    d = _fresh_copy(run_dir, tmp_path / "bad")
    (d / "foil_fields.pvd").write_text("<VTKFile type='Collection'><Collection><DataSet")
    with pytest.raises(InputError, match=r"foil_fields\.pvd: not a readable ParaView collection"):
        load_run(d)
    (d / "foil_fields.pvd").write_text(
        '<VTKFile type="Collection"><Collection><DataSet timestep="0" file="foil_fields/gone.vti"/>'
        "</Collection></VTKFile>")
    with pytest.raises(InputError, match=r"gone\.vti: snapshot listed in foil_fields\.pvd not found"):
        load_run(d)
    (d / "foil_fields.pvd").unlink()
    (d / "foil_summary.json").write_text("{not json")
    with pytest.raises(InputError, match=r"foil_summary\.json: not valid JSON"):
        load_run(d)
    vti = d / "skeleton_fields" / "skeleton_0001.vti"
    vti.write_bytes(vti.read_bytes()[:300])
    with pytest.raises(InputError, match=r"skeleton_0001\.vti"):
        read_snapshot(vti)
    with pytest.raises(InputError, match=r"skeleton_0002\.vti: no cell array 'nope'"):
        read_snapshot(d / "skeleton_fields" / "skeleton_0002.vti", fields=["nope"])
