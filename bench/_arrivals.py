"""The Technion 1999 arrival series (6-minute slots) as an in-memory dataset.

``../shared/datasets/technion_bank_1999_6min/arrivals_6min_1999.csv`` becomes an ``intervals``
table (one queue, ``all``): ``interval_start`` is the slot's start in Asia/Jerusalem, where the
slot's calls lie (slots are right-closed, ((u-1)·6 min, u·6 min], so binning by the start puts
every call in the bin that holds it); ``offered`` the calls. The answered, abandoned and
talk columns of an interval report are absent and become nulls (not zeros). Two quirks:
``offered`` is a whole count, so the 91 half counts of 1999-05-23 are rounded down (45.5
calls of 445,414.5); and the 10 slots of the spring clock change (02:00-02:54 on 1999-04-02)
do not exist in local time and are dropped (they hold 0 calls).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from kpi.data import Dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ARRIVALS = SHARED / "technion_bank_1999_6min" / "arrivals_6min_1999.csv"
TZ = "Asia/Jerusalem"


def technion_arrivals(path: Path = ARRIVALS) -> Dataset:
    """The arrival series as a Dataset with an ``intervals`` table (country IL)."""
    raw = pl.read_csv(path, try_parse_dates=True)
    table = (
        raw.with_columns(
            pl.col("interval_start").dt.replace_time_zone(
                TZ, ambiguous="earliest", non_existent="null"
            ),
            pl.lit(360.0).alias("interval_s"),
            pl.lit("all").alias("queue"),
            pl.col("calls").floor().cast(pl.Int64).alias("offered"),
        )
        .drop_nulls("interval_start")
        .select("interval_start", "interval_s", "queue", "offered")
    )
    return Dataset(
        {"intervals": table},
        tz=TZ,
        meta={"timezone": TZ, "country": "IL", "name": "Technion bank 1999, 6-min arrivals"},
    )
