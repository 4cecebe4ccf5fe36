"""Planar Cu foil: the baseline every 3D host is compared against.

The foil is the current collector and nothing else: ``collector_layers`` voxel layers of Cu at
``z = 0`` and electrolyte above. Bare Cu is lithiophobic (nucleation overpotential of tens of
mV; Yan et al., Nat. Energy 1, 16010 (2016)); ``lithiophilicity`` models a coated foil (e.g. Au
sputtered Cu).
"""

from __future__ import annotations

from ._host import HostFamily, Parameter, continuous, static

_YAN = "Yan et al., Nat. Energy 1, 16010 (2016)"


class PlanarFoil(HostFamily):
    name = "foil"
    title = "planar Cu foil (baseline)"
    source = "baseline; lithiophobic Cu: " + _YAN
    PARAMETERS = (
        Parameter("lithiophilicity", "-", "surface lithiophilicity of the foil (0 bare Cu, 1 Au-coated)", _YAN,
                  low=0, high=1, low_inclusive=True, high_inclusive=True),
    )

    width_um: float = static(8.0)
    height_um: float = static(8.0)
    thickness_um: float = static(0.0)  # no host above the collector
    voxel_size_um: float = static(0.125)
    lithiophilicity: float = continuous(0.0)  # bare Cu (Yan 2016)

    def collector_lithiophilicity(self):
        return self.lithiophilicity

    def _host(self, centres, h, dtype):
        return 0.0, 0.0, 0.0, 0.0
