"""The Technion "Anonymous Bank" call log (17 tab-separated fields, one record per call).

Field documentation: ``../shared/datasets/technion_bank_1999_02/FIELDS.md``. The rules below
turn each record into one ``contacts`` row, or quarantine it with a reason.

Reading the clock fields
    Times are ``H:MM:SS`` without a leading zero; ``date`` is ``YYMMDD`` and is the date of
    ``vru_entry``. Exit times carry no date, so each exit is dated as start + the recorded
    ``*_time`` (the source's ``*_time = (exit - start) mod 86,400``), which places exits after
    midnight on the next day. Stage starts (``q_start``, ``ser_start``) are dated to the day
    that puts them nearest (within 12 hours) to the end of the previous stage. Only the clock
    times that start a stage are localised (with the DST rule of :func:`kpi.io._parse.localize`);
    exits are those instants plus the recorded seconds, so a call across a DST change keeps its
    recorded durations.
``0:00:00`` sentinel
    A stage (queue, service) is absent when its start, its exit and its ``*_time`` are all
    0; otherwise ``0:00:00`` is a real midnight (e.g. ``q_start 0:00:00, q_time 27``).
Outcomes
    ``PHANTOM`` records are not calls: quarantined with reason ``phantom`` (kept in
    ``quarantine/contacts.csv`` and counted, never in KPIs). ``AGENT`` -> ``answered``.
    ``HANG`` after joining the queue -> ``abandoned_queue``; ``HANG`` without a queue stage ->
    ``abandoned_ivr`` (never reached the queue, not offered). A ``HANG`` with a named server
    and a service stage is a call an agent took -> ``answered``.
Repairs (counted in the report)
    ``AGENT`` with server ``NO_SERVER``: answered, ``agent_id`` null. ``AGENT`` with a server
    but no service stage: answered at queue exit (or VRU exit), ``talk_s`` 0. ``HANG`` with a
    service stage but no server: the service stage is dropped, the call is an abandon. A
    negative ``vru_time`` (the VRU clock ahead of the queue clock): ``ivr_s`` 0 and
    ``arrival_ts`` = ``vru_exit``. Calls routed from the VRU straight to an agent (no queue
    stage) are offered with ``queue_ts = answer_ts`` and ``wait_s`` 0.
Quarantined
    Unreadable fields (date, times, durations), unknown outcome words, a ``*_time`` that
    disagrees with its clock times, negative queue or service times, ``AGENT`` with neither
    a server nor a service stage, records with the wrong number of fields, duplicate calls.
Mapping
    ``queue`` = ``topic`` = type code (PS, PE, IN, NE, NW, TT; unknown codes are kept and
    listed); ``team`` = ``internet`` for IN, else ``main`` (the bank's two rooms); ``site`` =
    ``bank``; ``channel`` voice, ``direction`` inbound; ``customer_id`` 0 -> null
    (unidentified); ``talk_s`` = ``ser_time``; ``hold_s`` = ``acw_s`` = 0 (not in the data);
    transferred, resolved, converted, revenue null (not in the data). Extra columns:
    ``priority`` (0, 1, 2) and ``vru_line``. ``contact_id`` = ``YYYYMMDD-vru_line-call_id``.
"""

from __future__ import annotations

import difflib
from datetime import datetime

import polars as pl

from kpi.errors import KpiError
from kpi.io._convert import Staged, check_scalar, drop_duplicates, rejected_frame
from kpi.io._mapping import norm
from kpi.io._parse import localize
from kpi.io._read import ROW, Source
from kpi.io._report import ImportReport
from kpi.io._rules import check_rows
from kpi.schema import TABLES

__all__ = ["FIELDS", "KNOWN_TYPES", "convert_technion"]

#: The 17 fields, in file order.
FIELDS = (
    "vru+line",
    "call_id",
    "customer_id",
    "priority",
    "type",
    "date",
    "vru_entry",
    "vru_exit",
    "vru_time",
    "q_start",
    "q_exit",
    "q_time",
    "outcome",
    "ser_start",
    "ser_exit",
    "ser_time",
    "server",
)

#: Type codes documented in FIELDS.md.
KNOWN_TYPES = ("PS", "PE", "IN", "NE", "NW", "TT")

_CLOCKS = ("vru_entry", "vru_exit", "q_start", "q_exit", "ser_start", "ser_exit")
_DURS = ("vru_time", "q_time", "ser_time")
_DAY = 86_400


def _clock(c: str) -> pl.Expr:
    g = pl.col(c).str.extract_groups(r"^(\d{1,2}):([0-5]\d):([0-5]\d)$")
    h = g.struct.field("1").cast(pl.Int64)
    return pl.when(h < 24).then(
        h * 3600 + g.struct.field("2").cast(pl.Int64) * 60 + g.struct.field("3").cast(pl.Int64)
    )


def _int(c: str) -> pl.Expr:
    return pl.when(pl.col(c).str.contains(r"^-?\d{1,9}$")).then(
        pl.col(c).cast(pl.Int64, strict=False)
    )


def _dur(c: str) -> pl.Expr:
    """A *_time field: whole seconds, less than a day in size (else unreadable)."""
    v = _int(c)
    return pl.when(v.abs() < _DAY).then(v)


def _secs(e: pl.Expr) -> pl.Expr:
    return pl.duration(seconds=e)


def _nearest(sec: pl.Expr, ref: pl.Expr) -> pl.Expr:
    """The occurrence of clock time ``sec`` nearest to naive datetime ``ref`` (within 12 h)."""
    cand = ref.dt.truncate("1d") + _secs(sec)
    diff = (cand - ref).dt.total_seconds()
    return (
        pl.when(diff > _DAY // 2)
        .then(cand - _secs(pl.lit(_DAY)))
        .when(diff < -(_DAY // 2))
        .then(cand + _secs(pl.lit(_DAY)))
        .otherwise(cand)
    )


def _columns(source: Source) -> dict[str, str]:
    by_norm = {norm(c): c for c in source.columns}
    found = {f: by_norm.get(norm(f)) for f in FIELDS}
    missing = [f for f, c in found.items() if c is None]
    if len(missing) == len(FIELDS):
        shown = ", ".join(repr(c) for c in source.columns[:8])
        more = ", ..." if len(source.columns) > 8 else ""
        raise KpiError(
            f"{source.path}: not a Technion call log: none of its 17 fields ({', '.join(FIELDS[:4])}"
            f", ...) is in the file, whose columns are {shown}{more}; for other exports use "
            "another --preset or --mapping FILE.toml"
        )
    if missing:
        close = []
        for f in missing:
            close += difflib.get_close_matches(f, source.columns, n=1, cutoff=0.6)
        hint = f"; closest columns: {', '.join(repr(c) for c in close)}" if close else ""
        raise KpiError(
            f"{source.path}: not a Technion call log: missing field(s) "
            f"{', '.join(repr(f) for f in missing)}{hint}; the technion preset expects the 17 "
            f"fields {', '.join(FIELDS)} (tab-separated, header first); for other exports use "
            "--mapping FILE.toml"
        )
    return {f: c for f, c in found.items() if c is not None}


def convert_technion(source: Source, *, tz: str, report: ImportReport) -> Staged:
    """Convert a Technion call log to ``contacts`` (see the module docstring for the rules).

    Parameters
    ----------
    source
        The file read by :func:`kpi.io.read_source`.
    tz
        Site time zone (Asia/Jerusalem for the bank).
    report
        Receives repairs, inferences and assumptions.

    Returns
    -------
    Staged
        ``contacts`` rows with ``priority`` and ``vru_line`` extras, and rejected rows.
    """
    f = _fields(source)
    rejected = _rejected(f)
    f = f.join(rejected.select(ROW), on=ROW, how="anti", maintain_order="left")
    f = _canonical(_time_line(f, tz))
    out_cols = [
        *TABLES["contacts"].names,
        "priority",
        "vru_line",
    ]
    flag_cols = [c for c in f.columns if c.startswith(("_fix_", "_gap_", "_fold_"))] + [
        "_hang_named",
        "_direct",
        "_zero_talk",
        "_cross",
        "_unident",
        "_bad_priority",
        "_date",
        "type",
    ]
    staged = f.select(pl.col(ROW), *out_cols, *flag_cols)
    passed, failed = check_rows("contacts", staged, row=ROW)
    rejected = pl.concat([rejected, rejected_frame(failed)])
    passed, dups = drop_duplicates(passed, "contacts")
    rejected = pl.concat([rejected, dups])
    _report(passed, report, tz)
    # hold and after-call work are held as 0 so that handle time (talk) is known, but the log
    # does not record them: average hold and after-call work are unknown, never 0 s
    unrecorded = {"unrecorded": {"contacts": ["hold_s", "acw_s"]}}
    return Staged("contacts", passed.select(ROW, *out_cols), rejected, meta=unrecorded)


def _fields(source: Source) -> pl.DataFrame:
    """The 17 fields as text, parsed (``_date``, ``_<clock>``, ``_<duration>``), and stage flags."""
    cols = _columns(source)
    for field_name, c in cols.items():
        check_scalar(source, c, f"the technion field {field_name}")
    f = source.frame.select(
        pl.col(ROW),
        *[pl.col(c).cast(pl.String).str.strip_chars().alias(norm(f)) for f, c in cols.items()],
    )
    f = f.with_columns(
        _date=pl.coalesce(
            pl.when(pl.col("date").str.len_chars() == 6).then(
                pl.col("date").str.to_date("%y%m%d", strict=False)
            ),
            pl.when(pl.col("date").str.len_chars() == 8).then(
                pl.col("date").str.to_date("%Y%m%d", strict=False)
            ),
        ),
        **{f"_{c}": _clock(c) for c in _CLOCKS},
        **{f"_{c}": _dur(c) for c in _DURS},
        _outcome=pl.col("outcome").str.to_uppercase(),
        _server=pl.when(pl.col("server").str.to_uppercase() != "NO_SERVER").then(pl.col("server")),
    )
    queued = ~((pl.col("_q_start") == 0) & (pl.col("_q_exit") == 0) & (pl.col("_q_time") == 0))
    served = ~(
        (pl.col("_ser_start") == 0) & (pl.col("_ser_exit") == 0) & (pl.col("_ser_time") == 0)
    )
    f = f.with_columns(_queued=queued, _served=served)
    return f


def _rejected(f: pl.DataFrame) -> pl.DataFrame:
    """Rows that cannot be a call, each with its first reason (PHANTOM records included)."""
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [
        (
            "missing call id",
            pl.col("call_id").is_null() | pl.col("vru_line").is_null(),
            pl.lit(""),
        ),
        ("unreadable date", pl.col("_date").is_null(), pl.col("date")),
        *[(f"unreadable {c}", pl.col(f"_{c}").is_null(), pl.col(c)) for c in (*_CLOCKS, *_DURS)],
        (
            "unknown outcome value",
            ~pl.col("_outcome").is_in(["AGENT", "HANG", "PHANTOM"]),
            pl.col("outcome"),
        ),
        ("missing type", pl.col("type").is_null(), pl.lit("")),
        ("phantom", pl.col("_outcome") == "PHANTOM", pl.lit("PHANTOM record: not a real call")),
        ("negative q_time", pl.col("_q_time") < 0, pl.col("q_time")),
        ("negative ser_time", pl.col("_ser_time") < 0, pl.col("ser_time")),
        (
            "inconsistent vru_time",
            (pl.col("_vru_exit") - pl.col("_vru_entry")) % _DAY != pl.col("_vru_time") % _DAY,
            pl.format("{} -> {} is not {} s", "vru_entry", "vru_exit", "vru_time"),
        ),
        (
            "inconsistent q_time",
            pl.col("_queued")
            & ((pl.col("_q_exit") - pl.col("_q_start")) % _DAY != pl.col("_q_time")),
            pl.format("{} -> {} is not {} s", "q_start", "q_exit", "q_time"),
        ),
        (
            "inconsistent ser_time",
            pl.col("_served")
            & ((pl.col("_ser_exit") - pl.col("_ser_start")) % _DAY != pl.col("_ser_time")),
            pl.format("{} -> {} is not {} s", "ser_start", "ser_exit", "ser_time"),
        ),
        (
            "answered without server or service",
            (pl.col("_outcome") == "AGENT") & ~pl.col("_served") & pl.col("_server").is_null(),
            pl.lit("AGENT with NO_SERVER and no service times"),
        ),
    ]
    reasons = pl.concat_list(
        [pl.when(flag.fill_null(True)).then(pl.lit(r)) for r, flag, _ in checks]
    ).list.drop_nulls()
    details = pl.concat_list(
        [pl.when(flag.fill_null(True)).then(d.cast(pl.String)) for _, flag, d in checks]
    ).list.drop_nulls()
    flagged = f.select(
        pl.col(ROW), reasons.list.first().alias("reason"), details.list.first().alias("detail")
    )
    return rejected_frame(flagged.filter(pl.col("reason").is_not_null()))


def _time_line(f: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Date each stage (exits carry no date) and give the stage starts the site time zone."""
    agent = pl.col("_outcome") == "AGENT"
    named = pl.col("_server").is_not_null()
    answered = agent | ((pl.col("_outcome") == "HANG") & pl.col("_served") & named)
    entry = pl.col("_date").cast(pl.Datetime("us")) + _secs(pl.col("_vru_entry"))
    f = f.with_columns(_entry=entry, _answered=answered)
    f = f.with_columns(_vexit=pl.col("_entry") + _secs(pl.col("_vru_time")))
    f = f.with_columns(_qstart=_nearest(pl.col("_q_start"), pl.col("_vexit")))
    f = f.with_columns(_qexit=pl.col("_qstart") + _secs(pl.col("_q_time")))
    ser_ref = pl.when(pl.col("_queued")).then(pl.col("_qexit")).otherwise(pl.col("_vexit"))
    f = f.with_columns(_sstart=_nearest(pl.col("_ser_start"), ser_ref))
    f = f.with_columns(_sexit=pl.col("_sstart") + _secs(pl.col("_ser_time")))
    # The clock times that start a stage get the site zone (DST rule of kpi.io._parse.localize);
    # each exit is that instant plus the recorded duration, so end - start = *_time always.
    for c, present in (("_entry", True), ("_qstart", "_queued"), ("_sstart", "_served")):
        aware, gap, fold = localize(pl.col(c), tz)
        mask = pl.lit(True) if present is True else pl.col(present)
        f = f.with_columns(
            aware.alias(f"{c}_z"), (gap & mask).alias(f"_gap{c}"), (fold & mask).alias(f"_fold{c}")
        )
    f = f.with_columns(
        _vexit_z=pl.col("_entry_z") + _secs(pl.col("_vru_time")),
        _qexit_z=pl.col("_qstart_z") + _secs(pl.col("_q_time")),
        _sexit_z=pl.col("_sstart_z") + _secs(pl.col("_ser_time")),
    )
    return f


def _canonical(f: pl.DataFrame) -> pl.DataFrame:
    """The canonical contact columns, the extras, and the flags :func:`_report` counts."""
    agent = pl.col("_outcome") == "AGENT"
    named = pl.col("_server").is_not_null()
    ans = pl.col("_answered")
    skew = pl.col("_vru_time") < 0
    answer_ts = (
        pl.when(ans)
        .then(
            pl.when(pl.col("_served"))
            .then(pl.col("_sstart_z"))
            .when(pl.col("_queued"))
            .then(pl.col("_qexit_z"))
            .otherwise(pl.col("_vexit_z"))
        )
        .alias("answer_ts")
    )
    f = f.with_columns(answer_ts)
    return f.with_columns(
        arrival_ts=pl.when(skew).then(pl.col("_vexit_z")).otherwise(pl.col("_entry_z")),
        queue_ts=pl.when(pl.col("_queued"))
        .then(pl.col("_qstart_z"))
        .when(ans)
        .then(pl.col("answer_ts")),
        end_ts=pl.when(ans)
        .then(pl.when(pl.col("_served")).then(pl.col("_sexit_z")).otherwise(pl.col("answer_ts")))
        .when(pl.col("_queued"))
        .then(pl.col("_qexit_z"))
        .otherwise(pl.col("_vexit_z")),
        ivr_s=pl.col("_vru_time").clip(lower_bound=0).cast(pl.Float64),
        wait_s=pl.when(pl.col("_queued"))
        .then(pl.col("_q_time").cast(pl.Float64))
        .when(ans)
        .then(pl.lit(0.0)),
        talk_s=pl.when(ans & pl.col("_served"))
        .then(pl.col("_ser_time").cast(pl.Float64))
        .otherwise(pl.lit(0.0)),
        outcome=pl.when(ans)
        .then(pl.lit("answered"))
        .when(pl.col("_queued"))
        .then(pl.lit("abandoned_queue"))
        .otherwise(pl.lit("abandoned_ivr")),
        agent_id=pl.when(ans).then(pl.col("_server")),
        contact_id=pl.format(
            "{}-{}-{}",
            pl.col("_date").dt.strftime("%Y%m%d"),
            pl.col("vru_line"),
            pl.col("call_id"),
        ),
        customer_id=pl.when(pl.col("customer_id").str.contains(r"^0+$").not_()).then(
            pl.col("customer_id")
        ),
        queue=pl.col("type"),
        topic=pl.col("type"),
        team=pl.when(pl.col("type") == "IN").then(pl.lit("internet")).otherwise(pl.lit("main")),
        site=pl.lit("bank"),
        channel=pl.lit("voice"),
        direction=pl.lit("inbound"),
        hold_s=pl.lit(0.0),
        acw_s=pl.lit(0.0),
        transferred=pl.lit(None, dtype=pl.Boolean),
        resolved=pl.lit(None, dtype=pl.Boolean),
        converted=pl.lit(None, dtype=pl.Boolean),
        revenue=pl.lit(None, dtype=pl.Float64),
        priority=_int("priority"),
        vru_line=pl.col("vru_line"),
        # flags for the report
        _fix_skew=skew,
        _fix_noserver=agent & pl.col("_served") & ~named,
        _fix_noservice=agent & ~pl.col("_served"),
        _fix_hangservice=(pl.col("_outcome") == "HANG") & pl.col("_served") & ~named,
        _hang_named=(pl.col("_outcome") == "HANG") & pl.col("_served") & named,
        _direct=ans & ~pl.col("_queued"),
        _zero_talk=agent & pl.col("_served") & (pl.col("_ser_time") == 0),
        _cross=pl.max_horizontal(
            pl.col("_vexit"),
            pl.when(pl.col("_queued")).then(pl.col("_qexit")),
            pl.when(pl.col("_served")).then(pl.col("_sexit")),
        ).dt.date()
        > pl.col("_date"),
        _unident=pl.col("customer_id").str.contains(r"^0+$"),
        _bad_priority=pl.col("priority").is_not_null() & _int("priority").is_null(),
    )


def _report(f: pl.DataFrame, report: ImportReport, tz: str) -> None:
    n = {
        c: int(f[c].sum() or 0)
        for c in f.columns
        if c.startswith("_") and f[c].dtype == pl.Boolean
    }
    report.repair(
        "negative vru_time (VRU clock ahead of the queue clock)",
        "ivr_s set to 0 and arrival_ts to vru_exit",
        n["_fix_skew"],
    )
    report.repair(
        "answered (AGENT) call with server NO_SERVER",
        "kept as answered, agent_id left null",
        n["_fix_noserver"],
    )
    report.repair(
        "answered (AGENT) call without service times (ser_start 0:00:00)",
        "answered at queue exit (or VRU exit when not queued), talk_s 0",
        n["_fix_noservice"],
    )
    report.repair(
        "hang-up (HANG) with a service stage but no server",
        "service stage dropped; counted as an abandon at queue exit",
        n["_fix_hangservice"],
    )
    report.repair(
        "hang-up (HANG) with a named server and a service stage",
        "counted as answered (an agent took the call)",
        n["_hang_named"],
    )
    report.repair(
        "unreadable priority",
        "priority left null",
        n["_bad_priority"],
    )
    dates = f["_date"].drop_nulls()
    inferred = report.inferred
    inferred["date format"] = "date YYMMDD (%y%m%d), times H:MM:SS; date is the VRU entry date"
    inferred["midnight crossings"] = (
        f"{n['_cross']:,} calls end after midnight of their date (exits dated as start + "
        "*_time; stage starts dated to the nearest day)"
    )
    inferred["0:00:00"] = (
        "a stage is absent when its start, exit and *_time are all 0, else 0:00:00 is midnight"
    )
    inferred["routed straight to an agent (no queue stage)"] = (
        f"{n['_direct']:,} answered calls: queue_ts = answer_ts, wait_s 0"
    )
    inferred["unidentified callers (customer_id 0)"] = f"{n['_unident']:,} -> customer_id null"
    inferred["answered with ser_time 0"] = f"{n['_zero_talk']:,} kept (talk_s 0)"
    gap_cols = [c for c in f.columns if c.startswith("_gap_")]
    fold_cols = [c for c in f.columns if c.startswith("_fold_")]
    gaps = f.select(pl.any_horizontal(pl.col(gap_cols).fill_null(False)).sum()).item()
    folds = f.select(pl.any_horizontal(pl.col(fold_cols).fill_null(False)).sum()).item()
    inferred["daylight-saving changes"] = (
        f"{gaps} call(s) with times in the spring-forward gap, read with the offset before the "
        f"change; {folds} call(s) with times in the repeated hour, read as the first occurrence "
        f"({tz})"
    )
    if dates.len():
        lo, hi = dates.min(), dates.max()
        inferred["dates covered"] = f"{lo} .. {hi}"
        months = dates.dt.strftime("%Y-%m").value_counts(sort=True)
        # days without calls in the main month (and any month with half as many calls)
        have = set(dates.unique().to_list())
        missing = []
        top = months[0, 1]
        for month, count in months.iter_rows():
            if count * 2 < top:
                continue
            first = datetime.strptime(month + "-01", "%Y-%m-%d").date()
            days = pl.date_range(first, first, "1d", eager=True).dt.month_end()[0]
            missing += [
                d for d in pl.date_range(first, days, "1d", eager=True).to_list() if d not in have
            ]
        inferred["missing days (no calls)"] = (
            [str(d) for d in sorted(missing)] if missing else "none"
        )
        if months.height > 1:
            main = months[0, 0]
            others = months.filter(pl.col(months.columns[0]) != main)
            report.warnings.append(
                f"{int(others['count'].sum()):,} call(s) dated outside {main}, the file's main "
                f"month ({', '.join(others[months.columns[0]].to_list())}): kept"
            )
    types = f["type"].value_counts(sort=True)
    unknown = types.filter(~pl.col("type").is_in(KNOWN_TYPES))
    if unknown.height:
        listed = ", ".join(f"{t} ({c:,})" for t, c in unknown.iter_rows())
        report.warnings.append(f"type codes not in FIELDS.md, kept as queue and topic: {listed}")
    report.assumed += [
        "hold_s = 0 and acw_s = 0 in handle time: the log has no hold or after-call work times (AHT = talk; average hold and after-call work are unknown)",
        "transferred, resolved, converted, revenue: not in the data (null)",
        "queue = topic = type code; team = 'internet' for IN, 'main' otherwise; site = 'bank'",
        "channel = voice, direction = inbound",
    ]
