"""The metrics a run reports (current uniformity, hot spots, electrode height and volume change,
top growth, pore use, dead Li, SEI loss), each with its unit.

Differentiable (jnp) metrics take the fields and the face currents of a potential solution;
connectivity metrics (dead Li) are numpy/scipy on concrete arrays. Conventions:

* interface statistics are weighted over the interface faces that carry plating
  (``i > 0``) or, while stripping, stripping current, by area times smooth ramps in the current
  and the area (:func:`flux_statistics`): ``flux_cv`` = weighted standard
  deviation / mean of the current density; ``hotspot_ratio`` = max / mean;
  ``hotspot_pnorm`` = (area-weighted mean of i^p)^(1/p) / mean, p = 8, a smooth surrogate for the
  max that gradients can use;
* ``envelope_height`` of a column: the higher of the host slab's top and the height above the
  collector of its highest voxel holding host or Li (a reverse cumulative max of
  ``min(s + theta, 1)`` summed over z, which is exact for crisp voxels and continuous otherwise);
  area-averaged over columns and its max-column variant. Li filling a porous host's pores is not
  swelling: a host cycling inside its pores reads 0 % volume change;
* ``top_growth_fraction``: Li above the host slab (layers >= ``host_top``) / all Li in the
  electrode at the end (plated and infused); ``pore_volume_use``: Li inside the slab (infused Li
  included) / pore volume of the slab (the volume not taken by host);
* ``dead_li_fraction``: Li not attached to the collector, over all Li: a cell's Li is attached
  when the cell, or a cell sharing a face with it, is a conducting node (``s k + theta > 0.05``,
  :data:`hostsim.numerics.connectivity.NODE`) 6-connected through such nodes to the collector
  (the plating step's rule);
* ``sei_loss_mAh_cm2``: ``q_SEI`` x (Li/electrolyte interface area created while plating: its
  growth beyond the plating segment's largest so far, paid out of the plated Li) / projected
  area; q_SEI = 110 C/m² (~20 nm Li2CO3-like film).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from hostsim.electrochemistry.interfaces import smoothstep
from hostsim.numerics.operators import materialized

Q_SEI = 110.0  # C/m² of fresh Li/electrolyte area: ~20 nm Li2CO3-like film
COULOMB_PER_MAH_CM2 = 36000.0  # 1 mAh/cm² = 3.6 C / 1e-4 m²
P_NORM = 8


RESOLVED_FACE = 1e-3  # faces below this share of the largest face area are slivers (see flux_statistics)
CURRENT_RAMP = 0.05  # a face's weight in the flux statistics ramps in over this share of the typical current density


def flux_statistics(face_area, face_current, plating=True):
    """Area-weighted mean [A/m²], coefficient of variation [-], max/mean [-] and p-norm/mean [-]
    of the interfacial current density over the faces carrying current of the given sign.

    Faces with less than ``RESOLVED_FACE`` (1e-3) of the largest face area are left out: such
    slivers (a nearly full pocket's last electrolyte) carry no measurable charge, but their
    potential is barely coupled to anything, so their current *density* can be anything, and one
    sliver alone could set the CV and the hot-spot ratio (docs/electrochemistry.md: measurements
    behind the code).

    The mean, CV and p-norm weight each face smoothly (area x a C¹ ramp in its current density over
    the first ``CURRENT_RAMP`` = 5 % of the surface's typical one, x a ramp in its area from 0.5x to
    1.5x the sliver threshold), so they are continuous wherever the currents are: a bare face whose
    nucleation gate opens enters them gradually (with a hard sign test it entered at full weight
    with a near-zero current, and the design objective jumped; docs/design.md). The max keeps the
    hard tests (a max is not smooth anyway)."""
    # face by face into per-cell sums, stored, then reduced: the six directions are never stacked
    # into one array, and each reduction reads one stored array instead of re-evaluating the faces'
    # expressions from a dozen inputs (XLA's CPU fusion: ~10 % of a plating step; docs/solver.md:
    # measurements behind the code)
    def over_faces(per_face):
        return sum(per_face(a, i) for a, i in zip(face_area, face_current))

    threshold = RESOLVED_FACE * jnp.max(functools.reduce(jnp.maximum, face_area))
    sign = jnp.where(plating, 1.0, -1.0).astype(face_area[0].dtype)  # plating may be traced (one evaluation for either sign)
    # the typical current density of the surface: a face fades in over the first CURRENT_RAMP of it
    typical = jnp.sum(materialized(over_faces(lambda a, i: a * jnp.abs(i)))) / jnp.maximum(
        jnp.sum(materialized(over_faces(lambda a, i: a))), jnp.finfo(face_area[0].dtype).tiny)
    ramp = jnp.maximum(CURRENT_RAMP * typical, jnp.finfo(face_area[0].dtype).tiny)

    def weight(a, i):
        # smooth in the current and the area (no jump when a face's gate opens or a sliver grows):
        # a face counts fully from CURRENT_RAMP of the typical current density and 1.5x the sliver
        # threshold, not at all at or below zero current or 0.5x the threshold
        return a * smoothstep(sign * i / ramp) * smoothstep(a / threshold - 0.5)

    largest = functools.reduce(jnp.maximum, [jnp.where(((sign * i) > 0) & (a > threshold), sign * i, 0.0)
                                             for a, i in zip(face_area, face_current)])
    cell = materialized(jnp.stack([over_faces(weight), over_faces(lambda a, i: weight(a, i) * (sign * i)),
                                   over_faces(lambda a, i: weight(a, i) * jnp.maximum(sign * i, 0.0) ** P_NORM),
                                   largest]))
    tiny = jnp.finfo(face_area[0].dtype).tiny
    # guarded so that gradients stay finite where a statistic has no current to work on (no face
    # carries current of this sign: 0/0; a uniform current: sqrt at 0): 1e-300 underflowed to 0 in
    # float32 and the design loop's gradient of the flux CV was NaN
    total = jnp.maximum(jnp.sum(cell[0]), tiny)
    mean = jnp.sum(cell[1]) / total
    safe_mean = jnp.where(mean > 0, mean, 1.0)
    var = jnp.sum(materialized(over_faces(lambda a, i: weight(a, i) * (sign * i - mean) ** 2))) / total
    imax = jnp.max(cell[3])
    moment = jnp.sum(cell[2]) / total
    pnorm = jnp.where(moment > 0, jnp.where(moment > 0, moment, 1.0) ** (1.0 / P_NORM), 0.0)
    cv = jnp.where(var > 0, jnp.sqrt(jnp.where(var > 0, var, 1.0)), 0.0) / safe_mean
    return mean, cv, imax / safe_mean, pnorm / safe_mean


def active_area_ratio(face_area, face_current, projected_area, threshold: float = 0.1):
    """Interface area carrying more than ``threshold`` x the mean plating current density, per
    projected area [m²/m²]."""
    mean, *_ = flux_statistics(face_area, face_current)
    a = jnp.stack(face_area)
    i = jnp.stack(face_current)
    return jnp.sum(a * (i > threshold * mean)) / projected_area


def envelope_heights(s, theta, voxel_size, collector_layers, host_top=None, top=None):
    """Per-column electrode height above the collector [m] (x, y array): the higher of the host
    slab's top (layers ``collector_layers .. host_top``; a porous host occupies its whole slab, so
    filling its pores is not swelling) and the top of the material in the column (host or Li; a
    reverse cumulative max of ``min(s + theta, 1)`` summed over z, exact for crisp voxels and
    continuous otherwise). ``host_top=None``: no slab (the material's top alone). ``top``: the
    first layer that is not the electrode's (a separator's), None for the box's top."""
    occ = jnp.minimum(s + theta, 1.0)[:, :, collector_layers:top]
    from_top = jnp.flip(jax_cummax(jnp.flip(occ, axis=2), axis=2), axis=2)
    material = voxel_size * jnp.sum(from_top, axis=2)
    if host_top is None:
        return material
    return jnp.maximum(material, voxel_size * max(host_top - collector_layers, 0))


def jax_cummax(x, axis):
    import jax

    return jax.lax.cummax(x, axis=axis)


def li_split(theta, s, collector_layers, host_top):
    """(Li volume fraction sum inside the slab, above the slab) [voxels]."""
    inside = jnp.sum(theta[:, :, collector_layers:host_top])
    above = jnp.sum(theta[:, :, host_top:])
    return inside, above


def li_interface_area(face_area, face_cover):
    """Li/electrolyte interface area [m²]: interface faces weighted by the Li cover of their
    conducting side."""
    return jnp.sum(sum(a * c for a, c in zip(face_area, face_cover)))  # one reduction, not six


def dead_li_fraction(s, k, theta, collector_layers: int = 1, periodic: bool = True) -> float:
    """Li not attached to the collector, over all Li [-].

    The rule of the plating step (:mod:`hostsim.numerics.connectivity`): conducting nodes (``s k + theta``
    above :data:`~hostsim.numerics.connectivity.NODE`) 6-connected to the collector layer are connected;
    Li counts as attached when its cell is connected or shares a face with a connected cell (a thin
    film on the collector or on a connected deposit grew through that face). The step lets exactly
    this Li react, so a fresh plate reads no dead Li (docs/electrochemistry.md: electronic
    connectivity)."""
    from hostsim.numerics.connectivity import attached, conducting_nodes, connected_nodes
    from hostsim.numerics.grid import Grid

    s, k, theta = (np.asarray(x, np.float64) for x in (s, k, theta))
    total = theta.sum()
    if total <= 0:
        return 0.0
    grid = Grid.create(theta.shape, voxel_size=1.0, lateral="periodic" if periodic else "no_flux")
    live = np.asarray(_live_li(grid, jnp.asarray(conducting_nodes(s, k, theta))))
    return float(theta[~live].sum() / total)


@eqx.filter_jit
def _live_li(grid, nodes):
    """Cells whose Li is attached (one compiled program rather than one per operation)."""
    from hostsim.numerics.connectivity import attached, connected_nodes

    return attached(grid, connected_nodes(grid, nodes)[0])
