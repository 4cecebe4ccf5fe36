"""Cycling protocols: segments of plating, rest and stripping, repeated (SPEC 4, issue 4).

A :class:`Segment` is ``plate`` or ``strip`` at a current density [A/m²] for a capacity
[C/m²] (``mAh_cm2`` helpers convert), or ``rest`` for a duration [s]. A :class:`Protocol` is a
list of segments repeated ``cycles`` times. :func:`run_protocol` runs every segment as one
compiled ``lax.scan`` of galvanostatic steps (fixed charge per step) and returns the time
series and the final state.

Steps per segment: the charge per step is chosen so that plating the whole step into one voxel
layer of the *interface* area would fill at most ``fill_per_step`` (default 0.05) of it; the
per-step cap of :mod:`hostsim.electrochemistry.plating` (0.1) then binds only at hot spots that take twice their
share, and the run reports when it does. A 3D host is credited with at most twice the projected
area (its interface ratio is 5-17, but plating concentrates near the top). A strip segment stops when the electrode potential
passes ``voltage_cutoff`` (Li exhausted): the remaining steps carry no current and the
segment's record says so. The
electrolyte depleting (c <= 1e-3 c0 in an electrolyte cell or on an interface, extrapolated to
it; or a plating current the electrode cannot pass while its surface is below 0.05 c0) or a
non-finite step ends the segment the same way, keeping the last good state: no NaN reaches the
results, and the summary says when it happened.
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

from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.errors import InputError
from hostsim.numerics.grid import Grid
from hostsim.electrochemistry.interfaces import interface_area
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, envelope_heights
from hostsim.electrochemistry.cell import Reservoir
from hostsim.numerics.newton import AdaptiveNewton
from hostsim.numerics.sharding import shard_cells, shard_members
from hostsim.run.programs import stored_program
from hostsim.electrochemistry.plating import SAVED_IN_STEPS, PlatingState, plating_step
from hostsim.electrochemistry.potential import FaceInterface


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


@dataclasses.dataclass(frozen=True)
class Protocol:
    segments: tuple
    cycles: int = 1

    def expanded(self):
        return [seg for _ in range(self.cycles) for seg in self.segments]


def steps_for(segment: Segment, grid: Grid, interface_ratio: float, fill_per_step: float, rest_steps: int) -> int:
    if segment.kind == "rest":
        return rest_steps
    # a 3D host spreads the charge over more area, but hot spots take more than their share:
    # credit at most twice the projected area
    per_step = fill_per_step * FARADAY * grid.voxel_size * min(max(interface_ratio, 1.0), 2.0) / LI_MOLAR_VOLUME  # C/m²
    return max(1, math.ceil(segment.capacity / per_step))


CHUNK_STEPS = 25  # steps per compiled scan: progress is reported (and a checkpoint written) between chunks
MAX_STEPS = 200_000  # a run longer than this is a mistake in the case (hours of wall time per host)
TOP_MARGIN_LAYERS = 2  # voxel layers under the top face kept free of Li (the reservoir's boundary cells)


def check_plan(grid: Grid, s, theta, segments, total_steps: int) -> None:
    """Refuse, before any compilation, a protocol that cannot run: more than :data:`MAX_STEPS`
    steps, or more net plated Li than the box has room for (pores and electrolyte above the
    collector, less the top :data:`TOP_MARGIN_LAYERS` layers), with the height that would fit."""
    if total_steps > MAX_STEPS:
        raise InputError(f"the protocol needs {total_steps} time steps on this grid (at most {MAX_STEPS}); lower the "
                         f"capacity or the cycles, or raise [numerics] fill_per_step")
    net = peak = 0.0
    for seg in segments:
        net += {"plate": 1.0, "strip": -1.0, "rest": 0.0}[seg.kind] * seg.capacity
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


@eqx.filter_jit
def _total_interface_area(grid, s, k, theta):
    """Interface area of the host [m²] (one compiled program, not one per operation)."""
    return jnp.sum(interface_area(grid, s, k, theta))


def run_protocol(grid: Grid, s, k, l, state: PlatingState, electrolyte, kinetics, protocol: Protocol, *,
                 collector_layers: int = 1, host_top: int | None = None, fill_per_step: float = 0.05, rest_steps: int = 4,
                 voltage_cutoff: float = 0.5, newton=None, top=None, depletion_ratio: float = 1e-3, progress=None,
                 on_chunk=None, resume: dict | None = None, mesh=None, interface=None):
    """Run the protocol; returns ``(state, series)`` with ``series`` a dict of numpy arrays (one
    entry per step, SI units) including envelope heights and the segment index.

    ``on_chunk(checkpoint)`` is called after every compiled chunk with a dict holding everything
    needed to continue (state, series so far, position, the step plan); passing such a dict back
    as ``resume`` continues the run where it stopped, with the same steps, so an interrupted run
    ends with the same result as an uninterrupted one.

    ``mesh`` (a 1-D ``jax.sharding.Mesh``, :func:`hostsim.numerics.sharding.z_mesh`) splits the
    grid along z over its devices: a host too large for one device; the same result to round-off.

    **Members together.** With a leading member axis on ``s, k, l`` and every state field (B
    hosts of one grid), the members run as one ``vmap``-ped program: every series entry then has
    shape ``(B, steps)`` and a checkpoint's ``stopped`` and ``interface_ratio`` are per member.
    The members must plan the same step counts (:func:`step_plan`); each keeps its own stop
    (cutoff, depletion). With a ``mesh`` the member axis is split over its devices (each device
    runs its members with its own loops, ``shard_map``).
    """
    projected = grid.length[0] * grid.length[1]
    together = jnp.ndim(s) == 4
    if resume is not None:
        ratio = np.asarray(resume["interface_ratio"], np.float64)
        state = PlatingState(*(jnp.asarray(resume["state"][name]) for name in PlatingState._fields))
        series = {name: [np.asarray(v)] for name, v in resume["series"].items()}
        start_segment, start_chunk = int(resume["segment"]), int(resume["chunk"])
        resume_stopped = np.asarray(resume["stopped"], bool)
    else:
        area = jax.vmap(_total_interface_area.__wrapped__, (None, 0, 0, 0)) if together else _total_interface_area
        ratio = np.asarray(area(grid, s, k, state.theta), np.float64) / projected
        series = {}
        start_segment = start_chunk = 0
        resume_stopped = np.zeros(np.shape(ratio), bool)
    segments = protocol.expanded()
    done = 0
    chunk = CHUNK_STEPS

    def rounded(seg):
        counts = {_rounded_steps(seg, grid, float(r), fill_per_step, rest_steps, chunk) for r in np.ravel(ratio)}
        if len(counts) > 1:
            raise ValueError(f"members together must plan the same steps; a {seg.kind} segment plans {sorted(counts)} "
                             f"(group them by step_plan)")
        return counts.pop()

    total_steps = sum(rounded(seg) for seg in segments)
    if resume is None:
        for j in range(len(ratio) if together else 1):
            check_plan(grid, s[j] if together else s, state.theta[j] if together else state.theta, segments,
                       total_steps)
    compiled = {}
    host = tuple(jnp.asarray(x, grid.dtype) for x in (s, k, l))
    if together:
        host, state = shard_members((host, state), mesh)
    else:
        host, state = shard_cells((host, state), mesh)
    for index, seg in enumerate(segments):
        n = rounded(seg)
        if index < start_segment:
            done += n
            continue
        sign = {"plate": 1.0, "strip": -1.0, "rest": 0.0}[seg.kind]
        current = sign * seg.current_density * projected
        dt = seg.seconds / n

        @partial(jax.checkpoint, policy=SAVED_IN_STEPS)
        def body(carry, _, host, drive):
            (st, stopped), (s, k, l), (current, dt) = carry, host, drive
            i = jnp.where(stopped, 0.0, current)
            new, rec = plating_step(grid, s, k, l, st, electrolyte, kinetics, i, dt,
                                    newton=AdaptiveNewton() if newton is None else newton,
                                    top=Reservoir() if top is None else top,
                                    interface=FaceInterface() if interface is None else interface)
            # depletion (c <= 1e-3 c0 in an electrolyte cell) or a non-finite step ends the
            # segment: the state before that step is kept, the rest of the segment carries no current
            c0 = electrolyte.concentration
            floor = depletion_ratio * c0
            short = jnp.abs(rec.current_error) > 1e-2  # the potential solve passed < 99 % of the current
            depleted = ((rec.min_concentration <= floor) | (rec.min_interface_concentration <= floor)
                        | ~jnp.isfinite(new.voltage) | ~jnp.all(jnp.isfinite(new.concentration))
                        # plating current the electrode cannot pass at a nearly depleted surface (i0 ~ c^alpha_a)
                        | ((i > 0) & short & (rec.min_interface_concentration < 0.05 * c0)))
            # a plating step that passed < 99 % without depletion: Newton ran out of steps (reported, not
            # hidden). A stripping shortfall means the Li is running out: the potential then climbs to
            # the cutoff within a step or two (Newton is warm-started) and the segment stops there
            unconverged = (i > 0) & short & ~depleted
            new = jax.tree.map(lambda a, b: jnp.where(depleted, a, b), st._replace(time=new.time), new)
            # the record of a rejected step shows the kept state; statistics of current-free steps
            # (0/0) are reported as 0 rather than NaN
            rec = rec._replace(voltage=new.voltage, plated_charge=new.plated_charge,
                               salt_inflow=jnp.where(depleted, 0.0, rec.salt_inflow))
            rec = jax.tree.map(lambda a: jnp.where(jnp.isfinite(a), a, jnp.zeros_like(a)), rec)
            # Li within the two layers under the top face (the reservoir or counter electrode): the box
            # is too short for what grows above the host; the run stops and says so
            reached_top = jnp.any(new.theta[:, :, -TOP_MARGIN_LAYERS:] > 0.5)
            stopped = stopped | (new.voltage > voltage_cutoff) | depleted | reached_top
            h = envelope_heights(s, new.theta, grid.voxel_size, collector_layers, host_top)
            applied = jnp.where(depleted, 0.0, i)  # the current of the step as run (0 once the segment stopped)
            return (new, stopped), (rec, stopped, depleted, jnp.mean(h), jnp.max(h), applied, unconverged, reached_top)

        length = min(n, chunk)
        drive = (jnp.asarray(current, grid.dtype), jnp.asarray(dt, grid.dtype))
        if length not in compiled:
            # the host fields, the current and the step are arguments, not constants baked into the
            # program: it is smaller (faster to lower and to read from the compilation cache), and runs
            # of one grid shape share it — every segment of a protocol, every member of a sweep over
            # hosts, seeds or currents, every design iteration
            def run_chunk(carry, host, drive, body=body, length=length):
                return jax.lax.scan(partial(body, host=host, drive=drive), carry, None, length=length)

            if together:
                run_chunk = jax.vmap(run_chunk, in_axes=(0, 0, None))
                if mesh is not None:  # each device runs its own members (and its own loops)
                    spec = PartitionSpec(mesh.axis_names[0])
                    run_chunk = jax.shard_map(run_chunk, mesh=mesh, in_specs=(spec, spec, PartitionSpec()),
                                              out_specs=spec, check_vma=False)
            program = jax.jit(run_chunk)
            statics = (grid, electrolyte, kinetics, newton, top, interface, collector_layers, host_top,
                       voltage_cutoff, depletion_ratio, length)
            # (a split grid's program is not stored: an exported program is tied to its device count)
            compiled[length] = (program if mesh is not None else
                                stored_program("plating_chunk", program, statics,
                                               (state, jnp.zeros(np.shape(ratio), bool)), host, drive))
        first_chunk = start_chunk if index == start_segment else 0
        carry = (state, jnp.asarray(resume_stopped if (index == start_segment and first_chunk)
                                    else np.zeros(np.shape(ratio), bool)))
        if together:
            carry = shard_members(carry, mesh)
        done += first_chunk * length
        def record(chunk_index, carry, outputs):
            """Host-side work of a finished chunk: series, progress, checkpoint."""
            nonlocal done
            rec, stopped, depleted, h_mean, h_max, applied, unconverged, reached_top = outputs
            for name, value in rec._asdict().items():
                series.setdefault(name, []).append(np.asarray(value))
            for name, value in (("cutoff", stopped), ("depleted", depleted), ("envelope_mean", h_mean),
                                ("envelope_max", h_max), ("current", applied), ("unconverged", unconverged),
                                ("reached_top", reached_top)):
                series.setdefault(name, []).append(np.asarray(value))
            series.setdefault("segment", []).append(np.full(np.shape(ratio) + (length,), index))
            done += length
            if progress is not None:
                progress(done, total_steps, seg)
            if on_chunk is not None:
                finished = chunk_index + 1 == n // length
                on_chunk({
                    "state": {name: np.asarray(v) for name, v in carry[0]._asdict().items()},
                    "series": {name: np.concatenate(v, axis=-1) for name, v in series.items()},
                    "segment": index + 1 if finished else index, "chunk": 0 if finished else chunk_index + 1,
                    "stopped": (np.asarray(carry[1]) & (not finished)) if together else bool(carry[1]) and not finished,
                    "interface_ratio": ratio if together else float(ratio),
                    "done_steps": done, "total_steps": total_steps,
                })

        # pipelined: the next chunk is dispatched (JAX runs it asynchronously) before the host-side
        # work of the last one (series, checkpoint, snapshot files), which then overlaps the computation
        pending = None
        for chunk_index in range(first_chunk, n // length):
            carry, outputs = compiled[length](carry, host, drive)
            if pending is not None:
                record(*pending)
            pending = (chunk_index, carry, outputs)
        if pending is not None:
            record(*pending)
        state = carry[0]
    return state, {name: np.concatenate(v, axis=-1) for name, v in series.items()}


def _rounded_steps(seg, grid, ratio, fill_per_step, rest_steps, chunk) -> int:
    n = steps_for(seg, grid, ratio, fill_per_step, rest_steps)
    return n if n <= chunk else chunk * math.ceil(n / chunk)


def step_plan(grid: Grid, s, k, theta, protocol: Protocol, *, fill_per_step: float = 0.05, rest_steps: int = 4) -> tuple:
    """The step count of every segment :func:`run_protocol` will run on this host (hosts whose
    plans are equal can run together)."""
    ratio = float(_total_interface_area(grid, s, k, theta)) / (grid.length[0] * grid.length[1])
    return tuple(_rounded_steps(seg, grid, ratio, fill_per_step, rest_steps, CHUNK_STEPS) for seg in protocol.expanded())
