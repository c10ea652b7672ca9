"""Grains, periods and time bins in the site's local time.

A *grain* (``every``) is one of :data:`GRAINS`. Bins are computed with polars' local-time
truncation of time-zone-aware stamps, so calendar grains follow the site's calendar and a DST
change day has 46 or 50 half-hours. A *period* is a named span: ``2026-02`` (month),
``2026-02-03`` (day), ``2026-W06`` (ISO week), ``2026-Q1``, ``2026``, or a relative word
(``previous-month``, ``previous-week``, ``yesterday``, ``today``, ``this-month``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from kpi.errors import KpiError

__all__ = [
    "GRAINS",
    "YEARS",
    "Period",
    "bin_expr",
    "check_grain",
    "local_midnight",
    "parse_period",
    "previous_period",
    "to_timestamp",
]

#: Supported grains for ``every``.
GRAINS = ("15m", "30m", "1h", "1d", "1w", "1mo", "1q", "1y")

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
        """Local midnight at the start, time-zone aware."""
        return datetime.combine(self.start, time(), ZoneInfo(tz))

    def end_ts(self, tz: str) -> datetime:
        """Local midnight at the (exclusive) end, time-zone aware."""
        return datetime.combine(self.end, time(), ZoneInfo(tz))


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
    """
    if value is None:
        return None
    zone = ZoneInfo(tz)
    if isinstance(value, datetime):
        _check_year(value.year, value.isoformat())
        return value if value.tzinfo else value.replace(tzinfo=zone)
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
        return dt if dt.tzinfo else dt.replace(tzinfo=zone)
    p = parse_period(s)
    return p.end_ts(tz) if end else p.start_ts(tz)


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
