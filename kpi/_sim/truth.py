"""The ground truth of a scenario, measured from the generated tables (``scenario.json``).

Every figure is computed from the tables (small aggregates per period and dimension, so it
stays cheap at ten million contacts); none is copied from the scenario's settings.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from kpi._sim.clock import Clock
from kpi._sim.config import TOPICS, QueueSpec, Scenario

__all__ = [
    "IDENTITY",
    "SCHEMA_VERSION",
    "measure",
    "objective_lines",
    "objectives",
    "period_label",
]

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
    ints = isinstance(b, int) and isinstance(c, int)
    return {
        "baseline": b if ints else _r(b, nd),
        "current": c if ints else _r(c, nd),
        "change": c - b if ints else _r(c - b, nd),
        "change_pct": _r((c - b) / b) if b else None,
    }


def _period(col: str, p0: tuple, p1: tuple) -> pl.Expr:
    """0 in the baseline, 1 in the current period, else null."""
    return (
        pl.when((pl.col(col) >= p0[0]) & (pl.col(col) < p0[1]))
        .then(0)
        .when((pl.col(col) >= p1[0]) & (pl.col(col) < p1[1]))
        .then(1)
        .alias("_p")
    )


def _counts(agg: pl.DataFrame, by: dict[str, Any] | None = None, value: str = "n") -> list:
    """[baseline, current] sums of ``value`` in the aggregate, optionally filtered."""
    f = agg
    for k, v in (by or {}).items():
        f = f.filter(pl.col(k) == v)
    sums = dict(f.group_by("_p").agg(pl.col(value).sum()).iter_rows())
    return [sums.get(0, 0), sums.get(1, 0)]


def _by(agg: pl.DataFrame, dim: str, total_change: float) -> list[dict]:
    wide = agg.group_by(dim, "_p").agg(pl.col("n").sum())
    out = []
    for value in sorted(wide[dim].unique().to_list(), key=lambda v: (v is None, str(v))):
        sub = dict(wide.filter(pl.col(dim) == value).select("_p", "n").iter_rows())
        b, c = int(sub.get(0, 0)), int(sub.get(1, 0))
        item = {"segment": {dim: value}, **_change(b, c)}
        item["share_of_change"] = _r((c - b) / total_change) if total_change else None
        out.append(item)
    out.sort(key=lambda x: (x["change"], str(x["segment"][dim])))
    return out


def _lmdi(b: float, c: float, xb: float, xc: float, sign: int) -> float | None:
    if min(b, c, xb, xc) <= 0:
        return None
    w = (c - b) / (math.log(c) - math.log(b)) if c != b else b
    return sign * w * math.log(xc / xb)


def _drivers(at: pl.DataFrame, handled: list[int], team: str | None) -> dict[str, Any]:
    """The handled identity's factors from the agent_time aggregate (``_p``, team, ...)."""
    vals = []
    for p in (0, 1):
        s = at.filter(pl.col("_p") == p)
        if team is not None:
            s = s.filter(pl.col("team") == team)
        agents = s["agent_id"].n_unique()
        on = float(s["on"].sum())
        busy = float(s["busy"].sum())
        h = handled[p]
        vals.append(
            {
                "agents": agents,
                "productive_hours_per_agent": on / 3600 / agents if agents else math.nan,
                "occupancy": busy / on if on else math.nan,
                "work_per_handled_s": busy / h if h else math.nan,
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
        xb, xc = vals[0][name], vals[1][name]
        item = _change(xb, xc) if name == "agents" else _change(float(xb), float(xc))
        item["contribution"] = _r(_lmdi(b, c, float(xb), float(xc), sign), 2)
        factors[name] = item
    return {
        "segment": {} if team is None else {"team": team},
        "identity": IDENTITY,
        "factors": factors,
    }


def _aht(agg: pl.DataFrame, by: dict[str, Any] | None = None) -> dict[str, Any]:
    n = _counts(agg, by)
    work = _counts(agg, by, "work")
    vals = [work[k] / n[k] if n[k] else math.nan for k in (0, 1)]
    return _change(float(vals[0]), float(vals[1]), 1)


#: Dimensions the truth breaks each metric down by.
_CONTACT_DIMS = ["team", "site", "channel", "queue", "topic"]
_TICKET_DIMS = ["team", "topic", "priority", "channel"]


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
        "periods": {},  # filled below; the keys keep this order in scenario.json
        "causes": [],
        "metrics": {},
    }
    truth["objectives"] = objectives(tables, clock, queues, months)
    truth["periods"] = _periods(clock, months)
    truth["causes"] = _causes(clock, scenario, queues, roster_events, months)
    rank = {"attrition": 0, "new_topic": 1, "hiring": 2}
    truth["causes"].sort(key=lambda c: rank.get(c["kind"], 9))
    if months <= max(m0, m1):
        truth["note"] = "fewer months than the scenario's periods: no metrics measured"
        return truth
    c_agg, t_agg, at_agg = _aggregates(tables, _bounds(clock, m0), _bounds(clock, m1))
    specs = [
        (
            "contacts_handled",
            c_agg,
            "contacts",
            "arrival_ts",
            "contacts with outcome answered or outbound, counted in the period of arrival_ts",
            _CONTACT_DIMS,
        ),
        (
            "tickets_handled",
            t_agg,
            "tickets",
            "solved_ts",
            "tickets with a solved_ts inside the period (as of the end of the data)",
            _TICKET_DIMS,
        ),
    ]
    for metric, agg, table, tcol, definition, dims in specs:
        truth["metrics"][metric] = _metric_entry(
            metric,
            agg,
            at_agg,
            scenario,
            table=table,
            time_column=tcol,
            definition=definition,
            dims=dims,
        )
    return truth


def _periods(clock: Clock, months: int) -> dict[str, dict[str, str]]:
    """The story's months: baseline, current, recovery (as many as the run has)."""
    periods: dict[str, dict[str, str]] = {}
    names = ["baseline", "current", "recovery"]
    for k in range(min(months, 3)):
        a, b = clock.month_starts[k], clock.month_starts[k + 1]
        periods[names[k]] = {
            "label": period_label(a, b),
            "start": a.isoformat(),
            "end": b.isoformat(),
        }
    return periods


def _causes(
    clock: Clock,
    scenario: Scenario,
    queues: tuple[QueueSpec, ...],
    roster_events: list[dict],
    months: int,
) -> list[dict[str, Any]]:
    """The scenario's causes (attrition, hiring, a new topic), before sorting by kind."""
    causes: list[dict[str, Any]] = []
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
        causes.append(item)
    if scenario.new_topic and scenario.new_topic_month < months:
        mix = [
            sum(w * TOPICS[t].complexity for t, w in q.topics.items())
            for q in queues
            if q.name in scenario.new_topic_queues
        ]
        causes.append(
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
    return causes


def _aggregates(
    tables: dict[str, pl.DataFrame], p0: Any, p1: Any
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Contacts, tickets and agent time of the two measured periods, by their dimensions."""
    work = pl.col("talk_s") + pl.col("hold_s") + pl.col("acw_s")
    c_dims = _CONTACT_DIMS
    c_agg = (
        tables["contacts"]
        .lazy()
        .filter(pl.col("outcome").is_in(HANDLED))
        .with_columns(_period("arrival_ts", p0, p1))
        .filter(pl.col("_p").is_not_null())
        .group_by("_p", *c_dims)
        .agg(n=pl.len(), work=work.sum())
        .collect()
    )
    t_dims = _TICKET_DIMS
    t_agg = (
        tables["tickets"]
        .lazy()
        .with_columns(_period("solved_ts", p0, p1))
        .filter(pl.col("_p").is_not_null())
        .group_by("_p", *t_dims)
        .agg(n=pl.len(), work=pl.lit(0.0).sum())
        .collect()
    )
    on = pl.col("handle_s") + pl.col("acw_s") + pl.col("available_s")
    at_agg = (
        tables["agent_time"]
        .lazy()
        .with_columns(_period("interval_start", p0, p1))
        .filter(pl.col("_p").is_not_null(), on > 0)
        .group_by("_p", "team", "agent_id")
        .agg(on=on.sum(), busy=(pl.col("handle_s") + pl.col("acw_s")).sum())
        .collect()
    )
    return c_agg, t_agg, at_agg


def _metric_entry(
    metric: str,
    agg: pl.DataFrame,
    at_agg: pl.DataFrame,
    scenario: Scenario,
    *,
    table: str,
    time_column: str,
    definition: str,
    dims: list[str],
) -> dict[str, Any]:
    """One metric's change, its segments by each dimension, and the drivers of the change."""
    b, c = (int(x) for x in _counts(agg))
    entry: dict[str, Any] = {
        "definition": definition,
        "table": table,
        "time_column": time_column,
        **_change(b, c),
    }
    by = {d: _by(agg, d, c - b) for d in dims}
    resp_teams = scenario.responsible.get(metric, ())
    responsible: list[dict[str, str]] = [{"team": t} for t in resp_teams]
    if scenario.new_topic and resp_teams:
        responsible.append({"topic": scenario.new_topic})
    entry["responsible"] = responsible
    entry["segments"] = [s for s in by["team"] if s["segment"]["team"] in resp_teams]
    entry["by"] = by
    drivers = []
    for team in resp_teams:
        handled = [int(x) for x in _counts(agg, {"team": team})]
        d = _drivers(at_agg, handled, team)
        if metric == "contacts_handled":
            d["aht_s"] = _aht(agg, {"team": team})
        if scenario.new_topic:
            d["new_topic"] = _topic_share(agg, team, scenario.new_topic, metric)
        drivers.append(d)
    entry["drivers"] = drivers
    entry["drivers_total"] = _drivers(at_agg, [b, c], None)
    if metric == "contacts_handled":
        entry["drivers_total"]["aht_s"] = _aht(agg)
    return entry


def _topic_share(agg: pl.DataFrame, team: str, topic: str, metric: str) -> dict[str, Any]:
    out: dict[str, Any] = {"topic": topic}
    allc = _counts(agg, {"team": team})
    new = _counts(agg, {"team": team, "topic": topic})
    shares = [new[k] / allc[k] if allc[k] else 0.0 for k in (0, 1)]
    out["share_of_handled"] = _change(float(shares[0]), float(shares[1]))
    if metric == "contacts_handled":
        t = agg.filter(pl.col("team") == team, pl.col("_p") == 1)
        nw = t.filter(pl.col("topic") == topic)
        old = t.filter(pl.col("topic") != topic)

        def aht(x: pl.DataFrame) -> float | None:
            n = int(x["n"].sum())
            return _r(float(x["work"].sum()) / n, 1) if n else None

        out["aht_s_current"] = aht(nw)
        out["aht_s_other_topics_current"] = aht(old)
    return out


def _objective_text(q: QueueSpec) -> str:
    t = q.sl_threshold_s
    within = f"{t / 3600:g} h" if t >= 3600 else f"{t / 60:g} min" if t >= 60 * 5 else f"{t:g} s"
    if q.objective == "response_time":
        what = "first response" if q.channel == "ticket" else "answered"
        return f"{q.sl_target:.0%} {what} within {within}"
    return f"{q.sl_target:.0%} answered within {within}"


def objectives(
    tables: dict[str, pl.DataFrame], clock: Clock, queues: tuple[QueueSpec, ...], months: int
) -> list[dict[str, Any]]:
    """Each queue's service objective and the share of its work that met it, per month.

    Real-time queues (voice, chat): answered within the threshold / (answered + abandoned in
    the queue + flowed out), by month of ``queue_ts``. Deferred work: e-mails answered within
    the threshold of ``queue_ts`` / e-mails received; tickets with a first response within the
    threshold of ``created_ts`` / tickets created (work still waiting counts as missed). Queues
    without a request time in the data (outbound callbacks) carry no achieved figure.
    """
    out = []
    labels = [
        period_label(clock.month_starts[k], clock.month_starts[k + 1]) for k in range(months)
    ]
    contacts = tables.get("contacts")
    tickets = tables.get("tickets")
    for q in queues:
        entry: dict[str, Any] = {
            "queue": q.name,
            "team": q.team,
            "channel": "ticket" if q.channel == "ticket" else q.channel,
            "kind": q.objective,
            "objective": _objective_text(q),
            "threshold_s": float(q.sl_threshold_s),
            "target": q.sl_target,
            "achieved": None,
        }
        t = q.sl_threshold_s
        if q.channel == "ticket" and tickets is not None:
            frame = tickets.filter(pl.col("team") == q.team)
            ts = "created_ts"
            rt = (pl.col("first_response_ts") - pl.col("created_ts")).dt.total_seconds()
            met = rt.is_not_null() & (rt <= t)
            base = pl.lit(True)
        elif contacts is not None and q.channel in ("voice", "chat", "email"):
            frame = contacts.filter(pl.col("queue") == q.name, pl.col("queue_ts").is_not_null())
            ts = "queue_ts"
            met = (pl.col("outcome") == "answered") & (pl.col("wait_s") <= t)
            base = pl.col("outcome").is_in(["answered", "abandoned_queue", "flowout"])
        else:
            out.append(entry)
            continue
        month = pl.col(ts).dt.strftime("%Y-%m")
        got = frame.filter(base).group_by(month.alias("m")).agg((met.sum() / pl.len()).alias("a"))
        by = dict(got.iter_rows())
        entry["achieved"] = {lab: _r(by.get(lab)) for lab in labels}
        out.append(entry)
    return out


def objective_lines(objectives: list[dict], periods: dict) -> list[str]:
    """README lines: each queue's objective and what it achieved in the story's months."""
    labels = [periods[k]["label"] for k in ("baseline", "current") if k in periods]
    lines = []
    for o in objectives:
        got = o.get("achieved") or {}
        if not got:
            continue
        vals = ", ".join(f"{got[lab]:.0%} in {lab}" for lab in labels if got.get(lab) is not None)
        lines.append(f"- Objective {o['queue']}: {o['objective']}; achieved {vals}.")
    if lines:
        lines.insert(
            0,
            "- Service objectives per queue (`objectives` in `scenario.json`): e-mail and "
            "tickets are deferred work, measured by response time in hours, not by a "
            "20-second service level.",
        )
    return lines
