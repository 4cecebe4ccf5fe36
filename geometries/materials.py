"""Materials of 3D hosts and their voxel properties ``(s, k, l, theta)`` (and ``li_excluded``).

Each material says what a voxel made of it contributes: host solid fraction ``s``, conducting
share ``k``, surface lithiophilicity ``l``, Li-metal fraction ``theta`` and the open volume that
passes ions but takes no Li metal, ``li_excluded`` (a mesoporous shell's pores; 0 for the rest). Label maps of
imported volumes name materials from this table (``{0: "electrolyte", 1: "cu", 2: "pi"}``).

Sources of the classifications:

* Electronic conductivities [S/m]: Cu 5.96e7, Au 4.1e7, Li 1.08e7, rGO film 1e3–1e5,
  carbon fibre ~5e4 — all "conducting" against κ ~ 1 S/m of the electrolyte (σ/κ ≥ 1e3);
  polyimide and glass fibre are insulators.
* Lithiophilicity: metals with a definite solubility in Li (Au, Ag, Zn, Mg) show ~0 nucleation
  overpotential, Cu and C tens of mV (Yan et al., Nat. Energy 1, 16010 (2016)); ZnO and Si
  coatings lithiate to Li–Zn / Li–Si alloys that molten Li wets (Liang et al., PNAS 113, 2862
  (2016); Liu et al., Nat. Commun. 7, 10992 (2016)), hence conducting and lithiophilic after
  the first lithiation; "sparked" rGO is wetted by molten Li (Lin et al., Nat. Nanotech. 11,
  626 (2016)).
"""

from __future__ import annotations

from typing import NamedTuple

from hostsim import InputError


class Material(NamedTuple):
    s: float  # host solid fraction
    k: float  # electronically conducting share of the host
    l: float  # surface lithiophilicity
    theta: float  # Li-metal fraction
    note: str
    li_excluded: float = 0.0  # open volume fraction that passes ions but takes no Li metal (mesopores)


MATERIALS: dict[str, Material] = {
    "electrolyte": Material(0.0, 0.0, 0.0, 0.0, "liquid electrolyte (pore)"),
    "cu": Material(1.0, 1.0, 0.0, 0.0, "copper, conducting, lithiophobic (Yan 2016)"),
    "ni": Material(1.0, 1.0, 0.0, 0.0, "nickel, conducting, lithiophobic (Yan 2016)"),
    "carbon": Material(1.0, 1.0, 0.0, 0.0, "carbon fibre/shell, conducting (~5e4 S/m), lithiophobic (Yan 2016)"),
    "mesoporous_carbon": Material(0.7, 1.0, 0.0, 0.0, "carbon shell with 30 % mesopores: Li+ passes, Li metal does not "
                                                      "(Yan 2016; the porosity an assumption)", li_excluded=0.3),
    "rgo": Material(1.0, 1.0, 1.0, 0.0, "sparked reduced graphene oxide, conducting, lithiophilic (Lin 2016)"),
    "au": Material(1.0, 1.0, 1.0, 0.0, "gold, conducting, lithiophilic, ~0 mV nucleation (Yan 2016)"),
    "ag": Material(1.0, 1.0, 1.0, 0.0, "silver, conducting, lithiophilic (Yan 2016)"),
    "zn": Material(1.0, 1.0, 1.0, 0.0, "zinc, conducting, lithiophilic (Yan 2016)"),
    "zno": Material(1.0, 1.0, 1.0, 0.0, "ZnO coating, lithiated to Li-Zn: conducting, lithiophilic (Liang 2016)"),
    "si": Material(1.0, 1.0, 1.0, 0.0, "Si coating, lithiated: conducting, lithiophilic (Liang 2016)"),
    "pi": Material(1.0, 0.0, 0.0, 0.0, "polyimide, insulating (Liu 2016)"),
    "polyolefin_separator": Material(0.6, 0.0, 0.0, 0.0, "microporous PE/PP separator, 40 % pores that pass ions, "
                                                         "not Li metal (Arora & Zhang 2004); homogenised per voxel: "
                                                         "storage and diffusivity x 0.4, no tortuosity beyond it "
                                                         "(a case's [separator] adds one)", li_excluded=0.4),
    "glass": Material(1.0, 0.0, 0.0, 0.0, "glass fibre, insulating"),
    "li": Material(0.0, 0.0, 0.0, 1.0, "lithium metal (theta = 1)"),
}


def material(name: str, where: str = "") -> Material:
    """Look a material up by name (case-insensitive), with a clear error listing the table."""
    key = str(name).strip().lower()
    if key not in MATERIALS:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}unknown material {name!r}; known: {', '.join(MATERIALS)}")
    return MATERIALS[key]
