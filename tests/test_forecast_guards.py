"""``kpi forecast`` refuses what it cannot know or must not show: an ``until`` after the end
of the data (unknown, not zero), customer identifiers as groups, and more groups than
:data:`kpi.forecast._series.MAX_GROUPS`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

import kpi.forecast as F
import kpi.forecast._series as S
from kpi.cli import main
from kpi.data import Dataset, save
from kpi.errors import KpiError

UTC = ZoneInfo("UTC")


def _contacts(days: int = 35, *, first: date = date(2026, 1, 5), **columns) -> pl.DataFrame:
    """Three contacts a day at 09:00, 09:10 and 09:20 UTC for ``days`` days, plus columns
    (each a function of the row number)."""
    t0 = datetime.combine(first, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    ts = [t0 + timedelta(days=d, minutes=m) for d in range(days) for m in (0, 10, 20)]
    frame = pl.DataFrame(
        {"arrival_ts": ts, "queue_ts": ts, "outcome": ["answered"] * len(ts), "queue": "A"}
    )
    return frame.with_columns(
        pl.Series(name, [f(i) for i in range(len(ts))]) for name, f in columns.items()
    )


def _intervals(days: int = 35, first: date = date(2026, 1, 5)) -> pl.DataFrame:
    """An hourly interval report, 5 offered 08:00 to 17:00 every day, zero rows kept."""
    t0 = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    stamps = [t0 + timedelta(hours=h) for h in range(24 * days)]
    return pl.DataFrame(
        {
            "interval_start": stamps,
            "interval_s": 3600.0,
            "queue": "q",
            "offered": [5 if 8 <= t.hour < 17 else 0 for t in stamps],
        }
    )


# ---- until after the end of the data --------------------------------------------------------


def test_until_after_the_end_of_contacts_is_refused_and_up_to_it_accepted():
    ds = Dataset({"contacts": _contacts()}, tz="UTC")  # last day 2026-02-08
    with pytest.raises(KpiError) as err:
        F.forecast(ds, every="1d", horizon="7d", until="2026-02-20")
    msg = str(err.value)
    assert msg == (
        "--until 2026-02-20 00:00:00+00:00 is after the end of the data, "
        "2026-02-09 00:00:00+00:00 (their last day is 2026-02-08): what follows is unknown, "
        "not 0; --until must be within the data"
    )
    # one microsecond after the end is already after it
    with pytest.raises(KpiError, match="after the end of the data"):
        F.forecast(ds, every="1h", horizon="1h", until="2026-02-09T00:00:00.000001")
    # the end itself is the default; a time within the last day is fine too
    at_end = F.forecast(ds, every="1d", horizon="1d", until="2026-02-09", method="mean_of_4_weeks")
    default = F.forecast(ds, every="1d", horizon="1d", method="mean_of_4_weeks")
    assert at_end.equals(default)
    assert at_end["period"].to_list() == [datetime(2026, 2, 9, tzinfo=UTC)]
    assert at_end["forecast"].to_list() == [3.0]
    inside = F.forecast(ds, every="1h", horizon="1h", until="2026-02-08T09:00")
    assert inside["period"].to_list() == [datetime(2026, 2, 8, 9, tzinfo=UTC)]
    assert inside["forecast"].item() > 0


def test_until_after_an_interval_report_is_refused_where_its_last_interval_ends():
    ds = Dataset({"intervals": _intervals()}, tz="UTC")  # last interval 2026-02-08 23:00-24:00
    with pytest.raises(KpiError, match=r"end of the data, 2026-02-09 00:00:00\+00:00 \(their "):
        F.forecast(ds, every="1h", horizon="1d", until="2026-02-10")
    fc = F.forecast(ds, every="1d", horizon="2d", until="2026-02-09", method="same_slot_last_week")
    assert fc["forecast"].to_list() == [45.0, 45.0]  # 9 hours × 5, not the zeros of no data


def test_until_after_the_data_is_refused_for_aht_too():
    contacts = _contacts(
        direction=lambda i: "inbound",
        talk_s=lambda i: 100.0,
        hold_s=lambda i: 0.0,
        acw_s=lambda i: 0.0,
    ).with_columns(pl.col("arrival_ts").alias("answer_ts"))
    ds = Dataset({"contacts": contacts}, tz="UTC")
    with pytest.raises(KpiError, match="after the end of the data"):
        F.forecast(ds, every="1h", horizon="1d", metric="aht", until="2026-03-01")
    fc = F.forecast(ds, every="1h", horizon="1d", metric="aht", method="mean_of_4_weeks")
    assert fc.filter(pl.col("period").dt.hour() == 9)["forecast"].item() == pytest.approx(100.0)


def test_cli_until_after_the_data_one_error_line(tmp_path, capsys):
    save(Dataset({"contacts": _contacts()}, tz="UTC"), tmp_path / "d")
    args = ["forecast", "--data", str(tmp_path / "d"), "--every", "1d", "--horizon", "7d"]
    for extra in (["--format", "md"], ["--leaderboard"], ["--until", "2027-06-01"]):
        until = [] if "--until" in extra else ["--until", "2026-04-15"]
        assert main([*args, *until, *extra, "--quiet"]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("kpi forecast: error: --until 20")
        assert "is after the end of the data, 2026-02-09 00:00:00+00:00" in lines[0]
    assert main([*args, "--until", "2026-02-09", "--quiet"]) == 0
    assert capsys.readouterr().out.count("\n") == 8  # header and seven days


def test_the_sample_ends_on_2026_03_31(samples_dir):
    with pytest.raises(KpiError, match=r"2026-04-01 00:00:00\+01:00 \(their last day is 2026-03"):
        F.forecast(str(samples_dir), every="1d", horizon="7d", until="2026-04-15")
    fc = F.forecast(str(samples_dir), every="1d", horizon="1d", until="2026-04-01")
    assert fc["period"].dt.date().to_list() == [date(2026, 4, 1)]
    assert fc["forecast"].item() > 100


# ---- groups: no customer identifiers, not too many ------------------------------------------


def test_customer_identifiers_are_refused_as_groups_without_showing_one(tmp_path, capsys):
    ids = lambda i: f"C{1000000 + i}"  # noqa: E731 - a value per row
    ds = Dataset({"contacts": _contacts(customer_id=ids, team=lambda i: "T1")}, tz="UTC")
    for by in ("customer_id", ["queue", "customer_id"], "email", "caller_phone"):
        with pytest.raises(KpiError) as err:
            F.run(ds, every="1d", horizon="1d", by=by)
        assert "holds customer identifiers; valid: queue, team" in str(err.value)
    save(ds, tmp_path / "d")
    base = ["forecast", "--data", str(tmp_path / "d"), "--every", "1d", "--horizon", "1d"]
    for extra in ([], ["--store"], ["--leaderboard", "--format", "json"]):
        assert main([*base, "--by", "customer_id", *extra, "--quiet"]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == (
            "kpi forecast: error: cannot forecast by 'customer_id': it holds customer "
            "identifiers; valid: queue, team\n"
        )
        assert "C100" not in err


def _many_topics(n: int) -> pl.DataFrame:
    """Ten days of queue A's contacts, and on 2026-01-13 at 10:00 one contact each of ``n``
    topics."""
    t = datetime(2026, 1, 13, 10, tzinfo=UTC)
    extra = pl.DataFrame(
        {
            "arrival_ts": [t] * n,
            "queue_ts": [t] * n,
            "outcome": ["answered"] * n,
            "queue": "A",
            "topic": [f"t{i}" for i in range(n)],
        }
    )
    return pl.concat([_contacts(days=10, topic=lambda i: "t0"), extra])


def test_more_groups_than_max_groups_are_refused_with_their_count():
    ds = Dataset({"contacts": _many_topics(S.MAX_GROUPS + 1)}, tz="UTC")
    with pytest.raises(KpiError) as err:
        F.run(ds, every="1d", horizon="1d", by=["queue", "topic"])
    assert str(err.value) == (
        "--by queue,topic makes 1,001 groups, more than the 1,000 one forecast can take; group "
        "by coarser columns (e.g. queue) or fewer of them"
    )
    # the groups of the history count: with until before the extra day, one topic
    fc = F.run(ds, every="1d", horizon="1d", by="topic", until="2026-01-13")
    assert fc.table["topic"].to_list() == ["t0"]
    assert fc.table["forecast"].to_list() == [3.0]


def test_max_groups_is_the_largest_number_accepted(monkeypatch):
    monkeypatch.setattr(S, "MAX_GROUPS", 4)
    ds = Dataset({"contacts": _many_topics(4)}, tz="UTC")  # t0 to t3
    table = F.run(ds, every="1d", horizon="1d", by="topic", method="mean_of_4_weeks").table
    assert table["topic"].to_list() == ["t0", "t1", "t2", "t3"]
    ds = Dataset({"contacts": _many_topics(5)}, tz="UTC")
    with pytest.raises(KpiError, match=r"^--by topic makes 5 groups, more than the 4 one "):
        F.run(ds, every="1d", horizon="1d", by="topic")


def test_cli_too_many_groups_one_error_line(tmp_path, capsys):
    contacts = _contacts(days=400).with_row_index("contact_id")  # 1,200 contacts
    save(Dataset({"contacts": contacts}, tz="UTC"), tmp_path / "d")
    args = ["forecast", "--data", str(tmp_path / "d"), "--every", "1d", "--horizon", "1d"]
    assert main([*args, "--by", "contact_id", "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "kpi forecast: error: --by contact_id makes 1,200 groups, more than the 1,000 one "
        "forecast can take; group by coarser columns (e.g. queue) or fewer of them\n"
    )
