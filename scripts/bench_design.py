"""Cost of one design iteration (issue 12): objective + gradient in forward-run units, seconds per
iteration, and peak memory against the number of plating steps.

    python scripts/bench_design.py [--steps 8 16 32] [--repeats 3] [--output results/bench_design.json]

The default study's host and physics (``inverse.study.DEFAULT_STUDY``); for each number of plating
steps: the forward run (the design terms), ``value_and_grad`` of the weighted objective (one
design iteration without the optax update, which is negligible), both jit-compiled and timed
after a warm-up call (best of ``--repeats``), their ratio, and XLA's buffer plan for each. Prints
a table and saves JSON.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax


def best_of(fn, x, repeats):
    jax.block_until_ready(fn(x))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(x))
        times.append(time.perf_counter() - t)
    return min(times)


def memory(jitted, x):
    try:
        m = jitted.lower(x).compile().memory_analysis()
        return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)
    except Exception:  # not every backend reports it
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="results/bench_design.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from inverse import weighted_objective
    from inverse.loop import design_terms, parameterisation
    from inverse.study import DEFAULT_STUDY, parse_study

    rows = []
    for steps in args.steps:
        data = copy.deepcopy(DEFAULT_STUDY)
        data["design"]["plating_steps"] = steps
        study = parse_study(data, "default")
        param = parameterisation(study)
        terms = design_terms(study, param.base)
        x = param.initial()
        forward = jax.jit(lambda x: terms(param, x))
        reference = forward(x)
        iteration = jax.jit(jax.value_and_grad(lambda x: weighted_objective(terms(param, x), study.weights, reference)))
        t_f = best_of(forward, x, args.repeats)
        t_g = best_of(iteration, x, args.repeats)
        rows.append({"plating_steps": steps, "grid": list(param.base.grid.shape), "forward_s": t_f,
                     "iteration_s": t_g, "iteration_in_forward_runs": t_g / t_f,
                     "forward_memory_bytes": memory(forward, x), "iteration_memory_bytes": memory(iteration, x)})
        print(f"  {steps} steps done", file=sys.stderr, flush=True)
    print(f"{'steps':>6}{'forward [s]':>13}{'iteration [s]':>15}{'ratio':>7}{'forward mem [MiB]':>19}{'iteration mem [MiB]':>21}")
    for r in rows:
        mib = lambda b: f"{b / 2**20:.1f}" if b else "-"  # noqa: E731
        print(f"{r['plating_steps']:>6}{r['forward_s']:>13.3f}{r['iteration_s']:>15.3f}{r['iteration_in_forward_runs']:>7.2f}"
              f"{mib(r['forward_memory_bytes']):>19}{mib(r['iteration_memory_bytes']):>21}")
    out = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
           "jax": jax.__version__, "backend": jax.default_backend(), "study": "inverse.study.DEFAULT_STUDY",
           "rows": rows}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
