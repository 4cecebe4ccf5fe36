"""The whole plating loop (potential + Li update + salt) against the analytic cell in 1-D: a
lithiophilic Cu collector, an electrolyte gap L, and on top either a reservoir or a planar Li
counter electrode (:mod:`hostsim.electrochemistry.cell`): the steady symmetric cell, its ohmic drop,
the limiting current and Sand's time. Surface concentrations are extrapolated to the electrode
faces over half a cell. Steady-state oracles run fixed steps of the physics step (a state that
does not change needs no controller); transients and events run the adaptive integrator."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from segments import fixed_steps, system

from hostsim import FARADAY, Grid, Kinetics, LithiumCounterElectrode, Reservoir, get_electrolyte
from hostsim.electrochemistry.constants import GAS_CONSTANT, TEMPERATURE
from hostsim.electrochemistry.kinetics import limiting_current_density, sand_time
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, Q_SEI
from hostsim.electrochemistry.plating import initial_state
from hostsim.run.protocol import Protocol, Segment, run_protocol

ORACLE = get_electrolyte("spec_oracle")
D, C0, TP = 3e-10, 1000.0, 0.38


def _cell(gap, h):
    n = int(round(gap / h))
    g = Grid.create((1, 1, n + 1), voxel_size=h, lateral="no_flux", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    return g, s, jnp.ones(g.shape), jnp.ones(g.shape)  # Cu collector, lithiophilic (no nucleation barrier)


def _steady_start(g, gap, J, top):
    """The analytic steady profile on the cell centres (z from the collector face)."""
    q = (1 - TP) * J / FARADAY
    z = (np.arange(g.shape[2]) - 0.5) * g.voxel_size
    c_we = C0 - (q * gap / (2 * D) if isinstance(top, LithiumCounterElectrode) else q * gap / D)
    c = (c_we + q * z / D).reshape(g.shape)
    return initial_state(g, jnp.zeros(g.shape), ORACLE)._replace(concentration=jnp.asarray(c)), q


def _run_steady(gap, h, J, top, steps=20, dt=0.05):
    """``steps`` fixed steps of ``dt`` from the analytic steady profile (SEI off: pure Li); the
    returned state carries the potential of its own concentration field."""
    g, s, k, l = _cell(gap, h)
    st, q = _steady_start(g, gap, J, top)
    out, obs, _ = fixed_steps(system(g, s, k, l, ORACLE, Kinetics(), top=top, sei=0.0), st, J * h * h, dt, steps)
    c = np.asarray(out.concentration)[0, 0]
    return out, obs, c, q


def _ln_drop(c_hi, c_lo):  # diffusion potential (2RT/F)(1 - t+) ln(c_hi/c_lo) [V], TDF = 1
    return 2 * GAS_CONSTANT * TEMPERATURE / FARADAY * (1 - TP) * np.log(c_hi / c_lo)


def _eta(kin, i, c):
    """Overpotential [V] carrying current density i [A/m²] (plating > 0) at c (BV inverted)."""
    from scipy.optimize import brentq

    return brentq(lambda e: float(kin.butler_volmer(e, c)) - i, -2.0, 2.0, xtol=1e-15)


def test_symmetric_cell_steady_state_through_the_full_loop():
    """The symmetric Li|Li cell with a planar Li counter electrode: 10 mA/cm², L = 100 µm. The loop
    holds the analytic steady state: electrode concentrations 892.9 / 1107.1 mol/m³ (measured
    892.890 / 1107.097 after 20 fixed steps of 0.05 s: the first cell's 0.7 % of Li),
    concentration overpotential 6.85 mV, and the cell voltage is exactly
    eta_we + phi_e(electrode) - eta_ce."""
    J, L, h = 100.0, 100e-6, 2e-6
    out, _, c, q = _run_steady(L, h, J, LithiumCounterElectrode())
    c_we = c[1] - q * h / (2 * D)
    c_ce = c[-1] + q * h / (2 * D)
    assert c_we == pytest.approx(892.9, abs=0.05) and c_ce == pytest.approx(1107.1, abs=0.05)
    assert _ln_drop(c_ce, c_we) * 1e3 == pytest.approx(6.85, abs=0.01)
    # linear between the electrodes to 2e-4 (measured 1.2e-4): the first cell's 0.7 % of Li after 1 s
    # pushes its electrolyte up, and the profile above moves with it while the front cell's stays
    np.testing.assert_allclose(np.diff(c[2:]), q * h / D, rtol=2e-4)
    kin = Kinetics()
    # the reaction sits on the collector's face: the face potential is the first cell's
    # minus the half cell's ohmic drop and diffusion potential
    phi_we = float(out.phi[0, 0, 1]) - J * h / (2 * ORACLE.conductivity_value) - _ln_drop(c[1], c_we)
    expected = _eta(kin, J, c_we) + phi_we - _eta(kin, -J, c_ce)
    # to the face linearisation's ~(F R J / RT)^2 (docs/electrochemistry.md; measured 1.2e-6 V); the
    # cell-centre placement was 2.1e-4 V off
    assert float(out.voltage) == pytest.approx(expected, abs=2e-6)
    # electrolyte drop from the face = ohmic + diffusion potential: the ohmic part is J L / kappa
    ohmic = -phi_we - _ln_drop(c_ce, c_we)
    assert ohmic == pytest.approx(J * L / ORACLE.conductivity_value, rel=2e-4)  # measured 6e-5 (the first cell's Li)


def test_ohmic_drop_is_j_l_over_kappa_at_every_cell_size():
    """The ohmic drop J L / kappa = 10.00 mV of the symmetric cell, from the electrode's face (the
    reaction sits on the face, not at the first cell's centre, where the drop was J (L - h/2) /
    kappa): the electrolyte potential at the face, as the run's cell voltage implies it
    (V - eta_we(c_face) + eta_ce), less the diffusion potential, is 10.00 mV at 4, 2 and 1 µm cells
    within 5e-3 mV (the face linearisation and the first cell's bit of Li after 4 fixed steps;
    measured +1.5e-3, +2.3e-4, -8e-5 mV; the centre placement was 0.2, 0.1, 0.05 mV short)."""
    J, L = 100.0, 100e-6
    kin = Kinetics()
    for h in (4e-6, 2e-6, 1e-6):
        out, _, c, q = _run_steady(L, h, J, LithiumCounterElectrode(), steps=4)
        c_we, c_ce = c[1] - q * h / (2 * D), c[-1] + q * h / (2 * D)
        phi_face = float(out.voltage) - _eta(kin, J, c_we) + _eta(kin, -J, c_ce)
        assert (-phi_face - _ln_drop(c_ce, c_we)) * 1e3 == pytest.approx(10.00, abs=5e-3)


@pytest.mark.parametrize("top", [Reservoir(), LithiumCounterElectrode()], ids=["reservoir", "li_counter"])
def test_limiting_current_through_the_full_loop(top):
    """The limiting current: at half of it the steady surface concentration c_s gives
    J_lim = J c0 / (c0 - c_s) (linear profile); 46.7 mA/cm² against a reservoir and 93.4 mA/cm²
    between two Li electrodes at L = 100 µm, within 0.5 % (measured -0.014 % and -0.057 %)."""
    L, h = 100e-6, 2e-6
    symmetric = isinstance(top, LithiumCounterElectrode)
    j_lim = float(limiting_current_density(ORACLE, L, symmetric=symmetric))
    J = 0.5 * j_lim
    _, _, c, q = _run_steady(L, h, J, top)
    c_s = c[1] - q * h / (2 * D)
    assert J * C0 / (C0 - c_s) == pytest.approx(j_lim, rel=5e-3)
    # the top holds its side of the steady state (a counter electrode that released no salt, or
    # the wrong sign, would move the top face by ~q sqrt(t/D) within the run)
    top_face = c[-1] + q * h / (2 * D) if symmetric else C0
    # (the fixed counter electrode lets the displaced electrolyte out with its salt where a real one
    # recedes with it: its face sits 0.63 mol/m³, 4e-4, low after 1 s at half the limiting current)
    assert top_face == pytest.approx(C0 + q * L / (2 * D) if symmetric else C0, abs=1.0 if symmetric else 0.05)
    # measured 1.8e-3: the first cell's Li pushes the electrolyte up, and the profile moves with it
    # while the top face holds its value
    np.testing.assert_allclose(np.diff(c[2:]), q * h / D, rtol=2.5e-3)
    assert j_lim / 10 == pytest.approx(93.4 if symmetric else 46.7, abs=0.05)


def test_sand_time_through_the_full_loop():
    """Sand's time through run_protocol: 10 mA/cm² on a Cu foil under a 2 mm electrolyte column
    (5 µm cells, SEI off). The plate ends with a depletion event when the surface concentration
    (extrapolated to the interface) reaches 1e-3 c0 or the surface cannot pass the current; the
    event is located inside the step that crosses it, and its time is Sand's 571 s within 1 %
    at the default time tolerance (measured -0.76 %; -1.42 % at 0.005: the 5 µm cells' own error,
    the front cell's surface value starting a cell's gradient lower when the front moves on)."""
    h = 5e-6
    g, s, k, l = _cell(2e-3, h)
    J = 100.0
    tau = float(sand_time(J, ORACLE))
    prot = Protocol((Segment("plate", J, 1.2 * tau * J),))
    _, ser, logs = run_protocol(g, s, k, l, initial_state(g, jnp.zeros(g.shape), ORACLE), ORACLE, Kinetics(), prot,
                                sei_charge_density=0.0)
    assert logs[0]["outcome"] == "event" and logs[0]["event"] == "depletion"
    assert logs[0]["seconds"] == pytest.approx(tau, rel=0.01)
    assert ser["time"][-1] == pytest.approx(logs[0]["seconds"], rel=1e-12)  # the series ends at the event
    # the event's state: within the depletion tolerance (1e-4 c0) above the 1e-3 c0 threshold
    assert ser["min_interface_concentration"][-1] == pytest.approx(1e-3 * C0, abs=1e-4 * C0 + 1e-9)
    assert np.all(np.isfinite(ser["voltage"]))
    # only accepted states are records: every row carries the plate's current and a surface that
    # still has salt (the step that crossed the event is not one of them)
    assert np.all(ser["current"] == pytest.approx(J * g.length[0] * g.length[1], rel=1e-12))
    assert np.all(ser["min_interface_concentration"] >= 1e-3 * C0 - 1e-4 * C0)


@pytest.mark.parametrize("name, current_density", [("lp30", 100.0), ("lp30", 300.0), ("lifsi_dme_4m", 300.0),
                                                    ("lifsi_dme_4m", 1000.0)])
def test_sand_time_of_a_dilute_and_a_concentrated_electrolyte(name, current_density):
    """Sand's time on a planar Cu foil for LP30 and 4 M LiFSI-DME at two currents each, within 2 %
    of the formula: the Li front pushes its electrolyte, with its salt, towards the reservoir, so in
    the front's frame the electrolyte is at rest, as the formula has it. (Deleting the displaced
    salt in place delayed depletion by ~V_m c0 / (1 - t+): measured +7.8 % for 4 M, +0.8 % for LP30;
    now +0.14 % and -0.9 %.) A column of 5 diffusion lengths sqrt(D tau) at 88 cells each, float64,
    SEI off. The 4 M set keeps its placeholder conductivity (0.45 S/m): its 1 mm column drops about
    a volt, which the depletion event's runaway test (the surface overpotential V - phi, not V)
    must not read as depletion."""
    electrolyte = get_electrolyte(name)
    tau = float(sand_time(current_density, electrolyte))
    length = np.sqrt(float(electrolyte.diffusivity(electrolyte.concentration)) * tau)
    g, s, k, l = _cell(440 * length / 88, length / 88)
    prot = Protocol((Segment("plate", current_density, 1.2 * tau * current_density),))
    _, _, logs = run_protocol(g, s, k, l, initial_state(g, jnp.zeros(g.shape), electrolyte), electrolyte, Kinetics(),
                              prot, sei_charge_density=0.0)
    assert logs[0]["event"] == "depletion"
    assert logs[0]["seconds"] == pytest.approx(tau, rel=0.02)


def test_shared_sink_keeps_front_cells_positive():
    """A nearly full front cell (1 % electrolyte) under a hot-spot face (100 mA/cm²): with the sink
    on its own electrolyte, one 0.1 s backward-Euler step drives c below zero (measured -161
    mol/m³); shared with the electrolyte above (hostsim.electrochemistry.salt.shared_sink) it stays with its
    neighbour (899.5 vs 899.1 mol/m³). The sink's total is unchanged
    and cells at least half electrolyte keep all of theirs."""
    from hostsim.numerics.operators import Dirichlet, Neumann
    from hostsim.electrochemistry.salt import salt_step, shared_sink

    h = 1e-6
    g = Grid.create((1, 1, 12), voxel_size=h, lateral="no_flux", precision="float64")
    eps = jnp.ones(g.shape).at[:, :, 0].set(0.0).at[:, :, 1].set(0.01)
    q = (1 - TP) * 1000.0 / FARADAY  # 100 mA/cm² through the face below cell 1 [mol/(m² s)]
    sink = jnp.zeros(g.shape).at[:, :, 1].set(q / h)
    shared = shared_sink(g, sink, eps)
    assert float(jnp.sum(shared)) == pytest.approx(float(jnp.sum(sink)), rel=1e-12)
    np.testing.assert_allclose(shared_sink(g, sink, jnp.ones(g.shape)), sink)  # eps >= 0.5: untouched
    d_eff = D * jnp.maximum(eps, 1e-6)

    def step(s):
        c, _ = salt_step(g, g.full(C0), jnp.maximum(eps, 1e-6), d_eff, 0.1, sink=s, lo=Neumann(0.0),
                         hi=Dirichlet(C0), d_ref=D)
        return float(c[0, 0, 1]), float(c[0, 0, 2])

    assert step(sink)[0] < 0
    front, above = step(shared)
    assert front == pytest.approx(above, rel=0.01) and front > 0.85 * C0


def test_shared_sink_of_a_closing_pore_reaches_the_nearest_electrolyte():
    """A pore that closes within one step: a three-cell channel along x whose cells and neighbours
    are all dry after the step, inside Li, with electrolyte two cells above it. Kept in the channel
    (on the operators' 1e-6 electrolyte floor), its sink drove c to -4.1 c0 in the default Cu
    skeleton (step 390, reaction on the face). Now the sink moves on to the electrolyte: the total
    is unchanged to round-off, nothing stays in a dry cell, and one backward-Euler step keeps every
    cell's c positive where the kept sink went to -1e5 mol/m³ and below."""
    from hostsim.numerics.operators import Dirichlet, Neumann
    from hostsim.electrochemistry.salt import salt_step, shared_sink

    h = 1e-6
    g = Grid.create((5, 3, 8), voxel_size=h, lateral="no_flux", precision="float64")
    eps = jnp.zeros(g.shape).at[:, :, 5:].set(1.0)  # Li below z = 5, electrolyte above
    q = (1 - TP) * 100.0 / FARADAY  # 10 mA/cm² on each channel cell's faces [mol/(m² s)]
    sink = jnp.zeros(g.shape).at[1:4, 1, 3].set(q / h)
    shared = shared_sink(g, sink, eps)
    assert float(jnp.sum(shared)) == pytest.approx(float(jnp.sum(sink)), rel=1e-12)
    assert float(jnp.max(jnp.abs(jnp.where(eps > 0, 0.0, shared)))) == 0.0  # none left in a dry cell
    assert float(jnp.min(shared)) >= 0.0

    def step(s):
        c, _ = salt_step(g, g.full(C0), jnp.maximum(eps, 1e-6), D * jnp.maximum(eps, 1e-6), 1.0, sink=s,
                         lo=Neumann(0.0), hi=Dirichlet(C0), d_ref=D)
        return np.asarray(c)

    assert step(sink).min() < -1e5
    assert step(shared).min() > 0.0


@pytest.mark.parametrize("top", [Reservoir(), LithiumCounterElectrode()], ids=["reservoir", "li_counter"])
@pytest.mark.parametrize("electrolyte", ["lp30", "lp30_vr"])
def test_float32_runs_stay_float32(top, electrolyte):
    """A float32 run with jax_enable_x64 on (as in these tests) keeps every state field float32
    and finite, for constant and Valøen–Reimers electrolytes and both tops (a float64 constant
    used to leak into the Newton carry)."""
    el = get_electrolyte(electrolyte)
    g = Grid.create((4, 4, 24), voxel_size=0.5e-6, lateral="periodic", precision="float32")
    s = jnp.zeros(g.shape, jnp.float32).at[:, :, 0].set(1.0)
    k = jnp.ones(g.shape, jnp.float32)
    st, ser, logs = run_protocol(g, s, k, jnp.zeros(g.shape, jnp.float32),
                                 initial_state(g, jnp.zeros(g.shape, jnp.float32), el), el, Kinetics(),
                                 Protocol((Segment.plate(1.0, 0.05),)), top=top)
    for name, value in st._asdict().items():
        if name == "connected":  # the connected set is boolean
            assert value.dtype == jnp.bool_
            continue
        assert value.dtype == jnp.float32, name
        assert np.all(np.isfinite(np.asarray(value))), name
    for name in ("dt", "voltage", "min_interface_concentration", "envelope_mean"):  # the device's rows too
        assert ser[name].dtype == np.float32, name
    assert logs[0]["outcome"] == "completed"  # no depletion or other event
    requested = 0.05 * COULOMB_PER_MAH_CM2 * g.length[0] * g.length[1]
    assert float(st.passed_charge) == pytest.approx(requested, rel=1e-6)  # float32 round-off


def test_large_ohmic_drop_is_not_mistaken_for_depletion():
    """A 1 mm gap at 50 mA/cm² (ohmic drop 0.5 V, Sand's time 23 s), plated for a fifth of Sand's
    time: every state's Newton solve passes the current, the cold first one too (the adaptive
    Newton from the Butler-Volmer guess), so no false depletion ends the plate (it once stopped at
    t = 0 with c still at 0.69 c0); the surface concentration stays far above the threshold."""
    h, gap, J = 10e-6, 1e-3, 500.0
    g, s, k, l = _cell(gap, h)
    prot = Protocol((Segment("plate", J, 0.2 * float(sand_time(J, ORACLE)) * J),))
    _, ser, logs = run_protocol(g, s, k, l, initial_state(g, jnp.zeros(g.shape), ORACLE), ORACLE, Kinetics(), prot)
    assert logs[0]["outcome"] == "completed" and logs[0]["event"] is None
    assert logs[0]["passed_charge_C"] == pytest.approx(logs[0]["requested_charge_C"], rel=1e-12)
    assert int(np.sum(ser["dt"] > 0)) == logs[0]["steps"] >= 5
    assert np.abs(ser["current_error"]).max() < 1e-6 and ser["newton_converged"].all()
    assert ser["min_interface_concentration"].min() > 0.5 * C0  # measured 0.56 c0 at the end
    assert np.all(ser["voltage"] < -0.5)  # the ohmic drop is carried, not cut


def test_a_strip_out_of_li_ends_as_li_exhausted_at_the_li_there_was():
    """With the voltage cutoff out of reach (5 V), a strip past its Li ends as "Li exhausted", not
    as depleted electrolyte: the current cannot pass once no connected Li is left. It has passed the
    Li the plate left (the plate less its SEI) to 1e-3 of the plate, every record's voltage stays
    below the cutoff, and no cell's Li changes by more than a cell."""
    from hostsim.run.simulation import simulate

    g, s, k, l = _cell(20e-6, 1e-6)
    res = simulate("foil", g, s, k, l, jnp.zeros(g.shape), ORACLE, Kinetics(),
                   Protocol((Segment.plate(1.0, 0.2), Segment.strip(1.0, 0.3))), voltage_cutoff=5.0)
    sm = res.summary
    assert res.segments[1]["event"] == "Li exhausted", sm["message"]
    assert "ended early (Li exhausted)" in sm["message"]
    stripped = sm["stripped_mAh_cm2"]
    assert stripped == pytest.approx(0.2 - sm["sei_loss_mAh_cm2"], abs=1e-3 * 0.2)
    assert np.all(np.abs(res.series["voltage"]) < 5.0) and np.all(res.series["max_dtheta"] <= 1.0)


def test_strip_to_exhaustion_stops_and_conserves():
    """Plate 0.2, strip 0.3 mAh/cm² against a reservoir (SEI on): the strip ends at the voltage
    cutoff when the Li is gone, the summary says so, and every coulomb is accounted for: the charge
    passed is Li metal + SEI to round-off, the strip passed the Li metal the plate left (the plate
    less the SEI it formed), to 1e-3 of the plate (the last traces of the film, 2e-4 of the plate
    measured, are under the fill at which a face's Li cover closes and are not stripped before
    0.5 V), and the final voltage sits within the cutoff's 0.05 mV below it."""
    from hostsim.run.simulation import simulate

    g, s, k, l = _cell(20e-6, 1e-6)
    res = simulate("foil", g, s, k, l, jnp.zeros(g.shape), ORACLE, Kinetics(),
                   Protocol((Segment.plate(1.0, 0.2), Segment.strip(1.0, 0.3))))
    sm = res.summary
    assert [log["outcome"] for log in res.segments] == ["completed", "event"]
    assert res.segments[1]["event"] == "voltage cutoff"
    assert "segment 2 (strip, cycle 1) ended early (voltage cutoff)" in sm["message"]
    assert sm["conservation_error"] < 1e-9
    assert res.segments[0]["passed_charge_C"] == pytest.approx(res.segments[0]["requested_charge_C"], rel=1e-12)
    plated = 0.2
    assert sm["sei_loss_mAh_cm2"] == pytest.approx(Q_SEI / COULOMB_PER_MAH_CM2, rel=1e-9)  # one planar Li surface
    stripped = sm["passed_stripping_charge_C"] / (g.length[0] * g.length[1]) / COULOMB_PER_MAH_CM2
    assert stripped == pytest.approx(plated - sm["sei_loss_mAh_cm2"], abs=1e-3 * plated)
    assert 0.0 <= sm["li_metal_mAh_cm2"] < 1e-3 * plated and float(jnp.min(res.state.theta)) >= 0.0
    assert 0.5 - 5e-5 <= sm["final_voltage_V"] <= 0.5


def test_sealed_pocket_takes_no_current():
    """A pocket of electrolyte sealed on all six sides by Li has no ionic path: it offers no
    interface (hostsim.electrochemistry.interfaces.ion_access). Opened by one electrolyte neighbour it does."""
    from hostsim.electrochemistry.interfaces import face_areas

    g = Grid.create((5, 5, 5), voxel_size=1e-6, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape)
    k = jnp.zeros(g.shape)
    theta = jnp.ones(g.shape).at[2, 2, 2].set(0.8)  # 20 % electrolyte in the centre, Li all around
    assert float(sum(face_areas(g, s, k, theta))[2, 2, 2]) == 0.0
    opened = theta.at[2, 2, 3].set(0.0)  # one neighbour becomes electrolyte
    assert float(sum(face_areas(g, s, k, opened))[2, 2, 2]) > 1.0 * g.voxel_size**2
