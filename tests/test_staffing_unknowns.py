"""``kpi staffing --data``: totals over intervals whose required agents are unknown are
unknown (null), never 0; a total over some unknown rows says how many it leaves out."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fixtures_small import interval_report

from kpi.data import Dataset, save
from kpi.staffing import required_agents, round_up

ZONE = ZoneInfo("Europe/London")


def dataset(tmp_path: Path, queues: dict[str, float | None]) -> Path:
    """Half-hourly interval report, Mon 2026-03-02 09:00-11:00 (4 intervals) per queue:
    offered 10, 20, 0, 10; a queue's value is its handle time per contact in seconds (talk_s,
    all answered), or None for an arrivals-only queue."""
    offered = [10, 20, 0, 10]
    first = datetime(2026, 3, 2, 9, tzinfo=ZONE)
    slots = [
        (first + timedelta(minutes=30 * i), queue, n)
        for queue in queues
        for i, n in enumerate(offered)
    ]
    frame = interval_report(slots, queues, 1800.0)
    save(Dataset({"intervals": frame}, tz="Europe/London"), tmp_path / "ds")
    return tmp_path / "ds"


def staffing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kpi", "staffing", "--every", "30m", *args],
        capture_output=True,
        text=True,
    )


def meta_of(ds: Path, *args: str) -> dict:
    out = staffing("--data", str(ds), "--by", "queue", "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["meta"]


def test_all_unknown_totals_are_null_not_zero(tmp_path):
    ds = dataset(tmp_path, {"Q": None})
    meta = meta_of(ds)
    assert meta["required_agent_intervals_total"] is None
    assert meta["required_agent_intervals_rounded_once"] is None
    assert meta["required_agent_intervals_unknown"] == 3  # the intervals with contacts
    assert meta["staffed_agent_intervals_total"] is None
    assert meta["staffed_agent_intervals_unknown"] == 4
    # the definitions file beside a CSV says the same
    out = staffing("--data", str(ds), "--format", "csv", "--out", str(tmp_path / "t.csv"))
    assert out.returncode == 0, out.stderr
    definitions = json.loads((tmp_path / "t.definitions.json").read_text())
    assert definitions["required_agent_intervals_total"] is None
    assert definitions["required_agent_intervals_rounded_once"] is None
    # the table says unknown, never 0
    table = staffing("--data", str(ds))
    assert table.returncode == 0, table.stderr
    assert "required_agent_intervals_total: unknown" in table.stdout
    assert "required_agent_intervals_rounded_once: unknown" in table.stdout
    assert "required_agent_intervals_total: 0" not in table.stdout


def test_a_total_over_some_unknown_rows_counts_them(tmp_path):
    """Queue A: 180 s a contact, so 10 and 20 contacts in 30 min are 1 and 2 Erlangs; queue B
    has no handle times. The total is A's alone, B's 3 intervals with contacts are unknown."""
    ds = dataset(tmp_path, {"A": 180.0, "B": None})
    meta = meta_of(ds)
    loads = [10 * 180 / 1800, 20 * 180 / 1800, 10 * 180 / 1800]  # 1, 2, 1 Erlangs
    each = [float(required_agents(a, aht_s=180, target_sl=0.8, threshold_s=20)) for a in loads]
    # by hand, Erlang C for 80 % in 20 s at 180 s: 1 Erlang needs 3 agents (2 give 70 %, 3 give
    # 92.7 %), 2 Erlangs need 4 (3 give 60 %, 4 give 86 %)
    assert [math.ceil(v) for v in each] == [3, 4, 3]
    expected = sum(each)
    assert 7 < expected <= 10
    assert meta["required_agent_intervals_total"] == pytest.approx(expected, abs=1e-3)
    assert meta["required_agent_intervals_rounded_once"] == round_up(expected)
    assert meta["required_agent_intervals_unknown"] == 3
    assert any(
        n.startswith("Required agents unknown in 3 of the 6 rows (interval and group) with ")
        for n in meta["notes"]
    )


def test_an_assumed_aht_leaves_nothing_unknown(tmp_path):
    """--aht-s 180 for queue B: B's load is A's, so the total is twice A's."""
    ds = dataset(tmp_path, {"A": 180.0, "B": None})
    one = meta_of(ds)["required_agent_intervals_total"]
    meta = meta_of(ds, "--aht-s", "180")
    assert meta["required_agent_intervals_unknown"] == 0
    assert meta["required_agent_intervals_total"] == pytest.approx(2 * one, abs=1e-3)
    assert not any(n.startswith("Required agents unknown") for n in meta["notes"])
