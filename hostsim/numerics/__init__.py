"""Numerics: the voxel grid, the finite-volume operator, the multigrid-preconditioned solver, Newton
and graph connectivity. Nothing here knows about electrochemistry.

* :mod:`~hostsim.numerics.grid` — :class:`Grid` (shape, voxel size, lateral boundary, through-plane axis);
* :mod:`~hostsim.numerics.operators` — matrix-free 7-point FV diffusion operators, boundary conditions;
* :mod:`~hostsim.numerics.multigrid` — geometric multigrid preconditioner (and Jacobi / identity);
* :mod:`~hostsim.numerics.linsolve` — PCG with an implicit adjoint (``jax.lax.custom_linear_solve``);
* :mod:`~hostsim.numerics.newton` — adaptive inexact Newton with an implicit derivative;
* :mod:`~hostsim.numerics.percolation` — 6-connected clusters spanning an axis;
* :mod:`~hostsim.numerics.connectivity` — conductor connected to the collector, updated incrementally;
* :mod:`~hostsim.numerics.sharding` — one grid split along z over several devices.
"""
