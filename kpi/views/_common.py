"""What every report notebook shares: the data's teams, KPIs, dimensions, variants and targets,
headers for tables, and the small helpers the other view modules build on.

Public names here are re-exported by :mod:`kpi.views`; the helpers without a place in its
``__all__`` (:func:`known_metric`, :func:`by_columns`, :func:`refuse_identifiers`, :func:`as_period`, :func:`bound`,
:func:`period_text`, :func:`source_table`) serve the sibling modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from kpi._mask import identifier_columns
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import METRICS, Metric, resolve
from kpi.periods import Period, parse_period, to_timestamp
from kpi.targets import TargetSet

__all__ = [
    "DIMENSIONS",
    "GRAIN_NAMES",
    "WEEKDAY_ABBR",
    "Outcome",
    "as_period",
    "attempt",
    "available_metrics",
    "bound",
    "by_columns",
    "comparison_columns",
    "dimensions",
    "filter_teams",
    "header_targets",
    "known_metric",
    "labels",
    "metric_params",
    "metric_table",
    "period_text",
    "refuse_identifiers",
    "source_table",
    "to_long",
    "unavailable_lines",
    "unit_of",
    "units",
    "variant_options",
]

#: Categorical columns offered as dimensions (those present in a KPI's table).
DIMENSIONS = ("team", "site", "channel", "queue", "topic", "direction", "priority")


#: Readable names of the grains.
GRAIN_NAMES = {
    "15m": "quarter-hour",
    "30m": "half-hour",
    "1h": "hour",
    "1d": "day",
    "1w": "week",
    "1mo": "month",
    "1q": "quarter",
    "1y": "year",
}


# Numeric presets offered for integer variants, by the variant's name.
_PRESETS = {
    "threshold_s": (10, 20, 30, 60, 120),
    "short_abandon_s": (0, 5, 10),
    "window_days": (1, 3, 7, 14, 30),
}


WEEKDAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Outcome:
    """The result of :func:`attempt`: a value, or the user-facing reason there is none.

    Examples
    --------
    >>> Outcome(3).ok, Outcome(None, "no tickets table").ok
    (True, False)
    """

    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


def attempt(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Outcome:
    """Call ``func`` and keep a :class:`~kpi.errors.KpiError` as a message instead of failing.

    Notebooks use it where the data may not support a section (no ``agent_time`` table, no
    comparison period): the report then says why the section is empty. Other exceptions are
    programming errors and propagate.

    Examples
    --------
    >>> attempt(parse_period, "2026-02").value.label
    '2026-02'
    >>> attempt(parse_period, "2026-13").error
    "bad period '2026-13': use 2026-02-03, 2026-02, 2026-W06, 2026-Q1, 2026, today, yesterday, previous-week, previous-month, this-week, this-month"
    """
    try:
        return Outcome(func(*args, **kwargs))
    except KpiError as exc:
        return Outcome(None, str(exc))


def filter_teams(data: Dataset | Mapping[str, Any] | str, teams: Sequence[str] | str) -> Dataset:
    """The dataset cut to some teams; ``[]`` (or ``""``) keeps everything.

    Parameters
    ----------
    data
        A :class:`~kpi.data.Dataset`, a mapping of tables or a dataset directory.
    teams
        Team names (a list, or one comma-separated string).

    Returns
    -------
    Dataset
        Every table with a ``team`` column keeps only those teams' rows; ``events`` also keeps
        the events without a team (they concern everyone). Tables without a ``team`` column
        (``customers``) are kept whole, and ``finance`` rows for the whole centre (null team)
        are dropped, so cost KPIs cover the chosen teams only where the data has team rows.

    Raises
    ------
    KpiError
        When a team is not in the data (the message lists the teams there are).

    Notes
    -----
    Checking the names reads the distinct ``team`` values of the tables (one small query);
    the tables themselves stay lazy.

    Examples
    --------
    >>> c = pl.DataFrame({"team": ["A", "B", "B"], "talk_s": [1.0, 2.0, 3.0]})
    >>> filter_teams({"contacts": c}, ["B"])["contacts"].collect()["talk_s"].to_list()
    [2.0, 3.0]
    >>> filter_teams({"contacts": c}, "C")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown team 'C'; teams in the data: A, B
    """
    ds = Dataset.coerce(data)
    wanted = [t.strip() for t in teams.split(",")] if isinstance(teams, str) else list(teams)
    wanted = [str(t) for t in wanted if str(t).strip()]
    if not wanted:
        return ds
    with_team = {
        name: lf for name, lf in ds.tables.items() if "team" in lf.collect_schema().names()
    }
    if not with_team:
        raise KpiError("no table of the data has a team column, so teams cannot be chosen")
    known = (
        pl.concat([lf.select(pl.col("team").cast(pl.String)) for lf in with_team.values()])
        .drop_nulls()
        .unique()
        .sort("team")
        .collect()["team"]
        .to_list()
    )
    unknown = [t for t in wanted if t not in known]
    if unknown:
        word = "team" if len(unknown) == 1 else "teams"
        raise KpiError(
            f"unknown {word} {', '.join(map(repr, unknown))}; teams in the data: "
            + ", ".join(known)
        )
    tables = {}
    for name, lf in ds.tables.items():
        if name in with_team:
            keep = pl.col("team").cast(pl.String).is_in(wanted)
            if name == "events":
                keep = keep | pl.col("team").is_null()
            lf = lf.filter(keep)
        tables[name] = lf
    return Dataset(tables, tz=ds.tz, meta={**ds.meta, "teams": wanted}, path=ds.path)


def metric_table(metric: str, data: Dataset | Mapping[str, Any] | str) -> str | None:
    """The table a KPI's main measure is read from in this dataset (None: none present).

    Examples
    --------
    >>> metric_table("aht", {"contacts": pl.DataFrame({"talk_s": [1.0]})})
    'contacts'
    >>> metric_table("backlog", {"contacts": pl.DataFrame({"talk_s": [1.0]})}) is None
    True
    """
    return source_table(Dataset.coerce(data), metric)


def available_metrics(
    data: Dataset | Mapping[str, Any] | str,
    metrics: Iterable[str] | str = "all",
    *,
    check_data: bool = True,
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """The KPIs (of ``metrics``, in catalogue order) the data can support.

    Parameters
    ----------
    data
        Dataset, mapping of tables or dataset directory.
    metrics
        KPI ids to consider (a list or a comma-separated string), or ``"all"``.
    check_data
        The engine's rule (:func:`kpi.compute.availability`, under ``params``): leave out the
        KPIs whose inputs the data lack (a table, or a column absent or null on every row),
        which :func:`kpi.compute.evaluate` would leave null. False: only the tables are
        checked (a KPI is offered when each measure has a table present).
    params
        Definition variants (a variant may need other data).

    Notes
    -----
    :func:`unavailable_lines` says why each KPI left out is unavailable.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> day = datetime(2026, 2, 2, tzinfo=UTC)
    >>> t = pl.DataFrame({"ticket_id": ["t1"], "created_ts": [day], "solved_ts": [day]})
    >>> available_metrics({"tickets": t})
    ['tickets_handled', 'avg_resolution_time', 'backlog']
    >>> available_metrics({"tickets": t}, check_data=False)
    ['tickets_handled', 'avg_resolution_time', 'first_response_time', 'backlog']
    """
    ds = Dataset.coerce(data)
    ids = list(METRICS) if metrics == "all" else _ids(metrics)
    if check_data:
        from kpi.compute import availability

        found = availability(ds, [k for k in ids if k in METRICS], params=params)
        return [k for k in METRICS if k in found and found[k].ok]
    uses = {kpi_id: need for kpi_id in ids if (need := _tables_read(ds, kpi_id)) is not None}
    return [k for k in METRICS if k in uses]


def unavailable_lines(
    data: Dataset | Mapping[str, Any] | str,
    metrics: Iterable[str] | str,
    *,
    params: Mapping[str, Any] | None = None,
) -> list[str]:
    """One plain line for each KPI of ``metrics`` the data cannot support: its label, why, and
    what data would enable it (:func:`kpi.compute.availability`); what a report says in place
    of the rows or sections it leaves out.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> day = datetime(2026, 2, 2, tzinfo=UTC)
    >>> t = pl.DataFrame({"ticket_id": ["t1"], "created_ts": [day], "solved_ts": [day]})
    >>> unavailable_lines({"tickets": t}, ["tickets_handled", "csat"])
    ['Customer satisfaction: unavailable: no surveys table; needs csat in surveys']
    """
    from kpi.compute import availability

    ds = Dataset.coerce(data)
    ids = [k for k in (list(METRICS) if metrics == "all" else _ids(metrics)) if k in METRICS]
    found = availability(ds, ids, params=params)
    return [a.line(METRICS[k].label) for k, a in found.items() if not a.ok]


def _tables_read(ds: Dataset, kpi_id: str) -> list[tuple[str, set[str]]] | None:
    """One ``(table, columns read)`` pair per measure of a KPI (default variants), the first
    table of the measure's order of preference that ``ds`` has; None when a measure has none."""
    need: list[tuple[str, set[str]]] = []
    for m in known_metric(kpi_id).build().measures:
        source = next((src for src in m.sources if src.table in ds), None)
        if source is not None:
            need.append((source.table, set(source.agg.meta.root_names())))
        elif not m.sources and any(t in ds for t in m.tables):
            need.append((next(t for t in m.tables if t in ds), set()))
        else:
            return None
    return need


def dimensions(
    data: Dataset | Mapping[str, Any] | str,
    metric: str | None = None,
    *,
    extra: Sequence[str] = (),
) -> list[str]:
    """Dimension columns (of :data:`DIMENSIONS`, then ``extra`` such as ``agent_id``) a KPI
    can be cut by in this dataset: those with values (a column null on every row, such as
    one a loaded file lacked, cuts nothing).

    With ``metric``: the columns with values in every table the KPI reads; without: in any
    table.

    Examples
    --------
    >>> c = pl.DataFrame({"team": ["A"], "queue": ["q"], "topic": [None], "talk_s": [1.0]})
    >>> dimensions({"contacts": c}, "aht")
    ['team', 'queue']
    """
    from kpi.compute import known_columns

    ds = Dataset.coerce(data)
    wanted = [*DIMENSIONS, *extra]
    if metric is None:
        tables = list(ds.tables)
    else:
        found = {
            next((t for t in m.source_tables if t in ds), None)
            for m in known_metric(metric).build().measures
        }
        tables = [t for t in ds.tables if t in found]
        if not tables:
            return []
    known = known_columns(ds, dict.fromkeys(tables, wanted))
    has = [{c for c, ok in known.get(t, {}).items() if ok} for t in tables]
    if not has:
        return []
    usable = set.union(*has) if metric is None else set.intersection(*has)
    return [d for d in wanted if d in usable]


def variant_options(metric: str) -> list[tuple[str, dict[str, Any]]]:
    """Definition variants of a KPI to choose from: ``(label, params)`` pairs, default first.

    Each alternative changes one variant from its default: every other choice of a variant
    with choices, and a few usual values of numeric ones (thresholds, windows) and the words
    they take (``threshold_s=objective``: each queue's own objective).

    Examples
    --------
    >>> [label for label, _ in variant_options("service_level")][:3]
    ['default (threshold_s=objective, denominator=answered_plus_abandoned, short_abandon_s=0)', 'threshold_s=10', 'threshold_s=20']
    >>> variant_options("service_level")[2][1]
    {'service_level.threshold_s': 20}
    """
    m = known_metric(metric)
    # a free-text variant (service_level.objectives: thresholds per queue) has no presets
    defaults = ", ".join(f"{p.name}={p.default}" for p in m.params if p.default != "")
    out: list[tuple[str, dict[str, Any]]] = [
        (f"default ({defaults})" if defaults else "default", {})
    ]
    for p in m.params:
        values = p.choices or (*_PRESETS.get(p.name, ()), *p.keywords)
        for v in values:
            if v != p.default:
                out.append((f"{p.name}={v}", {f"{m.id}.{p.name}": v}))
    return out


def header_targets(
    targets: TargetSet | None,
    metrics: Iterable[str],
    params: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Targets for :func:`kpi.report.header`: those of a targets file, and the built-in ones
    of the KPIs whose variant in ``params`` changes the unit and so the target
    (:meth:`TargetSet.default`: CSAT as a mean is judged against 4.2 points, not 80%).

    Examples
    --------
    >>> ts = TargetSet.from_mapping({"aht": {"target": 300, "red": 400}})
    >>> header_targets(ts, ["aht", "service_level"])
    {'aht': {'target': 300.0, 'red': 400.0}}
    >>> header_targets(None, ["csat"], {"csat.method": "mean"})
    {'csat': {'target': 4.2, 'red': 3.8}}
    """
    out = {}
    for kpi_id in metrics:
        t = None if targets is None else targets.defaults.get(kpi_id)
        if t is None and kpi_id in METRICS:
            p = metric_params(kpi_id, params)
            if p and METRICS[kpi_id].unit_for(p) != METRICS[kpi_id].unit:
                t = (targets or TargetSet()).default(kpi_id, {kpi_id: p})
        if t is not None:
            out[kpi_id] = {"target": float(t.target), "red": float(t.red)}
    return out


def metric_params(metric: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variants of one KPI (short names, defaults filled) from the notebook's flat
    ``kpi_params`` (``{"service_level.threshold_s": 30}``), as :func:`kpi.explain.explain`
    takes them.

    Examples
    --------
    >>> metric_params("aht", {"aht.components": "talk_hold", "service_level.threshold_s": 30})
    {'components': 'talk_hold'}
    """
    ((_, p),) = resolve([metric], params)
    return dict(p)


def units(columns: Iterable[str], params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Column name to KPI unit for the KPI columns among ``columns`` (for
    :func:`kpi.report.table`), under the definition variants ``params`` (a variant may change
    the unit: CSAT as a mean is a score in points, not a share).

    Examples
    --------
    >>> units(["team", "aht", "fcr"])
    {'aht': 's', 'fcr': 'ratio'}
    >>> units(["csat"], {"csat.method": "mean"})
    {'csat': 'points'}
    """
    return {c: unit_of(c, params) for c in columns if c in METRICS}


def unit_of(metric: str, params: Mapping[str, Any] | None = None) -> str:
    """The unit of a KPI's value under the notebook's flat ``params``
    (:meth:`kpi.metrics.Metric.unit_for`).

    Examples
    --------
    >>> unit_of("csat"), unit_of("csat", {"csat.method": "mean"})
    ('ratio', 'points')
    """
    return known_metric(metric).unit_for(metric_params(metric, params))


def labels(columns: Iterable[str], **extra: str) -> dict[str, str]:
    """Column name to header text: KPI ids get their catalogue label; ``extra`` adds or
    overrides others (for :func:`kpi.report.table`).

    Examples
    --------
    >>> labels(["team", "aht", "fcr"], agent_id="agent")
    {'aht': 'Average handle time', 'fcr': 'First contact resolution', 'agent_id': 'agent'}
    """
    out = {c: METRICS[c].label for c in columns if c in METRICS}
    out.update(extra)
    return out


#: Table columns that hold the comparison period's value or the change from it.
COMPARISON_COLUMNS = ("previous", "change", "change_rel", "handled_previous", "improved")


def comparison_columns(columns: Iterable[str], compare: Any) -> list[str]:
    """The table columns to show: all of ``columns`` with a comparison period, without those
    of the comparison (``previous``, ``change``, ``change_rel``, ``handled_previous``) when
    ``compare`` is empty (``""`` or ``None``: no comparison period with data).

    Examples
    --------
    >>> cols = ["label", "value", "previous", "change", "change_rel", "target", "status"]
    >>> comparison_columns(cols, "2026-01") == cols
    True
    >>> comparison_columns(cols, "")
    ['label', 'value', 'target', 'status']
    """
    columns = list(columns)
    if compare not in (None, ""):
        return columns
    return [c for c in columns if c not in COMPARISON_COLUMNS]


def to_long(
    frame: pl.LazyFrame | pl.DataFrame,
    columns: Mapping[str, str],
    *,
    index: Sequence[str] = ("period",),
    name: str = "series",
    value: str = "value",
) -> pl.LazyFrame:
    """Several value columns as one ``value`` column with a ``series`` label (for colour).

    Parameters
    ----------
    columns
        Column name to its label (the ``series`` values), in display order.

    Examples
    --------
    >>> f = pl.DataFrame({"period": [1, 2], "opened": [5, 6], "handled": [4, 7]})
    >>> to_long(f, {"opened": "opened", "handled": "handled"}).collect().rows()
    [(1, 'opened', 5), (1, 'handled', 4), (2, 'opened', 6), (2, 'handled', 7)]
    """
    lf = frame.lazy()
    return (
        lf.select(*index, *columns)
        .unpivot(index=list(index), on=list(columns), variable_name=name, value_name=value)
        .with_columns(pl.col(name).replace_strict(dict(columns), return_dtype=pl.String))
    )


def known_metric(metric: str) -> Metric:
    """The catalogue entry of a KPI id.

    Raises
    ------
    KpiError
        When the id is not in the catalogue (the message lists the valid ids).

    Examples
    --------
    >>> known_metric("aht").label
    'Average handle time'
    """
    if metric not in METRICS:
        raise KpiError(f"unknown KPI {metric!r}; valid KPIs: {', '.join(METRICS)}")
    return METRICS[metric]


def source_table(ds: Dataset, metric: str) -> str | None:
    """The table of ``ds`` a KPI's main measure is read from (None: none present); the
    dataset-typed core of :func:`metric_table`."""
    for table in known_metric(metric).build().numerator.source_tables:
        if table in ds:
            return table
    return None


def by_columns(by: Sequence[str] | str) -> list[str]:
    """Grouping columns from one name or several, empty names dropped.

    Raises
    ------
    KpiError
        For a column of customer identifiers (:func:`kpi._mask.identifier_columns`): a view
        shows aggregates, and one group per customer would put every id on the page.

    Examples
    --------
    >>> by_columns("team"), by_columns(("team", "")), by_columns("")
    (['team'], ['team'], [])
    >>> by_columns("customer_id")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: customer_id holds customer identifiers and cannot split a view; dimensions: team, site, channel, queue, topic, direction, priority
    """
    cols = [b for b in ((by,) if isinstance(by, str) else tuple(by)) if b]
    refuse_identifiers(cols, what="split a view")
    return cols


def refuse_identifiers(columns: Iterable[str], *, what: str) -> None:
    """Raise a :class:`~kpi.errors.KpiError` if a column holds customer identifiers.

    Examples
    --------
    >>> refuse_identifiers(["team", "topic"], what="be a segment")
    >>> refuse_identifiers(["email"], what="be a segment")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: email holds customer identifiers and cannot be a segment; dimensions: team, site, channel, queue, topic, direction, priority
    """
    found = identifier_columns(str(c) for c in columns)
    if found:
        raise KpiError(
            f"{', '.join(found)} holds customer identifiers and cannot {what}; "
            f"dimensions: {', '.join(DIMENSIONS)}"
        )


def as_period(period: str | Period) -> Period:
    """A :class:`~kpi.periods.Period` from itself or its text (``2026-02``, ``2026-W06`` ...).

    Examples
    --------
    >>> as_period("2026-02").label
    '2026-02'
    """
    return period if isinstance(period, Period) else parse_period(period)


def _ids(metrics: Iterable[str] | str) -> list[str]:
    if isinstance(metrics, str):
        return [m.strip() for m in metrics.split(",") if m.strip()]
    return list(metrics)


def bound(value: str | date | datetime | None, tz: str, *, end: bool = False) -> datetime | None:
    """A range bound as a timestamp in ``tz`` (``end``: the end of that day or period);
    ``None`` or ``""``: no bound."""
    if value is None or value == "":
        return None
    return to_timestamp(value, tz, end=end)


def period_text(ts: datetime, every: str) -> str:
    """A period's start as a sentence names it at grain ``every``.

    Examples
    --------
    >>> t = datetime(2026, 2, 3, 9, 30)
    >>> period_text(t, "1mo"), period_text(t, "1w"), period_text(t, "1d"), period_text(t, "30m")
    ('2026-02', 'the week of 3 Feb', 'Tue 3 Feb', 'Tue 3 Feb 09:30')
    """
    if every in ("1mo", "1q", "1y"):
        return ts.strftime("%Y-%m")
    if every == "1w":
        return f"the week of {ts.day} {ts.strftime('%b')}"
    day = f"{WEEKDAY_ABBR[ts.weekday()]} {ts.day} {ts.strftime('%b')}"
    return day if every == "1d" else f"{day} {ts.strftime('%H:%M')}"
