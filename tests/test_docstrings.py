"""Docstrings that name a default say the one the signature has: every public function
and class of the engine's modules (a class's fields included) is rendered, each ``name: ... (default X)`` or ``name: ...
default: X`` entry of its Args/Attributes section is read, and X is compared with the default in
the signature (numbers by value, objects by their class name, strings and booleans as written;
a ``None`` default may stand for what the docstring describes)."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

import hostsim as hs

ENTRY = re.compile(r"^\s*(\w+)(?: \([^)]*\))?: (.*)$")
DEFAULT = re.compile(r"default(?:s to|:)?\s+(?:is\s+)?``?([^`),;]+)``?|\(default\s+([^),;]+)\)"
                     r"|([\w.~:`\"']+)\s+\(default[);]")


def _documented_defaults(doc: str) -> dict:
    """``{name: the default's text}`` from the entries of an Args/Attributes section."""
    found, name, text = {}, None, ""
    for line in (doc or "").splitlines() + [""]:
        entry = ENTRY.match(line)
        if entry or not line.strip():
            if name is not None:
                match = DEFAULT.search(text)
                if match:
                    text = next(g for g in match.groups() if g)
                    found[name] = text.strip("`").split(".")[-1].strip().strip("'\"")
            name, text = (entry.group(1), entry.group(2)) if entry else (None, "")
        elif name is not None:
            text += " " + line.strip()
    return found


def _signature_defaults(obj) -> dict:
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        return {f.name: f.default for f in dataclasses.fields(obj) if f.default is not dataclasses.MISSING}
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _agrees(text: str, value) -> bool:
    text = text.replace(":class:", "").replace("~", "").strip()
    if value is None:  # a None default stands for what the docstring says it means
        return True
    if isinstance(value, bool):
        return text in (str(value), str(value).lower())
    if isinstance(value, (int, float)):
        number = re.match(r"^[-+]?\d[\d_.]*(?:e[-+]?\d+)?", text)
        return number is None or float(number.group(0).replace("_", "")) == pytest.approx(float(value), rel=1e-12)
    if isinstance(value, str):
        return text.strip("\"'") == value or value in text
    name = type(value).__name__
    return name in text or not re.match(r"^[A-Z]\w*", text)  # a class named must be the default's class


def _public():
    """Every public function and class defined in a module of the engine (not the CLI's)."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(hs.__path__, "hostsim."):
        if info.name.startswith("hostsim.cli"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)) \
                    and getattr(obj, "__module__", None) == info.name:
                yield f"{info.name}.{name}", obj


@pytest.mark.parametrize("name, obj", list(_public()), ids=[n for n, _ in _public()])
def test_the_defaults_a_docstring_names_are_the_signature_s(name, obj):
    named = _documented_defaults(inspect.getdoc(obj) or "")
    actual = _signature_defaults(obj)
    wrong = {k: (v, actual[k]) for k, v in named.items() if k in actual and not _agrees(v, actual[k])}
    assert not wrong, f"{name}: docstring default vs signature: {wrong}"


def test_the_reader_finds_a_wrong_default():
    """The check can fail: a docstring naming another default is caught."""

    def f(x, tol=1e-6, solver=None):
        """Args:
            x: input.
            tol: tolerance (default 1e-3).
            solver: the solver (default: ``None``)."""

    named = _documented_defaults(inspect.getdoc(f))
    assert named == {"tol": "1e-3", "solver": "None"}
    assert not _agrees(named["tol"], 1e-6) and _agrees(named["solver"], None)
