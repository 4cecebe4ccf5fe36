"""Preconditioned conjugate gradients with an implicit (adjoint) derivative.

``linear_solve(operator, rhs, solver=PCG(...))`` solves ``A u = b`` for a symmetric positive
definite :class:`~hostsim.numerics.operators.DiffusionOperator`. Derivatives are implicit: a
``jax.custom_jvp`` around the forward solve (a black box, optionally started from an initial
guess) whose tangent ``du = A^-1 (db - dA u)`` is a ``jax.lax.custom_linear_solve``; reverse
mode transposes it into *one more solve with the same operator* (symmetric, so the transpose
solve is the solve) plus the vector-Jacobian product of ``A u`` with respect to the
coefficients. Iterations are never unrolled or differentiated, so memory does not grow with the
iteration count.

Convergence: stop when ``||b - A u||_2 <= rtol ||b||_2 + atol`` (recursive residual) or after
``max_steps``. The returned :class:`SolveStats` carries the iteration count, the final
relative residual and a ``converged`` flag; with ``throw=True`` (default) a solve that did not
converge raises an error at run time (``equinox.error_if``, which works under ``jit`` and
``vmap``), so an unconverged field is never returned silently.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.ad_checkpoint import checkpoint_name

from hostsim.numerics.multigrid import AbstractPreconditioner, Multigrid
from hostsim.numerics.operators import DiffusionOperator, isolated


class SolveStats(eqx.Module):
    """Health of one linear solve (arrays, so they batch under ``vmap``)."""

    iterations: jax.Array
    relative_residual: jax.Array
    converged: jax.Array


SOLUTION_NAME = "hostsim.linear_solution"  # jax.ad_checkpoint name of a solve's primal solution


def _vdot(a, b):
    return jnp.sum(a * b)


class PCG(eqx.Module):
    """Preconditioned conjugate gradients.

    Attributes:
        rtol: relative tolerance on the 2-norm of the residual.
        atol: absolute tolerance (same units as the right-hand side).
        max_steps: iteration cap; reaching it without converging is an error.
        preconditioner: an :class:`~hostsim.numerics.multigrid.AbstractPreconditioner`
            (``Multigrid()``, ``Jacobi()``, ``Identity()``).
        derivative_rtol: relative tolerance of the implicit derivative's solves (tangent or
            adjoint, relative to their own right-hand sides); ``None``: ``rtol``. Never tighter
            than ``rtol``.
    """

    rtol: float = 1e-6
    atol: float = 0.0
    max_steps: int = 500
    preconditioner: AbstractPreconditioner = Multigrid()
    derivative_rtol: float | None = None

    def __check_init__(self):
        if not (0.0 <= self.rtol < 1.0 and 0.0 <= self.atol < float("inf")):
            raise ValueError(f"PCG needs 0 <= rtol < 1 and finite atol >= 0; got rtol={self.rtol}, atol={self.atol}")
        if self.rtol == 0.0 and self.atol == 0.0:
            raise ValueError("PCG needs rtol > 0 or atol > 0")
        if int(self.max_steps) < 1:
            raise ValueError(f"PCG.max_steps must be >= 1; got {self.max_steps}")
        if self.derivative_rtol is not None and not 0.0 < self.derivative_rtol < 1.0:
            raise ValueError(f"PCG.derivative_rtol must be in (0, 1); got {self.derivative_rtol}")

    @property
    def derivative_tolerance(self) -> float:
        """The derivative's relative tolerance: ``derivative_rtol``, never tighter than ``rtol``."""
        return self.rtol if self.derivative_rtol is None else max(self.derivative_rtol, self.rtol)

    def solve(self, op: DiffusionOperator, b: jax.Array, rtol_scale: jax.Array | float = 1.0, built=None):
        """Solve ``op(x) = b`` from ``x = 0`` to ``||r|| <= rtol * rtol_scale * ||b|| + atol``.

        ``built``: the preconditioner already built for ``op`` (``self.preconditioner.build(op)``),
        for callers that solve twice with one operator (Newton's two solves per iteration).

        Returns ``(x, stats)``; ``stats.relative_residual`` is ``||r|| / (rtol_scale ||b||)``.
        """
        return _solve(self, op, b, jnp.asarray(rtol_scale, b.dtype), built)

    def _solve(self, op: DiffusionOperator, b: jax.Array, rtol_scale: jax.Array, built=None):
        precond = self.preconditioner.build(op) if built is None else built
        b_norm = jnp.sqrt(_vdot(b, b)) * rtol_scale
        tol = self.rtol * b_norm + self.atol
        x = jnp.zeros_like(b)
        r = b
        r_norm = jnp.sqrt(_vdot(r, r))

        def cond(state):
            _, _, _, _, r_norm, k = state
            return (r_norm > tol) & (k < self.max_steps)

        # The preconditioner is applied at the top of the iteration, to the residual the stopping
        # test has just found too large: k iterations cost k multigrid cycles, not k + 1 (the
        # textbook loop preconditions the last residual too, for a direction it never takes); the
        # same iterates (docs/solver.md: k multigrid cycles for k iterations).
        def body(state):
            x, r, p, rz_old, _, k = state
            z = precond(r)
            rz = _vdot(r, z)
            beta = jnp.where(k > 0, rz / jnp.where(rz_old != 0, rz_old, 1.0), 0.0)
            p = z + beta * p
            ap = isolated(op, p)
            pap = _vdot(p, ap)
            alpha = rz / jnp.where(pap > 0, pap, 1.0)
            x = x + alpha * p
            r = r - alpha * ap
            return x, r, p, rz, jnp.sqrt(_vdot(r, r)), k + 1

        state = (x, r, jnp.zeros_like(b), jnp.zeros((), b.dtype), r_norm, jnp.asarray(0, jnp.int32))
        x, r, _, _, r_norm, k = jax.lax.while_loop(cond, body, state)
        safe_b = jnp.where(b_norm > 0, b_norm, 1.0)
        rel = jnp.where(b_norm > 0, r_norm / safe_b, r_norm)
        converged = (r_norm <= tol) & jnp.isfinite(r_norm)
        return x, SolveStats(k, rel, converged)


# One trace per solver and operator shape: the solve sites of a plating step see the same shapes, and
# jitted they share one trace of the multigrid cycle instead of one each; tracing is paid on every
# command (docs/solver.md: one trace per solve shape)
_solve = eqx.filter_jit(PCG._solve)


def _solve_from_guess(solver: PCG, op: DiffusionOperator, rhs: jax.Array, guess: jax.Array):
    """Primal solve: ``guess + d`` with ``op(d) = rhs - op(guess)`` to ``rtol`` relative to ``||rhs||``."""
    b = rhs - op(guess)
    b_norm = jnp.sqrt(_vdot(b, b))
    scale = jnp.sqrt(_vdot(rhs, rhs)) / jnp.where(b_norm > 0, b_norm, 1.0)
    d, stats = solver.solve(op, b, scale)
    return guess + d, stats


def _implicit_solve(solver: PCG):
    """``(op, rhs, guess) -> (u, stats)`` with the implicit derivative of ``u = op^-1 rhs``.

    The primal solve starts from ``guess`` with its tolerance relative to ``||rhs||``. The
    derivative ``du = op^-1 (drhs - dop u)`` is a separate ``custom_linear_solve`` whose
    tolerance is relative to *its own* right-hand side (``rtol``, unscaled), so a good primal
    guess never loosens the tangent or adjoint solve. ``u`` does not depend on ``guess``.
    """

    @jax.custom_jvp
    def solve(op, rhs, guess):
        return _solve_from_guess(solver, op, rhs, guess)

    @solve.defjvp
    def solve_jvp(primals, tangents):
        op, rhs, guess = primals
        d_op, d_rhs, _ = tangents
        u, stats = _solve_from_guess(solver, op, rhs, guess)
        u = checkpoint_name(u, SOLUTION_NAME)  # saveable: a rematerialised caller need not solve again
        _, d_op_u = jax.jvp(lambda o: o(u), (op,), (d_op,))
        du = jax.lax.custom_linear_solve(
            op,
            d_rhs - d_op_u,
            lambda _matvec, b: solver.solve(jax.lax.stop_gradient(op), b, solver.derivative_tolerance / solver.rtol)[0],
            symmetric=True,
        )
        zero_stats = SolveStats(
            np.zeros((), dtype=jax.dtypes.float0),
            jnp.zeros_like(stats.relative_residual),
            np.zeros((), dtype=jax.dtypes.float0),
        )
        return (u, stats), (du, zero_stats)

    return solve


def linear_solve(
    op: DiffusionOperator,
    rhs: jax.Array,
    solver: PCG = PCG(),
    *,
    initial_guess: jax.Array | None = None,
    throw: bool = True,
) -> tuple[jax.Array, SolveStats]:
    """Solve ``op(u) = rhs``; differentiable in ``rhs`` and in the arrays defining ``op``.

    ``initial_guess`` (optional) ``u0``: the correction ``op(d) = rhs - op(u0)`` is solved and
    ``u0 + d`` returned, with the tolerance still relative to ``||rhs||`` (``rtol`` scaled by
    ``||rhs|| / ||rhs - op(u0)||``), so a good guess saves iterations. Derivatives come from
    separate solves at the unscaled ``rtol`` relative to their own right-hand sides
    (``_implicit_solve``); ``u`` does not depend on ``u0``.

    Returns ``(u, stats)``; ``stats.relative_residual`` is relative to ``||rhs||``. With
    ``throw=True`` a non-converged solve raises at run time.
    """
    guess = jnp.zeros_like(rhs) if initial_guess is None else initial_guess
    u, stats = _implicit_solve(solver)(op, rhs, jax.lax.stop_gradient(guess))
    if throw:
        u = eqx.error_if(
            u,
            ~stats.converged,
            "hostsim.linear_solve: PCG did not converge (raise max_steps, loosen rtol, or check "
            "that the operator is positive definite: floating clusters must be masked)",
        )
    return u, stats
