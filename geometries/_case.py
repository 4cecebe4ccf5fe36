"""Hosts of a case: the ``[geometry]`` section of a case file turned into hosts (a family or an
imported volume), and the built-in default pair. The run pipeline (:mod:`hostsim.run.pipeline`) takes the
hosts from here, so ``hostsim simulate``, the design loop and batch runs resolve a case alike."""

from __future__ import annotations

from pathlib import Path

from hostsim import InputError


def default_hosts():
    """The built-in default: a planar Cu foil and a 3D Cu skeleton (0.5 µm fibres, porosity 0.8,
    5 µm thick, 4 µm box at 0.125 µm voxels), as ``(name, family)`` pairs."""
    from .cu_skeleton import CuSkeleton
    from .foil import PlanarFoil

    hosts = [PlanarFoil(width_um=1.0, height_um=10.0, voxel_size_um=0.25),
             CuSkeleton(width_um=4.0, height_um=10.0, thickness_um=5.0, voxel_size_um=0.125, fibre_diameter_um=0.5)]
    return [(fam.name, fam) for fam in hosts]


def geometry_host(geometry: dict, precision: str = "float32"):
    """``(name, host)`` from a case's ``[geometry]`` table: ``family`` and its parameters (a
    family module, whose ``fields()`` builds the host), or ``file`` with ``voxel_size_um`` (and
    optional ``labels``) for an imported volume (its fields)."""
    from ._registry import FAMILIES, make_family
    from .importers import import_volume

    g = dict(geometry)
    if "file" in g:
        path = g.pop("file")
        voxel = g.pop("voxel_size_um", None)
        if voxel is None:
            raise InputError("case [geometry]: an imported volume needs voxel_size_um")
        labels = g.pop("labels", None)
        fields = import_volume(path, voxel, labels={int(k): v for k, v in labels.items()} if labels else None,
                               precision=precision, **g)
        return Path(path).stem, fields
    family = g.pop("family", None)
    if family is None:
        raise InputError(f"case [geometry]: give family (one of {', '.join(FAMILIES)}) or file")
    g.setdefault("precision", precision)
    fam = make_family(family, **g)
    return fam.name, fam


def case_hosts(case, *, default_when_empty: bool = True):
    """The hosts a case runs on, as ``(name, host)`` pairs: its ``[geometry]``, or the built-in
    default pair when it has none."""
    if not case.geometry:
        if not default_when_empty:
            raise InputError("case: no [geometry] section")
        return default_hosts()
    return [geometry_host(case.geometry, case.numerics.precision)]
