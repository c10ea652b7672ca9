"""Benchmark: the same KPI declarations on polars, DuckDB and local Spark (issue 19).

What is timed: ``kpi.compute(path, KPIS, by="team", every="1mo", engine=...)`` collected to the
small table, for the 21 contact KPIs whose measures are all row aggregations with a SQL form
(:func:`sql_kpis`; the figures of ``bench/results-engines.md`` are for this set). FCR and max in
queue also run on the SQL engines now, with window functions over the whole table; ``--kpis
stateful`` times those two alone; peak-hour traffic is polars-only. The data is read from
Parquet inside the timed region. Engines:

- ``polars``: the default engine (``engine="polars"``, ``collect()`` as a user calls it;
  ``--polars-chunk 1y`` evaluates it chunk by chunk, as 100M rows need on 24 GiB);
- ``duckdb``: ``engine="duckdb"`` (a fresh in-memory connection, all cores);
- ``spark``: a local SparkSession with 2 cores (``local[2]``, :func:`kpi.engines.local_spark`);
  the session start-up (JVM launch, SparkContext) is timed separately and not in the figure.

Each run is a fresh subprocess; engines run round-robin, ``--repeats`` times each. For every run:
wall seconds of the timed region; CPU seconds (user + system) of the timed region summed over the
whole process tree (the Python process and, for Spark, the JVM it launches), read from
``/proc/<pid>/stat``; the JVM's share separately (the Spark row stage: scan, binning, partial and
final aggregation); peak RSS of the process tree (the sum of each process's high-water mark,
``VmHWM``: an upper bound of the tree's simultaneous peak).

Before timing, the three results must agree (every KPI to 1e-9 relative, nulls equal) on every
size; the script exits with status 1 and lists the differences otherwise.

Data: ``bench/_contacts_gen.py`` (as ``bench/bench_compute.py``), in ``--data-dir``
(default ``bench/data``), made once and reused: ``contacts_1m``, ``contacts_10m``, ...; a multiple
of 10M above it (``contacts_100m``) is the 10M file repeated, each copy shifted by 364 days
with its own contact and customer ids (``repeat_dataset``, streamed: the generator itself
holds about 0.65 GB per million rows).

The Markdown table of the runs goes to stdout; ``--out`` keeps every run as JSON. The figures
and the projection for 10 billion contacts are written up in ``bench/results-engines.md``.

    python bench/bench_engines.py --data-dir /tmp/benchdata --out /tmp/engines.json
    python bench/bench_engines.py --rows 10000000 --engines polars,spark --kpis no-distinct
    python bench/bench_engines.py --rows 100000000 --repeats 1 --polars-chunk 1y
    python bench/bench_engines.py --rows 20000 --repeats 1          # a smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENGINES = ("polars", "duckdb", "spark")
SPARK_CORES = 2
#: The KPIs whose measures include a distinct count (agents handling, customers contacting).
DISTINCT_KPIS = ("handled_per_agent", "contacts_per_customer")
#: The contact KPIs the SQL engines run with window functions (``--kpis stateful``).
STATEFUL_KPIS = ("fcr", "max_in_queue")


def log(msg: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sql_kpis() -> list[str]:
    """The KPIs whose measures are all row aggregations of contacts with a SQL form."""
    from kpi.metrics import METRICS

    out = []
    for kpi_id, metric in METRICS.items():
        build = metric.build({})
        ok = all(
            m.builder is None
            and m.sources
            and m.sources[0].table == "contacts"
            and m.sources[0].sql is not None
            for m in build.measures
        )
        if ok:
            out.append(kpi_id)
    return out


# --------------------------------------------------------------------------------------------
# process-tree accounting from /proc
# --------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def descendants(pid: int) -> list[int]:
    """``pid`` and every living descendant."""
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            st = _stat(int(p.name))
            if st is not None:
                children.setdefault(int(st[1]), []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (all threads, and its reaped children)."""
    out = {}
    for pid in pids:
        st = _stat(pid)
        if st is not None:  # utime, stime, cutime, cstime are fields 14-17
            out[pid] = sum(int(x) for x in st[11:15]) / _TICK
    return out


def peak_rss_mib(pids: list[int]) -> float:
    """Sum of the processes' resident high-water marks (VmHWM), MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# --------------------------------------------------------------------------------------------
# worker: one engine, one run, in its own process
# --------------------------------------------------------------------------------------------


def worker(engine: str, path: str, result: str, kpis: list[str], chunk: str | None) -> None:
    """Run one engine once on ``path``; write timings and the KPI table to ``result`` (JSON)."""
    import polars as pl

    import kpi

    me = os.getpid()
    out: dict = {}
    if engine == "spark":
        from kpi.engines import local_spark

        c0, t0 = cpu_seconds(descendants(me)), time.perf_counter()
        session = local_spark(SPARK_CORES)
        session.range(1).count()  # the first job: executors (threads) up
        pids = descendants(me)
        c1 = cpu_seconds(pids)
        out["startup_wall_s"] = time.perf_counter() - t0
        out["startup_cpu_s"] = sum(c1.values()) - sum(c0.values())
        eng = session
        jvm = [p for p in pids if p != me]
    elif engine == "duckdb":
        import duckdb

        eng = duckdb.connect()
        jvm = []
    elif engine == "polars":
        eng = "polars"
        jvm = []
    else:
        raise SystemExit(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")

    before = cpu_seconds(descendants(me))
    t0 = time.perf_counter()
    opts = {"chunk": chunk} if chunk and engine == "polars" else {}
    df = kpi.compute(
        path, kpis, by="team", every="1mo", measures=False, engine=eng, **opts
    ).collect()
    wall = time.perf_counter() - t0
    pids = descendants(me)
    after = cpu_seconds(pids)
    out["wall_s"] = wall
    out["cpu_s"] = sum(after.values()) - sum(before.get(p, 0.0) for p in after)
    out["jvm_cpu_s"] = sum(after.get(p, 0.0) - before.get(p, 0.0) for p in jvm)
    out["rss_mib"] = peak_rss_mib(pids)
    out["processes"] = len(pids)
    df = df.with_columns(pl.col("period").dt.strftime("%Y-%m"), pl.col("team").cast(pl.String))
    df = df.sort("team", "period")
    out["table"] = {c: df[c].to_list() for c in ["team", "period", *kpis]}
    Path(result).write_text(json.dumps(out))
    if engine == "spark":
        session.stop()


def run_worker(engine: str, path: Path, tmp: Path, kpis: list[str], chunk: str | None) -> dict:
    """Run :func:`worker` in a fresh subprocess; its result plus the process's own seconds."""
    out = tmp / f"{engine}-{path.name}-{time.monotonic_ns()}.json"
    err = tmp / f"{out.stem}.err"
    cmd = [sys.executable, __file__, "--worker", engine, "--path", str(path), "--result", str(out)]
    cmd += ["--kpis", ",".join(kpis)] + (["--polars-chunk", chunk] if chunk else [])
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    with err.open("w") as fh:
        code = subprocess.call(cmd, stderr=fh)
    if code != 0 or not out.exists():
        raise SystemExit(f"{engine} on {path} failed (exit {code}):\n{err.read_text()[-3000:]}")
    res = json.loads(out.read_text())
    out.unlink()
    res["process_s"] = time.perf_counter() - t0
    res["load_before"] = load
    res["load_after"] = os.getloadavg()[0]
    return res


# --------------------------------------------------------------------------------------------
# agreement
# --------------------------------------------------------------------------------------------


def compare(expected: dict, actual: dict, kpis: list[str], rel: float = 1e-9) -> list[str]:
    """Differences between two KPI tables (empty when they agree to ``rel``, nulls equal)."""
    for key in ("team", "period"):
        if expected[key] != actual[key]:
            return [f"different groups: {key} {expected[key][:4]}... vs {actual[key][:4]}..."]
    problems = []
    for k in kpis:
        for i, (a, b) in enumerate(zip(expected[k], actual[k], strict=True)):
            if a is None or b is None:
                ok = a is None and b is None
            else:
                ok = math.isclose(a, b, rel_tol=rel, abs_tol=0.0)
            if not ok:
                problems.append(
                    f"{k} at {expected['team'][i]} {expected['period'][i]}: {a!r} vs {b!r}"
                )
    return problems


def check_agreement(results: dict[str, dict], kpis: list[str], where: str) -> int:
    """Exit with status 1 when an engine's table differs from polars'; the number of groups."""
    base = results["polars"]["table"]
    failed = False
    for engine, res in results.items():
        if engine == "polars":
            continue
        problems = compare(base, res["table"], kpis)
        if problems:
            failed = True
            log(f"DISAGREEMENT on {where}: polars vs {engine}: {len(problems)} differences")
            for p in problems[:20]:
                log(f"  {p}")
    if failed:
        raise SystemExit(1)
    groups = len(base["team"])
    log(f"{where}: {', '.join(results)} agree on {groups} team-months x {len(kpis)} KPIs")
    return groups


# --------------------------------------------------------------------------------------------
# data and the run
# --------------------------------------------------------------------------------------------


def ensure_data(rows: int, data_dir: Path) -> Path:
    """The dataset directory of ``rows`` generated contacts, made once."""
    from _common import ensure_data as ensure
    from _common import label

    ten = 10_000_000
    path = data_dir / f"contacts_{label(rows)}"
    if rows > ten and rows % ten == 0 and not (path / "contacts.parquet").exists():
        from _contacts_gen import repeat_dataset

        src = ensure(ten, data_dir, log=log)
        log(f"repeating {src} {rows // ten} times into {path}")
        repeat_dataset(src, path, rows // ten)
        return path
    return ensure(rows, data_dir, log=log)


def machine() -> str:
    """CPU model, cores, memory, OS and library versions."""
    import duckdb
    import polars
    from _common import cpu_model, memory_gib

    cpu, mem = cpu_model(), memory_gib()
    try:
        import pyspark

        spark = f"PySpark {pyspark.__version__}"
    except ImportError:
        spark = "no PySpark"
    java = "no java"
    try:
        v = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
        java = v.stderr.splitlines()[0].strip()
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, polars {polars.__version__}, DuckDB "
        f"{duckdb.__version__}, {spark}, {java}"
    )


def fmt(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", default="1000000,10000000", help="comma-separated contact counts "
        "(default 1000000,10000000)"
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per engine (default 2)")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="engines (default polars,duckdb,spark)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=HERE / "data", help="where datasets are made and kept"
    )
    parser.add_argument("--out", type=Path, default=None, help="write JSON of every run here")
    parser.add_argument(
        "--kpis",
        default="all",
        help="comma-separated KPIs (default all: every contact KPI with a SQL form); "
        "'no-distinct': without the two whose measures are distinct counts "
        "(handled_per_agent, contacts_per_customer); 'stateful': FCR and max in queue",
    )
    parser.add_argument(
        "--polars-chunk",
        default=None,
        help="evaluate polars chunk by chunk (kpi.compute chunk=, e.g. 1y); default: no chunks",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    kpis = sql_kpis()
    if args.kpis == "no-distinct":
        kpis = [k for k in kpis if k not in DISTINCT_KPIS]
    elif args.kpis == "stateful":
        kpis = list(STATEFUL_KPIS)
    elif args.kpis != "all":
        kpis = [k.strip() for k in args.kpis.split(",") if k.strip()]
    if args.worker:
        worker(args.worker, args.path, args.result, kpis, args.polars_chunk)
        return

    sizes = [int(x) for x in args.rows.split(",") if x.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "polars" not in engines or set(engines) - set(ENGINES):
        parser.error(f"--engines: a subset of {','.join(ENGINES)} that includes polars")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now().astimezone()
    record: dict = {
        "started": started.isoformat(timespec="minutes"),
        "command": "python bench/bench_engines.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "kpis": kpis,
        "load_before": os.getloadavg(),
        "sizes": {},
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for n in sizes:
            path = ensure_data(n, args.data_dir)
            runs: dict[str, list[dict]] = {e: [] for e in engines}
            groups = 0
            for rep in range(args.repeats):
                for engine in engines:
                    log(f"{n:,} rows: {engine} run {rep + 1}/{args.repeats}")
                    res = run_worker(engine, path, tmp, kpis, args.polars_chunk)
                    extra = ""
                    if engine == "spark":
                        extra = (
                            f" (JVM {res['jvm_cpu_s']:.2f} s CPU; start-up "
                            f"{res['startup_wall_s']:.1f} s wall, {res['startup_cpu_s']:.1f} s CPU)"
                        )
                    log(
                        f"  {res['wall_s']:.2f} s wall, {res['cpu_s']:.2f} s CPU{extra}, "
                        f"{res['rss_mib']:,.0f} MiB peak RSS, load {res['load_before']:.1f}"
                    )
                    runs[engine].append(res)
                if rep == 0:
                    groups = check_agreement({e: runs[e][0] for e in engines}, kpis, f"{n:,} rows")
                for rs in runs.values():
                    rs[-1].pop("table", None)
            size = (path / "contacts.parquet").stat().st_size / 2**20
            record["sizes"][str(n)] = {"file_mib": size, "groups": groups, "runs": runs}
            if args.out:
                args.out.write_text(json.dumps(record, indent=1))
    record["load_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(record, indent=1))
    print(summary(record))


def summary(record: dict) -> str:
    """A Markdown table of the runs."""
    lines = [
        f"- {record['started']}; {record['machine']}",
        f"- Command: `{record['command']}`; load (1, 5, 15 min) before "
        + ", ".join(f"{x:.1f}" for x in record["load_before"])
        + (
            "; after " + ", ".join(f"{x:.1f}" for x in record["load_after"])
            if "load_after" in record
            else ""
        ),
        "",
        "| rows | engine | wall s (each run) | CPU s (each run) | of which JVM | "
        "rows per CPU-s | peak RSS MiB | 1-min load |",
        "| ---: | --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for n, s in record["sizes"].items():
        for engine, rs in s["runs"].items():
            jvm = " / ".join(fmt(r["jvm_cpu_s"]) for r in rs) if engine == "spark" else ""
            per = int(n) / statistics.median(
                r["jvm_cpu_s"] if engine == "spark" else r["cpu_s"] for r in rs
            )
            lines.append(
                f"| {int(n):,} | {engine} | {' / '.join(fmt(r['wall_s']) for r in rs)} "
                f"| {' / '.join(fmt(r['cpu_s']) for r in rs)} | {jvm} | {per:,.0f} "
                f"| {max(r['rss_mib'] for r in rs):,.0f} "
                f"| {' / '.join(format(r['load_before'], '.1f') for r in rs)} |"
            )
    starts = [r for s in record["sizes"].values() for r in s["runs"].get("spark", [])]
    if starts:
        lines += [
            "",
            "Spark session start-up (local[2], JVM launch to the first job; not in the figures "
            "above): wall "
            + " / ".join(fmt(r["startup_wall_s"]) for r in starts)
            + " s; CPU "
            + " / ".join(fmt(r["startup_cpu_s"]) for r in starts)
            + " s.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
