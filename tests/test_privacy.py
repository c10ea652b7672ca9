"""Customer identifiers never reach a report page or its stored notebook unless asked for.

Two layers, each tested with real renders: report parameters that would group, cut or break
a report down by an identifier column are refused before anything runs (``kpi.report._params``),
and the renderer masks identifier columns and their values in every chart's data, sort lists
and tooltips, and in every text output (``kpi.report._html.mask_notebook``), whatever a
notebook displays. The views refuse identifier columns as a grouping too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import polars as pl
import pytest

from kpi import report, views
from kpi.errors import KpiError
from kpi.report._html import mask_chart, mask_notebook, prepare

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
CUSTOMER_ID = re.compile(r"\bK\d{6}\b")  # the sample's customer ids: K008392, ...


def sample_customer_ids() -> set[str]:
    ids: set[str] = set()
    for table in ("contacts", "tickets", "customers"):
        frame = pl.read_parquet(SAMPLES / f"{table}.parquet", columns=["customer_id"])
        ids |= set(frame["customer_id"].drop_nulls().cast(pl.String).to_list())
    return ids


def ids_in(text: str, known: set[str]) -> set[str]:
    return set(CUSTOMER_ID.findall(text)) & known


def kpi_report(*args: str, out: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kpi", "report", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_refused(run: subprocess.CompletedProcess, *needles: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("kpi report: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert run.stdout == ""


# --------------------------------------------------------------------------------------------
# Layer 1: identifier columns are refused as dimensions, breakdowns and segments
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [
        ("trends", "dimension", "customer_id"),  # issue 15: 51,620 ids in the page
        ("tickets", "dimension", "customer_id"),  # issue 15: 15 ids
        ("drill-down", "breakdown", "customer_id"),
        ("drill-down", "dims", '["team", "customer_id"]'),
        ("drill-down", "segment", '{"customer_id": "K008392"}'),
    ],
)
@pytest.mark.parametrize("show", [False, True])
def test_identifier_columns_are_never_a_dimension(tmp_path, samples_dir, name, param, value, show):
    out = tmp_path / "reports"
    flags = ["--show-identifiers"] if show else []
    run = kpi_report(
        name,
        "--data",
        str(samples_dir),
        "--period",
        "2026-02",
        "-p",
        param,
        value,
        *flags,
        out=out,
    )
    assert_refused(run, f"bad value for {param}: 'customer_id' holds customer identifiers")
    assert not out.exists()  # nothing ran, nothing was written


def test_views_refuse_identifier_columns_as_groupings(samples_dir):
    ds = __import__("kpi").load(samples_dir)
    with pytest.raises(KpiError, match="customer_id holds customer identifiers"):
        views.trend_frame(ds, "contacts_handled", by="customer_id", start="2026-02-01")
    with pytest.raises(KpiError, match="customer_id holds customer identifiers"):
        views.ticket_summary(ds, period="2026-02", by="customer_id")
    with pytest.raises(KpiError, match="customer_id holds customer identifiers"):
        views.segment_breakdown(
            ds,
            "contacts_handled",
            {"team": "North"},
            baseline="2026-01",
            current="2026-02",
            by="customer_id",
        )
    with pytest.raises(KpiError, match="customer_id holds customer identifiers"):
        views.segment_rows(ds, "contacts_handled", {"customer_id": "K008392"}, period="2026-02")


# --------------------------------------------------------------------------------------------
# Real renders of the standard reports: no customer id in the page or the stored notebook
# --------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_reports_cut_by_every_dimension_hold_no_customer_id(tmp_path, samples_dir):
    known = sample_customer_ids()
    assert len(known) > 50_000
    out = tmp_path / "reports"
    common = ["--data", str(samples_dir), "--period", "2026-02", "--jobs", "1"]
    runs = [
        kpi_report("trends", *common, "-p", "dimension", "channel", out=out),
        kpi_report("tickets", *common, "-p", "dimension", "topic", out=out),
        kpi_report(
            "drill-down",
            *common,
            "-p",
            "segment",
            '{"team": "North"}',
            "-p",
            "show_rows",
            "true",
            out=out,
        ),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    pages = sorted(out.glob("*/2026-02/*-2026-02.html"))
    assert [p.parent.parent.name for p in pages] == ["drill-down", "tickets", "trends"]
    for page in pages:
        for path in (page, page.with_suffix(".ipynb")):
            found = ids_in(path.read_text(encoding="utf-8"), known)
            assert found == set(), (
                f"{path.name}: {len(found)} customer ids, e.g. {sorted(found)[:3]}"
            )
    drill = pages[0].read_text(encoding="utf-8")
    assert "customer_id" in drill  # the records are there, with their ids masked
    assert re.search(r"\*\*\*\d{3}", drill)


# --------------------------------------------------------------------------------------------
# Layer 2: the renderer masks whatever a notebook displays
# --------------------------------------------------------------------------------------------

LEAKY = """\
import polars as pl
from IPython.display import display

import kpi.charts

frame = pl.DataFrame({"customer_id": ["K0012345", "K0099999"], "contacts": [3.0, 5.0]})
display(kpi.charts.bar_chart(frame, category="customer_id", value="contacts", title="by customer"))
print("K0012345 called from jo@example.com")
"""


def leaky_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("show_identifiers: bool = False  # show identifiers")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Leaky\n> A chart by customer."), params]
    nb.cells.append(nbformat.v4.new_code_cell(LEAKY))
    nbformat.write(nb, path)
    return path


def test_mask_chart_masks_identifier_data_sort_lists_and_tooltips():
    spec = {
        "datasets": {"d1": [{"customer_id": "K0012345", "n": 1}, {"customer_id": None, "n": 2}]},
        "data": {"name": "d1"},
        "encoding": {
            "x": {"field": "customer_id", "sort": ["K0012345"]},
            "tooltip": [{"field": "customer_id"}],
        },
        "title": "K0012345 and jo@example.com",
        "layer": [{"data": {"values": [{"email": "jo@example.com", "caller_phone": "0123"}]}}],
    }
    masked = mask_chart(spec)
    text = repr(masked)
    assert "K0012345" not in text
    assert "jo@example.com" not in text
    assert masked["datasets"]["d1"] == [
        {"customer_id": "***345", "n": 1},
        {"customer_id": None, "n": 2},
    ]
    assert masked["encoding"]["x"]["sort"] == ["***345"]
    assert masked["title"] == "***345 and ***@***"
    assert masked["layer"][0]["data"]["values"] == [
        {"email": "***@***", "caller_phone": "***phone***"}
    ]
    assert spec["datasets"]["d1"][0]["customer_id"] == "K0012345"  # the input is left alone


def test_mask_notebook_masks_every_output_kind():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="mail jo@example.com\n"),
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.vegalite.v5+json": {
                    "data": {"values": [{"customer_id": "K0012345"}]}
                },
                "text/plain": "call +44 20 7946 0958",
            },
        ),
        nbformat.v4.new_output(
            "error", ename="KpiError", evalue="jo@example.com", traceback=["jo@example.com"]
        ),
    ]
    nb.cells = [cell]
    masked = nbformat.writes(mask_notebook(nb))
    assert "K0012345" not in masked
    assert "jo@example.com" not in masked
    assert "7946" not in masked
    assert "K0012345" in nbformat.writes(nb)  # a copy: the executed notebook is unchanged
    shown, _ = prepare(nb, show_identifiers=True)
    assert "K0012345" in nbformat.writes(shown)


@pytest.mark.notebook
def test_the_renderer_masks_identifiers_in_chart_data_whatever_the_notebook_shows(tmp_path):
    nb_path = leaky_notebook(tmp_path / "leaky.ipynb")
    out = tmp_path / "reports"
    html_path = report.render(nb_path, out_dir=out)
    page = html_path.read_text(encoding="utf-8")
    assert "K0012345" not in page
    assert "K0099999" not in page
    assert "jo@example.com" not in page
    assert "***345" in page  # the bars are still there, told apart
    assert "***999" in page


@pytest.mark.notebook
def test_the_stored_notebook_is_masked_like_the_page(tmp_path):
    nb_path = leaky_notebook(tmp_path / "leaky.ipynb")
    html_path = report.render(nb_path, out_dir=tmp_path / "reports")
    stored = nbformat.read(html_path.with_suffix(".ipynb"), as_version=4)
    # the cells' code is the notebook author's (this test's cell happens to quote an id); what
    # the data put there is in the outputs
    outputs = json.dumps([c.get("outputs", []) for c in stored.cells])
    assert "K0012345" not in outputs
    assert "jo@example.com" not in outputs
    assert "***345" in outputs  # masked, not dropped


@pytest.mark.notebook
def test_a_kept_failed_notebook_is_masked_too(tmp_path):
    """A traceback quoting a customer id is masked in ``<name>.failed.ipynb``."""
    nb_path = leaky_notebook(tmp_path / "leaky.ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('raise ValueError("no customer K0012345")'))
    nbformat.write(nb, nb_path)
    with pytest.raises(report.ReportError):
        report.render(nb_path, out_dir=tmp_path / "reports")
    (failed,) = (tmp_path / "reports").rglob("*.failed.ipynb")
    kept = nbformat.read(failed, as_version=4)
    outputs = json.dumps([c.get("outputs", []) for c in kept.cells])
    assert "ValueError" in outputs
    assert "K0012345" not in outputs
