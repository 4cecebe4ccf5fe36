"""Face-based electrode/electrolyte interfaces: where the reaction is placed.

Every face between a cell holding electrolyte and a neighbouring cell holding electronically
conducting solid is an interface; its current consumes salt and charge from the electrolyte-side
cell ``p`` and deposits Li into ``p``, so a filled cell becomes solid and the front moves into
its neighbours. The face's area is ``h²`` times a weight built from the fractions on its two
sides, smooth in the host fractions ``s, k`` (so they can be differentiated):

* the electrolyte side offers ``a_p = m_p H(1 - f_p)``, with ``m = 1 - s - x`` the volume Li
  can fill (``x``: open volume that passes ions but takes no Li, a mesoporous shell's; 0 unless a
  family sets it) and ``f = theta / m`` its Li fill — an empty cell offers its whole free volume
  (``a = eps``, linear in ``s``); a cell offers no face once it is full, and a cell Li cannot
  enter offers none at all (a reacting face deposits Li into its electrolyte-side cell);
* the conducting side presents ``w_q = s_q k_q + m_q G(f_q)``: conducting host counts
  linearly; Li counts once its cell is nearly full;
* ``H(x) = smoothstep((x - 0.01) / delta)`` and ``G(f) = 1 - H(1 - f)``, ``delta = 0.1``
  (a cell counts as full at 99 % fill; without that offset the last per mille of electrolyte in
  nearly full cells stayed reactive, and these buried pockets carried current densities several
  times the mean on a flat foil; docs/electrochemistry.md: interfaces): a partition of
  unity, so for a planar front ``a_p w_q`` of the face below the filling cell plus that of the
  face above it is exactly ``h²`` at every fill — the front is one voxel wide and keeps its area;
* a sealed pocket (its neighbours offer < 0.05 electrolyte in all, ``x`` counted: :func:`ion_access`)
  offers nothing: without an ionic path it cannot react;
* the net weight ``max(a_p w_q - a_q w_p, 0)`` is used, so two equally filled neighbours (a front
  crossing a layer) are not interfaces of each other.

Why not the plain product ``eps_p (s_q k_q + theta_q)``: a partly filled cell then exposes its Li
to the cell above before it is full, and Li spreads into a porous, many-voxel-deep layer on a flat
foil instead of a dense film (docs/electrochemistry.md: measurements behind the code); a front-sharp
rule gives 1, 1, ..., partial.

Faces across the periodic lateral wrap count; faces on the outer boundary of the grid do not
(the collector is part of the grid).
"""

from __future__ import annotations

import jax.numpy as jnp

from hostsim.numerics.grid import Grid
from hostsim.numerics.operators import cotangent_stored, materialized, shift_stored

FRONT_WIDTH = 0.1  # delta: the last 10 % of a cell's fill hands its face over to the next cell
FULL = 0.01  # a cell counts as full at 99 % fill: its last 1 % of electrolyte is cut off (trapped)


def smoothstep(x):
    """C¹ cubic step: 0 for x <= 0, 3x² - 2x³ on [0, 1], 1 for x >= 1 (the ramps of the face
    weights, the nucleation gate and the geometry's closures alike)."""
    x = jnp.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def conducting_fraction(s, k, theta):
    """Electronically conducting volume fraction of a cell: host ``s k`` plus Li ``theta`` (<= 1)."""
    return jnp.minimum(s * k + theta, 1.0)


def li_room(s, excluded=None):
    """The volume fraction of a cell that Li metal can fill, ``m = 1 - s - x`` [-]: its open
    volume less ``x``, the open volume that passes ions and salt but takes no Li metal (the
    mesopores of a carbon shell: ``excluded``, None for none)."""
    return 1.0 - s if excluded is None else jnp.maximum(1.0 - s - excluded, 0.0)


def li_fill(s, theta, excluded=None):
    """Li fill of the volume a cell's Li can fill, ``theta / m`` in [0, 1] (:func:`li_room`)."""
    free = jnp.maximum(li_room(s, excluded), 1e-12)
    return jnp.clip(theta / free, 0.0, 1.0)


def offered_electrolyte(s, theta, excluded=None):
    """``a = m H(1 - f)``: the electrolyte side's share of a face. A reacting face deposits Li
    into this cell, so only the volume Li can fill offers it (:func:`li_room`)."""
    return li_room(s, excluded) * smoothstep((1.0 - li_fill(s, theta, excluded) - FULL) / FRONT_WIDTH)


def presented_conductor(s, k, theta, excluded=None):
    """``w = s k + m G(f)``: the conducting side's share of a face."""
    free = li_room(s, excluded)
    return jnp.minimum(s * k + free * (1.0 - smoothstep((1.0 - li_fill(s, theta, excluded) - FULL) / FRONT_WIDTH)), 1.0)


def neighbours(grid: Grid, field):
    """The field at the six face neighbours (axes of length 1 skipped), in a fixed order."""
    out = []
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            out.append(shift_stored(field, offset, axis, grid.periodic[axis]))
    return out


SEALED = 0.05  # a cell whose neighbours offer less than this much electrolyte in all is a sealed pocket


def ion_access(grid: Grid, a):
    """``smoothstep(sum of the neighbours' offered electrolyte / SEALED)`` in [0, 1]: 0 for a pocket
    of electrolyte sealed on all six sides by Li or host. Such a pocket has no ionic path, so it
    takes no part in the reaction (without this factor such a pocket drew current, Newton did not
    converge and its salt went far negative; docs/electrochemistry.md: measurements behind the code)."""
    return smoothstep(sum(neighbours(grid, a)) / SEALED)


def stripping_conductor(s, k, theta):
    """``w = s k + theta``: the conducting side's share while stripping. A partly filled cell's Li
    meets the electrolyte of the cell above it whatever its fill, so it can strip through that
    face; with the plating share (Li counts from ~90 % fill) a cell that stripped below 90 % cut
    the Li above it off the reaction and left it stranded (docs/electrochemistry.md: stripping)."""
    return jnp.minimum(s * k + theta, 1.0)


def face_areas(grid: Grid, s, k, theta, attached=None, stripping=False, excluded=None):
    """Interface area [m²] of each face direction, owned by the electrolyte-side cell.

    ``attached`` (boolean field, optional): cells whose conductor is at the electrode potential
    (:func:`hostsim.numerics.connectivity.attached`); the conductor of other cells floats and presents no
    face. ``stripping`` (bool, may be traced): use :func:`stripping_conductor` for the
    conducting side. ``excluded``: open volume that passes ions but takes no Li (:func:`li_room`):
    it offers no face, but it is an ionic path (a cavity behind a mesoporous shell is not sealed)."""
    a = offered_electrolyte(s, theta, excluded)
    a = a * ion_access(grid, a if excluded is None else a + excluded)
    w = jnp.where(stripping, stripping_conductor(s, k, theta), presented_conductor(s, k, theta, excluded))
    if attached is not None:
        w = jnp.where(attached, w, 0.0)
    # both reach s, k and theta and are read at seven offsets: their cotangents are formed once, and
    # their values are stored before the faces read them (else each face direction recomputes them,
    # the sealed-pocket test's own six neighbours included, at both of its cells)
    a, w = cotangent_stored(materialized(a)), cotangent_stored(materialized(w))
    h2 = grid.voxel_size**2
    return [h2 * _rounded_ramp(a * wq - aq * w) for wq, aq in zip(neighbours(grid, w), neighbours(grid, a))]


FACE_CORNER = 1e-3  # [-]: the net face weight's corner at 0 is rounded over this width (see _rounded_ramp)


def _rounded_ramp(x, width=FACE_CORNER):
    """``max(x, 0)`` with its corner rounded over ``[0, width]`` (``width (2u² - u³)``, ``u = x /
    width``: C¹, exact from ``width`` on). Two identical neighbour cells tie at ``x = 0``, where the
    derivative of ``max`` is whichever side round-off puts them on (on a layered-rGO host, opposite
    signs in float32 and float64 at every sheet edge). Rounded, a tie's derivative is ``4 x /
    width``: small only while ``width`` is far above float32's round-off of ``x`` (~1e-7 between
    cells that differ only by round-off), hence 1e-3 and not 1e-5 (docs/solver.md: float32
    round-off). Only faces whose net weight is below ``width`` (areas below 1e-3 h²) change, each by
    less than 0.15 ``width`` h²; every other face is exactly as before."""
    u = x / width
    return jnp.where(x >= width, x, jnp.where(x > 0, width * u * u * (2.0 - u), 0.0))


def interface_area(grid: Grid, s, k, theta, attached=None, stripping=False, excluded=None):
    """Interface area [m²] owned by each electrolyte-side cell (sum over its faces)."""
    return sum(face_areas(grid, s, k, theta, attached, stripping, excluded))
