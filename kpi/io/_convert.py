"""Converting a source file with a mapping: parse, reject bad rows, derive, check, deduplicate.

:func:`convert_mapped` turns a read :class:`~kpi.io._read.Source` into a canonical table with
a :class:`~kpi.io._mapping.Mapping`: each mapped column parsed once, naive times localised,
unparseable values rejected with their reason, defaults and fills applied, missing columns
derived (:mod:`kpi.io._derive`), row rules checked and duplicate keys set aside. The result is
:class:`Staged`: the rows loaded and the rows rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.io._columns import (
    ESSENTIAL,
    extra_columns,
    interval_threshold_columns,
    missing_column_error,
    resolve_columns,
)
from kpi.io._derive import (
    derivable,
    derive_contacts,
    derive_intervals,
    derive_other,
    derive_tickets,
    fill_absent,
)
from kpi.io._layout import refuse_state_log
from kpi.io._mapping import KEYS, Mapping
from kpi.io._numbers import (
    dashes_missing,
    decimal_mark,
    duration_units,
    elapsed_seconds,
    number_text,
    scored_text,
)
from kpi.io._parse import (
    DURATION_FORMATS,
    TIME_RANGE,
    detect_ts_formats,
    dst_note,
    localized,
    parse_bool,
    parse_duration,
    parse_int,
    parse_ts,
    range_seconds,
    range_start,
    sane_seconds,
    ts_text,
    within_years,
)
from kpi.io._read import ROW, Source
from kpi.io._report import ImportReport
from kpi.io._rules import TICKET_STATUSES, check_rows, check_scale
from kpi.io._words import DIRECTION_SYNONYMS, OUTCOME_WORDS, channel_expr, warn_channels
from kpi.schema import OUTCOMES, TABLES, TS

__all__ = [
    "Staged",
    "as_text",
    "check_scalar",
    "convert_mapped",
    "drop_duplicates",
    "parse_columns",
    "rejected_frame",
]

#: Outcome words understood without a value map (any case).
OUTCOME_SYNONYMS = {**{o: o for o in OUTCOMES}, **OUTCOME_WORDS}

#: Ticket status words understood without a value map (any case).
STATUS_SYNONYMS = {
    **{s: s for s in TICKET_STATUSES},
    "new": "open",
    "in progress": "open",
    "assigned": "open",
    "reopened": "open",
    "on hold": "pending",
    "on-hold": "pending",
    "waiting": "pending",
    "hold": "pending",
    "resolved": "solved",
    "done": "solved",
    "completed": "solved",
}


@dataclass
class Staged:
    """A converted table before writing: rows loaded and rows rejected (with reasons)."""

    table: str
    frame: pl.DataFrame
    rejected: pl.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    #: Source rows used, when rows are summed (an agent-state log): else the frame's rows.
    loaded: int | None = None


def rejected_frame(rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """An empty (or normalised) rejected-rows frame: ``__row``, ``reason``, ``detail``."""
    schema = {ROW: pl.Int64, "reason": pl.String, "detail": pl.String}
    if rows is None:
        return pl.DataFrame(schema=schema)
    return rows.select(
        pl.col(ROW).cast(pl.Int64), pl.col("reason"), pl.col("detail").cast(pl.String)
    )


# Essential columns per table: without them the table is useless, so a missing one is an error.
def convert_mapped(
    source: Source,
    m: Mapping,
    *,
    tz: str,
    report: ImportReport,
    threshold_s: float | None = None,
    short_abandon_s: float | None = None,
    interval_s: float | None = None,
) -> Staged:
    """Convert a read source file into a canonical table with a mapping.

    Parameters
    ----------
    source
        From :func:`kpi.io.read_source`.
    m
        The mapping (a preset's or the user's).
    tz
        Site time zone for naive times.
    report
        Filled with what was inferred, assumed, repaired and rejected (rejections are counted
        by the caller).
    threshold_s, short_abandon_s, interval_s
        Interval reports: the SL threshold and short-abandon threshold the report used, and the
        interval length when the file has no such column.

    Returns
    -------
    Staged
        The canonical table (plus extras and ``__row``) and the rejected rows with reasons.
    """
    resolved = resolve_columns(source, m, report)
    if report.preset and any(col in resolved for col in m.aliases):
        report.inferred["columns"] = {
            col: " + ".join(src) for col, src in resolved.items() if col not in m.columns
        }
    # interval thresholds carried in column names (answered_within_20s)
    if m.table == "intervals":
        resolved, threshold_s, short_abandon_s = interval_threshold_columns(
            source, resolved, m, report, threshold_s, short_abandon_s
        )
    present = set(resolved) | set(m.defaults) | set(m.after)
    can_derive = derivable(m.table, present)
    for col in ESSENTIAL[m.table]:
        if col not in present and col not in can_derive:
            raise missing_column_error(source, m, col)
    parsed, rejected = parse_columns(source, m, resolved, tz=tz, report=report)
    for col, after in m.after.items():
        resolved[col] = [after["add"]]
        report.assumed.append(
            f"{col} = {after['from']} + {after['add']!r} ({after['unit']}; [after])"
        )
    zoned = [c for c, f in report.inferred.get("time formats", {}).items() if "offset" in str(f)]
    if m.table in ("intervals", "agent_time") and "__gap_interval_start" in parsed.columns:
        # a bin whose local start the clocks skipped never happened: set it aside rather than
        # let it fall on the next hour's bin
        gap = parsed.filter(pl.col("__gap_interval_start"))
        if gap.height:
            rejected = pl.concat(
                [
                    rejected,
                    rejected_frame(
                        gap.select(
                            pl.col(ROW),
                            pl.lit("interval_start in a daylight-saving gap").alias("reason"),
                            pl.lit(
                                f"the local time does not exist in {tz} (clocks moved forward)"
                            ).alias("detail"),
                        )
                    ),
                ]
            )
            parsed = parsed.filter(~pl.col("__gap_interval_start"))
    staged, filled = _defaults_and_fills(
        parsed.select(pl.col(ROW), *resolved), m, resolved, tz, report
    )
    for col, per in m.averages.items():  # an average per contact times the contacts
        staged = staged.with_columns((pl.col(col) * pl.col(per)).alias(col))
        report.assumed.append(
            f"{col} = {resolved[col][0]!r} x {per} (the report gives an average per {per} "
            "contact; the total is rebuilt from it, as exact as the average is written)"
        )
    ranges = "interval ranges" in report.inferred and "interval_s" not in staged.columns
    if ranges and interval_s is None:
        staged = _range_lengths(source, resolved["interval_start"], staged, report)
    extras = extra_columns(source, m, resolved)
    used = {c for cols in resolved.values() for c in cols} | set(extras.values())
    unread = [c for c in source.columns if c not in used and c != ROW]
    if unread:  # a column the mapping (or preset) does not name: said, not silently dropped
        report.source["unused_columns"] = unread
        report.inferred["source columns not read (name them in a mapping to use them)"] = unread
    if extras:
        staged = staged.join(
            source.frame.select(
                pl.col(ROW), *[pl.col(src).alias(new) for new, src in extras.items()]
            ),
            on=ROW,
            how="left",
        )
    meta: dict[str, Any] = {}
    if m.table == "contacts":
        staged = derive_contacts(staged, present, report, source)
    elif m.table == "tickets":
        staged = derive_tickets(staged, present, report)
    elif m.table == "intervals":
        staged, meta = derive_intervals(
            staged, present, report, source, m, threshold_s, short_abandon_s, interval_s
        )
    else:
        staged, meta = derive_other(staged, m, report, source, interval_s)
    unknown = frozenset(c for c in TABLES[m.table].names if c not in staged.columns)
    staged = fill_absent(staged, m.table, tz, report)
    passed, failed = check_rows(m.table, staged, row=ROW, unknown=unknown)
    rejected = pl.concat([rejected, rejected_frame(failed)])
    if m.table == "surveys":
        passed, failed = check_scale(passed, row=ROW, scale_max=m.scale_max or 5)
        rejected = pl.concat([rejected, rejected_frame(failed)])
    passed, dups = drop_duplicates(passed, m.table)
    if m.table == "agent_time":
        refuse_state_log(source, resolved, dups.height)
    rejected = pl.concat([rejected, dups])
    for col, value in filled:  # counted on the rows loaded
        report.repair(f"null {col}", f"set to {value!r}", int(passed[f"__fill_{col}"].sum()))
        passed = passed.drop(f"__fill_{col}")
    if m.table in ("contacts", "intervals"):
        zone_sanity(passed, m, tz=tz, report=report, zoned=zoned)
    if m.table == "contacts":
        duration_units(passed, m, report)
    if m.table in ("contacts", "intervals"):
        warn_channels(passed, report)
    if m.table == "tickets":
        n_open = passed["solved_ts"].null_count()
        report.inferred["open tickets (no solve/close time, kept)"] = n_open
    return Staged(m.table, passed, rejected, meta)


#: Local hours (start) in which a contact centre's busiest hour is implausible.
NIGHT_HOURS = range(0, 7)
#: Local hours (start) in which a contact centre's busiest hour is ordinary.
DAY_HOURS = range(8, 21)


def _peak_hour(hours: pl.Series, weights: pl.Series) -> int:
    by_hour = pl.DataFrame({"h": hours, "w": weights}).group_by("h").agg(pl.col("w").sum())
    return int(by_hour.sort(["w", "h"], descending=[True, False])["h"][0])


def zone_sanity(
    frame: pl.DataFrame, m: Mapping, *, tz: str, report: ImportReport, zoned: list[str]
) -> None:
    """Warn when the arrival profile does not fit a contact centre's day in the site zone.

    The busiest hour of the day (contacts by arrival, interval reports by offered) is
    implausible before 07:00 local time; and for text stamped ``Z`` (or an offset), a peak
    outside 08:00-21:00 in the site zone while the clock as written peaks inside it says the
    text holds the site's local clock. The warning names the setting that fixes it (``--tz``,
    or ``assume_local = true`` in the mapping). Dates and daily bins (all at midnight) are not
    judged.
    """
    col = "arrival_ts" if m.table == "contacts" else "interval_start"
    if col not in frame.columns or frame.height < 50:
        return
    weight = pl.col("offered").fill_null(0) if m.table == "intervals" else pl.lit(1)
    stamps = frame.select(pl.col(col).alias("t"), weight.alias("w")).drop_nulls("t")
    if stamps.height == 0 or stamps["w"].sum() <= 0:
        return
    if (stamps["t"].dt.time() == time(0)).all():  # dates, or daily bins: no hours to judge
        return
    peak = _peak_hour(stamps["t"].dt.hour(), stamps["w"])
    written = None
    if zoned:
        written = _peak_hour(stamps["t"].dt.convert_time_zone("UTC").dt.hour(), stamps["w"])
    shifted = written is not None and peak not in DAY_HOURS and written in DAY_HOURS
    if peak not in NIGHT_HOURS and not shifted:
        return
    msg = (
        f"time zone: arrivals in {tz} peak at {peak:02d}:00-{peak + 1:02d}:00, implausible "
        "for a contact centre"
    )
    if zoned:
        msg += (
            f"; {', '.join(zoned)} is written with Z (UTC) or offsets: if the text holds the "
            f"site's local clock (it then peaks at {written:02d}:00), set assume_local = true "
            "in the mapping; else check --tz"
        )
    else:
        msg += (
            "; if the times are another zone's (UTC, a head office's), set --tz (or timezone "
            "in the mapping) to the zone the export was written in"
        )
    report.warnings.append(msg)


def parse_columns(
    source: Source,
    m: Mapping,
    resolved: dict[str, list[str]],
    *,
    tz: str,
    report: ImportReport,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse each mapped column once, localise naive times, set aside unparseable rows.

    Returns
    -------
    tuple of pl.DataFrame
        ``(parsed, rejected)``: the rows whose every mapped value parsed (``__row`` and the
        canonical columns, plus work columns) and the rejected rows with their reasons.
    """
    table = TABLES[m.table]
    frame = source.frame
    # stage 1: each mapped column parsed once (time stamps still naive where the source is)
    parse_exprs: list[pl.Expr] = []
    checks: list[tuple[str, str, int]] = []  # (reason, canonical column, raw index)
    labels: list[str] = []
    naive: list[str] = []
    mark = decimal_mark(source, m, resolved, report)
    for i, (col, srcs) in enumerate(resolved.items()):
        column = table.column(col)
        for src in srcs:
            check_scalar(source, src, f"columns.{col}")
        raw = _apply_value_map(_source_expr(frame, srcs), m.values.get(col), frame, srcs)
        if column.dtype in (pl.Int64, pl.Float64) and frame.select(raw).dtypes[0] == pl.String:
            raw = dashes_missing(frame, raw, col, report)
            raw = scored_text(frame, raw, m.table, col, report)
        labels.append(" + ".join(repr(s) for s in srcs))
        if column.dtype == TS:
            try:
                value, aware = _ts_expr(frame, raw, srcs, col, m, report, tz)
            except KpiError as exc:  # name the file: the message names column and fix
                text = str(exc)
                raise KpiError(
                    text if text.startswith(str(source.path)) else f"{source.path}: {text}"
                ) from None
            if aware:
                value = value.dt.convert_time_zone(tz).dt.cast_time_unit("us")
            else:
                naive.append(col)
        elif col == "outcome":
            value = _enum_expr(raw, OUTCOME_SYNONYMS)
        elif col == "status" and m.table == "tickets":
            value = _enum_expr(raw, STATUS_SYNONYMS)
        elif col == "direction":
            value = _enum_expr(raw, DIRECTION_SYNONYMS)
        elif col == "channel":
            value = channel_expr(raw)
        else:
            value = _typed_expr(raw, column, col, m, frame, mark)
        raw_text = as_text(raw, frame.select(raw).dtypes[0])
        parse_exprs += [raw_text.alias(f"__raw{i}"), value.alias(col)]
        if col == "outcome":
            reason = "unknown outcome value"
        elif col == "status" and m.table == "tickets":
            reason = "unknown status value"
        elif col == "direction":
            reason = "unknown direction value"
        elif column.dtype == TS and frame.select(raw).dtypes[0].is_temporal():
            reason = f"{col} outside 1900-2100"
        else:
            reason = f"unparseable {col}"
        checks.append((reason, col, i))
    for col, after in m.after.items():  # a time written as the time since another one
        i, src = len(labels), after["add"]
        check_scalar(source, src, f"after.{col}.add")
        raw = pl.col(src)
        dtype = frame.schema[src]
        if dtype == pl.String:
            raw = dashes_missing(frame, raw, col, report)
        labels.append(repr(src))
        parse_exprs += [
            as_text(raw, dtype).alias(f"__raw{i}"),
            elapsed_seconds(raw, dtype, after["unit"], mark).alias(f"__after_{col}"),
        ]
        checks.append((f"unparseable {col}", f"__after_{col}", i))
    parsed = frame.lazy().select(pl.col(ROW), *parse_exprs).collect()
    # stage 2: naive local times get the site time zone (DST rule in kpi.io._parse.localize)
    keys = [k for k in KEYS.get(m.table, ()) if k in parsed.columns]
    local = [
        e
        for col in naive
        for e in localized(col, tz, repeat_key=keys if col == "interval_start" else None)
    ]
    if local:
        parsed = parsed.with_columns(local)
    for col, after in m.after.items():
        micros = (pl.col(f"__after_{col}") * 1e6).round(0).cast(pl.Int64)
        parsed = parsed.with_columns(
            (pl.col(after["from"]) + pl.duration(microseconds=micros)).alias(col)
        )
    rejected = _unparseable(parsed, checks, labels)
    parsed = parsed.join(rejected.select(ROW), on=ROW, how="anti", maintain_order="left")
    for col in naive:
        note = dst_note(parsed, col)
        if note:
            report.inferred.setdefault("daylight-saving changes", {})[col] = note
    return parsed, rejected


def _unparseable(
    parsed: pl.DataFrame, checks: list[tuple[str, str, int]], labels: list[str]
) -> pl.DataFrame:
    """Rows with a source value that did not parse: the first reason, every value named."""
    if not checks:
        return rejected_frame()
    err = [pl.col(f"__raw{i}").is_not_null() & pl.col(c).is_null() for _, c, i in checks]
    reason_list = pl.concat_list(
        [pl.when(e).then(pl.lit(r)) for e, (r, _, _) in zip(err, checks, strict=True)]
    ).list.drop_nulls()
    detail_list = pl.concat_list(
        [
            pl.when(e).then(pl.format("{} = '{}'", pl.lit(labels[i]), pl.col(f"__raw{i}")))
            for e, (_, _, i) in zip(err, checks, strict=True)
        ]
    ).list.drop_nulls()
    bad = parsed.filter(
        pl.any_horizontal(err)
    ).select(  # reasons are spelled out for bad rows only
        pl.col(ROW),
        reason_list.list.first().alias("reason"),
        detail_list.list.join("; ").alias("detail"),
    )
    return rejected_frame(bad)


def _defaults_and_fills(
    staged: pl.DataFrame,
    m: Mapping,
    resolved: dict[str, list[str]],
    tz: str,
    report: ImportReport,
) -> tuple[pl.DataFrame, list[tuple[str, Any]]]:
    """Add ``defaults`` for unmapped columns and apply ``fill_null`` (flagged, counted later)."""
    table = TABLES[m.table]
    for col, value in m.defaults.items():
        if col not in resolved:
            staged = staged.with_columns(
                pl.lit(value, dtype=table.column(col).polars_dtype(tz)).alias(col)
            )
            report.assumed.append(
                f"{col} = {value!r} for every row (defaults.{col}; not in the source)"
            )
    filled = []
    for col, value in m.fill_null.items():
        if col in staged.columns and staged[col].null_count():
            staged = staged.with_columns(
                pl.col(col).is_null().alias(f"__fill_{col}"), pl.col(col).fill_null(value)
            )
            filled.append((col, value))
    return staged, filled


def check_scalar(source: Source, name: str, key: str) -> None:
    """Refuse source columns holding lists, structs, binary data or Python objects."""
    dtype = source.frame.schema[name]
    if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        raise KpiError(
            f"{source.path}: column {name!r} (used by {key}) holds {dtype} values, not single "
            "values; flatten it before importing"
        )


def _source_expr(frame: pl.DataFrame, srcs: list[str]) -> pl.Expr:
    """The value of one source column, or of several joined (a date and a time column).

    A date cell (or a stored date) and a time cell (a ``Duration``: time of day) are added;
    otherwise each part is written as text (dates ``YYYY-MM-DD``, times ``HH:MM:SS``) and the
    parts are joined with a space, to be read with the column's time format.
    """
    if len(srcs) == 1:
        return pl.col(srcs[0])
    schema = frame.schema
    kinds = [schema[s] for s in srcs]
    dated = [isinstance(k, (pl.Datetime, pl.Date)) for k in kinds]
    timed = [isinstance(k, pl.Duration) for k in kinds]
    if len(srcs) == 2 and dated[0] and timed[1]:
        return pl.col(srcs[0]).cast(pl.Datetime("us")) + pl.col(srcs[1])
    return pl.concat_str(
        [as_text(pl.col(s), k) for s, k in zip(srcs, kinds, strict=True)], separator=" "
    )


def as_text(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A part of a joined time stamp as text: dates ISO, times of day ``HH:MM:SS``."""
    if isinstance(dtype, pl.Date):
        return e.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):  # a date cell (midnight) is a date, as in a text export
        midnight = e.dt.time() == pl.lit(time(0))
        return (
            pl.when(midnight)
            .then(e.dt.strftime("%Y-%m-%d"))
            .otherwise(e.dt.strftime("%Y-%m-%d %H:%M:%S"))
        )
    if isinstance(dtype, pl.Duration):  # h:mm:ss, hours beyond 24 kept (a duration cell)
        secs = e.dt.total_seconds()
        return pl.format(
            "{}:{}:{}",
            (secs // 3600).cast(pl.String).str.zfill(2),
            (secs % 3600 // 60).cast(pl.String).str.zfill(2),
            (secs % 60).cast(pl.String).str.zfill(2),
        )
    return e.cast(pl.String).str.strip_chars()


def _apply_value_map(
    raw: pl.Expr, vmap: dict[str, Any] | None, frame: pl.DataFrame, srcs: list[str]
) -> pl.Expr:
    if not vmap:
        return raw
    text = raw.cast(pl.String).str.strip_chars()
    as_text = {k: _const_text(v) for k, v in vmap.items()}
    lower = {k.lower(): v for k, v in as_text.items()}
    exact = text.replace_strict(as_text, default=None, return_dtype=pl.String)
    loose = text.str.to_lowercase().replace_strict(lower, default=None, return_dtype=pl.String)
    return pl.coalesce(exact, loose, text)


def _const_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _enum_expr(raw: pl.Expr, synonyms: dict[str, str]) -> pl.Expr:
    text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
    valid = {**synonyms}
    return text.replace_strict(valid, default=None, return_dtype=pl.String)


def _ts_expr(
    frame: pl.DataFrame,
    raw: pl.Expr,
    srcs: list[str],
    col: str,
    m: Mapping,
    report: ImportReport,
    tz: str,
) -> tuple[pl.Expr, bool]:
    """(expression, is_aware) for a time-stamp column."""
    what = f"column {' + '.join(repr(s) for s in srcs)} ({col})"
    key = f"formats.{col}"
    dtype = frame.select(raw).dtypes[0]
    fmt = m.formats.get(col)
    formats_used = report.inferred.setdefault("time formats", {})
    # stored times get the plausibility check of text (years 1900-2100): a year 9999 or 1677
    # is a placeholder or an overflow, quarantined rather than loaded (or read in local mean time)
    if isinstance(dtype, pl.Datetime):
        formats_used[col] = "stored as date-time" + (
            f" ({dtype.time_zone})" if dtype.time_zone else ""
        )
        if dtype.time_zone:
            return within_years(raw), True
        return within_years(raw.dt.cast_time_unit("us")), False
    if dtype == pl.Date:
        formats_used[col] = "dates without times: midnight of the site time zone"
        return within_years(raw.cast(pl.Datetime("us"))), False
    if isinstance(dtype, pl.Duration):
        raise KpiError(
            f"{what} holds times of day without a date (Excel time cells); map the date "
            f'column with it: columns.{col} = ["<date column>", "{srcs[-1]}"]'
        )
    num = raw.cast(pl.Float64, strict=False) if not dtype.is_numeric() else raw.cast(pl.Float64)
    # milliseconds are Excel's precision: 09:12:58 is stored as 0.38400462962...
    ms = pl.when((num >= 1) & (num < 2958466)).then((num * 86_400_000).round(0)).cast(pl.Int64)
    serial = pl.lit(datetime(1899, 12, 30), dtype=pl.Datetime("us")) + pl.duration(milliseconds=ms)
    if fmt == "excel_serial" or (fmt is None and _excel_serials(frame, raw, dtype)):
        formats_used[col] = "Excel serial day numbers (days since 1899-12-30)" + (
            "" if fmt else f' (detected; set {key} = "excel_serial" to say so)'
        )
        return within_years(serial), False
    if isinstance(fmt, list) and "excel_serial" in fmt:  # serial numbers beside text dates
        rest = [f for f in fmt if f != "excel_serial"]
        if any("%z" in f or "%#z" in f for f in rest):  # serials are local: no offsets beside
            raise KpiError(f"{key}: excel_serial goes with local-time formats only, not %z")
        formats_used[col] = " or ".join([*rest, "Excel serial day numbers"])
        text = raw.cast(pl.String).str.strip_chars()
        parsed = parse_ts(text, tuple(rest)) if rest else serial
        return within_years(pl.coalesce(parsed, serial)), False
    if fmt in ("epoch_s", "epoch_ms"):
        unit = "s" if fmt == "epoch_s" else "ms"
        formats_used[col] = f"Unix time ({unit})"
        factor = 1_000_000 if unit == "s" else 1_000
        micros = pl.when(num.abs() < 4e9).then(num * factor).cast(pl.Int64, strict=False)
        return within_years(micros.cast(pl.Datetime("us", "UTC"))), True
    if dtype.is_numeric():
        raise KpiError(
            f'{what} holds numbers, not times; if they are Unix times set {key} = "epoch_s" '
            '(or "epoch_ms"), if Excel serial day numbers "excel_serial"'
        )
    text = raw.cast(pl.String).str.strip_chars()
    if (fmt is None or fmt == "auto") and _needs_ts_text(frame, text):
        text = ts_text(text)  # a weekday, "date, time", a zone abbreviation
    if col == "interval_start" and _is_range(frame, text):
        # "08:00-08:15": the interval's start, its length from the range (if not mapped)
        text = range_start(text)
        report.inferred["interval ranges"] = (
            f"{what} holds time ranges (e.g. {frame.select(raw).to_series().drop_nulls()[0]!r}):"
            " the start is interval_start, the range its length"
        )
    if fmt is None or fmt == "auto":
        values = frame.select(text.alias("v"))["v"]
        family, fmts, aware = detect_ts_formats(values, what=what, key=key)
        formats_used[col] = family
    else:
        fmts = tuple(fmt) if isinstance(fmt, list) else (fmt,)
        aware = any("%z" in f or "%#z" in f for f in fmts)
        formats_used[col] = " or ".join(fmts)
    if aware and m.assume_local:
        # the text says Z (or an offset) but holds the site's clock: read it as local time
        formats_used[col] += " (offset ignored: assume_local = true)"
        bare = text.str.replace(r"(?:Z|[+-]\d\d:?\d\d)$", "")
        local = tuple(dict.fromkeys(f.replace("%#z", "").replace("%z", "") for f in fmts))
        return parse_ts(bare, local), False
    if aware:
        return parse_ts(text, fmts), True
    return parse_ts(text, fmts), False


def _needs_ts_text(frame: pl.DataFrame, text: pl.Expr) -> bool:
    """Whether any value has a weekday, a comma or a trailing zone word (one cheap pass)."""
    hint = r"(?i)^[a-z]{3}|,|\s[a-z]{3,4}$"
    return bool(frame.select(text.str.contains(hint).any()).item())


def _is_range(frame: pl.DataFrame, text: pl.Expr) -> bool:
    """Most values are ranges (a stray value is then quarantined, not read as a start)."""
    values = frame.select(text.alias("v"))["v"].drop_nulls()
    return values.len() > 0 and values.str.contains(TIME_RANGE).mean() > 0.5


def _range_lengths(
    source: Source, srcs: list[str], staged: pl.DataFrame, report: ImportReport
) -> pl.DataFrame:
    """``interval_s`` from the time ranges ``interval_start`` was read from."""
    frame = source.frame
    text = _source_expr(frame, srcs).cast(pl.String).str.strip_chars()
    lengths = frame.select(pl.col(ROW), range_seconds(text).alias("interval_s"))
    found = sorted(set(lengths["interval_s"].drop_nulls().to_list()))
    report.assumed.append(
        "interval_s = " + " or ".join(f"{v:g}" for v in found) + " (the length of each range)"
    )
    return staged.join(lengths, on=ROW, how="left")


def _excel_serials(frame: pl.DataFrame, raw: pl.Expr, dtype: pl.DataType) -> bool:
    """Whether a column holds Excel serial day numbers only: plain numbers between 18264
    (1950-01-01) and 73050 (2099-12-31), as a date cell formatted General is exported."""
    if dtype.is_numeric():
        num = raw.cast(pl.Float64)
    elif dtype == pl.String:
        text = raw.str.strip_chars()
        num = pl.when(text.str.contains(r"^\d{5}(?:\.\d+)?$")).then(
            text.cast(pl.Float64, strict=False)
        )
        values = frame.select(text.alias("t"), num.alias("n")).drop_nulls("t")
        if values.height == 0 or values["n"].null_count():
            return False
        return bool(values["n"].is_between(18264, 73051).all())
    else:
        return False
    values = frame.select(num.alias("n")).drop_nulls()
    return values.height > 0 and bool(values["n"].is_between(18264, 73051).all())


def _needs_number_text(frame: pl.DataFrame, raw: pl.Expr, mark: str) -> bool:
    """Whether any value has a blank, a currency sign, an apostrophe or the file's other mark."""
    marks = r"[\s\u00a0\u202f'’$€£¥,.]" if mark == "," else r"[\s\u00a0\u202f'’$€£¥,]"
    return bool(frame.select(raw.str.contains(marks).any()).item())


def _typed_expr(
    raw: pl.Expr, column: Any, col: str, m: Mapping, frame: pl.DataFrame, mark: str
) -> pl.Expr:
    dtype = frame.select(raw).dtypes[0]
    target = column.dtype
    if (
        dtype == pl.String
        and target in (pl.Int64, pl.Float64)
        and _needs_number_text(frame, raw, mark)
    ):
        raw = number_text(raw, mark)
    if target == pl.String:
        if dtype == pl.String:
            return raw.str.strip_chars().replace("", None)
        if dtype.is_float():
            return (
                pl.when(raw == raw.round(0))
                .then(raw.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(raw.cast(pl.String))
            )
        return raw.cast(pl.String, strict=False)
    if target == pl.Boolean:
        if dtype == pl.Boolean:
            return raw
        if dtype.is_numeric():
            return raw != 0
        return parse_bool(raw.cast(pl.String))
    if target == pl.Int64:
        if dtype.is_integer():
            return raw.cast(pl.Int64)
        if dtype.is_float():
            return pl.when(raw == raw.round(0)).then(raw.cast(pl.Int64, strict=False))
        return parse_int(raw.cast(pl.String))
    if target == pl.Float64 and column.unit == "s":
        fmt = str(m.formats.get(col, "auto"))
        unit = DURATION_FORMATS[fmt][0]
        if isinstance(dtype, pl.Duration):
            # rounded to the microsecond: x / 1e6 may be computed as x * 1e-6 (86.39999...)
            return sane_seconds((raw.dt.total_microseconds().cast(pl.Float64) / 1e6).round(6))
        if dtype == pl.Time:
            return (raw.cast(pl.Int64) / 1e9).cast(pl.Float64)
        if dtype.is_numeric():
            return sane_seconds(raw.cast(pl.Float64) * unit)
        return parse_duration(raw.cast(pl.String), fmt)
    if target == pl.Float64:
        if dtype.is_numeric():
            return raw.cast(pl.Float64)
        s = raw.cast(pl.String).str.strip_chars()
        return pl.when(s.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")).then(
            s.cast(pl.Float64, strict=False)
        )
    return raw.cast(target, strict=False)


def drop_duplicates(frame: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep one row per key: the one with the most non-null values, the first in the file on ties.

    Returns
    -------
    tuple of pl.DataFrame
        ``(kept, rejected)``; rejected rows have reason ``duplicate <key>`` and a detail naming
        the kept row.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {"__row": [2, 3, 4], "ticket_id": ["a", "a", "b"], "team": [None, "x", "y"]}
    ... )
    >>> kept, dup = drop_duplicates(df, "tickets")
    >>> kept["__row"].to_list(), dup.rows()
    ([3, 4], [(2, 'duplicate ticket_id', 'same ticket_id as row 3 (kept: more complete)')])
    """
    key = list(KEYS[table])
    key = [k for k in key if k in frame.columns]
    if not key or frame.height == 0:
        return frame, rejected_frame()
    canon = [c for c in frame.columns if c != ROW]
    dup_mask = frame.select(pl.struct(key).is_duplicated()).to_series()
    if not dup_mask.any():
        return frame, rejected_frame()
    score = pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in canon])
    ranked = frame.with_columns(score.alias("__score")).sort(
        ["__score", ROW], descending=[True, False]
    )
    kept_keys = ranked.unique(subset=key, keep="first", maintain_order=True)
    kept = frame.join(kept_keys.select(ROW), on=ROW, how="semi", maintain_order="left")
    dups = frame.join(kept_keys.select(ROW), on=ROW, how="anti", maintain_order="left")
    label = " + ".join(key)
    rej = (
        dups.select(ROW, *key)
        .join(
            kept_keys.select(*key, ROW, "__score").rename({ROW: "__kept", "__score": "__kscore"}),
            on=key,
            how="left",
            nulls_equal=True,
        )
        .join(ranked.select(ROW, "__score"), on=ROW, how="left")
    )
    rej = rej.select(
        pl.col(ROW),
        pl.lit(f"duplicate {label}").alias("reason"),
        pl.format(
            "same {} as row {} (kept: {})",
            pl.lit(label),
            pl.col("__kept"),
            pl.when(pl.col("__kscore") > pl.col("__score"))
            .then(pl.lit("more complete"))
            .otherwise(pl.lit("first in the file")),
        ).alias("detail"),
    ).sort(ROW)
    return kept, rejected_frame(rej)
