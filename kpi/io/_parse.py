"""Value parsers for imported columns: time stamps, durations, counts, booleans, time zones.

Every parser returns a polars expression that yields null where a value cannot be read, so the
caller can flag ``source is not null and parsed is null`` as an unparseable value of that row.
"""

from __future__ import annotations

import difflib
import zoneinfo
from functools import cache

import polars as pl

from kpi.errors import KpiError

__all__ = [
    "DURATION_FORMATS",
    "MAX_SECONDS",
    "TIME_RANGE",
    "TS_FAMILIES",
    "ZONE_ABBREVIATIONS",
    "check_timezone",
    "detect_ts_formats",
    "dst_note",
    "localize",
    "localized",
    "parse_bool",
    "parse_duration",
    "parse_int",
    "parse_ts",
    "range_seconds",
    "range_start",
    "sane_seconds",
    "ts_text",
    "within_years",
]

#: Families of time-stamp formats tried when a column's format is not given. Each family is
#: one field order; its formats are tried in turn for every value (with or without seconds,
#: fractions, a time at all). ``%#z`` accepts ``Z`` and ``+02:00``.
TS_FAMILIES: dict[str, tuple[str, ...]] = {
    "ISO (YYYY-MM-DD hh:mm:ss)": (
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d",
        "%Y-%m-%d %I:%M:%S %p",
        "%Y-%m-%d %I:%M %p",
    ),
    "ISO with UTC offset": (
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%d %H:%M%#z",
    ),
    "YYYY/MM/DD": (
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M",
        "%Y/%m/%d",
        "%Y/%m/%d %I:%M:%S %p",
        "%Y/%m/%d %I:%M %p",
    ),
    "day first (DD/MM/YYYY)": (
        "%d/%m/%Y %H:%M:%S%.f",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y",
        "%d.%m.%Y %H:%M:%S%.f",
        "%d.%m.%Y %H:%M",
        "%d.%m.%Y",
        "%d-%m-%Y %H:%M:%S%.f",
        "%d-%m-%Y %H:%M",
        "%d-%m-%Y",
        "%d/%m/%y %H:%M:%S",
        "%d/%m/%y %H:%M",
        "%d/%m/%y",
        "%d/%m/%Y %I:%M:%S %p",
        "%d/%m/%Y %I:%M %p",
        "%d.%m.%y %H:%M:%S",
        "%d.%m.%y %H:%M",
        "%d.%m.%y",
    ),
    "month first (MM/DD/YYYY)": (
        "%m/%d/%Y %H:%M:%S%.f",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%m-%d-%Y %H:%M:%S%.f",
        "%m-%d-%Y %H:%M",
        "%m-%d-%Y",
        "%m/%d/%y %H:%M:%S",
        "%m/%d/%y %H:%M",
        "%m/%d/%y",
        "%m/%d/%y %I:%M:%S %p",
        "%m/%d/%y %I:%M %p",
    ),
    "day month-name year (01 Feb 2024)": (
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%d %b %Y",
        "%d-%b-%Y %H:%M:%S",
        "%d-%b-%Y %H:%M",
        "%d-%b-%Y",
        "%d %B %Y %H:%M:%S",
        "%d %B %Y %H:%M",
        "%d %B %Y",
    ),
    "month-name day, year (Mar 3, 2025)": (
        "%b %d, %Y %I:%M:%S %p",
        "%b %d, %Y %I:%M %p",
        "%b %d, %Y %H:%M:%S",
        "%b %d, %Y %H:%M",
        "%b %d, %Y",
        "%B %d, %Y %I:%M:%S %p",
        "%B %d, %Y %I:%M %p",
        "%B %d, %Y %H:%M:%S",
        "%B %d, %Y %H:%M",
        "%B %d, %Y",
    ),
    "compact (YYYYMMDDhhmmss)": ("%Y%m%d%H%M%S", "%Y%m%d %H%M%S", "%Y%m%d"),
}

#: Duration formats: how bare numbers and two-part clock values ("2:23") are read.
#: Three-part values ("0:02:23") are always h:mm:ss.
DURATION_FORMATS = {
    "auto": (1.0, "m:ss"),
    "seconds": (1.0, "m:ss"),
    "milliseconds": (0.001, "m:ss"),
    "minutes": (60.0, "m:ss"),
    "hours": (3600.0, "m:ss"),
    "days": (86400.0, "m:ss"),
    "m:ss": (1.0, "m:ss"),
    "h:mm": (1.0, "h:mm"),
    "h:mm:ss": (1.0, "m:ss"),
}

_YEARS = (1900, 2100)
_INT = r"^[+-]?\d+(?:\.0*)?$"
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(tz: str) -> str:
    """Return ``tz`` if it is an IANA time-zone name, else raise a KpiError naming close ones.

    Examples
    --------
    >>> check_timezone("Asia/Jerusalem")
    'Asia/Jerusalem'
    >>> check_timezone("Europe/Londn")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown time zone 'Europe/Londn'; did you mean Europe/London?
    """
    if tz in _zones():
        return tz
    close = difflib.get_close_matches(tz, sorted(_zones()), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else " (use an IANA name such as Europe/London)"
    raise KpiError(f"unknown time zone {tz!r}{hint}")


def localize(naive: pl.Expr, tz: str) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Attach the site time zone to naive local times, with a stated rule at DST changes.

    Parameters
    ----------
    naive
        Naive ``Datetime`` expression holding wall-clock times of the site.
    tz
        IANA time zone.

    Returns
    -------
    tuple of pl.Expr
        ``(aware, nonexistent, ambiguous)``: the time-zone-aware time stamps (microseconds) and
        two boolean flags for counting.

    Notes
    -----
    Non-existent times (in the gap when clocks spring forward) are read with the UTC offset in
    force *before* the change, as if the recording clock had not been moved yet (PEP 495,
    ``fold=0``): 02:30 on a 02:00 → 03:00 night becomes 03:30 on the new offset, the same
    instant. Ambiguous times (the repeated hour when clocks fall back) are read as the *first*
    occurrence (the earlier instant, summer time), also ``fold=0``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> df = pl.DataFrame({"t": [datetime(2024, 3, 31, 1, 30), datetime(2024, 10, 27, 1, 30)]})
    >>> aware, gap, fold = localize(pl.col("t"), "Europe/London")
    >>> df.select(aware.alias("t"), gap.alias("gap"), fold.alias("fold"))
    shape: (2, 3)
    ┌─────────────────────────────┬───────┬───────┐
    │ t                           ┆ gap   ┆ fold  │
    │ ---                         ┆ ---   ┆ ---   │
    │ datetime[μs, Europe/London] ┆ bool  ┆ bool  │
    ╞═════════════════════════════╪═══════╪═══════╡
    │ 2024-03-31 02:30:00 BST     ┆ true  ┆ false │
    │ 2024-10-27 01:30:00 BST     ┆ false ┆ true  │
    └─────────────────────────────┴───────┴───────┘
    """
    naive = naive.dt.cast_time_unit("us")
    first = naive.dt.replace_time_zone(tz, non_existent="null", ambiguous="earliest")
    strict = naive.dt.replace_time_zone(tz, non_existent="null", ambiguous="null")
    nonexistent = naive.is_not_null() & first.is_null()
    ambiguous = first.is_not_null() & strict.is_null()
    before = naive.dt.offset_by("-1d").dt.replace_time_zone(
        tz, non_existent="null", ambiguous="earliest"
    )
    offset = before.dt.base_utc_offset() + before.dt.dst_offset()
    shifted = (naive - offset).dt.replace_time_zone("UTC").dt.convert_time_zone(tz)
    aware = pl.when(nonexistent).then(shifted).otherwise(first).dt.cast_time_unit("us")
    return aware, nonexistent, ambiguous


def localized(col: str, tz: str, *, repeat_key: list[str] | None = None) -> list[pl.Expr]:
    """The naive local times of ``col`` in the site zone (:func:`localize`), with the flags
    ``__gap_<col>`` and ``__fold_<col>`` for the report.

    ``repeat_key``: the columns keying a report of intervals (queue, channel). Such a report
    lists the repeated hour twice on the night clocks go back (01:00, 01:30, 01:00, 01:30): a
    local start seen again for the same key, in file order, is the second occurrence
    (standard time), not a duplicate of the first (flag ``__fold2_<col>``).

    Examples
    --------
    >>> from datetime import datetime
    >>> t = [datetime(2025, 10, 26, h, m) for h, m in ((1, 0), (1, 30), (1, 0), (1, 30))]
    >>> df = pl.DataFrame({"interval_start": t, "queue": ["q"] * 4})
    >>> got = df.with_columns(localized("interval_start", "Europe/London", repeat_key=["queue"]))
    >>> got["interval_start"].dt.strftime("%H:%M %Z").to_list()
    ['01:00 BST', '01:30 BST', '01:00 GMT', '01:30 GMT']
    """
    aware, gap, fold = localize(pl.col(col), tz)
    flags = [gap.alias(f"__gap_{col}"), fold.alias(f"__fold_{col}")]
    if repeat_key is None:
        return [aware.alias(col), *flags]
    again = fold & (pl.int_range(pl.len()).over([*(k for k in repeat_key if k != col), col]) > 0)
    later = pl.col(col).dt.cast_time_unit("us").dt.replace_time_zone(tz, ambiguous="latest")
    second = pl.when(again).then(later).otherwise(aware).alias(col)
    return [second, *flags, again.alias(f"__fold2_{col}")]


def dst_note(parsed: pl.DataFrame, col: str) -> str | None:
    """How ``col``'s local times on clock-change nights were read (:func:`localized`'s flags),
    or None when there were none."""
    gaps = int(parsed[f"__gap_{col}"].sum() or 0)
    folds = int(parsed[f"__fold_{col}"].sum() or 0)
    second = f"__fold2_{col}"
    again = int(parsed[second].sum() or 0) if second in parsed.columns else 0
    if not (gaps or folds):
        return None
    return (
        f"{gaps} non-existent time(s) read with the offset before the change, "
        f"{folds - again} ambiguous time(s) read as the first occurrence"
        + (f", {again} seen again (same key, later in the file) as the second" if again else "")
    )


def within_years(e: pl.Expr) -> pl.Expr:
    """Time stamps in 1900-2100; null outside (a misread year, an overflowing epoch).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> s = pl.Series([datetime(24, 2, 1), datetime(2024, 2, 1)])
    >>> pl.select(within_years(s)).to_series().to_list()
    [None, datetime.datetime(2024, 2, 1, 0, 0)]
    """
    return pl.when(e.dt.year().is_between(*_YEARS)).then(e)


def parse_ts(text: pl.Expr, formats: tuple[str, ...] | list[str]) -> pl.Expr:
    """Parse strings with the first of ``formats`` that fits each value (null if none does).

    Years outside 1900-2100 count as not fitting (``%Y`` would read "24" as the year 24).

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["01/02/2024 08:05", "13/02/24 9:00", "x"])
    >>> s.to_frame("t").select(parse_ts(pl.col("t"), TS_FAMILIES["day first (DD/MM/YYYY)"]))
    shape: (3, 1)
    ┌─────────────────────┐
    │ t                   │
    │ ---                 │
    │ datetime[μs]        │
    ╞═════════════════════╡
    │ 2024-02-01 08:05:00 │
    │ 2024-02-13 09:00:00 │
    │ null                │
    └─────────────────────┘
    """
    formats = tuple(formats)
    aware = any("%z" in f or "%#z" in f for f in formats)
    dtype = pl.Datetime("us", "UTC") if aware else pl.Datetime("us")

    def parse(values: pl.Series) -> pl.Series:
        values = values.cast(pl.String)
        out = pl.repeat(None, values.len(), dtype=dtype, eager=True).alias(values.name)
        todo = values.is_not_null()
        for f in formats:  # each format only sees the values no earlier format read
            idx = todo.arg_true()
            if idx.len() == 0:
                break
            got = values.gather(idx).str.to_datetime(f, strict=False, time_unit="us", exact=True)
            ok = got.dt.year().is_between(*_YEARS).fill_null(False)
            out = out.scatter(idx.filter(ok), got.filter(ok))
            todo = todo.scatter(idx.filter(ok), False)
        return out

    return text.map_batches(parse, return_dtype=dtype, is_elementwise=True)


def detect_ts_formats(
    values: pl.Series, *, what: str, key: str
) -> tuple[str, tuple[str, ...], bool]:
    """Find the time-stamp format family that reads the most of ``values``.

    Parameters
    ----------
    values
        String values of the column (a sample is enough).
    what
        How to name the column in messages, e.g. ``"column 'Start' (arrival_ts)"``.
    key
        Mapping key to suggest, e.g. ``"formats.arrival_ts"``.

    Returns
    -------
    tuple
        ``(family name, formats, carries UTC offsets)``.

    Raises
    ------
    KpiError
        If no family reads any value, or if day-first and month-first both read every value
        but disagree (03/04/2024), so the user must say which.

    Examples
    --------
    >>> import polars as pl
    >>> detect_ts_formats(pl.Series(["25/12/2024 10:00", "01/12/2024 09:00"]), what="t", key="k")[
    ...     0
    ... ]
    'day first (DD/MM/YYYY)'
    """
    values = values.drop_nulls()
    if values.len() > 10_000:  # the head of the file and a fixed random sample of the rest
        values = pl.concat([values.head(5000), values.sample(5000, seed=0)])
    sample = values.str.strip_chars().unique(maintain_order=True).head(2000)
    if sample.len() == 0:
        return "ISO (YYYY-MM-DD hh:mm:ss)", TS_FAMILIES["ISO (YYYY-MM-DD hh:mm:ss)"], False
    frame = sample.to_frame("v")
    parsed = frame.select(
        **{name: parse_ts(pl.col("v"), fmts) for name, fmts in TS_FAMILIES.items()}
    )
    hits = {name: parsed[name].is_not_null().sum() for name in TS_FAMILIES}
    best = max(hits.values())
    if best == 0:
        examples = ", ".join(repr(v) for v in sample.head(3).to_list())
        raise KpiError(
            f"{what}: no known date/time format fits its values (e.g. {examples}); set "
            f'{key} = "<strftime format>", e.g. "%d/%m/%Y %H:%M:%S"'
        )
    winners = [name for name, n in hits.items() if n == best]
    dmy, mdy = "day first (DD/MM/YYYY)", "month first (MM/DD/YYYY)"
    if dmy in winners and mdy in winners:
        differ = parsed.filter(pl.col(dmy) != pl.col(mdy))
        if differ.height:
            example = frame.filter(parsed[dmy] != parsed[mdy])["v"][0]
            raise KpiError(
                f"{what}: dates such as {example!r} read both as day-first and month-first; "
                f'set {key} = "%d/%m/%Y %H:%M:%S" (day first) or "%m/%d/%Y %H:%M:%S" '
                "(month first)"
            )
    name = winners[0]
    return name, TS_FAMILIES[name], "offset" in name.lower()


def parse_duration(text: pl.Expr, fmt: str = "auto") -> pl.Expr:
    """Parse duration strings to seconds (Float64; null where unreadable).

    Parameters
    ----------
    text
        String expression: ``"143"``, ``"2:23"``, ``"00:02:23"``, ``"0:02:23.5"``, ISO 8601
        ``"PT2M23S"`` or words ``"2m 23s"``, ``"1 hr 5 mins"``, ``"12.5 sec"``, ``"250ms"``.
    fmt
        One of :data:`DURATION_FORMATS`: the unit of bare numbers (``"seconds"``,
        ``"milliseconds"``, ``"minutes"``, ``"hours"``) and how two-part values read
        (``"m:ss"``, the default, or ``"h:mm"``). Three-part values are always h:mm:ss.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["00:02:23", "2:23", "143", "1:75", "", "-5"])
    >>> s.to_frame("d").select(parse_duration(pl.col("d"))).to_series().to_list()
    [143.0, 143.0, 143.0, None, None, -5.0]
    >>> s = pl.Series(["PT2M23S", "PT0S", "2m 23s", "1h 5 min", "12.5 sec", "250ms", "2 m x"])
    >>> s.to_frame("d").select(parse_duration(pl.col("d"))).to_series().to_list()
    [143.0, 0.0, 143.0, 3900.0, 12.5, 0.25, None]
    """
    if fmt not in DURATION_FORMATS:
        raise KpiError(f"unknown duration format {fmt!r}; valid: {', '.join(DURATION_FORMATS)}")
    unit, two_part = DURATION_FORMATS[fmt]
    big, small = (60.0, 1.0) if two_part == "m:ss" else (3600.0, 60.0)

    def seconds(values: pl.Series) -> pl.Series:
        # one regex pass, materialised once (each reference to a field would rerun it)
        g = values.str.strip_chars().str.extract_groups(_DURATION_RE).struct.unnest()
        sign = pl.when(pl.col("1") == "-").then(-1.0).otherwise(1.0)
        a, b, c = (pl.col(str(i)).cast(pl.Float64, strict=False) for i in (2, 3, 4))
        has_b, has_c = b.is_not_null(), c.is_not_null()
        num = pl.when(~has_b).then(a * unit)
        hms = pl.when(has_c & (b < 60) & (c < 60)).then(a * 3600 + b * 60 + c)
        two = pl.when(has_b & ~has_c & (b < 60)).then(a * big + b * small)
        out = sane_seconds(sign * pl.coalesce(num, hms, two))
        clocked = g.select(out.alias(values.name)).to_series()
        if clocked.null_count() == values.null_count():
            return clocked
        return clocked.fill_null(_worded_seconds(values))

    return text.map_batches(seconds, return_dtype=pl.Float64, is_elementwise=True)


_NUM = r"(\d+(?:\.\d+)?)"
# ISO 8601 durations (PT4M1S, P1DT2H, PT12.5S), as APIs and cloud contact centres write them
_ISO_DURATION = rf"^([+-]?)P(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?$"
# durations in words: 1h 2m 3s, 10m 20s, 12.5s, 2 min, 1 hr 5 mins, 3 sec, 250ms
_WORDED = (
    rf"^([+-]?)(?:{_NUM}\s*(?:h|hr|hrs|hours?)\.?\s*)?(?:{_NUM}\s*(?:m|min|mins|minutes?)"
    rf"\.?\s*)?(?:{_NUM}\s*(?:s|sec|secs|seconds?)\.?\s*)?(?:{_NUM}\s*ms\s*)?$"
)


def _worded_seconds(values: pl.Series) -> pl.Series:
    """Seconds of ISO 8601 durations (``PT4M1S``) and durations in words (``10m 20s``)."""
    text = values.str.strip_chars().str.to_lowercase()
    iso = text.str.to_uppercase().str.extract_groups(_ISO_DURATION).struct.unnest()
    iso_s = iso.select(
        pl.when(pl.any_horizontal(pl.col(str(i)).is_not_null() for i in (2, 3, 4, 5))).then(
            pl.when(pl.col("1") == "-").then(-1.0).otherwise(1.0)
            * pl.sum_horizontal(
                pl.col(str(i)).cast(pl.Float64).fill_null(0) * f
                for i, f in ((2, 86400), (3, 3600), (4, 60), (5, 1))
            )
        )
    ).to_series()
    words = text.str.extract_groups(_WORDED).struct.unnest()
    word_s = words.select(
        pl.when(pl.any_horizontal(pl.col(str(i)).is_not_null() for i in (2, 3, 4, 5))).then(
            pl.when(pl.col("1") == "-").then(-1.0).otherwise(1.0)
            * pl.sum_horizontal(
                pl.col(str(i)).cast(pl.Float64).fill_null(0) * f
                for i, f in ((2, 3600), (3, 60), (4, 1), (5, 0.001))
            )
        )
    ).to_series()
    out = pl.select(sane_seconds(pl.coalesce(pl.lit(iso_s), pl.lit(word_s)))).to_series()
    return out.alias(values.name)


_NUMBER = r"(\d+\.?\d*|\.\d+)"
_DURATION_RE = rf"^([+-]?){_NUMBER}(?::{_NUMBER})?(?::{_NUMBER})?$"


#: Durations beyond this many seconds (about 31 years) are unreadable, not data.
MAX_SECONDS = 1e9


def sane_seconds(seconds: pl.Expr) -> pl.Expr:
    """Seconds, or null when not finite or beyond :data:`MAX_SECONDS` in size.

    Examples
    --------
    >>> import polars as pl
    >>> pl.select(sane_seconds(pl.Series([1.5, float("inf"), 1e12]))).to_series().to_list()
    [1.5, None, None]
    """
    return pl.when(seconds.is_finite() & (seconds.abs() <= MAX_SECONDS)).then(seconds)


def parse_int(text: pl.Expr) -> pl.Expr:
    """Parse whole numbers ("12", "12.0") to Int64; null where unreadable.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["12", " 3.0", "1.5", "x"]).to_frame("n")
    >>> s.select(parse_int(pl.col("n"))).to_series().to_list()
    [12, 3, None, None]
    """
    s = text.str.strip_chars()
    return pl.when(s.str.contains(_INT)).then(
        s.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False)
    )


def parse_bool(text: pl.Expr) -> pl.Expr:
    """Parse yes/no values (true/false, t/f, yes/no, y/n, 1/0; any case) to Boolean.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["Y", "no", "1", "maybe"]).to_frame("b")
    >>> s.select(parse_bool(pl.col("b"))).to_series().to_list()
    [True, False, True, None]
    """
    s = text.str.strip_chars().str.to_lowercase()
    return pl.when(s.is_in(_TRUE)).then(True).when(s.is_in(_FALSE)).then(False)


_CLOCK = r"(\d{1,2}):(\d\d)(?::(\d\d))?(?:\s*([AaPp])\.?[Mm]\.?)?"
#: An interval written as a range of clock times at the end of the text: ``08:00-08:15``,
#: ``2025-03-03 8:00 AM - 8:15 AM``, ``08:00:00 – 08:30:00``.
TIME_RANGE = rf"^(.*?){_CLOCK}\s*[-–—]\s*{_CLOCK}$"


def range_start(text: pl.Expr) -> pl.Expr:
    """The text of a time range up to its start: ``03/03/2025 08:00-08:15`` -> ``03/03/2025 08:00``.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["03/03/2025 08:00-08:15", "8:00 AM - 8:15 AM", "08:00"]).to_frame("t")
    >>> s.select(range_start(pl.col("t"))).to_series().to_list()
    ['03/03/2025 08:00', '8:00 AM', '08:00']
    """
    return text.str.replace(r"\s*[-–—]\s*" + _CLOCK + "$", "")


def range_seconds(text: pl.Expr) -> pl.Expr:
    """Length in seconds of a time range (end - start, across midnight); null if no range.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["08:00-08:15", "x 23:45 - 00:00", "11:30 AM - 12:00 PM", "08:00"])
    >>> s.to_frame("t").select(range_seconds(pl.col("t"))).to_series().to_list()
    [900.0, 900.0, 1800.0, None]
    """
    g = text.str.strip_chars().str.extract_groups(TIME_RANGE)

    def clock(i: int) -> pl.Expr:
        h, mi, se = (g.struct.field(str(k)).cast(pl.Float64) for k in (i, i + 1, i + 2))
        ap = g.struct.field(str(i + 3)).str.to_lowercase()
        h = (
            pl.when(ap.is_null())
            .then(h)
            .otherwise(h % 12 + pl.when(ap == "p").then(12).otherwise(0))
        )
        return h * 3600 + mi * 60 + se.fill_null(0)

    length = (clock(6) - clock(2)) % 86400
    return pl.when(length > 0).then(length)


#: Zone abbreviations with one meaning (others, such as IST or BST, name several zones).
ZONE_ABBREVIATIONS = {
    "UTC": "+00:00",
    "GMT": "+00:00",
    "EST": "-05:00",
    "EDT": "-04:00",
    "CST": "-06:00",
    "CDT": "-05:00",
    "MST": "-07:00",
    "MDT": "-06:00",
    "PST": "-08:00",
    "PDT": "-07:00",
    "CET": "+01:00",
    "CEST": "+02:00",
    "EET": "+02:00",
    "EEST": "+03:00",
    "WET": "+00:00",
    "WEST": "+01:00",
}


def ts_text(text: pl.Expr) -> pl.Expr:
    """Time-stamp text as the detected formats read it: no weekday, no comma between date and
    time, a trailing zone abbreviation as its offset (``UTC``, ``EST``, ``CEST``).

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(
    ...     [
    ...         "Mon 03/03/2025 08:00",
    ...         "3/3/2025, 8:00 AM",
    ...         "2025-03-03 08:00:00 EST",
    ...         "2025-03-03 08:00:00.000 UTC",
    ...         "Mar 3, 2025 8:00 AM",
    ...     ]
    ... )
    >>> s.to_frame("t").select(ts_text(pl.col("t"))).to_series().to_list()
    ['03/03/2025 08:00', '3/3/2025 8:00 AM', '2025-03-03 08:00:00-05:00', '2025-03-03 08:00:00.000+00:00', 'Mar 3, 2025 8:00 AM']
    """
    t = text.str.replace(r"(?i)^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", "")
    t = t.str.replace(r"^(\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}),\s*(\d{1,2}:)", "${1} ${2}")
    abbr = "|".join(ZONE_ABBREVIATIONS)
    zone = t.str.extract(rf"\s+({abbr})$", 1)
    offset = zone.replace_strict(ZONE_ABBREVIATIONS, default=None, return_dtype=pl.String)
    return (
        pl.when(zone.is_not_null())
        .then(pl.concat_str([t.str.replace(rf"\s+(?:{abbr})$", ""), offset]))
        .otherwise(t)
    )
