"""The trends notebook in a real JupyterLab, driven through Debian's headless Chromium.

The test starts JupyterLab on a free localhost port (a known token, ``--no-browser``, a private
root directory holding a copy of ``notebooks/`` and the sample data), opens a copy of
``02-trends.ipynb`` prepared by papermill with ``interactive = True``, runs all cells from the
Run menu, waits for the trend explorer's chart (drawn by vega-embed, loaded offline by
:mod:`kpi.widgets`), changes the KPI dropdown and waits for the chart title to change. Every
request that does not go to the local server is blocked. Screenshots and the browser console
go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from jupyter_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, kernel_spec

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "02-trends-interactive.ipynb"
TITLE = ".kpi-explorer .kpi-widget-chart svg .role-title-text text"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's Chromium is not installed ({CHROMIUM} is missing; "
            "`apt-get install chromium`, which .ci/run does): the JupyterLab check cannot run"
        )
    import papermill as pm

    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "data" / "samples", root / "data" / "samples")
    pm.execute_notebook(
        str(root / "notebooks" / "02-trends.ipynb"),
        str(root / "notebooks" / NOTEBOOK),
        parameters={"interactive": True},
        prepare_only=True,
        progress_bar=False,
    )
    config, data, runtime = base / "config", base / "data", base / "runtime"
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    kernel_spec(base / "path" / "kernels" / "python3", "Python 3 (ipykernel)")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(data),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_PATH": str(base / "path"),
        "IPYTHONDIR": str(base / "ipython"),
    }
    env.pop("KPI_REPORT_RENDER", None)
    port, token = free_port(), secrets.token_hex(16)
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.workspaces_dir={base / 'workspaces'}",
            "--allow-root",  # CI containers run as root
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"JupyterLab did not start:\n{(base / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": url, "token": token, "root": root, "log": base / "lab.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def test_trend_explorer_redraws_when_the_kpi_changes(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    blocked: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})

            def route(r):
                if r.request.url.startswith(lab["url"]):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.goto(
                f"{lab['url']}/lab/tree/notebooks/{NOTEBOOK}?token={lab['token']}",
                wait_until="domcontentloaded",
                timeout=120_000,
            )
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
            # the kernel is up and the notebook has focus before Run ▸ Run All Cells
            page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=180_000)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            title = page.locator(TITLE).first
            title.wait_for(state="attached", timeout=300_000)
            before = title.text_content()
            page.locator(".kpi-explorer").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "notebook-trends-explorer-before.png"))
            assert before == "Contacts offered by day"
            kpi_select = page.locator(".kpi-explorer .widget-dropdown select").first
            kpi_select.select_option(label="Service level (service_level)")
            page.wait_for_function(
                """([sel, old]) => {
                    const t = document.querySelector(sel);
                    return t !== null && t.textContent !== old;
                }""",
                arg=[TITLE, before],
                timeout=120_000,
            )
            after = page.locator(TITLE).first.text_content()
            page.locator(".kpi-explorer").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "notebook-trends-explorer-after.png"))
            marks = page.locator(".kpi-explorer .kpi-widget-chart svg .mark-line path").count()
        finally:
            browser.close()
            (ARTIFACTS / "notebook-trends-explorer-console.log").write_text(
                "\n".join(console + [f"blocked: {u}" for u in blocked]) + "\n"
            )
    assert after == "Service level by day"
    assert marks >= 1  # the line is drawn
