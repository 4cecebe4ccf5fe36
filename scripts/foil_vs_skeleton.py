"""Plate 1 mAh/cm² at 1 mA/cm² on a planar Cu foil and on a 3D Cu skeleton, side by side.

    python scripts/foil_vs_skeleton.py [--capacity 1.0] [--current 1.0] [--output results/foil_vs_skeleton.json]

The skeleton: `cu_skeleton` with 0.5 µm fibres, porosity 0.8, 5 µm thick, 4 µm box at 0.125 µm
voxels (32 x 32 x 80); the foil: a 1 µm column at 0.25 µm voxels (1-D in effect). Electrolyte
LP30 (1 M LiPF6 in PC/EC/DMC, Valøen & Reimers constants), i0 = 1 mA/cm², bare Cu nucleation
barrier 30 mV. Prints and saves the summaries (SPEC 5 metrics with units) and writes each run's
files (summary JSON, time-series CSV, final fields .vti) under --files.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import geometries as geo
from hostsim import Kinetics, get_electrolyte
from hostsim.protocol import Protocol, Segment
from hostsim.simulation import simulate, write_outputs

KEYS = ["steps", "wall_time_s", "plated_capacity_mAh_cm2", "conservation_error", "envelope_growth_um",
        "relative_volume_change", "top_growth_fraction", "pore_volume_use", "flux_cv", "hotspot_ratio",
        "min_concentration_ratio", "sand_time_ratio", "dead_li_fraction", "sei_loss_mAh_cm2", "final_voltage_V",
        "cap_bound_steps"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capacity", type=float, default=1.0, help="mAh/cm² plated")
    ap.add_argument("--current", type=float, default=1.0, help="mA/cm²")
    ap.add_argument("--output", default="results/foil_vs_skeleton.json")
    ap.add_argument("--files", default="results/foil_vs_skeleton")
    args = ap.parse_args()
    electrolyte = get_electrolyte("lp30")
    protocol = Protocol((Segment.plate(args.current, args.capacity),))
    hosts = [geo.PlanarFoil(width_um=1.0, height_um=10.0, voxel_size_um=0.25),
             geo.CuSkeleton(width_um=4.0, height_um=10.0, thickness_um=5.0, voxel_size_um=0.125, fibre_diameter_um=0.5)]
    rows = {}
    for fam in hosts:
        f = fam.fields()
        start = time.perf_counter()
        res = simulate(fam.name, f.grid, f.s, f.k, f.l, f.theta, electrolyte, Kinetics(), protocol,
                       collector_layers=f.collector_layers, host_top=f.host_top,
                       progress=lambda done, total, seg: print(f"  {fam.name}: step {done}/{total}", flush=True))
        write_outputs(args.files, res, f.grid, {"s": f.s, "k": f.k, "l": f.l})
        rows[fam.name] = res.summary
        print(f"{fam.name}: {time.perf_counter() - start:.1f} s")
    print(f"{'metric':<28}" + "".join(f"{n:>16}" for n in rows))
    for key in KEYS:
        print(f"{key:<28}" + "".join(f"{float(rows[n][key]):>16.4g}" for n in rows))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1, default=float))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
