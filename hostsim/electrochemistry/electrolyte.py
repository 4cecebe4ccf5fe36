"""Electrolyte parameter sets, constant-property and concentration-dependent.

An :class:`Electrolyte` gives, at a salt concentration ``c`` [mol/m³], the salt diffusivity
``D`` [m²/s], the cation transference number ``t+`` [-], the ionic conductivity ``kappa``
[S/m] and the thermodynamic factor ``1 + dln f/dln c`` [-]; from them the diffusional
conductivity ``kappa_D = (2 R T kappa / F)(1 - t+)(TDF)`` [A/m].

Two kinds:

* ``model="constant"``: the values at ``c0`` (the defaults of the table below);
* ``model="valoen_reimers"``: the correlations of Valøen & Reimers, J. Electrochem. Soc. 152,
  A882 (2005) for LiPF6 in PC/EC/DMC (c in mol/L inside the formulas, T in K):

  - ``kappa = c (-10.5 + 0.0740 T - 6.96e-5 T² + 0.668 c - 0.0178 c T + 2.80e-5 c T²
    + 0.494 c² - 8.86e-4 c² T)²`` [mS/cm] (their eq. for the conductivity);
  - ``D = 10^(-4.43 - 54 / (T - 229 - 5.0 c) - 0.22 c)`` [cm²/s];
  - ``TDF = (0.601 - 0.24 c^½ + 0.982 (1 - 0.0052 (T - 294)) c^1.5) / (1 - t+)``, t+ = 0.38.

  At 1 M, 25 °C these give 1.19 S/m, 3.22e-10 m²/s and 2.13 — the constant set's values.

Every property is clipped at a small positive concentration (``c_floor``) so that a depleting
electrode gives finite values; depletion itself is detected by the simulation, not hidden here.

Overrides: ``get_electrolyte("lp30", diffusivity=3e-10)`` replaces a constant; a concentration
-dependent model takes the override as a constant for that property.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp

from hostsim.electrochemistry.constants import FARADAY, GAS_CONSTANT, TEMPERATURE
from hostsim.errors import InputError


class Electrolyte(eqx.Module):
    """A binary electrolyte (SI units)."""

    name: str = eqx.field(static=True)
    concentration: float  # c0, initial/bulk salt concentration [mol/m³]
    diffusivity_value: float  # D at c0 [m²/s]
    transference: float  # t+ [-]
    conductivity_value: float  # kappa at c0 [S/m]
    thermodynamic_factor_value: float  # 1 + dln f/dln c at c0 [-]
    temperature: float = TEMPERATURE  # [K]
    model: str = eqx.field(static=True, default="constant")
    source: str = eqx.field(static=True, default="")
    overridden: tuple = eqx.field(static=True, default=())
    c_floor: float = eqx.field(static=True, default=1e-3)  # [mol/m³]

    def _uses_correlation(self, prop: str) -> bool:
        return self.model == "valoen_reimers" and prop not in self.overridden

    def diffusivity(self, c):
        """Salt diffusivity D(c) [m²/s]."""
        if not self._uses_correlation("diffusivity"):
            return jnp.full_like(jnp.asarray(c) * 1.0, self.diffusivity_value)
        m = jnp.maximum(jnp.asarray(c), self.c_floor) / 1000.0
        return 1e-4 * 10.0 ** (-4.43 - 54.0 / (self.temperature - 229.0 - 5.0 * m) - 0.22 * m)

    def conductivity(self, c):
        """Ionic conductivity kappa(c) [S/m]."""
        if not self._uses_correlation("conductivity"):
            return jnp.full_like(jnp.asarray(c) * 1.0, self.conductivity_value)
        m = jnp.maximum(jnp.asarray(c), self.c_floor) / 1000.0
        t = self.temperature
        inner = (-10.5 + 0.0740 * t - 6.96e-5 * t**2 + 0.668 * m - 0.0178 * m * t + 2.80e-5 * m * t**2
                 + 0.494 * m**2 - 8.86e-4 * m**2 * t)
        return 0.1 * m * inner**2  # mS/cm -> S/m

    def thermodynamic_factor(self, c):
        """1 + dln f±/dln c [-]."""
        if not self._uses_correlation("thermodynamic_factor"):
            return jnp.full_like(jnp.asarray(c) * 1.0, self.thermodynamic_factor_value)
        m = jnp.maximum(jnp.asarray(c), self.c_floor) / 1000.0
        return (0.601 - 0.24 * jnp.sqrt(m) + 0.982 * (1.0 - 0.0052 * (self.temperature - 294.0)) * m**1.5) / (1.0 - 0.38)

    def diffusional_conductivity(self, c):
        """kappa_D = (2 R T kappa / F)(1 - t+)(TDF) [A/m]: the current driven by grad ln c."""
        rt_f = GAS_CONSTANT * self.temperature / FARADAY
        return 2.0 * rt_f * self.conductivity(c) * (1.0 - self.transference) * self.thermodynamic_factor(c)

    def describe(self) -> dict:
        """Values at c0 with units (for summaries)."""
        c0 = self.concentration
        return {
            "name": self.name, "model": self.model, "source": self.source,
            "c0_mol_m3": float(c0), "D_m2_s": float(self.diffusivity(c0)), "t_plus": float(self.transference),
            "kappa_S_m": float(self.conductivity(c0)), "thermodynamic_factor": float(self.thermodynamic_factor(c0)),
            "temperature_K": float(self.temperature), "overridden": list(self.overridden),
        }


_VR = "Valøen & Reimers, J. Electrochem. Soc. 152, A882 (2005)"
_LG = "Landesfeind & Gasteiger, J. Electrochem. Soc. 166, A3079 (2019)"
_QIAN = "Qian et al., Nat. Commun. 6, 6362 (2015)"

# Parameter sets. Values marked "typical" are typical ranges, not read from one paper.
ELECTROLYTES: dict[str, dict] = {
    "lp30": dict(name="lp30", concentration=1000.0, diffusivity_value=3.22e-10, transference=0.38,
                 conductivity_value=1.19, thermodynamic_factor_value=2.13, model="constant",
                 source=f"1 M LiPF6 in PC/EC/DMC, constants at 1 M, 25 °C: {_VR}"),
    "lp30_vr": dict(name="lp30_vr", concentration=1000.0, diffusivity_value=3.22e-10, transference=0.38,
                    conductivity_value=1.19, thermodynamic_factor_value=2.13, model="valoen_reimers",
                    source=f"1 M LiPF6 in PC/EC/DMC, concentration-dependent correlations: {_VR}"),
    "lp57": dict(name="lp57", concentration=1000.0, diffusivity_value=2.89e-10, transference=0.22,
                 conductivity_value=0.91, thermodynamic_factor_value=2.18, model="constant",
                 source=f"1 M LiPF6 in EC/EMC 3:7, constants at 1 M, 25 °C: {_LG}"),
    "dol_dme": dict(name="dol_dme", concentration=1000.0, diffusivity_value=3.0e-10, transference=0.45,
                    conductivity_value=1.1, thermodynamic_factor_value=1.0, model="constant",
                    source="1 M LiTFSI in DOL/DME (+LiNO3): typical values (D ~3e-10, t+ 0.4-0.5, "
                           "kappa ~1.1 S/m, TDF 1); not verified against a single paper"),
    "lifsi_dme_4m": dict(name="lifsi_dme_4m", concentration=4000.0, diffusivity_value=1.0e-10, transference=0.5,
                         conductivity_value=0.45, thermodynamic_factor_value=1.0, model="constant",
                         source=f"4 M LiFSI in DME ({_QIAN}); D, t+, kappa are order-of-magnitude placeholders "
                                "for a concentrated, viscous electrolyte (not verified): override them"),
    "spec_oracle": dict(name="spec_oracle", concentration=1000.0, diffusivity_value=3.0e-10, transference=0.38,
                        conductivity_value=1.0, thermodynamic_factor_value=1.0, model="constant",
                        source="round-number set of the analytical test cases (D 3e-10, c0 1000, t+ 0.38, kappa 1, TDF 1)"),
}

_OVERRIDABLE = {"concentration": "concentration", "c0": "concentration", "diffusivity": "diffusivity_value",
                "transference": "transference", "t_plus": "transference", "conductivity": "conductivity_value",
                "thermodynamic_factor": "thermodynamic_factor_value", "temperature": "temperature"}
_PROPERTY = {"diffusivity_value": "diffusivity", "conductivity_value": "conductivity",
             "thermodynamic_factor_value": "thermodynamic_factor"}


def get_electrolyte(name: str = "lp30", **overrides) -> Electrolyte:
    """A parameter set by name, with optional overrides (SI units); checks every value."""
    if name not in ELECTROLYTES:
        raise InputError(f"electrolyte: unknown set {name!r}; known: {', '.join(ELECTROLYTES)}")
    values = {"temperature": TEMPERATURE, **ELECTROLYTES[name]}
    overridden = []
    for key, value in overrides.items():
        if key not in _OVERRIDABLE:
            raise InputError(f"electrolyte: unknown property {key!r}; allowed: {', '.join(sorted(_OVERRIDABLE))}")
        field = _OVERRIDABLE[key]
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"electrolyte: {key} must be a number; got {value!r}") from None
        values[field] = value
        if field in _PROPERTY:
            overridden.append(_PROPERTY[field])
    checks = [("concentration", 0, None), ("diffusivity_value", 0, None), ("conductivity_value", 0, None),
              ("thermodynamic_factor_value", 0, None), ("temperature", 0, None)]
    for field, low, _ in checks:
        if not values[field] > low:
            raise InputError(f"electrolyte {name}: {field.removesuffix('_value')} must be > 0; got {values[field]}")
    if not 0.0 <= values["transference"] < 1.0:
        raise InputError(f"electrolyte {name}: transference (t+) must be in [0, 1); got {values['transference']}")
    return Electrolyte(overridden=tuple(overridden), **values)


__all__ = ["ELECTROLYTES", "Electrolyte", "get_electrolyte"]
