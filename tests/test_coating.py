"""Coatings: a film is a series resistance L_f / kappa_f in the face kinetics, solved exactly per
face inside the potential's Newton. Oracles: the planar film's voltage shift J L_f / kappa_f, two
paths in parallel splitting the current as resistors, the case keys, and the derivative in the
film's thickness against central differences."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import Grid, InputError, Kinetics, get_electrolyte
from hostsim.electrochemistry.coating import Films, film_resistance
from hostsim.electrochemistry.potential import solve_potential
from hostsim.run.case import parse_case

ORACLE = get_electrolyte("spec_oracle")


def _li_foil(grid):
    """Cu collector under one layer of Li: every interface face is Li."""
    s = jnp.zeros(grid.shape, grid.dtype).at[:, :, 0].set(1.0)
    theta = jnp.zeros(grid.shape, grid.dtype).at[:, :, 1].set(1.0)
    return s, jnp.ones(grid.shape, grid.dtype), jnp.zeros(grid.shape, grid.dtype), theta


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_a_planar_film_shifts_the_voltage_by_j_l_over_kappa(precision):
    """1 µm LiPON (2e-4 S/m) on a Li foil at 1 mA/cm²: R_f = 5e-3 Ohm m², the voltage moves by
    50.0 mV (0.5 %; measured 50.0027 mV in float64: the bare foil's half cell is linearised, the
    coated one's solved with its film)."""
    g = Grid.create((3, 3, 8), voxel_size=1e-6, lateral="periodic", precision=precision)
    s, k, l, theta = _li_foil(g)
    c = jnp.full(g.shape, ORACLE.concentration, g.dtype)
    current = 10.0 * g.length[0] * g.length[1]
    resistance = film_resistance("lipon", 1e-6)
    assert resistance == pytest.approx(5e-3)
    bare = solve_potential(g, s, k, l, theta, c, ORACLE, Kinetics(), current=current)
    coated = solve_potential(g, s, k, l, theta, c, ORACLE, Kinetics(films=Films(li=resistance)), current=current)
    shift = float(bare.voltage) - float(coated.voltage)
    assert shift == pytest.approx(10.0 * resistance, rel=5e-3 if precision == "float32" else 1e-4)
    assert bool(coated.newton.converged)


def test_two_paths_split_the_current_as_resistors():
    """A bare, lithiophilic Cu foil (no barrier) at 1 µA/cm², in the linear regime of the kinetics
    (R_ct = RT / (F i0) = 2.57e-3 Ohm m²), half of it coated with a film of R_f = R_ct: the bare
    half carries (R_ct + R_f) / R_ct = 2 times the coated half's current density (1 %)."""
    g = Grid.create((8, 2, 6), voxel_size=1e-6, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    k, l, theta = jnp.ones(g.shape), jnp.ones(g.shape), jnp.zeros(g.shape)
    c = jnp.full(g.shape, ORACLE.concentration)
    kinetics = Kinetics()
    r_ct = kinetics.charge_transfer_resistance()
    coated_half = jnp.zeros(g.shape).at[:4, :, 0].set(r_ct)
    sol = solve_potential(g, s, k, l, theta, c, ORACLE, Kinetics(films=Films(host=coated_half)),
                          current=0.01 * g.length[0] * g.length[1])
    down = np.asarray(sol.face_current[4])[:, :, 1]  # the -z faces of the first electrolyte layer: on the collector
    ratio = down[4:].mean() / down[:4].mean()
    assert ratio == pytest.approx(2.0, rel=1e-2), ratio


def test_a_patterned_li_film_splits_the_current_as_resistors():
    """The two-path oracle on Li: a Li layer on Cu, half of it under a film of R_f = R_ct (a Li film
    given as a field), at 1 µA/cm² (linear kinetics): the bare half carries twice the coated half's
    current density (1 %)."""
    g = Grid.create((8, 2, 6), voxel_size=1e-6, lateral="periodic", precision="float64")
    s, k, l, theta = _li_foil(g)
    c = jnp.full(g.shape, ORACLE.concentration)
    r_ct = Kinetics().charge_transfer_resistance()
    coated_half = jnp.zeros(g.shape).at[:4, :, 1].set(r_ct)
    sol = solve_potential(g, s, k, l, theta, c, ORACLE, Kinetics(films=Films(li=coated_half)),
                          current=0.01 * g.length[0] * g.length[1])
    down = np.asarray(sol.face_current[4])[:, :, 2]  # the -z faces of the first electrolyte layer: on the Li
    assert down[4:].mean() / down[:4].mean() == pytest.approx(2.0, rel=1e-2)


@pytest.mark.parametrize("profile, coated", [((0.0, 0.0, 1.0), True), ((1.0, 0.0, 0.0), False), ((0.0, 1.0, 0.0), False)])
def test_a_graded_film_takes_the_layer_of_the_surface(profile, coated):
    """A Cu block filling the slab (collector layer + 3 slab layers), lithiophilic, under a graded
    host film of three layers: only its top surface reacts, in the slab's last layer, so the voltage
    moves by J R_f (0.5 %) when that layer is coated and not at all when another is."""
    g = Grid.create((2, 2, 8), voxel_size=1e-6, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, :4].set(1.0)
    k, l, theta = jnp.ones(g.shape), jnp.ones(g.shape), jnp.zeros(g.shape)
    c = jnp.full(g.shape, ORACLE.concentration)
    current = 10.0 * g.length[0] * g.length[1]
    resistance = film_resistance("lipon", 1e-6)
    layered = Films(host_layers=jnp.asarray(profile) * resistance)

    def voltage(films):
        return float(solve_potential(g, s, k, l, theta, c, ORACLE, Kinetics(films=films), current=current,
                                     host_top=4).voltage)

    shift = voltage(None) - voltage(layered)
    assert shift == pytest.approx(10.0 * resistance if coated else 0.0, rel=1e-3, abs=1e-7)


def test_a_graded_film_on_the_li_rides_up_with_it():
    """Li above the slab (a Li layer on a foil whose slab is one layer) carries the graded Li film's
    last layer: the planar shift J R_f of that layer's film, none of the first's."""
    g = Grid.create((2, 2, 8), voxel_size=1e-6, lateral="periodic", precision="float64")
    s, k, l, theta = _li_foil(g)
    c = jnp.full(g.shape, ORACLE.concentration)
    current = 10.0 * g.length[0] * g.length[1]
    r = film_resistance("lipon", 1e-6)

    def voltage(films):
        return float(solve_potential(g, s, k, l, theta, c, ORACLE, Kinetics(films=films), current=current,
                                     host_top=1).voltage)

    bare = voltage(None)
    assert bare - voltage(Films(li_layers=jnp.asarray([0.0, r]))) == pytest.approx(10.0 * r, rel=1e-3)
    assert bare - voltage(Films(li_layers=jnp.asarray([r, 0.0]))) == pytest.approx(0.0, abs=1e-7)


def test_graded_coating_keys():
    """``thickness_profile_nm`` gives one resistance per slab layer; exactly one of it and
    ``thickness_nm``; a profile on the collector alone, an empty or bad list, is one line."""
    case = parse_case({"coating": [{"material": "lipon", "thickness_profile_nm": [0.0, 500.0, 1000.0], "on": "all"},
                                   {"material": "lipon", "thickness_nm": 1000.0, "on": "li"}]})
    films = case.kinetics.films
    np.testing.assert_allclose(np.asarray(films.li_layers), [0.0, 2.5e-3, 5e-3])
    np.testing.assert_allclose(np.asarray(films.host_layers), [0.0, 2.5e-3, 5e-3])
    assert films.li == pytest.approx(5e-3) and films.host == 0.0
    for entry, words in (({"thickness_nm": 10.0, "thickness_profile_nm": [10.0]}, "give thickness_nm or "
                          "thickness_profile_nm"),
                         ({}, "give thickness_nm or thickness_profile_nm"),
                         ({"thickness_profile_nm": []}, "thickness_profile_nm: expected a list"),
                         ({"thickness_profile_nm": [1.0, -2.0]}, "thickness_profile_nm: must be >= 0"),
                         ({"thickness_profile_nm": [1.0], "on": "collector"}, "a graded film spans")):
        with pytest.raises(InputError, match=words):
            parse_case({"coating": [{"material": "lipon", **entry}]})
    bare = parse_case({"coating": [{"material": "lipon", "thickness_profile_nm": [0.0, 0.0]}]})
    assert bare.kinetics.films is None  # a sweep's bare member


def test_coating_keys():
    case = parse_case({"coating": [{"material": "lipon", "thickness_nm": 1000.0, "on": "li"},
                                   {"conductivity_S_m": 1e-3, "thickness_nm": 100.0, "on": "all"}]}, "c.toml")
    films = case.kinetics.films
    assert films.li == pytest.approx(5e-3 + 1e-4) and films.host == pytest.approx(1e-4) and films.collector == 0.0
    with pytest.raises(InputError, match=r"^case \[coating 1\]: give material or conductivity_S_m$"):
        parse_case({"coating": [{"thickness_nm": 10.0}]})
    with pytest.raises(InputError, match=r"^case \[coating 2\] on: expected one of li, host, collector, all; got 'top'$"):
        parse_case({"coating": [{"material": "lif", "thickness_nm": 10.0}, {"material": "lif", "thickness_nm": 10.0,
                                                                           "on": "top"}]})


@pytest.mark.slow  # ~110 s of compilation (two precisions' gradient programs); the planar oracle stays in the default set
def test_the_film_thickness_derivative_matches_central_differences():
    """d V / d L_f through the potential solve: central differences in float64 (1e-4), the
    analytic -J / kappa_f, and float32 finite and within 2 % of float64."""
    g = Grid.create((2, 2, 6), voxel_size=1e-6, lateral="periodic", precision="float64")
    s, k, l, theta = _li_foil(g)
    c = jnp.full(g.shape, ORACLE.concentration)
    current = 10.0 * g.length[0] * g.length[1]

    def voltage(thickness):
        films = Films(li=thickness / 2e-4)
        return solve_potential(g, s, k, l, theta, c, ORACLE, Kinetics(films=films), current=current).voltage

    step = 1e-9
    central = (voltage(1e-6 + step) - voltage(1e-6 - step)) / (2 * step)
    exact = float(jax.grad(voltage)(1e-6))
    assert exact == pytest.approx(float(central), rel=1e-4)
    assert float(central) == pytest.approx(-10.0 / 2e-4, rel=1e-4)  # -J / kappa_f
    # float32: finite and within 2 % of float64
    g32 = Grid.create((2, 2, 6), voxel_size=1e-6, lateral="periodic", precision="float32")
    s32, k32, l32, theta32 = _li_foil(g32)
    c32 = jnp.full(g32.shape, ORACLE.concentration, jnp.float32)

    def voltage32(thickness):
        films = Films(li=thickness / 2e-4)
        return solve_potential(g32, s32, k32, l32, theta32, c32, ORACLE, Kinetics(films=films), current=current).voltage

    single = float(jax.grad(voltage32)(jnp.float32(1e-6)))
    assert np.isfinite(single) and single == pytest.approx(exact, rel=2e-2)


@pytest.mark.parametrize("film", [5e-3, 2e-2])
def test_a_coated_face_solves_its_overpotential_across_the_nucleation_gate(film):
    """Bare Cu (30 mV barrier, 5 mV ramp) behind a film of 5e-3 and 2e-2 Ohm m² (1 and 4 µm of
    LiPON), float32: the face overpotential e = eta + R i(e) is solved to float32 round-off at every
    eta in [-150, 0] mV (|e - eta - R i| <= 2e-7 V; plain Newton cycled across the ramp and left up
    to 67 mV), and the face current falls monotonically with eta (a jump of 12.6 A/m² between two
    neighbouring eta stalled the potential's Newton)."""
    from hostsim.electrochemistry import potential as P

    kinetics = Kinetics()
    eta = jnp.linspace(-0.15, 0.0, 4001, dtype=jnp.float32)
    c = jnp.full_like(eta, 1000.0)
    gate = P._gate(kinetics, jnp.zeros_like(eta), jnp.zeros_like(eta))

    def current(e):
        return gate(e) * kinetics.butler_volmer(e, c)

    resistance = jnp.full_like(eta, film)
    e = P._face_overpotential(current, eta, resistance)
    i = np.asarray(current(e), np.float64)
    assert float(jnp.max(jnp.abs(e - eta - resistance * current(e)))) <= 2e-7
    assert np.all(np.diff(i) <= 1e-3)  # eta rises: the plating current falls (float32 round-off allowed)
    from scipy.optimize import brentq

    for k in (0, 2400, 3000, 3200, 3300, 3400):  # eta = -150, -60, -37.5, -30, -26.25, -22.5 mV
        x, r = float(eta[k]), float(film)
        root = brentq(lambda e: e - x - r * float(current(jnp.full((1,), e, jnp.float32))[0]), x, 0.0, xtol=1e-9)
        assert float(e[k]) == pytest.approx(root, abs=1e-6)


def test_a_film_on_lithiophobic_cu_plates_at_a_low_current():
    """1 µm LiPON on a rough, bare Cu surface (30 mV barrier) at 1 mA/cm²: the film's drop holds the
    faces at the gate's opening, and the plate completes (it ended as "step size collapsed" after
    0.2 % of its charge while the coated face's overpotential was solved by plain Newton). The
    film's mean drop is its resistance times the mean interfacial current density (5e-3 Ohm m² x
    ~3.5 A/m² on the rough skin's ~3x area), and the electrode's voltage lies beyond it."""
    import tomllib

    import geometries as geo
    from hostsim.run.pipeline import simulation_options
    from hostsim.run.simulation import simulate

    case = parse_case(tomllib.loads("""
[geometry]
family = "dealloyed_cu"
width_um = 1.0
height_um = 3.0
thickness_um = 0.5
voxel_size_um = 0.125
[electrolyte]
name = "lp30"
[[coating]]
material = "lipon"
thickness_nm = 1000.0
on = "all"
[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 1.0
capacity_mAh_cm2 = 0.01
"""), "lipon.toml")
    f = geo.case_hosts(case)[0][1].fields()
    res = simulate("lipon", f.grid, f.s, f.k, f.l, f.theta, case.electrolyte, case.kinetics, case.protocol,
                   collector_layers=f.collector_layers, host_top=f.host_top, li_excluded=f.li_excluded,
                   **simulation_options(case))
    summary = res.summary
    assert summary["message"] == "completed"
    assert summary["plated_mAh_cm2"] == pytest.approx(0.01, rel=1e-5)
    assert 0.015 < summary["film_overpotential_mean_V"] < 0.025
    assert summary["final_voltage_V"] < -summary["film_overpotential_mean_V"]
    assert summary["coated_current_share"] == pytest.approx(1.0)


def test_li_under_a_graded_film_forms_sei_only_where_the_film_is_not():
    """A rough Cu skin (slab of two film layers) plated with a graded Li film: the SEI proxy charges
    only the new Li area of the bare layer. Both layers coated: none, as under a uniform film; one
    layer coated: some, less than the bare run's. Every plate passes its charge."""
    import geometries as geo
    from hostsim.run.protocol import Protocol, Segment
    from hostsim.run.simulation import simulate

    f = geo.make_family("dealloyed_cu", width_um=1.0, height_um=3.0, thickness_um=0.5, voxel_size_um=0.125).fields()
    lp30 = get_electrolyte("lp30")
    r = film_resistance("lipon", 1e-7)

    def sei(films):
        summary = simulate("graded", f.grid, f.s, f.k, f.l, f.theta, lp30, Kinetics(films=films),
                           Protocol((Segment.plate(1.0, 0.05),)), collector_layers=f.collector_layers,
                           host_top=f.host_top, li_excluded=f.li_excluded).summary
        assert summary["message"] == "completed" and summary["plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-5)
        return summary["sei_loss_mAh_cm2"]

    bare = sei(None)
    assert bare > 1e-3 and sei(Films(li_layers=jnp.asarray([r, r]))) == 0.0
    for profile in ([r, 0.0], [0.0, r]):
        assert 0.0 < sei(Films(li_layers=jnp.asarray(profile))) < bare


def test_a_graded_coating_with_more_layers_than_the_slab_is_refused():
    from hostsim.run.protocol import Protocol, Segment
    from hostsim.run.simulation import simulate

    g = Grid.create((2, 2, 8), voxel_size=1e-6, lateral="periodic", precision="float32")
    s = jnp.zeros(g.shape).at[:, :, :3].set(1.0)
    with pytest.raises(InputError, match=r"thickness_profile_nm has 3 layers, more than the host slab's 2 voxel layers"):
        simulate("x", g, s, jnp.ones(g.shape), jnp.zeros(g.shape), jnp.zeros(g.shape), ORACLE,
                 Kinetics(films=Films(host_layers=jnp.ones(3))), Protocol((Segment.plate(1.0, 0.01),)), host_top=3)


def test_a_patterned_coating_from_a_case_file_splits_the_current_as_resistors(tmp_path):
    """``[[coating]] pattern``: a 2-D file of shares of ``thickness_nm`` down each column, read
    relative to the case file. The two-path oracle of a Cu foil (lithiophilic, 1 µA/cm², linear
    kinetics) with a host film of R_f = R_ct on half its columns: the bare half carries twice the
    coated half's current density (1 %)."""
    from hostsim.run.case import load_case

    g = Grid.create((8, 2, 6), voxel_size=1e-6, lateral="periodic", precision="float64")
    r_ct = Kinetics().charge_transfer_resistance()
    share = np.zeros(g.shape[:2])
    share[:4] = 1.0
    (tmp_path / "films").mkdir()
    np.save(tmp_path / "films" / "half.npy", share)
    path = tmp_path / "case.toml"
    path.write_text(f'[[coating]]\nthickness_nm = 1000.0\nconductivity_S_m = {1e-6 / r_ct!r}\non = "host"\n'
                    f'pattern = "films/half.npy"\n')
    films = load_case(path).kinetics.films
    assert np.shape(films.host) == (8, 2, 1)
    np.testing.assert_allclose(np.asarray(films.host)[:, 0, 0], share[:, 0] * r_ct, rtol=1e-12)
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    k, l, theta = jnp.ones(g.shape), jnp.ones(g.shape), jnp.zeros(g.shape)
    sol = solve_potential(g, s, k, l, theta, jnp.full(g.shape, ORACLE.concentration), ORACLE, Kinetics(films=films),
                          current=0.01 * g.length[0] * g.length[1])
    down = np.asarray(sol.face_current[4])[:, :, 1]
    assert down[4:].mean() / down[:4].mean() == pytest.approx(2.0, rel=1e-2)


@pytest.mark.parametrize("array, expected", [(np.full((2, 2), 1.5), "expected shares of thickness_nm in [0, 1]"),
                                             (np.ones(4), "expected a 2-D (columns) or 3-D (voxels) array")])
def test_a_pattern_holds_shares_on_the_grid(tmp_path, array, expected):
    """A pattern's values are shares in [0, 1] on a 2-D or 3-D array (one line each), and a field
    that fits neither the grid nor its columns is refused before the run."""
    from hostsim.run.simulation import check_patterned_films

    np.save(tmp_path / "p.npy", array)
    with pytest.raises(InputError, match=r"\[coating 1\] pattern: .*" + re.escape(expected)):
        parse_case({"coating": [{"material": "lipon", "thickness_nm": 100.0, "pattern": "p.npy"}]},
                   base=tmp_path)
    np.save(tmp_path / "columns.npy", np.ones((2, 3)))
    np.save(tmp_path / "voxels.npy", np.ones((4, 4, 6)))
    with pytest.raises(InputError, match=r"patterned films on host of shapes \(2, 3, 1\) and \(4, 4, 6\) do not fit"):
        parse_case({"coating": [{"material": "lipon", "thickness_nm": 100.0, "on": "host", "pattern": name}
                                for name in ("columns.npy", "voxels.npy")]}, base=tmp_path)
    g = Grid.create((4, 4, 6), voxel_size=1e-6)
    check_patterned_films(Films(host=jnp.ones((4, 4, 1))), g)
    with pytest.raises(InputError, match=r"pattern has shape \(3, 4\); expected the grid's \(4, 4, 6\) or its columns' \(4, 4\)"):
        check_patterned_films(Films(host=jnp.ones((3, 4, 1))), g)
