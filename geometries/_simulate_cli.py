"""``hostsim simulate [CASE.toml] --out DIR``: plate/strip Li into a host and write the results.

Registered as a ``hostsim.cli`` entry point from :mod:`geometries`, because a case names a host
family (or a volume to import) and only this package builds hosts; the engine's case parser
(:mod:`hostsim.case`) validates everything else.

Without a case: the built-in default — a planar Cu foil and a 3D Cu skeleton (0.5 µm fibres,
porosity 0.8, 5 µm thick, 4 µm box at 0.125 µm voxels) side by side, 1 mA/cm² to 1 mAh/cm² in
LP30 — about a minute on 2 CPU cores. DIR receives what docs/outputs.md lists: per host a
summary (keys with units), a time-series CSV, field snapshots (``.pvd`` of ``.vti``) and the final
fields; then plots, 3D renders, an animation and ``report.html`` (``--no-report`` for batch runs).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hostsim import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", help="plate/strip Li into a host (a TOML case, or the built-in foil vs 3D Cu default)",
        description="Run a plating/stripping protocol on a host and write summary.json, time-series CSVs "
        "and final fields (.vti). Without CASE: a planar Cu foil and a 3D Cu skeleton at 1 mA/cm² to 1 mAh/cm².")
    p.add_argument("case", nargs="?", help="case file (.toml); omit for the built-in default")
    p.add_argument("--out", default="hostsim_run", help="output directory (default ./hostsim_run)")
    p.add_argument("--resume", metavar="DIR", default=None,
                   help="continue an interrupted run in DIR (its case and checkpoints; same final result)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--no-report", action="store_true",
                   help="batch mode: no plots, renders or report.html (fields, CSV and summary only)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N",
                   help="field snapshots per host, initial and final included (default 40, or the case's [output])")
    p.set_defaults(handler=run)


def _default_hosts():
    import geometries as geo

    return [geo.PlanarFoil(width_um=1.0, height_um=10.0, voxel_size_um=0.25),
            geo.CuSkeleton(width_um=4.0, height_um=10.0, thickness_um=5.0, voxel_size_um=0.125, fibre_diameter_um=0.5)]


def _case_host(geometry: dict, precision: str):
    import geometries as geo

    g = dict(geometry)
    if "file" in g:
        path = g.pop("file")
        voxel = g.pop("voxel_size_um", None)
        if voxel is None:
            raise InputError("case [geometry]: an imported volume needs voxel_size_um")
        labels = g.pop("labels", None)
        fields = geo.import_volume(path, voxel, labels={int(k): v for k, v in labels.items()} if labels else None,
                                   precision=precision, **g)
        return Path(path).stem, fields
    family = g.pop("family", None)
    if family is None:
        raise InputError(f"case [geometry]: give family (one of {', '.join(geo.FAMILIES)}) or file")
    g.setdefault("precision", precision)
    fam = geo.make_family(family, **g)
    return fam.name, fam


def _save_checkpoint(path: Path, cp: dict) -> None:
    import os

    import numpy as np

    flat = {f"state/{k}": v for k, v in cp["state"].items()}
    flat.update({f"series/{k}": v for k, v in cp["series"].items()})
    for key in ("segment", "chunk", "stopped", "interface_ratio"):
        flat[key] = np.asarray(cp[key])
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **flat)
    os.replace(tmp, path)  # atomic: an interrupt never leaves a half-written checkpoint


def _clear_outputs(out: Path) -> None:
    """A fresh run into an existing directory: remove what an earlier run wrote there (only
    hostsim's own file patterns), so stale hosts never reach the report or pass for finished."""
    import shutil

    for pattern in ("*_summary.json", "*_timeseries.csv", "*_fields.pvd", "*_fields_final.vti", "*_checkpoint.npz",
                    "*_checkpoint.tmp.npz", "summary.json", "report.html"):
        for path in out.glob(pattern):
            path.unlink()
    for pattern in ("*_fields", "figures", "renders"):
        for path in out.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)


def _load_checkpoint(path: Path) -> dict:
    import numpy as np

    from hostsim.plating import PlatingState

    try:
        with np.load(path) as z:
            cp = {"state": {}, "series": {}}
            for key in z.files:
                if key.startswith("state/"):
                    cp["state"][key[6:]] = z[key]
                elif key.startswith("series/"):
                    cp["series"][key[7:]] = z[key]
                else:
                    cp[key] = z[key].item()
    except Exception as e:
        raise InputError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e}); delete it to restart that host") from None
    missing = sorted(set(PlatingState._fields) - set(cp["state"]))
    if missing:
        raise InputError(f"{path}: checkpoint from another hostsim version (no {', '.join(missing)}); delete it to "
                         f"restart that host")
    return cp


def run(args) -> int:
    import shutil

    from hostsim.case import load_case, parse_case
    from hostsim.simulation import simulate, write_outputs
    from hostsim.snapshots import SnapshotWriter

    if args.resume is not None:
        out = Path(args.resume)
        if not out.is_dir():
            raise InputError(f"{out}: no such run directory to resume")
        stored = out / "case.toml"
        if args.case is not None:
            raise InputError("--resume DIR takes the case stored in DIR; do not give a case file as well")
        args.case = str(stored) if stored.exists() else None
    else:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: exists and is not a directory")
    case = load_case(args.case) if args.case else parse_case({}, "built-in default")
    max_frames = args.max_frames if args.max_frames is not None else case.output.get("max_frames", 40)
    if max_frames < 2:
        raise InputError(f"--max-frames: expected >= 2 (initial and final state); got {max_frames}")
    report = case.output.get("report", True) and not args.no_report
    if args.resume is None:
        out.mkdir(parents=True, exist_ok=True)
        _clear_outputs(out)
        if args.case:
            shutil.copyfile(args.case, out / "case.toml")
        elif (out / "case.toml").exists():
            (out / "case.toml").unlink()
    precision = case.numerics.get("precision", "float32")
    if precision == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    hosts = [(fam.name, fam) for fam in _default_hosts()] if args.case is None or not case.geometry else [
        _case_host(case.geometry, precision)]
    kw = {k: case.numerics[k] for k in ("fill_per_step", "rest_steps") if k in case.numerics}
    if "newton_steps" in case.numerics:  # the cap on the adaptive Newton's iterations per step
        from hostsim.newton import AdaptiveNewton

        kw["newton"] = AdaptiveNewton(max_steps=case.numerics["newton_steps"])
    if "voltage_cutoff_V" in case.numerics:
        kw["voltage_cutoff"] = case.numerics["voltage_cutoff_V"]
    kw["top"] = case.top
    summaries = {}
    for name, host in hosts:
        done_file = out / f"{name}_summary.json"
        checkpoint = out / f"{name}_checkpoint.npz"
        if args.resume is not None and done_file.exists():
            summaries[name] = json.loads(done_file.read_text())
            print(f"{name}: already finished in {out}")
            continue
        resume = _load_checkpoint(checkpoint) if args.resume is not None and checkpoint.exists() else None
        fields = host.fields() if hasattr(host, "fields") else host
        start = time.perf_counter()

        def progress(done, total, seg, name=name, start=start):
            if args.quiet:
                return
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (total - done)
            print(f"\r{name}: step {done}/{total} ({seg.kind}) {elapsed:.0f} s elapsed, ETA {eta:.0f} s", end="",
                  file=sys.stderr, flush=True)

        try:
            writer = SnapshotWriter(out, name, fields.grid, {"s": fields.s, "k": fields.k, "l": fields.l},
                                    collector_layers=fields.collector_layers, host_top=fields.host_top,
                                    max_frames=max_frames, resume=resume is not None)
            res = simulate(name, fields.grid, fields.s, fields.k, fields.l, fields.theta, case.electrolyte,
                           case.kinetics, case.protocol, collector_layers=fields.collector_layers,
                           host_top=fields.host_top, progress=progress, snapshots=writer,
                           on_chunk=lambda cp, path=checkpoint: _save_checkpoint(path, cp), resume=resume, **kw)
        except KeyboardInterrupt:
            print(f"\ninterrupted: the last checkpoint is in {checkpoint}; continue with "
                  f"'hostsim simulate --resume {out}'", file=sys.stderr)
            return 130
        except Exception as e:  # a solver that fails under jit (equinox error_if) arrives as a runtime error
            text = str(e)
            if "did not converge" not in text and "converge" not in text.lower():
                raise
            first = next((line.strip() for line in text.splitlines() if "converge" in line.lower()), text[:200])
            raise InputError(f"{name}: the linear solver failed ({first}); the last checkpoint is in {checkpoint}. "
                             f"Try [numerics] precision = \"float64\" or a larger grid") from None
        if not args.quiet:
            print(file=sys.stderr)
        try:
            write_outputs(out, res, fields.grid, {"s": fields.s, "k": fields.k, "l": fields.l},
                          collector_layers=fields.collector_layers, host_top=fields.host_top)
        except KeyboardInterrupt:
            print(f"\ninterrupted while writing {name}'s results; 'hostsim simulate --resume {out}' writes them "
                  f"again from {checkpoint}", file=sys.stderr)
            return 130
        checkpoint.unlink(missing_ok=True)
        summaries[name] = res.summary
        s = res.summary
        print(f"{name}: {s['plated_capacity_mAh_cm2']:.3f} mAh/cm² plated in {s['wall_time_s']:.1f} s; envelope growth "
              f"{s['envelope_growth_um']:.3f} µm, relative volume change {100 * s['relative_volume_change']:.1f} %, "
              f"top growth {100 * s['top_growth_fraction']:.1f} %, flux CV {s['flux_cv']:.3g}, final V "
              f"{1000 * s['final_voltage_V']:.1f} mV, conservation error {s['conservation_error']:.1e}")
        if s["message"] != "completed":
            print(f"  note: {s['message']}")
        if s["cap_bound_steps"]:
            print(f"  note: the per-step cap (0.1 of a voxel) bound in {s['cap_bound_steps']} of {s['steps']} steps; "
                  f"{s['capped_charge_C']:.3g} C was held back (counted, not lost)")
    (out / "summary.json").write_text(json.dumps(summaries, indent=1, default=float))
    if report:
        from hostsim.report import write_report

        try:
            page = write_report(out, progress=None if args.quiet else lambda msg: print(msg, file=sys.stderr))
        except KeyboardInterrupt:
            print(f"\ninterrupted while writing the report; the results are complete in {out}; "
                  f"'hostsim report {out}' makes the report", file=sys.stderr)
            return 130
        print(f"report: {page}")
    print(f"results in {out}/ (summary.json, *_timeseries.csv, *_fields.pvd snapshots, *_fields_final.vti"
          f"{', plots, renders, report.html' if report else ''})")
    return 0
