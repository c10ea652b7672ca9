"""Views of the scorecard notebook: how many KPIs met their target, one bar chart per KPI
of a scorecard made by team (or another column), and each queue against its own service
objective (real-time queues by service level within their threshold, e-mail and tickets by
their response objective in hours)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from kpi._format import format_value
from kpi.compute import compute
from kpi.data import Dataset
from kpi.targets import TargetSet

__all__ = [
    "objective_findings",
    "objectives_by_queue",
    "scorecard_bars",
    "status_counts",
    "status_summary",
    "without_empty",
]

_OBJECTIVE_KPIS = ["service_level", "response_within_objective"]


def objectives_by_queue(
    data: Any,
    *,
    targets: TargetSet | None = None,
    params: Mapping[str, Any] | None = None,
    start: Any = None,
    end: Any = None,
    period: Any = None,
) -> pl.DataFrame:
    """Each queue against its own service objective, from the targets file's ``[objectives]``
    (defaults: voice 80 % in 20 s, chat 80 % in 60 s, e-mail a response in 4 h, tickets 8 h).

    Real-time queues are measured by ``service_level`` under ``threshold_s=objective`` (each
    contact against its queue's threshold; the other variants from ``params``) and judged
    against the objective's share; deferred queues (e-mail) and tickets by
    ``response_within_objective`` against that KPI's target. Queues without a value (no
    inbound contacts) are left out.

    Returns
    -------
    pl.DataFrame
        ``queue``, ``channel``, ``objective`` (in words), ``kpi``, ``value``, ``target``,
        ``met``; missed objectives first, the largest shortfall first.
    """
    ts = targets or TargetSet()
    obj = ts.service_objectives()
    p = ts.with_objectives({**(params or {}), "service_level.threshold_s": "objective"})
    ds = Dataset.coerce(data)
    span = {"start": start, "end": end, "period": period}
    frames = []
    if "contacts" in ds.tables:
        frames.append(
            compute(ds, _OBJECTIVE_KPIS, by=["queue", "channel"], params=p, measures=False, **span)
            .collect()
            .with_columns(pl.col("queue", "channel").cast(pl.String))
        )
    if "tickets" in ds.tables:
        tp = {**p, "response_within_objective.table": "tickets"}
        t = compute(ds, "response_within_objective", params=tp, measures=False, **span).collect()
        frames.append(
            t.select(
                pl.lit("tickets").alias("queue"),
                pl.lit("tickets").alias("channel"),
                pl.lit(None, pl.Float64).alias("service_level"),
                pl.col("response_within_objective").cast(pl.Float64),
            )
        )
    rows = []
    response_target = ts.default("response_within_objective")
    for f in frames:
        for r in f.iter_rows(named=True):
            o = obj.for_queue(r["queue"], r["channel"])
            deferred = o.kind == "deferred"
            kpi_id = "response_within_objective" if deferred else "service_level"
            value = r[kpi_id]
            if value is None:
                continue
            target = response_target.target if deferred and response_target else o.service_level
            rows.append(
                {
                    "queue": r["queue"],
                    "channel": r["channel"],
                    "objective": o.text(),
                    "kpi": kpi_id,
                    "value": value,
                    "target": target,
                    "met": None if target is None else value >= target,
                }
            )
    schema = {
        "queue": pl.String,
        "channel": pl.String,
        "objective": pl.String,
        "kpi": pl.String,
        "value": pl.Float64,
        "target": pl.Float64,
        "met": pl.Boolean,
    }
    out = pl.DataFrame(rows, schema=schema)
    return out.sort(pl.col("met"), pl.col("value") - pl.col("target"), "queue", nulls_last=True)


def objective_findings(table: pl.DataFrame, *, max_items: int = 5) -> list[str]:
    """Plain sentences about each queue against its own objective (:func:`objectives_by_queue`):
    the threshold and the target in words, missed objectives first.

    Examples
    --------
    >>> t = pl.DataFrame(
    ...     {
    ...         "queue": ["North Chat", "Email"],
    ...         "channel": ["chat", "email"],
    ...         "objective": ["80% in 60 s", "response in 4 h"],
    ...         "kpi": ["service_level", "response_within_objective"],
    ...         "value": [0.62, 0.91],
    ...         "target": [0.8, 0.8],
    ...         "met": [False, True],
    ...     }
    ... )
    >>> for s in objective_findings(t):
    ...     print(s)
    North Chat (chat): 62.0% answered within 60 s, against its objective of 80% in 60 s: missed by 18.0 pp.
    Email (email): 91.0% answered within 4 h (response objective), against a target of 80.0%: met.
    """
    out = []
    for r in table.head(max_items).iter_rows(named=True):
        value = format_value(r["value"], "ratio")
        name = "Tickets" if r["queue"] == "tickets" else f"{r['queue']} ({r['channel']})"
        objective = r["objective"]
        if r["kpi"] == "service_level":
            within = objective.split(" in ", 1)[1].split(",")[0]
            text = f"{name}: {value} answered within {within}, against its "
            text += f"objective of {objective}"
        else:
            hours = objective.removeprefix("response in ")
            text = f"{name}: {value} answered within {hours} (response "
            text += "objective)"
            if r["target"] is not None:
                text += f", against a target of {format_value(r['target'], 'ratio')}"
        if r["met"] is True:
            text += ": met"
        elif r["met"] is False:
            gap = format_value(r["value"] - r["target"], "ratio", signed=True).lstrip("−")
            text += f": missed by {gap}"
        out.append(text + ".")
    return out


def status_counts(card: pl.LazyFrame | pl.DataFrame, *, by: str = "perspective") -> pl.LazyFrame:
    """How many KPIs are green, amber and red per ``by`` group (KPIs without a target left out).

    Examples
    --------
    >>> card = pl.DataFrame({"perspective": ["customer"] * 3, "status": ["red", "green", None]})
    >>> status_counts(card).collect().rows()
    [('customer', 'green', 1), ('customer', 'red', 1)]
    """
    return (
        card.lazy()
        .filter(pl.col("status").is_not_null())
        .group_by(by, "status")
        .agg(pl.len().cast(pl.Int64).alias("kpis"))
        .with_columns(
            pl.col("status")
            .replace_strict(["green", "amber", "red"], [0, 1, 2], default=3)
            .alias("_o")
        )
        .sort(by, "_o")
        .drop("_o")
    )


def without_empty(card: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The scorecard without the KPIs that have no value in either period, and one line
    naming them: a KPI the data can compute in principle but that has nothing to measure in
    these periods (response within objective where no queue is deferred work, a rate with no
    contacts) is left out, not shown as a row of dashes.

    Examples
    --------
    >>> card = pl.DataFrame(
    ...     {
    ...         "id": ["aht", "response_within_objective"],
    ...         "label": ["Average handle time", "Response within objective"],
    ...         "value": [300.0, None],
    ...         "previous": [310.0, None],
    ...     }
    ... )
    >>> kept, lines = without_empty(card)
    >>> kept["id"].to_list(), lines
    (['aht'], ['left out: Response within objective (no value in the period: it needs answered contacts of deferred queues such as e-mail, or tickets with a first response)'])
    """
    has = pl.col("value").is_not_null()
    if "previous" in card.columns:
        has = has | pl.col("previous").is_not_null()
    empty_ids = (
        card.group_by("id", maintain_order=True)
        .agg(has.any().alias("_has"))
        .filter(~pl.col("_has"))
    )["id"].to_list()
    if not empty_ids:
        return card, []
    rows = card.filter(pl.col("id").is_in(empty_ids)).unique("id", maintain_order=True)
    lines = [
        f"left out: {label} (no value in the period: it needs {_WHAT_IT_MEASURES.get(i, 'records of what it measures')})"
        for i, label in rows.select("id", "label").iter_rows()
    ]
    return card.filter(~pl.col("id").is_in(empty_ids)), lines


#: What a KPI without a value in a period lacked, in words (:func:`without_empty`).
_WHAT_IT_MEASURES = {
    "response_within_objective": "answered contacts of deferred queues such as e-mail, or "
    "tickets with a first response",
    "service_level": "contacts of real-time queues (voice, chat)",
}


def status_summary(card: pl.DataFrame) -> str:
    """One sentence: how many KPIs met their target.

    Examples
    --------
    >>> card = pl.DataFrame({"status": ["red", "green", "green", None, "amber"]})
    >>> status_summary(card)
    '2 of the 4 KPIs with a target are green, 1 amber and 1 red.'
    """
    s = card["status"].drop_nulls()
    n = s.len()
    if n == 0:
        return "No KPI of this data has a target."
    if n == 1:
        return f"The one KPI with a target is {s[0]}."
    g, a, r = ((s == x).sum() for x in ("green", "amber", "red"))
    return f"{g} of the {n} KPIs with a target are green, {a} amber and {r} red."


def scorecard_bars(
    card: pl.DataFrame | pl.LazyFrame,
    *,
    category: str = "team",
    period: str = "",
    compare: str = "",
) -> list[Any]:
    """One bar chart per KPI of a scorecard made ``by`` a column: the period's value per group,
    a tick at the comparison period's value, the target as a dashed rule.

    Examples
    --------
    >>> card = pl.DataFrame(
    ...     {
    ...         "team": ["A", "B"],
    ...         "id": ["aht", "aht"],
    ...         "label": ["AHT", "AHT"],
    ...         "unit": ["s", "s"],
    ...         "value": [300.0, 420.0],
    ...         "previous": [310.0, 400.0],
    ...         "target": [None, None],
    ...     }
    ... )
    >>> [c.to_dict()["title"]["text"] for c in scorecard_bars(card, period="2026-02")]
    ['AHT by team, 2026-02']
    """
    from kpi import charts

    df = card.collect() if isinstance(card, pl.LazyFrame) else card
    out = []
    for (kpi_id,), part in df.group_by("id", maintain_order=True):
        first = part.row(0, named=True)
        if part["value"].is_null().all():
            continue
        name = str(kpi_id)
        previous = f"{name} in {compare}" if compare else f"{name} before"
        has_previous = part["previous"].is_not_null().any()
        frame = part.select(
            category, pl.col("value").alias(name), pl.col("previous").alias(previous)
        )
        ticks = f" (ticks: {compare})" if compare and has_previous else ""
        target = first.get("target")
        out.append(
            charts.bar_chart(
                frame,
                category=category,
                value=name,
                previous=previous if has_previous else None,
                target=target,
                percent=first["unit"] == "ratio",
                title=f"{first['label']} by {category}{', ' + period if period else ''}",
                subtitle=f"bars: {period or 'this period'}{ticks}"
                + ("; dashed: target" if target is not None else ""),
            ).properties(description=name)
        )
    return out
