"""A full plating/stripping run on a host: protocol, metrics summary (SPEC 5) and output files.

:func:`simulate` runs a :class:`~hostsim.run.protocol.Protocol` on the fields of a host and returns
a :class:`SimulationResult`: the final state, the per-step time series and a summary of scalars
whose keys carry their units. :func:`write_outputs` writes ``summary.json``, ``timeseries.csv``
and the final fields (``fields_final.vti``) into a directory; snapshots during the run come from
a :class:`~hostsim.run.snapshots.SnapshotWriter` (docs/outputs.md lists every file and field).

Summary definitions (beyond :mod:`hostsim.electrochemistry.metrics`):

* ``passed_plating_charge_C`` / ``passed_stripping_charge_C``: the charge that passed the
  external circuit while plating / stripping (what became Li or came from Li; the charge the
  per-step limits or the potential solve could not pass never does, and is never turned into Li
  or salt); ``coulombic_efficiency``: stripped / plated when the run stripped;
* ``conservation_error``: |Li gained (from the Li field) - net passed charge (from the step
  records)| / sum |I| dt; ``salt_balance_error``: |change of the electrolyte's salt (from the
  fields) - (salt in through the top - (1 - t+) net passed charge / F - salt displaced by the Li)|
  / ((1 - t+) sum |I| dt / F): a charge held back that still took salt would show here (float64
  runs only: in float32 a step's balance defect is ~1 % of its consumption, likely the salt
  solve's tolerance relative to the whole right-hand side);
* ``envelope_growth_um``: mean envelope height at the end minus at the start (the envelope of a
  column is the higher of the host slab's top and the material's top, :func:`envelope_heights`);
  ``relative_volume_change``: (H_max - H_min) / H_max over the run (mean envelope);
* ``top_growth_fraction``: Li above the host slab / all Li in the electrode at the end (plated
  and infused, so a strip or an infused host reads a fraction in [0, 1]); ``pore_volume_use``:
  Li in the slab (infused included) / the slab's pore volume;
* ``flux_cv``, ``hotspot_ratio``: at the last plating step; ``min_concentration_ratio``: the
  lowest c / c0 in an electrolyte cell (eps > 0.5) over the run; ``min_front_concentration_ratio``:
  the lowest surface concentration (cell value extrapolated to the interface) over every cell
  owning interface area, including partly filled front cells (kept positive by
  :func:`hostsim.electrochemistry.salt.shared_sink`); ``sand_time_ratio``: the longest plating segment's duration
  over Sand's time at the *projected* current density (the salt reaches a host through its
  electrolyte-facing side, so that current density sets its depletion; > 1: a planar electrode
  at this current would have depleted in a semi-infinite electrolyte);
* ``final_voltage_V``, ``max_potential_residual``: over the steps that carried current (after a
  cutoff or depletion stop the remaining steps carry none);
* ``sei_loss_mAh_cm2``: q_SEI x (the increases of the Li/electrolyte area over the plating
  steps, the area averaged over 20 steps, one voxel layer's fill at the default step, so the
  filling front's wobble does not count) / projected area.
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
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, Q_SEI, dead_li_fraction, envelope_heights
from hostsim.electrochemistry.plating import PlatingState, initial_state
from hostsim.run.io import write_json
from hostsim.run.protocol import Protocol, run_protocol


@dataclasses.dataclass
class SimulationResult:
    name: str
    state: PlatingState
    series: dict
    summary: dict


SEI_WINDOW = 20  # steps: one voxel layer's fill at the default fill_per_step (0.05)


def _li_coulombs(theta, h):
    return float(np.sum(np.asarray(theta, np.float64))) * h**3 * FARADAY / LI_MOLAR_VOLUME


def summarize(name, grid, s, k, theta0, collector_layers, host_top, state, series, electrolyte, protocol, seconds):
    h = grid.voxel_size
    projected = grid.length[0] * grid.length[1]
    dt = np.diff(np.concatenate([[0.0], series["time"]]))
    charge_requested = float(np.sum(series["current"] * dt))
    throughput = float(np.sum(np.abs(series["current"]) * dt))
    # the charge that passed the external circuit in each step: what became Li (> 0) or came from Li
    # (< 0); the limits' and the solve's shortfalls never pass (hostsim.electrochemistry.plating)
    passed = np.diff(np.concatenate([[0.0], np.asarray(series["plated_charge"], np.float64)]))
    plated_q, stripped_q = float(np.sum(passed[passed > 0])), float(-np.sum(passed[passed < 0]))
    gained = _li_coulombs(state.theta, h) - _li_coulombs(theta0, h)
    theta = np.asarray(state.theta, np.float64)
    electrode_li = _li_coulombs(theta, h)
    above = _li_coulombs(theta[:, :, host_top:], h)
    h0 = float(np.mean(np.asarray(_envelope_heights(s, theta0, h, collector_layers, host_top))))
    # the growth from the same function on the final state: the series' float32 mean (summed in
    # another order inside the step) differs from h0 by round-off, which read as -1.8e-5 µm of
    # growth for designs that kept every column at the slab top
    h_end = float(np.mean(np.asarray(_envelope_heights(s, state.theta, h, collector_layers, host_top))))
    env = np.concatenate([[h0], series["envelope_mean"]])
    plating_steps = series["current"] > 0
    carried = np.nonzero(series["current"] != 0)[0]
    last_carried = carried[-1] if carried.size else len(dt) - 1  # the last step that carried current
    last = np.nonzero(plating_steps)[0][-1] if plating_steps.any() else len(dt) - 1
    # SEI: fresh Li surface forms SEI, and buried surface keeps it, so every increase of the Li area
    # counts; but a filling front's area wobbles with the period of one voxel layer's fill (20 steps
    # at the default fill_per_step of 0.05), which summing every step's increase counted (~5 %).
    # The increases are summed over the area averaged over that period.
    li_area = np.concatenate([[0.0], series["li_interface_area"]])
    window = min(SEI_WINDOW, len(li_area))
    smooth = np.convolve(np.pad(li_area, (window - 1, 0), mode="edge"), np.ones(window) / window, mode="valid")
    rises = np.diff(smooth) * np.concatenate([[True], plating_steps[1:]])  # plating steps only
    new_area = float(np.sum(np.maximum(rises, 0.0)))
    # salt balance: the electrolyte's salt changed by what entered through the top, minus what the
    # passed charge consumed ((1 - t+) Q / F), minus what the growing Li displaced
    def salt(theta_field, c_field):
        eps = np.maximum(1.0 - np.asarray(s, np.float64) - np.asarray(theta_field, np.float64), 1e-6)
        return float(np.sum(eps * np.asarray(c_field, np.float64))) * h**3

    salt_change = salt(state.theta, state.concentration) - salt(theta0, np.full(np.shape(theta0), float(electrolyte.concentration)))
    expected = (float(np.sum(np.asarray(series["salt_inflow"], np.float64) * dt))
                - (1.0 - electrolyte.transference) * (plated_q - stripped_q) / FARADAY - float(state.displaced_salt))
    salt_scale = (1.0 - electrolyte.transference) * max(throughput, 1e-300) / FARADAY
    slab = slice(collector_layers, host_top)
    pore = float(np.sum(1.0 - np.asarray(s, np.float64)[:, :, slab]))
    inside = float(np.sum(theta[:, :, slab]))
    c0 = electrolyte.concentration
    d0 = float(electrolyte.diffusivity(c0))
    sand_ratio = 0.0
    for seg in sorted(set(series["segment"][plating_steps].tolist())):
        sel = (series["segment"] == seg) & plating_steps
        # the salt that feeds a host enters through its electrolyte-facing side: the projected
        # current density sets its depletion, not the local interfacial current density
        j = float(np.max(series["current"][sel])) / projected
        tau = np.pi * d0 * (c0 * FARADAY) ** 2 / (4 * j**2 * (1 - electrolyte.transference) ** 2)
        sand_ratio = max(sand_ratio, float(np.sum(dt[sel])) / tau)
    depleted_at = None
    message = "completed"
    if np.any(series["depleted"]):
        first = int(np.argmax(series["depleted"]))
        depleted_at = float(series["time"][first] - dt[first])
        message = (f"the electrolyte depleted at t = {depleted_at:.4g} s (surface c <= 1e-3 c0, or the electrode could "
                   f"not pass the current at a surface below 0.05 c0) in segment {int(series['segment'][first]) + 1}; "
                   f"results up to then are kept and the rest of that segment carried no current")
    elif np.any(series.get("reached_top", False)):
        first = int(np.argmax(series["reached_top"]))
        message = (f"segment {int(series['segment'][first]) + 1} stopped at t = {float(series['time'][first]):.4g} s: "
                   f"Li reached the top of the box (the two layers under the reservoir); the box is too short for "
                   f"what grows above the host: make it taller")
    elif np.any(series["cutoff"]):
        first = int(np.argmax(series["cutoff"]))
        message = (f"segment {int(series['segment'][first]) + 1} stopped at t = {float(series['time'][first]):.4g} s: "
                   f"the voltage cutoff, or no Li left to strip")
    unconverged = int(np.sum(series.get("unconverged", 0)))
    if unconverged:
        message += (f"; in {unconverged} step(s) the potential solve passed less than 99 % of the current "
                    f"(raise [numerics] newton_steps)")
    return {
        "case": name,
        "grid_voxels": list(grid.shape),
        "voxel_size_um": h * 1e6,
        "steps": int(len(dt)),
        "wall_time_s": seconds,
        "plated_charge_C": gained,
        "plated_capacity_mAh_cm2": gained / projected / COULOMB_PER_MAH_CM2,
        "requested_charge_C": charge_requested,
        "capped_charge_C": float(state.capped_charge),
        "undelivered_charge_C": float(state.undelivered_charge),
        "cap_bound_steps": int(np.sum(series["cap_binding"])),
        "unconverged_steps": unconverged,
        "passed_plating_charge_C": plated_q,
        "passed_stripping_charge_C": stripped_q,
        "coulombic_efficiency": stripped_q / plated_q if stripped_q > 0 and plated_q > 0 else None,
        "conservation_error": abs(gained - (plated_q - stripped_q)) / max(throughput, 1e-300),
        # float32: a salt step's balance defect is ~1 % of its consumption (measured on a foil). Likely
        # cause: the salt solve's tolerance (1e-6 in float32) is relative to the whole right-hand side,
        # dominated by eps c / dt, and its smooth error mode (~1 mol/m³) is ~1 % of a step's salt
        # consumption; float64's 1e-8 gives the 1e-4 measured with a reservoir. Reported for float64 only
        "salt_balance_error": (abs(salt_change - expected) / salt_scale
                               if np.dtype(grid.dtype) == np.float64 else None),
        "envelope_growth_um": (h_end - h0) * 1e6,
        "envelope_max_column_um": float(np.max(series["envelope_max"])) * 1e6,
        "relative_volume_change": float((env.max() - env.min()) / env.max()) if env.max() > 0 else 0.0,
        "top_growth_fraction": above / electrode_li if electrode_li > 0 else 0.0,
        "pore_volume_use": inside / pore if pore > 0 else 0.0,
        "flux_cv": float(series["flux_cv"][last]),
        # the design loop's flux term is this average (inverse.objectives.plating_terms), not the last
        # step's CV: a front reaching the top in the last steps moves the last value most (docs/design.md)
        "flux_cv_mean": (float(np.sum(series["flux_cv"][plating_steps] * dt[plating_steps]) / np.sum(dt[plating_steps]))
                         if np.any(plating_steps) else None),
        "hotspot_ratio": float(series["hotspot_ratio"][last]),
        "hotspot_pnorm_ratio": float(series["hotspot_pnorm"][last]),
        "mean_interfacial_current_A_m2": float(series["flux_mean"][last]),
        "min_concentration_ratio": float(np.min(series["min_concentration"]) / c0),
        "min_front_concentration_ratio": float(np.min(series["min_interface_concentration"]) / c0),
        "sand_time_ratio": sand_ratio,
        "dead_li_fraction": dead_li_fraction(s, k, state.theta, collector_layers, grid.lateral == "periodic"),
        "sei_loss_mAh_cm2": Q_SEI * new_area / projected / COULOMB_PER_MAH_CM2,
        "final_voltage_V": float(series["voltage"][last_carried]),
        "max_potential_residual": float(np.max(series["potential_residual"][carried])) if carried.size else 0.0,
        "newton_iterations_mean": float(np.mean(series["newton_iterations"])) if "newton_iterations" in series else None,
        "pcg_iterations_mean": float(np.mean(series["linear_iterations"])) if "linear_iterations" in series else None,
        "depleted_at_s": depleted_at,
        "message": message,
        "electrolyte": electrolyte.describe(),
        "protocol": [dataclasses.asdict(seg) for seg in protocol.segments] + [{"cycles": protocol.cycles}],
    }


# one compiled program each instead of one per operation (a run's set-up and summary read them from
# the compilation cache: ~10 ms a program; issue 10)
_envelope_heights = jax.jit(envelope_heights, static_argnums=(2, 3, 4))
_initial_state = eqx.filter_jit(initial_state)


def simulate(name, grid, s, k, l, theta0, electrolyte, kinetics, protocol: Protocol, *, collector_layers=1,
             host_top=1, progress=None, on_chunk=None, resume=None, snapshots=None, **kw) -> SimulationResult:
    """Run ``protocol`` on the host; ``on_chunk``/``resume`` checkpoint and continue it
    (:func:`hostsim.run.protocol.run_protocol`); ``snapshots`` (a
    :class:`~hostsim.run.snapshots.SnapshotWriter`) writes field snapshots during the run."""
    start = time.perf_counter()
    state0 = _initial_state(grid, theta0, electrolyte)
    if snapshots is not None:
        if resume is None or not snapshots.frames:
            snapshots.write(state0, 0)
        user_chunk = on_chunk

        def on_chunk(checkpoint):
            snapshots.on_chunk(checkpoint)
            if user_chunk is not None:
                user_chunk(checkpoint)

    state, series = run_protocol(grid, s, k, l, state0, electrolyte, kinetics,
                                 protocol, collector_layers=collector_layers, host_top=host_top, progress=progress,
                                 on_chunk=on_chunk,
                                 resume=resume, **kw)
    if snapshots is not None:
        snapshots.finish(state, len(series["time"]))
    summary = summarize(name, grid, s, k, theta0, collector_layers, host_top, state, series, electrolyte, protocol,
                        time.perf_counter() - start)
    return SimulationResult(name, state, series, summary)



def member_checkpoint(checkpoint: dict, j: int) -> dict:
    """Member ``j``'s own checkpoint from the checkpoint of members run together: the format of a
    single run's, so a member can also continue alone."""
    return {"state": {n: v[j] for n, v in checkpoint["state"].items()},
            "series": {n: v[j] for n, v in checkpoint["series"].items()},
            "segment": checkpoint["segment"], "chunk": checkpoint["chunk"],
            "stopped": bool(np.asarray(checkpoint["stopped"])[j]),
            "interface_ratio": float(np.asarray(checkpoint["interface_ratio"])[j]),
            "done_steps": checkpoint.get("done_steps"), "total_steps": checkpoint.get("total_steps")}


def stacked_checkpoint(checkpoints: list) -> dict | None:
    """The members' own checkpoints as one (None unless every member has one at the same place)."""
    if not checkpoints or any(cp is None for cp in checkpoints):
        return None
    first = checkpoints[0]
    if any((int(cp["segment"]), int(cp["chunk"])) != (int(first["segment"]), int(first["chunk"])) for cp in checkpoints):
        return None
    return {"state": {n: np.stack([cp["state"][n] for cp in checkpoints]) for n in first["state"]},
            "series": {n: np.stack([cp["series"][n] for cp in checkpoints]) for n in first["series"]},
            "segment": first["segment"], "chunk": first["chunk"],
            "stopped": np.array([bool(cp["stopped"]) for cp in checkpoints]),
            "interface_ratio": np.array([float(cp["interface_ratio"]) for cp in checkpoints])}


def simulate_members(names, grid, hosts, electrolyte, kinetics, protocol: Protocol, *, collector_layers=1, host_top=1,
                     progress=None, on_chunk=None, resume=None, snapshots=None, **kw) -> list:
    """:func:`simulate` of several hosts of one grid as one ``vmap``-ped run (``hosts``: a list of
    ``(s, k, l, theta0)``; :func:`hostsim.run.protocol.run_protocol`'s members together).
    ``on_chunk``, ``resume`` and ``snapshots`` are per member (lists); each member's checkpoint
    has a single run's format. Returns one :class:`SimulationResult` per member, each with its
    share of the wall time."""
    start = time.perf_counter()
    count = len(hosts)
    states0 = [_initial_state(grid, h[3], electrolyte) for h in hosts]
    if snapshots is not None:
        for j, writer in enumerate(snapshots):
            if resume is None or resume[j] is None or not writer.frames:
                writer.write(states0[j], 0)

    def each_chunk(checkpoint):
        for j in range(count):
            own = member_checkpoint(checkpoint, j)
            if snapshots is not None:
                snapshots[j].on_chunk(own)
            if on_chunk is not None:
                on_chunk[j](own)

    stack = lambda *a: jax.numpy.stack(a)  # noqa: E731
    s, k, l = (stack(*(h[i] for h in hosts)) for i in range(3))
    state0 = jax.tree.map(stack, *states0)
    state, series = run_protocol(grid, s, k, l, state0, electrolyte, kinetics, protocol,
                                 collector_layers=collector_layers, host_top=host_top, progress=progress,
                                 on_chunk=each_chunk, resume=None if resume is None else stacked_checkpoint(resume), **kw)
    seconds = (time.perf_counter() - start) / count
    results = []
    for j, (name, host) in enumerate(zip(names, hosts)):
        own_state = jax.tree.map(lambda a: a[j], state)
        own_series = {n: v[j] for n, v in series.items()}
        if snapshots is not None:
            snapshots[j].finish(own_state, len(own_series["time"]))
        summary = summarize(name, grid, host[0], host[1], host[3], collector_layers, host_top, own_state, own_series,
                            electrolyte, protocol, seconds)
        results.append(SimulationResult(name, own_state, own_series, summary))
    return results


SERIES_COLUMNS = [
    ("time", "time_s", 1.0), ("voltage", "voltage_V", 1.0), ("current", "current_A", 1.0),
    ("plated_charge", "plated_charge_C", 1.0), ("envelope_mean", "envelope_mean_um", 1e6),
    ("envelope_max", "envelope_max_um", 1e6), ("flux_mean", "mean_current_density_A_m2", 1.0),
    ("flux_cv", "flux_cv", 1.0), ("hotspot_ratio", "hotspot_ratio", 1.0),
    ("min_interface_concentration", "min_interface_concentration_mol_m3", 1.0),
    ("max_dtheta", "max_dtheta", 1.0), ("cap_binding", "cap_binding", 1.0), ("segment", "segment", 1.0),
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
    columns.insert(4, ("capacity_mAh_cm2", np.asarray(result.series["plated_charge"], np.float64) / projected
                       / COULOMB_PER_MAH_CM2))
    with open(paths[1], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([label for label, _ in columns])
        for row in zip(*(values for _, values in columns)):
            w.writerow([f"{v:.9g}" for v in row])
    st = result.state
    write_vti(paths[2], snapshot_fields(fields, st), voxel_size=grid.voxel_size, metadata={
        "time_s": float(st.time), "voltage_V": float(st.voltage), "plated_charge_C": float(st.plated_charge),
        "capacity_mAh_cm2": float(st.plated_charge) / projected / COULOMB_PER_MAH_CM2,
        "voxel_size_m": grid.voxel_size, "collector_layers": collector_layers, "host_top": host_top,
        "case": result.name, "units": json.dumps(UNITS)})
    write_json(paths[0], result.summary)  # last (and atomic): marks the host done
    return paths
