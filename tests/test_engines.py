"""Parity: the same KPI declarations give the same numbers on polars, DuckDB and PySpark.

Every KPI whose measures all have a SQL form (:func:`sql_kpis`: row measures of every table,
ticket medians and percentiles, finance, FCR's repeat test, the queue sweep, the busiest hour
and the backlog) is computed on each engine and compared with polars, frame to frame: same
groups, same bins, same dtypes, values to 1e-9 relative, nulls equal. Data: the committed
sample (all its tables), hand-made DST-change days in four zones (whole-hour, half-hour and
45-minute offsets), a generated year (repeat contacts, DST months), edge cases (nulls, unknown
groups, bin and range edges, repeats on window edges, queue exits at entry instants, non-contact
tables with null agents and scores, finance on a skipped midnight, a repeated DST hour) and,
where ``../shared`` is present, the real February 1999 call log after ``kpi import --preset
technion``. Since round 3 every KPI runs on every engine (``POLARS_ONLY`` is empty; the rosters,
stored forecasts, attribution and bin offsets are in ``test_engines_round3.py``); what is still
refused (a measure without a SQL form, ``chunk=``) is refused in one line. Spark tests skip with the reason when PySpark or Java is missing; they
share one local session with 2 cores.
"""

from __future__ import annotations

import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi.compute import evaluate, measure_frame
from kpi.data import save
from kpi.engines import ENGINES, open_engine
from kpi.engines._time import offset_at, transitions
from kpi.errors import KpiError
from kpi.metrics import METRICS, factories

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _contacts_gen import TZ, generate_contacts

TECHNION = "technion_bank_1999_02/calls_1999_02.tsv"
#: Variants that exercise the other SQL forms (short abandons, SL denominators, IVR, timers).
VARIANTS = {
    "service_level.threshold_s": 30,
    "service_level.short_abandon_s": 5,
    "service_level.denominator": "ignore_abandons_within_threshold",
    "abandon_rate.denominator": "queued",
    "abandon_rate.short_abandon_s": 10,
    "answer_rate.basis": "arrived",
    "asa.timer_start": "arrival",
    "contacts_abandoned.stages": "queue_and_ivr",
    "avg_wait.population": "answered",
}
VARIANTS_2 = {
    "service_level.denominator": "abandons_within_threshold_met",
    "service_level.short_abandon_s": 40,
    "abandon_rate.denominator": "answered_plus_abandoned",
    "abandon_rate.short_abandon_s": 3,
    "answer_rate.basis": "queued",
    "contacts_abandoned.short_abandon_s": 8,
}


def has_sql(m) -> bool:
    """The measure runs on a SQL engine: its builder has a SQL form or asks the engine's
    context for its rows (``portable``), or every source has a SQL form."""
    if m.builder is not None:
        return m.sql is not None or m.portable
    return bool(m.sources) and all(s.sql is not None for s in m.sources)


def sql_kpis(params: dict | None = None) -> list[str]:
    """KPIs whose measures (under ``params``) all have a SQL form."""
    out = []
    for kpi_id, metric in METRICS.items():
        p = {k.split(".")[1]: v for k, v in (params or {}).items() if k.split(".")[0] == kpi_id}
        if all(has_sql(m) for m in metric.build(p).measures):
            out.append(kpi_id)
    return out


KPIS = sql_kpis()
#: What no SQL engine runs yet: nothing since round 3 (rosters and stored forecasts).
POLARS_ONLY: set[str] = set()


@pytest.fixture(params=["duckdb", "spark"])
def engine(request: pytest.FixtureRequest):
    return request.getfixturevalue("duck" if request.param == "duckdb" else "spark")


def same(data, kpis, engine, **kw) -> pl.DataFrame:
    """polars and ``engine`` give the same frame (KPIs and measures); the polars frame."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        got = evaluate(data, kpis, engine=engine, **kw).frame.collect()
    want = evaluate(data, kpis, **kw).frame.collect()
    assert_frame_equal(want, got, check_exact=False, rel_tol=1e-9, abs_tol=0.0)
    return want


def test_supported_kpis_are_all_but_the_named_few():
    assert set(KPIS) == set(METRICS) - POLARS_ONLY
    for k in ("service_level", "aht", "fcr", "max_in_queue", "csat", "occupancy", "qa_score"):
        assert k in KPIS


# ---- the committed sample -------------------------------------------------------------------


@pytest.mark.parametrize("every", [None, "15m", "30m", "1h", "1d", "1w", "1mo", "1q", "1y"])
def test_sample_duckdb_every_grain(samples_dir, duck, every):
    same(str(samples_dir), KPIS, duck, by="team", every=every)


@pytest.mark.parametrize("variants", [VARIANTS, VARIANTS_2])
def test_sample_duckdb_variants_and_range(samples_dir, duck, variants):
    df = same(
        str(samples_dir), sql_kpis(variants), duck, by=["team", "channel"], every="1d",
        params=variants, start="2026-02-03", end="2026-03-01",
    )  # fmt: skip
    assert df["period"].dt.date().min().isoformat() == "2026-02-03"


def test_sample_spark(samples_dir, spark):
    same(str(samples_dir), KPIS, spark, by="team", every="1mo")
    same(str(samples_dir), sql_kpis(VARIANTS), spark, every="15m", params=VARIANTS)


def test_measure_frame_on_engines(samples_dir, duck):
    ms = [factories.answered(), factories.max_wait("all"), factories.agents_handling()]
    a, _ = measure_frame(str(samples_dir), ms, by="team", every="1w")
    b, _ = measure_frame(str(samples_dir), ms, by="team", every="1w", engine=duck)
    assert_frame_equal(a.sort("team", "period").collect(), b.sort("team", "period").collect())


# ---- DST-change days, by hand ---------------------------------------------------------------

#: zone, the day the clocks change and the UTC hours it spans.
DST_DAYS = [
    ("Europe/London", "2026-03-29"),
    ("Europe/London", "2026-10-25"),
    ("America/New_York", "2026-11-01"),
    ("Asia/Kathmandu", "2026-03-29"),  # +05:45, no DST: 15-minute bins off the UTC quarter
    ("Australia/Lord_Howe", "2026-04-05"),  # a 30-minute DST change
]


def dst_dataset(tmp_path: Path, tz: str, day: str) -> str:
    """A contact every 7 minutes from the day before to the day after, in ``tz``."""
    d = datetime.fromisoformat(day).replace(tzinfo=UTC)
    n = int(3 * 24 * 60 / 7)
    stamps = [d - timedelta(days=1) + timedelta(minutes=7 * i) for i in range(n)]
    outcomes = ["answered", "abandoned_queue", "answered", "flowout", "outbound", "answered"]
    contacts = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(n)],
            "arrival_ts": stamps,
            "channel": "voice",
            "queue": "q",
            "team": ["A" if i % 3 else "B" for i in range(n)],
            "agent_id": [f"a{i % 5}" for i in range(n)],
            "customer_id": [None if i % 4 == 0 else f"k{i % 37}" for i in range(n)],
            "topic": [None if i % 11 == 0 else f"t{i % 3}" for i in range(n)],
            "outcome": [outcomes[i % len(outcomes)] for i in range(n)],
            "wait_s": [float(i % 50) for i in range(n)],
            "talk_s": [100.0 + i % 17 for i in range(n)],
            "hold_s": [float(i % 3) for i in range(n)],
            "acw_s": [10.5 + i % 4 for i in range(n)],
            "transferred": [i % 9 == 0 for i in range(n)],
        },
    ).with_columns(pl.col("arrival_ts").dt.replace_time_zone("UTC").dt.convert_time_zone(tz))
    # queue entries 4 s after arrival; waits up to 49 s overlap the next contacts' entries
    contacts = contacts.with_columns(
        pl.when(pl.col("outcome") != "outbound")
        .then(pl.col("arrival_ts") + timedelta(seconds=4))
        .alias("queue_ts")
    )
    path = tmp_path / f"dst-{tz.replace('/', '-')}-{day}"
    save({"contacts": contacts}, path, meta={"timezone": tz})
    return str(path)


@pytest.mark.parametrize(("tz", "day"), DST_DAYS)
@pytest.mark.parametrize("every", ["15m", "30m", "1h", "1d"])
def test_dst_days_duckdb(tmp_path, duck, tz, day, every):
    df = same(dst_dataset(tmp_path, tz, day), KPIS, duck, by="team", every=every)
    if tz == "Europe/London" and every == "30m" and day == "2026-10-25":
        bins = df.filter(pl.col("period").dt.date().cast(pl.String) == day)["period"].unique()
        assert bins.len() == 50  # the repeated hour: two bins of each half-hour


def test_dst_days_spark(tmp_path, spark):
    for tz, day in DST_DAYS[1:4]:
        same(dst_dataset(tmp_path, tz, day), KPIS, spark, every="30m")


def test_offsets_match_zoneinfo():
    t = transitions("America/New_York", 2026, 2026)
    assert [o // 3_600_000_000 for _, o in t] == [-5, -4, -5]
    u = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp()) * 1_000_000
    assert offset_at("Australia/Lord_Howe", u) == 10 * 3_600_000_000 + 30 * 60_000_000


# ---- a generated year -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("generated")
    save({"contacts": generate_contacts(20_000, seed=11)}, path, meta={"timezone": TZ})
    return str(path)


@pytest.mark.parametrize("every", [None, "1h", "1w", "1mo"])
def test_generated_duckdb(generated, duck, every):
    same(generated, KPIS, duck, by="team", every=every)


def test_generated_spark(generated, spark):
    same(generated, KPIS, spark, by="team", every="1mo")


# ---- edge cases -----------------------------------------------------------------------------


def edge_dataset(tmp_path: Path) -> str:
    """Nulls where they matter, a team with no talk times, rows on bin and range edges; k1
    calls again 15 minutes later (a repeat) and k3 30 days later (no repeat in 7 days)."""
    t = datetime(2026, 1, 31, 23, 45, tzinfo=UTC)
    rows = [
        # team, minutes after t, outcome, wait, talk, customer, agent, revenue
        ("A", 0, "answered", 20.0, 100.0, "k1", "a1", None),
        ("A", 15, "answered", 20.000001, 50.0, "k1", "a1", 10.0),  # 2026-02-01 00:00 exactly
        ("A", 16, None, None, None, None, None, None),  # outcome unknown
        ("A", 30, "abandoned_queue", None, None, "k2", None, None),  # wait unknown
        ("B", 1, "answered", 3.0, None, "k3", "a2", None),  # team B: no talk time at all
        ("B", 2, "outbound", None, None, None, "a2", 5.5),
        ("B", 60 * 24 * 30, "abandoned_ivr", None, None, "k3", None, None),
        ("C", 5, "flowout", 400.0, None, None, None, None),  # nothing handled: ratios null
    ]
    contacts = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(len(rows))],
            "arrival_ts": [t + timedelta(minutes=r[1]) for r in rows],
            "channel": "voice",
            "queue": "q",
            "team": [r[0] for r in rows],
            "outcome": [r[2] for r in rows],
            "wait_s": [r[3] for r in rows],
            "talk_s": [r[4] for r in rows],
            "hold_s": [0.0 if r[4] else None for r in rows],
            "acw_s": [5.0 if r[4] else None for r in rows],
            "customer_id": [r[5] for r in rows],
            "agent_id": [r[6] for r in rows],
            "revenue": [r[7] for r in rows],
            "converted": [r[7] is not None for r in rows],
            "topic": ["t", "t", None, None, None, "t", "t", "t"],
            "queue_ts": [t + timedelta(minutes=r[1]) if r[3] is not None else None for r in rows],
        }
    ).with_columns(pl.col("arrival_ts", "queue_ts").dt.convert_time_zone("Europe/London"))
    path = tmp_path / "edge"
    save({"contacts": contacts}, path, meta={"timezone": "Europe/London"})
    return str(path)


@pytest.mark.parametrize("every", [None, "15m", "1d", "1mo"])
def test_edge_cases_duckdb(tmp_path, duck, every):
    path = edge_dataset(tmp_path)
    df = same(path, KPIS, duck, by="team", every=every)
    if every is None:
        aht = dict(zip(df["team"], df["aht"], strict=True))
        assert aht["B"] is None
        assert aht["C"] is None
    same(path, KPIS, duck, by="team", every=every, start="2026-02-01", end="2026-02-01")


def test_edge_cases_spark(tmp_path, spark):
    path = edge_dataset(tmp_path)
    same(path, KPIS, spark, by="team", every="15m")
    same(path, KPIS, spark, by="team", start="2026-02-01", end="2026-02-01")


# ---- FCR's repeat test and the queue sweep, by hand -------------------------------------------

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def fcr_dataset(tmp_path: Path) -> str:
    """Repeats inside, at and past the 7-day window, another topic, null topics, a tie."""
    rows = [
        # id, customer, topic, hours after T0, outcome
        ("c1", "k1", "A", 0, "answered"),  # k1/A again 3 days later: a repeat
        ("c2", "k1", "A", 72, "answered"),  # next k1/A 8 days later: resolved
        ("c3", "k1", "B", 1, "answered"),  # only k1/B; but k1 again 71 h later
        ("c4", "k2", None, 2, "answered"),  # no topic never matches; by customer, c6 ties
        ("c5", "k1", "A", 264, "abandoned_queue"),  # decides c2, is not counted itself
        ("c6", "k2", None, 2, "answered"),  # same instant as c4, after it by contact id
        ("c7", None, "A", 3, "answered"),  # unidentified: never counted
        ("c8", "k3", "A", 10, "answered"),  # next exactly 7 days later: a repeat
        ("c9", "k3", "A", 178, "answered"),
    ]
    contacts = pl.DataFrame(
        {
            "contact_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "topic": [r[2] for r in rows],
            "arrival_ts": [T0 + timedelta(hours=r[3]) for r in rows],
            "outcome": [r[4] for r in rows],
            "team": "A",
        }
    )
    path = tmp_path / "fcr"
    save({"contacts": contacts}, path, meta={"timezone": "UTC"})
    return str(path)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_fcr_by_hand_on_every_engine(tmp_path, request, engine_name):
    engine = {"polars": "polars", "duckdb": "duck", "spark": "spark"}[engine_name]
    engine = engine if engine == "polars" else request.getfixturevalue(engine)
    path = fcr_dataset(tmp_path)
    got = {}
    for key in ("customer_topic", "customer"):
        r = evaluate(path, "fcr", engine=engine, params={"fcr.key": key}).frame.collect()
        got[key] = (r[f"fcr_resolved_7d_{key}"].item(), r["fcr_base"].item())
    # by customer and topic: c2, c3, c4, c6, c9; by customer: c2 (8 days), c6, c9
    assert got == {"customer_topic": (5, 7), "customer": (3, 7)}
    same(path, ["fcr"], engine if engine != "polars" else "polars", every="1d")


def queue_dataset(tmp_path: Path) -> str:
    """Waits that overlap, an exit at another's entry instant, a sub-microsecond wait."""
    rows = [
        # seconds after 10:00, wait
        (0, 60.0),  # exits 10:01:00
        (30, 60.0),  # exits 10:01:30
        (60, 10.0),  # enters as the first exits: exits count first, so still 2 waiting
        (60, 0.0000009),  # 0.9 us: truncated to 0, it leaves as it enters (rounded: 3 waiting)
        (3590, 20.0),  # waits across 11:00
        (3600, None),  # wait unknown: not in the sweep
    ]
    t = datetime(2026, 3, 2, 10, tzinfo=UTC)
    contacts = pl.DataFrame(
        {
            "contact_id": [f"q{i}" for i in range(len(rows))],
            "arrival_ts": [t + timedelta(seconds=r[0]) for r in rows],
            "queue_ts": [t + timedelta(seconds=r[0]) for r in rows],
            "wait_s": [r[1] for r in rows],
            "outcome": "answered",
            "team": "A",
        }
    )
    path = tmp_path / "queue"
    save({"contacts": contacts}, path, meta={"timezone": "UTC"})
    return str(path)


def test_max_in_queue_by_hand(tmp_path, duck, spark):
    path = queue_dataset(tmp_path)
    for engine in ("polars", duck, spark):
        r = evaluate(path, "max_in_queue", engine=engine, every="1h").frame.collect()
        assert r["max_in_queue"].to_list() == [2.0, 1.0]
        assert evaluate(path, "max_in_queue", engine=engine).frame.collect().item() == 2.0


def peak_dataset(tmp_path: Path) -> str:
    """London's clocks go back on 2026-10-25: 01:00-02:00 happens twice (two clock hours)."""
    rows = [
        # team, UTC time on the day, outcome, talk, hold, acw
        ("A", "00:10", "answered", 600.0, 0.0, 0.0),  # 01:10 BST
        ("A", "00:20", "answered", 600.0, 0.0, 0.0),
        ("A", "00:30", "answered", 600.0, None, None),
        ("A", "01:10", "answered", 1200.0, 0.0, 0.0),  # 01:10 GMT, the second 01:00 hour
        ("A", "01:20", "answered", 1200.0, 0.0, 0.0),
        ("A", "01:30", "abandoned_queue", None, None, None),
        ("A", "09:00", "answered", 3600.0, 600.0, 300.0),
        ("A", "09:30", "answered", 3600.0, 600.0, 300.0),
        ("A", "10:00", "outbound", 3600.0, 0.0, 0.0),  # not offered: not in any peak
        ("A", "10:05", "outbound", 3600.0, 0.0, 0.0),
        ("A", "10:10", "outbound", 3600.0, 0.0, 0.0),
        ("B", "12:00", "answered", 30.0, None, None),
    ]
    day = "2026-10-25T"
    contacts = pl.DataFrame(
        {
            "contact_id": [f"p{i}" for i in range(len(rows))],
            "arrival_ts": [datetime.fromisoformat(day + r[1]).replace(tzinfo=UTC) for r in rows],
            "team": [r[0] for r in rows],
            "outcome": [r[2] for r in rows],
            "talk_s": [r[3] for r in rows],
            "hold_s": [r[4] for r in rows],
            "acw_s": [r[5] for r in rows],
        }
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone("Europe/London"))
    path = tmp_path / "peak"
    save({"contacts": contacts}, path, meta={"timezone": "Europe/London"})
    return str(path)


def test_peak_hour_by_hand_on_every_engine(tmp_path, duck, spark):
    path = peak_dataset(tmp_path)
    erlangs = {"peak_hour_traffic.rank_by": "erlangs"}
    for engine in ("polars", duck, spark):
        r = evaluate(path, "peak_hour_traffic", engine=engine, by="team").frame.collect()
        a, b = r.sort("team").rows(named=True)
        # by calls: 3 in each 01:00 hour; the earlier (BST) wins: 3 x 600 s handled
        assert (a["peak_hour_calls_by_calls"], a["peak_hour_traffic"]) == (3, 0.5)
        assert (b["peak_hour_calls_by_calls"], b["peak_hour_traffic"]) == (1, 30 / 3600)
        r = evaluate(path, "peak_hour_traffic", engine=engine, params=erlangs).frame.collect()
        assert (r["peak_hour_calls_by_erlangs"].item(), r["peak_hour_traffic"].item()) == (
            2,
            2 * 4500 / 3600,
        )
        hours = evaluate(path, "peak_hour_traffic", engine=engine, every="1h").frame.collect()
        ones = hours.filter(pl.col("period").dt.hour() == 1)  # the repeated hour: two bins
        assert ones["peak_hour_calls_by_calls"].to_list() == [3, 3]
        assert ones["peak_hour_traffic"].to_list() == [0.5, 2400 / 3600]
    for engine in (duck, spark):
        for every in (None, "15m", "1h", "1d"):
            for params in ({}, erlangs):
                same(path, ["peak_hour_traffic"], engine, by="team", every=every, params=params)
        same(path, ["peak_hour_traffic"], engine, every="1d", start="2026-10-25", end="2026-10-26")


# ---- the other tables: tickets, agent time, surveys, QA, coaching -------------------------------


def tables_dataset(tmp_path: Path) -> str:
    """Small non-contact tables with nulls where the SQL forms must mirror polars: a null agent
    with scheduled time (a distinct value for n_unique), absence above schedule (clipped), null
    scores, unsolved tickets, a first response exactly on the 8-hour objective."""
    t = datetime(2026, 3, 2, 8, tzinfo=UTC)
    h = timedelta(hours=1)
    tickets = pl.DataFrame(
        {
            "ticket_id": [f"t{i}" for i in range(5)],
            "created_ts": [t, t + h, t + 2 * h, t + 30 * h, t + 31 * h],
            "first_response_ts": [t + 8 * h, t + 9 * h + timedelta(microseconds=1), None,
                                  t + 31 * h, t + 40 * h],
            "solved_ts": [t + 9 * h, None, t + 26 * h, t + 32 * h, None],
            "closed_ts": [t + 10 * h, None, None, t + 50 * h, None],
            "agent_id": ["a1", "a2", None, "a1", None],
            "team": ["A", "A", "B", "B", "A"],
        }
    )  # fmt: skip
    agent_time = pl.DataFrame(
        {
            "agent_id": ["a1", "a2", None, "a3", "a1"],
            "team": ["A", "A", "A", "B", "B"],
            "interval_start": [t, t, t, t + 24 * h, t + 25 * h],
            "scheduled_s": [900.0, 900.0, 600.0, 0.0, None],
            "absence_s": [0.0, 1200.0, None, 0.0, 100.0],
            "logged_in_s": [900.0, None, 600.0, 0.0, 800.0],
            "available_s": [100.0, None, 50.0, 0.0, 10.0],
            "handle_s": [600.0, None, 400.0, 0.0, 700.0],
            "acw_s": [100.0, 0.0, None, 0.0, 50.0],
        }
    )
    surveys = pl.DataFrame(
        {
            "survey_ts": [t, t + h, t + 2 * h, t + 26 * h],
            "csat": [5, 3, None, 4],
            "nps": [10, 6, 8, None],
            "ces": [None, None, None, None],
            "team": ["A", "A", "B", "B"],
        },
        schema_overrides={"csat": pl.Int64, "nps": pl.Int64, "ces": pl.Int64},
    )
    qa = pl.DataFrame(
        {"evaluated_ts": [t, t + h, t + 25 * h], "score": [80.0, None, 90.5], "team": "A"}
    )
    coaching = pl.DataFrame({"session_ts": [t, t + 25 * h], "team": ["A", "B"]})
    agent_surveys = pl.DataFrame(
        {"survey_ts": [t, t, t + h], "score": [9, 3, None], "team": "A"},
        schema_overrides={"score": pl.Int64},
    )
    path = tmp_path / "tables"
    save(
        {"tickets": tickets, "agent_time": agent_time, "surveys": surveys,
         "qa_evaluations": qa, "coaching": coaching, "agent_surveys": agent_surveys},
        path, meta={"timezone": "UTC"},
    )  # fmt: skip
    return str(path)


def test_other_tables_by_hand_and_in_parity(tmp_path, duck, spark):
    path = tables_dataset(tmp_path)
    kpis = ["tickets_handled", "coaching_per_agent", "attendance", "csat", "nps", "qa_score",
            "agent_enps", "occupancy", "utilization"]  # fmt: skip
    tickets = {"response_within_objective.table": "tickets"}
    for engine in ("polars", duck, spark):
        r = evaluate(path, kpis, engine=engine).frame.collect().row(0, named=True)
        assert r["tickets_solved"] == 3
        assert r["agents_scheduled"] == 3  # a1, a2 and the unnamed agent; a3 has no schedule
        assert r["coaching_sessions"] == 2
        assert r["at_attended_s"] == 900.0 + 0.0 + 600.0 + 0.0 + 0.0
        assert (r["csat_4_or_more"], r["csat_responses"]) == (2, 3)
        assert (r["nps_net_promoters"], r["qa_score_sum"]) == (0, 170.5)  # 10 vs 6
        assert (r["enps_net_promoters"], r["enps_responses"]) == (0, 2)  # 9 vs 3
        t = evaluate(path, "response_within_objective", engine=engine, params=tickets)
        row = t.frame.collect().row(0, named=True)
        # t0 (8 h exactly) and t3 (1 h) are within; t1 (8 h and 1 us) and t4 (9 h) are not;
        # t2, with no response yet, is left out
        assert (row["tickets_responded_within_objective"], row["tickets_responded"]) == (2, 4)
    for engine in (duck, spark):
        for every in (None, "1h", "1d"):
            same(path, KPIS, engine, by="team", every=every)
        same(path, ["response_within_objective"], engine, every="1d", params=tickets)


def test_ticket_statistics_by_hand_on_every_engine(tmp_path, duck, spark):
    """Exact medians and p90 (linear between the nearest ranks), means; unsolved and
    unanswered tickets left out."""
    path = tables_dataset(tmp_path)
    eps = 1e-6 / 3600  # t1's first response is 8 h and 1 us after it was created
    p90 = {"avg_resolution_time.aggregator": "p90", "first_response_time.aggregator": "mean"}
    kpis = ["avg_resolution_time", "first_response_time"]
    for engine in ("polars", duck, spark):
        r = evaluate(path, kpis, engine=engine).frame.collect().row(0, named=True)
        # resolution (solved cohort): 9 h, 24 h, 2 h; first response: 8, 8 + eps, 1, 9 h
        assert r["avg_resolution_time"] == 9.0
        assert r["first_response_time"] == pytest.approx(8 + eps / 2, rel=1e-15)  # even count
        r = evaluate(path, kpis, engine=engine, params=p90).frame.collect().row(0, named=True)
        assert r["avg_resolution_time"] == pytest.approx(9 + 0.8 * (24 - 9), rel=1e-15)
        assert r["first_response_time"] == pytest.approx((8 + 8 + eps + 1 + 9) / 4, rel=1e-15)
        by_team = evaluate(path, kpis, engine=engine, by="team").frame.collect()
        median = dict(zip(by_team["team"], by_team["first_response_time"], strict=True))
        assert median == {"A": pytest.approx(8 + eps, rel=1e-15), "B": 1.0}
    created = {**p90, "avg_resolution_time.cohort": "created"}
    for engine in (duck, spark):
        for params in ({}, p90, created):
            same(path, kpis, engine, by="team", every="1d", params=params)


def test_backlog_by_hand_on_every_engine(tmp_path, duck, spark):
    """Tickets open at each day's end: flows summed by the engine, levelled by polars."""
    path = tables_dataset(tmp_path)
    for engine in ("polars", duck, spark):
        r = evaluate(path, "backlog", engine=engine, by="team", every="1d").frame.collect()
        levels = {team: g.sort("period")["backlog"].to_list() for (team,), g in r.group_by("team")}
        # A: t0, t1 created and t0 solved on day 1, t4 created on day 2; B: t2 created on
        # day 1, solved on day 2, when t3 is created and solved
        assert levels == {"A": [1.0, 2.0], "B": [1.0, 0.0]}
        day2 = evaluate(path, "backlog", engine=engine, by="team", start="2026-03-03")
        assert dict(day2.frame.collect().select("team", "backlog").iter_rows()) == {
            "A": 2.0,
            "B": 0.0,
        }  # what was open before the range carries in
    for engine in (duck, spark):
        for every in (None, "1h", "1d", "1w"):
            same(path, ["backlog"], engine, by="team", every=every)
            same(path, ["backlog"], engine, every=every, start="2026-03-03", end="2026-03-04")


def finance_dataset(tmp_path: Path) -> str:
    """Finance by team and centre-wide in Santiago, where the clocks skip midnight on
    2026-09-06 (the day's first instant is 01:00 local), and contacts to divide by."""
    tz = "America/Santiago"
    days = ["2026-08-01", "2026-09-01", "2026-09-06", "2026-09-07", "2026-10-01"]
    finance = pl.DataFrame(
        {
            "period_start": [datetime.fromisoformat(d).date() for d in days] * 2,
            "period_end": [datetime.fromisoformat(d).date() for d in days] * 2,
            "team": ["A"] * 5 + [None] * 5,
            "centre_cost": [100.0, 200.0, 50.0, None, 400.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            "company_orders": [10, 20, 5, 7, 40, 1, 1, 1, 1, 1],
            "acquisition_spend": [10.0, 20.0, 30.0, 40.0, 50.0] * 2,
            "new_subscribers": [1, 2, 3, 4, None] * 2,
        },
        schema_overrides={"company_orders": pl.Int64, "new_subscribers": pl.Int64},
    )
    t = datetime(2026, 9, 6, 4, 30, tzinfo=UTC)  # 01:30 local, the first hour of the day
    contacts = pl.DataFrame(
        {
            "contact_id": ["c1", "c2", "c3"],
            "arrival_ts": [t, t + timedelta(hours=1), t + timedelta(days=25)],
            "outcome": ["answered", "outbound", "answered"],
            "team": "A",
        }
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone(tz))
    path = tmp_path / "finance"
    save({"finance": finance, "contacts": contacts}, path, meta={"timezone": tz})
    return str(path)


def test_finance_by_hand_on_every_engine(tmp_path, duck, spark):
    path = finance_dataset(tmp_path)
    kpis = ["cost_per_contact", "cost_per_order", "subscriber_acquisition_cost"]
    for engine in ("polars", duck, spark):
        r = evaluate(path, kpis, engine=engine, by="team", every="1mo").frame.collect()
        sept = r.filter(pl.col("period").dt.month() == 9).sort("team", nulls_last=True)
        # team A in September: cost 200 + 50 (the null is left out), orders 20 + 5 + 7,
        # 2 contacts handled; centre-wide rows (null team) are their own group
        assert sept["centre_cost"].to_list() == [250.0, 9.0]
        assert sept["cost_per_order"].to_list() == [250.0 / 32, 9.0 / 3]
        assert sept["cost_per_contact"].to_list()[0] == 125.0
        days = evaluate(path, kpis, engine=engine, every="1d").frame.collect()
        row = days.filter(pl.col("period").dt.day() == 6).row(0, named=True)
        assert (row["centre_cost"], row["period"].hour) == (53.0, 1)  # midnight skipped
        assert row["cost_per_contact"] == 53.0 / 2
    for engine in (duck, spark):
        for every in (None, "1d", "1w", "1mo", "1q"):
            same(path, kpis, engine, by="team", every=every)
        same(path, kpis, engine, every="1mo", start="2026-09-01", end="2026-10-01")


# ---- ACD interval reports -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def intervals(samples_dir, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample's January inbound contacts as a 15-minute ACD interval report (T 20 s, short
    abandons < 5 s), with holes: a queue's talk times unknown, one interval's counts missing."""
    from kpi.io import contacts_to_intervals

    lf = pl.scan_parquet(samples_dir / "contacts.parquet")
    tz = lf.collect_schema()["arrival_ts"].time_zone
    contacts = lf.filter(
        (pl.col("outcome") != "outbound") & (pl.col("arrival_ts").dt.month() == 1)
    ).collect()
    iv = contacts_to_intervals(contacts.lazy(), threshold_s=20, short_abandon_s=5).collect()
    first = pl.int_range(pl.len()) == 0
    iv = iv.with_columns(
        pl.when(pl.col("queue") == iv["queue"][0]).then(None).otherwise("talk_s").alias("talk_s"),
        pl.when(first).then(None).otherwise("answered_within_threshold")
        .alias("answered_within_threshold"),
    )  # fmt: skip
    path = tmp_path_factory.mktemp("intervals") / "iv"
    meta = {"timezone": tz, "interval_threshold_s": 20, "interval_short_abandon_s": 5}
    save({"intervals": iv}, path, meta=meta)
    return str(path)


def test_intervals_duckdb(intervals, duck):
    from kpi.compute import availability

    found = availability(intervals, KPIS)
    kpis = [k for k in KPIS if found[k].ok]
    assert {"service_level", "aht", "abandon_rate", "longest_wait", "transfer_rate"} <= set(kpis)
    params = {"service_level.short_abandon_s": 5}
    for every in (None, "15m", "1d"):
        same(intervals, kpis, duck, by="queue", every=every, params=params)
    same(intervals, KPIS, duck, by="team", every="1w")


def test_intervals_spark(intervals, spark):
    same(intervals, KPIS, spark, by="queue", every="1d")


# ---- the real February 1999 call log --------------------------------------------------------


@pytest.fixture(scope="module")
def technion(shared_datasets, tmp_path_factory: pytest.TempPathFactory) -> str:
    from kpi.io import import_file

    out = tmp_path_factory.mktemp("technion") / "data"
    import_file(shared_datasets / TECHNION, preset="technion", out=out)
    return str(out)


def technion_kpis(path: str) -> list[str]:
    from kpi.compute import availability

    found = availability(path, KPIS)
    return [k for k in KPIS if found[k].ok]


def test_technion_duckdb(technion, duck):
    kpis = technion_kpis(technion)
    assert len(kpis) >= 10
    for every in (None, "30m", "1d"):
        same(technion, kpis, duck, by="queue", every=every)


def test_technion_spark(technion, spark):
    same(technion, technion_kpis(technion), spark, by="queue", every="1d")


# ---- what the engines refuse ----------------------------------------------------------------


def test_polars_only_measures_are_named(samples_dir, duck):
    from kpi.metrics import Measure

    only = Measure(
        "only_polars", "a polars builder", builder=lambda ctx: None, tables=("contacts",)
    )
    with pytest.raises(KpiError, match=r"cannot compute only_polars \(sum: a polars builder\)"):
        measure_frame(str(samples_dir), [factories.answered(), only], engine=duck)
    with pytest.raises(KpiError, match="chunk"):
        evaluate(str(samples_dir), "aht", engine=duck, every="1mo", chunk="1y")


def test_kpi_the_data_cannot_support_is_refused_alike(samples_dir, duck):
    """forecast_accuracy on the sample (no forecasts stored): the same one line on polars and
    on a SQL engine, not a traceback and not a 0."""
    lines = []
    for engine in ("polars", duck):
        with pytest.raises(KpiError) as err:
            evaluate(str(samples_dir), ["forecast_accuracy"], engine=engine)
        lines.append(str(err.value))
    assert lines[0] == lines[1]
    assert "\n" not in lines[0]
    assert lines[0].startswith("cannot compute forecast_accuracy from this data: no forecasts")


def test_cli_refuses_in_one_line(samples_dir, capsys):
    from kpi.cli import main

    args = [
        "compute",
        "--data",
        str(samples_dir),
        "--metrics",
        "aht,agent_attrition",
        "--every",
        "1mo",
        "--chunk",
        "1y",
        "--engine",
        "duckdb",
    ]
    assert main(args) == 2
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1
    assert "chunk= is for the polars engine; engine 'duckdb' needs none" in lines[0]
    assert "Traceback" not in out.err


def test_frames_in_memory_are_refused(duck):
    t = datetime(2026, 1, 5, 9, tzinfo=UTC)
    contacts = pl.DataFrame({"arrival_ts": [t], "outcome": ["answered"]})
    with pytest.raises(KpiError, match="reads Parquet files"):
        evaluate({"contacts": contacts}, "contacts_answered", engine=duck).frame.collect()


def test_engine_names():
    assert ENGINES == ("polars", "duckdb", "spark")
    with pytest.raises(KpiError, match="unknown engine 'pandas'"):
        open_engine("pandas")


# ---- dbt MetricFlow export -------------------------------------------------------------------


#: dbt-semantic-interfaces' own parser and validator over our YAML, run where it is importable
#: (in-process, or by the interpreter named in ``KPI_METRICFLOW_PYTHON``, e.g. a throwaway
#: venv: docs/scale-out.md). dbt's project YAML writes ``model: ref('t')`` where the parsed
#: manifest has ``node_relation``, and a project declares a time spine: both as dbt would.
VALIDATE_DSI = """
import sys, yaml
from dbt_semantic_interfaces.parsing.dir_to_model import (
    parse_yaml_files_to_validation_ready_semantic_manifest,
)
from dbt_semantic_interfaces.parsing.objects import YamlConfigFile
from dbt_semantic_interfaces.validations.semantic_manifest_validator import (
    SemanticManifestValidator,
)

doc = yaml.safe_load(sys.stdin.read())
spine = {"node_relation": {"alias": "metricflow_time_spine", "schema_name": "main"},
         "primary_column": {"name": "ts_second", "time_granularity": "second"}}
docs = [{"project_configuration": {"time_spines": [spine]}}]
for m in doc["semantic_models"]:
    m = dict(m)
    m["node_relation"] = {"alias": m.pop("model")[5:-2], "schema_name": "main"}
    docs.append({"semantic_model": m})
docs += [{"metric": m} for m in doc["metrics"]]
text = yaml.safe_dump_all(docs, sort_keys=False)
built = parse_yaml_files_to_validation_ready_semantic_manifest(
    [YamlConfigFile(filepath="kpi_semantic.yml", contents=text)], apply_transformations=True
)
result = SemanticManifestValidator().validate_semantic_manifest(built.semantic_manifest)
for issue in [*built.issues.errors, *result.errors, *result.warnings]:
    print(issue.as_readable_str().replace("\\n", " "))
print(len(built.semantic_manifest.semantic_models), len(built.semantic_manifest.metrics))
"""


def dsi_report(text: str) -> list[str] | None:
    """dbt-semantic-interfaces' findings on ``text`` (last line: models, metrics), or None."""
    import os
    import subprocess

    python = os.environ.get("KPI_METRICFLOW_PYTHON")
    try:
        import dbt_semantic_interfaces  # noqa: F401

        python = sys.executable
    except ImportError:
        if not python:
            return None
    run = subprocess.run(
        [python, "-c", VALIDATE_DSI], input=text, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip().splitlines()


def test_metricflow_yaml_validates():
    """Against dbt-semantic-interfaces where it is importable (or KPI_METRICFLOW_PYTHON names
    an interpreter with it), and always against the documented shape, a JSON schema kept in
    tests/data/metricflow_shape.json (the subset of DSI's own schemas this export uses)."""
    import json

    import jsonschema
    import yaml

    from kpi.engines._metricflow import metricflow_yaml

    text = metricflow_yaml()
    doc = yaml.safe_load(text)
    schema = json.loads((Path(__file__).parent / "data" / "metricflow_shape.json").read_text())
    jsonschema.validate(doc, schema)
    report = dsi_report(text)
    if report is not None:
        assert report[:-1] == []
        assert report[-1] == f"{len(doc['semantic_models'])} {len(doc['metrics'])}"
    # what the schema cannot say: every reference resolves, names and labels are unique
    measures = {m["name"]: m for model in doc["semantic_models"] for m in model["measures"]}
    metrics = {m["name"]: m for m in doc["metrics"]}
    assert len(metrics) == len(doc["metrics"])
    labels = [m["label"] for m in doc["metrics"] if "label" in m]
    assert len(set(labels)) == len(labels)
    for model in doc["semantic_models"]:
        time_dims = {d["name"] for d in model["dimensions"] if d["type"] == "time"}
        assert model["defaults"]["agg_time_dimension"] in time_dims
        for m in model["measures"]:
            assert (
                m.get("agg_time_dimension", model["defaults"]["agg_time_dimension"]) in time_dims
            )
    for metric in doc["metrics"]:
        tp = metric["type_params"]
        if metric["type"] == "simple":
            assert tp["measure"] in measures
        elif metric["type"] == "ratio":
            assert tp["numerator"]["name"] in metrics
            assert tp["denominator"]["name"] in metrics
        else:
            assert all(i["name"] in metrics for i in tp["metrics"])
    sl = metrics["service_level"]
    assert sl["type_params"] == {
        "numerator": {"name": "answered_within_objective"},
        "denominator": {"name": "answered_plus_abandoned_realtime"},
    }
    assert metrics["answered_within_objective"]["type_params"] == {
        "measure": "answered_within_objective"
    }
    assert "service_level_denominator_offered" in metrics
    expr = measures["answered_within_objective"]["expr"]
    assert expr.startswith("CASE WHEN outcome = 'answered' AND (CASE WHEN channel = 'voice' THEN")
    assert "WHEN channel = 'chat' THEN CAST(60.0 AS DOUBLE)" in expr
    assert "WHEN channel = 'email' THEN CAST(NULL AS DOUBLE)" in expr
    assert {m["name"] for m in doc["semantic_models"]} >= {"contacts", "tickets", "surveys"}


def test_metricflow_yaml_is_refused_by_the_validators_when_wrong():
    """The shape check bites: a measure name with a double underscore, an unknown key."""
    import json

    import jsonschema
    import yaml

    from kpi.engines._metricflow import metricflow_yaml

    schema = json.loads((Path(__file__).parent / "data" / "metricflow_shape.json").read_text())
    doc = yaml.safe_load(metricflow_yaml())
    doc["metrics"][0]["name"] = "service__level"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
    doc = yaml.safe_load(metricflow_yaml())
    doc["metrics"][0]["meta"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_metricflow_expressions_give_the_engine_numbers(samples_dir, duck):
    """Each exported measure (row expr + agg), run in DuckDB over its table, equals the polars
    measure, for every semantic model (contacts, tickets, agent time, surveys, QA, ...)."""
    import yaml

    from kpi.engines._metricflow import metricflow_yaml

    ms = {m.name: m for metric in METRICS.values() for m in metric.build().measures}
    for model in yaml.safe_load(metricflow_yaml())["semantic_models"]:
        wanted = [m for m in model["measures"] if m["name"] in ms]
        table = model["name"]
        sql = ", ".join(
            f"{'count(DISTINCT' if m['agg'] == 'count_distinct' else m['agg'] + '('} {m['expr']})"
            for m in wanted
        )
        tcols = [d["name"] for d in model["dimensions"] if d["type"] == "time"]
        where = " AND ".join(f"{c} IS NOT NULL" for c in tcols[:1])
        row = duck.run(f"SELECT {sql} FROM read_parquet('{samples_dir}/{table}.parquet') "
                       f"WHERE {where}")[0]  # fmt: skip
        for m, b in zip(wanted, row, strict=True):
            measure = ms[m["name"]]
            frame, _ = measure_frame(str(samples_dir), [measure])
            a = frame.collect()[measure.name].item()
            if measure.sources[0].time not in (None, tcols[0]):
                continue  # placed by another stamp: the polars frame drops its null rows
            assert b == pytest.approx(a, rel=1e-9), m["name"]


def test_cli_metricflow_and_engine(samples_dir, capsys):
    from kpi.cli import main

    assert main(["metrics", "--format", "metricflow"]) == 0
    assert "semantic_models:" in capsys.readouterr().out
    args = ["compute", "--data", str(samples_dir), "--metrics", "aht,service_level"]
    assert main([*args, "--by", "team", "--format", "json", "--engine", "duckdb"]) == 0
    duck_out = capsys.readouterr().out
    assert main([*args, "--by", "team", "--format", "json"]) == 0
    assert capsys.readouterr().out == duck_out
