"""One grid over several devices: cell fields split along z.

A volume too large for one device is split into slabs of z layers, one per device, and the
unmodified solvers run on it: ``jit`` partitions the 7-point stencil, the multigrid hierarchy,
the PCG dot products and the Newton loop (XLA's SPMD partitioner exchanges the halo layers and
reduces the dot products across devices). Nothing in the operators knows about devices; a
sharded solve gives the unsharded answer to round-off (tests/test_sharding.py).

The mesh's one axis has ``AxisType.Auto`` (``jax.make_mesh`` defaults to Explicit axes, under
which ``jit`` would not partition an unmodified stencil).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec

AXIS = "z"


def z_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh named ``"z"`` over ``devices`` (default: every local device)."""
    devices = list(jax.local_devices() if devices is None else devices)
    return jax.sharding.Mesh(np.array(devices), (AXIS,), axis_types=(AxisType.Auto,))


def cells_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
    """Cell fields ``[x, y, z]`` split along z over ``mesh``'s one axis."""
    return NamedSharding(mesh, PartitionSpec(None, None, mesh.axis_names[0]))


def shard_cells(tree, mesh: jax.sharding.Mesh | None):
    """Every 3-D array in ``tree`` split along z over ``mesh`` (other leaves replicated over it);
    ``mesh=None`` returns ``tree`` as it is."""
    if mesh is None:
        return tree
    split, whole = cells_sharding(mesh), NamedSharding(mesh, PartitionSpec())

    def place(a):
        if not isinstance(a, (jax.Array, np.ndarray, np.generic, float, int)):
            return a
        return jax.device_put(a, split if np.ndim(a) == 3 else whole)

    return jax.tree.map(place, tree)


def member_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh named ``"members"`` over ``devices`` (default: every local device), for batches
    whose leading axis is the member."""
    devices = list(jax.local_devices() if devices is None else devices)
    return jax.sharding.Mesh(np.array(devices), ("members",), axis_types=(AxisType.Auto,))


def shard_members(tree, mesh: jax.sharding.Mesh | None):
    """Every array in ``tree`` split along its leading (member) axis over ``mesh``; ``mesh=None``
    returns ``tree`` as it is. The member count must be a multiple of the device count."""
    if mesh is None:
        return tree
    split = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
    return jax.tree.map(lambda a: jax.device_put(a, split), tree)


__all__ = ["AXIS", "cells_sharding", "member_mesh", "shard_cells", "shard_members", "z_mesh"]
