"""Batched transport: N random volumes solved one by one (`effective_transport` in a loop,
compiled once) vs together (`effective_transport_batch`, vmapped chunks), same session, each
timed warm (best of --repeats) and cold (first call, compilation included), and the slowest
single solve of the loop (the batch's floor: a batched solve runs until its slowest member
converges; the target on a GPU is a batch within 1.5x of it). Prints a table, saves JSON
(default results/bench_batch.json).

    python scripts/bench_batch.py --size 64 --count 32
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", default="results/bench_batch.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import jax

    from hostsim.transport.effective import effective_transport, effective_transport_batch
    from hostsim.transport.media import random_two_phase

    n = args.size
    vols = [random_two_phase((n, n, n), porosity=0.5, seed=s) for s in range(args.count)]

    single_s = []

    def loop():
        single_s.clear()
        out = []
        for v in vols:
            t0 = time.perf_counter()
            out.append(effective_transport(v))  # returns numbers: the solve has finished
            single_s.append(time.perf_counter() - t0)
        return out

    def batch():
        return effective_transport_batch(vols)

    rows = {}
    for name, fn in (("loop", loop), ("batch", batch)):
        t0 = time.perf_counter()
        first = fn()
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            warm.append(time.perf_counter() - t0)
        rows[name] = {"cold_s": cold, "warm_s": min(warm), "volumes_per_s": args.count / min(warm),
                      "iterations_max": max(r.iterations for r in first),
                      "d_eff": [r.effective_diffusivity_ratio for r in first]}
    slowest = max(single_s)  # of the last warm loop
    agree = max(abs(a - b) / b for a, b in zip(rows["loop"]["d_eff"], rows["batch"]["d_eff"]))
    print(f"{args.count} volumes of {n}³ (float32, rtol 1e-6), {jax.default_backend()}, {os.cpu_count()} cores")
    print(f"{'':8}{'cold [s]':>10}{'warm [s]':>10}{'volumes/s':>11}")
    for name, r in rows.items():
        print(f"{name:8}{r['cold_s']:>10.2f}{r['warm_s']:>10.2f}{r['volumes_per_s']:>11.2f}")
    print(f"batch / loop throughput: {rows['batch']['volumes_per_s'] / rows['loop']['volumes_per_s']:.2f}x warm, "
          f"{rows['loop']['cold_s'] / rows['batch']['cold_s']:.2f}x cold; D_eff agree to {agree:.1e}")
    print(f"slowest single solve {slowest * 1e3:.1f} ms ({rows['loop']['iterations_max']} iterations); the batch of "
          f"{args.count} takes {rows['batch']['warm_s'] / slowest:.2f}x that")
    out = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
           "jax": jax.__version__, "backend": jax.default_backend(), "size": n, "count": args.count,
           "rows": {k: {kk: vv for kk, vv in v.items() if kk != "d_eff"} for k, v in rows.items()},
           "d_eff_max_relative_difference": agree, "slowest_single_s": slowest,
           "batch_over_slowest_single": rows["batch"]["warm_s"] / slowest}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
