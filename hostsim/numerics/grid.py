"""The voxel grid: shape, voxel size, lateral boundary kind and through-plane axis.

A :class:`Grid` is a pytree (an ``equinox.Module`` whose fields are all static), so it can
be closed over or passed through ``jit``/``vmap`` without being traced. Fields on the grid
are plain cell-centred arrays of shape ``grid.shape``; cell ``(i, j, k)`` has its centre at
``((i + 1/2) h, (j + 1/2) h, (k + 1/2) h)``.

Conventions:

* cubic voxels of edge ``voxel_size`` [m];
* the through-plane axis (default ``z``, index 2) runs from the current collector
  (index 0 side) to the separator (last index side);
* the two lateral axes are either ``"periodic"`` (default) or ``"no_flux"``;
* floating point precision is ``float32`` unless ``float64`` is asked for. float64 needs
  ``jax.config.update("jax_enable_x64", True)`` *before* arrays are created; asking for it
  without that raises a clear error instead of silently computing in float32.
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

LateralBoundary = Literal["periodic", "no_flux"]

_AXIS_NAMES = {"x": 0, "y": 1, "z": 2}


def axis_index(axis: int | str) -> int:
    """Return the axis index (0, 1, 2) for ``axis`` given as an int or as ``"x"``/``"y"``/``"z"``."""
    if isinstance(axis, str):
        try:
            return _AXIS_NAMES[axis.lower()]
        except KeyError:
            raise ValueError(f"axis must be one of 'x', 'y', 'z' or 0, 1, 2; got {axis!r}") from None
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be one of 'x', 'y', 'z' or 0, 1, 2; got {axis!r}")
    return int(axis)


def resolve_dtype(precision: str | np.dtype | type) -> np.dtype:
    """Map ``"float32"``/``"float64"`` (or a numpy float dtype) to a numpy dtype, checking x64."""
    dtype = np.dtype(precision)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"precision must be float32 or float64; got {precision!r}")
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "float64 was requested but JAX runs in 32-bit mode; call "
            "jax.config.update('jax_enable_x64', True) at start-up (the CLI does this for "
            "--precision float64)"
        )
    return dtype


class Grid(eqx.Module):
    """A box of ``shape`` cubic voxels of edge ``voxel_size`` metres.

    Attributes:
        shape: number of cells along x, y, z.
        voxel_size: voxel edge ``h`` [m].
        lateral: ``"periodic"`` or ``"no_flux"`` on the two axes other than ``axis``.
        axis: the through-plane axis (0, 1 or 2); Dirichlet/Neumann conditions are applied on
            its two end faces.
        dtype: floating point type of every field on this grid.
    """

    shape: tuple[int, int, int] = eqx.field(static=True)
    voxel_size: float = eqx.field(static=True, default=1e-6)
    lateral: LateralBoundary = eqx.field(static=True, default="periodic")
    axis: int = eqx.field(static=True, default=2)
    dtype: np.dtype = eqx.field(static=True, default=np.dtype(np.float32))

    def __check_init__(self):
        if len(self.shape) != 3 or any(int(n) < 1 for n in self.shape):
            raise ValueError(f"Grid.shape must be three positive ints; got {self.shape!r}")
        if not (self.voxel_size > 0):
            raise ValueError(f"Grid.voxel_size must be > 0 metres; got {self.voxel_size!r}")
        if self.lateral not in ("periodic", "no_flux"):
            raise ValueError(f"Grid.lateral must be 'periodic' or 'no_flux'; got {self.lateral!r}")
        if self.axis not in (0, 1, 2):
            raise ValueError(f"Grid.axis must be 0, 1 or 2; got {self.axis!r}")

    @classmethod
    def create(
        cls,
        shape,
        voxel_size: float = 1e-6,
        lateral: LateralBoundary = "periodic",
        axis: int | str = "z",
        precision: str = "float32",
    ) -> "Grid":
        """Build a grid, validating and normalising every argument."""
        return cls(
            shape=tuple(int(n) for n in shape),
            voxel_size=float(voxel_size),
            lateral=lateral,
            axis=axis_index(axis),
            dtype=resolve_dtype(precision),
        )

    @property
    def lateral_axes(self) -> tuple[int, int]:
        return tuple(d for d in range(3) if d != self.axis)  # type: ignore[return-value]

    @property
    def periodic(self) -> tuple[bool, bool, bool]:
        """Per axis: does the last cell couple to the first (periodic wrap)?"""
        return tuple(d != self.axis and self.lateral == "periodic" for d in range(3))  # type: ignore

    @property
    def length(self) -> tuple[float, float, float]:
        """Physical extent along each axis [m]."""
        return tuple(n * self.voxel_size for n in self.shape)  # type: ignore[return-value]

    @property
    def num_cells(self) -> int:
        return int(np.prod(self.shape))

    def zeros(self) -> jax.Array:
        return jnp.zeros(self.shape, self.dtype)

    def ones(self) -> jax.Array:
        return jnp.ones(self.shape, self.dtype)

    def full(self, value) -> jax.Array:
        return jnp.full(self.shape, value, self.dtype)

    def as_field(self, values) -> jax.Array:
        """Convert ``values`` to a cell-centred field on this grid (checks shape, casts dtype)."""
        arr = jnp.asarray(values, dtype=self.dtype)
        if arr.shape != self.shape:
            raise ValueError(f"field has shape {arr.shape}, grid has shape {self.shape}")
        return arr

    def cell_centres(self, axis: int | str) -> np.ndarray:
        """1-D coordinates [m] of the cell centres along ``axis``."""
        d = axis_index(axis)
        return (np.arange(self.shape[d]) + 0.5) * self.voxel_size
