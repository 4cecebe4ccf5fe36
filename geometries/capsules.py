"""Seeded capsules: hollow carbon spheres with an Au seed inside, on a Cu collector (Yan et al.,
Nat. Energy 1, 16010 (2016)).

Yan et al. grow Au nanoparticle seeds inside hollow carbon nanocapsules; Li nucleates on Au with
~0 overpotential (Au dissolves in Li) and fills the capsule interior, while carbon (tens of mV
nucleation overpotential) stays bare. Model:

* capsules are packed by seeded ballistic deposition: each drops at a random lateral position
  and comes to rest on the collector or on the capsules below, shells overlapping by one shell
  thickness (fused walls: contacts conduct and are 6-connected). Deposition stops when the next
  capsule would stick out of the slab. Positions are drawn once at construction (static); the
  diameters and thicknesses stay differentiable;
* the carbon shell is mesoporous and lets Li+ through: its solid fraction is
  ``shell_solid_fraction`` (default 0.7, an assumption — the rest of a shell voxel is
  electrolyte), so the interior is reachable by transport through partial voxels. Those
  mesopores take no Li metal (``li_excluded``): Li plates on the shell's inner and outer
  surfaces, never through the wall, and the wall keeps the carbon's nucleation barrier. The report
  counts the interior as isolated pore space (its voxels are cut off at the ``eps > 0.5``
  threshold);
* the Au seed (``seed_diameter_um``) sits on the inner wall at the bottom of each capsule.

Shell: carbon, conducting (k = 1), lithiophobic (l = 0); seed: Au, conducting, lithiophilic
(l = 1); ``l`` of a voxel is the Au share of its solid.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from hostsim import InputError
from hostsim.electrochemistry.interfaces import smoothstep

from ._host import HostFamily, Parameter, continuous, static
from ._checks import check
from ._sdf import occupancy
from ._windows import log_union, window_starts

_YAN = "Yan et al., Nat. Energy 1, 16010 (2016)"


WALL_FROM, WALL_TO = 0.25, 0.75  # a voxel's wall share over which its open volume closes to Li (C¹ ramp)


def _wall_share(wall):
    """0 below a wall share of :data:`WALL_FROM`, 1 above :data:`WALL_TO`, a C¹ cubic between."""
    return smoothstep((wall - WALL_FROM) / (WALL_TO - WALL_FROM))


def ballistic_packing(rng, radius, contact, width, bottom, top, periodic, attempts=2000):
    """Centres (m, 3) of spheres dropped one by one; ``contact`` = centre distance at rest."""
    placed: list[np.ndarray] = []
    for _ in range(attempts):
        x, y = rng.uniform(0, width, 2)
        z = bottom + radius
        for c in placed:
            dx, dy = x - c[0], y - c[1]
            if periodic:
                dx -= width * np.round(dx / width)
                dy -= width * np.round(dy / width)
            d2 = dx * dx + dy * dy
            if d2 < contact * contact:
                z = max(z, c[2] + np.sqrt(contact * contact - d2))
        if z + radius > top + 1e-12:
            continue
        placed.append(np.array([x, y, z]))
    return np.array(placed).reshape(-1, 3)


class SeededCapsules(HostFamily):
    name = "seeded_capsules"
    title = "hollow carbon capsules with Au seeds, on Cu"
    source = _YAN
    PARAMETERS = (
        Parameter("capsule_diameter_um", "µm", "outer diameter of a hollow carbon capsule", _YAN + ": sub-µm nanocapsules (typical, not verified)", low=0),
        Parameter("shell_thickness_um", "µm", "carbon shell thickness", _YAN + ": tens of nm (resolved at 2 voxels here)", low=0),
        Parameter("seed_diameter_um", "µm", "Au seed diameter", _YAN + ": Au nanoparticle seeds, tens of nm (typical, not verified)", low=0),
        Parameter("shell_solid_fraction", "-", "solid fraction of a shell voxel (mesoporous carbon; rest is electrolyte)", low=0, high=1, high_inclusive=True),
    )

    width_um: float = static(1.28)
    height_um: float = static(1.28)
    thickness_um: float = static(1.0)
    voxel_size_um: float = static(0.02)
    capsule_diameter_um: float = continuous(0.4)  # hollow carbon nanocapsules (Yan 2016; typical, not verified)
    shell_thickness_um: float = continuous(0.04)  # tens of nm (Yan 2016), 2 voxels here
    seed_diameter_um: float = continuous(0.08)  # Au nanoparticle seed (Yan 2016; typical, not verified)
    shell_solid_fraction: float = continuous(0.7)  # mesoporous shell lets Li+ in (assumption)
    centres: tuple = static(())  # drawn at construction (ballistic packing), [µm]
    packed_top_um: float = static(0.0)  # top of the highest capsule, set with the centres
    window_radius_um: float = static(0.0)  # 1.25 x the built outer radius (windows of evaluation)

    def _check(self):
        self._at_least_two_voxels("shell_thickness_um", self.shell_thickness_um)
        self._at_least_two_voxels("seed_diameter_um", self.seed_diameter_um)
        d, t, sd = (float(np.asarray(v)) for v in (self.capsule_diameter_um, self.shell_thickness_um, self.seed_diameter_um))
        if sd > d - 4 * t:
            raise InputError(f"{self.name}: seed_diameter_um ({sd:g}) must be below capsule_diameter_um - 4 shell_thickness_um ({d - 4 * t:g} µm)")
        if d > self.thickness_um:
            raise InputError(f"{self.name}: capsule_diameter_um ({d:g}) exceeds thickness_um ({self.thickness_um:g} µm)")
        if d > 0.5 * self.width_um:
            raise InputError(f"{self.name}: capsule_diameter_um ({d:g}) exceeds width_um / 2 ({0.5 * self.width_um:g} µm)")

    def _derive(self):
        if self.window_radius_um == 0:
            object.__setattr__(self, "window_radius_um", 0.625 * float(np.asarray(self.capsule_diameter_um)))
        if not self.centres:
            h = self.voxel_size_um
            r = 0.5 * float(np.asarray(self.capsule_diameter_um))
            t = float(np.asarray(self.shell_thickness_um))
            bottom, top = self.collector_layers * h, self.host_top * h
            c = ballistic_packing(np.random.default_rng(self.seed), r, 2 * r - t, self.width_um, bottom, top,
                                  self.lateral == "periodic")
            object.__setattr__(self, "centres", tuple(tuple(float(v) for v in p) for p in c))
            top_um = float(c[:, 2].max() + r) if len(c) else 0.0
            object.__setattr__(self, "packed_top_um", top_um)

    @property
    def host_top(self) -> int:
        """The slab ends at the top of the highest capsule (the packing's real thickness)."""
        if not self.packed_top_um:
            return super().host_top
        return min(super().host_top, int(np.ceil(self.packed_top_um / self.voxel_size_um - 1e-6)))

    def _host(self, centres, h, dtype):
        um = 1e-6
        if not self.centres:
            return 0.0, 0.0, 0.0, 0.0
        r = 0.5 * self.capsule_diameter_um * um
        t = self.shell_thickness_um * um
        rs = 0.5 * self.seed_diameter_um * um
        bound = self.window_radius_um * um
        r = check(r, r > bound * (1 + 1e-6), "capsule radius exceeds the window bound set at construction; rebuild the family")
        positions = np.asarray(self.centres) * um
        size, starts = window_starts(positions, 2 * bound, h, self.host_shape, self.lateral == "periodic")
        down = jnp.asarray([0.0, 0.0, 1.0], dtype)

        def occupancies(coords, p):
            x, y, z = coords
            d = jnp.sqrt((x - p[0]) ** 2 + (y - p[1]) ** 2 + (z - p[2]) ** 2 + 1e-30)
            shell = occupancy(jnp.abs(d - (r - 0.5 * t)) - 0.5 * t, h, self.sharp)
            q = p - down * (r - t - rs)  # the seed rests on the inner wall at the bottom
            ds = jnp.sqrt((x - q[0]) ** 2 + (y - q[1]) ** 2 + (z - q[2]) ** 2 + 1e-30)
            return shell, occupancy(ds - rs, h, self.sharp)

        log_shell, log_seed = log_union(self.host_shape, size, starts, occupancies, (jnp.asarray(positions, dtype),), h, dtype)
        shell, seed = 1.0 - jnp.exp(log_shell), 1.0 - jnp.exp(log_seed)
        if self.sharp:  # undo the log floor
            shell, seed = (shell > 0.5).astype(dtype), (seed > 0.5).astype(dtype)
        wall = shell * (1.0 - seed)  # the shell's share of a voxel, outside the seed
        shell = shell * self.shell_solid_fraction
        solid = jnp.clip(seed + shell * (1.0 - seed), 0.0, 1.0)
        l = seed / jnp.maximum(solid, 1e-6)
        # the shell's mesopores pass Li+ and salt but take no Li metal. A voxel that is mostly wall
        # takes none at all (its open rest lies within a voxel of the wall): Li plated on one side
        # of the wall never shows on the other, so it grows on the carbon's surfaces, the cavity's
        # and the outside's, and each keeps the carbon's barrier (docs/geometries.md)
        return solid, 1.0, l, 0.0, (1.0 - solid) * _wall_share(wall)
