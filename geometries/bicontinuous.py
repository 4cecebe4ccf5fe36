"""Bicontinuous porous host (dealloyed porous Cu; Yun et al., Adv. Mater. 28, 6932 (2016)).

A Gaussian random field with correlation length ``feature_size`` thresholded at the quantile of
the requested porosity. Physical units in, voxels out.
"""

from __future__ import annotations

import numpy as np

from hostsim.media import random_two_phase


def bicontinuous(
    size_um=(16.0, 16.0, 16.0),
    voxel_size_um: float = 0.25,
    porosity: float = 0.5,
    feature_size_um: float = 0.5,
    seed: int = 0,
) -> np.ndarray:
    """Return a ``uint8`` volume, 1 = pore, 0 = host solid, indexed ``[x, y, z]``.

    Args:
        size_um: box edge lengths [µm].
        voxel_size_um: voxel edge [µm].
        porosity: pore volume fraction.
        feature_size_um: smoothing length of the random field [µm] (ligament scale).
        seed: random seed (deterministic).
    """
    if voxel_size_um <= 0:
        raise ValueError(f"voxel_size_um must be > 0; got {voxel_size_um}")
    shape = tuple(max(1, int(round(s / voxel_size_um))) for s in size_um)
    return random_two_phase(shape, porosity, feature_size_um / voxel_size_um, seed)
