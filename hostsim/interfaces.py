"""Face-based electrode/electrolyte interfaces (SPEC 4, "reaction placement").

Every face between a cell holding electrolyte and a neighbouring cell holding electronically
conducting solid is an interface of area ``h²`` weighted smoothly by the fractions on its two
sides: ``A = h² eps_p c_q`` with ``eps_p = 1 - s_p - theta_p`` the electrolyte fraction of the
electrolyte-side cell ``p`` and ``c_q = min(s_q k_q + theta_q, 1)`` the conducting fraction of
the neighbour ``q``. The face current consumes salt and charge from ``p`` and deposits Li into
``p``, so a filled cell becomes solid and the front moves into its neighbours.

Consequences of the smooth weights: a partially filled voxel (``theta`` between 0 and 1) both
holds electrolyte and conducts, so it carries interfaces on both sides of it (a diffuse front one
voxel wide); everything is differentiable in ``s, k, theta``. Faces across the periodic lateral
wrap count; faces on the outer boundary of the grid do not (the collector is part of the grid).

Arrays returned here are per *cell* (summed over the cell's six faces), in m², plus the same
split per direction when needed for renders.
"""

from __future__ import annotations

import jax.numpy as jnp

from .grid import Grid
from .operators import shift


def conducting_fraction(s, k, theta):
    """Electronically conducting volume fraction of a cell: host ``s k`` plus Li ``theta`` (<= 1)."""
    return jnp.minimum(s * k + theta, 1.0)


def interface_area(grid: Grid, s, k, theta):
    """Interface area [m²] owned by each electrolyte-side cell: ``sum_faces h² eps_p c_q``."""
    eps = jnp.clip(1.0 - s - theta, 0.0, 1.0)
    cond = conducting_fraction(s, k, theta)
    h2 = grid.voxel_size**2
    total = jnp.zeros_like(eps)
    periodic = grid.periodic
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            total = total + shift(cond, offset, axis, periodic[axis])
    return h2 * eps * total
