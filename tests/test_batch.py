"""Batch runs: sweeps expand into validated members, every member is an ordinary run of
the pipeline (the same numbers as `hostsim simulate` on its case), failures stay in their row,
an interrupted batch resumes to the same table, and bad sweep files exit 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from hostsim.cli import main
from hostsim.errors import InputError
from hostsim.run.batch import parse_sweep, run_batch

FOIL_SWEEP = """
[sweep]
mode = "grid"
[sweep.axes]
"protocol.segment.0.current_mA_cm2" = [1.0, 3.0]
"geometry.lithiophilicity" = [0.0, 1.0]
[geometry]
family = "foil"
width_um = 1.0
height_um = 4.0
voxel_size_um = 0.25
[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 1.0
capacity_mAh_cm2 = 0.05
[numerics]
time_tolerance = 0.2
"""


def _sweep(text=FOIL_SWEEP, tmp_path=None):
    import tomllib

    from geometries._batch_cli import validate_host

    return parse_sweep(tomllib.loads(text), "sweep.toml", validate_host=validate_host)


def test_a_grid_sweep_expands_into_validated_members_with_stable_keys():
    sweep = _sweep()
    assert len(sweep.members) == 4
    assert len({m.key for m in sweep.members}) == 4
    m = sweep.members[3]
    assert m.parameters == {"protocol.segment.0.current_mA_cm2": 3.0, "geometry.lithiophilicity": 1.0}
    assert m.case.protocol.segments[0].current_density == pytest.approx(30.0)  # 3 mA/cm² in A/m²
    # the key hashes the resolved case: the same member in a zip sweep has the same key
    zipped = _sweep(FOIL_SWEEP.replace('mode = "grid"', 'mode = "zip"'))
    assert [x.key for x in zipped.members] == [sweep.members[0].key, sweep.members[3].key]


def _table(path):
    rows = pq.read_table(path).to_pylist()
    for r in rows:
        r.pop("member_wall_time_s")
        r.pop("wall_time_s", None)
    return rows


def test_members_are_ordinary_runs_failures_stay_in_their_row_and_resume_gives_the_same_table(tmp_path):
    """A 4-member foil sweep where the host of one member fails to build: that member is a failed
    row with its message and the other three complete. Each member's summary equals
    `hostsim simulate` of its case (1e-12). A batch interrupted after its first member and resumed
    ends with the same table as the uninterrupted one."""
    from geometries import case_hosts

    sweep = _sweep()
    bad = sweep.members[1].key

    def hosts_of(case, calls=[]):  # noqa: B006 - counts calls for the interrupt below
        calls.append(case)
        if case is sweep.members[1].case:
            raise RuntimeError("host builder exploded")
        return case_hosts(case)

    rows = run_batch(sweep, tmp_path / "full", hosts_of)
    assert [r["status"] for r in rows] == ["completed", "failed", "completed", "completed"]
    assert "host builder exploded" in rows[1]["message"]
    assert (tmp_path / "full" / "members" / bad / "failed.json").exists()
    # a member is an ordinary run: the same summary as `hostsim simulate` on its case
    member = sweep.members[3]
    case_file = tmp_path / "member3.toml"
    case_file.write_text(FOIL_SWEEP.split("[geometry]")[1].join(["[geometry]", ""])
                         .replace("current_mA_cm2 = 1.0", "current_mA_cm2 = 3.0")
                         .replace("voxel_size_um = 0.25\n", "voxel_size_um = 0.25\nlithiophilicity = 1.0\n"))
    assert main(["simulate", str(case_file), "--out", str(tmp_path / "single"), "--no-report", "--quiet",
                 "--max-frames", "2"]) == 0
    single = json.loads((tmp_path / "single" / "summary.json").read_text())["foil"]
    batch = json.loads((tmp_path / "full" / "members" / member.key / "summary.json").read_text())["foil"]
    for key in ("plated_mAh_cm2", "li_metal_mAh_cm2", "envelope_growth_um", "final_voltage_V", "flux_cv",
                "sei_loss_mAh_cm2", "steps", "rejected_steps"):
        assert batch[key] == pytest.approx(single[key], rel=1e-12, abs=1e-30)

    class Stop(KeyboardInterrupt):
        pass

    def interrupting(case, seen=[]):  # noqa: B006
        seen.append(case)
        if len(seen) == 2:
            raise Stop()
        return hosts_of(case)

    from hostsim.run.pipeline import Interrupted

    from hostsim.run.batch import OneByOne

    with pytest.raises(Interrupted):
        run_batch(sweep, tmp_path / "part", interrupting, schedule=OneByOne())
    assert len(pq.read_table(tmp_path / "part" / "results.parquet").to_pylist()) == 1  # the first member only
    run_batch(sweep, tmp_path / "part", hosts_of, resume=True)
    assert _table(tmp_path / "part" / "results.parquet") == _table(tmp_path / "full" / "results.parquet")
    csv_rows = (tmp_path / "part" / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 5 and "envelope_growth_um" in csv_rows[0]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda t: "[geometry]" + t.split("[geometry]")[1], "no [sweep] section"),
        (lambda t: t.replace('mode = "grid"', 'mode = "random"'), "mode"),
        (lambda t: t.replace('mode = "grid"', 'mode = "zip"').replace("[0.0, 1.0]", "[0.0, 0.5, 1.0]"), "equal length"),
        (lambda t: t.replace('"geometry.lithiophilicity" = [0.0, 1.0]', '"geometry.lithiophilicity" = 1.0'),
         "non-empty list"),
        (lambda t: t.replace('"geometry.lithiophilicity" = [0.0, 1.0]', '"geometry.lithiophilicity" = [0.0, "high"]'),
         "member"),
        (lambda t: t.replace('"protocol.segment.0.current_mA_cm2"', '"protocol.segment.3.current_mA_cm2"'), "no item 3"),
        (lambda t: t.replace('"geometry.lithiophilicity"', '"output.lithiophilicity"'), "path into"),
        (lambda t: t.replace("[0.0, 1.0]", "[1.0, 1.0]"), "same case"),
    ],
)
def test_bad_sweeps_exit_2_with_one_line(tmp_path, capsys, edit, expected):
    path = tmp_path / "bad.toml"
    path.write_text(edit(FOIL_SWEEP))
    assert main(["batch", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err
    assert not (tmp_path / "out" / "members").exists()  # before any work


def test_batch_cli_writes_table_and_report(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(FOIL_SWEEP.replace("[0.0, 1.0]", "[0.0]"))
    assert main(["batch", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 members" in out
    rows = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["completed", "completed"]
    # every member passes the charge it asked for; the columns carry their units
    assert all(r["plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-5) for r in rows)
    assert "envelope_growth_um" in rows[0] and "li_metal_mAh_cm2" in rows[0]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "protocol.segment.0.current_mA_cm2" in page and "data:image/png;base64" in page
    # a second call with --resume skips both members
    assert main(["batch", str(path), "--out", str(tmp_path / "out"), "--resume"]) == 0
    assert capsys.readouterr().err.count("[skipped]") == 2


def test_parse_errors_name_the_member():
    with pytest.raises(InputError, match=r"member 1 \(geometry.lithiophilicity = 2.0\)"):
        _sweep(FOIL_SWEEP.replace('"protocol.segment.0.current_mA_cm2" = [1.0, 3.0]\n', "")
               .replace("[0.0, 1.0]", "[0.0, 2.0]"))


def _volumes():
    from hostsim.transport.media import random_two_phase

    vols = [random_two_phase((16, 16, 16), porosity=0.5, seed=s) for s in range(5)]
    vols.insert(2, random_two_phase((12, 12, 20), porosity=0.6, seed=7))  # another shape
    blocked = np.ones((12, 12, 20), np.uint8)
    blocked[:, :, 10] = 0  # a wall across the axis: no path
    vols.append(blocked)
    return vols


def test_batched_transport_equals_the_loop():
    """Seven volumes of two shapes (one blocked) solved in chunks of 2 (a memory budget of two
    members) equal one-by-one solves to 1e-9 (float64), iterations per member included."""
    from hostsim.transport.effective import _member_bytes, effective_transport, effective_transport_batch

    vols = _volumes()
    budget = 2 * _member_bytes((16, 16, 16), np.float64)
    batch = effective_transport_batch(vols, precision="float64", memory_bytes=budget)
    for vol, b in zip(vols, batch):
        single = effective_transport(vol, precision="float64")
        assert b.effective_diffusivity_ratio == pytest.approx(single.effective_diffusivity_ratio, rel=1e-9, abs=1e-300)
        assert b.iterations == single.iterations and b.percolates == single.percolates
    assert not batch[-1].percolates and batch[-1].effective_diffusivity_ratio == 0.0


@pytest.mark.slow  # the fake-device child process sometimes hangs in XLA's CPU rendezvous (seen under pytest; not understood yet)
def test_sharded_batch_over_four_fake_devices_equals_unsharded(tmp_path):
    """The batch axis split over 4 host devices (XLA's fake-device flag, in a fresh process) gives
    the same D_eff as the unsharded batch to 1e-6 (float64), with 5 members (one padded)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "sharded.py"
    script.write_text(
        "import jax, numpy as np\n"
        "jax.config.update('jax_enable_x64', True)\n"
        "from jax.sharding import Mesh, NamedSharding, PartitionSpec as P\n"
        "from hostsim.transport.media import random_two_phase\n"
        "from hostsim.transport.effective import effective_transport_batch\n"
        "assert len(jax.devices()) == 4\n"
        "vols = [random_two_phase((16, 16, 16), porosity=0.5, seed=s) for s in range(5)]\n"
        "mesh = Mesh(np.array(jax.devices()), ('batch',))\n"
        "a = effective_transport_batch(vols, precision='float64', sharding=NamedSharding(mesh, P('batch')))\n"
        "b = effective_transport_batch(vols, precision='float64')\n"
        "print(max(abs(x.effective_diffusivity_ratio - y.effective_diffusivity_ratio) / y.effective_diffusivity_ratio"
        " for x, y in zip(a, b)))\n")
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.strip().splitlines()[-1]) < 1e-6


def test_transport_cli_over_a_folder_writes_one_table(tmp_path, capsys):
    vols = _volumes()[:3]
    for i, v in enumerate(vols):
        np.save(tmp_path / f"v{i}.npy", v)
    assert main(["transport", str(tmp_path), "--table", str(tmp_path / "table.csv")]) == 0
    rows = pq.read_table(tmp_path / "table.parquet").to_pylist()
    assert [r["volume"].rsplit("/", 1)[-1] for r in rows] == ["v0.npy", "v1.npy", "v2.npy"]
    assert all(0 < r["D_eff_over_D"] < 1 for r in rows)
    assert (tmp_path / "table.csv").read_text().count("\n") == 4
    capsys.readouterr()
    assert main(["transport", str(tmp_path / "none*.npy")]) == 2
    assert "matches no file" in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


# slow (1-3 min on 2 cores: the sweep three times, two processes at once); the default set splits
# members over fake devices in one process (test_eight_members_split_over_four_fake_devices_equal_serial_runs)
@pytest.mark.slow
def test_two_processes_through_jax_distributed_make_the_table_of_one(tmp_path):
    """`hostsim batch --coordinator localhost:PORT --num-processes 2 --process-id I` (two processes
    joined by jax.distributed, each running its share) merges the same table as one process:
    every metric identical, wall times aside."""
    import csv
    import os
    import subprocess
    import sys

    sweep = tmp_path / "sweep.toml"
    sweep.write_text(FOIL_SWEEP)
    base = [sys.executable, "-m", "hostsim.cli", "batch", str(sweep), "--no-report", "--quiet"]
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    one = subprocess.run(base + ["--out", str(tmp_path / "one")], capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    port = _free_port()
    procs = [subprocess.Popen(base + ["--out", str(tmp_path / "two"), "--coordinator", f"localhost:{port}",
                                      "--num-processes", "2", "--process-id", str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in (0, 1)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert "process 1 of 2" in outs[1][0] and "4 of 4 members" in outs[0][0]

    def table(folder):
        with open(tmp_path / folder / "results.csv") as fh:
            return [{k: v for k, v in row.items() if "wall_time" not in k} for row in csv.DictReader(fh)]

    a, b = table("one"), table("two")
    assert len(a) == 4 and a == b


def test_a_coordinator_without_its_process_count_is_one_line(tmp_path, capsys):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(FOIL_SWEEP)
    assert main(["batch", str(sweep), "--out", str(tmp_path / "o"), "--coordinator", "localhost:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--coordinator" in err
    assert not (tmp_path / "o").exists()


TOGETHER_SWEEP = FOIL_SWEEP.replace('"protocol.segment.0.current_mA_cm2" = [1.0, 3.0]\n', "").replace(
    '"geometry.lithiophilicity" = [0.0, 1.0]', '"geometry.lithiophilicity" = [0.0, 0.25, 0.5, 1.0]').replace(
    "capacity_mAh_cm2 = 0.05", "capacity_mAh_cm2 = 0.15").replace(
    "time_tolerance = 0.2", 'time_tolerance = 0.02\nprecision = "float64"')


def _metrics(rows):
    return [{k: v for k, v in r.items() if "wall_time" not in k} for r in rows]


# Summary keys that depend on the sizes of the adaptive steps themselves. The step controller feeds
# round-off back into the step sizes: the vmapped program's voltages differ from one member's from
# the first step on (its solves run in other kernels; up to 3e-9 relative), its first error
# estimates by ~1e-12, and some 30 steps later single step sizes by up to 9e-6 relative, the
# summary's step statistics by up to 4e-7 (measured, four foil members, float64; the same numbers
# of steps and rejections). Every result of the run (charge, Li, voltage, envelope,
# concentrations) stays within 1e-9; these keys are compared to 1e-5.
STEP_SIZE_KEYS = ("step_min_s", "step_median_s", "step_max_s")


def _decoded(value):
    """A table cell, with the summary's lists and dicts (JSON text in the table) decoded."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        return json.loads(value)
    return value


def _same(x, y, rel, key):
    if isinstance(x, dict) and isinstance(y, dict):
        assert x.keys() == y.keys(), key
        for k in x:
            _same(x[k], y[k], rel, f"{key}.{k}")
    elif isinstance(x, list) and isinstance(y, list):
        assert len(x) == len(y), key
        for i, (u, v) in enumerate(zip(x, y)):
            _same(u, v, rel, f"{key}[{i}]")
    elif isinstance(x, float) and isinstance(y, float):
        # balance errors and residuals are round-off themselves: compared absolutely; a flux CV is a
        # spread relative to the mean current (a foil's is ~2e-6): its difference is compared as such
        small = 1e-9 if ("error" in key or "residual" in key) else rel if key.startswith("flux_cv") else 1e-12
        within = max(rel, 1e-5) if key in STEP_SIZE_KEYS else rel
        assert y == pytest.approx(x, rel=within, abs=small), key
    else:
        assert x == y, key


def _close(a, b, rel):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for key, x in ra.items():
            _same(_decoded(x), _decoded(rb[key]), rel, key)


def test_members_together_equal_one_by_one_and_resume_together(tmp_path, monkeypatch):
    """Four foil members (lithiophilicity 0 to 1, float64) that take different numbers of adaptive
    steps, each more than one compiled chunk's attempts, run as one vmapped program: they give the
    one-by-one table to 1e-9 (the step-size statistics to 1e-5: STEP_SIZE_KEYS). Interrupted after
    the first chunk's checkpoints, the members continue together and end with the uninterrupted
    table, bit for bit."""
    from geometries import case_hosts
    from hostsim.run import pipeline
    from hostsim.run.batch import OneByOne, Together
    from hostsim.run.pipeline import Interrupted
    from hostsim.run.protocol import CHUNK_ATTEMPTS

    sweep = _sweep(TOGETHER_SWEEP)
    alone = run_batch(sweep, tmp_path / "alone", case_hosts, schedule=OneByOne())
    together = run_batch(sweep, tmp_path / "together", case_hosts, schedule=Together())
    assert [r["status"] for r in together] == ["completed"] * 4
    assert len({r["steps"] for r in together}) > 1  # each member its own steps, in one program
    # every member needs more than one chunk, so the interrupt below lands inside every run
    assert all(r["steps"] + r["rejected_steps"] + 1 > CHUNK_ATTEMPTS for r in together)
    _close(_metrics(alone), _metrics(together), 1e-9)

    saved = pipeline.save_checkpoint
    calls = []

    def stop_after_the_first_chunk(path, checkpoint):
        saved(path, checkpoint)
        calls.append(path)
        if len(calls) == 4:  # every member has its first chunk's checkpoint
            raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "save_checkpoint", stop_after_the_first_chunk)
    with pytest.raises(Interrupted):
        run_batch(sweep, tmp_path / "resumed", case_hosts, schedule=Together())
    monkeypatch.setattr(pipeline, "save_checkpoint", saved)
    assert len(list((tmp_path / "resumed" / "members").glob("*/foil_checkpoint.npz"))) == 4
    resumed = run_batch(sweep, tmp_path / "resumed", case_hosts, schedule=Together(), resume=True)
    assert _metrics(resumed) == _metrics(together)


def test_concurrent_members_equal_one_by_one_and_resume_after_an_interrupt(tmp_path, monkeypatch):
    """Members two at a time in threads (`Concurrent`, the single-CPU default) give the one-by-one
    table bit for bit. An interrupt during the first chunks stops every running member with its
    checkpoint; the resumed batch ends with the uninterrupted table, bit for bit."""
    from geometries import case_hosts
    from hostsim.run import pipeline
    from hostsim.run.batch import Concurrent, OneByOne
    from hostsim.run.pipeline import Interrupted

    sweep = _sweep(TOGETHER_SWEEP)
    alone = run_batch(sweep, tmp_path / "alone", case_hosts, schedule=OneByOne())
    threads = run_batch(sweep, tmp_path / "threads", case_hosts, schedule=Concurrent(workers=2))
    assert [r["status"] for r in threads] == ["completed"] * 4
    assert _metrics(threads) == _metrics(alone)

    saved = pipeline.save_checkpoint
    calls = []

    def interrupt_at_the_second_checkpoint(path, checkpoint):
        saved(path, checkpoint)
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "save_checkpoint", interrupt_at_the_second_checkpoint)
    with pytest.raises(Interrupted):
        run_batch(sweep, tmp_path / "resumed", case_hosts, schedule=Concurrent(workers=2))
    monkeypatch.setattr(pipeline, "save_checkpoint", saved)
    assert list((tmp_path / "resumed" / "members").glob("*/foil_checkpoint.npz"))
    assert len(list((tmp_path / "resumed" / "members").glob("*/summary.json"))) < 4
    resumed = run_batch(sweep, tmp_path / "resumed", case_hosts, schedule=Concurrent(workers=2), resume=True)
    assert _metrics(resumed) == _metrics(threads)
    with pytest.raises(ValueError):
        Concurrent(workers=0)


def test_eight_members_split_over_four_fake_devices_equal_serial_runs(tmp_path):
    """`hostsim batch --members-together vmap` on 4 fake CPU devices: 8 members (two per device,
    float64) give the table of `--members-together one-by-one` to 1e-6."""
    import csv
    import os
    import subprocess
    import sys

    sweep = tmp_path / "sweep.toml"
    sweep.write_text(TOGETHER_SWEEP.replace("[0.0, 0.25, 0.5, 1.0]", "[0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.8, 1.0]"))
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    for mode in ("vmap", "one-by-one"):
        proc = subprocess.run([sys.executable, "-m", "hostsim.cli", "batch", str(sweep), "--out", str(tmp_path / mode),
                               "--no-report", "--quiet", "--members-together", mode],
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]

    def table(mode):
        with open(tmp_path / mode / "results.csv") as fh:
            rows = [{k: v for k, v in r.items() if "wall_time" not in k} for r in csv.DictReader(fh)]
        return [{k: (float(v) if v.replace(".", "", 1).replace("e-", "", 1).replace("-", "", 1).isdigit() else v)
                 for k, v in r.items()} for r in rows]

    a, b = table("one-by-one"), table("vmap")
    assert len(a) == 8 and all(r["status"] == "completed" for r in b)
    _close(a, b, 1e-6)


def test_a_foil_of_lithiophilicity_0_1_plates():
    """The sweep's foil at lithiophilicity 0.1 (between members that run) plates what it asks."""
    import tomllib

    from geometries import case_hosts
    from hostsim.run.case import parse_case
    from hostsim.run.pipeline import simulation_options
    from hostsim.run.simulation import simulate

    data = tomllib.loads(TOGETHER_SWEEP.split("[geometry]")[1].join(["[geometry]", ""]))
    data["geometry"]["lithiophilicity"] = 0.1
    case = parse_case(data, "l = 0.1")
    f = case_hosts(case)[0][1].fields()
    res = simulate("foil", f.grid, f.s, f.k, f.l, f.theta, case.electrolyte, case.kinetics, case.protocol,
                   collector_layers=f.collector_layers, host_top=f.host_top, **simulation_options(case))
    assert res.summary["message"] == "completed"
    assert res.summary["plated_mAh_cm2"] == pytest.approx(0.15, rel=1e-9)


def test_repeated_batches_do_not_grow_memory(tmp_path):
    """The same 2-member sweep run five times in one process: after the second run (programs
    compiled, caches filled) resident memory grows by less than 40 MB over the next three, and
    the process's memory mappings (~17 per live XLA program) by less than 500 (PoreSpy's repeated
    runs leaked; a session that kept every program crashed at the kernel's mapping limit).
    Measured: +0.1 MB and +0 mappings from the second run to the fifth."""
    import gc
    import os

    from geometries import case_hosts
    from hostsim.run import programs

    def resident_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    if programs._memory_mappings() is None:
        pytest.skip("no /proc on this system")
    sweep = _sweep(FOIL_SWEEP.replace('"protocol.segment.0.current_mA_cm2" = [1.0, 3.0]\n', ""))
    marks = []
    for i in range(5):
        rows = run_batch(sweep, tmp_path / f"run{i}", case_hosts)
        assert [r["status"] for r in rows] == ["completed", "completed"]
        gc.collect()
        marks.append((resident_mb(), programs._memory_mappings()))
    (rss2, maps2), (rss5, maps5) = marks[1], marks[4]
    assert rss5 - rss2 < 40, marks
    assert maps5 - maps2 < 500, marks


def test_hosts_side_by_side_equal_one_after_another(tmp_path, capsys):
    """`run_hosts(..., workers=2)` (what `hostsim simulate --parallel-hosts 2` does with the
    default case's two hosts) writes the summaries of one host after another, bit for bit and in
    the hosts' order; `--parallel-hosts 0` is one line and exit 2."""

    from geometries import case_hosts
    from hostsim.run.case import parse_case
    from hostsim.run.pipeline import prepare_output, run_hosts

    data = {"protocol": {"segment": [{"kind": "plate", "current_mA_cm2": 1.0, "capacity_mAh_cm2": 0.15}]},
            "numerics": {"time_tolerance": 0.2, "precision": "float64"}}
    case = parse_case(data, "case")
    foil = {"family": "foil", "width_um": 1.0, "height_um": 4.0, "voxel_size_um": 0.25}
    hosts = [(f"foil_l{l}", case_hosts(parse_case({**data, "geometry": {**foil, "lithiophilicity": l}}))[0][1])
             for l in (0.0, 1.0)]
    one = run_hosts(prepare_output(tmp_path / "one"), hosts, case, max_frames=2, workers=1)
    two = run_hosts(prepare_output(tmp_path / "two"), hosts, case, max_frames=2, workers=2)
    assert list(two) == ["foil_l0.0", "foil_l1.0"]
    for name in one:
        assert {k: v for k, v in two[name].items() if k != "wall_time_s"} == \
            {k: v for k, v in one[name].items() if k != "wall_time_s"}
    assert one["foil_l0.0"]["final_voltage_V"] != one["foil_l1.0"]["final_voltage_V"]  # two different hosts
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(["simulate", "--parallel-hosts", "0", "--out", str(tmp_path / "bad")]))
    assert exc.value.code == 2 and "--parallel-hosts" in capsys.readouterr().err
