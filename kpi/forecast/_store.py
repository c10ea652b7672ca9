"""Keeping forecasts in the dataset: the ``forecasts`` table, for the ``forecast_accuracy`` KPI.

``kpi forecast ... --store`` (``kpi.forecast(..., store=True)``) appends the forecast's rows to
``forecasts.parquet`` of the dataset directory, through the dataset's atomic switch
(:func:`kpi._fs.staged_dir`, :func:`kpi.data.save`): the old table is read, the new rows added
and both written aside under the directory's write lock, then switched in together, so two
storers never lose each other's rows and a reader sees the old table or the new one.

A row: ``period`` (interval start), ``interval_s``, the group (``queue``, ``channel``,
``team``; null: all of them together), ``metric``, ``forecast``, ``lower``, ``upper``,
``level`` (percent), ``method``, ``until`` (the end of the history used, where the forecast
starts) and ``made_at`` (when it was stored). Storing the same forecast again (same metric,
group, grain, ``until`` and period) replaces the earlier rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from kpi._fs import staged_dir
from kpi.data import Dataset, save
from kpi.errors import KpiError
from kpi.forecast._series import slot_minutes

__all__ = ["GROUP_COLUMNS", "check_storable", "store_forecast"]

#: The group columns a stored forecast may have (the ``forecasts`` table's own columns).
GROUP_COLUMNS = ("queue", "channel", "team")
_KEYS = ("metric", *GROUP_COLUMNS, "interval_s", "until", "period")


def check_storable(ds: Dataset, by: Sequence[str]) -> Path:
    """The dataset directory a forecast by ``by`` can be stored in, or a KpiError saying why not."""
    if ds.path is None:
        raise KpiError(
            "--store needs a dataset directory (kpi.load(DIR) or a path), not tables in memory"
        )
    other = [b for b in by if b not in GROUP_COLUMNS]
    if other:
        raise KpiError(
            f"--store keeps forecasts by {', '.join(GROUP_COLUMNS)} only, not by "
            f"{', '.join(other)}"
        )
    return Path(ds.path)


def rows(result: Any, *, by: Sequence[str], every: str, tz: str) -> pl.DataFrame:
    """A :class:`kpi.forecast.Forecast` as ``forecasts`` table rows (see the module docstring)."""
    t = result.table
    made = datetime.now(UTC)
    return t.select(
        pl.col("period"),
        pl.lit(slot_minutes(every) * 60.0).alias("interval_s"),
        *[
            (pl.col(c) if c in by else pl.lit(None)).cast(pl.String).alias(c)
            for c in GROUP_COLUMNS
        ],
        pl.lit(result.meta["metric"]).alias("metric"),
        pl.col("forecast", "lower", "upper").cast(pl.Float64),
        pl.lit(float(result.meta["level"])).alias("level"),
        pl.col("method"),
        pl.lit(result.until).dt.convert_time_zone(tz).alias("until"),
        pl.lit(made).dt.convert_time_zone(tz).alias("made_at"),
    )


def store_forecast(ds: Dataset, result: Any, *, by: Sequence[str], every: str) -> Path:
    """Append ``result`` to the dataset's ``forecasts`` table (atomically); its directory."""
    root = check_storable(ds, by)
    new = rows(result, by=by, every=every, tz=ds.tz)
    with staged_dir(root) as staging:
        old_file = root / "forecasts.parquet"
        if old_file.exists():
            old = pl.read_parquet(old_file)
            old = old.with_columns(
                pl.col(c).dt.convert_time_zone(ds.tz)
                for c, dtype in old.schema.items()
                if isinstance(dtype, pl.Datetime)
            )
            new = pl.concat([old, new], how="diagonal_relaxed").unique(
                list(_KEYS), keep="last", maintain_order=True
            )
        save(Dataset({"forecasts": new}, tz=ds.tz, meta=ds.meta), root, into=staging)
    return root
