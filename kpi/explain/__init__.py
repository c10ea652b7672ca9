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

The package, one module per concern: ``_model`` (:class:`Driver`, :class:`Segment`,
:class:`Explanation`, :func:`segments_frame`), ``_drivers`` (driver trees, LMDI, shift-share),
``_queueing`` (the Erlang model of the queueing KPIs), ``_segments`` (leaf tables for
:mod:`kpi.rca`), ``_narrative`` and ``_rows``; :func:`explain` puts them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from kpi._format import format_value
from kpi.compute import availability, evaluate
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.explain._drivers import _drivers, drivers
from kpi.explain._model import (
    DEFAULT_DIMS,
    SEGMENT_SCHEMA,
    Driver,
    Explanation,
    Segment,
    _period,
    segments_frame,
)
from kpi.explain._narrative import narrative
from kpi.explain._rows import restrict, rows
from kpi.explain._segments import _segments
from kpi.metrics import METRICS
from kpi.periods import Period

__all__ = [
    "DEFAULT_DIMS",
    "SEGMENT_SCHEMA",
    "Driver",
    "Explanation",
    "Segment",
    "drivers",
    "explain",
    "format_value",
    "narrative",
    "restrict",
    "rows",
    "segments_frame",
]


def explain(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    *,
    baseline: str | Period | None,
    current: str | Period,
    dims: Sequence[str] | None = None,
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
        Periods (``2026-01``, ``2026-W05``, ``2026-02-03``, ``previous-month`` ...). A
        ``baseline`` of ``None`` or ``""`` (no comparison period with data) is refused in one
        line: there is no change to explain.
    dims
        Dimension columns to search for segments (those missing from the KPI's table are
        skipped and named in ``method["skipped_dims"]``); ``None``: :data:`DEFAULT_DIMS`,
        those the data has (an interval report has no topic).
    params
        Definition variants of the KPI (short names, e.g. ``{"threshold_s": 30}``).
    max_segments
        How many ranked segments to return.

    Raises
    ------
    KpiError
        Unknown KPI or dimension, identical periods, or a period with no data; a KPI the data
        cannot support (:func:`kpi.compute.availability`), in one line that says why and what
        data would enable it: an explanation is never built on an unknown.

    Examples
    --------
    >>> explain({}, "aht", baseline=None, current="1999-02")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: no comparison period with data, so there is no change of average handle time (aht) to explain
    """
    if metric not in METRICS:
        raise KpiError(f"unknown KPI {metric!r}; valid KPIs: {', '.join(METRICS)}")
    if baseline is None or baseline == "":
        raise KpiError(
            "no comparison period with data, so there is no change of "
            f"{METRICS[metric].label.lower()} ({metric}) to explain"
        )
    ds = Dataset.coerce(data)
    m = METRICS[metric]
    p0, p1 = _period(baseline), _period(current)
    if (p0.start, p0.end) == (p1.start, p1.end):
        raise KpiError(
            f"baseline and current are the same period ({p0.label}): nothing to compare"
        )
    full = m.resolve_params(params)
    found = availability(ds, metric, params={metric: full})[metric]
    if not found.ok:  # never explain an unknown: say why, and what would make it known
        raise KpiError(f"cannot explain {metric}: {found.reason}; it needs {found.needs}")
    cols = sorted({c for lf in ds.tables.values() for c in lf.collect_schema().names()})
    if dims is None:
        dims = [d for d in DEFAULT_DIMS if d in cols]
    bad = [d for d in dims if d not in cols]
    if bad:
        raise KpiError(f"unknown dimension {bad[0]!r}; columns in the data: {', '.join(cols)}")
    res = {}
    for key, p in (("b", p0), ("c", p1)):
        r = evaluate(ds, metric, period=p, params={metric: full})
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
    top = next((x for x in segs if x.dims and (x.share or 0) > 0), None)
    if top is not None:
        inner, inner_method = _drivers(restrict(ds, top.dims), m, full, p0, p1, ())
        if inner:
            seg_drivers = {
                "dims": top.dims,
                "method": inner_method,
                "drivers": [asdict(d) for d in inner],
            }
    exp = Explanation(
        metric=metric,
        label=m.label,
        unit=m.unit_for(full),
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
