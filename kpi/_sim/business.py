"""The business around the centre: monthly finance and the events that annotate charts."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from kpi._sim.clock import SLOT_S, Clock
from kpi._sim.columns import ts
from kpi._sim.config import QueueSpec, Scenario
from kpi._sim.plan import Roster

__all__ = ["events_table", "finance_table"]


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
