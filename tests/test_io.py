"""kpi.io and `kpi import`: real shared files with hand-verified figures, crafted broken files,
time zones, mappings, append, CLI errors. Fuzzing is in test_io_fuzz.py, round trips in
test_io_roundtrip.py."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from kpi.cli import main
from kpi.errors import KpiError
from kpi.io import import_file, load_mapping, read_source

DATA = Path(__file__).parent / "data"
TECHNION = "technion_bank_1999_02/calls_1999_02.tsv"
NYC = "nyc_council_casework/casework.parquet"
IL = ZoneInfo("Asia/Jerusalem")
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")

TECH_HEADER = (
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\t"
    "q_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver"
)


def write(path: Path, text: str, newline: str = "\n", encoding: str = "utf-8") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


# ------------------------------------------------------------------------ Technion, real file


@pytest.fixture(scope="module")
def technion(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("technion")
    result = import_file(shared_datasets / TECHNION, preset="technion", out=out)
    return result, out


def test_technion_february_counts(technion):
    # Hand-verified with `awk -F'\t'` on the file: 33,344 records (33,345 lines with the
    # header), outcome PHANTOM on 278, AGENT on 27,162, HANG on 5,904.
    result, out = technion
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (33_344, 33_066, 278)
    assert r.quarantined_by_reason == {"phantom": 278}
    assert r.read == r.loaded + r.quarantined
    outcomes = dict(result.frame["outcome"].value_counts().iter_rows())
    # AGENT -> answered (27,162); HANG with a queue stage 3,963 (3,835 + 97 with a service
    # stage + 31 with q_time 0) -> abandoned_queue; HANG with q_start = q_exit = 0:00:00 and
    # q_time 0 (1,941) -> abandoned_ivr.
    assert outcomes == {"answered": 27_162, "abandoned_queue": 3_963, "abandoned_ivr": 1_941}
    repaired = {x["what"]: x["rows"] for x in r.repaired}
    assert repaired == {
        # 25 negative vru_time values in the file, 2 of them on PHANTOM rows
        "negative vru_time (VRU clock ahead of the queue clock)": 23,
        # AGENT with NO_SERVER and service times: 486 not queued + 5 queued
        "answered (AGENT) call with server NO_SERVER": 491,
        # AGENT with a server but ser_start = ser_exit = 0:00:00, ser_time 0: 29 + 21
        "answered (AGENT) call without service times (ser_start 0:00:00)": 50,
        "hang-up (HANG) with a service stage but no server": 97,
    }
    assert r.inferred["midnight crossings"].startswith("22 calls")
    assert r.inferred["routed straight to an agent (no queue stage)"].startswith("13,066")
    # customer_id 0 on 19,558 rows, 56 of them PHANTOM
    assert r.inferred["unidentified callers (customer_id 0)"].startswith("19,502")
    assert r.inferred["missing days (no calls)"] == "none"
    assert r.inferred["dates covered"] == "1999-02-01 .. 1999-02-28"
    assert result.frame["customer_id"].null_count() == 19_502
    assert result.frame["agent_id"].null_count() == 491 + 3_963 + 1_941
    # written files
    assert (out / "contacts.parquet").exists()
    q = pl.read_csv(out / "quarantine" / "contacts.csv", infer_schema=False)
    assert q.height == 278
    assert set(q["reason"]) == {"phantom"}
    assert set(q["outcome"]) == {"PHANTOM"}
    doc = json.loads((out / "import_report.json").read_text())
    assert doc["read"] == 33_344
    assert doc["quarantined_by_reason"] == {"phantom": 278}
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["timezone"] == "Asia/Jerusalem"


def _row(frame: pl.DataFrame, line: int) -> dict:
    return frame.filter(pl.col("source_row") == line).to_dicts()[0]


def test_technion_rows_by_hand(technion):
    frame = technion[0].frame
    # line 2: AA0101 34536 0 0 PS 990201 7:02:47 7:02:56 9 0:00:00 0:00:00 0 AGENT 7:02:55
    # 7:05:41 166 DORIT -- straight from the VRU to an agent
    r = _row(frame, 2)
    assert r["contact_id"] == "19990201-AA0101-34536"
    assert r["arrival_ts"] == datetime(1999, 2, 1, 7, 2, 47, tzinfo=IL)
    assert r["arrival_ts"].utcoffset().total_seconds() == 7200  # IST, UTC+2 in February
    assert r["queue_ts"] == r["answer_ts"] == datetime(1999, 2, 1, 7, 2, 55, tzinfo=IL)
    assert r["end_ts"] == datetime(1999, 2, 1, 7, 5, 41, tzinfo=IL)
    assert (r["ivr_s"], r["wait_s"], r["talk_s"], r["hold_s"], r["acw_s"]) == (9, 0, 166, 0, 0)
    assert (r["outcome"], r["agent_id"], r["customer_id"]) == ("answered", "DORIT", None)
    assert (r["queue"], r["topic"], r["team"], r["site"], r["priority"]) == (
        "PS",
        "PS",
        "main",
        "bank",
        0,
    )
    # line 3: AGENT with NO_SERVER, 5 s of service -> answered, no agent
    r = _row(frame, 3)
    assert (r["outcome"], r["agent_id"], r["talk_s"]) == ("answered", None, 5)
    # line 5: AA0101 34539 23317894 2 PS 990201 8:09:16 8:09:22 6 8:09:22 8:09:27 5 HANG
    # 0:00:00 0:00:00 0 NO_SERVER -- abandoned in queue after 5 s
    r = _row(frame, 5)
    assert r["outcome"] == "abandoned_queue"
    assert r["queue_ts"] == datetime(1999, 2, 1, 8, 9, 22, tzinfo=IL)
    assert r["end_ts"] == datetime(1999, 2, 1, 8, 9, 27, tzinfo=IL)
    assert (r["wait_s"], r["talk_s"], r["answer_ts"], r["customer_id"], r["priority"]) == (
        5,
        0,
        None,
        "23317894",
        2,
    )


def test_technion_midnight_and_sentinel(technion):
    frame = technion[0].frame
    # 990215, AVNI: vru 23:59:54 -> 23:59:54, q_start 0:00:00 (a real midnight: q_time 27),
    # q_exit 0:00:27, service 0:00:26 -> 0:01:33 (67 s): every later stage on Feb 16
    r = frame.filter(
        (pl.col("agent_id") == "AVNI")
        & (pl.col("arrival_ts") == datetime(1999, 2, 15, 23, 59, 54, tzinfo=IL))
    ).to_dicts()[0]
    assert r["queue_ts"] == datetime(1999, 2, 16, 0, 0, 0, tzinfo=IL)
    assert r["answer_ts"] == datetime(1999, 2, 16, 0, 0, 26, tzinfo=IL)
    assert r["end_ts"] == datetime(1999, 2, 16, 0, 1, 33, tzinfo=IL)
    assert (r["wait_s"], r["talk_s"]) == (27, 67)
    # negative vru_time (AA0102 30456, 990207: vru 9:48:14 -> 9:47:17, -57 s): arrival at the
    # VRU exit, no IVR time
    r = frame.filter(pl.col("contact_id") == "19990207-AA0102-30456").to_dicts()[0]
    assert r["arrival_ts"] == r["queue_ts"] == datetime(1999, 2, 7, 9, 47, 17, tzinfo=IL)
    assert (r["ivr_s"], r["wait_s"], r["talk_s"]) == (0, 174, 77)


def _tech_file(tmp_path: Path, rows: list[str], name: str = "calls_1999_04.tsv") -> Path:
    return write(tmp_path / name, "\n".join([TECH_HEADER, *rows]) + "\n", newline="\r\n")


TECH_ROWS = [
    # 2: answered after 30 s in queue
    "AA0101\t10001\t12345678\t2\tPS\t990401\t10:00:00\t10:00:10\t10\t10:00:10\t10:00:40\t30\tAGENT\t10:00:40\t10:03:00\t140\tDORIT",
    # 3: IVR hang-up at 02:30 on 2 April 1999, inside the spring-forward gap (02:00 -> 03:00)
    "AA0101\t10002\t0\t0\tPS\t990402\t2:30:00\t2:30:05\t5\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
    # 4: 16 fields (server missing)
    "AA0101\t10003\t0\t0\tPS\t990401\t10:05:00\t10:05:05\t5\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0",
    # 5: letter O in a time
    "AA0101\t10004\t0\t0\tPS\t990401\t10:6O:00\t10:06:05\t5\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
    # 6: 31 April
    "AA0101\t10005\t0\t0\tPS\t990431\t10:07:00\t10:07:05\t5\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
    # 7: an undocumented type code, kept
    "AA0102\t10006\t0\t0\tXX\t990401\t11:00:00\t11:00:08\t8\t0:00:00\t0:00:00\t0\tAGENT\t11:00:08\t11:01:00\t52\tTOVA",
    # 8: PHANTOM
    "AA0102\t10007\t0\t0\tPS\t990401\t11:05:00\t11:05:05\t5\t11:05:05\t11:06:00\t55\tPHANTOM\t11:05:50\t11:06:30\t40\tNO_SERVER",
    # 9: negative q_time
    "AA0102\t10008\t0\t0\tPS\t990401\t11:10:00\t11:10:05\t5\t11:10:05\t11:10:00\t-5\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
    # 10: ser_time 99 for a 60 s service
    "AA0102\t10009\t0\t0\tPS\t990401\t11:15:00\t11:15:05\t5\t0:00:00\t0:00:00\t0\tAGENT\t11:15:05\t11:16:05\t99\tTOVA",
    # 11: AGENT, NO_SERVER, no service stage
    "AA0102\t10010\t0\t0\tPS\t990401\t11:20:00\t11:20:05\t5\t0:00:00\t0:00:00\t0\tAGENT\t0:00:00\t0:00:00\t0\tNO_SERVER",
    # 12: the same call as line 2 again
    "AA0101\t10001\t12345678\t2\tPS\t990401\t10:00:00\t10:00:10\t10\t10:00:10\t10:00:40\t30\tAGENT\t10:00:40\t10:03:00\t140\tDORIT",
    # 13: an unknown outcome word
    "AA0102\t10011\t0\t0\tPS\t990401\t11:25:00\t11:25:05\t5\t0:00:00\t0:00:00\t0\tBUSY\t0:00:00\t0:00:00\t0\tNO_SERVER",
    "",  # 14: a blank line: not a record
    # 15: across midnight; the queue exit, answer and end fall on 2 April
    "AA0103\t10012\t555\t1\tNE\t990401\t23:59:50\t23:59:58\t8\t23:59:58\t0:00:30\t32\tAGENT\t0:00:30\t0:02:00\t90\tMICHAL",
    # 16: a trailing tab (an empty 18th field), accepted; 4 April: 3 April has no calls
    "AA0103\t10013\t0\t0\tIN\t990404\t9:00:00\t9:00:04\t4\t9:00:04\t9:00:10\t6\tAGENT\t9:00:10\t9:02:10\t120\tNAAMA\t",
    # 17: 1:30 on 3 September 1999, inside the repeated hour (clocks back 02:00 -> 01:00)
    "AA0103\t10014\t0\t0\tPS\t990903\t1:30:00\t1:30:06\t6\t1:30:06\t1:30:20\t14\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
]


def test_technion_crafted_defects(tmp_path):
    src = _tech_file(tmp_path, TECH_ROWS)
    # a crafted file of defects: most rows are set aside, so the 5% refusal is lifted
    result = import_file(src, preset="technion", out=tmp_path / "out", max_quarantine_share=1)
    r = result.report
    assert r.read == 15  # 16 data lines, one blank
    assert r.loaded == 6  # lines 2, 3, 7, 15, 16, 17
    assert r.quarantined_by_reason == {
        "wrong field count": 1,
        "unreadable vru_entry": 1,
        "unreadable date": 1,
        "phantom": 1,
        "negative q_time": 1,
        "inconsistent ser_time": 1,
        "answered without server or service": 1,
        "duplicate contact_id": 1,
        "unknown outcome value": 1,
    }
    examples = {k: [e["row"] for e in v] for k, v in r.quarantine_examples.items()}
    assert examples["wrong field count"] == [4]
    assert examples["unreadable vru_entry"] == [5]
    assert examples["unreadable date"] == [6]
    assert examples["duplicate contact_id"] == [12]
    assert examples["unknown outcome value"] == [13]
    assert sorted(result.frame["source_row"]) == [2, 3, 7, 15, 16, 17]
    # the spring-forward gap: 02:30 read with the offset before the change (UTC+2), i.e.
    # 00:30 UTC, which is 03:30 IDT
    gap = _row(result.frame, 3)
    assert gap["arrival_ts"] == datetime(1999, 4, 2, 3, 30, tzinfo=IL)
    assert gap["arrival_ts"].utcoffset().total_seconds() == 3 * 3600
    assert gap["outcome"] == "abandoned_ivr"
    assert gap["queue_ts"] is None
    # the repeated hour: 01:30 read as the first occurrence (summer time, UTC+3)
    fold = _row(result.frame, 17)
    assert fold["arrival_ts"].astimezone(ZoneInfo("UTC")) == datetime(
        1999, 9, 2, 22, 30, tzinfo=ZoneInfo("UTC")
    )
    # exits are the localised start plus the recorded seconds: 14 s in queue, whatever the fold
    assert (fold["end_ts"] - fold["queue_ts"]).total_seconds() == 14
    dst = r.inferred["daylight-saving changes"]
    assert dst.startswith("1 call(s) with times in the spring-forward gap")
    assert "; 1 call(s) with times in the repeated hour" in dst
    cross = _row(result.frame, 15)
    assert cross["answer_ts"] == datetime(1999, 4, 2, 0, 0, 30, tzinfo=IL)
    assert cross["end_ts"] == datetime(1999, 4, 2, 0, 2, 0, tzinfo=IL)
    assert r.inferred["midnight crossings"].startswith("1 calls")
    # April has calls on the 1st, 2nd and 4th only; the September call is a stray date
    missing = r.inferred["missing days (no calls)"]
    assert missing[:3] == ["1999-04-03", "1999-04-05", "1999-04-06"]
    assert len(missing) == 27
    assert any("XX (1)" in w for w in r.warnings)
    assert any("outside 1999-04" in w for w in r.warnings)
    assert _row(result.frame, 16)["team"] == "internet"
    q = pl.read_csv(tmp_path / "out" / "quarantine" / "contacts.csv", infer_schema=False)
    assert q["source_row"].to_list() == ["4", "5", "6", "8", "9", "10", "11", "12", "13"]
    assert q.filter(pl.col("source_row") == "4")["raw"][0].startswith("AA0101\t10003")


def test_technion_not_a_technion_file(tmp_path):
    src = write(tmp_path / "x.csv", "a,b\n1,2\n")
    with pytest.raises(KpiError, match="not a Technion call log: none of its 17 fields"):
        import_file(src, preset="technion")
    src = _tech_file(tmp_path, TECH_ROWS[:1])
    src.write_text(src.read_text().replace("\tserver", "\tagent"))
    with pytest.raises(KpiError, match="missing field\\(s\\) 'server'"):
        import_file(src, preset="technion")


# ------------------------------------------------------------------------- tickets, real file


@pytest.fixture(scope="module")
def nyc(shared_datasets: Path):
    return import_file(shared_datasets / NYC, preset="tickets")


def test_tickets_nyc_counts(nyc):
    # SOURCE.md: 341,299 cases; 105 duplicated unique_key values (each twice, same dates and
    # topic, one copy with borough/council_dist null); 14,142 open; complaint_type null 7,431.
    r = nyc.report
    assert (r.read, r.loaded, r.quarantined) == (341_299, 341_194, 105)
    assert r.quarantined_by_reason == {"duplicate ticket_id": 105}
    # 2 of the 7,431 rows without complaint_type are duplicates: 7,429 loaded rows repaired
    assert {x["what"]: x["rows"] for x in r.repaired} == {"null topic": 7_429}
    assert r.inferred["open tickets (no solve/close time, kept)"] == 14_139
    f = nyc.frame
    assert f["ticket_id"].n_unique() == f.height
    # 3 of the 105 duplicated pairs are open: 14,142 - 3 open tickets stay after dedup
    assert f.filter(pl.col("status") == "open").height == 14_139
    assert f["solved_ts"].null_count() == 14_139
    assert f.filter(pl.col("topic") == "unknown").height == 7_429
    assert f["team"].n_unique() == 51
    assert r.timezone == "America/New_York"


def test_tickets_nyc_rows_by_hand(nyc):
    f = nyc.frame
    # NYCC01506746 appears on two rows; the copy with borough 'Manhattan' is kept
    r = f.filter(pl.col("ticket_id") == "NYCC01506746").to_dicts()
    assert len(r) == 1
    assert r[0]["borough"] == "Manhattan"
    # dates become midnight of the site zone: EDT (UTC-4) in July
    assert r[0]["created_ts"] == datetime(2015, 7, 6, tzinfo=NY)
    assert r[0]["created_ts"].utcoffset().total_seconds() == -4 * 3600
    assert r[0]["solved_ts"] == r[0]["closed_ts"] == datetime(2015, 7, 6, tzinfo=NY)
    assert r[0]["status"] == "closed"
    assert r[0]["team"] == "NYCC01"
    first = f.filter(pl.col("ticket_id") == "NYCC34519748").to_dicts()[0]
    assert (first["status"], first["solved_ts"], first["topic"]) == (
        "open",
        None,
        "Governmental Operations",
    )
    q = nyc.quarantine
    dup = q.filter(pl.col("unique_key") == "NYCC01506746")
    assert dup["borough"][0] is None
    assert "more complete" in dup["detail"][0]


# ------------------------------------------------------------------------------------ readers


@pytest.mark.parametrize(
    ("delim", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")]
)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_reader_detects_delimiter_and_line_endings(tmp_path, delim, name, newline):
    text = delim.join(["id", "wait", "note"]) + "\n"
    text += delim.join(["1", "12", "a b"]) + "\n\n" + delim.join(["2", "7", ""]) + "\n"
    src = read_source(write(tmp_path / "f.txt", text, newline))
    assert src.info["delimiter_name"] == name
    assert src.info["line_ending"] == {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}[newline]
    assert src.frame.rows() == [("1", "12", "a b", 2), ("2", "7", None, 4)]
    assert src.info["blank_lines_skipped"] == 1


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("cp1252", "cp1252")],
)
def test_reader_detects_encoding(tmp_path, encoding, expected):
    src = read_source(write(tmp_path / "f.csv", "id,name\n1,José\n2,Zoë\n", encoding=encoding))
    assert src.info["encoding"] == expected
    assert src.frame["name"].to_list() == ["José", "Zoë"]


def test_reader_bad_bytes_quarantine_their_line(tmp_path):
    data = "id,name\n1,José\n2,Zo".encode() + b"\xff\xfe" + b"\n3,Ann\n"
    src = read_source(write_bytes(tmp_path / "f.csv", data))
    assert src.info["encoding"] == "utf-8"
    assert src.frame["id"].to_list() == ["1", "3"]
    assert src.malformed.select("__row", "reason").rows() == [(3, "undecodable bytes")]


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_reader_quotes(tmp_path):
    text = 'id,note,wait\n1,"multi\nline, with comma",5\n2,"say ""hi""",6\n3,"stray,7\n4,ok,8\n'
    src = read_source(write(tmp_path / "f.csv", text))
    assert src.frame.rows() == [
        ("1", "multi\nline, with comma", "5", 2),
        ("2", 'say "hi"', "6", 4),
        ("4", "ok", "8", 6),
    ]
    assert src.malformed.select("__row", "reason").rows() == [(5, "wrong field count")]
    assert "unbalanced quote" in src.malformed["detail"][0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n  \n", "the file is empty"),
        (b"id,wait\n", "has a header \\(id, wait\\) but no rows"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "does not look like a text table"),
        (b"\x1f\x8b\x08\x00rest", "gzip-compressed"),
        (b"PK\x03\x04rest", "ZIP archive"),
        (b"%PDF-1.4 ...", "PDF document"),
    ],
)
def test_reader_file_level_errors(tmp_path, content, message):
    with pytest.raises(KpiError, match=message):
        read_source(write_bytes(tmp_path / "f.csv", content))


def test_reader_wrong_delimiter_and_options(tmp_path):
    f = write(tmp_path / "f.csv", "id;wait;talk\n1;2;3\n")
    with pytest.raises(KpiError, match="semicolon splits it into 3 columns; pass --delimiter"):
        read_source(f, delimiter=",")
    assert read_source(f, delimiter=";").columns == ["id", "wait", "talk"]
    with pytest.raises(KpiError, match="delimiter must be one character"):
        read_source(f, delimiter=";;")
    with pytest.raises(KpiError, match="unknown encoding 'utf8x'; did you mean utf-8"):
        read_source(f, encoding="utf8x")
    with pytest.raises(KpiError, match="does not exist"):
        read_source(tmp_path / "nope.csv")
    with pytest.raises(KpiError, match="not a Parquet file"):
        read_source(write(tmp_path / "g.parquet", "id\n1\n"))
    with pytest.raises(KpiError, match="not an Excel workbook"):
        read_source(write(tmp_path / "g.xlsx", "id\n1\n"))
    title = write(tmp_path / "t.csv", "Call report March\n\nid,wait\n1,2\n")
    src = read_source(title, skip_rows=1)
    assert src.columns == ["id", "wait"]
    assert src.frame["__row"].to_list() == [4]


def test_reader_corrupt_parquet_and_excel(tmp_path):
    good = tmp_path / "good.parquet"
    pl.DataFrame({"a": list(range(1000))}).write_parquet(good)
    data = bytearray(good.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 40] = b"\x00" * 40
    data[-12:-8] = b"\xff\xff\xff\x7f"
    with pytest.raises(KpiError, match="cannot read as Parquet"):
        read_source(write_bytes(tmp_path / "bad.parquet", bytes(data)))
    with pytest.raises(KpiError, match="cannot read as an Excel workbook"):
        read_source(write_bytes(tmp_path / "bad.xlsx", b"PK\x03\x04" + b"\x00" * 100))


def test_reader_excel_sheets(tmp_path):
    import xlsxwriter

    path = tmp_path / "book.xlsx"
    with xlsxwriter.Workbook(path) as wb:
        wb.add_worksheet("Notes").write(0, 0, "nothing here")
        ws = wb.add_worksheet("Calls")
        for i, row in enumerate([["id", "wait"], ["a", 12], [None, None], ["b", 7.5]]):
            for j, v in enumerate(row):
                if v is not None:
                    ws.write(i, j, v)
    src = read_source(path, sheet="Calls")
    assert src.frame.rows() == [("a", "12", 2), ("b", "7.5", 4)]
    assert src.info["blank_rows_skipped"] == 1
    with pytest.raises(KpiError, match="no sheet 'Cals' \\(closest: Calls\\)"):
        read_source(path, sheet="Cals")
    with pytest.raises(KpiError, match="no sheet number 5"):
        read_source(path, sheet=5)


def test_every_written_file_is_shared_0644_and_no_temp_file_stays(tmp_path):
    out = tmp_path / "site"
    import_file(DATA / "acd_export.csv", mapping=DATA / "acd_mapping.toml", out=out)
    written = sorted(p for p in out.rglob("*") if p.is_file())
    names = [p.relative_to(out).as_posix() for p in written]
    assert names == [
        "contacts.parquet",
        "dataset.json",
        "import_report.json",
        "quarantine/contacts.csv",
    ]
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o644"}


# ----------------------------------------------------------------------------------- mappings


def test_worked_example_from_the_docs(tmp_path):
    result = import_file(
        DATA / "acd_export.csv", mapping=DATA / "acd_mapping.toml", out=tmp_path / "site"
    )
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (11, 8, 3)
    assert r.quarantined_by_reason == {
        "unparseable wait_s": 1,
        "unknown outcome value": 1,
        "duplicate contact_id": 1,
    }
    assert [e["row"] for e in r.quarantine_examples["unparseable wait_s"]] == [8]
    assert r.quarantine_examples["unparseable wait_s"][0]["detail"] == "'Wait' = 'abc'"
    f = result.frame
    assert dict(f["outcome"].value_counts().iter_rows()) == {
        "answered": 5,
        "abandoned_queue": 1,
        "abandoned_ivr": 1,
        "flowout": 1,
    }
    c3 = f.filter(pl.col("contact_id") == "C-1003").to_dicts()[0]
    # 08:02:05 + 42 s wait -> answered 08:02:47; + 5:10 talk + 0:20 hold -> ends 08:08:17
    assert c3["answer_ts"] == datetime(2025, 3, 28, 8, 2, 47, tzinfo=LONDON)
    assert c3["end_ts"] == datetime(2025, 3, 28, 8, 8, 17, tzinfo=LONDON)
    assert (c3["wait_s"], c3["talk_s"], c3["hold_s"], c3["acw_s"]) == (42, 310, 20, 60)
    assert (c3["transferred"], c3["team"], c3["site"], c3["channel"]) == (
        True,
        "front office",
        "Leeds",
        "voice",
    )
    # 01:30 on 30 March 2025 does not exist in London: read as 01:30 GMT = 02:30 BST
    c9 = f.filter(pl.col("contact_id") == "C-1009").to_dicts()[0]
    assert c9["arrival_ts"] == datetime(2025, 3, 30, 2, 30, tzinfo=LONDON)
    assert "1 non-existent" in r.inferred["daylight-saving changes"]["arrival_ts"]
    ivr = f.filter(pl.col("contact_id") == "C-1004").to_dicts()[0]
    assert (ivr["queue_ts"], ivr["wait_s"], ivr["talk_s"]) == (None, None, 0)
    docs = (Path(__file__).parents[1] / "docs" / "importing.md").read_text()
    # the guide shows these very files
    for line in (DATA / "acd_mapping.toml").read_text().splitlines():
        assert line in docs, line
    for line in (DATA / "acd_export.csv").read_text().splitlines():
        assert line in docs, line
    summary = (
        r.summary().replace(str(tmp_path / "site"), "data/site").replace(str(DATA), "tests/data")
    )
    for line in summary.splitlines():  # the summary shown in the guide is this import's
        assert line in docs, line


def _mini(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "calls.csv", text)


MINI = "id,start,skill,result,wait,talk\n1,2025-01-06 09:00:00,A,answered,12,100\n"


def test_missing_required_column_names_closest_and_key(tmp_path):
    f = _mini(tmp_path, "id,start_time,skil,result,wait,talk\n1,2025-01-06 09:00,A,answered,1,2\n")
    spec = {"table": "contacts", "timezone": "UTC", "columns": {"arrival_ts": "start_time"}}
    with pytest.raises(KpiError) as err:
        import_file(f, mapping=spec)
    msg = str(err.value)
    assert "missing required column 'queue'" in msg
    assert "closest columns in the file: 'skil'" in msg
    assert 'set columns.queue = "<source column>"' in msg
    assert "defaults.queue" in msg
    spec["columns"]["queue"] = "SKIL "  # matched ignoring case and spaces
    spec["columns"]["wait_s"] = "wiat"
    with pytest.raises(
        KpiError,
        match=r"column 'wiat' \(set by columns.wait_s\) is not in the file; closest: 'wait'",
    ):
        import_file(f, mapping=spec)


def test_preset_missing_column_error(tmp_path):
    f = _mini(tmp_path, "ticket,open_time\n1,2024-01-01\n")
    with pytest.raises(KpiError) as err:
        import_file(f, preset="tickets", tz="UTC")
    msg = str(err.value)
    assert "missing required column 'created_ts'" in msg
    assert "closest columns in the file: 'open_time'" in msg
    assert "the tickets preset looks for a column named created_ts, opendate" in msg
    assert "--mapping FILE.toml setting columns.created_ts" in msg


def test_unparseable_values_name_their_rows(tmp_path):
    f = _mini(
        tmp_path,
        "id,start,skill,result,wait,talk\n"
        "1,2025-01-06 09:00:00,A,answered,12,100\n"
        "2,2025-01-06 09:01:00,A,answered,x1,100\n"
        "3,2025-01-06 25:01:00,A,answered,3,100\n"
        "4,2025-01-06 09:02:00,A,answered,-3,100\n"
        "5,2025-01-06 09:03:00,A,answered,3,100,extra\n",
    )
    spec = {
        "table": "contacts",
        "timezone": "UTC",
        "columns": {
            "contact_id": "id",
            "arrival_ts": "start",
            "queue": "skill",
            "outcome": "result",
            "wait_s": "wait",
            "talk_s": "talk",
        },
    }
    r = import_file(f, mapping=spec, max_quarantine_share=1).report
    assert (r.read, r.loaded) == (5, 1)
    rows = {k: [e["row"] for e in v] for k, v in r.quarantine_examples.items()}
    assert rows == {
        "unparseable wait_s": [3],
        "unparseable arrival_ts": [4],
        "negative wait_s": [5],
        "wrong field count": [6],
    }
    f2 = _mini(tmp_path, "id,start,skill,result,wait,talk\n1,yesterday,A,answered,1,1\n")
    with pytest.raises(
        KpiError, match=r"no known date/time format fits its values \(e.g. 'yesterday'\)"
    ):
        import_file(f2, mapping=spec)
    f3 = _mini(tmp_path, "id,start,skill,result,wait,talk\n1,2025-01-06 09:00,A,answered,x,1\n")
    with pytest.raises(
        KpiError,
        match=r"no row could be loaded from 1 read: unparseable wait_s \(1 rows, e.g. row 2: 'wait' = 'x'\)",
    ):
        import_file(f3, mapping=spec)


def test_ambiguous_day_month_order_is_an_error(tmp_path):
    f = _mini(tmp_path, "start,q\n03/04/2025 10:00,A\n05/04/2025 10:00,A\n")
    spec = {
        "table": "contacts",
        "timezone": "UTC",
        "columns": {"arrival_ts": "start", "queue": "q", "wait_s": "q"},
    }
    with pytest.raises(
        KpiError, match=r"read both as day-first and month-first; set formats.arrival_ts"
    ):
        import_file(f, mapping=spec)
    f = _mini(tmp_path, "start,q\n03/04/2025 10:00,A\n25/04/2025 10:00,A\n")
    ok = load_mapping(spec)
    with pytest.raises(KpiError, match="no outcome column"):  # the day order is clear now
        import_file(f, mapping=ok)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"table": "contacts", "colums": {}}, "unknown key 'colums' \\(did you mean columns"),
        ({"columns": {}}, "missing `table"),
        (
            {"table": "contacts", "columns": {"wait": "W"}},
            "'wait' is not a column of contacts \\(did you mean wait_s",
        ),
        (
            {"table": "contacts", "formats": {"wait_s": "mm:ss"}},
            "not a duration format; valid: auto",
        ),
        ({"table": "contacts", "formats": {"arrival_ts": "DD/MM/YYYY"}}, "give a strftime format"),
        (
            {"table": "contacts", "defaults": {"hold_s": "0"}},
            "defaults.hold_s = '0': expected a number",
        ),
        (
            {"table": "contacts", "defaults": {"outcome": "done"}},
            "defaults.outcome = 'done'; valid: answered",
        ),
        ({"table": "contacts", "values": {"outcome": {"A": "ok"}}}, "values.outcome maps to 'ok'"),
        ({"table": "contacts", "timezone": "Europe/Londn"}, "did you mean Europe/London"),
        ({"table": "tickets", "interval_threshold_s": 20}, 'applies to table = "intervals" only'),
        ({"table": "intervals", "interval_threshold_s": -1}, "must be a number of seconds >= 0"),
        ({"table": "contacts", "read": {"delim": ";"}}, "unknown key read.delim"),
        ({"table": "contacts", "extra": {"source_row": "x"}}, "'source_row' is reserved"),
        ({"table": "contacts", "defaults": {"acw_s": 1e300}}, "seconds must be at most 1e\\+09"),
        ({"table": "contacts", "extra": {"queue": "x"}}, "'queue' is a canonical column"),
    ],
)
def test_mapping_errors(spec, message):
    with pytest.raises(KpiError, match=message):
        load_mapping(spec)


def test_extra_columns_and_odd_headers(tmp_path):
    f = _mini(tmp_path, "__row,start,q,w,Prio\n7,2025-01-06 09:00,A,3,high\n")
    spec = {
        "table": "contacts",
        "timezone": "UTC",
        "columns": {"arrival_ts": "start", "queue": "q", "wait_s": "w"},
        "defaults": {"outcome": "abandoned_queue", "talk_s": 0},
        "extra": {"priority": "Prio"},
    }
    frame = import_file(f, mapping=spec).frame
    assert frame["priority"].to_list() == ["high"]
    assert frame["source_row"].to_list() == [2]
    spec["keep_unmapped"] = True
    frame = import_file(f, mapping=spec).frame
    assert frame["row_2"].to_list() == ["7"]  # the file's own "__row" column, renamed


def test_mapping_file_errors(tmp_path):
    bad = write(tmp_path / "m.toml", 'table = "contacts"\n[columns\nqueue = "q"\n')
    with pytest.raises(KpiError, match=r"m.toml: not valid TOML"):
        load_mapping(bad)
    with pytest.raises(KpiError, match=r"mapping file .* does not exist"):
        load_mapping(tmp_path / "none.toml")


def test_dst_rules_and_counts(tmp_path):
    # London 2024: 31 March 01:00 -> 02:00; 27 October 02:00 -> 01:00
    f = _mini(
        tmp_path,
        "start,q,w\n2024-03-31 00:59:59,A,1\n2024-03-31 01:30:00,A,1\n2024-03-31 02:00:00,A,1\n"
        "2024-10-27 01:30:00,A,1\n2024-10-27 02:30:00,A,1\n",
    )
    spec = {
        "table": "contacts",
        "timezone": "Europe/London",
        "columns": {"arrival_ts": "start", "queue": "q", "wait_s": "w"},
        "defaults": {"outcome": "abandoned_queue", "talk_s": 0},
    }
    result = import_file(f, mapping=spec)
    got = [t.astimezone(ZoneInfo("UTC")).replace(tzinfo=None) for t in result.frame["arrival_ts"]]
    assert got == [
        datetime(2024, 3, 31, 0, 59, 59),
        datetime(2024, 3, 31, 1, 30),  # the gap: offset before the change (GMT = UTC)
        datetime(2024, 3, 31, 1, 0),
        datetime(2024, 10, 27, 0, 30),  # ambiguous: first occurrence (BST)
        datetime(2024, 10, 27, 2, 30),
    ]
    dst = result.report.inferred["daylight-saving changes"]["arrival_ts"]
    assert dst.startswith("1 non-existent")
    assert "1 ambiguous" in dst


def test_time_formats(tmp_path):
    f = _mini(
        tmp_path,
        "start,q,w,t\n2025-01-06T09:00:00Z,A,00:01:05,2:23\n2025-01-06T10:00:00+01:00,A,65,143\n",
    )
    spec = {
        "table": "contacts",
        "timezone": "America/New_York",
        "columns": {"arrival_ts": "start", "queue": "q", "wait_s": "w", "talk_s": "t"},
        "defaults": {"outcome": "answered"},
    }
    f_ = import_file(f, mapping=spec).frame
    assert f_["arrival_ts"].to_list() == [
        datetime(2025, 1, 6, 4, 0, tzinfo=NY),
        datetime(2025, 1, 6, 4, 0, tzinfo=NY),
    ]
    assert f_["wait_s"].to_list() == [65, 65]
    assert f_["talk_s"].to_list() == [143, 143]
    spec["formats"] = {"talk_s": "h:mm"}
    assert import_file(f, mapping=spec).frame["talk_s"].to_list() == [8580, 143]
    spec["formats"] = {"talk_s": "minutes", "arrival_ts": ["%Y-%m-%dT%H:%M:%S%#z"]}
    assert import_file(f, mapping=spec).frame["talk_s"].to_list() == [143, 8580]


def test_absurd_numbers_are_unparseable(tmp_path):
    f = _mini(
        tmp_path,
        "start,q,w,t\n1700000000,A,1e3,0:01:00\n99999999999999,A,5,1e10:03:20\n"
        "1700000100,A,99999999999,30\n1700000200,A,inf,30\n1700000300,A,7,20\n",
    )
    spec = {
        "table": "contacts",
        "timezone": "UTC",
        "columns": {"arrival_ts": "start", "queue": "q", "wait_s": "w", "talk_s": "t"},
        "formats": {"arrival_ts": "epoch_s"},
        "defaults": {"outcome": "answered"},
    }
    r = import_file(f, mapping=spec, max_quarantine_share=1).report
    assert r.loaded == 1
    rows = {k: [e["row"] for e in v] for k, v in r.quarantine_examples.items()}
    assert rows == {"unparseable wait_s": [2, 4, 5], "unparseable arrival_ts": [3]}


def test_outcome_inferred_and_ids_generated(tmp_path):
    f = _mini(
        tmp_path,
        "start,q,answered_at,end\n2025-01-06 09:00,A,2025-01-06 09:00:20,2025-01-06 09:03:00\n2025-01-06 09:01,A,,2025-01-06 09:02:00\n",
    )
    spec = {
        "table": "contacts",
        "timezone": "UTC",
        "columns": {
            "arrival_ts": "start",
            "queue": "q",
            "answer_ts": "answered_at",
            "end_ts": "end",
        },
    }
    result = import_file(f, mapping=spec)
    rows = result.frame.select("contact_id", "outcome", "wait_s", "talk_s").rows()
    assert rows == [
        ("calls-2", "answered", 20.0, 160.0),
        ("calls-3", "abandoned_queue", 60.0, 0.0),
    ]
    assumed = " | ".join(result.report.assumed)
    assert "outcome = answered when answer_ts present" in assumed
    assert "contact_id = '<file name>-<row>'" in assumed


# ---------------------------------------------------------------------------- interval preset


INTERVALS = (
    "Date,Interval,Queue,Offered,Answered,Abandoned,Answered within 20s,Short Abandons 5s,"
    "Talk Time,Hold Time,ACW,Total Answer Time,Staffed Time\n"
    "2025-01-06,09:00,Sales,10,8,2,6,1,0:40:00,0:02:00,0:08:00,0:03:10,1:00:00\n"
    "2025-01-06,09:30,Sales,12,12,0,12,0,0:45:30,0:00:00,0:09:00,0:01:00,1:00:00\n"
    "2025-01-06,09:00,Billing,4,3,1,2,0,0:12:00,0:00:00,0:03:00,0:01:30,0:30:00\n"
    "2025-01-06,09:30,Billing,3,4,0,4,0,0:10:00,0:00:00,0:02:00,0:00:40,0:30:00\n"
)


def test_interval_preset(tmp_path):
    f = write(tmp_path / "report.csv", INTERVALS)
    result = import_file(
        f, preset="interval", tz="Europe/Paris", out=tmp_path / "iv", max_quarantine_share=0.3
    )
    r = result.report
    assert (r.read, r.loaded) == (4, 3)
    assert r.quarantined_by_reason == {"answered exceeds offered": 1}
    assert r.inferred["service-level threshold"].startswith("20 s")
    assert r.inferred["short-abandon threshold"].startswith("5 s")
    assert "interval_s = 1800 (the most common spacing of interval starts)" in r.assumed
    s = result.frame.filter((pl.col("queue") == "Sales") & (pl.col("offered") == 10)).to_dicts()[0]
    assert s["interval_start"] == datetime(2025, 1, 6, 9, tzinfo=ZoneInfo("Europe/Paris"))
    assert (s["talk_s"], s["hold_s"], s["acw_s"], s["wait_answered_s"], s["staffed_s"]) == (
        2400,
        120,
        480,
        190,
        3600,
    )
    assert (s["answered_within_threshold"], s["abandoned_short"]) == (6, 1)
    meta = json.loads((tmp_path / "iv" / "dataset.json").read_text())
    assert (meta["interval_threshold_s"], meta["interval_short_abandon_s"]) == (20, 5)
    with pytest.raises(
        KpiError, match="counts answers within 20 s but the threshold given is 30 s"
    ):
        import_file(f, preset="interval", tz="UTC", threshold_s=30)


def test_interval_preset_needs_thresholds_and_length(tmp_path):
    f = write(
        tmp_path / "r.csv",
        "start,queue,offered,answered,abandoned,in_sl\n2025-01-06 09:00,A,3,2,1,2\n",
    )
    spec = {
        "table": "intervals",
        "timezone": "UTC",
        "columns": {
            "interval_start": "start",
            "queue": "queue",
            "offered": "offered",
            "answered": "answered",
            "abandoned": "abandoned",
            "answered_within_threshold": "in_sl",
        },
    }
    with pytest.raises(
        KpiError, match=r"the threshold is unknown|its value is unknown: pass --threshold-s"
    ):
        import_file(f, mapping=spec)
    with pytest.raises(
        KpiError, match=r"missing required column 'interval_s'.*one interval per queue"
    ):
        import_file(f, mapping=spec, threshold_s=15)
    result = import_file(f, mapping=spec, threshold_s=15, interval_min=15)
    assert result.frame["interval_s"].to_list() == [900.0]
    assert result.meta == {"interval_threshold_s": 15}


# --------------------------------------------------------------------------------- append, CLI


def test_append_replaces_same_keys_and_checks_zone(tmp_path):
    out = tmp_path / "bank"
    a = _tech_file(tmp_path, TECH_ROWS[:2], "a.tsv")
    b = _tech_file(tmp_path, [TECH_ROWS[0].replace("DORIT", "TOVA"), TECH_ROWS[5]], "b.tsv")
    import_file(a, preset="technion", out=out)
    res = import_file(b, preset="technion", out=out, append=True)
    assert res.report.output["replaced"] == 1
    table = pl.read_parquet(out / "contacts.parquet")
    assert table.height == 3
    assert table.filter(pl.col("contact_id") == "19990401-AA0101-10001")["agent_id"].to_list() == [
        "TOVA"
    ]
    assert sorted(set(table["source_file"])) == ["a.tsv", "b.tsv"]
    doc = json.loads((out / "import_report.json").read_text())
    assert doc["input"].endswith("b.tsv")
    assert doc["earlier_imports"][0]["input"].endswith("a.tsv")
    meta = json.loads((out / "dataset.json").read_text())
    assert [s["file"][-5:] for s in meta["sources"]] == ["a.tsv", "b.tsv"]
    with pytest.raises(KpiError, match="holds a dataset in time zone Asia/Jerusalem"):
        import_file(b, preset="technion", out=out, append=True, tz="UTC")
    # a ticket log can join the dataset in the same zone
    t = write(tmp_path / "t.csv", "id,created,team,topic\n1,1999-04-01,x,y\n")
    import_file(t, preset="tickets", out=out, append=True, tz="Asia/Jerusalem")
    assert {p.name for p in out.glob("*.parquet")} == {"contacts.parquet", "tickets.parquet"}


def test_cli_success_and_one_line_errors(tmp_path, capsys):
    f = _tech_file(tmp_path, TECH_ROWS)
    assert (
        main(
            [
                "import",
                *("--input", str(f), "--preset", "technion", "--out", str(tmp_path / "o")),
                *("--max-quarantine-share", "1"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "read               15" in out
    assert "quarantined         9" in out
    assert "wrong field count" in out
    assert "(row 4)" in out
    for argv, message in [
        (["--input", str(tmp_path / "none.csv"), "--preset", "technion"], "does not exist"),
        (["--input", str(f), "--preset", "tickets"], "missing required column 'ticket_id'"),
        (["--input", str(f), "--preset", "technion", "--tz", "Mars/Base"], "unknown time zone"),
        (["--input", str(f), "--mapping", str(tmp_path / "m.toml")], "mapping file"),
        (
            ["--input", str(f), "--preset", "technion", "--sheet", "x", "--delimiter", ",,"],
            "one character",
        ),
    ]:
        code = main(["import", *argv, "--out", str(tmp_path / "e")])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1
        assert err.startswith("kpi import: error: ")
        assert message in err
    assert (
        main(
            [
                "import",
                "--input",
                str(f),
                "--preset",
                "technion",
                "--out",
                str(tmp_path / "q"),
                "--quiet",
                "--max-quarantine-share",
                "1",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith(f"{f}: read 15, loaded 6, quarantined 9")
