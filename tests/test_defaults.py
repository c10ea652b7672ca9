"""Defaults fit the data: ``period = "latest"`` is the latest complete period of the data at
hand, ``compare = ""`` the period before it, and a comparison period without data is left out
with a note in the header (``kpi.report.data_periods``, resolved by ``kpi report`` before the
notebook runs and again in the notebook's cell after its parameters)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import nbformat
import polars as pl
import pytest

from kpi import KpiError
from kpi.periods import latest_period, parse_period
from kpi.report import (
    FINDINGS_MIME,
    HEADER_MIME,
    PERIODS_MIME,
    data_periods,
    notebook_parameters,
    require_period,
)
from kpi.report._html import header_html, prepare
from kpi.report._render import _plan

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SAMPLES = ROOT / "data" / "samples"
TECHNION = "technion_bank_1999_02/calls_1999_02.tsv"
#: 27 × 52 weeks: the sample moved back to 1999 with its weekdays kept.
SHIFT = timedelta(weeks=27 * 52)


def _days(first: date, last: date, *, weekdays: range | set[int] = range(7)) -> dict:
    """A contacts table with one contact at noon on every open day from first to last."""
    stamps = [
        datetime(d.year, d.month, d.day, 12, tzinfo=UTC)
        for d in (first + timedelta(days=i) for i in range((last - first).days + 1))
        if d.weekday() in weekdays
    ]
    return {"contacts": pl.DataFrame({"arrival_ts": stamps})}


# --------------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------------


def test_latest_is_the_latest_complete_period_of_the_data():
    three = _days(date(2026, 1, 1), date(2026, 3, 31))
    assert data_periods(three) == data_periods(three, "latest", "")
    found = data_periods(three)
    assert (found.period, found.compare, found.notes) == ("2026-03", "2026-02", ())
    # the data stops on the 15th: March is not complete, February is the latest
    half = data_periods(_days(date(2026, 1, 1), date(2026, 3, 15)))
    assert (half.period, half.compare) == ("2026-02", "2026-01")
    # other grains
    assert data_periods(three, "latest-week").period == "2026-W13"  # Sunday 29 March
    assert data_periods(three, "latest-day").period == "2026-03-31"
    assert data_periods(three, "latest-quarter").period == "2026-Q1"
    # explicit periods are kept, compare "" is the period before
    assert data_periods(three, "2026-02").compare == "2026-01"
    assert data_periods(three, "2026-W06", "").compare == "2026-W05"
    assert data_periods(three, "2026-03", "2026-01").compare == "2026-01"


def test_a_dataset_directory_is_counted_once_and_again_when_it_changes(tmp_path):
    """The reports of ``kpi report --all`` resolve ``latest`` on the same directory: its days
    are counted once (one pass for all reports), and counted again when a file changes."""
    from kpi.data import Dataset, save

    save(Dataset(_days(date(2026, 1, 1), date(2026, 3, 31))), tmp_path / "d")
    first = data_periods(tmp_path / "d")
    assert (first.period, first.compare) == ("2026-03", "2026-02")
    assert data_periods(str(tmp_path / "d"), "latest-week").period == "2026-W13"
    # the same answers as from the tables themselves (counted each time)
    tables = _days(date(2026, 1, 1), date(2026, 3, 31))
    assert data_periods(tables) == first
    assert data_periods(tables, "latest-week") == data_periods(tmp_path / "d", "latest-week")
    # the data grows by a month: the directory's new files are counted, not the old counts
    save(Dataset(_days(date(2026, 1, 1), date(2026, 4, 30))), tmp_path / "d")
    grown = data_periods(tmp_path / "d")
    assert (grown.period, grown.compare) == ("2026-04", "2026-03")
    # a sparse tail (a trickle of records after the last full month) is still skipped
    tail = _days(date(2026, 1, 1), date(2026, 3, 31))["contacts"].vstack(
        pl.DataFrame({"arrival_ts": [datetime(2026, 4, d, 12, tzinfo=UTC) for d in (1, 30)]})
    )
    save(Dataset({"contacts": tail}), tmp_path / "d")
    found = data_periods(tmp_path / "d")
    assert found.period == "2026-03"
    assert found.notes
    assert "sparse tail" in found.notes[0]


def test_a_partial_last_day_counts_and_closed_weekdays_need_no_data():
    # an export cut at 09:00 on the month's last day still completes the month
    cut = {
        "contacts": pl.DataFrame(
            {
                "arrival_ts": [
                    datetime(2026, 3, 1, 8, tzinfo=UTC),
                    datetime(2026, 4, 30, 9, tzinfo=UTC),
                ]
            }
        )
    }
    assert data_periods(cut).period == "2026-04"
    # a centre closed at weekends: May 2026 ends on a Sunday, the data on Friday the 29th
    weekdays = _days(date(2026, 4, 1), date(2026, 5, 29), weekdays={0, 1, 2, 3, 4})
    assert data_periods(weekdays).period == "2026-05"
    # open every day: the same data stops two days short of the month
    every_day = _days(date(2026, 4, 1), date(2026, 5, 29))
    assert data_periods(every_day).period == "2026-04"
    assert latest_period(date(2026, 4, 1), date(2026, 5, 29))[0].label == "2026-04"


def test_the_time_zone_of_the_site_places_the_last_record():
    # every day of March until 23:30 UTC on the 30th, which is 02:30 on the 31st in Jerusalem
    stamps = [datetime(2026, 3, d, 9, tzinfo=UTC) for d in range(1, 31)]
    frame = pl.DataFrame({"arrival_ts": [*stamps, datetime(2026, 3, 30, 23, 30, tzinfo=UTC)]})
    from kpi.data import Dataset

    site = data_periods(Dataset({"contacts": frame}, tz="Asia/Jerusalem"))
    assert (site.period, site.notes[0]) == (
        "2026-03",
        "No data for 2026-02: shown without comparison",
    )
    utc = data_periods(Dataset({"contacts": frame}, tz="UTC"))
    assert (utc.period, utc.notes[0]) == (
        "2026-03",
        "2026-03 is incomplete: the data ends on 2026-03-30",
    )


def test_less_than_one_period_of_data_shows_it_as_incomplete():
    found = data_periods(_days(date(1999, 2, 3), date(1999, 2, 17)))
    assert found.period == "1999-02"
    assert found.compare == ""
    assert found.notes == (
        "1999-02 is incomplete: the data ends on 1999-02-17",
        "No data for 1999-01: shown without comparison",
    )


def test_a_comparison_period_without_data_is_left_out_and_said():
    one_month = _days(date(1999, 2, 1), date(1999, 2, 28))
    found = data_periods(one_month)
    assert (found.period, found.compare) == ("1999-02", "")
    assert found.notes == ("No data for 1999-01: shown without comparison",)
    # resolving the result again gives the same result (kpi report, then the notebook)
    assert data_periods(one_month, found.period, found.compare) == found
    # an explicit comparison period without data too
    assert data_periods(one_month, "1999-02", "1998-02").notes == (
        "No data for 1998-02: shown without comparison",
    )
    bundle = found._repr_mimebundle_()
    assert bundle[PERIODS_MIME] == {
        "period": "1999-02",
        "compare": "",
        "notes": ["No data for 1999-01: shown without comparison"],
    }
    assert "without comparison" in bundle["text/plain"]


def test_latest_needs_data_and_is_not_a_fixed_period():
    with pytest.raises(KpiError, match="no records in contacts, tickets, intervals"):
        data_periods(
            {
                "contacts": pl.DataFrame(
                    {"arrival_ts": []}, schema={"arrival_ts": pl.Datetime("us", "UTC")}
                )
            }
        )
    with pytest.raises(KpiError, match="depends on the data"):
        parse_period("latest")


# --------------------------------------------------------------------------------------------
# The notebooks and kpi report
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")), ids=lambda p: p.stem
)
def test_every_notebook_defaults_to_the_data(path):
    """No report hard-codes a date: a period defaults to the data's latest complete one (the
    plan: its last whole week), a forecast's history to the end of the data."""
    spec = notebook_parameters(path)
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    resolver = nb.cells[index + 1].source
    if "period" not in spec:  # the forecast: history up to the end of the data
        assert spec["until"].default == ""
        return
    assert spec["period"].default.startswith("latest")
    if "compare" not in spec:  # the plan: one week, no comparison
        assert 'kpi.report.data_periods(data_dir, period, "").period' in resolver
        return
    assert spec["period"].default == "latest"
    assert spec["compare"].default == ""
    assert "kpi.report.data_periods(data_dir, period, compare)" in resolver
    assert "period, compare = periods.period, periods.compare" in resolver


def test_kpi_report_resolves_the_defaults_before_anything_runs(tmp_path):
    plan = _plan("overview", out_dir=tmp_path, today=date(2026, 12, 5))
    assert plan.values["period"] == "2026-03"
    assert plan.values["compare"] == "2026-02"
    assert plan.period_label == "2026-03"
    # an explicit period: compare is the period before, if it has data
    plan = _plan("trends", period="2026-01", out_dir=tmp_path)
    assert (plan.values["period"], plan.values["compare"]) == ("2026-01", "")
    plan = _plan("trends", period="2026-02", compare="2026-01", out_dir=tmp_path)
    assert (plan.values["period"], plan.values["compare"]) == ("2026-02", "2026-01")
    plan = _plan("staffing", period="latest-week", out_dir=tmp_path)
    assert (plan.values["period"], plan.values["compare"]) == ("2026-W13", "2026-W12")
    with pytest.raises(KpiError, match=r"bad value for period: .*latest"):
        _plan("overview", period="newest", out_dir=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KpiError):
        _plan("overview", data=empty, out_dir=tmp_path)


def test_a_report_of_a_period_without_data_is_refused_before_anything_runs(tmp_path):
    """Every report of a period of the data, not only the overview: a period the data hold
    nothing of is a one-line error before a kernel starts, never a report of zeros."""
    for name in ("overview", "scorecard", "trends", "drill-down", "staffing", "tickets"):
        with pytest.raises(KpiError, match=r"bad value for period: no data in 2030-01 .*cover"):
            _plan(name, period="2030-01", out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_explicit_period_the_data_only_partly_cover_says_so():
    feb = _days(date(1999, 2, 1), date(1999, 2, 28))
    found = data_periods(feb, "1999-Q1")
    assert found.notes[0] == (
        "1999-Q1 is incomplete: the data cover 1999-02-01 to 1999-02-28 of it "
        "(1999-01-01 to 1999-03-31)"
    )
    assert data_periods(feb, "1999-02").notes == ("No data for 1999-01: shown without comparison",)


def test_the_header_says_a_comparison_was_left_out():
    found = data_periods(_days(date(1999, 2, 1), date(1999, 2, 28)))
    cell = nbformat.v4.new_code_cell("periods")
    cell.outputs = [nbformat.v4.new_output("display_data", data=found._repr_mimebundle_())]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T\n> Q"), cell])
    prepared, lifted = prepare(nb)
    assert lifted.notes == ["No data for 1999-01: shown without comparison"]
    assert not [c for c in prepared.cells if c.cell_type == "code" and c.outputs]
    context = {
        "report": "t",
        "parameters": {"period": "1999-02", "compare": ""},
        "generated_text": "now",
    }
    html = header_html(context, lifted)
    assert "<li>No data for 1999-01: shown without comparison</li>" in html
    assert "Compared with" not in html


# --------------------------------------------------------------------------------------------
# Rendered with their defaults on data of another year
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_1999(tmp_path_factory) -> Path:
    """The sample data moved back 27 × 52 weeks (to 1999, weekdays kept)."""
    if not (SAMPLES / "contacts.parquet").exists():
        pytest.skip(f"sample data not generated in {SAMPLES}")
    out = tmp_path_factory.mktemp("sample-1999")
    for source in SAMPLES.iterdir():
        if source.suffix != ".parquet":
            shutil.copy(source, out / source.name)
            continue
        frame = pl.read_parquet(source)
        moved = [
            (pl.col(name) - SHIFT).alias(name)
            for name, dtype in frame.schema.items()
            if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime)
        ]
        frame.with_columns(moved).write_parquet(out / source.name)
    (out / "contacts.csv").unlink(missing_ok=True)
    return out


_RENDER = """
import json, sys
from kpi.report import render
job = json.loads(sys.argv[1])
print(render(job.pop("notebook"), progress=False, **job))
"""


def _render(notebook: str, data: Path, out: Path) -> Path:
    job = {"notebook": notebook, "data": str(data), "out_dir": str(out)}
    proc = subprocess.run(
        [sys.executable, "-c", _RENDER, json.dumps(job)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", ["00-overview", "02-trends"])
def test_default_parameters_render_data_of_another_year(sample_1999, tmp_path, notebook):
    found = data_periods(sample_1999)
    assert found.period.startswith("1999-")
    assert found.compare.startswith("1999-")
    html_path = _render(notebook, sample_1999, tmp_path)
    assert html_path.parent.name == found.period
    nb = nbformat.read(html_path.with_suffix(".ipynb"), as_version=4)
    params = nb.metadata.papermill.parameters
    assert (params["period"], params["compare"]) == (found.period, found.compare)
    html = html_path.read_text()
    assert f"<dt>Period</dt><dd>{found.period} (" in html
    assert f"<dt>Compared with</dt><dd>{found.compare} (" in html
    assert html.count('class="kpi-chart"') >= 2  # not empty


# --------------------------------------------------------------------------------------------
# Rendered with their defaults where the comparison period has no data
# --------------------------------------------------------------------------------------------

#: Every standard report.
STANDARD = tuple(sorted(p.stem for p in NOTEBOOKS.glob("0[0-5]-*.ipynb")))
_TH = re.compile(r"<th(?:\s[^>]*)?>(.*?)</th>", re.S)


def _render_many(notebooks: tuple[str, ...], data: Path, out: Path) -> dict[str, Path | str]:
    """Each notebook rendered with its defaults on ``data``, two at a time; a failure is kept
    as the end of its error output."""

    def one(notebook: str) -> Path | str:
        job = {"notebook": notebook, "data": str(data), "out_dir": str(out / notebook)}
        proc = subprocess.run(
            [sys.executable, "-c", _RENDER, json.dumps(job)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            return proc.stderr[-4000:]
        return Path(proc.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(notebooks, pool.map(one, notebooks), strict=True))


@pytest.fixture(scope="module")
def technion_month(shared_datasets, tmp_path_factory) -> Path:
    """The real February 1999 call log (one month) after ``kpi import --preset technion``."""
    from kpi.io import import_file

    data = tmp_path_factory.mktemp("technion")
    import_file(shared_datasets / TECHNION, preset="technion", out=data)
    return data


@pytest.fixture(scope="module")
def sample_gap(sample_1999, tmp_path_factory) -> Path:
    """The sample moved to 1999 without any record in the month before its latest month."""
    from kpi.schema import TABLES

    found = data_periods(sample_1999)
    gap = parse_period(found.compare)
    tz = json.loads((sample_1999 / "dataset.json").read_text()).get("timezone", "UTC")
    out = tmp_path_factory.mktemp("sample-gap")
    for source in sample_1999.iterdir():
        table = TABLES.get(source.stem)
        if source.suffix != ".parquet" or table is None or not table.time_column:
            shutil.copy(source, out / source.name)
            continue
        frame = pl.read_parquet(source)
        column = table.time_column
        if column in frame.columns:
            day = pl.col(column)
            if isinstance(frame.schema[column], pl.Datetime):
                day = day.dt.convert_time_zone(tz).dt.date()
            frame = frame.filter(~day.is_between(gap.start, gap.end, closed="left"))
        frame.write_parquet(out / source.name)
    return out


@pytest.fixture(scope="module")
def technion_reports(technion_month, tmp_path_factory) -> dict[str, Path | str]:
    return _render_many(STANDARD, technion_month, tmp_path_factory.mktemp("technion-reports"))


@pytest.fixture(scope="module")
def gap_reports(sample_gap, tmp_path_factory) -> dict[str, Path | str]:
    return _render_many(STANDARD, sample_gap, tmp_path_factory.mktemp("gap-reports"))


def _check_without_comparison(
    result: Path | str, period: str, missing: str
) -> nbformat.NotebookNode:
    """The report rendered for ``period``, said in its header that ``missing`` has no data,
    and shows no comparison: no cell failed, no comparison column, no comparison tick."""
    assert isinstance(result, Path), f"render failed: {result}"
    assert result.parent.name == period
    html = result.read_text()
    assert f"No data for {missing}: shown without comparison" in html
    assert "Compared with" not in html
    assert "Traceback" not in html
    nb = nbformat.read(result.with_suffix(".ipynb"), as_version=4)
    params = nb.metadata.papermill.parameters
    assert (params["period"], params["compare"]) == (period, "")
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{output.ename}: {output.evalue}"
            data = output.get("data", {})
            if HEADER_MIME in data:
                assert data[HEADER_MIME]["compare"] is None
            table = data.get("text/html", "")
            if 'class="kpi-table"' in table:
                heads = [h.strip() for h in _TH.findall(table.split("</thead>")[0])]
                assert not {"", "change", "change %", "previous"} & set(heads), heads
                assert not [h for h in heads if h.startswith("handled ")], heads
            spec = data.get("application/vnd.vegalite.v6+json")
            if spec is not None:
                assert '"tick"' not in json.dumps(spec), "a chart draws comparison ticks"
    return nb


@pytest.mark.notebook
@pytest.mark.shared
@pytest.mark.parametrize("notebook", STANDARD)
def test_every_report_renders_a_one_month_call_log_without_comparison(technion_reports, notebook):
    """The real Technion call log holds February 1999 only: every standard report renders it
    with its defaults, says the comparison month has no data, and compares with nothing."""
    nb = _check_without_comparison(technion_reports[notebook], "1999-02", "1999-01")
    if notebook == "03-drill-down":
        findings = [
            o for c in nb.cells for o in c.get("outputs", []) if FINDINGS_MIME in o.get("data", {})
        ]
        (items,) = [o["data"][FINDINGS_MIME]["items"] for o in findings]
        assert len(items) == 1
        assert "no comparison period with data" in items[0]


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", STANDARD)
def test_every_report_renders_when_the_comparison_month_has_no_data(
    sample_1999, gap_reports, notebook
):
    found = data_periods(sample_1999)
    _check_without_comparison(gap_reports[notebook], found.period, found.compare)


def test_latest_skips_a_sparse_tail_and_says_so():
    # five months of ten contacts a day, then stragglers: 3 contacts in June, 1 in July, and
    # a last one on 31 August (August is complete, but holds 1 record). Months: 310, 280, 310,
    # 300, 310, 3, 1, 1: median (280 + 300) / 2 = 290, a quarter of it 72.5
    full = _days(date(2026, 1, 1), date(2026, 5, 31))["contacts"]
    busy = pl.concat([full] * 10)
    tail = pl.DataFrame(
        {
            "arrival_ts": [
                datetime(2026, 6, 3, 12, tzinfo=UTC),
                datetime(2026, 6, 9, 12, tzinfo=UTC),
                datetime(2026, 6, 20, 12, tzinfo=UTC),
                datetime(2026, 7, 14, 12, tzinfo=UTC),
                datetime(2026, 8, 31, 12, tzinfo=UTC),
            ]
        }
    )
    found = data_periods({"contacts": pl.concat([busy, tail])})
    assert (found.period, found.compare) == ("2026-05", "2026-04")
    assert found.notes == (
        "latest period: 2026-05; 2026-06 to 2026-08 hold few records (at most 3 a period, "
        "against a median of 290), a sparse tail; give the period to report on it",
    )
    # a quarter of the median is enough: a slow month is still the latest
    slow = pl.concat(
        [busy, pl.concat([_days(date(2026, 6, 1), date(2026, 6, 30))["contacts"]] * 3)]
    )
    assert data_periods({"contacts": slow}).period == "2026-06"
    # an explicit period is taken as given
    assert data_periods({"contacts": pl.concat([busy, tail])}, "2026-08").period == "2026-08"


def test_periods_of_data_without_contacts_come_from_agent_time():
    # a WFM export alone: agent-state seconds per agent and half hour through March
    stamps = _days(date(2026, 1, 1), date(2026, 3, 31))["contacts"]["arrival_ts"]
    at = pl.DataFrame({"interval_start": stamps, "agent_id": "a1", "handle_s": 900.0})
    found = data_periods({"agent_time": at})
    assert (found.period, found.compare) == ("2026-03", "2026-02")
    require_period({"agent_time": at}, "2026-03")  # no error: the period has agent time
    with pytest.raises(KpiError, match="no data in 2026-05"):
        require_period({"agent_time": at}, "2026-05")


def test_agent_scorecards_without_agents_say_so():
    from kpi.scorecard import agent_scorecard

    iv = pl.DataFrame(
        {
            "interval_start": [datetime(2026, 3, 2, 9, tzinfo=UTC)],
            "interval_s": [1800.0],
            "queue": ["Q"],
            "offered": [10],
            "answered": [9],
        }
    )
    with pytest.raises(KpiError, match=r"agent scorecards need agent_id .* \(tables: intervals\)"):
        agent_scorecard({"intervals": iv}, period="2026-03", metrics=["aht"])
