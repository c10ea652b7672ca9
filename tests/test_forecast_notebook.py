"""notebooks/06-forecast: house structure, stripped and lint clean, and papermill runs (through
kpi.report.render) on a copy of the sample with stored forecasts by queue, and on the real
Technion 1999 arrival series (skipped when ../shared is absent)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from kpi.charts import chart_rows
from kpi.report import FINDINGS_MIME, HEADER_MIME, notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06-forecast.ipynb"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench"))
from _arrivals import ARRIVALS, technion_arrivals  # noqa: E402

PARAMS = (
    "data_dir",
    "every",
    "horizon",
    "metric",
    "by",
    "until",
    "method",
    "level",
    "country",
    "max_charts",
    "interactive",
    "show_identifiers",
)


def _code(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_title_parameters_and_only_calls_into_kpi():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    title, params = nb.cells[0], nb.cells[1]
    lines = title.source.splitlines()
    assert title.cell_type == "markdown"
    assert len(lines) == 2
    assert lines[0] == "# Forecast"
    assert lines[1].startswith("> ")
    assert params.metadata.get("tags") == ["parameters"]
    for node in ast.parse(params.source).body:
        assert isinstance(node, ast.AnnAssign), ast.unparse(node)
        ast.literal_eval(node.value)
    spec = notebook_parameters(NOTEBOOK)
    assert tuple(spec) == PARAMS
    assert spec["data_dir"].default == "../data/samples"
    assert spec["every"].role == "grain"
    assert spec["every"].choices == ("15m", "30m", "1h", "1d")
    assert spec["until"].default == ""
    assert spec["interactive"].default is False
    for p in spec.values():
        assert p.help, p.name
        assert p.kind != "any", p.name
    allowed = {"kpi", "polars", "IPython"}
    calls = []
    for cell in _code(nb)[1:]:
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Lambda)
            if isinstance(node, ast.Import):
                assert {a.name.split(".")[0] for a in node.names} <= allowed
            if isinstance(node, ast.ImportFrom):
                assert node.module.split(".")[0] in allowed
            if isinstance(node, ast.Call):
                calls.append(ast.unparse(node.func))
    assert calls.index("kpi.report.header") < calls.index("kpi.report.findings")
    assert "kpi.charts.forecast_chart" in calls
    assert "kpi.forecast.stored_accuracy" in calls


def test_stripped_and_lint_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in _code(nb):
        assert cell.outputs == []
        assert cell.execution_count is None
    extra = "metadata.papermill cell.metadata.papermill"
    strip = subprocess.run(
        [BIN / "nbstripout", "--verify", "--extra-keys", extra, str(NOTEBOOK)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert strip.returncode == 0, strip.stdout + strip.stderr
    for args in (["check"], ["format", "--check"]):
        lint = subprocess.run(
            [BIN / "ruff", *args, str(NOTEBOOK)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout


# ---- papermill runs -------------------------------------------------------------------------

_RENDER = """
import json, sys
from kpi.report import render
job = json.loads(sys.argv[1])
print(render(job.pop("notebook"), progress=False, **job))
"""


def _render(out: Path, params: dict[str, Any]) -> nbformat.NotebookNode:
    """Render in a fresh interpreter (papermill leaves event loops behind); the executed
    notebook."""
    return nbformat.read(_render_page(out, params).with_suffix(".ipynb"), as_version=4)


def _render_page(out: Path, params: dict[str, Any]) -> Path:
    """Render as :func:`_render` does; the report's HTML file (the executed notebook beside
    it)."""
    job = {"notebook": str(NOTEBOOK), "out_dir": str(out), "params": params}
    proc = subprocess.run(
        [sys.executable, "-c", _RENDER, json.dumps(job)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = Path(proc.stdout.strip().splitlines()[-1])
    assert html.exists()
    return html


def _outputs(nb: nbformat.NotebookNode, mime: str) -> list[Any]:
    found = []
    for cell in _code(nb):
        for o in cell.get("outputs", []):
            assert o.get("output_type") != "error", f"{o.get('ename')}: {o.get('evalue')}"
            if mime in o.get("data", {}):
                found.append(o["data"][mime])
    return found


def _titles(nb: nbformat.NotebookNode) -> list[str]:
    charts = _outputs(nb, "application/vnd.vegalite.v6+json")
    return [c["title"]["text"] if isinstance(c["title"], dict) else c["title"] for c in charts]


@pytest.mark.notebook
def test_sample_by_queue_with_stored_forecasts(tmp_path):
    import kpi.forecast as F

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "samples", data)
    for until in ("2026-03-16", "2026-03-23"):
        F.forecast(str(data), every="30m", horizon="7d", by="queue", until=until, store=True)
    nb = _render(
        tmp_path / "reports",
        {
            "data_dir": str(data),
            "by": ["queue"],
            "every": "1h",
            "horizon": "2w",
            "method": "daily_profile",
            "level": 90.0,
            "max_charts": 2,
        },
    )
    (head,) = _outputs(nb, HEADER_MIME)
    assert [k["id"] for k in head["kpis"]] == ["contacts_offered", "forecast_accuracy"]
    (found,) = _outputs(nb, FINDINGS_MIME)
    items = found["items"]
    assert items[0].startswith("Queue North Voice, next 14 days: ")
    assert "(90% interval " in items[0]
    assert "method daily_profile" in items[0]
    assert any(i.startswith("queue=Callback: no contacts_offered") for i in items)
    assert items[-1].startswith("Stored forecasts of the week of 2026-03-23: ")
    titles = _titles(nb)
    assert titles[:2] == [
        "Contacts offered, queue North Voice: last 14 days and 2w ahead",
        "Contacts offered, queue North Chat: last 14 days and 2w ahead",
    ]
    assert "Accuracy of stored forecasts by week (1 − WAPE)" in titles


@pytest.mark.notebook
@pytest.mark.shared
@pytest.mark.skipif(
    not ARRIVALS.exists(), reason="../shared/datasets/technion_bank_1999_6min is absent"
)
def test_real_technion_arrivals(tmp_path):
    from kpi.data import save

    data = save(technion_arrivals(), tmp_path / "technion")
    nb = _render(
        tmp_path / "reports",
        {"data_dir": str(data), "every": "15m", "until": "1999-09-13"},
    )
    (head,) = _outputs(nb, HEADER_MIME)
    assert head["data"]["timezone"] == "Asia/Jerusalem"
    (found,) = _outputs(nb, FINDINGS_MIME)
    first = found["items"][0]
    assert first.startswith("Next 7 days: ")
    assert "Poisson floor" in first
    assert found["items"][-1].startswith("Accuracy of past forecasts: unknown (no forecasts")
    chart = _outputs(nb, "application/vnd.vegalite.v6+json")[0]
    names = {row["label"] for row in chart_rows(chart, 0)}
    # Rosh Hashanah (1999-09-11, 12) in the history shown, the eve of Yom Kippur in the week ahead
    assert {"Rosh Hashanah", "eve of Yom Kippur"} <= names
    series = {row["series"] for row in chart_rows(chart, 2)}
    assert series == {"actual", "forecast"}


@pytest.mark.notebook
def test_sample_interactive_builds_the_what_if_outside_the_report(tmp_path):
    page = _render_page(
        tmp_path / "reports",
        {"data_dir": str(ROOT / "data" / "samples"), "by": ["queue"], "interactive": True},
    )
    nb = nbformat.read(page.with_suffix(".ipynb"), as_version=4)
    widgets = _outputs(nb, "application/vnd.jupyter.widget-view+json")  # and no error output
    assert len(widgets) == 1  # the forecast explorer, built
    text = "".join(
        o.get("text", "") for c in _code(nb) for o in c.get("outputs", []) if "text" in o
    )
    assert "No forecast what-if" not in text
    html = page.read_text()
    assert "Traceback" not in html
    assert "kpi-explorer" not in html  # the report never shows (or depends on) a widget
    assert "Forecast what-if" not in html
