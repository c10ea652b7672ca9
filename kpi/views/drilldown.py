"""Views of the drill-down notebook: an explanation's headline change, drivers and ranked
segments as tables and charts, a segment cut by another dimension, and the records behind it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from kpi._mask import mask_identifiers
from kpi.compute import evaluate
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.periods import Period
from kpi.views._common import as_period, known_metric, refuse_identifiers, source_table

if TYPE_CHECKING:
    from kpi.explain import Explanation, Segment

__all__ = [
    "change_frame",
    "choose_segment",
    "driver_waterfall",
    "drivers_frame",
    "effects_frame",
    "segment_breakdown",
    "segment_name",
    "segment_options",
    "segment_rows",
    "segments_frame",
]

_ROW_COLUMNS = {
    "contacts": (
        "contact_id",
        "arrival_ts",
        "channel",
        "queue",
        "topic",
        "team",
        "agent_id",
        "customer_id",
        "outcome",
        "wait_s",
        "talk_s",
        "hold_s",
        "acw_s",
        "transferred",
        "resolved",
    ),
    "tickets": (
        "ticket_id",
        "created_ts",
        "first_response_ts",
        "solved_ts",
        "status",
        "team",
        "channel",
        "priority",
        "topic",
        "agent_id",
        "customer_id",
    ),
}


def segment_name(dims: Mapping[str, Any]) -> str:
    """``team North, topic billing`` (``all`` for the empty segment).

    Examples
    --------
    >>> segment_name({"team": "North", "topic": "billing"}), segment_name({})
    ('team North, topic billing', 'all')
    """
    return ", ".join(f"{k} {v}" for k, v in dims.items()) or "all"


def change_frame(exp: Any) -> pl.DataFrame:
    """The headline change of an :class:`~kpi.explain.Explanation` as a one-row table.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> exp = NS(
    ...     label="AHT",
    ...     unit="s",
    ...     definition="AHT = ...",
    ...     baseline={"period": "2026-01", "value": 300.0},
    ...     current={"period": "2026-02", "value": 330.0},
    ...     change={"absolute": 30.0, "relative": 0.1},
    ... )
    >>> change_frame(exp).row(0)
    ('AHT', 's', '2026-01', 300.0, '2026-02', 330.0, 30.0, 0.1)
    """
    return pl.DataFrame(
        {
            "kpi": [exp.label],
            "unit": [exp.unit],
            "baseline_period": [exp.baseline["period"]],
            "baseline": [_float(exp.baseline["value"])],
            "current_period": [exp.current["period"]],
            "current": [_float(exp.current["value"])],
            "change": [_float(exp.change.get("absolute"))],
            "change_rel": [_float(exp.change.get("relative"))],
        }
    )


def _float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def drivers_frame(drivers: Any) -> pl.DataFrame:
    """Drivers as a table: ``driver``, ``unit``, ``baseline``, ``current``, ``contribution``,
    ``share`` (of the change), in the order of the driver tree.

    Parameters
    ----------
    drivers
        An :class:`~kpi.explain.Explanation`, its ``drivers`` list, or the ``drivers`` list of
        ``segment_drivers`` (plain dicts).

    Notes
    -----
    Contributions add up to the change exactly (``Σ contribution = current − baseline``).

    Examples
    --------
    >>> from kpi.explain import Driver
    >>> d = [Driver("talk", "talk time", "s", 400.0, 430.0, 30.0, 0.75)]
    >>> drivers_frame(d).rows()
    [('talk time', 's', 400.0, 430.0, 30.0, 0.75)]
    """
    items = getattr(drivers, "drivers", drivers) or []
    rows = []
    for d in items:
        get = d.get if isinstance(d, Mapping) else (lambda k, d=d: getattr(d, k, None))
        rows.append(
            {
                "driver": str(get("label") or get("name")),
                "unit": str(get("unit") or ""),
                "baseline": _float(get("baseline")),
                "current": _float(get("current")),
                "contribution": _float(get("contribution")) or 0.0,
                "share": _float(get("share")),
            }
        )
    schema = {
        "driver": pl.String,
        "unit": pl.String,
        "baseline": pl.Float64,
        "current": pl.Float64,
        "contribution": pl.Float64,
        "share": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def driver_waterfall(exp: Any, *, segment: bool = False, title: str | None = None) -> Any:
    """The waterfall of an explanation's drivers, from the baseline value to the current one.

    Parameters
    ----------
    exp
        An :class:`~kpi.explain.Explanation`.
    segment
        Draw the drivers inside the top segment (``exp.segment_drivers``) instead; ``None``
        when the explanation has none.

    Notes
    -----
    ``baseline + Σ contributions = current`` (the attribution is exact).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> from kpi.explain import Driver
    >>> exp = NS(
    ...     label="AHT",
    ...     unit="s",
    ...     baseline={"period": "2026-01", "value": 400.0},
    ...     current={"period": "2026-02", "value": 430.0},
    ...     drivers=[Driver("talk", "talk time", "s", 300.0, 330.0, 30.0, 1.0)],
    ...     segments=[],
    ...     segment_drivers={},
    ... )
    >>> spec = driver_waterfall(exp).to_dict()
    >>> [r["step"] for r in spec["data"]["values"]], spec["title"]
    (['2026-01', 'talk time', '2026-02'], 'Why AHT changed: drivers')
    >>> driver_waterfall(exp, segment=True) is None
    True
    """
    from kpi import charts

    b0, b1 = exp.baseline, exp.current
    if segment:
        inner = getattr(exp, "segment_drivers", None) or {}
        if not inner.get("drivers"):
            return None
        dims = inner.get("dims") or {}
        seg = next((s for s in exp.segments if s.dims == dims), None)
        frame = drivers_frame(inner["drivers"])
        base, cur = (seg.baseline, seg.current) if seg is not None else (None, None)
        start = (b0["period"], base) if base is not None else None
        end = (b1["period"], cur) if cur is not None else None
        title = title or f"Why {exp.label} changed within {segment_name(dims)}: drivers"
    else:
        frame = drivers_frame(exp)
        start = (b0["period"], b0["value"]) if b0.get("value") is not None else None
        end = (b1["period"], b1["value"]) if b1.get("value") is not None else None
        title = title or f"Why {exp.label} changed: drivers"
    if frame.is_empty():
        return None
    steps = frame.height + (start is not None) + (end is not None)
    return charts.waterfall_chart(
        frame,
        label="driver",
        start=start,
        end=end,
        percent=exp.unit == "ratio",
        title=title,
        width=min(960, max(640, 130 * steps)),
    )


def segments_frame(exp: Explanation | Sequence[Segment]) -> pl.DataFrame:
    """Ranked segments of an explanation as a table: :func:`kpi.explain.segments_frame`
    (``rank``, ``segment``, ``kind``, ``baseline``, ``current``, ``contribution``, ``share``,
    ``mix``, ``rate``; the schema is :data:`kpi.explain.SEGMENT_SCHEMA`).

    Examples
    --------
    >>> from kpi.explain import Segment
    >>> seg = Segment({"team": "North"}, "rate", 0.7, 0.1, -0.3, 0.9, mix=0.01, rate=-0.31)
    >>> segments_frame([seg]).row(0)
    (1, 'team North', 'rate', 0.7, 0.1, -0.3, 0.9, 0.01, -0.31)
    """
    from kpi.explain import segments_frame as frame

    return frame(exp)


def effects_frame(segments: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Segment contributions split into effects, long, for :func:`kpi.charts.effects_chart`.

    Returns ``segment``, ``effect`` and ``value``: the mix and rate effects where the
    explanation has them (ratio KPIs), else the whole contribution as ``change``.

    Examples
    --------
    >>> seg = pl.DataFrame(
    ...     {
    ...         "segment": ["team A", "team B"],
    ...         "contribution": [-0.3, 50.0],
    ...         "mix": [0.01, None],
    ...         "rate": [-0.31, None],
    ...     }
    ... )
    >>> effects_frame(seg).collect().rows()
    [('team A', 'mix', 0.01), ('team A', 'rate', -0.31), ('team B', 'change', 50.0)]
    """
    lf = segments.lazy().with_row_index("_i")
    has_split = pl.col("mix").is_not_null() | pl.col("rate").is_not_null()
    split = lf.filter(has_split).select(
        "_i",
        "segment",
        pl.concat_list(pl.lit("mix"), pl.lit("rate")).alias("effect"),
        pl.concat_list(pl.col("mix").fill_null(0.0), pl.col("rate").fill_null(0.0)).alias("value"),
    )
    whole = lf.filter(~has_split).select(
        "_i",
        "segment",
        pl.concat_list(pl.lit("change")).alias("effect"),
        pl.concat_list(pl.col("contribution").cast(pl.Float64)).alias("value"),
    )
    return (
        pl.concat([split, whole])
        .explode("effect", "value")
        .sort("_i", maintain_order=True)
        .drop("_i")
    )


def segment_options(exp: Any) -> list[tuple[str, dict[str, Any]]]:
    """The explanation's segments as ``(name, dims)`` choices, ranked.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> from kpi.explain import Segment
    >>> segment_options(NS(segments=[Segment({"team": "North"}, "additive", 9.0, 5.0, -4.0, 1.0)]))
    [('team North', {'team': 'North'})]
    """
    return [(s.label(), dict(s.dims)) for s in getattr(exp, "segments", None) or [] if s.dims]


def choose_segment(exp: Any, segment: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``segment`` when given, else the top segment that moved the KPI the way it moved.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> from kpi.explain import Segment
    >>> exp = NS(
    ...     segments=[
    ...         Segment({"team": "B"}, "additive", 5.0, 6.0, 1.0, -0.2),
    ...         Segment({"team": "A"}, "additive", 9.0, 5.0, -4.0, 0.8),
    ...     ]
    ... )
    >>> choose_segment(exp), choose_segment(exp, {"topic": "x"})
    ({'team': 'A'}, {'topic': 'x'})
    """
    if segment:
        return dict(segment)
    segs = [s for s in getattr(exp, "segments", None) or [] if s.dims]
    top = next((s for s in segs if (s.share or 0) > 0), segs[0] if segs else None)
    return dict(top.dims) if top else {}


def segment_breakdown(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    segment: Mapping[str, Any],
    *,
    baseline: str | Period,
    current: str | Period,
    by: str,
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Inside one segment, the KPI by another dimension in both periods (aggregated rows).

    Returns
    -------
    pl.LazyFrame
        ``by``, ``baseline``, ``current``, ``change``, ``change_rel``, sorted by the size of the
        change. For a count KPI a value missing in one period is 0.

    Notes
    -----
    ``change = current − baseline``, ``change_rel = change / |baseline|`` (null when the
    baseline is 0 or missing). The data is first cut to the segment with
    :func:`kpi.explain.restrict`.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> j, f = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [j, j, f],
    ...         "outcome": ["answered"] * 3,
    ...         "team": ["A", "A", "A"],
    ...         "topic": ["x", "y", "x"],
    ...     }
    ... )
    >>> segment_breakdown(
    ...     {"contacts": c},
    ...     "contacts_answered",
    ...     {"team": "A"},
    ...     baseline="2026-01",
    ...     current="2026-02",
    ...     by="topic",
    ... ).collect().rows()
    [('y', 1.0, 0.0, -1.0, -1.0), ('x', 1.0, 1.0, 0.0, 0.0)]
    """
    from kpi.explain import restrict

    refuse_identifiers([*segment, by], what="be a segment or a breakdown")
    ds = Dataset.coerce(data)
    if segment:
        ds = restrict(ds, segment)
    frames = []
    for name, p in (("baseline", baseline), ("current", current)):
        per = as_period(p)
        r = evaluate(
            ds,
            metric,
            by=by,
            period=per,
            params=params,
            measures=False,
        )
        frames.append(r.frame.select(by, pl.col(metric).alias(name)))
    out = frames[0].join(frames[1], on=by, how="full", coalesce=True, nulls_equal=True)
    build = known_metric(metric).build(r.params[metric])
    if build.denominator is None and build.numerator.kind == "sum":  # a count: absent is 0
        out = out.with_columns(pl.col("baseline", "current").fill_null(0.0))
    change = pl.col("current") - pl.col("baseline")
    return out.with_columns(
        change.alias("change"),
        pl.when(pl.col("baseline").abs() > 0)
        .then(change / pl.col("baseline").abs())
        .alias("change_rel"),
    ).sort(pl.col("change").abs(), descending=True, nulls_last=True)


def segment_rows(
    data: Dataset | Mapping[str, Any] | str,
    metric: str,
    segment: Mapping[str, Any],
    *,
    period: str | Period,
    max_rows: int = 20,
    show_identifiers: bool = False,
) -> pl.LazyFrame:
    """The first ``max_rows`` records behind a segment in a period, identifiers masked.

    Records come from the KPI's table (contacts or tickets), in time order, with the columns
    an analyst reads first; customer identifiers are masked unless ``show_identifiers``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [datetime(2026, 2, 5, tzinfo=UTC)] * 2,
    ...         "team": ["A", "B"],
    ...         "customer_id": ["C0012345", "C0099999"],
    ...     }
    ... )
    >>> segment_rows({"contacts": c}, "contacts_handled", {"team": "B"}, period="2026-02").select(
    ...     "team", "customer_id"
    ... ).collect().rows()
    [('B', '***999')]
    """
    from kpi.explain import rows

    refuse_identifiers(segment, what="be a segment")
    ds = Dataset.coerce(data)
    table = source_table(ds, metric)
    if table is None:
        raise KpiError(f"no table of the data holds the records of {metric}")
    lf = rows(ds, segment, period=period, table=table)
    names = lf.collect_schema().names()
    wanted = [c for c in _ROW_COLUMNS.get(table, ()) if c in names] or names
    time_col = next((c for c in ("arrival_ts", "created_ts") if c in names), None)
    if time_col:
        lf = lf.sort(time_col)
    return mask_identifiers(lf.select(wanted).head(max_rows), show=show_identifiers)
