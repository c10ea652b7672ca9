"""Service objectives per queue drive the service level KPI and its findings (issue 17).

A hand-checkable centre: a voice queue (waits 10 s and 30 s), a chat queue (40 s and 70 s) and
an e-mail queue (answered after 1 h and 6 h), every contact answered.
"""

from __future__ import annotations

import polars as pl
import pytest
from fixtures_small import TZ, ts

from kpi import KpiError, compute, evaluate, views
from kpi import data as kpi_data
from kpi.metrics import METRICS, objectives_from, objectives_from_spec
from kpi.schema import conform
from kpi.targets import TargetSet, load_targets

OBJ = {"service_level.threshold_s": "objective"}


def _centre() -> dict[str, pl.DataFrame]:
    rows = [
        ("Voice", "voice", 10.0),
        ("Voice", "voice", 30.0),
        ("Chat", "chat", 40.0),
        ("Chat", "chat", 70.0),
        ("Email", "email", 3600.0),
        ("Email", "email", 6 * 3600.0),
    ]
    frame = pl.DataFrame(
        [
            {
                "arrival_ts": ts(5, 9),
                "team": "A",
                "queue": q,
                "channel": ch,
                "outcome": "answered",
                "wait_s": w,
                "talk_s": 60.0,
            }
            for q, ch, w in rows
        ]
    )
    return {"contacts": conform("contacts", frame.lazy(), TZ).collect()}


def _value(kpis, params=None, **kw):
    return compute(_centre(), kpis, params=params, measures=False, **kw).collect()


def test_each_contact_is_judged_against_its_own_queue_objective():
    out = _value("service_level,response_within_objective", OBJ)
    # voice 10 s ≤ 20 s (30 s is not); chat 40 s ≤ 60 s (70 s is not); e-mail left out
    assert out["service_level"][0] == pytest.approx((1 + 1) / 4)
    # e-mail: 1 h within the 4 h objective, 6 h not
    assert out["response_within_objective"][0] == pytest.approx(1 / 2)


def test_by_queue_each_threshold_and_email_out_of_the_phone_style_level():
    out = _value("service_level,response_within_objective", OBJ, by="queue").sort("queue")
    assert out.rows() == [("Chat", 0.5, None), ("Email", None, 0.5), ("Voice", 0.5, None)]


def test_default_variant_is_each_queues_own_objective():
    # the default judges each queue by its objective: e-mail is not measured in seconds
    assert _value("service_level")["service_level"][0] == pytest.approx((1 + 1) / 4)
    assert (
        METRICS["service_level"]
        .build()
        .formula.startswith(
            "SL = answered ≤ each queue's objective (voice, callback 20 s; chat, messaging 60 s)"
        )
    )


def test_a_fixed_threshold_is_one_threshold_for_every_queue():
    # 20 s for everyone: voice 10 s only, of all six answered (e-mail counted as late)
    fixed = {"service_level.threshold_s": 20}
    assert _value("service_level", fixed)["service_level"][0] == pytest.approx(1 / 6)
    assert (
        METRICS["service_level"].build({"threshold_s": 20}).formula
        == "SL = answered ≤ 20 s / (answered + abandoned)"
    )


def test_a_targets_file_overriding_chat_changes_the_chat_value(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text("[objectives.chat]\nthreshold_s = 30\n\n[objectives.email]\nresponse_h = 8\n")
    ts_ = load_targets(path)
    params = ts_.with_objectives(OBJ)
    assert params["service_level.objectives"] == "chat=30s; email=8h"
    out = _value("service_level,response_within_objective", params, by="queue").sort("queue")
    # chat 40 s and 70 s both over 30 s; e-mail 1 h and 6 h both within 8 h
    assert out.rows() == [("Chat", 0.0, None), ("Email", None, 1.0), ("Voice", 0.5, None)]
    centre = _value("service_level", params)["service_level"][0]
    assert centre == pytest.approx(1 / 4)


def test_a_queue_objective_beats_its_channel():
    params = {**OBJ, "service_level.objectives": "queue:Voice=30s"}
    out = _value("service_level", params, by="queue").sort("queue")
    assert out["service_level"].to_list() == [0.5, None, 1.0]  # voice 10 s and 30 s ≤ 30 s


def test_formula_states_the_objectives():
    r = evaluate(_centre(), "service_level,response_within_objective", params=OBJ)
    assert r.definitions["service_level"] == (
        "SL = answered ≤ each queue's objective (voice, callback 20 s; chat, messaging 60 s) / "
        "(answered + abandoned) of real-time queues (deferred queues: response_within_objective)"
    )
    assert "email, letter, social 4 h" in r.definitions["response_within_objective"]


def test_no_deferred_work_is_unknown_not_zero():
    only_voice = {"contacts": _centre()["contacts"].filter(pl.col("channel") == "voice")}
    out = compute(only_voice, "response_within_objective", measures=False).collect()
    assert out["response_within_objective"][0] is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("chat=soon", "is not <channel>=<seconds>s"),
        ("chat=-5s", "threshold_s must be from 0 to 3600"),
        ("email=0h", "response_h must be above 0"),
    ],
)
def test_bad_objectives_variant_is_refused(value, fragment):
    with pytest.raises(KpiError, match=fragment):
        _value("service_level", {**OBJ, "service_level.objectives": value})


def test_threshold_takes_a_number_or_objective():
    with pytest.raises(KpiError, match="expected a finite int or 'objective'"):
        _value("service_level", {"service_level.threshold_s": "own"})


def test_spec_round_trips():
    o = objectives_from(
        {
            "chat": {"threshold_s": 30},
            "queue": {"VIP": {"threshold_s": 10}},
            "email": {"response_h": 24},
        }
    )
    assert (
        objectives_from_spec(o.spec()).spec() == o.spec() == "chat=30s; email=24h; queue:VIP=10s"
    )


def test_targets_file_refuses_a_bad_objective_on_reading():
    with pytest.raises(KpiError, match="threshold_s must be"):
        TargetSet.from_mapping({"objectives": {"chat": {"threshold_s": -1}}})


def test_findings_speak_of_each_queue_objective():
    table = views.objectives_by_queue(_centre())
    assert table.select("queue", "objective", "kpi", "value", "target", "met").rows() == [
        ("Chat", "80% in 60 s", "service_level", 0.5, 0.8, False),
        ("Email", "response in 4 h", "response_within_objective", 0.5, 0.8, False),
        ("Voice", "80% in 20 s", "service_level", 0.5, 0.8, False),
    ]
    text = views.objective_findings(table)
    assert text[0] == (
        "Chat (chat): 50.0% answered within 60 s, against its objective of 80% in 60 s: "
        "missed by 30.0 pp."
    )
    assert text[1].startswith("Email (email): 50.0% answered within 4 h (response objective)")
    assert not any("20 s" in s for s in text if s.startswith("Email"))


def test_kpi_compute_targets_file_sets_the_objectives(tmp_path, capsys):
    """``kpi compute --targets FILE``: the file's [objectives] judge service level by each
    queue's own objective (a stricter chat objective lowers chat's service level only)."""
    import json
    from pathlib import Path

    from kpi.cli import main

    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    targets = tmp_path / "targets.toml"
    targets.write_text("[objectives.chat]\nthreshold_s = 30\n")
    args = ["compute", "--data", str(samples), "--metrics", "service_level", "--by", "channel"]
    args += ["--start", "2026-02-01", "--end", "2026-02-28", "--format", "json"]
    args += ["--param", "service_level.threshold_s=objective"]
    values = []
    for extra in ([], ["--targets", str(targets)]):
        assert main([*args, *extra]) == 0
        rows = json.loads(capsys.readouterr().out)["rows"]
        values.append({r["channel"]: r["service_level"] for r in rows})
    plain, strict = values
    assert strict["chat"] < plain["chat"]
    assert strict["voice"] == plain["voice"]
    assert strict["email"] is None  # deferred work is not in a service level


def _interval_report(channel: bool) -> kpi_data.Dataset:
    """A hand-made interval report counted at 20 s: a voice queue, a chat queue, an e-mail
    queue, one half hour each."""
    rows = [
        # queue, channel, offered, answered, abandoned, answered ≤ 20 s, abandoned ≤ 20 s
        ("Voice", "voice", 10, 8, 2, 6, 1),
        ("Chat", "chat", 4, 4, 0, 1, 0),
        ("Email", "email", 5, 5, 0, 0, 0),
    ]
    frame = pl.DataFrame(
        [
            {
                "interval_start": ts(5, 9),
                "interval_s": 1800.0,
                "queue": q,
                **({"channel": ch} if channel else {}),
                "offered": o,
                "answered": a,
                "abandoned": b,
                "answered_within_threshold": aw,
                "abandoned_within_threshold": bw,
            }
            for q, ch, o, a, b, aw, bw in rows
        ]
    )
    iv = conform("intervals", frame.lazy(), TZ).collect()
    return kpi_data.Dataset({"intervals": iv}, tz=TZ, meta={"interval_threshold_s": 20})


def test_interval_report_is_judged_where_its_threshold_is_the_objective():
    # the report counts answers within 20 s: the voice queue's objective. Chat (60 s) cannot
    # be judged from it and e-mail is deferred work: both are left out, never counted late.
    ds = _interval_report(channel=True)
    out = compute(ds, "service_level", by="queue", measures=False).collect().sort("queue")
    assert out.rows() == [("Chat", None), ("Email", None), ("Voice", pytest.approx(6 / 10))]
    total = compute(ds, "service_level", measures=False).collect()
    assert total["service_level"][0] == pytest.approx(6 / 10)
    # the fixed-threshold variant takes every queue at the report's 20 s
    fixed = compute(ds, "service_level", params={"service_level.threshold_s": 20}, measures=False)
    assert fixed.collect()["service_level"][0] == pytest.approx((6 + 1 + 0) / (10 + 4 + 5))


def test_interval_report_without_channels_judges_queues_by_the_default():
    # no channel column: a queue is judged by its own objective if the targets set one, else
    # the default (voice 20 s), as an unknown channel is
    ds = _interval_report(channel=False)
    out = compute(ds, "service_level", measures=False).collect()
    assert out["service_level"][0] == pytest.approx((6 + 1 + 0) / (10 + 4 + 5))
    deferred = {"service_level.objectives": "queue:Email=4h; queue:Chat=60s"}
    out = compute(ds, "service_level", params=deferred, measures=False).collect()
    assert out["service_level"][0] == pytest.approx(6 / 10)


def test_interval_report_at_another_threshold_is_unknown_not_late():
    ds = _interval_report(channel=True)
    ds30 = kpi_data.Dataset(dict(ds.tables), tz=TZ, meta={"interval_threshold_s": 30})
    r = evaluate(ds30, "service_level,contacts_offered", measures=False)
    assert r.frame.collect()["service_level"][0] is None
    assert "reported with interval_threshold_s=30" in r.notes["service_level"]
    assert "needs interval_threshold_s=20" in r.notes["service_level"]
    objective_30 = {"service_level.objectives": "voice=30s"}
    out = compute(ds30, "service_level", params=objective_30, measures=False).collect()
    assert out["service_level"][0] == pytest.approx(6 / 10)


def test_waits_in_seconds_are_of_the_real_time_queues():
    # voice 10 s and 30 s, chat 40 s and 70 s: e-mail's hours are a response time, not a wait
    out = _value("asa,avg_wait,longest_wait")
    assert out.row(0) == (pytest.approx(37.5), pytest.approx(37.5), 70.0)
    every = {f"{k}.queues": "all" for k in ("asa", "avg_wait", "longest_wait")}
    out = _value("asa,avg_wait,longest_wait", every)
    mean_all = (10 + 30 + 40 + 70 + 3600 + 6 * 3600) / 6
    assert out.row(0) == (pytest.approx(mean_all), pytest.approx(mean_all), 6 * 3600.0)
    # by queue: the e-mail queue has no wait in seconds (unknown, not 0)
    by_queue = _value("asa", by="queue").sort("queue")
    assert by_queue.rows() == [("Chat", 55.0), ("Email", None), ("Voice", 20.0)]
    # a targets file making chat deferred work takes it out of the waits too
    chat_deferred = {f"{k}.objectives": "chat=2h" for k in ("asa", "longest_wait")}
    out = _value("asa,longest_wait", chat_deferred)
    assert out.row(0) == (pytest.approx(20.0), 30.0)


def test_wait_formulas_say_real_time_queues():
    assert METRICS["asa"].build().formula == (
        "ASA = Σ queue wait of answered in real-time queues / answered in real-time queues"
    )
    assert METRICS["asa"].build({"queues": "all"}).formula == (
        "ASA = Σ queue wait of answered / answered"
    )


def test_interval_waits_leave_deferred_queues_out():
    ds = _interval_report(channel=True)
    iv = ds.tables["intervals"].with_columns(
        wait_answered_s=pl.Series([160.0, 120.0, 50_000.0]),
        max_wait_s=pl.Series([40.0, 90.0, 20_000.0]),
    )
    ds = kpi_data.Dataset({"intervals": iv}, tz=TZ, meta=ds.meta)
    out = compute(ds, "asa,longest_wait", measures=False).collect()
    # voice 160 s over 8 answered, chat 120 s over 4; e-mail left out
    assert out.row(0) == (pytest.approx(280 / 12), 90.0)
