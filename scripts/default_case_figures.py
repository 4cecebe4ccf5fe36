"""Run the built-in default case (foil vs 3D Cu skeleton, 1 mA/cm² to 1 mAh/cm²) and make the
README's figures from it: a side-by-side 3D render coloured by plating time, a cross-section of
the skeleton, and the voltage and envelope plots (docs/images/default_*.png). Also writes the
run's report (results/default_case/report.html) and the summaries (results/default_case.json).

    python scripts/default_case_figures.py [--run DIR]   # --run: reuse a finished run directory

``--output`` and ``--images`` write the summaries and the figures elsewhere (e.g. to check the
script on a small run without touching the repository's copies).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="an existing run directory (skips the simulation)")
    ap.add_argument("--output", default=str(ROOT / "results" / "default_case.json"), help="the summaries' JSON")
    ap.add_argument("--images", default=str(ROOT / "docs" / "images"), help="folder of the figures")
    args = ap.parse_args()
    run = Path(args.run) if args.run else ROOT / "results" / "default_case"
    seconds = None
    if args.run is None:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hostsim.cli", "simulate", "--out", str(run), "--quiet"], check=True)
        seconds = time.perf_counter() - start
    from hostsim.pictures.report import write_report
    from hostsim.pictures.render import render

    images = Path(args.images)
    images.mkdir(parents=True, exist_ok=True)
    if not (run / "report.html").exists():
        write_report(run)
    render(run, view="iso", field="plating_time_s", out=images / "default_iso.png", size=(1200, 700))
    render(run, view="section", case="cu_skeleton", out=images / "default_section.png", size=(1000, 700))
    for name in ("voltage", "envelope"):
        shutil.copyfile(run / "figures" / f"{name}.png", images / f"default_{name}.png")
    summaries = json.loads((run / "summary.json").read_text())
    out = {"run_directory": str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run),
           "wall_time_total_s_including_report": seconds, "summaries": summaries}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1, default=float))
    for name, s in summaries.items():
        print(f"{name}: envelope {s['envelope_growth_um']:.2f} µm, RVC {100 * s['relative_volume_change']:.1f} %, "
              f"top growth {100 * s['top_growth_fraction']:.1f} %, flux CV {s['flux_cv']:.3g}, "
              f"V {1000 * s['final_voltage_V']:.1f} mV, {s['steps']} steps ({s['rejected_steps']} rejected), "
              f"wall {s['wall_time_s']:.0f} s")
    if seconds is not None:
        print(f"hostsim simulate (with plots, renders, report): {seconds:.0f} s")
    print(f"figures in {images}, report in {run / 'report.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
