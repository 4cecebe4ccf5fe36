"""Benchmark: hostsim's effective-diffusivity solve against TauFactor on the same voxels.

What it measures, for each volume size (and seed), in one process:

* **hostsim, float32** (``PCG(rtol=1e-6)``, multigrid preconditioner, the defaults): the
  first-call time of :func:`hostsim.effective_transport` (includes JIT compilation), then the
  warm time to solution (best and median of ``--repeats`` calls), PCG iterations, the true
  relative residual ``||b - A c|| / ||b||`` and ``D_eff/D``.
* **hostsim, float64 reference** (``PCG(rtol=1e-8)``): a tight ``D_eff/D`` that both tools are
  compared against.
* **TauFactor** (``taufactor.Solver`` on CPU, float32, ``conv_crit=1e-4``): time (set-up and
  solve), iterations, ``D_rel = D_eff/D_0``.
* Ratios: speedup ``t_TauFactor / t_hostsim`` (warm; best and median) and the relative differences of
  ``D_eff`` between hostsim, TauFactor and the float64 reference.
* **Operator throughput**: a jitted ``jax.lax.fori_loop`` of 50 applications of hostsim's
  matrix-free 7-point :class:`hostsim.DiffusionOperator`, reported as Gcell/s and as an
  effective memory bandwidth under a stated traffic model (6 float32 arrays per cell per apply:
  reads ``u``, ``total_diagonal`` and the 3 face-conductance arrays, writes the result).

Both tools solve the SAME discrete problem: the same ``uint8`` array (1 = pore), transported
along array axis 0 (TauFactor's fixed direction; hostsim ``axis="x"``), Dirichlet values imposed
on the end faces half a voxel from the first/last cell centres, no-flux lateral faces, pore
diffusivity 1, solid 0, binary face conductances. hostsim removes clusters that do not span the
axis before its solve; TauFactor keeps them, but they carry no flux at steady state, so the
converged ``D_eff`` is the same.

Volumes come from :func:`hostsim.random_two_phase` with fixed seeds (``blob_size=2``).

Timing: every timed quantity is repeated (``--repeats``, also used for TauFactor unless
``--taufactor-repeats`` is given) and reported as best and median. On shared or virtualised
machines individual runs of either tool were seen to stall by seconds (10-400x) at random;
the best of several runs is the robust figure, the median shows the spread. TauFactor (torch)
gets ``--threads`` intra-op threads (default: all cores); XLA uses its own default pool.
``--blas-threads N`` pins OpenBLAS/MKL (set before numpy/scipy/jax are imported; default: left
alone).

Run (from the repository root)::

    python scripts/bench_transport.py                       # 64^3 and 128^3, seed 0
    python scripts/bench_transport.py --sizes 64 128 256 --seeds 0 1
    python scripts/bench_transport.py --skip-taufactor      # hostsim only (e.g. a GPU machine)

It prints Markdown tables (paste-able into the README) and writes everything to ``--output``
(default ``results/bench_transport.json``). TauFactor needs the ``bench`` extra
(``pip install -e ".[bench]"``: torch + taufactor); without it the hostsim part still runs.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

OPERATOR_APPLIES = 50
"""Operator applications per timed loop in the throughput section."""
ARRAYS_PER_APPLY = 6
"""Traffic model: float32 arrays moved per cell per apply (5 reads: u, total_diagonal, 3 face
conductances; 1 write). Temporaries XLA may materialise are not counted."""
BYTES_PER_VALUE = 4


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark hostsim's D_eff solve against TauFactor on the same voxels.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="cube edge lengths (voxels)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of random_two_phase")
    p.add_argument("--porosity", type=float, default=0.5)
    p.add_argument("--blob-size", type=float, default=2.0, help="random_two_phase smoothing [voxels]")
    p.add_argument("--repeats", type=int, default=3, help="timed warm hostsim calls (best and median)")
    p.add_argument("--rtol", type=float, default=1e-6, help="hostsim float32 PCG relative tolerance")
    p.add_argument("--reference-rtol", type=float, default=1e-8, help="hostsim float64 reference rtol")
    p.add_argument(
        "--float64-reference",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also solve in float64 as the tight reference",
    )
    p.add_argument("--skip-taufactor", action="store_true", help="hostsim only")
    p.add_argument("--conv-crit", type=float, default=1e-4, help="TauFactor conv_crit (layer-flux spread)")
    p.add_argument("--taufactor-iter-limit", type=int, default=100_000)
    p.add_argument(
        "--taufactor-repeats",
        type=int,
        default=None,
        help="timed TauFactor runs, each a full SOR solve (default: --repeats)",
    )
    p.add_argument("--taufactor-device", default="cpu", help="torch device for TauFactor")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch intra-op threads")
    p.add_argument(
        "--blas-threads",
        type=int,
        default=0,
        help="set OPENBLAS_NUM_THREADS/MKL_NUM_THREADS to this (0: leave the environment alone)",
    )
    p.add_argument("--agreement-tol", type=float, default=1e-4, help="relative D_eff agreement flagged as ok")
    p.add_argument("--output", type=Path, default=Path("results/bench_transport.json"))
    args = p.parse_args(argv)
    if args.taufactor_repeats is None:
        args.taufactor_repeats = args.repeats
    if args.repeats < 1 or args.taufactor_repeats < 1:
        p.error("--repeats and --taufactor-repeats must be >= 1")
    return args


def configure_blas_threads(n: int) -> None:
    """Pin BLAS thread pools; must run before numpy/scipy/jax are imported to take effect."""
    if n > 0:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def rel_diff(a: float | None, b: float | None) -> float | None:
    """|a - b| / |b| (None when either is missing or b is 0)."""
    if a is None or b is None or b == 0:
        return None
    return abs(a - b) / abs(b)


def environment(args, taufactor_ran: bool) -> dict:
    import jax

    devices = jax.devices()
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "jaxlib": _version("jaxlib"),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in devices],
        "jax_device_kinds": [getattr(d, "device_kind", None) for d in devices],
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "hostsim": _version("hostsim"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "equinox": _version("equinox"),
        "torch": _version("torch"),
        "taufactor": _version("taufactor"),
        "env": {
            v: os.environ.get(v)
            for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS")
        },
        "torch_threads": args.threads if taufactor_ran else None,
    }


def peak_device_memory() -> int | None:
    """Peak bytes in use on the first JAX device (GPU backends); None where not reported."""
    import jax

    if jax.default_backend() == "cpu":
        return None
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - not every backend implements memory_stats
        return None
    if not stats:
        return None
    return stats.get("peak_bytes_in_use")


# --------------------------------------------------------------------------- hostsim


def bench_hostsim(volume, args) -> dict:
    """float32 solve: first call (with compile), warm best/median; float64 reference."""
    import hostsim

    solver = hostsim.PCG(rtol=args.rtol)

    def solve():
        return hostsim.effective_transport(volume, axis="x", lateral="no_flux", precision="float32", solver=solver)

    t0 = time.perf_counter()
    first = solve()
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        res = solve()
        times.append(time.perf_counter() - t0)
    out = {
        "precision": "float32",
        "rtol": args.rtol,
        "phases_s": _phases(volume, solver),
        "first_call_s": first_s,
        "warm_s": times,
        "warm_best_s": min(times),
        "warm_median_s": statistics.median(times),
        "iterations": res.iterations,
        "relative_residual": res.relative_residual,
        "flux_spread": res.flux_spread,
        "d_eff": res.effective_diffusivity_ratio,
        "tortuosity_factor": res.tortuosity_factor,
        "porosity": res.porosity,
        "percolating_porosity": res.percolating_porosity,
        "message": res.message,
        "deterministic": first.effective_diffusivity_ratio == res.effective_diffusivity_ratio,
    }
    if args.float64_reference:
        t0 = time.perf_counter()
        ref = hostsim.effective_transport(
            volume, axis="x", lateral="no_flux", precision="float64", solver=hostsim.PCG(rtol=args.reference_rtol)
        )
        out["reference"] = {
            "precision": "float64",
            "rtol": args.reference_rtol,
            "first_call_s": time.perf_counter() - t0,
            "iterations": ref.iterations,
            "relative_residual": ref.relative_residual,
            "flux_spread": ref.flux_spread,
            "d_eff": ref.effective_diffusivity_ratio,
        }
    out["peak_device_memory_bytes"] = peak_device_memory()
    return out


def _phases(volume, solver) -> dict:
    """One warm call split where the time goes: ``prepare`` (host: checks, percolation
    labelling, conductances), ``solve`` (the compiled solve, inputs sent to the device and the
    result ready there), ``finish`` (results copied back, the numbers formed)."""
    import jax
    import numpy as np

    from hostsim.transport import effective as E

    t0 = time.perf_counter()
    grid, k, active, common = E._prepare(volume, "x", None, None, "no_flux", "float32", "volume")
    t1 = time.perf_counter()
    out = jax.block_until_ready(E._solve_volume(grid, jax.numpy.asarray(np.asarray(k, grid.dtype)),
                                                jax.numpy.asarray(np.asarray(active, grid.dtype)), solver))
    t2 = time.perf_counter()
    E._finish(grid, common, solver, *out, 0.0, "volume")
    t3 = time.perf_counter()
    return {"prepare": t1 - t0, "solve": t2 - t1, "finish": t3 - t2}


def bench_operator(volume, args) -> dict:
    """Matrix-free operator throughput: jitted fori_loop of OPERATOR_APPLIES applications.

    Each step is ``u <- u - A u / 16`` (a Richardson step; 16 bounds twice the largest row sum
    of A for coefficients <= 1, so I - A/16 has eigenvalues in [0, 1] and u stays O(1): no
    overflow and no denormal slow paths). The extra fused multiply-add moves no extra arrays.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    import hostsim

    grid = hostsim.Grid(shape=volume.shape, voxel_size=1.0, lateral="no_flux", axis=0)
    k = jnp.asarray(volume, jnp.float32)
    op, _ = hostsim.assemble(grid, k, hostsim.Dirichlet(1.0), hostsim.Dirichlet(0.0))
    u0 = jax.random.uniform(jax.random.PRNGKey(0), volume.shape, jnp.float32)

    @jax.jit
    def applies(op, u):
        return jax.lax.fori_loop(0, OPERATOR_APPLIES, lambda _, u: u - op(u) * (1.0 / 16.0), u)

    t0 = time.perf_counter()
    u = jax.block_until_ready(applies(op, u0))
    first_s = time.perf_counter() - t0
    if not bool(jnp.all(jnp.isfinite(u))):
        raise RuntimeError("operator throughput loop produced non-finite values")
    times = []
    for _ in range(max(args.repeats, 3)):
        t0 = time.perf_counter()
        jax.block_until_ready(applies(op, u0))
        times.append(time.perf_counter() - t0)
    best = min(times)
    cells = int(np.prod(volume.shape))
    bytes_per_apply = ARRAYS_PER_APPLY * BYTES_PER_VALUE * cells
    return {
        "applies": OPERATOR_APPLIES,
        "cells": cells,
        "first_call_s": first_s,
        "times_s": times,
        "best_s": best,
        "median_s": statistics.median(times),
        "seconds_per_apply": best / OPERATOR_APPLIES,
        "gcell_per_s": OPERATOR_APPLIES * cells / best / 1e9,
        "effective_bandwidth_gb_per_s": OPERATOR_APPLIES * bytes_per_apply / best / 1e9,
        "traffic_model": (
            f"{ARRAYS_PER_APPLY} float32 arrays per cell per apply (reads u, total_diagonal, "
            "3 face conductances; writes 1); XLA temporaries not counted"
        ),
    }


# --------------------------------------------------------------------------- TauFactor


def import_taufactor(args):
    """Return the taufactor module (torch threads set), or (None, reason)."""
    try:
        import torch

        import taufactor
    except Exception as e:  # noqa: BLE001 - any import failure means "hostsim only"
        return None, f"{type(e).__name__}: {e}"
    torch.set_num_threads(args.threads)
    return taufactor, None


def _taufactor_once(taufactor, volume, args):
    t0 = time.perf_counter()
    s = taufactor.Solver(volume, device=args.taufactor_device)
    t1 = time.perf_counter()
    s.solve(iter_limit=args.taufactor_iter_limit, verbose=False, conv_crit=args.conv_crit)
    t2 = time.perf_counter()
    return s, t1 - t0, t2 - t1


def bench_taufactor(taufactor, volume, args) -> dict:
    import numpy as np

    runs = [_taufactor_once(taufactor, volume, args) for _ in range(args.taufactor_repeats)]
    s = runs[-1][0]
    setup = [r[1] for r in runs]
    solve = [r[2] for r in runs]
    total = [a + b for a, b in zip(setup, solve)]
    flux = np.asarray(s.flux_1d[0], np.float64)  # interior layer fluxes at the last check
    return {
        "device": args.taufactor_device,
        "precision": "float32",
        "conv_crit": args.conv_crit,
        "iter_limit": args.taufactor_iter_limit,
        "converged": bool(s.converged),
        "iterations": int(s.iter),
        "setup_s": setup,
        "solve_s": solve,
        "total_s": total,
        "total_best_s": min(total),
        "total_median_s": statistics.median(total),
        "solve_median_s": statistics.median(solve),
        "seconds_per_iteration": statistics.median(solve) / max(int(s.iter), 1),
        "d_rel": float(np.asarray(s.D_rel).reshape(-1)[0]),
        "tau": float(np.asarray(s.tau).reshape(-1)[0]),
        "volume_fraction": float(np.asarray(s.VF).reshape(-1)[0]),
        "flux_spread": float((flux.max() - flux.min()) / flux.max()) if flux.max() > 0 else None,
    }


def warm_up_taufactor(taufactor, args) -> None:
    """A tiny solve so torch's first-use overheads are not charged to the first size."""
    import hostsim

    vol = hostsim.random_two_phase((16, 16, 16), args.porosity, args.blob_size, 0)
    s = taufactor.Solver(vol, device=args.taufactor_device)
    s.solve(iter_limit=200, verbose=False, conv_crit=args.conv_crit)


# --------------------------------------------------------------------------- report


def compare(case: dict, tol: float) -> dict:
    hs = case["hostsim"]
    tf = case.get("taufactor")
    ref = hs.get("reference", {}).get("d_eff")
    d_hs = hs["d_eff"]
    d_tf = tf["d_rel"] if tf else None
    out = {
        "speedup_warm_best": (tf["total_best_s"] / hs["warm_best_s"]) if tf else None,
        "speedup_warm_median": (tf["total_median_s"] / hs["warm_median_s"]) if tf else None,
        "speedup_solve_only_median": (tf["solve_median_s"] / hs["warm_median_s"]) if tf else None,
        "speedup_vs_first_call": (tf["total_median_s"] / hs["first_call_s"]) if tf else None,
        "rel_diff_hostsim_vs_taufactor": rel_diff(d_hs, d_tf),
        "rel_diff_hostsim_vs_reference": rel_diff(d_hs, ref),
        "rel_diff_taufactor_vs_reference": rel_diff(d_tf, ref),
    }
    r = out["rel_diff_hostsim_vs_taufactor"]
    out["agree_within_tol"] = None if r is None else bool(r <= tol)
    out["agreement_tol"] = tol
    return out


def _f(x, fmt):
    return "–" if x is None else format(x, fmt)


def _speedup(x):
    return "–" if x is None else f"{x:.3g}×"


def markdown(results: dict) -> str:
    env = results["environment"]
    lines = [
        f"Machine: {env['cpu_count']} CPU cores, {env['platform']}; JAX {env['jax']} on "
        f"{env['jax_backend']} ({', '.join(env['jax_devices'])}); "
        f"torch {env['torch'] or '–'}, TauFactor {env['taufactor'] or '–'}; {env['date_utc']}.",
        "",
        "Same problem for both tools: same uint8 array (1 = pore), transport along array axis 0 "
        "(hostsim axis=\"x\"), Dirichlet on the end faces (half a voxel out), no-flux sides.",
        f"hostsim: float32, PCG rtol {results['settings']['rtol']:g}; TauFactor: float32 SOR on "
        f"{results['settings']['taufactor_device']}, conv_crit {results['settings']['conv_crit']:g}; "
        f"reference: hostsim float64, rtol {results['settings']['reference_rtol']:g}.",
        "",
        "| volume | seed | hostsim warm (s) best / median | hostsim 1st call incl. compile (s) | PCG iters "
        "| true rel. residual | TauFactor (s) best / median | TauFactor iters | speedup best / median |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results["cases"]:
        hs, tf, cmp_ = c["hostsim"], c.get("taufactor"), c["comparison"]
        lines.append(
            f"| {c['size']}³ | {c['seed']} | {hs['warm_best_s']:.3f} / {hs['warm_median_s']:.3f} "
            f"| {hs['first_call_s']:.2f} | {hs['iterations']} | {hs['relative_residual']:.1e} "
            f"| {_f(tf and tf['total_best_s'], '.3f')} / {_f(tf and tf['total_median_s'], '.3f')} "
            f"| {_f(tf and tf['iterations'], 'd')}{'' if not tf or tf['converged'] else ' (not converged)'} "
            f"| {_speedup(cmp_['speedup_warm_best'])} / {_speedup(cmp_['speedup_warm_median'])} |"
        )
    lines += ["", "Where a warm hostsim call's time goes (s): prepare on the host (checks, percolation labelling) "
              "/ the compiled solve / results copied back:", ""]
    for c in results["cases"]:
        ph = c["hostsim"]["phases_s"]
        lines.append(f"- {c['size']}³ seed {c['seed']}: {ph['prepare']:.3f} / {ph['solve']:.3f} / {ph['finish']:.3f}")
    lines += [
        "",
        "| volume | seed | porosity | D_eff/D hostsim f32 | D_eff/D TauFactor | D_eff/D reference f64 "
        "| hostsim vs TauFactor | hostsim vs ref | TauFactor vs ref |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results["cases"]:
        hs, tf, cmp_ = c["hostsim"], c.get("taufactor"), c["comparison"]
        ref = hs.get("reference", {}).get("d_eff")
        lines.append(
            f"| {c['size']}³ | {c['seed']} | {hs['porosity']:.4f} | {hs['d_eff']:.7f} "
            f"| {_f(tf and tf['d_rel'], '.7f')} | {_f(ref, '.7f')} "
            f"| {_f(cmp_['rel_diff_hostsim_vs_taufactor'], '.1e')} "
            f"| {_f(cmp_['rel_diff_hostsim_vs_reference'], '.1e')} "
            f"| {_f(cmp_['rel_diff_taufactor_vs_reference'], '.1e')} |"
        )
    lines += [
        "",
        f"Operator apply (matrix-free 7-point, float32, jitted fori_loop of {OPERATOR_APPLIES}; "
        f"bandwidth assumes {ARRAYS_PER_APPLY} arrays x {BYTES_PER_VALUE} B per cell per apply: "
        "5 reads + 1 write):",
        "",
        "| volume | time per apply (ms) | Gcell/s | effective GB/s |",
        "|---|---|---|---|",
    ]
    for size, op in results["operator"].items():
        lines.append(
            f"| {size}³ | {1e3 * op['seconds_per_apply']:.3f} | {op['gcell_per_s']:.3f} "
            f"| {op['effective_bandwidth_gb_per_s']:.2f} |"
        )
    if results.get("taufactor_unavailable"):
        lines += ["", f"TauFactor not run: {results['taufactor_unavailable']}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_blas_threads(args.blas_threads)

    import jax

    # Before any array is created: float64 for the reference (float32 runs pass precision).
    jax.config.update("jax_enable_x64", True)

    import hostsim

    taufactor, why_not = (None, "--skip-taufactor given") if args.skip_taufactor else import_taufactor(args)
    if taufactor is None and not args.skip_taufactor:
        print(
            f"TauFactor could not be imported ({why_not}); running hostsim only. "
            'Install the bench extra: pip install -e ".[bench]"',
            file=sys.stderr,
        )

    results = {
        "benchmark": "effective diffusivity: hostsim vs TauFactor, same voxels",
        "problem": {
            "generator": "hostsim.random_two_phase",
            "porosity": args.porosity,
            "blob_size": args.blob_size,
            "transport_axis": "array axis 0 (hostsim axis='x'; TauFactor's fixed direction)",
            "boundaries": "c=1/c=0 on the end faces (half a voxel from the first/last cell centre), no-flux sides",
            "d_eff_definition": "D_eff/D = mean layer flux * L / A; tau = porosity / (D_eff/D)",
        },
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
        },
        "environment": environment(args, taufactor is not None),
        "taufactor_unavailable": why_not if taufactor is None else None,
        "cases": [],
        "operator": {},
        "notes": {
            "hostsim_warm": "wall time of effective_transport after one warm-up call (compile), "
            "incl. percolation labelling, set-up and copying the fields back",
            "hostsim_first_call": "first call's wall time, JIT compilation included",
            "taufactor_time": "Solver(...) set-up + solve(), wall time",
            "taufactor_iterations": "Solver.iter: red/black half-sweeps (each updates one colour); "
            "convergence is checked every 100, so counts are multiples of 100",
            "taufactor_conv_crit": "stop when (max - min) / max of the layer fluxes < conv_crit "
            "and tau changed by < 2e-3 (absolute) since the previous check",
            "speedup_warm_best": "TauFactor total (best) / hostsim warm (best)",
            "speedup_warm_median": "TauFactor total (median) / hostsim warm (median)",
            "speedup_solve_only_median": "TauFactor solve() only (median) / hostsim warm (median)",
            "speedup_vs_first_call": "TauFactor total (median) / hostsim first call incl. compile",
        },
    }

    if taufactor is not None:
        warm_up_taufactor(taufactor, args)

    for size in args.sizes:
        shape = (size, size, size)
        for seed in args.seeds:
            volume = hostsim.random_two_phase(shape, args.porosity, args.blob_size, seed)
            print(f"[{size}^3 seed {seed}] hostsim ...", file=sys.stderr, flush=True)
            case = {"size": size, "seed": seed, "shape": list(shape), "hostsim": bench_hostsim(volume, args)}
            if taufactor is not None:
                print(f"[{size}^3 seed {seed}] TauFactor ...", file=sys.stderr, flush=True)
                case["taufactor"] = bench_taufactor(taufactor, volume, args)
            case["comparison"] = compare(case, args.agreement_tol)
            results["cases"].append(case)
        print(f"[{size}^3] operator throughput ...", file=sys.stderr, flush=True)
        volume = hostsim.random_two_phase(shape, args.porosity, args.blob_size, args.seeds[0])
        results["operator"][str(size)] = bench_operator(volume, args)

    table = markdown(results)
    results["markdown"] = table
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(_finite(results), indent=2, allow_nan=False) + "\n")
    print(table)
    print(f"\nwritten: {args.output}")
    return 0


def _finite(x):
    """JSON-ready copy: non-finite floats (an infinite tortuosity factor) become None."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


if __name__ == "__main__":
    sys.exit(main())
