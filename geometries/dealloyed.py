"""Dealloyed porous Cu (Yun et al., Adv. Mater. 28, 6932 (2016)).

Yun et al. leach Zn out of a commercial Cu–Zn alloy tape, leaving a bicontinuous network of Cu
ligaments and pores. Model: a periodic Gaussian random field (seeded white noise, Gaussian
filter of standard deviation ``sigma``) cut layer by layer at the requested porosity
(:mod:`geometries._level`). ``ligament_size_um`` is the mean chord length of the solid at 50 %
porosity: by Rice's formula a level cut at the median of a field with correlation
``exp(-r^2 / 4 sigma^2)`` has mean chord ``pi sqrt(2) sigma``, so ``sigma = ligament /
(pi sqrt 2)``. Cu: conducting, lithiophobic (Yan et al., Nat. Energy 1, 16010 (2016)).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ._host import HostFamily, Parameter, continuous, static
from ._level import gaussian_random_field, threshold_layers

_YUN = "Yun et al., Adv. Mater. 28, 6932 (2016)"


def layer_mask(family, dtype):
    z = jnp.arange(family.host_shape[2])
    return ((z >= family.collector_layers) & (z < family.host_top)).astype(dtype)


def random_field(family, correlation_um, h, dtype):
    rng = np.random.default_rng(family.seed)
    noise = jnp.asarray(rng.standard_normal(family.host_shape), dtype)
    return gaussian_random_field(noise, correlation_um * 1e-6, h)


class DealloyedCu(HostFamily):
    name = "dealloyed_cu"
    title = "dealloyed porous Cu (bicontinuous)"
    source = _YUN
    PARAMETERS = (
        Parameter("porosity", "-", "pore volume fraction, met in every voxel layer", low=0, high=1),
        Parameter("ligament_size_um", "µm", "mean chord length of the Cu ligaments", _YUN + ": sub-µm ligaments (0.5 µm typical, not verified)", low=0),
    )

    width_um: float = static(8.0)
    height_um: float = static(8.0)
    thickness_um: float = static(5.0)  # Yun 2016 tapes are tens of µm; 5 µm keeps the default 64^3
    voxel_size_um: float = static(0.125)
    porosity: float = continuous(0.5)  # dealloyed Cu-Zn, roughly the Zn content removed (typical, not verified)
    ligament_size_um: float = continuous(0.6)  # sub-µm ligaments (Yun 2016; typical, not verified)

    def _check(self):
        self._at_least_two_voxels("ligament_size_um", self.ligament_size_um)

    def _host(self, centres, h, dtype):
        ell = random_field(self, self.ligament_size_um / (np.pi * np.sqrt(2.0)), h, dtype)
        mask = layer_mask(self, dtype)
        solid = threshold_layers(ell, jnp.broadcast_to(self.porosity, mask.shape).astype(dtype), h, self.sharp)
        return solid * mask[None, None, :], 1.0, 0.0, 0.0
