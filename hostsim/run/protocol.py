"""Cycling protocols: segments of plating, rest and stripping, repeated, run with adaptive steps.

A :class:`Segment` is ``plate`` or ``strip`` at a current density [A/m²] for a capacity [C/m²]
(``mAh_cm2`` helpers convert), or ``rest`` for a duration [s]; its sign and its cell current are
its own (:meth:`Segment.drive`). A :class:`Protocol` is a list of segments repeated ``cycles``
times. :func:`run_protocol` runs it in three pieces, each in its own module:

* the step: :func:`hostsim.electrochemistry.integrate.run_attempts` (the physics of a step, the
  step controller, the events that end a segment);
* the chunk driver: :mod:`hostsim.run.chunks` (compiled chunks of at most
  :data:`CHUNK_ATTEMPTS` attempts; progress, checkpoints and snapshots go to one observer,
  :mod:`hostsim.run.observer`, between chunks; a checkpoint holds the whole integrator carry, so
  a resumed run takes exactly the steps the uninterrupted one takes);
* the batching strategy: :mod:`hostsim.run.batching` (one host, members together, members split
  over devices).

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

import jax
import jax.numpy as jnp
import numpy as np

from hostsim.electrochemistry.cell import Reservoir
from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.electrochemistry.events import (CURRENT_NOT_PASSED, DEFAULT_VOLTAGE_CUTOFF, Depletion, LiReachesSeparator,
                                             LiReachesTop, VoltageCutoff)
from hostsim.electrochemistry.integrate import DEFAULT_TIME_TOLERANCE, EVENT, FAILED, NO_EVENT, Drive, Stepper, start
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, Q_SEI, envelope_heights
from hostsim.electrochemistry.plating import TOP_MARGIN_LAYERS, PlatingState, PlatingSystem
from hostsim.electrochemistry.potential import FaceInterface
from hostsim.errors import InputError
from hostsim.numerics.connectivity import host_connected
from hostsim.numerics.grid import Grid
from hostsim.numerics.newton import AdaptiveNewton
from hostsim.numerics.stepsize import PIDController
from hostsim.run.batching import AbstractBatching, OneHost
from hostsim.run.chunks import CHUNK_ATTEMPTS, MAX_ATTEMPTS, OUTCOMES, RunRecord, chunk_program, drive_segment, resume_record  # noqa: F401
from hostsim.run.observer import RunObserver


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

    def drive(self, grid: Grid) -> Drive:
        """What the integrator runs: the cell current [A] over the grid's projected area (> 0
        plates, < 0 strips) for the segment's seconds."""
        return Drive(jnp.asarray(self.sign * self.current_density * grid.length[0] * grid.length[1], grid.dtype),
                     jnp.asarray(self.seconds, grid.dtype))


@dataclasses.dataclass(frozen=True)
class Protocol:
    segments: tuple
    cycles: int = 1

    def expanded(self):
        return [seg for _ in range(self.cycles) for seg in self.segments]

    def cycle_of(self, index: int) -> int:
        """The cycle (from 0) of the ``index``-th expanded segment."""
        return index // len(self.segments)


def check_plan(grid: Grid, s, theta, segments, li_excluded=None, separator=None) -> None:
    """Refuse, before any compilation, a protocol whose net plating needs more room than the box
    has (the volume Li can fill above the collector, less the top :data:`TOP_MARGIN_LAYERS`
    layers), with the height that would fit. Under a separator a full gap is what the run
    reports (Li reaching the separator), not a short box."""
    if separator is not None:
        return
    net = peak = 0.0
    for seg in segments:
        net += seg.sign * seg.capacity
        peak = max(peak, net)
    if peak <= 0:
        return
    dense = peak * LI_MOLAR_VOLUME / FARADAY  # [m] of dense Li over the projected area
    excluded = 0.0 if li_excluded is None else np.asarray(li_excluded, np.float64)
    free = np.clip(1.0 - np.asarray(s, np.float64) - excluded - np.asarray(theta, np.float64), 0.0, 1.0)
    room = float(free[:, :, :grid.shape[2] - TOP_MARGIN_LAYERS].mean(axis=(0, 1)).sum()) * grid.voxel_size
    if dense > room:
        short = dense - room
        raise InputError(
            f"the box is too short for the capacity: {peak / COULOMB_PER_MAH_CM2:.3g} mAh/cm² of net plating is {dense * 1e6:.3g} µm of "
            f"dense Li, and the box holds {room * 1e6:.3g} µm (its pores and the electrolyte above them, less the top "
            f"{TOP_MARGIN_LAYERS} layers); make it at least {short * 1e6:.3g} µm taller (height >= "
            f"{(grid.shape[2] * grid.voxel_size + short) * 1e6:.3g} µm) or plate less")


def run_events(voltage_cutoff: float = DEFAULT_VOLTAGE_CUTOFF, depletion_ratio: float = 1e-3,
               separator=None) -> tuple:
    """The events that end a run's segments early (:mod:`hostsim.electrochemistry.events`); with a
    separator, Li reaching it instead of the top."""
    top = LiReachesTop() if separator is None else LiReachesSeparator()
    return (VoltageCutoff(voltage_cutoff), Depletion(depletion_ratio), top)


def event_name(index: int, events, kind: str = "plate") -> str | None:
    """The summary's name of the event that ended a segment of ``kind``. A strip whose current
    cannot pass has no connected Li left to give it: "Li exhausted" (a plate's: "current not
    passed", its surface cannot take the current)."""
    if index == NO_EVENT:
        return None
    if index == CURRENT_NOT_PASSED:
        return "Li exhausted" if kind == "strip" else "current not passed"
    return events[index].name


def run_protocol(grid: Grid, s, k, l, state: PlatingState, electrolyte, kinetics, protocol: Protocol, *,
                 collector_layers: int = 1, host_top: int | None = None, time_tolerance: float = DEFAULT_TIME_TOLERANCE,
                 voltage_cutoff: float = DEFAULT_VOLTAGE_CUTOFF, newton=None, top=None, depletion_ratio: float = 1e-3,
                 observer: RunObserver | None = None, resume: dict | None = None,
                 batching: AbstractBatching | None = None, interface=None, sei_charge_density: float = Q_SEI,
                 controller=None, li_excluded=None, separator=None):
    """Run the protocol; returns ``(state, series, segments)``: the final state, the time series
    (a dict of numpy arrays, one entry per row: each segment's starting state, then every
    accepted step, SI units; ``time`` in float64) and one dict per segment run (its outcome, the
    event that ended it, the charge it passed, its steps and rejected attempts).

    ``observer`` (:class:`~hostsim.run.observer.RunObserver`) hears of progress and receives a
    checkpoint after every compiled chunk; passing such a checkpoint back as ``resume`` continues
    the run where it stopped, to the same result.

    ``batching`` (:mod:`hostsim.run.batching`; default :class:`~hostsim.run.batching.OneHost`):
    one host (its cells split over a mesh's devices if it has one), or several hosts of one grid
    stacked on a leading member axis of ``s, k, l`` and every state field, run as one
    ``vmap``-ped program in which each member takes its own steps
    (:class:`~hostsim.run.batching.MembersTogether`, :class:`~hostsim.run.batching.MembersSharded`);
    ``series`` and ``segments`` are then lists with one entry per member.

    ``li_excluded`` (optional, shaped as ``s``): open volume that passes ions but takes no Li metal
    (:class:`hostsim.Host`). ``separator``: a porous layer in the top of the gap
    (:class:`~hostsim.electrochemistry.separator.Separator`; the host fields already hold its
    polymer: :meth:`~hostsim.electrochemistry.separator.Separator.overlay`).
    """
    batching = OneHost() if batching is None else batching
    observer = RunObserver() if observer is None else observer
    controller = PIDController(rtol=time_tolerance) if controller is None else controller
    events = run_events(voltage_cutoff, depletion_ratio, separator)
    newton = AdaptiveNewton() if newton is None else newton
    top = Reservoir() if top is None else top
    interface = FaceInterface() if interface is None else interface
    segments = protocol.expanded()
    total_time = float(sum(seg.seconds for seg in segments))
    members = batching.count(s)
    if resume is None:
        for j in range(members):
            check_plan(grid, batching.member(s, j), batching.member(state.theta, j), segments,
                       None if li_excluded is None else batching.member(li_excluded, j), separator)
        record, first_segment, carry = RunRecord.empty(members, batching.stacked), 0, None
    else:
        state, carry, record, first_segment = resume_record(resume, batching, controller)
    fields = (s, k, l) if li_excluded is None else (s, k, l, li_excluded)
    host, state = batching.place((tuple(jnp.asarray(x, grid.dtype) for x in fields), state))

    def system_of(fields):
        # (inside the compiled chunk: the host's own connected conductor, a strip step's search start,
        # is found once a chunk)
        conductor = jax.lax.stop_gradient(host_connected(grid, fields[0], fields[1]))
        return PlatingSystem(grid, *fields[:3], electrolyte, kinetics, top, newton, interface=interface,
                             sei_charge_density=sei_charge_density, host_conductor=conductor,
                             collector_layers=collector_layers, host_top=host_top,
                             li_excluded=fields[3] if len(fields) > 3 else None, separator=separator)

    statics = (grid, electrolyte, kinetics, newton, top, interface, sei_charge_density, controller, events, batching,
               collector_layers, host_top, separator)
    program = None
    done_time = sum(seg.seconds for seg in segments[:first_segment])
    for index in range(first_segment, len(segments)):
        seg = segments[index]
        drive = seg.drive(grid)
        if carry is None:
            carry = batching.start(lambda st: start(st, controller, events), state)
        if program is None:
            program = chunk_program(system_of, controller, events, batching, statics, carry, host, drive)
        carry = drive_segment(program, carry, host, drive, seg=seg, index=index, cycle=protocol.cycle_of(index),
                              record=record, observer=observer, clock=(done_time, total_time))
        tally = {name: getattr(carry, name) for name in TALLY}
        for j in range(members):
            record.logs[j].append(segment_log(batching.member(tally, j), index, seg, protocol, events, grid))
        state, carry = carry.state, None
        done_time += seg.seconds
    out = record.arrays()
    if not batching.stacked:
        return state, out[0], record.logs[0]
    return state, out, record.logs


TALLY = ("status", "event", "elapsed", "elapsed_error", "steps", "rejected")  # what a segment's log reads of the carry


def segment_log(tally: dict, index, seg, protocol, events, grid) -> dict:
    """One member's segment outcome (for the summary) from its carry's :data:`TALLY`: what ended
    it, the charge it passed, its steps."""
    status, event = int(tally["status"]), int(tally["event"])
    seconds = float(np.float64(tally["elapsed"]) - np.float64(tally["elapsed_error"]))
    projected = grid.length[0] * grid.length[1]
    current = seg.sign * seg.current_density * projected
    return {"segment": index, "cycle": protocol.cycle_of(index), "kind": seg.kind, "outcome": OUTCOMES[status],
            "event": event_name(event, events, seg.kind) if status in (EVENT, FAILED) else None,
            "requested_charge_C": seg.sign * seg.capacity * projected, "passed_charge_C": current * seconds,
            "requested_s": seg.seconds, "seconds": seconds, "steps": int(tally["steps"]),
            "rejected_steps": int(tally["rejected"])}
