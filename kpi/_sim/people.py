"""People, quality and experience: agents, customer surveys, QA, coaching, agent surveys."""

from __future__ import annotations

import numpy as np
import polars as pl

from kpi._sim.clock import SLOT_S, Clock
from kpi._sim.columns import ids, labels, ts
from kpi._sim.config import CHANNELS, TOPICS, QueueSpec, Scenario
from kpi._sim.contacts import Side
from kpi._sim.plan import Roster, Schedule

__all__ = ["agent_surveys_table", "agents_table", "coaching_table", "qa_table", "surveys_table"]

# --------------------------------------------------------------------------------------------
# people, quality, experience


def agents_table(roster: Roster) -> pl.DataFrame:
    """The roster."""
    return pl.DataFrame(
        {
            "agent_id": roster.agent_id,
            "name": roster.name,
            "team": roster.team,
            "site": roster.site,
            "team_leader": roster.leader,
            "hired": pl.Series(roster.hired, dtype=pl.Date),
            "left": pl.Series(roster.left, dtype=pl.Date),
            "leave_reason": pl.Series(roster.reason, dtype=pl.String),
        }
    )


def surveys_table(
    clock: Clock,
    contacts: pl.DataFrame,
    side: Side,
    queues: tuple[QueueSpec, ...],
    roster: Roster,
    seed: int,
) -> pl.DataFrame:
    """Post-contact surveys: scores fall with the wait and rise with resolution."""
    rng = np.random.default_rng([seed, 61])
    ans = np.nonzero(~np.isnan(side.answer))[0]
    p_q = np.array(
        [CHANNELS[q.channel].survey_p if q.channel in CHANNELS else 0.0 for q in queues]
    )
    email_q = np.array([q.channel == "email" for q in queues])
    idx = ans[rng.random(len(ans)) < p_q[side.queue[ans]]]
    m = len(idx)
    wait = np.nan_to_num(side.wait[idx].astype(np.float64))
    wait = np.where(email_q[side.queue[idx]], wait / 60.0, wait)  # e-mail waits are hours
    resolved = side.resolved[idx].astype(np.float64)
    transferred = side.transferred[idx].astype(np.float64)
    skill = roster.skill[np.maximum(side.agent[idx], 0)]
    topic_eff = np.zeros(len(TOPICS))
    topic_eff[list(TOPICS).index("complaint")] = -0.8
    topic_eff[list(TOPICS).index("price_change")] = -0.6
    base = (
        0.55
        + 1.5 * resolved
        - 0.42 * np.log1p(wait / 60.0)
        + 0.25 * skill
        - 0.4 * transferred
        + topic_eff[side.topic[idx]]
    )
    lat = base + rng.standard_normal(m)
    csat = 1 + np.searchsorted(np.array([-0.6, 0.2, 0.9, 1.6]), lat)
    lat_n = base + 0.9 * rng.standard_normal(m)
    nps = np.clip(np.round(6.2 + 1.7 * lat_n), 0, 10)
    lat_c = base + 0.9 * rng.standard_normal(m)
    ces = np.clip(np.round(4.4 + 1.1 * lat_c), 1, 7)
    ask_nps = rng.random(m) < 0.7
    ask_ces = rng.random(m) < 0.5
    end = side.end[idx] + side.acw[idx]
    when = end + np.round(np.exp(np.log(5400.0) + rng.standard_normal(m)))
    keep = when < clock.t_end
    order = np.lexsort((np.arange(m), when))
    order = order[keep[order]]
    sel = pl.Series(idx[order].astype(np.uint32))
    pick = contacts.select("contact_id", "channel", "queue", "topic", "team", "agent_id")[sel]
    return pick.select(
        "contact_id",
        ts(when[order], clock).alias("survey_ts"),
        "channel",
        "queue",
        "topic",
        "team",
        "agent_id",
        pl.Series("csat", csat[order].astype(np.int64)),
        pl.Series("nps", np.where(ask_nps, nps, np.nan)[order]).fill_nan(None).cast(pl.Int64),
        pl.Series("ces", np.where(ask_ces, ces, np.nan)[order]).fill_nan(None).cast(pl.Int64),
    )


def _month_index(clock: Clock, secs: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(clock.month_edges[1:]), secs, side="right")


def qa_table(
    clock: Clock,
    contacts: pl.DataFrame,
    side: Side,
    ticket_segs: dict[str, np.ndarray],
    roster: Roster,
    seed: int,
) -> pl.DataFrame:
    """About four evaluations per agent and month, of contacts (or ticket work) they handled."""
    rng = np.random.default_rng([seed, 71])
    ans = np.nonzero(~np.isnan(side.answer))[0]
    nt = len(ticket_segs["agent"])
    cand = pl.DataFrame(
        {
            "_agent": np.concatenate([side.agent[ans], ticket_segs["agent"]]).astype(np.int64),
            "_t": np.concatenate([side.end[ans], ticket_segs["t1"]]),
            "_idx": np.concatenate([ans, np.full(nt, -1)]).astype(np.int64),
            "_res": np.concatenate([side.resolved[ans], np.ones(nt, dtype=bool)]),
            "_tr": np.concatenate([side.transferred[ans], np.zeros(nt, dtype=bool)]),
        }
    )
    month = _month_index(clock, cand["_t"].to_numpy())
    n_am = rng.integers(3, 6, size=(len(roster), len(clock.month_edges)))
    group = cand["_agent"].to_numpy() * n_am.shape[1] + month
    # thin each agent-month to about 40 candidates first (a uniform draw stays uniform)
    count = np.bincount(group, minlength=n_am.size)
    keep_p = np.minimum(1.0, 40.0 / np.maximum(count[group], 1))
    u = rng.random(cand.height)
    thin = (u < keep_p) & (cand["_t"].to_numpy() < clock.t_end)
    cand = cand.filter(pl.Series(thin)).with_columns(
        pl.Series("_key", rng.random(int(thin.sum()))),
        pl.Series("_group", group[thin]),
        pl.Series("_quota", n_am.ravel()[group[thin]]),
    )
    picked = (
        cand.sort("_key")
        .with_columns(pl.int_range(pl.len()).over("_group").alias("_rank"))
        .filter(pl.col("_rank") < pl.col("_quota"))
        .sort("_t", "_agent")
    )
    m = picked.height
    agent = picked["_agent"].to_numpy()
    when = picked["_t"].to_numpy() + np.round(rng.uniform(1, 6, m) * 86400)
    hired = roster.hired_day[agent]
    tenure_days = picked["_t"].to_numpy() / 86400 - hired
    green = np.clip(1 - tenure_days / 90, 0, 1)
    score = (
        80
        + 4.5 * roster.skill[agent]
        + 4 * picked["_res"].to_numpy()
        - 3 * picked["_tr"].to_numpy()
        - 8 * green
        + 7 * rng.standard_normal(m)
    )
    score = np.round(np.clip(score, 0, 100), 1)
    team = np.array(roster.team, dtype=object)[agent]
    cidx = picked["_idx"].to_numpy()
    contact_ids = contacts["contact_id"].gather(pl.Series(np.maximum(cidx, 0).astype(np.uint32)))
    contact_ids = pl.select(
        pl.when(pl.Series(cidx >= 0)).then(contact_ids).otherwise(None)
    ).to_series()
    out = pl.DataFrame(
        {
            "contact_id": contact_ids,
            "agent_id": labels(roster.agent_id, agent),
            "team": pl.Series(team.tolist(), dtype=pl.String),
            "evaluated_ts": ts(when, clock),
            "score": score,
        }
    ).filter(pl.Series(when < clock.t_end))
    out = out.sort("evaluated_ts", "agent_id")
    return pl.concat(
        [pl.DataFrame({"evaluation_id": ids("Q", out.height)}), out], how="horizontal"
    )


FOCUS = [
    "call control",
    "empathy",
    "product knowledge",
    "compliance",
    "wrap-up discipline",
    "first contact resolution",
]


def coaching_table(clock: Clock, sched: Schedule, roster: Roster, seed: int) -> pl.DataFrame:
    """The coaching sessions that took place (scheduled meetings with the team leader)."""
    rng = np.random.default_rng([seed, 81])
    items = sorted(sched.coaching, key=lambda x: (x[1], x[0]))
    items = [x for x in items if x[1] * SLOT_S < clock.t_end]
    agent = np.array([x[0] for x in items], dtype=np.int64)
    slot = np.array([x[1] for x in items], dtype=np.int64)
    quarters = np.array([x[2] for x in items], dtype=np.int64)
    focus = rng.choice(len(FOCUS), size=len(items))
    team = [roster.team[a] for a in agent]
    return pl.DataFrame(
        {
            "session_id": ids("S", len(items)),
            "agent_id": labels(roster.agent_id, agent),
            "team": pl.Series(team, dtype=pl.String),
            "session_ts": ts(slot * float(SLOT_S), clock),
            "duration_s": quarters * float(SLOT_S),
            "focus": labels(FOCUS, focus),
        }
    )


def agent_surveys_table(
    clock: Clock, roster: Roster, scenario: Scenario, seed: int
) -> pl.DataFrame:
    """A monthly pulse survey; a team under strain answers lower."""
    rng = np.random.default_rng([seed, 91])
    strained = {t for t, _ in scenario.attrition}
    rows_a, rows_t = [], []
    for m, mstart in enumerate(clock.month_starts[:-1]):
        day = (mstart - clock.start).days + 19
        if day >= clock.horizon_days:
            day = (mstart - clock.start).days
        employed = np.nonzero((roster.hired_day <= day) & (roster.left_day >= day))[0]
        respond = employed[rng.random(len(employed)) < 0.65]
        stress = np.array(
            [
                (
                    1.9
                    if m == scenario.attrition_month + 1
                    else 0.8
                    if m > scenario.attrition_month + 1
                    else 0.0
                )
                if roster.team[a] in strained
                else 0.0
                for a in respond
            ]
        )
        score = np.clip(
            np.round(
                7.1
                + 0.6 * roster.skill[respond]
                - stress
                + 1.6 * rng.standard_normal(len(respond))
            ),
            0,
            10,
        )
        secs = day * 86400.0 + rng.uniform(9, 17, len(respond)) * 3600
        rows_a.append(respond)
        rows_t.append((secs, score))
    agent = np.concatenate(rows_a) if rows_a else np.zeros(0, dtype=np.int64)
    secs = np.concatenate([x[0] for x in rows_t]) if rows_t else np.zeros(0)
    score = np.concatenate([x[1] for x in rows_t]) if rows_t else np.zeros(0)
    # local clock time: days count from local midnight of the first day, shift by UTC offset
    when = _local_seconds(clock, secs)
    order = np.lexsort((agent, when))
    return pl.DataFrame(
        {
            "agent_id": labels(roster.agent_id, agent[order]),
            "team": pl.Series([roster.team[a] for a in agent[order]], dtype=pl.String),
            "survey_ts": ts(when[order], clock),
            "score": pl.Series(score[order].astype(np.int64)),
        }
    )


def _local_seconds(clock: Clock, wall: np.ndarray) -> np.ndarray:
    """Seconds from t0 of local wall-clock times given as day*86400 + seconds of day."""
    day = np.floor(wall / 86400).astype(np.int64)
    sod = wall - day * 86400
    q = np.floor(sod / SLOT_S).astype(np.int64)
    return clock.local_slot(day, q) * float(SLOT_S) + (sod - q * SLOT_S)
