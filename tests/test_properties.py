"""Properties of the KPI engine: bounded rates, row-order independence, exact roll-ups, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi import compute
from kpi.metrics import METRICS
from kpi.schema import conform

_SL = METRICS["service_level"].build()
NUM, DEN = _SL.numerator.name, _SL.denominator.name  # type: ignore[union-attr]

TZ = "Europe/London"
OUTCOMES = ["answered", "abandoned_queue", "abandoned_ivr", "flowout", "outbound"]
RATIO_KPIS = [m.id for m in METRICS.values() if m.unit == "ratio" and "contacts" in m.tables]
CONTACT_KPIS = [
    m.id
    for m in METRICS.values()
    if m.tables == ("contacts",) or m.tables == ("contacts", "intervals")
]

contact_row = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 60 * 24 * 40),  # 40 days from 1 Jan
        "outcome": st.sampled_from(OUTCOMES),
        "wait_s": st.one_of(st.none(), st.floats(0, 900)),
        "talk_s": st.floats(0, 2000),
        "hold_s": st.one_of(st.none(), st.floats(0, 300)),
        "acw_s": st.floats(0, 300),
        "team": st.sampled_from(["A", "B", "C"]),
        "customer_id": st.one_of(st.none(), st.sampled_from(["u1", "u2", "u3", "u4"])),
        "topic": st.sampled_from(["x", "y"]),
        "transferred": st.booleans(),
        "resolved": st.booleans(),
        "converted": st.booleans(),
    }
)


def _frame(rows: list[dict]) -> pl.DataFrame:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    data = [
        {
            **{k: v for k, v in r.items() if k != "minute"},
            "contact_id": f"c{i}",
            "arrival_ts": t0 + timedelta(minutes=r["minute"]),
            "queue_ts": t0 + timedelta(minutes=r["minute"], seconds=10),
            "agent_id": f"g{i % 3}" if r["outcome"] in ("answered", "outbound") else None,
        }
        for i, r in enumerate(rows)
    ]
    return conform("contacts", pl.DataFrame(data).lazy(), TZ).collect()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(contact_row, min_size=1, max_size=60))
def test_rates_bounded_or_null(rows):
    out = compute(
        {"contacts": _frame(rows)}, RATIO_KPIS, by="team", every="1w", measures=False
    ).collect()
    for kpi_id in RATIO_KPIS:
        values = out[kpi_id].drop_nulls()
        assert not values.is_nan().any()
        assert ((values >= 0) & (values <= 1)).all(), kpi_id


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(contact_row, min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(rows, rnd):
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    # agent ids follow the row position, so drop them (the distinct-agent KPIs are left out)
    b_rows = _frame(shuffled).with_columns(pl.lit(None, pl.String).alias("agent_id"))
    a_rows = _frame(rows).with_columns(pl.lit(None, pl.String).alias("agent_id"))
    kpis = [k for k in CONTACT_KPIS if k not in ("handled_per_agent", "sales_per_agent")]
    a = compute({"contacts": a_rows}, kpis, by="team", every="1d").collect()
    b = compute({"contacts": b_rows}, kpis, by="team", every="1d").collect()
    # float sums may differ in the last bit with the summation order; nothing else may
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(contact_row, min_size=1, max_size=80))
def test_rollup_from_15_minutes_is_exact(rows):
    """Summed 15-minute measures give the daily and monthly measures and KPI values exactly
    (a sum of unknown parts is unknown)."""
    data = {"contacts": _frame(rows)}
    kpis = ["service_level", "abandon_rate", "aht", "asa", "contacts_handled", "transfer_rate"]
    fine = compute(data, kpis, by="team", every="15m").collect()
    measures = [c for c in fine.columns if c not in ("team", "period", *kpis)]
    additive = [m for m in measures if fine[m].dtype in (pl.Int64, pl.Float64)]
    for grain in ("1d", "1mo"):
        coarse = compute(data, kpis, by="team", every=grain).collect()
        rolled = (
            fine.group_by("team", pl.col("period").dt.truncate(grain))
            # exact where every part is known; a coarse value with unknown parts (a column
            # null on every row of some 15 minutes) is computed from its rows, not compared
            .agg(
                pl.when(pl.col(m).is_null().any()).then(None).otherwise(pl.col(m).sum()).alias(m)
                for m in additive
            )
            .sort("team", "period")
        )
        merged = coarse.join(rolled, on=["team", "period"], suffix="_rolled")
        assert merged.height == coarse.height
        for m in additive:
            both = merged.filter(pl.col(f"{m}_rolled").is_not_null())
            assert both[m].to_list() == pytest.approx(both[f"{m}_rolled"].to_list()), m
        if NUM not in fine.columns:  # no wait_s: service level unknown
            assert merged["service_level"].is_null().all()
            continue
        merged = merged.filter(
            pl.col(f"{NUM}_rolled").is_not_null() & pl.col(f"{DEN}_rolled").is_not_null()
        )
        sl = merged.select(
            pl.when(pl.col(f"{DEN}_rolled") > 0).then(
                pl.col(f"{NUM}_rolled") / pl.col(f"{DEN}_rolled")
            )
        ).to_series()
        assert sl.to_list() == pytest.approx(merged["service_level"].to_list(), nan_ok=True)


def _day_of_stamps(day: int, month: int) -> pl.DataFrame:
    start = datetime(2026, month, day - 1, 22, tzinfo=UTC)
    stamps = [start + timedelta(minutes=5 * i) for i in range(12 * 28)]
    frame = pl.DataFrame(
        {
            "arrival_ts": stamps,
            "outcome": ["answered"] * len(stamps),
            "wait_s": [1.0] * len(stamps),
        }
    )
    return conform("contacts", frame.lazy(), TZ).collect()


@pytest.mark.parametrize(("day", "month", "half_hours"), [(29, 3, 46), (25, 10, 50), (15, 6, 48)])
def test_dst_days_have_46_or_50_half_hours(day, month, half_hours):
    out = compute(
        {"contacts": _day_of_stamps(day, month)},
        "contacts_answered",
        every="30m",
        start=f"2026-{month:02d}-{day:02d}",
        end=f"2026-{month:02d}-{day:02d}",
    ).collect()
    assert out.height == half_hours
    assert out["period"].is_unique().all()
    assert out["contacts_answered"].sum() == half_hours * 6  # one every 5 minutes
    daily = compute(
        {"contacts": _day_of_stamps(day, month)}, "contacts_answered", every="1d"
    ).collect()
    local_day = daily.filter(pl.col("period").dt.day() == day)
    assert local_day["contacts_answered"][0] == half_hours * 6


def test_dst_fall_back_keeps_both_one_am_bins():
    out = compute(
        {"contacts": _day_of_stamps(25, 10)},
        "contacts_answered",
        every="1h",
        start="2026-10-25",
        end="2026-10-25",
    ).collect()
    one_am = out.filter(pl.col("period").dt.hour() == 1)
    assert one_am.height == 2
    assert sorted(one_am["period"].dt.strftime("%Z").to_list()) == ["BST", "GMT"]


def test_business_day_offset():
    out = compute(
        {"contacts": _day_of_stamps(15, 6)}, "contacts_answered", every="1d", bin_offset="6h"
    ).collect()
    assert all(p.hour == 6 for p in out["period"].to_list())
    assert out["contacts_answered"].sum() == 12 * 28


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=True), st.sampled_from([1, 2, 3]))
def test_fcr_of_a_range_is_the_whole_tables(rnd, window_days):
    """FCR's repeat test over a range reads only the contacts from its start to the window
    after its end: each hour's resolved contacts are those of the whole table's (ten days of
    contacts of two customers, so repeats within the window and across the range's end are
    common)."""
    rows = [
        {
            "minute": rnd.randint(0, 60 * 24 * 10),
            "outcome": rnd.choice(OUTCOMES),
            "wait_s": 5.0,
            "talk_s": 60.0,
            "hold_s": None,
            "acw_s": 10.0,
            "team": "A",
            "customer_id": rnd.choice([None, "u1", "u2"]),
            "topic": rnd.choice(["x", "y"]),
            "transferred": False,
            "resolved": False,
            "converted": False,
        }
        for _ in range(rnd.randint(2, 60))
    ]
    assume(any(r["customer_id"] for r in rows))
    data = {"contacts": _frame(rows)}
    lo = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=rnd.randint(0, 10 * 24))
    hi = lo + timedelta(hours=rnd.randint(1, 5 * 24))
    params = {"fcr.window_days": window_days}
    whole = compute(data, ["fcr"], by="topic", every="1h", params=params).collect()
    part = compute(
        data, ["fcr"], by="topic", every="1h", params=params, start=lo, end=hi
    ).collect()
    at = pl.col("period").dt.convert_time_zone("UTC")
    inside = whole.filter((at >= lo) & (at < hi))
    assert_frame_equal(part.sort("topic", "period"), inside.sort("topic", "period"))
