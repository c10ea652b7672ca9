"""Local-time bins in SQL, without the engine's own time-zone support.

The site's bins are in its local time (:mod:`kpi.periods`). Rather than trusting each engine's
time-zone functions (DuckDB's ICU, the JVM's tz database, a session time zone a shared Spark
cluster may have set to something else), the site's UTC offsets are computed here, in Python,
from the same IANA rules polars uses, and shipped into the query as integers: a binary tree of
``CASE WHEN u < transition`` over the zone's transitions in the range (depth about 9 for two
centuries of a zone with summer time; a single constant for a zone without). Every instant is
handled as epoch microseconds (``u``), so the arithmetic is exact and the same on every engine:

- local wall-clock microseconds ``L = u + offset(u)``;
- fixed grains (``15m``, ``30m``, ``1h``): the bin starts at ``L - mod(L, step) - offset(u)``
  in UTC, so the repeated hour of a DST end gives two bins, as polars' local truncation does;
- calendar grains: the local day number ``(L - mod(L, day)) / day``, truncated to its ISO week
  (Monday) arithmetically, or to its month, quarter or year with the engine's date functions;
  polars turns the day back into local midnight (:func:`kpi.periods.local_midnight`).
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import polars as pl

from kpi.periods import YEARS, local_midnight

__all__ = [
    "bin_sql",
    "bin_to_polars",
    "local_midnight_sql",
    "local_stamp",
    "offset_sql",
    "transitions",
    "uneven",
]

US = 1_000_000
DAY_US = 86_400 * US
FIXED = {"15m": 900 * US, "30m": 1800 * US, "1h": 3600 * US}
CALENDAR = ("1d", "1w", "1mo", "1q", "1y")


def _offset_s(t: int, zone: ZoneInfo) -> int:
    off = datetime.fromtimestamp(t, zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


@cache
def transitions(tz: str, first_year: int = YEARS[0], last_year: int = YEARS[1]) -> tuple:
    """The zone's UTC offsets as ``((from_us, offset_us), ...)``; the first applies before.

    Found by stepping a day at a time and bisecting each change to the second.

    Examples
    --------
    >>> t = transitions("Europe/London", 2026, 2026)
    >>> [(datetime.fromtimestamp(u / 1e6, UTC).isoformat(), o // 3_600_000_000) for u, o in t]
    [('2026-01-01T00:00:00+00:00', 0), ('2026-03-29T01:00:00+00:00', 1), ('2026-10-25T01:00:00+00:00', 0)]
    """
    zone = ZoneInfo(tz)
    t = int(datetime(first_year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(last_year + 1, 1, 1, tzinfo=UTC).timestamp())
    off = _offset_s(t, zone)
    out = [(t * US, off * US)]
    while t < end:
        nxt = min(t + 86_400, end)
        o = _offset_s(nxt, zone)
        if o != off:
            lo, hi = t, nxt  # offset(lo) == off, offset(hi) == o
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_s(mid, zone) == off:
                    lo = mid
                else:
                    hi = mid
            out.append((hi * US, o * US))
            off = o
        t = nxt
    return tuple(out)


def _years(start: datetime | None, end: datetime | None) -> tuple[int, int]:
    first = max(YEARS[0], start.year - 1) if start is not None else YEARS[0]
    last = min(YEARS[1], end.year + 1) if end is not None else YEARS[1]
    return first, max(first, last)


def offset_sql(u: str, tz: str, start: datetime | None, end: datetime | None) -> str:
    """SQL for the site's UTC offset (microseconds) at epoch-microsecond expression ``u``.

    Examples
    --------
    >>> offset_sql("u", "UTC", None, None)
    '0'
    >>> offset_sql("u", "Europe/London", datetime(2026, 2, 1), datetime(2026, 3, 1))[:40]
    'CASE WHEN u < 1774746000000000 THEN CASE'
    """
    return _tree(u, transitions(tz, *_years(start, end)))


def _tree(u: str, table: tuple) -> str:
    """A binary tree of ``CASE WHEN u < bound`` over ``((from, value), ...)`` (first: before)."""
    offsets = [o for _, o in table]
    if len(set(offsets)) == 1:
        return str(offsets[0])
    bounds = [u_ for u_, _ in table[1:]]  # offsets[i] applies from bounds[i - 1]

    def tree(lo: int, hi: int) -> str:  # offsets[lo..hi]
        if lo == hi:
            return str(offsets[lo])
        mid = (lo + hi + 1) // 2  # offsets[mid] starts at bounds[mid - 1]
        return (
            f"CASE WHEN {u} < {bounds[mid - 1]} THEN {tree(lo, mid - 1)} ELSE {tree(mid, hi)} END"
        )

    return tree(0, len(offsets) - 1)


@cache
def _local_table(tz: str, first_year: int, last_year: int) -> tuple:
    """What to subtract from local wall-clock microseconds ``L`` to get the instant polars'
    :func:`~kpi.periods.local_midnight` gives, as ``((from_L, k), ...)``.

    At a change from offset ``a`` to ``b`` at instant ``t``: before ``t + a`` the old offset;
    a repeated hour (``b < a``) takes the earlier instant (``a``); a skipped hour (``b > a``)
    takes the wall time an hour later (``L + 1 h - b``), as ``local_midnight`` does.
    """
    table = transitions(tz, first_year, last_year)
    out = [(table[0][0] + table[0][1], table[0][1])]
    for (_, a), (t, b) in itertools.pairwise(table):
        if b > a:
            out.append((t + a, b - 3600 * US))
            out.append((t + b, b))
        else:
            out.append((t + a, b))
    return tuple(out)


def local_midnight_sql(day: str, tz: str, start: datetime | None, end: datetime | None) -> str:
    """SQL for the epoch microseconds of local midnight of day number ``day`` (days since
    1970-01-01), as :func:`kpi.periods.local_midnight` places a date.

    Examples
    --------
    >>> local_midnight_sql("d", "UTC", None, None)
    '(d) * 86400000000 - (0)'
    >>> local_midnight_sql("d", "Europe/London", datetime(2026, 2, 1), datetime(2026, 3, 1))[:50]
    '(d) * 86400000000 - (CASE WHEN (d) * 86400000000 <'
    """
    local = f"({day}) * {DAY_US}"
    return f"{local} - ({_tree(local, _local_table(tz, *_years(start, end)))})"


def offset_at(tz: str, u: int) -> int:
    """The offset (microseconds) at epoch microseconds ``u``, from the same table (for tests)."""
    table = transitions(tz)
    i = bisect_right([t for t, _ in table], u) - 1
    return table[max(i, 0)][1]


def uneven(every: str | None, tz: str, start: datetime | None, end: datetime | None) -> bool:
    """Whether a change of the zone's offset in the range is not a whole bin of ``every``."""
    if every not in FIXED:
        return False
    table = transitions(tz, *_years(start, end))
    return any(
        (b - a) % FIXED[every] or (t + b) % FIXED[every]
        for (_, a), (t, b) in itertools.pairwise(table)
    )


def _mod(x: str, m: int) -> str:
    """Floor modulo in SQL (``%`` keeps the dividend's sign on both engines)."""
    return f"((({x}) % {m}) + {m}) % {m}"


def bin_sql(
    every: str | None,
    u: str,
    off: str,
    date_fns: dict[str, str],
    off_at: Callable[[str], str] | None = None,
) -> str:
    """SQL for the ``_bin`` key: 0, UTC microseconds (fixed grains) or a local day number.

    ``date_fns`` holds the dialect's templates ``from_day``, ``to_day`` and ``trunc_<unit>``;
    ``off_at`` (needed only when :func:`uneven` says so) gives the offset SQL at an expression.
    """
    if every is None:
        return "0"
    local = f"({u} + {off})"
    if every in FIXED:
        step = FIXED[every]
        bin_ = f"({local} - {_mod(local, step)} - {off})"
        if off_at is None:
            return bin_
        # a shift that is not a whole step (Lord Howe's 30 minutes under 1h bins): the local
        # bin start takes the offset in force there, the row's own only where both are valid
        trunc = f"({local} - {_mod(local, step)})"
        at = off_at(bin_)
        return f"CASE WHEN {bin_} + {at} = {trunc} THEN {bin_} ELSE {trunc} - {at} END"
    day = f"CAST(({local} - {_mod(local, DAY_US)}) / {DAY_US} AS BIGINT)"
    if every == "1d":
        return day
    if every == "1w":  # 1970-01-01 was a Thursday: Monday is day - mod(day + 3, 7)
        return f"({day} - {_mod(f'{day} + 3', 7)})"
    unit = {"1mo": "month", "1q": "quarter", "1y": "year"}[every]
    date = date_fns["from_day"].format(day)
    return date_fns["to_day"].format(date_fns[f"trunc_{unit}"].format(date))


def bin_to_polars(every: str | None, tz: str) -> pl.Expr:
    """The ``_bin`` column as polars has it, from the integer key :func:`bin_sql` returns."""
    b = pl.col("_bin")
    if every is None:
        return b.cast(pl.Int32)
    if every in FIXED:
        return local_stamp(b, tz)
    return local_midnight(pl.from_epoch(b, time_unit="d"), tz).alias("_bin")


def local_stamp(us: str | pl.Expr, tz: str) -> pl.Expr:
    """Epoch microseconds (a column of the engine's rows) as the site's local time stamp."""
    return pl.from_epoch(us, time_unit="us").dt.replace_time_zone("UTC").dt.convert_time_zone(tz)


def epoch_us(value: datetime) -> int:
    """A time-zone-aware bound as epoch microseconds."""
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
