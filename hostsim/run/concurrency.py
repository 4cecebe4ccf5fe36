"""Runs side by side in threads of one process: the hosts of a case (``hostsim simulate``) and the
members of a batch (:class:`hostsim.run.batch.Concurrent`).

Why threads: every run shares the process's compiled programs, and XLA executes a call with the
GIL released, so while one run waits on its step another loads a program, builds a host or
writes a snapshot. One plating step of the default skeleton leaves the 2 CPU cores partly idle
(its Newton and PCG loops are short), so two runs at a time finish sooner than one after the other,
bit for bit the same (docs/batch.md: members in threads).

Stopping: each run gets a :class:`threading.Event` to check between its chunks (the pipeline's
progress callback). Ctrl-C in the main thread, or an interrupt in any run, sets it; the running
runs stop at their next chunk with their checkpoints, and :class:`Interrupted` is raised once
they have."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait


class Interrupted(Exception):
    """A run stopped by Ctrl-C; its checkpoint is kept and ``str(e)`` says how to continue it."""


def stop_check(stop: threading.Event | None) -> Callable:
    """A progress callback that raises :class:`Interrupted` once ``stop`` is set."""

    def check(*_):
        if stop is not None and stop.is_set():
            raise Interrupted("interrupted")

    return check


_pools: dict = {}  # workers -> a pool kept for the process: the same threads serve every call
_THREAD_PREFIX = "hostsim-run"


def _pool(workers: int) -> ThreadPoolExecutor:
    # Kept, not made per call: a new thread gets its own malloc arena and JAX thread state, and a
    # test that ran the same batch five times saw the resident memory grow with threads made per
    # batch (tests/test_batch.py, repeated batches).
    if workers not in _pools:
        _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix=_THREAD_PREFIX)
    return _pools[workers]


def run_in_threads(items: Sequence, work: Callable, workers: int) -> list:
    """``work(item, stop)`` for every item, ``workers`` at a time; the results in item order.

    An exception from any run (or Ctrl-C here) stops the others at their next chunk (``stop``
    set), waits for them, and is raised again (Ctrl-C and interrupts as :class:`Interrupted`).
    Called from one of these threads (a run that runs things side by side itself), the items run
    one after another in that thread."""
    stop = threading.Event()

    def guarded(item):
        if stop.is_set():
            raise Interrupted("interrupted")
        return work(item, stop)

    if workers <= 1 or threading.current_thread().name.startswith(_THREAD_PREFIX):
        return [guarded(item) for item in items]
    futures = [_pool(workers).submit(guarded, item) for item in items]
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
        raised = next((f.exception() for f in futures if f.done() and f.exception() is not None), None)
    except KeyboardInterrupt:  # Ctrl-C arrives in the main thread
        raised = Interrupted("interrupted")
    if raised is not None:
        stop.set()
        for f in futures:
            f.cancel()  # those not started yet
        wait(futures)  # the running ones stop at their next chunk
        if isinstance(raised, KeyboardInterrupt):
            raise Interrupted("interrupted") from None
        raise raised
    return [f.result() for f in futures]
