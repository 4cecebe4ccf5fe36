"""Build and gradient cost of every host family at 64^3 (defaults) and 128^3 (box doubled).

    python scripts/bench_geometry.py [--sizes 64 128] [--repeats 3] [--output results/bench_geometry.json]

For each family and size: the time to build the fields (jit-compiled, after a warm-up call),
the time of ``eqx.filter_grad`` of a geometric summary (the diffuse-interface volume
``mean(s (1 - s))``, proportional to the surface area) with respect to every continuous
parameter, and their ratio. Best of ``--repeats``. Prints a table and saves JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

import geometries as geo

_SCALED = ("width_um", "height_um", "thickness_um")


def summary(family):
    s = family.fields().s
    return jnp.mean(s * (1 - s))


def best_of(fn, arg, repeats):
    jax.block_until_ready(fn(arg))  # compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--families", nargs="+", default=list(geo.FAMILIES))
    ap.add_argument("--output", default="results/bench_geometry.json")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    forward = eqx.filter_jit(summary)
    gradient = eqx.filter_jit(eqx.filter_grad(summary))
    rows = []
    print(f"{'family':<16} {'grid':>12} {'fibres':>7} {'build [s]':>10} {'grad [s]':>9} {'grad/build':>10}")
    for name in args.families:
        base = geo.make_family(name)
        for n in args.sizes:
            scale = n / base.shape[0]
            fam = geo.make_family(name, **{k: getattr(base, k) * scale for k in _SCALED})
            t_build = best_of(forward, fam, args.repeats)
            t_grad = best_of(gradient, fam, args.repeats)
            fibres = getattr(fam, "max_fibres", None) or None
            rows.append({"family": name, "shape": list(fam.shape), "candidate_fibres": fibres,
                         "build_seconds": t_build, "gradient_seconds": t_grad, "ratio": t_grad / t_build})
            print(f"{name:<16} {'x'.join(map(str, fam.shape)):>12} {fibres or '':>7} {t_build:>10.3f} {t_grad:>9.3f} "
                  f"{t_grad / t_build:>10.2f}", flush=True)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} {jax.default_backend()}",
        "rows": rows}, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
