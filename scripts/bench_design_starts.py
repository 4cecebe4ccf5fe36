"""Cost of several design starts run together (``[optimizer] starts``) against one start.

    python scripts/bench_design_starts.py [--starts 1 8] [--iterations 5] [--output results/bench_design_starts.json]

The small family study of ``scripts/bench_design_quality.py`` (a 3 x 4 x 2 µm graded fibre host,
two bottom-half parameters). For each number of starts, one study run in this process (no
verification): the wall time to its first iteration's end (tracing, compilation or the
persistent cache's load, and the first transient) and per later iteration (median), and the
total. The ratio against one start is the number that matters: N starts run as one vmapped
program, so on a small grid they cost far less than N studies. Prints a table and saves JSON.
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


def timed_study(starts: int, iterations: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_design_quality import study_of

    from inverse.loop import run_study

    marks = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        run_study(study_of("family", iterations, starts, {}), folder, verify=False,
                  progress=lambda *_: marks.append(time.perf_counter() - t0))
    total = time.perf_counter() - t0
    later = sorted(b - a for a, b in zip(marks, marks[1:]))
    return {"starts": starts, "first_iteration_s": marks[0], "iteration_s": later[len(later) // 2], "total_s": total}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--output", default="results/bench_design_starts.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from hostsim.cli import enable_compilation_cache

    enable_compilation_cache()
    rows = [timed_study(n, args.iterations) for n in args.starts]
    one = rows[0]
    print(f"{'starts':>6} {'1st iteration [s]':>18} {'iteration [s]':>14} {'total [s]':>10} {'x one (iteration)':>18} "
          f"{'x one (total)':>14}")
    for r in rows:
        r["ratio_iteration"] = r["iteration_s"] / one["iteration_s"]
        r["ratio_total"] = r["total_s"] / one["total_s"]
        print(f"{r['starts']:>6} {r['first_iteration_s']:>18.1f} {r['iteration_s']:>14.3f} {r['total_s']:>10.1f} "
              f"{r['ratio_iteration']:>18.2f} {r['ratio_total']:>14.2f}")
    import jax

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"date": datetime.date.today().isoformat(), "commit": commit, "machine": platform.processor() or platform.machine(),
           "cpus": os.cpu_count(), "jax": jax.__version__, "iterations": args.iterations, "rows": rows}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
