"""kpi.forecast: hand-computed baselines, a synthetic Poisson series near its floor, interval
coverage, closed hours, holidays, ``until`` exclusivity, AHT as a weighted mean, the CLI and
the real Technion 1999 arrival series."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

import kpi.forecast as F
import kpi.forecast._methods as M
from kpi.charts import chart_rows
from kpi.cli import main
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.forecast._backtest import count_interval, dispersion, poisson_floor
from kpi.forecast._holidays import Calendar
from kpi.forecast._methods import Fit, daily_profile, mean_of_4_weeks, same_slot_last_week

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _arrivals import ARRIVALS, technion_arrivals  # noqa: E402

UTC = ZoneInfo("UTC")


def _intervals(y: np.ndarray, start: date, minutes: int, tz: str = "UTC", queue: str = "q"):
    """An interval report from a days × slots matrix (one queue)."""
    days, slots = y.shape
    t0 = datetime.combine(start, datetime.min.time())
    stamps = [t0 + timedelta(minutes=minutes * i) for i in range(days * slots)]
    frame = pl.DataFrame(
        {"interval_start": stamps, "queue": queue, "offered": y.ravel().astype(np.int64)}
    ).with_columns(
        pl.col("interval_start").dt.replace_time_zone(tz),
        pl.lit(minutes * 60.0).alias("interval_s"),
    )
    return frame.filter(pl.col("offered") > 0)


def _fit(y: np.ndarray, horizon: int, first: date = date(2026, 1, 5), special=None) -> Fit:
    n = y.shape[0] + horizon
    dates = [first + timedelta(days=i) for i in range(n)]
    return Fit(
        y,
        None,
        np.array([d.weekday() for d in dates]),
        special or [None] * n,
        horizon,
        np.array([d.day for d in dates]),
    )


# ---- baselines by hand ----------------------------------------------------------------------


def test_same_slot_last_week_and_mean_of_4_weeks_by_hand():
    # 5 weeks, 1 slot a day: day d holds d
    y = np.arange(35, dtype=float)[:, None]
    fit = _fit(y, 9)
    last = same_slot_last_week(fit)[:, 0]
    # day 35 (weekday of day 28) -> 28; day 41 -> 34; day 42 (2nd week ahead) -> 28 again
    assert last.tolist() == [28, 29, 30, 31, 32, 33, 34, 28, 29]
    mean4 = mean_of_4_weeks(fit)[:, 0]
    # day 35 -> mean(28, 21, 14, 7) = 17.5
    assert mean4[:7].tolist() == [17.5, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5]
    assert mean4[7] == 17.5


def test_mean_of_4_weeks_with_two_weeks_of_history_uses_two():
    y = np.array([[1.0]] * 7 + [[3.0]] * 7)
    assert mean_of_4_weeks(_fit(y, 7))[:, 0].tolist() == [2.0] * 7


def test_a_week_is_needed():
    with pytest.raises(ValueError, match="a week"):
        same_slot_last_week(_fit(np.ones((6, 2)), 1))


def test_backtest_helpers_by_hand():
    assert dispersion(np.array([0.0, 20.0]), np.array([10.0, 10.0])) == pytest.approx(0.9)
    lo, hi = count_interval(np.array([0.0, 100.0]), 0.8, 0.0)
    assert lo.tolist() == [0.0, 87.0]
    assert hi.tolist() == [0.0, 113.0]
    # sqrt(2 / (pi * 50))
    assert poisson_floor(np.array([100.0, 0.0, 0.0]), np.array([True, True, False])) == (
        pytest.approx(0.11284, abs=1e-5)
    )


# ---- synthetic Poisson series ---------------------------------------------------------------


def _synthetic(weeks: int = 16, seed: int = 3, slots: int = 48, scale: float = 40.0):
    rng = np.random.default_rng(seed)
    hours = np.arange(slots) * 24 / slots
    intraday = np.clip(np.sin((hours - 7) / 13 * np.pi), 0, None)  # open 07:00-20:00
    weekly = np.array([1.2, 1.0, 1.0, 0.9, 0.8, 0.3, 0.0])  # closed on Sundays
    days = weeks * 7
    wd = np.array([(date(2026, 1, 5) + timedelta(days=d)).weekday() for d in range(days)])
    lam = scale * weekly[wd][:, None] * intraday[None, :]
    return rng.poisson(lam).astype(float), lam


def test_daily_profile_approaches_the_poisson_floor_on_a_synthetic_series():
    y, lam = _synthetic()
    train, test = y[:-14], y[-14:]
    fit = _fit(train, 14)
    f = daily_profile(fit)
    wape = np.abs(test - f).sum() / test.sum()
    oracle = np.abs(test - lam[-14:]).sum() / test.sum()  # knows the rates
    base = np.abs(test - mean_of_4_weeks(fit)).sum() / test.sum()
    assert wape < base
    assert wape < 1.08 * oracle  # within 8% of a forecast that knows the true rates
    # closed hours and closed Sundays: 0
    assert f[:, :12].max() == 0  # before 06:00
    assert f[6].max() == 0  # Sundays of the horizon
    assert f[13].max() == 0


def _annual(start: date, n: int, seed: int = 11, slots: int = 24, scale: float = 20.0):
    """Daily-Poisson days with the weekly and intraday shapes of :func:`_synthetic` and a
    yearly cycle: +40% on 15 December, a bump of 12 days' standard deviation."""
    rng = np.random.default_rng(seed)
    dates = [start + timedelta(days=i) for i in range(n)]
    hours = np.arange(slots) * 24 / slots
    intraday = np.clip(np.sin((hours - 7) / 13 * np.pi), 0, None)
    weekly = np.array([1.2, 1.0, 1.0, 0.9, 0.8, 0.3, 0.0])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    dist = (doy - 349 + 182) % 365 - 182  # days from 15 December, either way
    season = 1 + 0.4 * np.exp(-0.5 * (dist / 12.0) ** 2)
    wd = np.array([d.weekday() for d in dates])
    lam = scale * season[:, None] * weekly[wd][:, None] * intraday[None, :]
    return rng.poisson(lam).astype(float), lam


def test_yearly_seasonality_anticipates_last_years_december_rise():
    # 2.5 years from Monday 2023-07-03; forecast the week of Monday 2025-12-08
    start, origin = date(2023, 7, 3), date(2025, 12, 8)
    o = (origin - start).days
    y, lam = _annual(start, o + 7)
    test = y[o:]

    def wape(f):
        return np.abs(test - f).sum() / test.sum()

    with_year = daily_profile(_fit(y[:o], 7, start))
    # the same method on the last 364 days only: no yearly factor
    without = daily_profile(_fit(y[o - 364 : o], 7, start + timedelta(days=o - 364)))
    oracle = wape(lam[o:])
    # measured: with 20.5%, without 25.9%, oracle (true rates) 18.9%
    assert wape(with_year) == pytest.approx(0.205, abs=0.005)
    assert wape(without) == pytest.approx(0.259, abs=0.005)
    assert wape(with_year) < 0.85 * wape(without)
    assert wape(with_year) < 1.1 * oracle
    # the week's total moves up towards the truth (rates +33% to +40% over November's)
    assert with_year.sum() > 1.1 * without.sum()
    assert abs(with_year.sum() - lam[o:].sum()) < 0.5 * abs(without.sum() - lam[o:].sum())


def test_yearly_factor_is_about_one_without_a_yearly_cycle():
    y, _ = _synthetic(weeks=70, seed=8, slots=24)  # 490 days, no yearly cycle
    fit = _fit(y, 7, date(2024, 1, 1))
    yearly = M._yearly(fit, M._days(fit))
    assert np.abs(yearly - 1).max() < 0.03


@pytest.mark.parametrize("days", [30, 200, 364, 399])
def test_under_400_days_of_history_the_forecast_is_unchanged(days, monkeypatch):
    y, _ = _annual(date(2024, 1, 1), days, seed=4)
    fit = _fit(y, 14, date(2024, 1, 1))
    f = daily_profile(fit)
    monkeypatch.setattr(M, "YEAR_MIN_DAYS", 10**9)  # yearly seasonality off
    assert np.array_equal(f, daily_profile(fit))
    assert M._yearly(fit, M._days(fit)).tolist() == [1.0] * 14


def test_interval_coverage_near_the_nominal_level_and_zero_width_when_closed():
    y, _ = _synthetic(weeks=20, seed=11)
    ds = Dataset({"intervals": _intervals(y, date(2026, 1, 5), 30)}, tz="UTC")
    hits = total = 0
    for week in (16, 17, 18):
        until = date(2026, 1, 5) + timedelta(days=7 * week)
        fc = F.forecast(ds, every="30m", horizon="7d", until=until.isoformat(), level=80)
        actual = y[7 * week : 7 * week + 7].ravel()
        is_open = fc["forecast"].to_numpy() > 0
        inside = (actual >= fc["lower"].to_numpy()) & (actual <= fc["upper"].to_numpy())
        hits += int(inside[is_open].sum())
        total += int(is_open.sum())
        closed = fc.filter(pl.col("forecast") == 0)
        assert closed.height > 0
        assert (closed["lower"] == 0).all()
        assert (closed["upper"] == 0).all()
    assert 0.75 <= hits / total <= 0.92  # discrete counts over-cover a little


def test_holiday_effect_is_estimated_from_history():
    # weekdays 100 a day in one slot; every public holiday in GB gets 10
    first = date(2025, 1, 6)
    n = (date(2026, 3, 30) - first).days  # the horizon holds Good Friday, 2026-04-03
    dates = [first + timedelta(days=i) for i in range(n + 7)]
    cal = Calendar.build(dates[0], dates[-1], country="GB")
    special = cal.kinds(dates)
    y = np.array([[10.0 if (s is not None and s[0] == "holiday") else 100.0] for s in special[:n]])
    fit = Fit(
        y,
        None,
        np.array([d.weekday() for d in dates]),
        special,
        7,
        np.array([d.day for d in dates]),
    )
    f = daily_profile(fit)[:, 0]
    future = dates[n : n + 7]
    for d, v, s in zip(future, f, special[n:], strict=True):
        if s is not None and s[0] == "holiday":
            assert v == pytest.approx(10.0, rel=0.05), d
        elif s is None:
            assert v == pytest.approx(100.0, rel=0.05), d
    assert special[n + 4] == ("holiday", "Good Friday")
    assert f[4] == pytest.approx(10.0, rel=0.05)


def test_calendar_marks_eves_days_after_and_events():
    ev = pl.DataFrame(
        {
            "start": [date(1999, 9, 1)],
            "end": [date(1999, 9, 2)],
            "label": ["outage"],
            "team": [None],
        }
    )
    cal = Calendar.build(date(1999, 8, 30), date(1999, 9, 21), country="IL", events=ev)
    assert cal.days[date(1999, 9, 1)] == ("event", "outage")
    assert cal.days[date(1999, 9, 2)] == ("event", "outage")
    assert cal.days[date(1999, 9, 20)] == ("holiday", "Yom Kippur")
    assert cal.days[date(1999, 9, 19)] == ("eve", "eve of Yom Kippur")
    assert cal.days[date(1999, 9, 21)] == ("after", "after Yom Kippur")
    other = Calendar.build(
        date(1999, 8, 30),
        date(1999, 9, 3),
        country=None,
        events=ev.with_columns(team=pl.lit("North")),
        team="South",
    )
    assert other.days == {}


# ---- the public function --------------------------------------------------------------------


def _ds(weeks: int = 6) -> Dataset:
    y, _ = _synthetic(weeks=weeks, seed=5, slots=24)
    return Dataset({"intervals": _intervals(y, date(2026, 1, 5), 60)}, tz="UTC")


def test_until_is_exclusive_and_the_forecast_starts_there():
    ds = _ds()
    fc = F.forecast(ds, every="1h", horizon="36h", until="2026-02-09T12:00")
    assert fc["period"].min() == datetime(2026, 2, 9, 12, tzinfo=UTC)
    assert fc["period"].max() == datetime(2026, 2, 10, 23, tzinfo=UTC)
    assert fc.height == 36
    assert fc.columns == ["period", "forecast", "lower", "upper", "method"]
    # history stops before until: changing data at or after it changes nothing
    later = ds["intervals"].filter(pl.col("interval_start") >= datetime(2026, 2, 9, tzinfo=UTC))
    doubled = ds.replace(
        intervals=pl.concat(
            [
                ds["intervals"].filter(
                    pl.col("interval_start") < datetime(2026, 2, 9, tzinfo=UTC)
                ),
                later.with_columns(pl.col("offered") * 10),
            ]
        )
    )
    again = F.forecast(doubled, every="1h", horizon="36h", until="2026-02-09T12:00")
    assert again["forecast"].to_list() == fc["forecast"].to_list()


def test_default_until_is_the_end_of_the_data_and_the_module_is_callable():
    ds = _ds()
    fc = F(ds, every="1h", horizon="2d", method="same_slot_last_week")
    # the data's last day with contacts is Saturday 2026-02-14 (closed on Sundays)
    assert fc["period"].min() == datetime(2026, 2, 15, tzinfo=UTC)
    assert fc.filter(pl.col("period").dt.day() == 15)["forecast"].sum() == 0
    assert set(fc["method"]) == {"same_slot_last_week"}
    # same slot last week, by hand
    y = (
        ds["intervals"]
        .filter(
            pl.col("interval_start") >= datetime(2026, 2, 9, tzinfo=UTC),
            pl.col("interval_start") < datetime(2026, 2, 10, tzinfo=UTC),
        )
        .collect()
    )
    want = dict(zip([t.hour for t in y["interval_start"]], y["offered"], strict=True))
    got = {
        t.hour: v for t, v in zip(fc["period"], fc["forecast"], strict=True) if v and t.day == 16
    }
    assert got == {h: float(v) for h, v in want.items()}


def test_by_groups_and_leaderboard():
    y1, _ = _synthetic(weeks=8, seed=1, slots=24)
    y2, _ = _synthetic(weeks=8, seed=2, slots=24, scale=10)
    table = pl.concat(
        [
            _intervals(y1, date(2026, 1, 5), 60, queue="A"),
            _intervals(y2, date(2026, 1, 5), 60, queue="B"),
        ]
    )
    r = F.run(Dataset({"intervals": table}, tz="UTC"), every="1h", horizon="7d", by="queue")
    assert r.table["queue"].unique().sort().to_list() == ["A", "B"]
    assert r.table.height == 2 * 7 * 24
    lb = r.leaderboard
    assert set(lb.columns) >= {
        "queue",
        "method",
        "wape",
        "mase",
        "bias",
        "coverage",
        "poisson_floor",
        "chosen",
    }
    assert lb.group_by("queue").agg(pl.col("chosen").sum())["chosen"].to_list() == [1, 1]
    chosen = lb.filter("chosen")
    for q in ("A", "B"):
        best = lb.filter(pl.col("queue") == q)["wape"].min()
        assert chosen.filter(pl.col("queue") == q)["wape"].item() == best
    assert (lb["poisson_floor"] > 0).all()
    # the quieter queue has the higher floor
    floors = dict(zip(chosen["queue"], chosen["poisson_floor"], strict=True))
    assert floors["B"] > floors["A"]


def test_aht_is_a_weighted_mean_of_past_weeks():
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    rows = []
    for d in range(28):
        day = t0 + timedelta(days=d)
        # 3 contacts of 100 s and 1 of 500 s each day in the 09:00 hour: Σ 800 / 4 = 200
        for h in (100, 100, 100, 500):
            rows.append((day, h))
    ts = [r[0] for r in rows]
    contacts = pl.DataFrame(
        {
            "arrival_ts": ts,
            "queue_ts": ts,
            "answer_ts": ts,
            "outcome": ["answered"] * len(rows),
            "direction": ["inbound"] * len(rows),
            "talk_s": [float(r[1]) for r in rows],
            "hold_s": [0.0] * len(rows),
            "acw_s": [0.0] * len(rows),
        }
    )
    fc = F.forecast(
        {"contacts": contacts}, every="1h", horizon="1d", metric="aht", method="mean_of_4_weeks"
    )
    at9 = fc.filter(pl.col("period").dt.hour() == 9)
    assert at9["forecast"].item() == pytest.approx(200.0)  # not the mean of means
    assert fc.filter(pl.col("period").dt.hour() == 3)["forecast"].item() is None  # closed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": "0d"}, "bad horizon"),
        ({"horizon": "90m", "every": "1h"}, "whole number"),
        ({"horizon": "soon"}, "bad horizon"),
        ({"every": "5m"}, "--every must be one of"),
        ({"method": "magic"}, "unknown method"),
        ({"level": 100}, "level"),
        ({"metric": "csat"}, "--metric"),
        ({"until": "2026-01-08"}, "too little history"),
        ({"until": "2025-01-01"}, "no contacts_offered"),
    ],
)
def test_bad_arguments_raise_one_clear_error(kwargs, message):
    with pytest.raises(KpiError, match=message):
        F.forecast(_ds(), **{"every": "1h", **kwargs})


def test_a_group_without_volume_is_left_out_with_a_note():
    y, _ = _synthetic(weeks=6, seed=5, slots=24)
    table = _intervals(y, date(2026, 1, 5), 60).vstack(
        _intervals(np.ones((1, 24)), date(2026, 1, 5), 60, queue="empty").with_columns(
            pl.lit(0, pl.Int64).alias("offered")
        )
    )
    r = F.run(Dataset({"intervals": table}, tz="UTC"), every="1h", by="queue")
    assert r.table["queue"].unique().to_list() == ["q"]
    assert any("empty" in n and "no contacts_offered" in n for n in r.notes)


# ---- CLI ------------------------------------------------------------------------------------


def test_cli_csv_json_md_and_leaderboard(tmp_path, capsys):
    from kpi.data import save

    save(_ds(), tmp_path / "d")
    out = tmp_path / "f.csv"
    args = ["forecast", "--data", str(tmp_path / "d"), "--every", "1h", "--horizon", "1d"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    frame = pl.read_csv(out)
    assert frame.columns == ["period", "forecast", "lower", "upper", "method"]
    assert frame.height == 24
    assert main([*args, "--format", "json", "--quiet"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["meta"]["metric"] == "contacts_offered"
    assert len(doc["rows"]) == 24
    assert main([*args, "--leaderboard", "--format", "md", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("| method | wape | mase | bias | coverage | poisson_floor |")
    assert main([*args, "--store", "--quiet"]) == 0
    assert "stored 24 forecast rows" in capsys.readouterr().err
    assert pl.read_parquet(tmp_path / "d" / "forecasts.parquet").height == 24
    assert main([*args, "--horizon", "2x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("kpi forecast: error: bad horizon '2x'")


# ---- stored forecasts and the forecast_accuracy KPI -----------------------------------------


def _two_queues(tmp_path: Path) -> Path:
    """Five weeks of one 09:00 hour a day: queue A 10 contacts, B 30; 12 and 30 in week five."""
    y_a = np.zeros((35, 24))
    y_a[:, 9] = 10
    y_a[28:, 9] = 12
    y_b = np.zeros((35, 24))
    y_b[:, 9] = 30
    table = pl.concat(
        [
            _intervals(y_a, date(2026, 1, 5), 60, queue="A"),
            _intervals(y_b, date(2026, 1, 5), 60, queue="B"),
        ]
    )
    from kpi.data import save

    return save(Dataset({"intervals": table}, tz="UTC"), tmp_path / "d")


def test_store_keeps_forecasts_and_forecast_accuracy_scores_them_by_hand(tmp_path):
    from kpi.compute import evaluate
    from kpi.data import load

    root = _two_queues(tmp_path)
    # no forecasts stored: unknown, with the reason, never a number
    r = evaluate(load(root), "forecast_accuracy,contacts_offered", every="1w")
    assert r.frame.collect()["forecast_accuracy"].is_null().all()
    assert r.notes["forecast_accuracy"] == "unavailable: no forecasts table; needs forecasts"
    with pytest.raises(KpiError, match="cannot compute forecast_accuracy from this data"):
        evaluate(load(root), "forecast_accuracy")
    kw = {"every": "1h", "method": "mean_of_4_weeks", "until": "2026-02-02"}
    # two weeks ahead: the second week is after the end of the data and is not scored
    fc = F.forecast(str(root), horizon="14d", by="queue", store=True, **kw)
    F.forecast(str(root), horizon="14d", by="queue", store=True, **kw)  # the same: replaced
    F.forecast(str(root), horizon="7d", store=True, **kw)  # centre-wide
    stored = load(root)["forecasts"].collect()
    assert stored.height == fc.height + 7 * 24
    assert set(stored["metric"]) == {"contacts_offered"}
    assert stored["interval_s"].unique().to_list() == [3600.0]
    assert stored.filter(pl.col("queue").is_null()).height == 7 * 24
    row = stored.filter((pl.col("queue") == "A") & (pl.col("forecast") > 0)).row(0, named=True)
    assert row["forecast"] == 10.0
    assert row["until"] == datetime(2026, 2, 2, tzinfo=UTC)
    assert row["period"] == datetime(2026, 2, 2, 9, tzinfo=UTC)
    assert row["method"] == "mean_of_4_weeks"
    assert row["channel"] is None
    assert row["team"] is None
    ds = load(root)
    by_q = (
        evaluate(ds, "forecast_accuracy", by=["queue"], start="2026-02-02", measures=True)
        .frame.collect()
        .sort("queue")
    )
    # A: forecast 10, actual 12 on 7 days -> 1 - 14 / 84; B: exact
    assert by_q["forecast_abs_error"].to_list() == [14.0, 0.0]
    assert by_q["forecast_actual"].to_list() == [84.0, 210.0]
    assert by_q["forecast_accuracy"].to_list() == pytest.approx([1 - 14 / 84, 1.0])
    # the centre: its own centre-wide forecast (40 against 42 on 7 days)
    centre = evaluate(ds, "forecast_accuracy", start="2026-02-02").frame.collect()
    assert centre["forecast_accuracy"].item() == pytest.approx(1 - 14 / 294)
    # by week: only the week that has happened has a value
    weekly = evaluate(ds, "forecast_accuracy", every="1w", by=["queue"]).frame.collect()
    assert weekly.filter(pl.col("forecast_accuracy").is_not_null()).height == 2


def test_store_refuses_what_it_cannot_keep(tmp_path):
    root = _two_queues(tmp_path)
    with pytest.raises(KpiError, match="dataset directory"):
        F.forecast(_ds(), every="1h", store=True)
    with pytest.raises(KpiError, match="not by topic"):
        F.forecast(str(root), every="1h", by=["queue", "topic"], store=True)
    assert not (root / "forecasts.parquet").exists()


def test_run_keeps_recent_history_and_special_days():
    y, _ = _synthetic(weeks=6, seed=5, slots=24)
    events = pl.DataFrame(
        {"start_ts": [datetime(2026, 2, 10, 9, tzinfo=UTC)], "label": ["mailing"]}
    )
    ds = Dataset({"intervals": _intervals(y, date(2026, 1, 5), 60), "events": events}, tz="UTC")
    r = F.run(ds, every="1h", horizon="7d", until="2026-02-09")
    assert r.recent.columns == ["period", "actual"]
    assert r.recent.height == F.RECENT_DAYS * 24
    assert r.recent["period"].min() == datetime(2026, 1, 26, tzinfo=UTC)
    assert r.recent["actual"].sum() == float(y[21:35].sum())
    assert r.special.rows() == [(date(2026, 2, 10), "event", "mailing")]


# ---- the real arrival series ----------------------------------------------------------------


@pytest.mark.skipif(
    not ARRIVALS.exists(), reason="../shared/datasets/technion_bank_1999_6min is absent"
)
def test_technion_arrivals_beat_the_four_week_mean():
    ds = technion_arrivals()
    r = F.run(ds, every="30m", horizon="7d", until="1999-12-06")
    lb = {row["method"]: row for row in r.leaderboard.iter_rows(named=True)}
    assert lb["daily_profile"]["wape"] < lb["mean_of_4_weeks"]["wape"]
    assert lb["daily_profile"]["wape"] > lb["daily_profile"]["poisson_floor"] * 0.8
    fc = r.table
    assert fc["period"].min() == datetime(1999, 12, 6, tzinfo=ZoneInfo("Asia/Jerusalem"))
    assert fc.height == 7 * 48
    # Friday afternoon closing and the Saturday night reopening are kept
    fri = fc.filter(pl.col("period").dt.weekday() == 5)
    assert (
        fri.filter(pl.col("period").dt.hour() == 18)["forecast"].sum()
        < 0.1 * fri["forecast"].sum()
    )
    # one week, Monday to Sunday, holds about what such a week held in December 1999
    assert 8_000 < fc["forecast"].sum() < 12_000


def test_forecast_chart_of_a_run():
    from kpi.charts import forecast_chart

    y, _ = _synthetic(weeks=6, seed=5, slots=24)
    hol = pl.DataFrame(
        {
            "start_ts": [datetime(2026, 2, 3, tzinfo=UTC)],
            "end_ts": [datetime(2026, 2, 3, 12, tzinfo=UTC)],
            "label": ["outage"],
        }
    )
    ds = Dataset({"intervals": _intervals(y, date(2026, 1, 5), 60), "events": hol}, tz="UTC")
    r = F.run(ds, every="1h", horizon="2d", until="2026-02-09", level=90)
    spec = forecast_chart(r.recent, r.table, special=r.special, level=90).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == [
        "rect",
        "area",
        "line",
        "line",
        "rule",
        "text",
    ]
    values = chart_rows(spec, 2)
    assert sum(v["series"] == "actual" for v in values) == 14 * 24
    assert sum(v["series"] == "forecast" for v in values) == 2 * 24
    assert values[0]["t"] == "2026-01-26T00:00:00"  # wall-clock time, no offset
    assert spec["layer"][1]["encoding"]["y2"] == {"field": "upper"}
    assert chart_rows(spec, 5) == [
        {
            "start": "2026-02-03T00:00:00",
            "end": "2026-02-04T00:00:00",
            "kind": "event",
            "label": "outage",
        }
    ]
    assert chart_rows(spec, 4)[0]["t"] == "2026-02-09T00:00:00"
