"""One queue end to end, in a worker process or in process: demand, queueing, rows, agent time.

Queues are independent once the staffing plan is fixed (each agent works one queue and every
queue has its own random streams), so :func:`process_queue` runs them in any order or in
parallel with identical results.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from kpi._sim.demand import queue_demand
from kpi._sim.engine import run_queue

__all__ = ["process_queue", "worker_main"]


def process_queue(job: dict[str, Any]) -> dict[str, Any]:
    """Simulate queue ``job["qi"]``; return its contacts part (or tickets) and agent time."""
    from kpi._sim.queues import engine_spec
    from kpi._sim.tables import Customers, agent_time_cells, queue_contacts, tickets_table

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
