"""Agent-state logs into agent_time: the time in each state, per agent and interval.

ACD and WFM systems export agent activity as a log, one row per state an agent was in
(``ann, On Call, 08:10:00, 08:25:00``). The ``agent_time`` table holds one row per agent and
interval with the seconds in each state. A mapping's ``[states]`` section names the state,
start and end (or duration) columns and says where each state's time goes
(``"On Call" = "handle_s"``); :func:`convert_states` splits every state at the interval
boundaries and sums it per agent and interval.

Accounting is by log row: ``read = loaded + quarantined`` counts state rows (a row is loaded
when its time is summed, even a zero-length one); the table written holds the intervals.
"""

from __future__ import annotations

import difflib

import polars as pl

from kpi.errors import KpiError
from kpi.io._columns import missing_column_error, resolve_columns
from kpi.io._convert import Staged, parse_columns, rejected_frame
from kpi.io._derive import fill_absent
from kpi.io._mapping import Mapping
from kpi.io._read import ROW, Source
from kpi.io._report import ImportReport

__all__ = ["convert_states"]

_STATE_COLUMNS = ("handle_s", "acw_s", "available_s", "break_s", "training_s", "meeting_s")
_STATE_COLUMNS += ("absence_s",)


def _source_column(source: Source, name: str, key: str) -> str:
    if name in source.columns:
        return name
    close = difflib.get_close_matches(name, source.columns, n=3, cutoff=0.5)
    raise KpiError(
        f"{source.path}: column {name!r} (set by {key}) is not in the file"
        + (f"; closest: {', '.join(repr(c) for c in close)}" if close else "")
    )


def _reject(frame: pl.DataFrame, reason: str, detail: pl.Expr) -> pl.DataFrame:
    return rejected_frame(frame.select(pl.col(ROW), pl.lit(reason).alias("reason"), detail))


def convert_states(source: Source, m: Mapping, *, tz: str, report: ImportReport) -> Staged:
    """Sum an agent-state log into ``agent_time`` rows (one per agent and interval).

    Parameters
    ----------
    source
        The log, from :func:`kpi.io.read_source`.
    m
        An ``agent_time`` mapping with a ``[states]`` section (``m.states``).
    tz
        Site time zone of naive times.
    report
        Filled with what was inferred and assumed.

    Returns
    -------
    Staged
        The intervals, the rejected log rows, and ``loaded``: the log rows summed.

    Examples
    --------
    >>> import polars as pl
    >>> from pathlib import Path
    >>> from kpi.io._mapping import load_mapping
    >>> frame = pl.DataFrame(
    ...     {
    ...         "Agent": ["ann", "ann"],
    ...         "State": ["Available", "On Call"],
    ...         "Start": ["2025-03-03 08:20:00", "2025-03-03 08:25:00"],
    ...         "End": ["2025-03-03 08:25:00", "2025-03-03 08:40:00"],
    ...         "__row": [2, 3],
    ...     }
    ... )
    >>> m = load_mapping(
    ...     {
    ...         "table": "agent_time",
    ...         "columns": {"agent_id": "Agent"},
    ...         "defaults": {"team": "A"},
    ...         "states": {
    ...             "state": "State",
    ...             "start": "Start",
    ...             "end": "End",
    ...             "seconds": {"Available": "available_s", "On Call": "handle_s"},
    ...         },
    ...     }
    ... )
    >>> report = ImportReport(input="log.csv", table="agent_time", timezone="UTC")
    >>> staged = convert_states(
    ...     Source(Path("log.csv"), frame, pl.DataFrame()), m, tz="UTC", report=report
    ... )
    >>> (
    ...     staged.loaded,
    ...     staged.frame.sort("interval_start")
    ...     .select(
    ...         pl.col("interval_start").dt.strftime("%H:%M"),
    ...         "available_s",
    ...         "handle_s",
    ...         "logged_in_s",
    ...     )
    ...     .rows(),
    ... )
    (2, [('08:00', 300.0, 300.0, 600.0), ('08:30', 0.0, 600.0, 600.0)])
    """
    st = m.states
    state_col = _source_column(source, st["state"], "states.state")
    resolved = resolve_columns(source, m, report)
    if "agent_id" not in resolved:
        raise missing_column_error(source, m, "agent_id")
    if "team" not in resolved and "team" not in m.defaults:
        raise missing_column_error(source, m, "team")
    start = _source_column(source, st["start"], "states.start")
    spec = {c: s for c, s in resolved.items() if c in ("agent_id", "team", "site")}
    spec["interval_start"] = [start]
    if "duration" in st:
        spec["interval_s"] = [_source_column(source, st["duration"], "states.duration")]
    parsed, rejected = parse_columns(source, m, spec, tz=tz, report=report)
    formats = report.inferred.get("time formats", {})
    if "interval_start" in formats:
        formats["state start"] = formats.pop("interval_start")
    rejected = rejected.with_columns(
        pl.col("reason")
        .str.replace("interval_start", "state start", literal=True)
        .str.replace("interval_s", "state duration", literal=True)
    )
    if "end" in st:
        end_col = _source_column(source, st["end"], "states.end")
        scratch = ImportReport(input=report.input, table=report.table, timezone=tz)
        ends, bad = parse_columns(source, m, {"interval_start": [end_col]}, tz=tz, report=scratch)
        if "interval_start" in scratch.inferred.get("time formats", {}):
            formats["state end"] = scratch.inferred["time formats"]["interval_start"]
        bad = bad.with_columns(pl.col("reason").str.replace("interval_start", "state end"))
        rejected = pl.concat([rejected, bad.join(rejected, on=ROW, how="anti")])
        parsed = parsed.join(
            ends.select(ROW, pl.col("interval_start").alias("__end")), on=ROW, how="left"
        )
    else:
        secs = (pl.col("interval_s") * 1e6).round(0).cast(pl.Int64)
        parsed = parsed.with_columns(
            (pl.col("interval_start") + pl.duration(microseconds=secs)).alias("__end")
        )
    parsed = parsed.join(rejected, on=ROW, how="anti")
    for col, value in m.defaults.items():
        if col in ("team", "site") and col not in parsed.columns:
            parsed = parsed.with_columns(pl.lit(str(value)).alias(col))
            report.assumed.append(f"{col} = {value!r} for every row (defaults.{col})")
    # each state's target column: exact words first, then ignoring case
    words = {str(k): v for k, v in st["seconds"].items()}
    lower = {k.lower(): v for k, v in words.items()}
    state = source.frame.select(pl.col(ROW), pl.col(state_col).cast(pl.String).str.strip_chars())
    state = state.with_columns(
        pl.coalesce(
            pl.col(state_col).replace_strict(words, default=None, return_dtype=pl.String),
            pl.col(state_col)
            .str.to_lowercase()
            .replace_strict(lower, default=None, return_dtype=pl.String),
        ).alias("__target"),
        pl.col(state_col).alias("__state"),
    )
    parsed = parsed.join(state.select(ROW, "__target", "__state"), on=ROW, how="left")
    checks = [
        ("missing agent_id", pl.col("agent_id").is_null(), pl.lit("no agent")),
        ("missing state start", pl.col("interval_start").is_null(), pl.lit("no start time")),
        ("missing state end", pl.col("__end").is_null(), pl.lit("no end time or duration")),
        (
            "unknown state value",
            pl.col("__target").is_null(),
            pl.format("'{}' = '{}': add it to [states.seconds]", pl.lit(state_col), "__state"),
        ),
        (
            "state ends before it starts",
            pl.col("__end") < pl.col("interval_start"),
            pl.format("{} to {}", "interval_start", "__end"),
        ),
    ]
    for reason, bad_row, detail in checks:
        hit = parsed.filter(bad_row.fill_null(False))
        if hit.height:
            rejected = pl.concat([rejected, _reject(hit, reason, detail.alias("detail"))])
            parsed = parsed.join(hit.select(ROW), on=ROW, how="anti")
    frame = _sum_intervals(parsed, st, words)
    every = st["interval_min"]
    report.inferred["agent-state log"] = (
        f"{parsed.height:,} state rows summed into {frame.height:,} agent intervals of "
        f"{every:g} min (a state across an interval boundary is split at it)"
    )
    seen = sorted(set(words.values()) - {"logged_in", "logged_out"})
    report.assumed.append(
        "logged_in_s = the time in every state not mapped to logged_out; "
        + ", ".join(seen)
        + " = the time in the states mapped to each (0 in an interval without them)"
    )
    over = frame.filter(pl.col("logged_in_s") > pl.col("interval_s") + 1e-6)
    if over.height:
        first = over.row(0, named=True)
        report.warnings.append(
            f"{over.height:,} agent intervals hold more state time than their length (states "
            f"that overlap in the log), e.g. {first['agent_id']} at {first['interval_start']}: "
            f"{first['logged_in_s']:g} s in {first['interval_s']:g} s"
        )
    frame = fill_absent(frame, "agent_time", tz, report)
    return Staged("agent_time", frame, rejected, {}, loaded=parsed.height)


def _sum_intervals(parsed: pl.DataFrame, st: dict, words: dict[str, str]) -> pl.DataFrame:
    """Split each state at interval boundaries and sum its seconds per agent and interval."""
    length = round(st["interval_min"] * 60)
    every = f"{length}s"
    # logged out is no agent time: such spans make no interval
    working = (pl.col("__end") > pl.col("interval_start")) & (pl.col("__target") != "logged_out")
    spans = parsed.filter(working).with_columns(
        pl.datetime_ranges(
            pl.col("interval_start").dt.truncate(every),
            pl.col("__end") - pl.duration(microseconds=1),
            interval=every,
        ).alias("__bin")
    )
    spans = spans.explode("__bin").with_columns(
        (
            pl.min_horizontal(pl.col("__end"), pl.col("__bin") + pl.duration(seconds=length))
            - pl.max_horizontal(pl.col("interval_start"), pl.col("__bin"))
        )
        .dt.total_microseconds()
        .cast(pl.Float64)
        .truediv(1e6)
        .alias("__secs")
    )
    targets = [t for t in _STATE_COLUMNS if t in set(words.values())]
    keys = [c for c in ("team", "site") if c in spans.columns]
    out = spans.group_by("agent_id", "__bin").agg(
        *[pl.col(k).first() for k in keys],
        *[pl.col("__secs").filter(pl.col("__target") == t).sum().alias(t) for t in targets],
        pl.col("__secs").sum().alias("logged_in_s"),
        pl.col(ROW).min(),
    )
    return (
        out.rename({"__bin": "interval_start"})
        .with_columns(pl.lit(float(length)).alias("interval_s"))
        .sort("agent_id", "interval_start")
    )
