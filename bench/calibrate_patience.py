"""Measure callers' patience on a real call log and fit the simulator's patience distribution.

The method follows Brown et al., "Statistical Analysis of a Telephone Call Center: A
Queueing-Science Perspective", JASA 100 (2005), section 6, on the same bank's 1999 data:

* patience is censored: an abandon shows the caller's patience (its wait), an answered call only
  shows that the patience was longer than the wait. The survival function of patience is the
  Kaplan-Meier estimate over every call that reached the queue; its hazard rate is estimated per
  bin of time waited as abandons in the bin / caller-seconds at risk in the bin (life table).
* the exponential MLE of the mean patience is total waiting time / abandons (``kpi.staffing.
  estimate_patience`` uses the same rule); a Weibull and a two-phase hyper-exponential mixture
  are fitted by censored maximum likelihood and compared by AIC and by their distance to the
  Kaplan-Meier curve.
* abandonment against waiting: per hour of each day with at least ``--min-calls`` queued calls,
  the share abandoned against the mean wait of all queued calls. With patience of hazard θ,
  abandons = θ × total time waited, so the points lie on a line through the origin of slope
  1 / mean patience (Brown et al., figure 9).

Run (writes the tables as markdown to stdout; ``--sample DIR`` also runs the same analysis on a
simulated dataset's voice contacts for comparison)::

    python bench/calibrate_patience.py \
        --log ../shared/datasets/technion_bank_1999_02/calls_1999_02.tsv --sample data/samples

The fitted numbers are copied by hand into ``kpi/_sim/config.py`` (``PATIENCE``); the output
of the last run is in ``bench/results-simulate.md``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from scipy import optimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kpi.io import import_file  # noqa: E402

BINS = (0, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900)
CHECK_S = (15, 30, 60, 120, 180, 300, 450, 600)
QUEUED = ("answered", "abandoned_queue", "flowout")


def queued_calls(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(wait, abandoned) of every contact that reached the queue (answered, abandoned, or
    flowed out to voicemail: censored at its wait like an answered call)."""
    q = frame.filter(pl.col("outcome").is_in(QUEUED))
    q = q.filter(pl.col("wait_s").is_not_null())
    wait = q["wait_s"].to_numpy().astype(np.float64)
    ab = (q["outcome"] == "abandoned_queue").to_numpy()
    # an abandon recorded at 0 s left within the first second
    wait = np.where(ab & (wait <= 0), 0.5, wait)
    return wait, ab


def kaplan_meier(wait: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event times and the Kaplan-Meier survival just after each."""
    order = np.argsort(wait, kind="stable")
    w, e = wait[order], ab[order]
    times, first = np.unique(w, return_index=True)
    events = np.add.reduceat(e.astype(np.int64), first)
    at_risk = len(w) - first
    keep = events > 0
    surv = np.cumprod(1.0 - events[keep] / at_risk[keep])
    return times[keep], surv


def km_at(times: np.ndarray, surv: np.ndarray, t: float) -> float:
    i = np.searchsorted(times, t, side="right") - 1
    return 1.0 if i < 0 else float(surv[i])


def hazard_table(wait: np.ndarray, ab: np.ndarray) -> list[tuple[int, int, int, float, float]]:
    """Per bin: (from, to, abandons, caller-hours at risk, hazard per minute)."""
    out = []
    for lo, hi in itertools.pairwise(BINS):
        exposure = np.clip(wait - lo, 0, hi - lo).sum()
        n = int(((wait > lo) & (wait <= hi) & ab).sum())
        out.append((lo, hi, n, exposure / 3600, 60 * n / exposure if exposure else math.nan))
    return out


# ---------------------------------------------------------------- censored maximum likelihood


def _ll_weibull(p: np.ndarray, w: np.ndarray, ab: np.ndarray) -> float:
    k, lam = np.exp(p)
    z = (w / lam) ** k
    dens = np.log(k / lam) + (k - 1) * np.log(np.maximum(w, 1e-9) / lam)
    return float((ab * dens).sum() - z.sum())


def _ll_hyper(p: np.ndarray, w: np.ndarray, ab: np.ndarray) -> float:
    q = 1 / (1 + np.exp(-p[0]))
    m1, m2 = np.exp(p[1:])
    s = q * np.exp(-w / m1) + (1 - q) * np.exp(-w / m2)
    f = q / m1 * np.exp(-w / m1) + (1 - q) / m2 * np.exp(-w / m2)
    return float(np.log(np.where(ab, f, s) + 1e-300).sum())


def fit(wait: np.ndarray, ab: np.ndarray) -> dict[str, dict]:
    """Exponential, Weibull and hyper-exponential fits with their log-likelihood and AIC."""
    n_ab = int(ab.sum())
    mean = float(wait.sum() / n_ab)
    ll_exp = -n_ab * math.log(mean) - float(wait.sum()) / mean
    fits = {"exponential": {"mean_s": mean, "ll": ll_exp, "k": 1}}
    r = optimize.minimize(
        lambda p: -_ll_weibull(p, wait, ab), np.log([1.0, mean]), method="Nelder-Mead"
    )
    shape, scale = np.exp(r.x)
    fits["weibull"] = {
        "shape": float(shape),
        "scale_s": float(scale),
        "mean_s": float(scale * math.gamma(1 + 1 / shape)),
        "ll": -float(r.fun),
        "k": 2,
    }
    r = optimize.minimize(
        lambda p: -_ll_hyper(p, wait, ab),
        np.array([-1.0, math.log(mean / 10), math.log(mean)]),
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6},
    )
    q = float(1 / (1 + np.exp(-r.x[0])))
    m1, m2 = (float(x) for x in np.exp(r.x[1:]))
    if m1 > m2:
        q, m1, m2 = 1 - q, m2, m1
    fits["hyper-exponential"] = {
        "p_impatient": q,
        "mean_impatient_s": m1,
        "mean_patient_s": m2,
        "mean_s": q * m1 + (1 - q) * m2,
        "ll": -float(r.fun),
        "k": 3,
    }
    for f in fits.values():
        f["aic"] = 2 * f["k"] - 2 * f["ll"]
    return fits


def survival(name: str, f: dict, t: np.ndarray) -> np.ndarray:
    if name == "exponential":
        return np.exp(-t / f["mean_s"])
    if name == "weibull":
        return np.exp(-((t / f["scale_s"]) ** f["shape"]))
    q = f["p_impatient"]
    return q * np.exp(-t / f["mean_impatient_s"]) + (1 - q) * np.exp(-t / f["mean_patient_s"])


# ------------------------------------------------------------ abandonment against mean wait


def hourly(frame: pl.DataFrame, *, min_calls: int) -> pl.DataFrame:
    """Per hour of each day: queued calls, share abandoned, mean wait of all queued calls."""
    q = frame.filter(pl.col("outcome").is_in(QUEUED))
    return (
        q.group_by(pl.col("queue_ts").dt.truncate("1h").alias("hour"))
        .agg(
            pl.len().alias("queued"),
            (pl.col("outcome") == "abandoned_queue").mean().alias("abandon_rate"),
            pl.col("wait_s").mean().alias("mean_wait_s"),
        )
        .filter(pl.col("queued") >= min_calls)
        .sort("hour")
    )


def through_origin(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y = b·x and its R² (about the mean)."""
    b = float((x * y).sum() / (x * x).sum())
    ss = ((y - y.mean()) ** 2).sum()
    return b, float(1 - ((y - b * x) ** 2).sum() / ss) if ss else math.nan


def wait_bands(h: pl.DataFrame) -> pl.DataFrame:
    edges = [0, 15, 30, 60, 90, 120, 180, 300, 600, 10**9]
    labels = [f"{a}-{b} s" if b < 10**9 else f"{a}+ s" for a, b in itertools.pairwise(edges)]
    band = np.searchsorted(np.array(edges[1:-1]), h["mean_wait_s"].to_numpy(), side="right")
    return (
        h.with_columns(pl.Series("band", np.array(labels)[band]))
        .group_by("band")
        .agg(
            pl.len().alias("hours"),
            pl.col("queued").sum(),
            (pl.col("abandon_rate") * pl.col("queued")).sum().alias("_ab"),
            (pl.col("mean_wait_s") * pl.col("queued")).sum().alias("_w"),
        )
        .with_columns(
            (pl.col("_ab") / pl.col("queued")).alias("abandon_rate"),
            (pl.col("_w") / pl.col("queued")).alias("mean_wait_s"),
        )
        .drop("_ab", "_w")
        .sort("mean_wait_s")
    )


# ------------------------------------------------------------------------------ the report


def analyse(frame: pl.DataFrame, title: str, *, min_calls: int) -> dict[str, dict]:
    wait, ab = queued_calls(frame)
    print(f"\n## {title}\n")
    print(
        f"{len(wait):,} calls reached the queue, {int(ab.sum()):,} abandoned there "
        f"({ab.mean():.1%}); mean wait of all queued calls {wait.mean():.1f} s, of answered "
        f"{wait[~ab].mean():.1f} s, of abandons {wait[ab].mean():.1f} s; longest wait "
        f"{wait.max():,.0f} s.\n"
    )
    times, surv = kaplan_meier(wait, ab)
    fits = fit(wait, ab)
    print("Fitted patience (censored maximum likelihood):\n")
    print(
        "| model | parameters | mean patience s | log-likelihood | AIC | max abs(S_fit - S_KM), t <= 600 s |"
    )
    print("|---|---|---|---|---|---|")
    grid = np.arange(1, 601, dtype=np.float64)
    km_grid = np.array([km_at(times, surv, t) for t in grid])
    for name, f in fits.items():
        params = ", ".join(
            f"{k} {v:.4g}" for k, v in f.items() if k not in ("ll", "k", "aic", "mean_s")
        )
        gap = float(np.abs(survival(name, f, grid) - km_grid).max())
        f["km_gap"] = gap
        print(
            f"| {name} | {params or '-'} | {f['mean_s']:.0f} | {f['ll']:,.1f} | "
            f"{f['aic']:,.1f} | {gap:.3f} |"
        )
    print("\nSurvival of patience, P(patience > t): Kaplan-Meier against the fits:\n")
    print("| t s | Kaplan-Meier | " + " | ".join(fits) + " |")
    print("|---" * (2 + len(fits)) + "|")
    for t in CHECK_S:
        vals = [float(survival(n, f, np.array([float(t)]))[0]) for n, f in fits.items()]
        fit_cols = " | ".join(f"{v:.3f}" for v in vals)
        print(f"| {t} | {km_at(times, surv, t):.3f} | {fit_cols} |")
    print("\nHazard rate of patience by time waited (abandons per caller-minute at risk):\n")
    print("| waited s | abandons | caller-hours at risk | hazard per min |")
    print("|---|---|---|---|")
    for lo, hi, n, hours, hz in hazard_table(wait, ab):
        print(f"| {lo}-{hi} | {n:,} | {hours:,.1f} | {hz:.3f} |")
    h = hourly(frame, min_calls=min_calls)
    x, y = h["mean_wait_s"].to_numpy(), h["abandon_rate"].to_numpy()
    slope, r2 = through_origin(x, y)
    print(
        f"\nAbandonment against waiting, per hour with at least {min_calls} queued calls "
        f"({h.height} hours): abandon rate = {slope * 60:.4f} x mean wait in minutes "
        f"(R² {r2:.2f}), i.e. 1 / slope = {1 / slope:.0f} s of mean patience; the exponential "
        f"MLE gives {fits['exponential']['mean_s']:.0f} s.\n"
    )
    print("| mean wait of the hour | hours | queued calls | mean wait s | abandon rate |")
    print("|---|---|---|---|---|")
    for r in wait_bands(h).iter_rows(named=True):
        print(
            f"| {r['band']} | {r['hours']} | {r['queued']:,} | {r['mean_wait_s']:.0f} | "
            f"{r['abandon_rate']:.1%} |"
        )
    return fits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", type=Path, required=True, help="the Technion call log (.tsv)")
    ap.add_argument("--sample", type=Path, help="a simulated dataset to compare (voice only)")
    ap.add_argument("--min-calls", type=int, default=30, help="fewest queued calls in an hour")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        frame = import_file(args.log, preset="technion", out=d).frame
    print(f"# Patience measured on {args.log.name}")
    analyse(frame, "Real: every queue of the bank", min_calls=args.min_calls)
    ps = frame.filter(pl.col("queue") == "PS")
    analyse(ps, "Real: regular service (PS) only", min_calls=args.min_calls)
    if args.sample:
        c = pl.read_parquet(args.sample / "contacts.parquet").filter(pl.col("channel") == "voice")
        analyse(c, f"Simulated: {args.sample} voice queues", min_calls=args.min_calls)
        for team in ("North", "South"):
            analyse(
                c.filter(pl.col("team") == team),
                f"Simulated: {args.sample} voice, team {team}",
                min_calls=args.min_calls,
            )


if __name__ == "__main__":
    main()
