"""``compute(..., chunk=...)``: chunk-by-chunk evaluation gives the unchunked values exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_properties import CONTACT_KPIS, _frame, contact_row

from kpi import compute
from kpi.errors import KpiError
from kpi.schema import conform

TZ = "Europe/London"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _contacts(rows: list[tuple]) -> pl.DataFrame:
    """(id, customer, arrival minute, queue wait s, outcome) rows, one team, one topic."""
    data = [
        {
            "contact_id": cid,
            "team": "A",
            "topic": "billing",
            "customer_id": cust,
            "arrival_ts": T0 + timedelta(minutes=minute),
            "queue_ts": T0 + timedelta(minutes=minute),
            "wait_s": float(wait),
            "talk_s": 60.0 if outcome == "answered" else None,
            "outcome": outcome,
        }
        for cid, cust, minute, wait, outcome in rows
    ]
    return conform("contacts", pl.DataFrame(data).lazy(), TZ).collect()


DAY = 24 * 60


def test_fcr_repeat_in_the_next_chunk_counts():
    # u1 calls on 30 Jan and again on 2 Feb (3 days later, next monthly chunk): not resolved.
    # u2 calls on 30 Jan and 20 Feb (21 days): resolved. u3 calls once on 3 Feb: resolved.
    contacts = _contacts(
        [
            ("c1", "u1", 29 * DAY + 600, 5, "answered"),
            ("c2", "u1", 32 * DAY + 600, 5, "answered"),
            ("c3", "u2", 29 * DAY + 700, 5, "answered"),
            ("c4", "u2", 50 * DAY + 700, 5, "answered"),
            ("c5", "u3", 33 * DAY + 700, 5, "answered"),
        ]
    )
    data = {"contacts": contacts}
    out = compute(data, "fcr", every="1mo", chunk="1mo", measures=False).collect()
    # January: c1 repeats, c3 does not: 1 / 2. February: c2, c4, c5 have no repeat: 3 / 3.
    assert out["fcr"].to_list() == [0.5, 1.0]
    whole = compute(data, "fcr", every="1mo", measures=False).collect()
    assert_frame_equal(out, whole)


def test_queue_sweep_across_a_chunk_edge():
    # three contacts wait through midnight 1/2 Jan (entering 23:50-23:58, waiting 20 min) and a
    # fourth enters at 00:05: four wait at once at 00:05 on 2 Jan.
    rows = [(f"c{i}", None, DAY - 10 + 4 * i, 1200, "answered") for i in range(3)]
    rows.append(("c9", None, DAY + 5, 30, "answered"))
    data = {"contacts": _contacts(rows)}
    out = compute(data, "max_in_queue", every="1d", chunk="1d", measures=False).collect()
    assert out["max_in_queue"].to_list() == [3.0, 4.0]
    whole = compute(data, "max_in_queue", every="1d", measures=False).collect()
    assert_frame_equal(out, whole)


def test_chunk_needs_every():
    data = {"contacts": _contacts([("c1", "u1", 600, 5, "answered")])}
    with pytest.raises(KpiError, match="chunk needs every"):
        compute(data, "fcr", chunk="1mo")
    with pytest.raises(KpiError, match="unknown grain"):
        compute(data, "fcr", every="1d", chunk="2mo")


def test_start_and_end_bound_the_chunks():
    rows = [(f"c{i}", f"u{i % 5}", i * 600, 30, "answered") for i in range(500)]
    data = {"contacts": _contacts(rows)}
    kw = {"every": "1d", "start": "2026-01-02", "end": "2026-01-03", "measures": False}
    out = compute(data, ["contacts_handled", "fcr", "max_in_queue"], chunk="1d", **kw).collect()
    whole = compute(data, ["contacts_handled", "fcr", "max_in_queue"], **kw).collect()
    assert out.height == 2
    assert_frame_equal(out, whole)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(contact_row, min_size=1, max_size=80),
    st.sampled_from([("1d", "1w"), ("1h", "1d"), ("1w", "1mo"), ("1d", "1d")]),
    st.sampled_from(["arrival", "answer", "completion"]),
)
def test_chunked_equals_whole(rows, grains, attribution):
    every, chunk = grains
    data = {"contacts": _frame(rows)}
    kw = {"by": "team", "every": every, "attribution": attribution}
    whole = compute(data, CONTACT_KPIS, **kw).collect()
    chunked = compute(data, CONTACT_KPIS, chunk=chunk, **kw).collect()
    assert_frame_equal(chunked, whole, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_sample_all_kpis_chunked_by_month(samples_dir):
    """Every KPI over every table of the sample: monthly chunks give the same table."""
    kw = {"by": "team", "every": "1w"}
    whole = compute(samples_dir, "all", **kw).collect()
    chunked = compute(samples_dir, "all", chunk="1mo", **kw).collect()
    assert whole.height > 30
    assert_frame_equal(chunked, whole, check_exact=False, rel_tol=1e-9)


def test_progress_reports_each_chunk_when_collected():
    rows = [(f"c{i}", None, i * 3 * DAY, 30, "answered") for i in range(20)]  # 60 days
    messages: list[str] = []
    lf = compute(
        {"contacts": _contacts(rows)},
        "contacts_handled",
        every="1mo",
        chunk="1mo",
        progress=messages.append,
    )
    assert messages == []  # nothing runs before collect
    assert lf.collect()["contacts_handled"].to_list() == [11.0, 9.0]
    assert messages[0] == "2 chunks of 1mo planned" + messages[0].removeprefix(
        "2 chunks of 1mo planned"
    )
    assert messages[1].startswith("chunk 1 of 2 (start to 2026-02-01) in ")
    assert messages[2].startswith("chunk 2 of 2 (2026-02-01 to end) in ")
