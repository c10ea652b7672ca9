"""Benchmark: ``kpi sample`` at 1 million and 10 million contacts (goal: 10M in under 3 minutes).

Each size runs ``python -m kpi sample --out DIR --scale N --no-csv`` in a fresh process, exactly
as a user would, and measures:

* wall time of the whole command (interpreter start, simulation, writing Parquet);
* CPU seconds (user + system) of the command and its queue worker processes;
* peak resident memory: of the main process, and of the whole process tree (main + workers,
  sampled every 0.1 s with psutil);
* rows written (contacts, all tables) and contacts per second of wall time;
* the stage breakdown printed by the progress lines.

The machine is shared: the load average before and after each run is recorded with the figures.
The 10M dataset stays in ``bench/data/sample-10M`` (git-ignored) for the other benchmarks;
smaller ones are written to a temporary directory.

    .venv/bin/python bench/bench_simulate.py                  # 1M and 10M, writes the results
    .venv/bin/python bench/bench_simulate.py --sizes 200k     # a quick check
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results-simulate.md"
CALIBRATION = "## Patience calibration"
GOAL_S = 180.0


def log(msg: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    """``1M`` -> 1000000, ``250k`` -> 250000."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use e.g. 250k, 1M, 10M")
    return int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()])


def label(n: int) -> str:
    """1000000 -> ``1M``."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def run_one(n: int, out: Path, seed: int) -> dict:
    """Run ``kpi sample`` for ``n`` contacts into ``out``; return the measurements."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [
        sys.executable, "-m", "kpi", "sample", "--out", str(out), "--scale", str(n),
        "--seed", str(seed), "--no-csv",
    ]  # fmt: skip
    load0 = os.getloadavg()
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    ps = psutil.Process(proc.pid)
    peak_tree = 0
    peak_main = 0
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip())
            log(line.rstrip())

    reader = threading.Thread(target=read)
    reader.start()
    while proc.poll() is None:
        try:
            main = ps.memory_info().rss
            kids = sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak_main = max(peak_main, main)
            peak_tree = max(peak_tree, main + kids)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        time.sleep(0.1)
    reader.join()
    wall = time.perf_counter() - t0
    after = os.times()
    load1 = os.getloadavg()
    if proc.returncode != 0:
        raise SystemExit(f"kpi sample failed ({proc.returncode}):\n" + "\n".join(lines[-20:]))
    import polars as pl

    rows = {
        p.stem: pl.scan_parquet(p).select(pl.len()).collect().item()
        for p in sorted(out.glob("*.parquet"))
    }
    stages = []
    for line in lines:
        m = re.match(r"kpi sample: (.*) \((\d+\.\d) s\)$", line)
        if m:
            stages.append((m.group(1), float(m.group(2))))
    return {
        "n": n,
        "wall_s": wall,
        "cpu_s": (after.children_user - before.children_user)
        + (after.children_system - before.children_system),
        "peak_main_mb": peak_main / 2**20,
        "peak_tree_mb": peak_tree / 2**20,
        "rows": rows,
        "disk_mb": sum(p.stat().st_size for p in out.iterdir()) / 1e6,
        "load_before": load0[0],
        "load_after": load1[0],
        "stages": stages,
        "command": " ".join(["python", *cmd[1:]]).replace(
            str(out), str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else "TMP"
        ),
    }


def write_results(results: list[dict], args: argparse.Namespace) -> None:
    """Write ``bench/results-simulate.md``."""
    mem = psutil.virtual_memory().total / 2**30
    lines = [
        "# Simulator benchmark (`kpi sample`)",
        "",
        f"Measured {dt.date.today().isoformat()} on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}. Command: "
        f"`.venv/bin/python bench/bench_simulate.py --sizes {','.join(label(r['n']) for r in results)}`.",
        "",
        "Each size is one fresh `python -m kpi sample --scale N --no-csv` process (the default "
        "scenario, seed 7): interpreter start, simulation with the queue engine in two worker "
        "processes, and writing the Parquet files. CPU = user + system seconds of the command "
        "and its workers. Peak memory is the resident set of the main process and of the whole "
        "process tree (main + queue workers, sampled every 0.1 s). The machine is shared with "
        "other jobs; the 1-minute load average before and after each run is shown (2 cores: a "
        "load above 2 means the run waited for CPU, so wall time overstates the cost; CPU "
        "seconds do not).",
        "",
        "| contacts asked | contacts rows | all rows | wall s | CPU s | contacts/s (wall) "
        "| peak main MB | peak tree MB | Parquet MB | load before/after | goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        contacts = r["rows"].get("contacts", 0)
        goal = ""
        if r["n"] >= 10_000_000:
            goal = "met (< 180 s)" if r["wall_s"] < GOAL_S else "NOT met (>= 180 s)"
        lines.append(
            f"| {label(r['n'])} | {contacts:,} | {sum(r['rows'].values()):,} | {r['wall_s']:.1f} "
            f"| {r['cpu_s']:.1f} | {contacts / r['wall_s']:,.0f} | {r['peak_main_mb']:,.0f} "
            f"| {r['peak_tree_mb']:,.0f} | {r['disk_mb']:,.0f} "
            f"| {r['load_before']:.1f} / {r['load_after']:.1f} | {goal} |"
        )
    lines += [
        "",
        "Stage times (seconds since the start of the simulation, from the progress lines; "
        "`write` is the rest of the wall time: interpreter start, imports and writing the "
        "Parquet files):",
        "",
    ]
    for r in results:
        stages = [(s, t) for s, t in r["stages"] if not s.startswith("queue ")]
        last = stages[-1][1] if stages else 0.0
        lines.append(
            f"- {label(r['n'])}: "
            + "; ".join(f"{s} **{t:.1f}**" for s, t in stages)
            + f"; write **+{r['wall_s'] - last:.1f}**"
        )
    lines += [
        "",
        "Projection for an idle machine (the measured CPU seconds rearranged, not a "
        "measurement): the queue workers' CPU (from the `queue CPU` line) runs on both cores, "
        "the rest of the CPU runs in the main process one stage after another.",
        "",
    ]
    for r in results:
        m = next((s for s, _ in r["stages"] if "queue CPU" in s), None)
        if not m:
            continue
        worker = sum(
            float(x) for x in re.findall(r"(?:demand|queueing|rows|agent_time) ([\d.]+) s", m)
        )
        main_cpu = max(r["cpu_s"] - worker, 0.0)
        lines.append(
            f"- {label(r['n'])}: main process {main_cpu:.0f} s CPU + queue workers "
            f"{worker:.0f} s CPU / 2 cores = about {main_cpu + worker / 2:.0f} s wall"
        )
    lines += ["", "Rows per table:", ""]
    for r in results:
        lines.append(
            f"- {label(r['n'])}: " + ", ".join(f"{k} {v:,}" for k, v in r["rows"].items())
        )
    lines.append("")
    # the patience calibration (bench/calibrate_patience.py) lives in the same file: keep it
    old = RESULTS.read_text() if RESULTS.exists() else ""
    keep = old[old.find(CALIBRATION) :] if CALIBRATION in old else ""
    RESULTS.write_text("\n".join(lines) + ("\n" + keep if keep else ""))
    log(f"wrote {RESULTS}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes", default="1M,10M", help="contact counts, comma separated (default 1M,10M)"
    )
    p.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    p.add_argument("--no-write", action="store_true", help="do not write results-simulate.md")
    args = p.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="kpi-bench-sim-"))
    try:
        for n in sizes:
            out = HERE / "data" / f"sample-{label(n)}" if n >= 10_000_000 else tmp / label(n)
            out.parent.mkdir(parents=True, exist_ok=True)
            log(f"kpi sample with {n:,} contacts -> {out}")
            r = run_one(n, out, args.seed)
            log(
                f"{label(n)}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
                f"peak {r['peak_tree_mb']:,.0f} MB, {r['rows'].get('contacts', 0):,} contacts"
            )
            results.append(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_write:
        write_results(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
