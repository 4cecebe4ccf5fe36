"""Import layering, read from the source with ``ast`` (nothing is imported, so a cycle or a slow
import cannot hide a violation, and the check takes well under a second).

* ``inverse -> geometries -> hostsim``: the engine never imports geometries or inverse, and
  geometries never imports inverse;
* ``hostsim.cli`` is the application on top of all three: it is the only engine package that may
  import geometries and inverse, and only inside functions, so importing the engine never pulls
  them in; geometries and inverse never import the CLI;
* inside the engine, the floors ``cli -> pictures -> run -> {electrochemistry, transport} ->
  numerics``: a module imports its own subpackage or lower floors only (electrochemistry and
  transport share a floor and do not import each other). ``hostsim/errors.py`` and
  ``hostsim/__init__.py`` are outside the floors; importing the root package from a floor counts
  as importing the highest floor the root itself imports.

Module-level and function-level imports count alike, and so does ``importlib.import_module("...")``
with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hostsim", "geometries", "inverse")
FLOORS = {"numerics": 0, "electrochemistry": 1, "transport": 1, "run": 2, "pictures": 3, "cli": 4}
CLI = "hostsim.cli"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of ``from ... import``, relative levels resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path):
    """``(line, statement, target, in_function)`` for every import in the file. ``from A import b``
    yields ``A.b``: b may be a submodule (``from hostsim import cli``), and an attribute only adds
    a last part that no rule looks at."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module, is_package = module_name(path), path.name == "__init__.py"
    found = []

    def visit(node, in_function):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, ast.unparse(node), a.name, in_function) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            found.extend((node.lineno, ast.unparse(node), f"{base}.{a.name}", in_function) for a in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, ast.unparse(node), node.args[0].value, in_function))
        inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


def floor_of(module: str):
    """The engine floor of a module name, None outside the floors (root package, errors, other packages)."""
    parts = module.split(".")
    if parts[0] == "hostsim" and len(parts) > 1 and parts[1] in FLOORS:
        return parts[1]
    return None


def root_floor() -> int:
    """Importing ``hostsim`` runs its ``__init__``: the highest floor that file imports."""
    floors = [FLOORS[f] for _, _, t, _ in imports(ROOT / "hostsim" / "__init__.py") if (f := floor_of(t))]
    return max(floors, default=-1)


def violation(source: str, target: str, in_function: bool, root: int):
    """Why importing ``target`` from module ``source`` breaks the layering, or None."""
    src_top, tgt_top = source.split(".")[0], target.split(".")[0]
    in_cli = source == CLI or source.startswith(CLI + ".")
    if src_top == "hostsim" and tgt_top in ("geometries", "inverse"):
        if not in_cli:
            return f"the engine imports {tgt_top} (only hostsim.cli may, inside functions)"
        if not in_function:
            return f"hostsim.cli imports {tgt_top} at module level (only inside functions)"
    if src_top == "geometries" and tgt_top == "inverse":
        return "geometries imports inverse (inverse -> geometries, never the reverse)"
    if src_top in ("geometries", "inverse") and (target == CLI or target.startswith(CLI + ".")):
        return f"{src_top} imports the CLI, which sits above it"
    own = floor_of(source)
    if src_top != "hostsim" or tgt_top != "hostsim" or own is None:
        return None
    theirs = floor_of(target)
    if theirs is None:
        parts = target.split(".")
        if len(parts) <= 2 and parts[-1] != "errors" and root > FLOORS[own]:  # the root package itself
            return f"{own} imports the root package, whose __init__ imports higher floors"
        return None
    if theirs != own and FLOORS[theirs] >= FLOORS[own]:
        return f"floor {own} imports {theirs} (cli -> pictures -> run -> electrochemistry|transport -> numerics)"
    return None


def sources():
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return [p for p in files if "__pycache__" not in p.parts]


def test_the_checker_sees_every_layer():
    names = {module_name(p) for p in sources()}
    assert {CLI, "hostsim.numerics", "hostsim.run", "geometries", "inverse"} <= names
    assert any(floor_of(t) for _, _, t, _ in imports(ROOT / "hostsim" / "cli" / "__init__.py"))


def test_the_checker_catches_each_kind_of_violation():
    root = root_floor()
    assert violation("hostsim.run.io", "geometries._case.x", True, root)
    assert violation("hostsim.cli.simulate", "geometries.case_hosts", False, root)
    assert violation("hostsim.cli.simulate", "geometries.case_hosts", True, root) is None
    assert violation("geometries.foil", "inverse.loop", True, root)
    assert violation("inverse.loop", "hostsim.cli.enable_compilation_cache", True, root)
    assert violation("hostsim.numerics.grid", "hostsim.run.io", True, root)
    assert violation("hostsim.transport.media", "hostsim.electrochemistry.salt", False, root)
    assert violation("hostsim.numerics.grid", "hostsim.InputError", False, root)
    assert violation("hostsim.numerics.grid", "hostsim", False, root)
    assert violation("hostsim.numerics.grid", "hostsim.errors.InputError", False, root) is None
    assert violation("hostsim.cli", "hostsim.run.io", False, root) is None
    assert violation("geometries.foil", "hostsim.run.io", False, root) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_layers(package):
    root = root_floor()
    bad = []
    for path in sources():
        source = module_name(path)
        if source.split(".")[0] != package or source == "hostsim" or source == "hostsim.errors":
            continue
        for line, statement, target, in_function in imports(path):
            why = violation(source, target, in_function, root)
            if why:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {statement}  -- {why}")
    assert not bad, "layering violations:\n" + "\n".join(bad)
