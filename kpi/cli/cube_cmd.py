"""``kpi cube``: build, describe or clear the measure cube of a dataset directory."""

from __future__ import annotations

import argparse
import json
import sys

from kpi.cli._common import csv_list

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``cube`` subcommand."""
    p = sub.add_parser(
        "cube",
        help="build, describe or clear the measure cube that makes explorers interactive",
        description="The measure cube holds the measures that roll up exactly (sums, maxima, "
        "the agents of each cell, FCR's repeat flags, peak-hour sums) aggregated by quarter "
        "hour and day in the site's local time and by site, team, queue, channel, topic, "
        "direction and priority, with smaller levels made from those (hours, single "
        "dimensions, totals), days and months by team and agent (days by agent alone too), "
        "the queue sweep (most waiting) by each single dimension (and per day by agent and by "
        "each pair of dimensions), each day's busiest hour by agent and by topic with another "
        "dimension, and customers counted from their first contact in each bin (contacts per "
        "customer), read in chunks of whole months (FCR stays exact), kept in DIR/.kpi-cube/ "
        "and keyed by the data's files. kpi compute, the views and the explorers roll KPIs up "
        "from the smallest level that answers (same values as from the rows) and read the rows "
        "otherwise; the trend explorer builds it on first use for a million rows or more. "
        "The agents of each cell, FCR's repeat flags, the customers' counts, the queue sweeps "
        "and the busiest hours are parts of their own: an explorer's first use builds the "
        "core (sums and maxima) and adds each part when a KPI first needs it. "
        "build: (re)build it, every part (with --metrics: the core and the parts those KPIs "
        "need, or only the parts a fresh cube lacks); info: where it is, whether it is fresh, "
        "its sizes, the parts not built yet; clear: remove it.",
        epilog="Examples: kpi cube build --data DIR (every part, ahead of the explorers); "
        "kpi cube build --data DIR --metrics service_level,aht,fcr (what a scheduled "
        "notebook draws: the core, about one scorecard's time, and FCR's repeat flags)",
    )
    p.add_argument("action", choices=("build", "info", "clear"), help="what to do")
    p.add_argument("--data", required=True, metavar="DIR", help="dataset directory")
    p.add_argument("--format", choices=("text", "json"), default="text", help="info output")
    p.add_argument(
        "--metrics",
        type=csv_list,
        help="build: only what these KPIs need (ids, comma-separated, or 'all'): the core and "
        "their parts, or the parts a fresh cube lacks; the other parts wait until a KPI needs "
        "them",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build, describe or clear the cube of ``--data``."""
    from kpi import cube
    from kpi.compute import dataset_params
    from kpi.data import load
    from kpi.errors import KpiError

    if args.metrics is not None and args.action != "build":
        raise KpiError(f"--metrics applies to `kpi cube build`, not `kpi cube {args.action}`")
    if args.metrics is not None and not args.metrics:
        raise KpiError("--metrics names no KPI (ids, comma-separated, or 'all')")
    if args.action == "build":
        ds = load(args.data)
        params, progress = dataset_params(ds), not args.quiet
        if args.metrics is None:
            print(cube.build(args.data, params=params, progress=progress))
            return 0
        done = cube.build_for(args.data, args.metrics, params=params, progress=progress)
        found = cube.info(args.data)
        print(found["where"])
        if not done:
            said = f"no part to add for {', '.join(dict.fromkeys(args.metrics))}"
        else:
            said = f"parts {'built' if 'core' in done else 'added'}: {', '.join(done)}"
        if found["pending"]:
            said += f"; not built yet (until a KPI needs them): {', '.join(found['pending'])}"
        print(said)
        return 0
    if args.action == "clear":
        load(args.data, check=False)  # a dataset directory, or a one-line error
        print("removed" if cube.clear(args.data) else "no cube to remove")
        return 0
    load(args.data, check=False)  # a dataset directory, or a one-line error
    found = cube.info(args.data)
    if args.format == "json":
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
        return 0
    if not found["exists"]:
        print(f"no cube in {found['where']} (run `kpi cube build --data {args.data}`)")
        return 0
    state = "fresh" if found["fresh"] else "stale (the data changed: run `kpi cube build`)"
    print(f"{found['where']}: {state}, built in {found['seconds']} s")
    if found["pending"]:
        print(
            f"  not built yet: {', '.join(found['pending'])} (built when a KPI first needs "
            f"them, or by `kpi cube build --data {args.data}`); their KPIs read the rows"
        )
    for lv in found["levels"]:
        dims = ", ".join(lv["dims"]) or "no dimension"
        print(
            f"  {lv['table']} by {lv['time']}, {lv['level']} ({lv['grain']} by {dims}): "
            f"{lv['measures']} measures, {lv['cells']:,} cells, {lv['bytes'] / 1e6:.1f} MB"
        )
    return 0
