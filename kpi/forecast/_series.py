"""History to forecast from: a dataset's KPI per group as a day × slot matrix.

The history comes from the engine (:func:`kpi.compute.evaluate`) at the grain asked for, so a
forecast counts contacts exactly as ``kpi compute`` does (contacts or an interval report, the
site's local time). Each group (one combination of the ``by`` columns) becomes a
:class:`Series`: one row per local day, one column per slot of the day (96 at 15 minutes, 48
at 30, 24 hourly, 1 daily), with empty bins as 0. A ratio KPI (AHT) keeps its numerator and
denominator (Σ handle seconds, handled contacts) so that it is forecast as a weighted mean.

Wall-clock slots: a slot is a local time of day, so a day where clocks go forward has an empty
slot and a day where they go back adds the repeated hour's contacts to one slot.

Unknown is never a number: the history ends where the data end (the local midnight after the
last day with data), and an ``until`` later than that is refused rather than read as days
without contacts. Groups (:func:`check_by`) are never customer identifiers, and at most
:data:`MAX_GROUPS` of them are forecast at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from kpi._mask import identifier_columns
from kpi.compute import evaluate
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import resolve

__all__ = [
    "DIMENSIONS",
    "MAX_GROUPS",
    "METRICS",
    "SLOT_MINUTES",
    "Series",
    "check_by",
    "history",
    "slot_minutes",
]

#: The KPIs that can be forecast: a count, and a ratio forecast as a weighted mean.
METRICS = ("contacts_offered", "aht")
#: Minutes per slot of each grain a forecast supports.
SLOT_MINUTES = {"15m": 15, "30m": 30, "1h": 60, "1d": 1440}
#: The usual grouping columns, named when a ``by`` is refused (those the data hold).
DIMENSIONS = ("queue", "channel", "team", "site", "topic", "direction", "priority")
#: Most groups one forecast makes (each gets its own backtest and day × slot matrices).
MAX_GROUPS = 1_000


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


def check_by(ds: Dataset, by: Sequence[str]) -> list[str]:
    """The group columns of ``by``, or a KpiError for a column of customer identifiers.

    A forecast per customer would print every identifier and make one series per customer;
    the message names the grouping columns of :data:`DIMENSIONS` the data hold (with a value;
    all of them if none), never a value.

    Examples
    --------
    >>> import polars as pl
    >>> ds = Dataset({"contacts": pl.DataFrame({"queue": ["A"], "customer_id": ["C1"]})})
    >>> check_by(ds, ["queue"])
    ['queue']
    >>> check_by(ds, ["customer_id"])
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: cannot forecast by 'customer_id': it holds customer identifiers; valid: queue
    """
    keys = [b for b in by if b]
    found = identifier_columns(keys)
    if found:
        valid = [d for d in DIMENSIONS if _has_column(ds, d)] or list(DIMENSIONS)
        raise KpiError(
            f"cannot forecast by {', '.join(map(repr, found))}: "
            f"{'it holds' if len(found) == 1 else 'they hold'} customer identifiers; "
            f"valid: {', '.join(valid)}"
        )
    return keys


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
    check_by(ds, by)
    # the whole data, not only before until: where the data end is needed to refuse an
    # until after it (the days between are unknown, not days without contacts)
    result = evaluate(ds, metric, by=list(by), every=every, measures=True)
    frame = result.frame.collect()
    if not _has_values(frame, num, den):
        raise KpiError(f"no {metric} in the data: nothing to forecast from")
    local = pl.col("period").dt.replace_time_zone(None)
    frame = frame.with_columns(
        local.dt.date().alias("_day"),
        (
            (local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)) // minutes
        ).alias("_slot"),
    )
    data_end = _data_end(frame)
    if until is None:
        until = data_end
    elif until > data_end if until.tzinfo is not None else until > _wall(data_end):
        raise KpiError(
            f"--until {until.isoformat(sep=' ')} is after the end of the data, "
            f"{data_end.isoformat(sep=' ')} (their last day is {frame['_day'].max()}): what "
            "follows is unknown, not 0; --until must be within the data"
        )
    cut = pl.col("period") < until if until.tzinfo is not None else local < until
    frame = frame.filter(cut)
    if not _has_values(frame, num, den):
        raise KpiError(
            f"no {metric} in the data before {until.isoformat(sep=' ')}: nothing to forecast from"
        )
    first_day: date = frame["_day"].min()  # type: ignore[assignment]
    keys = list(by)
    if keys and (n_groups := frame.select(keys).n_unique()) > MAX_GROUPS:
        raise KpiError(
            f"--by {','.join(keys)} makes {n_groups:,} groups, more than the {MAX_GROUPS:,} "
            "one forecast can take; group by coarser columns (e.g. queue) or fewer of them"
        )
    local_until = until.replace(tzinfo=None) if until.tzinfo is None else _wall(until)
    n_days = (local_until.date() - first_day).days  # whole days before the until day
    if n_days < 1:
        raise KpiError(
            f"too little history: the data starts {first_day} and --until is "
            f"{local_until:%Y-%m-%d %H:%M}; at least one whole day (better: four weeks) is needed"
        )
    slots = 1440 // minutes
    out = []
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


def _has_column(ds: Dataset, column: str) -> bool:
    """Whether a table of ``ds`` has ``column`` with a value on some row."""
    return any(
        column in lf.collect_schema().names()
        and lf.select(pl.col(column).is_not_null().any()).collect().item()
        for lf in ds.tables.values()
    )


def _has_values(frame: pl.DataFrame, num: str, den: str | None) -> bool:
    """Whether the engine's frame holds any of the KPI (its numerator or denominator)."""
    if frame.is_empty():
        return False
    return bool(frame[num].sum() != 0 or (den is not None and frame[den].sum() != 0))


def _data_end(frame: pl.DataFrame) -> datetime:
    """Where the data end: the local midnight after the last day with a row (aware)."""
    last_day: date = frame["_day"].max()  # type: ignore[assignment]
    zone = frame.schema["period"].time_zone  # type: ignore[union-attr]
    end_day = datetime.combine(last_day + timedelta(days=1), datetime.min.time())
    end = (
        pl.select(pl.lit(end_day))
        .to_series()
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .item()
    )
    return end if end is not None else end_day  # pragma: no cover - a skipped midnight


def _wall(ts: datetime) -> datetime:
    """The local wall-clock time of an aware time stamp (in its own zone)."""
    return ts.replace(tzinfo=None)
