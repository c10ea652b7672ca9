"""A solved plan, as people read it: shifts, a roster, coverage and service level per interval,
over- and under-staffing, the bounds and the gap."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from kpi.schedule._objectives import Objectives
from kpi.schedule._shifts import DAYS
from kpi.schedule._solve import Solution

__all__ = ["Plan", "build_plan"]


@dataclass
class Plan:
    """A weekly shift plan and how well it covers the requirements.

    ``objective`` is paid agent-intervals plus 0.01 per agent (the tie-break toward fewer
    people), on the same scale as ``lower_bound``. ``overstaffing`` is the share of scheduled agent-intervals (on duty, breaks excluded) above
    the requirement; ``gap`` is ``(paid − lower_bound) / lower_bound`` with ``lower_bound`` the
    LP relaxation's optimum (HiGHS's bound after branching is ``mip_bound``).
    """

    week_start: datetime
    every_min: int
    requirements: pl.DataFrame
    coverage: pl.DataFrame
    shifts: list[dict[str, Any]]
    roster: list[dict[str, Any]]
    agents: int
    paid_intervals: float
    objective: float
    overstaffing: float
    understaffed_intervals: list[dict[str, Any]]
    lower_bound: float
    mip_bound: float
    gap: float
    solve_s: float
    status: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (what ``kpi schedule --format json`` writes)."""
        cov = self.coverage.with_columns(pl.col("interval_start").dt.strftime("%Y-%m-%d %H:%M"))
        return {
            "week_start": f"{self.week_start:%Y-%m-%d}",
            "every_min": self.every_min,
            "agents": self.agents,
            "paid_hours": round(self.paid_intervals * self.every_min / 60, 2),
            "overstaffing": round(self.overstaffing, 4),
            "understaffed_intervals": self.understaffed_intervals,
            "lower_bound": round(self.lower_bound, 3),
            "mip_bound": round(self.mip_bound, 3),
            "objective": round(self.objective, 3),
            "gap": round(self.gap, 5),
            "solve_s": round(self.solve_s, 2),
            "status": self.status,
            "shifts": self.shifts,
            "roster": self.roster,
            "coverage": cov.to_dicts(),
            "notes": self.notes,
        }


def _hhmm(minutes: int) -> str:
    """``HH:MM`` of minutes of the day (``+1`` when it is the next day).

    Examples
    --------
    >>> _hhmm(450), _hhmm(1800)
    ('07:30', '06:00 +1')
    """
    day, m = divmod(minutes, 1440)
    return f"{m // 60:02d}:{m % 60:02d}" + (f" +{day}" if day else "")


def _shift_rows(sol: Solution) -> list[dict[str, Any]]:
    per_key: dict[tuple[Any, ...], dict[int, int]] = {}
    for j in np.flatnonzero(sol.x):
        c = sol.columns[j]
        key = (c.group, c.template, c.start_min, c.length_min, c.breaks_min, c.break_lengths_min)
        per_key.setdefault(key, {})[c.day] = int(sol.x[j])
    rows = []
    for (gi, template, start, length, bstarts, blens), days in sorted(
        per_key.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])
    ):
        by_count: dict[int, list[int]] = {}
        for d, k in sorted(days.items()):
            by_count.setdefault(k, []).append(d)
        for k, ds in sorted(by_count.items(), reverse=True):
            rows.append(
                {
                    "group": sol.groups[gi].name,
                    "skills": list(sol.groups[gi].skills),
                    "template": template,
                    "start": _hhmm(start),
                    "end": _hhmm(start + length),
                    "breaks": [
                        {"start": _hhmm(start + b), "end": _hhmm(start + b + n)}
                        for b, n in zip(bstarts, blens, strict=True)
                    ],
                    "days": [DAYS[d] for d in ds],
                    "agents": k,
                }
            )
    return rows


def _roster(sol: Solution) -> list[dict[str, Any]]:
    """One row per agent: their days off and shift per day (agents keep similar starts)."""
    out = []
    for gi, g in enumerate(sol.groups):
        agents = []
        for p, k in zip(sol.patterns[gi], sol.w[gi], strict=True):
            agents += [p] * int(k)
        names = [g.name] if g.named else [f"{g.name}-{i + 1:03d}" for i in range(len(agents))]
        days: list[dict[str, str]] = [{} for _ in agents]
        last = [0] * len(agents)
        for d in range(7):
            todays = sorted(
                (sol.columns[j].start_min, j)
                for j in np.flatnonzero(sol.x)
                if sol.columns[j].group == gi and sol.columns[j].day == d
                for _ in range(int(sol.x[j]))
            )
            free = sorted((last[i], i) for i, p in enumerate(agents) if d in p)
            for (start, j), (_, i) in zip(todays, free, strict=False):
                c = sol.columns[j]
                days[i][DAYS[d]] = f"{_hhmm(start)}-{_hhmm(start + c.length_min)} ({c.template})"
                last[i] = start
        for i, p in enumerate(agents):
            out.append(
                {
                    "agent": names[i] if i < len(names) else f"{g.name}-{i + 1:03d}",
                    "group": g.name,
                    "skills": list(g.skills),
                    "days_off": [DAYS[d] for d in range(7) if d not in p],
                    "shifts": days[i],
                }
            )
    return out


def _service_level(
    requirements: pl.DataFrame, coverage: pl.DataFrame, objectives: Objectives, shrinkage: float
) -> pl.DataFrame:
    """The service level the plan gives per interval and skill (Erlang queues only): each
    skill's on-queue agents (``scheduled × (1 − shrinkage)``) shared among its queues in
    proportion to their required agents; the skill's value weighted by offered contacts."""
    from kpi.staffing import service_level

    joined = requirements.join(
        coverage.select("interval_start", pl.col("skill").alias("channel"), "scheduled"),
        on=["interval_start", "channel"],
        how="left",
    ).with_columns(
        _share=pl.when(pl.col("required_agents").sum().over("interval_start", "channel") > 0)
        .then(
            pl.col("required_agents")
            / pl.col("required_agents").sum().over("interval_start", "channel")
        )
        .otherwise(0.0)
    )
    parts = []
    for (queue, channel), part in joined.group_by(["queue", "channel"]):
        o = objectives.for_queue(queue, channel)  # type: ignore[arg-type]
        sl = np.full(part.height, np.nan)
        if o.kind == "erlang":
            load = part["load_erlangs"].to_numpy().astype(float)
            agents = (
                part["scheduled"].fill_null(0.0).to_numpy()
                * (1 - shrinkage)
                * part["_share"].to_numpy()
            )
            aht = part["aht_s"].fill_null(1.0).to_numpy().astype(float)
            busy = load > 0
            if busy.any():
                sl[busy] = service_level(
                    load[busy],
                    agents[busy],
                    aht_s=aht[busy],
                    threshold_s=o.threshold_s,
                    patience_s=o.patience_s,
                )
        parts.append(part.with_columns(_sl=pl.Series(sl).fill_nan(None)))
    both = pl.concat(parts)
    weight = pl.when(pl.col("_sl").is_not_null()).then(pl.col("offered")).otherwise(0.0)
    return both.group_by("interval_start", pl.col("channel").alias("skill")).agg(
        offered=pl.col("offered").sum(),
        load_erlangs=pl.col("load_erlangs").sum(),
        service_level=pl.when(weight.sum() > 0).then(
            (pl.col("_sl").fill_null(0.0) * weight).sum() / weight.sum()
        ),
    )


def build_plan(
    sol: Solution,
    requirements: pl.DataFrame,
    required: np.ndarray,
    *,
    start: datetime,
    every_min: int,
    objectives: Objectives,
    shrinkage: float,
    notes: list[str],
) -> Plan:
    """Assemble the :class:`Plan` of a solution."""
    n = required.shape[1]
    times = [start + timedelta(minutes=every_min * t) for t in range(n)]
    rows = []
    for si, skill in enumerate(sol.skills):
        rows.append(
            pl.DataFrame(
                {
                    "interval_start": times,
                    "skill": [skill] * n,
                    "required": required[si].astype(np.int64),
                    "scheduled": np.round(sol.coverage[si], 3),
                }
            )
        )
    cov = pl.concat(rows).with_columns(pl.col("interval_start").cast(pl.Datetime("us")))
    cov = cov.with_columns(
        over=(pl.col("scheduled") - pl.col("required")).clip(lower_bound=0.0).round(3),
        under=(pl.col("required") - pl.col("scheduled")).clip(lower_bound=0.0).round(3),
    )
    sl = _service_level(requirements, cov, objectives, shrinkage)
    cov = (
        cov.join(sl, on=["interval_start", "skill"], how="left")
        .select(
            "interval_start",
            "skill",
            "offered",
            "load_erlangs",
            "required",
            "scheduled",
            "over",
            "under",
            "service_level",
        )
        .sort("skill", "interval_start")
    )
    met = np.minimum(sol.coverage, required).sum()
    on_duty = float(sol.on_duty.sum())
    overstaffing = (on_duty - met) / on_duty if on_duty > 0 else 0.0
    under = cov.filter(pl.col("under") > 1e-6)
    understaffed = [
        {
            "start": f"{r['interval_start']:%Y-%m-%d %H:%M}",
            "skill": r["skill"],
            "required": r["required"],
            "scheduled": r["scheduled"],
        }
        for r in under.iter_rows(named=True)
    ]
    slots = np.array([c.length_min // every_min for c in sol.columns], dtype=float)
    paid = float(slots @ sol.x)
    gap = (sol.objective - sol.lp_bound) / sol.lp_bound if sol.lp_bound > 0 else 0.0
    return Plan(
        week_start=start,
        every_min=every_min,
        requirements=requirements,
        coverage=cov,
        shifts=_shift_rows(sol),
        roster=_roster(sol),
        agents=int(sum(int(v.sum()) for v in sol.w)),
        paid_intervals=paid,
        objective=sol.objective,
        overstaffing=float(overstaffing),
        understaffed_intervals=understaffed,
        lower_bound=sol.lp_bound,
        mip_bound=sol.mip_bound,
        gap=max(0.0, gap),
        solve_s=sol.solve_s,
        status=sol.status,
        notes=notes,
    )
