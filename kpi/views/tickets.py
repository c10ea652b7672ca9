"""Views of the tickets notebook: tickets opened, handled and in backlog per period,
resolution and first-response times, a per-team summary of one period, and sentences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl

from kpi.compute import availability, evaluate, measure_frame
from kpi.data import Dataset
from kpi.periods import Period
from kpi.views._common import as_period, by_columns

__all__ = ["ticket_findings", "ticket_flow", "ticket_overview", "ticket_summary", "ticket_times"]


def ticket_flow(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str = "1d",
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    by: Sequence[str] | str = (),
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Tickets opened and handled per period, and the backlog at the end of each period.

    Returns
    -------
    pl.LazyFrame
        ``by`` columns, ``period``, ``opened`` (created in the period), ``handled``
        (the ``tickets_handled`` KPI: solved in the period) and ``backlog`` (created and not
        yet solved at the end of the period).

    Notes
    -----
    ``backlog(end of p) = backlog(end of p − 1) + opened(p) − solved(p)`` for tickets of the
    data (the ``backlog`` stock KPI).

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> z = ZoneInfo("Europe/London")
    >>> d = [datetime(2026, 2, 2, 9, tzinfo=z), datetime(2026, 2, 3, 9, tzinfo=z)]
    >>> t = pl.DataFrame({"ticket_id": ["a", "b"], "created_ts": d, "solved_ts": [d[1], None]})
    >>> ticket_flow({"tickets": t}).select("opened", "handled", "backlog").collect().rows()
    [(1, 0.0, 1.0), (1, 1.0, 1.0)]
    """
    span = {"start": start, "end": end}
    return _flow(Dataset.coerce(data), every=every, by=by_columns(by), params=params, span=span)


def _flow(
    ds: Dataset,
    *,
    every: str | None,
    by: list[str],
    params: Mapping[str, Any] | None,
    span: Mapping[str, Any],
) -> pl.LazyFrame:
    """:func:`ticket_flow` of a dataset, ``by`` already a list of columns; ``span`` is the
    range as :func:`kpi.compute.evaluate` takes it (``start``/``end``, or ``period``)."""
    from kpi.metrics import factories

    opened, _ = measure_frame(ds, [factories.tickets_created()], by=by, every=every, **span)
    r = evaluate(
        ds,
        ["tickets_handled", "backlog"],
        by=by,
        every=every,
        **span,
        params=params,
        measures=False,
    )
    keys = [*by, *(["period"] if every else [])]
    flow = r.frame.rename({"tickets_handled": "handled"})
    if not keys:
        return pl.concat(
            [opened.rename({"tickets_created": "opened"}), flow], how="horizontal"
        ).select(pl.col("opened").fill_null(0), "handled", "backlog")
    return (
        flow.join(
            opened.rename({"tickets_created": "opened"}),
            on=keys,
            how="left",
            nulls_equal=True,
        )
        .with_columns(pl.col("opened").fill_null(0))
        .select(*keys, "opened", "handled", "backlog")
        .sort(keys)
    )


_TIMES = {
    "resolution_median_h": ("avg_resolution_time", "median"),
    "resolution_p90_h": ("avg_resolution_time", "p90"),
    "first_response_median_h": ("first_response_time", "median"),
    "first_response_p90_h": ("first_response_time", "p90"),
}


def ticket_times(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str | None = "1w",
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    by: Sequence[str] | str = (),
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Resolution and first-response times (median and 90th percentile, hours) per period.

    Returns
    -------
    pl.LazyFrame
        ``by`` columns, ``period`` (with ``every``), ``resolution_median_h``,
        ``resolution_p90_h``, ``first_response_median_h``, ``first_response_p90_h``.

    Notes
    -----
    Resolution time is ``solved − created`` of the tickets solved in the period (the
    ``avg_resolution_time`` KPI, cohort variant from ``params``); first response is
    ``first response − created`` of the tickets created in it. Both are null where no ticket
    qualifies (or the data has no first-response times).

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> c = datetime(2026, 2, 2, 9, tzinfo=ZoneInfo("Europe/London"))
    >>> t = pl.DataFrame(
    ...     {
    ...         "ticket_id": list("abc"),
    ...         "created_ts": [c] * 3,
    ...         "solved_ts": [c + timedelta(hours=h) for h in (1, 2, 10)],
    ...     }
    ... )
    >>> ticket_times({"tickets": t}, every=None).collect().row(0)
    (2.0, 8.4, None, None)
    """
    span = {"start": start, "end": end}
    return _times(Dataset.coerce(data), every=every, by=by_columns(by), params=params, span=span)


def _times(
    ds: Dataset,
    *,
    every: str | None,
    by: list[str],
    params: Mapping[str, Any] | None,
    span: Mapping[str, Any],
) -> pl.LazyFrame:
    """:func:`ticket_times` of a dataset, ``by`` already a list of columns."""
    keys = [*by, *(["period"] if every else [])]
    base = {k: v for k, v in (params or {}).items() if not k.endswith(".aggregator")}
    known = availability(ds, sorted({k for k, _ in _TIMES.values()}), params=base, by=by)
    out: pl.LazyFrame | None = None
    for name, (kpi_id, agg) in _TIMES.items():
        if not known[kpi_id].ok and not keys:  # unknown, never a number: one null value
            part = pl.LazyFrame({name: [None]}, schema={name: pl.Float64})
        elif not known[kpi_id].ok:  # no rows of its own: null in every row once joined
            part = pl.LazyFrame(schema={**_key_schema(ds, by, every=every), name: pl.Float64})
        else:
            r = evaluate(
                ds,
                kpi_id,
                by=by,
                every=every,
                **span,
                params={**base, f"{kpi_id}.aggregator": agg},
                measures=False,
            )
            part = r.frame.select(*keys, pl.col(kpi_id).alias(name))
        if out is None:
            out = part
        elif keys:
            out = out.join(part, on=keys, how="full", coalesce=True, nulls_equal=True)
        else:
            out = pl.concat([out, part], how="horizontal")
    assert out is not None
    return out.sort(keys) if keys else out


def _key_schema(ds: Dataset, by: list[str], *, every: str | None) -> dict[str, pl.DataType]:
    """The key columns of a ticket result (its ``by`` columns, then ``period`` when binned)."""
    names = ds["tickets"].collect_schema()
    keys: dict[str, pl.DataType] = {c: names.get(c, pl.String()) for c in by}
    if every:
        keys["period"] = pl.Datetime("us", ds.tz)
    return keys


def ticket_summary(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    compare: str | Period | None = None,
    by: str | None = "team",
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Per ``by`` group (``None`` or ``""``: one row) for one period: opened, handled, backlog at the end, resolution and
    first-response times, and handled in the comparison period.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> c = datetime(2026, 2, 2, 9, tzinfo=ZoneInfo("Europe/London"))
    >>> t = pl.DataFrame(
    ...     {
    ...         "ticket_id": ["a", "b"],
    ...         "team": ["A", "B"],
    ...         "created_ts": [c, c],
    ...         "solved_ts": [c + timedelta(hours=5), None],
    ...     }
    ... )
    >>> ticket_summary({"tickets": t}, period="2026-02").select(
    ...     "team", "opened", "handled", "backlog", "resolution_median_h"
    ... ).collect().rows()
    [('A', 1, 1.0, 0.0, 5.0), ('B', 1, 0.0, 1.0, None)]
    """
    return _summary(Dataset.coerce(data), period=period, compare=compare, by=by, params=params)


def _summary(
    ds: Dataset,
    *,
    period: str | Period,
    compare: str | Period | None,
    by: str | None,
    params: Mapping[str, Any] | None,
) -> pl.LazyFrame:
    """:func:`ticket_summary` of a dataset."""
    p = as_period(period)
    keys = by_columns(by or "")
    flow = _flow(ds, every=None, by=keys, params=params, span={"period": p})
    times = _times(ds, every=None, by=keys, params=params, span={"period": p})
    if keys:
        out = flow.join(times, on=keys, how="left", nulls_equal=True)
    else:
        out = pl.concat([flow, times], how="horizontal")
    if compare not in (None, ""):
        q = as_period(compare)  # type: ignore[arg-type]
        prev = _flow(ds, every=None, by=keys, params=params, span={"period": q}).select(
            *keys, pl.col("handled").alias("handled_previous")
        )
        if keys:
            out = out.join(prev, on=keys, how="left", nulls_equal=True)
        else:
            out = pl.concat([out, prev], how="horizontal")
    if not keys:
        return out
    return out.sort("opened", by, descending=[True, False], nulls_last=True)


def ticket_findings(
    current: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    *,
    period: str = "",
    compare: str = "",
) -> list[str]:
    """Sentences about the ticket log: volumes, backlog and times against the comparison.

    Parameters
    ----------
    current, previous
        For each period a mapping with ``opened``, ``handled``, ``backlog`` (at the end) and
        the columns of :func:`ticket_times` (as from ``ticket_summary`` without ``by``, or a
        row of a collected frame).

    Examples
    --------
    >>> now = {
    ...     "opened": 120,
    ...     "handled": 100,
    ...     "backlog": 60,
    ...     "resolution_median_h": 30.0,
    ...     "resolution_p90_h": 80.0,
    ...     "first_response_median_h": None,
    ... }
    >>> before = {
    ...     "opened": 100,
    ...     "handled": 110,
    ...     "backlog": 40,
    ...     "resolution_median_h": 24.0,
    ...     "resolution_p90_h": 70.0,
    ...     "first_response_median_h": None,
    ... }
    >>> for s in ticket_findings(now, before, period="2026-02", compare="2026-01"):
    ...     print(s)
    120 tickets opened and 100 handled in 2026-02 (100 and 110 in 2026-01).
    The backlog grew from 40 to 60 open tickets.
    Median resolution time rose from 24.0 h to 30.0 h; 90% of tickets were solved within 80.0 h.
    The data has no first-response times.
    """
    prev = previous or {}
    if current.get("opened") is None:
        return ["The data has no tickets."]
    sentences = (
        _volumes(current, prev, period=period, compare=compare),
        _backlog(current.get("backlog"), prev.get("backlog")),
        _resolution(current, prev),
        _first_response(current, prev, compare=compare),
    )
    return [s for s in sentences if s is not None]


def _volumes(
    current: Mapping[str, Any], prev: Mapping[str, Any], *, period: str, compare: str
) -> str:
    text = (
        f"{_tickets(current.get('opened'))} opened and {_int(current.get('handled'))} "
        f"handled{_in(period)}"
    )
    if prev.get("opened") is not None:
        text += f" ({_int(prev['opened'])} and {_int(prev.get('handled'))}{_in(compare)})"
    return text + "."


def _backlog(b1: Any, b0: Any) -> str | None:
    if b1 is None:
        return None
    if b0 is None:
        verb = "was" if _int(b1) == "1" else "were"
        return f"{_tickets(b1)} {verb} open at the end of the period."
    if b1 == b0:
        return f"The backlog stayed at {_tickets(b1, 'open ')}."
    verb = "grew" if b1 > b0 else "shrank"
    return f"The backlog {verb} from {_int(b0)} to {_tickets(b1, 'open ')}."


def _resolution(current: Mapping[str, Any], prev: Mapping[str, Any]) -> str | None:
    med, p90 = current.get("resolution_median_h"), current.get("resolution_p90_h")
    if med is None:
        return None
    m0 = prev.get("resolution_median_h")
    if m0 is not None and m0 != med:
        verb = "rose" if med > m0 else "fell"
        text = f"Median resolution time {verb} from {_hours(m0)} to {_hours(med)}"
    else:
        text = f"Median resolution time was {_hours(med)}"
    if p90 is not None:
        text += f"; 90% of tickets were solved within {_hours(p90)}"
    return text + "."


def _first_response(current: Mapping[str, Any], prev: Mapping[str, Any], *, compare: str) -> str:
    fr = current.get("first_response_median_h")
    if fr is None:
        return "The data has no first-response times."
    fr0 = prev.get("first_response_median_h")
    extra = f" ({_hours(fr0)}{_in(compare)})" if fr0 is not None else ""
    return f"Median first response took {_hours(fr)}{extra}."


def _hours(v: float) -> str:
    # thousands separators, which kpi._format's ``h`` does not print (yet)
    return f"{v:,.1f} h"


def _tickets(v: Any, kind: str = "") -> str:
    n = _int(v)
    return f"{n} {kind}ticket" + ("" if n == "1" else "s")


def _int(v: Any) -> str:
    return "n/a" if v is None else f"{round(float(v)):,}"


def _in(label: str) -> str:
    return f" in {label}" if label else ""


def ticket_overview(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    compare: str | Period | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """The findings of the tickets report: :func:`ticket_findings` for the period against the
    comparison period, or why there are none (no tickets table).

    This function collects (it makes sentences).

    Examples
    --------
    >>> ticket_overview({"contacts": pl.DataFrame({"talk_s": [1.0]})}, period="2026-02")
    ['The data has no tickets table: this report needs a ticket log (`kpi import --preset tickets`).']
    """
    ds = Dataset.coerce(data)
    if "tickets" not in ds:
        return [
            "The data has no tickets table: this report needs a ticket log "
            "(`kpi import --preset tickets`)."
        ]
    p = as_period(period)
    now = _summary(ds, period=p, compare=None, by=None, params=params).collect().row(0, named=True)
    before = None
    q = None
    if compare not in (None, ""):
        q = as_period(compare)  # type: ignore[arg-type]
        before = (
            _summary(ds, period=q, compare=None, by=None, params=params)
            .collect()
            .row(0, named=True)
        )
    return ticket_findings(now, before, period=p.label, compare=q.label if q else "")
