"""Findings in plain language: what a forecast expects and how good its method has been."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from kpi._format import format_value

__all__ = ["accuracy_findings", "by_group", "findings", "stored_accuracy"]


def _pct(v: float | None) -> str:
    return format_value(v, "ratio")


def _change(now: float | None, before: float | None) -> str:
    if now is None or not before:
        return ""
    rel = now / before - 1
    if abs(rel) < 0.005:
        return ", about the same as the same span before"
    word = "more" if rel > 0 else "less"
    return f", {abs(rel) * 100:.0f}% {word} than the same span before"


def _span(days: int) -> str:
    return "Next day" if days == 1 else f"Next {days} days"


def _head(row: Mapping[str, Any], by: list[str]) -> str:
    """``Next 7 days: `` or ``Queue North, next 7 days: ``."""
    span = _span(int(row["days"]))
    if not by:
        return f"{span}: "
    group = ", ".join(f"{k} {row[k]}" for k in by)
    return f"{group[:1].upper()}{group[1:]}, {span[:1].lower()}{span[1:]}: "


def findings(result: Any, *, max_items: int = 5) -> list[str]:
    """Sentences about a :class:`kpi.forecast.Forecast`: per group (the busiest first), the
    expected total with its interval and the change on the span before, and the method's
    backtest WAPE against the Poisson floor; then the run's notes.

    Examples
    --------
    >>> import polars as pl
    >>> from kpi.forecast import Forecast
    >>> summary = pl.DataFrame(
    ...     {
    ...         "method": ["daily_profile"],
    ...         "days": [7],
    ...         "forecast": [12400.0],
    ...         "lower": [11900.0],
    ...         "upper": [12900.0],
    ...         "before": [12040.0],
    ...         "wape": [0.061],
    ...         "poisson_floor": [0.033],
    ...     }
    ... )
    >>> meta = {"metric": "contacts_offered", "level": 80}
    >>> findings(Forecast(pl.DataFrame(), pl.DataFrame(), meta=meta, summary=summary))
    ['Next 7 days: 12,400 contacts offered expected (80% interval 11,900–12,900), 3% more than the same span before; method daily_profile, 6.1% WAPE in backtests against a Poisson floor of 3.3%.']
    """
    meta = result.meta
    summary = result.summary
    out: list[str] = []
    if summary.is_empty():
        return [*result.notes]
    aht = meta.get("metric") == "aht"
    by = [c for c in summary.columns if c not in _SUMMARY_COLUMNS]
    rows = summary.sort("forecast", descending=True, nulls_last=True).iter_rows(named=True)
    for i, row in enumerate(rows):
        if i >= max_items:
            out.append(f"… and {summary.height - max_items} more group(s) in the tables below.")
            break
        head = _head(row, by)
        if aht:
            what = f"AHT of {format_value(row['forecast'], 's')} expected"
        else:
            what = (
                f"{format_value(row['forecast'], 'count')} contacts offered expected "
                f"({meta.get('level', 80):g}% interval "
                f"{format_value(row['lower'], 'count')}–{format_value(row['upper'], 'count')})"
            )
        how = f"; method {row['method']}"
        if row.get("wape") is not None:
            how += f", {_pct(row['wape'])} WAPE in backtests"
            if row.get("poisson_floor") is not None:
                how += f" against a Poisson floor of {_pct(row['poisson_floor'])}"
        else:
            how += " (too little history for a backtest)"
        out.append(head + what + _change(row["forecast"], row["before"]) + how + ".")
    return out + list(result.notes)


_SUMMARY_COLUMNS = (
    "method",
    "days",
    "forecast",
    "lower",
    "upper",
    "before",
    "wape",
    "poisson_floor",
)


def by_group(result: Any, *, limit: int = 6) -> list[tuple[str, pl.DataFrame, pl.DataFrame]]:
    """The busiest ``limit`` groups of a forecast (by expected total): ``(label, recent
    history, forecast rows)`` each, for one chart per group; the label is "" without groups."""
    summary = result.summary
    if summary.is_empty():
        return []
    by = [c for c in summary.columns if c not in _SUMMARY_COLUMNS]
    if not by:
        return [("", result.recent, result.table)]
    out = []
    top = summary.sort("forecast", descending=True, nulls_last=True).head(limit)
    for row in top.select(by).iter_rows(named=True):
        same = pl.all_horizontal(pl.col(k) == v for k, v in row.items())
        label = ", ".join(f"{k} {v}" for k, v in row.items())
        out.append((label, result.recent.filter(same), result.table.filter(same)))
    return out


def stored_accuracy(
    ds: Any, *, by: Sequence[str] = (), every: str = "1w"
) -> tuple[pl.DataFrame | None, str]:
    """The ``forecast_accuracy`` KPI of the dataset's stored forecasts by ``by`` (its queue,
    channel and team columns) and ``every``, with its WAPE, or None and the reason."""
    from kpi.compute import availability, evaluate
    from kpi.forecast._store import GROUP_COLUMNS

    found = availability(ds, "forecast_accuracy")["forecast_accuracy"]
    if not found.ok:
        return None, found.reason or "unavailable"
    keep = [b for b in by if b in GROUP_COLUMNS]
    r = evaluate(ds, "forecast_accuracy", by=keep, every=every, measures=True)
    frame = (
        r.frame.collect()
        .filter(pl.col("forecast_actual") > 0)
        .with_columns(
            (pl.col("forecast_abs_error") / pl.col("forecast_actual")).alias("wape"),
        )
        .select(*keep, "period", "forecast_accuracy", "wape", "forecast_actual")
        .sort([*keep, "period"])
    )
    if frame.is_empty():
        return None, "no stored forecast covers an interval that has happened yet"
    return frame, ""


def accuracy_findings(frame: pl.DataFrame | None, why: str) -> list[str]:
    """One sentence on the stored forecasts' accuracy: the last week scored, overall."""
    if frame is None:
        return [
            f"Accuracy of past forecasts: unknown ({why}); store forecasts with "
            "`kpi forecast --store` and they are scored here once the actuals arrive."
        ]
    last = frame["period"].max()
    week = frame.filter(pl.col("period") == last)
    err = float((week["wape"] * week["forecast_actual"]).sum() / week["forecast_actual"].sum())
    return [
        f"Stored forecasts of the week of {last:%Y-%m-%d}: {_pct(1 - err)} accurate "
        f"({_pct(err)} WAPE over {format_value(float(week['forecast_actual'].sum()), 'count')} "
        "contacts offered)."
    ]
