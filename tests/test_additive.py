"""The additive shield: the Nernst table of Ding et al. (J. Am. Chem. Soc. 135, 4450 (2013)), the
rule that only an additive below Li's potential shields (said in one line otherwise), the case
keys, and the direction of the shield on a Li protrusion."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import Grid, InputError, Kinetics, get_electrolyte
from hostsim.electrochemistry.additive import AdditiveShield
from hostsim.electrochemistry.metrics import flux_statistics
from hostsim.electrochemistry.potential import solve_potential
from hostsim.run.case import parse_case

LP30 = get_electrolyte("lp30")

# Ding et al.'s effective reduction potentials [V vs SHE], Cs+ and Rb+ at the given mol/L
NERNST_TABLE = [("cs", 0.001, -3.203), ("cs", 0.01, -3.144), ("cs", 0.05, -3.103), ("cs", 0.1, -3.085),
                ("rb", 0.1, -3.039)]


@pytest.mark.parametrize("cation, molar, expected", NERNST_TABLE)
def test_the_reduction_potentials_are_ding_et_al_s_to_1_mV(cation, molar, expected):
    shield = AdditiveShield(cation, concentration=molar * 1000.0)
    assert float(shield.reduction_potential()) == pytest.approx(expected, abs=1e-3)
    assert float(shield.li_potential()) == pytest.approx(-3.040, abs=1e-6)  # 1 M Li+
    assert bool(shield.active()) is (cation == "cs")  # Rb+ at 0.1 M (-3.039 V) is not below Li


def test_a_case_file_additive_and_the_one_line_when_it_would_be_reduced():
    case = parse_case({"electrolyte": {"additive": {"cation": "cs", "concentration_mol_L": 0.05}}}, "a.toml")
    assert case.kinetics.shield.concentration == pytest.approx(50.0) and case.notes == []
    case = parse_case({"electrolyte": {"additive": {"cation": "rb", "concentration_mol_L": 0.1}}}, "b.toml")
    assert case.notes == ["b.toml: [electrolyte.additive] rb at 0.1 mol/L would be reduced and does not shield: its "
                          "reduction potential -3.039 V vs SHE is not below Li's -3.040 V"]
    phi = jnp.linspace(0.0, 0.01, 8)
    assert float(case.kinetics.shield.coverage_field(phi, phi > -1.0).max()) == 0.0  # it covers nothing
    bad = {"cation": "na", "concentration_mol_L": 0.1}
    with pytest.raises(InputError, match=r"^case \[electrolyte.additive\] cation: expected one of cs, rb; got 'na'$"):
        parse_case({"electrolyte": {"additive": bad}})
    with pytest.raises(InputError, match=r"concentration_mol_L: must be <= 1, got 2"):
        parse_case({"electrolyte": {"additive": {"cation": "cs", "concentration_mol_L": 2}}})


def _protrusion(grid):
    """A Cu foil under a Li layer with a 4 x 4 µm Li pillar 22 µm tall in a 12 x 12 µm cell."""
    s = jnp.zeros(grid.shape).at[:, :, 0].set(1.0)
    theta = jnp.zeros(grid.shape).at[:, :, 1].set(1.0).at[2:4, 2:4, 1:12].set(1.0)
    return s, jnp.ones(grid.shape), jnp.zeros(grid.shape), theta


def test_the_shield_lowers_the_hot_spot_and_covers_the_tip_most():
    """At 5 mA/cm² on the protrusion (float64), Cs+ at 0.05 M lowers the hot-spot ratio of the Li
    plating current and its flux CV, covers the pillar's top most and leaves the cell voltage as it
    was (to 1 mV)."""
    g = Grid.create((6, 6, 24), voxel_size=2e-6, lateral="periodic", precision="float64")
    s, k, l, theta = _protrusion(g)
    c = jnp.full(g.shape, LP30.concentration)
    current = 50.0 * g.length[0] * g.length[1]  # 5 mA/cm² over the projected area [A]
    bare = solve_potential(g, s, k, l, theta, c, LP30, Kinetics(), current=current)
    # the coverage a run's step holds: that of the state solved before it
    shield = AdditiveShield("cs", concentration=50.0).covering(bare.phi, bare.reaction > 0)
    shielded = solve_potential(g, s, k, l, theta, c, LP30, Kinetics(shield=shield), current=current)
    ratios = [float(flux_statistics(sol.face_area, sol.face_current)[2]) for sol in (bare, shielded)]
    coverage = np.asarray(shield.coverage)
    top = np.unravel_index(np.argmax(coverage), g.shape)
    cvs = [float(flux_statistics(sol.face_area, sol.face_current)[1]) for sol in (bare, shielded)]
    assert ratios[1] < ratios[0] - 0.005 and cvs[1] < 0.8 * cvs[0], (ratios, cvs)  # measured 1.0150 -> 1.0054
    assert top[2] == 12 and 2 <= top[0] < 4 and 2 <= top[1] < 4, top  # the electrolyte cell above the tip
    # the flat Li far from the pillar sits below the mean electrolyte potential: uncovered
    assert coverage.max() > 0.01 and coverage[0, 0, 2] == 0.0, (coverage.max(), coverage[0, 0, 2])
    assert abs(float(shielded.voltage) - float(bare.voltage)) < 1e-3  # a shield, not a tax on the whole surface
