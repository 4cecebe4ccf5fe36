"""The numbers every build reports: porosity, surface area, pore size, conducting fraction and
6-connected percolation through the thickness.

Definitions (slab = the host layers between the collector and ``host_top``):

* ``porosity``: slab mean of ``1 - s``; ``electrolyte_fraction``: slab mean of ``1 - s - theta``.
* ``surface_area_ratio`` [m²/m²]: wetted solid area (host and exposed collector) per projected
  area — 1 for a flat foil. ``specific_surface_area_m2_per_m3``: host–electrolyte area inside
  the slab per slab volume (exposed collector area excluded; None without a slab). Areas come
  from the coarea formula ``A = ∫ |∇u| dV`` on ``u`` = the solid fraction smoothed by a Gaussian
  of one voxel: for smooth fields and for crisp voxels alike it measures the underlying surface
  (a sphere of radius 10 voxels to ~1 %), where counting voxel faces would overestimate curved
  surfaces by up to 50 %.
* ``mean_host_distance_um``: mean, over electrolyte voxels of the slab, of the Euclidean
  distance to the nearest host/collector voxel (a pore-size measure; periodic laterally).
* ``conducting_fraction``: share of the slab's host volume that is electronically conducting,
  ``sum(s k) / sum(s)``; ``conducting_connected_fraction``: share of conducting voxels
  (``s k + theta > 0.5``; Li conducts) 6-connected to the collector — the rest cannot plate.
* ``pore_percolates``: electrolyte voxels (``eps > 0.5``) connect the top of the box to the
  collector face by 6-connectivity; ``conductor_percolates``: conducting voxels connect the
  collector to the top layer of the slab (within one voxel: a packing's top
  is a sphere's cap). 6-connectivity because the 7-point stencil only
  couples voxels across faces: an edge- or corner-touching path carries no flux.
* ``conductor_reach_um``: how high above the collector the collector-connected conductor goes.
* ``lithiophilic_area_fraction``: area-weighted mean of ``l`` over the host surface.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage

from hostsim import label_clusters, percolating_mask

from ._host import HostFields


@dataclasses.dataclass
class HostReport:
    family: str
    shape: tuple
    voxel_size_um: float
    thickness_um: float
    porosity: float | None
    electrolyte_fraction: float | None
    infused_li_fraction: float | None
    surface_area_ratio: float
    specific_surface_area_m2_per_m3: float | None
    mean_host_distance_um: float | None
    conducting_fraction: float | None
    conducting_connected_fraction: float | None
    lithiophilic_area_fraction: float | None
    pore_percolates: bool
    conductor_percolates: bool
    conductor_reach_um: float
    warnings: list = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        return d

    def lines(self) -> list[tuple[str, str]]:
        """(label with unit, value) rows for a table."""

        def f(v, fmt="{:.4f}"):
            return "n/a" if v is None else fmt.format(v)

        return [
            ("family", self.family),
            ("grid [voxels]", "x".join(map(str, self.shape))),
            ("voxel size [µm]", f"{self.voxel_size_um:g}"),
            ("host thickness [µm]", f"{self.thickness_um:g}"),
            ("porosity [-]", f(self.porosity)),
            ("electrolyte fraction [-]", f(self.electrolyte_fraction)),
            ("pre-infused Li fraction [-]", f(self.infused_li_fraction)),
            ("surface area / projected area [m²/m²]", f(self.surface_area_ratio, "{:.3f}")),
            ("specific surface area [m²/m³]", f(self.specific_surface_area_m2_per_m3, "{:.4g}")),
            ("mean host-to-electrolyte distance [µm]", f(self.mean_host_distance_um, "{:.4g}")),
            ("conducting fraction of host [-]", f(self.conducting_fraction)),
            ("conductor connected to collector [-]", f(self.conducting_connected_fraction)),
            ("lithiophilic area fraction [-]", f(self.lithiophilic_area_fraction)),
            ("pore space percolates (6-conn.)", "yes" if self.pore_percolates else "NO"),
            ("conductor percolates (6-conn.)", "yes" if self.conductor_percolates else "NO"),
            ("conductor reach above collector [µm]", f"{self.conductor_reach_um:.4g}"),
        ]


def _iso_surface(s: np.ndarray, h: float, periodic: bool):
    """Triangles of the ``s = 1/2`` iso-surface (marching cubes on the cell-centred field):
    per-triangle areas [m²] and centroids [m]. Laterally periodic fields are wrapped by one cell
    and triangles are kept when their centroid lies in the box; the collector and the top are
    continued one cell beyond the box so that a transition at an end cell is found."""
    import pyvista as pv

    from hostsim.run.io import _quiet_vtk

    _quiet_vtk()
    nx, ny, _ = s.shape
    lateral = "wrap" if periodic else "edge"
    u = np.pad(s, ((1, 1), (1, 1), (0, 0)), mode=lateral)
    u = np.pad(u, ((0, 0), (0, 0), (1, 1)), mode="edge")
    image = pv.ImageData(dimensions=u.shape, spacing=(h, h, h), origin=(-0.5 * h, -0.5 * h, -0.5 * h))
    image.point_data["s"] = u.ravel(order="F")
    surface = image.contour([0.5], scalars="s", method="marching_cubes")
    if surface.n_cells == 0:
        return np.zeros(0), np.zeros((0, 3))
    areas = np.asarray(surface.compute_cell_sizes(length=False, area=True, volume=False).cell_data["Area"])
    centroids = np.asarray(surface.cell_centers().points)
    inside = (centroids[:, 0] >= 0) & (centroids[:, 0] < nx * h) & (centroids[:, 1] >= 0) & (centroids[:, 1] < ny * h)
    return areas[inside], centroids[inside]


def _periodic_edt(solid: np.ndarray, h: float, periodic: bool) -> np.ndarray:
    """Distance [m] from every non-solid voxel to the nearest solid voxel."""
    if not solid.any():
        return np.full(solid.shape, np.inf)
    if not periodic:
        return ndimage.distance_transform_edt(~solid) * h
    nx, ny, _ = solid.shape
    px, py = nx // 2, ny // 2
    tiled = np.pad(solid, ((px, px), (py, py), (0, 0)), mode="wrap")
    d = ndimage.distance_transform_edt(~tiled) * h
    return d[px:px + nx, py:py + ny]


def host_report(fields: HostFields) -> HostReport:
    """Compute the report of a built host (numpy/scipy, on concrete arrays)."""
    grid = fields.grid
    h = grid.voxel_size
    periodic = grid.lateral == "periodic"
    lateral_axes = (0, 1) if periodic else ()
    s = np.asarray(fields.s, np.float64)
    k = np.asarray(fields.k, np.float64)
    l = np.asarray(fields.l, np.float64)
    theta = np.asarray(fields.theta, np.float64)
    nx, ny, nz = s.shape
    c, top = fields.collector_layers, fields.host_top
    has_slab = top > c
    slab = (slice(None), slice(None), slice(c, top))
    projected = nx * ny * h * h
    warnings = []

    # areas (marching cubes on s = 1/2); crisp voxels are first smoothed by a Gaussian of 0.6
    # voxel, which takes the staircase's +8.5 % off (sphere of radius 5-10 voxels: -1 %..+2 %)
    u = np.clip(s, 0, 1)
    if np.unique(u).size <= 3:
        mode = ["wrap" if periodic else "nearest"] * 2 + ["nearest"]
        u = ndimage.gaussian_filter(u, sigma=0.6, mode=mode)
    areas, centroids = _iso_surface(u, h, periodic)
    surface_ratio = float(areas.sum()) / projected
    in_slab = centroids[:, 2] > (c + 0.25) * h  # the exposed collector face lies at z = c h
    cells = np.clip(np.floor(centroids / h).astype(int), 0, np.array(s.shape) - 1)
    host_areas = areas[in_slab]
    l_at = l[cells[in_slab, 0], cells[in_slab, 1], cells[in_slab, 2]]
    lithiophilic_area = float((host_areas * l_at).sum() / host_areas.sum()) if host_areas.sum() > 0 else None

    porosity = electrolyte = infused = ssa = mean_dist = cond_frac = None
    if has_slab:
        porosity = float(np.mean(1.0 - s[slab]))
        electrolyte = float(np.mean(1.0 - s[slab] - theta[slab]))
        infused = float(np.mean(theta[slab]))
        slab_volume = nx * ny * (top - c) * h**3
        ssa = float(host_areas.sum()) / slab_volume
        host_volume = float(s[slab].sum())
        cond_frac = float((s[slab] * k[slab]).sum() / host_volume) if host_volume > 0 else None
        dist = _periodic_edt(s > 0.5, h, periodic)
        pores = (1.0 - s - theta)[slab] > 0.5
        mean_dist = float(dist[slab][pores].mean() * 1e6) if pores.any() else None

    # percolation (6-connectivity)
    pore = (1.0 - s - theta) > 0.5
    pore_path = pore[:, :, c:] if c < nz else pore
    pore_ok = bool(percolating_mask(pore_path, axis=2, periodic_axes=lateral_axes).any()) if c < nz else False
    conducting = (s * k + theta) > 0.5
    region = conducting[:, :, : max(top, 1)]
    labels = label_clusters(region, lateral_axes)
    anchored_ids = np.unique(labels[:, :, 0])
    anchored = np.isin(labels, anchored_ids[anchored_ids > 0])
    # reaches the top layer of the slab (within one voxel); a slab layer must hold it, not the collector
    cond_ok = bool(anchored[:, :, max(top - 2, c):].any()) if top > c else True
    layers = np.nonzero(anchored.any(axis=(0, 1)))[0]
    reach = float((layers.max() + 1 - c) * h * 1e6) if layers.size else 0.0
    slab_conducting = conducting[slab]
    connected = None
    if has_slab and slab_conducting.any():
        connected = float(anchored[:, :, c:top].sum() / slab_conducting.sum())

    thickness_um = (top - c) * h * 1e6
    if not pore_ok:
        warnings.append("the pore space does not percolate (6-connected) from the separator side to the collector: "
                        "ions reach the deeper host only through partial voxels or not at all")
    if has_slab and not cond_ok:
        warnings.append(f"the conducting phase does not percolate through the thickness (6-connected): it reaches "
                        f"{reach:.3g} of {thickness_um:.3g} µm above the collector")
    if connected is not None and connected < 0.9:
        warnings.append(f"{100 * (1 - connected):.0f} % of the conducting host is not 6-connected to the collector "
                        "(electronically isolated: it cannot plate)")
    return HostReport(
        family=fields.family, shape=tuple(int(n) for n in s.shape), voxel_size_um=h * 1e6, thickness_um=thickness_um,
        porosity=porosity, electrolyte_fraction=electrolyte, infused_li_fraction=infused,
        surface_area_ratio=surface_ratio, specific_surface_area_m2_per_m3=ssa, mean_host_distance_um=mean_dist,
        conducting_fraction=cond_frac, conducting_connected_fraction=connected,
        lithiophilic_area_fraction=lithiophilic_area, pore_percolates=pore_ok, conductor_percolates=cond_ok,
        conductor_reach_um=reach, warnings=warnings,
    )


def _finite(x):
    return x is not None and math.isfinite(x)
