"""Shared by the notebook and browser tests: Debian's Chromium and a fast private kernelspec."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Debian's Chromium (``apt-get install chromium``), never a downloaded browser build.
CHROMIUM = Path("/usr/bin/chromium")
#: Screenshots and console logs of the browser tests.
ARTIFACTS = ROOT / "test-artifacts"
#: Headless, offline: no background traffic, no updates.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def kernel_spec(path: Path, display_name: str) -> None:
    """A kernelspec in ``path`` running this interpreter, skipping the IRI grammar jsonschema
    would compile at every kernel start (as the report kernel does)."""
    path.mkdir(parents=True)
    startup = ['import sys; sys.modules.setdefault("rfc3987_syntax", None)']
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            f"--IPKernelApp.exec_lines={startup!r}",
        ],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": False},
    }
    (path / "kernel.json").write_text(json.dumps(spec))
