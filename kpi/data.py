"""Datasets on disk: a directory of canonical Parquet tables plus ``dataset.json``.

The simulator (``kpi sample``) and the importers (``kpi import``) write this layout; ``kpi compute``,
``kpi explain``, the notebooks and the reports read it through :func:`load`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.schema import TABLES, conform, validate

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

    @classmethod
    def coerce(cls, data: Dataset | Mapping[str, Any] | str | os.PathLike) -> Dataset:
        """Accept a Dataset, a mapping of table frames, or a dataset directory."""
        if isinstance(data, Dataset):
            return data
        if isinstance(data, (str, os.PathLike)):
            return load(data)
        if isinstance(data, Mapping):
            tables = dict(data)
            tz = _infer_tz(tables)
            return cls(tables, tz=tz)
        raise TypeError(f"expected a Dataset, a mapping of frames or a path, got {type(data)}")


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
    if not root.is_dir():
        raise KpiError(f"data directory {root} does not exist")
    meta_path = root / META_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
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
) -> Path:
    """Write tables as canonical Parquet files plus ``dataset.json``, each file atomically.

    Tables are conformed to the data model (column order, dtypes, the site time zone) and
    validated before writing.
    """
    ds = Dataset.coerce(dataset)
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for name, lf in ds.tables.items():
        frame = conform(name, lf, ds.tz)
        validate(name, frame, source=name)
        _atomic_write(root / f"{name}.parquet", lambda p, f=frame: f.sink_parquet(p))
    info = {"timezone": ds.tz, **ds.meta, **(meta or {})}
    _atomic_write(root / META_FILE, lambda p: Path(p).write_text(json.dumps(info, indent=2)))
    return root


def _atomic_write(target: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; datasets are shared files
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
