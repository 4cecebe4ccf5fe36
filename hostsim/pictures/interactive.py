"""Interactive 3D view of a run's snapshots, for ``report.html`` (plotly ``Mesh3d``, works offline).

What it shows, per host: the Cu collector (copper), the host solid (grey, semi-transparent;
conducting and non-conducting solid apart) and the plated Li coloured by the time it was plated
(``plating_time_s``, plasma colour map), for the final state and up to :data:`MAX_FRAMES`
snapshots before it. The reader rotates and zooms with the mouse, picks the frame with a time
slider, hides or shows each material by clicking its legend entry, and cuts the scene with two
sliders: keep ``x >= x0`` (a vertical section through the host) and keep ``z <= z0`` (a height cut).

Why plotly: its bundled JavaScript is inlined once per page (:func:`plotly_script`), so the page
works from disk with no network request; ``Mesh3d`` with legend toggles, frames and sliders needs
no server and no hand-written WebGL; the library is widely used and maintained.

Why voxel faces, not marching cubes: as in :mod:`hostsim.pictures.render`, the cells with a
fraction >= 0.5 are drawn as cubes: they are what the solver resolved, and an iso-surface would
round off one-voxel fibres and films.

Why the cut is an axis range: plotly has no clipping plane, but its 3D scene clips every trace to
the axis ranges (per fragment, on the GPU). A slider step that sets ``scene.xaxis.range`` (or
``zaxis``) is an exact axis-aligned cut with no extra data in the file, where precomputed clipped
meshes would multiply the file by the number of steps. The cut leaves the voxel shells open (no
caps), which shows the Li inside the host.

Size: boundary faces only; coplanar neighbouring faces of one colour merged into rectangles (two
passes); shared vertices in float32 (µm); uint16/uint32 indices; the plating time quantised to
:data:`TIME_LEVELS` levels (more merging, no visible loss on a colour map); plotly writes the
arrays as base64 binary. A run too large for a page (:data:`MAX_CELLS`, :data:`MAX_BYTES`) gets a
one-line note instead of a view.
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["boundary_faces", "voxel_mesh", "host_figure", "plotly_script", "interactive_section"]

MAX_FRAMES = 6  # snapshot frames on the time slider (first and last included)
MAX_CELLS = 4_000_000  # above this the voxel meshes would not fit a page (and take long to build)
MAX_BYTES = 6_000_000  # per host: with all frames above this, only the final state; above it even then, a note
TIME_LEVELS = 64  # plating-time colour levels: equal levels merge into larger rectangles
CUT_STEPS = 10  # positions of each cut slider
COPPER, HOST_GREY, HOST_DARK = "#b87333", "#8f8f8f", "#4d4d4d"
HOST_OPACITY = 0.35  # as in the static renders: Li inside the host stays visible through it
# the other two axes of each face normal, in the order that makes (u x w) point along +axis or -axis
_IN_PLANE = {0: (1, 2), 1: (0, 2), 2: (0, 1)}
_SIGN = {0: 1, 1: -1, 2: 1}  # e_u x e_w = _SIGN[axis] * e_axis


def boundary_faces(mask: np.ndarray) -> dict:
    """``{(axis, side): cells}``: the cells of ``mask`` [x, y, z] whose face on ``side`` (-1 or +1)
    of ``axis`` borders a cell outside the mask (or the domain's edge). The total count is the
    number of unit faces of the voxel surface."""
    mask = np.asarray(mask, bool)
    padded = np.pad(mask, 1)
    core = (slice(1, -1),) * 3
    faces = {}
    for axis in range(3):
        for side in (-1, 1):
            neighbour = np.roll(padded, -side, axis=axis)[core]  # the cell across that face
            faces[(axis, side)] = mask & ~neighbour
    return faces


def _runs(face: np.ndarray, value: np.ndarray):
    """Runs of equal-valued faces along the last axis of ``face`` [rows, n]: (row, start, length, value)."""
    same = np.zeros_like(face)
    same[:, 1:] = face[:, 1:] & face[:, :-1] & (value[:, 1:] == value[:, :-1])  # continues the run on its left
    start = face & ~same
    nxt = np.zeros_like(face)
    nxt[:, :-1] = same[:, 1:]
    end = face & ~nxt
    rows, cols = np.nonzero(start)
    _, ends = np.nonzero(end)  # row-major order: the k-th end closes the k-th start
    return rows, cols, ends - cols + 1, value[rows, cols]


def _rectangles(face: np.ndarray, value: np.ndarray, axis: int) -> np.ndarray:
    """Merge the faces of one direction into rectangles: rows ``(plane, u0, du, w0, dw, value)``
    (plane along ``axis``; u, w the in-plane axes of :data:`_IN_PLANE`). First runs along w,
    then equal runs in consecutive u rows join."""
    f = np.moveaxis(face, axis, 0)
    v = np.moveaxis(value, axis, 0)
    n_plane, n_u, n_w = f.shape
    row, w0, dw, val = _runs(f.reshape(-1, n_w), v.reshape(-1, n_w))
    plane, u = row // n_u, row % n_u
    order = np.lexsort((u, val, dw, w0, plane))
    plane, u, w0, dw, val = plane[order], u[order], w0[order], dw[order], val[order]
    key_same = np.ones(len(u), bool)
    key_same[0:1] = False
    key_same[1:] = (plane[1:] == plane[:-1]) & (w0[1:] == w0[:-1]) & (dw[1:] == dw[:-1]) & \
        (val[1:] == val[:-1]) & (u[1:] == u[:-1] + 1)
    first = np.flatnonzero(~key_same)
    du = np.diff(np.append(first, len(u)))
    return np.stack([plane[first], u[first], du, w0[first], dw[first], val[first]], axis=1)


def voxel_mesh(mask: np.ndarray, value=None, spacing: float = 1.0) -> dict:
    """The surface of the cells in ``mask`` [x, y, z] as a triangle mesh for ``go.Mesh3d``:
    ``x, y, z`` (float32, ``spacing`` per cell), ``i, j, k`` (uint16 or uint32), ``value`` per
    triangle (float32; from ``value`` per cell, 0 without one), ``faces`` (unit faces) and
    ``rectangles`` (after merging). Equal-valued coplanar neighbours share a rectangle."""
    mask = np.asarray(mask, bool)
    value = np.zeros(mask.shape, np.float32) if value is None else np.asarray(value, np.float32)
    corners, values, n_faces = [], [], 0
    for (axis, side), face in boundary_faces(mask).items():
        n_faces += int(face.sum())
        if not face.any():
            continue
        rect = _rectangles(face, value, axis)
        plane = rect[:, 0].astype(np.int64) + (side > 0)
        u0, u1 = rect[:, 1].astype(np.int64), (rect[:, 1] + rect[:, 2]).astype(np.int64)
        w0, w1 = rect[:, 3].astype(np.int64), (rect[:, 3] + rect[:, 4]).astype(np.int64)
        quad = np.zeros((len(rect), 4, 3), np.int64)
        ua, wa = _IN_PLANE[axis]
        quad[:, :, axis] = plane[:, None]
        quad[:, :, ua] = np.stack([u0, u1, u1, u0], axis=1)
        quad[:, :, wa] = np.stack([w0, w0, w1, w1], axis=1)
        if _SIGN[axis] * side < 0:  # wind the quad so its normal points out of the solid
            quad = quad[:, ::-1]
        corners.append(quad)
        values.append(rect[:, 5])
    if not corners:
        empty = np.zeros(0, np.float32)
        return {"x": empty, "y": empty, "z": empty, "i": np.zeros(0, np.uint16), "j": np.zeros(0, np.uint16),
                "k": np.zeros(0, np.uint16), "value": empty, "faces": 0, "rectangles": 0}
    quads = np.concatenate(corners)
    points, index = np.unique(quads.reshape(-1, 3), axis=0, return_inverse=True)  # shared vertices
    index = index.reshape(-1, 4).astype(np.uint16 if len(points) < 65536 else np.uint32)
    tri = np.concatenate([index[:, [0, 1, 2]], index[:, [0, 2, 3]]])
    xyz = (points * spacing).astype(np.float32)
    per_rect = np.concatenate(values).astype(np.float32)
    return {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "i": tri[:, 0], "j": tri[:, 1], "k": tri[:, 2],
            "value": np.concatenate([per_rect, per_rect]), "faces": n_faces, "rectangles": len(quads)}


def _frame_indices(n: int, count: int) -> list:
    """``count`` (<= n) of n snapshot indices, evenly spread, first and last included."""
    return sorted({round(k * (n - 1) / max(count - 1, 1)) for k in range(min(n, count))})


def _read_frames(run, max_frames: int) -> list:
    """[(time [s], fields, meta)] of up to ``max_frames`` snapshots of ``run`` (a RunResult), the
    final one last; only the fields the view draws are decoded."""
    names = ["solid_fraction", "conducting", "li_fraction", "plating_time_s"]
    paths = [(t, p) for t, p in run.snapshots] or ([(None, run.final_snapshot)] if run.final_snapshot else [])
    chosen = [paths[i] for i in _frame_indices(len(paths), max_frames)]
    frames = []
    for t, path in chosen:
        fields, meta = run.read_snapshot(path, fields=names)
        frames.append((meta.get("time_s", t) or 0.0, fields, meta))
    return frames


def _mesh_trace(mesh: dict, name: str, **style):
    """One ``go.Mesh3d`` of a :func:`voxel_mesh` (flat-shaded cubes; no hover: picking every
    triangle of a large mesh makes rotating sluggish)."""
    import plotly.graph_objects as go

    return go.Mesh3d(x=mesh["x"], y=mesh["y"], z=mesh["z"], i=mesh["i"], j=mesh["j"], k=mesh["k"], name=name,
                     showlegend=True, flatshading=True, hoverinfo="skip",
                     lighting={"ambient": 0.55, "diffuse": 0.7, "specular": 0.1}, **style)


def _li_trace(fields: dict, t_max: float, spacing: float):
    """The Li cells (fraction >= 0.5 outside the solid) coloured by their plating time, quantised
    to :data:`TIME_LEVELS` levels over [0, t_max]."""
    li = (fields["li_fraction"] >= 0.5) & (fields["solid_fraction"] < 0.5)
    step = max(t_max, 1e-12) / (TIME_LEVELS - 1)
    level = np.clip(np.round(np.nan_to_num(fields["plating_time_s"]) / step), 0, TIME_LEVELS - 1)
    mesh = voxel_mesh(li, level * step, spacing)
    return _mesh_trace(mesh, "Li (plating time)", intensity=mesh["value"], intensitymode="cell",
                       colorscale="Plasma", cmin=0.0, cmax=t_max,
                       colorbar={"title": {"text": "plating time [s]"}, "len": 0.6, "thickness": 14})


def _host_traces(fields: dict, meta: dict, spacing: float) -> list:
    """Collector (the bottom ``collector_layers`` layers of solid) and host solid, conducting and
    non-conducting apart; a part with no cells is left out."""
    solid = fields["solid_fraction"] >= 0.5
    collector = np.zeros_like(solid)
    collector[:, :, : int(meta.get("collector_layers") or 0)] = True
    collector &= solid
    host = solid & ~collector
    conducting = fields["conducting"] >= 0.5
    parts = [(collector, "Cu collector", {"color": COPPER}),
             (host & conducting, "host (conducting)", {"color": HOST_GREY, "opacity": HOST_OPACITY}),
             (host & ~conducting, "host (non-conducting)", {"color": HOST_DARK, "opacity": HOST_OPACITY})]
    return [_mesh_trace(voxel_mesh(m, None, spacing), name, **style) for m, name, style in parts if m.any()]


def _time_label(t: float) -> str:
    return f"{t:.0f} s" if t < 120 else f"{t / 60:.1f} min" if t < 7200 else f"{t / 3600:.2f} h"


def _cut_sliders(extent: np.ndarray, pad: np.ndarray) -> list:
    """Two sliders that cut by setting an axis range (see the module docstring): keep x >= x0, keep z <= z0."""
    lo, hi = -pad, extent + pad
    x_steps = [{"method": "relayout", "label": "off" if k == 0 else f"{x:.2f}",
                "args": [{"scene.xaxis.range": [float(x), float(hi[0])]}]}
               for k, x in enumerate(np.linspace(lo[0], extent[0] * (1 - 1 / CUT_STEPS), CUT_STEPS))]
    z_steps = [{"method": "relayout", "label": "off" if k == 0 else f"{z:.2f}",
                "args": [{"scene.zaxis.range": [float(lo[2]), float(z)]}]}
               for k, z in enumerate(np.linspace(hi[2], extent[2] / CUT_STEPS, CUT_STEPS))]
    common = {"x": 0.0, "len": 0.48, "pad": {"t": 0, "b": 0}, "font": {"size": 11}}
    return [{**common, "y": 0.0, "steps": x_steps, "currentvalue": {"prefix": "cut, keep x ≥ [µm]: "}},
            {**common, "x": 0.52, "y": 0.0, "steps": z_steps,
             "currentvalue": {"prefix": "cut, keep z ≤ [µm]: "}}]


def _eye(extent: np.ndarray) -> dict:
    """Camera position from front-right-above, far enough that the whole box shows: plotly's "data"
    aspect scales the box to a geometric mean of 1, so a tall thin column needs a far eye."""
    ratio = extent / np.cbrt(np.prod(extent))
    d = np.array([1.0, -1.0, 0.65]) / np.linalg.norm([1.0, -1.0, 0.65]) * 1.45 * max(float(ratio.max()), 1.3)
    return {"x": float(d[0]), "y": float(d[1]), "z": float(d[2])}


def _time_slider(times: list) -> dict:
    """Frame slider: each step animates the Li trace to that snapshot (no transition)."""
    steps = [{"method": "animate", "label": _time_label(t),
              "args": [[f"f{k}"], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                   "transition": {"duration": 0}}]} for k, t in enumerate(times)]
    return {"active": len(times) - 1, "x": 0.0, "y": 0.16, "len": 1.0, "pad": {"t": 0, "b": 0},
            "steps": steps, "currentvalue": {"prefix": "time: "}, "font": {"size": 11}}


def host_figure(run, max_frames: int = MAX_FRAMES):
    """The interactive figure of one host (a :class:`hostsim.run.results.RunResult`): collector and
    host of the final snapshot, the Li of up to ``max_frames`` snapshots as animation frames,
    the final one shown first."""
    import plotly.graph_objects as go

    frames = _read_frames(run, max_frames)
    _, final, meta = frames[-1]
    spacing = float(meta.get("voxel_size_m") or 1e-6) * 1e6  # µm
    t_max = max(float(np.nanmax(f["plating_time_s"])) for _, f, _ in frames) or 1.0
    traces = _host_traces(final, meta, spacing)
    li = [_li_trace(f, t_max, spacing) for _, f, _ in frames]
    fig = go.Figure(data=[*traces, li[-1]],
                    frames=[go.Frame(data=[trace], traces=[len(traces)], name=f"f{k}") for k, trace in enumerate(li)])
    extent = np.asarray(final["solid_fraction"].shape, float) * spacing
    pad = 0.01 * extent  # faces on the domain's edge must not sit exactly on the clip bound
    axis = {"showbackground": False, "gridcolor": "#ddd"}
    fig.update_layout(
        template="none", height=680, margin={"l": 0, "r": 0, "t": 30, "b": 75}, uirevision="keep",
        legend={"x": 0.0, "y": 1.0, "itemclick": "toggle", "title": {"text": "click to hide/show"}},
        scene={"domain": {"y": [0.24, 1.0]}, "aspectmode": "data", "camera": {"eye": _eye(extent)},
               **{f"{a}axis": {**axis, "title": {"text": f"{a} [µm]"}, "range": [float(-pad[n]), float(extent[n] + pad[n])]}
                  for n, a in enumerate("xyz")}},
        sliders=[_time_slider([t for t, _, _ in frames]), *_cut_sliders(extent, pad)])
    return fig


def plotly_script() -> str:
    """plotly's bundled JavaScript in one inline ``<script>``: once per page, before the views."""
    from plotly.offline import get_plotlyjs

    return f"<script type='text/javascript'>{get_plotlyjs()}</script>"


def _view(name: str, run, div_id: str) -> str:
    """One host's view as an HTML fragment, or a one-line note saying why there is none."""
    cells = int(np.prod(run.summary.get("grid_voxels") or [0]))
    if not run.snapshots and run.final_snapshot is None:
        return f"<p class='note'>{html.escape(name)}: no snapshot files (*_fields.pvd, *_fields_final.vti), no 3D view.</p>"
    if cells > MAX_CELLS:
        return (f"<p class='note'>{html.escape(name)}: {cells:,} cells is too large for a view in the page "
                f"(limit {MAX_CELLS:,}); open {html.escape(name)}_fields.pvd in ParaView.</p>")
    try:
        fig = host_figure(run)
        if len(fig.to_json()) > MAX_BYTES:  # too many frames for the page: the final state only
            fig = host_figure(run, max_frames=1)
        size = len(fig.to_json())
        if size > MAX_BYTES:
            return (f"<p class='note'>{html.escape(name)}: the view would take {size / 1e6:.1f} MB "
                    f"(limit {MAX_BYTES / 1e6:.0f} MB per host), left out; see the renders above.</p>")
    except Exception as e:  # a bad or missing snapshot must not take the report down
        return f"<p class='note'>{html.escape(name)}: 3D view left out: {html.escape(f'{type(e).__name__}: {e}')}</p>"
    config = {"displaylogo": False, "responsive": True, "scrollZoom": True}
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=config, auto_play=False,
                       default_height=f"{fig.layout.height}px")  # a fixed height: links to a view land right


def interactive_section(runs: dict, title: str = "Interactive 3D view") -> str:
    """The page section for ``runs`` (label -> RunResult): a heading, plotly's script once, and
    one view (or a note) per host, each in a ``<div id="view-LABEL">`` to link to."""
    parts = [f"<h2 id='interactive-3d-view'>{html.escape(title)}</h2>",
             "<p>Drag to rotate, scroll to zoom; the time slider picks the snapshot; click a legend entry to "
             "hide or show a material; the cut sliders keep x ≥ x0 (a section through the host) or z ≤ z0.</p>"]
    views = []
    for n, (name, run) in enumerate(runs.items()):
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))
        views.append(f"<h3 id='view-{safe}'>{html.escape(str(name))}</h3>"
                     + _view(str(name), run, f"interactive-{n}-{safe}"))
    if any("Plotly.newPlot" in v for v in views):
        parts.append(plotly_script())
    return "\n".join(parts + views)

