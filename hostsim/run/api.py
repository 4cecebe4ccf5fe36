"""The Python front door: simulate a host under a case and read the run back.

``simulate(host, case)`` runs the same path as ``hostsim simulate`` (the run pipeline's
:func:`~hostsim.run.pipeline.run_hosts`: checkpoints, snapshots, the summary and time series on
disk) and returns the run read back from its folder, the object :func:`load_run` returns for
any run folder."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from hostsim.errors import InputError
from hostsim.run.case import Case, load_case, parse_case
from hostsim.run.host import host_fields
from hostsim.run.protocol import Protocol
from hostsim.run.results import RunResult, load_run


def default_case() -> Case:
    """The built-in default case (LP30, default kinetics, a 1 mAh/cm² plate at 1 mA/cm²)."""
    return parse_case({}, "built-in default")


def as_case(case) -> Case:
    """A :class:`Case` from a case, a case file's path, a :class:`Protocol` (the default case
    with that protocol) or ``None`` (the default case)."""
    if case is None:
        return default_case()
    if isinstance(case, Case):
        return case
    if isinstance(case, Protocol):
        return dataclasses.replace(default_case(), protocol=case, source="a Protocol")
    if isinstance(case, (str, Path)):
        return load_case(case)
    raise InputError(f"simulate: case: expected a Case, a case file's path, a Protocol or None; got {type(case).__name__}")


def simulate(host, case=None, *, out=None, name: str = "host", resume: bool = False, progress=None) -> RunResult:
    """Run ``case``'s protocol on ``host`` and return the run (summary, time series, snapshots,
    final fields: :class:`~hostsim.run.results.RunResult`), through the path ``hostsim simulate``
    takes (:func:`~hostsim.run.pipeline.run_hosts`).

    ``host``: a :class:`Host` or a family (``geometries.make_family(...)``). ``case``: see
    :func:`as_case`. ``out``: the run folder (default: a new temporary folder, kept); with
    ``resume`` an interrupted run in ``out`` continues from its checkpoint. A case given as a file
    is stored in ``out`` as ``case.toml``, as the command stores it; a case given as an object
    is not, so such a run resumes through this function, not the command.
    ``progress(name, done_s, total_s, segment, elapsed_s)``: called between chunks (protocol time
    done and in all, wall time [s]); raising in it stops the run there, checkpoint kept."""
    from hostsim.run.pipeline import prepare_output, run_hosts

    case_file = Path(case) if isinstance(case, (str, Path)) else None
    fields, case = host_fields(host), as_case(case)
    precision = case.numerics.precision
    # a case that states its precision must match the host's; one that does not runs in the host's
    if "precision" in case.numerics.model_fields_set and np.dtype(precision) != np.dtype(fields.grid.dtype):
        raise InputError(f"{case.source}: [numerics] precision = {precision!r}, but the host's fields are "
                         f"{np.dtype(fields.grid.dtype).name}: build the host in that precision")
    if resume and out is None:
        raise InputError("simulate: resume=True needs out=, the folder of the run to continue")
    folder = Path(tempfile.mkdtemp(prefix="hostsim_")) if out is None else Path(out)
    # a case file is stored with the run, as the command stores it (a resume or a report reads it)
    folder = prepare_output(folder, None if resume else case_file, resume=resume)
    run_hosts(folder, [(name, fields)], case, resume=resume, progress=progress)
    return load_run(folder)[name]
