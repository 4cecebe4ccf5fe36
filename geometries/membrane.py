"""A 2-D interlayer (h-BN or graphene) over the Cu collector, open only at its defects (Yan et al.,
Nano Lett. 14, 6016 (2014)).

Yan et al. grow h-BN or graphene directly on Cu; Li+ passes through the layer's point and line
defects, and Li plates between the layer and the Cu ("sandwiched"), lifting the layer. Model:

* the layer is one voxel layer, ``gap_um`` above the collector (whole voxels, at least one: the
  thinnest space the voxel model can hold electrolyte and Li in). The slab is the gap plus the
  layer (``thickness_um`` follows from ``gap_um``). The layer is rigid: it is not lifted by the Li
  beneath it, so once the gap is full, Li can only grow out through the defects;
* the layer is solid (``s = 1``, no electrolyte, so no ion path) except at round defects covering
  ``defect_fraction`` of its area. A defect's open area fraction is
  ``sigmoid((a - rho²)/c) - sigmoid((-a - rho²)/c)`` of the squared in-plane distance ``rho²``
  from its centre, with ``a = area / pi`` and ``c = (h/2) sqrt(a + h²)``: its integral over the
  plane is exactly the defect's area for every size, so a defect smaller than a voxel is a partial
  open fraction with the right area, and the edge has the slope of the other families' occupancy
  for defects much larger than a voxel;
* the defect count is set at construction: ``n = ceil(defect_fraction x area / (pi d² / 4))``
  defects of diameter ``d`` placed without overlap (random sequential placement at a centre
  spacing of ``d`` plus one voxel), the last one taking the remaining area, so the open area
  meets ``defect_fraction`` exactly and is differentiable in it (d(open area)/d(fraction) is the
  box area; d(open area)/d(diameter) = 0: a larger defect at a fixed fraction means fewer of them,
  as the fibre families' count). The positions are static (from ``seed``);
* h-BN is an insulator: the layer takes no reaction (``k = 0``) and is lithiophobic (``l = 0``).
  A graphene layer conducts, but over the gap it is not 6-connected to the collector, so in this
  model it would float and take no reaction either; both are this family.

Crisp voxels (``sharp``): a voxel of the layer is open where the defects' open fraction exceeds 1/2.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hostsim import InputError

from ._checks import check
from ._host import HostFamily, Parameter, continuous, static

_YAN14 = "Yan et al., Nano Lett. 14, 6016 (2014)"


def place_defects(rng, count: int, spacing: float, width: float, periodic: bool, misses: int = 4000):
    """Centres (count, 2) [same unit as ``width``] at least ``spacing`` apart (random sequential
    placement; without periodic sides, half a spacing from the walls, so no defect is cut); None
    when ``misses`` draws in a row find no room (the layer is jammed)."""
    placed = np.zeros((count, 2))
    n = missed = 0
    margin = 0.0 if periodic else 0.5 * spacing
    while n < count and missed < misses:
        p = rng.uniform(margin, width - margin, 2)
        delta = placed[:n] - p
        if periodic:
            delta -= width * np.round(delta / width)
        if n and np.min(np.sum(delta * delta, axis=1)) < spacing * spacing:
            missed += 1
            continue
        placed[n], n, missed = p, n + 1, 0
    return placed if n == count else None


def disc_open_fraction(rho2, area, h):
    """Open fraction of a smooth disc of ``area`` [m²] at squared distance ``rho2`` [m²] from its
    centre; its integral over the plane is ``area`` exactly."""
    a = area / math.pi
    c = 0.5 * h * jnp.sqrt(a + h * h)
    return jax.nn.sigmoid((a - rho2) / c) - jax.nn.sigmoid((-a - rho2) / c)


class DefectiveMembrane(HostFamily):
    name = "membrane"
    title = "2-D interlayer (h-BN) over Cu, open only at its defects"
    source = _YAN14
    PARAMETERS = (
        Parameter("defect_fraction", "-", "open (defect) area fraction of the layer",
                  _YAN14 + ": Li+ passes point and line defects (no fraction stated; 0.05 assumed)",
                  low=0, high=0.5, low_inclusive=True, high_inclusive=True),
        Parameter("defect_diameter_um", "µm", "diameter of a defect (may be smaller than a voxel)",
                  _YAN14 + ": atomic-scale defects, far below a voxel (0.1 µm assumed: a cluster)", low=0),
        Parameter("gap_um", "µm", "electrolyte gap between the collector and the layer (whole voxels, at least one)",
                  _YAN14 + ": the layer is grown on the Cu (no gap); one voxel is the thinnest the model holds", low=0),
    )

    # 64^3 default at 50 nm voxels; the slab is the gap plus the one-voxel layer
    width_um: float = static(3.2)
    height_um: float = static(3.2)
    thickness_um: float = static(0.0)  # set from gap_um (gap + one voxel); giving another value is an error
    voxel_size_um: float = static(0.05)
    defect_fraction: float = continuous(0.05)  # assumption (Yan 2014 gives no fraction)
    defect_diameter_um: float = continuous(0.1)  # assumption: 2 voxels, a cluster of atomic defects
    gap_um: float = static(0.05)  # one voxel (Yan 2014: no gap; the model needs one voxel)
    defects: tuple = static(())  # defect centres drawn at construction, [µm]

    def _check(self):
        h = self.voxel_size_um
        cells = self.gap_um / h
        if abs(cells - round(cells)) > 1e-6 * max(1.0, cells) or round(cells) < 1:
            raise InputError(f"{self.name}: gap_um = {self.gap_um:g} µm must be a whole number (at least 1) of voxels of {h:g} µm")
        slab = self.gap_um + h
        if self.thickness_um and abs(self.thickness_um - slab) > 1e-9:
            raise InputError(f"{self.name}: thickness_um is gap_um + one voxel ({slab:g} µm); leave it out or give {slab:g}")
        if (self.collector_layers + 1) * h + slab > self.height_um + 1e-9:
            raise InputError(f"{self.name}: height_um ({self.height_um:g} µm) leaves no electrolyte above the layer "
                             f"(collector, gap and layer take {self.collector_layers * h + slab:g} µm)")
        d = float(np.asarray(self.defect_diameter_um))
        if d > 0.25 * self.width_um:
            raise InputError(f"{self.name}: defect_diameter_um ({d:g}) exceeds width_um / 4 ({0.25 * self.width_um:g} µm)")

    def _derive(self):
        h = self.voxel_size_um
        object.__setattr__(self, "thickness_um", self.gap_um + h)
        if self.defects:
            return
        fraction, d = (float(np.asarray(v)) for v in (self.defect_fraction, self.defect_diameter_um))
        count = self.defect_count(fraction, d)
        centres = place_defects(np.random.default_rng(self.seed), count, d + h, self.width_um, self.lateral == "periodic")
        if centres is None:
            raise InputError(f"{self.name}: {count} defects of {d:g} µm do not fit {d + h:g} µm apart in a "
                             f"{self.width_um:g} µm box; lower defect_fraction or defect_diameter_um")
        object.__setattr__(self, "defects", tuple(tuple(float(v) for v in p) for p in centres))

    def defect_count(self, fraction: float, diameter: float) -> int:
        """Defects needed for ``fraction`` of the box at ``diameter`` (the last one partial)."""
        if fraction <= 0:
            return 0
        return max(1, math.ceil(fraction * self.width_um**2 / (0.25 * math.pi * diameter**2) - 1e-9))

    def defect_areas(self, dtype) -> jax.Array:
        """Area [m²] of each defect: full discs, the last one taking what the fraction leaves."""
        um = 1e-6
        n = len(self.defects)
        full = 0.25 * math.pi * (self.defect_diameter_um * um) ** 2
        last = self.defect_fraction * (self.width_um * um) ** 2 - (n - 1) * full
        last = check(last, last < 0, "the last defect's area went negative (the count was set at construction); rebuild the family")
        return jnp.concatenate([jnp.full((n - 1,), full, dtype), jnp.reshape(last, (1,)).astype(dtype)])

    def open_fraction(self, x, y, h, dtype) -> jax.Array:
        """Open (defect) fraction (nx, ny) of the layer at the cell centres ``x`` (nx, 1), ``y`` (1, ny) [m]."""
        if not self.defects:
            return jnp.zeros((x.shape[0], y.shape[1]), dtype)
        um, width = 1e-6, self.width_um * 1e-6
        centres = jnp.asarray(np.asarray(self.defects) * um, dtype)
        dx = x[None] - centres[:, 0, None, None]
        dy = y[None] - centres[:, 1, None, None]
        if self.lateral == "periodic":  # nearest image (a defect is narrower than half the box)
            dx, dy = dx - width * jnp.round(dx / width), dy - width * jnp.round(dy / width)
        areas = self.defect_areas(dtype)[:, None, None]
        total = jnp.sum(disc_open_fraction(dx * dx + dy * dy, areas, h), axis=0)
        if self.sharp:
            return (total > 0.5).astype(dtype)
        return jnp.minimum(total, 1.0)

    def _host(self, centres, h, dtype):
        x, y, _ = centres
        layer = (jnp.arange(self.host_shape[2]) == self.host_top - 1)[None, None, :]
        open_ = self.open_fraction(x[:, :, 0], y[:, :, 0], h, dtype)
        return jnp.where(layer, 1.0 - open_[:, :, None], 0.0), 0.0, 0.0, 0.0
