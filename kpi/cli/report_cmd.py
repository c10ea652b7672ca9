"""``kpi report``: render report notebooks to self-contained HTML under ``reports/``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]

DESCRIPTION = """\
Execute report notebooks (notebooks/NN-name.ipynb) with papermill and export each as one
self-contained HTML file: no code, a header with the period, data source and KPI definitions,
the findings first, a table of contents, interactive charts that work offline. Output:
OUT/<report>/<period>/<report>-<period>.html plus the executed notebook, and OUT/index.html.
A failed report (a cell, the export, a full disk) exits 1 with one line naming the report and
the reason, keeps <name>.failed.ipynb and leaves the previous report untouched; the other
reports go on. Bad parameters and an output directory that cannot be written exit 2 before
anything runs. SIGTERM or Ctrl-C stops every worker and kernel before the command ends, and
nothing is published after it says so; workers and kernels also die with it on kill -9.
"""

EPILOG = """\
periods: 2026-02-03, 2026-02, 2026-W06, 2026-Q1, 2026, today, yesterday, previous-week,
previous-month, this-week, this-month (relative words use the site's date, or the date in
KPI_TODAY=YYYY-MM-DD when set: to re-run a missed day as it would have run).

examples:
  kpi report --all                                 # every standard report, notebook defaults
  kpi report overview --period previous-month      # compare defaults to the month before
  kpi report overview --data data/big -p show_identifiers true
  kpi report --list                                # reports and their parameters
"""


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report",
        help="render report notebooks to offline HTML in reports/",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "name",
        nargs="*",
        help="report name (overview, 00-overview) or notebook path; several are allowed",
    )
    p.add_argument("--all", action="store_true", help="render every standard report, in order")
    p.add_argument("--list", action="store_true", help="list the reports and their parameters")
    p.add_argument("--data", metavar="DIR", help="dataset directory (the data_dir parameter)")
    p.add_argument("--period", metavar="PERIOD", help="reporting period (see below)")
    p.add_argument(
        "--compare", metavar="PERIOD", help="comparison period (default: the period before)"
    )
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="a notebook parameter; repeat for several",
    )
    p.add_argument("--out", default="reports", metavar="DIR", help="output directory (reports)")
    p.add_argument(
        "--show-identifiers",
        action="store_true",
        help="show customer ids, phone numbers and e-mail addresses (masked by default)",
    )
    p.add_argument(
        "--static-charts",
        action="store_true",
        help="static SVG charts, no JavaScript (for mail clients and print)",
    )
    p.add_argument(
        "--cell-timeout-s",
        type=float,
        metavar="SECONDS",
        help=(
            "fail a notebook cell that runs longer than this many seconds: a positive number "
            "up to 604800 (a week); fractions are rounded up to a whole second"
        ),
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        metavar="N",
        help="reports rendered at the same time (default: the number of CPUs, at most 4)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="papermill's per-cell progress bar (default: when stderr is a terminal)",
    )
    p.set_defaults(func=run)


#: The stop signal received, if any (the message waits until workers and kernels are gone).
_STOPPED: list[int] = []


def _terminate(signum: int, frame: Any) -> None:
    _STOPPED.append(signum)
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    """Render the requested reports; 0 when all succeeded, 1 when any failed."""
    from kpi.errors import KpiError

    # jsonschema (under nbformat) compiles rfc3987-syntax's grammar on import (~2 s); the
    # renderer never validates IRIs, so this process skips it.
    sys.modules.setdefault("rfc3987_syntax", None)
    # a failed report is said once, in its one line (nbclient would also log "Kernel died ...")
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    if args.list:
        return _list()
    if bool(args.name) == bool(args.all):
        raise KpiError("give a report NAME or --all (see `kpi report --list`)")
    # systemd and cron stop jobs with SIGTERM: unwind so work files and the kernel are removed.
    signal.signal(signal.SIGTERM, _terminate)

    from kpi import report

    names: list[Any] = report.list_reports() if args.all else list(args.name)
    if args.all and not names:
        raise KpiError("no standard reports found (notebooks/NN-name.ipynb)")
    options = {
        "params": dict(args.param),
        "period": args.period,
        "compare": args.compare,
        "data": args.data,
        "out_dir": args.out,
        "show_identifiers": args.show_identifiers,
        "charts": "svg" if args.static_charts else "interactive",
        "progress": args.progress,
        "cell_timeout_s": args.cell_timeout_s,
    }

    def started(i: int, n: int, name: str) -> None:
        print(f"kpi report: [{i}/{n}] {name} started", file=sys.stderr, flush=True)

    def done(i: int, n: int, name: str, path: Path | None, error: Any, seconds: float) -> None:
        if path is not None:
            print(f"kpi report: [{i}/{n}] {name} done in {seconds:.1f} s", file=sys.stderr)
            print(_shown(path), flush=True)
        else:
            print(f"kpi report: error: {error}", file=sys.stderr, flush=True)

    jobs = args.jobs if args.jobs is not None else min(os.cpu_count() or 1, 4)
    if jobs < 1:
        raise KpiError(f"--jobs must be 1 or more, got {jobs}")
    if jobs > 1 and len(names) > 1:
        print(
            f"kpi report: rendering {len(names)} reports, {min(jobs, len(names))} at a time",
            file=sys.stderr,
            flush=True,
        )
    try:
        _rendered, failed = report.render_many(
            names,
            jobs=jobs,
            on_start=started if jobs == 1 or len(names) == 1 else None,
            on_done=done,
            **options,
        )
    except SystemExit:
        # render_many has stopped every worker and kernel by now: nothing is published after
        if _STOPPED:
            print(
                f"kpi report: stopped by signal {_STOPPED[0]}; published reports are untouched",
                file=sys.stderr,
                flush=True,
            )
        raise
    index = Path(args.out) / "index.html"
    if index.exists():
        print(f"kpi report: index: {_shown(index)}", file=sys.stderr)
    if failed:
        print(
            f"kpi report: {len(failed)} of {len(names)} report(s) failed",
            file=sys.stderr,
        )
        return 1
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _list() -> int:
    from kpi import report

    reports = report.list_reports()
    if not reports:
        print("no standard reports found (notebooks/NN-name.ipynb)")
        return 0
    for path in reports:
        print(f"{report.report_name(path)}  ({_shown(path)})")
        for param in report.notebook_parameters(path).values():
            print(f"    {param.describe()}")
    return 0
