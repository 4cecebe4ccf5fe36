"""Several starts of one study, run together (``[optimizer] starts``): where they start, that
the vmapped gradient of every start is the one-start gradient at its design, and that the study
keeps the best, logs every start and resumes."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from inverse.loop import _gradients, design_terms, parameterisation, surrogate_terms
from inverse.starts import spread_starts
from inverse.study import parse_study, read_toml
from study_fixture import FAST_PLATE

FAMILY_STUDY = """
[design]
parameterisation = "family"
parameters = ["conductivity_bottom", "lithiophilicity_bottom"]
max_steps = 100
[geometry]
family = "graded"
structure = "fibres"
width_um = 3.0
height_um = 4.0
thickness_um = 2.0
voxel_size_um = 0.25
feature_size_um = 0.5
porosity_bottom = 0.8
porosity_top = 0.8
conductivity_bottom = 0.6
conductivity_top = 0.9
lithiophilicity_bottom = 0.5
lithiophilicity_top = 0.5
profile = "step"
transition = 0.5
""" + FAST_PLATE + """[objective]
flux_cv = 1.0
top_growth = 1.0
[optimizer]
learning_rate = 0.2
iterations = 3
starts = 4
"""


def _study(text=FAMILY_STUDY, **optimizer):
    import tomllib

    data = tomllib.loads(text)
    data["optimizer"].update(optimizer)
    return parse_study(data, "test study")


def test_starts_are_the_file_start_then_a_latin_hypercube_in_the_box():
    """Start 0 is the file's start; the other 7 put one point in each seventh of every parameter's
    range (the Latin hypercube's defining property), inside the box, the same draw every time."""
    study = _study(starts=8)
    param = parameterisation(study)
    x = np.asarray(spread_starts(param, 8))
    assert x.shape == (8, 2)
    np.testing.assert_array_equal(x[0], np.asarray(param.initial()))
    fractions = param.box.host_fraction(x[1:])
    assert np.all((fractions >= 0) & (fractions <= 1))
    for column in fractions.T:
        assert sorted(np.floor(column * 7).astype(int)) == list(range(7))
    np.testing.assert_array_equal(x, np.asarray(spread_starts(param, 8)))


def test_every_start_gets_the_gradient_it_would_get_alone():
    """The value and gradient of 3 starts, stacked, equal the one-start function's at each
    start's design, in float64 to 1e-9 (each start through the one-start program; a vmapped
    transient also met this, and this test held it while it was used)."""
    text = FAMILY_STUDY.replace("time_tolerance = 0.2", "time_tolerance = 0.2\nprecision = \"float64\"")
    many, one = _study(text, starts=3), _study(text, starts=1)
    param = parameterisation(one)
    terms = design_terms(one, param.base)
    surrogate = surrogate_terms(one, param.base)
    reference = terms(param, param.initial())
    batched = _gradients(many, terms, surrogate, reference, [])[0]
    single = _gradients(one, terms, surrogate, reference, [])[0]
    x = spread_starts(param, 3)
    (values, (t, _)), grads = batched(x, param, {})
    assert np.all(np.asarray(t["failed_steps"]) == 0)
    for m in range(3):
        (value, _), grad = single(x[m], param, {})
        assert float(values[m]) == pytest.approx(float(value), rel=1e-9)
        np.testing.assert_allclose(np.asarray(grads[m]), np.asarray(grad), rtol=1e-7, atol=1e-12)
    assert len({round(float(v), 6) for v in values}) == 3  # the starts are different designs


# slow (~75 s on 2 cores: three studies through the CLI); the default set checks every start's value
# and gradient (above) and the one-start CLI's log, checkpoint and resume (tests/test_design.py)
@pytest.mark.slow
def test_a_study_of_several_starts_keeps_the_best_logs_each_and_resumes(tmp_path, capsys):
    """4 starts, 3 iterations, from the CLI: one log row per start and iteration; ``design.json``
    keeps the start whose final objective is lowest and lists all four; a run stopped after 2
    iterations and resumed logs the same rows."""
    from hostsim.cli import main

    path = tmp_path / "study.toml"
    path.write_text(FAMILY_STUDY)
    full = tmp_path / "full"
    assert main(["design", str(path), "--out", str(full), "--quiet", "--no-verify"]) == 0
    said = capsys.readouterr().out
    rows = [json.loads(line) for line in (full / "log.jsonl").read_text().splitlines()]
    assert [(r["iteration"], r["start"]) for r in rows] == [(i, m) for i in range(3) for m in range(4)]
    assert all(r["failed_steps"] == 0 for r in rows)
    record = json.loads((full / "design.json").read_text())
    spread = record["starts"]
    assert spread["count"] == 4 and len(spread["objective_final"]) == 4 and len(spread["verdicts"]) == 4
    # the default virtual-temperature limit holds with room (its penalty is 0): the objective itself
    assert spread["best"] == int(np.argmin(spread["objective_final"]))
    assert record["objective_final"] == pytest.approx(min(spread["objective_final"]), rel=1e-6)
    assert spread["objective_spread"] == pytest.approx(max(spread["objective_final"]) - min(spread["objective_final"]))
    assert f"kept start {spread['best']}" in said
    with np.load(full / "checkpoint.npz") as z:
        assert z["x"].shape == (4, 2)

    part = tmp_path / "part"
    assert main(["design", str(path), "--out", str(part), "--quiet", "--no-verify", "--iterations", "2"]) == 0
    assert main(["design", "--resume", str(part), "--quiet", "--no-verify"]) == 0
    resumed = [json.loads(line) for line in (part / "log.jsonl").read_text().splitlines()]
    for a, b in zip(rows, resumed, strict=True):
        assert a["objective"] == b["objective"] and a["start"] == b["start"]


@pytest.mark.parametrize("text, message", [
    ("starts = 0", "[optimizer] starts"),
    ("starts = 65", "at most 64"),
])
def test_a_bad_starts_value_is_one_line_and_exit_2(tmp_path, capsys, text, message):
    from hostsim.cli import main

    path = tmp_path / "study.toml"
    path.write_text(FAMILY_STUDY.replace("starts = 4", text))
    assert main(["design", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_free_form_study_takes_one_start():
    from inverse.study import InputError
    from pathlib import Path

    data = read_toml(Path(__file__).parents[1] / "scripts" / "studies" / "free_form_top_growth.toml", "study")
    data["optimizer"]["starts"] = 2
    with pytest.raises(InputError, match="free_form design takes one start"):
        parse_study(data, "free form")
