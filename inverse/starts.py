"""Several starts of one study, run together: a design loop that may stop in a local optimum
is run from spread-out starting designs at once, and the study keeps the best.

``[optimizer] starts = N``: start 0 is the study file's own start design; starts 1 .. N-1 are
a Latin hypercube in the parameter box (McKay, Beckman & Conover 1979, Technometrics 21, 239; one
point in each of N-1 equal slices of every parameter's range, scipy's ``qmc.LatinHypercube``,
seed 0, so a study draws the same starts every time and a resumed one continues them). Every
start's objective is normalised by the file's start design, so their values compare directly.

The N designs are one stacked design array, shape ``(N, n)``. The loop's value-and-gradient and
its optimiser update are ``vmap``-ped over that leading axis (:func:`over_starts`): one compiled
program and one adaptive transient per iteration for all of them (a batched while loop runs
until its slowest member is done), which on a small grid costs far less than N loops. Free-form
designs take one start: a box of thousands of voxels has no useful space-filling spread.
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


__all__ = ["LHS_SEED", "best_start", "member", "over_starts", "spread_starts", "spread_summary"]
