"""The ground truth of a scenario, measured from the generated tables (``scenario.json``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from kpi._sim.clock import Clock
from kpi._sim.config import TOPICS, QueueSpec, Scenario

__all__ = ["SCHEMA_VERSION", "measure", "period_label"]

SCHEMA_VERSION = 1
HANDLED = ("answered", "outbound")
IDENTITY = "handled = agents × productive_hours_per_agent × 3600 × occupancy / work_per_handled_s"


def period_label(a: dt.date, b: dt.date) -> str:
    """``2026-01`` for a calendar month, else ``2026-01-15/2026-02-14`` (end inclusive)."""
    if a.day == 1 and b.day == 1 and (b.year * 12 + b.month) - (a.year * 12 + a.month) == 1:
        return f"{a.year:04d}-{a.month:02d}"
    return f"{a.isoformat()}/{(b - dt.timedelta(days=1)).isoformat()}"


def _bounds(clock: Clock, m: int) -> tuple[dt.datetime, dt.datetime]:
    z = ZoneInfo(clock.tz)
    a, b = clock.month_starts[m], clock.month_starts[m + 1]
    return (
        dt.datetime(a.year, a.month, a.day, tzinfo=z),
        dt.datetime(b.year, b.month, b.day, tzinfo=z),
    )


def _r(x: float | None, nd: int = 4) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), nd)


def _change(b: float, c: float, nd: int = 4) -> dict[str, Any]:
    return {
        "baseline": _r(b, nd) if isinstance(b, float) else b,
        "current": _r(c, nd) if isinstance(c, float) else c,
        "change": _r(c - b, nd) if isinstance(b, float) or isinstance(c, float) else c - b,
        "change_pct": _r((c - b) / b) if b else None,
    }


def _in(col: str, lo: dt.datetime, hi: dt.datetime) -> pl.Expr:
    return (pl.col(col) >= lo) & (pl.col(col) < hi)


def _by(frame: pl.DataFrame, time_col: str, dim: str, p0, p1, total_change: float) -> list[dict]:
    agg = (
        frame.group_by(dim)
        .agg(
            _in(time_col, *p0).sum().alias("b"),
            _in(time_col, *p1).sum().alias("c"),
        )
        .sort(dim, nulls_last=True)
    )
    out = []
    for row in agg.iter_rows(named=True):
        b, c = int(row["b"]), int(row["c"])
        item = {"segment": {dim: row[dim]}, **_change(b, c)}
        item["share_of_change"] = _r((c - b) / total_change) if total_change else None
        out.append(item)
    out.sort(key=lambda x: (x["change"], str(x["segment"][dim])))
    return out


def _lmdi(b: float, c: float, xb: float, xc: float, sign: int) -> float | None:
    if min(b, c, xb, xc) <= 0:
        return None
    w = (c - b) / (math.log(c) - math.log(b)) if c != b else b
    return sign * w * math.log(xc / xb)


def _drivers(
    agent_time: pl.DataFrame,
    handled: list[int],
    team: str | None,
    periods: list[tuple[dt.datetime, dt.datetime]],
) -> dict[str, Any]:
    at = agent_time if team is None else agent_time.filter(pl.col("team") == team)
    vals = []
    for p in periods:
        s = at.filter(_in("interval_start", *p))
        prod = s.filter((pl.col("handle_s") + pl.col("acw_s") + pl.col("available_s")) > 0)
        agents = prod["agent_id"].n_unique()
        on = float((s["handle_s"] + s["acw_s"] + s["available_s"]).sum())
        busy = float((s["handle_s"] + s["acw_s"]).sum())
        vals.append(
            {
                "agents": agents,
                "productive_hours_per_agent": on / 3600 / agents if agents else math.nan,
                "occupancy": busy / on if on else math.nan,
                "work_per_handled_s": busy / h if (h := handled[len(vals)]) else math.nan,
            }
        )
    b, c = handled
    factors = {}
    for name, sign in (
        ("agents", 1),
        ("productive_hours_per_agent", 1),
        ("occupancy", 1),
        ("work_per_handled_s", -1),
    ):
        xb, xc = float(vals[0][name]), float(vals[1][name])
        item = _change(xb, xc)
        if name == "agents":
            item = _change(int(xb), int(xc))
        item["contribution"] = _r(_lmdi(b, c, xb, xc, sign), 2)
        factors[name] = item
    return {
        "segment": {} if team is None else {"team": team},
        "identity": IDENTITY,
        "factors": factors,
    }


def measure(
    tables: dict[str, pl.DataFrame],
    clock: Clock,
    scenario: Scenario,
    queues: tuple[QueueSpec, ...],
    roster_events: list[dict],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Measure the scenario's metrics, segments and drivers from the generated tables."""
    months = len(clock.month_starts) - 1
    m0, m1 = scenario.metric_periods
    truth: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "scenario": scenario.name,
        "description": scenario.description,
        **meta,
        "periods": {},
        "causes": [],
        "metrics": {},
    }
    names = ["baseline", "current", "recovery"]
    for k in range(min(months, 3)):
        a, b = clock.month_starts[k], clock.month_starts[k + 1]
        truth["periods"][names[k]] = {
            "label": period_label(a, b),
            "start": a.isoformat(),
            "end": b.isoformat(),
        }
    for ev in roster_events:
        item = {
            "kind": ev["kind"],
            "segment": {"team": ev["team"]},
            "date": ev["date"],
            "count": len(ev["agents"]),
            "agents": ev["agents"],
        }
        if ev["kind"] == "attrition":
            item["headcount_before"] = ev["headcount_before"]
        truth["causes"].append(item)
    if scenario.new_topic and scenario.new_topic_month < months:
        mix = [
            sum(w * TOPICS[t].complexity for t, w in q.topics.items())
            for q in queues
            if q.name in scenario.new_topic_queues
        ]
        truth["causes"].append(
            {
                "kind": "new_topic",
                "segment": {"topic": scenario.new_topic},
                "teams": sorted({q.team for q in queues if q.name in scenario.new_topic_queues}),
                "queues": list(scenario.new_topic_queues),
                "from": clock.month_starts[scenario.new_topic_month].isoformat(),
                "volume_share_by_month": {k: list(v) for k, v in scenario.new_topic_share.items()},
                "handle_time_factor": _r(
                    TOPICS[scenario.new_topic].complexity / (sum(mix) / len(mix)), 2
                ),
            }
        )
    rank = {"attrition": 0, "new_topic": 1, "hiring": 2}
    truth["causes"].sort(key=lambda c: rank.get(c["kind"], 9))
    if months <= max(m0, m1):
        truth["note"] = "fewer months than the scenario's periods: no metrics measured"
        return truth
    p0, p1 = _bounds(clock, m0), _bounds(clock, m1)
    contacts = tables["contacts"].filter(pl.col("outcome").is_in(HANDLED))
    tickets = tables["tickets"].filter(pl.col("solved_ts").is_not_null())
    at = tables["agent_time"]
    specs = [
        (
            "contacts_handled",
            contacts,
            "contacts",
            "arrival_ts",
            "contacts with outcome answered or outbound, counted in the period of arrival_ts",
            ("team", "site", "channel", "queue", "topic"),
        ),
        (
            "tickets_handled",
            tickets,
            "tickets",
            "solved_ts",
            "tickets with a solved_ts inside the period (as of the end of the data)",
            ("team", "topic", "priority", "channel"),
        ),
    ]
    for metric, frame, table, tcol, definition, dims in specs:
        b = int(frame.filter(_in(tcol, *p0)).height)
        c = int(frame.filter(_in(tcol, *p1)).height)
        total = c - b
        entry: dict[str, Any] = {
            "definition": definition,
            "table": table,
            "time_column": tcol,
            **_change(b, c),
        }
        by = {d: _by(frame, tcol, d, p0, p1, total) for d in dims}
        resp_teams = scenario.responsible.get(metric, ())
        responsible = [{"team": t} for t in resp_teams]
        if scenario.new_topic and resp_teams:
            responsible.append({"topic": scenario.new_topic})
        entry["responsible"] = responsible
        entry["segments"] = [s for s in by["team"] if s["segment"]["team"] in resp_teams]
        entry["by"] = by
        drivers = []
        for team in resp_teams:
            f = frame.filter(pl.col("team") == team)
            hb = int(f.filter(_in(tcol, *p0)).height)
            hc = int(f.filter(_in(tcol, *p1)).height)
            d = _drivers(at, [hb, hc], team, [p0, p1])
            if metric == "contacts_handled":
                d["aht_s"] = _aht(f, tcol, p0, p1)
            if scenario.new_topic:
                d["new_topic"] = _topic_share(f, tcol, p0, p1, scenario.new_topic, metric)
            drivers.append(d)
        entry["drivers"] = drivers
        entry["drivers_total"] = _drivers(at, [b, c], None, [p0, p1])
        if metric == "contacts_handled":
            entry["drivers_total"]["aht_s"] = _aht(frame, tcol, p0, p1)
        truth["metrics"][metric] = entry
    return truth


def _aht(frame: pl.DataFrame, tcol: str, p0, p1) -> dict[str, Any]:
    vals = []
    for p in (p0, p1):
        s = frame.filter(_in(tcol, *p))
        vals.append(float((s["talk_s"] + s["hold_s"] + s["acw_s"]).sum()) / max(s.height, 1))
    return _change(vals[0], vals[1], 1)


def _topic_share(frame: pl.DataFrame, tcol: str, p0, p1, topic: str, metric: str) -> dict:
    out: dict[str, Any] = {"topic": topic}
    shares = []
    for p in (p0, p1):
        s = frame.filter(_in(tcol, *p))
        shares.append(s.filter(pl.col("topic") == topic).height / max(s.height, 1))
    out["share_of_handled"] = _change(shares[0], shares[1])
    if metric == "contacts_handled":
        s = frame.filter(_in(tcol, *p1))
        new = s.filter(pl.col("topic") == topic)
        old = s.filter(pl.col("topic") != topic)

        def aht(x: pl.DataFrame) -> float | None:
            return (
                _r(float((x["talk_s"] + x["hold_s"] + x["acw_s"]).sum()) / x.height, 1)
                if x.height
                else None
            )

        out["aht_s_current"] = aht(new)
        out["aht_s_other_topics_current"] = aht(old)
    return out
