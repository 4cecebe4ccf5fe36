"""``hostsim design [STUDY.toml] --out DIR [--resume DIR]``: run a design study.

Without a study: the built-in default (:data:`inverse.study.DEFAULT_STUDY`), a layer-profile
design of k and l over a small Cu skeleton plated fast. This module is only the shell: the loop is
:func:`inverse.loop.run_study`; :mod:`inverse` is imported when the subcommand runs (see
:mod:`hostsim.cli` for why not before).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from hostsim.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "design", help="design a host by gradient (a TOML study, or the built-in layer-profile default)",
        description="Optimise a host design (layer profiles of k and l, or a family's parameters) for the "
        "study's weighted objective through a differentiable plating transient; writes log.jsonl/log.csv, "
        "checkpoint.npz (resumable) and design.json into DIR.")
    p.add_argument("study", nargs="?", help="study file (.toml); omit for the built-in default")
    p.add_argument("--out", default="hostsim_design", help="output directory (default ./hostsim_design)")
    p.add_argument("--resume", metavar="DIR", default=None, help="continue an interrupted study in DIR")
    p.add_argument("--iterations", type=int, default=None, help="override [optimizer] iterations")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the verification runs (the start and the final design through hostsim simulate) and "
                        "the report: the claims then rest on the optimiser's model alone")
    p.set_defaults(handler=run)


def _study(args):
    """The study and its output directory: a new one (the study file copied in) or the one resumed."""
    from inverse.study import DEFAULT_STUDY, load_study, parse_study

    if args.resume is not None:
        out = Path(args.resume)
        if not out.is_dir():
            raise InputError(f"{out}: no such study directory to resume")
        if args.study is not None:
            raise InputError("--resume DIR takes the study stored in DIR; do not give a study file as well")
        stored = out / "study.toml"
        study = load_study(stored) if stored.exists() else parse_study(DEFAULT_STUDY, "built-in default")
    else:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: exists and is not a directory")
        study = load_study(args.study) if args.study else parse_study(DEFAULT_STUDY, "built-in default")
        out.mkdir(parents=True, exist_ok=True)
        if args.study:
            shutil.copyfile(args.study, out / "study.toml")
        elif (out / "study.toml").exists():
            (out / "study.toml").unlink()
    return study, out


def _print_record(record: dict, out: Path) -> None:
    s, f = record["start"], record["final"]
    print(f"design: objective {record['objective_start']:.4f} -> {record['objective_final']:.4f} in "
          f"{record['iterations']} iterations; top growth {s['top_growth']:.4f} -> {f['top_growth']:.4f}, flux CV (mean) "
          f"{s['flux_cv']:.4f} -> {f['flux_cv']:.4f}, envelope growth {s['envelope_growth_um']:.3f} -> "
          f"{f['envelope_growth_um']:.3f} µm (the optimiser's model; verify with hostsim simulate)")
    spread = record.get("starts")
    if spread:
        finals, verdicts = spread["objective_final"], spread["verdicts"]
        counted = ", ".join(f"{v} x{verdicts.count(v)}" for v in sorted(set(verdicts)))
        print(f"starts: {spread['count']} (the file's start and a Latin hypercube), kept start {spread['best']}; final "
              f"objectives {min(finals):.4f} to {max(finals):.4f} (spread {spread['objective_spread']:.4f}); "
              f"verdicts {counted}")
    v = record.get("verification")
    if v:
        a, b = v["start"], v["final"]
        print(f"verification (hostsim simulate pipeline): top growth {a['top_growth_fraction']:.4f} -> "
              f"{b['top_growth_fraction']:.4f}, flux CV (last step) {a['flux_cv']:.4f} -> {b['flux_cv']:.4f}, (mean) "
              f"{a['flux_cv_mean']:.4f} -> {b['flux_cv_mean']:.4f}, envelope growth "
              f"{a['envelope_growth_um']:.3f} -> {b['envelope_growth_um']:.3f} µm, SEI {a['sei_loss_mAh_cm2']:.4f} -> "
              f"{b['sei_loss_mAh_cm2']:.4f} mAh/cm²")
        from inverse.report import write_design_report

        print(f"report: {write_design_report(out)}")
    verified = ", final_host.vti, verification/" if v else ""  # --no-verify writes neither
    print(f"results in {out}/ (log.jsonl, log.csv, checkpoint.npz, design.json, design.pvd snapshots{verified})")
    if "verdict" in record:  # last: whether to trust the design or run on
        from inverse.verdict import verdict_line

        print(verdict_line(record["verdict"]))


def run(args) -> int:
    from hostsim.cli import enable_compilation_cache

    study, out = _study(args)
    for note in study.case.notes:
        print(f"hostsim: note: {note}", file=sys.stderr)
    if args.iterations is not None:
        if args.iterations < 1:
            raise InputError(f"--iterations: expected >= 1; got {args.iterations}")
        study.optimizer.iterations = args.iterations
    if study.case.numerics.precision == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    enable_compilation_cache()
    from inverse.loop import run_study

    def progress(done, total, row, eta):
        if not args.quiet:
            print(f"\riteration {done}/{total}: objective {row['objective']:.4f}, top growth "
                  f"{row['top_growth']:.4f}, flux CV {row['flux_cv']:.4f}, ETA {eta:.0f} s", end="", file=sys.stderr,
                  flush=True)

    try:
        record = run_study(study, out, resume=args.resume is not None, progress=progress,
                           verify=not args.no_verify)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last checkpoint is in {out / 'checkpoint.npz'}; continue with "
              f"'hostsim design --resume {out}'", file=sys.stderr)
        return 130
    if not args.quiet:
        print(file=sys.stderr)
    _print_record(record, out)
    return 0
