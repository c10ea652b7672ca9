"""A tiny, hand-checkable dataset covering every table (used by the KPI tests).

Times are in Europe/London. January has 10 contacts on two teams; every expected KPI value in
``tests/test_metrics.py`` is worked out by hand from the rows below.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl

from kpi.data import Dataset
from kpi.schema import conform

TZ = "Europe/London"
Z = ZoneInfo(TZ)


def ts(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=Z)


# id, team, queue, topic, customer, agent, arrival, outcome, ivr, wait, talk, hold, acw,
# transferred, resolved, converted, revenue
CONTACT_ROWS = [
    (
        "c1",
        "A",
        "sales",
        "billing",
        "u1",
        "a1",
        ts(5, 9, 0),
        "answered",
        10,
        5,
        100,
        0,
        20,
        False,
        True,
        True,
        50.0,
    ),
    (
        "c2",
        "A",
        "sales",
        "billing",
        "u1",
        "a1",
        ts(7, 9, 0),
        "answered",
        10,
        30,
        200,
        30,
        10,
        True,
        False,
        False,
        0.0,
    ),
    (
        "c3",
        "A",
        "sales",
        "move",
        "u2",
        "a2",
        ts(5, 9, 10),
        "answered",
        10,
        15,
        300,
        0,
        0,
        False,
        True,
        True,
        150.0,
    ),
    (
        "c4",
        "A",
        "sales",
        "move",
        "u3",
        None,
        ts(5, 9, 20),
        "abandoned_queue",
        10,
        3,
        0,
        0,
        0,
        False,
        False,
        False,
        0.0,
    ),
    (
        "c5",
        "A",
        "sales",
        "move",
        "u4",
        None,
        ts(5, 9, 30),
        "abandoned_queue",
        10,
        50,
        0,
        0,
        0,
        False,
        False,
        False,
        0.0,
    ),
    (
        "c6",
        "A",
        "sales",
        "move",
        None,
        None,
        ts(5, 9, 40),
        "abandoned_ivr",
        25,
        None,
        0,
        0,
        0,
        False,
        False,
        False,
        0.0,
    ),
    (
        "c7",
        "B",
        "help",
        "billing",
        "u5",
        "b1",
        ts(6, 10, 0),
        "answered",
        5,
        25,
        400,
        60,
        40,
        False,
        True,
        False,
        0.0,
    ),
    (
        "c8",
        "B",
        "help",
        "billing",
        "u5",
        "b1",
        ts(20, 10, 0),
        "answered",
        5,
        10,
        100,
        0,
        20,
        False,
        True,
        False,
        0.0,
    ),
    (
        "c9",
        "B",
        "help",
        "billing",
        "u6",
        None,
        ts(6, 10, 5),
        "flowout",
        5,
        120,
        0,
        0,
        0,
        False,
        False,
        False,
        0.0,
    ),
    (
        "c10",
        "B",
        "help",
        "billing",
        "u6",
        "b2",
        ts(6, 11, 0),
        "outbound",
        0,
        None,
        120,
        0,
        30,
        False,
        True,
        False,
        0.0,
    ),
]


def contacts() -> pl.DataFrame:
    rows = []
    for (
        cid,
        team,
        queue,
        topic,
        cust,
        agent,
        arr,
        outcome,
        ivr,
        wait,
        talk,
        hold,
        acw,
        tr,
        res,
        conv,
        rev,
    ) in CONTACT_ROWS:
        queued = outcome in ("answered", "abandoned_queue", "flowout")
        q_ts = arr.timestamp() + ivr if queued else None
        ans = q_ts + wait if outcome == "answered" else None
        end = (ans + talk + hold) if ans else (q_ts + wait if queued else arr.timestamp() + ivr)
        rows.append(
            {
                "contact_id": cid,
                "channel": "voice",
                "direction": "outbound" if outcome == "outbound" else "inbound",
                "queue": queue,
                "topic": topic,
                "customer_id": cust,
                "agent_id": agent,
                "team": team,
                "site": "S",
                "arrival_ts": arr,
                "queue_ts": datetime.fromtimestamp(q_ts, Z) if q_ts else None,
                "answer_ts": datetime.fromtimestamp(ans, Z) if ans else None,
                "end_ts": datetime.fromtimestamp(end, Z),
                "ivr_s": float(ivr),
                "wait_s": None if wait is None else float(wait),
                "talk_s": float(talk),
                "hold_s": float(hold),
                "acw_s": float(acw),
                "outcome": outcome,
                "transferred": tr,
                "resolved": res,
                "converted": conv,
                "revenue": rev,
            }
        )
    return conform("contacts", pl.DataFrame(rows).lazy(), TZ).collect()


def tickets() -> pl.DataFrame:
    rows = [
        # created, first response, solved
        ("t1", ts(2, 9), ts(2, 10), ts(3, 9)),  # 24 h
        ("t2", ts(4, 9), ts(4, 13), ts(6, 9)),  # 48 h
        ("t3", ts(10, 9), ts(10, 11), None),  # open
        ("t4", ts(28, 9), None, ts(3, 9, month=2)),  # solved in February, 6 days = 144 h
    ]
    df = pl.DataFrame(
        {
            "ticket_id": [r[0] for r in rows],
            "created_ts": [r[1] for r in rows],
            "first_response_ts": [r[2] for r in rows],
            "solved_ts": [r[3] for r in rows],
            "closed_ts": [r[3] for r in rows],
            "status": ["closed", "closed", "open", "closed"],
            "team": ["T"] * 4,
            "topic": ["x", "x", "y", "y"],
        }
    )
    return conform("tickets", df.lazy(), TZ).collect()


def agent_time() -> pl.DataFrame:
    # two agents, one 8-hour day each (28,800 s scheduled)
    df = pl.DataFrame(
        {
            "agent_id": ["a1", "a2"],
            "team": ["A", "A"],
            "site": ["S", "S"],
            "interval_start": [ts(5, 9), ts(5, 9)],
            "interval_s": [28800.0, 28800.0],
            "scheduled_s": [28800.0, 28800.0],
            "scheduled_productive_s": [24000.0, 24000.0],
            "logged_in_s": [27000.0, 24000.0],
            "available_s": [5000.0, 6000.0],
            "handle_s": [15000.0, 12000.0],
            "acw_s": [3000.0, 2000.0],
            "break_s": [3600.0, 3600.0],
            "training_s": [1800.0, 0.0],
            "meeting_s": [0.0, 1200.0],
            "absence_s": [0.0, 4000.0],
            "adherent_s": [27000.0, 23000.0],
        }
    )
    return conform("agent_time", df.lazy(), TZ).collect()


def surveys() -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "contact_id": ["c1", "c2", "c3", "c7", "c8"],
            "survey_ts": [ts(5, 12), ts(7, 12), ts(5, 12), ts(6, 12), ts(20, 12)],
            "channel": ["voice"] * 5,
            "queue": ["sales", "sales", "sales", "help", "help"],
            "topic": ["billing", "billing", "move", "billing", "billing"],
            "team": ["A", "A", "A", "B", "B"],
            "csat": [5, 2, 4, 3, None],
            "nps": [10, 3, 9, 7, 6],
            "ces": [7, 2, 6, 5, 4],
        }
    )
    return conform("surveys", df.lazy(), TZ).collect()


def small_dataset() -> Dataset:
    tables = {
        "contacts": contacts(),
        "tickets": tickets(),
        "agent_time": agent_time(),
        "surveys": surveys(),
        "qa_evaluations": conform(
            "qa_evaluations",
            pl.LazyFrame(
                {
                    "evaluation_id": ["q1", "q2", "q3"],
                    "agent_id": ["a1", "a2", "b1"],
                    "team": ["A", "A", "B"],
                    "evaluated_ts": [ts(8, 9), ts(9, 9), ts(9, 9)],
                    "score": [80.0, 90.0, 70.0],
                }
            ),
            TZ,
        ).collect(),
        "coaching": conform(
            "coaching",
            pl.LazyFrame(
                {
                    "session_id": ["s1"],
                    "agent_id": ["a1"],
                    "team": ["A"],
                    "session_ts": [ts(12, 9)],
                    "duration_s": [1800.0],
                }
            ),
            TZ,
        ).collect(),
        # daily forecasts of contacts offered made at midnight on 5 January: 5, 2 and 0 for
        # 5-7 January, against 4, 2 and 1 offered (forecast_accuracy = 1 - 2/7)
        "forecasts": conform(
            "forecasts",
            pl.LazyFrame(
                {
                    "period": [ts(5, 0), ts(6, 0), ts(7, 0)],
                    "interval_s": [86400.0] * 3,
                    "metric": ["contacts_offered"] * 3,
                    "forecast": [5.0, 2.0, 0.0],
                    "until": [ts(5, 0)] * 3,
                }
            ),
            TZ,
        ).collect(),
        "agent_surveys": conform(
            "agent_surveys",
            pl.LazyFrame(
                {
                    "team": ["A", "A", "A", "B"],
                    "survey_ts": [ts(15, 9)] * 4,
                    "score": [10, 9, 5, 8],
                }
            ),
            TZ,
        ).collect(),
        "agents": conform(
            "agents",
            pl.LazyFrame(
                {
                    "agent_id": ["a1", "a2", "a3", "b1", "b2"],
                    "name": ["n"] * 5,
                    "team": ["A", "A", "A", "B", "B"],
                    "site": ["S"] * 5,
                    "team_leader": ["L"] * 5,
                    "hired": [
                        date(2025, 1, 1),
                        date(2025, 6, 1),
                        date(2025, 6, 1),
                        date(2025, 1, 1),
                        date(2026, 1, 15),
                    ],
                    "left": [None, None, date(2026, 1, 20), None, None],
                    "leave_reason": [None, None, "voluntary", None, None],
                }
            ),
            TZ,
        ).collect(),
        "customers": conform(
            "customers",
            pl.LazyFrame(
                {
                    "customer_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
                    "joined": [date(2025, 1, 1)] * 5 + [date(2026, 1, 10)],
                    "churned": [None, date(2026, 1, 15), None, None, None, None],
                }
            ),
            TZ,
        ).collect(),
        "finance": conform(
            "finance",
            pl.LazyFrame(
                {
                    "period_start": [date(2026, 1, 1)],
                    "period_end": [date(2026, 1, 31)],
                    "centre_cost": [1200.0],
                    "company_orders": [40],
                    "order_amount": [4000.0],
                    "acquisition_spend": [900.0],
                    "new_subscribers": [3],
                }
            ),
            TZ,
        ).collect(),
    }
    return Dataset(tables, tz=TZ)


def interval_report(
    slots: list[tuple[datetime, str, int]],
    aht: dict[str, float | None],
    interval_s: float,
    *,
    drop_unknown: bool = True,
) -> pl.DataFrame:
    """An interval report of (start, queue, offered) rows: each queue's handle time per
    contact in seconds (talk_s, every contact answered), or None for a queue reported by
    arrivals only; the answered and talk_s columns are left out when no queue has them
    (``drop_unknown``)."""
    rows = [
        {
            "interval_start": start,
            "interval_s": interval_s,
            "queue": queue,
            "offered": n,
            "answered": None if aht[queue] is None else n,
            "talk_s": None if aht[queue] is None else n * aht[queue],
        }
        for start, queue, n in slots
    ]
    schema = {
        "interval_start": pl.Datetime("us", "Europe/London"),
        "interval_s": pl.Float64,
        "queue": pl.String,
        "offered": pl.Int64,
        "answered": pl.Int64,
        "talk_s": pl.Float64,
    }
    frame = pl.DataFrame(rows, schema=schema)
    if not drop_unknown:
        return frame
    return frame.drop([c for c in ("answered", "talk_s") if frame[c].null_count() == len(frame)])
