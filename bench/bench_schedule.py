"""Bench: a week of 15-minute requirements for about 150 agents and 2 skills, planned by
``kpi.schedule`` (HiGHS) against the LP bound and against pyworkforce's daily cover.

The instance (synthetic, seeded): voice and chat arrivals per 15 minutes with a weekly shape
(Monday peak, quieter Friday, short weekends) and a two-peak intraday profile, open 07:00-22:00
on weekdays and 08:00-18:00 at weekends; AHT 300 s (voice, 80 % in 20 s) and 480 s (chat, 80 %
in 60 s); Erlang C required agents rounded up once per skill and interval. Scaled so that the
plan rosters about 150 agents on five-day weeks.

Shifts (both solvers): 8 h 30 min with a 30-minute break, and 4 h part-time, starting every 15
minutes from 06:00 to 18:00 (our plan places the break anywhere from 3 h 30 min to 5 h in;
pyworkforce takes the break fixed at 4 h in, as its coverage arrays are fixed). pyworkforce
plans one day and one skill at a time (no weeks, no days off, no skills), so it is run per day
and per skill and its shifts are counted as they are (no days-off constraint: the comparison
favours it). It runs in a separate venv (``/tmp/sched-peers``) through a subprocess; without
it the table says "not run".

    PYTHONPATH=. python bench/bench_schedule.py [--time-limit-s 60] [--out bench/results-schedule.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = Path(os.environ.get("SCHED_PEERS", "/tmp/sched-peers")) / "bin" / "python"
WEEK = "2026-W10"
EVERY_MIN = 15
SCALE = 1.83  # contacts multiplier: about 150 agents

SHIFTS = {
    "shift": [
        {
            "name": "full",
            "length": "8h30m",
            "start": "06:00-18:00",
            "breaks": [{"length": "30m", "earliest": "3h30m", "latest": "5h"}],
        },
        {"name": "part", "length": "4h", "start": "06:00-18:00"},
    ]
}


def instance(seed: int = 17) -> pl.DataFrame:
    """The forecast table of the instance: period, queue, channel, forecast (contacts)."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 3, 2)
    slots = np.arange(96)
    hours = slots / 4
    day_factor = [1.15, 1.05, 1.0, 1.0, 0.9, 0.55, 0.35]
    rows = []
    for d in range(7):
        lo, hi = (7, 22) if d < 5 else (8, 18)
        open_ = (hours >= lo) & (hours < hi)
        shape = (
            np.exp(-0.5 * ((hours - 10.5) / 1.8) ** 2)
            + 0.8 * np.exp(-0.5 * ((hours - 15) / 2.2) ** 2)
            + 0.25
        )
        for queue, channel, base in (("Voice", "voice", 30.0), ("Chat", "chat", 12.0)):
            mean = base * SCALE * day_factor[d] * shape * open_
            noise = rng.normal(1.0, 0.04, size=96)
            values = np.clip(mean * noise, 0, None)
            for s in slots:
                rows.append(
                    (
                        start + timedelta(days=d, minutes=EVERY_MIN * int(s)),
                        queue,
                        channel,
                        float(values[s]),
                    )
                )
    return pl.DataFrame(rows, schema=["period", "queue", "channel", "forecast"], orient="row")


def ours(time_limit_s: float) -> tuple[dict, np.ndarray, list[str]]:
    from kpi.schedule import plan, required_from_forecast, shifts_from
    from kpi.schedule._requirements import skill_matrix

    req = required_from_forecast(
        instance(), aht_s={"Voice": 300.0, "Chat": 480.0}, every="15m", wrap=True
    )
    skills, _, required = skill_matrix(req)
    t0 = time.perf_counter()
    p = plan(req, week=WEEK, shifts=shifts_from(SHIFTS), time_limit_s=time_limit_s)
    wall = time.perf_counter() - t0
    d = p.to_dict()
    return (
        {
            "agents": d["agents"],
            "paid_hours": d["paid_hours"],
            "overstaffing": d["overstaffing"],
            "lp_bound": d["lower_bound"],
            "objective": d["objective"],
            "gap_vs_lp": d["gap"],
            "mip_bound": d["mip_bound"],
            "solve_s": d["solve_s"],
            "wall_s": wall,
            "understaffed": len(d["understaffed_intervals"]),
            "status": d["status"],
        },
        required,
        skills,
    )


PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
from pyworkforce.scheduling import MinAbsDifference, MinRequiredResources
SOLVER = {"MinRequiredResources": MinRequiredResources, "MinAbsDifference": MinAbsDifference}[sys.argv[2]]
spec = json.load(open(sys.argv[1]))
req = np.array(spec["required"])  # skills x 672
covers = {name: list(map(int, c)) for name, c in spec["shifts"].items()}
lengths = spec["lengths"]
out = {"paid": 0.0, "on_duty": 0.0, "met": 0.0, "status": [], "solve_s": 0.0, "shifts": 0}
for s in range(req.shape[0]):
    for d in range(7):
        day = req[s, d * 96:(d + 1) * 96].tolist()
        if max(day) == 0:
            continue
        t0 = time.perf_counter()
        solver = SOLVER(num_days=1, periods=96, shifts_coverage=covers,
                                      required_resources=[day], max_period_concurrency=10000,
                                      max_shift_concurrency=10000, max_search_time=60.0,
                                      num_search_workers=2)
        sol = solver.solve()
        out["solve_s"] += time.perf_counter() - t0
        out["status"].append(sol["status"])
        cov = np.zeros(96)
        for r in sol["resources_shifts"]:
            k = r["resources"]
            if k:
                cov += k * np.array(covers[r["shift"]])
                out["paid"] += k * lengths[r["shift"]]
                out["shifts"] += k
        out["on_duty"] += cov.sum()
        out["met"] += np.minimum(cov, day).sum()
print(json.dumps(out))
"""


def peer(required: np.ndarray, solver: str) -> dict | None:
    """pyworkforce ``solver`` per day and per skill, or None when not installed."""
    if not PEER_PYTHON.exists():
        return None
    shifts, lengths = {}, {}
    for name, slots, brk in (("full", 34, (16, 18)), ("part", 16, None)):
        for start in range(24, 73):  # 06:00 to 18:00
            cover = np.zeros(96, dtype=int)
            end = min(96, start + slots)
            cover[start:end] = 1
            if brk:
                cover[start + brk[0] : start + brk[1]] = 0
            shifts[f"{name}_{start}"] = cover.tolist()
            lengths[f"{name}_{start}"] = slots
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(
            json.dumps({"required": required.tolist(), "shifts": shifts, "lengths": lengths})
        )
        script = Path(tmp) / "peer.py"
        script.write_text(PEER_SCRIPT)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(PEER_PYTHON), str(script), str(spec), solver],
            capture_output=True,
            text=True,
            check=False,
            timeout=3600,
        )
        wall = time.perf_counter() - t0
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "paid_hours": out["paid"] * EVERY_MIN / 60,
        "overstaffing": (out["on_duty"] - out["met"]) / out["on_duty"],
        "understaffed_agent_intervals": float(required.sum() - out["met"]),
        "shifts": out["shifts"],
        "solve_s": out["solve_s"],
        "wall_s": wall,
        "status": sorted(set(out["status"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit-s", type=float, default=60.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result, required, skills = ours(args.time_limit_s)
    peak = {s: int(required[i].max()) for i, s in enumerate(skills)}
    peers = {name: peer(required, name) for name in ("MinAbsDifference", "MinRequiredResources")}
    goal = (
        result["gap_vs_lp"] <= 0.02 and result["solve_s"] <= 60 and result["overstaffing"] <= 0.08
    )
    lines = [
        "# Schedule bench",
        "",
        f"Run {datetime.now():%Y-%m-%d}, {os.cpu_count()} cores visible, HiGHS through scipy "
        f"`milp`; `PYTHONPATH=. python bench/bench_schedule.py`.",
        "",
        f"Instance: synthetic week ({WEEK}) of 15-minute requirements, 2 skills "
        f"({', '.join(skills)}), Erlang C, peaks {peak}, "
        f"{int(required.sum())} required agent-intervals (see the bench's docstring).",
        "",
        "| solver | agents | paid hours | overstaffing | under-staffed | gap vs LP bound | solve s |",
        "|---|---|---|---|---|---|---|",
        f"| kpi.schedule (weekly, days off, breaks placed) | {result['agents']} | "
        f"{result['paid_hours']:,.0f} | {result['overstaffing']:.1%} | {result['understaffed']} "
        f"| {result['gap_vs_lp']:.2%} | {result['solve_s']:.1f} |",
    ]
    for name, other in peers.items():
        label = f"pyworkforce {name} (per day, per skill, fixed breaks, no days off)"
        if other is None:
            lines.append(f"| {label} | not run | | | | | |")
        elif "error" in other:
            lines.append(f"| {label} | failed: {other['error']} | | | | | |")
        else:
            lines.append(
                f"| {label} | ({other['shifts']} shifts) | {other['paid_hours']:,.0f} | "
                f"{other['overstaffing']:.1%} | {other['understaffed_agent_intervals']:g} "
                f"agent-intervals | n/a | {other['solve_s']:.1f} |"
            )
    lines += [
        "",
        f"Goal (within 2% of the LP bound in 60 s, overstaffing ≤ 8%): "
        f"{'met' if goal else 'NOT met'}. LP bound {result['lp_bound']:,.1f}, objective "
        f"{result['objective']:,.1f}, HiGHS bound {result['mip_bound']:,.1f}, status "
        f"{result['status']}.",
    ]
    lines += [
        "",
        "Reading: pyworkforce cannot plan a week, days off or two skills, so it runs 14 times "
        "(7 days × 2 skills) with each break fixed at 4 h in, and its shift counts carry no "
        "days-off constraint; our plan is one weekly model with five-day weeks (two days off "
        "in a row) and break placement. MinRequiredResources minimises the number of shifts, "
        "so it takes full days and overstaffs; MinAbsDifference minimises |coverage − "
        "requirement| and reaches lower overstaffing by leaving intervals short (it does not "
        'insist on coverage). The issue\'s "about 10%" for pyworkforce was not reproduced on '
        "this instance: the two pyworkforce objectives bracket it. Paid hours are the cost "
        "both plans minimise; our mix leans on 4-hour shifts because nothing limits part-time "
        "(a group's max_agents or a templates file would).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    print(json.dumps({"ours": result, "pyworkforce": peers}, default=str), file=sys.stderr)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
