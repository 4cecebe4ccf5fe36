"""Inverse design of hosts (depends on geometries and hostsim).

parameterisation (:mod:`inverse.parameterisations`) -> host fields -> plating run and design terms
(:mod:`inverse.objectives`) -> weighted objective -> optax update (:mod:`inverse.loop`); a study
file (:mod:`inverse.study`) names all of it, and ``hostsim design`` runs it.
"""

from .objectives import TERMS, plating_terms, tortuosity_objective, weighted_objective
from .bounds import AbstractBox, ProjectedBox, SigmoidBox
from .parameterisations import FamilyParameters, LayerProfile
from .connectivity import virtual_temperature, virtual_temperature_field

__all__ = ["TERMS", "FamilyParameters", "LayerProfile", "AbstractBox", "ProjectedBox", "SigmoidBox", "plating_terms", "tortuosity_objective",
           "virtual_temperature", "virtual_temperature_field", "weighted_objective"]
