"""Design objectives: differentiable scalars of a design field or of a plating run (issue 12).

:func:`plating_terms` runs the plating transient of a design (``hostsim.plate``: a ``lax.scan``
of galvanostatic steps with the implicit Newton derivative) and returns every design term as a
scalar, each differentiable in the fields:

* ``top_growth``: Li plated above the host slab / all Li plated [-];
* ``envelope_growth_um``: mean electrode-height change [µm] (envelope = max(slab top, material
  top) per column, :func:`hostsim.electrochemistry.metrics.envelope_heights`);
* ``relative_volume_change``: (H_max - H_min) / H_max of the mean envelope height H over the
  transient (the run summaries' definition), at its start, after plating and, when the study's
  protocol strips after plating (a plate/strip cycle), after stripping [-];
* ``flux_cv``: area-weighted CV of the interfacial current density, averaged over the steps [-];
* ``hotspot``: p-norm (p = 8) hot-spot ratio, averaged over the steps [-];
* ``sei_mAh_cm2``: SEI-loss proxy, q_SEI x (sum of the Li-area increases) / projected area;
* ``host_mass_mg_cm2``: host mass per projected area (conducting share at ``conductor_density``,
  the rest at ``insulator_density``);
* ``virtual_temperature``: how well the conductor is connected to the collector, ~1 when all of it
  is, hundreds with an island (:mod:`inverse.connectivity`; a property of the design's
  fields, not of the plating; one more linear solve).

Besides the terms, ``failed_steps`` counts the transient's steps whose potential solve missed its
tolerances or whose salt solve failed (its concentration is then NaN, and every later step is
computed from a broken state). It carries no gradient and no weight: it says whether the terms
are the physics at all. A scan of fixed steps cannot retry a step with a smaller one as the run
pipeline does, so a failure there is not rare: measured, the free-form showcase's final design
(32x32x48, float32) fails from step 12 of its 24 and its terms came out finite and wrong (top
growth 0.21 where the run pipeline finds 0, step-averaged flux CV 0.010 where its 11 healthy steps
give 0.021, the failed steps adding zeros). The design loop stops on it (:func:`inverse.loop.run_study`).

:func:`steady_terms` is the cheap steady surrogate for warm-up iterations (``[design]
warmup_iterations``): one potential solve of the design at the start of plating (uniform salt,
no Li moved) instead of the transient, with the same term names:

* ``top_growth``: the share of the first step's current on faces at or above the host's top
  layer (what would plate on top, not into the host);
* ``envelope_growth_um``: that share times the capacity's thickness as dense Li [µm] (the
  growth if the first step's distribution held);
* ``relative_volume_change``: that growth over the start's mean envelope height plus it (the
  plating half of a cycle);
* ``flux_cv``, ``hotspot``: the first step's;
* ``sei_mAh_cm2``: 0 (no area change without a transient: its weight does nothing in warm-up);
* ``host_mass_mg_cm2``, ``virtual_temperature``: as above;
* ``failed_steps``: 1 if the potential solve missed its tolerances, else 0.

:func:`weighted_objective` combines them with weights, each normalised by the starting design's
value. :func:`tortuosity_objective` is the steady transport objective.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hostsim import PCG, Grid, effective_diffusivity_ratio
from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, Q_SEI, envelope_heights, flux_statistics
from hostsim.electrochemistry.plating import initial_state, plate

from .connectivity import virtual_temperature

CU_DENSITY = 8960.0  # kg/m³, copper (CRC Handbook of Chemistry and Physics, 97th ed.)
PI_DENSITY = 1420.0  # kg/m³, polyimide (DuPont Kapton HN datasheet)
TERMS = ("top_growth", "envelope_growth_um", "relative_volume_change", "flux_cv", "hotspot", "sei_mAh_cm2",
         "host_mass_mg_cm2", "virtual_temperature")


def tortuosity_objective(grid: Grid, conductivity: jax.Array, solver: PCG = PCG()) -> jax.Array:
    """Tortuosity factor ``mean(k) / (D_eff/D)`` of a continuous relative conductivity field.

    With ``k`` in [0, 1] the mean of ``k`` plays the role of the porosity in TauFactor's
    ``tau = eps D / D_eff``. ``k`` must be positive everywhere (no floating clusters); keep a
    floor (e.g. ``k >= 1e-6``): at exactly ``k = 0`` a cell is decoupled and the derivative with
    respect to it is finite but wrong (docs/solver.md).
    """
    return jnp.mean(conductivity) / effective_diffusivity_ratio(grid, conductivity, solver=solver)


def plating_terms(grid: Grid, fields, electrolyte, kinetics, *, current_density, capacity, steps,
                  collector_layers, host_top, top=None, conductor_density=CU_DENSITY,
                  insulator_density=PI_DENSITY, strip=None) -> dict:
    """Plate ``capacity`` [C/m²] at ``current_density`` [A/m²] in ``steps`` steps into the design
    ``fields = (s, k, l, theta0)``; returns the design terms (see the module docstring).

    ``strip = (current_density [A/m²], capacity [C/m²])``: then strip that much in another
    ``steps`` steps (a plate/strip cycle). The plating terms stay those of the plating; the
    SEI proxy counts the new Li area of the whole cycle, and ``relative_volume_change`` spans it."""
    s, k, l, theta0 = fields
    h = grid.voxel_size
    projected = grid.length[0] * grid.length[1]
    kw = {} if top is None else {"top": top}
    state, rec = plate(grid, s, k, l, initial_state(grid, theta0, electrolyte), electrolyte, kinetics,
                       current_density * projected, capacity / current_density / steps, steps, **kw)
    gained = state.theta - theta0
    total = jnp.sum(gained)
    mean_height = lambda theta: jnp.mean(envelope_heights(s, theta, h, collector_layers, host_top))  # noqa: E731
    heights = [mean_height(theta0), mean_height(state.theta)]
    records = [rec]
    if strip is not None:
        strip_current, strip_capacity = strip
        stripped, strip_rec = plate(grid, s, k, l, state, electrolyte, kinetics, -strip_current * projected,
                                    strip_capacity / strip_current / steps, steps, **kw)
        heights.append(mean_height(stripped.theta))
        records.append(strip_rec)
        # a strip that ran out of connected Li passed less than it was asked: its volume change is not the
        # cycle's (counted as one failed step: the study stops and says so)
        asked = strip_capacity * projected
        passed = state.plated_charge - stripped.plated_charge
        short_strip = jax.lax.stop_gradient((passed < 0.99 * asked).astype(passed.dtype))
    every = jax.tree.map(lambda *a: jnp.concatenate(a), *records)
    area = jnp.concatenate([jnp.zeros(1, every.li_interface_area.dtype), every.li_interface_area])
    mass = jnp.sum(s * (k * conductor_density + (1.0 - k) * insulator_density)) * h**3 / projected  # kg/m²
    heights = jnp.stack(heights)
    return {
        "top_growth": jnp.sum(gained[:, :, host_top:]) / total,
        "envelope_growth_um": (heights[1] - heights[0]) * 1e6,
        # the run summaries' (H_max - H_min) / H_max of the mean envelope, over the transient's ends (start,
        # plated, stripped: the envelope grows while plating and shrinks while stripping, so its extremes are there)
        "relative_volume_change": (jnp.max(heights) - jnp.min(heights)) / jnp.max(heights),
        "flux_cv": jnp.mean(rec.flux_cv),
        "hotspot": jnp.mean(rec.hotspot_pnorm),
        "sei_mAh_cm2": Q_SEI * jnp.sum(jax.nn.relu(jnp.diff(area))) / projected / COULOMB_PER_MAH_CM2,
        "host_mass_mg_cm2": mass * 100.0,  # kg/m² -> mg/cm²
        "virtual_temperature": virtual_temperature(grid, s, k, collector_layers, host_top),
        "failed_steps": failed_steps(every) + (short_strip if strip is not None else 0.0),
    }


def failed_steps(records):
    """How many steps of a plating transient (its stacked step records) failed: the potential
    solve missed its tolerances, or the salt solve failed (its NaN concentration leaves the step no
    finite electrolyte minimum). A count without a gradient (see the module docstring)."""
    failed = (~records.newton_converged) | (~jnp.isfinite(records.min_concentration))
    return jax.lax.stop_gradient(jnp.sum(failed).astype(records.min_concentration.dtype))


def steady_terms(grid: Grid, fields, electrolyte, kinetics, *, current_density, capacity, collector_layers, host_top,
                 top=None, conductor_density=CU_DENSITY, insulator_density=PI_DENSITY) -> dict:
    """The steady surrogate of :func:`plating_terms` (see the module docstring): the current
    distribution of the design's first plating step, one potential solve."""
    from hostsim.electrochemistry.potential import solve_potential
    from hostsim.numerics.connectivity import attached, conducting_nodes, connected_nodes

    s, k, l, theta0 = fields
    h = grid.voxel_size
    projected = grid.length[0] * grid.length[1]
    kw = {} if top is None else {"top": top}
    # only conductor connected to the collector is at V, as in the plating step
    nodes = conducting_nodes(jax.lax.stop_gradient(s), jax.lax.stop_gradient(k), jax.lax.stop_gradient(theta0))
    live = attached(grid, connected_nodes(grid, nodes)[0])
    sol = solve_potential(grid, s, k, l, theta0, grid.full(electrolyte.concentration), electrolyte, kinetics,
                          current=current_density * projected, attached=live, **kw)
    _, cv, _, pnorm = flux_statistics(sol.face_area, sol.face_current)
    top_share = jnp.sum(sol.reaction[:, :, host_top:]) / jnp.sum(sol.reaction)
    dense_li_um = capacity * LI_MOLAR_VOLUME / FARADAY * 1e6  # the capacity as a dense Li layer [µm]
    start_height_um = jnp.mean(envelope_heights(s, theta0, h, collector_layers, host_top)) * 1e6
    mass = jnp.sum(s * (k * conductor_density + (1.0 - k) * insulator_density)) * h**3 / projected
    return {
        "top_growth": top_share,
        "envelope_growth_um": top_share * dense_li_um,
        "relative_volume_change": top_share * dense_li_um / (start_height_um + top_share * dense_li_um),
        "flux_cv": cv,
        "hotspot": pnorm,
        "sei_mAh_cm2": jnp.zeros((), top_share.dtype),
        "host_mass_mg_cm2": mass * 100.0,
        "virtual_temperature": virtual_temperature(grid, s, k, collector_layers, host_top),
        "failed_steps": jax.lax.stop_gradient((~sol.newton.converged).astype(top_share.dtype)),
    }


def weighted_objective(terms: dict, weights: dict, reference: dict):
    """``sum_i w_i terms_i / |reference_i|`` over the weighted terms (the reference is the starting
    design's value, so every weight reads as 'per unit of the start')."""
    total = 0.0
    for name, w in weights.items():
        if w:
            total = total + w * terms[name] / jnp.maximum(jnp.abs(reference[name]), 1e-12)
    return total
