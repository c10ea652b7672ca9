"""kpi.explain: exact driver decompositions, segments, narrative, rows, bad input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from kpi import KpiError
from kpi.data import Dataset
from kpi.explain import (
    SEGMENT_SCHEMA,
    Explanation,
    Segment,
    drivers,
    explain,
    format_value,
    narrative,
    rows,
    segments_frame,
)
from kpi.schema import conform

TZ = "UTC"


def _contacts(
    month: int, n: int, *, team: str, talk: float, hold: float, acw: float, wait: float = 10.0
) -> list[dict]:
    t0 = datetime(2026, month, 3, 9, tzinfo=UTC)
    return [
        {
            "contact_id": f"{team}{month}-{i}",
            "arrival_ts": t0 + timedelta(minutes=7 * i),
            "queue_ts": t0 + timedelta(minutes=7 * i),
            "outcome": "answered",
            "wait_s": wait,
            "talk_s": talk,
            "hold_s": hold,
            "acw_s": acw,
            "team": team,
            "channel": "voice",
            "queue": f"q{team}",
            "topic": "billing",
            "agent_id": f"{team}-agent{i % 3}",
            "customer_id": f"u{team}{month}{i}",
        }
        for i in range(n)
    ]


def _agent_time(
    month: int, team: str, agents: int, *, busy_s: float, available_s: float
) -> list[dict]:
    t0 = datetime(2026, month, 3, 9, tzinfo=UTC)
    return [
        {
            "agent_id": f"{team}-agent{a}",
            "team": team,
            "site": "S",
            "interval_start": t0,
            "interval_s": 28800.0,
            "scheduled_s": 28800.0,
            "handle_s": busy_s,
            "acw_s": 0.0,
            "available_s": available_s,
        }
        for a in range(agents)
    ]


@pytest.fixture
def two_months() -> Dataset:
    """North loses an agent and slows down in February; South holds steady."""
    contacts = (
        _contacts(1, 60, team="North", talk=200, hold=20, acw=20)
        + _contacts(2, 30, team="North", talk=260, hold=40, acw=20)
        + _contacts(1, 40, team="South", talk=150, hold=0, acw=30)
        + _contacts(2, 40, team="South", talk=150, hold=0, acw=30)
    )
    at = (
        _agent_time(1, "North", 3, busy_s=60 * 240 / 3, available_s=2000)
        + _agent_time(2, "North", 2, busy_s=30 * 320 / 2, available_s=1500)
        + _agent_time(1, "South", 2, busy_s=40 * 180 / 2, available_s=3000)
        + _agent_time(2, "South", 2, busy_s=40 * 180 / 2, available_s=3000)
    )
    tables = {
        "contacts": conform("contacts", pl.DataFrame(contacts).lazy(), TZ),
        "agent_time": conform("agent_time", pl.DataFrame(at).lazy(), TZ),
    }
    return Dataset(tables, tz=TZ)


def test_aht_sum_tree_is_exact(two_months):
    out = drivers(two_months, "aht", baseline="2026-01", current="2026-02")
    # January: (60*240 + 40*180) / 100 = 216; February: (30*320 + 40*180) / 70 = 240
    assert [d.name for d in out] == ["talk", "hold", "acw"]
    assert sum(d.contribution for d in out) == pytest.approx(240 - 216)
    talk = next(d for d in out if d.name == "talk")
    assert talk.baseline == pytest.approx((60 * 200 + 40 * 150) / 100)
    assert talk.current == pytest.approx((30 * 260 + 40 * 150) / 70)


def test_handled_product_tree_is_exact(two_months):
    out = drivers(two_months, "contacts_handled", baseline="2026-01", current="2026-02")
    names = [d.name for d in out]
    assert names == ["agents", "hours_per_agent", "occupancy", "coverage", "aht"]
    assert sum(d.contribution for d in out) == pytest.approx(70 - 100)
    agents = out[0]
    assert (agents.baseline, agents.current) == (5, 4)
    # LMDI: L(70, 100) * ln(4/5)
    lmean = (70 - 100) / math.log(70 / 100)
    assert agents.contribution == pytest.approx(lmean * math.log(4 / 5))
    assert sum(d.share for d in out) == pytest.approx(1.0)


def test_ratio_without_tree_splits_mix_and_rate(two_months):
    # every 10th North contact is transferred, no South contact is: both rates hold steady
    # (10% and 0%), so the fall from 6/100 to 3/70 is pure mix (North's share fell)
    contacts = two_months["contacts"].with_columns(
        (pl.col("team").eq("North") & pl.col("contact_id").str.ends_with("0")).alias("transferred")
    )
    data = {"contacts": contacts, "agent_time": two_months["agent_time"]}
    out = drivers(data, "transfer_rate", baseline="2026-01", current="2026-02", dims=("team",))
    by_name = {d.name: d.contribution for d in out}
    assert by_name["mix_team"] == pytest.approx(3 / 70 - 6 / 100)
    assert by_name["rate_team"] == pytest.approx(0.0)
    assert sum(by_name.values()) == pytest.approx(3 / 70 - 6 / 100)


def test_explain_headline_and_narrative(two_months):
    e = explain(
        two_months, "contacts_handled", baseline="2026-01", current="2026-02", dims=("team",)
    )
    assert e.baseline == {"period": "2026-01", "value": 100.0}
    assert e.current == {"period": "2026-02", "value": 70.0}
    assert e.change == {"absolute": -30.0, "relative": -0.3}
    assert e.narrative[0] == "Contacts handled fell 30.0% from 2026-01 to 2026-02 (100 to 70)."
    assert 3 <= len(e.narrative) <= 6
    doc = e.to_dict()
    assert {"metric", "baseline", "current", "change", "drivers", "segments", "narrative"} <= set(
        doc
    )
    assert doc["drivers"][0]["name"] == "agents"
    assert "# Why Contacts handled changed" in e.to_markdown()


def test_rows_behind_a_segment(two_months):
    out = rows(two_months, {"team": "North"}, period="2026-02").collect()
    assert out.height == 30
    assert set(out["team"]) == {"North"}
    with pytest.raises(KpiError, match="has no column 'colour'"):
        rows(two_months, {"colour": "red"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "nope", "baseline": "2026-01", "current": "2026-02"}, "unknown KPI 'nope'"),
        ({"metric": "aht", "baseline": "2026-01", "current": "2026-01"}, "same period"),
        (
            {"metric": "aht", "baseline": "2025-06", "current": "2026-02"},
            "no data for aht in 2025-06",
        ),
        (
            {"metric": "aht", "baseline": "2026-01", "current": "2026-02", "dims": ("colour",)},
            "unknown dimension 'colour'",
        ),
    ],
)
def test_bad_input(two_months, kwargs, message):
    with pytest.raises(KpiError, match=message):
        explain(two_months, **kwargs)


def test_no_change_is_said_plainly():
    e = Explanation(
        "aht",
        "Average handle time",
        "s",
        "lower",
        "d",
        {"period": "a", "value": 200.0},
        {"period": "b", "value": 200.0},
        {"absolute": 0.0, "relative": 0.0},
        [],
        [],
        [],
    )
    assert narrative(e) == ["Average handle time did not change from a to b (3 min 20 s)."]


def test_nothing_explains_is_honest():
    e = Explanation(
        "aht",
        "Average handle time",
        "s",
        "lower",
        "d",
        {"period": "a", "value": 200.0},
        {"period": "b", "value": 220.0},
        {"absolute": 20.0, "relative": 0.1},
        [],
        [],
        [],
    )
    text = " ".join(narrative(e))
    assert "No small set of teams" in text


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0.8123, "ratio", "81.2%"),
        (12410, "count", "12,410"),
        (312.4, "s", "5 min 12 s"),
        (None, "s", "n/a"),
        (8.26, "s", "8.3 s"),
    ],
)
def test_format_value(value, unit, expected):
    assert format_value(value, unit) == expected


def test_cli_data_mode_on_the_sample(samples_dir):
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpi",
            "explain",
            "--data",
            str(samples_dir),
            "--metric",
            "contacts_handled",
            "--baseline",
            "2026-01",
            "--current",
            "2026-02",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"metric", "baseline", "current", "change", "drivers", "segments", "narrative"} <= set(
        doc
    )
    assert doc["baseline"]["period"] == "2026-01"
    bad = subprocess.run(
        [sys.executable, "-m", "kpi", "explain", "--data", str(samples_dir), "--metric", "aht"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "kpi explain: error: --baseline, --current required with --data"


def test_sample_names_the_scenario_causes_first(samples_dir):
    """The default sample's story: North's attrition and the new price_change topic."""
    import json

    scenario = json.loads((samples_dir / "scenario.json").read_text())
    truth = scenario["metrics"]["contacts_handled"]["responsible"]
    e = explain(str(samples_dir), "contacts_handled", baseline="2026-01", current="2026-02")
    first = next(s.dims for s in e.segments if s.dims)
    assert first in truth
    assert first == {"team": "North"}
    inner = {d["name"]: d for d in e.segment_drivers["drivers"]}
    assert (inner["agents"]["baseline"], inner["agents"]["current"]) == (27, 12)  # 15 leavers
    aht = explain(str(samples_dir), "aht", baseline="2026-01", current="2026-02")
    assert next(s.dims for s in aht.segments if s.dims) == {"topic": "price_change"}
    assert sum(d.contribution for d in e.drivers) == pytest.approx(e.change["absolute"])


def test_segments_stay_typed_until_printed(samples_dir):
    """Segments are frozen Segment objects; their JSON form and frame are derived at the edge."""
    import dataclasses

    e = explain(str(samples_dir), "contacts_handled", baseline="2026-01", current="2026-02")
    seg = e.segments[0]
    assert isinstance(seg, Segment)
    with pytest.raises(dataclasses.FrozenInstanceError):
        seg.share = 0.0  # type: ignore[misc]
    # February is shorter: the search compared the current month with the baseline's pace
    assert seg.pace == pytest.approx(28 / 31)
    assert seg.expected == pytest.approx(seg.baseline * seg.pace)
    d = e.to_dict()["segments"][0]
    assert list(d) == [
        "dims", "kind", "baseline", "current", "contribution", "share",
        "confidence", "selected", "evidence", "expected",
    ]  # fmt: skip
    assert seg.dims == d["dims"] == {"team": "North"}
    assert not hasattr(seg, "get")  # typed: no mapping access
    frame = segments_frame(e)
    assert frame.schema == pl.Schema(SEGMENT_SCHEMA)
    assert frame.row(0)[:3] == (1, "team North", "additive")
    assert segments_frame([]).height == 0


def test_segment_of_a_ratio_has_mix_and_rate():
    s = Segment({}, "rate", 0.7, 0.1, -0.3, 0.9, mix=0.01, rate=-0.31, confidence=0.9)
    assert [k for k in s.to_dict() if k in ("mix", "rate", "expected")] == ["mix", "rate"]
    assert s.label() == "all"


def test_segment_values_keep_their_case_and_agent_id_reads_as_agent(samples_dir):
    """Agent ids are identifiers: the narrative never lowercases a value (A0011 is not a0011),
    and the agent dimension is named as a person reads it."""
    e = explain(
        str(samples_dir),
        "contacts_handled",
        baseline="2026-01",
        current="2026-02",
        dims=["team", "agent_id"],
    )
    text = " ".join(e.narrative)
    agents = [s.dims["agent_id"] for s in e.segments if "agent_id" in s.dims][:3]
    assert agents, [s.dims for s in e.segments]
    for agent in agents:
        if agent in text or agent.lower() in text:
            assert f"agent {agent}" in text or f"Agent {agent}" in text, text
    assert "agent_id" not in text
    assert "team north" not in text  # values as in the data


def test_a_week_the_data_end_in_is_paced_by_its_days_with_data(samples_dir):
    """The sample ends on Tuesday 31 March: 2026-W14 holds two days of data. A count is
    expected at the baseline's daily pace over those two days, and the narrative says the
    week holds data for 2 days, not that it has them."""
    e = explain(str(samples_dir), "contacts_handled", baseline="2026-W13", current="2026-W14")
    seg = e.method["segments"]
    assert seg["days"] == [7, 2]
    assert seg["covered"] is True
    assert seg["pace"] == pytest.approx(2 / 7)
    assert any("2026-W14 holds data for 2 days against 7" in s for s in e.narrative)
    whole = explain(str(samples_dir), "contacts_handled", baseline="2026-01", current="2026-02")
    assert whole.method["segments"]["covered"] is False  # February has 28 days, all with data
