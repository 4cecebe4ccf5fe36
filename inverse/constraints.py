"""Design constraints measured on a crisp design: feature sizes and the conductor's connection to
the collector. Plain numpy/scipy on the thresholded fields: these are
reported and logged (and checked in the verification), not differentiated.

* :func:`local_thickness` — per voxel of a phase, the diameter of the largest ball inside the
  phase that covers the voxel (Hildebrand & Rüegsegger 1997, J. Microsc. 185, 67; the definition
  PoreSpy's ``local_thickness`` and BoneJ use), in voxels;
* :func:`feature_sizes` — the solid and pore feature sizes of a design [µm] (minimum, lower
  quartile and median local thickness);
* :func:`connected_host_fraction` — the share of the host's conducting volume connected
  (6-connected) to the collector: floating metal carries no current.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def local_thickness(mask, periodic_lateral: bool = False) -> np.ndarray:
    """Local thickness [voxels] of the ``True`` phase (0 outside it).

    Each voxel's distance to the other phase ``d`` (Euclidean, voxel centres) is the radius of
    the largest ball centred there; a voxel's thickness is ``2 r - 1`` for the largest such ball
    that covers it (``2 r - 1``: a slab ``n`` voxels thick has centre distances up to
    ``(n + 1) / 2``, so this reads ``n``; voxel centres resolve odd sizes, an even ``n`` reads
    ``n - 1``). Radii above 5 voxels are binned down to 1/2 voxel. With ``periodic_lateral`` the first two axes
    wrap."""
    mask = np.asarray(mask, bool)
    if periodic_lateral:
        # wrap by the largest ball that can matter (a tile's own size at most)
        px, py = (min(n, int(np.ceil(ndimage.distance_transform_edt(mask).max())) * 2 + 2) for n in mask.shape[:2])
        full = local_thickness(np.pad(mask, [(px, px), (py, py), (0, 0)], mode="wrap"))
        return full[px:px + mask.shape[0], py:py + mask.shape[1]]
    dist = ndimage.distance_transform_edt(mask)
    thickness = np.zeros(mask.shape)
    # radii: the exact centre distances sqrt(integer) up to 5 voxels, then steps of 1/2 voxel (binned
    # down; a little thinner than exact for thick features, where it matters least). A voxel lies in
    # a ball of radius r - 1/2 centred at some c with dist(c) >= r  <=>  its distance to the set of
    # such centres is <= r - 1/2 (one distance transform per radius, not one dilation per ball)
    small = np.unique(dist[(dist > 0) & (dist <= 5.0)])
    for r in np.concatenate([small, np.arange(5.5, np.floor(2.0 * dist.max()) / 2.0 + 0.25, 0.5)]):
        centres = dist >= r
        covered = (ndimage.distance_transform_edt(~centres) <= r - 0.5) & mask
        thickness = np.where(covered, np.maximum(thickness, 2.0 * r - 1.0), thickness)
    return thickness


def feature_sizes(s, voxel_size: float, periodic_lateral: bool = True) -> dict:
    """Feature sizes of the slab field ``s`` thresholded at 1/2 [µm], per phase (solid, pore): the
    smallest local thickness, its lower quartile and its median. The minimum is a stair-step
    corner voxel on any curved surface (one voxel); the quartile and median say what the
    design's features are."""
    solid = np.asarray(s) > 0.5
    out = {}
    for name, phase in (("solid", solid), ("pore", ~solid)):
        t = local_thickness(phase, periodic_lateral)[phase] * voxel_size * 1e6
        for key, value in (("min", np.min), ("p25", lambda v: np.quantile(v, 0.25)), ("median", np.median)):
            out[f"{name}_feature_{key}_um"] = float(value(t)) if t.size else float("nan")
    return out


def connected_host_fraction(s, k, collector_layers: int, lateral_periodic: bool = True) -> float:
    """Share of the conducting host voxels (``s k > 1/2``) 6-connected to the collector layers."""
    conductor = np.asarray(s) * np.asarray(k) > 0.5
    conductor[:, :, :collector_layers] = True
    if lateral_periodic:
        # wrap laterally by labelling a 3x3 tiling and keeping the centre tile's labels
        tiled = np.tile(conductor, (3, 3, 1))
        labels, _ = ndimage.label(tiled)
        nx, ny = conductor.shape[:2]
        labels = labels[nx:2 * nx, ny:2 * ny]
    else:
        labels, _ = ndimage.label(conductor)
    anchor = np.unique(labels[:, :, 0])
    anchor = anchor[anchor > 0]
    connected = np.isin(labels, anchor)
    host = conductor.copy()
    host[:, :, :collector_layers] = False
    return float(connected[host].sum() / max(host.sum(), 1))


__all__ = ["connected_host_fraction", "feature_sizes", "local_thickness"]
