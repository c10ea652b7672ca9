"""Measures that judge each contact against its own queue's service objective.

Each contact is judged against its own queue's objective (:mod:`kpi.metrics._objectives`): a
per-row threshold from a small mapping (queue, else channel, else voice's), null where the
queue's objective is of the other kind: a deferred e-mail queue has no answer-within-seconds
threshold and is out of the real-time service level, and a voice queue has no response time in
hours. ``spec`` is the text of the KPI's ``objectives`` variant, ``""`` for the defaults. Row
declarations with their SQL, as in :mod:`kpi.metrics._factories`.

Examples
--------
>>> answered_within_objective().name, answered_within_objective("chat=30s").name
('answered_within_objective', 'answered_within_objective_6a5589e5')
>>> answered_within_objective().text
"answered ≤ each queue's objective (voice, callback 20 s; chat, messaging 60 s)"
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache

import polars as pl

from kpi.metrics._factories import (
    ABAND,
    ABAND_SQL,
    ANS,
    ANS_SQL,
    OFFERED,
    OFFERED_SQL,
    WAIT,
    _c,
    _n,
    _nq,
    _s,
    _short,
    _short_sql,
    _short_text,
    _sq,
)
from kpi.metrics._measure import Measure, Source
from kpi.metrics._objectives import objectives_from_spec

__all__ = [
    "answered_or_abandoned_within_objective",
    "answered_within_objective",
    "realtime_answered",
    "realtime_max_wait",
    "realtime_queued",
    "realtime_wait_answered",
    "realtime_wait_queued",
    "responded",
    "responded_within_objective",
    "sl_objective_denominator",
]


def _tag(spec: str) -> str:
    """A short stable suffix naming the objectives in a measure's name ("" for the defaults)."""
    return "_" + hashlib.sha1(spec.encode()).hexdigest()[:8] if spec else ""


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@cache
def _objective_threshold(spec: str, kind: str, *, channel: bool = True) -> tuple[pl.Expr, str]:
    """The per-row threshold in seconds (polars, SQL) of ``kind`` objectives; null elsewhere.
    ``channel=False``: for rows without a channel column, judged as an unknown channel is (the
    default objective, or the queue's own)."""
    default, channels, queues = objectives_from_spec(spec).thresholds(kind)
    if not channel:
        channels = {}
    expr: pl.Expr = pl.lit(default, pl.Float64)
    if channels:
        expr = pl.col("channel").replace_strict(
            list(channels), list(channels.values()), default=expr, return_dtype=pl.Float64
        )
    if queues:
        expr = pl.col("queue").replace_strict(
            list(queues), list(queues.values()), default=expr, return_dtype=pl.Float64
        )

    def lit(v: float | None) -> str:
        return "CAST(NULL AS DOUBLE)" if v is None else f"CAST({v!r} AS DOUBLE)"

    whens = [f"WHEN queue = {_sql_text(q)} THEN {lit(v)}" for q, v in queues.items()]
    whens += [f"WHEN channel = {_sql_text(c)} THEN {lit(v)}" for c, v in channels.items()]
    sql = "(CASE " + " ".join(whens) + f" ELSE {lit(default)} END)" if whens else lit(default)
    return expr, sql


def _objective_words(spec: str, kind: str) -> str:
    return objectives_from_spec(spec).words(kind)


def _realtime(
    name: str,
    description: str,
    text: str,
    spec: str,
    make: Callable[[pl.Expr, str], tuple[pl.Expr, str]],
    intervals: tuple[Source, ...] = (),
    *,
    kind: str = "sum",
    unit: str = "count",
) -> Measure:
    """A measure of the real-time queues, each row judged against its own threshold.

    Contact rows with a channel column, then (data without channels) rows judged as an
    unknown channel is, then the interval-report ``intervals`` sources.
    ``make(threshold, threshold_sql)`` gives the contact aggregation and its SQL.
    """
    sources = []
    for channel in (True, False):
        agg, sql = make(*_objective_threshold(spec, "erlang", channel=channel))
        sources.append(Source("contacts", agg, sql=sql))
    return Measure(name, description, (*sources, *intervals), kind=kind, unit=unit, text=text)


@cache
def _interval_scope(spec: str) -> tuple[tuple[pl.Expr, ...], float | None]:
    """Which interval-report rows the objective service level can judge (with a channel
    column, and without), and the threshold their counts must have been taken at.

    The rows whose queue's answer-within objective is the default's (voice) threshold: the
    source requires ``dataset.json``'s ``interval_threshold_s`` to be that threshold, so the
    report's ``answered_within_threshold`` counts are the objective's. Rows of deferred queues
    are out of the real-time service level, as contact rows are; rows whose objective has
    another threshold (chat 60 s in a report counted at 20 s) cannot be judged from the
    report's counts and are left out too (they are not counted late).
    """
    default = objectives_from_spec(spec).thresholds("erlang")[0]
    if default is None:
        return (), None
    scopes = tuple(
        (_objective_threshold(spec, "erlang", channel=channel)[0] == default).fill_null(False)
        for channel in (True, False)
    )
    return scopes, default


def _scoped(scope: pl.Expr, plus: tuple[str, ...], minus: tuple[str, ...] = ()) -> pl.Expr:
    """Σ ``plus`` − Σ ``minus`` (nulls as 0) over the rows where ``scope`` holds."""
    value = pl.sum_horizontal(*[pl.col(c).fill_null(0) for c in plus])
    if minus:
        value = value - pl.sum_horizontal(*[pl.col(c).fill_null(0) for c in minus])
    return pl.when(scope).then(value).otherwise(0).sum()


def _scoped_sql(scope_sql: str, plus: tuple[str, ...], minus: tuple[str, ...] = ()) -> str:
    """Σ ``plus`` − Σ ``minus`` (nulls as 0) over the rows where ``scope_sql`` holds, in SQL."""
    value = " + ".join(f"coalesce({c}, 0)" for c in plus)
    if minus:
        value += " - (" + " + ".join(f"coalesce({c}, 0)" for c in minus) + ")"
    return f"sum(CASE WHEN {scope_sql} THEN {value} ELSE 0 END)"


def _interval_sources(
    spec: str, plus: tuple[str, ...], minus: tuple[str, ...] = (), *, short_abandon_s: int = 0
) -> tuple[Source, ...]:
    """The interval-report sources of an objective measure: Σ ``plus`` − Σ ``minus`` over the
    rows :func:`_interval_scope` can judge."""
    scopes, default = _interval_scope(spec)
    if default is None:
        return ()
    meta: dict[str, float] = {"interval_threshold_s": default}
    if short_abandon_s:
        meta["interval_short_abandon_s"] = short_abandon_s
    # the scopes in SQL, channel column then none: the row's threshold is the default's
    scopes_sql = [
        f"{_objective_threshold(spec, 'erlang', channel=channel)[1]} = {default!r}"
        for channel in (True, False)
    ]
    return tuple(
        Source(
            "intervals",
            _scoped(scope, plus, minus),
            meta=meta,
            sql=_scoped_sql(scope_sql, plus, minus),
        )
        for scope, scope_sql in zip(scopes, scopes_sql, strict=True)
    )


@cache
def answered_within_objective(spec: str = "") -> Measure:
    return _realtime(
        f"answered_within_objective{_tag(spec)}",
        "answered within its queue's objective threshold (real-time queues)",
        f"answered ≤ each queue's objective ({_objective_words(spec, 'erlang')})",
        spec,
        lambda t, t_sql: (_n(ANS & (t >= WAIT)), _nq(f"{ANS_SQL} AND {t_sql} >= wait_s")),
        _interval_sources(spec, ("answered_within_threshold",)),
    )


@cache
def answered_or_abandoned_within_objective(spec: str = "") -> Measure:
    return _realtime(
        f"answered_or_abandoned_within_objective{_tag(spec)}",
        "answered or abandoned within its queue's objective threshold (real-time queues)",
        f"(answered + abandoned) ≤ each queue's objective ({_objective_words(spec, 'erlang')})",
        spec,
        lambda t, t_sql: (
            _n((ANS | ABAND) & (t >= WAIT)),
            _nq(f"({ANS_SQL} OR {ABAND_SQL}) AND {t_sql} >= wait_s"),
        ),
        _interval_sources(spec, ("answered_within_threshold", "abandoned_within_threshold")),
    )


@cache
def sl_objective_denominator(denominator: str, spec: str, short_abandon_s: int) -> Measure:
    """:func:`sl_denominator` over the real-time queues, each with its own threshold."""
    s = short_abandon_s
    words = {
        "answered": "answered",
        "answered_plus_abandoned": "(answered + abandoned" + _short_text(s) + ")",
        "offered": "(offered" + _short_text(s) + ")",
        "abandons_within_threshold_met": "(offered" + _short_text(s) + ")",
        "ignore_abandons_within_threshold": "(offered − abandoned within the objective"
        + _short_text(s)
        + ")",
    }[denominator]

    def make(t: pl.Expr, t_sql: str) -> tuple[pl.Expr, str]:
        cond, cond_sql = {
            "answered": (ANS, ANS_SQL),
            "answered_plus_abandoned": (
                (ANS | ABAND) & ~_short(s),
                f"({ANS_SQL} OR {ABAND_SQL}) AND NOT {_short_sql(s)}",
            ),
            "offered": (OFFERED & ~_short(s), f"{OFFERED_SQL} AND NOT {_short_sql(s)}"),
            "abandons_within_threshold_met": (
                OFFERED & ~_short(s),
                f"{OFFERED_SQL} AND NOT {_short_sql(s)}",
            ),
            "ignore_abandons_within_threshold": (
                OFFERED & ~(ABAND & (t >= WAIT)) & ~_short(s),
                f"{OFFERED_SQL} AND NOT ({ABAND_SQL} AND {t_sql} >= wait_s) "
                f"AND NOT {_short_sql(s)}",
            ),
        }[denominator]
        return _n(cond & t.is_not_null()), _nq(f"({cond_sql}) AND {t_sql} IS NOT NULL")

    short = ("abandoned_short",) if s else ()
    if denominator == "ignore_abandons_within_threshold":
        # offered − abandoned ≤ T − short abandons < S: the two sets nest (see sl_denominator),
        # so the report subtracts whichever is the larger
        default = objectives_from_spec(spec).thresholds("erlang")[0]
        wider = bool(s) and default is not None and s > default
        intervals = _interval_sources(
            spec,
            ("offered",),
            ("abandoned_short",) if wider else ("abandoned_within_threshold",),
            short_abandon_s=s if wider else 0,
        )
    else:
        plus = {"answered": ("answered",), "answered_plus_abandoned": ("answered", "abandoned")}
        intervals = _interval_sources(
            spec,
            plus.get(denominator, ("offered",)),
            () if denominator == "answered" else short,
            short_abandon_s=0 if denominator == "answered" else s,
        )
    base = "offered" if denominator == "abandons_within_threshold_met" else denominator
    return _realtime(
        f"{base}_realtime{_tag(spec)}" + (f"_excl_short_{s}s" if s and base != "answered" else ""),
        f"{words} in queues with an answer-within objective (real-time)",
        f"{words} of real-time queues",
        spec,
        make,
        intervals,
    )


@cache
def responded_within_objective(spec: str = "", table: str = "contacts") -> Measure:
    """Deferred work answered within its response objective: contacts of deferred queues
    (e-mail) answered within their queue's ``response_h``, or tickets whose first response came
    within the ``tickets`` objective."""
    if table == "tickets":
        o = objectives_from_spec(spec).for_queue(None, "tickets")
        h = o.response_h if o.kind == "deferred" else (o.threshold_s or 0) / 3600
        secs = (pl.col("first_response_ts") - pl.col("created_ts")).dt.total_seconds(
            fractional=True
        )
        return Measure(
            f"tickets_responded_within_objective{_tag(spec)}",
            "tickets first responded within the tickets objective",
            (
                Source(
                    "tickets",
                    _n(secs <= h * 3600),  # type: ignore[operator]
                    time="created_ts",
                    sql=_nq(
                        "CAST(unix_micros(first_response_ts) - unix_micros(created_ts) AS DOUBLE)"
                        f" / 1000000 <= {h * 3600!r}"
                    ),
                ),
            ),
            text=f"tickets first responded ≤ {h:g} h",
        )
    t, t_sql = _objective_threshold(spec, "deferred")
    return _c(
        f"responded_within_objective{_tag(spec)}",
        "deferred contacts (e-mail) answered within their queue's response objective",
        _n(ANS & (t >= WAIT)),
        text=f"answered ≤ each queue's response objective ({_objective_words(spec, 'deferred')})",
        sql=_nq(f"{ANS_SQL} AND {t_sql} >= wait_s"),
    )


@cache
def responded(spec: str = "", table: str = "contacts") -> Measure:
    """What :func:`responded_within_objective` is a share of: deferred contacts answered, or
    tickets with a first response (work still waiting for its answer is left out)."""
    if table == "tickets":
        return Measure(
            "tickets_responded",
            "tickets with a first response",
            (
                Source(
                    "tickets",
                    _n(pl.col("first_response_ts").is_not_null()),
                    time="created_ts",
                    sql=_nq("first_response_ts IS NOT NULL"),
                ),
            ),
            text="tickets with a first response",
        )
    t, t_sql = _objective_threshold(spec, "deferred")
    return _c(
        f"answered_deferred{_tag(spec)}",
        "deferred contacts (e-mail) answered",
        _n(ANS & t.is_not_null()),
        text="deferred contacts answered",
        sql=_nq(f"{ANS_SQL} AND {t_sql} IS NOT NULL"),
    )


# ---- speed of the real-time queues (ASA, average and longest wait) ---------------------------
# A wait in seconds is the measure of a queue served in real time; deferred work's wait is a
# response time in hours, judged by response_within_objective. The real-time queues are those
# whose objective is an answer within seconds (the ``objectives`` variant).


def _in_realtime(
    name: str,
    description: str,
    text: str,
    spec: str,
    contacts: Callable[[pl.Expr, str], tuple[pl.Expr, str]],
    intervals: Callable[[pl.Expr, str], tuple[pl.Expr, str]] | None = None,
    *,
    kind: str = "sum",
    unit: str = "count",
) -> Measure:
    """A measure over the rows of real-time queues (:func:`_realtime`): ``contacts(scope,
    scope_sql)`` and ``intervals(scope, scope_sql)`` give the aggregations and their SQL over
    the rows where ``scope`` holds, those whose objective is an answer within seconds."""

    def scoped(t: pl.Expr, t_sql: str) -> tuple[pl.Expr, str]:
        return t.is_not_null(), f"{t_sql} IS NOT NULL"

    sources: tuple[Source, ...] = ()
    if intervals is not None:
        thresholds = [_objective_threshold(spec, "erlang", channel=c) for c in (True, False)]
        sources = tuple(
            Source("intervals", agg, sql=sql)
            for agg, sql in (intervals(*scoped(t, t_sql)) for t, t_sql in thresholds)
        )
    return _realtime(
        name,
        description,
        text,
        spec,
        lambda t, t_sql: contacts(*scoped(t, t_sql)),
        sources,
        kind=kind,
        unit=unit,
    )


def _summed(*cols: str) -> Callable[[pl.Expr, str], tuple[pl.Expr, str]]:
    """Interval reports' Σ ``cols`` over the rows in scope (polars, SQL)."""
    return lambda scope, scope_sql: (_scoped(scope, cols), _scoped_sql(scope_sql, cols))


def _realtime_count(
    name: str, description: str, text: str, spec: str, cond: pl.Expr, cond_sql: str, col: str
) -> Measure:
    """Contacts where ``cond`` holds in real-time queues (interval reports: Σ ``col``)."""
    return _in_realtime(
        f"{name}{_tag(spec)}",
        description,
        text,
        spec,
        lambda scope, scope_sql: (_n(cond & scope), _nq(f"{cond_sql} AND {scope_sql}")),
        _summed(col),
    )


@cache
def realtime_answered(spec: str = "") -> Measure:
    """Contacts answered in real-time queues."""
    return _realtime_count(
        "answered_realtime",
        "inbound contacts answered by an agent in real-time queues",
        "answered in real-time queues",
        spec,
        ANS,
        ANS_SQL,
        "answered",
    )


@cache
def realtime_queued(spec: str = "") -> Measure:
    """Contacts offered to real-time queues (answered + abandoned + flow-out)."""
    return _realtime_count(
        "offered_realtime",
        "contacts routed to a real-time queue (answered + abandoned + flow-out)",
        "queued in real-time queues",
        spec,
        OFFERED,
        OFFERED_SQL,
        "offered",
    )


@cache
def realtime_wait_answered(spec: str = "", *, ivr: bool = False) -> Measure:
    """Σ queue wait (with the IVR's time when ``ivr``) of contacts answered in real-time
    queues."""
    wait = WAIT + pl.col("ivr_s").fill_null(0) if ivr else WAIT
    wait_sql = "wait_s + coalesce(ivr_s, 0)" if ivr else "wait_s"
    words = "(IVR + queue wait)" if ivr else "queue wait"
    return _in_realtime(
        f"wait_answered{'_incl_ivr' if ivr else ''}_realtime{_tag(spec)}_s",
        f"Σ {words} of answered in real-time queues",
        f"Σ {words} of answered in real-time queues",
        spec,
        lambda scope, scope_sql: (
            _s(wait, ANS & scope),
            _sq(wait_sql, f"{ANS_SQL} AND {scope_sql}"),
        ),
        None if ivr else _summed("wait_answered_s"),
        unit="s",
    )


@cache
def realtime_wait_queued(spec: str = "") -> Measure:
    """Σ queue wait of every contact queued in real-time queues."""
    return _in_realtime(
        f"wait_queued_realtime{_tag(spec)}_s",
        "Σ queue wait of all contacts queued in real-time queues",
        "Σ wait of all queued (answered, abandoned, flow-out) in real-time queues",
        spec,
        lambda scope, scope_sql: (
            _s(WAIT, OFFERED & scope),
            _sq("wait_s", f"{OFFERED_SQL} AND {scope_sql}"),
        ),
        _summed("wait_answered_s", "wait_abandoned_s", "wait_flowout_s"),
        unit="s",
    )


@cache
def realtime_max_wait(population: str, spec: str = "") -> Measure:
    """Longest queue wait of ``population`` (all, answered, abandoned) in real-time queues."""
    cond = {"all": OFFERED, "answered": ANS, "abandoned": ABAND}[population]
    cond_sql = {"all": OFFERED_SQL, "answered": ANS_SQL, "abandoned": ABAND_SQL}[population]
    return _in_realtime(
        f"max_wait_{population}_realtime{_tag(spec)}_s",
        f"longest queue wait ({population}) in real-time queues",
        f"max queue wait of {population} contacts in real-time queues",
        spec,
        lambda scope, scope_sql: (
            WAIT.filter(cond.fill_null(False) & scope).max(),
            f"max(CASE WHEN {cond_sql} AND {scope_sql} THEN wait_s END)",
        ),
        (
            lambda scope, scope_sql: (
                pl.col("max_wait_s").filter(scope).max(),
                f"max(CASE WHEN {scope_sql} THEN max_wait_s END)",
            )
        )
        if population == "all"
        else None,
        kind="max",
        unit="s",
    )
