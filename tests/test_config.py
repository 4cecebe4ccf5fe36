"""Typed input files (hostsim.run.config): case, study and sweep files parse into typed models,
every default is declared once on its model, and a bad key or value is one line naming the file
kind, the section and the key. A non-integer where an integer belongs is refused. Parsing only:
nothing here runs a solve."""

from __future__ import annotations

import copy

import pytest

from hostsim.errors import InputError
from hostsim.run.case import parse_case

BASE_STUDY = {
    "geometry": {"family": "cu_skeleton", "width_um": 3.0, "height_um": 4.0, "thickness_um": 2.0,
                 "voxel_size_um": 0.25},
    "protocol": {"segment": [{"kind": "plate", "current_mA_cm2": 4.0, "capacity_mAh_cm2": 0.05}]},
    "objective": {"flux_cv": 1.0},
}
BASE_SWEEP = {"geometry": {"family": "foil"}, "sweep": {"axes": {"geometry.seed": [0, 1]}}}


def _study(**sections):
    from inverse.study import parse_study

    data = copy.deepcopy(BASE_STUDY)
    data.update(sections)
    return parse_study(data)


def _refused(parse, data) -> str:
    with pytest.raises(InputError) as caught:
        parse(data)
    return str(caught.value)


@pytest.mark.parametrize("data, message", [
    ({"protocol": {"cycles": 2.5}}, "case [protocol] cycles: expected an integer, got 2.5"),
    ({"numerics": {"newton_steps": 2.5}}, "case [numerics] newton_steps: expected an integer, got 2.5"),
    ({"numerics": {"devices": 1.5}}, "case [numerics] devices: expected an integer, got 1.5"),
    ({"output": {"max_frames": 2.5}}, "case [output] max_frames: expected an integer, got 2.5"),
    ({"numerics": {"rest_steps": 2.5}}, "case [numerics] rest_steps: expected an integer, got 2.5"),
])
def test_a_case_refuses_a_non_integer_where_an_integer_belongs(data, message):
    assert _refused(parse_case, data) == message


@pytest.mark.parametrize("sections, message", [
    ({"design": {"layers": 2.5}}, "study [design] layers: expected an integer, got 2.5"),
    ({"design": {"max_steps": 50.5}}, "study [design] max_steps: expected an integer, got 50.5"),
    ({"design": {"parameterisation": "free_form", "beta_every": 2.5}},
     "study [design] beta_every: expected an integer, got 2.5"),
    ({"design": {"warmup_iterations": 0.5}}, "study [design] warmup_iterations: expected an integer, got 0.5"),
    ({"optimizer": {"iterations": 3.5}}, "study [optimizer] iterations: expected an integer, got 3.5"),
])
def test_a_study_refuses_a_non_integer_where_an_integer_belongs(sections, message):
    assert _refused(lambda s: _study(**s), sections) == message


def test_a_sweep_refuses_a_non_integer_an_axis_gives_an_integer_key():
    """[sweep] itself has no integer key; an axis over one is checked in every member's case."""
    from hostsim.run.batch import parse_sweep

    data = copy.deepcopy(BASE_SWEEP)
    data["sweep"]["axes"] = {"numerics.newton_steps": [10, 2.5]}
    assert _refused(lambda d: parse_sweep(d, "s.toml"), data) == \
        "case [numerics] newton_steps: expected an integer, got 2.5"


def test_an_integer_written_as_a_whole_float_is_taken_as_that_integer():
    case = parse_case({"protocol": {"cycles": 3.0}, "numerics": {"newton_steps": 10.0}, "output": {"max_frames": 5.0}})
    assert case.protocol.cycles == 3 and isinstance(case.protocol.cycles, int)
    assert case.numerics.newton_steps == 10 and isinstance(case.numerics.newton_steps, int)
    assert case.output.max_frames == 5 and isinstance(case.output.max_frames, int)
    assert _study(optimizer={"iterations": 4.0}).optimizer.iterations == 4


def test_case_defaults():
    from hostsim.electrochemistry.cell import Reservoir
    from hostsim.electrochemistry.events import DEFAULT_VOLTAGE_CUTOFF, VoltageCutoff
    from hostsim.electrochemistry.integrate import DEFAULT_TIME_TOLERANCE
    from hostsim.electrochemistry.kinetics import Kinetics
    from hostsim.electrochemistry.metrics import Q_SEI

    case = parse_case({})
    assert case.numerics.precision == "float32"
    assert case.numerics.time_tolerance == DEFAULT_TIME_TOLERANCE
    assert case.numerics.voltage_cutoff_V == DEFAULT_VOLTAGE_CUTOFF == VoltageCutoff().voltage
    assert case.numerics.newton_steps is None and case.numerics.interface is None  # the solver's own
    assert case.numerics.devices == 1
    assert case.output.max_frames == 40 and case.output.report is True
    assert case.kinetics == Kinetics() and case.sei_charge_density == Q_SEI
    assert case.top == Reservoir() and case.geometry == {} and case.notes == []
    (segment,) = case.protocol.segments
    assert case.protocol.cycles == 1 and segment.kind == "plate"
    assert segment.current_density == pytest.approx(10.0) and segment.capacity == pytest.approx(36.0 * 1000)
    assert case.electrolyte.name == "lp30"


def test_case_values_are_converted_to_si():
    case = parse_case({"kinetics": {"exchange_current_density_mA_cm2": 2.0, "gate_width_mV": 10},
                       "numerics": {"precision": "float64", "devices": "all", "interface": "centre"},
                       "cell": {"top": "li_counter_electrode"}, "output": {"report": False}})
    assert case.kinetics.exchange_current_density == pytest.approx(20.0)  # A/m²
    assert case.kinetics.gate_width == pytest.approx(0.01)  # V
    assert case.kinetics.alpha_a == 0.5  # Kinetics' own default
    assert case.numerics.precision == "float64" and case.numerics.devices == "all"
    assert case.numerics.interface == "centre" and case.output.report is False
    assert type(case.top).__name__ == "LithiumCounterElectrode"


@pytest.mark.parametrize("data, message", [
    ({"foo": {}, "bar": 1}, "case [top level]: unknown key(s) bar, foo; allowed: cell, coating, electrolyte, geometry, "
                            "kinetics, numerics, output, protocol, separator"),
    ({"numerics": 3}, "case [numerics]: expected a table ([numerics] with keys); got 3"),
    ({"output": {"frames": 3, "max_frames": 1}}, "case [output]: unknown key(s) frames; allowed: max_frames, report"),
    ({"output": {"max_frames": 1}}, "case [output] max_frames: must be > 1, got 1"),
    ({"kinetics": {"alpha_a": -0.5}}, "case [kinetics] alpha_a: must be > 0.0, got -0.5"),
    ({"kinetics": {"nucleation_overpotential_bare_mV": -5}},
     "case [kinetics] nucleation_overpotential_bare_mV: must be >= 0, got -5"),
    ({"kinetics": {"sei_charge_C_m2": -1}}, "case [kinetics] sei_charge_C_m2: must be >= 0, got -1.0"),
    ({"numerics": {"time_tolerance": 0.8}}, "case [numerics] time_tolerance: must be <= 0.5, got 0.8"),
    ({"numerics": {"time_tolerance": float("nan")}}, "case [numerics] time_tolerance: expected a finite number, got nan"),
    ({"numerics": {"voltage_cutoff_V": True}}, "case [numerics] voltage_cutoff_V: expected a number, got True"),
    ({"numerics": {"precision": "float16"}}, "case [numerics] precision: expected one of float32, float64; got 'float16'"),
    ({"numerics": {"devices": "some"}}, "case [numerics] devices: expected a number, got 'some'"),
    ({"cell": {"top": "wall"}}, "case [cell] top: expected one of reservoir, li_counter_electrode; got 'wall'"),
    ({"output": {"report": "yes"}}, "case [output] report: expected true or false; got 'yes'"),
    ({"electrolyte": {"name": "seawater"}}, "case [electrolyte] name: unknown set 'seawater'; allowed: lp30, lp30_vr, "
                                            "lp57, dol_dme, lifsi_dme_4m, spec_oracle"),
    ({"protocol": {"segment": "plate"}},
     "case [protocol] segment: expected one or more [[protocol.segment]] tables; got 'plate'"),
    ({"protocol": {"segment": [{"kind": "plate", "current_mA_cm2": 1, "capacity_mAh_cm2": 0.1}, {"kind": "charge"}]}},
     "case [protocol.segment 2] kind: expected plate, strip or rest; got 'charge'"),
    ({"protocol": {"segment": [{"kind": "plate", "current_mA_cm2": 1}]}},
     "case [protocol.segment 1] capacity_mAh_cm2: expected a number, got None"),
    ({"protocol": {"segment": [{"kind": "rest", "duration_s": 10, "rate": 3}]}},
     "case [protocol.segment 1]: unknown key(s) rate; allowed: capacity_mAh_cm2, current_mA_cm2, duration_s, kind"),
])
def test_bad_case_lines(data, message):
    assert _refused(parse_case, data) == message


def test_deprecated_numerics_keys_still_work_with_one_note_each():
    from hostsim.run.case import tolerance_for_fill

    with pytest.warns(FutureWarning):
        case = parse_case({"numerics": {"fill_per_step": 0.1, "rest_steps": 5}}, "old.toml")
    assert case.numerics.time_tolerance == pytest.approx(tolerance_for_fill(0.1))
    assert case.notes == ["old.toml: [numerics] fill_per_step is deprecated (steps adapt now); 0.1 sets "
                          "time_tolerance = 0.2",
                          "old.toml: [numerics] rest_steps is deprecated and ignored (a rest adapts its steps)"]
    assert not hasattr(case.numerics, "fill_per_step") and not hasattr(case.numerics, "rest_steps")


def test_study_defaults():
    from inverse.lagrangian import DEFAULT_PENALTY
    from inverse.objectives import DESIGN_MAX_STEPS

    study = _study()
    d, o = study.design, study.optimizer
    assert (d.parameterisation, d.layers, d.fields, d.start_k, d.start_l) == ("layer_profile", 8, ["k", "l"], 1.0, 0.5)
    assert d.max_steps == DESIGN_MAX_STEPS and d.warmup_iterations == 0 and d.parameters is None
    assert (d.porosity, d.feature_size_um, d.beta_start, d.beta_max, d.beta_every, d.beta_growth) == (
        None, 0.75, 1.0, 32.0, 10, "geometric")
    assert (o.name, o.learning_rate, o.clip, o.iterations, o.schedule, o.final_fraction) == (
        "adam", 0.2, 1.0, 20, "constant", 0.1)
    assert o.schedule_iterations == 20
    assert (o.stop.gtol, o.stop.ftol, o.stop.patience, o.stop.early) == (1e-3, 1e-4, 3, False)
    assert study.weights == {"flux_cv": 1.0} and study.constraints == {}
    assert _study(design={"parameterisation": "free_form"}).design.fields == ["s", "l"]
    assert _study(constraints={"flux_cv_max": 1}).constraints == {"flux_cv_max": 1.0, "penalty": DEFAULT_PENALTY}


def test_the_schedule_horizon_stays_the_study_files_when_iterations_change():
    study = _study(optimizer={"iterations": 11})
    study.optimizer.iterations = 2  # what --iterations does
    assert study.optimizer.schedule_iterations == 11


def test_weights_and_constraints_keep_the_files_order():
    study = _study(objective={"top_growth": 0.5, "flux_cv": 1}, constraints={"porosity_max": 0.9, "hotspot_max": 2})
    assert list(study.weights.items()) == [("top_growth", 0.5), ("flux_cv", 1.0)]
    assert list(study.constraints) == ["porosity_max", "hotspot_max", "penalty"]


ALL_TERMS = ("envelope_growth_um, flux_cv, host_mass_mg_cm2, hotspot, overpotential_V, relative_volume_change, "
             "sei_mAh_cm2, top_growth, virtual_temperature")


@pytest.mark.parametrize("sections, message", [  # the cases of test_design's bad-study test, whole lines
    ({"design": {"parameterisation": "magic"}},
     "study [design] parameterisation: expected layer_profile, family or free_form; got 'magic'"),
    ({"objective": {"beauty": 1.0}}, f"study [objective]: unknown key(s) beauty; allowed: {ALL_TERMS}"),
    ({"objective": {"flux_cv": 0}}, "study [objective]: give at least one positive weight (top_growth, "
                                    "envelope_growth_um, relative_volume_change, flux_cv, hotspot, sei_mAh_cm2, "
                                    "host_mass_mg_cm2, virtual_temperature, overpotential_V)"),
    ({"optimizer": {"learning_rate": -1}}, "study [optimizer] learning_rate: must be > 0, got -1"),
    ({"optimizer": {"iterations": 1e12}}, "study [optimizer] iterations: at most 100000; got 1000000000000"),
    ({"constraints": {"beauty_max": 1.0}},
     "study [constraints]: unknown key(s) beauty_max; allowed: envelope_growth_um_max, flux_cv_max, "
     "host_mass_mg_cm2_max, hotspot_max, overpotential_V_max, penalty, porosity_max, porosity_min, relative_volume_change_max, "
     "sei_mAh_cm2_max, top_growth_max, virtual_temperature_limit, virtual_temperature_max"),
    ({"constraints": {"porosity_min": 0.8, "porosity_max": 0.6}}, "study [constraints]: porosity_min is above porosity_max"),
    ({"constraints": {"porosity_max": 2}}, "study [constraints] porosity_max: a porosity is <= 1; got 2"),
    ({"constraints": {"flux_cv_max": "low"}}, "study [constraints] flux_cv_max: expected a finite number, got 'low'"),
    ({"constraints": {"penalty": 0}}, "study [constraints] penalty: must be > 0, got 0"),
    ({"optimizer": {"stop": {"gtol": 2}}}, "study [optimizer.stop] gtol: must be < 1 (a fraction); got 2.0"),
    ({"optimizer": {"stop": {"patience": 0}}}, "study [optimizer.stop] patience: must be >= 1, got 0"),
    ({"optimizer": {"stop": {"early": "yes"}}}, "study [optimizer.stop] early: expected true or false; got 'yes'"),
    ({"design": {"warmup_iterations": -1}}, "study [design] warmup_iterations: must be >= 0, got -1"),
    ({"design": {"max_steps": 20000}}, "study [design] max_steps: at most 10000 (the gradient keeps every step); got 20000"),
    ({"design": {"start_k": 2}}, "study [design] start_k: must be <= 1, got 2.0"),
    ({"design": {"fields": ["q"]}}, "study [design] fields: expected a list of k, l and/or film; got ['q']"),
    ({"design": {"parameterisation": "free_form", "fields": ["k"]}},
     "study [design] fields: free_form designs [\"s\"] or [\"s\", \"l\"]; got ['k']"),
    ({"design": {"parameterisation": "free_form", "porosity": 0.99}},
     "study [design] porosity: must be in [0.05, 0.95]; got 0.99"),
    ({"design": {"parameterisation": "free_form", "beta_start": 64}},
     "study [design] beta_max: must be in [beta_start, 1024]; got 32.0"),
    ({"design": {"parameterisation": "free_form", "beta_growth": "cubic"}},
     "study [design] beta_growth: expected doubling or geometric; got 'cubic'"),
    ({"design": {"parameters": "porosity"}}, "study [design] parameters: expected a list of parameter names; got 'porosity'"),
    ({"design": {"foo": 1}}, "study [design]: unknown key(s) foo; allowed: beta_every, beta_growth, beta_max, "
                             "beta_start, feature_size_um, fields, layers, max_steps, parameterisation, parameters, "
                             "plating_steps, porosity, start_film, start_k, start_l, warmup_iterations"),
    ({"optimizer": {"schedule": "linear"}}, "study [optimizer] schedule: expected constant, cosine, exponential; got 'linear'"),
    ({"optimizer": {"final_fraction": 2.0}}, "study [optimizer] final_fraction: must be <= 1; got 2.0"),
    ({"optimizer": {"name": "lbfgs"}}, "study [optimizer] name: expected adam or sgd; got 'lbfgs'"),
    ({"design": 3}, "study [design]: expected a table ([design] with keys); got 3"),
    ({"numerics": {"precision": "float16"}}, "case [numerics] precision: expected one of float32, float64; got 'float16'"),
    ({"protocol": {"segment": [{"kind": "strip", "current_mA_cm2": 1.0, "capacity_mAh_cm2": 0.1}]}},
     "study [protocol]: the design transient is one plate segment, optionally followed by one strip segment (one "
     "cycle)"),
])
def test_bad_study_lines(sections, message):
    assert _refused(lambda s: _study(**s), sections) == message


def test_a_study_without_objective_is_refused():
    from inverse.study import parse_study

    data = {k: v for k, v in BASE_STUDY.items() if k != "objective"}
    assert _refused(parse_study, data) == ("study [objective]: give at least one positive weight (top_growth, "
                                           "envelope_growth_um, relative_volume_change, flux_cv, hotspot, "
                                           "sei_mAh_cm2, host_mass_mg_cm2, virtual_temperature, overpotential_V)")


def test_plating_steps_is_ignored_with_a_note():
    with pytest.warns(FutureWarning, match="plating_steps is deprecated"):
        study = _study(design={"plating_steps": 4})
    assert not hasattr(study.design, "plating_steps")
    assert study.case.notes == ["study: [design] plating_steps is deprecated and ignored (4): the transient's steps "
                                "adapt to [numerics] time_tolerance, at most [design] max_steps"]


@pytest.mark.parametrize("sweep, message", [
    (None, "s.toml: no [sweep] section (give [sweep.axes] with at least one axis)"),
    ({"axes": {"geometry.seed": [0]}, "foo": 1, "bar": 2}, "s.toml: [sweep] unknown key(s) bar, foo; allowed: mode, axes"),
    ({"mode": "random", "axes": {"geometry.seed": [0]}}, "s.toml: [sweep] mode: expected \"grid\" or \"zip\"; got 'random'"),
    ({"mode": "grid"}, "s.toml: [sweep.axes]: give at least one axis (\"section.key\" = [values])"),
    ({"axes": {"geometry.seed": 1}}, "s.toml: [sweep.axes] 'geometry.seed': expected a non-empty list of values; got 1"),
    ({"axes": {"output.max_frames": [2]}}, "s.toml: [sweep.axes] 'output.max_frames': an axis is a path into geometry, "
                                           "electrolyte, kinetics, protocol, cell, numerics, coating or separator"),
    ({"mode": "zip", "axes": {"geometry.seed": [0, 1], "geometry.lithiophilicity": [0.0]}},
     "s.toml: [sweep] mode = \"zip\" needs axes of equal length; got geometry.seed: 2, geometry.lithiophilicity: 1"),
])
def test_bad_sweep_lines(sweep, message):
    from hostsim.run.batch import parse_sweep

    data = {"geometry": {"family": "foil"}}
    if sweep is not None:
        data["sweep"] = sweep
    assert _refused(lambda d: parse_sweep(d, "s.toml"), data) == message


def test_sweep_defaults():
    from hostsim.run.batch import parse_sweep

    sweep = parse_sweep(copy.deepcopy(BASE_SWEEP), "s.toml")
    assert sweep.mode == "grid" and sweep.axes == {"geometry.seed": [0, 1]} and len(sweep.members) == 2
