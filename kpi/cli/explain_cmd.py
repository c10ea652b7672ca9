"""``kpi explain``: why a KPI moved, from a leaf-level table (``--table``) or a dataset (``--data``).

``--table FILE`` explains the difference between two measure columns of a table of segments (a
forecast and an actual, or two periods) with :mod:`kpi.rca`. ``--data DIR`` (the contacts
explanation of :mod:`kpi.explain`: drivers, segments, narrative) explains a KPI between two
periods of a dataset; both modes print the same JSON shape: ``metric``, ``baseline``, ``current``, ``change``, ``drivers``, ``segments``,
``narrative``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from kpi.cli._common import csv_list, number, out_file, period_arg, positive_int

__all__ = ["register"]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand."""
    p = sub.add_parser(
        "explain",
        help="explain why a KPI moved: the segments (and drivers) behind a change",
        description="Explain a change. With --table FILE: a leaf-level table of segments with a "
        "baseline and a current measure column (for example a forecast and an actual); the "
        "search finds the smallest set of segments (conjunctions of dimension values over one "
        "to all dimensions) that explains the deviations, with each segment's contribution, "
        "share of the change, confidence and evidence, and a narrative. With --data DIR: why a "
        "KPI of a dataset moved between two periods: its driver decomposition, the segments "
        "that explain it (with mix and rate effects for ratios) and a narrative.",
        epilog="Examples: kpi explain --data data/samples --metric contacts_handled --baseline "
        "2026-01 --current 2026-02 --dims team,channel,queue,topic | kpi explain --table b0.csv.gz --dims a,b,c,d --baseline-col predict "
        "--current-col real --format json | kpi explain --table sl.parquet --dims team,channel "
        "--baseline-col ok_jan --current-col ok_feb --ratio offered_jan,offered_feb",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--table", metavar="FILE", help="leaf-level table: .csv, .csv.gz or .parquet")
    src.add_argument("--data", metavar="DIR", help="dataset directory (contacts explanation)")
    p.add_argument(
        "--dims",
        type=csv_list,
        default=None,
        help="dimension columns, comma-separated (--data default: team,channel,queue,topic)",
    )
    p.add_argument("--metric", help="--data: the KPI id to explain (see `kpi metrics`)")
    p.add_argument(
        "--baseline",
        metavar="PERIOD",
        type=period_arg,
        help="--data: baseline period (2026-01, 2026-W05, ...; years 1900 to 2100)",
    )
    p.add_argument("--current", metavar="PERIOD", type=period_arg, help="--data: current period")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KPI.PARAM=VALUE",
        help="--data: definition variant of the KPI, repeatable",
    )
    p.add_argument(
        "--baseline-col",
        metavar="COL",
        help="--table: baseline (or forecast) measure column; for a ratio, its numerator",
    )
    p.add_argument(
        "--current-col",
        metavar="COL",
        help="--table: current (or actual) measure column; for a ratio, its numerator",
    )
    p.add_argument(
        "--ratio",
        type=csv_list,
        metavar="A,B",
        help="--table, ratio KPI: the denominator columns DEN_BASELINE,DEN_CURRENT (the KPI is "
        "current-col / DEN_CURRENT against baseline-col / DEN_BASELINE); or NUM,DEN measure "
        "names, read from the columns NUM_<baseline-col>, DEN_<baseline-col>, NUM_<current-col>, "
        "DEN_<current-col>",
    )
    p.add_argument(
        "--scale",
        type=number(low=0, high=1e6, low_open=True),
        default=1.0,
        help="--table, ratio KPI: factor for the rates in the output (100 for percent; above 0, "
        "at most 1e6)",
    )
    p.add_argument("--label", help="--table: name of the KPI in the narrative")
    p.add_argument(
        "--max-segments", type=positive_int, default=10, help="most segments returned (10)"
    )
    p.add_argument(
        "--max-layer",
        type=positive_int,
        default=None,
        help="most dimensions in one segment (default: all)",
    )
    p.add_argument(
        "--format",
        choices=("md", "json"),
        default="md",
        help="output format (md); control characters from the data are escaped in both",
    )
    p.add_argument(
        "--out",
        type=out_file,
        metavar="FILE",
        help="write to this file instead of standard output (atomically)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Explain and print (or write) the result."""
    from kpi._sanitize import terminal_safe
    from kpi.cli._common import emit_text, json_text

    result = _run_table(args) if args.table else _run_data(args)
    if args.format == "json":
        text = json_text(_clean(result.to_dict()), ensure_ascii=False)
    else:  # segment names and narratives come from the data: no terminal control reaches it
        text = terminal_safe(result.to_markdown())
    emit_text(text, args.out)
    return 0


def _run_data(args: argparse.Namespace) -> Any:
    """``--data DIR``: the dataset explanation of :func:`kpi.explain.explain`."""
    from kpi.cli.compute_cmd import parse_params
    from kpi.errors import KpiError
    from kpi.explain import explain

    missing = [f"--{k}" for k in ("metric", "baseline", "current") if not getattr(args, k)]
    if missing:
        raise KpiError(f"{', '.join(missing)} required with --data")
    params = {}
    for key, value in parse_params(args.param).items():
        kpi_id, _, name = key.partition(".")
        if kpi_id != args.metric:
            raise KpiError(f"--param {key}: only parameters of {args.metric} apply here")
        params[name] = value
    return explain(
        args.data,
        args.metric,
        baseline=args.baseline,
        current=args.current,
        dims=args.dims or None,
        params=params,
        max_segments=args.max_segments,
    )


def read_table(path: str):
    """A LazyFrame over a .csv, .csv.gz or .parquet file, with clear errors."""
    import polars as pl

    from kpi.errors import KpiError

    p = Path(path)
    name = p.name.lower()
    if not name.endswith(TABLE_SUFFIXES):
        raise KpiError(
            f"unsupported table file {path!r}; valid types: {', '.join(TABLE_SUFFIXES)}"
        )
    if not p.is_file():
        raise KpiError(f"no such file: {path}")
    try:
        if name.endswith(".parquet"):
            lf = pl.scan_parquet(p)
        elif name.endswith(".csv.gz"):
            lf = pl.read_csv(p, infer_schema_length=10_000).lazy()
        else:
            lf = pl.scan_csv(p, infer_schema_length=10_000)
        lf.collect_schema()  # a damaged file is refused here, naming it, not halfway through
        return lf
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise KpiError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def _ratio_columns(
    cols: list[str], baseline: str, current: str, ratio: list[str]
) -> tuple[str, str, tuple[str, str]]:
    """Resolve ``--ratio`` to (numerator baseline, numerator current, denominators)."""
    from kpi.errors import KpiError

    if len(ratio) != 2:
        raise KpiError(f"--ratio takes two names separated by a comma, got {','.join(ratio)!r}")
    a, b = ratio
    if all(c in cols for c in (baseline, current, a, b)):
        return baseline, current, (a, b)
    stems = (f"{a}_{baseline}", f"{a}_{current}", f"{b}_{baseline}", f"{b}_{current}")
    if all(c in cols for c in stems):
        return stems[0], stems[1], (stems[2], stems[3])
    raise KpiError(
        f"--ratio {a},{b}: expected either the columns {baseline}, {current} (numerators) and "
        f"{a}, {b} (denominators), or the columns {', '.join(stems)}; the table has: "
        f"{', '.join(cols)}"
    )


def _run_table(args: argparse.Namespace) -> Any:
    from kpi import rca
    from kpi.errors import KpiError

    lf = read_table(args.table)
    cols = lf.collect_schema().names()
    if not args.dims:
        raise KpiError(f"--dims is required with --table; columns of the table: {', '.join(cols)}")
    if not args.baseline_col or not args.current_col:
        raise KpiError(
            "--baseline-col and --current-col are required with --table; columns of the "
            f"table: {', '.join(cols)}"
        )
    baseline, current, den = args.baseline_col, args.current_col, None
    if args.ratio:
        baseline, current, den = _ratio_columns(cols, baseline, current, args.ratio)
    return rca.localize(
        lf,
        dims=args.dims,
        baseline=baseline,
        current=current,
        ratio=den,
        scale=args.scale,
        metric=args.label,
        max_elements=args.max_segments,
        max_layer=args.max_layer,
    )


def _clean(x: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x
