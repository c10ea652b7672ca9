"""Gather the measured figures of every benchmark into ``bench/RESULTS.md``.

Each benchmark script writes its own ``bench/results-<topic>.md``; this script puts them in one
file, in a fixed order, under a short table of the goals. Run it after any benchmark:
``.venv/bin/python bench/collect_results.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "simulate",
    "compute",
    "cube",
    "engines",
    "explain",
    "rca",
    "staffing",
    "forecast",
    "schedule",
    "trends",
    "report",
]
GOALS = """\
| benchmark | goal (issue) | script |
|---|---|---|
| simulator | 10 million contacts in under 3 minutes, with progress (2) | `bench_simulate.py` |
| KPI engine | ≤ 0.8× DuckDB and ≥ 4× faster than pandas on 10M rows; 100M rows streamed in < 8 GB (3) | `bench_compute.py` |
| measure cube | explorer redraw p95 < 300 ms at 10M contacts for every KPI (< 1 s at 100M); build ≤ one scorecard (~15 s) with bounded memory; 100M from Parquet in < 8 GB (18) | `bench_cube.py`, `bench_explorer.py` (the whole redraw callback) |
| KPI engines | the same KPIs on polars, DuckDB and local Spark (2 cores), 1M/10M/100M contacts, agreeing to 1e-9; a projection for 10 billion contacts on a cluster (19) | `bench_engines.py` |
| explanation | true cause first in ≥ 90% of ≥ 30 simulated cases; 10M contacts × 4 dims in < 5 s (5) | `bench_explain.py` |
| root-cause search | micro F1 ≥ 0.97 on B0, < 2 s per 21,600-leaf instance, robust on ratios (9) | `bench_rca.py` |
| staffing | required agents for 10,000 intervals in < 1 s (6) | `bench_staffing.py` |
| forecast | ≥ 10% lower WAPE than the 4-week average and the best peer on the Technion 1999 arrivals (15 and 30 min); a queue-week < 1 s; 100 queues × a year of 30 min < 60 s (16) | `bench_forecast.py` |
| schedule | a week of 15-minute requirements, 150 agents, 2 skills: within 2% of the LP bound in 60 s on 2 cores, overstaffing ≤ 8%; pyworkforce side by side (17) | `bench_schedule.py` |
| trends | (no goal set; measured for information) | `bench_trends.py` |
| reports | standard set on the sample < 30 s; on 1M contacts < 90 s (8) | `bench_report.py` |
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args(argv)
    parts = [
        "# Benchmark results",
        "",
        "Measured on this project's machines (2 cores, 24 GiB). Each section below is written by its",
        "script (`bench/results-<topic>.md`, gathered by `bench/collect_results.py`) and states its",
        "date, command and the load on the machine at the time; wall times taken while other work",
        "ran on the same 2 cores are inflated, and the sections say so where it applies.",
        "",
        GOALS,
    ]
    for topic in ORDER:
        f = HERE / f"results-{topic}.md"
        if f.exists():
            text = f.read_text().strip()
            lines = text.splitlines()
            if lines and lines[0].startswith("# "):
                lines[0] = "#" + lines[0]  # one level down under the file's title
            parts += ["", "\n".join(lines)]
        else:
            parts += [
                "",
                f"## {topic}",
                "",
                f"Not measured yet (`bench/results-{topic}.md` missing).",
            ]
    Path(args.out).write_text("\n".join(parts) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
