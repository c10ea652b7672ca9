"""Datasets on disk: a directory of canonical Parquet tables plus ``dataset.json``.

The simulator (``kpi sample``) and the importers (``kpi import``) write this layout; ``kpi compute``,
``kpi explain``, the notebooks and the reports read it through :func:`load`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from kpi._fs import JOURNAL_FILE, Staging, settle_dir, staged_dir
from kpi.errors import KpiError
from kpi.periods import Period, to_timestamp
from kpi.schema import TABLES, conform, time_column, time_expr, validate

__all__ = ["Dataset", "load", "save"]

META_FILE = "dataset.json"


@dataclass
class Dataset:
    """Canonical tables of one site as LazyFrames, with the site time zone.

    Parameters
    ----------
    tables
        Table name to LazyFrame (or DataFrame; it is made lazy). Only canonical names are allowed.
    tz
        IANA time zone of the site; intervals are binned in it.
    meta
        Further facts from ``dataset.json`` (name, source, thresholds of interval reports).

    Examples
    --------
    >>> import polars as pl
    >>> ds = Dataset({"events": pl.DataFrame({"label": ["go-live"]})}, tz="Europe/London")
    >>> sorted(ds.tables), ds.tz
    (['events'], 'Europe/London')
    """

    tables: dict[str, pl.LazyFrame]
    tz: str = "UTC"
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tables) - set(TABLES))
        if unknown:
            raise KpiError(
                f"unknown table(s) {', '.join(unknown)}; valid tables: {', '.join(TABLES)}"
            )
        # canonical column order and dtypes; optional columns a source lacks become nulls
        self.tables = {k: conform(k, v.lazy(), self.tz) for k, v in self.tables.items()}

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def __getitem__(self, name: str) -> pl.LazyFrame:
        try:
            return self.tables[name]
        except KeyError:
            where = f" in {self.path}" if self.path else ""
            raise KpiError(
                f"no {name!r} table{where}; it has: {', '.join(sorted(self.tables)) or 'none'}"
            ) from None

    def replace(
        self, *, meta: Mapping[str, Any] | None = None, **tables: pl.LazyFrame | pl.DataFrame
    ) -> Dataset:
        """The same dataset with some tables swapped or added (and ``meta``, if given).

        Examples
        --------
        >>> import polars as pl
        >>> ds = Dataset({"events": pl.DataFrame({"label": ["go-live", "outage"]})})
        >>> smaller = ds.replace(events=ds["events"].head(1))
        >>> smaller["events"].collect()["label"].to_list(), ds.tz == smaller.tz
        (['go-live'], True)
        """
        return dataclasses.replace(
            self,
            tables={**self.tables, **tables},
            meta=dict(self.meta if meta is None else meta),
        )

    def restrict(
        self,
        *,
        tables: Iterable[str] | None = None,
        start: str | date | datetime | None = None,
        end: str | date | datetime | None = None,
        period: Period | None = None,
    ) -> Dataset:
        """The dataset limited to some tables and to a time range, lazily.

        Rows are kept where the table's time column (:func:`kpi.schema.time_column`: contacts
        by arrival) lies in ``[start, end)``; tables without one (agents, customers: rosters)
        are kept whole. ``start``/``end`` read as in :func:`kpi.compute.compute` (a date
        ``end`` is inclusive); ``period`` is half-open.

        Examples
        --------
        >>> from datetime import datetime, UTC
        >>> import polars as pl
        >>> from kpi.periods import parse_period
        >>> t = [datetime(2026, 1, 31, 23, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)]
        >>> ds = Dataset({"events": pl.DataFrame({"start_ts": t, "label": ["a", "b"]})})
        >>> jan = ds.restrict(period=parse_period("2026-01"))
        >>> jan["events"].collect()["label"].to_list()
        ['a']
        >>> ds.restrict(end="2026-02-01")["events"].collect()["label"].to_list()
        ['a', 'b']
        >>> sorted(ds.restrict(tables=[]).tables)
        []
        """
        if period is not None and (start is not None or end is not None):
            raise KpiError("give either period= or start=/end=, not both")
        lo = period.start_ts(self.tz) if period else to_timestamp(start, self.tz)
        hi = period.end_ts(self.tz) if period else to_timestamp(end, self.tz, end=True)
        names = list(self.tables) if tables is None else [t for t in tables if t in self.tables]
        kept = {name: _in_range(name, self.tables[name], self.tz, lo, hi) for name in names}
        return dataclasses.replace(self, tables=kept, meta=dict(self.meta))

    @classmethod
    def coerce(cls, data: Dataset | Mapping[str, Any] | str | os.PathLike) -> Dataset:
        """Accept a Dataset, a mapping of table frames, or a dataset directory.

        The public entry points (``compute``, ``evaluate``, ``load``'s callers...) coerce once;
        private helpers take a :class:`Dataset`.
        """
        if isinstance(data, Dataset):
            return data
        if isinstance(data, (str, os.PathLike)):
            return load(data)
        if isinstance(data, Mapping):
            tables = dict(data)
            tz = _infer_tz(tables)
            return cls(tables, tz=tz)
        raise TypeError(f"expected a Dataset, a mapping of frames or a path, got {type(data)}")


def _in_range(
    table: str, lf: pl.LazyFrame, tz: str, lo: datetime | None, hi: datetime | None
) -> pl.LazyFrame:
    col = time_column(table)
    if col is None or (lo is None and hi is None):
        return lf
    ts = time_expr(table, tz=tz)
    ts = pl.col(col) if ts is None else ts
    cond = pl.lit(True)
    if lo is not None:
        cond = cond & (ts >= lo)
    if hi is not None:
        cond = cond & (ts < hi)
    return lf.filter(cond)


def _infer_tz(tables: Mapping[str, pl.LazyFrame | pl.DataFrame]) -> str:
    for frame in tables.values():
        schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
        for dtype in schema.values():
            if isinstance(dtype, pl.Datetime) and dtype.time_zone:
                return dtype.time_zone
    return "UTC"


def load(path: str | os.PathLike, *, check: bool = True) -> Dataset:
    """Open a dataset directory lazily (nothing is read until a query collects).

    Parameters
    ----------
    path
        Directory holding ``<table>.parquet`` files and ``dataset.json``.
    check
        Validate each table's schema against :mod:`kpi.schema` (reads only Parquet footers).

    Raises
    ------
    KpiError
        If the directory does not exist or holds no canonical table.
    """
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise KpiError(f"{root} is a file, not a dataset directory (give the directory it is in)")
    if not root.is_dir():
        raise KpiError(f"data directory {root} does not exist")
    for _ in range(100):  # an import switching files in meanwhile: read again
        try:
            settle_dir(root)
        except OSError as exc:
            raise KpiError(f"{root}: {exc.strerror}") from None
        before = _stamp(root)
        ds = _open(root, check=check)
        if _stamp(root) == before and not (root / JOURNAL_FILE).exists():
            return ds
    raise KpiError(f"{root} kept changing while it was read; try again")  # pragma: no cover


def _stamp(root: Path) -> tuple[int, int] | None:
    """Identity of ``dataset.json`` (every switch of a dataset directory replaces it)."""
    try:
        st = (root / META_FILE).stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _open(root: Path, *, check: bool) -> Dataset:
    meta_path = root / META_FILE
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    except ValueError:
        raise KpiError(f"{meta_path} is not valid JSON; fix or remove it") from None
    except OSError as exc:
        raise KpiError(f"{meta_path}: {exc.strerror or exc}") from None
    if not isinstance(meta, dict):
        raise KpiError(f"{meta_path} must hold a JSON object, not {type(meta).__name__}")
    tables = {}
    for name in TABLES:
        file = root / f"{name}.parquet"
        if file.exists():
            lf = pl.scan_parquet(file)
            if check:
                try:
                    validate(name, lf, source=str(file))
                except ValueError as exc:
                    raise KpiError(str(exc)) from None
                except (pl.exceptions.ComputeError, OSError) as exc:  # not Parquet, truncated
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise KpiError(f"{file} cannot be read as Parquet ({first})") from None
            tables[name] = lf
    if not tables:
        raise KpiError(
            f"{root} holds no dataset: expected files such as contacts.parquet "
            f"(run `kpi sample --out {root}` or `kpi import ... --out {root}`)"
        )
    tz = meta.get("timezone") or _infer_tz(tables)
    return Dataset(tables, tz=tz, meta=meta, path=root)


def save(
    dataset: Dataset | Mapping[str, pl.LazyFrame | pl.DataFrame],
    path: str | os.PathLike,
    *,
    meta: Mapping[str, Any] | None = None,
    into: Staging | None = None,
) -> Path:
    """Write tables as canonical Parquet files plus ``dataset.json``, switched in together.

    Tables are conformed to the data model (column order, dtypes, the site time zone) and
    validated before writing. All files are written aside and renamed into place in one step
    (:func:`kpi._fs.staged_dir`): a reader, a crash or a full disk sees the old dataset or the
    new one, never a mix. Tables of ``path`` that ``dataset`` does not hold are left alone.

    Parameters
    ----------
    dataset
        The tables.
    path
        The dataset directory (created if missing).
    meta
        Facts merged into ``dataset.json`` over ``dataset.meta``.
    into
        A :class:`kpi._fs.Staging` of ``path`` already open (the importer adds its report and
        quarantine to the same switch); the caller commits it.

    Examples
    --------
    >>> import tempfile
    >>> d = save({"events": pl.DataFrame({"label": ["go-live"]})}, tempfile.mkdtemp())
    >>> sorted(p.name for p in d.iterdir())
    ['dataset.json', 'events.parquet']
    """
    ds = Dataset.coerce(dataset)
    root = Path(path)
    if into is None:
        with staged_dir(root) as staging:
            return save(ds, root, meta=meta, into=staging)
    for name, lf in ds.tables.items():
        frame = conform(name, lf, ds.tz)
        validate(name, frame, source=name)
        into.write(f"{name}.parquet", lambda p, f=frame: f.sink_parquet(p))
    info = {"timezone": ds.tz, **ds.meta, **(meta or {})}
    into.write_text(META_FILE, json.dumps(info, indent=2))
    return root
