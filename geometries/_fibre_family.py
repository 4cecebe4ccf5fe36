"""Shared machinery of the fibre families (Cu skeleton, Cu nanowires, coated fibre scaffold)."""

from __future__ import annotations

import copy

import jax.numpy as jnp
import numpy as np

from ._fibres import expected_count, fibre_axes, fibre_network, fibre_windows
from hostsim import InputError

from ._host import HostFamily, Parameter, static
from ._sdf import fibre_images, random_directions

FIBRE_PARAMETERS = (
    Parameter("porosity", "-", "pore volume fraction of the host slab (met exactly by the fibre count)", low=0, high=1),
    Parameter("fibre_length_um", "µm", "length of each straight fibre segment (capped to fit the box)", low=0),
    Parameter("max_fibres", "-", "fibre candidates drawn from the seed (0 = automatic)", low=0, high=200000, low_inclusive=True, high_inclusive=True),
)


class FibreFamily(HostFamily):
    """A host made of random straight fibres; subclasses choose the fibre orientation (``tilt``)
    and what the fibres are made of."""

    fibre_length_um: float = static(3.0)
    max_fibres: int = static(0)
    window_radius_um: float = static(0.0)  # set at construction: 1.5 x the outer radius

    tilt_deg = None  # None: isotropic; a number: in-plane fibres tilted at most this much

    def outer_diameter_um(self):
        raise NotImplementedError

    def _derive(self) -> None:
        radius = 0.5 * float(np.asarray(self.outer_diameter_um()))
        if self.window_radius_um == 0:
            # windows sized for 1.5 x the built radius: room for gradient steps and FD probes;
            # a radius beyond it (e.g. an optimiser growing the fibres by 50 %) raises — rebuild then
            object.__setattr__(self, "window_radius_um", 1.5 * radius)
        if self.width_um - 2 * self.window_radius_um - 6 * self.voxel_size_um < self.voxel_size_um:
            raise InputError(
                f"{self.name}: the box ({self.width_um:g} µm) is too narrow for fibres of outer diameter "
                f"{2 * radius:g} µm (their evaluation windows would wrap onto themselves); widen the box"
            )
        if self.max_fibres == 0:
            slab = self.width_um**2 * (self.host_top - self.collector_layers) * self.voxel_size_um
            n = expected_count(float(np.asarray(self.porosity)), slab, radius, self.effective_length_um)
            object.__setattr__(self, "max_fibres", self.candidate_count(n))

    def candidate_count(self, expected: int) -> int:
        """Fibres drawn from the seed, given the Boolean-model estimate: twice it plus 16 (the
        porosity walk stops where it is met; clipping at the slab faces wastes fibre volume)."""
        return int(2 * expected + 16)

    def _check(self):
        d = self.outer_diameter_um()
        if not _traced(d) and float(np.asarray(d)) > 0.3 * self.width_um:
            raise InputError(
                f"{self.name}: the fibre (outer) diameter {float(np.asarray(d)):g} µm exceeds 0.3 width_um "
                f"({0.3 * self.width_um:g} µm); widen the box"
            )

    @property
    def effective_length_um(self) -> float:
        """Fibre length capped so that a fibre's window (its extent at the window radius plus the
        smoothing tail) stays below the box width: then the window's unwrapped coordinates are
        the nearest periodic image (``geometries._windows``). Also at most 0.6 of the width."""
        h = self.voxel_size_um
        cap = self.width_um - 2 * self.window_radius_um - 6 * h
        return max(h, min(self.fibre_length_um, 0.6 * self.width_um, cap))

    def _program(self):
        """The family with its seed set to 0, and the seed's fibre axes and windows as the
        program's arguments: every seed of one shape and static settings runs one compiled
        program (measured 2026-12-01, the default skeleton: a new seed cost 1.1 s of tracing and
        compiling, a warm one 0.06 s)."""
        key = copy.copy(self)
        object.__setattr__(key, "seed", 0)
        return key, self.drawn(self.grid.voxel_size)

    def drawn(self, h: float):
        """What the seed draws, as arrays: fibre end points ``a``, ``b`` (n, 3) [m] and window
        starts (n, 3) [cells] (the window size is set by the length and radius bounds, not by
        the draw)."""
        a, b, _ = self.axes(h)
        _, starts = self.windows(a, b, h)
        return a, b, starts

    def windows(self, a, b, h: float):
        """Window size (static, from the bounds) and starts (numpy) of fibres ``a``-``b``."""
        length = self.effective_length_um * 1e-6
        # a fibre's extent along each axis is at most its length; an in-plane fibre tilted by at most
        # t rises at most length x sin(t)
        tilt = 90.0 if self.tilt_deg is None else float(self.tilt_deg)
        bound = np.array([length, length, length * np.sin(np.deg2rad(tilt))])
        return fibre_windows(a, b, h, self.host_shape, self.window_radius_um * 1e-6, self.lateral == "periodic",
                             length_bound=bound)

    def axes(self, h: float):
        """The seeded fibre axes (end points [m]) and their periodic images (static numpy)."""
        rng = np.random.default_rng(self.seed)
        bottom, top = self.slab_bounds(h)
        directions = random_directions(rng, self.max_fibres, self.tilt_deg)
        width = self.width_um * 1e-6
        a, b = fibre_axes(rng, self.max_fibres, (width, width), bottom, top, self.effective_length_um * 1e-6, directions)
        images = fibre_images(a, b, 0.15 * width + 2 * h, (self.shape[0] * h, self.shape[1] * h), self.lateral == "periodic")
        return a, b, images

    def region(self, dtype) -> jnp.ndarray:
        """Hard 0/1 mask of the host slab on the host sub-box."""
        z = jnp.arange(self.host_shape[2])
        inside = (z >= self.collector_layers) & (z < self.host_top)
        return jnp.broadcast_to(inside[None, None, :], self.host_shape).astype(dtype)

    def network(self, drawn, h, dtype, outer_radius, inner_radius=None):
        """Solid (and core) fractions of the fibres ``drawn`` (:meth:`drawn`: arrays, traced in
        the compiled program)."""
        a, b, starts = drawn
        size, _ = self.windows(np.zeros((1, 3)), np.zeros((1, 3)), h)
        z = jnp.arange(self.host_shape[2])
        region_z = ((z >= self.collector_layers) & (z < self.host_top)).astype(dtype)
        return fibre_network(self.host_shape, h, a, b, (size, starts), outer_radius, self.porosity, region_z,
                             self.sharp, self.window_radius_um * 1e-6, inner_radius=inner_radius)


def _traced(x) -> bool:
    import jax

    return isinstance(x, jax.core.Tracer)
