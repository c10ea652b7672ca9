"""Views of the trends notebook: a KPI over time with seasonal anomaly flags, its chart with
targets, events and levels, sentences about unusual values and lasting shifts, and the
weekday-by-time-of-day heatmap."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from kpi._format import format_value
from kpi.compute import dataset_params, evaluate
from kpi.cube import CubeWarning, prepare
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import Build, resolve
from kpi.periods import GRAINS, to_timestamp
from kpi.targets import TargetSet
from kpi.views._common import (
    GRAIN_NAMES,
    bound,
    by_columns,
    known_metric,
    period_text,
    unit_of,
)

__all__ = [
    "MAX_LEVEL_POINTS",
    "MAX_LINES",
    "heatmap_frame",
    "shift_findings",
    "trend_figure",
    "trend_findings",
    "trend_frame",
]

#: A trend chart draws at most this many lines (the palette's colours). With more groups (400
#: agents, 30 queues) it draws the busiest ``MAX_LINES - 1`` and the others combined into one
#: grey line, exact from their summed measures; a KPI that does not add up from sums (a
#: maximum, a distinct count) draws its ``MAX_LINES`` busiest alone. Hundreds of lines cannot
#: be told apart, and scoring and drawing them cost a redraw seconds.
MAX_LINES = 8

#: A trend chart draws the dashed levels between change points when its lines hold at most
#: this many points together (a month of half hours, five lines of a year of days): their
#: search grows with the square of a line's length (a month of 15-minute intervals would cost
#: a redraw more than its third of a second), and more steps crowd the chart.
#: :func:`shift_findings` still names the shifts of any series.
MAX_LEVEL_POINTS = 2000

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
    max_lines: int | None = None,
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
    max_lines
        With one ``by`` column: keep at most this many lines, as a chart draws them (see
        Notes); ``None``: every group.

    Returns
    -------
    pl.LazyFrame
        ``by`` columns, ``period``, the KPI, its measures, and ``<kpi>_expected``, ``_lower``,
        ``_upper``, ``_score``, ``_history_n``, ``_anomaly``, ``_effect``. With
        ``max_lines``, also ``combined`` (the line stands for the other groups together) and
        ``groups`` (how many groups the range holds), the ``by`` column as text, and the
        rows by line, busiest first.

    Notes
    -----
    For a dataset directory loaded as it is, the measure cube (:mod:`kpi.cube`) is built on
    first use (:func:`kpi.cube.prepare`) so later calls roll up from it; where it cannot be
    written the rows answer and a :class:`kpi.cube.CubeWarning` says so once.

    With ``max_lines`` and more groups than that in ``[start, end]``, the busiest groups are
    kept: the largest sum over the range of the KPI's denominator, else of its numerator, else
    of the KPI. When every measure of the KPI is a sum (and ``max_lines`` is 2 or more),
    ``max_lines − 1`` of them are kept and one more line, labelled ``"<n> others"``, holds the
    KPI of the other groups' summed measures per period (a measure null where none of them has
    it), scored like any line; otherwise ``max_lines`` are kept and the others left out.

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
    return _trend_frame(
        Dataset.coerce(data),
        metric,
        every=every,
        by=by_columns(by),
        start=start,
        end=end,
        params=params,
        lookback=lookback,
        threshold=threshold,
        max_lines=max_lines,
    )


def _trend_frame(
    ds: Dataset,
    metric: str,
    *,
    every: str,
    by: Sequence[str],
    start: str | date | datetime | None,
    end: str | date | datetime | None,
    params: Mapping[str, Any] | None,
    lookback: int = 8,
    threshold: float = 3.5,
    max_lines: int | None = None,
) -> pl.LazyFrame:
    """:func:`trend_frame` of a dataset: scored from ``lookback`` seasons before ``start``, then
    cut to ``[start, end]``."""
    from kpi.trends import anomalies

    by_t = tuple(by)
    lo = bound(start, ds.tz)
    hi = bound(end, ds.tz, end=True)
    season = _SEASON.get(every)
    if season is None:
        raise KpiError(f"unknown grain {every!r}; valid grains: {', '.join(GRAINS)}")
    first = _shift(lo, season, -lookback) if lo is not None else None
    # a dataset directory's measure cube is built on first use, so the next redraw is quick;
    # one that cannot be written leaves the rows to answer, with a warning (shown once)
    note = prepare(ds, params=dataset_params(ds), metrics=metric)
    if note:
        warnings.warn(note, CubeWarning, stacklevel=3)
    result = evaluate(ds, metric, by=by_t, every=every, start=first, end=hi, params=params)
    shown = None if lo is None else pl.lit(lo).dt.convert_time_zone(ds.tz)
    if max_lines is not None and max_lines < 1:
        raise KpiError(f"bad max_lines {max_lines!r}: must be at least 1")
    pick = max_lines is not None and len(by_t) == 1
    if pick:
        if by_t[0] in ("combined", "groups"):
            raise KpiError(
                f"a column named {by_t[0]!r} cannot split a trend of at most {max_lines} "
                "lines: the trend adds a column of that name; rename it in the data"
            )
        build = known_metric(metric).build(result.params[metric])
        lines = _lines(result.frame, metric, by_t[0], build, max_lines=max_lines, start=shown)
        result = replace(result, frame=lines)
    scored = anomalies(result, metric, season=season, lookback=lookback, threshold=threshold).frame
    if pick:
        scored = scored.sort("_line", "period").drop("_line")
    if shown is not None:
        scored = scored.filter(pl.col("period") >= shown)
    return scored


def _build_of(ds: Dataset, metric: str, params: Mapping[str, Any] | None) -> Build:
    """The KPI's measures under the notebook's flat ``params`` and the dataset's own
    variants, as :func:`kpi.compute.evaluate` resolves them."""
    ((m, p),) = resolve([metric], dataset_params(ds, params))
    return m.build(p)


def _adds_up(build: Build, names: Sequence[str]) -> bool:
    """Whether every measure of the KPI is a sum among ``names``: then the KPI of several
    groups together is the KPI of their summed measures."""
    return all(x.kind == "sum" and x.name in names for x in build.measures)


def _weight(build: Build, names: Sequence[str]) -> str | None:
    """The measure that says how busy a group is: the KPI's denominator, else its numerator,
    when a sum in ``names``; None: rank by the KPI itself."""
    for x in (build.denominator, build.numerator):
        if x is not None and x.kind == "sum" and x.name in names:
            return x.name
    return None


def _lines(
    lf: pl.LazyFrame,
    metric: str,
    column: str,
    build: Build,
    *,
    max_lines: int,
    start: pl.Expr | None = None,
) -> pl.LazyFrame:
    """At most ``max_lines`` lines of ``lf`` by ``column`` (see :func:`trend_frame`'s Notes),
    with ``combined``, ``groups`` and ``_line`` (0 for the busiest), ``column`` as text.

    The other groups' line is ``value(Σ measures)`` per period, each sum null where none of
    them has the measure (unknown stays unknown), so it is the KPI over those groups exactly.
    """
    lf = lf.cache()  # read for the ranking, the kept lines and the others' line
    names = lf.collect_schema().names()
    # one line: the busiest group, not the others' line alone
    additive = max_lines > 1 and _adds_up(build, names)
    weight = _weight(build, names) or metric
    n = max_lines - 1 if additive else max_lines
    ranked = (
        (lf if start is None else lf.filter(pl.col("period") >= start))
        .group_by(column)
        .agg(pl.col(weight).sum().alias("_weight"))
        .sort("_weight", column, descending=[True, False], nulls_last=True)
        .with_row_index("_line")
        .with_columns(pl.len().alias("groups"))
    )
    top = ranked.filter((pl.col("_line") < n) | (pl.col("groups") <= max_lines))
    own = lf.join(top.drop("_weight"), on=column, nulls_equal=True).with_columns(
        pl.col(column).cast(pl.String), pl.lit(False).alias("combined")
    )
    if not additive:
        return own
    rest = (
        lf.join(top, on=column, how="anti", nulls_equal=True)
        .group_by("period")
        .agg(
            pl.when(pl.col(x.name).count() > 0).then(pl.col(x.name).sum()).alias(x.name)
            for x in build.measures
        )
        .join(ranked.select("groups").head(1), how="cross")
        .filter(pl.col("groups") > max_lines)
        .with_columns(
            build.value_expr().alias(metric),
            pl.format("{} others", pl.col("groups") - n).alias(column),
            pl.lit(n, dtype=pl.UInt32).alias("_line"),
            pl.lit(True).alias("combined"),
        )
    )
    return pl.concat([own, rest], how="diagonal_relaxed")


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

    At most :data:`MAX_LINES` lines are drawn: with more groups, the busiest and the others as
    one grey line (see :func:`trend_frame`'s ``max_lines``). Where a series shifts
    (:func:`kpi.trends.change_points`), the level of each segment between change points is
    drawn as a dashed step, when the lines hold at most :data:`MAX_LEVEL_POINTS` points.

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
        A collected :func:`trend_frame` result to draw instead of computing it again (with
        ``max_lines``, so that the other groups' line is scored too; without, the lines are
        chosen here and that line has no anomaly flags).

    Returns
    -------
    altair.LayerChart

    Notes
    -----
    With several ``by`` columns only the first colours the lines (and no lines are left
    out). The chart shows aggregated values only, one point per period (and group).

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
    by_t = by_columns(by)
    if frame is None:
        frame = _trend_frame(
            ds,
            metric,
            every=every,
            by=by_t,
            start=start,
            end=end,
            params=params,
            max_lines=MAX_LINES,
        ).collect()
    m = known_metric(metric)
    target = (targets or TargetSet()).default(metric, params)
    unit = unit_of(metric, params)
    ev = ds.tables.get("events") if events else None
    grain = GRAIN_NAMES.get(every, every)
    notes = []
    others = None
    # what anomalies are judged against: the same weekday (and time) of earlier weeks for days
    # and shorter, earlier periods otherwise
    weekly = _SEASON.get(every) == "1w" and every != "1w"
    unusual = (
        f"unusual for the {grain} and weekday" if weekly else f"unusual against earlier {grain}s"
    )
    if len(by_t) == 1:
        build = _build_of(ds, metric, params)
        if "combined" not in frame.columns:  # every group: the chart's lines chosen here
            frame = _lines(frame.lazy(), metric, by_t[0], build, max_lines=MAX_LINES)
            frame = frame.sort("_line", "period").drop("_line").collect()
        others, shown = _lines_text(frame, by_t[0], build)
        notes.append(f"by {by_t[0]}{shown}; circled: {unusual}")
    elif by_t:
        notes.append(f"by {by_t[0]}; circled: {unusual}")
    elif f"{metric}_anomaly" in frame.columns:
        same = "unusual against the same point of earlier weeks"
        notes.append(f"circled: {same if weekly else unusual}")
    # levels need one series per line (with several ``by`` columns the lines mix groups), and
    # few enough points to be read and searched quickly
    few = len(by_t) <= 1 and frame.height <= MAX_LEVEL_POINTS
    levels = _levels(frame, metric, by_t, every) if few else None
    if levels is not None:
        notes.append("dashed: the level between change points")
    return charts.trend_chart(
        frame,
        x="period",
        y=metric,
        color=by_t[0] if by_t else None,
        percent=unit == "ratio",
        target=None if target is None else target.target,
        anomaly=f"{metric}_anomaly" if f"{metric}_anomaly" in frame.columns else None,
        events=ev,
        levels=levels,
        others=others,
        title=title or f"{m.label} by {grain}",
        subtitle="; ".join(notes) or None,
    )


def _lines_text(frame: pl.DataFrame, column: str, build: Build) -> tuple[str | None, str]:
    """The label of the other groups' line (None without one) and the words that say which
    lines a chart of :func:`_lines` draws ("" when it draws every group)."""
    combined = frame["combined"].fill_null(False)
    own = frame.filter(~combined)[column].n_unique()
    rest = frame.filter(combined)[column]
    groups = frame["groups"].max() if "groups" in frame.columns else None
    if not isinstance(groups, int) or groups <= own:
        return None, ""
    busiest = "busiest" if _weight(build, frame.columns) else "highest"
    if rest.is_empty():
        adds_up = _adds_up(build, frame.columns)
        why = "no line for the others" if adds_up else "the others do not add up to one line"
        return None, f": the {own} {busiest} of {groups} ({why})"
    return rest[0], f": the {own} {busiest} of {groups}, the other {groups - own} as one line"


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
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """Sentences about the unusual values of a :func:`trend_frame` from ``start`` on, in the
    KPI's unit under ``params``; never about an unknown (null) value.

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
    m = known_metric(metric)
    by_t = by_columns(by)
    flag, score = f"{metric}_anomaly", f"{metric}_score"
    if flag not in frame.columns:
        return []
    df = frame
    if start not in (None, ""):
        lo = to_timestamp(start, _tz(frame))  # type: ignore[arg-type]
        df = df.filter(pl.col("period") >= lo)
    unit = unit_of(metric, params)
    hits = df.filter(pl.col(flag).fill_null(False), pl.col(metric).is_not_null()).sort(
        pl.col(score).abs(), descending=True, nulls_last=True
    )
    if hits.height == 0:
        return []
    grain = GRAIN_NAMES.get(every, every)
    plural = grain if hits.height == 1 else grain + "s"
    parts = []
    for row in hits.head(max_items).iter_rows(named=True):
        where = _where(row, by_t)
        when = period_text(row["period"], every)
        worse = {"bad": " (worse)", "good": " (better)"}.get(row.get(f"{metric}_effect") or "", "")
        if m.kra == "volume":
            worse = ""
        expected = row.get(f"{metric}_expected")
        against = (
            "" if expected is None else f" against an expected {format_value(expected, unit)}"
        )
        parts.append(
            f"{when}{' in ' + where if where else ''}: {format_value(row[metric], unit)}"
            f"{against}{worse}"
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
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """Sentences about lasting changes of level in a KPI series (not single unusual points),
    in the KPI's unit under ``params``.

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
    m = known_metric(metric)
    by_t = by_columns(by)
    found = _shifts(frame, metric, by_t, every)
    if found is None or found[0].is_empty():
        return []
    unit = unit_of(metric, params)
    points = found[0].filter(
        pl.col("mean_after").is_not_null(), pl.col("mean_before").is_not_null()
    )
    if len(by_t) == 1 and "combined" in frame.columns:  # the line of the other groups, named
        kinds = frame.select(by_t[0], "combined").unique(by_t[0])
        points = points.join(kinds, on=by_t[0], how="left", nulls_equal=True)
    points = points.sort(pl.col("change_rel").abs(), descending=True, nulls_last=True)
    out = []
    for row in points.head(max_items).iter_rows(named=True):
        where = " in " + _where(row, by_t) if by_t else ""
        verdict = {True: " (better)", False: " (worse)"}.get(row.get("improved"), "")
        if m.kra == "volume":  # more contacts is neither good nor bad news in itself
            verdict = ""
        out.append(
            f"{m.label}{where} moved to a new level from {period_text(row['period'], every)}: "
            f"{format_value(row['mean_after'], unit)} on average, from "
            f"{format_value(row['mean_before'], unit)} before{verdict}."
        )
    return out


def _where(row: Mapping[str, Any], by: Sequence[str]) -> str:
    """The group of a row in words: ``team North``; ``the 394 others (agent_id)`` for the line
    of :func:`trend_frame` that combines the groups not drawn."""
    if row.get("combined") and len(by) == 1:
        return f"the {row[by[0]]} ({by[0]})"
    return ", ".join(f"{b} {row[b]}" for b in by)


def _tz(frame: pl.DataFrame) -> str:
    dtype = frame.schema.get("period")
    return getattr(dtype, "time_zone", None) or "UTC"


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
    m = known_metric(metric)
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
        if build.denominator is None:  # a count: an average day of each weekday
            out = out.join(_days_per_weekday(ds.tz, start, end), on="weekday", how="left")
            value = value / pl.col("_days")
        out = out.with_columns(value.alias(metric))
    else:
        agg = pl.col(metric).max() if how == "max" else pl.col(metric).mean()
        out = lf.group_by(keys).agg(agg)
    return out.select(*keys, metric).sort(keys)


def _days_per_weekday(
    tz: str, start: str | date | datetime, end: str | date | datetime
) -> pl.LazyFrame:
    """``weekday`` (1 = Monday) and ``_days``: how many of each weekday the range holds."""
    lo = bound(start, tz)
    hi = bound(end, tz, end=True)
    assert lo is not None
    assert hi is not None
    days = pl.date_range(lo.date(), hi.date() - timedelta(days=1), "1d", eager=True)
    return (
        pl.DataFrame({"d": days})
        .group_by(pl.col("d").dt.weekday().cast(pl.Int64).alias("weekday"))
        .agg(pl.len().alias("_days"))
        .lazy()
    )
