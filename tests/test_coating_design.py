"""Designing a coating: a layer profile of a film's thickness (``[design] fields = ["film"]``),
its kinetics, the study file's checks, the ``overpotential_V`` design term, and a study from the
CLI verified by re-simulation with each design's own film."""

from __future__ import annotations

import json
import tomllib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import InputError, Kinetics, get_electrolyte
from hostsim.electrochemistry.coating import film_resistance
from study_fixture import FAST_PLATE, TINY_SKELETON

LP30 = get_electrolyte("lp30")

FILM_STUDY = """
[design]
parameterisation = "layer_profile"
layers = 4
fields = ["k", "film"]
start_k = 0.9
start_film = 0.5
max_steps = 100
""" + TINY_SKELETON + """[[coating]]
material = "lipon"
thickness_nm = 200.0
on = "all"
""" + FAST_PLATE + """[objective]
flux_cv = 1.0
top_growth = 1.0
[constraints]
overpotential_V_max = 1.2
[optimizer]
learning_rate = 0.3
iterations = 2
"""


def _study(text=FILM_STUDY):
    from inverse.study import parse_study

    return parse_study(tomllib.loads(text), "film.toml")


def test_a_film_profile_sets_each_layers_film_on_its_surface():
    """The design's film values are shares of the coating's thickness per slab layer; its kinetics
    hold them as the graded film on the coating's surfaces (Li and host for ``all``), and its host
    fields do not depend on them."""
    from inverse.loop import parameterisation

    study = _study()
    param = parameterisation(study)
    x = param.initial()
    r = film_resistance("lipon", 200e-9)
    films = param.kinetics(x, study.case.kinetics).films
    np.testing.assert_allclose(np.asarray(films.li_layers), 0.5 * r, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(films.host_layers), 0.5 * r, rtol=1e-6)
    assert films.li == 0.0 and films.host == 0.0  # the designed coating replaces the case's uniform one
    moved = x.at[4:].set(jnp.asarray(param.box.start(np.array([0.0, 0.25, 0.75, 1.0])), x.dtype))  # k first, then film
    films = param.kinetics(moved, study.case.kinetics).films
    np.testing.assert_allclose(np.asarray(films.host_layers), np.array([0.0, 0.25, 0.75, 1.0]) * r, rtol=1e-5,
                               atol=1e-12)
    for a, b in zip(param.fields(x), param.fields(moved)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    record = param.summary(moved, {})
    np.testing.assert_allclose(record["film_thickness_nm"], [0.0, 50.0, 150.0, 200.0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace('[[coating]]\nmaterial = "lipon"\nthickness_nm = 200.0\non = "all"\n', ""),
     "fields has film: give exactly one \\[\\[coating\\]\\]"),
    (lambda t: t + '[[coating]]\nmaterial = "lif"\nthickness_nm = 5.0\n', "got 2"),
    (lambda t: t.replace('on = "all"', 'on = "collector"'), "needs thickness_nm .* and on = li, host or all"),
    (lambda t: t.replace('parameterisation = "layer_profile"', 'parameterisation = "family"'),
     "film is designed by a layer_profile"),
])
def test_a_film_design_without_its_one_coating_is_one_line(change, message):
    with pytest.raises(InputError, match=message):
        _study(change(FILM_STUDY))


def test_a_designed_film_takes_no_pattern(tmp_path):
    np.save(tmp_path / "p.npy", np.ones((2, 2)))
    with pytest.raises(InputError, match="is designed layer by layer; give no pattern"):
        _study(FILM_STUDY.replace('on = "all"\n', f'on = "all"\npattern = "{(tmp_path / "p.npy").as_posix()}"\n'))


def test_the_overpotential_term_is_the_plates_mean_voltage_and_grows_with_the_film():
    """``overpotential_V`` is the time-averaged |V| of the plating transient, the same as the run
    pipeline's plating voltage on a flat foil (1e-3), and a 1 µm LiPON film on all the surfaces
    adds J R_f = 50 mV to it (2 %; the film's drop at 1 mA/cm²)."""
    import geometries as geo
    from hostsim.electrochemistry.coating import Films
    from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
    from inverse import plating_terms

    f = geo.make_family("foil", width_um=1.0, height_um=1.0, thickness_um=0.5, voxel_size_um=0.25).fields()
    kw = dict(current_density=10.0, capacity=0.02 * COULOMB_PER_MAH_CM2, collector_layers=f.collector_layers,
              host_top=f.host_top, max_steps=100)
    fields = (f.s, f.k, jnp.ones_like(f.l), f.theta)  # lithiophilic: no nucleation dip

    def term(films):
        return float(jax.jit(lambda: plating_terms(f.grid, fields, LP30, Kinetics(films=films), **kw))()["overpotential_V"])

    r = film_resistance("lipon", 1e-6)
    bare, coated = term(None), term(Films(li=r, host=r))
    assert 0.0 < bare < 0.05
    assert coated - bare == pytest.approx(10.0 * r, rel=0.02)


# slow (~3 min on 2 cores: a study's compilation and two verification runs); the default set checks the
# film's kinetics per layer and the overpotential term above, and the design CLI with tests/test_design.py
@pytest.mark.slow
def test_a_film_study_runs_and_each_design_is_verified_with_its_own_film(tmp_path):
    """Two iterations of the film study from the CLI: the log carries the overpotential, the
    design record the film's thickness per layer, and the verification re-simulates the start and
    the final design each with its own graded film (the start's overpotential is what the loop's
    first iteration saw, 2 %)."""
    from hostsim.cli import main

    study = tmp_path / "film.toml"
    study.write_text(FILM_STUDY)
    out = tmp_path / "out"
    assert main(["design", str(study), "--out", str(out), "--quiet"]) == 0
    design = json.loads((out / "design.json").read_text())
    assert len(design["film_thickness_nm"]) == 4 and design["film_surface"] == "all"
    assert all(0.0 <= v <= 200.0 + 1e-3 for v in design["film_thickness_nm"])
    assert "film [nm], on all" in (out / "report.html").read_text()
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    start_v = rows[0]["overpotential_V"]
    v = design["verification"]
    assert v["start"]["plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-6)
    assert v["final"]["plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-6)
    assert start_v == pytest.approx(abs(v["start"]["mean_plating_voltage_V"]), rel=0.02)
