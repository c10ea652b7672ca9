"""Drivers: the change of a KPI split along its driver tree, exactly (see :func:`drivers`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from kpi.compute import evaluate, measure_frame
from kpi.data import Dataset
from kpi.explain._model import DEFAULT_DIMS, Driver, _div, _period
from kpi.explain._queueing import QUEUE_KPIS, queue_drivers
from kpi.explain._segments import _leaves
from kpi.metrics import METRICS, Measure, Metric
from kpi.metrics import factories as B
from kpi.periods import Period

__all__ = ["drivers"]


@dataclass(frozen=True)
class _Factor:
    name: str
    label: str
    unit: str
    value: Callable[[Mapping[str, float | None]], float | None]
    exponent: int = 1


def _logmean(a: float, b: float) -> float:
    if a == b:
        return a
    return (a - b) / (math.log(a) - math.log(b))


def _lmdi(
    factors: Sequence[_Factor], m0: Mapping, m1: Mapping, v0: float, v1: float
) -> list[Driver] | None:
    x0 = [f.value(m0) for f in factors]
    x1 = [f.value(m1) for f in factors]
    if any(x is None or x <= 0 for x in (*x0, *x1)) or v0 <= 0 or v1 <= 0:
        return None
    weight = _logmean(v1, v0)
    return [
        Driver(f.name, f.label, f.unit, a, b, weight * f.exponent * math.log(b / a))
        for f, a, b in zip(factors, x0, x1, strict=True)
    ]


def _product_tree(
    metric_id: str, params: Mapping[str, Any]
) -> tuple[list[Measure], list[_Factor]] | None:
    if metric_id == "contacts_handled" and params.get("direction", "all") == "all":
        n, busy, prod, hc, h = (
            B.agents_scheduled(),
            B.agent_busy(),
            B.agent_busy(available=True),
            B.handle_time(),
            B.handled(),
        )
        factors = [
            _Factor("agents", "agents staffed", "count", lambda m: m[n.name]),
            _Factor(
                "hours_per_agent",
                "productive hours per agent",
                "h",
                lambda m: _div(m[prod.name], m[n.name], 1 / 3600),
            ),
            _Factor("occupancy", "occupancy", "ratio", lambda m: _div(m[busy.name], m[prod.name])),
            _Factor(
                "coverage",
                "handle time booked on contacts / agent busy time",
                "ratio",
                lambda m: _div(m[hc.name], m[busy.name]),
            ),
            _Factor(
                "aht",
                "average handle time",
                "s",
                lambda m: _div(m[hc.name], m[h.name]),
                exponent=-1,
            ),
        ]
        return [n, busy, prod, hc, h], factors
    if metric_id == "tickets_handled" and params.get("basis", "solved") == "solved":
        n, prod, t = B.agents_scheduled(), B.agent_busy(available=True), B.tickets_solved()
        factors = [
            _Factor("agents", "agents staffed", "count", lambda m: m[n.name]),
            _Factor(
                "hours_per_agent",
                "productive hours per agent",
                "h",
                lambda m: _div(m[prod.name], m[n.name], 1 / 3600),
            ),
            _Factor(
                "tickets_per_hour",
                "tickets solved per productive hour",
                "count",
                lambda m: _div(m[t.name], m[prod.name], 3600),
            ),
        ]
        return [n, prod, t], factors
    if metric_id in ("contacts_answered", "contacts_handled"):
        off, num = (
            B.offered(0),
            (
                B.answered()
                if metric_id == "contacts_answered" or params.get("direction") == "inbound"
                else B.handled()
            ),
        )
        factors = [
            _Factor("offered", "contacts offered", "count", lambda m: m[off.name]),
            _Factor(
                "answer_rate",
                "share of offered contacts handled",
                "ratio",
                lambda m: _div(m[num.name], m[off.name]),
            ),
        ]
        return [off, num], factors
    return None


def _sum_tree(
    metric_id: str, params: Mapping[str, Any]
) -> tuple[list[Measure], list[_Factor]] | None:
    if metric_id != "aht":
        return None
    h = B.handled()
    parts = ["talk_s", "hold_s"] + (
        ["acw_s"] if params.get("components", "talk_hold_acw") == "talk_hold_acw" else []
    )
    labels = {
        "talk_s": "talk time per contact",
        "hold_s": "hold time per contact",
        "acw_s": "after-call work per contact",
    }
    measures = [h, *[B.contact_sum(c) for c in parts]]
    factors = [
        _Factor(c[:-2], labels[c], "s", lambda m, c=c: _div(m[c], m[h.name])) for c in parts
    ]
    return measures, factors


def _mix_rate_drivers(
    ds: Dataset,
    metric: Metric,
    params: Mapping[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str],
) -> list[Driver] | None:
    """For a ratio KPI without a driver tree: the change split into mix and rate effects along
    the dimension whose mix moved most (shift-share; the two sum to the change exactly)."""
    from kpi import rca

    build = metric.build(params)
    if (
        build.denominator is None
        or build.value is not None
        or build.numerator.kind != "sum"
        or build.denominator.kind != "sum"
    ):
        return None
    best: tuple[float, str, float, float] | None = None
    for dim in dims:
        leaves = _leaves(ds, metric, params, p0, p1, [dim])
        if leaves is None:
            continue
        num, den = build.numerator.name, build.denominator.name
        segs = rca.segments(
            leaves,
            dims=[dim],
            baseline=f"{num}__b",
            current=f"{num}__c",
            ratio=(f"{den}__b", f"{den}__c"),
            scale=build.scale,
            max_order=1,
        ).collect()
        if segs.height == 0:
            continue
        mix, rate = float(segs["mix"].fill_null(0).sum()), float(segs["rate"].fill_null(0).sum())
        if best is None or abs(mix) > abs(best[2]):
            best = (abs(mix), dim, mix, rate)
    if best is None:
        return None
    _, dim, mix, rate = best
    return [
        Driver(
            f"mix_{dim}",
            f"mix: the share of volume moving between {dim} values",
            metric.unit_for(params),
            None,
            None,
            mix,
        ),
        Driver(
            f"rate_{dim}",
            f"rate: changes within each {dim}",
            metric.unit_for(params),
            None,
            None,
            rate,
        ),
    ]


def drivers(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    *,
    baseline: str | Period,
    current: str | Period,
    params: Mapping[str, Any] | None = None,
    dims: Sequence[str] = DEFAULT_DIMS,
) -> list[Driver]:
    """The KPI's change split along its driver tree; contributions sum to the change exactly.

    KPIs without a driver tree that are ratios are split into mix and rate effects along the
    dimension of ``dims`` whose mix moved most.

    Notes
    -----
    LMDI-I: for ``V = Π x_i^e_i``, ``ΔV = Σ L(V1, V0) · e_i · ln(x_i1 / x_i0)`` with the
    logarithmic mean ``L(a, b) = (a − b) / (ln a − ln b)``. Sum trees: ``ΔV = Σ Δx_i``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t0, t1 = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [t0, t1],
    ...         "outcome": ["answered"] * 2,
    ...         "talk_s": [100.0, 150.0],
    ...         "hold_s": [0.0, 30.0],
    ...         "acw_s": [20.0, 20.0],
    ...     }
    ... )
    >>> [
    ...     (d.name, d.contribution)
    ...     for d in drivers({"contacts": c}, "aht", baseline="2026-01", current="2026-02")
    ... ]
    [('talk', 50.0), ('hold', 30.0), ('acw', 0.0)]
    """
    ds = Dataset.coerce(data)
    usable = [
        d for d in dims if any(d in lf.collect_schema().names() for lf in ds.tables.values())
    ]
    return _drivers(
        ds, METRICS[metric], dict(params or {}), _period(baseline), _period(current), usable
    )[0]


def _values(ds: Dataset, measures: Sequence[Measure], p: Period) -> dict[str, float | None]:
    lf, _ = measure_frame(ds, measures, period=p)
    df = lf.collect()
    return {
        m.name: (df[m.name][0] if df.height and m.name in df.columns else None) for m in measures
    }


def _align_staff(ds: Dataset, metric: Metric) -> Dataset:
    """Keep only the agent time of teams that work the KPI's table (contacts or tickets)."""
    activity = "tickets" if metric.id == "tickets_handled" else "contacts"
    if "agent_time" not in ds or activity not in ds:
        return ds
    if (
        "team" not in ds["agent_time"].collect_schema().names()
        or "team" not in ds[activity].collect_schema().names()
    ):
        return ds
    teams = ds[activity].select(pl.col("team").drop_nulls().unique())
    tables = dict(ds.tables)
    tables["agent_time"] = ds["agent_time"].join(teams, on="team", how="semi")
    return Dataset(tables, tz=ds.tz, meta=ds.meta, path=ds.path)


def _drivers(
    ds: Dataset,
    metric: Metric,
    params: dict[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str] = (),
) -> tuple[list[Driver], str]:
    full = metric.resolve_params(params)
    ds = _align_staff(ds, metric)
    values = {}
    for key, p in (("b", p0), ("c", p1)):
        r = evaluate(ds, metric.id, period=p, params={metric.id: full}).frame.collect()
        values[key] = r[metric.id][0] if r.height else None
    v0, v1 = values["b"], values["c"]
    if v0 is None or v1 is None:
        return [], "none"
    out: list[Driver] | None = None
    method = "none"
    tree = _product_tree(metric.id, full)
    if tree:
        measures, factors = tree
        m0, m1 = _values(ds, measures, p0), _values(ds, measures, p1)
        out = _lmdi(factors, m0, m1, v0, v1)
        if (
            out is None and metric.id == "contacts_handled"
        ):  # no agent_time: offered × handled share
            tree = _product_tree("contacts_answered", {"direction": "all"})
            assert tree is not None
            measures, factors = tree
            factors[1] = _Factor(
                "handled_share",
                "contacts handled per contact offered",
                "ratio",
                lambda m: _div(m["handled"], m["offered"]),
            )
            measures = [B.offered(0), B.handled()]
            m0, m1 = _values(ds, measures, p0), _values(ds, measures, p1)
            out = _lmdi(factors, m0, m1, v0, v1)
        method = "LMDI-I on a product driver tree"
    if out is None and (tree := _sum_tree(metric.id, full)):
        measures, factors = tree
        m0, m1 = _values(ds, measures, p0), _values(ds, measures, p1)
        x0, x1 = [f.value(m0) for f in factors], [f.value(m1) for f in factors]
        if None not in x0 and None not in x1:
            out = [
                Driver(f.name, f.label, f.unit, a, b, b - a)
                for f, a, b in zip(factors, x0, x1, strict=True)
            ]
            method = "component deltas of a sum driver tree"
    if out is None and metric.id in QUEUE_KPIS:
        out = queue_drivers(ds, metric, full, p0, p1, v0, v1)
        method = "Shapley split of an Erlang model (volume, handle time, staffing) plus the unmodelled rest"
    if out is None and dims:
        out = _mix_rate_drivers(ds, metric, full, p0, p1, dims)
        method = "shift-share: mix and rate effects along the dimension whose mix moved most"
    if not out:
        return [], "none"
    total = v1 - v0
    return [
        Driver(
            d.name,
            d.label,
            d.unit,
            d.baseline,
            d.current,
            d.contribution,
            (d.contribution / total) if total else None,
        )
        for d in out
    ], method
