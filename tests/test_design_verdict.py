"""The design study's verdict (inverse.verdict): converged, stalled or budget exhausted, from the
logged rows alone (synthetic rows here, no plating transient), and the projected gradient that
drops a component held at its bound by an outward push."""

from __future__ import annotations

import numpy as np
import pytest

from inverse.study import Stop
from inverse.verdict import projected_gradient, relative_change, study_verdict, verdict_line

STOP = Stop()  # gtol 1e-3, ftol 1e-4, patience 3


def _rows(objectives, norms, bounds=None):
    """Log rows as the loop writes them (objective, projected-gradient norm, relative change, bounds)."""
    rows, previous = [], None
    for i, (f, g) in enumerate(zip(objectives, norms)):
        rows.append({"iteration": i, "objective": f, "projected_gradient_norm": g, "surrogate": 0,
                     "relative_change": relative_change(f, previous), "active_bounds": list(bounds or [])})
        previous = f
    return rows


def test_the_stop_defaults():
    assert (STOP.gtol, STOP.ftol, STOP.patience, STOP.early) == (1e-3, 1e-4, 3, False)


def test_a_study_whose_projected_gradient_falls_below_gtol_converged():
    rows = _rows([1.0, 0.5, 0.3, 0.29, 0.2899], [1.0, 0.3, 0.05, 5e-3, 5e-4])
    v = study_verdict(rows, STOP)
    assert v["verdict"] == "converged" and v["iteration"] == 4 and v["at_bounds"] == []
    assert v["projected_gradient_norm"] == 5e-4 and v["first_projected_gradient_norm"] == 1.0
    assert verdict_line(v).startswith("design: verdict converged (projected gradient norm <= gtol")


def test_a_flat_objective_with_a_large_gradient_stalled():
    """Adam at too large a learning rate: the objective stops moving, the gradient does not fall."""
    rows = _rows([1.0, 0.7, 0.6, 0.6, 0.6, 0.6], [1.0, 0.9, 0.8, 0.8, 0.8, 0.8])
    v = study_verdict(rows, STOP)
    assert v["verdict"] == "stalled" and v["flat_iterations"] == 3
    assert "0.8 of its first value" in v["criterion"]
    # fewer flat iterations than the patience: still running down, not stalled
    assert study_verdict(rows, Stop(patience=4))["verdict"] == "budget exhausted"


def test_a_study_still_descending_exhausted_its_budget():
    rows = _rows([1.0, 0.8, 0.6, 0.4], [1.0, 0.8, 0.6, 0.4])
    v = study_verdict(rows, STOP)
    assert v["verdict"] == "budget exhausted" and v["relative_change"] == pytest.approx(1 / 3)


def test_warm_up_rows_are_left_out():
    rows = _rows([5.0, 4.0, 1.0, 0.9], [10.0, 5.0, 1.0, 5e-4])
    rows[0]["surrogate"] = rows[1]["surrogate"] = 1
    v = study_verdict(rows, STOP)  # the first value is the transient's first row's, not the surrogate's
    assert v["first_projected_gradient_norm"] == 1.0 and v["verdict"] == "converged"


def test_a_parameter_at_its_bound_pushed_outward_does_not_count():
    """k of layer 0 sits at its upper bound (within 1e-3 of it) and the gradient pushes it up
    (negative: the step is -grad): the projected norm drops it, and the verdict names it. Either
    way of holding the bounds (projected box, sigmoid) reports the same."""
    from geometries import geometry_host
    from inverse.parameterisations import LayerProfile

    _, family = geometry_host({"family": "cu_skeleton", "width_um": 3.0, "height_um": 4.0, "thickness_um": 2.0,
                               "fibre_length_um": 2.0, "voxel_size_um": 0.25, "fibre_diameter_um": 0.5})
    base = family.fields()
    from inverse.bounds import SigmoidBox

    param = LayerProfile(base, layers=2, design=("k",))
    x = np.array([2.0, 0.0])  # the projected box's upper end: at the bound; 0: the middle
    assert list(param.bound_fraction(x)) == [1.0, 0.5]
    sigmoid = LayerProfile(base, layers=2, design=("k",), box=SigmoidBox())
    # sigmoid(9) = 0.99988: at the bound; sigmoid(0) = 1/2: inside
    assert np.array_equal(projected_gradient(sigmoid.bound_fraction(np.array([9.0, 0.0])), np.array([-2.0, 0.0]))[1],
                          [True, False])
    x = param.bound_fraction(x)
    norm, at = projected_gradient(x, np.array([-2.0, 0.0]))
    assert norm == 0.0 and list(at) == [True, False] and param.bound_names(at) == ["k[0]"]
    # pushed inward the component counts: the optimiser can move it off the bound
    assert projected_gradient(x, np.array([2.0, 0.0]))[0] == 2.0
    rows = _rows([1.0, 0.9, 0.9], [1.0, 0.5, norm], bounds=param.bound_names(at))
    v = study_verdict(rows, STOP)
    assert v["verdict"] == "converged" and v["at_bounds"] == ["k[0]"]
    assert verdict_line(v).endswith("; at bounds: k[0])")
