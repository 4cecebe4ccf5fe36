"""Cost of the electronic-connectivity update inside a plating step, beside the step.

    python scripts/bench_connectivity.py [--repeats 20] [--output results/bench_connectivity.json]

On the default Cu skeleton (32x32x80 voxels, float32) and the default fibre scaffold, after
``--plated`` mAh/cm² at 1 mA/cm² (default 0.125, what 50 fixed 9 s steps of an earlier version
plated; reached with the adaptive integrator at its default tolerance): the connected set
searched from the collector, the incremental update of a plating step (the previous set still
valid), and one whole step of the adaptive integrator (one attempt: the Li and salt update, the
connectivity update and the potential solve of the new state, the error estimate), each
jit-compiled and timed after a warm-up call (best of ``--repeats``). Prints a table and saves
JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import geometries as geo
from hostsim import Kinetics, get_electrolyte
from hostsim.numerics.connectivity import conducting_nodes, connected_nodes, update_connected
from hostsim.electrochemistry.integrate import Drive, attempt, run_attempts, start
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
from hostsim.electrochemistry.plating import PlatingSystem, initial_state
from hostsim.numerics.stepsize import PIDController


def best_of(fn, repeats):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--plated", type=float, default=0.125, help="mAh/cm² plated before the timings")
    parser.add_argument("--hosts", nargs="+", default=["cu_skeleton", "fibre_scaffold"],
                        choices=["cu_skeleton", "fibre_scaffold"])
    parser.add_argument("--output", default="results/bench_connectivity.json")
    args = parser.parse_args(argv)
    lp30 = get_electrolyte("lp30")
    hosts = {
        "cu_skeleton": geo.CuSkeleton(width_um=4.0, height_um=10.0, thickness_um=5.0, voxel_size_um=0.125,
                                      fibre_diameter_um=0.5),
        "fibre_scaffold": geo.make_family("fibre_scaffold"),
    }
    rows = {}
    controller = PIDController()
    for name in args.hosts:
        f = hosts[name].fields()
        g = f.grid
        current = 10.0 * g.length[0] * g.length[1]  # 1 mA/cm²
        system = PlatingSystem(g, f.s, f.k, f.l, lp30, Kinetics(), collector_layers=f.collector_layers,
                               host_top=f.host_top)
        # plate --plated mAh/cm² with adaptive steps (a while loop of attempts: compiled once, not unrolled)
        seconds = args.plated * COULOMB_PER_MAH_CM2 / 10.0
        drive = Drive(jnp.asarray(current, g.dtype), jnp.asarray(seconds, g.dtype))
        plate = jax.jit(lambda c: run_attempts(system, c, drive, controller, attempts=10000)[0])
        plated = plate(start(initial_state(g, f.theta, lp30), controller))
        state = plated.state
        # one attempt of a step as the integrator takes them mid-segment: the carry after the segment's
        # first attempt (which solves the starting state) at the same current
        more = Drive(drive.current, jnp.asarray(10.0 * seconds, g.dtype))
        step = jax.jit(lambda c: attempt(system, c, more, controller)[0])
        carry = step(start(state, controller))
        nodes = conducting_nodes(f.s, f.k, state.theta)
        search = jax.jit(lambda n: connected_nodes(g, n))
        update = jax.jit(lambda n, p: update_connected(g, n, p))
        connected, sweeps = search(nodes)
        rows[name] = {
            "grid": list(g.shape),
            "plated_mAh_cm2": float(plated.state.passed_charge) / (g.length[0] * g.length[1]) / COULOMB_PER_MAH_CM2,
            "accepted_steps": int(plated.steps), "rejected_steps": int(plated.rejected),
            "from_collector_ms": 1e3 * best_of(lambda: search(nodes), args.repeats),
            "from_collector_sweeps": int(sweeps),
            "incremental_ms": 1e3 * best_of(lambda: update(nodes, connected), args.repeats),
            "step_attempt_ms": 1e3 * best_of(lambda: step(carry), max(3, args.repeats // 4)),
        }
    header = (f"{'host':<16}{'grid':>14}{'from collector [ms]':>21}{'sweeps':>8}{'incremental [ms]':>18}"
              f"{'step attempt [ms]':>19}")
    print(header)
    for name, r in rows.items():
        print(f"{name:<16}{'x'.join(map(str, r['grid'])):>14}{r['from_collector_ms']:>21.2f}{r['from_collector_sweeps']:>8}"
              f"{r['incremental_ms']:>18.3f}{r['step_attempt_ms']:>19.1f}")
    out = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
           "jax": jax.__version__, "backend": jax.default_backend(), "hosts": rows}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
