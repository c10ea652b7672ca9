"""Queue jobs: what each queue's worker needs, and running every queue (in worker processes
when the volume is large). The worker (:mod:`kpi._sim.worker`) builds the engine input."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kpi._sim.clock import Clock
from kpi._sim.config import QueueSpec
from kpi._sim.plan import Roster, Schedule
from kpi._sim.worker import process_queue

__all__ = ["queue_job", "run_all"]

PARALLEL_MIN_CONTACTS = 400_000


def queue_job(
    clock: Clock,
    qi: int,
    q: QueueSpec,
    sched: Schedule,
    roster: Roster,
    **params: Any,
) -> dict[str, Any]:
    """Everything :func:`kpi._sim.worker.process_queue` needs for queue ``qi``."""
    agents = np.nonzero(roster.queue == qi)[0]
    smask = np.nonzero(roster.queue[sched.agent] == qi)[0]
    wmask = np.nonzero(roster.queue[sched.w_agent] == qi)[0]
    local = np.searchsorted(agents, sched.w_agent[wmask])
    idx = np.arange(len(agents))
    windows = {
        "w_agent": sched.w_agent[wmask],
        "ws_act": sched.ws_act[wmask],
        "ws": sched.ws[wmask],
        "we": sched.we[wmask],
        "gap": sched.gap[wmask],
        "w_speed": sched.w_speed[wmask],
        "w_rfac": sched.w_rfac[wmask],
        "wfirst": np.searchsorted(local, idx, side="left"),
        "wend": np.searchsorted(local, idx, side="right"),
    }
    shifts = {
        "agent": sched.agent[smask],
        "slot0": sched.slot0[smask],
        "codes": sched.codes[smask],
        "absent": sched.absent[smask],
    }
    return {
        "clock": clock,
        "qi": qi,
        "q": q,
        "roster": roster,
        "agents": agents,
        "windows": windows,
        "shifts": shifts,
        **params,
    }


def run_all(
    jobs: list[dict],
    names: list[str],
    *,
    weights: list[float],
    workers: int | None = None,
    report: Callable[[str], None] | None = None,
) -> list[dict]:
    """Run every queue job; in ``workers`` fresh processes when there is enough work.

    ``weights`` (expected contacts per queue) decide the parallelism and the longest-first
    assignment of queues to workers. Results come back in job order.
    """
    if workers is None:
        big = sum(weights) >= PARALLEL_MIN_CONTACTS
        workers = min(2, os.cpu_count() or 1) if big else 1
    results: list[dict | None] = [None] * len(jobs)
    order = sorted(range(len(jobs)), key=lambda i: -weights[i])
    t0 = time.perf_counter()
    done = 0

    def note(i: int) -> None:
        nonlocal done
        done += 1
        if report:
            r = results[i]
            assert r is not None
            report(
                f"queue {done}/{len(jobs)} {names[i]}: {r['n_rows']:,} rows from "
                f"{r['n_base']:,} arrivals ({time.perf_counter() - t0:.1f} s)"
            )

    if workers <= 1 or len(jobs) == 1:
        for i in order:
            results[i] = process_queue(jobs[i])
            jobs[i] = None  # type: ignore[call-overload]  # free the inputs early
            note(i)
        return results  # type: ignore[return-value]
    # Workers are fresh interpreters fed through pipes: no fork (polars is multi-threaded)
    # and no re-import of the caller's __main__ (scripts need no guard).
    bins: list[list[int]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for i in order:  # longest job first onto the least loaded worker
        k = loads.index(min(loads))
        bins[k].append(i)
        loads[k] += weights[i]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def serve(items: list[int]) -> None:
        try:
            with subprocess.Popen(
                [sys.executable, "-c", "from kpi._sim.worker import worker_main; worker_main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            ) as proc:
                if proc.stdin is None or proc.stdout is None:  # pragma: no cover
                    raise RuntimeError("queue worker pipes not open")
                with proc.stdin:
                    for i in items:
                        pickle.dump(jobs[i], proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(None, proc.stdin)
                with proc.stdout:
                    for i in items:
                        res = pickle.load(proc.stdout)
                        with lock:
                            results[i] = res
                            note(i)
            if proc.returncode != 0:
                raise RuntimeError(f"queue worker failed with exit code {proc.returncode}")
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=serve, args=(b,)) for b in bins if b]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]
