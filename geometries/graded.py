"""Graded hosts: porosity, conductivity and lithiophilicity varying through the thickness.

These are the designs the inverse loop explores (what decides a host is how
deep the reaction penetrates before the top surface takes it, so lithiophilic, conducting
material at the bottom and insulating/lithiophobic material on top fights top growth; cf. the
"lithiophilic bottom / insulating top" hosts of the 3D-host literature).

The structure is either ``"dealloyed"`` (the bicontinuous random field of
:mod:`geometries.dealloyed`) or ``"fibres"`` (isotropic random fibres, :mod:`geometries.cu_skeleton`);
each voxel layer is thresholded to the local porosity (:mod:`geometries._level`) — for fibres
the threshold is the local fibre radius, so fibres thicken where the host is denser. Profiles
from the collector (``*_bottom``) to the top of the slab (``*_top``):

* ``"linear"``: straight line in the height ``zeta`` in [0, 1] through the slab;
* ``"step"``: a smooth step (logistic, one voxel wide) at ``transition`` (fraction of the
  thickness) — two layers, e.g. a lithiophilic conducting bottom under an insulating top.

``k`` and ``l`` are set per layer; a non-conducting top (``conductivity_top = 0``) is a design
choice, so the report's warning that the conducting phase stops short of the top is expected
there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._fibre_family import FibreFamily
from ._host import Parameter, continuous, static
from ._level import threshold_layers
from ._sdf import segment_distance
from .dealloyed import random_field

_UNIT = dict(low=0, high=1, low_inclusive=True, high_inclusive=True)


class GradedHost(FibreFamily):
    name = "graded"
    title = "graded host: porosity, conductivity and lithiophilicity through the thickness"
    source = "design family (lithiophilic-bottom / insulating-top hosts)"
    PARAMETERS = (
        Parameter("structure", "-", "microstructure", choices=("dealloyed", "fibres")),
        Parameter("feature_size_um", "µm", "ligament size (dealloyed; differentiable) or nominal fibre diameter (fibres: sets "
                  "the fibre count at construction, the layer thresholds set the local diameter; no gradient)", low=0),
        Parameter("porosity_bottom", "-", "porosity at the collector", low=0, high=1),
        Parameter("porosity_top", "-", "porosity at the top of the host", low=0, high=1),
        Parameter("conductivity_bottom", "-", "conducting share k at the collector", **_UNIT),
        Parameter("conductivity_top", "-", "conducting share k at the top", **_UNIT),
        Parameter("lithiophilicity_bottom", "-", "lithiophilicity l at the collector", **_UNIT),
        Parameter("lithiophilicity_top", "-", "lithiophilicity l at the top", **_UNIT),
        Parameter("profile", "-", "shape of every profile", choices=("linear", "step")),
        Parameter("transition", "-", "height of the step as a fraction of the thickness", **_UNIT),
        Parameter("fibre_length_um", "µm", "fibre segment length (fibres structure)", low=0),
    )

    width_um: float = static(8.0)
    height_um: float = static(8.0)
    thickness_um: float = static(5.0)
    voxel_size_um: float = static(0.125)
    structure: str = static("dealloyed")
    feature_size_um: float = continuous(0.6)  # as the dealloyed / skeleton defaults
    porosity_bottom: float = continuous(0.6)  # denser, conducting, lithiophilic bottom (design default)
    porosity_top: float = continuous(0.8)
    conductivity_bottom: float = continuous(1.0)
    conductivity_top: float = continuous(0.0)  # insulating top
    lithiophilicity_bottom: float = continuous(1.0)  # lithiophilic bottom
    lithiophilicity_top: float = continuous(0.0)
    profile: str = static("step")
    transition: float = continuous(0.5)
    fibre_length_um: float = static(3.0)

    @property
    def porosity(self):
        return 0.5 * (self.porosity_bottom + self.porosity_top)

    def outer_diameter_um(self):
        return self.feature_size_um

    def _check(self):
        if self.structure == "fibres":
            super()._check()
        self._at_least_two_voxels("feature_size_um", self.feature_size_um)

    def _derive(self):
        if self.structure == "fibres":
            super()._derive()

    def candidate_count(self, expected: int) -> int:
        """Exactly the Boolean-model count for the mean porosity and the nominal diameter, so the
        per-layer thresholds (the local fibre radii) stay near the nominal radius."""
        return max(int(expected), 1)

    def profile_values(self, bottom, top, dtype):
        """Per-layer values (nz_host,) of a bottom-to-top profile over the slab."""
        z = jnp.arange(self.host_shape[2], dtype=dtype)
        c, n = self.collector_layers, max(self.host_top - self.collector_layers, 1)
        zeta = jnp.clip((z - c + 0.5) / n, 0.0, 1.0)
        if self.profile == "linear":
            w = zeta
        else:
            w = jax.nn.sigmoid((zeta - self.transition) * n * 4.0)  # one voxel wide
        return bottom + (top - bottom) * w

    def _program(self):
        """The plain program (keyed by the seed too): a graded host's fibres are evaluated as a
        distance field over their images, not through :meth:`FibreFamily.network`."""
        return self, None

    def _host(self, centres, h, dtype):
        z = jnp.arange(self.host_shape[2])
        mask = ((z >= self.collector_layers) & (z < self.host_top)).astype(dtype)
        porosity = self.profile_values(self.porosity_bottom, self.porosity_top, dtype)
        if self.structure == "dealloyed":
            ell = random_field(self, self.feature_size_um / (np.pi * np.sqrt(2.0)), h, dtype)
        else:
            a, b, images = self.axes(h)

            def nearest(d, abi):
                return jnp.minimum(d, segment_distance(centres, abi[0], abi[1], abi[2])), None

            ell, _ = jax.lax.scan(nearest, jnp.full(self.host_shape, jnp.inf, dtype),
                                  (jnp.asarray(a, dtype), jnp.asarray(b, dtype), jnp.asarray(images, dtype)))
        solid = threshold_layers(ell, porosity, h, self.sharp) * mask[None, None, :]
        k = self.profile_values(self.conductivity_bottom, self.conductivity_top, dtype)[None, None, :]
        l = self.profile_values(self.lithiophilicity_bottom, self.lithiophilicity_top, dtype)[None, None, :]
        return solid, k, l, 0.0
