"""Interconnected hollow carbon nanospheres on Cu (Zheng et al., Nat. Nanotech. 9, 618 (2014)).

Zheng et al. coat the Cu collector with a monolayer of interconnected amorphous hollow carbon
nanospheres that "helps isolate the lithium metal depositions" (abstract); as the paper is
described (its figures, not checked here), Li plates beneath the film, on the Cu, and lifts it,
while the carbon stays bare. Model:

* spheres of ``sphere_diameter_um`` are packed on the collector by seeded ballistic deposition
  (as :mod:`geometries.capsules`): each drops at a random lateral position and comes to rest on
  the collector or on the spheres below, walls fused by one shell thickness (interconnected);
  spheres that would rise above ``layers`` diameters are refused, so ``layers = 1`` is a random
  monolayer. Positions are drawn once at construction (static); the slab ends at the top of the
  highest sphere;
* each shell is the difference of two smooth balls, ``ball(R) - ball(R - t)``: its integral across
  the wall is ``t`` for any ``t``, so a 20 nm wall on a 50 nm voxel is a partial fraction with the
  right volume (a signed-distance band ``|d - r| - t/2`` would put ~0.35 voxel of solid into any
  wall, however thin);
* the shell is porous amorphous carbon that passes Li+: the solid share of the shell is
  ``1 - shell_porosity``, the rest of a shell voxel is electrolyte;
* the carbon is lithiophobic (``l = 0``) and, by default, does not take the reaction
  (``k = shell_conducting_share = 0``): amorphous carbon conducts electrons, but the paper's
  Li sits under the spheres on the Cu, not on the carbon. With a conducting share, every shell
  face 6-connected to the collector carries the same 30 mV barrier as bare Cu and plates alike
  (measured: 8.7 % of the first 0.012 mAh/cm² inside the spheres, none with ``k = 0``); the
  parameter is there to test that;
* the walls pass ions but not Li metal (``li_excluded``): a voxel that holds a wall (at least a
  quarter of the wall's crossing, ramped from a tenth) takes no Li, so the interiors stay free of
  Li and Li fills the space under and between the spheres, then grows over them; the band of
  closed voxels is about a voxel thick, wider than a 20 nm wall (the Li it keeps off is that
  band's volume). The spheres are rigid: the paper's film is lifted by the Li beneath it, this
  one is not (docs/geometries.md, Interlayers).

Crisp voxels (``sharp``): a shell is the band of voxel centres within ``max(t, h) / 2`` of its
mid-surface, each holding the solid share ``(1 - shell_porosity) min(1, t / h)``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from hostsim import InputError

from hostsim.electrochemistry.interfaces import smoothstep

from ._checks import check
from ._host import HostFamily, Parameter, continuous, static
from ._sdf import occupancy
from ._windows import log_union, window_starts
from .capsules import ballistic_packing

_ZHENG = "Zheng et al., Nat. Nanotech. 9, 618 (2014)"
# a voxel's share of a wall's crossing over which its open volume closes to Li (C¹ ramp). The voxels
# closed from 0.25 on form a band no 6-connected path of open voxels crosses (checked on the default
# box and on 20 and 60 nm walls at 50 and 70 nm voxels); closing only from 0.5 on left gaps
WALL_FROM, WALL_TO = 0.1, 0.25


class HollowSphereLayer(HostFamily):
    name = "hollow_sphere_layer"
    title = "interconnected hollow carbon nanospheres on Cu (porous insulating shells)"
    source = _ZHENG
    PARAMETERS = (
        Parameter("sphere_diameter_um", "µm", "outer diameter of a hollow carbon sphere (at least 4 voxels)",
                  _ZHENG + ": ~700 nm spheres (not in the abstract; not verified)", low=0),
        Parameter("shell_thickness_um", "µm", "carbon shell thickness (may be thinner than a voxel)",
                  _ZHENG + ": ~20 nm amorphous carbon (not in the abstract; not verified)", low=0),
        Parameter("shell_porosity", "-", "electrolyte share of the shell's volume (Li+ passes the shell)",
                  "assumption (the paper's shells pass Li+; no porosity stated)", low=0, high=1, low_inclusive=True),
        Parameter("layers", "-", "sphere layers packed on the collector (integer)",
                  _ZHENG + ": a monolayer", low=1, high=20, low_inclusive=True, high_inclusive=True),
        Parameter("shell_conducting_share", "-", "electronically conducting share of the shell solid (0: no reaction on carbon)",
                  _ZHENG + ": Li deposits on the Cu beneath the spheres (as described; figures not checked)", low=0, high=1, low_inclusive=True, high_inclusive=True),
    )

    # 64^3 default at 50 nm voxels: 14 voxels across a sphere, the 20 nm wall is 0.4 voxel
    width_um: float = static(3.2)
    height_um: float = static(3.2)
    thickness_um: float = static(0.7)  # room for the film: layers x sphere diameter
    voxel_size_um: float = static(0.05)
    sphere_diameter_um: float = continuous(0.7)  # Zheng 2014 (~700 nm; not verified)
    shell_thickness_um: float = continuous(0.02)  # Zheng 2014 (~20 nm; not verified)
    shell_porosity: float = continuous(0.3)  # assumption (the seeded capsules' shells: 0.7 solid)
    layers: int = static(1)  # a monolayer (Zheng 2014)
    shell_conducting_share: float = continuous(0.0)  # no reaction on the carbon (see module docstring)
    centres: tuple = static(())  # drawn at construction (ballistic packing), [µm]
    packed_top_um: float = static(0.0)  # top of the highest sphere, set with the centres
    window_radius_um: float = static(0.0)  # 1.25 x the built outer radius (windows of evaluation)

    def _check(self):
        h = self.voxel_size_um
        d, t = (float(np.asarray(v)) for v in (self.sphere_diameter_um, self.shell_thickness_um))
        if int(self.layers) != self.layers:
            raise InputError(f"{self.name}: layers must be a whole number; got {self.layers!r}")
        if d < 4 * h - 1e-12:
            raise InputError(f"{self.name}: sphere_diameter_um = {d:g} µm spans fewer than 4 voxels of {h:g} µm; "
                             "lower voxel_size_um or raise sphere_diameter_um")
        if t > 0.25 * d:
            raise InputError(f"{self.name}: shell_thickness_um ({t:g}) must be at most sphere_diameter_um / 4 ({0.25 * d:g} µm)")
        if self.layers * d > self.thickness_um + 1e-9:
            raise InputError(f"{self.name}: layers x sphere_diameter_um ({self.layers} x {d:g} µm) exceeds "
                             f"thickness_um ({self.thickness_um:g} µm)")
        if d > 0.5 * self.width_um:
            raise InputError(f"{self.name}: sphere_diameter_um ({d:g}) exceeds width_um / 2 ({0.5 * self.width_um:g} µm)")

    def _derive(self):
        r = 0.5 * float(np.asarray(self.sphere_diameter_um))
        if self.window_radius_um == 0:
            object.__setattr__(self, "window_radius_um", 1.25 * r)
        if not self.centres:
            h = self.voxel_size_um
            t = float(np.asarray(self.shell_thickness_um))
            bottom = self.collector_layers * h
            top = bottom + self.layers * 2 * r
            c = ballistic_packing(np.random.default_rng(self.seed), r, 2 * r - t, self.width_um, bottom, top,
                                  self.lateral == "periodic")
            object.__setattr__(self, "centres", tuple(tuple(float(v) for v in p) for p in c))
            object.__setattr__(self, "packed_top_um", float(c[:, 2].max() + r) if len(c) else 0.0)

    @property
    def host_top(self) -> int:
        """The slab ends at the top of the highest sphere (the packing's real thickness)."""
        if not self.packed_top_um:
            return super().host_top
        return min(super().host_top, int(np.ceil(self.packed_top_um / self.voxel_size_um - 1e-6)))

    def shell_solid_share(self, h: float):
        """Solid share of a shell voxel (crisp voxels: the band holds the wall's volume)."""
        share = 1.0 - self.shell_porosity
        return share * jnp.minimum(1.0, self.shell_thickness_um * 1e-6 / h) if self.sharp else share

    def _host(self, centres, h, dtype):
        um = 1e-6
        if not self.centres:
            return 0.0, 0.0, 0.0, 0.0
        r, t = 0.5 * self.sphere_diameter_um * um, self.shell_thickness_um * um
        bound = self.window_radius_um * um
        r = check(r, r > bound * (1 + 1e-6), "sphere radius exceeds the window bound set at construction; rebuild the family")
        positions = np.asarray(self.centres) * um
        size, starts = window_starts(positions, 2 * bound, h, self.host_shape, self.lateral == "periodic")

        def shell_occupancy(coords, p):
            x, y, z = coords
            d = jnp.sqrt((x - p[0]) ** 2 + (y - p[1]) ** 2 + (z - p[2]) ** 2 + 1e-30)
            if self.sharp:
                return ((jnp.abs(d - (r - 0.5 * t)) < 0.5 * jnp.maximum(t, h)).astype(dtype),)
            return (occupancy(d - r, h) - occupancy(d - (r - t), h),)

        (log_shell,) = log_union(self.host_shape, size, starts, shell_occupancy, (jnp.asarray(positions, dtype),), h, dtype)
        shell = 1.0 - jnp.exp(log_shell)
        if self.sharp:  # undo the log floor
            shell = (shell > 0.5).astype(dtype)
        z_cells = jnp.arange(self.host_shape[2])
        in_slab = ((z_cells >= self.collector_layers) & (z_cells < self.host_top)).astype(dtype)[None, None, :]
        solid = shell * in_slab * self.shell_solid_share(h)
        # Li metal does not pass the walls: a voxel holding a wall (its share of the wall's crossing,
        # shell / min(1, t / h), from WALL_FROM on) closes its open volume to Li, all of it from
        # WALL_TO on, while ions still pass (docs/geometries.md: Interlayers)
        crossing = shell / jnp.minimum(1.0, self.shell_thickness_um * 1e-6 / h)
        closed = smoothstep((crossing - WALL_FROM) / (WALL_TO - WALL_FROM))
        return solid, self.shell_conducting_share, 0.0, 0.0, (1.0 - solid) * closed * in_slab
