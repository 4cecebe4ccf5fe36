"""Batch runs: a sweep is a base case plus axes; every member is an ordinary run of the pipeline
(:mod:`hostsim.run.pipeline`) with ordinary outputs, and the members' summaries merge into one
table.

A sweep file is a case file with one more section::

    [sweep]
    mode = "grid"                 # grid: every combination of the axes; zip: the axes taken together
    [sweep.axes]                  # dotted paths into the case, each a list of values
    "geometry.porosity" = [0.6, 0.7, 0.8]
    "geometry.seed" = [0, 1]
    "protocol.segment.0.current_mA_cm2" = [1.0, 2.0]
    "electrolyte.name" = ["lp30", "lp40"]
    "kinetics.exchange_current_density_mA_cm2" = [0.5, 1.0]
    # imported volumes: "geometry.file" = ["a.vti", "b.tif"]

* :func:`parse_sweep` validates the sweep *and every member's case* before any run (a bad value
  in one member is one line naming the member and the key, exit code 2);
* :func:`run_batch` runs the members into ``DIR/members/<key>/`` (``key``: a hash of the
  member's resolved case, so a resume, or a sweep that grew, skips what is already done), writes
  ``results.csv`` and ``results.parquet`` after every member, and never lets one member's failure
  stop the others;
* the host of a member comes from a callable the caller passes (``geometries.case_hosts`` for the
  CLI): the engine never builds hosts itself.

Members share compiled programs: in one process the second member with the same grid shape and
static settings reuses the first one's compilation (and the persistent cache across processes).
When the process holds more than half the kernel's memory mappings (each live XLA CPU program
holds ~17), every compiled program is released (:func:`hostsim.run.programs.release_programs`):
a sweep over many grid shapes would otherwise end in a segfault inside XLA.
"""

from __future__ import annotations

import abc
import copy
import csv
import dataclasses
import hashlib
import itertools
import json
import threading
import time
from pathlib import Path
from typing import Annotated, Callable, Literal

import numpy as np
from pydantic import Field, PlainValidator, ValidationError

from hostsim.errors import InputError
from hostsim.run.case import Case, case_directory, parse_case
from hostsim.run.config import Section, choice, input_error, refuse
from hostsim.run.io import write_json

MAX_MEMBERS = 100000
AXIS_SECTIONS = ("geometry", "electrolyte", "kinetics", "protocol", "cell", "numerics", "coating", "separator")


@dataclasses.dataclass(frozen=True)
class Member:
    index: int
    key: str  # hash of the resolved case (16 hex digits)
    parameters: dict  # axis path -> value
    data: dict  # the member's case, as TOML data
    case: Case


@dataclasses.dataclass(frozen=True)
class Sweep:
    source: str
    mode: str
    axes: dict  # path -> list of values
    members: tuple


def _set_path(data: dict, path: str, value, source: str) -> None:
    """Set ``a.b.0.c`` in nested TOML data (numbers index arrays of tables, which must exist)."""
    parts = path.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(f"{source}: [sweep.axes] {path!r}: the base case has no item {part} at "
                                 f"{'.'.join(parts[:i]) or 'the top'}")
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise InputError(f"{source}: [sweep.axes] {path!r}: {'.'.join(parts[:i])} is not a table")
        if part not in node:
            if nxt.isdigit():
                raise InputError(f"{source}: [sweep.axes] {path!r}: the base case has no {'.'.join(parts[:i + 1])} "
                                 f"list to index")
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise InputError(f"{source}: [sweep.axes] {path!r}: no item {last}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise InputError(f"{source}: [sweep.axes] {path!r}: {'.'.join(parts[:-1])} is not a table")


def member_key(data: dict) -> str:
    """A stable hash of a member's resolved case (key order does not matter)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _axes(axes):
    if not isinstance(axes, dict) or not axes:
        raise refuse("give at least one axis (\"section.key\" = [values])", table=True)
    for path, values in axes.items():
        if path.split(".")[0] not in AXIS_SECTIONS:
            raise refuse("an axis is a path into geometry, electrolyte, kinetics, protocol, cell, numerics, coating "
                         "or separator",
                         key=repr(path))
        if not isinstance(values, list) or not values:
            raise refuse(f"expected a non-empty list of values; got {values!r}", key=repr(path))
    return axes


class SweepSection(Section):
    """``[sweep]`` of a sweep file: how the axes combine, and the axes (dotted path -> values)."""

    mode: Annotated[Literal["grid", "zip"], choice(("grid", "zip"), 'expected "grid" or "zip"')] = "grid"
    # validate_default: a sweep without axes is refused by the axes' own check
    axes: Annotated[dict[str, list], PlainValidator(_axes)] = Field(None, validate_default=True)

    @classmethod
    def unknown_keys(cls, bad: list) -> str:
        # the sweep's wording: no colon after [sweep], the keys in their declared order
        return f" unknown key(s) {', '.join(bad)}; allowed: {', '.join(cls.model_fields)}"


def parse_sweep(data: dict, source: str = "sweep", validate_host: Callable | None = None) -> Sweep:
    """The sweep's members, each with a validated case. ``validate_host(case)`` (optional) checks a
    member's ``[geometry]`` cheaply (no fields built) and raises :class:`InputError`."""
    data = copy.deepcopy(dict(data))
    sweep = data.pop("sweep", None)
    if not isinstance(sweep, dict):
        raise InputError(f"{source}: no [sweep] section (give [sweep.axes] with at least one axis)")
    try:
        sweep = SweepSection.model_validate(sweep)
    except ValidationError as e:
        raise input_error(e, SweepSection, f"{source}:", root="sweep") from None
    mode, axes = sweep.mode, sweep.axes
    names = list(axes)
    if mode == "zip":
        lengths = {len(v) for v in axes.values()}
        if len(lengths) != 1:
            raise InputError(f"{source}: [sweep] mode = \"zip\" needs axes of equal length; got "
                             f"{', '.join(f'{n}: {len(axes[n])}' for n in names)}")
        combos = list(zip(*(axes[n] for n in names)))
    else:
        count = 1
        for n in names:
            count *= len(axes[n])
        if count > MAX_MEMBERS:
            raise InputError(f"{source}: the sweep has {count} members (at most {MAX_MEMBERS})")
        combos = list(itertools.product(*(axes[n] for n in names)))
    members, seen = [], {}
    for index, combo in enumerate(combos):
        member = copy.deepcopy(data)
        params = dict(zip(names, combo))
        for path, value in params.items():
            _set_path(member, path, value, source)
        where = f"{source} member {index} ({', '.join(f'{k} = {v!r}' for k, v in params.items())})"
        case = parse_case(copy.deepcopy(member), where, base=case_directory(source))
        if validate_host is not None:
            try:
                validate_host(case)
            except InputError as e:
                raise InputError(f"{where}: {e}") from None
        key = member_key(member)
        if key in seen:
            raise InputError(f"{where}: the same case as member {seen[key]} (repeated axis values)")
        seen[key] = index
        members.append(Member(index, key, params, member, case))
    return Sweep(source, mode, dict(axes), tuple(members))


def _flat(value):
    return value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value)


def member_rows(out: Path, member: Member) -> list | None:
    """The table rows of a finished member (one per host), or None while it has not finished."""
    folder = out / "members" / member.key
    base = {"member": member.index, "key": member.key, **{k: _flat(v) for k, v in member.parameters.items()}}
    failed = folder / "failed.json"
    if failed.exists():
        f = json.loads(failed.read_text())
        return [{**base, "host": None, "status": "failed", "message": f["message"], "member_wall_time_s": f["wall_time_s"]}]
    done = folder / "summary.json"
    if not done.exists():
        return None
    summaries = json.loads(done.read_text())
    wall = json.loads((folder / "member.json").read_text()).get("wall_time_s")
    rows = []
    for host, s in summaries.items():
        status = "completed" if s.get("message") == "completed" else "stopped"
        rows.append({**base, "host": host, "status": status, "message": s.get("message"), "member_wall_time_s": wall,
                     **{k: _flat(v) for k, v in s.items() if k not in ("message", "name")}})
    return rows


def write_table(out: Path, rows: list) -> None:
    """``results.csv`` and ``results.parquet`` (pyarrow), columns in first-seen order, written
    atomically (a kill never leaves half a table)."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    tmp = out / f"results.{os.getpid()}.tmp.csv"  # processes of one batch each write their own
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in columns})
    os.replace(tmp, out / "results.csv")
    table = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        kinds = {type(v) for v in values if v is not None}
        if kinds <= {int, float} and kinds:
            values = [None if v is None else float(v) for v in values] if float in kinds else values
        elif len(kinds) > 1:
            values = [None if v is None else str(v) for v in values]
        table[c] = values
    tmp = out / f"results.{os.getpid()}.tmp.parquet"
    pq.write_table(pa.table(table), tmp)
    os.replace(tmp, out / "results.parquet")


class AbstractSchedule(abc.ABC):
    """How a batch runs its pending members: ``run(batch, members)`` runs each (reporting each
    finished member through ``batch.finished``)."""

    @abc.abstractmethod
    def run(self, batch: "_Batch", members: list) -> None:
        """Run ``members`` (none of them finished before)."""


@dataclasses.dataclass(frozen=True)
class _Batch:
    """What every schedule needs of the batch it runs."""

    out: Path
    hosts_of: Callable
    resume: bool
    max_frames: int
    finished: Callable  # finished(member, status)

    def run_alone(self, member, stop=None) -> None:
        from hostsim.run.programs import release_programs

        self.finished(member, _run_member(self.out, member, self.hosts_of, self.resume, self.max_frames, stop=stop))
        release_programs(when_over=0.5)  # a sweep over many shapes must not run out of mappings


@dataclasses.dataclass(frozen=True)
class OneByOne(AbstractSchedule):
    """Members run one after another, each its own call of the (shared) compiled program. The
    default on a single CPU device: there ``vmap``-ped members ran slower than one after another
    (the 82k-cell step already keeps both cores busy; docs/batch.md: members together)."""

    def run(self, batch, members) -> None:
        for member in members:
            batch.run_alone(member)


@dataclasses.dataclass(frozen=True)
class Concurrent(AbstractSchedule):
    """Members run as ordinary runs, ``workers`` at a time, each in a thread of this process
    (the compiled programs are shared; XLA runs each call with the GIL released). The default on
    a single CPU device: two default-skeleton members at once ran 1.30x as fast as one after
    the other on 2 cores, with bit-identical results (one plating step leaves the cores partly
    idle: its Newton and PCG loops are short). Ctrl-C stops every running member at its next
    chunk, each keeping its checkpoint."""

    workers: int = 2

    def __post_init__(self):
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"Concurrent.workers must be an integer >= 1; got {self.workers!r}")

    def run(self, batch, members) -> None:
        if self.workers < 2 or len(members) < 2:
            return OneByOne().run(batch, members)
        from hostsim.run.concurrency import run_in_threads

        # Ctrl-C stops the running members at their next chunk, each keeping its checkpoint
        run_in_threads(members, lambda member, stop: batch.run_alone(member, stop), self.workers)


@dataclasses.dataclass(frozen=True)
class Together(AbstractSchedule):
    """Members of one grid and static settings run as one ``vmap``-ped program (each with its own steps)
    (:func:`hostsim.run.pipeline.run_members`), at most ``max_members`` and at most a quarter of
    the free memory at a time (:data:`MEMBER_BYTES_PER_VOXEL`); ``mesh`` (a 1-D mesh,
    :func:`hostsim.numerics.sharding.member_mesh`) splits them over its devices (a chunk is
    then a multiple of the device count, or runs one by one). The default on accelerators and
    with several local devices. A chunk that raises runs again one member at a time, so a
    failing member still gets its own row."""

    max_members: int = 64
    mesh: object = None

    def run(self, batch, members) -> None:
        from hostsim.run.programs import release_programs

        for chunk in _together_chunks(members, batch.hosts_of, self):
            if len(chunk) == 1:
                batch.run_alone(chunk[0][0])
                continue
            statuses = _run_together(batch.out, chunk, batch.resume, batch.max_frames, self.mesh)
            if statuses is None:  # the chunk failed: each member again, alone
                statuses = [_run_member(batch.out, member, batch.hosts_of, batch.resume, batch.max_frames)
                            for member, _, _ in chunk]
            for (member, _, _), status in zip(chunk, statuses):
                batch.finished(member, status)
            release_programs(when_over=0.5)


# memory of one member during a plating step: XLA's analysis of one compiled step, float32
# (scripts/bench_memory.py: 521 B per voxel on one device); float64 doubles it
MEMBER_BYTES_PER_VOXEL = 521


def default_schedule():
    """:class:`Together` over every local device on accelerators or with several devices,
    :class:`Concurrent` on a single CPU device."""
    import jax

    local = jax.local_devices()
    if len(local) > 1:
        from hostsim.numerics.sharding import member_mesh

        return Together(mesh=member_mesh(local))
    return Concurrent() if local[0].platform == "cpu" else Together()


def run_batch(sweep: Sweep, out, hosts_of: Callable, *, resume: bool = False, max_frames: int = 2,
              share: tuple = (0, 1), progress: Callable | None = None, schedule=None) -> list:
    """Run the sweep's members into ``out/members/<key>/``; returns the table rows (all finished
    members, also those another process ran). ``hosts_of(case) -> [(name, host)]``.

    ``share = (process_id, num_processes)``: this process runs members ``index % n == id``
    (multi-process batches; any process can merge the table at the end). With ``resume`` a member
    that has finished (or failed) is skipped and an interrupted one continues from its checkpoint.
    ``schedule``: an :class:`AbstractSchedule` (:class:`OneByOne`, :class:`Concurrent`,
    :class:`Together`; default :func:`default_schedule`).
    ``progress(done, total, member, row_status, elapsed_s, eta_s)`` after each member."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "members").mkdir(exist_ok=True)
    schedule = default_schedule() if schedule is None else schedule
    pid, count = share
    mine = [m for m in sweep.members if m.index % count == pid]
    started = time.perf_counter()
    state = {"done": 0, "ran": 0}
    lock = threading.Lock()  # members finishing in several threads (Concurrent) update the table one at a time

    def finished_member(member, status):
        with lock:
            state["done"] += 1
            state["ran"] += status != "skipped"
            write_table(out, collect(out, sweep))
            if progress is not None:
                elapsed = time.perf_counter() - started
                eta = elapsed / state["ran"] * (len(mine) - state["done"]) if state["ran"] else float("nan")
                progress(state["done"], len(mine), member, status, elapsed, eta)

    pending = []
    for member in mine:
        if resume and member_rows(out, member) is not None:
            finished_member(member, "skipped")
        else:
            pending.append(member)
    schedule.run(_Batch(out, hosts_of, resume, max_frames, finished_member), pending)
    rows = collect(out, sweep)
    write_table(out, rows)
    return rows


def _start_member(out: Path, member: Member, resume: bool) -> tuple:
    """The member's folder, ready for a run (``again``: it continues an interrupted one)."""
    from hostsim.run.pipeline import prepare_output

    folder = out / "members" / member.key
    again = resume and folder.is_dir()
    folder = prepare_output(folder, resume=again)
    (folder / "failed.json").unlink(missing_ok=True)
    write_json(folder / "member.json", {"index": member.index, "key": member.key,
                                        "parameters": member.parameters, "case": member.data}, default=str)
    return folder, again


def _finish_member(folder: Path, seconds: float) -> None:
    record = json.loads((folder / "member.json").read_text())
    record["wall_time_s"] = seconds
    write_json(folder / "member.json", record, default=str)


def _run_member(out: Path, member: Member, hosts_of: Callable, resume: bool, max_frames: int,
                stop: threading.Event | None = None) -> str:
    """One member as an ordinary run; its failure is its row, never the batch's end. ``stop``
    (set from another thread) interrupts it at its next chunk, its checkpoint kept."""
    from hostsim.run.concurrency import stop_check
    from hostsim.run.pipeline import Interrupted, run_hosts

    folder, again = _start_member(out, member, resume)
    t0 = time.perf_counter()
    try:
        run_hosts(folder, hosts_of(member.case), member.case, resume=again, max_frames=max_frames,
                  progress=stop_check(stop))
        status = "completed"
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted("interrupted") from None
    except Exception as e:  # one member's failure is its row, never the batch's end
        message = str(e).strip().splitlines()[0][:500] if str(e).strip() else type(e).__name__
        write_json(folder / "failed.json", {"message": f"{type(e).__name__}: {message}",
                                            "wall_time_s": time.perf_counter() - t0})
        status = "failed"
    _finish_member(folder, time.perf_counter() - t0)
    return status


def _together_chunks(members: list, hosts_of: Callable, schedule: Together) -> list:
    """Members grouped by what one ``vmap``-ped program needs to share (grid and static settings;
    each member takes its own adaptive steps), in chunks of ``(member, host name, fields)``; a
    member that cannot join one (several hosts, a split grid, a host that fails to build) is a
    chunk of its own, ``(member, None, None)``, run alone."""

    groups: dict = {}
    alone = []
    for member in members:
        case = member.case
        try:
            hosts = hosts_of(case)
            if len(hosts) != 1 or case.numerics.devices != 1:
                raise ValueError("not batchable")
            name, host = hosts[0]
            fields = host.fields() if hasattr(host, "fields") else host
        except Exception:  # noqa: BLE001 - run alone: the ordinary path reports any failure
            alone.append([(member, None, None)])
            continue
        statics = json.dumps({k: v for k, v in member.data.items() if k != "geometry"}, sort_keys=True, default=str)
        key = (fields.grid, fields.collector_layers, fields.host_top, name, statics)
        groups.setdefault(key, []).append((member, name, fields))
    import math

    chunks = []
    for (grid, *_), group in groups.items():
        itemsize = np.dtype(grid.dtype).itemsize
        fits = max(1, _free_memory() // 4 // (MEMBER_BYTES_PER_VOXEL * itemsize // 4 * math.prod(grid.shape)))
        size = max(1, min(schedule.max_members, fits))
        devices = 1 if schedule.mesh is None else schedule.mesh.size
        if devices > 1:
            size = max(devices, size // devices * devices)
        for i in range(0, len(group), size):
            part = group[i:i + size]
            if len(part) % devices:  # not a multiple of the devices: these run alone
                chunks.extend([p] for p in part)
            else:
                chunks.append(part)
    return chunks + alone


def _free_memory() -> int:
    from hostsim.transport.effective import _available_memory

    return _available_memory()


def _run_together(out: Path, chunk: list, resume: bool, max_frames: int, mesh) -> list | None:
    """A chunk of ``(member, host name, fields)`` as one ``vmap``-ped run; the members' statuses,
    or None when the run raised (each member then runs alone)."""
    from hostsim.run.pipeline import Interrupted, run_members

    started = [_start_member(out, member, resume) for member, _, _ in chunk]
    folders = [folder for folder, _ in started]
    t0 = time.perf_counter()
    try:
        results = run_members(folders, chunk[0][1], [f for _, _, f in chunk], chunk[0][0].case,
                              resume=any(again for _, again in started), max_frames=max_frames, mesh=mesh)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted("interrupted") from None
    except Exception:  # noqa: BLE001 - run them alone: the failing member gets its own row
        return None
    seconds = (time.perf_counter() - t0) / len(chunk)
    for folder, result in zip(folders, results):
        write_json(folder / "summary.json", {result.name: result.summary})
        _finish_member(folder, seconds)
    return ["completed"] * len(chunk)


def collect(out: Path, sweep: Sweep) -> list:
    """Rows of every finished member, in member order."""
    rows = []
    for m in sweep.members:
        r = member_rows(Path(out), m)
        if r is not None:
            rows.extend(r)
    return rows


__all__ = ["AbstractSchedule", "Concurrent", "Member", "OneByOne", "Sweep", "Together", "collect", "default_schedule", "member_key", "member_rows", "parse_sweep", "run_batch", "write_table"]
