"""The example notebooks in examples/ run end to end (nbclient, the venv's ``python3`` kernel, a
temporary working folder) and print physically sensible numbers. Slow (a few minutes on a laptop
CPU): ``pytest -m slow tests/test_notebooks.py``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REPO = EXAMPLES.parent


def _execute(name: str, tmp_path: Path):
    """Execute ``examples/NAME`` with cwd ``tmp_path``; return the notebook with its outputs."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), "TMPDIR": str(tmp_path)}
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)  # env: passed on to the kernel process
    return nb


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _result(nb) -> dict:
    lines = [line for line in _stdout(nb).splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, "each notebook prints one RESULT line"
    return json.loads(lines[0][len("RESULT "):])


def _kernel_imports_this_checkout(nb):
    assert f"hostsim from {REPO / 'hostsim'}" in _stdout(nb)


@pytest.mark.slow
def test_transport_notebook_reads_the_stack_and_is_more_tortuous_than_bruggeman(tmp_path):
    nb = _execute("transport_of_an_imported_volume.ipynb", tmp_path)
    _kernel_imports_this_checkout(nb)
    r = _result(nb)
    assert set(r["axes"]) == {"x", "y", "z"}
    for row in r["axes"].values():
        assert row["porosity"] == pytest.approx(0.5, abs=0.01)
        assert 0.05 < row["D_eff_over_D"] < row["porosity"]  # below the straight-pore bound ε
        assert row["tortuosity_factor"] == pytest.approx(row["porosity"] / row["D_eff_over_D"], rel=1e-6)
        assert row["D_eff_over_D"] < row["bruggeman_D_eff_over_D"]  # a random blob medium: worse than ε^1.5
    assert 1.5 < r["mean_fitted_bruggeman_exponent"] < 3.5
    assert not list(REPO.glob("examples/*.tif"))  # nothing written into the repository


@pytest.mark.slow
def test_plating_notebook_plates_the_charge_and_shows_a_3d_view(tmp_path):
    nb = _execute("plate_a_host_and_look_in_3d.ipynb", tmp_path)
    _kernel_imports_this_checkout(nb)
    r = _result(nb)
    assert r["message"] == "completed" and r["plated_mAh_cm2"] == pytest.approx(0.05, rel=1e-4)
    assert -500.0 < r["voltage_mV"] < -1.0  # plating: a negative cell voltage of some mV
    assert r["frames"] >= 2
    kinds = {k for c in nb.cells if c.cell_type == "code" for o in c.outputs for k in o.get("data", {})}
    assert "image/png" in kinds  # the voltage plot
    assert "application/vnd.plotly.v1+json" in kinds  # the interactive 3D view


@pytest.mark.slow
def test_design_notebook_lowers_the_objective_and_gives_a_verdict(tmp_path):
    nb = _execute("a_small_design_study.ipynb", tmp_path)
    _kernel_imports_this_checkout(nb)
    r = _result(nb)
    assert r["verdict"] in ("converged", "stalled", "budget exhausted")
    objective = r["objective"]
    assert len(objective) == 3 and r["iterations"] == 4  # one more frame than log rows (docs/outputs.md)
    assert objective[-1] < objective[0]  # the descent lowers the objective


def test_example_notebooks_are_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    names = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))
    assert names == ["a_small_design_study.ipynb", "plate_a_host_and_look_in_3d.ipynb",
                     "transport_of_an_imported_volume.ipynb"]
    for name in names:
        nb = nbformat.read(EXAMPLES / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name
