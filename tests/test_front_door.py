"""The Python front door: ``hostsim.simulate(host, case)`` runs the command's path and returns
the run read back from its folder, the same object ``hostsim.load_run`` gives."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import hostsim as hs
from hostsim.run.api import as_case


def _foil(n=4, nz=24, voxel=0.5e-6):
    """A bare Cu foil: one collector layer under electrolyte, float32."""
    grid = hs.Grid.create((n, n, nz), voxel_size=voxel, lateral="periodic", precision="float32")
    s = np.zeros(grid.shape)
    s[:, :, 0] = 1.0
    zero = np.zeros(grid.shape)
    fields = [jnp.asarray(x, grid.dtype) for x in (s, s, zero, zero)]
    return hs.Host(*fields, grid, collector_layers=1, host_top=1, family="foil")


def test_simulate_a_host_and_read_the_run_back(tmp_path):
    case = tmp_path / "plate.toml"
    case.write_text('[[protocol.segment]]\nkind = "plate"\ncurrent_mA_cm2 = 1.0\ncapacity_mAh_cm2 = 0.02\n')
    run = hs.simulate(_foil(), case, out=tmp_path / "run", name="foil")
    assert (tmp_path / "run" / "case.toml").read_text() == case.read_text()  # stored, as the command does
    assert run.summary["plated_mAh_cm2"] == pytest.approx(0.02, rel=1e-6)  # every coulomb asked
    assert run.summary["message"] == "completed"
    t = run.series["time_s"]
    assert t[-1] == pytest.approx(0.02 * 3600.0, rel=1e-6) and np.all(np.diff(t) >= 0)
    theta = run.final_fields()["li_fraction"]
    assert theta.shape == (4, 4, 24) and 0.0 < float(np.sum(theta)) < 16.0
    again = hs.load_run(tmp_path / "run")["foil"]
    assert again.summary == run.summary and (tmp_path / "run" / "summary.json").exists()


def test_a_case_from_a_file_a_protocol_or_the_default(tmp_path):
    path = tmp_path / "case.toml"
    path.write_text('[electrolyte]\nname = "lp30"\n[[protocol.segment]]\nkind = "plate"\n'
                    'current_mA_cm2 = 2.0\ncapacity_mAh_cm2 = 0.1\n')
    from_file = as_case(path)
    assert from_file.protocol.segments[0].current_density == pytest.approx(20.0)  # 2 mA/cm² in A/m²
    assert hs.load_case(path).protocol == from_file.protocol
    protocol = hs.Protocol((hs.Segment.strip(1.0, 0.1),), cycles=2)
    assert as_case(protocol).protocol == protocol and as_case(None).protocol.segments[0].kind == "plate"


def test_a_host_that_is_not_one_is_refused_in_one_line():
    with pytest.raises(hs.InputError, match="simulate: host: expected a hostsim.Host"):
        hs.simulate(object())
    with pytest.raises(hs.InputError, match="simulate: case: expected a Case"):
        hs.simulate(_foil(), case=42)


def test_a_resume_needs_its_folder_and_the_precisions_must_agree():
    import dataclasses

    from hostsim.run.case import Numerics

    with pytest.raises(hs.InputError, match="resume=True needs out="):
        hs.simulate(_foil(), resume=True)
    case = dataclasses.replace(as_case(None), numerics=Numerics(precision="float64"))
    with pytest.raises(hs.InputError, match="precision = 'float64', but the host's fields are float32"):
        hs.simulate(_foil(), case)
