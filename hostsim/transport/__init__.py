"""Effective transport through voxel volumes (tortuosity screening) and built-in random media.

* :mod:`~hostsim.transport.effective` — D_eff/D, porosity, tortuosity factor, layer fluxes;
* :mod:`~hostsim.transport.media` — random two-phase media (default case and benchmarks).
"""

from hostsim.transport.effective import (
    TransportResult,
    effective_diffusivity_ratio,
    effective_transport,
    layer_fluxes,
    transport_solve,
)
from hostsim.transport.media import random_two_phase

__all__ = [
    "TransportResult",
    "effective_diffusivity_ratio",
    "effective_transport",
    "layer_fluxes",
    "random_two_phase",
    "transport_solve",
]
