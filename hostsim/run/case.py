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
    fill_per_step = 0.05
    newton_steps = 25               # cap on Newton iterations per step (it stops earlier on its tolerances)

    [output]
    max_frames = 40                 # field snapshots (.vti + .pvd) per host, initial and final included
    report = true                   # plots, renders and report.html after the run

Every unknown key is an error naming the section and the allowed keys.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from hostsim.electrochemistry.cell import LithiumCounterElectrode, Reservoir
from hostsim.electrochemistry.electrolyte import ELECTROLYTES, get_electrolyte
from hostsim.errors import InputError
from hostsim.electrochemistry.kinetics import Kinetics
from hostsim.run.protocol import Protocol, Segment

SECTIONS = ("geometry", "electrolyte", "kinetics", "protocol", "cell", "numerics", "output")
TOPS = ("reservoir", "li_counter_electrode")
KINETICS_KEYS = {
    "exchange_current_density_mA_cm2": ("exchange_current_density", 10.0),  # mA/cm² -> A/m²
    "alpha_a": ("alpha_a", 1.0), "alpha_c": ("alpha_c", 1.0),
    "nucleation_overpotential_bare_mV": ("nucleation_overpotential_bare", 1e-3),
    "nucleation_overpotential_philic_mV": ("nucleation_overpotential_philic", 1e-3),
    "gate_width_mV": ("gate_width", 1e-3),
}
NUMERICS_KEYS = {"precision": ("float32", "float64"), "fill_per_step": float, "newton_steps": int,
                 "voltage_cutoff_V": float, "rest_steps": int}


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


def _unknown(section, keys, allowed):
    bad = sorted(set(keys) - set(allowed))
    if bad:
        raise InputError(f"case [{section}]: unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(allowed))}")


def _number(section, key, value, low=None, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"case [{section}] {key}: expected a number, got {value!r}")
    if integer and int(value) != value:
        raise InputError(f"case [{section}] {key}: expected an integer, got {value!r}")
    if low is not None and not value > low:
        raise InputError(f"case [{section}] {key}: must be > {low}, got {value!r}")
    return int(value) if integer else float(value)


def parse_case(data: dict, source: str = "case") -> Case:
    _unknown("top level", data.keys(), SECTIONS)
    geometry = dict(data.get("geometry", {}))
    el = dict(data.get("electrolyte", {}))
    name = el.pop("name", "lp30")
    if name not in ELECTROLYTES:
        raise InputError(f"case [electrolyte] name: unknown set {name!r}; allowed: {', '.join(ELECTROLYTES)}")
    electrolyte = get_electrolyte(name, **el)
    kin = dict(data.get("kinetics", {}))
    _unknown("kinetics", kin.keys(), KINETICS_KEYS)
    kinetics = Kinetics(**{KINETICS_KEYS[k][0]: _number("kinetics", k, v, low=None) * KINETICS_KEYS[k][1]
                           for k, v in kin.items()})
    if not kinetics.exchange_current_density > 0:
        raise InputError("case [kinetics] exchange_current_density_mA_cm2: must be > 0")
    proto = dict(data.get("protocol", {}))
    segments_raw = proto.pop("segment", [{"kind": "plate", "current_mA_cm2": 1.0, "capacity_mAh_cm2": 1.0}])
    cycles = _number("protocol", "cycles", proto.pop("cycles", 1), low=0, integer=True)
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
            segments.append(Segment("rest", duration=_number(where, "duration_s", seg.get("duration_s"), low=0)))
        else:
            j = _number(where, "current_mA_cm2", seg.get("current_mA_cm2"), low=0)
            q = _number(where, "capacity_mAh_cm2", seg.get("capacity_mAh_cm2"), low=0)
            segments.append(Segment.plate(j, q) if kind == "plate" else Segment.strip(j, q))
    numerics = dict(data.get("numerics", {}))
    _unknown("numerics", numerics.keys(), NUMERICS_KEYS)
    for key, kind in NUMERICS_KEYS.items():
        if key in numerics:
            if isinstance(kind, tuple):
                if numerics[key] not in kind:
                    raise InputError(f"case [numerics] {key}: expected one of {', '.join(kind)}; got {numerics[key]!r}")
            else:
                numerics[key] = _number("numerics", key, numerics[key], low=0, integer=kind is int)
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
    return Case(source, geometry, electrolyte, kinetics, Protocol(tuple(segments), cycles), numerics, output, top)


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
