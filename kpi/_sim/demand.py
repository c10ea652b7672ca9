"""Demand: forecast and actual arrival rates per slot, arrivals, and per-contact draws."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kpi._sim.clock import SLOT_S, Clock
from kpi._sim.config import CHANNELS, TOPICS, QueueSpec, Scenario, intraday

__all__ = [
    "Demand",
    "QueueDemand",
    "day_kind",
    "forecast_rates",
    "hours_mask",
    "make_demand",
    "planned_work_s",
    "queue_demand",
]

HOLIDAYS = {(1, 1), (12, 25), (12, 26)}

#: ticket spawn probabilities: depth 0: pending (customer reply) or solved-then-reopened
TICKET_PENDING_P = 0.40
TICKET_REOPEN_P = (0.05, 0.09, 0.06, 0.04)
#: repeat contact probability (resolved, unresolved) and redial behaviour live in CHANNELS
REPEAT_P = (0.04, 0.62)


def day_kind(clock: Clock) -> np.ndarray:
    """Weekday used for profiles and hours (0 = Monday); public holidays count as Sundays."""
    kind = clock.day_weekday.copy()
    for i, d in enumerate(clock.day_date):
        if (d.month, d.day) in HOLIDAYS:
            kind[i] = 6
    return kind


def hours_mask(clock: Clock, hours: tuple, kind: np.ndarray) -> np.ndarray:
    """Boolean per slot: inside the local opening hours of that weekday."""
    lo = np.array([h[0] * 60 if h else 0 for h in hours])
    hi = np.array([h[1] * 60 if h else 0 for h in hours])
    k = kind[clock.slot_day]
    m = clock.slot_minute
    return (m >= lo[k]) & (m < hi[k])


def season(clock: Clock) -> np.ndarray:
    """Mild annual seasonality per local day (peak in late January)."""
    doy = np.array([d.timetuple().tm_yday for d in clock.day_date], dtype=np.float64)
    return 1.0 + 0.05 * np.cos(2 * np.pi * (doy - 25) / 365.25)


def forecast_rates(clock: Clock, q: QueueSpec, scale: float, kind: np.ndarray) -> np.ndarray:
    """Expected arrivals per slot (the planners' forecast, before noise and shocks)."""
    hour = (clock.slot_minute + 7.5) / 60.0
    shape = intraday(q.profile, hour) * hours_mask(clock, q.arrival_hours, kind)
    day_sum = np.bincount(clock.slot_day, weights=shape, minlength=clock.n_days)
    norm = np.divide(shape, day_sum[clock.slot_day], out=np.zeros_like(shape), where=shape > 0)
    daily = q.daily * scale * np.asarray(q.weekly)[kind] * season(clock)
    return daily[clock.slot_day] * norm


def planned_work_s(q: QueueSpec, topics: dict[str, float]) -> float:
    """Mean agent seconds per arriving contact (talk + hold + ACW), as the planners see it."""
    if q.channel == "ticket":
        c = sum(w * TOPICS[t].complexity for t, w in topics.items())
        first = q.work_first_s * c * math.exp(0.5**2 / 2)
        follow = q.work_follow_s * c * math.exp(0.5**2 / 2)
        touches = TICKET_PENDING_P + sum(TICKET_REOPEN_P[:2]) * 0.5
        return first + touches * follow
    ch = CHANNELS[q.channel]
    talk = sum(w * TOPICS[t].complexity for t, w in topics.items()) * ch.talk_median_s
    talk *= math.exp(ch.talk_sigma**2 / 2)
    hold = 0.0
    if ch.hold_median_s:
        hold = sum(w * TOPICS[t].hold_p for t, w in topics.items()) * ch.hold_median_s
        hold *= math.exp(0.7**2 / 2)
    acw = ch.acw_median_s * math.exp(0.5**2 / 2)
    return talk + hold + acw


@dataclass
class QueueDemand:
    """Arrivals and per-row draws of one queue (rows grouped by topic, base rows first)."""

    forecast: np.ndarray  # expected arrivals per slot
    actual_rate: np.ndarray  # rate used for the draws (noise and shocks included)
    topic_names: list[str]
    arrival: np.ndarray  # per base row: arrival time (s from t0)
    base_row: np.ndarray  # rows of base jobs, sorted by queue-entry time
    base_t: np.ndarray  # queue-entry times of base jobs (sorted)
    base_ivr_abandon: np.ndarray  # rows of base contacts abandoned in the IVR
    rows: dict[str, np.ndarray]  # per-row draws
    cursor: np.ndarray  # first child row per topic
    pool_end: np.ndarray  # end of each topic's pool
    n_base: int


@dataclass
class Demand:
    """Demand of every queue."""

    queues: dict[str, QueueDemand]
    kind: np.ndarray


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int):
    return np.exp(np.log(median) + sigma * rng.standard_normal(n))


def queue_demand(
    clock: Clock,
    qi: int,
    q: QueueSpec,
    scale: float,
    scenario: Scenario,
    seed: int,
    kind: np.ndarray,
) -> QueueDemand:
    """Draw the arrivals and per-contact attributes of queue ``qi`` (its own random stream)."""
    rng = np.random.default_rng([seed, 11, qi])
    month_of_slot = np.searchsorted(
        np.asarray(clock.month_edges[1:]), np.arange(clock.n_slots) * SLOT_S, side="right"
    )
    forecast = forecast_rates(clock, q, scale, kind)
    horizon = np.arange(clock.n_slots) * SLOT_S < clock.t_end
    day_noise = np.exp(0.06 * rng.standard_normal(clock.n_days) - 0.0018)
    slot_noise = rng.gamma(60.0, 1 / 60.0, clock.n_slots)
    rate = forecast * day_noise[clock.slot_day] * slot_noise * horizon
    names = list(q.topics)
    mix = np.array([q.topics[t] for t in names])
    counts = rng.poisson(rate)
    slot_idx = np.repeat(np.arange(clock.n_slots), counts)
    topic = np.searchsorted(np.cumsum(mix / mix.sum())[:-1], rng.random(len(slot_idx)))
    rates = [rate]
    if scenario.new_topic and q.name in scenario.new_topic_queues:
        share = np.zeros(len(clock.month_edges))
        for k, v in enumerate(scenario.new_topic_share[q.name]):
            if scenario.new_topic_month + k < len(share):
                share[scenario.new_topic_month + k] = v
        extra = rate * share[month_of_slot]
        if extra.sum() > 0:
            names.append(scenario.new_topic)
            n_extra = rng.poisson(extra)
            slot_idx = np.concatenate([slot_idx, np.repeat(np.arange(clock.n_slots), n_extra)])
            topic = np.concatenate([topic, np.full(int(n_extra.sum()), len(names) - 1)])
            rates.append(extra)
    arrival = np.floor((slot_idx + rng.random(len(slot_idx))) * SLOT_S)
    return _rows(rng, q, names, topic, arrival, forecast, sum(rates))


def make_demand(
    clock: Clock,
    queues: tuple[QueueSpec, ...],
    scale: float,
    scenario: Scenario,
    seed: int,
) -> Demand:
    """Draw arrivals and per-contact attributes for every queue."""
    kind = day_kind(clock)
    out = {
        q.name: queue_demand(clock, qi, q, scale, scenario, seed, kind)
        for qi, q in enumerate(queues)
    }
    return Demand(out, kind)


def _rows(
    rng: np.random.Generator,
    q: QueueSpec,
    names: list[str],
    topic: np.ndarray,
    arrival: np.ndarray,
    forecast: np.ndarray,
    actual: np.ndarray,
) -> QueueDemand:
    """Lay out rows by topic (base rows, then child pool) and draw every attribute."""
    n_topics = len(names)
    n_by_topic = np.bincount(topic, minlength=n_topics)
    pool = n_by_topic + (n_by_topic * 4) // 5 + 64  # room for redials and repeats
    seg0 = np.concatenate([[0], np.cumsum(pool)])
    nrows = int(seg0[-1])
    # base rows: topic k's j-th arrival (in arrival order) -> seg0[k] + j
    order = np.lexsort((arrival, topic))
    rank = np.empty(len(topic), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(n_by_topic)])
    rank[order] = np.arange(len(topic)) - starts[topic[order]]
    base_row = seg0[topic] + rank
    row_topic = np.repeat(np.arange(n_topics), pool)
    is_child = np.ones(nrows, dtype=bool)
    is_child[base_row] = False

    ticket = q.channel == "ticket"
    comp = np.array([TOPICS[t].complexity for t in names])[row_topic]
    hold_p = np.array([TOPICS[t].hold_p for t in names])[row_topic]
    res_p = np.array([TOPICS[t].resolve_p for t in names])[row_topic]
    tr_p = np.array([TOPICS[t].transfer_p for t in names])[row_topic]
    rows: dict[str, np.ndarray] = {"topic": row_topic}
    if ticket:
        med = np.where(is_child, q.work_follow_s, q.work_first_s) * comp
        rows["talk"] = np.maximum(60.0, np.round(_lognormal(rng, med, 0.5, nrows)))
        rows["other"] = np.zeros(nrows)
        rows["patience"] = np.full(nrows, np.inf)
        rows["ivr"] = np.zeros(nrows)
        rows["ivrab"] = np.zeros(nrows, dtype=np.int8)
        rows["transferred"] = np.zeros(nrows, dtype=bool)
        u = rng.random(nrows).astype(np.float32)
        rows["u_sp"] = u
        reply = np.round(_lognormal(rng, 18 * 3600.0, 0.9, nrows))
        reopen = np.round(rng.uniform(0.5, 3.5, nrows) * 86400)
        rows["del0"] = np.where(u < np.float32(TICKET_PENDING_P), reply, reopen)
        rows["del1"] = reopen
        rows["q_res"] = np.zeros(nrows)
    else:
        ch = CHANNELS[q.channel]
        rows["talk"] = np.maximum(
            10.0, np.round(_lognormal(rng, ch.talk_median_s * comp, ch.talk_sigma, nrows))
        )
        hold = np.zeros(nrows)
        if ch.hold_median_s:
            has = rng.random(nrows) < hold_p
            hold = np.where(has, np.round(_lognormal(rng, ch.hold_median_s, 0.7, nrows)), 0.0)
        acw = np.maximum(0.0, np.round(_lognormal(rng, ch.acw_median_s, 0.5, nrows)))
        rows["hold"] = hold
        rows["acw"] = acw
        rows["other"] = hold + acw
        if ch.patience is None:
            rows["patience"] = np.full(nrows, np.inf)
        else:  # measured on a real call log (config.PATIENCE_MEASURED)
            rows["patience"] = ch.patience.draw(rng, nrows)
        if ch.ivr_median_s:
            ivr = np.round(_lognormal(rng, ch.ivr_median_s, 0.4, nrows))
            ivrab = rng.random(nrows) < ch.ivr_abandon_p
            rows["ivr"] = np.where(ivrab, np.maximum(2.0, np.round(ivr * rng.random(nrows))), ivr)
            rows["ivrab"] = ivrab.astype(np.int8)
        else:
            rows["ivr"] = np.zeros(nrows)
            rows["ivrab"] = np.zeros(nrows, dtype=np.int8)
        transferred = (rng.random(nrows) < tr_p) & (q.channel != "email")
        rows["transferred"] = transferred
        p = res_p * np.where(transferred, 0.78, 1.0) * (0.95 if q.channel == "email" else 1.0)
        rows["q_res"] = rng.random(nrows) / p
        rows["u_sp"] = rng.random(nrows)
        rows["del0"] = np.round(_lognormal(rng, 1.4 * 86400, 0.8, nrows))
        rows["del1"] = np.round(_lognormal(rng, 7 * 60.0, 0.8, nrows))
    rows["u_tod"] = rng.random(nrows)
    # compact storage: whole seconds and uniforms are exact enough in float32
    for key in ("talk", "hold", "acw", "other", "patience", "ivr", "q_res", "u_sp", "del0",
                "del1", "u_tod"):  # fmt: skip
        if key in rows:
            rows[key] = rows[key].astype(np.float32)
    rows["topic"] = row_topic.astype(np.int16)

    ivr_base = rows["ivr"][base_row].astype(np.float64)
    qt = arrival + ivr_base
    ab = rows["ivrab"][base_row].astype(bool)
    keep = np.nonzero(~ab)[0]
    order = keep[np.lexsort((base_row[keep], qt[keep]))]
    arrival_by_row = np.full(nrows, np.nan)
    arrival_by_row[base_row] = arrival
    return QueueDemand(
        forecast=forecast,
        actual_rate=actual,
        topic_names=names,
        arrival=arrival_by_row,
        base_row=base_row[order],
        base_t=qt[order],
        base_ivr_abandon=base_row[ab],
        rows=rows,
        cursor=seg0[:-1] + n_by_topic,
        pool_end=seg0[1:],
        n_base=len(topic),
    )
