"""Coatings: a film is a series resistance L_f / kappa_f in the face kinetics, solved exactly per
face inside the potential's Newton. Oracles: the planar film's voltage shift J L_f / kappa_f, two
paths in parallel splitting the current as resistors, the case keys, and the derivative in the
film's thickness against central differences."""

from __future__ import annotations

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
