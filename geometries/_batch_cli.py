"""A batch member's ``[geometry]`` check for :func:`hostsim.run.batch.parse_sweep`.

Geometry logic, so it lives with the hosts; the ``hostsim batch`` command itself is
:mod:`hostsim.cli.batch`, which hands this check to the sweep parser.
"""

from __future__ import annotations

from pathlib import Path

from hostsim.errors import InputError


def validate_host(case) -> None:
    """A member's ``[geometry]`` checked without building fields (the family's parameter checks;
    an imported volume's file exists)."""
    from ._case import geometry_host

    if not case.geometry:
        return
    if "file" in case.geometry:
        if not Path(case.geometry["file"]).is_file():
            raise InputError(f"[geometry] file: {case.geometry['file']}: no such file")
        return
    geometry_host(case.geometry, case.numerics.precision)
