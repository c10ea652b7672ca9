"""Turn engine results into the canonical tables of :mod:`kpi.schema`."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kpi._sim.clock import SLOT_S, Clock
from kpi._sim.config import CHANNELS, TEAMS, TOPICS, QueueSpec, Scenario
from kpi._sim.demand import TICKET_PENDING_P, QueueDemand
from kpi._sim.engine import ABANDONED, ANSWERED, FLOWOUT, FUTURE, IVR_ABANDONED, UNSERVED
from kpi._sim.plan import BREAK, MEETING, PRODUCTIVE, TRAINING, Roster, Schedule

__all__ = [
    "Customers",
    "agent_surveys_table",
    "agent_time_cells",
    "agent_time_frame",
    "agents_table",
    "coaching_table",
    "contacts_table",
    "customers_table",
    "events_table",
    "finance_table",
    "make_customers",
    "qa_table",
    "surveys_table",
    "tickets_table",
]

OUTCOME_NAMES = ["answered", "abandoned_queue", "flowout", "abandoned_ivr", "outbound"]
ABSENCE = 4
CLOSE_AFTER_S = 4 * 86400


def ts(secs: np.ndarray, clock: Clock) -> pl.Series:
    """Seconds from ``clock.t0`` (NaN: null) as a tz-aware Datetime(us) series."""
    s = pl.Series(np.asarray(secs, dtype=np.float64)).fill_nan(None)
    us = ((s + clock.t0) * 1_000_000).cast(pl.Int64)
    return us.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(clock.tz)


def labels(names: list[str], codes: np.ndarray) -> pl.Series:
    """Strings from small integer codes (negative codes: null)."""
    codes = np.asarray(codes)
    out = pl.Series(names, dtype=pl.String).gather(np.maximum(codes, 0).astype(np.uint32))
    if (codes < 0).any():
        out = pl.select(
            pl.when(pl.Series(codes >= 0)).then(out).otherwise(pl.lit(None, pl.String))
        ).to_series()
    return out


def ids(prefix: str, n: int, *, width: int | None = None) -> pl.Series:
    """``prefix`` plus a zero-padded sequence number 1..n."""
    width = width or max(6, len(str(n)))
    return pl.select(
        pl.lit(prefix) + (pl.int_range(1, n + 1, eager=False)).cast(pl.String).str.zfill(width)
    ).to_series()


def _dates(clock: Clock, days: np.ndarray) -> pl.Series:
    """Local dates from day indices (NaN or huge: null)."""
    days = np.asarray(days, dtype=np.float64)
    ok = np.isfinite(days) & (np.abs(days) < 10**5)
    base = np.datetime64(clock.start, "D")
    vals = base + np.where(ok, days, 0).astype("timedelta64[D]")
    s = pl.Series(vals).cast(pl.Date)
    if not ok.all():
        s = pl.select(pl.when(pl.Series(ok)).then(s).otherwise(None)).to_series()
    return s


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
            "joined": _dates(clock, cust.joined_day),
            "churned": _dates(clock, churned),
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


# --------------------------------------------------------------------------------------------
# agent time


def _pieces(
    row: np.ndarray, t0: np.ndarray, t1: np.ndarray, n_slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split segments [t0, t1) at slot edges: (row * n_slots + slot, seconds) per piece."""
    keep = t1 > t0
    row, t0, t1 = row[keep], t0[keep], t1[keep]
    s0 = np.floor(t0 / SLOT_S).astype(np.int64)
    s1 = np.floor((t1 - 1e-6) / SLOT_S).astype(np.int64)
    cnt = s1 - s0 + 1
    rep = np.repeat(np.arange(len(s0)), cnt)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    slot = s0[rep] + k
    lo = np.maximum(t0[rep], slot * float(SLOT_S))
    hi = np.minimum(t1[rep], (slot + 1) * float(SLOT_S))
    ok = (slot >= 0) & (slot < n_slots)
    return row[rep][ok] * n_slots + slot[ok], (hi - lo)[ok]


def _interval_grid(clock: Clock, interval_min: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval start slots, the interval of each slot, and interval lengths (s)."""
    n_h = clock.t_end // SLOT_S
    starts = np.nonzero(clock.slot_minute[:n_h] % interval_min == 0)[0]
    if len(starts) == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    slot_int = np.cumsum(np.isin(np.arange(n_h), starts)) - 1
    int_len = np.diff(np.append(starts, n_h)) * float(SLOT_S)
    return starts, slot_int, int_len


def agent_time_cells(
    clock: Clock,
    agents: np.ndarray,
    shifts: dict[str, np.ndarray],
    windows: dict[str, np.ndarray],
    segs: dict[str, np.ndarray],
    interval_min: int,
) -> dict[str, np.ndarray]:
    """Scheduled and actual state seconds per (agent, interval) for ``agents``.

    ``shifts`` (agent, slot0, codes, absent) and ``windows`` (w_agent, ws_act, ae: actual
    productive windows) are sorted by agent; ``segs`` are busy segments (kind 0 handle, 1 ACW).
    Works on the sparse (agent, 15-minute slot) cells that are scheduled or logged in, then
    sums slots into intervals of the site's wall clock.
    """
    n_h = clock.t_end // SLOT_S
    starts, slot_int, _ = _interval_grid(clock, interval_min)
    n_int = len(starts)
    codes = shifts["codes"]
    s_agent, s_slot0, s_absent = shifts["agent"], shifts["slot0"], shifts["absent"]
    lmax = codes.shape[1]
    pos = np.broadcast_to(np.arange(lmax), codes.shape)
    nonprod = (codes == BREAK) | (codes == TRAINING) | (codes == MEETING)
    acc = np.maximum.accumulate(np.where(nonprod, pos, -1), axis=1)
    ext = np.where(
        acc >= 0, np.take_along_axis(codes, np.maximum(acc, 0), axis=1), ABSENCE
    ).astype(np.int8)
    seg_order = np.argsort(segs["agent"], kind="stable")
    seg_agent = segs["agent"][seg_order]
    seg_t0 = segs["t0"][seg_order]
    seg_t1 = segs["t1"][seg_order]
    seg_kind = segs["kind"][seg_order]
    w_agent, ws_act, ae = windows["w_agent"], windows["ws_act"], windows["ae"]
    full = float(SLOT_S)
    pieces = []
    block = 400
    for k in range(0, len(agents), block):
        a0 = int(agents[k])
        a1 = int(agents[min(k + block, len(agents)) - 1]) + 1
        i0, i1 = np.searchsorted(s_agent, [a0, a1])
        sr, sp = np.nonzero(codes[i0:i1] >= 0)
        sr = sr + i0
        slot = s_slot0[sr] + sp
        ok = slot < n_h
        sr, sp, slot = sr[ok], sp[ok], slot[ok]
        skey = s_agent[sr] * n_h + slot
        w0, w1 = np.searchsorted(w_agent, [a0, a1])
        pkey, psec = _pieces(
            w_agent[w0:w1], ws_act[w0:w1], np.maximum(ae[w0:w1], ws_act[w0:w1]), n_h
        )
        g0, g1 = np.searchsorted(seg_agent, [a0, a1])
        ga, gt0, gt1, gk = seg_agent[g0:g1], seg_t0[g0:g1], seg_t1[g0:g1], seg_kind[g0:g1]
        hkey, hsec = _pieces(ga[gk == 0], gt0[gk == 0], gt1[gk == 0], n_h)
        ckey, csec = _pieces(ga[gk == 1], gt0[gk == 1], gt1[gk == 1], n_h)
        cells = np.union1d(skey, pkey)
        m = len(cells)
        if m == 0:
            continue
        scode = np.full(m, -1, dtype=np.int8)
        absent = np.zeros(m, dtype=bool)
        xcode = np.full(m, ABSENCE, dtype=np.int8)
        at = np.searchsorted(cells, skey)
        scode[at] = codes[sr, sp]
        absent[at] = s_absent[sr]
        xcode[at] = ext[sr, sp]
        prod = np.bincount(np.searchsorted(cells, pkey), weights=psec, minlength=m)
        handle = np.bincount(np.searchsorted(cells, hkey), weights=hsec, minlength=m)
        acw = np.bincount(np.searchsorted(cells, ckey), weights=csec, minlength=m)
        sched_on = scode >= 0
        scheduled = np.where(sched_on, full, 0.0)
        prod = np.where(absent, 0.0, prod)
        handle = np.where(absent, 0.0, handle)
        acw = np.where(absent, 0.0, acw)
        non = np.where(sched_on & ~absent, full - np.minimum(prod, full), 0.0)
        act = np.where(scode >= 1, scode, xcode)
        brk = np.where(act == BREAK, non, 0.0)
        trn = np.where(act == TRAINING, non, 0.0)
        mtg = np.where(act == MEETING, non, 0.0)
        cols = {
            "scheduled_s": scheduled,
            "scheduled_productive_s": np.where(scode == PRODUCTIVE, full, 0.0),
            "logged_in_s": prod + brk + trn + mtg,
            "available_s": np.maximum(prod - handle - acw, 0.0),
            "handle_s": handle,
            "acw_s": acw,
            "break_s": brk,
            "training_s": trn,
            "meeting_s": mtg,
            "absence_s": np.where(absent, scheduled, np.where(act == ABSENCE, non, 0.0)),
            "adherent_s": np.where(
                absent | ~sched_on,
                0.0,
                np.where(scode == PRODUCTIVE, np.minimum(prod, full), non),
            ),
        }
        agent = cells // n_h
        ikey = agent * n_int + slot_int[cells % n_h]
        first = np.ones(m, dtype=bool)
        first[1:] = ikey[1:] != ikey[:-1]
        idx = np.nonzero(first)[0]
        piece = {"_agent": agent[idx], "_interval": ikey[idx] % n_int}
        piece.update({k: np.add.reduceat(v, idx) for k, v in cols.items()})
        keep = (piece["scheduled_s"] > 0) | (piece["logged_in_s"] > 0)
        pieces.append({k: v[keep] for k, v in piece.items()})
    if not pieces:
        return {}
    return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}


def agent_time_frame(
    clock: Clock, roster: Roster, parts: list[dict[str, np.ndarray]], interval_min: int
) -> pl.DataFrame:
    """The ``agent_time`` table from per-queue cells, sorted by interval then agent."""
    from kpi.schema import empty_frame

    parts = [p for p in parts if p]
    if not parts:
        return empty_frame("agent_time", clock.tz)
    starts, _, int_len = _interval_grid(clock, interval_min)
    keys = [k for k in parts[0] if not k.startswith("_")]
    agent = np.concatenate([p["_agent"] for p in parts])
    interval = np.concatenate([p["_interval"] for p in parts])
    order = np.lexsort((agent, interval))
    team = np.array([list(TEAMS).index(t) for t in roster.team])
    site_names = list(dict.fromkeys(t.site for t in TEAMS.values()))
    site = np.array([site_names.index(s) for s in roster.site])
    a = agent[order]
    cols: dict[str, Any] = {
        "agent_id": labels(roster.agent_id, a),
        "team": labels(list(TEAMS), team[a]),
        "site": labels(site_names, site[a]),
        "interval_start": ts(starts[interval[order]] * float(SLOT_S), clock),
        "interval_s": int_len[interval[order]],
    }
    for k in keys:
        cols[k] = np.concatenate([p.pop(k) for p in parts])[order]
    return pl.DataFrame(cols)


# --------------------------------------------------------------------------------------------
# people, quality, experience


def agents_table(roster: Roster) -> pl.DataFrame:
    """The roster."""
    return pl.DataFrame(
        {
            "agent_id": roster.agent_id,
            "name": roster.name,
            "team": roster.team,
            "site": roster.site,
            "team_leader": roster.leader,
            "hired": pl.Series(roster.hired, dtype=pl.Date),
            "left": pl.Series(roster.left, dtype=pl.Date),
            "leave_reason": pl.Series(roster.reason, dtype=pl.String),
        }
    )


def surveys_table(
    clock: Clock,
    contacts: pl.DataFrame,
    side: Side,
    queues: tuple[QueueSpec, ...],
    roster: Roster,
    seed: int,
) -> pl.DataFrame:
    """Post-contact surveys: scores fall with the wait and rise with resolution."""
    rng = np.random.default_rng([seed, 61])
    ans = np.nonzero(~np.isnan(side.answer))[0]
    p_q = np.array(
        [CHANNELS[q.channel].survey_p if q.channel in CHANNELS else 0.0 for q in queues]
    )
    email_q = np.array([q.channel == "email" for q in queues])
    idx = ans[rng.random(len(ans)) < p_q[side.queue[ans]]]
    m = len(idx)
    wait = np.nan_to_num(side.wait[idx].astype(np.float64))
    wait = np.where(email_q[side.queue[idx]], wait / 60.0, wait)  # e-mail waits are hours
    resolved = side.resolved[idx].astype(np.float64)
    transferred = side.transferred[idx].astype(np.float64)
    skill = roster.skill[np.maximum(side.agent[idx], 0)]
    topic_eff = np.zeros(len(TOPICS))
    topic_eff[list(TOPICS).index("complaint")] = -0.8
    topic_eff[list(TOPICS).index("price_change")] = -0.6
    base = (
        0.55
        + 1.5 * resolved
        - 0.42 * np.log1p(wait / 60.0)
        + 0.25 * skill
        - 0.4 * transferred
        + topic_eff[side.topic[idx]]
    )
    lat = base + rng.standard_normal(m)
    csat = 1 + np.searchsorted(np.array([-0.6, 0.2, 0.9, 1.6]), lat)
    lat_n = base + 0.9 * rng.standard_normal(m)
    nps = np.clip(np.round(6.2 + 1.7 * lat_n), 0, 10)
    lat_c = base + 0.9 * rng.standard_normal(m)
    ces = np.clip(np.round(4.4 + 1.1 * lat_c), 1, 7)
    ask_nps = rng.random(m) < 0.7
    ask_ces = rng.random(m) < 0.5
    end = side.end[idx] + side.acw[idx]
    when = end + np.round(np.exp(np.log(5400.0) + rng.standard_normal(m)))
    keep = when < clock.t_end
    order = np.lexsort((np.arange(m), when))
    order = order[keep[order]]
    sel = pl.Series(idx[order].astype(np.uint32))
    pick = contacts.select("contact_id", "channel", "queue", "topic", "team", "agent_id")[sel]
    return pick.select(
        "contact_id",
        ts(when[order], clock).alias("survey_ts"),
        "channel",
        "queue",
        "topic",
        "team",
        "agent_id",
        pl.Series("csat", csat[order].astype(np.int64)),
        pl.Series("nps", np.where(ask_nps, nps, np.nan)[order]).fill_nan(None).cast(pl.Int64),
        pl.Series("ces", np.where(ask_ces, ces, np.nan)[order]).fill_nan(None).cast(pl.Int64),
    )


def _month_index(clock: Clock, secs: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(clock.month_edges[1:]), secs, side="right")


def qa_table(
    clock: Clock,
    contacts: pl.DataFrame,
    side: Side,
    ticket_segs: dict[str, np.ndarray],
    roster: Roster,
    seed: int,
) -> pl.DataFrame:
    """About four evaluations per agent and month, of contacts (or ticket work) they handled."""
    rng = np.random.default_rng([seed, 71])
    ans = np.nonzero(~np.isnan(side.answer))[0]
    nt = len(ticket_segs["agent"])
    cand = pl.DataFrame(
        {
            "_agent": np.concatenate([side.agent[ans], ticket_segs["agent"]]).astype(np.int64),
            "_t": np.concatenate([side.end[ans], ticket_segs["t1"]]),
            "_idx": np.concatenate([ans, np.full(nt, -1)]).astype(np.int64),
            "_res": np.concatenate([side.resolved[ans], np.ones(nt, dtype=bool)]),
            "_tr": np.concatenate([side.transferred[ans], np.zeros(nt, dtype=bool)]),
        }
    )
    month = _month_index(clock, cand["_t"].to_numpy())
    n_am = rng.integers(3, 6, size=(len(roster), len(clock.month_edges)))
    group = cand["_agent"].to_numpy() * n_am.shape[1] + month
    # thin each agent-month to about 40 candidates first (a uniform draw stays uniform)
    count = np.bincount(group, minlength=n_am.size)
    keep_p = np.minimum(1.0, 40.0 / np.maximum(count[group], 1))
    u = rng.random(cand.height)
    thin = (u < keep_p) & (cand["_t"].to_numpy() < clock.t_end)
    cand = cand.filter(pl.Series(thin)).with_columns(
        pl.Series("_key", rng.random(int(thin.sum()))),
        pl.Series("_group", group[thin]),
        pl.Series("_quota", n_am.ravel()[group[thin]]),
    )
    picked = (
        cand.sort("_key")
        .with_columns(pl.int_range(pl.len()).over("_group").alias("_rank"))
        .filter(pl.col("_rank") < pl.col("_quota"))
        .sort("_t", "_agent")
    )
    m = picked.height
    agent = picked["_agent"].to_numpy()
    when = picked["_t"].to_numpy() + np.round(rng.uniform(1, 6, m) * 86400)
    hired = roster.hired_day[agent]
    tenure_days = picked["_t"].to_numpy() / 86400 - hired
    green = np.clip(1 - tenure_days / 90, 0, 1)
    score = (
        80
        + 4.5 * roster.skill[agent]
        + 4 * picked["_res"].to_numpy()
        - 3 * picked["_tr"].to_numpy()
        - 8 * green
        + 7 * rng.standard_normal(m)
    )
    score = np.round(np.clip(score, 0, 100), 1)
    team = np.array(roster.team, dtype=object)[agent]
    cidx = picked["_idx"].to_numpy()
    contact_ids = contacts["contact_id"].gather(pl.Series(np.maximum(cidx, 0).astype(np.uint32)))
    contact_ids = pl.select(
        pl.when(pl.Series(cidx >= 0)).then(contact_ids).otherwise(None)
    ).to_series()
    out = pl.DataFrame(
        {
            "contact_id": contact_ids,
            "agent_id": labels(roster.agent_id, agent),
            "team": pl.Series(team.tolist(), dtype=pl.String),
            "evaluated_ts": ts(when, clock),
            "score": score,
        }
    ).filter(pl.Series(when < clock.t_end))
    out = out.sort("evaluated_ts", "agent_id")
    return pl.concat(
        [pl.DataFrame({"evaluation_id": ids("Q", out.height)}), out], how="horizontal"
    )


FOCUS = [
    "call control",
    "empathy",
    "product knowledge",
    "compliance",
    "wrap-up discipline",
    "first contact resolution",
]


def coaching_table(clock: Clock, sched: Schedule, roster: Roster, seed: int) -> pl.DataFrame:
    """The coaching sessions that took place (scheduled meetings with the team leader)."""
    rng = np.random.default_rng([seed, 81])
    items = sorted(sched.coaching, key=lambda x: (x[1], x[0]))
    items = [x for x in items if x[1] * SLOT_S < clock.t_end]
    agent = np.array([x[0] for x in items], dtype=np.int64)
    slot = np.array([x[1] for x in items], dtype=np.int64)
    quarters = np.array([x[2] for x in items], dtype=np.int64)
    focus = rng.choice(len(FOCUS), size=len(items))
    team = [roster.team[a] for a in agent]
    return pl.DataFrame(
        {
            "session_id": ids("S", len(items)),
            "agent_id": labels(roster.agent_id, agent),
            "team": pl.Series(team, dtype=pl.String),
            "session_ts": ts(slot * float(SLOT_S), clock),
            "duration_s": quarters * float(SLOT_S),
            "focus": labels(FOCUS, focus),
        }
    )


def agent_surveys_table(
    clock: Clock, roster: Roster, scenario: Scenario, seed: int
) -> pl.DataFrame:
    """A monthly pulse survey; a team under strain answers lower."""
    rng = np.random.default_rng([seed, 91])
    strained = {t for t, _ in scenario.attrition}
    rows_a, rows_t = [], []
    for m, mstart in enumerate(clock.month_starts[:-1]):
        day = (mstart - clock.start).days + 19
        if day >= clock.horizon_days:
            day = (mstart - clock.start).days
        employed = np.nonzero((roster.hired_day <= day) & (roster.left_day >= day))[0]
        respond = employed[rng.random(len(employed)) < 0.65]
        stress = np.array(
            [
                (
                    1.9
                    if m == scenario.attrition_month + 1
                    else 0.8
                    if m > scenario.attrition_month + 1
                    else 0.0
                )
                if roster.team[a] in strained
                else 0.0
                for a in respond
            ]
        )
        score = np.clip(
            np.round(
                7.1
                + 0.6 * roster.skill[respond]
                - stress
                + 1.6 * rng.standard_normal(len(respond))
            ),
            0,
            10,
        )
        secs = day * 86400.0 + rng.uniform(9, 17, len(respond)) * 3600
        rows_a.append(respond)
        rows_t.append((secs, score))
    agent = np.concatenate(rows_a) if rows_a else np.zeros(0, dtype=np.int64)
    secs = np.concatenate([x[0] for x in rows_t]) if rows_t else np.zeros(0)
    score = np.concatenate([x[1] for x in rows_t]) if rows_t else np.zeros(0)
    # local clock time: days count from local midnight of the first day, shift by UTC offset
    when = _local_seconds(clock, secs)
    order = np.lexsort((agent, when))
    return pl.DataFrame(
        {
            "agent_id": labels(roster.agent_id, agent[order]),
            "team": pl.Series([roster.team[a] for a in agent[order]], dtype=pl.String),
            "survey_ts": ts(when[order], clock),
            "score": pl.Series(score[order].astype(np.int64)),
        }
    )


def _local_seconds(clock: Clock, wall: np.ndarray) -> np.ndarray:
    """Seconds from t0 of local wall-clock times given as day*86400 + seconds of day."""
    day = np.floor(wall / 86400).astype(np.int64)
    sod = wall - day * 86400
    q = np.floor(sod / SLOT_S).astype(np.int64)
    return clock.local_slot(day, q) * float(SLOT_S) + (sod - q * SLOT_S)


def finance_table(
    clock: Clock,
    agent_time: pl.DataFrame,
    customers: pl.DataFrame,
    scale: float,
    seed: int,
) -> pl.DataFrame:
    """Monthly centre cost (paid hours), company orders, acquisition spend and new subscribers."""
    rng = np.random.default_rng([seed, 101])
    rows = []
    sched = agent_time.select(pl.col("interval_start").dt.date().alias("d"), pl.col("scheduled_s"))
    for m in range(len(clock.month_starts) - 1):
        a, b = clock.month_starts[m], clock.month_starts[m + 1]
        days = (b - a).days
        paid_h = sched.filter((pl.col("d") >= a) & (pl.col("d") < b))["scheduled_s"].sum() / 3600
        cost = paid_h * 21.5 + 38_000 * scale * days / 30.44
        season = 1 + 0.05 * math.cos(2 * math.pi * (a.timetuple().tm_yday - 25) / 365.25)
        orders = int(rng.poisson(52_000 * scale * days / 30.44 * season))
        amount = orders * 64.0 * math.exp(0.03 * rng.standard_normal())
        spend = 120_000 * scale * days / 30.44 * math.exp(0.05 * rng.standard_normal())
        new = customers.filter((pl.col("joined") >= a) & (pl.col("joined") < b)).height
        rows.append(
            {
                "period_start": a,
                "period_end": b - dt.timedelta(days=1),
                "team": None,
                "centre_cost": round(cost, 2),
                "company_orders": orders,
                "order_amount": round(amount, 2),
                "acquisition_spend": round(spend, 2),
                "new_subscribers": new,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "period_start": pl.Date,
            "period_end": pl.Date,
            "team": pl.String,
            "centre_cost": pl.Float64,
            "company_orders": pl.Int64,
            "order_amount": pl.Float64,
            "acquisition_spend": pl.Float64,
            "new_subscribers": pl.Int64,
        },
    )


def events_table(
    clock: Clock, roster: Roster, scenario: Scenario, queues: tuple[QueueSpec, ...]
) -> pl.DataFrame:
    """Annotations: the scenario's causes, public holidays and clock changes."""
    rows: list[tuple[float, float, str, str | None]] = []
    for ev in roster.events:
        day = (dt.date.fromisoformat(ev["date"]) - clock.start).days
        at = clock.local_slot(np.array([day]), np.array([68]))[0] * float(SLOT_S)  # 17:00
        if ev["kind"] == "attrition":
            label = f"{ev['team']}: {len(ev['agents'])} agents leave (last working day)"
        else:
            at = clock.local_slot(np.array([day]), np.array([36]))[0] * float(SLOT_S)
            label = f"{ev['team']}: {len(ev['agents'])} new agents start training"
        if at < clock.t_end:
            rows.append((at, math.nan, label, ev["team"]))
    if scenario.new_topic and scenario.new_topic_month < len(clock.month_starts) - 1:
        at = float(clock.month_edges[scenario.new_topic_month])
        teams = sorted({q.team for q in queues if q.name in scenario.new_topic_queues})
        for team in teams:
            rows.append(
                (
                    at,
                    float(clock.t_end),
                    f"Price change letters: new contact reason '{scenario.new_topic}'",
                    team,
                )
            )
    for d in range(clock.horizon_days):
        n_slots = clock.day_slot0[d + 1] - clock.day_slot0[d]
        date = clock.day_date[d]
        if n_slots != 96:
            rows.append(
                (
                    float(clock.day_slot0[d] * SLOT_S),
                    math.nan,
                    f"Clocks change: {n_slots // 4}-hour day",
                    None,
                )
            )
        if (date.month, date.day) in {(1, 1), (12, 25), (12, 26)}:
            rows.append(
                (
                    float(clock.day_slot0[d] * SLOT_S),
                    float(clock.day_slot0[d + 1] * SLOT_S),
                    "Public holiday: Sunday hours",
                    None,
                )
            )
    rows.sort(key=lambda r: (r[0], r[2]))
    return pl.DataFrame(
        {
            "start_ts": ts(np.array([r[0] for r in rows]), clock),
            "end_ts": ts(np.array([r[1] for r in rows]), clock),
            "label": pl.Series([r[2] for r in rows], dtype=pl.String),
            "team": pl.Series([r[3] for r in rows], dtype=pl.String),
        }
    )
