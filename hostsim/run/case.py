"""Case files (TOML): electrolyte, kinetics, protocol, numerics and output of a run, parsed into
typed sections (:class:`CaseFile`; the pieces in :mod:`hostsim.run.config`), each default declared
once on its section (the geometry section is validated by the geometry package that builds it).

    [geometry]                      # read by geometries: family + its parameters, or a file
    family = "cu_skeleton"
    porosity = 0.8

    [electrolyte]
    name = "lp30"                   # hostsim.ELECTROLYTES; overrides: diffusivity, conductivity, ...

    [kinetics]
    exchange_current_density_mA_cm2 = 1.0
    nucleation_overpotential_bare_mV = 30.0
    sei_charge_C_m2 = 110.0         # charge fresh Li/electrolyte area consumes forming SEI (0: none)

    [[protocol.segment]]
    kind = "plate"                  # plate | strip | rest
    current_mA_cm2 = 1.0
    capacity_mAh_cm2 = 1.0
    [protocol]
    cycles = 1

    [cell]
    top = "reservoir"               # reservoir | li_counter_electrode (hostsim.electrochemistry.cell)

    [numerics]
    precision = "float32"
    interface = "face"              # face | centre: where the reaction sits (docs/electrochemistry.md)
    time_tolerance = 0.05           # the step controller's relative tolerance (docs/time_integration.md)
    voltage_cutoff_V = 0.5          # a segment ends when the voltage rises past it (a strip out of Li)
    newton_steps = 60               # cap on Newton iterations per step (it stops earlier on its tolerances)
    devices = 1                     # "all" or N: split the grid along z over N local devices (a host too large for one)

    [output]
    max_frames = 40                 # field snapshots (.vti + .pvd) per host, initial and final included
    report = true                   # plots, renders and report.html after the run

Every unknown key is an error naming the section and the allowed keys; a bad value is one line
naming the section and the key (:func:`hostsim.run.config.input_error`). Keys of earlier versions
that still work give one note each (:attr:`Case.notes`): ``[numerics] fill_per_step`` (the charge
per step of fixed steps) sets ``time_tolerance``, ``[numerics] rest_steps`` is ignored (rests
adapt their steps like every segment).
"""

from __future__ import annotations

import dataclasses
import tomllib
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (BeforeValidator, ConfigDict, Field, PlainValidator, PrivateAttr, ValidationError, ValidationInfo,
                      field_validator, model_validator)

from hostsim.electrochemistry.additive import MOLAR, STANDARD_POTENTIALS_V, AdditiveShield
from hostsim.electrochemistry.cell import LithiumCounterElectrode, Reservoir
from hostsim.electrochemistry.coating import CRITICAL_STRAIN, MATERIALS, SURFACES, film_resistance, films_of
from hostsim.electrochemistry.electrolyte import ELECTROLYTES, get_electrolyte
from hostsim.electrochemistry.events import DEFAULT_VOLTAGE_CUTOFF
from hostsim.electrochemistry.separator import DEFAULT_POROSITY, DEFAULT_TORTUOSITY, Separator
from hostsim.errors import InputError
from hostsim.electrochemistry.kinetics import Kinetics
from hostsim.electrochemistry.metrics import Q_SEI
from hostsim.run.config import Section, choice, flag, input_error, number, number_check, refuse
from hostsim.run.protocol import DEFAULT_TIME_TOLERANCE, Protocol, Segment

# file key -> (Kinetics field, factor to SI): mA/cm² -> A/m², mV -> V
KINETICS_KEYS = {
    "exchange_current_density_mA_cm2": ("exchange_current_density", 10.0),
    "alpha_a": ("alpha_a", 1.0), "alpha_c": ("alpha_c", 1.0),
    "nucleation_overpotential_bare_mV": ("nucleation_overpotential_bare", 1e-3),
    "nucleation_overpotential_philic_mV": ("nucleation_overpotential_philic", 1e-3),
    "gate_width_mV": ("gate_width", 1e-3),
}
MAX_CYCLES = 10000
# a tolerance of 0.5 lets a step misplace half a voxel of Li (far past any accuracy)
MAX_TIME_TOLERANCE = 0.5
OLD_FILL_PER_STEP = 0.05  # the default of the fixed-step scheme's fill_per_step (maps to DEFAULT_TIME_TOLERANCE)


def tolerance_for_fill(fill_per_step: float) -> float:
    """The ``time_tolerance`` an old case's ``fill_per_step`` asks for: the default fill maps to the
    default tolerance, and the tolerance scales as the fill squared (the adaptive steps' count goes
    as ``tolerance^-1/2``, the fixed steps' as ``1 / fill``), within the accepted range."""
    return min(DEFAULT_TIME_TOLERANCE * (fill_per_step / OLD_FILL_PER_STEP) ** 2, MAX_TIME_TOLERANCE)


def _electrolyte_name(value):
    if value not in ELECTROLYTES:
        raise refuse(f"unknown set {value!r}; allowed: {', '.join(ELECTROLYTES)}")
    return value


class AdditiveSection(Section):
    """``[electrolyte.additive]``: an additive cation that shields the Li tips while its effective
    reduction potential lies below Li's (:mod:`hostsim.electrochemistry.additive`)."""

    cation: Annotated[str, choice(tuple(STANDARD_POTENTIALS_V))] = Field(None, validate_default=True)
    # 0: no additive (a sweep's member without it); 1 M is beyond any additive (Ding et al.: 0.001-0.1 M)
    concentration_mol_L: Annotated[float, number(high=1.0, at_least=0)] = Field(None, validate_default=True)

    def shield(self, li_concentration: float) -> AdditiveShield:
        """The shield in an electrolyte of ``li_concentration`` [mol/m³] Li+."""
        return AdditiveShield(self.cation, concentration=self.concentration_mol_L * MOLAR,
                              li_concentration=li_concentration)


class ElectrolyteSection(Section):
    """``[electrolyte]``: the parameter set; any other key overrides one of its values and is
    checked by :func:`~hostsim.electrochemistry.electrolyte.get_electrolyte`; ``additive``: an
    additive cation."""

    model_config = ConfigDict(extra="allow")
    name: Annotated[str, PlainValidator(_electrolyte_name)] = "lp30"
    additive: AdditiveSection | None = None
    _electrolyte: object = PrivateAttr(None)

    @model_validator(mode="after")
    def _build(self):
        # built here, so that a bad override is refused in the order of the sections
        self._electrolyte = get_electrolyte(self.name, **(self.model_extra or {}))
        return self

    def electrolyte(self):
        """The :class:`~hostsim.electrochemistry.electrolyte.Electrolyte` of the set and its overrides."""
        return self._electrolyte


def _sei_charge(value):
    charge = number_check(high=1e4)(value)
    if charge < 0:
        raise refuse(f"must be >= 0, got {charge!r}")
    return charge


# (exclusive low, inclusive high): transfer coefficients of a one-electron step in (0, 1]; i0 beyond
# 1 A/cm² and barriers beyond 0.5 V are outside every value reported for Li; barriers >= 0
Barrier = Annotated[float | None, number(high=500.0, at_least=0)]


class KineticsSection(Section):
    """``[kinetics]`` in the file's units; None: :class:`Kinetics`'s own default."""

    # [C/m²] charge fresh Li/electrolyte area consumes forming SEI (0: none)
    sei_charge_C_m2: Annotated[float, PlainValidator(_sei_charge)] = Q_SEI
    exchange_current_density_mA_cm2: Annotated[float | None, number(low=0.0, high=1000.0)] = None
    alpha_a: Annotated[float | None, number(low=0.0, high=1.0)] = None
    alpha_c: Annotated[float | None, number(low=0.0, high=1.0)] = None
    nucleation_overpotential_bare_mV: Barrier = None
    nucleation_overpotential_philic_mV: Barrier = None
    gate_width_mV: Annotated[float | None, number(low=0.0, high=100.0)] = None

    def kinetics(self) -> Kinetics:
        """The :class:`Kinetics` (SI units) with the keys given."""
        return Kinetics(**{field: getattr(self, key) * factor for key, (field, factor) in KINETICS_KEYS.items()
                           if getattr(self, key) is not None})


# 1 A/cm² and 1000 mAh/cm² are far beyond any Li-metal cell (practical: <= 10 mA/cm², <= 10 mAh/cm²)
SegmentAmount = Annotated[float | None, number(low=0, high=1000.0)]


class SegmentSection(Section):
    """One ``[[protocol.segment]]``: a plate or strip needs its current and capacity, a rest its
    duration."""

    # validate_default: a segment without a kind is refused by the kind's own check
    kind: Annotated[str, choice(("plate", "strip", "rest"), "expected plate, strip or rest")] = Field(
        None, validate_default=True)
    current_mA_cm2: SegmentAmount = None
    capacity_mAh_cm2: SegmentAmount = None
    duration_s: Annotated[float | None, number(low=0, high=1e7)] = None

    @model_validator(mode="after")
    def _required(self):
        keys = ("duration_s",) if self.kind == "rest" else ("current_mA_cm2", "capacity_mAh_cm2")
        for key in keys:
            if getattr(self, key) is None:
                raise refuse("expected a number, got None", key=key)
        return self

    def segment(self) -> Segment:
        if self.kind == "rest":
            return Segment("rest", duration=self.duration_s)
        make = Segment.plate if self.kind == "plate" else Segment.strip
        return make(self.current_mA_cm2, self.capacity_mAh_cm2)


def _segment_tables(value):
    if not isinstance(value, list) or not value or not all(isinstance(s, (dict, SegmentSection)) for s in value):
        raise refuse(f"expected one or more [[protocol.segment]] tables; got {value!r}")
    return value


class ProtocolSection(Section):
    cycles: Annotated[int, number(low=0, integer=True, high=MAX_CYCLES)] = 1
    segment: Annotated[list[SegmentSection], BeforeValidator(_segment_tables)] = Field(
        default_factory=lambda: [SegmentSection(kind="plate", current_mA_cm2=1.0, capacity_mAh_cm2=1.0)])

    def protocol(self) -> Protocol:
        return Protocol(tuple(s.segment() for s in self.segment), self.cycles)


class CellSection(Section):
    top: Annotated[str, choice(("reservoir", "li_counter_electrode"))] = "reservoir"

    def top_boundary(self):
        """The top of the cell (:mod:`hostsim.electrochemistry.cell`)."""
        return Reservoir() if self.top == "reservoir" else LithiumCounterElectrode()


def _devices(value):
    return value if value == "all" else number_check(low=0, integer=True, high=4096)(value)


class Numerics(Section):
    """``[numerics]`` of a run. None: the solver's own default (``AdaptiveNewton``'s cap, the
    face interface)."""

    precision: Annotated[Literal["float32", "float64"], choice(("float32", "float64"))] = "float32"
    interface: Annotated[Literal["face", "centre"] | None, choice(("face", "centre"))] = None
    time_tolerance: Annotated[float, number(low=0, high=MAX_TIME_TOLERANCE)] = DEFAULT_TIME_TOLERANCE
    newton_steps: Annotated[int | None, number(low=0, integer=True, high=100)] = None
    # 5 V is beyond every cutoff (Cu dissolves near 3 V)
    voltage_cutoff_V: Annotated[float, number(low=0, high=5.0)] = DEFAULT_VOLTAGE_CUTOFF
    # "all" or a count: the grid split along z over that many local devices
    devices: Annotated[int | Literal["all"], PlainValidator(_devices)] = 1


class NumericsFile(Numerics):
    """``[numerics]`` as a file gives it: :class:`Numerics` and the keys of the fixed-step scheme,
    which still work with a note (:func:`parse_case`)."""

    fill_per_step: Annotated[float | None, number(low=0, high=0.1)] = None
    rest_steps: Annotated[int | None, number(low=0, integer=True, high=10000)] = None


class Output(Section):
    """``[output]``: what a run writes besides its summary and time series."""

    max_frames: Annotated[int, number(low=1, integer=True)] = 40  # initial and final state at least
    report: Annotated[bool, flag()] = True


def _optional(check):
    """``check`` of a value that may be left out (None)."""
    return PlainValidator(lambda value: None if value is None else check(value))


def _thickness_profile(value):
    """A graded film's thickness per slab layer [nm]: a non-empty list of numbers in [0, 1e5]."""
    if not isinstance(value, list) or not value:
        raise refuse(f"expected a list of thicknesses [nm], one per layer of the host slab, got {value!r}")
    return [number_check(high=1e5, at_least=0)(v) for v in value]


def _pattern_share(path: Path) -> np.ndarray:
    """A coating pattern's shares from its volume file (a missing or unreadable file is refused)."""
    from hostsim.run.io import load_volume

    if not path.is_file():
        raise refuse(f"{path}: no such file")
    try:
        return np.asarray(load_volume(path), np.float64)
    except Exception as e:  # any reader's failure is the user's file, said in one line
        raise refuse(f"{path}: could not read it as a volume ({type(e).__name__}: {e})") from None


class CoatingSection(Section):
    """One ``[[coating]]``: a film of ``thickness_nm`` (or, graded, of ``thickness_profile_nm``, one
    thickness per equal layer of the host slab from the collector up) of a material (or of
    ``conductivity_S_m``) on a surface (:mod:`hostsim.electrochemistry.coating`)."""

    material: Annotated[str | None, choice(tuple(MATERIALS))] = None
    # 0: no film (a sweep's bare member); 100 µm is no thin film
    thickness_nm: Annotated[float | None, _optional(number_check(high=1e5, at_least=0))] = None
    thickness_profile_nm: Annotated[list | None, _optional(_thickness_profile)] = None
    conductivity_S_m: Annotated[float | None, number(low=0, high=1e3)] = None  # overrides the material's
    on: Annotated[str, choice(SURFACES)] = "all"
    # areal strain at which the film on the Li cracks [-]; the material's (coating.MATERIALS), or
    # coating.CRITICAL_STRAIN without one; 1e3 is a film that never cracks
    critical_strain: Annotated[float | None, number(low=0, high=1e3)] = None
    # a patterned film: a volume file (.npy, .npz, .tif, .vti) of the share of thickness_nm per voxel,
    # in [0, 1], of the grid's shape or of its columns' (nx, ny: the same down every column); a
    # relative path is the case file's
    pattern: str | None = None

    @field_validator("pattern", mode="before")
    @classmethod
    def _pattern_file(cls, value, info: ValidationInfo):
        if value is None:
            return None
        if not isinstance(value, str):
            raise refuse(f"expected the path of a volume file, got {value!r}")
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = Path((info.context or {}).get("base", ".")) / path
        share = _pattern_share(path)
        if share.ndim not in (2, 3):
            raise refuse(f"{value}: expected a 2-D (columns) or 3-D (voxels) array, got {share.ndim}-D")
        if not np.all(np.isfinite(share)) or share.min() < 0 or share.max() > 1:
            raise refuse(f"{value}: expected shares of thickness_nm in [0, 1], got values in "
                         f"[{np.nanmin(share):g}, {np.nanmax(share):g}]")
        return str(path.resolve())

    @model_validator(mode="after")
    def _conductivity(self):
        if self.material is None and self.conductivity_S_m is None:
            raise refuse("give material or conductivity_S_m", table=True)
        if (self.thickness_nm is None) == (self.thickness_profile_nm is None):
            raise refuse("give thickness_nm or thickness_profile_nm (one of them)", table=True)
        if self.critical_strain is not None and self.on in ("host", "collector"):
            raise refuse(f"critical_strain: only a film on the Li cracks; this one is on {self.on!r} (give on = 'li' or "
                         f"'all', or no critical_strain)", table=True)
        if self.pattern is not None and self.thickness_profile_nm is not None:
            raise refuse("pattern: a pattern shares out thickness_nm; give it with thickness_nm, not "
                         "thickness_profile_nm", table=True)
        if self.thickness_profile_nm is not None and self.on == "collector":
            raise refuse("thickness_profile_nm: a graded film spans the host slab's layers; on = 'collector' has "
                         "none (give thickness_nm)", table=True)
        return self

    @property
    def present(self) -> bool:
        """Whether the film has any thickness (a sweep's bare member has 0)."""
        return (self.thickness_nm or 0.0) > 0 or any(v > 0 for v in self.thickness_profile_nm or ())

    @property
    def strain(self) -> float:
        """The film's critical areal strain [-] (given, the material's, or the default)."""
        if self.critical_strain is not None:
            return self.critical_strain
        return CRITICAL_STRAIN if self.material is None else MATERIALS[self.material].critical_strain

    def film(self) -> tuple:
        """``(surface, resistance [Ohm m²], critical strain [-])``, the resistance a tuple of one per
        slab layer for a graded film."""
        if self.thickness_profile_nm is not None:
            return self.on, tuple(film_resistance(self.material, v * 1e-9, self.conductivity_S_m)
                                  for v in self.thickness_profile_nm), self.strain
        resistance = film_resistance(self.material, self.thickness_nm * 1e-9, self.conductivity_S_m)
        if self.pattern is not None:  # a field: (nx, ny, 1) broadcasts down the columns
            share = _pattern_share(Path(self.pattern))
            resistance = resistance * (share[:, :, None] if share.ndim == 2 else share)
        return self.on, resistance, self.strain


class SeparatorSection(Section):
    """``[separator]``: a porous layer in the top ``thickness_um`` of the gap, homogenised
    (:mod:`hostsim.electrochemistry.separator`)."""

    # 0: no separator (a sweep's bare member)
    thickness_um: Annotated[float, number(high=1e4, at_least=0)] = Field(None, validate_default=True)
    porosity: Annotated[float, number(low=0, high=1.0)] = DEFAULT_POROSITY
    tortuosity: Annotated[float, number(high=1e3, at_least=1.0)] = DEFAULT_TORTUOSITY
    binding_capacity_mol_m3: Annotated[float, number(high=1e7, at_least=0)] = 0.0  # Langmuir Gamma
    binding_affinity_m3_mol: Annotated[float, number(high=1e3, at_least=0)] = 0.0  # Langmuir K

    def separator(self) -> Separator:
        return Separator(self.thickness_um * 1e-6, self.porosity, self.tortuosity, self.binding_capacity_mol_m3,
                         self.binding_affinity_m3_mol)


class CaseFile(Section):
    """A case file: its sections, in the order they are checked."""

    geometry: dict[str, Any] = Field(default_factory=dict)  # validated by the geometry package
    electrolyte: ElectrolyteSection = Field(default_factory=ElectrolyteSection)
    kinetics: KineticsSection = Field(default_factory=KineticsSection)
    protocol: ProtocolSection = Field(default_factory=ProtocolSection)
    numerics: NumericsFile = Field(default_factory=NumericsFile)
    output: Output = Field(default_factory=Output)
    cell: CellSection = Field(default_factory=CellSection)
    coating: list[CoatingSection] = Field(default_factory=list)
    separator: SeparatorSection | None = None


@dataclasses.dataclass
class Case:
    source: str
    geometry: dict
    electrolyte: object
    kinetics: Kinetics
    protocol: Protocol
    numerics: Numerics
    output: Output
    top: object = None  # hostsim.electrochemistry.cell.Reservoir or LithiumCounterElectrode
    sei_charge_density: float = Q_SEI  # [C/m²] (hostsim.electrochemistry.plating.PlatingSystem)
    notes: list = dataclasses.field(default_factory=list)  # one line per deprecated key that still worked
    separator: Separator | None = None  # hostsim.electrochemistry.separator
    coatings: list = dataclasses.field(default_factory=list)  # the [[coating]] sections with a film (their films are in kinetics)


def case_directory(source) -> Path:
    """Where a case's relative paths start: its file's directory, else the working directory."""
    path = Path(source)
    return path.parent if path.suffix == ".toml" else Path(".")


def parse_case(data: dict, source: str = "case", base: Path | None = None) -> Case:
    """The :class:`Case` of a case file's data; a bad key or value is one :class:`InputError` line.
    ``base``: where its relative paths start (default: ``source``'s directory if it names a
    ``.toml`` file, else the working directory)."""
    try:
        file = CaseFile.model_validate(data, context={"base": base if base is not None else case_directory(source)})
    except ValidationError as e:
        raise input_error(e, CaseFile, "case") from None
    numerics, notes = _current_numerics(file.numerics, source)
    electrolyte, kinetics = file.electrolyte.electrolyte(), file.kinetics.kinetics()
    films = [c.film() for c in file.coating if c.present]
    if films:
        try:
            kinetics = dataclasses.replace(kinetics, films=films_of(films))
        except ValueError as e:  # patterns or profiles on one surface that do not add up
            raise InputError(f"{source} [coating]: {e}") from None
    if file.electrolyte.additive is not None and file.electrolyte.additive.concentration_mol_L > 0:
        shield = file.electrolyte.additive.shield(electrolyte.concentration)
        kinetics = dataclasses.replace(kinetics, shield=shield)
        if not bool(shield.active()):
            notes.append(f"{source}: [electrolyte.additive] {shield.cation} at {shield.concentration / MOLAR:g} mol/L "
                         f"would be reduced and does not shield: its reduction potential "
                         f"{float(shield.reduction_potential()):.3f} V vs SHE is not below Li's "
                         f"{float(shield.li_potential()):.3f} V")
    return Case(source, dict(file.geometry), electrolyte, kinetics, file.protocol.protocol(), numerics, file.output,
                file.cell.top_boundary(), file.kinetics.sei_charge_C_m2, notes,
                None if file.separator is None or file.separator.thickness_um == 0 else file.separator.separator(),
                [c for c in file.coating if c.present])


def _current_numerics(numerics: NumericsFile, source: str) -> tuple:
    """:class:`Numerics` of the file's section and one note per key of the fixed-step scheme (also
    a ``FutureWarning``)."""
    given = numerics.model_fields_set & set(Numerics.model_fields)
    values = {key: getattr(numerics, key) for key in Numerics.model_fields}
    notes = []
    if numerics.fill_per_step is not None:
        fill = numerics.fill_per_step
        if "time_tolerance" in given:
            notes.append(f"{source}: [numerics] fill_per_step is deprecated and ignored next to time_tolerance")
        else:
            values["time_tolerance"] = tolerance_for_fill(fill)
            given.add("time_tolerance")
            notes.append(f"{source}: [numerics] fill_per_step is deprecated (steps adapt now); {fill:g} sets "
                         f"time_tolerance = {values['time_tolerance']:.3g}")
    if numerics.rest_steps is not None:
        notes.append(f"{source}: [numerics] rest_steps is deprecated and ignored (a rest adapts its steps)")
    for note in notes:
        warnings.warn(note, FutureWarning, stacklevel=3)
    return Numerics.model_construct(given, **values), notes


def read_toml(path, what: str = "case") -> dict:
    """The table of a TOML file; a missing or malformed file is one :class:`InputError` line."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid TOML: {e}") from None


def load_case(path) -> Case:
    return parse_case(read_toml(path, "case"), str(path))
