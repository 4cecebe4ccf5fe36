"""Cycling protocols: segments of plating, rest and stripping, repeated, run with adaptive steps.

A :class:`Segment` is ``plate`` or ``strip`` at a current density [A/m²] for a capacity [C/m²]
(``mAh_cm2`` helpers convert), or ``rest`` for a duration [s]. A :class:`Protocol` is a list of
segments repeated ``cycles`` times. :func:`run_protocol` integrates every segment with the
adaptive integrator of :mod:`hostsim.electrochemistry.integrate` (its controller's ``rtol`` is
the run's ``time_tolerance``), in compiled chunks of at most :data:`CHUNK_ATTEMPTS` attempts:
progress, checkpoints and snapshots happen between chunks, and a checkpoint holds the whole
integrator carry, so a resumed run takes exactly the steps the uninterrupted one takes.

Every galvanostatic segment passes its capacity unless an event ends it first: the voltage
passing ``voltage_cutoff`` (a strip out of Li), the electrolyte depleting (``depletion_ratio``
x c0 in an electrolyte cell or on an interface), Li reaching the top of the box, or the
potential solve no longer passing the current. The event is located inside the step that
crosses it; the segment's log says which ended it and how much charge it passed, and the run
continues with the next segment.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from hostsim.electrochemistry.cell import Reservoir
from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.electrochemistry.events import CURRENT_NOT_PASSED, Depletion, LiReachesTop, VoltageCutoff
from hostsim.electrochemistry.integrate import (
    COMPLETED, DEFAULT_TIME_TOLERANCE, EVENT, FAILED, NO_EVENT, RUNNING, Drive, Stepper, run_attempts, start)
from hostsim.electrochemistry.interfaces import interface_area
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, Q_SEI, envelope_heights
from hostsim.electrochemistry.plating import TOP_MARGIN_LAYERS, PlatingState, PlatingSystem
from hostsim.electrochemistry.potential import FaceInterface
from hostsim.errors import InputError
from hostsim.numerics.connectivity import host_connected
from hostsim.numerics.grid import Grid
from hostsim.numerics.newton import AdaptiveNewton
from hostsim.numerics.sharding import shard_cells, shard_members
from hostsim.numerics.stepsize import ControllerState, PIDController
from hostsim.run.programs import stored_program

CHUNK_ATTEMPTS = 25  # attempts per compiled chunk: progress, checkpoints and snapshots happen between chunks
MAX_ATTEMPTS = 100_000  # per segment: more is a case that cannot run (a step size that collapsed)
OUTCOMES = {COMPLETED: "completed", EVENT: "event", FAILED: "failed", RUNNING: "running"}


@dataclasses.dataclass(frozen=True)
class Segment:
    kind: str  # "plate", "strip" or "rest"
    current_density: float = 0.0  # [A/m²] (magnitude)
    capacity: float = 0.0  # [C/m²] for plate/strip
    duration: float = 0.0  # [s] for rest

    def __post_init__(self):
        if self.kind not in ("plate", "strip", "rest"):
            raise InputError(f"protocol segment: kind must be plate, strip or rest; got {self.kind!r}")
        if self.kind == "rest":
            if not self.duration > 0:
                raise InputError(f"protocol segment rest: duration must be > 0 s; got {self.duration}")
        elif not (self.current_density > 0 and self.capacity > 0):
            raise InputError(f"protocol segment {self.kind}: current_density and capacity must be > 0; "
                             f"got {self.current_density} A/m², {self.capacity} C/m²")

    @classmethod
    def plate(cls, mA_cm2: float, mAh_cm2: float) -> "Segment":
        return cls("plate", mA_cm2 * 10.0, mAh_cm2 * COULOMB_PER_MAH_CM2)

    @classmethod
    def strip(cls, mA_cm2: float, mAh_cm2: float) -> "Segment":
        return cls("strip", mA_cm2 * 10.0, mAh_cm2 * COULOMB_PER_MAH_CM2)

    @property
    def seconds(self) -> float:
        return self.duration if self.kind == "rest" else self.capacity / self.current_density

    @property
    def sign(self) -> float:
        return {"plate": 1.0, "strip": -1.0, "rest": 0.0}[self.kind]


@dataclasses.dataclass(frozen=True)
class Protocol:
    segments: tuple
    cycles: int = 1

    def expanded(self):
        return [seg for _ in range(self.cycles) for seg in self.segments]

    def cycle_of(self, index: int) -> int:
        """The cycle (from 0) of the ``index``-th expanded segment."""
        return index // len(self.segments)


def check_plan(grid: Grid, s, theta, segments) -> None:
    """Refuse, before any compilation, a protocol whose net plating needs more room than the box
    has (pores and electrolyte above the collector, less the top :data:`TOP_MARGIN_LAYERS`
    layers), with the height that would fit."""
    net = peak = 0.0
    for seg in segments:
        net += seg.sign * seg.capacity
        peak = max(peak, net)
    if peak <= 0:
        return
    dense = peak * LI_MOLAR_VOLUME / FARADAY  # [m] of dense Li over the projected area
    free = np.clip(1.0 - np.asarray(s, np.float64) - np.asarray(theta, np.float64), 0.0, 1.0)
    room = float(free[:, :, :grid.shape[2] - TOP_MARGIN_LAYERS].mean(axis=(0, 1)).sum()) * grid.voxel_size
    if dense > room:
        short = dense - room
        raise InputError(
            f"the box is too short for the capacity: {peak / COULOMB_PER_MAH_CM2:.3g} mAh/cm² of net plating is {dense * 1e6:.3g} µm of "
            f"dense Li, and the box holds {room * 1e6:.3g} µm (its pores and the electrolyte above them, less the top "
            f"{TOP_MARGIN_LAYERS} layers); make it at least {short * 1e6:.3g} µm taller (height >= "
            f"{(grid.shape[2] * grid.voxel_size + short) * 1e6:.3g} µm) or plate less")


def run_events(voltage_cutoff: float = 0.5, depletion_ratio: float = 1e-3) -> tuple:
    """The events that end a run's segments early (:mod:`hostsim.electrochemistry.events`)."""
    return (VoltageCutoff(voltage_cutoff), Depletion(depletion_ratio), LiReachesTop())


def event_name(index: int, events, kind: str = "plate") -> str | None:
    """The summary's name of the event that ended a segment of ``kind``. A strip whose current
    cannot pass has no connected Li left to give it: "Li exhausted" (a plate's: "current not
    passed", its surface cannot take the current)."""
    if index == NO_EVENT:
        return None
    if index == CURRENT_NOT_PASSED:
        return "Li exhausted" if kind == "strip" else "current not passed"
    return events[index].name


@eqx.filter_jit
def _total_interface_area(grid, s, k, theta):
    """Interface area of the host [m²] (one compiled program, not one per operation)."""
    return jnp.sum(interface_area(grid, s, k, theta))


def _chunk_program(system_of, controller, events, together, mesh, statics, carry, host, drive):
    """The compiled chunk: at most CHUNK_ATTEMPTS attempts of a segment."""
    def run_chunk(carry, host, drive):
        system = system_of(host)
        carry, rows, count = run_attempts(system, carry, drive, controller, events, attempts=CHUNK_ATTEMPTS)
        return carry, rows, count

    if together:
        run_chunk = jax.vmap(run_chunk, in_axes=(0, 0, None))
        if mesh is not None:  # each device runs its own members (and its own loops)
            spec = PartitionSpec(mesh.axis_names[0])
            run_chunk = jax.shard_map(run_chunk, mesh=mesh, in_specs=(spec, spec, PartitionSpec()), out_specs=spec,
                                      check_vma=False)
    program = jax.jit(run_chunk)
    # (a split grid's program is not stored: an exported program is tied to its device count)
    return program if mesh is not None else stored_program("plating_chunk", program, statics, carry, host, drive)


def run_protocol(grid: Grid, s, k, l, state: PlatingState, electrolyte, kinetics, protocol: Protocol, *,
                 collector_layers: int = 1, host_top: int | None = None, time_tolerance: float = DEFAULT_TIME_TOLERANCE,
                 voltage_cutoff: float = 0.5, newton=None, top=None, depletion_ratio: float = 1e-3, progress=None,
                 on_chunk=None, resume: dict | None = None, mesh=None, interface=None,
                 sei_charge_density: float = Q_SEI, controller=None):
    """Run the protocol; returns ``(state, series, segments)``: the final state, the time series
    (a dict of numpy arrays, one entry per row: each segment's starting state, then every
    accepted step, SI units; ``time`` in float64) and one dict per segment run (its outcome, the
    event that ended it, the charge it passed, its steps and rejected attempts).

    ``on_chunk(checkpoint)`` is called after every compiled chunk with a dict holding everything
    needed to continue; passing such a dict back as ``resume`` continues the run where it stopped,
    to the same result.

    ``mesh`` (a 1-D ``jax.sharding.Mesh``, :func:`hostsim.numerics.sharding.z_mesh`) splits the
    grid along z over its devices: a host too large for one device; the same result to round-off.

    **Members together.** With a leading member axis on ``s, k, l`` and every state field (B hosts
    of one grid), the members run as one ``vmap``-ped program, each with its own steps; ``series``
    and ``segments`` are then lists with one entry per member. With a ``mesh`` the member axis is
    split over its devices.
    """
    together = jnp.ndim(s) == 4
    members = int(np.shape(s)[0]) if together else 1
    controller = PIDController(rtol=time_tolerance) if controller is None else controller
    events = run_events(voltage_cutoff, depletion_ratio)
    newton = AdaptiveNewton() if newton is None else newton
    top = Reservoir() if top is None else top
    interface = FaceInterface() if interface is None else interface
    segments = protocol.expanded()
    total_time = float(sum(seg.seconds for seg in segments))
    if resume is None:
        for j in range(members):
            check_plan(grid, s[j] if together else s, state.theta[j] if together else state.theta, segments)
        logs = [[] for _ in range(members)]
        series = [{} for _ in range(members)]
        first_segment, carry = 0, None
    else:
        state, carry, series, logs, first_segment = _from_checkpoint(resume, together, members, controller)
    host = tuple(jnp.asarray(x, grid.dtype) for x in (s, k, l))
    if together:
        host, state = shard_members((host, state), mesh)
    else:
        host, state = shard_cells((host, state), mesh)

    def system_of(fields):
        # (inside the compiled chunk: the host's own connected conductor, a strip step's search start,
        # is found once a chunk)
        conductor = jax.lax.stop_gradient(host_connected(grid, fields[0], fields[1]))
        return PlatingSystem(grid, *fields, electrolyte, kinetics, top, newton, interface=interface,
                             sei_charge_density=sei_charge_density, host_conductor=conductor,
                             collector_layers=collector_layers, host_top=host_top)

    statics = (grid, electrolyte, kinetics, newton, top, interface, sei_charge_density, controller, events, together,
               collector_layers, host_top)
    program = None
    done_time = sum(seg.seconds for seg in segments[:first_segment])
    for index in range(first_segment, len(segments)):
        seg = segments[index]
        drive = Drive(jnp.asarray(seg.sign * seg.current_density * grid.length[0] * grid.length[1], grid.dtype),
                      jnp.asarray(seg.seconds, grid.dtype))
        if carry is None:
            carry = (jax.vmap(lambda st: start(st, controller, events))(state) if together
                     else start(state, controller, events))
            if together:
                carry = shard_members(carry, mesh)
        if program is None:
            program = _chunk_program(system_of, controller, events, together, mesh, statics, carry, host, drive)
        carry = _run_segment(program, carry, host, drive, index, seg, protocol, series,
                             progress=progress, done_time=done_time, total_time=total_time,
                             checkpoint=None if on_chunk is None else lambda c, i=index: on_chunk(
                                 _checkpoint(c, series, logs, i, done_time, total_time, together)))
        for j in range(members):
            logs[j].append(_segment_log(carry, j if together else None, index, seg, protocol, events, grid))
        state = carry.state
        carry = None
        done_time += seg.seconds
    out = [{name: np.concatenate(v) for name, v in ser.items()} for ser in series]
    if not together:
        return state, out[0], logs[0]
    return state, out, logs


def _run_segment(program, carry, host, drive, index, seg, protocol, series, *, progress, done_time,
                 total_time, checkpoint):
    """Chunk after chunk until every member's segment has ended; returns the carry. Pipelined:
    the next chunk is dispatched before the host-side work of the last (a chunk dispatched after
    the segment ended does nothing)."""
    together = jnp.ndim(carry.status) == 1
    attempts = 0
    out = program(carry, host, drive)
    while True:
        if jax.default_backend() == "cpu":
            # one chunk in flight at a time: with two, XLA's CPU runtime deadlocked now and then (a
            # vmapped batch waited for good on its rows, every thread idle); the host-side work of a
            # chunk still overlaps the next chunk
            jax.block_until_ready(out)
        following = program(out[0], host, drive)
        carry, rows, count = out
        _append_rows(series, rows, index, protocol.cycle_of(index), together)
        attempts += CHUNK_ATTEMPTS
        status = np.atleast_1d(np.asarray(carry.status))
        if progress is not None:
            elapsed = float(np.min(np.asarray(carry.elapsed, np.float64)))
            progress(done_time + min(elapsed, seg.seconds), total_time, seg)
        if checkpoint is not None:
            checkpoint(carry)
        if np.all(status != RUNNING):
            return carry
        if attempts >= MAX_ATTEMPTS:
            raise RuntimeError(f"segment {index + 1} ({seg.kind}) did not finish in {MAX_ATTEMPTS} attempts: "
                               f"its step size collapsed; loosen [numerics] time_tolerance or check the case")
        out = following


def _append_rows(series, rows, index, cycle, together):
    """The accepted rows of a chunk into each member's series (with the time since the run's
    start in float64, the segment and the cycle)."""
    rows = jax.tree.map(np.asarray, rows)
    flat = {name: getattr(rows, name) for name in rows._fields if name != "observation"}
    flat.update(rows.observation._asdict())
    members = len(series)
    for j in range(members):
        keep = np.asarray(flat["accepted"][j] if together else flat["accepted"], bool)
        if not keep.any():
            continue
        ser = series[j]
        for name, value in flat.items():
            if name == "accepted":
                continue
            ser.setdefault(name, []).append(np.asarray(value[j] if together else value)[keep])
        # time and charge summed in float64 from the steps as taken (the device's float32 running sums
        # drift by ~1e-7 of the total per step)
        dt = np.asarray(ser["dt"][-1], np.float64)
        before = float(ser["time"][-1][-1]) if "time" in ser and ser["time"] else 0.0
        ser.setdefault("time", []).append(before + np.cumsum(dt))
        charge = float(ser["passed_charge"][-2][-1]) if len(ser["passed_charge"]) > 1 else 0.0
        ser["passed_charge"][-1] = charge + np.cumsum(dt * np.asarray(ser["current"][-1], np.float64))
        n = int(keep.sum())
        ser.setdefault("segment", []).append(np.full(n, index, np.int32))
        ser.setdefault("cycle", []).append(np.full(n, cycle, np.int32))


def _segment_log(carry: Stepper, j, index, seg, protocol, events, grid) -> dict:
    """One segment's outcome (for the summary): what ended it, the charge it passed, its steps."""
    pick = (lambda a: np.asarray(a)[j]) if j is not None else np.asarray
    status, event = int(pick(carry.status)), int(pick(carry.event))
    seconds = float(np.float64(pick(carry.elapsed)) - np.float64(pick(carry.elapsed_error)))
    projected = grid.length[0] * grid.length[1]
    current = seg.sign * seg.current_density * projected
    return {"segment": index, "cycle": protocol.cycle_of(index), "kind": seg.kind, "outcome": OUTCOMES[status],
            "event": event_name(event, events, seg.kind) if status in (EVENT, FAILED) else None,
            "requested_charge_C": seg.sign * seg.capacity * projected, "passed_charge_C": current * seconds,
            "requested_s": seg.seconds, "seconds": seconds, "steps": int(pick(carry.steps)),
            "rejected_steps": int(pick(carry.rejected))}


def _checkpoint(carry: Stepper, series, logs, index, done_time, total_time, together) -> dict:
    """Everything needed to continue the run from after this chunk (numpy arrays and plain data)."""
    stepper = {name: np.asarray(getattr(carry, name)) for name in Stepper._fields if name not in ("state", "controller")}
    stepper.update({f"controller.{name}": np.asarray(getattr(carry.controller, name))
                    for name in ("inverse_error", "previous_inverse_error")})
    flat = [{name: np.concatenate(v) for name, v in ser.items()} for ser in series]
    return {"state": {name: np.asarray(v) for name, v in carry.state._asdict().items()}, "stepper": stepper,
            "series": flat if together else flat[0],
            # copies: the run goes on appending to its own lists after this checkpoint
            "logs": [[dict(log) for log in member] for member in logs] if together else [dict(log) for log in logs[0]],
            "segment": index,
            "done_time": done_time + float(np.min(np.asarray(carry.elapsed, np.float64))), "total_time": total_time,
            "together": bool(together)}


def _from_checkpoint(resume: dict, together: bool, members: int, controller):
    """``(state, carry, series, logs, segment)`` from a :func:`_checkpoint` dict."""
    if bool(resume.get("together", False)) != together:
        raise ValueError("a checkpoint of members together resumes only members together (and one alone, alone)")
    state = PlatingState(*(jnp.asarray(resume["state"][name]) for name in PlatingState._fields))
    fields = resume["stepper"]
    ctrl = ControllerState(jnp.asarray(fields["controller.inverse_error"]),
                           jnp.asarray(fields["controller.previous_inverse_error"]))
    carry = Stepper(state, ctrl, *(jnp.asarray(fields[name]) for name in Stepper._fields[2:]))
    stored = resume["series"] if together else [resume["series"]]
    series = [{name: [np.asarray(v)] for name, v in ser.items()} for ser in stored]
    logs = [list(log) for log in (resume["logs"] if together else [resume["logs"]])]
    return state, carry, series, logs, int(resume["segment"])
