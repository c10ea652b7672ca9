"""Parity, round 3: rosters, stored forecasts, attribution and bin offsets on DuckDB and Spark.

The rosters (customer churn and retention, agent attrition) run their polars code on the
roster compacted by the engine (one row per distinct groups and dates, with its count), and
forecast accuracy scores stored forecasts against offered contacts the engine aggregates;
``attribution=answer|completion`` and ``bin_offset=`` place and bin rows in SQL. Each is checked
by hand on all three engines and in parity (1e-9 relative, nulls equal) with polars.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from test_engines import KPIS, TECHNION, same, technion_kpis

from kpi.compute import evaluate
from kpi.data import save

ROSTER_KPIS = ["customer_churn", "customer_retention", "agent_attrition"]


@pytest.fixture
def engines(duck, spark):
    return ("polars", duck, spark)


# ---- rosters --------------------------------------------------------------------------------


def roster_dataset(tmp_path: Path) -> str:
    """Agents and customers who join and leave on bin edges, on London's short DST day
    (2026-03-29), with open ends and duplicate dates (compacted into one weighted row)."""
    d = date.fromisoformat
    agents = pl.DataFrame(
        {
            "agent_id": ["a1", "a2", "a3", "a4", "a5", "a6", "a7"],
            "team": ["A", "A", "A", "B", "B", "B", None],
            "hired": [d("2026-01-10"), d("2026-03-01"), d("2026-02-01"), d("2026-03-29"),
                      d("2026-01-01"), d("2026-04-01"), d("2026-01-01")],
            "left": [None, d("2026-03-31"), d("2026-03-15"), d("2026-03-29"),
                     d("2026-02-28"), None, d("2026-03-28")],
        }
    )  # fmt: skip
    customers = pl.DataFrame(
        {
            "customer_id": [f"k{i}" for i in range(1, 8)],
            "joined": [d("2026-01-01"), d("2026-02-15"), d("2026-03-01"), d("2026-03-31"),
                       d("2025-06-01"), d("2025-06-01"), d("2026-01-01")],
            "churned": [None, d("2026-03-31"), d("2026-03-10"), None,
                        d("2026-02-28"), d("2026-02-28"), None],
        }
    )  # fmt: skip
    path = tmp_path / "rosters"
    save({"agents": agents, "customers": customers}, path, meta={"timezone": "Europe/London"})
    return str(path)


def test_rosters_by_hand_on_every_engine(tmp_path, engines):
    path = roster_dataset(tmp_path)
    for engine in engines:
        months = evaluate(
            path, ROSTER_KPIS, engine=engine, every="1mo", start="2026-02-01", end="2026-03-31"
        ).frame.collect()
        # February: k1, k7, k5, k6 at the start; k5 and k6 gone from 1 March: lost in February.
        # March: k1, k7, k2 and k3 (joined on the 1st) at the start; k2 (gone from 1 April)
        # lost, k3 not (joined in the period), k4 joined on the last day
        assert months["customers_start"].to_list() == [4, 4]
        assert months["customers_lost"].to_list() == [2, 1]
        assert months["customer_churn"].to_list() == [0.5, 0.25]
        assert months["customer_retention"].to_list() == [0.5, 0.75]
        march = evaluate(
            path, "agent_attrition", engine=engine, by="team", every="1mo",
            start="2026-03-01", end="2026-03-31", params={"agent_attrition.annualize": "none"},
        ).frame.collect()  # fmt: skip
        rows = {r["team"]: r for r in march.rows(named=True)}
        # A: a1, a2, a3 at the start, a1 and a2 at the end; a3 left (a2 joined in the period)
        assert (rows["A"]["separations"], rows["A"]["headcount_avg"]) == (1, 2.5)
        assert rows["A"]["agent_attrition"] == 1 / 2.5
        # B: a4 came and went on 29 March, a5 left on 28 February: nobody at either edge
        assert (rows["B"]["separations"], rows["B"]["headcount_avg"]) == (0, 0.0)
        assert rows["B"]["agent_attrition"] is None
        assert (rows[None]["separations"], rows[None]["headcount_avg"]) == (1, 0.5)
        days = evaluate(
            path, "agent_attrition", engine=engine, by="team", every="1d",
            start="2026-03-28", end="2026-03-30",
        ).frame.collect()  # fmt: skip
        b = days.filter(pl.col("team") == "B").sort("period")
        assert b["headcount_avg"].to_list() == [0.0, 1.0, 0.0]  # a4 on the 23-hour day only
        assert b["period_months"][1] == pytest.approx(23 / 24 / 30.436875, rel=1e-12)
        gone = days.filter(pl.col("team").is_null()).sort("period")["separations"].to_list()
        assert gone == [1, 0, 0]  # a7 worked 28 March, gone from the 29th


@pytest.mark.parametrize("every", [None, "1h", "1d", "1w", "1mo", "1q"])
def test_rosters_parity(tmp_path, duck, every):
    path = roster_dataset(tmp_path)
    for by in ((), ("team",)):
        same(path, ROSTER_KPIS, duck, by=by, every=every, start="2026-01-01", end="2026-04-30")
    if every in ("1d", "1mo"):
        params = {"agent_attrition.headcount": "start", "agent_attrition.annualize": "simple"}
        same(path, ["agent_attrition"], duck, by="team", every=every, params=params,
             start="2026-03-01", end="2026-04-02")  # fmt: skip


def test_rosters_spark(tmp_path, spark):
    path = roster_dataset(tmp_path)
    same(path, ROSTER_KPIS, spark, by="team", every="1d", start="2026-03-20", end="2026-04-05")
    same(path, ROSTER_KPIS, spark, every="1mo", start="2026-01-01", end="2026-04-30")


@pytest.mark.parametrize("every", [None, "1d", "1w", "1mo"])
def test_rosters_on_the_sample(samples_dir, duck, every):
    same(str(samples_dir), ROSTER_KPIS, duck, by="team", every=every)
    same(str(samples_dir), ROSTER_KPIS, duck, every=every)


def test_rosters_on_the_sample_spark(samples_dir, spark):
    same(str(samples_dir), ROSTER_KPIS, spark, by="team", every="1mo")


# ---- stored forecasts -------------------------------------------------------------------------


def forecast_dataset(tmp_path: Path) -> str:
    """Daily forecasts around London's short day (2026-03-29): two forecasts of the 29th (the
    later one counts), a day forecast at 0, a day after the last day with contacts."""
    tz = "Europe/London"
    day = lambda d, h=0: datetime(2026, 3, d, h).replace(tzinfo=UTC)  # noqa: E731
    rows = [
        # day, UTC hour, outcome: 3 offered on the 28th, 2 on the 29th, 1 on the 30th
        (28, 9, "answered"), (28, 10, "abandoned_queue"), (28, 11, "flowout"),
        (28, 12, "outbound"), (29, 0, "answered"), (29, 22, "answered"), (30, 10, "answered"),
    ]  # fmt: skip
    contacts = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(len(rows))],
            "arrival_ts": [day(d, h) for d, h, _ in rows],
            "outcome": [o for _, _, o in rows],
            "queue": "q",
            "team": "A",
        }
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone(tz))
    midnight = lambda d: datetime(2026, 3, d).replace(tzinfo=None)  # noqa: E731
    forecasts = pl.DataFrame(
        {
            "period": [midnight(d) for d in (28, 29, 29, 30, 31)],
            "interval_s": 86400.0,
            "metric": "contacts_offered",
            "forecast": [4.0, 5.0, 2.5, 0.0, 9.0],
            "until": [midnight(27), midnight(27), midnight(28), midnight(27), midnight(27)],
        }
    ).with_columns(pl.col("period", "until").dt.replace_time_zone(tz))
    path = tmp_path / "forecasts"
    save({"contacts": contacts, "forecasts": forecasts}, path, meta={"timezone": tz})
    return str(path)


def test_forecast_accuracy_by_hand_on_every_engine(tmp_path, engines):
    path = forecast_dataset(tmp_path)
    for engine in engines:
        r = evaluate(path, "forecast_accuracy", engine=engine).frame.collect()
        # |3 - 4| + |2 - 2.5| + |1 - 0| against 6 offered; the 31st has not happened
        assert (r["forecast_abs_error"].item(), r["forecast_actual"].item()) == (2.5, 6.0)
        assert r["forecast_accuracy"].item() == 1 - 2.5 / 6
        days = evaluate(path, "forecast_accuracy", engine=engine, every="1d").frame.collect()
        assert days["forecast_accuracy"].to_list() == [1 - 1 / 3, 1 - 0.5 / 2, 1 - 1 / 1]
        assert days["period"].dt.hour().to_list() == [0, 0, 0]


def test_forecast_accuracy_parity_by_hand(tmp_path, duck, spark):
    path = forecast_dataset(tmp_path)
    for engine in (duck, spark):
        for every in (None, "1h", "1d", "1w"):
            same(path, ["forecast_accuracy"], engine, every=every)
        # forecasts of the whole centre: by queue, accuracy is unknown, with the reason
        kw = {"by": "queue", "every": "1d", "start": "2026-03-29"}
        df = same(path, ["forecast_accuracy", "contacts_offered"], engine, **kw)
        assert df["forecast_accuracy"].is_null().all()
        assert df["offered"].sum() == 3
        note = evaluate(path, ["forecast_accuracy", "contacts_offered"], **kw).notes
        assert note["forecast_accuracy"].startswith("unavailable: forecasts has no queue values")


@pytest.fixture(scope="module")
def sample_forecasts(samples_dir, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample with forecasts stored by ``kpi.forecast`` (by queue every 30 minutes, and
    centre-wide by day), partly after the end of the data."""
    import kpi.forecast as F
    from kpi.data import load

    root = save(load(samples_dir), tmp_path_factory.mktemp("sample-forecasts") / "d")
    kw = {"method": "mean_of_4_weeks", "store": True}
    F.forecast(str(root), every="30m", horizon="14d", by="queue", until="2026-03-23", **kw)
    F.forecast(str(root), every="1d", horizon="28d", until="2026-03-09", **kw)
    return str(root)


@pytest.mark.parametrize("by", [(), ("queue",), ("queue", "channel"), ("team",)])
def test_forecast_accuracy_on_the_sample(sample_forecasts, duck, by):
    # forecasts by queue and of the whole centre: by channel or team, accuracy is unknown
    lacks = [d for d in by if d in ("channel", "team")]
    kpis = ["forecast_accuracy", "contacts_offered"] if lacks else ["forecast_accuracy"]
    for every in (None, "30m", "1d", "1w"):
        df = same(sample_forecasts, kpis, duck, by=by, every=every)
        if lacks:
            assert df["forecast_accuracy"].is_null().all()
            note = evaluate(sample_forecasts, kpis, by=by, every=every).notes
            assert note["forecast_accuracy"].startswith(
                f"unavailable: forecasts has no {lacks[0]}"
            )


def test_forecast_accuracy_on_the_sample_spark(sample_forecasts, spark):
    df = same(sample_forecasts, ["forecast_accuracy", "aht"], spark, by="queue", every="1d")
    assert df["forecast_accuracy"].is_not_null().sum() > 0
    same(sample_forecasts, ["forecast_accuracy"], spark, every="1w")


# ---- attribution and bin offsets ------------------------------------------------------------

#: London's short and long days.
LONDON_DST = ["2026-03-29", "2026-10-25"]


def placed_dataset(tmp_path: Path, day: str) -> str:
    """A contact every 7 minutes from the day before to the day after ``day`` (London), with
    answer and end stamps (some unknown) and after-call work with sub-microsecond parts."""
    tz = "Europe/London"
    d = datetime.fromisoformat(day).replace(tzinfo=UTC)
    n = int(3 * 24 * 60 / 7)
    arrival = [d - timedelta(days=1) + timedelta(minutes=7 * i) for i in range(n)]
    outcomes = ["answered", "abandoned_queue", "answered", "flowout", "outbound", "answered"]
    out = [outcomes[i % len(outcomes)] for i in range(n)]
    handled = [o in ("answered", "outbound") for o in out]
    wait = [float(13 * i % 300) + 0.25 for i in range(n)]
    talk = [60.0 + 37 * i % 900 for i in range(n)]
    answer = [a + timedelta(seconds=w) if h else None
              for a, w, h in zip(arrival, wait, handled, strict=True)]  # fmt: skip
    end = [
        None if i % 10 == 0 else (x + timedelta(seconds=t) if x else a + timedelta(seconds=w))
        for i, (a, x, w, t) in enumerate(zip(arrival, answer, wait, talk, strict=True))
    ]
    contacts = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(n)],
            "arrival_ts": arrival,
            "answer_ts": answer,
            "end_ts": end,
            "queue_ts": [
                a + timedelta(seconds=4) if o != "outbound" else None
                for a, o in zip(arrival, out, strict=True)
            ],
            "channel": "voice",
            "queue": "q",
            "team": ["A" if i % 3 else "B" for i in range(n)],
            "agent_id": [f"a{i % 5}" for i in range(n)],
            "customer_id": [None if i % 4 == 0 else f"k{i % 37}" for i in range(n)],
            "topic": [f"t{i % 3}" for i in range(n)],
            "outcome": out,
            "wait_s": wait,
            "talk_s": [t if h else None for t, h in zip(talk, handled, strict=True)],
            "hold_s": [float(i % 3) if handled[i] else None for i in range(n)],
            "acw_s": [None if i % 7 == 0 else 1799.9999999 + i % 4 for i in range(n)],
        },
    ).with_columns(
        pl.col("arrival_ts", "answer_ts", "end_ts", "queue_ts")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(tz)
    )
    path = tmp_path / f"placed-{day}"
    save({"contacts": contacts}, path, meta={"timezone": tz})
    return str(path)


def hand_placed(tmp_path: Path) -> str:
    """Two contacts on London's long day (2026-10-25), the first placed in three hours."""
    tz = "Europe/London"
    t = lambda hm: datetime.fromisoformat(f"2026-10-25T{hm}").replace(tzinfo=UTC)  # noqa: E731
    contacts = pl.DataFrame(
        {
            "contact_id": ["c1", "c2"],
            # c1 arrives 01:50 BST, is answered 01:10 GMT (the hour again), ends 01:20 GMT
            # and wraps up 2399.9999999 s: 01:59:59.9999999, truncated to the microsecond
            # 01:59:59.999999 GMT (rounded it would be 02:00); c2 has no answer or end stamp
            "arrival_ts": [t("00:50"), t("05:30")],
            "answer_ts": [t("01:10"), None],
            "end_ts": [t("01:20"), None],
            "outcome": ["answered", "abandoned_queue"],
            "talk_s": [600.0, None],
            "acw_s": [2399.9999999, None],
            "team": "A",
        }
    ).with_columns(pl.col("arrival_ts", "answer_ts", "end_ts").dt.convert_time_zone(tz))
    path = tmp_path / "hand-placed"
    save({"contacts": contacts}, path, meta={"timezone": tz})
    return str(path)


def test_attribution_by_hand_on_every_engine(tmp_path, engines):
    path = hand_placed(tmp_path)
    utc = lambda s: s.dt.convert_time_zone("UTC").dt.strftime("%H:%M").to_list()  # noqa: E731
    for engine in engines:
        hours = {}
        for attribution in ("arrival", "answer", "completion"):
            r = evaluate(path, "contacts_handled", engine=engine, every="1h",
                         attribution=attribution).frame.collect()  # fmt: skip
            hours[attribution] = utc(r.filter(pl.col("contacts_handled") > 0)["period"])
        # arrival: the first 01:00 (00:00 UTC); answer and completion: the second (01:00 UTC)
        assert hours == {"arrival": ["00:00"], "answer": ["01:00"], "completion": ["01:00"]}
        r = evaluate(path, "contacts_offered", engine=engine, every="1h",
                     attribution="completion").frame.collect()  # fmt: skip
        assert utc(r.filter(pl.col("contacts_offered") > 0)["period"]) == ["01:00", "05:00"]


def test_bin_offset_by_hand_on_every_engine(tmp_path, engines):
    """Days from 06:00: six hours after local midnight, in absolute time, as polars shifts a
    zone-aware stamp; on 29 March (23 hours long) that is 07:00 BST."""
    tz = "Europe/London"
    t = lambda d, hm: datetime.fromisoformat(f"2026-03-{d}T{hm}").replace(tzinfo=UTC)  # noqa: E731
    arrivals = [t(28, "05:59"), t(28, "06:00"), t(29, "05:30"), t(29, "06:00"), t(30, "05:00")]
    contacts = pl.DataFrame(
        {"arrival_ts": arrivals, "outcome": "answered", "team": "A",
         "contact_id": [f"c{i}" for i in range(len(arrivals))]}
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone(tz))  # fmt: skip
    path = tmp_path / "offset"
    save({"contacts": contacts}, path, meta={"timezone": tz})
    for engine in engines:
        r = evaluate(path, "contacts_answered", engine=engine, every="1d",
                     bin_offset="6h").frame.collect()  # fmt: skip
        starts = r["period"].dt.strftime("%m-%d %H:%M %Z").to_list()
        # 06:30 BST on the 29th is 00:30 GMT after six hours back: still the 28th's day;
        # 06:00 BST on the 30th is midnight BST after six hours back: the 30th's
        assert starts == ["03-27 06:00 GMT", "03-28 06:00 GMT", "03-29 07:00 BST",
                          "03-30 06:00 BST"]  # fmt: skip
        assert r["contacts_answered"].to_list() == [1, 2, 1, 1]
        weeks = evaluate(path, "contacts_answered", engine=engine, every="1w",
                         bin_offset="6h").frame.collect()  # fmt: skip
        assert weeks["period"].dt.strftime("%m-%d %H:%M").to_list() == ["03-23 06:00",
                                                                         "03-30 06:00"]  # fmt: skip
        assert weeks["contacts_answered"].to_list() == [4, 1]


@pytest.mark.parametrize("day", LONDON_DST)
@pytest.mark.parametrize("attribution", ["answer", "completion"])
def test_attribution_parity_on_dst_days(tmp_path, duck, day, attribution):
    path = placed_dataset(tmp_path, day)
    for every in (None, "15m", "1h", "1d"):
        same(path, KPIS, duck, by="team", every=every, attribution=attribution)
    same(path, KPIS, duck, every="1h", attribution=attribution, start=day, end=day)


@pytest.mark.parametrize("day", LONDON_DST)
@pytest.mark.parametrize(("offset", "every"), [("6h", "1d"), ("6h", "1w"), ("30m", "1h"),
                                               ("5h30m", "1d"), ("10m", "15m"), ("6h", "1mo")])  # fmt: skip
def test_bin_offset_parity_on_dst_days(tmp_path, duck, day, offset, every):
    path = placed_dataset(tmp_path, day)
    same(path, KPIS, duck, by="team", every=every, bin_offset=offset)
    same(path, KPIS, duck, every=every, bin_offset=offset, attribution="completion")


def test_attribution_and_offset_spark(tmp_path, spark):
    for day in LONDON_DST:
        path = placed_dataset(tmp_path, day)
        same(path, KPIS, spark, by="team", every="1h", attribution="completion")
        same(path, KPIS, spark, every="1d", attribution="answer", bin_offset="6h")
        same(path, KPIS, spark, by="team", every="1w", bin_offset="6h")
        same(path, KPIS, spark, every="1h", bin_offset="30m")


def test_offsets_and_attribution_on_the_sample(samples_dir, duck, spark):
    same(str(samples_dir), KPIS, duck, by="team", every="1d", bin_offset="6h")
    same(str(samples_dir), KPIS, duck, by="team", every="1w", attribution="answer")
    same(str(samples_dir), KPIS, spark, by="team", every="1d", bin_offset="6h",
         attribution="completion")  # fmt: skip


@pytest.fixture(scope="module")
def call_log(shared_datasets, tmp_path_factory: pytest.TempPathFactory) -> str:
    from kpi.io import import_file

    out = tmp_path_factory.mktemp("technion") / "data"
    import_file(shared_datasets / TECHNION, preset="technion", out=out)
    return str(out)


def test_attribution_and_offsets_on_the_real_call_log(call_log, duck):
    """The February 1999 call log after ``kpi import --preset technion`` (answer and end
    stamps from the log itself)."""
    kpis = technion_kpis(call_log)
    for kw in ({"attribution": "answer", "every": "30m"},
               {"attribution": "completion", "every": "1d"},
               {"bin_offset": "7h", "every": "1w", "attribution": "completion"}):  # fmt: skip
        same(call_log, kpis, duck, by="queue", **kw)


def test_calendar_offsets_are_refused_in_one_line(samples_dir, duck):
    from kpi.errors import KpiError

    with pytest.raises(KpiError) as err:
        evaluate(str(samples_dir), "aht", engine=duck, every="1w", bin_offset="1d")
    assert str(err.value).startswith("bin_offset='1d': the SQL engines shift bins by fixed")
    assert "\n" not in str(err.value)
