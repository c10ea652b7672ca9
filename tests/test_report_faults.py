"""``kpi report`` under faults, with real processes: kill -9, SIGTERM, Ctrl-C, a worker or a
kernel that dies, a full disk, an output directory that cannot be written, bad time limits.

Nothing left running (no worker, no kernel outlives ``kpi report``), nothing published after
the run ends, nothing half-written, the last good report kept, every error one line.

Processes are found by a marker in their environment (``KPI_FAULT_MARK``), which the workers
and kernels of the run inherit.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from kpi import report
from kpi.report import _render

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
FAST = "tests/notebooks/no_parameters.ipynb"  # renders in about a second
TODAY = time.strftime("%Y-%m-%d")

pytestmark = pytest.mark.notebook


@pytest.fixture(autouse=True)
def _today_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Renders take ``TODAY`` for today (``KPI_TODAY``): a run past midnight keeps its folders."""
    monkeypatch.setenv("KPI_TODAY", TODAY)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _marked() -> tuple[str, dict[str, str]]:
    mark = uuid.uuid4().hex
    return mark, {**os.environ, "KPI_FAULT_MARK": mark}


def _processes(mark: str) -> list[str]:
    """``pid cmdline`` of every live process whose environment carries ``mark``."""
    found = []
    needle = f"KPI_FAULT_MARK={mark}".encode()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle not in (d / "environ").read_bytes().split(b"\0"):
                continue
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:100]
        except OSError:
            continue
        if state != "Z":  # a zombie has ended; only its parent has not read its status yet
            found.append(f"{d.name} {cmd}")
    return found


def _nothing_left(mark: str, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while (left := _processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"still running {within_s} s after the end: {left}"


def _owners_end(out: Path, within_s: float = 10.0) -> None:
    """Wait until the process owning each work directory under ``out`` has ended. A killed
    worker can still be ending when its environment is already gone (``_processes`` no longer
    sees it), and a work directory of a live process is rightly kept by the next run."""
    from kpi.report._files import pid_alive

    pids = set()
    for owner in (out / ".work").glob("*/owner.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            pids.add(int(json.loads(owner.read_text())["pid"]))
    deadline = time.monotonic() + within_s
    while (alive := [p for p in pids if pid_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    status = {}
    for p in alive:
        with contextlib.suppress(OSError):
            status[p] = Path(f"/proc/{p}/status").read_text()[:400]
    assert not alive, f"work directory owners still running {within_s} s later: {status}"


def _snapshot(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".work" not in p.parts and p.name != ".lock"
    }


def _notebook(folder: Path, name: str, code: str, **params: object) -> Path:
    """A report notebook: a title, a parameters cell, then ``code``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items()) or "pass"
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {name}"),
        cell,
        nbformat.v4.new_code_cell(code),
    ]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


SLEEPER = """\
import pathlib, time
pathlib.Path(marker).write_text("started")
time.sleep(sleep_s)
print("slept")
"""


def _sleepers(tmp_path: Path, names: list[str], sleep_s: float) -> list[tuple[Path, Path]]:
    """Notebooks that mark when they start, then sleep: (notebook, marker file)."""
    folder = tmp_path / "notebooks"
    folder.mkdir(exist_ok=True)
    made = []
    for name in names:
        marker = tmp_path / f"{name}.started"
        made.append(
            (_notebook(folder, name, SLEEPER, sleep_s=sleep_s, marker=str(marker)), marker)
        )
    return made


def _publish_fake(out: Path, name: str) -> None:
    folder = out / name / TODAY
    folder.mkdir(parents=True)
    stem = f"{name}-{TODAY}"
    (folder / f"{stem}.html").write_text("<html>previous</html>")
    (folder / f"{stem}.ipynb").write_text("{}")
    (folder / "report.json").write_text(
        json.dumps({"title": "previous", "html": f"{stem}.html", "ipynb": f"{stem}.ipynb"})
    )
    report.rebuild_index(out)


def _start(args: list[str], out: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kpi", "report", *args, "--out", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_started(markers: list[Path], proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(m.exists() for m in markers):
        if proc.poll() is not None:
            raise AssertionError(f"kpi report ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "the notebooks never started"
        time.sleep(0.05)


def _run(args: list[str], out: Path, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kpi", "report", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kw,
    )


def _one_line_errors(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "concurrent.futures" not in stderr, stderr


# --------------------------------------------------------------------------------------------
# kill -9, SIGTERM, Ctrl-C of `kpi report` with workers
# --------------------------------------------------------------------------------------------


def test_kill_9_takes_workers_and_kernels_with_it_and_nothing_is_published_after(tmp_path):
    out = tmp_path / "reports"
    names = ["sleep_a", "sleep_b", "sleep_c"]
    made = _sleepers(tmp_path, names, sleep_s=2.0)
    for name in names:
        _publish_fake(out, name)
    before = _snapshot(out)
    mark, env = _marked()
    # two workers busy, one report still to come: before the fix, the workers outlived the
    # parent, published both reports ~2 s later, then took the third
    proc = _start([str(nb) for nb, _ in made] + ["--jobs", "2"], out, env)
    _wait_started([m for _, m in made[:2]], proc)
    proc.kill()
    proc.communicate(timeout=10)
    _nothing_left(mark)
    time.sleep(3)  # longer than the notebooks would still have run
    assert _snapshot(out) == before
    assert not _processes(mark)
    _owners_end(out)

    # the next run removes what the killed one left, and renders
    proc2 = _run([str(made[2][0]), "-p", "sleep_s", "0"], out, env=env)
    assert proc2.returncode == 0, proc2.stderr
    left = {d.name: sorted(p.name for p in d.iterdir()) for d in (out / ".work").iterdir()}
    assert not left, left
    assert not list(out.rglob(".*.tmp"))
    _nothing_left(mark)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_ends_workers_and_kernels_before_saying_so_and_nothing_is_published_after(
    tmp_path, stop
):
    out = tmp_path / "reports"
    names = ["sleep_a", "sleep_b", "sleep_c"]
    made = _sleepers(tmp_path, names, sleep_s=2.0)
    for name in names:
        _publish_fake(out, name)
    before = _snapshot(out)
    mark, env = _marked()
    proc = _start([str(nb) for nb, _ in made] + ["--jobs", "2"], out, env)
    _wait_started([m for _, m in made[:2]], proc)
    proc.send_signal(stop)
    _, stderr = proc.communicate(timeout=20)
    # when kpi report has ended, so has everything it started
    left = _processes(mark)
    assert not left, left
    _one_line_errors(stderr)
    if stop == signal.SIGTERM:
        assert proc.returncode == 128 + stop
        assert stderr.splitlines()[-1] == (
            "kpi report: stopped by signal 15; published reports are untouched"
        )
    else:
        assert proc.returncode == 130
        assert stderr.splitlines()[-1] == "kpi: interrupted"
    time.sleep(3)  # longer than the notebooks would still have run
    assert _snapshot(out) == before
    assert not list((out / ".work").iterdir())


def test_a_worker_ends_when_the_pipe_from_its_parent_closes():
    # the portable watch (where PR_SET_PDEATHSIG does not exist): the parent's end of the
    # pipe closes however the parent ends; here it is closed by hand
    from kpi.report import _many

    workers = _many._Workers(1)
    slot = workers.start()
    try:
        slot.lifeline.close()
        slot.process.join(timeout=20)
        assert slot.process.exitcode == 128 + signal.SIGTERM
    finally:
        if slot.process.is_alive():
            slot.process.kill()
        slot.jobs.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_of_a_single_render_ends_its_kernel_and_work_files(tmp_path, stop):
    out = tmp_path / "reports"
    [(nb, marker)] = _sleepers(tmp_path, ["sleep_a"], sleep_s=30.0)
    _publish_fake(out, "sleep_a")
    before = _snapshot(out)
    mark, env = _marked()
    proc = _start([str(nb)], out, env)
    _wait_started([marker], proc)
    proc.send_signal(stop)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == (128 + stop if stop == signal.SIGTERM else 130)
    _one_line_errors(stderr)
    assert not _processes(mark)
    assert _snapshot(out) == before
    assert not list((out / ".work").iterdir())


def test_kill_9_of_a_single_render_takes_its_kernel_with_it(tmp_path):
    out = tmp_path / "reports"
    [(nb, marker)] = _sleepers(tmp_path, ["sleep_a"], sleep_s=30.0)
    mark, env = _marked()
    proc = _start([str(nb)], out, env)
    _wait_started([marker], proc)
    assert len(_processes(mark)) == 2  # kpi report and its kernel
    proc.kill()  # the process only, not its group: the kernel must notice by itself
    proc.communicate(timeout=10)
    _nothing_left(mark)
    # the kernel's private directory (connection file, sockets) goes with the next render
    assert list(Path(tempfile.gettempdir()).glob(f"kpi-kernel-{proc.pid}-*"))
    assert _run([FAST], out).returncode == 0
    assert not list(Path(tempfile.gettempdir()).glob(f"kpi-kernel-{proc.pid}-*"))


def test_a_worker_that_dies_fails_its_report_only(tmp_path):
    out = tmp_path / "reports"
    made = _sleepers(tmp_path, ["sleep_a", "sleep_b"], sleep_s=1.0)
    victim = tmp_path / "notebooks" / "victim.ipynb"
    victim_started = tmp_path / "victim.started"
    _notebook(
        tmp_path / "notebooks",
        "victim",
        # the kernel kills its parent, the worker, as the out-of-memory killer might
        "import os, pathlib, signal, time\n"
        "pathlib.Path(marker).write_text('started')\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n"
        "time.sleep(30)",
        marker=str(victim_started),
    )
    mark, env = _marked()
    args = [str(victim)] + [str(nb) for nb, _ in made] + ["--jobs", "2"]
    proc = _run(args, out, env=env)
    assert proc.returncode == 1, proc.stderr
    _one_line_errors(proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert errors[0].startswith(
        f"kpi report: error: victim {TODAY} failed: its worker process ended unexpectedly "
        "(signal 9)"
    )
    for name in ("sleep_a", "sleep_b"):
        assert (out / name / TODAY / f"{name}-{TODAY}.html").exists()
    failed = json.loads((out / "victim" / TODAY / "failed.json").read_text())
    assert "worker process ended unexpectedly" in failed["error"]
    _nothing_left(mark)


def test_a_kernel_that_dies_fails_its_report_in_one_line(tmp_path):
    out = tmp_path / "reports"
    nb = _notebook(tmp_path, "dies", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    proc = _run([str(nb)], out)
    assert proc.returncode == 1
    _one_line_errors(proc.stderr)
    assert [line for line in proc.stderr.splitlines() if "rror" in line or "died" in line] == [
        f"kpi report: error: dies {TODAY} failed: DeadKernelError: Kernel died; failed notebook "
        f"kept at {out / 'dies' / TODAY / f'dies-{TODAY}.failed.ipynb'}; no previous report"
    ]


# --------------------------------------------------------------------------------------------
# A full disk
# --------------------------------------------------------------------------------------------


def test_a_full_disk_fails_one_report_and_the_others_go_on(tmp_path, monkeypatch):
    out = tmp_path / "reports"
    nbs = [_notebook(tmp_path, name, "print('hello')") for name in ("one", "two", "three")]
    _publish_fake(out, "two")
    previous = (out / "two" / TODAY / f"two-{TODAY}.html").read_bytes()
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):  # the disk fills up as "two" is published
        if Path(dst).name == f"two-{TODAY}.html":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(_render.os, "replace", replace)
    rendered, failed = report.render_many(nbs, out_dir=out, progress=False)
    assert [p.parent.parent.name for p in rendered] == ["one", "three"]
    [error] = failed
    assert str(error).startswith(
        f"two {TODAY}: cannot write {out / 'two' / TODAY / f'two-{TODAY}.html'}: "
        "No space left on device"
    )
    assert "\n" not in str(error)
    assert (out / "two" / TODAY / f"two-{TODAY}.html").read_bytes() == previous
    assert (
        "No space left" in json.loads((out / "two" / TODAY / "failed.json").read_text())["error"]
    )
    index = (out / "index.html").read_text()
    assert 'href="one/' in index
    assert 'href="three/' in index
    assert "last run failed" in index
    assert not list((out / ".work").iterdir())


@pytest.fixture
def small_disk(tmp_path):
    """A 2.5 MB tmpfs (root only; skipped where mounting is not permitted)."""
    disk = tmp_path / "small"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2500k", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.skipif(not (SAMPLES / "contacts.parquet").exists(), reason="no sample data")
def test_a_real_full_disk_during_report_all(small_disk):
    # each sample report is about 1 MB: two fit, the others meet a full disk
    proc = _run(["--all", "--data", str(SAMPLES), "--jobs", "2"], small_disk)
    assert proc.returncode == 1
    _one_line_errors(proc.stderr)
    names = [report.report_name(p) for p in report.list_reports()]
    done = [n for n in names if f"] {n} done in" in proc.stderr]
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert done
    assert len(done) + len(errors) == len(names)  # every report ran
    assert all("No space left on device" in line for line in errors), errors
    assert f"kpi report: {len(errors)} of {len(names)} report(s) failed" in proc.stderr
    for name in done:  # what succeeded is complete and listed
        html = next((small_disk / name).glob("*/*.html")).read_text()
        assert html.rstrip().endswith("</html>")
        assert f'href="{name}/' in (small_disk / "index.html").read_text()
    for failed in small_disk.rglob("*.failed.ipynb"):  # a kept notebook is a whole one
        nbformat.read(failed, as_version=4)
    assert not list((small_disk / ".work").iterdir())
    assert not list(small_disk.rglob(".*.tmp"))


# --------------------------------------------------------------------------------------------
# Bad output directories and time limits: one line, exit 2, before anything runs
# --------------------------------------------------------------------------------------------


def test_an_out_that_is_a_file_or_under_a_file(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    proc = _run([FAST], a_file)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"kpi report: error: output directory {a_file} is a file, not a directory\n"
    )
    proc = _run([FAST], a_file / "sub")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"kpi report: error: output directory {a_file / 'sub'} cannot be written: "
        "Not a directory\n"
    )


def test_a_read_only_out(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    if os.geteuid() == 0:  # root writes through permissions: a read-only file system
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(out)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.decode().strip()}")
        reason = "Read-only file system"
    else:
        out.chmod(0o555)
        reason = "Permission denied"
    try:
        for where in (out, out / "reports"):
            proc = _run([FAST], where)
            assert proc.returncode == 2
            _one_line_errors(proc.stderr)
            assert proc.stderr.startswith(
                f"kpi report: error: output directory {where} cannot be written: {reason}"
            )
            assert proc.stderr.count("\n") == 1
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(out)], check=False)
        else:
            out.chmod(0o755)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e400", "604801"])
def test_bad_cell_time_limits_are_refused_before_anything_runs(tmp_path, value):
    out = tmp_path / "reports"
    proc = _run([FAST, f"--cell-timeout-s={value}"], out)
    assert proc.returncode == 2
    assert proc.stderr == (
        "kpi report: error: cell timeout must be a positive number of seconds "
        f"(at most 604800), got {float(value)}\n"
    )
    assert not out.exists()


def test_fractional_cell_time_limits_are_rounded_up(tmp_path):
    assert _render._plan(FAST, cell_timeout_s=1800.5).cell_timeout_s == 1801
    assert _render._plan(FAST, cell_timeout_s=0.1).cell_timeout_s == 1
    out = tmp_path / "reports"
    proc = _run([FAST, "--cell-timeout-s", "1800.5"], out)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------------------------
# Leftovers and concurrent runs
# --------------------------------------------------------------------------------------------


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "reports"
    folder = out / "no_parameters" / TODAY
    folder.mkdir(parents=True)
    leftovers = [out / ".index.html.abc123.tmp", folder / ".report.json.def456.tmp"]
    for p in leftovers:
        p.write_text("half")
    proc = _run([FAST], out)
    assert proc.returncode == 0, proc.stderr
    assert not any(p.exists() for p in leftovers)


def test_two_runs_of_several_reports_into_one_directory(tmp_path):
    out = tmp_path / "reports"
    made = _sleepers(tmp_path, ["sleep_a", "sleep_b"], sleep_s=0.5)
    args = [str(nb) for nb, _ in made] + ["--jobs", "2"]
    mark, env = _marked()
    procs = [_start(args, out, env) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    for name in ("sleep_a", "sleep_b"):
        folder = out / name / TODAY
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{name}-{TODAY}.html", f"{name}-{TODAY}.ipynb", "report.json"]
        )
    assert not list((out / ".work").iterdir())
    _nothing_left(mark)
