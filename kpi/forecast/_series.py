"""History to forecast from: a dataset's KPI per group as a day × slot matrix.

The history comes from the engine (:func:`kpi.compute.evaluate`) at the grain asked for, so a
forecast counts contacts exactly as ``kpi compute`` does (contacts or an interval report, the
site's local time). Each group (one combination of the ``by`` columns) becomes a
:class:`Series`: one row per local day, one column per slot of the day (96 at 15 minutes, 48
at 30, 24 hourly, 1 daily), with empty bins as 0. A ratio KPI (AHT) keeps its numerator and
denominator (Σ handle seconds, handled contacts) so that it is forecast as a weighted mean.

Wall-clock slots: a slot is a local time of day, so a day where clocks go forward has an empty
slot and a day where they go back adds the repeated hour's contacts to one slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from kpi.compute import evaluate
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import resolve

__all__ = ["METRICS", "SLOT_MINUTES", "Series", "history", "slot_minutes"]

#: The KPIs that can be forecast: a count, and a ratio forecast as a weighted mean.
METRICS = ("contacts_offered", "aht")
#: Minutes per slot of each grain a forecast supports.
SLOT_MINUTES = {"15m": 15, "30m": 30, "1h": 60, "1d": 1440}


def slot_minutes(every: str) -> int:
    """Minutes per slot of ``every``, or a KpiError naming the grains allowed.

    Examples
    --------
    >>> slot_minutes("15m"), slot_minutes("1d")
    (15, 1440)
    """
    try:
        return SLOT_MINUTES[every]
    except KeyError:
        raise KpiError(
            f"--every must be one of {', '.join(SLOT_MINUTES)} for a forecast, got {every!r}"
        ) from None


@dataclass
class Series:
    """One group's history: ``y`` (days × slots), and ``w`` for a ratio's denominator.

    ``first`` is the local date of row 0; rows are consecutive days. ``y`` is the KPI itself
    for a count, the numerator for a ratio (``w`` is then the denominator).
    """

    keys: dict[str, Any]
    first: date
    y: np.ndarray
    w: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        """Number of days of history."""
        return self.y.shape[0]

    def dates(self, extra: int = 0) -> list[date]:
        """The local dates of the rows (and ``extra`` days after them)."""
        return [self.first + timedelta(days=i) for i in range(self.days + extra)]


def _measures(metric: str) -> tuple[str, str | None]:
    """The value column of a count KPI, or the numerator and denominator measures of a ratio."""
    if metric not in METRICS:
        raise KpiError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "contacts_offered":
        return "contacts_offered", None
    [(m, params)] = resolve(metric)
    build = m.build(params)
    return build.numerator.name, build.denominator.name if build.denominator else None


def history(
    ds: Dataset,
    *,
    metric: str,
    every: str,
    by: Sequence[str],
    until: datetime | None,
) -> tuple[list[Series], datetime]:
    """Every group's history before ``until`` (exclusive), and ``until`` itself.

    ``until`` None means the end of the data: the local midnight after the last bin with data.
    Only whole days enter the matrices; the last, partial day (``until`` within a day) is left
    out, and the forecast starts at ``until``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> import polars as pl
    >>> from kpi.data import Dataset
    >>> t = [datetime(2026, 1, 5, 9, 10 * i, tzinfo=ZoneInfo("UTC")) for i in range(3)]
    >>> contacts = pl.DataFrame(
    ...     {"arrival_ts": t, "queue_ts": t, "outcome": ["answered"] * 3, "queue": ["A"] * 3}
    ... )
    >>> [s], until = history(
    ...     Dataset({"contacts": contacts}),
    ...     metric="contacts_offered",
    ...     every="1h",
    ...     by=["queue"],
    ...     until=None,
    ... )
    >>> s.keys, s.first, s.y.shape, s.y[0, 9], until.isoformat()
    ({'queue': 'A'}, datetime.date(2026, 1, 5), (1, 24), np.float64(3.0), '2026-01-06T00:00:00+00:00')
    """
    minutes = slot_minutes(every)
    num, den = _measures(metric)
    result = evaluate(ds, metric, by=list(by), every=every, end=until, measures=True)
    frame = result.frame.collect()
    if frame.is_empty() or (frame[num].sum() == 0 and (den is None or frame[den].sum() == 0)):
        raise KpiError(
            f"no {metric} in the data"
            + (f" before {until.isoformat(sep=' ')}" if until is not None else "")
            + ": nothing to forecast from"
        )
    local = pl.col("period").dt.replace_time_zone(None)
    frame = frame.with_columns(
        local.dt.date().alias("_day"),
        (
            (local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)) // minutes
        ).alias("_slot"),
    )
    first_day: date = frame["_day"].min()  # type: ignore[assignment]
    if until is None:
        last_day: date = frame["_day"].max()  # type: ignore[assignment]
        zone = frame.schema["period"].time_zone  # type: ignore[union-attr]
        end_day = last_day + timedelta(days=1)
        until = (
            pl.select(pl.lit(datetime.combine(end_day, datetime.min.time())))
            .to_series()
            .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            .item()
        )
        if until is None:  # pragma: no cover - midnight skipped by a clock change
            until = datetime.combine(end_day, datetime.min.time())
    local_until = until.replace(tzinfo=None) if until.tzinfo is None else _wall(until)
    n_days = (local_until.date() - first_day).days  # whole days before the until day
    if n_days < 1:
        raise KpiError(
            f"too little history: the data starts {first_day} and --until is "
            f"{local_until:%Y-%m-%d %H:%M}; at least one whole day (better: four weeks) is needed"
        )
    slots = 1440 // minutes
    out = []
    keys = list(by)
    groups = frame.partition_by(keys, as_dict=True, maintain_order=True) if keys else {(): frame}
    for key, part in groups.items():
        part = part.filter(pl.col("_day") < local_until.date())
        row = ((part["_day"] - first_day).dt.total_days()).to_numpy()
        col = part["_slot"].to_numpy()
        y = np.zeros((n_days, slots))
        np.add.at(y, (row, col), part[num].fill_null(0).to_numpy().astype(float))
        w = None
        if den is not None:
            w = np.zeros((n_days, slots))
            np.add.at(w, (row, col), part[den].fill_null(0).to_numpy().astype(float))
        out.append(Series(dict(zip(keys, key, strict=True)), first_day, y, w))
    return out, until


def _wall(ts: datetime) -> datetime:
    """The local wall-clock time of an aware time stamp (in its own zone)."""
    return ts.replace(tzinfo=None)
