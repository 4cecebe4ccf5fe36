"""The separator: a homogenised porous layer in the top of the gap (hostsim.electrochemistry.separator).

Oracles: over (nearly) the whole gap of a planar cell it multiplies Sand's time by eps² / tau, and
with a linear Langmuir binding (K c0 <= 1e-3, Gamma K = beta) by (eps / tau)(eps + beta); Li that
grows to it stops there ("Li reached the separator"), and the summary reports the separator's
depletion and Sand margin; the case section refuses bad values in one
line; a separator that does not fit above the host is refused before any compilation."""

from __future__ import annotations

import csv
import tomllib

import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import FARADAY, LI_MOLAR_VOLUME, Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.kinetics import sand_time
from hostsim.electrochemistry.plating import initial_state
from hostsim.electrochemistry.separator import Separator
from hostsim.errors import InputError
from hostsim.run.case import parse_case
from hostsim.run.protocol import Protocol, Segment
from hostsim.run.simulation import simulate, write_outputs

# at the depletion event the separator's lowest cell is a cell or two (of 88 per diffusion length) above
# the depleted surface: measured c / c0 = 0.0067 without binding, 0.0094 with it
SEPARATOR_FACE_AT_DEPLETION = 0.02
ORACLE = get_electrolyte("spec_oracle")  # constant D, kappa and t+: Sand's formula is exact


def _column(porosity, tortuosity, beta, cells_per_length=88, lengths=5):
    """A planar lithiophilic Cu foil under a column of ``lengths`` diffusion lengths in the
    separator (``sqrt(D' tau)``, ``D' = D (eps / tau) / (eps + beta)``), ``cells_per_length`` cells
    each; the separator fills all of it but the one cell the Li plates into. Returns ``(grid, s, k,
    l, Sand's time expected [s], the separator's layers)``."""
    factor = porosity / tortuosity * (porosity + beta)
    tau = float(sand_time(100.0, ORACLE)) * factor
    d_apparent = float(ORACLE.diffusivity(ORACLE.concentration)) * porosity / tortuosity / (porosity + beta)
    h = np.sqrt(d_apparent * tau) / cells_per_length
    n = lengths * cells_per_length
    # the cells the Li plates into by Sand's time (and a tenth more), left free under the separator
    li = 1.1 * 100.0 * tau * LI_MOLAR_VOLUME / FARADAY
    gap = int(np.ceil(li / (0.85 * h)))
    g = Grid.create((1, 1, n + 1 + gap), voxel_size=h, lateral="no_flux", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    return g, s, jnp.ones(g.shape), jnp.ones(g.shape), tau, n


@pytest.mark.parametrize("porosity, tortuosity, beta", [(0.4, 2.5, 0.0), (0.4, 2.5, 0.6)])
def test_a_separator_over_the_gap_scales_sands_time(porosity, tortuosity, beta):
    """Sand's time at 10 mA/cm² under a separator over the gap (all but the cells the Li plates
    into): eps² / tau of the free electrolyte's without binding, (eps / tau)(eps + beta) with a
    linear binding (K c0 = 1e-3), within 3 % (measured +2.50 % and +2.86 %: the free cells under the
    separator hold salt the formula does not have; the same column without a separator lands
    -0.7 %). The salt balance closes to 1e-6 without binding, to 1e-4 with it (its storage is taken
    at the step's starting concentration; measured 1.4e-5). The summary's Sand margin (the
    separator's Sand time over the run time) is then 1 within the same 3 % (measured 0.976, 0.971),
    and its pores' lowest c / c0 near 0. float64, SEI off."""
    g, s, k, l, tau, layers = _column(porosity, tortuosity, beta)
    affinity = 1e-3 / ORACLE.concentration
    sep = Separator(layers * g.voxel_size, porosity, tortuosity, beta / affinity if beta else 0.0, affinity if beta else 0.0)
    j = 100.0
    res = simulate("sand", g, s, k, l, jnp.zeros(g.shape), ORACLE, Kinetics(),
                   Protocol((Segment("plate", j, 1.1 * tau * j),)), sei_charge_density=0.0, separator=sep)
    log = res.segments[0]
    assert log["event"] == "depletion"
    assert log["seconds"] == pytest.approx(tau, rel=0.03)
    assert res.summary["separator_porosity"] == porosity and not res.summary["li_reached_separator"]
    assert res.summary["salt_balance_error"] < (1e-4 if beta else 1e-6)  # the bound Li+ counts as salt held
    # the separator's Sand margin: its Sand time over the plate's run time, 1 where it depleted
    assert res.summary["separator_sand_margin"] == pytest.approx(1.0, rel=0.03)
    assert 0.0 <= res.summary["separator_min_concentration_ratio"] < SEPARATOR_FACE_AT_DEPLETION


def test_li_that_grows_to_the_separator_stops_there(tmp_path):
    """A foil under a 3-layer gap and a separator, plated with more than the gap holds: the plate
    ends at "Li reached the separator", no Li in its pores, and the summary says so."""
    g = Grid.create((2, 2, 10), voxel_size=0.5e-6, lateral="periodic", precision="float32")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    sep = Separator(3.0e-6)  # 6 layers: the gap is 3 layers (1.5 µm, 0.31 mAh/cm² of dense Li)
    res = simulate("foil", g, s, jnp.ones(g.shape), jnp.zeros(g.shape), jnp.zeros(g.shape), get_electrolyte("lp30"),
                   Kinetics(), Protocol((Segment.plate(1.0, 0.5),)), host_top=1, separator=sep)
    theta = np.asarray(res.state.theta)
    assert res.segments[0]["event"] == "Li reached the separator"
    assert res.summary["li_reached_separator"] is True
    assert "Li reached the separator" in res.summary["message"]
    assert np.abs(theta[:, :, 4:]).max() < 1e-6  # nothing in the separator
    assert theta[:, :, 3].max() >= 0.89  # the front at its face
    # the salt falls toward the plating surface: the separator's pores stay richer than the gap's cells,
    # and 0.5 mAh/cm² at 1 mA/cm² is far from the separator's Sand time (~3,600 s for LP30 at eps² / tau = 0.064)
    summary = res.summary
    assert summary["min_concentration_ratio"] < summary["separator_min_concentration_ratio"] < 1.0
    assert summary["separator_sand_margin"] > 1.5
    write_outputs(tmp_path, res, g, {"s": s, "k": jnp.ones(g.shape), "l": jnp.zeros(g.shape)})
    with open(tmp_path / "foil_timeseries.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert min(float(r["separator_min_concentration_mol_m3"]) for r in rows) == pytest.approx(
        summary["separator_min_concentration_ratio"] * get_electrolyte("lp30").concentration, rel=1e-6)


def test_the_separator_section_and_its_bad_values():
    """``[separator]`` parses into a Separator (µm -> m, defaults); a bad value is one line."""
    base = '[separator]\nthickness_um = 2.0\n'
    case = parse_case(tomllib.loads(base))
    assert case.separator == Separator(2e-6, 0.4, 2.5, 0.0, 0.0)
    for extra, words in (("porosity = 1.5", "porosity: must be <= 1"), ("tortuosity = 0.5", "tortuosity: must be >= 1"),
                         ("binding_affinity_m3_mol = -1.0", "binding_affinity_m3_mol: must be >= 0"),
                         ("pores = 3", "pores")):
        with pytest.raises(InputError, match=words):
            parse_case(tomllib.loads(base + extra + "\n"))
    with pytest.raises(InputError, match="thickness_um"):
        parse_case(tomllib.loads("[separator]\nporosity = 0.4\n"))
    assert parse_case(tomllib.loads("[separator]\nthickness_um = 0\n")).separator is None  # a sweep's bare member


def test_a_separator_that_does_not_fit_is_refused_before_compiling():
    g = Grid.create((2, 2, 8), voxel_size=0.5e-6, lateral="periodic", precision="float32")
    s = jnp.zeros(g.shape).at[:, :, 0:4].set(0.5)
    with pytest.raises(InputError, match=r"\[separator\] thickness_um = 2: its 4 voxel layers do not fit"):
        simulate("x", g, s, jnp.ones(g.shape), jnp.zeros(g.shape), jnp.zeros(g.shape), get_electrolyte("lp30"), Kinetics(),
                 Protocol((Segment.plate(1.0, 0.01),)), host_top=4, separator=Separator(2e-6))


def test_overlay_puts_polymer_and_closed_pores_in_the_top_layers():
    g = Grid.create((2, 2, 6), voxel_size=1e-6, precision="float32")
    z = jnp.zeros(g.shape)
    s, k, l, theta, x = Separator(2e-6, porosity=0.3).overlay(g, z, z + 1.0, z + 1.0, z)
    assert np.allclose(s[:, :, 4:], 0.7) and np.allclose(x[:, :, 4:], 0.3) and np.all(k[:, :, 4:] == 0)
    assert np.all(s[:, :, :4] == 0) and np.all(x[:, :, :4] == 0) and np.all(k[:, :, :4] == 1)
    assert initial_state(g, theta, get_electrolyte("lp30")).theta.shape == g.shape


def _separator_transient(precision: str):
    """``(porosity, binding capacity) -> c`` at the electrode after 5 s at 1 mA/cm² (fixed 1 s
    steps) of a lithiophilic Cu foil under 3 µm of electrolyte and an 8 µm separator (tortuosity 2.5,
    a Langmuir binding of K = 1e-3 m³/mol, K c0 = 1: the strategies study's polar coating): the
    salt's depletion reaches through the separator in that time, so both its porosity (storage and
    conductances) and its binding (storage) move it."""
    from segments import replay, system

    g = Grid.create((1, 1, 12), voxel_size=1e-6, lateral="no_flux", precision=precision)
    s0 = jnp.zeros(g.shape, g.dtype).at[:, :, 0].set(1.0)
    ones, zeros = jnp.ones(g.shape, g.dtype), jnp.zeros(g.shape, g.dtype)
    current = 10.0 * g.length[0] * g.length[1]
    def concentration(porosity, capacity):
        sep = Separator(8e-6, porosity, 2.5, capacity, 1e-3)
        s, k, l, theta, excluded = sep.overlay(g, s0, ones, ones, zeros)
        plating = _with_separator(system(g, s, k, l, ORACLE, Kinetics(), sei=0.0, li_excluded=excluded), sep)
        final = replay(plating, initial_state(g, theta, ORACLE), current, jnp.ones(5, g.dtype))
        return final.concentration[0, 0, 1]

    return concentration


def _with_separator(plating, separator):
    import equinox as eqx

    return eqx.tree_at(lambda p: p.separator, plating, separator, is_leaf=lambda x: x is None)


@pytest.mark.slow  # ~2 min of compilation (two precisions' gradient programs); the Sand oracles stay in the default set
def test_the_separator_porosity_and_binding_derivatives_match_central_differences():
    """d c_electrode / d porosity and / d Gamma through five plating steps: central differences in
    float64 (1e-4), both nonzero; float32 finite and within 2 % of float64."""
    import jax

    f64 = _separator_transient("float64")
    x = (0.4, 500.0)
    exact = jax.grad(f64, argnums=(0, 1))(*x)
    for index, step in ((0, 1e-6), (1, 1e-3)):
        up = list(x)
        down = list(x)
        up[index] += step
        down[index] -= step
        central = (float(f64(*up)) - float(f64(*down))) / (2 * step)
        assert central != 0.0
        assert float(exact[index]) == pytest.approx(central, rel=1e-4), index
    f32 = _separator_transient("float32")
    single = jax.grad(f32, argnums=(0, 1))(jnp.float32(x[0]), jnp.float32(x[1]))
    for a, b in zip(single, exact):
        assert np.isfinite(float(a)) and float(a) == pytest.approx(float(b), rel=2e-2)
