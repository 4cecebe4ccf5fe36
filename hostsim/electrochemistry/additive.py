"""The electrostatic shield of an electrolyte additive cation (Cs+, Rb+).

Ding et al. (J. Am. Chem. Soc. 135, 4450 (2013)) add a cation M+ whose *effective* reduction
potential, at its low concentration, lies below Li's. It is then not reduced; instead it gathers
where the field is strongest, at the tips of the growing Li, and its positive layer repels the
next Li+ to the flatter surface around them. Its reduction potential follows Nernst with the
activity taken as the concentration in mol/L:

    E_M = E°_M + (RT/F) ln(c_M / 1 M)        E°(Cs+) = −3.026 V, E°(Rb+) = −2.980 V vs SHE

and Li's the same at the electrolyte's Li+ concentration (E°(Li+) = −3.040 V; at 1 M: −3.040 V).
Only ``E_M < E_Li`` shields: Cs+ at 0.05 M (−3.103 V) does, Rb+ at 0.1 M (−3.039 V) would be
reduced and does not.

**The coverage law is an assumption, not a measurement.** Where the additive shields, a fraction
``theta_M`` of the Li surface is blocked for plating where the field is strongest: at the tips,
whose electrolyte potential stands above the plating surface's mean (current flows down the
electrolyte potential into the electrode, so the cells nearest the reservoir sit highest):

    theta_M = theta_max * ramp((phi_e − <phi_e>) / w),     theta_max = c_M / (c_M + c_half)

with ``ramp`` the C¹ smoothstep on [0, 1] and ``<phi_e>`` the mean over the cells that plate. The
field is taken from the last solved state (:func:`coverage_field`) and held through the next
solve, as the SEI proxy's reference area is: a coverage that followed the electrode potential
inside the solve would feed on itself (a covered surface needs more overpotential, which covers
more) until the whole surface sat at ``theta_max``. Consequences: a flat front is not covered at
all, the shield only moves current from tips to valleys; the first solve of a plating segment is
unshielded. The constants (``w`` 3 mV; ``c_half`` 0.05 M, Ding et al.'s best Cs+ concentration
put at half coverage) are chosen to give the direction Ding et al. report, not fitted to any data;
the Li kinetics are multiplied by ``1 − theta_M``, on Li only and only while plating. A steeper
law overshoots: on a 22 µm Li pillar at 5 mA/cm² (2 µm cells) ``w`` = 1 mV covered the tip by 22 %
and moved the hot spot to the pillar's sides (flux CV 0.006 -> 0.049), 3 mV lowered the hot-spot
ratio 1.0150 -> 1.0054 (CV 0.0038), 10 mV to 1.0122.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from hostsim.electrochemistry.constants import FARADAY, GAS_CONSTANT, TEMPERATURE
from hostsim.electrochemistry.interfaces import smoothstep  # the gate's C¹ ramp

# standard reduction potentials vs SHE [V] (Ding et al. 2013, quoting the CRC Handbook)
STANDARD_POTENTIALS_V = {"cs": -3.026, "rb": -2.980}
LI_STANDARD_POTENTIAL_V = -3.040
MOLAR = 1000.0  # [mol/m³] in 1 mol/L: the standard state of the Nernst activities


def nernst_potential(standard_V: float, concentration, temperature: float = TEMPERATURE):
    """``E° + (RT/F) ln(c / 1 M)`` [V vs SHE], ``concentration`` in mol/m³."""
    return standard_V + GAS_CONSTANT * temperature / FARADAY * jnp.log(concentration / MOLAR)


class AdditiveShield(eqx.Module):
    """An additive cation at ``concentration`` [mol/m³] in an electrolyte of Li+ at
    ``li_concentration`` [mol/m³]; the coverage law's constants are the module docstring's
    assumptions, ``coverage`` the field of ``theta_M`` per cell held through a solve (None:
    nothing covered)."""

    cation: str = eqx.field(static=True, default="cs")
    concentration: float = 50.0  # [mol/m³] 0.05 M: Ding et al.'s best Cs+ concentration
    li_concentration: float = 1000.0  # [mol/m³] the electrolyte's Li+ (1 M LiPF6 in Ding et al.)
    temperature: float = TEMPERATURE  # [K]
    coverage_width: float = 0.003  # [V] assumption: full coverage 3 mV above the mean electrolyte potential
    half_coverage_concentration: float = 50.0  # [mol/m³] assumption: c_M at which theta_max = 1/2
    coverage: jax.Array | None = None  # theta_M per cell [-] (coverage_field)

    def reduction_potential(self):
        """The cation's effective reduction potential E_M [V vs SHE]."""
        return nernst_potential(STANDARD_POTENTIALS_V[self.cation], self.concentration, self.temperature)

    def li_potential(self):
        """Li's reduction potential at the electrolyte's Li+ concentration [V vs SHE]."""
        return nernst_potential(LI_STANDARD_POTENTIAL_V, self.li_concentration, self.temperature)

    def active(self):
        """Whether the cation stays unreduced and shields (``E_M < E_Li``)."""
        return self.reduction_potential() < self.li_potential()

    def coverage_field(self, phi, plating):
        """``theta_M`` per cell [-] from the electrolyte potential ``phi`` [V] of a solved state and
        the cells that plate there (0 elsewhere, and everywhere while the additive is reduced)."""
        count = jnp.sum(plating)
        mean = jnp.sum(jnp.where(plating, phi, 0.0)) / jnp.maximum(count, 1)
        top = self.concentration / (self.concentration + self.half_coverage_concentration)
        theta = top * smoothstep((phi - mean) / self.coverage_width)
        return jnp.where(plating & self.active(), theta, 0.0)

    def covering(self, phi, plating) -> "AdditiveShield":
        """The shield holding the coverage of that state (:meth:`coverage_field`)."""
        return eqx.tree_at(lambda s: s.coverage, self, self.coverage_field(phi, plating), is_leaf=lambda x: x is None)

    def blocked(self, eta):
        """``theta_M`` where plating (``eta < 0``), 0 while stripping or with no coverage held."""
        if self.coverage is None:
            return jnp.zeros_like(eta)
        return jnp.where(eta < 0, self.coverage, 0.0)


__all__ = ["AdditiveShield", "LI_STANDARD_POTENTIAL_V", "STANDARD_POTENTIALS_V", "nernst_potential"]
