"""Reading voxel volumes and writing fields.

Supported volume files (array indexed ``[x, y, z]`` once loaded):

* ``.npy`` — one 3-D array, taken as ``[x, y, z]``;
* ``.npz`` — the array named ``volume`` or, failing that, the only array in the archive;
* ``.tif`` / ``.tiff`` — a multi-page stack (tifffile); pages are z-slices, each page is
  ``[y, x]``, so the stack ``[z, y, x]`` is transposed to ``[x, y, z]``;
* ``.vti`` — VTK ImageData (pyvista); the first cell array (or point array when there are no
  cell arrays) reshaped in VTK's Fortran order to ``[x, y, z]``.

Every failure is an :class:`~hostsim.errors.InputError` naming the file and what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hostsim.errors import InputError

VOLUME_SUFFIXES = (".npy", ".npz", ".tif", ".tiff", ".vti")


def write_json(path: str | os.PathLike, data, default=float) -> Path:
    """``data`` as indented JSON, written atomically (a temporary file, then renamed): a reader in
    another thread or process (a batch's table, a resume after ``kill -9``) sees the old file or
    the whole new one, never a half-written one. A concurrent batch once read an empty
    ``summary.json`` written by the member beside it (tests/test_batch.py)."""
    import json
    import threading

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=default))
    os.replace(tmp, path)
    return path


def _read_npz(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if "volume" in names:
            return archive["volume"]
        if len(names) == 1:
            return archive[names[0]]
        raise InputError(
            f"{path}: .npz holds {len(names)} arrays ({', '.join(names[:8])}); name the volume 'volume'"
        )


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    stack = np.asarray(tifffile.imread(path))
    if stack.ndim == 3:
        return np.ascontiguousarray(stack.transpose(2, 1, 0))
    return stack  # wrong dimensionality is reported by the caller


def _read_vti(path: Path) -> np.ndarray:
    import pyvista as pv

    _quiet_vtk()
    mesh = pv.read(path)
    if not isinstance(mesh, pv.ImageData):
        raise InputError(f"{path}: expected VTK ImageData, found {type(mesh).__name__}")
    spacing = tuple(float(x) for x in mesh.spacing)
    if not np.allclose(spacing, spacing[0], rtol=1e-6):
        raise InputError(f"{path}: voxels must be cubic; the ImageData spacing is {spacing}")
    if mesh.cell_data.keys():
        name = mesh.cell_data.keys()[0]
        dims = tuple(max(int(n) - 1, 1) for n in mesh.dimensions)
        data = mesh.cell_data[name]
    elif mesh.point_data.keys():
        name = mesh.point_data.keys()[0]
        dims = tuple(int(n) for n in mesh.dimensions)
        data = mesh.point_data[name]
    else:
        raise InputError(f"{path}: the ImageData has no cell or point arrays")
    data = np.asarray(data)
    if data.ndim != 1:
        raise InputError(f"{path}: array {name!r} has {data.shape[1]} components; expected a scalar phase field")
    return data.reshape(dims, order="F")


def load_volume(path: str | os.PathLike) -> np.ndarray:
    """Load a phase volume from ``.npy``, ``.npz``, ``.tif``/``.tiff`` or ``.vti``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; expected a volume file ({', '.join(VOLUME_SUFFIXES)})")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    readers = {".npy": lambda p: np.load(p, allow_pickle=False), ".npz": _read_npz,
               ".tif": _read_tiff, ".tiff": _read_tiff, ".vti": _read_vti}
    if suffix not in readers:
        raise InputError(
            f"{path}: unknown volume format {suffix or '(no extension)'!r}; expected one of {', '.join(VOLUME_SUFFIXES)}"
        )
    try:
        return np.asarray(readers[suffix](path))
    except InputError:
        raise
    except Exception as e:  # a corrupt or mislabelled file: report it in one line
        raise InputError(f"{path}: could not read as {suffix}: {type(e).__name__}: {e}") from None


def check_writable(path: str | os.PathLike, suffix: str = ".vti") -> Path:
    """Validate an output file name before any heavy work: suffix, existing directory, writable."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise InputError(f"{path}: expected a {suffix} file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: the directory {parent} does not exist")
    if path.is_dir():
        raise InputError(f"{path}: is a directory")
    existed = path.exists()
    try:  # the only reliable test (root, /proc, read-only mounts) is to open it
        with open(path, "ab"):
            pass
    except OSError as e:
        raise InputError(f"{path}: cannot write here: {e.strerror}") from None
    if not existed:
        path.unlink()
    return path


def _quiet_vtk():
    """Keep VTK's multi-line warnings off stderr; hostsim reports failures in one line."""
    from vtkmodules.vtkCommonCore import vtkObject

    vtkObject.GlobalWarningDisplayOff()


def write_vti(path: str | os.PathLike, fields: dict, voxel_size: float = 1.0, metadata: dict | None = None) -> Path:
    """Write cell-centred fields (arrays ``[x, y, z]`` or ``[3, x, y, z]`` vectors) to a ``.vti``
    (LZ4-compressed; spacing = ``voxel_size``).

    Integer/bool fields are written as int32 and floats as float32/float64, so ParaView reads
    every field whatever dtype the caller passed. ``metadata`` becomes VTK field data: numbers as
    one-value arrays, strings as ASCII strings (VTK's string arrays do not survive non-ASCII).
    """
    import pyvista as pv

    _quiet_vtk()
    path = Path(path)
    shapes = {np.shape(v)[-3:] for v in fields.values()}
    if len(shapes) != 1:
        raise ValueError(f"fields must share one grid shape; got {shapes}")
    (shape,) = shapes
    image = pv.ImageData(dimensions=tuple(n + 1 for n in shape), spacing=(voxel_size,) * 3)
    for name, value in fields.items():
        value = np.asarray(value)  # one host copy per field (device arrays are fetched here)
        if value.dtype.kind in "biu":
            value = value.astype(np.int32)
        elif value.dtype not in (np.float32, np.float64):
            value = value.astype(np.float64)
        if value.ndim == 4:
            image.cell_data[name] = np.stack([c.ravel(order="F") for c in value], axis=1)
        else:
            image.cell_data[name] = value.ravel(order="F")
    for key, value in (metadata or {}).items():
        if isinstance(value, str):
            image.field_data[key] = np.array([value.encode("ascii", "replace").decode()], dtype=str)
        else:
            image.field_data[key] = np.atleast_1d(np.asarray(value, np.float64))
    try:
        # LZ4, not zlib: ~5x faster to write, files 12 % larger (docs/performance.md: measurements
        # behind the code); a default run writes ~40 snapshots while it computes. ParaView and
        # VTK >= 8 read both
        image.save(path, compression="lz4")
    except Exception as e:
        raise InputError(f"{path}: could not write: {type(e).__name__}: {e}") from None
    return path


def write_pvd(path: str | os.PathLike, frames) -> Path:
    """Write a ParaView ``.pvd`` collection: ``frames`` is ``[(time_s, file), ...]`` with the
    files relative to the ``.pvd``'s folder. ParaView and ``pyvista.read`` open it as one
    time series. Written to a temporary name and renamed, so a reader never sees half a file."""
    from xml.sax.saxutils import quoteattr

    path = Path(path)
    lines = ['<?xml version="1.0"?>',
             '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">', "  <Collection>"]
    for t, file in frames:
        lines.append(f'    <DataSet timestep="{float(t):.9g}" group="" part="0" file={quoteattr(str(file))}/>')
    lines += ["  </Collection>", "</VTKFile>", ""]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)
    return path
