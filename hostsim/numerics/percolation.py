"""Connectivity of the conducting phase along the transport axis (6-connectivity).

The 7-point stencil conducts through faces only, so two voxels are connected when they share a
face. A cluster that touches neither Dirichlet face has no defined
concentration (its block of the operator is singular); a cluster touching only one face carries
no flux. :func:`percolating_mask` keeps the clusters that touch *both* end faces of the axis;
everything else is decoupled before the solve. Periodic lateral boundaries merge clusters that
meet across the wrap.

These are numpy/scipy functions on concrete arrays (run once, before any jitted work).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _merge_periodic(labels: np.ndarray, axes) -> np.ndarray:
    """Merge labels of clusters that meet across periodic faces (union-find on label pairs)."""
    n = int(labels.max())
    parent = np.arange(n + 1)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for d in axes:
        if labels.shape[d] < 2:
            continue
        a = np.take(labels, 0, axis=d).ravel()
        b = np.take(labels, -1, axis=d).ravel()
        both = (a > 0) & (b > 0)
        for p, q in np.unique(np.stack([a[both], b[both]], axis=1), axis=0):
            rp, rq = find(int(p)), find(int(q))
            if rp != rq:
                parent[max(rp, rq)] = min(rp, rq)
    roots = np.array([find(i) for i in range(n + 1)])
    return roots[labels]


def label_clusters(conducting: np.ndarray, periodic_axes=()) -> np.ndarray:
    """Label 6-connected clusters of ``conducting`` voxels (0 = not conducting)."""
    labels, _ = ndimage.label(np.asarray(conducting, bool))
    if periodic_axes and labels.max() > 0:
        labels = _merge_periodic(labels, periodic_axes)
    return labels


def _face_labels(labels, axis):
    first = np.unique(np.take(labels, 0, axis=axis))
    last = np.unique(np.take(labels, -1, axis=axis))
    return first[first > 0], last[last > 0]


def percolating_mask(conducting: np.ndarray, axis: int, periodic_axes=()) -> np.ndarray:
    """Boolean mask of conducting voxels in clusters that touch both end faces of ``axis``."""
    labels = label_clusters(conducting, periodic_axes)
    first, last = _face_labels(labels, axis)
    return np.isin(labels, np.intersect1d(first, last))


def anchored_mask(conducting: np.ndarray, axis: int, periodic_axes=()) -> np.ndarray:
    """Boolean mask of conducting voxels in clusters that touch *at least one* end face.

    With Dirichlet conditions on both end faces, these are exactly the unknowns of a
    nonsingular system: pass the mask as ``active`` to :func:`hostsim.assemble` when the
    coefficient field has zeros (floating clusters make the operator singular, and the multigrid
    preconditioner then stalls).
    """
    labels = label_clusters(conducting, periodic_axes)
    first, last = _face_labels(labels, axis)
    return np.isin(labels, np.union1d(first, last))
