"""Faults during ``kpi import``: a full disk, kills, concurrent imports, read-only places.

After any failure the dataset directory holds exactly the previous consistent import (table,
``dataset.json``, report and quarantine from the same run); after a kill the next run (or
reader) completes or clears what was left; every completed import has read = loaded +
quarantined. Kills are real processes: ``KPI_TEST_KILL_AT`` (a test hook in ``kpi._fs``) makes
an import SIGKILL itself at a named step of the switch, and a timed SIGKILL lands anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import kpi
from kpi._fs import JOURNAL_FILE, STAGING_PREFIX, Staging
from kpi.errors import KpiError
from kpi.io import import_file

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "tests" / "data" / "acd_mapping.toml"
SMALL = ROOT / "tests" / "data" / "acd_export.csv"


def _big_csv(path: Path, n: int = 200_000, prefix: str = "B") -> Path:
    """An ACD export of ``n - 1`` good calls and one bad one (the import quarantines 1 row)."""
    ids = [f"{prefix}-{i}" for i in range(n)]
    frame = pl.DataFrame(
        {
            "Call ID": ids,
            "Date": ["29/03/2025"] * n,
            "Start Time": [f"{9 + i % 8:02d}:{i % 60:02d}:00" for i in range(n)],
            "Skill": ["Billing"] * n,
            "Agent": ["ann"] * n,
            "Result": ["ANS"] * (n - 1) + ["XFR"],
            "Wait": ["0:15"] * n,
            "Talk Time": ["00:03:20"] * n,
            "Hold": ["0:00"] * n,
            "Wrap": ["0:30"] * n,
            "Transferred": ["N"] * n,
            "Reason": ["invoice"] * n,
            "Caller": [f"C{i % 977}" for i in range(n)],
        }
    )
    frame.write_csv(path, separator=";")
    return path


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kpi", "import", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def _import_args(src: Path, out: Path, *extra: str) -> list[str]:
    return ["--input", str(src), "--mapping", str(MAPPING), "--out", str(out), "--quiet", *extra]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def assert_consistent(root: Path) -> dict:
    """One import per table: table, report, quarantine and dataset.json agree; no leftovers."""
    kpi.load(root)  # a reader completes an interrupted switch
    names = {p.name for p in root.iterdir()}
    assert JOURNAL_FILE not in names
    assert not [n for n in names if n.startswith(STAGING_PREFIX) or n.endswith(".tmp")]
    report = json.loads((root / "import_report.json").read_text())
    meta = json.loads((root / "dataset.json").read_text())
    for table, rec in report["tables"].items():
        assert rec["read"] == rec["loaded"] + rec["quarantined"]
        frame = pl.read_parquet(root / f"{table}.parquet")
        earlier = rec.get("earlier_imports", [])
        assert frame.height == rec["output"]["rows_in_table"]
        files = {Path(r["input"]).name for r in [*earlier, rec]}
        assert set(frame["source_file"]) <= files
        assert Path(rec["input"]).name in set(frame["source_file"])
        qfile = root / "quarantine" / f"{table}.csv"
        q = pl.read_csv(qfile, infer_schema=False).height if qfile.exists() else 0
        assert q == rec["quarantined"] + sum(r["quarantined"] for r in earlier)
        mine = [s for s in meta["sources"] if s["table"] == table]
        assert Path(mine[-1]["file"]).name == Path(rec["input"]).name
    assert {k: v for k, v in report.items() if k != "tables"} == report["tables"][report["table"]]
    return report


# ------------------------------------------------------------------------------ a full disk


@pytest.mark.parametrize(
    "failing",
    ["contacts.parquet", "quarantine/contacts.csv", "import_report.json", "dataset.json"],
)
def test_full_disk_leaves_the_previous_import(tmp_path, monkeypatch, failing):
    out = tmp_path / "ds"
    first = import_file(SMALL, mapping=MAPPING, out=out)
    assert first.report.read == first.report.loaded + first.report.quarantined
    before = snapshot(out)
    real = Staging.write

    def full(self, name, write):
        if name == failing:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.root / name))
        return real(self, name, write)

    monkeypatch.setattr(Staging, "write", full)
    big = _big_csv(tmp_path / "big.csv", 1_000)
    with pytest.raises(KpiError) as err:
        import_file(big, mapping=MAPPING, out=out)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{out / failing}: cannot write (No space left on device)" in msg
    assert snapshot(out) == before  # the old dataset, whole, and nothing left beside it
    assert_consistent(out)


def test_full_disk_on_a_real_small_tmpfs(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        out = disk / "ds"
        done = _cli(*_import_args(SMALL, out))
        assert done.returncode == 0, done.stderr
        before = snapshot(out)
        failed = _cli(*_import_args(_big_csv(tmp_path / "big.csv"), out))
        assert failed.returncode == 2
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "Traceback" not in failed.stderr
        assert "No space left on device" in lines[0]
        assert str(out) in lines[0]
        assert snapshot(out) == before
        assert_consistent(out)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ------------------------------------------------------------------------------------ kills


@pytest.mark.parametrize("step", ["staged", "switching", "switched"])
def test_kill_at_each_step_of_the_switch(tmp_path, step):
    out = tmp_path / "ds"
    assert _cli(*_import_args(SMALL, out)).returncode == 0
    before = snapshot(out)
    big = _big_csv(tmp_path / "big.csv", 5_000)
    killed = _cli(*_import_args(big, out), env={"KPI_TEST_KILL_AT": step})
    assert killed.returncode == -signal.SIGKILL
    report = assert_consistent(out)  # the reader completes or ignores what was left
    if step == "staged":  # before the journal: the old import stands
        assert report["input"].endswith("acd_export.csv")
        assert snapshot(out) == before
    else:  # after it: the new import, whole
        assert report["input"].endswith("big.csv")
        assert report["read"] == 5_000
        assert report["loaded"] == 4_999
    again = _cli(*_import_args(SMALL, out))
    assert again.returncode == 0, again.stderr
    assert_consistent(out)["input"].endswith("acd_export.csv")


def test_kill_anywhere_leaves_old_or_new(tmp_path):
    """SIGKILL at varying moments of a real import: old or new, never a mix; leftovers go."""
    out = tmp_path / "ds"
    big = _big_csv(tmp_path / "big.csv")
    assert _cli(*_import_args(SMALL, out)).returncode == 0
    seen = set()
    for delay in (0.4, 0.8, 1.1, 1.4, 1.8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "kpi", "import", *_import_args(big, out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        seen.add(Path(assert_consistent(out)["input"]).name)
        # the next import removes whatever the killed one left and succeeds
        assert _cli(*_import_args(SMALL, out)).returncode == 0
        assert_consistent(out)
    assert seen <= {"acd_export.csv", "big.csv"}


def test_leftovers_of_older_versions_are_removed(tmp_path):
    out = tmp_path / "ds"
    import_file(SMALL, mapping=MAPPING, out=out)
    (out / ".contacts.parquet.k2j3h4.tmp").write_bytes(b"PAR1 half")
    (out / "quarantine" / ".contacts.csv.a1b2.tmp").write_text("half")
    (out / f"{STAGING_PREFIX}dead").mkdir()
    import_file(SMALL, mapping=MAPPING, out=out)
    assert sorted(p.name for p in out.rglob("*")) == [
        "contacts.csv",
        "contacts.parquet",
        "dataset.json",
        "import_report.json",
        "quarantine",
    ]


def test_concurrent_imports_into_one_directory_all_land(tmp_path):
    """Writers take the directory's lock in turn: appends from three processes all count."""
    out = tmp_path / "ds"
    srcs = [_big_csv(tmp_path / f"part{k}.csv", 400, prefix=f"P{k}") for k in range(3)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kpi", "import", *_import_args(s, out, "--append")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for s in srcs
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    report = assert_consistent(out)
    assert pl.read_parquet(out / "contacts.parquet").height == 3 * 399
    assert len(report["earlier_imports"]) == 2
    meta = json.loads((out / "dataset.json").read_text())
    assert sorted(Path(s["file"]).name for s in meta["sources"]) == [s.name for s in srcs]


# ------------------------------------------------------------------- where it cannot write


def test_read_only_quarantine_directory_is_one_line_and_changes_nothing(tmp_path):
    out = tmp_path / "ds"
    import_file(SMALL, mapping=MAPPING, out=out)
    qdir = out / "quarantine"
    if os.geteuid() == 0:
        ro = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(qdir)], capture_output=True
        )
        if ro.returncode != 0:
            pytest.skip(f"root, and cannot mount a read-only tmpfs: {ro.stderr.decode()}")
    else:
        qdir.chmod(0o555)
    try:
        before = snapshot(out)
        done = _cli(*_import_args(SMALL, out))
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert str(qdir) in done.stderr
        assert "cannot write" in done.stderr
        assert snapshot(out) == before
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(qdir)], check=False)
        else:
            qdir.chmod(0o755)


# ---------------------------------------------------------------- siblings: kpi sample


def _sample(out: Path, *extra: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kpi",
            "sample",
            "--out",
            str(out),
            "--scale",
            "tiny",
            "--months",
            "1",
            "--quiet",
            "--no-csv",
            *extra,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_kpi_sample_killed_while_switching_leaves_old_or_new(tmp_path):
    out = tmp_path / "s"
    assert _sample(out, "--seed", "1").returncode == 0
    before = snapshot(out)
    killed = _sample(out, "--seed", "2", env={"KPI_TEST_KILL_AT": "staged"})
    assert killed.returncode == -signal.SIGKILL
    kpi.load(out)  # a reader clears the dead writer's staging directory
    assert snapshot(out) == before
    killed = _sample(out, "--seed", "2", env={"KPI_TEST_KILL_AT": "switching"})
    assert killed.returncode == -signal.SIGKILL
    assert kpi.load(out).meta["seed"] == 2  # rolled forward: the new sample, whole
    assert json.loads((out / "scenario.json").read_text())["seed"] == 2
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_kpi_sample_out_onto_a_file_is_one_line(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    done = _sample(a_file)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"kpi sample: error: --out {a_file} is a file; give a directory (created if missing)"
    )
