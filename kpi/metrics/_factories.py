"""Measure factories used by the KPI declarations in :mod:`kpi.metrics._catalogue`.

Each factory returns a :class:`~kpi.metrics.Measure` whose name encodes the variant values it
depends on, so two KPIs that need the same quantity share one column and one aggregation.
Contact-level sources come first; ACD interval-report sources (table ``intervals``) are
alternatives used when a dataset has no contact rows. Analyses that need a measure no KPI
names reach these through the public alias ``kpi.metrics.factories``.

Each measure also carries its ``text``, the term a formula prints for it ("answered ≤ 20 s"),
written here from the same arguments that build its aggregation.

Every factory here is a row declaration (:class:`~kpi.metrics.Source`: table, aggregation, time
column), engine-neutral by construction. Beside each polars aggregation the factory writes the
same aggregation in SQL (``Source.sql``) from the same arguments, with helpers that mirror the
polars ones (``_nq`` for ``_n``, ``_sq`` for ``_s``, ``_isq`` for ``_isum``; predicates
``*_SQL`` for ``ANS``, ``HANDLED``, ...). SQL's three-valued logic is polars' Kleene logic, and
``CASE WHEN cond`` counts a null condition as false as ``fill_null(False)`` does; the parity
tests (``tests/test_engines.py``) check every such pair on DuckDB and Spark. The measures that need a pass over ordered rows or a
calendar (FCR's repeat test, stocks, sweeps) live in :mod:`kpi.metrics._stateful`.

Examples
--------
>>> answered().name, offered(5).name, answered_within(20).source_tables
('answered', 'offered_excl_short_5s', ('contacts', 'intervals'))
>>> offered(5).text, answered_within(20).text
('offered − short abandons < 5 s', 'answered ≤ 20 s')
"""

from __future__ import annotations

from functools import cache
from typing import Any

import polars as pl

from kpi.metrics._measure import Measure, Source
from kpi.metrics._sql import finance_sql, hours_between_sql, stat_sql

# ---- contact row predicates ---------------------------------------------------------------
OUT = pl.col("outcome")
ANS = OUT == "answered"
ABAND = OUT == "abandoned_queue"
FLOW = OUT == "flowout"
IVR = OUT == "abandoned_ivr"
OUTB = OUT == "outbound"
OFFERED = ANS | ABAND | FLOW
HANDLED = ANS | OUTB
INBOUND = OUT != "outbound"
WAIT = pl.col("wait_s")

# the same predicates in SQL (the dialect DuckDB and Spark SQL share)
ANS_SQL = "outcome = 'answered'"
ABAND_SQL = "outcome = 'abandoned_queue'"
IVR_SQL = "outcome = 'abandoned_ivr'"
OFFERED_SQL = "outcome IN ('answered', 'abandoned_queue', 'flowout')"
HANDLED_SQL = "outcome IN ('answered', 'outbound')"
INBOUND_SQL = "outcome <> 'outbound'"

#: Formula words for time columns (the rest print their name without ``_s``).
_TERMS = {
    "acw_s": "after-call work",
    "logged_in_s": "logged-in time",
    "scheduled_s": "scheduled (paid) time",
}


def _terms(cols: tuple[str, ...]) -> str:
    """Time columns as a formula term: ``logged-in time``, ``(handle + after-call work)``."""
    words = [_TERMS.get(c, c[:-2]) for c in cols]
    return words[0] if len(words) == 1 else "(" + " + ".join(words) + ")"


def _n(cond: pl.Expr) -> pl.Expr:
    """Count rows where ``cond`` holds (nulls count as false)."""
    return cond.fill_null(False).sum().cast(pl.Int64)


def _s(value: pl.Expr, cond: pl.Expr) -> pl.Expr:
    """Sum ``value`` over rows where ``cond`` holds (null values count as 0)."""
    return (
        pl.when(cond.fill_null(False)).then(value.fill_null(0)).otherwise(0).sum().cast(pl.Float64)
    )


def _isum(*cols: str) -> pl.Expr:
    return pl.sum_horizontal(*[pl.col(c).fill_null(0) for c in cols]).sum()


def _nq(cond: str) -> str:
    """:func:`_n` in SQL: rows where ``cond`` holds (a null condition counts as false)."""
    return f"count(CASE WHEN {cond} THEN 1 END)"


def _sq(value: str, cond: str) -> str:
    """:func:`_s` in SQL: Σ ``value`` where ``cond`` holds, null values as 0, as a double."""
    return f"CAST(sum(CASE WHEN {cond} THEN coalesce({value}, 0) ELSE 0 END) AS DOUBLE)"


def _isq(*cols: str) -> str:
    """:func:`_isum` in SQL."""
    return "sum(" + " + ".join(f"coalesce({c}, 0)" for c in cols) + ")"


def _present(table: str, col: str, *, time: str | None = None) -> Source:
    """Rows of ``table`` with a value in ``col`` (polars and SQL)."""
    return Source(table, _n(pl.col(col).is_not_null()), time=time, sql=_nq(f"{col} IS NOT NULL"))


def _distinct_sql(col: str, cond: str) -> str:
    """``col.filter(cond).drop_nulls().n_unique()`` in SQL."""
    return f"count(DISTINCT CASE WHEN {cond} THEN {col} END)"


def _c(
    name: str,
    description: str,
    contacts: pl.Expr,
    intervals: pl.Expr | None = None,
    *,
    meta: dict | None = None,
    kind: str = "sum",
    unit: str = "count",
    text: str,
    sql: str | None = None,
    intervals_sql: str | None = None,
) -> Measure:
    sources = [Source("contacts", contacts, sql=sql)]
    if intervals is not None:
        sources.append(Source("intervals", intervals, meta=meta or {}, sql=intervals_sql))
    return Measure(name, description, tuple(sources), kind=kind, unit=unit, text=text)


def _short(s: int) -> pl.Expr:
    return ABAND & (WAIT < s) if s else pl.lit(False)


def _short_sql(s: int) -> str:
    return f"({ABAND_SQL} AND wait_s < {s})" if s else "FALSE"


def _short_text(s: int) -> str:
    """The formula words for leaving out short abandons (none when ``s`` is 0)."""
    return f" − short abandons < {s} s" if s else ""


# ---- contact volume -------------------------------------------------------------------------


@cache
def arrived() -> Measure:
    return _c(
        "arrived",
        "inbound contacts that arrived (IVR included)",
        _n(INBOUND),
        text="arrived",
        sql=_nq(INBOUND_SQL),
    )


@cache
def offered(short_abandon_s: int = 0) -> Measure:
    s = short_abandon_s
    if not s:
        return _c(
            "offered",
            "contacts routed to a queue (answered + abandoned + flow-out)",
            _n(OFFERED),
            _isum("offered"),
            text="offered",
            sql=_nq(OFFERED_SQL),
            intervals_sql=_isq("offered"),
        )
    return _c(
        f"offered_excl_short_{s}s",
        f"offered minus abandons within {s} s",
        _n(OFFERED & ~_short(s)),
        _isum("offered") - _isum("abandoned_short"),
        meta={"interval_short_abandon_s": s},
        text="offered" + _short_text(s),
        sql=_nq(f"{OFFERED_SQL} AND NOT {_short_sql(s)}"),
        intervals_sql=f"{_isq('offered')} - {_isq('abandoned_short')}",
    )


@cache
def queued(short_abandon_s: int = 0) -> Measure:
    s = short_abandon_s
    name = "queued" + (f"_excl_short_{s}s" if s else "")
    contacts = _n(OFFERED & ~_short(s)) + _n(OFFERED & pl.col("transferred"))
    intervals = _isum("offered", "transferred") - (_isum("abandoned_short") if s else 0)
    sql = f"{_nq(f'{OFFERED_SQL} AND NOT {_short_sql(s)}')} + {_nq(f'{OFFERED_SQL} AND transferred')}"
    isql = _isq("offered", "transferred") + (f" - {_isq('abandoned_short')}" if s else "")
    return _c(
        name,
        "queue entries: offered + transferred contacts re-entering a queue",
        contacts,
        intervals,
        meta={"interval_short_abandon_s": s} if s else None,
        text="queued (offered + re-queued transfers)" + _short_text(s),
        sql=sql,
        intervals_sql=isql,
    )


@cache
def answered() -> Measure:
    return _c(
        "answered",
        "inbound contacts answered by an agent",
        _n(ANS),
        _isum("answered"),
        text="answered",
        sql=_nq(ANS_SQL),
        intervals_sql=_isq("answered"),
    )


@cache
def answered_plus_abandoned(short_abandon_s: int = 0) -> Measure:
    s = short_abandon_s
    name = "answered_plus_abandoned" + (f"_excl_short_{s}s" if s else "")
    intervals = _isum("answered", "abandoned") - (_isum("abandoned_short") if s else 0)
    return _c(
        name,
        "answered + abandoned in queue",
        _n((ANS | ABAND) & ~_short(s)),
        intervals,
        meta={"interval_short_abandon_s": s} if s else None,
        text="(answered + abandoned)" + _short_text(s),
        sql=_nq(f"({ANS_SQL} OR {ABAND_SQL}) AND NOT {_short_sql(s)}"),
        intervals_sql=_isq("answered", "abandoned")
        + (f" - {_isq('abandoned_short')}" if s else ""),
    )


@cache
def abandoned(short_abandon_s: int = 0, *, include_ivr: bool = False) -> Measure:
    s = short_abandon_s
    name = "abandoned" + (f"_excl_short_{s}s" if s else "") + ("_incl_ivr" if include_ivr else "")
    cond = (ABAND & ~_short(s)) | (IVR if include_ivr else pl.lit(False))
    intervals = (
        None if include_ivr else _isum("abandoned") - (_isum("abandoned_short") if s else 0)
    )
    cond_sql = f"({ABAND_SQL} AND NOT {_short_sql(s)})" + (f" OR {IVR_SQL}" if include_ivr else "")
    return _c(
        name,
        "abandoned in queue" + (" or IVR" if include_ivr else ""),
        _n(cond),
        intervals,
        meta={"interval_short_abandon_s": s} if s else None,
        text="abandoned in queue"
        + _short_text(s)
        + (" + abandoned in IVR" if include_ivr else ""),
        sql=_nq(cond_sql),
        intervals_sql=None
        if include_ivr
        else _isq("abandoned") + (f" - {_isq('abandoned_short')}" if s else ""),
    )


@cache
def answered_within(threshold_s: int) -> Measure:
    t = threshold_s
    return _c(
        f"answered_within_{t}s",
        f"answered within {t} s of queue entry",
        _n(ANS & (t >= WAIT)),
        _isum("answered_within_threshold"),
        meta={"interval_threshold_s": t},
        text=f"answered ≤ {t} s",
        sql=_nq(f"{ANS_SQL} AND {t} >= wait_s"),
        intervals_sql=_isq("answered_within_threshold"),
    )


@cache
def answered_or_abandoned_within(threshold_s: int) -> Measure:
    t = threshold_s
    return _c(
        f"answered_or_abandoned_within_{t}s",
        f"answered or abandoned within {t} s",
        _n((ANS | ABAND) & (t >= WAIT)),
        _isum("answered_within_threshold", "abandoned_within_threshold"),
        meta={"interval_threshold_s": t},
        text=f"(answered ≤ {t} s + abandoned ≤ {t} s)",
        sql=_nq(f"({ANS_SQL} OR {ABAND_SQL}) AND {t} >= wait_s"),
        intervals_sql=_isq("answered_within_threshold", "abandoned_within_threshold"),
    )


@cache
def sl_denominator(denominator: str, threshold_s: int, short_abandon_s: int) -> Measure:
    t, s = threshold_s, short_abandon_s
    if denominator == "answered":
        return answered()
    if denominator == "answered_plus_abandoned":
        return answered_plus_abandoned(s)
    if denominator in ("offered", "abandons_within_threshold_met"):
        return offered(s)
    # ignore_abandons_within_threshold: offered − abandoned ≤ T (and short abandons < S). The
    # two sets nest: with S ≤ T every short abandon waited ≤ T; with S > T every abandon within
    # T is short. So interval reports subtract whichever count is the larger set.
    cond = OFFERED & ~(ABAND & (t >= WAIT)) & ~_short(s)
    cond_sql = f"{OFFERED_SQL} AND NOT ({ABAND_SQL} AND {t} >= wait_s) AND NOT {_short_sql(s)}"
    wider = bool(s) and s > t
    return _c(
        f"offered_excl_abandoned_within_{t}s" + (f"_excl_short_{s}s" if s else ""),
        f"offered minus abandons within {t} s" + (f" or shorter than {s} s" if s else ""),
        _n(cond),
        _isum("offered") - _isum("abandoned_short" if wider else "abandoned_within_threshold"),
        meta={"interval_short_abandon_s": s} if wider else {"interval_threshold_s": t},
        text=f"(offered − abandoned ≤ {t} s)" + _short_text(s),
        sql=_nq(cond_sql),
        intervals_sql=f"{_isq('offered')} - "
        + _isq("abandoned_short" if wider else "abandoned_within_threshold"),
    )


@cache
def handled() -> Measure:
    return _c(
        "handled",
        "contacts handled by an agent (inbound answered + outbound)",
        _n(HANDLED),
        _isum("answered"),
        text="handled",
        sql=_nq(HANDLED_SQL),
        intervals_sql=_isq("answered"),
    )


@cache
def handled_with(col: str) -> Measure:
    return _c(
        f"handled_with_{col[:-2]}",
        f"handled contacts with {col} > 0",
        _n(HANDLED & (pl.col(col) > 0)),
        text=f"handled contacts with {col[:-2]} > 0",
        sql=_nq(f"{HANDLED_SQL} AND {col} > 0"),
    )


@cache
def transferred() -> Measure:
    return _c(
        "transferred",
        "handled contacts transferred",
        _n(HANDLED & pl.col("transferred")),
        _isum("transferred"),
        text="transferred",
        sql=_nq(f"{HANDLED_SQL} AND transferred"),
        intervals_sql=_isq("transferred"),
    )


@cache
def resolved() -> Measure:
    return _c(
        "resolved",
        "handled contacts marked resolved",
        _n(HANDLED & pl.col("resolved")),
        text="handled contacts marked resolved",
        sql=_nq(f"{HANDLED_SQL} AND resolved"),
    )


@cache
def agent_resolved_first() -> Measure:
    return _c(
        "resolved_not_transferred",
        "handled contacts resolved and not transferred",
        _n(HANDLED & pl.col("resolved") & ~pl.col("transferred")),
        text="handled contacts marked resolved and not transferred",
        sql=_nq(f"{HANDLED_SQL} AND resolved AND NOT transferred"),
    )


@cache
def converted() -> Measure:
    return _c(
        "converted",
        "handled contacts with a sale",
        _n(HANDLED & pl.col("converted")),
        text="contacts with a sale",
        sql=_nq(f"{HANDLED_SQL} AND converted"),
    )


@cache
def revenue() -> Measure:
    return _c(
        "revenue",
        "sales revenue",
        _s(pl.col("revenue"), HANDLED),
        unit="currency",
        text="revenue",
        sql=_sq("revenue", HANDLED_SQL),
    )


@cache
def identified_contacts() -> Measure:
    return _c(
        "identified_contacts",
        "inbound contacts from identified customers",
        _n(INBOUND & pl.col("customer_id").is_not_null()),
        text="inbound contacts of identified customers",
        sql=_nq(f"{INBOUND_SQL} AND customer_id IS NOT NULL"),
    )


@cache
def customers_contacting() -> Measure:
    return _c(
        "customers_contacting",
        "distinct customers who contacted",
        pl.col("customer_id").filter(INBOUND).drop_nulls().n_unique().cast(pl.Int64),
        kind="distinct",
        text="distinct customers",
        sql=_distinct_sql("customer_id", INBOUND_SQL),
    )


@cache
def agents_handling() -> Measure:
    return _c(
        "agents_handling",
        "distinct agents who handled contacts",
        pl.col("agent_id").filter(HANDLED).drop_nulls().n_unique().cast(pl.Int64),
        kind="distinct",
        text="distinct agents who handled contacts",
        sql=_distinct_sql("agent_id", HANDLED_SQL),
    )


# ---- waits and handle times -----------------------------------------------------------------


@cache
def wait_answered(*, ivr: bool = False) -> Measure:
    if ivr:
        return _c(
            "wait_answered_incl_ivr_s",
            "Σ IVR + queue wait of answered",
            _s(WAIT + pl.col("ivr_s").fill_null(0), ANS),
            unit="s",
            text="Σ (IVR + queue wait) of answered",
            sql=_sq("wait_s + coalesce(ivr_s, 0)", ANS_SQL),
        )
    return _c(
        "wait_answered_s",
        "Σ queue wait of answered",
        _s(WAIT, ANS),
        _isum("wait_answered_s"),
        unit="s",
        text="Σ queue wait of answered",
        sql=_sq("wait_s", ANS_SQL),
        intervals_sql=_isq("wait_answered_s"),
    )


@cache
def wait_queued() -> Measure:
    return _c(
        "wait_queued_s",
        "Σ queue wait of all queued contacts",
        _s(WAIT, OFFERED),
        _isum("wait_answered_s", "wait_abandoned_s", "wait_flowout_s"),
        unit="s",
        text="Σ wait of all queued (answered, abandoned, flow-out)",
        sql=_sq("wait_s", OFFERED_SQL),
        intervals_sql=_isq("wait_answered_s", "wait_abandoned_s", "wait_flowout_s"),
    )


@cache
def max_wait(population: str) -> Measure:
    cond = {"all": OFFERED, "answered": ANS, "abandoned": ABAND}[population]
    cond_sql = {"all": OFFERED_SQL, "answered": ANS_SQL, "abandoned": ABAND_SQL}[population]
    intervals = pl.col("max_wait_s").max() if population == "all" else None
    return _c(
        f"max_wait_{population}_s",
        f"longest queue wait ({population})",
        WAIT.filter(cond).max(),
        intervals,
        kind="max",
        unit="s",
        text=f"max queue wait of {population} contacts",
        sql=f"max(CASE WHEN {cond_sql} THEN wait_s END)",
        intervals_sql="max(max_wait_s)" if population == "all" else None,
    )


@cache
def contact_sum(col: str) -> Measure:
    return _c(
        col,
        f"Σ {col[:-2]} seconds of handled contacts",
        _s(pl.col(col), HANDLED),
        _isum(col),
        unit="s",
        text=f"Σ {col[:-2]}",
        sql=_sq(col, HANDLED_SQL),
        intervals_sql=_isq(col),
    )


@cache
def handle_time(*, acw: bool = True) -> Measure:
    cols = ("talk_s", "hold_s", "acw_s") if acw else ("talk_s", "hold_s")
    value = pl.sum_horizontal(*[pl.col(c).fill_null(0) for c in cols])
    name = "handle_s" if acw else "handle_no_acw_s"
    return _c(
        name,
        "Σ " + " + ".join(c[:-2] for c in cols) + " of handled contacts",
        _s(value, HANDLED),
        _isum(*cols),
        unit="s",
        text=_terms(cols),
        sql=_sq(" + ".join(f"coalesce({c}, 0)" for c in cols), HANDLED_SQL),
        intervals_sql=_isq(*cols),
    )


@cache
def fcr_base() -> Measure:
    return _c(
        "fcr_base",
        "handled inbound contacts of identified customers",
        _n(ANS & pl.col("customer_id").is_not_null()),
        text="handled inbound contacts of identified customers",
        sql=_nq(f"{ANS_SQL} AND customer_id IS NOT NULL"),
    )


# ---- tickets --------------------------------------------------------------------------------


@cache
def tickets_solved() -> Measure:
    return Measure(
        "tickets_solved",
        "tickets solved",
        (_present("tickets", "solved_ts", time="solved_ts"),),
        text="tickets solved in the period",
    )


@cache
def ticket_agents() -> Measure:
    return Measure(
        "ticket_agents",
        "distinct agents who solved tickets",
        (
            Source(
                "tickets",
                pl.col("agent_id")
                .filter(pl.col("solved_ts").is_not_null())
                .drop_nulls()
                .n_unique()
                .cast(pl.Int64),
                time="solved_ts",
                sql=_distinct_sql("agent_id", "solved_ts IS NOT NULL"),
            ),
        ),
        kind="distinct",
        text="distinct agents who solved tickets",
    )


@cache
def tickets_closed() -> Measure:
    return Measure(
        "tickets_closed",
        "tickets closed",
        (_present("tickets", "closed_ts", time="closed_ts"),),
        text="tickets closed in the period",
    )


@cache
def tickets_created() -> Measure:
    return Measure(
        "tickets_created",
        "tickets created",
        (Source("tickets", pl.len().cast(pl.Int64), time="created_ts", sql="count(*)"),),
        text="tickets created",
    )


def _stat(value: pl.Expr, aggregator: str) -> pl.Expr:
    if aggregator == "mean":
        return value.mean()
    if aggregator == "p90":
        return value.quantile(0.9, interpolation="linear")
    return value.median()


@cache
def resolution_hours(aggregator: str, cohort: str) -> Measure:
    hours = (pl.col("solved_ts") - pl.col("created_ts")).dt.total_seconds(fractional=True) / 3600
    time = "solved_ts" if cohort == "solved" else "created_ts"
    return Measure(
        f"resolution_h_{aggregator}_{cohort}",
        f"{aggregator} hours from created to solved",
        (
            Source(
                "tickets",
                _stat(hours.filter(pl.col("solved_ts").is_not_null()), aggregator),
                time=time,
                sql=stat_sql(hours_between_sql("created_ts", "solved_ts"), aggregator),
            ),
        ),
        kind="stat",
        unit="h",
        text=f"{aggregator} of (solved − created) in hours, tickets by {cohort} time",
    )


@cache
def first_response_hours(aggregator: str) -> Measure:
    hours = (pl.col("first_response_ts") - pl.col("created_ts")).dt.total_seconds(
        fractional=True
    ) / 3600
    sql = stat_sql(hours_between_sql("created_ts", "first_response_ts"), aggregator)
    return Measure(
        f"first_response_h_{aggregator}",
        f"{aggregator} hours from created to first response",
        (Source("tickets", _stat(hours.drop_nulls(), aggregator), time="created_ts", sql=sql),),
        kind="stat",
        unit="h",
        text=f"{aggregator} of (first response − created) in hours, by created time",
    )


# ---- agent time -------------------------------------------------------------------------


def _at(name: str, description: str, agg: pl.Expr, *, sql: str, **kw: Any) -> Measure:
    """An agent-time measure (``kind``, ``unit`` (default ``s``) and ``text`` as Measure's)."""
    return Measure(name, description, (Source("agent_time", agg, sql=sql),), **{"unit": "s", **kw})


def _fsum(col: str) -> str:
    """``pl.col(col).sum().cast(pl.Float64)`` in SQL (0 over no values, as polars' sum)."""
    return f"CAST(sum(coalesce({col}, 0)) AS DOUBLE)"


@cache
def agent_time_sum(*cols: str) -> Measure:
    name = "at_" + "_".join(c[:-2] for c in cols) + "_s"
    return _at(
        name,
        "Σ agent " + " + ".join(c[:-2] for c in cols) + " seconds",
        _isum(*cols).cast(pl.Float64),
        text=_terms(cols),
        sql=f"CAST({_isq(*cols)} AS DOUBLE)",
    )


@cache
def agent_busy(*, available: bool = False) -> Measure:
    cols = ("handle_s", "acw_s", "available_s") if available else ("handle_s", "acw_s")
    return agent_time_sum(*cols)


@cache
def attended() -> Measure:
    value = (pl.col("scheduled_s").fill_null(0) - pl.col("absence_s").fill_null(0)).clip(
        lower_bound=0
    )
    return _at(
        "at_attended_s",
        "scheduled seconds not lost to unplanned absence",
        value.sum().cast(pl.Float64),
        text="(scheduled − unplanned absence)",
        sql=_fsum("greatest(coalesce(scheduled_s, 0) - coalesce(absence_s, 0), 0)"),
    )


@cache
def agents_scheduled() -> Measure:
    return _at(
        "agents_scheduled",
        "distinct agents with scheduled time",
        pl.col("agent_id").filter(pl.col("scheduled_s") > 0).n_unique().cast(pl.Int64),
        kind="distinct",
        unit="count",
        text="distinct scheduled agents",
        # n_unique counts a null agent as one more value; count(DISTINCT) leaves nulls out
        sql=f"{_distinct_sql('agent_id', 'scheduled_s > 0')} + "
        "max(CASE WHEN scheduled_s > 0 AND agent_id IS NULL THEN 1 ELSE 0 END)",
    )


# ---- quality, surveys, coaching ------------------------------------------------------------


@cache
def qa_sum() -> Measure:
    return Measure(
        "qa_score_sum",
        "Σ QA scores",
        (Source("qa_evaluations", pl.col("score").sum().cast(pl.Float64), sql=_fsum("score")),),
        unit="points",
        text="Σ evaluation scores",
    )


@cache
def qa_count() -> Measure:
    return Measure(
        "qa_evaluations",
        "QA evaluations",
        (_present("qa_evaluations", "score"),),
        text="evaluations",
    )


@cache
def coaching_sessions() -> Measure:
    return Measure(
        "coaching_sessions",
        "coaching sessions",
        (Source("coaching", pl.len().cast(pl.Int64), sql="count(*)"),),
        text="coaching sessions",
    )


@cache
def survey_count(col: str) -> Measure:
    return Measure(
        f"{col}_responses",
        f"{col} responses",
        (_present("surveys", col),),
        text="responses",
    )


@cache
def survey_sum(col: str) -> Measure:
    return Measure(
        f"{col}_sum",
        f"Σ {col} scores",
        (Source("surveys", pl.col(col).sum().cast(pl.Float64), sql=_fsum(col)),),
        unit="points",
        text=f"Σ {col} scores",
    )


@cache
def survey_at_least(col: str, low: int) -> Measure:
    return Measure(
        f"{col}_{low}_or_more",
        f"{col} responses scoring {low} or more",
        (Source("surveys", _n(pl.col(col) >= low), sql=_nq(f"{col} >= {low}")),),
        text=f"responses scoring {low} or more",
    )


@cache
def net_promoters(table: str, col: str) -> Measure:
    prefix = "nps" if table == "surveys" else "enps"
    value = _n(pl.col(col) >= 9) - _n(pl.col(col) <= 6)
    return Measure(
        f"{prefix}_net_promoters",
        "promoters (9-10) − detractors (0-6)",
        (Source(table, value, sql=f"{_nq(f'{col} >= 9')} - {_nq(f'{col} <= 6')}"),),
        text="(promoters 9-10 − detractors 0-6)",
    )


@cache
def agent_survey_count() -> Measure:
    return Measure(
        "enps_responses",
        "agent survey responses",
        (_present("agent_surveys", "score"),),
        text="responses",
    )


# ---- finance ------------------------------------------------------------------------------


@cache
def finance(col: str) -> Measure:
    unit = "currency" if col.endswith(("cost", "spend", "amount")) else "count"
    agg = pl.col(col).sum().cast(pl.Float64)
    return Measure(
        col,
        f"Σ {col} (finance)",
        (Source("finance", agg, time="_period_ts", sql=finance_sql(col)),),
        unit=unit,
        text=col.replace("_", " "),
    )
