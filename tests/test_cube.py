"""The measure cube (``kpi.cube``): roll-ups from it equal the rows, it is used where it answers,
and it is never used stale.

The property test compares ``evaluate(..., cube=False)`` (rows) with ``evaluate(...)`` (the
cube where it answers) over every catalogue KPI, grains, dimension subsets, ranges (aligned or
not, across both DST changes) and attributions: same columns, same nulls, values within 1e-9.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import kpi
from kpi import cube
from kpi.cli import main
from kpi.compute import dataset_params
from kpi.errors import KpiError
from kpi.metrics import METRICS
from kpi.periods import GRAINS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _contacts_gen import TZ, generate_contacts

KPIS = sorted(METRICS)


def _uses_cube(frame: pl.LazyFrame) -> bool:
    return ".kpi-cube" in frame.explain()


def _reads_contacts(frame: pl.LazyFrame) -> bool:
    return "contacts.parquet" in frame.explain()


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year of generated contacts (both DST changes), with unknown groups: team T03's handle
    times are null through February, ``resolved`` is null for T05 in March."""
    df = generate_contacts(30_000, seed=3)
    month = pl.col("arrival_ts").dt.month()
    t03 = (pl.col("team") == "T03") & (month == 2)
    df = df.with_columns(
        [
            pl.when(t03).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("talk_s", "hold_s", "acw_s")
        ]
        + [
            pl.when((pl.col("team") == "T05") & (month == 3))
            .then(None)
            .otherwise(pl.col("resolved"))
            .alias("resolved")
        ]
    )
    root = tmp_path_factory.mktemp("gen") / "data"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    cube.build(root, partition_rows=12_000)  # in 3 partitions by customer
    return root


@pytest.fixture(scope="module")
def sample_dir(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample dataset (every table; DST on 2026-03-29), copied, with its cube."""
    root = tmp_path_factory.mktemp("sample") / "data"
    shutil.copytree(samples_dir, root, ignore=shutil.ignore_patterns(".kpi-cube"))
    cube.build(root, params=dataset_params(kpi.load(root)))
    return root


def _same(ds: kpi.Dataset, kpi_id: str, **kw: object) -> bool:
    """Rows and cube agree (or both refuse alike); True when the cube answered something."""
    try:
        rows = kpi.evaluate(ds, kpi_id, cube=False, **kw)
    except KpiError as exc:
        refused = str(exc)
    else:
        refused = None
    if refused is not None:
        with pytest.raises(KpiError) as again:
            kpi.evaluate(ds, kpi_id, **kw)
        assert str(again.value) == refused
        return False
    fast = kpi.evaluate(ds, kpi_id, **kw)
    assert fast.notes == rows.notes
    assert fast.definitions == rows.definitions
    a, b = rows.frame.collect(), fast.frame.collect()
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
    return _uses_cube(fast.frame)


def _range(draw: st.DrawFn, days: list[date], tz: str) -> dict[str, object]:
    kind = draw(st.sampled_from(["none", "days", "quarter", "odd", "period"]))
    if kind == "none":
        return {}
    day = draw(st.sampled_from(days))
    span = draw(st.integers(0, 70))
    if kind == "days":
        return {"start": day, "end": day + timedelta(days=span)}
    if kind == "period":
        return {"period": kpi.periods.parse_period(day.strftime("%Y-%m"))}
    minute = 15 * draw(st.integers(0, 3)) if kind == "quarter" else draw(st.integers(1, 14))
    lo = datetime(
        day.year, day.month, day.day, draw(st.integers(0, 23)), minute, tzinfo=ZoneInfo(tz)
    )
    return {"start": lo, "end": lo + timedelta(days=span, hours=draw(st.integers(1, 30)))}


@st.composite
def queries(draw: st.DrawFn, days: list[date], tz: str, dims: list[str]) -> tuple[str, dict]:
    kpi_id = draw(st.sampled_from(KPIS))
    kw: dict[str, object] = {
        "every": draw(st.sampled_from([None, *GRAINS])),
        "by": tuple(draw(st.lists(st.sampled_from(dims), max_size=2, unique=True))),
        **_range(draw, days, tz),
    }
    if draw(st.integers(0, 9)) == 0:
        kw["attribution"] = draw(st.sampled_from(["answer", "completion"]))
    if draw(st.integers(0, 9)) == 0:
        kw["params"] = {"service_level.threshold_s": 30, "fcr.window_days": 3}
    return kpi_id, kw


_DST_2025 = [date(2025, 3, 30), date(2025, 10, 26), date(2025, 3, 29), date(2025, 10, 25)]
_GEN_DAYS = [*_DST_2025, date(2025, 1, 1), date(2025, 2, 3), date(2025, 6, 15), date(2025, 12, 1)]
_SAMPLE_DAYS = [date(2026, 3, 29), date(2026, 3, 28), date(2026, 1, 1), date(2026, 2, 10)]
_CONTACT_DIMS = ["site", "team", "queue", "channel", "topic", "direction", "agent_id"]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=queries(_GEN_DAYS, TZ, _CONTACT_DIMS))
def test_cube_equals_rows_generated(gen_dir: Path, q: tuple[str, dict]) -> None:
    kpi_id, kw = q
    _same(kpi.load(gen_dir), kpi_id, **kw)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=queries(_SAMPLE_DAYS, "Europe/London", _CONTACT_DIMS))
def test_cube_equals_rows_sample(sample_dir: Path, q: tuple[str, dict]) -> None:
    kpi_id, kw = q
    _same(kpi.load(sample_dir), kpi_id, **kw)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=queries(_GEN_DAYS, TZ, _CONTACT_DIMS))
def test_distinct_customers_cube_equals_rows(gen_dir: Path, q: tuple[str, dict]) -> None:
    """Contacts per customer (inbound contacts of known customers over distinct customers:
    outbound contacts and null ``customer_id`` left out) from the cube's sets equal the rows',
    at every grain, dimensions and ranges, DST days included."""
    _, kw = q
    _same(kpi.load(gen_dir), "contacts_per_customer", **kw)


def test_distinct_customers_by_hand(tmp_path: Path) -> None:
    """A customer twice in a day counts once that day and once over two days; outbound
    contacts and unknown customers are not customers contacting."""
    ts = [datetime(2025, 3, 30, h, tzinfo=ZoneInfo(TZ)) for h in (0, 3, 5, 6, 7)]
    ts.append(datetime(2025, 3, 31, 9, tzinfo=ZoneInfo(TZ)))
    df = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(6)],
            "channel": ["voice"] * 6,
            "queue": ["Q1"] * 6,
            "outcome": ["answered", "answered", "outbound", "answered", "abandoned", "answered"],
            "customer_id": ["A", "A", "B", None, "C", "A"],
            "arrival_ts": ts,
        }
    )
    root = tmp_path / "data"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    cube.build(root)
    got = kpi.evaluate(kpi.load(root), "contacts_per_customer", every="1d").frame
    assert _uses_cube(got)
    assert not _reads_contacts(got)
    day = got.collect().sort("period")
    # 30 March: A, A, C known inbound (3 contacts, 2 customers); 31 March: A once
    assert day["contacts_per_customer"].to_list() == [1.5, 1.0]
    whole = kpi.evaluate(kpi.load(root), "contacts_per_customer").frame.collect()
    assert whole["contacts_per_customer"].to_list() == [2.0]  # 4 contacts, A and C


def test_customers_first_seen_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Customers counted from first contacts (more customers than bit sets hold): London's
    repeated hour on 26 October 2025 is two hours, a week is Monday to Sunday, and a
    customer seen in two hours, two days or two weeks counts once in each and once overall."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 1)
    z = ZoneInfo(TZ)
    bst = datetime(2025, 10, 26, 0, 10, tzinfo=UTC)  # 01:10 BST
    ts = [
        bst.astimezone(z),  # A, 01:10 BST
        (bst + timedelta(hours=1, minutes=10)).astimezone(z),  # A, 01:20 GMT: another hour
        (bst + timedelta(hours=1, minutes=20)).astimezone(z),  # B, 01:30 GMT
        datetime(2025, 10, 27, 9, tzinfo=z),  # A, Monday: the next week
        datetime(2025, 10, 27, 9, 5, tzinfo=z),  # A again, same quarter hour
    ]
    df = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(5)],
            "channel": ["voice"] * 5,
            "queue": ["Q1", "Q1", "Q2", "Q1", "Q2"],
            "outcome": ["answered"] * 5,
            "customer_id": ["A", "A", "B", "A", "A"],
            "arrival_ts": ts,
        }
    )
    root = tmp_path / "data"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    cube.build(root)
    ds = kpi.load(root)

    def customers(**kw: object) -> list[object]:
        frame = kpi.evaluate(ds, "contacts_per_customer", **kw).frame
        assert _uses_cube(frame)
        assert not _reads_contacts(frame)
        got = frame.collect().sort(["period", *([kw["by"]] if "by" in kw else [])])
        return got.select(pl.exclude("period", "contacts_per_customer")).rows()

    # (contacts, customers): 01:00 BST A; 01:00 GMT A and B; Monday 09:00 A twice
    assert customers(every="1h") == [(1, 1), (2, 2), (2, 1)]
    assert customers(every="1d") == [(3, 2), (2, 1)]
    assert customers(every="1w") == [(3, 2), (2, 1)]  # Sunday 26th, then Monday 27th
    assert customers(every="1mo") == [(5, 2)]
    assert customers(every="1mo", by="queue") == [("Q1", 3, 1), ("Q2", 2, 2)]
    assert customers(every="15m", by="queue", start=date(2025, 10, 27)) == [
        ("Q1", 1, 1),
        ("Q2", 1, 1),
    ]


def test_customers_by_a_pair_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Customers of whole days, weeks and months by a pair of dimensions (queue and topic) are
    summed from their own first-contact counts (not the sets, nor the rows), in either order:
    A in (Q1, billing) on Monday and Tuesday counts once that week, B in (Q1, billing) and
    (Q2, billing) once in each pair."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 1)
    z = ZoneInfo(TZ)
    day = [datetime(2025, 11, d, 9, tzinfo=z) for d in (3, 4, 4, 4, 10)]  # Mon, Tue x3, Mon
    df = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(5)],
            "channel": ["voice"] * 5,
            "queue": ["Q1", "Q1", "Q1", "Q2", "Q1"],
            "topic": ["billing", "billing", "billing", "billing", "sales"],
            "outcome": ["answered"] * 5,
            "customer_id": ["A", "A", "B", "B", "A"],
            "arrival_ts": day,
        }
    )
    root = tmp_path / "data"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    cube.build(root)
    ds = kpi.load(root)
    for by in (["queue", "topic"], ["topic", "queue"]):
        for every, want in (
            ("1d", [(1, 1), (2, 2), (1, 1), (1, 1)]),  # Mon (Q1,b) A; Tue (Q1,b) A B, (Q2,b) B
            ("1w", [(3, 2), (1, 1), (1, 1)]),  # week 1 (Q1,b) A B, (Q2,b) B; week 2 (Q1,s) A
            ("1mo", [(3, 2), (1, 1), (1, 1)]),  # (Q1,b) A B; (Q1,s) A; (Q2,b) B
        ):
            frame = kpi.evaluate(ds, "contacts_per_customer", every=every, by=by).frame
            plan = frame.explain()
            assert ".first.1d.queue-topic." in plan  # the pair's counts
            assert not _reads_contacts(frame)
            got = frame.collect().sort(["period", "queue", "topic"])
            pair = got.select("identified_contacts", "customers_contacting").rows()
            assert pair == want, (by, every)
            _same(ds, "contacts_per_customer", every=every, by=by)


def _customers_dir(tmp_path: Path) -> Path:
    """Two days of contacts; customer A on both."""
    z = ZoneInfo(TZ)
    df = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(4)],
            "channel": ["voice"] * 4,
            "queue": ["Q1", "Q2", "Q1", "Q1"],
            "outcome": ["answered"] * 4,
            "customer_id": ["A", "B", "A", "A"],
            "arrival_ts": [
                datetime(2025, 3, d, h, tzinfo=z) for d, h in ((3, 9), (3, 10), (4, 9), (4, 11))
            ],
        }
    )
    root = tmp_path / "data"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    return root


def test_customers_sharing_a_hash_are_counted_from_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the counts find two customers with one hash, neither the counts nor the day sets
    (made beside them) are kept, and the rows answer, exactly."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 1)
    from kpi.cube._counts import Counts

    monkeypatch.setattr(kpi.cube._build, "customer_counts", lambda *a, **k: Counts(False, []))
    root = _customers_dir(tmp_path)
    where = cube.build(root)
    levels = json.loads((where / "cube.json").read_text())["levels"]
    assert levels
    assert not [lv["level"] for lv in levels if "customer_id" in lv["level"]]
    assert not [f for f in where.iterdir() if "._h" in f.name]  # the sets' files removed
    frame = kpi.evaluate(kpi.load(root), "contacts_per_customer", every="1d").frame
    assert _reads_contacts(frame)
    got = frame.collect().sort("period")["contacts_per_customer"].to_list()
    assert got == [1.0, 2.0]  # 3 March: A, B; 4 March: A twice


def test_an_error_while_counting_customers_stops_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts run beside the chunks' groupings; their error is the build's."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 1)

    def fail(*a: object, **k: object) -> None:
        raise MemoryError("counting customers")

    monkeypatch.setattr(kpi.cube._build, "customer_counts", fail)
    root = _customers_dir(tmp_path)
    with pytest.raises(MemoryError, match="counting customers"):
        cube.build(root)
    assert not (cube.cube_dir(root) / "cube.json").exists()


def test_a_stray_date_decades_away_costs_one_quarter_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export's placeholder date (1925) beside a year of contacts: customers are counted
    over the quarter hours and days present, not a century of them (a dense range took 40 s
    and 7.3 GB for 20,000 contacts; now about a second), and stay exact."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 16)
    df = generate_contacts(3_000, seed=9)
    stray = datetime(1925, 1, 1, 9, tzinfo=ZoneInfo(TZ))
    df = pl.concat(
        [
            df.head(1).with_columns(
                pl.lit(stray).cast(df.schema["arrival_ts"]).alias("arrival_ts"),
                pl.lit("answered").alias("outcome"),
                pl.col("customer_id").fill_null("C1"),
            ),
            df.slice(1),
        ]
    )
    root = tmp_path / "s"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    meta = json.loads((cube.build(root) / "cube.json").read_text())
    quarters = [
        lv["rows"] for lv in meta["levels"] if lv["level"] == "first customer_id by 15m, nothing"
    ]
    assert quarters
    assert quarters[0] < 35_040  # the quarter hours with contacts, not a century
    ds = kpi.load(root)
    for kw in [
        {"every": "1y"},
        {"every": "1d", "by": "team"},
        {"every": "1h", "start": stray.date()},
    ]:
        assert _same(ds, "contacts_per_customer", **kw), kw


def test_an_integer_priority_is_a_dimension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Technion call log's priority is an integer: the cube keeps it by the quarter hour,
    sweeps the queue and counts customers by it, with integer values, as the rows do."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 16)
    df = generate_contacts(3_000, seed=7).with_columns(
        (pl.col("contact_id").hash(seed=1) % 3).cast(pl.Int64).alias("priority")
    )
    root = tmp_path / "p"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    cube.build(root)
    ds = kpi.load(root)
    for kpi_id, kw in [
        ("aht", {"every": "15m", "by": "priority", "start": date(2025, 3, 30)}),
        ("max_in_queue", {"every": "1h", "by": "priority", "start": date(2025, 10, 26)}),
        ("contacts_per_customer", {"every": "1w", "by": "priority"}),
        ("contacts_per_customer", {"every": "1h", "by": "priority", "start": date(2025, 6, 1)}),
    ]:
        assert _same(ds, kpi_id, **kw), kpi_id
        got = kpi.evaluate(ds, kpi_id, **kw).frame.collect()
        assert got.schema["priority"] == pl.Int64
        assert got["priority"].n_unique() == 3


# ---- where the cube answers, and where it must not ---------------------------------------


@pytest.mark.parametrize(
    ("kpi_id", "kw"),
    [
        ("service_level", {"every": "1d"}),
        ("aht", {"every": "1w", "by": "topic"}),
        ("fcr", {"every": "1mo", "by": "team"}),
        ("abandon_rate", {"every": "15m", "by": ("queue", "channel")}),
        ("asa", {"every": "30m", "start": date(2025, 3, 30), "end": date(2025, 3, 30)}),
        ("transfer_rate", {"every": "1h", "start": date(2025, 10, 26), "end": date(2025, 10, 26)}),
        ("resolution_rate", {"every": "1q", "by": ("site", "topic")}),
        ("contacts_offered", {}),
        ("longest_wait", {"every": "1h", "by": "queue"}),  # a maximum of cell maxima
        ("handled_per_agent", {"every": "1w", "by": "team"}),  # bit sets of agents
        ("sales_per_agent", {"every": "1mo", "start": date(2025, 3, 1)}),
        ("handled_per_agent", {"every": "1h", "by": "queue", "start": date(2025, 3, 30)}),
        ("aht", {"every": "1d", "by": "agent_id"}),  # the agent levels
        ("fcr", {"every": "1mo", "by": ("team", "agent_id")}),
        ("transfer_rate", {"period": kpi.periods.parse_period("2025-03"), "by": "agent_id"}),
        # the busiest hour from hourly sums by the dimensions asked for
        ("peak_hour_traffic", {"every": "1d"}),
        ("peak_hour_traffic", {"every": "1w", "by": "queue"}),
        (
            "peak_hour_traffic",
            {"every": "15m", "start": date(2025, 3, 30), "end": date(2025, 3, 30)},
        ),
        ("peak_hour_traffic", {"every": "30m", "by": "team", "start": date(2025, 10, 26)}),
        (
            "peak_hour_traffic",
            {"every": "1mo", "params": {"peak_hour_traffic.rank_by": "erlangs"}},
        ),
        ("peak_hour_traffic", {"by": ("site", "channel")}),
        ("peak_hour_traffic", {"every": "1h", "by": "queue", "start": date(2025, 10, 26)}),
        # the queue sweep, stored by each single dimension (and none) by quarter hour
        ("max_in_queue", {"every": "1d"}),
        ("max_in_queue", {"every": "15m", "by": "queue", "start": date(2025, 10, 26)}),
        ("max_in_queue", {"every": "1w", "by": "topic"}),
        ("max_in_queue", {"by": "team", "start": date(2025, 3, 29), "end": date(2025, 3, 31)}),
        # distinct customers (9,045: too many for bit sets): counted, or from their sets
        ("contacts_per_customer", {"every": "1d"}),
        ("contacts_per_customer", {"every": "1w", "by": "topic"}),
        ("contacts_per_customer", {"every": "1mo", "by": "team"}),
        ("contacts_per_customer", {"every": "1h", "by": "queue", "start": date(2025, 3, 30)}),
        ("contacts_per_customer", {"every": "15m", "start": date(2025, 10, 26)}),
        ("contacts_per_customer", {"every": "1d", "by": ("channel", "topic")}),
        ("contacts_per_customer", {"by": ("site", "queue")}),
        # whole bins from first contacts; a cut week from the sets by day
        ("contacts_per_customer", {"every": "1d", "by": "agent_id"}),
        ("contacts_per_customer", {"every": "1h", "by": "topic"}),
        ("contacts_per_customer", {"every": "30m", "by": "channel"}),
        ("contacts_per_customer", {"every": "1q"}),
        ("contacts_per_customer", {"every": "1y", "by": "site"}),
        ("contacts_per_customer", {"every": "1w", "by": "topic", "start": date(2025, 3, 5)}),
        ("contacts_per_customer", {"every": "1w", "by": "direction"}),
        # topic, direction by the quarter hour and hour: a level of their own
        ("aht", {"every": "1h", "by": "topic", "start": date(2025, 10, 26)}),
        ("service_level", {"every": "15m", "by": "direction", "start": date(2025, 3, 30)}),
        ("fcr", {"every": "1w", "by": "direction"}),
        ("peak_hour_traffic", {"every": "1d", "by": "topic"}),
        ("max_in_queue", {"every": "1h", "by": "direction"}),
        # the queue sweep by agent, per day (no quarter hours by agent)
        ("max_in_queue", {"every": "1d", "by": "agent_id"}),
        ("max_in_queue", {"every": "1w", "by": "agent_id", "start": date(2025, 3, 3)}),
        (
            "max_in_queue",
            {"by": "agent_id", "start": date(2025, 10, 25), "end": date(2025, 10, 28)},
        ),
        # the queue sweep by two dimensions, per day (no quarter hours by pairs)
        ("max_in_queue", {"every": "1d", "by": ("queue", "channel")}),
        ("max_in_queue", {"every": "1w", "by": ("topic", "team"), "start": date(2025, 3, 3)}),
        (
            "max_in_queue",
            {"by": ("channel", "topic"), "start": date(2025, 10, 25), "end": date(2025, 10, 28)},
        ),
        ("max_in_queue", {"every": "1mo", "by": ("site", "queue")}),
        # the busiest hour by a dimension and topic from each day's (no hours by both)
        ("peak_hour_traffic", {"every": "1d", "by": ("queue", "topic")}),
        (
            "peak_hour_traffic",
            {
                "every": "1mo",
                "by": ("topic", "channel"),
                "params": {"peak_hour_traffic.rank_by": "erlangs"},
            },
        ),
        (
            "peak_hour_traffic",
            {"by": ("site", "topic"), "start": date(2025, 3, 29), "end": date(2025, 3, 31)},
        ),
        # agents' busiest hours from each day's (agents have no hourly levels); by day, the
        # day's own cell
        ("peak_hour_traffic", {"every": "1w", "by": "agent_id"}),
        (
            "peak_hour_traffic",
            {"every": "1d", "by": "agent_id", "params": {"peak_hour_traffic.rank_by": "erlangs"}},
        ),
        ("peak_hour_traffic", {"every": "1d", "by": "agent_id", "start": date(2025, 10, 20)}),
        ("peak_hour_traffic", {"by": "agent_id", "start": date(2025, 3, 1)}),
        (
            "peak_hour_traffic",
            {"every": "1mo", "by": "agent_id", "params": {"peak_hour_traffic.rank_by": "erlangs"}},
        ),
    ],
)
def test_cube_answers_without_rows(gen_dir: Path, kpi_id: str, kw: dict) -> None:
    ds = kpi.load(gen_dir)
    assert _same(ds, kpi_id, **kw)
    frame = kpi.evaluate(ds, kpi_id, **kw).frame
    assert _uses_cube(frame)
    assert not _reads_contacts(frame)


@pytest.mark.parametrize(
    ("kpi_id", "kw"),
    [
        ("max_in_queue", {"every": "1h", "by": ("queue", "channel")}),  # pairs: by day only
        ("max_in_queue", {"every": "1d", "by": ("queue", "direction")}),  # not a stored pair
        ("max_in_queue", {"every": "1h", "by": "agent_id"}),  # agents swept by day only
        ("peak_hour_traffic", {"every": "1h", "by": ("queue", "topic")}),  # no hours by both
        ("peak_hour_traffic", {"every": "1d", "by": ("queue", "direction")}),  # not stored
        ("peak_hour_traffic", {"every": "1d", "attribution": "answer"}),
        # a week cut by the range: not a whole bin counted, and no sets by agent
        ("contacts_per_customer", {"every": "1w", "by": "agent_id", "start": date(2025, 3, 5)}),
        ("contacts_per_customer", {"every": "1h", "by": "agent_id"}),  # agents counted by day
        ("longest_wait", {"every": "1d", "params": {"longest_wait.population": "answered"}}),
        ("aht", {"every": "1h", "by": "agent_id"}),  # agents only by day and month
        ("aht", {"every": "1d", "by": ("queue", "agent_id")}),  # agents only with team
        ("aht", {"every": "1h", "by": ("queue", "topic")}),  # topic with others only by day
        ("aht", {"every": "1d", "by": ("queue", "direction")}),
        ("aht", {"every": "1d", "attribution": "completion"}),
        ("aht", {"every": "1d", "bin_offset": "6h"}),
        ("aht", {"every": "1d", "start": datetime(2025, 2, 1, 9, 7, tzinfo=ZoneInfo(TZ))}),
        ("service_level", {"every": "1d", "params": {"service_level.threshold_s": 30}}),
        ("fcr", {"every": "1mo", "params": {"fcr.window_days": 3}}),
        ("aht", {"every": "1d", "cube": False}),
    ],
)
def test_rows_where_the_cube_cannot_answer(gen_dir: Path, kpi_id: str, kw: dict) -> None:
    ds = kpi.load(gen_dir)
    frame = kpi.evaluate(ds, kpi_id, **kw).frame
    assert _reads_contacts(frame)
    kw.pop("cube", None)
    _same(ds, kpi_id, **kw)


def test_unknown_stays_unknown(gen_dir: Path) -> None:
    """T03's handle times are null through February: null by the cube as by the rows, while
    January's are known; a month mixing known and unknown days sums the known ones."""
    ds = kpi.load(gen_dir)
    kw = {"every": "1mo", "by": "team", "start": date(2025, 1, 1), "end": date(2025, 3, 31)}
    fast = kpi.evaluate(ds, "aht", **kw)
    assert _uses_cube(fast.frame)
    got = fast.frame.filter(pl.col("team") == "T03").collect()
    assert got["aht"].is_null().to_list() == [False, True, False]
    assert _same(ds, "aht", **kw)
    assert _same(ds, "resolution_rate", every="1d", by="team", start=date(2025, 3, 1))


def test_filtered_dataset_reads_rows(gen_dir: Path) -> None:
    ds = kpi.load(gen_dir)
    part = ds.restrict(start="2025-02-01", end="2025-02-28")
    frame = kpi.evaluate(part, "aht", every="1d").frame
    assert not _uses_cube(frame)
    small = ds.replace(contacts=ds["contacts"].filter(pl.col("team") == "T01"))
    assert not _uses_cube(kpi.evaluate(small, "aht", every="1d").frame)
    assert cube.find(small) is None
    assert cube.find(ds) is not None


def test_in_memory_dataset_reads_rows(gen_dir: Path) -> None:
    frames = {"contacts": pl.read_parquet(gen_dir / "contacts.parquet")}
    assert not _uses_cube(kpi.evaluate(frames, "aht", every="1d").frame)


def test_stale_cube_is_never_used_and_rebuilds_on_request(tmp_path: Path) -> None:
    df = generate_contacts(3_000, seed=5)
    root = tmp_path / "d"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    assert cube.find(root) is None
    assert not cube.info(root)["exists"]
    first = kpi.evaluate(root, "aht", every="1mo", cube=True)
    assert _uses_cube(first.frame)
    assert cube.info(root)["fresh"]
    time.sleep(0.01)
    kpi.save(kpi.Dataset({"contacts": df.head(2_000)}, tz=TZ), root)  # the data change
    assert not cube.info(root)["fresh"]
    ds = kpi.load(root)
    stale = kpi.evaluate(ds, "aht", every="1mo")
    assert not _uses_cube(stale.frame)
    assert _same(ds, "aht", every="1mo") is False
    again = kpi.evaluate(ds, "aht", every="1mo", cube=True)
    assert _uses_cube(again.frame)
    assert_frame_equal(again.frame.collect(), stale.frame.collect())
    files = sorted(p.name for p in (root / ".kpi-cube").iterdir())
    assert files.count("cube.json") == 1
    assert not any(f.endswith(".tmp") for f in files)
    assert len([f for f in files if f.endswith(".parquet")]) == len(cube.info(root)["levels"])
    assert cube.clear(root)
    assert not (root / ".kpi-cube").exists()
    assert not cube.clear(root)


def test_read_only_dataset_caches_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write a read-only directory")
    root = tmp_path / "ro"
    kpi.save(kpi.Dataset({"contacts": generate_contacts(1_000)}, tz=TZ), root)
    monkeypatch.setenv("KPI_CUBE_DIR", str(tmp_path / "cache"))
    root.chmod(0o555)
    try:
        where = cube.build(root)
        assert str(where).startswith(str(tmp_path / "cache"))
        assert cube.find(root) is not None
    finally:
        root.chmod(0o755)


def test_cli_build_info_clear(
    gen_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "c"
    shutil.copytree(gen_dir, root, ignore=shutil.ignore_patterns(".kpi-cube"))
    assert main(["cube", "info", "--data", str(root)]) == 0
    assert "no cube" in capsys.readouterr().out
    assert main(["cube", "build", "--data", str(root)]) == 0
    out = capsys.readouterr()
    assert "kpi cube: built in" in out.err
    # progress: the chunks (the last one always said) and the customers counted beside them
    assert re.search(r"contacts by arrival_ts: (\d+)/\1 chunks \([\d,]+ of [\d,]+ rows", out.err)
    assert "counting distinct customer_id from first contacts beside the chunks" in out.err
    assert re.search(r"distinct customer_id counted in [\d.]+ s", out.err)
    # and FCR's sort, the longest step between two chunk lines
    assert re.search(r"contacts: the repeat test of [\d,]+ rows \(first-contact", out.err)
    assert ".kpi-cube" in out.out
    assert main(["cube", "info", "--data", str(root)]) == 0
    text = capsys.readouterr().out
    assert "fresh" in text
    assert "contacts by arrival_ts, daily (1d by site, team" in text
    assert main(["cube", "info", "--data", str(root), "--format", "json"]) == 0
    assert '"fresh": true' in capsys.readouterr().out
    assert main(["cube", "clear", "--data", str(root)]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["cube", "clear", "--data", str(tmp_path / "nope")]) == 2


# ---- maxima and distinct counts: exact roll-ups -------------------------------------------


_NON_ADDITIVE = ["longest_wait", "handled_per_agent", "sales_per_agent"]
_BYS = [(), ("queue",), ("team",), ("site", "channel"), ("topic",), ("channel", "topic")]
_BYS += [("direction",), ("topic", "direction")]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kpi_id=st.sampled_from(_NON_ADDITIVE),
    every=st.sampled_from(GRAINS),
    by=st.sampled_from(_BYS),
    day=st.sampled_from(_GEN_DAYS),
    span=st.integers(0, 40),
)
def test_maxima_and_distinct_counts_from_the_cube(
    gen_dir: Path, kpi_id: str, every: str, by: tuple[str, ...], day: date, span: int
) -> None:
    """A maximum of cell maxima and a count of or-ed bit sets equal the rows over grains,
    dimensions and ranges across both DST changes; the cube answers all but topic with another
    dimension below a day."""
    kw = {"every": every, "by": by, "start": day, "end": day + timedelta(days=span)}
    used = _same(kpi.load(gen_dir), kpi_id, **kw)
    topical = {"topic", "direction"}
    assert used == (
        not ("topic" in by and not set(by) <= topical and every in ("15m", "30m", "1h"))
    )


def test_hand_computed_maxima_and_agents(tmp_path: Path) -> None:
    """Two queues, three agents, on the day the clocks go back (02:00 BST is 01:00 GMT)."""
    tz = ZoneInfo("Europe/London")
    t = [
        datetime(2025, 10, 26, 0, 50, tzinfo=tz),  # 00:50 BST
        datetime(2025, 10, 26, 0, 10, tzinfo=UTC),  # 01:10 BST
        datetime(2025, 10, 26, 1, 10, tzinfo=UTC),  # 01:10 GMT, the second one
        datetime(2025, 10, 26, 9, 0, tzinfo=tz),
        datetime(2025, 10, 27, 9, 0, tzinfo=tz),
    ]
    df = pl.DataFrame(
        {
            "arrival_ts": t,
            "queue": ["Q1", "Q1", "Q2", "Q2", "Q1"],
            "outcome": ["answered", "answered", "abandoned_queue", "answered", "answered"],
            "wait_s": [10.0, 40.0, 90.0, 5.0, 7.0],
            "agent_id": ["A", "B", None, "A", "C"],
        }
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone("Europe/London"))
    root = tmp_path / "d"
    kpi.save(kpi.Dataset({"contacts": df}, tz="Europe/London"), root)
    cube.build(root)
    ds = kpi.load(root)
    day = kpi.evaluate(ds, "longest_wait", every="1d")
    assert _uses_cube(day.frame)
    assert not _reads_contacts(day.frame)
    assert day.frame.collect()["longest_wait"].to_list() == [90.0, 7.0]
    per_agent = kpi.evaluate(ds, "handled_per_agent", every="1d")
    assert _uses_cube(per_agent.frame)
    assert per_agent.frame.collect()["handled_per_agent"].to_list() == [3 / 2, 1.0]
    hours = kpi.evaluate(ds, "longest_wait", every="1h", by="queue", end=date(2025, 10, 26))
    got = hours.frame.sort("period", "queue").collect()
    assert got.select(
        pl.col("period").dt.strftime("%H:%M %Z"), "queue", "longest_wait"
    ).rows() == [
        ("00:00 BST", "Q1", 10.0),
        ("01:00 BST", "Q1", 40.0),
        ("01:00 GMT", "Q2", 90.0),
        ("09:00 GMT", "Q2", 5.0),
    ]
    week = kpi.evaluate(ds, "handled_per_agent", every="1w", by="queue").frame.collect()
    assert dict(week.select("queue", "handled_per_agent").rows()) == {"Q1": 3 / 3, "Q2": 1.0}


def test_a_query_reads_the_smallest_level(gen_dir: Path) -> None:
    """`1h by queue` reads hours by queue, `1d` the daily total, not the finest levels."""
    ds = kpi.load(gen_dir)
    plan = kpi.evaluate(ds, "aht", every="1h", by="queue").frame.explain()
    assert ".1h.queue." in plan
    assert ".15m." not in plan
    plan = kpi.evaluate(ds, "service_level", every="1d").frame.explain()
    assert ".1d.total." in plan
    levels = {(lv["grain"], tuple(lv["dims"])): lv["cells"] for lv in cube.info(gen_dir)["levels"]}
    assert levels[("1h", ("queue",))] < levels[("15m", ("site", "team", "queue", "channel"))]
    # the generated contacts have no priority: the hours "by priority" are the hours' totals,
    # and say so
    names = {lv["level"]: lv["dims"] for lv in cube.info(gen_dir)["levels"]}
    assert names["hourly total"] == []
    assert all("priority" in dims for n, dims in names.items() if "priority" in n)


# ---- explorers build the cube on first use, and never fail for want of one ------------------


def _small_dir(tmp_path: Path) -> Path:
    root = tmp_path / "d"
    kpi.save(kpi.Dataset({"contacts": generate_contacts(3_000, seed=7)}, tz=TZ), root)
    return root


def test_trend_explorer_builds_the_cube_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpi.widgets import trend_explorer

    root = _small_dir(tmp_path)
    ex = trend_explorer(kpi.load(root), metric="aht", every="1w")
    assert not cube.info(root)["exists"]  # 3,000 rows: quick from the rows, left as it is
    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 3_000)
    shown: list[str] = []
    ex.status.observe(lambda change: shown.append(change["new"]), names="value")
    ex.controls["metric"].value = "asa"  # the build's progress is the status line meanwhile
    assert ex.error is None
    assert ex.charts
    assert cube.info(root)["fresh"]
    assert ex.notes == []
    assert shown[0] == "<em>updating…</em>"
    assert shown[1] == (
        "<em>updating… 3,000 rows: building the measure cube once, so that later redraws are"
        " quick</em>"
    )
    assert any(s.startswith("<em>updating… built in ") for s in shown)
    assert shown[-1] == ""  # no note: the chart is drawn
    frame = kpi.views.trend_frame(kpi.load(root), "aht", every="1w")
    assert _uses_cube(frame)
    assert not _reads_contacts(frame)
    filtered = kpi.load(root).restrict(start="2025-03-01", end="2025-03-31")
    cube.clear(root)
    trend_explorer(filtered, metric="aht", every="1d")
    assert not cube.info(root)["exists"]  # a cube of the directory could not answer for it


def test_a_first_use_build_outside_an_explorer_reports_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notebook's own call (or papermill's) shows the build's progress on standard error,
    which a report leaves out."""
    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 3_000)
    root = _small_dir(tmp_path)
    kpi.views.trend_frame(kpi.load(root), "aht", every="1w").collect()
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "kpi cube: 3,000 rows: building the measure cube once, so that later redraws are quick"
    )
    assert err[-1].startswith("kpi cube: built in ")
    kpi.views.trend_frame(kpi.load(root), "aht", every="1w").collect()
    assert capsys.readouterr().err == ""  # built: nothing more to say


def test_explorer_reads_the_rows_when_the_cube_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file where the cube directory would go: the build fails with an OSError (as a
    read-only or full disk would), the explorer draws from the rows and notes it once."""
    from kpi.widgets import trend_explorer

    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 0)
    root = _small_dir(tmp_path)
    (root / ".kpi-cube").write_text("not a directory")
    ds = kpi.load(root)
    want = kpi.evaluate(ds, "asa", every="1w", cube=False).frame.collect()
    ex = trend_explorer(ds, metric="asa", every="1w")
    assert ex.error is None
    assert ex.charts
    assert len(ex.notes) == 1
    assert "could not be written" in ex.notes[0]
    assert "reading the rows" in ex.notes[0]
    assert "could not be written" in ex.status.value
    ex.controls["metric"].value = "aht"  # a redraw: no second attempt, no second note
    assert ex.error is None
    assert len(ex.notes) == 1
    assert (root / ".kpi-cube").read_text() == "not a directory"
    frame = kpi.views.trend_frame(ds, "asa", every="1w").collect()
    assert not _uses_cube(kpi.evaluate(ds, "asa", every="1w").frame)
    got = frame.select("period", "asa").join(want.select("period", "asa"), on="period")
    assert (got["asa"] - got["asa_right"]).abs().max() == 0


def test_a_view_by_agent_reads_the_days_by_agent(gen_dir: Path) -> None:
    """Agents of the generated data work for several teams a day: by agent alone, a view reads
    the days by agent (one cell an agent-day), not the days by team and agent."""
    meta = json.loads((gen_dir / ".kpi-cube" / "cube.json").read_text())
    rows = {lv["level"]: lv["rows"] for lv in meta["levels"]}
    assert rows["agents daily by agent"] < rows["agents daily"]
    ds = kpi.load(gen_dir)
    for kw in ({"every": "1w", "by": "agent_id"}, {"every": "1d", "by": "agent_id"}):
        frame = kpi.evaluate(ds, "handled_per_agent", **kw).frame
        assert "arrival_ts.1d.agent_id." in frame.explain()
        assert "team-agent_id" not in frame.explain()
        want = kpi.evaluate(ds, "handled_per_agent", cube=False, **kw).frame.collect()
        assert_frame_equal(frame.collect(), want, check_exact=False, rel_tol=1e-9)
    frame = kpi.evaluate(ds, "aht", every="1mo", by=("team", "agent_id")).frame
    assert "arrival_ts.1mo.team-agent_id." in frame.explain()


def test_a_relative_path_finds_the_cube(gen_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cube was built by the absolute path; a notebook loads the data by a relative one."""
    monkeypatch.chdir(gen_dir.parent)
    ds = kpi.load(gen_dir.name)
    assert _uses_cube(kpi.evaluate(ds, "aht", every="1mo").frame)
    assert _same(ds, "aht", every="1mo", by="team")
    assert not _uses_cube(kpi.evaluate(ds.restrict(start="2025-02-01"), "aht", every="1mo").frame)


def _monrovia(tmp_path: Path, n: int, *, seed: int) -> Path:
    """A dataset of ``n`` generated contacts moved to 1971 Monrovia (UTC-0:44:30)."""
    tz = "Africa/Monrovia"
    df = generate_contacts(n, seed=seed).with_columns(
        pl.col(c).dt.replace_time_zone(None).dt.offset_by("-54y").dt.replace_time_zone(tz)
        for c in ("arrival_ts", "queue_ts", "answer_ts", "end_ts")
    )
    root = tmp_path / "m"
    kpi.save(kpi.Dataset({"contacts": df}, tz=tz), root)
    return root


def test_a_zone_off_the_quarter_hour_bins_each_row(tmp_path: Path) -> None:
    """Monrovia kept UTC-0:44:30 until 1972: a UTC quarter hour spans two local ones, so the
    build bins each row in local time (and FCR's flags by every dimension); still exact."""
    root = _monrovia(tmp_path, 2_000, seed=11)
    cube.build(root)
    ds = kpi.load(root)
    for kpi_id, kw in [
        ("aht", {"every": "15m", "by": "queue", "start": date(1971, 3, 3)}),
        ("fcr", {"every": "1d", "by": "team"}),
        ("handled_per_agent", {"every": "1h"}),
        ("longest_wait", {"every": "1w", "by": "topic"}),
        ("max_in_queue", {"every": "1h", "by": "queue"}),
        ("max_in_queue", {"every": "1d", "by": ("queue", "topic")}),  # swept per local day
        ("max_in_queue", {"every": "1w", "by": "agent_id"}),
        ("peak_hour_traffic", {"every": "1d", "by": "site"}),
    ]:
        assert _same(ds, kpi_id, **kw), kpi_id


def test_customers_counted_off_the_quarter_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Customers too many for bit sets, in Monrovia's UTC-0:44:30: first contacts are counted
    by local day (whole weeks, months, ...) but not by quarter hour; hours read the rows."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 16)
    root = _monrovia(tmp_path, 3_000, seed=5)
    meta = json.loads((cube.build(root) / "cube.json").read_text())
    counted = {(lv["grain"], tuple(lv["dims"])) for lv in meta["levels"] if lv.get("counts")}
    assert ("1d", ("agent_id",)) in counted
    assert not any(grain == "15m" for grain, _ in counted)
    ds = kpi.load(root)
    for kw in [
        {"every": "1w", "by": "team"},
        {"every": "1d", "by": "agent_id"},
        {"every": "1mo", "start": date(1971, 3, 1), "end": date(1971, 8, 31)},
    ]:
        assert _same(ds, "contacts_per_customer", **kw), kw
    assert not _same(ds, "contacts_per_customer", every="1h", start=date(1971, 3, 3))


def test_a_build_that_fails_otherwise_is_a_note_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any failure of the build (here the writer raising a polars error) leaves the rows."""
    from kpi.views import trend_frame

    root = _small_dir(tmp_path)
    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 0)

    def broken(*args: object, **kwargs: object) -> None:
        raise pl.exceptions.ComputeError("out of scratch space")

    monkeypatch.setattr(cube, "atomic_write", broken)
    ds = kpi.load(root)
    with pytest.warns(cube.CubeWarning, match="could not be built .out of scratch space"):
        got = trend_frame(ds, "aht", every="1mo").collect()
    want = trend_frame(ds.restrict(start="2025-01-01"), "aht", every="1mo").collect()
    assert got["aht"].to_list() == want["aht"].to_list()
    assert cube.find(ds) is None


def test_partitions_build_the_same_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build in 4 partitions of whole months (FCR's repeats found within each and the next
    days), its levels written in parts (cells past a memory budget), stores the same cells,
    agent levels included, as a build over the whole table."""
    root = tmp_path / "data"
    kpi.save(kpi.Dataset({"contacts": generate_contacts(8_000, seed=11)}, tz=TZ), root)

    def cells(partition_rows: int) -> dict[str, pl.DataFrame]:
        where = cube.build(root, partition_rows=partition_rows)
        meta = json.loads((where / "cube.json").read_text())
        files = {lv["level"]: [where / f for f in lv["files"]] for lv in meta["levels"]}
        if partition_rows < 8_000:
            assert len(files["intraday"]) > 1  # written in parts
        return {name: pl.read_parquet(paths) for name, paths in files.items()}

    whole = cells(10**9)
    monkeypatch.setattr(kpi.cube._build, "CELLS_BYTES", 1)
    monkeypatch.setattr(kpi.cube._build, "COUNT_ROWS", 2_500)  # customers counted in parts
    parts = cells(2_000)
    assert whole.keys() == parts.keys()
    assert {"agents daily", "agents monthly", "agents daily by agent"} <= set(whole)
    for name, frame in whole.items():
        keys = [c for c, t in frame.schema.items() if c == "_bin" or t == pl.String]
        fcr = [c for c in frame.columns if c.startswith("b")]
        if name.startswith("queue sweep"):  # swept over each chunk and the waits around it
            assert frame["max_in_queue"].max() > 1
        elif name.startswith("distinct customer_id"):  # one row per bin, dimensions, customer
            keys = frame.columns
            assert frame.height > 0
            assert not frame.is_duplicated().any()
        elif name.startswith("peak hours"):  # each day's busiest hour by agent
            assert frame["c_calls"].min() > 0
        elif name.startswith("first customer_id"):  # customers first seen, per day or quarter
            counts = [c for c in frame.columns if c.startswith("n_")]
            assert counts
            assert all(frame[c].sum() > 0 for c in counts)
        else:
            assert frame[fcr[0]].sum() > 0  # FCR's counts are there, not all zero
        assert parts[name]["_bin"].is_sorted()  # parts in time order
        assert_frame_equal(
            frame.sort(keys), parts[name].sort(keys), check_exact=False, rel_tol=1e-12
        )


def test_unit_ranks_from_a_table_or_by_search() -> None:
    """The customer counts rank each row's time unit among the units present: from a table
    over their span (a year of quarter hours), or by binary search when a stray date decades
    away makes the span far larger than the rows; both give the same ranks."""
    import numpy as np

    from kpi.cube._counts import _ranks

    keys = np.array([10, 11, 15, 40], dtype=np.int64)
    found = np.array([40, 10, 15, 15, 11], dtype=np.int64)
    assert _ranks(keys, found).tolist() == [3, 0, 2, 2, 1]
    far = np.array([10, 11, 10 + (1 << 22)], dtype=np.int64)  # span > 4 × rows + 2^20
    assert _ranks(far, np.array([10 + (1 << 22), 11, 10])).tolist() == [2, 1, 0]
    assert _ranks(far[:0], found[:0]).tolist() == []


def test_customer_counts_leave_the_values_they_are_given_as_they_were() -> None:
    """The build hands one set of dimension values to the counts of every counted column,
    each in its own thread: a count must not change them (a null appended in place made
    another thread's enum fail in 2 of 4 CI runs)."""
    from kpi.cube._counts import customer_counts, dimension_values

    lf = generate_contacts(500, seed=2).lazy()
    values = dimension_values(lf, ["site", "team"])
    before = {d: v.clone() for d, v in values.items()}
    got = customer_counts(
        lf, time_col="arrival_ts", column="customer_id", counted=pl.lit(True),
        dims=["site", "team"], intraday_dims=["site"], part_rows=10_000, values=values,
    )  # fmt: skip
    assert got.unique
    assert any(dims == ("team",) for dims, _, _ in got.frames)
    for d, v in values.items():
        assert v.null_count() == 0
        assert v.equals(before[d])
