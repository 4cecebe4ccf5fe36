"""Cu nanowire network (Lu et al., Nano Lett. 16, 4431 (2016)).

Lu et al. stack Cu nanowires into a free-standing porous film that serves as the current
collector. Model: random straight Cu wires lying in the film plane (azimuth uniform, tilted at
most ``max_tilt_deg`` out of plane, as filtration-stacked wires are), centred uniformly in the
slab, count set by the porosity. Conducting and lithiophobic (bare Cu; Yan et al., Nat. Energy
1, 16010 (2016)). Real wires are tens of µm long, longer than any affordable box: their length
is capped to fit the periodic box, which makes them behave as box-spanning wires.
"""

from __future__ import annotations

from ._fibre_family import FIBRE_PARAMETERS, FibreFamily
from ._host import Parameter, continuous, static

_LU = "Lu et al., Nano Lett. 16, 4431 (2016)"


class CuNanowires(FibreFamily):
    name = "cu_nanowires"
    title = "Cu nanowire network (stacked in-plane wires)"
    source = _LU
    PARAMETERS = FIBRE_PARAMETERS + (
        Parameter("wire_diameter_um", "µm", "nanowire diameter", _LU + ": ~50-100 nm wires (value typical, not verified against the SI)", low=0),
        Parameter("max_tilt_deg", "deg", "largest out-of-plane tilt of a wire", low=0, high=90, low_inclusive=True, high_inclusive=True),
    )

    # 64^3 default at 25 nm voxels (4 voxels across a 100 nm wire); Lu 2016 films are ~20 µm
    # thick, far beyond a default box: set thickness_um (and a coarser voxel) for the real one.
    width_um: float = static(1.6)
    height_um: float = static(1.6)
    thickness_um: float = static(1.0)
    voxel_size_um: float = static(0.025)
    porosity: float = continuous(0.8)  # porous nanowire film (Lu 2016; typical, not verified)
    wire_diameter_um: float = continuous(0.1)  # 50-100 nm Cu nanowires (Lu 2016)
    fibre_length_um: float = static(20.0)  # tens of µm (Lu 2016); capped to the box
    max_tilt_deg: float = static(15.0)  # filtration-stacked wires lie nearly flat (assumption)

    @property
    def tilt_deg(self):
        return self.max_tilt_deg

    def _check(self):
        super()._check()
        self._at_least_two_voxels("wire_diameter_um", self.wire_diameter_um)

    def outer_diameter_um(self):
        return self.wire_diameter_um

    def _host(self, centres, h, dtype, drawn):
        solid, _ = self.network(drawn, h, dtype, 0.5e-6 * self.wire_diameter_um)
        return solid, 1.0, 0.0, 0.0
