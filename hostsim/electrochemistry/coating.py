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
charges only the Li surface no Li film covers. Cracking of a film as the surface under it grows is
not modelled: every film stays intact (docs/model.md says what that leaves out).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

SURFACES = ("li", "host", "collector", "all")


@dataclasses.dataclass(frozen=True)
class FilmMaterial:
    conductivity: float  # Li+ conductivity at 25 °C [S/m]
    source: str


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
                                            "3, 17248 (2015))"),
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
    grown above the slab the last layer's (it rode up on the Li)."""

    li: float = 0.0
    host: float = 0.0
    collector: float = 0.0
    li_layers: jax.Array | None = None
    host_layers: jax.Array | None = None

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

        collector = (jnp.arange(grid.shape[2]) < collector_layers).astype(grid.dtype)[None, None, :]
        host = self._surface_field(self.host + self.collector * collector, self.host_layers, grid, collector_layers,
                                   host_top)
        lis = self.li_face_resistances(grid, collector_layers, host_top)
        return [cover * li + (1.0 - cover) * side for cover, li, side in zip(covers, lis, neighbours(grid, host))]


def film_resistance(material: str | None, thickness: float, conductivity: float | None = None) -> float:
    """``L_f / kappa_f`` [Ohm m²] of a film ``thickness`` [m] thick, of ``material``'s conductivity or
    ``conductivity`` [S/m] given."""
    kappa = MATERIALS[material].conductivity if conductivity is None else conductivity
    return thickness / kappa


def films_of(coatings) -> Films:
    """The :class:`Films` of ``(surface, resistance [Ohm m²])`` pairs (``surface`` in
    :data:`SURFACES`; a resistance is a number, or a sequence of one per slab layer for a graded
    film on ``li``, ``host`` or ``all``); films on one surface add in series (layered ones of the
    same number of layers)."""
    totals = {"li": 0.0, "host": 0.0, "collector": 0.0}
    layered = {"li": None, "host": None}
    for surface, resistance in coatings:
        for target in (("li", "host") if surface == "all" else (surface,)):
            if np.ndim(resistance) == 0:
                totals[target] += resistance
                continue
            if target == "collector":
                raise ValueError("a layered film cannot be on the collector alone (its layers are the slab's)")
            values = jnp.asarray(resistance)
            if layered[target] is not None and layered[target].shape != values.shape:
                raise ValueError(f"layered films on {target} need the same number of layers; got "
                                 f"{layered[target].shape[0]} and {values.shape[0]}")
            layered[target] = values if layered[target] is None else layered[target] + values
    return Films(**totals, li_layers=layered["li"], host_layers=layered["host"])


def film_statistics(face_area, face_current, films) -> tuple:
    """Over the faces carrying current: the film drop ``R_f |i|`` [V] the mean coulomb crosses
    (weighted by the current), its largest value, and the share of the current that crosses a film
    [-]; zeros without ``films`` (per direction, as the faces)."""
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


__all__ = ["Films", "film_statistics", "MATERIALS", "SURFACES", "film_resistance", "films_of"]
