"""``hostsim geometry``: build a host family (or import a volume/mesh), print its report, write a .vti.

Hosts come from :mod:`geometries`, imported inside the functions that run the subcommand (see
:mod:`hostsim.cli` for why).

    hostsim geometry --list
    hostsim geometry cu_skeleton --porosity 0.7 --fibre-diameter 0.4 --voxel-size 0.1 --out skel.vti
    hostsim geometry imported --file ct.tif --labels 0=electrolyte,1=cu --voxel-size 0.5 --out ct.vti

Family parameters are given as ``--name value``; lengths are in µm and their ``_um`` suffix is
optional (``--fibre-diameter`` = ``--fibre-diameter-um``). Every value is checked (type, range,
voxel resolution, memory) before anything is built.
"""

from __future__ import annotations

import dataclasses
import json

from hostsim.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "geometry",
        help="build a 3D host (family parameters in µm) or import a volume/mesh; report and write .vti",
        description="Build a host family and write its fields s, k, l, theta to a .vti. "
        "'hostsim geometry --list' shows every family with its parameters, units, defaults and sources.",
        add_help=True,
    )
    p.add_argument("family", nargs="?", help="family name (see --list) or 'imported'")
    p.add_argument("--list", action="store_true", help="list the families and their parameters")
    p.add_argument("options", nargs="...", help="--out FILE.vti, --json, --voxel-size µm, --PARAM VALUE ...")
    p.set_defaults(handler=run)


def _parse_options(tokens: list[str], where: str) -> dict[str, object]:
    opts: dict[str, object] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--") or len(tok) < 3:
            raise InputError(f"{where}: expected --name value, got {tok!r}")
        if "=" in tok:
            key, value = tok[2:].split("=", 1)
            i += 1
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            key, value = tok[2:], tokens[i + 1]
            i += 2
        else:
            key, value = tok[2:], True  # a flag (--sharp, --json, --collector)
            i += 1
        key = key.replace("-", "_")
        if key in opts:
            raise InputError(f"{where}: --{key.replace('_', '-')} given twice")
        opts[key] = value
    return opts


def _convert(name: str, value, default, where: str):
    if isinstance(default, bool) or name == "sharp":
        if value is True or str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise InputError(f"{where}: --{name.replace('_', '-')} expects true/false; got {value!r}")
    if value is True:
        raise InputError(f"{where}: --{name.replace('_', '-')} needs a value")
    if isinstance(default, str):
        return str(value)
    try:
        if isinstance(default, int):
            as_float = float(value)
            if as_float != int(as_float):
                raise ValueError
            return int(as_float)
        return float(value)
    except (ValueError, OverflowError):
        kind = "an integer" if isinstance(default, int) else "a number"
        raise InputError(f"{where}: --{name.replace('_', '-')} expects {kind}; got {value!r}") from None


def _family_params(family: str, opts: dict) -> dict:
    from geometries._registry import family_class

    cls = family_class(family)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    params = {}
    for key, value in opts.items():
        name = key if key in fields else (key + "_um" if key + "_um" in fields else None)
        if name is None:
            allowed = ", ".join("--" + n.removesuffix("_um").replace("_", "-") for n in fields if n not in ("centres", "packed_top_um"))
            raise InputError(f"{family}: unknown option --{key.replace('_', '-')}; allowed: {allowed}, --out, --json")
        default = fields[name].default
        params[name] = _convert(name, value, default, family)
    return params


def _print_report(report, source: str, seconds: float, out) -> None:
    rows = [("host", source)] + report.lines() + [("build time [s]", f"{seconds:.2f}")]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for w in report.warnings:
        print(f"warning: {w}")
    if out:
        print(f"fields s, k, l, theta, eps written to {out}")


def run(args) -> int:
    from geometries import FAMILIES, build, describe_families, make_family

    if args.list:
        print(describe_families())
        return 0
    if args.family is None:
        raise InputError("geometry: name a family (hostsim geometry --list shows them) or use --list")
    opts = _parse_options(list(args.options), args.family)
    out = opts.pop("out", None)
    as_json = bool(opts.pop("json", False))
    if out is not None:
        if out is True:
            raise InputError(f"{args.family}: --out needs a file name (.vti)")
        from hostsim.run.io import check_writable

        check_writable(out)
    if args.family == "imported":
        host, source = _imported(opts)
    else:
        if args.family not in FAMILIES:
            raise InputError(f"unknown host family {args.family!r}; known: {', '.join(FAMILIES)}, imported")
        family = make_family(args.family, **_family_params(args.family, opts))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # printed below, once
            host = build(family)
        source = f"{family.name} ({family.title}; {family.source})"
    if out:
        host.save(out)
    if as_json:
        d = {"host": source, "report": host.report.to_dict(), "build_seconds": host.seconds}
        if host.family is not None:
            d["parameters"] = host.family.parameters()
        if out:
            d["output"] = out
        print(json.dumps(d, default=str))
    else:
        _print_report(host.report, source, host.seconds, out)
    return 0


def _imported(opts: dict):
    import time

    from geometries import Host
    from geometries.importers import import_volume, parse_labels, voxelize_mesh
    from geometries.report import host_report
    from hostsim.run.io import VOLUME_SUFFIXES

    path = opts.pop("file", None)
    if path is None or path is True:
        raise InputError("imported: --file PATH is required (voxel stack or surface mesh)")
    voxel = opts.pop("voxel_size", opts.pop("voxel_size_um", None))
    if voxel is None or voxel is True:
        raise InputError("imported: --voxel-size (µm) is required")
    voxel = _convert("voxel_size", voxel, 1.0, "imported")
    kw = {}
    if "labels" in opts:
        kw["labels"] = parse_labels(str(opts.pop("labels")))
    if "collector" in opts:
        kw["add_collector"] = _convert("collector", opts.pop("collector"), False, "imported")
    if "pad_top" in opts:
        kw["pad_top_um"] = _convert("pad_top", opts.pop("pad_top"), 1.0, "imported")
    for name in ("lateral", "precision"):
        if name in opts:
            kw[name] = str(opts.pop(name))
    material = opts.pop("material", None)
    if opts:
        raise InputError(f"imported: unknown option(s) {', '.join('--' + k.replace('_', '-') for k in opts)}")
    start = time.perf_counter()
    from pathlib import Path

    if Path(str(path)).suffix.lower() in VOLUME_SUFFIXES:
        fields = import_volume(str(path), voxel, **kw)
    else:
        kw.pop("labels", None)
        if material is not None:
            kw["material"] = str(material)
        fields = voxelize_mesh(str(path), voxel, **kw)
    report = host_report(fields)
    return Host(family=None, fields=fields, report=report, seconds=time.perf_counter() - start), str(path)
