"""Bytes per voxel of one grid, on one device and split along z over several.

For each device count (fake CPU devices unless run on a machine that has them) a child process
compiles, float32 and without running them:
* the effective-transport solve (multigrid PCG, D_eff/D and the flux field);
* one plating step: one attempt of the adaptive integrator (the Li update, the salt solve, the
  potential Newton with its multigrid PCG at the new state, the error estimate and the events);
and reads XLA's own memory analysis of the compiled program: arguments + outputs + temporaries
per device. Prints a table, saves JSON (default results/bench_memory.json), and the largest cubic
grid that fits in a given device memory at 80 % use.

    python scripts/bench_memory.py --size 64 --devices 1 2 4 8 --device-memory-gb 141
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
from hostsim import Kinetics, get_electrolyte
from hostsim.electrochemistry.integrate import Drive, attempt, start
from hostsim.electrochemistry.plating import PlatingSystem, initial_state
from hostsim.numerics.stepsize import PIDController
from hostsim.numerics.grid import Grid
from hostsim.numerics.sharding import shard_cells, z_mesh
from hostsim.transport import effective as E
from hostsim.transport.media import random_two_phase

n, count = int(sys.argv[1]), int(sys.argv[2])
mesh = z_mesh() if count > 1 else None
assert len(jax.devices()) == count
out = {}

def per_device(compiled):
    m = compiled.memory_analysis()
    return m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes

grid, k, active, _ = E._prepare(random_two_phase((n, n, n), porosity=0.5, seed=0), "z", None, None, "no_flux",
                                "float32", "volume")
args = shard_cells((jnp.asarray(k, grid.dtype), jnp.asarray(active, grid.dtype)), mesh)
solver = E.PCG()
out["transport"] = per_device(jax.jit(lambda kk, aa: E._solve_volume.__wrapped__(grid, kk, aa, solver)).lower(*args).compile())

g = Grid.create((n, n, n), voxel_size=0.5e-6, lateral="periodic", precision="float32")
s = jnp.zeros(g.shape, g.dtype).at[:, :, 0].set(1.0)
k1, l0 = jnp.ones(g.shape, g.dtype), jnp.zeros(g.shape, g.dtype)
el = get_electrolyte("lp30")
controller = PIDController()
carry = start(initial_state(g, jnp.zeros(g.shape, g.dtype), el), controller)
host, carry = shard_cells(((s, k1, l0), carry), mesh)
drive = Drive(jnp.asarray(1e-9, g.dtype), jnp.asarray(1.0, g.dtype))
step = jax.jit(lambda host, c: attempt(PlatingSystem(g, *host, el, Kinetics()), c, drive, controller))
out["plating_step"] = per_device(step.lower(host, carry).compile())
json.dump(out, sys.stdout)
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="cube edge in voxels (default 64)")
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--device-memory-gb", type=float, default=141.0,
                        help="memory of one device for the 'largest grid' column (default 141: an H200)")
    parser.add_argument("--output", default="results/bench_memory.json")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    rows = []
    voxels = args.size ** 3
    for count in args.devices:
        env = dict(os.environ, PYTHONPATH=str(root), JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
        if env["JAX_PLATFORMS"] == "cpu":
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={count}"
        proc = subprocess.run([sys.executable, "-c", CHILD, str(args.size), str(count)], capture_output=True,
                              text=True, env=env, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"{count} device(s): {proc.stderr.strip().splitlines()[-1]}")
        measured = json.loads(proc.stdout.strip().splitlines()[-1])
        for solve, per_dev in measured.items():
            per_voxel = per_dev / voxels  # bytes per voxel of the whole grid, on each device
            budget = 0.8 * args.device_memory_gb * 1e9
            edge = int((budget / per_voxel) ** (1 / 3))
            rows.append({"solve": solve, "devices": count, "bytes_per_device": per_dev,
                         "bytes_per_voxel_per_device": per_voxel, "bytes_per_voxel_total": per_voxel * count,
                         "largest_cube_edge": edge})
    print(f"{'solve':14s} {'devices':>7s} {'B/voxel/device':>15s} {'B/voxel total':>14s} "
          f"{'largest cube at 80% of ' + str(args.device_memory_gb) + ' GB/device':>40s}")
    for r in rows:
        print(f"{r['solve']:14s} {r['devices']:7d} {r['bytes_per_voxel_per_device']:15.1f} "
              f"{r['bytes_per_voxel_total']:14.1f} {r['largest_cube_edge']:37d}^3")
    import jax

    record = {"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "jax": jax.__version__, "size": args.size, "precision": "float32",
              "device_memory_gb": args.device_memory_gb,
              "method": "XLA memory_analysis of the compiled program: argument + output + temp bytes per device",
              "rows": rows}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(record, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
