"""Altair chart builders for KPI reports, with one registered theme.

Every builder takes an *already aggregated* polars frame (eager or lazy; it is collected here,
at the edge) and returns an ``altair`` chart that the caller can keep chaining. All charts share
the ``kpi`` theme (registered with altair's theme API and enabled on first use): a colour-blind
safe palette (Okabe-Ito), readable fonts, tooltips on every mark, and percentage axes for
ratios (fractions in [0, 1]; a KPI id from :mod:`kpi.metrics` with unit ``ratio`` is formatted
as a percentage automatically).

Time stamps are sent to the browser as the site's wall-clock time without an offset, so a chart
reads the same in every viewer's time zone.

The module imports altair only when a chart is built, so ``import kpi.charts`` stays cheap.
:func:`enable` also registers a ``kpi`` renderer: in a notebook it shows the chart through
altair's HTML renderer and also carries the Vega-Lite spec (``application/vnd.vegalite.v6+json``)
that :func:`kpi.report.render` embeds offline; under the report renderer (``KPI_REPORT_RENDER=1``)
it emits only the spec.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import polars as pl

from kpi._vega import SPEC_MIME, enable_renderer

__all__ = [
    "PALETTE",
    "SPEC_MIME",
    "STATUS_COLOURS",
    "THEME",
    "bar_chart",
    "effects_chart",
    "enable",
    "heatmap_chart",
    "staffing_chart",
    "status_chart",
    "trend_chart",
    "waterfall_chart",
]

#: Okabe-Ito colour-blind safe palette (blue, orange, bluish green, reddish purple, sky blue,
#: vermillion, yellow, black).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Good / warning / bad / neutral, distinguishable without red-green vision.
STATUS_COLOURS = {"good": "#0072B2", "warning": "#E69F00", "bad": "#D55E00", "neutral": "#7B8794"}
_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_RATIO_UNITS = ("ratio",)
_LANES = 4  # rows of event labels

#: The ``kpi`` theme: the ``config`` every chart gets.
THEME: dict[str, Any] = {
    "config": {
        "font": _FONT,
        "background": "#ffffff",
        "view": {"stroke": None, "continuousWidth": 720, "continuousHeight": 260},
        "range": {
            "category": list(PALETTE),
            "ordinal": {"scheme": "blues"},
            "heatmap": {"scheme": "viridis"},
            "ramp": {"scheme": "viridis"},
            "diverging": {"scheme": "blueorange"},
        },
        "title": {
            "anchor": "start",
            "fontSize": 15,
            "fontWeight": 600,
            "color": "#1f2933",
            "subtitleColor": "#5f6b7a",
            "subtitleFontSize": 12,
            "offset": 10,
        },
        "axis": {
            "labelFontSize": 12,
            "titleFontSize": 12,
            "titleFontWeight": 500,
            "labelColor": "#3e4c59",
            "titleColor": "#3e4c59",
            "gridColor": "#e4e7eb",
            "domainColor": "#9aa5b1",
            "tickColor": "#9aa5b1",
        },
        "axisX": {"grid": False, "labelAngle": 0},
        "legend": {
            "orient": "bottom",
            "labelFontSize": 12,
            "titleFontSize": 12,
            "symbolType": "circle",
        },
        "header": {"labelFontSize": 12, "titleFontSize": 12},
        "line": {"strokeWidth": 2.2},
        "mark": {"color": PALETTE[0]},
        "point": {"size": 45, "filled": True},
        "bar": {"cornerRadiusEnd": 2},
        "text": {"fontSize": 11, "color": "#3e4c59"},
    }
}

_enabled = False


def enable() -> None:
    """Register and enable the ``kpi`` theme and renderer (idempotent; builders call it).

    Examples
    --------
    >>> import altair as alt
    >>> enable()
    >>> alt.theme.active, alt.renderers.active
    ('kpi', 'kpi')
    """
    global _enabled
    import altair as alt

    if not _enabled:
        alt.theme.register("kpi", enable=False)(_theme)
        _enabled = True
    alt.theme.enable("kpi")
    enable_renderer()


def _theme() -> dict[str, Any]:
    return THEME


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


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
    if exprs:
        df = df.with_columns(exprs)
    return [{k: _json_safe(v) for k, v in row.items()} for row in df.iter_rows(named=True)]


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and v != v:  # NaN -> null
        return None
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    return v


def _is_temporal(df: pl.DataFrame, column: str) -> bool:
    dtype = df.schema[column]
    return isinstance(dtype, pl.Datetime) or dtype == pl.Date


def _is_percent(column: str, percent: bool | None) -> bool:  # noqa: FBT001
    if percent is not None:
        return percent
    try:
        from kpi.metrics import METRICS
    except ImportError:  # pragma: no cover - the catalogue is part of the package
        return False
    metric = METRICS.get(column)
    return metric is not None and metric.unit in _RATIO_UNITS


def _label(column: str) -> str:
    try:
        from kpi.metrics import METRICS

        metric = METRICS.get(column)
    except ImportError:  # pragma: no cover
        metric = None
    if metric is not None:
        return metric.label
    return column.replace("_", " ").capitalize()


def _fmt(percent: bool) -> str:  # noqa: FBT001
    return ".1%" if percent else ",.2~f"


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
    """Label text: ``+12.5%``, ``-1,240``, ``0.75``."""
    sign = "+" if signed else ""
    if percent:
        return f"{value:{sign}.1%}"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:{sign},.0f}"
    return f"{value:{sign},.2f}"


def _base(df: pl.DataFrame):
    import altair as alt

    enable()
    return alt.Chart(alt.Data(values=_values(df)))


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


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------


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
    pct = _is_percent(y, percent)
    temporal = _is_temporal(df, x)
    x_type = "temporal" if temporal else "ordinal"
    x_enc = alt.X(
        f"{x}:{x_type[0].upper()}", title=None, axis=_time_axis(df[x]) if temporal else alt.Axis()
    )
    y_enc = alt.Y(
        f"{y}:Q",
        title=y_title or _label(y),
        axis=_axis(pct),
        scale=alt.Scale(zero=False),
    )
    tooltip = [
        alt.Tooltip(
            f"{x}:{x_type[0].upper()}",
            title=_label(x),
            **({"format": "%Y-%m-%d %H:%M"} if temporal else {}),
        ),
        alt.Tooltip(f"{y}:Q", title=_label(y), format=_fmt(pct)),
    ]
    if color:
        tooltip.insert(0, alt.Tooltip(f"{color}:N", title=_label(color)))
    base = _base(df)
    layers: list[Any] = []
    if band is not None:
        low, high = band
        layers.append(
            alt.Chart(alt.Data(values=[{"low": low, "high": high}]))
            .mark_rect(color=STATUS_COLOURS["good"], opacity=0.08)
            .encode(
                y="low:Q",
                y2="high:Q",
                tooltip=[
                    alt.Tooltip("low:Q", title="band from", format=_fmt(pct)),
                    alt.Tooltip("high:Q", title="band to", format=_fmt(pct)),
                ],
            )
        )
    if target is not None:
        layers.append(
            alt.Chart(alt.Data(values=[{"target": target}]))
            .mark_rule(color=STATUS_COLOURS["neutral"], strokeDash=[6, 4], strokeWidth=1.5)
            .encode(
                y="target:Q", tooltip=[alt.Tooltip("target:Q", title="target", format=_fmt(pct))]
            )
        )
    ev = None
    ev_tip: list[Any] = []
    if events is not None and temporal:
        ev = _events_in_range(_collect(events), df, x)
        if ev.height:
            ev_tip = [
                alt.Tooltip("label:N", title="event"),
                alt.Tooltip("start_ts:T", title="from", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("end_ts:T", title="to", format="%Y-%m-%d %H:%M"),
            ]
            if "team" in ev.columns:
                ev_tip.append(alt.Tooltip("team:N", title="team"))
            ev_base = alt.Chart(alt.Data(values=_values(ev)))
            if ev["end_ts"].is_not_null().any():
                layers.append(
                    ev_base.transform_filter("datum.end_ts != null")
                    .mark_rect(color=STATUS_COLOURS["warning"], opacity=0.12)
                    .encode(x="start_ts:T", x2="end_ts:T", tooltip=ev_tip)
                )
            layers.append(
                ev_base.mark_rule(color=STATUS_COLOURS["warning"], strokeWidth=1.5).encode(
                    x="start_ts:T", tooltip=ev_tip
                )
            )
    enc: dict[str, Any] = {"x": x_enc, "y": y_enc, "tooltip": tooltip}
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=_label(color))
    if levels is not None and temporal:
        lv = _collect(levels)
        _check(lv, "first_period", "last_period", "mean", color, what="trend_chart levels")
        lv = lv.select(*([color] if color else []), "first_period", "last_period", "mean")
        if lv.height:
            lv_tip = [
                *([alt.Tooltip(f"{color}:N", title=_label(color))] if color else []),
                alt.Tooltip("mean:Q", title="level", format=_fmt(pct)),
                alt.Tooltip("first_period:T", title="from", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("last_period:T", title="to", format="%Y-%m-%d %H:%M"),
            ]
            lv_enc: dict[str, Any] = {
                "x": alt.X("first_period:T"),
                "x2": "last_period:T",
                "y": alt.Y("mean:Q"),
                "tooltip": lv_tip,
            }
            if color:
                lv_enc["color"] = alt.Color(f"{color}:N", title=_label(color))
            layers.append(
                alt.Chart(alt.Data(values=_values(lv)))
                .mark_rule(strokeDash=[8, 4], strokeWidth=2.5, opacity=0.7)
                .encode(**lv_enc)
            )
    layers.append(base.mark_line().encode(**enc))
    layers.append(base.mark_point().encode(**enc))
    if anomaly:
        layers.append(
            base.transform_filter(f"datum[{_js(anomaly)}] == true")
            .mark_point(size=140, color=STATUS_COLOURS["bad"], filled=False, strokeWidth=2.5)
            .encode(
                x=x_enc, y=y_enc, tooltip=[*tooltip, alt.Tooltip(f"{anomaly}:N", title="anomaly")]
            )
        )
    if ev is not None and ev.height:
        labels = alt.Chart(alt.Data(values=_values(ev)))
        for lane in range(_LANES):
            layers.append(
                labels.transform_filter(f"datum.lane == {lane}")
                .mark_text(
                    align="left",
                    baseline="top",
                    dx=4,
                    dy=2 + 14 * lane,
                    limit=200,
                    color="#8a5a00",
                )
                .encode(x="start_ts:T", y=alt.value(0), text="label:N", tooltip=ev_tip)
            )
    return _props(alt.layer(*layers), title, subtitle, width, height)


def _js(name: str) -> str:
    import json

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


def bar_chart(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    category: str,
    value: str,
    color: str | None = None,
    previous: str | None = None,
    target: float | None = None,
    percent: bool | None = None,
    sort: str = "descending",
    title: str | None = None,
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """A KPI by segment: horizontal bars, optionally with the comparison period and a target.

    Parameters
    ----------
    frame
        One row per segment (``category``), the KPI in ``value``.
    category, value
        Segment column and KPI column.
    color
        Optional column to colour bars by (for example ``status``); default one colour.
    previous
        Optional column with the comparison period's value: a black tick on each bar.
    target
        Optional target: a dashed rule.
    percent
        Format as percentage (default: when ``value`` is a ratio KPI of the catalogue).
    sort
        ``"descending"``, ``"ascending"`` (by value) or ``"none"`` (frame order).

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"team": ["A", "B"], "aht": [310.0, 420.0], "aht_prev": [300.0, 330.0]})
    >>> spec = bar_chart(df, category="team", value="aht", previous="aht_prev").to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['bar', 'tick']
    >>> spec["layer"][0]["encoding"]["y"]["sort"]
    ['B', 'A']
    """
    import altair as alt

    df = _collect(frame)
    _check(df, category, value, color, previous, what="bar_chart")
    df = df.select(list(dict.fromkeys(c for c in (category, value, color, previous) if c)))
    pct = _is_percent(value, percent)
    if sort not in ("descending", "ascending", "none"):
        from kpi.errors import KpiError

        raise KpiError(f"bad sort {sort!r}; valid: descending, ascending, none")
    ordered = (
        df if sort == "none" else df.sort(value, descending=sort == "descending", nulls_last=True)
    )
    categories = [str(c) for c in ordered[category].to_list()]
    y_enc = alt.Y(f"{category}:N", title=None, sort=list(dict.fromkeys(categories)))
    x_enc = alt.X(f"{value}:Q", title=_label(value), axis=_axis(pct))
    tooltip = [
        alt.Tooltip(f"{category}:N", title=_label(category)),
        alt.Tooltip(f"{value}:Q", title=_label(value), format=_fmt(pct)),
    ]
    if previous:
        tooltip.append(alt.Tooltip(f"{previous}:Q", title="comparison period", format=_fmt(pct)))
    if color:
        tooltip.append(alt.Tooltip(f"{color}:N", title=_label(color)))
    base = _base(df)
    enc: dict[str, Any] = {"y": y_enc, "x": x_enc, "tooltip": tooltip}
    if color:
        enc["color"] = alt.Color(f"{color}:N", title=_label(color))
    layers = [base.mark_bar(color=PALETTE[0]).encode(**enc)]
    if previous:
        layers.append(
            base.mark_tick(color="#1f2933", thickness=2, size=18).encode(
                y=y_enc, x=alt.X(f"{previous}:Q"), tooltip=tooltip
            )
        )
    if target is not None:
        layers.append(
            alt.Chart(alt.Data(values=[{"target": target}]))
            .mark_rule(color=STATUS_COLOURS["neutral"], strokeDash=[6, 4])
            .encode(
                x="target:Q", tooltip=[alt.Tooltip("target:Q", title="target", format=_fmt(pct))]
            )
        )
    if previous and subtitle is None:
        subtitle = "bars: this period; ticks: comparison period"
    return _props(alt.layer(*layers), title, subtitle, width, height)


def waterfall_chart(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    label: str = "driver",
    value: str = "contribution",
    start: tuple[str, float] | None = None,
    end: tuple[str, float] | None = None,
    percent: bool = False,
    title: str | None = None,
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """A waterfall of driver contributions from one total to another.

    Parameters
    ----------
    frame
        One row per driver, in display order: ``label`` and its signed contribution ``value``.
    start, end
        Optional ``(label, total)`` bars before and after the drivers, e.g.
        ``("January", 1200)`` and ``("February", 900)``. Without ``start`` the steps start at 0.
    percent
        Format values as percentages (contributions to a ratio, in fraction points).

    Returns
    -------
    altair.LayerChart
        Bars from the running total before each step to the one after it; increases blue,
        decreases vermillion, totals grey; a label with the signed value on each bar.

    Notes
    -----
    ``before_i = start + Σ_{j<i} value_j``, ``after_i = before_i + value_i``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"driver": ["attrition", "new topic"], "contribution": [-150.0, -60.0]})
    >>> spec = waterfall_chart(df, start=("Jan", 1000.0), end=("Feb", 790.0)).to_dict()
    >>> [(r["step"], r["before"], r["after"], r["kind"]) for r in spec["data"]["values"]]
    [('Jan', 0.0, 1000.0, 'total'), ('attrition', 1000.0, 850.0, 'decrease'), ('new topic', 850.0, 790.0, 'decrease'), ('Feb', 0.0, 790.0, 'total')]
    """
    import altair as alt

    df = _collect(frame)
    _check(df, label, value, what="waterfall_chart")
    rows: list[dict[str, Any]] = []
    running = 0.0
    if start is not None:
        running = float(start[1])
        rows.append(
            {
                "step": str(start[0]),
                "before": 0.0,
                "after": running,
                "amount": running,
                "kind": "total",
            }
        )
    for lab, val in df.select(label, value).iter_rows():
        v = 0.0 if val is None else float(val)
        rows.append(
            {
                "step": str(lab),
                "before": running,
                "after": running + v,
                "amount": v,
                "kind": "increase" if v >= 0 else "decrease",
            }
        )
        running += v
    if end is not None:
        rows.append(
            {
                "step": str(end[0]),
                "before": 0.0,
                "after": float(end[1]),
                "amount": float(end[1]),
                "kind": "total",
            }
        )
    fmt = _fmt(percent)
    for r in rows:
        r["text"] = _num(r["amount"], percent=percent, signed=r["kind"] != "total")
    order = [r["step"] for r in rows]
    data = alt.Data(values=rows)
    enable()
    x_enc = alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=140))
    colour = alt.Color(
        "kind:N",
        title=None,
        scale=alt.Scale(
            domain=["increase", "decrease", "total"],
            range=[STATUS_COLOURS["good"], STATUS_COLOURS["bad"], STATUS_COLOURS["neutral"]],
        ),
    )
    tooltip = [
        alt.Tooltip("step:N", title="step"),
        alt.Tooltip("text:N", title="change or total"),
        alt.Tooltip("before:Q", title="from", format=fmt),
        alt.Tooltip("after:Q", title="to", format=fmt),
    ]
    bars = (
        alt.Chart(data)
        .mark_bar(size=34)
        .encode(
            x=x_enc,
            y=alt.Y("before:Q", title=None, axis=_axis(percent)),
            y2="after:Q",
            color=colour,
            tooltip=tooltip,
        )
    )
    labels = (
        alt.Chart(data)
        .mark_text(dy=-6, baseline="bottom")
        .encode(
            x=x_enc,
            y=alt.Y("top:Q"),
            text="text:N",
            tooltip=tooltip,
        )
        .transform_calculate(top="max(datum.before, datum.after)")
    )
    return _props(alt.layer(bars, labels), title, subtitle, width or 640, height)


def heatmap_chart(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    value: str,
    x: str = "interval",
    y: str = "weekday",
    percent: bool | None = None,
    scheme: str = "viridis",
    title: str | None = None,
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """A weekday × interval heatmap of a KPI or a volume.

    Parameters
    ----------
    frame
        One row per (``y``, ``x``) cell with ``value``.
    value
        The measure shown as colour.
    x
        Time of day: a ``Time`` column, ``"HH:MM"`` text, or any ordered label.
    y
        Weekday: ISO numbers 1-7 (Monday = 1) or names; shown Monday to Sunday.
    percent
        Format as percentage (default: when ``value`` is a ratio KPI of the catalogue).
    scheme
        A colour-blind safe Vega scheme: ``viridis`` (default), ``cividis``, ``blues``.

    Returns
    -------
    altair.Chart

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {"weekday": [1, 1, 7], "interval": ["08:00", "08:30", "08:00"], "offered": [5, 9, 2]}
    ... )
    >>> spec = heatmap_chart(df, value="offered").to_dict()
    >>> spec["mark"]["type"], spec["encoding"]["y"]["sort"][:2]
    ('rect', ['Monday', 'Tuesday'])
    >>> sorted({r["weekday"] for r in spec["data"]["values"]})
    ['Monday', 'Sunday']
    """
    import altair as alt

    df = _collect(frame)
    _check(df, x, y, value, what="heatmap_chart")
    df = df.select(list(dict.fromkeys((x, y, value))))
    pct = _is_percent(value, percent)
    if df.schema[y].is_integer():
        df = df.with_columns(
            pl.col(y).replace_strict(
                list(range(1, 8)), list(_WEEKDAYS), default=None, return_dtype=pl.String
            )
        )
    elif isinstance(df.schema[y], (pl.Date, pl.Datetime)):
        df = df.with_columns(
            pl.col(y)
            .dt.weekday()
            .replace_strict(list(range(1, 8)), list(_WEEKDAYS), return_dtype=pl.String)
        )
    if df.schema[x] == pl.Time or isinstance(df.schema[x], pl.Datetime):
        df = df.with_columns(pl.col(x).dt.strftime("%H:%M"))
    xs = sorted(df[x].drop_nulls().cast(pl.String).unique().to_list())
    chart = (
        _base(df)
        .mark_rect()
        .encode(
            x=alt.X(f"{x}:O", title="Time of day", sort=xs, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y(f"{y}:O", title=None, sort=list(_WEEKDAYS)),
            color=alt.Color(
                f"{value}:Q",
                title=_label(value),
                scale=alt.Scale(scheme=scheme),
                legend=alt.Legend(format=".0%", orient="right")
                if pct
                else alt.Legend(orient="right"),
            ),
            tooltip=[
                alt.Tooltip(f"{y}:O", title="weekday"),
                alt.Tooltip(f"{x}:O", title="time"),
                alt.Tooltip(f"{value}:Q", title=_label(value), format=_fmt(pct)),
            ],
        )
    )
    return _props(chart, title, subtitle, width, height)


def staffing_chart(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    x: str = "interval_start",
    required: str = "required",
    actual: str = "actual",
    title: str | None = None,
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """Required against actual agents by interval, with the shortfall marked.

    Parameters
    ----------
    frame
        One row per interval: ``x`` (interval start), ``required`` and ``actual`` agents
        (fractional FTE allowed).

    Returns
    -------
    altair.LayerChart
        Actual agents as a blue area, required as a vermillion step line, and the intervals
        with ``actual < required`` as vermillion points; tooltips show both and the gap.

    Notes
    -----
    ``gap = actual − required`` (negative = understaffed).

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {
    ...         "interval_start": [datetime(2026, 2, 2, 8), datetime(2026, 2, 2, 8, 30)],
    ...         "required": [10.4, 12.0],
    ...         "actual": [11.0, 9.0],
    ...     }
    ... )
    >>> spec = staffing_chart(df).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['area', 'line', 'point']
    >>> [r["gap"] for r in spec["data"]["values"]]
    [0.6, -3.0]
    """
    import altair as alt

    df = _collect(frame)
    _check(df, x, required, actual, what="staffing_chart")
    df = df.select(list(dict.fromkeys((x, required, actual))))
    df = df.with_columns((pl.col(actual) - pl.col(required)).round(2).alias("gap"))
    temporal = _is_temporal(df, x)
    x_enc = alt.X(f"{x}:{'T' if temporal else 'O'}", title=None)
    tooltip = [
        alt.Tooltip(
            f"{x}:{'T' if temporal else 'O'}",
            title="interval",
            **({"format": "%a %Y-%m-%d %H:%M"} if temporal else {}),
        ),
        alt.Tooltip(f"{required}:Q", title="required agents", format=",.1f"),
        alt.Tooltip(f"{actual}:Q", title="actual agents", format=",.1f"),
        alt.Tooltip("gap:Q", title="gap (actual − required)", format="+,.1f"),
    ]
    base = _base(df)
    area = base.mark_area(color=PALETTE[0], opacity=0.35, interpolate="step-after").encode(
        x=x_enc, y=alt.Y(f"{actual}:Q", title="Agents"), tooltip=tooltip
    )
    line = base.mark_line(
        color=STATUS_COLOURS["bad"], interpolate="step-after", strokeWidth=2
    ).encode(x=x_enc, y=alt.Y(f"{required}:Q"), tooltip=tooltip)
    short = (
        base.transform_filter("datum.gap < 0")
        .mark_point(color=STATUS_COLOURS["bad"], size=50)
        .encode(x=x_enc, y=alt.Y(f"{actual}:Q"), tooltip=tooltip)
    )
    return _props(alt.layer(area, line, short), title, subtitle, width, height)


def status_chart(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    category: str = "perspective",
    status: str = "status",
    count: str = "kpis",
    title: str | None = None,
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """How many KPIs are green, amber and red per group: stacked horizontal bars.

    Parameters
    ----------
    frame
        One row per group and status with the number of KPIs (e.g.
        :func:`kpi.views.status_counts`).
    category, status, count
        Group column (perspective, key result area, team), status column (``green``,
        ``amber``, ``red``) and count column.

    Returns
    -------
    altair.Chart
        Bars stacked green, amber, red from the left, drawn in the colour-blind safe
        :data:`STATUS_COLOURS` (blue, orange, vermillion); the legend and tooltips name the
        status, so colour is never the only signal.

    Notes
    -----
    Groups keep the order of their first row in ``frame``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {"perspective": ["customer", "customer"], "status": ["green", "red"], "kpis": [3, 2]}
    ... )
    >>> spec = status_chart(df).to_dict()
    >>> spec["mark"]["type"], spec["encoding"]["color"]["scale"]["range"]
    ('bar', ['#0072B2', '#E69F00', '#D55E00'])
    """
    import altair as alt

    df = _collect(frame)
    _check(df, category, status, count, what="status_chart")
    df = df.select(category, status, count).with_columns(
        pl.col(status)
        .replace_strict(["green", "amber", "red"], [0, 1, 2], default=3)
        .alias("status_order")
    )
    groups = [str(c) for c in dict.fromkeys(df[category].to_list())]
    tooltip = [
        alt.Tooltip(f"{category}:N", title=_label(category)),
        alt.Tooltip(f"{status}:N", title="status"),
        alt.Tooltip(f"{count}:Q", title="KPIs", format=",d"),
    ]
    chart = (
        _base(df)
        .mark_bar()
        .encode(
            y=alt.Y(f"{category}:N", title=None, sort=groups),
            x=alt.X(f"{count}:Q", title="KPIs", stack="zero", axis=alt.Axis(tickMinStep=1)),
            color=alt.Color(
                f"{status}:N",
                title="status",
                scale=alt.Scale(
                    domain=["green", "amber", "red"],
                    range=[
                        STATUS_COLOURS["good"],
                        STATUS_COLOURS["warning"],
                        STATUS_COLOURS["bad"],
                    ],
                ),
            ),
            order=alt.Order("status_order:Q"),
            tooltip=tooltip,
        )
    )
    return _props(chart, title, subtitle, width, height)


def effects_chart(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    category: str = "segment",
    effect: str = "effect",
    value: str = "value",
    percent: bool = False,
    title: str | None = None,
    subtitle: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Any:
    """Signed contributions of segments, split into effects: diverging stacked bars.

    Parameters
    ----------
    frame
        One row per segment and effect (e.g. :func:`kpi.views.effects_frame`: ``mix`` and
        ``rate`` effects of a ratio KPI, or the whole ``change`` of an additive one).
    category, effect, value
        Segment column, effect column and signed contribution column.
    percent
        Format values as percentages (contributions to a ratio, in fraction points).

    Returns
    -------
    altair.LayerChart
        Horizontal bars from zero (left: the KPI went down; right: up), one colour per effect,
        a rule at zero, a tooltip with the segment, the effect and its value.

    Notes
    -----
    A segment's bars add up to its contribution: ``mix + rate = contribution``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {
    ...         "segment": ["team A", "team A", "team B"],
    ...         "effect": ["mix", "rate", "mix"],
    ...         "value": [0.01, -0.3, 0.02],
    ...     }
    ... )
    >>> spec = effects_chart(df, percent=True).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['bar', 'rule']
    >>> spec["layer"][0]["encoding"]["y"]["sort"], spec["layer"][0]["encoding"]["x"]["axis"]
    (['team A', 'team B'], {'format': '.0%'})
    """
    import altair as alt

    df = _collect(frame)
    _check(df, category, effect, value, what="effects_chart")
    df = df.select(category, effect, value)
    segments = [str(c) for c in dict.fromkeys(df[category].to_list())]
    effects = [str(c) for c in dict.fromkeys(df[effect].to_list())]
    fmt = ".2%" if percent else ",.2~f"
    tooltip = [
        alt.Tooltip(f"{category}:N", title=_label(category)),
        alt.Tooltip(f"{effect}:N", title="effect"),
        alt.Tooltip(f"{value}:Q", title="contribution", format=fmt),
    ]
    bars = (
        _base(df)
        .mark_bar()
        .encode(
            y=alt.Y(f"{category}:N", title=None, sort=segments, axis=alt.Axis(labelLimit=260)),
            x=alt.X(f"{value}:Q", title="contribution to the change", axis=_axis(percent)),
            color=alt.Color(
                f"{effect}:N",
                title="effect",
                scale=alt.Scale(domain=effects, range=list(PALETTE[: len(effects)])),
            ),
            tooltip=tooltip,
        )
    )
    zero = (
        alt.Chart(alt.Data(values=[{"zero": 0.0}]))
        .mark_rule(color=STATUS_COLOURS["neutral"])
        .encode(x="zero:Q", tooltip=[alt.Tooltip("zero:Q", title="no change")])
    )
    return _props(alt.layer(bars, zero), title, subtitle, width, height)
