"""The measure cube at 10 million contacts: build time and peak memory, and explorer-style redraw
latency from the cube vs the rows (issue 18). Writes ``bench/results-cube.md``.

Data: ``bench/_contacts_gen.py`` (one year, 2025, Europe/London), ``bench/data/contacts_10m``,
made once. The build runs in a fresh process (peak RSS from ``wait4``). A "redraw" is what the
trend explorer's callback computes when a control changes: ``evaluate(ds, kpi, by=..., every=...)``
collected, for a fresh ``Dataset`` each time (no state carried over but the OS page cache and the
cube's open description). Every contacts KPI of the catalogue (those this contacts-only data
supports), at each of :data:`VIEWS`; cube timings are ``REPS`` runs each, rows one run each (a
row redraw takes seconds). Each cube result is checked equal to the rows' (1e-9 relative).

``python bench/bench_cube.py [--rows 10000000] [--no-rows]``; round 3 (100M, chosen KPIs, results
kept as JSON beside hand-written sections):
``python bench/bench_cube.py --data /tmp/benchdata/contacts_100m --no-build --no-first --no-rows
--kpis max_in_queue,peak_hour_traffic --json /tmp/cube-100m.json --no-render``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPS = 5
#: Grains whose views are also timed from the rows (one run each: seconds per redraw).
ROWS_GRAINS = ("1d", "1w", "1mo")
#: (grain, by) pairs an analyst flips between.
VIEWS = [
    ("1d", ()),
    ("1w", ("topic",)),
    ("1mo", ("team",)),
    ("1h", ("queue",)),
    ("15m", ()),
    ("1d", ("channel", "topic")),
    ("1d", ("agent_id",)),
    ("1h", ("direction",)),
]


#: The line after which bench/results-cube.md holds hand-measured sections a render keeps.
KEPT = "<!-- measured by hand: kept by bench_cube.py -->"


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def ensure_data(rows: int) -> Path:
    """The dataset directory of ``rows`` generated contacts in bench/data, made once."""
    from _common import ensure_data as ensure

    return ensure(rows, HERE / "data", log=log)


def timed_build(path: Path) -> dict:
    """``kpi cube build`` in a fresh process: wall seconds and peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "from kpi import cube; import sys; cube.build(sys.argv[1], progress=True)"
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    if status != 0:
        raise SystemExit(f"build failed ({status})")
    return {
        "wall": wall,
        "rss_gib": usage.ru_maxrss / 2**20,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


PARTS_RUN = """
import json, resource, sys, time
from kpi import cube
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
cube.clear(sys.argv[1])
out = {}
for part in ("core", *cube.PARTS[1:]):
    w, c = time.perf_counter(), cpu()
    if part == "core":
        cube.build(sys.argv[1], parts=())
    else:
        cube.complete(sys.argv[1], [part])
    out[part] = {"wall": time.perf_counter() - w, "cpu": cpu() - c}
out["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def timed_parts(path: Path) -> dict:
    """An explorer's first use, part by part, in a fresh process: the core alone (what the
    first chart of a KPI without a part of its own waits for), then each other part added as
    a KPI first needs it (:func:`kpi.cube.complete`)."""
    return json.loads(_script(PARTS_RUN, path))


def _script(code: str, path: Path) -> str:
    """What ``code`` prints, run on ``path`` in a fresh Python process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", code, str(path)]
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def timed_scorecard(path: Path) -> dict:
    """The full scorecard from the rows (no cube on disk), in a fresh process:
    ``kpi compute --metrics all --by team --every 1mo``."""
    from kpi import cube

    cube.clear(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "kpi", "compute", "--data", str(path), "--metrics", "all"]
    began = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "--by", "team", "--every", "1mo"], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"scorecard failed ({status})")
    return {"wall": time.perf_counter() - began, "cpu": usage.ru_utime + usage.ru_stime}


FIRST_SCREEN = """
import sys, time
t0 = time.perf_counter()
import altair
import kpi
from kpi import views
t1 = time.perf_counter()
ds = kpi.load(sys.argv[1])
frame = views.trend_frame(ds, "service_level", every="1d").collect()
chart = views.trend_figure(ds, "service_level", every="1d", frame=frame)
chart.to_dict(validate=False)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def timed_first_screen(path: Path) -> dict:
    """A notebook's first screen in a fresh process, the cube cached: import kpi and altair
    (every chart needs it), load the directory, and the trend explorer's first chart (service
    level by day, the whole year: the anomaly model's frame and the chart spec)."""
    began = time.perf_counter()
    out = _script(FIRST_SCREEN, path).split()
    return {
        "wall": time.perf_counter() - began,
        "import": float(out[0]),
        "chart": float(out[1]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--no-rows", action="store_true", help="skip the row timings")
    ap.add_argument("--no-build", action="store_true", help="reuse the cube on disk")
    ap.add_argument("--render", action="store_true", help="only rewrite the page from the JSON")
    ap.add_argument("--data", type=Path, help="an existing dataset directory (else bench/data)")
    ap.add_argument("--kpis", help="comma-separated KPI ids (default: every contacts KPI)")
    ap.add_argument(
        "--json", type=Path, help="results JSON (default bench/data/cube-results.json)"
    )
    ap.add_argument("--no-render", action="store_true", help="keep bench/results-cube.md as is")
    ap.add_argument(
        "--all-rows", action="store_true", help="time the rows at every view, not only days+"
    )
    ap.add_argument("--no-first", action="store_true", help="skip the first-screen runs")
    ap.add_argument(
        "--cube-only", action="store_true", help="skip the views the cube does not answer"
    )
    args = ap.parse_args()
    if args.render:
        import polars as pl

        saved = json.loads((HERE / "data" / "cube-results.json").read_text())
        b, f, res, ld = saved["build"], saved["info"], saved["results"], saved["load"]
        after = saved.get("load_after", ld)
        first, ran = saved.get("first"), saved.get("ran")
        render(args.rows, b, f, res, ld, after, pl.__version__, first, ran)
        return
    sys.path.insert(0, str(ROOT))
    import polars as pl
    from polars.testing import assert_frame_equal

    import kpi
    from kpi import cube
    from kpi.compute import availability

    path = args.data or ensure_data(args.rows)
    load = os.getloadavg()
    ran = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    build = None
    if not args.no_build:
        log("the scorecard from the rows, then the cube part by part")
        card = timed_scorecard(path)
        log(f"scorecard {card['wall']:.1f} s")
        parts = timed_parts(path)
        log(
            "parts: "
            + ", ".join(f"{k} {v['wall']:.1f} s" for k, v in parts.items() if k != "rss_gib")
        )
        log("building the cube")
        before = os.getloadavg()[0]
        build = {**timed_build(path), "load": before, "scorecard": card, "parts": parts}
        log(f"built in {build['wall']:.1f} s, {build['rss_gib']:.2f} GiB")
    found = cube.info(path)
    first = None
    if not args.no_first:
        runs = [timed_first_screen(path) for _ in range(3)]
        first = {**sorted(runs, key=lambda r: r["wall"])[1], "runs": [r["wall"] for r in runs]}
        log(f"first screen {first['wall']:.2f} s (import {first['import']:.2f} s)")
    ds = kpi.load(path)
    kpis = [k for k, a in availability(ds).items() if a.ok]
    if args.kpis:
        kpis = [k for k in kpis if k in args.kpis.split(",")]
    results = []
    for k in kpis:
        for every, by in VIEWS:
            kw = {"every": every, "by": by}
            fast = kpi.evaluate(kpi.load(path), k, **kw)
            used = ".kpi-cube" in fast.frame.explain()
            if args.cube_only and not used:
                log(f"{k} {every} {by}: rows, skipped")
                continue
            times = []
            for _ in range(REPS if used else 1):
                t = time.perf_counter()
                got = kpi.evaluate(kpi.load(path), k, **kw).frame.collect()
                times.append(time.perf_counter() - t)
            row = {"kpi": k, "every": every, "by": list(by), "cube": used, "times": times}
            grains = ROWS_GRAINS if not args.all_rows else [e for e, _ in VIEWS]
            if not args.no_rows and every in grains and (used or args.kpis):
                t = time.perf_counter()
                want = kpi.evaluate(kpi.load(path), k, cube=False, **kw).frame.collect()
                row["rows_s"] = time.perf_counter() - t
                if used:
                    assert_frame_equal(want, got, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
            results.append(row)
            log(f"{k} {every} {by}: {'cube' if used else 'rows'} {statistics.median(times):.3f} s")
    (args.json or HERE / "data" / "cube-results.json").write_text(
        json.dumps(
            {
                "ran": ran,
                "build": build,
                "first": first,
                "info": found,
                "results": results,
                "load": load,
                "load_after": os.getloadavg(),
            },
            indent=1,
        )
    )
    if not args.no_render:
        render(args.rows, build, found, results, load, os.getloadavg(), pl.__version__, first, ran)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def render(
    rows, build, found, results, load0, load1, polars_version, first=None, ran=None
) -> None:
    cube_t = [t for r in results if r["cube"] for t in r["times"]]
    rows_t = [r["rows_s"] for r in results if "rows_s" in r]
    fb = [r for r in results if not r["cube"]]
    fb_t = [t for r in fb for t in r["times"]]
    cells = sum(lv["cells"] for lv in found.get("levels", []))
    size = sum(lv["bytes"] for lv in found.get("levels", [])) / 2**20
    lines = [
        "# Measure cube: build and explorer redraw at 10 million contacts",
        "",
        "`bench/bench_cube.py` (issue 18). Data: `bench/_contacts_gen.py`, "
        f"{rows:,} contacts, one year (2025, Europe/London), contacts table only. "
        f"Run {ran or format(datetime.now(UTC), '%Y-%m-%d %H:%M')} UTC; load average "
        f"{load0[0]:.1f} before, "
        f"{load1[0]:.1f} after (2 cores shared with other work: wall times are inflated).",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}, polars {polars_version}.",
        "",
        "A redraw is `evaluate(kpi.load(DIR), kpi, by=..., every=...).frame.collect()`, the",
        "compute step of the trend explorer's callback (the chart spec is not timed here), for "
        f"every contacts KPI at {len(VIEWS)} views: "
        + ", ".join(f"{e} by {', '.join(b) or 'nothing'}" for e, b in VIEWS)
        + (
            ". Cube results were checked equal to the rows' (1e-9 relative, nulls equal) where "
            "the rows were timed."
            if any("rows_s" in r for r in results)
            else ". The rows were not read in this run (`--no-rows`): `tests/test_cube.py` "
            "compares cube and rows."
        ),
        "",
        "| goal | measured | verdict |",
        "| --- | --- | --- |",
    ]
    if build and build.get("parts"):
        parts, card = build["parts"], build["scorecard"]
        core = parts["core"]
        ok = core["wall"] <= 15
        later = ", ".join(
            f"{k} +{v['wall']:.1f} s" for k, v in parts.items() if k not in ("core", "rss_gib")
        )
        lines.append(
            f"| build ≤ one scorecard (~15 s), bounded memory | first use (the core): "
            f"{core['wall']:.1f} s wall, {core['cpu']:.1f} CPU s; the scorecard from the rows "
            f"(`kpi compute --metrics all --by team --every 1mo`, with its import): "
            f"{card['wall']:.1f} s wall, {card['cpu']:.1f} CPU s. Each other part when a KPI "
            f"first needs it: {later}. All at once (`kpi cube build`): {build['wall']:.1f} s "
            f"wall, {build['cpu']:.1f} CPU s, peak RSS {build['rss_gib']:.2f} GiB"
            + (f" (load {build['load']:.1f})" if "load" in build else "")
            + f"; {cells:,} cells, {size:.0f} MiB | "
            + ("first use met" if ok else "first use **not met**")
            + f" (≤ 15 s; {core['wall'] / card['wall']:.2f}× the scorecard's wall time, "
            + f"{core['cpu'] / card['cpu']:.2f}× its CPU); "
            + ("all at once met" if build["wall"] <= 15 else "all at once **not met**")
            + " |"
        )
    elif build:
        ok = build["wall"] <= 15
        lines.append(
            f"| build ≤ one scorecard (~15 s), bounded memory | {build['wall']:.1f} s wall, "
            f"{build['cpu']:.1f} CPU s, peak RSS {build['rss_gib']:.2f} GiB"
            + (f" (load {build['load']:.1f})" if "load" in build else "")
            + f"; {cells:,} cells, "
            f"{size:.0f} MiB | {'met' if ok else '**not met**'} |"
        )
    if cube_t:
        p50, p95 = statistics.median(cube_t), pct(cube_t, 0.95)
        lines.append(
            f"| redraw p95 < 300 ms, the compute step (KPIs the cube answers; the whole callback: `bench_explorer.py`) | p50 {p50 * 1000:.0f} ms, p95 "
            f"{p95 * 1000:.0f} ms over {len(cube_t)} redraws "
            f"({len({r['kpi'] for r in results if r['cube']})} KPIs) | "
            f"{'met' if p95 < 0.3 else '**not met**'} |"
        )
    if first:
        runs = first.get("runs")
        each = f" (median of runs {', '.join(f'{w:.2f}' for w in runs)} s)" if runs else ""
        lines.append(
            f"| first screen < 5 s (cube cached) | {first['wall']:.2f} s: import kpi and altair "
            f"{first['import']:.2f} s, load + first trend chart {first['chart']:.2f} s{each} | "
            f"{'met' if first['wall'] < 5 else '**not met**'} |"
        )
    if rows_t:
        lines.append(
            f"| (same redraws from the rows) | p50 {statistics.median(rows_t):.2f} s, p95 "
            f"{pct(rows_t, 0.95):.2f} s over {len(rows_t)} redraws | for comparison |"
        )
    if fb_t:
        lines.append(
            f"| redraw p95 < 300 ms, KPIs read from the rows | p50 {statistics.median(fb_t):.2f} "
            f"s, p95 {pct(fb_t, 0.95):.2f} s over {len(fb_t)} redraws | **not met** |"
        )
    lines += ["", "| view | cube p50 ms | cube p95 ms |", "| --- | --- | --- |"]
    for every, by in VIEWS:
        ts = [
            t
            for r in results
            if r["cube"] and r["every"] == every and tuple(r["by"]) == by
            for t in r["times"]
        ]
        if ts:
            view = f"{every} by {', '.join(by) or 'nothing'}"
            p50, p95 = statistics.median(ts) * 1000, pct(ts, 0.95) * 1000
            lines.append(f"| {view} | {p50:.0f} | {p95:.0f} |")
    lines += [
        "",
        "Read from the rows (not in the cube): "
        + (
            ", ".join(
                sorted(
                    {f"{r['kpi']} ({r['every']} by {', '.join(r['by']) or 'nothing'})" for r in fb}
                )
            )
            or "none"
        )
        + ".",
        "",
        "| KPI | views from the cube | cube median ms | cube max ms | rows median s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for k in dict.fromkeys(r["kpi"] for r in results):
        mine = [r for r in results if r["kpi"] == k]
        ts = [t for r in mine if r["cube"] for t in r["times"]]
        rs = [r["rows_s"] for r in mine if "rows_s" in r]
        cube_ms = f"{statistics.median(ts) * 1000:.0f} | {max(ts) * 1000:.0f}" if ts else "– | –"
        rows_s = f"{statistics.median(rs):.2f}" if rs else "–"
        lines.append(
            f"| {k} | {sum(r['cube'] for r in mine)}/{len(mine)} | {cube_ms} | {rows_s} |"
        )
    lines += [
        "",
        "Levels (cells): "
        + ", ".join(
            f"{lv['grain']} by {', '.join(lv['dims']) or 'nothing'} {lv['cells']:,}"
            for lv in found.get("levels", [])
        )
        + ". Each view reads the smallest level that answers it.",
        "",
        "Not measured: 100 million contacts (not run in this session), the full chart-spec",
        "callback and the report set.",
    ]
    # sections measured by hand (other commands, other sessions) are kept below the marker
    page = HERE / "results-cube.md"
    old = page.read_text() if page.exists() else ""
    kept = old[old.index(KEPT) :] if KEPT in old else ""
    page.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))
    log("wrote bench/results-cube.md")


if __name__ == "__main__":
    main()
