"""What a run reports between its compiled chunks, to one observer object.

The chunk driver (:mod:`hostsim.run.chunks`) calls, on the one observer it is given:

* :meth:`RunObserver.progress` after every chunk (protocol time done and in all, the segment);
* :meth:`RunObserver.checkpoint` after every chunk with everything needed to continue the run
  (built only when :attr:`RunObserver.wants_checkpoints`: it costs a copy of the state);
* :meth:`RunObserver.started` / :meth:`RunObserver.finished` with the run's first and last state.

Observers compose with :class:`Observers`; :class:`PerMember` hands a run of members together each
member's own checkpoint (a single run's format). The snapshot writer
(:class:`hostsim.run.snapshots.SnapshotWriter`) and the checkpoint file
(:class:`hostsim.run.pipeline.CheckpointFile`) are observers.
"""

from __future__ import annotations

from typing import Callable


class RunObserver:
    """An observer that does nothing; subclasses override what they watch."""

    @property
    def wants_checkpoints(self) -> bool:
        return False

    def started(self, state, resumed: bool) -> None:
        """The run's initial state (``resumed``: a run continued from a checkpoint)."""

    def progress(self, done_s: float, total_s: float, segment) -> None:
        """Protocol time done and in all [s], and the running segment; raising stops the run
        at this chunk."""

    def checkpoint(self, checkpoint: dict) -> None:
        """A dict from which :func:`hostsim.run.protocol.run_protocol` continues the run
        (``resume=``) to the same result."""

    def finished(self, state) -> None:
        """The run's final state."""


class Observers(RunObserver):
    """Several observers, called in order."""

    def __init__(self, *observers: RunObserver):
        self.observers = [o for o in observers if o is not None]

    @property
    def wants_checkpoints(self) -> bool:
        return any(o.wants_checkpoints for o in self.observers)

    def started(self, state, resumed: bool) -> None:
        for o in self.observers:
            o.started(state, resumed)

    def progress(self, done_s, total_s, segment) -> None:
        for o in self.observers:
            o.progress(done_s, total_s, segment)

    def checkpoint(self, checkpoint: dict) -> None:
        for o in self.observers:
            if o.wants_checkpoints:
                o.checkpoint(checkpoint)

    def finished(self, state) -> None:
        for o in self.observers:
            o.finished(state)


class Progress(RunObserver):
    """``report(done_s, total_s, segment)`` after every chunk."""

    def __init__(self, report: Callable):
        self.report = report

    def progress(self, done_s, total_s, segment) -> None:
        self.report(done_s, total_s, segment)


class OnCheckpoint(RunObserver):
    """``receive(checkpoint)`` after every chunk."""

    def __init__(self, receive: Callable):
        self.receive = receive

    @property
    def wants_checkpoints(self) -> bool:
        return True

    def checkpoint(self, checkpoint: dict) -> None:
        self.receive(checkpoint)


def member_checkpoint(checkpoint: dict, j: int) -> dict:
    """Member ``j``'s own checkpoint from the checkpoint of members run together: the format of a
    single run's, so a member can also continue alone."""
    return {"state": {n: v[j] for n, v in checkpoint["state"].items()},
            "stepper": {n: v[j] for n, v in checkpoint["stepper"].items()},
            "series": checkpoint["series"][j], "logs": checkpoint["logs"][j], "segment": checkpoint["segment"],
            "done_time": checkpoint["done_time"], "total_time": checkpoint["total_time"], "together": False}


class PerMember(RunObserver):
    """One observer per member of a run of members together: each sees its own state and its own
    checkpoint; progress goes to ``progress`` (the run's, shared)."""

    def __init__(self, members: list, progress: RunObserver | None = None, pick: Callable | None = None):
        self.members = members
        self.shared = progress if progress is not None else RunObserver()
        self.pick = pick  # pick(tree, j): member j's part of a state (the run's batching)

    @property
    def wants_checkpoints(self) -> bool:
        return any(o.wants_checkpoints for o in self.members)

    def started(self, state, resumed: bool) -> None:
        for j, o in enumerate(self.members):
            o.started(self.pick(state, j), resumed)

    def progress(self, done_s, total_s, segment) -> None:
        self.shared.progress(done_s, total_s, segment)

    def checkpoint(self, checkpoint: dict) -> None:
        for j, o in enumerate(self.members):
            if o.wants_checkpoints:
                o.checkpoint(member_checkpoint(checkpoint, j))

    def finished(self, state) -> None:
        for j, o in enumerate(self.members):
            o.finished(self.pick(state, j))


__all__ = ["Observers", "OnCheckpoint", "PerMember", "Progress", "RunObserver",
           "member_checkpoint"]
