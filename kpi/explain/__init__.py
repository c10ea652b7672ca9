"""Why did a KPI move? Drivers, segments, a narrative, and the rows behind a segment.

:func:`explain` compares a KPI between a baseline and a current period:

1. **Drivers**: the change is split along the KPI's driver tree with an exact additive
   attribution. Product trees (contacts handled = agents × productive hours per agent ×
   occupancy × coverage / AHT; contacts answered = offered × answer rate) use LMDI-I
   (log-mean Divisia), sum trees (AHT = talk + hold + after-call work per contact) use the
   component deltas, and the queueing KPIs (service level, ASA, abandonment, average wait) use a
   Shapley split of an Erlang model over offered volume, handle time and staffing, with the
   part the model does not explain reported as its own driver. Other ratios split into their
   numerator and denominator (LMDI). Contributions always sum to the total change exactly.
2. **Segments**: which teams, channels, topics, queues (and combinations of two or three of
   them) explain the change, from :mod:`kpi.rca`: segment deltas for additive KPIs, a
   mix-versus-rate split for ratios, and a search for the smallest set of segments that
   explains most of the change.
3. **Narrative**: three to six plain sentences with the numbers from 1 and 2, honest when
   nothing explains the change.
4. **Rows**: :func:`rows` returns the records behind any segment.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from kpi import _builders as B
from kpi.compute import evaluate, measure_frame
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.measures import Measure
from kpi.metrics import METRICS, Metric
from kpi.periods import Period, parse_period

__all__ = [
    "Driver",
    "Explanation",
    "drivers",
    "explain",
    "format_value",
    "narrative",
    "restrict",
    "rows",
]

DEFAULT_DIMS = ("team", "channel", "queue", "topic")


@dataclass(frozen=True)
class Driver:
    """One driver's values in both periods and its additive contribution to the change."""

    name: str
    label: str
    unit: str
    baseline: float | None
    current: float | None
    contribution: float
    share: float | None = None


@dataclass
class Explanation:
    """The answer to "why did this KPI move?" (see :func:`explain`)."""

    metric: str
    label: str
    unit: str
    direction: str
    definition: str
    baseline: dict[str, Any]
    current: dict[str, Any]
    change: dict[str, float | None]
    drivers: list[Driver]
    segments: list[dict[str, Any]]
    narrative: list[str]
    dims: list[str] = field(default_factory=list)
    method: dict[str, Any] = field(default_factory=dict)
    segment_drivers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with the documented JSON keys."""
        out = asdict(self)
        out["drivers"] = [asdict(d) for d in self.drivers]
        return out

    def to_markdown(self) -> str:
        """A readable report: narrative, drivers table, segments table."""
        lines = [f"# Why {self.label} changed", ""]
        lines += [f"- {s}" for s in self.narrative]
        lines += ["", f"Definition: {self.definition}", ""]
        if self.drivers:
            lines += [
                "## Drivers",
                "",
                "| driver | baseline | current | contribution | share |",
                "|---|---|---|---|---|",
            ]
            for d in self.drivers:
                lines.append(
                    f"| {d.label} | {format_value(d.baseline, d.unit)} | {format_value(d.current, d.unit)} "
                    f"| {format_value(d.contribution, self.unit, signed=True)} | {_pct(d.share)} |"
                )
            lines.append("")
        if self.segments:
            lines += [
                "## Segments",
                "",
                "| segment | baseline | current | contribution | share |",
                "|---|---|---|---|---|",
            ]
            for s in self.segments:
                name = ", ".join(f"{k} = {v}" for k, v in s["dims"].items())
                lines.append(
                    f"| {name} | {format_value(s.get('baseline'), self.unit)} | "
                    f"{format_value(s.get('current'), self.unit)} | "
                    f"{format_value(s.get('contribution'), self.unit, signed=True)} | {_pct(s.get('share'))} |"
                )
        return "\n".join(lines) + "\n"


# ---- formatting ----------------------------------------------------------------------------


def format_value(value: float | None, unit: str, *, signed: bool = False) -> str:
    """A number as a manager reads it: counts with separators, ratios in %, seconds as m:ss.

    Examples
    --------
    >>> format_value(12410, "count"), format_value(0.8123, "ratio"), format_value(312.4, "s")
    ('12,410', '81.2%', '5 min 12 s')
    >>> format_value(-0.031, "ratio", signed=True)
    '−3.1 pts'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    sign = (
        ("+" if value > 0 else "−" if value < 0 else "") if signed else ("−" if value < 0 else "")
    )
    v = abs(value)
    if unit == "ratio":
        return f"{sign}{v * 100:.1f} pts" if signed else f"{sign}{v * 100:.1f}%"
    if unit == "s":
        if v >= 90:
            m, s = divmod(round(v), 60)
            return f"{sign}{m} min {s} s"
        return f"{sign}{v:.0f} s" if v >= 10 else f"{sign}{v:.1f} s"
    if unit == "h":
        return f"{sign}{v:.1f} h"
    if unit == "currency":
        return f"{sign}{v:,.2f}"
    if unit in ("count", "agents") and abs(v - round(v)) < 1e-9:
        return f"{sign}{round(v):,}"
    if v >= 100:
        return f"{sign}{v:,.0f}"
    return f"{sign}{v:,.2f}"


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.0f}%"


# ---- driver trees --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Factor:
    name: str
    label: str
    unit: str
    value: Callable[[Mapping[str, float | None]], float | None]
    exponent: int = 1


def _div(a: float | None, b: float | None, scale: float = 1.0) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return scale * a / b


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


_QUEUE_KPIS = {"service_level", "asa", "abandon_rate", "avg_wait"}


def _queue_drivers(
    ds: Dataset,
    metric: Metric,
    params: Mapping[str, Any],
    p0: Period,
    p1: Period,
    v0: float,
    v1: float,
) -> list[Driver] | None:
    """Shapley split of an Erlang model over volume, handle time and staffing (see module doc).

    Each team's baseline half-hours are replayed with that team's volume, handle time and
    staffing scaled to their current-period levels, one factor at a time in every order
    (Shapley values of the three factors); Erlang A uses the patience estimated from the
    baseline (total wait of queued contacts / abandons). What the model does not reproduce of
    the actual change is reported as "other".
    """
    import numpy as np

    from kpi import staffing

    if "agent_time" not in ds or "contacts" not in ds:
        return None
    off, h, hs, staff = B.offered(0), B.handled(), B.handle_time(), B.agent_busy(available=True)
    ab, wq = B.abandoned(0), B.wait_queued()
    need = [off, h, hs, staff, ab, wq]
    by = (
        ("team",)
        if all("team" in ds[t].collect_schema().names() for t in ("contacts", "agent_time"))
        else ()
    )
    frames = []
    for p in (p0, p1):
        lf, missing = measure_frame(
            ds, need, by=by, every="30m", start=p.start, end=p.end - _ONE_DAY
        )
        if missing:
            return None
        frames.append(lf.collect())
    base, cur = frames
    groups = base.partition_by(list(by), as_dict=True) if by else {(): base}
    cur_groups = cur.partition_by(list(by), as_dict=True) if by else {(): cur}
    threshold = params.get("threshold_s", 20)
    parts = []
    for key, b in groups.items():
        c = cur_groups.get(key)
        if c is None or b[off.name].sum() == 0 or b[staff.name].sum() == 0:
            continue
        t0 = {m.name: b[m.name].sum() for m in need}
        t1 = {m.name: c[m.name].sum() for m in need}
        aht0, aht1 = _div(t0[hs.name], t0[h.name]), _div(t1[hs.name], t1[h.name])
        if not aht0 or not aht1 or not t1[staff.name]:
            continue
        nb, nc = b.height, c.height
        parts.append(
            {
                "offered": b[off.name].to_numpy().astype(float),
                "agents": b[staff.name].to_numpy().astype(float) / 1800,
                "aht": aht0,
                "scale": {
                    "volume": (t1[off.name] / nc) / (t0[off.name] / nb),
                    "aht": aht1 / aht0,
                    "staffing": (t1[staff.name] / nc) / (t0[staff.name] / nb),
                },
                "patience": _div(t0[wq.name], t0[ab.name]),
                "levels": (t0, t1, nb, nc, aht0, aht1),
            }
        )
    if not parts:
        return None

    def model(on: frozenset[str]) -> float | None:
        num = den = 0.0
        for part in parts:
            sc = part["scale"]
            v = part["offered"] * (sc["volume"] if "volume" in on else 1)
            a = part["aht"] * (sc["aht"] if "aht" in on else 1)
            n = part["agents"] * (sc["staffing"] if "staffing" in on else 1)
            ok = (v > 0) & (n > 0)
            if not ok.any():
                continue
            v, n = v[ok], n[ok]
            load = v * a / 1800
            patience = part["patience"]
            if metric.id == "service_level":
                y = staffing.service_level(
                    load, n, aht_s=a, threshold_s=threshold, patience_s=patience
                )
            elif metric.id == "abandon_rate":
                if patience is None:
                    y = np.zeros_like(v)
                else:
                    y = staffing.abandon_probability(load, n, aht_s=a, patience_s=patience)
            else:
                y = staffing.asa(load, n, aht_s=a, patience_s=patience)
            y = np.asarray(y, dtype=float)
            if not np.isfinite(y).all():
                return None
            num += float((y * v).sum())
            den += float(v.sum())
        return num / den if den else None

    names = ["volume", "aht", "staffing"]
    cache = {
        frozenset(s): model(frozenset(s))
        for r in range(4)
        for s in itertools.combinations(names, r)
    }
    if any(v is None for v in cache.values()):
        return None
    phi = {}
    for i in names:
        others = [x for x in names if x != i]
        total = 0.0
        for r in range(3):
            for s in itertools.combinations(others, r):
                w = math.factorial(r) * math.factorial(2 - r) / math.factorial(3)
                total += w * (cache[frozenset((*s, i))] - cache[frozenset(s)])
        phi[i] = total
    t0s = [p["levels"] for p in parts]
    vol0 = sum(x[0][off.name] for x in t0s) / max(x[2] for x in t0s)
    vol1 = sum(x[1][off.name] for x in t0s) / max(x[3] for x in t0s)
    ag0 = sum(x[0][staff.name] for x in t0s) / max(x[2] for x in t0s) / 1800
    ag1 = sum(x[1][staff.name] for x in t0s) / max(x[3] for x in t0s) / 1800
    aht0 = sum(x[0][hs.name] for x in t0s) / max(sum(x[0][h.name] for x in t0s), 1)
    aht1 = sum(x[1][hs.name] for x in t0s) / max(sum(x[1][h.name] for x in t0s), 1)
    out = [
        Driver("volume", "contacts offered per half-hour", "count", vol0, vol1, phi["volume"]),
        Driver("aht", "average handle time", "s", aht0, aht1, phi["aht"]),
        Driver("staffing", "agents staffed per half-hour", "agents", ag0, ag1, phi["staffing"]),
    ]
    out.append(
        Driver(
            "other",
            "other (intraday pattern, patience, model error)",
            metric.unit,
            None,
            None,
            (v1 - v0) - sum(phi.values()),
        )
    )
    return out


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
            metric.unit,
            None,
            None,
            mix,
        ),
        Driver(f"rate_{dim}", f"rate: changes within each {dim}", metric.unit, None, None, rate),
    ]


def _leaves(
    ds: Dataset,
    metric: Metric,
    params: Mapping[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str],
    *,
    lazy: bool = False,
) -> pl.DataFrame | pl.LazyFrame | None:
    """One row per combination of ``dims`` with the KPI's measures in both periods (``__b``, ``__c``)."""
    build = metric.build(params)
    tables = {t for x in build.measures for t in x.source_tables if t in ds}
    if not all(d in ds[t].collect_schema().names() for t in tables for d in dims):
        return None
    cols = [build.numerator.name] + (
        [build.denominator.name] if build.denominator is not None else []
    )
    parts = []
    for tag, p in (("b", p0), ("c", p1)):
        r = evaluate(
            ds,
            metric.id,
            by=list(dims),
            start=p.start,
            end=p.end - _ONE_DAY,
            params={metric.id: dict(params)},
            measures=True,
        )
        parts.append(
            r.frame.select(*dims, *[pl.col(c).cast(pl.Float64) for c in cols]).with_columns(
                pl.lit(tag).alias("_tag")
            )
        )
    # one group-by over both periods (cheaper than a full join on many string keys)
    leaves = (
        pl.concat(parts)
        .with_columns(pl.col(list(dims)).cast(pl.String).fill_null("(none)"))
        .group_by(list(dims))
        .agg(
            *[
                pl.col(c).filter(pl.col("_tag") == tag).sum().alias(f"{c}__{tag}")
                for tag in ("b", "c")
                for c in cols
            ]
        )
    )
    return leaves if lazy else leaves.collect()


_ONE_DAY = timedelta(days=1)


def _period(p: str | Period) -> Period:
    return p if isinstance(p, Period) else parse_period(p)


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
    lf, _ = measure_frame(ds, measures, start=p.start, end=p.end - _ONE_DAY)
    df = lf.collect()
    return {
        m.name: (df[m.name][0] if df.height and m.name in df.columns else None) for m in measures
    }


def restrict(data: Dataset | Mapping[str, Any] | str, segment: Mapping[str, Any]) -> Dataset:
    """The dataset cut to one segment: tables with every segment column are filtered, tables
    without them are left out (their KPIs cannot be cut that way).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame(
    ...     {"arrival_ts": [datetime(2026, 1, 5, tzinfo=UTC)] * 2, "team": ["A", "B"]}
    ... )
    >>> restrict({"contacts": c}, {"team": "A"})["contacts"].collect()["team"].to_list()
    ['A']
    """
    ds = Dataset.coerce(data)
    tables = {}
    for name, lf in ds.tables.items():
        cols = lf.collect_schema().names()
        if all(c in cols for c in segment):
            cond = pl.lit(True)
            for c, v in segment.items():
                cond = cond & (pl.col(c).cast(pl.String) == str(v))
            tables[name] = lf.filter(cond)
    return Dataset(tables, tz=ds.tz, meta=ds.meta, path=ds.path)


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
        r = evaluate(
            ds, metric.id, start=p.start, end=p.end - _ONE_DAY, params={metric.id: full}
        ).frame.collect()
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
    if out is None and metric.id in _QUEUE_KPIS:
        out = _queue_drivers(ds, metric, full, p0, p1, v0, v1)
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


# ---- the explanation -----------------------------------------------------------------------


def explain(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    *,
    baseline: str | Period,
    current: str | Period,
    dims: Sequence[str] = DEFAULT_DIMS,
    params: Mapping[str, Any] | None = None,
    max_segments: int = 10,
) -> Explanation:
    """Explain the change of ``metric`` from ``baseline`` to ``current``.

    Parameters
    ----------
    data
        Dataset, mapping of tables, or dataset directory.
    metric
        A KPI id from :data:`kpi.metrics.METRICS`.
    baseline, current
        Periods (``2026-01``, ``2026-W05``, ``2026-02-03``, ``previous-month`` ...).
    dims
        Dimension columns to search for segments (those missing from the KPI's table are
        skipped and named in ``method["skipped_dims"]``).
    params
        Definition variants of the KPI (short names, e.g. ``{"threshold_s": 30}``).
    max_segments
        How many ranked segments to return.

    Raises
    ------
    KpiError
        Unknown KPI or dimension, identical periods, or a period with no data.
    """
    ds = Dataset.coerce(data)
    if metric not in METRICS:
        raise KpiError(f"unknown KPI {metric!r}; valid KPIs: {', '.join(METRICS)}")
    m = METRICS[metric]
    p0, p1 = _period(baseline), _period(current)
    if (p0.start, p0.end) == (p1.start, p1.end):
        raise KpiError(
            f"baseline and current are the same period ({p0.label}): nothing to compare"
        )
    full = m.resolve_params(params)
    cols = sorted({c for lf in ds.tables.values() for c in lf.collect_schema().names()})
    bad = [d for d in dims if d not in cols]
    if bad:
        raise KpiError(f"unknown dimension {bad[0]!r}; columns in the data: {', '.join(cols)}")
    res = {}
    for key, p in (("b", p0), ("c", p1)):
        r = evaluate(ds, metric, start=p.start, end=p.end - _ONE_DAY, params={metric: full})
        df = r.frame.collect()
        if r.notes:
            raise KpiError(f"cannot compute {metric}: {r.notes[metric]}")
        if df.height == 0 or df[metric][0] is None:
            raise KpiError(
                f"no data for {metric} in {p.label}: the period is empty or its denominator is zero"
            )
        res[key] = (df, r.definitions[metric])
    v0, v1 = res["b"][0][metric][0], res["c"][0][metric][0]
    definition = res["b"][1]
    change = {"absolute": v1 - v0, "relative": (v1 - v0) / abs(v0) if v0 else None}
    drv, drv_method = _drivers(ds, m, full, p0, p1, dims)
    segs, seg_method, skipped = _segments(ds, m, full, p0, p1, dims, max_segments)
    seg_drivers: dict[str, Any] = {}
    top = next((x for x in segs if x.get("dims") and (x.get("share") or 0) > 0), None)
    if top is not None:
        inner, inner_method = _drivers(restrict(ds, top["dims"]), m, full, p0, p1, ())
        if inner:
            seg_drivers = {
                "dims": top["dims"],
                "method": inner_method,
                "drivers": [asdict(d) for d in inner],
            }
    exp = Explanation(
        metric=metric,
        label=m.label,
        unit=m.unit,
        direction=m.direction,
        definition=definition,
        baseline={"period": p0.label, "value": v0},
        current={"period": p1.label, "value": v1},
        change=change,
        drivers=drv,
        segments=segs,
        narrative=[],
        dims=[d for d in dims if d not in skipped],
        method={"drivers": drv_method, "segments": seg_method, "skipped_dims": skipped},
        segment_drivers=seg_drivers,
    )
    exp.narrative = narrative(exp)
    return exp


#: Above this many leaves, dimensions with many values keep only their most deviating values.
MAX_LEAVES = 40_000
KEEP_VALUES = 12


def _coarse_values(
    ds: Dataset,
    metric: Metric,
    params: Mapping[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str],
    num: str,
    den: str | None,
    pace: float,
) -> dict[str, list[str]]:
    """Coarse-to-fine pre-filter when the dimensions have very many combinations.

    When the product of the dimensions' value counts exceeds :data:`MAX_LEAVES`, each
    dimension with more than :data:`KEEP_VALUES` values keeps the values whose own change
    deviates most (``|current − pace × baseline|`` for counts; ``|mix| + |rate|`` for ratios,
    from :func:`kpi.rca.segments`) and the rest merge into ``(other)``. A cause hidden in a
    combination still shows in the one-dimensional change of its values, so it survives, and
    the search runs on at most a few tens of thousands of leaves instead of millions.
    """
    from kpi import rca

    build = metric.build(params)
    table = next(t for x in build.measures for t in x.source_tables if t in ds)
    counts = ds[table].select(pl.col(list(dims)).n_unique()).collect().row(0, named=True)
    if math.prod(counts.values()) <= MAX_LEAVES:
        return {}
    keep: dict[str, list[str]] = {}
    big = [d for d in dims if counts[d] > KEEP_VALUES]
    plans = {d: _leaves(ds, metric, params, p0, p1, [d], lazy=True) for d in big}
    plans = {d: lf for d, lf in plans.items() if lf is not None}
    # the one-dimensional tables in one go: polars runs them in parallel
    for dim, one in zip(plans, pl.collect_all(list(plans.values())), strict=True):
        one = one.with_columns((pl.col(f"{num}__b") * pace).alias(f"{num}__b"))
        seg = rca.segments(
            one,
            dims=[dim],
            baseline=f"{num}__b",
            current=f"{num}__c",
            ratio=(f"{den}__b", f"{den}__c") if den else None,
            max_order=1,
        ).collect()
        score = (
            pl.col("mix").fill_null(0).abs() + pl.col("rate").fill_null(0).abs()
            if den
            else pl.col("contribution").abs()
        )
        keep[dim] = seg.sort(score, descending=True).head(KEEP_VALUES)[dim].to_list()
    return keep


def _map_values(ds: Dataset, keep: Mapping[str, Sequence[str]]) -> Dataset:
    """The dataset with every value outside ``keep[dim]`` renamed ``(other)``."""
    tables = {}
    for name, lf in ds.tables.items():
        cols = lf.collect_schema().names()
        exprs = [
            pl.when(pl.col(d).cast(pl.String).is_in(list(v)))
            .then(pl.col(d).cast(pl.String))
            .otherwise(pl.lit("(other)"))
            .alias(d)
            for d, v in keep.items()
            if d in cols
        ]
        tables[name] = lf.with_columns(exprs) if exprs else lf
    return Dataset(tables, tz=ds.tz, meta=ds.meta, path=ds.path)


def _segments(
    ds: Dataset,
    metric: Metric,
    params: dict[str, Any],
    p0: Period,
    p1: Period,
    dims: Sequence[str],
    k: int,
) -> tuple[list[dict[str, Any]], str, list[str]]:
    """Leaf table per period and dimension combination, searched by :mod:`kpi.rca`."""
    from kpi import rca

    build = metric.build(params)
    tables = {t for x in build.measures for t in x.source_tables if t in ds}
    usable = [d for d in dims if all(d in ds[t].collect_schema().names() for t in tables)]
    skipped = [d for d in dims if d not in usable]
    if not usable:
        return [], "no dimension available for this KPI's tables", skipped
    ratio = (
        build.denominator is not None
        and build.numerator.kind == "sum"
        and build.denominator.kind == "sum"
        and build.value is None
    )
    additive = build.denominator is None and build.numerator.kind == "sum"
    if not (ratio or additive):
        return (
            [],
            f"segments need additive measures; {metric.id} is a {build.numerator.kind} measure",
            skipped,
        )
    num, den = build.numerator.name, (build.denominator.name if ratio else None)
    scale = getattr(build, "scale", 1.0)
    days0, days1 = (p0.end - p0.start).days, (p1.end - p1.start).days
    pace = days1 / days0 if additive and days0 != days1 else 1.0
    keep = _coarse_values(ds, metric, params, p0, p1, usable, num, den, pace)
    leaves = _leaves(_map_values(ds, keep) if keep else ds, metric, params, p0, p1, usable)
    assert leaves is not None
    collapsed = {d: len(v) for d, v in keep.items()}
    if pace != 1.0:
        # counts over periods of different length: expect the baseline's daily pace, so the
        # search localises what moved beyond the calendar (e.g. a 28-day February)
        leaves = leaves.with_columns((pl.col(f"{num}__b") * pace).alias(f"{num}__b"))
    result = rca.explain_leaves(
        leaves,
        dims=usable,
        baseline=f"{num}__b",
        current=f"{num}__c",
        ratio=(f"{den}__b", f"{den}__c") if den else None,
        scale=scale,
        max_segments=k,
    )
    method = result.get("method", "kpi.rca")
    if collapsed and isinstance(method, dict):
        method = {**method, "collapsed": collapsed}
    segs = result["segments"]
    if pace != 1.0:
        for seg in segs:
            seg["expected"] = seg.get("baseline")
            if seg.get("baseline") is not None:
                seg["baseline"] = seg["baseline"] / pace
        if isinstance(method, dict):
            method = {**method, "expected": f"baseline at its daily pace × {days1} / {days0} days"}
        method_pace = {"pace": pace, "days": [days0, days1]}
        if isinstance(method, dict):
            method.update(method_pace)
    return segs, method, skipped


def _segment_name(seg: Mapping[str, Any]) -> str:
    name = " and ".join(f"{k} {v}" for k, v in seg["dims"].items())
    return name[:1].upper() + name[1:]


def _segment_sentences(exp: Explanation) -> list[str]:
    """What the segments say, honestly: a broad change, one or a few causes, or offsetting parts."""
    u = exp.unit
    ranked = [s for s in exp.segments if s.get("selected", True)] or exp.segments
    broad: list[str] = []
    if ranked and not ranked[0].get("dims"):
        broad = [
            "Part of the change is broad: every team, channel, queue and topic moved together "
            "(a centre-wide cause, or a shorter or longer period)."
        ]
    named = [s for s in ranked if s.get("dims")]
    if broad and not any(0 < (s.get("share") or 0) <= 1.5 for s in named):
        return broad
    helping = [s for s in named if 0 < (s.get("share") or 0) <= 1.5]
    if not helping:
        if named:
            top = named[0]
            return [
                f"{_segment_name(top)} moved most ({format_value(top.get('baseline'), u)} to "
                f"{format_value(top.get('current'), u)}), but other segments moved the opposite "
                "way, so the total changed little."
            ]
        return [
            "No small set of teams, channels or topics explains most of the change: it is spread "
            "across the centre, so look at centre-wide causes."
        ]
    top = helping[0]
    seg_method = exp.method.get("segments")
    what = "the rest" if isinstance(seg_method, dict) and seg_method.get("pace") else "the change"
    sentence = f"{_segment_name(top)} explains {_pct(top.get('share'))} of {what}"
    if top.get("baseline") is not None and top.get("current") is not None:
        sentence += f" ({format_value(top['baseline'], u)} to {format_value(top['current'], u)})"
    if top.get("mix") is not None and top.get("baseline") is None:
        sentence += f"; it is new in {exp.current['period']}"
    elif top.get("mix") is not None and top.get("rate") is not None:
        kind = (
            "its own rate changed"
            if abs(top["rate"]) >= abs(top["mix"])
            else "its share of the volume changed (mix)"
        )
        sentence += f"; mostly because {kind}"
    out = [*broad, sentence + "."]
    others = [s for s in helping[1:3] if (s.get("share") or 0) >= 0.1]
    if others:
        out.append(
            "Also: "
            + "; ".join(f"{_segment_name(s).lower()} ({_pct(s.get('share'))})" for s in others)
            + "."
        )
    explained = sum(s.get("share") or 0.0 for s in helping)
    if explained < 0.5:
        out.append(
            f"Together these explain only {_pct(explained)}: the rest is spread across the centre."
        )
    return out


def _segment_driver_sentence(exp: Explanation) -> list[str]:
    """``Within team North: agents staffed 27 to 12 (...), average handle time ...``."""
    sd = exp.segment_drivers
    if not sd or not sd.get("drivers"):
        return []
    main = sorted(sd["drivers"], key=lambda d: -abs(d["contribution"]))[:3]
    parts = [
        f"{d['label']} {format_value(d['baseline'], d['unit'])} to {format_value(d['current'], d['unit'])}"
        for d in main
        if d["baseline"] is not None
        and d["current"] is not None
        and abs(d.get("share") or 0) >= 0.1
    ]
    if not parts:
        return []
    name = " and ".join(f"{k} {v}" for k, v in sd["dims"].items())
    return [f"Within {name}: " + "; ".join(parts) + "."]


def narrative(exp: Explanation) -> list[str]:
    """Three to six plain sentences a manager can act on.

    Examples
    --------
    >>> e = Explanation(
    ...     "contacts_handled",
    ...     "Contacts handled",
    ...     "count",
    ...     "higher",
    ...     "d",
    ...     {"period": "2026-01", "value": 12410.0},
    ...     {"period": "2026-02", "value": 9330.0},
    ...     {"absolute": -3080.0, "relative": -0.248},
    ...     [],
    ...     [],
    ...     [],
    ... )
    >>> narrative(e)[0]
    'Contacts handled fell 24.8% from 2026-01 to 2026-02 (12,410 to 9,330).'
    """
    u = exp.unit
    v0, v1 = exp.baseline["value"], exp.current["value"]
    d = exp.change["absolute"] or 0.0
    rel = exp.change["relative"]
    scale = max(abs(v0), abs(v1), 1e-12)
    if abs(d) <= 1e-9 * scale:
        return [
            f"{exp.label} did not change from {exp.baseline['period']} to {exp.current['period']} ({format_value(v0, u)})."
        ]
    verb = "rose" if d > 0 else "fell"
    how = (
        f" {abs(rel) * 100:.1f}%"
        if rel is not None and u not in ("ratio",)
        else (
            f" {format_value(abs(d), u, signed=False).replace('%', ' points')}"
            if u == "ratio"
            else ""
        )
    )
    out = [
        f"{exp.label} {verb}{how} from {exp.baseline['period']} to {exp.current['period']} "
        f"({format_value(v0, u)} to {format_value(v1, u)})."
    ]
    pace = (
        exp.method.get("segments", {}).get("pace")
        if isinstance(exp.method.get("segments"), dict)
        else None
    )
    if pace and exp.unit == "count":
        days0, days1 = exp.method["segments"]["days"]
        calendar = v0 * pace - v0
        out.append(
            f"{exp.current['period']} has {days1} days against {days0}: at the same daily pace that "
            f"alone is {format_value(calendar, u, signed=True)}; the segments below explain the rest "
            f"({format_value(v1 - v0 * pace, u, signed=True)})."
        )
    out += _segment_sentences(exp)
    out += _segment_driver_sentence(exp)
    main = sorted(
        (x for x in exp.drivers if x.share is not None), key=lambda x: -abs(x.contribution)
    )
    for drv in main[:2]:
        if abs(drv.share or 0) < 0.1:
            continue
        share = drv.share or 0.0
        effect = (
            f"accounting for {_pct(share)} of the change"
            if share > 0
            else f"offsetting {_pct(-share)} of the change"
        )
        if drv.baseline is not None and drv.current is not None:
            moved = "up" if drv.current > drv.baseline else "down"
            out.append(
                f"Driver: {drv.label} went {moved} from {format_value(drv.baseline, drv.unit)} "
                f"to {format_value(drv.current, drv.unit)}, {effect}."
            )
        else:
            out.append(f"Driver: {drv.label}, {effect}.")
    return out[:6]


def rows(
    data: Dataset | Mapping[str, Any] | str,
    segment: Mapping[str, Any],
    *,
    period: str | Period | None = None,
    table: str = "contacts",
) -> pl.LazyFrame:
    """The records behind a segment (e.g. ``{"team": "North", "topic": "outage"}``).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame(
    ...     {"arrival_ts": [datetime(2026, 1, 5, tzinfo=UTC)] * 2, "team": ["A", "B"]}
    ... )
    >>> rows({"contacts": c}, {"team": "B"}).collect()["team"].to_list()
    ['B']
    """
    from kpi.compute import _TIME

    ds = Dataset.coerce(data)
    lf = ds[table]
    names = lf.collect_schema().names()
    cond = pl.lit(True)
    for col, value in segment.items():
        if col not in names:
            raise KpiError(f"{table} has no column {col!r}; columns: {', '.join(names)}")
        cond = cond & (
            pl.col(col).is_null()
            if value in (None, "(none)")
            else pl.col(col).cast(pl.String) == str(value)
        )
    if period is not None:
        p = _period(period)
        col = _TIME.get(table) or "arrival_ts"
        lo, hi = p.start_ts(ds.tz), p.end_ts(ds.tz)
        cond = cond & (pl.col(col) >= lo) & (pl.col(col) < hi)
    return lf.filter(cond)
