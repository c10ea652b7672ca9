"""The forecast what-if: horizon, method, level and group over :func:`kpi.forecast.run`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.widgets._explorer import Explorer, _dropdown

# --------------------------------------------------------------------------------------------
# Forecast
# --------------------------------------------------------------------------------------------

#: Longest horizon the forecast explorer's slider offers, in days.
MAX_FORECAST_DAYS = 28


def _horizon_days(horizon: str, every: str) -> int:
    """A horizon such as ``7d`` or ``36h`` in whole days (rounded up), at least 1."""
    from kpi.forecast import parse_horizon

    span = parse_horizon(horizon, every)
    return max(1, -(-span // timedelta(days=1)))


def forecast_explorer(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str = "30m",
    by: Sequence[str] | str = (),
    metric: str = "contacts_offered",
    until: str | date | datetime | None = None,
    horizon: str = "7d",
    method: str = "auto",
    level: float = 80,
    country: str | None = None,
) -> Explorer:
    """A forecast what-if: horizon (days), method, prediction level and, with ``by``, the
    group; every change re-runs :func:`kpi.forecast.run` and redraws
    :func:`kpi.charts.forecast_chart` and the group's :func:`kpi.forecast.findings`.

    Runs are kept per (horizon, method, level) and charts per (horizon, method, level, group),
    so going back to a setting seen before redraws without recomputing; changing the group
    never re-runs the forecast (one run forecasts every group).

    Parameters
    ----------
    data
        Dataset (or mapping of tables, or directory).
    every, by, metric, until, country
        As in :func:`kpi.forecast.run`; fixed for the explorer.
    horizon, method, level
        Initial values of the controls (``horizon`` such as ``7d``, rounded up to whole days).

    Raises
    ------
    KpiError
        When the first forecast cannot be made (no data, too little history): the message
        says why, in one line.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> t0 = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("UTC"))
    >>> t = [t0 + timedelta(days=d, minutes=m) for d in range(28) for m in (0, 10, 20)]
    >>> c = pl.DataFrame({"arrival_ts": t, "queue_ts": t, "outcome": ["answered"] * 84})
    >>> ex = forecast_explorer({"contacts": c}, every="1h", horizon="1d")
    >>> sorted(ex.values())
    ['horizon', 'level', 'method']
    >>> ex.controls["horizon"].value = 3
    >>> ex.charts[0].to_dict()["title"]["text"]
    'Contacts offered: last 14 days and 3 days ahead'
    """
    import dataclasses

    import ipywidgets as w

    import kpi.forecast as fc
    from kpi import charts
    from kpi.metrics import METRICS

    ds = Dataset.coerce(data)
    groups = [b for b in ((by,) if isinstance(by, str) else by) if b]
    days = _horizon_days(horizon, every)
    cache: dict[tuple[int, str, int], Any] = {}

    def run(h: int, m: str, lv: int) -> Any:
        key = (h, m, lv)
        if key not in cache:
            cache[key] = fc.run(
                ds,
                every=every,
                horizon=f"{h}d",
                metric=metric,
                by=groups,
                until=until,
                method=m,
                level=lv,
                country=country,
            )
        return cache[key]

    lv0 = min(99, max(50, round(level)))
    run(days, method, lv0)  # a KpiError here: no explorer, and the reason
    labels = list(_group_keys(cache[days, method, lv0].summary, groups)) if groups else []

    def slider(value: int, lo: int, hi: int, label: str) -> Any:
        return w.IntSlider(
            value=value,
            min=lo,
            max=hi,
            description=label,
            continuous_update=False,
            style={"description_width": "initial"},
        )

    controls: dict[str, Any] = {
        "horizon": slider(days, 1, max(MAX_FORECAST_DAYS, days), "horizon (days)"),
        "method": _dropdown("method", ["auto", *fc.METHODS], method),
        "level": slider(lv0, 50, 99, "interval %"),
    }
    if groups:
        controls["group"] = _dropdown(", ".join(groups), labels, labels[0])
    name = METRICS[metric].label if metric in METRICS else metric

    drawn: dict[tuple[int, str, int, str], list[Any]] = {}

    def render(v: dict[str, Any]) -> list[Any]:
        key = (v["horizon"], v["method"], v["level"], v.get("group", ""))
        if key not in drawn:
            drawn[key] = draw(*key)
        return drawn[key]

    def draw(h: int, m: str, lv: int, label: str) -> list[Any]:
        result = run(h, m, lv)
        one = result
        if groups:
            keys = _group_keys(result.summary, groups).get(label)
            if keys is None:
                raise KpiError(f"no forecast for {label} with these settings")
            same = pl.all_horizontal(pl.col(k) == x for k, x in keys.items())
            tag = ", ".join(f"{k}={x}" for k, x in keys.items()) + ":"
            one = dataclasses.replace(
                result,
                table=result.table.filter(same),
                recent=result.recent.filter(same),
                summary=result.summary.filter(same),
                notes=[n for n in result.notes if n.startswith(tag)],
            )
        ahead = one.table
        used = ahead["method"][0] if ahead.height else m
        how = f"method {used}" + (" (auto: lowest backtest WAPE)" if m == "auto" else "")
        chart = charts.forecast_chart(
            one.recent,
            ahead,
            special=result.special,
            level=lv,
            y_title=name,
            title=f"{name}{', ' + label if label else ''}: "
            f"last {fc.RECENT_DAYS} days and {h} day{'s' if h != 1 else ''} ahead",
            subtitle=f"{how}; {lv}% prediction interval",
            width=720,
        )
        return [chart, *fc.findings(one)]

    ex = Explorer(
        "Forecast what-if",
        controls,
        render,
        note="Change the horizon, method or interval level; settings seen before redraw at once.",
    )
    ex.cache = cache  # type: ignore[attr-defined]
    return ex


def _group_keys(summary: pl.DataFrame, by: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each group of a forecast summary, busiest first: its label (as
    :func:`kpi.forecast.by_group` writes it) to its key values."""
    if summary.is_empty():
        return {}
    rows = summary.sort("forecast", descending=True, nulls_last=True).select(by)
    return {", ".join(f"{k} {x}" for k, x in r.items()): r for r in rows.iter_rows(named=True)}
