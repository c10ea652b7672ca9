"""Parity: the same KPI declarations give the same numbers on polars, DuckDB and PySpark.

Every KPI whose measures all have a SQL form (:func:`sql_kpis`) is computed on each engine and
compared with polars, frame to frame: same groups, same bins, same dtypes, values to 1e-9
relative, nulls equal. Data: the committed sample, hand-made DST-change days in four zones
(whole-hour, half-hour and 45-minute offsets), a generated year (repeat contacts, DST months),
edge cases (nulls, unknown groups, bin and range edges) and, where ``../shared`` is present, the
real February 1999 call log after ``kpi import --preset technion``. Spark tests skip with the
reason when PySpark or Java is missing; they share one local session with 2 cores.
"""

from __future__ import annotations

import shutil
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


def sql_kpis(params: dict | None = None) -> list[str]:
    """KPIs whose measures (under ``params``) all have a SQL form for their contact source."""
    out = []
    for kpi_id, metric in METRICS.items():
        p = {k.split(".")[1]: v for k, v in (params or {}).items() if k.split(".")[0] == kpi_id}
        build = metric.build(p)
        ok = all(
            m.builder is None and m.sources and m.sources[0].table == "contacts"
            and m.sources[0].sql is not None
            for m in build.measures
        )  # fmt: skip
        if ok:
            out.append(kpi_id)
    return out


KPIS = sql_kpis()


def spark_or_skip():
    if shutil.which("java") is None:
        pytest.skip("Spark tests need Java 17+ (Debian: apt-get install openjdk-17-jre-headless)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("Spark tests need PySpark: pip install 'kpi-workbench[spark]'")
    from kpi.engines import local_spark

    return local_spark(2)


@pytest.fixture(scope="module")
def spark():
    return spark_or_skip()


@pytest.fixture(scope="module")
def duck():
    return open_engine("duckdb")


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


def test_supported_kpis_cover_the_contact_scorecard():
    assert len(KPIS) >= 21
    for k in ("service_level", "aht", "handled_per_agent", "contacts_per_customer"):
        assert k in KPIS
    for k in ("fcr", "max_in_queue", "peak_hour_traffic", "csat"):
        assert k not in KPIS


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
            "outcome": [outcomes[i % len(outcomes)] for i in range(n)],
            "wait_s": [float(i % 50) for i in range(n)],
            "talk_s": [100.0 + i % 17 for i in range(n)],
            "hold_s": [float(i % 3) for i in range(n)],
            "acw_s": [10.5 + i % 4 for i in range(n)],
            "transferred": [i % 9 == 0 for i in range(n)],
        },
    ).with_columns(pl.col("arrival_ts").dt.replace_time_zone("UTC").dt.convert_time_zone(tz))
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
    """Nulls where they matter, a team with no talk times, rows on bin and range edges."""
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
        }
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone("Europe/London"))
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


def test_polars_only_kpis_are_named(samples_dir, duck):
    with pytest.raises(KpiError, match=r"cannot compute fcr \(needs fcr_resolved_7d"):
        evaluate(str(samples_dir), ["aht", "fcr"], engine=duck)
    with pytest.raises(KpiError, match="attribution"):
        evaluate(str(samples_dir), "aht", engine=duck, attribution="answer")
    with pytest.raises(KpiError, match="chunk"):
        evaluate(str(samples_dir), "aht", engine=duck, every="1mo", chunk="1y")


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


def test_metricflow_yaml_has_the_documented_shape():
    """Checked against MetricFlow's documented shape (dbt semantic models and metrics pages);
    the metricflow-semantic-interfaces validator was not installed here."""
    import yaml

    from kpi.engines._metricflow import metricflow_yaml

    doc = yaml.safe_load(metricflow_yaml())
    assert set(doc) == {"semantic_models", "metrics"}
    measures = {}
    for model in doc["semantic_models"]:
        assert {"name", "model", "defaults", "entities", "dimensions", "measures"} <= set(model)
        time_dims = {d["name"] for d in model["dimensions"] if d["type"] == "time"}
        assert model["defaults"]["agg_time_dimension"] in time_dims
        for d in model["dimensions"]:
            assert d["type"] in ("time", "categorical")
        for m in model["measures"]:
            assert m["agg"] in ("sum", "max", "min", "count_distinct", "average", "count")
            assert m["expr"]
            measures[m["name"]] = m
    names = {m["name"] for m in doc["metrics"]}
    for metric in doc["metrics"]:
        tp = metric["type_params"]
        assert metric["type"] in ("simple", "ratio", "derived")
        if metric["type"] == "simple":
            assert tp["measure"] in measures
        elif metric["type"] == "ratio":
            assert tp["numerator"] in measures
            assert tp["denominator"] in measures
        else:
            assert all(i["name"] in names for i in tp["metrics"])
    sl = next(m for m in doc["metrics"] if m["name"] == "service_level")
    assert sl["type_params"] == {
        "numerator": "answered_within_objective",
        "denominator": "answered_plus_abandoned_realtime",
    }
    assert "service_level__denominator_offered" in names
    expr = measures["answered_within_objective"]["expr"]
    assert expr.startswith("CASE WHEN outcome = 'answered' AND (CASE WHEN channel = 'voice' THEN")
    assert "WHEN channel = 'chat' THEN CAST(60.0 AS DOUBLE)" in expr
    assert "WHEN channel = 'email' THEN CAST(NULL AS DOUBLE)" in expr


def test_metricflow_expressions_give_the_engine_numbers(samples_dir, duck):
    """Each exported measure (row expr + agg) run in DuckDB equals the polars measure."""
    import yaml

    from kpi.engines._metricflow import metricflow_yaml

    model = yaml.safe_load(metricflow_yaml())["semantic_models"][0]
    ms = {m.name: m for k in KPIS for m in METRICS[k].build().measures}
    wanted = [m for m in model["measures"] if m["name"] in ms]
    sql = ", ".join(
        f"{'count(DISTINCT' if m['agg'] == 'count_distinct' else m['agg'] + '('} {m['expr']})"
        for m in wanted
    )
    row = duck.run(f"SELECT {sql} FROM read_parquet('{samples_dir}/contacts.parquet')")[0]
    frame, _ = measure_frame(str(samples_dir), [ms[m["name"]] for m in wanted])
    polars_row = frame.collect().row(0)
    for m, a, b in zip(wanted, polars_row, row, strict=True):
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
