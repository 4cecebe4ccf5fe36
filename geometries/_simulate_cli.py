"""``hostsim simulate [CASE.toml] --out DIR``: plate/strip Li into a host and write the results.

Registered as a ``hostsim.cli`` entry point from :mod:`geometries`, because a case names a host
family (or a volume to import) and only this package builds hosts; the engine's case parser
(:mod:`hostsim.case`) validates everything else.

Without a case: the built-in default — a planar Cu foil and a 3D Cu skeleton (0.5 µm fibres,
porosity 0.8, 5 µm thick, 4 µm box at 0.125 µm voxels) side by side, 1 mA/cm² to 1 mAh/cm² in
LP30 — about a minute on 2 CPU cores. DIR receives ``summary.json`` (one summary per host, keys
with units), ``<host>_timeseries.csv`` and ``<host>_fields_final.vti``.
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
    p.add_argument("--quiet", action="store_true", help="no progress lines")
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


def run(args) -> int:
    from hostsim.case import load_case, parse_case
    from hostsim.simulation import simulate, write_outputs

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    case = load_case(args.case) if args.case else parse_case({}, "built-in default")
    precision = case.numerics.get("precision", "float32")
    if precision == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    hosts = [(fam.name, fam) for fam in _default_hosts()] if args.case is None or not case.geometry else [
        _case_host(case.geometry, precision)]
    out.mkdir(parents=True, exist_ok=True)
    kw = {k: case.numerics[k] for k in ("fill_per_step", "newton_steps", "rest_steps") if k in case.numerics}
    if "voltage_cutoff_V" in case.numerics:
        kw["voltage_cutoff"] = case.numerics["voltage_cutoff_V"]
    summaries = {}
    for name, host in hosts:
        fields = host.fields() if hasattr(host, "fields") else host
        start = time.perf_counter()

        def progress(done, total, seg, name=name, start=start):
            if args.quiet:
                return
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (total - done)
            print(f"\r{name}: step {done}/{total} ({seg.kind}) {elapsed:.0f} s elapsed, ETA {eta:.0f} s", end="",
                  file=sys.stderr, flush=True)

        res = simulate(name, fields.grid, fields.s, fields.k, fields.l, fields.theta, case.electrolyte, case.kinetics,
                       case.protocol, collector_layers=fields.collector_layers, host_top=fields.host_top,
                       progress=progress, **kw)
        if not args.quiet:
            print(file=sys.stderr)
        write_outputs(out, res, fields.grid, {"s": fields.s, "k": fields.k, "l": fields.l})
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
    print(f"results in {out}/ (summary.json, *_timeseries.csv, *_fields_final.vti)")
    return 0
