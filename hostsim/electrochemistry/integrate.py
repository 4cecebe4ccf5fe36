"""Time integration of one protocol segment: adaptive steps, the exact charge, events.

A segment runs at one current [A] (0: a rest) for a duration [s] (a galvanostatic segment's
capacity divided by its current). It is integrated by *attempts*, each one step of the physics
(:func:`hostsim.electrochemistry.plating.advance`, then the potential of the new state,
:func:`~hostsim.electrochemistry.plating.solve_state`), judged by a step-size controller
(:mod:`hostsim.numerics.stepsize`) on an estimate of the step's error:

* the Li: half the step times the largest change, over the cells, of a cell's plating rate
  between the start and the end of the step (the difference between the explicit step taken
  and the trapezoidal one, the classical Euler–Heun estimate), in voxels;
* the salt: half the largest change of a cell's concentration beyond what the last step's rate
  predicted (the difference of successive steps, backward Euler's local error), over the cell's
  concentration (at most c0, at least 1 % of it: a depleting surface sets the step near Sand's
  time), in cells at least half electrolyte, held to a quarter of the tolerance (a depletion
  layer's lag adds up over the transient: Sand's time comes within 1 % at the default tolerance);
* the voltage: the same for V, over ``max(|V|, RT/F)``.

The largest of the three, divided by the controller's ``rtol`` (the run's ``time_tolerance``),
accepts the step (<= 1) or rejects it. A step that would overfill a cell, strip Li that is not
there or fail a solve is rejected too and retried smaller: no charge is ever held back.

**Exact charge.** The time into the segment is a compensated (Kahan) sum, and the step that
reaches the end is sized to land on it (a step that would leave less than itself is split in
two equal halves), so a galvanostatic segment passes ``I x duration`` to round-off.

**Events** (:mod:`hostsim.electrochemistry.events`) end a segment early. A step that crosses one
is rejected and the crossing is located inside it: the next attempts are regula falsi (Illinois)
trials between the state and the crossing; a trial that does not cross is an ordinary accepted
step, one that crosses shrinks the bracket. The segment ends at the first state within the
event's tolerance of it, or when the bracket is shorter than 1e-9 of the segment's time.

**Two drivers over the same attempt.** :func:`run_attempts` (a ``lax.while_loop`` of at most a
given number of attempts; the run pipeline calls it chunk by chunk, for progress and
checkpoints) and :func:`integrate` (a ``lax.scan`` of a static ``max_steps`` attempts, each under
``jax.checkpoint``, the ones after the segment's end skipped: reverse-mode differentiable with
memory bounded by ``max_steps`` states, as diffrax's checkpointed loop).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from hostsim.electrochemistry.constants import FARADAY, GAS_CONSTANT, TEMPERATURE
from hostsim.electrochemistry.events import CURRENT_NOT_PASSED, DEFAULT_EVENTS, LARGE, event_values
from hostsim.electrochemistry.plating import (
    SAVED_IN_STEPS, Observation, PlatingState, PlatingSystem, admissible_step, advance, cell_total, electrolyte_fraction,
    solve_state)
from hostsim.electrochemistry.potential import OWN_COVER_FILL
from hostsim.numerics.stepsize import AbstractStepSizeController, ControllerState, PIDController

DEFAULT_TIME_TOLERANCE = 0.05  # the run's rtol (docs/time_integration.md: the convergence study)
RUNNING, COMPLETED, EVENT, FAILED = 0, 1, 2, 3  # a segment's status
NO_EVENT = -2  # no event has been crossed (CURRENT_NOT_PASSED is -1, the events count from 0)
CORNERED = 1e-4  # a step that cannot pass the current and is this short (share of the segment so far) ends it
LOCATE_TIME = 1e-9  # an event's bracket shorter than this share of the segment's time ends the search
MIN_STEP = 1e-9  # a step shorter than this share of the segment (or 1 s) is a failure, not progress
SALT_FLOOR = 1e-2  # the salt error's scale is the cell's concentration, down to this share of c0
# the salt's tolerance is a quarter of the run's: backward Euler's lag of a depletion layer adds up over
# the transient and delays Sand's time (docs/time_integration.md: the salt at a quarter of the tolerance)
SALT_WEIGHT = 4.0
JUMP_STEP = 1e-5  # a step across a change of the connected conductor is kept once this short (share of the segment)
# a plating or rest step this short (share of the segment) is kept whatever its error, as diffrax's
# force_dtmin: below it an error no longer shrinks with the step but is a jump or the potential solve's
# resolution (~30 µV of V in float32, above what a time tolerance of 5e-4 asks), and the step would
# collapse. Strips are left out: as their Li runs out their steps must shrink until the current cannot
# pass (the Li exhausted event)
# (docs/time_integration.md: steps that are not judged on their error)
FORCED_STEP = 1e-6
THERMAL_VOLTAGE = GAS_CONSTANT * TEMPERATURE / FARADAY  # RT/F [V]: the voltage scale below |V|


class Drive(NamedTuple):
    """What a segment asks for: a current [A] (> 0 plates, < 0 strips, 0 rests) for a duration [s]."""

    current: jax.Array
    duration: jax.Array


class Stepper(NamedTuple):
    """The integrator's carry between attempts (everything a checkpoint needs to continue)."""

    state: PlatingState
    controller: ControllerState
    dt: jax.Array  # the step the controller proposes next [s]
    elapsed: jax.Array  # time into the segment [s] (compensated sum)
    elapsed_error: jax.Array  # the sum's compensation [s]
    bracket: jax.Array  # locating an event: it lies within this time after the state [s] (inf: not locating)
    g_state: jax.Array  # the scaled values of every event at the state (CURRENT_NOT_PASSED's last)
    g_high: jax.Array  # at the end of the bracket (halved by Illinois)
    kept_high: jax.Array  # accepted trials in a row since the bracket's end last moved
    fresh: jax.Array  # bool: the state's potential is not yet solved at this segment's current
    status: jax.Array  # RUNNING, COMPLETED, EVENT or FAILED
    event: jax.Array  # the event crossed (index into the events, CURRENT_NOT_PASSED, or NO_EVENT)
    steps: jax.Array  # accepted steps of the segment
    rejected: jax.Array  # rejected attempts of the segment


class Attempt(NamedTuple):
    """What one attempt reports; an accepted attempt is a row of the run's time series (its
    quantities at the end of the step). The first attempt of a segment solves its starting state
    (``start``, ``dt = 0``)."""

    accepted: jax.Array
    start: jax.Array
    dt: jax.Array  # [s]
    current: jax.Array  # [A]
    passed_charge: jax.Array  # net charge passed since the run's start [C]
    sei_charge: jax.Array  # Li turned into SEI since the run's start [C]
    error: jax.Array  # the step's scaled error estimate / rtol [-] (<= 1: accepted on accuracy)
    error_parts: jax.Array  # (Li, salt, voltage) estimates / rtol [-]: which quantity sets the step
    max_dtheta: jax.Array  # largest |dtheta| of a cell in the step [-]
    admissible: jax.Array  # the step overfilled no cell, stripped no Li that was not there, and solved
    salt_inflow: jax.Array  # [mol/s] through the top face
    salt_iterations: jax.Array
    observation: Observation


def start(state: PlatingState, controller: AbstractStepSizeController, events=DEFAULT_EVENTS) -> Stepper:
    """The carry at the start of a segment (the first attempt solves ``state`` at the segment's
    current)."""
    dtype = state.theta.dtype
    zero = jnp.zeros((), dtype)
    count = jnp.zeros((), jnp.int32)
    return Stepper(state, controller.init(dtype), zero, zero, zero, jnp.asarray(jnp.inf, dtype),
                   jnp.full((len(events) + 1,), -LARGE, dtype), jnp.asarray(LARGE, dtype), count, jnp.asarray(True),
                   jnp.asarray(RUNNING, jnp.int32), jnp.asarray(NO_EVENT, jnp.int32), count, count)


def error_estimate(system: PlatingSystem, old: PlatingState, new: PlatingState, dt, rate_used, moved):
    """The step's error estimates (module docstring): Li, salt and voltage, each over its scale.
    ``rate_used``: per cell, the Li rate the step plated with [1/s] (the start's, unless a cell
    filled or emptied within the step)."""
    rate_old = rate_used
    rate_new = cell_total(new.face_flows) / system.coulombs_per_fill
    li = 0.5 * dt * jnp.max(jnp.abs(rate_new - rate_old)) + moved
    ratio = jnp.where(old.last_dt > 0, dt / jnp.where(old.last_dt > 0, old.last_dt, 1.0), 0.0)
    wet = electrolyte_fraction(system.s, new.theta) > 0.5
    surprise = new.concentration - old.concentration - ratio * old.concentration_change
    # relative to the cell's own concentration where that is far below c0 (a depleting surface: its
    # error decides when depletion is reached), to c0 elsewhere
    c0 = system.electrolyte.concentration
    scale = jnp.maximum(jnp.minimum(jnp.abs(new.concentration), c0), SALT_FLOOR * c0)
    salt = SALT_WEIGHT * 0.5 * jnp.max(jnp.where(wet, jnp.abs(surprise) / scale, 0.0))
    dv = new.voltage - old.voltage
    volts = 0.5 * jnp.abs(dv - ratio * old.voltage_change) / jnp.maximum(jnp.abs(new.voltage), THERMAL_VOLTAGE)
    return jnp.stack([li, salt, volts])


def _locate_step(carry: Stepper):
    """The next trial inside an event's bracket: regula falsi between the state (its value < 0)
    and the bracket's end (``g_high > 0``), kept inside [2 %, 98 %] of it; a yes/no event (the
    current not passed) is bisected."""
    low, high = carry.g_state[carry.event], carry.g_high
    share = jnp.where(high > low, -low / jnp.where(high > low, high - low, 1.0), 0.5)
    share = jnp.where(high >= 0.5 * LARGE, 0.5, jnp.clip(share, 0.02, 0.98))
    return share * carry.bracket


def _initial_step(system: PlatingSystem, state: PlatingState, current, duration, rtol):
    """A segment's first step: at most 1 % of the segment (the controller grows it by up to 10x a
    step from there), and no cell changes by more than ``sqrt(rtol)`` of a voxel or, plating, by
    more than ``rtol`` of the fill over which a face's Li cover switches (``OWN_COVER_FILL``).
    Nucleation on bare host decides the current's pattern within that fill; a first plating step
    of sqrt(rtol) of a voxel covered every face at once and read the default skeleton's mean flux
    CV 4 % low (docs/time_integration.md)."""
    rate = jnp.max(jnp.abs(cell_total(state.face_flows))) / system.coulombs_per_fill
    rtol = jnp.asarray(rtol, rate.dtype)
    change = jnp.where(current > 0, rtol * OWN_COVER_FILL, jnp.sqrt(rtol))
    fill = change / jnp.where(rate > 0, rate, 1.0)
    return jnp.minimum(jnp.where(rate > 0, fill, jnp.inf), 0.01 * duration).astype(state.theta.dtype)


def attempt(system: PlatingSystem, carry: Stepper, drive: Drive, controller: AbstractStepSizeController,
            events=DEFAULT_EVENTS):
    """One attempt (module docstring): returns the new carry and the :class:`Attempt`."""
    dtype = carry.state.theta.dtype
    current = jnp.asarray(drive.current, dtype)
    duration = jnp.asarray(drive.duration, dtype)
    fresh = carry.fresh
    remaining = (duration - carry.elapsed) + carry.elapsed_error
    locating = jnp.isfinite(carry.bracket)
    trial = jnp.where(locating, jnp.minimum(_locate_step(carry), carry.dt), carry.dt)
    # plating (and resting) steps never fill a cell past its room: such a step is not even tried
    # (a stripping step lets cells empty and moves their current: plating.saturated_flows)
    trial = jnp.where(current >= 0, jnp.minimum(trial, admissible_step(system, carry.state)), trial)
    lands = trial >= remaining
    dt = jnp.where(lands, remaining, jnp.where(2.0 * trial > remaining, 0.5 * remaining, trial))
    # the step sizes carry no derivative, as in diffrax: the derivative is the transient's at the steps
    # taken. Through them it followed the controller's choices, whose sensitivity to a parameter is
    # not the physics' and did not converge with the tolerance (docs/time_integration.md: differentiable transients)
    dt = jax.lax.stop_gradient(dt)
    # a fresh attempt only solves the state it starts from (the advance below is discarded)
    advanced, info = advance(system, carry.state, current, jnp.where(fresh, jnp.ones((), dtype), dt))
    base = jax.tree.map(lambda a, b: jnp.where(fresh, a, b), carry.state, advanced)
    solved, obs = solve_state(system, base, current, fresh=fresh)
    zero = jnp.zeros((), dtype)
    solved = solved._replace(
        voltage_change=jnp.where(fresh, zero, solved.voltage - carry.state.voltage),
        concentration_change=jnp.where(fresh, 0.0, solved.concentration_change),
        last_dt=jnp.where(fresh, zero, solved.last_dt))
    parts = error_estimate(system, carry.state, solved, dt, info.rate, info.moved)
    error = jnp.max(parts)
    values = event_values(events, system, solved, obs)
    g = jnp.max(values)
    index = jnp.argmax(values).astype(jnp.int32)
    index = jnp.where(index == len(events), CURRENT_NOT_PASSED, index)
    passed = values[-1] < 0
    # while locating, the event being located is followed (another one's value says nothing about it)
    tracked = jnp.where(locating & (carry.event != NO_EVENT), values[carry.event], g)
    # a step is judged on its error only when its end state is a solved one that passes the current
    judged = info.admissible & passed & obs.newton_converged
    accept_ctrl, factor, ctrl = controller.adapt(error, judged, carry.controller)
    # conductor joining or leaving the collector's connected set changes V and the currents at once: the
    # error estimate of the step across it does not shrink with the step, so once the step is short the
    # jump is kept as it is (the voltage history restarts after it)
    jump = ~fresh & jnp.any(solved.connected != carry.state.connected)
    through_jump = jump & judged & ~accept_ctrl & (dt <= JUMP_STEP * jnp.maximum(duration, 1.0))
    forced = (~fresh & judged & ~accept_ctrl & ~locating & (current >= 0)
              & (dt <= FORCED_STEP * jnp.maximum(duration, 1.0)))
    jump = jump | forced
    through_jump = through_jump | forced
    accept_ctrl = accept_ctrl | through_jump
    factor = jnp.where(through_jump, 1.0, factor)
    ctrl = jax.tree.map(lambda a, b: jnp.where(through_jump, b, a), ctrl, carry.controller)
    solved = solved._replace(voltage_change=jnp.where(jump, 0.0, solved.voltage_change))
    crossing = ~fresh & accept_ctrl & (g > 0)  # a located event needs a step good enough to trust
    accept = ~fresh & accept_ctrl & (g <= 0)
    # a step whose end cannot pass the current says nothing about how near that point is: the steps
    # shrink towards it, and the segment ends there once the failing step is short
    unpassable = ~fresh & info.admissible & ~passed
    # the compensated time into the segment
    y = dt - carry.elapsed_error
    total = carry.elapsed + y
    elapsed = jnp.where(accept, total, carry.elapsed)
    elapsed_error = jnp.where(accept, (total - carry.elapsed) - y, carry.elapsed_error)
    bracket = jnp.where(crossing, dt, jnp.where(accept & locating, carry.bracket - dt, carry.bracket))
    illinois = accept & locating & (carry.kept_high >= 1)
    g_high = jnp.where(crossing, g, jnp.where(illinois, 0.5 * carry.g_high, carry.g_high))
    kept_high = jnp.where(crossing, 0, jnp.where(accept & locating, carry.kept_high + 1, carry.kept_high))
    near = LOCATE_TIME * (elapsed + jnp.where(jnp.isfinite(bracket), bracket, 0.0))
    cornered = unpassable & (dt <= CORNERED * (elapsed + dt))
    shrunk = ~accept & ~crossing & ~fresh & ~unpassable & (dt * factor < MIN_STEP * jnp.maximum(duration, 1.0))
    # an event lands when the state is within its tolerance or its bracket (or the step the
    # controller allows inside it) is shorter than LOCATE_TIME of the segment's time
    landed = ((accept & locating & ((tracked >= -1.0) | (bracket <= near))) | (crossing & (dt <= near))
              | (locating & ~accept & ~crossing & ~unpassable & (dt * factor <= near)) | cornered)
    at_start = fresh & (g > 0)  # the segment cannot even start (e.g. no Li left to strip)
    too_small = shrunk & ~locating
    # a strip whose steps shrank to nothing while its end could not pass the current ran out of Li:
    # near its end a step overdraws a cell and fails to pass the current together (inadmissible, so not
    # 'unpassable' above), and the segment would otherwise read as a collapsed step size
    exhausted = too_small & (current < 0) & ~passed
    too_small = too_small & ~exhausted
    landed = landed | exhausted
    status = jnp.where(accept & lands, 1, jnp.where(landed | at_start, 2, jnp.where(too_small, 3, 0)))
    next_dt = jnp.where(fresh, _initial_step(system, solved, current, duration, controller.rtol),
                        jnp.where(crossing, dt, dt * factor))
    new = Stepper(
        jax.tree.map(lambda a, b: jnp.where(accept | fresh, a, b), solved, carry.state),
        jax.tree.map(lambda a, b: jnp.where(accept, a, b), ctrl, carry.controller),
        next_dt.astype(dtype), elapsed, elapsed_error, bracket.astype(dtype),
        jnp.where(accept | fresh, values, carry.g_state).astype(dtype), g_high.astype(dtype), kept_high.astype(jnp.int32),
        jnp.asarray(False), status.astype(jnp.int32),
        jnp.where(exhausted, CURRENT_NOT_PASSED,
                  jnp.where(crossing | at_start | cornered, index, carry.event)).astype(jnp.int32),
        carry.steps + accept.astype(jnp.int32), carry.rejected + (~accept & ~fresh).astype(jnp.int32))
    record = Attempt(accept | fresh, fresh, jnp.where(fresh, zero, dt), current, solved.passed_charge,
                     solved.sei_charge, error / controller.rtol, parts / controller.rtol, jnp.where(fresh, zero, info.max_dtheta),
                     info.admissible | fresh, jnp.where(fresh, zero, info.salt_inflow), jnp.where(fresh, 0, info.salt_iterations), obs)
    return new, record


def time_average(values, attempts: Attempt):
    """The time average of a per-attempt quantity over the accepted steps of stacked attempts
    (:func:`integrate`'s), trapezoidal: each step weighs the accepted rows at its two ends (the
    segment's starting row included). Differentiable."""
    accepted = attempts.accepted
    index = jnp.arange(accepted.shape[0])
    latest = jax.lax.cummax(jnp.where(accepted, index, -1))  # the last accepted row up to each row
    before = jnp.concatenate([jnp.full((1,), -1, latest.dtype), latest[:-1]])
    weight = jnp.where(accepted & (attempts.dt > 0) & (before >= 0), attempts.dt, 0.0)
    mean = 0.5 * (values[jnp.maximum(before, 0)] + values)
    total = jnp.sum(weight)
    return jnp.sum(jnp.where(weight > 0, mean, 0.0) * weight) / jnp.where(total > 0, total, 1.0)


def _blank(shapes):
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def run_attempts(system: PlatingSystem, carry: Stepper, drive: Drive, controller: AbstractStepSizeController,
                 events=DEFAULT_EVENTS, *, attempts: int):
    """At most ``attempts`` attempts, fewer when the segment ends (a ``lax.while_loop``; not
    reverse-differentiable). Returns the carry, the attempts' records (``attempts`` rows; the
    rows after the last attempt are zero and not accepted) and how many attempts ran."""
    shape = jax.eval_shape(lambda: attempt(system, carry, drive, controller, events)[1])
    rows = jax.tree.map(lambda s: jnp.zeros((attempts,) + s.shape, s.dtype), shape)

    def more(loop):
        i, c, _ = loop
        return (i < attempts) & (c.status == RUNNING)

    def once(loop):
        i, c, rows = loop
        c, row = attempt(system, c, drive, controller, events)
        return i + 1, c, jax.tree.map(lambda r, x: r.at[i].set(x), rows, row)

    count, carry, rows = jax.lax.while_loop(more, once, (jnp.zeros((), jnp.int32), carry, rows))
    return carry, rows, count


def replay(system: PlatingSystem, state: PlatingState, current, steps):
    """A segment taken in the given steps [s] (an earlier transient's accepted steps, or any fixed
    ones): no error control, no events. Returns ``(carry, attempts)`` as :func:`integrate` does
    (every row accepted, the first the starting state). The adaptive transient's derivative is
    this map's at its steps (:func:`integrate`: the step sizes carry none)."""
    dtype = state.theta.dtype
    current = jnp.asarray(current, dtype)
    steps = jnp.asarray(steps, dtype)
    zero = jnp.zeros((), dtype)

    def row(st, obs, dt, info=None):
        return Attempt(jnp.asarray(True), jnp.asarray(info is None), dt, current, st.passed_charge, st.sei_charge,
                       zero, jnp.zeros(3, dtype), zero if info is None else info.max_dtheta,
                       jnp.asarray(True) if info is None else info.admissible, zero if info is None else info.salt_inflow,
                       jnp.zeros((), jnp.int32) if info is None else info.salt_iterations, obs)

    def one(st, dt):
        new, info = advance(system, st, current, dt)
        new, obs = solve_state(system, new, current)
        return new._replace(voltage_change=new.voltage - st.voltage), row(new, obs, dt, info)

    first, obs = solve_state(system, state, current, fresh=True)
    first = first._replace(concentration_change=jnp.zeros_like(first.concentration), voltage_change=zero, last_dt=zero)
    end, rows = jax.lax.scan(one, first, steps)
    rows = jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), row(first, obs, zero), rows)
    carry = start(end, PIDController())._replace(fresh=jnp.asarray(False), status=jnp.asarray(COMPLETED, jnp.int32),
                                                 steps=jnp.asarray(steps.shape[0], jnp.int32))
    return carry, rows


def integrate(system: PlatingSystem, state: PlatingState, current, duration, *,
              controller: AbstractStepSizeController = PIDController(), events=DEFAULT_EVENTS, max_steps: int = 200):
    """Integrate one segment from ``state``: ``current`` [A] for ``duration`` [s], at most
    ``max_steps`` attempts (the segment's solve at its start counts as one). Differentiable in
    reverse mode (module docstring). Returns ``(carry, attempts)``: the final :class:`Stepper`
    (``carry.state``; ``carry.status`` COMPLETED unless an event ended it or the attempts ran
    out) and the stacked :class:`Attempt` records (``max_steps`` rows, ``accepted`` marks the
    time series)."""
    drive = Drive(jnp.asarray(current, state.theta.dtype), jnp.asarray(duration, state.theta.dtype))
    carry = start(state, controller, events)
    blank = _blank(jax.eval_shape(lambda: attempt(system, carry, drive, controller, events)[1]))

    @partial(jax.checkpoint, policy=SAVED_IN_STEPS)
    def body(c, _):
        return jax.lax.cond(c.status == RUNNING, lambda c_: attempt(system, c_, drive, controller, events),
                            lambda c_: (c_, blank), c)

    return jax.lax.scan(body, carry, None, length=max_steps)
