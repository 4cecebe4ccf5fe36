"""Step-size controllers for adaptive time stepping, in the manner of diffrax's.

A controller sees, after each attempted step, the step's error estimate already divided by the
scale of each quantity (``error / scale``, one scalar per quantity), and answers: accept the step
or not, and by how much to multiply the step size for the next attempt. It owns the tolerance:
a step is accepted when ``max(error / scale) <= rtol``.

:class:`PIDController` is the proportional–integral–derivative controller of Söderlind
(Söderlind, "Digital filters in adaptive time-stepping", ACM TOMS 29, 1 (2003)), written as
diffrax writes it: with ``r_n = rtol / max(error_n / scale)``,

    dt_{n+1} = dt_n x safety x r_n^(b1/k) x r_{n-1}^(b2/k) x r_{n-2}^(b3/k)

``b1 = icoeff + pcoeff + dcoeff``, ``b2 = -(pcoeff + 2 dcoeff)``, ``b3 = dcoeff``, ``k`` the
order of the error estimate (2 for a first-order step whose local error is ``O(dt^2)``), the
factor clipped to ``[factormin, factormax]`` (``factormin`` only after a rejection). Safety
0.9 and factors 0.2 and 10 are diffrax's defaults; the coefficients are a PI controller
(``pcoeff`` 0.4, ``icoeff`` 0.3) rather than diffrax's integral one, which alternated accepted and
rejected steps on the default skeleton's plating (docs/time_integration.md: the controller).

As in diffrax, the step sizes carry no derivative: the integrator cuts them off from gradients
(:func:`hostsim.electrochemistry.integrate.attempt`), so a transient's derivative is the one of
the computed map at the steps it took (through the step sizes it followed the controller's
choices, whose sensitivity to a design parameter is not the physics'; docs/time_integration.md).
Every power is taken of a guarded value all the same, so nothing here is NaN when an error is zero.
"""

from __future__ import annotations

import abc

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp


class ControllerState(NamedTuple):
    """What a controller remembers between attempts (arrays, so it batches and checkpoints)."""

    inverse_error: jax.Array  # rtol / error of the last accepted step (1 before any)
    previous_inverse_error: jax.Array  # the one before it


class AbstractStepSizeController(eqx.Module):
    """Decides whether an attempted step is kept and the factor for the next step size."""

    rtol: eqx.AbstractVar[float]

    @abc.abstractmethod
    def init(self, dtype) -> ControllerState:
        """The state before a segment's first step."""

    @abc.abstractmethod
    def adapt(self, scaled_error, admissible, state: ControllerState):
        """``(accept, factor, state)`` for an attempted step with ``scaled_error`` = max over the
        quantities of ``error / scale`` (>= 0) and ``admissible`` (False: the step broke a hard
        limit, e.g. overfilled a cell, and is rejected whatever its error)."""


def _guarded_power(x, exponent, tiny):
    """``x ** exponent`` for ``x >= 0`` with ``x`` kept above ``tiny`` on both sides of a ``where``
    (its derivative at 0 would be infinite, and 0 x inf is NaN in reverse mode)."""
    safe = jnp.where(x > tiny, x, tiny)
    return safe**exponent


class PIDController(AbstractStepSizeController):
    """Söderlind's PID step-size controller (module docstring); ``rtol`` is the relative
    tolerance of every controlled quantity."""

    rtol: float = 1e-3
    pcoeff: float = 0.4
    icoeff: float = 0.3
    dcoeff: float = 0.0
    safety: float = 0.9
    factormin: float = 0.2
    factormax: float = 10.0
    error_order: float = 2.0
    reject_factor: float = 0.5  # the cut after an inadmissible step (its error says nothing)

    def __check_init__(self):
        if not 0.0 < self.rtol < 1.0:
            raise ValueError(f"PIDController.rtol must be in (0, 1); got {self.rtol}")
        if not 0.0 < self.factormin < 1.0 < self.factormax:
            raise ValueError(f"PIDController needs 0 < factormin < 1 < factormax; got {self.factormin}, "
                             f"{self.factormax}")
        if not 0.0 < self.safety <= 1.0:
            raise ValueError(f"PIDController.safety must be in (0, 1]; got {self.safety}")

    def init(self, dtype) -> ControllerState:
        one = jnp.ones((), dtype)
        return ControllerState(one, one)

    def adapt(self, scaled_error, admissible, state: ControllerState):
        dtype = jnp.result_type(scaled_error)
        tiny = jnp.asarray(1e-10, dtype)
        error = scaled_error / self.rtol
        finite = jnp.isfinite(error)
        error = jnp.where(finite, error, 1e10)
        accept = admissible & finite & (error <= 1.0)
        inverse = 1.0 / jnp.where(error > tiny, error, tiny)
        k = self.error_order
        b1 = (self.icoeff + self.pcoeff + self.dcoeff) / k
        b2 = -(self.pcoeff + 2.0 * self.dcoeff) / k
        b3 = self.dcoeff / k
        factor = self.safety * _guarded_power(inverse, b1, tiny)
        if b2:
            factor = factor * _guarded_power(state.inverse_error, b2, tiny)
        if b3:
            factor = factor * _guarded_power(state.previous_inverse_error, b3, tiny)
        low = jnp.where(accept, 1.0, self.factormin)
        factor = jnp.clip(factor, low, self.factormax)
        # after a rejection the step shrinks (at least to factormin); an inadmissible one by reject_factor
        factor = jnp.where(accept, factor, jnp.minimum(factor, 1.0))
        factor = jnp.where(admissible & finite, factor, jnp.minimum(factor, self.reject_factor))
        kept = ControllerState(jnp.where(accept, inverse, state.inverse_error),
                               jnp.where(accept, state.inverse_error, state.previous_inverse_error))
        return accept, factor.astype(dtype), kept
