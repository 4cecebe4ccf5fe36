"""Cost of one design iteration: objective + gradient in forward-run units, seconds per
iteration, and peak memory against ``[design] max_steps``.

    python scripts/bench_design.py [--max-steps 50 100 200] [--time-tolerance 0.05] [--repeats 3]
                                   [--output results/bench_design.json]

The default study's host and physics (``inverse.study.DEFAULT_STUDY``); the plating transient
takes adaptive steps at ``--time-tolerance`` (default: the study's, i.e. the run default), at
most ``max_steps`` attempts, a checkpointed ``lax.scan`` whose attempts after the segment's end
are skipped: the gradient's memory grows with ``max_steps``, the work with the steps taken. For
each ``max_steps``: the forward run (the design terms), ``value_and_grad`` of the weighted
objective (one design iteration without the optax update, which is negligible), both
jit-compiled and timed after a warm-up call (best of ``--repeats``), their ratio, XLA's buffer
plan for each, and the transient's accepted steps (``failed_steps`` 1: the plate did not
complete, e.g. its attempts ran out). Prints a table and saves JSON.
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
    parser.add_argument("--max-steps", type=int, nargs="+", default=[50, 100, 200],
                        help="[design] max_steps: attempts of the transient (default 50 100 200)")
    parser.add_argument("--time-tolerance", type=float, default=None,
                        help="[numerics] time_tolerance (default: the study's, the run default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="results/bench_design.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from inverse import weighted_objective
    from inverse.loop import design_terms, parameterisation
    from inverse.objectives import taken_steps, transient
    from inverse.study import DEFAULT_STUDY, parse_study

    rows = []
    for max_steps in args.max_steps:
        data = copy.deepcopy(DEFAULT_STUDY)
        data["design"]["max_steps"] = max_steps
        if args.time_tolerance is not None:
            data.setdefault("numerics", {})["time_tolerance"] = args.time_tolerance
        study = parse_study(data, "default")
        tolerance = study.case.numerics.time_tolerance
        param = parameterisation(study)
        base = param.base
        terms = design_terms(study, base)
        x = param.initial()
        forward = jax.jit(lambda x: terms(param, x))
        reference = forward(x)
        iteration = jax.jit(jax.value_and_grad(lambda x: weighted_objective(terms(param, x), study.weights, reference)))
        t_f = best_of(forward, x, args.repeats)
        t_g = best_of(iteration, x, args.repeats)
        seg = study.segment
        segments = jax.jit(lambda x: transient(
            base.grid, param.fields(x), study.case.electrolyte, study.case.kinetics, current_density=seg.current_density,
            capacity=seg.capacity, collector_layers=base.collector_layers, host_top=base.host_top, top=study.case.top,
            time_tolerance=tolerance, max_steps=max_steps, sei_charge_density=study.case.sei_charge_density))(x)
        rows.append({"max_steps": max_steps, "time_tolerance": tolerance, "grid": list(base.grid.shape),
                     "accepted_steps": sum(len(dts) for dts in taken_steps(segments)),
                     "failed_steps": float(reference["failed_steps"]), "forward_s": t_f,
                     "iteration_s": t_g, "iteration_in_forward_runs": t_g / t_f,
                     "forward_memory_bytes": memory(forward, x), "iteration_memory_bytes": memory(iteration, x)})
        print(f"  max_steps {max_steps} done", file=sys.stderr, flush=True)
    print(f"{'max_steps':>10}{'accepted':>10}{'forward [s]':>13}{'iteration [s]':>15}{'ratio':>7}{'forward mem [MiB]':>19}"
          f"{'iteration mem [MiB]':>21}")
    for r in rows:
        mib = lambda b: f"{b / 2**20:.1f}" if b else "-"  # noqa: E731
        accepted = f"{r['accepted_steps']}" + (" (unfinished)" if r["failed_steps"] else "")
        print(f"{r['max_steps']:>10}{accepted:>10}{r['forward_s']:>13.3f}{r['iteration_s']:>15.3f}"
              f"{r['iteration_in_forward_runs']:>7.2f}{mib(r['forward_memory_bytes']):>19}"
              f"{mib(r['iteration_memory_bytes']):>21}")
    out = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
           "jax": jax.__version__, "backend": jax.default_backend(), "study": "inverse.study.DEFAULT_STUDY",
           "rows": rows}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
