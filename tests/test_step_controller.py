"""The adaptive integrator's guard against a step size that collapses: below the shortest step
(``FORCED_STEP`` of the segment) a step is kept whatever its error, as diffrax's force_dtmin, so an
error that does not shrink with the step (a jump, or the potential solve's resolution under a very
tight time tolerance) ends in kept steps, counted in the summary, not in a failed segment."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from segments import accepted, system

from hostsim import FARADAY, LI_MOLAR_VOLUME, Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.integrate import FAILED, FORCED_STEP, MIN_STEP, RUNNING, integrate
from hostsim.electrochemistry.plating import initial_state
from hostsim.numerics.stepsize import AbstractStepSizeController, ControllerState

ORACLE = get_electrolyte("spec_oracle")


class NeverAccurate(AbstractStepSizeController):
    """Rejects every step on accuracy and asks for one five times shorter: an error that no step
    length meets (what a jump or a solver's noise floor looks like to the controller)."""

    rtol: float = 0.05

    def init(self, dtype) -> ControllerState:
        one = jnp.ones((), dtype)
        return ControllerState(one, one)

    def adapt(self, scaled_error, admissible, state):
        return jnp.zeros((), bool), jnp.asarray(0.2, jnp.result_type(scaled_error)), state


def test_an_error_no_step_meets_is_kept_at_the_shortest_step_not_a_collapse():
    """A foil under a controller that never accepts: the steps shrink 5x per attempt from 1 % of
    the segment, reach FORCED_STEP of it after ~9 attempts (MIN_STEP, the collapse, lies 1000x
    further), and from then on every attempt is kept at that length: the segment is still running
    after 40 attempts, with ~30 accepted steps, each at most FORCED_STEP of the segment, and the Li
    they plated is the charge they passed (nothing is dropped)."""
    h = 0.5e-6
    g = Grid.create((2, 2, 8), voxel_size=h, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape, g.dtype).at[:, :, 0].set(1.0)
    k, l = jnp.ones(g.shape, g.dtype), jnp.zeros(g.shape, g.dtype)
    area, duration = (2 * h) ** 2, 360.0
    sys_ = system(g, s, k, l, ORACLE, Kinetics(), sei=0.0)
    carry, rows = integrate(sys_, initial_state(g, jnp.zeros(g.shape), ORACLE), 10.0 * area, duration,
                            controller=NeverAccurate(), max_steps=40)
    assert FORCED_STEP >= 100 * MIN_STEP
    assert int(carry.status) == RUNNING and int(carry.status) != FAILED
    kept = accepted(rows)
    steps = kept.dt[kept.dt > 0]
    assert 25 <= steps.size <= 35
    assert np.all(steps <= FORCED_STEP * duration * (1 + 1e-12))
    li = float(jnp.sum(carry.state.theta)) * h**3 * FARADAY / LI_MOLAR_VOLUME
    assert li == pytest.approx(10.0 * area * float(np.sum(steps)), rel=1e-6)
