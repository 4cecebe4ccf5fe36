"""Benchmark: cost of the gradient of a steady objective relative to the forward solve.

Objective: ``D_eff/D`` of a continuous relative-conductivity field (a random two-phase medium
with the solid at 1e-3, so every voxel is in the design space), through the multigrid-PCG solve
with its implicit adjoint (``jax.lax.custom_linear_solve``). Measured, warm, best and median of
``--repeats``:

* ``forward``: ``jit(effective_diffusivity_ratio)``;
* ``value_and_grad``: ``jit(jax.value_and_grad(effective_diffusivity_ratio))`` — forward solve,
  one adjoint solve and the operator's vector-Jacobian product;
* the ratio (target: <= 3).

Run from the repository root::

    python scripts/bench_gradient.py                 # 64^3 and 128^3, float32
    python scripts/bench_gradient.py --sizes 32 --precision float64

Prints a Markdown table and writes JSON to ``--output`` (default
``results/bench_gradient.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path


def _time(fn, repeats):
    import jax

    jax.block_until_ready(fn())  # compile + warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--precision", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="results/bench_gradient.json")
    args = parser.parse_args(argv)

    import jax

    if args.precision == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import hostsim as hs

    rows = []
    for n in args.sizes:
        vol = hs.random_two_phase((n, n, n), 0.5, 2.0, 0)
        grid = hs.Grid.create((n, n, n), voxel_size=1.0, lateral="no_flux", axis="z", precision=args.precision)
        k = jnp.asarray(vol * (1.0 - 1e-3) + 1e-3, grid.dtype)
        solver = hs.PCG(rtol=1e-6)
        forward = jax.jit(lambda k: hs.effective_diffusivity_ratio(grid, k, solver=solver))
        both = jax.jit(jax.value_and_grad(lambda k: hs.effective_diffusivity_ratio(grid, k, solver=solver)))
        f_best, f_med = _time(lambda: forward(k), args.repeats)
        g_best, g_med = _time(lambda: both(k), args.repeats)
        value, grad = both(k)
        rows.append(
            dict(
                size=n,
                precision=args.precision,
                d_eff=float(value),
                grad_finite=bool(jnp.all(jnp.isfinite(grad))),
                forward_best_s=f_best,
                forward_median_s=f_med,
                value_and_grad_best_s=g_best,
                value_and_grad_median_s=g_med,
                ratio_best=g_best / f_best,
                ratio_median=g_med / f_med,
            )
        )
    env = dict(
        date_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        platform=platform.platform(),
        cpu_count=os.cpu_count(),
        jax=jax.__version__,
        devices=[str(d) for d in jax.devices()],
    )
    lines = [
        "| volume | precision | forward (s) best / median | value+grad (s) best / median | ratio best / median |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']}³ | {r['precision']} | {r['forward_best_s']:.3f} / {r['forward_median_s']:.3f} | "
            f"{r['value_and_grad_best_s']:.3f} / {r['value_and_grad_median_s']:.3f} | "
            f"{r['ratio_best']:.2f} / {r['ratio_median']:.2f} |"
        )
    table = "\n".join(lines)
    print(f"Gradient cost vs forward solve ({env['date_utc']}, {env['platform']}, {env['cpu_count']} cores, "
          f"JAX {env['jax']} on {', '.join(env['devices'])})\n")
    print(table)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(environment=env, cases=rows, table=table), indent=1))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
