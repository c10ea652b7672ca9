"""Shift templates, agent groups and named agents: what a plan may roster, read from TOML.

A shifts file::

    [[shift]]
    name = "day"
    length = "8h30m"              # paid length, breaks included
    start = "06:00-14:00"         # earliest-latest start, every `step` (default: the interval)
    # start = ["07:00", "08:00"]  # or a list of start times
    days = ["Mon", "Tue", "Wed", "Thu", "Fri"]   # days it may start (default: every day)
    breaks = [{ length = "30m", earliest = "3h30m", latest = "5h" }]  # offsets from the start

    [[shift]]
    name = "night"
    length = "8h"
    start = "22:00"               # across midnight: ends 06:00 the next day

    [[group]]                     # agents without names, by skill set
    name = "voice"
    skills = ["voice"]
    max_agents = 80               # optional headcount
    days_per_week = 5             # default 5; days off are consecutive unless
    consecutive_days_off = true   # this is false (any days off)

    [[agent]]                     # named agents (optional)
    name = "Ana"
    skills = ["voice", "chat"]
    days_per_week = 4
    available = { Mon = "08:00-17:00", Tue = "08:00-17:00", Sat = "09:00-13:00" }

Without ``[[shift]]`` tables the built-in templates apply (:data:`DEFAULT_TEMPLATES`); without
``[[group]]`` and ``[[agent]]`` tables, one group per skill with no headcount limit. With named
agents and no groups, only the named agents are rostered. The week repeats: a shift that starts
on Sunday night ends on Monday morning of the same plan.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from kpi.errors import KpiError

__all__ = [
    "DAYS",
    "DEFAULT_TEMPLATES",
    "Group",
    "ShiftSpec",
    "Template",
    "load_shifts",
    "shifts_from",
]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Most break placements one template may have (each is a column of the model per start).
MAX_VARIANTS = 64


@dataclass(frozen=True)
class Template:
    """A shift template, in minutes: length (breaks included), start times of day, days it
    may start on (0 = Monday) and breaks ``(length, earliest, latest)`` as offsets from the
    start."""

    name: str
    length_min: int
    starts_min: tuple[int, ...]
    days: tuple[int, ...] = tuple(range(7))
    breaks: tuple[tuple[int, int, int], ...] = ()

    def variants(self, every_min: int) -> list[tuple[int, ...]]:
        """Break placements: start offsets (minutes) of each break, every ``every_min``, in
        order and not overlapping."""
        choices = [range(lo, hi + 1, every_min) for _, lo, hi in self.breaks]
        out = []
        for combo in product(*choices):
            ok = all(
                combo[i] + self.breaks[i][0] <= combo[i + 1] for i in range(len(combo) - 1)
            ) and (not combo or combo[-1] + self.breaks[-1][0] <= self.length_min)
            if ok:
                out.append(tuple(combo))
        return out


@dataclass(frozen=True)
class Group:
    """Agents who share skills and days-off rules: a pool without names (``max_agents`` None:
    as many as needed) or one named agent (``available``: a week mask of minutes-of-week
    windows, ``max_agents`` 1)."""

    name: str
    skills: tuple[str, ...]
    max_agents: int | None = None
    days_per_week: int = 5
    consecutive_days_off: bool = True
    available: tuple[tuple[int, int], ...] | None = None  # (start, end) minutes of the week

    @property
    def named(self) -> bool:
        """True for a named agent."""
        return self.available is not None


@dataclass(frozen=True)
class ShiftSpec:
    """Templates and groups of a plan."""

    templates: tuple[Template, ...]
    groups: tuple[Group, ...] = ()
    source: str = "built-in shifts"
    notes: tuple[str, ...] = field(default_factory=tuple)


#: Built-in templates at 15 minutes: a full day (8 h 30 min with a 30-minute break 3 h 30 min
#: to 5 h in) and a 4-hour part-time shift, each starting at any interval of any day. At 30
#: minutes the same; at an hour, 9 h with a 1-hour break 3 to 5 h in.
DEFAULT_TEMPLATES = (
    Template("full", 510, tuple(range(0, 1440, 15)), breaks=((30, 210, 300),)),
    Template("part", 240, tuple(range(0, 1440, 15))),
)


def default_templates(every_min: int) -> tuple[Template, ...]:
    """The built-in templates on an ``every_min`` grid (see :data:`DEFAULT_TEMPLATES`)."""
    starts = tuple(range(0, 1440, every_min))
    if every_min == 60:
        full = Template("full", 540, starts, breaks=((60, 180, 300),))
    else:
        full = Template("full", 510, starts, breaks=((30, 210, 300),))
    return (full, Template("part", 240, starts))


def _minutes(text: Any, where: str, *, what: str = "duration") -> int:
    """``8h30m``, ``45m``, ``4h`` -> minutes.

    Examples
    --------
    >>> _minutes("8h30m", "x"), _minutes("45m", "x")
    (510, 45)
    """
    found = re.fullmatch(r"\s*(?:(\d{1,3})h)?\s*(?:(\d{1,4})m)?\s*", str(text))
    if not isinstance(text, str) or not found or not (found[1] or found[2]):
        raise KpiError(f"{where}: bad {what} {text!r}: write e.g. 8h30m, 4h or 45m")
    return int(found[1] or 0) * 60 + int(found[2] or 0)


def _clock(text: Any, where: str) -> int:
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(text))
    if not isinstance(text, str) or not found or int(found[1]) > 24 or int(found[2]) > 59:
        raise KpiError(f"{where}: bad time {text!r}: write HH:MM, e.g. 07:30")
    value = int(found[1]) * 60 + int(found[2])
    if value > 1440:
        raise KpiError(f"{where}: bad time {text!r}: after 24:00")
    return value


def _days(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise KpiError(f'{where}: days must be a list such as ["Mon", "Tue"]')
    lookup = {d.lower(): i for i, d in enumerate(DAYS)}
    out = []
    for d in value:
        if not isinstance(d, str) or d.strip().lower()[:3] not in lookup:
            raise KpiError(f"{where}: bad day {d!r}: use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        out.append(lookup[d.strip().lower()[:3]])
    return tuple(sorted(set(out)))


def _keys(spec: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(spec, Mapping):
        raise KpiError(f"{where} must be a table")
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise KpiError(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(allowed))}")
    return spec


def _template(spec: Any, where: str, every_min: int) -> Template:
    spec = _keys(spec, {"name", "length", "start", "step", "days", "breaks"}, where)
    name = str(spec.get("name", where))
    where = f"{where} ({name})"
    if "length" not in spec or "start" not in spec:
        raise KpiError(f"{where}: a shift needs length and start")
    length = _minutes(spec["length"], where)
    if not 0 < length <= 16 * 60 or length % every_min:
        raise KpiError(
            f"{where}: length {spec['length']!r} must be above 0, at most 16h and a whole "
            f"number of {every_min}-minute intervals"
        )
    step = _minutes(spec.get("step", f"{every_min}m"), where, what="step")
    if step == 0 or step % every_min:
        raise KpiError(f"{where}: step must be a whole number of {every_min}-minute intervals")
    start = spec["start"]
    if isinstance(start, list):
        starts = [_clock(s, where) for s in start]
    elif isinstance(start, str) and "-" in start:
        lo, hi = (_clock(s, where) for s in start.split("-", 1))
        if hi < lo:
            raise KpiError(f"{where}: start window {start!r} ends before it begins")
        starts = list(range(lo, hi + 1, step))
    else:
        starts = [_clock(start, where)]
    if not starts or any(s % every_min or s >= 1440 for s in starts):
        raise KpiError(
            f"{where}: start times must be before 24:00 and on {every_min}-minute boundaries"
        )
    breaks = []
    for i, b in enumerate(spec.get("breaks", [])):
        w = f"{where} break {i + 1}"
        b = _keys(b, {"length", "earliest", "latest"}, w)
        if "length" not in b or "earliest" not in b:
            raise KpiError(f"{w}: a break needs length and earliest (offset from the start)")
        blen = _minutes(b["length"], w)
        lo = _minutes(b["earliest"], w)
        hi = _minutes(b.get("latest", b["earliest"]), w)
        if blen == 0 or blen % every_min or lo % every_min or hi % every_min:
            raise KpiError(f"{w}: length and offsets must be whole {every_min}-minute intervals")
        if hi < lo or hi + blen > length:
            raise KpiError(f"{w}: the break window must fit inside the {length}-minute shift")
        breaks.append((blen, lo, hi))
    days = _days(spec["days"], where) if "days" in spec else tuple(range(7))
    t = Template(name, length, tuple(sorted(set(starts))), days, tuple(breaks))
    n = len(t.variants(every_min))
    if n == 0:
        raise KpiError(f"{where}: its breaks cannot be placed in order without overlapping")
    if n > MAX_VARIANTS:
        raise KpiError(
            f"{where}: {n} ways to place its breaks (at most {MAX_VARIANTS}); narrow the "
            "break windows"
        )
    return t


def _group(spec: Any, where: str, *, named: bool) -> Group:
    allowed = {"name", "skills", "days_per_week", "consecutive_days_off"}
    allowed |= {"available"} if named else {"max_agents"}
    spec = _keys(spec, allowed, where)
    name = str(spec.get("name", where))
    where = f"{where} ({name})"
    skills = spec.get("skills")
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        raise KpiError(f'{where}: skills must be a list of channels such as ["voice"]')
    dpw = spec.get("days_per_week", 5)
    if isinstance(dpw, bool) or not isinstance(dpw, int) or not 1 <= dpw <= 7:
        raise KpiError(f"{where}: days_per_week must be a whole number from 1 to 7")
    consecutive = spec.get("consecutive_days_off", True)
    if not isinstance(consecutive, bool):
        raise KpiError(f"{where}: consecutive_days_off must be true or false")
    available = None
    max_agents = spec.get("max_agents")
    if named:
        windows = []
        for day, text in _keys(spec.get("available", {}), set(DAYS), where).items():
            d = DAYS.index(day)
            if not isinstance(text, str) or "-" not in text:
                raise KpiError(f"{where}: availability {day} = {text!r}: write e.g. 08:00-17:00")
            lo, hi = (_clock(s, where) for s in text.split("-", 1))
            hi = hi if hi > lo else hi + 1440  # across midnight
            windows.append((d * 1440 + lo, d * 1440 + hi))
        if not windows:
            raise KpiError(f'{where}: a named agent needs available = {{ Mon = "08:00-17:00" }}')
        available, max_agents = tuple(windows), 1
    elif max_agents is not None and (
        isinstance(max_agents, bool) or not isinstance(max_agents, int) or max_agents < 0
    ):
        raise KpiError(f"{where}: max_agents must be a whole number, 0 or more")
    return Group(name, tuple(skills), max_agents, dpw, consecutive, available)


def shifts_from(
    spec: Mapping[str, Any] | None = None, *, every: str = "15m", source: str = "shifts"
) -> ShiftSpec:
    """Templates and groups from a parsed shifts TOML (None: the built-in templates).

    Examples
    --------
    >>> s = shifts_from({"shift": [{"name": "late", "length": "8h", "start": "22:00"}]})
    >>> s.templates[0].starts_min, s.groups
    ((1320,), ())
    """
    from kpi.schedule._requirements import every_seconds

    every_min = every_seconds(every) // 60
    spec = _keys(spec or {}, {"shift", "group", "agent"}, source)
    templates = tuple(
        _template(t, f"{source} [[shift]] {i + 1}", every_min)
        for i, t in enumerate(_list(spec.get("shift", []), source, "shift"))
    )
    if not templates:
        templates = default_templates(every_min)
    groups = [
        _group(g, f"{source} [[group]] {i + 1}", named=False)
        for i, g in enumerate(_list(spec.get("group", []), source, "group"))
    ]
    groups += [
        _group(a, f"{source} [[agent]] {i + 1}", named=True)
        for i, a in enumerate(_list(spec.get("agent", []), source, "agent"))
    ]
    names = [g.name for g in groups]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise KpiError(f"{source}: two groups or agents are named {dup!r}")
    return ShiftSpec(templates, tuple(groups), source)


def _list(value: Any, source: str, name: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise KpiError(f"{source}: {name} must be an array of tables, [[{name}]]")
    return value


def load_shifts(path: str | Path | None, *, every: str = "15m") -> ShiftSpec:
    """Read a shifts TOML file (None: the built-in templates and one group per skill)."""
    if path is None:
        return shifts_from(None, every=every)
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KpiError(f"shifts file {p} does not exist") from None
    except IsADirectoryError:
        raise KpiError(f"shifts file {p} is a directory") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KpiError(f"shifts file {p} is not valid TOML: {exc}") from None
    return shifts_from(data, every=every, source=str(p))


def available_mask(group: Group, slots_per_day: int) -> np.ndarray | None:
    """Slots of the week (7 × slots per day) a named agent is available; None for a pool."""
    if group.available is None:
        return None
    every_min = 1440 // slots_per_day
    n = 7 * slots_per_day
    mask = np.zeros(n, dtype=bool)
    for lo, hi in group.available:
        for m in range(lo, hi, every_min):
            mask[(m // every_min) % n] = True
    return mask
