"""Round trips: a small dataset exported to CSV, TSV, xlsx, Parquet and the interval format and
imported back gives the same rows; KPIs from the interval report equal those from the contacts
aggregated the same way."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi.data import Dataset, save
from kpi.errors import KpiError
from kpi.io import contacts_to_intervals, import_file
from kpi.schema import TABLES, conform

TZ = "Europe/London"
SAMPLES = Path(__file__).parents[1] / "data" / "samples"


def small_contacts(n: int = 60, seed: int = 7) -> pl.DataFrame:
    """Contacts over the spring-forward night in London (31 March 2024) and a normal morning."""
    rng = random.Random(seed)
    starts = [
        datetime(2024, 3, 30, 23, 0, tzinfo=ZoneInfo("UTC")),
        datetime(2024, 4, 2, 8, 0, tzinfo=ZoneInfo("UTC")),
    ]
    rows = []
    for i in range(n):
        arrival = starts[i % 2] + timedelta(seconds=rng.randrange(0, 4 * 3600))
        outcome = rng.choice(
            ["answered"] * 5 + ["abandoned_queue"] * 2 + ["abandoned_ivr", "flowout"]
        )
        ivr = float(rng.randrange(0, 40))
        queued = outcome != "abandoned_ivr"
        wait = float(rng.randrange(0, 90)) if queued else None
        talk = float(rng.randrange(30, 600)) if outcome == "answered" else 0.0
        hold = float(rng.choice([0, 0, 15, 40])) if outcome == "answered" else 0.0
        acw = float(rng.randrange(0, 60)) if outcome == "answered" else 0.0
        queue_ts = arrival + timedelta(seconds=ivr) if queued else None
        answer_ts = queue_ts + timedelta(seconds=wait) if outcome == "answered" else None
        if outcome == "answered":
            end = answer_ts + timedelta(seconds=talk + hold)
        elif queued:
            end = queue_ts + timedelta(seconds=wait)
        else:
            end = arrival + timedelta(seconds=ivr)
        rows.append(
            {
                "contact_id": f"c{i:03d}",
                "channel": rng.choice(["voice", "voice", "chat"]),
                "direction": "inbound",
                "queue": rng.choice(["sales", "billing"]),
                "topic": rng.choice(["invoice", "upgrade", "refund"]),
                "customer_id": rng.choice([None, "k1", "k2", "k3"]),
                "agent_id": rng.choice(["ann", "bob"]) if outcome == "answered" else None,
                "team": "t1",
                "site": "leeds",
                "arrival_ts": arrival,
                "queue_ts": queue_ts,
                "answer_ts": answer_ts,
                "end_ts": end,
                "ivr_s": ivr,
                "wait_s": wait,
                "talk_s": talk,
                "hold_s": hold,
                "acw_s": acw,
                "outcome": outcome,
                "transferred": rng.random() < 0.2,
                "resolved": rng.random() < 0.7,
                "converted": rng.random() < 0.1,
                "revenue": float(rng.choice([0, 0, 0, 49.5])),
            }
        )
    ts = ("arrival_ts", "queue_ts", "answer_ts", "end_ts")
    frame = pl.DataFrame(rows, schema_overrides=dict.fromkeys(ts, pl.Datetime("us", "UTC")))
    frame = frame.with_columns(pl.col(ts).dt.convert_time_zone(TZ))
    return conform("contacts", frame.lazy(), TZ).collect()


def canonical(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    keys = {
        "contacts": ["contact_id"],
        "intervals": ["interval_start", "queue", "channel", "team"],
    }[table]
    return frame.select(TABLES[table].names).sort(keys)


@pytest.fixture(scope="module")
def contacts() -> pl.DataFrame:
    return small_contacts()


@pytest.mark.parametrize("fmt", ["csv", "tsv", "xlsx", "parquet"])
def test_contacts_round_trip(tmp_path, contacts, fmt):
    path = tmp_path / f"export.{fmt}"
    if fmt == "csv":
        contacts.write_csv(path)
    elif fmt == "tsv":
        contacts.write_csv(path, separator="\t", line_terminator="\r\n")
    elif fmt == "xlsx":
        # spreadsheets hold wall-clock times without a zone: export local time
        local = contacts.with_columns(
            pl.col(c).dt.replace_time_zone(None)
            for c in ("arrival_ts", "queue_ts", "answer_ts", "end_ts")
        )
        local.write_excel(path)
    else:
        contacts.write_parquet(path)
    result = import_file(path, preset="contacts", tz=TZ, out=tmp_path / "ds")
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (60, 60, 0)
    assert_frame_equal(canonical(result.frame, "contacts"), canonical(contacts, "contacts"))
    back = pl.read_parquet(tmp_path / "ds" / "contacts.parquet")
    assert_frame_equal(canonical(back, "contacts"), canonical(contacts, "contacts"))


def test_interval_round_trip_and_kpis(tmp_path, contacts):
    iv = contacts_to_intervals(
        contacts.lazy(), every="30m", threshold_s=20, short_abandon_s=5
    ).collect()
    # hand check one bin: every offered contact is in exactly one interval
    offered = contacts.filter(pl.col("outcome").is_in(["answered", "abandoned_queue", "flowout"]))
    assert iv["offered"].sum() == offered.height
    assert iv["answered"].sum() == contacts.filter(pl.col("outcome") == "answered").height
    assert set(iv["interval_s"]) == {1800.0}
    # the export: ISO times with offsets, durations as h:mm:ss, thresholds in the header
    export = iv.with_columns(
        pl.col("interval_start").dt.strftime("%Y-%m-%dT%H:%M:%S%:z"),
        *[
            pl.format(
                "{}:{}:{}",
                (pl.col(c) // 3600).cast(pl.Int64),
                ((pl.col(c) % 3600) // 60).cast(pl.Int64).cast(pl.String).str.zfill(2),
                (pl.col(c) % 60).cast(pl.Int64).cast(pl.String).str.zfill(2),
            ).alias(c)
            for c in ("talk_s", "hold_s", "acw_s")
        ],
    ).rename(
        {
            "answered_within_threshold": "answered_within_20s",
            "abandoned_short": "short_abandons_5s",
        }
    )
    path = tmp_path / "interval_report.csv"
    export.write_csv(path)
    result = import_file(path, preset="interval", tz=TZ, out=tmp_path / "iv")
    assert result.report.quarantined == 0
    assert result.meta == {"interval_threshold_s": 20.0, "interval_short_abandon_s": 5.0}
    assert_frame_equal(canonical(result.frame, "intervals"), canonical(iv, "intervals"))
    # KPIs from the interval report equal KPIs from the contacts, per queue and half hour
    compute = pytest.importorskip("kpi.compute", reason="kpi.compute not available").compute
    save({"contacts": contacts}, tmp_path / "ct")
    metrics = [
        "contacts_offered",
        "contacts_answered",
        "contacts_abandoned",
        "answer_rate",
        "abandon_rate",
        "service_level",
        "asa",
        "avg_wait",
        "longest_wait",
        "aht",
        "avg_talk",
        "avg_hold",
        "avg_acw",
        "transfer_rate",
    ]
    # the report counts answers within one threshold (20 s), so service level is compared at
    # that fixed threshold (the default, each queue's objective, is tested in test_objectives)
    params = {
        "service_level.short_abandon_s": 5,
        "service_level.threshold_s": 20,
        "abandon_rate.short_abandon_s": 5,
    }
    for by in (("queue",), ("queue", "channel")):
        a = compute(tmp_path / "ct", metrics, by=by, every="30m", params=params, measures=False)
        b = compute(tmp_path / "iv", metrics, by=by, every="30m", params=params, measures=False)
        # bins holding only IVR abandons have contact rows but no interval row (nothing offered)
        a, b = (
            x.collect().filter(pl.col("contacts_offered") > 0).sort([*by, "period"])
            for x in (a, b)
        )
        assert a.height == b.height > 0
        assert a.select(metrics).null_count().sum_horizontal().item() < a.height * len(metrics)
        assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9)


def test_contacts_to_intervals_dst_day_and_degenerate():
    zone = ZoneInfo(TZ)
    t = [datetime(2024, 3, 31, 0, 30, tzinfo=zone), datetime(2024, 3, 31, 12, tzinfo=zone)]
    lf = pl.LazyFrame(
        {
            "arrival_ts": t,
            "queue": ["q", "q"],
            "outcome": ["answered", "abandoned_queue"],
            "wait_s": [3.0, 30.0],
        }
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone(TZ))
    day = contacts_to_intervals(lf, every="1d", threshold_s=20).collect()
    # 31 March 2024 is a 23-hour day in London
    assert day.select("offered", "answered", "abandoned", "interval_s").rows() == [
        (2, 1, 1, 23 * 3600.0)
    ]
    assert day["abandoned_short"].to_list() == [None]
    assert day["talk_s"].to_list() == [0.0]
    empty = contacts_to_intervals(lf.filter(pl.lit(False))).collect()
    assert empty.height == 0
    assert empty.columns == TABLES["intervals"].names
    with pytest.raises(KpiError, match="every = '30 minutes'"):
        contacts_to_intervals(lf, every="30 minutes")
    with pytest.raises(KpiError, match="threshold_s must be 0 or more"):
        contacts_to_intervals(lf, threshold_s=-1)


def test_sample_data_round_trip(tmp_path):
    path = SAMPLES / "contacts.parquet"
    if not path.exists():
        pytest.skip(f"sample data not generated yet ({path}; run `make sample`)")
    ds_tz = pl.read_parquet_schema(path)["arrival_ts"].time_zone
    sample = pl.read_parquet(path).head(5000)  # the first 5,000 rows keep the test fast
    export = tmp_path / "sample.csv"
    sample.write_csv(export)
    result = import_file(export, preset="contacts", tz=ds_tz)
    assert result.report.loaded == sample.height
    assert result.report.quarantined == 0
    assert_frame_equal(canonical(result.frame, "contacts"), canonical(sample, "contacts"))


def test_sample_interval_kpis_equal_contact_kpis(tmp_path):
    """On the sample data (January, inbound): interval report -> import -> KPIs == contacts."""
    path = SAMPLES / "contacts.parquet"
    if not path.exists():
        pytest.skip(f"sample data not generated yet ({path}; run `make sample`)")
    compute = pytest.importorskip("kpi.compute", reason="kpi.compute not available").compute
    lf = pl.scan_parquet(path)
    tz = lf.collect_schema()["arrival_ts"].time_zone
    january = datetime(2026, 2, 1, tzinfo=ZoneInfo(tz))
    contacts = lf.filter(
        (pl.col("outcome") != "outbound") & (pl.col("arrival_ts") < january)
    ).collect()
    iv = contacts_to_intervals(contacts.lazy(), threshold_s=20, short_abandon_s=5).collect()
    export = tmp_path / "sample_intervals.csv"
    iv.with_columns(pl.col("interval_start").dt.strftime("%Y-%m-%dT%H:%M:%S%:z")).write_csv(export)
    result = import_file(
        export, preset="interval", tz=tz, threshold_s=20, short_abandon_s=5, out=tmp_path / "iv"
    )
    assert result.report.quarantined == 0
    assert_frame_equal(canonical(result.frame, "intervals"), canonical(iv, "intervals"))
    save({"contacts": contacts}, tmp_path / "ct")
    metrics = [
        "contacts_offered",
        "contacts_answered",
        "contacts_abandoned",
        "answer_rate",
        "abandon_rate",
        "service_level",
        "asa",
        "longest_wait",
        "aht",
        "avg_talk",
        "avg_hold",
        "avg_acw",
        "transfer_rate",
    ]
    params = {"service_level.short_abandon_s": 5, "service_level.threshold_s": 20}
    a, b = (
        compute(tmp_path / d, metrics, by=("team", "channel"), every="1d", params=params)
        .collect()
        .filter(pl.col("contacts_offered") > 0)
        .select("team", "channel", "period", *metrics)
        .sort("team", "channel", "period")
        for d in ("ct", "iv")
    )
    assert a.height == b.height > 100
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9)


@pytest.mark.parametrize("short_abandon_s", [5, 30])
def test_sl_ignoring_abandons_within_threshold_from_intervals(tmp_path, contacts, short_abandon_s):
    """SL's ``ignore_abandons_within_threshold`` denominator leaves out abandons within T and
    short abandons < S. The two sets nest (S ≤ T: the short ones are within T; S > T: those
    within T are short), so an interval report gives the contact-level value either way, and
    the measure's name says both thresholds (a cube keyed by name never mixes variants)."""
    from kpi.compute import compute, evaluate

    t, s = 20, short_abandon_s
    iv = contacts_to_intervals(contacts.lazy(), every="30m", threshold_s=t, short_abandon_s=s)
    save({"contacts": contacts}, tmp_path / "ct")
    save(
        Dataset({"intervals": iv.collect()}, tz=TZ),
        tmp_path / "iv",
        meta={"interval_threshold_s": t, "interval_short_abandon_s": s},
    )
    params = {
        "service_level.denominator": "ignore_abandons_within_threshold",
        "service_level.threshold_s": t,
        "service_level.short_abandon_s": s,
    }
    a, b = (
        compute(tmp_path / d, ["service_level"], by="queue", params=params, measures=True)
        .collect()
        .sort("queue")
        for d in ("ct", "iv")
    )
    name = f"offered_excl_abandoned_within_{t}s_excl_short_{s}s"
    assert name in a.columns
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-12)
    # hand count: offered minus abandons that waited ≤ T or < S
    waited = pl.col("wait_s")
    offered = contacts.filter(pl.col("outcome").is_in(["answered", "abandoned_queue", "flowout"]))
    left_out = (pl.col("outcome") == "abandoned_queue") & ((waited <= t) | (waited < s))
    assert a[name].sum() == offered.filter(~left_out).height
    assert evaluate(tmp_path / "iv", "service_level", params=params).notes == {}
