"""hostsim: a differentiable 3D finite-volume simulator of Li-ion transport and Li-metal plating
inside 3D anode hosts (JAX; CPU and GPU).

The engine is a set of small modules re-exported here:

* :mod:`hostsim.grid` — :class:`Grid` (shape, voxel size, lateral boundary, through-plane axis);
* :mod:`hostsim.operators` — matrix-free 7-point FV diffusion operators, boundary conditions;
* :mod:`hostsim.multigrid` — geometric multigrid preconditioner (and Jacobi / identity);
* :mod:`hostsim.linsolve` — PCG with an implicit adjoint (``jax.lax.custom_linear_solve``);
* :mod:`hostsim.transport` — effective transport (D_eff/D, porosity, tortuosity factor);
* :mod:`hostsim.percolation` — 6-connected clusters spanning an axis;
* :mod:`hostsim.io` — volume readers (.npy/.npz/.tif/.vti) and .vti writer;
* :mod:`hostsim.media` — built-in random two-phase media;
* :mod:`hostsim.constants` — F, R, T, Li molar volume;
* :mod:`hostsim.electrolyte` — electrolyte parameter sets (constant and Valøen–Reimers);
* :mod:`hostsim.kinetics` — Butler–Volmer with the nucleation gate, Sand's time, limiting current;
* :mod:`hostsim.salt` — backward-Euler salt transport steps;
* :mod:`hostsim.interfaces` — face-based electrode/electrolyte interfaces;
* :mod:`hostsim.potential` — quasi-static potential, BV interfaces, galvanostatic/potentiostatic problem;
* :mod:`hostsim.newton` — adaptive inexact Newton with an implicit derivative (and the fixed-count reference);
* :mod:`hostsim.plating` — galvanostatic plating/stripping steps into voxels (``lax.scan`` + checkpoint);
* :mod:`hostsim.protocol` — plate / rest / strip segments and cycles;
* :mod:`hostsim.metrics` — SPEC 5 metrics (flux CV, hot spots, envelope, top growth, dead Li, SEI).
"""

from .constants import FARADAY, GAS_CONSTANT, LI_MOLAR_VOLUME, TEMPERATURE
from .electrolyte import ELECTROLYTES, Electrolyte, get_electrolyte
from .errors import InputError
from .grid import Grid, axis_index
from .io import load_volume, write_pvd, write_vti
from .kinetics import Kinetics, limiting_current_density, sand_time, wagner_number
from .linsolve import PCG, SolveStats, linear_solve
from .media import random_two_phase
from .multigrid import Identity, Jacobi, Multigrid
from .operators import DiffusionOperator, Dirichlet, Neumann, assemble, face_coefficients
from .interfaces import conducting_fraction, interface_area
from .percolation import anchored_mask, label_clusters, percolating_mask
from .protocol import Protocol, Segment, run_protocol
from .cell import LithiumCounterElectrode, Reservoir
from .plating import PlatingState, StepRecord, initial_state, mean_plating_time, plate, plating_step
from .newton import AdaptiveNewton, FixedNewton, NewtonStats
from .potential import PotentialProblem, PotentialSolution, potential_problem, solve_potential
from .salt import face_concentration, salt_step, shared_sink
from .transport import (
    TransportResult,
    effective_diffusivity_ratio,
    effective_transport,
    layer_fluxes,
    transport_solve,
)

__version__ = "0.1.0"

__all__ = [
    "LithiumCounterElectrode",
    "Reservoir",
    "mean_plating_time",
    "shared_sink",
    "ELECTROLYTES",
    "Electrolyte",
    "FARADAY",
    "GAS_CONSTANT",
    "Kinetics",
    "LI_MOLAR_VOLUME",
    "TEMPERATURE",
    "PlatingState",
    "Protocol",
    "Segment",
    "run_protocol",
    "PotentialSolution",
    "StepRecord",
    "initial_state",
    "plate",
    "plating_step",
    "conducting_fraction",
    "face_concentration",
    "interface_area",
    "solve_potential",
    "AdaptiveNewton",
    "FixedNewton",
    "NewtonStats",
    "PotentialProblem",
    "potential_problem",
    "get_electrolyte",
    "limiting_current_density",
    "salt_step",
    "sand_time",
    "wagner_number",
    "DiffusionOperator",
    "Dirichlet",
    "Grid",
    "Identity",
    "InputError",
    "Jacobi",
    "Multigrid",
    "Neumann",
    "PCG",
    "SolveStats",
    "TransportResult",
    "anchored_mask",
    "assemble",
    "axis_index",
    "effective_diffusivity_ratio",
    "effective_transport",
    "face_coefficients",
    "label_clusters",
    "layer_fluxes",
    "linear_solve",
    "load_volume",
    "percolating_mask",
    "random_two_phase",
    "transport_solve",
    "write_pvd",
    "write_vti",
]
