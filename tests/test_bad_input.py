"""Bad input: every malformed case in this corpus ends in one line naming the key and
what was expected, with exit code 2, before any heavy work; and a box too short for the plated Li
is said up front (with the height needed) or, when Li grows into the top layers anyway, the run
stops and says so. Keys and checkpoints of the fixed-step scheme: the keys still run with one note
(a rest adapts its steps), an old checkpoint is refused in one line."""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import Grid, Kinetics, get_electrolyte
from hostsim.cli import main

BASE = """[geometry]
family = "foil"
width_um = 1.0
height_um = 4.0
voxel_size_um = 0.25
"""
PLATE = '[[protocol.segment]]\nkind = "plate"\ncurrent_mA_cm2 = {j}\ncapacity_mAh_cm2 = {q}\n'

CORPUS = [
    ('[geometry]\nfamily = "cu_skeleton"\nporosity = "high"\n', "porosity must be a number"),
    (BASE + '[protocol]\nsegment = "plate"\n', "[[protocol.segment]] tables"),
    (BASE + "[kinetics]\nalpha_a = -0.5\n", "alpha_a: must be > 0"),
    (BASE + "[kinetics]\nalpha_c = 1.5\n", "alpha_c: must be <= 1"),
    (BASE + "[kinetics]\ngate_width_mV = 0\n", "gate_width_mV: must be > 0"),
    (BASE + "[kinetics]\nnucleation_overpotential_bare_mV = -5\n", "must be >= 0"),
    (BASE + PLATE.format(j="inf", q=0.1), "current_mA_cm2: expected a finite number"),
    (BASE + PLATE.format(j="nan", q=0.1), "current_mA_cm2: expected a finite number"),
    (BASE + "[numerics]\nfill_per_step = 5.0\n", "fill_per_step: must be <= 0.1"),
    (BASE + PLATE.format(j=1, q="1e12"), "capacity_mAh_cm2: must be <= 1000"),
    (BASE + "[protocol]\ncycles = 100000000\n" + PLATE.format(j=1, q=0.1), "cycles: must be <= 10000"),
    (BASE + PLATE.format(j=1, q=1.0), "the box is too short for the capacity"),
    (BASE + "[numerics]\ntime_tolerance = 0.8\n", "time_tolerance: must be <= 0.5"),
    (BASE + "[numerics]\ntime_tolerance = 0\n", "time_tolerance: must be > 0"),
    (BASE + '[numerics]\ntime_tolerance = "tight"\n', "time_tolerance: expected a number"),
    (BASE + "[kinetics]\nsei_charge_C_m2 = -1\n", "sei_charge_C_m2: must be >= 0"),
    ("numerics = 3\n" + BASE, "case [numerics]: expected a table"),
    # every section and key of every file the program reads
    (BASE + "[foo]\nx = 1\n", "case [top level]: unknown key(s) foo"),
    (BASE + "[kinetics]\nalpha = 0.5\n", "case [kinetics]: unknown key(s) alpha"),
    (BASE + "[kinetics]\nexchange_current_density_mA_cm2 = 0\n", "exchange_current_density_mA_cm2: must be > 0"),
    (BASE + '[electrolyte]\nname = "seawater"\n', "unknown set 'seawater'"),
    (BASE + '[electrolyte]\nname = "lp30"\nconcentration = -1.0\n', "concentration must be > 0"),
    (BASE + '[electrolyte]\nname = "lp30"\ndiffusivity = "fast"\n', "diffusivity must be a number"),
    ('[geometry]\nfamily = "sponge"\n', "unknown host family 'sponge'"),
    ('geometry = "foil"\n', "case [geometry]: expected a table"),
    ('[geometry]\nfamily = "foil"\nwidth_um = 1.0\nfoo = 3\n', "foil: unknown parameter(s) foo"),
    (BASE.replace("voxel_size_um = 0.25", "voxel_size_um = -0.25"), "voxel_size_um must be in (0, inf)"),
    (BASE.replace("voxel_size_um = 0.25", "voxel_size_um = 0"), "voxel_size_um must be in (0, inf)"),
    (BASE.replace("width_um = 1.0", 'width_um = "wide"'), "width_um must be a number"),
    (BASE.replace("width_um = 1.0", "width_um = nan"), "width_um must be a finite number"),
    ('[geometry]\nfamily = "cu_skeleton"\nporosity = 1.5\n', "porosity must be in (0, 1)"),
    ('[geometry]\nfamily = "cu_skeleton"\nporosity = 0.0\n', "porosity must be in (0, 1)"),
    ('[geometry]\nfile = "{tmp}/missing.npy"\nvoxel_size_um = 0.5\n', "missing.npy: file not found"),
    ('[geometry]\nfile = "{tmp}/fake.npy"\n', "an imported volume needs voxel_size_um"),
    ('[geometry]\nfile = "{tmp}/fake.npy"\nvoxel_size_um = 0.5\n', "fake.npy: could not read as .npy"),
    (BASE + '[[protocol.segment]]\nkind = "charge"\ncurrent_mA_cm2 = 1\ncapacity_mAh_cm2 = 0.1\n',
     "kind: expected plate, strip or rest"),
    (BASE + '[[protocol.segment]]\nkind = "plate"\ncurrent_mA_cm2 = 1\n', "capacity_mAh_cm2: expected a number"),
    (BASE + '[[protocol.segment]]\nkind = "rest"\n', "duration_s: expected a number"),
    (BASE + PLATE.format(j=-1, q=0.1), "current_mA_cm2: must be > 0"),
    (BASE + PLATE.format(j=0, q=0.1), "current_mA_cm2: must be > 0"),
    (BASE + PLATE.format(j=1, q=0.1) + "rate = 3\n", "unknown key(s) rate"),
    (BASE + "[protocol]\nsegment = [1, 2]\n", "expected one or more [[protocol.segment]] tables"),
    (BASE + "[protocol]\ncycles = 0\n" + PLATE.format(j=1, q=0.1), "cycles: must be > 0"),
    (BASE + '[numerics]\nprecision = "float16"\n', "precision: expected one of float32, float64"),
    (BASE + '[numerics]\ninterface = "middle"\n', "interface: expected one of face, centre"),
    (BASE + "[numerics]\nnewton_steps = 0\n", "newton_steps: must be > 0"),
    (BASE + "[numerics]\nnewton_steps = 2.5\n", "newton_steps: expected an integer"),
    (BASE + '[numerics]\nvoltage_cutoff_V = "x"\n', "voltage_cutoff_V: expected a number"),
    (BASE + "[numerics]\nrest_steps = 0\n", "rest_steps: must be > 0"),
    (BASE + "[numerics]\ndevices = 0\n", "devices: must be > 0"),
    (BASE + "[numerics]\ndevices = 4096\n", "[numerics] devices = 4096, but this process sees"),
    (BASE + '[cell]\ntop = "wall"\n', "top: expected one of reservoir, li_counter_electrode"),
    (BASE + '[[coating]]\nmaterial = "lipon"\nthickness_profile_nm = [10.0, "x"]\n',
     "thickness_profile_nm: expected a number"),
    (BASE + '[[coating]]\nmaterial = "lipon"\nthickness_profile_nm = [10.0]\non = "collector"\n',
     "a graded film spans the host slab's layers"),
    (BASE + '[[coating]]\nmaterial = "lipon"\nthickness_nm = 100.0\npattern = "missing.npy"\n',
     "missing.npy: no such file"),
    (BASE + '[[coating]]\nmaterial = "lipon"\nthickness_nm = 100.0\npattern = "fake.npy"\n',
     "could not read it as a volume"),
    (BASE + '[[coating]]\nmaterial = "lipon"\nthickness_nm = 100.0\ncritical_strain = 0\n',
     "critical_strain: must be > 0"),
    (BASE + "[output]\nframes = 3\n", "case [output]: unknown key(s) frames"),
    (BASE + "[output]\nmax_frames = 1\n", "max_frames: must be > 1"),
    (BASE + '[output]\nreport = "yes"\n', "report: expected true or false"),
    (BASE + "[kinetics\nalpha_a = 0.5\n", "not valid TOML"),
]


@pytest.mark.parametrize("text, expected", CORPUS, ids=[e for _, e in CORPUS])
def test_bad_cases_exit_2_with_one_line_before_any_work(tmp_path, capsys, text, expected):
    (tmp_path / "fake.npy").write_text("not a numpy file")  # an imported volume that is not one
    path = tmp_path / "case.toml"
    path.write_text(text.replace("{tmp}", tmp_path.as_posix()))
    started = time.perf_counter()
    code = main(["simulate", str(path), "--out", str(tmp_path / "out"), "--no-report", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err, err
    assert not list((tmp_path / "out").glob("*_summary.json"))
    assert time.perf_counter() - started < 30  # no solve ran (the host build is the heaviest part)


def test_the_overflow_message_gives_the_height_that_fits(tmp_path, capsys):
    """1 mAh/cm² is 4.85 µm of dense Li; a 4 µm foil box (0.25 µm collector, 2 top layers kept)
    holds 3.25 µm: 1.6 µm short. The suggested 5.6 µm box then runs."""
    path = tmp_path / "case.toml"
    path.write_text(BASE + PLATE.format(j=1, q=1.0))
    assert main(["simulate", str(path), "--out", str(tmp_path / "a"), "--no-report", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "4.85 µm of dense Li" in err and "holds 3.25 µm" in err and "height >= 5.6 µm" in err
    path.write_text(BASE.replace("height_um = 4.0", "height_um = 5.75") + PLATE.format(j=1, q=1.0))
    assert main(["simulate", str(path), "--out", str(tmp_path / "b"), "--no-report", "--quiet"]) == 0


def test_li_growing_into_the_top_layers_stops_the_run_with_that_message():
    """A Li pillar on a foil reaching to 2 layers under the top: plating grows its tip into the
    top two layers (the room check passes: the net plating is small), and the run stops there
    with the message instead of running into the reservoir."""
    from hostsim.run.protocol import Protocol, Segment
    from hostsim.run.simulation import simulate

    g = Grid.create((4, 4, 20), voxel_size=0.25e-6, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    theta = jnp.zeros(g.shape).at[1:3, 1:3, 1:18].set(1.0)
    res = simulate("pillar", g, s, jnp.ones(g.shape), jnp.zeros(g.shape), theta, get_electrolyte("lp30"), Kinetics(),
                   Protocol((Segment.plate(4.0, 0.3),)), collector_layers=1, host_top=1)
    assert "Li reached the top of the box" in res.summary["message"]
    assert float(jnp.max(res.state.theta[:, :, -1])) <= 0.5
    assert res.summary["plated_mAh_cm2"] < 0.3


@pytest.mark.parametrize("content", [b"garbage", None, "truncated"],
                         ids=["not an npz", "an npz of another layout", "a checkpoint truncated on disk"])
def test_a_corrupt_checkpoint_is_one_line_naming_the_file(tmp_path, capsys, content):
    """--resume over a checkpoint that is not one of ours, or one cut short on disk: one line naming
    the file, exit 2."""
    import io

    out = tmp_path / "run"
    out.mkdir()
    (out / "case.toml").write_text(BASE.replace("height_um = 4.0", "height_um = 8.0") + PLATE.format(j=1, q=0.05))
    checkpoint = out / "foil_checkpoint.npz"
    if content is None:
        np.savez(checkpoint, state=np.zeros(3))
    elif content == "truncated":  # a real checkpoint's layout, cut in half
        buffer = io.BytesIO()
        np.savez(buffer, **{"state/theta": np.zeros((4, 4, 32)), "stepper/dt": np.asarray(1.0),
                            "series/time": np.arange(25.0), "segment": np.asarray(0), "done_time": np.asarray(25.0),
                            "total_time": np.asarray(180.0), "format": np.asarray(2)})
        data = buffer.getvalue()
        checkpoint.write_bytes(data[: len(data) // 2])
    else:
        checkpoint.write_bytes(content)
    code = main(["simulate", "--resume", str(out), "--no-report", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "foil_checkpoint.npz: unreadable checkpoint" in err, err
    assert "Traceback" not in err


def test_a_fixed_step_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    """--resume over a checkpoint of the fixed-step scheme (format 1: steps done and planned, no
    integrator carry): one line naming the file that says it comes from another version and to
    delete it; exit 2, nothing run."""
    from hostsim.electrochemistry.plating import PlatingState

    out = tmp_path / "run"
    out.mkdir()
    (out / "case.toml").write_text(BASE.replace("height_um = 4.0", "height_um = 8.0") + PLATE.format(j=1, q=0.05))
    np.savez(out / "foil_checkpoint.npz", **{f"state/{name}": np.zeros(3) for name in PlatingState._fields},
             **{"series/time": np.arange(3.0), "series/plated_charge": np.zeros(3), "series/cap_binding": np.zeros(3),
                "segment": np.asarray(0), "chunk": np.asarray(1), "stopped": np.asarray(False),
                "interface_ratio": np.asarray(1.0), "done_steps": np.asarray(25), "total_steps": np.asarray(100)})
    code = main(["simulate", "--resume", str(out), "--no-report", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "foil_checkpoint.npz: checkpoint from another hostsim version" in err, err
    assert "delete it" in err and "Traceback" not in err
    assert not list(out.glob("*_summary.json"))


def test_fill_per_step_still_runs_with_one_note(tmp_path, capsys):
    """A case of the fixed-step scheme (``[numerics] fill_per_step``) runs: one note line says the
    key is deprecated and which time_tolerance it set (the library's FutureWarning about it does not
    leave the command: it would say the same again), the summary records that tolerance, and every
    segment passes its charge."""
    import json
    import warnings

    from hostsim.run.case import tolerance_for_fill

    path = tmp_path / "case.toml"
    path.write_text(BASE + PLATE.format(j=1, q=0.1)
                    + '[[protocol.segment]]\nkind = "strip"\ncurrent_mA_cm2 = 1\ncapacity_mAh_cm2 = 0.05\n'
                    + "[numerics]\nfill_per_step = 0.1\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["simulate", str(path), "--out", str(tmp_path / "out"), "--no-report", "--max-frames", "2"])
    assert not [w for w in caught if "fill_per_step" in str(w.message)]
    captured = capsys.readouterr()
    assert code == 0, captured.err
    notes = [line for line in captured.err.splitlines() if "note" in line]
    assert len(notes) == 1 and notes[0].startswith("hostsim: note:"), captured.err
    assert "fill_per_step is deprecated" in notes[0] and "time_tolerance = 0.2" in notes[0]
    # progress by protocol time with an ETA; the result line says where the charge went
    assert "% of the protocol (plate)" in captured.err and "ETA" in captured.err
    assert "foil: 0.100 mAh/cm² plated, 0.050 stripped, net 0.050 (" in captured.out and " Li metal, " in captured.out
    assert " rejected)" in captured.out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["foil"]
    assert summary["time_tolerance"] == pytest.approx(tolerance_for_fill(0.1)) == pytest.approx(0.2)
    assert summary["message"] == "completed"
    assert summary["net_plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-5)
    assert [s["outcome"] for s in summary["segments"]] == ["completed"] * 2


def test_the_cli_prints_a_deprecated_key_once(tmp_path):
    """What a user sees (a real process, Python's default warning filters): one line about
    fill_per_step on stderr, the note."""
    import subprocess
    import sys

    path = tmp_path / "case.toml"
    path.write_text(BASE + PLATE.format(j=1, q=0.01) + "[numerics]\nfill_per_step = 0.1\n")
    proc = subprocess.run([sys.executable, "-m", "hostsim.cli", "simulate", str(path), "--out", str(tmp_path / "out"),
                           "--no-report", "--quiet", "--max-frames", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "fill_per_step" in line or "FutureWarning" in line]
    assert len(lines) == 1 and lines[0].startswith("hostsim: note:"), proc.stderr


def test_rest_steps_is_accepted_with_a_note_and_ignored():
    """``[numerics] rest_steps`` (fixed steps per rest) is accepted with one note and dropped from
    the run's options; fill_per_step next to time_tolerance is ignored with one note."""
    from hostsim.run.case import parse_case
    from hostsim.run.pipeline import simulation_options

    with pytest.warns(FutureWarning, match="rest_steps"):
        case = parse_case({"numerics": {"rest_steps": 500}}, "old.toml")
    assert case.notes == ["old.toml: [numerics] rest_steps is deprecated and ignored (a rest adapts its steps)"]
    assert not hasattr(case.numerics, "rest_steps") and "rest_steps" not in simulation_options(case)
    with pytest.warns(FutureWarning, match="fill_per_step"):
        both = parse_case({"numerics": {"fill_per_step": 0.02, "time_tolerance": 0.1}}, "both.toml")
    assert len(both.notes) == 1 and "ignored next to time_tolerance" in both.notes[0]
    assert simulation_options(both)["time_tolerance"] == 0.1
    assert parse_case({}, "new.toml").notes == []


@pytest.mark.parametrize("tolerance", [0.05, 0.2])
def test_a_rest_costs_a_handful_of_steps(tolerance):
    """What rest_steps used to fix: a rest adapts its steps. An hour's rest after plating a foil
    (float32) takes a handful of steps, passes no charge, moves no Li, and the strip after it
    passes its charge."""
    import geometries as geo
    from hostsim.run.case import parse_case
    from hostsim.run.pipeline import simulation_options
    from hostsim.run.simulation import simulate

    case = parse_case({"geometry": {"family": "foil", "width_um": 1.0, "height_um": 4.0, "voxel_size_um": 0.25},
                       "protocol": {"segment": [{"kind": "plate", "current_mA_cm2": 1.0, "capacity_mAh_cm2": 0.1},
                                                {"kind": "rest", "duration_s": 3600.0},
                                                {"kind": "strip", "current_mA_cm2": 1.0, "capacity_mAh_cm2": 0.05}]},
                       "numerics": {"time_tolerance": tolerance}}, "rest")
    f = geo.case_hosts(case)[0][1].fields()
    res = simulate("foil", f.grid, f.s, f.k, f.l, f.theta, case.electrolyte, case.kinetics, case.protocol,
                   collector_layers=f.collector_layers, host_top=f.host_top, **simulation_options(case))
    plate, rest, strip = res.summary["segments"]
    assert rest["outcome"] == "completed", res.summary["message"]
    assert rest["seconds"] == pytest.approx(3600.0) and rest["passed_charge_C"] == 0.0
    assert rest["steps"] <= 8, rest
    rows = res.series["segment"] == 1
    assert np.ptp(res.series["passed_charge"][rows]) == 0.0 and np.all(res.series["current"][rows] == 0.0)
    assert np.ptp(res.series["envelope_mean"][rows]) <= 1e-6 * res.series["envelope_mean"][rows][0]
    assert strip["outcome"] == "completed" and res.summary["net_plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-5)
    assert res.summary["plated_mAh_cm2"] == pytest.approx(0.1, rel=1e-5) and res.summary["stripped_mAh_cm2"] == pytest.approx(0.05, rel=1e-5)


def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_summary(tmp_path):
    """``kill -9`` of ``hostsim simulate`` while it runs (after a checkpoint, before the end), then
    ``--resume``: the same summary as an uninterrupted run (Ctrl-C is tested in test_plating.py)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    case = tmp_path / "case.toml"
    case.write_text('[geometry]\nfamily = "foil"\nwidth_um = 1.0\nheight_um = 12.0\nvoxel_size_um = 0.5\n'
                    + PLATE.format(j=1.0, q=1.0) + '[numerics]\nprecision = "float64"\ntime_tolerance = 0.002\n')
    command = [sys.executable, "-m", "hostsim.cli", "simulate", str(case), "--no-report", "--quiet", "--out"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert subprocess.run(command + [str(full)], capture_output=True).returncode == 0
    proc = subprocess.Popen(command + [str(part)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = part / "foil_checkpoint.npz"
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before a checkpoint could be killed: make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (part / "summary.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "hostsim.cli", "simulate", "--resume", str(part), "--no-report",
                              "--quiet"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((full / "summary.json").read_text())["foil"]
    b = json.loads((part / "summary.json").read_text())["foil"]
    assert a["steps"] > 30 and a["message"] == "completed"
    for key in a:  # every number, the segment logs and the step counts included
        if key != "wall_time_s":
            assert a[key] == b[key], key
