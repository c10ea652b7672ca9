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

from kpi._sim.agent_time import agent_time_frame
from kpi._sim.business import events_table, finance_table
from kpi._sim.clock import make_clock
from kpi._sim.config import QUEUES, Scenario
from kpi._sim.contacts import contacts_table, customers_table, make_customers
from kpi._sim.demand import day_kind, forecast_rates
from kpi._sim.people import (
    agent_surveys_table,
    agents_table,
    coaching_table,
    qa_table,
    surveys_table,
)
from kpi._sim.plan import make_roster, make_schedule, requirements
from kpi._sim.queues import queue_job, run_all
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
    kind = day_kind(clock)
    horizon = np.arange(clock.n_slots) * 900 < clock.t_end
    reqs, weights = [], []
    for q in queues:
        forecast = forecast_rates(clock, q, scale, kind)
        reqs.append(requirements(clock, q, forecast, kind)[0])
        weights.append(float((forecast * horizon).sum()))
    roster = make_roster(clock, queues, reqs, scale, scenario, staffing, seed)
    sched = make_schedule(clock, queues, reqs, roster, kind, scenario, seed)
    del reqs
    step("plan", f"staffing: {len(roster):,} agents, {len(sched.agent):,} shifts")
    cust = make_customers(clock, sum(weights) / max(months, 1), seed)
    params = {
        "scale": scale,
        "scenario": scenario,
        "seed": seed,
        "kind": kind,
        "interval_min": interval_min,
        "runoff_end": float(clock.n_slots * 900),
        "cust_joined": cust.joined_day,
    }
    jobs = [queue_job(clock, qi, q, sched, roster, **params) for qi, q in enumerate(queues)]
    results: list = run_all(
        jobs, [q.name for q in queues], weights=weights, workers=workers, report=progress
    )
    del jobs
    n_base = sum(r["n_base"] for r in results)
    wcpu = {k: sum(r["cpu"][k] for r in results) for k in results[0]["cpu"]}
    n_jobs = sum(r["jobs"] for r in results)
    for k, v in wcpu.items():
        timings[f"queue_{k}_cpu"] = v
    step(
        "queues",
        f"queues simulated: {n_base:,} arrivals, {n_jobs:,} queue jobs; queue CPU "
        + ", ".join(f"{k} {v:.1f} s" for k, v in wcpu.items())
        + f" ({wcpu['queueing'] / max(n_jobs, 1) * 1e6:.1f} µs per job in the FCFS loop)",
    )
    parts = [r.pop("part") for r in results if "part" in r]
    tick = next(r for r in results if "tickets" in r)
    tickets, ticket_segs = tick.pop("tickets"), tick.pop("ticket_segs")
    at_parts = [r.pop("agent_time") for r in results]
    del results
    contacts, side = contacts_table(clock, queues, parts, roster)
    del parts
    step("contacts", f"contacts: {contacts.height:,} rows; tickets: {tickets.height:,} rows")
    agent_time = agent_time_frame(clock, roster, at_parts, interval_min)
    del at_parts
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
