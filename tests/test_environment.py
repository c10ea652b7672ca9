"""environment.yml, pyproject.toml, the constraints file and the Makefile stay in step."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_installs_the_project_with_the_pinned_constraints():
    text = (ROOT / "environment.yml").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lowest = re.search(r">=\s*3\.(\d+)", pyproject["project"]["requires-python"]).group(1)
    assert re.search(rf"python=3\.{lowest}\b", text), (
        "environment.yml must use the lowest supported Python"
    )
    assert "-c requirements/constraints.txt" in text
    assert '-e ".[dev]"' in text
    # nothing else comes from conda, so conda and pip users get the same packages
    section = text.split("dependencies:", 1)[1]
    deps = [
        line.strip()[2:]
        for line in section.splitlines()
        if line.startswith("  - ") and not line.strip().endswith(":")
    ]
    assert sorted(_name(d) for d in deps if not d.startswith("python")) == ["make", "pip"]


def test_every_dependency_is_pinned():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in pyproject["dependencies"]}
    for extra in pyproject["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra if not r.startswith("kpi-workbench")}
    pinned = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            pinned[_name(name)] = version.strip()
    missing = sorted(wanted - set(pinned))
    assert not missing, f"not pinned in requirements/constraints.txt: {missing} (run `make lock`)"


def test_make_targets_the_readme_names():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1).split()
    assert block == ["make", "report", "make", "test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^report: \$\(STAMP\)", makefile, re.M)
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)
    assert "-c requirements/constraints.txt" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert '"$rc" -eq 5' in ci  # pytest's "no tests" must not pass


def test_lint_is_clean():
    """``make lint`` as part of the suite: ruff's rules and formatting hold for the whole tree."""
    import subprocess
    import sys

    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check", "."], ["format", "--check", "."]):
        out = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, check=False)
        assert out.returncode == 0, f"ruff {' '.join(args)}:\n{out.stdout}{out.stderr}"


def _allocator_setting(env: dict[str, str], first: str) -> str:
    """``_RJEM_MALLOC_CONF`` as polars left it, in a new interpreter that imports ``first``
    (``kpi`` or ``polars``) and then the other."""
    import os
    import subprocess
    import sys

    other = "polars" if first == "kpi" else "kpi"
    code = f"import {first}, {other}, os; print(os.environ.get('_RJEM_MALLOC_CONF', ''))"
    clean = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_kpi_keeps_freed_memory_for_reuse_unless_told_otherwise():
    """Imported before polars, kpi sets jemalloc's decay (polars appends a user's setting to its
    own, and the last one read wins); a user's own setting, or polars imported first, keep
    polars' (``kpi._allocator``)."""
    from kpi._allocator import ALLOCATOR

    assert _allocator_setting({}, "kpi").endswith("," + ALLOCATOR)
    assert ALLOCATOR not in _allocator_setting({}, "polars")
    mine = _allocator_setting({"_RJEM_MALLOC_CONF": "dirty_decay_ms:0"}, "kpi")
    assert mine.endswith(",dirty_decay_ms:0")
    assert ALLOCATOR not in mine


def test_kpi_compute_in_chunks_keeps_polars_allocator_setting():
    """A ``kpi compute --chunk`` process returns freed pages as polars does: chunks are for
    data larger than memory (``kpi._allocator``)."""
    import os
    import subprocess
    import sys

    from kpi._allocator import ALLOCATOR

    clean = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    shown = "import os; print(os.environ.get('_RJEM_MALLOC_CONF', ''))"
    for argv, kept in (
        (["kpi", "compute", "--data", "d", "--chunk", "1y"], False),
        (["-m", "compute", "--chunk=1mo"], False),
        (["kpi", "--debug", "compute", "--data", "d", "--chun", "1mo"], False),
        (["kpi", "compute", "--data", "d"], True),
        (["kpi", "cube", "build", "--chunk", "1y"], True),
    ):
        code = f"import sys; sys.argv = {argv!r}; import kpi, polars; {shown}"
        out = subprocess.run(
            [sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True
        )
        assert (ALLOCATOR in out.stdout) is kept, argv
