"""``kpi metrics``: print the KPI catalogue."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``metrics`` subcommand."""
    p = sub.add_parser(
        "metrics",
        help="list every KPI with its formula, unit, direction, variants and target",
        description="Print the KPI catalogue: id, perspective, key result area, unit, direction, "
        "formula (with default variants), variant parameters and default target.",
    )
    p.add_argument(
        "--format",
        choices=("table", "json", "metricflow"),
        default="table",
        help="output format; metricflow: dbt MetricFlow semantic-model and metric YAML (the "
        "KPIs whose measures have a SQL form, each variant a metric)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    import polars as pl

    from kpi.metrics import catalogue

    if args.format == "metricflow":
        from kpi.engines import metricflow_yaml

        sys.stdout.write(metricflow_yaml())
        return 0
    entries = catalogue()
    if args.format == "json":
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return 0
    rows = [
        {
            "id": e["id"],
            "perspective": e["perspective"],
            "kra": e["kra"],
            "unit": e["unit"],
            "better": e["direction"],
            "formula": e["formula"],
            "variants": ", ".join(
                f"{p['name'].split('.', 1)[1]}={p['default']}" for p in e["params"]
            ),
            "target": ""
            if not e["target"]
            else f"{e['target']['target']:g} (red {e['target']['red']:g})",
        }
        for e in entries
    ]
    with pl.Config(
        tbl_rows=200,
        tbl_width_chars=250,
        fmt_str_lengths=120,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
    ):
        print(pl.DataFrame(rows))
    print(
        f"{len(entries)} KPIs. Variants are set with --param KPI.PARAM=VALUE; see `kpi metrics --format json`."
    )
    return 0
