"""Erlang C and Erlang A against a discrete-event simulation of the queue (numpy, seeded).

The simulation is independent of the formulas: Poisson arrivals, exponential handle times and
(for Erlang A) exponential patience, first-come first-served over ``n`` agents. With FCFS a
contact's start time depends only on the contacts before it that were served, so the queue is
simulated exactly by walking the arrivals in order with a heap of agent free times; a contact
whose wait would exceed its patience abandons and occupies no agent.

Tolerances come from batch means: the analytic value must lie within 5 standard errors (plus a
small absolute slack for the quantities near 0 or 1).
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from kpi import staffing


def simulate(load, agents, *, aht_s, threshold_s, patience_s=None, customers=120_000, seed=0):
    """Per-contact waits and outcomes of an M/M/n(+M) FCFS queue after a 5 % warm-up."""
    rng = np.random.default_rng(seed)
    rate = load / aht_s
    arrivals = np.cumsum(rng.exponential(1.0 / rate, customers))
    service = rng.exponential(aht_s, customers)
    patience = rng.exponential(patience_s, customers) if patience_s else np.full(customers, np.inf)
    free = [0.0] * agents
    wait = np.empty(customers)
    answered = np.empty(customers, dtype=bool)
    for i in range(customers):
        t = arrivals[i]
        start = max(t, free[0])
        w = start - t
        if w > patience[i]:
            wait[i], answered[i] = patience[i], False
        else:
            heapq.heapreplace(free, start + service[i])
            wait[i], answered[i] = w, True
    keep = slice(customers // 20, None)
    busy = np.where(answered, service, 0.0)[keep]
    span = arrivals[-1] - arrivals[customers // 20]
    return wait[keep], answered[keep], busy, span


def batch(values: np.ndarray, batches: int = 20) -> tuple[float, float]:
    """Mean and batch-means standard error."""
    parts = np.array_split(values, batches)
    means = np.array([p.mean() for p in parts])
    return float(values.mean()), float(means.std(ddof=1) / np.sqrt(batches))


def check(estimate: tuple[float, float], expected: float, *, slack: float, what: str) -> None:
    mean, se = estimate
    assert abs(mean - expected) <= 5 * se + slack, (
        f"{what}: simulated {mean:.4f} ± {se:.4f}, formula {expected:.4f}"
    )


CASES = [
    # load, agents, aht_s, threshold_s, patience_s
    (10.0, 14, 180.0, 20.0, None),  # the textbook case
    (10.0, 12, 180.0, 20.0, None),  # busier
    (3.0, 5, 300.0, 30.0, None),  # small team
    (10.0, 14, 180.0, 20.0, 120.0),  # Erlang A, patience shorter than AHT
    (10.0, 9, 180.0, 20.0, 300.0),  # Erlang A overloaded: fewer agents than the load
    (40.0, 42, 240.0, 20.0, 600.0),  # Erlang A, larger
]


@pytest.mark.parametrize(("load", "agents", "aht_s", "threshold_s", "patience_s"), CASES)
def test_formulas_match_simulation(load, agents, aht_s, threshold_s, patience_s):
    wait, answered, busy, span = simulate(
        load, agents, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s, seed=7
    )
    kw = {"aht_s": aht_s, "patience_s": patience_s}
    check(
        batch((wait > 0).astype(float)),
        staffing.wait_probability(load, agents, **kw),
        slack=0.004,
        what="P(wait)",
    )
    check(
        batch((answered & (wait <= threshold_s)).astype(float)),
        staffing.service_level(load, agents, threshold_s=threshold_s, **kw),
        slack=0.004,
        what="service level",
    )
    sim_asa = wait[answered].mean()
    expected_asa = staffing.asa(load, agents, **kw)
    parts = np.array_split(np.arange(len(wait)), 20)
    se = np.std([wait[p][answered[p]].mean() for p in parts], ddof=1) / np.sqrt(20)
    assert abs(sim_asa - expected_asa) <= 5 * se + 0.1, (sim_asa, expected_asa, se)
    occ = busy.sum() / (agents * span)
    assert occ == pytest.approx(staffing.occupancy(load, agents, **kw), abs=0.01)
    if patience_s:
        check(
            batch((~answered).astype(float)),
            staffing.abandon_probability(load, agents, aht_s=aht_s, patience_s=patience_s),
            slack=0.003,
            what="abandonment",
        )
        # the SL variants that treat abandoners differently
        ans_t = answered & (wait <= threshold_s)
        ab_t = ~answered & (wait <= threshold_s)
        variants = {
            "answered": ans_t.sum() / answered.sum(),
            "ignore_abandons_within_threshold": ans_t.sum() / (len(wait) - ab_t.sum()),
            "abandons_within_threshold_met": (ans_t | ab_t).mean(),
        }
        for denominator, simulated in variants.items():
            expected = staffing.service_level(
                load, agents, threshold_s=threshold_s, denominator=denominator, **kw
            )
            assert simulated == pytest.approx(expected, abs=0.012), denominator


def test_patience_estimator_recovers_the_simulated_patience():
    # total wait of every queued contact / abandons is the censored exponential MLE
    wait, answered, _, _ = simulate(10.0, 10, aht_s=180.0, threshold_s=20.0, patience_s=150.0)
    queued = wait > 0
    estimate = wait[queued].sum() / (~answered).sum()
    assert estimate == pytest.approx(150.0, rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("load", [1.0, 25.0, 80.0])
@pytest.mark.parametrize("patience_s", [None, 60.0, 1800.0])
def test_required_agents_match_simulation_grid(load, patience_s):
    aht_s, threshold_s = 200.0, 20.0
    n = staffing.round_up(
        staffing.required_agents(
            load, aht_s=aht_s, target_sl=0.8, threshold_s=threshold_s, patience_s=patience_s
        )
    )
    for agents, meets in ((n, True), (n - 1, False)):
        if agents < 1 or (patience_s is None and agents <= load):
            continue
        wait, answered, _, _ = simulate(
            load, agents, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s,
            customers=300_000, seed=3,
        )  # fmt: skip
        expected = staffing.service_level(
            load, agents, aht_s=aht_s, threshold_s=threshold_s, patience_s=patience_s
        )
        sl = batch((answered & (wait <= threshold_s)).astype(float))
        check(sl, expected, slack=0.004, what=f"service level with {agents} agents")
        assert (expected >= 0.8) is meets
