"""The report notebooks: where they are, what they are called, the parameters they declare,
whether the data covers the period a notebook is asked for, and the periods a notebook's
defaults stand for on the data at hand (:func:`data_periods`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kpi.errors import KpiError
from kpi.report._params import NotebookParam, inspect_params

__all__ = [
    "PERIODS_MIME",
    "DataPeriods",
    "data_periods",
    "data_span",
    "list_reports",
    "notebook_parameters",
    "plan_periods",
    "report_name",
    "require_period",
    "resolve_notebook",
]

#: The MIME type of :class:`DataPeriods` (the renderer lifts its notes into the header).
PERIODS_MIME = "application/vnd.kpi.report-periods+json"
#: The tables whose records say which days the data covers.
_ACTIVITY = ("contacts", "tickets", "intervals")
#: The tables whose records say when a dataset without contacts, tickets or interval reports
#: has activity (a WFM export of agent states, a survey export).
_OTHER_ACTIVITY = ("agent_time", "surveys", "qa_evaluations", "agent_surveys", "coaching")


def _activity(ds: Any) -> tuple[str, ...]:
    """The activity tables a dataset's periods are read from: contacts, tickets and interval
    reports, else (data without them) agent time, surveys and the other dated records."""
    if any(t in ds.tables for t in _ACTIVITY):
        return _ACTIVITY
    return _OTHER_ACTIVITY


#: The repository (``notebooks/`` is looked up under it first).
_REPO = Path(__file__).resolve().parents[2]
_NUMBERED = re.compile(r"^(\d{2})-(.+)\.ipynb$")


def _notebook_dirs(notebooks_dir: str | os.PathLike | None) -> list[Path]:
    if notebooks_dir is not None:
        return [Path(notebooks_dir)]
    dirs: dict[Path, Path] = {}
    for d in (_REPO / "notebooks", Path.cwd() / "notebooks"):
        if d.is_dir():
            dirs.setdefault(d.resolve(), d)
    return list(dirs.values())


def list_reports(notebooks_dir: str | os.PathLike | None = None) -> list[Path]:
    """The standard reports: every ``NN-name.ipynb`` of the notebooks directory, in order.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("01-trends.ipynb", "00-overview.ipynb", "scratch.ipynb"):
    ...     _ = (d / name).write_text("{}")
    >>> [p.name for p in list_reports(d)]
    ['00-overview.ipynb', '01-trends.ipynb']
    """
    found: dict[str, Path] = {}
    for d in _notebook_dirs(notebooks_dir):
        for p in sorted(d.glob("[0-9][0-9]-*.ipynb")):
            found.setdefault(p.name, p)
    return [found[k] for k in sorted(found)]


def report_name(path: str | os.PathLike) -> str:
    """The report name of a notebook: its file stem without the ``NN-`` prefix.

    Examples
    --------
    >>> report_name("notebooks/00-overview.ipynb"), report_name("tests/notebooks/xss.ipynb")
    ('overview', 'xss')
    """
    name = Path(path).name
    m = _NUMBERED.match(name)
    return m[2] if m else Path(name).stem


def resolve_notebook(
    name_or_path: str | os.PathLike, *, notebooks_dir: str | os.PathLike | None = None
) -> Path:
    """Find a report notebook by path, by name (``overview``) or by file stem (``00-overview``).

    Raises
    ------
    KpiError
        Listing the available reports when nothing matches.

    Examples
    --------
    >>> resolve_notebook("overview").name
    '00-overview.ipynb'
    >>> resolve_notebook("00").name
    '00-overview.ipynb'
    """
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".ipynb" or os.sep in text or "/" in text:
        if path.is_file():
            return path.resolve()
        raise KpiError(f"notebook {path} does not exist")
    reports = list_reports(notebooks_dir)
    for p in reports:
        if text in (p.stem, report_name(p), p.stem[:2]):
            return p.resolve()
    valid = ", ".join(report_name(p) for p in reports) or "none found"
    where = ", ".join(str(d) for d in _notebook_dirs(notebooks_dir)) or "no notebooks directory"
    raise KpiError(f"unknown report {text!r}; valid reports: {valid} (in {where})")


def notebook_parameters(path: str | os.PathLike) -> dict[str, NotebookParam]:
    """The parameters a notebook declares (name -> :class:`NotebookParam`).

    Examples
    --------
    >>> params = notebook_parameters(resolve_notebook("overview"))
    >>> params["period"].describe()
    'period (period, default "latest"): reporting period: latest (complete month), 2026-02, 2026-W06, 2026-Q1'
    """
    return inspect_params(path)


def require_period(
    data: Any,
    period: Any,
    *,
    tables: Iterable[str] | None = None,
) -> None:
    """Fail early, and clearly, when the data holds nothing in a report's period.

    A scheduled run whose data import did not happen would otherwise fail deep inside a
    computation ("there is no change to explain"); this says which period is empty and what
    the data covers.

    Parameters
    ----------
    data
        A :class:`kpi.Dataset`, a mapping of tables, or a dataset directory.
    period
        A period label (``"2026-02"``, ``"previous-month"``) or :class:`kpi.periods.Period`.
    tables
        The activity tables to look at (those the dataset has); the period needs rows in one.
        Default: contacts, tickets and interval reports, else (data without them) agent time,
        surveys and the other dated records.

    Raises
    ------
    KpiError
        Naming the period, its dates and the dates the data covers.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> c = pl.DataFrame({"arrival_ts": [datetime(2026, 1, 5, tzinfo=UTC)]})
    >>> require_period({"contacts": c}, "2026-01")
    >>> require_period({"contacts": c}, "2026-03")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: no data in 2026-03 (2026-03-01 to 2026-03-31): contacts cover 2026-01-05 to 2026-01-05
    """
    import polars as pl

    from kpi.data import Dataset
    from kpi.periods import Period, parse_period
    from kpi.schema import TABLES

    ds = Dataset.coerce(data)
    p = period if isinstance(period, Period) else parse_period(period)
    tables = _activity(ds) if tables is None else tuple(tables)
    covered = []
    for name in tables:
        if name not in ds.tables:
            continue
        column = TABLES[name].time_column
        lf = ds[name]
        dtype = lf.collect_schema()[column]
        tz = getattr(dtype, "time_zone", None) or ds.tz
        start, end = p.start_ts(tz), p.end_ts(tz)
        if getattr(dtype, "time_zone", None) is None:
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        found = lf.filter((pl.col(column) >= start) & (pl.col(column) < end)).head(1).collect()
        if found.height:
            return
        span = lf.select(
            pl.col(column).min().alias("lo"), pl.col(column).max().alias("hi")
        ).collect()
        lo, hi = span.row(0)
        covered.append(
            f"{name} cover {lo.date().isoformat()} to {hi.date().isoformat()}"
            if lo is not None
            else f"{name} is empty"
        )
    last = (p.end - timedelta(days=1)).isoformat()
    raise KpiError(
        f"no data in {p.label} ({p.start.isoformat()} to {last}): "
        + ("; ".join(covered) or f"the data has none of the tables {', '.join(tables)}")
    )


def _dataset(data: Any) -> Any:
    from kpi.data import Dataset, load

    if isinstance(data, (str, os.PathLike)):
        return load(data)
    return Dataset.coerce(data)


def _bounds(ds: Any, name: str, period: Any) -> tuple[Any, Any]:
    """``period``'s start and end as stamps comparable with ``name``'s time column."""
    from kpi.schema import TABLES

    dtype = ds[name].collect_schema()[TABLES[name].time_column]
    tz = getattr(dtype, "time_zone", None) or ds.tz
    start, end = period.start_ts(tz), period.end_ts(tz)
    if getattr(dtype, "time_zone", None) is None:
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return start, end


def _has_data(ds: Any, period: Any, tables: Iterable[str] | None = None) -> bool:
    import polars as pl

    from kpi.schema import TABLES

    for name in _activity(ds) if tables is None else tables:
        if name not in ds.tables:
            continue
        column = TABLES[name].time_column
        start, end = _bounds(ds, name, period)
        lf = ds[name].filter((pl.col(column) >= start) & (pl.col(column) < end))
        if lf.select(pl.len()).collect().item():
            return True
    return False


@dataclass(frozen=True)
class DataSpan:
    """The local days the activity records of a dataset cover, and the weekdays they fall on
    in their last five weeks (Monday 0)."""

    first: date
    last: date
    weekdays: frozenset[int]


def data_span(data: Any, *, tables: Iterable[str] | None = None) -> DataSpan | None:
    """The first and last local day of the data's activity records (contacts' arrival,
    tickets' creation, intervals' start), and the weekdays of its last five weeks; ``None``
    when the data has no such records.

    Reads only the time columns (minimum and maximum are answered from Parquet statistics
    where the files have them).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> c = pl.DataFrame(
    ...     {
    ...         "arrival_ts": [
    ...             datetime(2026, 1, 5, 9, tzinfo=UTC),
    ...             datetime(2026, 1, 9, 17, tzinfo=UTC),
    ...         ]
    ...     }
    ... )
    >>> span = data_span({"contacts": c})
    >>> span.first, span.last, sorted(span.weekdays)
    (datetime.date(2026, 1, 5), datetime.date(2026, 1, 9), [0, 4])
    """
    ds = _dataset(data)
    return _span(_day_counts(ds, _activity(ds) if tables is None else tables))


def _day_counts(ds: Any, tables: Iterable[str]) -> dict[str, Any]:
    """Records per local day (``d``, ``len``) of each of ``tables`` the dataset has: one
    grouped pass over each time column, collected together."""
    import polars as pl

    from kpi.schema import TABLES

    names, queries = [], []
    for name in tables:
        if name not in ds.tables:
            continue
        column = TABLES[name].time_column
        local = pl.col(column)
        if getattr(ds[name].collect_schema()[column], "time_zone", None):
            local = local.dt.convert_time_zone(ds.tz)
        names.append(name)
        queries.append(
            ds[name].select(local.dt.date().alias("d")).drop_nulls().group_by("d").len()
        )
    return dict(zip(names, pl.collect_all(queries), strict=True))


def _span(days: Mapping[str, Any]) -> DataSpan | None:
    """:class:`DataSpan` of daily counts (:func:`_day_counts`)."""
    found = [f for f in days.values() if f.height]
    if not found:
        return None
    first = min(f["d"].min() for f in found)
    last = max(f["d"].max() for f in found)
    since = last - timedelta(days=34)
    weekdays = {d.weekday() for f in found for d in f["d"].to_list() if d >= since}
    return DataSpan(first, last, frozenset(weekdays))


#: Daily counts of dataset directories, by directory and the stamps of its files: the reports
#: of one ``kpi report --all`` resolve their periods on the same data with one pass over it.
_DAYS: dict[tuple[str, tuple[Any, ...]], dict[str, Any]] = {}


def _stamp(root: Path) -> tuple[Any, ...]:
    """The directory's files as the file system tells them (name, inode, size, mtime)."""
    out = []
    with os.scandir(root) as entries:
        for e in entries:
            if e.is_file():
                st = e.stat()
                out.append((e.name, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def _days_of(data: Any, ds: Any) -> dict[str, Any]:
    """Daily counts of the activity tables, kept per dataset directory while its files stay
    the same (a dataset given as tables is counted each time: they may be filtered)."""
    if not isinstance(data, (str, os.PathLike)) or not Path(data).is_dir():
        return _day_counts(ds, _activity(ds))
    key = (str(Path(data).resolve()), _stamp(Path(data)))
    if key not in _DAYS:
        _DAYS.clear()  # one directory's counts at a time: small, and never stale
        _DAYS[key] = _day_counts(ds, _activity(ds))
    return _DAYS[key]


@dataclass(frozen=True)
class DataPeriods:
    """The periods a report shows: ``period`` (an ISO label) and ``compare`` (an ISO label, or
    ``""`` for no comparison), with ``notes`` for the header (the comparison period has no
    data; the period is incomplete).

    Displayed (the last expression of a cell), it shows its notes in a notebook and the
    renderer lifts them into the report's header.
    """

    period: str
    compare: str
    notes: tuple[str, ...] = ()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        text = f"Period {self.period}" + (
            f", compared with {self.compare}." if self.compare else ", without comparison."
        )
        lines = [text, *self.notes]
        return {
            PERIODS_MIME: {"period": self.period, "compare": self.compare, "notes": [*self.notes]},
            "text/plain": "\n".join(lines),
            "text/markdown": "\n".join(f"> {line}  " for line in lines),
        }


def data_periods(
    data: Any,
    period: str = "latest",
    compare: str = "",
    *,
    today: date | None = None,
) -> DataPeriods:
    """Resolve a notebook's ``period`` and ``compare`` on the data at hand.

    Parameters
    ----------
    data
        A :class:`kpi.Dataset`, a mapping of tables, or a dataset directory.
    period
        An ISO period or relative word (:func:`kpi.periods.parse_period`), or ``latest``
        (``latest-day``, ``latest-week``, ``latest-month``, ``latest-quarter``): the latest
        complete period in the data (:func:`kpi.periods.latest_period` states the rule).
    compare
        A period, or ``""`` for the period of the same kind just before ``period``.

    Returns
    -------
    DataPeriods
        ``period`` as an ISO label; ``compare`` as an ISO label, or ``""`` when the comparison
        period has no data (a note then says "No data for 2025-12: shown without comparison").
        Resolving its own result again gives the same result.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> days = pl.datetime_range(
    ...     datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC), "1d", eager=True
    ... )
    >>> c = {"contacts": pl.DataFrame({"arrival_ts": days})}
    >>> data_periods(c)
    DataPeriods(period='2026-02', compare='2026-01', notes=())
    >>> data_periods(c, "2026-01").notes
    ('No data for 2025-12: shown without comparison',)
    >>> data_periods(c, "latest-week").period, data_periods(c, "2026-03", "2026-01").compare
    ('2026-W11', '2026-01')
    """
    from kpi.periods import LATEST, latest_period, parse_period, previous_period

    ds = _dataset(data)
    notes: list[str] = []
    text = str(period).strip()
    if text in LATEST:
        days = _days_of(data, ds)
        span = _span(days)
        if span is None:
            raise KpiError(
                f"period {text!r}: the data has no records in {', '.join(_activity(ds))} to take "
                "the latest period from; give the period, e.g. 2026-02"
            )
        found, complete = latest_period(
            span.first, span.last, LATEST[text], open_weekdays=span.weekdays
        )
        if not complete:
            notes.append(f"{found.label} is incomplete: the data ends on {span.last.isoformat()}")
        else:
            found, tail = _before_sparse_tail(days, found, span.first)
            notes += tail
        this = found
    else:
        this = parse_period(text, today=today)
        span = _span(_days_of(data, ds))
        last = this.end - timedelta(days=1)
        if span is not None and (this.start < span.first or last > span.last):
            lo, hi = max(this.start, span.first), min(last, span.last)
            if lo <= hi:  # a total over part of the period is not the period's total
                notes.append(
                    f"{this.label} is incomplete: the data cover {lo.isoformat()} to "
                    f"{hi.isoformat()} of it ({this.start.isoformat()} to {last.isoformat()})"
                )
    wanted = str(compare or "").strip()
    before = parse_period(wanted, today=today) if wanted else previous_period(this)
    label = before.label
    if not _has_data(ds, before):
        notes.append(f"No data for {before.label}: shown without comparison")
        label = ""
    return DataPeriods(this.label, label, tuple(notes))


#: A period holding fewer records than this share of the median period's is a sparse tail
#: (an export's stragglers), not the latest period to report on.
SPARSE_SHARE = 0.25


def _before_sparse_tail(days: Mapping[str, Any], found: Any, first: date) -> tuple[Any, list[str]]:
    """The latest complete period that is not a sparse tail, and a note on what was skipped.

    Counts the activity records (:data:`_ACTIVITY`, from their daily counts) per period of
    ``found``'s grain; from ``found`` back, a period with fewer than :data:`SPARSE_SHARE` of
    the median period's records is skipped (an export that trails off: 226 cases in a month
    after years of 3,000). When every period back to the data's start is sparse, ``found``
    stays.
    """
    import polars as pl

    from kpi.periods import period_of, previous_period

    counts: dict[date, int] = {}
    for frame in days.values():
        for d, n in frame.iter_rows():
            start = period_of(d, found.grain).start
            counts[start] = counts.get(start, 0) + n
    if len(counts) < 3:
        return found, []
    median = float(pl.Series(list(counts.values())).median())  # type: ignore[arg-type]
    floor = SPARSE_SHARE * median
    chosen, skipped = found, []
    while counts.get(chosen.start, 0) < floor and chosen.start > first:
        skipped.append(chosen)
        chosen = previous_period(chosen)
    if counts.get(chosen.start, 0) < floor:
        return found, []
    if not skipped:
        return found, []
    most = max(counts.get(p.start, 0) for p in skipped)
    span = skipped[0].label if len(skipped) == 1 else f"{skipped[-1].label} to {skipped[0].label}"
    return chosen, [
        f"latest period: {chosen.label}; {span} hold few records (at most {most:,} a period, "
        f"against a median of {median:,.0f}), a sparse tail; give the period to report on it"
    ]


def plan_periods(
    name: str,
    spec: Mapping[str, NotebookParam],
    values: Mapping[str, Any],
    data_dir: Path | None,
    today: date,
) -> dict[str, str]:
    """``period`` and ``compare`` resolved on the data before anything runs.

    ``latest`` becomes the latest complete period of the data, ``compare`` ``""`` (or not
    given with a given ``period``) the period before, and a comparison period without data
    ``""`` (the notebook says so in its header); both are passed to the notebook, so the
    report's folder is named after the real period. Explicit periods are kept as they are.
    """
    from kpi.periods import LATEST, parse_period, previous_period

    if "period" not in spec:
        return {}
    period = str(values.get("period", spec["period"].default) or "")
    if "compare" not in spec:
        wanted = None
    elif "compare" in values:
        wanted = str(values["compare"] or "")
    else:
        wanted = "" if "period" in values else str(spec["compare"].default or "")
    if period not in LATEST and wanted != "":
        return {}
    if data_dir is None or "data_dir" not in spec:
        if period in LATEST:
            raise KpiError(
                f"{name}: bad value for period: {period!r} is taken from the data, and the "
                "notebook has no data_dir parameter; give the period, e.g. 2026-02"
            )
        return {"compare": previous_period(parse_period(period, today=today)).label}
    try:
        found = data_periods(data_dir, period, wanted or "", today=today)
    except KpiError as exc:
        raise KpiError(f"{name}: bad value for period: {exc}") from None
    out = {"period": found.period}
    if wanted is not None:
        out["compare"] = found.compare
    return out
