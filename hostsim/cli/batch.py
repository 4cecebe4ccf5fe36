"""``hostsim batch SWEEP.toml --out DIR [--resume]``: run a sweep of cases.

Members name host families or volumes, which only :mod:`geometries` builds, so this subcommand
imports it when it runs (see :mod:`hostsim.cli` for why not before). This module is only the
shell: sweeps, members, the table and resume are :mod:`hostsim.run.batch`; the hosts come from
:func:`geometries.case_hosts`, a member's geometry check from
:func:`geometries._batch_cli.validate_host`; the report from :mod:`hostsim.pictures.batch_report`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hostsim.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "batch", help="run a sweep (a base case plus axes of values) and write one results table",
        description="Run every member of a sweep (a case file with [sweep] mode and [sweep.axes]) as an "
        "ordinary run into DIR/members/<key>/, and merge the summaries into DIR/results.csv, "
        "DIR/results.parquet and DIR/report.html. A failing member is recorded and the others go on; "
        "--resume skips finished members.")
    p.add_argument("sweep", help="sweep file (.toml)")
    p.add_argument("--out", default="hostsim_batch", help="output directory (default ./hostsim_batch)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted batch in --out")
    p.add_argument("--process-id", type=int, default=None, help="this process's share of the members (with --num-processes)")
    p.add_argument("--num-processes", type=int, default=None, help="processes sharing the members")
    p.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="join a jax.distributed process group (with --num-processes and --process-id; process 0 "
                        "serves HOST:PORT); process 0 merges the table when all are done")
    p.add_argument("--distributed", action="store_true",
                   help="join a jax.distributed process group described by the cluster's environment (Slurm, "
                        "Open MPI, Kubernetes)")
    p.add_argument("--max-frames", type=int, default=2, help="field snapshots per member host (default 2)")
    p.add_argument("--members-together", default="auto", choices=["auto", "vmap", "threads", "one-by-one"],
                   help="vmap: members of one grid, settings and step plan run as one program (split over the "
                        "local devices when there are several); threads: two members at a time, each its own run "
                        "in a thread; one-by-one: each alone; auto (default): vmap on accelerators or several "
                        "devices, threads on a single CPU device")
    p.add_argument("--no-report", action="store_true", help="no report.html")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run)


def _schedule(choice: str):
    """``--members-together`` as a :mod:`hostsim.run.batch` schedule (None: the default)."""
    import jax

    from hostsim.run.batch import Concurrent, OneByOne, Together
    from hostsim.numerics.sharding import member_mesh

    if choice == "one-by-one":
        return OneByOne()
    if choice == "threads":
        return Concurrent()
    if choice == "vmap":
        return Together(mesh=member_mesh() if len(jax.local_devices()) > 1 else None)
    return None


def _share(args) -> tuple[int, int, bool]:
    """This process's share of the members, ``(process id, process count, in a process group)``."""
    pid, count = args.process_id, args.num_processes
    group = args.coordinator is not None or args.distributed
    if args.coordinator is not None and args.distributed:
        raise InputError("--coordinator and --distributed: give one (--distributed reads the cluster's environment)")
    if args.coordinator is not None and (pid is None or count is None):
        raise InputError("--coordinator needs --num-processes and --process-id")
    if (pid is None) != (count is None):
        raise InputError("--process-id and --num-processes go together")
    pid, count = (0, 1) if pid is None else (pid, count)
    if count < 1 or not 0 <= pid < count:
        raise InputError(f"--process-id must be in [0, --num-processes); got {pid} of {count}")
    return pid, count, group


def _finish(args, out, sweep, rows, pid: int, count: int, group: bool) -> int:
    """Process 0 (or the only process) merges the table once every share is done and writes the report."""
    from hostsim.run import distributed

    if group:
        distributed.barrier("hostsim-batch-members-done")
        if pid != 0:
            print(f"process {pid} of {count}: its members are in {out}/members; process 0 merges the table")
            distributed.leave()
            return 0
        from hostsim.run.batch import collect, write_table

        rows = collect(out, sweep)
        write_table(out, rows)
    failed = sum(r["status"] == "failed" for r in rows)
    print(f"batch: {len({r['member'] for r in rows})} of {len(sweep.members)} members in the table ({failed} failed); "
          f"{out / 'results.csv'}, {out / 'results.parquet'}")
    if not args.no_report:
        from hostsim.pictures.batch_report import write_batch_report

        print(f"report: {write_batch_report(out, sweep, rows)}")
    if group:
        distributed.leave()
    return 0


def run(args) -> int:
    from geometries import case_hosts
    from geometries._batch_cli import validate_host
    from hostsim.cli import enable_compilation_cache
    from hostsim.run import distributed
    from hostsim.run.batch import parse_sweep, run_batch
    from hostsim.run.case import read_toml
    from hostsim.run.pipeline import Interrupted

    pid, count, group = _share(args)
    if args.max_frames < 2:
        raise InputError(f"--max-frames: expected >= 2; got {args.max_frames}")
    if group:  # before JAX's first computation (the sweep's checks build host parameters with jax.numpy)
        pid, count = distributed.join(args.coordinator, *((count, pid) if args.coordinator else (None, None)))
    sweep = parse_sweep(read_toml(args.sweep, "sweep"), str(args.sweep), validate_host=validate_host)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if any(m.case.numerics.precision == "float64" for m in sweep.members):
        import jax

        jax.config.update("jax_enable_x64", True)
    enable_compilation_cache()

    def progress(done, total, member, status, elapsed, eta):
        if not args.quiet:
            params = ", ".join(f"{k} = {v}" for k, v in member.parameters.items())
            print(f"member {done}/{total} [{status}] {params}; {elapsed:.0f} s elapsed, ETA {eta:.0f} s",
                  file=sys.stderr, flush=True)

    try:
        rows = run_batch(sweep, out, case_hosts, resume=args.resume, max_frames=args.max_frames,
                         share=(pid, count), progress=progress, schedule=_schedule(args.members_together))
    except Interrupted:
        print(f"\ninterrupted: finished members are in {out}; continue with 'hostsim batch {args.sweep} --out {out} "
              f"--resume'", file=sys.stderr)
        return 130
    return _finish(args, out, sweep, rows, pid, count, group)
