"""Run under XLA_FLAGS=--xla_force_host_platform_device_count=4 by tests/test_sharding.py: the same
solves on one device and split along z over four; prints one JSON object of relative differences."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from hostsim import Kinetics, get_electrolyte  # noqa: E402
from hostsim.electrochemistry.plating import initial_state  # noqa: E402
from hostsim.numerics.sharding import z_mesh  # noqa: E402
from hostsim.run.protocol import Protocol, Segment, run_protocol  # noqa: E402
from hostsim.run.batching import OneHost  # noqa: E402
from hostsim.transport.effective import effective_transport  # noqa: E402
from hostsim.transport.media import random_two_phase  # noqa: E402

assert len(jax.devices()) == 4, jax.devices()
mesh = z_mesh()
out = {}

# effective transport of one 16 x 16 x 36 volume (z not a multiple of 4 at every multigrid level)
vol = random_two_phase((16, 16, 36), porosity=0.5, seed=3)
one = effective_transport(vol, precision="float64")
four = effective_transport(vol, precision="float64", mesh=mesh)
out["transport_deff"] = abs(four.effective_diffusivity_ratio / one.effective_diffusivity_ratio - 1)
out["transport_concentration"] = float(np.max(np.abs(four.concentration - one.concentration)))
out["transport_iterations"] = [one.iterations, four.iterations]

# a plating run on a foil with a pillar (float64): 0.05 mAh/cm² at 2 mA/cm²
import geometries as geo  # noqa: E402

fam = geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                     fibre_diameter_um=0.5, precision="float64")
f = fam.fields()
g = f.grid
electrolyte = get_electrolyte("lp30")
proto = Protocol((Segment.plate(2.0, 0.05),))
results = []
for m in (None, mesh):
    st, series, _ = run_protocol(g, f.s, f.k, f.l, initial_state(g, f.theta, electrolyte), electrolyte, Kinetics(), proto,
                              batching=OneHost(m))
    results.append((st, series))
(a, sa), (b, sb) = results
out["plating_sharded_output"] = str(b.theta.sharding.spec)
out["plating_theta"] = float(jnp.max(jnp.abs(a.theta - b.theta)) / jnp.max(a.theta))
out["plating_concentration"] = float(jnp.max(jnp.abs(a.concentration - b.concentration)) / jnp.max(a.concentration))
out["plating_voltage"] = float(np.max(np.abs(sa["voltage"] - sb["voltage"])) / np.max(np.abs(sa["voltage"])))
out["plating_steps"] = len(sa["voltage"])
json.dump(out, sys.stdout)
