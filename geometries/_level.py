"""Level-set hosts: a smooth scalar field thresholded layer by layer to a porosity profile.

Used by the dealloyed (Gaussian random field) family and by the graded family. The level field
``ell`` [m] behaves like a signed distance (solid where ``ell < t_z``); for every voxel layer
``z`` of the host slab the threshold ``t_z`` is set so that the layer's porosity equals the
requested ``porosity[z]``: the starting guess is the layer quantile (exact for crisp voxels),
refined by three Newton steps on the smooth occupancy. Everything is differentiable (sort-based
quantile, unrolled Newton), so porosity profiles and the field's own parameters can be
optimised. Matching every layer (rather than the slab on average) removes the random
layer-to-layer porosity drift of a finite sample — a layer can never close by chance.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def threshold_layers(ell: jax.Array, porosity_z: jax.Array, voxel_size: float, sharp: bool) -> jax.Array:
    """Solid fraction from level field ``ell`` (nx, ny, nz) [m] with per-layer porosity ``porosity_z`` (nz,)."""
    nx, ny, nz = ell.shape
    flat = ell.reshape(nx * ny, nz)
    solid_target = 1.0 - porosity_z
    t = jax.vmap(lambda column, q: jnp.quantile(column, q), in_axes=(1, 0))(flat, solid_target)
    if sharp:
        return (ell < t[None, None, :]).astype(ell.dtype)
    beta = 0.25 * voxel_size
    for _ in range(3):
        s = jax.nn.sigmoid((t[None, :] - flat) / beta)
        residual = jnp.mean(s, axis=0) - solid_target
        slope = jnp.mean(s * (1.0 - s), axis=0) / beta
        t = t - residual / jnp.maximum(slope, 1e-12 / beta)
    return jax.nn.sigmoid((t[None, None, :] - ell) / beta)


def gaussian_random_field(noise, correlation_length: jax.Array, voxel_size: float) -> jax.Array:
    """Periodic Gaussian-filtered white noise, normalised to a level field in metres.

    ``noise`` is a fixed (seeded) white-noise array; the filter ``exp(-|k|^2 sigma^2 / 2)`` is
    applied in Fourier space so the field is differentiable in ``correlation_length`` (sigma,
    [m]). The result is divided by its rms gradient, so near its zero level it is a signed
    distance in metres on average.
    """
    shape = noise.shape
    ks = [2 * jnp.pi * jnp.fft.fftfreq(n, d=voxel_size) for n in shape[:2]] + [2 * jnp.pi * jnp.fft.rfftfreq(shape[2], d=voxel_size)]
    k2 = ks[0][:, None, None] ** 2 + ks[1][None, :, None] ** 2 + ks[2][None, None, :] ** 2
    spectrum = jnp.fft.rfftn(noise) * jnp.exp(-0.5 * k2 * correlation_length**2)
    field = jnp.fft.irfftn(spectrum, s=shape)
    grad2 = sum(jnp.fft.irfftn(1j * k * spectrum, s=shape) ** 2 for k in (ks[0][:, None, None], ks[1][None, :, None], ks[2][None, None, :]))
    return -field / jnp.sqrt(jnp.mean(grad2))
