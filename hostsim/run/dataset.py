"""Runs, batches and designs as :class:`xarray.Dataset` (docs/outputs.md, "Runs as xarray datasets").

:func:`open_dataset` reads any folder hostsim writes and says which it is from its files:

* a **run** folder (``hostsim simulate``, :func:`hostsim.simulate`): one host's dataset
  (:func:`run_dataset`, also ``RunResult.to_dataset()``). The time series on ``time_s`` [s], with
  ``segment``, ``cycle`` and ``capacity_mAh_cm2`` as coordinates along it; the snapshot frames of
  ``NAME_fields.pvd`` on ``(frame, x, y, z)`` (cell centres in µm), with ``frame_time_s`` [s]; the
  summary in ``attrs``. A run of several hosts (the default case: a foil and a skeleton) is opened
  one host at a time (``host=``): the hosts have their own time steps and often their own grids,
  so a shared ``host`` axis would be mostly padding.
* a **batch** folder (``hostsim batch``): the results table on ``member`` (and ``host`` when a
  member ran several), the swept parameters as coordinates along ``member`` (:func:`batch_dataset`).
* a **design** folder (``hostsim design``): ``log.jsonl`` on ``iteration`` (and ``start`` when
  several starts ran together), the design frames ``s, k, l`` on ``(iteration, x, y, z)`` and
  ``design.json`` in ``attrs`` (:func:`design_dataset`).

Attributes keep the files' keys (units in the names); numbers and strings stay as they are,
everything else (lists, tables, booleans, null) is JSON text, so every dataset can be written to
netCDF (``ds.to_netcdf``) and ``json.loads(ds.attrs[key])`` gives the value back.

Frames are lazy: opening reads the ``.pvd`` and the XML tags of one frame (names, dtypes, grid),
never the arrays; each ``.vti`` array is read when its values are asked for, one frame and one
field at a time (xarray's backend-array protocol, no dask). xarray is imported on first use: it
brings pandas, ~0.8 s that ``import hostsim`` (and every CLI command) would otherwise pay. The
``ds.hostsim`` plots (:class:`HostsimAccessor`) are registered at that first use too (at import
when xarray is already loaded; :func:`register_accessor` for a dataset read back from netCDF).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

from hostsim.errors import InputError
from hostsim.run.results import RunResult, _read_pvd, _read_series, load_run, read_snapshot

# unit suffixes of hostsim's names (docs/outputs.md), longest first so that _A_m2 wins over _m2
_UNIT_SUFFIXES = (("_mAh_cm2", "mAh/cm^2"), ("_mg_cm2", "mg/cm^2"), ("_mol_m3", "mol/m^3"), ("_A_m2", "A/m^2"),
                  ("_m2", "m^2"), ("_um", "um"), ("_mV", "mV"), ("_V", "V"), ("_A", "A"), ("_C", "C"),
                  ("_s", "s"), ("_m", "m"))
# cell arrays whose names carry no unit: the fractions of docs/outputs.md and the design's s, k, l
_LONG_NAMES = {"solid_fraction": "host solid fraction s", "conducting": "conducting share k of the solid",
               "lithiophilicity": "lithiophilicity l", "li_fraction": "Li metal fraction theta",
               "s": "host solid fraction s", "k": "conducting share k of the solid", "l": "lithiophilicity l"}
_DIMENSIONLESS = ("solid_fraction", "conducting", "lithiophilicity", "li_fraction", "s", "k", "l")
_VTK_DTYPES = {b"Float32": "float32", b"Float64": "float64", b"Int8": "int8", b"UInt8": "uint8", b"Int16": "int16",
               b"UInt16": "uint16", b"Int32": "int32", b"UInt32": "uint32", b"Int64": "int64", b"UInt64": "uint64"}
_TAG = re.compile(rb"<(/?)(ImageData|CellData|DataArray|AppendedData)\b([^>]*)>")
_TAG_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_REGISTERED = []


def _xr():
    """xarray, imported here (not at ``import hostsim``), with the ``ds.hostsim`` accessor registered once."""
    import xarray as xr

    if not _REGISTERED:
        xr.register_dataset_accessor("hostsim")(HostsimAccessor)
        _REGISTERED.append(True)
    return xr


def register_accessor() -> None:
    """Register the ``ds.hostsim`` plots (:class:`HostsimAccessor`) with xarray. :func:`open_dataset`
    does it; call it before ``xarray.open_dataset("run.nc").hostsim`` in a process that has not."""
    _xr()


def units_of(name: str) -> str | None:
    """The unit a hostsim name carries in its suffix (``voltage_V`` -> ``"V"``,
    ``capacity_mAh_cm2`` -> ``"mAh/cm^2"``); ``"1"`` for the fractions; None for counts and ratios."""
    if name in _DIMENSIONLESS:
        return "1"
    return next((unit for suffix, unit in _UNIT_SUFFIXES if name.endswith(suffix) and len(name) > len(suffix)), None)


def _var_attrs(name: str) -> dict:
    unit, long_name = units_of(name), _LONG_NAMES.get(name)
    return {**({"units": unit} if unit else {}), **({"long_name": long_name} if long_name else {})}


def _attr_value(value):
    """A value netCDF can store as an attribute: numbers and strings as they are, the rest as JSON text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    return json.dumps(value, default=str)


def _attrs(record: dict, **extra) -> dict:
    """``record``'s keys (units in the names) as attributes, then hostsim's own (``hostsim_kind``, ...)."""
    return {**{str(k): _attr_value(v) for k, v in record.items()},
            **{f"hostsim_{k}": _attr_value(v) for k, v in extra.items()}}


def _vti_tags(fh, block: int = 1 << 20):
    """The start and end tags of an XML ``.vti`` read in blocks (inline arrays can be large)."""
    tail = b""
    while True:
        chunk = fh.read(block)
        text = tail + chunk
        cut = text.rfind(b"<")
        # a tag cut by the block's end waits for the next block; data between tags never holds '<'
        if chunk and cut > text.rfind(b">"):
            text, tail = text[:cut], text[cut:]
        else:
            tail = b""
        yield from (m.groups() for m in _TAG.finditer(text))
        if not chunk:
            return


def _vti_layout(path: Path):
    """``(cells per axis, spacing [m], [(name, dtype, components)])`` of a ``.vti`` from its XML tags
    alone: opening a run must not decode its frames."""
    shape, spacing, arrays, in_cells = None, None, [], False
    try:
        with open(path, "rb") as fh:
            for closing, tag, raw in _vti_tags(fh):
                attrs = dict(_TAG_ATTR.findall(raw))
                if tag == b"ImageData" and not closing:
                    extent = [int(v) for v in attrs[b"WholeExtent"].split()]
                    shape = tuple(max(extent[2 * i + 1] - extent[2 * i], 1) for i in range(3))
                    spacing = tuple(float(v) for v in attrs.get(b"Spacing", b"1 1 1").split())
                elif tag == b"CellData":
                    in_cells = not closing
                    if closing:
                        break
                elif tag == b"AppendedData":
                    break
                elif in_cells and not closing and attrs.get(b"type") in _VTK_DTYPES:
                    arrays.append((attrs[b"Name"].decode(), np.dtype(_VTK_DTYPES[attrs[b"type"]]),
                                   int(attrs.get(b"NumberOfComponents", b"1"))))
    except (OSError, KeyError, ValueError, IndexError) as e:
        raise InputError(f"{path}: cannot read the snapshot's header: {type(e).__name__}: {e}") from None
    if shape is None or not arrays:
        raise InputError(f"{path}: not a VTK ImageData file with cell arrays")
    return shape, spacing, arrays


def _read_frame(path: Path, name: str) -> np.ndarray:
    """One cell array of one ``.vti`` (only that array is decoded), ``[x, y, z]`` or ``[n, x, y, z]``."""
    return read_snapshot(path, fields=[name])[0][name]


def _outer(a: np.ndarray, key: tuple) -> np.ndarray:
    """Outer (orthogonal) indexing of ``a``: each int, slice or 1-D integer array applies to its own
    axis (numpy would broadcast two arrays together instead)."""
    for axis, k in enumerate(key):  # arrays first, each keeps its axis, so the axis numbers hold
        if isinstance(k, np.ndarray):
            a = np.take(a, k, axis=axis)
    return a[tuple(slice(None) if isinstance(k, np.ndarray) else k for k in key)]


def _frame_array_class():
    """The lazy array of one field over a series of frames, made at first use (its base class is
    xarray's) and kept as ``_FrameArray``, where pickle finds it (see the module's ``__getattr__``)."""
    if "_FrameArray" in globals():
        return globals()["_FrameArray"]
    from xarray.backends import BackendArray
    from xarray.core import indexing

    class _FrameArray(BackendArray):
        """Field ``name`` of the frames ``paths`` (None: a frame not written, read as NaN)."""

        def __init__(self, paths, name, frame_shape, dtype):
            self.paths, self.name = list(paths), name
            self.shape = (len(self.paths),) + tuple(frame_shape)
            # a missing frame reads as NaN, which an integer array cannot hold
            self.dtype = np.dtype(dtype) if all(self.paths) else np.result_type(dtype, np.float32)

        def __getitem__(self, key):
            # outer indexing (ints, slices, integer lists per axis) reaches _raw, so isel(frame=[0, -1])
            # reads two frames, not the range between them; xarray applies a vectorised index to its result
            return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._raw)

        def _raw(self, key):
            frames, rest = key[0], tuple(key[1:])
            if isinstance(frames, (int, np.integer)):
                return _outer(self._frame(int(frames)), rest)
            wanted = range(self.shape[0])[frames] if isinstance(frames, slice) else [int(i) for i in frames]
            parts = [_outer(self._frame(i), rest) for i in wanted]
            if not parts:
                return np.empty((0,) + _outer(np.empty(self.shape[1:], self.dtype), rest).shape, self.dtype)
            return np.stack(parts)

        def _frame(self, i):
            if self.paths[i] is None:
                return np.full(self.shape[1:], np.nan, self.dtype)
            a = np.asarray(_read_frame(self.paths[i], self.name))
            if a.shape != self.shape[1:]:
                raise InputError(f"{self.paths[i]}: {self.name!r} has shape {a.shape}, the first frame "
                                 f"{self.shape[1:]}: frames of one series must share their grid")
            return a.astype(self.dtype, copy=False)

    _FrameArray.__module__, _FrameArray.__qualname__ = __name__, "_FrameArray"
    globals()["_FrameArray"] = _FrameArray
    return _FrameArray


def __getattr__(name):
    # a pickled dataset's lazy arrays name hostsim.run.dataset._FrameArray: make it on demand
    if name == "_FrameArray":
        return _frame_array_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def frame_variables(paths: list, dim: str) -> tuple:
    """Lazy variables on ``(dim, x, y, z)`` for the cell arrays of the ``.vti`` files ``paths``
    (None: no frame there, NaN), and the cell-centre coordinates ``x, y, z`` [µm]. Vector arrays get
    a ``component`` axis after ``dim``. Returns ``(variables, coordinates)``."""
    xr = _xr()
    from hostsim.run.snapshots import UNITS

    first = next((p for p in paths if p is not None), None)
    if first is None:
        return {}, {}
    shape, spacing, arrays = _vti_layout(Path(first))
    from xarray.core.indexing import LazilyIndexedArray

    FrameArray = _frame_array_class()
    variables = {}
    for name, dtype, components in arrays:
        vector = ("component",) if components > 1 else ()
        frame_shape = ((components,) if vector else ()) + shape
        attrs = _var_attrs(name)
        if name in UNITS and UNITS[name] != "-":  # the writer's own units (docs/outputs.md)
            attrs["units"] = UNITS[name]
        variables[name] = xr.Variable((dim,) + vector + ("x", "y", "z"),
                                      LazilyIndexedArray(FrameArray(paths, name, frame_shape, dtype)), attrs)
    coords = {axis: (axis, (np.arange(n) + 0.5) * h * 1e6, {"units": "um", "long_name": f"cell centre {axis}"})
              for axis, n, h in zip("xyz", shape, spacing)}
    return variables, coords


def run_dataset(run: RunResult):
    """One host of a run (:class:`~hostsim.run.results.RunResult`) as an :class:`xarray.Dataset`.

    Time series (``NAME_timeseries.csv``): every column on ``time_s`` [s] (one row per segment start
    and accepted step, so a segment's first row shares its time with the previous one's last:
    ``ds.drop_duplicates("time_s", keep="last")`` for a unique index), with ``segment``, ``cycle``
    (from 0) and ``capacity_mAh_cm2`` as coordinates along it. Snapshots (``NAME_fields.pvd``): every
    cell array lazily on ``(frame, x, y, z)``, coordinates ``frame_time_s`` [s],
    ``frame_capacity_mAh_cm2`` (the series interpolated to the frame) and ``x, y, z`` [µm]. Attributes:
    the summary (``NAME_summary.json``) and ``hostsim_kind = "run"``, ``hostsim_host``,
    ``hostsim_directory``."""
    xr = _xr()
    series = {k: np.asarray(v, np.float64) for k, v in run.series.items()}
    time = series.pop("time_s")
    coords = {"time_s": ("time_s", time, {"units": "s", "long_name": "time since the run's start"})}
    for name in ("segment", "cycle"):  # counted from 0; integers so that groupby("cycle") reads as it should
        if name in series:
            coords[name] = ("time_s", series.pop(name).astype(np.int64))
    capacity = series.pop("capacity_mAh_cm2", None)
    if capacity is not None:
        coords["capacity_mAh_cm2"] = ("time_s", capacity, _var_attrs("capacity_mAh_cm2"))
    data = {name: ("time_s", values, _var_attrs(name)) for name, values in series.items()}
    if run.snapshots:
        times = np.array([t for t, _ in run.snapshots], np.float64)
        fields, space = frame_variables([p for _, p in run.snapshots], "frame")
        data.update(fields)
        coords.update(space, frame=np.arange(len(times)),
                      frame_time_s=("frame", times, {"units": "s", "long_name": "time of the snapshot"}))
        if capacity is not None and len(time):
            coords["frame_capacity_mAh_cm2"] = ("frame", np.interp(times, time, capacity), {"units": "mAh/cm^2"})
    attrs = _attrs(run.summary, kind="run", host=run.name, directory=str(Path(run.directory).resolve()))
    return xr.Dataset(data, coords, attrs)


def _read_log(path: Path) -> list[dict]:
    """The rows of a design's ``log.jsonl`` (one JSON object a line)."""
    rows = []
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: line {lineno} is not valid JSON ({e.msg})") from None
        if not isinstance(row, dict) or "iteration" not in row:
            raise InputError(f"{path}: line {lineno} is not a log row (a JSON object with 'iteration')")
        rows.append(row)
    return rows


def _log_variables(rows: list, iterations: list, starts: list) -> dict:
    """Every log column on ``iteration`` (and ``start``): numbers as float (NaN where absent, e.g.
    ``relative_change`` at the first row), lists and strings as text (lists as JSON, ``""`` where absent)."""
    xr = _xr()
    at_iteration = {it: n for n, it in enumerate(iterations)}
    at_start = {s: n for n, s in enumerate(starts)}
    shape = (len(iterations),) + ((len(starts),) if starts else ())
    dims = ("iteration", "start")[:len(shape)]
    columns = dict.fromkeys(k for row in rows for k in row if k not in ("iteration", "start"))
    variables = {}
    for name in columns:
        text = any(isinstance(row.get(name), (str, list, dict)) for row in rows)
        values = np.full(shape, "", object) if text else np.full(shape, np.nan)
        for row in rows:
            where = (at_iteration[int(row["iteration"])],) + ((at_start[int(row["start"])],) if starts else ())
            v = row.get(name)
            if v is not None:
                values[where] = (v if isinstance(v, str) else json.dumps(v)) if text else float(v)
        variables[name] = xr.Variable(dims, values, _var_attrs(name))
    return variables


def _frame_starts(rows: list, iterations: list) -> np.ndarray:
    """Which start each design frame shows: the loop writes frame ``i + 1`` from the start with the
    lowest objective at iteration ``i`` (the first on a tie, as its ``min``); frame 0 is start 0, the
    study file's start design; -1 where iteration ``i`` has no rows."""
    best = {}
    for row in rows:
        it, value = int(row["iteration"]), row.get("objective")
        if value is not None and (it not in best or value < best[it][0]):
            best[it] = (value, int(row.get("start", 0)))
    return np.array([0 if i == 0 else best.get(i - 1, (None, -1))[1] for i in iterations], np.int64)


def design_dataset(directory):
    """A design folder (``hostsim design``) as an :class:`xarray.Dataset`.

    ``log.jsonl``: every column on ``iteration`` (and ``start``, the start's index from 0, when
    several starts ran together): ``objective``, the design terms (units in their names),
    ``gradient_norm``, ``projected_gradient_norm``, ``relative_change``, ``step_s`` [s], ...
    ``design.pvd``: the design frames ``s, k, l`` lazily on ``(iteration, x, y, z)`` ([µm] cell
    centres). Frame ``i`` is the design whose terms row ``i`` logs; the last frame is the design after
    the last update, which has no row, so ``iteration`` has one more entry than the log has
    iterations and the log variables are NaN there. With several starts the frames follow the best
    start of each iteration: coordinate ``design_start``. Attributes: ``design.json`` (absent while
    the study runs) and ``hostsim_kind = "design"``, ``hostsim_directory``."""
    xr = _xr()
    directory = Path(directory)
    log = directory / "log.jsonl"
    rows = _read_log(log) if log.is_file() else []
    frames = {int(round(t)): path for t, path in _read_pvd(directory / "design.pvd")}
    iterations = sorted({int(r["iteration"]) for r in rows} | set(frames))
    starts = sorted({int(r["start"]) for r in rows if "start" in r})
    data = _log_variables(rows, iterations, starts)
    coords = {"iteration": ("iteration", np.array(iterations, np.int64), {"long_name": "design iteration"})}
    if starts:
        coords["start"] = ("start", np.array(starts, np.int64))
        coords["design_start"] = ("iteration", _frame_starts(rows, iterations),
                                  {"long_name": "the start whose design the frame shows"})
    fields, space = frame_variables([frames.get(i) for i in iterations], "iteration")
    data.update(fields)
    coords.update(space)
    record = {}
    if (directory / "design.json").is_file():
        try:
            record = json.loads((directory / "design.json").read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{directory / 'design.json'}: cannot read: {e}") from None
    attrs = _attrs(record if isinstance(record, dict) else {}, kind="design", directory=str(directory.resolve()))
    return xr.Dataset(data, coords, attrs)


def _table_value(text: str):
    """A ``results.csv`` cell as the Parquet table would hold it: None, int, float, bool or str."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_table(directory: Path) -> list[dict]:
    """The batch table's rows, one per member and host: ``results.parquet`` (typed), else ``results.csv``."""
    path = directory / "results.parquet"
    try:
        if path.is_file():
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        path = directory / "results.csv"
        with open(path, newline="") as fh:
            return [{k: _table_value(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    except Exception as e:  # noqa: BLE001 - any reader failure is a bad table
        raise InputError(f"{path}: cannot read the batch table: {type(e).__name__}: {e}") from None


def _column(rows: list, name: str, place, shape: tuple):
    """Column ``name`` of the table rows as an array of ``shape`` (``place(row)`` its index): numbers
    (booleans included) as float, NaN where absent; anything else as text, ``""`` where absent."""
    values = [row.get(name) for row in rows]
    text = any(isinstance(v, str) for v in values)
    out = np.full(shape, "", object) if text else np.full(shape, np.nan)
    for row, v in zip(rows, values):
        if v is not None:
            out[place(row)] = str(v) if text else float(v)
    return out


def batch_dataset(directory, host: str | None = None):
    """A batch folder (``hostsim batch``) as an :class:`xarray.Dataset` of its results table
    (``results.parquet``, else ``results.csv``): every column on ``member`` (the member's index in the
    sweep), or on ``(member, host)`` when a member ran several hosts (a case without ``[geometry]``);
    ``host`` keeps that host's rows (and failed members, which have none). Coordinates along
    ``member``: the swept parameters (the sweep's dotted paths, e.g.
    ``protocol.segment.0.current_mA_cm2``), ``key`` and ``member_directory`` (the member's run folder,
    which :func:`open_dataset` opens). Units in the column names; ``status`` and ``message`` as text.
    Attributes: ``hostsim_kind = "batch"``, ``hostsim_directory``, ``hostsim_sweep_axes`` (JSON list).
    For a grid sweep, ``ds.set_index(member=axes).unstack("member")`` gives one axis per parameter."""
    xr = _xr()
    directory = Path(directory)
    rows = [r for r in _read_table(directory) if host is None or r.get("host") in (host, None)]
    if not rows:
        raise InputError(f"{directory}: the batch table has no rows" + (f" of host {host!r}" if host else ""))
    names = list(rows[0])
    # the table's columns: member, key, the swept parameters, host, status, ... (hostsim.run.batch.member_rows)
    axes = names[names.index("key") + 1:names.index("host")] if {"key", "host"} <= set(names) else []
    members = sorted({int(r["member"]) for r in rows})
    at_member = {m: n for n, m in enumerate(members)}
    hosts = list(dict.fromkeys(r["host"] for r in rows if r.get("host") is not None))
    first, count = {}, {}
    for r in rows:
        first.setdefault(int(r["member"]), r)
        count[int(r["member"])] = count.get(int(r["member"]), 0) + 1
    several = max(count.values()) > 1
    at_host = {h: n for n, h in enumerate(hosts)}

    def place_member(r):
        return at_member[int(r["member"])]

    def place_host(r):  # a failed member has no host: its status and message fill every host's cell
        return place_member(r), at_host[r["host"]] if r.get("host") is not None else slice(None)

    shape, dims = ((len(members), len(hosts)), ("member", "host")) if several else ((len(members),), ("member",))
    place = place_host if several else place_member
    skip = {"member", "key", "host", *axes}
    data = {c: (dims, _column(rows, c, place, shape), _var_attrs(c)) for c in names if c not in skip}
    one = [first[m] for m in members]
    coords = {"member": ("member", np.array(members, np.int64), {"long_name": "member index in the sweep"}),
              "key": ("member", np.array([str(r.get("key", "")) for r in one], object)),
              "member_directory": ("member", np.array([str((directory / "members" / str(r.get("key", ""))).resolve())
                                                       for r in one], object))}
    coords.update({a: ("member", _column(one, a, place_member, (len(one),)), _var_attrs(a)) for a in axes})
    coords["host"] = ("host", np.array(hosts, object)) if several else \
        ("member", np.array([str(r.get("host") or "") for r in one], object))
    attrs = _attrs({}, kind="batch", directory=str(directory.resolve()), sweep_axes=axes)
    return xr.Dataset(data, coords, attrs)


def folder_kind(directory) -> str | None:
    """``"batch"``, ``"design"``, ``"run"`` or None: what hostsim wrote into ``directory``, from its files."""
    directory = Path(directory)
    if (directory / "members").is_dir() and any((directory / f).is_file() for f in ("results.parquet", "results.csv")):
        return "batch"
    if (directory / "log.jsonl").is_file() or (directory / "design.pvd").is_file():
        return "design"
    if any(p.name != "_summary.json" for p in directory.glob("*_summary.json")):
        return "run"
    return None


def open_dataset(directory, host: str | None = None):
    """A run, batch or design folder as an :class:`xarray.Dataset` (:func:`run_dataset`,
    :func:`batch_dataset`, :func:`design_dataset`; docs/outputs.md, "Runs as xarray datasets").

    Args:
        directory: the folder ``hostsim simulate``, ``hostsim batch`` or ``hostsim design`` wrote
            (a batch member's folder is a run folder).
        host: the host to open in a run folder (default: its only host; a run of several, such as
            the default case's ``foil`` and ``cu_skeleton``, must name one); in a batch folder, keep
            that host's rows (default: all). A design folder has no hosts.

    Raises :class:`~hostsim.errors.InputError` for a folder that is none of these."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    kind = folder_kind(directory)
    if kind == "batch":
        return batch_dataset(directory, host)
    if kind == "design":
        if host is not None:
            raise InputError(f"{directory}: a design folder has no hosts (host={host!r}); its verification/ "
                             f"folder is a run of the hosts 'start' and 'final'")
        return design_dataset(directory)
    if kind is None:
        raise InputError(f"{directory}: not a hostsim run, batch or design folder (none of NAME_summary.json; "
                         f"results.parquet or results.csv with members/; log.jsonl or design.pvd)")
    runs = load_run(directory)
    if host is None and len(runs) > 1:
        raise InputError(f"{directory}: the run has {len(runs)} hosts ({', '.join(runs)}): pass host= one of them")
    if host is not None and host not in runs:
        raise InputError(f"{directory}: no host {host!r} (has: {', '.join(runs)})")
    return run_dataset(runs[host] if host is not None else next(iter(runs.values())))


def _label(name: str) -> str:
    unit = units_of(name)
    return f"{name} [{unit}]" if unit else name


class HostsimAccessor:
    """``ds.hostsim``: plots of a dataset from :func:`open_dataset` (matplotlib; each returns its Axes).

    A run draws its own series; a batch one line per member (and host), read from the member's
    ``*_timeseries.csv`` and labelled with its swept values; a design its objective."""

    def __init__(self, ds):
        self._ds = ds

    def plot_voltage(self, ax=None, x: str = "time_s"):
        """Cell voltage [V] against ``x``: ``"time_s"`` [s] (default: ``time_s``) or ``"capacity_mAh_cm2"``
        [mAh/cm²]. ``ax``: the Axes to draw on (default: a new figure)."""
        return self._series("voltage_V", ax, x)

    def plot_flux_cv(self, ax=None, x: str = "time_s"):
        """The CV of the interfacial current density [-] (``flux_cv``: how unevenly the host plates)
        against ``x`` (default: ``time_s``), as :meth:`plot_voltage`."""
        return self._series("flux_cv", ax, x)

    def plot_objective(self, ax=None):
        """A design's weighted objective [-] against the iteration, one line per start."""
        ds, ax = self._ds, _axes(ax)
        if ds.attrs.get("hostsim_kind") != "design" or "objective" not in ds:
            raise InputError("plot_objective: not a design dataset (hostsim.open_dataset of a design folder)")
        objective = ds["objective"]
        for start in (objective.start.values if "start" in objective.dims else [None]):
            line = objective if start is None else objective.sel(start=start)
            ax.plot(ds["iteration"].values, line.values, marker="o", label=None if start is None else f"start {start}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("objective")
        if "start" in objective.dims:
            ax.legend()
        return ax

    def _series(self, column: str, ax, x: str):
        ds, kind = self._ds, self._ds.attrs.get("hostsim_kind")
        if kind == "run":
            ax = _axes(ax)
            ax.plot(ds[x].values, ds[column].values, label=ds.attrs.get("hostsim_host"))
        elif kind == "batch":
            ax = _axes(ax)
            for label, series in _member_series(ds):
                ax.plot(series[x], series[column], label=label)
        else:
            raise InputError(f"plot of {column}: a {kind or 'non-hostsim'} dataset has no time series (a design "
                             f"folder's verification/ is a run: open_dataset(folder / 'verification', host='final'))")
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(column))
        ax.legend(fontsize="small")
        return ax


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots()[1]


def _member_series(ds):
    """``(label, series)`` of every finished member (and host) of a batch dataset, the series read
    from the member's ``HOST_timeseries.csv``; the label names the swept values (last path part)."""
    axes = json.loads(ds.attrs.get("hostsim_sweep_axes", "[]"))
    by_host = ds["host"].dims == ("host",)  # several hosts a member: a host axis
    hosts = ds["host"].values
    for n, folder in enumerate(ds["member_directory"].values):
        values = ", ".join(f"{a.split('.')[-1]}={ds[a].values[n]}" for a in axes)
        for host in (hosts if by_host else [hosts[n]]):
            path = Path(folder) / f"{host}_timeseries.csv"
            if host and path.is_file():  # a failed member has no series
                yield (f"{values} ({host})" if by_host and values else values or host), _read_series(path)


if "xarray" in sys.modules:  # xarray already paid for: ds.hostsim works on any dataset from the start
    register_accessor()

__all__ = ["HostsimAccessor", "batch_dataset", "design_dataset", "folder_kind", "frame_variables", "open_dataset",
           "register_accessor", "run_dataset", "units_of"]
