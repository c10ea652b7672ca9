"""``kpi staffing``: Erlang C / Erlang A staffing for one case or for every interval of a dataset."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from kpi._sanitize import terminal_safe
from kpi.cli._common import add_raw_csv, json_text, number, out_file
from kpi.errors import KpiError

__all__ = ["register", "run"]

DESCRIPTION = """\
Staffing with Erlang C (no abandonment) or Erlang A (give --patience-s: exponential patience).

One case:   kpi staffing --volume 100 --interval-min 30 --aht-s 180 --target-sl 0.8 --threshold-s 20
Intervals:  kpi staffing --data DIR [--every 30m] [--by team] [--what-if agents=+2 --what-if aht=-10%]
From a forecast (required agents per interval and queue, each queue for its own service
objective: voice and chat by Erlang, e-mail and tickets as deferred work over their response
window; see `kpi schedule` for the objectives in a targets file):
            kpi forecast --data DIR --every 15m --by queue --format csv --out fc.csv
            kpi staffing --forecast fc.csv --data DIR [--quantile 0.9] [--targets FILE]
Planning assumptions for what the data lack:
            kpi staffing --data DIR --aht-s 300 --shrinkage 0.3 --target-sl 0.8 --threshold-s 20
            (--aht-s is used only where the data have no handle times; every number taken
            from an assumption or estimated is named in the 'assumed' column and the notes)

Required agents are fractional underneath; the single case reports whole agents (ceil) and
scheduled staff = ceil(agents / (1 - shrinkage)). In the interval table, sum required_agents
across rows and round the total once.
"""

WHAT_IF_HELP = (
    "a change to project, repeatable: QUANTITY[COLUMN=VALUE]=CHANGE with QUANTITY agents, aht or "
    "volume; CHANGE +2 / -1 adds (aht in seconds), +10%% / -5%% scales, 90%% scales to 90%%, a bare "
    "number sets it; e.g. --what-if agents=+2 --what-if aht=-10%% --what-if 'agents[team=Sales]=+1'"
)


def register(subparsers: Any) -> None:
    """Add the ``staffing`` subcommand."""
    p = subparsers.add_parser(
        "staffing",
        help="required agents, service level and what-ifs (Erlang C / Erlang A)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    one = p.add_argument_group("one case")
    one.add_argument(
        "--volume",
        type=number(low=0, high=MAX_VOLUME),
        help=f"contacts offered in the interval (0 to {MAX_VOLUME:g})",
    )
    one.add_argument(
        "--interval-min",
        type=number(low=1, high=1440),
        help="interval length in minutes (1 to 1440)",
    )
    one.add_argument(
        "--aht-s",
        type=number(low=1, high=DAY_S),
        help=f"average handle time in seconds, with wrap-up (1 to {DAY_S}); with --data, the "
        "AHT assumed where the data have no handle times",
    )
    targets = p.add_argument_group("targets and model")
    targets.add_argument(
        "--target-sl",
        type=number(low=0, high=1, low_open=True, high_open=True),
        default=0.8,
        help="service-level target, above 0 and below 1 (default 0.8)",
    )
    targets.add_argument(
        "--threshold-s",
        type=number(low=0, high=DAY_S),
        default=None,
        help=f"service-level threshold in seconds, 0 to {DAY_S} (default 20; for interval "
        "imports the threshold of the import)",
    )
    targets.add_argument(
        "--target-asa-s",
        type=number(low=0, high=DAY_S, low_open=True),
        help=f"largest acceptable ASA in seconds (above 0, at most {DAY_S})",
    )
    targets.add_argument(
        "--max-occupancy",
        type=number(low=0, high=1, low_open=True),
        help="occupancy cap, above 0 and at most 1, e.g. 0.85",
    )
    targets.add_argument(
        "--max-abandon",
        type=number(low=0, high=1, low_open=True, high_open=True),
        help="abandonment cap, above 0 and below 1 (needs patience)",
    )
    targets.add_argument(
        "--shrinkage",
        type=number(low=0, high=1, high_open=True),
        default=None,
        help="share of scheduled time off the phones, 0 or more and below 1, e.g. 0.3 (one "
        "case: default 0; --data: default the measured shrinkage of each interval)",
    )
    targets.add_argument(
        "--patience-s",
        default=None,
        help=f"mean patience in seconds for Erlang A (above 0, at most {DAY_S}); with --data "
        "also 'estimate' (total wait of queued contacts / abandons); omitted: Erlang C",
    )
    targets.add_argument(
        "--sl-denominator",
        default="offered",
        help="how abandoners count in service level: offered (default, abandoners are misses), "
        "answered_plus_abandoned, answered, ignore_abandons_within_threshold, "
        "abandons_within_threshold_met",
    )
    data = p.add_argument_group("from a dataset")
    data.add_argument("--data", metavar="DIR", help="dataset directory (interval table mode)")
    data.add_argument(
        "--every",
        default="30m",
        help="interval length: 15m, 30m, 1h, ... (default 30m); it must divide the day and be "
        "a multiple of the data's own interval length (e.g. 30m data: 30m, 1h, 2h)",
    )
    data.add_argument(
        "--by",
        default="team",
        help="comma-separated groups among queue, team, site, channel; 'none' for the centre "
        "(default team)",
    )
    data.add_argument(
        "--what-if", action="append", default=[], metavar="CHANGE", help=WHAT_IF_HELP
    )
    data.add_argument(
        "--no-agent-estimate",
        action="store_true",
        help="without agent time, leave the agents on queue unknown instead of estimating them "
        "from a call log that names the agent on each call (distinct agents busy in each "
        "interval, a lower bound)",
    )
    plan = p.add_argument_group("from a forecast")
    plan.add_argument(
        "--forecast",
        metavar="FILE",
        help="a `kpi forecast --format csv|json` file: required agents per interval and queue "
        "(with --data, each queue's AHT and channel come from the data; else give --aht-s)",
    )
    plan.add_argument(
        "--quantile",
        type=number(low=0, high=1, low_open=True, high_open=True),
        metavar="Q",
        help="plan on this quantile of the forecast instead of its mean, e.g. 0.9 (above 0, "
        "below 1)",
    )
    plan.add_argument(
        "--targets",
        metavar="FILE",
        help="targets TOML whose [objectives] table sets each channel's or queue's service "
        "objective (default: voice 80%% in 20 s, chat 80%% in 60 s, e-mail 4 h, tickets 8 h)",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--format",
        default="table",
        choices=["table", "json", "csv", "parquet"],
        help="output format (csv and parquet only with --data; parquet needs --out); text "
        "from the data is escaped in table, made inert for spreadsheets in csv (see --raw-csv)",
    )
    add_raw_csv(out)
    out.add_argument(
        "--out",
        type=out_file,
        metavar="FILE",
        help="write to FILE instead of standard output (atomically)",
    )
    p.set_defaults(func=run)


#: Largest --volume of the one case (contacts in one interval).
MAX_VOLUME = 1e7
#: Seconds in a day: the largest handle time, threshold, ASA target and patience.
DAY_S = 86_400


def _patience(text: str | None, *, allow_estimate: bool) -> float | str | None:
    if text is None:
        return None
    if text == "estimate":
        if not allow_estimate:
            raise KpiError("--patience-s estimate needs --data (patience is estimated from it)")
        return text
    try:
        value = float(text)
    except ValueError:
        raise KpiError(
            f"--patience-s must be seconds{' or estimate' if allow_estimate else ''}, got {text!r}"
        ) from None
    if not 0 < value <= DAY_S:
        raise KpiError(
            f"--patience-s must be a number of seconds above 0 and at most {DAY_S}, got {text!r}"
        )
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``kpi staffing``."""
    if args.format == "parquet" and not args.out:
        raise KpiError("--format parquet needs --out FILE (Parquet is not for a terminal)")
    if args.forecast:
        return _run_forecast(args)
    if args.quantile is not None or args.targets:
        raise KpiError("--quantile and --targets go with --forecast FILE")
    if args.data:
        return _run_data(args)
    return _run_one(args)


def _run_one(args: argparse.Namespace) -> int:

    missing = [
        flag
        for flag, value in (
            ("--volume", args.volume),
            ("--interval-min", args.interval_min),
            ("--aht-s", args.aht_s),
        )
        if value is None
    ]
    if missing:
        raise KpiError(
            f"give {', '.join(missing)} for one case, or --data DIR for the interval table"
        )
    if args.what_if:
        raise KpiError("--what-if needs --data DIR (it changes the staffed intervals)")
    if args.format in ("csv", "parquet"):
        raise KpiError("--format csv/parquet needs --data; one case prints table or json")
    threshold = 20.0 if args.threshold_s is None else args.threshold_s
    try:
        result = _required_staff(args, threshold)
    except ArithmeticError:
        raise KpiError(
            f"no staffing meets the targets for {args.volume:g} contacts in "
            f"{args.interval_min:g} min at AHT {args.aht_s:g} s; relax a target"
        ) from None
    model = "Erlang A" if args.patience_s is not None else "Erlang C"
    record = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in result.items()
    }
    meta = {
        "model": model,
        "volume": args.volume,
        "interval_min": args.interval_min,
        "aht_s": args.aht_s,
        "target_sl": args.target_sl,
        "threshold_s": threshold,
        "target_asa_s": args.target_asa_s,
        "max_occupancy": args.max_occupancy,
        "max_abandon": args.max_abandon,
        "shrinkage": 0.0 if args.shrinkage is None else args.shrinkage,
        "patience_s": args.patience_s and float(args.patience_s),
        "sl_denominator": args.sl_denominator,
    }
    if args.format == "json":
        text = json_text({**record, "inputs": meta})
    else:
        labels = {
            "load_erlangs": "load (Erlangs)",
            "agents_fractional": "agents (fractional)",
            "agents": "agents",
            "scheduled_fractional": "scheduled (fractional)",
            "scheduled_agents": "scheduled agents",
            "service_level": f"service level ({threshold:g} s)",
            "asa_s": "ASA (s)",
            "wait_probability": "probability of waiting",
            "occupancy": "occupancy",
            "abandon_probability": "abandonment probability",
        }
        width = max(len(v) for v in labels.values())
        lines = [
            f"{model}, {args.volume:g} contacts in {args.interval_min:g} min, AHT {args.aht_s:g} s"
        ]
        for key, label in labels.items():
            if key not in record:
                continue
            value = record[key]
            shown = (
                "n/a"
                if value is None
                else (f"{value:.4f}" if isinstance(value, float) else str(value))
            )
            lines.append(f"{label:<{width}}  {shown}")
        text = "\n".join(lines)
    _emit(text, args.out)
    return 0


def _required_staff(args: argparse.Namespace, threshold: float) -> dict[str, Any]:
    from kpi import staffing

    return staffing.required_staff(
        args.volume,
        interval_min=args.interval_min,
        aht_s=args.aht_s,
        target_sl=args.target_sl,
        threshold_s=threshold,
        target_asa_s=args.target_asa_s,
        max_occupancy=args.max_occupancy,
        shrinkage=0.0 if args.shrinkage is None else args.shrinkage,
        patience_s=_patience(args.patience_s, allow_estimate=False),
        max_abandon=args.max_abandon,
        denominator=args.sl_denominator,
    )


def _run_data(args: argparse.Namespace) -> int:
    import polars as pl

    from kpi import data as kdata
    from kpi import staffing
    from kpi.cli._common import csv_list, write_frame

    given = [
        f
        for f, v in (("--volume", args.volume), ("--interval-min", args.interval_min))
        if v is not None
    ]
    if given:
        raise KpiError(
            f"{', '.join(given)} belong to the one-case mode; --data reads them from the data"
        )
    by = [] if args.by.strip().lower() in ("", "none") else csv_list(args.by)
    ds = kdata.load(args.data)
    what_if = staffing.parse_what_if(args.what_if) if args.what_if else None
    lf = staffing.staffing_table(
        ds,
        every=args.every,
        by=by,
        threshold_s=args.threshold_s,
        target_sl=args.target_sl,
        target_asa_s=args.target_asa_s,
        max_occupancy=args.max_occupancy,
        max_abandon=args.max_abandon,
        shrinkage=args.shrinkage,
        patience_s=_patience(args.patience_s, allow_estimate=True),
        denominator=args.sl_denominator,
        what_if=what_if,
        aht_s=args.aht_s,
        estimate_agents=not args.no_agent_estimate,
    )
    frame = lf.collect()
    notes = staffing.staffing_notes(
        frame, aht_s=args.aht_s, shrinkage=args.shrinkage, every=args.every
    )
    # a row without contacts needs no agents: its unknown requirement counts as 0, not unknown
    busy = frame.filter(pl.col("offered").fill_null(1) != 0) if frame.height else frame
    total, unknown = _known_total(busy, "required_agents")
    staffed, staffed_unknown = _known_total(frame, "staffed_agents")
    if unknown and total is not None:  # some rows only: the total covers the others
        notes.append(
            f"Required agents unknown in {unknown:,} of the {busy.height:,} rows (interval and "
            "group) with contacts: required_agent_intervals_total sums the other "
            f"{busy.height - unknown:,} (required_agent_intervals_unknown)."
        )
    meta = {
        "model": "Erlang A" if args.patience_s is not None else "Erlang C",
        "every": args.every,
        "by": by,
        "target_sl": args.target_sl,
        "threshold_s": args.threshold_s if args.threshold_s is not None else "default",
        "sl_denominator": args.sl_denominator,
        "what_if": what_if.describe() if what_if else "none",
        "required_agent_intervals_total": None if total is None else round(total, 3),
        "required_agent_intervals_rounded_once": (
            None if total is None else staffing.round_up(total)
        ),
        "required_agent_intervals_unknown": unknown,
        "staffed_agent_intervals_total": None if staffed is None else round(staffed, 3),
        "staffed_agent_intervals_unknown": staffed_unknown,
        "aht_s_assumed": args.aht_s,
        "shrinkage": args.shrinkage if args.shrinkage is not None else "measured",
        "notes": notes,
    }
    if args.format == "table":
        frame = _compact(frame, by)
        for key in (
            "required_agent_intervals_total",
            "required_agent_intervals_rounded_once",
            "staffed_agent_intervals_total",
        ):
            if meta[key] is None:
                meta[key] = "unknown (not in the data: see the notes)"
        meta["notes"] = "".join(f"\n  {n}" for n in notes) or "none"
    write_frame(frame, args.format, args.out, meta=meta, raw_csv=args.raw_csv)
    return 0


def _known_total(frame: Any, column: str) -> tuple[float | None, int]:
    """Σ of a column's known values and how many rows are unknown (null): the sum is None
    when every row is unknown (unknown is never 0), 0.0 for a table without rows.

    Examples
    --------
    >>> import polars as pl
    >>> _known_total(pl.DataFrame({"x": [1.5, None, 2.0]}), "x")
    (3.5, 1)
    >>> _known_total(pl.DataFrame({"x": [None, None]}, schema={"x": pl.Float64}), "x")
    (None, 2)
    >>> _known_total(pl.DataFrame({"x": []}, schema={"x": pl.Float64}), "x")
    (0.0, 0)
    """
    values = frame[column]
    unknown = values.null_count()
    if frame.height and unknown == frame.height:
        return None, unknown
    return float(values.drop_nulls().sum()), unknown


def _run_forecast(args: argparse.Namespace) -> int:
    from kpi import data as kdata
    from kpi import schedule
    from kpi.cli._common import write_frame

    if args.volume is not None or args.what_if:
        raise KpiError(
            "--volume and --what-if do not go with --forecast (the forecast is the volume)"
        )
    table, meta = schedule.read_forecast(args.forecast)
    notes: list[str] = []
    req = schedule.requirements_from_forecast(
        kdata.load(args.data) if args.data else None,
        table,
        every=args.every,
        quantile=args.quantile,
        level=float(meta.get("level", 80)),
        objectives=schedule.load_objectives(args.targets),
        shrinkage=args.shrinkage or 0.0,
        aht_s=args.aht_s,
        notes=notes,
    )
    total = float(req["required_agents"].sum()) if req.height else 0.0
    info = {
        "forecast": args.forecast,
        "every": args.every,
        "planned_on": f"quantile {args.quantile:g}" if args.quantile else "the forecast",
        "required_agent_intervals_total": round(total, 3),
        "shrinkage": args.shrinkage or 0.0,
        "aht_s_assumed": args.aht_s,  # used for queues whose handle times the data lack
        "notes": notes,
    }
    if args.format == "table":
        info["notes"] = "".join(f"\n  {n}" for n in notes) or "none"
    write_frame(req, args.format, args.out, meta=info, raw_csv=args.raw_csv)
    return 0


#: Columns of the terminal table (json, csv and parquet carry every column).
TABLE_COLUMNS = (
    "offered",
    "aht_s",
    "load_erlangs",
    "required_agents",
    "staffed_agents",
    "staffing_gap",
    "expected_service_level",
    "achieved_service_level",
    "expected_abandon_rate",
    "achieved_abandon_rate",
    "what_if_agents",
    "what_if_load_erlangs",
    "what_if_service_level",
    "what_if_asa_s",
    "what_if_abandon_rate",
    "what_if_occupancy",
    "assumed",
)


def _compact(frame: Any, by: list[str]) -> Any:
    """The key columns, rounded, so the table fits a terminal."""
    import polars as pl

    groups = [c for c in frame.columns if c in ("queue", "team", "site", "channel")]
    keep = [c for c in TABLE_COLUMNS if c in frame.columns]
    if frame["patience_s"].null_count() == frame.height:  # Erlang C: no abandonment columns
        keep = [c for c in keep if "abandon" not in c]
    return frame.select(
        pl.col("interval_start").dt.strftime("%Y-%m-%d %H:%M"),
        *groups,
        *(pl.col(c).round(3) if frame.schema[c].is_float() else pl.col(c) for c in keep),
    )


def _emit(text: str, out: str | None) -> None:
    from kpi.cli._common import emit_text

    emit_text(text, out)
    if out:
        print(f"wrote {terminal_safe(out)}", file=sys.stderr)
