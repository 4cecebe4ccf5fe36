"""Quasi-static electrolyte potential with Butler–Volmer interfaces and galvanostatic or
potentiostatic control (SPEC 4).

Charge conservation in the electrolyte, ``div i_e = -R_v`` with
``i_e = -kappa_eff grad phi_e + kappa_D,eff grad ln c``, written as

    -div(kappa_eff grad phi) = L_D(ln c) - R_v(phi, V),    L_D(u) = -div(kappa_D,eff grad u)

with ``R_v`` [A/m³] the plating current per volume of the electrolyte-side cell,
``R_v = sum_faces A_f i(eta, c, l_q, cover_q) / h³`` over the cell's interface faces
(:mod:`hostsim.interfaces`), ``eta = V - phi - U`` (U = 0 vs Li/Li+). The conducting solid is
one equipotential at ``V`` (SPEC 4: sigma_Cu / kappa ~ 1e7).

Boundary conditions: ``z = 0`` no flux (the collector is part of the grid); ``z = L_z`` the
``top`` of :mod:`hostsim.cell`: ``phi = 0`` on the face, and ``c`` on the face (for ``ln c`` in
``L_D``) is c0 for a :class:`~hostsim.cell.Reservoir` or extrapolated from the top cell with the
known flux for a :class:`~hostsim.cell.LithiumCounterElectrode` (potentiostatic control takes it
from the top cell, first order, as the current is not known in advance). With a counter
electrode, ``phi = 0`` on its face means the potentials are measured against the electrolyte
there; ``cell_voltage = voltage - eta_ce`` is the working electrode against the counter
electrode's metal.

Newton on ``(phi, V)``: the Jacobian block in ``phi`` is the diffusion operator plus the
diagonal ``dR_v/dphi = -A i'(eta) / h³ >= 0`` (i' < 0), so it is SPD and the multigrid PCG
solves it. Galvanostatic control adds the scalar constraint ``sum A i = I``; the bordered
system is solved by two SPD solves per iteration and a Schur complement for ``dV``.
Potentiostatic control fixes V. Each V update is limited to ``max_voltage_step`` (exponential
kinetics overshoot otherwise).

Per-voxel transport coefficients: ``kappa_eff = kappa(c) max(eps, eps_floor)`` and likewise
``kappa_D``: a voxel's electrolyte fraction weights its conductance linearly (parallel mixing;
resolved geometry carries the tortuosity). ``eps_floor`` (1e-6) keeps the operator nonsingular
in solid voxels — an artificial leak of 1e-6 kappa through solid, negligible against any real
path.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from .cell import Reservoir
from .grid import Grid
from .interfaces import _smoothstep as smoothstep
from .interfaces import conducting_fraction, face_areas, li_fill, neighbours
from .linsolve import PCG, linear_solve
from .operators import Dirichlet, Neumann, assemble

EPS_FLOOR = 1e-6


class PotentialSolution(NamedTuple):
    phi: jax.Array  # electrolyte potential [V]
    voltage: jax.Array  # electrode potential V [V] vs Li/Li+ at the reservoir
    reaction: jax.Array  # R_v, plating current per cell volume [A/m³]
    face_current: tuple  # per direction (6): current density on each face [A/m²] (plating > 0)
    face_area: tuple  # per direction (6): interface area [m²]
    face_cover: tuple  # per direction (6): Li cover of the conducting side [-]
    residual: jax.Array  # relative charge-balance residual at the end
    current_error: jax.Array  # (sum A i - I) / I (galvanostatic), 0 otherwise
    counter_overpotential: jax.Array  # eta_ce [V] of the counter electrode (0 for a reservoir)
    cell_voltage: jax.Array  # voltage - eta_ce [V]: against the counter electrode's metal (= voltage for a reservoir)


def interface_faces(grid: Grid, s, k, l, theta):
    """Per interface direction: area [m²], lithiophilicity and Li cover of the conducting side."""
    cond = conducting_fraction(s, k, theta)
    cover = jnp.clip(theta / jnp.maximum(cond, 1e-12), 0.0, 1.0)
    # Li plated into the electrolyte-side cell sits on the face it came through: the face is Li
    # covered once that cell holds a few per cent of Li, whatever the conducting side is made of
    # (otherwise the bare Cu under a Li film keeps its nucleation barrier: measured, the first Li
    # layer on a foil stalled at 97 % and the flux CV read 0.24)
    own = smoothstep(li_fill(s, theta) / 0.05)
    covers = [1.0 - (1.0 - cq) * (1.0 - own) for cq in neighbours(grid, cover)]
    return face_areas(grid, s, k, theta), neighbours(grid, l), covers


def _reaction(kinetics, grid, areas, ls, covers, eta, c):
    """R_v [A/m³], its derivative in eta, and the face current densities."""
    bv = lambda e: kinetics.butler_volmer(e, c)  # noqa: E731
    total = jnp.zeros_like(eta)
    slope = jnp.zeros_like(eta)
    currents = []
    for a, l, cov in zip(areas, ls, covers):
        def face(e, l=l, cov=cov):
            # plating: nucleation gate; stripping: only Li strips (never host), weighted by the Li
            # cover of the conducting side
            return jnp.where(e < 0, kinetics.nucleation_gate(e, l, cov), cov) * bv(e)

        i, di = jax.jvp(face, (eta,), (jnp.ones_like(eta),))
        currents.append(i)
        total = total + a * i
        slope = slope + a * di
    h3 = grid.voxel_size**3
    return total / h3, slope / h3, currents


@eqx.filter_jit
def solve_potential(
    grid: Grid,
    s, k, l, theta,
    concentration,
    electrolyte,
    kinetics,
    *,
    current=None,
    voltage=None,
    phi_guess=None,
    voltage_guess=None,
    top=Reservoir(),
    newton_steps: int = 12,
    max_voltage_step: float = 0.05,
    solver: PCG = PCG(rtol=1e-8),
) -> PotentialSolution:
    """Solve for ``phi_e`` (and ``V`` under galvanostatic control).

    Args:
        s, k, l, theta: host and Li fields on ``grid``.
        concentration: salt concentration [mol/m³].
        current: total plating current [A] (galvanostatic; > 0 plates), or
        voltage: electrode potential [V] vs the reservoir (potentiostatic). Exactly one.
        top: :class:`~hostsim.cell.Reservoir` (default) or :class:`~hostsim.cell.LithiumCounterElectrode`.
        newton_steps: Newton iterations (fixed count, jit-friendly; the residual is returned).
    """
    if (current is None) == (voltage is None):
        raise ValueError("give exactly one of current (galvanostatic) or voltage (potentiostatic)")
    dtype = grid.dtype
    c = grid.as_field(concentration)
    eps = jnp.clip(1.0 - s - theta, 0.0, 1.0)
    c0 = electrolyte.concentration
    kappa_ref = electrolyte.conductivity(c0)
    kappa = electrolyte.conductivity(c) * jnp.maximum(eps, EPS_FLOOR) / kappa_ref
    kappa_d = electrolyte.diffusional_conductivity(c) * jnp.maximum(eps, EPS_FLOOR) / kappa_ref
    h2 = grid.voxel_size**2
    ln_c = jnp.log(jnp.maximum(c, electrolyte.c_floor))
    projected = grid.length[0] * grid.length[1]
    c_top = top.face_concentration(grid, c, electrolyte.diffusivity(c) * jnp.maximum(eps, EPS_FLOOR), electrolyte,
                                   0.0 if current is None else current, projected)
    op_d, rhs_d = assemble(grid, kappa_d, Neumann(0.0), Dirichlet(jnp.log(jnp.maximum(c_top, electrolyte.c_floor))))
    diffusion_source = (op_d(ln_c) - rhs_d) / h2  # L_D(ln c) / kappa_ref [V/m²]
    areas, ls, covers = interface_faces(grid, s, k, l, theta)

    phi = jnp.zeros(grid.shape, dtype) if phi_guess is None else grid.as_field(phi_guess)
    if voltage is not None:
        v = jnp.asarray(voltage, dtype)
    else:  # invert symmetric BV for the mean current density at the interfaces' mean c, plus the bare-surface barrier
        area_field = sum(areas)
        wetted = jnp.sum(area_field)
        safe_area = jnp.where(wetted > 0, wetted, 1.0)
        j = current / safe_area
        c_interface = jnp.sum(area_field * c) / safe_area  # area-weighted
        i0 = jnp.maximum(kinetics.exchange_current(c_interface), 1e-6 * kinetics.exchange_current_density)
        eta0 = -2.0 / kinetics.f * jnp.arcsinh(j / (2.0 * i0))
        v = (eta0 - kinetics.nucleation_overpotential_bare).astype(dtype)
        if voltage_guess is not None:  # a warm start where it is finite (NaN: no guess)
            guess = jnp.asarray(voltage_guess, dtype)
            v = jnp.where(jnp.isfinite(guess), guess, v)
    op0, rhs0 = assemble(grid, kappa, Neumann(0.0), Dirichlet(0.0))

    def residual(phi, v):
        r, dr, _ = _reaction(kinetics, grid, areas, ls, covers, v - phi, c)
        f = op0(phi) - rhs0 - h2 * (diffusion_source - r / kappa_ref)
        return f, r, dr

    h3 = grid.voxel_size**3

    def newton(carry, _):
        phi, v = carry
        f, r, dr = residual(phi, v)
        # dR/dphi = -dr >= 0 (i' < 0); Jacobian = op0 + h² (-dr) / kappa_ref
        jac, _ = assemble(grid, kappa, Neumann(0.0), Dirichlet(0.0), reaction=-dr / kappa_ref)
        x1, _ = linear_solve(jac, -f, solver, throw=False)
        if current is None:
            return (phi + x1, v), None
        b = h2 * dr / kappa_ref  # dF/dV
        x2, _ = linear_solve(jac, b, solver, throw=False)
        g = jnp.sum(r) * h3 - current
        g_phi = -dr * h3
        denominator = jnp.sum(dr) * h3 - jnp.sum(g_phi * x2)
        # no reactive surface left (e.g. all Li stripped): dV is capped below instead of NaN
        denominator = jnp.where(jnp.abs(denominator) > 1e-300, denominator, -1e-300)
        dv = (-g - jnp.sum(g_phi * x1)) / denominator
        dv = jnp.clip(dv, -max_voltage_step, max_voltage_step)
        return (phi + x1 - x2 * dv, v + dv), None

    # one compiled Newton step, scanned (an unrolled loop of multigrid solves compiles for minutes)
    (phi, v), _ = jax.lax.scan(newton, (phi, v), None, length=newton_steps)
    f, r, _ = residual(phi, v)
    _, _, currents = _reaction(kinetics, grid, areas, ls, covers, v - phi, c)
    scale = jnp.maximum(jnp.max(jnp.abs(h2 * r / kappa_ref)), 1e-30)
    passed = jnp.sum(r) * grid.voxel_size**3
    current_error = 0.0 if current is None else (passed - current) / current
    # the counter electrode carries the current that passed (not the requested one, which an
    # electrode out of Li cannot pass)
    eta_ce = jnp.asarray(top.overpotential(kinetics, passed, projected, c_top), dtype)
    return PotentialSolution(phi, v, r, tuple(currents), tuple(areas), tuple(covers), jnp.max(jnp.abs(f)) / scale,
                             current_error, eta_ce, v - eta_ce)
