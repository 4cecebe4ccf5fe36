"""The electrolyte that growing Li displaces flows to the top face with its salt: the flow's
volume balance, exact salt conservation, and no change to a uniform concentration."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from hostsim.electrochemistry.displacement import displacement
from hostsim.numerics.grid import Grid
from hostsim.numerics.linsolve import PCG


def _growing(shape=(6, 5, 12), lateral="periodic", seed=3):
    g = Grid.create(shape, voxel_size=0.5e-6, lateral=lateral, precision="float64")
    rng = np.random.default_rng(seed)
    eps_old = jnp.asarray(rng.uniform(0.3, 1.0, shape)).at[:, :, 0].set(0.0)
    # Li grows in the lower half (eps falls), strips a little in a few cells above
    change = np.where(np.arange(shape[2]) < shape[2] // 2, -0.05, 0.0) * rng.uniform(0.0, 1.0, shape)
    change[:, :, 0] = 0.0
    change[rng.uniform(size=shape) < 0.05] = 0.02
    eps_new = jnp.clip(eps_old + jnp.asarray(change), 0.0, 1.0).at[:, :, 0].set(0.0)
    c = jnp.asarray(rng.uniform(500.0, 1500.0, shape))
    return g, eps_old, eps_new, c


@pytest.mark.parametrize("rtol", [1e-2, 1e-8])
def test_no_salt_is_created_or_deleted_whatever_the_flow_solve_leaves(rtol):
    """The salt the source adds over the box, less what the salt step's accumulation term deletes
    in place ((eps_old - eps_new) c per cell), is the salt that crossed the top face: to 1e-12,
    even with the flow solved only to 1e-2."""
    g, eps_old, eps_new, c = _growing()
    dt = 2.0
    out = displacement(g, eps_old, eps_new, c, dt, inflow_concentration=1000.0, solver=PCG(rtol=rtol))
    h3 = g.voxel_size**3
    floor = lambda e: jnp.maximum(e, 1e-6)  # noqa: E731 (the salt step's floor)
    deleted = float(jnp.sum((floor(eps_old) - floor(eps_new)) * c)) * h3 / dt
    added = float(jnp.sum(out.salt_source)) * h3
    assert added - deleted == pytest.approx(-float(out.top_outflow), rel=1e-12, abs=1e-12 * abs(deleted))


def test_the_flow_carries_each_cells_displaced_volume_and_leaves_a_uniform_salt_alone():
    """The rates out of every cell sum to its displaced volume per time (to the solve's 1e-10),
    what leaves through the top is the whole displaced volume, and a uniform concentration gets no
    source beyond that residual."""
    g, eps_old, eps_new, _ = _growing()
    dt = 2.0
    c = jnp.full(g.shape, 1000.0)
    out = displacement(g, eps_old, eps_new, c, dt, inflow_concentration=1000.0, solver=PCG(rtol=1e-10))
    q = (jnp.maximum(eps_old, 1e-6) - jnp.maximum(eps_new, 1e-6)) / dt
    assert float(jnp.max(jnp.abs(out.salt_source))) <= 1e-7 * 1000.0 * float(jnp.max(jnp.abs(q)))
    h3 = g.voxel_size**3
    assert float(out.top_outflow) == pytest.approx(1000.0 * float(jnp.sum(q)) * h3, rel=1e-8)


def test_a_planar_front_pushes_its_electrolyte_straight_up():
    """A column whose Li front grows in one cell: every face above it carries the front's displaced
    volume rate, and the salt moves up by it: the cell above the front receives the front's
    concentration at that rate (upwind)."""
    g = Grid.create((1, 1, 10), voxel_size=1e-6, lateral="no_flux", precision="float64")
    eps_old = jnp.ones(g.shape).at[:, :, 0].set(0.0).at[:, :, 1].set(0.6)
    eps_new = eps_old.at[:, :, 1].set(0.5)
    c = jnp.linspace(200.0, 1000.0, 10).reshape(g.shape)
    dt = 10.0
    out = displacement(g, eps_old, eps_new, c, dt, inflow_concentration=1000.0, solver=PCG(rtol=1e-12))
    q = 0.1 / dt
    source = np.asarray(out.salt_source).ravel()
    assert source[1] == pytest.approx(0.0, abs=1e-9 * q * 1000.0)  # the front keeps its own c
    for i in range(2, 10):
        assert source[i] == pytest.approx(q * (float(c.ravel()[i - 1]) - float(c.ravel()[i])), rel=1e-8)
    assert float(out.courant) == pytest.approx(q * dt / 1.0, rel=1e-8)
