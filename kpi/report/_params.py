"""Notebook parameters: read the ``parameters`` cell, check and coerce values before execution.

Papermill only *warns* about unknown parameter names and injects whatever it is given, so a typo
or a wrong type shows up minutes later as a failure deep in the notebook. Here every value is
checked first against the notebook's own declaration (``papermill.inspect_notebook``): the name
must exist, the value must have the type of the annotation or of the literal default, and a
parameter whose default is an ISO date or a period must receive one. All problems are reported
together in one message that lists the valid parameters.

A parameter's *name* also gives its values a meaning (:data:`ROLES`): ``kpi_id`` is a KPI of
the catalogue, ``*_kpis`` a list of them, ``dimension`` one of the documented dimensions,
``segment`` dimension values found in the data, ``teams`` teams of the data, ``day`` a date of
the period, and so on. Where the parameter's comment lists choices (``# ...: 15m, 30m or 1h``),
those are the only ones accepted. Customer identifier columns (:func:`kpi._mask.identifier_columns`)
are never a dimension, a breakdown or a segment key, with or without ``--show-identifiers``:
a report shows aggregates, and grouping by customer would put every customer's id on the page.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from kpi._mask import identifier_columns
from kpi.errors import KpiError

__all__ = ["ROLES", "NotebookParam", "coerce_params", "describe_params", "inspect_params"]

_KINDS = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PERIOD_NAMES = ("period", "compare")
_RELATIVE_DAYS = ("today", "yesterday")

#: What a parameter's name says its values are: ``name -> (role, kind)``. A parameter has the
#: role only when its declared kind matches (``teams`` as a list, not as text). Names ending in
#: ``_kpis`` are lists of KPI ids too.
ROLES: dict[str, tuple[str, str]] = {
    "kpi": ("kpi", "str"),
    "kpi_id": ("kpi", "str"),
    "explain_kpi": ("kpi", "str"),
    "rank_by": ("kpi", "str"),
    "kpis": ("kpis", "list"),
    "dimension": ("dimension", "str"),
    "breakdown": ("dimension", "str"),
    "dims": ("dimensions", "list"),
    "segment": ("segment", "dict"),
    "teams": ("teams", "list"),
    "grain": ("grain", "str"),
    "times_grain": ("grain", "str"),
    "interval": ("grain", "str"),
    "every": ("grain", "str"),
    "day": ("date", "str"),
    "start": ("date", "str"),
    "end": ("date", "str"),
    "kpi_params": ("kpi_params", "dict"),
    "targets_file": ("targets_file", "str"),
    "aht_s": ("seconds", "float"),
    "shrinkage": ("share", "float"),
}
#: Roles whose choices a parameter's comment narrows (the tokens of the comment that are valid).
_NARROWED = ("dimension", "dimensions", "grain")
_MAX_LISTED = 60


@dataclass(frozen=True)
class NotebookParam:
    """One parameter of a notebook's ``parameters`` cell.

    ``kind`` is the expected Python type name (``str``, ``int``, ``float``, ``bool``, ``list``,
    ``dict``) or ``any``; ``shape`` is ``"period"`` or ``"date"`` for strings that must parse as
    one; ``nullable`` is true when ``None`` is allowed; ``role`` is what the name says the
    values are (:data:`ROLES`); ``choices`` are the values the comment documents (empty: every
    value of the role); ``origin`` is the notebook's directory (relative paths start there).
    """

    name: str
    kind: str
    default: Any
    default_text: str
    help: str = ""
    shape: str | None = None
    nullable: bool = False
    role: str | None = None
    choices: tuple[str, ...] = ()
    origin: str = ""

    def describe(self) -> str:
        """``name (kind, default '...'): help`` for error messages and ``--help``."""
        kind = self.shape or self.kind
        default = self.default_text
        if "\n" in default:  # a list written over several lines: one line here
            try:
                default = json.dumps(self.default, ensure_ascii=False)
            except (TypeError, ValueError):
                default = " ".join(default.split())
        text = f"{self.name} ({kind}, default {default})"
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


def _role_of(name: str, kind: str) -> str | None:
    role, role_kind = ROLES.get(name, (None, ""))
    if role is None and name.endswith("_kpis"):
        role, role_kind = "kpis", "list"
    return role if kind == role_kind else None


def _universe(role: str | None) -> tuple[str, ...]:
    """Every valid value of a role that does not depend on the data (empty: not a fixed set)."""
    if role in ("kpi", "kpis"):
        from kpi.metrics import METRICS

        return tuple(METRICS)
    if role in ("dimension", "dimensions"):
        from kpi.views import DIMENSIONS

        return tuple(DIMENSIONS)
    if role == "grain":
        from kpi.periods import GRAINS

        return tuple(GRAINS)
    return ()


def _choices_of(role: str | None, help_text: str) -> tuple[str, ...]:
    """The valid values a parameter's comment lists, in its order (``"team, channel or
    queue"``); empty when it lists none, or the role is not narrowed by comments.

    Examples
    --------
    >>> _choices_of("grain", "staffing interval: 15m, 30m or 1h")
    ('15m', '30m', '1h')
    >>> _choices_of("dimension", "dimension that breaks the segment down")
    ()
    """
    if role not in _NARROWED:
        return ()
    universe = set(_universe(role))
    tokens = re.findall(r"[A-Za-z0-9_]+", help_text)
    return tuple(dict.fromkeys(t for t in tokens if t in universe))


def _shape_of(name: str, kind: str, default: Any) -> str | None:
    if kind != "str":
        return None
    if name in _PERIOD_NAMES:
        return "period"
    if _role_of(name, kind) == "date":
        return "date"
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
        help_text = str(info.get("help") or "")
        role = _role_of(name, kind)
        out[name] = NotebookParam(
            name=name,
            kind=kind,
            default=default,
            default_text=text,
            help=help_text,
            shape=_shape_of(name, kind, default),
            nullable=nullable,
            role=role,
            choices=_choices_of(role, help_text),
            origin=str(Path(path).resolve().parent),
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
        number: float | None = None
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is not None and math.isfinite(number):
            return number
        raise ValueError(f"expected a finite number, got {value!r}")
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
        from kpi.periods import LATEST

        if text in LATEST or (text == "" and (p.name == "compare" or p.default == "")):
            return text  # resolved on the data before the notebook runs (data_periods)
        try:
            return parse_period(text, today=today).label
        except KpiError as exc:
            words = ", ".join(LATEST)
            reason = str(exc).replace(f"bad period {text!r}: ", "")
            raise ValueError(f"{reason}, {words}") from None
    if p.shape == "date":
        if text == "" and p.default == "":
            return ""
        if text in _RELATIVE_DAYS:
            return (today - timedelta(days=text == "yesterday")).isoformat()
        if _ISO_DATE.fullmatch(text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass
        empty = ', or "" for the default' if p.default == "" else ""
        raise ValueError(
            f"expected an ISO date such as 2026-02-03 (or today, yesterday{empty}), got {value!r}"
        )
    return value


def _listing(values: Iterable[Any], *, empty: str = "") -> str:
    """``a, b, c`` (the first few of a long list), then ``or "" for ...`` when empty is valid.

    Examples
    --------
    >>> _listing(["team", "queue"], empty="none")
    'team, queue, or "" for none'
    """
    items = [str(v) for v in values]
    text = ", ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        text += f", … ({len(items)} in all)"
    if empty:
        text += f', or "" for {empty}' if items else f'"" for {empty}'
    return text or "none"


def _empty_means(p: NotebookParam) -> str:
    """What ``""`` stands for, when the comment documents it (``"" for none``)."""
    m = re.search(r'"" for ([^;,.)]+)', p.help)
    if m:
        return m[1].strip()
    return "the default" if p.default == "" else ""


def _one_of(p: NotebookParam, value: Any, *, what: str) -> None:
    """Raise ValueError unless ``value`` is one of the documented choices of ``p``'s role."""
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__} {value!r}")
    if p.role in ("dimension", "dimensions", "segment") and identifier_columns([value]):
        raise ValueError(
            f"{value!r} holds customer identifiers, which are never a {what} (aggregates "
            f"only, with or without --show-identifiers); valid: {_listing(_dims_of(p))}"
        )
    valid = _dims_of(p) if p.role == "segment" else (p.choices or _universe(p.role))
    if value not in valid:
        empty = _empty_means(p) if p.role in ("kpi", "dimension", "grain") else ""
        raise ValueError(f"unknown {what} {value!r}; valid: {_listing(valid, empty=empty)}")


def _dims_of(p: NotebookParam) -> tuple[str, ...]:
    return p.choices if p.role != "segment" and p.choices else _universe("dimensions")


_WHAT = {
    "kpi": "KPI",
    "kpis": "KPI",
    "dimension": "dimension",
    "dimensions": "dimension",
    "grain": "grain",
    "segment": "segment dimension",
}


def _check_role(p: NotebookParam, value: Any) -> Any:
    """Check a coerced value against the meaning of its parameter (:data:`ROLES`) where that
    needs no data; raise ValueError naming what is valid."""
    role = p.role
    if role is None or value is None:
        return value
    what = _WHAT.get(role, role)
    if role in ("kpi", "dimension", "grain"):
        if not (value == "" and (p.default == "" or _empty_means(p))):
            _one_of(p, value, what=what)
    elif role in ("kpis", "dimensions"):
        for item in value:
            _one_of(p, item, what=what)
        if role == "dimensions" and not value:
            raise ValueError(f"expected at least one dimension of {_listing(_dims_of(p))}")
    elif role == "teams":
        bad = [t for t in value if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ValueError(f"expected team names, got {bad[0]!r}")
    elif role == "segment":
        for key, item in value.items():
            _one_of(p, key, what=what)
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                raise ValueError(f"expected one value for {key}, got {item!r}")
    elif role == "seconds" and value < 0:
        raise ValueError(f"expected seconds, 0 or more (0: none), got {value!r}")
    elif role == "share" and not 0 <= value < 1:
        raise ValueError(f"expected a share from 0 up to (not including) 1, got {value!r}")
    elif role == "kpi_params":
        from kpi.metrics import resolve

        ids = [str(k).partition(".")[0] for k in value]
        try:
            resolve([i for i in ids if i], value)
        except KpiError as exc:
            raise ValueError(str(exc)) from None
    return value


def _cross_problems(
    spec: Mapping[str, NotebookParam], values: Mapping[str, Any], checked: Iterable[str]
) -> list[str]:
    """Problems of the given values that need the period, the targets file or the data."""
    from kpi.periods import parse_period

    problems: list[str] = []
    checked = list(checked)
    effective = {name: p.default for name, p in spec.items()} | dict(values)
    period = None
    if isinstance(effective.get("period"), str) and effective["period"]:
        try:
            period = parse_period(effective["period"])
        except KpiError:
            period = None
    for name in checked:
        p, value = spec[name], values[name]
        if p.role == "date" and value and period is not None:
            day = date.fromisoformat(value)
            last = period.end - timedelta(days=1)
            span = f"{period.label} ({period.start.isoformat()} to {last.isoformat()})"
            if name == "day" and not period.start <= day < period.end:
                problems.append(f"bad value for day: {value} is not a day of the period {span}")
            elif name == "start" and day >= period.end:
                problems.append(f"bad value for start: {value} is after the period {span}")
        if p.role == "targets_file" and value:
            from kpi.targets import load_targets

            path = Path(value) if Path(value).is_absolute() else Path(p.origin or ".") / value
            try:
                load_targets(path)
            except KpiError as exc:
                problems.append(f"bad value for {name}: {exc}")
    wanted = [
        n
        for n in checked
        if spec[n].role in ("teams", "dimension", "dimensions", "segment") and values[n]
    ]
    if wanted and "data_dir" in spec:
        problems += _data_problems(spec, effective, wanted)
    return problems


def _data_problems(
    spec: Mapping[str, NotebookParam], effective: Mapping[str, Any], names: Sequence[str]
) -> list[str]:
    """Teams, dimensions and segments checked against the data (schemas, distinct values)."""
    from kpi.data import load
    from kpi.views import dimensions, filter_teams

    where = Path(str(effective["data_dir"]))
    if not where.is_absolute():
        where = Path(spec["data_dir"].origin or ".") / where
    try:
        ds = load(where)
    except KpiError as exc:
        return [f"bad value for data_dir: {exc}"]
    problems: list[str] = []
    teams = effective.get("teams") if "teams" in spec and spec["teams"].role else None
    if teams:
        try:
            ds = filter_teams(ds, teams)
        except KpiError as exc:
            problems.append(f"bad value for teams: {exc}")
    # a notebook about one KPI can only cut it by the columns of the tables it reads, with
    # values (a column a loaded file lacked is null on every row)
    kpi_id = effective.get("kpi_id") if "kpi_id" in spec and spec["kpi_id"].role else None
    present = dimensions(ds, kpi_id) if kpi_id else dimensions(ds)
    for name in names:
        p, value = spec[name], effective[name]
        if p.role in ("dimension", "dimensions"):
            for item in [value] if isinstance(value, str) else value:
                if item not in present:
                    valid = [d for d in _dims_of(p) if d in present]
                    problems.append(
                        f"bad value for {name}: {_whose(kpi_id)} no {item!r} values; "
                        f"valid: {_listing(valid)}"
                    )
        elif p.role == "segment":
            problems += _segment_problems(name, value, ds, present, kpi_id)
    return problems


def _whose(kpi_id: str | None) -> str:
    return f"the tables of {kpi_id} have" if kpi_id else "the data has"


def _segment_problems(
    name: str, segment: Mapping[str, Any], ds: Any, present: Sequence[str], kpi_id: str | None
) -> list[str]:
    """Each key a dimension of the data, each value found in it, and some record with all."""
    import polars as pl

    from kpi.explain import restrict

    problems = []
    for key, item in segment.items():
        if key not in present:
            problems.append(
                f"bad value for {name}: {_whose(kpi_id)} no {key!r} values; "
                f"valid: {_listing(present)}"
            )
            continue
        frames = [
            lf.select(pl.col(key).cast(pl.String))
            for lf in ds.tables.values()
            if key in lf.collect_schema().names()
        ]
        known = pl.concat(frames).drop_nulls().unique().sort(key).collect()[key].to_list()
        if str(item) not in known:
            problems.append(
                f"bad value for {name}: no record has {key} {str(item)!r}; "
                f"{key} values in the data: {_listing(known)}"
            )
    if not problems and len(segment) > 1:
        cut = restrict(ds, segment)
        if not any(lf.head(1).collect().height for lf in cut.tables.values()):
            both = " and ".join(f"{k} {v!r}" for k, v in segment.items())
            problems.append(f"bad value for {name}: no record has {both}")
    return problems


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
    unknown = False
    out: dict[str, Any] = {}
    for name, value in given.items():
        p = spec.get(name)
        if p is None:
            problems.append(f"unknown parameter {name!r}")
            unknown = True
            continue
        try:
            out[name] = _check_role(p, _coerce_one(p, value, today))
        except ValueError as exc:
            problems.append(f"bad value for {name}: {exc}")
    if not problems:
        problems += _cross_problems(spec, out, [n for n in out if n in spec])
    if problems:
        # the list of parameters helps with a misspelt name; a bad value names what is valid
        tail = f" Valid parameters: {describe_params(spec)}" if unknown else ""
        raise KpiError(f"{notebook}: {'; '.join(problems)}.{tail}")
    return out
