"""kpi.report: parameters, the HTML export, masking, publishing, and real renders of notebooks.

The renders are expensive (a kernel start each), so the ones many tests look at run once per
session, two at a time, through the real command line (``rendered``); the failure, kill and
concurrency tests run their own.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import nbformat
import pytest

from kpi import report
from kpi._fs import atomic_write_text
from kpi.errors import KpiError
from kpi.report._files import new_work_dir, remove_stale_work_dirs
from kpi.report._html import CHART_MIME, export, index_page, prepare, toc_html
from kpi.report._params import NotebookParam, coerce_params, inspect_params

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "notebooks"
SAMPLES = ROOT / "data" / "samples"
HOSTILE = "<img src=x onerror=alert(1)>"
TODAY = date.today().isoformat()


# --------------------------------------------------------------------------------------------
# Rendering through the command line, once per session
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One ``kpi report`` run: exit code, output, and where its report went."""

    name: str
    returncode: int
    stdout: str
    stderr: str
    out: Path

    def htmls(self) -> list[Path]:
        paths = [Path(line) for line in self.stdout.splitlines() if line.endswith(".html")]
        return [p if p.is_absolute() else ROOT / p for p in paths]

    def html(self, report_name: str | None = None) -> Path:
        paths = [p for p in self.htmls() if report_name in (None, p.parent.parent.name)]
        assert len(paths) == 1, (self.stdout, self.stderr)
        return paths[0]

    def text(self, report_name: str | None = None) -> str:
        return self.html(report_name).read_text(encoding="utf-8")

    def notebook(self, report_name: str | None = None) -> nbformat.NotebookNode:
        return nbformat.read(self.html(report_name).with_suffix(".ipynb"), as_version=4)


def kpi_report(*args: str, out: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``python -m kpi report ARGS --out OUT`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "kpi", "report", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "KPI_TODAY": TODAY},  # a run past midnight keeps its folders
    )


@pytest.fixture(autouse=True)
def _today_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Renders in this process and its children take ``TODAY`` for today (``KPI_TODAY``)."""
    monkeypatch.setenv("KPI_TODAY", TODAY)


def _jobs() -> dict[str, list[str]]:
    nb = "tests/notebooks"
    jobs = {
        "basic_custom": [
            f"{nb}/basic.ipynb",
            "--period",
            "2026-03",
            "-p",
            "n",
            "2",
            "-p",
            "flag",
            "yes",
            "-p",
            "label",
            "x <y>",
            "-p",
            "teams",
            "C,D",
            "-p",
            "ratio",
            "0.25",
            "-p",
            "start_date",
            "2026-03-05",
            "--show-identifiers",
        ],
        "basic_static": [f"{nb}/basic.ipynb", "--static-charts"],
        # fixtures rendered with their defaults, in one command, two at a time
        "fixtures": [
            f"{nb}/xss.ipynb",
            f"{nb}/identifiers.ipynb",
            f"{nb}/no_parameters.ipynb",
            f"{nb}/raw_html.ipynb",
            "--jobs",
            "2",
        ],
    }
    if (SAMPLES / "contacts.parquet").exists():
        jobs["all"] = ["--all"]  # every standard report, with its defaults
        jobs["overview_custom"] = [
            "00-overview",
            "--data",
            str(SAMPLES),
            "--period",
            "2026-03",
            "-p",
            "trend_kpis",
            "service_level,aht",
            "-p",
            "kpis",
            '["contacts_handled", "service_level", "aht", "abandon_rate"]',
        ]
    return jobs


def render_session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every session render, two at a time; cached on disk so other test modules reuse it."""
    base = tmp_path_factory.getbasetemp() / "kpi-report-renders"
    base.mkdir(exist_ok=True)
    jobs = _jobs()

    def run(name: str) -> Run:
        out = base / name
        cached = out / "run.json"
        if cached.exists():
            info = json.loads(cached.read_text())
            return Run(name, info["returncode"], info["stdout"], info["stderr"], out)
        proc = kpi_report(*jobs[name], out=out)
        info = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
        out.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(info))
        return Run(name, proc.returncode, proc.stdout, proc.stderr, out)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(jobs, pool.map(run, jobs), strict=True))
    return runs


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The session renders (see :func:`render_session`)."""
    return render_session(tmp_path_factory)


def ok(run: Run) -> Run:
    assert run.returncode == 0, f"{run.name} failed:\n{run.stderr}"
    return run


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

P = {
    "period": NotebookParam("period", "str", "2026-02", '"2026-02"', shape="period"),
    "start_date": NotebookParam("start_date", "str", "2026-02-01", '"2026-02-01"', shape="date"),
    "n": NotebookParam("n", "int", 3, "3", "rows"),
    "ratio": NotebookParam("ratio", "float", 0.5, "0.5"),
    "flag": NotebookParam("flag", "bool", False, "False"),
    "teams": NotebookParam("teams", "list", ["A"], '["A"]'),
    "label": NotebookParam("label", "str", "x", '"x"'),
    "options": NotebookParam("options", "dict", {}, "{}"),
    "team": NotebookParam("team", "str", None, "None", nullable=True),
}


def test_cli_strings_are_coerced_to_the_declared_types():
    got = coerce_params(
        "nb",
        P,
        {
            "n": "5",
            "ratio": "1",
            "flag": "Yes",
            "teams": "North, South",
            "label": "2026-13",  # plain text: no date check
            "options": '{"a": 1}',
            "team": "none",
        },
        today=date(2026, 3, 9),
    )
    assert got == {
        "n": 5,
        "ratio": 1.0,
        "flag": True,
        "teams": ["North", "South"],
        "label": "2026-13",
        "options": {"a": 1},
        "team": None,
    }


def test_python_values_are_checked_not_reinterpreted():
    got = coerce_params(
        "nb",
        P,
        {"n": 4.0, "ratio": 2, "flag": False, "teams": ("a",), "start_date": date(2026, 2, 3)},
        today=date(2026, 3, 9),
    )
    assert got == {"n": 4, "ratio": 2.0, "flag": False, "teams": ["a"], "start_date": "2026-02-03"}
    with pytest.raises(KpiError, match="bad value for n: expected a whole number, got True"):
        coerce_params("nb", P, {"n": True}, today=date(2026, 3, 9))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-02", "2026-02"),
        ("2026-W06", "2026-W06"),
        ("2026-Q1", "2026-Q1"),
        ("2026-02-03", "2026-02-03"),
        ("previous-month", "2026-02"),
        ("previous-week", "2026-W10"),
        ("yesterday", "2026-03-08"),
        ("today", "2026-03-09"),
    ],
)
def test_periods_and_relative_words_become_labels(given, expected):
    # 2026-03-09 is the Monday of ISO week 11
    got = coerce_params("nb", P, {"period": given}, today=date(2026, 3, 9))
    assert got == {"period": expected}


def test_latest_and_an_empty_comparison_wait_for_the_data():
    # resolved on the data before the notebook runs (tests/test_defaults.py)
    today = date(2026, 3, 9)
    for word in ("latest", "latest-week", "latest-day", "latest-month", "latest-quarter"):
        assert coerce_params("nb", P, {"period": word}, today=today) == {"period": word}
    spec = {**P, "compare": NotebookParam("compare", "str", "", '""', shape="period")}
    assert coerce_params("nb", spec, {"compare": ""}, today=today) == {"compare": ""}
    with pytest.raises(KpiError, match=r"bad value for period: .*, latest, latest-day"):
        coerce_params("nb", P, {"period": "newest"}, today=today)
    with pytest.raises(KpiError, match="bad value for period: "):
        coerce_params("nb", P, {"period": ""}, today=today)


def test_date_parameters_accept_iso_dates_and_relative_days():
    today = date(2026, 3, 1)
    assert coerce_params("nb", P, {"start_date": "yesterday"}, today=today) == {
        "start_date": "2026-02-28"
    }
    with pytest.raises(KpiError, match=r"expected an ISO date such as 2026-02-03"):
        coerce_params("nb", P, {"start_date": "2026-02-30"}, today=today)


def test_every_problem_is_reported_at_once_with_the_valid_parameters():
    with pytest.raises(KpiError) as info:
        coerce_params(
            "00-overview.ipynb",
            P,
            {"perod": "2026-02", "n": "three", "flag": "maybe", "period": "2026-13"},
            today=date(2026, 3, 9),
        )
    message = str(info.value)
    assert message.startswith("00-overview.ipynb: unknown parameter 'perod'; ")
    assert "bad value for n: expected a whole number, got 'three'" in message
    assert "bad value for flag: expected true or false, got 'maybe'" in message
    assert "bad value for period: use 2026-02-03, 2026-02, 2026-W06" in message
    assert 'Valid parameters: period (period, default "2026-02"); ' in message
    assert "n (int, default 3): rows;" in message
    assert "\n" not in message


def test_inspect_reads_the_parameters_cell():
    spec = inspect_params(FIXTURES / "basic.ipynb")
    assert list(spec) == [
        "period",
        "compare",
        "n",
        "ratio",
        "flag",
        "label",
        "start_date",
        "teams",
        "show_identifiers",
    ]
    assert (spec["period"].kind, spec["period"].shape) == ("str", "period")
    assert (spec["start_date"].kind, spec["start_date"].shape) == ("str", "date")
    assert (spec["n"].kind, spec["n"].default, spec["n"].help) == (
        "int",
        3,
        "rows of the example table",
    )
    assert spec["teams"].kind == "list"
    assert inspect_params(FIXTURES / "no_parameters.ipynb") == {}


def test_defaults_papermill_cannot_parse_are_still_parameters():
    # papermill's line reader skips `topic: str = "<img src=x onerror=alert(1)>"` (an "=" in
    # the value); Python's parser reads it, so `-p topic ...` is not refused as unknown
    spec = inspect_params(FIXTURES / "xss.ipynb")
    assert list(spec) == ["topic"]
    assert (spec["topic"].default, spec["topic"].help) == (HOSTILE, "hostile text from the data")


def test_bad_parameters_fail_before_anything_runs(tmp_path):
    out = tmp_path / "reports"
    with pytest.raises(KpiError, match=r"unknown parameter 'nn'.*Valid parameters: period"):
        report.render(FIXTURES / "basic.ipynb", params={"nn": 1}, out_dir=out)
    with pytest.raises(KpiError, match=r"bad value for period"):
        report.render(FIXTURES / "basic.ipynb", period="February", out_dir=out)
    with pytest.raises(KpiError, match=r"valid parameters: none \(the notebook has no cell"):
        report.render(FIXTURES / "no_parameters.ipynb", data=tmp_path, out_dir=out)
    with pytest.raises(KpiError, match=r"Valid parameters: none"):
        report.render(FIXTURES / "no_parameters.ipynb", period="2026-02", out_dir=out)
    with pytest.raises(KpiError, match=r"data directory .*nowhere does not exist"):
        report.render(FIXTURES / "basic.ipynb", data=tmp_path / "nowhere", out_dir=out)
    with pytest.raises(KpiError, match=r"bad charts mode 'png'; valid: interactive, svg"):
        report.render(FIXTURES / "basic.ipynb", charts="png", out_dir=out)
    assert not out.exists()  # nothing was written


def test_a_parameter_no_report_declares_is_an_error_for_several(tmp_path):
    names = [FIXTURES / "basic.ipynb", FIXTURES / "slow.ipynb"]
    with pytest.raises(KpiError, match=r"no report has the parameter\(s\) nn; parameters of"):
        report.render_many(names, params={"nn": "1"}, out_dir=tmp_path)
    assert not (tmp_path / "basic").exists()


def test_reports_are_found_by_name_number_or_path(tmp_path):
    for name in ("00-overview.ipynb", "01-trends.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in report.list_reports(tmp_path)] == [
        "00-overview.ipynb",
        "01-trends.ipynb",
    ]
    for name in ("overview", "00-overview", "00"):
        assert report.resolve_notebook(name, notebooks_dir=tmp_path).name == "00-overview.ipynb"
    assert (
        report.resolve_notebook(tmp_path / "notes.ipynb") == (tmp_path / "notes.ipynb").resolve()
    )
    with pytest.raises(KpiError, match=r"unknown report 'trend'; valid reports: overview, trends"):
        report.resolve_notebook("trend", notebooks_dir=tmp_path)
    with pytest.raises(KpiError, match=r"notebook .*missing.ipynb does not exist"):
        report.resolve_notebook(tmp_path / "missing.ipynb")


def test_the_standard_reports_are_the_numbered_notebooks():
    names = [p.name for p in report.list_reports()]
    assert names[0] == "00-overview.ipynb"
    assert names == sorted(names)


# --------------------------------------------------------------------------------------------
# prepare / export on hand-built notebooks (no kernel)
# --------------------------------------------------------------------------------------------


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = list(cells)
    return nb


def _code(*outputs: dict, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _spec(title: str = "SL") -> dict:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": title,
        "data": {"values": [{"topic": "</script><script>alert(1)</script>", "n": 1}]},
        "mark": "bar",
        "encoding": {"x": {"field": "topic", "type": "nominal"}},
    }


CONTEXT = {
    "report": "demo",
    "generated_text": "2026-03-01 06:00 UTC",
    "parameters": {"period": "2026-02", "compare": "2026-01"},
    "notebook": "notebooks/99-demo.ipynb",
    "version": "0",
}


def test_prepare_lifts_the_header_findings_and_title():
    header = report.header("Demo", period="2026-02", kpis=[{"id": "x", "formula": "a / b"}])
    nb = _notebook(
        nbformat.v4.new_markdown_cell("# Demo report\n> Which question it answers\n\n## Part"),
        _code(_display(header._repr_mimebundle_())),
        _code(_display(report.findings(["one", "two"])._repr_mimebundle_())),
        _code(),  # no output: dropped
    )
    prepared, lifted = prepare(nb)
    assert lifted.title == "Demo report"
    assert lifted.subtitle == "Which question it answers"
    assert lifted.header["title"] == "Demo"
    assert lifted.header["kpis"] == [{"id": "x", "formula": "a / b"}]
    assert lifted.findings == [{"title": "Findings", "items": ["one", "two"]}]
    assert [c.cell_type for c in prepared.cells] == ["markdown"]
    assert prepared.cells[0].source.strip() == "## Part"


def test_prepare_turns_specs_into_chart_divs_and_drops_scripts_and_stderr():
    nb = _notebook(
        _code(
            _display({"application/vnd.vegalite.v6+json": _spec(), "text/plain": "<chart>"}),
            {"output_type": "stream", "name": "stderr", "text": "a warning\n"},
            {"output_type": "stream", "name": "stdout", "text": "kept\n"},
            _display({"application/javascript": "alert(1)"}),
            _display({"text/html": "<b>x</b><script>alert(1)</script>", "text/plain": "x"}),
            _display({"application/vnd.jupyter.widget-view+json": {"model_id": "1"}}),
        ),
        _code(_display({"text/plain": "hidden"}), tags=("remove-output",)),
        _code(_display({"text/plain": "gone"}), tags=("remove-cell",)),
    )
    prepared, lifted = prepare(nb)
    outputs = prepared.cells[0].outputs
    assert lifted.charts == 1
    assert list(outputs[0].data) == [CHART_MIME]
    chart = outputs[0].data[CHART_MIME]
    assert chart.startswith('<div class="kpi-chart" id="kpi-chart-1" role="img" aria-label="SL">')
    assert "</script><script>alert(1)" not in chart
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in chart
    assert outputs[1].text == "kept\n"
    assert dict(outputs[2].data) == {"text/plain": "x"}  # the html with a script is dropped
    assert len(outputs) == 3
    assert len(prepared.cells) == 1


def test_prepare_refuses_charts_that_load_from_a_cdn():
    html = '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script><script>vegaEmbed("#x", {})</script>'
    nb = _notebook(_code(_display({"text/html": html, "text/plain": "alt.Chart(...)"})))
    with pytest.raises(
        ValueError, match=r"loads its JavaScript from a CDN; build charts with kpi\.charts"
    ):
        prepare(nb)


def test_prepare_masks_contact_details_unless_asked():
    text = "call +44 20 7946 0958 or jane.doe@example.com"
    nb = _notebook(
        _code(
            {"output_type": "stream", "name": "stdout", "text": text},
            _display({"text/html": f"<td>{text}</td>", "text/plain": text}),
            _display({"application/vnd.vegalite.v6+json": {**_spec(), "title": text}}),
            _display(report.findings([text])._repr_mimebundle_()),
        )
    )
    masked, lifted = prepare(nb)
    dumped = json.dumps(masked) + json.dumps(lifted.findings)
    assert "7946" not in dumped
    assert "jane.doe" not in dumped
    assert "***phone***" in dumped
    shown, lifted = prepare(nb, show_identifiers=True)
    assert "jane.doe@example.com" in json.dumps(shown) + json.dumps(lifted.findings)


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script(?![^>]*application/json)[^>]*>(.*?)</script>", html, flags=re.S)


def test_export_embeds_vega_once_behind_a_content_security_policy():
    nb = _notebook(
        nbformat.v4.new_markdown_cell("## First\n\n### Sub"),
        _code(_display({"application/vnd.vegalite.v6+json": _spec("A")})),
        nbformat.v4.new_markdown_cell("## Second"),
        _code(_display({"application/vnd.vegalite.v6+json": _spec("B")})),
    )
    prepared, lifted = prepare(nb)
    html = export(prepared, lifted, CONTEXT)
    scripts = _scripts(html)
    assert len(scripts) == 2  # the bundle and the loader, once for both charts
    assert html.count("window.vegaEmbed=") == 1
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "cdn." not in html.replace(scripts[0], "")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)[1]
    import base64
    import hashlib

    for js in scripts:
        digest = base64.b64encode(hashlib.sha256(js.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp
    assert "connect-src" not in csp  # covered by default-src 'none': nothing is fetched
    assert html.count('class="kpi-chart"') == 2
    toc = re.search(r'<nav class="kpi-toc".*?</nav>', html, flags=re.S)[0]
    assert re.findall(r">([^<>]+)</a>", toc) == ["First", "Sub", "Second"]
    assert "x = 1" not in html  # no code
    assert "In&nbsp;[" not in html  # no prompts


def test_export_without_charts_runs_no_script_at_all():
    nb = _notebook(_code(_display({"text/plain": "hello"})))
    html = export(*prepare(nb), CONTEXT)
    assert _scripts(html) == []
    assert "script-src 'none'" in html


def test_export_static_svg_charts():
    nb = _notebook(_code(_display({"application/vnd.vegalite.v6+json": _spec("Static")})))
    prepared, lifted = prepare(nb, charts="svg")
    html = export(prepared, lifted, CONTEXT, charts="svg")
    assert _scripts(html) == []
    assert re.search(r'<figure[^>]*class="kpi-chart-static"[^>]*>\s*<svg', html)
    assert "alert(1)" not in html or "&lt;/script&gt;" in html


def test_header_text_is_escaped():
    header = report.header(HOSTILE, subtitle=HOSTILE, data=HOSTILE, notes=[HOSTILE])
    nb = _notebook(
        _code(_display(header._repr_mimebundle_())),
        _code(_display(report.findings([HOSTILE])._repr_mimebundle_())),
    )
    html = export(*prepare(nb), {**CONTEXT, "parameters": {"topic": HOSTILE}})
    assert HOSTILE not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 5


def test_toc_skips_headings_without_ids():
    assert toc_html("<h2>No id</h2>") == ""


def test_index_lists_reports_and_failures_escaped(tmp_path):
    out = tmp_path / "reports"
    good = out / "overview" / "2026-02"
    good.mkdir(parents=True)
    (good / "report.json").write_text(
        json.dumps(
            {
                "title": HOSTILE,
                "generated": "2026-03-01T06:00:00+00:00",
                "generated_text": "2026-03-01 06:00 UTC",
                "order": 0,
                "html": "overview-2026-02.html",
                "ipynb": "overview-2026-02.ipynb",
            }
        )
    )
    bad = out / "trends" / "2026-02"
    bad.mkdir(parents=True)
    (bad / "failed.json").write_text(
        json.dumps({"time_text": "today", "error": "boom <b>", "notebook": "x.failed.ipynb"})
    )
    (out / ".work" / "x-1-abc").mkdir(parents=True)
    html = report.rebuild_index(out).read_text()
    assert HOSTILE not in html
    assert 'href="overview/2026-02/overview-2026-02.html"' in html
    assert "last run failed today: boom &lt;b&gt;" in html
    assert 'href="trends/2026-02/x.failed.ipynb"' in html
    assert ".work" not in html
    assert "script-src 'none'" in index_page([], generated_text="now")


# --------------------------------------------------------------------------------------------
# Masking and files
# --------------------------------------------------------------------------------------------


def test_mask_identifiers_by_column_name_and_pattern(frame):
    df = frame(
        {
            "customer_id": ["C0012345", "C9"],
            "caller_phone": ["+44 20 7946 0958", None],
            "email": ["a@b.co", "c@d.org"],
            "agent_name": ["Jane Q. Smith", "Li"],
            "topic": ["mail x@y.com", "billing"],
            "contacts": [3, 4],
        }
    )
    out = report.mask_identifiers(df)
    got = (out.collect() if hasattr(out, "collect") else out).to_dict(as_series=False)
    assert got == {
        "customer_id": ["***345", "***"],
        "caller_phone": ["***phone***", None],
        "email": ["***@***", "***@***"],
        "agent_name": ["J. Q. S.", "L."],
        "topic": ["mail ***@***", "billing"],
        "contacts": [3, 4],
    }
    assert report.mask_identifiers(df, show=True) is df


def test_identifier_columns_are_recognised_by_name():
    names = [
        "contact_id",
        "customer_id",
        "customer_key",
        "team",
        "name",
        "msisdn",
        "e_mail",
        "queue",
    ]
    assert report.identifier_columns(names) == [
        "customer_id",
        "customer_key",
        "name",
        "msisdn",
        "e_mail",
    ]


def test_mask_text_leaves_dates_and_counts_alone():
    assert report.mask_text("2026-02-03 10:00, 1234567 calls") == "2026-02-03 10:00, 1234567 calls"
    assert report.mask_text("(555) 123-4567, 02079460958") == "***phone***, ***phone***"


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    from kpi._fs import atomic_write

    target = atomic_write_text(tmp_path / "a.html", "old")
    with pytest.raises(ZeroDivisionError):
        atomic_write(target, lambda p: (p.write_text("half"), 1 / 0))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.html"]


def test_stale_work_dirs_of_dead_renders_are_removed(tmp_path):
    import socket

    mine = new_work_dir(tmp_path, "overview-2026-02")
    assert json.loads((mine / "owner.json").read_text())["pid"] == os.getpid()

    def work_dir(name: str, owner: dict | None) -> Path:
        d = tmp_path / ".work" / name
        d.mkdir()
        if owner is not None:
            (d / "owner.json").write_text(json.dumps(owner))
        return d

    host = socket.gethostname()
    alive = work_dir("a", {"host": host, "pid": os.getppid()})
    dead = work_dir("b", {"host": host, "pid": 999_999_999})
    elsewhere = work_dir("c", {"host": f"not-{host}", "pid": 999_999_999})
    unknown = work_dir("d", None)
    assert remove_stale_work_dirs(tmp_path) == [dead]
    assert mine.exists()
    assert alive.exists()
    assert elsewhere.exists()  # another machine's render: only removed once a day old
    assert unknown.exists()
    old = time.time() - 2 * 86400
    os.utime(elsewhere, (old, old))
    assert remove_stale_work_dirs(tmp_path) == [elsewhere]


def test_a_work_dir_killed_before_its_owner_was_written_is_stale(tmp_path):
    # killed between making the directory and writing owner.json: its name says whose it was
    from kpi.report._files import _host_tag

    root = tmp_path / ".work"
    root.mkdir()
    dead = root / f"overview-2026-02-999999999-h{_host_tag()}-abc123_x"
    other = root / "overview-2026-02-999999999-h00000000-abc123_y"  # another machine's
    alive = root / f"overview-2026-02-{os.getppid()}-h{_host_tag()}-abc123_z"
    for d in (dead, other, alive):
        d.mkdir()
    assert remove_stale_work_dirs(tmp_path) == [dead]
    assert other.exists()
    assert alive.exists()
    mine = new_work_dir(tmp_path, "overview-2026-02")
    assert mine.name.startswith(f"overview-2026-02-{os.getpid()}-h{_host_tag()}-")


def test_a_work_dir_whose_owner_cannot_be_written_is_not_left(tmp_path, monkeypatch):
    # a full disk between making the directory and writing its owner: without the owner, the
    # directory would be taken for another host's and kept for a day
    real = Path.write_text

    def full(self, *a, **k):
        if self.name == "owner.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left"):
        new_work_dir(tmp_path, "overview-2026-02")
    assert not list((tmp_path / ".work").iterdir())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_the_work_dir_of_a_render_that_ended_but_was_not_yet_reaped_is_stale(tmp_path):
    # a killed render's worker is an orphan: until init reads its status it is a zombie,
    # which a signal 0 still finds; it can write nothing more, so its directory is stale
    import socket

    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stat = Path(f"/proc/{child.pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.01)
        else:
            pytest.fail("the child did not end")
        os.kill(child.pid, 0)  # a zombie: still found
        d = tmp_path / ".work" / "zombie"
        d.mkdir(parents=True)
        (d / "owner.json").write_text(json.dumps({"host": socket.gethostname(), "pid": child.pid}))
        assert remove_stale_work_dirs(tmp_path) == [d]
    finally:
        child.wait()


def test_scorecard_findings_of_an_empty_card():
    import polars as pl

    empty = pl.DataFrame(
        schema={
            "label": pl.String,
            "unit": pl.String,
            "value": pl.Float64,
            "previous": pl.Float64,
            "change": pl.Float64,
            "change_rel": pl.Float64,
            "status": pl.String,
        }
    )
    assert report.scorecard_findings(empty) == []


# --------------------------------------------------------------------------------------------
# Real renders
# --------------------------------------------------------------------------------------------


def _no_network_references(html: str) -> None:
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "cdn.jsdelivr" not in html
    assert "cdnjs" not in html
    assert "unpkg" not in html


@pytest.mark.notebook
def test_render_with_non_default_parameters(rendered):
    run = ok(rendered["basic_custom"])
    html_path = run.html()
    assert html_path == run.out / "basic" / "2026-03" / "basic-2026-03.html"
    assert "kpi report: [1/1] basic done in" in run.stderr
    nb = run.notebook()
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    expected = {
        "period": "2026-03",
        "compare": "2026-02",  # the period before, by default
        "n": 2,
        "flag": True,
        "label": "x <y>",
        "teams": ["C", "D"],
        "ratio": 0.25,
        "start_date": "2026-03-05",
        "show_identifiers": True,
    }
    assert nb.metadata.papermill.parameters == expected
    html = run.text()
    assert (
        "PARAMS period=2026-03 compare=2026-02 n=2 ratio=0.25 flag=True label=x &lt;y&gt; "
        "start_date=2026-03-05 teams=['C', 'D']" in html
    )
    assert "CWD notebooks" in html  # the kernel runs in the notebook's directory
    assert "<dt>Customer identifiers</dt><dd>shown</dd>" in html  # --show-identifiers
    # header, findings first, contents
    assert "<h1>Basic fixture report</h1>" in html
    assert "2026-03 (2026-03-01 to 2026-03-31)" in html
    assert "2026-02 (2026-02-01 to 2026-02-28)" in html
    assert (
        html.index('class="kpi-findings"') < html.index('class="kpi-toc"') < html.index("kpi-body")
    )
    assert "<li>The label is x &lt;y&gt;.</li>" in html
    assert "KPI definitions and targets (2)" in html
    assert "SL = answered ≤ each queue's objective (voice, callback 20 s" in html
    assert "≥ 80.0%" in html  # the target as findings and tables print it
    # no code, no prompts, charts embedded offline
    assert "kpi.report.header(" not in html
    assert "In&nbsp;[" not in html
    assert html.count('class="kpi-chart"') == 2
    assert html.count("window.vegaEmbed=") == 1
    _no_network_references(html)
    manifest = json.loads((html_path.parent / "report.json").read_text())
    assert manifest["parameters"] == expected
    assert manifest["title"] == "Basic fixture report"
    index = (run.out / "index.html").read_text()
    assert 'href="basic/2026-03/basic-2026-03.html"' in index
    assert not list(run.out.rglob("*.tmp"))
    assert not any((run.out / ".work").iterdir())


@pytest.mark.notebook
def test_render_with_defaults_and_static_charts(rendered):
    run = ok(rendered["basic_static"])
    assert run.html().parent.name == "2026-02"
    html = run.text()
    assert _scripts(html) == []
    assert html.count('class="kpi-chart-static"') == 2
    assert "script-src 'none'" in html
    _no_network_references(html)
    assert run.notebook().metadata.papermill.parameters == {"show_identifiers": False}


@pytest.mark.notebook
def test_text_from_data_is_escaped_everywhere(rendered):
    html = ok(rendered["fixtures"]).text("xss")
    assert "<img src=x" not in html
    assert "<script>alert(2)" not in html
    # shown as text in the title, subtitle, data source, notes, KPI table, findings, tables
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 8
    spec = re.search(r'<script[^>]*id="kpi-chart-1-spec"[^>]*>(.*?)</script>', html, flags=re.S)[1]
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in spec
    _no_network_references(html)


@pytest.mark.notebook
def test_identifiers_are_masked_by_default(rendered):
    html = ok(rendered["fixtures"]).text("identifiers")
    for raw in ("CUST-0012345", "jane.doe@example.com", "7946 0958", "555-123-4567"):
        assert raw not in html
    assert "***345" in html
    assert "<dt>Customer identifiers</dt><dd>masked</dd>" in html


@pytest.mark.notebook
def test_notebook_without_parameters_renders_into_todays_folder(rendered):
    run = ok(rendered["fixtures"])
    assert run.html("no_parameters").parent.name == TODAY
    assert "hello from a notebook without parameters" in run.text("no_parameters")
    assert run.notebook("no_parameters").metadata.papermill.parameters == {}


@pytest.mark.notebook
def test_raw_html_outputs_cannot_run_scripts(rendered):
    html = ok(rendered["fixtures"]).text("raw_html")
    assert "alert(3)" not in html  # <script> in an HTML output: dropped
    assert "alert(4)" not in html  # a JavaScript output: dropped
    # an inline handler the analyst built from data stays in the markup, but the policy
    # allows no inline handler (checked in a browser by test_report_browser.py)
    assert "script-src 'none'" in html


def _publish_fake_report(out: Path, report_name: str, period: str) -> dict[Path, bytes]:
    """A previously published report (its files only), to check that nothing touches it."""
    folder = out / report_name / period
    folder.mkdir(parents=True)
    stem = f"{report_name}-{period}"
    (folder / f"{stem}.html").write_text("<html>the previous good report</html>")
    (folder / f"{stem}.ipynb").write_text("{}")
    (folder / "report.json").write_text(
        json.dumps({"title": "previous", "html": f"{stem}.html", "ipynb": f"{stem}.ipynb"})
    )
    report.rebuild_index(out)
    return {p: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.notebook
def test_a_failed_render_names_the_cell_keeps_the_notebook_and_the_old_report(tmp_path):
    out = tmp_path / "reports"
    before = _publish_fake_report(out, "broken", TODAY)
    # two reports at once: the failure of one does not stop the other
    proc = kpi_report(
        "tests/notebooks/broken.ipynb",
        "tests/notebooks/no_parameters.ipynb",
        "--jobs",
        "2",
        out=out,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    folder = out / "broken" / TODAY
    failed = folder / f"broken-{TODAY}.failed.ipynb"
    assert errors[0] == (
        f"kpi report: error: broken {TODAY} failed in cell 4, line 1 (`result = 1 / divisor`): "
        f"ZeroDivisionError: division by zero; failed notebook kept at {failed}; "
        "the previous report is untouched"
    )
    assert "kpi report: 1 of 2 report(s) failed" in proc.stderr
    assert (out / "no_parameters" / TODAY / f"no_parameters-{TODAY}.html").exists()
    assert {p: p.read_bytes() for p in before} == before
    executed = nbformat.read(failed, as_version=4)
    errors_out = [o for c in executed.cells for o in c.get("outputs", []) if o.get("ename")]
    assert [o["ename"] for o in errors_out] == ["ZeroDivisionError"]
    assert json.loads((folder / "failed.json").read_text())["error"].startswith(
        f"broken {TODAY} failed in cell 4"
    )
    index = (out / "index.html").read_text()
    assert "last run failed" in index
    assert "ZeroDivisionError: division by zero" in index
    assert 'href="no_parameters/' in index
    assert not any((out / ".work").iterdir())


def test_report_errors_keep_their_details_across_processes():
    import pickle

    error = report.ReportError(
        "boom",
        report="broken",
        period="2026-02",
        cell=4,
        ename="ZeroDivisionError",
        evalue="division by zero",
        failed_notebook=Path("x.failed.ipynb"),
    )
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "boom"
    assert (copy.report, copy.cell, copy.ename, copy.failed_notebook) == (
        "broken",
        4,
        "ZeroDivisionError",
        Path("x.failed.ipynb"),
    )
    assert isinstance(copy, KpiError)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"render ended early with exit code {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("the slow cell never started")
        time.sleep(0.1)


@pytest.mark.notebook
def test_killing_a_render_half_way_leaves_the_previous_report(tmp_path):
    out = tmp_path / "reports"
    files = _publish_fake_report(out, "slow", TODAY)
    index = (out / "index.html").read_bytes()
    marker = tmp_path / "started"
    args = ["tests/notebooks/slow.ipynb", "-p", "sleep_s", "60", "-p", "marker", str(marker)]
    command = [sys.executable, "-m", "kpi", "report", *args, "--out", str(out)]

    # SIGKILL of the whole process group (renderer and kernel): nothing can clean up
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    _wait_for(marker, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert {p: p.read_bytes() for p in files} == files
    assert sorted(p.name for p in (out / "slow" / TODAY).iterdir()) == sorted(
        p.name for p in files
    )
    assert (out / "index.html").read_bytes() == index
    leftovers = list((out / ".work").iterdir())
    assert len(leftovers) == 1  # the dead render's private directory, and nothing else
    assert remove_stale_work_dirs(out) == leftovers

    # SIGTERM (what systemd sends): the render unwinds, removes its work files, exits 143
    marker.unlink()
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "kpi report: stopped by signal 15; published reports are untouched" in stderr
    assert {p: p.read_bytes() for p in files} == files
    assert not any((out / ".work").iterdir())


@pytest.mark.notebook
def test_two_renders_of_the_same_report_at_once(tmp_path):
    out = tmp_path / "reports"
    args = ["tests/notebooks/basic.ipynb", "--period", "2026-04"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(lambda _: kpi_report(*args, out=out), range(2)))
    assert [p.returncode for p in procs] == [0, 0], [p.stderr for p in procs]
    folder = out / "basic" / "2026-04"
    assert sorted(p.name for p in folder.iterdir()) == [
        "basic-2026-04.html",
        "basic-2026-04.ipynb",
        "report.json",
    ]
    html = (folder / "basic-2026-04.html").read_text()
    assert html.rstrip().endswith("</html>")
    assert html.count("window.vegaEmbed=") == 1
    nbformat.validate(nbformat.read(folder / "basic-2026-04.ipynb", as_version=4))
    manifest = json.loads((folder / "report.json").read_text())
    assert manifest["parameters"]["period"] == "2026-04"
    assert (out / "index.html").read_text().count('href="basic/2026-04/basic-2026-04.html"') == 1
    assert not any((out / ".work").iterdir())


# --------------------------------------------------------------------------------------------
# The overview on the sample data
# --------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_every_standard_report_renders_on_the_sample_data(samples_dir, rendered):
    run = ok(rendered["all"])
    names = [report.report_name(p) for p in report.list_reports()]
    assert sorted(p.parent.parent.name for p in run.htmls()) == sorted(names)
    for html_path in run.htmls():
        html = html_path.read_text()
        assert "<h1>" in html
        assert "Customer identifiers</dt><dd>masked" in html
        _no_network_references(html)
        assert html.count("window.vegaEmbed=") == (1 if 'class="kpi-chart"' in html else 0)
    index = (run.out / "index.html").read_text()
    positions = [index.index(f'href="{name}/') for name in names]
    assert positions == sorted(positions)  # the index lists them in report order


@pytest.mark.notebook
def test_overview_renders_on_the_sample_data(samples_dir, rendered):
    run = ok(rendered["all"])
    html_path = run.html("overview")
    # the default period is the latest complete month of the data, compared with the one before
    assert html_path == run.out / "overview" / "2026-03" / "overview-2026-03.html"
    html = html_path.read_text()
    assert "<h1>Contact-centre overview</h1>" in html
    assert '<section class="kpi-findings"' in html
    assert "Contacts handled rose" in html  # the sample's story (North rehires), kpi.explain
    assert "KPI definitions and targets (" in html
    assert html.count('class="kpi-chart"') == 4  # two trends, two by-team charts
    nb = nbformat.read(html_path.with_suffix(".ipynb"), as_version=4)
    assert nb.metadata.papermill.parameters == {
        "show_identifiers": False,
        "period": "2026-03",
        "compare": "2026-02",
    }


@pytest.mark.notebook
def test_overview_renders_with_non_default_parameters(samples_dir, rendered):
    run = ok(rendered["overview_custom"])
    assert run.html().parent.name == "2026-03"
    params = run.notebook().metadata.papermill.parameters
    assert params["period"] == "2026-03"
    assert params["compare"] == "2026-02"
    assert params["trend_kpis"] == ["service_level", "aht"]
    assert params["data_dir"] == str(samples_dir.resolve())
    html = run.text()
    assert "Average handle time by month" in html
    assert "KPI definitions and targets (4)" in html


def test_cli_lists_reports_and_rejects_a_missing_name(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "kpi", "report", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("overview  (notebooks/00-overview.ipynb)\n")
    assert 'period (period, default "latest")' in proc.stdout
    proc = kpi_report(out=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "kpi report: error: give a report NAME or --all (see `kpi report --list`)"
    )


def test_import_kpi_report_needs_only_polars():
    code = (
        "import sys, kpi.report; "
        "print(sorted(m for m in ('papermill', 'nbconvert', 'altair', 'vl_convert', 'nbformat') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_overview_notebook_follows_the_notebook_rules():
    import ast

    path = ROOT / "notebooks" / "00-overview.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert "\n> " in first.source  # one-line question the report answers
    params = nb.cells[1]
    assert params.metadata.tags == ["parameters"]
    for node in ast.parse(params.source).body:  # literal, typed defaults only
        assert isinstance(node, ast.AnnAssign)
        ast.literal_eval(node.value)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []  # stripped (nbstripout)
            assert cell.execution_count is None
            tree = ast.parse(cell.source)
            defined = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
            assert defined == [], "no def/class in notebooks: put the code in kpi/"
    assert set(inspect_params(path)) == {
        "data_dir",
        "period",
        "compare",
        "kpis",
        "trend_kpis",
        "explain_kpi",
        "show_identifiers",
    }


@pytest.mark.notebook
def test_kpi_today_pins_the_date_a_render_takes(tmp_path, monkeypatch):
    out = tmp_path / "reports"
    cmd = [sys.executable, "-m", "kpi", "report", "tests/notebooks/no_parameters.ipynb"]
    cmd += ["--out", str(out)]

    def run(today: str) -> subprocess.CompletedProcess:
        monkeypatch.setenv("KPI_TODAY", today)
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)

    proc = run("2026-02-03")
    assert proc.returncode == 0, proc.stderr
    assert (out / "no_parameters" / "2026-02-03" / "no_parameters-2026-02-03.html").exists()
    proc = run("03/02/2026")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "kpi report: error: KPI_TODAY='03/02/2026' is not a date (YYYY-MM-DD)"
    ]
