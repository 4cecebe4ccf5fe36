"""How a bounded design parameter is held in its range: strategies a parameterisation takes.

A parameterisation's design vector ``x`` is what the optimiser moves; a strategy maps each
component to its position in the bounds' range, ``fraction(x)`` in [0, 1] (the value is then
``low + (high - low) fraction``), and says what happens after an update (``project``).

* :class:`ProjectedBox` (the default, ``[optimizer] bounds = "projection"``): ``x`` is linear in
  the value on ``[-2, 2]`` (``fraction = 1/2 + x / 4``: the sigmoid's value and slope at the
  centre, so a learning rate means near the middle of the range what it meant before) and every
  update is followed by the Euclidean projection onto that box (optax's ``projection_box``:
  projected gradient descent, or projected Adam). The gradient is the value's, undamped at the
  bound: a parameter reaches its bound exactly and leaves it again when the gradient turns.
* :class:`SigmoidBox` (``bounds = "sigmoid"``): ``fraction = sigmoid(x)``, no projection: any
  ``x`` is valid, but the sigmoid is flat near the bounds, its gradient vanishes there, and a
  parameter driven to a bound stays (docs/design.md: bounds).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import numpy as np
import optax

EDGE = 1e-6  # a sigmoid start on a bound begins this share of the range inside it (its logit is infinite)


class AbstractBox(eqx.Module):
    """Maps design components to their position in their bounds' range and keeps them there."""

    @abc.abstractmethod
    def fraction(self, x):
        """Position of each component in its range, in [0, 1]."""

    @abc.abstractmethod
    def start(self, fraction) -> np.ndarray:
        """The ``x`` of a position in the range (numpy, float64)."""

    def project(self, x):
        """``x`` after an optimiser update, put back where it is valid."""
        return x

    def value(self, x, low, high):
        """``low + (high - low) fraction(x)``."""
        return low + (high - low) * self.fraction(x)

    def host_fraction(self, x) -> np.ndarray:
        """:meth:`fraction` in float64 on the host (the verdict's at-bound test)."""
        return np.asarray(self.fraction(np.asarray(x, np.float64)), np.float64)


class ProjectedBox(AbstractBox):
    """``x`` in ``[-half_width, half_width]``, linear in the value, projected after every update."""

    half_width: float = 2.0

    def fraction(self, x):
        return 0.5 + x / (2.0 * self.half_width)

    def start(self, fraction) -> np.ndarray:
        return (np.clip(np.asarray(fraction, np.float64), 0.0, 1.0) - 0.5) * 2.0 * self.half_width

    def project(self, x):
        return optax.projections.projection_box(x, -self.half_width, self.half_width)


class SigmoidBox(AbstractBox):
    """``fraction = sigmoid(x)``: unconstrained, smooth, flat at the bounds."""

    def fraction(self, x):
        return jax.nn.sigmoid(x)

    def host_fraction(self, x) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, np.float64)))  # the sigmoid, overflow-free

    def start(self, fraction) -> np.ndarray:
        u = np.clip(np.asarray(fraction, np.float64), EDGE, 1.0 - EDGE)
        return np.log(u / (1.0 - u))


BOXES = {"projection": ProjectedBox, "sigmoid": SigmoidBox}


def box(name: str) -> AbstractBox:
    """The strategy ``[optimizer] bounds`` names."""
    return BOXES[name]()
