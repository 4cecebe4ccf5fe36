"""Events that end a segment before its capacity or duration: a voltage cutoff, the electrolyte
depleting, Li reaching the top of the box.

An event is a scalar function ``g`` of a solved state, scaled by the event's own tolerance: the
event has happened when ``g > 0``, and the integrator (:mod:`hostsim.electrochemistry.integrate`)
lands on it when ``-1 <= g <= 0``, i.e. within one tolerance before it. Events are passed as
objects (a tuple of them); the integrator locates the first one crossed inside the step that
crosses it. A state whose potential solve cannot pass the requested current (a strip out of Li,
a surface out of salt) is always an event: :data:`CURRENT_NOT_PASSED`.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

CURRENT_NOT_PASSED = -1  # the event index of a state whose potential solve cannot pass the current
SHORTFALL = 1e-2  # a solve that passes more than 1 % off the requested current has not passed it
LARGE = 1e6  # the scaled value of an event that is a yes/no (the current not passed)
DEFAULT_VOLTAGE_CUTOFF = 0.5  # [V] vs Li/Li+: a segment ends when the voltage rises past it (VoltageCutoff)


class AbstractEvent(eqx.Module):
    """``value(system, state, observation) -> g`` (scaled: crossed above 0, landed in [-1, 0])."""

    name: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def value(self, system, state, observation):
        ...


class VoltageCutoff(AbstractEvent):
    """The working electrode's voltage rises past ``voltage`` [V] (a strip running out of Li:
    the default 0.5 V vs Li/Li+ is far above any stripping overpotential of these cells, and far
    below the ~3 V at which Cu would dissolve). Landed within ``tolerance`` [V] below it."""

    name: ClassVar[str] = "voltage cutoff"
    voltage: float = DEFAULT_VOLTAGE_CUTOFF
    tolerance: float = 5e-5

    def value(self, system, state, observation):
        return (observation.voltage - self.voltage) / self.tolerance


class Depletion(AbstractEvent):
    """The electrolyte runs out of salt: the lowest concentration in an electrolyte cell or on an
    interface (extrapolated to it) falls to ``ratio`` x c0. Landed within ``tolerance`` x c0
    above it (at Sand's time the surface concentration falls linearly, so a tenth of the
    threshold places the event within ~2e-4 of the time). A surface below ``starved`` x c0 whose
    solve cannot pass the current, or whose surface overpotential ``V - phi`` it drives below
    ``-runaway`` volts, is depleted too: the salt that reaches it no longer carries the current (the face's limiting current,
    :class:`~hostsim.electrochemistry.potential.FaceInterface`, can bind before the threshold, and no
    real cell plates Li a volt below it: its electrolyte reduces first)."""

    name: ClassVar[str] = "depletion"
    ratio: float = 1e-3
    tolerance: float = 1e-4
    starved: float = 0.05
    runaway: float = 1.0  # [V]: an electrode driven this far at a starved surface plates on nothing
    runaway_tolerance: float = 1e-3  # [V]

    def value(self, system, state, observation):
        c0 = system.electrolyte.concentration
        lowest = jnp.minimum(observation.min_concentration, observation.min_interface_concentration)
        lowest = jnp.where(jnp.isfinite(lowest) | (lowest > 0), lowest, -jnp.inf)  # NaN: depleted
        starved = lowest < self.starved * c0
        short = ~(jnp.abs(observation.current_error) <= SHORTFALL) & starved
        by_salt = (self.ratio * c0 - lowest) / (self.tolerance * c0)
        # the face's own concentration can reach zero before the cell's extrapolated one does (the
        # face's limiting current binds): the surface overpotential then runs away, here below
        # -``runaway``. It is the interface's V - phi, not V: the electrolyte's ohmic drop is no
        # sign of depletion (a 1 mm column of a poorly conducting electrolyte drops a volt), and only
        # plating depletes its surface (a strip driven positive runs out of Li, the cutoff's event)
        runaway = -observation.min_overpotential - self.runaway
        by_voltage = jnp.where(starved & jnp.isfinite(runaway), runaway / self.runaway_tolerance, -LARGE)
        return jnp.where(short, LARGE, jnp.maximum(by_salt, by_voltage))


class LiReachesTop(AbstractEvent):
    """Li fills half of a cell in the layers under the top face (the reservoir's or counter
    electrode's boundary cells): the box is too short for what grows above the host."""

    name: ClassVar[str] = "Li reached the top of the box"
    fill: float = 0.5
    tolerance: float = 0.01

    def value(self, system, state, observation):
        return (observation.top_li - self.fill) / self.tolerance


class LiReachesSeparator(LiReachesTop):
    """Li fills 90 % of a cell in the layer under a separator (whose pores it does not enter): the
    front is within a tenth of a voxel of the separator's face, where its faces hand over
    (:data:`hostsim.electrochemistry.interfaces.FRONT_WIDTH`). The deposit has grown through the gap
    to the separator: penetration, in a real cell."""

    name: ClassVar[str] = "Li reached the separator"
    fill: float = 0.9


DEFAULT_EVENTS = (VoltageCutoff(), Depletion(), LiReachesTop())


def event_values(events, system, state, observation):
    """The scaled values of ``events`` at a solved state, then of :data:`CURRENT_NOT_PASSED`
    (``LARGE`` when the solve did not pass the current, else ``-LARGE``): index ``-1`` of the
    returned vector is that pseudo-event, as :data:`CURRENT_NOT_PASSED` is."""
    values = [jnp.asarray(e.value(system, state, observation), state.theta.dtype) for e in events]
    short = ~(jnp.abs(observation.current_error) <= SHORTFALL) | ~jnp.isfinite(observation.voltage)
    values.append(jnp.where(short, LARGE, -LARGE).astype(state.theta.dtype))
    values = jnp.stack(values)
    return jnp.clip(jnp.where(jnp.isnan(values), LARGE, values), -LARGE, LARGE)
