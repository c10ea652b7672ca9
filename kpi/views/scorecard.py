"""Views of the scorecard notebook: how many KPIs met their target, and one bar chart per KPI
of a scorecard made by team (or another column)."""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["scorecard_bars", "status_counts", "status_summary"]


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
