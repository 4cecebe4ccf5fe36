"""Several starts of one study, run together: a design loop that may stop in a local optimum
is run from spread-out starting designs at once, and the study keeps the best.

``[optimizer] starts = N``: start 0 is the study file's own start design; starts 1 .. N-1 are
a Latin hypercube in the parameter box (McKay, Beckman & Conover 1979, Technometrics 21, 239; one
point in each of N-1 equal slices of every parameter's range, scipy's ``qmc.LatinHypercube``,
seed 0, so a study draws the same starts every time and a resumed one continues them). Every
start's objective is normalised by the file's start design, so their values compare directly.

The N designs are one stacked design array, shape ``(N, n)``. The optimiser's update is
``vmap``-ped over that leading axis (:func:`over_starts`); the value and gradient are taken one
start after another through the one-start compiled program (:func:`one_by_one`). A ``vmap``-ped
transient was measured 143x one start per iteration for 8 starts (docs/design.md): the design
transient is a scan of ``max_steps`` attempts that skips those after the segment's end by a
conditional, and under ``vmap`` a conditional computes both branches, so every member paid for
all its attempts, forward and backward. Free-form designs take one start: a box of thousands of
voxels has no useful space-filling spread.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import qmc

LHS_SEED = 0  # fixed: the same study draws the same starts (a resumed study relies on it)


def spread_starts(param, count: int) -> jax.Array:
    """``(count, n)`` starting designs of ``param``: its own start first, then a Latin hypercube
    of ``count - 1`` points in its box (positions in each range mapped by ``param.box.start``)."""
    first = param.initial()
    if count == 1:
        return first[None]
    fractions = qmc.LatinHypercube(d=first.shape[0], seed=LHS_SEED).random(count - 1)
    others = jnp.asarray(param.box.start(fractions), first.dtype)
    return jnp.concatenate([first[None], others])


def over_starts(fn, starts: int, in_axes):
    """``fn`` itself for one start, else ``fn`` mapped over the designs' leading axis (the
    arguments whose ``in_axes`` entry is ``None`` are shared, e.g. the parameterisation)."""
    return fn if starts == 1 else eqx.filter_vmap(fn, in_axes=in_axes)


def one_by_one(fn, starts: int, in_axes):
    """``fn`` itself for one start, else ``fn`` called for each start in turn on its slice of the
    arguments whose ``in_axes`` entry is 0 (the others shared), the results stacked: the compiled
    one-start program, run N times."""
    if starts == 1:
        return fn

    def each(*args):
        results = [fn(*(member(a, m) if axis == 0 else a for a, axis in zip(args, in_axes))) for m in range(starts)]
        return jax.tree.map(lambda *leaves: jnp.stack(leaves), *results)

    return each


def member(tree, index: int):
    """Start ``index``'s slice of a stacked pytree (every leaf's leading axis)."""
    return jax.tree.map(lambda a: a[index], tree)


def best_start(values) -> int:
    """The start with the lowest final (constrained) objective; a non-finite one never wins."""
    v = np.asarray(values, np.float64)
    return int(np.argmin(np.where(np.isfinite(v), v, np.inf)))


def spread_summary(values, verdicts: list[str], x_starts, x_finals, best: int) -> dict:
    """The ``starts`` record of ``design.json``: each start's final objective, its verdict, its
    starting and final design vectors, which one was kept, and the spread of the finals (max -
    min)."""
    v = [float(a) for a in np.asarray(values, np.float64)]
    return {"count": len(v), "best": best, "objective_final": v, "verdicts": verdicts,
            "objective_spread": max(v) - min(v), "x_start": np.asarray(x_starts, np.float64).tolist(),
            "x_final": np.asarray(x_finals, np.float64).tolist()}


__all__ = ["LHS_SEED", "best_start", "member", "one_by_one", "over_starts", "spread_starts", "spread_summary"]
