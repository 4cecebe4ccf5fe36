"""Electronic connectivity to the current collector, inside the plating step.

Only conducting material connected to the collector is at the electrode potential ``V``;
conducting host or Li cut off from it floats: it neither plates nor strips (cut-off Li is dead Li).

Rule (one rule for the step and for the dead-Li metric, :func:`hostsim.electrochemistry.metrics.dead_li_fraction`):

* a cell is a conducting *node* when its conducting fraction ``s k + theta`` exceeds
  :data:`NODE` (0.05: the partial skin voxels of a smooth fibre carry current, and Li plated from
  them must stay live; with 1/2, 2.9 % of the Li read dead right after plating a fresh fibre
  scaffold, with 0.05 it is 0.08 %; a neck counts as dissolved below 5 % Li);
* nodes 6-connected (faces only, as everywhere in the engine; periodic lateral wrap included)
  to the nodes of the first layer ``z = 0`` (the collector) are *connected*;
* a cell's conductor is *attached* (at ``V``) when the cell is connected or shares a face with a
  connected cell. A partly filled cell's Li sits on the face it grew through (the front-sharp
  picture of :mod:`hostsim.electrochemistry.interfaces`), so a thin film on a connected node is attached before
  its own cell is half full; without this a fresh film on the collector would be dead until its
  cell passed half full.

The connected set is found by repeated dilation inside the node set (a ``lax.while_loop``) and
updated incrementally: when every previously connected cell is still a node (plating only adds
conductor), the previous set is a subset of the new one and the dilation starts from it, a few
sweeps per step; when a connected node was lost (stripping), it restarts from the collector
(sweeps ~ the longest conducting path in voxels). The set is a boolean switch: gradients do not
flow through it (it is piecewise constant in the fields).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hostsim.numerics.grid import Grid
from hostsim.numerics.operators import shift

NODE = 0.05  # a cell holding more conductor (host s k + Li) than this joins its neighbours electrically (docs)
SWEEPS_PER_TRIP = 1  # one dilation per trip: XLA fuses unrolled dilations into one stencil that recomputes
# the inner ones, ~8x slower with 4 per trip (docs/electrochemistry.md: electronic connectivity)


def conducting_nodes(s, k, theta):
    """Boolean field: cells more than :data:`NODE` conducting (host ``s k`` plus Li ``theta``)."""
    return (s * k + theta) > NODE


def _any_neighbour(grid: Grid, mask):
    out = jnp.zeros_like(mask)
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            out = out | shift(mask, offset, axis, grid.periodic[axis])
    return out


def connected_nodes(grid: Grid, nodes, start=None):
    """Nodes 6-connected to the nodes of the collector layer ``z = 0``.

    ``start``: a connected set known to be a subset of the answer (the previous step's, when no
    connected node was lost) to continue from; ``None`` starts from the collector.
    Returns ``(connected, sweeps)``.
    """
    nodes = jnp.asarray(nodes, bool)
    seed = nodes & (jnp.arange(grid.shape[2]) == 0)[None, None, :]
    m0 = seed if start is None else (seed | (jnp.asarray(start, bool) & nodes))

    def cond(state):
        return state[1]

    def body(state):
        m, _, n = state
        new = m
        for _ in range(SWEEPS_PER_TRIP):
            new = nodes & (new | _any_neighbour(grid, new))
        return new, jnp.any(new != m), n + SWEEPS_PER_TRIP

    m, _, sweeps = jax.lax.while_loop(cond, body, (m0, jnp.asarray(True), jnp.asarray(0, jnp.int32)))
    return m, sweeps


def update_connected(grid: Grid, nodes, previous, permanent=None):
    """The connected set after the nodes changed: continue from ``previous`` when every cell of it
    is still a node, else restart from ``permanent`` (a set known to stay connected whatever the Li
    does, e.g. :func:`host_connected`; default: the collector alone). Returns ``(connected, sweeps)``.
    (From the host's own connected conductor the search only crosses the Li, not the whole host.)"""
    previous = jnp.asarray(previous, bool)
    kept = jnp.all(nodes | ~previous)
    fallback = False if permanent is None else jnp.asarray(permanent, bool) & nodes
    start = jnp.where(kept, previous, fallback)
    return connected_nodes(grid, nodes, start)


def host_connected(grid: Grid, s, k):
    """The host's conductor connected to the collector through the host alone: it stays connected
    whatever Li plates or strips (Li only adds nodes), so a search after Li left a cell can start
    from it."""
    return connected_nodes(grid, conducting_nodes(s, k, jnp.zeros_like(s)))[0]


def attached(grid: Grid, connected):
    """Boolean field: cells whose conductor is at ``V`` (connected, or a face neighbour of a
    connected cell)."""
    connected = jnp.asarray(connected, bool)
    return connected | _any_neighbour(grid, connected)
