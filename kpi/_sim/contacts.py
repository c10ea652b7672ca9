"""Turn engine results into the customer-facing tables: customers, contacts and tickets.

The other tables of :mod:`kpi.schema` come from :mod:`kpi._sim.agent_time`,
:mod:`kpi._sim.people` and :mod:`kpi._sim.business`; their shared column builders from
:mod:`kpi._sim.columns`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi._sim.clock import Clock
from kpi._sim.columns import dates, ids, labels, ts
from kpi._sim.config import CHANNELS, TEAMS, TOPICS, QueueSpec
from kpi._sim.demand import TICKET_PENDING_P, QueueDemand
from kpi._sim.engine import ABANDONED, ANSWERED, FLOWOUT, FUTURE, IVR_ABANDONED, UNSERVED
from kpi._sim.plan import Roster

__all__ = [
    "Customers",
    "Side",
    "contacts_table",
    "customers_table",
    "make_customers",
    "queue_contacts",
    "tickets_table",
]

OUTCOME_NAMES = ["answered", "abandoned_queue", "flowout", "abandoned_ivr", "outbound"]
CLOSE_AFTER_S = 4 * 86400


# --------------------------------------------------------------------------------------------
# customers


@dataclass
class Customers:
    """The customer base: join days (sorted) and segments; churn is decided after contacts."""

    joined_day: np.ndarray
    segment: np.ndarray
    rng: np.random.Generator

    def __len__(self) -> int:
        return len(self.joined_day)

    def assign(self, day: np.ndarray, anonymous_p: float) -> np.ndarray:
        """A customer index for each arrival day (-1: an unidentified caller)."""
        n = np.searchsorted(self.joined_day, day, side="right")
        pick = np.floor(self.rng.random(len(day)) * n).astype(np.int64)
        pick = np.where(n > 0, pick, -1)
        if anonymous_p:
            pick = np.where(self.rng.random(len(day)) < anonymous_p, -1, pick)
        return pick


def make_customers(clock: Clock, expected_per_month: float, seed: int) -> Customers:
    """A base of about three customers per contact a month, 12% of them joining in the horizon."""
    rng = np.random.default_rng([seed, 41])
    n = max(50, round(3 * expected_per_month))
    new = rng.random(n) < 0.12
    joined = np.where(
        new,
        rng.integers(0, max(clock.horizon_days, 1), n),
        -(1 + np.floor(rng.exponential(3 * 365, n))).astype(np.int64),
    )
    order = np.argsort(joined, kind="stable")
    seg = rng.choice(3, size=n, p=[0.8, 0.15, 0.05])
    return Customers(joined[order], seg[order], np.random.default_rng([seed, 42]))


def customers_table(clock: Clock, cust: Customers, side: Side, seed: int) -> pl.DataFrame:
    """Customers with churn: a bad last experience (not answered, not resolved) raises it."""
    rng = np.random.default_rng([seed, 43])
    n = len(cust)
    months = clock.horizon_days / 30.44
    base_p = 1 - (1 - 0.011) ** months
    # contacts are sorted by arrival: the last occurrence of each customer is its last contact
    known = np.nonzero(side.cust >= 0)[0]
    last_row = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_row, side.cust[known], known)
    ci = np.nonzero(last_row >= 0)[0]
    last = last_row[ci]
    last_day = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    last_day[ci] = np.floor(side.arrival[last] / 86400.0)
    bad[ci] = ~side.resolved[last]
    p = base_p + 0.06 * bad
    churn = rng.random(n) < p
    after = np.where(np.isnan(last_day), np.maximum(cust.joined_day, 0), last_day)
    span = np.maximum(clock.horizon_days - after, 1)
    day = np.where(
        np.isnan(last_day),
        after + np.floor(rng.random(n) * span),
        after + 1 + np.floor(rng.exponential(12, n)),
    )
    churned = np.where(churn & (day < clock.horizon_days), day, np.nan)
    width = max(6, len(str(n)))
    return pl.DataFrame(
        {
            "customer_id": ids("K", n, width=width),
            "segment": labels(["consumer", "small_business", "premium"], cust.segment),
            "joined": dates(clock, cust.joined_day),
            "churned": dates(clock, churned),
        }
    )


# --------------------------------------------------------------------------------------------
# contacts


def _roots(parent: np.ndarray) -> np.ndarray:
    root = np.arange(len(parent))
    for _ in range(64):
        p = parent[root]
        has = p >= 0
        if not has.any():
            break
        root = np.where(has, p, root)
    return root


def queue_contacts(
    clock: Clock,
    qi: int,
    q: QueueSpec,
    qd: QueueDemand,
    res: dict,
    w_speed: np.ndarray,
    agents: np.ndarray,
    roster: Roster,
    cust: Customers,
    runoff_end: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """Compact numpy columns of the contacts of one queue (private names start with ``_``)."""
    rng = np.random.default_rng([seed, 13, qi])
    rows = qd.rows
    code = np.array(res["code"], dtype=np.int8)
    code[qd.base_ivr_abandon] = IVR_ABANDONED
    nrows = len(code)
    is_base = np.zeros(nrows, dtype=bool)
    is_base[qd.base_row] = True
    is_base[qd.base_ivr_abandon] = True
    cust_row = np.full(nrows, -1, dtype=np.int32)
    base_rows = np.nonzero(is_base)[0]
    anon = 0.03 if q.channel == "voice" else 0.0
    cust_row[base_rows] = cust.assign(np.floor(qd.arrival[base_rows] / 86400.0), anon)
    root = _roots(np.asarray(res["parent"], dtype=np.int64))
    used = np.nonzero(code >= 0)[0]
    c = code[used]
    base_u = is_base[used]
    arrival = np.where(base_u, qd.arrival[used], res["arr"][used])
    ivr = rows["ivr"][used]
    tq = arrival + ivr
    ans = c == ANSWERED
    src = np.asarray(res["src"])[used]
    win = np.where(ans, res["win"][used], 0)
    speed = np.where(ans, w_speed[win] if len(w_speed) else 1.0, 1.0)
    talk = np.where(ans, np.floor(rows["talk"][src].astype(np.float64) * speed + 0.5), 0.0)
    hold = np.where(ans, rows["hold"][src], 0.0)
    acw = np.where(ans, rows["acw"][src], 0.0)
    del src, win, speed
    start = res["start"][used]
    ch = CHANNELS[q.channel]
    pat = rows["patience"][used]
    wait = np.select(
        [ans, c == ABANDONED, c == FLOWOUT, c == UNSERVED],
        [start - tq, pat, np.full(len(c), ch.max_wait_s), runoff_end - tq],
        np.nan,
    )
    end = np.where(
        ans, start + talk + hold, np.where(c == IVR_ABANDONED, arrival + ivr, tq + wait)
    )
    agent = np.where(ans, agents[np.maximum(res["agent"][used], 0)] if len(agents) else -1, -1)
    topic_local = rows["topic"][used]
    topic_global = np.array([list(TOPICS).index(t) for t in qd.topic_names])[topic_local]
    conv_p = np.array([TOPICS[t].conv_p for t in qd.topic_names])[topic_local]
    rev_med = np.array([TOPICS[t].revenue_median for t in qd.topic_names])[topic_local]
    skill = np.where(agent >= 0, roster.skill[np.maximum(agent, 0)], 0.0)
    if not q.sales:
        conv_p = conv_p * 0.5
    converted = ans & (rng.random(len(used)) < conv_p * (1 + 0.12 * skill))
    cents = np.where(
        converted, np.round(100 * rev_med * np.exp(0.45 * rng.standard_normal(len(used)))), 0
    )
    outcome = np.select(
        [ans & (ch.direction == "outbound"), ans, c == ABANDONED, c == IVR_ABANDONED],
        [4, 0, 1, 3],
        2,
    )
    return {
        "_queue": np.full(len(used), qi, dtype=np.int8),
        "_row": used.astype(np.int32),
        "_arrival": arrival,
        "_queue_ts": np.where(c == IVR_ABANDONED, np.nan, tq),
        "_answer": np.where(ans, start, np.nan),
        "_end": end,
        "ivr_s": ivr.astype(np.float32),
        "wait_s": np.where(c == IVR_ABANDONED, np.nan, wait).astype(np.float32),
        "talk_s": talk.astype(np.float32),
        "hold_s": hold.astype(np.float32),
        "acw_s": acw.astype(np.float32),
        "_outcome": outcome.astype(np.int8),
        "transferred": ans & rows["transferred"][used],
        "resolved": ans & (np.asarray(res["res"])[used] > 0),
        "converted": converted,
        "_cents": cents.astype(np.int32),
        "_agent": agent.astype(np.int32),
        "_topic": topic_global.astype(np.int8),
        "_cust": cust_row[root[used]],
    }


@dataclass
class Side:
    """Numeric columns aligned with the rows of the contacts table, for the later tables."""

    queue: np.ndarray
    agent: np.ndarray
    topic: np.ndarray
    arrival: np.ndarray
    answer: np.ndarray
    end: np.ndarray
    cust: np.ndarray
    resolved: np.ndarray
    transferred: np.ndarray
    wait: np.ndarray
    acw: np.ndarray


def contacts_table(
    clock: Clock, queues: tuple[QueueSpec, ...], parts: list[dict], roster: Roster
) -> tuple[pl.DataFrame, Side]:
    """All contacts, sorted by arrival, with ids, and their numeric side columns.

    Built one column at a time from the per-queue parts (which are emptied on the way) to keep
    the peak memory low at ten million contacts.
    """
    order = np.lexsort(
        (
            np.concatenate([p["_row"] for p in parts]),
            np.concatenate([p["_queue"] for p in parts]),
            np.concatenate([p["_arrival"] for p in parts]),
        )
    )

    def col(k: str) -> np.ndarray:
        out = np.concatenate([p.pop(k) for p in parts])[order]
        return out

    qnames = [q.name for q in queues]
    qchan = [q.channel for q in queues]
    qteam = [q.team for q in queues]
    qsite = [TEAMS[q.team].site for q in queues]
    qdir = [CHANNELS[q.channel].direction if q.channel in CHANNELS else "" for q in queues]
    n = len(order)
    for p in parts:
        p.pop("_row")
    side = Side(
        queue=col("_queue"),
        agent=col("_agent"),
        topic=col("_topic"),
        arrival=col("_arrival"),
        answer=col("_answer"),
        end=col("_end"),
        cust=col("_cust"),
        resolved=col("resolved"),
        transferred=col("transferred"),
        wait=col("wait_s"),
        acw=col("acw_s"),
    )
    cwidth = max(6, len(str(int(side.cust.max(initial=0)) + 1)))
    cols: dict[str, pl.Series] = {}
    cols["contact_id"] = ids("C", n, width=max(6, len(str(n))))
    cols["channel"] = labels(qchan, side.queue)
    cols["direction"] = labels(qdir, side.queue)
    cols["queue"] = labels(qnames, side.queue)
    cols["topic"] = labels(list(TOPICS), side.topic)
    cols["customer_id"] = pl.select(
        pl.when(pl.Series(side.cust >= 0))
        .then(pl.lit("K") + pl.Series(side.cust + 1).cast(pl.String).str.zfill(cwidth))
        .otherwise(None)
    ).to_series()
    cols["agent_id"] = labels(roster.agent_id, side.agent)
    cols["team"] = labels(qteam, side.queue)
    cols["site"] = labels(qsite, side.queue)
    cols["arrival_ts"] = ts(side.arrival, clock)
    cols["queue_ts"] = ts(col("_queue_ts"), clock)
    cols["answer_ts"] = ts(side.answer, clock)
    cols["end_ts"] = ts(side.end, clock)
    cols["ivr_s"] = pl.Series(col("ivr_s")).cast(pl.Float64)
    cols["wait_s"] = pl.Series(side.wait).cast(pl.Float64).fill_nan(None)
    cols["talk_s"] = pl.Series(col("talk_s")).cast(pl.Float64)
    cols["hold_s"] = pl.Series(col("hold_s")).cast(pl.Float64)
    cols["acw_s"] = pl.Series(side.acw).cast(pl.Float64)
    cols["outcome"] = labels(OUTCOME_NAMES, col("_outcome"))
    cols["transferred"] = pl.Series(side.transferred)
    cols["resolved"] = pl.Series(side.resolved)
    cols["converted"] = pl.Series(col("converted"))
    cols["revenue"] = pl.Series(col("_cents")) / 100.0
    return pl.DataFrame(cols), side


# --------------------------------------------------------------------------------------------
# tickets


def tickets_table(
    clock: Clock,
    q: QueueSpec,
    qd: QueueDemand,
    res: dict,
    w_speed: np.ndarray,
    agents: np.ndarray,
    roster: Roster,
    cust: Customers,
    seed: int,
) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Tickets as of the end of the horizon, and the agents' touch segments."""
    rng = np.random.default_rng([seed, 51])
    rows = qd.rows
    code = np.asarray(res["code"])
    parent = np.asarray(res["parent"])
    root = _roots(parent)
    t_end = float(clock.t_end)
    depth = np.asarray(res["depth"]).astype(np.int64)
    ans = code == ANSWERED
    win = np.where(ans, res["win"], 0)
    speed = np.where(ans, w_speed[win] if len(w_speed) else 1.0, 1.0)
    work = np.where(ans, np.floor(rows["talk"].astype(np.float64) * speed + 0.5), 0.0)
    start = np.asarray(res["start"])
    end = start + work
    done = ans & (end <= t_end)
    has_child = np.zeros(len(code), dtype=bool)
    child_arrived = np.zeros(len(code), dtype=bool)
    kids = np.nonzero((parent >= 0) & (code >= 0))[0]
    has_child[parent[kids]] = True
    child_arrived[parent[kids]] = code[kids] != FUTURE
    pending_end = (depth == 0) & (rows["u_sp"] < np.float32(TICKET_PENDING_P)) & has_child
    reopen_child = np.zeros(len(code), dtype=bool)
    reopen_child[kids] = ~pending_end[parent[kids]] & (code[kids] != FUTURE)
    base = qd.base_row
    n = len(base)
    # last completed touch per ticket: touches sorted by (root, depth)
    touched = np.nonzero(done)[0]
    last_done = np.full(len(code), -1, dtype=np.int64)
    if len(touched):
        order = touched[np.lexsort((depth[touched], root[touched]))]
        r = root[order]
        is_last = np.ones(len(order), dtype=bool)
        is_last[:-1] = r[1:] != r[:-1]
        last_done[r[is_last]] = order[is_last]
    k = last_done[base]
    kk = np.maximum(k, 0)
    has_done = k >= 0
    solved_end = has_done & ~pending_end[kk] & ~(has_child[kk] & child_arrived[kk])
    solved_ts = np.where(solved_end, end[kk], np.nan)
    closed_ts = np.where(
        solved_end & (end[kk] + CLOSE_AFTER_S <= t_end), end[kk] + CLOSE_AFTER_S, np.nan
    )
    pending = has_done & pending_end[kk] & ~child_arrived[kk]
    status = np.select(
        [~np.isnan(closed_ts), ~np.isnan(solved_ts), pending], [3, 2, 1], 0
    )  # 0 open
    reopens = np.bincount(root[reopen_child], minlength=len(code))[base]
    first_done = done[base]
    first_response = np.where(first_done, end[base], np.nan)
    started = ans[base] & (start[base] <= t_end)
    agent = np.where(started, agents[np.maximum(np.asarray(res["agent"])[base], 0)], -1)
    created = qd.arrival[base]
    day = np.floor(created / 86400.0)
    cust_idx = cust.assign(day, 0.0)
    topic = [list(TOPICS).index(t) for t in qd.topic_names]
    tglob = np.array(topic)[rows["topic"][base]]
    complaint = np.array([t == "complaint" for t in qd.topic_names])[rows["topic"][base]]
    pr = rng.random(n)
    priority = np.where(
        complaint,
        np.select([pr < 0.1, pr < 0.45, pr < 0.9], [3, 2, 1], 0),
        np.select([pr < 0.04, pr < 0.2, pr < 0.8], [3, 2, 1], 0),
    )
    channel = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    order = np.lexsort((base, created))
    cw = max(6, len(str(len(cust))))
    frame = pl.DataFrame(
        {
            "ticket_id": ids("T", n),
            "created_ts": ts(created[order], clock),
            "first_response_ts": ts(first_response[order], clock),
            "solved_ts": ts(solved_ts[order], clock),
            "closed_ts": ts(closed_ts[order], clock),
            "status": labels(["open", "pending", "solved", "closed"], status[order]),
            "reopens": pl.Series(reopens[order].astype(np.int64)),
            "agent_id": labels(roster.agent_id, agent[order]),
            "team": pl.Series([q.team] * n, dtype=pl.String),
            "channel": labels(["web", "email", "phone"], channel[order]),
            "priority": labels(["low", "normal", "high", "urgent"], priority[order]),
            "topic": labels(list(TOPICS), tglob[order]),
            "customer_id": pl.select(
                pl.when(pl.Series(cust_idx[order] >= 0))
                .then(pl.lit("K") + pl.Series(cust_idx[order] + 1).cast(pl.String).str.zfill(cw))
                .otherwise(None)
            ).to_series(),
        }
    )
    seg_rows = np.nonzero(ans)[0]
    segs = {
        "agent": agents[np.asarray(res["agent"])[seg_rows]] if len(agents) else seg_rows[:0],
        "t0": start[seg_rows],
        "t1": end[seg_rows],
        "kind": np.zeros(len(seg_rows), dtype=np.int8),
    }
    return frame, segs
