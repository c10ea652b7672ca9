"""Column builders shared by the simulator's tables: time stamps, labels, ids, dates."""

from __future__ import annotations

import numpy as np
import polars as pl

from kpi._sim.clock import Clock

__all__ = ["dates", "ids", "labels", "ts"]


def ts(secs: np.ndarray, clock: Clock) -> pl.Series:
    """Seconds from ``clock.t0`` (NaN: null) as a tz-aware Datetime(us) series."""
    s = pl.Series(np.asarray(secs, dtype=np.float64)).fill_nan(None)
    us = ((s + clock.t0) * 1_000_000).cast(pl.Int64)
    return us.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(clock.tz)


def labels(names: list[str], codes: np.ndarray) -> pl.Series:
    """Strings from small integer codes (negative codes: null)."""
    codes = np.asarray(codes)
    out = pl.Series(names, dtype=pl.String).gather(np.maximum(codes, 0).astype(np.uint32))
    if (codes < 0).any():
        out = pl.select(
            pl.when(pl.Series(codes >= 0)).then(out).otherwise(pl.lit(None, pl.String))
        ).to_series()
    return out


def ids(prefix: str, n: int, *, width: int | None = None) -> pl.Series:
    """``prefix`` plus a zero-padded sequence number 1..n."""
    width = width or max(6, len(str(n)))
    return pl.select(
        pl.lit(prefix) + (pl.int_range(1, n + 1, eager=False)).cast(pl.String).str.zfill(width)
    ).to_series()


def dates(clock: Clock, days: np.ndarray) -> pl.Series:
    """Local dates from day indices (NaN or huge: null)."""
    days = np.asarray(days, dtype=np.float64)
    ok = np.isfinite(days) & (np.abs(days) < 10**5)
    base = np.datetime64(clock.start, "D")
    vals = base + np.where(ok, days, 0).astype("timedelta64[D]")
    s = pl.Series(vals).cast(pl.Date)
    if not ok.all():
        s = pl.select(pl.when(pl.Series(ok)).then(s).otherwise(None)).to_series()
    return s
