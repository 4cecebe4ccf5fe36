"""Every case, sweep and study file the repository ships (examples/, scripts/studies/) parses as
what it is, and its geometry is a valid family: a file a user copies does not start with an error."""

from __future__ import annotations

from pathlib import Path

import pytest

import geometries as geo
from hostsim.run.batch import parse_sweep
from hostsim.run.case import parse_case, read_toml
from inverse.study import parse_study

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "examples").glob("*.toml")) + sorted((REPO / "scripts" / "studies").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.relative_to(REPO).as_posix() for p in SHIPPED])
def test_a_shipped_file_parses(path):
    data = read_toml(path, "case")
    if "sweep" in data:
        cases = [member.case for member in parse_sweep(data, str(path)).members]
    elif "design" in data or "optimizer" in data:
        cases = [parse_study(data, str(path)).case]
    else:
        cases = [parse_case(data, str(path))]
    assert cases
    for case in cases:
        params = dict(case.geometry)
        geo.make_family(params.pop("family"), **params)
