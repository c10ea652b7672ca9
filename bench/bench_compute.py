"""Benchmark: the contacts scorecard by month and team in polars (kpi.compute), pandas and DuckDB.

Goal (issue 3, "Speed"): on 10 million contacts, ``kpi.compute`` at most 0.8x DuckDB's time and
at least 4x faster than pandas; 100 million contacts read from Parquet with the polars streaming
engine in under 8 GB of memory.

What is timed, for every engine alike: reading ``contacts.parquet`` (the columns the KPIs need),
computing the 24 contacts KPIs (default variants) by team and local calendar month, and
materialising the small result; not interpreter start-up or imports. Each run is a fresh
subprocess, so peak RSS (``ru_maxrss`` from ``wait4``) is that engine's own. Engines run
round-robin, ``--repeats`` times each; the best and median wall times are reported, with the CPU
seconds (user + system, all threads) of the timed region, which shared machines disturb less.

Before timing, the three results must agree (every KPI to 1e-9 relative, nulls equal) on every
size; the script exits with status 1 and lists the differences otherwise.

Data: ``bench/_contacts_gen.py`` (a vectorised numpy generator of every contacts column; the
simulator ``kpi sample`` is not used yet), written to ``bench/data/`` (git-ignored) once and
reused. The streaming file is shifted copies of the largest ``--rows`` file (ids and dates moved
on by 364 days per copy).

    .venv/bin/python bench/bench_compute.py                       # 1M and 10M rows, 100M streaming
    .venv/bin/python bench/bench_compute.py --rows 200000 --streaming-rows 0 --repeats 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENGINES = ("polars", "duckdb", "pandas")
#: Safety stop for the comparison runs (pandas needs about 10 GiB on 10M rows).
COMPARE_MAX_RSS_GIB = 20.0
#: Also accepted by --engines: the polars in-memory engine (collect(engine="in-memory")) and
#: bounded-memory evaluation chunk by chunk, ``kpi.compute(..., chunk="1y")``
#: (``polars-chunked-1q`` for quarters).
EXTRA_ENGINES = ("polars-in-memory", "polars-chunked", "polars-chunked-1q")


def log(msg: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# worker: one engine, one run, in its own process
# --------------------------------------------------------------------------------------------


def worker(engine: str, path: str, result: str) -> None:
    """Run one engine once on ``path``; write timing and the scorecard to ``result`` (JSON)."""
    sys.path.insert(0, str(HERE))
    import reference_impls as ref

    tz = json.loads((Path(path) / "dataset.json").read_text()).get("timezone", "UTC")
    # imports outside the timed region
    if engine.startswith("polars"):
        import polars  # noqa: F401

        import kpi  # noqa: F401

        # "polars": collect() as a user calls it (engine "auto": the streaming engine in 2.x)
        polars_engine = {"polars-streaming": "streaming", "polars-in-memory": "in-memory"}
        if engine.startswith("polars-chunked"):  # polars-chunked[-<chunk>], default 1y
            chunk = engine.removeprefix("polars-chunked").lstrip("-") or "1y"
            run = lambda: ref.polars_scorecard(path, chunk=chunk)  # noqa: E731
        else:
            run = lambda: ref.polars_scorecard(path, engine=polars_engine.get(engine, "auto"))  # noqa: E731
    elif engine == "duckdb":
        import duckdb  # noqa: F401

        run = lambda: ref.duckdb_scorecard(path, tz)  # noqa: E731
    elif engine == "pandas":
        import pandas  # noqa: F401

        run = lambda: ref.pandas_scorecard(path, tz)  # noqa: E731
    else:
        raise SystemExit(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    table = run()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    Path(result).write_text(json.dumps({"wall_s": wall, "cpu_s": cpu, "table": table}))


def run_worker(engine: str, path: Path, tmp: Path, *, max_rss_gib: float) -> dict:
    """Run :func:`worker` in a subprocess; add its peak RSS (MiB).

    The child is killed when its resident memory passes ``max_rss_gib`` (the machine is
    shared); the result then has ``killed`` set and no timings.
    """
    out = tmp / f"{engine}-{path.name}-{time.monotonic_ns()}.json"
    err_file = tmp / f"{out.stem}.err"
    cmd = [sys.executable, __file__, "--worker", engine, "--path", str(path), "--result", str(out)]
    t0 = time.perf_counter()
    with err_file.open("w") as err:
        proc = subprocess.Popen(cmd, stderr=err)
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        rss = _rss_bytes(proc.pid)
        if rss > max_rss_gib * 2**30 and not killed:
            log(f"  {engine}: resident memory {rss / 2**30:.1f} GiB > {max_rss_gib} GiB, killing")
            proc.kill()
            killed = True
        time.sleep(0.25)
    elapsed = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if killed:
        return {"killed": True, "rss_mib": usage.ru_maxrss / 1024, "process_s": elapsed}
    if code != 0:
        raise SystemExit(
            f"{engine} on {path} failed (exit {code}):\n{err_file.read_text()[-3000:]}"
        )
    res = json.loads(out.read_text())
    out.unlink()
    res["rss_mib"] = usage.ru_maxrss / 1024
    res["process_s"] = elapsed
    return res


def _rss_bytes(pid: int) -> int:
    """Resident set size of a process from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def ensure_data(rows: int, data_dir: Path) -> Path:
    """The dataset directory of ``rows`` generated contacts, made once."""
    from _common import ensure_data as ensure

    return ensure(rows, data_dir, log=log)


def ensure_repeated(src: Path, copies: int, data_dir: Path, rows: int) -> Path:
    """``copies`` shifted copies of ``src`` (for the streaming run), made once."""
    from _common import label

    path = data_dir / f"contacts_{label(rows)}"
    if not (path / "contacts.parquet").exists():
        log(f"writing {rows:,} contacts ({copies} shifted copies of {src.name}) in {path}")
        gen = [sys.executable, str(HERE / "_contacts_gen.py"), str(src), str(path), str(copies)]
        subprocess.run(gen, check=True)
    return path


def parquet_rows(path: Path) -> int:
    """Row count from the Parquet footer."""
    import polars as pl

    return pl.scan_parquet(path / "contacts.parquet").select(pl.len()).collect().item()


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def machine() -> str:
    """CPU model, cores, memory, OS and library versions."""
    import duckdb
    import numpy
    import pandas
    import polars
    from _common import cpu_model, memory_gib

    cpu, mem = cpu_model(), memory_gib()
    try:
        import pyarrow

        arrow = f"pyarrow {pyarrow.__version__}"
    except ImportError:
        arrow = "no pyarrow (pandas reads Parquet through DuckDB)"
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, polars {polars.__version__}, "
        f"DuckDB {duckdb.__version__}, pandas {pandas.__version__}, numpy {numpy.__version__}, "
        f"{arrow}"
    )


def check_agreement(results: dict[str, dict], where: str) -> None:
    """Exit with status 1 when an engine's scorecard differs from polars'."""
    sys.path.insert(0, str(HERE))
    from reference_impls import compare

    base = results["polars"]["table"]
    failed = False
    for engine, res in results.items():
        if engine == "polars":
            continue
        problems = compare(base, res["table"])
        if problems:
            failed = True
            log(f"DISAGREEMENT on {where}: polars vs {engine}: {len(problems)} differences")
            for p in problems[:20]:
                log(f"  {p}")
    if failed:
        raise SystemExit(1)
    groups = len(base["team"])
    log(f"{where}: {', '.join(results)} agree on {groups} team-months x 24 KPIs (1e-9 relative)")


def fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows",
        default="1000000,10000000",
        help="comma-separated contact counts for the three-engine comparison "
        "(default 1000000,10000000)",
    )
    parser.add_argument(
        "--streaming-rows",
        type=int,
        default=100_000_000,
        help="contacts for the polars streaming run, a multiple of the largest --rows "
        "(0: skip; default 100000000)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed runs per engine (default 3; 0: only the streaming run)",
    )
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="engines to compare (default all three)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=HERE / "data", help="where datasets are made and kept"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the results as Markdown here (e.g. bench/results-compute.md)",
    )
    parser.add_argument(
        "--streaming-chunk",
        default="1y",
        help="also run the streaming-size file with kpi.compute(..., chunk=GRAIN) "
        "(default 1y; 'none' to skip)",
    )
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=16.0,
        help="stop the streaming run when its resident memory passes this (GiB; default 16; "
        "7.45 GiB = 8 GB stops it as soon as the goal is missed)",
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help="compare the engines on this dataset directory (e.g. one made by `kpi sample`) "
        "instead of generated files; --rows and the streaming run are then not used",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.path, args.result)
        return

    sizes = [int(x) for x in args.rows.split(",") if x.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "polars" not in engines:
        parser.error("--engines must include polars (the other engines are checked against it)")
    unknown = sorted(set(engines) - set(ENGINES) - set(EXTRA_ENGINES))
    if unknown:
        valid = ", ".join(ENGINES + EXTRA_ENGINES)
        parser.error(f"unknown engine {unknown[0]!r}; valid: {valid}")
    if args.streaming_rows and args.streaming_rows % max(sizes):
        parser.error("--streaming-rows must be a multiple of the largest --rows")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now().astimezone()
    command = "python bench/bench_compute.py " + " ".join(sys.argv[1:])
    load_before = os.getloadavg()

    data_desc = (
        "generated by `bench/_contacts_gen.py` (numpy; every contacts column; 2025, "
        "Europe/London, 8 teams, 15 % repeat contacts)"
    )
    if args.dataset is not None:
        meta = json.loads((args.dataset / "dataset.json").read_text())
        n = parquet_rows(args.dataset)
        sizes, paths = [n], {n: args.dataset}
        args.streaming_rows = 0
        data_desc = f"`{args.dataset}`: {meta.get('name', 'a dataset')}, {n:,} contacts"
    else:
        paths = {n: ensure_data(n, args.data_dir) for n in sizes}
    stream_path = None
    if args.streaming_rows:
        copies = args.streaming_rows // max(sizes)
        stream_path = ensure_repeated(
            paths[max(sizes)], copies, args.data_dir, args.streaming_rows
        )

    table: dict[int, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for n in sizes if args.repeats > 0 else ():
            runs: dict[str, list[dict]] = {e: [] for e in engines}
            for rep in range(args.repeats):
                for engine in engines:
                    log(f"{n:,} rows: {engine} run {rep + 1}/{args.repeats}")
                    res = run_worker(engine, paths[n], tmp, max_rss_gib=COMPARE_MAX_RSS_GIB)
                    if res.get("killed"):
                        raise SystemExit(
                            f"{engine} on {n:,} rows passed {COMPARE_MAX_RSS_GIB} GiB"
                        )
                    log(
                        f"  {res['wall_s']:.2f} s wall, {res['cpu_s']:.2f} s CPU, "
                        f"{res['rss_mib']:,.0f} MiB peak RSS"
                    )
                    runs[engine].append(res)
                if rep == 0:
                    check_agreement({e: runs[e][0] for e in engines}, f"{n:,} rows")
            for rs in runs.values():
                for r in rs:
                    r.pop("table", None)
            table[n] = runs
            if args.out:  # partial results survive an interrupted run
                args.out.write_text(
                    render(
                        table,
                        None,
                        engines,
                        started,
                        command,
                        load_before,
                        os.getloadavg(),
                        args.repeats,
                        data_desc,
                    )
                )
        stream = None
        if stream_path is not None:
            log(f"{args.streaming_rows:,} rows: polars streaming engine")
            stream = run_worker("polars-streaming", stream_path, tmp, max_rss_gib=args.max_rss_gib)
            if not stream.get("killed"):
                log(
                    f"  {stream['wall_s']:.1f} s wall, {stream['cpu_s']:.1f} s CPU, "
                    f"{stream['rss_mib']:,.0f} MiB peak RSS"
                )
            stream["rows"] = parquet_rows(stream_path)
            stream["file_mib"] = (stream_path / "contacts.parquet").stat().st_size / 2**20
            if args.streaming_chunk != "none":
                log(f"{args.streaming_rows:,} rows: kpi.compute(chunk={args.streaming_chunk!r})")
                chunked = run_worker(
                    f"polars-chunked-{args.streaming_chunk}",
                    stream_path,
                    tmp,
                    max_rss_gib=args.max_rss_gib,
                )
                chunked["chunk"] = args.streaming_chunk
                stream["chunked"] = chunked
                if not chunked.get("killed"):
                    log(
                        f"  {chunked['wall_s']:.1f} s wall, {chunked['cpu_s']:.1f} s CPU, "
                        f"{chunked['rss_mib']:,.0f} MiB peak RSS"
                    )
    load_after = os.getloadavg()

    report = render(
        table,
        stream,
        engines,
        started,
        command,
        load_before,
        load_after,
        args.repeats,
        data_desc,
    )
    print(report)
    if args.out:
        args.out.write_text(report)
        log(f"wrote {args.out}")


def render(
    table: dict[int, dict[str, list[dict]]],
    stream: dict | None,
    engines: list[str],
    started: dt.datetime,
    command: str,
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
    repeats: int,
    data_desc: str,
) -> str:
    """The results as Markdown."""
    lines = [
        "# KPI engine benchmark: contacts scorecard by month and team",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M %Z}",
        f"- Machine: {machine()}",
        f"- Load average (1, 5, 15 min) before: {', '.join(f'{x:.1f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.1f}' for x in load_after)} (a shared machine: other work "
        "ran at the same time)",
        f"- Command: `{command}`",
        "- Work: the 24 contacts KPIs (default variants) by team and local calendar month, "
        "read from Parquet inside the timed region; every engine's result checked equal to "
        "polars' (1e-9 relative) on every size.",
        f"- Data: {data_desc}.",
        f"- Timing: each run in a fresh process, engines round-robin, {repeats} runs each; "
        "wall = timed region (read + compute + result); CPU = user + system seconds of the "
        "timed region (all threads); peak RSS of the whole process.",
        "",
    ]
    if table:
        lines += [
            "| rows | engine | best wall s | median wall s | least CPU s | peak RSS MiB |",
            "| ---: | --- | ---: | ---: | ---: | ---: |",
        ]
    summary = []
    for n, runs in table.items():
        best = {}
        for engine in engines:
            rs = runs[engine]
            walls = [r["wall_s"] for r in rs]
            fastest = min(rs, key=lambda r: r["wall_s"])
            best[engine] = fastest
            lines.append(
                f"| {n:,} | {engine} | {fmt_s(min(walls))} | {fmt_s(statistics.median(walls))} "
                f"| {fmt_s(min(r['cpu_s'] for r in rs))} | {max(r['rss_mib'] for r in rs):,.0f} |"
            )
            best[engine] = {"wall_s": fastest["wall_s"], "cpu_s": min(r["cpu_s"] for r in rs)}
        p = best["polars"]
        parts = [f"{n:,} rows:"]
        if "duckdb" in best:
            d = best["duckdb"]
            parts.append(
                f"polars/DuckDB wall {p['wall_s'] / d['wall_s']:.2f}x "
                f"(CPU {p['cpu_s'] / d['cpu_s']:.2f}x)"
            )
        if "pandas" in best:
            q = best["pandas"]
            parts.append(
                f"pandas/polars wall {q['wall_s'] / p['wall_s']:.1f}x "
                f"(CPU {q['cpu_s'] / p['cpu_s']:.1f}x)"
            )
        summary.append(" ".join(parts[:1]) + " " + "; ".join(parts[1:]))
    if summary:
        lines += ["", "Ratios (best wall time of each engine; least CPU seconds in brackets):", ""]
        lines += [f"- {s}" for s in summary]
    if stream is not None:
        done = (
            f"{fmt_s(stream['wall_s'])} s wall, {fmt_s(stream['cpu_s'])} s CPU"
            if not stream.get("killed")
            else f"killed after {fmt_s(stream['process_s'])} s for passing --max-rss-gib"
        )
        lines += [
            "",
            "Streaming (`collect(engine='streaming')`, one run):",
            "",
            f"- {stream['rows']:,} rows ({stream['file_mib']:,.0f} MiB Parquet): {done}, "
            f"peak RSS {stream['rss_mib']:,.0f} MiB ({stream['rss_mib'] / 1024:.1f} GiB)",
        ]
        ch = stream.get("chunked")
        if ch is not None:
            done = (
                f"{fmt_s(ch['wall_s'])} s wall, {fmt_s(ch['cpu_s'])} s CPU"
                if not ch.get("killed")
                else f"killed after {fmt_s(ch['process_s'])} s for passing --max-rss-gib"
            )
            lines.append(
                f"- the same with `kpi.compute(..., chunk={ch['chunk']!r})` (chunks collected one "
                f"after another by the streaming engine): {done}, "
                f"peak RSS {ch['rss_mib']:,.0f} MiB ({ch['rss_mib'] / 1024:.1f} GiB)"
            )
    lines += ["", "Goals (10 million rows; best wall time, and least CPU seconds):", ""]
    big = max(table, default=0)
    if big >= 10_000_000:
        runs = table[big]

        def least(engine: str, key: str) -> float:
            return min(r[key] for r in runs[engine])

        p, pc = least("polars", "wall_s"), least("polars", "cpu_s")
        if "duckdb" in runs:
            d, dc = least("duckdb", "wall_s"), least("duckdb", "cpu_s")
            lines.append(
                f"- polars at most 0.8x DuckDB's time: wall {p / d:.2f}x, "
                + ("met" if p / d <= 0.8 else "NOT met")
                + f"; CPU {pc / dc:.2f}x, "
                + ("met" if pc / dc <= 0.8 else "NOT met")
            )
        if "pandas" in runs:
            q, qc = least("pandas", "wall_s"), least("pandas", "cpu_s")
            lines.append(
                f"- at least 4x faster than pandas: wall {q / p:.1f}x, "
                + ("met" if q / p >= 4 else "NOT met")
                + f"; CPU {qc / pc:.1f}x, "
                + ("met" if qc / pc >= 4 else "NOT met")
            )
    else:
        lines.append("- not judged: no run of 10 million rows or more")
    if stream is not None:
        for label, run in (
            ("one query", stream),
            (f"chunk={stream.get('chunked', {}).get('chunk')!r}", stream.get("chunked")),
        ):
            if run is None:
                continue
            gb = run["rss_mib"] * 2**20 / 1e9
            met = gb < 8 and not run.get("killed")
            lines.append(
                f"- {stream['rows']:,} rows streamed in under 8 GB ({label}): {gb:.1f} GB peak "
                "RSS, " + ("met" if met else "NOT met")
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
