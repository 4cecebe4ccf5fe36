"""Quasi-static electrolyte potential with Butler–Volmer interfaces and galvanostatic or
potentiostatic control.

Charge conservation in the electrolyte, ``div i_e = -R_v`` with
``i_e = -kappa_eff grad phi_e + kappa_D,eff grad ln c``, written as

    -div(kappa_eff grad phi) = L_D(ln c) - R_v(phi, V),    L_D(u) = -div(kappa_D,eff grad u)

with ``R_v`` [A/m³] the plating current per volume of the electrolyte-side cell,
``R_v = sum_faces A_f i(eta, c, l_q, cover_q) / h³`` over the cell's interface faces
(:mod:`hostsim.electrochemistry.interfaces`), ``eta = V - phi - U`` (U = 0 vs Li/Li+). The conducting solid is
one equipotential at ``V`` (sigma_Cu / kappa ~ 1e7).

Boundary conditions: ``z = 0`` no flux (the collector is part of the grid); ``z = L_z`` the
``top`` of :mod:`hostsim.electrochemistry.cell`: ``phi = 0`` on the face, and ``c`` on the face (for ``ln c`` in
``L_D``) is c0 for a :class:`~hostsim.electrochemistry.cell.Reservoir` or extrapolated from the top cell with the
known flux for a :class:`~hostsim.electrochemistry.cell.LithiumCounterElectrode` (potentiostatic control takes it
from the top cell, first order, as the current is not known in advance). With a counter
electrode, ``phi = 0`` on its face means the potentials are measured against the electrolyte
there; ``cell_voltage = voltage - eta_ce`` is the working electrode against the counter
electrode's metal.

Newton on ``(phi, V)`` (:mod:`hostsim.numerics.newton`): the Jacobian block in ``phi`` is the diffusion
operator plus the diagonal ``dR_v/dphi = -A i'(eta) / h³ >= 0`` (i' < 0), so it is SPD and the
multigrid PCG solves it. Galvanostatic control adds the scalar constraint ``sum A i = I``; the
bordered system is solved by a Schur complement for ``dV``. Potentiostatic control fixes V.
The default :class:`~hostsim.numerics.newton.AdaptiveNewton` stops on stated tolerances and is
differentiated implicitly (one adjoint bordered solve at the converged point).
:class:`PotentialProblem` holds everything the root depends on (its array leaves are what
gradients flow into).

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

from hostsim.electrochemistry.cell import AbstractCellTop, Reservoir
from hostsim.numerics.grid import Grid
from hostsim.electrochemistry.interfaces import smoothstep
from hostsim.electrochemistry.interfaces import conducting_fraction, face_areas, li_fill, neighbours
from hostsim.numerics.linsolve import PCG
from hostsim.numerics.newton import AbstractNewton, AdaptiveNewton, Bordered, NewtonStats
from hostsim.numerics.operators import DiffusionOperator, Dirichlet, Neumann, assemble, cotangent_stored, materialized

EPS_FLOOR = 1e-6
COVER_FLOOR = 1e-3  # conducting fraction below which a cell's Li cover ramps from 0 (see interface_faces)


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
    newton: NewtonStats  # iterations, PCG iterations, final residuals, converged
    projected_area: jax.Array  # [m²] of the top face (currents per projected area: the galvanostatic constraint's scale)
    border_solution: jax.Array  # A^-1 dF/dV of the last Newton iteration (the next step's warm start; not differentiated)


OWN_COVER_FILL = 0.05  # the Li fill of an electrolyte cell at which the faces it plated through count as Li


def li_covers(s, k, theta, excluded=None):
    """Per cell, ``(own, cover)``: how fully the Li plated into the cell covers the faces it came
    through (``smoothstep(fill / 0.05)``), and the Li share of the cell's conducting phase. A face
    p|q is Li covered as ``own_p + cover_q (1 - own_p)``: p's own Li, and q's where p's leaves the
    face bare."""
    cond = conducting_fraction(s, k, theta)
    # Li share of the conducting phase. The floor is 1e-3 of a cell, not 1e-12: with 1e-12 a cell
    # holding no conductor had d(cover)/d(theta) = 1e12 at theta = 0, a derivative of a switch no
    # finite perturbation sees, and it doubled every step until float32 overflowed (docs/electrochemistry.md:
    # measurements behind the code). A cell with < 0.1 % conductor presents no measurable face anyway.
    cover = jnp.clip(theta / jnp.maximum(cond, COVER_FLOOR), 0.0, 1.0)
    # Li plated into the electrolyte-side cell sits on the face it came through: the face is Li
    # covered once that cell holds a few per cent of Li, whatever the conducting side is made of
    # (otherwise the bare Cu under a Li film keeps its nucleation barrier and the first Li layer on a
    # foil stalls short of full; docs/electrochemistry.md: interfaces)
    own = smoothstep(li_fill(s, theta, excluded) / OWN_COVER_FILL)
    return own, cover


def interface_faces(grid: Grid, s, k, l, theta, attached=None, stripping=False, excluded=None):
    """Per interface direction: area [m²], lithiophilicity and Li cover of the conducting side.
    ``attached``/``stripping``/``excluded``: see :func:`hostsim.electrochemistry.interfaces.face_areas`."""
    own, cover = li_covers(s, k, theta, excluded)
    covers = [1.0 - (1.0 - cq) * (1.0 - own) for cq in neighbours(grid, cover)]
    # stored once: every consumer (the kinetics, the Li change, the flux statistics, the interface
    # area) would otherwise recompute each face's ~100-operation expression from ~20 arrays
    # (docs/solver.md: measurements behind the code)
    areas = [materialized(a) for a in face_areas(grid, s, k, theta, attached, stripping, excluded)]
    return areas, neighbours(grid, l), [materialized(c) for c in covers]


class FaceInterface(eqx.Module):
    """The reaction sits on the interface face (second order in h): the default of the potential
    solves, the plating step (:class:`~hostsim.electrochemistry.plating.PlatingSystem`) and every
    run (``[numerics] interface = "face"``; :class:`CentreInterface` is the first-order
    alternative, ``"centre"``).

    The potential and the concentration are unknowns at cell centres, but the interface is the
    face, half a cell away. Between the two lies the half cell the operators themselves use
    (for a cell partly filled with Li, its electrolyte is a layer ``eps h`` thick on the face),
    so the face's overpotential and concentration are the cell's, shifted by the face's own
    current ``i``:

        c_face = c - S i,             S = (1 - t+) eps h / (2 F D)
        eta_face = eta + R i,         R = eps h / (2 kappa) + (kappa_D / kappa) S / c

    (a Robin-type condition). ``R``'s second term is the diffusion potential across the half
    cell, ``(kappa_D / kappa) ln(c / c_face)``, linearised: with the oracle electrolyte it is 0.68
    of the ohmic term, so leaving it out kept half the error. :func:`_reaction` takes the
    potential part linearised about the cell's values, ``i1 = G / (1 - R dG/deta)`` per face (off
    by ``~(F R i / RT)^2``: 1e-9 of the current at 1 mA/cm², h = 0.25 µm), and the salt part
    solved per cell, ``i = i1 i0(c_face) / i0(c)`` with ``c_face`` at the cell's mean current;
    Butler–Volmer stays evaluated once per cell. A planar electrode's ohmic drop is then
    ``J L / kappa`` (was ``J (L - h/2) / kappa``: the electrode sat half a voxel into the
    electrolyte). docs/electrochemistry.md has the convergence tables."""

    def half_cell(self, grid: Grid, electrolyte, c, eps):
        """``(R [Ohm m²], S [mol/m³ per A/m²])`` per cell."""
        from hostsim.electrochemistry.constants import FARADAY

        # the electrolyte of a partly filled cell is a layer eps h thick on the face (plated Li fills the
        # electrolyte-side cell from the face), its mean value at eps h / 2 from the face, as the
        # plating step's surface concentration has it. (The operators' eps-weighted conductance
        # would put it at h / (2 eps): the kinetics then saw the front cell's face deplete up to 4x
        # too early at eps = 1/2, and Sand's time came early; docs/electrochemistry.md: where the reaction sits.)
        half = 0.5 * grid.voxel_size * jnp.clip(eps, 0.0, 1.0)
        kappa = electrolyte.conductivity(c)
        salt = (1.0 - electrolyte.transference) * half / (FARADAY * electrolyte.diffusivity(c))
        diffusion = electrolyte.diffusional_conductivity(c) / kappa * salt / jnp.maximum(c, CONCENTRATION_SMALL)
        resistance = half / kappa + diffusion
        return resistance.astype(grid.dtype), salt.astype(grid.dtype)


class CentreInterface(eqx.Module):
    """The reaction at the electrolyte cell's centre (first order in h): the alternative to the
    default :class:`FaceInterface` (``[numerics] interface = "centre"``)."""

    def half_cell(self, grid: Grid, electrolyte, c, eps):
        return None, None  # no half cell: :func:`_reaction` takes the cell-centre path


CONCENTRATION_SMALL = 1e-3  # [mol/m³]: below it the face concentration's shift is not applied (i0 ~ c^alpha_a has an infinite slope at 0)


SLIVER_AREA = 1e-6  # [h²]: a cell whose interface faces hold less gets no face-concentration shift (its current is negligible)


CONCENTRATION_NEWTON = 3  # Newton iterations of a cell's face concentration (monotone from the linear start)


def _face_concentration_factor(kinetics, c, salt, mean_current):
    """``rho = i0(c_face) / i0(c)`` of a cell and ``rho'`` = d i0(c_face)/d c_face / i0(c), with
    ``c_face = c - S i`` and ``i = mean_current x rho`` solved per cell (the faces of a cell share
    its half cell's salt). ``i = A rho(c - S i)`` is monotone in ``A`` and saturates at the face's
    limiting current ``c / S`` (a linearised ``rho`` would saturate at ``c / (alpha_a S)``, half
    of it, and stopped Sand's-time runs early; docs/electrochemistry.md: measurements behind the code).
    Newton from the linear solution, which lies on the far side of the root for a concave
    ``i0(c)``, converges monotonically."""
    cc = jnp.maximum(c, CONCENTRATION_SMALL)

    def ratio(cf):
        return kinetics.exchange_current_ratio(cf, cc)

    slope0 = kinetics.alpha_a / cc  # d ratio / d c_face at c_face = c
    i = mean_current / (1.0 + jnp.maximum(mean_current * salt * slope0, -0.5))  # the linear solution
    # c_face stays positive. Both wheres: a cell without a half cell (S = 0) has no limit, and the
    # gradient of c / max(S, tiny) overflowed float32 there (0 x inf = NaN in a design gradient)
    has_salt = salt > 0
    limit = jnp.where(has_salt, 0.999 * cc / jnp.where(has_salt, salt, 1.0), jnp.finfo(cc.dtype).max)
    i = jnp.minimum(i, limit)
    # every iterate starts from a root estimate without derivative and divides by a slope held fixed:
    # the last step's derivative is then the implicit one, -(df/dp) / (df/di), at the (converged) root,
    # and reverse mode transposes one iteration, not three (docs/solver.md: reverse mode through a plating step)
    for _ in range(CONCENTRATION_NEWTON):
        i = jax.lax.stop_gradient(i)
        rho, rho_c = ratio(jnp.maximum(cc - salt * i, CONCENTRATION_SMALL))
        f = i - mean_current * rho
        df = jnp.maximum(1.0 + mean_current * salt * rho_c, 0.5)
        i = jnp.minimum(i - f / jax.lax.stop_gradient(df), limit)
    rho, rho_c = ratio(jnp.maximum(cc - salt * i, CONCENTRATION_SMALL))
    shifts = (c > CONCENTRATION_SMALL) & (salt > 0)
    return jnp.where(shifts, rho, 1.0), jnp.where(shifts, rho_c, 0.0)


def _gate(kinetics, l, cover):
    """The face's gate as a function of eta: plating, the nucleation gate (with an additive's
    shield on the Li); stripping, only Li strips (never host), weighted by the Li cover of the
    conducting side."""
    return lambda e: jnp.where(e < 0, kinetics.plating_gate(e, l, cover), cover)


def _centre_reaction(kinetics, grid, areas, ls, covers, eta, c, slope=True, current_slopes=False):
    """:func:`_reaction` of :class:`CentreInterface`: Butler–Volmer at the cell's eta and c, once per
    cell, stored before the faces read it."""
    ones = jnp.ones_like(eta)
    if slope:
        bv, dbv = jax.jvp(lambda e: kinetics.butler_volmer(e, c), (eta,), (ones,))
        pair = materialized(jnp.stack([bv, dbv]))
        bv, dbv = pair[0], pair[1]
    else:
        bv = materialized(kinetics.butler_volmer(eta, c))
    total = jnp.zeros_like(eta)
    total_e = jnp.zeros_like(eta)
    currents, currents_e = [], []
    for a, l, cov in zip(areas, ls, covers):
        if slope:
            w, dw = jax.jvp(_gate(kinetics, l, cov), (eta,), (ones,))
            currents_e.append(dw * bv + w * dbv)
            total_e = total_e + a * currents_e[-1]
        else:
            w = _gate(kinetics, l, cov)(eta)
        i = w * bv
        currents.append(i)
        total = total + a * i
    h3 = grid.voxel_size**3
    out = total / h3, (total_e / h3 if slope else None), currents
    return out + (currents_e,) if current_slopes else out


FILM_NEWTON = 24  # safeguarded Newton iterations of a coated face's overpotential: enough to reach float32 round-off across the gate (docs/solver.md)


def _face_overpotential(current, eta, resistance):
    """The face overpotential ``e`` with ``e = eta + R current(e)`` (``current`` falls with ``e``,
    so the root is unique and lies between ``eta`` and 0). Found by bracketed Newton without a
    derivative, then one Newton step with one: ``e`` and its derivatives are the implicit
    function's (in ``eta``, ``R`` and every parameter of ``current``)."""
    ones = jnp.ones_like(eta)
    low, high = jax.lax.stop_gradient((jnp.minimum(eta, 0.0), jnp.maximum(eta, 0.0)))
    e, fixed_eta, fixed_r = low + 0.5 * (high - low), *jax.lax.stop_gradient((eta, resistance))
    last = jnp.full_like(eta, jnp.inf)
    for _ in range(FILM_NEWTON):
        g, g_e = jax.lax.stop_gradient(jax.jvp(current, (e,), (ones,)))
        h = e - fixed_eta - fixed_r * g
        low, high = jnp.where(h < 0, e, low), jnp.where(h > 0, e, high)
        step = e - h / (1.0 - fixed_r * g_e)
        # Newton where it lands inside the bracket and the last step halved |h| at least (Numerical
        # Recipes' rtsafe), else bisection: across the nucleation gate's ramp plain Newton cycles
        # between the closed and the open gate inside the bracket (docs/solver.md: the coated face's
        # overpotential). (A converged step lands on the bound it just set: inside, not a reason to bisect.)
        newton = (step >= low) & (step <= high) & (jnp.abs(h) <= 0.5 * last)
        e = jnp.where(newton, step, 0.5 * (low + high))
        last = jnp.abs(h)
    g, g_e = jax.jvp(current, (e,), (ones,))
    return e - (e - eta - resistance * g) / (1.0 - resistance * g_e)


def _series_current(current, eta, resistance):
    """A face's current ``G(e)`` through ``resistance`` [Ohm m²] in series, ``e = eta + R G(e)``, and
    its slope in eta, ``G'(e) / (1 - R G'(e))``."""
    e = _face_overpotential(current, eta, resistance)
    g, g_e = jax.jvp(current, (e,), (jnp.ones_like(eta),))
    return g, g_e / (1.0 - resistance * g_e)


def _film_currents(kinetics, ls, covers, eta, c, half_cell, films, cracks=None):
    """Stage 1 of :func:`_reaction` with coatings: per face, the current ``G(e)`` at the face
    overpotential ``e = eta + (R_half + R_film) G(e)`` solved exactly (a film's drop is tens of
    mV: the linearisation about the cell's eta would be off by its square), and its slope in eta.
    ``cracks``: per direction, the share of each face whose film is cracked, a parallel path through
    the half cell alone (:mod:`hostsim.electrochemistry.coating`: cracking); None, none."""
    half = 0.0 if half_cell is None else half_cell
    first, first_e = [], []
    for index, (l, cov, film) in enumerate(zip(ls, covers, films)):
        gate = _gate(kinetics, l, cov)

        def current(e, gate=gate):
            return gate(e) * kinetics.butler_volmer(e, c)

        g, g_e = _series_current(current, eta, half + film)
        if cracks is not None:
            bare, bare_e = _series_current(current, eta, half) if half_cell is not None else \
                jax.jvp(current, (eta,), (jnp.ones_like(eta),))
            share = cracks[index]
            g, g_e = (1.0 - share) * g + share * bare, (1.0 - share) * g_e + share * bare_e
        first.append(g)
        first_e.append(g_e)
    return first, first_e


def _faces_to_cells(grid, areas, first, first_e, slope, current_slopes):
    """``(R_v, dR_v/deta, currents[, slopes])`` of face currents without a face concentration."""
    h3 = grid.voxel_size**3
    total = sum(a * i for a, i in zip(areas, first)) / h3
    out = total, (sum(a * i for a, i in zip(areas, first_e)) / h3 if slope else None), first
    return out + (first_e,) if current_slopes and slope else out


def _reaction(kinetics, grid, areas, ls, covers, eta, c, resistance, salt, slope=True, current_slopes=False,
              films=None, cracks=None):
    """R_v [A/m³], its derivative in eta (``slope``; else None), and the face current densities
    (with ``current_slopes`` and ``slope``, fourth, the face current densities' derivatives in eta).

    :class:`FaceInterface` in two stages (``R = S = 0`` for :class:`CentreInterface`):

    1. the half cell's potential drop, per face: ``i1 = G / (1 - R G_eta)`` with ``G = gate x
       Butler–Volmer`` at the cell's overpotential and concentration (``G`` linearised about
       the cell's eta);
    2. its salt, per cell: every face's ``i1`` times ``rho = i0(c_face) / i0(c)``, with
       ``c_face = c - S i`` at the cell's mean current density ``i``
       (:func:`_face_concentration_factor`).

    Butler–Volmer and its derivatives are the electrolyte-side cell's, so they are evaluated once
    per cell and only the gate differs between a cell's faces. They are stored
    (:func:`~hostsim.numerics.operators.materialized`) before the faces read them: otherwise XLA
    recomputes the exponentials in every consumer, and the step's elementwise work outweighed its PCG
    iterations (docs/solver.md: measurements behind the code).

    Without ``slope`` (what is differentiated: the residual's tangent at the root, the step's face
    currents) no second derivative is formed: only Newton needs ``dR_v/deta``.

    ``films``: per direction, a coating's resistance of each face [Ohm m²]
    (:mod:`hostsim.electrochemistry.coating`); stage 1 then solves each face's overpotential exactly,
    half cell and film in series (:func:`_film_currents`), in place of the linearisation; ``cracks``,
    per direction, the cracked share of each face's film."""
    if films is not None:
        first, first_e = _film_currents(kinetics, ls, covers, eta, c, resistance, films, cracks)
        if salt is None:  # CentreInterface: no half cell, no face concentration
            return _faces_to_cells(grid, areas, first, first_e, slope, current_slopes)
        return _face_salt(kinetics, grid, areas, c, salt, first, first_e, slope, current_slopes)
    if resistance is None:  # CentreInterface
        return _centre_reaction(kinetics, grid, areas, ls, covers, eta, c, slope, current_slopes)
    ones = jnp.ones_like(eta)

    def bv_and_slope(e):
        return jax.jvp(lambda e_: kinetics.butler_volmer(e_, c), (e,), (ones,))

    if slope:
        (bv, bv_e), (_, bv_ee) = jax.jvp(bv_and_slope, (eta,), (ones,))
        cell = materialized(jnp.stack([bv, bv_e, bv_ee]))
        bv, bv_e, bv_ee = cell[0], cell[1], cell[2]
    else:
        cell = materialized(jnp.stack(bv_and_slope(eta)))
        bv, bv_e = cell[0], cell[1]
    first, first_e = [], []
    for l, cov in zip(ls, covers):
        gate = _gate(kinetics, l, cov)

        def gate_and_slope(e, gate=gate):
            return jax.jvp(gate, (e,), (ones,))

        if slope:
            (w, w_e), (_, w_ee) = jax.jvp(gate_and_slope, (eta,), (ones,))
        else:
            w, w_e = gate_and_slope(eta)
        g = w * bv
        g_e = w_e * bv + w * bv_e
        d = 1.0 - resistance * g_e  # >= 1: G falls with eta
        first.append(g / d)
        if slope:
            g_ee = w_ee * bv + 2.0 * w_e * bv_e + w * bv_ee
            d_e = -resistance * g_ee
            first_e.append((g_e * d - g * d_e) / (d * d))
    return _face_salt(kinetics, grid, areas, c, salt, first, first_e, slope, current_slopes)


def _face_salt(kinetics, grid, areas, c, salt, first, first_e, slope, current_slopes):
    """Stage 2 of :func:`_reaction`: each face's stage-1 current ``first`` (and its slope
    ``first_e``) times the cell's face-concentration factor; ``(R_v, dR_v/deta, currents[,
    slopes])``."""
    flow = sum(a * i for a, i in zip(areas, first))  # [A]-like: sum of a i1 over the cell's faces
    # the cell's mean current density, in units of h² (an area in m² squared underflows float32 in the
    # quotient's derivative: NaN in the design gradients of a layered-rGO host), and only
    # where the faces hold 1e-6 h² or more (below, the face concentration's shift is not applied)
    h2 = grid.voxel_size**2
    area = sum(areas) / h2
    has = area > SLIVER_AREA
    safe = jnp.where(has, area, 1.0)
    mean = jnp.where(has, flow / h2 / safe, 0.0)
    rho, rho_c = _face_concentration_factor(kinetics, c, salt, mean)
    currents = [i * rho for i in first]
    h3 = grid.voxel_size**3
    if not slope:
        return flow * rho / h3, None, currents
    # d rho / d eta through the cell's mean current (implicit function of i = A rho(c - S i))
    flow_e = sum(a * i for a, i in zip(areas, first_e))
    mean_e = jnp.where(has, flow_e / h2 / safe, 0.0)
    rho_e = -salt * rho_c * rho * mean_e / jnp.maximum(1.0 + mean * salt * rho_c, 0.5)
    out = flow * rho / h3, (flow_e * rho + flow * rho_e) / h3, currents
    return out + ([i_e * rho + i * rho_e for i, i_e in zip(first, first_e)],) if current_slopes else out


class PotentialProblem(eqx.Module):
    """The charge balance ``F(phi, V) = 0`` (and, galvanostatic, ``G(phi, V) = 0``) of one step.

    ``F = A0 phi - source + h² R_v(V - phi) / kappa_ref`` per cell (``A0``: the relative
    conductance with ``phi = 0`` on the top face; ``source``: the diffusion potential's term);
    ``G = (sum R_v h³ - I) / A_projected`` [A/m²]. Array leaves (fields, kinetics parameters,
    the current) are what the solution is differentiated with respect to.
    """

    grid: Grid
    conductance: DiffusionOperator
    source: jax.Array
    areas: tuple
    ls: tuple
    covers: tuple
    concentration: jax.Array
    half_cell_resistance: jax.Array | None  # R [Ohm m²] between the cell centre and its faces (FaceInterface; None: CentreInterface)
    half_cell_salt: jax.Array | None  # S [mol/m³ per A/m²]: c_face = c - S i
    kinetics: object
    kappa_ref: jax.Array
    current: jax.Array | None  # total current [A] (galvanostatic), None: V is given
    films: tuple | None = None  # per direction, the coatings' resistance of each face [Ohm m²] (None: no coating)
    film_cracks: tuple | None = None  # per direction, the cracked share of each face's film [-] (None: intact)

    def reaction(self, phi, v, slope=True):
        """``R_v`` [A/m³], ``dR_v/deta`` (None without ``slope``) and the face current densities at
        ``(phi, V)``."""
        return _reaction(self.kinetics, self.grid, self.areas, self.ls, self.covers, v - phi, self.concentration,
                         self.half_cell_resistance, self.half_cell_salt, slope, films=self.films,
                         cracks=self.film_cracks)

    def root_slopes(self, phi, v):
        """``dR_v/deta`` at ``(phi, V)`` (the Jacobian's, :meth:`jacobian`) and the linear map
        ``(dphi, dV) -> `` the tangent of what :meth:`residual` reports at the root (``R_v`` and the
        face currents; all depend on ``(phi, V)`` only through the cell's ``eta = V - phi``): the
        implicit derivative's tangent of those outputs is this plus their tangent at fixed ``(phi, V)``."""
        _, dr, _, slopes = _reaction(self.kinetics, self.grid, self.areas, self.ls, self.covers, v - phi,
                                     self.concentration, self.half_cell_resistance, self.half_cell_salt,
                                     slope=True, current_slopes=True, films=self.films, cracks=self.film_cracks)
        dr, slopes = materialized(dr), [materialized(x) for x in slopes]

        def along(dphi, dv):
            deta = dv - dphi
            return dr * deta, tuple(s * deta for s in slopes)

        return dr, along

    def residual(self, phi, v, slope=True):
        """``(F, G, size of F's terms, size of G's terms, R_v, dR_v/deta, (R_v, face currents))``;
        without ``slope`` ``dR_v/deta`` is None (what is differentiated needs no Jacobian). The
        last is what Newton hands back from its last residual (``at_root``), so that
        :func:`solve_problem` need not evaluate the kinetics once more."""
        grid = self.grid
        h2, h3 = grid.voxel_size**2, grid.voxel_size**3
        r, dr, currents = self.reaction(phi, v, slope)
        at = (r, tuple(currents))
        flow = self.conductance(phi)
        react = materialized(h2 * r / self.kappa_ref)
        # stored: Newton reduces it twice (max |F|, ||F||) and carries it, and each consumer would
        # otherwise evaluate the operator's stencil again
        f = materialized(flow - self.source + react)
        # the size of the terms that cancel in F (the operator's diagonal part, not its small
        # result): F's round-off floor is eps times this, so the tolerance is reachable in float32
        scale = (jnp.max(jnp.abs(self.conductance.total_diagonal * phi)) + jnp.max(jnp.abs(self.source))
                 + jnp.max(jnp.abs(react)))
        projected = grid.length[0] * grid.length[1]
        if self.current is None:
            return f, jnp.zeros((), f.dtype), scale, jnp.ones((), f.dtype), r, dr, at
        g = (jnp.sum(r) * h3 - self.current) / projected
        # floored at the exchange current density: at rest (I = 0) the cells' small local currents alone
        # set a scale no float reaches, and Newton ran to its cap in every step of a rest
        current_scale = jnp.maximum(jnp.maximum(jnp.abs(self.current), jnp.sum(jnp.abs(r)) * h3) / projected,
                                    self.kinetics.exchange_current_density)
        return f, g.astype(f.dtype), scale, current_scale, r, dr, at

    def jacobian(self, dr) -> Bordered:
        """The Newton Jacobian (:class:`~hostsim.numerics.newton.Bordered`) given ``dR_v/deta``."""
        grid = self.grid
        h2, h3 = grid.voxel_size**2, grid.voxel_size**3
        d = -h2 * dr / self.kappa_ref  # dF/dphi's diagonal part: >= 0 (i' < 0)
        op = self.conductance
        jac = DiffusionOperator(op.face_conductance, op.diagonal + d, op.total_diagonal + d, op.periodic)
        if self.current is None:
            return Bordered(jac, None, None, None)
        projected = grid.length[0] * grid.length[1]
        b = h2 * dr / self.kappa_ref  # dF/dV
        g_per_b = -grid.voxel_size * self.kappa_ref / projected  # dG/dphi = -dr h³ / A = g_per_b b
        return Bordered(jac, b, g_per_b * b, jnp.sum(dr) * h3 / projected, jnp.asarray(g_per_b, b.dtype))


def _log_ratio(c, c0, floor):
    """``ln(max(c, floor) / c0)``, accurate near ``c0`` (``log1p`` of the relative difference)."""
    return jnp.log1p((jnp.maximum(c, floor) - c0) / c0)


def potential_problem(grid: Grid, s, k, l, theta, concentration, electrolyte, kinetics, *, current=None, voltage=None,
                      phi_guess=None, voltage_guess=None, top=Reservoir(), attached=None, interface=FaceInterface(),
                      collector_layers: int = 1, li_excluded=None, transport=None, host_top: int | None = None):
    """The :class:`PotentialProblem` of one state, its starting point ``(phi, V)`` and what the
    solution needs besides (``c_top``, the projected area). See :func:`solve_potential`;
    ``li_excluded``: open volume that passes ions but takes no Li
    (:func:`hostsim.electrochemistry.interfaces.li_room`); ``transport``: a factor on each voxel's
    eps-weighted conductivities and diffusivity (a separator's ``1 / tau``,
    :class:`hostsim.electrochemistry.separator.Separator`), None for 1; ``host_top``: the host slab's
    top layer (a graded coating's layers span the slab)."""
    if (current is None) == (voltage is None):
        raise ValueError("give exactly one of current (galvanostatic) or voltage (potentiostatic)")
    dtype = grid.dtype
    c = grid.as_field(concentration)
    eps = 1.0 - s - theta
    eps = jnp.where(eps > 1.0, 1.0, jnp.where(eps < 0.0, 0.0, eps))  # clip with the inside's derivative at the bounds
    eps = cotangent_stored(eps)
    c0 = electrolyte.concentration
    kappa_ref = electrolyte.conductivity(c0)
    pores = jnp.maximum(eps, EPS_FLOOR) if transport is None else jnp.maximum(eps, EPS_FLOOR) * transport
    kappa = electrolyte.conductivity(c) * pores / kappa_ref
    kappa_d = electrolyte.diffusional_conductivity(c) * pores / kappa_ref
    h2 = grid.voxel_size**2
    # ln(c / c0), not ln c: the operator forms diag x u - (neighbours), so its float32 round-off is
    # eps x diag x |u|. With u = ln c ~ 6.9 that is a spurious source in every cell, the same in
    # every uniform cell: in a layered rGO host it drove a spurious ionic current through the free
    # electrolyte and V 0.4 % off float64 (docs/solver.md). A constant shift leaves L_D(u) - rhs
    # unchanged (Neumann sides, the Dirichlet value shifted alike), and ln(c / c0) is exact at c0.
    # Stored before the operator reads it at seven offsets, else XLA recomputes the logarithm in each
    # (docs/performance.md: wall time of `hostsim simulate`)
    ln_c = materialized(_log_ratio(c, c0, electrolyte.c_floor))
    projected = grid.length[0] * grid.length[1]
    c_top = top.face_concentration(grid, c, electrolyte.diffusivity(c) * pores, electrolyte,
                                   0.0 if current is None else current, projected)
    op_d, rhs_d = assemble(grid, kappa_d, Neumann(0.0), Dirichlet(_log_ratio(c_top, c0, electrolyte.c_floor)))
    diffusion_source = (op_d(ln_c) - rhs_d) / h2  # L_D(ln(c/c0)) / kappa_ref = L_D(ln c) / kappa_ref [V/m²]
    stripping = (jnp.asarray(current) < 0) if current is not None else (jnp.asarray(voltage) > 0)
    areas, ls, covers = interface_faces(grid, s, k, l, theta, attached, stripping, li_excluded)
    films = None if kinetics.films is None else tuple(kinetics.films.face_resistances(grid, covers, collector_layers,
                                                                                         host_top))
    cracks = None if kinetics.films is None else kinetics.films.crack_shares(grid, covers, collector_layers, host_top)

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
        v = eta0 - kinetics.nucleation_overpotential_bare
        if films is not None:  # and the coatings' mean drop
            v = v - j * sum(jnp.sum(a * f) for a, f in zip(areas, films)) / safe_area
        v = v.astype(dtype)
        if voltage_guess is not None:  # a warm start where it is finite (NaN: no guess)
            guess = jnp.asarray(voltage_guess, dtype)
            v = jnp.where(jnp.isfinite(guess), guess, v)
    op0, rhs0 = assemble(grid, kappa, Neumann(0.0), Dirichlet(0.0))
    resistance, salt = interface.half_cell(grid, electrolyte, c, eps)
    problem = PotentialProblem(grid, op0, rhs0 + h2 * diffusion_source, tuple(areas), tuple(ls), tuple(covers), c,
                               resistance, salt, kinetics, jnp.asarray(kappa_ref, dtype),
                               None if current is None else jnp.asarray(current, dtype), films,
                               None if cracks is None else tuple(cracks))
    return problem, phi, v, c_top, projected


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
    border_guess=None,
    top: AbstractCellTop = Reservoir(),
    attached=None,
    newton: AbstractNewton = AdaptiveNewton(),
    solver: PCG = PCG(rtol=1e-8),
    interface=FaceInterface(),
    collector_layers: int = 1,
    li_excluded=None,
    host_top: int | None = None,
) -> PotentialSolution:
    """Solve for ``phi_e`` (and ``V`` under galvanostatic control).

    Args:
        s, k, l, theta: host and Li fields on ``grid``.
        concentration: salt concentration [mol/m³].
        current: total plating current [A] (galvanostatic; > 0 plates), or
        voltage: electrode potential [V] vs the reservoir (potentiostatic). Exactly one.
        phi_guess, voltage_guess: warm start (a NaN voltage guess means none).
        border_guess: warm start of Newton's ``A^-1 dF/dV`` (the last step's ``border_solution``).
        top: an :class:`~hostsim.electrochemistry.cell.AbstractCellTop`: :class:`~hostsim.electrochemistry.cell.Reservoir`
            (default) or :class:`~hostsim.electrochemistry.cell.LithiumCounterElectrode`.
        attached: boolean field of cells whose conductor is at ``V`` (:mod:`hostsim.numerics.connectivity`);
            ``None``: every conductor (callers that know the host is connected).
        newton: an :class:`~hostsim.numerics.newton.AbstractNewton`: :class:`~hostsim.numerics.newton.AdaptiveNewton`
            (default: stops on its tolerances, implicit derivative) or :class:`~hostsim.numerics.newton.FixedNewton`
            (a fixed count, differentiated through the iterates).
        solver: the inner PCG (its ``rtol`` is the tightest inner tolerance).
        interface: :class:`FaceInterface` (default: the reaction on the interface face, second
            order in h) or :class:`CentreInterface` (at the electrolyte cell's centre, first order).
        collector_layers: the collector's layers at z = 0 (a ``collector`` coating covers their surface).
        li_excluded: open volume fraction that passes ions but takes no Li metal (a mesoporous shell's),
            ``None``: none (:func:`hostsim.electrochemistry.interfaces.li_room`).
        host_top: the host slab's top layer (needed by a graded coating, whose layers span the slab).
    """
    problem, phi, v, c_top, projected = potential_problem(
        grid, s, k, l, theta, concentration, electrolyte, kinetics, current=current, voltage=voltage,
        phi_guess=phi_guess, voltage_guess=voltage_guess, top=top, attached=attached, interface=interface,
        collector_layers=collector_layers, li_excluded=li_excluded, host_top=host_top)
    return solve_problem(problem, phi, v, c_top=c_top, top=top, border_guess=border_guess, newton=newton,
                         solver=solver)


def solve_problem(problem: PotentialProblem, phi, v, *, c_top, top: AbstractCellTop = Reservoir(), border_guess=None,
                  newton: AbstractNewton = AdaptiveNewton(), solver: PCG = PCG(rtol=1e-8)) -> PotentialSolution:
    """:func:`solve_potential` for a built :class:`PotentialProblem` (from :func:`potential_problem`)
    from ``(phi, V)``: a caller that solves one state at two currents builds the problem once."""
    grid = problem.grid
    projected = grid.length[0] * grid.length[1]
    # Newton's last residual evaluated the reaction and face currents (with their derivative): not again
    phi, v, stats, border, (r, currents) = newton.solve(problem, phi, v, solver, border_guess)
    passed = jnp.sum(r) * grid.voxel_size**3
    current = problem.current
    # (a rest asks for no current: its net current is Newton's to keep at zero, not a ratio)
    current_error = 0.0 if current is None else jnp.where(current != 0, (passed - current) / jnp.where(
        current != 0, current, 1.0), 0.0)
    # the counter electrode carries the current that passed (not the requested one, which an
    # electrode out of Li cannot pass)
    eta_ce = jnp.asarray(top.overpotential(problem.kinetics, passed, projected, c_top), grid.dtype)
    return PotentialSolution(phi, v, r, tuple(currents), problem.areas, problem.covers, stats.residual,
                             current_error, eta_ce, v - eta_ce, stats, jnp.asarray(projected, grid.dtype), border)
