"""Bad report parameters, tried on every standard report through the real command line.

The rule: every value outside a parameter's documented choices is refused before anything
runs, with exit status 2 and one ``kpi report: error: ...`` line (no traceback) that names the
parameter, the value and what is valid; nothing is written, so the last good report stays.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"

#: (report, parameter, value, text the error must hold besides the parameter's name)
CORPUS = [
    # issue 15, item 10
    ("staffing", "day", "<x>", "expected an ISO date"),
    ("trends", "start", "<x>", "expected an ISO date"),
    ("overview", "explain_kpi", "bogus", "unknown KPI 'bogus'; valid: contacts_offered"),
    ("drill-down", "segment", '{"team": "Nrth"}', "team values in the data: Email, North"),
    # siblings
    ("scorecard", "teams", '["Nope"]', "unknown team 'Nope'; teams in the data: Email"),
    ("trends", "teams", "North,Nope", "unknown team 'Nope'"),
    ("scorecard", "kpis", "aht,bogus", "unknown KPI 'bogus'"),
    ("scorecard", "team_kpis", "customer_id", "unknown KPI 'customer_id'"),
    ("overview", "trend_kpis", '["service_level", 3]', "expected text, got int 3"),
    ("trends", "heatmap_kpis", "nope", "unknown KPI 'nope'"),
    ("drill-down", "kpi_id", "customer_id", "unknown KPI 'customer_id'"),
    ("scorecard", "rank_by", "bogus", "unknown KPI 'bogus'"),
    ("trends", "dimension", "agent_id", "unknown dimension 'agent_id'"),
    ("trends", "dimension", "agent_name", "holds customer identifiers"),
    ("trends", "dimension", "email", "holds customer identifiers"),
    ("tickets", "dimension", "queue", "unknown dimension 'queue'; valid: team, topic, channel"),
    ("drill-down", "breakdown", "name", "holds customer identifiers"),
    ("drill-down", "dims", "[]", "expected at least one dimension"),
    ("drill-down", "segment", '{"topic": ["a", "b"]}', "expected one value for topic"),
    ("drill-down", "segment", '{"team": "North", "topic": "zzz"}', "no record has topic 'zzz'"),
    (
        "drill-down",
        "segment",
        '{"priority": "high"}',
        "tables of contacts_handled have no 'priority' values",
    ),
    (
        "drill-down",
        "breakdown",
        "priority",
        "tables of contacts_handled have no 'priority' values",
    ),
    ("drill-down", "segment", '{"queue": "Nope"}', "queue values in the data: "),
    ("trends", "grain", "7m", "unknown grain '7m'; valid: 1d, 1w, 1mo, 15m, 30m, 1h"),
    ("trends", "interval", "1d", "unknown grain '1d'; valid: 15m, 30m, 1h"),
    ("staffing", "every", "7m", "unknown grain '7m'; valid: 15m, 30m, 1h"),
    ("tickets", "grain", "15m", "unknown grain '15m'; valid: 1d, 1w, 1mo"),
    ("tickets", "times_grain", "weekly", "unknown grain 'weekly'"),
    ("staffing", "day", "2026-05-01", "not a day of the period 2026-02"),
    ("trends", "start", "2026-04-01", "after the period 2026-02"),
    ("staffing", "target_sl", "nan", "expected a finite number"),
    ("staffing", "what_if_agents", "1e400", "expected a finite number"),
    ("scorecard", "kpi_params", '{"aht.bogus": 1}', "unknown parameter aht.bogus"),
    ("scorecard", "kpi_params", '{"speed.x": 1}', "unknown KPI 'speed'"),
    ("scorecard", "targets_file", "nope.toml", "nope.toml does not exist"),
]


def kpi_report(*args: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kpi", "report", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> dict[int, subprocess.CompletedProcess]:
    if not (SAMPLES / "contacts.parquet").exists():
        pytest.fail(f"sample data missing in {SAMPLES}: run `make sample`")
    base = tmp_path_factory.mktemp("params")

    def run(i: int) -> subprocess.CompletedProcess:
        name, param, value, _ = CORPUS[i]
        args = [name, "--data", str(SAMPLES), "--period", "2026-02", "-p", param, value]
        return kpi_report(*args, out=base / str(i))

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(range(len(CORPUS)), pool.map(run, range(len(CORPUS))), strict=True))
    runs[-1] = base  # type: ignore[assignment]
    return runs


@pytest.mark.parametrize(
    ("i", "case"), list(enumerate(CORPUS)), ids=[f"{c[0]}-{c[1]}" for c in CORPUS]
)
def test_a_bad_parameter_is_refused_in_one_line_before_anything_runs(refused, i, case):
    name, param, _value, needle = case
    run = refused[i]
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("kpi report: error: ")
    assert f"-{name}.ipynb: bad value for {param}: " in lines[0]
    assert needle in lines[0]
    assert run.stdout == ""
    assert not (refused[-1] / str(i)).exists()  # nothing written


@pytest.mark.notebook
def test_a_refused_segment_leaves_the_last_good_report(tmp_path):
    out = tmp_path / "reports"
    common = ["drill-down", "--data", str(SAMPLES), "--period", "2026-02"]
    good = kpi_report(*common, "-p", "segment", '{"team": "North"}', out=out)
    assert good.returncode == 0, good.stderr
    page = out / "drill-down" / "2026-02" / "drill-down-2026-02.html"
    before = page.read_bytes()
    assert b"within team North" in before
    listing = sorted(p.relative_to(out) for p in out.rglob("*") if ".work" not in p.parts)
    bad = kpi_report(*common, "-p", "segment", '{"team": "Nrth"}', out=out)
    assert bad.returncode == 2
    assert "bad value for segment: no record has team 'Nrth'" in bad.stderr
    assert page.read_bytes() == before
    assert sorted(p.relative_to(out) for p in out.rglob("*") if ".work" not in p.parts) == listing
