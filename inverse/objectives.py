"""Design objectives (differentiable scalars of a design field)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hostsim import PCG, Grid, effective_diffusivity_ratio


def tortuosity_objective(grid: Grid, conductivity: jax.Array, solver: PCG = PCG()) -> jax.Array:
    """Tortuosity factor ``mean(k) / (D_eff/D)`` of a continuous relative conductivity field.

    With ``k`` in [0, 1] the mean of ``k`` plays the role of the porosity in TauFactor's
    ``tau = eps D / D_eff``. ``k`` must be positive everywhere (no floating clusters); keep a
    floor (e.g. ``k >= 1e-6``): at exactly ``k = 0`` a cell is decoupled and the derivative with
    respect to it is finite but wrong (docs/solver.md).
    """
    return jnp.mean(conductivity) / effective_diffusivity_ratio(grid, conductivity, solver=solver)
