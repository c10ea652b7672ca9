"""The trend chart: a KPI over time with its target, band, anomalies, levels and events, built
layer by layer (back to front) from named steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from kpi._format import d3_format
from kpi.charts._common import (
    _axis,
    _base,
    _check,
    _collect,
    _is_percent,
    _is_temporal,
    _label,
    _props,
    _time_axis,
    _unit,
    _values,
)
from kpi.charts._theme import PALETTE, STATUS_COLOURS

__all__ = ["trend_chart"]

_LANES = 4  # rows of event labels
_TS = "%Y-%m-%d %H:%M"
_GREY = "#9AA5B1"  # the line of the remaining groups


def trend_chart(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    target: float | None = None,
    band: tuple[float, float] | None = None,
    anomaly: str | None = None,
    events: pl.DataFrame | pl.LazyFrame | None = None,
    levels: pl.DataFrame | pl.LazyFrame | None = None,
    others: str | None = None,
    percent: bool | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    y_title: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """A KPI over time: line with points, target line and band, anomalies, events and levels.

    Parameters
    ----------
    frame
        One row per time bin (and per ``color`` segment): the ``x`` time column and ``y`` KPI.
    x, y
        Time column (Date/Datetime; other types are shown as ordered categories) and KPI column.
    color
        Optional segment column: one line per segment.
    target
        A target value, drawn as a dashed rule.
    band
        ``(low, high)``: a shaded acceptable band (for example amber-to-green thresholds).
    anomaly
        Optional boolean column: ``True`` rows get a large orange point with a tooltip.
    events
        Annotations with ``start_ts``, optional ``end_ts`` and ``label`` (the ``events``
        table): a rule at each start (a shaded span when there is an end) and the label on top.
        Events outside the x range of ``frame`` are left out.
    levels
        Segments between change points (``segments`` of :func:`kpi.trends.change_points`:
        ``first_period``, ``last_period``, ``mean``, and the ``color`` column if any): each
        drawn as a dashed step at its level, so a shift reads as a step, not as noise.
    others
        The ``color`` value of a line that stands for the remaining groups together: drawn
        grey and last in the legend, the other lines coloured in the order they first appear
        in ``frame``.
    percent
        Format ``y`` as a percentage (default: when ``y`` is a ratio KPI of the catalogue).
    title, subtitle, y_title, width, height
        Presentation.

    Returns
    -------
    altair.LayerChart

    Notes
    -----
    Layers, back to front: band (``rect``), target (``rule``), event spans and rules, levels
    (``rule`` from the first to the last period of each segment), the line, its points,
    anomalies, event labels. Every mark has a tooltip.

    Examples
    --------
    >>> from datetime import date
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {
    ...         "month": [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)],
    ...         "service_level": [0.82, 0.64, 0.79],
    ...         "anomaly": [False, True, False],
    ...     }
    ... )
    >>> spec = trend_chart(
    ...     df, x="month", y="service_level", target=0.8, anomaly="anomaly"
    ... ).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['rule', 'line', 'point', 'point']
    >>> spec["layer"][1]["encoding"]["y"]["axis"]["format"]
    '.0%'
    """
    import altair as alt

    df = _collect(frame)
    _check(df, x, y, color, anomaly, what="trend_chart")
    df = df.select(list(dict.fromkeys(c for c in (x, y, color, anomaly) if c)))
    axes = _axes(df, x=x, y=y, color=color, others=others, percent=percent, y_title=y_title)
    base = _base(df)
    ev = None
    if events is not None and axes.temporal:
        ev = _events_in_range(_collect(events), df, x)
    layers = [
        *_band_layers(band, axes),
        *_target_layers(target, axes),
        *_event_span_layers(ev),
        *(
            _level_layers(_collect(levels), color, axes)
            if levels is not None and axes.temporal
            else []
        ),
        *_series_layers(base, axes, anomaly),
        *_event_label_layers(ev),
    ]
    return _props(alt.layer(*layers), title, subtitle, width, height)


@dataclass(frozen=True)
class _Axes:
    """What the layers of a trend chart share: x and y encodings, tooltip, colour, format."""

    x: Any
    y: Any
    tooltip: list[Any]
    color: Any | None
    fmt: str
    temporal: bool


def _axes(
    df: pl.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None,
    others: str | None,
    percent: bool | None,
    y_title: str | None,
) -> _Axes:
    """The time axis (temporal, else ordered categories), the KPI axis and the line tooltip."""
    import altair as alt

    pct = _is_percent(y, percent)
    fmt = d3_format(_unit(y, percent))
    temporal = _is_temporal(df, x)
    x_type = "T" if temporal else "O"
    x_enc = alt.X(f"{x}:{x_type}", title=None, axis=_time_axis(df[x]) if temporal else alt.Axis())
    y_enc = alt.Y(
        f"{y}:Q", title=y_title or _label(y), axis=_axis(pct), scale=alt.Scale(zero=False)
    )
    tooltip = [
        alt.Tooltip(f"{x}:{x_type}", title=_label(x), **({"format": _TS} if temporal else {})),
        alt.Tooltip(f"{y}:Q", title=_label(y), format=fmt),
    ]
    if color:
        tooltip.insert(0, alt.Tooltip(f"{color}:N", title=_label(color)))
    colour = None
    if color:
        scale = alt.Undefined
        if others is not None:  # the named lines in the palette's order, the rest grey
            named = [v for v in df[color].unique(maintain_order=True).to_list() if v != others]
            scale = alt.Scale(
                domain=[*named, others],
                range=[*(PALETTE[i % len(PALETTE)] for i in range(len(named))), _GREY],
            )
        colour = alt.Color(f"{color}:N", title=_label(color), scale=scale)
    return _Axes(x_enc, y_enc, tooltip, colour, fmt, temporal)


def _band_layers(band: tuple[float, float] | None, axes: _Axes) -> list[Any]:
    """The acceptable band, shaded."""
    import altair as alt

    if band is None:
        return []
    low, high = band
    return [
        alt.Chart(alt.Data(values=[{"low": low, "high": high}]))
        .mark_rect(color=STATUS_COLOURS["good"], opacity=0.08)
        .encode(
            y="low:Q",
            y2="high:Q",
            tooltip=[
                alt.Tooltip("low:Q", title="band from", format=axes.fmt),
                alt.Tooltip("high:Q", title="band to", format=axes.fmt),
            ],
        )
    ]


def _target_layers(target: float | None, axes: _Axes) -> list[Any]:
    """The target, a dashed rule."""
    import altair as alt

    if target is None:
        return []
    return [
        alt.Chart(alt.Data(values=[{"target": target}]))
        .mark_rule(color=STATUS_COLOURS["neutral"], strokeDash=[6, 4], strokeWidth=1.5)
        .encode(y="target:Q", tooltip=[alt.Tooltip("target:Q", title="target", format=axes.fmt)])
    ]


def _event_tooltip(ev: pl.DataFrame) -> list[Any]:
    import altair as alt

    tip = [
        alt.Tooltip("label:N", title="event"),
        alt.Tooltip("start_ts:T", title="from", format=_TS),
        alt.Tooltip("end_ts:T", title="to", format=_TS),
    ]
    if "team" in ev.columns:
        tip.append(alt.Tooltip("team:N", title="team"))
    return tip


def _event_span_layers(ev: pl.DataFrame | None) -> list[Any]:
    """Events: a shaded span for those with an end, a rule at every start."""
    import altair as alt

    if ev is None or not ev.height:
        return []
    tip = _event_tooltip(ev)
    ev_base = alt.Chart(alt.Data(values=_values(ev)))
    layers = []
    if ev["end_ts"].is_not_null().any():
        layers.append(
            ev_base.transform_filter("datum.end_ts != null")
            .mark_rect(color=STATUS_COLOURS["warning"], opacity=0.12)
            .encode(x="start_ts:T", x2="end_ts:T", tooltip=tip)
        )
    layers.append(
        ev_base.mark_rule(color=STATUS_COLOURS["warning"], strokeWidth=1.5).encode(
            x="start_ts:T", tooltip=tip
        )
    )
    return layers


def _level_layers(lv: pl.DataFrame, color: str | None, axes: _Axes) -> list[Any]:
    """Segments between change points, each a dashed step at its level."""
    import altair as alt

    _check(lv, "first_period", "last_period", "mean", color, what="trend_chart levels")
    lv = lv.select(*([color] if color else []), "first_period", "last_period", "mean")
    if not lv.height:
        return []
    tip = [
        *([alt.Tooltip(f"{color}:N", title=_label(color))] if color else []),
        alt.Tooltip("mean:Q", title="level", format=axes.fmt),
        alt.Tooltip("first_period:T", title="from", format=_TS),
        alt.Tooltip("last_period:T", title="to", format=_TS),
    ]
    enc: dict[str, Any] = {
        "x": alt.X("first_period:T"),
        "x2": "last_period:T",
        "y": alt.Y("mean:Q"),
        "tooltip": tip,
    }
    if axes.color is not None:
        enc["color"] = axes.color
    return [
        alt.Chart(alt.Data(values=_values(lv)))
        .mark_rule(strokeDash=[8, 4], strokeWidth=2.5, opacity=0.7)
        .encode(**enc)
    ]


def _series_layers(base: Any, axes: _Axes, anomaly: str | None) -> list[Any]:
    """The KPI: line, points, and a ring around each anomaly."""
    import altair as alt

    enc: dict[str, Any] = {"x": axes.x, "y": axes.y, "tooltip": axes.tooltip}
    if axes.color is not None:
        enc["color"] = axes.color
    layers = [base.mark_line().encode(**enc), base.mark_point().encode(**enc)]
    if anomaly:
        layers.append(
            base.transform_filter(f"datum[{_js(anomaly)}] == true")
            .mark_point(size=140, color=STATUS_COLOURS["bad"], filled=False, strokeWidth=2.5)
            .encode(
                x=axes.x,
                y=axes.y,
                tooltip=[*axes.tooltip, alt.Tooltip(f"{anomaly}:N", title="anomaly")],
            )
        )
    return layers


def _event_label_layers(ev: pl.DataFrame | None) -> list[Any]:
    """Event labels along the top, in :data:`_LANES` rows so neighbours do not overlap."""
    import altair as alt

    if ev is None or not ev.height:
        return []
    tip = _event_tooltip(ev)
    labels = alt.Chart(alt.Data(values=_values(ev)))
    return [
        labels.transform_filter(f"datum.lane == {lane}")
        .mark_text(
            align="left", baseline="top", dx=4, dy=2 + 14 * lane, limit=200, color="#8a5a00"
        )
        .encode(x="start_ts:T", y=alt.value(0), text="label:N", tooltip=tip)
        for lane in range(_LANES)
    ]


def _js(name: str) -> str:
    return json.dumps(name)


def _events_in_range(events: pl.DataFrame, df: pl.DataFrame, x: str) -> pl.DataFrame:
    """Events starting within the x range (the last bin included), spans clipped to it, the
    same event for several teams merged, each with a label ``lane`` so that neighbouring labels
    do not overwrite each other."""
    _check(events, "start_ts", "label", what="trend_chart events")
    extra = [c for c in ("end_ts", "team") if c in events.columns]
    ev = events.select("start_ts", "label", *extra)
    if "end_ts" not in ev.columns:
        ev = ev.with_columns(pl.lit(None, dtype=ev.schema["start_ts"]).alias("end_ts"))
    xs = df[x].drop_nulls().sort()
    if xs.is_empty():
        return ev.clear()
    if xs.dtype == pl.Date:
        xs = xs.cast(pl.Datetime("us"))
    tz_x = getattr(xs.dtype, "time_zone", None)
    for c in ("start_ts", "end_ts"):
        dtype = ev.schema[c]
        if dtype == pl.Date:
            ev = ev.with_columns(pl.col(c).cast(pl.Datetime("us")))
            dtype = ev.schema[c]
        tz_e = getattr(dtype, "time_zone", None)
        if tz_x and tz_e and tz_x != tz_e:
            ev = ev.with_columns(pl.col(c).dt.convert_time_zone(tz_x))
        elif tz_e and not tz_x:
            ev = ev.with_columns(pl.col(c).dt.replace_time_zone(None))
        elif tz_x and not tz_e:
            ev = ev.with_columns(pl.col(c).dt.replace_time_zone(tz_x))
        ev = ev.with_columns(pl.col(c).cast(xs.dtype))
    lo, hi = xs[0], xs[-1]
    if xs.len() > 1:  # the last bin runs one step past its start: a calendar step if it fits
        hi = hi + (xs[-1] - xs[-2])
        for step in ("1d", "1w", "1mo", "1q", "1y"):
            if xs[-2:-1].dt.offset_by(step)[0] == xs[-1]:
                hi = xs[-1:].dt.offset_by(step)[0]
                break
    ev = ev.filter((pl.col("start_ts") >= lo) & (pl.col("start_ts") < hi))
    if "team" in ev.columns:  # one annotation for an event that hit several teams
        ev = ev.group_by("start_ts", "end_ts", "label", maintain_order=True).agg(
            pl.col("team").drop_nulls().unique(maintain_order=True).str.join(", ")
        )
    return ev.sort("start_ts", "label").with_columns(
        pl.when(pl.col("end_ts") > hi)
        .then(pl.lit(hi))
        .otherwise(pl.col("end_ts"))
        .alias("end_ts"),
        (pl.int_range(pl.len()) % _LANES).alias("lane"),
    )
