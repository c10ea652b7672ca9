"""Rendered reports in Debian's headless Chromium with the network blocked.

Each HTML file must load with no failed request, no console error and no dialog, draw every
chart (an ``svg`` or ``canvas`` inside each vega-embed ``div``) and show a tooltip on hover.
Screenshots go to ``test-artifacts/`` (git-ignored). The reports come from the session renders
of ``tests/test_report.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from jupyter_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from test_report import Run, render_session

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="session")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The reports rendered by tests/test_report.py (rendered here if that module did not run)."""
    return render_session(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's Chromium is not installed ({CHROMIUM} is missing; "
            "`apt-get install chromium`, which .ci/run does): the browser checks cannot run"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class Visit:
    """What happened while a page was open."""

    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    charts: int = 0
    tooltip: str | None = None
    tooltip_html: str | None = None


def visit(browser, html: Path, name: str, *, hover: bool = True) -> Visit:
    """Open ``html`` offline, wait for the charts, hover one mark, take a screenshot."""
    seen = Visit()
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            seen.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda r: seen.failed.append(r.url))
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    page.goto(html.as_uri())
    seen.charts = page.locator("div.kpi-chart").count()
    if seen.charts:
        page.wait_for_function(
            "() => [...document.querySelectorAll('div.kpi-chart')]"
            ".every(d => d.classList.contains('vega-embed') && d.querySelector('svg, canvas'))",
            timeout=30_000,
        )
    if seen.charts and hover:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        # the first marks that show a tooltip: a mark under another (an event band under a
        # level rule) cannot take the pointer, so try the next ones
        marks = page.locator(
            "div.kpi-chart svg g.mark-symbol path, div.kpi-chart svg g.mark-rect path"
        )
        tip = page.locator("#vg-tooltip-element.visible")
        tried = 0
        for i in range(marks.count()):
            box = marks.nth(i).bounding_box()
            if not (box and box["width"] > 2 and box["height"] > 2):
                continue
            tried += 1
            try:
                marks.nth(i).hover(timeout=3_000)  # scrolls it into view, then moves onto it
                tip.wait_for(timeout=2_000)
                break
            except PlaywrightTimeout:
                if tried >= 12:
                    break
        tip = page.locator("#vg-tooltip-element.visible")
        tip.wait_for(timeout=10_000)
        seen.tooltip = tip.inner_text()
        seen.tooltip_html = tip.inner_html()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=True)
    page.close()
    return seen


def _clean(seen: Visit) -> None:
    assert seen.blocked == []
    assert seen.failed == []
    assert seen.errors == []
    assert seen.dialogs == []


def _ok(run: Run) -> Path:
    assert run.returncode == 0, run.stderr
    return run.html()


def test_interactive_report_draws_every_chart_offline_with_tooltips(browser, renders):
    seen = visit(browser, _ok(renders["basic_custom"]), "basic")
    _clean(seen)
    assert seen.charts == 2
    assert seen.tooltip
    assert "Service level" in seen.tooltip or "service_level" in seen.tooltip


def test_static_report_has_svg_charts_and_no_script(browser, renders):
    html = _ok(renders["basic_static"])
    seen = visit(browser, html, "basic-static", hover=False)
    _clean(seen)
    assert seen.charts == 0
    assert html.read_text().count('class="kpi-chart-static"') == 2


def test_hostile_text_shows_as_text_and_runs_nothing(browser, renders):
    seen = visit(browser, _ok_all(renders["fixtures"], "xss"), "xss")
    _clean(seen)  # no alert dialog, no request for an image called "x"
    assert seen.charts == 1
    assert HOSTILE in seen.tooltip  # the tooltip shows the topic as text ...
    assert "<img" not in seen.tooltip_html  # ... and does not build an element from it


def test_raw_html_from_an_analyst_is_contained_by_the_policy(browser, renders):
    seen = visit(browser, _ok_all(renders["fixtures"], "raw_html"), "raw-html")
    assert seen.dialogs == []  # the onerror handler never ran
    assert seen.blocked == []
    assert seen.errors  # Chromium reports what the Content-Security-Policy refused
    assert all("Content Security Policy" in e for e in seen.errors)


@pytest.mark.parametrize("name", ["identifiers", "no_parameters"])
def test_reports_without_charts_load_cleanly(browser, renders, name):
    _clean(visit(browser, _ok_all(renders["fixtures"], name), name.replace("_", "-")))


def test_index_page_loads_cleanly(browser, renders):
    run = renders["basic_custom"]
    _clean(visit(browser, run.out / "index.html", "index", hover=False))


def _standard_reports() -> list[str]:
    from kpi.report import list_reports, report_name

    return [report_name(p) for p in list_reports()]


@pytest.mark.parametrize("name", _standard_reports())
def test_every_standard_report_in_the_browser(browser, renders, samples_dir, name):
    seen = visit(browser, _ok_all(renders["all"], name), f"standard-{name}")
    _clean(seen)
    if seen.charts:
        assert seen.tooltip


def test_overview_with_non_default_parameters_in_the_browser(browser, renders, samples_dir):
    seen = visit(browser, _ok(renders["overview_custom"]), "overview-custom")
    _clean(seen)
    assert seen.charts == 4
    assert seen.tooltip


def _ok_all(run: Run, name: str) -> Path:
    assert run.returncode == 0, run.stderr
    return run.html(name)
