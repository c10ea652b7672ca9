"""``kpi import``: bring your own data (call logs, interval reports, ticket logs)."""

from __future__ import annotations

import argparse

from kpi.cli._common import number

__all__ = ["register", "run"]

_PRESET_HELP = {
    "technion": "Technion 'Anonymous Bank' call log (17 tab-separated fields) -> contacts",
    "tickets": "ticket log (created/closed dates or times, status, topic, team) -> tickets",
    "interval": "ACD interval report (offered, answered, abandoned ... per queue) -> intervals",
    "contacts": "call log with common or canonical column names -> contacts",
}


_non_negative = number(low=0, high=86_400, unit="seconds")
_minutes = number(low=1, high=1440, unit="minutes")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``import`` subcommand."""
    p = sub.add_parser(
        "import",
        help="import a call log, interval report or ticket log as a dataset",
        description="Read a CSV/TSV (delimiter, encoding and line endings detected), Parquet or "
        "Excel file with a preset or a mapping, and write canonical tables into DIR (read by kpi "
        "compute and the notebooks like data/samples). Every row is accounted for: read = loaded "
        "+ quarantined; quarantined rows go to DIR/quarantine/<table>.csv with their row number "
        "and reason; repairs, inferences and assumptions go to DIR/import_report.json. Presets: "
        + "; ".join(f"{k}: {v}" for k, v in _PRESET_HELP.items())
        + ". Guide: docs/importing.md.",
        epilog="Examples: kpi import --input calls_1999_02.tsv --preset technion --out data/bank | "
        "kpi import --input export.csv --mapping acd.toml --out data/site --tz Europe/London | "
        "kpi import --input march.csv --mapping acd.toml --out data/site --append",
    )
    p.add_argument(
        "--input",
        required=True,
        metavar="FILE",
        help="the export: csv, tsv, txt, json, parquet or xlsx",
    )
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--preset", choices=tuple(_PRESET_HELP), help="a built-in format")
    how.add_argument("--mapping", metavar="FILE.toml", help="a column mapping (docs/importing.md)")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write")
    p.add_argument(
        "--tz",
        metavar="ZONE",
        help="site time zone of naive times (IANA name); default: the mapping's or preset's "
        "(technion Asia/Jerusalem, tickets America/New_York) or the dataset's with --append",
    )
    p.add_argument(
        "--append",
        action="store_true",
        help="add to the table in DIR; rows with a key already there (contact_id, ticket_id, "
        "queue+channel+interval_start) replace the old rows",
    )
    p.add_argument("--delimiter", help="field separator (default: detected; 'tab' for tabs)")
    p.add_argument("--encoding", help="text encoding (default: detected: UTF-8, UTF-16, cp1252)")
    p.add_argument("--sheet", help="Excel sheet name or 0-based number (default: the first)")
    p.add_argument("--skip-rows", type=int, metavar="N", help="lines above the header to skip")
    p.add_argument(
        "--threshold-s",
        type=_non_negative,
        metavar="SECONDS",
        help="interval reports: the service-level threshold the report used",
    )
    p.add_argument(
        "--short-abandon-s",
        type=_non_negative,
        metavar="SECONDS",
        help="interval reports: the short-abandon threshold the report used",
    )
    p.add_argument(
        "--interval-min",
        type=_minutes,
        metavar="MINUTES",
        help="interval reports without an interval-length column: the length",
    )
    p.add_argument(
        "--raw-csv",
        action="store_true",
        help="write quarantine/<table>.csv with values exactly as read; by default a text cell "
        "that a spreadsheet would run as a formula (starting with = + - @, a tab or CR) gets a "
        "leading apostrophe",
    )
    p.add_argument(
        "--max-quarantine-share",
        type=number(low=0, high=1),
        metavar="SHARE",
        help="refuse an import that quarantines more than this share of the rows read "
        "(default: the mapping's max_quarantine_share, else 0.05; 1 never refuses): exit status 2 naming the top cause; the rows set "
        "aside go to DIR/refused/<table>.csv and DIR is otherwise unchanged",
    )
    p.add_argument("--quiet", action="store_true", help="print only the one-line totals")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Import, write and print the summary."""
    from kpi._sanitize import terminal_safe
    from kpi.errors import KpiError
    from kpi.io import import_file

    if args.skip_rows is not None and args.skip_rows < 0:
        raise KpiError(f"--skip-rows must be 0 or more, got {args.skip_rows}")
    try:
        result = import_file(
            args.input,
            preset=args.preset,
            mapping=args.mapping,
            out=args.out,
            tz=args.tz,
            append=args.append,
            delimiter=args.delimiter,
            encoding=args.encoding,
            sheet=args.sheet,
            skip_rows=args.skip_rows,
            threshold_s=args.threshold_s,
            short_abandon_s=args.short_abandon_s,
            interval_min=args.interval_min,
            raw_csv=args.raw_csv,
            max_quarantine_share=args.max_quarantine_share,
        )
    except OSError as exc:  # the library names its paths; this is the last net for one line
        raise KpiError(f"{exc.filename or args.out}: {exc.strerror or exc}") from None
    r = result.report
    if args.quiet:
        line = (
            f"{r.input}: read {r.read:,}, loaded {r.loaded:,}, quarantined {r.quarantined:,} "
            f"-> {args.out}/{result.table}.parquet"
        )
        print(terminal_safe(line))
    else:  # reasons and examples quote values from the file: never raw to the terminal
        print(terminal_safe(r.summary()))
    for part in result.also:  # further tables the same file fed ([surveys])
        p = part.report
        if args.quiet:
            print(
                terminal_safe(
                    f"  and {part.table}: read {p.read:,}, loaded {p.loaded:,}, "
                    f"quarantined {p.quarantined:,} -> {args.out}/{part.table}.parquet"
                )
            )
        else:
            print(terminal_safe(p.summary()))
    return 0
