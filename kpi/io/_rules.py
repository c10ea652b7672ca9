"""Row-level rules for imported tables, declared with dataframely.

Each canonical table that can be imported has a dataframely schema of the rules a row must
meet. :func:`check_rows` splits a parsed table into rows that pass and rows that fail, with
one readable reason per failed row. Time stamps are checked as epoch microseconds so that one
schema serves every site time zone.
"""

from __future__ import annotations

import dataframely as dy
import polars as pl

from kpi.schema import OUTCOMES

__all__ = ["ORDER_TOLERANCE_S", "RULES", "TICKET_STATUSES", "check_rows"]

#: Time stamps of one contact may be out of order by this much (clock skew between the IVR,
#: ACD and recording systems) before the row is quarantined.
ORDER_TOLERANCE_S = 60

#: Canonical ticket statuses.
TICKET_STATUSES = ("open", "pending", "solved", "closed")

_TOL = ORDER_TOLERANCE_S * 1_000_000
_ROW = "kpi_source_row"  # dataframely ignores attribute names starting with "_"


def _le(a: str, b: str) -> pl.Expr:
    """a <= b + tolerance, true when either is null."""
    return (pl.col(a) <= pl.col(b) + _TOL) | pl.col(a).is_null() | pl.col(b).is_null()


class ContactRules(dy.Schema):
    """Rules for ``contacts`` rows (time stamps as epoch microseconds)."""

    outcome = dy.Enum(list(OUTCOMES), nullable=False)
    arrival_ts = dy.Int64(nullable=False)
    queue_ts = dy.Int64(nullable=True)
    answer_ts = dy.Int64(nullable=True)
    end_ts = dy.Int64(nullable=True)
    ivr_s = dy.Float64(nullable=True, min=0)
    wait_s = dy.Float64(nullable=True, min=0)
    talk_s = dy.Float64(nullable=True, min=0)
    hold_s = dy.Float64(nullable=True, min=0)
    acw_s = dy.Float64(nullable=True, min=0)

    @dy.rule()
    def answered_without_answer_time(cls) -> pl.Expr:
        return (pl.col("outcome") != "answered") | pl.col("answer_ts").is_not_null()

    @dy.rule()
    def times_out_of_order(cls) -> pl.Expr:
        return (
            _le("arrival_ts", "queue_ts")
            & _le("queue_ts", "answer_ts")
            & _le("answer_ts", "end_ts")
            & _le("arrival_ts", "end_ts")
        )


class TicketRules(dy.Schema):
    """Rules for ``tickets`` rows (time stamps as epoch microseconds)."""

    ticket_id = dy.String(nullable=False)
    created_ts = dy.Int64(nullable=False)
    first_response_ts = dy.Int64(nullable=True)
    solved_ts = dy.Int64(nullable=True)
    closed_ts = dy.Int64(nullable=True)
    status = dy.Enum(list(TICKET_STATUSES), nullable=False)
    reopens = dy.Int64(nullable=True, min=0)

    @dy.rule()
    def solved_before_created(cls) -> pl.Expr:
        return _le("created_ts", "solved_ts")

    @dy.rule()
    def closed_before_created(cls) -> pl.Expr:
        return _le("created_ts", "closed_ts")

    @dy.rule()
    def first_response_before_created(cls) -> pl.Expr:
        return _le("created_ts", "first_response_ts")


class IntervalRules(dy.Schema):
    """Rules for ``intervals`` rows."""

    interval_start = dy.Int64(nullable=False)
    interval_s = dy.Float64(nullable=False, min_exclusive=0)
    queue = dy.String(nullable=False)
    offered = dy.Int64(nullable=False, min=0)
    answered = dy.Int64(nullable=True, min=0)
    abandoned = dy.Int64(nullable=True, min=0)
    abandoned_short = dy.Int64(nullable=True, min=0)
    answered_within_threshold = dy.Int64(nullable=True, min=0)
    abandoned_within_threshold = dy.Int64(nullable=True, min=0)
    flowout = dy.Int64(nullable=True, min=0)
    wait_answered_s = dy.Float64(nullable=True, min=0)
    wait_abandoned_s = dy.Float64(nullable=True, min=0)
    wait_flowout_s = dy.Float64(nullable=True, min=0)
    max_wait_s = dy.Float64(nullable=True, min=0)
    talk_s = dy.Float64(nullable=True, min=0)
    hold_s = dy.Float64(nullable=True, min=0)
    acw_s = dy.Float64(nullable=True, min=0)
    transferred = dy.Int64(nullable=True, min=0)
    staffed_s = dy.Float64(nullable=True, min=0)

    @dy.rule()
    def answered_exceeds_offered(cls) -> pl.Expr:
        return (pl.col("answered") <= pl.col("offered")) | pl.col("answered").is_null()

    @dy.rule()
    def abandoned_exceeds_offered(cls) -> pl.Expr:
        return (pl.col("abandoned") <= pl.col("offered")) | pl.col("abandoned").is_null()

    @dy.rule()
    def within_threshold_exceeds_answered(cls) -> pl.Expr:
        return (pl.col("answered_within_threshold") <= pl.col("answered")) | pl.col(
            "answered_within_threshold"
        ).is_null()

    @dy.rule()
    def short_abandons_exceed_abandoned(cls) -> pl.Expr:
        return (pl.col("abandoned_short") <= pl.col("abandoned")) | pl.col(
            "abandoned_short"
        ).is_null()


class SurveyRules(dy.Schema):
    """Rules for ``surveys`` rows: scores on their scales (CSAT up to 10: the scale's top is
    checked by :func:`check_rows` with ``scale_max``)."""

    survey_ts = dy.Int64(nullable=False)
    csat = dy.Int64(nullable=True, min=1, max=10)
    nps = dy.Int64(nullable=True, min=0, max=10)
    ces = dy.Int64(nullable=True, min=1, max=7)


class QaRules(dy.Schema):
    """Rules for ``qa_evaluations`` rows."""

    evaluated_ts = dy.Int64(nullable=False)
    agent_id = dy.String(nullable=False)
    score = dy.Float64(nullable=False, min=0, max=100)


class AgentTimeRules(dy.Schema):
    """Rules for ``agent_time`` rows: no negative state time."""

    agent_id = dy.String(nullable=False)
    interval_start = dy.Int64(nullable=False)
    interval_s = dy.Float64(nullable=False, min_exclusive=0)
    scheduled_s = dy.Float64(nullable=True, min=0)
    scheduled_productive_s = dy.Float64(nullable=True, min=0)
    logged_in_s = dy.Float64(nullable=True, min=0)
    available_s = dy.Float64(nullable=True, min=0)
    handle_s = dy.Float64(nullable=True, min=0)
    acw_s = dy.Float64(nullable=True, min=0)
    break_s = dy.Float64(nullable=True, min=0)
    training_s = dy.Float64(nullable=True, min=0)
    meeting_s = dy.Float64(nullable=True, min=0)
    absence_s = dy.Float64(nullable=True, min=0)
    adherent_s = dy.Float64(nullable=True, min=0)


#: Rule schema per importable table.
RULES: dict[str, type[dy.Schema]] = {
    "contacts": ContactRules,
    "tickets": TicketRules,
    "intervals": IntervalRules,
    "surveys": SurveyRules,
    "qa_evaluations": QaRules,
    "agent_time": AgentTimeRules,
}


_SCORES = ("csat", "nps", "ces", "score")


def _reason(rule: str) -> str:
    """Readable reason for a dataframely rule name."""
    if "|" in rule:
        col, kind = rule.split("|", 1)
        return {
            "nullability": f"missing {col}",
            "min": f"{col} below its scale" if col in _SCORES else f"negative {col}",
            "max": f"{col} above its scale",
            "min_exclusive": f"{col} not positive",
            "dtype": f"unknown {col} value" if col in ("outcome", "status") else f"invalid {col}",
        }.get(kind, f"{col}: {kind}")
    return rule.replace("_", " ")


class _ContactRulesNoAnswerTimes(ContactRules):
    """Contact rules for a source that says nothing of answer times (no answer time, no
    wait): an answered contact's answer time is unknown, not missing."""

    @dy.rule()
    def answered_without_answer_time(cls) -> pl.Expr:
        return pl.lit(True)


def check_rows(
    table: str, frame: pl.DataFrame, *, row: str, unknown: frozenset[str] = frozenset()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a parsed table into rows meeting the table's rules and rows failing them.

    Parameters
    ----------
    table
        ``"contacts"``, ``"tickets"`` or ``"intervals"``.
    frame
        The parsed table with a row-number column ``row``.
    row
        Name of the row-number column.
    unknown
        Columns the source does not give at all; rules that would demand them are skipped
        (``answer_ts``: answered contacts of a log without answer or wait times).

    Returns
    -------
    tuple of pl.DataFrame
        ``(passed, failed)``; ``failed`` has ``row``, ``reason`` (the first rule broken) and
        ``detail`` (every rule broken).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {
    ...         "r": [1, 2, 3],
    ...         "outcome": ["answered", "answered", "lost"],
    ...         "arrival_ts": [0, 0, 0],
    ...         "wait_s": [3.0, -1.0, 1.0],
    ...         "answer_ts": [3_000_000, None, None],
    ...     }
    ... )
    >>> ok, bad = check_rows("contacts", df, row="r")
    >>> ok["r"].to_list()
    [1]
    >>> bad.rows()  # doctest: +NORMALIZE_WHITESPACE
    [(2, 'negative wait_s', 'negative wait_s; answered without answer time'),
     (3, 'unknown outcome value', 'unknown outcome value')]
    """
    schema = RULES[table]
    if table == "contacts" and "answer_ts" in unknown:
        schema = _ContactRulesNoAnswerTimes
    names = schema.column_names()
    probe = frame.select(
        pl.col(row).alias(_ROW),
        *[_probe(c, frame.schema.get(c), schema) for c in names],
    )
    probe_schema = type(f"{schema.__name__}WithRow", (schema,), {_ROW: dy.Int64(nullable=False)})
    _, failure = probe_schema.filter(probe, cast=True)
    details = failure.details()
    if details.height == 0:
        return frame, pl.DataFrame(
            schema={row: pl.Int64, "reason": pl.String, "detail": pl.String}
        )
    rule_cols = [c for c in details.columns if c not in probe.columns]
    # order rules: column rules (missing / invalid / negative) first, then cross-column rules
    rule_cols = [r for r in rule_cols if "|" in r] + [r for r in rule_cols if "|" not in r]
    reasons = pl.concat_list(
        [pl.when(pl.col(r) == "invalid").then(pl.lit(_reason(r))) for r in rule_cols]
    ).list.drop_nulls()
    failed = details.select(
        pl.col(_ROW).alias(row),
        reasons.list.first().fill_null("invalid row").alias("reason"),
        reasons.list.join("; ").alias("detail"),
    )
    passed = frame.join(failed.select(row), on=row, how="anti", maintain_order="left")
    return passed, failed


def check_scale(
    frame: pl.DataFrame, *, row: str, scale_max: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Set aside survey rows whose CSAT is above the survey's scale (``scale_max``)."""
    if "csat" not in frame.columns:
        return frame, pl.DataFrame(
            schema={row: pl.Int64, "reason": pl.String, "detail": pl.String}
        )
    bad = pl.col("csat") > scale_max
    failed = frame.filter(bad).select(
        pl.col(row),
        pl.lit("csat above its scale").alias("reason"),
        pl.format(
            "csat = {} on a 1-{} scale (set scale_max = 10 for a 1-10 survey)",
            pl.col("csat"),
            pl.lit(scale_max),
        ).alias("detail"),
    )
    return frame.filter(~bad.fill_null(False)), failed


def _probe(name: str, dtype: pl.DataType | None, schema: type[dy.Schema]) -> pl.Expr:
    """The column as the rule schema expects it: time stamps as epoch microseconds."""
    target = schema.columns()[name]
    if dtype is None:
        return pl.lit(None, dtype=target.dtype).alias(name)
    if isinstance(dtype, pl.Datetime):
        return pl.col(name).dt.epoch("us").alias(name)
    if isinstance(target, dy.Enum):
        return pl.col(name).cast(pl.String).alias(name)
    return pl.col(name)
