"""Demand and staff per interval from the data, without reading an unknown as zero.

A column the data lack (absent, or null on every row: :func:`kpi.compute.known_columns`) is
never summed: the quantity it feeds is null. Inside a column with some values, a group (an
interval of a team) whose rows are all null there is null too
(``pl.when(pl.col(c).count() > 0).then(pl.col(c).sum())``). Counts of rows (contacts offered,
answered and abandoned in a call log) are counts.

What the data cannot give, :func:`kpi.staffing.staffing_table` fills from planning
assumptions (an AHT, a shrinkage) and marks in its ``assumed`` column; agents on queue
without agent time can be estimated from a call log that names the agent on each call
(:func:`agents_from_log`), marked as an estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import polars as pl

from kpi.compute import known_columns
from kpi.data import Dataset
from kpi.errors import KpiError

__all__ = [
    "CONTACT_COLUMNS",
    "INTERVAL_COLUMNS",
    "STAFF_COLUMNS",
    "agents_from_log",
    "demand_from_contacts",
    "demand_from_intervals",
    "known",
    "staff_from_agent_time",
    "staffing_notes",
]

#: Optional columns of each table staffing reads.
CONTACT_COLUMNS = (
    "queue_ts",
    "wait_s",
    "talk_s",
    "hold_s",
    "acw_s",
    "agent_id",
    "answer_ts",
    "end_ts",
)
INTERVAL_COLUMNS = (
    "answered",
    "abandoned",
    "answered_within_threshold",
    "abandoned_within_threshold",
    "wait_answered_s",
    "talk_s",
    "hold_s",
    "acw_s",
    "staffed_s",
)
STAFF_COLUMNS = ("handle_s", "acw_s", "available_s", "scheduled_s")


def known(ds: Dataset) -> dict[str, dict[str, bool]]:
    """Which optional columns of contacts, intervals and agent_time have values."""
    return known_columns(
        ds,
        {"contacts": CONTACT_COLUMNS, "intervals": INTERVAL_COLUMNS, "agent_time": STAFF_COLUMNS},
    )


def _sum_known(col: str | pl.Expr, *, ok: bool = True, where: pl.Expr | None = None) -> pl.Expr:
    """Σ of a column per group; null when the column is unknown, or null on every row of the
    group (``where`` restricts the rows, e.g. to answered contacts)."""
    if not ok:
        return pl.lit(None, dtype=pl.Float64)
    c = pl.col(col) if isinstance(col, str) else col
    if where is not None:
        c = c.filter(where)
    return pl.when(c.count() > 0).then(c.sum())


def _handle(table: str, ok: Mapping[str, bool]) -> pl.Expr | None:
    """talk + hold + acw of each row, from the components the data know (talk is needed);
    None when talk time is unknown."""
    if not ok.get("talk_s"):
        return None
    parts = [pl.col("talk_s")]
    parts += [pl.col(c).fill_null(0.0) for c in ("hold_s", "acw_s") if ok.get(c)]
    return pl.sum_horizontal(parts) if len(parts) > 1 else parts[0]


def demand_from_contacts(
    contacts: pl.LazyFrame,
    keys: list[str],
    ok: Mapping[str, bool],
    *,
    every: str,
    threshold_s: float,
) -> pl.LazyFrame:
    """Offered, answered, abandoned, within-threshold counts, handle and wait per interval.

    ``answered_within`` and ``wait_answered_s`` are null without ``wait_s``; ``handle_s`` is
    null without ``talk_s`` (and leaves out hold or wrap-up time the data lack).
    """
    if not ok.get("queue_ts"):
        raise KpiError(
            "staffing from contacts needs queue_ts (when each contact entered the queue); "
            "the contacts table has no queue_ts values"
        )
    answered = pl.col("outcome") == "answered"
    abandoned = pl.col("outcome") == "abandoned_queue"
    handle = _handle("contacts", ok)
    if ok.get("wait_s"):
        within = pl.col("wait_s").fill_null(0.0) <= threshold_s
        waits = pl.when(pl.col("wait_s").count() > 0)
        answered_within = waits.then((answered & within).sum()).cast(pl.Int64)
        abandoned_within = waits.then((abandoned & within).sum()).cast(pl.Int64)
    else:
        answered_within = abandoned_within = pl.lit(None, dtype=pl.Int64)
    return (
        contacts.filter(pl.col("queue_ts").is_not_null(), pl.col("direction") == "inbound")
        .group_by(pl.col("queue_ts").dt.truncate(every).alias("interval_start"), *keys)
        .agg(
            offered=pl.len().cast(pl.Int64),
            answered=answered.sum().cast(pl.Int64),
            abandoned=abandoned.sum().cast(pl.Int64),
            answered_within=answered_within,
            abandoned_within=abandoned_within,
            handle_s=pl.lit(None, dtype=pl.Float64)
            if handle is None
            else _sum_known(handle, ok=True, where=answered).cast(pl.Float64),
            wait_answered_s=_sum_known("wait_s", ok=bool(ok.get("wait_s")), where=answered).cast(
                pl.Float64
            ),
            source_interval_s=pl.lit(0.0),
        )
        .with_columns(_demand=pl.lit(True))
    )


def demand_from_intervals(
    intervals: pl.LazyFrame, keys: list[str], ok: Mapping[str, bool], *, every: str
) -> pl.LazyFrame:
    """The same columns from an interval report; each optional count or total is null where
    the report does not carry it (an arrivals-only report has offered contacts only)."""
    handle = _handle("intervals", ok)

    def count(name: str) -> pl.Expr:
        return _sum_known(name, ok=bool(ok.get(name))).cast(pl.Int64)

    return (
        intervals.group_by(
            pl.col("interval_start").dt.truncate(every).alias("interval_start"), *keys
        )
        .agg(
            offered=pl.col("offered").sum().cast(pl.Int64),
            answered=count("answered"),
            abandoned=count("abandoned"),
            answered_within=count("answered_within_threshold"),
            abandoned_within=count("abandoned_within_threshold"),
            handle_s=pl.lit(None, dtype=pl.Float64)
            if handle is None
            else _sum_known(handle, ok=True).cast(pl.Float64),
            wait_answered_s=_sum_known("wait_answered_s", ok=bool(ok.get("wait_answered_s"))).cast(
                pl.Float64
            ),
            source_interval_s=pl.col("interval_s").max(),
            staffed_from_intervals_s=_sum_known("staffed_s", ok=bool(ok.get("staffed_s"))).cast(
                pl.Float64
            ),
        )
        .with_columns(_demand=pl.lit(True))
    )


def staff_from_agent_time(
    agent_time: pl.LazyFrame, staff_keys: list[str], ok: Mapping[str, bool], *, every: str
) -> pl.LazyFrame | None:
    """On-queue, busy and scheduled seconds per interval from agent time; None when the table
    does not say how long agents were on queue (handle, wrap-up and available time)."""
    if not all(ok.get(c) for c in ("handle_s", "acw_s", "available_s")):
        return None
    busy = pl.col("handle_s") + pl.col("acw_s")
    return agent_time.group_by(
        pl.col("interval_start").dt.truncate(every).alias("interval_start"), *staff_keys
    ).agg(
        on_queue_s=_sum_known(busy + pl.col("available_s")),
        busy_s=_sum_known(busy, ok=True),
        sched_s=_sum_known("scheduled_s", ok=bool(ok.get("scheduled_s"))).cast(pl.Float64),
        staff_interval_s=pl.col("interval_s").max(),
    )


def agents_from_log(
    contacts: pl.LazyFrame,
    keys: list[str],
    ok: Mapping[str, bool],
    *,
    every: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.LazyFrame | None:
    """Agents on queue per interval estimated from a call log that names the agent on each
    call: the distinct agents busy with an answered call at some time in the interval.

    A call keeps its agent busy from ``answer_ts`` to ``end_ts`` plus its wrap-up
    (``acw_s``, where known); without those times, the agents who answered a contact that
    queued in the interval. It is a lower bound of the agents on queue (an agent on queue who
    took no call is not seen), so it is shown as an estimate. None when the log names no
    agent.

    ``start``, ``end``: only the intervals starting in ``[start, end)`` are wanted; the calls
    that cannot reach them (answered after ``end``, or over before ``start``, each with two
    days to spare for the truncation to ``every``) are not read, which at 10 million contacts
    and a month is a twelfth of the work. The intervals kept are the same.
    """
    if not ok.get("agent_id"):
        return None
    answered = contacts.filter(
        pl.col("outcome") == "answered",
        pl.col("agent_id").is_not_null(),
        pl.col("direction") == "inbound",
    )
    if ok.get("answer_ts") and ok.get("end_ts"):
        stop = pl.col("end_ts")
        if ok.get("acw_s"):
            stop = stop + pl.duration(seconds=pl.col("acw_s").fill_null(0.0))
        last = pl.max_horizontal(pl.coalesce(stop, pl.col("answer_ts")), pl.col("answer_ts"))
        calls = answered.filter(
            pl.col("answer_ts").is_not_null(), *_reach(pl.col("answer_ts"), last, start, end)
        )
        spans = calls.select(
            *keys,
            "agent_id",
            interval_start=pl.datetime_ranges(
                pl.col("answer_ts").dt.truncate(every), last, interval=every
            ),
        )
        spans = spans.explode("interval_start")
    else:
        q = pl.col("queue_ts")
        spans = answered.filter(q.is_not_null(), *_reach(q, q, start, end)).select(
            *keys, "agent_id", interval_start=q.dt.truncate(every)
        )
    if start is not None:
        spans = spans.filter(pl.col("interval_start") >= start)
    if end is not None:
        spans = spans.filter(pl.col("interval_start") < end)
    return spans.group_by("interval_start", *keys).agg(
        agents_estimate=pl.col("agent_id").n_unique().cast(pl.Float64)
    )


#: Slack around a range for the rows that can reach it: a stamp's interval starts at most
#: one interval (at most a day) and a clock change before it.
_REACH = timedelta(days=2)


def _reach(
    first: pl.Expr, last: pl.Expr, start: datetime | None, end: datetime | None
) -> list[pl.Expr]:
    """Row conditions that keep every row whose intervals (from ``first`` truncated to
    ``last``) can start in ``[start, end)``: a superset, so the intervals kept are exact."""
    conds = []
    if end is not None:
        conds.append(first < end + _REACH)
    if start is not None:
        conds.append(last >= start - _REACH)
    return conds


#: What data would give each staffing quantity the data may lack, in words.
NEEDS = {
    "staffed_agents": "agents on queue: needs agent time (handle_s, acw_s, available_s in "
    "agent_time), or staffed_s in the interval report, or a call log naming the agent on "
    "each call",
    "aht_s": "AHT and agents required: need handle times (talk_s, with hold_s and acw_s, in "
    "contacts or the interval report), or an assumed AHT (--aht-s, aht_s)",
    "achieved_service_level": "service level achieved: needs wait_s in contacts, or "
    "answered_within_threshold in the interval report",
    "achieved_asa_s": "ASA achieved: needs wait_s in contacts, or wait_answered_s in the "
    "interval report",
    "achieved_abandon_rate": "abandon rate achieved: needs abandoned in the interval report",
}


def staffing_notes(
    table: pl.DataFrame | pl.LazyFrame,
    *,
    aht_s: float | None = None,
    shrinkage: float | None = None,
    every: str = "30m",
) -> list[str]:
    """Plain lines on what a :func:`~kpi.staffing.staffing_table` assumed, estimated or could
    not know: one per planning assumption used, one for estimated agents, one per quantity
    unknown in every interval with contacts (what data would enable it).

    Examples
    --------
    >>> t = pl.DataFrame(
    ...     {
    ...         "offered": [5, 7],
    ...         "aht_s": [300.0, 300.0],
    ...         "staffed_agents": [None, None],
    ...         "achieved_service_level": [None, None],
    ...         "assumed": ["aht_s", "aht_s"],
    ...     },
    ...     schema_overrides={"staffed_agents": pl.Float64, "achieved_service_level": pl.Float64},
    ... )
    >>> for line in staffing_notes(t, aht_s=300):
    ...     print(line)
    AHT assumed 300 s (the data has no handle times).
    Not in the data: agents on queue: needs agent time (handle_s, acw_s, available_s in agent_time), or staffed_s in the interval report, or a call log naming the agent on each call.
    Not in the data: service level achieved: needs wait_s in contacts, or answered_within_threshold in the interval report.
    """
    df = table.lazy().collect() if isinstance(table, pl.LazyFrame) else table
    busy = df.filter(pl.col("offered") > 0) if "offered" in df.columns else df
    out: list[str] = []
    if busy.height == 0:
        return out
    assumed = busy["assumed"].fill_null("") if "assumed" in busy.columns else None

    def share(name: str) -> int:
        return 0 if assumed is None else int(assumed.str.contains(name, literal=True).sum())

    n_aht = share("aht_s")
    if n_aht and aht_s is not None:
        where = (
            "the data has no handle times"
            if n_aht == busy.height
            else f"the data has no handle times for {n_aht:,} of {busy.height:,} intervals "
            "with contacts"
        )
        out.append(f"AHT assumed {float(aht_s):g} s ({where}).")
    n_est = share("staffed_agents")
    if n_est:
        out.append(
            "Agents on queue are estimated from the call log: the distinct agents busy with a "
            f"call in each {_interval_word(every)} (agents on queue who took no call are not "
            "seen, so the estimate is a lower bound)."
        )
    if shrinkage is not None:
        out.append(f"Shrinkage assumed {float(shrinkage):.0%} for the agents to schedule.")
    for col, need in NEEDS.items():
        # a centre table (kpi.views.centre_staffing) has the agents required, not the AHT
        have = col if col in busy.columns or col != "aht_s" else "required_agents"
        if have in busy.columns and busy[have].null_count() == busy.height:
            out.append(f"Not in the data: {need}.")
    return out


def _interval_word(every: str) -> str:
    return {"15m": "quarter-hour", "30m": "half-hour", "1h": "hour"}.get(every, every)
