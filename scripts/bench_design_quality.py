"""Does the design loop find the optimum? Three small studies against a dense scan of the
forward model, from several starts, under several optimiser settings.

    python scripts/bench_design_quality.py [--iterations 30] [--starts 4] [--points 21]
                                           [--settings default lr0.3 ...] [--output results/bench_design_quality.json]

Studies (a 3 x 4 x 2 µm graded fibre host, 0.25 µm cells, 4 mA/cm² to 0.05 mAh/cm²):

* ``family``: the bottom half's conducting share and lithiophilicity, flux CV + top growth,
  with the default virtual-temperature limit (a conductivity is designed): the scan's optimum is
  the best feasible point (virtual temperature at or below the limit);
* ``layers_k``: the conducting share of 4 layers through a Cu skeleton, flux CV + top growth
  (scanned on a ``points_4d``-per-axis grid);
* ``layers``: the same with the layers' lithiophilicity, a plateau study: top growth and the
  flux CV are flat in l wherever the nucleation gate is open (l above ~0.05), so a loop from
  l = 0.5 sees a zero gradient;
* ``bound``: the bottom and top conducting shares for top growth alone, whose optimum sits on
  the bounds (a conducting bottom under an insulating top, as the family showcase found). The
  lithiophilicities make a poor bound study: top growth is flat in them wherever the nucleation
  gate is open (l above ~0.05), so a loop from l = 0.5 sees a zero gradient (measured: 0 % of the
  gap closed from every start).

For each study the scan's minimum ``f*`` (the objective normalised by the file's start, as the
loop's) and, for each setting and each start (the study file's start and a Latin hypercube,
``[optimizer] starts``), the fraction of the gap closed, ``(f_0 - f_final) / (f_0 - f*)`` with
``f_0`` that start's objective. Prints a table and saves JSON. The loop and the scan share the
forward model; the scan's grid spacing bounds how well it knows ``f*`` (a loop can close more than
100 %).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import platform
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

# the design transient of every study: 4 mA/cm² to 0.05 mAh/cm², a loose time tolerance (fast)
PLATE = """
[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 4.0
capacity_mAh_cm2 = 0.05
[numerics]
time_tolerance = 0.2
"""

HOST = PLATE + """
[geometry]
family = "graded"
structure = "fibres"
width_um = 3.0
height_um = 4.0
thickness_um = 2.0
voxel_size_um = 0.25
feature_size_um = 0.5
porosity_bottom = 0.8
porosity_top = 0.8
conductivity_bottom = 0.6
conductivity_top = 0.9
lithiophilicity_bottom = 0.5
lithiophilicity_top = 0.5
profile = "step"
transition = 0.5
"""

SKELETON = PLATE + """
[geometry]
family = "cu_skeleton"
width_um = 3.0
height_um = 4.0
thickness_um = 2.0
fibre_length_um = 2.0
voxel_size_um = 0.25
fibre_diameter_um = 0.5
"""

STUDIES = {
    "family": HOST + """
[design]
parameterisation = "family"
parameters = ["conductivity_bottom", "lithiophilicity_bottom"]
max_steps = 100
[objective]
flux_cv = 1.0
top_growth = 1.0
""",
    "layers": SKELETON + """
[design]
parameterisation = "layer_profile"
layers = 4
fields = ["l"]
start_k = 1.0
start_l = 0.5
max_steps = 100
[objective]
flux_cv = 1.0
top_growth = 1.0
""",
    "layers_k": SKELETON + """
[design]
parameterisation = "layer_profile"
layers = 4
fields = ["k"]
start_k = 0.9
start_l = 0.5
max_steps = 100
[objective]
flux_cv = 1.0
top_growth = 1.0
""",
    "bound": HOST + """
[design]
parameterisation = "family"
parameters = ["conductivity_bottom", "conductivity_top"]
max_steps = 100
[objective]
top_growth = 1.0
""",
}

# optimiser settings compared: (name, [optimizer] keys); "default" is the study defaults as shipped
SETTINGS = {
    "default": {},
    "lr0.3": {"learning_rate": 0.3},
    "lr0.2": {"learning_rate": 0.2},
    "lr0.1": {"learning_rate": 0.1},
    "lr0.3-cosine": {"learning_rate": 0.3, "schedule": "cosine", "final_fraction": 0.05},
    "lr0.2-sigmoid": {"learning_rate": 0.2, "bounds": "sigmoid"},
}


def study_of(name: str, iterations: int, starts: int, setting: dict):
    from inverse.study import parse_study

    data = tomllib.loads(STUDIES[name])
    data["optimizer"] = {"iterations": iterations, "starts": starts, **setting}
    return parse_study(data, f"bench {name}")


def scan(study, points: int):
    """``(f*, x*)``: the lowest feasible objective on a grid of ``points`` per parameter over the box
    (the study's constraints, multipliers 0: a point is feasible where every g <= 0)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    from inverse.lagrangian import constraint_values
    from inverse.loop import design_terms, parameterisation, slab_porosity
    from inverse.objectives import weighted_objective

    param = parameterisation(study)
    terms = design_terms(study, param.base)
    x0 = param.initial()
    reference = eqx.filter_jit(terms)(param, x0)

    @eqx.filter_jit
    def value(x):
        t = terms(param, x)
        g = constraint_values(study.constraints, t, reference, slab_porosity(param, x))
        worst = jnp.max(jnp.stack([v for v in g.values()])) if g else jnp.asarray(-1.0)
        return weighted_objective(t, study.weights, reference), worst

    axis = param.box.start(np.linspace(0.0, 1.0, points))
    best = (np.inf, None)
    for point in itertools.product(axis, repeat=x0.shape[0]):
        f, worst = value(jnp.asarray(point, x0.dtype))
        if float(worst) <= 0 and float(f) < best[0]:
            best = (float(f), [float(v) for v in param.box.host_fraction(np.asarray(point))])
    return best


def loop(study) -> dict:
    """Each start's first and final objective from one study run (no verification)."""
    from inverse.loop import parameterisation, run_study

    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        record = run_study(study, folder, verify=False)
        seconds = time.perf_counter() - t0
        rows = [json.loads(line) for line in (Path(folder) / "log.jsonl").read_text().splitlines()]
    spread = record.get("starts") or {"objective_final": [record["objective_final"]],
                                      "verdicts": [record["verdict"]["verdict"]], "x_final": [record["x"]]}
    count = len(spread["objective_final"])
    history = [[r["objective"] for r in rows if r.get("start", 0) == m] for m in range(count)]
    param = parameterisation(study)
    return {"first": [h[0] for h in history], "final": spread["objective_final"], "verdicts": spread["verdicts"],
            "fraction_final": [param.box.host_fraction(x).tolist() for x in spread["x_final"]],
            "history": history, "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--starts", type=int, default=4)
    parser.add_argument("--points", type=int, default=21, help="scan points per axis, 2-parameter studies")
    parser.add_argument("--points-4d", type=int, default=6, help="scan points per axis, the 4-layer study")
    parser.add_argument("--studies", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--output", default="results/bench_design_quality.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from hostsim.cli import enable_compilation_cache

    enable_compilation_cache()
    results = {}
    for name in args.studies:
        points = args.points_4d if name.startswith("layers") else args.points
        t0 = time.perf_counter()
        optimum, where = scan(study_of(name, 1, 1, {}), points)
        results[name] = {"optimum": optimum, "optimum_fraction": where, "scan_points": points,
                         "scan_s": time.perf_counter() - t0, "settings": {}}
        print(f"{name}: scan optimum {optimum:.4f} at {where} ({time.perf_counter() - t0:.0f} s)", flush=True)
        for setting in args.settings:
            run = loop(study_of(name, args.iterations, args.starts, SETTINGS[setting]))
            run["gap_closed"] = [(f0 - f) / (f0 - optimum) if f0 - optimum > 1e-9 else None
                                 for f0, f in zip(run["first"], run["final"])]
            results[name]["settings"][setting] = run
            print(f"  {setting:>14}: " + "  ".join("--" if g is None else f"{100 * g:6.1f} %" for g in run["gap_closed"])
                  + f"   ({run['seconds']:.0f} s)", flush=True)
    print_table(results)
    save(args, results)


def print_table(results: dict) -> None:
    print("\nfraction of the gap to the scan's optimum closed, per start (start 0: the study file's)")
    for name, r in results.items():
        print(f"{name} (optimum {r['optimum']:.4f}):")
        for setting, run in r["settings"].items():
            gaps = [g for g in run["gap_closed"] if g is not None]
            worst = f"{100 * min(gaps):6.1f} %" if gaps else "   --"
            print(f"  {setting:>14}  worst {worst}  " + " ".join("  --  " if g is None else f"{100 * g:5.1f}%"
                                                             for g in run["gap_closed"]))


def save(args, results: dict) -> None:
    import jax

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"date": datetime.date.today().isoformat(), "commit": commit, "machine": platform.processor() or platform.machine(),
           "cpus": __import__("os").cpu_count(), "jax": jax.__version__, "iterations": args.iterations,
           "starts": args.starts, "studies": results}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
