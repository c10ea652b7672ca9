"""The trend explorer's whole callback at 10 million contacts: a control change to the new output.

``bench_cube.py`` times the compute step of a redraw (``evaluate(...).collect()``). This times
what the analyst waits for after changing a control of :func:`kpi.widgets.trend_explorer`:
``Explorer.refresh()`` (the KPI's frame from the cube, the chart with its anomalies and levels,
the findings, and each output's Vega-Lite spec and offline HTML), for every KPI the data offers
at the views of ``bench_cube.py``; intraday grains over one month (the explorer limits them to
:data:`kpi.widgets.MAX_INTRADAY_DAYS` days), the others over the whole range.

Run with the cube built (``kpi cube build --data DIR``)::

    .venv/bin/python bench/bench_explorer.py --data DIR [--kpis a,b] [--out FILE.md]

The goal (issue 18): p95 under 300 ms for every KPI at 10 million contacts, under 1 s at 100
million; the verdict line says whether each KPI's slowest view meets the limit given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path

VIEWS = [
    ("1d", ""),
    ("1w", "topic"),
    ("1mo", "team"),
    ("1h", "queue"),
    ("15m", ""),
    ("1d", "channel"),
    ("1d", "agent_id"),
    ("1h", "direction"),
]
INTRADAY = ("15m", "30m", "1h")


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a dataset directory, cube built")
    ap.add_argument("--kpis", help="comma-separated KPI ids (default: every KPI offered)")
    ap.add_argument("--month", default="2025-10", help="the month of the intraday views")
    ap.add_argument("--limit-ms", type=float, default=300.0, help="the goal (default 300)")
    ap.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = ap.parse_args()

    import kpi
    from kpi.widgets import trend_explorer

    ds = kpi.load(args.data)
    began = time.perf_counter()
    ex = trend_explorer(ds, metric="service_level", every="1d")
    opened = time.perf_counter() - began
    kpis = args.kpis.split(",") if args.kpis else [v for _, v in ex.controls["metric"].options]
    lo = dt.date.fromisoformat(args.month + "-01")
    hi = (lo + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    times: dict[tuple[str, str, str], float] = {}
    for k in kpis:
        ex.controls["metric"].value = k
        for every, by in VIEWS:

            def choose(every: str = every, by: str = by) -> None:
                ex.controls["every"].value = every
                offered = [v for _, v in ex.controls["by"].options]
                ex.controls["by"].value = by if by in offered else ""
                ex.controls["start"].value = lo if every in INTRADAY else None
                ex.controls["end"].value = hi if every in INTRADAY else None

            ex.quietly(choose)
            began = time.perf_counter()
            ex.refresh()
            times[k, every, by] = time.perf_counter() - began
            if ex.error:
                print(f"{k} {every} {by or 'nothing'}: {ex.error}")
    every_ = list(times.values())
    lines = [
        f"# The trend explorer's whole callback: {args.data}",
        "",
        f"`bench/bench_explorer.py`, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; machine:"
        f" {platform.machine()}, {os.cpu_count()} cores, load average"
        f" {os.getloadavg()[0]:.1f}; Python {platform.python_version()}, polars"
        f" {__import__('polars').__version__}. Intraday views over {args.month}.",
        "",
        f"Explorer opened in {opened:.2f} s; {len(every_)} callbacks: p50"
        f" {_p(every_, 0.5) * 1e3:.0f} ms, p95 {_p(every_, 0.95) * 1e3:.0f} ms, max"
        f" {max(every_) * 1e3:.0f} ms.",
        "",
        "| view | p50 ms | p95 ms | max ms |",
        "| --- | --- | --- | --- |",
    ]
    for every, by in VIEWS:
        got = [t for (_, e, b), t in times.items() if (e, b) == (every, by)]
        lines.append(
            f"| {every} by {by or 'nothing'} | {statistics.median(got) * 1e3:.0f} |"
            f" {_p(got, 0.95) * 1e3:.0f} | {max(got) * 1e3:.0f} |"
        )
    lines += [
        "",
        "| KPI | p50 ms | p95 ms | max ms | slowest view |",
        "| --- | --- | --- | --- | --- |",
    ]
    worst = 0.0
    for k in kpis:
        got = {(e, b): t for (kk, e, b), t in times.items() if kk == k}
        slow = max(got, key=got.__getitem__)
        vals = list(got.values())
        worst = max(worst, _p(vals, 0.95))
        lines.append(
            f"| {k} | {statistics.median(vals) * 1e3:.0f} | {_p(vals, 0.95) * 1e3:.0f} |"
            f" {max(vals) * 1e3:.0f} | {slow[0]} by {slow[1] or 'nothing'} |"
        )
    met = "met" if worst * 1e3 < args.limit_ms else "**not met**"
    lines += [
        "",
        f"Goal: every KPI's p95 under {args.limit_ms:.0f} ms; the slowest KPI's p95"
        f" {worst * 1e3:.0f} ms: {met}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
