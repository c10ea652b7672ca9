"""Notebook parameters: read the ``parameters`` cell, check and coerce values before execution.

Papermill only *warns* about unknown parameter names and injects whatever it is given, so a typo
or a wrong type shows up minutes later as a failure deep in the notebook. Here every value is
checked first against the notebook's own declaration (``papermill.inspect_notebook``): the name
must exist, the value must have the type of the annotation or of the literal default, and a
parameter whose default is an ISO date or a period must receive one. All problems are reported
together in one message that lists the valid parameters.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from kpi.errors import KpiError

__all__ = ["NotebookParam", "coerce_params", "describe_params", "inspect_params"]

_KINDS = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PERIOD_NAMES = ("period", "compare")
_RELATIVE_DAYS = ("today", "yesterday")


@dataclass(frozen=True)
class NotebookParam:
    """One parameter of a notebook's ``parameters`` cell.

    ``kind`` is the expected Python type name (``str``, ``int``, ``float``, ``bool``, ``list``,
    ``dict``) or ``any``; ``shape`` is ``"period"`` or ``"date"`` for strings that must parse as
    one; ``nullable`` is true when ``None`` is allowed.
    """

    name: str
    kind: str
    default: Any
    default_text: str
    help: str = ""
    shape: str | None = None
    nullable: bool = False

    def describe(self) -> str:
        """``name (kind, default '...'): help`` for error messages and ``--help``."""
        kind = self.shape or self.kind
        text = f"{self.name} ({kind}, default {self.default_text})"
        return f"{text}: {self.help}" if self.help else text


def _kind_of(annotation: str, default: Any) -> tuple[str, bool]:
    text = (annotation or "").replace(" ", "")
    nullable = default is None or "None" in text.split("|") or text.startswith("Optional[")
    text = re.sub(r"^Optional\[(.*)\]$", r"\1", text)
    parts = [p for p in text.split("|") if p and p != "None"]
    base = re.sub(r"\[.*$", "", parts[0]) if parts else ""
    if base in _KINDS:
        return base, nullable
    if default is not None and type(default).__name__ in _KINDS:
        return type(default).__name__, nullable
    return "any", nullable


def _is_period_text(text: str) -> bool:
    from kpi.periods import parse_period

    try:
        parse_period(text)
    except KpiError:
        return False
    return True


def _shape_of(name: str, kind: str, default: Any) -> str | None:
    if kind != "str":
        return None
    if name in _PERIOD_NAMES:
        return "period"
    if isinstance(default, str) and _ISO_DATE.fullmatch(default):
        return "date"
    if isinstance(default, str) and re.fullmatch(r"\d{4}-(\d{2}|W\d{2}|Q[1-4])", default):
        return "period" if _is_period_text(default) else None
    return None


def _ast_params(source: str) -> dict[str, dict[str, str]]:
    r"""Parameters of a cell, read with Python's own parser (names, annotations, defaults, and
    the comment ending each assignment as help).

    Papermill's line-based reader skips an assignment whose default holds a ``=`` or a ``#``
    (``topic: str = "a=b"``); this one does not.

    Examples
    --------
    >>> src = 'topic: str = "<img src=x onerror=alert(1)>"  # a topic\nn = [\n    1,\n]  # rows'
    >>> _ast_params(src)["topic"]
    {'name': 'topic', 'inferred_type_name': 'str', 'default': '"<img src=x onerror=alert(1)>"', 'help': 'a topic'}
    >>> _ast_params(src)["n"]["default"], _ast_params(src)["n"]["help"]
    ('[\n    1,\n]', 'rows')
    """
    import io
    import tokenize

    tree = ast.parse(source)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            target, annotation, value = node.target.id, ast.unparse(node.annotation), node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            target, annotation, value = node.targets[0].id, "None", node.value
        else:
            continue
        out[target] = {
            "name": target,
            "inferred_type_name": annotation,
            "default": ast.get_source_segment(source, value) or ast.unparse(value),
            "help": comments.get(node.end_lineno or node.lineno, ""),
        }
    return out


def inspect_params(path: str | Path) -> dict[str, NotebookParam]:
    """The parameters declared in a notebook's cell tagged ``parameters`` (empty if none).

    ``papermill.inspect_notebook`` reads them as papermill will see them; assignments its
    line-based reader cannot parse (a default holding ``=`` or ``#``) are read with Python's
    parser instead, so that no declared parameter is reported as unknown.

    Raises
    ------
    KpiError
        If the file is not a readable notebook.
    """
    import logging

    import nbformat
    import papermill as pm

    log = logging.getLogger("papermill")
    level = log.level
    log.setLevel(logging.ERROR)  # its "Unable to parse line" warnings: handled below
    try:
        raw = pm.inspect_notebook(str(path))
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # JSON errors, missing kernelspec, unreadable file
        raise KpiError(f"cannot read notebook {path}: {type(exc).__name__}: {exc}") from None
    finally:
        log.setLevel(level)
    cell = next(
        (c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None
    )
    try:
        parsed = _ast_params(cell.source) if cell is not None else {}
    except SyntaxError:
        parsed = {}
    merged = {name: {**raw.get(name, {}), **info} for name, info in parsed.items()}
    merged.update({name: info for name, info in raw.items() if name not in merged})
    out: dict[str, NotebookParam] = {}
    for name, info in merged.items():
        text = str(info.get("default", "None"))
        try:
            default = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            default = None  # a non-literal default: no type to check against
        kind, nullable = _kind_of(str(info.get("inferred_type_name") or ""), default)
        out[name] = NotebookParam(
            name=name,
            kind=kind,
            default=default,
            default_text=text,
            help=str(info.get("help") or ""),
            shape=_shape_of(name, kind, default),
            nullable=nullable,
        )
    return out


def describe_params(spec: Mapping[str, NotebookParam]) -> str:
    """One line per parameter, or a note that the notebook has none.

    Examples
    --------
    >>> p = NotebookParam("n", "int", 3, "3", "how many")
    >>> describe_params({"n": p})
    'n (int, default 3): how many'
    >>> describe_params({})
    "none (the notebook has no cell tagged 'parameters')"
    """
    if not spec:
        return "none (the notebook has no cell tagged 'parameters')"
    return "; ".join(p.describe() for p in spec.values())


def _coerce_one(p: NotebookParam, value: Any, today: date) -> Any:
    """Coerce one value (CLI text or a Python value); raise ValueError with a short reason."""
    if value is None or (
        isinstance(value, str) and p.nullable and value.strip().lower() in ("none", "null")
    ):
        if p.nullable or p.kind == "any":
            return None
        raise ValueError(f"expected {p.kind}, got None")
    kind = p.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise ValueError(f"expected a whole number, got {value!r}")
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"expected a number, got {value!r}")
    if kind == "list":
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    parsed = json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError(f"expected a JSON list, got {value!r}") from None
                if isinstance(parsed, list):
                    return parsed
            return [part.strip() for part in text.split(",") if part.strip()]
        raise ValueError(f"expected a list, got {value!r}")
    if kind == "dict":
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        raise ValueError(f"expected a JSON object, got {value!r}")
    if kind == "str":
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, (date, datetime)):
            value = value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__} {value!r}")
        return _shaped(p, value, today)
    return value  # kind "any": papermill writes its repr


def _shaped(p: NotebookParam, value: str, today: date) -> str:
    from kpi.periods import parse_period

    text = value.strip()
    if p.shape == "period":
        try:
            return parse_period(text, today=today).label
        except KpiError as exc:
            raise ValueError(str(exc).replace(f"bad period {text!r}: ", "")) from None
    if p.shape == "date":
        if text in _RELATIVE_DAYS:
            return (today - timedelta(days=text == "yesterday")).isoformat()
        if _ISO_DATE.fullmatch(text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass
        raise ValueError(
            f"expected an ISO date such as 2026-02-03 (or today, yesterday), got {value!r}"
        )
    return value


def coerce_params(
    notebook: str,
    spec: Mapping[str, NotebookParam],
    given: Mapping[str, Any],
    *,
    today: date,
) -> dict[str, Any]:
    """Check and coerce ``given`` against the notebook's parameters.

    Strings (from the command line) are parsed into the declared type; periods and relative
    words are turned into canonical labels (``previous-month`` -> ``2026-02``).

    Raises
    ------
    KpiError
        Listing every unknown name and bad value, then the valid parameters.

    Examples
    --------
    >>> spec = {
    ...     "n": NotebookParam("n", "int", 3, "3"),
    ...     "period": NotebookParam("period", "str", "2026-02", '"2026-02"', shape="period"),
    ... }
    >>> coerce_params("demo", spec, {"n": "5", "period": "previous-month"}, today=date(2026, 3, 9))
    {'n': 5, 'period': '2026-02'}
    >>> coerce_params("demo", spec, {"m": 1, "n": "x"}, today=date(2026, 3, 9))
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: demo: unknown parameter 'm'; bad value for n: expected a whole number, got 'x'. Valid parameters: n (int, default 3); period (period, default "2026-02")
    """
    problems: list[str] = []
    out: dict[str, Any] = {}
    for name, value in given.items():
        p = spec.get(name)
        if p is None:
            problems.append(f"unknown parameter {name!r}")
            continue
        try:
            out[name] = _coerce_one(p, value, today)
        except ValueError as exc:
            problems.append(f"bad value for {name}: {exc}")
    if problems:
        raise KpiError(
            f"{notebook}: {'; '.join(problems)}. Valid parameters: {describe_params(spec)}"
        )
    return out
