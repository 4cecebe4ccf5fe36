"""Matrix-free 7-point finite-volume diffusion operators on the voxel grid.

The operator discretizes ``-div(k grad u) + a u`` on cell-centred unknowns. Integrating over
a cell and dividing by the voxel edge ``h`` gives, for cell ``i`` with face neighbours ``j``,

    sum_j k_ij (u_i - u_j) + a_i h^2 u_i + sum_{Dirichlet faces} 2 k_i (u_i - u_b) = f_i h^2 + ...

with the face coefficient ``k_ij`` the harmonic mean of the two cell coefficients (the exact
series conductance of two half cells). The operator is stored as

* ``face_conductance[d]``: an array of the grid's shape whose entry ``i`` couples cell ``i``
  to cell ``i + 1`` along axis ``d`` (wrapping round, so the last entry is the periodic face;
  it is zero on non-periodic axes);
* ``diagonal``: the "physical" extra diagonal, ``a h^2`` plus the Dirichlet face
  conductances ``2 k`` of cells on a Dirichlet face;
* ``total_diagonal``: the full diagonal, ``diagonal + sum of the six face conductances``,
  with 1 on rows that have no coupling at all (decoupled cells get the identity).

Applying it reads four arrays and writes one; no global sparse matrix is ever assembled.
Everything is a pure function of the coefficient field, so ``jax.grad`` flows through
``assemble`` into the coefficients.

Model choices:

* Dirichlet values are imposed on the cell *face* (distance h/2 from the first cell centre),
  as in TauFactor; the transport length is therefore exactly ``n h`` and straight channels give
  ``D_eff = eps D`` exactly.
* Units: the equation is divided by ``h``; coefficients should be O(1) (nondimensionalised by
  the caller) so that float32 dot products of residuals stay far from underflow.
"""

from __future__ import annotations

import abc

import os
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp

from hostsim.errors import InputError
from hostsim.numerics.grid import Grid


class AbstractBoundaryCondition(eqx.Module):
    """A condition on an end face of the grid's axis: what it adds to the operator's diagonal and
    to the right-hand side of the cells on that face."""

    @abc.abstractmethod
    def apply(self, diag, rhs, k, mask, h):
        """``(diag, rhs)`` with the condition's terms added on the face cells ``mask`` (cell
        coefficient ``k``, voxel size ``h``)."""

    def per_coefficient(self, scale) -> "AbstractBoundaryCondition":
        """The condition of the same problem with its coefficient divided by ``scale`` (a value
        stays a value; a flux is divided too)."""
        return self


class Dirichlet(AbstractBoundaryCondition):
    """Fixed value ``u = value`` on a boundary face."""

    value: float | jax.Array = 0.0

    def apply(self, diag, rhs, k, mask, h):
        g_b = 2.0 * k * mask  # the half cell between the centre and the face
        return diag + g_b, rhs + g_b * jnp.asarray(self.value, k.dtype)


class Neumann(AbstractBoundaryCondition):
    """Prescribed flux ``-k du/dn`` *into* the domain on a boundary face [coefficient x u / m]."""

    flux: float | jax.Array = 0.0

    def apply(self, diag, rhs, k, mask, h):
        return diag, rhs + mask * jnp.asarray(self.flux, k.dtype) * h

    def per_coefficient(self, scale) -> "Neumann":
        return Neumann(self.flux / scale)


BoundaryCondition = AbstractBoundaryCondition


def shift(x: jax.Array, offset: int, axis: int, periodic: bool) -> jax.Array:
    """``x[i + offset]`` along ``axis`` (offset +-1): wrapped if periodic, else zero-filled.

    Zero fill (pad + slice) is ~1.5x faster than ``jnp.roll`` in XLA's CPU backend at 128^3
    (docs/solver.md: XLA CPU details), and in the wrap-around face layout the
    two agree on non-periodic axes because the wrap face conductance is zero there.
    """
    if periodic:
        return jnp.roll(x, -offset, axis=axis)
    n = x.shape[axis]
    pad = [(0, 0)] * x.ndim
    if offset == 1:
        pad[axis] = (0, 1)
        return jax.lax.slice_in_dim(jnp.pad(x, pad), 1, n + 1, axis=axis)
    pad[axis] = (1, 0)
    return jax.lax.slice_in_dim(jnp.pad(x, pad), 0, n, axis=axis)


@partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def shift_stored(x: jax.Array, offset: int, axis: int, periodic: bool) -> jax.Array:
    """:func:`shift` whose tangent is :func:`stored` once shifted, so that reverse mode stores the
    cotangent before it shifts it back.

    XLA's CPU backend fuses an elementwise expression into every consumer that reads it, and the
    transpose of a shift reads its cotangent through slices (two on a periodic axis), so the plating
    step's backward pass recomputed each face's whole cotangent to slice it (storing it halved the
    gradient's time). Where the shifted expressions are cheap (a diffusion operator's coefficients)
    storing costs more than it saves, so :func:`shift` stays plain and the interface code, whose
    face expressions are long, uses this one (docs/solver.md: reverse mode through a plating step)."""
    return shift(x, offset, axis, periodic)


@shift_stored.defjvp
def _shift_stored_jvp(offset, axis, periodic, primals, tangents):
    (x,), (t,) = primals, tangents
    return shift(x, offset, axis, periodic), stored(shift(t, offset, axis, periodic))


@jax.custom_jvp
def cotangent_stored(x: jax.Array) -> jax.Array:
    """``x``; its tangent, and in reverse mode its cotangent, is :func:`stored`: for a field that
    several inputs reach and several consumers read (the two sides' shares of an interface face),
    whose cotangent XLA otherwise recomputes inside each input's own cotangent."""
    return x


@cotangent_stored.defjvp
def _cotangent_stored_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return x, stored(t)


def stored(x: jax.Array) -> jax.Array:
    """``x``, computed as its own XLA computation in the forward program, in its tangent and in the
    transposed (reverse-mode) program: a linear identity (``custom_linear_solve``) whose solve and
    transpose solve are :func:`isolated`. Unlike :func:`materialized` it is a fusion boundary in
    reverse mode too."""
    ident = lambda y: y  # noqa: E731
    return jax.lax.custom_linear_solve(ident, x, lambda _mv, b: isolated(ident, b), symmetric=True)


def _safe_harmonic_mean(a: jax.Array, b: jax.Array) -> jax.Array:
    """2ab/(a+b), zero when either is zero, with finite gradients everywhere (double-where)."""
    s = a + b
    positive = s > 0
    s_safe = jnp.where(positive, s, 1.0)
    return jnp.where(positive, 2.0 * a * b / s_safe, 0.0)


def face_coefficients(coefficient: jax.Array, periodic: tuple[bool, bool, bool]) -> tuple:
    """Harmonic-mean face coefficients along each axis, in the wrap-around layout.

    Entry ``i`` along axis ``d`` is the coefficient of the face between cells ``i`` and ``i+1``;
    the last entry is the periodic face, or zero when axis ``d`` is not periodic (the
    zero-filled neighbour makes the harmonic mean vanish there).
    """
    faces = []
    for d in range(3):
        if coefficient.shape[d] == 1:
            # A single layer: no interior faces; a periodic wrap onto itself carries no flux.
            faces.append(jnp.zeros_like(coefficient))
            continue
        faces.append(_safe_harmonic_mean(coefficient, shift(coefficient, 1, d, periodic[d])))
    return tuple(faces)


def _coupling_from_coefficient(coefficient: jax.Array, periodic) -> jax.Array:
    """Sum of the six face conductances of every cell, computed from the cell coefficients.

    Same value as summing ``face_coefficients`` and their shifts, but every term reads the
    (materialised) coefficient field directly, so XLA never recomputes a face array at each
    neighbour (assembly at 128^3: 29 ms that way).
    """
    total = jnp.zeros_like(coefficient)
    for d in range(3):
        if coefficient.shape[d] == 1:
            continue
        p = periodic[d]
        total = total + _safe_harmonic_mean(coefficient, shift(coefficient, 1, d, p))
        total = total + _safe_harmonic_mean(shift(coefficient, -1, d, p), coefficient)
    return total


def _coupling_sum(faces: tuple, periodic) -> jax.Array:
    """Sum of the six face conductances of every cell, from the face arrays (as applied)."""
    total = jnp.zeros_like(faces[0])
    for d, g in enumerate(faces):
        if g.shape[d] == 1:
            continue  # the apply skips such axes: a single layer has no faces along them
        total = total + g + shift(g, -1, d, periodic[d])
    return total


@jax.custom_jvp
def materialized(x: jax.Array) -> jax.Array:
    """``x``, stored as an array before its consumers read it: a differentiable fusion boundary.

    Same reason as :func:`isolated` (which it uses): XLA's CPU backend fuses an expression into a
    consumer that reads it shifted, recomputing it at every offset (the Li change from the six face
    currents was a quarter of a plating step; docs/solver.md: measurements behind the code). Its
    derivative is the identity (linear, so reverse mode transposes it)."""
    return isolated(lambda y: y, x)


@materialized.defjvp
def _materialized_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return materialized(x), t


_BARRIERS: bool | None = None
"""Override of :func:`fusion_barriers` (tests set it to run the accelerator variant on a CPU)."""

VARIANTS = ("auto", "cpu", "accelerator")
VARIANT_VARIABLE = "HOSTSIM_PROGRAM_VARIANT"


def program_variant() -> str:
    """The program shape traced: ``"cpu"`` or ``"accelerator"``, from the environment variable
    ``HOSTSIM_PROGRAM_VARIANT`` (``auto``, the default, by the default backend). It is read when
    a program is traced, so it can build the accelerator variant on a CPU for an audit or a test."""
    chosen = os.environ.get(VARIANT_VARIABLE, "auto").strip().lower() or "auto"
    if chosen not in VARIANTS:
        raise InputError(f"{VARIANT_VARIABLE}: expected one of {', '.join(VARIANTS)}; got {chosen!r}")
    if chosen == "auto":
        return "cpu" if jax.default_backend() == "cpu" else "accelerator"
    return chosen


def fusion_barriers() -> bool:
    """Whether :func:`isolated` and the multigrid's loops hide their trip counts from XLA: in the
    CPU variant (where that is what stops stencil recomputation), not in the accelerator one.

    On a GPU every iteration of a loop whose trip count XLA cannot see reads the loop predicate
    back to the host, so the accelerator variant leaves every count visible (docs/solver.md:
    the GPU measurements). Decided when the program is traced (:func:`program_variant`)."""
    if _BARRIERS is not None:
        return _BARRIERS
    return program_variant() == "cpu"


def isolated(fn, x: jax.Array) -> jax.Array:
    """``fn(x)`` computed as its own XLA computation, its input and output materialised (on
    the CPU backend; elsewhere plain ``fn(x)``: see :func:`fusion_barriers`).

    XLA's CPU backend fuses a stencil into consumers that read it at several offsets or with
    strides (another stencil, a 2x2x2 block sum), recomputing it many times (~5-10x slower at
    128^3). A branch of a ``lax.cond`` whose predicate XLA cannot see is a fusion boundary
    (``optimization_barrier`` alone is not) and, unlike a one-trip loop, needs no zero-filled carry
    and no copy out of it (docs/solver.md: XLA CPU details). Not reverse-differentiable: use it
    only inside solvers, whose derivatives are implicit.
    """
    if not fusion_barriers():
        # the input stored (an optimization barrier is an instruction of its own, so the producer of
        # x cannot fuse into fn's kernel and be recomputed at each offset it reads x at)
        return fn(jax.lax.optimization_barrier(x))
    taken = jax.lax.optimization_barrier(jnp.asarray(True))
    out = jax.eval_shape(fn, x)
    return jax.lax.cond(taken, lambda y: fn(y), lambda y: jnp.zeros(out.shape, out.dtype), x)


class DiffusionOperator(eqx.Module):
    """A symmetric positive (semi)definite 7-point operator; call it on a field to apply it."""

    face_conductance: tuple
    diagonal: jax.Array
    total_diagonal: jax.Array
    periodic: tuple = eqx.field(static=True, default=(True, True, True))

    @classmethod
    def from_faces(
        cls, faces: tuple, diagonal: jax.Array, periodic=(True, True, True), coupling: jax.Array | None = None
    ) -> "DiffusionOperator":
        """Build from face arrays; ``coupling`` (the per-cell sum of the six face conductances)
        is computed from ``faces`` unless given."""
        total = diagonal + (_coupling_sum(faces, periodic) if coupling is None else coupling)
        total = jnp.where(total > 0, total, jnp.ones_like(total))
        return cls(tuple(faces), diagonal, total, tuple(bool(p) for p in periodic))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.diagonal.shape

    def neighbour_sum(self, u: jax.Array) -> jax.Array:
        """The off-diagonal part with its sign flipped: ``sum_j g_ij u_j``."""
        out = jnp.zeros_like(u)
        for d, g in enumerate(self.face_conductance):
            if u.shape[d] == 1:
                continue
            p = self.periodic[d]
            out = out + g * shift(u, 1, d, p) + shift(g, -1, d, p) * shift(u, -1, d, p)
        return out

    def __call__(self, u: jax.Array) -> jax.Array:
        return self.total_diagonal * u - self.neighbour_sum(u)

    def fluxes(self, u: jax.Array, d: int) -> jax.Array:
        """Face flux ``g (u_i - u_{i+1})`` along axis ``d`` (wrap-around layout)."""
        return self.face_conductance[d] * (u - shift(u, 1, d, self.periodic[d]))


def _end_face_mask(shape, axis: int, end: int) -> jax.Array:
    n = shape[axis]
    sel = jnp.arange(n) == (0 if end == 0 else n - 1)
    s = [1, 1, 1]
    s[axis] = n
    return sel.reshape(s)


def assemble(
    grid: Grid,
    coefficient: jax.Array,
    lo: BoundaryCondition = Neumann(0.0),
    hi: BoundaryCondition = Neumann(0.0),
    reaction: jax.Array | float = 0.0,
    source: jax.Array | float = 0.0,
    active: jax.Array | None = None,
) -> tuple[DiffusionOperator, jax.Array]:
    """Assemble ``-div(k grad u) + a u = f`` on ``grid`` with end-face conditions ``lo``/``hi``.

    Args:
        grid: the grid; its ``axis`` carries ``lo`` (index 0 face) and ``hi`` (last face),
            its lateral axes are periodic or no-flux per ``grid.lateral``.
        coefficient: cell coefficient ``k`` (>= 0), shape ``grid.shape``.
        lo, hi: :class:`Dirichlet` or :class:`Neumann` on the two end faces of ``grid.axis``.
        reaction: ``a`` (>= 0) [1/m^2 x coefficient], scalar or field.
        source: ``f`` [coefficient x u / m^2], scalar or field.
        active: optional 0/1 mask; cells outside it are decoupled (identity rows, zero rhs).

    Returns:
        ``(operator, rhs)``: the operator and the right-hand side, both in units divided by h.
    """
    k = grid.as_field(coefficient)
    if active is not None:
        k = k * active.astype(k.dtype)
    h = grid.voxel_size
    faces = face_coefficients(k, grid.periodic)
    diag = jnp.broadcast_to(jnp.asarray(reaction, k.dtype) * h * h, k.shape)
    rhs = jnp.broadcast_to(jnp.asarray(source, k.dtype) * h * h, k.shape)
    for end, bc in ((0, lo), (1, hi)):
        mask = _end_face_mask(grid.shape, grid.axis, end).astype(k.dtype)
        if not isinstance(bc, AbstractBoundaryCondition):
            raise TypeError(f"boundary condition must be Dirichlet or Neumann; got {bc!r}")
        diag, rhs = bc.apply(diag, rhs, k, mask, h)
    if active is not None:
        a = active.astype(k.dtype)
        diag = diag * a
        rhs = rhs * a
    coupling = _coupling_from_coefficient(k, grid.periodic)
    return DiffusionOperator.from_faces(faces, diag, grid.periodic, coupling), rhs
