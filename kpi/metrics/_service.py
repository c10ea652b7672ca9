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
    _short,
    _short_sql,
    _short_text,
)
from kpi.metrics._measure import Measure, Source
from kpi.metrics._objectives import objectives_from_spec

__all__ = [
    "answered_or_abandoned_within_objective",
    "answered_within_objective",
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
def _objective_threshold(spec: str, kind: str) -> tuple[pl.Expr, str]:
    """The per-row threshold in seconds (polars, SQL) of ``kind`` objectives; null elsewhere."""
    default, channels, queues = objectives_from_spec(spec).thresholds(kind)
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


@cache
def answered_within_objective(spec: str = "") -> Measure:
    t, t_sql = _objective_threshold(spec, "erlang")
    return _c(
        f"answered_within_objective{_tag(spec)}",
        "answered within its queue's objective threshold (real-time queues)",
        _n(ANS & (t >= WAIT)),
        text=f"answered ≤ each queue's objective ({_objective_words(spec, 'erlang')})",
        sql=_nq(f"{ANS_SQL} AND {t_sql} >= wait_s"),
    )


@cache
def answered_or_abandoned_within_objective(spec: str = "") -> Measure:
    t, t_sql = _objective_threshold(spec, "erlang")
    return _c(
        f"answered_or_abandoned_within_objective{_tag(spec)}",
        "answered or abandoned within its queue's objective threshold (real-time queues)",
        _n((ANS | ABAND) & (t >= WAIT)),
        text="(answered + abandoned) ≤ each queue's objective "
        f"({_objective_words(spec, 'erlang')})",
        sql=_nq(f"({ANS_SQL} OR {ABAND_SQL}) AND {t_sql} >= wait_s"),
    )


@cache
def sl_objective_denominator(denominator: str, spec: str, short_abandon_s: int) -> Measure:
    """:func:`sl_denominator` over the real-time queues, each with its own threshold."""
    s = short_abandon_s
    t, t_sql = _objective_threshold(spec, "erlang")
    scope, scope_sql = t.is_not_null(), f"{t_sql} IS NOT NULL"
    cond, cond_sql, words = {
        "answered": (ANS, ANS_SQL, "answered"),
        "answered_plus_abandoned": (
            (ANS | ABAND) & ~_short(s),
            f"({ANS_SQL} OR {ABAND_SQL}) AND NOT {_short_sql(s)}",
            "(answered + abandoned" + _short_text(s) + ")",
        ),
        "offered": (
            OFFERED & ~_short(s),
            f"{OFFERED_SQL} AND NOT {_short_sql(s)}",
            "(offered" + _short_text(s) + ")",
        ),
        "abandons_within_threshold_met": (
            OFFERED & ~_short(s),
            f"{OFFERED_SQL} AND NOT {_short_sql(s)}",
            "(offered" + _short_text(s) + ")",
        ),
        "ignore_abandons_within_threshold": (
            OFFERED & ~(ABAND & (t >= WAIT)) & ~_short(s),
            f"{OFFERED_SQL} AND NOT ({ABAND_SQL} AND {t_sql} >= wait_s) AND NOT {_short_sql(s)}",
            "(offered − abandoned within the objective" + _short_text(s) + ")",
        ),
    }[denominator]
    base = "offered" if denominator == "abandons_within_threshold_met" else denominator
    return _c(
        f"{base}_realtime{_tag(spec)}" + (f"_excl_short_{s}s" if s and base != "answered" else ""),
        f"{words} in queues with an answer-within objective (real-time)",
        _n(cond & scope),
        text=f"{words} of real-time queues",
        sql=_nq(f"({cond_sql}) AND {scope_sql}"),
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
