"""Workforce planning: Erlang C requirements, the roster (hires, attrition) and shift schedules."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls

from kpi._sim.clock import SLOT_S, Clock
from kpi._sim.config import TEAMS, QueueSpec, Scenario
from kpi._sim.demand import hours_mask, planned_work_s

__all__ = [
    "BREAK",
    "MEETING",
    "PRODUCTIVE",
    "TRAINING",
    "Roster",
    "Schedule",
    "erlang_c_agents",
    "make_roster",
    "make_schedule",
    "requirements",
]

PRODUCTIVE, BREAK, TRAINING, MEETING = 0, 1, 2, 3
IN_SHIFT_SHRINKAGE = 0.15  # breaks, meetings, coaching, training inside a shift
PLANNED_OCCUPANCY = 0.85  # for work-load (e-mail) planning
TICKET_OCCUPANCY = 0.9  # ticket teams are planned lean: a backlog is normal
REPEAT_UPLIFT = 1.10  # planners expect 10% repeat and redial contacts on top of the forecast
PART_TIME_SHARE = 0.3
TRAINING_DAYS = 10  # new hires: full days of classroom training
NESTING_DAYS = 42  # then slower, less accurate for six weeks
FT_Q, PT_Q = 32, 20  # shift lengths in quarters (8 h and 5 h, breaks included)

_FIRST = [
    "Amelia",
    "Olivia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Freya",
    "Ella",
    "Evie",
    "Poppy",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Leo",
    "Harry",
    "Oscar",
    "Archie",
    "Henry",
    "Theo",
    "Jack",
    "Charlie",
    "Finley",
    "Thomas",
    "Jacob",
    "Alfie",
    "Samuel",
    "Joshua",
    "William",
    "Zara",
    "Maryam",
    "Aaron",
    "Kofi",
    "Ewan",
    "Niamh",
    "Callum",
    "Ffion",
    "Dylan",
    "Seren",
    "Aled",
    "Carys",
    "Priya",
    "Ravi",
    "Anika",
    "Tariq",
    "Yusuf",
    "Hana",
    "Mei",
    "Jun",
    "Kasia",
    "Piotr",
    "Ana",
    "Luca",
    "Sofia",
]
_LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Wright",
    "Robinson",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Thomas",
    "Clarke",
    "Jackson",
    "Wood",
    "Harris",
    "Edwards",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Hughes",
    "Moore",
    "Clark",
    "King",
    "Harrison",
    "Lewis",
    "Baker",
    "Lee",
    "Allen",
    "Morris",
    "Khan",
    "Scott",
    "Watson",
    "Davis",
    "Parker",
    "James",
    "Bennett",
    "Young",
    "Phillips",
    "Richardson",
    "Mitchell",
    "Bailey",
    "Carter",
    "Cook",
    "Singh",
    "Shaw",
    "Bell",
    "Collins",
    "Morgan",
    "Kelly",
    "Begum",
    "Miller",
    "Cox",
    "Hussain",
    "Marshall",
]


def erlang_c_agents(
    load: np.ndarray, aht_s: float, threshold_s: float, target: float
) -> np.ndarray:
    """Smallest number of agents meeting a service level target, per offered load (Erlangs).

    Erlang C: P(wait) from the Erlang B recursion, SL(t) = 1 - P(wait) e^{-(N - A) t / AHT}.
    """
    a = np.round(np.asarray(load, dtype=np.float64), 2)
    uniq, inv = np.unique(a, return_inverse=True)
    need = np.zeros(len(uniq), dtype=np.int64)
    todo = uniq > 0
    b = np.ones(len(uniq))
    n = 0
    while todo.any():
        n += 1
        b = uniq * b / (n + uniq * b)
        ok = n > uniq
        denom = np.where(ok, n - uniq * (1 - b), 1.0)
        c = np.where(ok, n * b / denom, 1.0)
        sl = 1 - c * np.exp(-np.maximum(n - uniq, 0) * threshold_s / aht_s)
        done = todo & ok & (sl >= target)
        need[done] = n
        todo &= ~done
    return need[inv]


def requirements(
    clock: Clock, q: QueueSpec, forecast: np.ndarray, kind: np.ndarray
) -> tuple[np.ndarray, float]:
    """Agents to schedule per slot (shrinkage included) and the planned work per contact."""
    work = planned_work_s(q, q.topics)
    staff = hours_mask(clock, q.staff_hours, kind)
    lam = forecast * REPEAT_UPLIFT
    if q.planning == "erlang":
        load = lam * work / SLOT_S
        n = erlang_c_agents(load, work, q.sl_threshold_s, q.sl_target).astype(np.float64)
        n = np.where(staff, n, 0.0)
    else:  # work load spread over the staffed slots of each week
        week = (clock.slot_day + clock.day_weekday[0]) // 7
        w_load = np.bincount(week, weights=lam * work)
        w_slots = np.bincount(week, weights=staff.astype(np.float64), minlength=len(w_load))
        occ = TICKET_OCCUPANCY if q.channel == "ticket" else PLANNED_OCCUPANCY
        per = np.divide(
            w_load, w_slots * SLOT_S * occ, where=w_slots > 0, out=np.zeros_like(w_load)
        )
        n = np.where(staff, per[week], 0.0)
    return n / (1 - IN_SHIFT_SHRINKAGE), work


@dataclass
class Roster:
    """Every agent who works in the horizon, as parallel lists/arrays."""

    agent_id: list[str]
    name: list[str]
    team: list[str]
    site: list[str]
    leader: list[str]
    queue: np.ndarray  # queue index
    part_time: np.ndarray
    night: np.ndarray
    hired: list[dt.date]
    left: list[dt.date | None]
    reason: list[str | None]
    skill: np.ndarray
    speed: np.ndarray  # base handle-time factor (1 = typical)
    hired_day: np.ndarray  # day index relative to clock.start (may be negative)
    left_day: np.ndarray  # last working day index; large if still employed
    events: list[dict] = field(default_factory=list)  # scenario facts for the ground truth

    def __len__(self) -> int:
        return len(self.agent_id)


def _last_weekday_before(day: dt.date) -> dt.date:
    d = day - dt.timedelta(days=1)
    while d.weekday() >= 5:
        d -= dt.timedelta(days=1)
    return d


def _first_monday_from(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


def make_roster(
    clock: Clock,
    queues: tuple[QueueSpec, ...],
    reqs: list[np.ndarray],
    scale: float,
    scenario: Scenario,
    staffing: float,
    seed: int,
) -> Roster:
    """Size each queue's head count from its requirement, then add attrition and hiring."""
    rng = np.random.default_rng([seed, 21])
    rows = _head_counts(clock, queues, reqs, scale, staffing, rng)
    _baseline_attrition(clock, scenario, rows, rng)
    events = _scenario_changes(clock, scenario, rows, rng)
    return _roster(clock, rows, events, rng)


def _head_counts(
    clock: Clock,
    queues: tuple[QueueSpec, ...],
    reqs: list[np.ndarray],
    scale: float,
    staffing: float,
    rng: np.random.Generator,
) -> list[dict]:
    """One row per agent: each queue's day head count from its first weeks' need, plus nights."""
    first_days = min(28, clock.horizon_days)
    first_slots = clock.day_slot0[first_days]
    rows: list[dict] = []
    for qi, (q, req) in enumerate(zip(queues, reqs, strict=True)):
        team = TEAMS[q.team]
        weekly_h = req[:first_slots].sum() * SLOT_S / 3600 / first_days * 7
        fte = weekly_h / 40 / (1 - team.absence_p)
        level = 0.94
        hc = max(1, round(fte / (1 - PART_TIME_SHARE * (1 - PT_Q / FT_Q)) * level * staffing))
        n_night = 0
        if q.night_agents:
            # at least two, so that every night is covered with five-night weeks
            n_night = max(2, math.ceil(q.night_agents * scale * staffing * 7 / 5))
        for j in range(hc + n_night):
            rows.append(
                {
                    "queue": qi,
                    "team": q.team,
                    "night": j >= hc,
                    "part_time": j < round(PART_TIME_SHARE * hc),
                    "hired_day": -int(30 + rng.exponential(900)),
                    "left_day": None,
                    "reason": None,
                }
            )
    return rows


def _baseline_attrition(
    clock: Clock, scenario: Scenario, rows: list[dict], rng: np.random.Generator
) -> None:
    """Ordinary leavers (about 1.8% a month), each replaced three to five weeks later."""
    horizon = clock.horizon_days
    months = max(horizon / 30.44, 1e-9)
    hazard = 1 - (1 - 0.018) ** months
    # the scenario's teams lose agents only through the scenario until its hiring month
    quiet_teams = {t for t, _ in scenario.attrition}
    quiet_until = (
        (
            clock.month_starts[min(scenario.hiring_month, len(clock.month_starts) - 1)]
            - clock.start
        ).days
        if quiet_teams
        else 0
    )
    for r in list(rows):  # baseline attrition, replaced three to five weeks later
        if rng.random() < hazard:
            leave = int(rng.integers(0, horizon))
            if r["team"] in quiet_teams and leave < quiet_until:
                continue
            r["left_day"] = leave
            r["reason"] = "voluntary" if rng.random() < 0.75 else "involuntary"
            start = clock.start + dt.timedelta(days=leave + int(rng.integers(21, 36)))
            start = _first_monday_from(start)
            day = (start - clock.start).days
            if day < horizon:
                rows.append({**r, "hired_day": day, "left_day": None, "reason": None})


def _scenario_changes(
    clock: Clock, scenario: Scenario, rows: list[dict], rng: np.random.Generator
) -> list[dict]:
    """The scenario's attrition (leavers spread over a team's queues) and later hiring."""
    events: list[dict] = []
    if scenario.attrition and len(clock.month_starts) > scenario.attrition_month + 1:
        last = _last_weekday_before(clock.month_starts[scenario.attrition_month + 1])
        last_day = (last - clock.start).days
        for team_name, frac in scenario.attrition:
            cand = [
                r
                for r in rows
                if r["team"] == team_name
                and not r["night"]
                and r["hired_day"] + TRAINING_DAYS * 7 // 5 < last_day
                and (r["left_day"] is None or r["left_day"] > last_day)
            ]
            leavers = []
            for qi in sorted({r["queue"] for r in cand}):  # spread over the team's queues
                sub = [r for r in cand if r["queue"] == qi]
                k = min(len(sub) - 1, max(1, round(frac * len(sub))))  # keep one agent
                if k <= 0:
                    continue
                pick = rng.choice(len(sub), size=k, replace=False)
                leavers += [sub[i] for i in sorted(pick)]
            if not leavers:
                continue
            for r in leavers:
                r["left_day"] = last_day
                r["reason"] = "voluntary"
                r["scenario"] = True
            events.append(
                {
                    "kind": "attrition",
                    "team": team_name,
                    "date": last.isoformat(),
                    "headcount_before": len(cand),
                    "leavers": leavers,
                }
            )
        if len(clock.month_starts) > scenario.hiring_month + 1:
            hire = _first_monday_from(clock.month_starts[scenario.hiring_month])
            for team_name, frac in scenario.hiring:
                ev = next((e for e in events if e["team"] == team_name), None)
                if ev is None:
                    continue
                n = round(frac * len(ev["leavers"]))
                new = []
                for j in range(n):
                    src = ev["leavers"][j % len(ev["leavers"])]
                    new.append(
                        {
                            "queue": src["queue"],
                            "team": team_name,
                            "night": False,
                            "part_time": False,
                            "hired_day": (hire - clock.start).days,
                            "left_day": None,
                            "reason": None,
                            "scenario_hire": True,
                        }
                    )
                rows.extend(new)
                events.append(
                    {"kind": "hiring", "team": team_name, "date": hire.isoformat(), "hires": new}
                )
    return events


def _roster(
    clock: Clock, rows: list[dict], events: list[dict], rng: np.random.Generator
) -> Roster:
    """Ids, names, leaders and skills in a stable order; events name their agents."""
    # stable order: team, queue, hire day
    team_order = {t: i for i, t in enumerate(TEAMS)}
    rows.sort(key=lambda r: (team_order[r["team"]], r["queue"], r["hired_day"], r["night"]))
    n = len(rows)
    width = max(4, len(str(n)))
    first = rng.choice(_FIRST, size=n)
    last = rng.choice(_LAST, size=n)
    skill = rng.standard_normal(n)
    leaders_seen: dict[str, int] = {}
    roster = Roster(
        agent_id=[f"A{i + 1:0{width}d}" for i in range(n)],
        name=[f"{a} {b}" for a, b in zip(first, last, strict=True)],
        team=[r["team"] for r in rows],
        site=[TEAMS[r["team"]].site for r in rows],
        leader=[],
        queue=np.array([r["queue"] for r in rows], dtype=np.int64),
        part_time=np.array([r["part_time"] for r in rows], dtype=bool),
        night=np.array([r["night"] for r in rows], dtype=bool),
        hired=[clock.start + dt.timedelta(days=r["hired_day"]) for r in rows],
        left=[
            None if r["left_day"] is None else clock.start + dt.timedelta(days=r["left_day"])
            for r in rows
        ],
        reason=[r["reason"] for r in rows],
        skill=skill,
        speed=np.exp(-0.07 * skill + 0.05 * rng.standard_normal(n)),
        hired_day=np.array([r["hired_day"] for r in rows], dtype=np.int64),
        left_day=np.array(
            [10**6 if r["left_day"] is None else r["left_day"] for r in rows], dtype=np.int64
        ),
    )
    for r in rows:
        leaders = TEAMS[r["team"]].leaders
        k = leaders_seen.get(r["team"], 0)
        leaders_seen[r["team"]] = k + 1
        roster.leader.append(leaders[k % len(leaders)])
    index = {id(r): i for i, r in enumerate(rows)}
    for ev in events:
        key = "leavers" if ev["kind"] == "attrition" else "hires"
        ev["agents"] = sorted(roster.agent_id[index[id(r)]] for r in ev.pop(key))
    roster.events = events
    return roster


@dataclass
class Schedule:
    """Shifts of every agent: one row per shift, codes per quarter, and productive windows."""

    agent: np.ndarray  # global agent index per shift
    day: np.ndarray
    slot0: np.ndarray  # first slot of the shift
    length: np.ndarray  # real length in slots
    codes: np.ndarray  # (n_shifts, max_len) activity per slot, -1 beyond the shift
    absent: np.ndarray
    coaching: list[tuple[int, int, int]]  # (agent, slot, quarters)
    # productive windows (not absent shifts), sorted by agent then time
    w_agent: np.ndarray
    w_shift: np.ndarray
    ws: np.ndarray  # scheduled start (s from t0)
    we: np.ndarray  # scheduled end
    ws_act: np.ndarray  # actual start after lateness
    gap: np.ndarray  # after the window: 0 end of shift, 1 break, 2 fixed activity
    w_speed: np.ndarray
    w_rfac: np.ndarray


def _choose_days_off(
    rng: np.random.Generator, n: int, weights: np.ndarray, off: int = 2
) -> np.ndarray:
    """(n, 7) boolean working days: exactly ``off`` days off each, day totals ∝ ``weights``.

    Off-day counts per weekday are the weights scaled to ``off * n`` (largest remainder, at most
    ``n`` a day); the sorted multiset of off days is dealt so that agent ``i`` gets items ``i``,
    ``i + n``, ... (distinct days), after a random permutation of the agents.
    """
    work = np.ones((n, 7), dtype=bool)
    if n == 0:
        return work
    w = np.asarray(weights, dtype=np.float64)
    share = w / w.sum() * off * n
    counts = np.minimum(np.floor(share).astype(np.int64), n)
    rest = off * n - counts.sum()
    frac = share - np.floor(share) + rng.random(7) * 1e-6
    for d in np.argsort(-frac):
        if rest <= 0:
            break
        if counts[d] < n:
            counts[d] += 1
            rest -= 1
    items = np.repeat(np.arange(7), counts)[: off * n]
    perm = rng.permutation(n)
    for k in range(off):
        part = items[k * n : (k + 1) * n]
        work[perm[: len(part)], part] = False
    return work


def make_schedule(
    clock: Clock,
    queues: tuple[QueueSpec, ...],
    reqs: list[np.ndarray],
    roster: Roster,
    kind: np.ndarray,
    scenario: Scenario,
    seed: int,
) -> Schedule:
    """Build every agent's shifts week by week, covering each queue's requirement greedily."""
    rng = np.random.default_rng([seed, 31])
    sh_agent, sh_day, sh_q, sh_len, sh_kind = [], [], [], [], []
    week0 = -int(clock.day_weekday[0])
    n_weeks = (clock.n_days - week0 + 6) // 7
    for qi, q in enumerate(queues):
        agents = np.nonzero(roster.queue == qi)[0]
        if len(agents) == 0:
            continue
        req = reqs[qi]
        lo = np.array([h[0] * 4 if h else 0 for h in q.staff_hours])
        hi = np.array([h[1] * 4 if h else 0 for h in q.staff_hours])
        day_req = np.bincount(clock.slot_day, weights=req, minlength=clock.n_days)
        night = roster.night[agents]
        for w in range(n_weeks):
            days = np.arange(week0 + 7 * w, week0 + 7 * w + 7)
            valid = (days >= 0) & (days < clock.n_days - 1)
            dclip = np.clip(days, 0, clock.n_days - 1)
            # days before the start are planned like the same weekday a week later
            d_req = np.where(
                valid, day_req[dclip], day_req[np.clip(days + 7, 0, clock.n_days - 1)]
            )
            employed = (roster.hired_day[agents][:, None] <= days[None, :]) & (
                roster.left_day[agents][:, None] >= days[None, :]
            )
            employed &= valid[None, :]
            n_emp = max(1, int(employed.any(axis=1).sum()))
            total = d_req.sum()
            target = np.minimum(n_emp, 5 * n_emp * d_req / total) if total > 0 else d_req
            wts = np.where(d_req > 0, np.maximum(n_emp - target, 0.01), n_emp)
            work = _choose_days_off(rng, len(agents), wts)
            work_n = _choose_days_off(rng, len(agents), np.ones(7))
            work = np.where(night[:, None], work_n, work) & employed
            for j in range(7):
                d = int(days[j])
                if not valid[j]:
                    continue
                who = agents[work[:, j]]
                if len(who) == 0:
                    continue
                is_n = roster.night[who]
                nn = int(is_n.sum())
                if nn:
                    sh_agent.append(who[is_n])
                    sh_day.append(np.full(nn, d))
                    sh_q.append(np.full(nn, 88))
                    sh_len.append(np.full(nn, FT_Q))
                    sh_kind.append(np.full(nn, 2))
                who = who[~is_n]
                k = int(kind[d])
                q_lo, q_hi = int(lo[k]), int(hi[k])
                if q_hi <= q_lo:
                    continue
                slots = clock.slot_of[d, q_lo:q_hi]
                target = req[np.minimum(slots, clock.n_slots - 1)]
                training = (d - roster.hired_day[who]) * 5 // 7 < TRAINING_DAYS
                nt = int(training.sum())
                if nt:
                    sh_agent.append(who[training])
                    sh_day.append(np.full(nt, d))
                    sh_q.append(np.full(nt, 36))
                    sh_len.append(np.full(nt, FT_Q))
                    sh_kind.append(np.ones(nt, dtype=np.int64))
                who = who[~training]
                if len(who) == 0:
                    continue
                who = who[rng.permutation(len(who))]
                pt = roster.part_time[who]
                span = q_hi - q_lo
                for group, length in ((who[~pt], min(FT_Q, span)), (who[pt], min(PT_Q, span))):
                    if len(group) == 0:
                        continue
                    starts = _starts(target, len(group), length)
                    target = target - _coverage(starts, length, span)
                    sh_agent.append(group)
                    sh_day.append(np.full(len(group), d))
                    sh_q.append(q_lo + starts)
                    sh_len.append(np.full(len(group), length))
                    sh_kind.append(np.zeros(len(group), dtype=np.int64))
    req_all = np.stack(reqs)

    def cat(parts: list) -> np.ndarray:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    return _lay_out(
        clock,
        roster,
        scenario,
        rng,
        req_all,
        cat(sh_agent),
        cat(sh_day),
        cat(sh_q),
        cat(sh_len),
        cat(sh_kind),
    )


def _coverage(starts: np.ndarray, length: int, span: int) -> np.ndarray:
    """Agents present per quarter of the day's staffed span, for shifts at ``starts``."""
    diff = np.zeros(span + 1)
    np.add.at(diff, starts, 1.0)
    np.add.at(diff, np.minimum(starts + length, span), -1.0)
    return np.cumsum(diff)[:span]


def _starts(target: np.ndarray, n: int, length: int) -> np.ndarray:
    """Start offsets (quarters, on the half hour) of ``n`` shifts of ``length`` covering ``target``.

    Non-negative least squares chooses how many shifts start at each half hour so that the
    coverage matches the requirement, with the head count fixed; counts are then rounded by
    largest remainder. Surplus agents go where they hurt least, a shortfall is spread.
    """
    span = len(target)
    cand = np.arange(0, span - length + 1, 2)
    a = np.zeros((span, len(cand)))
    for j, st in enumerate(cand):
        a[st : st + length, j] = 1.0
    w = 4.0 * math.sqrt(span)
    a = np.vstack([a, np.full((1, len(cand)), w)])
    b = np.concatenate([np.maximum(target, 0.0), [w * n]])
    x, _ = nnls(a, b)
    x = x * (n / x.sum()) if x.sum() > 0 else np.full(len(cand), n / len(cand))
    counts = np.floor(x).astype(np.int64)
    rest = n - counts.sum()
    if rest > 0:
        counts[np.argsort(-(x - counts), kind="stable")[:rest]] += 1
    return np.repeat(cand, counts)


def _lay_out(
    clock, roster, scenario, rng, req_all, sh_agent, sh_day, sh_q, sh_len, sh_kind
) -> Schedule:
    agent = np.asarray(sh_agent, dtype=np.int64)
    day = np.asarray(sh_day, dtype=np.int64)
    qs = np.asarray(sh_q, dtype=np.int64)
    lnom = np.asarray(sh_len, dtype=np.int64)
    skind = np.asarray(sh_kind, dtype=np.int64)
    slot0 = clock.local_slot(day, qs)
    slot1 = clock.local_slot(day, qs + lnom)
    length = np.maximum(slot1 - slot0, 1)
    order = np.lexsort((slot0, agent))
    agent, day, qs, lnom, skind, slot0, length = (
        x[order] for x in (agent, day, qs, lnom, skind, slot0, length)
    )
    n = len(agent)
    lmax = int(max(length.max(initial=1), lnom.max(initial=1))) + 1
    pos = np.arange(lmax)[None, :]
    codes = np.where(pos < length[:, None], PRODUCTIVE, -1).astype(np.int8)
    codes[(skind == 1)[:, None] & (pos < length[:, None])] = TRAINING
    rows = np.arange(n)

    def put(mask: np.ndarray, at: np.ndarray, width: int, code: int) -> None:
        for k in range(width):
            p = at[mask] + k
            ok = p < length[mask]
            codes[rows[mask][ok], p[ok]] = code

    full = lnom >= 28
    mid = (lnom >= 20) & ~full
    short = lnom < 20
    qidx = roster.queue[agent]
    u = rng.random((n, 3))

    def quiet(base: np.ndarray, k: int) -> np.ndarray:
        # break offset base-1..base+1, preferring the slots the queue needs least
        cand = base[:, None] + np.arange(-1, 2)[None, :]
        slot = np.clip(slot0[:, None] + cand, 0, req_all.shape[1] - 1)
        w = 1.0 / (0.5 + req_all[qidx[:, None], slot]) ** 3
        c = np.cumsum(w, axis=1)
        pick = (u[:, k : k + 1] * c[:, -1:] > c).sum(axis=1)
        return cand[np.arange(n), np.minimum(pick, 2)]

    put(full, quiet(np.full(n, 8), 0), 1, BREAK)
    put(full, quiet(np.full(n, 15), 1), 2, BREAK)
    put(full, quiet(np.full(n, 24), 2), 1, BREAK)
    put(mid, quiet(np.full(n, 7), 0), 1, BREAK)
    put(mid, quiet(np.full(n, 12), 1), 2, BREAK)
    put(short, quiet(lnom // 2, 0), 1, BREAK)
    # weekly team meeting on the first normal full shift of each agent-week
    normal_full = full & (skind == 0)
    week = (day + int(clock.day_weekday[0])) // 7
    key = agent * 10_000 + week
    first_of_week = np.ones(n, dtype=bool)
    first_of_week[1:] = key[1:] != key[:-1]
    meet = normal_full & first_of_week
    put(meet, 2 + rng.integers(0, 4, size=n), 2, MEETING)
    # coaching about monthly (more for weaker agents), ad-hoc training about monthly
    weak = roster.skill[agent] < -0.5
    coach = normal_full & ~meet & (rng.random(n) < np.where(weak, 2.0, 1.1) / 21)
    coach_len = np.where(rng.random(n) < 0.6, 2, 3)
    put(coach & (coach_len == 2), np.full(n, 19), 2, MEETING)
    put(coach & (coach_len == 3), np.full(n, 19), 3, MEETING)
    train = normal_full & ~coach & (rng.random(n) < 0.045)
    put(train, np.full(n, 27), 4, TRAINING)
    # unplanned absence: whole shifts; more in a team under strain after attrition
    team_arr = np.array(roster.team, dtype=object)[agent]
    p_abs = np.array([TEAMS[t].absence_p for t in team_arr])
    if scenario.attrition:
        strained = {t for t, _ in scenario.attrition}
        m1 = clock.month_edges[min(scenario.attrition_month + 1, len(clock.month_edges) - 1)]
        after = slot0 * SLOT_S >= m1
        p_abs = p_abs + 0.025 * (np.isin(team_arr, list(strained)) & after)
    absent = rng.random(n) < p_abs
    coaching = [
        (int(agent[i]), int(slot0[i] + 19), int(coach_len[i]))
        for i in np.nonzero(coach & ~absent)[0]
    ]
    # productive windows
    is0 = np.zeros((n, lmax + 1), dtype=bool)
    is0[:, 1:] = (codes == PRODUCTIVE) & ~absent[:, None]
    edge = np.diff(is0.astype(np.int8), axis=1, append=0)
    s_row, s_pos = np.nonzero(edge == 1)
    e_row, e_pos = np.nonzero(edge == -1)
    # edge[i, p] == 1 means slot p (0-based) starts a run; -1 at p means slot p-1 ended it
    ws_slot = slot0[s_row] + s_pos
    we_slot = slot0[e_row] + e_pos
    nonbreak = np.cumsum((codes != PRODUCTIVE) & (codes != BREAK), axis=1)
    nonbreak = np.concatenate([np.zeros((n, 1), dtype=nonbreak.dtype), nonbreak], axis=1)
    same_next = np.zeros(len(s_row), dtype=bool)
    same_next[:-1] = s_row[1:] == s_row[:-1]
    gap = np.zeros(len(s_row), dtype=np.int8)
    nxt = np.nonzero(same_next)[0]
    between = nonbreak[s_row[nxt], s_pos[nxt + 1]] - nonbreak[s_row[nxt], e_pos[nxt]]
    gap[nxt] = np.where(between == 0, 1, 2)
    first = np.ones(len(s_row), dtype=bool)
    first[1:] = s_row[1:] != s_row[:-1]
    ws = ws_slot * float(SLOT_S)
    we = we_slot * float(SLOT_S)
    late = np.where(
        first,
        np.where(rng.random(len(ws)) < 0.15, rng.exponential(240, len(ws)), 0.0),
        np.where(rng.random(len(ws)) < 0.25, rng.exponential(120, len(ws)), 0.0),
    )
    late = np.minimum(np.round(late), np.maximum(we - ws - 60, 0))
    w_agent = agent[s_row]
    w_day = day[s_row]
    since = w_day - roster.hired_day[w_agent] - TRAINING_DAYS * 7 // 5
    nest = np.clip(1 - since / NESTING_DAYS, 0, 1)
    w_speed = roster.speed[w_agent] * (1 + 0.4 * nest)
    w_rfac = np.clip(1 + 0.04 * roster.skill[w_agent], 0.85, 1.1) * (1 - 0.12 * nest)
    return Schedule(
        agent=agent,
        day=day,
        slot0=slot0,
        length=length,
        codes=codes,
        absent=absent,
        coaching=coaching,
        w_agent=w_agent,
        w_shift=s_row,
        ws=ws,
        we=we,
        ws_act=ws + late,
        gap=gap,
        w_speed=w_speed,
        w_rfac=w_rfac,
    )
