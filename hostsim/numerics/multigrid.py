"""Geometric multigrid V-cycle preconditioner for :class:`~hostsim.numerics.operators.DiffusionOperator`.

Design (why it copes with 1e6 contrast and insulating inclusions):

* **Coefficient-aware (Galerkin) coarsening.** Cells are aggregated in 2x2x2 blocks with
  piecewise-constant prolongation ``P`` and restriction ``R = P^T``. The Galerkin product
  ``R A P`` of a 7-point operator is again a 7-point operator whose face conductance between two
  blocks is the *sum* of the fine face conductances that cross between them and whose diagonal
  is the sum of the fine diagonals. Insulating faces therefore stay insulating on every level,
  a blocked channel is blocked on the coarse grid too, and connectivity is never invented.
  Because piecewise-constant interpolation of a smooth error is only first order, the
  Galerkin coarse operator is twice too stiff for smooth errors; the coarse face conductances
  are multiplied by ``coarse_scale`` (default 1/2, which reproduces the rediscretised coarse
  operator exactly for a homogeneous medium; the over-correction argument of Braess and of
  Notay's aggregation multigrid).
* **Point smoother in the scaled (Jacobi) sense**, so a cell's update is divided by its own
  total conductance: contrast between cells does not enter the smoothing factor. Default: two
  damped-Jacobi sweeps before and after (symmetric, so the cycle is an SPD preconditioner).
* **W-cycle** by default (each coarse level visited twice): piecewise-constant aggregation
  loses accuracy level by level in a V-cycle; in 3-D a W-cycle costs only ~1.33x a V-cycle.
* **Odd sizes** are padded by one decoupled cell per coarsening (periodic wrap faces are moved
  onto the pad cell so the coarse wrap stays right).
* **Coarsest level** (<= ``coarsest_size`` = 64 cells) is solved exactly with a symmetric
  eigen-decomposition computed at set-up (pseudo-inverse, so a floating cluster that was not
  masked cannot produce inf/NaN).

The whole hierarchy is a pytree built by pure JAX functions, so it works under ``jit`` and
``vmap``; it is rebuilt from the operator in every solve (set-up costs a few fine-level
operator applications).
"""

from __future__ import annotations

import abc
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_batching import sequential_vmap
import numpy as np

from hostsim.numerics import operators
from hostsim.numerics.operators import DiffusionOperator, isolated


def _coarse_shape(shape):
    return tuple((n + 1) // 2 if n > 1 else 1 for n in shape)


def _pad_even(x: jax.Array, d: int) -> jax.Array:
    n = x.shape[d]
    if n == 1 or n % 2 == 0:
        return x
    pad = [(0, 0)] * 3
    pad[d] = (0, 1)
    return jnp.pad(x, pad)


def _pad_all(x: jax.Array) -> jax.Array:
    for d in range(3):
        x = _pad_even(x, d)
    return x


def _pad_faces(g: jax.Array, d: int) -> jax.Array:
    """Pad a wrap-layout face array along its own axis ``d``, moving the wrap face to the pad."""
    n = g.shape[d]
    if n == 1 or n % 2 == 0:
        return _pad_all(g)
    wrap = jax.lax.slice_in_dim(g, n - 1, n, axis=d)
    body = jax.lax.slice_in_dim(g, 0, n - 1, axis=d)
    g = jnp.concatenate([body, jnp.zeros_like(wrap), wrap], axis=d)
    return _pad_all(g)


def _block_sum(x: jax.Array, factors) -> jax.Array:
    n0, n1, n2 = x.shape
    f0, f1, f2 = factors
    return x.reshape(n0 // f0, f0, n1 // f1, f1, n2 // f2, f2).sum(axis=(1, 3, 5))


def restrict(r: jax.Array) -> jax.Array:
    """``P^T r``: sum the residual over each 2x2x2 block (dims of length 1 are kept).

    Pairwise strided adds, one axis at a time: in XLA's CPU backend this is ~1.5x faster than
    a reshape-and-sum over a 6-D view.
    """
    r = _pad_all(r)
    for d in range(3):
        if r.shape[d] > 1:
            n = r.shape[d]
            r = jax.lax.slice_in_dim(r, 0, n, stride=2, axis=d) + jax.lax.slice_in_dim(r, 1, n, stride=2, axis=d)
    return r


def prolong(e: jax.Array, fine_shape) -> jax.Array:
    """``P e``: copy each coarse value into its block, then drop the pad cells."""
    for d in range(3):
        if fine_shape[d] > 1:
            e = jnp.repeat(e, 2, axis=d)
    return e[: fine_shape[0], : fine_shape[1], : fine_shape[2]]


def coarsen(op: DiffusionOperator, coarse_scale: float) -> DiffusionOperator:
    """Galerkin (piecewise-constant) coarse operator with face conductances scaled by ``coarse_scale``."""
    faces = []
    for d, g in enumerate(op.face_conductance):
        if _coarse_shape(g.shape)[d] == 1:
            # one coarse cell along d: its periodic wrap face would couple it to itself
            faces.append(jnp.zeros(_coarse_shape(g.shape), g.dtype))
            continue
        gp = _pad_faces(g, d)
        # faces leaving the odd member of each pair cross into the next block ...
        crossing = jax.lax.slice_in_dim(gp, 1, gp.shape[d], stride=2, axis=d)
        # ... and the 2x2 of them in the other two directions add up
        factors = [1 if e == d or crossing.shape[e] == 1 else 2 for e in range(3)]
        faces.append(coarse_scale * _block_sum(crossing, factors))
    return DiffusionOperator.from_faces(tuple(faces), restrict(op.diagonal), op.periodic)


@sequential_vmap
def _pseudo_inverse(dense: jax.Array) -> jax.Array:
    """The symmetric pseudo-inverse of ``dense`` (eigenvalues below ``n eps`` of the largest are
    dropped: a pure-Neumann operator's constants). Batched (a ``vmap``-ped run) it loops over the
    members: a batched ``eigh`` on the CPU splits the batch over XLA's intra-op threads from inside
    one of them, and inside a while loop that deadlocked (every thread idle, docs/solver.md)."""
    n = dense.shape[0]
    dense = 0.5 * (dense + dense.T)
    w, v = jnp.linalg.eigh(dense)
    tol = jnp.max(jnp.abs(w)) * n * jnp.finfo(dense.dtype).eps
    keep = jnp.abs(w) > tol
    w_inv = jnp.where(keep, 1.0 / jnp.where(keep, w, 1.0), 0.0)
    return (v * w_inv[None, :]) @ v.T


class _Coarsest(eqx.Module):
    pinv: jax.Array

    @classmethod
    def build(cls, op: DiffusionOperator) -> "_Coarsest":
        n = int(np.prod(op.shape))
        basis = jnp.eye(n, dtype=op.diagonal.dtype).reshape((n,) + op.shape)
        dense = jax.vmap(op)(basis).reshape(n, n)
        # a preconditioner: no derivative flows through it (the solves' adjoints are implicit)
        return cls(_pseudo_inverse(jax.lax.stop_gradient(dense)))

    def __call__(self, r: jax.Array) -> jax.Array:
        return (self.pinv @ r.reshape(-1)).reshape(r.shape)


def _repeat(trips: int, body, x):
    """``fori_loop(0, trips, body, x)``. With fusion barriers (the CPU variant) the trip count is
    hidden from XLA; elsewhere it is left visible, because on a GPU every iteration of a loop
    XLA cannot count reads the loop predicate back to the host, while a counted loop runs its
    body ``trips`` times without asking (:func:`hostsim.numerics.operators.fusion_barriers`)."""
    if operators.fusion_barriers():
        trips = jax.lax.optimization_barrier(jnp.asarray(trips, jnp.int32))
    return jax.lax.fori_loop(0, trips, body, x)


def _sweeps(trips: int, body, x):
    """``trips`` smoothing sweeps. In the accelerator variant they are unrolled: a stencil cannot
    update its input in place, so a loop of sweeps copies its result back into the loop's buffer
    every trip (a full-grid copy per sweep in the GPU program, the program audit's count)."""
    if operators.fusion_barriers():
        return _repeat(trips, body, x)
    for i in range(trips):
        x = body(i, x)
    return x


# the accelerator variant's W-cycle: two visits on the top two levels, a V-cycle below (the PCG
# iterations of a full W-cycle at 64^3-256^3, a tenth of its kernels at 512^3; docs/solver.md)
ACCELERATOR_CYCLE_LEVELS = 2


class MultigridHierarchy(eqx.Module):
    """The built V-cycle: one operator per level plus the exact coarsest solve."""

    levels: tuple
    inverse_diagonals: tuple  # damping / total diagonal, per level
    coarsest: _Coarsest
    smoothing_steps: int = eqx.field(static=True)
    damping: float = eqx.field(static=True)
    cycle: int = eqx.field(static=True)
    cycle_levels: int | None = eqx.field(static=True, default=None)

    def _smooth(self, level, x, r, steps):
        op, inv_d = self.levels[level], self.inverse_diagonals[level]
        keep = 1.0 - self.damping

        def sweep(_, x):
            # x + w D^-1 (r - A x) = (1 - w) x + w D^-1 (r + N x): reads x, r, w/D and the
            # three face arrays, not the total diagonal as well
            return keep * x + inv_d * (r + op.neighbour_sum(x))

        # On the CPU backend the trip count is hidden from XLA on purpose (_repeat). XLA inlines
        # loops it can count to 1 (and unrolls short ones), and its CPU backend then fuses a
        # stencil into the next stencil, recomputing the inner one at every neighbour: one sweep
        # plus a residual took 25 ms instead of 6 ms at 128^3, a whole W-cycle 48 ms instead of
        # ~20 ms.
        return _sweeps(steps, sweep, x)

    def _vcycle(self, level: int, r: jax.Array) -> jax.Array:
        if level == len(self.levels):
            return self.coarsest(r)
        op = self.levels[level]
        x = self.inverse_diagonals[level] * r  # first sweep from zero needs no apply
        x = self._smooth(level, x, r, self.smoothing_steps - 1)
        residual = isolated(lambda x: r - op(x), x)
        # the residual's kernel fused into the restriction on accelerators (each fine value read once);
        # on the CPU the restriction's strided reads are kept apart (operators.isolated)
        r_coarse = isolated(restrict, residual) if operators.fusion_barriers() else restrict(residual)
        if level + 1 == len(self.levels):
            e_coarse = self._vcycle(level + 1, r_coarse)  # the coarsest solve is exact: once is enough
        else:
            coarse_op = self.levels[level + 1]

            def visit(_, e):  # one coarse-grid correction (a W-cycle makes two)
                return e + self._vcycle(level + 1, isolated(lambda e: r_coarse - coarse_op(e), e))

            # on the CPU backend a loop, not unrolled visits: each level is traced once, so the
            # program grows linearly with the number of levels instead of as 2^levels (compile
            # time), and the trip count is hidden from XLA so it does not unroll it again
            visits = self.cycle if self.cycle_levels is None or level < self.cycle_levels else 1
            e_coarse = _repeat(visits, visit, jnp.zeros_like(r_coarse))
        x = x + prolong(e_coarse, op.shape)
        return self._smooth(level, x, r, self.smoothing_steps)

    def __call__(self, r: jax.Array) -> jax.Array:
        return self._vcycle(0, r)


class AbstractPreconditioner(eqx.Module):
    """A preconditioner for PCG: ``build(operator)`` once per operator, then the built callable
    once per iteration."""

    @abc.abstractmethod
    def build(self, op: DiffusionOperator) -> Callable[[jax.Array], jax.Array]:
        """The approximate inverse of ``op``, ``r -> M^-1 r``, symmetric positive definite (so PCG
        converges) and a pytree such as an equinox Module (PCG's jitted solve takes it as an argument)."""


class Multigrid(AbstractPreconditioner):
    """Geometric multigrid preconditioner, W-cycle by default (see the module docstring).

    Attributes:
        smoothing_steps: damped-Jacobi sweeps before and after the coarse correction (>= 2;
            one sweep makes the preconditioner nearly indefinite: 111 iterations at 128^3).
        damping: Jacobi damping factor (0.9: fewest W-cycle PCG iterations on random media; 1.0
            diverges; docs/solver.md: smoother).
        cycle: 1 = V-cycle, 2 = W-cycle (default; in 3-D it costs ~1.33x a V-cycle and keeps the
            iteration count flat with resolution: V 20->33, W 11->15 from 64^3 to 256^3).
        cycle_levels: the W-cycle's second visit only on the top this many levels, a V-cycle
            below (``None``: every level; ``"auto"``: every level in the CPU variant, the top
            :data:`ACCELERATOR_CYCLE_LEVELS` in the accelerator one). A full W-cycle from 512^3 visits the coarsest level
            128 times, ~1,800 kernels a cycle: on a GPU their launches, not the bandwidth, set
            the time (docs/solver.md).
        coarse_scale: factor on the Galerkin coarse face conductances (1/2 = rediscretised).
        coarsest_size: coarsen until a level has at most this many cells.
    """

    smoothing_steps: int = 2
    damping: float = 0.9
    coarse_scale: float = 0.5
    coarsest_size: int = 64
    cycle: int = 2
    cycle_levels: int | None | str = "auto"

    def __check_init__(self):
        if int(self.smoothing_steps) < 1 or self.cycle not in (1, 2):
            raise ValueError(f"Multigrid needs smoothing_steps >= 1 and cycle 1 (V) or 2 (W); got {self}")
        if not (0.0 < self.damping < 1.0 + 1e-12) or not (0.0 < self.coarse_scale <= 1.0):
            raise ValueError(f"Multigrid needs 0 < damping <= 1 and 0 < coarse_scale <= 1; got {self}")
        if self.cycle_levels != "auto" and self.cycle_levels is not None and int(self.cycle_levels) < 0:
            raise ValueError(f"Multigrid.cycle_levels must be >= 0 or None; got {self.cycle_levels}")
        if int(self.coarsest_size) < 1:
            raise ValueError(f"Multigrid.coarsest_size must be >= 1; got {self.coarsest_size}")

    def build(self, op: DiffusionOperator) -> MultigridHierarchy:
        levels = []
        while int(np.prod(op.shape)) > self.coarsest_size:
            levels.append(op)
            op = coarsen(op, self.coarse_scale)
        inverse_diagonals = tuple(self.damping / level.total_diagonal for level in levels)
        return MultigridHierarchy(
            tuple(levels), inverse_diagonals, _Coarsest.build(op), self.smoothing_steps, self.damping, self.cycle,
            self._cycle_levels())

    def _cycle_levels(self):
        if self.cycle_levels != "auto":
            return self.cycle_levels
        return None if operators.fusion_barriers() else ACCELERATOR_CYCLE_LEVELS


class _Scaling(eqx.Module):
    inverse_diagonal: jax.Array

    def __call__(self, r):
        return self.inverse_diagonal * r


class _Unit(eqx.Module):
    def __call__(self, r):
        return r


class Jacobi(AbstractPreconditioner):
    """Diagonal (point-Jacobi) preconditioner: plain CG on the diagonally scaled system."""

    def build(self, op: DiffusionOperator):
        return _Scaling(1.0 / op.total_diagonal)


class Identity(AbstractPreconditioner):
    """No preconditioning (plain CG)."""

    def build(self, op: DiffusionOperator):
        return _Unit()
