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

from .errors import InputError

VOLUME_SUFFIXES = (".npy", ".npz", ".tif", ".tiff", ".vti")


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

    mesh = pv.read(path)
    if not isinstance(mesh, pv.ImageData):
        raise InputError(f"{path}: expected VTK ImageData, found {type(mesh).__name__}")
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


def write_vti(path: str | os.PathLike, fields: dict, voxel_size: float = 1.0) -> Path:
    """Write cell-centred fields (arrays ``[x, y, z]`` or ``[3, x, y, z]`` vectors) to a ``.vti``."""
    import pyvista as pv

    path = Path(path)
    shapes = {np.shape(v)[-3:] for v in fields.values()}
    if len(shapes) != 1:
        raise ValueError(f"fields must share one grid shape; got {shapes}")
    (shape,) = shapes
    image = pv.ImageData(dimensions=tuple(n + 1 for n in shape), spacing=(voxel_size,) * 3)
    for name, value in fields.items():
        value = np.asarray(value)
        if value.ndim == 4:
            image.cell_data[name] = np.stack([c.ravel(order="F") for c in value], axis=1)
        else:
            image.cell_data[name] = value.ravel(order="F")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
