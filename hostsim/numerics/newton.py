"""Newton solvers for the quasi-static potential and their implicit derivative.

The potential problem (:mod:`hostsim.electrochemistry.potential`) is a nonlinear system ``F(phi, V; p) = 0``
(charge balance in every cell) bordered, under galvanostatic control, by one scalar equation
``G(phi, V; p) = sum_faces A i - I = 0``. Its Jacobian is

    [ A      b  ]     A = dF/dphi: the diffusion operator plus the BV slope on the diagonal (SPD)
    [ g^T    gv ]     b = dF/dV,  g = dG/dphi,  gv = dG/dV

and is solved by a Schur complement: two SPD multigrid-PCG solves (``A x1 = -F``,
``A x2 = b``) and a scalar for ``dV``. Two strategies, passed as objects (:class:`AbstractNewton`):

* :class:`AdaptiveNewton` (the default): a ``lax.while_loop`` that stops when the charge-balance
  residual and the current error are below stated tolerances (or at a cap); inexact inner
  solves with Eisenstat–Walker forcing (loose while far from the root, tight at the end, never
  tighter than the outer tolerance needs); ``x2`` warm-started from the previous iteration (or step)
  and not solved again while its staleness cannot cost the charge-balance tolerance. Its
  derivative is *implicit*: a ``custom_jvp`` whose tangent is one bordered solve with the
  converged Jacobian (``jax.lax.custom_linear_solve``), so reverse mode costs one adjoint
  bordered solve, never a replay of the iterates. That solve eliminates ``dV`` instead of
  forming ``A^-1 b``: one PCG solve of ``A`` plus a rank-one term (:class:`Condensed`).
  Memory does not grow with the Newton or PCG work.
* :class:`FixedNewton` — the earlier scheme: a fixed number of iterations, differentiated
  through every iterate. Kept as the reference the benchmarks compare against.

Under ``vmap`` a batched ``while_loop`` runs until its slowest member has converged; the other
members' iterates stay converged (a converged Newton step is a no-op up to round-off), and the
reported iteration counts are per member.
"""

from __future__ import annotations

import abc
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.ad_checkpoint import checkpoint_name

from hostsim.numerics.linsolve import PCG, SolveStats

SOLUTION_NAME = "hostsim.potential_solution"  # jax.ad_checkpoint name of the converged (phi, V)
from hostsim.numerics.operators import DiffusionOperator, fusion_barriers


class NewtonStats(eqx.Module):
    """Health of one Newton solve (arrays, so they batch under ``vmap``)."""

    iterations: jax.Array  # Newton iterations taken
    linear_iterations: jax.Array  # PCG iterations summed over every inner solve
    residual: jax.Array  # final relative charge-balance residual (max-norm over the size of the terms)
    current_error: jax.Array  # final |G| / max(|I|, sum |A i|) (0 under potentiostatic control)
    converged: jax.Array
    # dG/dV along the linear response of phi (the Schur complement gv - g.A^-1 b) at the last
    # iteration [A/(m² V)]: dV/dI = 1 / (A_projected x this). NaN when no iteration ran. It lets a
    # caller predict V at a nearby current
    current_slope: jax.Array


class Bordered(eqx.Module):
    """The Newton Jacobian at one point (see the module docstring); ``border`` is None under
    potentiostatic control (V given: only ``A``)."""

    operator: DiffusionOperator
    b: jax.Array | None
    g: jax.Array | None
    gv: jax.Array | None
    g_per_b: jax.Array | None = None  # g = g_per_b b (both are the BV slope per cell): A^-1 g costs nothing more

    def matvec(self, x):
        """The Jacobian applied to ``(dphi, dV)`` (linear; transposable)."""
        dphi, dv = x
        if self.b is None:
            return self.operator(dphi), jnp.zeros_like(dv)
        return self.operator(dphi) + self.b * dv, jnp.sum(self.g * dphi) + self.gv * dv


def _pcg(solver: PCG, op, rhs, tol, guess=None, built=None):
    """PCG from ``guess`` to ``||r|| <= tol ||rhs||`` (tol >= solver.rtol); returns (x, iterations).
    ``built``: ``op``'s preconditioner, when the caller has built it already."""
    rhs_norm = jnp.sqrt(jnp.sum(rhs * rhs))
    if guess is None:
        x, stats = solver.solve(op, rhs, tol / solver.rtol, built)
        return x, stats.iterations
    # a zero right-hand side has the exact solution 0: drop the guess (else the tolerance, relative
    # to ||rhs|| = 0, is unreachable and float32 CG runs to its cap into NaN; it happens when the
    # whole surface sits below the nucleation barrier for one Newton iterate, so b = A^-1 0)
    guess = jnp.where(rhs_norm > 0, guess, 0.0)
    b = rhs - op(guess)
    b_norm = jnp.sqrt(jnp.sum(b * b))
    scale = rhs_norm / jnp.where(b_norm > 0, b_norm, 1.0)
    d, stats = solver.solve(op, b, tol / solver.rtol * scale, built)
    return guess + d, stats.iterations


def _border_step(jac: Bordered, rhs_v, x1, x2):
    """``dV`` of the bordered system from ``x1 = A^-1 rhs_phi`` and ``x2 = A^-1 b``."""
    denominator = jac.gv - jnp.sum(jac.g * x2)
    # no reactive surface left (e.g. all Li stripped): dV is large and finite (then clipped), not NaN
    tiny = jnp.sqrt(jnp.finfo(x1.dtype).tiny)
    denominator = jnp.where(jnp.abs(denominator) > tiny, denominator, -tiny)
    return (rhs_v - jnp.sum(jac.g * x1)) / denominator


class Condensed(eqx.Module):
    """The bordered Jacobian with ``dV`` eliminated: ``A - (c / gv) b b^T`` where ``g = c b``
    (:attr:`Bordered.g_per_b`).

    From the border row, ``dV = (r_v - g.dphi) / gv``; put into the first row it leaves
    ``(A - b g^T / gv) dphi = r_phi - b r_v / gv``, and ``b g^T = c b b^T`` is symmetric, as is
    the transposed system's ``A - g b^T / gv``: one matrix for the tangent and the adjoint. It is
    positive definite where the current falls with V once phi has followed (the Schur complement
    ``gv - g.A^-1 b < 0``; by Sherman-Morrison its eigenvalues stay positive exactly then), so PCG
    with ``A``'s own multigrid solves it: a rank-one change of the preconditioned spectrum, about
    one more iteration. No ``A^-1 b`` is needed, unlike the Schur complement, whose tight ``A^-1 b``
    cost more PCG iterations than the adjoint itself (docs/electrochemistry.md: implicit derivative)."""

    operator: DiffusionOperator
    b: jax.Array
    weight: jax.Array  # c / gv (>= 0 for the potential problem: both negative), 0 without a reactive surface

    def __call__(self, x):
        return self.operator(x) - (self.weight * jnp.sum(self.b * x)) * self.b


def _safe_gv(jac: Bordered):
    """``gv``, kept off zero (no reactive surface: ``dV`` is large and finite, then clipped, not NaN)."""
    tiny = jnp.sqrt(jnp.finfo(jac.b.dtype).tiny)
    return jnp.where(jnp.abs(jac.gv) > tiny, jac.gv, -tiny)


def _condensed(jac: Bordered) -> Condensed:
    weight = jnp.where(jnp.abs(jac.gv) > 0, jac.g_per_b / _safe_gv(jac), 0.0).astype(jac.b.dtype)
    return Condensed(jac.operator, jac.b, weight)


def _bordered_solve(jac: Bordered, rhs_phi, rhs_v, solver, tol, built):
    """``[[A, b], [g^T, gv]] (dphi, dV) = (rhs_phi, rhs_v)``: one PCG solve of the condensed system."""
    gv = _safe_gv(jac)
    dphi, _ = _pcg(solver, _condensed(jac), rhs_phi - jac.b * (rhs_v / gv), tol, built=built)
    return dphi, (rhs_v - jnp.sum(jac.g * dphi)) / gv


def _bordered_solve_transpose(jac: Bordered, rhs_phi, rhs_v, solver, tol, built):
    """The transposed system ``[[A, g], [b^T, gv]] (l, m) = (rhs_phi, rhs_v)`` (A symmetric): the
    same condensed matrix."""
    gv = _safe_gv(jac)
    l, _ = _pcg(solver, _condensed(jac), rhs_phi - jac.g * (rhs_v / gv), tol, built=built)
    return l, (rhs_v - jnp.sum(jac.b * l)) / gv


class AbstractNewton(eqx.Module):
    """A Newton strategy for the potential problem: ``solve(problem, phi, v, solver, border)``."""

    @abc.abstractmethod
    def solve(self, problem, phi, v, solver: PCG, border=None):
        """``(phi, V, stats, border, at_root)`` at the root of ``problem`` from the guess ``(phi, V)``.

        ``problem`` has, among others, ``residual(phi, v, slope)`` (seven outputs, the last what it
        reports at the point: the reaction and the face currents), ``jacobian(dr)`` (a
        :class:`Bordered`) and ``current`` (None under potentiostatic control). ``border``: a guess
        of ``A^-1 b`` (may be ignored); the returned ``border`` is a warm start for the next solve
        (no derivative). ``at_root``: the residual's last output at the returned point,
        differentiable as the root is."""


def _slope_at(problem, phi, v, dr, k):
    """dR_v/deta where Newton's iteration ``k`` needs it: the first iteration's (``dr``) came with
    the measure before the loop; later ones are evaluated here, since an iteration's own measure
    leaves it out (most warm steps stop after one iteration, and then it is never needed; the
    residual is about a third cheaper without it: docs/solver.md, the profile of a forward step)."""
    if fusion_barriers():
        return jax.lax.cond(k == 0, lambda: dr, lambda: problem.residual(phi, v)[5])
    # on an accelerator a branch reads its predicate back to the host: evaluating the slope every
    # iteration (elementwise work) is cheaper than that round trip
    return jnp.where(k == 0, dr, problem.residual(phi, v)[5])


class AdaptiveNewton(AbstractNewton):
    """Inexact Newton with a stopping test and an implicit derivative.

    Attributes:
        rtol: charge-balance tolerance: ``max|F| <= rtol x`` the size of the terms that balance
            (``max|diag(A0) phi| + max|source| + max|reaction|``). ``None``: 1e-5 in float32 (its
            round-off floor is ~1e-6), 1e-9 in float64.
        current_rtol: current tolerance (galvanostatic): ``|sum A i - I| <= current_rtol x
            max(|I|, sum |A i|)``. ``None``: 1e-5 in float32, 1e-10 in float64.
        max_steps: cap on Newton iterations (a capped solve is reported, not hidden).
        forcing_max, forcing_gamma: Eisenstat–Walker forcing terms (choice 2: ``eta_k = gamma
            (||F_k|| / ||F_k-1||)^2``, at most ``forcing_max``, at least what the outer tolerance
            needs and never below the PCG's ``rtol``).
        initial_forcing: the first iteration's forcing term. A step warm-started from the last
            one begins inside Newton's quadratic region, where the first iterate's error is the
            inner solve's: 0.01 lets one iteration meet the tolerances (a third faster than 0.1 on
            the default skeleton, the same Li field; docs/solver.md: measurements behind the code).
        max_voltage_step: largest change of V per iteration [V] (exponential kinetics overshoot).
    """

    rtol: float | None = None
    current_rtol: float | None = None
    # warm steps take 1-3; the first solve on bare Cu walks the barrier's ramp in ~10, and under a
    # coating in 30-40 (a 200 nm LiPON film on a skeleton at 4 mA/cm²: 32-36; docs/electrochemistry.md)
    max_steps: int = 60
    forcing_max: float = 0.1
    initial_forcing: float = 0.01
    forcing_gamma: float = 0.9
    max_voltage_step: float = 0.05

    def __check_init__(self):
        for name in ("rtol", "current_rtol"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise ValueError(f"AdaptiveNewton.{name} must be in (0, 1); got {value}")
        if not 0.0 < self.initial_forcing <= self.forcing_max < 1.0:
            raise ValueError(f"AdaptiveNewton needs 0 < initial_forcing <= forcing_max < 1; got "
                             f"{self.initial_forcing}, {self.forcing_max}")
        if int(self.max_steps) < 1:
            raise ValueError(f"AdaptiveNewton.max_steps must be >= 1; got {self.max_steps}")

    def tolerances(self, dtype):
        single = jnp.dtype(dtype) == jnp.float32
        rtol = self.rtol if self.rtol is not None else (1e-5 if single else 1e-9)
        current_rtol = self.current_rtol if self.current_rtol is not None else (1e-5 if single else 1e-10)
        return rtol, current_rtol

    def solve(self, problem, phi, v, solver: PCG, border=None):
        """``(phi, V, stats, border, at_root)`` at the root of ``problem`` from the guess ``(phi,
        V)``; derivatives with respect to ``problem`` are implicit. ``border``: a guess of ``A^-1 b``
        (the last step's, see :func:`hostsim.electrochemistry.plating.solve_state`); the
        returned ``border`` is the last iteration's ``A^-1 b`` (a warm start, not differentiated).
        ``at_root``: what ``problem.residual`` reported besides the residual at the returned point
        (its seventh output; the potential problem's reaction and face currents), with its implicit
        derivative: its tangent at fixed ``(phi, V)`` plus ``problem.root_slopes`` along the root's
        own tangent. A caller uses it instead of evaluating the same expressions again
        (:func:`hostsim.electrochemistry.potential.solve_problem` does)."""
        phi, v = jax.lax.stop_gradient((phi, v))
        border = jnp.zeros_like(phi) if border is None else jax.lax.stop_gradient(border)
        return _implicit_root(problem, phi, v, border, newton=self, solver=solver)

    def iterate(self, problem, phi, v, solver: PCG, border=None):
        """The Newton loop itself (not differentiated): ``(phi, V, stats, A^-1 b, at_root)``."""
        return self._iterate(problem, phi, v, solver, border)

    def _iterate(self, problem, phi, v, solver: PCG, border=None):
        """The Newton loop; also returns its last ``A^-1 b`` (a warm start for the derivative's and
        for the next step's Newton). ``border``: the starting guess of ``A^-1 b`` (zero if None); the
        last step's saves about a third of the PCG iterations (docs/electrochemistry.md: what one step
        reuses from the last)."""
        rtol, current_rtol = self.tolerances(phi.dtype)
        galvanostatic = problem.current is not None

        def measure(phi, v, slope=True):
            f, g, scale, current_scale, r, dr, at = problem.residual(phi, v, slope)
            res = jnp.max(jnp.abs(f)) / jnp.maximum(scale, jnp.finfo(phi.dtype).tiny)
            cur = jnp.abs(g) / jnp.maximum(current_scale, jnp.finfo(phi.dtype).tiny) if galvanostatic else jnp.zeros_like(res)
            done = (res <= rtol) & (cur <= current_rtol)
            return f, g, dr, res, cur, done, jnp.sqrt(jnp.sum(f * f)), scale, at

        f, g, dr, res, cur, done, norm, scale, at = measure(phi, v)
        x2 = jnp.zeros_like(phi) if border is None else border
        zero = jnp.asarray(0, jnp.int32)
        forcing = jnp.asarray(self.initial_forcing, phi.dtype)
        # a bracket on V: the current decreases monotonically with V (dR/dV <= 0), so G < 0 (too
        # little current) bounds V from above and G > 0 from below. Newton steps that leave the
        # bracket are replaced by bisection. Needed at the nucleation barrier: the gate's ramp
        # makes the linearised current overshoot into the zero-current region below the
        # barrier and back, and Newton did not converge on a bare Cu nanowire host (docs/solver.md:
        # measurements behind the code)
        inf = jnp.asarray(jnp.inf, phi.dtype)
        lo, hi = bracket_update(-inf, inf, v, g, res, cur)
        slope = jnp.asarray(jnp.nan, phi.dtype)
        v_start = v
        state = (phi, v, f, g, dr, res, cur, done, norm, scale, x2, forcing, zero, zero, lo, hi, slope, at,
                 jnp.asarray(False))

        def cond(state):
            done, k = state[7], state[12]
            return (~done) & (k < self.max_steps)

        def body(state):
            phi, v, f, g, dr, res_last, cur_last, _, norm, scale, x2, forcing, k, linear, lo, hi, slope, _, restarted = state
            jac = problem.jacobian(_slope_at(problem, phi, v, dr, k))
            # never solve tighter than the outer tolerance needs (half of it) or the PCG can reach
            floor = 0.5 * rtol * scale / jnp.maximum(norm, jnp.finfo(phi.dtype).tiny)
            tol = jnp.clip(forcing, jnp.maximum(floor, solver.rtol), self.forcing_max)
            built = solver.preconditioner.build(jac.operator)  # once for both solves
            x1, its1 = _pcg(solver, jac.operator, -f, tol, built=built)
            if galvanostatic:
                # x2 = A^-1 b from its warm start (the last iteration's, or the last plating step's)
                # only where that start could cost the tolerance. With x2 stale by e = b - A x2, the
                # Schur step still meets the linearised current constraint exactly (dV is computed
                # with the same x2); what it leaves is the charge-balance residual e dV. So the
                # solve is skipped while max|e| |dV| is below STALE_BORDER_SHARE of the charge-balance
                # tolerance (see there for why a tenth).
                stale = jnp.max(jnp.abs(jac.b - jac.operator(x2))) * jnp.abs(_border_step(jac, -g, x1, x2))
                x2, its2 = jax.lax.cond(
                    stale <= STALE_BORDER_SHARE * rtol * scale, lambda x: (x, zero),
                    lambda x: _pcg(solver, jac.operator, jac.b, tol, guess=x, built=built), x2)
                slope = (jac.gv - jnp.sum(jac.g * x2)).astype(phi.dtype)
                dv = jnp.clip(_border_step(jac, -g, x1, x2), -self.max_voltage_step, self.max_voltage_step)
                target = v + dv
                # past BISECT_AFTER iterations with the current still off by more than BRACKET_CURRENT, a
                # bracketed V is bisected, not extrapolated: next to a nucleation barrier (a ramp a few mV
                # wide) the Newton step can cycle across the ramp for good
                bracketed = jnp.isfinite(lo) & jnp.isfinite(hi)
                stuck = bracketed & (k >= BISECT_AFTER) & (cur_last > BRACKET_CURRENT)
                outside = (target <= lo) | (target >= hi) | stuck
                # with one side bounded, a step past that side goes halfway to it: the other side may never
                # bound V (phi's charge balance short of BRACKET_RESIDUAL there), and Newton then cycles
                half_way = 0.5 * (v + jnp.where(target <= lo, lo, hi))
                bisect = jnp.where(bracketed, 0.5 * (lo + hi), jnp.where(jnp.isfinite(lo) | jnp.isfinite(hi), half_way, target))
                dv = jnp.where(outside, bisect, target) - v
                phi = phi + x1 - x2 * dv
                v = v + dv
            else:
                phi = phi + x1
                its2 = zero
            # A warm start can put Newton where the kinetics overflow (next to a pocket that sealed within a
            # float32 step every iterate was NaN, while a cold start converged; docs/electrochemistry.md:
            # potential). So once, on a non-finite iterate or residual, start again cold: phi = 0, V and
            # x2 from the start, the bracket open.
            restart = (~jnp.isfinite(res_last) | ~jnp.isfinite(v) | ~jnp.all(jnp.isfinite(phi))) & ~restarted
            phi = jnp.where(restart, jnp.zeros_like(phi), phi)
            v = jnp.where(restart, v_start, v)
            x2 = jnp.where(restart, jnp.zeros_like(x2), x2)
            lo, hi = jnp.where(restart, -inf, lo), jnp.where(restart, inf, hi)
            f, g, _, res, cur, done, new_norm, scale, at = measure(phi, v, slope=False)
            lo, hi = bracket_update(lo, hi, v, g, res, cur)
            ratio = new_norm / jnp.maximum(norm, jnp.finfo(phi.dtype).tiny)
            forcing = self.forcing_gamma * ratio**2
            # safeguard (Eisenstat & Walker 1996): do not let the forcing term drop too fast
            forcing = jnp.where(self.forcing_gamma * tol**2 > 0.1, jnp.maximum(forcing, self.forcing_gamma * tol**2),
                                forcing)
            forcing = jnp.where(restart, self.initial_forcing, forcing)
            return (phi, v, f, g, dr, res, cur, done, new_norm, scale, x2, forcing.astype(phi.dtype), k + 1,
                    linear + its1 + its2, lo, hi, slope, at, restarted | restart)

        phi, v, _, _, _, res, cur, done, _, _, x2, _, k, linear, _, _, slope, at, _ = jax.lax.while_loop(cond, body, state)
        return phi, v, NewtonStats(k, linear, res, cur, done, slope), x2, at


# Share of the charge-balance tolerance that a stale x2 = A^-1 b may leave (AdaptiveNewton's body): 0.1
# saves PCG iterations with the same summary numbers; 0.5 saved more but moved the float32 run into a
# pocket that seals within one step (docs/electrochemistry.md: what one step reuses from the last).
STALE_BORDER_SHARE = 0.1

BISECT_AFTER = 8  # Newton iterations before a bracketed V may be bisected (warm steps take 1-3)
BRACKET_RESIDUAL = 1e-2  # phi must balance charge to this (relative) ...
BRACKET_CURRENT = 1e-2  # ... and the current be off by more than this before G's sign bounds V


def bracket_update(lo, hi, v, g, residual, current_error):
    """Tighten the bracket ``(lo, hi)`` on V with the current residual ``g`` at ``v`` — only where
    G's sign is about V: phi balances charge to 1 % and the current is off by more than 1 %.
    (Far from charge balance, G's sign says more about phi; near the root it is round-off and phi's
    last error. A bracket from either stalled Newton: docs/solver.md, measurements behind the code.)"""
    ok = (residual <= BRACKET_RESIDUAL) & (current_error > BRACKET_CURRENT)
    return jnp.where(ok & (g > 0), jnp.maximum(lo, v), lo), jnp.where(ok & (g < 0), jnp.minimum(hi, v), hi)


def _zero_tangent(x):
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, dtype=jax.dtypes.float0)


@eqx.filter_custom_jvp
def _implicit_root(problem, phi, v, border, *, newton: AdaptiveNewton, solver: PCG):
    return newton.iterate(problem, phi, v, solver, border)


@_implicit_root.def_jvp
def _implicit_root_jvp(primals, tangents, *, newton: AdaptiveNewton, solver: PCG):
    problem, phi0, v0, border = primals
    t_problem = tangents[0]
    phi, v, stats, x2_newton, at = newton._iterate(problem, phi0, v0, solver, border)
    # saved for the backward pass under the step policy (hostsim.electrochemistry.plating.SAVED_IN_STEPS): the
    # rematerialised step then never repeats the Newton iterations
    phi, v = checkpoint_name((phi, v), SOLUTION_NAME)
    zero_stats = jax.tree.map(_zero_tangent, stats)
    if t_problem is None or not jax.tree.leaves(t_problem):
        zero_at = jax.tree.map(_zero_tangent, at)
        return (phi, v, stats, x2_newton, at), (jnp.zeros_like(phi), jnp.zeros_like(v), zero_stats,
                                                jnp.zeros_like(phi), zero_at)

    # tangent of the residual and of what it reports at the root (``at``), the solution held fixed: one
    # evaluation, so reverse mode sums the cotangents of the reaction's two uses (in F and G, and in
    # ``at``: the step's Li change and salt sink) before it transposes the kinetics once (before, the
    # reported reaction was differentiated separately and its kinetics transposed twice). ``at`` is
    # evaluated again from the (saved) root, so a rematerialised step never repeats the Newton loop
    def at_fixed_root(p):
        f, g, *_, at_p = p.residual(phi, v, slope=False)
        return f, g, at_p

    (_, _, at), (df, dg, t_at) = eqx.filter_jvp(at_fixed_root, (problem,), (t_problem,))
    # ... and the slopes along which (phi, V) move it: dR_v/deta (the Jacobian's) and the face currents'
    dr, along = problem.root_slopes(phi, v)
    jac = jax.lax.stop_gradient(problem.jacobian(dr))
    galvanostatic = problem.current is not None
    # the derivative's solves (A^-1 b and the tangent or adjoint) to the PCG's derivative tolerance,
    # relative to their own right-hand sides: a good primal never loosens them
    tol = jnp.asarray(solver.derivative_tolerance, phi.dtype)
    built = solver.preconditioner.build(jac.operator)  # A's multigrid, for either system

    def with_root_motion(dphi, dv):
        moved = along(dphi, dv)
        return jax.tree.map(lambda a, b: a + b, t_at, moved)

    if not galvanostatic:
        dphi = jax.lax.custom_linear_solve(jac.operator, -df,
                                           lambda _mv, r: _pcg(solver, jac.operator, r, tol, built=built)[0],
                                           symmetric=True)
        dv = jnp.zeros_like(v)
        return (phi, v, stats, x2_newton, at), (dphi, dv, zero_stats, jnp.zeros_like(phi), with_root_motion(dphi, dv))

    def solve(_matvec, rhs):
        return _bordered_solve(jac, rhs[0], rhs[1], solver, tol, built)

    def transpose_solve(_vecmat, rhs):
        return _bordered_solve_transpose(jac, rhs[0], rhs[1], solver, tol, built)

    # both parts of the right-hand side must be linear in the tangents for reverse mode (a tangent
    # reaching F but not G, e.g. d/d(kappa), leaves dg a constant zero): tie each to the other
    df, dg = df + 0.0 * dg, jnp.asarray(dg, v.dtype) + 0.0 * jnp.sum(df)
    dphi, dv = jax.lax.custom_linear_solve(jac.matvec, (-df, -dg), solve, transpose_solve)
    # the returned A^-1 b is a warm start only (the next step stops its gradient): zero tangent. It is
    # Newton's, so a differentiated run follows the same trajectory as a plain one
    return (phi, v, stats, x2_newton, at), (dphi, dv, zero_stats, jnp.zeros_like(phi), with_root_motion(dphi, dv))


class FixedNewton(AbstractNewton):
    """A fixed number of full Newton iterations, differentiated through every iterate (the
    scheme before :class:`AdaptiveNewton`; kept as the benchmarks' reference).

    Attributes:
        steps: Newton iterations.
        max_voltage_step: largest change of V per iteration [V].
    """

    steps: int = 8
    max_voltage_step: float = 0.05

    def solve(self, problem, phi, v, solver: PCG, border=None):
        """``(phi, V, stats, border, at_root)``; ``border`` (a warm start elsewhere) is ignored: every
        iteration solves from zero, as before, and the returned one is zero. ``at_root`` is the
        last residual's, differentiated through the iterates like the rest."""
        from hostsim.numerics.linsolve import linear_solve

        galvanostatic = problem.current is not None

        def step(carry, _):
            phi, v = carry
            f, g, _, _, _, dr, _ = problem.residual(phi, v)
            jac = problem.jacobian(dr)
            x1, _ = linear_solve(jac.operator, -f, solver, throw=False)
            if not galvanostatic:
                return (phi + x1, v), None
            x2, _ = linear_solve(jac.operator, jac.b, solver, throw=False)
            denominator = jac.gv - jnp.sum(jac.g * x2)
            denominator = jnp.where(jnp.abs(denominator) > 1e-300, denominator, -1e-300)
            dv = jnp.clip((-g - jnp.sum(jac.g * x1)) / denominator, -self.max_voltage_step, self.max_voltage_step)
            return (phi + x1 - x2 * dv, v + dv), None

        (phi, v), _ = jax.lax.scan(step, (phi, v), None, length=self.steps)
        f, g, scale, current_scale, _, _, at = problem.residual(phi, v, slope=False)
        res = jnp.max(jnp.abs(f)) / jnp.maximum(scale, 1e-30)
        cur = jnp.abs(g) / jnp.maximum(current_scale, 1e-30) if galvanostatic else jnp.zeros_like(res)
        steps = jnp.asarray(self.steps, jnp.int32)
        slope = jnp.asarray(jnp.nan, phi.dtype)
        return (phi, v, NewtonStats(steps, jnp.asarray(-1, jnp.int32), res, cur, jnp.isfinite(res), slope),
                jnp.zeros_like(phi), at)


NewtonSolver = AbstractNewton  # the earlier name of the type (a union of the two strategies)

__all__ = ["AbstractNewton", "AdaptiveNewton", "Bordered", "FixedNewton", "NewtonStats", "NewtonSolver"]
