"""``kpi sample``: simulate a contact centre and write a sample dataset."""

from __future__ import annotations

import argparse
from typing import Any

from kpi.cli._common import date_arg
from kpi.errors import KpiError
from kpi.periods import YEARS

__all__ = ["register", "run"]

DESCRIPTION = """\
Simulate a contact centre (two sites, five teams; voice, chat, e-mail, callback and a ticket
log) and write every canonical table as Parquet plus dataset.json, scenario.json (the ground
truth of the story), contacts.csv (for spreadsheets, at most 8 MB) and README.md.

The default scenario: at the end of the first month team North loses about half of its agents
and Tickets a fifth; in the second month a new, long contact reason (price_change) appears.
Contacts handled and tickets handled fall by about 25%; the other teams hold steady.

Scales: tiny, small, default (about 40,000 contacts a month), large (ten times more), bench
(about 10 million contacts in three months), or a number of contacts over the run
(250000, 1.5M, 10M). The same arguments always give identical tables.
"""

EPILOG = "Example: kpi sample --out data/samples --seed 7 --start 2026-01-01 --months 3"


def register(subparsers: Any) -> None:
    """Add the ``sample`` subcommand."""
    p = subparsers.add_parser(
        "sample",
        help="simulate a contact centre and write a sample dataset with its ground truth",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", metavar="DIR", help="output directory (created if missing)")
    p.add_argument("--seed", metavar="N", default="7", help="random seed (default 7)")
    p.add_argument(
        "--start",
        metavar="DATE",
        type=date_arg,
        default="2026-01-01",
        help=f"first day (default 2026-01-01; the run ends by {YEARS[1]}-12-31)",
    )
    p.add_argument("--months", metavar="N", default="3", help="months to simulate (default 3)")
    p.add_argument(
        "--scale",
        metavar="SCALE",
        default="default",
        help="tiny, small, default, large, bench, or a number of contacts such as 250000 or 10M",
    )
    p.add_argument("--scenario", default="default", help="default (the attrition story) or steady")
    p.add_argument("--tz", default="Europe/London", help="IANA time zone of the sites")
    p.add_argument(
        "--interval-min", default="30", help="agent_time interval length: 15 or 30 minutes"
    )
    p.add_argument(
        "--staffing",
        default="1",
        help="head-count multiplier on the same arrivals, e.g. 1.2 (default 1)",
    )
    p.add_argument("--no-csv", action="store_true", help="do not write contacts.csv")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    p.set_defaults(func=run)


def _int(name: str, text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise KpiError(f"bad --{name} {text!r}: expected a whole number") from None


def run(args: argparse.Namespace) -> int:
    """Validate the arguments, simulate and write."""
    if not args.out:
        raise KpiError("missing --out DIR: where to write the sample dataset")
    seed = _int("seed", args.seed)
    months = _int("months", args.months)
    interval = _int("interval-min", args.interval_min)
    try:
        staffing = float(args.staffing)
    except ValueError:
        raise KpiError(
            f"bad --staffing {args.staffing!r}: expected a number such as 1.2"
        ) from None
    start = int(args.start[:4]) * 12 + int(args.start[5:7]) - 1
    if 0 < months <= 1000 and (start + months - 1) // 12 > YEARS[1]:
        raise KpiError(
            f"--start {args.start} with --months {months} runs past {YEARS[1]}: supported "
            f"years are {YEARS[0]} to {YEARS[1]}"
        )
    from kpi.samples import write_sample

    write_sample(
        args.out,
        seed=seed,
        start=args.start,
        months=months,
        scale=args.scale,
        tz=args.tz,
        scenario=args.scenario,
        staffing=staffing,
        interval_min=interval,
        csv=not args.no_csv,
        progress=not args.quiet,
    )
    return 0
