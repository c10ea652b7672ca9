"""A vectorised numpy generator of a plausible canonical ``contacts`` table, for benchmarks.

Used by ``bench/bench_compute.py`` while the simulator (``kpi sample``) cannot yet write millions
of contacts quickly. Every column of :data:`kpi.schema.CONTACTS` is filled consistently:

* one calendar year (2025) in ``Europe/London`` (so month bins cross the DST changes), arrivals
  weighted to office hours and weekdays;
* 8 teams on 2 sites, 3 queues per team, 50 agents per team, 12 topics, 4 channels;
* outcomes: 78 % answered, 7 % abandoned in queue, 3 % flow-out, 4 % abandoned in the IVR,
  8 % outbound; ``queue_ts``/``answer_ts``/``end_ts`` follow from IVR, wait, talk and hold seconds
  (millisecond resolution);
* customers: 10 % unidentified (null); about 15 % of contacts are repeats of an earlier contact by
  the same customer on the same topic within ~0-10 days, so FCR's repeat window matters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from kpi.schema import TABLES

__all__ = ["TZ", "generate_contacts", "repeat_dataset", "write_dataset"]

TZ = "Europe/London"
YEAR_START_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z in microseconds
DAY_US = 86_400_000_000
TEAMS = [f"T{i:02d}" for i in range(1, 9)]
TOPICS = [
    "billing",
    "move",
    "fault",
    "upgrade",
    "cancel",
    "payment",
    "delivery",
    "returns",
    "account",
    "password",
    "complaint",
    "other",
]
CHANNELS = ["voice", "chat", "email", "callback"]
OUTCOMES = ["answered", "abandoned_queue", "flowout", "abandoned_ivr", "outbound"]


def _pick(values: list[str], index: np.ndarray) -> pl.Series:
    """``values[index]`` as a polars String column."""
    return pl.Series(values, dtype=pl.String).gather(index)


def _ms(x: np.ndarray) -> np.ndarray:
    """Round seconds to milliseconds (ACD resolution)."""
    return np.round(x, 3)


def generate_contacts(n: int, *, seed: int = 1) -> pl.DataFrame:
    """``n`` contacts with every canonical column, sorted by arrival time.

    Examples
    --------
    >>> df = generate_contacts(1000)
    >>> df.height, df["outcome"].n_unique()
    (1000, 5)
    """
    rng = np.random.default_rng(seed)
    # arrivals: day of year (weekdays 3x weekends), time of day ~ N(13h, 3h) clipped to 7-22h
    day_w = np.array([3.0 if (d + 2) % 7 < 5 else 1.0 for d in range(365)])  # 2025-01-01 = Wed
    day = rng.choice(365, size=n, p=day_w / day_w.sum())
    hour = np.clip(rng.normal(13.0, 3.0, n), 7.0, 21.999)
    local_us = day.astype(np.int64) * DAY_US + (hour * 3_600_000_000).astype(np.int64)
    # UTC from local wall time: BST (UTC+1) from 30 Mar 01:00 UTC to 26 Oct 01:00 UTC 2025
    bst = (day >= 88) & (day < 298)
    arrival = YEAR_START_US + local_us - np.where(bst, 3_600_000_000, 0)

    team = rng.integers(0, len(TEAMS), n)
    queue = team * 3 + rng.integers(0, 3, n)
    agent = team * 50 + rng.integers(0, 50, n)
    topic = rng.integers(0, len(TOPICS), n)
    channel = rng.choice(4, size=n, p=[0.7, 0.15, 0.1, 0.05])
    outcome = rng.choice(5, size=n, p=[0.78, 0.07, 0.03, 0.04, 0.08])
    n_cust = max(n // 3, 1)
    customer = rng.integers(0, n_cust, n)
    # repeats: copy customer/topic/team of an earlier contact, arrive 0-10 days later
    rep = rng.random(n) < 0.15
    src = rng.integers(0, n, n)
    customer = np.where(rep, customer[src], customer)
    topic = np.where(rep, topic[src], topic)
    team = np.where(rep, team[src], team)
    queue = np.where(rep, queue[src], queue)
    later = (rng.exponential(3.0, n) * DAY_US).astype(np.int64)
    arrival = np.where(
        rep, np.minimum(arrival[src] + later, YEAR_START_US + 364 * DAY_US), arrival
    )
    unidentified = rng.random(n) < 0.10

    answered, aband, flow, _ivr, outb = (outcome == k for k in range(5))
    queued = answered | aband | flow
    handled = answered | outb
    ivr_s = np.where(outb, 0.0, _ms(rng.lognormal(2.8, 0.5, n)))
    wait_s = np.where(
        answered,
        _ms(rng.exponential(30.0, n)),
        np.where(aband, _ms(rng.exponential(60.0, n)), _ms(120.0 + rng.exponential(90.0, n))),
    )
    wait_s = np.where(queued, wait_s, np.nan)
    talk_mean = np.array([300.0, 420.0, 200.0, 280.0])[channel]
    talk_s = np.where(handled, _ms(rng.gamma(2.0, talk_mean / 2.0)), 0.0)
    hold_s = np.where(handled & (rng.random(n) < 0.3), _ms(rng.exponential(40.0, n)), 0.0)
    acw_s = np.where(handled & (rng.random(n) < 0.9), _ms(rng.exponential(30.0, n)), 0.0)
    transferred = handled & (rng.random(n) < 0.08)
    resolved = handled & (rng.random(n) < 0.75)
    converted = handled & (rng.random(n) < 0.10)
    revenue = np.where(converted, np.round(rng.lognormal(4.2, 0.6, n), 2), 0.0)

    sec = 1_000_000
    queue_us = arrival + (np.nan_to_num(ivr_s) * sec).astype(np.int64)
    wait_us = (np.nan_to_num(wait_s) * sec).astype(np.int64)
    answer_us = queue_us + wait_us
    talk_us = ((talk_s + hold_s) * sec).astype(np.int64)
    end_us = np.where(
        answered,
        answer_us + talk_us,
        np.where(queued, queue_us + wait_us, np.where(outb, arrival + talk_us, queue_us)),
    )

    ts = pl.Datetime("us", "UTC")
    df = pl.DataFrame(
        {
            "_i": np.arange(n, dtype=np.int64),
            "channel": _pick(CHANNELS, channel),
            "direction": _pick(["inbound", "outbound"], outb.astype(np.int64)),
            "_queue": queue,
            "topic": _pick(TOPICS, topic),
            "_customer": np.where(unidentified, -1, customer),
            "_agent": np.where(handled, agent, -1),
            "_team": team,
            "team": _pick(TEAMS, team),
            "arrival_ts": pl.Series(arrival).cast(ts),
            "queue_ts": pl.Series(np.where(queued, queue_us, 0)).cast(ts),
            "answer_ts": pl.Series(np.where(answered, answer_us, 0)).cast(ts),
            "end_ts": pl.Series(end_us).cast(ts),
            "ivr_s": ivr_s,
            "wait_s": wait_s,
            "talk_s": talk_s,
            "hold_s": hold_s,
            "acw_s": acw_s,
            "outcome": _pick(OUTCOMES, outcome),
            "transferred": transferred,
            "resolved": resolved,
            "converted": converted,
            "revenue": revenue,
            "_queued": queued,
            "_answered": answered,
        }
    )
    return (
        df.sort("arrival_ts", "_i")
        .with_columns(
            contact_id=pl.format("C{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(9)),
            queue=pl.format("Q{}", pl.col("_queue").cast(pl.String).str.zfill(2)),
            customer_id=pl.when(pl.col("_customer") >= 0).then(
                pl.format("U{}", pl.col("_customer").cast(pl.String).str.zfill(8))
            ),
            agent_id=pl.when(pl.col("_agent") >= 0).then(
                pl.format("A{}", pl.col("_agent").cast(pl.String).str.zfill(4))
            ),
            site=pl.when(pl.col("_team") < 4).then(pl.lit("North")).otherwise(pl.lit("South")),
            queue_ts=pl.when("_queued").then("queue_ts"),
            answer_ts=pl.when("_answered").then("answer_ts"),
            wait_s=pl.col("wait_s").fill_nan(None),
        )
        .with_columns(pl.col(pl.Datetime).dt.convert_time_zone(TZ))
        .select(TABLES["contacts"].names)
    )


def write_dataset(n: int, out: str | Path, *, seed: int = 1) -> Path:
    """Generate ``n`` contacts and save them as a dataset directory (``contacts.parquet``)."""
    from kpi.data import save

    return save({"contacts": generate_contacts(n, seed=seed)}, out, meta={"timezone": TZ})


def repeat_dataset(src: str | Path, out: str | Path, copies: int) -> Path:
    """Write ``copies`` copies of a contacts dataset, each shifted by 364 days with its own ids.

    Streams through polars (``sink_parquet``), so a 100-million-row file is made from a
    10-million-row one without holding it in memory. Customer ids get a per-copy suffix, so the
    copies share no repeat contacts; weekdays are kept (364 = 52 weeks).
    """
    import json

    src, out = Path(src), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = pl.scan_parquet(src / "contacts.parquet")
    parts = []
    for k in range(copies):
        days = pl.duration(days=364 * k)
        parts.append(
            base.with_columns(
                pl.col("arrival_ts", "queue_ts", "answer_ts", "end_ts") + days,
                contact_id=pl.format("{}-{}", "contact_id", pl.lit(k)),
                customer_id=pl.format("{}-{}", "customer_id", pl.lit(k)),
            )
        )
    pl.concat(parts).sink_parquet(out / "contacts.parquet")
    (out / "dataset.json").write_text(json.dumps(json.loads((src / "dataset.json").read_text())))
    return out


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3:
        write_dataset(int(sys.argv[1]), sys.argv[2])
    elif len(sys.argv) == 4:
        repeat_dataset(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: _contacts_gen.py ROWS OUTDIR | _contacts_gen.py SRCDIR OUTDIR COPIES")
