"""Coatings: artificial SEI and protective films thinner than a voxel, as a series resistance in
the face kinetics.

A film of thickness ``L_f`` and Li+ conductivity ``kappa_f`` on a surface puts ``R_f = L_f /
kappa_f`` [Ohm m²] between the electrolyte and the metal: the face's overpotential is the cell's
less the film's drop,

    eta_s = V - phi_e - U - i R_f,

solved per face inside the potential's Newton (:func:`hostsim.electrochemistry.potential._reaction`).
The films here are single-ion conductors (LiPON, Li3N, Li3PO4, lithiated Al2O3: t+ = 1), so they
carry Li+ only and hold no salt gradient: the film is a resistor and nothing else.

Where a film sits (``on``): on the Li (``li``: it rides on the deposit, Li plates beneath it), on
the conducting host's surface (``host``), on the collector's only (``collector``: the first
``collector_layers`` layers), or on all of them (``all``). A face that is partly Li covered takes
the Li film on its Li share and the host's on the rest, blended linearly (the gate blends the
kinetics the same way). Films on the same surface add in series.

A graded film has one thickness per equal layer of the host slab (:class:`Films`' ``li_layers``
and ``host_layers``); a face takes its conducting side's layer.

Li grown under an intact film forms no SEI (the film keeps the electrolyte off it): the SEI proxy
charges only the Li surface no intact Li film covers.

**Cracking.** A film on the Li stretches with the surface under it up to its critical areal strain
``eps_c`` (a material property, :data:`MATERIALS`), then cracks. Per column of the grid (the
voxels above one collector voxel), the coated interface area ``F`` is compared with the column's
reference ``F_0``, the largest area of substrate its film has covered: host surface, bare or under
Li grown on it (a film on the Li forms with the Li as the Li spreads over the host). The cracked
share of the column's Li film is ``max over the plating so far of (1 - ((1 + eps_c) F_0 + h²) / F)``,
at least 0: the film covers ``(1 + eps_c) F_0`` of the surface, a voxel face more is within the
resolution of a column's area, and the rest is open; a crack does not heal. A cracked share ``f``
of a face's filmed Li is a second, parallel path without the film (the face's current is
``(1 - f) G(e_film) + f G(e_bare)``, each at its own overpotential), and it counts as bare Li for
the SEI proxy. Growth of a flat front keeps ``F`` and cracks nothing; Li thickening around a fibre
or up a protrusion stretches the film there.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

SURFACES = ("li", "host", "collector", "all")
# areal strain at which a film cracks [-]: the order of the one measured value found, ALD Al2O3's
# crack-onset tensile strain, 0.52 % at 80 nm to 2.4 % at 5 nm, ~1 % at 30-50 nm, on a polymer
# (Jen, Bertrand & George, J. Appl. Phys. 109, 084305 (2011)); assumed for the films without one
CRITICAL_STRAIN = 0.01
_ASSUMED_STRAIN = "assumed (no measurement of this film's crack-onset strain found): the order of ALD Al2O3's"


@dataclasses.dataclass(frozen=True)
class FilmMaterial:
    conductivity: float  # Li+ conductivity at 25 °C [S/m]
    source: str
    critical_strain: float = CRITICAL_STRAIN  # areal strain at which the film cracks [-]
    strain_source: str = _ASSUMED_STRAIN


# room-temperature Li+ conductivities [S/m] of the films of the review's interfacial engineering
# ("read": the value was read in the source; "not verified": quoted from secondary sources or memory)
MATERIALS = {
    "lipon": FilmMaterial(2e-4, "2e-6 S/cm, sputtered LiPON, read (Bates et al., J. Power Sources 43, 103 (1993); "
                                "2.3e-6 S/cm in Yu et al., J. Electrochem. Soc. 144, 524 (1997))"),
    "lipon_ald": FilmMaterial(6.6e-5, "6.6e-7 S/cm at 25 °C, ALD LiPON, read (Nisula et al., Chem. Mater. (2015))"),
    "li3n": FilmMaterial(0.1, "~1e-3 S/cm, single-crystal Li3N perpendicular to c (Alpen et al., Appl. Phys. Lett. 30, "
                              "621 (1977)), read in a secondary source (Tapia-Ruiz et al., Nat. Commun. 11, 4492 (2020))"),
    "li3po4": FilmMaterial(3.3e-6, "3.3e-8 S/cm at 26 °C, amorphous ALD Li3PO4, read (Nanotechnology 25, 504007 (2014))"),
    "al2o3_lithiated": FilmMaterial(1.3e-7, "1.3e-9 S/cm, lithiated ALD Al2O3: the most conductive of the resistivities "
                                            "fitted to experiments (7.8-913 MOhm m), read (Xu et al., J. Mater. Chem. A "
                                            "3, 17248 (2015))",
                                     strain_source="1 %, ALD Al2O3 (not lithiated) of 30-50 nm on a polymer, read "
                                                   "(Jen et al. 2011)"),
    "lif": FilmMaterial(1e-7, "~1e-9 S/cm, LiF thin film, not verified (bulk LiF 1e-14-1e-13 S/cm)"),
    "native_sei": FilmMaterial(2e-7, "2e-9 S/cm, the SEI resistivity of graphite models (5e6 Ohm m; Safari et al., "
                                     "J. Electrochem. Soc. 156, A145 (2009)), not a Li-metal measurement"),
}



class Films(eqx.Module):
    """The film resistances [Ohm m²] of one run: on the Li, on the conducting host's surface (each a
    number or a field on the grid: a patterned film, the Li's read in the Li's cell) and, besides,
    on the collector's; and, for graded coatings, per layer of the host slab
    (``li_layers``, ``host_layers``: arrays of one resistance per layer, added to ``li`` and
    ``host``; None for none).

    A layer profile splits the slab (from the collector's top to the host's top) into equal
    layers; a face takes the film of its conducting side's layer, so Li grown inside the slab
    carries the film of the layer it grew in, the collector's surface the first layer's, and Li
    grown above the slab the last layer's (it rode up on the Li).

    ``crack_strain`` makes the Li film crack (module docstring); ``cracked`` is the crack state a run
    sets before each solve, not a parameter to give."""

    li: float = 0.0
    host: float = 0.0
    collector: float = 0.0
    li_layers: jax.Array | None = None
    host_layers: jax.Array | None = None
    # the Li film's critical areal strain [-] (None: it never cracks), and its cracked share per cell
    # (its column's, set from the run's state before each solve: None, intact)
    crack_strain: float | None = None
    cracked: jax.Array | None = None

    @property
    def on_li(self) -> bool:
        """Whether any Li carries a film (a traced or a field resistance counts as one)."""
        return self.li_layers is not None or isinstance(self.li, jax.Array) or jnp.ndim(self.li) > 0 or self.li != 0

    @property
    def can_crack(self) -> bool:
        """Whether there is a film on the Li and it cracks past a strain."""
        return self.crack_strain is not None and self.on_li

    def crack_shares(self, grid, covers: list, collector_layers: int = 1, host_top: int | None = None) -> list | None:
        """Per interface direction, the share of each face whose Li film is cracked (its Li cover
        times its cell's cracked share where the Li carries a film), or None when nothing is cracked.
        A face counts in the column of its electrolyte side, as :meth:`coated_area` counts it."""
        if self.cracked is None:
            return None
        lis = self.li_face_resistances(grid, collector_layers, host_top)
        return [cover * self.cracked * (li > 0) for cover, li in zip(covers, lis)]

    def coated_area(self, grid, face_area, covers, s, collector_layers: int = 1, host_top: int | None = None):
        """Per cell (the faces' electrolyte side): the interface area a film covers [m²] (the Li share
        of a face where the Li carries a film, the host share where the host does), and the part of it
        on faces whose conducting side is host (a cell at least half solid host, ``s``): the substrate
        a film formed on, on the host or on Li that covered the host."""
        from hostsim.electrochemistry.interfaces import neighbours

        host = self._host_field(grid, collector_layers, host_top)
        lis = self.li_face_resistances(grid, collector_layers, host_top)
        coated = [a * (cover * (li > 0) + (1.0 - cover) * (side > 0))
                  for a, cover, li, side in zip(face_area, covers, lis, neighbours(grid, host))]
        backing = [jnp.minimum(2.0 * side, 1.0) for side in neighbours(grid, s)]
        return sum(coated), sum(f * b for f, b in zip(coated, backing))

    def _per_z(self, layers, grid, collector_layers, host_top):
        """``layers`` (one value per slab layer) on the grid's z layers [Ohm m²]."""
        if host_top is None:
            raise ValueError("a layered film needs the host slab's top (host_top)")
        n = jnp.shape(layers)[0]
        z = np.arange(grid.shape[2])
        index = np.floor((z - collector_layers) * n / max(host_top - collector_layers, 1))
        index = np.where(z >= host_top, n - 1, np.clip(index, 0, n - 1))  # above the slab: the last layer
        return jnp.asarray(layers, grid.dtype)[index.astype(int)][None, None, :]

    def _surface_field(self, base, layers, grid, collector_layers, host_top):
        field = base if layers is None else base + self._per_z(layers, grid, collector_layers, host_top)
        return jnp.broadcast_to(field, grid.shape).astype(grid.dtype)

    def _host_field(self, grid, collector_layers, host_top):
        """The host's film resistance per cell [Ohm m²], the collector's film in its layers."""
        collector = (jnp.arange(grid.shape[2]) < collector_layers).astype(grid.dtype)[None, None, :]
        return self._surface_field(self.host + self.collector * collector, self.host_layers, grid, collector_layers,
                                   host_top)

    def li_face_resistances(self, grid, collector_layers: int = 1, host_top: int | None = None) -> list:
        """Per interface direction, the Li film's resistance on each face's conducting side [Ohm m²]
        (what a Li-covered face carries)."""
        from hostsim.electrochemistry.interfaces import neighbours

        if self.li_layers is None and jnp.ndim(self.li) == 0:  # one film on all the Li
            return [jnp.asarray(self.li, grid.dtype)] * (2 * sum(n > 1 for n in grid.shape))
        return neighbours(grid, self._surface_field(self.li, self.li_layers, grid, collector_layers, host_top))

    def face_resistances(self, grid, covers: list, collector_layers: int = 1, host_top: int | None = None) -> list:
        """Per interface direction (as :func:`hostsim.electrochemistry.potential.interface_faces`
        orders them), the film resistance of each face [Ohm m²] from its Li cover."""
        from hostsim.electrochemistry.interfaces import neighbours

        host = self._host_field(grid, collector_layers, host_top)
        lis = self.li_face_resistances(grid, collector_layers, host_top)
        return [cover * li + (1.0 - cover) * side for cover, li, side in zip(covers, lis, neighbours(grid, host))]


def film_resistance(material: str | None, thickness: float, conductivity: float | None = None) -> float:
    """``L_f / kappa_f`` [Ohm m²] of a film ``thickness`` [m] thick, of ``material``'s conductivity or
    ``conductivity`` [S/m] given."""
    kappa = MATERIALS[material].conductivity if conductivity is None else conductivity
    return thickness / kappa


def films_of(coatings) -> Films:
    """The :class:`Films` of ``(surface, resistance [Ohm m²][, critical strain])`` tuples (``surface``
    in :data:`SURFACES`; a resistance is a number, a sequence of one per slab layer for a graded
    film on ``li``, ``host`` or ``all``, or a patterned film's field, of the grid's shape or
    ``(nx, ny, 1)``; a critical areal strain [-] makes a film on the Li crack,
    None or absent: it never does); films on one surface add in series (layered ones of the same
    number of layers)."""
    totals = {"li": 0.0, "host": 0.0, "collector": 0.0}
    layered = {"li": None, "host": None}
    strains = []
    for surface, resistance, *strain in coatings:
        if surface in ("li", "all") and strain and strain[0] is not None:
            strains.append(strain[0])
        for target in (("li", "host") if surface == "all" else (surface,)):
            if np.ndim(resistance) == 0:
                totals[target] += resistance
                continue
            if np.ndim(resistance) >= 2:  # a patterned film: a field on the grid (or down its columns)
                before = np.shape(totals[target])
                try:
                    np.broadcast_shapes(before, np.shape(resistance))
                except ValueError:
                    raise ValueError(f"patterned films on {target} of shapes {before} and {np.shape(resistance)} do not "
                                     f"fit each other") from None
                totals[target] = totals[target] + jnp.asarray(resistance)
                continue
            if target == "collector":
                raise ValueError("a layered film cannot be on the collector alone (its layers are the slab's)")
            values = jnp.asarray(resistance)
            if layered[target] is not None and layered[target].shape != values.shape:
                raise ValueError(f"layered films on {target} need the same number of layers; got "
                                 f"{layered[target].shape[0]} and {values.shape[0]}")
            layered[target] = values if layered[target] is None else layered[target] + values
    # films in series on the Li crack together, at the smallest critical strain among them
    return Films(**totals, li_layers=layered["li"], host_layers=layered["host"],
                 crack_strain=min(strains) if strains else None)


def crack_update(reference, cracked, coated, substrate, strain, slack: float):
    """The film's crack state after a solve (module docstring: cracking), per cell holding its
    column's values: ``reference`` the largest substrate area its film has covered [m²], ``cracked``
    its cracked share [-], from this solve's coated and substrate areas per cell
    (:meth:`Films.coated_area`), the critical areal strain, and ``slack`` [m²], the area a column's
    film absorbs beyond its strain before it cracks (the resolution of a column's area)."""
    def column(per_cell):
        return jnp.broadcast_to(jnp.sum(per_cell, axis=2, keepdims=True), per_cell.shape)

    area = column(coated)
    reference = jnp.maximum(reference, column(substrate))
    stretched = 1.0 - ((1.0 + strain) * reference + slack) / jnp.where(area > 0, area, 1.0)
    share = jnp.where((reference > 0) & (area > 0), jnp.clip(stretched, 0.0, 1.0), 0.0)
    return reference, jnp.maximum(cracked, share)


def film_statistics(face_area, face_current, films) -> tuple:
    """Over the faces carrying current: the film drop ``R_f |i|`` [V] the mean coulomb crosses
    (weighted by the current), its largest value, and the share of the current that crosses a film
    [-]; zeros without ``films`` (per direction, as the faces). A cracked face counts as if all its
    current crossed its film (an upper bound where a film has cracked)."""
    if films is None:
        zero = jnp.zeros((), face_current[0].dtype)
        return zero, zero, zero
    flows = [a * jnp.abs(i) for a, i in zip(face_area, face_current)]
    total = jnp.maximum(sum(jnp.sum(f) for f in flows), jnp.finfo(face_current[0].dtype).tiny)
    drops = [r * jnp.abs(i) for r, i in zip(films, face_current)]
    mean = sum(jnp.sum(f * d) for f, d in zip(flows, drops)) / total
    largest = jnp.max(jnp.stack([jnp.max(jnp.where(a > 0, d, 0.0)) for a, d in zip(face_area, drops)]))
    coated = sum(jnp.sum(jnp.where(r > 0, f, 0.0)) for r, f in zip(films, flows)) / total
    return mean, largest, coated


__all__ = ["CRITICAL_STRAIN", "Films", "crack_update", "film_statistics", "MATERIALS", "SURFACES", "film_resistance",
           "films_of"]
