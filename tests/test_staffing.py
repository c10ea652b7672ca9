"""kpi.staffing: Erlang C / Erlang A formulas, required agents, the interval table, what-ifs, CLI."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from scipy import special

from kpi import staffing
from kpi.cli import main
from kpi.data import Dataset, save
from kpi.errors import KpiError
from kpi.schema import conform

TZ = ZoneInfo("Europe/London")

# ----------------------------------------------------------------------------- textbook


def test_textbook_case_100_calls_in_30_min():
    # 100 calls in 30 min, AHT 180 s, 80 % in 20 s: 10 Erlangs -> 14 agents, SL 0.888,
    # occupancy 0.714, 20 scheduled with 30 % shrinkage (ceil(14 / 0.7) = 20)
    r = staffing.required_staff(
        100, interval_min=30, aht_s=180, target_sl=0.8, threshold_s=20, shrinkage=0.3
    )
    assert r["load_erlangs"] == 10.0
    assert r["agents"] == 14
    assert r["service_level"] == pytest.approx(0.888, abs=5e-4)
    assert r["occupancy"] == pytest.approx(10 / 14)
    assert r["scheduled_agents"] == 20
    assert r["wait_probability"] == pytest.approx(0.1741, abs=1e-4)
    assert r["asa_s"] == pytest.approx(7.84, abs=0.01)
    assert 13 < r["agents_fractional"] <= 14
    assert r["scheduled_fractional"] == pytest.approx(r["agents_fractional"] / 0.7)
    assert "abandon_probability" not in r
    # 13 agents fall short of the target: 0.796 (textbook table)
    assert staffing.service_level(10, 13, aht_s=180, threshold_s=20) == pytest.approx(
        0.796, abs=5e-4
    )


def _exact_erlang_c(load: Fraction, n: int) -> Fraction:
    """Erlang C from the factorial definition in exact rational arithmetic."""
    terms = [load**k / math.factorial(k) for k in range(n)]
    top = load**n / math.factorial(n) * Fraction(n) / (n - load)
    return top / (sum(terms) + top)


@pytest.mark.parametrize("load", [Fraction(10), Fraction(7, 2), Fraction(41, 3)])
def test_erlang_c_matches_exact_rational_arithmetic(load):
    for n in range(math.floor(load) + 1, math.floor(load) + 12):
        exact = _exact_erlang_c(load, n)
        got = staffing.wait_probability(float(load), n)
        assert got == pytest.approx(float(exact), rel=1e-12)
        asa = staffing.asa(float(load), n, aht_s=240)
        assert asa == pytest.approx(float(exact * 240 / (n - load)), rel=1e-12)


def test_search_starts_at_the_smallest_whole_number_above_the_load():
    # A = 10.6: round(A + 1) = 12 would be the first candidate, but 11 agents already give
    # SL >= 0.2 within 180 s
    load = 10.6
    n = staffing.required_agents(load, aht_s=180, target_sl=0.2, threshold_s=180)
    assert staffing.round_up(n) == 11
    assert staffing.service_level(load, 11, aht_s=180, threshold_s=180) >= 0.2
    assert load < n <= 11


def test_fractional_agents_meet_the_target_exactly_and_round_to_the_whole_answer():
    loads = np.array([0.3, 2.0, 10.0, 37.5, 250.0])
    n = staffing.required_agents(loads, aht_s=300, target_sl=0.9, threshold_s=30)
    sl = staffing.service_level(loads, n, aht_s=300, threshold_s=30)
    np.testing.assert_allclose(sl, 0.9, atol=1e-8)
    whole = staffing.round_up(n)
    for load, w in zip(loads, whole, strict=True):
        assert staffing.service_level(load, w, aht_s=300, threshold_s=30) >= 0.9
        if w - 1 > load:
            assert staffing.service_level(load, w - 1, aht_s=300, threshold_s=30) < 0.9


def test_round_once_at_the_end():
    # two queues each needing 13.04 agents: 27 in total, not 14 + 14 = 28
    per_queue = staffing.required_agents([10, 10], aht_s=180, target_sl=0.8, threshold_s=20)
    assert staffing.round_up(per_queue).sum() == 28
    assert staffing.round_up(per_queue.sum()) == 27


def test_asa_target_and_occupancy_cap():
    # ASA <= 15 s: 13 agents give 18.2 s, 14 give 7.8 s
    n = staffing.required_agents(10, aht_s=180, target_asa_s=15)
    assert staffing.round_up(n) == 14
    assert staffing.asa(10, n, aht_s=180) == pytest.approx(15, abs=1e-6)
    # an occupancy cap binds when it needs more agents: 10 / 0.6 = 16.67
    capped = staffing.required_agents(
        10, aht_s=180, target_sl=0.8, threshold_s=20, max_occupancy=0.6
    )
    assert capped == pytest.approx(10 / 0.6)
    # every target at once takes the largest requirement
    both = staffing.required_agents(10, aht_s=180, target_sl=0.8, threshold_s=20, target_asa_s=15)
    assert both == pytest.approx(n)


# ----------------------------------------------------------------------------- Erlang A


def _erlang_a_by_summation(load, n, *, aht_s, threshold_s, patience_s, states=4000):
    """M/M/n+M by an independent route: the birth-death chain summed state by state.

    A contact finding j others queued waits a sum of exponentials with rates θ(x+j), …, θx,
    so e^(−θV) ~ Beta(x, j+1); answered within T has probability E[B; B >= e^(−θT)] =
    x/(x+j+1)·P(Beta(x+1, j+1) >= e^(−θT)) and its mean wait if served is
    x/(x+j+1)·(ψ(x+j+2) − ψ(x+1))/θ.
    """
    lam, mu, theta = load / aht_s, 1 / aht_s, 1 / patience_s
    k = np.arange(states)
    death = np.where(k <= n, k * mu, n * mu + (k - n) * theta)
    logpi = np.concatenate([[0.0], np.cumsum(np.log(lam / death[1:]))])
    pi = np.exp(logpi - logpi.max())
    pi /= pi.sum()
    queue = pi[n:]
    j = np.arange(len(queue))
    x = n * mu / theta
    served = x / (x + j + 1)
    answered_t = served * special.betaincc(x + 1, j + 1, np.exp(-theta * threshold_s))
    mean_served_wait = served * (special.digamma(x + j + 2) - special.digamma(x + 1)) / theta
    p_wait = queue.sum()
    abandon = p_wait - (queue * served).sum()
    return {
        "wait_probability": p_wait,
        "service_level": 1 - p_wait + (queue * answered_t).sum(),
        "abandon_probability": abandon,
        "asa_s": (queue * mean_served_wait).sum() / (1 - abandon),
    }


@pytest.mark.parametrize(
    ("load", "n", "aht_s", "patience_s"),
    [
        (10, 14, 180, 120),
        (10, 8, 180, 60),
        (2, 2, 60, 60),
        (100, 95, 300, 200),
        (50, 60, 200, 1e4),
    ],
)
def test_erlang_a_closed_forms_match_state_summation(load, n, aht_s, patience_s):
    ref = _erlang_a_by_summation(load, n, aht_s=aht_s, threshold_s=20, patience_s=patience_s)
    kw = {"aht_s": aht_s, "patience_s": patience_s}
    assert staffing.wait_probability(load, n, **kw) == pytest.approx(
        ref["wait_probability"], rel=1e-9
    )
    assert staffing.service_level(load, n, threshold_s=20, **kw) == pytest.approx(
        ref["service_level"], rel=1e-9
    )
    assert staffing.abandon_probability(load, n, **kw) == pytest.approx(
        ref["abandon_probability"], rel=1e-6
    )
    assert staffing.asa(load, n, **kw) == pytest.approx(ref["asa_s"], rel=1e-6)


def test_erlang_a_published_identity_patience_equal_to_handle_time():
    # With θ = μ every contact in the system, queued or served, leaves at rate μ: the M/M/n+M
    # queue is then an M/M/∞ queue and the number in system is Poisson(A) (Mandelbaum &
    # Zeltyn 2007, "Service engineering in action: the Palm/Erlang-A queue"). Hand-computed for
    # A = 2, n = 2: P(W > 0) = P(L >= 2) = 1 − 3e^−2 = 0.593994;
    # P(Ab) = E[(L − 2)^+] / A = 4e^−2 / 2 = 0.270671; occupancy = A(1 − P(Ab)) / n = 0.729329
    kw = {"aht_s": 60, "patience_s": 60}
    assert staffing.wait_probability(2, 2, **kw) == pytest.approx(1 - 3 * math.exp(-2), rel=1e-12)
    assert staffing.abandon_probability(2, 2, **kw) == pytest.approx(2 * math.exp(-2), rel=1e-12)
    assert staffing.occupancy(2, 2, **kw) == pytest.approx(1 - 2 * math.exp(-2), rel=1e-12)
    # the same identity at scale: A = 400, n = 380 -> P(L >= 380)
    assert staffing.wait_probability(400, 380, **kw) == pytest.approx(
        special.pdtrc(379, 400), rel=1e-9
    )


def test_erlang_a_tends_to_erlang_c_with_infinite_patience():
    a = staffing.service_level(10, 14, aht_s=180, threshold_s=20, patience_s=1e9)
    c = staffing.service_level(10, 14, aht_s=180, threshold_s=20)
    assert a == pytest.approx(c, abs=1e-6)
    assert staffing.asa(10, 14, aht_s=180, patience_s=1e9) == pytest.approx(
        staffing.asa(10, 14, aht_s=180), rel=1e-5
    )


def test_erlang_a_needs_fewer_agents_and_can_run_below_the_load():
    c = staffing.required_agents(10, aht_s=180, target_sl=0.8, threshold_s=20)
    a = staffing.required_agents(10, aht_s=180, target_sl=0.8, threshold_s=20, patience_s=120)
    assert a < c
    # with abandonment the queue is stable with fewer agents than Erlangs
    assert staffing.abandon_probability(10, 8, aht_s=180, patience_s=60) < 1
    # an abandonment cap
    n = staffing.required_agents(10, aht_s=180, max_abandon=0.05, patience_s=120)
    assert staffing.abandon_probability(10, n, aht_s=180, patience_s=120) == pytest.approx(0.05)
    assert (
        staffing.abandon_probability(10, staffing.round_up(n), aht_s=180, patience_s=120) <= 0.05
    )


def test_service_level_variants_for_abandoners():
    kw = {"aht_s": 180, "threshold_s": 20, "patience_s": 60}
    offered = staffing.service_level(10, 10, **kw)
    assert staffing.service_level(10, 10, denominator="answered_plus_abandoned", **kw) == offered
    answered = staffing.service_level(10, 10, denominator="answered", **kw)
    ignore = staffing.service_level(10, 10, denominator="ignore_abandons_within_threshold", **kw)
    met = staffing.service_level(10, 10, denominator="abandons_within_threshold_met", **kw)
    assert offered < ignore < answered
    assert offered < met <= 1
    # without abandonment every definition agrees
    for d in staffing.DENOMINATORS:
        assert staffing.service_level(10, 14, aht_s=180, threshold_s=20, denominator=d) == (
            pytest.approx(0.88835, abs=1e-5)
        )


# ----------------------------------------------------------------------------- numerics


def test_large_loads_without_overflow():
    loads = np.array([5000.0, 20000.0])
    n = staffing.required_agents(loads, aht_s=300, target_sl=0.8, threshold_s=20)
    assert np.all(np.isfinite(n))
    assert np.all((n > loads) & (n < loads + 3 * np.sqrt(loads)))  # square-root staffing
    whole = staffing.round_up(n)
    assert np.all(staffing.service_level(loads, whole, aht_s=300, threshold_s=20) >= 0.8)
    assert np.all(staffing.service_level(loads, whole - 1, aht_s=300, threshold_s=20) < 0.8)
    # Erlang A at 5000 Erlangs, heavily under- and over-staffed, stays finite and in range
    big = staffing.required_staff(5000 * 1800 / 300, interval_min=30, aht_s=300, patience_s=90)
    for key, value in big.items():
        assert np.isfinite(value), key
    for agents in (2000, 4500, 5000, 5100, 9000):
        sl = staffing.service_level(5000, agents, aht_s=300, threshold_s=20, patience_s=90)
        ab = staffing.abandon_probability(5000, agents, aht_s=300, patience_s=90)
        assert 0 <= sl <= 1
        assert 0 <= ab <= 1
    assert staffing.abandon_probability(5000, 2000, aht_s=300, patience_s=90) == pytest.approx(
        0.6, abs=0.01
    )  # fluid limit: 1 − n/A
    # Erlang A with very patient callers at scale (gamma functions underflow there)
    assert staffing.service_level(
        5000, 5100, aht_s=300, threshold_s=20, patience_s=1e7
    ) == pytest.approx(staffing.service_level(5000, 5100, aht_s=300, threshold_s=20), abs=1e-6)


def test_vectorised_equals_scalar():
    rng = np.random.default_rng(5)
    loads = rng.uniform(0.5, 300, 40)
    agents = loads + rng.uniform(-3, 30, 40).clip(min=0.2 - loads)
    patience = np.where(rng.uniform(size=40) < 0.5, np.inf, rng.uniform(20, 600, 40))
    for fn, extra in (
        (staffing.service_level, {"threshold_s": 20}),
        (staffing.asa, {}),
        (staffing.abandon_probability, {}),
        (staffing.wait_probability, {}),
        (staffing.occupancy, {}),
    ):
        vec = fn(loads, agents, aht_s=240, patience_s=patience, **extra)
        one = [
            fn(a, n, aht_s=240, patience_s=p, **extra)
            for a, n, p in zip(loads, agents, patience, strict=True)
        ]
        np.testing.assert_allclose(vec, one, rtol=1e-12, err_msg=fn.__name__)
    vec = staffing.required_agents(
        loads, aht_s=240, target_sl=0.8, threshold_s=20, patience_s=patience
    )
    one = [
        staffing.required_agents(a, aht_s=240, target_sl=0.8, threshold_s=20, patience_s=p)
        for a, p in zip(loads, patience, strict=True)
    ]
    np.testing.assert_allclose(vec, one, atol=1e-8)


def test_service_level_increases_with_agents_fractional_too():
    n = np.linspace(10.01, 25, 300)
    for patience in (None, 45.0):
        sl = staffing.service_level(10, n, aht_s=180, threshold_s=20, patience_s=patience)
        assert np.all(np.diff(sl) > 0)
        asa = staffing.asa(10, n, aht_s=180, patience_s=patience)
        assert np.all(np.diff(asa) < 0)


def test_degenerate_cases():
    # no load: nobody waits, no agents needed
    assert staffing.required_agents(0, aht_s=180, target_sl=0.8, threshold_s=20) == 0
    assert staffing.service_level(0, 3, aht_s=180, threshold_s=20) == 1
    assert staffing.occupancy(0, 3) == 0
    # no load and no agents: undefined
    assert math.isnan(staffing.service_level(0, 0, aht_s=180, threshold_s=20))
    # load but no agents
    assert staffing.service_level(5, 0, aht_s=180, threshold_s=20) == 0
    assert staffing.abandon_probability(5, 0, aht_s=180, patience_s=60) == 1
    # Erlang C at or below the load: everybody waits, forever
    assert staffing.wait_probability(10, 10) == 1
    assert staffing.service_level(10, 9.5, aht_s=180, threshold_s=20) == 0
    assert staffing.asa(10, 10, aht_s=180) == math.inf
    assert staffing.occupancy(10, 8) == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: staffing.required_agents(10, aht_s=180, target_sl=1.2, threshold_s=20),
            "target_sl",
        ),
        (lambda: staffing.required_agents(10, aht_s=0, target_sl=0.8, threshold_s=20), "aht_s"),
        (lambda: staffing.required_agents(-1, aht_s=180, target_sl=0.8, threshold_s=20), "load"),
        (lambda: staffing.required_agents(10, aht_s=180, target_sl=0.8), "threshold_s"),
        (lambda: staffing.required_agents(10, aht_s=180), "needs a target"),
        (lambda: staffing.required_agents(10, aht_s=180, max_abandon=0.05), "patience"),
        (lambda: staffing.required_staff(-5, interval_min=30, aht_s=180), "volume"),
        (lambda: staffing.scheduled_agents(14, shrinkage=1.0), "shrinkage"),
        (
            lambda: staffing.service_level(10, 12, aht_s=180, threshold_s=20, patience_s=0),
            "patience",
        ),
        (
            lambda: staffing.service_level(10, 12, aht_s=180, threshold_s=20, denominator="x"),
            "valid:",
        ),
        (lambda: staffing.parse_what_if(["agents=+two"]), "QUANTITY=CHANGE"),
        (lambda: staffing.parse_what_if(["aht=-100%"]), "above 0"),
    ],
)
def test_bad_input_is_a_kpi_error(call, message):
    with pytest.raises(KpiError, match=message):
        call()


def test_parse_what_if():
    w = staffing.parse_what_if("agents=-10%, aht=+30s, volume=90%, agents[queue=q1]=12")
    assert [(c.quantity, c.op, c.value, c.scope) for c in w.changes] == [
        ("agents", "scale", pytest.approx(0.9), ()),
        ("aht", "add", 30.0, ()),
        ("volume", "scale", pytest.approx(0.9), ()),
        ("agents", "set", 12.0, (("queue", "q1"),)),
    ]
    assert w.describe() == "agents=-10%, aht=+30s, volume=90%, agents[queue=q1]=12"


# ----------------------------------------------------------------------------- the data


def _t(hh: int, mm: int, day: int = 8) -> datetime:
    return datetime(2024, 1, day, hh, mm, tzinfo=TZ)


def _contacts(rows: list[tuple]) -> pl.DataFrame:
    """rows: (team, queue, queue_ts, outcome, wait_s, talk_s, hold_s, acw_s)."""
    df = pl.DataFrame(
        rows,
        schema=["team", "queue", "queue_ts", "outcome", "wait_s", "talk_s", "hold_s", "acw_s"],
        orient="row",
    ).with_columns(
        contact_id=pl.int_range(pl.len()).cast(pl.String),
        direction=pl.lit("inbound"),
        arrival_ts=pl.col("queue_ts"),
    )
    return conform("contacts", df.lazy(), "Europe/London").collect()


def _agent_time(rows: list[tuple]) -> pl.DataFrame:
    """rows: (agent, team, start, interval_s, handle_s, acw_s, available_s, scheduled_s)."""
    df = pl.DataFrame(
        rows,
        schema=[
            "agent_id", "team", "interval_start", "interval_s",
            "handle_s", "acw_s", "available_s", "scheduled_s",
        ],
        orient="row",
    )  # fmt: skip
    return conform("agent_time", df.lazy(), "Europe/London").collect()


@pytest.fixture
def small() -> Dataset:
    contacts = _contacts(
        [
            ("A", "sales", _t(9, 1), "answered", 10.0, 200.0, 20.0, 30.0),
            ("A", "sales", _t(9, 10), "answered", 30.0, 300.0, 0.0, 50.0),
            ("A", "sales", _t(9, 20), "abandoned_queue", 45.0, 0.0, 0.0, 0.0),
            ("A", "sales", _t(9, 25), "flowout", 60.0, 0.0, 0.0, 0.0),
            ("A", "sales", _t(9, 40), "abandoned_queue", 5.0, 0.0, 0.0, 0.0),
            ("B", "care", _t(9, 5), "answered", 0.0, 100.0, 0.0, 20.0),
            ("B", "care", _t(9, 6), "answered", 25.0, 150.0, 10.0, 20.0),
        ]
    )
    # contacts that never queued (IVR abandon, outbound) are not offered
    extra = contacts.head(2).with_columns(
        contact_id=pl.lit("x") + pl.col("contact_id"),
        queue_ts=pl.lit(None, dtype=pl.Datetime("us", "Europe/London")),
        direction=pl.Series(["inbound", "outbound"]),
        outcome=pl.Series(["abandoned_ivr", "outbound"]),
    )
    agent_time = _agent_time(
        [
            ("a1", "A", _t(9, 0), 900.0, 300.0, 60.0, 540.0, 900.0),
            ("a1", "A", _t(9, 15), 900.0, 300.0, 0.0, 600.0, 900.0),
            ("a2", "A", _t(9, 0), 900.0, 0.0, 0.0, 450.0, 900.0),
            ("b1", "B", _t(9, 0), 1800.0, 270.0, 40.0, 1490.0, 1800.0),
            ("b1", "B", _t(10, 0), 1800.0, 0.0, 0.0, 1800.0, 1800.0),
        ]
    )
    return Dataset(
        {"contacts": pl.concat([contacts, extra]), "agent_time": agent_time}, tz="Europe/London"
    )


def test_staffing_table_by_team(small):
    lf = staffing.staffing_table(small, every="30m", by=["team"], target_sl=0.8, threshold_s=20)
    assert isinstance(lf, pl.LazyFrame)
    out = lf.collect()
    rows = {(r["team"], r["interval_start"].strftime("%H:%M")): r for r in out.to_dicts()}
    assert set(rows) == {("A", "09:00"), ("A", "09:30"), ("B", "09:00"), ("B", "10:00")}

    a9 = rows["A", "09:00"]
    assert (a9["offered"], a9["answered"], a9["abandoned"]) == (4, 2, 1)
    assert a9["aht_s"] == 300.0  # (250 + 350) / 2
    assert a9["load_erlangs"] == pytest.approx(4 * 300 / 1800)
    assert a9["staffed_agents"] == pytest.approx(2250 / 1800)  # 15-min rows re-binned
    assert a9["scheduled_agents"] == pytest.approx(2700 / 1800)
    assert a9["achieved_service_level"] == pytest.approx(1 / 4)  # flow-out is a miss
    assert a9["achieved_asa_s"] == pytest.approx(20.0)
    assert a9["achieved_abandon_rate"] == pytest.approx(1 / 4)
    assert a9["achieved_occupancy"] == pytest.approx(660 / 2250)
    load, staffed = a9["load_erlangs"], a9["staffed_agents"]
    required = staffing.required_agents(load, aht_s=300, target_sl=0.8, threshold_s=20)
    assert a9["required_agents"] == pytest.approx(required, abs=1e-8)
    assert a9["staffing_gap"] == pytest.approx(staffed - required, abs=1e-8)
    assert a9["expected_service_level"] == pytest.approx(
        staffing.service_level(load, staffed, aht_s=300, threshold_s=20)
    )
    assert a9["expected_occupancy"] == pytest.approx(load / staffed)
    # measured shrinkage 1 − 2250/2700 turns required into scheduled
    assert a9["required_scheduled"] == pytest.approx(required / (2250 / 2700))

    a930 = rows["A", "09:30"]  # nothing answered: the team's AHT over the data, no staff rows
    assert a930["aht_s"] == 300.0
    assert a930["achieved_service_level"] == 0.0
    assert a930["achieved_asa_s"] is None
    assert a930["staffed_agents"] is None
    assert a930["expected_service_level"] is None

    b9 = rows["B", "09:00"]
    assert b9["aht_s"] == 150.0
    assert b9["achieved_service_level"] == 0.5
    assert b9["staffed_agents"] == 1.0

    b10 = rows["B", "10:00"]  # staffed, no contacts: over-staffed, SL undefined
    assert b10["offered"] == 0
    assert b10["load_erlangs"] == 0.0
    assert b10["required_agents"] == 0.0
    assert b10["staffing_gap"] == 1.0
    assert b10["achieved_service_level"] is None
    assert b10["expected_service_level"] == 1.0


def test_staffing_table_service_level_denominators(small):
    def sl(denominator):
        out = staffing.staffing_table(small, by=["team"], denominator=denominator).collect()
        return (
            out.filter(pl.col("team") == "A")
            .sort("interval_start")["achieved_service_level"]
            .to_list()
        )

    assert sl("offered") == [0.25, 0.0]
    assert sl("answered_plus_abandoned") == [pytest.approx(1 / 3), 0.0]
    assert sl("answered") == [0.5, None]
    assert sl("ignore_abandons_within_threshold") == [0.25, None]  # 0 / (1 − 1)
    assert sl("abandons_within_threshold_met") == [0.25, 1.0]


def test_staffing_table_by_queue_shares_team_agents_by_load(small):
    contacts = pl.concat(
        [
            small["contacts"].collect(),
            _contacts([("A", "retention", _t(9, 2), "answered", 3.0, 500.0, 0.0, 100.0)]),
        ]
    )
    ds = Dataset({"contacts": contacts, "agent_time": small["agent_time"]}, tz="Europe/London")
    out = staffing.staffing_table(ds, by=["queue"]).collect()
    assert "team" in out.columns
    a9 = out.filter(pl.col("team") == "A", pl.col("interval_start") == _t(9, 0))
    assert sorted(a9["queue"]) == ["retention", "sales"]
    assert a9["staffed_agents"].sum() == pytest.approx(2250 / 1800)
    shares = dict(zip(a9["queue"], a9["staffed_agents"] / a9["staffed_agents"].sum(), strict=True))
    loads = dict(zip(a9["queue"], a9["load_erlangs"] / a9["load_erlangs"].sum(), strict=True))
    assert shares == pytest.approx(loads)


def test_staffing_table_whole_centre_and_dst_day():
    # one contact every 7 minutes through the spring-forward day: 23 hours, 46 half-hours
    start = datetime(2024, 3, 31, 0, 0, tzinfo=ZoneInfo("UTC"))
    times = [start + timedelta(minutes=7 * i) for i in range(int(23 * 60 / 7))]
    contacts = _contacts(
        [("A", "q", t.astimezone(TZ), "answered", 5.0, 200.0, 0.0, 40.0) for t in times]
    )
    out = staffing.staffing_table({"contacts": contacts}, by=[]).collect()
    assert out.height == 46
    assert out["interval_start"].dt.date().n_unique() == 1
    assert out["staffed_agents"].null_count() == out.height  # no agent_time: unknown


def test_staffing_table_from_interval_imports():
    start = [_t(9, 0), _t(9, 15), _t(9, 0)]
    intervals = pl.DataFrame(
        {
            "interval_start": start,
            "interval_s": [900.0] * 3,
            "queue": ["q1", "q1", "q2"],
            "team": ["A", "A", "B"],
            "offered": [10, 6, 4],
            "answered": [9, 5, 4],
            "abandoned": [1, 1, 0],
            "answered_within_threshold": [8, 3, 4],
            "abandoned_within_threshold": [1, 0, 0],
            "wait_answered_s": [90.0, 100.0, 8.0],
            "wait_abandoned_s": [15.0, 45.0, 0.0],
            "talk_s": [1800.0, 1000.0, 400.0],
            "hold_s": [0.0] * 3,
            "acw_s": [300.0, 200.0, 80.0],
            "staffed_s": [3600.0, 3600.0, 1800.0],
        }
    )
    ds = Dataset(
        {"intervals": conform("intervals", intervals.lazy(), "Europe/London")},
        tz="Europe/London",
        meta={"interval_threshold_s": 20},
    )
    out = staffing.staffing_table(ds, by=["queue"], patience_s="estimate").collect()
    q1 = out.filter(pl.col("queue") == "q1").row(0, named=True)
    assert q1["offered"] == 16
    assert q1["aht_s"] == pytest.approx(3300 / 14)
    assert q1["achieved_service_level"] == pytest.approx(11 / 16)
    assert q1["staffed_agents"] == pytest.approx(7200 / 1800)
    assert q1["patience_s"] == pytest.approx((190 + 60) / 2)  # total wait / abandons
    assert out.filter(pl.col("queue") == "q2")["patience_s"].to_list() == [None]  # Erlang C
    assert q1["expected_abandon_rate"] > 0
    with pytest.raises(KpiError, match="interval_threshold_s"):
        staffing.staffing_table(ds, threshold_s=30)


def test_estimate_patience(small):
    out = staffing.estimate_patience(small, by=["team"]).collect().sort("team")
    assert out.to_dicts() == [
        {"team": "A", "queued": 5, "abandoned": 2, "total_wait_s": 150.0, "patience_s": 75.0},
        {"team": "B", "queued": 2, "abandoned": 0, "total_wait_s": 25.0, "patience_s": None},
    ]
    assert staffing.estimate_patience(small).collect()["patience_s"].to_list() == [175.0 / 2]


def test_what_if_projection(small):
    base = staffing.staffing_table(small, by=["team"])
    out = staffing.project(
        base, ["agents[team=A]=+2", "aht=-10%", "volume=+50%"], threshold_s=20
    ).collect()
    a9 = out.filter(pl.col("team") == "A", pl.col("interval_start") == _t(9, 0)).row(0, named=True)
    b9 = out.filter(pl.col("team") == "B", pl.col("interval_start") == _t(9, 0)).row(0, named=True)
    assert a9["what_if_agents"] == pytest.approx(2250 / 1800 + 2)
    assert b9["what_if_agents"] == pytest.approx(1.0)
    assert a9["what_if_aht_s"] == pytest.approx(270.0)
    assert a9["what_if_offered"] == pytest.approx(6.0)
    load = 6 * 270 / 1800
    assert a9["what_if_load_erlangs"] == pytest.approx(load)
    assert a9["what_if_service_level"] == pytest.approx(
        staffing.service_level(load, 2250 / 1800 + 2, aht_s=270, threshold_s=20)
    )
    # the same through staffing_table(what_if=...)
    again = staffing.staffing_table(small, by=["team"], what_if=["agents[team=A]=+2"]).collect()
    assert "what_if_service_level" in again.columns
    with pytest.raises(KpiError, match="no column 'site'"):
        staffing.project(base, ["agents[site=X]=+1"])


def test_staffing_table_bad_arguments(small):
    with pytest.raises(KpiError, match="valid: queue, team"):
        staffing.staffing_table(small, by=["agent_id"])
    with pytest.raises(KpiError, match="bad interval"):
        staffing.staffing_table(small, every="1d")
    with pytest.raises(KpiError, match="target_sl"):
        staffing.staffing_table(small, target_sl=1.2)


# ----------------------------------------------------------------------------- CLI


def test_cli_one_case_json(capsys):
    code = main(
        ["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180",
         "--target-sl", "0.8", "--threshold-s", "20", "--shrinkage", "0.3", "--format", "json"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["agents"] == 14
    assert doc["scheduled_agents"] == 20
    assert doc["load_erlangs"] == 10.0
    assert doc["service_level"] == pytest.approx(0.888, abs=5e-4)
    for key in ("asa_s", "wait_probability", "occupancy"):
        assert key in doc
    assert "abandon_probability" not in doc


def test_cli_one_case_erlang_a_table(capsys):
    args = ["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180"]
    assert main([*args, "--patience-s", "120", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["abandon_probability"] == pytest.approx(
        staffing.abandon_probability(10, doc["agents"], aht_s=180, patience_s=120)
    )
    assert main([*args, "--patience-s", "120"]) == 0
    text = capsys.readouterr().out
    assert "Erlang A" in text
    assert "abandonment probability" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target-sl", "1.2"], "--target-sl: expected a number above 0 and below 1, got"),
        (["--volume", "-5"], "--volume: expected a number from 0 to 1e+07, got '-5'"),
        (["--aht-s", "0"], "--aht-s: expected a number from 1 to 86400, got '0'"),
        (["--patience-s", "soon"], "--patience-s must be seconds"),
        (["--what-if", "agents=+1"], "--what-if needs --data"),
    ],
)
def test_cli_impossible_targets_give_one_line(capsys, extra, message):
    base = ["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180"]
    assert main([*base, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_cli_data_mode(tmp_path, small, capsys):
    save(small, tmp_path / "ds")
    code = main(
        ["staffing", "--data", str(tmp_path / "ds"), "--every", "30m", "--by", "team",
         "--what-if", "agents=+2", "--what-if", "aht=-10%", "--format", "json"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["rows"]) == 4
    assert doc["meta"]["what_if"] == "agents=+2, aht=-10%"
    total = sum(r["required_agents"] for r in doc["rows"])
    assert doc["meta"]["required_agent_intervals_rounded_once"] == staffing.round_up(total)
    assert "what_if_service_level" in doc["rows"][0]
    assert main(["staffing", "--data", str(tmp_path / "ds"), "--what-if", "agents=lots"]) == 2
    assert "bad what-if" in capsys.readouterr().err


# ----------------------------------------------------------------------------- real data


@pytest.mark.shared
def test_technion_bank_call_log(shared_datasets, tmp_path):
    """A real call log (Technion "Anonymous Bank", February 1999) through the importer."""
    from kpi.data import load
    from kpi.io import contacts_to_intervals, import_file

    src = shared_datasets / "technion_bank_1999_02" / "calls_1999_02.tsv"
    import_file(src, preset="technion", out=tmp_path / "bank")
    ds = load(tmp_path / "bank")
    out = staffing.staffing_table(ds, by=[], patience_s="estimate").collect()

    contacts = ds["contacts"].filter(
        pl.col("queue_ts").is_not_null(), pl.col("direction") == "inbound"
    )
    totals = contacts.select(
        offered=pl.len(),
        abandoned=(pl.col("outcome") == "abandoned_queue").sum(),
        wait=pl.col("wait_s").sum(),
    ).collect()
    assert out["offered"].sum() == totals["offered"].item()
    # patience = total wait of all queued calls / abandons (censored exponential MLE)
    patience = totals["wait"].item() / totals["abandoned"].item()
    assert out["patience_s"].unique().to_list() == [pytest.approx(patience)]
    assert 30 < patience < 3600
    busy = out.filter(pl.col("load_erlangs") > 0)
    assert busy["required_agents"].is_finite().all()
    assert (busy["required_agents"] > 0).all()
    # no agent_time in a call log that names the agent on each call: agents on queue are
    # estimated (distinct agents busy with a call in the half-hour), and marked as estimates
    assert out["staffed_agents"].null_count() == 0
    assert set(out["assumed"].to_list()) == {"staffed_agents"}
    assert out["staffed_agents"].max() >= 1
    # without the estimate: unknown, not zero
    bare = staffing.staffing_table(ds, by=[], estimate_agents=False).collect()
    assert bare["staffed_agents"].null_count() == bare.height
    assert bare["assumed"].null_count() == bare.height

    # the same month as an ACD interval report gives the same table
    intervals = contacts_to_intervals(
        ds["contacts"], every="30m", threshold_s=20, time_column="queue_ts"
    )
    as_report = Dataset({"intervals": intervals}, tz=ds.tz, meta={"interval_threshold_s": 20})
    again = staffing.staffing_table(as_report, by=[], patience_s="estimate").collect()
    cols = ["offered", "answered", "abandoned", "aht_s", "achieved_service_level"]
    joined = out.join(again, on="interval_start", suffix="_report")
    assert joined.height == out.height
    for col in [*cols, "patience_s", "required_agents"]:
        np.testing.assert_allclose(joined[col], joined[f"{col}_report"], rtol=1e-9, err_msg=col)


# ----------------------------------------------------------------------------- unknown inputs


def _arrivals_only(n_days: int = 2) -> Dataset:
    t0 = datetime(2026, 2, 2, 8, tzinfo=TZ)
    starts = [t0 + timedelta(minutes=5 * i) for i in range(12 * 10 * n_days)]
    intervals = pl.DataFrame(
        {
            "interval_start": starts,
            "interval_s": [300.0] * len(starts),
            "queue": ["q"] * len(starts),
            "offered": [3 + i % 5 for i in range(len(starts))],
        }
    )
    return Dataset({"intervals": intervals}, tz="Europe/London")


def test_arrivals_only_report_is_unknown_not_zero():
    """An interval report of arrivals only: no AHT, no service, no agents; never 0."""
    out = staffing.staffing_table(_arrivals_only(), by=[]).collect()
    assert out["offered"].sum() > 0
    for col in (
        "answered",
        "abandoned",
        "aht_s",
        "staffed_agents",
        "achieved_service_level",
        "achieved_asa_s",
        "achieved_abandon_rate",
        "staffing_gap",
        "required_agents",
    ):
        assert out[col].null_count() == out.height, col
    notes = staffing.staffing_notes(out)
    assert any("agents on queue: needs agent time" in n for n in notes)
    assert any("AHT and agents required" in n for n in notes)


def test_assumed_aht_fills_only_what_the_data_lack():
    out = staffing.staffing_table(_arrivals_only(), by=[], aht_s=300).collect()
    assert out["aht_s"].unique().to_list() == [300.0]
    assert set(out["assumed"].to_list()) == {"aht_s"}
    assert (out.filter(pl.col("offered") > 0)["required_agents"] > 0).all()
    assert out["staffed_agents"].null_count() == out.height
    notes = staffing.staffing_notes(out, aht_s=300)
    assert notes[0] == "AHT assumed 300 s (the data has no handle times)."
    with pytest.raises(KpiError, match="aht_s"):
        staffing.staffing_table(_arrivals_only(), aht_s=0)


def test_call_log_without_times_or_agents(small):
    """A call log without talk, wait or agent names: counts known, the rest null."""
    contacts = small["contacts"].drop("talk_s", "hold_s", "acw_s", "wait_s", "agent_id")
    ds = Dataset({"contacts": contacts}, tz=small.tz)
    out = staffing.staffing_table(ds, by=["team"]).collect()
    assert out["offered"].sum() > 0
    assert out["answered"].sum() > 0
    for col in ("aht_s", "achieved_service_level", "achieved_asa_s", "staffed_agents"):
        assert out[col].null_count() == out.height, col
    # with the data's handle times the assumption is not used
    full = staffing.staffing_table(small, by=["team"], aht_s=1).collect()
    assert full["aht_s"].min() > 1


# ----------------------------------------------------------------------------- a range


def test_staffing_table_over_a_range_is_the_whole_table_in_it():
    """``start``/``end`` read only the calls that reach the range: the rows are those of the
    whole table there, a call answered before midnight still counts its agent after it, and an
    interval that answered nothing takes the AHT of the whole data."""
    day = datetime(2026, 2, 2, tzinfo=TZ)
    rows = [
        # answered 23:50 the evening before, busy until 00:40 (00:35 + 5 min wrap-up)
        ("a1", day - timedelta(minutes=10), 2700.0, 300.0, "answered"),
        ("a2", day + timedelta(hours=9, minutes=5), 120.0, 60.0, "answered"),
        ("a3", day + timedelta(hours=9, minutes=10), 0.0, 0.0, "abandoned_queue"),
        ("a6", day + timedelta(minutes=20), 0.0, 0.0, "abandoned_queue"),
        ("a4", day + timedelta(hours=11), 0.0, 0.0, "abandoned_queue"),
        # the next day: outside the range
        ("a5", day + timedelta(days=1, hours=10), 300.0, 0.0, "answered"),
    ]
    queued = [r[1] for r in rows]
    answered = [r[4] == "answered" for r in rows]
    contacts = pl.DataFrame(
        {
            "team": ["A"] * 6,
            "queue": ["q"] * 6,
            "direction": ["inbound"] * 6,
            "agent_id": [r[0] for r in rows],
            "queue_ts": queued,
            "wait_s": [0.0] * 6,
            "answer_ts": [t if a else None for t, a in zip(queued, answered, strict=True)],
            "end_ts": [
                t + timedelta(seconds=r[2]) if a else None
                for t, r, a in zip(queued, rows, answered, strict=True)
            ],
            "outcome": [r[4] for r in rows],
            "talk_s": [r[2] if a else None for r, a in zip(rows, answered, strict=True)],
            "acw_s": [r[3] if a else None for r, a in zip(rows, answered, strict=True)],
        }
    )
    ds = {"contacts": contacts}
    lo, hi = day, day + timedelta(days=1)
    whole = staffing.staffing_table(ds, by=[]).collect()
    part = staffing.staffing_table(ds, by=[], start=lo, end=hi).collect()
    in_range = whole.filter(pl.col("interval_start") >= lo, pl.col("interval_start") < hi)
    assert part.equals(in_range)
    staffed = dict(zip(part["interval_start"], part["staffed_agents"], strict=True))
    # rows where contacts queued: at 00:00 the agent of a1 is still busy (until 00:40) with a
    # call answered before the range; at 09:00 the agent of a2
    assert staffed == {day: 1.0, day + timedelta(hours=9): 1.0, day + timedelta(hours=11): 0.0}
    # 11:00 answered nothing: the AHT of all the data, (3000 + 180 + 300) / 3 answered
    eleven = part.filter(pl.col("interval_start") == day + timedelta(hours=11))
    assert eleven["aht_s"].item() == pytest.approx((3000.0 + 180.0 + 300.0) / 3)
