"""Smooth signed-distance primitives and the occupancy map that turns them into voxel fractions.

Every builder in :mod:`geometries` describes its solid as a *signed distance* ``d`` [m]
(negative inside the solid) and converts it to a voxel fraction with :func:`occupancy`:

* smooth (default): ``s = sigmoid(-d / beta)`` with ``beta = h / 4``. The logistic has the
  same slope at ``d = 0`` as the exact partial-volume ramp of a grid-aligned plane
  (``clip(1/2 - d/h, 0, 1)``), and it is symmetric, so volumes are unbiased to first order
  while every continuous parameter that moves ``d`` has a non-zero, exact derivative;
* sharp: ``s = (d < 0)`` — crisp 0/1 voxels for export and for codes that want labels.

Distances are measured to voxel centres (``(i + 1/2) h``). Lateral periodicity (the
lateral faces are periodic by default) is handled by evaluating the 3 x 3 lateral images of
each primitive and keeping the nearest.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def cell_centres(shape, voxel_size, dtype) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Broadcastable x, y, z coordinates [m] of the cell centres, shapes (nx,1,1), (1,ny,1), (1,1,nz)."""
    nx, ny, nz = shape
    x = (jnp.arange(nx, dtype=dtype) + 0.5) * voxel_size
    y = (jnp.arange(ny, dtype=dtype) + 0.5) * voxel_size
    z = (jnp.arange(nz, dtype=dtype) + 0.5) * voxel_size
    return x[:, None, None], y[None, :, None], z[None, None, :]


def occupancy(signed_distance: jax.Array, voxel_size: float, sharp: bool = False) -> jax.Array:
    """Voxel solid fraction from a signed distance [m] (negative inside)."""
    if sharp:
        return (signed_distance < 0).astype(signed_distance.dtype)
    return jax.nn.sigmoid(-signed_distance / (0.25 * voxel_size))


def lateral_images(periodic: bool, lengths) -> np.ndarray:
    """Lateral offsets [m] (m, 2) of the periodic images to test (only the origin when not periodic)."""
    if not periodic:
        return np.zeros((1, 2))
    lx, ly = lengths
    return np.array([(i * lx, j * ly) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)


def segment_distance(centres, a, b, images) -> jax.Array:
    """Distance [m] from every cell centre to the segment ``a``–``b`` (nearest lateral image).

    ``centres`` from :func:`cell_centres`; ``a``, ``b`` length-3 arrays [m]; ``images`` from
    :func:`lateral_images`. The distance is smooth in ``a`` and ``b`` away from the medial
    surfaces where two images are equally near.
    """
    x, y, z = centres
    ab = b - a
    length2 = jnp.maximum(jnp.dot(ab, ab), 1e-30)
    best = None
    for m in range(images.shape[0]):
        ox, oy = images[m, 0], images[m, 1]
        px, py, pz = x - (a[0] + ox), y - (a[1] + oy), z - a[2]
        t = jnp.clip((px * ab[0] + py * ab[1] + pz * ab[2]) / length2, 0.0, 1.0)
        d2 = (px - t * ab[0]) ** 2 + (py - t * ab[1]) ** 2 + (pz - t * ab[2]) ** 2
        best = d2 if best is None else jnp.minimum(best, d2)
    return jnp.sqrt(best + 1e-30)


def point_distance(centres, p, images) -> jax.Array:
    """Distance [m] from every cell centre to the point ``p`` (nearest lateral image)."""
    x, y, z = centres
    best = None
    for m in range(images.shape[0]):
        ox, oy = images[m, 0], images[m, 1]
        d2 = (x - p[0] - ox) ** 2 + (y - p[1] - oy) ** 2 + (z - p[2]) ** 2
        best = d2 if best is None else jnp.minimum(best, d2)
    return jnp.sqrt(best + 1e-30)


def slab(centres, bottom: float, top: float, voxel_size: float, sharp: bool) -> jax.Array:
    """Fraction of each cell inside the through-plane slab ``bottom <= z <= top`` [m]."""
    z = centres[2]
    return occupancy(jnp.maximum(bottom - z, z - top), voxel_size, sharp)


def soft_union(a: jax.Array, b: jax.Array) -> jax.Array:
    """Union of two fractions treated as independent: ``1 - (1 - a)(1 - b)`` (exact for 0/1)."""
    return a + b - a * b


def random_directions(rng: np.random.Generator, n: int, max_tilt_deg: float | None) -> np.ndarray:
    """Unit vectors (n, 3): isotropic when ``max_tilt_deg`` is None, else in-plane tilted by
    at most ``max_tilt_deg`` out of the x-y plane (uniform in azimuth)."""
    if max_tilt_deg is None:
        v = rng.standard_normal((n, 3))
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    azimuth = rng.uniform(0, 2 * np.pi, n)
    tilt = np.deg2rad(rng.uniform(-max_tilt_deg, max_tilt_deg, n))
    return np.stack([np.cos(azimuth) * np.cos(tilt), np.sin(azimuth) * np.cos(tilt), np.sin(tilt)], axis=1)


def fibre_images(a: np.ndarray, b: np.ndarray, reach: float, lengths, periodic: bool) -> np.ndarray:
    """Per fibre, the lateral image offsets (n, m, 2) [m] that can come within ``reach`` of the box.

    A fibre whose extent is shorter than the box crosses at most one x edge and one y edge, so
    four images (the 2 x 2 block towards the edges it crosses) suffice; without periodicity only
    the fibre itself (m = 1).
    """
    n = a.shape[0]
    if not periodic:
        return np.zeros((n, 1, 2))
    out = np.zeros((n, 4, 2))
    for d, length in enumerate(lengths):
        lo = np.minimum(a[:, d], b[:, d]) - reach
        hi = np.maximum(a[:, d], b[:, d]) + reach
        shift = np.where(lo < 0, length, np.where(hi > length, -length, 0.0))
        if d == 0:
            out[:, 1, 0] = shift
            out[:, 3, 0] = shift
        else:
            out[:, 2, 1] = shift
            out[:, 3, 1] = shift
    return out
