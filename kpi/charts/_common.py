"""What every chart builder shares: collecting and checking the frame, rows as JSON for the
browser, KPI labels and units from the catalogue, axes, and title properties.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import polars as pl

from kpi._format import format_value
from kpi.charts._theme import enable

_RATIO_UNITS = ("ratio",)


def _collect(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _check(df: pl.DataFrame, *columns: str | None, what: str) -> None:
    from kpi.errors import KpiError

    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise KpiError(
            f"{what}: no column {', '.join(repr(c) for c in missing)}; "
            f"the frame has: {', '.join(df.columns) or 'no columns'}"
        )


def _values(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts; times as site wall-clock ISO text without an offset."""
    return [{k: _json_safe(v) for k, v in row.items()} for row in _frame(df).iter_rows(named=True)]


def chart_rows(spec: dict[str, Any], layer: int | None = None) -> list[dict[str, Any]]:
    """The rows a chart's spec (``chart.to_dict()``), or one of its layers, draws: its inline
    ``values``, else the top-level dataset it names (where altair writes a frame's rows).

    Examples
    --------
    >>> chart_rows({"data": {"name": "d"}, "datasets": {"d": [{"n": 1}]}})
    [{'n': 1}]
    >>> chart_rows({"layer": [{"data": {"values": [{"n": 2}]}}]}, 0)
    [{'n': 2}]
    """
    data = (spec["layer"][layer] if layer is not None else spec).get("data") or spec["data"]
    return data["values"] if "values" in data else spec["datasets"][data["name"]]


def _frame(df: pl.DataFrame) -> pl.DataFrame:
    """The rows ready for JSON, kept a frame: times as site wall-clock ISO text without an
    offset, NaN as null. A chart given the frame (:func:`_base`) has altair write its rows once,
    in ``to_dict()``, into the spec's ``datasets``, instead of validating, copying and walking a
    list of rows each time it is made, layered or written."""
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone:
                col = col.dt.replace_time_zone(None)
            exprs.append(col.dt.strftime("%Y-%m-%dT%H:%M:%S").alias(name))
        elif dtype == pl.Date:
            exprs.append(col.dt.strftime("%Y-%m-%dT00:00:00").alias(name))
        elif dtype == pl.Time:
            exprs.append(col.dt.strftime("%H:%M").alias(name))
        elif dtype == pl.Duration:
            exprs.append(col.dt.total_seconds(fractional=True).alias(name))
        elif isinstance(dtype, (pl.List, pl.Array, pl.Struct, pl.Object)):
            exprs.append(col.cast(pl.String, strict=False).alias(name))
        elif dtype.is_float():
            exprs.append(col.fill_nan(None).alias(name))
    return df.with_columns(exprs) if exprs else df


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and v != v:  # NaN -> null
        return None
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    return v


def _is_temporal(df: pl.DataFrame, column: str) -> bool:
    dtype = df.schema[column]
    return isinstance(dtype, pl.Datetime) or dtype == pl.Date


def _metric(column: str) -> Any:
    try:
        from kpi.metrics import METRICS
    except ImportError:  # pragma: no cover - the catalogue is part of the package
        return None
    return METRICS.get(column)


def _is_percent(column: str, percent: bool | None) -> bool:  # noqa: FBT001
    if percent is not None:
        return percent
    metric = _metric(column)
    return metric is not None and metric.unit in _RATIO_UNITS


def _unit(column: str, percent: bool | None) -> str | None:  # noqa: FBT001
    """The unit a column's values are formatted in: ``ratio`` when shown as a percentage,
    else the KPI's unit in the catalogue (``None`` for other columns)."""
    if _is_percent(column, percent):
        return "ratio"
    metric = _metric(column)
    return None if metric is None or metric.unit in _RATIO_UNITS else metric.unit


def _label(column: str) -> str:
    metric = _metric(column)
    if metric is not None:
        return metric.label
    return column.replace("_", " ").capitalize()


_STEPS = (
    ("1y", "%Y", "year"),
    ("1q", "%b %Y", "month"),
    ("1mo", "%b %Y", "month"),
    ("1w", "%d %b", "week"),
    ("1d", "%d %b", "day"),
)


def _time_axis(xs: pl.Series) -> Any:
    """Month, quarter and year bins get month/year ticks and labels; others Vega's default."""
    import altair as alt

    xs = xs.drop_nulls().unique().sort()
    if xs.len() < 2:
        return alt.Axis()
    if xs.dtype == pl.Date:
        xs = xs.cast(pl.Datetime("us"))
    for step, fmt, interval in _STEPS:
        if (xs.head(-1).dt.offset_by(step) == xs.tail(-1)).all():
            if interval in ("year", "month"):
                return alt.Axis(
                    format=fmt, tickCount={"interval": interval, "step": 3 if step == "1q" else 1}
                )
            return alt.Axis(format=fmt)
    return alt.Axis()


def _axis(percent: bool) -> Any:  # noqa: FBT001
    import altair as alt

    return alt.Axis(format=".0%") if percent else alt.Axis()


def _num(value: float, *, percent: bool, signed: bool) -> str:
    """Label text as findings and tables print it: ``+2.0 pp`` for a change of a ratio,
    ``67.5%`` for a ratio, ``−1,240``, ``0.75`` (:func:`kpi._format.format_value`)."""
    return format_value(value, "ratio" if percent else None, signed=signed)


def _base(df: pl.DataFrame):
    import altair as alt

    enable()
    return alt.Chart(_frame(df))


def _props(
    chart: Any, title: str | None, subtitle: str | None, width: int | None, height: int | None
) -> Any:
    props: dict[str, Any] = {}
    if subtitle:
        props["title"] = {"text": title or "", "subtitle": subtitle}
    elif title:
        props["title"] = title
    if width:
        props["width"] = width
    if height:
        props["height"] = height
    return chart.properties(**props) if props else chart
