"""The simulation clock: a grid of 15-minute slots in absolute time, labelled in site time.

Slot ``s`` covers ``[t0 + 900 s, t0 + 900 (s + 1))`` where ``t0`` is local midnight of the first
day. Slots are absolute (UTC) instants, so a 23-hour day simply has 92 slots and a 25-hour day
100: nothing is missing or duplicated. Each slot carries its local day index, local
quarter-of-day (0-95, by wall clock) and weekday.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

__all__ = ["SLOT_S", "Clock", "add_months", "make_clock"]

SLOT_S = 900


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole calendar months, clamped to the month's last day."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


@dataclass
class Clock:
    """Slot grid of the horizon plus run-off days."""

    tz: str
    start: dt.date
    t0: int  # epoch seconds of local midnight of ``start``
    n_days: int  # local days including run-off
    horizon_days: int  # local days inside the horizon
    t_end: int  # seconds from t0 to the end of the horizon
    month_edges: list[int]  # seconds from t0 of each month boundary (len months + 1)
    month_starts: list[dt.date]
    slot_day: np.ndarray  # local day index per slot
    slot_q: np.ndarray  # local quarter of day per slot (wall clock)
    slot_minute: np.ndarray  # local minute of day per slot
    day_weekday: np.ndarray  # 0 = Monday, per local day
    day_date: list[dt.date]
    day_slot0: np.ndarray  # first slot of each local day (len n_days + 1)
    slot_of: np.ndarray  # (n_days + 1, 96): slot at local (day, quarter); next slot if none

    @property
    def n_slots(self) -> int:
        return len(self.slot_day)

    def local_slot(self, day: np.ndarray, quarter: np.ndarray) -> np.ndarray:
        """Slot index of local ``day`` at wall-clock ``quarter`` (may exceed 95: next days)."""
        day = np.asarray(day) + np.asarray(quarter) // 96
        return self.slot_of[day, np.asarray(quarter) % 96]


def make_clock(tz: str, start: dt.date, months: int, runoff_days: int) -> Clock:
    """Build the slot grid for ``months`` months from ``start`` plus ``runoff_days``."""
    zone = ZoneInfo(tz)
    end = add_months(start, months)
    last = end + dt.timedelta(days=runoff_days + 1)  # one spare day for night shifts

    def epoch(day: dt.date) -> int:
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())

    t0 = epoch(start)
    t_last = epoch(last)
    n_slots = (t_last - t0) // SLOT_S
    utc = pl.Series("t", (t0 + np.arange(n_slots, dtype=np.int64) * SLOT_S) * 1_000_000).cast(
        pl.Datetime("us", "UTC")
    )
    local = utc.dt.convert_time_zone(tz)
    frame = pl.DataFrame(
        {
            "date": local.dt.date(),
            "minute": local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32),
        }
    )
    dates = frame["date"].to_numpy()
    day = (dates - np.datetime64(start, "D")).astype(np.int64)
    minute = frame["minute"].to_numpy().astype(np.int64)
    quarter = minute // 15
    n_days = int(day.max()) + 1
    day_slot0 = np.searchsorted(day, np.arange(n_days + 1))
    slot_of = np.full((n_days + 1, 96), -1, dtype=np.int64)
    for s in range(n_slots - 1, -1, -1):  # first occurrence wins (repeated autumn hour)
        slot_of[day[s], quarter[s]] = s
    flat = slot_of.ravel()
    nxt = n_slots
    for i in range(len(flat) - 1, -1, -1):  # missing (spring-forward) -> next existing slot
        if flat[i] < 0:
            flat[i] = nxt
        else:
            nxt = flat[i]
    day_date = [start + dt.timedelta(days=i) for i in range(n_days)]
    weekday = np.array([d.weekday() for d in day_date], dtype=np.int64)
    month_starts = [add_months(start, k) for k in range(months + 1)]
    edges = [epoch(d) - t0 for d in month_starts]
    return Clock(
        tz=tz,
        start=start,
        t0=t0,
        n_days=n_days,
        horizon_days=(end - start).days,
        t_end=edges[-1],
        month_edges=edges,
        month_starts=month_starts,
        slot_day=day,
        slot_q=quarter,
        slot_minute=minute,
        day_weekday=weekday,
        day_date=day_date,
        day_slot0=day_slot0,
        slot_of=slot_of,
    )
