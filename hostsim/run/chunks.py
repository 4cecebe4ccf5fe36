"""The chunk driver: a segment run as compiled chunks of attempts, with progress, checkpoints and
the time series kept on the host between chunks.

A chunk is at most :data:`CHUNK_ATTEMPTS` attempts of the adaptive integrator
(:func:`hostsim.electrochemistry.integrate.run_attempts`: the physics of a step and the events
that stop a segment), compiled once per run by the run's batching strategy
(:mod:`hostsim.run.batching`). Between chunks the driver appends the accepted rows to the series
(:class:`RunRecord`) and reports to the run's one observer (:mod:`hostsim.run.observer`). A
checkpoint holds the whole integrator carry, so a resumed run takes exactly the steps the
uninterrupted one takes.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from hostsim.electrochemistry.integrate import COMPLETED, EVENT, FAILED, RUNNING, Stepper, run_attempts
from hostsim.electrochemistry.plating import PlatingState
from hostsim.numerics.stepsize import ControllerState
from hostsim.run.programs import stored_program

CHUNK_ATTEMPTS = 25  # attempts per compiled chunk: progress, checkpoints and snapshots happen between chunks
MAX_ATTEMPTS = 100_000  # per segment: more is a case that cannot run (a step size that collapsed)
OUTCOMES = {COMPLETED: "completed", EVENT: "event", FAILED: "failed", RUNNING: "running"}


def chunk_program(system_of, controller, events, batching, statics, carry, host, drive):
    """The compiled chunk: at most :data:`CHUNK_ATTEMPTS` attempts of a segment, for every member
    of the run (``batching``), kept in the program store where the batching allows it."""
    def run_chunk(carry, host, drive):
        system = system_of(host)
        return run_attempts(system, carry, drive, controller, events, attempts=CHUNK_ATTEMPTS)

    program = batching.program(run_chunk)
    if not batching.storable:
        return program
    return stored_program("plating_chunk", program, statics, carry, host, drive)


@dataclasses.dataclass
class RunRecord:
    """What the host keeps of a run between chunks: each member's time series (lists of numpy
    chunks) and its segment logs."""

    series: list  # one dict per member: name -> list of numpy arrays
    logs: list  # one list of segment logs per member
    stacked: bool  # the run's arrays carry a member axis (a checkpoint says so)

    @classmethod
    def empty(cls, members: int, stacked: bool) -> "RunRecord":
        return cls([{} for _ in range(members)], [[] for _ in range(members)], stacked)

    def append_rows(self, rows, index: int, cycle: int) -> None:
        """The accepted rows of a chunk into each member's series (with the time since the run's
        start in float64, the segment and the cycle)."""
        rows = jax.tree.map(np.asarray, rows)
        flat = {name: getattr(rows, name) for name in rows._fields if name != "observation"}
        flat.update(rows.observation._asdict())
        for j, ser in enumerate(self.series):
            pick = (lambda a: np.asarray(a)[j]) if self.stacked else np.asarray
            keep = np.asarray(pick(flat["accepted"]), bool)
            if keep.any():
                _append_member(ser, {name: pick(v)[keep] for name, v in flat.items() if name != "accepted"},
                               index, cycle)

    def checkpoint(self, carry: Stepper, index: int, done_time: float, total_time: float) -> dict:
        """Everything needed to continue the run from after this chunk (numpy arrays and plain data)."""
        stepper = {name: np.asarray(getattr(carry, name)) for name in Stepper._fields if name not in ("state", "controller")}
        stepper.update({f"controller.{name}": np.asarray(getattr(carry.controller, name))
                        for name in ("inverse_error", "previous_inverse_error")})
        flat = self.arrays()
        return {"state": {name: np.asarray(v) for name, v in carry.state._asdict().items()}, "stepper": stepper,
                "series": flat if self.stacked else flat[0],
                # copies: the run goes on appending to its own lists after this checkpoint
                "logs": [[dict(log) for log in member] for member in self.logs] if self.stacked
                else [dict(log) for log in self.logs[0]],
                "segment": index,
                "done_time": done_time + float(np.min(np.asarray(carry.elapsed, np.float64))),
                "total_time": total_time, "together": self.stacked}

    def arrays(self) -> list:
        """Each member's series as one numpy array per name."""
        return [{name: np.concatenate(v) for name, v in ser.items()} for ser in self.series]


def _append_member(ser: dict, kept: dict, index: int, cycle: int) -> None:
    for name, value in kept.items():
        ser.setdefault(name, []).append(value)
    # time and charge summed in float64 from the steps as taken (the device's float32 running sums
    # drift by ~1e-7 of the total per step)
    dt = np.asarray(ser["dt"][-1], np.float64)
    before = float(ser["time"][-1][-1]) if "time" in ser and ser["time"] else 0.0
    ser.setdefault("time", []).append(before + np.cumsum(dt))
    charge = float(ser["passed_charge"][-2][-1]) if len(ser["passed_charge"]) > 1 else 0.0
    ser["passed_charge"][-1] = charge + np.cumsum(dt * np.asarray(ser["current"][-1], np.float64))
    n = len(dt)
    ser.setdefault("segment", []).append(np.full(n, index, np.int32))
    ser.setdefault("cycle", []).append(np.full(n, cycle, np.int32))


def resume_record(resume: dict, batching, controller) -> tuple:
    """``(state, carry, record, segment)`` from a :meth:`RunRecord.checkpoint` dict."""
    if bool(resume.get("together", False)) != batching.stacked:
        raise ValueError("a checkpoint of members together resumes only members together (and one alone, alone)")
    state = PlatingState(*(jnp.asarray(resume["state"][name]) for name in PlatingState._fields))
    fields = resume["stepper"]
    ctrl = ControllerState(jnp.asarray(fields["controller.inverse_error"]),
                           jnp.asarray(fields["controller.previous_inverse_error"]))
    carry = Stepper(state, ctrl, *(jnp.asarray(fields[name]) for name in Stepper._fields[2:]))
    stored = resume["series"] if batching.stacked else [resume["series"]]
    series = [{name: [np.asarray(v)] for name, v in ser.items()} for ser in stored]
    logs = [list(log) for log in (resume["logs"] if batching.stacked else [resume["logs"]])]
    return state, carry, RunRecord(series, logs, batching.stacked), int(resume["segment"])


def drive_segment(program, carry, host, drive, *, seg, index: int, cycle: int, record: RunRecord, observer,
                  clock: tuple) -> Stepper:
    """Chunk after chunk until every member's segment has ended; returns the carry. ``clock``:
    protocol time done before this segment and in all [s]. Pipelined: the next chunk is
    dispatched before the host-side work of the last (a chunk dispatched after the segment ended
    does nothing)."""
    done_time, total_time = clock
    attempts = 0
    out = program(carry, host, drive)
    while True:
        if jax.default_backend() == "cpu":
            # one chunk in flight at a time: with two, XLA's CPU runtime deadlocked now and then (a
            # vmapped batch waited for good on its rows, every thread idle); the host-side work of a
            # chunk still overlaps the next chunk
            jax.block_until_ready(out)
        following = program(out[0], host, drive)
        carry, rows, _ = out
        record.append_rows(rows, index, cycle)
        attempts += CHUNK_ATTEMPTS
        status = np.atleast_1d(np.asarray(carry.status))
        elapsed = float(np.min(np.asarray(carry.elapsed, np.float64)))
        observer.progress(done_time + min(elapsed, seg.seconds), total_time, seg)
        if observer.wants_checkpoints:
            observer.checkpoint(record.checkpoint(carry, index, done_time, total_time))
        if np.all(status != RUNNING):
            return carry
        if attempts >= MAX_ATTEMPTS:
            raise RuntimeError(f"segment {index + 1} ({seg.kind}) did not finish in {MAX_ATTEMPTS} attempts: "
                               f"its step size collapsed; loosen [numerics] time_tolerance or check the case")
        out = following


__all__ = ["CHUNK_ATTEMPTS", "MAX_ATTEMPTS", "OUTCOMES", "RunRecord", "chunk_program", "drive_segment",
           "resume_record"]
