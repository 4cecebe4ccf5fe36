"""Plating into voxels: Faraday's law / volume (SPEC 6.1), conservation in a 3D host, the
per-step cap, and gradients through a short plating transient (SPEC 6.8)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import FARADAY, LI_MOLAR_VOLUME, Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.plating import initial_state, plate

ORACLE = get_electrolyte("spec_oracle")
MAH_CM2 = 36000.0  # C/m² per mAh/cm²


def _foil(grid):
    s = jnp.zeros(grid.shape).at[:, :, 0].set(1.0)
    return s, jnp.ones(grid.shape), jnp.zeros(grid.shape)


def test_faraday_volume_on_a_flat_foil():
    """1 mAh/cm² at 1 mA/cm² on bare Cu: the Li layer is Q V_m / F = 4.8497 µm thick to round-off
    (3 mAh/cm² would be 14.549 µm), and the plated charge equals I t."""
    h = 0.5e-6
    g = Grid.create((3, 3, 20), voxel_size=h, lateral="periodic", precision="float64")
    s, k, l = _foil(g)
    J, q, steps = 10.0, 1.0 * MAH_CM2, 120  # dtheta per step 0.081 < 0.1
    area = (3 * h) ** 2
    dt = q / J / steps
    st, rec = plate(g, s, k, l, initial_state(g, jnp.zeros(g.shape), ORACLE), ORACLE, Kinetics(), J * area, dt, steps)
    thickness = float(jnp.mean(jnp.sum(st.theta, axis=2))) * h
    assert thickness == pytest.approx(q * LI_MOLAR_VOLUME / FARADAY, rel=1e-12)
    assert 3 * MAH_CM2 * LI_MOLAR_VOLUME / FARADAY * 1e6 == pytest.approx(14.549, abs=5e-4)
    assert float(st.plated_charge) == pytest.approx(J * area * dt * steps, rel=1e-12)
    assert not bool(jnp.any(rec.cap_binding)) and float(st.capped_charge) == pytest.approx(0.0, abs=1e-20)
    # the Li is a uniform layer: every column holds the same
    cols = np.asarray(jnp.sum(st.theta, axis=2))
    assert cols.std() < 1e-12 * cols.mean()


def test_conservation_in_a_3d_host_and_the_cap():
    """SPEC 6.1 in a 3D skeleton (float64): Li volume x F / V_m = plated charge = I t to 1e-6. With
    steps too long for the 0.1 cap the cap binds, says so, and the held-back charge is counted."""
    import geometries as geo

    fam = geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                         fibre_diameter_um=0.5, precision="float64")
    f = fam.fields()
    g = f.grid
    area = g.length[0] * g.length[1]
    J, steps = 10.0, 10
    dt = 0.5 * MAH_CM2 / J / steps
    st, rec = plate(g, f.s, f.k, f.l, initial_state(g, f.theta, ORACLE), ORACLE, Kinetics(), J * area, dt, steps)
    li = float(jnp.sum(st.theta)) * g.voxel_size**3 * FARADAY / LI_MOLAR_VOLUME
    assert li == pytest.approx(float(st.plated_charge), rel=1e-9)
    assert li + float(st.capped_charge) == pytest.approx(J * area * dt * steps, rel=1e-6)
    assert float(jnp.min(st.theta)) >= 0 and float(jnp.max(st.theta + f.s)) <= 1 + 1e-12
    # ten times longer steps: the cap binds and is reported
    st2, rec2 = plate(g, f.s, f.k, f.l, initial_state(g, f.theta, ORACLE), ORACLE, Kinetics(), J * area, 10 * dt, 2)
    assert bool(jnp.any(rec2.cap_binding)) and float(st2.capped_charge) > 0
    li2 = float(jnp.sum(st2.theta)) * g.voxel_size**3 * FARADAY / LI_MOLAR_VOLUME
    assert li2 + float(st2.capped_charge) == pytest.approx(J * area * 20 * dt, rel=1e-6)


def _pillar_share(precision):
    """Li plated on a pillar / all Li after three plating steps, as a function of i0."""
    g = Grid.create((6, 6, 10), voxel_size=1e-6, lateral="periodic", precision=precision)
    s = jnp.zeros(g.shape, g.dtype).at[:, :, 0].set(1.0).at[2:4, 2:4, 1:4].set(1.0)
    k, l = jnp.ones(g.shape, g.dtype), jnp.zeros(g.shape, g.dtype)
    pillar = jnp.zeros(g.shape, g.dtype).at[1:5, 1:5, 1:5].set(1.0)

    def on_pillar(i0):
        kin = Kinetics(exchange_current_density=i0)
        st, _ = plate(g, s, k, l, initial_state(g, jnp.zeros(g.shape, g.dtype), ORACLE), ORACLE, kin,
                      50.0 * (6e-6) ** 2, 2.0, 3)
        return jnp.sum(st.theta * pillar) / jnp.sum(st.theta)

    return on_pillar


def test_gradient_through_a_short_plating_transient():
    """SPEC 6.8: d(Li plated on the pillar) / d(i0) through three plating steps (potential Newton,
    salt and Li updates) against central differences, float64, 1e-4 relative."""
    on_pillar = _pillar_share("float64")
    i0 = 10.0
    ad = float(jax.grad(on_pillar)(i0))
    fd = float((on_pillar(i0 * (1 + 1e-4)) - on_pillar(i0 * (1 - 1e-4))) / (2e-4 * i0))
    assert abs(fd) > 1e-8
    assert ad == pytest.approx(fd, rel=1e-4)


def test_float32_gradient_is_finite_and_matches_float64():
    """The same gradient in float32 (a max(total, tiny) in the salt sink once made it NaN): finite
    and within 1 % of float64 (measured 3.7204e-5 vs 3.72e-5)."""
    g64 = float(jax.grad(_pillar_share("float64"))(10.0))
    g32 = float(jax.grad(_pillar_share("float32"))(jnp.float32(10.0)))
    assert np.isfinite(g32) and g32 == pytest.approx(g64, rel=1e-2)


def test_plate_rest_strip_protocol_on_a_foil():
    """Plate 0.5 mAh/cm², rest, strip 0.6 mAh/cm² at 1 mA/cm²: the envelope grows by Q V_m / F,
    all Li is stripped (relative volume change 100 %, SPEC 5), no dead Li, the strip stops at the
    voltage cutoff when the Li is gone (never host, never below zero), and the charge balance
    holds."""
    from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2, dead_li_fraction
    from hostsim.run.protocol import Protocol, Segment, run_protocol

    h = 0.5e-6
    g = Grid.create((2, 2, 14), voxel_size=h, lateral="periodic", precision="float64")
    s, k, l = _foil(g)
    proto = Protocol((Segment.plate(1.0, 0.5), Segment("rest", duration=60.0), Segment.strip(1.0, 0.6)))
    st, ser = run_protocol(g, s, k, l, initial_state(g, jnp.zeros(g.shape), ORACLE), ORACLE, Kinetics(), proto)
    h_max, h_end = ser["envelope_mean"].max(), ser["envelope_mean"][-1]
    assert h_max == pytest.approx(0.5 * COULOMB_PER_MAH_CM2 * LI_MOLAR_VOLUME / FARADAY, rel=1e-9)
    # the electrode polarises to the cutoff as the last Li goes (its cover weight vanishes): measured,
    # 8e-6 of the film (0.04 nm) is left, so the relative volume change is 1 to 1e-5
    assert (h_max - h_end) / h_max == pytest.approx(1.0, abs=1e-4)
    plated = 0.5 * COULOMB_PER_MAH_CM2 * LI_MOLAR_VOLUME / FARADAY / h * 4  # sum of theta after plating
    assert float(jnp.sum(st.theta)) < 1e-4 * plated and float(jnp.min(st.theta)) >= 0
    assert dead_li_fraction(s, k, st.theta) == 0.0
    area = (2 * h) ** 2
    # the strip stops at the voltage cutoff once the Li is gone; the steps after it carry no current.
    # Charge requested = Li gained + charge held back (capped or undelivered, magnitudes per step), to
    # round-off; each step holds back no more than it asked for
    dt = np.diff(np.concatenate([[0.0], ser["time"]]))
    passed = float(np.sum(ser["current"] * dt))
    throughput = float(np.sum(np.abs(ser["current"]) * dt))
    moved = np.diff(np.concatenate([[0.0], ser["plated_charge"]]))  # charge that became (+) or left (-) Li
    missing = float(st.capped_charge) + float(st.undelivered_charge)
    assert float(np.sum(np.abs(moved))) + missing == pytest.approx(throughput, abs=1e-9 * 0.5 * COULOMB_PER_MAH_CM2 * area)
    assert float(st.plated_charge) == pytest.approx(float(np.sum(moved)), abs=1e-12 * throughput)
    assert ser["cutoff"][-1] and ser["voltage"].max() > 0.5  # Li exhausted: the electrode polarised to the cutoff
    assert passed > -0.1 * COULOMB_PER_MAH_CM2 * area  # it stopped before the 0.6 mAh/cm² asked for
    rest = ser["segment"] == 1
    assert np.allclose(ser["plated_charge"][rest], ser["plated_charge"][rest][0])  # nothing moves at rest


def test_simulate_writes_summary_csv_and_fields(tmp_path):
    """The run driver: summary keys with units, a time-series CSV, final fields that pyvista opens."""
    import csv
    import json

    import pyvista as pv

    from hostsim.run.protocol import Protocol, Segment
    from hostsim.run.simulation import simulate, write_outputs

    g = Grid.create((2, 2, 10), voxel_size=0.5e-6, lateral="periodic", precision="float64")
    s, k, l = _foil(g)
    res = simulate("foil", g, s, k, l, jnp.zeros(g.shape), ORACLE, Kinetics(), Protocol((Segment.plate(1.0, 0.2),)),
                   collector_layers=1, host_top=1)
    paths = write_outputs(tmp_path, res, g, {"s": s, "k": k, "l": l})
    summary = json.loads(paths[0].read_text())
    for key in ("plated_charge_C", "conservation_error", "envelope_growth_um", "relative_volume_change",
                "top_growth_fraction", "flux_cv", "hotspot_ratio", "min_concentration_ratio", "dead_li_fraction",
                "sei_loss_mAh_cm2", "final_voltage_V"):
        assert key in summary
    assert summary["conservation_error"] < 1e-9 and summary["top_growth_fraction"] == pytest.approx(1.0)
    assert summary["envelope_growth_um"] == pytest.approx(0.2 * MAH_CM2 * LI_MOLAR_VOLUME / FARADAY * 1e6, rel=1e-9)
    rows = list(csv.reader(open(paths[1])))
    assert rows[0][0] == "time_s" and len(rows) == summary["steps"] + 1
    assert "li_fraction" in pv.read(paths[2]).cell_data


def test_flux_cv_mean_averages_the_plating_steps_of_the_written_series(tmp_path):
    """``flux_cv_mean`` (the design loop's flux term, run through the ordinary pipeline) is the
    time-weighted mean of the written series' flux CV over the plating steps only: a strip
    segment's steps do not enter it. A pillar on a foil makes the CV non-trivial."""
    import csv
    import json

    from hostsim.run.protocol import Protocol, Segment
    from hostsim.run.simulation import simulate, write_outputs

    g = Grid.create((4, 4, 12), voxel_size=0.5e-6, lateral="periodic", precision="float64")
    s, k, l = _foil(g)
    s = s.at[0:2, 0:2, 1:6].set(1.0)  # a conducting pillar, half the width, 2.5 µm tall
    res = simulate("pillar", g, s, k, l, jnp.zeros(g.shape), ORACLE, Kinetics(),
                   Protocol((Segment.plate(2.0, 0.05), Segment.strip(2.0, 0.03))), collector_layers=1, host_top=6)
    paths = write_outputs(tmp_path, res, g, {"s": s, "k": k, "l": l})
    summary = json.loads(paths[0].read_text())
    rows = list(csv.DictReader(open(paths[1])))
    t = np.array([float(r["time_s"]) for r in rows])
    dt = np.diff(np.concatenate([[0.0], t]))
    cv = np.array([float(r["flux_cv"]) for r in rows])
    plating = np.array([float(r["current_A"]) for r in rows]) > 0
    assert plating.any() and (~plating).any()
    expected = float(np.sum(cv[plating] * dt[plating]) / np.sum(dt[plating]))
    assert cv[plating].std() > 1e-3  # the pillar spreads the current unevenly, and it changes in time
    assert summary["flux_cv_mean"] == pytest.approx(expected, rel=1e-6)
    assert summary["flux_cv_mean"] != pytest.approx(float(np.sum(cv * dt) / np.sum(dt)), rel=1e-3)


def test_cli_simulate_with_a_case_file(tmp_path, capsys):
    import json

    from hostsim.cli import main

    case = tmp_path / "case.toml"
    case.write_text(
        '[geometry]\nfamily = "foil"\nwidth_um = 1.0\nheight_um = 4.0\nvoxel_size_um = 0.5\n'
        '[electrolyte]\nname = "lp57"\n'
        '[kinetics]\nexchange_current_density_mA_cm2 = 2.0\n'
        '[[protocol.segment]]\nkind = "plate"\ncurrent_mA_cm2 = 1.0\ncapacity_mAh_cm2 = 0.2\n'
        '[numerics]\nprecision = "float64"\n'
    )
    out = tmp_path / "run"
    assert main(["simulate", str(case), "--out", str(out), "--quiet", "--no-report"]) == 0
    summary = json.loads((out / "summary.json").read_text())["foil"]
    assert summary["plated_capacity_mAh_cm2"] == pytest.approx(0.2, rel=1e-9)
    assert summary["electrolyte"]["name"] == "lp57" and (out / "foil_timeseries.csv").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text('[kinetics]\ni0 = 1.0\n')
    capsys.readouterr()
    assert main(["simulate", str(bad), "--out", str(out)]) == 2
    assert "case [kinetics]: unknown key(s) i0" in capsys.readouterr().err


def test_impossible_current_ends_with_a_message_not_nan():
    """100 mA/cm² against a reservoir 40 µm away (limiting current 117 mA/cm²... but Sand's time
    at 100 mA/cm² is 5.7 s, far shorter than the 36 s of 1 mAh/cm²): the electrolyte at the
    electrode depletes, the run stops that segment with a message, and nothing is NaN."""
    from hostsim.run.protocol import Protocol, Segment
    from hostsim.run.simulation import simulate

    g = Grid.create((1, 1, 41), voxel_size=1e-6, lateral="no_flux", precision="float64")
    s, k, l = _foil(g)
    res = simulate("foil", g, s, k, l, jnp.zeros(g.shape), ORACLE, Kinetics(), Protocol((Segment.plate(300.0, 1.0),)),
                   collector_layers=1, host_top=1)
    summary = res.summary
    assert summary["depleted_at_s"] is not None and "depleted at t =" in summary["message"]
    for key in ("final_voltage_V", "plated_charge_C", "envelope_growth_um", "flux_cv", "conservation_error"):
        assert np.isfinite(summary[key])
    # residual and voltage of the steps that carried current (issue 11: the residual read 1.00, the
    # rejected step's, after a depletion stop)
    assert summary["max_potential_residual"] < 1e-6 and summary["final_voltage_V"] < 0
    assert np.all(np.isfinite(np.asarray(res.state.concentration))) and float(jnp.min(res.state.concentration)) > -1e-6
    # depletion comes at about Sand's time of the finite cell (semi-infinite 0.63 s at 300 mA/cm²)
    assert 0.3 < summary["depleted_at_s"] < 2.0


SMALL_HOSTS = {
    "foil": dict(width_um=1.0, height_um=3.0, voxel_size_um=0.25),
    "cu_skeleton": dict(width_um=3.0, height_um=3.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25),
    "cu_nanowires": dict(width_um=0.8, height_um=0.8, thickness_um=0.5),
    "dealloyed_cu": dict(width_um=3.0, height_um=3.0, thickness_um=2.0, voxel_size_um=0.25),
    "layered_rgo": dict(width_um=0.8, height_um=0.8, thickness_um=0.5, hole_diameter_um=0.15, holes_per_sheet=2,
                        contacts_per_gap=3, li_infusion=0.3),
    "fibre_scaffold": dict(width_um=3.2, height_um=3.2, thickness_um=2.0, fibre_diameter_um=0.5, voxel_size_um=0.2),
    "seeded_capsules": dict(width_um=0.8, height_um=0.8, thickness_um=0.6, capsule_diameter_um=0.3, seed_diameter_um=0.06),
    "graded": dict(width_um=3.0, height_um=3.0, thickness_um=2.0, voxel_size_um=0.25),
}


@pytest.mark.parametrize("name", sorted(SMALL_HOSTS))
def test_conservation_in_every_host_family(name):
    """SPEC 6.1: in every family, Li gained x F / V_m equals the charge passed (float64, 1e-6), Li
    never goes below zero or into host, and nothing is NaN."""
    import geometries as geo

    fam = geo.make_family(name, precision="float64", **SMALL_HOSTS[name])
    f = fam.fields()
    g = f.grid
    area = g.length[0] * g.length[1]
    J, steps = 10.0, 3
    dt = 0.002 * FARADAY * g.voxel_size / LI_MOLAR_VOLUME / J  # 0.2 % of a voxel layer per step
    st, rec = plate(g, f.s, f.k, f.l, initial_state(g, f.theta, ORACLE), ORACLE, Kinetics(), J * area, dt, steps)
    gained = float(jnp.sum(st.theta - f.theta)) * g.voxel_size**3 * FARADAY / LI_MOLAR_VOLUME
    passed = J * area * dt * steps - float(st.capped_charge) - float(st.undelivered_charge)
    assert gained == pytest.approx(passed, rel=1e-6)
    assert float(jnp.min(st.theta)) >= 0 and float(jnp.max(st.theta + f.s)) <= 1 + 1e-9
    assert np.all(np.isfinite(np.asarray(rec.voltage)))
    assert abs(float(st.undelivered_charge)) < 1e-3 * J * area * dt * steps  # the current was delivered
    assert float(jnp.min(rec.min_interface_concentration)) > 0  # salt stays positive at every front


def test_interrupted_protocol_resumes_to_the_same_result():
    """A run stopped after any chunk and resumed from its checkpoint ends bit-identical to an
    uninterrupted run (same steps, same state)."""
    from hostsim.run.protocol import Protocol, Segment, run_protocol

    h = 0.5e-6
    g = Grid.create((2, 2, 10), voxel_size=h, lateral="periodic", precision="float64")
    s, k, l = _foil(g)
    proto = Protocol((Segment.plate(1.0, 0.3), Segment("rest", duration=30.0), Segment.strip(1.0, 0.2)))
    start = initial_state(g, jnp.zeros(g.shape), ORACLE)
    checkpoints = []
    full_state, full = run_protocol(g, s, k, l, start, ORACLE, Kinetics(), proto, on_chunk=checkpoints.append)
    assert len(checkpoints) >= 3
    for cp in (checkpoints[1], checkpoints[-2]):  # mid-segment and at a segment boundary
        state, series = run_protocol(g, s, k, l, start, ORACLE, Kinetics(), proto, resume=cp)
        np.testing.assert_array_equal(np.asarray(state.theta), np.asarray(full_state.theta))
        for name in full:
            np.testing.assert_array_equal(series[name], full[name])


def test_cli_resume_after_an_interruption(tmp_path, capsys):
    """'hostsim simulate --resume DIR' continues from the checkpoint an interrupted run left and
    ends with the same summary as an uninterrupted run."""
    import json
    import shutil

    from hostsim.run.pipeline import save_checkpoint
    from hostsim.run.case import load_case
    from hostsim.cli import main
    from hostsim.run.protocol import run_protocol

    case = tmp_path / "case.toml"
    case.write_text('[geometry]\nfamily = "foil"\nwidth_um = 1.0\nheight_um = 4.0\nvoxel_size_um = 0.5\n'
                    '[[protocol.segment]]\nkind = "plate"\ncurrent_mA_cm2 = 1.0\ncapacity_mAh_cm2 = 0.3\n'
                    '[numerics]\nprecision = "float64"\n')
    full = tmp_path / "full"
    assert main(["simulate", str(case), "--out", str(full), "--quiet", "--no-report"]) == 0
    # an "interrupted" run: the case and a checkpoint taken after the first chunk, nothing else
    import geometries as geo

    c = load_case(case)
    f = geo.make_family("foil", width_um=1.0, height_um=4.0, voxel_size_um=0.5, precision="float64").fields()
    checkpoints = []
    run_protocol(f.grid, f.s, f.k, f.l, initial_state(f.grid, f.theta, c.electrolyte), c.electrolyte, c.kinetics,
                 c.protocol, on_chunk=checkpoints.append)
    part = tmp_path / "part"
    part.mkdir()
    shutil.copyfile(case, part / "case.toml")
    save_checkpoint(part / "foil_checkpoint.npz", checkpoints[0])
    assert main(["simulate", "--resume", str(part), "--quiet", "--no-report"]) == 0
    a = json.loads((full / "summary.json").read_text())["foil"]
    b = json.loads((part / "summary.json").read_text())["foil"]
    for key in ("plated_charge_C", "envelope_growth_um", "final_voltage_V", "steps"):
        assert a[key] == b[key]
    assert not (part / "foil_checkpoint.npz").exists()
    capsys.readouterr()
    assert main(["simulate", "--resume", str(tmp_path / "nowhere")]) == 2


def test_lateral_translation_and_mirror_leave_plating_scalars_unchanged():
    """SPEC 6.9 through the plating loop: a periodic 3D skeleton shifted laterally by 5 voxels, or
    mirrored in y, gives the same voltage, plated charge, flux statistics and lowest surface
    concentration after 3 steps (float64; to the solvers' tolerance: multigrid coarsening is not
    shift-invariant, so bitwise equality is not expected)."""
    import geometries as geo

    fam = geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                         fibre_diameter_um=0.5, precision="float64")
    f = fam.fields()
    g = f.grid
    J, steps = 10.0, 3
    dt = 0.02 * MAH_CM2 / J / steps

    def scalars(transform):
        s, k, l, th = (transform(jnp.asarray(x)) for x in (f.s, f.k, f.l, f.theta))
        st, rec = plate(g, s, k, l, initial_state(g, th, ORACLE), ORACLE, Kinetics(), J * g.length[0] * g.length[1],
                        dt, steps)
        return np.array([float(st.voltage), float(st.plated_charge), float(rec.flux_cv[-1]),
                         float(rec.hotspot_ratio[-1]), float(rec.min_interface_concentration[-1])])

    base = scalars(lambda x: x)
    np.testing.assert_allclose(scalars(lambda x: jnp.roll(x, 5, axis=0)), base, rtol=1e-6)
    np.testing.assert_allclose(scalars(lambda x: jnp.flip(x, axis=1)), base, rtol=1e-6)



def test_a_stale_border_solution_changes_the_work_not_the_answer(monkeypatch):
    """Newton keeps the last step's A^-1 dF/dV while its staleness leaves at most a tenth of the
    charge-balance tolerance (``STALE_BORDER_SHARE``). Twenty warm steps of a 3D skeleton at the
    default case's 0.0025 mAh/cm² per step, float32, against solving it every iteration: the same
    Newton iterations, the Li field to float32 round-off (measured 2.4e-7), the voltage to 1e-7 V
    (measured 7.6e-8 V), fewer PCG iterations (measured 91 against 107)."""
    import geometries as geo
    import hostsim.numerics.newton as newton

    f = geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                       fibre_diameter_um=0.5).fields()
    g = f.grid
    current, dt = 10.0 * g.length[0] * g.length[1], 0.0025 * MAH_CM2 / 10.0
    warm, _ = plate(g, f.s, f.k, f.l, initial_state(g, f.theta, ORACLE), ORACLE, Kinetics(), current, dt, 10)
    runs, default = {}, newton.STALE_BORDER_SHARE
    for share in (default, 0.0):
        monkeypatch.setattr(newton, "STALE_BORDER_SHARE", share)
        jax.clear_caches()  # the share is read when the step is traced
        st, rec = plate(g, f.s, f.k, f.l, warm, ORACLE, Kinetics(), current, dt, 20)
        assert bool(jnp.all(rec.newton_converged))
        runs[share] = (st, rec)
    (a, ra), (b, rb) = runs[default], runs[0.0]
    assert int(jnp.sum(ra.newton_iterations)) == int(jnp.sum(rb.newton_iterations))
    np.testing.assert_allclose(np.asarray(a.theta), np.asarray(b.theta), rtol=0, atol=2e-6)
    np.testing.assert_allclose(np.asarray(ra.voltage), np.asarray(rb.voltage), rtol=0, atol=1e-7)
    assert int(jnp.sum(ra.linear_iterations)) < 0.95 * int(jnp.sum(rb.linear_iterations))
