"""Importing hosts from voxel volumes and surface/volume meshes, and saving/loading host fields.

Conventions, shared with every host family:

* arrays are indexed ``[x, y, z]``; ``z`` is the through-plane axis and ``z = 0`` the current
  collector side (a tiff stack, whose pages are z-slices of ``[y, x]``, is transposed by
  :func:`hostsim.run.io.load_volume`);
* user-facing lengths are in µm (``*_um`` arguments); inside, everything is SI — the
  :class:`hostsim.Grid` voxel size is in metres and so is the spacing of the ``.vti`` files
  written here;
* every bad input raises :class:`hostsim.InputError` with one line naming the file (or
  ``source``), the field and what was expected, before any heavy work.

Label volumes
    A label map ``{value: material}`` names, for every label value, a material of
    :data:`geometries.materials.MATERIALS`; each voxel gets that material's ``(s, k, l, theta)``.
    On the command line it is written ``"0=electrolyte,1=cu,2=pi"`` (:func:`parse_labels`).
    Without a map only unambiguous volumes are accepted: boolean or integer volumes with values
    in ``{0, 1}`` (0 = electrolyte, 1 = Cu), and floating volumes with values in ``[0, 1]``,
    taken as the solid fraction ``s`` of a Cu host (``k = 1`` where ``s > 0``, ``k = 0`` in pure
    electrolyte as in the material table, so a 0.0/1.0 float volume gives exactly the fields of
    the 0/1 integer volume; ``l = theta = 0``). Anything else (CT grey values, multi-phase labels)
    needs a map: guessing which phase conducts would silently change the physics.

Meshes
    :func:`voxelize_mesh` reads any format meshio reads (STL, PLY, OBJ, VTU, Gmsh, ...) or takes a
    meshio / pyvista mesh object. Volume cells (tetrahedra, hexahedra...) are reduced to their
    boundary surface; surface meshes are used as they are; the surface is triangulated, duplicate
    points merged, and must be closed (no open edges). A voxel is solid when its *centre* lies
    inside the surface (VTK's ``vtkPolyDataToImageStencil`` through pyvista's
    ``voxelize_binary_mask``, evaluated on an image whose points are the voxel centres). The grid
    spans the mesh bounds, ``ceil(extent / h)`` voxels per axis, starting at the mesh minimum, so
    the mesh's lowest z sits on top of the collector layer. Fields are crisp 0/1 (no partial
    volumes): the volume error is that of the voxel sampling, about a few per cent at 10 voxels
    per radius.

Saved hosts
    :func:`save_host_vti` writes ``s``, ``k``, ``l``, ``theta`` and ``eps = 1 - s - theta`` (and
    ``li_excluded`` where the host has it) as
    VTK cell data (plain names, ParaView-friendly) on an ImageData with spacing in metres, and
    stores units, family, voxel size [m], lateral boundary, ``collector_layers`` and ``host_top``
    (plus any user metadata) as VTK field data string arrays. :func:`load_host_vti` reads it back.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from hostsim import Grid, InputError
from hostsim.run.io import _quiet_vtk, check_writable, load_volume

from ._host import _FIELDS_IN_MEMORY, HostFields, available_memory_bytes
from .materials import MATERIALS, Material
from .materials import material as _material

__all__ = [
    "fields_from_labels",
    "import_volume",
    "load_host_vti",
    "parse_labels",
    "read_host_vti_metadata",
    "save_host_vti",
    "voxelize_mesh",
]

FIELD_NAMES = ("s", "k", "l", "theta", "eps")
UNITS = ("s [-] host solid fraction", "k [-] conducting share of the host", "l [-] lithiophilicity",
         "theta [-] Li-metal fraction", "eps [-] electrolyte fraction", "spacing [m]")
MESH_UNITS = {"um": 1.0, "µm": 1.0, "μm": 1.0, "micron": 1.0, "mm": 1e3, "m": 1e6}
_MAX_LISTED = 10


# -- label maps ------------------------------------------------------------------------------


def _label_key(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        value = float(text)  # ValueError reported by the caller
        if not math.isfinite(value):
            raise ValueError(text) from None
        return int(value) if value.is_integer() else value


def parse_labels(text: str) -> dict[int | float, str]:
    """Parse a label map ``"0=electrolyte,1=cu,2=pi"`` into ``{0: "electrolyte", 1: "cu", 2: "pi"}``.

    Keys are integers (or floats, for floating label volumes); values are material names of
    :data:`geometries.materials.MATERIALS` (case-insensitive, returned lower-case).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"labels: expected 'value=material,...' (e.g. '0=electrolyte,1=cu'); got {text!r}")
    out: dict[int | float, str] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        key, sep, name = entry.partition("=")
        key, name = key.strip(), name.strip()
        if not sep or not key or not name:
            raise InputError(f"labels: malformed entry {entry!r}; expected 'value=material' (e.g. '1=cu')")
        try:
            value = _label_key(key)
        except ValueError:
            raise InputError(f"labels: entry {entry!r}: label value {key!r} is not a finite number") from None
        if value in out:
            raise InputError(f"labels: entry {entry!r}: label value {value!r} is given twice")
        _material(name, where=f"labels: entry {entry!r}")
        out[value] = name.lower()
    if not out:
        raise InputError(f"labels: no 'value=material' entries in {text!r}")
    return out


def _resolve_labels(labels, source: str) -> dict[Any, Material]:
    if isinstance(labels, str):
        labels = parse_labels(labels)
    if not isinstance(labels, dict) or not labels:
        raise InputError(f"{source}: labels must be a non-empty {{value: material}} map; got {labels!r}")
    out = {}
    for key, name in labels.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, float, np.integer, np.floating)):
            raise InputError(f"{source}: label value {key!r} (for {name!r}) must be a number")
        out[key] = name if isinstance(name, Material) else _material(name, where=f"{source}: label {key!r}")
    return out


def _list_values(values: np.ndarray) -> str:
    shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values[:_MAX_LISTED].tolist())
    return shown + (f", ... ({len(values)} distinct values)" if len(values) > _MAX_LISTED else "")


# -- volumes -> fields -----------------------------------------------------------------------


def _check_number(value, name: str, source: str, *, positive: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{source}: {name} must be a number [µm]; got {value!r}") from None
    if not math.isfinite(v) or (v <= 0 if positive else v < 0):
        raise InputError(f"{source}: {name} must be a finite number {'> 0' if positive else '>= 0'} µm; got {value!r}")
    return v


def _check_grid_options(lateral, precision, source: str) -> None:
    if lateral not in ("periodic", "no_flux"):
        raise InputError(f"{source}: lateral must be 'periodic' or 'no_flux'; got {lateral!r}")
    try:
        Grid.create((1, 1, 1), 1.0, lateral=lateral, precision=precision)
    except ValueError as e:
        raise InputError(f"{source}: {e}") from None


def _check_memory(shape, precision, source: str) -> None:
    itemsize = np.dtype(precision).itemsize
    need = math.prod(int(n) for n in shape) * itemsize * _FIELDS_IN_MEMORY  # Python ints: no overflow
    have = available_memory_bytes()
    if need > have:
        raise InputError(
            f"{source}: a {'x'.join(map(str, shape))} grid needs about {need / 2**30:.1f} GiB "
            f"but {have / 2**30:.1f} GiB is available; use a larger voxel size or a smaller volume"
        )


def fields_from_labels(
    volume: np.ndarray,
    voxel_size_um: float,
    labels: dict | str | None = None,
    *,
    add_collector: bool = False,
    pad_top_um: float = 0.0,
    lateral: str = "periodic",
    precision: str = "float32",
    source: str = "array",
) -> HostFields:
    """Turn a label volume ``[x, y, z]`` into host fields.

    Args:
        volume: 3-D array of labels (or, without ``labels``, a 0/1 mask or a solid fraction).
        voxel_size_um: voxel edge [µm].
        labels: ``{value: material name}`` (or the string form of :func:`parse_labels`); see the
            module docstring for what ``None`` accepts.
        add_collector: prepend one Cu voxel layer at ``z = 0`` (``collector_layers = 1``).
        pad_top_um: electrolyte added on top of the volume [µm], rounded to whole voxels.
        lateral, precision: as :meth:`hostsim.Grid.create`.
        source: name used in error messages (the file name for :func:`import_volume`).

    Returns:
        :class:`HostFields` with ``family="imported"`` and ``host_top`` = one above the highest
        layer holding solid (``s > 0.5``), at least ``collector_layers``.
    """
    h_um = _check_number(voxel_size_um, "voxel_size_um", source, positive=True)
    pad_um = _check_number(pad_top_um, "pad_top_um", source, positive=False)
    _check_grid_options(lateral, precision, source)
    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise InputError(f"{source}: expected a 3-D volume [x, y, z]; got {vol.ndim}-D shape {vol.shape}")
    if vol.size == 0:
        raise InputError(f"{source}: the volume is empty (shape {vol.shape})")
    if vol.dtype.kind not in "biuf":
        raise InputError(f"{source}: expected a numeric volume; got dtype {vol.dtype}")
    if vol.dtype.kind == "f" and not np.isfinite(vol).all():
        raise InputError(f"{source}: the volume holds {int((~np.isfinite(vol)).sum())} NaN/inf values")
    c = 1 if add_collector else 0
    n_pad = int(round(pad_um / h_um))
    shape = (vol.shape[0], vol.shape[1], vol.shape[2] + c + n_pad)
    _check_memory(shape, precision, source)

    dtype = np.dtype(precision)
    if labels is None and vol.dtype.kind == "b":
        vol = vol.astype(np.uint8)
    values, inverse = np.unique(vol, return_inverse=True)
    inverse = inverse.reshape(vol.shape)
    if labels is None:
        if vol.dtype.kind in "iu" and set(values.tolist()) <= {0, 1}:
            labels = {0: "electrolyte", 1: "cu"}
        elif vol.dtype.kind == "f" and values[0] >= 0.0 and values[-1] <= 1.0:
            s = vol.astype(dtype)
            k = (s > 0).astype(dtype)
            zero = np.zeros_like(s)
            return _assemble((s, k, zero, zero), h_um, c, n_pad, lateral, precision)
        else:
            raise InputError(
                f"{source}: cannot tell the phases apart without a label map (e.g. labels='0=electrolyte,1=cu'); "
                f"the {vol.dtype} volume holds {_list_values(values)}"
            )
    table = _resolve_labels(labels, source)
    keys = list(table)
    props = np.zeros((len(values), 5), dtype)
    missing = []
    for i, v in enumerate(values.tolist()):
        hit = next((key for key in keys if key == v), None)
        if hit is None:
            missing.append(v)
        else:
            m = table[hit]
            props[i] = (m.s, m.k, m.l, m.theta, m.li_excluded)
    if missing:
        raise InputError(
            f"{source}: label value(s) {_list_values(np.asarray(missing))} are in the volume but not in the label map "
            f"({', '.join(f'{k!r}' for k in keys)})"
        )
    per_voxel = props[inverse]  # [x, y, z, 5]
    fields = tuple(per_voxel[..., j] for j in range(4 if not props[:, 4].any() else 5))
    return _assemble(fields, h_um, c, n_pad, lateral, precision)


def _assemble(fields, h_um: float, c: int, n_pad: int, lateral: str, precision: str) -> HostFields:
    cu = MATERIALS["cu"]
    out = []
    for f, coll in zip(fields, (cu.s, cu.k, cu.l, cu.theta, cu.li_excluded)):
        nx, ny, _ = f.shape
        parts = [np.full((nx, ny, c), coll, f.dtype), f, np.zeros((nx, ny, n_pad), f.dtype)]
        out.append(np.concatenate(parts, axis=2))
    s = out[0]
    solid_layers = np.flatnonzero((s > 0.5).any(axis=(0, 1)))
    host_top = max(c, int(solid_layers[-1]) + 1 if solid_layers.size else 0)
    grid = Grid.create(s.shape, voxel_size=h_um * 1e-6, lateral=lateral, precision=precision)
    return HostFields(
        *(jnp.asarray(f, dtype=grid.dtype) for f in out[:4]),
        grid=grid, collector_layers=c, host_top=host_top, family="imported",
        li_excluded=jnp.asarray(out[4], dtype=grid.dtype) if len(out) > 4 else None,
    )


def import_volume(path: str | os.PathLike, voxel_size_um: float, labels: dict | str | None = None, **kw) -> HostFields:
    """Load a volume file (``.npy``, ``.npz``, ``.tif``/``.tiff``, ``.vti``) and build host fields.

    Keyword arguments are those of :func:`fields_from_labels`; errors name the file.
    """
    kw.pop("source", None)
    _check_number(voxel_size_um, "voxel_size_um", str(path), positive=True)  # before reading a big file
    return fields_from_labels(load_volume(path), voxel_size_um, labels, source=str(path), **kw)


# -- meshes ----------------------------------------------------------------------------------


def _cell_dimension(cell_type: int) -> int:
    try:
        from vtkmodules.vtkCommonDataModel import vtkCellTypeUtilities as util
    except ImportError:  # VTK < 9.6
        from vtkmodules.vtkCommonDataModel import vtkCellTypes as util
    return int(util.GetDimension(int(cell_type)))


def _read_mesh(path_or_mesh, where: str):
    import meshio
    import pyvista as pv

    if isinstance(path_or_mesh, (str, os.PathLike)):
        path = Path(path_or_mesh)
        if not path.exists():
            raise InputError(f"{path}: file not found")
        if path.is_dir():
            raise InputError(f"{path}: is a directory; expected a mesh file")
        # meshio prints each reader's ReadError and then calls sys.exit(1) when no reader of the
        # suffix succeeds: capture what it prints and turn the exit into a one-line InputError.
        printed = io.StringIO()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                warnings.simplefilter("ignore", RuntimeWarning)  # STL binary/ASCII sniffing overflows harmlessly
                mesh = meshio.read(path)
        except (Exception, SystemExit) as e:
            lines = [ln.strip() for ln in printed.getvalue().splitlines() if ln.strip()]
            reason = (str(e).strip() if isinstance(e, Exception) else "") or (lines[0] if lines else type(e).__name__)
            raise InputError(f"{path}: could not read as a mesh (meshio: {reason.splitlines()[0]})") from None
        where = str(path)
    elif isinstance(path_or_mesh, meshio.Mesh):
        mesh = path_or_mesh
    elif isinstance(path_or_mesh, pv.MultiBlock):
        return path_or_mesh.combine()
    elif isinstance(path_or_mesh, pv.DataSet):
        return path_or_mesh
    else:
        raise InputError(
            f"{where}: expected a mesh file name, a meshio.Mesh or a pyvista mesh; got {type(path_or_mesh).__name__}"
        )
    if not mesh.cells or sum(len(block.data) for block in mesh.cells) == 0:
        raise InputError(f"{where}: the mesh has no cells (a point cloud cannot be voxelized)")
    try:
        return pv.from_meshio(mesh)
    except Exception as e:
        raise InputError(f"{where}: could not convert the mesh: {type(e).__name__}: {e}") from None


def _closed_surface(mesh, where: str):
    """Boundary surface of the volume cells (or the 2-D cells), triangulated and cleaned."""
    import pyvista as pv

    if mesh.n_cells == 0:
        raise InputError(f"{where}: the mesh has no cells (a point cloud cannot be voxelized)")
    grid = mesh.cast_to_unstructured_grid()
    dims = np.array([_cell_dimension(t) for t in np.asarray(grid.celltypes)])
    for d in (3, 2):  # boundary faces of volume cells if any, else the surface cells themselves
        ids = np.flatnonzero(dims == d)
        if ids.size:
            break
    else:
        raise InputError(f"{where}: the mesh has only points/lines, no surface or volume cells")
    part = grid.extract_cells(ids) if ids.size < grid.n_cells else grid
    try:
        boundary = part.extract_surface(algorithm="dataset_surface")
    except TypeError:  # pyvista < 0.47 has no algorithm keyword
        boundary = part.extract_surface()
    surface = boundary.triangulate().clean()
    if not isinstance(surface, pv.PolyData) or surface.n_cells == 0:
        raise InputError(f"{where}: the mesh has no surface to voxelize")
    open_edges = surface.n_open_edges
    if open_edges:
        raise InputError(
            f"{where}: the surface is not closed ({open_edges} open edges); inside/outside is undefined — "
            "repair the mesh (fill holes, merge duplicate vertices) first"
        )
    return surface


def voxelize_mesh(
    path_or_mesh,
    voxel_size_um: float,
    material: str = "cu",
    *,
    add_collector: bool = True,
    pad_top_um: float = 0.0,
    lateral: str = "periodic",
    precision: str = "float32",
    mesh_unit: str = "um",
) -> HostFields:
    """Voxelize a closed surface or volume mesh of one material into host fields.

    Args:
        path_or_mesh: a file meshio reads (``.stl``, ``.ply``, ``.obj``, ``.vtu``, ``.msh``...), a
            ``meshio.Mesh`` or a pyvista mesh.
        voxel_size_um: voxel edge [µm].
        material: material of the solid (a name of :data:`geometries.materials.MATERIALS`).
        add_collector: put one Cu collector layer at ``z = 0`` under the mesh.
        pad_top_um: electrolyte added above the mesh [µm], rounded to whole voxels.
        lateral, precision: as :meth:`hostsim.Grid.create`.
        mesh_unit: unit of the mesh coordinates: ``"um"`` (default), ``"mm"`` or ``"m"``.

    A voxel is solid when its centre is inside the surface; the grid covers the mesh bounds
    (``ceil(extent / h)`` voxels per axis) with the mesh's minimum z on top of the collector.
    """
    import pyvista as pv

    where = str(path_or_mesh) if isinstance(path_or_mesh, (str, os.PathLike)) else f"mesh ({type(path_or_mesh).__name__})"
    h = _check_number(voxel_size_um, "voxel_size_um", where, positive=True)
    _check_number(pad_top_um, "pad_top_um", where, positive=False)
    _check_grid_options(lateral, precision, where)
    unit = str(mesh_unit).strip().lower()
    if unit not in MESH_UNITS:
        raise InputError(f"{where}: mesh_unit must be 'um', 'mm' or 'm'; got {mesh_unit!r}")
    solid = _material(material, where=f"{where}: material")
    _quiet_vtk()

    surface = _closed_surface(_read_mesh(path_or_mesh, where), where)
    if MESH_UNITS[unit] != 1.0:
        surface = surface.scale(MESH_UNITS[unit], inplace=False)
    lo = np.array(surface.bounds[0::2], float)
    hi = np.array(surface.bounds[1::2], float)
    extent = hi - lo
    if not np.all(np.isfinite(extent)):
        raise InputError(f"{where}: the mesh has non-finite coordinates")
    if np.any(extent < h * (1 - 1e-9)):
        raise InputError(
            f"{where}: voxel_size_um = {h:g} µm is larger than the mesh extent "
            f"({' x '.join(f'{e:g}' for e in extent)} µm after mesh_unit={unit!r}); lower the voxel size"
        )
    shape = tuple(int(n) for n in np.maximum(1, np.ceil(extent / h - 1e-6)))
    _check_memory((shape[0], shape[1], shape[2] + add_collector), precision, where)

    # An image whose *points* are the voxel centres: its mask is the centre-inside test.
    reference = pv.ImageData(dimensions=shape, spacing=(h, h, h), origin=tuple(lo + h / 2))
    try:
        mask_image = surface.voxelize_binary_mask(reference_volume=reference)
    except Exception as e:
        raise InputError(f"{where}: voxelization failed: {type(e).__name__}: {e}") from None
    mask = np.asarray(mask_image.point_data["mask"]).reshape(shape, order="F") > 0
    if not mask.any():
        raise InputError(f"{where}: no voxel centre lies inside the surface; lower voxel_size_um (now {h:g} µm)")
    return fields_from_labels(
        mask.astype(np.uint8), h, {0: "electrolyte", 1: solid}, add_collector=add_collector,
        pad_top_um=pad_top_um, lateral=lateral, precision=precision, source=where,
    )


# -- saving / loading host fields ------------------------------------------------------------


def save_host_vti(path: str | os.PathLike, fields: HostFields, metadata: dict | None = None) -> Path:
    """Write host fields to a ``.vti`` (cell data ``s, k, l, theta, eps``; spacing in metres).

    Units, family, voxel size [m], lateral boundary, ``collector_layers``, ``host_top`` and
    ``metadata`` (values stored as ``str(value)``) go to VTK field data as string arrays.
    """
    import pyvista as pv

    path = check_writable(path, ".vti")
    if not isinstance(fields, HostFields):
        raise InputError(f"{path}: expected HostFields to save; got {type(fields).__name__}")
    reserved = {"units", "family", "voxel_size_m", "lateral", "collector_layers", "host_top"}
    metadata = dict(metadata or {})
    clash = sorted(reserved.intersection(map(str, metadata)))
    if clash:
        raise InputError(f"{path}: metadata keys {', '.join(clash)} are reserved for the host description")
    _quiet_vtk()
    grid = fields.grid
    arrays = fields.as_numpy()
    arrays["eps"] = np.asarray(fields.electrolyte_fraction)
    image = pv.ImageData(dimensions=tuple(n + 1 for n in grid.shape), spacing=(grid.voxel_size,) * 3)
    for name in FIELD_NAMES + (("li_excluded",) if "li_excluded" in arrays else ()):
        image.cell_data[name] = np.asarray(arrays[name], dtype=grid.dtype).ravel(order="F")
    info = {
        "units": list(UNITS),
        "family": [fields.family],
        "voxel_size_m": [repr(float(grid.voxel_size))],
        "lateral": [grid.lateral],
        "collector_layers": [str(int(fields.collector_layers))],
        "host_top": [str(int(fields.host_top))],
    }
    # VTK string arrays are ASCII only: dicts/lists go in as JSON with non-ASCII escaped (µm -> \u00b5m,
    # json.loads gives it back), plain strings with non-ASCII characters likewise
    import json

    def _ascii(v):
        text = v if isinstance(v, str) else json.dumps(v, default=str)
        return text if text.isascii() else json.dumps(text)

    info.update({str(k): [_ascii(v)] for k, v in metadata.items()})
    for key, value in info.items():
        image.field_data[key] = np.array(value, dtype=str)
    try:
        image.save(path)
    except Exception as e:
        raise InputError(f"{path}: could not write: {type(e).__name__}: {e}") from None
    return path


def _read_image(path: str | os.PathLike):
    import pyvista as pv

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.suffix.lower() != ".vti":
        raise InputError(f"{path}: expected a .vti file written by save_host_vti")
    _quiet_vtk()
    try:
        image = pv.read(path)
    except Exception as e:
        raise InputError(f"{path}: could not read as .vti: {type(e).__name__}: {e}") from None
    if not isinstance(image, pv.ImageData):
        raise InputError(f"{path}: expected VTK ImageData, found {type(image).__name__}")
    return path, image


def _field_strings(image) -> dict[str, str]:
    out = {}
    for key in image.field_data.keys():
        value = np.asarray(image.field_data[key]).ravel()
        out[key] = "; ".join(str(v) for v in value.tolist()) if key == "units" else (str(value[0]) if value.size else "")
    return out


def read_host_vti_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The field-data strings of a ``.vti`` written by :func:`save_host_vti` (``units`` joined by ``"; "``)."""
    return _field_strings(_read_image(path)[1])


def load_host_vti(path: str | os.PathLike, precision: str = "float32", lateral: str | None = None) -> HostFields:
    """Read host fields written by :func:`save_host_vti`.

    ``lateral`` defaults to the value stored in the file (``"periodic"`` if none). Files
    without ``collector_layers``/``host_top`` field data get 0 and the top of the solid.
    """
    path, image = _read_image(path)
    missing = [name for name in FIELD_NAMES if name not in image.cell_data.keys()]
    if missing:
        raise InputError(
            f"{path}: missing cell array(s) {', '.join(missing)}; expected {', '.join(FIELD_NAMES)} (as written by save_host_vti)"
        )
    meta = _field_strings(image)
    lateral = lateral or meta.get("lateral", "periodic")
    _check_grid_options(lateral, precision, str(path))
    spacing = tuple(float(x) for x in image.spacing)
    if not np.allclose(spacing, spacing[0], rtol=1e-6):
        raise InputError(f"{path}: voxels must be cubic; the ImageData spacing is {spacing}")
    h = spacing[0]
    if "voxel_size_m" in meta:
        try:
            stored = float(meta["voxel_size_m"])
        except ValueError:
            raise InputError(f"{path}: field data voxel_size_m is not a number: {meta['voxel_size_m']!r}") from None
        if not np.isclose(stored, h, rtol=1e-6):
            raise InputError(f"{path}: ImageData spacing {h:g} m disagrees with field data voxel_size_m {stored:g} m")
    shape = tuple(max(int(n) - 1, 1) for n in image.dimensions)
    dtype = np.dtype(precision)
    arrays = {}
    optional = ("li_excluded",) if "li_excluded" in image.cell_data.keys() else ()
    for name in FIELD_NAMES[:4] + optional:
        data = np.asarray(image.cell_data[name])
        if data.ndim != 1 or data.size != int(np.prod(shape)):
            raise InputError(f"{path}: cell array {name!r} has shape {data.shape}; expected {int(np.prod(shape))} scalars")
        arrays[name] = data.reshape(shape, order="F").astype(dtype)
    ints = {}
    for key in ("collector_layers", "host_top"):
        if key in meta:
            try:
                ints[key] = int(meta[key])
            except ValueError:
                raise InputError(f"{path}: field data {key} is not an integer: {meta[key]!r}") from None
            if not 0 <= ints[key] <= shape[2]:
                raise InputError(f"{path}: field data {key} = {ints[key]} is outside 0..{shape[2]} (layers in z)")
    c = ints.get("collector_layers", 0)
    if "host_top" in ints:
        host_top = ints["host_top"]
    else:
        solid_layers = np.flatnonzero((arrays["s"] > 0.5).any(axis=(0, 1)))
        host_top = max(c, int(solid_layers[-1]) + 1 if solid_layers.size else 0)
    grid = Grid.create(shape, voxel_size=h, lateral=lateral, precision=precision)
    return HostFields(
        *(jnp.asarray(arrays[n], dtype=grid.dtype) for n in FIELD_NAMES[:4]),
        grid=grid, collector_layers=c, host_top=host_top, family=meta.get("family", "imported"),
        li_excluded=jnp.asarray(arrays["li_excluded"], dtype=grid.dtype) if optional else None,
    )
