"""Benchmark: required agents for many intervals at once (Erlang C and Erlang A).

Goal (issue 6): required agents for 10,000 intervals in under one second.

    .venv/bin/python bench/bench_staffing.py                # 10,000 intervals, 5 repeats
    .venv/bin/python bench/bench_staffing.py --intervals 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--intervals", type=int, default=10_000, help="intervals (default 10000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument("--max-load", type=float, default=500.0, help="largest load in Erlangs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from kpi import staffing

    rng = np.random.default_rng(args.seed)
    volume = rng.uniform(0, args.max_load * 1800 / 240, args.intervals)  # contacts per 30 min
    aht = rng.uniform(120, 480, args.intervals)
    load = staffing.load_erlangs(volume, aht_s=aht, interval_s=1800)
    cases = {
        "Erlang C, SL 80/20 + occupancy 0.9": {
            "target_sl": 0.8, "threshold_s": 20, "max_occupancy": 0.9,
        },
        "Erlang C, SL 80/20 + ASA 30 s": {"target_sl": 0.8, "threshold_s": 20, "target_asa_s": 30},
        "Erlang A (patience 120 s), SL 80/20": {
            "target_sl": 0.8, "threshold_s": 20, "patience_s": 120.0,
        },
        "Erlang A (patience 120 s), SL 80/20 + abandon 5%": {
            "target_sl": 0.8, "threshold_s": 20, "patience_s": 120.0, "max_abandon": 0.05,
        },
    }  # fmt: skip
    print(
        f"{args.intervals:,} intervals, loads 0-{args.max_load:g} Erlangs, AHT 120-480 s; "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    for name, kw in cases.items():
        staffing.required_agents(load[:100], aht_s=aht[:100], **kw)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            agents = staffing.required_agents(load, aht_s=aht, **kw)
            times.append(time.perf_counter() - t0)
        total = staffing.round_up(float(np.sum(agents)))
        print(
            f"{name:<50} median {statistics.median(times):.3f} s  "
            f"(min {min(times):.3f}, max {max(times):.3f}); total agents {total:,}"
        )


if __name__ == "__main__":
    main()
