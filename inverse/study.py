"""Study files (TOML): what to design, on which host, under which plating, for which objective,
with which optimiser and budget. The study's sections are parsed into typed models
(:class:`Design`, :class:`Optimizer`, :class:`Objective`, :class:`Constraints`; the shared pieces
in :mod:`hostsim.run.config`), each default declared once on its model; the simulation sections
are a case's (:func:`hostsim.run.case.parse_case`). Every key is validated; a bad one is one
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
    virtual_temperature_limit = 8.0      #   the same, absolute; on by default where a conductivity is designed (0: off)
    porosity_min = 0.5                   # slab porosity bounds (designs whose solid moves)
    penalty = 10.0                       # mu

    [optimizer]
    name = "adam"                        # adam | sgd
    learning_rate = 0.2
    clip = 1.0                           # global-norm clipping of the gradient (0: none)
    iterations = 20
    schedule = "constant"                # constant | cosine | exponential: the learning rate falls to
    final_fraction = 0.1                 #   final_fraction x learning_rate over the iterations
    starts = 1                           # N designs from spread starts, optimised together; the best is
                                         #   kept (inverse.starts; family and layer_profile)
    [optimizer.stop]                     # the verdict (inverse.verdict): converged, stalled or budget exhausted
    gtol = 1e-3                          # converged: projected-gradient norm <= gtol x its first value
    ftol = 1e-4                          # flat: relative objective change < ftol ...
    patience = 3                         #   ... for patience consecutive iterations (stalled if not converged)
    early = false                        # true: stop at the first iteration whose verdict is converged
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Annotated, Any, Literal

from pydantic import (Field, PlainValidator, PrivateAttr, ValidationError, ValidationInfo, create_model, field_validator,
                      model_validator)

from hostsim import InputError
from hostsim.run.case import Case, parse_case, read_toml
from hostsim.run.config import Section, choice, input_error, refuse, study_number, study_number_check

from .bounds import BOXES
from .freeform import BETA_GROWTHS
from .lagrangian import CONNECTED_LIMIT, DEFAULT_PENALTY
from .objectives import DESIGN_MAX_STEPS, TERMS

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

Count = Annotated[int, study_number(low=1, integer=True, allow_equal=True)]  # an integer >= 1
Positive = Annotated[float, study_number(low=0)]
NonNegative = Annotated[float, study_number(low=0, allow_equal=True)]


def _capped_count(high: int, why: str = ""):
    """An integer >= 1 and at most ``high`` (``why``: the reason for the cap, said with it)."""
    def check(value):
        count = study_number_check(low=1, integer=True, allow_equal=True)(value)
        if count > high:
            raise refuse(f"at most {high}{why}; got {count}")
        return count

    return check


_max_steps = _capped_count(10000, " (the gradient keeps every step)")
_starts = _capped_count(64, " (every start's transient and gradient are held at once)")


def _start_fraction(value):
    fraction = study_number_check(low=0, allow_equal=True)(value)
    if fraction > 1:
        raise refuse(f"must be <= 1, got {fraction!r}")
    return fraction


def _slab_porosity(value):
    porosity = study_number_check(low=0)(value)
    if not 0.05 <= porosity <= 0.95:
        raise refuse(f"must be in [0.05, 0.95]; got {porosity!r}")
    return porosity


def _parameter_names(value):
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise refuse(f"expected a list of parameter names; got {value!r}")
    return value


class Design(Section):
    """``[design]``: what is designed and how the design transient runs. The free-form keys
    (porosity to beta_growth) are read by free-form designs only."""

    parameterisation: Annotated[Literal["layer_profile", "family", "free_form"], choice(
        ("layer_profile", "family", "free_form"), "expected layer_profile, family or free_form")] = "layer_profile"
    layers: Count = 8
    max_steps: Annotated[int, PlainValidator(_max_steps)] = DESIGN_MAX_STEPS
    warmup_iterations: Annotated[int, study_number(low=0, integer=True, allow_equal=True)] = 0
    # validate_default: the default depends on the parameterisation (free form: ["s", "l"])
    fields: list[str] = Field(None, validate_default=True)
    porosity: Annotated[float | None, PlainValidator(_slab_porosity)] = None  # None: the base host's
    feature_size_um: Positive = 0.75
    beta_start: Positive = 1.0
    beta_max: Positive = Field(32.0, validate_default=True)  # validate_default: checked against beta_start too
    beta_every: Count = 10
    # geometric by default: on the free-form showcase it settled where doubling at once jolted the design
    # at every doubling (docs/design.md, "beta continuation: at once or geometric")
    beta_growth: Annotated[str, choice(BETA_GROWTHS, f"expected {' or '.join(BETA_GROWTHS)}")] = "geometric"
    start_k: Annotated[float, PlainValidator(_start_fraction)] = 1.0
    start_l: Annotated[float, PlainValidator(_start_fraction)] = 0.5
    start_film: Annotated[float, PlainValidator(_start_fraction)] = 1.0  # share of the coating's thickness
    parameters: Annotated[list[str] | None, PlainValidator(_parameter_names)] = None  # None: all continuous ones

    @field_validator("fields", mode="plain")
    @classmethod
    def _fields(cls, value, info: ValidationInfo):
        free_form = info.data.get("parameterisation") == "free_form"
        if value is None:
            return ["s", "l"] if free_form else ["k", "l"]
        if free_form:
            if value not in (["s"], ["s", "l"]):
                raise refuse(f"free_form designs [\"s\"] or [\"s\", \"l\"]; got {value!r}")
        elif (not isinstance(value, list) or not value or not all(isinstance(f, str) for f in value)
              or set(value) - {"k", "l", "film"}):
            raise refuse(f"expected a list of k, l and/or film; got {value!r}")
        elif "film" in value and info.data.get("parameterisation") == "family":
            raise refuse("film is designed by a layer_profile (a coating's thickness per layer), not by a family")
        return value

    @field_validator("beta_max", mode="after")
    @classmethod
    def _beta_max(cls, value, info: ValidationInfo):
        start = info.data.get("beta_start", 1.0)
        if info.data.get("parameterisation") == "free_form" and (value < start or value > 1024):
            raise refuse(f"must be in [beta_start, 1024]; got {value!r}")
        return value


class DesignFile(Design):
    """``[design]`` as a file gives it: :class:`Design` and ``plating_steps`` (the fixed steps of
    earlier versions: ignored with a note)."""

    plating_steps: Any = None


class _Weights(Section):
    @model_validator(mode="after")
    def _some_weight(self):
        if not any(getattr(self, term) for term in TERMS):
            raise refuse(f"give at least one positive weight ({', '.join(TERMS)})", table=True)
        return self


# ``[objective]``: the weight (>= 0) of each design term, normalised by the start's value; not given: 0
Objective = create_model("Objective", __base__=_Weights, **{term: (NonNegative, 0.0) for term in TERMS})


def _porosity_bound(value):
    bound = study_number_check(low=0, allow_equal=True)(value)
    if bound > 1:
        raise refuse(f"a porosity is <= 1; got {value!r}")
    return bound


class _Bounds(Section):
    porosity_min: Annotated[float | None, PlainValidator(_porosity_bound)] = None
    porosity_max: Annotated[float | None, PlainValidator(_porosity_bound)] = None
    # absolute bound on the virtual temperature; 0: off (on by default where a designed conductivity
    # can disconnect the host: _connectivity_default)
    virtual_temperature_limit: NonNegative | None = None
    penalty: Positive = DEFAULT_PENALTY  # mu of the augmented Lagrangian (inverse.lagrangian)

    @model_validator(mode="after")
    def _ordered(self):
        low = 0.0 if self.porosity_min is None else self.porosity_min
        if low > (1.0 if self.porosity_max is None else self.porosity_max):
            raise refuse("porosity_min is above porosity_max", table=True)
        return self


# ``[constraints]``: ``<term>_max`` (the term / its start value stays <= this), slab porosity bounds,
# the penalty; None: no such constraint (inverse.lagrangian)
Constraints = create_model("Constraints", __base__=_Bounds,
                           **{f"{term}_max": (Annotated[float | None, study_number(low=0, allow_equal=True)], None)
                              for term in TERMS})


_iterations = _capped_count(100000)


def _final_fraction(value):
    fraction = study_number_check(low=0)(value)
    if fraction > 1:
        raise refuse(f"must be <= 1; got {fraction!r}")
    return fraction


def _below_one(value):
    tol = study_number_check(low=0)(value)
    if tol >= 1:
        raise refuse(f"must be < 1 (a fraction); got {tol!r}")
    return tol


def _flag(value):
    if not isinstance(value, bool):
        raise refuse(f"expected true or false; got {value!r}")
    return value


class Stop(Section):
    """``[optimizer.stop]``: the verdict's tolerances (:func:`inverse.verdict.study_verdict`) and
    whether a converged study stops before its budget."""

    gtol: Annotated[float, PlainValidator(_below_one)] = 1e-3
    ftol: Annotated[float, PlainValidator(_below_one)] = 1e-4
    patience: Count = 3
    early: Annotated[bool, PlainValidator(_flag)] = False


class Optimizer(Section):
    """``[optimizer]``: the optimiser, its learning-rate schedule, the budget and when it stops."""

    name: Annotated[Literal["adam", "sgd"], choice(("adam", "sgd"), "expected adam or sgd")] = "adam"
    learning_rate: Positive = 0.2
    clip: NonNegative = 1.0  # global-norm clipping of the gradient (0: none)
    iterations: Annotated[int, PlainValidator(_iterations)] = 20
    schedule: Annotated[str, choice(SCHEDULES, f"expected {', '.join(SCHEDULES)}")] = "constant"
    final_fraction: Annotated[float, PlainValidator(_final_fraction)] = 0.1
    # how bounded parameters are held in their range (inverse.bounds): projected onto their box after
    # every update (the gradient is the value's at the bound), or through a sigmoid (flat at the bound)
    bounds: Annotated[str, choice(tuple(BOXES), f"expected {' or '.join(BOXES)}")] = "projection"
    # designs optimised together from spread starts (inverse.starts); the best is kept
    starts: Annotated[int, PlainValidator(_starts)] = 1
    stop: Stop = Field(default_factory=Stop)
    _horizon: int = PrivateAttr()

    def model_post_init(self, context) -> None:
        # the schedule's horizon is the study file's budget, fixed here: a run cut short by --iterations
        # (which sets iterations) and resumed later follows the same schedule (bit-identical resume)
        self._horizon = self.iterations

    @property
    def schedule_iterations(self) -> int:
        """The iterations the learning-rate schedule spans: the study file's."""
        return self._horizon


class StudySections(Section):
    """The sections a study file adds to a case file."""

    design: DesignFile = Field(default_factory=DesignFile)
    # validate_default: a study without [objective] is refused (no term weighted)
    objective: Objective = Field(default_factory=dict, validate_default=True)
    optimizer: Optimizer = Field(default_factory=Optimizer)
    constraints: Constraints = Field(default_factory=Constraints)


@dataclasses.dataclass(frozen=True)
class Study:
    source: str
    case: Case  # the simulation sections and the base host's [geometry]
    design: Design
    weights: dict  # design term -> weight, the [objective] keys the file gives, in its order
    optimizer: Optimizer
    constraints: dict = dataclasses.field(default_factory=dict)  # [constraints] as given + penalty; {}: none

    @property
    def segment(self):
        """The plate segment of the design transient."""
        return self.case.protocol.segments[0]

    @property
    def strip_segment(self):
        """The strip segment after it (a plate/strip cycle), or None."""
        segments = self.case.protocol.segments
        return segments[1] if len(segments) > 1 else None


def _check_base(case: Case) -> None:
    """The base host is a family and the protocol one plate segment, optionally one strip after it."""
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


def _current_design(design: DesignFile, source: str, case: Case) -> Design:
    """:class:`Design` of the file's section; ``plating_steps`` gives a note (also a ``FutureWarning``)."""
    if "plating_steps" in design.model_fields_set:  # the fixed steps of earlier versions: the steps adapt now
        note = (f"{source}: [design] plating_steps is deprecated and ignored ({design.plating_steps!r}): the "
                f"transient's steps adapt to [numerics] time_tolerance, at most [design] max_steps")
        case.notes.append(note)
        warnings.warn(note, FutureWarning, stacklevel=3)
    given = design.model_fields_set & set(Design.model_fields)
    return Design.model_construct(given, **{key: getattr(design, key) for key in Design.model_fields})


def _connectivity_default(constraints: dict, sections: StudySections, case: Case) -> None:
    """A family study that designs a conductivity keeps its conductor connected to the collector:
    ``virtual_temperature_limit`` (:data:`inverse.lagrangian.CONNECTED_LIMIT`) unless the file bounds
    the virtual temperature itself. Below a conducting share of ~0.05 the forward model cuts the
    host above off the collector, its flux statistics jump to an inert host's, and the gradient
    cannot see that cliff; the virtual temperature rises smoothly towards it."""
    design = sections.design
    if design.parameterisation != "family" or any(k.startswith("virtual_temperature") for k in constraints):
        return
    import geometries as geo

    names = design.parameters
    if names is None:
        family = geo.FAMILIES.get(case.geometry.get("family", ""))  # an unknown family is refused when built
        names = [] if family is None else [p.name for p in family.PARAMETERS]
    if any("conductivity" in name for name in names):
        constraints["virtual_temperature_limit"] = CONNECTED_LIMIT
        constraints.setdefault("penalty", sections.constraints.penalty)


def _check_film_design(design: Design, case: Case, source: str) -> None:
    """A design of ``film`` shapes the one coating of the study file: one ``[[coating]]`` with a
    ``thickness_nm`` (the most any layer gets) on li, host or all."""
    if "film" not in (design.fields or []):
        return
    coatings = case.coatings
    if len(coatings) != 1:
        raise InputError(f"{source}: [design] fields has film: give exactly one [[coating]] (the film it shapes, its "
                         f"thickness_nm the most a layer gets); got {len(coatings)}")
    coating = coatings[0]
    if coating.thickness_nm is None or coating.on == "collector":
        raise InputError(f"{source}: [design] fields has film: its [[coating]] needs thickness_nm (the most a layer "
                         f"gets) and on = li, host or all")
    if coating.pattern is not None:
        raise InputError(f"{source}: [design] fields has film: its [[coating]] is designed layer by layer; give no "
                         f"pattern")


def parse_study(data: dict, source: str = "study") -> Study:
    """The :class:`Study` of a study file's data: its case (:func:`parse_case`) and its design
    sections; a bad key or value is one :class:`InputError` line."""
    data = dict(data)
    raw = {key: data.pop(key) for key in STUDY_SECTIONS if key in data}
    case = parse_case(data, source)
    _check_base(case)
    try:
        sections = StudySections.model_validate(raw)
    except ValidationError as e:
        raise input_error(e, StudySections, "study") from None
    weights = {term: getattr(sections.objective, term) for term in raw.get("objective", {})}
    constraints = {}
    if raw.get("constraints"):
        constraints = {key: getattr(sections.constraints, key) for key in raw["constraints"]}
        constraints.setdefault("penalty", sections.constraints.penalty)
    _connectivity_default(constraints, sections, case)
    _check_film_design(sections.design, case, source)
    if sections.optimizer.starts > 1 and sections.design.parameterisation == "free_form":
        raise InputError(f"{source}: [optimizer] starts = {sections.optimizer.starts}: a free_form design takes one "
                         f"start (starts spread over a box of thousands of voxels say nothing); use a family or "
                         f"layer_profile design, or starts = 1")
    return Study(source, case, _current_design(sections.design, source, case), weights, sections.optimizer,
                 constraints)


def load_study(path) -> Study:
    return parse_study(read_toml(path, "study"), str(path))
