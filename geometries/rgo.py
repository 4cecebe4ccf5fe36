"""Layered reduced-graphene-oxide host (Lin et al., Nat. Nanotech. 11, 626 (2016)).

Lin et al. "spark" a GO film into a layered rGO film with nanoscale interlayer gaps and infuse
molten Li into the gaps (Li–rGO, 7 wt % rGO; < 20 % dimension change on cycling). Model:
flat rGO sheets parallel to the collector, the first sheet lying on it, stacked with a fixed
pitch (sheet thickness + gap) through the host slab; each sheet is pierced by round holes
(edges/defects open to the electrolyte) and adjacent sheets touch at a few round contacts
(pillars of one sheet thickness in diameter) so that the film conducts through its thickness, as
a real rGO film does. Sheets: conducting (rGO film 1e3–1e5 S/m) and lithiophilic
(molten Li wets sparked rGO, Lin 2016). ``li_infusion`` pre-fills that fraction of the pore
volume of the slab with dense Li, filling the gaps from the collector side up (``dense_infusion``),
so the Li is one body that leaves open pores above it, not a film in every voxel.

Sheets are a few nm thick in reality; a voxel model resolves "sheets" as sheet *stacks* of at
least two voxels. The number of sheets a box can hold is static (bounded by the minimum pitch);
sheets above the slab are cut off, so the sheet positions move smoothly with ``gap_um`` and
``sheet_thickness_um``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ._host import HostFamily, Parameter, continuous, dense_infusion, static
from ._sdf import lateral_images, occupancy, soft_union

_LIN = "Lin et al., Nat. Nanotech. 11, 626 (2016)"


class LayeredRGO(HostFamily):
    name = "layered_rgo"
    title = "layered rGO film (nanoscale gaps, holes, optional pre-infused Li)"
    source = _LIN
    PARAMETERS = (
        Parameter("sheet_thickness_um", "µm", "thickness of one resolved sheet (stack)", low=0),
        Parameter("gap_um", "µm", "interlayer gap", _LIN + ": 'nanoscale' gaps (tens of nm typical, not verified)", low=0),
        Parameter("hole_diameter_um", "µm", "diameter of the holes through each sheet (at least 2 voxels)", low=0),
        Parameter("holes_per_sheet", "-", "holes per sheet (integer; 0 = intact sheets)", low=0, high=1000, low_inclusive=True, high_inclusive=True),
        Parameter("contacts_per_gap", "-", "sheet-to-sheet contacts per gap (integer)", low=0, high=1000, low_inclusive=True, high_inclusive=True),
        Parameter("li_infusion", "-", "fraction of the slab's pore volume pre-filled with Li", _LIN + ": molten-Li infusion", low=0, high=1, low_inclusive=True, high_inclusive=True),
    )

    width_um: float = static(1.6)
    height_um: float = static(1.6)
    thickness_um: float = static(1.0)  # Lin 2016 films are tens of µm; 1 µm keeps the default 64^3
    voxel_size_um: float = static(0.025)
    sheet_thickness_um: float = continuous(0.05)  # resolved sheet stack, 2 voxels (resolution choice)
    gap_um: float = continuous(0.075)  # "nanoscale" interlayer gap (Lin 2016; typical, not verified)
    hole_diameter_um: float = continuous(0.2)  # edges/defects open to the electrolyte (assumption)
    holes_per_sheet: int = static(3)
    contacts_per_gap: int = static(4)
    li_infusion: float = continuous(0.0)  # bare host by default; Lin 2016 infuses to ~93 wt % Li

    def _check(self):
        self._at_least_two_voxels("sheet_thickness_um", self.sheet_thickness_um)
        self._at_least_two_voxels("gap_um", self.gap_um)
        if self.holes_per_sheet:  # a sub-voxel hole only thins the sheet (smooth mode): not a hole
            self._at_least_two_voxels("hole_diameter_um", self.hole_diameter_um)

    @property
    def max_sheets(self) -> int:
        """Sheets the slab can hold at the smallest allowed pitch (2 + 2 voxels)."""
        return int(np.ceil(self.thickness_um / (4 * self.voxel_size_um))) + 1

    def _host(self, centres, h, dtype):
        x, y, z = centres
        um = 1e-6
        rng = np.random.default_rng(self.seed)
        width = self.width_um * um
        images = jnp.asarray(lateral_images(self.lateral == "periodic", (width, width)), dtype)
        bottom, top = self.slab_bounds(h)
        t, gap = self.sheet_thickness_um * um, self.gap_um * um
        pitch = t + gap
        n = self.max_sheets

        def in_plane_distance(points):  # distance in x-y to the nearest of ``points`` (m, 2)
            best = None
            for px, py in points:
                for m in range(images.shape[0]):
                    d2 = (x - px - images[m, 0]) ** 2 + (y - py - images[m, 1]) ** 2
                    best = d2 if best is None else jnp.minimum(best, d2)
            return jnp.sqrt(best + 1e-30)

        # union by soft_union of occupancies (not min of distances): sheets and pillars meet at
        # voxel centres for symmetric pitches, where a min has a kink and its derivative is one-sided
        solid = jnp.zeros(self.host_shape, dtype)
        for j in range(n):
            centre = bottom + 0.5 * t + j * pitch
            d = jnp.abs(z - centre) - 0.5 * t  # sheet slab
            if self.holes_per_sheet:
                holes = rng.uniform(0, width, (self.holes_per_sheet, 2))
                d = jnp.maximum(d, 0.5 * self.hole_diameter_um * um - in_plane_distance(holes))
            solid = soft_union(solid, occupancy(d, h, self.sharp))
            if self.contacts_per_gap and j + 1 < n:
                contacts = rng.uniform(0, width, (self.contacts_per_gap, 2))
                pillar = jnp.maximum(in_plane_distance(contacts) - 0.5 * t, jnp.abs(z - (centre + 0.5 * pitch)) - 0.5 * pitch)
                solid = soft_union(solid, occupancy(pillar, h, self.sharp))
        z_cells = jnp.arange(self.host_shape[2])
        mask = ((z_cells >= self.collector_layers) & (z_cells < self.host_top)).astype(dtype)[None, None, :]
        solid = solid * mask
        theta = dense_infusion(solid, mask, self.li_infusion)
        return solid, 1.0, 1.0, theta
