"""Quasi-static potential with Butler-Volmer interfaces against exact solutions and current
distribution oracles (a uniform planar electrode; a pillar's share against the Wagner number)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import FARADAY, Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.potential import solve_potential

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
    # the face's overpotential and concentration are the first cell's shifted by its current over the
    # half cell (FaceInterface): Butler-Volmer there passes J, to the linearisation's (F R J / RT)^2 = 6e-5
    # (measured 4.3e-5 at these 4 µm cells and 10 mA/cm²)
    problem_r = h / (2 * 1.0) + kd / 1.0 * (1 - ORACLE.transference) * h / (2 * FARADAY * ORACLE.diffusivity_value) / c[1]
    c_face = c[1] - (1 - ORACLE.transference) * h / (2 * FARADAY * ORACLE.diffusivity_value) * J
    eta = float(sol.voltage) - float(sol.phi[0, 0, 1]) + problem_r * J
    assert float(Kinetics().interfacial_current(eta, c_face, 1.0, 0.0)) == pytest.approx(J, rel=1e-4)


def test_uniform_planar_electrode_has_uniform_current():
    """Current distribution: a flat electrode (periodic sides) carries the same current density on every face
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
    """Current distribution: with fast kinetics a pillar on a foil takes more than its share of the interface
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


def _foil_fields(g, l=0.0, li_collector=False):
    """A one-voxel collector layer: Cu (lithiophilicity ``l``) or, with ``li_collector``, Li metal."""
    bottom = jnp.zeros(g.shape, g.dtype).at[:, :, 0].set(1.0)
    if li_collector:  # the same face, now Li on Li
        return jnp.zeros_like(bottom), jnp.zeros_like(bottom), jnp.zeros_like(bottom), bottom
    return bottom, jnp.ones_like(bottom), jnp.full(g.shape, l, g.dtype), jnp.zeros_like(bottom)


def test_a_lithiophilic_face_carries_the_li_faces_current():
    """The nucleation gate: a zero barrier is no gate. A lithiophilic Cu foil (l = 1, eta_n = 0) and a
    Li foil reach the same electrode potential at the same current (to round-off), and in the
    linear regime the charge-transfer resistance is RT / (F i0) to 1 % (it was twice that)."""
    g = Grid.create((2, 2, 6), voxel_size=1e-6, lateral="periodic", precision="float64")
    c = jnp.full(g.shape, 1000.0)
    area = (2e-6) ** 2
    J = 0.01  # 1 µA/cm²: linear regime
    philic = solve_potential(g, *_foil_fields(g, l=1.0), c, ORACLE, Kinetics(), current=J * area)
    li = solve_potential(g, *_foil_fields(g, li_collector=True), c, ORACLE, Kinetics(), current=J * area)
    assert float(philic.voltage) == pytest.approx(float(li.voltage), rel=1e-9)
    # eta at the face = V - phi of the first electrolyte cell; R_ct = -eta / J
    eta = float(philic.voltage) - float(philic.phi[0, 0, 1])
    kin = Kinetics()
    assert -eta / J == pytest.approx(1.0 / (kin.f * kin.exchange_current_density), rel=1e-2)


def test_bare_copper_plates_only_near_its_nucleation_barrier():
    """The nucleation barrier: at 10 µA/cm² (where Yan et al. 2016 measured the barrier) a galvanostatic step on
    bare Cu (eta_n = 30 mV) sits at an overpotential within 20 % of the barrier — the voltage dip;
    the old sigmoid gate let the current through at 11.2 mV."""
    g = Grid.create((2, 2, 6), voxel_size=1e-6, lateral="periodic", precision="float64")
    sol = solve_potential(g, *_foil_fields(g, l=0.0), jnp.full(g.shape, 1000.0), ORACLE, Kinetics(),
                          current=0.1 * (2e-6) ** 2)
    eta = -(float(sol.voltage) - float(sol.phi[0, 0, 1]))
    assert 0.8 * 0.030 <= eta <= 1.2 * 0.030
    assert bool(sol.newton.converged)


def test_implicit_potential_gradient_matches_finite_differences():
    """Gradients on the potential solve alone: dV/dl, dV/di0 and d(pillar current)/d(s) from the
    implicit (adjoint) derivative of the converged Newton solve equal central differences to 1e-6
    (float64), galvanostatic and potentiostatic; the forward, vmap and jvp agree."""
    import jax

    g = Grid.create((4, 4, 8), voxel_size=1e-6, lateral="periodic", precision="float64")
    solid = np.zeros(g.shape)
    solid[:, :, 0] = 1
    solid[1:3, 1:3, 1:4] = 0.7
    s0, k0, _, theta = _fields(g, solid)
    c = jnp.full(g.shape, 1000.0).at[:, :, 4:].set(900.0)
    I = 0.5 * (4e-6) ** 2  # 50 µA/cm²: inside the gate's ramp at l = 0.9 (eta_n = 3 mV)

    def voltage(l, i0, s):
        # i0 as an array: a Python float is a static field of Kinetics (one compilation per value)
        return solve_potential(g, s, k0, jnp.full(g.shape, l), theta, c, ORACLE,
                               Kinetics(exchange_current_density=jnp.asarray(i0, jnp.float64)), current=I).voltage

    def pillar(s, v):
        sol = solve_potential(g, s, k0, jnp.full(g.shape, 0.8), theta, c, ORACLE, Kinetics(), voltage=v)
        return jnp.sum(sol.reaction[1:3, 1:3, :]) / jnp.sum(sol.reaction)

    args = (jnp.float64(0.9), jnp.float64(10.0), s0)
    grads = jax.grad(voltage, argnums=(0, 1, 2))(*args)
    # a uniform change of the pillar: the net face weight max(a_p w_q - a_q w_p, 0) has a kink where two
    # equal partly solid cells meet (docs/electrochemistry.md), and at s = 1; stay off both
    direction = jnp.asarray(solid == 0.7, g.dtype)
    d = 1e-6
    fd_l = (voltage(0.9 + d, 10.0, s0) - voltage(0.9 - d, 10.0, s0)) / (2 * d)
    fd_i0 = (voltage(0.9, 10.0 + 1e-4, s0) - voltage(0.9, 10.0 - 1e-4, s0)) / 2e-4
    fd_s = (voltage(0.9, 10.0, s0 + d * direction) - voltage(0.9, 10.0, s0 - d * direction)) / (2 * d)
    assert float(grads[0]) == pytest.approx(float(fd_l), rel=1e-6) and abs(float(grads[0])) > 0
    assert float(grads[1]) == pytest.approx(float(fd_i0), rel=1e-6)
    assert float(jnp.sum(grads[2] * direction)) == pytest.approx(float(fd_s), rel=1e-5)
    # forward mode (jvp) agrees with reverse mode
    _, tangent = jax.jvp(lambda s: voltage(0.9, 10.0, s), (s0,), (direction,))
    assert float(tangent) == pytest.approx(float(jnp.sum(grads[2] * direction)), rel=1e-8)
    # potentiostatic: d(pillar share)/ds
    v = jnp.float64(-0.03)
    gs = jax.grad(pillar)(s0, v)
    fd = (pillar(s0 + d * direction, v) - pillar(s0 - d * direction, v)) / (2 * d)
    assert float(jnp.sum(gs * direction)) == pytest.approx(float(fd), rel=1e-5)
    # vmap over i0 matches one-by-one solves
    batch = jax.vmap(lambda i0: voltage(0.9, i0, s0))(jnp.array([5.0, 10.0, 40.0]))
    for i0, vb in zip((5.0, 10.0, 40.0), np.asarray(batch)):
        assert vb == pytest.approx(float(voltage(0.9, i0, s0)), rel=1e-9)


def test_face_reaction_gradient_is_finite_in_float32_with_sliver_faces():
    """The face placement's cell mean current divides by the cell's interface area. In m² a sliver
    face's area (here 1e-12 h² = 6e-28 m² at 25 nm voxels) squared underflows float32, and the
    quotient's derivative was inf x 0 = NaN in every cell's gradient (measured: every design
    gradient of a layered-rGO host). The mean is now taken in units of h² and only over faces of
    1e-6 h² or more: the reverse pass is finite, and the current of a sliver cell is unchanged to
    float32 round-off."""
    import jax

    from hostsim.electrochemistry.potential import FaceInterface, _reaction

    g = Grid.create((2, 2, 4), voxel_size=25e-9, lateral="periodic", precision="float32")
    kin = Kinetics()
    h2 = g.voxel_size**2
    rng = np.random.default_rng(0)
    scale = jnp.asarray(rng.uniform(0.0, 1.0, (6,) + g.shape), jnp.float32)
    scale = scale.at[:, 0, 0, 0].set(1e-12).at[:, 1, 1, 1].set(0.0)  # a sliver cell and a cell without faces
    areas = tuple(scale[q] * h2 for q in range(6))
    c = jnp.full(g.shape, 1000.0, jnp.float32)
    eps = jnp.full(g.shape, 0.5, jnp.float32)
    resistance, salt = FaceInterface().half_cell(g, ORACLE, c, eps)
    eta = jnp.full(g.shape, -0.01, jnp.float32)
    ones = tuple(jnp.ones(g.shape, jnp.float32) for _ in range(6))

    def total(areas):
        r, _, _ = _reaction(kin, g, areas, ones, ones, eta, c, resistance, salt)
        return jnp.sum(r) * g.voxel_size**3

    value, grads = jax.value_and_grad(total)(areas)
    assert np.isfinite(float(value))
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in grads)
    r, _, _ = _reaction(kin, g, areas, ones, ones, eta, c, resistance, salt)
    # the sliver cell passes its faces' Butler-Volmer current (no shift): sum(a) i / h³
    i = float(kin.butler_volmer(-0.01, 1000.0))
    assert float(r[0, 0, 0]) * g.voxel_size**3 == pytest.approx(sum(float(a[0, 0, 0]) for a in areas) * i, rel=1e-3)


def test_face_concentration_factor_derivative_is_the_implicit_one():
    """The face concentration's Newton iterates carry no derivative; the last step, with its slope
    held, gives the implicit derivative of ``i = A rho(c - S i)``: it must match central differences
    of the converged value (float64) in c, S and the mean current."""
    import jax

    from hostsim.electrochemistry.potential import _face_concentration_factor

    kin = Kinetics()
    c = jnp.asarray([900.0, 400.0, 1000.0], jnp.float64)
    salt = jnp.asarray([2.0, 20.0, 0.5], jnp.float64)  # c_face 2 %, 20 % and 0.5 % below c
    mean = jnp.asarray([10.0, 4.0, 10.0], jnp.float64)

    def rho(c, salt, mean):
        return _face_concentration_factor(kin, c, salt, mean)[0]

    for arg, step in ((0, 1e-3), (1, 1e-5), (2, 1e-5)):
        args = [c, salt, mean]
        jac = jax.jacfwd(rho, argnums=arg)(*args)
        rev = jax.jacrev(rho, argnums=arg)(*args)
        for n in range(3):
            up = list(args); up[arg] = args[arg].at[n].add(step)
            dn = list(args); dn[arg] = args[arg].at[n].add(-step)
            fd = (np.asarray(rho(*up)) - np.asarray(rho(*dn))) / (2 * step)
            np.testing.assert_allclose(np.asarray(jac[:, n]), fd, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(np.asarray(rev[:, n]), fd, rtol=1e-6, atol=1e-12)
    # it is a real shift (c_face a few per cent below c), and none without a half cell
    assert 0.9 < float(rho(c, salt, mean)[0]) < 0.999
    assert float(rho(c, salt.at[0].set(0.0), mean)[0]) == 1.0


def test_float32_voltage_of_a_foil_matches_float64():
    """The default case's foil (4x4x40 cells of 0.25 µm, LP30, 1 mA/cm²): float32 V within 1e-4 of
    float64, phi within 1e-3 of its range. The diffusion potential's source is formed from ln(c /
    c0), not ln c: the operator's round-off is eps x diag x |u|, and with u = ln c ~ 6.9 it was a
    spurious source in every cell (measured before: V 1.1 % off, phi off by 3.4x its range)."""
    lp30 = get_electrolyte("lp30")
    out = {}
    for precision in ("float64", "float32"):
        g = Grid.create((4, 4, 40), voxel_size=0.25e-6, lateral="periodic", precision=precision)
        s = jnp.zeros(g.shape, g.dtype).at[:, :, 0].set(1.0)
        one = jnp.ones_like(s)
        sol = solve_potential(g, s, one, one, jnp.zeros_like(s), jnp.full(g.shape, 1000.0, g.dtype), lp30, Kinetics(),
                              current=10.0 * g.length[0] * g.length[1])
        assert bool(sol.newton.converged)
        out[precision] = float(sol.voltage), np.asarray(sol.phi, np.float64)
    (v64, phi64), (v32, phi32) = out["float64"], out["float32"]
    assert -0.03 < v64 < -0.02  # V: the foil's ohmic + kinetic drop at 10 A/m²
    assert v32 == pytest.approx(v64, rel=1e-4)
    assert np.max(np.abs(phi32 - phi64)) <= 1e-3 * np.ptp(phi64)


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_a_warm_start_that_breaks_newton_restarts_cold_and_finds_the_same_root(precision):
    """A warm start from which the iterates are not finite (here a NaN in one cell of the phi guess;
    measured in a design transient: phi = -0.98 V carried over from a sealed pocket overflowed the
    kinetics) makes Newton start again once from phi = 0: the solve converges to the root of a cold
    start (same V to the tolerance), instead of reporting a failed step."""
    g = Grid.create((8, 8, 16), voxel_size=1e-6, lateral="periodic", precision=precision)
    solid = np.zeros(g.shape)
    solid[:, :, 0] = 1
    solid[3:5, 3:5, 1:6] = 1
    fields = _fields(g, solid)
    c = jnp.full(g.shape, 1000.0, g.dtype)
    current = 10.0 * (8e-6) ** 2
    cold = solve_potential(g, *fields, c, ORACLE, Kinetics(), current=current)
    guess = np.zeros(g.shape)
    guess[4, 4, 10] = np.nan
    warm = solve_potential(g, *fields, c, ORACLE, Kinetics(), current=current, phi_guess=jnp.asarray(guess, g.dtype))
    assert bool(cold.newton.converged) and bool(warm.newton.converged)
    assert int(warm.newton.iterations) > int(cold.newton.iterations)  # the broken first iteration, then the cold ones
    tol = 1e-4 if precision == "float32" else 1e-8
    assert float(warm.voltage) == pytest.approx(float(cold.voltage), rel=tol)
    assert np.allclose(np.asarray(warm.phi), np.asarray(cold.phi), rtol=tol, atol=tol * float(jnp.max(jnp.abs(cold.phi))))
