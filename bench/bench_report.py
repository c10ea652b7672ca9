"""Benchmark: render the standard report set (``kpi report --all``) to HTML.

What is timed: the command the scheduler runs, ``kpi report --all --data DIR --out TMP``, in a
fresh process, from start to exit (Python start-up, parameter checks, one Jupyter kernel per
report, the notebook's KPI computations, nbconvert export with the embedded Vega bundle,
atomic publishing and the index). Best of ``--repeats`` runs, wall seconds, plus the CPU
seconds of the process and its children (kernels). For the last run the per-report times
printed by ``kpi report`` and the slowest notebook cells (papermill records each cell's
duration in the executed notebook) are listed, so the cost can be attributed.

Data: the committed sample (``data/samples``, about 40,000 contacts a month), or a larger
simulated dataset: ``--contacts 1M`` writes ``kpi sample --scale 1M`` once to
``bench/data/report_<n>/`` (git-ignored) and renders on it.

    .venv/bin/python bench/bench_report.py                     # the sample data
    .venv/bin/python bench/bench_report.py --contacts 1M --repeats 1
    .venv/bin/python bench/bench_report.py --data path/to/dataset
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dataset(args: argparse.Namespace) -> Path:
    """The dataset to render on (generated once for ``--contacts``)."""
    if args.data:
        return args.data
    if not args.contacts:
        return ROOT / "data" / "samples"
    path = HERE / "data" / f"report_{args.contacts.lower()}"
    if not (path / "contacts.parquet").exists():
        print(f"generating {args.contacts} contacts into {path} ...", file=sys.stderr)
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "kpi",
                "sample",
                "--out",
                str(path),
                "--scale",
                args.contacts,
                "--no-csv",
                "--quiet",
            ],
            cwd=ROOT,
            check=True,
        )
        print(f"generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def run_once(
    data: Path, out: Path, names: list[str], extra: list[str]
) -> tuple[float, float, str, str]:
    """One ``kpi report`` run: wall seconds, CPU seconds (with kernels), stdout, stderr."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpi",
            "report",
            *(names or ["--all"]),
            "--data",
            str(data),
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"kpi report failed ({proc.returncode}):\n{proc.stderr}")
    return wall, _children_cpu() - cpu0, proc.stdout, proc.stderr


def slowest_cells(html_paths: list[Path], n: int) -> list[tuple[float, str, str]]:
    """The ``n`` slowest cells of the executed notebooks next to the HTML files."""
    import nbformat

    cells = []
    for html in html_paths:
        nb = nbformat.read(html.with_suffix(".ipynb"), as_version=4)
        for cell in nb.cells:
            duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
            if cell.cell_type == "code" and duration is not None:
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                cells.append((float(duration), html.parent.parent.name, first[:70]))
    return sorted(cells, reverse=True)[:n]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="dataset directory (default: data/samples)")
    ap.add_argument("--contacts", help="simulate this many contacts instead, e.g. 1M")
    ap.add_argument("--repeats", type=int, default=2, help="runs (best kept)")
    ap.add_argument("--static-charts", action="store_true", help="render static SVG charts")
    ap.add_argument("--jobs", type=int, help="kpi report --jobs (default: its own default)")
    ap.add_argument(
        "--names",
        nargs="+",
        default=[],
        help="render these reports instead of --all (a name may repeat, to time a larger set)",
    )
    args = ap.parse_args(argv)

    data = dataset(args)
    meta = (
        json.loads((data / "dataset.json").read_text()) if (data / "dataset.json").exists() else {}
    )
    import polars as pl

    contacts = pl.scan_parquet(data / "contacts.parquet").select(pl.len()).collect().item()
    extra = ["--static-charts"] if args.static_charts else []
    if args.jobs:
        extra += ["--jobs", str(args.jobs)]
    runs = []
    with tempfile.TemporaryDirectory(prefix="kpi-bench-report-") as tmp:
        for i in range(args.repeats):
            runs.append(run_once(data, Path(tmp) / f"run{i}", args.names, extra))
        best = min(runs, key=lambda r: r[0])
        _wall, _cpu, stdout, stderr = runs[-1]
        htmls = list(
            dict.fromkeys(
                ROOT / line if not Path(line).is_absolute() else Path(line)
                for line in stdout.split()
            )
        )
        per_report = re.findall(r"\] (\S+) done in ([0-9.]+) s", stderr)
        sizes = {h.parent.parent.name: h.stat().st_size for h in htmls}
        cells = slowest_cells(htmls, 6)

    what = " ".join(args.names) if args.names else "--all"
    print(
        f"## `kpi report {what}` on {data.relative_to(ROOT) if data.is_relative_to(ROOT) else data}"
    )
    print()
    print(
        f"- date: {dt.date.today().isoformat()}; machine: {os.cpu_count()} cores, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    print(f"- command: `.venv/bin/python bench/bench_report.py {' '.join(argv or sys.argv[1:])}`")
    print(
        f"- data: {contacts:,} contacts ({meta.get('name', 'dataset')}, {meta.get('months', '?')} months)"
    )
    print(f"- load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print()
    print("| run | wall s | CPU s (with kernels) |")
    print("|---|---:|---:|")
    for i, (w, c, _, _) in enumerate(runs, 1):
        print(f"| {i} | {w:.1f} | {c:.1f} |")
    print(f"| **best** | **{best[0]:.1f}** | |")
    print()
    print("| report (last run) | seconds | HTML size |")
    print("|---|---:|---:|")
    for name, seconds in per_report:
        print(f"| {name} | {float(seconds):.1f} | {sizes.get(name, 0) / 1e6:.2f} MB |")
    print()
    print("| slowest cells (last run) | report | seconds |")
    print("|---|---|---:|")
    for seconds, report, first in cells:
        print(f"| `{first}` | {report} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
