"""Runs side by side in threads of one process: the hosts of a case (``hostsim simulate``) and the
members of a batch (:class:`hostsim.run.batch.Concurrent`).

Why threads: every run shares the process's compiled programs, and XLA executes a call with the
GIL released, so while one run waits on its step another loads a program, builds a host or
writes a snapshot. One plating step of the default skeleton leaves the 2 CPU cores partly idle
(its Newton and PCG loops are short): two skeleton members at a time ran 1.30x as fast as one
after the other, bit for bit the same (measured 2026-11-30).

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


def run_in_threads(items: Sequence, work: Callable, workers: int) -> list:
    """``work(item, stop)`` for every item, ``workers`` at a time; the results in item order.

    An exception from any run (or Ctrl-C here) stops the others at their next chunk (``stop``
    set), waits for them, and is raised again (Ctrl-C and interrupts as :class:`Interrupted`)."""
    stop = threading.Event()

    def guarded(item):
        if stop.is_set():
            raise Interrupted("interrupted")
        return work(item, stop)

    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="hostsim-run")
    futures = [pool.submit(guarded, item) for item in items]
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
        raised = next((f.exception() for f in futures if f.done() and f.exception() is not None), None)
    except KeyboardInterrupt:  # Ctrl-C arrives in the main thread
        raised = Interrupted("interrupted")
    if raised is not None:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(raised, KeyboardInterrupt):
            raise Interrupted("interrupted") from None
        raise raised
    pool.shutdown(wait=True)
    return [f.result() for f in futures]
