"""The chart builders besides the trend: bars, waterfall, heatmap, staffing, status, effects."""

from __future__ import annotations

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
    _num,
    _props,
    _unit,
)
from kpi.charts._theme import PALETTE, STATUS_COLOURS, enable

__all__ = [
    "bar_chart",
    "effects_chart",
    "heatmap_chart",
    "staffing_chart",
    "status_chart",
    "waterfall_chart",
]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


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
    fmt = d3_format(_unit(value, percent))
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
        alt.Tooltip(f"{value}:Q", title=_label(value), format=fmt),
    ]
    if previous:
        tooltip.append(alt.Tooltip(f"{previous}:Q", title="comparison period", format=fmt))
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
            .encode(x="target:Q", tooltip=[alt.Tooltip("target:Q", title="target", format=fmt)])
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
    >>> from kpi.charts import chart_rows
    >>> [(r["step"], r["before"], r["after"], r["kind"]) for r in chart_rows(spec)]
    [('Jan', 0.0, 1000.0, 'total'), ('attrition', 1000.0, 850.0, 'decrease'), ('new topic', 850.0, 790.0, 'decrease'), ('Feb', 0.0, 790.0, 'total')]
    """
    import altair as alt

    df = _collect(frame)
    _check(df, label, value, what="waterfall_chart")
    rows = _waterfall_rows(df, label, value, start=start, end=end, percent=percent)
    fmt = d3_format("ratio" if percent else None)
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


def _waterfall_rows(
    df: pl.DataFrame,
    label: str,
    value: str,
    *,
    start: tuple[str, float] | None,
    end: tuple[str, float] | None,
    percent: bool,
) -> list[dict[str, Any]]:
    """One bar per step: from the running total before it to the one after, with its kind
    (total, increase, decrease) and its label text."""
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
    for r in rows:
        r["text"] = _num(r["amount"], percent=percent, signed=r["kind"] != "total")
    return rows


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
    >>> from kpi.charts import chart_rows
    >>> sorted({r["weekday"] for r in chart_rows(spec)})
    ['Monday', 'Sunday']
    """
    import altair as alt

    df = _collect(frame)
    _check(df, x, y, value, what="heatmap_chart")
    df = df.select(list(dict.fromkeys((x, y, value))))
    pct = _is_percent(value, percent)
    fmt = d3_format(_unit(value, percent))
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
                alt.Tooltip(f"{value}:Q", title=_label(value), format=fmt),
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
    >>> from kpi.charts import chart_rows
    >>> [r["gap"] for r in chart_rows(spec)]
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
