"""The conductor's connection to the collector as a differentiable design term: the virtual
temperature (the conductor must percolate to the collector).

Floating metal carries no current (only conductor 6-connected to the collector is at the
electrode potential), yet a density-based design can leave islands: counting connected
voxels (:func:`inverse.constraints.connected_host_fraction`) says so, but has no gradient. The
virtual-temperature method (Liu, Li, Chen & Chen 2015, Comput.-Aided Des. 69, 65, for enclosed
voids; Li, Chen, Liu & Tong 2016, Struct. Multidiscip. Optim. 54, 971, for connected solids)
turns connectivity into one linear solve: the conductor generates heat, the collector is the
only heat sink, and the electrolyte barely conducts heat, so

    -div(kappa grad T) = c,        T = 0 on the collector's outer face, no flux elsewhere,
    c = s k (the conducting share of a cell),   kappa = KAPPA_FLOOR + (1 - KAPPA_FLOOR) c.

Metal connected to the collector sheds its heat through metal and stays cool; an island must
pass its heat through electrolyte at ``KAPPA_FLOOR`` and runs ~1/KAPPA_FLOOR hotter. ``T`` is
scaled by a straight conductor column's top temperature, ``H²/2`` with ``H`` the height of the
host's top above that face, so ``T_hat = 1`` at the top of any column of uniform ``c`` (the
source and the conductivity scale together: a grey design is not penalised for being grey, only
for being cut off). The design term is the conductor-weighted p-norm

    virtual_temperature = (sum c T_hat^P / sum c)^(1/P),   P = 8 (a smooth maximum).

Measured (``tests/test_virtual_temperature.py``, float32): a 4x4x10-voxel block standing on the
collector reads 0.58; the same block one electrolyte layer above it, 339. Minimised alone, it
reconnects a floating block of a free-form design in 15 Adam steps (and would then pile the metal
onto the collector: it is a constraint, not a goal).
In a study, ``[constraints] virtual_temperature_max = b`` keeps it at most ``b`` times the start
design's value (the generic ``<term>_max`` constraint of :mod:`inverse.lagrangian`).

One multigrid-PCG solve with the implicit adjoint of :func:`hostsim.linear_solve`: one more solve
in the gradient, next to a plating transient's hundreds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hostsim import Dirichlet, Grid, Neumann, PCG, assemble, linear_solve

# electrolyte's share of the metal's heat conductivity: an island then runs ~1e3 x hotter than
# connected metal (Li et al. 2016 use 1e-3 to 1e-4 for the void); the multigrid-PCG solve keeps
# converging in a few iterations at this contrast (measured in the tests)
KAPPA_FLOOR = 1e-4
P_NORM = 8  # the p-norm's exponent: within ~30 % of the hottest conductor cell for a few hot cells


def virtual_temperature_field(grid: Grid, s, k, host_top: int, solver: PCG = PCG(rtol=1e-6)):
    """The scaled virtual temperature ``T_hat`` per cell (see the module docstring) and the
    solve's stats. ``host_top``: the first layer above the host (the scale's height)."""
    conducting = grid.as_field(s) * grid.as_field(k)
    kappa = KAPPA_FLOOR + (1.0 - KAPPA_FLOOR) * conducting
    op, rhs = assemble(grid, kappa, Dirichlet(0.0), Neumann(0.0), source=conducting)
    temperature, stats = linear_solve(op, rhs, solver, throw=False)
    height = host_top * grid.voxel_size
    return temperature / (0.5 * height * height), stats


def virtual_temperature(grid: Grid, s, k, collector_layers: int, host_top: int, solver: PCG = PCG(rtol=1e-6)):
    """The p-norm of ``T_hat`` over the conductor above the collector [-] (weights ``s k``; the
    collector itself, always connected, would only dilute it): below ~1 for a conductor connected
    to the collector, hundreds with an island; 0 without conductor above the collector.
    Differentiable in ``s`` and ``k``."""
    t_hat, _ = virtual_temperature_field(grid, s, k, host_top, solver)
    above = (jnp.arange(grid.shape[2]) >= collector_layers).astype(t_hat.dtype)[None, None, :]
    weight = grid.as_field(s) * grid.as_field(k) * above
    total = jnp.sum(weight)
    # scaled by the (stopped) hottest cell before the power: an island's T_hat^8 would overflow float32
    scale = jax.lax.stop_gradient(jnp.maximum(jnp.max(jnp.abs(t_hat) * (weight > 0)), 1e-30))
    mean = jnp.sum(weight * (t_hat / scale) ** P_NORM) / jnp.where(total > 0, total, 1.0)
    safe = jnp.where(total > 0, mean, 1.0)  # no conductor: 0, with a finite (zero) gradient
    return jnp.where(total > 0, scale * safe ** (1.0 / P_NORM), 0.0)


__all__ = ["KAPPA_FLOOR", "P_NORM", "virtual_temperature", "virtual_temperature_field"]
