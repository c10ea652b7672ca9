"""The report notebooks: where they are, what they are called, the parameters they declare, and
whether the data covers the period a notebook is asked for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from kpi.errors import KpiError
from kpi.report._params import NotebookParam, inspect_params

__all__ = [
    "list_reports",
    "notebook_parameters",
    "report_name",
    "require_period",
    "resolve_notebook",
]

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
    'period (period, default "2026-02"): reporting period: 2026-02, 2026-W06, 2026-02-03, 2026-Q1'
    """
    return inspect_params(path)


def require_period(
    data: Any,
    period: Any,
    *,
    tables: Iterable[str] = ("contacts", "tickets", "intervals"),
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
