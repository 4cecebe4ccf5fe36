"""Inverse design of hosts (depends on geometries and hostsim).

parameterisation (:mod:`inverse.parameterisations`) -> host fields -> plating run and design terms
(:mod:`inverse.objectives`) -> weighted objective -> optax update (:mod:`inverse.loop`); a study
file (:mod:`inverse.study`) names all of it, and ``hostsim design`` runs it.
"""

from .objectives import TERMS, plating_terms, tortuosity_objective, weighted_objective
from .parameterisations import FamilyParameters, LayerProfile, bounded, unbounded
from .connectivity import virtual_temperature, virtual_temperature_field

__all__ = ["TERMS", "FamilyParameters", "LayerProfile", "bounded", "plating_terms", "tortuosity_objective",
           "unbounded", "virtual_temperature", "virtual_temperature_field", "weighted_objective"]
