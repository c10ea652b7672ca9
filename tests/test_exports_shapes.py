"""Export shapes nobody here wrote (issue 14): each file is made in the test the way a vendor
or a spreadsheet writes it, imported with the mapping a user would write from
docs/importing.md, and checked against values computed by hand.

- a European CSV: semicolons, Windows-1252, decimal commas, ``1.234,50`` amounts,
  ``dd.mm.yyyy`` dates, a title above the header and a ``Summe`` row under the data;
- an Excel report with a title above the header and a ``Total`` row at the bottom;
- a 15-minute interval report with ``08:00-08:15`` ranges beside a date column, a BOM, CRLF
  and trailing empty columns;
- numbers that read two ways (``1,234``) are an error asking for ``read.decimal``.

Every import keeps ``read = loaded + quarantined``; totals and title rows are not records.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from kpi.compute import compute
from kpi.data import load
from kpi.errors import KpiError
from kpi.io import import_file


def _contacts_map(**columns: str) -> dict:
    """A contacts mapping of the usual id, start, queue and outcome columns, plus ``columns``."""
    base = {"contact_id": "id", "arrival_ts": "start", "queue": "queue", "outcome": "outcome"}
    return {
        "table": "contacts",
        "timezone": "UTC",
        "columns": {**base, **columns},
        "defaults": {"team": "t"},
    }


def _intervals_map(tz: str, **columns: str | list[str]) -> dict:
    """An intervals mapping of the usual queue and counts columns, plus ``columns``."""
    base = {"queue": "Queue", "offered": "Offered", "answered": "Answered"}
    return {
        "table": "intervals",
        "timezone": tz,
        "columns": {**base, **columns},
        "defaults": {"channel": "voice", "team": "sales"},
    }


def _accounted(result) -> None:
    r = result.report
    assert r.read == r.loaded + r.quarantined


def _row(out: Path, metrics: str, **kw) -> dict:
    return compute(load(out), metrics, measures=False, **kw).collect().row(0, named=True)


# ------------------------------------------------------------------ European CSV

EURO = (
    "Anrufbericht Kundenservice\r\n"
    "Standort: Köln;Zeitraum: März 2025\r\n"
    "\r\n"
    "Anruf-ID;Datum;Uhrzeit;Warteschlange;Agent;Status;Wartezeit (s);Gesprächszeit (s);"
    "Nachbearbeitung (min);Umsatz (€)\r\n"
    "1;03.03.2025;08:01;Störung;Müller;angenommen;12,5;241,0;0,5;1.234,50\r\n"
    "2;03.03.2025;08:03;Störung;;abgebrochen;70,0;;;\r\n"
    "3;03.03.2025;08:05;Vertrieb;Schmidt;angenommen;40;620,25;1,25;99,90\r\n"
    "4;04.03.2025;10:00;Vertrieb;Schmidt;angenommen;5,0;120,0;0;0,00\r\n"
    "Summe;;;;;;127,5;981,25;1,75;1.334,40\r\n"
)

EURO_MAPPING = {
    "table": "contacts",
    "timezone": "Europe/Berlin",
    "columns": {
        "contact_id": "Anruf-ID",
        "arrival_ts": ["Datum", "Uhrzeit"],
        "queue": "Warteschlange",
        "agent_id": "Agent",
        "outcome": "Status",
        "wait_s": "Wartezeit (s)",
        "talk_s": "Gesprächszeit (s)",
        "acw_s": "Nachbearbeitung (min)",
        "revenue": "Umsatz (€)",
    },
    "formats": {"acw_s": "minutes"},
    "values": {"outcome": {"angenommen": "answered", "abgebrochen": "abandoned_queue"}},
    "defaults": {"team": "DE", "hold_s": 0},
}


def test_european_csv_with_decimal_commas_title_and_sum_row(tmp_path):
    src = tmp_path / "anrufe.csv"
    src.write_bytes(EURO.encode("cp1252"))
    out = tmp_path / "de"
    result = import_file(src, mapping=EURO_MAPPING, out=out)
    _accounted(result)
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (4, 4, 0)  # the Summe row is not a record
    assert r.inferred["numbers"] == "decimal comma (e.g. 'Wartezeit (s)' = '12,5')"
    assert r.inferred["header"].startswith("line 4: the 3 line(s) above it are a title")
    assert r.inferred["totals rows (not records, not read)"] == "row 9 ('Summe')"
    t = pl.read_parquet(out / "contacts.parquet").sort("contact_id")
    assert t["wait_s"].to_list() == [12.5, 70.0, 40.0, 5.0]
    assert t["talk_s"].to_list()[0::2] == [241.0, 620.25]
    assert t["acw_s"].to_list() == [30.0, None, 75.0, 0.0]  # 0,5 and 1,25 minutes
    assert t["revenue"].to_list() == [1234.5, None, 99.9, 0.0]
    assert t["arrival_ts"][0] == dt.datetime(2025, 3, 3, 8, 1, tzinfo=t["arrival_ts"][0].tzinfo)
    k = _row(out, "contacts_offered,asa,aht")
    assert k["contacts_offered"] == 4
    assert k["asa"] == pytest.approx((12.5 + 40 + 5) / 3)
    # talk 241 + 620.25 + 120, hold 0, after-call work 30 + 75 + 0, over 3 answered
    assert k["aht"] == pytest.approx((241 + 620.25 + 120 + 30 + 75) / 3)


def test_decimal_mark_given_in_the_mapping_wins(tmp_path):
    src = tmp_path / "c.csv"
    # every wait reads either way ("1,500"): the mapping says the comma is a decimal mark
    src.write_text(
        "id;start;queue;outcome;wait\n"
        "a;2025-03-03 08:00;Q;answered;1,500\n"
        "b;2025-03-03 08:05;Q;answered;2,250\n"
    )
    mapping = {
        "table": "contacts",
        "timezone": "UTC",
        "read": {"decimal": ","},
        "columns": {
            "contact_id": "id",
            "arrival_ts": "start",
            "queue": "queue",
            "outcome": "outcome",
            "wait_s": "wait",
        },
        "defaults": {"team": "t"},
    }
    out = tmp_path / "o"
    import_file(src, mapping=mapping, out=out)
    assert pl.read_parquet(out / "contacts.parquet")["wait_s"].to_list() == [1.5, 2.25]
    with pytest.raises(KpiError, match=r"'wait' has numbers such as '1,500' that read as 1500"):
        import_file(src, mapping={**mapping, "read": {}}, out=tmp_path / "o2")
    mapping["read"] = {"decimal": "."}
    import_file(src, mapping=mapping, out=tmp_path / "o3")
    assert pl.read_parquet(tmp_path / "o3" / "contacts.parquet")["wait_s"].to_list() == [
        1500.0,
        2250.0,
    ]


def test_us_thousands_and_mixed_marks(tmp_path):
    src = tmp_path / "us.csv"
    src.write_text(
        "id,start,queue,outcome,wait,revenue\n"
        'a,2025-03-03 08:00,Q,answered,12.5,"$1,234.50"\n'
        'b,2025-03-03 08:05,Q,answered,3,"2,000"\n'
    )
    mapping = _contacts_map(wait_s="wait", revenue="revenue")
    out = tmp_path / "o"
    import_file(src, mapping=mapping, out=out)
    t = pl.read_parquet(out / "contacts.parquet")
    assert t["revenue"].to_list() == [1234.5, 2000.0]
    assert t["wait_s"].to_list() == [12.5, 3.0]
    # a decimal comma in one column and a decimal point in another: asked, never guessed
    src.write_text(
        "id;start;queue;outcome;wait;revenue\na;2025-03-03 08:00;Q;answered;12,5;3.75\n"
    )
    with pytest.raises(KpiError, match=r"decimal comma \('wait' = '12,5'\) and with a decimal"):
        import_file(src, mapping=mapping, out=tmp_path / "o2")


# ------------------------------------------------------------------------ Excel


def _titled_workbook(path: Path) -> None:
    wb = xlsxwriter.Workbook(path)
    wb.set_properties({"created": dt.datetime(2025, 3, 5)})
    ws = wb.add_worksheet("Report")
    ts = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws.write_row(0, 0, ["Daily Call Report - ACME Support"])
    ws.write_row(1, 0, ["Generated 2025-03-05 06:00"])
    ws.write_row(3, 0, ["Call ID", "Start", "Queue", "Agent", "Outcome", "Wait (s)", "Talk (s)"])
    rows = [
        ("A1", dt.datetime(2025, 3, 3, 9, 0, 5), "Support", "ann", "Answered", 10, 300),
        ("A2", dt.datetime(2025, 3, 3, 9, 5, 0), "Support", None, "Abandoned", 45, None),
        ("A3", dt.datetime(2025, 3, 3, 10, 0, 0), "Support", "bob", "Answered", 25, 200),
        ("A4", dt.datetime(2025, 3, 4, 11, 0, 0), "Support", "bob", "Answered", 5, 100),
    ]
    for r, row in enumerate(rows, start=4):
        for c, v in enumerate(row):
            if isinstance(v, dt.datetime):
                ws.write_datetime(r, c, v, ts)
            elif v is not None:
                ws.write(r, c, v)
    ws.write_row(9, 0, ["Total", None, None, None, None, 85, 600])  # after a blank row
    wb.close()


def test_excel_with_title_rows_and_a_total_row(tmp_path):
    src = tmp_path / "daily.xlsx"
    _titled_workbook(src)
    mapping = {
        "table": "contacts",
        "timezone": "Europe/London",
        "columns": {
            "contact_id": "Call ID",
            "arrival_ts": "Start",
            "queue": "Queue",
            "agent_id": "Agent",
            "outcome": "Outcome",
            "wait_s": "Wait (s)",
            "talk_s": "Talk (s)",
        },
        "values": {"outcome": {"Answered": "answered", "Abandoned": "abandoned_queue"}},
        "defaults": {"team": "support", "hold_s": 0, "acw_s": 0},
    }
    out = tmp_path / "xl"
    result = import_file(src, mapping=mapping, out=out)  # default 5% share: nothing set aside
    _accounted(result)
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (4, 4, 0)
    assert r.inferred["header"].startswith("row 4: the 3 row(s) above it are a title")
    assert r.inferred["totals rows (not records, not read)"] == "row 10 ('Total')"
    k = _row(out, "contacts_offered,contacts_answered,asa,aht")
    assert (k["contacts_offered"], k["contacts_answered"]) == (4, 3)
    assert k["asa"] == pytest.approx((10 + 25 + 5) / 3)
    assert k["aht"] == pytest.approx((300 + 200 + 100) / 3)
    # said outright, the title rows are skipped the same way
    mapping["read"] = {"skip_rows": 3}
    again = import_file(src, mapping=mapping, out=tmp_path / "xl2").report
    assert (again.read, again.loaded) == (4, 4)
    assert "header" not in again.inferred


def test_a_record_that_merely_starts_with_total_is_data(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text(
        "id,start,queue,outcome,topic\n"
        "Total,2025-03-03 08:00,Q,answered,x\n"  # a full row: a record, whatever its id
        "b,2025-03-03 08:05,Q,answered,Total loss\n"
    )
    mapping = _contacts_map(topic="topic")
    r = import_file(src, mapping=mapping, out=tmp_path / "o").report
    assert (r.read, r.loaded) == (2, 2)
    assert "totals rows (not records, not read)" not in r.inferred


# -------------------------------------------------------------- interval ranges

INTERVALS = (
    "\ufeffDate,Interval,Queue,Offered,Handled,Abandoned,Answered in SL,,,\r\n"
    "03/03/2025,08:00-08:15,Sales,10,9,1,8,,,\r\n"
    "03/03/2025,08:15-08:30,Sales,12,12,0,12,,,\r\n"
    "03/03/2025,08:30-08:45,Sales,8,6,2,5,,,\r\n"
    "03/03/2025,23:45-00:00,Sales,0,0,0,0,,,\r\n"
    "Total,,,30,27,3,25,,,\r\n"
)


def test_interval_report_with_time_ranges_bom_crlf_and_trailing_columns(tmp_path):
    src = tmp_path / "intervals.csv"
    src.write_text(INTERVALS, encoding="utf-8", newline="")
    mapping = {
        "table": "intervals",
        "timezone": "America/Chicago",
        "interval_threshold_s": 20,
        "columns": {
            "interval_start": ["Date", "Interval"],
            "queue": "Queue",
            "offered": "Offered",
            "answered": "Handled",
            "abandoned": "Abandoned",
            "answered_within_threshold": "Answered in SL",
        },
        "formats": {"interval_start": "%m/%d/%Y %H:%M"},
        "defaults": {"team": "sales"},
    }
    out = tmp_path / "ivl"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (4, 4, 0)
    assert r.source["encoding"] == "utf-8-sig"
    assert r.source["line_ending"] == "CRLF"
    assert "interval_s = 900 (the length of each range)" in r.assumed
    t = pl.read_parquet(out / "intervals.parquet").sort("interval_start")
    assert t["interval_s"].to_list() == [900.0] * 4
    starts = t["interval_start"].dt.strftime("%H:%M").to_list()
    assert starts == ["08:00", "08:15", "08:30", "23:45"]
    k = _row(out, "contacts_offered,contacts_answered,service_level,abandon_rate,aht")
    assert (k["contacts_offered"], k["contacts_answered"]) == (30, 27)
    assert k["service_level"] == pytest.approx(25 / (27 + 3))
    assert k["abandon_rate"] == pytest.approx(3 / 30)
    assert k["aht"] is None  # no handle times in the report: unknown, not 0


def test_interval_averages_are_rebuilt_into_totals(tmp_path):
    src = tmp_path / "intervals.csv"
    src.write_text(
        "Date,Interval,Queue,Offered,Handled,Abandoned,AHT,ASA\n"
        "03/03/2025,08:00-08:15,Sales,10,9,1,00:04:10,00:00:12\n"
        "03/03/2025,08:15-08:30,Sales,12,12,0,00:03:50,00:00:05\n"
        "03/03/2025,08:30-08:45,Sales,8,6,2,00:05:00,00:00:30\n"
        "03/03/2025,08:45-09:00,Sales,0,0,0,,\n"
    )
    mapping = {
        "table": "intervals",
        "timezone": "America/Chicago",
        "columns": {
            "interval_start": ["Date", "Interval"],
            "queue": "Queue",
            "offered": "Offered",
            "answered": "Handled",
            "abandoned": "Abandoned",
        },
        "averages": {"talk_s": "AHT", "wait_answered_s": "ASA"},
        "formats": {"interval_start": "%m/%d/%Y %H:%M"},
        "defaults": {"team": "sales", "hold_s": 0, "acw_s": 0},
    }
    out = tmp_path / "ivl"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    t = pl.read_parquet(out / "intervals.parquet").sort("interval_start")
    assert t["talk_s"].to_list() == [250.0 * 9, 230.0 * 12, 300.0 * 6, None]
    k = _row(out, "aht,asa")
    assert k["aht"] == pytest.approx((250 * 9 + 230 * 12 + 300 * 6) / 27)
    assert k["asa"] == pytest.approx((12 * 9 + 5 * 12 + 30 * 6) / 27)
    # an average needs the count it is an average over
    del mapping["columns"]["answered"]
    with pytest.raises(KpiError, match=r"averages.talk_s is an average per answered contact"):
        import_file(src, mapping=mapping, out=tmp_path / "o2")


# ------------------------------------------------------------- agent-state log

STATES = (
    "Agent,Team,State,Start,End\n"
    "ann,A,Login,2025-03-03 08:00:00,2025-03-03 08:00:00\n"
    "ann,A,Available,2025-03-03 08:00:00,2025-03-03 08:10:00\n"
    "ann,A,On Call,2025-03-03 08:10:00,2025-03-03 08:25:00\n"
    "ann,A,After Call Work,2025-03-03 08:25:00,2025-03-03 08:28:00\n"
    "ann,A,Available,2025-03-03 08:28:00,2025-03-03 08:40:00\n"
    "ann,A,Break,2025-03-03 08:40:00,2025-03-03 08:55:00\n"
    "ann,A,Available,2025-03-03 08:55:00,2025-03-03 09:10:00\n"
    "ann,A,Logout,2025-03-03 09:10:00,2025-03-03 09:40:00\n"
    "bob,A,Available,2025-03-03 08:00:00,2025-03-03 08:45:00\n"
    "bob,A,On Call,2025-03-03 08:45:00,2025-03-03 09:05:00\n"
    "bob,A,Coffee,2025-03-03 09:05:00,2025-03-03 09:10:00\n"
    "bob,A,Meeting,2025-03-03 09:05:00,2025-03-03 09:30:00\n"
)

STATES_MAPPING = {
    "table": "agent_time",
    "timezone": "Europe/London",
    "columns": {"agent_id": "Agent", "team": "Team"},
    "states": {
        "state": "State",
        "start": "Start",
        "end": "End",
        "interval_min": 30,
        "seconds": {
            "Login": "logged_in",
            "Logout": "logged_out",
            "Available": "available_s",
            "on call": "handle_s",  # matched ignoring case
            "After Call Work": "acw_s",
            "Break": "break_s",
            "Meeting": "meeting_s",
        },
    },
}


def test_agent_state_log_is_summed_per_agent_and_interval(tmp_path):
    src = tmp_path / "states.csv"
    src.write_text(STATES)
    out = tmp_path / "wfm"
    result = import_file(src, mapping=STATES_MAPPING, out=out, max_quarantine_share=0.1)
    _accounted(result)
    r = result.report
    # 12 state rows: 11 summed (Login and Logout too), Coffee is not in [states.seconds]
    assert (r.read, r.loaded, r.quarantined) == (12, 11, 1)
    assert r.quarantined_by_reason == {"unknown state value": 1}
    t = pl.read_parquet(out / "agent_time.parquet").sort("agent_id", "interval_start")
    got = t.select(
        "agent_id",
        pl.col("interval_start").dt.strftime("%H:%M"),
        "interval_s",
        "available_s",
        "handle_s",
        "acw_s",
        "break_s",
        "meeting_s",
        "logged_in_s",
    ).rows()
    assert got == [
        # ann 08:00-08:30: available 10 + 2 min, on call 15, wrap 3
        ("ann", "08:00", 1800.0, 720.0, 900.0, 180.0, 0.0, 0.0, 1800.0),
        # 08:30-09:00: available 10 + 5 min, break 15
        ("ann", "08:30", 1800.0, 900.0, 0.0, 0.0, 900.0, 0.0, 1800.0),
        # 09:00-09:10 available, then logged out (no time, no interval after it)
        ("ann", "09:00", 1800.0, 600.0, 0.0, 0.0, 0.0, 0.0, 600.0),
        ("bob", "08:00", 1800.0, 1800.0, 0.0, 0.0, 0.0, 0.0, 1800.0),
        ("bob", "08:30", 1800.0, 900.0, 900.0, 0.0, 0.0, 0.0, 1800.0),
        ("bob", "09:00", 1800.0, 0.0, 300.0, 0.0, 0.0, 1500.0, 1800.0),
    ]
    assert t["training_s"].null_count() == t.height  # no training state: unknown, not 0
    k = compute(load(out), "occupancy", by="agent_id", measures=False).collect()
    occ = dict(k.select("agent_id", "occupancy").rows())
    assert occ["ann"] == pytest.approx((900 + 180) / (900 + 180 + 720 + 900 + 600))
    assert occ["bob"] == pytest.approx(1200 / (1200 + 2700))
    # the same log with durations instead of end times gives the same intervals
    with_duration = "Agent,Team,State,Start,Seconds\n" + "".join(
        f"{a},{tm},{st},{b},{(dt.datetime.fromisoformat(e) - dt.datetime.fromisoformat(b)).seconds}\n"
        for a, tm, st, b, e in (line.split(",") for line in STATES.splitlines()[1:])
    )
    src.write_text(with_duration)
    states = {**STATES_MAPPING["states"], "duration": "Seconds"}
    del states["end"]
    import_file(
        src,
        mapping={**STATES_MAPPING, "states": states},
        out=tmp_path / "w2",
        max_quarantine_share=0.1,
    )
    again = pl.read_parquet(tmp_path / "w2" / "agent_time.parquet").sort(
        "agent_id", "interval_start"
    )
    cols = ["agent_id", "interval_start", "available_s", "handle_s", "acw_s", "logged_in_s"]
    assert again.select(cols).equals(t.select(cols))


def test_an_agent_state_log_without_states_section_is_refused(tmp_path):
    src = tmp_path / "states.csv"
    src.write_text(STATES)
    mapping = {
        "table": "agent_time",
        "timezone": "Europe/London",
        "columns": {"agent_id": "Agent", "team": "Team", "interval_start": "Start"},
    }
    with pytest.raises(KpiError, match=r"column 'State' names a state .*map it with a \[states\]"):
        import_file(src, mapping=mapping, out=tmp_path / "o")
    assert not (tmp_path / "o" / "agent_time.parquet").exists()


# ------------------------------------------------------ cloud export durations


def test_iso_8601_and_worded_durations_and_utc_times(tmp_path):
    src = tmp_path / "conversations.csv"
    src.write_text(
        "Conversation ID,Conversation Start,Queue,Users,Abandoned,Total Queue,Total Talk,"
        "Total Hold,Total ACW\n"
        "c1,2025-03-03T14:00:05.123Z,Support,Ann,NO,PT12S,PT4M1S,PT0S,PT30S\n"
        "c2,2025-03-03T14:03:40.000Z,Support,,YES,PT1M10S,,,\n"
        "c3,2025-03-03T15:05:00.000Z,Support,Bob,NO,12.5s,10m 20s,1m,1 min 0 sec\n"
    )
    mapping = {
        "table": "contacts",
        "timezone": "America/New_York",
        "columns": {
            "contact_id": "Conversation ID",
            "arrival_ts": "Conversation Start",
            "queue": "Queue",
            "agent_id": "Users",
            "outcome": "Abandoned",
            "wait_s": "Total Queue",
            "talk_s": "Total Talk",
            "hold_s": "Total Hold",
            "acw_s": "Total ACW",
        },
        "values": {"outcome": {"NO": "answered", "YES": "abandoned_queue"}},
        "defaults": {"team": "support"},
    }
    out = tmp_path / "gc"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    t = pl.read_parquet(out / "contacts.parquet").sort("contact_id")
    assert t["wait_s"].to_list() == [12.0, 70.0, 12.5]
    assert t["talk_s"].to_list()[0::2] == [241.0, 620.0]
    assert t["acw_s"].to_list()[0::2] == [30.0, 60.0]
    # 14:00:05 UTC is 09:00:05 in New York (EST, UTC-5)
    assert t["arrival_ts"].dt.strftime("%H:%M:%S").to_list() == [
        "09:00:05",
        "09:03:40",
        "10:05:00",
    ]
    k = _row(out, "asa,aht")
    assert k["asa"] == pytest.approx((12 + 12.5) / 2)
    assert k["aht"] == pytest.approx((241 + 0 + 30 + 620 + 60 + 60) / 2)


# ------------------------------------------- Excel's sep= line, AM/PM, dashes


def test_sep_line_twelve_hour_clock_and_dashes_for_none(tmp_path):
    src = tmp_path / "calls.csv"
    src.write_bytes(
        b"sep=;\r\n"
        b"id;start;queue;outcome;wait;talk\r\n"
        b"a;2025-03-03 8:01:05 AM;Q;answered;12;-\r\n"
        b"b;2025-03-03 12:15:00 PM;Q;abandoned;--;\r\n"
        b"c;2025-03-03 2:15:00 PM;Q;answered;0:05;00:02:00\r\n"
    )
    mapping = {
        "table": "contacts",
        "timezone": "UTC",
        "columns": {
            "contact_id": "id",
            "arrival_ts": "start",
            "queue": "queue",
            "outcome": "outcome",
            "wait_s": "wait",
            "talk_s": "talk",
        },
        "values": {"outcome": {"abandoned": "abandoned_queue"}},
        "defaults": {"team": "t"},
    }
    out = tmp_path / "o"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (3, 3, 0)
    assert r.source["delimiter_how"] == "sep= line"
    assert r.source["header_line"] == 2
    assert r.inferred["dashes read as missing"] == {"wait_s": 1, "talk_s": 1}
    t = pl.read_parquet(out / "contacts.parquet").sort("contact_id")
    assert t["arrival_ts"].dt.strftime("%H:%M:%S").to_list() == [
        "08:01:05",
        "12:15:00",
        "14:15:00",
    ]
    assert t["source_row"].to_list() == [3, 4, 5]
    assert t["wait_s"].to_list() == [12.0, None, 5.0]
    # a dash is "none", not a number: the answered call's talk time is unknown
    assert t["talk_s"].to_list()[0] is None


# --------------------------------------------------------- Zendesk-style tickets

ZENDESK = (
    "Id,Requester,Group,Assignee,Subject,Status,Priority,Ticket type,Created at,Solved at,"
    "First reply time in minutes\n"
    "101,a@x.com,Support,Ann,Login,Closed,Normal,Problem,2025-03-03T09:12:44+01:00,"
    "2025-03-03T15:12:44+01:00,30\n"
    "102,b@x.com,Billing,Bob,Refund,Solved,High,Question,2025-03-03T10:00:00+01:00,"
    "2025-03-04T10:00:00+01:00,90\n"
    "103,c@x.com,Support,,Cannot pay,Open,Normal,Incident,2025-03-04T11:00:00+01:00,,\n"
    "104,d@x.com,Support,Ann,Password,Pending,Low,Question,2025-03-04T23:30:00+01:00,,510\n"
    "105,e@x.com,Billing,Bob,Invoice,Solved,Normal,Question,2025-03-05T08:00:00+01:00,"
    "2025-03-05T09:00:00+01:00,10\n"
    "106,f@x.com,Billing,Bob,Invoice,Solved,Normal,Question,2025-03-05T08:00:00+01:00,"
    "2025-03-05T09:00:00+01:00,soon\n"
)


def test_zendesk_tickets_with_offsets_and_first_reply_in_minutes(tmp_path):
    src = tmp_path / "tickets.csv"
    src.write_text(ZENDESK)
    mapping = {
        "table": "tickets",
        "timezone": "Europe/Paris",
        "max_quarantine_share": 0.2,
        "columns": {
            "ticket_id": "Id",
            "created_ts": "Created at",
            "solved_ts": "Solved at",
            "status": "Status",
            "team": "Group",
            "agent_id": "Assignee",
            "topic": "Ticket type",
            "priority": "Priority",
        },
        "after": {
            "first_response_ts": {
                "from": "created_ts",
                "add": "First reply time in minutes",
                "unit": "minutes",
            }
        },
    }
    out = tmp_path / "zd"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (6, 5, 1)
    assert r.quarantined_by_reason == {"unparseable first_response_ts": 1}
    t = pl.read_parquet(out / "tickets.parquet").sort("ticket_id")
    first = (t["first_response_ts"] - t["created_ts"]).dt.total_minutes().to_list()
    assert first == [30, 90, None, 510, 10]
    assert t["status"].to_list() == ["closed", "solved", "open", "pending", "solved"]
    k = _row(out, "first_response_time,avg_resolution_time,tickets_handled,backlog")
    # medians in hours: first replies 0.5, 1.5, 8.5 and 1/6 h; resolutions 6, 24 and 1 h
    assert k["first_response_time"] == pytest.approx((0.5 + 1.5) / 2)
    assert k["avg_resolution_time"] == pytest.approx(6.0)
    assert (k["tickets_handled"], k["backlog"]) == (3, 2)


# ------------------------------------------------------- time stamps as people write them


@pytest.mark.parametrize(
    ("written", "local"),
    [
        # CRM exports: a comma between date and time, a 12-hour clock
        (["3/3/2025, 8:00 AM", "3/14/2025, 1:30 PM"], ["2025-03-03 08:00", "2025-03-14 13:30"]),
        # a weekday in front
        (
            ["Mon 03/03/2025 08:00", "Fri 14/03/2025 17:45"],
            ["2025-03-03 08:00", "2025-03-14 17:45"],
        ),
        # month names, US order
        (
            ["Mar 3, 2025 8:00:00 AM", "March 14, 2025 1:30 PM"],
            ["2025-03-03 08:00", "2025-03-14 13:30"],
        ),
        # a zone abbreviation is an offset: 13:00 UTC and 09:30 EDT are New York's 08:00 and 09:30
        (
            ["2025-03-03 13:00:00 UTC", "2025-03-14 09:30:00 EDT"],
            ["2025-03-03 08:00", "2025-03-14 09:30"],
        ),
        # two-digit years with dots
        (["03.03.25 08:00", "14.03.25 13:30"], ["2025-03-03 08:00", "2025-03-14 13:30"]),
    ],
)
def test_time_stamps_as_people_write_them(tmp_path, written, local):
    src = tmp_path / "calls.csv"
    src.write_text(
        "id\tstart\tqueue\toutcome\n"
        + "".join(f"c{i}\t{w}\tQ\tanswered\n" for i, w in enumerate(written))
    )
    mapping = {
        "table": "contacts",
        "timezone": "America/New_York",
        "columns": {
            "contact_id": "id",
            "arrival_ts": "start",
            "queue": "queue",
            "outcome": "outcome",
        },
        "defaults": {"team": "t"},
    }
    out = tmp_path / "o"
    _accounted(import_file(src, mapping=mapping, out=out))
    t = pl.read_parquet(out / "contacts.parquet").sort("contact_id")
    assert t["arrival_ts"].dt.strftime("%Y-%m-%d %H:%M").to_list() == local


# ------------------------------------------- a paged UTF-16 report (Avaya CMS style)


def test_utf16_tsv_with_the_header_repeated_and_average_times(tmp_path):
    header = "Agent Name\tSplit\tDate\tTime\tACD Calls\tAvg ACD Time\tAvg ACW Time\tAbandoned\n"
    text = (
        header
        + "x\tSales\t3/3/2025\t08:00-08:30\t10\t240\t30\t1\n"
        + "x\tSales\t3/3/2025\t08:30-09:00\t8\t200\t20\t0\n"
        + header  # the next page
        + "x\tSales\t3/3/2025\t09:00-09:30\t5\t300\t25\t2\n"
    )
    src = tmp_path / "cms.txt"
    src.write_bytes(text.encode("utf-16"))
    mapping = {
        "table": "intervals",
        "timezone": "America/New_York",
        "columns": {
            "queue": "Split",
            "interval_start": ["Date", "Time"],
            "offered": "ACD Calls",
            "answered": "ACD Calls",
            "abandoned": "Abandoned",
        },
        "averages": {"talk_s": "Avg ACD Time", "acw_s": "Avg ACW Time"},
        "formats": {"interval_start": "%m/%d/%Y %H:%M"},
        "defaults": {"team": "t", "hold_s": 0},
    }
    out = tmp_path / "cms"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (3, 3, 0)
    assert r.inferred["header repeated (not records, not read)"] == "row 4"
    assert r.source["encoding"] == "utf-16"
    k = _row(out, "contacts_answered,aht,avg_acw")
    assert k["contacts_answered"] == 23
    assert k["aht"] == pytest.approx((270 * 10 + 220 * 8 + 325 * 5) / 23)
    assert k["avg_acw"] == pytest.approx((30 * 10 + 20 * 8 + 25 * 5) / 23)


def test_excel_data_on_a_later_sheet_is_found(tmp_path):
    src = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(src)
    wb.set_properties({"created": dt.datetime(2025, 3, 5)})
    cover = wb.add_worksheet("Summary")
    cover.write_row(0, 0, ["Calls this week", 3])
    cover.write_row(1, 0, ["Answered", 2])
    calls = wb.add_worksheet("Call log")
    calls.write_row(0, 0, ["Call log, week 10"])
    calls.write_row(2, 0, ["Call ID", "Start", "Queue", "Outcome", "Wait (s)"])
    calls.write_row(3, 0, ["A1", "2025-03-03 09:00:05", "Support", "answered", 10])
    calls.write_row(4, 0, ["A2", "2025-03-03 09:05:00", "Support", "abandoned", 45])
    calls.write_row(5, 0, ["A3", "2025-03-03 10:00:00", "Support", "answered", 20])
    wb.close()
    mapping = {
        "table": "contacts",
        "timezone": "Europe/London",
        "columns": {
            "contact_id": "Call ID",
            "arrival_ts": "Start",
            "queue": "Queue",
            "outcome": "Outcome",
            "wait_s": "Wait (s)",
        },
        "values": {"outcome": {"abandoned": "abandoned_queue"}},
        "defaults": {"team": "support"},
    }
    out = tmp_path / "o"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    r = result.report
    assert r.source["sheet"] == "Call log"
    assert r.inferred["sheet"].startswith("'Call log': the mapping's columns are not on the first")
    assert r.inferred["header"].startswith("row 3: the 2 row(s) above it are a title")
    assert (r.read, r.loaded) == (3, 3)
    assert _row(out, "asa")["asa"] == pytest.approx(15.0)


# ------------------------------------------------------------- survey tool export


def test_survey_export_with_labelled_scores_and_word_scales(tmp_path):
    src = tmp_path / "survey.csv"
    src.write_text(
        "Respondent,Date,Agent,How likely (0-10),How satisfied\r\n"
        "1,03/03/2025 10:00,ann,10 - Extremely likely,Very satisfied\r\n"
        "2,03/03/2025 11:00,bob,0 - Not at all likely,Dissatisfied\r\n"
        "3,03/04/2025 11:00,bob,7,Neutral\r\n"
        "4,03/04/2025 12:00,ann,9 (Very likely),Satisfied\r\n"
    )
    mapping = {
        "table": "surveys",
        "timezone": "America/New_York",
        "columns": {
            "survey_ts": "Date",
            "agent_id": "Agent",
            "nps": "How likely (0-10)",
            "csat": "How satisfied",
        },
        "formats": {"survey_ts": "%m/%d/%Y %H:%M"},
        "values": {
            "csat": {
                "Very satisfied": 5,
                "Satisfied": 4,
                "Neutral": 3,
                "Dissatisfied": 2,
                "Very dissatisfied": 1,
            }
        },
        "defaults": {"team": "t"},
    }
    out = tmp_path / "sv"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    r = result.report
    assert (r.read, r.loaded, r.quarantined) == (4, 4, 0)
    assert r.inferred["scores written with their label"] == {
        "nps": "3 values such as '10 - Extremely likely' read as their number"
    }
    t = pl.read_parquet(out / "surveys.parquet").sort("survey_ts")
    assert t["nps"].to_list() == [10, 0, 7, 9]
    assert t["csat"].to_list() == [5, 2, 3, 4]
    # promoters 10 and 9, detractor 0, passive 7: NPS = 100 x (2 - 1) / 4
    assert _row(out, "nps")["nps"] == pytest.approx(25.0)
    assert _row(out, "csat")["csat"] == pytest.approx(2 / 4)  # top-2-box: 5 and 4


def test_durations_in_another_unit_are_warned_about(tmp_path):
    src = tmp_path / "calls.csv"
    # talk times as Excel fractions of a day (0.0028 d = 4 min 2 s) and waits in milliseconds
    src.write_text(
        "id,start,queue,outcome,wait,talk\n"
        "a,2025-03-03 08:00,Q,answered,12000,0.0028\n"
        "b,2025-03-03 08:05,Q,answered,45000,0.0017\n"
        "c,2025-03-03 08:10,Q,answered,30000,0.0035\n"
    )
    mapping = _contacts_map(wait_s="wait", talk_s="talk")
    r = import_file(src, mapping=mapping, out=tmp_path / "o").report
    talk = [w for w in r.warnings if w.startswith("talk_s:")]
    assert talk
    assert 'formats.talk_s = "days"' in talk[0]
    assert "0.0028 s" in talk[0]
    wait = [w for w in r.warnings if w.startswith("wait_s:")]  # median 30,000 s: 8 h 20 min
    assert wait
    assert "30,000 s" in wait[0]
    assert 'formats.wait_s = "milliseconds"' in wait[0]
    # once the formats are said, the warnings go and the values are seconds
    mapping["formats"] = {"talk_s": "days", "wait_s": "milliseconds"}
    r = import_file(src, mapping=mapping, out=tmp_path / "o2").report
    assert not [w for w in r.warnings if w.startswith(("talk_s:", "wait_s:"))]
    t = pl.read_parquet(tmp_path / "o2" / "contacts.parquet").sort("contact_id")
    assert t["talk_s"].to_list() == pytest.approx([241.92, 146.88, 302.4])
    assert t["wait_s"].to_list() == [12.0, 45.0, 30.0]


# ------------------------------------------------------- direction and channel words


def test_direction_and_channel_words_become_canonical(tmp_path):
    src = tmp_path / "calls.csv"
    src.write_text(
        "id,start,queue,outcome,direction,channel,talk\n"
        "1,2025-03-03 08:00,Q,answered,Inbound,Phone,100\n"
        "2,2025-03-03 08:01,Q,answered,OUT,Phone,50\n"
        "3,2025-03-03 08:02,E,answered,Incoming,E-mail,300\n"
        "4,2025-03-03 08:03,Q,answered,Internal,Phone,20\n"
        "5,2025-03-03 08:04,Q,answered,inbound,Kiosk,20\n"
    )
    mapping = {
        "table": "contacts",
        "timezone": "UTC",
        "max_quarantine_share": 0.25,
        "columns": {
            "contact_id": "id",
            "arrival_ts": "start",
            "queue": "queue",
            "outcome": "outcome",
            "direction": "direction",
            "channel": "channel",
            "talk_s": "talk",
        },
        "defaults": {"team": "t", "hold_s": 0, "acw_s": 0},
    }
    out = tmp_path / "o"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    r = result.report
    # an internal call is neither inbound nor outbound: set aside, never counted as offered
    assert r.quarantined_by_reason == {"unknown direction value": 1}
    t = pl.read_parquet(out / "contacts.parquet").sort("contact_id")
    assert t["direction"].to_list() == ["inbound", "outbound", "inbound", "inbound"]
    assert t["channel"].to_list() == ["voice", "voice", "email", "Kiosk"]
    assert t["outcome"].to_list() == ["answered", "outbound", "answered", "answered"]
    (repair,) = [x for x in r.repaired if x["what"] == "outcome of outbound contacts"]
    assert repair["rows"] == 1
    (warning,) = [w for w in r.warnings if w.startswith("channel values")]
    assert "'Kiosk' (1 rows)" in warning
    k = _row(out, "contacts_offered,contacts_handled")
    # offered: inbound 1, 3 and 5; the outbound call (exported "answered") is handled outbound
    assert k["contacts_offered"] == 3
    assert k["contacts_handled"] == 4


# ----------------------------------------------------------- JSON from an API


CONVERSATIONS = [
    {
        "conversationId": "c1",
        "start": "2025-03-03T14:00:05Z",
        "queue": {"name": "Support", "id": 7},
        "agent": {"name": "Ann"},
        "outcome": "answered",
        "metrics": {"tWait": 12.0, "tTalk": 241, "tHold": 0, "tAcw": 30},
    },
    {
        "conversationId": "c2",
        "start": "2025-03-03T14:03:40Z",
        "queue": {"name": "Support", "id": 7},
        "agent": None,
        "outcome": "abandoned",
        "metrics": {"tWait": 70.5, "tTalk": None, "tHold": None, "tAcw": None},
    },
    {
        "conversationId": "c3",
        "start": "2025-03-03T15:00:00Z",
        "queue": {"name": "Support", "id": 7},
        "agent": {"name": "Bob"},
        "outcome": "answered",
        "metrics": {"tWait": 5, "tTalk": 100, "tHold": 20, "tAcw": 10},
    },
]


@pytest.mark.parametrize("shape", ["wrapped", "array", "lines"])
def test_json_records_from_an_api_with_nested_objects(tmp_path, shape):
    if shape == "wrapped":  # an API reply: the records under a key, paging beside them
        text = json.dumps({"conversations": CONVERSATIONS, "nextPage": None, "total": 3})
        src = tmp_path / "page.json"
    elif shape == "array":
        text = json.dumps(CONVERSATIONS, indent=2)
        src = tmp_path / "conversations.json"
    else:
        text = "".join(json.dumps(r) + "\n" for r in CONVERSATIONS)
        src = tmp_path / "conversations.jsonl"
    src.write_text(text)
    mapping = {
        "table": "contacts",
        "timezone": "America/New_York",
        "columns": {
            "contact_id": "conversationId",
            "arrival_ts": "start",
            "queue": "queue.name",  # nested objects are flattened to parent.child
            "agent_id": "agent.name",
            "outcome": "outcome",
            "wait_s": "metrics.tWait",
            "talk_s": "metrics.tTalk",
            "hold_s": "metrics.tHold",
            "acw_s": "metrics.tAcw",
        },
        "defaults": {"team": "support"},
    }
    out = tmp_path / "o"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    assert result.report.source["format"] == "json"
    t = pl.read_parquet(out / "contacts.parquet").sort("contact_id")
    assert t["source_row"].to_list() == [1, 2, 3]
    assert t["agent_id"].to_list() == ["Ann", None, "Bob"]
    assert t["arrival_ts"].dt.strftime("%H:%M:%S").to_list() == [
        "09:00:05",
        "09:03:40",
        "10:00:00",
    ]
    k = _row(out, "contacts_offered,asa,aht")
    assert k["contacts_offered"] == 3
    assert k["asa"] == pytest.approx((12 + 5) / 2)
    assert k["aht"] == pytest.approx((241 + 30 + 100 + 20 + 10) / 2)


def test_excel_repeated_header_and_an_empty_column_read_as_a_csv_header_is(tmp_path, capfd):
    """A header naming two columns 'Caller' is numbered and reported as in a CSV file (not
    silently read as fastexcel's Caller, Caller_1), and a column with no cells is read without
    a word from the Excel reader on stderr."""
    src = tmp_path / "dup.xlsx"
    wb = xlsxwriter.Workbook(src)
    wb.set_properties({"created": dt.datetime(2025, 3, 5)})
    ws = wb.add_worksheet("Calls")
    ws.write_row(0, 0, ["id", "start", "queue", "outcome", "Caller", "Caller", "Notes"])
    ws.write_row(1, 0, ["A1", "2025-03-03 09:00:05", "Support", "answered", "111", "222"])
    ws.write_row(2, 0, ["A2", "2025-03-03 09:05:00", "Support", "abandoned_queue", "333", "444"])
    wb.close()
    mapping = _contacts_map(customer_id="Caller")
    with pytest.raises(KpiError, match=r"'Caller' \(set by columns.customer_id\) is ambiguous"):
        import_file(src, mapping=mapping, out=tmp_path / "o")
    assert not (tmp_path / "o").exists()
    mapping["columns"]["customer_id"] = "Caller_2"
    result = import_file(src, mapping=mapping, out=tmp_path / "o")
    _accounted(result)
    assert result.frame["customer_id"].to_list() == ["222", "444"]
    assert result.report.source["duplicate_columns"] == {"Caller": ["Caller_1", "Caller_2"]}
    assert capfd.readouterr().err == ""


def test_a_vendor_export_on_the_contacts_preset_says_which_columns_it_did_not_read(tmp_path):
    """A dialer export (Five9-like upper-case names): the preset finds the wait, wrap-up and
    caller columns by their common names, and names the one it does not read instead of
    dropping it silently."""
    src = tmp_path / "calls.csv"
    src.write_text(
        "CALL ID,DATE,TIME,SKILL,AGENT NAME,CALL TYPE,ANI,QUEUE WAIT TIME,TALK TIME,"
        "HOLD TIME,AFTER CALL WORK TIME,DISPOSITION\n"
        "1,2025/03/03,09:00:00,Sales,ann,Inbound,5551230001,00:00:20,00:05:00,00:00:30,"
        "00:01:00,Answered\n"
        "2,2025/03/03,09:10:00,Sales,bob,Inbound,5551230002,00:00:40,00:03:00,00:00:00,"
        "00:00:30,Answered\n"
    )
    out = tmp_path / "o"
    result = import_file(src, preset="contacts", tz="America/New_York", out=out)
    _accounted(result)
    assert result.report.source["unused_columns"] == ["CALL TYPE"]
    doc = json.loads((out / "import_report.json").read_text())
    assert doc["source"]["unused_columns"] == ["CALL TYPE"]
    assert "CALL TYPE" in result.report.summary()
    k = _row(out, "asa,avg_acw")
    assert k["asa"] == pytest.approx(30.0)
    assert k["avg_acw"] == pytest.approx(45.0)


def test_a_german_interval_report_with_thousands_grouped_by_points(tmp_path):
    """Counts written 1.200 (German thousands) with no decimal in the file to tell: a count
    cannot be 1.2 calls, so the point groups thousands and the file's decimal mark is the
    comma; nothing is quarantined and the busy interval keeps its 1,200 calls."""
    src = tmp_path / "intervalle.csv"
    src.write_text(
        "Intervall;Warteschlange;Angeboten;Angenommen;Abgebrochen;Bearbeitungszeit\r\n"
        "03.03.2025 08:00;Verkauf;10;9;1;0:36:00\r\n"
        "03.03.2025 08:30;Verkauf;12;12;0;0:50:24\r\n"
        "03.03.2025 09:00;Verkauf;1.200;1.150;50;76:40:00\r\n"
    )
    mapping = _intervals_map(
        "Europe/Berlin",
        interval_start="Intervall",
        queue="Warteschlange",
        offered="Angeboten",
        answered="Angenommen",
        abandoned="Abgebrochen",
        talk_s="Bearbeitungszeit",
    )
    mapping["defaults"].update(hold_s=0, acw_s=0)
    out = tmp_path / "o"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    assert (result.report.read, result.report.quarantined) == (3, 0)
    assert result.report.inferred["numbers"] == "decimal comma (e.g. 'Angeboten' = '1.200')"
    k = _row(out, "contacts_offered,contacts_answered,aht")
    assert (k["contacts_offered"], k["contacts_answered"]) == (1222, 1171)
    assert k["aht"] == pytest.approx((36 * 60 + 50 * 60 + 24 + 76 * 3600 + 40 * 60) / 1171)


def test_excel_date_cells_joined_with_text_times_and_ranges(tmp_path):
    """An interval report whose Date column holds date cells and whose Interval column is text
    (``08:00-08:30``, or ``08:30``) reads as the same report written all in text."""
    for times in (["08:00-08:30", "08:30-09:00"], ["08:00", "08:30"]):
        src = tmp_path / "report.xlsx"
        wb = xlsxwriter.Workbook(src)
        wb.set_properties({"created": dt.datetime(2025, 3, 5)})
        ws = wb.add_worksheet("R")
        day = wb.add_format({"num_format": "dd/mm/yyyy"})
        ws.write_row(0, 0, ["Date", "Interval", "Queue", "Offered", "Answered", "Abandoned"])
        for r, (when, counts) in enumerate(
            zip(times, [(10, 9, 1), (12, 12, 0)], strict=True), start=1
        ):
            ws.write_datetime(r, 0, dt.datetime(2025, 3, 30), day)  # the spring-forward day
            ws.write_row(r, 1, [when, "Sales", *counts])
        wb.close()
        mapping = _intervals_map(
            "Europe/London", interval_start=["Date", "Interval"], abandoned="Abandoned"
        )
        out = tmp_path / f"o{len(times[0])}"
        result = import_file(src, mapping=mapping, out=out)
        _accounted(result)
        starts = result.frame.sort("interval_start")["interval_start"]
        assert [t.strftime("%Y-%m-%d %H:%M %Z") for t in starts] == [
            "2025-03-30 08:00 BST",
            "2025-03-30 08:30 BST",
        ]
        assert _row(out, "contacts_offered")["contacts_offered"] == 22


def test_hold_blank_on_some_handled_contacts_is_said_with_how_it_is_read(tmp_path):
    """A hold column blank on one of two answered calls: the import says so and how sums and
    averages read it (as 0 s), so the analyst is not left to find it in a low average."""
    src = tmp_path / "calls.csv"
    src.write_text(
        "id,start,queue,outcome,Wait,Talk,Hold,Wrap\n"
        "C1,2025-03-03 09:00:00,Sales,answered,10,200,20,40\n"
        "C2,2025-03-03 09:05:00,Sales,answered,10,300,,30\n"
        "C3,2025-03-03 09:10:00,Sales,abandoned_queue,30,,,\n"
    )
    mapping = _contacts_map(wait_s="Wait", talk_s="Talk", hold_s="Hold", acw_s="Wrap")
    result = import_file(src, mapping=mapping, out=tmp_path / "o")
    _accounted(result)
    said = [w for w in result.report.warnings if w.startswith("hold_s blank")]
    assert said == [
        "hold_s blank on 1 of 2 handled contacts: sums and averages (AHT, average hold) count "
        "them as 0 s; if they are unknown rather than none, fix the export or leave the column out"
    ]
    assert not [w for w in result.report.warnings if w.startswith(("talk_s", "acw_s"))]
    assert _row(tmp_path / "o", "avg_hold")["avg_hold"] == pytest.approx(10.0)


def test_an_interval_report_lists_the_repeated_hour_twice_when_clocks_go_back(tmp_path):
    """On the night clocks go back, a half-hourly report lists 01:00 and 01:30 twice, in time
    order: the second listing is the second occurrence (GMT), not a duplicate to set aside."""
    starts = ["00:00", "00:30", "01:00", "01:30", "01:00", "01:30", "02:00"]
    offered = [10, 11, 12, 13, 7, 8, 9]
    rows = [f"2025-10-26 {s},Sales,{n}" for s, n in zip(starts, offered, strict=True)]
    src = tmp_path / "arrivals.csv"
    src.write_text("Interval,Queue,Offered\n" + "\n".join(rows) + "\n")
    mapping = _intervals_map("Europe/London", interval_start="Interval")
    del mapping["columns"]["answered"]
    out = tmp_path / "o"
    result = import_file(src, mapping=mapping, out=out)
    _accounted(result)
    assert (result.report.loaded, result.report.quarantined) == (7, 0)
    got = result.frame.sort("interval_start")["interval_start"]
    assert [t.strftime("%H:%M %Z") for t in got] == [
        "00:00 BST",
        "00:30 BST",
        "01:00 BST",
        "01:30 BST",
        "01:00 GMT",
        "01:30 GMT",
        "02:00 GMT",
    ]
    assert "2 seen again" in result.report.inferred["daylight-saving changes"]["interval_start"]
    assert _row(out, "contacts_offered")["contacts_offered"] == sum(offered)


def test_a_given_interval_length_unlike_the_spacing_of_starts_is_warned(tmp_path):
    src = tmp_path / "acd.csv"
    src.write_text(
        "Interval Start,Queue,Offered,Answered,Abandoned\n"
        "2025-03-03 08:00,Sales,14,14,0\n"
        "2025-03-03 08:30,Sales,18,17,1\n"
        "2025-03-03 09:00,Sales,20,19,1\n"
    )
    kw = {"preset": "interval", "tz": "Europe/London"}
    wrong = import_file(src, out=tmp_path / "a", interval_min=7, **kw)
    said = [w for w in wrong.report.warnings if "apart" in w]
    assert len(said) == 1
    assert "interval_s = 420 s was given" in said[0]
    assert "1800 s apart" in said[0]
    right = import_file(src, out=tmp_path / "b", interval_min=30, **kw)
    assert not [w for w in right.report.warnings if "apart" in w]


def test_excel_serial_in_a_list_of_formats_reads_a_column_mixing_numbers_and_text(tmp_path):
    src = tmp_path / "calls.csv"
    src.write_text(
        "id,start,queue,outcome,Wait\n"
        "C0,45719.375,Sales,answered,10\n"  # 2025-03-03 09:00
        "C1,03/03/2025 09:30,Sales,answered,20\n"
        "C2,45719.4375,Sales,answered,30\n"  # 2025-03-03 10:30
    )
    mapping = _contacts_map(wait_s="Wait")
    mapping["formats"] = {"arrival_ts": ["%d/%m/%Y %H:%M", "excel_serial"]}
    result = import_file(src, mapping=mapping, out=tmp_path / "o")
    _accounted(result)
    assert result.report.quarantined == 0
    got = result.frame.sort("contact_id")["arrival_ts"].dt.strftime("%H:%M").to_list()
    assert got == ["09:00", "09:30", "10:30"]
