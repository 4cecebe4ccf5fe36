"""Design objectives: differentiable scalars of a design field or of a plating run.

:func:`plating_terms` runs the plating transient of a design with the run pipeline's adaptive
integrator (:func:`hostsim.electrochemistry.integrate.integrate`: a checkpointed ``lax.scan`` of
at most ``max_steps`` attempts, the implicit Newton derivative in each; the step sizes carry no
derivative, so the gradient is the transient's at the steps it took) and returns every design term as a scalar, each
differentiable in the fields:

* ``top_growth``: Li plated above the host slab / all Li plated [-];
* ``envelope_growth_um``: mean electrode-height change [µm] (envelope = max(slab top, material
  top) per column, :func:`hostsim.electrochemistry.metrics.envelope_heights`);
* ``relative_volume_change``: (H_max - H_min) / H_max of the mean envelope height H over the
  transient (the run summaries' definition), at its start, after plating and, when the study's
  protocol strips after plating (a plate/strip cycle), after stripping [-];
* ``flux_cv``: area-weighted CV of the interfacial current density, time-averaged over the
  plating steps (trapezoidal, as the run summaries' ``flux_cv_mean``) [-];
* ``hotspot``: p-norm (p = 8) hot-spot ratio, time-averaged likewise [-];
* ``sei_mAh_cm2``: SEI-loss proxy: the charge fresh Li area owes the SEI over the transient
  (paid out of plated Li, or still owed) / projected area [mAh/cm²];
* ``overpotential_V``: the electrode's overpotential |V| while plating, time-averaged like the
  flux CV [V] (what a coating or a lithiophobic host costs in voltage);
* ``host_mass_mg_cm2``: host mass per projected area (conducting share at ``conductor_density``,
  the rest at ``insulator_density``);
* ``virtual_temperature``: how well the conductor is connected to the collector, ~1 when all of it
  is, hundreds with an island (:mod:`inverse.connectivity`; a property of the design's
  fields, not of the plating; one more linear solve).

Besides the terms, ``failed_steps`` counts the transient's segments that did not complete: an
event ended them early (the electrolyte depleting, the voltage cutoff of a strip out of Li, Li
at the top of the box) or ``max_steps`` attempts ran out. It carries no gradient and no weight:
it says whether the terms are the physics asked for at all, and the design loop stops on it
(:func:`inverse.loop.run_study`).

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
* ``overpotential_V``: the first step's |V|;
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
from hostsim.electrochemistry.cell import Reservoir
from hostsim.electrochemistry.integrate import COMPLETED, DEFAULT_TIME_TOLERANCE, integrate, replay, time_average
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, Q_SEI, envelope_heights, flux_statistics
from hostsim.electrochemistry.plating import PlatingSystem, initial_state
from hostsim.numerics.stepsize import PIDController

from .connectivity import virtual_temperature

CU_DENSITY = 8960.0  # kg/m³, copper (CRC Handbook of Chemistry and Physics, 97th ed.)
PI_DENSITY = 1420.0  # kg/m³, polyimide (DuPont Kapton HN datasheet)
TERMS = ("top_growth", "envelope_growth_um", "relative_volume_change", "flux_cv", "hotspot", "sei_mAh_cm2",
         "host_mass_mg_cm2", "virtual_temperature", "overpotential_V")
# The smallest value of each term that is physics, not round-off (a start design's value below it
# cannot be the unit of a weight). Envelope: 1 nm, about three atomic layers of Li (bcc, a = 0.351
# nm); SEI: 1e-6 mAh/cm², a film ~0.01 nm thick at q_SEI; overpotential: 0.1 mV, below what a
# cell tester resolves; shares and ratios: 1e-4.
TERM_RESOLUTION = {"top_growth": 1e-4, "envelope_growth_um": 1e-3, "relative_volume_change": 1e-4, "flux_cv": 1e-4,
                   "hotspot": 1e-4, "sei_mAh_cm2": 1e-6, "host_mass_mg_cm2": 1e-4, "virtual_temperature": 1e-4,
                   "overpotential_V": 1e-4}


def tortuosity_objective(grid: Grid, conductivity: jax.Array, solver: PCG = PCG()) -> jax.Array:
    """Tortuosity factor ``mean(k) / (D_eff/D)`` of a continuous relative conductivity field.

    With ``k`` in [0, 1] the mean of ``k`` plays the role of the porosity in TauFactor's
    ``tau = eps D / D_eff``. ``k`` must be positive everywhere (no floating clusters); keep a
    floor (e.g. ``k >= 1e-6``): at exactly ``k = 0`` a cell is decoupled and the derivative with
    respect to it is finite but wrong (docs/solver.md).
    """
    return jnp.mean(conductivity) / effective_diffusivity_ratio(grid, conductivity, solver=solver)


DESIGN_MAX_STEPS = 200  # attempts per segment of a design transient (memory for the gradient grows with it)


def _unpacked(fields, grid=None, separator=None) -> tuple:
    """``(s, k, l, theta0, li_excluded)`` of a design's fields, ``(s, k, l, theta0)`` or with the
    host's ``li_excluded`` (:class:`hostsim.Host`) as a fifth (None where absent); with a
    ``separator``, its polymer and pores in the top layers, as a run has them."""
    s, k, l, theta0, *rest = fields
    if separator is not None:
        return separator.overlay(grid, s, k, l, theta0, rest[0] if rest else None)
    return s, k, l, theta0, rest[0] if rest else None


def transient(grid: Grid, fields, electrolyte, kinetics, *, current_density, capacity, collector_layers, host_top,
              top=None, strip=None, time_tolerance=DEFAULT_TIME_TOLERANCE, max_steps=DESIGN_MAX_STEPS,
              sei_charge_density=Q_SEI, steps=None, separator=None) -> list:
    """The design transient's segments (:func:`plating_terms`' arguments): a list of ``(carry,
    attempts)``, the plating's and, with ``strip``, the stripping's. With ``steps`` (one array of
    step lengths [s] per segment, e.g. :func:`taken_steps` of an earlier call) the segments are
    taken in exactly those steps (:func:`hostsim.electrochemistry.integrate.replay`): the map
    whose derivative the adaptive transient's gradient is."""
    s, k, l, theta0, excluded = _unpacked(fields, grid, separator)
    projected = grid.length[0] * grid.length[1]
    system = PlatingSystem(grid, s, k, l, electrolyte, kinetics, top=Reservoir() if top is None else top,
                           sei_charge_density=sei_charge_density, collector_layers=collector_layers, host_top=host_top,
                           li_excluded=excluded, separator=separator)
    controller = PIDController(rtol=time_tolerance)
    drives = [(current_density * projected, capacity / current_density)]
    if strip is not None:
        drives.append((-strip[0] * projected, strip[1] / strip[0]))
    state, out = initial_state(grid, theta0, electrolyte), []
    for index, (current, duration) in enumerate(drives):
        if steps is None:
            carry, rows = integrate(system, state, current, duration, controller=controller, max_steps=max_steps)
        else:
            carry, rows = replay(system, state, current, steps[index])
        out.append((carry, rows))
        state = carry.state
    return out


def taken_steps(segments) -> tuple:
    """The accepted step lengths [s] of each segment of :func:`transient` (numpy)."""
    import numpy as np

    return tuple(np.asarray(rows.dt)[np.asarray(rows.accepted, bool) & ~np.asarray(rows.start, bool)]
                 for _, rows in segments)


def plating_terms(grid: Grid, fields, electrolyte, kinetics, *, current_density, capacity, collector_layers, host_top,
                  top=None, conductor_density=CU_DENSITY, insulator_density=PI_DENSITY, strip=None,
                  time_tolerance=DEFAULT_TIME_TOLERANCE, max_steps=DESIGN_MAX_STEPS, sei_charge_density=Q_SEI,
                  steps=None, separator=None) -> dict:
    """Plate ``capacity`` [C/m²] at ``current_density`` [A/m²] into the design ``fields = (s, k, l,
    theta0)`` with adaptive steps at ``time_tolerance`` (at most ``max_steps`` attempts); returns
    the design terms (see the module docstring).

    ``strip = (current_density [A/m²], capacity [C/m²])``: then strip that much (a plate/strip
    cycle). The plating terms stay those of the plating; the SEI proxy counts the new Li area of
    the whole cycle, and ``relative_volume_change`` spans it."""
    s, k, l, theta0, _ = _unpacked(fields)  # the host's own (its mass; a separator is not the electrode)
    h = grid.voxel_size
    projected = grid.length[0] * grid.length[1]
    segments = transient(grid, fields, electrolyte, kinetics, current_density=current_density, capacity=capacity,
                         collector_layers=collector_layers, host_top=host_top, top=top, strip=strip,
                         time_tolerance=time_tolerance, max_steps=max_steps, sei_charge_density=sei_charge_density,
                         steps=steps, separator=separator)
    under = None if separator is None else grid.shape[2] - separator.layers(grid)
    plated, rows = segments[0]
    state = plated.state
    gained = state.theta - theta0
    mean_height = lambda theta: jnp.mean(envelope_heights(s, theta, h, collector_layers, host_top, under))  # noqa: E731
    heights = [mean_height(theta0), mean_height(state.theta)]
    unfinished = (plated.status != COMPLETED).astype(jnp.int32)
    if strip is not None:
        stripped, _ = segments[1]
        heights.append(mean_height(stripped.state.theta))
        # a strip that ran out of connected Li (its voltage cutoff) did not pass what it was asked: its
        # volume change is not the cycle's
        unfinished = unfinished + (stripped.status != COMPLETED)
        state = stripped.state
    mass = jnp.sum(s * (k * conductor_density + (1.0 - k) * insulator_density)) * h**3 / projected  # kg/m²
    heights = jnp.stack(heights)
    return {
        "top_growth": jnp.sum(gained[:, :, host_top:]) / jnp.sum(gained),
        "envelope_growth_um": (heights[1] - heights[0]) * 1e6,
        # the run summaries' (H_max - H_min) / H_max of the mean envelope, over the transient's ends (start,
        # plated, stripped: the envelope grows while plating and shrinks while stripping, so its extremes are there)
        "relative_volume_change": (jnp.max(heights) - jnp.min(heights)) / jnp.max(heights),
        "flux_cv": time_average(rows.observation.flux_cv, rows),
        "hotspot": time_average(rows.observation.hotspot_pnorm, rows),
        "sei_mAh_cm2": (state.sei_charge + state.sei_owed) / projected / COULOMB_PER_MAH_CM2,
        "host_mass_mg_cm2": mass * 100.0,  # kg/m² -> mg/cm²
        "virtual_temperature": virtual_temperature(grid, s, k, collector_layers, host_top),
        "overpotential_V": time_average(jnp.abs(rows.observation.voltage), rows),
        "failed_steps": jax.lax.stop_gradient(jnp.asarray(unfinished, gained.dtype)),
    }


def steady_terms(grid: Grid, fields, electrolyte, kinetics, *, current_density, capacity, collector_layers, host_top,
                 top=None, conductor_density=CU_DENSITY, insulator_density=PI_DENSITY) -> dict:
    """The steady surrogate of :func:`plating_terms` (see the module docstring): the current
    distribution of the design's first plating step, one potential solve."""
    from hostsim.electrochemistry.potential import solve_potential
    from hostsim.numerics.connectivity import attached, conducting_nodes, connected_nodes

    s, k, l, theta0, excluded = _unpacked(fields)
    h = grid.voxel_size
    projected = grid.length[0] * grid.length[1]
    kw = {} if top is None else {"top": top}
    # only conductor connected to the collector is at V, as in the plating step
    nodes = conducting_nodes(jax.lax.stop_gradient(s), jax.lax.stop_gradient(k), jax.lax.stop_gradient(theta0))
    live = attached(grid, connected_nodes(grid, nodes)[0])
    sol = solve_potential(grid, s, k, l, theta0, grid.full(electrolyte.concentration), electrolyte, kinetics,
                          current=current_density * projected, attached=live, li_excluded=excluded,
                          collector_layers=collector_layers, host_top=host_top, **kw)
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
        "overpotential_V": jnp.abs(sol.cell_voltage).astype(top_share.dtype),
        "failed_steps": jax.lax.stop_gradient((~sol.newton.converged).astype(top_share.dtype)),
    }


def relative_to_start(name: str, value, reference: dict):
    """``value / |reference[name]|``: a term in units of the start design's value, never divided
    by less than the term's resolution (``TERM_RESOLUTION``), so round-off in a start's zero (an
    envelope growth of 1e-16 µm) cannot weigh a later round-off 1e12 times."""
    return value / jnp.maximum(jnp.abs(reference[name]), TERM_RESOLUTION.get(name, 1e-12))


def weighted_objective(terms: dict, weights: dict, reference: dict):
    """``sum_i w_i terms_i / |reference_i|`` over the weighted terms (the reference is the starting
    design's value, so every weight reads as 'per unit of the start'; see
    :func:`relative_to_start`)."""
    total = 0.0
    for name, w in weights.items():
        if w:
            total = total + w * relative_to_start(name, terms[name], reference)
    return total
