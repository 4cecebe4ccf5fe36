"""Case files (TOML): electrolyte, kinetics, protocol, numerics and output of a run, validated
key by key (the geometry section is validated by the geometry package that builds it).

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
    newton_steps = 25               # cap on Newton iterations per step (it stops earlier on its tolerances)
    devices = 1                     # "all" or N: split the grid along z over N local devices (a host too large for one)

    [output]
    max_frames = 40                 # field snapshots (.vti + .pvd) per host, initial and final included
    report = true                   # plots, renders and report.html after the run

Every unknown key is an error naming the section and the allowed keys. Keys of earlier versions
that still work give one note each (:attr:`Case.notes`): ``[numerics] fill_per_step`` (the charge
per step of fixed steps) sets ``time_tolerance``, ``[numerics] rest_steps`` is ignored (rests
adapt their steps like every segment).
"""

from __future__ import annotations

import dataclasses
import tomllib
import warnings
from pathlib import Path

from hostsim.electrochemistry.cell import LithiumCounterElectrode, Reservoir
from hostsim.electrochemistry.electrolyte import ELECTROLYTES, get_electrolyte
from hostsim.errors import InputError
from hostsim.electrochemistry.kinetics import Kinetics
from hostsim.electrochemistry.metrics import Q_SEI
from hostsim.run.protocol import DEFAULT_TIME_TOLERANCE, Protocol, Segment

SECTIONS = ("geometry", "electrolyte", "kinetics", "protocol", "cell", "numerics", "output")
TOPS = ("reservoir", "li_counter_electrode")
KINETICS_KEYS = {
    "exchange_current_density_mA_cm2": ("exchange_current_density", 10.0),  # mA/cm² -> A/m²
    "alpha_a": ("alpha_a", 1.0), "alpha_c": ("alpha_c", 1.0),
    "nucleation_overpotential_bare_mV": ("nucleation_overpotential_bare", 1e-3),
    "nucleation_overpotential_philic_mV": ("nucleation_overpotential_philic", 1e-3),
    "gate_width_mV": ("gate_width", 1e-3),
}
# (exclusive low, inclusive high) per kinetics key: transfer coefficients of a one-electron step in
# (0, 1]; i0 beyond 1 A/cm² and barriers beyond 0.5 V are outside every value reported for Li
KINETICS_RANGES = {
    "exchange_current_density_mA_cm2": (0.0, 1000.0), "alpha_a": (0.0, 1.0), "alpha_c": (0.0, 1.0),
    "nucleation_overpotential_bare_mV": (None, 500.0), "nucleation_overpotential_philic_mV": (None, 500.0),
    "gate_width_mV": (0.0, 100.0),
}
MAX_CYCLES = 10000
# (exclusive low, inclusive high) of the numbers in [numerics]: a tolerance of 0.5 lets a step misplace
# half a voxel of Li (far past any accuracy); 1000 V is beyond every cutoff
NUMERICS_HIGH = {"time_tolerance": 0.5, "fill_per_step": 0.1, "newton_steps": 100, "rest_steps": 10000,
                 "voltage_cutoff_V": 5.0}
NUMERICS_KEYS = {"precision": ("float32", "float64"), "interface": ("face", "centre"), "time_tolerance": float,
                 "fill_per_step": float, "newton_steps": int, "voltage_cutoff_V": float, "rest_steps": int,
                 "devices": "devices"}
OLD_FILL_PER_STEP = 0.05  # the default of the fixed-step scheme's fill_per_step (maps to DEFAULT_TIME_TOLERANCE)


def tolerance_for_fill(fill_per_step: float) -> float:
    """The ``time_tolerance`` an old case's ``fill_per_step`` asks for: the default fill maps to the
    default tolerance, and the tolerance scales as the fill squared (the adaptive steps' count goes
    as ``tolerance^-1/2``, the fixed steps' as ``1 / fill``), within the accepted range."""
    return min(DEFAULT_TIME_TOLERANCE * (fill_per_step / OLD_FILL_PER_STEP) ** 2, NUMERICS_HIGH["time_tolerance"])


@dataclasses.dataclass
class Case:
    source: str
    geometry: dict
    electrolyte: object
    kinetics: Kinetics
    protocol: Protocol
    numerics: dict
    output: dict
    top: object = None  # hostsim.electrochemistry.cell.Reservoir or LithiumCounterElectrode
    sei_charge_density: float = Q_SEI  # [C/m²] (hostsim.electrochemistry.plating.PlatingSystem)
    notes: list = dataclasses.field(default_factory=list)  # one line per deprecated key that still worked


def _unknown(section, keys, allowed):
    bad = sorted(set(keys) - set(allowed))
    if bad:
        raise InputError(f"case [{section}]: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(allowed))}")


def _number(section, key, value, low=None, integer=False, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"case [{section}] {key}: expected a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"case [{section}] {key}: expected a finite number, got {value!r}")
    if high is not None and value > high:
        raise InputError(f"case [{section}] {key}: must be <= {high:g}, got {value!r}")
    if integer and int(value) != value:
        raise InputError(f"case [{section}] {key}: expected an integer, got {value!r}")
    if low is not None and not value > low:
        raise InputError(f"case [{section}] {key}: must be > {low}, got {value!r}")
    return int(value) if integer else float(value)


def _kinetics_number(key, value):
    low, high = KINETICS_RANGES[key]
    v = _number("kinetics", key, value, low=low, high=high)
    if low is None and v < 0:  # the nucleation barriers: >= 0
        raise InputError(f"case [kinetics] {key}: must be >= 0, got {value!r}")
    return v


def parse_case(data: dict, source: str = "case") -> Case:
    _unknown("top level", data.keys(), SECTIONS)
    for section in SECTIONS:
        if section in data and not isinstance(data[section], dict):
            raise InputError(f"case [{section}]: expected a table ([{section}] with keys); got {data[section]!r}")
    geometry = dict(data.get("geometry", {}))
    el = dict(data.get("electrolyte", {}))
    name = el.pop("name", "lp30")
    if name not in ELECTROLYTES:
        raise InputError(f"case [electrolyte] name: unknown set {name!r}; allowed: {', '.join(ELECTROLYTES)}")
    electrolyte = get_electrolyte(name, **el)
    kin = dict(data.get("kinetics", {}))
    sei = Q_SEI
    if "sei_charge_C_m2" in kin:
        sei = _number("kinetics", "sei_charge_C_m2", kin.pop("sei_charge_C_m2"), high=1e4)
        if sei < 0:
            raise InputError(f"case [kinetics] sei_charge_C_m2: must be >= 0, got {sei!r}")
    _unknown("kinetics", kin.keys(), list(KINETICS_KEYS) + ["sei_charge_C_m2"])
    kinetics = Kinetics(**{KINETICS_KEYS[k][0]: _kinetics_number(k, v) * KINETICS_KEYS[k][1]
                           for k, v in kin.items()})
    proto = dict(data.get("protocol", {}))
    segments_raw = proto.pop("segment", [{"kind": "plate", "current_mA_cm2": 1.0, "capacity_mAh_cm2": 1.0}])
    cycles = _number("protocol", "cycles", proto.pop("cycles", 1), low=0, integer=True, high=MAX_CYCLES)
    if not isinstance(segments_raw, list) or not segments_raw or not all(isinstance(s, dict) for s in segments_raw):
        raise InputError(f"case [protocol] segment: expected one or more [[protocol.segment]] tables; got "
                         f"{segments_raw!r}")
    _unknown("protocol", proto.keys(), ("segment", "cycles"))
    segments = []
    for n, seg in enumerate(segments_raw, 1):
        seg = dict(seg)
        where = f"protocol.segment {n}"
        _unknown(where, seg.keys(), ("kind", "current_mA_cm2", "capacity_mAh_cm2", "duration_s"))
        kind = seg.get("kind")
        if kind not in ("plate", "strip", "rest"):
            raise InputError(f"case [{where}] kind: expected plate, strip or rest; got {kind!r}")
        if kind == "rest":
            segments.append(Segment("rest", duration=_number(where, "duration_s", seg.get("duration_s"), low=0,
                                                             high=1e7)))
        else:
            # 1 A/cm² and 1000 mAh/cm² are far beyond any Li-metal cell (practical: <= 10 mA/cm², <= 10 mAh/cm²)
            j = _number(where, "current_mA_cm2", seg.get("current_mA_cm2"), low=0, high=1000.0)
            q = _number(where, "capacity_mAh_cm2", seg.get("capacity_mAh_cm2"), low=0, high=1000.0)
            segments.append(Segment.plate(j, q) if kind == "plate" else Segment.strip(j, q))
    numerics = dict(data.get("numerics", {}))
    _unknown("numerics", numerics.keys(), NUMERICS_KEYS)
    for key, kind in NUMERICS_KEYS.items():
        if key in numerics:
            if kind == "devices":  # "all" or a count: the grid split along z over that many local devices
                if numerics[key] != "all":
                    numerics[key] = _number("numerics", key, numerics[key], low=0, integer=True, high=4096)
                    if numerics[key] < 1:
                        raise InputError(f"case [numerics] devices: expected \"all\" or a count >= 1; got {numerics[key]}")
            elif isinstance(kind, tuple):
                if numerics[key] not in kind:
                    raise InputError(f"case [numerics] {key}: expected one of {', '.join(kind)}; got {numerics[key]!r}")
            else:
                numerics[key] = _number("numerics", key, numerics[key], low=0, integer=kind is int,
                                        high=NUMERICS_HIGH.get(key))
    notes = _deprecated_numerics(numerics, source)
    output = dict(data.get("output", {}))
    _unknown("output", output.keys(), ("max_frames", "report"))
    if "max_frames" in output:
        output["max_frames"] = _number("output", "max_frames", output["max_frames"], low=1, integer=True)
        if output["max_frames"] < 2:
            raise InputError(f"case [output] max_frames: expected >= 2 (initial and final state); got {output['max_frames']}")
    if "report" in output and not isinstance(output["report"], bool):
        raise InputError(f"case [output] report: expected true or false; got {output['report']!r}")
    cell = dict(data.get("cell", {}))
    _unknown("cell", cell.keys(), ("top",))
    top_name = cell.get("top", "reservoir")
    if top_name not in TOPS:
        raise InputError(f"case [cell] top: expected one of {', '.join(TOPS)}; got {top_name!r}")
    top = Reservoir() if top_name == "reservoir" else LithiumCounterElectrode()
    return Case(source, geometry, electrolyte, kinetics, Protocol(tuple(segments), cycles), numerics, output, top, sei,
                notes)


def _deprecated_numerics(numerics: dict, source: str) -> list:
    """Keys of the fixed-step scheme that still work: one note each (also a ``FutureWarning``)."""
    notes = []
    if "fill_per_step" in numerics:
        fill = numerics.pop("fill_per_step")
        if "time_tolerance" in numerics:
            notes.append(f"{source}: [numerics] fill_per_step is deprecated and ignored next to time_tolerance")
        else:
            numerics["time_tolerance"] = tolerance_for_fill(fill)
            notes.append(f"{source}: [numerics] fill_per_step is deprecated (steps adapt now); {fill:g} sets "
                         f"time_tolerance = {numerics['time_tolerance']:.3g}")
    if "rest_steps" in numerics:
        numerics.pop("rest_steps")
        notes.append(f"{source}: [numerics] rest_steps is deprecated and ignored (a rest adapts its steps)")
    for note in notes:
        warnings.warn(note, FutureWarning, stacklevel=3)
    return notes


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
