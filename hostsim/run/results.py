"""Reading a run directory written by ``hostsim simulate`` (the contract is docs/outputs.md).

:func:`load_run` returns one :class:`RunResult` per case ``NAME`` found by ``NAME_summary.json``:
the summary (dict), the time series (``NAME_timeseries.csv``, one numpy array per column) and the
snapshot list of ``NAME_fields.pvd`` (``(time_s, Path)``; empty when the run wrote no collection).
Snapshots are read on demand with :func:`read_snapshot` (fields ``[x, y, z]`` + field data).

:func:`depth_profile` says where in the thickness the plated Li went: per voxel layer, the Li
plated since the first snapshot per projected area, as a density in µm of Li per µm of height
(= the layer mean of Δθ), so that ``sum(profile) * dz_um`` is the plated thickness [µm].

Every failure (no run, a missing or corrupt file, a missing column or field) raises
:class:`hostsim.errors.InputError` with a one-line message naming the file.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from hostsim.errors import InputError

#: columns every ``NAME_timeseries.csv`` must have (docs/outputs.md)
EXPECTED_COLUMNS = ("time_s", "step_s", "voltage_V", "current_A", "passed_charge_C", "capacity_mAh_cm2",
                    "envelope_mean_um", "envelope_max_um", "mean_current_density_A_m2", "flux_cv",
                    "hotspot_ratio", "min_interface_concentration_mol_m3", "max_dtheta", "segment", "cycle")
_INT_META = ("collector_layers", "host_top")


@dataclasses.dataclass(frozen=True, eq=False)
class RunResult:
    """One case of a run directory. ``series`` maps CSV column -> float array (one row per
    segment start, ``step_s`` 0, and one per accepted time step, at its end); ``snapshots`` is ``[(time_s, Path), ...]`` from the
    ``.pvd`` in time order (the first one is the initial state); ``final_snapshot`` is
    ``NAME_fields_final.vti`` when present."""

    name: str
    directory: Path
    summary: dict
    series: dict
    snapshots: list
    final_snapshot: Path | None = None

    def read_snapshot(self, which=-1, fields=None):
        """Read snapshot ``which`` (an index into :attr:`snapshots` or a path): ``(fields, meta)``,
        see :func:`read_snapshot`."""
        if isinstance(which, (int, np.integer)):
            if not self.snapshots:
                raise InputError(f"{self.directory / (self.name + '_fields.pvd')}: case {self.name!r} has no snapshots")
            which = self.snapshots[which][1]
        return read_snapshot(which, fields=fields)

    def final_fields(self, fields=None) -> dict:
        """The fields at the end of the run (``NAME_fields_final.vti``): name -> array (the names of
        docs/outputs.md, e.g. ``li_fraction``, ``concentration_mol_m3``)."""
        if self.final_snapshot is None:
            raise InputError(f"{self.directory}: case {self.name!r} has no {self.name}_fields_final.vti")
        return read_snapshot(self.final_snapshot, fields=fields)[0]

    def to_dataset(self):
        """This host's run as an ``xarray.Dataset``: the time series on ``time_s`` [s], the snapshot
        frames lazily on ``(frame, x, y, z)`` (µm), the summary in ``attrs``
        (:func:`hostsim.run.dataset.run_dataset`; docs/outputs.md, "Runs as xarray datasets")."""
        from hostsim.run.dataset import run_dataset

        return run_dataset(self)


def _quiet_vtk():
    from vtkmodules.vtkCommonCore import vtkObject

    vtkObject.GlobalWarningDisplayOff()


def read_snapshot(path, fields=None):
    """Read one snapshot ``.vti``: ``(fields, meta)``.

    ``fields``: cell array name -> numpy array ``[x, y, z]`` (vectors ``[n, x, y, z]``); pass a list
    of names to read only those (missing ones raise :class:`InputError`). ``meta``: the field data,
    numbers as floats (``collector_layers``, ``host_top`` as ints), strings as str, ``units``
    decoded to a dict; ``voxel_size_m`` defaults to the image spacing, and ``shape`` (cells) is
    added.
    """
    import pyvista as pv

    _quiet_vtk()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: snapshot file not found")
    try:
        reader = pv.get_reader(str(path))
        if fields is not None:
            reader.disable_all_cell_arrays()
            available = set(reader.cell_array_names)
            missing = [f for f in fields if f not in available]
            if missing:
                has = ", ".join(sorted(available)) or "none"
                raise InputError(f"{path}: no cell array {missing[0]!r} (has: {has})")
            for f in fields:
                reader.enable_cell_array(f)
        image = reader.read()
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - any reader failure is a bad file
        raise InputError(f"{path}: cannot read the snapshot: {type(e).__name__}: {e}") from None
    if not isinstance(image, pv.ImageData) or image.n_cells == 0:
        raise InputError(f"{path}: not a readable VTK ImageData snapshot (corrupt or empty file)")
    shape = tuple(max(int(d) - 1, 1) for d in image.dimensions)
    n = math.prod(shape)
    out = {}
    for name in image.cell_data.keys():
        a = np.asarray(image.cell_data[name])
        if a.shape[0] != n:
            raise InputError(f"{path}: cell array {name!r} has {a.shape[0]} values for {n} cells")
        if a.ndim == 1:
            out[name] = a.reshape(shape, order="F")
        else:
            out[name] = np.stack([a[:, k].reshape(shape, order="F") for k in range(a.shape[1])])
    if fields is not None and any(f not in out for f in fields):
        raise InputError(f"{path}: cell array {next(f for f in fields if f not in out)!r} could not be read")
    meta = {}
    for key in image.field_data.keys():
        v = np.asarray(image.field_data[key])
        if v.dtype.kind in "USO":
            s = str(v.ravel()[0]) if v.size else ""
            if key == "units":
                try:
                    s = json.loads(s)
                except json.JSONDecodeError:
                    pass
            meta[key] = s
        elif v.size == 1:
            meta[key] = int(round(float(v.ravel()[0]))) if key in _INT_META else float(v.ravel()[0])
        else:
            meta[key] = v.astype(np.float64)
    meta.setdefault("voxel_size_m", float(image.spacing[0]))
    meta["shape"] = shape
    return out, meta


def _read_summary(path: Path) -> dict:
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(summary, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(summary).__name__}")
    return summary


def _read_series(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: time series file not found")
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    if not rows:
        raise InputError(f"{path}: empty file (no header)")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in EXPECTED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    data = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"{path}: line {lineno} has {len(row)} values for {len(header)} columns")
        try:
            data.append([float(v) for v in row])
        except ValueError:
            raise InputError(f"{path}: line {lineno}: non-numeric value") from None
    table = np.array(data, np.float64).reshape(len(data), len(header))
    return {name: table[:, k].copy() for k, name in enumerate(header)}


def _read_pvd(path: Path) -> list:
    if not path.is_file():
        return []
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise InputError(f"{path}: not a readable ParaView collection ({e})") from None
    if root.tag != "VTKFile" or root.get("type") != "Collection":
        raise InputError(f"{path}: not a ParaView collection (root <{root.tag} type={root.get('type')!r}>)")
    frames = []
    for ds in root.iter("DataSet"):
        file, t = ds.get("file"), ds.get("timestep")
        if file is None or t is None:
            raise InputError(f"{path}: a <DataSet> lacks its 'file' or 'timestep' attribute")
        try:
            t = float(t)
        except ValueError:
            raise InputError(f"{path}: timestep {t!r} is not a number") from None
        vti = path.parent / file
        if not vti.is_file():
            raise InputError(f"{vti}: snapshot listed in {path.name} not found")
        frames.append((t, vti))
    frames.sort(key=lambda f: f[0])  # stable: equal times keep file order
    return frames


def _case_order(directory: Path, names: list) -> list:
    """Cases in the order of the run's ``summary.json`` (the order they were run) when it lists
    them, the rest by name."""
    order = []
    try:
        combined = json.loads((directory / "summary.json").read_text())
        if isinstance(combined, dict):
            order = [n for n in combined if n in names]
    except (OSError, ValueError):
        pass
    return order + sorted(n for n in names if n not in order)


def load_run(directory) -> dict:
    """All cases of a run directory: ``{name: RunResult}`` (one per ``NAME_summary.json``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    names = [p.name[: -len("_summary.json")] for p in directory.glob("*_summary.json")]
    names = [n for n in names if n]
    if not names:
        raise InputError(f"{directory}: no NAME_summary.json found: not a hostsim run directory")
    runs = {}
    for name in _case_order(directory, names):
        final = directory / f"{name}_fields_final.vti"
        runs[name] = RunResult(name=name, directory=directory,
                               summary=_read_summary(directory / f"{name}_summary.json"),
                               series=_read_series(directory / f"{name}_timeseries.csv"),
                               snapshots=_read_pvd(directory / f"{name}_fields.pvd"),
                               final_snapshot=final if final.is_file() else None)
    return runs


def _snapshot_capacity(run: RunResult, meta: dict, t: float) -> float:
    if "capacity_mAh_cm2" in meta:
        return float(meta["capacity_mAh_cm2"])
    ts, q = run.series.get("time_s"), run.series.get("capacity_mAh_cm2")
    if ts is None or q is None or len(ts) == 0:
        return float("nan")
    return float(np.interp(t, np.concatenate([[0.0], ts]), np.concatenate([[0.0], q])))


def depth_profile(run: RunResult, x: str = "capacity"):
    """Where in the thickness the plated Li went: ``(x, z_um, plated_li)``.

    ``x``: per snapshot, the plated capacity [mAh/cm²] (``x="capacity"``, field data
    ``capacity_mAh_cm2``) or the time [s] (``x="time"``). ``z_um``: layer centre heights [µm] from
    the bottom of the domain (the collector's bottom face). ``plated_li[frame, z]``: Li plated into
    the layer since the first snapshot per projected area and per height, in µm of Li per µm of
    height = the layer mean of ``li_fraction - li_fraction[first snapshot]`` (negative where Li was
    stripped). ``plated_li[f].sum() * dz_um`` is the plated Li thickness [µm] at frame ``f``.
    """
    if x not in ("capacity", "time"):
        raise ValueError(f"x must be 'capacity' or 'time', got {x!r}")
    if not run.snapshots:
        raise InputError(f"{run.directory / (run.name + '_fields.pvd')}: case {run.name!r} has no snapshots "
                         "for a depth profile")
    xs, rows, theta0, dz_um = [], [], None, None
    for t, path in run.snapshots:
        fields, meta = read_snapshot(path, fields=["li_fraction"])
        theta = fields["li_fraction"].astype(np.float64)
        if theta0 is None:
            theta0, dz_um = theta, float(meta["voxel_size_m"]) * 1e6
        elif theta.shape != theta0.shape:
            raise InputError(f"{path}: grid {theta.shape} differs from the first snapshot's {theta0.shape}")
        rows.append(np.mean(theta - theta0, axis=(0, 1)))
        xs.append(_snapshot_capacity(run, meta, t) if x == "capacity" else float(meta.get("time_s", t)))
    nz = theta0.shape[2]
    return np.asarray(xs), (np.arange(nz) + 0.5) * dz_um, np.asarray(rows)


def initial_envelope_um(run: RunResult):
    """(mean, max-column) envelope height above the collector [µm] in the first snapshot (the
    initial state), as ``hostsim.electrochemistry.metrics.envelope_heights`` defines it; None without snapshots."""
    if not run.snapshots:
        return None
    fields, meta = read_snapshot(run.snapshots[0][1], fields=["solid_fraction", "li_fraction"])
    occ = np.minimum(fields["solid_fraction"] + fields["li_fraction"], 1.0)
    occ = occ[:, :, int(meta.get("collector_layers", 0)):occ.shape[2] - int(meta.get("separator_layers", 0))]
    from_top = np.flip(np.maximum.accumulate(np.flip(occ, axis=2), axis=2), axis=2)
    h = float(meta["voxel_size_m"]) * 1e6 * np.sum(from_top, axis=2)
    return float(np.mean(h)), float(np.max(h))


__all__ = ["EXPECTED_COLUMNS", "RunResult", "depth_profile", "initial_envelope_um", "load_run", "read_snapshot"]
