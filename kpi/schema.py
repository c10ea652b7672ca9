"""The canonical data model: tables, columns, dtypes, units and meaning.

Every source (the simulator, ``kpi import`` presets and mappings) writes these tables; every KPI
reads them. Column names live here and nowhere else. ``docs/data-model.md`` is generated from this
module (``python -m kpi.schema > docs/data-model.md``) and a test keeps the two in step.

Time stamps are time-zone aware. A dataset states its site time zone in ``dataset.json``
(:func:`kpi.data.load`); every ``Datetime`` column of a dataset carries that zone, and interval
bins are computed in it, so a 23-hour day has 46 half-hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from kpi.periods import local_midnight

__all__ = [
    "ATTRIBUTIONS",
    "OUTCOMES",
    "TABLES",
    "Column",
    "SchemaError",
    "Table",
    "attribution_expr",
    "conform",
    "data_model_markdown",
    "empty_frame",
    "time_column",
    "time_expr",
    "validate",
]

#: Contact outcomes. ``answered``: an agent took it; ``abandoned_queue``: the customer left while
#: waiting in queue; ``abandoned_ivr``: left in the IVR before reaching a queue (not offered);
#: ``flowout``: left the queue unanswered by the system (overflow, voicemail, callback request);
#: ``outbound``: an outbound contact placed by an agent.
OUTCOMES = ("answered", "abandoned_queue", "abandoned_ivr", "flowout", "outbound")

TS = "datetime[tz]"  # a tz-aware Datetime("us", <site zone>) column


class SchemaError(ValueError):
    """A table does not match the data model (missing column, wrong dtype, naive time stamps)."""


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: pl.DataType | str
    unit: str
    description: str
    required: bool = True
    kpis: tuple[str, ...] = ()
    #: A null in this column is a value ("never queued", "still open"), not an unknown; only
    #: a column that is null on every row of the table is unknown.
    null_is_value: bool = False

    def polars_dtype(self, tz: str) -> pl.DataType:
        """The concrete polars dtype, with the dataset's time zone for time stamps."""
        if self.dtype == TS:
            return pl.Datetime("us", time_zone=tz)
        return self.dtype  # type: ignore[return-value]

    @property
    def dtype_name(self) -> str:
        """Readable dtype name for documentation and error messages."""
        return "Datetime(us, site zone)" if self.dtype == TS else str(self.dtype)


@dataclass(frozen=True)
class Table:
    """A canonical table: its grain, its time column and its columns."""

    name: str
    grain: str
    description: str
    time_column: str | None
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        """Column names in canonical order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def schema(self, tz: str) -> pl.Schema:
        """The polars schema of this table for a dataset in time zone ``tz``."""
        return pl.Schema({c.name: c.polars_dtype(tz) for c in self.columns})


S, T, B, F, INT, D = pl.String, TS, pl.Boolean, pl.Float64, pl.Int64, pl.Date


def _c(name, dtype, unit, description, *kpis, required=True, null_is_value=False):
    return Column(name, dtype, unit, description, required, tuple(kpis), null_is_value)


CONTACTS = Table(
    "contacts",
    "one row per customer contact (voice, chat, email, callback, outbound)",
    "Each inbound contact first meets the IVR (arrival_ts), may enter a queue (queue_ts), may be "
    "answered (answer_ts) and ends (end_ts: the customer leaves; after-call work follows).",
    "arrival_ts",
    (
        _c("contact_id", S, "", "unique contact identifier"),
        _c("channel", S, "", "voice, chat, email or callback", "contacts_offered"),
        _c("direction", S, "", "inbound or outbound", "contacts_handled"),
        _c("queue", S, "", "queue (skill, split, ACD group) the contact was routed to"),
        _c("topic", S, "", "contact reason", "fcr", required=False),
        _c(
            "customer_id",
            S,
            "",
            "customer key; null when the caller is unidentified",
            "fcr",
            "contacts_per_customer",
            required=False,
            null_is_value=True,
        ),
        _c(
            "agent_id",
            S,
            "",
            "agent who handled it; null when not answered",
            "handled_per_agent",
            required=False,
            null_is_value=True,
        ),
        _c("team", S, "", "team owning the queue and its agents"),
        _c("site", S, "", "site (location) of the team", required=False),
        _c("arrival_ts", T, "time", "contact arrives (enters the IVR, or e-mail received)"),
        _c(
            "queue_ts",
            T,
            "time",
            "enters the agent queue; null if it never did",
            "contacts_offered",
            "max_in_queue",
            required=False,
            null_is_value=True,
        ),
        _c(
            "answer_ts",
            T,
            "time",
            "answered by an agent; null if not answered",
            "asa",
            required=False,
            null_is_value=True,
        ),
        _c(
            "end_ts",
            T,
            "time",
            "customer leaves: end of talk, abandon or flow-out time",
            required=False,
        ),
        _c("ivr_s", F, "s", "seconds in the IVR before the queue", required=False),
        _c(
            "wait_s",
            F,
            "s",
            "seconds waiting in queue (to answer, abandon or flow-out); null if never queued",
            "asa",
            "avg_wait",
            "longest_wait",
            "service_level",
            required=False,
            null_is_value=True,
        ),
        _c(
            "talk_s",
            F,
            "s",
            "talk (or active chat) seconds; 0 when not handled",
            "aht",
            "avg_talk",
            required=False,
        ),
        _c("hold_s", F, "s", "hold seconds within the contact", "aht", "avg_hold", required=False),
        _c("acw_s", F, "s", "after-call work (wrap-up) seconds", "aht", "avg_acw", required=False),
        _c(
            "outcome",
            S,
            "",
            "one of " + ", ".join(OUTCOMES),
            "contacts_answered",
            "contacts_abandoned",
        ),
        _c(
            "transferred",
            B,
            "",
            "transferred to another queue or agent",
            "transfer_rate",
            required=False,
        ),
        _c(
            "resolved",
            B,
            "",
            "agent marked the issue resolved on this contact",
            "resolution_rate",
            required=False,
        ),
        _c("converted", B, "", "the contact produced a sale", "conversion_rate", required=False),
        _c(
            "revenue",
            F,
            "currency",
            "sale amount (0 if none)",
            "revenue_per_successful_call",
            required=False,
        ),
    ),
)

TICKETS = Table(
    "tickets",
    "one row per ticket (case)",
    "Ticket-log teams: a ticket is created, gets a first response, is solved and later closed.",
    "created_ts",
    (
        _c("ticket_id", S, "", "ticket identifier"),
        _c("created_ts", T, "time", "ticket created", "backlog"),
        _c(
            "first_response_ts",
            T,
            "time",
            "first agent response",
            "first_response_time",
            required=False,
            null_is_value=True,
        ),
        _c(
            "solved_ts",
            T,
            "time",
            "solved (handled); null while open",
            "tickets_handled",
            "avg_resolution_time",
            required=False,
            null_is_value=True,
        ),
        _c("closed_ts", T, "time", "closed; null while open", required=False, null_is_value=True),
        _c("status", S, "", "open, pending, solved or closed", required=False),
        _c("reopens", INT, "count", "times the ticket was reopened", required=False),
        _c("agent_id", S, "", "owner agent", required=False, null_is_value=True),
        _c("team", S, "", "owning team (office)"),
        _c("channel", S, "", "channel the ticket came in on", required=False),
        _c("priority", S, "", "priority", required=False),
        _c("topic", S, "", "ticket topic (complaint type)", required=False),
        _c("customer_id", S, "", "customer key", required=False, null_is_value=True),
    ),
)

AGENT_TIME = Table(
    "agent_time",
    "one row per agent and interval",
    "Scheduled and actual state time per agent and interval. Scheduled time is paid time; the "
    "state columns split it (handle + acw + available + break + training + meeting + absence + "
    "other = scheduled, when the agent works to schedule).",
    "interval_start",
    (
        _c("agent_id", S, "", "agent"),
        _c("team", S, "", "agent's team"),
        _c("site", S, "", "agent's site", required=False),
        _c("interval_start", T, "time", "start of the interval"),
        _c("interval_s", F, "s", "interval length"),
        _c(
            "scheduled_s",
            F,
            "s",
            "scheduled (paid) seconds",
            "shrinkage",
            "attendance",
            required=False,
        ),
        _c(
            "scheduled_productive_s",
            F,
            "s",
            "scheduled on-queue seconds",
            "adherence",
            required=False,
        ),
        _c("logged_in_s", F, "s", "seconds logged in", "utilization", required=False),
        _c("available_s", F, "s", "idle, available for contacts", "occupancy", required=False),
        _c("handle_s", F, "s", "talking and holding", "occupancy", "utilization", required=False),
        _c("acw_s", F, "s", "after-call work", "occupancy", required=False),
        _c("break_s", F, "s", "breaks and lunch", "shrinkage", required=False),
        _c("training_s", F, "s", "training", "shrinkage", required=False),
        _c("meeting_s", F, "s", "meetings and coaching", "shrinkage", required=False),
        _c(
            "absence_s",
            F,
            "s",
            "unplanned absence within the schedule",
            "shrinkage",
            "attendance",
            required=False,
        ),
        _c(
            "adherent_s",
            F,
            "s",
            "seconds in the scheduled activity at the scheduled time",
            "adherence",
            required=False,
        ),
    ),
)

AGENTS = Table(
    "agents",
    "one row per agent (roster)",
    "Who works where, since when, and why they left.",
    None,
    (
        _c("agent_id", S, "", "agent"),
        _c("name", S, "", "display name (masked in reports by default)"),
        _c("team", S, "", "team", "agent_attrition"),
        _c("site", S, "", "site"),
        _c("team_leader", S, "", "team leader"),
        _c("hired", D, "date", "first day", "agent_attrition"),
        _c(
            "left",
            D,
            "date",
            "last day; null while employed",
            "agent_attrition",
            null_is_value=True,
        ),
        _c(
            "leave_reason",
            S,
            "",
            "voluntary, involuntary or null",
            required=False,
            null_is_value=True,
        ),
    ),
)

SURVEYS = Table(
    "surveys",
    "one row per post-contact survey response",
    "Scores per contact; dimension columns are copied from the contact for slicing.",
    "survey_ts",
    (
        _c("contact_id", S, "", "surveyed contact", required=False),
        _c("survey_ts", T, "time", "response time"),
        _c("channel", S, "", "contact channel", required=False),
        _c("queue", S, "", "contact queue", required=False),
        _c("topic", S, "", "contact topic", required=False),
        _c("team", S, "", "team", required=False),
        _c("agent_id", S, "", "agent", required=False, null_is_value=True),
        _c(
            "csat",
            INT,
            "1-5 or 1-10",
            "satisfaction, highest best (1-10 when dataset.json says csat_scale_max = 10); "
            "null if not asked",
            "csat",
            required=False,
            null_is_value=True,
        ),
        _c(
            "nps",
            INT,
            "0-10",
            "likelihood to recommend; null if not asked",
            "nps",
            required=False,
            null_is_value=True,
        ),
        _c(
            "ces",
            INT,
            "1-7",
            "'easy to handle my issue' agreement, 7 easiest",
            "ces",
            required=False,
            null_is_value=True,
        ),
    ),
)

QA = Table(
    "qa_evaluations",
    "one row per quality evaluation of a contact",
    "Internal quality score of evaluated contacts.",
    "evaluated_ts",
    (
        _c("evaluation_id", S, "", "evaluation"),
        _c("contact_id", S, "", "evaluated contact", required=False, null_is_value=True),
        _c("agent_id", S, "", "evaluated agent"),
        _c("team", S, "", "agent's team"),
        _c("evaluated_ts", T, "time", "evaluation time"),
        _c("score", F, "0-100", "weighted form score", "qa_score"),
    ),
)

COACHING = Table(
    "coaching",
    "one row per coaching session",
    "Coaching sessions held with agents.",
    "session_ts",
    (
        _c("session_id", S, "", "session"),
        _c("agent_id", S, "", "coached agent"),
        _c("team", S, "", "agent's team"),
        _c("session_ts", T, "time", "session start", "coaching_per_agent"),
        _c("duration_s", F, "s", "length"),
        _c("focus", S, "", "what the session worked on", required=False, null_is_value=True),
    ),
)

AGENT_SURVEYS = Table(
    "agent_surveys",
    "one row per agent-experience survey response",
    "eNPS-style agent experience survey.",
    "survey_ts",
    (
        _c(
            "agent_id",
            S,
            "",
            "responding agent (may be anonymised)",
            required=False,
            null_is_value=True,
        ),
        _c("team", S, "", "agent's team"),
        _c("survey_ts", T, "time", "response time"),
        _c("score", INT, "0-10", "likelihood to recommend the workplace", "agent_enps"),
    ),
)

CUSTOMERS = Table(
    "customers",
    "one row per customer",
    "Customer base for churn, retention and activity.",
    None,
    (
        _c("customer_id", S, "", "customer"),
        _c("segment", S, "", "customer segment", required=False, null_is_value=True),
        _c("joined", D, "date", "became a customer", "customer_churn"),
        _c(
            "churned",
            D,
            "date",
            "stopped being a customer; null if active",
            "customer_churn",
            null_is_value=True,
        ),
    ),
)

FINANCE = Table(
    "finance",
    "one row per finance period (usually a month), optionally per team",
    "Money the centre spends and the business it supports. Values are attributed to the bin "
    "that contains period_start.",
    None,
    (
        _c("period_start", D, "date", "first day of the period"),
        _c("period_end", D, "date", "last day of the period"),
        _c(
            "team", S, "", "team, or null for the whole centre", required=False, null_is_value=True
        ),
        _c("centre_cost", F, "currency", "total operating cost of the centre", "cost_per_contact"),
        _c("company_orders", INT, "count", "all orders of the company", "cost_per_order"),
        _c("order_amount", F, "currency", "value of all company orders", required=False),
        _c(
            "acquisition_spend",
            F,
            "currency",
            "marketing and sales spend on acquisition",
            "subscriber_acquisition_cost",
        ),
        _c("new_subscribers", INT, "count", "new subscribers won", "subscriber_acquisition_cost"),
    ),
)

EVENTS = Table(
    "events",
    "one row per annotation",
    "Things that happened (launches, outages, campaigns) to draw on trend charts.",
    "start_ts",
    (
        _c("start_ts", T, "time", "start"),
        _c("end_ts", T, "time", "end; null for a point event", required=False, null_is_value=True),
        _c("label", S, "", "what happened"),
        _c("team", S, "", "affected team, or null for all", required=False, null_is_value=True),
    ),
)

INTERVALS = Table(
    "intervals",
    "one row per queue and interval (ACD interval report)",
    "What many centres export instead of contact rows. Counts and time totals per interval; "
    "`answered_within_threshold` and `abandoned_short` use the thresholds stated in "
    "dataset.json (`interval_threshold_s`, `interval_short_abandon_s`).",
    "interval_start",
    (
        _c("interval_start", T, "time", "start of the interval"),
        _c("interval_s", F, "s", "interval length"),
        _c("queue", S, "", "queue"),
        _c("channel", S, "", "channel", required=False),
        _c("team", S, "", "team owning the queue", required=False),
        _c("offered", INT, "count", "contacts offered to the queue"),
        _c("answered", INT, "count", "answered", required=False),
        _c("abandoned", INT, "count", "abandoned in queue", required=False),
        _c(
            "abandoned_short",
            INT,
            "count",
            "abandoned within the short-abandon threshold",
            required=False,
        ),
        _c(
            "answered_within_threshold",
            INT,
            "count",
            "answered within the SL threshold",
            required=False,
        ),
        _c(
            "abandoned_within_threshold",
            INT,
            "count",
            "abandoned within the SL threshold",
            required=False,
        ),
        _c("flowout", INT, "count", "left the queue unanswered by the system", required=False),
        _c("wait_answered_s", F, "s", "total wait of answered contacts", required=False),
        _c("wait_abandoned_s", F, "s", "total wait of abandoned contacts", required=False),
        _c(
            "wait_flowout_s",
            F,
            "s",
            "total wait of contacts that flowed out",
            required=False,
        ),
        _c("max_wait_s", F, "s", "longest wait in the interval", required=False),
        _c("talk_s", F, "s", "total talk", required=False),
        _c("hold_s", F, "s", "total hold", required=False),
        _c("acw_s", F, "s", "total after-call work", required=False),
        _c("transferred", INT, "count", "transferred contacts", required=False),
        _c("staffed_s", F, "s", "agent seconds staffed on the queue", required=False),
    ),
)

FORECASTS = Table(
    "forecasts",
    "one row per stored forecast interval (group, metric, grain and forecast origin)",
    "Kept by `kpi forecast --store` for `forecast_accuracy`. A null group column means all "
    "its values together (a forecast by queue has a null channel and team).",
    "period",
    (
        _c("period", T, "time", "interval start", "forecast_accuracy"),
        _c("interval_s", F, "s", "interval length (900, 1800, 3600 or 86400)"),
        _c("queue", S, "", "queue; null: all queues", required=False, null_is_value=True),
        _c("channel", S, "", "channel; null: all channels", required=False, null_is_value=True),
        _c("team", S, "", "team; null: all teams", required=False, null_is_value=True),
        _c("metric", S, "", "the KPI forecast: contacts_offered or aht"),
        _c("forecast", F, "metric", "forecast value", "forecast_accuracy"),
        _c("lower", F, "metric", "lower end of the prediction interval", required=False),
        _c("upper", F, "metric", "upper end of the prediction interval", required=False),
        _c("level", F, "%", "central prediction interval, percent", required=False),
        _c("method", S, "", "forecasting method", required=False),
        _c("until", T, "time", "end of the history used: where the forecast starts"),
        _c("made_at", T, "time", "when the forecast was stored", required=False),
    ),
)

#: All canonical tables by name.
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CONTACTS,
        TICKETS,
        AGENT_TIME,
        AGENTS,
        SURVEYS,
        QA,
        COACHING,
        AGENT_SURVEYS,
        CUSTOMERS,
        FINANCE,
        EVENTS,
        INTERVALS,
        FORECASTS,
    )
}


# ---- time: the column that places a table's rows in time bins ---------------------------------

#: Which contact time stamp places a contact in a bin: ``arrival`` (``arrival_ts``), ``answer``
#: (answer time, or the abandon time of an unanswered contact) or ``completion`` (end of
#: after-call work).
ATTRIBUTIONS = ("arrival", "answer", "completion")

#: Time columns derived when a table is queried (not stored): table to column name. Finance
#: rows are placed at local midnight of ``period_start``; contacts under an attribution other
#: than arrival at ``_<attribution>_ts``.
_DERIVED_TIME = {"finance": "_period_ts"}


def time_column(table: str, *, attribution: str = "arrival") -> str | None:
    """The column that places rows of ``table`` in time bins, or None if the table has none.

    The stored :attr:`Table.time_column`, except where the stamp is derived when the table is
    queried (see :func:`time_expr`): finance (``_period_ts``) and contacts under an attribution
    other than ``arrival``. This is the one declaration every engine and analysis reads.

    Examples
    --------
    >>> time_column("tickets"), time_column("finance"), time_column("agents")
    ('created_ts', '_period_ts', None)
    >>> time_column("contacts"), time_column("contacts", attribution="completion")
    ('arrival_ts', '_completion_ts')
    """
    if attribution not in ATTRIBUTIONS:
        raise ValueError(f"unknown attribution {attribution!r}; valid: {', '.join(ATTRIBUTIONS)}")
    if table == "contacts" and attribution != "arrival":
        return f"_{attribution}_ts"
    if table in _DERIVED_TIME:
        return _DERIVED_TIME[table]
    found = TABLES.get(table)
    return found.time_column if found is not None else None


def attribution_expr(attribution: str = "arrival") -> pl.Expr:
    """The contact time stamp that places a contact in a bin under ``attribution`` (unnamed).

    Examples
    --------
    >>> from datetime import datetime
    >>> t = datetime(2026, 1, 5, 9)
    >>> df = pl.DataFrame(
    ...     {"arrival_ts": [t], "answer_ts": [None], "end_ts": [t], "acw_s": [30.0]},
    ...     schema_overrides={"answer_ts": pl.Datetime("us")},
    ... )
    >>> df.select(attribution_expr("completion")).item()
    datetime.datetime(2026, 1, 5, 9, 0, 30)
    """
    if attribution == "answer":
        return pl.coalesce("answer_ts", "end_ts", "arrival_ts")
    if attribution == "completion":
        return pl.coalesce("end_ts", "answer_ts", "arrival_ts") + pl.duration(
            microseconds=(pl.col("acw_s").fill_null(0) * 1e6).cast(pl.Int64)
        )
    return pl.col("arrival_ts")


def time_expr(table: str, *, tz: str, attribution: str = "arrival") -> pl.Expr | None:
    """The expression deriving ``time_column(table)`` from stored columns, or None if stored.

    Examples
    --------
    >>> from datetime import date
    >>> df = pl.DataFrame({"period_start": [date(2026, 1, 1)]})
    >>> df.select(time_expr("finance", tz="UTC")).columns
    ['_period_ts']
    >>> time_expr("tickets", tz="UTC") is None
    True
    """
    column = time_column(table, attribution=attribution)
    if table == "contacts" and attribution != "arrival":
        return attribution_expr(attribution).alias(column)
    if table == "finance":
        return local_midnight("period_start", tz).alias(column)
    return None


def validate(name: str, frame: pl.LazyFrame | pl.DataFrame, *, source: str = "") -> None:
    """Check a table's columns and dtypes against the data model, without collecting.

    Parameters
    ----------
    name
        Canonical table name, e.g. ``"contacts"``.
    frame
        The table; only its schema is read.
    source
        File or origin named in the error message.

    Raises
    ------
    SchemaError
        Naming every missing required column, every wrong dtype and naive time stamps.

    Examples
    --------
    >>> import polars as pl
    >>> validate("events", pl.DataFrame({"label": ["launch"]}))
    Traceback (most recent call last):
    ...
    kpi.schema.SchemaError: events: missing required column 'start_ts' (Datetime(us, site zone))
    """
    table = TABLES[name]
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    where = f"{source}: " if source else ""
    problems = []
    for col in table.columns:
        if col.name not in schema:
            if col.required:
                problems.append(f"missing required column {col.name!r} ({col.dtype_name})")
            continue
        got = schema[col.name]
        if col.dtype == TS:
            if not isinstance(got, pl.Datetime) or got.time_zone is None:
                problems.append(
                    f"column {col.name!r} must be a time-zone-aware Datetime, got {got}"
                )
        elif got != col.dtype and got != pl.Null:
            problems.append(f"column {col.name!r} must be {col.dtype}, got {got}")
    if problems:
        raise SchemaError(f"{where}{name}: " + "; ".join(problems))


def empty_frame(name: str, tz: str = "UTC") -> pl.DataFrame:
    """An empty table with the canonical schema.

    Examples
    --------
    >>> empty_frame("events", "Europe/London").columns
    ['start_ts', 'end_ts', 'label', 'team']
    """
    return pl.DataFrame(schema=TABLES[name].schema(tz))


def conform(name: str, frame: pl.LazyFrame, tz: str) -> pl.LazyFrame:
    """Order and cast a table to the canonical schema, adding optional columns as nulls.

    Time stamps are converted to ``tz``. Extra columns are kept after the canonical ones.

    Examples
    --------
    >>> import polars as pl
    >>> lf = pl.LazyFrame({"label": ["x"], "start_ts": [None]})
    >>> conform("events", lf, "UTC").collect_schema().names()
    ['start_ts', 'end_ts', 'label', 'team']
    """
    table = TABLES[name]
    have = frame.collect_schema()
    exprs = []
    for col in table.columns:
        dtype = col.polars_dtype(tz)
        if col.name in have:
            got = have[col.name]
            e = pl.col(col.name)
            if got == dtype:
                # no-op casts would stop filters (a period, a chunk) from reaching the Parquet
                # reader, which skips row groups by their statistics
                pass
            elif col.dtype == TS and isinstance(got, pl.Datetime) and got.time_zone:
                e = e.dt.convert_time_zone(tz).dt.cast_time_unit("us")
            else:
                e = e.cast(dtype)
            exprs.append(e)
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(col.name))
    extra = [c for c in have.names() if c not in table.names]
    return frame.select(*exprs, *extra)


def data_model_markdown() -> str:
    """Markdown documentation of every table (the source of ``docs/data-model.md``)."""
    out = [
        "# Data model",
        "",
        "Generated from `kpi/schema.py` by `python -m kpi.schema > docs/data-model.md`; "
        "a test keeps it in step.",
        "",
        "A dataset is a directory with one Parquet file per table (`contacts.parquet`, ...) and "
        "`dataset.json` (`timezone`, `name`, `source`, optional thresholds of interval reports, "
        "`country` for public holidays, `csat_scale_max` for 1-10 surveys, `unrecorded`: "
        "columns the source system does not record, held as 0 in sums such as handle time but "
        "unknown as KPIs of their own). "
        "Every `Datetime` column carries the dataset's site time zone; intervals are binned in "
        "that zone. Durations are seconds (`_s`), ratios are fractions in [0, 1].",
        "",
        "Unknown is never zero. A column that is not required may be absent; absent and null on "
        "every row mean the same: the data do not say. A KPI that needs such a column is null, "
        "with a reason (`kpi.compute.availability`), never a number built on zeros. Where the "
        "`null` column says *value*, a null row means something (never queued, still open) and "
        "only a column null on every row is unknown; where it says *unknown*, a group (a team, "
        "a half-hour) whose rows are all null has that KPI null too. The same holds for the "
        "dimensions a KPI is cut by: by a column that a table lacks, or holds null on every row "
        "(a file loaded without topic), each KPI of that table is unavailable with the reason "
        "(`contacts has no topic values`), not one unknown group holding every row; the "
        "explorers offer only dimensions with values (`kpi.views.dimensions`).",
        "",
    ]
    for t in TABLES.values():
        out += [f"## `{t.name}`: {t.grain}", "", t.description, ""]
        if t.time_column:
            out += [f"Time column for period filters: `{t.time_column}`.", ""]
        out += [
            "| column | dtype | unit | required | null | meaning | used by |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in t.columns:
            req = "yes" if c.required else "no"
            null = "value" if c.null_is_value else "unknown"
            used = ", ".join(f"`{k}`" for k in c.kpis)
            out.append(
                f"| `{c.name}` | {c.dtype_name} | {c.unit} | {req} | {null} | {c.description} "
                f"| {used} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(data_model_markdown())
