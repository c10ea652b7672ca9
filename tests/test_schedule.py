"""kpi.schedule: objectives, required agents (Erlang and deferred work), shift templates and
the weekly plan, checked against instances solved by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from kpi.errors import KpiError
from kpi.schedule import (
    REQUIREMENT_COLUMNS,
    load_objectives,
    objectives_from,
    plan,
    read_forecast,
    required_from_data,
    required_from_forecast,
    shifts_from,
)
from kpi.schedule._requirements import skill_matrix, week_start
from kpi.staffing import required_agents
from kpi.targets import load_targets

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
WEEK = "2026-W07"  # Monday 2026-02-09
MON = datetime(2026, 2, 9)


def requirements(need: dict[str, dict[int, int]], *, every_min: int = 60) -> pl.DataFrame:
    """A requirements table for a week: ``{skill: {interval index: agents}}``, 0 elsewhere."""
    n = 7 * 1440 // every_min
    rows = []
    for skill, values in need.items():
        for t in range(n):
            r = float(values.get(t, 0))
            rows.append(
                {
                    "interval_start": MON + timedelta(minutes=every_min * t),
                    "queue": skill,
                    "channel": skill,
                    "offered": 10.0 * r,
                    "aht_s": 180.0,
                    "load_erlangs": 10.0 * r * 180 / (every_min * 60),
                    "objective": "80% in 20 s",
                    "required_agents": r,
                    "required_scheduled": r,
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("interval_start").cast(pl.Datetime("us")))


def hour(day: int, h: int) -> int:
    return day * 24 + h


# --- the plan, by hand ------------------------------------------------------------------------


def test_tiny_instance_has_the_optimum_found_by_hand():
    # Monday 09-13 needs 1, 2, 2, 1: one 4-hour shift at 09:00 and one 2-hour at 10:00 (6 paid
    # hours) beat two 4-hour shifts (8)
    req = requirements({"voice": {hour(0, 9): 1, hour(0, 10): 2, hour(0, 11): 2, hour(0, 12): 1}})
    spec = shifts_from(
        {
            "shift": [
                {"name": "A", "length": "4h", "start": "09:00"},
                {"name": "B", "length": "2h", "start": "10:00"},
            ]
        },
        every="1h",
    )
    p = plan(req, week=WEEK, every="1h", shifts=spec)
    d = p.to_dict()
    assert d["paid_hours"] == 6
    assert d["agents"] == 2
    assert d["overstaffing"] == 0
    assert d["understaffed_intervals"] == []
    got = {
        (s["template"], s["start"], s["end"], tuple(s["days"]), s["agents"]) for s in d["shifts"]
    }
    assert got == {("A", "09:00", "13:00", ("Mon",), 1), ("B", "10:00", "12:00", ("Mon",), 1)}
    assert d["lower_bound"] <= d["objective"] + 1e-6
    assert d["gap"] == pytest.approx(0, abs=1e-6)
    cov = p.coverage.filter(pl.col("interval_start").dt.date() == MON.date())
    assert cov["scheduled"].to_list()[9:13] == [1, 2, 2, 1]


def test_shift_across_midnight_and_over_the_week_end():
    # Tue 22:00 to Wed 06:00, and Sun 22:00 to Mon 06:00 of the same (repeating) week
    need = {hour(1, 22) + k: 1 for k in range(8)}
    need |= {hour(6, 22): 1, hour(6, 23): 1, **{hour(0, h): 1 for h in range(6)}}
    spec = shifts_from(
        {"shift": [{"name": "night", "length": "8h", "start": "22:00"}]}, every="1h"
    )
    d = plan(requirements({"voice": need}), week=WEEK, every="1h", shifts=spec).to_dict()
    shifts = sorted((s["start"], s["end"], tuple(s["days"])) for s in d["shifts"])
    assert shifts == [("22:00", "06:00 +1", ("Tue", "Sun"))]
    assert d["paid_hours"] == 16
    assert d["overstaffing"] == 0


def test_days_off_need_two_agents_for_seven_days():
    # one agent 09-17 every day; five-day weeks with two days off in a row: 2 agents, 7 shifts
    need = {hour(d, h): 1 for d in range(7) for h in range(9, 17)}
    spec = shifts_from(
        {
            "shift": [{"name": "day", "length": "8h", "start": "09:00"}],
            "group": [{"name": "team", "skills": ["voice"], "days_per_week": 5}],
        },
        every="1h",
    )
    d = plan(requirements({"voice": need}), week=WEEK, every="1h", shifts=spec).to_dict()
    assert d["agents"] == 2
    assert d["paid_hours"] == 56
    assert sum(len(a["shifts"]) for a in d["roster"]) == 7
    for agent in d["roster"]:
        assert len(agent["days_off"]) == 2
        assert len(agent["shifts"]) <= 5
        assert not set(agent["days_off"]) & set(agent["shifts"])


def test_headcount_and_days_off_that_cannot_cover_name_the_binding_constraint():
    need = {hour(d, h): 1 for d in range(7) for h in range(9, 17)}
    spec = shifts_from(
        {
            "shift": [{"name": "day", "length": "8h", "start": "09:00"}],
            "group": [{"name": "team", "skills": ["voice"], "max_agents": 1}],
        },
        every="1h",
    )
    with pytest.raises(KpiError, match=r"infeasible: headcount \(max_agents\) and days off bind"):
        plan(requirements({"voice": need}), week=WEEK, every="1h", shifts=spec)
    p = plan(
        requirements({"voice": need}), week=WEEK, every="1h", shifts=spec, allow_understaffing=True
    )
    # one agent, five days: two days of 8 hours stay short
    assert p.agents == 1
    assert len(p.understaffed_intervals) == 16


def test_breaks_are_placed_where_the_requirement_allows():
    # Monday: 1 agent 09-13 and 14-17, none at 13:00: the 1-hour break goes 4 h in, not 3 h
    need = {hour(0, h): 1 for h in (9, 10, 11, 12, 14, 15, 16)}
    spec = shifts_from(
        {
            "shift": [
                {
                    "name": "day",
                    "length": "8h",
                    "start": "09:00",
                    "breaks": [{"length": "1h", "earliest": "3h", "latest": "4h"}],
                }
            ]
        },
        every="1h",
    )
    d = plan(requirements({"voice": need}), week=WEEK, every="1h", shifts=spec).to_dict()
    assert d["shifts"][0]["breaks"] == [{"start": "13:00", "end": "14:00"}]
    assert d["overstaffing"] == 0
    assert d["paid_hours"] == 8


def test_skills_that_nobody_has_or_too_few_agents_are_named():
    spec = shifts_from(
        {
            "shift": [{"name": "day", "length": "8h", "start": "09:00"}],
            "agent": [{"name": "Ana", "skills": ["chat"], "available": {"Mon": "08:00-18:00"}}],
        },
        every="1h",
    )
    with pytest.raises(KpiError, match="no group or agent has the skill 'voice'"):
        plan(requirements({"voice": {hour(0, 10): 1}}), week=WEEK, every="1h", shifts=spec)
    spec = shifts_from(
        {
            "shift": [{"name": "day", "length": "8h", "start": "09:00"}],
            "agent": [{"name": "Ana", "skills": ["voice"], "available": {"Mon": "08:00-18:00"}}],
        },
        every="1h",
    )
    with pytest.raises(
        KpiError,
        match=r"only 1 agent\(s\) with skill 'voice' can work at Mon "
        r"10:00 .* but 2 are required",
    ):
        plan(requirements({"voice": {hour(0, 10): 2}}), week=WEEK, every="1h", shifts=spec)
    with pytest.raises(KpiError, match=r"no shift template .* covers Mon 03:00"):
        plan(requirements({"voice": {hour(0, 3): 1}}), week=WEEK, every="1h", shifts=spec)


def test_named_agent_is_rostered_inside_availability():
    spec = shifts_from(
        {
            "shift": [{"name": "day", "length": "4h", "start": "08:00-14:00"}],
            "agent": [
                {
                    "name": "Ana",
                    "skills": ["voice", "chat"],
                    "days_per_week": 2,
                    "consecutive_days_off": False,
                    "available": {"Mon": "10:00-14:00", "Wed": "12:00-16:00"},
                }
            ],
        },
        every="1h",
    )
    need = {"voice": {hour(0, 10): 1, hour(0, 11): 1}, "chat": {hour(2, 13): 1}}
    d = plan(requirements(need), week=WEEK, every="1h", shifts=spec).to_dict()
    (ana,) = d["roster"]
    assert ana["agent"] == "Ana"
    assert ana["shifts"] == {"Mon": "10:00-14:00 (day)", "Wed": "12:00-16:00 (day)"}


def test_multi_skilled_group_covers_both_skills():
    need = {
        "voice": {hour(0, h): 1 for h in range(9, 13)},
        "chat": {hour(0, h): 1 for h in range(9, 13)},
    }
    spec = shifts_from(
        {
            "shift": [{"name": "A", "length": "4h", "start": "09:00"}],
            "group": [{"name": "blended", "skills": ["voice", "chat"]}],
        },
        every="1h",
    )
    p = plan(requirements(need), week=WEEK, every="1h", shifts=spec)
    assert p.agents == 2
    assert p.understaffed_intervals == []
    assert p.overstaffing == 0


def test_lower_bound_never_above_the_plan_on_a_random_week():
    rng = np.random.default_rng(3)
    need = {
        "voice": {t: int(v) for t, v in enumerate(rng.integers(0, 6, 168)) if 7 <= t % 24 < 21}
    }
    spec = shifts_from(
        {
            "shift": [
                {
                    "name": "full",
                    "length": "8h",
                    "start": "06:00-13:00",
                    "breaks": [{"length": "1h", "earliest": "3h", "latest": "5h"}],
                },
                {"name": "part", "length": "4h", "start": "06:00-17:00"},
            ]
        },
        every="1h",
    )
    d = plan(requirements(need), week=WEEK, every="1h", shifts=spec, time_limit_s=20).to_dict()
    assert d["lower_bound"] <= d["objective"] + 1e-6
    assert d["lower_bound"] <= d["mip_bound"] + 1e-6
    assert 0 <= d["gap"] < 0.05
    assert d["understaffed_intervals"] == []


# --- requirements -----------------------------------------------------------------------------


def forecast_table(values: list[float], *, queue: str = "Sales", start: str = "09:00"):
    t0 = datetime.fromisoformat(f"2026-03-02 {start}")
    periods = [f"{t0 + timedelta(minutes=15 * i):%Y-%m-%d %H:%M} GMT" for i in range(len(values))]
    return pl.DataFrame(
        {
            "period": periods,
            "queue": [queue] * len(values),
            "forecast": values,
            "lower": [v * 0.75 for v in values],
            "upper": [v * 1.25 for v in values],
        }
    )


def test_erlang_requirement_matches_kpi_staffing_with_shrinkage_and_quantile():
    fc = forecast_table([40.0])
    req = required_from_forecast(fc, aht_s=180, channels={"Sales": "voice"}, shrinkage=0.3)
    row = req.row(0, named=True)
    assert row["load_erlangs"] == pytest.approx(8.0)
    expected = required_agents(8.0, aht_s=180, target_sl=0.8, threshold_s=20)
    assert row["required_agents"] == pytest.approx(expected)
    assert row["required_scheduled"] == pytest.approx(expected / 0.7)
    assert row["objective"] == "80% in 20 s"
    assert list(req.columns) == list(REQUIREMENT_COLUMNS)
    # the 90th percentile of an 80 % interval is its upper bound: 50 contacts
    up = required_from_forecast(fc, aht_s=180, channels={"Sales": "voice"}, quantile=0.9)
    assert up["offered"][0] == pytest.approx(50.0)
    assert up["required_agents"][0] == pytest.approx(
        required_agents(10.0, aht_s=180, target_sl=0.8, threshold_s=20)
    )


def test_chat_is_planned_at_80_in_60_seconds():
    req = required_from_forecast(
        forecast_table([40.0], queue="Chat"), aht_s=180, channels={"Chat": "chat"}
    )
    assert req["required_agents"][0] == pytest.approx(
        required_agents(8.0, aht_s=180, target_sl=0.8, threshold_s=60)
    )


def test_deferred_work_is_workload_over_the_response_window():
    # 8 e-mails at 09:00, 900 s each, answered within 2 h (8 intervals of 15 min):
    # 7200 s of work over 7200 s: one agent from 09:00 to 10:45, none after
    fc = forecast_table([8.0] + [0.0] * 11, queue="Email")
    obj = objectives_from({"email": {"response_h": 2}})
    req = required_from_forecast(fc, aht_s=900, channels={"Email": "email"}, objectives=obj)
    assert req["required_agents"].to_list() == pytest.approx([1.0] * 8 + [0.0] * 4)
    assert req["objective"][0] == "response in 2 h"


def test_objectives_per_queue_from_a_targets_file(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text(
        "[service_level]\ntarget = 0.85\n\n"
        "[objectives.chat]\nthreshold_s = 30\n\n"
        "[objectives.email]\nresponse_h = 24\n\n"
        '[objectives.queue."VIP"]\nservice_level = 0.9\nthreshold_s = 10\nmax_occupancy = 0.85\n'
    )
    obj = load_objectives(path)
    assert obj.for_queue("North Chat", "chat").text() == "80% in 30 s"
    assert obj.for_queue("Email", "email").text() == "response in 24 h"
    assert obj.for_queue("VIP", "voice").text() == "90% in 10 s, occupancy ≤ 85%"
    assert obj.for_queue("Sales", "voice").text() == "80% in 20 s"
    # the KPI targets still read as before
    assert load_targets(path).default("service_level").target == 0.85
    fc = forecast_table([40.0], queue="VIP")
    req = required_from_forecast(fc, aht_s=180, channels={"VIP": "voice"}, objectives=obj)
    assert req["required_agents"][0] == pytest.approx(
        required_agents(8.0, aht_s=180, target_sl=0.9, threshold_s=10, max_occupancy=0.85)
    )


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"voice": {"service_level": 1.5}}, "service_level must be above 0 and below 1"),
        ({"email": {"response_h": 0}}, "response_h must be above 0"),
        ({"voice": {"speed": 3}}, "unknown key 'speed'"),
        ({"queue": {"X": 3}}, "must be a table"),
    ],
)
def test_bad_objectives_are_refused(spec, fragment):
    with pytest.raises(KpiError, match=fragment):
        objectives_from(spec)


def test_requirements_from_the_sample_week_count_its_contacts():
    req = required_from_data(SAMPLES, week=WEEK, every="1h")
    assert req["interval_start"].n_unique() == 168
    contacts = (
        pl.read_parquet(SAMPLES / "contacts.parquet")
        .filter(pl.col("direction") == "inbound", pl.col("queue_ts").is_not_null())
        .with_columns(pl.col("queue_ts").dt.replace_time_zone(None))
    )
    week = contacts.filter(pl.col("queue_ts") >= MON, pl.col("queue_ts") < MON + timedelta(days=7))
    assert req["offered"].sum() == week.height
    per_channel = dict(req.group_by("channel").agg(pl.col("objective").first()).iter_rows())
    assert per_channel == {
        "voice": "80% in 20 s",
        "chat": "80% in 60 s",
        "email": "response in 4 h",
    }
    skills, times, r = skill_matrix(req)
    assert skills == ["chat", "email", "voice"]
    assert r.shape == (3, 168)
    assert times[0] == MON


def test_week_and_forecast_errors():
    with pytest.raises(KpiError, match="bad week"):
        week_start("2026-7")
    with pytest.raises(KpiError, match="has no week 54"):
        week_start("2026-W54")
    with pytest.raises(KpiError, match="no contacts in week 2027-W07"):
        required_from_data(SAMPLES, week="2027-W07", every="1h")
    req = required_from_forecast(forecast_table([5.0] * 4), aht_s=180)
    with pytest.raises(KpiError, match="cover 4 of the 672 intervals"):
        plan(req, week="2026-W10")


def test_read_forecast_csv_and_json(tmp_path):
    fc = forecast_table([1.0, 2.0])
    fc.write_csv(tmp_path / "fc.csv")
    (tmp_path / "fc.json").write_text(json.dumps({"meta": {"level": 90}, "rows": fc.to_dicts()}))
    frame, meta = read_forecast(tmp_path / "fc.csv")
    assert frame["forecast"].to_list() == [1.0, 2.0]
    assert meta == {}
    frame, meta = read_forecast(tmp_path / "fc.json")
    assert meta["level"] == 90
    assert frame.height == 2
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(KpiError, match="has no 'period' column"):
        read_forecast(tmp_path / "bad.csv")


# --- the command ------------------------------------------------------------------------------


def test_cli_json_has_the_documented_keys(tmp_path, capsys):
    from kpi.cli import main

    out = tmp_path / "plan.json"
    rc = main(
        [
            "schedule",
            "--data",
            str(SAMPLES),
            "--week",
            WEEK,
            "--every",
            "1h",
            "--time-limit-s",
            "30",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    d = json.loads(out.read_text())
    for key in (
        "agents",
        "shifts",
        "coverage",
        "overstaffing",
        "understaffed_intervals",
        "lower_bound",
        "gap",
        "solve_s",
    ):
        assert key in d
    assert {"start", "end", "breaks", "days"} <= set(d["shifts"][0])
    assert {"interval_start", "skill", "required", "scheduled", "service_level"} <= set(
        d["coverage"][0]
    )
    assert d["understaffed_intervals"] == []
    assert d["lower_bound"] <= d["objective"] + 1e-6
    # the plan meets every requirement, so the plan's service level is at least the objective
    # wherever a real-time queue has contacts
    voice = [c for c in d["coverage"] if c["skill"] == "voice" and c["offered"]]
    assert min(c["service_level"] for c in voice) >= 0.8 - 1e-6


def test_cli_plans_from_a_forecast_file(tmp_path):
    from kpi.cli import main

    fc = tmp_path / "fc.csv"
    assert (
        main(
            [
                "forecast",
                "--data",
                str(SAMPLES),
                "--every",
                "1h",
                "--by",
                "queue",
                "--until",
                "2026-03-02",
                "--horizon",
                "7d",
                "--quiet",
                "--out",
                str(fc),
            ]
        )
        == 0
    )
    out = tmp_path / "plan.csv"
    rc = main(
        [
            "schedule",
            "--data",
            str(SAMPLES),
            "--week",
            "2026-W10",
            "--every",
            "1h",
            "--forecast",
            str(fc),
            "--quantile",
            "0.9",
            "--format",
            "csv",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    cov = pl.read_csv(out)
    assert set(cov["skill"]) == {"chat", "email", "voice"}
    assert cov.height == 3 * 168
    assert (cov["scheduled"] >= cov["required"] - 1e-6).all()


def test_kpi_staffing_from_a_forecast_file(tmp_path):
    """``kpi staffing --forecast FILE --aht-s S``: required agents per interval by Erlang C for
    a voice queue (80% in 20 s), equal to the library's and to Erlang C itself; the upper
    quantile plans on ``upper``."""
    import subprocess
    import sys

    from kpi.staffing import required_agents

    fc = tmp_path / "fc.csv"
    pl.DataFrame(
        {
            "queue": ["Q", "Q"],
            "period": ["2026-03-02 09:00", "2026-03-02 09:30"],
            "forecast": [100.0, 40.0],
            "lower": [90.0, 30.0],
            "upper": [110.0, 50.0],
            "method": ["m", "m"],
        }
    ).write_csv(fc)
    run = [sys.executable, "-m", "kpi", "staffing", "--forecast", str(fc), "--aht-s", "180"]
    out = subprocess.run(
        [*run, "--every", "30m", "--format", "json"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert [r["offered"] for r in rows] == [100.0, 40.0]
    expected = [
        float(required_agents(v * 180 / 1800, aht_s=180, target_sl=0.8, threshold_s=20))
        for v in (100.0, 40.0)  # load = contacts × AHT / interval length
    ]
    assert [r["required_agents"] for r in rows] == pytest.approx(expected)
    upper = subprocess.run(
        [*run, "--every", "30m", "--quantile", "0.9", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert [r["offered"] for r in json.loads(upper.stdout)["rows"]] == [110.0, 50.0]
    alone = subprocess.run(run[:-2], capture_output=True, text=True)  # no AHT, no data
    assert alone.returncode == 2
    assert "--aht-s" in alone.stderr
    assert len(alone.stderr.strip().splitlines()) == 1


def test_staffing_from_a_forecast_never_invents_a_handle_time(tmp_path):
    """An arrivals-only interval report has no handle times: required agents from its forecast
    need an assumed AHT (refused in one line without one), never a silent default."""
    import subprocess
    import sys
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from kpi.data import Dataset, save

    z = ZoneInfo("Europe/London")
    starts = [datetime(2026, 3, 2, 9, tzinfo=z), datetime(2026, 3, 2, 9, 30, tzinfo=z)]
    iv = pl.DataFrame(
        {
            "interval_start": starts,
            "interval_s": [1800.0] * 2,
            "queue": ["Q"] * 2,
            "offered": [40, 50],
        }
    )
    save(Dataset({"intervals": iv}, tz="Europe/London"), tmp_path / "ds")
    fc = tmp_path / "fc.csv"
    pl.DataFrame(
        {
            "period": ["2026-03-09 09:00"],
            "forecast": [45.0],
            "lower": [40.0],
            "upper": [50.0],
            "method": ["m"],
        }
    ).write_csv(fc)
    base = [sys.executable, "-m", "kpi", "staffing", "--forecast", str(fc)]
    base += ["--data", str(tmp_path / "ds"), "--every", "30m", "--format", "json"]
    refused = subprocess.run(base, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "no handle times" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assumed = subprocess.run([*base, "--aht-s", "180"], capture_output=True, text=True)
    assert assumed.returncode == 0, assumed.stderr
    out = json.loads(assumed.stdout)
    assert out["meta"]["aht_s_assumed"] == 180.0
    assert [r["aht_s"] for r in out["rows"]] == [180.0]


def test_a_queue_on_several_channels_takes_its_busiest_channel():
    """The plan's channel of a queue is the same on every run: the channel with the most
    contacts offered, the first by name on a tie (the 10-million-contact benchmark data has
    every queue on four channels)."""
    from zoneinfo import ZoneInfo

    from kpi.schedule import queue_history

    t0 = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Europe/London"))
    channels = ["voice", "chat", "voice", "chat", "voice", "email", "chat"]
    queues = ["q1"] * 5 + ["q2"] * 2
    contacts = pl.DataFrame(
        {
            "queue": queues,
            "channel": channels,
            "team": ["A"] * 7,
            "direction": ["inbound"] * 7,
            "queue_ts": [t0 + timedelta(minutes=i) for i in range(7)],
            "wait_s": [5.0] * 7,
            "outcome": ["answered"] * 7,
            "talk_s": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0],
        }
    )
    for _ in range(3):
        found, aht = queue_history({"contacts": contacts}, datetime(2026, 3, 9))
        # q1: voice 3, chat 2; q2: chat and email once each (chat first by name)
        assert found == {"q1": "voice", "q2": "chat"}
        assert aht == {"q1": pytest.approx(300.0), "q2": pytest.approx(650.0)}
