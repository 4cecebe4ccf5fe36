"""The ``hostsim`` command is one package, ``hostsim.cli``, that registers every subcommand itself:
nothing is discovered through entry points, so a stale install cannot drop a subcommand and a
broken import fails the command instead of shrinking ``--help`` to a warning."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hostsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEVEN = ["transport", "geometry", "simulate", "design", "batch", "render", "report"]


def _listed(help_text: str) -> list[str]:
    """The subcommands in argparse's ``{a,b,...}`` choice list of the usage line."""
    match = re.search(r"\{([a-z,]+)\}", help_text)
    assert match, help_text
    return match.group(1).split(",")


def test_help_lists_exactly_the_seven_subcommands(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out, err = capsys.readouterr()
    assert _listed(out) == SEVEN
    assert "hostsim: warning" not in err


def test_python_m_hostsim_cli_is_the_command():
    assert (ROOT / "hostsim" / "cli" / "__main__.py").is_file()
    proc = subprocess.run([sys.executable, "-m", "hostsim.cli", "--help"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert _listed(proc.stdout) == SEVEN


def test_no_entry_point_group_registers_subcommands():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "hostsim.cli" not in project.get("entry-points", {})
    assert project["scripts"]["hostsim"] == "hostsim.cli:main"
    for path in sorted((ROOT / "hostsim" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "entry_points" not in names and "importlib.metadata" not in modules, path


def test_a_broken_subcommand_module_fails_loudly():
    # None in sys.modules makes that import raise, as a module with a broken import would
    code = "import sys; sys.modules['hostsim.cli.geometry'] = None; import hostsim.cli"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in proc.stderr and "hostsim: warning" not in proc.stderr


def test_a_broken_upper_layer_fails_its_subcommand_loudly(monkeypatch):
    monkeypatch.setitem(sys.modules, "geometries", None)
    with pytest.raises(ImportError):
        main(["geometry", "--list"])
