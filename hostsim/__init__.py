"""hostsim: a differentiable 3D finite-volume simulator of Li-ion transport and Li-metal plating
inside 3D anode hosts (JAX; CPU and GPU).

The engine is split into layers, each a subpackage of small modules; the public API is re-exported
here:

* :mod:`hostsim.numerics` — grid, finite-volume operator, multigrid PCG, Newton, connectivity;
* :mod:`hostsim.transport` — effective transport (D_eff/D, tortuosity factor) and random media;
* :mod:`hostsim.electrochemistry` — electrolytes, kinetics, interfaces, potential, salt, the
  plating step, the time integrator (adaptive steps, events), the run metrics;
* :mod:`hostsim.run` — the host's fields (:class:`Host`), case files, protocols, the run pipeline
  (checkpoints, resume), outputs, and the front door: :func:`simulate` a host under a case,
  :func:`load_case`, :func:`load_run`;
* :mod:`hostsim.pictures` — plots, 3-D renders, ``report.html``;
* :mod:`hostsim.cli` — the ``hostsim`` command and its seven subcommands.
"""

import os as _os


def _cpu_only_without_nvidia_device():
    """JAX's CUDA plugin (installed by the test extra, for compiling to a GPU target) prints a
    traceback each time JAX starts on a machine with no NVIDIA device and no CUDA driver. There, JAX_PLATFORMS=cpu
    (set only if unset, and before JAX starts) keeps it quiet; the plugin still registers for
    compiling, and the CPU is the only device such a machine has anyway."""
    import importlib.util

    if "JAX_PLATFORMS" in _os.environ or any(_os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")):
        return
    try:  # a driver that loads means a GPU may appear (device files made on first use)
        import ctypes

        ctypes.CDLL("libcuda.so.1")
        return
    except OSError:
        pass
    try:
        plugin = importlib.util.find_spec("jax_plugins.xla_cuda12")
    except (ImportError, ValueError):
        plugin = None
    if plugin is not None:
        _os.environ["JAX_PLATFORMS"] = "cpu"


_cpu_only_without_nvidia_device()

from hostsim.electrochemistry.constants import FARADAY, GAS_CONSTANT, LI_MOLAR_VOLUME, TEMPERATURE  # noqa: E402
from hostsim.electrochemistry.electrolyte import ELECTROLYTES, Electrolyte, get_electrolyte
from hostsim.errors import InputError
from hostsim.numerics.grid import Grid, axis_index
from hostsim.run.io import load_volume, write_pvd, write_vti
from hostsim.electrochemistry.kinetics import Kinetics, limiting_current_density, sand_time, wagner_number
from hostsim.numerics.linsolve import PCG, SolveStats, linear_solve
from hostsim.transport.media import random_two_phase
from hostsim.numerics.multigrid import AbstractPreconditioner, Identity, Jacobi, Multigrid
from hostsim.numerics.operators import DiffusionOperator, Dirichlet, Neumann, assemble, face_coefficients
from hostsim.electrochemistry.interfaces import conducting_fraction, interface_area
from hostsim.numerics.percolation import anchored_mask, label_clusters, percolating_mask
from hostsim.run.protocol import Protocol, Segment, run_protocol
from hostsim.electrochemistry.cell import AbstractCellTop, LithiumCounterElectrode, Reservoir
from hostsim.electrochemistry.plating import (
    Observation, PlatingState, PlatingSystem, advance, initial_state, mean_plating_time, solve_state)
from hostsim.electrochemistry.integrate import Attempt, Drive, Stepper, attempt, integrate
from hostsim.electrochemistry.events import Depletion, LiReachesTop, VoltageCutoff
from hostsim.numerics.stepsize import PIDController
from hostsim.numerics.newton import AbstractNewton, AdaptiveNewton, FixedNewton, NewtonStats
from hostsim.electrochemistry.potential import PotentialProblem, PotentialSolution, potential_problem, solve_potential
from hostsim.electrochemistry.salt import face_concentration, salt_step, shared_sink
from hostsim.run.host import Host
from hostsim.run.case import Case, load_case
from hostsim.run.results import RunResult, load_run
from hostsim.run.api import simulate
from hostsim.run.dataset import open_dataset
from hostsim.transport.effective import (
    TransportResult,
    effective_diffusivity_ratio,
    effective_transport,
    layer_fluxes,
    transport_solve,
)

__version__ = "0.1.0"

__all__ = [
    "AbstractCellTop",
    "AbstractNewton",
    "AbstractPreconditioner",
    "Host",
    "Case",
    "RunResult",
    "load_case",
    "load_run",
    "open_dataset",
    "simulate",
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
    "Observation",
    "PlatingSystem",
    "advance",
    "solve_state",
    "Attempt",
    "Drive",
    "Stepper",
    "attempt",
    "integrate",
    "Depletion",
    "LiReachesTop",
    "VoltageCutoff",
    "PIDController",
    "initial_state",
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
