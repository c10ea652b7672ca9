"""Interactive controls for the analyst notebooks in JupyterLab (ipywidgets).

Each ``*_explorer`` function returns an :class:`Explorer`: a row of controls above an output
area. Every change of a control calls the same pure functions the notebook's report cells use
(:mod:`kpi.views`, :mod:`kpi.scorecard`, :mod:`kpi.staffing`, :mod:`kpi.forecast`,
:mod:`kpi.charts`) with the new
values and redraws; nothing here computes a KPI of its own. Notebooks show an explorer only
when their ``interactive`` parameter is true, and the rendered reports never depend on widget
state (they run with ``interactive = False``).

Charts are drawn offline: the explorer loads the Vega, Vega-Lite and vega-embed JavaScript
that ships with ``vl-convert-python`` once (no CDN), and each chart output calls
``vegaEmbed`` on its Vega-Lite spec. ipywidgets is imported inside the functions, so
``import kpi.widgets`` is cheap and ``kpi`` works without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from kpi._vega import chart_bundle, chart_html
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.widgets._explorer import Explorer, _dropdown
from kpi.widgets._forecast import forecast_explorer

__all__ = [
    "Explorer",
    "agent_explorer",
    "chart_bundle",
    "chart_html",
    "forecast_explorer",
    "segment_explorer",
    "staffing_explorer",
    "ticket_explorer",
    "trend_explorer",
]

_INTRADAY = ("15m", "30m", "1h")
#: Longest range drawn at an intraday grain (points per line stay in the low thousands).
MAX_INTRADAY_DAYS = 31
_TOP_GROUPS = 8


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    from kpi.periods import parse_period

    return parse_period(str(value)).start


def _as_last_day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value if not isinstance(value, datetime) else value.date()
    from kpi.periods import parse_period

    return parse_period(str(value)).end - timedelta(days=1)


def _check_range(lo: date | None, hi: date | None, *, grain: str) -> None:
    """A readable range for the grain: ordered days, and at most :data:`MAX_INTRADAY_DAYS` of
    them (both given) at an intraday grain."""
    from kpi.views import GRAIN_NAMES

    if lo and hi and hi < lo:
        raise KpiError("the last day is before the first day")
    if grain in _INTRADAY:
        if not (lo and hi):
            raise KpiError(f"choose the first and last day for a {GRAIN_NAMES[grain]} grain")
        if (hi - lo).days + 1 > MAX_INTRADAY_DAYS:
            raise KpiError(
                f"a {GRAIN_NAMES[grain]} grain shows at most {MAX_INTRADAY_DAYS} "
                "days: shorten the range or choose a day or week grain"
            )


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------


def trend_explorer(
    data: Dataset | Mapping[str, Any] | str,
    *,
    metric: str = "service_level",
    every: str = "1d",
    by: str = "",
    start: str | date | None = None,
    end: str | date | None = None,
    params: Mapping[str, Any] | None = None,
    targets: Any = None,
    metrics: Sequence[str] | None = None,
) -> Explorer:
    """Any KPI by any grain and dimension: controls for the KPI, grain, dimension, first and
    last day and definition variant, redrawing :func:`kpi.views.trend_figure`.

    Parameters
    ----------
    data
        Dataset (already cut to the notebook's teams).
    metric, every, by, start, end
        Initial KPI, grain, dimension (``""`` for none) and range (``end`` inclusive).
    params
        The notebook's KPI variants; the variant control adds one change on top.
    targets
        Targets for the target line.
    metrics
        KPIs to offer (default: every KPI the data supports).

    Notes
    -----
    Intraday grains (15m, 30m, 1h) are limited to :data:`MAX_INTRADAY_DAYS` days so a chart
    stays readable and quick; a longer range shows a message. By a dimension with more than
    :data:`kpi.views.MAX_LINES` groups (agents, queues) the chart draws the busiest and the
    others as one line (:func:`kpi.views.trend_frame`'s ``max_lines``), and the findings are
    about the lines drawn.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> t = datetime(2026, 2, 2, 9, tzinfo=ZoneInfo("Europe/London"))
    >>> c = pl.DataFrame(
    ...     {"arrival_ts": [t], "outcome": ["answered"], "wait_s": [5.0], "team": ["A"]}
    ... )
    >>> ex = trend_explorer(
    ...     {"contacts": c}, metric="service_level", start="2026-02", end="2026-02"
    ... )
    >>> sorted(ex.controls)
    ['by', 'end', 'every', 'metric', 'start', 'variant']
    >>> ex.controls["metric"].value = "asa"
    >>> ex.charts[0].to_dict()["title"]["text"]
    'Average speed of answer by day'
    """
    import ipywidgets as w

    from kpi import views
    from kpi.metrics import METRICS
    from kpi.periods import GRAINS

    ds = Dataset.coerce(data)
    base = dict(params or {})
    offered = views.available_metrics(ds, list(metrics) if metrics else "all", params=base)
    if not offered:
        raise KpiError("the data supports no KPI to explore")
    note = "Pick a KPI, grain, dimension, dates and definition; the chart redraws."
    if metric not in offered:
        note += "".join(f" Not offered: {x}." for x in views.unavailable_lines(ds, [metric]))
        metric = offered[0]

    def variants(kpi_id: str) -> list[tuple[str, str]]:
        return [(label, label) for label, _ in views.variant_options(kpi_id)]

    def dims(kpi_id: str) -> list[tuple[str, str]]:
        return [("none", ""), *((d, d) for d in views.dimensions(ds, kpi_id, extra=("agent_id",)))]

    controls = {
        "metric": _dropdown("KPI", [(f"{METRICS[k].label} ({k})", k) for k in offered], metric),
        "every": _dropdown("grain", [(views.GRAIN_NAMES[g], g) for g in GRAINS], every),
        "by": _dropdown("by", dims(metric), by or ""),
        "start": w.DatePicker(description="from", value=_as_date(start)),
        "end": w.DatePicker(description="to", value=_as_last_day(end)),
        "variant": _dropdown("definition", variants(metric), variants(metric)[0][1]),
    }

    def update(name: str, ex: Explorer) -> None:
        if name != "metric":
            return
        kpi_id = ex.controls["metric"].value
        by_c, var_c = ex.controls["by"], ex.controls["variant"]
        keep = by_c.value
        by_c.options = dims(kpi_id)
        by_c.value = keep if keep in [v for _, v in by_c.options] else ""
        var_c.options = variants(kpi_id)
        var_c.value = var_c.options[0][1]

    def render(v: dict[str, Any]) -> list[Any]:
        kpi_id, grain = v["metric"], v["every"]
        lo, hi = v["start"], v["end"]
        _check_range(lo, hi, grain=grain)
        chosen = dict(views.variant_options(kpi_id)).get(v["variant"], {})
        kw = {
            "every": grain,
            "by": [v["by"]] if v["by"] else [],
            "start": lo.isoformat() if lo else None,
            "end": hi.isoformat() if hi else None,
            "params": {**base, **chosen},
        }
        frame = views.trend_frame(ds, kpi_id, max_lines=views.MAX_LINES, **kw).collect()
        chart = views.trend_figure(ds, kpi_id, targets=targets, frame=frame, **kw)
        notes = views.trend_findings(
            frame, kpi_id, by=kw["by"], every=grain, max_items=3, params=kw["params"]
        )
        return [chart, *(notes or ["No unusual values in this range."])]

    return Explorer(
        "Trend explorer",
        controls,
        render,
        update=update,
        note=note,
    )


# --------------------------------------------------------------------------------------------
# Scorecard
# --------------------------------------------------------------------------------------------


def agent_explorer(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str,
    metrics: Sequence[str] | None = None,
    min_contacts: int = 50,
    rank_by: str = "fcr",
    params: Mapping[str, Any] | None = None,
) -> Explorer:
    """Agent scorecards of one team: team, minimum contacts and ranking KPI controls, redrawing
    :func:`kpi.scorecard.agent_scorecard` and a bar chart of the ranking KPI.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t] * 3,
    ...         "outcome": ["answered"] * 3,
    ...         "agent_id": ["a", "a", "b"],
    ...         "team": ["A"] * 3,
    ...         "talk_s": [100.0, 120.0, 50.0],
    ...         "hold_s": [0.0] * 3,
    ...         "acw_s": [0.0] * 3,
    ...     }
    ... )
    >>> ex = agent_explorer(
    ...     {"contacts": c}, period="2026-02", metrics=["aht"], min_contacts=2, rank_by="aht"
    ... )
    >>> ex.items[0].select("agent_id", "rank").rows()
    [('a', 1), ('b', None)]
    """
    import ipywidgets as w

    from kpi import charts, views
    from kpi.metrics import METRICS
    from kpi.scorecard import AGENT_KPIS, agent_scorecard

    ds = Dataset.coerce(data)
    ids = list(metrics or AGENT_KPIS)
    teams = (
        ds["contacts"].select(pl.col("team").drop_nulls().unique().sort()).collect()["team"]
        if "contacts" in ds
        else pl.Series([], dtype=pl.String)
    )
    if teams.is_empty():
        raise KpiError("no contacts with a team in the data: no agent scorecards")
    rankable = [k for k in ids if k in METRICS]
    controls = {
        "team": _dropdown("team", teams.to_list(), teams[0]),
        "min_contacts": w.IntSlider(
            value=min_contacts,
            min=0,
            max=max(200, min_contacts),
            step=5,
            description="min. contacts",
            continuous_update=False,
            style={"description_width": "initial"},
        ),
        "rank_by": _dropdown("rank by", [(METRICS[k].label, k) for k in rankable], rank_by),
    }

    def render(v: dict[str, Any]) -> list[Any]:
        team_ds = views.filter_teams(ds, [v["team"]])
        card = agent_scorecard(
            team_ds,
            period=period,
            metrics=ids,
            min_contacts=v["min_contacts"],
            rank_by=v["rank_by"],
            params=params,
        ).collect()
        if "rank" in card.columns:
            card = card.sort("rank", "agent_id", nulls_last=True)
        items: list[Any] = [card]
        if v["rank_by"] in card.columns:
            reliable = card.with_columns(
                pl.when(pl.col("reliable"))
                .then(pl.lit("ranked"))
                .otherwise(pl.lit("too few contacts"))
                .alias("ranked")
            )
            items.append(
                charts.bar_chart(
                    reliable,
                    category="agent_id",
                    value=v["rank_by"],
                    color="ranked",
                    title=f"{METRICS[v['rank_by']].label} by agent, team {v['team']}, {period}",
                )
            )
        return items

    return Explorer(
        "Agent scorecards",
        controls,
        render,
        note="Agents with fewer handled contacts than the minimum are listed but not ranked.",
    )


# --------------------------------------------------------------------------------------------
# Drill-down
# --------------------------------------------------------------------------------------------


def segment_explorer(
    data: Dataset | Mapping[str, Any] | str,
    explanation: Any,
    *,
    dims: Sequence[str] = ("team", "channel", "queue", "topic"),
    params: Mapping[str, Any] | None = None,
    show_rows: bool = False,
    max_rows: int = 20,
    show_identifiers: bool = False,
) -> Explorer:
    """The rows behind a chosen segment of an explanation: a segment and a breakdown
    dimension; shows :func:`kpi.views.segment_breakdown` (aggregated) and, when ``show_rows``,
    the first ``max_rows`` records (identifiers masked unless ``show_identifiers``).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> from types import SimpleNamespace as NS
    >>> j, f = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [j, j, f],
    ...         "outcome": ["answered"] * 3,
    ...         "team": ["A"] * 3,
    ...         "topic": ["x", "y", "x"],
    ...     }
    ... )
    >>> from kpi.explain import Segment
    >>> exp = NS(
    ...     metric="contacts_answered",
    ...     label="Contacts answered",
    ...     unit="count",
    ...     baseline={"period": "2026-01"},
    ...     current={"period": "2026-02"},
    ...     segments=[Segment({"team": "A"}, "additive", 2.0, 1.0, -1.0, 1.0)],
    ... )
    >>> ex = segment_explorer({"contacts": c}, exp, dims=["team", "topic"])
    >>> ex.values()
    {'segment': 'team A', 'by': 'topic'}
    >>> ex.items[0].rows()
    [('y', 1.0, 0.0, -1.0, -1.0), ('x', 1.0, 1.0, 0.0, 0.0)]
    """
    from kpi import charts, views

    ds = Dataset.coerce(data)
    options = views.segment_options(explanation)
    if not options:
        raise KpiError("the explanation found no segment to look into")
    segments = dict(options)
    names = [n for n, _ in options]
    usable = views.dimensions(ds, explanation.metric)
    b0, b1 = explanation.baseline["period"], explanation.current["period"]

    def free(segment: str) -> list[str]:
        taken = set(segments[segment])
        return [d for d in dims if d in usable and d not in taken] or [
            d for d in usable if d not in taken
        ]

    first = free(names[0])
    controls = {
        "segment": _dropdown("segment", names, names[0]),
        "by": _dropdown("break down by", first or [""], first[0] if first else ""),
    }

    def update(name: str, ex: Explorer) -> None:
        if name != "segment":
            return
        opts = free(ex.controls["segment"].value) or [""]
        keep = ex.controls["by"].value
        ex.controls["by"].options = opts
        ex.controls["by"].value = keep if keep in opts else opts[0]

    def render(v: dict[str, Any]) -> list[Any]:
        segment = segments[v["segment"]]
        items: list[Any] = []
        if v["by"]:
            frame = views.segment_breakdown(
                ds, explanation.metric, segment, baseline=b0, current=b1, by=v["by"], params=params
            ).collect()
            items.append(frame)
            items.append(
                charts.bar_chart(
                    frame.filter(pl.col("current").is_not_null()),
                    category=v["by"],
                    value="current",
                    previous="baseline",
                    percent=explanation.unit == "ratio",
                    title=f"{explanation.label} by {v['by']} within {v['segment']}, {b1}",
                )
            )
        if show_rows:
            items.append(
                views.segment_rows(
                    ds,
                    explanation.metric,
                    segment,
                    period=b1,
                    max_rows=max_rows,
                    show_identifiers=show_identifiers,
                ).collect()
            )
        return items

    return Explorer(
        "Rows behind a segment",
        controls,
        render,
        update=update,
        note="Choose a segment and a dimension to break it down by.",
    )


# --------------------------------------------------------------------------------------------
# Staffing
# --------------------------------------------------------------------------------------------


def staffing_explorer(
    table: pl.LazyFrame | pl.DataFrame,
    *,
    every: str = "30m",
    threshold_s: float = 20,
    agents: float = 0.0,
    aht_pct: float = 0.0,
    volume_pct: float = 0.0,
) -> Explorer:
    """A what-if with sliders (agents, AHT %, volume %) on a :func:`kpi.views.staffing_view`
    table: redraws the daily service level (achieved, expected, what-if), the busiest day's
    required against what-if agents, and the findings.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> t = datetime(2026, 2, 2, 9, tzinfo=ZoneInfo("Europe/London"))
    >>> table = pl.DataFrame(
    ...     {
    ...         "interval_start": [t],
    ...         "team": ["A"],
    ...         "interval_s": [1800.0],
    ...         "offered": [100],
    ...         "answered": [95],
    ...         "aht_s": [180.0],
    ...         "patience_s": [None],
    ...         "required_agents": [12.5],
    ...         "staffed_agents": [13.0],
    ...         "expected_service_level": [0.8],
    ...         "achieved_service_level": [0.75],
    ...     }
    ... )
    >>> ex = staffing_explorer(table)
    >>> ex.controls["agents"].value = 1.0
    >>> ex.items[-1]
    'What-if (agents=+1): the model gives a service level of 88.8% instead of 80.0%.'
    """
    import ipywidgets as w

    from kpi import charts, views
    from kpi.staffing import STAFFING_NEEDS, project

    base = table.lazy().collect()
    if base.is_empty():
        raise KpiError("the staffing table has no intervals for a what-if")
    if "staffed_agents" not in base.columns or base["staffed_agents"].is_null().all():
        raise KpiError(
            "no staffing what-if: the agents on queue are not in the data, so there is no "
            f"staffing to change ({STAFFING_NEEDS['staffed_agents']})"
        )
    if base["required_agents"].is_null().all():
        raise KpiError(f"no staffing what-if: {STAFFING_NEEDS['aht_s']}")

    def slider(kind: Any, label: str, value: float, lo: float, hi: float, step: float) -> Any:
        return kind(
            value=value,
            min=lo,
            max=hi,
            step=step,
            description=label,
            continuous_update=False,
            style={"description_width": "initial"},
        )

    controls = {
        "agents": slider(w.FloatSlider, "agents ±", agents, -10.0, 10.0, 0.5),
        "aht_pct": slider(w.IntSlider, "AHT %", aht_pct, -30, 30, 1),
        "volume_pct": slider(w.IntSlider, "volume %", volume_pct, -30, 50, 1),
    }

    def render(v: dict[str, Any]) -> list[Any]:
        items = views.what_if_items(
            agents=v["agents"], aht_pct=v["aht_pct"], volume_pct=v["volume_pct"]
        )
        projected = project(base, items or ["agents=+0"], threshold_s=threshold_s)
        centre = views.centre_staffing(projected).collect()
        daily = views.service_by(projected).collect()
        busiest = views.day_slice(centre).collect()
        wi = items or ["no change"]
        found = views.staffing_findings(centre, every=every, threshold_s=threshold_s, what_if=wi)
        day = busiest["interval_start"][0].date().isoformat() if busiest.height else ""
        return [
            charts.trend_chart(
                daily,
                x="period",
                y="service_level",
                color="series",
                percent=True,
                title="Service level by day: achieved, expected and what-if",
                subtitle=f"what-if: {', '.join(items) or 'no change'}",
            ),
            charts.staffing_chart(
                busiest,
                x="interval_start",
                required="required_agents",
                actual="what_if_agents",
                title=f"Required against what-if agents on the busiest day, {day}",
            ),
            *(s for s in found if s.startswith("What-if")),
        ]

    return Explorer(
        "Staffing what-if",
        controls,
        render,
        note="Move the sliders: agents added per interval and team, handle time and volume in %.",
    )


# --------------------------------------------------------------------------------------------
# Tickets
# --------------------------------------------------------------------------------------------

_TICKET_SERIES = {
    "opened": "tickets opened",
    "handled": "tickets handled",
    "backlog": "backlog (open tickets at the end)",
    "resolution_median_h": "median resolution time (h)",
    "resolution_p90_h": "90th percentile resolution time (h)",
    "first_response_median_h": "median first response (h)",
}


def ticket_explorer(
    data: Dataset | Mapping[str, Any] | str,
    *,
    start: str | date | None = None,
    end: str | date | None = None,
    params: Mapping[str, Any] | None = None,
) -> Explorer:
    """Ticket volumes, backlog and times by any dimension and grain (the eight biggest groups).

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
    >>> ex = ticket_explorer({"tickets": t}, start="2026-02", end="2026-02")
    >>> ex.controls["by"].value = "team"
    >>> ex.charts[0].to_dict()["title"]["text"]
    'Tickets opened by day and team'
    """
    from kpi import charts, views

    ds = Dataset.coerce(data)
    if "tickets" not in ds:
        raise KpiError("the data has no tickets table")
    dims = [d for d in views.dimensions(ds, "tickets_handled") if d != "direction"]
    controls = {
        "series": _dropdown("show", [(v, k) for k, v in _TICKET_SERIES.items()], "opened"),
        "every": _dropdown("grain", [("day", "1d"), ("week", "1w"), ("month", "1mo")], "1d"),
        "by": _dropdown("by", [("none", ""), *((d, d) for d in dims)], ""),
    }

    def render(v: dict[str, Any]) -> list[Any]:
        by = [v["by"]] if v["by"] else []
        span = {"start": start or None, "end": end or None, "params": params}
        if v["series"] in ("opened", "handled", "backlog"):
            frame = views.ticket_flow(ds, every=v["every"], by=by, **span)
        else:
            frame = views.ticket_times(ds, every=v["every"], by=by, **span)
        if by:
            sizes = views.ticket_flow(ds, every=None, by=by, **span)
            top = sizes.sort("opened", descending=True).head(_TOP_GROUPS).select(by)
            frame = frame.join(top, on=by, how="semi", nulls_equal=True)
        df = frame.select(*by, "period", v["series"]).collect()
        grain = {"1d": "day", "1w": "week", "1mo": "month"}[v["every"]]
        label = _TICKET_SERIES[v["series"]]
        return [
            charts.trend_chart(
                df,
                x="period",
                y=v["series"],
                color=by[0] if by else None,
                y_title=label,
                title=f"{label[0].upper()}{label[1:]} by {grain}"
                + (f" and {by[0]}" if by else ""),
                subtitle=f"the {_TOP_GROUPS} {by[0]}s with most tickets" if by else None,
            )
        ]

    return Explorer(
        "Ticket explorer",
        controls,
        render,
        note="Choose what to show, the grain and a dimension.",
    )
