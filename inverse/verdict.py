"""Did the design study converge? The quantities each iteration logs and the verdict on them.

Every parameterisation holds each component of its design vector ``x`` in a range
(:mod:`inverse.bounds`: projected onto a box, or through a sigmoid), and says where in it each
component sits (``bound_fraction``, in [0, 1]). A component is **at a bound** when that fraction is
within :data:`AT_BOUND` (1e-3 of its range) of 0 or 1. A gradient that pushes it further out
(positive at the lower bound, negative at the upper: the step is ``-grad``) is the bound holding it,
not a way down. The **projected gradient** drops those components; its norm (in ``x``, as the
optimiser sees it) is the stationarity measure.

:func:`study_verdict` is a pure function of the logged rows (``log.jsonl``), so a resumed study
and a test on synthetic rows get the verdict the same way.
"""

from __future__ import annotations

import math

import numpy as np

AT_BOUND = 1e-3  # fraction of a bound's range within which a component counts as at the bound


def projected_gradient(fraction, grad):
    """``(norm, at_bound)``: the norm of ``grad`` without the components held at a bound by an
    outward push, and the boolean mask (x's shape) of the components at a bound (either push).
    ``fraction``: each component's position in its range, in [0, 1]
    (:meth:`inverse.parameterisations.AbstractParameterisation.bound_fraction`)."""
    u = np.asarray(fraction, np.float64)
    g = np.asarray(grad, np.float64)
    low, high = u <= AT_BOUND, u >= 1.0 - AT_BOUND
    outward = (low & (g > 0)) | (high & (g < 0))
    return float(np.linalg.norm(np.where(outward, 0.0, g))), low | high


def relative_change(value: float, previous: float | None) -> float | None:
    """``|value - previous| / |previous|`` (None for the first iteration)."""
    if previous is None:
        return None
    return abs(value - previous) / max(abs(previous), 1e-30)


def _verdict_rows(rows: list[dict]) -> list[dict]:
    """The rows the verdict reads: those after the warm-up (the surrogate's objective is another
    function, and the step from it to the transient's is no progress), all of them when every row is
    the surrogate's; rows logged before the verdict existed (a resumed older study) are left out."""
    rows = [r for r in rows if "projected_gradient_norm" in r]
    transient = [r for r in rows if not r.get("surrogate", 0)]
    return transient or list(rows)


def study_verdict(rows: list[dict], stop) -> dict:
    """The study's verdict from its log rows (``projected_gradient_norm``, ``relative_change``,
    ``active_bounds`` each) and the ``[optimizer.stop]`` tolerances ``stop`` (``gtol``, ``ftol``,
    ``patience``):

    * ``converged``: the last projected-gradient norm is <= ``gtol`` x the first (a stationary
      point, bounds taken into account);
    * ``stalled``: not converged, but the relative objective change stayed < ``ftol`` for the last
      ``patience`` iterations: flat away from a stationary point (a learning rate too large for
      Adam's steps to settle, or a plateau);
    * ``budget exhausted``: neither.

    The verdict names the parameters at a bound in the last row."""
    rows = _verdict_rows(rows)
    if not rows:
        return {"verdict": "budget exhausted", "criterion": "no iterations logged", "at_bounds": []}
    last, first = rows[-1], rows[0]["projected_gradient_norm"]
    norm = last["projected_gradient_norm"]
    small = norm <= stop.gtol * first
    changes = [r["relative_change"] for r in rows[1:]]  # the first row's change is from before these rows
    flat = 0
    for change in reversed(changes):
        if change is None or not change < stop.ftol:
            break
        flat += 1
    if small:
        verdict, criterion = "converged", f"projected gradient norm <= gtol x its first value ({stop.gtol:g})"
    elif flat >= stop.patience:
        verdict, criterion = "stalled", (f"relative objective change < ftol ({stop.ftol:g}) for {flat} iterations "
                                         f"(patience {stop.patience}) while the projected gradient norm is "
                                         f"{_ratio(norm, first)} of its first value")
    else:
        verdict, criterion = "budget exhausted", "neither converged nor stalled by the last iteration"
    return {"verdict": verdict, "criterion": criterion, "iteration": last["iteration"],
            "projected_gradient_norm": norm, "first_projected_gradient_norm": first,
            "relative_change": last["relative_change"], "flat_iterations": flat, "gtol": stop.gtol,
            "ftol": stop.ftol, "patience": stop.patience, "at_bounds": list(last.get("active_bounds", []))}


def _ratio(norm: float, first: float) -> str:
    return f"{norm / first:.3g}" if first > 0 and math.isfinite(norm / first) else "n/a"


def verdict_line(verdict: dict) -> str:
    """The CLI's one line: ``design: verdict converged (criterion; at bounds: ...)``."""
    bounds = verdict.get("at_bounds") or []
    at = f"; at bounds: {', '.join(bounds)}" if bounds else "; no parameter at a bound"
    return f"design: verdict {verdict['verdict']} ({verdict['criterion']}{at})"


__all__ = ["AT_BOUND", "projected_gradient", "relative_change", "study_verdict", "verdict_line"]
