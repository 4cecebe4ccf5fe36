"""3-D renders and animations of a run's snapshots (off-screen, pyvista/VTK).

``render(source)`` returns an RGB image (and writes a PNG); ``animate(source, out)`` writes a GIF
of the snapshot series. ``source`` is a run directory (docs/outputs.md), a ``NAME_fields.pvd``
collection or one ``.vti`` snapshot. A directory with several cases is drawn side by side, one
panel per case, with one colour range and one length scale (µm per pixel) for all panels, so the
cases compare directly.

What is drawn (lengths shown in µm; the files hold metres):

* **Voxels, not iso-surfaces.** Host, collector and Li are the *cells* whose fraction is
  >= 0.5 (a threshold, drawn as crisp cubes with flat per-cell colours). A contour of
  point-interpolated data would look smoother but invents sub-voxel shape and rounds off
  one-voxel fibres and films; the voxels are exactly what the solver resolved.
* **Colours.** Current collector (the bottom ``collector_layers`` layers): copper, opaque. Host
  solid above it: neutral grey, semi-transparent (opacity 0.35) in the 3-D views so Li plated
  *inside* the host stays visible through it. Li: coloured by ``field``, or plain silver-blue
  when ``field`` is an electrolyte field.
* **Fields.** Li fields (``plating_time_s`` — the default, ``plating_current_A_m2``,
  ``li_fraction`` and any other cell array) colour the Li voxels (for the current density also
  the interface cells that carry a current). Electrolyte fields (``concentration_mol_m3``,
  ``potential_V``) colour the electrolyte cells on the two back walls of the box (``iso``), on
  its back wall (``side``) or on the layer at the host top (``top``); the ``section`` view shows
  them best. Host fields (``solid_fraction``, ``conducting``, ``lithiophilicity``) colour the
  host. Colour maps: time ``plasma``; current ``coolwarm`` centred at 0 when some cells strip,
  ``inferno`` when all plate; concentration ``viridis``; others ``cividis``. The colour bar is
  titled with the field's meaning and its unit from the file's ``units`` field data.
* **Views.** ``iso`` (axonometric, from front-right-above), ``side`` (from -y, z up) and
  ``top`` (from +z, y up) use a parallel projection framed from the domain box alone — not from
  what happens to be drawn — so a view is reproducible and identical in every frame of an
  animation, thin tall domains included. ``section`` is a 2-D cut at constant y through the
  middle of the domain (of the middle half, the plane holding the most host solid, so it goes
  through the host), unlit, coloured by category: collector copper, host grey, Li silver-blue,
  electrolyte by ``field`` (default ``concentration_mol_m3``; a Li field colours the Li and
  leaves the electrolyte pale), with a red line at the host top (field data ``host_top``), so
  Li inside the host and Li on top of it are told apart at a glance.

Layout: the panels, then a key column with the legend and the colour bar. Axis ticks and
labels are drawn by this module (VTK's cube axes size their labels by view and drop the µ);
text uses matplotlib's DejaVu Sans (VTK's built-in font lacks some glyphs).

Headless requirements: pyvista renders off-screen through EGL with Mesa's llvmpipe software
renderer, which needs the Debian/Ubuntu packages ``libegl1 libegl-mesa0 libgl1-mesa-dri``
(no X server, no GPU). Alternative: ``libosmesa6`` with
``VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow``. This module sets
``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` unless the variable is already set.

Every bad input (path, file, case, field, view, size, time, output name) raises
:class:`~hostsim.errors.InputError` in one line, before anything is rendered.
"""

from __future__ import annotations

import functools
import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np

from hostsim.errors import InputError

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import pyvista as pv  # noqa: E402
from vtkmodules.vtkCommonCore import vtkDoubleArray, vtkObject  # noqa: E402

vtkObject.GlobalWarningDisplayOff()  # no "bad X server connection" or reader noise on stderr

__all__ = ["VIEWS", "render", "animate"]

VIEWS = ("iso", "side", "top", "section")
COPPER, HOST_GREY, LI_BLUE = "#b87333", "#8f8f8f", "#a8c0dc"
ELECTROLYTE_PALE, HOST_TOP_RED, EDGE_GREY = "#eef2f6", "#d62728", "#555555"
HOST_OPACITY = 0.35
REQUIRED = ("solid_fraction", "li_fraction")
ELECTROLYTE_FIELDS = ("concentration_mol_m3", "potential_V")
HOST_FIELDS = ("solid_fraction", "conducting", "lithiophilicity")
# field -> (meaning on the colour bar, colour map); the unit comes from the file's ``units``
FIELD_STYLE = {
    "plating_time_s": ("plating time", "plasma"),
    "plating_current_A_m2": ("interfacial current density", "inferno"),
    "concentration_mol_m3": ("c", "viridis"),
    "potential_V": ("electrolyte potential", "cividis"),
    "li_fraction": ("Li fraction", "cividis"),
    "solid_fraction": ("solid fraction", "cividis"),
    "conducting": ("conducting share", "cividis"),
    "lithiophilicity": ("lithiophilicity", "cividis"),
}
DEFAULT_UNITS = {"plating_time_s": "s", "plating_current_A_m2": "A/m^2", "concentration_mol_m3": "mol/m^3",
                 "potential_V": "V"}
# view -> (direction from the focal point to the camera, screen up)
_DIRECTIONS = {"iso": ((1.0, -1.0, 1.0), (0.0, 0.0, 1.0)), "side": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
               "top": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)), "section": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0))}
_MIN_SIZE, _MAX_SIZE = 64, 8192
_LEGEND_ORDER = ("Cu collector", "host", "Li", "interface", "electrolyte", "host top")


# ----------------------------------------------------------------------------------------------
# inputs: which files, which cases, which snapshot


@dataclass
class _Case:
    """One case of a source: where it comes from and its snapshots [(time [s] or None, .vti)]."""

    name: str
    path: Path  # the .pvd or .vti
    snapshots: list = dc_field(default_factory=list)


@dataclass
class _Frame:
    """One loaded snapshot, on a grid whose coordinates are in µm."""

    case: str
    path: Path
    grid: pv.ImageData
    shape: tuple
    time_s: float | None
    capacity_mAh_cm2: float | None
    collector_layers: int
    host_top: int | None
    units: dict

    def cells(self, name: str) -> np.ndarray:
        """Cell array ``name`` as ``[x, y, z]``."""
        return np.asarray(self.grid.cell_data[name]).reshape(self.shape, order="F")


def _check_view(view) -> str:
    if view not in VIEWS:
        raise InputError(f"unknown view {view!r}; allowed: {', '.join(VIEWS)}")
    return view


def _check_size(size) -> tuple[int, int]:
    """``size`` = (width, height) in pixels, integers in [64, 8192]."""
    ok = isinstance(size, (tuple, list)) and len(size) == 2 and all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and _MIN_SIZE <= n <= _MAX_SIZE for n in size)
    if not ok:
        raise InputError(f"bad size {size!r}; expected (width, height) in pixels, "
                         f"integers in [{_MIN_SIZE}, {_MAX_SIZE}]")
    return int(size[0]), int(size[1])


def _check_output(out, suffixes: tuple[str, ...]) -> Path:
    from hostsim.run.io import check_writable

    path = Path(out)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: expected a {' or '.join(suffixes)} file name")
    return check_writable(path, path.suffix.lower())


def _case_name(path: Path, suffix: str) -> str:
    return path.name[: -len(suffix)] if path.name.endswith(suffix) else path.stem


def _discover(source) -> dict[str, _Case]:
    """The cases of ``source`` (a run directory, a .pvd or a .vti); snapshots not listed yet."""
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: not found; expected a run directory, a .pvd or a .vti file")
    if path.is_dir():
        cases = {}
        for pvd in sorted(path.glob("*_fields.pvd")):
            name = _case_name(pvd, "_fields.pvd")
            cases[name] = _Case(name, pvd)
        for vti in sorted(path.glob("*_fields_final.vti")):  # the fall-back when there is no .pvd
            name = _case_name(vti, "_fields_final.vti")
            cases.setdefault(name, _Case(name, vti))
        if not cases:
            raise InputError(f"{path}: no *_fields.pvd or *_fields_final.vti here; expected a hostsim run directory")
        return dict(sorted(cases.items()))
    suffix = path.suffix.lower()
    if suffix not in (".pvd", ".vti"):
        raise InputError(f"{path}: expected a run directory, a .pvd or a .vti file; got {suffix or 'no extension'!r}")
    name = _case_name(path, "_fields.pvd" if suffix == ".pvd" else "_fields_final.vti")
    return {name: _Case(name, path)}


def _select(cases: dict[str, _Case], case, source) -> list[_Case]:
    """The cases to draw (all, or the one named), with their snapshot lists."""
    if case is None:
        chosen = list(cases.values())
    elif case in cases:
        chosen = [cases[case]]
    else:
        raise InputError(f"{source}: unknown case {case!r}; available: {', '.join(cases)}")
    for c in chosen:
        c.snapshots = _read_pvd(c.path) if c.path.suffix.lower() == ".pvd" else [(None, c.path)]
    return chosen


def _read_pvd(path: Path) -> list:
    """[(time [s], .vti path)] of a ParaView collection, time-ordered; every file must exist."""
    try:
        root = ET.parse(path).getroot()
        entries = [(float(d.get("timestep", "nan")), d.get("file")) for d in root.iter("DataSet")]
    except (ET.ParseError, ValueError, OSError) as e:
        raise InputError(f"{path}: could not read as a ParaView collection (.pvd): {type(e).__name__}: {e}") from None
    if not entries:
        raise InputError(f"{path}: the collection lists no snapshots; expected <DataSet timestep=... file=...> entries")
    snapshots = []
    for t, file in entries:
        if file is None or not math.isfinite(t):
            raise InputError(f"{path}: a <DataSet> entry lacks a finite timestep or a file")
        vti = path.parent / file
        if not vti.is_file():
            raise InputError(f"{path}: snapshot file {vti} not found")
        snapshots.append((t, vti))
    return sorted(snapshots, key=lambda s: s[0])


def _pick(case: _Case, time) -> tuple:
    """The snapshot nearest to ``time`` [s] (the last one when ``time`` is None)."""
    if time is None:
        return case.snapshots[-1]
    if isinstance(time, bool) or not isinstance(time, (int, float, np.number)) or not math.isfinite(time):
        raise InputError(f"time must be a finite number of seconds; got {time!r}")
    times = [s[0] for s in case.snapshots]
    if times[0] is None:
        return case.snapshots[0]  # a lone .vti: its time_s is checked once loaded
    tol = 1e-6 * max(abs(times[-1]), 1.0)
    if not (times[0] - tol <= time <= times[-1] + tol):
        raise InputError(f"{case.path}: time {time:g} s is outside the snapshots' range "
                         f"[{times[0]:g}, {times[-1]:g}] s")
    return case.snapshots[int(np.argmin([abs(x - time) for x in times]))]


def _field_value(mesh, key: str):
    """One field-data value (float or str), None when absent."""
    if key not in mesh.field_data.keys():
        return None
    value = np.asarray(mesh.field_data[key]).ravel()
    if value.size == 0:
        return None
    return str(value[0]) if value.dtype.kind in "USO" else float(value[0])


def _load(path: Path, case: str) -> _Frame:
    """Read one snapshot .vti and rescale it to µm; InputError for an unreadable or foreign file."""
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a VTK ImageData (.vti) snapshot")
    try:
        mesh = pv.read(path)
    except Exception as e:
        raise InputError(f"{path}: could not read as VTK ImageData (.vti): {type(e).__name__}: {e}") from None
    if not isinstance(mesh, pv.ImageData) or mesh.n_cells == 0:  # VTK's reader returns an empty grid on garbage
        raise InputError(f"{path}: could not read as VTK ImageData (.vti): corrupt, empty or not a snapshot")
    missing = [n for n in REQUIRED if n not in mesh.cell_data.keys()]
    if missing:
        raise InputError(f"{path}: no cell data {', '.join(missing)}; expected a hostsim snapshot (docs/outputs.md)")
    grid = pv.ImageData(dimensions=mesh.dimensions, spacing=np.asarray(mesh.spacing) * 1e6,
                        origin=np.asarray(mesh.origin) * 1e6)
    for name in mesh.cell_data.keys():
        if np.asarray(mesh.cell_data[name]).ndim == 1:  # scalar fields only
            grid.cell_data[name] = np.asarray(mesh.cell_data[name], dtype=np.float64)
    try:
        units = json.loads(_field_value(mesh, "units") or "{}")
    except ValueError:
        units = {}
    host_top = _field_value(mesh, "host_top")
    return _Frame(case=str(_field_value(mesh, "case") or case), path=path, grid=grid,
                  shape=tuple(max(int(n) - 1, 1) for n in mesh.dimensions), time_s=_field_value(mesh, "time_s"),
                  capacity_mAh_cm2=_field_value(mesh, "capacity_mAh_cm2"),
                  collector_layers=int(_field_value(mesh, "collector_layers") or 0),
                  host_top=None if host_top is None else int(host_top), units=units if isinstance(units, dict) else {})


def _check_field(frame: _Frame, field: str) -> None:
    names = frame.grid.cell_data.keys()
    if field not in names:
        raise InputError(f"{frame.path}: unknown field {field!r}; available: {', '.join(names)}")


def _default_field(view: str) -> str:
    return "concentration_mol_m3" if view == "section" else "plating_time_s"


# ----------------------------------------------------------------------------------------------
# what to draw: cell masks, colours, labels


def _kind(field: str) -> str:
    """Which cells a field colours: 'electrolyte', 'host' or 'li'."""
    if field in ELECTROLYTE_FIELDS:
        return "electrolyte"
    return "host" if field in HOST_FIELDS else "li"


def _masks(frame: _Frame, field: str) -> dict[str, np.ndarray]:
    """Disjoint boolean [x, y, z] masks of the collector, host, Li and electrolyte cells. For the
    current density the Li mask also holds the interface cells that carry a current."""
    solid = frame.cells("solid_fraction") >= 0.5
    collector = np.zeros(frame.shape, bool)
    collector[:, :, : frame.collector_layers] = True
    collector &= solid
    li = (frame.cells("li_fraction") >= 0.5) & ~solid
    if field == "plating_current_A_m2":
        li |= (frame.cells(field) != 0) & ~solid
    return {"collector": collector, "host": solid & ~collector, "li": li, "electrolyte": ~solid & ~li}


def _coloured(frame: _Frame, field: str, masks: dict) -> np.ndarray:
    """The cells coloured by ``field``: its part (Li, host or electrolyte); for the current
    density only the cells that carry a current."""
    if field == "plating_current_A_m2":
        return masks["li"] & (frame.cells(field) != 0)
    return masks[_kind(field)]


def _unit(frame: _Frame, field: str) -> str:
    unit = str(frame.units.get(field) or DEFAULT_UNITS.get(field, "-"))
    return unit.replace("^3", "³").replace("^2", "²").replace("um", "µm")


def _bar_labels(lo: float, hi: float) -> tuple[list[float], str]:
    """Round values to label the colour bar with, and their printf format."""
    ticks = _nice_ticks(lo, hi, 6)
    if len(ticks) < 2:
        ticks = [lo, hi]
    step = ticks[1] - ticks[0]
    big = max(abs(lo), abs(hi))
    if big >= 1e5 or big < 1e-2:
        return ticks, "%.2g" if big == 0 else "%.2e"
    exponent = math.floor(math.log10(step))
    decimals = max(0, -exponent + (1 if math.isclose(step / 10.0**exponent, 2.5) else 0))
    return ticks, f"%.{decimals}f"


def _style(frames: list[_Frame], field: str) -> dict:
    """Colour map, range (fixed over all ``frames``), bar title and label format of ``field``."""
    meaning, cmap = FIELD_STYLE.get(field, (field, "viridis"))
    values = np.concatenate([f.cells(field)[_coloured(f, field, _masks(f, field))] for f in frames])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if field == "plating_time_s":
        lo = 0.0
    elif field == "plating_current_A_m2":
        if lo < 0:
            cmap, hi = "coolwarm", max(abs(lo), abs(hi))
            lo = -hi
        else:
            lo = 0.0
    if hi <= lo:  # one value (or none yet)
        lo, hi = (0.0, 1.0) if lo == 0 else (lo - 0.05 * abs(lo), hi + 0.05 * abs(hi))
    return {"cmap": cmap, "clim": (lo, hi), "title": f"{meaning} [{_unit(frames[0], field)}]",
            "labels": _bar_labels(lo, hi)}


def _title(frame: _Frame) -> list[str]:
    """Case, time [s] and plated capacity [mAh/cm²] of a snapshot (the parts of its title)."""
    parts = [frame.case]
    if frame.time_s is not None:
        t = frame.time_s
        parts.append(f"t = {t:,.0f} s" if abs(t) >= 100 else f"t = {t:.3g} s")
    if frame.capacity_mAh_cm2 is not None:
        parts.append(f"{frame.capacity_mAh_cm2:.3g} mAh/cm²")
    return parts


def _swatch(style: dict) -> tuple:
    """Legend swatch of a field-coloured part: the low, middle and high colour of its map."""
    import matplotlib

    cmap = matplotlib.colormaps[style["cmap"]]
    return tuple(tuple(float(v) for v in cmap(x)[:3]) for x in (0.1, 0.5, 0.9))


@functools.lru_cache(maxsize=1)
def _font_file() -> str | None:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return str(path) if path.is_file() else None


def _text(prop, size: int | None = None, color="black") -> None:
    """Set a vtkTextProperty to DejaVu Sans (when found), ``color`` and ``size`` [pt]."""
    font = _font_file()
    if font is not None:
        prop.SetFontFamily(4)  # VTK_FONT_FILE
        prop.SetFontFile(font)
    prop.SetColor(pv.Color(color).float_rgb)
    prop.SetBold(False)
    prop.SetItalic(False)
    prop.SetShadow(False)
    if size is not None:
        prop.SetFontSize(int(size))


# ----------------------------------------------------------------------------------------------
# drawing one panel


def _cells(grid: pv.ImageData, mask: np.ndarray):
    """The cells of ``grid`` where ``mask`` [x, y, z] holds, as an UnstructuredGrid (None if empty)."""
    ids = np.flatnonzero(mask.ravel(order="F"))
    return grid.extract_cells(ids) if ids.size else None


def _add_coloured(pl, mesh, field: str, style: dict, **kw) -> None:
    """A mesh coloured cell by cell with the field's fixed map and range (bright, little shading)."""
    if kw.get("lighting", True):
        kw.setdefault("ambient", 0.35)
        kw.setdefault("diffuse", 0.7)
    pl.add_mesh(mesh, scalars=field, cmap=style["cmap"], clim=style["clim"], show_scalar_bar=False,
                preference="cell", **kw)


def _wall_mask(frame: _Frame, view: str) -> np.ndarray:
    """Cells on the walls behind the domain as seen in ``view`` (top: the layer at the host top)."""
    wall = np.zeros(frame.shape, bool)
    if view == "top":
        wall[:, :, min(max(frame.host_top or 0, frame.collector_layers), frame.shape[2] - 1)] = True
        return wall
    d = _DIRECTIONS[view][0]
    for axis in (0, 1):
        if d[axis] != 0:
            index = [slice(None)] * 3
            index[axis] = 0 if d[axis] > 0 else -1
            wall[tuple(index)] = True
    return wall


def _draw_part(pl, grid, mask, coloured, label: str, colour, field: str, style: dict, shows_field: bool, **kw) -> list:
    """Draw one part (host, Li, electrolyte): its cells in ``coloured`` by the field, the others in
    ``colour``; returns its legend rows (the field-coloured row even when empty, so a legend
    does not change between the frames of an animation)."""
    rows = []
    plain = _cells(grid, mask & ~coloured) if shows_field else _cells(grid, mask)
    if plain is not None:
        pl.add_mesh(plain, color=colour, **({"ambient": 0.3} if kw.get("lighting", True) else {}), **kw)
        rows.append((label, (colour,)))
    if shows_field:
        painted = _cells(grid, mask & coloured)
        if painted is not None:
            _add_coloured(pl, painted, field, style, **kw)
        rows.append(("interface" if field == "plating_current_A_m2" else label, _swatch(style)))
    return rows


def _draw_3d(pl, frame: _Frame, view: str, field: str, style: dict) -> list:
    """Collector, host, Li (and the electrolyte walls for an electrolyte field); legend rows."""
    masks, kind, grid = _masks(frame, field), _kind(field), frame.grid
    coloured = _coloured(frame, field, masks)
    rows = []
    collector = _cells(grid, masks["collector"])
    if collector is not None:
        pl.add_mesh(collector, color=COPPER, ambient=0.25, specular=0.4, specular_power=20)
        pl.add_mesh(collector.outline(), color="black", line_width=2)  # the plate stands out from Li
        rows.append(("Cu collector", (COPPER,)))
    rows += _draw_part(pl, grid, masks["host"], coloured, "host", HOST_GREY, field, style, kind == "host",
                       opacity=HOST_OPACITY)
    rows += _draw_part(pl, grid, masks["li"], coloured, "Li", LI_BLUE, field, style, kind == "li")
    if kind == "electrolyte":
        rows += _draw_part(pl, grid, masks["electrolyte"] & _wall_mask(frame, view), coloured, "electrolyte",
                           ELECTROLYTE_PALE, field, style, True, lighting=False)
    pl.add_mesh(grid.outline(), color=EDGE_GREY, line_width=1)
    return rows


def _section_plane(frame: _Frame) -> int:
    """y index of the section: of the middle half of the domain, the plane with the most host
    solid (ties: the one nearest the middle), so the cut goes through the host if there is one."""
    ny = frame.shape[1]
    host = (frame.cells("solid_fraction") >= 0.5)[:, :, frame.collector_layers:].sum(axis=(0, 2))
    candidates = range(ny // 4, max(3 * ny // 4, ny // 4 + 1))
    return max(candidates, key=lambda j: (host[j], -abs(j - (ny - 1) / 2)))


def _draw_section(pl, frame: _Frame, field: str, style: dict) -> list:
    """A one-voxel slab at constant y, unlit, coloured by category, and the host-top line;
    returns the legend rows."""
    j = _section_plane(frame)
    masks, kind, grid = _masks(frame, field), _kind(field), frame.grid
    plane = np.zeros(frame.shape, bool)
    plane[:, j, :] = True
    coloured = _coloured(frame, field, masks)
    parts = {"collector": ("Cu collector", COPPER), "host": ("host", HOST_GREY), "li": ("Li", LI_BLUE),
             "electrolyte": ("electrolyte", ELECTROLYTE_PALE)}
    rows = []
    for part, (label, colour) in parts.items():
        rows += _draw_part(pl, grid, masks[part] & plane, coloured, label, colour, field, style, part == kind,
                           lighting=False)
    h = grid.spacing
    y_front = grid.origin[1] + j * h[1] - 0.02 * h[1]  # just in front of the slab, seen from -y
    if frame.host_top is not None and frame.host_top > 0:
        z = grid.origin[2] + frame.host_top * h[2]
        pl.add_mesh(pv.Line((grid.bounds[0], y_front, z), (grid.bounds[1], y_front, z)), color=HOST_TOP_RED,
                    line_width=3)
        rows.append(("host top", (HOST_TOP_RED,)))
    pl.add_mesh(grid.extract_subset((0, frame.shape[0], j, j + 1, 0, frame.shape[2])).outline(), color=EDGE_GREY)
    return rows


def _view_extent(bounds, view: str):
    """The camera frame of ``view`` and the box ``bounds`` projected on it:
    (direction, right, up, centre, (u_min, u_max), (v_min, v_max))."""
    d, up = (np.asarray(v, float) for v in _DIRECTIONS[view])
    d /= np.linalg.norm(d)
    right = np.cross(-d, up)
    right /= np.linalg.norm(right)
    up = np.cross(right, -d)
    lo, hi = np.asarray(bounds[::2], float), np.asarray(bounds[1::2], float)
    centre = (lo + hi) / 2
    corners = np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for c in (lo[2], hi[2])]) - centre
    u, v = corners @ right, corners @ up
    return d, right, up, centre, (u.min(), u.max()), (v.min(), v.max())


def _content(pixels: tuple, font: int) -> tuple[float, float, float, float]:
    """Where the domain box goes in a panel (x0, y0, x1, y1 as fractions): room left for the
    z labels, below for the x/y labels, above for the title."""
    w, h = pixels
    left, bottom = min(6.5 * font / w, 0.35), min(3.6 * font / h, 0.3)
    return left, bottom, 1 - min(1.5 * font / w, 0.1), 1 - min(3.2 * font / h, 0.3)


def _fit_scale(bounds, view: str, pixels: tuple, content: tuple) -> float:
    """Parallel scale (half the panel height, µm) that fits the box into ``content``."""
    *_, (u0, u1), (v0, v1) = _view_extent(bounds, view)
    x0, y0, x1, y1 = content
    aspect = pixels[0] / pixels[1]
    return max((v1 - v0) / (2 * (y1 - y0)), (u1 - u0) / (2 * (x1 - x0) * aspect), 1e-9)


@dataclass
class _Camera:
    """A panel's parallel projection: maps a point [µm] to fractions of the panel."""

    focal: np.ndarray
    direction: np.ndarray  # from the focal point to the camera
    right: np.ndarray
    up: np.ndarray
    scale: float  # half the panel height [µm]
    aspect: float  # panel width / height

    def to_panel(self, point) -> np.ndarray:
        rel = np.asarray(point, float) - self.focal
        return np.array([0.5 + rel @ self.right / (2 * self.scale * self.aspect),
                         0.5 + rel @ self.up / (2 * self.scale)])


def _set_camera(renderer, bounds, view: str, aspect: float, scale: float, content: tuple) -> _Camera:
    """Parallel projection along the view's direction, the box centred in ``content``."""
    d, right, up, centre, (u0, u1), (v0, v1) = _view_extent(bounds, view)
    x0, y0, x1, y1 = content
    cx, cy = x0 + x1 - 1, y0 + y1 - 1  # the content centre in [-1, 1] viewport coordinates
    focal = centre + ((u0 + u1) / 2 - cx * scale * aspect) * right + ((v0 + v1) / 2 - cy * scale) * up
    lo, hi = np.asarray(bounds[::2], float), np.asarray(bounds[1::2], float)
    distance = 4 * np.linalg.norm(hi - lo) + 1.0
    renderer.camera_position = [tuple(focal + distance * d), tuple(focal), tuple(up)]
    renderer.enable_parallel_projection()
    renderer.camera.parallel_scale = scale
    renderer.reset_camera_clipping_range()
    return _Camera(focal, d, right, up, scale, aspect)


def _nice_ticks(lo: float, hi: float, max_n: int) -> list[float]:
    """At most ``max_n`` round tick values (steps 1, 2, 2.5, 5 x 10^k) in [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    e0 = math.floor(math.log10(span)) - 2
    for e in range(e0, e0 + 4):
        for m in (1, 2, 2.5, 5):
            step = m * 10.0**e
            first = math.ceil(lo / step - 1e-9) * step
            n = math.floor((hi - first) / step + 1e-9) + 1
            if n <= max_n:
                return [first + i * step for i in range(n)]
    return [lo, hi]


def _axis_edge(axis: int, lo, hi, cam: _Camera, vertical: bool) -> np.ndarray:
    """The box edge along ``axis`` to carry its labels: the leftmost (an axis that runs up the
    screen) or the lowest (one that runs across) on screen; ties go to the edge nearest the eye."""
    others = [b for b in range(3) if b != axis]
    best = None
    for c0 in (lo[others[0]], hi[others[0]]):
        for c1 in (lo[others[1]], hi[others[1]]):
            p = np.array(lo, float)
            p[others[0]], p[others[1]] = c0, c1
            key = (round(float(p @ (cam.right if vertical else cam.up)), 9), -float(p @ cam.direction))
            if best is None or key < best[0]:
                best = (key, p)
    return best[1]


def _align(o) -> tuple[str, str]:
    """Text justification that puts a label on the ``o`` (screen direction) side of its anchor."""
    h = "right" if o[0] < -0.35 else "left" if o[0] > 0.35 else "center"
    v = "top" if o[1] < -0.35 else "bottom" if o[1] > 0.35 else "center"
    return h, v


def _add_axes(pl, frame: _Frame, view: str, cam: _Camera, font: int, pixels: tuple) -> None:
    """Tick marks and labels in µm on three box edges (the axis along the line of sight left out).

    Drawn here rather than with VTK's cube axes, whose label size depends on the view and whose
    2-D labels drop the µ."""
    b = frame.grid.bounds
    lo, hi = np.asarray(b[::2], float), np.asarray(b[1::2], float)
    px = np.asarray(pixels, float)
    world_per_px = 2 * cam.scale / pixels[1]
    ticks_3d, used = [], []
    for a, name in enumerate("xyz"):
        axis = np.eye(3)[a]
        if abs(axis @ cam.direction) > 0.99 or hi[a] <= lo[a]:
            continue
        vertical = abs(axis @ cam.up) > abs(axis @ cam.right)
        start = _axis_edge(a, lo, hi, cam, vertical)
        end = start.copy()
        end[a] = hi[a]
        mid = (start + end) / 2
        out = mid - (lo + hi) / 2
        out[a] = 0.0
        out = out / np.linalg.norm(out) if np.linalg.norm(out) > 0 else -cam.up
        o = (cam.to_panel(mid + out) - cam.to_panel(mid)) * px
        o /= np.linalg.norm(o)
        length_px = np.linalg.norm((cam.to_panel(end) - cam.to_panel(start)) * px)
        ticks = _nice_ticks(lo[a], hi[a], int(np.clip(length_px / (3.2 * font), 2, 6)))
        labels = [f"{round(t, 9):g}" for t in ticks]
        h, v = _align(o)
        for t, text in zip(ticks, labels):
            p = start.copy()
            p[a] = t
            ticks_3d.append((p, p + out * 0.45 * font * world_per_px))
            anchor = cam.to_panel(p) + o * 0.8 * font / px
            if any(np.linalg.norm((anchor - u) * px) < 1.5 * font for u in used):
                continue  # two axes meet at a corner: label it once
            used.append(anchor)
            _label(pl, text, *anchor, round(0.85 * font), "#333333", h, v)
        widest = 0.65 * 0.85 * font * max(len(t) for t in labels)
        gap = 0.8 * font + abs(o[0]) * widest + abs(o[1]) * 0.85 * font + 0.7 * font
        x, y = cam.to_panel(mid) + o * gap / px
        _label(pl, f"{name} [µm]", x, y, font, "#333333", h, v)
    if ticks_3d:
        points = np.array([p for pair in ticks_3d for p in pair])
        lines = np.hstack([[2, 2 * i, 2 * i + 1] for i in range(len(ticks_3d))])
        pl.add_mesh(pv.PolyData(points, lines=lines), color="#333333", line_width=1)


def _label(pl, text: str, x: float, y: float, font: int, color="black", align="left", valign="bottom"):
    """2-D text at (x, y) in fractions of the current panel, ``font`` in pixels."""
    actor = pl.add_text(text, position=(x, y), viewport=True, font_size=font)
    prop = actor.GetTextProperty()
    _text(prop, font, color)
    prop.SetJustification({"left": 0, "center": 1, "right": 2}[align])
    prop.SetVerticalJustification({"bottom": 0, "center": 1, "top": 2}[valign])
    return actor


def _wrap(text: str, width: int) -> str:
    """Break ``text`` into lines of at most about ``width`` characters, at spaces."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


def _add_legend(pl, rows: list, font: int, pixels: tuple) -> float:
    """Colour swatches and labels, top of the key column (one row per label); returns the
    lowest y used (fraction of the column)."""
    step, dx = 1.5 * font / pixels[1], 0.5 * font / pixels[0]
    entries = dict(rows)
    y = 0.93
    for label in sorted(entries, key=_LEGEND_ORDER.index):
        for j, colour in enumerate(entries[label]):  # a field-coloured part: low, middle, high colour
            _label(pl, "\u25a0", 0.06 + j * dx, y, round(1.2 * font), colour, valign="center")
        _label(pl, label, 0.06 + 5.2 * dx, y, font, valign="center")
        y -= step
    return y


def _add_scalar_bar(pl, field: str, style: dict, font: int, pixels: tuple, top: float) -> None:
    """The colour bar of the fixed range in the key column, below ``top``, drawn from a
    transparent point so it is there even before any Li exists (no jumps in an animation);
    its title is wrapped to the column's width."""
    dummy = pv.PolyData(np.zeros((1, 3)))
    dummy.point_data[field] = np.asarray([style["clim"][0]])
    title = _wrap(style["title"], max(8, int(0.9 * pixels[0] / (0.55 * font))))
    title_top = top - 0.6 * font / pixels[1]
    bar_top = title_top - (title.count("\n") + 1.6) * 1.25 * font / pixels[1]
    height = max(min(bar_top - 0.06, 0.6, 30 * font / pixels[1]), 0.15)
    pl.add_mesh(dummy, scalars=field, cmap=style["cmap"], clim=style["clim"], opacity=0.0, show_scalar_bar=True,
                scalar_bar_args=dict(title=style["title"], vertical=True, position_x=0.06,
                                     position_y=bar_top - height, width=min(0.25, 2.2 * font / pixels[0]),
                                     height=height, color="black", fmt=style["labels"][1]))
    bar = pl.scalar_bars[style["title"]]
    values = vtkDoubleArray()
    for value in style["labels"][0]:
        values.InsertNextValue(value)
    bar.SetCustomLabels(values)
    bar.SetUseCustomLabels(True)
    bar.SetTitle("")  # drawn below as wrapped text
    bar.UnconstrainedFontSizeOn()
    bar.SetTextPositionToSucceedScalarBar()
    _text(bar.GetLabelTextProperty(), round(0.9 * font))
    _label(pl, title, 0.06, title_top, font, valign="top")


def _layout(size: tuple[int, int], n: int) -> tuple[tuple[float, float], float, int]:
    """Pixel sizes of the layout: n equal panels side by side, then the key column (legend and
    colour bar). Returns ((panel width, height), key column width, base font height)."""
    width, height = size
    font = max(7, round(0.021 * min(height, 1.4 * width / (n + 0.6))))
    key = min(max(12 * font, 0.16 * width), 0.45 * width)
    return ((width - key) / n, height), key, font


def _panel(pl, frame: _Frame, view: str, field: str, style: dict, pixels: tuple, scale: float, font: int) -> list:
    """Scene, camera, axes and title of one panel (``pixels`` = its width, height); returns its
    legend rows."""
    rows = _draw_section(pl, frame, field, style) if view == "section" else _draw_3d(pl, frame, view, field, style)
    cam = _set_camera(pl.renderer, frame.grid.bounds, view, pixels[0] / pixels[1], scale, _content(pixels, font))
    _add_axes(pl, frame, view, cam, font, pixels)
    parts = _title(frame)
    one_line = "   ".join(parts)
    _label(pl, one_line if 0.6 * len(one_line) * font < 0.95 * pixels[0] else "\n".join(parts), 0.5, 0.98,
           round(1.1 * font), align="center", valign="top")
    return rows


def _image(frames: list[_Frame], view: str, field: str, style: dict, size: tuple[int, int]) -> np.ndarray:
    """Render ``frames`` side by side (one panel each, one length scale) and the key column, as
    uint8 (H, W, 3)."""
    n = len(frames)
    pixels, key, font = _layout(size, n)
    scale = max(_fit_scale(f.grid.bounds, view, pixels, _content(pixels, font)) for f in frames)
    pl = pv.Plotter(off_screen=True, window_size=list(size), shape=(1, n + 1), border=False)
    try:
        rows = []
        for i in range(n + 1):
            pl.subplot(0, i)
            pl.set_background("white")
            x0 = i * pixels[0] / size[0]
            pl.renderer.SetViewport(x0, 0.0, 1.0 if i == n else x0 + pixels[0] / size[0], 1.0)
            if i < n:
                rows += _panel(pl, frames[i], view, field, style, pixels, scale, font)
        top = _add_legend(pl, rows, font, (key, size[1]))
        _add_scalar_bar(pl, field, style, font, (key, size[1]), top)
        img = pl.screenshot(return_img=True)
    finally:
        pl.close()
    return np.ascontiguousarray(img[:, :, :3], dtype=np.uint8)


# ----------------------------------------------------------------------------------------------
# public


def _prepare(source, case, field, view, time) -> tuple[list[_Frame], str]:
    """Load the snapshot of every case to draw and check ``field``; returns (frames, field)."""
    frames = []
    for c in _select(_discover(source), case, source):
        t, path = _pick(c, time)
        frame = _load(path, c.name)
        if t is None and time is not None and frame.time_s is not None and not math.isclose(
                time, frame.time_s, rel_tol=1e-6, abs_tol=1e-9):
            raise InputError(f"{path}: this file holds t = {frame.time_s:g} s only; render the .pvd for other times")
        frames.append(frame)
    field = _default_field(view) if field is None else field
    for frame in frames:
        _check_field(frame, field)
    return frames, field


def render(source, *, view: str = "iso", field: str | None = None, case: str | None = None, out=None,
           size=(1200, 900), time: float | None = None) -> np.ndarray:
    """Render a run (or one snapshot) off-screen; returns the image, uint8 ``(H, W, 3)``.

    source: a run directory (every case side by side unless ``case`` is given), a
        ``NAME_fields.pvd`` or one ``.vti`` snapshot. From a directory, ``NAME_fields.pvd`` is
        used, ``NAME_fields_final.vti`` when there is no collection.
    view: ``"iso"``, ``"side"``, ``"top"`` (3-D voxels) or ``"section"`` (2-D cut at constant y).
    field: the cell array that sets the colours (default ``plating_time_s``, and
        ``concentration_mol_m3`` for ``section``); the module docstring says where each kind of
        field is drawn.
    case: the one case to draw from a multi-case directory.
    out: also write the image to this ``.png``.
    size: (width, height) of the whole image in pixels.
    time: show the snapshot nearest to this time [s] (default: the last one, the final state).
    """
    size, view = _check_size(size), _check_view(view)
    if out is not None:
        out = _check_output(out, (".png",))
    frames, field = _prepare(source, case, field, view, time)
    img = _image(frames, view, field, _style(frames, field), size)
    if out is not None:
        import imageio.v3 as iio

        iio.imwrite(out, img)
    return img


def _frame_indices(n: int, count: int) -> list[int]:
    """``count`` (<= n) indices of n snapshots, evenly spread, first and last included."""
    return [int(round(x)) for x in np.linspace(0, n - 1, min(n, count))]


def _series(cases: list[_Case], field: str, max_frames: int) -> list[list[_Frame]]:
    """The frames to animate: series[k] holds every case's snapshot at animation frame k (cases
    with fewer snapshots repeat theirs). Each file is read once."""
    count = min(max_frames, max(len(c.snapshots) for c in cases))
    loaded: dict[Path, _Frame] = {}
    series = [[] for _ in range(count)]
    for c in cases:
        own = _frame_indices(len(c.snapshots), count)
        for k in range(count):
            path = c.snapshots[own[round(k * (len(own) - 1) / max(count - 1, 1))]][1]
            if path not in loaded:
                loaded[path] = _load(path, c.name)
                _check_field(loaded[path], field)
            series[k].append(loaded[path])
    return series


def animate(source, out, *, view: str = "iso", field: str | None = None, case: str | None = None,
            max_frames: int = 40, fps: float = 8, size=(800, 600)) -> Path:
    """Write an animation of a run's snapshots (one case, or every case side by side); returns ``out``.

    The snapshots are subsampled evenly to at most ``max_frames`` (first and last kept). Camera
    and colour range (over all frames) are fixed, so nothing flickers; every frame is titled
    with its time [s] and plated capacity [mAh/cm²]. ``out``: a ``.gif`` (or ``.mp4`` when the
    imageio-ffmpeg package is installed); ``fps``: frames per second; ``size``: (width, height)
    in pixels. The other arguments are those of :func:`render`.
    """
    size, view = _check_size(size), _check_view(view)
    out = _check_output(out, (".gif", ".mp4"))
    if out.suffix.lower() == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise InputError(f"{out}: writing .mp4 needs the imageio-ffmpeg package, which is not installed; "
                             "use a .gif file name") from None
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 2:
        raise InputError(f"max_frames must be an integer >= 2; got {max_frames!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (0 < fps <= 100):
        raise InputError(f"fps must be a number in (0, 100] frames per second; got {fps!r}")
    field = _default_field(view) if field is None else field
    series = _series(_select(_discover(source), case, source), field, int(max_frames))
    style = _style([f for row in series for f in row], field)
    _write_animation(out, [_image(row, view, field, style, size) for row in series], fps)
    return out


def _write_animation(out: Path, images: list[np.ndarray], fps: float) -> None:
    import imageio.v3 as iio

    if out.suffix.lower() == ".gif":
        iio.imwrite(out, np.stack(images), duration=1000.0 / fps, loop=0)
    else:
        import imageio.v2 as iio2

        iio2.mimwrite(out, images, fps=fps, format="FFMPEG", macro_block_size=1)
