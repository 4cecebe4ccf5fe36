"""Preconditioned conjugate gradients with an implicit (adjoint) derivative.

``linear_solve(operator, rhs, solver=PCG(...))`` solves ``A u = b`` for a symmetric positive
definite :class:`~hostsim.operators.DiffusionOperator`. Derivatives are taken with
``jax.lax.custom_linear_solve``: the forward solve is a black box, and the tangent/cotangent
of the solution is obtained from *one more solve with the same operator* (the operator is
symmetric, so the transpose solve is the solve), plus the derivative of ``A u`` with respect to
the coefficients. Iterations are never unrolled or differentiated, so memory does not grow
with the iteration count.

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

from .multigrid import Multigrid
from .operators import DiffusionOperator, isolated


class SolveStats(eqx.Module):
    """Health of one linear solve (arrays, so they batch under ``vmap``)."""

    iterations: jax.Array
    relative_residual: jax.Array
    converged: jax.Array


def _vdot(a, b):
    return jnp.sum(a * b)


class PCG(eqx.Module):
    """Preconditioned conjugate gradients.

    Attributes:
        rtol: relative tolerance on the 2-norm of the residual.
        atol: absolute tolerance (same units as the right-hand side).
        max_steps: iteration cap; reaching it without converging is an error.
        preconditioner: an object with ``build(operator) -> callable`` (``Multigrid()``,
            ``Jacobi()``, ``Identity()``).
    """

    rtol: float = 1e-6
    atol: float = 0.0
    max_steps: int = 500
    preconditioner: eqx.Module = Multigrid()

    def solve(self, op: DiffusionOperator, b: jax.Array, rtol_scale: jax.Array | float = 1.0):
        """Solve ``op(x) = b`` from ``x = 0`` to ``||r|| <= rtol * rtol_scale * ||b|| + atol``.

        Returns ``(x, stats)``; ``stats.relative_residual`` is ``||r|| / (rtol_scale ||b||)``.
        """
        precond = self.preconditioner.build(op)
        b_norm = jnp.sqrt(_vdot(b, b)) * rtol_scale
        tol = self.rtol * b_norm + self.atol
        x = jnp.zeros_like(b)
        r = b
        z = precond(r)
        p = z
        rz = _vdot(r, z)
        r_norm = jnp.sqrt(_vdot(r, r))

        def cond(state):
            _, _, _, _, r_norm, k = state
            return (r_norm > tol) & (k < self.max_steps)

        def body(state):
            x, r, p, rz, _, k = state
            ap = isolated(op, p)
            pap = _vdot(p, ap)
            alpha = rz / jnp.where(pap > 0, pap, 1.0)
            x = x + alpha * p
            r = r - alpha * ap
            z = precond(r)
            rz_new = _vdot(r, z)
            beta = rz_new / jnp.where(rz != 0, rz, 1.0)
            p = z + beta * p
            return x, r, p, rz_new, jnp.sqrt(_vdot(r, r)), k + 1

        state = (x, r, p, rz, r_norm, jnp.asarray(0, jnp.int32))
        x, r, _, _, r_norm, k = jax.lax.while_loop(cond, body, state)
        safe_b = jnp.where(b_norm > 0, b_norm, 1.0)
        rel = jnp.where(b_norm > 0, r_norm / safe_b, r_norm)
        converged = (r_norm <= tol) & jnp.isfinite(r_norm)
        return x, SolveStats(k, rel, converged)


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
    ``u0 + d`` returned; the tolerance stays relative to ``||rhs||`` (``rtol`` is scaled by
    ``||rhs|| / ||rhs - op(u0)||``), so a good guess saves iterations. The tangent and adjoint
    solves reuse that scaled (tighter) tolerance: never looser than asked. ``u`` does not
    depend on ``u0``.

    Returns ``(u, stats)``; ``stats.relative_residual`` is relative to ``||rhs||``. With
    ``throw=True`` a non-converged solve raises at run time.
    """
    if initial_guess is None:
        b, scale = rhs, 1.0
    else:
        b = rhs - op(initial_guess)
        b_norm = jnp.sqrt(_vdot(b, b))
        scale = jax.lax.stop_gradient(jnp.sqrt(_vdot(rhs, rhs)) / jnp.where(b_norm > 0, b_norm, 1.0))

    def matvec(u):
        return op(u)

    def solve(_matvec, b):
        # The operator is closed over (rather than rebuilt from _matvec) so that the
        # multigrid hierarchy can be built from its coefficient arrays.
        return solver.solve(jax.lax.stop_gradient(op), b, scale)

    u, stats = jax.lax.custom_linear_solve(
        matvec, b, solve, symmetric=True, has_aux=True
    )
    if initial_guess is not None:
        u = u + initial_guess
    if throw:
        u = eqx.error_if(
            u,
            ~stats.converged,
            "hostsim.linear_solve: PCG did not converge (raise max_steps, loosen rtol, or check "
            "that the operator is positive definite: floating clusters must be masked)",
        )
    return u, stats
