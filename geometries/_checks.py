"""Run-time checks inside the host builders.

A builder's result can be invalid for reasons only the computation shows (a seeded fibre
sequence too short to reach the requested porosity; a radius grown past the window bound set
at construction). :func:`check` states such a condition once, and where it is enforced depends
on how the builder runs:

* traced by the design loop (``grad`` through ``family.fields()``): ``equinox.error_if``,
  which raises under ``jit`` too;
* inside the compiled build of :meth:`geometries.HostFamily.fields` (within
  :func:`collecting`): the condition becomes an output of the program and the caller raises.
  A program with ``error_if``'s host callback is never written to JAX's persistent compilation
  cache, so every run recompiled the Cu-skeleton builder (0.8-1.6 s; measured).
"""

from __future__ import annotations

import contextlib
import contextvars

import equinox as eqx

_sink: contextvars.ContextVar = contextvars.ContextVar("geometry_checks", default=None)


def check(value, failed, message: str):
    """``value`` unchanged; the build fails with ``message`` where ``failed`` (a traced bool) holds."""
    sink = _sink.get()
    if sink is None:
        return eqx.error_if(value, failed, message)
    sink.append((failed, message))
    return value


@contextlib.contextmanager
def collecting():
    """Collect the checks traced inside the block as ``[(failed, message)]`` instead of raising."""
    sink: list = []
    token = _sink.set(sink)
    try:
        yield sink
    finally:
        _sink.reset(token)
