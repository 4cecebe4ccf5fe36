"""Cost of the electronic-connectivity update inside a plating step (issue 11), beside the step.

    python scripts/bench_connectivity.py [--repeats 20] [--output results/bench_connectivity.json]

On the default Cu skeleton (32x32x80 voxels, float32) and the default fibre scaffold, after 50
plating steps: the connected set searched from the collector, the incremental update of a
plating step (the previous set still valid), and one whole plating step, each jit-compiled and
timed after a warm-up call (best of ``--repeats``). Prints a table and saves JSON.
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

import geometries as geo
from hostsim import Kinetics, get_electrolyte
from hostsim.numerics.connectivity import conducting_nodes, connected_nodes, update_connected
from hostsim.electrochemistry.plating import initial_state, plate, plating_step


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
    parser.add_argument("--output", default="results/bench_connectivity.json")
    args = parser.parse_args(argv)
    lp30 = get_electrolyte("lp30")
    hosts = {
        "cu_skeleton": geo.CuSkeleton(width_um=4.0, height_um=10.0, thickness_um=5.0, voxel_size_um=0.125,
                                      fibre_diameter_um=0.5),
        "fibre_scaffold": geo.make_family("fibre_scaffold"),
    }
    rows = {}
    for name, fam in hosts.items():
        f = fam.fields()
        g = f.grid
        current = 10.0 * g.length[0] * g.length[1]  # 1 mA/cm²
        state, _ = plate(g, f.s, f.k, f.l, initial_state(g, f.theta, lp30), lp30, Kinetics(), current, 9.0, 50)
        nodes = conducting_nodes(f.s, f.k, state.theta)
        search = jax.jit(lambda n: connected_nodes(g, n))
        update = jax.jit(lambda n, p: update_connected(g, n, p))
        step = jax.jit(lambda st: plating_step(g, f.s, f.k, f.l, st, lp30, Kinetics(), current, 9.0))
        connected, sweeps = search(nodes)
        rows[name] = {
            "grid": list(g.shape),
            "from_collector_ms": 1e3 * best_of(lambda: search(nodes), args.repeats),
            "from_collector_sweeps": int(sweeps),
            "incremental_ms": 1e3 * best_of(lambda: update(nodes, connected), args.repeats),
            "plating_step_ms": 1e3 * best_of(lambda: step(state), max(3, args.repeats // 4)),
        }
    header = f"{'host':<16}{'grid':>14}{'from collector [ms]':>21}{'sweeps':>8}{'incremental [ms]':>18}{'step [ms]':>11}"
    print(header)
    for name, r in rows.items():
        print(f"{name:<16}{'x'.join(map(str, r['grid'])):>14}{r['from_collector_ms']:>21.2f}{r['from_collector_sweeps']:>8}"
              f"{r['incremental_ms']:>18.3f}{r['plating_step_ms']:>11.1f}")
    out = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
           "jax": jax.__version__, "backend": jax.default_backend(), "hosts": rows}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
