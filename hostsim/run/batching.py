"""How a run maps its hosts onto compiled programs and devices: one host, members together, or
members split over devices.

A run of :func:`hostsim.run.protocol.run_protocol` takes one of these objects (as lineax takes a
solver): the chunk driver never asks which one it has.

* :class:`OneHost` — one host; with a ``mesh`` its cells are split along z over the mesh's
  devices (a host too large for one device; the same result to round-off).
* :class:`MembersTogether` — several hosts of one grid, stacked on a leading member axis, run as
  one ``vmap``-ped program in which each member takes its own adaptive steps.
* :class:`MembersSharded` — the same, the member axis split over a mesh's devices
  (``shard_map``: each device runs its own members and its own loops).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec

from hostsim.numerics.sharding import shard_cells, shard_members


class AbstractBatching(eqx.Module):
    """The contract: how many members a run has, where their arrays live and how one chunk's
    function becomes the run's program."""

    @abc.abstractmethod
    def count(self, s) -> int:
        """The number of members in the host field ``s``."""

    @abc.abstractmethod
    def stack(self, trees: list):
        """The members' pytrees (one per member) as the run's one pytree."""

    @abc.abstractmethod
    def member(self, tree, j: int):
        """Member ``j``'s part of the run's pytree ``tree``."""

    @abc.abstractmethod
    def place(self, tree):
        """``tree`` on the run's devices."""

    @abc.abstractmethod
    def program(self, run_chunk):
        """The run's chunk program from ``run_chunk(carry, host, drive)`` of one member."""

    @abc.abstractmethod
    def start(self, start_one, state):
        """The integrator's carry at a segment's start, from ``start_one(state)`` of one member."""

    @property
    @abc.abstractmethod
    def stacked(self) -> bool:
        """Whether the run's arrays carry a leading member axis (a checkpoint records it)."""

    @property
    def storable(self) -> bool:
        """Whether the compiled chunk may be kept in the program store (a program split over
        devices is tied to the device count, so it is not)."""
        return True


class OneHost(AbstractBatching):
    """One host; ``mesh`` (a 1-D mesh, :func:`hostsim.numerics.sharding.z_mesh`) splits its cells
    along z over the mesh's devices."""

    mesh: object = eqx.field(static=True, default=None)

    def count(self, s) -> int:
        return 1

    def stack(self, trees: list):
        (tree,) = trees
        return tree

    def member(self, tree, j: int):
        return tree

    def place(self, tree):
        return shard_cells(tree, self.mesh)

    def program(self, run_chunk):
        return jax.jit(run_chunk)

    def start(self, start_one, state):
        return start_one(state)

    @property
    def stacked(self) -> bool:
        return False

    @property
    def storable(self) -> bool:
        return self.mesh is None


class MembersTogether(AbstractBatching):
    """Members of one grid stacked on a leading axis, run as one ``vmap``-ped program."""

    def count(self, s) -> int:
        return int(jnp.shape(s)[0])

    def stack(self, trees: list):
        return jax.tree.map(lambda *a: jnp.stack(a), *trees)

    def member(self, tree, j: int):
        return jax.tree.map(lambda a: a[j], tree)

    def place(self, tree):
        return tree

    def program(self, run_chunk):
        return jax.jit(jax.vmap(run_chunk, in_axes=(0, 0, None)))

    def start(self, start_one, state):
        return self.place(jax.vmap(start_one)(state))

    @property
    def stacked(self) -> bool:
        return True


class MembersSharded(MembersTogether):
    """Members together, the member axis split over ``mesh``'s devices (a 1-D mesh,
    :func:`hostsim.numerics.sharding.member_mesh`; the member count a multiple of its size)."""

    mesh: object = eqx.field(static=True, default=None)

    def place(self, tree):
        return shard_members(tree, self.mesh)

    def program(self, run_chunk):
        spec = PartitionSpec(self.mesh.axis_names[0])
        each = jax.shard_map(jax.vmap(run_chunk, in_axes=(0, 0, None)), mesh=self.mesh,
                             in_specs=(spec, spec, PartitionSpec()), out_specs=spec, check_vma=False)
        return jax.jit(each)

    @property
    def storable(self) -> bool:
        return False


def members_batching(mesh=None) -> AbstractBatching:
    """Members together, split over ``mesh`` when one is given."""
    return MembersTogether() if mesh is None else MembersSharded(mesh)


__all__ = ["AbstractBatching", "MembersSharded", "MembersTogether", "OneHost", "members_batching"]
