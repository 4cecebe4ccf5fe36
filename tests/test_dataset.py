"""Runs, batches and designs as xarray datasets (hostsim.open_dataset, RunResult.to_dataset,
docs/outputs.md "Runs as xarray datasets"): the numbers are the files' numbers, snapshot frames
are read only when their values are asked for, and a folder hostsim did not write is one
InputError. Tiny cases: a 4 x 4 x 16 foil cycled twice, a 2 x 2 foil sweep, a 2-iteration
layer-profile study (the test_design study; its compiled programs are shared)."""

from __future__ import annotations

import csv
import json
import re
import shutil

import numpy as np
import pytest

import hostsim
from hostsim.cli import main
from hostsim.errors import InputError
from hostsim.run import dataset as hsds

FOIL_CYCLES = """
[geometry]
family = "foil"
width_um = 1.0
height_um = 4.0
voxel_size_um = 0.25
[protocol]
cycles = 2
[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 1.0
capacity_mAh_cm2 = 0.05
[[protocol.segment]]
kind = "strip"
current_mA_cm2 = 1.0
capacity_mAh_cm2 = 0.02
[numerics]
time_tolerance = 0.2
[output]
max_frames = 4
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    (d / "case.toml").write_text(FOIL_CYCLES)
    assert main(["simulate", str(d / "case.toml"), "--out", str(d / "out"), "--quiet", "--no-report"]) == 0
    return d / "out"


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory):
    from test_batch import FOIL_SWEEP  # 2 currents x 2 lithiophilicities of a tiny foil

    d = tmp_path_factory.mktemp("batch")
    (d / "sweep.toml").write_text(FOIL_SWEEP)
    assert main(["batch", str(d / "sweep.toml"), "--out", str(d / "out"), "--quiet"]) == 0
    return d / "out"


@pytest.fixture(scope="module")
def design_dir(tmp_path_factory):
    from test_design import TINY_STUDY

    d = tmp_path_factory.mktemp("design")
    (d / "study.toml").write_text(TINY_STUDY.replace("iterations = 3", "iterations = 2"))
    assert main(["design", str(d / "study.toml"), "--out", str(d / "out"), "--quiet", "--no-verify"]) == 0
    return d / "out"


def _csv_columns(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return {name: np.array([float(r[k]) for r in rows[1:]]) for k, name in enumerate(rows[0])}


def _pvd(path):
    return [(float(t), f) for t, f in re.findall(r'timestep="([^"]+)"[^>]*file="([^"]+)"', path.read_text())]


def _vti(path, name):
    """A cell array as pyvista reads it, reshaped to [x, y, z] (VTK's Fortran order)."""
    import pyvista as pv

    image = pv.read(path)
    shape = tuple(int(n) - 1 for n in image.dimensions)
    return np.asarray(image.cell_data[name]).reshape(shape, order="F"), image


def _counting_reads(monkeypatch):
    reads = []
    real = hsds._read_frame
    monkeypatch.setattr(hsds, "_read_frame", lambda path, name: (reads.append((path, name)), real(path, name))[1])
    return reads


def test_a_run_is_its_series_summary_and_lazy_frames(run_dir, monkeypatch):
    reads = _counting_reads(monkeypatch)
    ds = hostsim.open_dataset(run_dir)
    table = _csv_columns(run_dir / "foil_timeseries.csv")
    summary = json.loads((run_dir / "foil_summary.json").read_text())
    # the series is the CSV's, on time_s; segment and cycle are coordinates along it
    np.testing.assert_array_equal(ds["time_s"].values, table["time_s"])
    np.testing.assert_array_equal(ds["voltage_V"].values, table["voltage_V"])
    np.testing.assert_array_equal(ds["flux_cv"].values, table["flux_cv"])
    np.testing.assert_array_equal(ds["cycle"].values, table["cycle"])
    assert sorted(set(ds["cycle"].values.tolist())) == [0, 1] and ds["segment"].values.max() == 3
    assert ds["voltage_V"].attrs["units"] == "V" and ds["capacity_mAh_cm2"].attrs["units"] == "mAh/cm^2"
    # the last row is the end of the protocol: the segments' durations [s] add up to it (to the
    # float32 steps of the run and the 9 digits of the CSV)
    assert ds["time_s"].values[-1] == pytest.approx(sum(s["seconds"] for s in summary["segments"]), rel=1e-7)
    # the summary in attrs: numbers as numbers, lists and tables as JSON text
    assert ds.attrs["final_voltage_V"] == summary["final_voltage_V"] and ds.attrs["steps"] == summary["steps"]
    assert json.loads(ds.attrs["cycle_coulombic_efficiency"]) == summary["cycle_coulombic_efficiency"]
    assert json.loads(ds.attrs["segments"]) == summary["segments"] and ds.attrs["hostsim_host"] == "foil"
    # frames: lazy until values are asked for, then one file and one field per frame read
    frames = _pvd(run_dir / "foil_fields.pvd")
    np.testing.assert_allclose(ds["frame_time_s"].values, [t for t, _ in frames])
    assert ds["li_fraction"].dims == ("frame", "x", "y", "z") and ds.sizes["frame"] == len(frames) == 4
    part = ds["li_fraction"].isel(frame=2, z=slice(0, 6))
    assert reads == [] and not part.variable._in_memory
    expected, image = _vti(run_dir / frames[2][1], "li_fraction")
    np.testing.assert_array_equal(part.values, expected[:, :, :6])
    assert reads == [(run_dir / frames[2][1], "li_fraction")]
    assert expected[:, :, :6].max() > 0  # the slice holds plated Li, not an empty corner
    np.testing.assert_allclose(ds["z"].values[:2], [0.125, 0.375])  # cell centres [µm]
    assert float(image.field_data["time_s"][0]) == pytest.approx(float(ds["frame_time_s"][2]))
    # the first and the last frame are two reads, not the four frames between them
    ds["concentration_mol_m3"].isel(frame=[0, -1]).values
    assert len(reads) == 3
    # RunResult.to_dataset is the same dataset
    import xarray as xr

    xr.testing.assert_identical(hostsim.load_run(run_dir)["foil"].to_dataset(), ds)


def test_a_run_dataset_writes_to_netcdf_and_plots(run_dir, tmp_path):
    import matplotlib.pyplot as plt
    import xarray as xr

    ds = hostsim.open_dataset(run_dir)
    ds.to_netcdf(tmp_path / "run.nc", engine="scipy")  # netCDF3 through scipy: every attribute must be storable
    with xr.open_dataset(tmp_path / "run.nc", engine="scipy") as back:
        assert json.loads(back.attrs["segments"]) == json.loads(ds.attrs["segments"])
        np.testing.assert_array_equal(back["plating_time_s"].values, ds["plating_time_s"].values)
        ax = back.hostsim.plot_voltage()  # the accessor reads a dataset read back too
        np.testing.assert_array_equal(ax.lines[0].get_ydata(), ds["voltage_V"].values)
        plt.close(ax.figure)
    ax = ds.hostsim.plot_flux_cv(x="capacity_mAh_cm2")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), ds["capacity_mAh_cm2"].values)
    assert ax.get_ylabel() == "flux_cv"
    plt.close(ax.figure)
    # per cycle along time: the second cycle's mean voltage from the CSV's rows of cycle 1
    table = _csv_columns(run_dir / "foil_timeseries.csv")
    assert float(ds["voltage_V"].groupby("cycle").mean()[1]) == pytest.approx(
        table["voltage_V"][table["cycle"] == 1].mean(), rel=1e-12)


def test_a_run_of_several_hosts_opens_one_host_at_a_time(tmp_path):
    from run_fixture import write_fake_run

    out = write_fake_run(tmp_path / "two", names=("foil", "skeleton"))
    with pytest.raises(InputError, match=r"2 hosts \(foil, skeleton\): pass host="):
        hostsim.open_dataset(out)
    ds = hostsim.open_dataset(out, host="skeleton")
    assert ds.attrs["hostsim_host"] == "skeleton" and ds.attrs["envelope_growth_um"] == 2.4
    expected, _ = _vti(out / "skeleton_fields" / "skeleton_0003.vti", "solid_fraction")
    np.testing.assert_array_equal(ds["solid_fraction"].isel(frame=3).values, expected)
    with pytest.raises(InputError, match="no host 'cu'"):
        hostsim.open_dataset(out, host="cu")


def test_a_batch_is_one_dataset_over_its_members(batch_dir, tmp_path):
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq
    import xarray as xr

    ds = hostsim.open_dataset(batch_dir)
    rows = pq.read_table(batch_dir / "results.parquet").to_pylist()
    current, philic = "protocol.segment.0.current_mA_cm2", "geometry.lithiophilicity"
    assert ds.sizes["member"] == 4 and ds["member"].values.tolist() == [0, 1, 2, 3]
    # the swept values are the member's own (member.json), in sweep order (grid: the last axis fastest)
    for n, key in enumerate(ds["key"].values):
        parameters = json.loads((batch_dir / "members" / key / "member.json").read_text())["parameters"]
        assert float(ds[current][n]) == parameters[current] and float(ds[philic][n]) == parameters[philic]
    assert ds[current].values.tolist() == [1.0, 1.0, 3.0, 3.0] and ds[philic].values.tolist() == [0.0, 1.0, 0.0, 1.0]
    np.testing.assert_array_equal(ds["plated_mAh_cm2"].values, [r["plated_mAh_cm2"] for r in rows])
    np.testing.assert_array_equal(ds["envelope_growth_um"].values, [r["envelope_growth_um"] for r in rows])
    assert ds["status"].values.tolist() == ["completed"] * 4 and ds["envelope_growth_um"].attrs["units"] == "um"
    # a grid sweep unstacks into one axis per parameter
    grid = ds.set_index(member=json.loads(ds.attrs["hostsim_sweep_axes"])).unstack("member")
    assert grid["flux_cv"].dims == (current, philic) and grid["flux_cv"].shape == (2, 2)
    # a member's folder is a run
    member = hostsim.open_dataset(ds["member_directory"].values[3])
    assert member.attrs["plated_mAh_cm2"] == rows[3]["plated_mAh_cm2"]
    ax = ds.hostsim.plot_voltage()
    assert len(ax.lines) == 4 and ax.lines[3].get_label() == "current_mA_cm2=3.0, lithiophilicity=1.0"
    np.testing.assert_array_equal(ax.lines[3].get_ydata(), member["voltage_V"].values)
    plt.close(ax.figure)
    ds.to_netcdf(tmp_path / "batch.nc", engine="scipy")
    # the CSV table, where there is no Parquet, gives the same dataset
    shutil.copytree(batch_dir, tmp_path / "csv", ignore=shutil.ignore_patterns("results.parquet"))
    from_csv = hostsim.open_dataset(tmp_path / "csv")
    xr.testing.assert_equal(from_csv.drop_vars("member_directory"), ds.drop_vars("member_directory"))


def test_members_with_several_hosts_get_a_host_axis(tmp_path):
    """A sweep of a case without [geometry] runs two hosts a member: (member, host); a failed
    member has no host, and its status fills both."""
    from hostsim.run.batch import write_table

    (tmp_path / "members").mkdir()
    axis = "protocol.segment.0.current_mA_cm2"
    rows = [{"member": 0, "key": "a", axis: 1.0, "host": "foil", "status": "completed", "envelope_growth_um": 4.8},
            {"member": 0, "key": "a", axis: 1.0, "host": "cu_skeleton", "status": "completed",
             "envelope_growth_um": 0.7},
            {"member": 1, "key": "b", axis: 2.0, "host": None, "status": "failed", "message": "boom"}]
    write_table(tmp_path, rows)
    ds = hostsim.open_dataset(tmp_path)
    assert ds["envelope_growth_um"].dims == ("member", "host") and ds["host"].values.tolist() == ["foil", "cu_skeleton"]
    np.testing.assert_array_equal(ds["envelope_growth_um"].values, [[4.8, 0.7], [np.nan, np.nan]])
    assert ds["status"].values.tolist() == [["completed", "completed"], ["failed", "failed"]]
    assert ds[axis].values.tolist() == [1.0, 2.0]
    one = hostsim.open_dataset(tmp_path, host="cu_skeleton")
    assert one["envelope_growth_um"].dims == ("member",)
    np.testing.assert_array_equal(one["envelope_growth_um"].values, [0.7, np.nan])


def test_a_design_is_its_log_on_iterations_and_its_frames(design_dir, monkeypatch):
    import matplotlib.pyplot as plt

    reads = _counting_reads(monkeypatch)
    ds = hostsim.open_dataset(design_dir)
    rows = [json.loads(line) for line in (design_dir / "log.jsonl").read_text().splitlines()]
    record = json.loads((design_dir / "design.json").read_text())
    # one entry per log row, and one for the design after the last update (no row: NaN)
    n = len(rows)
    assert n == 2 and ds.sizes["iteration"] == n + 1 and ds["iteration"].values.tolist() == list(range(n + 1))
    np.testing.assert_array_equal(ds["objective"].values[:n], [r["objective"] for r in rows])
    np.testing.assert_array_equal(ds["gradient_norm"].values[:n], [r["gradient_norm"] for r in rows])
    np.testing.assert_array_equal(ds["flux_cv"].values[:n], [r["flux_cv"] for r in rows])
    assert np.isnan(ds["objective"].values[n]) and np.isnan(ds["relative_change"].values[0])
    assert "start" not in ds.dims
    assert ds.attrs["objective_final"] == record["objective_final"]
    assert json.loads(ds.attrs["layer_profiles"]) == record["layer_profiles"]
    # the frames s, k, l on (iteration, x, y, z), lazy; the last is the final design
    assert ds["k"].dims == ("iteration", "x", "y", "z") and reads == []
    last = design_dir / "design" / f"design_{n:04d}.vti"
    expected, _ = _vti(last, "k")
    np.testing.assert_array_equal(ds["k"].isel(iteration=-1).values, expected)
    assert reads == [(last, "k")]
    # the designed layers' k is design.json's profile: the final design's top layer of the slab
    assert np.any(np.isclose(expected, record["layer_profiles"]["k"][-1], rtol=1e-6))
    ax = ds.hostsim.plot_objective()
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), ds["objective"].values)
    plt.close(ax.figure)
    with pytest.raises(InputError, match="no time series"):
        ds.hostsim.plot_voltage()


def test_a_design_of_several_starts_has_a_start_axis(tmp_path):
    """log.jsonl rows per start and iteration (the loop's layout, written here): objective on
    (iteration, start); the frames follow the best start of the iteration before."""
    from hostsim.run.io import write_pvd, write_vti

    objectives = {0: [1.0, 0.7, 0.9], 1: [0.8, 0.75, 0.6]}  # best: start 1, then start 2
    with open(tmp_path / "log.jsonl", "w") as fh:
        for it, values in objectives.items():
            for start, value in enumerate(values):
                fh.write(json.dumps({"iteration": it, "start": start, "objective": value, "flux_cv": value / 2,
                                     "relative_change": None if it == 0 else 0.1, "active_bounds": ["k_0"]}) + "\n")
    (tmp_path / "design").mkdir()
    for it in range(3):
        shape = (2, 3, 4)
        write_vti(tmp_path / "design" / f"design_{it:04d}.vti",
                  {"s": np.full(shape, 0.5), "k": np.full(shape, it / 10), "l": np.zeros(shape)},
                  voxel_size=1e-6, metadata={"iteration": it})
    write_pvd(tmp_path / "design.pvd", [(it, f"design/design_{it:04d}.vti") for it in range(3)])
    ds = hostsim.open_dataset(tmp_path)
    assert ds["objective"].dims == ("iteration", "start") and ds.sizes == {"iteration": 3, "start": 3, "x": 2,
                                                                           "y": 3, "z": 4}
    np.testing.assert_array_equal(ds["objective"].values[:2], [objectives[0], objectives[1]])
    assert np.all(np.isnan(ds["objective"].values[2])) and ds["design_start"].values.tolist() == [0, 1, 2]
    assert ds["active_bounds"].values[1, 2] == '["k_0"]' and ds["active_bounds"].values[2, 0] == ""
    np.testing.assert_allclose(ds["k"].mean(("x", "y", "z")).values, [0.0, 0.1, 0.2], rtol=1e-6)
    assert ds["x"].values.tolist() == [0.5, 1.5]  # cell centres [µm] of 1 µm voxels
    ds.to_netcdf(tmp_path / "design.nc", engine="scipy")


def test_a_folder_hostsim_did_not_write_is_one_input_error(tmp_path, design_dir):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="not a hostsim run, batch or design folder"):
        hostsim.open_dataset(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        hostsim.open_dataset(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="a design folder has no hosts"):
        hostsim.open_dataset(design_dir, host="foil")
