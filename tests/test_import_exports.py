"""Common exports import as they are (issue 14): Excel cells by type, arrivals-only interval
reports, a survey column feeding the surveys table, Z-stamped local clocks, the quarantine
share that refuses an import, and the real public files of ../shared/datasets.

Each case imports with a committed mapping (tests/data/*.toml, docs/examples/*.toml) and no
hand-edited data, then computes its KPIs: known KPIs are numbers, unknown ones are null with
a reason (never 0).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from kpi.compute import availability, compute
from kpi.data import load
from kpi.errors import KpiError
from kpi.io import import_file, read_source

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "docs" / "examples"
KPIS = "contacts_offered,contacts_answered,aht,asa,service_level,abandon_rate,avg_talk,csat"


def _kpis(out: Path, metrics: str = KPIS, **kw) -> dict:
    """KPI values of a dataset (whole range) and which the data can support."""
    ds = load(out)
    row = compute(ds, metrics, measures=False, **kw).collect().row(0, named=True)
    found = availability(ds, metrics, params=kw.get("params"))
    return {k: (row[k], found[k]) for k in metrics.split(",")}


def _no_unknown_number(values: dict) -> None:
    for kpi, (value, avail) in values.items():
        if avail.ok:
            assert value is not None, kpi
        else:
            assert value is None, (kpi, value)
            assert avail.reason, kpi


# ------------------------------------------------------------------------------ Excel


def test_excel_cells_are_read_by_type_and_format():
    src = read_source(DATA / "excel_calls.xlsx")
    assert src.info["sheet"] == "Calls"  # the sheet's name, not the first header
    assert src.info["sheets"] == ["Calls", "Summary"]
    cells = src.info["cell_types"]
    assert cells["Date"] == "date cells"
    assert cells["Start Time"].startswith("time cells")
    assert cells["Wait Time"].startswith("time cells")
    assert cells["Hold Time"] == "duration cells"
    # the column with a stray text cell keeps its text; its time cells read as h:mm:ss
    assert cells["Talk Time"].startswith("text and time cells")
    frame = src.frame
    assert frame.schema["Start Time"] == pl.Duration("us")
    assert frame.schema["Talk Time"] == pl.String
    assert frame["Talk Time"][18] == "see notes"
    assert not frame["Talk Time"].drop_nulls().str.starts_with("1899").any()


def test_excel_export_with_satisfaction_imports_contacts_and_surveys(tmp_path):
    out = tmp_path / "site"
    result = import_file(
        DATA / "excel_calls.xlsx", mapping=DATA / "excel_calls_mapping.toml", out=out
    )
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (40, 39, 1)
    assert r.quarantined_by_reason == {"unparseable talk_s": 1}
    assert r.source["sheet"] == "Calls"
    c = result.frame
    first = c.row(0, named=True)  # X-1000: 04/03/2025 08:06:49, wait 81 s (a time cell)
    assert first["arrival_ts"].strftime("%Y-%m-%d %H:%M:%S %Z") == "2025-03-04 08:06:49 CST"
    assert (first["wait_s"], first["talk_s"], first["hold_s"], first["acw_s"]) == (
        81,
        599,
        0,
        44,
    )
    # the survey column fed the surveys table: scores and the keys of the contact
    (surveys,) = result.also
    assert surveys.table == "surveys"
    assert (surveys.report.read, surveys.report.loaded) == (9, 9)
    s = pl.read_parquet(out / "surveys.parquet")
    assert s["csat"].to_list() == surveys.frame["csat"].to_list()
    joined = s.join(pl.read_parquet(out / "contacts.parquet"), on="contact_id", suffix="_c")
    assert joined.height == 9
    assert (joined["queue"] == joined["queue_c"]).all()
    assert (joined["survey_ts"] == joined["end_ts"]).all()  # survey_ts defaults to the end
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["csat_scale_max"] == 5
    doc = json.loads((out / "import_report.json").read_text())
    assert doc["table"] == "contacts"
    assert set(doc["tables"]) == {"contacts", "surveys"}
    values = _kpis(out, params={"csat.method": "mean"})
    _no_unknown_number(values)
    assert values["contacts_offered"][0] == 39
    assert 1 <= values["csat"][0] <= 5  # mean on the 1-5 scale, points
    assert values["aht"][0] > 0


def test_excel_serial_numbers_and_epoch_text(tmp_path):
    import xlsxwriter

    f = tmp_path / "serial.xlsx"
    wb = xlsxwriter.Workbook(f)
    ws = wb.add_worksheet("Log")
    ws.write_row(0, 0, ["id", "when", "skill", "wait", "talk"])
    dur = wb.add_format({"num_format": "[h]:mm:ss"})
    for i in range(3):
        ws.write_string(i + 1, 0, f"c{i}")
        ws.write_number(i + 1, 1, 45719.375 + i / 24)  # General-formatted serial: 2025-03-03 09:00
        ws.write_string(i + 1, 2, "A")
        ws.write_string(i + 1, 3, "1899-12-30 00:00:1" + str(i))  # time-only epoch as text
        ws.write_number(i + 1, 4, 1.5 if i == 2 else 0.001, dur)  # 36 h, 86.4 s
    wb.close()
    spec = {
        "table": "contacts",
        "timezone": "Europe/London",
        "columns": {"contact_id": "id", "arrival_ts": "when", "queue": "skill"}
        | {"wait_s": "wait", "talk_s": "talk"},
        "defaults": {"outcome": "answered", "hold_s": 0, "acw_s": 0, "team": "t"},
    }
    result = import_file(f, mapping=spec)
    assert result.report.inferred["time formats"]["arrival_ts"].startswith("Excel serial")
    got = result.frame.select(
        pl.col("arrival_ts").dt.strftime("%Y-%m-%d %H:%M:%S"), "wait_s", "talk_s"
    ).rows()
    assert got == [
        ("2025-03-03 09:00:00", 10.0, 86.4),
        ("2025-03-03 10:00:00", 11.0, 86.4),
        ("2025-03-03 11:00:00", 12.0, 129600.0),
    ]


def test_time_cells_alone_are_not_a_time_stamp(tmp_path):
    spec = {"table": "contacts", "timezone": "UTC", "columns": {"arrival_ts": "Start Time"}}
    spec["columns"] |= {"queue": "Queue", "outcome": "Result"}
    with pytest.raises(KpiError, match=r"times of day without a date.*\[\"<date column>\""):
        import_file(DATA / "excel_calls.xlsx", mapping=spec)


# ------------------------------------------------------------------ arrivals only, Z


def test_arrivals_only_5min_report_with_z_on_local_times(tmp_path):
    out = tmp_path / "arrivals"
    result = import_file(
        DATA / "arrivals_5min.csv", mapping=DATA / "arrivals_5min_mapping.toml", out=out
    )
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (1440, 1440, 0)
    assert not any(w.startswith("time zone") for w in r.warnings)
    iv = pl.read_parquet(out / "intervals.parquet")
    assert iv["interval_s"].unique().to_list() == [300.0]  # read from the data
    for col in ("answered", "abandoned", "talk_s", "hold_s", "acw_s", "staffed_s"):
        assert iv[col].null_count() == iv.height, col  # absent stays unknown, never 0
    local = iv["interval_start"].dt.strftime("%H:%M")
    assert (local.min(), local.max()) == ("07:00", "18:55")  # the local clock as written
    values = _kpis(out)
    _no_unknown_number(values)
    assert values["contacts_offered"][0] == iv["offered"].sum()
    for kpi in ("aht", "asa", "service_level", "abandon_rate", "contacts_answered"):
        assert values[kpi][0] is None
        assert not values[kpi][1].ok


def test_z_stamped_local_clock_is_warned_about_and_named(tmp_path):
    spec = (DATA / "arrivals_5min_mapping.toml").read_text()
    m = tmp_path / "m.toml"
    m.write_text(spec.replace("assume_local = true", "assume_local = false"))
    r = import_file(DATA / "arrivals_5min.csv", mapping=m).report
    (warning,) = [w for w in r.warnings if w.startswith("time zone")]
    assert "peak at 06:00-07:00" in warning
    assert "assume_local = true" in warning
    assert "it then peaks at 11:00" in warning


def test_night_peak_without_offsets_names_tz(tmp_path):
    lines = ["start,queue,outcome"] + [
        f"2025-03-0{3 + i % 3} 0{2 + i % 3}:{i % 60:02d}:00,A,answered" for i in range(120)
    ]
    f = tmp_path / "night.csv"
    f.write_text("\n".join(lines) + "\n")
    spec = {"table": "contacts", "timezone": "America/Chicago"}
    spec["columns"] = {"arrival_ts": "start", "queue": "queue", "outcome": "outcome"}
    spec["defaults"] = {"team": "t"}
    r = import_file(f, mapping=spec).report
    (warning,) = [w for w in r.warnings if w.startswith("time zone")]
    assert "--tz" in warning
    # a log without waits or handle times: unknown, not invented and not refused
    assert any("wait_s and answer_ts are unknown" in w for w in r.warnings)


def test_interval_length_per_queue_and_only_offered_required(tmp_path):
    rows = ["start,queue,offered"]
    rows += [f"2025-03-03 09:{m:02d},A,{m}" for m in range(0, 60, 5)]
    rows += [f"2025-03-03 09:{m:02d},B,1" for m in range(0, 60, 15)]
    f = tmp_path / "iv.csv"
    f.write_text("\n".join(rows) + "\n")
    spec = {"table": "intervals", "timezone": "UTC"}
    spec["columns"] = {"interval_start": "start", "queue": "queue", "offered": "offered"}
    result = import_file(f, mapping=spec)
    lengths = dict(result.frame.group_by("queue").agg(pl.col("interval_s").first()).rows())
    assert lengths == {"A": 300.0, "B": 900.0}
    assert "interval_s = 300 or 900" in " ".join(result.report.assumed)


# ------------------------------------------------------------------ other tables


def test_surveys_on_their_own_with_a_1_to_10_scale(tmp_path):
    f = tmp_path / "survey.csv"
    f.write_text(
        "Ticket,Answered at,Agent,Score,Recommend\n"
        + "".join(f"c{i},2025-03-03 10:{i:02d},ann,{1 + i % 10},{i % 11}\n" for i in range(40))
        + "c99,2025-03-03 11:00,ann,11,5\n"
    )
    spec = {
        "table": "surveys",
        "timezone": "UTC",
        "scale_max": 10,
        "columns": {"contact_id": "Ticket", "survey_ts": "Answered at", "agent_id": "Agent"}
        | {"csat": "Score", "nps": "Recommend"},
    }
    out = tmp_path / "s"
    result = import_file(f, mapping=spec, out=out)
    r = result.report
    assert (r.read, r.loaded) == (41, 40)
    assert r.quarantined_by_reason == {"csat above its scale": 1}
    assert json.loads((out / "dataset.json").read_text())["csat_scale_max"] == 10
    ds = load(out)
    row = compute(ds, "csat,nps", params={"csat.scale_max": 10}).collect().row(0, named=True)
    assert row["csat"] is not None
    assert row["nps"] is not None


def test_qa_evaluations_and_agent_time_on_their_own(tmp_path):
    qa = tmp_path / "qa.csv"
    qa.write_text(
        "agent,team,when,score\n"
        + "".join(f"a{i},t,2025-03-0{1 + i % 5},{70 + i}\n" for i in range(20))
    )
    spec = {"table": "qa_evaluations", "timezone": "UTC"}
    spec["columns"] = {"agent_id": "agent", "team": "team", "evaluated_ts": "when"}
    spec["columns"]["score"] = "score"
    r = import_file(qa, mapping=spec, out=tmp_path / "d").report
    assert (r.read, r.loaded) == (20, 20)
    at = tmp_path / "at.csv"
    at.write_text(
        "Agent,Team,Interval,Staffed,Talk\n"
        + "".join(f"ann,t,2025-03-03 09:{m:02d},1800,{m * 10}\n" for m in (0, 30))
        + "".join(f"bob,t,2025-03-03 09:{m:02d},900,60\n" for m in (0, 15, 30, 45))
    )
    spec = {"table": "agent_time", "timezone": "UTC"}
    spec["columns"] = {"agent_id": "Agent", "team": "Team", "interval_start": "Interval"}
    spec["columns"] |= {"logged_in_s": "Staffed", "handle_s": "Talk"}
    res = import_file(at, mapping=spec, out=tmp_path / "d")
    lengths = dict(res.frame.group_by("agent_id").agg(pl.col("interval_s").first()).rows())
    assert lengths == {"ann": 1800.0, "bob": 900.0}
    assert sorted(p.name for p in (tmp_path / "d").glob("*.parquet")) == [
        "agent_time.parquet",
        "qa_evaluations.parquet",
    ]


# ----------------------------------------------------------- the quarantine share


def test_too_many_quarantined_rows_refuse_the_import(tmp_path):
    out = tmp_path / "site"
    import_file(DATA / "acd_export.csv", mapping=DATA / "acd_mapping.toml", out=out)

    def files() -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    before = files()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpi",
            "import",
            "--input",
            str(DATA / "acd_export.csv"),
            "--mapping",
            str(DATA / "acd_mapping.toml"),
            "--out",
            str(out),
            "--max-quarantine-share",
            "0.05",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "27.3% of rows quarantined (3 of 11; at most 5% allowed" in line
    assert "top cause: " in line
    assert "refused/contacts.csv" in line
    assert "is unchanged" in line
    after = files()
    assert set(after) - set(before) == {"refused/contacts.csv", "refused/import_report.json"}
    for name, data in before.items():
        assert after[name] == data, name  # the dataset is as it was
    q = pl.read_csv(out / "refused" / "contacts.csv", infer_schema=False)
    assert q.height == 3
    assert json.loads((out / "refused" / "import_report.json").read_text())["quarantined"] == 3
    # a successful import of the table removes the refused quarantine
    import_file(DATA / "acd_export.csv", mapping=DATA / "acd_mapping.toml", out=out)
    assert not (out / "refused" / "contacts.csv").exists()


# --------------------------------------------------------------------- real files


@pytest.mark.shared
def test_real_technion_arrivals_6min_year(shared_datasets, tmp_path):
    src = shared_datasets / "technion_bank_1999_6min" / "arrivals_6min_1999.csv"
    out = tmp_path / "bank6"
    r = import_file(src, mapping=EXAMPLES / "technion_6min_mapping.toml", out=out).report
    assert (r.read, r.loaded, r.quarantined) == (87_600, 87_499, 101)
    assert r.quarantined_by_reason == {
        "unparseable offered": 91,  # the half counts of 1999-05-23
        "interval_start in a daylight-saving gap": 10,  # 1999-04-02 02:00-02:54 never happened
    }
    assert not any(w.startswith("time zone") for w in r.warnings)
    values = _kpis(out)
    _no_unknown_number(values)
    assert values["contacts_offered"][0] == 445_000
    for kpi in ("aht", "asa", "service_level", "contacts_answered"):
        assert values[kpi][0] is None


@pytest.mark.shared
def test_real_technion_call_log_kpis(shared_datasets, tmp_path):
    src = shared_datasets / "technion_bank_1999_02" / "calls_1999_02.tsv"
    out = tmp_path / "bank"
    r = import_file(src, preset="technion", out=out).report
    assert (r.read, r.loaded, r.quarantined) == (33_344, 33_066, 278)
    assert not any(w.startswith("time zone") for w in r.warnings)
    values = _kpis(out)
    _no_unknown_number(values)
    assert values["contacts_offered"][0] == 27_162 + 3_963
    assert values["csat"][0] is None  # no surveys: unknown, not 0
