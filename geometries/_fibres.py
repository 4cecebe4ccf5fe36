"""Random fibre networks with an exactly met porosity (shared by the skeleton, nanowire and
scaffold families).

Fibres are straight segments (cylinders with spherical caps) whose axes are drawn once from the
seed: centres uniform in the host slab, directions isotropic or in-plane with a bounded tilt.
The solid is the union of the first ``n`` fibres of that fixed, seeded sequence, with the
union taken as ``1 - prod_i (1 - w_i s_i)`` (exact for 0/1 voxels, smooth otherwise).

**How porosity is met.** Fibre diameter and porosity are both physical inputs, so the free
quantity is the fibre count. A first, non-differentiated pass walks the sequence and finds the
``n`` at which the slab porosity first drops below the target; the last fibre then enters with a
fractional weight ``f = (m_n - porosity) / g_n`` (``m_n``: porosity with ``n`` fibres,
``g_n``: the porosity the next fibre removes), so the achieved porosity equals the target
exactly (smooth fields) and every output is differentiable in porosity, diameter and coating
thickness — ``f`` carries the derivative of the count. With ``sharp=True`` the last fibre is in
or out (``f`` rounded), so porosity is met to within one fibre's volume.

**Memory.** The union is accumulated as a sum of ``log(1 - w s)`` with each fibre's term
under :func:`jax.checkpoint`, so reverse-mode differentiation stores the fibre axes, not one
volume per fibre.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._sdf import occupancy, segment_distance

_LOG_FLOOR = 1e-6  # s is clipped to 1 - 1e-6 inside log(1 - s): keeps float32 finite


def fibre_axes(rng, n, lengths_m, bottom_m, top_m, fibre_length_m, directions) -> tuple[np.ndarray, np.ndarray]:
    """End points (n, 3) of ``n`` fibre axes centred uniformly in the slab [m]."""
    lx, ly = lengths_m
    centres = np.stack([rng.uniform(0, lx, n), rng.uniform(0, ly, n), rng.uniform(bottom_m, top_m, n)], axis=1)
    half = 0.5 * fibre_length_m * directions
    return centres - half, centres + half


def expected_count(porosity: float, slab_volume: float, radius: float, fibre_length: float) -> int:
    """Boolean-model estimate of the fibres needed: porosity = exp(-n v / V), v = pi r^2 L."""
    v = np.pi * radius**2 * fibre_length + 4.0 / 3.0 * np.pi * radius**3
    return int(np.ceil(np.log(1.0 / porosity) * slab_volume / v))


def _log_term(centres, a, b, images, radius, weight, h, sharp, region):
    s = occupancy(segment_distance(centres, a, b, images) - radius, h, sharp) * region
    return jnp.log1p(-weight * jnp.minimum(s, 1.0 - _LOG_FLOOR)), s


def fibre_network(centres, a, b, images, radius, porosity, region, h, sharp, inner_radius=None):
    """Union of the first fibres of the sequence, with the count set so that the porosity inside
    ``region`` (a 0..1 weight field) equals ``porosity``.

    Returns ``(solid, inner)``: the solid fraction of the fibres of ``radius`` [m], and (when
    ``inner_radius`` is given) the fraction of their cores of ``inner_radius`` (the same fibres,
    same weights). Raises (under jit too) when the whole sequence cannot reach the porosity.
    """
    a = jnp.asarray(a, centres[0].dtype)
    b = jnp.asarray(b, centres[0].dtype)
    n_max = a.shape[0]
    volume = jnp.sum(region)

    # pass 1 (no derivative): porosity after each fibre -> integer count n
    def walk(log_q, ab):
        term, _ = _log_term(centres, ab[0], ab[1], ab[2], jax.lax.stop_gradient(radius), 1.0, h, sharp, region)
        log_q = log_q + term
        return log_q, jnp.sum(jnp.exp(log_q) * region) / volume

    images = jnp.asarray(images, region.dtype)
    _, after = jax.lax.scan(walk, jnp.zeros_like(region), (a, b, images))
    target = jax.lax.stop_gradient(porosity)
    n = jnp.sum(after > target).astype(jnp.int32)  # fibres that leave porosity above target
    a = eqx.error_if(
        a, n >= n_max,
        "fibre network: the seeded fibre sequence cannot reach the requested porosity "
        "(raise max_fibres or the fibre diameter)",
    )
    n = jnp.minimum(n, n_max - 1)

    # pass 2 (differentiable): full fibres i < n, then fibre n with fractional weight f
    @jax.checkpoint
    def terms(i, ai, bi, im):
        w = (i < n).astype(region.dtype)
        outer, _ = _log_term(centres, ai, bi, im, radius, w, h, sharp, region)
        if inner_radius is None:
            return outer, jnp.zeros_like(outer)
        inner, _ = _log_term(centres, ai, bi, im, inner_radius, w, h, sharp, region)
        return outer, inner

    def accumulate(carry, xs):
        lo, li = carry
        t_out, t_in = terms(*xs)
        return (lo + t_out, li + t_in), None

    zero = jnp.zeros_like(region)
    (log_outer, log_inner), _ = jax.lax.scan(accumulate, (zero, zero), (jnp.arange(n_max), a, b, images))
    last_a, last_b, last_im = a[n], b[n], images[n]
    _, s_last = _log_term(centres, last_a, last_b, last_im, radius, 1.0, h, sharp, region)
    q = jnp.exp(log_outer)
    f = (jnp.sum(q * region) / volume - porosity) / jnp.maximum(jnp.sum(q * s_last * region) / volume, 1e-12)
    f = jnp.clip(f, 0.0, 1.0)
    if sharp:
        f = jnp.round(jax.lax.stop_gradient(f))
    solid = 1.0 - q * (1.0 - f * s_last)
    inner = None
    if inner_radius is not None:
        _, s_last_in = _log_term(centres, last_a, last_b, last_im, inner_radius, 1.0, h, sharp, region)
        inner = 1.0 - jnp.exp(log_inner) * (1.0 - f * s_last_in)
    if sharp:  # undo the log floor: crisp 0/1
        solid = (solid > 0.5).astype(solid.dtype)
        inner = None if inner is None else (inner > 0.5).astype(inner.dtype)
    return solid, inner
