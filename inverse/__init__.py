"""Inverse design of hosts (depends on geometries and hostsim).

Starts small: :func:`tortuosity_objective`, a differentiable design objective (the through-plane
tortuosity factor of a continuous conductivity field) that the optax loop of a later issue
will minimise; its gradient is exact (implicit adjoint through the multigrid-PCG solve).
"""

from .objectives import tortuosity_objective

__all__ = ["tortuosity_objective"]
