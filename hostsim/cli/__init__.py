"""The ``hostsim`` command and every one of its subcommands, registered here directly:

    hostsim transport | geometry | simulate | design | batch | render | report

This package is the application layer, above the engine *and* above :mod:`geometries` and
:mod:`inverse`: geometry, simulate and batch build hosts, design runs a study. It imports those
two packages only inside the functions that run a subcommand, never at module level, so the
engine still imports without them and ``python -m hostsim.cli`` and ``from hostsim.cli import
main`` keep working (tests/test_layering.py checks both rules). Nothing is discovered at run
time: a subcommand module that fails to import fails the command with its traceback instead of
disappearing from ``--help``.

Bad input ends in one line ``hostsim: error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from hostsim.cli import batch, design, geometry, render, report, simulate, transport
from hostsim.cli.transport import DEFAULT_CASE  # noqa: F401  (tests and scripts read it from here)

# the order of ``hostsim --help``
SUBCOMMANDS = (transport, geometry, simulate, design, batch, render, report)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2 (argparse prints usage on top otherwise)
        print(f"hostsim: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hostsim", description="GPU-accelerated differentiable 3D Li-metal host simulator")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in SUBCOMMANDS:
        command.register(sub)
    return parser


def enable_compilation_cache() -> str | None:
    """Turn on JAX's persistent compilation cache for this process, so a second command with the
    same shapes loads its compiled programs instead of compiling them again (docs/performance.md:
    wall time of ``hostsim simulate``). ``JAX_COMPILATION_CACHE_DIR`` wins when set (JAX reads it
    itself); otherwise the cache lives in ``$XDG_CACHE_HOME/hostsim/jax`` (``~/.cache/...``).
    ``HOSTSIM_COMPILATION_CACHE=0`` turns it off. Returns the directory in use (None: off)."""
    import os
    from pathlib import Path

    if os.environ.get("HOSTSIM_COMPILATION_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    import jax

    path = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if not path:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = str(Path(base) / "hostsim" / "jax")
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError:
            return None  # an unwritable home: run without the cache rather than fail
        jax.config.update("jax_compilation_cache_dir", path)
    # cache every program, however quick to compile: a run's set-up is dozens of small programs
    # (~0.03 s each to compile, ~1.5 s together on 2 cores; measured), JAX's default threshold is 1 s
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # the store of traced step programs (hostsim.run.programs) next to it: a new process skips
    # tracing and lowering each host's step chunk (~1.2 s per host, measured); HOSTSIM_PROGRAM_STORE=0
    # turns it off. (Two long test sessions that used it segfaulted: the process had run out of
    # memory mappings, hostsim.run.programs.release_programs, not the store.)
    if os.environ.get("HOSTSIM_PROGRAM_STORE", "1").strip().lower() not in ("0", "false", "no", "off"):
        from hostsim.run.programs import use_directory

        use_directory(Path(path) / "hostsim-programs")
    return path


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from hostsim.errors import InputError

    enable_compilation_cache()
    try:
        # the commands print a deprecated key's note themselves, once (Case.notes); the library's
        # warning about it would say the same again (only while the command runs: a caller's
        # filters are left as they were)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*deprecated.*")
            return args.handler(args)
    except InputError as e:
        print(f"hostsim: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
