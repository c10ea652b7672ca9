"""Orchestration: calendar -> demand -> plan -> queues -> tables -> ground truth."""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kpi._sim.clock import make_clock
from kpi._sim.config import QUEUES, Scenario
from kpi._sim.demand import make_demand
from kpi._sim.plan import make_roster, make_schedule, requirements
from kpi._sim.queues import engine_spec, run_all
from kpi._sim.tables import (
    agent_surveys_table,
    agent_time_table,
    agents_table,
    coaching_table,
    contacts_table,
    customers_table,
    events_table,
    finance_table,
    make_customers,
    qa_table,
    queue_contacts,
    surveys_table,
    tickets_table,
)
from kpi._sim.truth import measure

__all__ = ["Generated", "generate"]

RUNOFF_DAYS = 7


def _trim() -> None:
    """Hand freed heap memory back to the OS (glibc keeps large freed blocks otherwise)."""
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


@dataclass
class Generated:
    """Tables, ground truth and facts of one simulation run."""

    tables: dict[str, pl.DataFrame]
    truth: dict[str, Any]
    timings: dict[str, float]


def generate(
    *,
    seed: int,
    start: dt.date,
    months: int,
    scale: float,
    scale_name: str,
    tz: str,
    scenario: Scenario,
    staffing: float,
    interval_min: int,
    progress: Callable[[str], None] | None,
    workers: int | None = None,
) -> Generated:
    """Run the whole simulation (see :func:`kpi.samples.simulate`)."""
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    t = time.perf_counter()
    c = time.process_time()

    def step(name: str, msg: str | None = None) -> None:
        nonlocal t, c
        now, cnow = time.perf_counter(), time.process_time()
        timings[name] = now - t
        timings[name + "_cpu"] = cnow - c
        t, c = now, cnow
        _trim()
        if progress and msg:
            progress(f"{msg} ({now - t_all:.1f} s)")

    clock = make_clock(tz, start, months, RUNOFF_DAYS)
    queues = QUEUES
    demand = make_demand(clock, queues, scale, scenario, seed)
    n_base = sum(d.n_base for d in demand.queues.values())
    step("demand", f"arrivals: {n_base:,} first contacts and tickets over {months} month(s)")
    reqs, _works = [], []
    for q in queues:
        req, work = requirements(clock, q, demand.queues[q.name].forecast, demand.kind)
        reqs.append(req)
        _works.append(work)
    roster = make_roster(clock, queues, reqs, scale, scenario, staffing, seed)
    sched = make_schedule(clock, queues, reqs, roster, demand, scenario, seed)
    step("plan", f"staffing: {len(roster):,} agents, {len(sched.agent):,} shifts")
    specs, agents_by_q, wmasks, wspeeds = [], [], [], []
    for qi, q in enumerate(queues):
        spec, agents, wmask = engine_spec(clock, qi, q, demand.queues[q.name], sched, roster)
        specs.append(spec)
        agents_by_q.append(agents)
        wmasks.append(wmask)
        wspeeds.append(spec["w_speed"])
    results: list = run_all(specs, [q.name for q in queues], workers=workers, report=progress)
    step("queues", "queues simulated")
    ws_act = sched.ws_act.copy()
    ae = sched.we.copy()
    for res, wmask in zip(results, wmasks, strict=True):
        ws_act[wmask] = res["ws_act"]
        ae[wmask] = res["ae"]
    expected_month = n_base / max(months, 1)
    cust = make_customers(clock, expected_month, seed)
    runoff_end = float(clock.n_slots * 900)
    parts = []
    tickets = None
    ticket_segs: dict[str, np.ndarray] = {
        "agent": np.zeros(0, dtype=np.int64),
        "t0": np.zeros(0),
        "t1": np.zeros(0),
        "kind": np.zeros(0, dtype=np.int8),
    }
    for qi, q in enumerate(queues):
        qd = demand.queues[q.name]
        if q.channel == "ticket":
            tickets, ticket_segs = tickets_table(
                clock, q, qd, results[qi], wspeeds[qi], agents_by_q[qi], roster, cust, seed
            )
        else:
            parts.append(
                queue_contacts(
                    clock,
                    qi,
                    q,
                    qd,
                    results[qi],
                    wspeeds[qi],
                    agents_by_q[qi],
                    roster,
                    cust,
                    runoff_end,
                    seed,
                )
            )
        # free this queue's draws and engine output as soon as its rows are built
        results[qi] = None
        demand.queues[q.name] = None  # type: ignore[assignment]
    del results, specs
    contacts, side = contacts_table(clock, queues, parts, roster)
    del parts
    step("contacts", f"contacts: {contacts.height:,} rows; tickets: {tickets.height:,} rows")
    ans = np.nonzero(~np.isnan(side.answer))[0]
    a = side.agent[ans].astype(np.int64)
    t_ans = side.answer[ans]
    t_end_talk = side.end[ans]
    acw = side.acw[ans].astype(np.float64)
    segs = {
        "agent": np.concatenate([a, a, ticket_segs["agent"]]),
        "t0": np.concatenate([t_ans, t_end_talk, ticket_segs["t0"]]),
        "t1": np.concatenate([t_end_talk, t_end_talk + acw, ticket_segs["t1"]]),
        "kind": np.concatenate(
            [np.zeros(len(a), np.int8), np.ones(len(a), np.int8), ticket_segs["kind"]]
        ),
    }
    del ans, a, t_ans, t_end_talk, acw
    agent_time = agent_time_table(clock, roster, sched, ws_act, ae, segs, interval_min)
    del segs
    step("agent_time", f"agent_time: {agent_time.height:,} rows")
    customers = customers_table(clock, cust, side, seed)
    tables = {
        "contacts": contacts,
        "tickets": tickets,
        "agent_time": agent_time,
        "agents": agents_table(roster),
        "surveys": surveys_table(clock, contacts, side, queues, roster, seed),
        "qa_evaluations": qa_table(clock, contacts, side, ticket_segs, roster, seed),
        "coaching": coaching_table(clock, sched, roster, seed),
        "agent_surveys": agent_surveys_table(clock, roster, scenario, seed),
        "customers": customers,
        "finance": finance_table(clock, agent_time, customers, scale, seed),
        "events": events_table(clock, roster, scenario, queues),
    }
    del side
    step("extras", "surveys, quality, coaching, customers, finance, events")
    meta = {
        "seed": seed,
        "scale": scale_name,
        "start": start.isoformat(),
        "months": months,
        "timezone": tz,
        "staffing": staffing,
    }
    truth = measure(tables, clock, scenario, queues, roster.events, meta)
    step("truth", "ground truth measured")
    return Generated(tables, truth, timings)


def stderr_progress(prefix: str = "kpi sample") -> Callable[[str], None]:
    """A progress callback printing ``prefix: message`` lines to standard error."""

    def report(msg: str) -> None:
        print(f"{prefix}: {msg}", file=sys.stderr, flush=True)

    return report
