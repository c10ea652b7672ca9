"""Deriving what a source lacks: columns computed from others, defaults stated in the report.

Each function adds the canonical columns its table needs and the source does not give
(``wait_s`` from answer time minus queue entry, ``status`` from close and solve times, the
interval length from the spacing of interval starts ...), and writes every such assumption
into the :class:`~kpi.io._report.ImportReport`.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.io._columns import missing_column_error
from kpi.io._mapping import Mapping
from kpi.io._read import ROW, Source
from kpi.io._report import ImportReport
from kpi.schema import TABLES

__all__ = [
    "derivable",
    "derive_contacts",
    "derive_intervals",
    "derive_other",
    "derive_tickets",
    "fill_absent",
]


def derivable(table: str, present: set[str]) -> set[str]:
    """Canonical columns of ``table`` that can be derived from the ``present`` ones."""
    out: set[str] = set()
    if table == "contacts":
        if present & {"answer_ts", "talk_s", "agent_id"}:
            out.add("outcome")
        if "answer_ts" in present or "wait_s" in present:
            out.add("wait_s")
        if "contact_id" not in present:
            out.add("contact_id")
    elif table == "tickets":
        out.add("status")
    elif table in ("intervals", "agent_time"):
        out.add("interval_s")
    elif table == "qa_evaluations":
        out.add("evaluation_id")
    return out


def _seconds(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Seconds from b to a."""
    return (a - b).dt.total_microseconds().cast(pl.Float64) / 1e6


def derive_contacts(
    df: pl.DataFrame, present: set[str], report: ImportReport, source: Source
) -> pl.DataFrame:
    """Add the contact columns the source lacks, in dependency order, each stated in ``report``."""
    cols = set(df.columns)  # grows as columns are derived
    df = _contact_id(df, cols, report, source)
    df = _outcome(df, cols, report, source)
    df = _queue_entry(df, cols, report)
    df = _wait_and_answer(df, cols, report, source)
    df = _handling_and_end(df, cols, report, source)
    if "direction" not in cols and "outcome" in cols:
        # an outbound outcome says the direction
        out = df.filter(pl.col("outcome") == "outbound").height
        df = df.with_columns(
            pl.when(pl.col("outcome") == "outbound")
            .then(pl.lit("outbound"))
            .otherwise(pl.lit("inbound"))
            .alias("direction")
        )
        cols.add("direction")
        report.assumed.append(
            "direction = 'inbound' (not in the source)"
            + (f"; 'outbound' for the {out:,} contacts with outcome outbound" if out else "")
        )
    for c, v in (("channel", "voice"), ("direction", "inbound")):
        if c not in cols:
            df = df.with_columns(pl.lit(v).alias(c))
            report.assumed.append(f"{c} = {v!r} (not in the source)")
    return _outbound_outcome(df, report)


def _outbound_outcome(df: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
    """An outbound contact's outcome is ``outbound``: the KPIs tell inbound from outbound by
    the outcome, so an outbound call exported as "answered" would count as offered inbound."""
    if "outcome" not in df.columns or "direction" not in df.columns:
        return df
    wrong = (pl.col("direction") == "outbound") & (pl.col("outcome") != "outbound")
    n = int(df.select(wrong.fill_null(False).sum()).item() or 0)
    if n:
        df = df.with_columns(
            pl.when(wrong.fill_null(False))
            .then(pl.lit("outbound"))
            .otherwise(pl.col("outcome"))
            .alias("outcome")
        )
        report.repair(
            "outcome of outbound contacts",
            "set to 'outbound' (an outbound contact is never offered, answered or abandoned "
            "in a queue; the KPIs count it as handled outbound)",
            n,
        )
    back = (pl.col("outcome") == "outbound") & (pl.col("direction") != "outbound")
    n = int(df.select(back.fill_null(False).sum()).item() or 0)
    if n:
        df = df.with_columns(
            pl.when(back.fill_null(False))
            .then(pl.lit("outbound"))
            .otherwise(pl.col("direction"))
            .alias("direction")
        )
        report.repair("direction of contacts with outcome outbound", "set to 'outbound'", n)
    return df


def _contact_id(
    df: pl.DataFrame, cols: set[str], report: ImportReport, source: Source
) -> pl.DataFrame:
    """``contact_id`` = file name + row when the source has no id."""
    if "contact_id" not in cols:
        stem = source.path.stem
        df = df.with_columns(pl.format("{}-{}", pl.lit(stem), pl.col(ROW)).alias("contact_id"))
        report.assumed.append(
            f"contact_id = '<file name>-<row>' (e.g. '{stem}-2'): the source has no contact id"
        )
        cols.add("contact_id")
    return df


def _outcome(
    df: pl.DataFrame, cols: set[str], report: ImportReport, source: Source
) -> pl.DataFrame:
    """``outcome`` from an answer time, talk time or agent when the source has none."""
    if "outcome" not in cols:
        if "answer_ts" in cols:
            answered = pl.col("answer_ts").is_not_null()
            basis = "answer_ts present"
        elif "talk_s" in cols:
            answered = pl.col("talk_s").fill_null(0) > 0
            basis = "talk_s > 0"
        elif "agent_id" in cols:
            answered = pl.col("agent_id").is_not_null()
            basis = "agent_id present"
        else:
            raise KpiError(
                f"{source.path}: no outcome column and nothing to infer it from (answer time, "
                "talk time or agent); set columns.outcome and a [values.outcome] map"
            )
        df = df.with_columns(
            pl.when(answered)
            .then(pl.lit("answered"))
            .otherwise(pl.lit("abandoned_queue"))
            .alias("outcome")
        )
        report.assumed.append(
            f"outcome = answered when {basis}, else abandoned_queue (the source has no outcome)"
        )
        cols.add("outcome")
    return df


def _queue_entry(df: pl.DataFrame, cols: set[str], report: ImportReport) -> pl.DataFrame:
    """``ivr_s`` (queue entry - arrival, else 0) and ``queue_ts`` (arrival + IVR time)."""
    queued = pl.col("outcome").is_in(["answered", "abandoned_queue", "flowout"])
    if "ivr_s" not in cols:
        if "queue_ts" in cols:
            df = df.with_columns(
                _seconds(pl.col("queue_ts"), pl.col("arrival_ts"))
                .clip(lower_bound=0)
                .alias("ivr_s")
            )
            report.assumed.append("ivr_s = queue_ts - arrival_ts (no IVR time column)")
        else:
            df = df.with_columns(pl.lit(0.0).alias("ivr_s"))
            report.assumed.append("ivr_s = 0 (no IVR time in the source; arrival = queue entry)")
        cols.add("ivr_s")
    if "queue_ts" not in cols:
        df = df.with_columns(
            pl.when(queued)
            .then(
                pl.col("arrival_ts")
                + pl.duration(microseconds=(pl.col("ivr_s").fill_null(0) * 1e6).cast(pl.Int64))
            )
            .alias("queue_ts")
        )
        report.assumed.append("queue_ts = arrival_ts + ivr_s for contacts that reached a queue")
        cols.add("queue_ts")
    return df


def _wait_and_answer(
    df: pl.DataFrame, cols: set[str], report: ImportReport, source: Source
) -> pl.DataFrame:
    """``wait_s`` from answer (or end) time - queue entry; ``answer_ts`` = entry + wait."""
    answered = pl.col("outcome") == "answered"
    if "wait_s" not in cols and "answer_ts" not in cols:
        report.warnings.append(
            "no wait time and no answer time in the source: wait_s and answer_ts are unknown "
            "(left null), so ASA, service level and waits are null; map columns.wait_s or "
            "columns.answer_ts to compute them"
        )
        return df
    if "wait_s" not in cols:
        wait_end = pl.when(answered).then(pl.col("answer_ts"))
        if "end_ts" in cols:
            wait_end = wait_end.when(pl.col("outcome").is_in(["abandoned_queue", "flowout"])).then(
                pl.col("end_ts")
            )
        df = df.with_columns(_seconds(wait_end, pl.col("queue_ts")).alias("wait_s"))
        report.assumed.append("wait_s = answer_ts (or end_ts if not answered) - queue_ts")
        cols.add("wait_s")
    if "answer_ts" not in cols:
        df = df.with_columns(
            pl.when(answered)
            .then(
                pl.col("queue_ts")
                + pl.duration(microseconds=(pl.col("wait_s") * 1e6).cast(pl.Int64))
            )
            .alias("answer_ts")
        )
        report.assumed.append("answer_ts = queue_ts + wait_s for answered contacts")
        cols.add("answer_ts")
    return df


def _handling_and_end(
    df: pl.DataFrame, cols: set[str], report: ImportReport, source: Source
) -> pl.DataFrame:
    """``hold_s`` and ``acw_s`` (0), ``talk_s`` from the end time, ``end_ts`` from the parts."""
    answered = pl.col("outcome") == "answered"
    unknown = [c for c in ("hold_s", "acw_s") if c not in cols]
    if unknown:
        report.warnings.append(
            " and ".join(unknown)
            + " not in the source: left null (unknown), so AHT is null; if the system has none, "
            + " and ".join(f"defaults.{c} = 0" for c in unknown)
            + " in the mapping says so"
        )
    hold = pl.col("hold_s").fill_null(0) if "hold_s" in cols else pl.lit(0.0)
    if "talk_s" not in cols:
        if "end_ts" not in cols or "answer_ts" not in cols:
            report.warnings.append(
                "no talk time and no end time in the source: talk_s is unknown (left null), so "
                "AHT and talk time are null; map columns.talk_s or columns.end_ts"
            )
        else:
            df = df.with_columns(
                pl.when(answered)
                .then((_seconds(pl.col("end_ts"), pl.col("answer_ts")) - hold).clip(lower_bound=0))
                .otherwise(0.0)
                .alias("talk_s")
            )
            report.assumed.append("talk_s = end_ts - answer_ts - hold_s for answered contacts")
            cols.add("talk_s")
    else:
        n = df.filter(~answered & pl.col("talk_s").is_null()).height
        df = df.with_columns(
            pl.when(~answered).then(pl.col("talk_s").fill_null(0.0)).otherwise(pl.col("talk_s"))
        )
        if n:
            report.inferred["talk_s of unanswered contacts"] = f"{n} empty values read as 0"
    handled = df.filter(answered | (pl.col("outcome") == "outbound"))
    for c in ("talk_s", "hold_s", "acw_s"):  # blank on some handled contacts only: say how read
        n = handled.select(pl.col(c).is_null().sum()).item() if c in cols else 0
        if 0 < n < handled.height:
            report.warnings.append(
                f"{c} blank on {n:,} of {handled.height:,} handled contacts: sums and averages "
                f"(AHT, average {c[:-2]}) count them as 0 s; if they are unknown rather than none, "
                "fix the export or leave the column out"
            )
    if "end_ts" not in cols:
        us = lambda e: pl.duration(microseconds=(e * 1e6).cast(pl.Int64))  # noqa: E731
        talk = pl.col("talk_s") if "talk_s" in cols else pl.lit(None, dtype=pl.Float64)
        never = pl.when(pl.lit(False)).then(pl.col("arrival_ts"))  # a null time stamp
        answer = pl.col("answer_ts") if "answer_ts" in cols else never
        wait = pl.col("wait_s") if "wait_s" in cols else pl.lit(None, dtype=pl.Float64)
        df = df.with_columns(
            pl.when(answered)
            .then(answer + us(talk + hold))
            .when(pl.col("outcome").is_in(["abandoned_queue", "flowout"]))
            .then(pl.col("queue_ts") + us(wait))
            .otherwise(pl.col("arrival_ts") + us(pl.col("ivr_s").fill_null(0)))
            .alias("end_ts")
        )
        report.assumed.append(
            "end_ts = answer + talk + hold (answered), queue entry + wait (abandoned)"
            + ("" if {"talk_s", "wait_s"} <= cols else "; null where those are unknown")
        )
    return df


def derive_tickets(df: pl.DataFrame, present: set[str], report: ImportReport) -> pl.DataFrame:
    """Add ``solved_ts`` (from ``closed_ts``) and ``status`` (from the times) where absent."""
    cols = set(df.columns)
    if "solved_ts" not in cols and "closed_ts" in cols:
        df = df.with_columns(pl.col("closed_ts").alias("solved_ts"))
        report.assumed.append("solved_ts = closed_ts (the source has only a close time)")
    if "status" not in cols:
        solved = pl.col("solved_ts").is_not_null() if "solved_ts" in df.columns else pl.lit(False)
        closed = pl.col("closed_ts").is_not_null() if "closed_ts" in df.columns else pl.lit(False)
        df = df.with_columns(
            pl.when(closed)
            .then(pl.lit("closed"))
            .when(solved)
            .then(pl.lit("solved"))
            .otherwise(pl.lit("open"))
            .alias("status")
        )
        report.assumed.append("status = closed / solved / open from the close and solve times")
    return df


def derive_intervals(
    df: pl.DataFrame,
    present: set[str],
    report: ImportReport,
    source: Source,
    m: Mapping,
    threshold_s: float | None,
    short_abandon_s: float | None,
    interval_s: float | None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    meta: dict[str, Any] = {}
    if "interval_s" not in df.columns:
        if interval_s is None:
            df = df.join(_spacing_by_queue(df, source, m, report), on="queue", how="left")
        else:
            report.assumed.append(f"interval_s = {interval_s:g} (given)")
            _check_given(df, interval_s, report, key="queue")
            df = df.with_columns(pl.lit(float(interval_s)).alias("interval_s"))
    if "answered_within_threshold" in df.columns:
        meta["interval_threshold_s"] = threshold_s
    else:
        report.warnings.append(
            "no answered-within-threshold column: service level cannot be computed from this report"
        )
    if short_abandon_s is not None:
        meta["interval_short_abandon_s"] = short_abandon_s
    flow = pl.col("flowout").fill_null(0) if "flowout" in df.columns else pl.lit(0)
    if {"answered", "abandoned"} <= set(df.columns):
        over = df.filter(
            pl.col("answered") + pl.col("abandoned") + flow > pl.col("offered")
        ).height
        if over:
            report.warnings.append(
                f"{over} interval(s) with answered + abandoned (+ flow-out) above offered: the "
                "report counts these differently (kept as given)"
            )
    absent = [
        c
        for c in (
            "answered",
            "abandoned",
            "wait_answered_s",
            "talk_s",
            "hold_s",
            "acw_s",
            "staffed_s",
        )
        if c not in df.columns
    ]
    if absent:
        report.warnings.append(
            "not in the report: " + ", ".join(absent) + " (left null: the KPIs needing them are "
            "null, never 0)"
        )
    return df, meta


def derive_other(
    df: pl.DataFrame,
    m: Mapping,
    report: ImportReport,
    source: Source,
    interval_s: float | None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Surveys, QA evaluations and agent time: ids, interval lengths, the survey scale."""
    meta: dict[str, Any] = {}
    if m.table == "qa_evaluations" and "evaluation_id" not in df.columns:
        stem = source.path.stem
        df = df.with_columns(pl.format("{}-{}", pl.lit(stem), pl.col(ROW)).alias("evaluation_id"))
        report.assumed.append(f"evaluation_id = '<file name>-<row>' (e.g. '{stem}-2')")
    if m.table == "agent_time" and "interval_s" not in df.columns:
        if interval_s is None:
            df = df.join(
                _spacing_by_queue(df, source, m, report, key="agent_id"), on="agent_id", how="left"
            )
        else:
            report.assumed.append(f"interval_s = {interval_s:g} (given)")
            _check_given(df, interval_s, report, key="agent_id")
            df = df.with_columns(pl.lit(float(interval_s)).alias("interval_s"))
    if m.table == "surveys":
        meta["csat_scale_max"] = m.scale_max or 5
        if m.scale_max is None and "csat" in df.columns:
            report.assumed.append("csat on a 1-5 scale (set scale_max = 10 for a 1-10 survey)")
    return df, meta


def _check_given(df: pl.DataFrame, interval_s: float, report: ImportReport, *, key: str) -> None:
    """Warn when a given interval length is not how far apart the interval starts are."""
    if key not in df.columns:
        return
    gaps = _gaps(df, key)["gap"]
    common = float(gaps.mode().min()) if gaps.len() else None
    if common is not None and common != float(interval_s):
        report.warnings.append(
            f"interval_s = {interval_s:g} s was given (--interval-min), but the interval starts "
            f"are most often {common:g} s apart: a shorter length leaves time uncovered, a "
            "longer one counts time twice; check the report's interval length"
        )


def _gaps(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """``key``, ``gap``: the seconds between each key's consecutive distinct interval starts."""
    return (
        df.select(key, "interval_start")
        .unique()
        .sort(key, "interval_start")
        .with_columns(
            _seconds(pl.col("interval_start"), pl.col("interval_start").shift(1))
            .over(key)
            .alias("gap")
        )
        .filter(pl.col("gap") > 0)
    )


def _spacing_by_queue(
    df: pl.DataFrame, source: Source, m: Mapping, report: ImportReport, *, key: str = "queue"
) -> pl.DataFrame:
    """``queue`` -> ``interval_s``: the most common spacing of each queue's interval starts.

    Each queue's rows keep their own length (a queue reported every 5 minutes beside one
    reported every 15); a queue with a single interval takes the spacing of the others.
    """
    gaps = _gaps(df, key)
    if gaps.height == 0:
        raise missing_column_error(
            source,
            m,
            "interval_s",
            why=f"and the spacing of interval starts cannot tell it (one interval per {key})",
            also=("interval_min", "interval_minutes", "length"),
        )
    common = float(gaps["gap"].mode().min())
    per_queue = gaps.group_by(key).agg(
        pl.col("gap").mode().min().cast(pl.Float64).alias("interval_s")
    )
    queues = df.select(key).unique().join(per_queue, on=key, how="left")
    queues = queues.with_columns(pl.col("interval_s").fill_null(common))
    lengths = sorted(set(queues["interval_s"].to_list()))
    report.assumed.append(
        "interval_s = "
        + " or ".join(f"{v:g}" for v in lengths)
        + " (the most common spacing of interval starts"
        + (f", per {key})" if len(lengths) > 1 else ")")
    )
    return queues


def fill_absent(df: pl.DataFrame, table: str, tz: str, report: ImportReport) -> pl.DataFrame:
    """Add canonical columns the source lacks as nulls and say so."""
    missing = [c for c in TABLES[table].names if c not in df.columns]
    if missing:
        report.inferred["not in the source (left null)"] = missing
        df = df.with_columns(
            pl.lit(None, dtype=TABLES[table].column(c).polars_dtype(tz)).alias(c) for c in missing
        )
    return df
