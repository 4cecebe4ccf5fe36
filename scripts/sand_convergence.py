"""Sand's time through the full plating loop at halving voxel sizes.

10 mA/cm² on a lithiophilic Cu foil (no nucleation barrier) under a 2 mm electrolyte column (the
oracle electrolyte, a reservoir on top), integrated by the run pipeline's adaptive integrator
(``run_protocol``) at ``--time-tolerance`` (default 0.005, tighter than a run's default, so that
the voxel size's error is what shows): the plate ends at the depletion event, located inside the
step that crosses it, when the surface concentration reaches 1e-3 c0 (or at the event of the
electrode no longer passing the current). That end time is compared with
tau = pi D (c0 F)² / (4 J² (1 - t+)²) = 571 s. ``--previous DIR`` runs the same cases with the
code in DIR (a git worktree of a version with the adaptive integrator: ``run_protocol`` returning
the segment logs) side by side. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CASE = r"""
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, numpy as np
from hostsim import Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.kinetics import sand_time
from hostsim.electrochemistry.plating import initial_state
from hostsim.run.protocol import Protocol, Segment, run_protocol
E = get_electrolyte("spec_oracle")
J, L = 100.0, 2e-3
tolerance = float(sys.argv[1])
out = {}
for h in [float(x) for x in sys.argv[2:]]:
    nz = int(round(L / h)) + 1
    g = Grid.create((1, 1, nz), voxel_size=h, lateral="no_flux", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    k, l = jnp.ones(g.shape), jnp.ones(g.shape)  # lithiophilic collector: no nucleation barrier (as tests/test_cell.py)
    tau = float(sand_time(J, E))
    prot = Protocol((Segment("plate", J, 1.2 * tau * J),))
    _, _, logs = run_protocol(g, s, k, l, initial_state(g, jnp.zeros(g.shape), E), E, Kinetics(), prot,
                                time_tolerance=tolerance)
    log = logs[0]
    # the segment ends at the located event (depletion, or the current no longer passed); completed: not reached
    stop = log["seconds"] if log["outcome"] == "event" else None
    out[str(h)] = {"stop_s": stop, "tau_s": tau, "error": None if stop is None else stop / tau - 1,
                   "event": log["event"], "outcome": log["outcome"], "steps": log["steps"],
                   "rejected_steps": log["rejected_steps"], "time_tolerance": tolerance}
print("RESULT" + json.dumps(out))
"""


def moving_front_reference(front_speed: float, cells: int = 4000, length: float = 2e-3, dt: float = 0.05) -> float:
    """Sand's time [s] of the model's continuum limit: in the frame of the Li front, which moves
    at ``front_speed`` = J V_m / F into the electrolyte and takes the salt of the electrolyte it
    displaces out with it (hostsim.electrochemistry.plating), the electrolyte streams towards the
    front: ``c_t = D c_xx + v c_x``, ``D c_x(0) = (1 - t+) J / F``, ``c(L) = c0``. Finite volumes
    (``cells``, upwind advection, backward Euler, ``dt``); the surface value is extrapolated to the
    wall. ``front_speed = 0`` is the textbook problem."""
    import numpy as np
    from scipy.linalg import solve_banded

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from hostsim import FARADAY, get_electrolyte

    e = get_electrolyte("spec_oracle")
    J = 100.0
    D, c0, q = e.diffusivity_value, e.concentration, (1 - e.transference) * J / FARADAY
    n, h, v = cells, length / cells, front_speed
    # a_i c_{i-1} + b_i c_i + g_i c_{i+1} = rhs; diffusion D/h², advection v/h towards i = 0 (upwind: from i+1)
    lower = np.full(n, -dt * D / h**2)
    upper = np.full(n, -dt * (D / h**2 + v / h))
    diag = 1.0 + dt * (2 * D / h**2 + v / h) * np.ones(n)
    diag[0] = 1.0 + dt * (D / h**2 + v / h)  # wall face: the diffusive flux is the fixed consumption, the advected salt leaves
    diag[-1] = 1.0 + dt * (3 * D / h**2 + v / h)  # Dirichlet c0 at the far face (half a cell away)
    ab = np.zeros((3, n))
    ab[0, 1:] = upper[:-1]
    ab[1] = diag
    ab[2, :-1] = lower[1:]
    c = np.full(n, c0)
    t = 0.0
    last = c0
    while True:
        rhs = c.copy()
        rhs[0] -= dt * q / h
        rhs[-1] += dt * (2 * D / h**2 + v / h) * c0
        c = solve_banded((1, 1), ab, rhs)
        t += dt
        surface = c[0] - q * h / (2 * D)
        if surface <= 0:
            return t - dt * surface / (surface - last)
        last = surface


def run(code_dir: str | None, sizes, tolerance: float) -> dict:
    env = dict(os.environ)
    if code_dir:
        env["PYTHONPATH"] = str(Path(code_dir).resolve())
    # run from the code's own directory: ``python -c`` puts the working directory first on sys.path
    cwd = Path(code_dir).resolve() if code_dir else Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", CASE, str(tolerance), *map(str, sizes)], capture_output=True, text=True,
                          env=env, cwd=cwd)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    if not lines:
        raise SystemExit(f"the case failed ({code_dir or 'this code'}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[0][6:])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes-um", type=float, nargs="+", default=[10, 5, 2.5, 1.25])
    p.add_argument("--time-tolerance", type=float, default=0.005, help="the integrator's time_tolerance (default 0.005)")
    p.add_argument("--previous", help="a checkout of the previous code (e.g. a git worktree) with the adaptive integrator")
    p.add_argument("--output", default="results/sand_convergence.json")
    args = p.parse_args(argv)
    sizes = [x * 1e-6 for x in args.sizes_um]
    out = {"this": run(None, sizes, args.time_tolerance), "time_tolerance": args.time_tolerance}
    from hostsim import FARADAY, LI_MOLAR_VOLUME

    speed = 100.0 * LI_MOLAR_VOLUME / FARADAY
    tau = out["this"][str(sizes[0])]["tau_s"]
    out["continuum_fixed_front"] = moving_front_reference(0.0) / tau - 1
    out["continuum_moving_front"] = moving_front_reference(speed) / tau - 1
    out["front_speed_m_s"] = speed
    if args.previous:
        out["previous"] = run(args.previous, sizes, args.time_tolerance)
        out["previous_commit"] = subprocess.run(["git", "-C", args.previous, "rev-parse", "--short", "HEAD"],
                                                capture_output=True, text=True).stdout.strip()
    head = "| h [µm] | stop / Sand's time - 1, this | steps |" + (" previous |" if args.previous else "")
    print(head + "\n|---|---|---|" + ("---|" if args.previous else ""))

    def error(r):
        return "not reached" if r["error"] is None else f"{r['error']:+.2%} ({r['event']})"

    for h in sizes:
        r = out["this"][str(h)]
        row = f"| {h * 1e6:g} | {error(r)} | {r['steps']} |"
        if args.previous:
            row += f" {error(out['previous'][str(h)])} |"
        print(row)
    print(f"continuum (1D, front frame, 0.5 µm cells): fixed front {out['continuum_fixed_front']:+.2%} "
          f"(the textbook value), front moving at {out['front_speed_m_s']:.3g} m/s taking the salt it displaces "
          f"{out['continuum_moving_front']:+.2%}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
