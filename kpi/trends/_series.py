"""The series every trend function takes and the :class:`Trend` it gives back, with the helpers
they share: durations, calendar shifts, and the unpacking of a Result, a Trend or a frame."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import polars as pl

from kpi.compute import Result
from kpi.errors import KpiError
from kpi.metrics import METRICS, Build, resolve

__all__ = ["Trend"]

_DURATION = re.compile(r"^(\d+)(m|h|d|w|mo|q|y)$")
_CALENDAR_UNITS = ("d", "w", "mo", "q", "y")
_MAD_TO_SIGMA = 1.4826
_MEANAD_TO_SIGMA = 1.2533


@dataclass(frozen=True)
class Trend:
    """A trend table with the definitions that produced it.

    Attributes
    ----------
    frame
        The LazyFrame (see the function that made it for its columns).
    definitions
        KPI id to formula text under the variants in force.
    methods
        Output column (or group of columns) to how it was computed.
    by
        The group columns (without ``period``).
    every
        The grain of ``period``, when known (needed by :func:`attach_events`).
    params
        KPI id to the variant values in force, when known.
    notes
        KPI id to the reason it is null throughout (from :func:`kpi.compute.evaluate`).
    events
        From :func:`attach_events`: one row per event (and team) for chart rules.
    segments
        From :func:`change_points`: one row per segment of constant level.

    Examples
    --------
    >>> t = Trend(pl.LazyFrame({"x": [1]}), {"aht": "AHT = ..."}, {"x": "a column"})
    >>> t.meta()
    {'definitions': {'aht': 'AHT = ...'}, 'methods': {'x': 'a column'}}
    """

    frame: pl.LazyFrame
    definitions: dict[str, str]
    methods: dict[str, str]
    by: tuple[str, ...] = ()
    every: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    events: pl.LazyFrame | None = None
    segments: pl.LazyFrame | None = None

    def meta(self) -> dict[str, Any]:
        """Definitions, methods, variants and notes as plain data (for reports and JSON)."""
        out: dict[str, Any] = {"definitions": self.definitions, "methods": self.methods}
        if self.params:
            out["params"] = self.params
        if self.notes:
            out["notes"] = self.notes
        return out


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _duration(text: str, *, arg: str) -> tuple[int, str]:
    m = _DURATION.match(str(text).strip()) if isinstance(text, str) else None
    if m is None or int(m[1]) == 0:
        raise KpiError(
            f"bad {arg} {text!r}: use a whole number and a unit, m (minutes), h, d, w, mo, q "
            "or y, e.g. 7d, 4w, 3mo"
        )
    return int(m[1]), m[2]


def _shifted(lf: pl.LazyFrame, n: int, unit: str) -> pl.LazyFrame:
    """``lf`` with ``period`` moved forward by ``n`` ``unit`` (a row of p appears at p + shift).

    Calendar shifts (days and longer) keep the local wall time; a stamp that does not exist
    after the shift (inside a DST gap) is dropped, and where two stamps land on one (the
    repeated hour), the earlier one is kept, so the result has unique keys.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> z = ZoneInfo("Europe/London")
    >>> stamps = [datetime(2026, 3, 22, 1, 30, tzinfo=z), datetime(2026, 3, 22, 2, 30, tzinfo=z)]
    >>> out = _shifted(pl.LazyFrame({"period": stamps}), 1, "w").collect()
    >>> out["period"].dt.strftime("%d %H:%M %Z").to_list()  # 01:30 on 29 March does not exist
    ['29 02:30 BST']
    """
    p = pl.col("period")
    out = lf.with_columns(p.alias("_orig"), p.dt.offset_by(f"{n}{unit}").alias("period"))
    if unit in _CALENDAR_UNITS:
        orig = pl.col("_orig")
        out = out.filter((pl.col("period").dt.time() == orig.dt.time()) & ~_second_pass(orig))
    return out.drop("_orig")


def _second_pass(stamp: pl.Expr) -> pl.Expr:
    """Whether a zoned stamp is in the second pass through a repeated (fall-back) time: half an
    hour, an hour or two earlier (the clock changes in use: Lord Howe's, most zones', Troll's)
    reads the same or a later wall-clock time."""
    wall = stamp.dt.replace_time_zone(None)
    return pl.any_horizontal(
        stamp.dt.offset_by(f"-{d}").dt.replace_time_zone(None) >= wall for d in ("30m", "1h", "2h")
    )


def _lit_ts(expr: pl.Expr) -> datetime:
    """Evaluate an expression on a literal time stamp (no data is read)."""
    return pl.select(expr).item()


def _as_lazy(frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    if isinstance(frame, pl.DataFrame):
        return frame.lazy()
    if isinstance(frame, pl.LazyFrame):
        return frame
    raise KpiError(
        f"expected a LazyFrame, DataFrame, kpi Result or Trend, got {type(frame).__name__}"
    )


@dataclass
class _Series:
    lf: pl.LazyFrame
    by: tuple[str, ...]
    names: list[str]
    definitions: dict[str, str]
    params: dict[str, dict[str, Any]]
    notes: dict[str, str]
    every: str | None
    base: Trend | None


def _series(
    frame: Trend | Result | pl.LazyFrame | pl.DataFrame,
    metric: str | None,
    by: Sequence[str] | str | None,
    params: Mapping[str, Any] | None,
    *,
    func: str,
) -> _Series:
    """Unpack the input of a series function and check its columns."""
    base = frame if isinstance(frame, Trend) else None
    if isinstance(frame, Trend):
        lf, keys_by = frame.frame, frame.by
        defs, prm, notes, every = (
            dict(frame.definitions),
            dict(frame.params),
            dict(frame.notes),
            frame.every,
        )
    elif isinstance(frame, Result):
        lf = frame.frame
        keys_by = tuple(k for k in frame.keys if k != "period")
        defs, prm, notes, every = dict(frame.definitions), dict(frame.params), {}, None
        notes.update(frame.notes)
    else:
        lf, keys_by, defs, prm, notes, every = _as_lazy(frame), (), {}, {}, {}, None
    by_t = tuple(keys_by) if by is None else (by,) if isinstance(by, str) else tuple(by)
    schema = lf.collect_schema()
    names = schema.names()
    missing = [c for c in (*by_t, "period") if c not in names]
    if missing:
        raise KpiError(
            f"{func}: the series has no column {missing[0]!r}; its columns: {', '.join(names)}"
        )
    if not isinstance(schema["period"], pl.Datetime):
        raise KpiError(
            f"{func}: column 'period' must be a time stamp (as made by kpi compute with "
            f"--every), got {schema['period']}"
        )
    if metric is not None:
        if metric not in names:
            raise KpiError(
                f"{func}: the series has no column {metric!r}; its columns: {', '.join(names)}"
            )
        if metric in METRICS and metric not in defs:
            if params is not None or metric not in prm:
                ((_, p),) = resolve([metric], params)
                prm[metric] = p
            defs[metric] = METRICS[metric].build(prm[metric]).formula
        elif metric not in METRICS:
            defs.setdefault(metric, f"column {metric!r} of the input series")
    return _Series(lf, by_t, names, defs, prm, notes, every, base)


def _out(s: _Series, frame: pl.LazyFrame, methods: Mapping[str, str], **extra: Any) -> Trend:
    fields: dict[str, Any] = {
        "frame": frame,
        "definitions": s.definitions,
        "by": s.by,
        "every": s.every,
        "params": s.params,
        "notes": s.notes,
        **extra,
    }
    if s.base is not None:
        return replace(s.base, methods={**s.base.methods, **methods}, **fields)
    return Trend(methods=dict(methods), **fields)


def _sign(metric: str) -> float | None:
    m = METRICS.get(metric)
    if m is None:
        return None
    return 1.0 if m.direction == "higher" else -1.0


def _build(s: _Series, metric: str) -> Build | None:
    if metric not in METRICS:
        return None
    return METRICS[metric].build(s.params.get(metric))
