"""Benchmark: the plating transient — Newton work per step, gradient cost, what users wait for.
Every comparison is measured side by side in one run (this machine is noisy):

* ``step``: per plating step on a Cu skeleton (16x16x40 voxels of 0.125 µm, float32, LP30,
  1 mA/cm², warm): mean Newton iterations, PCG iterations, wall time, and the time in units of
  *one potential solve on the same grid* (one multigrid-PCG solve of the step's linearised
  potential system from zero to rtol 1e-6, timed in the same run) — the old fixed-count Newton
  (``FixedNewton(8)``, differentiated through its iterates) beside the new
  (``AdaptiveNewton()``, implicit derivative). The steps are prescribed (25 steps of 9 s, taken
  by :func:`hostsim.electrochemistry.integrate.replay`: the physics step without the step-size
  controller), so both schemes do the same work; the time per step includes a share of the
  replay's first potential solve (the start's);
* ``gradient``: ``value_and_grad`` of the top-growth fraction through 20 and 100 prescribed
  plating steps (``replay``: the adaptive transient's gradient is this map's at the steps it
  took) over the forward, old and new Newton, with the peak memory XLA plans for each (its
  buffer assignment: temporaries + arguments + outputs) — CPU has no device-memory counter.
  The gradient through an adaptive transient is measured by ``scripts/bench_time.py``;
* ``default``: the default case (``hostsim simulate --no-report``) from the command line, with
  an empty compilation cache (cold) and again (warm), and the old Newton through the library
  on the same two hosts (the case's own adaptive steps);
* ``transport``: ``hostsim transport`` on a 128³ volume from the command line, first and second
  call (fresh cache), beside a TauFactor script on the same volume (``conv_crit=1e-4``), each
  a whole process (imports and compilation included).

Run from the repository root (TauFactor needs ``pip install -e ".[bench]"``)::

    python scripts/bench_plating.py                       # everything (~15 min on 2 cores)
    python scripts/bench_plating.py --parts step gradient

Prints a Markdown table and writes JSON to ``--output`` (default ``results/bench_plating.json``).
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

PARTS = ("step", "gradient", "default", "transport")


def _skeleton(precision="float32"):
    import geometries as geo

    return geo.CuSkeleton(width_um=2.0, height_um=5.0, thickness_um=2.5, fibre_length_um=2.0, voxel_size_um=0.125,
                          fibre_diameter_um=0.5, precision=precision).fields()


def _timed(fn, *args, repeats=3):
    import jax

    out = jax.block_until_ready(fn(*args))  # compile + warm
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_step(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import hostsim as hs
    from hostsim.electrochemistry.integrate import replay
    from hostsim.numerics.newton import AdaptiveNewton, FixedNewton
    from hostsim.electrochemistry.potential import potential_problem

    f = _skeleton()
    g = f.grid
    lp30 = hs.get_electrolyte("lp30")
    kin = hs.Kinetics()
    current = 10.0 * g.length[0] * g.length[1]  # 1 mA/cm²
    dt = 9.0  # s: 0.0025 mAh/cm² per step (the fixed step of the earlier default case on this grid)
    chunk = 25
    steps = jnp.full((chunk,), dt, g.dtype)
    state0 = hs.initial_state(g, f.theta, lp30)

    def system(newton):
        return hs.PlatingSystem(g, f.s, f.k, f.l, lp30, kin, newton=newton, collector_layers=f.collector_layers,
                                host_top=f.host_top)

    # reach a state with Li on the host (the first steps nucleate on bare Cu)
    warm = jax.jit(lambda st: replay(system(AdaptiveNewton()), st, current, steps)[0].state)
    state = jax.block_until_ready(warm(state0))

    # the unit: one multigrid-PCG solve of the linearised potential system of this state
    problem, phi, v, _, _ = potential_problem(g, f.s, f.k, f.l, state.theta, state.concentration, lp30, kin,
                                              current=current, phi_guess=state.phi, voltage_guess=state.voltage)
    jac = problem.jacobian(problem.residual(phi, v)[5])
    rhs = problem.residual(phi, v)[0]
    solve = jax.jit(lambda op, b: hs.linear_solve(op, b, hs.PCG(rtol=1e-6), throw=False))
    unit, (_, stats) = _timed(solve, jac.operator, -rhs, repeats=5)
    rows = {"grid": list(g.shape), "precision": "float32", "unit_potential_solve_s": unit,
            "unit_pcg_iterations": int(stats.iterations)}
    for label, newton in (("old_fixed_newton_8", FixedNewton(8)), ("new_adaptive_newton", AdaptiveNewton())):
        run = jax.jit(lambda st, newton=newton: replay(system(newton), st, current, steps))
        seconds, (_, rows_) = _timed(run, state, repeats=2)
        per_step = seconds / chunk
        # the rows after the first (the start's solve) are the steps
        obs = jax.tree.map(lambda a: np.asarray(a)[1:], rows_.observation)
        rows[label] = {
            "step_s": per_step,
            "step_in_potential_solves": per_step / unit,
            "newton_iterations_mean": float(np.mean(obs.newton_iterations)),
            "pcg_iterations_mean": float(np.mean(obs.linear_iterations)),
            "salt_pcg_iterations_mean": float(np.mean(np.asarray(rows_.salt_iterations)[1:])),
            "max_potential_residual": float(np.max(obs.potential_residual)),
            "max_current_error": float(np.max(np.abs(obs.current_error))),
            "all_steps_admissible": bool(np.all(np.asarray(rows_.admissible))),
        }
    return rows


def _memory(compiled) -> int | None:
    try:
        m = compiled.memory_analysis()
        return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)
    except Exception:  # not every backend reports it
        return None


def bench_gradient(args) -> dict:
    import jax
    import jax.numpy as jnp

    import hostsim as hs
    from hostsim.electrochemistry.integrate import replay
    from hostsim.numerics.newton import AdaptiveNewton, FixedNewton

    f = _skeleton()
    g = f.grid
    lp30 = hs.get_electrolyte("lp30")
    current = 10.0 * g.length[0] * g.length[1]
    out = {"grid": list(g.shape), "precision": "float32",
           "objective": "top-growth fraction after n prescribed steps (integrate.replay)"}
    for steps in args.gradient_steps:
        dt = 0.25 * 36000.0 / 10.0 / steps  # 0.25 mAh/cm² in all
        step_lengths = jnp.full((steps,), dt, g.dtype)

        schemes = (("old_fixed_newton_8", FixedNewton(8)), ("new_adaptive_newton", AdaptiveNewton()))
        for label, newton in schemes[1:] if args.skip_fixed_newton else schemes:
            def objective(s, k, l, theta0, i0, newton=newton):
                system = hs.PlatingSystem(g, s, k, l, lp30, hs.Kinetics(exchange_current_density=i0), newton=newton,
                                          collector_layers=f.collector_layers, host_top=f.host_top)
                carry, _ = replay(system, hs.initial_state(g, theta0, lp30), current, step_lengths)
                gained = carry.state.theta - theta0
                return jnp.sum(gained[:, :, f.host_top:]) / jnp.sum(gained)

            inputs = (f.s, f.k, f.l, f.theta, jnp.asarray(10.0, g.dtype))
            forward = jax.jit(objective)
            both = jax.jit(jax.value_and_grad(objective, argnums=(0, 1, 2, 3, 4)))
            # best of --repeats (at least 2): the VM's speed drifts between calls
            t_f, value = _timed(forward, *inputs, repeats=max(2, args.repeats))
            t_g, (_, grads) = _timed(both, *inputs, repeats=max(2, args.repeats))
            finite = all(bool(jnp.all(jnp.isfinite(x))) for x in grads)
            out[f"{label}_{steps}_steps"] = {
                "forward_s": t_f, "value_and_grad_s": t_g, "ratio": t_g / t_f, "value": float(value),
                "gradient_finite": finite,
                "forward_memory_bytes": _memory(forward.lower(*inputs).compile()),
                "gradient_memory_bytes": _memory(both.lower(*inputs).compile()),
            }
            print(f"  gradient {label} {steps} steps: ratio {t_g / t_f:.2f}", file=sys.stderr, flush=True)
            if args.previous and label == "new_adaptive_newton":
                # the previous code, same objective, in alternation with this one
                prev = _previous_gradient(args, steps)
                out[f"previous_adaptive_newton_{steps}_steps"] = prev
                print(f"  gradient previous ({args.previous}) {steps} steps: ratio {prev['ratio']:.2f}",
                      file=sys.stderr, flush=True)
    return out


def _previous_gradient(args, steps: int) -> dict:
    """This script's gradient part (adaptive Newton only) run on the previous checkout's code (a
    version with ``hostsim.electrochemistry.integrate.replay``)."""

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "previous.json"
        env = dict(os.environ, PYTHONPATH=str(Path(args.previous).resolve()))
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--parts", "gradient", "--skip-fixed-newton",
                        "--gradient-steps", str(steps), "--repeats", str(args.repeats), "--output", str(out)], env=env, check=True,
                       cwd=str(Path(args.previous).resolve()), capture_output=True)
        return json.loads(out.read_text())["gradient"][f"new_adaptive_newton_{steps}_steps"]


def _run(cmd, env=None, cwd=None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds


def bench_default(args) -> dict:
    hostsim = str(Path(sys.executable).with_name("hostsim"))
    out = {}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as run_dir:
        env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache)
        cmd = [hostsim, "simulate", "--no-report", "--quiet", "--out", run_dir]
        out["cli_cold_s"] = _run(cmd, env)
        out["cli_warm_s"] = _run(cmd, env)
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
        if args.previous:  # the previous code's CLI side by side, warm, in alternation with this one
            prev_env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache + "_previous",
                            PYTHONPATH=str(Path(args.previous).resolve()))
            prev_cmd = [sys.executable, "-m", "hostsim.cli", "simulate", "--no-report", "--quiet", "--out",
                        run_dir + "_previous"]
            prev_dir = str(Path(args.previous).resolve())  # `python -m` puts the working directory first on the path
            out["previous_cli_cold_s"] = _run(prev_cmd, prev_env, prev_dir)
            pairs = [(_run(cmd, env), _run(prev_cmd, prev_env, prev_dir)) for _ in range(args.repeats)]
            out["cli_warm_runs_s"] = [a for a, _ in pairs]
            out["previous_cli_warm_runs_s"] = [b for _, b in pairs]
            out["cli_warm_median_s"] = float(sorted(a for a, _ in pairs)[len(pairs) // 2])
            out["previous_cli_warm_median_s"] = float(sorted(b for _, b in pairs)[len(pairs) // 2])
            out["previous"] = subprocess.run(["git", "-C", args.previous, "rev-parse", "--short", "HEAD"],
                                             capture_output=True, text=True).stdout.strip()
    out["new_summary"] = {name: {k: v for k, v in s.items() if isinstance(v, (int, float)) or v is None}
                          for name, s in summary.items()}
    if not args.skip_old_default:
        out["old_fixed_newton_8_simulation_s"] = _old_default()
    return out


def _old_default() -> dict:
    """The default case's two hosts through the library with the old fixed-count Newton (simulation
    time only, compilation included, as the CLI's progress line counts it)."""
    from hostsim.run.case import parse_case
    from hostsim.numerics.newton import FixedNewton
    from hostsim.run.pipeline import simulation_options
    from hostsim.run.simulation import simulate

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from geometries import default_hosts

    case = parse_case({}, "built-in default")
    options = dict(simulation_options(case), newton=FixedNewton(8))  # the case's settings, the old Newton
    times = {}
    for _, fam in default_hosts():
        f = fam.fields()
        res = simulate(fam.name, f.grid, f.s, f.k, f.l, f.theta, case.electrolyte, case.kinetics, case.protocol,
                       collector_layers=f.collector_layers, host_top=f.host_top, **options)
        times[fam.name] = res.summary["wall_time_s"]
    return times


TAUFACTOR_SCRIPT = """
import sys, numpy as np, torch, taufactor
torch.set_num_threads({threads})
vol = np.load(sys.argv[1])
s = taufactor.Solver(vol, device="cpu")
s.solve(iter_limit=100000, verbose=False, conv_crit=1e-4)
print(s.D_eff)
"""


def bench_transport(args) -> dict:
    import numpy as np

    import hostsim as hs

    hostsim = str(Path(sys.executable).with_name("hostsim"))
    out = {"shape": [128, 128, 128]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "volume.npy"
        np.save(path, np.asarray(hs.random_two_phase((128, 128, 128), porosity=0.5, blob_size=2.0, seed=0)))
        env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(Path(tmp) / "cache"))
        # TauFactor transports along axis 0; hostsim along x here, so both solve the same problem
        cmd = [hostsim, "transport", str(path), "--axis", "x", "--json"]
        out["hostsim_first_call_s"] = _run(cmd, env)
        out["hostsim_second_call_s"] = min(_run(cmd, env) for _ in range(2))
        try:
            import taufactor  # noqa: F401
        except ImportError:
            out["taufactor_script_s"] = None
            out["note"] = "taufactor not installed (pip install -e '.[bench]')"
            return out
        script = Path(tmp) / "tau.py"
        script.write_text(TAUFACTOR_SCRIPT.format(threads=os.cpu_count()))
        out["taufactor_script_s"] = min(_run([sys.executable, str(script), str(path)]) for _ in range(2))
        out["second_call_speedup_vs_taufactor"] = out["taufactor_script_s"] / out["hostsim_second_call_s"]
        out["first_call_speedup_vs_taufactor"] = out["taufactor_script_s"] / out["hostsim_first_call_s"]
    return out


def table(results: dict) -> str:
    lines = ["| measure | old | new |", "|---|---|---|"]
    st = results.get("step")
    if st:
        o, n = st["old_fixed_newton_8"], st["new_adaptive_newton"]
        lines.append(f"| plating step, {'x'.join(map(str, st['grid']))} skeleton float32 [ms] | "
                     f"{1e3 * o['step_s']:.1f} | {1e3 * n['step_s']:.1f} |")
        lines.append(f"| ... in potential solves (1 solve = {1e3 * st['unit_potential_solve_s']:.2f} ms, "
                     f"{st['unit_pcg_iterations']} PCG its) | {o['step_in_potential_solves']:.1f} | "
                     f"{n['step_in_potential_solves']:.1f} |")
        lines.append(f"| Newton iterations / step (mean) | {o['newton_iterations_mean']:.2f} | "
                     f"{n['newton_iterations_mean']:.2f} |")
        lines.append(f"| PCG iterations / step (mean), potential; salt | — | {n['pcg_iterations_mean']:.1f}; "
                     f"{n.get('salt_pcg_iterations_mean', float('nan')):.1f} |")
    gr = results.get("gradient")
    if gr:
        for key in sorted(k for k in gr if k.startswith("new_adaptive_newton_")):
            steps = key.split("_")[-2]
            o, n = gr.get(f"old_fixed_newton_8_{steps}_steps", {}), gr[key]
            mem = lambda d: f"{d['gradient_memory_bytes'] / 2**20:.0f} MiB" if d.get("gradient_memory_bytes") else "—"  # noqa: E731
            lines.append(f"| gradient / forward, {steps} steps | {o.get('ratio', float('nan')):.2f} | {n['ratio']:.2f} |")
            prev = gr.get(f"previous_adaptive_newton_{steps}_steps")
            if prev:
                lines.append(f"| … value and gradient [s], previous code / this (same run) | {prev['value_and_grad_s']:.3f} "
                             f"(ratio {prev['ratio']:.2f}) | {n['value_and_grad_s']:.3f} (ratio {n['ratio']:.2f}) |")
            lines.append(f"| gradient peak memory (XLA plan), {steps} steps | {mem(o) if o else '—'} | {mem(n)} |")
    de = results.get("default")
    if de:
        old = de.get("old_fixed_newton_8_simulation_s")
        new = sum(s['wall_time_s'] for s in de['new_summary'].values())
        lines.append(f"| default case, simulation only (compile incl.) [s] | {sum(old.values()):.1f} | {new:.1f} |"
                     if old else f"| default case, simulation only, warm cache [s] | — | {new:.1f} |")
        lines.append(f"| `hostsim simulate --no-report`, cold / warm cache [s] | — | "
                     f"{de['cli_cold_s']:.1f} / {de['cli_warm_s']:.1f} |")
        if "previous_cli_warm_median_s" in de:
            lines.append(f"| … warm, median of {len(de['cli_warm_runs_s'])} alternating runs: previous code "
                         f"({de['previous']}) / this [s] | {de['previous_cli_warm_median_s']:.1f} | "
                         f"{de['cli_warm_median_s']:.1f} |")
    tr = results.get("transport")
    if tr:
        tf = tr.get("taufactor_script_s")
        lines.append(f"| `hostsim transport` 128³ CLI, 1st / 2nd call [s] | — | "
                     f"{tr['hostsim_first_call_s']:.1f} / {tr['hostsim_second_call_s']:.1f} |")
        if tf:
            lines.append(f"| TauFactor script, same volume [s]; 2nd-call speed-up | — | {tf:.1f}; "
                         f"{tr['second_call_speedup_vs_taufactor']:.2f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--gradient-steps", type=int, nargs="+", default=[20, 100])
    p.add_argument("--skip-old-default", action="store_true", help="do not rerun the default case with the old Newton")
    p.add_argument("--previous", help="a checkout of the previous code (e.g. a git worktree): its default case is "
                                      "timed beside this one's, warm, in alternation, and its gradient part run (a "
                                      "version with integrate.replay)")
    p.add_argument("--repeats", type=int, default=3, help="warm default-case pairs with --previous; timed calls "
                                                         "of the gradient part (best of, at least 2)")
    p.add_argument("--skip-fixed-newton", action="store_true", help="gradient part: only the adaptive Newton")
    p.add_argument("--output", default="results/bench_plating.json")
    args = p.parse_args(argv)
    import jax

    results = {"date": datetime.date.today().isoformat(), "machine": platform.platform(),
               "cpus": os.cpu_count(), "jax": jax.__version__, "backend": jax.default_backend()}
    out = Path(args.output)
    for part in args.parts:
        print(f"[bench_plating] {part} ...", file=sys.stderr, flush=True)
        results[part] = {"step": bench_step, "gradient": bench_gradient, "default": bench_default,
                         "transport": bench_transport}[part](args)
        # after every part: a later part that fails keeps what was measured
        stored = json.loads(out.read_text()) if out.exists() else {}  # parts of earlier runs not repeated
        stored.update(results)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(stored, indent=1))
    print(table(results))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
