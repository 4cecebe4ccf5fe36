"""A small synthetic run directory laid out as ``hostsim simulate`` writes it, for testing readers (plots,
renders, report) without running the simulator. Fields are shaped like a real run (a Cu
collector, a host of pillars or none, Li growing from the bottom, a salt gradient) but are not
a solution of anything; the real default case is covered by the integration tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from hostsim.run.io import write_pvd, write_vti

UNITS = {"solid_fraction": "-", "conducting": "-", "lithiophilicity": "-", "li_fraction": "-",
         "concentration_mol_m3": "mol/m^3", "potential_V": "V", "plating_current_A_m2": "A/m^2",
         "plating_time_s": "s"}
# the header hostsim.run.simulation.write_outputs writes (test_plots checks it against the writer)
COLUMNS = ["time_s", "step_s", "voltage_V", "current_A", "passed_charge_C", "capacity_mAh_cm2", "li_metal_C",
           "sei_charge_C",
           "dead_li_C", "envelope_mean_um", "envelope_max_um", "mean_current_density_A_m2", "flux_cv", "hotspot_ratio",
           "min_interface_concentration_mol_m3", "li_interface_area_m2", "max_dtheta", "step_error",
           "film_overpotential_mean_V", "film_overpotential_max_V", "coated_current_share", "film_cracked_area_m2",
           "segment", "cycle"]


def _fields(name, shape, frac, t_end):
    nx, ny, nz = shape
    x, y, z = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    s = np.zeros(shape)
    s[:, :, 0] = 1.0
    host_top = 1
    if name != "foil":  # pillars on a 4-voxel pitch, half the height
        host_top = nz // 2
        s[(x % 4 < 2) & (y % 4 < 2) & (z < host_top)] = 1.0
    li_height = 1 + frac * (host_top - 1 + 3)
    theta = np.clip(li_height - z, 0, 1) * (1 - s)
    c = 1000.0 - 100.0 * (1 - z / nz) * frac
    current = np.where((theta > 0) & (theta < 1), 10.0 * (1 + (z == host_top)), 0.0)
    ptime = np.where(theta > 0, t_end * frac * np.clip(z / max(li_height, 1), 0, 1), 0.0)
    return {"solid_fraction": s, "conducting": s, "lithiophilicity": np.zeros(shape), "li_fraction": theta,
            "concentration_mol_m3": c, "potential_V": -0.01 * (1 - z / nz), "plating_current_A_m2": current,
            "plating_time_s": ptime}, host_top


def write_fake_run(directory, names=("foil", "skeleton"), shape=(8, 8, 16), frames=4, voxel_size=0.5e-6):
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    t_end, steps = 3600.0, 20
    for name in names:
        (out / f"{name}_fields").mkdir(exist_ok=True)
        entries = []
        for i in range(frames):
            frac = i / (frames - 1)
            fields, host_top = _fields(name, shape, frac, t_end)
            meta = {"time_s": t_end * frac, "voltage_V": -0.02, "passed_charge_C": 1e-9 * frac,
                    "capacity_mAh_cm2": frac, "voxel_size_m": voxel_size, "collector_layers": 1,
                    "host_top": host_top, "case": name, "units": json.dumps(UNITS)}
            rel = f"{name}_fields/{name}_{i:04d}.vti"
            write_vti(out / rel, fields, voxel_size=voxel_size, metadata=meta)
            entries.append((t_end * frac, rel))
        write_vti(out / f"{name}_fields_final.vti", fields, voxel_size=voxel_size, metadata=meta)
        write_pvd(out / f"{name}_fields.pvd", entries)
        # one row for the segment's start (step_s 0), then one per step, at its end
        t = np.concatenate([[0.0], np.linspace(t_end / steps, t_end, steps)])
        with open(out / f"{name}_timeseries.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for j, tj in enumerate(t):
                q = tj / t_end
                dt = tj - t[j - 1] if j else 0.0
                v = -0.03 + 0.012 * (1 - np.exp(-tj / 60)) if name == "foil" else -0.02 + 0.005 * (1 - np.exp(-tj / 60))
                w.writerow([tj, dt, v, 1e-12, 1e-9 * q, q, 0.99e-9 * q, 1e-11 * q, 0.0, 4.85 * q, 5.0 * q, 10.0, 0.01, 1.2, 990.0,
                            2e-10, 0.05 if j else 0.0, 0.5 if j else 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0])
        summary = {"case": name, "grid_voxels": list(shape), "voxel_size_um": voxel_size * 1e6, "time_tolerance": 0.05,
                   "steps": steps, "rejected_steps": 2, "step_median_s": t_end / steps,
                   "envelope_growth_um": 4.85 if name == "foil" else 2.4, "relative_volume_change": 1.0,
                   "top_growth_fraction": 1.0 if name == "foil" else 0.18, "flux_cv": 0.01, "hotspot_ratio": 1.2,
                   "final_voltage_V": -0.02, "passed_plating_charge_C": 1e-9, "passed_stripping_charge_C": 0.0,
                   "plated_mAh_cm2": 1.0, "stripped_mAh_cm2": 0.0, "net_plated_mAh_cm2": 1.0, "li_metal_mAh_cm2": 0.99,
                   "sei_loss_mAh_cm2": 0.01,
                   "conservation_error": 1e-8, "message": "completed"}
        (out / f"{name}_summary.json").write_text(json.dumps(summary, indent=1))
    return out
