"""``kpi schedule``: a weekly shift plan that covers each queue's service objective."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kpi.cli._common import add_raw_csv, number, out_file

__all__ = ["register", "run"]

DESCRIPTION = """\
Plan a week of shifts: required agents per interval (per queue, for its service objective),
then the shifts, days off and roster that cover them at least paid time (HiGHS).

  kpi schedule --data DIR --week 2026-W07                    # the week's own contacts
  kpi forecast --data DIR --every 15m --by queue --until 2026-03-02 --format csv --out fc.csv
  kpi schedule --data DIR --week 2026-W10 --forecast fc.csv --quantile 0.9
  kpi schedule --data DIR --week 2026-W07 --shifts shifts.toml --targets targets.toml --format md
  kpi schedule --data DIR --week 2026-W07 --aht-s 300        # data without handle times

Demand is unknown, never zero, where the data do not know it: a week with days outside the
data, or contacts without handle times (unless --aht-s gives an assumed AHT: it is used only
where the data have no handle times, and said in the notes), is an error.

Objectives (the [objectives] table of --targets; defaults): voice 80% in 20 s and chat 80% in
60 s (Erlang C, or Erlang A with patience_s), e-mail a response in 4 h and tickets in 8 h
(workload: contacts x AHT spread over the response window). Each channel is a skill.
Shifts (--shifts TOML; default: 8h30m with a 30-minute break and 4h part-time, starting at any
interval): start times, lengths, breaks, shifts across midnight, days off, groups by skill
set with a headcount, named agents with availability.

JSON: agents, shifts (start, end, breaks, days, agents), roster, coverage per interval and
skill (required, scheduled, over, under, service_level), overstaffing (share of scheduled
agent-intervals above the requirement), understaffed_intervals, lower_bound (LP relaxation),
gap, solve_s. CSV: the coverage table. An infeasible plan is an error naming the binding
constraint unless --allow-understaffing.
"""


def register(subparsers: Any) -> None:
    """Add the ``schedule`` subcommand."""
    p = subparsers.add_parser(
        "schedule",
        help="plan a week of shifts that covers each queue's service objective",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", metavar="DIR", required=True, help="dataset directory")
    p.add_argument("--week", required=True, help="ISO week to plan, e.g. 2026-W07")
    p.add_argument(
        "--every", default="15m", choices=["15m", "30m", "1h"], help="interval (default 15m)"
    )
    p.add_argument(
        "--forecast",
        metavar="FILE",
        help="plan on a `kpi forecast --format csv|json` file (contacts offered per queue); "
        "AHT per queue from the four weeks of data before the week (else --aht-s)",
    )
    p.add_argument(
        "--aht-s",
        type=number(low=1, high=86_400, unit="seconds"),
        metavar="SECONDS",
        help="average handle time in seconds, with wrap-up (1 to 86400), assumed where the "
        "data have no handle times (the week's contacts, or the forecast's queues); said in "
        "the notes",
    )
    p.add_argument(
        "--quantile",
        type=number(low=0, high=1, low_open=True, high_open=True),
        help="with --forecast: plan on this quantile of the forecast, e.g. 0.9",
    )
    p.add_argument(
        "--level",
        type=number(low=1, high=100, high_open=True),
        help="with --quantile: the forecast's prediction interval in %% (default: the JSON "
        "file's level, else 80)",
    )
    p.add_argument("--shifts", metavar="FILE.toml", help="shift templates, groups, agents")
    p.add_argument("--targets", metavar="FILE.toml", help="targets file with [objectives]")
    p.add_argument(
        "--shrinkage",
        type=number(low=0, high=1, high_open=True),
        default=0.0,
        help="share of on-duty time lost besides the shifts' breaks (absence, training), "
        "0 to below 1 (default 0)",
    )
    p.add_argument(
        "--time-limit-s",
        type=number(low=1, high=86_400, unit="seconds"),
        default=60.0,
        help="solver time limit in seconds (default 60)",
    )
    p.add_argument(
        "--allow-understaffing",
        action="store_true",
        help="return the best plan even when some intervals cannot be covered",
    )
    p.add_argument(
        "--format", default="json", choices=["json", "csv", "md"], help="output (default json)"
    )
    add_raw_csv(p)
    p.add_argument("--out", type=out_file, metavar="FILE", help="write to FILE (atomically)")
    p.add_argument(
        "--quiet", action="store_true", help="no progress lines (shown only on a terminal)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the week and write the plan."""
    from kpi.cli._common import emit_text, json_text
    from kpi.data import Dataset
    from kpi.errors import KpiError
    from kpi.schedule import (
        load_objectives,
        load_shifts,
        plan,
        read_forecast,
        requirements_for_week,
    )

    if args.quantile is not None and not args.forecast:
        raise KpiError("--quantile needs --forecast (a quantile of the forecast)")
    objectives = load_objectives(args.targets)
    spec = load_shifts(args.shifts, every=args.every)
    ds = Dataset.coerce(args.data)
    table, meta = read_forecast(args.forecast) if args.forecast else (None, {})
    notes: list[str] = []
    req = requirements_for_week(
        ds,
        week=args.week,
        every=args.every,
        forecast=table,
        quantile=args.quantile,
        level=args.level or float(meta.get("level") or 80.0),
        objectives=objectives,
        shrinkage=args.shrinkage,
        aht_s=args.aht_s,
        notes=notes,
    )
    result = plan(
        req,
        week=args.week,
        every=args.every,
        shifts=spec,
        objectives=objectives,
        shrinkage=args.shrinkage,
        time_limit_s=args.time_limit_s,
        allow_understaffing=args.allow_understaffing,
        progress=not args.quiet and sys.stderr.isatty(),
        notes=notes,
    )
    if args.format == "json":
        text = json_text(result.to_dict())
    elif args.format == "md":
        text = _markdown(result)
    else:
        import polars as pl

        from kpi._sanitize import csv_safe_frame

        frame = result.coverage.with_columns(
            pl.col("interval_start").dt.strftime("%Y-%m-%d %H:%M")
        )
        text = (frame if args.raw_csv else csv_safe_frame(frame)).write_csv()
    emit_text(text, args.out)
    from kpi._sanitize import terminal_safe

    if args.out:
        print(f"wrote the plan to {terminal_safe(str(args.out))}", file=sys.stderr)
    if args.format == "csv" or (args.format == "md" and args.out):  # else in the output
        for note in result.notes:
            print(f"# {terminal_safe(note, one_line=True)}", file=sys.stderr)
    return 0


def _markdown(result: Any) -> str:
    from kpi._sanitize import terminal_safe

    def cell(v: Any) -> str:
        return terminal_safe(str(v), one_line=True).replace("|", "\\|")

    d = result.to_dict()
    lines = [
        f"# Shift plan, week of {d['week_start']}",
        "",
        f"- agents: {d['agents']}, paid hours: {d['paid_hours']:,}",
        f"- overstaffing: {d['overstaffing']:.1%} of scheduled agent-intervals",
        f"- under-staffed intervals: {len(d['understaffed_intervals'])}",
        f"- solver objective {d['objective']:,.1f} against its LP lower bound "
        f"{d['lower_bound']:,.1f} (paid agent-intervals, a 0.01 tie-break per agent"
        + (", and the penalty of each agent-interval short" if d["understaffed_intervals"] else "")
        + f"); gap {d['gap']:.2%}; solved in {d['solve_s']:.1f} s ({d['status']})",
        "",
        "| group | template | start | end | breaks | days | agents |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in d["shifts"]:
        breaks = ", ".join(f"{b['start']}-{b['end']}" for b in s["breaks"])
        lines.append(
            f"| {cell(s['group'])} | {cell(s['template'])} | {s['start']} | {s['end']} | "
            f"{breaks} | {' '.join(s['days'])} | {s['agents']} |"
        )
    if d["notes"]:
        lines += ["", "Notes:", "", *(f"- {cell(n)}" for n in d["notes"])]
    return "\n".join(lines)
