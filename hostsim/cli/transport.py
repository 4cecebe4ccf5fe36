"""``hostsim transport [VOLUME ...] [--axis x|y|z] [--pore-value V] [--json] [--table F]``: effective
diffusivity, porosity and tortuosity factor of voxel volumes.

Without VOLUME it runs the built-in default case: a 64^3 random two-phase medium (porosity 0.5,
blob size 2 voxels, seed 0), so a fresh install can be checked with no files.
"""

from __future__ import annotations

import argparse
import json
import math

DEFAULT_CASE = dict(shape=(64, 64, 64), porosity=0.5, blob_size=2.0, seed=0)


def _phase_value(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"phase value must be a number; got {text!r}") from None


def _conductivity(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected VALUE=DIFFUSIVITY (e.g. 2=0.1); got {text!r}")
    value, kappa = text.split("=", 1)
    try:
        return _phase_value(value), float(kappa)
    except ValueError:
        raise argparse.ArgumentTypeError(f"diffusivity must be a number; got {kappa!r}") from None


def register(subparsers) -> None:
    t = subparsers.add_parser(
        "transport",
        help="effective diffusivity, porosity and tortuosity factor of a voxel volume",
        description="Steady through-plane diffusion (c=1 / c=0 on the two faces of AXIS) through the "
        "pore phase of a voxel volume. Without VOLUME: the built-in 64^3 random two-phase case.",
    )
    t.add_argument("volume", nargs="*", help="volume file(s) (.npy, .npz, .tif/.tiff stack, .vti), folders or glob "
                   "patterns; several volumes are solved as a batch (same shapes together) into one table; omit for "
                   "the built-in case")
    t.add_argument("--axis", default="z", choices=["x", "y", "z"], help="transport axis (default z)")
    t.add_argument("--pore-value", type=_phase_value, default=None, help="phase value of the pore phase (default 1)")
    t.add_argument(
        "--conductivity", type=_conductivity, action="append", default=None, metavar="VALUE=D",
        help="diffusivity of a phase relative to the pore phase (repeatable; unlisted phases insulate)",
    )
    t.add_argument("--lateral", default="no_flux", choices=["no_flux", "periodic"], help="lateral faces (default no_flux)")
    t.add_argument("--precision", default="float32", choices=["float32", "float64"])
    t.add_argument("--rtol", type=float, default=1e-6, help="relative residual tolerance (default 1e-6)")
    t.add_argument("--max-steps", type=int, default=500, help="PCG iteration cap (default 500)")
    t.add_argument("--output", default=None, help="write concentration, flux and phase to this .vti file")
    t.add_argument("--devices", default="1", metavar="N|all",
                   help="split one volume along z over N local devices (or all): a volume too large for one")
    t.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    t.add_argument("--table", default=None, metavar="FILE.csv",
                   help="several volumes: write the table here (CSV, and Parquet beside it); default: print it")
    t.set_defaults(handler=run)


def _print_table(result, source: str) -> None:
    tau = result.tortuosity_factor
    rows = [
        ("volume", source),
        ("shape [voxels]", "x".join(str(n) for n in result.shape)),
        ("axis / lateral", f"{result.axis} / {result.lateral}"),
        ("porosity eps [-]", f"{result.porosity:.6f}"),
        ("percolating porosity [-]", f"{result.percolating_porosity:.6f}"),
        ("D_eff / D [-]", f"{result.effective_diffusivity_ratio:.6f}"),
        ("tortuosity factor eps D/D_eff [-]", f"{tau:.6f}" if math.isfinite(tau) else "inf (does not percolate)"),
        ("PCG iterations", str(result.iterations)),
        ("relative residual [-]", f"{result.relative_residual:.2e}"),
        ("layer flux spread [-]", f"{result.flux_spread:.2e}"),
        ("precision", result.precision),
        ("wall time [s]", f"{result.seconds:.3f}"),
        ("note", result.message),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


VOLUME_SUFFIXES = (".npy", ".npz", ".tif", ".tiff", ".vti")


def _volume_paths(items) -> list:
    """Files from the command line: files as given, folders as their volume files (sorted), glob
    patterns expanded (sorted); a pattern or folder with no volume is an error."""
    import glob
    from pathlib import Path

    from hostsim.errors import InputError

    paths = []
    for item in items or []:
        p = Path(item)
        if p.is_dir():
            found = sorted(str(q) for q in p.iterdir() if q.suffix.lower() in VOLUME_SUFFIXES)
            if not found:
                raise InputError(f"{item}: a folder with no volume files ({', '.join(VOLUME_SUFFIXES)})")
            paths.extend(found)
        elif any(ch in item for ch in "*?["):
            found = sorted(glob.glob(item))
            if not found:
                raise InputError(f"{item}: the pattern matches no file")
            paths.extend(found)
        else:
            paths.append(item)
    return paths


def _transport_batch(args, paths) -> int:
    """Several volumes: validate all, solve same-shape volumes together, print or write one table."""
    import csv
    import io
    import os

    from hostsim.run.io import check_writable, load_volume
    from hostsim.numerics.linsolve import PCG
    from hostsim.errors import InputError
    from hostsim.transport.effective import effective_transport_batch

    if args.output is not None:
        raise InputError("--output writes the fields of one volume; with several volumes use --table")
    if args.table is not None:
        check_writable(args.table, ".csv")
    volumes = [load_volume(p) for p in paths]  # every file is read (and checked) before any solve
    import jax

    sharding = None
    if len(jax.local_devices()) > 1:  # the batch axis over every local device (a 1-D "batch" mesh)
        import numpy as np
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        sharding = NamedSharding(Mesh(np.array(jax.local_devices()), ("batch",)), PartitionSpec("batch"))
    results = effective_transport_batch(
        volumes, sharding=sharding, axis=args.axis, pore_value=args.pore_value,
        conductivities=dict(args.conductivity) if args.conductivity else None, lateral=args.lateral,
        precision=args.precision, solver=PCG(rtol=args.rtol, max_steps=args.max_steps), sources=paths)
    rows = []
    for path, r in zip(paths, results):
        rows.append({"volume": path, "shape": "x".join(map(str, r.shape)), "axis": r.axis,
                     "porosity": r.porosity, "percolating_porosity": r.percolating_porosity,
                     "D_eff_over_D": r.effective_diffusivity_ratio, "tortuosity_factor": r.tortuosity_factor,
                     "iterations": r.iterations, "relative_residual": r.relative_residual, "seconds": r.seconds,
                     "message": r.message})
    if args.json:
        print(json.dumps(rows))
        return 0
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    if args.table is None:
        print(buf.getvalue(), end="")
        return 0
    with open(args.table, "w", newline="") as fh:
        fh.write(buf.getvalue())
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = os.path.splitext(args.table)[0] + ".parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    print(f"{len(rows)} volumes: {args.table}, {parquet}")
    return 0


def _devices_mesh(text: str):
    """``--devices N|all`` as a z mesh, or None for one device."""
    import jax

    from hostsim.errors import InputError

    local = jax.local_devices()
    if text.strip().lower() == "all":
        wanted = len(local)
    else:
        try:
            wanted = int(text)
        except ValueError:
            raise InputError(f"--devices: expected a count >= 1 or 'all'; got {text!r}") from None
        if wanted < 1:
            raise InputError(f"--devices: expected a count >= 1 or 'all'; got {wanted}")
        if wanted > len(local):
            raise InputError(f"--devices {wanted}: this process sees {len(local)} {local[0].platform} device(s)")
    if wanted == 1:
        return None
    from hostsim.numerics.sharding import z_mesh

    return z_mesh(local[:wanted])


def run(args) -> int:
    if args.precision == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    from hostsim.errors import InputError
    from hostsim.run.io import check_writable, load_volume, write_vti
    from hostsim.numerics.linsolve import PCG
    from hostsim.transport.media import random_two_phase
    from hostsim.transport.effective import effective_transport

    if not (0 < args.rtol < 1):
        raise InputError(f"--rtol must be in (0, 1); got {args.rtol}")
    if args.max_steps < 1:
        raise InputError(f"--max-steps must be >= 1; got {args.max_steps}")
    if args.output is not None:
        check_writable(args.output)
    mesh = _devices_mesh(args.devices)
    paths = _volume_paths(args.volume)
    if len(paths) > 1:
        if mesh is not None:
            raise InputError("--devices splits one volume; several volumes are already spread over every local device")
        return _transport_batch(args, paths)
    if args.table is not None:
        raise InputError("--table is for several volumes; give more than one volume (files, a folder or a glob)")
    args.volume = paths[0] if paths else None
    if args.volume is None:
        volume = random_two_phase(**DEFAULT_CASE)
        source = "built-in random two-phase 64^3 (porosity 0.5, blob size 2 voxels, seed 0)"
    else:
        volume = load_volume(args.volume)
        source = args.volume
    result = effective_transport(
        volume,
        axis=args.axis,
        pore_value=args.pore_value,
        conductivities=dict(args.conductivity) if args.conductivity else None,
        lateral=args.lateral,
        precision=args.precision,
        solver=PCG(rtol=args.rtol, max_steps=args.max_steps),
        source=source,
        mesh=mesh,
    )
    if args.output:
        write_vti(args.output, {"phase": volume, "concentration": result.concentration, "flux": result.flux})
    if args.json:
        out = result.to_dict()
        out["volume"] = source
        if args.output:
            out["output"] = args.output
        print(json.dumps(out))
    else:
        _print_table(result, source)
        if args.output:
            print(f"fields written to {args.output}")
    return 0
