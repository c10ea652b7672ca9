"""Benchmark of ``kpi.forecast`` on the real Technion 1999 arrival series, and its speed.

Protocol (issue 16): hold out four weeks, refit weekly, forecast one week ahead from each
origin (Mondays, 00:00 local), score every interval of the week at 15 and 30 minutes (the
6-minute slots binned by their start by the engine). WAPE = Σ|a − f| / Σ a over the four weeks;
the Poisson floor is sqrt(2 / (π · mean calls per open interval)). The main window is the last
four whole Monday weeks of the year; the same is repeated for every block of four Mondays from
the ninth week on (eight weeks of history first), holidays included, so that a method is not
tuned to one window. Peers (statsforecast MSTL, Prophet) run in the separate environment
``/tmp/fc-peers`` (``PEER_PYTHON``) through ``peers_forecast.py`` on the main window and two
holiday windows, trained on the 12 weeks before each origin; without it they are "not run".

Speed: one queue-week (fit and forecast with ``auto``, i.e. with its backtest) on the Technion
series; and a year of 30-minute history for 100 synthetic queues (Poisson with weekly and
intraday patterns), ``by="queue"``.

    PYTHONPATH=. .venv/bin/python bench/bench_forecast.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _arrivals import ARRIVALS, technion_arrivals

import kpi.forecast as F
from kpi.data import Dataset
from kpi.forecast._series import history

HERE = Path(__file__).resolve().parent
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/tmp/fc-peers/bin/python")
METHODS = ("same_slot_last_week", "mean_of_4_weeks", "daily_profile", "auto")


def _windows(first: date, days: int) -> tuple[list[int], list[list[int]]]:
    """Origin day indices (Mondays after 8 weeks, a whole week after them) and 4-week blocks."""
    mondays = [i for i in range(56, days - 6) if (first + timedelta(days=i)).weekday() == 0]
    blocks = [mondays[i : i + 4] for i in range(0, len(mondays) - 3, 4)]
    last = mondays[-4:]
    if last not in blocks:
        blocks.append(last)
    return mondays, blocks


def _ours(
    ds: Dataset, every: str, first: date, origins: list[int]
) -> dict[str, dict[int, np.ndarray]]:
    minutes = {"15m": 15, "30m": 30}[every]
    slots = 1440 // minutes
    out: dict[str, dict[int, np.ndarray]] = {m: {} for m in METHODS}
    for o in origins:
        start = first + timedelta(days=o)
        for m in METHODS:
            t = F.run(ds, every=every, horizon="7d", until=start.isoformat(), method=m).table
            local = t["period"].dt.replace_time_zone(None)
            day = (local.dt.date() - start).dt.total_days().to_numpy()
            slot = (
                (local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute()) // minutes
            ).to_numpy()
            f = np.zeros((7, slots))  # a slot skipped by a clock change stays 0
            np.add.at(f, (day, slot), t["forecast"].fill_null(0).to_numpy())
            out[m][o] = f
    return out


def _peers(y: np.ndarray, first: date, every_min: int, origins: list[int]) -> dict:
    if not Path(PEER_PYTHON).exists():
        return {"error": f"not run: no peer environment at {PEER_PYTHON}"}
    days, slots = y.shape
    start = datetime.combine(first, datetime.min.time())
    ds = [start + timedelta(minutes=every_min * i) for i in range(days * slots)]
    flag = np.zeros(days * slots, dtype=int)
    for o in origins:
        flag[o * slots] = 1
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.csv", Path(tmp) / "out.json"
        pl.DataFrame({"ds": ds, "y": y.ravel(), "origin": flag}).write_csv(src)
        proc = subprocess.run(
            [
                PEER_PYTHON,
                str(HERE / "peers_forecast.py"),
                str(src),
                str(out),
                str(slots),
                "12",
                "IL",
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            return {"error": f"not run: {proc.stderr.strip().splitlines()[-1:]}"}
        raw = json.loads(out.read_text())
    res: dict = {"seconds": raw.get("seconds", {})}
    for model in ("mstl", "prophet"):
        got = raw.get(model, {})
        if "error" in got:
            res[model] = {"error": got["error"]}
            continue
        res[model] = {}
        for o in origins:
            key = str(start + timedelta(days=o))
            if key in got:
                res[model][o] = np.array(got[key]).reshape(7, slots)
    return res


def _wape(y: np.ndarray, fc: dict[int, np.ndarray], origins: list[int]) -> float | None:
    if not all(o in fc for o in origins):
        return None
    a = np.array([y[o : o + 7] for o in origins])
    f = np.array([fc[o] for o in origins])
    return float(np.abs(a - f).sum() / a.sum())


def _floor(y: np.ndarray, fc: dict[int, np.ndarray], origins: list[int]) -> float:
    a = np.array([y[o : o + 7] for o in origins])
    f = np.array([fc[o] for o in origins])
    open_ = (a > 0) | (f > 0)
    return float(np.sqrt(2 / (np.pi * a.sum() / open_.sum())))


def _speed() -> dict[str, float]:
    ds = technion_arrivals()
    out = {}
    for m in ("daily_profile", "auto"):
        t = time.perf_counter()
        F.run(ds, every="15m", horizon="7d", until="1999-12-06", method=m)
        out[f"technion_15m_{m}_s"] = time.perf_counter() - t
    # 100 synthetic queues, a year of 30-minute history (Poisson, weekly x intraday pattern)
    rng = np.random.default_rng(1)
    days, slots = 365, 48
    start = datetime(2025, 1, 1)
    hours = np.arange(slots) / 2
    intraday = np.clip(np.sin((hours - 7) / 12 * np.pi), 0, None) ** 1.5
    weekly = np.array([1.1, 1.0, 1.0, 0.95, 0.9, 0.4, 0.2])
    frames = []
    stamps = pl.datetime_range(
        start, start + timedelta(minutes=30 * (days * slots - 1)), "30m", eager=True
    ).to_numpy()
    wd = np.array([(start + timedelta(days=d)).weekday() for d in range(days)])
    for q in range(100):
        scale = rng.uniform(2, 40)
        lam = scale * weekly[wd][:, None] * intraday[None, :]
        counts = rng.poisson(lam).ravel()
        keep = counts > 0
        frames.append(
            pl.DataFrame(
                {
                    "interval_start": stamps[keep],
                    "queue": f"q{q:03d}",
                    "offered": counts[keep],
                }
            )
        )
    table = pl.concat(frames).with_columns(
        pl.col("interval_start").dt.replace_time_zone("UTC"), pl.lit(1800.0).alias("interval_s")
    )
    ds100 = Dataset({"intervals": table}, tz="UTC")
    t = time.perf_counter()
    r = F.run(ds100, every="30m", horizon="7d", by="queue", method="auto")
    out["queues_100_year_30m_auto_s"] = time.perf_counter() - t
    out["queues_100_rows"] = r.table.height
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="main window only, no peers")
    ap.add_argument("--out", default=str(HERE / "results-forecast.md"))
    args = ap.parse_args(argv)
    if not ARRIVALS.exists():
        print(f"skipped: {ARRIVALS} is absent")
        return 0
    ds = technion_arrivals()
    lines = [
        "# Forecast (kpi forecast)",
        "",
        f"Measured {date.today()} by `bench/bench_forecast.py`"
        + (" --quick" if args.quick else "")
        + " on 2 shared cores (other helpers ran tests meanwhile: wall times are upper bounds).",
        "Data: the Technion 1999 arrival series (6-minute slots, one queue, country IL, "
        "`bench/_arrivals.py`). One-week-ahead forecasts from Monday origins, refitted weekly; "
        "WAPE over each block of four weeks.",
        "",
    ]
    summary: dict[str, dict] = {}
    for every, minutes in (("15m", 15), ("30m", 30)):
        [s], _ = history(ds, metric="contacts_offered", every=every, by=[], until=None)
        y = s.y
        mondays, blocks = _windows(s.first, s.days)
        main_block = blocks[-1]
        origins = main_block if args.quick else mondays
        t = time.perf_counter()
        ours = _ours(ds, every, s.first, origins)
        took = time.perf_counter() - t
        peer_blocks = (
            [] if args.quick else [main_block, *[b for b in blocks if _holiday(b, s.first)][:2]]
        )
        peer_origins = sorted({o for b in peer_blocks for o in b})
        peers = (
            _peers(y, s.first, minutes, peer_origins)
            if peer_origins
            else {"error": "not run (--quick)"}
        )
        lines += [
            f"## {every}",
            "",
            "| window (first origin) | floor | " + " | ".join(METHODS) + " | MSTL | Prophet |",
            "|---|---|" + "---|" * (len(METHODS) + 2),
        ]
        for b in [main_block] if args.quick else blocks:
            first_day = s.first + timedelta(days=b[0])
            cells = [_pct(_wape(y, ours[m], b)) for m in METHODS]
            peer_cells = [
                _pct(_wape(y, peers[m], b))
                if isinstance(peers.get(m), dict) and "error" not in peers[m]
                else "not run"
                for m in ("mstl", "prophet")
            ]
            tag = " (main: last 4 weeks)" if b == main_block else ""
            lines.append(
                f"| {first_day}{tag} | {_pct(_floor(y, ours['daily_profile'], b))} | "
                + " | ".join(cells + peer_cells)
                + " |"
            )
        allw = {m: _wape(y, ours[m], origins) for m in METHODS}
        lines += [
            "",
            f"All {len(origins)} origins: "
            + ", ".join(f"{m} {_pct(v)}" for m, v in allw.items())
            + f"; floor {_pct(_floor(y, ours['daily_profile'], origins))}.",
        ]
        if "error" in peers:
            lines.append(f"Peers: {peers['error']}.")
        else:
            for m in ("mstl", "prophet"):
                if "error" in peers.get(m, {}):
                    lines.append(f"{m}: not run ({peers[m]['error']}).")
            lines.append(
                f"Peer fit time over {len(peer_origins)} origins: "
                + ", ".join(f"{k} {v:.0f} s" for k, v in peers.get("seconds", {}).items())
                + "."
            )
        lines += [
            f"Our four methods over {len(origins)} origins took {took:.1f} s (engine, backtest and forecast each time).",
            "",
        ]
        summary[every] = {
            "main": {m: _wape(y, ours[m], main_block) for m in METHODS},
            "all": allw,
            "peers": peers,
            "main_block": main_block,
            "peer_main": {
                m: (
                    _wape(y, peers[m], main_block)
                    if isinstance(peers.get(m), dict) and "error" not in peers[m]
                    else None
                )
                for m in ("mstl", "prophet")
            },
        }
    speed = _speed()
    lines += ["## Speed", ""]
    lines += [
        f"- {k}: {v:.2f}" if isinstance(v, float) else f"- {k}: {v}" for k, v in speed.items()
    ]
    lines += ["", "## Goals", ""]
    for every in ("15m", "30m"):
        sm = summary[every]
        ours_main = sm["main"]["auto"]
        base = sm["main"]["mean_of_4_weeks"]
        peer_vals = [v for v in sm["peer_main"].values() if v is not None]
        best_peer = min([base, *peer_vals])
        gain = 1 - ours_main / best_peer if ours_main and best_peer else None
        lines.append(
            f"- {every}, main window: auto {_pct(ours_main)} vs best of mean_of_4_weeks and peers "
            f"{_pct(best_peer)}: {_pct(gain)} better ({'met' if gain is not None and gain >= 0.10 else 'NOT met'}, goal ≥ 10%)."
        )
        allg = 1 - sm["all"]["auto"] / sm["all"]["mean_of_4_weeks"]
        lines.append(f"- {every}, all origins: auto vs mean_of_4_weeks {_pct(allg)} better.")
    lines.append(
        f"- one queue-week under 1 s: {speed['technion_15m_auto_s']:.2f} s with auto ({'met' if speed['technion_15m_auto_s'] < 1 else 'NOT met'})."
    )
    lines.append(
        f"- 100 queues x a year of 30-minute history under 60 s: {speed['queues_100_year_30m_auto_s']:.1f} s ({'met' if speed['queues_100_year_30m_auto_s'] < 60 else 'NOT met'})."
    )
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _holiday(block: list[int], first: date) -> bool:
    from kpi.forecast._holidays import public_holidays

    days = {first + timedelta(days=o + h) for o in block for h in range(7)}
    return bool(days & set(public_holidays("IL", [first.year])))


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


if __name__ == "__main__":
    raise SystemExit(main())
