"""Where the Li went in a run on an interlayer host (``hollow_sphere_layer`` or ``membrane``).

For each snapshot of a run directory (``hostsim simulate examples/interlayer_spheres.toml --out
DIR``), prints the share of the plated Li below the top of the interlayer and, for the hollow
spheres, in the sphere interiors, in the wall band (within half a voxel of a wall) and outside
the spheres within the slab; for the membrane, in the gap and in the layer's defects::

    python scripts/interlayer_plating.py DIR [DIR ...]

The family is rebuilt from the run's ``case.toml`` (same seed, same spheres or defects).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pyvista as pv

import geometries as geo
from hostsim.run.results import load_run


def cell_field(mesh, name: str) -> np.ndarray:
    shape = tuple(d - 1 for d in mesh.dimensions)
    return np.asarray(mesh.cell_data[name], np.float64).reshape(shape, order="F")


def sphere_regions(family, shape) -> dict[str, np.ndarray]:
    """Interior, wall band and outside masks from each voxel centre's distance to the nearest
    sphere centre (lateral images included) [µm]."""
    h, width = family.voxel_size_um, family.width_um
    x, y, z = np.meshgrid(*((np.arange(n) + 0.5) * h for n in shape), indexing="ij")
    nearest = np.full(shape, np.inf)
    for cx, cy, cz in family.centres:
        dx, dy = np.abs(x - cx), np.abs(y - cy)
        dx, dy = np.minimum(dx, width - dx), np.minimum(dy, width - dy)
        nearest = np.minimum(nearest, np.sqrt(dx * dx + dy * dy + (z - cz) ** 2))
    outer = 0.5 * float(family.sphere_diameter_um)
    inner = outer - float(family.shell_thickness_um)
    interior = nearest < inner - 0.5 * h
    band = ~interior & (nearest <= outer + 0.5 * h)
    return {"interiors": interior, "wall band": band, "outside": ~interior & ~band}


def shares(li: np.ndarray, family, collector: int, top: int) -> dict[str, float]:
    total = li.sum()
    out = {"below the top": li[:, :, :top].sum() / total}
    if family.name == "hollow_sphere_layer":
        slab = np.zeros(li.shape, bool)
        slab[:, :, collector:top] = True
        for name, mask in sphere_regions(family, li.shape).items():
            out[name] = li[mask & slab].sum() / total
    elif family.name == "membrane":
        out["gap"] = li[:, :, collector:top - 1].sum() / total
        out["defects"] = li[:, :, top - 1].sum() / total
    return out


def report(directory: Path) -> None:
    geometry = tomllib.loads((directory / "case.toml").read_text())["geometry"]
    family = geo.make_family(geometry.pop("family"), **geometry)
    run = next(iter(load_run(directory).values()))
    paths = [p for _, p in run.snapshots] + [run.final_snapshot]
    print(f"{directory} ({family.name})")
    for path in paths:
        mesh = pv.read(path)
        li = cell_field(mesh, "li_fraction")
        if li.sum() <= 0:
            continue
        meta = {k: np.asarray(mesh.field_data[k]).ravel()[0] for k in ("capacity_mAh_cm2", "collector_layers", "host_top")}
        row = shares(li, family, int(meta["collector_layers"]), int(meta["host_top"]))
        print(f"  {float(meta['capacity_mAh_cm2']):.3f} mAh/cm²: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    s = run.summary
    print(f"  summary: top_growth_fraction {s['top_growth_fraction']:.3f}, pore_volume_use {s['pore_volume_use']:.3f}")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for directory in argv:
        report(Path(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
