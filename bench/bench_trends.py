"""Benchmark: kpi.trends on a year of contacts (change, rolling, anomalies, change points, events).

What is timed: each call below from the dataset on disk to the collected result (reading the
Parquet columns, computing the KPIs with ``kpi.compute`` and the trend on top), best of
``--repeats`` runs, wall and CPU seconds (all threads; steadier on a shared machine). The
compute alone (``evaluate(...).frame.collect()``) is timed first for each grain, so the cost
of the trend on top of the KPI computation is visible.

Data: ``bench/_contacts_gen.py`` (a year, 2025, Europe/London, 8 teams), written once to
``bench/data/trends_<n>/`` (git-ignored), or any dataset directory given with ``--data``.

    .venv/bin/python bench/bench_trends.py                    # 1 million contacts
    .venv/bin/python bench/bench_trends.py --rows 200000 --repeats 1
    .venv/bin/python bench/bench_trends.py --data bench/data/contacts_10m
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time (all threads) over ``repeats`` calls, and the result."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="contacts to generate")
    ap.add_argument("--data", type=Path, help="use this dataset directory instead")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (best kept)")
    args = ap.parse_args(argv)

    import polars as pl

    from kpi import evaluate, load
    from kpi.trends import anomalies, attach_events, change, change_points, rolling

    if args.data is None:
        from _contacts_gen import write_dataset

        path = HERE / "data" / f"trends_{args.rows}"
        if not (path / "contacts.parquet").exists():
            print(f"generating {args.rows:,} contacts in {path}", file=sys.stderr)
            write_dataset(args.rows, path)
    else:
        path = args.data
    ds = load(path)
    n_rows = ds["contacts"].select(pl.len()).collect().item()
    kpis = "contacts_handled,aht,service_level,abandon_rate"
    events = pl.DataFrame(
        {
            "start_ts": pl.datetime_range(
                dt.datetime(2025, 1, 3), dt.datetime(2025, 12, 20), "7d", eager=True
            ),
        }
    ).with_columns(
        pl.col("start_ts").dt.replace_time_zone(ds.tz),
        end_ts=pl.lit(None, pl.Datetime("us", ds.tz)),
        label=pl.format("event {}", pl.int_range(pl.len())),
        team=pl.lit(None, pl.String),
    )
    hourly = evaluate(ds, "contacts_offered,aht,service_level", by="team", every="1h")
    daily = evaluate(ds, "aht,contacts_handled", by="team", every="1d")
    runs: list[tuple[str, Callable[[], object]]] = [
        (
            "compute only: 4 KPIs by team, month",
            lambda: evaluate(ds, kpis, by="team", every="1mo").frame.collect(),
        ),
        (
            "change: 4 KPIs by team, month, previous + year + target",
            lambda: change(ds, kpis, by="team", every="1mo").frame.collect(),
        ),
        (
            "compute only: 4 KPIs by team, day",
            lambda: evaluate(ds, kpis, by="team", every="1d").frame.collect(),
        ),
        (
            "change: 4 KPIs by team, day",
            lambda: change(ds, kpis, by="team", every="1d").frame.collect(),
        ),
        ("compute only: 3 KPIs by team, hour", lambda: hourly.frame.collect()),
        (
            "rolling 7d exact AHT by team, hour",
            lambda: rolling(hourly, "aht", window="7d").frame.collect(),
        ),
        (
            "anomalies contacts_offered by team, hour",
            lambda: anomalies(hourly, "contacts_offered").frame.collect(),
        ),
        (
            "anomalies service_level by team, hour",
            lambda: anomalies(hourly, "service_level").frame.collect(),
        ),
        (
            "change points AHT by team, day (collects)",
            lambda: change_points(daily, "aht", season="1w").frame.collect(),
        ),
        (
            "events on AHT by team, day",
            lambda: attach_events(daily, events, every="1d").frame.collect(),
        ),
    ]
    print(f"# kpi.trends benchmark, {dt.date.today()}")
    print()
    print(
        f"{n_rows:,} contacts ({path}); polars {pl.__version__}; python "
        f"{platform.python_version()}; {os.cpu_count()} CPUs; best of {args.repeats}"
    )
    print()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print()
    print("| step | rows out | best wall (s) | best CPU (s) |")
    print("|---|---:|---:|---:|")
    for name, fn in runs:
        secs, cpu, out = best_of(fn, args.repeats)
        height = out.height if isinstance(out, pl.DataFrame) else 0
        print(f"| {name} | {height:,} | {secs:.3f} | {cpu:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
