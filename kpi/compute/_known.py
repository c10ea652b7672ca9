"""What the data can support: known columns, usable sources and available KPIs.

Unknown is never zero. A source of a measure (:class:`kpi.metrics.Source`) is usable only when
its table is there, has the ``by`` columns, states the facts the source needs (thresholds of an
interval report) and has every column the aggregation reads (:attr:`Source.columns
<kpi.metrics.Source.columns>`) with at least one non-null value. Absent and null on every row
mean the same: the data do not say. A measure with no usable source is unknown, and so is every
KPI built on it: null, with one line that says why and what data would enable it.

The check reads only schemas and null counts of the first rows of each table (and of every row
only for a column null on all of those), remembered on the :class:`~kpi.data.Dataset` while its
tables are the same frames; it never computes a KPI.
Which groups inside a table are unknown (a team whose ``talk_s`` is null on every row) is the
engine's per-group rule, :func:`group_checks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.metrics import Build, Measure, Source
from kpi.schema import TABLES

__all__ = [
    "Availability",
    "column_states",
    "group_checks",
    "inherit_states",
    "kpi_availability",
    "needs_text",
    "resolve_sources",
]

#: Column states: ``absent`` (not in the table), ``empty`` (null on every row of a table that
#: has rows), ``partial`` (some nulls), ``some`` (values, and no nulls in the first rows read),
#: ``full`` (no nulls, or no rows).
STATES = ("absent", "empty", "partial", "some", "full")
_CACHE = "_kpi_column_states"
#: Rows read to tell whether a column has values (and nulls) before a full count.
_SAMPLE = 65_536


@dataclass(frozen=True)
class Availability:
    """Whether the data can support a KPI, why not, and what would enable it.

    Attributes
    ----------
    ok
        True when every measure of the KPI has a usable source.
    reason
        Why it cannot be computed (None when ``ok``): a missing table, a column absent or null
        on every row, a ``by`` column a table lacks.
    needs
        The data it is computed from, alternatives in order of preference (``"talk_s, hold_s,
        acw_s in contacts, or answered, talk_s, hold_s, acw_s in intervals"``); for an
        unavailable KPI, only what it misses.

    Examples
    --------
    >>> a = Availability(False, "no surveys table", "csat in surveys")
    >>> a.message
    'unavailable: no surveys table; needs csat in surveys'
    >>> a.line("csat")
    'csat: unavailable: no surveys table; needs csat in surveys'
    """

    ok: bool
    reason: str | None
    needs: str

    @property
    def message(self) -> str:
        """One plain line without the KPI's name (empty when ``ok``)."""
        if self.ok:
            return ""
        return f"unavailable: {self.reason}; needs {self.needs}"

    def line(self, name: str) -> str:
        """One plain line naming the KPI (``name``: its id or label)."""
        return f"{name}: {self.message}" if not self.ok else f"{name}: available"


def column_states(ds: Dataset, wanted: Mapping[str, Iterable[str]]) -> dict[str, dict[str, str]]:
    """The state (:data:`STATES`) of each wanted column of each table present in ``ds``.

    Null counts of the wanted columns on the first rows of each table, collected together,
    then over every row for the columns null on all of those; results are remembered on the
    dataset while its table frames are the same objects.

    Examples
    --------
    >>> ds = Dataset({"events": pl.DataFrame({"label": ["a", None], "team": [None, None]})})
    >>> column_states(ds, {"events": ["label", "team", "nope"]})
    {'events': {'label': 'partial', 'team': 'empty', 'nope': 'absent'}}
    """
    cache: dict[str, tuple[pl.LazyFrame, dict[str, str]]] = ds.__dict__.setdefault(_CACHE, {})
    out: dict[str, dict[str, str]] = {}
    todo: list[tuple[str, list[str]]] = []
    for table, cols in wanted.items():
        if table not in ds:
            continue
        lf = ds.tables[table]
        hit = cache.get(table)
        if hit is None or hit[0] is not lf:
            hit = (lf, {})
            cache[table] = hit
        known = hit[1]
        names = set(lf.collect_schema().names())
        for c in cols:
            if c not in names:
                known[c] = "absent"
        ask = [c for c in dict.fromkeys(cols) if c not in known]
        if ask:
            todo.append((table, ask))
        out[table] = known
    if todo:
        _count_nulls(ds, todo, out)
    return {t: {c: out[t][c] for c in cols} for t, cols in wanted.items() if t in out}


def _count_nulls(
    ds: Dataset, todo: list[tuple[str, list[str]]], out: dict[str, dict[str, str]]
) -> None:
    """Null counts on the first :data:`_SAMPLE` rows of each table; a full count only for the
    columns null on every one of those rows (few: a column a source lacks, a late addition).

    A column with values and no nulls in the sample is ``some``: it has values, and whether a
    group is null throughout is left to the engine's per-group check.
    """

    def counts(cols_by_table: list[tuple[str, list[str]]], head: int | None) -> list[dict]:
        queries = []
        for t, cols in cols_by_table:
            lf = ds.tables[t] if head is None else ds.tables[t].head(head)
            queries.append(
                lf.select(pl.len().alias("__rows"), *[pl.col(c).null_count() for c in cols])
            )
        return [f.row(0, named=True) for f in pl.collect_all(queries)]

    again: list[tuple[str, list[str]]] = []
    for (table, cols), row in zip(todo, counts(todo, _SAMPLE), strict=True):
        n = row["__rows"]
        for c in cols:
            nulls = row[c]
            if n == 0 or nulls == 0:
                out[table][c] = "full" if n < _SAMPLE else "some"
            elif nulls < n:
                out[table][c] = "partial"
        rest = [c for c in cols if c not in out[table]]
        if rest:
            again.append((table, rest))
    if again:
        for (table, cols), row in zip(again, counts(again, None), strict=True):
            n = row["__rows"]
            for c in cols:
                nulls = row[c]
                out[table][c] = "empty" if nulls == n else "partial"


def inherit_states(part: Dataset, whole: Dataset) -> Dataset:
    """``part`` (rows of ``whole``) judged by the column states of ``whole``, not its own.

    A chunk of the range is evaluated with what the whole dataset knows: a chunk in which no
    contact was answered has no ``agent_id`` values, and that is a value (0 agents), not an
    unknown column.
    """
    cache = whole.__dict__.get(_CACHE, {})
    mine: dict[str, tuple[pl.LazyFrame, dict[str, str]]] = part.__dict__.setdefault(_CACHE, {})
    for table, (_, states) in cache.items():
        if table in part.tables:
            mine[table] = (part.tables[table], dict(states))
    return part


def _null_is_value(table: str, col: str) -> bool:
    t = TABLES.get(table)
    if t is None or col not in t.names:
        return False
    return t.column(col).null_is_value


def _column_problem(table: str, col: str, state: str) -> str | None:
    if state == "absent":
        return f"{table} has no column {col!r}"
    if state == "empty":
        return f"{table} has no {col} values"
    return None


def resolve_sources(
    ds: Dataset, by: Sequence[str], measures: Mapping[str, Measure]
) -> tuple[dict[str, Source | None], dict[str, str], dict[str, dict[str, str]]]:
    """The first usable source of each measure, or the reason none is.

    Returns
    -------
    (chosen, missing, states)
        Measure name to its usable :class:`~kpi.metrics.Source` (None for a builder measure
        whose tables and columns are usable); measure name to the reason it is unknown; the
        column states read (table to column to state).
    """
    wanted: dict[str, set[str]] = {}
    for m in measures.values():
        for table, cols in m.needs():
            wanted.setdefault(table, set()).update(cols)
    for cols in wanted.values():  # a group-by column null on every row groups nothing
        cols.update(by)
    states = column_states(ds, {t: sorted(c) for t, c in wanted.items()})
    chosen: dict[str, Source | None] = {}
    missing: dict[str, str] = {}
    for name, m in measures.items():
        if m.builder is not None:
            why = [_table_problem(ds, by, t, cols, states) for t, cols in m.needs()]
            why = [w for w in why if w]
            if why:
                missing[name] = "; ".join(why)
            else:
                chosen[name] = None
            continue
        reasons = []
        for src in m.sources:
            why = (
                _table_problem(ds, by, src.table, src.columns, states)
                or _meta_problem(ds, src)
                or _unrecorded_problem(ds, src)
            )
            if why:
                reasons.append(why)
                continue
            chosen[name] = src
            break
        else:
            missing[name] = "; ".join(dict.fromkeys(reasons)) or "no source"
    return chosen, missing, states


def _table_problem(
    ds: Dataset,
    by: Sequence[str],
    table: str,
    cols: Sequence[str],
    states: Mapping[str, Mapping[str, str]],
) -> str | None:
    if table not in ds:
        return f"no {table} table"
    names = ds[table].collect_schema().names()
    absent = [c for c in by if c not in names]
    if absent:
        return f"{table} has no column {', '.join(map(repr, absent))}"
    # a dimension null on every row (a loaded file without it): one unknown group holding
    # every row would pass the totals off as a cut by it
    empty = [c for c in by if states.get(table, {}).get(c) == "empty"]
    if empty:
        return f"{table} has no {', '.join(empty)} values"
    for c in cols:
        why = _column_problem(table, c, states.get(table, {}).get(c, "full"))
        if why:
            return why
    return None


def _unrecorded_problem(ds: Dataset, src: Source) -> str | None:
    """A source that reads only columns the dataset says its source system does not record
    (``dataset.json`` ``unrecorded``: ``{"contacts": ["hold_s", "acw_s"]}``, held as 0 so that
    a sum such as handle time stays known) is unknown: an average hold of 0 s would be
    invented.

    Examples
    --------
    >>> import polars as pl
    >>> ds = Dataset({}, tz="UTC", meta={"unrecorded": {"contacts": ["hold_s"]}})
    >>> _unrecorded_problem(
    ...     ds, Source("contacts", pl.col("hold_s").filter(pl.col("outcome") == "answered").sum())
    ... )
    'the source system does not record hold_s (dataset.json: unrecorded)'
    >>> _unrecorded_problem(ds, Source("contacts", (pl.col("talk_s") + pl.col("hold_s")).sum()))
    """
    gone = set((ds.meta.get("unrecorded") or {}).get(src.table, ()))
    # the columns it measures: those the table brings anyway (outcome) go unsaid
    cols = [c for c in src.columns if not _required(src.table, c)]
    if gone and cols and all(c in gone for c in cols):
        return f"the source system does not record {', '.join(cols)} (dataset.json: unrecorded)"
    return None


def _meta_problem(ds: Dataset, src: Source) -> str | None:
    bad = {k: v for k, v in src.meta.items() if ds.meta.get(k) != v}
    if not bad:
        return None
    return (
        f"{src.table} was reported with "
        + ", ".join(f"{k}={ds.meta.get(k)!r}" for k in bad)
        + " but the definition needs "
        + ", ".join(f"{k}={v!r}" for k, v in bad.items())
    )


def group_checks(src: Source, states: Mapping[str, Mapping[str, str]]) -> tuple[str, ...]:
    """The columns whose nulls make a group of ``src``'s rows unknown (null, not 0).

    Those the source reads that may be null on some rows of the table (``partial``, or
    ``some``: not counted beyond the first rows) and whose null is not a value
    (:attr:`kpi.schema.Column.null_is_value`): a group whose rows are all null there does not
    know the measure.
    """
    table = states.get(src.table, {})
    return tuple(
        c
        for c in src.columns
        if table.get(c) in ("partial", "some") and not _null_is_value(src.table, c)
    )


def needs_text(measures: Iterable[Measure]) -> str:
    """What ``measures`` are computed from, in words: columns by table, alternatives with "or".

    Columns the data model requires of a table go unsaid (the table brings them), and so do
    columns that only one of a measure's alternatives on a table reads (a queue's channel, where
    another alternative does without it).

    Examples
    --------
    >>> from kpi.metrics import METRICS
    >>> needs_text(METRICS["aht"].build().measures)
    'talk_s, hold_s, acw_s in contacts, or talk_s, hold_s, acw_s, answered in intervals'
    >>> needs_text(METRICS["csat"].build().measures)
    'csat in surveys'
    """
    groups: dict[tuple[str, ...], dict[str, dict[str, None]]] = {}
    for m in measures:
        alts = m.needs()
        key = tuple(dict.fromkeys(t for t, _ in alts))
        group = groups.setdefault(key, {t: {} for t in key})
        for t in key:
            per_alt = [cols for table, cols in alts if table == t]
            for c in per_alt[0]:
                if all(c in cols for cols in per_alt) and not _required(t, c):
                    group[t][c] = None
    parts = []
    for group in groups.values():
        alts = [f"{', '.join(cols)} in {t}" if cols else t for t, cols in group.items()]
        parts.append(", or ".join(alts))
    return "; plus ".join(parts) or "nothing"


def _required(table: str, col: str) -> bool:
    t = TABLES.get(table)
    return t is not None and col in t.names and t.column(col).required


def kpi_availability(
    builds: Sequence[tuple[Any, Build]], missing: Mapping[str, str]
) -> dict[str, Availability]:
    """Each KPI's :class:`Availability` from its build and the reasons measures are unknown.

    ``builds`` pairs each KPI id with its :class:`~kpi.metrics.Build`.
    """
    out = {}
    for kpi_id, b in builds:
        gone = [m for m in b.measures if m.name in missing]
        if gone:
            parts = (p for m in gone for p in missing[m.name].split("; "))
            reason = "; ".join(dict.fromkeys(parts))
            out[kpi_id] = Availability(False, reason, needs_text(gone))
        else:
            out[kpi_id] = Availability(True, None, needs_text(b.measures))
    return out
