"""Notebook-level views: the small frames and charts the report notebooks show.

The notebooks in ``notebooks/`` stay a few calls long: everything that shapes data for a table,
a chart or a sentence lives here, as plain functions of a dataset or of frames made by the
library (:mod:`kpi.compute`, :mod:`kpi.scorecard`, :mod:`kpi.trends`, :mod:`kpi.explain`,
:mod:`kpi.staffing`). Frames go in and out lazily; functions that return text (``*_findings``,
:func:`status_summary`, :func:`ticket_overview`) take collected frames or collect, since a
sentence is made at the edge; chart functions return altair charts built by :mod:`kpi.charts`.

- Data: :func:`filter_teams`, :func:`available_metrics`, :func:`metric_table`,
  :func:`dimensions`, :func:`variant_options`, :func:`metric_params`, :func:`units`, :func:`labels`,
  :func:`header_targets`, :func:`attempt`.
- Scorecard: :func:`status_counts`, :func:`status_summary`, :func:`scorecard_bars`.
- Trends: :func:`trend_frame`, :func:`trend_figure`, :func:`trend_findings`, :func:`shift_findings`,
  :func:`heatmap_frame`, :func:`to_long`.
- Drill-down: :func:`change_frame`, :func:`drivers_frame`, :func:`driver_waterfall`,
  :func:`segments_frame`, :func:`effects_frame`, :func:`segment_options`,
  :func:`choose_segment`, :func:`segment_breakdown`, :func:`segment_rows`.
- Staffing: :func:`what_if_items`, :func:`staffing_view`, :func:`centre_staffing`,
  :func:`service_by`, :func:`team_staffing`, :func:`day_slice`, :func:`staffing_day_chart`,
  :func:`shortfall_heatmap_frame`, :func:`staffing_findings`.
- Tickets: :func:`ticket_flow`, :func:`ticket_times`, :func:`ticket_summary`,
  :func:`ticket_findings`, :func:`ticket_overview`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from kpi.compute import evaluate, measure_frame
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import METRICS
from kpi.periods import GRAINS, Period, parse_period, to_timestamp
from kpi.targets import TargetSet

__all__ = [
    "DIMENSIONS",
    "GRAIN_NAMES",
    "Outcome",
    "attempt",
    "available_metrics",
    "centre_staffing",
    "change_frame",
    "choose_segment",
    "day_slice",
    "dimensions",
    "driver_waterfall",
    "drivers_frame",
    "effects_frame",
    "filter_teams",
    "header_targets",
    "heatmap_frame",
    "labels",
    "metric_params",
    "metric_table",
    "scorecard_bars",
    "segment_breakdown",
    "segment_name",
    "segment_options",
    "segment_rows",
    "segments_frame",
    "service_by",
    "shift_findings",
    "shortfall_heatmap_frame",
    "staffing_day_chart",
    "staffing_findings",
    "staffing_view",
    "status_counts",
    "status_summary",
    "team_staffing",
    "ticket_findings",
    "ticket_flow",
    "ticket_overview",
    "ticket_summary",
    "ticket_times",
    "to_long",
    "trend_figure",
    "trend_findings",
    "trend_frame",
    "units",
    "variant_options",
    "what_if_items",
]

#: Categorical columns offered as dimensions (those present in a KPI's table).
DIMENSIONS = ("team", "site", "channel", "queue", "topic", "direction", "priority")

#: Readable names of the grains.
GRAIN_NAMES = {
    "15m": "quarter-hour",
    "30m": "half-hour",
    "1h": "hour",
    "1d": "day",
    "1w": "week",
    "1mo": "month",
    "1q": "quarter",
    "1y": "year",
}

# The seasonal cycle anomalies are judged against, per grain (same weekday and time of day for
# intraday and daily data; the previous periods for coarser grains).
_SEASON = {
    "15m": "1w",
    "30m": "1w",
    "1h": "1w",
    "1d": "1w",
    "1w": "1w",
    "1mo": "1mo",
    "1q": "1q",
    "1y": "1y",
}
# Numeric presets offered for integer variants, by the variant's name.
_PRESETS = {
    "threshold_s": (10, 20, 30, 60, 120),
    "short_abandon_s": (0, 5, 10),
    "window_days": (1, 3, 7, 14, 30),
}
_ROW_COLUMNS = {
    "contacts": (
        "contact_id",
        "arrival_ts",
        "channel",
        "queue",
        "topic",
        "team",
        "agent_id",
        "customer_id",
        "outcome",
        "wait_s",
        "talk_s",
        "hold_s",
        "acw_s",
        "transferred",
        "resolved",
    ),
    "tickets": (
        "ticket_id",
        "created_ts",
        "first_response_ts",
        "solved_ts",
        "status",
        "team",
        "channel",
        "priority",
        "topic",
        "agent_id",
        "customer_id",
    ),
}
_WEEKDAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --------------------------------------------------------------------------------------------
# Data: teams, KPIs the data supports, dimensions, variants, targets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The result of :func:`attempt`: a value, or the user-facing reason there is none.

    Examples
    --------
    >>> Outcome(3).ok, Outcome(None, "no tickets table").ok
    (True, False)
    """

    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


def attempt(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Outcome:
    """Call ``func`` and keep a :class:`~kpi.errors.KpiError` as a message instead of failing.

    Notebooks use it where the data may not support a section (no ``agent_time`` table, no
    comparison period): the report then says why the section is empty. Other exceptions are
    programming errors and propagate.

    Examples
    --------
    >>> attempt(parse_period, "2026-02").value.label
    '2026-02'
    >>> attempt(parse_period, "2026-13").error
    "bad period '2026-13': use 2026-02-03, 2026-02, 2026-W06, 2026-Q1, 2026, today, yesterday, previous-week, previous-month, this-week, this-month"
    """
    try:
        return Outcome(func(*args, **kwargs))
    except KpiError as exc:
        return Outcome(None, str(exc))


def filter_teams(data: Dataset | Mapping[str, Any] | str, teams: Sequence[str] | str) -> Dataset:
    """The dataset cut to some teams; ``[]`` (or ``""``) keeps everything.

    Parameters
    ----------
    data
        A :class:`~kpi.data.Dataset`, a mapping of tables or a dataset directory.
    teams
        Team names (a list, or one comma-separated string).

    Returns
    -------
    Dataset
        Every table with a ``team`` column keeps only those teams' rows; ``events`` also keeps
        the events without a team (they concern everyone). Tables without a ``team`` column
        (``customers``) are kept whole, and ``finance`` rows for the whole centre (null team)
        are dropped, so cost KPIs cover the chosen teams only where the data has team rows.

    Raises
    ------
    KpiError
        When a team is not in the data (the message lists the teams there are).

    Notes
    -----
    Checking the names reads the distinct ``team`` values of the tables (one small query);
    the tables themselves stay lazy.

    Examples
    --------
    >>> c = pl.DataFrame({"team": ["A", "B", "B"], "talk_s": [1.0, 2.0, 3.0]})
    >>> filter_teams({"contacts": c}, ["B"])["contacts"].collect()["talk_s"].to_list()
    [2.0, 3.0]
    >>> filter_teams({"contacts": c}, "C")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown team 'C'; teams in the data: A, B
    """
    ds = Dataset.coerce(data)
    wanted = [t.strip() for t in teams.split(",")] if isinstance(teams, str) else list(teams)
    wanted = [str(t) for t in wanted if str(t).strip()]
    if not wanted:
        return ds
    with_team = {
        name: lf for name, lf in ds.tables.items() if "team" in lf.collect_schema().names()
    }
    if not with_team:
        raise KpiError("no table of the data has a team column, so teams cannot be chosen")
    known = (
        pl.concat([lf.select(pl.col("team").cast(pl.String)) for lf in with_team.values()])
        .drop_nulls()
        .unique()
        .sort("team")
        .collect()["team"]
        .to_list()
    )
    unknown = [t for t in wanted if t not in known]
    if unknown:
        word = "team" if len(unknown) == 1 else "teams"
        raise KpiError(
            f"unknown {word} {', '.join(map(repr, unknown))}; teams in the data: "
            + ", ".join(known)
        )
    tables = {}
    for name, lf in ds.tables.items():
        if name in with_team:
            keep = pl.col("team").cast(pl.String).is_in(wanted)
            if name == "events":
                keep = keep | pl.col("team").is_null()
            lf = lf.filter(keep)
        tables[name] = lf
    return Dataset(tables, tz=ds.tz, meta={**ds.meta, "teams": wanted}, path=ds.path)


def metric_table(metric: str, data: Dataset | Mapping[str, Any] | str) -> str | None:
    """The table a KPI's main measure is read from in this dataset (None: none present).

    Examples
    --------
    >>> metric_table("aht", {"contacts": pl.DataFrame({"talk_s": [1.0]})})
    'contacts'
    >>> metric_table("backlog", {"contacts": pl.DataFrame({"talk_s": [1.0]})}) is None
    True
    """
    ds = Dataset.coerce(data)
    m = _metric(metric)
    for table in m.build().numerator.source_tables:
        if table in ds:
            return table
    return None


def available_metrics(
    data: Dataset | Mapping[str, Any] | str,
    metrics: Iterable[str] | str = "all",
    *,
    check_data: bool = True,
) -> list[str]:
    """The KPIs (of ``metrics``, in catalogue order) the data can support.

    Parameters
    ----------
    data
        Dataset, mapping of tables or dataset directory.
    metrics
        KPI ids to consider (a list or a comma-separated string), or ``"all"``.
    check_data
        Also leave out KPIs that read a column holding no value at all (a column the source
        did not have, such as ``resolved`` or ``first_response_ts`` in a log that does not
        record it): their value would be a misleading 0 or nothing. An empty duration column
        beside a filled one (no hold time, but talk time) does not count: it adds nothing.

    Notes
    -----
    A KPI is available when each of its measures (default variants) can be read from a table
    present, the first one in the measure's order of preference, as :func:`kpi.compute.compute`
    does. With ``check_data`` the tables are read once each, for one ``is_not_null().any()``
    per column the measures use.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> day = datetime(2026, 2, 2, tzinfo=UTC)
    >>> t = pl.DataFrame({"ticket_id": ["t1"], "created_ts": [day], "solved_ts": [day]})
    >>> available_metrics({"tickets": t})
    ['tickets_handled', 'avg_resolution_time', 'backlog']
    >>> available_metrics({"tickets": t}, check_data=False)
    ['tickets_handled', 'avg_resolution_time', 'first_response_time', 'backlog']
    """
    ds = Dataset.coerce(data)
    ids = list(METRICS) if metrics == "all" else _ids(metrics)
    # per KPI: one (table, columns read) pair per measure; None when a measure has no table
    uses: dict[str, list[tuple[str, set[str]]]] = {}
    for kpi_id in ids:
        need: list[tuple[str, set[str]]] = []
        for m in _metric(kpi_id).build().measures:
            source = next((src for src in m.sources if src.table in ds), None)
            if source is not None:
                need.append((source.table, set(source.agg.meta.root_names())))
            elif not m.sources and any(t in ds for t in m.tables):
                need.append((next(t for t in m.tables if t in ds), set()))
            else:
                break
        else:
            uses[kpi_id] = need
    empty: dict[str, set[str]] = {}
    if check_data:
        for table in sorted({t for need in uses.values() for t, _ in need}):
            schema = ds[table].collect_schema().names()
            cols = sorted(
                {c for need in uses.values() for t, n in need if t == table for c in n}
                & set(schema)
            )
            if cols:
                seen = ds[table].select(pl.col(c).is_not_null().any() for c in cols).collect()
                empty[table] = {c for c in cols if not seen[c][0]}
    return [
        k
        for k in METRICS
        if k in uses and all(_measure_usable(n, empty.get(t, set())) for t, n in uses[k])
    ]


def _measure_usable(columns: set[str], empty: set[str]) -> bool:
    """A measure is usable unless a column it reads holds no value; an empty duration column
    (``*_s``) is fine beside a filled one (missing hold or wrap-up time counts as none)."""
    missing = columns & empty
    if not missing:
        return True
    durations = {c for c in columns if c.endswith("_s")}
    filled = durations - empty
    return bool(filled) and missing <= durations


def dimensions(data: Dataset | Mapping[str, Any] | str, metric: str | None = None) -> list[str]:
    """Dimension columns (of :data:`DIMENSIONS`) a KPI can be cut by in this dataset.

    With ``metric``: the columns present in every table the KPI reads; without: the columns
    present in any table.

    Examples
    --------
    >>> c = pl.DataFrame({"team": ["A"], "queue": ["q"], "talk_s": [1.0]})
    >>> dimensions({"contacts": c}, "aht")
    ['team', 'site', 'channel', 'queue', 'topic', 'direction']
    """
    ds = Dataset.coerce(data)
    if metric is None:
        cols = {c for lf in ds.tables.values() for c in lf.collect_schema().names()}
        return [d for d in DIMENSIONS if d in cols]
    tables = {
        next((t for t in m.source_tables if t in ds), None)
        for m in _metric(metric).build().measures
    }
    tables.discard(None)
    if not tables:
        return []
    common = set.intersection(*(set(ds[t].collect_schema().names()) for t in tables))  # type: ignore[index]
    return [d for d in DIMENSIONS if d in common]


def variant_options(metric: str) -> list[tuple[str, dict[str, Any]]]:
    """Definition variants of a KPI to choose from: ``(label, params)`` pairs, default first.

    Each alternative changes one variant from its default: every other choice of a variant
    with choices, and a few usual values of numeric ones (thresholds, windows).

    Examples
    --------
    >>> [label for label, _ in variant_options("service_level")][:3]
    ['default (threshold_s=20, denominator=answered_plus_abandoned, short_abandon_s=0)', 'threshold_s=10', 'threshold_s=30']
    >>> variant_options("service_level")[2][1]
    {'service_level.threshold_s': 30}
    """
    m = _metric(metric)
    defaults = ", ".join(f"{p.name}={p.default}" for p in m.params)
    out: list[tuple[str, dict[str, Any]]] = [
        (f"default ({defaults})" if defaults else "default", {})
    ]
    for p in m.params:
        values = p.choices or _PRESETS.get(p.name, ())
        for v in values:
            if v != p.default:
                out.append((f"{p.name}={v}", {f"{m.id}.{p.name}": v}))
    return out


def header_targets(
    targets: TargetSet | None, metrics: Iterable[str]
) -> dict[str, dict[str, float]]:
    """Targets from a targets file for :func:`kpi.report.header` (built-in ones are implied).

    Examples
    --------
    >>> ts = TargetSet.from_mapping({"aht": {"target": 300, "red": 400}})
    >>> header_targets(ts, ["aht", "service_level"])
    {'aht': {'target': 300.0, 'red': 400.0}}
    """
    if targets is None:
        return {}
    out = {}
    for kpi_id in metrics:
        t = targets.defaults.get(kpi_id)
        if t is not None:
            out[kpi_id] = {"target": t.target, "red": t.red}
    return out


def metric_params(metric: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variants of one KPI (short names, defaults filled) from the notebook's flat
    ``kpi_params`` (``{"service_level.threshold_s": 30}``), as :func:`kpi.explain.explain`
    takes them.

    Examples
    --------
    >>> metric_params("aht", {"aht.components": "talk_hold", "service_level.threshold_s": 30})
    {'components': 'talk_hold'}
    """
    from kpi.metrics import resolve

    ((_, p),) = resolve([metric], params)
    return dict(p)


def units(columns: Iterable[str]) -> dict[str, str]:
    """Column name to KPI unit for the KPI columns among ``columns`` (for
    :func:`kpi.report.table`).

    Examples
    --------
    >>> units(["team", "aht", "fcr"])
    {'aht': 's', 'fcr': 'ratio'}
    """
    return {c: METRICS[c].unit for c in columns if c in METRICS}


def labels(columns: Iterable[str], **extra: str) -> dict[str, str]:
    """Column name to header text: KPI ids get their catalogue label; ``extra`` adds or
    overrides others (for :func:`kpi.report.table`).

    Examples
    --------
    >>> labels(["team", "aht", "fcr"], agent_id="agent")
    {'aht': 'Average handle time', 'fcr': 'First contact resolution', 'agent_id': 'agent'}
    """
    out = {c: METRICS[c].label for c in columns if c in METRICS}
    out.update(extra)
    return out


def _metric(metric: str):
    if metric not in METRICS:
        raise KpiError(f"unknown KPI {metric!r}; valid KPIs: {', '.join(METRICS)}")
    return METRICS[metric]


def _ids(metrics: Iterable[str] | str) -> list[str]:
    if isinstance(metrics, str):
        return [m.strip() for m in metrics.split(",") if m.strip()]
    return list(metrics)


# --------------------------------------------------------------------------------------------
# Scorecard
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------


def _bound(value: str | date | datetime | None, tz: str, *, end: bool = False):
    if value is None or value == "":
        return None
    return to_timestamp(value, tz, end=end)


def _shift(ts: datetime, every: str, n: int) -> datetime:
    """``ts`` moved ``n`` periods of ``every`` (calendar-aware, in the stamp's zone)."""
    m = re.fullmatch(r"(\d+)(\w+)", every)
    assert m is not None
    step = f"{int(m[1]) * n}{m[2]}"
    return pl.select(pl.lit(ts).dt.offset_by(step)).item()


def trend_frame(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    *,
    every: str = "1d",
    by: Sequence[str] | str = (),
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    params: Mapping[str, Any] | None = None,
    lookback: int = 8,
    threshold: float = 3.5,
) -> pl.LazyFrame:
    """A KPI over time with seasonal anomaly flags, from ``start`` to ``end``.

    Parameters
    ----------
    data
        Dataset, mapping of tables or dataset directory.
    metric
        KPI id.
    every
        Grain (``15m`` ... ``1y``).
    by
        Dimension column(s); one series per group.
    start, end
        First and last period shown (``end`` inclusive for dates and periods); ``None`` or
        ``""``: the start / end of the data.
    params
        KPI definition variants.
    lookback, threshold
        Passed to :func:`kpi.trends.anomalies`: earlier seasons used as the reference, and the
        robust z-score above which a value is flagged.

    Returns
    -------
    pl.LazyFrame
        ``by`` columns, ``period``, the KPI, its measures, and ``<kpi>_expected``, ``_lower``,
        ``_upper``, ``_score``, ``_history_n``, ``_anomaly``, ``_effect``.

    Notes
    -----
    The season is a week for intraday and daily grains (same weekday and time of day) and the
    grain itself otherwise. The series is computed from ``lookback`` seasons before ``start``
    so that the first periods shown can be scored, then cut to ``[start, end]``.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> t0 = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("Europe/London"))
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t0 + timedelta(days=7 * i) for i in range(6)],
    ...         "outcome": ["answered"] * 6,
    ...     }
    ... )
    >>> f = trend_frame({"contacts": c}, "contacts_answered", every="1w", start="2026-01-19")
    >>> f.select("contacts_answered", "contacts_answered_anomaly").collect().rows()
    [(1.0, None), (1.0, None), (1.0, False), (1.0, False)]
    """
    from kpi.trends import anomalies

    ds = Dataset.coerce(data)
    by_t = (by,) if isinstance(by, str) else tuple(by)
    by_t = tuple(b for b in by_t if b)
    lo = _bound(start, ds.tz)
    hi = _bound(end, ds.tz, end=True)
    season = _SEASON.get(every)
    if season is None:
        raise KpiError(f"unknown grain {every!r}; valid grains: {', '.join(GRAINS)}")
    first = _shift(lo, season, -lookback) if lo is not None else None
    result = evaluate(ds, metric, by=by_t, every=every, start=first, end=hi, params=params)
    scored = anomalies(result, metric, season=season, lookback=lookback, threshold=threshold).frame
    if lo is not None:
        scored = scored.filter(pl.col("period") >= pl.lit(lo).dt.convert_time_zone(ds.tz))
    return scored


def trend_figure(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    *,
    every: str = "1d",
    by: Sequence[str] | str = (),
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    params: Mapping[str, Any] | None = None,
    targets: TargetSet | None = None,
    events: bool = True,
    title: str | None = None,
    frame: pl.DataFrame | None = None,
) -> Any:
    """The trend chart of a KPI: line, target, anomalies (circled), events and levels.

    Where a series shifts (:func:`kpi.trends.change_points`), the level of each segment
    between change points is drawn as a dashed step.

    Parameters
    ----------
    data, metric, every, by, start, end, params
        As for :func:`trend_frame`.
    targets
        Targets (default: the catalogue's); the KPI's default target is drawn.
    events
        Draw the dataset's ``events`` (launches, outages) that fall in the range.
    title
        Chart title (default: "<KPI> by <grain>").
    frame
        A collected :func:`trend_frame` result to draw instead of computing it again.

    Returns
    -------
    altair.LayerChart

    Notes
    -----
    With several ``by`` columns only the first colours the lines. The chart shows
    aggregated values only, one point per period (and group).

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> t = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("Europe/London"))
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t, t],
    ...         "outcome": ["answered", "abandoned_queue"],
    ...         "wait_s": [5.0, 50.0],
    ...     }
    ... )
    >>> spec = trend_figure({"contacts": c}, "service_level").to_dict()
    >>> spec["title"]["text"], [layer["mark"]["type"] for layer in spec["layer"]][:2]
    ('Service level by day', ['rule', 'line'])
    """
    from kpi import charts

    ds = Dataset.coerce(data)
    by_t = [b for b in ((by,) if isinstance(by, str) else tuple(by)) if b]
    if frame is None:
        frame = trend_frame(
            ds, metric, every=every, by=by_t, start=start, end=end, params=params
        ).collect()
    m = _metric(metric)
    target = (targets or TargetSet()).default(metric)
    ev = ds.tables.get("events") if events else None
    grain = GRAIN_NAMES.get(every, every)
    notes = []
    if by_t:
        notes.append(f"by {by_t[0]}; circled: unusual for the {grain} and weekday")
    elif f"{metric}_anomaly" in frame.columns:
        notes.append("circled: unusual against the same point of earlier weeks")
    # levels need one series per line: with several ``by`` columns the lines mix groups
    levels = _levels(frame, metric, by_t, every) if len(by_t) <= 1 else None
    if levels is not None:
        notes.append("dashed: the level between change points")
    return charts.trend_chart(
        frame,
        x="period",
        y=metric,
        color=by_t[0] if by_t else None,
        target=None if target is None else target.target,
        anomaly=f"{metric}_anomaly" if f"{metric}_anomaly" in frame.columns else None,
        events=ev,
        levels=levels,
        title=title or f"{m.label} by {grain}",
        subtitle="; ".join(notes) or None,
    )


def _levels(
    frame: pl.DataFrame, metric: str, by: Sequence[str], every: str
) -> pl.DataFrame | None:
    """Segments of the series that have change points, or None when none has one."""
    found = _shifts(frame, metric, by, every)
    if found is None or found[0].is_empty():
        return None
    points, trend = found
    segments = trend.segments.collect() if trend.segments is not None else None
    if segments is None or segments.is_empty():
        return None
    if by:
        segments = segments.join(points.select(by).unique(), on=list(by), nulls_equal=True)
    return segments


def _shifts(
    frame: pl.DataFrame, metric: str, by: Sequence[str], every: str
) -> tuple[pl.DataFrame, Any] | None:
    """Change points of each series of ``frame`` (collected) and the Trend, or None when the
    series is too short; daily and intra-day series lose their weekly or daily pattern first."""
    from kpi.trends import change_points

    if metric not in frame.columns or frame[metric].drop_nulls().len() < 6:
        return None
    season = {"15m": "1d", "30m": "1d", "1h": "1d", "1d": "1w"}.get(every)
    cols = [*by, "period", metric]
    trend = change_points(frame.select(cols), metric, by=list(by), season=season)
    return trend.frame.collect(), trend


def trend_findings(
    frame: pl.DataFrame,
    metric: str,
    *,
    start: str | date | datetime | None = None,
    by: Sequence[str] | str = (),
    every: str = "1d",
    max_items: int = 2,
) -> list[str]:
    """Sentences about the unusual values of a :func:`trend_frame` from ``start`` on.

    Notes
    -----
    A value is unusual when its robust z-score ``|x − expected| / σ`` exceeds the threshold of
    :func:`kpi.trends.anomalies`; the sentences name the count and the largest surprises.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> z = ZoneInfo("Europe/London")
    >>> f = pl.DataFrame(
    ...     {
    ...         "period": [datetime(2026, 2, d, tzinfo=z) for d in (2, 3)],
    ...         "aht": [300.0, 520.0],
    ...         "aht_expected": [305.0, 310.0],
    ...         "aht_score": [-0.2, 6.1],
    ...         "aht_anomaly": [False, True],
    ...         "aht_effect": [None, "bad"],
    ...     }
    ... )
    >>> trend_findings(f, "aht")
    ['Average handle time: 1 unusual day; the largest on Tue 3 Feb: 8 min 40 s against an expected 5 min 10 s (worse).']
    """
    from kpi.explain import format_value

    m = _metric(metric)
    by_t = [b for b in ((by,) if isinstance(by, str) else tuple(by)) if b]
    flag, score = f"{metric}_anomaly", f"{metric}_score"
    if flag not in frame.columns:
        return []
    df = frame
    if start not in (None, ""):
        lo = to_timestamp(start, _tz(frame))  # type: ignore[arg-type]
        df = df.filter(pl.col("period") >= lo)
    hits = df.filter(pl.col(flag).fill_null(False)).sort(
        pl.col(score).abs(), descending=True, nulls_last=True
    )
    if hits.height == 0:
        return []
    grain = GRAIN_NAMES.get(every, every)
    plural = grain if hits.height == 1 else grain + "s"
    parts = []
    for row in hits.head(max_items).iter_rows(named=True):
        where = ", ".join(f"{b} {row[b]}" for b in by_t)
        when = _when(row["period"], every)
        worse = {"bad": " (worse)", "good": " (better)"}.get(row.get(f"{metric}_effect") or "", "")
        if m.kra == "volume":
            worse = ""
        parts.append(
            f"{when}{' in ' + where if where else ''}: {format_value(row[metric], m.unit)} "
            f"against an expected {format_value(row[f'{metric}_expected'], m.unit)}{worse}"
        )
    lead = f"{m.label}: {hits.height} unusual {plural}; the largest on "
    return [lead + "; ".join(parts) + "."]


def shift_findings(
    frame: pl.DataFrame,
    metric: str,
    *,
    by: Sequence[str] | str = (),
    every: str = "1d",
    max_items: int = 2,
) -> list[str]:
    """Sentences about lasting changes of level in a KPI series (not single unusual points).

    Parameters
    ----------
    frame
        A collected :func:`trend_frame` (or any frame with ``period``, ``by`` and the KPI).
    every
        The grain of ``period``; intraday and daily series have their daily or weekly pattern
        removed before the search.

    Notes
    -----
    The change points of :func:`kpi.trends.change_points` (exact PELT on the series, penalty
    ``3 ln n`` in units of the noise variance, at least 3 periods per segment); the sentences
    name the largest relative changes: ``mean after − mean before``.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> z = ZoneInfo("Europe/London")
    >>> weeks = [datetime(2026, 1, 5, tzinfo=z) + timedelta(weeks=i) for i in range(12)]
    >>> aht = [300.0, 302, 298, 301, 299, 300, 400, 401, 399, 402, 398, 400]
    >>> shift_findings(pl.DataFrame({"period": weeks, "aht": aht}), "aht", every="1w")
    ['Average handle time moved to a new level from the week of 16 Feb: 6 min 40 s on average, from 5 min 0 s before (worse).']
    """
    from kpi.explain import format_value

    m = _metric(metric)
    by_t = [b for b in ((by,) if isinstance(by, str) else tuple(by)) if b]
    found = _shifts(frame, metric, by_t, every)
    if found is None or found[0].is_empty():
        return []
    points = found[0]
    points = points.sort(pl.col("change_rel").abs(), descending=True, nulls_last=True)
    out = []
    for row in points.head(max_items).iter_rows(named=True):
        where = " in " + ", ".join(f"{b} {row[b]}" for b in by_t) if by_t else ""
        verdict = {True: " (better)", False: " (worse)"}.get(row.get("improved"), "")
        if m.kra == "volume":  # more contacts is neither good nor bad news in itself
            verdict = ""
        out.append(
            f"{m.label}{where} moved to a new level from {_when(row['period'], every)}: "
            f"{format_value(row['mean_after'], m.unit)} on average, from "
            f"{format_value(row['mean_before'], m.unit)} before{verdict}."
        )
    return out


def _tz(frame: pl.DataFrame) -> str:
    dtype = frame.schema.get("period")
    return getattr(dtype, "time_zone", None) or "UTC"


def _when(ts: datetime, every: str) -> str:
    if every in ("1mo", "1q", "1y"):
        return ts.strftime("%Y-%m")
    if every == "1w":
        return f"the week of {ts.day} {ts.strftime('%b')}"
    day = f"{_WEEKDAY_ABBR[ts.weekday()]} {ts.day} {ts.strftime('%b')}"
    return day if every == "1d" else f"{day} {ts.strftime('%H:%M')}"


def heatmap_frame(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    *,
    start: str | date | datetime,
    end: str | date | datetime,
    every: str = "30m",
    params: Mapping[str, Any] | None = None,
    how: str = "auto",
) -> pl.LazyFrame:
    """A KPI by weekday and time of day over a date range, for :func:`kpi.charts.heatmap_chart`.

    Parameters
    ----------
    start, end
        First and last day (or periods, ``end`` inclusive).
    every
        Interval length (``15m``, ``30m``, ``1h``).
    how
        ``auto``: exact from summed measures for ratio and count KPIs (counts as an average
        per day), else the mean of the interval values; ``mean`` or ``max`` of the interval
        values.

    Returns
    -------
    pl.LazyFrame
        ``weekday`` (1 = Monday), ``interval`` (``HH:MM`` local time) and the KPI column.

    Notes
    -----
    For a KPI whose measures are all sums, a cell is the KPI of the summed measures of every
    interval at that weekday and time (``Σ numerator / Σ denominator``); a count is divided by
    the number of such weekdays in the range (an average day). Other KPIs (maxima, medians,
    sweeps) cannot be re-aggregated exactly, so the cell is the mean (or max) of the values
    of its intervals.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> z = ZoneInfo("Europe/London")
    >>> stamps = [datetime(2026, 1, 5, 9, 10, tzinfo=z), datetime(2026, 1, 12, 9, 20, tzinfo=z)]
    >>> c = pl.DataFrame({"arrival_ts": stamps * 2, "outcome": ["answered"] * 4})
    >>> heatmap_frame(
    ...     {"contacts": c}, "contacts_answered", start="2026-01-05", end="2026-01-18"
    ... ).collect().rows()
    [(1, '09:00', 2.0)]
    """
    ds = Dataset.coerce(data)
    if every not in ("15m", "30m", "1h"):
        raise KpiError(f"a heatmap needs an intraday grain (15m, 30m, 1h), got {every!r}")
    if how not in ("auto", "mean", "max"):
        raise KpiError(f"bad how {how!r}; valid: auto, mean, max")
    m = _metric(metric)
    r = evaluate(ds, metric, every=every, start=start, end=end, params=params)
    build = m.build(r.params[metric])
    lf = r.frame.with_columns(
        pl.col("period").dt.weekday().cast(pl.Int64).alias("weekday"),
        pl.col("period").dt.strftime("%H:%M").alias("interval"),
    )
    keys = ["weekday", "interval"]
    exact = how == "auto" and all(x.kind == "sum" for x in build.measures) and not r.notes
    if exact:
        out = lf.group_by(keys).agg(pl.col(x.name).sum() for x in build.measures)
        value = build.value_expr()
        if build.denominator is None:
            lo = _bound(start, ds.tz)
            hi = _bound(end, ds.tz, end=True)
            assert lo is not None
            assert hi is not None
            days = pl.date_range(lo.date(), hi.date() - timedelta(days=1), "1d", eager=True)
            per_weekday = (
                pl.DataFrame({"d": days})
                .group_by(pl.col("d").dt.weekday().cast(pl.Int64).alias("weekday"))
                .agg(pl.len().alias("_days"))
                .lazy()
            )
            out = out.join(per_weekday, on="weekday", how="left")
            value = value / pl.col("_days")
        out = out.with_columns(value.alias(metric))
    else:
        agg = pl.col(metric).max() if how == "max" else pl.col(metric).mean()
        out = lf.group_by(keys).agg(agg)
    return out.select(*keys, metric).sort(keys)


def to_long(
    frame: pl.LazyFrame | pl.DataFrame,
    columns: Mapping[str, str],
    *,
    index: Sequence[str] = ("period",),
    name: str = "series",
    value: str = "value",
) -> pl.LazyFrame:
    """Several value columns as one ``value`` column with a ``series`` label (for colour).

    Parameters
    ----------
    columns
        Column name to its label (the ``series`` values), in display order.

    Examples
    --------
    >>> f = pl.DataFrame({"period": [1, 2], "opened": [5, 6], "handled": [4, 7]})
    >>> to_long(f, {"opened": "opened", "handled": "handled"}).collect().rows()
    [(1, 'opened', 5), (1, 'handled', 4), (2, 'opened', 6), (2, 'handled', 7)]
    """
    lf = frame.lazy()
    return (
        lf.select(*index, *columns)
        .unpivot(index=list(index), on=list(columns), variable_name=name, value_name=value)
        .with_columns(pl.col(name).replace_strict(dict(columns), return_dtype=pl.String))
    )


# --------------------------------------------------------------------------------------------
# Drill-down
# --------------------------------------------------------------------------------------------


def segment_name(dims: Mapping[str, Any]) -> str:
    """``team North, topic billing`` (``all`` for the empty segment).

    Examples
    --------
    >>> segment_name({"team": "North", "topic": "billing"}), segment_name({})
    ('team North, topic billing', 'all')
    """
    return ", ".join(f"{k} {v}" for k, v in dims.items()) or "all"


def change_frame(exp: Any) -> pl.DataFrame:
    """The headline change of an :class:`~kpi.explain.Explanation` as a one-row table.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> exp = NS(
    ...     label="AHT",
    ...     unit="s",
    ...     definition="AHT = ...",
    ...     baseline={"period": "2026-01", "value": 300.0},
    ...     current={"period": "2026-02", "value": 330.0},
    ...     change={"absolute": 30.0, "relative": 0.1},
    ... )
    >>> change_frame(exp).row(0)
    ('AHT', 's', '2026-01', 300.0, '2026-02', 330.0, 30.0, 0.1)
    """
    return pl.DataFrame(
        {
            "kpi": [exp.label],
            "unit": [exp.unit],
            "baseline_period": [exp.baseline["period"]],
            "baseline": [_float(exp.baseline["value"])],
            "current_period": [exp.current["period"]],
            "current": [_float(exp.current["value"])],
            "change": [_float(exp.change.get("absolute"))],
            "change_rel": [_float(exp.change.get("relative"))],
        }
    )


def _float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def drivers_frame(drivers: Any) -> pl.DataFrame:
    """Drivers as a table: ``driver``, ``unit``, ``baseline``, ``current``, ``contribution``,
    ``share`` (of the change), in the order of the driver tree.

    Parameters
    ----------
    drivers
        An :class:`~kpi.explain.Explanation`, its ``drivers`` list, or the ``drivers`` list of
        ``segment_drivers`` (plain dicts).

    Notes
    -----
    Contributions add up to the change exactly (``Σ contribution = current − baseline``).

    Examples
    --------
    >>> from kpi.explain import Driver
    >>> d = [Driver("talk", "talk time", "s", 400.0, 430.0, 30.0, 0.75)]
    >>> drivers_frame(d).rows()
    [('talk time', 's', 400.0, 430.0, 30.0, 0.75)]
    """
    items = getattr(drivers, "drivers", drivers) or []
    rows = []
    for d in items:
        get = d.get if isinstance(d, Mapping) else (lambda k, d=d: getattr(d, k, None))
        rows.append(
            {
                "driver": str(get("label") or get("name")),
                "unit": str(get("unit") or ""),
                "baseline": _float(get("baseline")),
                "current": _float(get("current")),
                "contribution": _float(get("contribution")) or 0.0,
                "share": _float(get("share")),
            }
        )
    schema = {
        "driver": pl.String,
        "unit": pl.String,
        "baseline": pl.Float64,
        "current": pl.Float64,
        "contribution": pl.Float64,
        "share": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def driver_waterfall(exp: Any, *, segment: bool = False, title: str | None = None) -> Any:
    """The waterfall of an explanation's drivers, from the baseline value to the current one.

    Parameters
    ----------
    exp
        An :class:`~kpi.explain.Explanation`.
    segment
        Draw the drivers inside the top segment (``exp.segment_drivers``) instead; ``None``
        when the explanation has none.

    Notes
    -----
    ``baseline + Σ contributions = current`` (the attribution is exact).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> from kpi.explain import Driver
    >>> exp = NS(
    ...     label="AHT",
    ...     unit="s",
    ...     baseline={"period": "2026-01", "value": 400.0},
    ...     current={"period": "2026-02", "value": 430.0},
    ...     drivers=[Driver("talk", "talk time", "s", 300.0, 330.0, 30.0, 1.0)],
    ...     segments=[],
    ...     segment_drivers={},
    ... )
    >>> spec = driver_waterfall(exp).to_dict()
    >>> [r["step"] for r in spec["data"]["values"]], spec["title"]
    (['2026-01', 'talk time', '2026-02'], 'Why AHT changed: drivers')
    >>> driver_waterfall(exp, segment=True) is None
    True
    """
    from kpi import charts

    b0, b1 = exp.baseline, exp.current
    if segment:
        inner = getattr(exp, "segment_drivers", None) or {}
        if not inner.get("drivers"):
            return None
        dims = inner.get("dims") or {}
        seg = next((s for s in exp.segments if s.get("dims") == dims), {})
        frame = drivers_frame(inner["drivers"])
        start = (b0["period"], seg["baseline"]) if seg.get("baseline") is not None else None
        end = (b1["period"], seg["current"]) if seg.get("current") is not None else None
        title = title or f"Why {exp.label} changed within {segment_name(dims)}: drivers"
    else:
        frame = drivers_frame(exp)
        start = (b0["period"], b0["value"]) if b0.get("value") is not None else None
        end = (b1["period"], b1["value"]) if b1.get("value") is not None else None
        title = title or f"Why {exp.label} changed: drivers"
    if frame.is_empty():
        return None
    steps = frame.height + (start is not None) + (end is not None)
    return charts.waterfall_chart(
        frame,
        label="driver",
        start=start,
        end=end,
        percent=exp.unit == "ratio",
        title=title,
        width=min(960, max(640, 130 * steps)),
    )


def segments_frame(exp: Any) -> pl.DataFrame:
    """Ranked segments of an explanation: ``rank``, ``segment``, ``kind``, ``baseline``,
    ``current``, ``contribution``, ``share``, ``mix``, ``rate`` (null for additive KPIs).

    Notes
    -----
    For a ratio KPI a segment's contribution splits into a mix effect (its share of the
    denominator moved) and a rate effect (its own ratio moved): ``contribution = mix + rate``.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> exp = NS(
    ...     segments=[
    ...         {
    ...             "dims": {"team": "North"},
    ...             "kind": "rate",
    ...             "baseline": 0.7,
    ...             "current": 0.1,
    ...             "contribution": -0.3,
    ...             "share": 0.9,
    ...             "mix": 0.01,
    ...             "rate": -0.31,
    ...         }
    ...     ]
    ... )
    >>> segments_frame(exp).row(0)
    (1, 'team North', 'rate', 0.7, 0.1, -0.3, 0.9, 0.01, -0.31)
    """
    rows = []
    for i, s in enumerate(getattr(exp, "segments", exp) or [], 1):
        rows.append(
            {
                "rank": i,
                "segment": segment_name(s.get("dims") or {}),
                "kind": s.get("kind"),
                "baseline": _float(s.get("baseline")),
                "current": _float(s.get("current")),
                "contribution": _float(s.get("contribution")),
                "share": _float(s.get("share")),
                "mix": _float(s.get("mix")),
                "rate": _float(s.get("rate")),
            }
        )
    schema = {
        "rank": pl.Int64,
        "segment": pl.String,
        "kind": pl.String,
        "baseline": pl.Float64,
        "current": pl.Float64,
        "contribution": pl.Float64,
        "share": pl.Float64,
        "mix": pl.Float64,
        "rate": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def effects_frame(segments: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Segment contributions split into effects, long, for :func:`kpi.charts.effects_chart`.

    Returns ``segment``, ``effect`` and ``value``: the mix and rate effects where the
    explanation has them (ratio KPIs), else the whole contribution as ``change``.

    Examples
    --------
    >>> seg = pl.DataFrame(
    ...     {
    ...         "segment": ["team A", "team B"],
    ...         "contribution": [-0.3, 50.0],
    ...         "mix": [0.01, None],
    ...         "rate": [-0.31, None],
    ...     }
    ... )
    >>> effects_frame(seg).collect().rows()
    [('team A', 'mix', 0.01), ('team A', 'rate', -0.31), ('team B', 'change', 50.0)]
    """
    lf = segments.lazy().with_row_index("_i")
    has_split = pl.col("mix").is_not_null() | pl.col("rate").is_not_null()
    split = lf.filter(has_split).select(
        "_i",
        "segment",
        pl.concat_list(pl.lit("mix"), pl.lit("rate")).alias("effect"),
        pl.concat_list(pl.col("mix").fill_null(0.0), pl.col("rate").fill_null(0.0)).alias("value"),
    )
    whole = lf.filter(~has_split).select(
        "_i",
        "segment",
        pl.concat_list(pl.lit("change")).alias("effect"),
        pl.concat_list(pl.col("contribution").cast(pl.Float64)).alias("value"),
    )
    return (
        pl.concat([split, whole])
        .explode("effect", "value")
        .sort("_i", maintain_order=True)
        .drop("_i")
    )


def segment_options(exp: Any) -> list[tuple[str, dict[str, Any]]]:
    """The explanation's segments as ``(name, dims)`` choices, ranked.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> segment_options(NS(segments=[{"dims": {"team": "North"}}]))
    [('team North', {'team': 'North'})]
    """
    return [
        (segment_name(s.get("dims") or {}), dict(s.get("dims") or {}))
        for s in getattr(exp, "segments", None) or []
        if s.get("dims")
    ]


def choose_segment(exp: Any, segment: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``segment`` when given, else the top segment that moved the KPI the way it moved.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> exp = NS(
    ...     segments=[
    ...         {"dims": {"team": "B"}, "share": -0.2},
    ...         {"dims": {"team": "A"}, "share": 0.8},
    ...     ]
    ... )
    >>> choose_segment(exp), choose_segment(exp, {"topic": "x"})
    ({'team': 'A'}, {'topic': 'x'})
    """
    if segment:
        return dict(segment)
    segs = [s for s in getattr(exp, "segments", None) or [] if s.get("dims")]
    top = next((s for s in segs if (s.get("share") or 0) > 0), segs[0] if segs else None)
    return dict(top["dims"]) if top else {}


def segment_breakdown(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    segment: Mapping[str, Any],
    *,
    baseline: str | Period,
    current: str | Period,
    by: str,
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Inside one segment, the KPI by another dimension in both periods (aggregated rows).

    Returns
    -------
    pl.LazyFrame
        ``by``, ``baseline``, ``current``, ``change``, ``change_rel``, sorted by the size of the
        change. For a count KPI a value missing in one period is 0.

    Notes
    -----
    ``change = current − baseline``, ``change_rel = change / |baseline|`` (null when the
    baseline is 0 or missing). The data is first cut to the segment with
    :func:`kpi.explain.restrict`.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> j, f = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [j, j, f],
    ...         "outcome": ["answered"] * 3,
    ...         "team": ["A", "A", "A"],
    ...         "topic": ["x", "y", "x"],
    ...     }
    ... )
    >>> segment_breakdown(
    ...     {"contacts": c},
    ...     "contacts_answered",
    ...     {"team": "A"},
    ...     baseline="2026-01",
    ...     current="2026-02",
    ...     by="topic",
    ... ).collect().rows()
    [('y', 1.0, 0.0, -1.0, -1.0), ('x', 1.0, 1.0, 0.0, 0.0)]
    """
    from kpi.explain import restrict

    ds = restrict(Dataset.coerce(data), segment) if segment else Dataset.coerce(data)
    frames = []
    for name, p in (("baseline", baseline), ("current", current)):
        per = p if isinstance(p, Period) else parse_period(p)
        r = evaluate(
            ds,
            metric,
            by=by,
            start=per.start,
            end=per.end - timedelta(days=1),
            params=params,
            measures=False,
        )
        frames.append(r.frame.select(by, pl.col(metric).alias(name)))
    out = frames[0].join(frames[1], on=by, how="full", coalesce=True, nulls_equal=True)
    build = _metric(metric).build(r.params[metric])
    if build.denominator is None and build.numerator.kind == "sum":  # a count: absent is 0
        out = out.with_columns(pl.col("baseline", "current").fill_null(0.0))
    change = pl.col("current") - pl.col("baseline")
    return out.with_columns(
        change.alias("change"),
        pl.when(pl.col("baseline").abs() > 0)
        .then(change / pl.col("baseline").abs())
        .alias("change_rel"),
    ).sort(pl.col("change").abs(), descending=True, nulls_last=True)


def segment_rows(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    segment: Mapping[str, Any],
    *,
    period: str | Period,
    max_rows: int = 20,
    show_identifiers: bool = False,
) -> pl.LazyFrame:
    """The first ``max_rows`` records behind a segment in a period, identifiers masked.

    Records come from the KPI's table (contacts or tickets), in time order, with the columns
    an analyst reads first; customer identifiers are masked unless ``show_identifiers``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [datetime(2026, 2, 5, tzinfo=UTC)] * 2,
    ...         "team": ["A", "B"],
    ...         "customer_id": ["C0012345", "C0099999"],
    ...     }
    ... )
    >>> segment_rows({"contacts": c}, "contacts_handled", {"team": "B"}, period="2026-02").select(
    ...     "team", "customer_id"
    ... ).collect().rows()
    [('B', '***999')]
    """
    from kpi.explain import rows
    from kpi._mask import mask_identifiers

    ds = Dataset.coerce(data)
    table = metric_table(metric, ds)
    if table is None:
        raise KpiError(f"no table of the data holds the records of {metric}")
    lf = rows(ds, segment, period=period, table=table)
    names = lf.collect_schema().names()
    wanted = [c for c in _ROW_COLUMNS.get(table, ()) if c in names] or names
    time_col = next((c for c in ("arrival_ts", "created_ts") if c in names), None)
    if time_col:
        lf = lf.sort(time_col)
    return mask_identifiers(lf.select(wanted).head(max_rows), show=show_identifiers)


# --------------------------------------------------------------------------------------------
# Staffing
# --------------------------------------------------------------------------------------------


def what_if_items(
    *, agents: float = 0.0, aht_pct: float = 0.0, volume_pct: float = 0.0
) -> list[str]:
    """What-if changes for :func:`kpi.staffing.parse_what_if` from slider values.

    Parameters
    ----------
    agents
        Agents added to (or, negative, taken from) every interval and team.
    aht_pct, volume_pct
        Handle time and volume change in per cent.

    Examples
    --------
    >>> what_if_items(agents=2, aht_pct=-10)
    ['agents=+2', 'aht=-10%']
    >>> what_if_items()
    []
    """
    out = []
    if agents:
        out.append(f"agents={'+' if agents > 0 else '-'}{_num(abs(agents))}")
    if aht_pct:
        out.append(f"aht={'+' if aht_pct > 0 else '-'}{_num(abs(aht_pct))}%")
    if volume_pct:
        out.append(f"volume={'+' if volume_pct > 0 else '-'}{_num(abs(volume_pct))}%")
    return out


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def staffing_view(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    every: str = "30m",
    by: Sequence[str] = ("team",),
    threshold_s: float = 20,
    target_sl: float = 0.8,
    patience_s: float | None = None,
    what_if: Sequence[str] = (),
) -> pl.LazyFrame:
    """:func:`kpi.staffing.staffing_table` for one period, with only the agents of contact teams.

    Parameters
    ----------
    period
        The period whose intervals are kept.
    patience_s
        Mean patience for Erlang A (seconds); ``None`` or 0 for Erlang C.
    what_if
        What-if changes (``["agents=+2", "aht=-10%"]``); adds the ``what_if_*`` columns.

    Notes
    -----
    Agents of teams that handle no contacts in the data (ticket teams) are left out of the
    agents on queue, since they do not answer the queues modelled. Service level uses the
    ``offered`` denominator (answered within the threshold / offered), for both the expected
    and the achieved value.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> t = datetime(2026, 2, 2, 9, 5, tzinfo=ZoneInfo("Europe/London"))
    >>> c = pl.DataFrame(
    ...     {
    ...         "team": ["A"] * 2,
    ...         "queue": ["q"] * 2,
    ...         "direction": ["inbound"] * 2,
    ...         "queue_ts": [t] * 2,
    ...         "wait_s": [5.0, 40.0],
    ...         "outcome": ["answered"] * 2,
    ...         "talk_s": [200.0, 300.0],
    ...     }
    ... )
    >>> v = staffing_view({"contacts": c}, period="2026-02").collect()
    >>> v.select("team", "offered", "aht_s", "achieved_service_level").rows()
    [('A', 2, 250.0, 0.5)]
    """
    from kpi.staffing import staffing_table

    ds = Dataset.coerce(data)
    if "agent_time" in ds and "contacts" in ds:
        at, ct = ds["agent_time"], ds["contacts"]
        if "team" in at.collect_schema().names() and "team" in ct.collect_schema().names():
            teams = ct.select(pl.col("team").drop_nulls().unique())
            ds = Dataset(
                {**ds.tables, "agent_time": at.join(teams, on="team", how="semi")},
                tz=ds.tz,
                meta=ds.meta,
                path=ds.path,
            )
    p = period if isinstance(period, Period) else parse_period(period)
    table = staffing_table(
        ds,
        every=every,
        by=tuple(by),
        threshold_s=threshold_s,
        target_sl=target_sl,
        patience_s=patience_s or None,
        denominator="offered",
        what_if=list(what_if) or None,
    )
    lo, hi = p.start_ts(ds.tz), p.end_ts(ds.tz)
    return table.filter((pl.col("interval_start") >= lo) & (pl.col("interval_start") < hi))


def _weighted(value: str, weight: str) -> pl.Expr:
    w = pl.when(pl.col(value).is_not_null()).then(pl.col(weight))
    return pl.when(w.sum() > 0).then((pl.col(value) * w).sum() / w.sum())


def _staffing_aggs(schema: Iterable[str]) -> list[pl.Expr]:
    names = set(schema)
    aggs = [
        pl.col("offered").sum(),
        pl.col("answered").sum(),
        pl.col("required_agents").sum(),
        # a sum of nulls is 0 in polars: keep null when no row knows its staffing
        pl.when(pl.col("staffed_agents").is_not_null().any())
        .then(pl.col("staffed_agents").sum())
        .alias("staffed_agents"),
        _weighted("expected_service_level", "offered").alias("expected_service_level"),
        _weighted("achieved_service_level", "offered").alias("achieved_service_level"),
    ]
    if "what_if_agents" in names:
        aggs += [
            pl.when(pl.col("what_if_agents").is_not_null().any())
            .then(pl.col("what_if_agents").sum())
            .alias("what_if_agents"),
            pl.col("what_if_offered").sum(),
            _weighted("what_if_service_level", "what_if_offered").alias("what_if_service_level"),
        ]
    return aggs


def centre_staffing(table: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """A :func:`staffing_view` summed over its groups: one row per interval for the centre.

    Returns
    -------
    pl.LazyFrame
        ``interval_start``, ``offered``, ``answered``, ``required_agents``, ``staffed_agents``,
        ``staffing_gap``, ``expected_service_level``, ``achieved_service_level`` (and the
        ``what_if_*`` agents, offered and service level when the table has a what-if).

    Notes
    -----
    Agents add up across teams (separate pools; fractional requirements are summed, never
    rounded per team); service levels are weighted by offered contacts:
    ``SL = Σ (SL_team × offered_team) / Σ offered_team``, which for the ``offered``
    denominator is exactly answered-within-threshold / offered of the centre.

    Examples
    --------
    >>> t = pl.DataFrame(
    ...     {
    ...         "interval_start": [1, 1],
    ...         "offered": [10, 30],
    ...         "answered": [9, 27],
    ...         "required_agents": [2.5, 6.0],
    ...         "staffed_agents": [3.0, 5.0],
    ...         "expected_service_level": [0.9, 0.5],
    ...         "achieved_service_level": [1.0, 0.6],
    ...     }
    ... )
    >>> centre_staffing(t).collect().row(0)
    (1, 40, 36, 8.5, 8.0, 0.6, 0.7, -0.5)
    """
    lf = table.lazy()
    return (
        lf.group_by("interval_start")
        .agg(_staffing_aggs(lf.collect_schema().names()))
        .with_columns((pl.col("staffed_agents") - pl.col("required_agents")).alias("staffing_gap"))
        .sort("interval_start")
    )


def service_by(
    table: pl.LazyFrame | pl.DataFrame, *, every: str = "1d", what_if: bool = True
) -> pl.LazyFrame:
    """Achieved, expected (and what-if) service level per ``every``, long for a chart.

    Returns ``period``, ``series`` (``achieved``, ``expected from staffing``, ``what-if``) and
    ``service_level``, weighted by offered contacts as in :func:`centre_staffing`.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = pl.DataFrame(
    ...     {
    ...         "interval_start": [datetime(2026, 2, 2, 9), datetime(2026, 2, 2, 10)],
    ...         "offered": [10, 30],
    ...         "answered": [10, 30],
    ...         "required_agents": [1.0, 1.0],
    ...         "staffed_agents": [1.0, 1.0],
    ...         "expected_service_level": [0.9, 0.5],
    ...         "achieved_service_level": [1.0, 0.6],
    ...     }
    ... )
    >>> service_by(t).collect().select("series", "service_level").rows()
    [('achieved', 0.7), ('expected from staffing', 0.6)]
    """
    lf = table.lazy()
    names = lf.collect_schema().names()
    daily = (
        lf.with_columns(pl.col("interval_start").dt.truncate(every).alias("period"))
        .group_by("period")
        .agg(_staffing_aggs(names))
        .sort("period")
    )
    cols = {
        "achieved_service_level": "achieved",
        "expected_service_level": "expected from staffing",
    }
    if what_if and "what_if_service_level" in names:
        cols["what_if_service_level"] = "what-if"
    return to_long(daily, cols, value="service_level")


def team_staffing(table: pl.LazyFrame | pl.DataFrame, *, by: str = "team") -> pl.LazyFrame:
    """Per team over the whole table: contacts, service levels, average agents and the share
    of intervals with contacts that were under-staffed.

    Notes
    -----
    ``understaffed = intervals with staffed < required / intervals with contacts``;
    averages of agents are over the intervals with contacts.

    Examples
    --------
    >>> t = pl.DataFrame(
    ...     {
    ...         "interval_start": [1, 2],
    ...         "team": ["A", "A"],
    ...         "offered": [10, 30],
    ...         "answered": [9, 27],
    ...         "required_agents": [2.0, 6.0],
    ...         "staffed_agents": [3.0, 5.0],
    ...         "expected_service_level": [0.9, 0.5],
    ...         "achieved_service_level": [1.0, 0.6],
    ...     }
    ... )
    >>> team_staffing(t).collect().row(0)
    ('A', 40, 0.7, 0.6, 4.0, 4.0, 0.5)
    """
    lf = table.lazy()
    names = lf.collect_schema().names()
    busy = pl.col("offered") > 0
    aggs = [
        pl.col("offered").sum(),
        _weighted("achieved_service_level", "offered").alias("achieved_service_level"),
        _weighted("expected_service_level", "offered").alias("expected_service_level"),
    ]
    if "what_if_service_level" in names:
        aggs.append(
            _weighted("what_if_service_level", "what_if_offered").alias("what_if_service_level")
        )
    aggs += [
        pl.col("required_agents").filter(busy).mean().alias("required_agents"),
        pl.col("staffed_agents").filter(busy).mean().alias("staffed_agents"),
        pl.when((busy & pl.col("staffed_agents").is_not_null()).any())
        .then((busy & (pl.col("staffed_agents") < pl.col("required_agents"))).sum() / busy.sum())
        .alias("understaffed"),
    ]
    return lf.group_by(by).agg(aggs).sort(by)


def day_slice(table: pl.LazyFrame | pl.DataFrame, day: str | date | None = None) -> pl.LazyFrame:
    """The intervals of one local day; ``None`` or ``""``: the day with the most contacts.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = pl.DataFrame(
    ...     {
    ...         "interval_start": [datetime(2026, 2, 2, 9), datetime(2026, 2, 3, 9)],
    ...         "offered": [5, 9],
    ...     }
    ... )
    >>> day_slice(t).collect()["offered"].to_list(), day_slice(t, "2026-02-02").collect().height
    ([9], 1)
    """
    lf = table.lazy().with_columns(pl.col("interval_start").dt.date().alias("_day"))
    if day not in (None, ""):
        d = day if isinstance(day, date) else parse_period(str(day)).start
        return lf.filter(pl.col("_day") == d).drop("_day")
    busiest = (
        lf.group_by("_day")
        .agg(pl.col("offered").sum().alias("_n"))
        .sort(["_n", "_day"], descending=[True, False])
        .head(1)
        .select("_day")
    )
    return lf.join(busiest, on="_day", how="semi").drop("_day")


def staffing_day_chart(
    centre: pl.LazyFrame | pl.DataFrame,
    day: str | date | None = None,
    *,
    actual: str = "staffed_agents",
    title: str | None = None,
) -> Any:
    """Required against actual (or what-if) agents interval by interval on one day
    (default: the busiest), from :func:`centre_staffing`.

    Raises
    ------
    KpiError
        When the day has no intervals in the table.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = pl.DataFrame(
    ...     {
    ...         "interval_start": [datetime(2026, 2, 2, 9), datetime(2026, 2, 2, 9, 30)],
    ...         "offered": [5, 9],
    ...         "required_agents": [3.0, 4.5],
    ...         "staffed_agents": [4.0, 4.0],
    ...     }
    ... )
    >>> staffing_day_chart(t).to_dict()["title"]
    'Required against actual agents, Mon 2 Feb 2026'
    """
    from kpi import charts

    df = day_slice(centre, day).collect()
    if df.is_empty():
        raise KpiError(f"no staffing intervals on {day} in the period")
    d = df["interval_start"][0]
    when = f"{_WEEKDAY_ABBR[d.weekday()]} {d.day} {d.strftime('%b %Y')}"
    what = "what-if" if actual.startswith("what_if") else "actual"
    if title is None:
        title = f"Required against {what} agents, {when}"
        if df[actual].is_null().all():
            title = f"Agents required, {when} (the agents on queue are not in the data)"
    return charts.staffing_chart(
        df, x="interval_start", required="required_agents", actual=actual, title=title
    )


def shortfall_heatmap_frame(table: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Agents short of the requirement by weekday and time of day, averaged over the days.

    Returns ``weekday`` (1 = Monday), ``interval`` (``HH:MM``) and ``agents_short``.

    Notes
    -----
    ``agents_short = mean over the days of max(required − staffed, 0)``: 0 where the interval
    always had enough agents on queue; intervals whose staffing is unknown are left out.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = pl.DataFrame(
    ...     {
    ...         "interval_start": [datetime(2026, 2, 2, 9), datetime(2026, 2, 9, 9)],
    ...         "required_agents": [5.0, 4.0],
    ...         "staffed_agents": [3.0, 6.0],
    ...     }
    ... )
    >>> shortfall_heatmap_frame(t).collect().rows()
    [(1, '09:00', 1.0)]
    """
    short = pl.max_horizontal(pl.col("required_agents") - pl.col("staffed_agents"), pl.lit(0.0))
    return (
        table.lazy()
        .filter(pl.col("staffed_agents").is_not_null())
        .group_by(
            pl.col("interval_start").dt.weekday().cast(pl.Int64).alias("weekday"),
            pl.col("interval_start").dt.strftime("%H:%M").alias("interval"),
        )
        .agg(short.mean().alias("agents_short"))
        .sort("weekday", "interval")
    )


def staffing_findings(
    centre: pl.DataFrame,
    *,
    every: str = "30m",
    threshold_s: float = 20,
    what_if: Sequence[str] = (),
) -> list[str]:
    """Sentences about a :func:`centre_staffing` table: under-staffing, service level, what-if.

    Examples
    --------
    >>> from datetime import datetime
    >>> t = pl.DataFrame(
    ...     {
    ...         "interval_start": [datetime(2026, 2, 2, 9), datetime(2026, 2, 2, 10)],
    ...         "offered": [10, 30],
    ...         "required_agents": [4.0, 9.5],
    ...         "staffed_agents": [5.0, 7.0],
    ...         "staffing_gap": [1.0, -2.5],
    ...         "expected_service_level": [0.9, 0.5],
    ...         "achieved_service_level": [1.0, 0.6],
    ...     }
    ... )
    >>> for s in staffing_findings(t):
    ...     print(s)
    1 of 2 half-hours with contacts (50%) had fewer agents on queue than required; the largest shortfall was 2.5 agents on Mon 2 Feb 10:00.
    Service level achieved 70.0% (answered within 20 s / offered); the staffing on queue should have given 60.0%.
    """
    out = []
    grain = GRAIN_NAMES.get(every, every)
    busy = centre.filter(pl.col("offered") > 0)
    if busy.height == 0:
        return ["No contacts were offered in the period."]
    known = busy.filter(pl.col("staffed_agents").is_not_null())
    if known.height == 0:
        out.append(
            "The data has no agent time (no agent_time table, or no staffing in the interval "
            "report), so the agents on queue are unknown: only the agents required are shown."
        )
    else:
        short = known.filter(pl.col("staffing_gap") < 0)
        text = (
            f"{short.height} of {known.height} {grain}s with contacts "
            f"({short.height / known.height:.0%}) had fewer agents on queue than required"
        )
        if short.height:
            worst = short.sort("staffing_gap").row(0, named=True)
            text += (
                f"; the largest shortfall was {-worst['staffing_gap']:.1f} agents on "
                f"{_when(worst['interval_start'], every)}"
            )
        out.append(text + ".")
    ach = _weighted_value(busy, "achieved_service_level", "offered")
    exp = _weighted_value(busy, "expected_service_level", "offered")
    if ach is not None:
        text = f"Service level achieved {ach:.1%} (answered within {threshold_s:g} s / offered)"
        if exp is not None:
            text += f"; the staffing on queue should have given {exp:.1%}"
        out.append(text + ".")
    if what_if and "what_if_service_level" in centre.columns:
        wi = _weighted_value(busy, "what_if_service_level", "what_if_offered")
        if wi is not None:
            out.append(
                f"What-if ({', '.join(what_if)}): the model gives a service level of {wi:.1%}"
                + (f" instead of {exp:.1%}." if exp is not None else ".")
            )
    return out


def _weighted_value(df: pl.DataFrame, value: str, weight: str) -> float | None:
    if value not in df.columns:
        return None
    return df.select(_weighted(value, weight)).item()


# --------------------------------------------------------------------------------------------
# Tickets
# --------------------------------------------------------------------------------------------


def ticket_flow(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str = "1d",
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    by: Sequence[str] | str = (),
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Tickets opened and handled per period, and the backlog at the end of each period.

    Returns
    -------
    pl.LazyFrame
        ``by`` columns, ``period``, ``opened`` (created in the period), ``handled``
        (the ``tickets_handled`` KPI: solved in the period) and ``backlog`` (created and not
        yet solved at the end of the period).

    Notes
    -----
    ``backlog(end of p) = backlog(end of p − 1) + opened(p) − solved(p)`` for tickets of the
    data (the ``backlog`` stock KPI).

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> z = ZoneInfo("Europe/London")
    >>> d = [datetime(2026, 2, 2, 9, tzinfo=z), datetime(2026, 2, 3, 9, tzinfo=z)]
    >>> t = pl.DataFrame({"ticket_id": ["a", "b"], "created_ts": d, "solved_ts": [d[1], None]})
    >>> ticket_flow({"tickets": t}).select("opened", "handled", "backlog").collect().rows()
    [(1, 0.0, 1.0), (1, 1.0, 1.0)]
    """
    from kpi import _builders

    ds = Dataset.coerce(data)
    by_t = [b for b in ((by,) if isinstance(by, str) else tuple(by)) if b]
    opened, _ = measure_frame(
        ds, [_builders.tickets_created()], by=by_t, every=every, start=start, end=end
    )
    r = evaluate(
        ds,
        ["tickets_handled", "backlog"],
        by=by_t,
        every=every,
        start=start,
        end=end,
        params=params,
        measures=False,
    )
    keys = [*by_t, *(["period"] if every else [])]
    flow = r.frame.rename({"tickets_handled": "handled"})
    if not keys:
        return pl.concat(
            [opened.rename({"tickets_created": "opened"}), flow], how="horizontal"
        ).select(pl.col("opened").fill_null(0), "handled", "backlog")
    return (
        flow.join(
            opened.rename({"tickets_created": "opened"}),
            on=keys,
            how="left",
            nulls_equal=True,
        )
        .with_columns(pl.col("opened").fill_null(0))
        .select(*keys, "opened", "handled", "backlog")
        .sort(keys)
    )


_TIMES = {
    "resolution_median_h": ("avg_resolution_time", "median"),
    "resolution_p90_h": ("avg_resolution_time", "p90"),
    "first_response_median_h": ("first_response_time", "median"),
    "first_response_p90_h": ("first_response_time", "p90"),
}


def ticket_times(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str | None = "1w",
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    by: Sequence[str] | str = (),
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Resolution and first-response times (median and 90th percentile, hours) per period.

    Returns
    -------
    pl.LazyFrame
        ``by`` columns, ``period`` (with ``every``), ``resolution_median_h``,
        ``resolution_p90_h``, ``first_response_median_h``, ``first_response_p90_h``.

    Notes
    -----
    Resolution time is ``solved − created`` of the tickets solved in the period (the
    ``avg_resolution_time`` KPI, cohort variant from ``params``); first response is
    ``first response − created`` of the tickets created in it. Both are null where no ticket
    qualifies (or the data has no first-response times).

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> c = datetime(2026, 2, 2, 9, tzinfo=ZoneInfo("Europe/London"))
    >>> t = pl.DataFrame(
    ...     {
    ...         "ticket_id": list("abc"),
    ...         "created_ts": [c] * 3,
    ...         "solved_ts": [c + timedelta(hours=h) for h in (1, 2, 10)],
    ...     }
    ... )
    >>> ticket_times({"tickets": t}, every=None).collect().row(0)
    (2.0, 8.4, None, None)
    """
    ds = Dataset.coerce(data)
    by_t = [b for b in ((by,) if isinstance(by, str) else tuple(by)) if b]
    keys = [*by_t, *(["period"] if every else [])]
    base = {k: v for k, v in (params or {}).items() if not k.endswith(".aggregator")}
    out: pl.LazyFrame | None = None
    for name, (kpi_id, agg) in _TIMES.items():
        r = evaluate(
            ds,
            kpi_id,
            by=by_t,
            every=every,
            start=start,
            end=end,
            params={**base, f"{kpi_id}.aggregator": agg},
            measures=False,
        )
        part = r.frame.select(*keys, pl.col(kpi_id).alias(name))
        if out is None:
            out = part
        elif keys:
            out = out.join(part, on=keys, how="full", coalesce=True, nulls_equal=True)
        else:
            out = pl.concat([out, part], how="horizontal")
    assert out is not None
    return out.sort(keys) if keys else out


def ticket_summary(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    compare: str | Period | None = None,
    by: str | None = "team",
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Per ``by`` group (``None`` or ``""``: one row) for one period: opened, handled, backlog at the end, resolution and
    first-response times, and handled in the comparison period.

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
    >>> ticket_summary({"tickets": t}, period="2026-02").select(
    ...     "team", "opened", "handled", "backlog", "resolution_median_h"
    ... ).collect().rows()
    [('A', 1, 1.0, 0.0, 5.0), ('B', 1, 0.0, 1.0, None)]
    """
    p = period if isinstance(period, Period) else parse_period(period)
    keys = [by] if by else []
    span = {"start": p.start, "end": p.end - timedelta(days=1)}
    flow = ticket_flow(data, every=None, by=keys, params=params, **span)
    times = ticket_times(data, every=None, by=keys, params=params, **span)
    if keys:
        out = flow.join(times, on=keys, how="left", nulls_equal=True)
    else:
        out = pl.concat([flow, times], how="horizontal")
    if compare not in (None, ""):
        q = compare if isinstance(compare, Period) else parse_period(compare)  # type: ignore[arg-type]
        prev = ticket_flow(
            data, every=None, by=keys, params=params, start=q.start, end=q.end - timedelta(days=1)
        ).select(*keys, pl.col("handled").alias("handled_previous"))
        if keys:
            out = out.join(prev, on=keys, how="left", nulls_equal=True)
        else:
            out = pl.concat([out, prev], how="horizontal")
    if not keys:
        return out
    return out.sort("opened", by, descending=[True, False], nulls_last=True)


def ticket_findings(
    current: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    *,
    period: str = "",
    compare: str = "",
) -> list[str]:
    """Sentences about the ticket log: volumes, backlog and times against the comparison.

    Parameters
    ----------
    current, previous
        For each period a mapping with ``opened``, ``handled``, ``backlog`` (at the end) and
        the columns of :func:`ticket_times` (as from ``ticket_summary`` without ``by``, or a
        row of a collected frame).

    Examples
    --------
    >>> now = {
    ...     "opened": 120,
    ...     "handled": 100,
    ...     "backlog": 60,
    ...     "resolution_median_h": 30.0,
    ...     "resolution_p90_h": 80.0,
    ...     "first_response_median_h": None,
    ... }
    >>> before = {
    ...     "opened": 100,
    ...     "handled": 110,
    ...     "backlog": 40,
    ...     "resolution_median_h": 24.0,
    ...     "resolution_p90_h": 70.0,
    ...     "first_response_median_h": None,
    ... }
    >>> for s in ticket_findings(now, before, period="2026-02", compare="2026-01"):
    ...     print(s)
    120 tickets opened and 100 handled in 2026-02 (100 and 110 in 2026-01).
    The backlog grew from 40 to 60 open tickets.
    Median resolution time rose from 24.0 h to 30.0 h; 90% of tickets were solved within 80.0 h.
    The data has no first-response times.
    """
    out = []
    prev = previous or {}
    opened, handled = current.get("opened"), current.get("handled")
    if opened is None:
        return ["The data has no tickets."]
    text = f"{_tickets(opened)} opened and {_int(handled)} handled{_in(period)}"
    if prev.get("opened") is not None:
        text += f" ({_int(prev['opened'])} and {_int(prev.get('handled'))}{_in(compare)})"
    out.append(text + ".")
    b1, b0 = current.get("backlog"), prev.get("backlog")
    if b1 is not None:
        if b0 is None:
            verb = "was" if _int(b1) == "1" else "were"
            out.append(f"{_tickets(b1)} {verb} open at the end of the period.")
        elif b1 == b0:
            out.append(f"The backlog stayed at {_tickets(b1, 'open ')}.")
        else:
            verb = "grew" if b1 > b0 else "shrank"
            out.append(f"The backlog {verb} from {_int(b0)} to {_tickets(b1, 'open ')}.")
    med, p90 = current.get("resolution_median_h"), current.get("resolution_p90_h")
    if med is not None:
        m0 = prev.get("resolution_median_h")
        if m0 is not None and m0 != med:
            verb = "rose" if med > m0 else "fell"
            text = f"Median resolution time {verb} from {m0:,.1f} h to {med:,.1f} h"
        else:
            text = f"Median resolution time was {med:,.1f} h"
        if p90 is not None:
            text += f"; 90% of tickets were solved within {p90:,.1f} h"
        out.append(text + ".")
    fr = current.get("first_response_median_h")
    if fr is None:
        out.append("The data has no first-response times.")
    else:
        fr0 = prev.get("first_response_median_h")
        extra = f" ({fr0:,.1f} h{_in(compare)})" if fr0 is not None else ""
        out.append(f"Median first response took {fr:,.1f} h{extra}.")
    return out


def _tickets(v: Any, kind: str = "") -> str:
    n = _int(v)
    return f"{n} {kind}ticket" + ("" if n == "1" else "s")


def _int(v: Any) -> str:
    return "n/a" if v is None else f"{round(float(v)):,}"


def _in(label: str) -> str:
    return f" in {label}" if label else ""


def ticket_overview(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    compare: str | Period | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """The findings of the tickets report: :func:`ticket_findings` for the period against the
    comparison period, or why there are none (no tickets table).

    This function collects (it makes sentences).

    Examples
    --------
    >>> ticket_overview({"contacts": pl.DataFrame({"talk_s": [1.0]})}, period="2026-02")
    ['The data has no tickets table: this report needs a ticket log (`kpi import --preset tickets`).']
    """
    ds = Dataset.coerce(data)
    if "tickets" not in ds:
        return [
            "The data has no tickets table: this report needs a ticket log "
            "(`kpi import --preset tickets`)."
        ]
    p = period if isinstance(period, Period) else parse_period(period)
    now = ticket_summary(ds, period=p, by=None, params=params).collect().row(0, named=True)
    before = None
    q = None
    if compare not in (None, ""):
        q = compare if isinstance(compare, Period) else parse_period(compare)  # type: ignore[arg-type]
        before = ticket_summary(ds, period=q, by=None, params=params).collect().row(0, named=True)
    return ticket_findings(now, before, period=p.label, compare=q.label if q else "")
