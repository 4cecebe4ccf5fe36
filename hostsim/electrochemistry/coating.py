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

Li grown under an intact film forms no SEI (the film keeps the electrolyte off it): the SEI proxy
charges only the Li surface no Li film covers. Cracking of a film as the surface under it grows is
not modelled: every film stays intact (docs/model.md says what that leaves out).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp

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
    """The film resistances [Ohm m²] of one run: on the Li, on the conducting host's surface and,
    besides, on the collector's."""

    li: float = 0.0
    host: float = 0.0
    collector: float = 0.0

    def face_resistances(self, grid, covers: list, collector_layers: int = 1) -> list:
        """Per interface direction (as :func:`hostsim.electrochemistry.potential.interface_faces`
        orders them), the film resistance of each face [Ohm m²] from its Li cover."""
        from hostsim.electrochemistry.interfaces import neighbours

        collector = (jnp.arange(grid.shape[2]) < collector_layers).astype(grid.dtype)[None, None, :]
        host = jnp.broadcast_to(self.host + self.collector * collector, grid.shape).astype(grid.dtype)
        return [cover * self.li + (1.0 - cover) * side for cover, side in zip(covers, neighbours(grid, host))]

    @property
    def covers_li(self):
        """Whether a film covers the Li (the SEI proxy then charges no new Li area)."""
        return self.li > 0


def film_resistance(material: str | None, thickness: float, conductivity: float | None = None) -> float:
    """``L_f / kappa_f`` [Ohm m²] of a film ``thickness`` [m] thick, of ``material``'s conductivity or
    ``conductivity`` [S/m] given."""
    kappa = MATERIALS[material].conductivity if conductivity is None else conductivity
    return thickness / kappa


def films_of(coatings) -> Films:
    """The :class:`Films` of ``(surface, resistance [Ohm m²])`` pairs (``surface`` in
    :data:`SURFACES`); films on one surface add in series."""
    totals = {"li": 0.0, "host": 0.0, "collector": 0.0}
    for surface, resistance in coatings:
        for target in (("li", "host") if surface == "all" else (surface,)):
            totals[target] += resistance
    return Films(**totals)


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
