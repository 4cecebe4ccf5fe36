"""The typed pieces the input files are parsed with: case files (:mod:`hostsim.run.case`), study
files (:mod:`inverse.study`) and sweep files (:mod:`hostsim.run.batch`).

* :class:`Section`: a TOML table as a pydantic model; a key it does not declare is refused;
* :func:`number`, :func:`study_number`, :func:`choice`, :func:`flag`: validators of one value
  (``Annotated[float, number(low=0.0, high=0.5)]``), each refusing a bad value with the finished
  text of its one-line error;
* :func:`refuse`: such an error, raised by a validator;
* :func:`input_error`: a :class:`pydantic.ValidationError` as the one-line
  :class:`~hostsim.errors.InputError` the CLI prints (``case [numerics] time_tolerance: must be
  <= 0.5, got 0.8``): the location comes from the error, the text from the validator. An
  :class:`InputError` a validator lets out of a module that words its own lines (the electrolyte's
  overrides) is that line.
"""

from __future__ import annotations

import types
import typing
from typing import Callable

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from hostsim.errors import InputError

INFINITIES = (float("inf"), float("-inf"))


class Section(BaseModel):
    """One table of an input file: its keys are the fields; any other key is refused."""

    # validate_default off: the declared defaults are trusted, only the file's values are checked
    model_config = ConfigDict(extra="forbid", validate_default=False)

    @classmethod
    def unknown_keys(cls, bad: list) -> str:
        """The text of the unknown-keys error, after ``[section]``."""
        return f": unknown key(s) {', '.join(bad)}; allowed: {', '.join(sorted(cls.model_fields))}"


def refuse(text: str, *, key: str | None = None, table: bool = False) -> PydanticCustomError:
    """The error a validator raises: ``text`` is the finished message. ``key``: a key the error is
    about, below the validated item (a required key missing from a table, an axis of a sweep);
    ``table``: the validated item is a table and the error is about it as a whole."""
    return PydanticCustomError("hostsim", "{text}", {"text": text, "key": key, "table": table})


def number_check(low: float | None = None, high: float | None = None, integer: bool = False,
                 at_least: float | None = None) -> Callable:
    """The check of a number of a case file: finite, ``<= high``, an integer if ``integer``, then
    ``> low`` (exclusive) and ``>= at_least``; returns the value as an ``int`` or a ``float``."""

    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse(f"expected a number, got {value!r}")
        if value != value or value in INFINITIES:
            raise refuse(f"expected a finite number, got {value!r}")
        if high is not None and value > high:
            raise refuse(f"must be <= {high:g}, got {value!r}")
        if integer and int(value) != value:
            raise refuse(f"expected an integer, got {value!r}")
        if low is not None and not value > low:
            raise refuse(f"must be > {low}, got {value!r}")
        if at_least is not None and value < at_least:
            raise refuse(f"must be >= {at_least}, got {value!r}")
        return int(value) if integer else float(value)

    return check


def number(low: float | None = None, high: float | None = None, integer: bool = False,
           at_least: float | None = None) -> PlainValidator:
    """A number of a case file (:func:`number_check`), as a validator."""
    return PlainValidator(number_check(low, high, integer, at_least))


def study_number_check(low: float | None = None, integer: bool = False, allow_equal: bool = False) -> Callable:
    """The check of a number of a study file: finite, an integer if ``integer``, then ``> low``
    (``>= low`` with ``allow_equal``); returns the value as an ``int`` or a ``float``."""

    def check(value):
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or value != value
                or value in INFINITIES):
            raise refuse(f"expected a finite number, got {value!r}")
        if integer and int(value) != value:
            raise refuse(f"expected an integer, got {value!r}")
        if low is not None and not (value >= low if allow_equal else value > low):
            raise refuse(f"must be {'>=' if allow_equal else '>'} {low}, got {value!r}")
        return int(value) if integer else float(value)

    return check


def study_number(low: float | None = None, integer: bool = False, allow_equal: bool = False) -> PlainValidator:
    """A number of a study file (:func:`study_number_check`), as a validator."""
    return PlainValidator(study_number_check(low, integer, allow_equal))


def choice(options: tuple, expected: str | None = None) -> PlainValidator:
    """One of ``options``; refused as ``{expected}; got 'x'`` (default: ``expected one of a, b``)."""
    expected = expected or f"expected one of {', '.join(options)}"

    def check(value):
        if value not in options:
            raise refuse(f"{expected}; got {value!r}")
        return value

    return PlainValidator(check)


def flag() -> PlainValidator:
    """``true`` or ``false`` (not a number, not a string)."""

    def check(value):
        if not isinstance(value, bool):
            raise refuse(f"expected true or false; got {value!r}")
        return value

    return PlainValidator(check)


def _table_model(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class of the table at ``loc`` below ``model`` (lists and optionals unwrapped)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = field.annotation
        while typing.get_origin(model) in (list, tuple, typing.Union, types.UnionType, typing.Annotated):
            model = next((a for a in typing.get_args(model) if a is not type(None)), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _label(root: str | None, loc: tuple) -> str:
    """``protocol.segment 2`` for ``("protocol", "segment", 1)`` (items count from 1)."""
    label = root or ""
    for part in loc:
        label = f"{label} {part + 1}" if isinstance(part, int) else f"{label}.{part}" if label else str(part)
    return label or "top level"


def _sorted_errors(error: ValidationError) -> list:
    """``(kind, table loc, key, text, value)`` of every error, the one to report first first:
    unknown top-level keys, then sections that are not tables, then the rest in the order of the
    fields (pydantic's). ``kind``: unknown, table (the text is about the table at ``table loc``;
    None: it is not a table), key, or line (a finished line)."""
    found = []
    for e in error.errors(include_url=False):
        loc, ctx, value = tuple(e["loc"]), e.get("ctx") or {}, e.get("input")
        if e["type"] == "extra_forbidden":
            found.append(("unknown", loc[:-1], loc[-1], None, value))
        elif e["type"] in ("model_type", "dict_type"):
            found.append(("table", loc, None, None, value))
        elif e["type"] == "value_error" and isinstance(ctx.get("error"), InputError):
            found.append(("line", loc, None, str(ctx["error"]), value))
        elif e["type"] == "hostsim":
            loc = loc + (ctx["key"],) if ctx.get("key") else loc
            if ctx.get("table") or not loc or isinstance(loc[-1], int):
                found.append(("table", loc, None, ctx["text"], value))
            else:
                found.append(("key", loc[:-1], loc[-1], ctx["text"], value))
        else:  # a check pydantic made itself (every declared field has its own validator)
            found.append(("key", loc[:-1], loc[-1], e["msg"], value) if loc else ("table", loc, None, e["msg"], value))

    def rank(item):
        kind, table, _, text, _ = item
        if kind == "unknown" and not table:
            return 0
        return 1 if kind == "table" and text is None and len(table) == 1 else 2

    return sorted(found, key=rank)


def input_error(error: ValidationError, model: type[BaseModel], prefix: str, root: str | None = None) -> InputError:
    """The one-line :class:`InputError` of a validation ``error`` of ``model``: ``{prefix}
    [section] key: text`` (``case [protocol.segment 2] kind: ...``). ``root``: the name of the
    table ``model`` is (``"sweep"``); None when it is a whole file (its own keys are the ``[top
    level]``)."""
    found = _sorted_errors(error)
    kind, table, key, text, value = found[0]
    # the unknown keys of a table before its values and its tables' (the outermost table first), all
    # of them in one line
    unknown = [item for item in found if item[0] == "unknown" and item[1] == table[:len(item[1])]]
    if unknown:
        table = min((item[1] for item in unknown), key=len)
        bad = sorted(str(k) for kind_, table_, k, _, _ in unknown if table_ == table)
        section = _table_model(model, table)
        text = section.unknown_keys(bad) if section else f": unknown key(s) {', '.join(bad)}"
        return InputError(f"{prefix} [{_label(root, table)}]{text}")
    name = _label(root, table)
    if kind == "line":
        return InputError(text)
    if kind == "table" and text is None:
        return InputError(f"{prefix} [{name}]: expected a table ([{name}] with keys); got {value!r}")
    if kind == "table":
        return InputError(f"{prefix} [{name}]: {text}")
    return InputError(f"{prefix} [{name}] {key}: {text}")
