"""The simulator (kpi.samples, ``kpi sample``) and the committed sample data."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi.cli import main
from kpi.errors import KpiError
from kpi.samples import CSV_LIMIT_BYTES, Sample, fcfs_queue, simulate, write_sample
from kpi.schema import OUTCOMES, TABLES, validate

ROOT = Path(__file__).resolve().parents[1]
TZ = "Europe/London"
LONDON = ZoneInfo(TZ)
HANDLED = ["answered", "outbound"]


def _local(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, tzinfo=LONDON)


@pytest.fixture(scope="module")
def tiny() -> Sample:
    """Two months at the tiny scale (about 2,000 contacts a month)."""
    return simulate(scale="tiny", months=2)


@pytest.fixture(scope="module")
def scenario(samples_dir: Path) -> dict:
    return json.loads((samples_dir / "scenario.json").read_text())


# ------------------------------------------------------------------------------------------
# tables and schema


def test_every_table_but_intervals_passes_the_schema(tiny):
    # every table but the interval report (an export of other systems) and the stored
    # forecasts (written by `kpi forecast --store`, not observed)
    assert set(tiny) == set(TABLES) - {"intervals", "forecasts"}
    for name, frame in tiny.items():
        assert frame.height > 0, name
        validate(name, frame)
        for col in TABLES[name].columns:  # every column present, time stamps in the site zone
            assert col.name in frame.columns, (name, col.name)
            assert frame.schema[col.name] == col.polars_dtype(TZ), (name, col.name)


def test_contacts_are_internally_consistent(tiny):
    c = tiny["contacts"]
    assert c["contact_id"].is_unique().all()
    assert set(c["outcome"].unique()) <= set(OUTCOMES)
    assert c["arrival_ts"].is_sorted()
    ans = c.filter(pl.col("outcome").is_in(HANDLED))
    other = c.filter(~pl.col("outcome").is_in(HANDLED))
    assert ans["agent_id"].null_count() == 0
    assert ans["answer_ts"].null_count() == 0
    assert other["agent_id"].null_count() == other.height
    assert other["answer_ts"].null_count() == other.height
    assert (other["talk_s"] == 0).all()
    assert (other["acw_s"] == 0).all()
    assert not other["resolved"].any()
    assert not other["converted"].any()
    # arrival <= queue entry <= answer <= end, and the durations add up
    secs = (pl.col("answer_ts") - pl.col("queue_ts")).dt.total_seconds()
    chk = ans.select(
        ok_q=(pl.col("queue_ts") == pl.col("arrival_ts") + pl.duration(seconds=pl.col("ivr_s"))),
        ok_w=secs == pl.col("wait_s"),
        ok_e=pl.col("end_ts")
        == pl.col("answer_ts") + pl.duration(seconds=pl.col("talk_s") + pl.col("hold_s")),
    )
    assert chk.select(pl.all().all()).row(0) == (True, True, True)
    ivr = c.filter(pl.col("outcome") == "abandoned_ivr")
    assert ivr["queue_ts"].null_count() == ivr.height
    assert ivr["wait_s"].null_count() == ivr.height
    ab = c.filter(pl.col("outcome") == "abandoned_queue")
    assert ab.select(
        (pl.col("end_ts") == pl.col("queue_ts") + pl.duration(seconds=pl.col("wait_s"))).all()
    ).item()
    assert c.select(pl.col("ivr_s", "talk_s", "hold_s", "acw_s").min()).row(0) >= (0, 0, 0, 0)
    # callbacks are outbound contacts; sales bring revenue only when converted
    cb = c.filter(pl.col("channel") == "callback")
    assert set(cb["direction"]) == {"outbound"}
    assert set(cb["outcome"]) == {"outbound"}
    assert (c.filter(pl.col("converted"))["revenue"] > 0).all()
    assert (c.filter(~pl.col("converted"))["revenue"] == 0).all()
    assert c.filter(pl.col("converted")).height > 0


def test_agent_time_states_add_up_and_match_the_contacts(tiny):
    a = tiny["agent_time"]
    assert a.select(pl.struct("agent_id", "interval_start").is_unique().all()).item()
    states = ["available_s", "handle_s", "acw_s", "break_s", "training_s", "meeting_s"]
    total = pl.sum_horizontal(*states, "absence_s")
    sched = a.filter(pl.col("scheduled_s") > 0)
    assert sched.select(((total - pl.col("scheduled_s")).abs() < 1e-6).all()).item()
    assert a.select((pl.col("adherent_s") <= pl.col("scheduled_s")).all()).item()
    assert a.select((pl.col("logged_in_s") <= pl.col("interval_s")).all()).item()
    assert set(a["interval_s"].unique()) == {1800.0}
    # handle + ACW in agent_time is the talk + hold + ACW of the contacts (and ticket work)
    end = _local(2026, 3, 1)
    c = tiny["contacts"].filter(
        pl.col("answer_ts").is_not_null(), pl.col("end_ts") + pl.duration(seconds="acw_s") < end
    )
    contact_work = float((c["talk_s"] + c["hold_s"] + c["acw_s"]).sum())
    at = a.filter(pl.col("team") != "Tickets")
    assert float((at["handle_s"] + at["acw_s"]).sum()) == pytest.approx(contact_work, rel=0.01)
    # every agent who handled a contact was logged in (available) that day
    assert a.filter(pl.col("team") == "Tickets")["handle_s"].sum() > 0


def test_tickets_follow_their_life_cycle(tiny):
    t = tiny["tickets"]
    assert t["ticket_id"].is_unique().all()
    assert set(t["status"]) <= {"open", "pending", "solved", "closed"}
    ok = t.select(
        a=(pl.col("first_response_ts") >= pl.col("created_ts")).all(),
        b=(pl.col("solved_ts") >= pl.col("first_response_ts")).all(),
        c=(pl.col("closed_ts") == pl.col("solved_ts") + pl.duration(days=4)).all(),
        d=((pl.col("status") == "closed") == pl.col("closed_ts").is_not_null()).all(),
        e=((pl.col("status").is_in(["open", "pending"])) == pl.col("solved_ts").is_null()).all(),
        f=(pl.col("reopens") >= 0).all(),
    ).row(0)
    assert all(ok)
    assert t.filter(pl.col("status").is_in(["open", "pending"])).height > 0  # open at the end
    assert t["reopens"].sum() > 0


def test_people_quality_customers_finance_and_events(tiny):
    s = tiny["surveys"]
    assert s.select(
        pl.col("csat").is_between(1, 5).all(),
        pl.col("nps").drop_nulls().is_between(0, 10).all(),
        pl.col("ces").drop_nulls().is_between(1, 7).all(),
    ).row(0) == (True, True, True)
    assert s["contact_id"].is_in(tiny["contacts"]["contact_id"].implode()).all()
    q = tiny["qa_evaluations"]
    assert q["score"].is_between(0, 100).all()
    assert q["evaluation_id"].is_unique().all()
    per = q.group_by("agent_id", pl.col("evaluated_ts").dt.month()).len()["len"]
    assert 2 <= per.mean() <= 6  # about four evaluations per agent and month
    ag = tiny["agents"]
    assert ag["agent_id"].is_unique().all()
    assert set(ag["site"]) == {"Leeds", "Bristol"}
    assert ag.filter(pl.col("left").is_not_null())["leave_reason"].null_count() == 0
    cu = tiny["customers"]
    assert (
        cu.filter(pl.col("churned").is_not_null())
        .select((pl.col("churned") >= pl.col("joined")).all())
        .item()
    )
    f = tiny["finance"]
    assert f["period_start"].to_list() == [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert f["period_end"].to_list() == [dt.date(2026, 1, 31), dt.date(2026, 2, 28)]
    assert (f["centre_cost"] > 0).all()
    assert (f["new_subscribers"] >= 0).all()
    assert tiny["coaching"]["duration_s"].is_in([1800.0, 2700.0]).all()
    assert tiny["agent_surveys"]["score"].is_between(0, 10).all()
    assert tiny["events"].height > 0


# ------------------------------------------------------------------------------------------
# determinism


def test_same_seed_same_tables_other_seed_differs(tiny, tmp_path):
    again = simulate(scale="tiny", months=2)
    for name in tiny:
        assert_frame_equal(tiny[name], again[name])
    assert tiny.truth == again.truth
    other = simulate(scale="tiny", months=2, seed=8)
    assert not tiny["contacts"].equals(other["contacts"])
    assert not tiny["agent_time"].equals(other["agent_time"])


def test_written_files_are_byte_identical(tmp_path):
    a = write_sample(tmp_path / "a", scale="tiny", months=1, csv=False)
    b = write_sample(tmp_path / "b", scale="tiny", months=1, csv=False)
    for f in sorted(a.iterdir()):
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name


@pytest.mark.slow  # starts two worker interpreters (several seconds on a shared machine)
def test_parallel_workers_give_the_same_result():
    one = simulate(scale="tiny", months=1, workers=1)
    two = simulate(scale="tiny", months=1, workers=2)
    assert_frame_equal(one["contacts"], two["contacts"])
    assert_frame_equal(one["agent_time"], two["agent_time"])


# ------------------------------------------------------------------------------------------
# queueing


def test_fcfs_queue_hand_computed():
    # one agent; the second caller gives up after 50 s, the third waits for the first to end
    r = fcfs_queue([0, 10, 20], [100, 100, 100], [1000, 50, 1000], agents=1)
    assert r["answer_s"].to_list() == [0.0, None, 100.0]
    assert r["wait_s"].to_list() == [0.0, 50.0, 80.0]
    assert r["outcome"].to_list() == ["answered", "abandoned_queue", "answered"]
    # two agents: nobody waits; flow-out after 30 s with one agent
    r2 = fcfs_queue([0, 10, 20], [100, 100, 100], agents=2)
    assert r2["wait_s"].to_list() == [0.0, 0.0, 80.0]
    r3 = fcfs_queue([0, 10], [100, 100], agents=1, max_wait_s=30)
    assert r3["outcome"].to_list() == ["answered", "flowout"]
    assert r3["wait_s"].to_list() == [0.0, 30.0]


def test_fcfs_queue_respects_shift_windows():
    # agent 0 works 0-100 s and 200-300 s: a contact at 150 s waits for the second window
    r = fcfs_queue(
        [0, 150], [50, 50], shift_start_s=[0, 200], shift_end_s=[100, 300], shift_agent=[0, 0]
    )
    assert r["answer_s"].to_list() == [0.0, 200.0]
    # a contact may run past the end of the window; after the last window nobody answers
    r2 = fcfs_queue([0, 10], [10, 10], shift_start_s=[5], shift_end_s=[6], shift_agent=[0])
    assert r2["answer_s"].to_list() == [5.0, None]
    assert r2["outcome"].to_list() == ["answered", "unserved"]


def test_fcfs_queue_matches_erlang_c():
    rng = np.random.default_rng(3)
    lam, aht, n = 1 / 60, 300.0, 7
    t = np.cumsum(rng.exponential(1 / lam, 60_000))
    s = rng.exponential(aht, len(t))
    r = fcfs_queue(t, s, agents=n)
    a = lam * aht
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    pw = n * b / (n - a * (1 - b))
    asa = pw * aht / (n - a)
    assert r["wait_s"].mean() == pytest.approx(asa, rel=0.12)
    assert (r["wait_s"] > 0).mean() == pytest.approx(pw, abs=0.03)


def test_more_agents_shorter_waits_fewer_abandons_on_the_same_arrivals():
    rng = np.random.default_rng(11)
    t = np.sort(rng.uniform(0, 8 * 3600, 1500))
    s = rng.lognormal(np.log(240), 0.5, len(t))
    p = rng.exponential(120, len(t))
    res = [fcfs_queue(t, s, p, agents=12, staffing=k) for k in (0.75, 1.0, 1.25)]
    waits = [r["wait_s"].mean() for r in res]
    aband = [(r["outcome"] == "abandoned_queue").mean() for r in res]
    assert waits[0] > waits[1] > waits[2]
    assert aband[0] > aband[1] > aband[2]
    assert all((r["arrival_s"] == res[0]["arrival_s"]).all() for r in res)


def test_staffing_multiplier_in_the_whole_simulation():
    out = []
    for k in (0.8, 1.25):
        s = simulate(scale="small", months=1, scenario="steady", staffing=k)
        c = s["contacts"].filter(pl.col("queue_ts").is_not_null())
        voice = c.filter(pl.col("channel") == "voice")
        out.append(
            (
                s["agents"].height,
                voice["wait_s"].mean(),
                (voice["outcome"] == "abandoned_queue").mean(),
                s["tickets"].filter(pl.col("solved_ts").is_not_null()).height,
            )
        )
    (n0, w0, a0, t0), (n1, w1, a1, t1) = out
    assert n1 > n0
    assert w1 < w0
    assert a1 < a0
    assert t1 >= t0


def test_waits_come_from_load_against_staffing(samples_dir):
    # North loses half its agents: occupancy, waits and abandonment rise there, not in South
    c = pl.read_parquet(samples_dir / "contacts.parquet").filter(
        pl.col("queue_ts").is_not_null(), pl.col("channel") == "voice"
    )
    a = pl.read_parquet(samples_dir / "agent_time.parquet")
    m = pl.col("interval_start").dt.month()
    occ = dict(
        a.group_by("team", m.alias("m"))
        .agg(
            (pl.col("handle_s") + pl.col("acw_s")).sum()
            / (pl.col("handle_s") + pl.col("acw_s") + pl.col("available_s")).sum()
        )
        .select(pl.concat_str("team", "m", separator="-"), "handle_s")
        .iter_rows()
    )
    q = c.group_by("team", pl.col("queue_ts").dt.month().alias("m")).agg(
        wait=pl.col("wait_s").mean(), ab=(pl.col("outcome") == "abandoned_queue").mean()
    )
    w = {f"{r['team']}-{r['m']}": (r["wait"], r["ab"]) for r in q.iter_rows(named=True)}
    assert occ["North-2"] > occ["North-1"] + 0.2
    assert w["North-2"][0] > 4 * w["North-1"][0]
    assert w["North-2"][1] > 3 * w["North-1"][1]
    assert abs(occ["South-2"] - occ["South-1"]) < 0.05
    assert 0.5 < w["South-2"][0] / w["South-1"][0] < 2


def test_repeats_make_fcr_meaningful_and_surveys_follow_service(tiny):
    c = tiny["contacts"].filter(pl.col("customer_id").is_not_null()).sort("arrival_ts")
    nxt = c.with_columns(
        gap=(pl.col("arrival_ts").shift(-1) - pl.col("arrival_ts")).over("customer_id")
    ).filter(pl.col("outcome").is_in(HANDLED))
    repeat = (
        nxt.with_columns(rep=pl.col("gap") <= pl.duration(days=7))
        .group_by("resolved")
        .agg(pl.col("rep").mean())
    )
    rates = dict(repeat.iter_rows())
    assert rates[False] > rates[True] + 0.2  # unresolved customers come back
    assert 0.05 < nxt.select((pl.col("gap") <= pl.duration(days=7)).mean()).item() < 0.7
    s = tiny["surveys"].join(
        tiny["contacts"].select("contact_id", "resolved", "wait_s"), on="contact_id"
    )
    by_res = dict(s.group_by("resolved").agg(pl.col("csat").mean()).iter_rows())
    assert by_res[True] > by_res[False] + 0.5
    voice = s.filter(pl.col("channel") == "voice")
    long = voice.filter(pl.col("wait_s") > 120)["csat"].mean()
    short = voice.filter(pl.col("wait_s") == 0)["csat"].mean()
    assert short > long


# ------------------------------------------------------------------------------------------
# daylight saving


def test_dst_day_has_no_missing_or_duplicated_intervals(samples_dir):
    a = pl.read_parquet(samples_dir / "agent_time.parquet")
    day = a.filter(pl.col("interval_start").dt.date() == dt.date(2026, 3, 29))
    assert day.height > 0
    assert day.select(pl.struct("agent_id", "interval_start").is_unique().all()).item()
    starts = day["interval_start"].unique().sort()
    # no wall-clock 01:00 or 01:30 on the 23-hour day; every start is on the 30-minute grid
    assert not (starts.dt.hour() == 1).any()
    assert (starts.dt.minute().is_in([0, 30])).all()
    # every agent's scheduled intervals are contiguous in absolute time across the change
    night = a.filter(
        pl.col("interval_start") >= _local(2026, 3, 28) + dt.timedelta(hours=22),
        pl.col("interval_start") < _local(2026, 3, 29) + dt.timedelta(hours=6),
        pl.col("scheduled_s") > 0,
    )
    assert night.height > 0  # the e-mail night shift
    for _, g in night.group_by("agent_id"):
        ts = g["interval_start"].sort()
        gaps = ts.diff().drop_nulls().dt.total_seconds().unique().to_list()
        assert gaps == [1800]
        # 22:00 to 06:00 wall clock is 7 hours that night
        assert g["scheduled_s"].sum() == 7 * 3600


def test_autumn_day_has_25_hours_of_distinct_intervals():
    s = simulate(scale="tiny", months=1, start="2026-10-01", interval_min=15)
    a = s["agent_time"]
    assert set(a["interval_s"].unique()) == {900.0}
    assert a.select(pl.struct("agent_id", "interval_start").is_unique().all()).item()
    night = a.filter(
        pl.col("interval_start") >= _local(2026, 10, 24) + dt.timedelta(hours=22),
        pl.col("interval_start") < _local(2026, 10, 25) + dt.timedelta(hours=7),
        pl.col("scheduled_s") > 0,
    )
    sums = night.group_by("agent_id").agg(pl.col("scheduled_s").sum())["scheduled_s"]
    assert (sums == 9 * 3600).all()
    assert len(sums) > 0
    # the repeated hour appears twice, as two distinct instants
    one_am = night.filter(pl.col("interval_start").dt.hour() == 1)["interval_start"].unique()
    assert len(one_am) == 8


# ------------------------------------------------------------------------------------------
# the committed sample and its story


def _monthly(frame: pl.DataFrame, col: str, by: str | None = None) -> pl.DataFrame:
    keys = [pl.col(col).dt.strftime("%Y-%m").alias("period")] + ([by] if by else [])
    names = ["period"] + ([by] if by else [])
    return frame.filter(pl.col(col).is_not_null()).group_by(keys).len().sort(names)


def test_default_scenario_drop_sits_where_scenario_json_says(samples_dir, scenario):
    contacts = pl.read_parquet(samples_dir / "contacts.parquet")
    tickets = pl.read_parquet(samples_dir / "tickets.parquet")
    base = scenario["periods"]["baseline"]["label"]
    cur = scenario["periods"]["current"]["label"]
    assert (base, cur) == ("2026-01", "2026-02")
    handled = contacts.filter(pl.col("outcome").is_in(HANDLED))
    m = dict(_monthly(handled, "arrival_ts").iter_rows())
    drop = 1 - m[cur] / m[base]
    assert 0.20 <= drop <= 0.30
    t = dict(_monthly(tickets, "solved_ts").iter_rows())
    tdrop = 1 - t[cur] / t[base]
    assert 0.20 <= tdrop <= 0.30
    ch = scenario["metrics"]["contacts_handled"]
    th = scenario["metrics"]["tickets_handled"]
    assert (ch["baseline"], ch["current"]) == (m[base], m[cur])
    assert (th["baseline"], th["current"]) == (t[base], t[cur])
    assert ch["change_pct"] == pytest.approx(-drop, abs=1e-4)
    # the team scenario.json names carries most of the fall; the other teams hold steady
    team = next(s["team"] for s in ch["responsible"] if "team" in s)
    topic = next(s["topic"] for s in ch["responsible"] if "topic" in s)
    by_team = _monthly(handled, "arrival_ts", "team").pivot("period", index="team", values="len")
    change = {r["team"]: r[cur] - r[base] for r in by_team.iter_rows(named=True)}
    total = m[cur] - m[base]
    assert change[team] / total > 0.6
    for other, d in change.items():
        if other != team:
            row = by_team.filter(pl.col("team") == other).row(0, named=True)
            assert abs(d) / row[base] < 0.15, other
    seg = next(s for s in ch["segments"] if s["segment"] == {"team": team})
    assert seg["change"] == change[team]
    assert seg["share_of_change"] == pytest.approx(change[team] / total, abs=1e-4)
    # the new topic: absent in the baseline, in the named team's queues in the current month
    topics = _monthly(contacts.filter(pl.col("topic") == topic), "arrival_ts", "team")
    assert topics.filter(pl.col("period") == base).height == 0
    assert set(topics.filter(pl.col("period") == cur)["team"]) == {team}
    ttopic = dict(_monthly(tickets.filter(pl.col("topic") == topic), "created_ts").iter_rows())
    assert base not in ttopic
    assert ttopic[cur] > 0
    # the cause lives in the roster: leavers on the last working day of the baseline month
    agents = pl.read_parquet(samples_dir / "agents.parquet")
    for cause in scenario["causes"]:
        if cause["kind"] != "attrition":
            continue
        left = agents.filter(
            pl.col("team") == cause["segment"]["team"],
            pl.col("left") == dt.date.fromisoformat(cause["date"]),
        )
        assert sorted(left["agent_id"]) == sorted(cause["agents"])
        assert cause["count"] >= 2
    # drivers: agents fall and AHT rises in that team; contributions add up to the change
    drv = next(d for d in ch["drivers"] if d["segment"] == {"team": team})
    f = drv["factors"]
    assert f["agents"]["change"] < 0
    assert drv["aht_s"]["change"] > 0
    contrib = sum(v["contribution"] for v in f.values())
    assert contrib == pytest.approx(change[team], abs=1.0)


def test_committed_sample_files_and_sizes(samples_dir):
    meta = json.loads((samples_dir / "dataset.json").read_text())
    assert meta["timezone"] == TZ
    assert meta["source"] == "kpi sample"
    assert {"name", "seed", "scale", "start", "months"} <= set(meta)
    parquet = sum(p.stat().st_size for p in samples_dir.glob("*.parquet"))
    assert parquet <= 10 * 1024 * 1024
    csv = samples_dir / "contacts.csv"
    assert csv.stat().st_size <= CSV_LIMIT_BYTES
    head = pl.read_csv(csv, n_rows=5)
    assert head.columns == TABLES["contacts"].names
    assert "first month only" in (samples_dir / "README.md").read_text()
    for name in set(TABLES) - {"intervals", "forecasts"}:
        validate(name, pl.scan_parquet(samples_dir / f"{name}.parquet"))


def test_write_sample_small_csv_holds_everything(tmp_path):
    out = write_sample(tmp_path / "s", scale="tiny", months=1)
    csv = pl.read_csv(out / "contacts.csv")
    assert csv.height == pl.read_parquet(out / "contacts.parquet").height
    assert "every contact" in (out / "README.md").read_text()
    truth = json.loads((out / "scenario.json").read_text())
    assert truth["schema_version"] == 1
    assert "metrics" in truth
    assert "fewer months" in truth["note"]
    # local wall-clock times without offset, whole seconds
    assert len(csv["arrival_ts"][0]) == len("2026-01-01 00:00:00")
    assert csv.schema["talk_s"] == pl.Int64


# ------------------------------------------------------------------------------------------
# arguments and the command line


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"months": 0}, "--months"),
        ({"months": -2}, "--months"),
        ({"scale": "huge"}, "unknown scale"),
        ({"scale": 10}, "too small"),
        ({"start": "2026-13-01"}, "bad --start"),
        ({"tz": "Mars/Olympus"}, "time zone"),
        ({"scenario": "chaos"}, "unknown scenario"),
        ({"interval_min": 20}, "15 or 30"),
        ({"seed": -1}, "--seed"),
        ({"staffing": 0}, "staffing"),
    ],
)
def test_bad_arguments_raise_kpi_error(kwargs, message):
    with pytest.raises(KpiError, match=message):
        simulate(**kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--months", "0"], "bad --months"),
        (["--months", "-1"], "bad --months"),
        (["--months", "two"], "bad --months"),
        (["--scale", "enormous"], "unknown scale"),
        (["--start", "yesterday"], "argument --start: expected a date like 2026-01-01"),
        (["--seed", "x"], "bad --seed"),
        (["--interval-min", "7"], "15 or 30"),
    ],
)
def test_cli_bad_arguments_one_line(args, message, tmp_path, capsys):
    code = main(["sample", "--out", str(tmp_path / "o"), "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("kpi sample: error: ")
    assert message in err
    assert not (tmp_path / "o" / "contacts.parquet").exists()


def test_cli_unwritable_directory_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["sample", "--out", str(blocker / "sub"), "--scale", "tiny", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("kpi sample: error: cannot write to output directory")
    code = main(["sample", "--scale", "tiny"])
    assert code == 2
    assert "missing --out" in capsys.readouterr().err


def test_cli_writes_the_dataset_and_reports_progress(tmp_path, capsys):
    out = tmp_path / "cli"
    (out).mkdir()
    (out / "intervals.parquet").write_bytes(b"stale")  # a table of an earlier dataset
    code = main(["sample", "--out", str(out), "--scale", "tiny", "--months", "1", "--no-csv"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.startswith("kpi sample: ")
    assert "wrote 11 tables" in err
    assert (out / "scenario.json").exists()
    assert not (out / "contacts.csv").exists()
    assert not (out / "intervals.parquet").exists()


def test_cli_error_in_a_real_process_is_one_line(tmp_path):
    bad = subprocess.run(
        [sys.executable, "-m", "kpi", "sample", "--out", str(tmp_path), "--months", "-3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        "kpi sample: error: bad --months -3: expected a whole number 1 or more"
    ]


def test_scale_accepts_a_number_of_contacts():
    s = simulate(scale="8k", months=1, scenario="steady")
    assert s.meta["scale"] == "8000"
    assert 0.8 * 8000 < s["contacts"].height < 1.25 * 8000
    assert s.meta["scale_factor"] == pytest.approx(8000 / 40_000, rel=0.3)


def test_tickets_team_agents_get_ticket_kpis_not_zero_contacts(samples_dir):
    from kpi.scorecard import agent_scorecard

    card = agent_scorecard(samples_dir, period="2026-02").collect()
    tickets = card.filter(pl.col("team") == "Tickets")
    assert tickets.height >= 10
    assert tickets["contacts_handled"].null_count() == tickets.height  # not 0 contacts
    assert (tickets["tickets_handled"] > 0).all()
    ranked = tickets.filter(pl.col("rank").is_not_null())
    assert ranked.height > 0
    assert (ranked["tickets_handled"] >= 50).all()
    assert ranked.sort("rank")["tickets_handled"].is_sorted(descending=True)
    assert ranked["first_response_time"].null_count() == 0
    assert ranked["avg_resolution_time"].null_count() == 0
    assert ranked["adherence"].null_count() == 0  # agent-time KPIs stay
    phones = card.filter(pl.col("team") == "North", pl.col("contacts_handled") > 0)
    assert phones["tickets_handled"].null_count() == phones.height  # not 0 tickets
    assert phones.filter(pl.col("rank").is_not_null()).height > 0


def _km_survival(wait: np.ndarray, ab: np.ndarray, t: float) -> float:
    """Kaplan-Meier P(patience > t): abandons are events, every other queued call censored."""
    order = np.argsort(wait, kind="stable")
    w, e = wait[order], ab[order]
    times, first = np.unique(w, return_index=True)
    events = np.add.reduceat(e.astype(np.int64), first)
    at_risk = len(w) - first
    keep = (events > 0) & (times <= t)
    return float(np.prod(1.0 - events[keep] / at_risk[keep]))


def test_sample_patience_matches_the_real_call_log(samples_dir):
    # config holds what bench/calibrate_patience.py measured on the Technion bank's February
    # 1999 log; the sample's callers must behave the same way
    from kpi._sim.config import ABANDONMENT_BY_WAIT_MEASURED, PATIENCE_SURVIVAL_MEASURED

    c = pl.read_parquet(samples_dir / "contacts.parquet").filter(
        pl.col("channel") == "voice",
        pl.col("outcome").is_in(["answered", "abandoned_queue", "flowout"]),
    )
    wait = c["wait_s"].to_numpy()
    ab = (c["outcome"] == "abandoned_queue").to_numpy()
    for t, real in PATIENCE_SURVIVAL_MEASURED:
        assert _km_survival(wait, ab, t) == pytest.approx(real, abs=0.025), t
    # abandonment against the hour's mean wait, where the real log has hours to compare
    hours = (
        c.group_by(pl.col("queue_ts").dt.truncate("1h"))
        .agg(
            n=pl.len(),
            ab=(pl.col("outcome") == "abandoned_queue").sum(),
            w=pl.col("wait_s").mean(),
        )
        .filter(pl.col("n") >= 30)
    )
    edges = [0, 15, 30, 60, 90, 120]
    for (lo, hi), (_real_wait, real_rate) in zip(
        itertools.pairwise(edges), ABANDONMENT_BY_WAIT_MEASURED, strict=False
    ):
        band = hours.filter(pl.col("w") >= lo, pl.col("w") < hi)
        assert band.height >= 20, lo
        assert band["ab"].sum() / band["n"].sum() == pytest.approx(real_rate, abs=0.025), lo


def test_worst_month_waits_stay_within_what_callers_and_objectives_allow(samples_dir, scenario):
    from kpi._sim.config import CHANNELS

    c = pl.read_parquet(samples_dir / "contacts.parquet").filter(pl.col("queue_ts").is_not_null())
    live = c.filter(pl.col("channel").is_in(["voice", "chat"]))
    month = pl.col("queue_ts").dt.strftime("%Y-%m")
    by = live.group_by("team", month.alias("m")).agg(
        asa=pl.col("wait_s").filter(pl.col("outcome") == "answered").mean(),
        longest=pl.col("wait_s").max(),
    )
    patience = CHANNELS["voice"].patience
    assert patience is not None
    # callers hang up: no team's ASA exceeds the callers' mean patience (North in February,
    # with half its agents gone, comes closest), no wait exceeds the voicemail flow-out
    assert by["asa"].max() < patience.mean_s
    assert by["longest"].max() <= CHANNELS["voice"].max_wait_s
    worst = by.sort("asa").row(-1, named=True)
    assert (worst["team"], worst["m"]) == ("North", scenario["periods"]["current"]["label"])
    # e-mail is deferred work: nobody abandons, answers come within hours and meet the objective
    email = c.filter(pl.col("channel") == "email")
    assert set(email["outcome"]) == {"answered"}
    assert 3600 < email["wait_s"].mean() < 8 * 3600
    objectives = {o["queue"]: o for o in scenario["objectives"]}
    assert objectives["Email"]["kind"] == "response_time"
    assert objectives["Email"]["threshold_s"] == 24 * 3600
    assert min(objectives["Email"]["achieved"].values()) >= objectives["Email"]["target"]
    assert objectives["Tickets"]["kind"] == "response_time"
    assert objectives["North Voice"]["objective"] == "80% answered within 20 s"
    # the story shows in the objectives: Tickets meets its objective before the staff loss only
    tickets = objectives["Tickets"]["achieved"]
    assert tickets["2026-01"] >= objectives["Tickets"]["target"] > tickets["2026-02"]
