"""Inequality constraints of a design study by augmented Lagrangian (docs/design.md, Constraints).

A study's ``[constraints]`` section bounds design quantities:

* ``<term>_max = b`` for any design term (:data:`inverse.objectives.TERMS`): the term, relative
  to the start design's value, stays at or below ``b`` (``flux_cv_max = 1.0``: no worse than
  the start; ``host_mass_mg_cm2_max = 0.8``: 20 % lighter);
* ``virtual_temperature_limit = b``: the conductor's virtual temperature
  (:mod:`inverse.connectivity`) stays at or below ``b`` itself, not relative to the start: on by
  default (:data:`CONNECTED_LIMIT`) in family studies that design a conductivity, whose
  parameters can cut the conductor off the collector (0 switches it off);
* ``porosity_min``, ``porosity_max``: bounds on the host slab's porosity (1 - mean solid
  fraction of the slab), for designs whose solid moves (family parameters; a free-form design
  holds its porosity exactly by projection instead).

Each becomes ``g_j(x) <= 0`` (``g = term / |start| - b``, ``g = porosity_min - porosity``, ...),
added to the objective as the augmented-Lagrangian term (Nocedal & Wright, Numerical
Optimization, 2nd ed., eq. 17.65 for inequalities)

    psi(g, lambda, mu) = lambda g + mu g² / 2        if lambda + mu g > 0
                       = -lambda² / (2 mu)           otherwise

with the multiplier update ``lambda <- max(0, lambda + mu g)`` after every iteration (its
design's ``g``). ``mu`` is ``[constraints] penalty`` (default 10). The multipliers are part of
the checkpoint, so a resumed study continues them bit for bit, and every log row carries each
``g`` and its multiplier. The section is parsed and checked by :class:`inverse.study.Constraints`.
"""

from __future__ import annotations

import jax.numpy as jnp

from .objectives import relative_to_start

# the default virtual_temperature_limit: a conductor column reads ~1-3 while its cells conduct (a
# graded fibre host: 1.8 at k = 1, 2.6 at 0.5, 8.2 at 0.1), 14 where its bottom's conducting share
# reaches the node threshold (k = 0.05, where the forward model starts to cut it off) and 424 cut
# off (k = 0); 8 keeps designs at k >= ~0.1, twice the threshold (measured, docs/design.md)
CONNECTED_LIMIT = 8.0

DEFAULT_PENALTY = 10.0  # mu: with g of order 0.01-0.1 (relative terms, porosity) a violation costs ~0.1-1 of the objective's start value


def constraint_names(constraints: dict) -> list[str]:
    """The constraints of a study's ``[constraints]`` section, in a fixed order."""
    return sorted(k for k in constraints if k != "penalty" and not (k.endswith("_limit") and constraints[k] == 0))


def constraint_values(constraints: dict, terms: dict, reference: dict, porosity) -> dict:
    """``g_j`` of every constraint (feasible where ``<= 0``)."""
    out = {}
    for name in constraint_names(constraints):
        bound = constraints[name]
        if name == "porosity_min":
            out[name] = bound - porosity
        elif name == "porosity_max":
            out[name] = porosity - bound
        elif name.endswith("_limit"):  # absolute, scaled by the bound (g is a relative excess)
            out[name] = terms[name[: -len("_limit")]] / bound - 1.0
        else:
            term = name[: -len("_max")]
            out[name] = relative_to_start(term, terms[term], reference) - bound
    return out


def penalty_terms(values: dict, multipliers: dict, mu: float):
    """Sum of ``psi(g_j, lambda_j, mu)`` (see the module docstring)."""
    total = 0.0
    for name, g in values.items():
        lam = multipliers[name]
        active = lam + mu * g > 0
        total = total + jnp.where(active, lam * g + 0.5 * mu * g * g, -lam * lam / (2.0 * mu))
    return total


def updated_multipliers(values: dict, multipliers: dict, mu: float) -> dict:
    """``lambda_j <- max(0, lambda_j + mu g_j)``."""
    return {name: jnp.maximum(0.0, multipliers[name] + mu * values[name]) for name in values}
