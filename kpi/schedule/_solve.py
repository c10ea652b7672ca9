"""The weekly shift plan as a mixed-integer programme, solved by HiGHS (``scipy.optimize.milp``).

Variables (a repeating week of ``N = 7 × slots`` intervals):

* ``x[j]`` (integer): agents of group ``g`` working column ``j``: one template, day, start
  and placement of its breaks; on duty in the column's intervals except its breaks (a shift
  past Sunday midnight wraps to Monday);
* ``w[g, p]`` (integer): agents of group ``g`` on days-off pattern ``p`` (``days_per_week``
  working days; the days off consecutive, cyclically, unless the group says otherwise);
* ``y[g, s, t] ≥ 0``: agents of a multi-skilled group on duty at ``t`` given to skill ``s``;
* ``u[s, t] ≥ 0``: shortfall of skill ``s`` at ``t`` (priced so high that it is used only when
  nothing else can cover: an infeasible plan still comes back, with the shortfall shown).

Constraints: coverage ``Σ single-skilled duty + Σ y + u ≥ R[s, t]``; allocation ``Σ_s y[g, s,
t] ≤ duty of g at t``; days ``Σ x of g on day d ≤ Σ_{p works d} w[g, p]`` (so every agent works
at most one shift a day, on the days of their pattern); headcount ``Σ_p w[g, p] ≤
max_agents``. Objective: paid agent-intervals (``Σ length × x``; a tiny price per agent breaks
ties toward fewer people) plus the shortfall's price.

The LP relaxation's optimum is the lower bound reported; HiGHS's own bound after branching may
be higher (``mip_bound``). A named agent is a group of at most one whose columns fit their
availability.

Not modelled: rest between the shifts of consecutive days (a late shift may be followed by
an early one), fairness between agents, and preferences.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from kpi.errors import KpiError
from kpi.schedule._shifts import DAYS, Group, ShiftSpec, available_mask

__all__ = ["Column", "Solution", "build_columns", "capacity_problems", "solve"]

#: Price of one agent-interval of shortfall, against 1 per paid agent-interval.
SHORTFALL_PRICE = 1000.0
#: Price of one agent (paid intervals are 1 each): ties go to fewer people.
AGENT_PRICE = 0.01


@dataclass(frozen=True)
class Column:
    """One way to work one day: group, template, day, start (minutes of day), break starts
    (minutes from the start), paid length (intervals) and the intervals on duty."""

    group: int
    template: str
    day: int
    start_min: int
    breaks_min: tuple[int, ...]
    break_lengths_min: tuple[int, ...]
    length_min: int
    duty: np.ndarray


@dataclass
class Solution:
    """A solved plan: agents per column and per group pattern, coverage and the bounds."""

    groups: tuple[Group, ...]
    skills: list[str]
    columns: list[Column]
    x: np.ndarray  # agents per column
    patterns: list[list[tuple[int, ...]]]  # per group: work-day patterns
    w: list[np.ndarray]  # per group: agents per pattern
    coverage: np.ndarray  # skills × N, agents on duty given to each skill
    on_duty: np.ndarray  # N: agents on duty (all groups)
    shortfall: np.ndarray  # skills × N
    objective: float
    lp_bound: float
    mip_bound: float
    solve_s: float
    status: str
    notes: list[str] = field(default_factory=list)


def _patterns(group: Group) -> list[tuple[int, ...]]:
    """Work-day patterns (tuples of working days, 0 = Monday).

    Examples
    --------
    >>> _patterns(Group("g", ("voice",), days_per_week=5))[:2]
    [(0, 1, 2, 3, 4), (1, 2, 3, 4, 5)]
    >>> len(_patterns(Group("g", ("voice",), days_per_week=5, consecutive_days_off=False)))
    21
    """
    k = group.days_per_week
    if k == 7:
        return [tuple(range(7))]
    if group.consecutive_days_off:
        return [tuple(sorted((first + i) % 7 for i in range(k))) for first in range(7)]
    return [tuple(c) for c in combinations(range(7), k)]


def build_columns(spec: ShiftSpec, groups: tuple[Group, ...], every_min: int) -> list[Column]:
    per_day = 1440 // every_min
    n = 7 * per_day
    cols: list[Column] = []
    for gi, group in enumerate(groups):
        mask = available_mask(group, per_day)
        for t in spec.templates:
            slots = t.length_min // every_min
            for variant in t.variants(every_min):
                off = np.zeros(slots, dtype=bool)
                for (blen, _, _), bstart in zip(t.breaks, variant, strict=True):
                    off[bstart // every_min : (bstart + blen) // every_min] = True
                for day in t.days:
                    for start in t.starts_min:
                        first = day * per_day + start // every_min
                        span = (first + np.arange(slots)) % n
                        if mask is not None and not mask[span].all():
                            continue
                        cols.append(
                            Column(
                                gi,
                                t.name,
                                day,
                                start,
                                variant,
                                tuple(b[0] for b in t.breaks),
                                t.length_min,
                                span[~off],
                            )
                        )
    return cols


def capacity_problems(
    skills: list[str],
    required: np.ndarray,
    groups: tuple[Group, ...],
    columns: list[Column],
    every_min: int,
) -> list[str]:
    """Intervals whose requirement no plan can meet, with the constraint that binds there:
    no shift covers the interval, or too few agents with the skill can work then."""
    n = required.shape[1]
    per_day = 1440 // every_min
    reach = np.zeros((len(groups), n), dtype=bool)
    for c in columns:
        reach[c.group, c.duty] = True
    problems = []
    for si, skill in enumerate(skills):
        cap = np.zeros(n)
        for gi, g in enumerate(groups):
            if skill in g.skills:
                limit = np.inf if g.max_agents is None else g.max_agents
                cap += np.where(reach[gi], limit, 0.0)
        short = np.flatnonzero(required[si] > cap)
        if short.size == 0:
            continue
        t = short[0]
        when = f"{DAYS[t // per_day]} {(t % per_day) * every_min // 60:02d}:" + (
            f"{(t % per_day) * every_min % 60:02d}"
        )
        if cap[t] == 0 and not any(skill in g.skills for g in groups):
            why = f"no group or agent has the skill {skill!r}"
        elif cap[t] == 0:
            why = f"no shift template (or availability) with skill {skill!r} covers {when}"
        else:
            why = (
                f"only {int(cap[t])} agent(s) with skill {skill!r} can work at {when} "
                f"(max_agents or availability) but {int(required[si, t])} are required"
            )
        problems.append(f"{why} ({short.size} intervals short)")
    return problems


def _fewest_agents(
    columns: list[Column],
    x: np.ndarray,
    gi: int,
    group: Group,
    patterns: list[tuple[int, ...]],
    found: np.ndarray,
) -> np.ndarray:
    """Agents per days-off pattern for the shifts chosen: the fewest people who can work them
    (the plan's own tie-break is too small for the solver's gap to see)."""
    per_day = np.zeros(7)
    for j in np.flatnonzero(x):
        if columns[j].group == gi:
            per_day[columns[j].day] += x[j]
    if not per_day.any():
        return np.zeros(len(patterns), dtype=np.int64)
    a = np.array([[1.0 if d in p else 0.0 for p in patterns] for d in range(7)])
    upper = np.inf if group.max_agents is None else float(group.max_agents)
    res = milp(
        np.ones(len(patterns)),
        constraints=LinearConstraint(a, per_day, np.inf),
        bounds=Bounds(0, upper),
        integrality=np.ones(len(patterns)),
        options={"time_limit": 10.0},
    )
    if res.x is None or res.x.sum() > found.sum():
        return found
    return np.round(res.x).astype(np.int64)


def solve(
    skills: list[str],
    required: np.ndarray,
    spec: ShiftSpec,
    *,
    every_min: int,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.005,
    progress: Callable[[str], None] | None = None,
) -> Solution:
    """Solve the weekly plan for ``required`` (skills × 7 days of intervals, whole agents).

    Raises
    ------
    KpiError
        When HiGHS finds no plan within the time limit.
    """
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    n = required.shape[1]
    groups = spec.groups or tuple(Group(s, (s,)) for s in skills)
    columns = build_columns(spec, groups, every_min)
    patterns = [_patterns(g) for g in groups]
    s_index = {s: i for i, s in enumerate(skills)}
    multi = [gi for gi, g in enumerate(groups) if sum(s in s_index for s in g.skills) > 1]
    n_x = len(columns)
    n_w = sum(len(p) for p in patterns)
    y_keys = [(gi, s_index[s]) for gi in multi for s in groups[gi].skills if s in s_index]
    n_y = len(y_keys) * n
    n_u = len(skills) * n
    w_off = n_x
    y_off = w_off + n_w
    u_off = y_off + n_y
    n_var = u_off + n_u
    say(f"{n_x} shift columns, {len(groups)} groups, {len(skills)} skills, {n} intervals")

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    lb, ub = [], []
    r = 0
    # coverage: one row per skill and interval
    for j, c in enumerate(columns):
        g = groups[c.group]
        if c.group in multi:
            continue
        for s in g.skills:
            if s in s_index:
                rows.append(s_index[s] * n + c.duty)
                cols.append(np.full(c.duty.size, j))
    for k, (_, si) in enumerate(y_keys):
        rows.append(si * n + np.arange(n))
        cols.append(y_off + k * n + np.arange(n))
    rows.append(np.arange(n_u))
    cols.append(u_off + np.arange(n_u))
    cov_rows = n_u
    lb += list(required.reshape(-1).astype(float))
    ub += [np.inf] * cov_rows
    r = cov_rows
    # allocation: Σ_s y[g, s, t] − duty(g, t) ≤ 0
    alloc_r, alloc_c, alloc_v = [], [], []
    for mi, gi in enumerate(multi):
        base = r + mi * n
        for k, (g2, _) in enumerate(y_keys):
            if g2 == gi:
                alloc_r.append(base + np.arange(n))
                alloc_c.append(y_off + k * n + np.arange(n))
                alloc_v.append(np.ones(n))
        for j, c in enumerate(columns):
            if c.group == gi:
                alloc_r.append(base + c.duty)
                alloc_c.append(np.full(c.duty.size, j))
                alloc_v.append(-np.ones(c.duty.size))
    r += len(multi) * n
    lb += [-np.inf] * (len(multi) * n)
    ub += [0.0] * (len(multi) * n)
    # days: Σ x of g on day d − Σ_{p ∋ d} w[g, p] ≤ 0 ; headcount Σ_p w[g, p] ≤ max_agents
    day_r, day_c, day_v = [], [], []
    w_start = []
    off = w_off
    for gi in range(len(groups)):
        w_start.append(off)
        for d in range(7):
            row = r + gi * 7 + d
            for pi, p in enumerate(patterns[gi]):
                if d in p:
                    day_r.append(row)
                    day_c.append(off + pi)
                    day_v.append(-1.0)
        off += len(patterns[gi])
    for j, c in enumerate(columns):
        day_r.append(r + c.group * 7 + c.day)
        day_c.append(j)
        day_v.append(1.0)
    r += 7 * len(groups)
    lb += [-np.inf] * (7 * len(groups))
    ub += [0.0] * (7 * len(groups))
    for gi, g in enumerate(groups):
        if g.max_agents is not None:
            for pi in range(len(patterns[gi])):
                day_r.append(r)
                day_c.append(w_start[gi] + pi)
                day_v.append(1.0)
            r += 1
            lb.append(-np.inf)
            ub.append(float(g.max_agents))

    all_r = np.concatenate([*rows, *alloc_r, np.array(day_r, dtype=np.int64)])
    all_c = np.concatenate([*cols, *alloc_c, np.array(day_c, dtype=np.int64)])
    all_v = np.concatenate(
        [np.ones(sum(a.size for a in rows)), *alloc_v, np.array(day_v, dtype=float)]
    )
    a = sparse.csr_array((all_v, (all_r, all_c)), shape=(r, n_var))
    constraint = LinearConstraint(a, np.array(lb), np.array(ub))
    slots = np.array([c.length_min // every_min for c in columns], dtype=float)
    cost = np.concatenate(
        [slots, np.full(n_w, AGENT_PRICE), np.zeros(n_y), np.full(n_u, SHORTFALL_PRICE)]
    )
    upper = np.full(n_var, np.inf)
    for gi, g in enumerate(groups):
        if g.max_agents is not None:
            upper[w_start[gi] : w_start[gi] + len(patterns[gi])] = g.max_agents
    bounds = Bounds(np.zeros(n_var), upper)
    integrality = np.concatenate([np.ones(n_x + n_w), np.zeros(n_y + n_u)])

    say("solving the LP relaxation (the lower bound)")
    lp = milp(cost, constraints=constraint, bounds=bounds, integrality=np.zeros(n_var))
    if lp.x is None:
        raise KpiError(f"the shift plan has no solution: {lp.message}")
    lp_bound = float(lp.fun)
    left = max(1.0, time_limit_s - (time.perf_counter() - t0))
    say(
        f"LP bound {lp_bound:,.1f} paid agent-intervals; solving the integer plan "
        f"(time limit {left:.0f} s)"
    )
    res = milp(
        cost,
        constraints=constraint,
        bounds=bounds,
        integrality=integrality,
        options={"time_limit": left, "mip_rel_gap": mip_rel_gap, "presolve": True},
    )
    if res.x is None:
        raise KpiError(
            f"no shift plan found within {time_limit_s:g} s ({res.message}); allow more time "
            "with --time-limit-s or give fewer shift templates"
        )
    sol = res.x
    x = np.round(sol[:n_x]).astype(np.int64)
    w = [
        _fewest_agents(
            columns,
            x,
            gi,
            groups[gi],
            p,
            np.round(sol[w_start[gi] : w_start[gi] + len(p)]).astype(np.int64),
        )
        for gi, p in enumerate(patterns)
    ]
    coverage = np.zeros((len(skills), n))
    on_duty = np.zeros(n)
    group_duty = np.zeros((len(groups), n))
    for j in np.flatnonzero(x):
        c = columns[j]
        group_duty[c.group, c.duty] += x[j]
    on_duty = group_duty.sum(axis=0)
    for gi, g in enumerate(groups):
        if gi in multi:
            continue
        for s in g.skills:
            if s in s_index:
                coverage[s_index[s]] += group_duty[gi]
    y = sol[y_off:u_off].reshape(-1, n) if n_y else np.zeros((0, n))
    for k, (_, si) in enumerate(y_keys):
        coverage[si] += y[k]
    # idle capacity of multi-skilled groups: shown on their skills in proportion to need
    for gi in multi:
        given = sum(y[k] for k, (g2, _) in enumerate(y_keys) if g2 == gi)
        idle = np.clip(group_duty[gi] - given, 0.0, None)
        sis = [s_index[s] for s in groups[gi].skills if s in s_index]
        weights = required[sis].astype(float) + 1e-9
        coverage[sis] += idle * weights / weights.sum(axis=0)
    shortfall = np.clip(required - coverage, 0.0, None)
    shortfall[shortfall < 1e-6] = 0.0
    paid = float(slots @ x)
    objective = paid + AGENT_PRICE * float(sum(v.sum() for v in w))
    mip_bound = float(getattr(res, "mip_dual_bound", lp_bound) or lp_bound)
    status = "optimal" if res.status == 0 else "time limit" if res.status == 1 else res.message
    say(
        f"plan: {paid:,.0f} paid agent-intervals, LP bound {lp_bound:,.1f}, "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return Solution(
        groups,
        skills,
        columns,
        x,
        patterns,
        w,
        coverage,
        on_duty,
        shortfall,
        objective,
        lp_bound,
        max(mip_bound, lp_bound),
        time.perf_counter() - t0,
        str(status),
    )
