"""3D Cu current collector with a submicron skeleton (Yang et al., Nat. Commun. 6, 8058 (2015)).

Yang et al. reduce Cu(OH)2 fibres grown on Cu foil into a continuous network of submicron Cu
fibres that is itself the current collector. Model: random straight Cu fibres, isotropic in
orientation, centred uniformly in the host slab, on a Cu collector layer; the fibre count is set
so the slab porosity is exactly the requested one (:mod:`geometries._fibres`). Every fibre is
conducting (Cu, 5.96e7 S/m) and lithiophobic (bare Cu, tens of mV nucleation overpotential; Yan
et al., Nat. Energy 1, 16010 (2016)). Fibres are not sintered to each other: conducting-phase
connectivity comes from overlaps, and the report says how much of the Cu reaches the collector.
"""

from __future__ import annotations

import jax.numpy as jnp

from ._fibre_family import FIBRE_PARAMETERS, FibreFamily
from ._host import Parameter, continuous, static

_YANG = "Yang et al., Nat. Commun. 6, 8058 (2015)"


class CuSkeleton(FibreFamily):
    name = "cu_skeleton"
    title = "3D Cu current collector, submicron fibre skeleton"
    source = _YANG
    PARAMETERS = FIBRE_PARAMETERS + (
        Parameter("fibre_diameter_um", "µm", "Cu fibre diameter", _YANG + ": 'submicron' fibres; 0.5 µm typical of its SEM (not verified against the SI)", low=0),
    )

    # Yang 2015 reports a ~10 µm thick skeleton; the default box is 5 µm thick so the default
    # grid stays 64^3 at 0.125 µm voxels (4 voxels across a fibre). Set thickness_um for the real one.
    width_um: float = static(8.0)
    height_um: float = static(8.0)
    thickness_um: float = static(5.0)
    voxel_size_um: float = static(0.125)
    porosity: float = continuous(0.8)  # high-porosity skeleton (Yang 2015; value typical, not verified)
    fibre_diameter_um: float = continuous(0.5)  # "submicron" Cu fibres (Yang 2015)
    fibre_length_um: float = static(3.0)

    def _check(self):
        super()._check()
        self._at_least_two_voxels("fibre_diameter_um", self.fibre_diameter_um)

    def outer_diameter_um(self):
        return self.fibre_diameter_um

    def _host(self, centres, h, dtype, drawn):
        solid, _ = self.network(drawn, h, dtype, 0.5e-6 * self.fibre_diameter_um)
        return solid, 1.0, 0.0, 0.0
