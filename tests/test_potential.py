"""Quasi-static potential with Butler-Volmer interfaces (SPEC 4) against exact solutions and the
current-distribution oracles of SPEC 6.7."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import FARADAY, Grid, Kinetics, get_electrolyte
from hostsim.potential import solve_potential

ORACLE = get_electrolyte("spec_oracle")  # D 3e-10, c0 1000, t+ 0.38, kappa 1, TDF 1


def _fields(grid, solid):
    s = jnp.asarray(solid, grid.dtype)
    return s, jnp.ones_like(s), jnp.ones_like(s), jnp.zeros_like(s)


def test_one_dimensional_cell_ohmic_and_diffusion_potential():
    """10 mA/cm² through 100 µm of electrolyte with the steady linear salt profile of plating
    against a reservoir: phi(z) = -(J (L - z) + kappa_D ln(c0 / c(z))) / kappa at every cell
    centre (ohmic 10.00 mV over L, diffusion potential (2RT/F)(1 - t+) ln(c0/c)); the total
    current equals the imposed one."""
    L, nz, J = 100e-6, 25, 100.0
    h = L / nz
    g = Grid.create((1, 1, nz + 1), voxel_size=h, lateral="no_flux", precision="float64")
    q = (1 - ORACLE.transference) * J / FARADAY
    z = (np.arange(nz + 1) - 0.5) * h  # from the electrode face (top of the collector cell)
    c = ORACLE.concentration - q * (L - z) / ORACLE.diffusivity_value
    c[0] = ORACLE.concentration
    solid = np.zeros((1, 1, nz + 1))
    solid[..., 0] = 1
    sol = solve_potential(g, *_fields(g, solid), jnp.asarray(c.reshape(1, 1, -1)), ORACLE, Kinetics(), current=J * h * h)
    kd = float(ORACLE.diffusional_conductivity(1000.0))
    exact = -(J * (L - z[1:]) + kd * np.log(ORACLE.concentration / c[1:])) / 1.0
    np.testing.assert_allclose(np.asarray(sol.phi)[0, 0, 1:], exact, atol=1e-9)
    assert abs(float(sol.current_error)) < 1e-12 and float(sol.residual) < 1e-10
    # the electrode overpotential inverts Butler-Volmer at 10 mA/cm² (i0 = 1 mA/cm², lithiophilic)
    eta = float(sol.voltage) - float(sol.phi[0, 0, 1])
    assert float(Kinetics().interfacial_current(eta, c[1], 1.0, 0.0)) == pytest.approx(J, rel=1e-9)


def test_uniform_planar_electrode_has_uniform_current():
    """SPEC 6.7: a flat electrode (periodic sides) carries the same current density on every face
    to round-off, and the galvanostatic constraint holds."""
    g = Grid.create((6, 6, 10), voxel_size=1e-6, lateral="periodic", precision="float64")
    solid = np.zeros(g.shape)
    solid[:, :, 0] = 1
    s, k, _, theta = _fields(g, solid)
    sol = solve_potential(g, s, k, jnp.zeros_like(s), theta, jnp.full(g.shape, 1000.0), ORACLE, Kinetics(),
                          current=10.0 * (6e-6) ** 2)
    down = np.asarray(sol.face_current[4])[:, :, 1]  # faces of layer 1 towards the collector
    assert down.std() / down.mean() < 1e-12 and down.mean() == pytest.approx(10.0, rel=1e-12)


def test_protrusion_takes_more_current_and_wagner_number_evens_it_out():
    """SPEC 6.7: with fast kinetics a pillar on a foil takes more than its share of the interface
    area; lowering i0 (raising Wa = kappa R_ct / L) monotonically brings its share down to the area
    share. Integrals over the pillar, not single voxels."""
    g = Grid.create((12, 12, 18), voxel_size=1e-6, lateral="periodic", precision="float64")
    solid = np.zeros(g.shape)
    solid[:, :, 0] = 1
    solid[5:7, 5:7, 1:5] = 1
    pillar = np.zeros(g.shape, bool)
    pillar[4:8, 4:8, 1:6] = True
    shares = []
    for i0 in (1000.0, 100.0, 10.0):
        sol = solve_potential(g, *_fields(g, solid), jnp.full(g.shape, 1000.0), ORACLE,
                              Kinetics(exchange_current_density=i0), current=10.0 * (12e-6) ** 2)
        r = np.asarray(sol.reaction)
        area = sum(np.asarray(a) for a in sol.face_area)
        shares.append(r[pillar].sum() / r.sum())
        area_share = area[pillar].sum() / area.sum()
    assert shares[0] > shares[1] > shares[2] > area_share
    assert shares[0] - area_share > 10 * (shares[2] - area_share)


def test_potentiostatic_matches_galvanostatic():
    g = Grid.create((4, 4, 8), voxel_size=1e-6, lateral="periodic", precision="float64")
    solid = np.zeros(g.shape)
    solid[:, :, 0] = 1
    solid[1, 1, 1:4] = 1
    fields = _fields(g, solid)
    c = jnp.full(g.shape, 1000.0)
    gal = solve_potential(g, *fields, c, ORACLE, Kinetics(), current=20.0 * (4e-6) ** 2)
    pot = solve_potential(g, *fields, c, ORACLE, Kinetics(), voltage=gal.voltage)
    np.testing.assert_allclose(np.asarray(pot.phi), np.asarray(gal.phi), atol=1e-10)
    assert float(jnp.sum(pot.reaction)) * 1e-18 == pytest.approx(20.0 * (4e-6) ** 2, rel=1e-8)
