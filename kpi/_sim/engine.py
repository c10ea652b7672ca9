"""The queueing core: first-come-first-served multi-server queues with shift windows.

One call of :func:`run_queue` simulates one queue over the whole horizon, in time order:

* jobs (contacts or ticket touches) enter the queue at ``t``; the agent who has been free the
  longest takes the head of the queue (longest-idle routing), so every job starts at
  ``max(t, earliest free agent)`` (the Kiefer-Wolfowitz recursion, kept as a heap of agent free
  times);
* agents are available only inside their productive windows (shift minus breaks, training and
  meetings). A contact may run past the end of a window; the agent then takes the full break
  late (``gap == 1``) or joins the fixed activity late (``gap == 2``);
* a job whose offered wait exceeds its patience abandons, one whose wait exceeds ``max_wait_s``
  flows out (voicemail); neither uses an agent. Abandoners may redial minutes later;
* an answered contact is resolved or not (agent skill against the contact's draw); unresolved
  customers come back on a later day (the repeat contacts behind first-contact resolution);
* ticket touches spawn the customer's reply (pending tickets) and reopens.

Every random number is drawn beforehand into per-row arrays, so a run is a pure function of its
inputs (deterministic, and identical in a worker process). Spawned jobs take the next free row of
their topic's pool. The loop uses ``array`` buffers and plain floats: it runs about a million
jobs in two seconds.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from heapq import heapify, heappop, heappush, heapreplace
from typing import Any

import numpy as np

__all__ = [
    "ABANDONED",
    "ANSWERED",
    "FLOWOUT",
    "FUTURE",
    "IVR_ABANDONED",
    "UNSERVED",
    "run_queue",
]

ANSWERED, ABANDONED, FLOWOUT, IVR_ABANDONED, UNSERVED, FUTURE = 0, 1, 2, 3, 4, 5
INF = math.inf


def _f64(x: Any) -> array:
    out = array("d")
    out.frombytes(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    return out


def _i64(x: Any) -> array:
    out = array("q")
    out.frombytes(np.ascontiguousarray(x, dtype=np.int64).tobytes())
    return out


def _i32(x: Any) -> array:
    out = array("i")
    out.frombytes(np.ascontiguousarray(x, dtype=np.int32).tobytes())
    return out


def _i8(x: Any) -> array:
    out = array("b")
    out.frombytes(np.ascontiguousarray(x, dtype=np.int8).tobytes())
    return out


def run_queue(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """Simulate one queue; ``spec`` holds numpy arrays and parameters (see the module doc).

    Times are seconds since the start of the horizon. Rows ``0..R-1`` describe jobs: base jobs
    are listed in ``base_t``/``base_row`` (sorted by queue-entry time); spawned jobs take rows from
    ``cursor[k]`` up to ``pool_end[k]`` of their topic ``k``.
    """
    ticket_mode = spec["mode"] == "ticket"
    bt = spec["base_t"].tolist()
    br = spec["base_row"].tolist()
    nb = len(bt)

    pat = _f64(spec["patience"])
    talk = _f64(spec["talk"])
    oth = _f64(spec["other"])
    ivr = _f64(spec["ivr"])
    ivrab = _i8(spec["ivrab"])
    qres = _f64(spec["q_res"])
    usp = _f64(spec["u_sp"])
    del0 = _f64(spec["del0"])
    del1 = _f64(spec["del1"])
    utod = _f64(spec["u_tod"])
    topic = _i64(spec["topic"])
    nrows = len(pat)

    o_code = array("b", [-1]) * nrows
    o_arr = array("d", [math.nan]) * nrows
    o_t = array("d", [math.nan]) * nrows
    o_start = array("d", [math.nan]) * nrows
    o_agent = array("i", [-1]) * nrows
    o_win = array("i", [-1]) * nrows
    o_parent = array("i", [-1]) * nrows
    o_src = _i32(np.arange(nrows, dtype=np.int32))
    o_depth = array("b", [0]) * nrows
    o_res = array("b", [0]) * nrows

    ws_act = _f64(spec["ws_act"])
    ws = _f64(spec["ws"])
    we = _f64(spec["we"])
    ae = _f64(spec["we"])
    gap = _i8(spec["gap"])
    wsp = _f64(spec["w_speed"])
    wrf = _f64(spec["w_rfac"])
    wfirst = spec["wfirst"].tolist()
    wend = spec["wend"].tolist()
    curw = list(wfirst)

    cur = list(spec["cursor"].tolist())
    pend_end = list(spec["pool_end"].tolist())

    maxw = float(spec["max_wait_s"])
    pred = list(spec.get("p_redial", ()))
    nred = len(pred)
    p_rep_res, p_rep_unres = spec.get("p_repeat", (0.0, 0.0))
    tp = list(spec.get("ticket_p", (0.0,)))
    ntp = len(tp)
    t_end = float(spec["t_end"])
    slot = float(spec["slot_s"])
    cum = spec["cum"].tolist()
    slot_day = spec["slot_day"].tolist()
    day0 = spec["day_slot0"].tolist()
    next_open = spec["next_open_day"].tolist()
    open_slot = spec["open_slot"].tolist()
    nslots = len(slot_day)
    ndays = len(next_open)

    # Heap keys are plain floats: time * AM + agent (times are whole seconds, so exact),
    # and time * RM + row for pending jobs; float comparisons are much cheaper than tuples.
    am = float(1 << max(1, len(wfirst)).bit_length())
    rm = float(1 << max(1, nrows).bit_length())
    heap = [ws_act[wfirst[a]] * am + a for a in range(len(wfirst)) if wfirst[a] < wend[a]]
    heap.append(INF)
    heapify(heap)
    pend: list[float] = []
    dropped = 0

    bi = 0
    while True:
        if pend and (bi >= nb or pend[0] < bt[bi] * rm):
            key = heappop(pend)
            t = key // rm
            r = int(key - t * rm)
        elif bi < nb:
            t = bt[bi]
            r = br[bi]
            bi += 1
        else:
            break
        # earliest agent available at or after t (lazy window advance)
        while True:
            key = heap[0]
            if key == INF:
                start = INF
                a = -1
                break
            f = key // am
            a = int(key - f * am)
            if f >= t:
                start = f
                break
            w = curw[a]
            if t < we[w]:
                start = t
                break
            w += 1
            lim = wend[a]
            while w < lim and we[w] <= t:
                w += 1
            curw[a] = w
            heapreplace(heap, ws_act[w] * am + a if w < lim else INF)
        o_t[r] = t
        p = pat[r]
        lim_w = p if p < maxw else maxw
        if start - t > lim_w or start == INF:
            if lim_w == INF:
                o_code[r] = UNSERVED
                continue
            o_code[r] = FLOWOUT if maxw < p else ABANDONED
            d = o_depth[r]
            if d < nred and usp[r] < pred[d]:
                ta = int(t + lim_w + del1[r])  # non-negative: int() is floor
                if ta < t_end and open_slot[int(ta // slot)]:
                    k = topic[r]
                    c = cur[k]
                    if c < pend_end[k]:
                        cur[k] = c + 1
                        o_parent[c] = r
                        o_depth[c] = d + 1
                        o_src[c] = o_src[r]
                        o_arr[c] = ta
                        if ivrab[c]:
                            o_code[c] = IVR_ABANDONED
                        else:
                            heappush(pend, (ta + ivr[c]) * rm + c)
                    else:
                        dropped += 1
            continue
        # answered
        w = curw[a]
        s = o_src[r]
        e = start + int(talk[s] * wsp[w] + 0.5) + oth[s]
        o_code[r] = ANSWERED
        o_start[r] = start
        o_agent[r] = a
        o_win[r] = w
        if e < we[w]:
            heapreplace(heap, e * am + a)
        else:
            ae[w] = e
            lim = wend[a]
            w2 = w + 1
            if w2 < lim:
                g = gap[w]
                if g == 1:
                    ns = e + (ws[w2] - we[w])
                elif g == 2:
                    ns = e
                else:
                    ns = 0.0
                if ns > ws_act[w2]:
                    ws_act[w2] = ns
                while w2 < lim and ws_act[w2] >= we[w2]:
                    w2 += 1
            curw[a] = w2
            heapreplace(heap, ws_act[w2] * am + a if w2 < lim else INF)
        d = o_depth[r]
        if ticket_mode:
            if usp[r] < (tp[d] if d < ntp else 0.0):
                k = topic[r]
                c = cur[k]
                if c < pend_end[k]:
                    cur[k] = c + 1
                    ta = int(e + (del0[r] if d == 0 else del1[r]))
                    o_parent[c] = r
                    o_depth[c] = d + 1
                    o_arr[c] = ta
                    if ta < t_end:
                        heappush(pend, ta * rm + c)
                    else:
                        o_code[c] = FUTURE
                else:
                    dropped += 1
            continue
        res = qres[r] < wrf[w]
        o_res[r] = res
        if d < 4 and usp[r] < (p_rep_res if res else p_rep_unres):
            ta0 = e + del0[r]
            si = int(ta0 // slot)
            if si >= nslots:
                continue
            dd = slot_day[si]
            dmin = slot_day[int(e // slot)] + 1
            if dd < dmin:
                dd = dmin
            if dd >= ndays:
                continue
            dd = next_open[dd]
            if dd < 0:
                continue
            k = topic[r]
            c = cur[k]
            if c >= pend_end[k]:
                dropped += 1
                continue
            lo = cum[day0[dd]]
            hi = cum[day0[dd + 1]]
            x = lo + utod[c] * (hi - lo)
            sl = bisect_right(cum, x) - 1
            if sl < day0[dd]:
                sl = day0[dd]
            elif sl >= day0[dd + 1]:
                sl = day0[dd + 1] - 1
            width = cum[sl + 1] - cum[sl]
            frac = (x - cum[sl]) / width if width > 0 else 0.5
            ta = int((sl + min(max(frac, 0.0), 0.999)) * slot)
            if ta >= t_end:
                continue
            cur[k] = c + 1
            o_parent[c] = r
            o_depth[c] = d + 1
            o_arr[c] = ta
            if ivrab[c]:
                o_code[c] = IVR_ABANDONED
            else:
                heappush(pend, (ta + ivr[c]) * rm + c)

    return {
        "code": np.frombuffer(o_code, dtype=np.int8),
        "arr": np.frombuffer(o_arr, dtype=np.float64),
        "t": np.frombuffer(o_t, dtype=np.float64),
        "start": np.frombuffer(o_start, dtype=np.float64),
        "agent": np.frombuffer(o_agent, dtype=np.int32),
        "win": np.frombuffer(o_win, dtype=np.int32),
        "parent": np.frombuffer(o_parent, dtype=np.int32),
        "src": np.frombuffer(o_src, dtype=np.int32),
        "depth": np.frombuffer(o_depth, dtype=np.int8),
        "res": np.frombuffer(o_res, dtype=np.int8),
        "ws_act": np.frombuffer(ws_act, dtype=np.float64),
        "ae": np.frombuffer(ae, dtype=np.float64),
        "dropped": np.array([dropped], dtype=np.int64),
    }
