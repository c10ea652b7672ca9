"""``kpi schedule`` never plans on an unknown: contacts without handle times need an assumed
AHT (``--aht-s``), and a week with days outside the data is refused, naming the days the data
cover (their demand is unknown, never zero)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from fixtures_small import interval_report

from kpi.data import Dataset, save
from kpi.errors import KpiError
from kpi.schedule import required_from_data, requirements_for_week

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"  # data from Thu 2026-01-01 to Tue 2026-03-31
ZONE = ZoneInfo("Europe/London")


def intervals(first: datetime, days: int, *, queues: dict[str, float | None]) -> pl.DataFrame:
    """An hourly interval report: 10 contacts offered at 09:00-16:59 every day in each queue;
    a queue's value is its handle time per contact in seconds (talk_s, all answered), or None
    for an arrivals-only queue (no answered, no talk_s)."""
    slots = [
        (
            (first + timedelta(days=d, hours=h)).replace(tzinfo=ZONE),
            queue,
            10 if 9 <= h < 17 else 0,
        )
        for d in range(days)
        for h in range(24)
        for queue in queues
    ]
    return interval_report(slots, queues, 3600.0, drop_unknown=False)


def dataset(tmp_path: Path, frame: pl.DataFrame, name: str = "ds") -> Path:
    frame = frame.drop([c for c in ("answered", "talk_s") if frame[c].null_count() == len(frame)])
    save(Dataset({"intervals": frame}, tz="Europe/London"), tmp_path / name)
    return tmp_path / name


def kpi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kpi", *args], capture_output=True, text=True)


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("kpi schedule: error: ")
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
    return out.stderr


# --- handle times unknown ---------------------------------------------------------------------


def test_arrivals_only_week_is_refused_not_planned_on_zero_workload(tmp_path):
    # Mon 2026-03-02 .. Sun 2026-03-08: 7 days x 8 busy hours x 10 contacts = 560 offered
    ds = dataset(tmp_path, intervals(datetime(2026, 3, 2), 7, queues={"Q": None}))
    with pytest.raises(KpiError, match=r"AHT \(handle time\) is unknown") as err:
        required_from_data(ds, week="2026-W10", every="1h")
    assert "all 560 contacts" in str(err.value)
    assert "--aht-s" in str(err.value)
    out = kpi("schedule", "--data", str(ds), "--week", "2026-W10", "--every", "1h")
    text = one_line_error(out)
    assert "AHT (handle time) is unknown" in text
    assert "--aht-s" in text
    assert "kpi staffing" not in text  # the option is schedule's own


def test_assumed_aht_gives_the_hand_computed_plan_and_says_so(tmp_path):
    """10 contacts an hour at an assumed 180 s: 0.5 Erlangs. Erlang C for 80 % in 20 s:
    n = 1: P(wait) = 0.5, SL = 1 - 0.5 e^(-0.5 x 20/180) = 0.53 < 0.8;
    n = 2: B = 0.125 / 1.625 = 0.0769, P(wait) = B / (1 - 0.25 (1 - B)) = 0.1,
    SL = 1 - 0.1 e^(-1.5 x 20/180) = 0.915 >= 0.8: 2 whole agents in each busy hour."""
    ds = dataset(tmp_path, intervals(datetime(2026, 3, 2), 7, queues={"Q": None}))
    notes: list[str] = []
    req = required_from_data(ds, week="2026-W10", every="1h", aht_s=180, notes=notes)
    busy = req.filter(pl.col("offered") > 0)
    assert busy.height == 7 * 8
    assert busy["load_erlangs"].to_list() == pytest.approx([0.5] * 56)
    assert busy["aht_s"].to_list() == pytest.approx([180.0] * 56)
    assert notes == [
        "AHT assumed 180 s (the data has no handle times); the workload of those intervals "
        "is offered x the assumed AHT."
    ]
    out = kpi(
        "schedule", "--data", str(ds), "--week", "2026-W10", "--every", "1h",
        "--aht-s", "180", "--time-limit-s", "30", "--format", "json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["notes"][0].startswith("AHT assumed 180 s (the data has no handle times)")
    required = {c["interval_start"]: c["required"] for c in plan["coverage"]}
    assert len(required) == 168
    busy_hours = {k: v for k, v in required.items() if 9 <= int(k[11:13]) < 17}
    assert set(busy_hours.values()) == {2}
    assert sum(required.values()) == 2 * 56  # nothing outside 09:00-17:00
    assert all(c["scheduled"] >= c["required"] for c in plan["coverage"])
    md = kpi(
        "schedule", "--data", str(ds), "--week", "2026-W10", "--every", "1h",
        "--aht-s", "180", "--time-limit-s", "30", "--format", "md",
    )  # fmt: skip
    assert md.returncode == 0, md.stderr
    assert "- AHT assumed 180 s (the data has no handle times)" in md.stdout


def test_assumed_aht_is_used_only_where_the_data_have_no_handle_times(tmp_path):
    """Queue A has handle times (120 s a contact), queue B none: B takes the assumed 300 s,
    A keeps its own; half the busy intervals took the assumption."""
    ds = dataset(tmp_path, intervals(datetime(2026, 3, 2), 7, queues={"A": 120.0, "B": None}))
    with pytest.raises(
        KpiError, match=r"560 of the 1,120 contacts offered .* no handle times \(queue B\)"
    ):
        required_from_data(ds, week="2026-W10", every="1h")
    notes: list[str] = []
    req = required_from_data(ds, week="2026-W10", every="1h", aht_s=300, notes=notes)
    busy = req.filter(pl.col("offered") > 0)
    load = dict(busy.group_by("queue").agg(pl.col("load_erlangs").max()).iter_rows())
    assert load == pytest.approx({"A": 10 * 120 / 3600, "B": 10 * 300 / 3600})
    assert notes[0].startswith(
        "AHT assumed 300 s (the data has no handle times for 56 of 112 intervals with contacts)"
    )


def test_a_forecast_on_arrivals_only_data_needs_schedules_own_aht_option(tmp_path):
    ds = dataset(tmp_path, intervals(datetime(2026, 2, 2), 28, queues={"Q": None}))
    start = datetime(2026, 3, 2)
    fc = tmp_path / "fc.csv"
    pl.DataFrame(
        {
            "queue": ["Q"] * 168,
            "period": [f"{start + timedelta(hours=h):%Y-%m-%d %H:%M}" for h in range(168)],
            "forecast": [10.0 if 9 <= h % 24 < 17 else 0.0 for h in range(168)],
            "lower": [0.0] * 168,
            "upper": [20.0] * 168,
        }
    ).write_csv(fc)
    base = ["schedule", "--data", str(ds), "--week", "2026-W10", "--every", "1h"]
    base += ["--forecast", str(fc), "--time-limit-s", "30", "--format", "json"]
    text = one_line_error(kpi(*base))
    assert "AHT (handle time) is unknown" in text
    assert "--aht-s" in text
    assert "kpi staffing" not in text
    out = kpi(*base, "--aht-s", "180")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["notes"][0] == (
        "AHT 180 s (assumed) for queue Q: the data has no handle times for it."
    )
    # 10 contacts an hour at 180 s: 0.5 Erlangs, 2 agents (see the test above)
    assert {
        c["required"] for c in plan["coverage"] if 9 <= int(c["interval_start"][11:13]) < 17
    } == {2}


def test_help_names_the_aht_option():
    out = kpi("schedule", "--help")
    assert out.returncode == 0
    assert "--aht-s SECONDS" in out.stdout
    assert "no handle times" in out.stdout


# --- days outside the data --------------------------------------------------------------------


def test_a_week_with_days_outside_the_data_is_refused_naming_the_days(tmp_path):
    # data Wed 2026-03-04 .. Tue 2026-03-17 (14 days); only 2026-W11 (Mar 9-15) is inside
    ds = dataset(tmp_path, intervals(datetime(2026, 3, 4), 14, queues={"Q": 180.0}))
    with pytest.raises(KpiError) as before:
        required_from_data(ds, week="2026-W10", every="1h")
    assert str(before.value) == (
        "week 2026-W10 (Mon 2026-03-02 to Sun 2026-03-08) is not all in the data: the data "
        "cover Wed 2026-03-04 to Tue 2026-03-17, so the demand of Mon 2026-03-02 to Tue "
        "2026-03-03 is unknown; choose a week inside the data (e.g. 2026-W11) or plan from a "
        "forecast (--forecast)"
    )
    with pytest.raises(KpiError, match="the demand of Wed 2026-03-18 to Sun 2026-03-22 is "):
        required_from_data(ds, week="2026-W12", every="1h")
    with pytest.raises(KpiError, match="no contacts in week 2026-W13"):  # wholly outside
        required_from_data(ds, week="2026-W13", every="1h")
    req = required_from_data(ds, week="2026-W11", every="1h")
    assert req["offered"].sum() == 7 * 8 * 10
    text = one_line_error(
        kpi("schedule", "--data", str(ds), "--week", "2026-W12", "--every", "1h")
    )
    assert "the data cover Wed 2026-03-04 to Tue 2026-03-17" in text
    assert "e.g. 2026-W11" in text


def test_data_shorter_than_a_week_suggest_a_forecast(tmp_path):
    ds = dataset(tmp_path, intervals(datetime(2026, 3, 4), 3, queues={"Q": 180.0}))
    with pytest.raises(KpiError, match="the data cover no whole week, so plan from a forecast"):
        required_from_data(ds, week="2026-W10", every="1h")


@pytest.mark.parametrize(
    ("week", "unknown", "suggested"),
    [
        ("2026-W14", "Wed 2026-04-01 to Sun 2026-04-05", "2026-W13"),
        ("2026-W01", "Mon 2025-12-29 to Wed 2025-12-31", "2026-W02"),
    ],
)
def test_sample_weeks_at_the_data_edges_are_refused(week, unknown, suggested):
    with pytest.raises(KpiError) as err:
        requirements_for_week(SAMPLES, week=week, every="1h")
    text = str(err.value)
    assert "the data cover Thu 2026-01-01 to Tue 2026-03-31" in text
    assert f"the demand of {unknown} is unknown" in text
    assert f"e.g. {suggested}" in text
    assert "--forecast" in text


def test_a_forecast_coarser_than_the_plan_names_both_intervals():
    """An hourly forecast for a 15-minute plan: the message says so (not "forecast the whole
    week", which the forecast already covers)."""
    from datetime import datetime, timedelta

    import polars as pl

    from kpi import schedule
    from kpi.errors import KpiError

    hours = [datetime(2026, 3, 2) + timedelta(hours=h) for h in range(7 * 24)]
    fc = pl.DataFrame({"period": hours, "queue": ["Sales"] * len(hours), "forecast": 10.0})
    with pytest.raises(KpiError) as err:
        schedule.required_from_forecast(fc, aht_s=180, every="15m", channels={"Sales": "voice"})
    assert str(err.value) == (
        "the forecast's intervals are 1h apart and the plan's are 15m: forecast at the plan's "
        "interval (kpi forecast --every 15m) or plan at the forecast's (--every 1h)"
    )
    hourly = schedule.required_from_forecast(
        fc, aht_s=180, every="1h", channels={"Sales": "voice"}
    )
    assert hourly["interval_start"].n_unique() == 7 * 24
