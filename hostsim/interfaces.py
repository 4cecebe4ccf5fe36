"""Face-based electrode/electrolyte interfaces (SPEC 4, "reaction placement").

Every face between a cell holding electrolyte and a neighbouring cell holding electronically
conducting solid is an interface of area ``h²`` weighted by the fractions on its two sides:
``A = h² max(eps_p c_q - eps_q c_p, 0)`` with ``eps = 1 - s - theta`` the electrolyte fraction
and ``c = min(s k + theta, 1)`` the conducting fraction; the face belongs to the cell ``p`` on
its electrolyte side. The *net* weight matters: with the plain product ``eps_p c_q`` two equally
half-filled neighbours (a planar Li front crossing a voxel layer) would see each other as
interfaces, doubling the area of the front (measured: the plating overpotential of a foil fell
from ~25 to ~5 mV as the first Li layer filled). The face current consumes salt and charge from ``p`` and deposits Li into
``p``, so a filled cell becomes solid and the front moves into its neighbours.

Consequences: a partially filled voxel (``theta`` between 0 and 1) both holds electrolyte and
conducts, so the front is one voxel wide and splits its area between the faces below and above
it; the weight is continuous and piecewise smooth in ``s, k, theta`` (a kink where a face's net
weight crosses zero). Faces across the periodic lateral
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
            q_cond = shift(cond, offset, axis, periodic[axis])
            q_eps = shift(eps, offset, axis, periodic[axis])
            total = total + jnp.maximum(eps * q_cond - q_eps * cond, 0.0)
    return h2 * total
