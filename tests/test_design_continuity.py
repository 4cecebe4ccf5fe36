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
