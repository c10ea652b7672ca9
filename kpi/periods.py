"""Grains, periods and time bins in the site's local time.

A *grain* (``every``) is one of :data:`GRAINS`. Bins are computed with polars' local-time
truncation of time-zone-aware stamps, so calendar grains follow the site's calendar and a DST
change day has 46 or 50 half-hours. A *period* is a named span: ``2026-02`` (month),
``2026-02-03`` (day), ``2026-W06`` (ISO week), ``2026-Q1``, ``2026``, or a relative word
(``previous-month``, ``previous-week``, ``yesterday``, ``today``, ``this-month``).

``latest`` (and ``latest-day``, ``latest-week``, ``latest-month``, ``latest-quarter``) is the
latest *complete* period of the data, which :func:`latest_period` finds from the data's first
and last days (``kpi.report.data_periods`` reads them from a dataset). The rule:

- the data's *last day* is the local date of its latest record; a day with any record counts as
  reached, even if the export stops part-way through it (an export cut at noon on the 31st
  still completes the month: requiring the next day would drop every export that ends at the
  month's end, the common case);
- a period is complete when the data reaches its last day, or when every day between the data's
  last day and the period's last day is a weekday on which the data has no records (a centre
  closed at weekends completes a month that ends on a Sunday with its Friday);
- ``latest`` is the latest complete period that holds data; when none is complete (less than
  one period of data), the period of the last record, reported as incomplete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from kpi.errors import KpiError

__all__ = [
    "GRAINS",
    "LATEST",
    "YEARS",
    "Period",
    "bin_expr",
    "check_grain",
    "latest_period",
    "local_midnight",
    "parse_period",
    "period_of",
    "previous_period",
    "to_timestamp",
]

#: Supported grains for ``every``.
GRAINS = ("15m", "30m", "1h", "1d", "1w", "1mo", "1q", "1y")

#: The words for the latest complete period of the data, and the grain of each.
LATEST = {
    "latest": "1mo",
    "latest-day": "1d",
    "latest-week": "1w",
    "latest-month": "1mo",
    "latest-quarter": "1q",
}

#: The plausible years of a period or bound (inclusive): a year outside is a typo or a misread
#: date, and refusing it keeps date arithmetic far from the limits of ``datetime``.
YEARS = (1900, 2100)


def _check_year(year: int, text: object) -> None:
    """Refuse a year outside :data:`YEARS`, naming the value and the range."""
    if not YEARS[0] <= year <= YEARS[1]:
        raise KpiError(
            f"date {str(text)!r} is out of range: years {YEARS[0]} to {YEARS[1]} are supported"
        )


def check_grain(every: str | None) -> str | None:
    """Validate a grain; ``None`` means one bin for the whole range.

    Examples
    --------
    >>> check_grain("1mo")
    '1mo'
    >>> check_grain("2mo")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown grain '2mo'; valid grains: 15m, 30m, 1h, 1d, 1w, 1mo, 1q, 1y
    """
    if every is None or every in GRAINS:
        return every
    raise KpiError(f"unknown grain {every!r}; valid grains: {', '.join(GRAINS)}")


def bin_expr(ts: str | pl.Expr, every: str, *, offset: str | None = None) -> pl.Expr:
    """The start of the local-time bin of ``every`` that contains each time stamp.

    Parameters
    ----------
    ts
        Time-zone-aware time stamp column (or expression).
    every
        A grain from :data:`GRAINS`.
    offset
        Shift the bin edges, e.g. ``"6h"`` for business days starting at 06:00.

    Notes
    -----
    ``bin = truncate(ts - offset, every) + offset``, truncation in the stamp's own zone.

    Examples
    --------
    >>> from datetime import datetime
    >>> import polars as pl
    >>> df = pl.DataFrame({"t": [datetime(2026, 3, 29, 0, 45), datetime(2026, 3, 29, 3, 10)]})
    >>> df = df.with_columns(pl.col("t").dt.replace_time_zone("Europe/London"))
    >>> df.select(bin_expr("t", "30m"))["t"].dt.strftime("%H:%M %Z").to_list()
    ['00:30 GMT', '03:00 BST']
    """
    e = pl.col(ts) if isinstance(ts, str) else ts
    if offset:
        return e.dt.offset_by(f"-{offset}").dt.truncate(every).dt.offset_by(offset)
    return e.dt.truncate(every)


@dataclass(frozen=True)
class Period:
    """A half-open span ``[start, end)`` of local dates with a label.

    Examples
    --------
    >>> p = parse_period("2026-02")
    >>> p.label, p.start, p.end
    ('2026-02', datetime.date(2026, 2, 1), datetime.date(2026, 3, 1))
    """

    label: str
    start: date
    end: date
    grain: str

    def start_ts(self, tz: str) -> datetime:
        """Local midnight at the start, time-zone aware; where the clocks skip midnight
        (America/Santiago on 2026-09-06), the first instant of the day, 01:00.

        Examples
        --------
        >>> p = parse_period("2026-09-06")
        >>> p.start_ts("America/Santiago").isoformat()
        '2026-09-06T01:00:00-03:00'
        >>> p.end_ts("America/Santiago").isoformat()
        '2026-09-07T00:00:00-03:00'
        """
        return _real_instant(datetime.combine(self.start, time()), ZoneInfo(tz))

    def end_ts(self, tz: str) -> datetime:
        """Local midnight at the (exclusive) end, time-zone aware (the first instant of the
        next day where the clocks skip midnight)."""
        return _real_instant(datetime.combine(self.end, time()), ZoneInfo(tz))


def _month_add(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


_RELATIVE = ("today", "yesterday", "previous-week", "previous-month", "this-week", "this-month")


def parse_period(text: str | date, *, today: date | None = None) -> Period:
    """Parse a period: ISO day, month, ISO week, quarter, year, or a relative word.

    Parameters
    ----------
    text
        ``2026-02-03``, ``2026-02``, ``2026-W06``, ``2026-Q1``, ``2026``, ``today``,
        ``yesterday``, ``previous-week``, ``previous-month``, ``this-week``, ``this-month``.
    today
        Reference date for relative words (default: the current local date).

    Examples
    --------
    >>> parse_period("2026-W06").start, parse_period("2026-W06").end
    (datetime.date(2026, 2, 2), datetime.date(2026, 2, 9))
    >>> parse_period("previous-month", today=date(2026, 3, 15)).label
    '2026-02'
    >>> parse_period("2026-13")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: bad period '2026-13': use 2026-02-03, 2026-02, 2026-W06, 2026-Q1, 2026, today, yesterday, previous-week, previous-month, this-week, this-month
    >>> parse_period("9999-12-31")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: date '9999-12-31' is out of range: years 1900 to 2100 are supported
    """
    if isinstance(text, date):
        d = text if not isinstance(text, datetime) else text.date()
        _check_year(d.year, d.isoformat())
        return Period(d.isoformat(), d, d + timedelta(days=1), "1d")
    s = str(text).strip()
    today = today or date.today()
    if m := re.match(r"\d{4}", s):
        _check_year(int(m[0]), s)
    if s in LATEST:
        raise KpiError(
            f"period {s!r} depends on the data: resolve it with kpi.report.data_periods "
            "(kpi report and the notebooks do)"
        )
    try:
        if s in _RELATIVE:
            if s == "today":
                return parse_period(today)
            if s == "yesterday":
                return parse_period(today - timedelta(days=1))
            monday = today - timedelta(days=today.weekday())
            if s == "this-week":
                return parse_period(
                    f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
                )
            if s == "previous-week":
                prev = monday - timedelta(days=7)
                return parse_period(f"{prev.isocalendar().year}-W{prev.isocalendar().week:02d}")
            first = today.replace(day=1)
            if s == "this-month":
                return parse_period(first.strftime("%Y-%m"))
            return parse_period(_month_add(first, -1).strftime("%Y-%m"))
        if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", s):
            d = date(int(m[1]), int(m[2]), int(m[3]))
            return Period(s, d, d + timedelta(days=1), "1d")
        if m := re.fullmatch(r"(\d{4})-(\d{2})", s):
            d = date(int(m[1]), int(m[2]), 1)
            return Period(s, d, _month_add(d, 1), "1mo")
        if m := re.fullmatch(r"(\d{4})-W(\d{2})", s):
            d = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period(s, d, d + timedelta(days=7), "1w")
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", s):
            d = date(int(m[1]), 3 * int(m[2]) - 2, 1)
            return Period(s, d, _month_add(d, 3), "1q")
        if m := re.fullmatch(r"(\d{4})", s):
            d = date(int(m[1]), 1, 1)
            return Period(s, d, date(d.year + 1, 1, 1), "1y")
    except ValueError:
        pass
    raise KpiError(
        f"bad period {s!r}: use 2026-02-03, 2026-02, 2026-W06, 2026-Q1, 2026, "
        + ", ".join(_RELATIVE)
    )


def previous_period(period: Period) -> Period:
    """The period of the same kind just before ``period``.

    Examples
    --------
    >>> previous_period(parse_period("2026-01")).label
    '2025-12'
    >>> previous_period(parse_period("2026-W01")).label
    '2025-W52'
    """
    g = period.grain
    if g == "1d":
        return parse_period(period.start - timedelta(days=1))
    if g == "1w":
        prev = period.start - timedelta(days=7)
        return parse_period(f"{prev.isocalendar().year}-W{prev.isocalendar().week:02d}")
    if g == "1mo":
        return parse_period(_month_add(period.start, -1).strftime("%Y-%m"))
    if g == "1q":
        prev = _month_add(period.start, -3)
        return parse_period(f"{prev.year}-Q{(prev.month - 1) // 3 + 1}")
    return parse_period(str(period.start.year - 1))


def period_of(day: date, grain: str) -> Period:
    """The period of ``grain`` (``1d``, ``1w``, ``1mo``, ``1q``, ``1y``) that holds ``day``.

    Examples
    --------
    >>> period_of(date(2026, 2, 11), "1mo").label, period_of(date(2026, 2, 11), "1w").label
    ('2026-02', '2026-W07')
    >>> period_of(date(2026, 2, 11), "1q").label, period_of(date(2026, 2, 11), "1d").label
    ('2026-Q1', '2026-02-11')
    """
    if grain == "1d":
        return parse_period(day)
    if grain == "1w":
        iso = day.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    if grain == "1mo":
        return parse_period(day.strftime("%Y-%m"))
    if grain == "1q":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    if grain == "1y":
        return parse_period(str(day.year))
    raise KpiError(f"no calendar period of grain {grain!r}; use 1d, 1w, 1mo, 1q or 1y")


def _complete(period: Period, last_day: date, open_weekdays: frozenset[int]) -> bool:
    """Whether data that ends on ``last_day`` covers ``period`` (the rule in the module doc)."""
    day = last_day + timedelta(days=1)
    while day < period.end:
        if day.weekday() in open_weekdays:
            return False
        day += timedelta(days=1)
    return True


def latest_period(
    first_day: date,
    last_day: date,
    grain: str = "1mo",
    *,
    open_weekdays: set[int] | frozenset[int] | range = range(7),
) -> tuple[Period, bool]:
    """The latest complete period of ``grain`` in data from ``first_day`` to ``last_day``.

    Parameters
    ----------
    first_day, last_day
        Local dates of the data's first and last records.
    grain
        ``1d``, ``1w``, ``1mo`` (the default), ``1q`` or ``1y``.
    open_weekdays
        Weekdays (Monday 0) on which the data has records; a period that ends on days the
        centre is closed is complete on its last open day.

    Returns
    -------
    (Period, bool)
        The period, and whether it is complete (``False``: the data holds less than one whole
        period, and this is the period of its last record).

    Examples
    --------
    >>> latest_period(date(2026, 1, 1), date(2026, 3, 31))[0].label
    '2026-03'
    >>> latest_period(date(2026, 1, 1), date(2026, 3, 15))[0].label
    '2026-02'
    >>> latest_period(date(1999, 2, 1), date(1999, 2, 28))
    (Period(label='1999-02', start=datetime.date(1999, 2, 1), end=datetime.date(1999, 3, 1), grain='1mo'), True)
    >>> found, complete = latest_period(date(2026, 3, 2), date(2026, 3, 15))
    >>> found.label, complete
    ('2026-03', False)

    A centre closed at weekends: May 2026 ends on a Sunday, the data on Friday the 29th.

    >>> latest_period(date(2026, 4, 1), date(2026, 5, 29), open_weekdays={0, 1, 2, 3, 4})[0].label
    '2026-05'
    >>> latest_period(date(2026, 4, 1), date(2026, 5, 29))[0].label
    '2026-04'
    """
    if grain not in ("1d", "1w", "1mo", "1q", "1y"):
        raise KpiError(f"no calendar period of grain {grain!r}; use 1d, 1w, 1mo, 1q or 1y")
    days = frozenset(open_weekdays) or frozenset(range(7))
    last = period_of(last_day, grain)
    if _complete(last, last_day, days):
        return last, True
    before = previous_period(last)
    if before.end > first_day:  # the period before holds data, and is complete by construction
        return before, True
    return last, False


def to_timestamp(
    value: str | date | datetime | None, tz: str, *, end: bool = False
) -> datetime | None:
    """A time-zone-aware bound from an ISO date/datetime string, date or datetime.

    A date (or a period string such as ``2026-01``) used as ``end`` is inclusive: the bound is
    the end of that day or period. Datetimes are taken as given (end exclusive).

    Examples
    --------
    >>> to_timestamp("2026-01-31", "UTC", end=True)
    datetime.datetime(2026, 2, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
    >>> to_timestamp("2026-01", "UTC")
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))

    A wall-clock time the site's clock skips (01:30 on the spring-forward day in London) is the
    instant it names by the offset before the change, as Python reads it: 02:30 summer time.

    >>> to_timestamp("2026-03-29T01:30", "Europe/London").isoformat()
    '2026-03-29T02:30:00+01:00'
    """
    if value is None:
        return None
    zone = ZoneInfo(tz)
    if isinstance(value, datetime):
        _check_year(value.year, value.isoformat())
        return _real_instant(value, zone)
    if isinstance(value, date):
        p = parse_period(value)
        return p.end_ts(tz) if end else p.start_ts(tz)
    s = str(value).strip()
    if "T" in s or " " in s:
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            raise KpiError(f"bad date-time {s!r}: use ISO 8601, e.g. 2026-01-31T08:00") from None
        _check_year(dt.year, s)
        return _real_instant(dt, zone)
    p = parse_period(s)
    return p.end_ts(tz) if end else p.start_ts(tz)


def _real_instant(dt: datetime, zone: ZoneInfo) -> datetime:
    """``dt`` as an instant in the site's zone (naive: the site's wall clock). A wall-clock
    time that does not exist there (skipped by a DST change) becomes the instant after the gap,
    so polars never meets a time it cannot place."""
    aware = dt if dt.tzinfo else dt.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)  # via UTC: the same zone is not re-read


def local_midnight(day: str | pl.Expr, tz: str) -> pl.Expr:
    """Local midnight of a Date column as a time-zone-aware stamp.

    Where midnight does not exist (a DST change at 00:00) the first valid instant, 01:00, is used;
    where it is ambiguous, the earlier one.

    Examples
    --------
    >>> from datetime import date
    >>> df = pl.DataFrame({"d": [date(2026, 3, 29)]})
    >>> df.select(local_midnight("d", "Europe/London"))["d"][0]
    datetime.datetime(2026, 3, 29, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/London'))
    """
    e = (pl.col(day) if isinstance(day, str) else day).cast(pl.Datetime("us"))
    return pl.coalesce(
        e.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null"),
        e.dt.offset_by("1h").dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null"),
    )
