"""The forecast chart: recent actuals, the forecast with its prediction band, special days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from kpi.charts._common import _base, _check, _collect, _props
from kpi.charts._theme import PALETTE

__all__ = ["forecast_chart"]

_TIME = "%a %Y-%m-%d %H:%M"


#: Each interval of a line is a point a reader can hover for its tooltip (a line alone is only
#: hoverable on its thin stroke); the points are all but invisible.
_HOVER_POINT = {"filled": True, "size": 28, "opacity": 0.01}


def forecast_chart(
    history: pl.DataFrame | pl.LazyFrame,
    forecast: pl.DataFrame | pl.LazyFrame,
    *,
    x: str = "period",
    actual: str = "actual",
    value: str = "forecast",
    lower: str = "lower",
    upper: str = "upper",
    special: pl.DataFrame | pl.LazyFrame | None = None,
    level: float | None = None,
    y_title: str | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """One group's recent actuals as a line, then its forecast with the prediction band.

    Parameters
    ----------
    history
        The recent past, one row per interval: ``x`` and ``actual`` (``Forecast.recent`` of
        one group).
    forecast
        The forecast, one row per interval: ``x``, ``value``, ``lower`` and ``upper``
        (``Forecast.table`` of one group).
    special
        Special days (``Forecast.special``: ``date``, ``kind``, ``name``): each a shaded day
        with its name on top. Days outside the chart's range are left out.
    level
        The interval's level in percent, for the legend and tooltips.
    y_title, title, subtitle, width, height
        Presentation.

    Returns
    -------
    altair.LayerChart
        Layers, back to front: special days (``rect``), the band (``area``), the actuals
        (``line``), the forecast (dashed ``line``), a rule where the forecast starts, the
        special days' names (``text``). The colour legend names the series; every mark has a
        tooltip.

    Examples
    --------
    >>> from datetime import date, datetime
    >>> import polars as pl
    >>> past = pl.DataFrame(
    ...     {
    ...         "period": [datetime(2026, 3, 31, 9), datetime(2026, 3, 31, 10)],
    ...         "actual": [12.0, 15.0],
    ...     }
    ... )
    >>> ahead = pl.DataFrame(
    ...     {
    ...         "period": [datetime(2026, 4, 1, 9), datetime(2026, 4, 1, 10)],
    ...         "forecast": [13.0, 14.5],
    ...         "lower": [9.0, 10.0],
    ...         "upper": [17.0, 19.0],
    ...     }
    ... )
    >>> days = pl.DataFrame({"date": [date(2026, 4, 1)], "kind": ["event"], "name": ["mailing"]})
    >>> spec = forecast_chart(past, ahead, special=days, level=80).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['rect', 'area', 'line', 'line', 'rule', 'text']
    >>> from kpi.charts import chart_rows
    >>> sorted({row["series"] for row in chart_rows(spec, 2)})
    ['actual', 'forecast']
    >>> spec["layer"][1]["encoding"]["y2"], chart_rows(spec, 5)[0]["label"]
    ({'field': 'upper'}, 'mailing')
    """
    import altair as alt

    past = _collect(history)
    ahead = _collect(forecast)
    _check(past, x, actual, what="forecast_chart history")
    _check(ahead, x, value, lower, upper, what="forecast_chart forecast")
    band = f"{level:g}% interval" if level is not None else "interval"
    rows = pl.concat(
        [
            past.select(
                pl.col(x).alias("t"),
                pl.lit("actual").alias("series"),
                pl.col(actual).cast(pl.Float64).alias("value"),
                pl.lit(None, pl.Float64).alias("lower"),
                pl.lit(None, pl.Float64).alias("upper"),
            ),
            ahead.select(
                pl.col(x).alias("t"),
                pl.lit("forecast").alias("series"),
                pl.col(value).cast(pl.Float64).alias("value"),
                pl.col(lower).cast(pl.Float64).alias("lower"),
                pl.col(upper).cast(pl.Float64).alias("upper"),
            ),
        ],
        how="vertical_relaxed",
    ).with_columns(pl.col("value", "lower", "upper").round(2))
    start = ahead[x].min()
    base = _base(rows)
    t_enc = alt.X("t:T", title=None)
    y_name = y_title or "Contacts offered"
    y_enc = alt.Y("value:Q", title=y_name)
    colour = alt.Color(
        "series:N",
        scale=alt.Scale(domain=["actual", "forecast"], range=[PALETTE[0], PALETTE[1]]),
        title=None,
    )
    tip = [
        alt.Tooltip("t:T", title="interval", format=_TIME),
        alt.Tooltip("series:N", title="series"),
        alt.Tooltip("value:Q", title="value", format=",.1f"),
    ]
    band_tip = [*tip, alt.Tooltip("lower:Q", title=f"{band}: from", format=",.0f")]
    band_tip.append(alt.Tooltip("upper:Q", title="to", format=",.0f"))
    area = (
        base.transform_filter("datum.series === 'forecast'")
        .mark_area(color=PALETTE[1], opacity=0.25)
        .encode(x=t_enc, y=alt.Y("lower:Q", title=y_name), y2="upper:Q", tooltip=band_tip)
    )
    line_actual = (
        base.transform_filter("datum.series === 'actual'")
        .mark_line(strokeWidth=1.5, point=_HOVER_POINT)
        .encode(x=t_enc, y=y_enc, color=colour, tooltip=tip)
    )
    line_fc = (
        base.transform_filter("datum.series === 'forecast'")
        .mark_line(strokeWidth=1.5, strokeDash=[5, 3], point=_HOVER_POINT)
        .encode(x=t_enc, y=y_enc, color=colour, tooltip=band_tip)
    )
    marks = rows.select(pl.lit(start).alias("t"), pl.lit("forecast starts").alias("label")).head(1)
    rule = (
        _base(marks)
        .mark_rule(color="#555", strokeDash=[2, 2])
        .encode(x="t:T", tooltip=[alt.Tooltip("t:T", title="forecast starts", format=_TIME)])
    )
    days = _special_days(special, rows["t"].min(), rows["t"].max())
    spans = (
        _base(days)
        .mark_rect(color="#999", opacity=0.15)
        .encode(
            x="start:T",
            x2="end:T",
            tooltip=[
                alt.Tooltip("label:N", title="special day"),
                alt.Tooltip("kind:N", title="kind"),
                alt.Tooltip("start:T", title="date", format="%a %Y-%m-%d"),
            ],
        )
    )
    labels = (
        _base(days)
        .mark_text(align="left", baseline="top", dx=2, dy=2, fontSize=10, color="#444")
        .encode(
            x="start:T",
            y=alt.value(0),
            text="label:N",
            tooltip=[alt.Tooltip("label:N", title="special day")],
        )
    )
    chart = alt.layer(spans, area, line_actual, line_fc, rule, labels)
    return _props(chart, title, subtitle, width, height)


def _special_days(special: pl.DataFrame | pl.LazyFrame | None, first: Any, last: Any) -> Any:
    """Special days within [first, last] as ``start``, ``end`` (the next midnight), ``kind``,
    ``label`` (the day's name; naive wall-clock times, as the other layers). ``name`` is not
    used as a field: reports mask a column of that name as a person's."""
    empty = pl.DataFrame(
        schema={
            "start": pl.Datetime("us"),
            "end": pl.Datetime("us"),
            "kind": pl.String,
            "label": pl.String,
        }
    )
    if special is None or first is None:
        return empty
    df = _collect(special)
    if df.is_empty():
        return empty
    naive = lambda v: v.replace(tzinfo=None) if getattr(v, "tzinfo", None) else v  # noqa: E731
    lo = naive(first).date() if hasattr(first, "date") else first
    hi = naive(last).date() if hasattr(last, "date") else last
    df = df.filter((pl.col("date") >= lo) & (pl.col("date") <= hi))
    return df.select(
        pl.col("date").cast(pl.Datetime("us")).alias("start"),
        (pl.col("date").cast(pl.Datetime("us")) + timedelta(days=1)).alias("end"),
        pl.col("kind"),
        pl.col("name").alias("label"),
    )
