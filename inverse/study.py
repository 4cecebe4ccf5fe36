"""Study files (TOML): what to design, on which host, under which plating, for which objective,
with which optimiser and budget. Every key is validated; a bad one is one
:class:`~hostsim.InputError` line naming the section and the key.

    [design]
    parameterisation = "layer_profile"   # layer_profile | family | free_form
    layers = 8                           # layer_profile: design layers through the slab
    fields = ["k", "l"]                  # layer_profile: which fields are designed
    start_k = 1.0                        # layer_profile: the uniform start
    start_l = 0.5
    parameters = ["porosity"]            # family: which continuous parameters (default: all)
    porosity = 0.6                       # free_form: pore fraction of the slab, held exactly
    feature_size_um = 0.75               # free_form: minimum feature size (the filter's; >= 2 voxels)
    beta_start = 1.0                     # free_form: projection sharpness, doubled every beta_every
    beta_max = 32.0                      #   iterations up to beta_max (continuation)
    beta_every = 10
    beta_growth = "geometric"            #   x 2^(1/beta_every) each iteration, or "doubling" at once
    max_steps = 200                      # attempts of each segment of the design transient (steps adapt to
                                         #   [numerics] time_tolerance; the gradient's memory grows with this)
    warmup_iterations = 0                # first iterations on the steady surrogate (one potential solve)

    [geometry]                           # the base host, as in a case file (family + parameters)
    [electrolyte] [kinetics] [cell] [numerics]   # as in a case file
    [[protocol.segment]]                 # one plate segment: the design transient
    kind = "plate"
    current_mA_cm2 = 4.0
    capacity_mAh_cm2 = 0.4
    [[protocol.segment]]                 # optional: one strip segment after it (a plate/strip cycle,
    kind = "strip"                       #   relative_volume_change spans it)
    current_mA_cm2 = 4.0
    capacity_mAh_cm2 = 0.3

    [objective]                          # weights of the terms, each normalised by the start's value
    top_growth = 1.0
    flux_cv = 0.1                        # also: envelope_growth_um, relative_volume_change, hotspot,
                                         #   sei_mAh_cm2, host_mass_mg_cm2, virtual_temperature

    [constraints]                        # optional, augmented Lagrangian (inverse.lagrangian)
    flux_cv_max = 1.0                    # <term>_max: the term / its start value stays <= this
    virtual_temperature_max = 2.0        # the conductor stays connected to the collector (an island: x100s)
    porosity_min = 0.5                   # slab porosity bounds (designs whose solid moves)
    penalty = 10.0                       # mu

    [optimizer]
    name = "adam"                        # adam | sgd
    learning_rate = 0.2
    clip = 1.0                           # global-norm clipping of the gradient (0: none)
    iterations = 20
    schedule = "constant"                # constant | cosine | exponential: the learning rate falls to
    final_fraction = 0.1                 #   final_fraction x learning_rate over the iterations
"""

from __future__ import annotations

import dataclasses
import warnings

from hostsim import InputError
from hostsim.run.case import Case, parse_case, read_toml

from .objectives import DESIGN_MAX_STEPS, TERMS

DESIGN_KEYS = ("parameterisation", "layers", "fields", "start_k", "start_l", "parameters", "max_steps", "plating_steps",
               "porosity", "feature_size_um", "beta_start", "beta_max", "beta_every", "beta_growth",
               "warmup_iterations")
OPTIMIZER_KEYS = ("name", "learning_rate", "clip", "iterations", "schedule", "final_fraction")
SCHEDULES = ("constant", "cosine", "exponential")
STUDY_SECTIONS = ("design", "objective", "optimizer", "constraints")

DEFAULT_STUDY = {
    # a thick, fine Cu skeleton plated fast to ~60 % of its pore volume: the uniform start crowds
    # the reaction at the top (transport), not for lack of room
    "design": {"parameterisation": "layer_profile", "layers": 8, "fields": ["k", "l"], "start_k": 0.9,
               "start_l": 0.5},
    "geometry": {"family": "cu_skeleton", "width_um": 3.0, "height_um": 7.0, "thickness_um": 4.0,
                 "voxel_size_um": 0.25, "fibre_diameter_um": 0.5},
    "protocol": {"segment": [{"kind": "plate", "current_mA_cm2": 8.0, "capacity_mAh_cm2": 0.4}]},
    "objective": {"flux_cv": 1.0},
    "optimizer": {"name": "adam", "learning_rate": 0.3, "clip": 1.0, "iterations": 12},
}


@dataclasses.dataclass(frozen=True)
class Study:
    source: str
    case: Case  # the simulation sections and the base host's [geometry]
    design: dict
    weights: dict
    optimizer: dict
    constraints: dict = dataclasses.field(default_factory=dict)  # [constraints], inverse.lagrangian

    @property
    def segment(self):
        """The plate segment of the design transient."""
        return self.case.protocol.segments[0]

    @property
    def strip_segment(self):
        """The strip segment after it (a plate/strip cycle), or None."""
        segments = self.case.protocol.segments
        return segments[1] if len(segments) > 1 else None


def _unknown(section, keys, allowed):
    bad = sorted(set(keys) - set(allowed))
    if bad:
        raise InputError(f"study [{section}]: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(allowed))}")


def _number(section, key, value, low=None, integer=False, allow_equal=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"study [{section}] {key}: expected a finite number, got {value!r}")
    if integer and int(value) != value:
        raise InputError(f"study [{section}] {key}: expected an integer, got {value!r}")
    if low is not None and not (value >= low if allow_equal else value > low):
        raise InputError(f"study [{section}] {key}: must be {'>=' if allow_equal else '>'} {low}, got {value!r}")
    return int(value) if integer else float(value)


def _free_form_keys(design: dict) -> None:
    """Validate and default the free-form keys in place (porosity None: the base host's)."""
    if design.get("porosity") is not None:
        design["porosity"] = _number("design", "porosity", design["porosity"], low=0)
        if not 0.05 <= design["porosity"] <= 0.95:
            raise InputError(f"study [design] porosity: must be in [0.05, 0.95]; got {design['porosity']!r}")
    design["feature_size_um"] = _number("design", "feature_size_um", design.get("feature_size_um", 0.75), low=0)
    design["beta_start"] = _number("design", "beta_start", design.get("beta_start", 1.0), low=0)
    design["beta_max"] = _number("design", "beta_max", design.get("beta_max", 32.0), low=0)
    if design["beta_max"] < design["beta_start"] or design["beta_max"] > 1024:
        raise InputError(f"study [design] beta_max: must be in [beta_start, 1024]; got {design['beta_max']!r}")
    design["beta_every"] = _number("design", "beta_every", design.get("beta_every", 10), low=1, integer=True,
                                   allow_equal=True)
    from .freeform import BETA_GROWTHS

    # geometric by default: on the free-form showcase it settled where doubling at once jolted the design
    # at every doubling (docs/design.md, "beta continuation: at once or geometric")
    design["beta_growth"] = design.get("beta_growth", "geometric")
    if design["beta_growth"] not in BETA_GROWTHS:
        raise InputError(f"study [design] beta_growth: expected {' or '.join(BETA_GROWTHS)}; got {design['beta_growth']!r}")


def parse_study(data: dict, source: str = "study") -> Study:
    data = dict(data)
    design = dict(data.pop("design", {}))
    weights = dict(data.pop("objective", {}))
    optimizer = dict(data.pop("optimizer", {}))
    constraints = dict(data.pop("constraints", {}))
    case = parse_case(data, source)
    if not case.geometry:
        raise InputError("study [geometry]: give the base host (family and its parameters)")
    if "file" in case.geometry:
        raise InputError("study [geometry]: design starts from a host family (family = ...), not an imported file")
    segments = case.protocol.segments
    kinds = [seg.kind for seg in segments]
    if kinds not in (["plate"], ["plate", "strip"]) or case.protocol.cycles != 1:
        raise InputError("study [protocol]: the design transient is one plate segment, optionally followed by one "
                         "strip segment (one cycle)")
    if len(segments) == 2 and segments[1].capacity >= segments[0].capacity:
        raise InputError("study [protocol]: the strip segment's capacity_mAh_cm2 must be below the plate segment's (the "
                         "transient cannot strip Li it did not plate, and stripping all of it runs its last steps out "
                         "of Li)")
    _unknown("design", design.keys(), DESIGN_KEYS)
    kind = design.setdefault("parameterisation", "layer_profile")
    if kind not in ("layer_profile", "family", "free_form"):
        raise InputError(f"study [design] parameterisation: expected layer_profile, family or free_form; got {kind!r}")
    design["layers"] = _number("design", "layers", design.get("layers", 8), low=1, integer=True, allow_equal=True)
    if "plating_steps" in design:  # the fixed steps of earlier versions: the steps adapt now
        old = design.pop("plating_steps")
        note = (f"{source}: [design] plating_steps is deprecated and ignored ({old!r}): the transient's steps adapt "
                f"to [numerics] time_tolerance, at most [design] max_steps")
        case.notes.append(note)
        warnings.warn(note, FutureWarning, stacklevel=2)
    design["max_steps"] = _number("design", "max_steps", design.get("max_steps", DESIGN_MAX_STEPS), low=1, integer=True,
                                  allow_equal=True)
    if design["max_steps"] > 10000:
        raise InputError(f"study [design] max_steps: at most 10000 (the gradient keeps every step); got "
                         f"{design['max_steps']}")
    design["warmup_iterations"] = _number("design", "warmup_iterations", design.get("warmup_iterations", 0), low=0,
                                          integer=True, allow_equal=True)
    fields = design.setdefault("fields", ["s", "l"] if kind == "free_form" else ["k", "l"])
    if kind == "free_form":
        if fields not in (["s"], ["s", "l"]):
            raise InputError(f"study [design] fields: free_form designs [\"s\"] or [\"s\", \"l\"]; got {fields!r}")
        _free_form_keys(design)
    elif not isinstance(fields, list) or not fields or set(fields) - {"k", "l"}:
        raise InputError(f"study [design] fields: expected a list of k and/or l; got {fields!r}")
    for key in ("start_k", "start_l"):
        value = _number("design", key, design.get(key, 1.0 if key == "start_k" else 0.5), low=0, allow_equal=True)
        if value > 1:
            raise InputError(f"study [design] {key}: must be <= 1, got {value!r}")
        design[key] = value
    params = design.get("parameters")
    if params is not None and (not isinstance(params, list) or not all(isinstance(p, str) for p in params)):
        raise InputError(f"study [design] parameters: expected a list of parameter names; got {params!r}")
    _unknown("objective", weights.keys(), TERMS)
    weights = {k: _number("objective", k, v, low=0, allow_equal=True) for k, v in weights.items()}
    if not any(weights.values()):
        raise InputError(f"study [objective]: give at least one positive weight ({', '.join(TERMS)})")
    _unknown("optimizer", optimizer.keys(), OPTIMIZER_KEYS)
    name = optimizer.setdefault("name", "adam")
    if name not in ("adam", "sgd"):
        raise InputError(f"study [optimizer] name: expected adam or sgd; got {name!r}")
    optimizer["learning_rate"] = _number("optimizer", "learning_rate", optimizer.get("learning_rate", 0.2), low=0)
    optimizer["clip"] = _number("optimizer", "clip", optimizer.get("clip", 1.0), low=0, allow_equal=True)
    optimizer["iterations"] = _number("optimizer", "iterations", optimizer.get("iterations", 20), low=1, integer=True,
                                      allow_equal=True)
    if optimizer["iterations"] > 100000:
        raise InputError(f"study [optimizer] iterations: at most 100000; got {optimizer['iterations']}")
    schedule = optimizer.setdefault("schedule", "constant")
    if schedule not in SCHEDULES:
        raise InputError(f"study [optimizer] schedule: expected {', '.join(SCHEDULES)}; got {schedule!r}")
    optimizer["final_fraction"] = _number("optimizer", "final_fraction", optimizer.get("final_fraction", 0.1), low=0)
    if optimizer["final_fraction"] > 1:
        raise InputError(f"study [optimizer] final_fraction: must be <= 1; got {optimizer['final_fraction']!r}")
    # the schedule's horizon is the study file's budget, fixed here: a run cut short by --iterations and
    # resumed later follows the same schedule (bit-identical resume)
    optimizer["schedule_iterations"] = optimizer["iterations"]
    from .lagrangian import validate

    return Study(source, case, design, weights, optimizer, validate(constraints, _number) if constraints else {})


def load_study(path) -> Study:
    return parse_study(read_toml(path, "study"), str(path))
