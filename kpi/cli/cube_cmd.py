"""``kpi cube``: build, describe or clear the measure cube of a dataset directory."""

from __future__ import annotations

import argparse
import json
import sys

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
        "build: (re)build it, every part; info: where it is, whether it is fresh, its "
        "sizes, the parts not built yet; clear: remove it.",
    )
    p.add_argument("action", choices=("build", "info", "clear"), help="what to do")
    p.add_argument("--data", required=True, metavar="DIR", help="dataset directory")
    p.add_argument("--format", choices=("text", "json"), default="text", help="info output")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build, describe or clear the cube of ``--data``."""
    from kpi import cube
    from kpi.compute import dataset_params
    from kpi.data import load

    if args.action == "build":
        ds = load(args.data)
        where = cube.build(args.data, params=dataset_params(ds), progress=not args.quiet)
        print(where)
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
