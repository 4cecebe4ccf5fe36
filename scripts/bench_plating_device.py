"""Plating on an accelerator: the run pipeline's library calls, in one process, without field
snapshots (the run itself, not the .vti writing):

* ``default``: the built-in default case (foil + Cu skeleton, 1 mA/cm² to 1 mAh/cm², or to
  ``--default-capacity``), first call (compilation included) and second call;
* ``big``: a Cu skeleton of ``--big`` voxels a side (0.125 µm voxels) plating ``--big-capacity``
  at 1 mA/cm², first and second call, its steps per second and milliseconds per step (``step_ms``:
  the run's own wall time over its accepted steps);
* ``sweep``: ``--members`` seeds of the default skeleton, one by one (``simulate``) against
  together (``simulate_members``: one ``vmap``-ped program in which each member takes its own
  adaptive steps, what ``hostsim batch`` does on an accelerator), warm, as members per hour,
  with the largest difference of the members' summaries (the steps taken apart: the controller
  may amplify the vmapped program's round-off into a different step).

Runs anywhere; the GPU numbers in the README come from it. Prints a table, saves JSON (default
results/bench_plating_device.json).

    python scripts/bench_plating_device.py --parts default sweep --members 4 --big 48
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

SKELETON = {"family": "cu_skeleton", "width_um": 4.0, "height_um": 10.0, "thickness_um": 5.0,
            "voxel_size_um": 0.125, "fibre_diameter_um": 0.5}
"""The default case's skeleton (geometries.default_hosts)."""
SUMMARY_KEYS = ("envelope_growth_um", "top_growth_fraction", "flux_cv", "final_voltage_V", "plated_mAh_cm2")
STEP_KEYS = ("steps", "rejected_steps")  # the adaptive integrator's work (reported, not compared)


def _run(case, hosts):
    """Every host of ``case`` run once through the pipeline's library calls: (seconds, summaries)."""
    from hostsim.run.pipeline import simulation_options
    from hostsim.run.simulation import simulate

    t0 = time.perf_counter()
    summaries = {}
    for name, host in hosts:
        f = host.fields() if hasattr(host, "fields") else host
        r = simulate(name, f.grid, f.s, f.k, f.l, f.theta, case.electrolyte, case.kinetics, case.protocol,
                     collector_layers=f.collector_layers, host_top=f.host_top, **simulation_options(case))
        summaries[name] = r.summary
    return time.perf_counter() - t0, summaries


def _pick(summary):
    return {k: summary[k] for k in SUMMARY_KEYS + STEP_KEYS if k in summary}


def _plate(capacity: float) -> dict:
    return {"segment": [{"kind": "plate", "current_mA_cm2": 1.0, "capacity_mAh_cm2": capacity}]}


def bench_case(data: dict, label: str, warm_up: dict | None = None) -> dict:
    """``first_call_s``: the case run first in this process (compilation included), or, with
    ``warm_up``, that case run first (the same compiled programs on a short protocol) and
    ``first_call_s`` its time; ``second_call_s``: the case run after it; ``wall_time_s``: each host's
    own run in it (``simulate``'s wall time, without the host's generation)."""
    from geometries import case_hosts
    from hostsim.run.case import parse_case

    case = parse_case(data, label)
    hosts = case_hosts(case)
    first, _ = _run(parse_case(warm_up, label) if warm_up else case, hosts)
    second, summaries = _run(case, hosts)
    shapes = {name: list((h.fields() if hasattr(h, "fields") else h).grid.shape) for name, h in hosts}
    return {"first_call_s": first, "second_call_s": second, "grids": shapes,
            "summaries": {n: _pick(s) for n, s in summaries.items()},
            "steps": {n: s.get("steps") for n, s in summaries.items()},
            "wall_time_s": {n: s.get("wall_time_s") for n, s in summaries.items()}}


def bench_sweep(members: int, capacity: float, warm_capacity: float = 0.1) -> dict:
    """Seeds of the default skeleton one by one and together, each after a warm-up of both ways
    on ``warm_capacity`` (the same compiled programs: the chunk of attempts of the members'
    grid, alone and vmapped over all of them)."""
    warm = _sweep(members, warm_capacity)
    row = _sweep(members, capacity)
    row["warm_up_s"] = {"serial": warm["serial_s"], "together": warm["together_s"]}
    return row


def _members(members: int, capacity: float):
    from geometries import case_hosts
    from hostsim.run.case import parse_case

    cases = [parse_case({"geometry": dict(SKELETON, seed=i), "protocol": _plate(capacity)}, f"seed {i}")
             for i in range(members)]
    return cases, [case_hosts(c)[0][1].fields() for c in cases]


def _sweep(members: int, capacity: float) -> dict:
    from hostsim.run.pipeline import simulation_options
    from hostsim.run.simulation import simulate_members

    cases, fields = _members(members, capacity)
    options = simulation_options(cases[0])

    def serial():
        return [_run(c, [("skeleton", f)])[1]["skeleton"] for c, f in zip(cases, fields)]

    def together():  # the seeds share their grid and settings: one group, as hostsim batch forms it
        results = simulate_members(["skeleton"] * members, fields[0].grid, [(f.s, f.k, f.l, f.theta) for f in fields],
                                   cases[0].electrolyte, cases[0].kinetics, cases[0].protocol,
                                   collector_layers=fields[0].collector_layers, host_top=fields[0].host_top, **options)
        return [r.summary for r in results]

    row = {"members": members, "capacity_mAh_cm2": capacity}
    for name, fn in (("serial", serial), ("together", together)):
        t0 = time.perf_counter()
        row[f"{name}_summaries"] = [_pick(s) for s in fn()]
        row[f"{name}_s"] = time.perf_counter() - t0
        row[f"{name}_members_per_hour"] = 3600 * members / row[f"{name}_s"]
    row["ratio"] = row["serial_s"] / row["together_s"]
    pairs = list(zip(row["serial_summaries"], row["together_summaries"]))
    row["summary_relative_difference"] = {
        k: max(abs(a[k] - b[k]) / max(abs(a[k]), 1e-30) for a, b in pairs) for k in SUMMARY_KEYS if k in pairs[0][0]}
    row["summary_max_relative_difference"] = max(row["summary_relative_difference"].values())
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["default", "big", "sweep"], choices=["default", "big", "sweep"])
    parser.add_argument("--default-capacity", type=float, default=None,
                        help="mAh/cm² of the default part (default: the built-in case's 1 mAh/cm²)")
    parser.add_argument("--big", type=int, default=128, help="voxels a side of the big skeleton (default 128)")
    parser.add_argument("--big-capacity", type=float, default=0.5, help="mAh/cm² plated on the big skeleton")
    parser.add_argument("--members", type=int, default=16, help="seeds in the sweep (default 16)")
    parser.add_argument("--sweep-capacity", type=float, default=1.0, help="mAh/cm² per sweep member")
    parser.add_argument("--warm-capacity", type=float, default=0.1,
                        help="mAh/cm² of the warm-up runs of the big and sweep parts (default 0.1)")
    parser.add_argument("--output", default="results/bench_plating_device.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import jax

    record = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
              "backend": jax.default_backend(), "devices": [d.device_kind for d in jax.local_devices()],
              "jax": jax.__version__}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():
        out.write_text(json.dumps(record, indent=1, default=float))

    print(f"{record['backend']} ({', '.join(sorted(set(record['devices'])))}), jax {jax.__version__}", flush=True)
    if "default" in args.parts:
        cap = args.default_capacity
        r = record["default"] = bench_case({} if cap is None else {"protocol": _plate(cap)}, "built-in default")
        save()
        print(f"default case (foil + skeleton, {cap or 1} mAh/cm²): first call {r['first_call_s']:.1f} s, second "
              f"{r['second_call_s']:.1f} s; {json.dumps(r['summaries'])}", flush=True)
    if "big" in args.parts:
        side = args.big * 0.125
        geometry = dict(SKELETON, width_um=side, height_um=side, thickness_um=side / 2)
        r = record["big"] = bench_case({"geometry": geometry, "protocol": _plate(args.big_capacity)}, f"{args.big}^3 skeleton",
                                       {"geometry": geometry, "protocol": _plate(args.warm_capacity)})
        steps = sum(v or 0 for v in r["steps"].values())
        r["steps_per_s"] = steps / r["second_call_s"] if steps else None
        r["step_ms"] = 1e3 * sum(v or 0 for v in r["wall_time_s"].values()) / steps if steps else None
        save()
        print(f"{args.big}³ skeleton, {args.big_capacity} mAh/cm²: warm-up ({args.warm_capacity} mAh/cm²) "
              f"{r['first_call_s']:.1f} s, then {r['second_call_s']:.1f} s ({steps} steps, {r['step_ms'] or 0:.1f} ms a step "
              f"in the run); {json.dumps(r['summaries'])}",
              flush=True)
    if "sweep" in args.parts:
        r = record["sweep"] = bench_sweep(args.members, args.sweep_capacity, args.warm_capacity)
        save()
        print(f"{args.members} skeleton seeds, {args.sweep_capacity} mAh/cm²: one by "
              f"one {r['serial_s']:.1f} s ({r['serial_members_per_hour']:.0f}/h), together {r['together_s']:.1f} s "
              f"({r['together_members_per_hour']:.0f}/h): {r['ratio']:.2f}x; summaries agree to "
              f"{r['summary_max_relative_difference']:.1e} ({json.dumps(r['summary_relative_difference'])})", flush=True)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
