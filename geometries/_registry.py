"""The family table and :func:`build`: construct, validate, build the fields, report."""

from __future__ import annotations

import dataclasses
import time
import warnings as _warnings

import numpy as np

from hostsim import InputError

from ._host import DOMAIN_PARAMETERS, HostFamily, HostFields, Parameter
from .capsules import SeededCapsules
from .cu_skeleton import CuSkeleton
from .dealloyed import DealloyedCu
from .fibre_scaffold import CoatedFibreScaffold
from .foil import PlanarFoil
from .graded import GradedHost
from .hollow_spheres import HollowSphereLayer
from .membrane import DefectiveMembrane
from .nanowires import CuNanowires
from .report import HostReport, host_report
from .rgo import LayeredRGO

FAMILIES: dict[str, type[HostFamily]] = {
    cls.name: cls
    for cls in (PlanarFoil, CuSkeleton, CuNanowires, DealloyedCu, LayeredRGO, CoatedFibreScaffold, SeededCapsules, GradedHost,
                HollowSphereLayer, DefectiveMembrane)
}


@dataclasses.dataclass
class Host:
    """A built host: the family (its parameters), the voxel fields and the report."""

    family: HostFamily | None
    fields: HostFields
    report: HostReport
    seconds: float = 0.0

    def save(self, path) -> None:
        """Write the fields (and the parameters and report as metadata) to a ``.vti``."""
        from .importers import save_host_vti

        meta = {"report": self.report.to_dict()}
        if self.family is not None:
            meta["parameters"] = self.family.parameters()
        save_host_vti(path, self.fields, metadata=meta)


def family_class(name: str) -> type[HostFamily]:
    try:
        return FAMILIES[name]
    except KeyError:
        raise InputError(f"unknown host family {name!r}; known: {', '.join(FAMILIES)} (or 'imported')") from None


def family_parameters(name: str) -> list[tuple[Parameter, object]]:
    """(parameter, default) of a family: its own parameters first, then the box."""
    cls = family_class(name)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    table = [p for p in cls.PARAMETERS] + [p for p in DOMAIN_PARAMETERS if p.name in defaults]
    return [(p, defaults.get(p.name)) for p in table]


def make_family(name: str, **params) -> HostFamily:
    """Construct (and validate) a family from keyword parameters; unknown names are an error."""
    cls = family_class(name)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(params) - known)
    if unknown:
        allowed = ", ".join(p.name for p, _ in family_parameters(name))
        raise InputError(f"{name}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}")
    # a string or a boolean where a number belongs is one line here, not a converter's traceback
    table = {p.name: p for p, _ in family_parameters(name)}
    for key, value in params.items():
        p = table.get(key)
        numeric = p is not None and not p.choices
        if numeric and (isinstance(value, (str, bytes, bool)) or not isinstance(value, (int, float, np.number, np.ndarray)) and
                        not hasattr(value, "dtype")):
            unit = f" [{p.unit}]" if p.unit not in ("", "-") else ""
            raise InputError(f"{name}: {key} must be a number{unit}; got {value!r}")
    return cls(**params)


def build(name: str | HostFamily, **params) -> Host:
    """Build a host by family name (``build("cu_skeleton", porosity=0.7)``) or from a family
    instance, and compute its report (warnings are also issued as Python warnings)."""
    family = name if isinstance(name, HostFamily) else make_family(name, **params)
    start = time.perf_counter()
    fields = family.fields()
    fields.s.block_until_ready()
    report = host_report(fields)
    for w in report.warnings:
        _warnings.warn(f"{family.name}: {w}", stacklevel=2)
    return Host(family=family, fields=fields, report=report, seconds=time.perf_counter() - start)


def describe_families() -> str:
    """Text for ``hostsim geometry --list``: every family, its parameters, units, defaults, sources."""
    out = []
    for name, cls in FAMILIES.items():
        out.append(f"{name}: {cls.title}")
        out.append(f"    source: {cls.source}")
        for p, default in family_parameters(name):
            flag = "--" + p.name.replace("_um", "").replace("_", "-") if p.name.endswith("_um") else "--" + p.name.replace("_", "-")
            unit = "" if p.unit in ("", "-") else f" [{p.unit}]"
            choice = f" (one of {', '.join(map(str, p.choices))})" if p.choices else ""
            src = f"  <{p.source}>" if p.source else ""
            out.append(f"    {flag:<26} default {default!s:<10}{unit} {p.doc}{choice}{src}")
        out.append("")
    out.append("imported: a voxel stack (.tif/.tiff/.npy/.npz/.vti) or a surface mesh (any meshio format)")
    out.append("    --file PATH  --voxel-size [µm]  --labels 0=electrolyte,1=cu,...  --collector  --pad-top [µm]")
    from .materials import MATERIALS

    out.append("    materials: " + ", ".join(MATERIALS))
    return "\n".join(out)
