"""Build every host family at its defaults; print and save the report numbers, build times and a
picture of a through-plane section of each (for the README).

    python scripts/geometry_gallery.py [--output results/geometries.json] [--picture docs/images/geometries.png]

The picture needs matplotlib (``pip install -e ".[viz]"``): per family an x-z section through
the middle of the box, host solid fraction in grey, conducting share and lithiophilicity as
colour (blue: conducting Cu/C, orange: lithiophilic surface, white: insulating), pre-infused Li
in green. The collector is the bottom row.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import geometries as geo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default="results/geometries.json")
    ap.add_argument("--picture", default="docs/images/geometries.png")
    args = ap.parse_args()
    rows, sections = [], {}
    for name in geo.FAMILIES:
        fam = geo.make_family(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            geo.build(fam)  # compile
            start = time.perf_counter()
            host = geo.build(fam)
            seconds = time.perf_counter() - start
        r = host.report
        rows.append({"family": name, "title": fam.title, "source": fam.source, "build_seconds": seconds,
                     "parameters": fam.parameters(), "report": r.to_dict()})
        f = host.fields.as_numpy()
        mid = f["s"].shape[1] // 2
        sections[name] = {k: v[:, mid, :].T for k, v in f.items()}
        print(f"{name:<16} {'x'.join(map(str, r.shape)):>9}  h={r.voxel_size_um:g} µm  porosity "
              f"{'n/a' if r.porosity is None else f'{r.porosity:.3f}'}  SSA {r.specific_surface_area_m2_per_m3 or 0:.3g} m²/m³  "
              f"area ratio {r.surface_area_ratio:.2f}  d_host {r.mean_host_distance_um or 0:.3g} µm  "
              f"conducting {r.conducting_fraction if r.conducting_fraction is not None else float('nan'):.2f}  "
              f"lithiophilic area {r.lithiophilic_area_fraction or 0:.2f}  pore/cond. percolate "
              f"{r.pore_percolates}/{r.conductor_percolates}  build {seconds:.2f} s")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
                               "machine": platform.processor() or platform.machine(), "families": rows}, indent=1, default=str))
    print(f"saved {out}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no picture (pip install -e '.[viz]')")
        return
    fig, axes = plt.subplots(2, 4, figsize=(14, 8.2))
    for ax, (name, sec) in zip(axes.ravel(), sections.items()):
        s, k, l, theta = sec["s"], sec["k"], sec["l"], sec["theta"]
        rgb = np.ones(s.shape + (3,))
        conducting = np.array([0.25, 0.45, 0.85])
        insulating = np.array([0.85, 0.85, 0.85])
        philic = np.array([0.95, 0.55, 0.1])
        colour = k[..., None] * conducting + (1 - k[..., None]) * insulating
        colour = (1 - l[..., None]) * colour + l[..., None] * philic
        rgb = (1 - s[..., None]) * rgb + s[..., None] * colour
        rgb = (1 - theta[..., None]) * rgb + theta[..., None] * np.array([0.3, 0.75, 0.35])
        rgb = np.clip(rgb, 0.0, 1.0)
        r = next(row["report"] for row in rows if row["family"] == name)
        h = r["voxel_size_um"]
        ax.imshow(rgb, origin="lower", extent=(0, s.shape[1] * h, 0, s.shape[0] * h), interpolation="nearest")
        por = "n/a" if r["porosity"] is None else f"{r['porosity']:.2f}"
        ax.set_title(f"{name}\nporosity {por}, area ratio {r['surface_area_ratio']:.1f}", fontsize=9)
        ax.set_xlabel("x [µm]", fontsize=8)
        ax.set_ylabel("z [µm]", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("hostsim host families at their defaults (x-z section; blue conducting, grey insulating, "
                 "orange lithiophilic, green pre-infused Li; collector at z = 0)", fontsize=10)
    fig.tight_layout()
    pic = Path(args.picture)
    pic.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(pic, dpi=90)
    print(f"saved {pic}")


if __name__ == "__main__":
    main()
