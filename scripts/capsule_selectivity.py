"""Where the Li goes in a seeded-capsule host (Yan et al. 2016's claim: inside the capsules).

Plates a small seeded-capsule host (0.9 µm box, 8 capsules of 0.4 µm, 0.02 µm voxels, LP30)
at 0.1 mA/cm², far below what the Au seeds carry under the carbon's nucleation barrier, to two
charges (about 30 % and 60 % of the cavities' volume), and splits the plated Li into the
cavities, the shells and the rest of the box by each voxel centre's distance to the nearest
capsule centre. Prints a table and writes ``results/capsule_selectivity.json``::

    python scripts/capsule_selectivity.py
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

import geometries as geo
from hostsim import Kinetics, get_electrolyte
from hostsim.run.protocol import Protocol, Segment
from hostsim.run.simulation import simulate

HERE = Path(__file__).resolve().parents[1]
CURRENT_MA_CM2 = 0.1
CHARGES_MAH_CM2 = (0.01, 0.02)


def regions(family: geo.SeededCapsules, shape):
    """Boolean cavity and shell masks from the voxel centres' distance to the nearest capsule
    centre (lateral images included)."""
    h, width = family.voxel_size_um, family.width_um
    x, y, z = (np.arange(n) * h + 0.5 * h for n in shape)
    grid = np.meshgrid(x, y, z, indexing="ij")
    nearest = np.full(shape, np.inf)
    for centre in family.centres:
        d = [np.abs(g - c) for g, c in zip(grid, centre)]
        d[0], d[1] = np.minimum(d[0], width - d[0]), np.minimum(d[1], width - d[1])
        nearest = np.minimum(nearest, np.sqrt(sum(v * v for v in d)))
    outer = 0.5 * float(family.capsule_diameter_um)
    inner = outer - float(family.shell_thickness_um)
    return nearest < inner, (nearest >= inner) & (nearest <= outer)


def main() -> int:
    family = geo.SeededCapsules(width_um=0.9, height_um=1.2, thickness_um=0.9, voxel_size_um=0.02)
    f = family.fields()
    cavity, shell = regions(family, f.grid.shape)
    rows = []
    for q in CHARGES_MAH_CM2:
        res = simulate("capsules", f.grid, f.s, f.k, f.l, f.theta, get_electrolyte("lp30"), Kinetics(),
                       Protocol((Segment.plate(CURRENT_MA_CM2, q),)), collector_layers=f.collector_layers,
                       host_top=f.host_top, li_excluded=f.li_excluded)
        li = np.asarray(res.state.theta, np.float64) - np.asarray(f.theta, np.float64)
        total = li.sum()
        rows.append({"charge_mAh_cm2": q, "message": res.summary["message"], "cavity": li[cavity].sum() / total,
                     "shell": li[shell].sum() / total, "outside": li[~cavity & ~shell].sum() / total})
    print(f"| plated at {CURRENT_MA_CM2} mA/cm² [mAh/cm²] | in the cavities | in the shells | outside |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['charge_mAh_cm2']} | {100 * r['cavity']:.1f} % | {100 * r['shell']:.1f} % | {100 * r['outside']:.1f} % |")
    out = {"date": datetime.date.today().isoformat(), "capsules": len(family.centres), "grid": list(f.grid.shape),
           "current_mA_cm2": CURRENT_MA_CM2, "rows": rows}
    (HERE / "results" / "capsule_selectivity.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
