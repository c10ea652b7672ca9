"""One queue end to end, in a worker process or in process: demand, queueing, rows, agent time.

Queues are independent once the staffing plan is fixed (each agent works one queue and every
queue has its own random streams), so :func:`process_queue` runs them in any order or in
parallel with identical results. :func:`engine_spec` builds the engine input of a queue
beside its only caller.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from kpi._sim.agent_time import agent_time_cells
from kpi._sim.clock import Clock
from kpi._sim.config import CHANNELS, QueueSpec
from kpi._sim.contacts import Customers, queue_contacts, tickets_table
from kpi._sim.demand import REPEAT_P, TICKET_PENDING_P, TICKET_REOPEN_P, QueueDemand, queue_demand
from kpi._sim.engine import run_queue

__all__ = ["engine_spec", "process_queue", "worker_main"]


def process_queue(job: dict[str, Any]) -> dict[str, Any]:
    """Simulate queue ``job["qi"]``; return its contacts part (or tickets) and agent time."""
    cpu = {}
    c0 = time.process_time()
    clock, qi, q, seed = job["clock"], job["qi"], job["q"], job["seed"]
    qd = queue_demand(clock, qi, q, job["scale"], job["scenario"], seed, job["kind"])
    win = job["windows"]
    spec = engine_spec(clock, q, qd, win)
    c1 = time.process_time()
    cpu["demand"] = c1 - c0
    res = run_queue(spec)
    del spec
    c2 = time.process_time()
    cpu["queueing"] = c2 - c1
    cust = Customers(job["cust_joined"], np.zeros(0), np.random.default_rng([seed, 42, qi]))
    out: dict[str, Any] = {"qi": qi, "n_base": qd.n_base, "dropped": int(res["dropped"][0])}
    if q.channel == "ticket":
        frame, segs = tickets_table(
            clock, q, qd, res, win["w_speed"], job["agents"], job["roster"], cust, seed
        )
        out["tickets"] = frame
        out["ticket_segs"] = segs
        out["n_rows"] = frame.height
    else:
        part = queue_contacts(
            clock, qi, q, qd, res, win["w_speed"], job["agents"], job["roster"], cust,
            job["runoff_end"], seed,
        )  # fmt: skip
        ans = np.nonzero(~np.isnan(part["_answer"]))[0]
        a = part["_agent"][ans].astype(np.int64)
        t_end_talk = part["_end"][ans]
        segs = {
            "agent": np.concatenate([a, a]),
            "t0": np.concatenate([part["_answer"][ans], t_end_talk]),
            "t1": np.concatenate([t_end_talk, t_end_talk + part["acw_s"][ans]]),
            "kind": np.concatenate([np.zeros(len(a), np.int8), np.ones(len(a), np.int8)]),
        }
        out["part"] = part
        out["n_rows"] = len(part["_arrival"])
    out["jobs"] = int((res["code"] >= 0).sum())
    windows = {"w_agent": win["w_agent"], "ws_act": res["ws_act"], "ae": res["ae"]}
    del res, qd
    c3 = time.process_time()
    cpu["rows"] = c3 - c2
    out["agent_time"] = agent_time_cells(
        clock, job["agents"], job["shifts"], windows, segs, job["interval_min"]
    )
    cpu["agent_time"] = time.process_time() - c3
    out["cpu"] = cpu
    return out


def engine_spec(clock: Clock, q: QueueSpec, qd: QueueDemand, win: dict) -> dict:
    """The engine input of a queue: its demand rows and its agents' productive windows."""
    fc = qd.forecast
    day_sum = np.bincount(clock.slot_day, weights=fc, minlength=clock.n_days)
    next_open = np.full(clock.n_days, -1, dtype=np.int64)
    nxt = -1
    for d in range(clock.n_days - 1, -1, -1):
        if day_sum[d] > 0:
            nxt = d
        next_open[d] = nxt
    if q.channel == "ticket":
        mode, max_wait, redial = "ticket", np.inf, ()
    else:
        ch = CHANNELS[q.channel]
        mode, max_wait, redial = "contact", ch.max_wait_s, ch.redial_p
    spec = {
        "mode": mode,
        "base_t": qd.base_t,
        "base_row": qd.base_row,
        "cursor": qd.cursor,
        "pool_end": qd.pool_end,
        "ws_act": win["ws_act"],
        "ws": win["ws"],
        "we": win["we"],
        "gap": win["gap"],
        "w_speed": win["w_speed"],
        "w_rfac": win["w_rfac"],
        "wfirst": win["wfirst"],
        "wend": win["wend"],
        "max_wait_s": max_wait,
        "p_redial": redial,
        "p_repeat": REPEAT_P,
        "ticket_p": (TICKET_PENDING_P + TICKET_REOPEN_P[0], *TICKET_REOPEN_P[1:]),
        "t_end": float(clock.t_end),
        "slot_s": 900.0,
        "cum": np.concatenate([[0.0], np.cumsum(fc)]),
        "slot_day": clock.slot_day,
        "day_slot0": clock.day_slot0,
        "next_open_day": next_open,
        "open_slot": (fc > 0).astype(np.int8),
    }
    # draws only the engine needs move into the spec (and are freed with it)
    engine_only = ["q_res", "del0", "del1", "u_tod", "ivrab", "other"]
    if q.channel != "ticket":
        engine_only.append("u_sp")
    for key in engine_only:
        spec[key] = qd.rows.pop(key)
    for key in ("patience", "talk", "ivr", "topic", "u_sp"):
        if key not in spec:
            spec[key] = qd.rows[key]
    return spec


def worker_main() -> None:  # pragma: no cover - runs in a child process
    """Read pickled jobs from stdin (``None`` ends), write each result as one pickle to stdout."""
    import pickle
    import sys

    inp = sys.stdin.buffer
    jobs = []
    while (job := pickle.load(inp)) is not None:
        jobs.append(job)
    out = sys.stdout.buffer
    for k in range(len(jobs)):
        job, jobs[k] = jobs[k], None
        result = process_queue(job)
        del job
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        del result
