"""Butler–Volmer kinetics of Li/Li+ with a smooth nucleation barrier.

Sign convention: the interfacial current density ``i`` [A/m²] is positive while plating
(reduction, Li+ + e- -> Li), and the overpotential is ``eta = V - phi_e - U`` with U = 0 vs
Li/Li+, so plating needs ``eta < 0``:

    i = i0 (c / c_ref)^alpha_a [exp(-alpha_c F eta / RT) - exp(alpha_a F eta / RT)]

Nucleation (Yan et al., Nat. Energy 1, 16010 (2016)): on a bare lithiophobic surface Li plates
only once ``-eta`` exceeds the nucleation overpotential ``eta_n(l) = (1 - l) eta_n,bare +
l eta_n,philic``; a Li-covered surface has no barrier. The gate multiplies the plating branch of
Butler–Volmer (``eta < 0``; stripping is never gated, the current is zero at ``eta = 0``):

    host(eta)  = 1 - m(eta_n) (1 - ramp((-eta - eta_n) / w + 1/2)),   m(eta_n) = ramp(eta_n / w)
    gate       = cover + (1 - cover) host

with ``ramp`` the C¹ cubic smoothstep on [0, 1] and ``w`` = 5 mV. So

* a zero barrier is no gate: ``m(0) = 0`` and a lithiophilic face (Au, ZnO, Si: eta_n ~ 0)
  carries exactly the Li face's current at every overpotential (the earlier gate
  ``sigmoid((-eta - eta_n) / w)`` was 1/2 there: a lithiophilic Cu face had twice the
  charge-transfer resistance of Li, the opposite of Yan et al.; docs/electrochemistry.md: kinetics);
* a barrier of at least ``w`` is a threshold: no current at all below ``eta_n - w/2``, the full
  Butler–Volmer current from ``eta_n + w/2`` on. At 10 µA/cm² (where Yan et al. measured the
  barrier) bare Cu with eta_n = 30 mV starts plating at ~27.8 mV — the voltage dip of a
  galvanostatic run (the sigmoid's exponential tail passed 10 µA/cm² at 11.2 mV);
* barriers between 0 and ``w`` gate partly (``m`` between 0 and 1), so the gate is C¹ in the
  overpotential and in ``l``: it can be differentiated for design.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp

from hostsim.electrochemistry.constants import FARADAY, GAS_CONSTANT, TEMPERATURE
from hostsim.electrochemistry.interfaces import smoothstep

if TYPE_CHECKING:  # annotations only: the kinetics hold these, the additive and coating modules import no kinetics
    from hostsim.electrochemistry.additive import AdditiveShield
    from hostsim.electrochemistry.coating import Films


def _is(value, constant) -> bool:
    """``value`` is a Python number equal to ``constant`` (known while tracing; a traced or array
    parameter, e.g. one swept under ``vmap``, takes the general expression). The kinetics of the
    potential solve are evaluated several times per cell and plating step, and the transcendental
    functions were most of their cost: a square root and one shared exponential make the reaction's
    evaluation ~25 % cheaper, the same currents to round-off (docs/electrochemistry.md: kinetics)."""
    return isinstance(value, (int, float)) and isinstance(constant, (int, float)) and value == constant


@jax.custom_jvp
def _exponential_pair(x):
    """``(exp(-x), exp(x))`` from one exponential. Its derivative is written from the pair itself
    (the quotient rule on ``1 / exp(x)`` would square ``exp(x)`` and overflow float32 at |x| > 44,
    twice as early as ``exp(-x)``), so derivatives of every order stay as finite as ``exp``'s."""
    forth = jnp.exp(x)
    return 1.0 / forth, forth


@_exponential_pair.defjvp
def _exponential_pair_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    back, forth = _exponential_pair(x)
    return (back, forth), (-back * dx, forth * dx)


class Kinetics(eqx.Module):
    """Li metal kinetics (SI units)."""

    exchange_current_density: float = 10.0  # i0 [A/m²] = 1 mA/cm² (literature 0.1-10 mA/cm²)
    alpha_a: float = 0.5  # anodic transfer coefficient (symmetric: alpha_a = alpha_c = 1/2)
    alpha_c: float = 0.5  # cathodic transfer coefficient
    reference_concentration: float = 1000.0  # c_ref [mol/m³] at which i0 is given (1 M)
    nucleation_overpotential_bare: float = 0.030  # [V] bare Cu/C: tens of mV at 10 µA/cm² (Yan et al., Nat. Energy 1, 16010 (2016); ~30 mV read from their Fig. 1, not verified)
    nucleation_overpotential_philic: float = 0.0  # [V] Au, Ag, Zn, Mg, lithiated ZnO/Si: ~0 (Yan 2016)
    gate_width: float = 0.005  # [V] width of the nucleation ramp (~5 mV)
    temperature: float = TEMPERATURE  # [K]
    shield: AdditiveShield | None = None  # an additive cation's shield on the Li tips (hostsim.electrochemistry.additive)
    films: Films | None = None  # coatings: series film resistances on Li and host (hostsim.electrochemistry.coating)

    @property
    def f(self):
        """F / RT [1/V]."""
        return FARADAY / (GAS_CONSTANT * self.temperature)

    def exchange_current(self, c):
        """i0 (c / c_ref)^alpha_a [A/m²] (c clipped at zero)."""
        x = jnp.maximum(c, 0.0) / self.reference_concentration
        return self.exchange_current_density * (jnp.sqrt(x) if _is(self.alpha_a, 0.5) else x**self.alpha_a)

    def exchange_current_ratio(self, c_face, c):
        """``i0(c_face) / i0(c)`` and its derivative in ``c_face`` [1/(mol/m³)], for positive
        concentrations: a square root for alpha_a = 1/2, else one logarithm and one exponential (the
        face-concentration solve evaluates it five times per cell and residual; as ``x ** alpha`` and
        its derivative, a power each, it cost a tenth of the plating step)."""
        if _is(self.alpha_a, 0.5):  # the default: a square root (cheaper and more accurate than exp and log)
            ratio = jnp.sqrt(c_face / c)
        else:
            ratio = jnp.exp(self.alpha_a * (jnp.log(c_face) - jnp.log(c)))
        return ratio, self.alpha_a * ratio / c_face

    def butler_volmer(self, eta, c):
        """Un-gated interfacial current density [A/m²] (plating positive)."""
        if _is(self.alpha_c, self.alpha_a):  # symmetric (the default): one exponential and its reciprocal
            back, forth = _exponential_pair(self.alpha_a * self.f * eta)
            return self.exchange_current(c) * (back - forth)
        return self.exchange_current(c) * (jnp.exp(-self.alpha_c * self.f * eta) - jnp.exp(self.alpha_a * self.f * eta))

    def nucleation_overpotential(self, lithiophilicity):
        """eta_n(l) = (1 - l) eta_n,bare + l eta_n,philic [V]."""
        return (1.0 - lithiophilicity) * self.nucleation_overpotential_bare + lithiophilicity * self.nucleation_overpotential_philic

    def nucleation_gate(self, eta, lithiophilicity, li_cover):
        """Plating gate in [0, 1] (see the module docstring): 1 on Li-covered surface
        (``li_cover`` = 1) and on a barrier-free host; on a host with barrier ``eta_n(l)`` a C¹
        ramp from ``eta_n - w/2`` to ``eta_n + w/2``; 1 for stripping (``eta >= 0``)."""
        barrier = self.nucleation_overpotential(lithiophilicity)
        ramp = smoothstep((-eta - barrier) / self.gate_width + 0.5)
        strength = smoothstep(barrier / self.gate_width)
        host = 1.0 - strength * (1.0 - ramp)
        gate = li_cover + (1.0 - li_cover) * host
        return jnp.where(eta < 0, gate, 1.0)

    def plating_gate(self, eta, lithiophilicity, li_cover):
        """The nucleation gate with the additive's shield: the Li share of the face plates on its
        uncovered part ``1 - theta_M(eta)`` (:mod:`hostsim.electrochemistry.additive`)."""
        gate = self.nucleation_gate(eta, lithiophilicity, li_cover)
        if self.shield is None:
            return gate
        return gate - li_cover * self.shield.blocked(eta)

    def interfacial_current(self, eta, c, lithiophilicity=0.0, li_cover=1.0):
        """Gated interfacial current density [A/m²] (plating positive)."""
        return self.plating_gate(eta, lithiophilicity, li_cover) * self.butler_volmer(eta, c)

    def charge_transfer_resistance(self):
        """R_ct = RT / ((alpha_a + alpha_c) F i0) [Ohm m²] (linearised BV at c_ref)."""
        return 1.0 / ((self.alpha_a + self.alpha_c) * self.f * self.exchange_current_density)


def wagner_number(kinetics: Kinetics, conductivity: float, length: float) -> float:
    """Wa = kappa R_ct / L [-]: >> 1 means kinetics dominate and the current is even."""
    return conductivity * kinetics.charge_transfer_resistance() / length


def sand_time(current_density, electrolyte) -> float:
    """Sand's time [s] of planar plating at ``current_density`` [A/m²] into a semi-infinite
    electrolyte: tau = pi D (c0 F)² / (4 J² (1 - t+)²)."""
    c0 = electrolyte.concentration
    d = electrolyte.diffusivity(c0)
    return jnp.pi * d * (c0 * FARADAY) ** 2 / (4.0 * current_density**2 * (1.0 - electrolyte.transference) ** 2)


def limiting_current_density(electrolyte, gap: float, symmetric: bool = True) -> float:
    """Limiting current density [A/m²] across a gap [m]: 2 F c0 D / ((1 - t+) L) between two Li
    electrodes, F c0 D / ((1 - t+) L) against a reservoir at c0."""
    c0 = electrolyte.concentration
    value = FARADAY * c0 * electrolyte.diffusivity(c0) / ((1.0 - electrolyte.transference) * gap)
    return 2.0 * value if symmetric else value
