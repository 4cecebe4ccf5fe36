"""Inverse design: parameterisations, design terms and their gradients through an adaptive plating
transient, the optax loop's log/checkpoint/resume, and the ``hostsim design`` CLI."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import Kinetics, get_electrolyte
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
from study_fixture import FAST_PLATE, TINY_SKELETON

LP30 = get_electrolyte("lp30")

TINY_STUDY = """
[design]
parameterisation = "layer_profile"
layers = 8
fields = ["k", "l"]
start_k = 0.9
start_l = 0.5
max_steps = 100
""" + TINY_SKELETON + FAST_PLATE + """[objective]
flux_cv = 1.0
sei_mAh_cm2 = 0.5
[optimizer]
learning_rate = 0.3
iterations = 3
"""


def _base(precision):
    import geometries as geo

    return geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                          fibre_diameter_um=0.5, precision=precision)


def test_layer_profile_maps_any_projected_vector_into_bounds_per_layer():
    from inverse import LayerProfile

    f = _base("float32").fields()
    p = LayerProfile(f, layers=8, start_k=0.9, start_l=0.5)
    x = p.initial()
    prof = p.profiles(x)
    assert np.allclose(prof["k"], 0.9, atol=1e-5) and np.allclose(prof["l"], 0.5, atol=1e-6)
    s, k, l, theta = p.fields(p.project(jnp.linspace(-30.0, 30.0, 16)))  # any vector, once projected
    host = np.asarray(f.s) > 0
    slab = np.zeros(f.grid.shape, bool)
    slab[:, :, f.collector_layers:f.host_top] = True
    assert np.all((np.asarray(k)[host & slab] >= 0) & (np.asarray(k)[host & slab] <= 1))
    assert np.array_equal(np.asarray(k)[~slab], np.asarray(f.k)[~slab])  # collector and above: the base's
    index = p.layer_index()
    assert index[f.collector_layers] == 0 and index[f.host_top - 1] == 7 and index[0] == -1
    # each layer's value is constant over its host voxels
    z = f.collector_layers
    vals = np.asarray(l)[:, :, z][host[:, :, z]]
    assert vals.size and np.ptp(vals) == 0.0


# slow (3 min on 2 cores, mostly compiling the float64 gradient): the default set checks the same
# gradient path against central differences for the layer profile and a family parameter
# (tests/test_plating_gradients.py)
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["layer_profile", "free_form", "family", "film", "cracking_film"])
def test_design_gradient_matches_central_differences(kind):
    """d(weighted objective)/dx through an adaptive plate/strip transient (float64), along a random
    direction, equals central differences of the transient at its steps (the step sizes carry no
    derivative) to 1e-4 relative: every term enters the objective (``film``: k and a 200 nm LiPON
    film per layer, on all surfaces; ``cracking_film``: the same film cracking at a 1 % strain)."""
    from inverse import FamilyParameters, LayerProfile, plating_terms, weighted_objective
    from inverse.objectives import taken_steps, transient
    from inverse.parameterisations import FilmDesign

    with jax.enable_x64(True):
        fam = _base("float64")
        if kind == "layer_profile":
            param = LayerProfile(fam.fields(), layers=8, start_k=0.9, start_l=0.5)
        elif kind in ("film", "cracking_film"):
            param = LayerProfile(fam.fields(), layers=4, design=("k", "film"), start_k=0.9, start_film=0.5,
                                 film=FilmDesign("all", 1e-3, 200.0, 0.01 if kind == "cracking_film" else None))
        elif kind == "free_form":
            from inverse.freeform import FreeForm

            param = FreeForm(fam.fields(), porosity=0.6, feature_size=0.5e-6, beta=4.0)
        else:
            param = FamilyParameters(fam, ("porosity",))
        base = fam.fields()
        weights = {"flux_cv": 1.0, "hotspot": 1.0, "sei_mAh_cm2": 0.5, "top_growth": 0.5, "host_mass_mg_cm2": 0.2,
                   "envelope_growth_um": 0.1, "virtual_temperature": 0.3, "relative_volume_change": 0.5,
                   "overpotential_V": 0.5}
        # a plate/strip cycle: 0.02 mAh/cm² plated at 4 mA/cm², half of it stripped
        kw = dict(current_density=40.0, capacity=0.02 * COULOMB_PER_MAH_CM2, collector_layers=base.collector_layers,
                  host_top=base.host_top, strip=(40.0, 0.01 * COULOMB_PER_MAH_CM2), time_tolerance=0.1,
                  max_steps=120)
        x0 = param.initial()
        steps = taken_steps(transient(base.grid, param.fields(x0), LP30, param.kinetics(x0, Kinetics()), **kw))
        assert all(len(dts) >= 3 for dts in steps)

        def terms(x, steps=None):
            return plating_terms(base.grid, param.fields(x), LP30, param.kinetics(x, Kinetics()), steps=steps, **kw)

        reference = jax.jit(terms)(x0)
        assert float(reference["failed_steps"]) == 0.0

        def objective(x, steps=None):
            return weighted_objective(terms(x, steps), weights, reference)

        value, grad = jax.jit(jax.value_and_grad(objective))(x0)
        assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))
        f = jax.jit(lambda x: objective(x, steps))
        assert float(f(x0)) == pytest.approx(float(value), rel=1e-9)  # the same transient, taken again (solver tolerance)
        direction = jnp.asarray(np.random.default_rng(5).normal(size=x0.shape))
        d = 1e-5
        fd = (float(f(x0 + d * direction)) - float(f(x0 - d * direction))) / (2 * d)
        assert abs(fd) > 1e-6
        assert float(jnp.vdot(grad, direction)) == pytest.approx(fd, rel=1e-4)


def test_a_cycle_adds_its_strip_steps_and_spans_the_volume_change():
    """plating_terms with a strip after the plating: the plating terms are those of the plating
    alone (bit for bit: the same transient runs first), the SEI proxy counts the new Li area of
    the whole cycle (at least the plating's), both segments complete, and stripping half of the Li
    never takes the envelope below its start, so the relative volume change is the plating's,
    (H_plated - H_start) / H_plated, with H_start the slab top (2 µm - collector). Stripping more
    than was plated ends at the voltage cutoff: an unfinished segment, not a silent cycle."""
    from inverse import plating_terms

    with jax.enable_x64(True):
        base = _base("float64").fields()
        kw = dict(current_density=40.0, capacity=0.05 * COULOMB_PER_MAH_CM2, time_tolerance=0.1, max_steps=150,
                  collector_layers=base.collector_layers, host_top=base.host_top)
        fields = (base.s, base.k, base.l, base.theta)
        plated = jax.jit(lambda f: plating_terms(base.grid, f, LP30, Kinetics(), **kw))(fields)
        cycled = jax.jit(lambda f: plating_terms(base.grid, f, LP30, Kinetics(), strip=(40.0, 0.025 * COULOMB_PER_MAH_CM2),
                                                 **kw))(fields)
    for name in ("top_growth", "envelope_growth_um", "flux_cv", "hotspot", "host_mass_mg_cm2"):
        assert float(cycled[name]) == float(plated[name])
    assert float(cycled["sei_mAh_cm2"]) >= float(plated["sei_mAh_cm2"]) > 0
    assert float(cycled["failed_steps"]) == 0.0 and float(plated["failed_steps"]) == 0.0
    slab_um = (base.host_top - base.collector_layers) * base.grid.voxel_size * 1e6
    growth = float(plated["envelope_growth_um"])
    assert growth > 0
    assert float(cycled["relative_volume_change"]) == pytest.approx(growth / (slab_um + growth), rel=1e-9)
    assert float(cycled["relative_volume_change"]) == pytest.approx(float(plated["relative_volume_change"]), rel=1e-12)
    # asked to strip more than was plated, the strip ends at the voltage cutoff: an unfinished segment
    with jax.enable_x64(True):
        over = jax.jit(lambda f: plating_terms(base.grid, f, LP30, Kinetics(), strip=(40.0, 0.08 * COULOMB_PER_MAH_CM2),
                                               **kw))(fields)
    assert float(over["failed_steps"]) >= 1.0


def test_steady_surrogate_gradient_matches_central_differences_and_float32_is_finite():
    """The warm-up surrogate (one potential solve of the design's first step): its weighted
    objective's gradient along a random direction equals central differences to 1e-4 relative in
    float64, and is finite in float32."""
    from inverse import LayerProfile, weighted_objective
    from inverse.objectives import steady_terms

    weights = {"flux_cv": 1.0, "hotspot": 1.0, "top_growth": 0.5, "envelope_growth_um": 0.1, "host_mass_mg_cm2": 0.2}
    for precision in ("float64", "float32"):
        with jax.enable_x64(precision == "float64"):
            fam = _base(precision)
            base = fam.fields()
            param = LayerProfile(base, layers=8, start_k=0.9, start_l=0.5)

            def terms(x):
                return steady_terms(base.grid, param.fields(x), LP30, Kinetics(), current_density=40.0,
                                    capacity=0.02 * COULOMB_PER_MAH_CM2, collector_layers=base.collector_layers,
                                    host_top=base.host_top)

            x0 = param.initial()
            reference = jax.jit(terms)(x0)
            assert 0.0 < float(reference["top_growth"]) < 1.0 and float(reference["flux_cv"]) > 0.0

            def objective(x):
                return weighted_objective(terms(x), weights, reference)

            value, grad = jax.jit(jax.value_and_grad(objective))(x0)
            assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))
            if precision == "float64":
                direction = jnp.asarray(np.random.default_rng(7).normal(size=x0.shape))
                f = jax.jit(objective)
                d = 1e-5
                fd = (float(f(x0 + d * direction)) - float(f(x0 - d * direction))) / (2 * d)
                assert abs(fd) > 1e-6
                assert float(jnp.vdot(grad, direction)) == pytest.approx(fd, rel=1e-4)


# slow (4 min on 2 cores: both the surrogate's and the transient's programs compile); the default set
# checks the surrogate's gradient and a study's bit-identical resume separately
@pytest.mark.slow
def test_warmup_iterations_run_on_the_surrogate_and_resume_across_the_switch(tmp_path, capsys):
    """``warmup_iterations = 2`` of 4: the first two log rows are the surrogate's, the rest the
    transient's; a study stopped after 3 iterations (one past the switch) and resumed equals the
    uninterrupted one bit for bit."""
    from hostsim.cli import main

    study = tmp_path / "study.toml"
    study.write_text(TINY_STUDY.replace("max_steps = 100", "max_steps = 100\nwarmup_iterations = 2")
                     .replace("iterations = 3", "iterations = 4"))
    full = tmp_path / "full"
    assert main(["design", str(study), "--out", str(full), "--quiet", "--no-verify"]) == 0
    said, verdict = capsys.readouterr().out.splitlines()[-2:]  # the results line lists only what was written
    assert said.startswith("results in") and "final_host.vti" not in said and "verification" not in said
    assert not (full / "final_host.vti").exists() and not (full / "verification").exists()
    rows = _study_log(full)
    assert [r["surrogate"] for r in rows] == [1, 1, 0, 0]
    # the verdict reads the transient's rows (after the warm-up) and is the CLI's last line
    record = json.loads((full / "design.json").read_text())["verdict"]
    assert record["verdict"] in ("converged", "stalled", "budget exhausted") and record["iteration"] == 3
    assert record["first_projected_gradient_norm"] == rows[2]["projected_gradient_norm"]
    assert verdict.startswith(f"design: verdict {record['verdict']} (")
    assert rows[0]["relative_change"] is None and rows[1]["relative_change"] >= 0
    assert all(isinstance(r["active_bounds"], list) for r in rows)
    assert rows[1]["objective"] < rows[0]["objective"]  # the warm-up lowers the surrogate's objective
    part = tmp_path / "part"
    assert main(["design", str(study), "--out", str(part), "--quiet", "--no-verify", "--iterations", "3"]) == 0
    assert main(["design", "--resume", str(part), "--quiet", "--no-verify"]) == 0
    assert _study_log(part) == rows


def test_learning_rate_schedules_fall_to_their_final_fraction_over_the_study_file_iterations():
    """[optimizer] schedule: cosine and exponential start at learning_rate and reach
    final_fraction x learning_rate at the last iteration of the study file (not of a run cut short by
    --iterations), exponential by a constant factor per iteration; constant stays a number."""
    import tomllib

    from inverse.loop import learning_rate
    from inverse.study import parse_study

    def study(extra):
        return parse_study(tomllib.loads(TINY_STUDY.replace("iterations = 3", "iterations = 11\n" + extra)))

    assert learning_rate(study("")) == 0.3
    for name in ("cosine", "exponential"):
        s = study(f'schedule = "{name}"\nfinal_fraction = 0.05')
        s.optimizer.iterations = 2  # the CLI's --iterations: the horizon stays the file's
        lr = learning_rate(s)
        assert float(lr(0)) == pytest.approx(0.3) and float(lr(10)) == pytest.approx(0.015, rel=1e-5)
        assert float(lr(5)) < 0.3
    lr = learning_rate(study('schedule = "exponential"\nfinal_fraction = 0.05'))
    assert float(lr(3)) / float(lr(2)) == pytest.approx(float(lr(8)) / float(lr(7)), rel=1e-5)


def test_a_term_that_is_zero_at_the_start_cannot_be_weighted_or_bounded():
    """Terms are measured relative to the start design's value: a weighted or bounded term that is
    exactly 0 there (e.g. envelope growth of a start whose Li all stays inside the host) is one
    line naming the section and the key; an unweighted zero term is fine."""
    import tomllib

    from hostsim import InputError
    from inverse.loop import _check_reference
    from inverse.study import parse_study

    study = parse_study(tomllib.loads(TINY_STUDY.replace("[optimizer]", "[constraints]\nenvelope_growth_um_max = 1.0\n"
                                                                         "[optimizer]")))
    reference = {"flux_cv": 0.02, "sei_mAh_cm2": 0.01, "envelope_growth_um": 0.0, "top_growth": 0.0}
    with pytest.raises(InputError, match=r"\[constraints\] envelope_growth_um_max: the start design's envelope_growth_um is 0"):
        _check_reference(study, reference)
    with pytest.raises(InputError, match=r"\[objective\] sei_mAh_cm2: the start design's sei_mAh_cm2 is 0"):
        _check_reference(study, {**reference, "envelope_growth_um": 0.1, "sei_mAh_cm2": 0.0})
    _check_reference(study, {**reference, "envelope_growth_um": 0.1})  # top_growth is 0 but neither weighted nor bounded
    # round-off is 0 too: an envelope growth of 1.2e-16 µm (a float64 start with all Li inside)
    with pytest.raises(InputError, match=r"envelope_growth_um_max: the start design's envelope_growth_um is 1.2e-16 "
                                         r"\(0 to within 0.001\)"):
        _check_reference(study, {**reference, "envelope_growth_um": 1.2e-16})
    _check_reference(study, {**reference, "envelope_growth_um": 2e-3})  # 2 nm is physics


def test_an_unweighted_round_off_reference_cannot_amplify_round_off():
    """With a start envelope growth of 1.2e-16 µm (round-off) and a divisor floored at 1e-12, a
    later round-off of 1.3e-14 µm at weight 0.1 added 1.3e-3 to the objective. The divisor never
    goes below the term's resolution (1 nm here), so it adds 1.3e-12; a term above its resolution
    is divided by the start's value exactly."""
    from inverse.objectives import TERM_RESOLUTION, TERMS, relative_to_start, weighted_objective

    assert set(TERM_RESOLUTION) == set(TERMS)
    ref = {"envelope_growth_um": 1.2e-16, "flux_cv": 0.04}
    assert float(relative_to_start("envelope_growth_um", 1.3e-14, ref)) == pytest.approx(1.3e-11)
    assert float(relative_to_start("flux_cv", 0.05, ref)) == pytest.approx(1.25, rel=1e-12)
    value = weighted_objective({"envelope_growth_um": 1.3e-14, "flux_cv": 0.04}, {"envelope_growth_um": 0.1,
                                                                                  "flux_cv": 1.0}, ref)
    assert float(value) == pytest.approx(1.0, abs=1e-11)


def test_augmented_lagrangian_terms_and_multiplier_update():
    """psi(g, lambda, mu) of Nocedal & Wright (17.65): lambda g + mu g²/2 while lambda + mu g > 0,
    else -lambda²/(2 mu) (continuous at the switch); the multiplier rises with a violation and
    never goes below 0."""
    from inverse.lagrangian import constraint_values, penalty_terms, updated_multipliers

    mu = 10.0
    assert float(penalty_terms({"a": jnp.asarray(0.1)}, {"a": jnp.asarray(0.5)}, mu)) == pytest.approx(0.05 + 0.05)
    assert float(penalty_terms({"a": jnp.asarray(-0.2)}, {"a": jnp.asarray(0.5)}, mu)) == pytest.approx(-0.0125)
    edge = -0.05  # lambda + mu g = 0: both branches give -lambda²/(2 mu)
    assert float(penalty_terms({"a": jnp.asarray(edge + 1e-9)}, {"a": jnp.asarray(0.5)}, mu)) == pytest.approx(
        -0.0125, abs=1e-8)
    new = updated_multipliers({"a": jnp.asarray(0.1), "b": jnp.asarray(-1.0)}, {"a": jnp.asarray(0.5), "b": jnp.asarray(0.5)}, mu)
    assert float(new["a"]) == pytest.approx(1.5) and float(new["b"]) == 0.0
    g = constraint_values({"flux_cv_max": 0.8, "porosity_min": 0.6, "penalty": mu}, {"flux_cv": jnp.asarray(0.09)},
                          {"flux_cv": jnp.asarray(0.1)}, jnp.asarray(0.55))
    assert float(g["flux_cv_max"]) == pytest.approx(0.1) and float(g["porosity_min"]) == pytest.approx(0.05)


# slow (2 min on 2 cores); the default set checks the augmented Lagrangian's terms and multiplier update
@pytest.mark.slow
def test_a_constrained_study_moves_towards_its_bound_and_resumes_with_its_multipliers(tmp_path):
    """[constraints] host_mass_mg_cm2_max = 0.97 on a flux-CV study of k and l: the loop logs the
    constraint and its multiplier every iteration, the design ends lighter than the start, and a
    study resumed mid-way (multipliers from the checkpoint) equals the uninterrupted one bit for bit."""
    from hostsim.cli import main

    study = tmp_path / "study.toml"
    study.write_text(TINY_STUDY.replace("[optimizer]", "[constraints]\nhost_mass_mg_cm2_max = 0.97\npenalty = 50.0\n"
                                        "virtual_temperature_max = 1.5\n"
                                        "[optimizer]").replace("iterations = 3", "iterations = 4\nschedule = \"cosine\""))
    full = tmp_path / "full"
    assert main(["design", str(study), "--out", str(full), "--quiet", "--no-verify"]) == 0
    rows = _study_log(full)
    assert rows[0]["g_host_mass_mg_cm2_max"] == pytest.approx(0.03, abs=1e-6)  # the start violates it by 3 %
    assert rows[0]["lambda_host_mass_mg_cm2_max"] == 0.0 and rows[1]["lambda_host_mass_mg_cm2_max"] > 0.0
    assert rows[-1]["g_host_mass_mg_cm2_max"] < rows[0]["g_host_mass_mg_cm2_max"]
    # the conductor's connection, relative to the start's: 1 - 1.5 at the start, and never near the bound
    assert rows[0]["g_virtual_temperature_max"] == pytest.approx(-0.5, abs=1e-6)
    assert all(r["g_virtual_temperature_max"] < -0.3 and r["lambda_virtual_temperature_max"] == 0.0 for r in rows)
    for r in rows:  # relative to the start's value, as every <term>_max
        assert r["g_virtual_temperature_max"] == pytest.approx(r["virtual_temperature"] / rows[0]["virtual_temperature"]
                                                               - 1.5, abs=1e-5)
    record = json.loads((full / "design.json").read_text())
    assert record["constraints"]["host_mass_mg_cm2_max"]["bound"] == 0.97
    part = tmp_path / "part"
    assert main(["design", str(study), "--out", str(part), "--quiet", "--no-verify", "--iterations", "2"]) == 0
    assert main(["design", "--resume", str(part), "--quiet", "--no-verify"]) == 0
    assert _study_log(part) == rows


def _study_log(out):
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("step_s")
    return rows


def test_design_cli_logs_checkpoints_and_resumes_bit_identically(tmp_path, capsys):
    """A 3-iteration study from the CLI writes its log, checkpoint and design; the objective falls;
    stopping after 2 iterations (with a log row written past the checkpoint, as a kill can leave)
    and resuming gives the uninterrupted trajectory bit for bit."""
    from hostsim.cli import main

    study = tmp_path / "study.toml"
    study.write_text(TINY_STUDY)
    full = tmp_path / "full"
    assert main(["design", str(study), "--out", str(full), "--quiet"]) == 0
    said = capsys.readouterr().out.splitlines()
    rows = _study_log(full)
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    # whether it converged: logged per iteration, judged in design.json and the CLI's last line
    assert rows[0]["relative_change"] is None and rows[1]["relative_change"] > 0
    assert all(0 < r["projected_gradient_norm"] <= r["gradient_norm"] * (1 + 1e-6) for r in rows)
    verdict = json.loads((full / "design.json").read_text())["verdict"]
    assert verdict["verdict"] in ("converged", "stalled", "budget exhausted") and verdict["iteration"] == 2
    assert verdict["at_bounds"] == rows[-1]["active_bounds"]
    assert said[-1].startswith(f"design: verdict {verdict['verdict']} (")
    assert rows[-1]["objective"] < rows[0]["objective"]
    assert all(r["failed_steps"] == 0 for r in rows)  # every design transient was the physics
    design = json.loads((full / "design.json").read_text())
    assert design["objective_final"] < design["objective_start"] and len(design["layer_profiles"]["k"]) == 8
    assert (full / "log.csv").read_text().count("\n") == 4 and (full / "study.toml").exists()
    # the verification: start and final design through the ordinary run pipeline, same charge
    v = design["verification"]
    assert v["start"]["plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-6)  # every coulomb asked
    assert v["final"]["plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-6)
    # the design term's measure, from the pipeline: the mean CV over the plating steps (between the
    # series' extremes; the design transient's own mean is from coarser steps, so not equal)
    for w in ("start", "final"):
        table = np.genfromtxt(full / "verification" / f"{w}_timeseries.csv", delimiter=",", names=True)
        series = table["flux_cv"]
        assert series.min() <= v[w]["flux_cv_mean"] <= series.max()
    assert (full / "final_host.vti").exists() and (full / "verification" / "final_summary.json").exists()
    page = (full / "report.html").read_text()
    # history, depth profile and the three before/after renders (host by lithiophilicity, Li by plating time, section)
    # the report's figures (plotly's inlined bundle holds data-URI PNGs of its own)
    assert page.count("<figure><img") == 5 and "Verification" in page and "flux CV" in page
    assert "coloured by its lithiophilicity" in page and "left out" not in page
    assert f"verdict {verdict['verdict']}" in page
    assert page.count("Plotly.newPlot") == 2  # the interactive views of the start and the final design

    part = tmp_path / "part"
    assert main(["design", str(study), "--out", str(part), "--quiet", "--iterations", "2"]) == 0
    with open(part / "log.jsonl", "a") as fh:  # a row whose checkpoint never made it to disk
        fh.write(json.dumps({**rows[2], "step_s": 0.0, "objective": -1.0}) + "\n")
    assert main(["design", "--resume", str(part), "--quiet"]) == 0
    assert _study_log(part) == rows
    # design snapshots: the start and every update, as one ParaView series
    import pyvista as pv

    for out in (full, part):
        frames = pv.get_reader(str(out / "design.pvd")).time_values
        assert list(frames) == [0.0, 1.0, 2.0, 3.0]
    a = pv.read(full / "design" / "design_0003.vti")
    b = pv.read(part / "design" / "design_0003.vti")
    assert np.array_equal(np.asarray(a.cell_data["k"]), np.asarray(b.cell_data["k"]))
    with np.load(full / "checkpoint.npz") as a, np.load(part / "checkpoint.npz") as b:
        assert np.array_equal(a["x"], b["x"]) and int(a["iteration"]) == int(b["iteration"]) == 3


def test_a_failed_design_transient_stops_the_study_in_one_line(tmp_path, capsys):
    """A design transient that does not complete (here: [design] max_steps far too few for its
    plating) gives finite terms that are not the physics asked for: the study stops with one
    line and exit code 2 before it logs or checkpoints an iteration built on them."""
    from hostsim.cli import main

    study = tmp_path / "study.toml"
    study.write_text(TINY_STUDY.replace("max_steps = 100", "max_steps = 3"))
    out = tmp_path / "out"
    assert main(["design", str(study), "--out", str(out), "--quiet", "--no-verify"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "design iteration 0:" in err[0] and "1 of the 1 segment(s)" in err[0]
    assert "max_steps = 3" in err[0]
    assert not (out / "log.jsonl").exists() and not (out / "checkpoint.npz").exists()


def test_an_old_study_with_plating_steps_runs_with_one_note():
    """``[design] plating_steps`` (the fixed steps of earlier versions) still parses, with one
    deprecation note, and the transient's steps adapt."""
    import tomllib

    from inverse.study import parse_study

    with pytest.warns(FutureWarning, match="plating_steps is deprecated"):
        study = parse_study(tomllib.loads(TINY_STUDY.replace("max_steps = 100", "plating_steps = 4")), "old.toml")
    assert not hasattr(study.design, "plating_steps") and study.design.max_steps > 0
    assert len(study.case.notes) == 1 and "old.toml" in study.case.notes[0]


@pytest.mark.parametrize("text, message", [
    ("[design]\nparameterisation = 'magic'\n", "parameterisation"),
    ("[objective]\nbeauty = 1.0\n", "unknown key(s) beauty"),
    ("[optimizer]\nlearning_rate = -1\n", "learning_rate"),
    ("[optimizer]\niterations = 1e12\n", "iterations"),
    ("[[protocol.segment]]\nkind = 'strip'\ncurrent_mA_cm2 = 1.0\ncapacity_mAh_cm2 = 0.1\n", "one plate segment"),
    ("[constraints]\nbeauty_max = 1.0\n", "unknown key(s) beauty_max"),
    ("[constraints]\nporosity_min = 0.8\nporosity_max = 0.6\n", "porosity_min is above porosity_max"),
    ("[constraints]\nflux_cv_max = 'low'\n", "flux_cv_max: expected a finite number"),
    ("[design]\nwarmup_iterations = -1\n", "warmup_iterations"),
    ("[optimizer]\nschedule = 'linear'\n", "schedule: expected constant, cosine, exponential"),
    ("[optimizer]\nschedule = 'cosine'\nfinal_fraction = 2.0\n", "final_fraction: must be <= 1"),
    ("[[protocol.segment]]\nkind = 'plate'\ncurrent_mA_cm2 = 4.0\ncapacity_mAh_cm2 = 0.03\n[[protocol.segment]]\n"
     "kind = 'strip'\ncurrent_mA_cm2 = 4.0\ncapacity_mAh_cm2 = 0.03\n", "strip segment's capacity_mAh_cm2 must be below"),
    ("[design]\nparameterisation = 'free_form'\nbeta_growth = 'cubic'\n", "beta_growth: expected doubling or geometric"),
])
def test_bad_study_is_one_line_and_exit_2(tmp_path, capsys, text, message):
    from hostsim.cli import main

    base = TINY_STUDY
    for section in ("[design]", "[objective]", "[optimizer]", "[[protocol.segment]]"):
        if text.startswith(section):  # replace that section of the tiny study
            start = base.index(section)
            end = base.find("\n[", start + 1)
            base = base[:start] + base[end + 1:] if end >= 0 else base[:start]
    study = tmp_path / "bad.toml"
    study.write_text(base + text)
    assert main(["design", str(study), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("hostsim: error:")
