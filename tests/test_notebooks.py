"""The analyst notebooks (notebooks/01-05): house structure, stripped outputs and lint; nbval
runs every notebook of notebooks/ with its defaults; papermill (through kpi.report.render)
runs each analyst notebook with other parameters; and they run on imported real data (the
February 1999 Technion call log and the NYC casework ticket log), saying what the data lacks
instead of failing."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import polars as pl
import pytest
from jupyter_support import kernel_spec

from kpi.report import FINDINGS_MIME, HEADER_MIME, notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BIN = Path(sys.executable).parent
OURS = ("01-scorecard", "02-trends", "03-drill-down", "04-staffing", "05-tickets")
COMMON = (
    "data_dir",
    "period",
    "compare",
    "teams",
    "targets_file",
    "kpi_params",
    "interactive",
    "show_identifiers",
)
EXTRA_KEYS = "metadata.papermill cell.metadata.papermill"
TECHNION = "technion_bank_1999_02/calls_1999_02.tsv"
NYC = "nyc_council_casework/casework.parquet"


def load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


# --------------------------------------------------------------------------------------------
# Structure (no execution)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", OURS)
def test_title_cell_and_parameters_cell(name):
    nb = load(name)
    assert nb.metadata["kernelspec"]["name"] == "python3"  # papermill --help-notebook needs it
    title, params = nb.cells[0], nb.cells[1]
    lines = title.source.splitlines()
    assert title.cell_type == "markdown"
    assert len(lines) == 2
    assert lines[0].startswith("# ")
    assert lines[1].startswith("> ")
    assert params.metadata.get("tags") == ["parameters"]
    tree = ast.parse(params.source)
    for node in tree.body:  # only literal, annotated defaults
        assert isinstance(node, ast.AnnAssign), ast.unparse(node)
        ast.literal_eval(node.value)
    spec = notebook_parameters(NOTEBOOKS / f"{name}.ipynb")
    assert set(COMMON) <= set(spec)
    for p in spec.values():
        assert p.help, f"{name}: parameter {p.name} has no trailing comment"
        assert p.kind != "any", f"{name}: parameter {p.name} has no type"
    assert spec["data_dir"].default == "../data/samples"
    assert spec["period"].default == "latest"  # the latest complete month of the data
    assert spec["compare"].default == ""  # the period before, left out when it has no data
    assert spec["interactive"].default is False
    assert spec["show_identifiers"].default is False
    assert spec["teams"].default == []
    assert spec["kpi_params"].default == {}


@pytest.mark.parametrize("name", OURS)
def test_code_cells_only_call_into_kpi(name):
    nb = load(name)
    allowed = {"kpi", "polars", "IPython"}
    header = findings = False
    for i, cell in enumerate(code_cells(nb)[1:], start=1):
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef), (
                f"{name}: cell {i} defines {node.name}: move it into kpi.views or kpi.widgets"
            )
            assert not isinstance(node, ast.Lambda), f"{name}: cell {i} has a lambda"
            if isinstance(node, ast.Import):
                assert {a.name.split(".")[0] for a in node.names} <= allowed
            if isinstance(node, ast.ImportFrom):
                assert node.module.split(".")[0] in allowed, node.module
            if isinstance(node, ast.Call):
                text = ast.unparse(node.func)
                header |= text == "kpi.report.header" and i <= 2
                findings |= text == "kpi.report.findings" and i <= 3
        widget_calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and ast.unparse(n.func).startswith("kpi.widgets.")
        ]
        guarded = {
            id(n)
            for branch in ast.walk(tree)
            if isinstance(branch, ast.If) and "interactive" in ast.unparse(branch.test)
            for stmt in branch.body
            for n in ast.walk(stmt)
        }
        for call in widget_calls:  # widgets only when interactive
            assert id(call) in guarded, (
                f"{name}: cell {i}: {ast.unparse(call)} outside `if interactive`"
            )
    assert header, f"{name}: kpi.report.header is not called early"
    assert findings, f"{name}: kpi.report.findings is not called early"


def test_notebooks_are_stripped_and_lint_clean():
    paths = [str(NOTEBOOKS / f"{n}.ipynb") for n in OURS]
    for nb in map(nbformat.read, paths, [4] * len(paths)):
        for cell in code_cells(nb):
            assert cell.outputs == []
            assert cell.execution_count is None
    strip = subprocess.run(
        [BIN / "nbstripout", "--verify", "--extra-keys", EXTRA_KEYS, *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert strip.returncode == 0, strip.stdout + strip.stderr
    lint = subprocess.run(
        [BIN / "ruff", "check", "notebooks/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [BIN / "ruff", "format", "--check", *paths], capture_output=True, text=True, check=False
    )
    assert fmt.returncode == 0, fmt.stdout


def _make_lab(*extra: str) -> str:
    """The JupyterLab command line ``make -n lab`` would run (the last line it prints)."""
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(
        # --no-print-directory: under `make test` (CI) a nested make would add
        # "make[1]: Entering/Leaving directory" lines around the command
        [
            "make",
            "--no-print-directory",
            "-n",
            "lab",
            f"VENV={Path(sys.executable).parent.parent}",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_make_lab_opens_the_notebooks_as_root_too():
    line = _make_lab()
    assert line.split()[0].endswith("/bin/jupyter")
    assert line.split()[1] == "lab"
    assert "--notebook-dir=notebooks" in line
    assert "--ip=127.0.0.1" in line.split()
    assert "--no-browser" in line.split()
    # jupyter refuses to start as root unless allowed: allowed only when root
    assert ("--allow-root" in line.split()) == (os.geteuid() == 0)
    assert "--ip=0.0.0.0" in _make_lab("LAB_IP=0.0.0.0").split()
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme
    assert "LAB_IP=0.0.0.0" in readme


# --------------------------------------------------------------------------------------------
# nbval: every notebook with its defaults
# --------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_nbval_runs_every_notebook_with_its_defaults(tmp_path):
    """``pytest --nbval-lax notebooks/`` from the repository root, in a subprocess.

    The kernel is this interpreter (the venv's), declared in a private kernelspec that skips
    the IRI grammar jsonschema would compile on every start (as the report kernel does).
    """
    kernel_spec(tmp_path / "jupyter" / "kernels" / "kpi-nbval", "kpi nbval")
    env = {
        **os.environ,
        "JUPYTER_PATH": os.pathsep.join(
            [str(tmp_path / "jupyter"), *filter(None, [os.environ.get("JUPYTER_PATH")])]
        ),
    }
    env.pop("KPI_REPORT_RENDER", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "notebooks/",
            "--nbval-kernel-name",
            "kpi-nbval",
            "--nbval-cell-timeout",
            "600",
            "-p",
            "no:cacheprovider",
            "-q",
            "-n",
            "2",
            "--dist",
            "loadfile",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout
    assert "failed" not in proc.stdout.splitlines()[-1], tail
    n_cells = sum(
        len(code_cells(nbformat.read(p, 4))) for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")
    )
    assert f"{n_cells} passed" in proc.stdout.splitlines()[-1], tail


# --------------------------------------------------------------------------------------------
# Rendering helpers
# --------------------------------------------------------------------------------------------


_RENDER = """
import json, sys
from kpi.report import render
job = json.loads(sys.argv[1])
print(render(job.pop("notebook"), progress=False, **job))
"""


def render_all(jobs: dict[str, dict[str, Any]], out: Path) -> dict[str, Any]:
    """Render each job with :func:`kpi.report.render`, each in its own interpreter (papermill
    leaves event loops behind), two at a time; a failure is kept as a RuntimeError."""

    def one(item: tuple[str, dict[str, Any]]) -> Any:
        key, job = item
        payload = {"notebook": job["notebook"], "out_dir": str(out / key), **job["kwargs"]}
        proc = subprocess.run(
            [sys.executable, "-c", _RENDER, json.dumps(payload)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            return RuntimeError(proc.stderr[-4000:])
        return Path(proc.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(one, jobs.items()), strict=True))


def executed(result: Any) -> nbformat.NotebookNode:
    if isinstance(result, Exception):
        pytest.fail(f"render failed: {result}")
    return nbformat.read(Path(result).with_suffix(".ipynb"), as_version=4)


def outputs(nb: nbformat.NotebookNode, mime: str | None = None) -> list[Any]:
    found = []
    for cell in code_cells(nb):
        for o in cell.get("outputs", []):
            assert o.get("output_type") != "error", f"{o.get('ename')}: {o.get('evalue')}"
            data = o.get("data", {})
            if mime is None:
                found.append(o)
            elif mime in data:
                found.append(data[mime])
    return found


def header_of(nb) -> dict[str, Any]:
    (h,) = outputs(nb, HEADER_MIME)
    return h


def findings_of(nb) -> list[str]:
    (f,) = outputs(nb, FINDINGS_MIME)
    return f["items"]


def charts_of(nb) -> list[dict[str, Any]]:
    return outputs(nb, "application/vnd.vegalite.v6+json")


def texts(nb) -> list[str]:
    """The plain-text view of every displayed item (tables, charts, findings)."""
    return [o["data"]["text/plain"] for o in outputs(nb) if "text/plain" in o.get("data", {})]


def titles_of(nb) -> list[str]:
    return [
        c["title"]["text"] if isinstance(c["title"], dict) else c["title"] for c in charts_of(nb)
    ]


def streams(nb) -> str:
    return "".join(o.get("text", "") for o in outputs(nb) if o.get("output_type") == "stream")


# --------------------------------------------------------------------------------------------
# papermill: every analyst notebook with non-default parameters
# --------------------------------------------------------------------------------------------

CUSTOM = {
    "01-scorecard": {
        "period": "2026-03",
        "compare": "2026-02",
        "params": {
            "teams": ["North", "South"],
            "kpi_params": {"service_level.threshold_s": 30},
            "min_contacts": 100,
            "interactive": True,
            "rank_by": "aht",
        },
    },
    "02-trends": {
        "period": "2026-03",
        "params": {
            "teams": ["North"],
            "grain": "1w",
            "dimension": "channel",
            "trend_kpis": ["aht", "service_level"],
            "kpi_params": {"aht.components": "talk_hold"},
            "interval": "1h",
        },
    },
    "03-drill-down": {
        "period": "2026-03",
        "compare": "2026-02",
        "params": {
            "kpi_id": "service_level",
            "kpi_params": {"service_level.threshold_s": 30},
            "teams": ["North", "South", "West"],
            "show_rows": True,
            "max_rows": 5,
            "interactive": True,
            "dims": ["team", "topic"],
        },
    },
    "04-staffing": {
        "period": "2026-03",
        "params": {
            "teams": ["South"],
            "every": "1h",
            "patience_s": 120.0,
            "what_if_agents": -1.0,
            "what_if_aht_pct": 10.0,
            "interactive": True,
            "day": "2026-03-10",
            "kpi_params": {"abandon_rate.short_abandon_s": 5},
        },
    },
    "05-tickets": {
        "period": "2026-W06",
        "compare": "2026-W05",
        "params": {
            "teams": ["Tickets"],
            "grain": "1w",
            "dimension": "topic",
            "kpi_params": {"avg_resolution_time.cohort": "created"},
            "top": 3,
            "interactive": True,
        },
    },
}


@pytest.fixture(scope="module")
def custom(samples_dir, tmp_path_factory) -> dict[str, Any]:
    jobs = {
        name: {
            "notebook": name,
            "kwargs": {
                "params": case["params"],
                "period": case["period"],
                "compare": case.get("compare"),
            },
        }
        for name, case in CUSTOM.items()
    }
    return render_all(jobs, tmp_path_factory.mktemp("custom"))


@pytest.mark.notebook
@pytest.mark.parametrize("name", OURS)
def test_papermill_injects_non_default_parameters(custom, name):
    nb = executed(custom[name])
    case = CUSTOM[name]
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert nb.cells.index(injected[0]) == 2  # right after the parameters cell
    values = nb.metadata["papermill"]["parameters"]
    for key, value in case["params"].items():
        assert values[key] == value
        assert f"{key} = {value!r}".replace("'", '"') in injected[0].source.replace("'", '"')
    assert values["period"] == case["period"]
    assert values["show_identifiers"] is False
    head = header_of(nb)
    assert head["period"]["label"] == case["period"]
    if "compare" in case:
        assert head["compare"]["label"] == case["compare"]
    if "teams" in case["params"]:
        assert f"teams: {', '.join(case['params']['teams'])}" in head["notes"]
    assert findings_of(nb)
    html = Path(custom[name]).read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "Traceback" not in html
    widgets = outputs(nb, "application/vnd.jupyter.widget-view+json")
    assert len(widgets) == (1 if case["params"].get("interactive") else 0)
    assert "kpi-explorer" not in html  # the report never shows (or depends on) a widget


def test_custom_parameters_reach_the_analysis(custom):
    # scorecard: the variant is in the definitions, the agents are ranked by AHT from 100 up
    sc = executed(custom["01-scorecard"])
    formulas = {k["id"]: k["formula"] for k in header_of(sc)["kpis"]}
    assert "≤ 30 s" in formulas["service_level"]
    agents = next(t for t in texts(sc) if t.startswith("Ranked by Average handle time"))
    # the sample's agents do contacts and tickets (the Tickets team): the caption counts both
    assert "fewer than 100 contacts or tickets handled" in agents
    assert "West" not in agents
    assert "Email" not in agents
    # trends: weekly, by channel, AHT without wrap-up, hourly heatmaps
    tr = executed(custom["02-trends"])
    titles = titles_of(tr)
    assert "Average handle time by week" in titles
    waiting = next(
        c
        for c, t in zip(charts_of(tr), titles, strict=True)
        if t.startswith("Most contacts waiting at once by weekday")
    )
    data = waiting["data"].get("values") or waiting["datasets"][waiting["data"]["name"]]
    assert {v["interval"][-3:] for v in data} == {":00"}  # the hourly interval asked for
    formulas = {k["id"]: k["formula"] for k in header_of(tr)["kpis"]}
    assert formulas["aht"] == "AHT = (talk + hold) / handled (no after-call work)"
    # drill-down: service level with 30 s, rows listed and masked
    dd = executed(custom["03-drill-down"])
    assert findings_of(dd)[0].startswith("Service level ")
    assert "2026-02 to 2026-03" in findings_of(dd)[0]
    listed = next(t for t in texts(dd) if t.startswith("The first 5 records of"))
    assert len(listed.splitlines()) == 1 + 1 + 5  # caption, header, 5 rows
    # staffing: Erlang A, hourly, the what-if in the header
    st = executed(custom["04-staffing"])
    notes = header_of(st)["notes"]
    assert "required agents: Erlang A, mean patience 120 s, 80% answered within 20 s" in notes
    assert "what-if: agents=-1, aht=+10%" in notes
    assert "Required against actual agents, Tue 10 Mar 2026" in titles_of(st)
    assert any("hours with contacts" in f for f in findings_of(st))
    # tickets: weekly periods, resolution by created time, three topics
    tk = executed(custom["05-tickets"])
    formulas = {k["id"]: k["formula"] for k in header_of(tk)["kpis"]}
    assert "tickets by created time" in formulas["avg_resolution_time"]
    assert " handled in 2026-W06 (" in findings_of(tk)[0]
    assert findings_of(tk)[0].endswith(" in 2026-W05).")
    by_topic = next(t for t in texts(tk) if t.startswith("topic"))
    assert len(by_topic.splitlines()) == 1 + 3


# --------------------------------------------------------------------------------------------
# Real data after `kpi import`
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported(shared_datasets, tmp_path_factory) -> dict[str, Path]:
    from kpi.io import import_file

    out = {}
    for key, (source, preset) in {
        "technion": (TECHNION, "technion"),
        "nyc": (NYC, "tickets"),
    }.items():
        target = tmp_path_factory.mktemp(key)
        import_file(shared_datasets / source, preset=preset, out=target)
        out[key] = target
    return out


REAL = {
    "technion-scorecard": ("01-scorecard", "technion", "1999-02", None),
    "technion-trends": ("02-trends", "technion", "1999-02", None),
    "technion-drill-down": ("03-drill-down", "technion", "1999-W08", "1999-W07"),
    "technion-staffing": ("04-staffing", "technion", "1999-02", None),
    "technion-tickets": ("05-tickets", "technion", "1999-02", None),
    "nyc-tickets": ("05-tickets", "nyc", "2023-06", None),
    "nyc-staffing": ("04-staffing", "nyc", "2023-06", None),
    "technion-planning": ("04-staffing", "technion", "1999-02", None),
}
#: Notebook parameters of the real-data cases, beyond the period.
REAL_PARAMS = {"technion-planning": {"aht_s": 300.0, "shrinkage": 0.3}}


@pytest.fixture(scope="module")
def real(imported, tmp_path_factory) -> dict[str, Any]:
    jobs = {
        key: {
            "notebook": notebook,
            "kwargs": {
                "data": str(imported[data]),
                "period": period,
                "compare": compare,
                "params": REAL_PARAMS.get(key, {}),
            },
        }
        for key, (notebook, data, period, compare) in REAL.items()
    }
    return render_all(jobs, tmp_path_factory.mktemp("real"))


@pytest.mark.notebook
@pytest.mark.shared
def test_real_technion_scorecard_and_trends(real):
    sc = executed(real["technion-scorecard"])
    head = header_of(sc)
    assert head["data"]["timezone"] == "Asia/Jerusalem"
    ids = [k["id"] for k in head["kpis"]]
    assert "service_level" in ids
    assert "resolution_rate" not in ids  # the log does not record resolution
    assert "qa_score" not in ids  # no evaluations
    assert "KPIs with a target are green" in findings_of(sc)[0]
    text = streams(sc)
    assert "No team-leader view" not in text  # contacts have teams (main, internet)
    tr = executed(real["technion-trends"])
    titles = titles_of(tr)
    assert "Service level by day" in titles
    assert "Peak-hour traffic by day, 1999-02" in titles


@pytest.mark.notebook
@pytest.mark.shared
def test_real_technion_drill_down_and_staffing(real, imported):
    dd = executed(real["technion-drill-down"])
    first = findings_of(dd)[0]
    assert first.startswith("Contacts handled ")
    assert "from 1999-W07 to 1999-W08" in first
    # the week totals, counted independently (Jerusalem local weeks, handled = answered)
    c = pl.read_parquet(imported["technion"] / "contacts.parquet")
    week = (
        c.filter(pl.col("outcome") == "answered")
        .group_by(pl.col("arrival_ts").dt.truncate("1w"))
        .len()
    )
    counts = dict(zip(week["arrival_ts"].dt.strftime("%Y-%m-%d"), week["len"], strict=True))
    assert f"({counts['1999-02-15']:,} to {counts['1999-02-22']:,})" in first
    # no agent time: the agents on queue are estimated from the call log, and said to be
    st = executed(real["technion-staffing"])
    findings = findings_of(st)
    assert any("(agents on queue estimated from the call log)" in f for f in findings)
    assert any(f.startswith("Agents on queue are estimated from the call log") for f in findings)
    assert header_of(st)["compare"] is None  # January 1999 has no data


@pytest.mark.notebook
@pytest.mark.shared
def test_real_tickets_and_missing_tables(real, imported):
    tk = executed(real["nyc-tickets"])
    t = pl.read_parquet(imported["nyc"] / "tickets.parquet")
    june = t.filter(pl.col("created_ts").dt.strftime("%Y-%m") == "2023-06").height
    solved = t.filter(pl.col("solved_ts").dt.strftime("%Y-%m") == "2023-06").height
    assert findings_of(tk)[0].startswith(
        f"{june:,} tickets opened and {solved:,} handled in 2023-06"
    )
    assert "The data has no first-response times." in findings_of(tk)
    assert [k["id"] for k in header_of(tk)["kpis"]] == [
        "tickets_handled",
        "avg_resolution_time",
        "backlog",
    ]
    none = executed(real["technion-tickets"])
    assert findings_of(none) == [
        "The data has no tickets table: this report needs a ticket log "
        "(`kpi import --preset tickets`)."
    ]
    assert charts_of(none) == []
    nyc = executed(real["nyc-staffing"])
    assert findings_of(nyc) == [
        "No staffing analysis: staffing needs a contacts or an intervals table in the dataset."
    ]


@pytest.mark.notebook
@pytest.mark.shared
def test_real_staffing_takes_planning_assumptions(real):
    """``aht_s`` and ``shrinkage`` are parameters of the staffing notebook (as ``kpi staffing
    --aht-s --shrinkage``): the findings say what was assumed; the call log has handle times,
    so the planning AHT is not used."""
    st = executed(real["technion-planning"])
    values = st.metadata["papermill"]["parameters"]
    assert (values["aht_s"], values["shrinkage"]) == (300.0, 0.3)
    findings = findings_of(st)
    assert "Shrinkage assumed 30% for the agents to schedule." in findings
    assert not [f for f in findings if f.startswith("AHT assumed")]
    planning = next(c.source for c in code_cells(st) if "planning = " in c.source)
    assert 'planning = {"aht_s": aht_s or None, "shrinkage": shrinkage or None}' in planning
    assert "globals()" not in planning


def test_staffing_planning_parameters_are_checked():
    from datetime import date

    from kpi import KpiError
    from kpi.report._params import coerce_params

    spec = notebook_parameters(NOTEBOOKS / "04-staffing.ipynb")
    assert (spec["aht_s"].default, spec["shrinkage"].default) == (0.0, 0.0)
    today = date(2026, 4, 1)
    assert coerce_params("staffing", spec, {"aht_s": "300", "shrinkage": "0.3"}, today=today) == {
        "aht_s": 300.0,
        "shrinkage": 0.3,
    }
    for bad, why in (
        ({"aht_s": "-5"}, "aht_s: expected seconds, 0 or more"),
        ({"aht_s": "inf"}, "aht_s: expected a finite number"),
        ({"shrinkage": "1"}, "shrinkage: expected a share from 0 up to"),
        ({"shrinkage": "nan"}, "shrinkage: expected a finite number"),
    ):
        with pytest.raises(KpiError, match=why):
            coerce_params("staffing", spec, bad, today=today)
