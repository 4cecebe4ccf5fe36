"""Test helpers: one galvanostatic segment with the adaptive integrator, or fixed steps of the
physics step (for tests about the step itself, not the controller)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hostsim.electrochemistry.cell import Reservoir
from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.electrochemistry.integrate import COMPLETED, integrate
from hostsim.electrochemistry.metrics import Q_SEI
from hostsim.electrochemistry.plating import PlatingSystem, advance, solve_state
from hostsim.electrochemistry.potential import FaceInterface
from hostsim.numerics.stepsize import PIDController


def system(grid, s, k, l, electrolyte, kinetics, *, top=None, sei=Q_SEI, collector_layers=1, host_top=None,
           interface=None, li_excluded=None):
    return PlatingSystem(grid, s, k, l, electrolyte, kinetics, top=Reservoir() if top is None else top,
                         interface=FaceInterface() if interface is None else interface, sei_charge_density=sei,
                         collector_layers=collector_layers, host_top=host_top, li_excluded=li_excluded)


def run_segment(grid, s, k, l, state, electrolyte, kinetics, current, duration, *, rtol=0.05, max_steps=400, **kw):
    """``(carry, attempts)`` of :func:`hostsim.electrochemistry.integrate.integrate`."""
    sys_ = system(grid, s, k, l, electrolyte, kinetics, **kw)
    return integrate(sys_, state, current, duration, controller=PIDController(rtol=rtol), max_steps=max_steps)


def fixed_steps(sys_: PlatingSystem, state, current, dt, steps: int):
    """``steps`` steps of ``dt`` seconds (advance, then the potential of the new state), after the
    potential of ``state``: ``(state, observations, infos)`` stacked over the steps."""
    def one(st, _):
        new, info = advance(sys_, st, current, dt)
        new, obs = solve_state(sys_, new, current)
        return new, (obs, info)

    @jax.jit
    def run(st):
        st, _ = solve_state(sys_, st, current, fresh=True)
        st, (obs, infos) = jax.lax.scan(one, st, None, length=steps)
        return st, obs, infos

    return run(state)


def replay(sys_: PlatingSystem, state, current, dts):
    """The final state of the steps ``dts`` [s] (a segment's accepted steps, taken again at those
    lengths: the map whose derivative the adaptive transient's gradient is)."""
    def one(st, dt):
        new, _ = advance(sys_, st, current, dt)
        new, _ = solve_state(sys_, new, current)
        return new, None

    st, _ = solve_state(sys_, state, current, fresh=True)
    st, _ = jax.lax.scan(one, st, jnp.asarray(dts, state.theta.dtype))
    return st


def li_coulombs(theta, grid) -> float:
    return float(np.sum(np.asarray(theta, np.float64))) * grid.voxel_size**3 * FARADAY / LI_MOLAR_VOLUME


def completed(carry) -> bool:
    return int(carry.status) == COMPLETED


def accepted(attempts):
    """The accepted rows of stacked attempts, as numpy (the time series of the segment)."""
    keep = np.asarray(attempts.accepted, bool)
    return jax.tree.map(lambda a: np.asarray(a)[keep], attempts)


__all__ = ["accepted", "completed", "fixed_steps", "li_coulombs", "replay", "run_segment", "system", "jnp"]
