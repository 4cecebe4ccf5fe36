"""Built-in random two-phase media (the default case and the benchmark volumes).

``random_two_phase`` thresholds a Gaussian-smoothed white-noise field at the quantile that gives
the requested porosity: a bicontinuous "blob" medium like a dealloyed porous metal or a
tomography of a packed electrode. It is deterministic for a seed (numpy's PCG64) and periodic
laterally (the smoothing wraps), so a periodic lateral boundary does not see a seam.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def random_two_phase(
    shape=(64, 64, 64),
    porosity: float = 0.5,
    blob_size: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """Return a ``uint8`` volume with 1 = pore (electrolyte) and 0 = solid.

    Args:
        shape: voxels along x, y, z.
        porosity: target pore fraction in (0, 1); met to within one voxel.
        blob_size: standard deviation of the Gaussian smoothing [voxels] (feature size).
        seed: seed of the white noise.
    """
    if not 0.0 < porosity < 1.0:
        raise ValueError(f"porosity must be in (0, 1); got {porosity}")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(tuple(int(n) for n in shape))
    field = ndimage.gaussian_filter(noise, sigma=blob_size, mode="wrap")
    threshold = np.quantile(field, porosity)
    return (field <= threshold).astype(np.uint8)
