"""The design terms are continuous where the forward model is: lithiophilicity swept through the
nucleation gate's opening, where bare Cu faces start to carry current. With a hard sign test the
flux CV fell from 0.537 to 0.003 between two neighbouring lithiophilicities 0.0015 apart (faces with
a near-zero current counted at full weight, then did not); with the smooth weights the fall spreads
over ~0.008 of lithiophilicity, and refining the sweep shrinks the largest step between neighbours
as a continuous function's does."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from geometries import geometry_host
from hostsim import Kinetics, get_electrolyte
from inverse import LayerProfile
from inverse.objectives import steady_terms

LP30 = get_electrolyte("lp30")


def _terms_of_lithiophilicity():
    """``l -> (flux CV, p-norm hot spot)`` of a bare Cu skeleton at a uniform lithiophilicity,
    0.5 mA/cm² (the steady surrogate: one potential solve, the statistics of the design terms)."""
    _, family = geometry_host({"family": "cu_skeleton", "width_um": 3.0, "height_um": 4.0, "thickness_um": 2.0,
                               "fibre_length_um": 2.0, "voxel_size_um": 0.25, "fibre_diameter_um": 0.5})
    base = family.fields()
    param = LayerProfile(base, layers=2, design=("l",), start_k=1.0)

    @jax.jit
    def terms(l):
        x = jnp.full((2,), 1.0) * jnp.asarray(param.box.start(0.0) + 4.0 * l, base.grid.dtype)
        t = steady_terms(base.grid, param.fields(x), LP30, Kinetics(), current_density=5.0, capacity=720.0,
                         collector_layers=base.collector_layers, host_top=base.host_top)
        return jnp.stack([t["flux_cv"], t["hotspot"]])

    return lambda ls: np.array([np.asarray(terms(l), np.float64) for l in ls])


def test_the_flux_terms_are_continuous_through_the_gate_opening():
    """Coarse sweep of l over [0.025, 0.05] (21 points): the largest change between neighbours of
    each term. A sweep 6.7x finer across that step: its largest change is at least 3x smaller (a
    jump would keep it; measured ~6x for the CV, which falls by 0.5 across the opening)."""
    terms = _terms_of_lithiophilicity()
    coarse = np.linspace(0.025, 0.05, 21)
    values = terms(coarse)
    steps = np.abs(np.diff(values, axis=0))
    assert values[0, 0] > 0.4 and values[-1, 0] < 0.01  # the opening lies inside the sweep
    for term in range(2):
        i = int(np.argmax(steps[:, term]))
        fine = np.linspace(coarse[max(i - 1, 0)], coarse[min(i + 2, len(coarse) - 1)], 21)
        fine_steps = np.abs(np.diff(terms(fine)[:, term]))
        assert fine_steps.max() < steps[i, term] / 3.0, (term, steps[i, term], fine_steps.max())


def _graded_study():
    """The tiny graded fibre host of the several-starts tests (3 x 4 x 2 µm, 0.25 µm cells, 4 mA/cm²
    to 0.05 mAh/cm²), its bottom half's conducting share and lithiophilicity designed."""
    import tomllib

    from test_design_starts import FAMILY_STUDY

    from inverse.study import parse_study

    return parse_study(tomllib.loads(FAMILY_STUDY), "graded test study")


def test_the_virtual_temperature_is_continuous_through_the_disconnection():
    """The bottom half's conducting share k swept down to 0, where the forward model cuts the top
    half off the collector (a cell conducts above s k = 0.05): the virtual temperature rises
    smoothly (a 10x finer sweep across its largest step shrinks that step at least 5x; measured
    ~10x) and monotonically, from ~2.6 at k = 0.5 to hundreds at k = 0."""
    from inverse.connectivity import virtual_temperature
    from inverse.loop import parameterisation

    param = parameterisation(_graded_study())
    b = param.base

    @jax.jit
    def vt(k):
        x = jnp.stack([jnp.asarray(param.box.start(0.0), b.grid.dtype) + 4.0 * k, param.initial()[1]])
        s, kk = param.fields(x)[:2]
        return virtual_temperature(b.grid, s, kk, b.collector_layers, b.host_top)

    sweep = lambda ks: np.array([float(vt(k)) for k in ks])  # noqa: E731
    coarse = np.linspace(0.0, 0.2, 21)
    values = sweep(coarse)
    assert np.all(np.diff(values) < 0) and values[0] > 100 and values[-1] < 6
    steps = np.abs(np.diff(values[1:]))  # k = 0 itself is the insulator's end point, 1/k-like
    i = int(np.argmax(steps)) + 1
    fine = sweep(np.linspace(coarse[i], coarse[i + 1], 11))
    assert np.abs(np.diff(fine)).max() < steps[i - 1] / 5.0


def test_a_cut_off_host_costs_more_than_a_connected_one_under_the_default_limit():
    """The forward model's cliff, and the default constraint that makes it visible: at k <= 0.05
    the top half floats, top growth falls to ~0 and the weighted objective to ~0 (an inert host
    would look perfect). With the default virtual_temperature_limit (on because a conductivity is
    designed), every such design's penalised objective (multiplier 0, the penalty alone) is above
    the best connected design's (k >= 0.1)."""
    import equinox as eqx

    from inverse.lagrangian import CONNECTED_LIMIT, constraint_values, penalty_terms
    from inverse.loop import design_terms, parameterisation, slab_porosity
    from inverse.objectives import weighted_objective

    study = _graded_study()
    assert study.constraints["virtual_temperature_limit"] == CONNECTED_LIMIT
    param = parameterisation(study)
    terms = eqx.filter_jit(design_terms(study, param.base))
    x0 = param.initial()
    reference = terms(param, x0)
    mu = study.constraints["penalty"]

    def objective(k):
        x = x0.at[0].set(float(param.box.start(k)))
        t = terms(param, x)
        g = constraint_values(study.constraints, t, reference, slab_porosity(param, x))
        lam = {name: 0.0 for name in g}
        plain = float(weighted_objective(t, study.weights, reference))
        return plain, plain + float(penalty_terms(g, lam, mu)), float(t["top_growth"])

    cut = [objective(k) for k in (0.0, 0.02, 0.04, 0.05)]
    connected = [objective(k) for k in (0.1, 0.15, 0.2, 0.3, 0.5)]
    assert max(c[2] for c in cut) < 0.2 * min(c[2] for c in connected)  # the cliff: the top half floats
    assert max(c[0] for c in cut) < min(c[0] for c in connected)  # without the limit it would win
    assert min(c[1] for c in cut) > min(c[1] for c in connected)


def test_the_default_limit_is_replaced_by_the_file_and_switched_off_by_zero():
    """The default applies where a conductivity is designed and no virtual-temperature constraint is
    given; a file's ``virtual_temperature_max`` replaces it; ``virtual_temperature_limit = 0`` is no
    constraint at all; a study designing only lithiophilicity gets none."""
    import tomllib

    from test_design_starts import FAMILY_STUDY

    from inverse.lagrangian import CONNECTED_LIMIT, constraint_names
    from inverse.study import parse_study

    def constraints(extra="", parameters=None):
        data = tomllib.loads(FAMILY_STUDY + extra)
        if parameters:
            data["design"]["parameters"] = parameters
        return parse_study(data, "test").constraints

    assert constraints() == {"virtual_temperature_limit": CONNECTED_LIMIT, "penalty": 10.0}
    assert constraints("[constraints]\nvirtual_temperature_max = 2.0\n") == {"virtual_temperature_max": 2.0,
                                                                          "penalty": 10.0}
    assert constraint_names(constraints("[constraints]\nvirtual_temperature_limit = 0\n")) == []
    assert constraints(parameters=["lithiophilicity_bottom"]) == {}
