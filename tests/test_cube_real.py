"""The cube against the rows on the real exports of ``../shared/datasets``, imported as users do.

The generated year and the sample (``tests/test_cube.py``) are regular by construction; the real
files are not: the February 1999 call log of an Israeli bank (its own zone, calls with no
customer, a quarter of the rows abandoned), the 6-minute arrivals of 1999 (an intervals table
only: most KPIs unavailable) and the NYC casework tickets (no channel, agent or priority; a log
with stray records years apart). Every query of KPI, grain, dimensions (none, one or two) and
range, DST days included, must give the same frame, notes and definitions with and without the
cube, or be refused with the same reason.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import kpi
from kpi import cube
from kpi.compute import availability, dataset_params
from kpi.errors import KpiError
from kpi.io import import_file
from kpi.metrics import METRICS
from kpi.periods import GRAINS
from kpi.views import dimensions

ROOT = Path(__file__).resolve().parents[1]
KPIS = sorted(METRICS)


class Source(NamedTuple):
    """A real export: its file under ``../shared/datasets``, import options, days the ranges
    start on, whether intraday grains may span the whole file, and a KPI read from the cube."""

    file: str
    options: dict[str, object]
    days: list[date]
    whole_intraday: bool
    from_cube: str


SOURCES = {
    "technion-calls": Source(
        "technion_bank_1999_02/calls_1999_02.tsv",
        {"preset": "technion"},
        # Israel's 1999 summer time began on Friday 2 April: none in February; weekends
        # (Friday, Saturday), the first and last days
        [
            date(1999, 2, 1),
            date(1999, 2, 5),
            date(1999, 2, 6),
            date(1999, 2, 14),
            date(1999, 2, 28),
        ],
        True,
        "aht",
    ),
    "technion-6min": Source(
        "technion_bank_1999_6min/arrivals_6min_1999.csv",
        {"mapping": ROOT / "docs" / "examples" / "technion_6min_mapping.toml"},
        # both changes of Israel's clocks in 1999, and a month end
        [date(1999, 4, 2), date(1999, 9, 3), date(1999, 1, 31), date(1999, 6, 15)],
        True,
        "contacts_offered",
    ),
    "nyc-casework": Source(
        "nyc_council_casework/casework.parquet",
        {"preset": "tickets"},
        [date(2023, 3, 12), date(2023, 11, 5), date(2023, 12, 1), date(2022, 6, 1)],
        # ten years by the hour: the backlog (a stock) by two dimensions has 140M rows
        False,
        "tickets_handled",
    ),
}
_DIMS = ["site", "team", "queue", "channel", "topic", "direction", "agent_id", "priority"]


class Real(NamedTuple):
    """An imported export with its cube: the KPIs it supports and the dimensions with values."""

    source: Source
    root: Path
    kpis: list[str]
    dims: list[str]


@pytest.fixture(scope="module", params=sorted(SOURCES))
def real(
    request: pytest.FixtureRequest,
    shared_datasets: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Real:
    """A real export imported (as ``kpi import`` does) with its cube built."""
    source = SOURCES[request.param]
    out = tmp_path_factory.mktemp(request.param) / "data"
    import_file(shared_datasets / source.file, out=out, **source.options)
    ds = kpi.load(out)
    cube.build(out, params=dataset_params(ds))
    kpis = [k for k, a in availability(ds).items() if a.ok]
    return Real(source, out, kpis, dimensions(ds, extra=["agent_id"]))


def _outcome(ds: kpi.Dataset, kpi_id: str, *, cube_: bool, **kw: object) -> object:
    """The frame, notes and definitions of a query, or the reason it was refused."""
    try:
        got = kpi.evaluate(ds, kpi_id, cube=cube_, **kw)
    except KpiError as exc:
        return str(exc)
    return got.frame.collect(), got.notes, got.definitions


@st.composite
def _queries(
    draw: st.DrawFn,
    days: list[date],
    tz: str,
    kpis: list[str],
    dims: list[str],
    whole_intraday: bool,
) -> tuple[str, dict]:
    """Mostly a KPI the data supports by dimensions it has (``kpis``, ``dims``); one query in
    five from the whole catalogue and every dimension, which both must refuse alike."""
    wide = not dims or draw(st.integers(0, 4)) == 0
    kw: dict[str, object] = {
        "every": draw(st.sampled_from([None, *GRAINS])),
        "by": tuple(
            draw(st.lists(st.sampled_from(_DIMS if wide else dims), max_size=2, unique=True))
        ),
    }
    kind = draw(st.sampled_from(["none", "days", "odd"]))
    if kind == "none" and not whole_intraday and kw["every"] in {"15m", "30m", "1h"}:
        kind = "days"
    day = draw(st.sampled_from(days))
    if kind == "days":
        kw |= {"start": day, "end": day + timedelta(days=draw(st.integers(0, 40)))}
    elif kind == "odd":  # a range that cuts quarter hours and days
        lo = datetime(
            day.year, day.month, day.day, draw(st.integers(0, 23)), 7, tzinfo=ZoneInfo(tz)
        )
        kw |= {"start": lo, "end": lo + timedelta(days=draw(st.integers(0, 9)), hours=5)}
    return draw(st.sampled_from(KPIS if wide or not kpis else kpis)), kw


@pytest.mark.shared
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(data=st.data())
def test_cube_equals_rows_on_real_exports(real: Real, data: st.DataObject) -> None:
    ds = kpi.load(real.root)
    src = real.source
    query = _queries(src.days, ds.tz, real.kpis, real.dims, src.whole_intraday)
    kpi_id, kw = data.draw(query, label="query")
    rows = _outcome(ds, kpi_id, cube_=False, **kw)
    fast = _outcome(ds, kpi_id, cube_=True, **kw)
    if isinstance(rows, str) or isinstance(fast, str):
        assert fast == rows  # refused alike, with the same reason
        return
    (a, notes_a, defs_a), (b, notes_b, defs_b) = rows, fast
    assert notes_b == notes_a
    assert defs_b == defs_a
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.shared
def test_the_real_exports_are_answered_from_the_cube(real: Real) -> None:
    """The cube is used on real data, not only built: a day-by-day view of a KPI each file
    supports reads it, not the rows."""
    kpi_id = real.source.from_cube
    got = kpi.evaluate(kpi.load(real.root), kpi_id, every="1d")
    assert ".kpi-cube" in got.frame.explain()
    total = got.frame.collect()
    assert total.height > 0
    assert total.select(pl.col(kpi_id).is_not_null().any()).item()
