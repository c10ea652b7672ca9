"""Balanced scorecards: every KPI for a period against the previous one and its target.

:func:`scorecard` gives one row per KPI (and group): perspective, key result area, value, the
comparison period's value, the change, the target, a green/amber/red status and the definition
used. :func:`team_leader_view` shows the team-leader KPIs per team, and :func:`agent_scorecard`
ranks agents only where they handled enough contacts for a fair comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from kpi.compute import evaluate
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import METRICS, PERSPECTIVES, resolve
from kpi.periods import Period, parse_period, previous_period
from kpi.targets import TargetSet

__all__ = [
    "PREVIOUS",
    "TICKET_AGENT_KPIS",
    "agent_scorecard",
    "catalogue_frame",
    "scorecard",
    "team_leader_view",
]

#: ``compare`` of :func:`scorecard` meaning the period before ``period`` (its default).
PREVIOUS = "previous"

TEAM_LEADER_KPIS = (
    "contacts_handled",
    "aht",
    "qa_score",
    "adherence",
    "attendance",
    "coaching_per_agent",
    "agent_attrition",
)
AGENT_KPIS = ("contacts_handled", "aht", "fcr", "transfer_rate", "csat", "qa_score", "adherence")
#: KPIs of agents whose work is tickets (they replace the contact KPIs on their scorecard).
TICKET_AGENT_KPIS = ("tickets_handled", "first_response_time", "avg_resolution_time")


def _period(p: str | Period) -> Period:
    return p if isinstance(p, Period) else parse_period(p)


def catalogue_frame(
    targets: TargetSet | None = None, params: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """The KPI declarations as a small frame (id, label, perspective, kra, unit, direction, target, red).

    Unit and default target are those of the variants in ``params`` (as for
    :func:`kpi.compute.compute`): CSAT as a mean score is in points, against 4.2 on 1-5.

    Examples
    --------
    >>> catalogue_frame().filter(pl.col("id") == "service_level").row(0)
    ('service_level', 'Service level', 'customer', 'speed', 'ratio', 'higher', 0.8, 0.7, 0)
    >>> mean = catalogue_frame(params={"csat.method": "mean"}).filter(pl.col("id") == "csat")
    >>> mean.select("unit", "target", "red").row(0)
    ('points', 4.2, 3.8)
    """
    targets = targets or TargetSet()
    rows = []
    for m, p in resolve("all", params):
        t = targets.default(m.id, {m.id: p})
        rows.append(
            {
                "id": m.id,
                "label": m.label,
                "perspective": m.perspective,
                "kra": m.kra,
                "unit": m.unit_for(p),
                "direction": m.direction,
                "target": None if t is None else float(t.target),
                "red": None if t is None else float(t.red),
                "perspective_order": PERSPECTIVES.index(m.perspective),
            }
        )
    return pl.DataFrame(rows)


def _long(frame: pl.LazyFrame, keys: Sequence[str], ids: Sequence[str], name: str) -> pl.LazyFrame:
    return frame.select(*keys, *ids).unpivot(
        index=list(keys), on=list(ids), variable_name="id", value_name=name
    )


def scorecard(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    compare: str | Period | None = PREVIOUS,
    metrics: str | Iterable[str] = "all",
    by: Sequence[str] = (),
    targets: TargetSet | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """The balanced scorecard for ``period`` against ``compare`` (default: the period before).

    Parameters
    ----------
    compare
        The comparison period; :data:`PREVIOUS` (the default) for the period before ``period``;
        ``None`` or ``""`` for no comparison (a comparison period without data): the columns
        stay, ``previous``, ``change``, ``change_rel`` and ``improved`` are null.

    Returns
    -------
    (pl.LazyFrame, dict)
        Rows per KPI (and ``by`` group), sorted by perspective and key result area, with
        ``value``, ``previous``, ``change``, ``change_rel``, ``target``, ``red``, ``status``
        (green, amber, red or null), ``improved`` (direction-aware), and the definitions used.
        KPIs the data cannot support are left out.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t0, t1 = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t0, t1, t1],
    ...         "outcome": ["answered", "answered", "abandoned_queue"],
    ...         "wait_s": [5.0, 50.0, 20.0],
    ...     }
    ... )
    >>> card, defs = scorecard({"contacts": c}, period="2026-02", metrics=["abandon_rate", "asa"])
    >>> card.collect().select("id", "value", "previous", "status").rows()
    [('abandon_rate', 0.5, 0.0, 'red'), ('asa', 50.0, 5.0, 'amber')]

    Without a comparison (``compare=None``) the comparison columns are null:

    >>> card, _ = scorecard({"contacts": c}, period="2026-02", compare=None, metrics=["asa"])
    >>> card.collect().select("value", "previous", "change", "change_rel", "improved").rows()
    [(50.0, None, None, None, None)]
    """
    p1 = _period(period)
    if isinstance(compare, str) and compare == PREVIOUS:
        p0: Period | None = previous_period(p1)
    else:
        p0 = _period(compare) if compare not in (None, "") else None  # type: ignore[arg-type]
    targets = targets or TargetSet()
    # the targets file's service objectives set the thresholds of the KPIs judged by them
    params = targets.with_objectives(params)
    keys = list(by)
    data = Dataset.coerce(data)  # once: a dataset directory is opened for both periods
    cur = evaluate(
        data,
        metrics,
        by=keys,
        period=p1,
        params=params,
        measures=False,
    )
    ids = [m for m in cur.metrics if m not in cur.notes]
    out = _long(cur.frame, keys, ids, "value")
    if p0 is None:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("previous"))
    else:
        prev = evaluate(
            data,
            metrics,
            by=keys,
            period=p0,
            params=params,
            measures=False,
        )
        out = out.join(
            _long(prev.frame, keys, ids, "previous"),
            on=[*keys, "id"],
            how="full",
            coalesce=True,
            nulls_equal=True,
        )
    out = _with_targets(out, ids, keys, targets, params)
    out = _with_change_and_status(out)
    defs = {k: v for k, v in cur.definitions.items() if k in ids}
    return _in_catalogue_order(out, keys), defs


def _with_targets(
    out: pl.LazyFrame,
    ids: Sequence[str],
    keys: Sequence[str],
    targets: TargetSet,
    params: Mapping[str, Any] | None,
) -> pl.LazyFrame:
    """The catalogue columns of each KPI, with targets overridden per group where set."""
    out = out.join(catalogue_frame(targets, params).lazy(), on="id", how="left")
    overrides = [
        (kpi_id, col, val, t)
        for kpi_id in ids
        for (col, val), t in targets.overrides(kpi_id).items()
        if col in keys
    ]
    for kpi_id, col, val, t in overrides:
        hit = (pl.col("id") == kpi_id) & (pl.col(col).cast(pl.String) == val)
        out = out.with_columns(
            pl.when(hit).then(pl.lit(t.target)).otherwise(pl.col("target")).alias("target"),
            pl.when(hit).then(pl.lit(t.red)).otherwise(pl.col("red")).alias("red"),
        )
    return out


def _with_change_and_status(out: pl.LazyFrame) -> pl.LazyFrame:
    """``change``, ``change_rel``, the green/amber/red ``status`` and ``improved``."""
    sign = pl.when(pl.col("direction") == "higher").then(1.0).otherwise(-1.0)
    v = pl.col("value")
    return out.with_columns(
        (v - pl.col("previous")).alias("change"),
        pl.when(pl.col("previous").abs() > 0)
        .then((v - pl.col("previous")) / pl.col("previous").abs())
        .alias("change_rel"),
        pl.when(v.is_null() | pl.col("target").is_null())
        .then(None)
        .when((v - pl.col("target")) * sign >= 0)
        .then(pl.lit("green"))
        .when((v - pl.col("red")) * sign < 0)
        .then(pl.lit("red"))
        .otherwise(pl.lit("amber"))
        .alias("status"),
        pl.when((v - pl.col("previous")).abs() < 1e-12)
        .then(None)
        .otherwise((v - pl.col("previous")) * sign > 0)
        .alias("improved"),
    )


def _in_catalogue_order(out: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Rows by perspective, key result area and catalogue order; the scorecard's columns."""
    order = {m: i for i, m in enumerate(METRICS)}
    return (
        out.with_columns(pl.col("id").replace_strict(order, default=len(order)).alias("_order"))
        .sort(["perspective_order", "kra", "_order", *keys])
        .select(
            *keys,
            "perspective",
            "kra",
            "id",
            "label",
            "unit",
            "direction",
            "value",
            "previous",
            "change",
            "change_rel",
            "target",
            "red",
            "status",
            "improved",
        )
    )


def team_leader_view(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    metrics: Sequence[str] = TEAM_LEADER_KPIS,
    targets: TargetSet | None = None,
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Team-leader KPIs per team for a period, wide, with ``<kpi>_status`` columns.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t, t],
    ...         "outcome": ["answered"] * 2,
    ...         "team": ["A", "B"],
    ...         "talk_s": [100.0, 400.0],
    ...         "hold_s": [0.0, 0.0],
    ...         "acw_s": [0.0, 0.0],
    ...     }
    ... )
    >>> team_leader_view({"contacts": c}, period="2026-02", metrics=["aht"]).collect().rows()
    [('A', 100.0), ('B', 400.0)]
    """
    from kpi.targets import status_columns

    p = _period(period)
    r = evaluate(
        data,
        list(metrics),
        by="team",
        period=p,
        params=params,
        measures=False,
    )
    ids = [m for m in r.metrics if m not in r.notes]
    return status_columns(r.frame.select("team", *ids), ids, targets, params=params)


def agent_scorecard(
    data: Dataset | Mapping[str, Any] | str,
    *,
    period: str | Period,
    metrics: Sequence[str] = AGENT_KPIS,
    ticket_metrics: Sequence[str] = TICKET_AGENT_KPIS,
    min_contacts: int = 50,
    rank_by: str = "fcr",
    ticket_rank_by: str = "tickets_handled",
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Per-agent KPIs that respect small numbers: agents with fewer than ``min_contacts``
    handled contacts are shown but not ranked (``rank`` null, ``reliable`` false).

    Agents whose work is tickets (they solved tickets and handled no contacts in the period)
    are scored on ``ticket_metrics`` instead: their ``contacts_handled`` is null, not 0, they
    need ``min_contacts`` solved tickets for a rank, and they are ranked on ``ticket_rank_by``
    among the ticket agents of their team. Likewise ``tickets_handled`` is null for agents who
    handled contacts and no tickets. Ticket KPIs appear only where the data has tickets.

    Notes
    -----
    ``rank_by`` the data cannot support (FCR without customer ids) falls back to the first of
    ``metrics`` they do support; with none, ``rank`` is null (``ticket_rank_by`` likewise with
    ``ticket_metrics``). Ranking on a handful of contacts rewards luck; the default floor of 50
    keeps the binomial standard error of a rate near 0.5 under 7 points. The rank follows the
    KPI's direction.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t] * 4,
    ...         "outcome": ["answered"] * 4,
    ...         "agent_id": ["a", "a", "a", "b"],
    ...         "team": ["A"] * 4,
    ...         "talk_s": [100.0, 120.0, 140.0, 50.0],
    ...         "hold_s": [0.0] * 4,
    ...         "acw_s": [0.0] * 4,
    ...     }
    ... )
    >>> agent_scorecard(
    ...     {"contacts": c}, period="2026-02", metrics=["aht"], min_contacts=2, rank_by="aht"
    ... ).collect().rows()
    [('A', 'a', 3.0, 120.0, True, 1), ('A', 'b', 1.0, 50.0, False, None)]

    A tickets team's agent gets ticket KPIs, not zero contacts:

    >>> from datetime import timedelta
    >>> tk = pl.DataFrame(
    ...     {
    ...         "ticket_id": ["T1", "T2", "T3"],
    ...         "created_ts": [t, t, t],
    ...         "first_response_ts": [t + timedelta(hours=h) for h in (2, 4, 1)],
    ...         "solved_ts": [t + timedelta(hours=h) for h in (3, 8, 2)],
    ...         "agent_id": ["x", "x", "y"],
    ...         "team": ["T"] * 3,
    ...     }
    ... )
    >>> card = agent_scorecard(
    ...     {"contacts": c, "tickets": tk},
    ...     period="2026-02",
    ...     metrics=["aht"],
    ...     ticket_metrics=["tickets_handled", "first_response_time"],
    ...     min_contacts=2,
    ...     rank_by="aht",
    ... ).collect()
    >>> card.filter(pl.col("team") == "T").rows()
    [('T', 'x', None, None, 2.0, 3.0, True, 1), ('T', 'y', None, None, 1.0, 1.0, False, None)]
    """
    p = _period(period)
    ids = list(dict.fromkeys(["contacts_handled", *metrics, *ticket_metrics]))
    data = Dataset.coerce(data)
    if not any("agent_id" in lf.collect_schema().names() for lf in data.tables.values()):
        raise KpiError(
            "agent scorecards need agent_id (the agent of each contact, ticket or agent-time "
            f"row); this data has none (tables: {', '.join(sorted(data.tables))})"
        )
    r = evaluate(
        data,
        ids,
        by=("team", "agent_id"),
        period=p,
        params=params,
        measures=False,
    )
    ok = [m for m in r.metrics if m not in r.notes]
    contact_ids = [m for m in ok if m == "contacts_handled" or m in metrics]
    ticket_ids = [m for m in ok if m in ticket_metrics and m not in contact_ids]
    tickets_on = "tickets_handled" in ticket_ids
    contacts_on = "contacts_handled" in contact_ids  # a ticket log alone has no contacts
    handled = pl.col("contacts_handled").fill_null(0) if contacts_on else pl.lit(0)
    solved = pl.col("tickets_handled").fill_null(0) if tickets_on else pl.lit(0)
    ticket_work = (solved > 0) & (handled == 0)
    reliable = pl.when(ticket_work).then(solved).otherwise(handled) >= min_contacts
    frame = r.frame.filter(pl.col("agent_id").is_not_null()).select(
        "team", "agent_id", *contact_ids, *ticket_ids
    )
    if ticket_ids:
        # each kind of work is scored where the agent did it: no zero contacts for a ticket
        # agent, no zero tickets (or ticket times) for an agent on the phones
        # (KPIs of QA, adherence and the like apply to every agent and are left as they are)
        frame = frame.with_columns(
            *(
                [pl.when(~ticket_work).then(pl.col("contacts_handled")).alias("contacts_handled")]
                if contacts_on
                else []
            ),
            *(pl.when(solved > 0).then(pl.col(m)).alias(m) for m in ticket_ids),
        )
    frame = frame.with_columns(reliable.alias("reliable"), ticket_work.alias("_tickets"))
    rank_on = _rank_on(rank_by, metrics, contact_ids)
    ticket_rank_on = _rank_on(ticket_rank_by, ticket_metrics, ticket_ids)
    rank = pl.lit(None, pl.Int64)
    for on, mine in ((ticket_rank_on, pl.col("_tickets")), (rank_on, ~pl.col("_tickets"))):
        if on is None:
            continue
        desc = METRICS[on].direction == "higher"
        hit = pl.col("reliable") & mine
        r_on = pl.when(hit).then(pl.col(on)).rank(method="min", descending=desc).over("team")
        rank = pl.when(hit).then(r_on.cast(pl.Int64)).otherwise(rank)
    return frame.with_columns(rank.alias("rank")).drop("_tickets").sort("team", "agent_id")


def _rank_on(rank_by: str, asked: Sequence[str], ok: Sequence[str]) -> str | None:
    """``rank_by`` if the data support it, else the first KPI asked for that they support
    (never a count of handled work nor a KPI unknown throughout); None when there is none."""
    if rank_by in ok:
        return rank_by
    counts = ("contacts_handled", "tickets_handled")
    return next((m for m in asked if m in ok and m not in counts), None)
