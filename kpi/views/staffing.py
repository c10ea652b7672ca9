"""Views of the staffing notebook: the staffing table of one period (agents of contact teams
only), summed for the centre, by day and by team, one day's chart, the weekday shortfall
heatmap, sentences, and what-if changes from slider values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from kpi._format import format_value
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.periods import Period, parse_period
from kpi.views._common import GRAIN_NAMES, WEEKDAY_ABBR, as_period, period_text, to_long

__all__ = [
    "centre_staffing",
    "day_slice",
    "service_by",
    "shortfall_heatmap_frame",
    "staffing_day_chart",
    "staffing_findings",
    "staffing_view",
    "team_staffing",
    "what_if_items",
]


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
    aht_s: float | None = None,
    shrinkage: float | None = None,
    estimate_agents: bool = True,
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
    aht_s, shrinkage, estimate_agents
        Planning assumptions for what the data lack (``None`` or 0: none), as for
        :func:`kpi.staffing.staffing_table`: the AHT where the data have no handle times, the
        shrinkage of the agents to schedule, agents on queue estimated from a call log. The
        ``assumed`` column names what each row took from them;
        :func:`staffing_findings` says it.

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
    p = as_period(period)
    lo, hi = p.start_ts(ds.tz), p.end_ts(ds.tz)
    table = staffing_table(
        ds,
        every=every,
        by=tuple(by),
        threshold_s=threshold_s,
        target_sl=target_sl,
        patience_s=patience_s or None,
        denominator="offered",
        what_if=list(what_if) or None,
        aht_s=aht_s or None,
        shrinkage=shrinkage or None,
        estimate_agents=estimate_agents,
        start=lo,
        end=hi,
    )
    return table


def _weighted(value: str, weight: str) -> pl.Expr:
    w = pl.when(pl.col(value).is_not_null()).then(pl.col(weight))
    return pl.when(w.sum() > 0).then((pl.col(value) * w).sum() / w.sum())


def _known_sum(col: str) -> pl.Expr:
    """Σ of a column, null when no row knows it (a sum of nulls is 0 in polars)."""
    return pl.when(pl.col(col).is_not_null().any()).then(pl.col(col).sum()).alias(col)


def _staffing_aggs(schema: Iterable[str]) -> list[pl.Expr]:
    names = set(schema)
    aggs = [
        pl.col("offered").sum(),
        _known_sum("answered"),
        _known_sum("required_agents"),
        _known_sum("staffed_agents"),
        _weighted("expected_service_level", "offered").alias("expected_service_level"),
        _weighted("achieved_service_level", "offered").alias("achieved_service_level"),
    ]
    if "assumed" in names:
        joined = pl.col("assumed").drop_nulls().unique().sort().str.join(", ")
        aggs.append(pl.when(joined != "").then(joined).alias("assumed"))
    if "what_if_agents" in names:
        aggs += [
            _known_sum("what_if_agents"),
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
    ``service_level``, weighted by offered contacts as in :func:`centre_staffing`. A series
    null on every day (unknown: the data have no waits, or no agents on queue) is left out.

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
    long = to_long(daily, cols, value="service_level")
    # a series the data cannot give (no waits: no achieved; no agents: no expected) has no line
    return long.filter(pl.col("service_level").is_not_null().any().over("series"))


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
    when = f"{WEEKDAY_ABBR[d.weekday()]} {d.day} {d.strftime('%b %Y')}"
    what = "what-if" if actual.startswith("what_if") else "actual"
    if title is None:
        title = f"Required against {what} agents, {when}"
        if df[actual].is_null().all():
            title = f"Agents required, {when} (the agents on queue are not in the data)"
        elif "assumed" in df.columns and df["assumed"].str.contains("staffed_agents").any():
            # agents on queue counted from the call log (a lower bound), not measured
            title = (
                f"Required against {what} agents, {when} "
                "(agents on queue estimated from the call log)"
            )
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
    aht_s: float | None = None,
    shrinkage: float | None = None,
) -> list[str]:
    """Sentences about a :func:`centre_staffing` table: under-staffing, service level, what-if,
    then what was assumed or estimated and what the data lack (:func:`kpi.staffing
    .staffing_notes`).

    No sentence is built on an unknown: shortfalls only where the agents on queue are known,
    the achieved service level only where the data give it, a what-if only on known agents.
    ``aht_s`` and ``shrinkage`` are the planning assumptions given to :func:`staffing_view`.

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
    from kpi.staffing import staffing_notes

    busy = centre.filter(pl.col("offered") > 0)
    if busy.height == 0:
        return ["No contacts were offered in the period."]
    out = []
    shortfall = _understaffing_sentence(busy, every)
    if shortfall:
        out.append(shortfall)
    ach = _weighted_value(busy, "achieved_service_level", "offered")
    exp = _weighted_value(busy, "expected_service_level", "offered")
    if ach is not None:
        text = f"Service level achieved {_pct(ach)} (answered within {threshold_s:g} s / offered)"
        if exp is not None:
            text += f"; the staffing on queue should have given {_pct(exp)}"
        out.append(text + ".")
    if what_if and "what_if_service_level" in centre.columns:
        wi = _weighted_value(busy, "what_if_service_level", "what_if_offered")
        if wi is not None:
            out.append(
                f"What-if ({', '.join(what_if)}): the model gives a service level of {_pct(wi)}"
                + (f" instead of {_pct(exp)}." if exp is not None else ".")
            )
    return out + staffing_notes(busy, aht_s=aht_s, shrinkage=shrinkage, every=every)


def _known(df: pl.DataFrame, col: str) -> bool:
    return col in df.columns and df[col].is_not_null().any()


def _understaffing_sentence(busy: pl.DataFrame, every: str) -> str | None:
    """How many intervals with contacts had fewer agents on queue than required, and the worst;
    None when no interval knows both (the notes say what data would enable it)."""
    if not (_known(busy, "staffed_agents") and _known(busy, "required_agents")):
        return None
    known = busy.filter(
        pl.col("staffed_agents").is_not_null(), pl.col("required_agents").is_not_null()
    )
    if known.height == 0:
        return None
    short = known.filter(pl.col("staffing_gap") < 0)
    text = (
        f"{short.height} of {known.height} {GRAIN_NAMES.get(every, every)}s with contacts "
        f"({short.height / known.height:.0%}) had fewer agents on queue than required"
    )
    if "assumed" in known.columns and known["assumed"].str.contains("staffed_agents").any():
        text += " (agents on queue estimated from the call log)"
    if short.height:
        worst = short.sort("staffing_gap").row(0, named=True)
        text += (
            f"; the largest shortfall was {-worst['staffing_gap']:.1f} agents on "
            f"{period_text(worst['interval_start'], every)}"
        )
    return text + "."


def _pct(ratio: float) -> str:
    return format_value(ratio, "ratio")


def _weighted_value(df: pl.DataFrame, value: str, weight: str) -> float | None:
    if value not in df.columns:
        return None
    return df.select(_weighted(value, weight)).item()
