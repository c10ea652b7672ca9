"""The KPI catalogue as dbt MetricFlow YAML: semantic models with measures, and metrics.

For warehouse users: the same declarations serve a dbt semantic layer. Each table whose
measures have a SQL form becomes a semantic model (``model: ref('<table>')``, its time column
the default ``agg_time_dimension``, its documented string columns categorical dimensions); each
such measure becomes a MetricFlow measure with ``agg`` and a row-level ``expr`` derived from
:attr:`kpi.metrics.Source.sql` (``count(CASE WHEN c THEN 1 END)`` is ``agg: sum`` of
``CASE WHEN c THEN 1 ELSE 0 END``; ``count(DISTINCT ...)`` is ``count_distinct``; ``max`` is
``max``). Each KPI with its default variants becomes a metric: ``ratio`` (numerator /
denominator) or ``simple``; a KPI with a scale (per hour, per cent) is a ``derived`` metric.
Every other value of a variant with choices becomes its own metric,
``<kpi>_<param>_<value>`` (MetricFlow's filters select dimension values, and our variants
change the measures themselves, so each is a metric with its measures; ``meta`` names the
variant and the formula). KPIs whose measures are not one aggregation of a row expression
(FCR's repeat test and the queue sweep, which the SQL engines run with windows; stocks; peaks)
or have no SQL form are named in the file's header comment instead of being approximated.
"""

from __future__ import annotations

import re
from typing import Any

from kpi.metrics import METRICS, Build, Measure
from kpi.schema import TABLES, time_column

__all__ = ["metricflow_yaml", "row_form", "semantic_layer"]

_CALL = re.compile(r"(CAST\(sum|count|sum)\(")


def _close(text: str, start: int) -> int:
    """Index of the parenthesis closing the one opened just before ``start``."""
    depth = 1
    i = start
    while depth:
        c = text[i]
        depth += (c == "(") - (c == ")")
        i += 1
    return i - 1


def row_form(sql: str) -> tuple[str, str]:
    """A SQL aggregate of :mod:`kpi.metrics` as MetricFlow's ``(agg, expr)``.

    Examples
    --------
    >>> row_form("count(CASE WHEN outcome = 'answered' THEN 1 END)")
    ('sum', "CASE WHEN outcome = 'answered' THEN 1 ELSE 0 END")
    >>> row_form("count(DISTINCT CASE WHEN x THEN agent_id END)")
    ('count_distinct', 'CASE WHEN x THEN agent_id END')
    >>> row_form("sum(coalesce(offered, 0)) - sum(coalesce(abandoned_short, 0))")
    ('sum', '(coalesce(offered, 0)) - (coalesce(abandoned_short, 0))')
    >>> row_form("count(*)")
    ('sum', '1')
    """
    if sql.startswith("count(DISTINCT ") and _close(sql, 6) == len(sql) - 1:
        return "count_distinct", sql[len("count(DISTINCT ") : -1]
    if sql.startswith("max(") and _close(sql, 4) == len(sql) - 1:
        return "max", sql[4:-1]
    out, i = [], 0
    while m := _CALL.search(sql, i):
        out.append(sql[i : m.start()])
        end = _close(sql, m.end())
        inner = sql[m.end() : end]
        if m.group(1) == "count" and inner == "*":
            out.append("1")
        elif m.group(1) == "count":
            if not inner.endswith(" THEN 1 END"):
                raise ValueError(f"not a row count: {sql}")
            out.append(f"({inner[: -len(' END')]} ELSE 0 END)")
        else:
            out.append(f"({inner})")
        i = end + 1
        if m.group(1) == "CAST(sum":
            tail = " AS DOUBLE)"
            if not sql.startswith(tail, i):
                raise ValueError(f"unexpected cast in {sql}")
            i += len(tail)
    out.append(sql[i:])
    text = "".join(out)
    if text.startswith("(") and _close(text, 1) == len(text) - 1 and sql.startswith("count("):
        text = text[1:-1]
    return "sum", text


def _exportable(m: Measure) -> bool:
    """A row measure whose SQL is one MetricFlow aggregation of a row expression."""
    if m.builder is not None or not m.sources or m.sources[0].sql is None:
        return False
    if m.kind == "stat" or (m.sources[0].time or "").startswith("_"):
        return False  # a median or percentile; a time stamp the table does not store (finance)
    try:
        row_form(m.sources[0].sql)
    except ValueError:  # e.g. a distinct count plus a null (agents_scheduled)
        return False
    return True


def _measure(m: Measure) -> dict[str, Any]:
    src = m.sources[0]
    agg, expr = row_form(src.sql or "")
    out: dict[str, Any] = {"name": m.name, "description": m.description, "agg": agg}
    out["expr"] = expr
    if src.time is not None:
        out["agg_time_dimension"] = src.time
    return out


def _metric(name: str, label: str, b: Build, meta: dict[str, Any]) -> dict[str, Any]:
    """A KPI as a metric over the simple metrics named after its measures."""
    meta = {**meta, "formula": b.formula}
    num, den = b.numerator.name, b.denominator.name if b.denominator else None
    if b.value is not None:
        raise ValueError("custom value")
    out: dict[str, Any] = {"name": name, "label": label}
    if b.scale == 1.0 and den is None:
        out.update(type="simple", type_params={"measure": num})
    elif b.scale == 1.0:
        out.update(
            type="ratio", type_params={"numerator": {"name": num}, "denominator": {"name": den}}
        )
    else:
        expr = f"{num} * {b.scale!r}" + (f" / nullif({den}, 0)" if den else "")
        inputs = [{"name": num}] + ([{"name": den}] if den else [])
        out.update(type="derived", type_params={"expr": expr, "metrics": inputs})
    out["config"] = {"meta": meta}
    return out


def semantic_layer() -> tuple[dict[str, Any], list[str]]:
    """The catalogue as MetricFlow data (``semantic_models``, ``metrics``), and the KPIs left out."""
    measures: dict[str, Measure] = {}
    metrics: list[dict[str, Any]] = []
    skipped: list[str] = []
    for kpi_id, metric in METRICS.items():
        variants: list[tuple[str, dict[str, Any], dict[str, Any]]] = [(kpi_id, {}, {})]
        for p in metric.params:
            for value in getattr(p, "choices", None) or ():
                if value != p.default:
                    variants.append(
                        (f"{kpi_id}_{p.name}_{value}", {p.name: value}, {p.name: value})
                    )
        for name, params, variant in variants:
            try:
                b = metric.build(params)
            except Exception:  # a combination the KPI refuses
                continue
            if not all(_exportable(m) for m in b.measures) or b.value is not None:
                if not params:
                    skipped.append(kpi_id)
                break
            for m in (b.numerator, *((b.denominator,) if b.denominator else ())):
                measures.setdefault(m.name, m)
            meta = {"kpi": kpi_id, "variant": variant or "defaults", "unit": b.unit or metric.unit}
            label = metric.label + (
                f" ({', '.join(f'{k} = {v}' for k, v in variant.items())})" if variant else ""
            )
            metrics.append(_metric(name, label, b, meta))
    # each measure is also a simple metric of its own name: ratio and derived metrics read
    # metrics, never measures
    metrics[:0] = [
        {
            "name": m.name,
            "description": m.description,
            "type": "simple",
            "type_params": {"measure": m.name},
        }
        for m in measures.values()
    ]
    names = [m["name"] for m in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names clash: {sorted({n for n in names if names.count(n) > 1})}")
    models = []
    by_table: dict[str, list[Measure]] = {}
    for m in measures.values():
        by_table.setdefault(m.sources[0].table, []).append(m)
    for table, ms in by_table.items():
        t = TABLES[table]
        tcol = time_column(table) or ""
        times = dict.fromkeys([tcol, *(m.sources[0].time or tcol for m in ms)])
        dims: list[dict[str, Any]] = [
            {"name": c, "type": "time", "type_params": {"time_granularity": "second"}}
            for c in times
        ]
        dims += [
            {"name": c.name, "type": "categorical"}
            for c in t.columns
            if c.dtype_name.startswith("String") and not c.name.endswith("_id")
        ]
        key = next((c.name for c in t.columns if c.name.endswith("_id")), None)
        model: dict[str, Any] = {
            "name": table,
            "description": f"kpi-workbench {table} table (docs/data-model.md)",
            "model": f"ref('{table}')",
            "defaults": {"agg_time_dimension": tcol},
            "entities": [{"name": table.rstrip("s"), "type": "primary", "expr": key}]
            if key
            else [],
            "dimensions": dims,
            "measures": [_measure(m) for m in ms],
        }
        models.append(model)
    return {"semantic_models": models, "metrics": metrics}, skipped


def metricflow_yaml() -> str:
    """The catalogue as one MetricFlow YAML document (semantic models, then metrics).

    Examples
    --------
    >>> text = metricflow_yaml()
    >>> "semantic_models:" in text and "type: ratio" in text
    True
    """
    import yaml

    data, skipped = semantic_layer()
    head = (
        "# kpi-workbench KPI catalogue as dbt MetricFlow semantic models and metrics\n"
        "# (`kpi metrics --format metricflow`). Not exported (no single row aggregation: FCR's\n"
        "# repeat test and the queue sweep (windows), stocks, peaks, medians and percentiles,\n"
        "# finance (a derived time stamp); or no SQL form yet): " + ", ".join(skipped) + "\n"
    )
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
