"""Agent time: each agent's scheduled, productive, busy and absent seconds per interval."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from kpi._sim.clock import SLOT_S, Clock
from kpi._sim.columns import labels, ts
from kpi._sim.config import TEAMS
from kpi._sim.plan import BREAK, MEETING, PRODUCTIVE, TRAINING, Roster

__all__ = ["agent_time_cells", "agent_time_frame"]

ABSENCE = 4
CLOSE_AFTER_S = 4 * 86400


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
