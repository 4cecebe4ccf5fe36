"""Convergence in time of the default case: each host of the built-in default case (1 mAh/cm² at
1 mA/cm², float32) at a ladder of time tolerances, against the tightest run. The numbers a user
reads (envelope growth, top growth, mean flux CV, final voltage, SEI) and the cost (accepted and
rejected steps, wall time warm: the controller is part of the compiled program, so each
tolerance is compiled first by a plate of 0.001 mAh/cm²).

    python scripts/time_convergence.py                          # 0.3 ... 5e-4, both hosts (~15 min on 2 cores)
    python scripts/time_convergence.py --tolerances 0.05 0.0005 --hosts cu_skeleton

Prints a Markdown table per host and writes JSON to ``--output`` (default
``results/time_convergence.json``). This is the study behind the default ``time_tolerance``
(docs/time_integration.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
KEYS = ("envelope_growth_um", "top_growth_fraction", "flux_cv_mean", "final_voltage_V", "sei_loss_mAh_cm2",
        "plated_mAh_cm2", "steps", "rejected_steps", "steps_above_tolerance", "step_median_s")


def run(name: str, tolerance: float, warm_up: bool = False) -> dict:
    from geometries import case_hosts
    from hostsim.run.case import parse_case
    from hostsim.run.pipeline import simulation_options
    from hostsim.run.simulation import simulate

    case = parse_case({"protocol": {"segment": [{"kind": "plate", "current_mA_cm2": 1.0, "capacity_mAh_cm2": 0.001}]}}
                      if warm_up else {}, "default")
    host = dict(case_hosts(case))[name].fields()
    options = simulation_options(case) | {"time_tolerance": tolerance}
    t0 = time.perf_counter()
    sm = simulate(name, host.grid, host.s, host.k, host.l, host.theta, case.electrolyte, case.kinetics, case.protocol,
                  collector_layers=host.collector_layers, host_top=host.host_top, **options).summary
    return {"time_tolerance": tolerance, "wall_s": time.perf_counter() - t0, "message": sm["message"],
            **{key: sm[key] for key in KEYS}}


def table(name: str, rows: list) -> str:
    ref = min(rows, key=lambda r: r["time_tolerance"])
    lines = [f"### {name} (deviations from time_tolerance {ref['time_tolerance']:g})", "",
             "| time_tolerance | steps (rejected) | wall [s] | envelope [µm] | top growth | flux CV mean | final V [mV] |",
             "|---|---|---|---|---|---|---|"]

    def cell(r, key, scale=1.0, fmt="{:.4g}"):
        dev = (r[key] - ref[key]) / abs(ref[key]) if ref[key] else 0.0
        return f"{fmt.format(r[key] * scale)} ({dev:+.2%})"

    for r in sorted(rows, key=lambda r: -r["time_tolerance"]):
        lines.append(f"| {r['time_tolerance']:g} | {r['steps']} ({r['rejected_steps']}) | {r['wall_s']:.1f} | "
                     f"{cell(r, 'envelope_growth_um')} | {cell(r, 'top_growth_fraction')} | "
                     f"{cell(r, 'flux_cv_mean')} | {cell(r, 'final_voltage_V', 1e3, '{:.3f}')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tolerances", type=float, nargs="+", default=[0.3, 0.1, 0.05, 0.02, 0.01, 0.005, 0.0005])
    parser.add_argument("--hosts", nargs="+", default=["foil", "cu_skeleton"])
    parser.add_argument("--output", type=Path, default=HERE / "results" / "time_convergence.json")
    args = parser.parse_args(argv)
    result = {"date": datetime.date.today().isoformat(), "machine": f"{platform.node()} ({os.cpu_count()} CPUs)",
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                       text=True).stdout.strip(), "hosts": {}}
    for name in args.hosts:
        rows = []
        for tol in args.tolerances:
            run(name, tol, warm_up=True)
            rows.append(run(name, tol))
            print(f"{name} at {tol:g}: {rows[-1]['steps']} steps, {rows[-1]['wall_s']:.1f} s", file=sys.stderr)
        result["hosts"][name] = rows
        print(table(name, rows) + "\n")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
