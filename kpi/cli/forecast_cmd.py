"""``kpi forecast``: forecast contacts offered or AHT per interval, with the backtest on show."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kpi.cli._common import add_raw_csv, csv_list, number, out_file, period_arg

__all__ = ["register", "run"]

DESCRIPTION = """\
Forecast contacts offered (or AHT) per interval and group, with prediction intervals.

  kpi forecast --data DIR --every 15m --horizon 7d --by queue
  kpi forecast --data DIR --every 30m --until 2026-03-02 --method daily_profile --level 90
  kpi forecast --data DIR --by queue --leaderboard        # the backtest, per queue and method
  kpi forecast --data DIR --by queue --store              # keep it for forecast_accuracy

Rows: the --by columns, period (interval start, site local time), forecast, lower, upper (the
central --level % prediction interval) and method. --until ends the history used (exclusive;
default: the end of the data, i.e. the midnight after its last day; never later, since what
follows the data is unknown) and the forecast starts there. --by takes no customer
identifiers and makes at most 1,000 groups.

Methods: same_slot_last_week, mean_of_4_weeks (the same slot over the last four weeks),
daily_profile (day totals from weekday, day-of-month, level, holiday and event effects, spread
by each weekday's intraday profile); auto picks per group the lowest WAPE in a backtest of the
last four weeks (weekly origins, one week ahead). AHT is forecast as Σ handle / Σ handled.
Public holidays: --country, else "country" in dataset.json; events from the events table.

--store also keeps the forecast in the dataset (its forecasts table, switched in atomically);
the forecast_accuracy KPI (1 - WAPE against contacts offered, e.g. `kpi compute --data DIR
forecast_accuracy --by queue --every 1w`) scores stored forecasts once the actuals arrive.
"""


def register(subparsers: Any) -> None:
    """Add the ``forecast`` subcommand."""
    p = subparsers.add_parser(
        "forecast",
        help="forecast volume or AHT per interval, with intervals and a backtest leaderboard",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", metavar="DIR", required=True, help="dataset directory")
    p.add_argument("--every", default="30m", help="interval: 15m, 30m, 1h or 1d (default 30m)")
    p.add_argument(
        "--horizon",
        default="7d",
        help="how far ahead: e.g. 7d, 2w, 36h; whole intervals, at most 366 days (default 7d)",
    )
    p.add_argument(
        "--metric",
        default="contacts_offered",
        choices=["contacts_offered", "aht"],
        help="what to forecast (default contacts_offered)",
    )
    p.add_argument(
        "--by",
        type=csv_list,
        default=[],
        help="comma-separated group columns, e.g. queue or queue,channel (default: the centre; "
        "no customer identifiers, at most 1,000 groups)",
    )
    p.add_argument(
        "--until",
        type=period_arg,
        help="end of the history used, exclusive, site local time (a date: its midnight); the "
        "forecast starts there (default and latest: the end of the data)",
    )
    p.add_argument(
        "--method",
        default="auto",
        choices=["auto", "same_slot_last_week", "mean_of_4_weeks", "daily_profile"],
        help="forecasting method (default auto: per group, the best in the backtest)",
    )
    p.add_argument(
        "--level",
        type=number(low=1, high=100, high_open=True),
        default=80.0,
        help="prediction interval, percent, 1 to below 100 (default 80)",
    )
    p.add_argument(
        "--country",
        help="ISO country code of the public holidays, e.g. GB, US, IL (default: country in "
        "dataset.json; none: no public holidays)",
    )
    p.add_argument(
        "--leaderboard",
        action="store_true",
        help="print the backtest leaderboard per group and method (WAPE, MASE, bias, "
        "coverage, Poisson floor) instead of the forecast",
    )
    p.add_argument(
        "--store",
        action="store_true",
        help="also keep the forecast in the dataset directory (forecasts table; --by queue, "
        "channel, team only), scored later by the forecast_accuracy KPI",
    )
    p.add_argument(
        "--format",
        default="csv",
        choices=["csv", "json", "md"],
        help="output format (default csv)",
    )
    add_raw_csv(p)
    p.add_argument(
        "--out", type=out_file, metavar="FILE", help="write to FILE (atomically) instead"
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress lines on standard error (shown only when it is a terminal)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Forecast and write the table (or the leaderboard)."""
    import polars as pl

    from kpi.cli._common import emit_text, json_text
    from kpi.forecast import run as forecast_run

    result = forecast_run(
        args.data,
        every=args.every,
        horizon=args.horizon,
        metric=args.metric,
        by=args.by,
        until=args.until,
        method=args.method,
        level=args.level,
        country=args.country,
        progress=not args.quiet and sys.stderr.isatty(),
        store=args.store,
    )
    frame = result.leaderboard if args.leaderboard else result.table
    if "period" in frame.columns:
        frame = frame.with_columns(pl.col("period").dt.strftime("%Y-%m-%d %H:%M %Z"))
    meta = {**result.meta, "notes": result.notes}
    if args.format == "json":
        text = json_text({"meta": meta, "rows": frame.to_dicts()})
    elif args.format == "md":
        text = _markdown(frame)
    else:
        from kpi._sanitize import csv_safe_frame

        text = (frame if args.raw_csv else csv_safe_frame(frame)).write_csv()
    emit_text(text, args.out)
    if args.out:
        from kpi._sanitize import terminal_safe

        print(f"wrote {frame.height} rows to {terminal_safe(str(args.out))}", file=sys.stderr)
    if args.store:
        from kpi._sanitize import terminal_safe

        print(
            f"stored {result.table.height} forecast rows in "
            f"{terminal_safe(str(args.data))}/forecasts.parquet",
            file=sys.stderr,
        )
    if args.format != "json":
        from kpi._sanitize import terminal_safe

        for note in result.notes:
            print(f"# {terminal_safe(note, one_line=True)}", file=sys.stderr)
    return 0


def _markdown(frame: Any) -> str:
    """A GitHub-flavoured Markdown table; numbers to 4 significant digits, ``|`` escaped."""
    from kpi._sanitize import terminal_safe

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.4g}"
        return terminal_safe(str(v), one_line=True).replace("|", "\\|")

    cols = frame.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.iter_rows():
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)
