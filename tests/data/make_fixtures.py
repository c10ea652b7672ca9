"""Make the hand-made export fixtures of tests/data (run: python tests/data/make_fixtures.py).

- ``excel_calls.xlsx``: a typical Excel call-centre export. Sheet "Calls" (a "Summary" sheet
  follows). Real Excel cell types: date cells (dd/mm/yyyy), start times as time cells
  (hh:mm:ss, Excel's time-only epoch 1899-12-30/31), waits as time cells, talk, hold and
  wrap-up as duration cells ([h]:mm:ss), a satisfaction rating (1-5, blank when the caller
  was not surveyed), and one stray text cell in a duration column. Mapping:
  ``excel_calls_mapping.toml``.
- ``arrivals_5min.csv``: an arrivals-only interval report (5-minute call counts per queue, no
  answered, abandoned, handle time or staffing) whose start times carry a ``Z`` but hold the
  site's local clock. Mapping: ``arrivals_5min_mapping.toml``.

Deterministic: the same files on every run.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent


def excel_calls(path: Path) -> None:
    rnd = random.Random(14)
    wb = xlsxwriter.Workbook(path)
    wb.set_properties({"created": dt.datetime(2025, 3, 5)})  # same bytes on every run
    ws = wb.add_worksheet("Calls")
    date_f = wb.add_format({"num_format": "dd/mm/yyyy"})
    time_f = wb.add_format({"num_format": "hh:mm:ss"})
    dur_f = wb.add_format({"num_format": "[h]:mm:ss"})
    header = [
        "Call ID",
        "Date",
        "Start Time",
        "Queue",
        "Agent",
        "Result",
        "Wait Time",
        "Talk Time",
        "Hold Time",
        "Wrap Up",
        "Satisfaction rating",
    ]
    ws.write_row(0, 0, header)
    day = dt.datetime(2025, 3, 4)
    start = dt.timedelta(hours=8)
    for i in range(40):
        r = i + 1
        start += dt.timedelta(seconds=rnd.randint(300, 1100))
        queue = "Billing" if i % 3 else "Sales"
        answered = i % 7 != 3
        ws.write_string(r, 0, f"X-{1000 + i}")
        ws.write_datetime(r, 1, day, date_f)
        ws.write_number(r, 2, start.total_seconds() / 86400, time_f)
        ws.write_string(r, 3, queue)
        wait = rnd.randint(3, 95)
        ws.write_number(r, 6, wait / 86400, time_f)  # a duration kept in a time cell
        if answered:
            ws.write_string(r, 4, ["ann", "bob", "cem"][i % 3])
            ws.write_string(r, 5, "Answered")
            if i == 18:
                ws.write_string(r, 7, "see notes")  # a stray text cell: quarantined
            else:
                ws.write_number(r, 7, rnd.randint(60, 600) / 86400, dur_f)
            ws.write_number(r, 8, (rnd.choice([0, 0, 0, 20, 45])) / 86400, dur_f)
            ws.write_number(r, 9, rnd.randint(10, 90) / 86400, dur_f)
            if i % 4 == 0:
                ws.write_number(r, 10, rnd.choice([3, 4, 4, 5, 5, 5, 2]))
        else:
            ws.write_string(r, 5, "Abandoned")
    ws.write_row(41, 0, [])  # nothing after the last call
    summary = wb.add_worksheet("Summary")
    summary.write_row(0, 0, ["Calls", 40])
    wb.close()


def arrivals_5min(path: Path) -> None:
    rnd = random.Random(5)
    rows = []
    day = dt.datetime(2025, 3, 3, 7, 0)  # Monday; the site's local clock, stamped Z
    for q, scale in (("Support", 1.0), ("Sales", 0.4)):
        for d in range(5):
            for k in range(12 * 12):  # 07:00-19:00 every 5 minutes
                t = day + dt.timedelta(days=d, minutes=5 * k)
                hour = t.hour + t.minute / 60
                shape = max(0.0, 1 - abs(hour - 11.5) / 6)  # a late-morning peak
                calls = round(rnd.gauss(12 * shape * scale, 1.5))
                rows.append((t.strftime("%Y-%m-%dT%H:%M:%SZ"), q, max(0, calls)))
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Interval Start", "Skill", "Calls Offered"])
        w.writerows(rows)


if __name__ == "__main__":
    excel_calls(HERE / "excel_calls.xlsx")
    arrivals_5min(HERE / "arrivals_5min.csv")
