"""A full plating/stripping run on a host: protocol, metrics summary and output files.

:func:`simulate` runs a :class:`~hostsim.run.protocol.Protocol` on the fields of a host and returns
a :class:`SimulationResult`: the final state, the time series (one row per segment start and per
accepted step), one log per segment and a summary of scalars whose keys carry their units.
:func:`write_outputs` writes ``summary.json``, ``timeseries.csv`` and the final fields
(``fields_final.vti``) into a directory; snapshots during the run come from a
:class:`~hostsim.run.snapshots.SnapshotWriter` (docs/outputs.md lists every file, key and column).

Summary definitions (beyond :mod:`hostsim.electrochemistry.metrics`):

* ``plated_mAh_cm2``, ``stripped_mAh_cm2``: the charge that passed while plating / stripping per
  projected area (a plate of 1 mAh/cm² reads 1.000 unless an event ended it early);
  ``net_plated_mAh_cm2``: their difference. ``li_metal_mAh_cm2``: the Li metal the run added (from
  the Li field), ``sei_loss_mAh_cm2``: the Li the SEI proxy took, so that ``li_metal + sei = net``
  to round-off; ``conservation_error`` is the relative defect of that identity over the charge
  throughput; ``passed_plating_charge_C`` / ``passed_stripping_charge_C``: the same charges in C;
* ``coulombic_efficiency``: the charge of the second half over the first, over the run (stripped /
  plated when the protocol plates first, plated / stripped when it strips a pre-infused host
  first), in [0, 1]; null where undefined (nothing passed, or the second half passed more than the
  first), with the reason in ``coulombic_efficiency_note``;
* ``segments``: one entry per segment run: its kind, cycle, ``outcome`` (completed, or ended by
  an ``event``: voltage cutoff, depletion, Li at the top of the box, current not passed; or
  failed), requested and passed charge [C], requested and run seconds, steps and rejected steps;
* ``time_tolerance``, ``steps``, ``rejected_steps``, ``step_min_s`` / ``step_median_s`` /
  ``step_max_s``: the adaptive integrator's work; ``steps_above_tolerance``: accepted steps whose
  error estimate was above the tolerance, kept because they were already at the shortest step
  (a jump of the connected conductor, or the potential solve's resolution);
* per cycle (lists, one value per cycle): ``cycle_coulombic_efficiency`` (as the run's, per
  cycle; null where undefined), ``cycle_dead_li_mAh_cm2`` and ``cycle_sei_loss_mAh_cm2`` (added in that cycle),
  ``cycle_envelope_plated_um`` / ``cycle_envelope_stripped_um`` (mean envelope at the end of the
  cycle's plating / stripping minus the run's start), ``cycle_relative_volume_change``
  ((H_max - H_min) / H_max of the mean envelope over the cycle), ``cycle_hysteresis_V`` (mean
  voltage while stripping minus mean voltage while plating, time-weighted);
* ``envelope_growth_um``: mean envelope height at the end minus at the start (the envelope of a
  column is the higher of the host slab's top and the material's top, :func:`envelope_heights`);
  ``relative_volume_change``: (H_max - H_min) / H_max over the run (mean envelope);
* ``top_growth_fraction``: Li above the host slab / all Li in the electrode at the end;
  ``pore_volume_use``: Li in the slab (infused included) / the slab's pore volume;
* ``flux_cv``, ``hotspot_ratio``: at the last plating step; ``flux_cv_mean``: time-weighted over
  the plating steps (trapezoidal); ``min_concentration_ratio``: the lowest c / c0 in an electrolyte cell
  (eps > 0.5) over the run; ``min_front_concentration_ratio``: the lowest surface concentration
  (cell value extrapolated to the interface) over every cell owning interface area;
  ``sand_time_ratio``: the longest plating segment's run time over Sand's time at the *projected*
  current density;
* ``final_voltage_V``, ``max_potential_residual``: over the rows that carried current;
  ``mean_plating_voltage_V``: the voltage time-averaged over the plating steps (trapezoidal; the
  design term ``overpotential_V`` is its magnitude);
* ``salt_balance_error``: |change of the electrolyte's salt - (salt in through the top - (1 - t+)
  net charge / F - salt the displaced electrolyte carried out through the top)| / ((1 - t+) sum |I| dt / F) (float64 runs only: in
  float32 a step's balance defect is ~1 % of its consumption, the salt solve's tolerance relative
  to the whole right-hand side).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.electrochemistry.kinetics import sand_time
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, dead_li_fraction, envelope_heights
from hostsim.electrochemistry.plating import PlatingState, initial_state
from hostsim.errors import InputError
from hostsim.run.io import write_json
from hostsim.run.batching import OneHost, members_batching
from hostsim.run.observer import Observers, OnCheckpoint, PerMember, Progress, RunObserver
from hostsim.run.protocol import DEFAULT_TIME_TOLERANCE, Protocol, run_protocol


@dataclasses.dataclass
class SimulationResult:
    name: str
    state: PlatingState
    series: dict
    summary: dict
    segments: list = dataclasses.field(default_factory=list)


def _li_coulombs(theta, h):
    return float(np.sum(np.asarray(theta, np.float64))) * h**3 * FARADAY / LI_MOLAR_VOLUME


def time_average(values, dt, rows) -> float | None:
    """The time average of a quantity over the steps marked by ``rows`` (trapezoidal: each step
    weighs the rows at its two ends; a segment's first row is its starting state, so every step
    has a row before it)."""
    values, dt = np.asarray(values, np.float64), np.asarray(dt, np.float64)
    steps = np.nonzero(np.asarray(rows) & (dt > 0))[0]
    steps = steps[steps > 0]
    if not steps.size:
        return None
    return float(np.sum(0.5 * (values[steps - 1] + values[steps]) * dt[steps]) / np.sum(dt[steps]))


def first_kind(segments) -> str | None:
    """'plate' or 'strip': the kind of a cycle's first segment that passes current (None: only rests)."""
    return next((log["kind"] for log in segments if log["kind"] in ("plate", "strip")), None)


def coulombic_efficiency(plated, stripped, first) -> tuple:
    """``(value, reason)``: the charge of a cycle's second half over its first [C/C] (stripped /
    plated when it plates first, plated / stripped when it strips a pre-infused host first), in
    [0, 1]; ``value`` is None where that is undefined, and ``reason`` says why (None when defined)."""
    if first is None:
        return None, "no current passed"
    one, two = (plated, stripped) if first == "plate" else (stripped, plated)
    names = ("plated", "stripped") if first == "plate" else ("stripped", "plated")
    if one <= 0:
        return None, f"nothing was {names[0]}"
    if two <= 0:
        return None, f"nothing was {names[1]} after it was {names[0]}"
    if two > one * (1.0 + 1e-6):
        return None, (f"{names[1]} {two / one:.3f}x what was {names[0]}: the second half drew on Li (or room) "
                      f"the first did not make")
    return min(two / one, 1.0), None


def cycle_metrics(series, segments, h0, projected) -> dict:
    """The per-cycle lists of the summary (module docstring)."""
    per_mah = projected * COULOMB_PER_MAH_CM2
    cycles = sorted({log["cycle"] for log in segments})
    out = {k: [] for k in ("cycle_coulombic_efficiency", "cycle_dead_li_mAh_cm2", "cycle_sei_loss_mAh_cm2",
                           "cycle_envelope_plated_um", "cycle_envelope_stripped_um", "cycle_relative_volume_change",
                           "cycle_hysteresis_V")}
    dt = np.asarray(series["dt"], np.float64)
    env = np.asarray(series["envelope_mean"], np.float64)
    before = {"dead": float(series["dead_li_charge"][0]), "sei": 0.0, "env": h0}
    for c in cycles:
        logs = [log for log in segments if log["cycle"] == c]
        rows = np.asarray(series["cycle"]) == c
        plated = sum(log["passed_charge_C"] for log in logs if log["kind"] == "plate")
        stripped = -sum(log["passed_charge_C"] for log in logs if log["kind"] == "strip")
        out["cycle_coulombic_efficiency"].append(coulombic_efficiency(plated, stripped, first_kind(logs))[0])
        last = np.nonzero(rows)[0][-1]
        dead, sei = float(series["dead_li_charge"][last]), float(series["sei_charge"][last])
        out["cycle_dead_li_mAh_cm2"].append((dead - before["dead"]) / per_mah)
        out["cycle_sei_loss_mAh_cm2"].append((sei - before["sei"]) / per_mah)
        for kind, key in (("plate", "cycle_envelope_plated_um"), ("strip", "cycle_envelope_stripped_um")):
            ends = [np.nonzero(np.asarray(series["segment"]) == log["segment"])[0][-1] for log in logs if log["kind"] == kind]
            out[key].append((env[ends[-1]] - h0) * 1e6 if ends else None)
        heights = np.concatenate([[before["env"]], env[rows]])
        out["cycle_relative_volume_change"].append(float((heights.max() - heights.min()) / heights.max())
                                                   if heights.max() > 0 else 0.0)
        v, cur = np.asarray(series["voltage"], np.float64), np.asarray(series["current"])
        mean_strip = time_average(v, dt, rows & (cur < 0))
        mean_plate = time_average(v, dt, rows & (cur > 0))
        out["cycle_hysteresis_V"].append(mean_strip - mean_plate if mean_strip is not None and mean_plate is not None
                                         else None)
        before = {"dead": dead, "sei": sei, "env": float(env[last])}
    return out


def _message(segments, series) -> str:
    """'completed', or one clause per segment that did not pass what it asked (loud by design)."""
    notes = []
    for log in segments:
        if log["outcome"] == "completed":
            continue
        asked = abs(log["requested_charge_C"])
        passed = f"{abs(log['passed_charge_C']) / asked:.1%} of its charge" if asked > 0 else \
            f"{log['seconds']:.4g} of {log['requested_s']:.4g} s"
        why = log["event"] or "its step size collapsed"
        notes.append(f"segment {log['segment'] + 1} ({log['kind']}, cycle {log['cycle'] + 1}) ended early "
                     f"({why}) at t = {_segment_end_time(series, log):.4g} s after {passed}")
    return "completed" if not notes else "; ".join(notes)


def _segment_end_time(series, log) -> float:
    rows = np.nonzero(np.asarray(series["segment"]) == log["segment"])[0]
    return float(series["time"][rows[-1]]) if rows.size else 0.0


def summarize(name, grid, s, k, theta0, collector_layers, host_top, state, series, segments, electrolyte, protocol,
              seconds, time_tolerance=DEFAULT_TIME_TOLERANCE, separator=None):
    """The summary dict of a run (module docstring)."""
    h = grid.voxel_size
    projected = grid.length[0] * grid.length[1]
    per_mah = projected * COULOMB_PER_MAH_CM2
    dt = np.asarray(series["dt"], np.float64)
    current = np.asarray(series["current"], np.float64)
    steps = dt > 0
    throughput = float(np.sum(np.abs(current) * dt))
    plated_q = sum(log["passed_charge_C"] for log in segments if log["kind"] == "plate")
    stripped_q = -sum(log["passed_charge_C"] for log in segments if log["kind"] == "strip")
    net = plated_q - stripped_q
    gained = _li_coulombs(state.theta, h) - _li_coulombs(theta0, h)
    sei = float(state.sei_charge)
    theta = np.asarray(state.theta, np.float64)
    electrode_li = _li_coulombs(theta, h)
    above = _li_coulombs(theta[:, :, host_top:], h)
    top = None if separator is None else grid.shape[2] - separator.layers(grid)  # the electrode ends under it
    h0 = float(np.mean(np.asarray(_envelope_heights(s, theta0, h, collector_layers, host_top, top))))
    # the growth from the same function on the final state (the rows' float32 means differ by round-off)
    h_end = float(np.mean(np.asarray(_envelope_heights(s, state.theta, h, collector_layers, host_top, top))))
    env = np.concatenate([[h0], series["envelope_mean"]])
    plating = steps & (current > 0)
    carried = np.nonzero(current != 0)[0]
    last_carried = carried[-1] if carried.size else len(dt) - 1
    last = np.nonzero(current > 0)[0][-1] if np.any(current > 0) else len(dt) - 1
    salt_balance = _salt_balance_error(grid, s, theta0, state, series, electrolyte, net, throughput, dt, separator)
    slab = slice(collector_layers, host_top)
    pore = float(np.sum(1.0 - np.asarray(s, np.float64)[:, :, slab]))
    inside = float(np.sum(theta[:, :, slab]))
    c0 = electrolyte.concentration
    d0 = float(electrolyte.diffusivity(c0))
    sand_ratio = 0.0
    for log in segments:
        if log["kind"] == "plate":
            j = log["requested_charge_C"] / log["requested_s"] / projected
            tau = np.pi * d0 * (c0 * FARADAY) ** 2 / (4 * j**2 * (1 - electrolyte.transference) ** 2)
            sand_ratio = max(sand_ratio, log["seconds"] / tau)
    depleted = [log for log in segments if log["event"] == "depletion"]
    depleted_at = _segment_end_time(series, depleted[0]) if depleted else None
    sizes = dt[steps]
    efficiency, efficiency_note = coulombic_efficiency(plated_q, stripped_q, first_kind(segments))
    return {
        "case": name,
        "grid_voxels": list(grid.shape),
        "voxel_size_um": h * 1e6,
        "wall_time_s": seconds,
        "time_tolerance": time_tolerance,
        "steps": int(np.sum(steps)),
        "rejected_steps": int(sum(log["rejected_steps"] for log in segments)),
        "steps_above_tolerance": int(np.sum(steps & (np.asarray(series["error"], np.float64) > 1.0))),
        "step_min_s": float(sizes.min()) if sizes.size else None,
        "step_median_s": float(np.median(sizes)) if sizes.size else None,
        "step_max_s": float(sizes.max()) if sizes.size else None,
        "plated_mAh_cm2": plated_q / per_mah,
        "stripped_mAh_cm2": stripped_q / per_mah,
        "net_plated_mAh_cm2": net / per_mah,
        "li_metal_mAh_cm2": gained / per_mah,
        "sei_loss_mAh_cm2": sei / per_mah,
        "requested_charge_C": float(sum(log["requested_charge_C"] for log in segments)),
        "passed_plating_charge_C": plated_q,
        "passed_stripping_charge_C": stripped_q,
        "coulombic_efficiency": efficiency,
        "coulombic_efficiency_note": efficiency_note,
        "conservation_error": abs(gained + sei - net) / max(throughput, 1e-300),
        "salt_balance_error": salt_balance,
        "envelope_growth_um": (h_end - h0) * 1e6,
        "envelope_max_column_um": float(np.max(series["envelope_max"])) * 1e6,
        "relative_volume_change": float((env.max() - env.min()) / env.max()) if env.max() > 0 else 0.0,
        "top_growth_fraction": above / electrode_li if electrode_li > 0 else 0.0,
        "pore_volume_use": inside / pore if pore > 0 else 0.0,
        "flux_cv": float(series["flux_cv"][last]),
        # the design loop's flux term is this average (inverse.objectives.plating_terms), not the last
        # step's CV: a front reaching the top in the last steps moves the last value most (docs/design.md)
        "flux_cv_mean": time_average(series["flux_cv"], dt, plating),
        "hotspot_ratio": float(series["hotspot_ratio"][last]),
        "hotspot_pnorm_ratio": float(series["hotspot_pnorm"][last]),
        "mean_interfacial_current_A_m2": float(series["flux_mean"][last]),
        "min_concentration_ratio": float(np.min(series["min_concentration"]) / c0),
        "min_front_concentration_ratio": float(np.min(series["min_interface_concentration"]) / c0),
        "sand_time_ratio": sand_ratio,
        "dead_li_fraction": dead_li_fraction(s, k, state.theta, collector_layers, grid.lateral == "periodic"),
        "dead_li_mAh_cm2": float(series["dead_li_charge"][-1]) / per_mah,
        "final_voltage_V": float(series["voltage"][last_carried]),
        "mean_plating_voltage_V": time_average(series["voltage"], dt, plating),
        "max_potential_residual": float(np.max(series["potential_residual"][carried])) if carried.size else 0.0,
        "newton_iterations_mean": float(np.mean(series["newton_iterations"])),
        "pcg_iterations_mean": float(np.mean(series["linear_iterations"])),
        "depleted_at_s": depleted_at,
        "message": _message(segments, series),
        "segments": segments,
        **cycle_metrics(series, segments, h0, projected),
        "electrolyte": electrolyte.describe(),
        "protocol": [dataclasses.asdict(seg) for seg in protocol.segments] + [{"cycles": protocol.cycles}],
    }


def _salt_balance_error(grid, s, theta0, state, series, electrolyte, net, throughput, dt, separator=None):
    """The salt balance's relative defect (module docstring; float64 runs only); a separator's bound
    Li+ counts as salt held."""
    if np.dtype(grid.dtype) != np.float64:
        return None
    h = grid.voxel_size

    def salt(theta_field, c_field):
        eps = np.maximum(1.0 - np.asarray(s, np.float64) - np.asarray(theta_field, np.float64), 1e-6)
        bound = 0.0 if separator is None else float(np.sum(np.asarray(separator.bound_salt(grid, c_field), np.float64)))
        return (float(np.sum(eps * np.asarray(c_field, np.float64))) + bound) * h**3

    change = salt(state.theta, state.concentration) - salt(theta0, np.full(np.shape(theta0),
                                                                              float(electrolyte.concentration)))
    expected = (float(np.sum(np.asarray(series["salt_inflow"], np.float64) * dt))
                - (1.0 - electrolyte.transference) * net / FARADAY - float(state.displaced_salt))
    return abs(change - expected) / ((1.0 - electrolyte.transference) * max(throughput, 1e-300) / FARADAY)


# one compiled program each instead of one per operation (a run's set-up and summary read them from
# the compilation cache: ~10 ms a program)
_envelope_heights = jax.jit(envelope_heights, static_argnums=(2, 3, 4, 5))
_initial_state = eqx.filter_jit(initial_state)


def additive_coverage(kinetics, state) -> np.ndarray:
    """Per cell, the additive's coverage ``theta_M`` [-] of the Li plating there at ``state`` (0 in
    cells that do not plate; :mod:`hostsim.electrochemistry.additive`)."""
    return np.asarray(kinetics.shield.coverage_field(state.phi, state.interfacial_current > 0))


def additive_summary(kinetics, state) -> dict:
    """The summary's additive keys (none without an additive): its reduction potential [V vs SHE],
    whether it shields, and its coverage over the cells that plate at the run's last state."""
    shield = kinetics.shield
    if shield is None:
        return {}
    plating = np.asarray(state.interfacial_current) > 0
    theta = additive_coverage(kinetics, state)[plating]
    return {"additive_reduction_potential_V": float(shield.reduction_potential()),
            "additive_li_reduction_potential_V": float(shield.li_potential()),
            "additive_shield_active": bool(shield.active()),
            "additive_coverage_mean": float(theta.mean()) if theta.size else 0.0,
            "additive_coverage_max": float(theta.max()) if theta.size else 0.0}


def check_graded_films(films, slab_layers: int) -> None:
    """Refuse, before any compilation, a graded coating with more layers than the host slab has
    voxel layers (some of its layers would coat nothing)."""
    for name in ("li_layers", "host_layers"):
        layers = None if films is None else getattr(films, name)
        if layers is not None and len(layers) > max(slab_layers, 1):
            raise InputError(f"[coating] thickness_profile_nm has {len(layers)} layers, more than the host slab's "
                             f"{max(slab_layers, 1)} voxel layers; give at most {max(slab_layers, 1)}")


def check_patterned_films(films, grid) -> None:
    """Refuse, before any compilation, a patterned coating whose field fits neither the grid nor its
    columns."""
    for name in ("li", "host", "collector"):
        field = None if films is None else getattr(films, name)
        shape = np.shape(field)
        if len(shape) == 3 and shape not in (tuple(grid.shape), tuple(grid.shape[:2]) + (1,)):
            got = shape[:2] if shape[2] == 1 else shape
            raise InputError(f"[coating] pattern has shape {got}; expected the grid's {tuple(grid.shape)} or its "
                             f"columns' {tuple(grid.shape[:2])}")


def check_separator(separator, grid, host_top) -> None:
    """Refuse, before any compilation, a separator that does not leave a layer of electrolyte
    between the host and itself."""
    free = grid.shape[2] - host_top
    if separator.layers(grid) >= free:
        raise InputError(
            f"[separator] thickness_um = {separator.thickness * 1e6:g}: its {separator.layers(grid)} voxel layers do not fit "
            f"above the host, which leaves {free} layers ({free * grid.voxel_size * 1e6:.3g} µm) under the top; make the "
            f"separator thinner or the box taller")


def separator_summary(separator, grid, segments, series, electrolyte) -> dict:
    """The summary's separator keys (none without one): its layers, whether Li reached it (the
    event that ends a segment there: penetration in a real cell), its depletion (the lowest c / c0
    in its pores over the run) and its Sand margin (:func:`separator_sand_time` at the projected
    current density over the longest plating segment's run time: below 1, a separator at the
    electrode's face would have depleted)."""
    if separator is None:
        return {}
    c0 = electrolyte.concentration
    margin = None
    for log in segments:
        if log["kind"] == "plate" and log["seconds"] > 0:
            j = log["requested_charge_C"] / log["requested_s"] / (grid.length[0] * grid.length[1])
            ratio = separator_sand_time(separator, electrolyte, j) / log["seconds"]
            margin = ratio if margin is None else min(margin, ratio)
    return {"separator_thickness_um": separator.layers(grid) * grid.voxel_size * 1e6,
            "separator_porosity": separator.porosity, "separator_tortuosity": separator.tortuosity,
            "li_reached_separator": any(log["event"] == "Li reached the separator" for log in segments),
            "separator_min_concentration_ratio": float(np.min(series["separator_min_concentration"]) / c0),
            "separator_sand_margin": margin}


def separator_sand_time(separator, electrolyte, current_density) -> float:
    """Sand's time [s] of planar plating at ``current_density`` [A/m²] into a semi-infinite
    electrolyte held in the separator's pores: the free electrolyte's times ``(eps / tau)(eps +
    dq/dc)`` (its storage times its conductance, the binding's slope taken at c0)."""
    gamma, k = separator.binding_capacity, separator.binding_affinity
    storage = separator.porosity + gamma * k / (1.0 + k * electrolyte.concentration) ** 2
    return float(sand_time(current_density, electrolyte)) * separator.porosity / separator.tortuosity * storage


def coating_summary(kinetics, series) -> dict:
    """The summary's coating keys (none without a coating), at the last plating row: the film drop
    the mean coulomb crosses and its largest [V], its share of the electrode's overpotential |V|,
    the share of the current that crosses a film, and the Li area under a cracked film [m²] and its
    share of the Li area."""
    if kinetics.films is None:
        return {}
    current = np.asarray(series["current"], np.float64)
    if not np.any(current > 0):
        return {"film_overpotential_mean_V": None, "film_overpotential_max_V": None, "film_overpotential_share": None,
                "coated_current_share": None, "film_cracked_area_m2": None, "film_cracked_share": None}
    last = np.nonzero(current > 0)[0][-1]
    mean = float(series["film_overpotential_mean"][last])
    voltage = abs(float(series["voltage"][last]))
    cracked, li_area = float(series["film_cracked_area"][last]), float(series["li_interface_area"][last])
    return {"film_overpotential_mean_V": mean, "film_overpotential_max_V": float(series["film_overpotential_max"][last]),
            "film_overpotential_share": mean / voltage if voltage > 0 else None,
            "coated_current_share": float(series["coated_current_share"][last]),
            "film_cracked_area_m2": cracked, "film_cracked_share": cracked / li_area if li_area > 0 else 0.0}


def simulate_hosts(names, grid, hosts, electrolyte, kinetics, protocol: Protocol, *, batching=None, observers=None,
                   progress=None, resume=None, collector_layers=1, host_top=1, **kw) -> list:
    """Run ``protocol`` on each host of ``hosts`` (a list of ``(s, k, l, theta0)`` of one grid, or
    ``(s, k, l, theta0, li_excluded)``: :meth:`hostsim.Host.arrays`) as one
    run of :func:`hostsim.run.protocol.run_protocol` (whose keywords ``kw`` are passed on) and
    summarize each; returns one :class:`SimulationResult` per host, each with its share of the wall
    time. ``batching``: :class:`~hostsim.run.batching.OneHost` (default; one host) or members
    together (:func:`~hostsim.run.batching.members_batching`). ``observers``: one
    :class:`~hostsim.run.observer.RunObserver` per host (its own state and checkpoints: a single
    run's format); ``progress(done_s, total_s, segment)``: the run's progress; ``resume``: the
    checkpoints to continue from (one per host, all in the same segment)."""
    started = time.perf_counter()
    batching = OneHost() if batching is None else batching
    observers = [RunObserver() for _ in hosts] if observers is None else observers
    own = [Progress(progress)] if progress is not None else []
    observer = (Observers(*own, observers[0]) if not batching.stacked
                else PerMember(observers, Observers(*own), batching.member))
    states0 = [_initial_state(grid, h[3], electrolyte) for h in hosts]
    start_from = None if resume is None else (stacked_checkpoint(resume) if batching.stacked else resume[0])
    observer.started(batching.stack(states0), start_from is not None)
    check_graded_films(kinetics.films, host_top - collector_layers)
    check_patterned_films(kinetics.films, grid)
    separator = kw.get("separator")
    if separator is not None:  # its polymer and pores in the host's top layers (idempotent)
        check_separator(separator, grid, host_top)
        hosts = [separator.overlay(grid, *h[:4], h[4] if len(h) > 4 else None) for h in hosts]
    s, k, l = (batching.stack([h[i] for h in hosts]) for i in range(3))
    excluded = [h[4] if len(h) > 4 else None for h in hosts]
    if any(x is not None for x in excluded):
        kw["li_excluded"] = batching.stack([jax.numpy.zeros_like(h[0]) if x is None else x for h, x in zip(hosts, excluded)])
    state, series, segments = run_protocol(grid, s, k, l, batching.stack(states0), electrolyte, kinetics, protocol,
                                           collector_layers=collector_layers, host_top=host_top, observer=observer,
                                           resume=start_from, batching=batching, **kw)
    observer.finished(state)
    if not batching.stacked:
        series, segments = [series], [segments]
    seconds = (time.perf_counter() - started) / len(hosts)
    tolerance = kw.get("time_tolerance", DEFAULT_TIME_TOLERANCE)
    results = []
    for j, (name, host) in enumerate(zip(names, hosts)):
        own_state = batching.member(state, j)
        summary = summarize(name, grid, host[0], host[1], host[3], collector_layers, host_top, own_state, series[j],
                            segments[j], electrolyte, protocol, seconds, tolerance, separator)
        summary.update(separator_summary(separator, grid, segments[j], series[j], electrolyte))
        summary.update(additive_summary(kinetics, own_state))
        summary.update(coating_summary(kinetics, series[j]))
        results.append(SimulationResult(name, own_state, series[j], summary, segments[j]))
    return results


def simulate(name, grid, s, k, l, theta0, electrolyte, kinetics, protocol: Protocol, *, collector_layers=1,
             host_top=1, progress=None, on_chunk=None, resume=None, snapshots=None, li_excluded=None,
             **kw) -> SimulationResult:
    """Run ``protocol`` on one host (:func:`simulate_hosts`); ``on_chunk(checkpoint)`` receives a
    checkpoint after every compiled chunk and ``resume`` continues from one;
    ``snapshots`` (a :class:`~hostsim.run.snapshots.SnapshotWriter`) writes field snapshots;
    ``li_excluded``: open volume that passes ions but takes no Li (:class:`hostsim.Host`)."""
    observer = Observers(snapshots, None if on_chunk is None else OnCheckpoint(on_chunk))
    return simulate_hosts([name], grid, [(s, k, l, theta0, li_excluded)], electrolyte, kinetics, protocol,
                          observers=[observer], progress=progress, resume=None if resume is None else [resume],
                          collector_layers=collector_layers, host_top=host_top, **kw)[0]


def stacked_checkpoint(checkpoints: list) -> dict | None:
    """The members' own checkpoints as one (None unless every member has one in the same segment)."""
    if not checkpoints or any(cp is None for cp in checkpoints):
        return None
    first = checkpoints[0]
    if any(int(cp["segment"]) != int(first["segment"]) for cp in checkpoints):
        return None
    return {"state": {n: np.stack([cp["state"][n] for cp in checkpoints]) for n in first["state"]},
            "stepper": {n: np.stack([cp["stepper"][n] for cp in checkpoints]) for n in first["stepper"]},
            "series": [cp["series"] for cp in checkpoints], "logs": [cp["logs"] for cp in checkpoints],
            "segment": first["segment"], "done_time": min(cp["done_time"] for cp in checkpoints),
            "total_time": first["total_time"], "together": True}


def simulate_members(names, grid, hosts, electrolyte, kinetics, protocol: Protocol, *, mesh=None, **kw) -> list:
    """:func:`simulate_hosts` of several hosts of one grid as one ``vmap``-ped run (members
    together, each with its own steps; ``mesh`` splits them over its devices)."""
    kw.pop("batching", None)  # a case's split of one host's cells does not apply to members
    return simulate_hosts(names, grid, hosts, electrolyte, kinetics, protocol, batching=members_batching(mesh), **kw)


SERIES_COLUMNS = [  # (series key, CSV column, scale) of NAME_timeseries.csv (docs/outputs.md)
    ("time", "time_s", 1.0), ("dt", "step_s", 1.0), ("voltage", "voltage_V", 1.0), ("current", "current_A", 1.0),
    ("passed_charge", "passed_charge_C", 1.0), ("li_metal_charge", "li_metal_C", 1.0),
    ("sei_charge", "sei_charge_C", 1.0), ("dead_li_charge", "dead_li_C", 1.0), ("envelope_mean", "envelope_mean_um", 1e6),
    ("envelope_max", "envelope_max_um", 1e6), ("flux_mean", "mean_current_density_A_m2", 1.0),
    ("flux_cv", "flux_cv", 1.0), ("hotspot_ratio", "hotspot_ratio", 1.0),
    ("min_interface_concentration", "min_interface_concentration_mol_m3", 1.0),
    ("li_interface_area", "li_interface_area_m2", 1.0), ("max_dtheta", "max_dtheta", 1.0),
    ("error", "step_error", 1.0), ("film_overpotential_mean", "film_overpotential_mean_V", 1.0),
    ("film_overpotential_max", "film_overpotential_max_V", 1.0), ("coated_current_share", "coated_current_share", 1.0),
    ("film_cracked_area", "film_cracked_area_m2", 1.0),
    ("segment", "segment", 1.0), ("cycle", "cycle", 1.0),
]


def write_outputs(directory, result: SimulationResult, grid, fields: dict, *, collector_layers=1, host_top=1) -> list[Path]:
    """Write ``<name>_timeseries.csv``, ``<name>_fields_final.vti`` and, last,
    ``<name>_summary.json`` (docs/outputs.md). ``fields`` holds the host's ``s, k, l``."""
    from hostsim.run.io import write_vti
    from hostsim.run.snapshots import UNITS, snapshot_fields

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{result.name}_summary.json", out / f"{result.name}_timeseries.csv",
             out / f"{result.name}_fields_final.vti"]
    projected = grid.length[0] * grid.length[1]
    columns = [(label, np.asarray(result.series[key], np.float64) * scale) for key, label, scale in SERIES_COLUMNS]
    columns.insert(5, ("capacity_mAh_cm2", np.asarray(result.series["passed_charge"], np.float64) / projected
                       / COULOMB_PER_MAH_CM2))
    separator_c = np.asarray(result.series.get("separator_min_concentration", [np.inf]), np.float64)
    if np.all(np.isfinite(separator_c)):  # a separator's depletion (inf without one)
        columns.append(("separator_min_concentration_mol_m3", separator_c))
    with open(paths[1], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([label for label, _ in columns])
        for row in zip(*(values for _, values in columns)):
            w.writerow([f"{v:.9g}" for v in row])
    st = result.state
    write_vti(paths[2], snapshot_fields(fields, st), voxel_size=grid.voxel_size, metadata={
        "time_s": float(result.series["time"][-1]), "voltage_V": float(st.voltage),
        "passed_charge_C": float(st.passed_charge),
        "capacity_mAh_cm2": float(st.passed_charge) / projected / COULOMB_PER_MAH_CM2,
        "voxel_size_m": grid.voxel_size, "collector_layers": collector_layers, "host_top": host_top,
        "case": result.name, "units": json.dumps(UNITS)})
    write_json(paths[0], result.summary)  # last (and atomic): marks the host done
    return paths
