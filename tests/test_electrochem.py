"""Electrolyte sets, Butler-Volmer kinetics with the nucleation gate, characteristic scales and
salt transport against analytic oracles (Sand's time of planar plating, the limiting current, a
symmetric Li|Li cell's transient and steady state)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import Grid, InputError
from hostsim.electrochemistry.constants import FARADAY, GAS_CONSTANT, TEMPERATURE
from hostsim.electrochemistry.electrolyte import ELECTROLYTES, get_electrolyte
from hostsim.electrochemistry.kinetics import Kinetics, limiting_current_density, sand_time, wagner_number
from hostsim.numerics.operators import Dirichlet, Neumann
from hostsim.electrochemistry.salt import face_concentration, salt_step

ORACLE = get_electrolyte("spec_oracle")  # D 3e-10, c0 1000, t+ 0.38, kappa 1, TDF 1


# ---------------------------------------------------------------- electrolytes

def test_valoen_reimers_correlations_reproduce_the_table_at_1M():
    vr, table = get_electrolyte("lp30_vr"), get_electrolyte("lp30")
    c0 = 1000.0
    assert float(vr.conductivity(c0)) == pytest.approx(table.conductivity_value, rel=5e-3)  # 1.194 vs 1.19 S/m
    assert float(vr.diffusivity(c0)) == pytest.approx(table.diffusivity_value, rel=2e-3)  # 3.223e-10 m²/s
    assert float(vr.thermodynamic_factor(c0)) == pytest.approx(table.thermodynamic_factor_value, rel=2e-3)
    c = jnp.array([200.0, 500.0, 1000.0, 2000.0])
    d = np.asarray(vr.diffusivity(c))
    assert np.all(np.diff(d) < 0)  # D falls with c (viscosity)
    kappa = np.asarray(vr.conductivity(c))
    assert kappa.argmax() in (1, 2)  # conductivity peaks near 0.5-1 M at 25 °C


def test_electrolyte_overrides_and_errors():
    e = get_electrolyte("lp30_vr", diffusivity=2e-10)
    assert float(e.diffusivity(500.0)) == pytest.approx(2e-10) and "diffusivity" in e.overridden
    assert float(e.conductivity(1000.0)) == pytest.approx(1.194, rel=1e-3)  # still the correlation
    kd = (2 * GAS_CONSTANT * TEMPERATURE / FARADAY) * 1.0 * (1 - 0.38) * 1.0
    assert float(ORACLE.diffusional_conductivity(1000.0)) == pytest.approx(kd, rel=1e-6)
    for name, kw, needle in [("nope", {}, "unknown set"), ("lp30", {"viscosity": 1}, "unknown property"),
                             ("lp30", {"transference": 1.2}, "t+"), ("lp30", {"diffusivity": -1}, "must be > 0"),
                             ("lp30", {"conductivity": "high"}, "must be a number")]:
        with pytest.raises(InputError, match=needle):
            get_electrolyte(name, **kw)
    for name in ELECTROLYTES:
        assert ELECTROLYTES[name]["source"]


# ---------------------------------------------------------------- kinetics and scales

def test_butler_volmer_limits_and_symmetry():
    k = Kinetics()
    eta = jnp.array([1e-4, 1e-3])
    linear = -eta / k.charge_transfer_resistance()
    np.testing.assert_allclose(np.asarray(k.butler_volmer(eta, 1000.0)), np.asarray(linear), rtol=2e-2)
    assert float(k.butler_volmer(-0.05, 1000.0)) == pytest.approx(-float(k.butler_volmer(0.05, 1000.0)), rel=1e-6)
    assert float(k.exchange_current(250.0)) == pytest.approx(10.0 * 0.5)  # (c/c_ref)^0.5


def test_nucleation_gate():
    """The gate (docs/electrochemistry.md): a threshold at the barrier on bare Cu, no gate at all at
    a zero barrier, never on stripping, C1 in eta and l."""
    k = Kinetics()  # eta_n = 30 mV on bare Cu, 0 on lithiophilic surfaces, ramp width 5 mV
    bv = lambda e: float(k.butler_volmer(e, 1000.0))  # noqa: E731
    bare = lambda e: float(k.interfacial_current(e, 1000.0, lithiophilicity=0.0, li_cover=0.0))  # noqa: E731
    assert bare(-0.010) == 0.0 and bare(-0.0274) == 0.0  # below eta_n - w/2 nothing plates
    assert bare(-0.0326) == pytest.approx(bv(-0.0326), rel=1e-12)  # above eta_n + w/2: full BV
    assert 0.0 < bare(-0.030) < bv(-0.030) and bare(-0.030) == pytest.approx(0.5 * bv(-0.030), rel=1e-6)
    # a zero barrier is no gate: a lithiophilic face carries exactly the Li face's current at every eta
    for eta in (-1e-5, -1e-3, -0.01, -0.1):
        philic = float(k.interfacial_current(eta, 1000.0, lithiophilicity=1.0, li_cover=0.0))
        covered = float(k.interfacial_current(eta, 1000.0, lithiophilicity=0.0, li_cover=1.0))
        assert philic == bv(eta) and covered == bv(eta)
    # linear regime of a lithiophilic face: R = RT / (F i0) (alpha_a + alpha_c = 1) to 1 %
    eta = -1e-5
    resistance = -eta / float(k.interfacial_current(eta, 1000.0, lithiophilicity=1.0, li_cover=0.0))
    assert resistance == pytest.approx(1.0 / (k.f * k.exchange_current_density), rel=1e-2)
    # stripping is not gated
    assert bare(0.01) == pytest.approx(bv(0.01))
    # C1 and differentiable in eta and in l (central differences, float64)
    for e0, l0 in ((-0.029, 0.0), (-0.004, 0.9), (-0.02, 0.5)):
        f = lambda e, l: k.interfacial_current(e, 1000.0, lithiophilicity=l, li_cover=0.2)  # noqa: E731
        ge, gl = jax.grad(f, argnums=(0, 1))(jnp.float64(e0), jnp.float64(l0))
        d = 1e-7
        fd_e = (float(f(e0 + d, l0)) - float(f(e0 - d, l0))) / (2 * d)
        fd_l = (float(f(e0, l0 + d)) - float(f(e0, l0 - d))) / (2 * d)
        assert float(ge) == pytest.approx(fd_e, rel=1e-5) and float(gl) == pytest.approx(fd_l, rel=1e-5)
        assert float(gl) >= 0  # more lithiophilic never plates less


def test_characteristic_scales_of_spec():
    assert float(sand_time(100.0, ORACLE)) == pytest.approx(571.0, abs=0.5)  # Sand's time [s] at 10 mA/cm²
    assert float(limiting_current_density(ORACLE, 100e-6)) / 10 == pytest.approx(93.4, abs=0.05)  # mA/cm², L = 100 µm
    assert float(limiting_current_density(ORACLE, 100e-6, symmetric=False)) / 10 == pytest.approx(46.7, abs=0.05)
    k = Kinetics()
    assert 1.0 * k.charge_transfer_resistance() == pytest.approx(2.57e-3, rel=2e-3)  # kappa R_ct ~ 2.6 mm
    assert wagner_number(k, 1.0, 1e-6) == pytest.approx(2569, rel=1e-3)


# ---------------------------------------------------------------- salt transport

def _column(nz, h):
    return Grid.create((1, 1, nz), voxel_size=h, lateral="no_flux", precision="float64")


def test_sand_time_of_planar_plating():
    """Sand's time: 10 mA/cm² into a semi-infinite electrolyte; c at the face reaches 0 at 571 s.
    2 mm column (5x the diffusion length at tau), 5 µm cells, dt = 1 s; within 1 % (measured 0.04 %)."""
    J, h, nz, dt = 100.0, 5e-6, 400, 1.0
    g = _column(nz, h)
    q = (1 - ORACLE.transference) * J / FARADAY
    D = ORACLE.diffusivity_value

    def step(c, _):
        c, _ = salt_step(g, c, 1.0, D, dt, lo=Neumann(-q), hi=Dirichlet(ORACLE.concentration), d_ref=D)
        return c, face_concentration(c[0, 0, 0], -q, D, h)

    n = 700
    _, surface = jax.jit(lambda c: jax.lax.scan(step, c, None, length=n))(g.full(ORACLE.concentration))
    surface = np.asarray(surface)
    t = dt * (np.arange(n) + 1)
    i = int(np.argmax(surface <= 0))
    assert i > 0
    tau = t[i - 1] + dt * surface[i - 1] / (surface[i - 1] - surface[i])
    assert tau == pytest.approx(float(sand_time(J, ORACLE)), rel=0.01)


def test_symmetric_cell_transient_and_steady_state():
    """Symmetric cell: Li|Li, 10 mA/cm², L = 100 µm. The electrode concentration follows the
    cosine series within 1e-3 qL/D; the steady profile is linear with 892.9 / 1107.1 mol/m³."""
    J, L, nz = 100.0, 100e-6, 50
    h = L / nz
    g = _column(nz, h)
    D, c0 = ORACLE.diffusivity_value, ORACLE.concentration
    q = (1 - ORACLE.transference) * J / FARADAY  # consumed at z = 0 (plating), released at z = L
    dt = 0.02  # backward Euler is first order: 0.05 s gives 1.05e-3 qL/D, 0.02 s 4.0e-4 (measured)

    def step(c, _):
        c, _ = salt_step(g, c, 1.0, D, dt, lo=Neumann(-q), hi=Neumann(q), d_ref=D)
        return c, face_concentration(c[0, 0, 0], -q, D, h)

    n = 3000  # 60 s = 1.8 L²/D
    c_end, surface = jax.jit(lambda c: jax.lax.scan(step, c, None, length=n))(g.full(c0))
    surface = np.asarray(surface)
    t = dt * (np.arange(n) + 1)
    odd = np.arange(1, 400, 2)[:, None]
    series = c0 - (q * L / (2 * D)) * (1 - 8 / np.pi**2 * np.sum(np.exp(-(odd**2) * np.pi**2 * D * t / L**2) / odd**2, axis=0))
    err = np.abs(surface - series)[t > 1.0].max()  # after the first second (BE start-up)
    assert err < 1e-3 * q * L / D
    # steady state: march on with long steps; linear profile, electrode values to round-off
    def long(c, _):
        return salt_step(g, c, 1.0, D, 50.0, lo=Neumann(-q), hi=Neumann(q), d_ref=D)[0], None

    c_ss, _ = jax.lax.scan(long, c_end, None, length=60)
    c_ss = np.asarray(c_ss)[0, 0]
    lo_face = face_concentration(c_ss[0], -q, D, h)
    hi_face = c_ss[-1] + q * h / (2 * D)
    assert lo_face == pytest.approx(892.9, abs=0.05) and hi_face == pytest.approx(1107.1, abs=0.05)
    np.testing.assert_allclose(np.diff(c_ss), q * h / D, rtol=1e-6)  # linear (a 2nd-order FV scheme is exact)
    assert c_ss.mean() == pytest.approx(c0, rel=1e-9)  # salt conserved


def test_salt_step_conserves_and_differentiates():
    """Salt balance of one step to round-off; d(final c)/d(D) through three steps vs central FD."""
    g = Grid.create((4, 4, 8), voxel_size=1e-6, lateral="periodic", precision="float64")
    rng = np.random.default_rng(0)
    eps = jnp.asarray(rng.uniform(0.3, 1.0, g.shape))
    c_start = jnp.asarray(rng.uniform(900, 1100, g.shape))
    q, dt, h = 1e-3, 0.01, 1e-6

    c1, _ = salt_step(g, c_start, eps, 3e-10 * eps**1.5, dt, lo=Neumann(-q), hi=Neumann(0.0), d_ref=3e-10)
    removed = q * 16 * h * h * dt  # mol through the z = 0 face
    before = float(jnp.sum(eps * c_start)) * h**3
    after = float(jnp.sum(eps * c1)) * h**3
    assert after == pytest.approx(before - removed, rel=1e-12)

    def final(d):
        def step(c, _):
            return salt_step(g, c, eps, d * eps**1.5, dt, lo=Neumann(-q), hi=Dirichlet(1000.0), d_ref=3e-10)[0], None

        c, _ = jax.lax.scan(step, c_start, None, length=3)
        return jnp.sum(c[:, :, 0])

    d0 = 3e-10
    g_ad = float(jax.grad(final)(d0))
    g_fd = float((final(d0 * (1 + 1e-5)) - final(d0 * (1 - 1e-5))) / (2e-5 * d0))
    assert g_ad == pytest.approx(g_fd, rel=1e-5)
