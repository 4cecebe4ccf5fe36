"""Plating sweeps: what a user waits for, N members of a seed sweep of the default Cu skeleton,
run as N serial `hostsim simulate` commands (each a new process: imports, set-up, compiled
programs read from the warm cache) against one `hostsim batch` of the same N members (one
process; members of one shape share their compiled programs), as members per hour. Then, in one
session, N members' first ``--attempts`` attempts of the adaptive integrator (a `while_loop` of
attempts, each member with its own steps: the run pipeline's chunk program) `vmap`ped into one
program against the same N run one after another (the in-memory batching a GPU would use), with
the members' accepted steps and the largest difference of their Li fraction (the controller
may amplify the vmapped program's round-off into a different step). Prints a table, saves JSON
(default results/bench_batch_plating.json).

    python scripts/bench_batch_plating.py --members 8 --capacity 0.25 --vmap-members 4
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASE = """
[geometry]
family = "cu_skeleton"
width_um = 4.0
height_um = 10.0
thickness_um = 5.0
voxel_size_um = 0.125
fibre_diameter_um = 0.5
seed = {seed}

[electrolyte]
name = "lp30"

[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 1.0
capacity_mAh_cm2 = {capacity}

[output]
report = false
"""


def _timed(cmd, env):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1]}")
    return time.perf_counter() - t0


def commands(args, work: Path) -> dict:
    env = dict(os.environ)
    exe = [sys.executable, "-m", "hostsim.cli"]
    cases = []
    for seed in range(args.members):
        path = work / f"seed{seed}.toml"
        path.write_text(CASE.format(seed=seed, capacity=args.capacity))
        cases.append(path)
    sweep = work / "sweep.toml"
    sweep.write_text(CASE.format(seed=0, capacity=args.capacity).replace("seed = 0\n", "")
                     + f'\n[sweep]\n[sweep.axes]\n"geometry.seed" = {list(range(args.members))}\n')
    # warm the compilation cache for both paths (a user's second day), then time
    _timed(exe + ["simulate", str(cases[0]), "--out", str(work / "warm"), "--no-report"], env)
    serial = sum(_timed(exe + ["simulate", str(c), "--out", str(work / f"s{i}"), "--no-report"], env)
                 for i, c in enumerate(cases))
    batch = _timed(exe + ["batch", str(sweep), "--out", str(work / "b"), "--no-report", "--quiet"], env)
    return {"serial_commands_s": serial, "batch_command_s": batch,
            "serial_members_per_hour": 3600 * args.members / serial,
            "batch_members_per_hour": 3600 * args.members / batch, "ratio": serial / batch}


def vmapped(args) -> dict:
    import jax
    import jax.numpy as jnp

    import geometries as geo
    from hostsim import Kinetics, get_electrolyte
    from hostsim.electrochemistry.integrate import Drive, run_attempts, start
    from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
    from hostsim.electrochemistry.plating import PlatingSystem, initial_state
    from hostsim.numerics.stepsize import PIDController

    electrolyte = get_electrolyte("lp30")
    fields = [geo.CuSkeleton(width_um=4.0, height_um=10.0, thickness_um=5.0, voxel_size_um=0.125,
                             fibre_diameter_um=0.5, seed=i).fields() for i in range(args.vmap_members)]
    g = fields[0].grid
    controller = PIDController()
    # 1 mA/cm² for the commands' capacity: the attempts are that plate's first
    drive = Drive(jnp.asarray(10.0 * g.length[0] * g.length[1], g.dtype),
                  jnp.asarray(args.capacity * COULOMB_PER_MAH_CM2 / 10.0, g.dtype))

    def one(s, k, l, theta):
        system = PlatingSystem(g, s, k, l, electrolyte, Kinetics(), collector_layers=fields[0].collector_layers,
                               host_top=fields[0].host_top)
        carry = start(initial_state(g, theta, electrolyte), controller)
        carry, _, _ = run_attempts(system, carry, drive, controller, attempts=args.attempts)
        return carry.state.theta, carry.steps

    members = [(f.s, f.k, f.l, f.theta) for f in fields]
    stacked = tuple(jnp.stack(a) for a in zip(*members))
    single, batched = jax.jit(one), jax.jit(jax.vmap(one))
    jax.block_until_ready(single(*members[0]))
    jax.block_until_ready(batched(*stacked))
    t0 = time.perf_counter()
    serial = jax.block_until_ready([single(*m) for m in members])
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    together, together_steps = jax.block_until_ready(batched(*stacked))
    t_batched = time.perf_counter() - t0
    diff = max(float(jnp.max(jnp.abs(a - together[i]))) for i, (a, _) in enumerate(serial))
    return {"members": args.vmap_members, "attempts": args.attempts, "grid": list(g.shape),
            "accepted_steps_serial": [int(n) for _, n in serial],
            "accepted_steps_vmapped": [int(n) for n in together_steps], "serial_s": t_serial,
            "vmapped_s": t_batched, "ratio": t_serial / t_batched, "theta_max_difference": diff,
            "backend": jax.default_backend()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8, help="seed sweep members (default 8)")
    parser.add_argument("--capacity", type=float, default=0.25, help="plated capacity per member [mAh/cm²]")
    parser.add_argument("--vmap-members", type=int, default=4)
    parser.add_argument("--attempts", type=int, default=25, help="attempts of the adaptive integrator (accepted "
                        "or rejected steps) in the vmap comparison (default 25: one chunk of the run pipeline)")
    parser.add_argument("--skip-commands", action="store_true")
    parser.add_argument("--output", default="results/bench_batch_plating.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    record = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
              "capacity_mAh_cm2": args.capacity}
    if not args.skip_commands:
        with tempfile.TemporaryDirectory() as tmp:
            record["commands"] = commands(args, Path(tmp))
        c = record["commands"]
        print(f"{args.members} default-skeleton seeds, {args.capacity} mAh/cm² at 1 mA/cm² (warm compilation cache)")
        print(f"{'':28}{'wall [s]':>10}{'members/h':>11}")
        print(f"{'serial hostsim simulate':28}{c['serial_commands_s']:>10.1f}{c['serial_members_per_hour']:>11.0f}")
        print(f"{'one hostsim batch':28}{c['batch_command_s']:>10.1f}{c['batch_members_per_hour']:>11.0f}")
        print(f"batch / serial throughput: {c['ratio']:.2f}x (target >= 3x)")
    v = record["vmapped"] = vmapped(args)
    print(f"{v['members']} members x {v['attempts']} attempts on {v['grid']} (accepted steps "
          f"{v['accepted_steps_serial']} alone, {v['accepted_steps_vmapped']} vmapped): one after another "
          f"{v['serial_s']:.2f} s, vmapped {v['vmapped_s']:.2f} s ({v['ratio']:.2f}x); Li fraction agrees to "
          f"{v['theta_max_difference']:.1e}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(record, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
