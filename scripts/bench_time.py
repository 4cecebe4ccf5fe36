"""Benchmark: adaptive time integration — what a user waits for and what the steps cost. Every
comparison is measured side by side in one run (this machine is noisy):

* ``default``: the built-in default case (``hostsim simulate --no-report --quiet``, foil and
  skeleton) as whole processes, with this checkout and, given ``--before DIR`` (a checkout of
  the previous code), with that one: wall time with an empty compilation cache (cold) and again
  (warm), and per host the steps and the results (charge passed, envelope growth, top growth,
  flux CV, final voltage);
* ``cycling``: the default skeleton cycled 50 times (0.5 mAh/cm² plated and stripped at
  1 mA/cm²) beside one 1 mAh/cm² plate of the same host — the plate with ``--before``'s code
  where given (the fixed-step engine the cycling study is measured against), else with this
  checkout — both whole processes on a warm cache; the ratio is the target (≤ 20);
* ``gradient``: ``value_and_grad`` of a design objective through an adaptive plate/strip
  transient of a small skeleton over the forward alone (both jit-compiled, warm).

Run from the repository root::

    git worktree add /tmp/before <old commit>             # optional: the code to compare against
    python scripts/bench_time.py --before /tmp/before     # everything (~15 min on 2 cores)
    python scripts/bench_time.py --parts gradient

Prints a Markdown table and writes JSON to ``--output`` (default ``results/bench_time.json``).
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

PARTS = ("default", "cycling", "gradient")
HERE = Path(__file__).resolve().parents[1]
CYCLES = HERE / "examples" / "cycling.toml"  # the default skeleton, 50 cycles of 0.5 mAh/cm² at 1 mA/cm²
# the same host and electrolyte, one 1 mAh/cm² plate
PLATE = CYCLES.read_text().split("[protocol]")[0] + """[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 1.0
capacity_mAh_cm2 = 1.0
"""
RESULTS = ("plated_mAh_cm2", "steps", "rejected_steps", "envelope_growth_um", "top_growth_fraction",
           "flux_cv_mean", "final_voltage_V", "sei_loss_mAh_cm2", "message")


def simulate(tree: Path, case: Path | None, out: Path, cache: Path) -> tuple[float, dict]:
    """Wall time [s] of ``hostsim simulate`` run with the code of ``tree`` (a whole process) and its
    summaries (name -> the RESULTS keys that code writes)."""
    env = dict(os.environ, PYTHONPATH=str(tree), JAX_COMPILATION_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "hostsim.cli", "simulate", *([str(case)] if case else []), "--out", str(out),
           "--no-report", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} (code of {tree}) failed:\n{proc.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return wall, {name: {key: sm[key] for key in RESULTS if key in sm} for name, sm in summary.items()}


def bench_default(trees: dict, work: Path) -> dict:
    out = {}
    for label, tree in trees.items():
        cache = work / f"cache_{label}"
        cold, _ = simulate(tree, None, work / f"default_{label}_cold", cache)
        warm, results = simulate(tree, None, work / f"default_{label}_warm", cache)
        out[label] = {"cold_s": cold, "warm_s": warm, "hosts": results}
        print(f"default case ({label}): cold {cold:.1f} s, warm {warm:.1f} s", file=sys.stderr)
    return out


def bench_cycling(trees: dict, work: Path) -> dict:
    reference = trees.get("before", trees["after"])
    (work / "plate.toml").write_text(PLATE)
    cache = work / "cache_cycling"
    for label in {"after", "before" if "before" in trees else "after"}:  # compile, so both runs are warm
        simulate(trees[label], work / "plate.toml", work / f"plate_warmup_{label}", cache)
    plate_s, plate = simulate(reference, work / "plate.toml", work / "plate", cache)
    cycles_s, cycles = simulate(trees["after"], CYCLES, work / "cycles", cache)
    summary = json.loads((work / "cycles" / "summary.json").read_text())["cu_skeleton"]
    per_cycle = {key: summary[key] for key in summary if key.startswith("cycle_")}
    print(f"50 cycles {cycles_s:.1f} s vs one plate {plate_s:.1f} s: {cycles_s / plate_s:.1f}x", file=sys.stderr)
    return {"plate_code": "before" if "before" in trees else "after", "plate_s": plate_s, "plate": plate,
            "cycles_s": cycles_s, "cycles": cycles, "ratio": cycles_s / plate_s, "per_cycle": per_cycle}


def bench_gradient(repeats: int = 3) -> dict:
    import jax

    import geometries as geo
    from hostsim import Kinetics, get_electrolyte
    from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
    from inverse import LayerProfile, plating_terms, weighted_objective
    from inverse.objectives import taken_steps, transient

    fam = geo.CuSkeleton(width_um=2.0, height_um=5.0, thickness_um=2.5, fibre_length_um=2.0, voxel_size_um=0.125,
                         fibre_diameter_um=0.5)
    base = fam.fields()
    param = LayerProfile(base, layers=8, start_k=0.9, start_l=0.5)
    kw = dict(current_density=10.0, capacity=0.1 * COULOMB_PER_MAH_CM2, collector_layers=base.collector_layers,
              host_top=base.host_top, strip=(10.0, 0.05 * COULOMB_PER_MAH_CM2))
    lp30 = get_electrolyte("lp30")
    weights = {"flux_cv": 1.0, "top_growth": 1.0, "sei_mAh_cm2": 0.5}
    x0 = param.initial()
    reference = jax.jit(lambda x: plating_terms(base.grid, param.fields(x), lp30, Kinetics(), **kw))(x0)
    forward = jax.jit(lambda x: weighted_objective(plating_terms(base.grid, param.fields(x), lp30, Kinetics(), **kw),
                                                   weights, reference))
    gradient = jax.jit(jax.value_and_grad(lambda x: weighted_objective(
        plating_terms(base.grid, param.fields(x), lp30, Kinetics(), **kw), weights, reference)))
    times = {}
    for label, fn in (("forward", forward), ("value_and_grad", gradient)):
        jax.block_until_ready(fn(x0))
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(x0))
            best = min(best, time.perf_counter() - t0)
        times[label] = best
    steps = sum(len(dts) for dts in taken_steps(transient(base.grid, param.fields(x0), lp30, Kinetics(), **kw)))
    print(f"gradient: forward {times['forward']:.2f} s, value_and_grad {times['value_and_grad']:.2f} s", file=sys.stderr)
    return {"grid": list(base.grid.shape), "accepted_steps": steps, "forward_s": times["forward"], "gradient_s": times["value_and_grad"],
            "ratio": times["value_and_grad"] / times["forward"]}


def _row(label, value, unit=""):
    return f"| {label} | {value} {unit} |".replace("  |", " |")


def table(result: dict) -> str:
    lines = ["| measure | value |", "|---|---|"]
    for label, run in result.get("default", {}).items():
        lines.append(_row(f"default case, {label}: wall cold / warm", f"{run['cold_s']:.1f} / {run['warm_s']:.1f}", "s"))
        for name, sm in run["hosts"].items():
            lines.append(_row(f"default case, {label}, {name}", ", ".join(
                f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}" for key, value in sm.items())))
    if "cycling" in result:
        c = result["cycling"]
        lines.append(_row(f"one 1 mAh/cm² plate of the skeleton ({c['plate_code']}), warm", f"{c['plate_s']:.1f}", "s"))
        lines.append(_row("50 cycles of 0.5 mAh/cm² (after), warm", f"{c['cycles_s']:.1f}", "s"))
        lines.append(_row("50 cycles / one plate", f"{c['ratio']:.1f}", "x (target <= 20)"))
    if "gradient" in result:
        g = result["gradient"]
        lines.append(_row(f"gradient / forward, plate+strip on {g['grid']}", f"{g['ratio']:.2f}",
                          f"x ({g['forward_s']:.2f} s forward, {g['accepted_steps']} steps)"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare against (e.g. a git worktree)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "bench_time.json")
    args = parser.parse_args(argv)
    trees = {"after": HERE} | ({"before": args.before.resolve()} if args.before else {})
    result = {"date": datetime.date.today().isoformat(), "machine": f"{platform.node()} ({os.cpu_count()} CPUs)",
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                       text=True).stdout.strip()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "default" in args.parts:
            result["default"] = bench_default(trees, work)
        if "cycling" in args.parts:
            result["cycling"] = bench_cycling(trees, work)
    if "gradient" in args.parts:
        result["gradient"] = bench_gradient()
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
