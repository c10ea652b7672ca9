"""``kpi compute``: KPIs by dimension and grain as a wide table."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kpi.cli._common import add_definitions, add_raw_csv, csv_list, out_file, period_arg

if TYPE_CHECKING:
    import polars as pl

__all__ = ["register", "whole_counts"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compute`` subcommand."""
    from kpi.periods import GRAINS

    p = sub.add_parser(
        "compute",
        help="compute KPIs by dimension and grain",
        description="Compute KPIs from a dataset directory and print or write a wide table: the "
        "group columns, then one column per KPI id. The definitions in force go with it: under "
        "the table, in the JSON object, in the Parquet metadata, and, since CSV holds only rows, "
        "in a JSON file for CSV: --definitions FILE, or FILE.definitions.json beside --out "
        "FILE.csv.",
        epilog="Example: kpi compute --data data/samples --metrics service_level,aht --by team "
        "--every 1mo --param service_level.threshold_s=30",
    )
    p.add_argument(
        "--data", required=True, help="dataset directory (as written by kpi sample/import)"
    )
    p.add_argument(
        "--metrics", required=True, type=csv_list, help="KPI ids, comma-separated, or 'all'"
    )
    p.add_argument("--by", type=csv_list, default=[], help="dimension columns, comma-separated")
    p.add_argument(
        "--every", choices=GRAINS, help="grain (local time of the site); default: whole range"
    )
    p.add_argument(
        "--start",
        type=period_arg,
        help="first day (ISO date or period, inclusive; years 1900 to 2100)",
    )
    p.add_argument(
        "--end",
        type=period_arg,
        help="last day (ISO date or period, inclusive; years 1900 to 2100)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KPI.PARAM=VALUE",
        help="definition variant, repeatable (see `kpi metrics`)",
    )
    p.add_argument(
        "--targets",
        help="targets TOML file: adds <kpi>_target and <kpi>_status columns; its [objectives] "
        "set each queue's service objective (used with service_level.threshold_s=objective)",
    )
    p.add_argument(
        "--attribution",
        choices=("arrival", "answer", "completion"),
        default="arrival",
        help="which contact time places a contact in a bin (default arrival)",
    )
    p.add_argument(
        "--measures", action="store_true", help="also output the measures behind the KPIs"
    )
    p.add_argument(
        "--chunk",
        choices=GRAINS,
        metavar="GRAIN",
        help="for data larger than memory: compute chunk by chunk of this grain (e.g. 1mo or 1y; "
        "needs --every); same values; the rows are held a chunk at a time, and in csv, json and "
        "parquet so is the result (each chunk's rows go to a temporary directory, $TMPDIR, "
        "then out in order a batch at a time); a progress line per chunk on standard error",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines with --chunk")
    p.add_argument(
        "--engine",
        choices=("polars", "duckdb", "spark"),
        default="polars",
        help="where the row-level stage runs (default polars): duckdb, or spark (the active "
        "session or local mode; needs the [spark] extra and Java 17+); the KPIs whose measures "
        "have a SQL form, same values; see docs/scale-out.md",
    )
    p.add_argument(
        "--format",
        choices=("table", "csv", "json", "parquet"),
        default="table",
        help="output format (default table; parquet needs --out); text from the data is "
        "escaped in table, made inert for spreadsheets in csv (see --raw-csv)",
    )
    add_raw_csv(p)
    add_definitions(p)
    p.add_argument(
        "--out",
        type=out_file,
        metavar="FILE",
        help="write to this file instead of standard output (atomically: the old file stays "
        "whole until the new one is complete)",
    )
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, str]:
    """``["a.b=1"]`` -> ``{"a.b": "1"}``, with a clear error for malformed items.

    A value that reads as a number must be finite (``1e400``, ``inf`` and ``nan`` are refused);
    the KPI's own parameter then checks its type, choices and minimum.

    Examples
    --------
    >>> parse_params(["service_level.threshold_s = 30"])
    {'service_level.threshold_s': '30'}
    >>> parse_params(["service_level.threshold_s=1e400"])
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: bad --param 'service_level.threshold_s=1e400': the value must be a finite number
    """
    import math

    from kpi.errors import KpiError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise KpiError(
                f"bad --param {item!r}: write KPI.PARAM=VALUE, e.g. service_level.threshold_s=30"
            )
        try:
            finite = math.isfinite(float(value))
        except ValueError:
            finite = True  # not a number: a word such as "offered", checked by the KPI
        if not finite:
            raise KpiError(f"bad --param {item!r}: the value must be a finite number")
        out[key.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    """Compute and output."""
    from pathlib import Path

    import polars as pl

    from kpi.cli._common import write_batches, write_frame
    from kpi.compute import evaluate
    from kpi.errors import KpiError
    from kpi.targets import load_targets, status_columns

    if args.format == "parquet" and not args.out:
        raise KpiError("--format parquet needs --out FILE (Parquet is not for a terminal)")
    if (
        args.definitions
        and args.out
        and Path(args.definitions).resolve() == Path(args.out).resolve()
    ):
        raise KpiError("--definitions and --out name the same file; give two files")
    params = parse_params(args.param)
    if args.start is not None or args.end is not None:
        require_rows(args.data, args.metrics, params, args.start, args.end)
    targets = load_targets(args.targets) if args.targets else None
    if targets is not None:  # the file's [objectives] judge service level by each queue's own
        params = targets.with_objectives(params)
    result = evaluate(
        args.data,
        args.metrics,
        by=args.by,
        every=args.every,
        start=args.start,
        end=args.end,
        params=params,
        attribution=args.attribution,
        measures=args.measures,
        chunk=args.chunk,
        progress=not args.quiet,
        engine=args.engine,
    )
    text = args.format in ("table", "csv", "json")

    def finish(df: pl.DataFrame, whole: list[str] | None = None) -> pl.DataFrame:
        if targets is not None:
            df = status_columns(df.lazy(), result.metrics, targets, params=params).collect()
        if text:
            df = whole_counts(df, result.units, whole=whole)
        if "period" in df.columns and text:
            df = df.with_columns(pl.col("period").dt.strftime("%Y-%m-%d %H:%M %Z"))
        return df

    options = {"meta": result.meta(), "raw_csv": args.raw_csv, "definitions": args.definitions}

    def noted(nulls: list[str]) -> dict[str, Any]:
        """``options`` with a note for each KPI of ``nulls`` null throughout (:func:`empty_notes`)."""
        empty = empty_notes(nulls, result.params, result.notes)
        meta = (
            {**options["meta"], "notes": {**result.notes, **empty}} if empty else options["meta"]
        )
        return {**options, "meta": meta}

    if result.spill is None or args.format == "table":
        df = result.frame.collect()
        nulls = [c for c in result.metrics if c in df.columns and df[c].null_count() == df.height]
        write_frame(finish(df), args.format, args.out, **noted(nulls if df.height else []))
        return 0
    with result.spill() as spill:  # chunk by chunk: the result is never held whole
        whole = spill.whole(result.units)
        options = noted(spill.empty(result.metrics))
        batches = (finish(batch, whole) for batch in spill.batches())
        write_batches(batches, args.format, args.out, **options)
    return 0


def empty_notes(
    nulls: list[str], params: dict[str, dict[str, Any]], notes: dict[str, str]
) -> dict[str, str]:
    """A note for each KPI of ``nulls`` (null in every row of a result) that has no note yet:
    its inputs are in the data, but what it divides by is not in these rows (no deferred
    contacts for a response objective), so the empty value is said, not left to look like a
    fault.

    Examples
    --------
    >>> empty_notes(["response_within_objective"], {}, {})
    {'response_within_objective': 'null: none of the rows it divides by (deferred contacts answered) is in the data or range asked for'}
    """
    from kpi.metrics import METRICS

    out = {}
    for kpi_id in nulls:
        if kpi_id in notes:
            continue
        build = METRICS[kpi_id].build(METRICS[kpi_id].resolve_params(params.get(kpi_id)))
        what = build.denominator.text if build.denominator is not None else build.numerator.text
        out[kpi_id] = (
            f"null: none of the rows it divides by ({what}) is in the data or range asked for"
            if build.denominator is not None
            else f"null: no {what} in the data or range asked for"
        )
    return out


def require_rows(
    data: str, metrics: str | list[str], params: dict[str, str], start: str | None, end: str | None
) -> None:
    """Refuse a range that is empty (``--start`` after ``--end``) or holds no row of any table
    the KPIs read: a row of nulls would look like an answer. The error names the range and what
    each table covers.

    Examples
    --------
    >>> from pathlib import Path
    >>> import kpi
    >>> d = str(Path(kpi.__file__).parents[1] / "data" / "samples")  # 2026-01-01 to 03-31
    >>> require_rows(d, ["contacts_offered"], {}, "2026-03", None)
    >>> require_rows(d, ["aht", "occupancy"], {}, "2030-01-01", "2030-01-31")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: no data from 2030-01-01 to 2030-01-31: agent_time cover 2026-01-01 to 2026-03-31; contacts cover 2026-01-01 to 2026-03-31
    >>> require_rows(d, ["contacts_offered"], {}, "2026-02-01", "2026-01-01")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: --start 2026-02-01 is after --end 2026-01-01: the range is empty
    """
    import polars as pl

    from kpi.compute import dataset_params
    from kpi.data import load
    from kpi.errors import KpiError
    from kpi.metrics import resolve
    from kpi.periods import to_timestamp
    from kpi.schema import TABLES

    ds = load(data)
    lo, hi = to_timestamp(start, ds.tz), to_timestamp(end, ds.tz, end=True)
    if lo is not None and hi is not None and lo >= hi:
        raise KpiError(f"--start {start} is after --end {end}: the range is empty")
    read = {
        t
        for m, p in resolve(metrics, dataset_params(ds, params))
        for meas in m.build(p).measures
        for t in meas.source_tables
    }
    covered = []
    for name in sorted(read & set(ds.tables)):
        column = TABLES[name].time_column if name in TABLES else None
        lf = ds[name]
        schema = lf.collect_schema()
        if column is None or column not in schema:
            continue  # no time column (agents, customers): not what a range is about
        x = pl.col(column)  # zone-aware: a loaded dataset's times are
        inside = pl.lit(True)
        inside = inside & (x >= lo) if lo is not None else inside
        inside = inside & (x < hi) if hi is not None else inside
        if lf.filter(inside).head(1).collect().height:
            return
        first, last = lf.select(x.min(), x.max().alias("_hi")).collect().row(0)
        covered.append(
            f"{name} cover {first.date().isoformat()} to {last.date().isoformat()}"
            if first is not None
            else f"{name} is empty"
        )
    if not covered:
        return  # none of the tables read: the KPIs say why they are unavailable
    shown = f"from {start or 'the start'} to {end or 'the end'}"
    raise KpiError(f"no data {shown}: {'; '.join(covered)}")


def whole_counts(
    df: pl.DataFrame, units: dict[str, str], *, whole: list[str] | None = None
) -> pl.DataFrame:
    """Count KPIs whose values are all whole printed as integers (``43065``, not ``43065.0``);
    averages of counts (per agent, per customer) keep their decimals, unknowns stay null.

    ``whole``: the columns known to be all whole (in every batch of a result written in
    batches); by default, those of ``df``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"contacts_offered": [43065.0, None], "handled_per_agent": [2.5, 3.0]})
    >>> whole_counts(df, {"contacts_offered": "count", "handled_per_agent": "count"}).rows()
    [(43065, 2.5), (None, 3.0)]
    """
    import polars as pl

    ints = [
        c
        for c, unit in units.items()
        if unit == "count"
        and c in df.columns
        and df.schema[c].is_float()
        and (c in whole if whole is not None else bool(((df[c].drop_nulls() % 1) == 0).all()))
    ]
    return df.with_columns(pl.col(c).round().cast(pl.Int64) for c in ints) if ints else df
