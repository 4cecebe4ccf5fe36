"""``hostsim report DIR [--no-renders]``: plots, renders and ``report.html`` of a finished run."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="plots, 3D renders and a self-contained report.html of a run directory",
        description="Read a run directory written by 'hostsim simulate' (summaries, time series, .pvd snapshots) "
        "and write DIR/figures/*.png, DIR/renders/*.png|gif and DIR/report.html.")
    p.add_argument("directory", help="run directory (hostsim simulate --out DIR)")
    p.add_argument("--no-renders", action="store_true", help="plots only (no 3D renders or animation)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run)


def run(args) -> int:
    from hostsim.pictures.report import write_report

    page = write_report(args.directory, renders=not args.no_renders,
                        progress=None if args.quiet else lambda msg: print(msg, file=sys.stderr))
    print(f"report: {page}")
    return 0
