"""``hostsim simulate [CASE.toml] --out DIR``: plate/strip Li into a host and write the results.

A case names a host family (or a volume to import) and only :mod:`geometries` builds hosts, so
this subcommand imports it when it runs (see :mod:`hostsim.cli` for why not before); the
engine's case parser (:mod:`hostsim.run.case`) validates everything else.

Without a case: the built-in default — a planar Cu foil and a 3D Cu skeleton (0.5 µm fibres,
porosity 0.8, 5 µm thick, 4 µm box at 0.125 µm voxels) side by side, 1 mA/cm² to 1 mAh/cm² in
LP30 — about a minute on 2 CPU cores the first time, less once the programs are compiled
(docs/performance.md). DIR receives what docs/outputs.md lists: per host a
summary (keys with units), a time-series CSV, field snapshots (``.pvd`` of ``.vti``) and the final
fields; then plots, 3D renders, an animation and ``report.html`` (``--no-report`` for batch runs).

This module is only the command-line shell: the hosts come from :func:`geometries.case_hosts`,
the runs, checkpoints and resume from :mod:`hostsim.run.pipeline`.
"""

from __future__ import annotations

import sys

from hostsim.errors import InputError


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
    p.add_argument("--parallel-hosts", type=int, default=2, metavar="N",
                   help="hosts run at a time, each in a thread of this process (default 2: the built-in "
                        "default's foil runs beside its skeleton; the same numbers as one after another)")
    p.set_defaults(handler=run)


def result_line(name: str, s: dict) -> str:
    """One line per host: the charge it passed and where it went, the step work and the metrics."""
    charge = f"{s['plated_mAh_cm2']:.3f} mAh/cm² plated"
    if s["stripped_mAh_cm2"] > 0:
        charge += f", {s['stripped_mAh_cm2']:.3f} stripped, net {s['net_plated_mAh_cm2']:.3f}"
    return (f"{name}: {charge} ({s['li_metal_mAh_cm2']:.3f} Li metal, "
            f"{s['sei_loss_mAh_cm2']:.3f} SEI) in {s['steps']} steps ({s['rejected_steps']} rejected) and "
            f"{s['wall_time_s']:.1f} s; envelope growth {s['envelope_growth_um']:.3f} µm, relative volume change "
            f"{100 * s['relative_volume_change']:.1f} %, top growth {100 * s['top_growth_fraction']:.1f} %, flux CV "
            f"{s['flux_cv']:.3g}, final V {1000 * s['final_voltage_V']:.1f} mV, conservation error "
            f"{s['conservation_error']:.1e}")


def _setup(args):
    """The case, the output directory (new, or the one resumed) and the snapshot count, every
    argument checked before the output directory is made."""
    from hostsim.run.api import default_case
    from hostsim.run.case import load_case
    from hostsim.run.pipeline import prepare_output

    out = None
    if args.resume is not None:
        if args.case is not None:
            raise InputError("--resume DIR takes the case stored in DIR; do not give a case file as well")
        out = prepare_output(args.resume, resume=True)
        stored = out / "case.toml"
        args.case = str(stored) if stored.exists() else None
    case = load_case(args.case) if args.case else default_case()
    max_frames = args.max_frames if args.max_frames is not None else case.output.max_frames
    if args.parallel_hosts < 1:
        raise InputError(f"--parallel-hosts: expected an integer >= 1; got {args.parallel_hosts}")
    if max_frames < 2:
        raise InputError(f"--max-frames: expected >= 2 (initial and final state); got {max_frames}")
    if out is None:
        out = prepare_output(args.out, args.case)
    return case, out, max_frames


def _printers(args, out):
    """The progress line (hosts that run side by side share it) and the result line per host."""
    running = {}  # host -> its progress text

    def progress(name, done, total, seg, elapsed):
        if args.quiet:
            return
        eta = elapsed / done * (total - done) if done > 0 else float("nan")
        running[name] = (f"{name}: {100 * done / total:.0f} % of the protocol ({seg.kind}) {elapsed:.0f} s elapsed, "
                         f"ETA {eta:.0f} s")
        if done >= total:
            running.pop(name)
        print("\r" + " | ".join(running.values()), end="", file=sys.stderr, flush=True)

    def on_host(name, s, finished_before):
        if finished_before:
            print(f"{name}: already finished in {out}")
            return
        if not args.quiet:
            print(file=sys.stderr)
        print(result_line(name, s))
        if s["message"] != "completed":
            print(f"  note: {s['message']}")

    return progress, on_host


def _report(out, quiet: bool) -> int:
    from hostsim.pictures.report import write_report

    try:
        page = write_report(out, progress=None if quiet else lambda msg: print(msg, file=sys.stderr))
    except KeyboardInterrupt:
        print(f"\ninterrupted while writing the report; the results are complete in {out}; "
              f"'hostsim report {out}' makes the report", file=sys.stderr)
        return 130
    print(f"report: {page}")
    return 0


def run(args) -> int:
    """The CLI shell: arguments -> :func:`geometries.case_hosts` -> :func:`hostsim.run.pipeline.run_hosts`
    -> printed summaries and the report."""
    from geometries import case_hosts
    from hostsim.run.pipeline import Interrupted, run_hosts

    case, out, max_frames = _setup(args)
    report = case.output.report and not args.no_report
    if case.numerics.precision == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    hosts = case_hosts(case)
    for note in case.notes:
        print(f"hostsim: note: {note}", file=sys.stderr)
    progress, on_host = _printers(args, out)
    try:
        run_hosts(out, hosts, case, resume=args.resume is not None, max_frames=max_frames, progress=progress,
                  on_host=on_host, workers=args.parallel_hosts)
    except Interrupted as e:
        print(f"\n{e}", file=sys.stderr)
        return 130
    if report and _report(out, args.quiet):
        return 130
    print(f"results in {out}/ (summary.json, *_timeseries.csv, *_fields.pvd snapshots, *_fields_final.vti"
          f"{', plots, renders, report.html' if report else ''})")
    return 0
