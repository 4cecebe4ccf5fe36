"""A separator: a porous layer in the top of the electrolyte gap, homogenised.

The separator fills the top ``thickness`` of the box (whole voxel layers, at least one), under
the reservoir or counter electrode. Its polymer is solid and insulating; its pores hold
electrolyte that conducts ions and salt, but Li metal does not grow into them (the host's
``li_excluded``, :mod:`hostsim.electrochemistry.interfaces`): Li that reaches the separator
stops, and the run ends there ("Li reached the separator": penetration).

Homogenised transport (the pores are far below a voxel): the storage of a separator voxel is its
porosity ``eps``, its salt diffusivity and its ionic and diffusional conductivities are the free
electrolyte's times ``eps / tau`` (``tau``: the tortuosity). Polar groups (oxidised PAN,
polydopamine) bind Li+: a Langmuir isotherm ``q = Gamma K c / (1 + K c)`` [mol per m³ of
separator] adds ``dq/dc`` to the salt storage (Liang et al., Nano Lett. 15, 2910 (2015); Ryou et
al., Adv. Mater. 24, 5597 (2012)), evaluated at the step's starting concentration. Consequence: a
separator over the whole gap multiplies Sand's time by ``(eps / tau) (eps + Gamma K)`` (``eps² /
tau`` without binding), since Sand's time goes as the storage times the conductance of the
depleting layer.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from hostsim.numerics.grid import Grid

# microporous polyolefin separators: porosity ~40 % (Arora & Zhang, Chem. Rev. 104, 4419 (2004)); a
# tortuosity of 2.5 puts the MacMullin number tau / eps at 6.25, inside the 4-20 of commercial separators
# (Arora & Zhang; Karlsson et al., rhd instruments application note on MacMullin numbers, 2023)
DEFAULT_POROSITY = 0.4
DEFAULT_TORTUOSITY = 2.5


class Separator(eqx.Module):
    """A separator layer of ``thickness`` [m] with ``porosity`` [-] and ``tortuosity`` [-] (>= 1);
    ``binding_capacity`` Gamma [mol/m³ of separator] and ``binding_affinity`` K [m³/mol] of a
    Langmuir Li+ binding (0: none)."""

    thickness: float
    porosity: float = DEFAULT_POROSITY
    tortuosity: float = DEFAULT_TORTUOSITY
    binding_capacity: float = 0.0
    binding_affinity: float = 0.0

    def layers(self, grid: Grid) -> int:
        """The separator's voxel layers (the top of the box; at least one)."""
        return max(1, int(round(self.thickness / grid.voxel_size)))

    def mask(self, grid: Grid):
        """Boolean field: the separator's voxels."""
        nz = grid.shape[2]
        return jnp.broadcast_to((jnp.arange(nz) >= nz - self.layers(grid))[None, None, :], grid.shape)

    def transport_factor(self, grid: Grid):
        """``1 / tau`` in the separator, 1 elsewhere: the factor on a voxel's eps-weighted diffusivity
        and conductivities."""
        return jnp.where(self.mask(grid), 1.0 / self.tortuosity, 1.0).astype(grid.dtype)

    def binding_storage(self, grid: Grid, concentration):
        """``dq/dc = Gamma K / (1 + K c)²`` in the separator [-], 0 elsewhere."""
        gamma, k = self.binding_capacity, self.binding_affinity
        slope = gamma * k / (1.0 + k * jnp.maximum(concentration, 0.0)) ** 2
        return jnp.where(self.mask(grid), slope, 0.0)

    def bound_salt(self, grid: Grid, concentration):
        """``q`` per cell [mol/m³]: the Li+ salt bound to the separator (0 elsewhere)."""
        gamma, k = self.binding_capacity, self.binding_affinity
        c = jnp.maximum(concentration, 0.0)
        return jnp.where(self.mask(grid), gamma * k * c / (1.0 + k * c), 0.0)

    def overlay(self, grid: Grid, s, k, l, theta, li_excluded=None) -> tuple:
        """The host fields with the separator in its layers: polymer ``s = 1 - eps`` (insulating,
        lithiophobic, no Li) whose pores take no Li metal. Returns ``(s, k, l, theta, li_excluded)``."""
        inside = self.mask(grid)
        excluded = jnp.zeros_like(s) if li_excluded is None else li_excluded
        return (jnp.where(inside, 1.0 - self.porosity, s).astype(s.dtype), jnp.where(inside, 0.0, k).astype(s.dtype),
                jnp.where(inside, 0.0, l).astype(s.dtype), jnp.where(inside, 0.0, theta).astype(s.dtype),
                jnp.where(inside, self.porosity, excluded).astype(s.dtype))
