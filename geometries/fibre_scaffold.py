"""Lithiophilic-coated fibre scaffold (Liu et al., Nat. Commun. 7, 10992 (2016); Liang et al.,
PNAS 113, 2862 (2016)).

Liu et al. coat an electrospun polyimide (PI) fibre mat with ZnO (ALD) so molten Li wets and
infuses it; Liang et al. coat carbon fibres with Si for the same purpose. Model: random
straight fibres lying in the mat plane (tilt at most ``max_tilt_deg``), count set by the
porosity of the coated fibres; each fibre is a core of ``fibre_diameter_um`` and a shell of
``coating_thickness_um``.

* core ``"polyimide"``: insulating (k = 0); core ``"carbon"``: conducting (~5e4 S/m);
* coating ``"zno"`` or ``"si"``: lithiated to Li–Zn / Li–Si on first contact with Li, so
  conducting and lithiophilic (l = 1; Liang 2016, Liu 2016); ``"none"``: bare fibres (carbon and
  PI are lithiophobic, l = 0).

Choice: the conducting/lithiophilic shell is given at least one voxel of thickness in the
``k``/``l`` split (``s`` keeps the true outer radius), so a coating thinner than a voxel —
ALD ZnO is tens of nm — still forms a 6-connected conducting skin instead of vanishing in
crisp voxels. ``li_infusion`` pre-fills that fraction of the pore volume with dense Li, from the collector side
up (``dense_infusion``): one body of Li under open pores, as molten Li wicks in.
"""

from __future__ import annotations

import jax.numpy as jnp

from ._fibre_family import FIBRE_PARAMETERS, FibreFamily
from ._host import Parameter, continuous, dense_infusion, static

_LIU = "Liu et al., Nat. Commun. 7, 10992 (2016)"
_LIANG = "Liang et al., PNAS 113, 2862 (2016)"
_CORES = {"polyimide": 0.0, "carbon": 1.0}  # conducting share: PI insulating, carbon ~5e4 S/m
_COATINGS = {"zno": (1.0, 1.0), "si": (1.0, 1.0), "none": (None, 0.0)}  # (k, l) of the lithiated shell


class CoatedFibreScaffold(FibreFamily):
    name = "fibre_scaffold"
    title = "fibre scaffold (PI or carbon) with ZnO/Si lithiophilic coating"
    source = f"{_LIU}; {_LIANG}"
    PARAMETERS = FIBRE_PARAMETERS + (
        Parameter("fibre_diameter_um", "µm", "core fibre diameter", _LIU + ": electrospun PI fibres, sub-µm (typical, not verified)", low=0),
        Parameter("coating_thickness_um", "µm", "lithiophilic shell thickness", _LIU + ": ALD ZnO, tens of nm (typical, not verified)", low=0, low_inclusive=True),
        Parameter("core", "-", "fibre material", choices=tuple(_CORES)),
        Parameter("coating", "-", "coating material", choices=tuple(_COATINGS)),
        Parameter("max_tilt_deg", "deg", "largest out-of-plane tilt of a fibre", low=0, high=90, low_inclusive=True, high_inclusive=True),
        Parameter("li_infusion", "-", "fraction of the slab's pore volume pre-filled with Li", _LIU + "; " + _LIANG + ": molten-Li infusion", low=0, high=1, low_inclusive=True, high_inclusive=True),
    )

    width_um: float = static(6.4)
    height_um: float = static(6.4)
    thickness_um: float = static(4.0)  # mats are ~100 µm; 4 µm keeps the default 64^3
    voxel_size_um: float = static(0.1)
    porosity: float = continuous(0.8)  # fibre mat before infusion (Liu 2016; typical, not verified)
    fibre_diameter_um: float = continuous(0.5)  # electrospun PI (Liu 2016; typical, not verified)
    coating_thickness_um: float = continuous(0.03)  # ALD ZnO, tens of nm (Liu 2016; typical, not verified)
    core: str = static("polyimide")
    coating: str = static("zno")
    fibre_length_um: float = static(20.0)  # electrospun fibres are long; capped to the box
    max_tilt_deg: float = static(10.0)  # mats are nearly planar (assumption)
    li_infusion: float = continuous(0.0)

    @property
    def tilt_deg(self):
        return self.max_tilt_deg

    def _check(self):
        super()._check()
        self._at_least_two_voxels("fibre_diameter_um", self.fibre_diameter_um)

    def outer_diameter_um(self):
        return self.fibre_diameter_um + 2 * self.coating_thickness_um

    def _host(self, centres, h, dtype, drawn):
        outer_r = 0.5e-6 * self.outer_diameter_um()
        k_core = _CORES[self.core]
        k_shell, l_shell = _COATINGS[self.coating]
        if k_shell is None:  # bare fibre: one material
            solid, _ = self.network(drawn, h, dtype, outer_r)
            k, l = k_core, l_shell
        else:
            inner_r = jnp.maximum(outer_r - jnp.maximum(self.coating_thickness_um * 1e-6, h), 0.0)
            solid, core = self.network(drawn, h, dtype, outer_r, inner_r)
            shell = jnp.clip(solid - core, 0.0, 1.0)
            share = shell / jnp.maximum(solid, 1e-6)
            k = share * k_shell + (1.0 - share) * k_core
            l = jnp.where(solid > 1e-6, l_shell, 0.0) + 0.0 * share
        theta = dense_infusion(solid, self.region(dtype), self.li_infusion)
        return solid, k, l, theta
