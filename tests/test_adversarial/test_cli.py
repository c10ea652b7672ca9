"""Bad arguments for every subcommand, hostile names in the data, file-system faults.

The rules: no run prints a traceback; an error is one line, ``kpi COMMAND: error: ...``,
naming the problem, with exit 2 for a mistake in the arguments or input and 1 for a fault of
the file system or the data; and every output (table, narrative, CSV, JSON, error) is safe for
whoever reads it. Add a case to :data:`BAD_ARGUMENTS` for each new way in which a command was
found to fail.

Placeholders in arguments: ``{data}`` a tiny hostile dataset, ``{samples}`` the committed
sample, ``{tmp}`` a fresh directory, ``{file}`` a regular file in it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kpi.cli import COMMANDS

from .conftest import (
    HOSTILE,
    ROOT,
    SAMPLES,
    assert_no_traceback,
    assert_one_error,
    assert_terminal_safe,
    run_kpi,
)

#: (arguments, exit status, fragments of the one error line). The command is the first word.
# fmt: off
BAD_ARGUMENTS = [
    # --- kpi itself
    (["bogus"], 2, ["invalid choice: 'bogus'"]),
    (["--bogus"], 2, ["unrecognized arguments: --bogus"]),
    # --- sample
    (["sample", "--out", "{tmp}/s", "--start", "9999-12-01"], 2, ["--start", "9999-12-01", "1900 to 2100"]),
    (["sample", "--out", "{tmp}/s", "--start", "0001-01-01"], 2, ["0001-01-01", "1900 to 2100"]),
    (["sample", "--out", "{tmp}/s", "--start", "2100-12-01", "--months", "2"], 2, ["runs past 2100"]),
    (["sample", "--out", "{tmp}/s", "--start", "next tuesday"], 2, ["expected a date like 2026-01-01"]),
    (["sample", "--out", "{tmp}/s", "--start", "2026-02-30"], 2, ["bad period '2026-02-30'"]),
    (["sample", "--out", "{tmp}/s", "--months", "0"], 2, ["--months 0"]),
    (["sample", "--out", "{tmp}/s", "--months", "1e9"], 2, ["--months '1e9'"]),
    (["sample", "--out", "{tmp}/s", "--seed", "-1"], 2, ["--seed -1"]),
    (["sample", "--out", "{tmp}/s", "--staffing", "inf"], 2, ["staffing inf"]),
    (["sample", "--out", "{tmp}/s", "--staffing", "nan"], 2, ["staffing nan"]),
    (["sample", "--out", "{tmp}/s", "--scale", "1e400"], 2, ["unknown scale '1e400'"]),
    (["sample", "--out", "{tmp}/s", "--interval-min", "7"], 2, ["15 or 30 minutes"]),
    (["sample", "--out", "{tmp}/s", "--tz", "../../etc/passwd"], 2, ["unknown time zone"]),
    (["sample", "--out", "{file}", "--scale", "tiny"], 2, ["{file}"]),
    (["sample"], 2, ["missing --out"]),
    # --- metrics
    (["metrics", "--format", "csv"], 2, ["--format", "invalid choice: 'csv'"]),
    (["metrics", "--format", ""], 2, ["--format", "invalid choice: ''"]),
    # --- compute
    (["compute", "--data", "{data}", "--metrics", "aht", "--start", "1900-01-01", "--end", "9999-12-31"], 2, ["--end", "9999-12-31", "1900 to 2100"]),
    (["compute", "--data", "{data}", "--metrics", "aht", "--start", "1899-12"], 2, ["--start", "1899-12"]),
    (["compute", "--data", "{data}", "--metrics", "aht", "--start", "9999-12-31T23:00"], 2, ["9999-12-31T23:00"]),
    (["compute", "--data", "{data}", "--metrics", "service_level", "--param", "service_level.threshold_s=1e400"], 2, ["service_level.threshold_s=1e400", "finite"]),
    (["compute", "--data", "{data}", "--metrics", "service_level", "--param", "service_level.threshold_s=inf"], 2, ["finite"]),
    (["compute", "--data", "{data}", "--metrics", "service_level", "--param", "service_level.threshold_s=nan"], 2, ["finite"]),
    (["compute", "--data", "{data}", "--metrics", "aht", "--format", "parquet"], 2, ["--format parquet needs --out"]),
    (["compute", "--data", "{data}", "--metrics", "aht", "--out", "{tmp}"], 2, ["--out", "is a directory"]),
    (["compute", "--data", "{data}", "--metrics", "aht", "--out", "{file}/x.csv"], 2, ["--out", "is a file, not a directory"]),
    (["compute", "--data", "{tmp}/nope", "--metrics", "aht"], 2, ["/nope"]),
    (["compute", "--data", "{data}", "--metrics", ""], 2, []),
    (["compute", "--data", "{data}", "--metrics", "aht", "--by", '\x1b[2Jcolour'], 2, ['\\x1b[2Jcolour']),
    (["compute", "--data", "{data}", "--metrics", "aht", "--every", "2d"], 2, ["invalid choice: '2d'"]),
    (["compute", "--data", "{data}", "--metrics", "aht", "--targets", "{tmp}"], 1, ["{tmp}", "Is a directory"]),
    (["compute", "--data", "{data}", "--metrics", "aht", "--param", "x=1"], 2, ["bad --param 'x=1'"]),
    (["compute", "--data", "{samples}", "--metrics", "aht,contacts_offered", "--start", "2030-01-01", "--end", "2030-02-01"], 2, ["no data from 2030-01-01 to 2030-02-01", "contacts cover 2026-01-01 to 2026-03-31"]),
    (["compute", "--data", "{samples}", "--metrics", "aht", "--start", "2026-03-01", "--end", "2026-01-01"], 2, ["--start 2026-03-01 is after --end 2026-01-01"]),
    (["compute", "--data", "{samples}", "--metrics", "aht", "--by", "team,team"], 2, ["--by names 'team' twice"]),
    # --- import (its arguments; the importer's faults are in test_import.py)
    (["import", "--input", "{tmp}/none.csv", "--preset", "contacts", "--tz", "UTC", "--out", "{tmp}/ds"], 2, ["none.csv"]),
    (["import", "--input", "{file}", "--preset", "bogus", "--out", "{tmp}/ds"], 2, ["invalid choice: 'bogus'"]),
    (["import", "--input", "{file}", "--preset", "interval", "--out", "{tmp}/ds", "--threshold-s", "-1"], 2, ["--threshold-s"]),
    (["import", "--input", "{file}", "--preset", "contacts", "--out", "{tmp}/ds", "--skip-rows", "-1"], 2, ["--skip-rows"]),
    # --- explain
    (["explain", "--table", "{tmp}/none.csv", "--dims", "a", "--baseline-col", "x", "--current-col", "y"], 2, ["no such file", "none.csv"]),
    (["explain", "--table", "{file}", "--dims", "a", "--baseline-col", "x", "--current-col", "y"], 2, ["unsupported table file"]),
    (["explain", "--table", "{tmp}/t.parquet", "--dims", "a", "--baseline-col", "x", "--current-col", "y", "--scale", "inf"], 2, ["--scale", "'inf'"]),
    (["explain", "--table", "{tmp}/t.parquet", "--dims", "a", "--max-segments", "0"], 2, ["--max-segments", "'0'"]),
    (["explain", "--table", "{tmp}/t.parquet", "--dims", "a", "--max-segments", "1e9"], 2, ["--max-segments"]),
    (["explain", "--data", "{data}", "--metric", "aht", "--baseline", "0001-01", "--current", "2026-02"], 2, ["--baseline", "0001-01", "1900 to 2100"]),
    (["explain", "--data", "{data}", "--metric", "aht"], 2, ["--baseline, --current required"]),
    (["explain", "--data", "{data}", "--metric", "aht", "--baseline", "2026-01", "--current", "2026-02", "--out", "{tmp}"], 2, ["--out", "is a directory"]),
    # --- staffing
    (["staffing", "--volume", "inf", "--interval-min", "30", "--aht-s", "180"], 2, ["--volume", "'inf'", "from 0 to 1e+07"]),
    (["staffing", "--volume", "1e300", "--interval-min", "30", "--aht-s", "180"], 2, ["--volume", "'1e300'"]),
    (["staffing", "--volume", "nan", "--interval-min", "30", "--aht-s", "180"], 2, ["--volume", "'nan'"]),
    (["staffing", "--volume", "100", "--interval-min", "1e-300", "--aht-s", "180"], 2, ["--interval-min", "'1e-300'", "from 1 to 1440"]),
    (["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "1e400"], 2, ["--aht-s"]),
    (["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180", "--threshold-s", "inf"], 2, ["--threshold-s"]),
    (["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180", "--target-sl", "1"], 2, ["--target-sl", "below 1"]),
    (["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180", "--patience-s", "1e400"], 2, ["--patience-s", "1e400"]),
    (["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180", "--shrinkage", "-0.1"], 2, ["--shrinkage"]),
    (["staffing", "--volume", "100", "--interval-min", "30", "--aht-s", "180", "--format", "csv"], 2, ["needs --data"]),
    (["staffing", "--data", "{samples}", "--format", "parquet"], 2, ["--format parquet needs --out"]),
    (["staffing", "--data", "{samples}", "--every", "7m"], 2, ["'7m'", "divide the day"]),
    (["staffing", "--data", "{samples}", "--every", "15m"], 2, ["'15m'", "30-minute intervals"]),
    (["staffing", "--data", "{samples}", "--every", "99999999999m"], 2, ["bad interval"]),
    (["staffing", "--data", "{samples}", "--what-if", "agents[team=Nope]=+1"], 2, ["no team 'Nope'", "teams: Email, North"]),
    (["staffing", "--data", "{samples}", "--what-if", "agents=lots"], 2, ["bad what-if 'agents=lots'"]),
    (["staffing", "--data", "{samples}", "--by", "colour"], 2, ["colour"]),
    (["staffing", "--data", "{samples}", "--out", "{tmp}"], 2, ["--out", "is a directory"]),
    # --- report (its arguments only: no case here may start a render)
    (["report", "overview", "--period", "0001-01"], 2, ["0001-01", "1900 to 2100"]),
    (["report"], 2, ["give a report NAME or --all"]),
    (["report", "overview", "--jobs", "0"], 2, ["--jobs"]),
    # --- cube
    (["cube", "info", "--data", "{tmp}/nope"], 2, ["nope does not exist"]),
    (["cube", "build", "--data", "{file}"], 2, ["is a file, not a dataset directory"]),
    (["cube", "bogus", "--data", "{samples}"], 2, ["invalid choice: 'bogus'"]),
    # --- forecast and schedule (more cases in test_forecast.py and test_schedule.py)
    (["forecast", "--data", "{samples}", "--horizon", "0d"], 2, ["bad horizon '0d'", "at most 366 days"]),
    (["forecast", "--data", "{samples}", "--every", "7m"], 2, ["--every", "'7m'"]),
    (["schedule", "--data", "{samples}", "--week", "2026-W99"], 2, ["'2026-W99'", "no week 99"]),
    (["schedule", "--data", "{samples}", "--week", "2026-W07", "--time-limit-s", "-1"], 2, ["--time-limit-s", "from 1 to 86400"]),
]
# fmt: on


def _fill(arg: str, paths: dict[str, str]) -> str:
    for key, value in paths.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


@pytest.fixture
def paths(tmp_path: Path, hostile_dataset: Path) -> dict[str, str]:
    afile = tmp_path / "file.txt"
    afile.write_text("not a table\n")
    return {
        "data": str(hostile_dataset),
        "samples": str(SAMPLES),
        "tmp": str(tmp_path),
        "file": str(afile),
    }


def test_every_command_is_in_the_corpus():
    assert {args[0] for args, _, _ in BAD_ARGUMENTS if args[0] in COMMANDS} == set(COMMANDS)


@pytest.mark.parametrize(
    ("args", "rc", "fragments"),
    BAD_ARGUMENTS,
    ids=[" ".join(a)[:70] for a, _, _ in BAD_ARGUMENTS],
)
def test_bad_argument_is_one_line(paths, args, rc, fragments):
    result = run_kpi(*(_fill(a, paths) for a in args))
    command = args[0] if args[0] in COMMANDS else ""
    assert_one_error(result, command, *(_fill(f, paths) for f in fragments), rc=rc)


def test_debug_shows_the_traceback(paths):
    args = ["staffing", "--data", paths["samples"], "--every", "7m"]
    for result in (
        run_kpi("--debug", *args),
        run_kpi(*args, "--debug"),
        run_kpi(*args, env={"KPI_DEBUG": "1"}),
    ):
        assert result.rc == 2
        assert "Traceback (most recent call last)" in result.stderr
        assert result.stderr.splitlines()[-1].startswith("kpi staffing: error: bad interval")
    assert "--debug" in run_kpi("--help").stdout
    assert "KPI_DEBUG" in run_kpi("--help").stdout


# ------------------------------------------------------------------------- hostile data


def test_compute_table_escapes_terminal_controls(hostile_dataset):
    result = run_kpi(
        "compute", "--data", hostile_dataset, "--metrics", "contacts_offered,aht",
        "--by", "team,queue,topic,site",
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    assert_no_traceback(result.stderr)
    assert_terminal_safe(result.stdout + result.stderr)
    assert "Bil\\x1b[2J\\x1b[31mling" in result.stdout  # shown, not obeyed


def test_compute_csv_neutralises_formulas(hostile_dataset, tmp_path):
    args = ["compute", "--data", hostile_dataset, "--metrics", "contacts_offered"]
    args += ["--by", "team,queue,topic", "--format", "csv"]
    safe = run_kpi(*args)
    assert safe.rc == 0, safe.stderr
    rows = list(csv.DictReader(io.StringIO(safe.stdout)))
    cells = [row[c] for row in rows for c in ("team", "queue", "topic")]
    assert "'" + HOSTILE["formula"] in cells
    assert "'" + HOSTILE["at"] in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    raw = run_kpi(*args, "--raw-csv", "--out", tmp_path / "raw.csv")
    assert raw.rc == 0, raw.stderr
    with (tmp_path / "raw.csv").open(newline="") as f:
        raw_cells = [row["team"] for row in csv.DictReader(f)]
    assert HOSTILE["formula"] in raw_cells
    assert "--raw-csv" in run_kpi("compute", "--help").stdout


def test_compute_json_is_strict_and_escaped(hostile_dataset):
    result = run_kpi(
        "compute", "--data", hostile_dataset, "--metrics", "all", "--by", "team",
        "--format", "json",
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    assert_terminal_safe(result.stdout)
    doc = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert {row["team"] for row in doc["rows"]} >= {HOSTILE["formula"], HOSTILE["escape"]}


def test_staffing_outputs_are_safe(hostile_dataset):
    every = ["--every", "8h"]  # the tiny dataset's agent time is counted in 8-hour intervals
    table = run_kpi("staffing", "--data", hostile_dataset, "--by", "team", *every)
    assert table.rc == 0, table.stderr
    assert_terminal_safe(table.stdout + table.stderr)
    assert "Bil\\x1b[2J" in table.stdout
    csv_run = run_kpi(
        "staffing", "--data", hostile_dataset, "--by", "team", *every, "--format", "csv"
    )
    assert csv_run.rc == 0, csv_run.stderr
    teams = {row["team"] for row in csv.DictReader(io.StringIO(csv_run.stdout))}
    assert "'" + HOSTILE["formula"] in teams
    assert HOSTILE["formula"] not in teams
    assert "--raw-csv" in run_kpi("staffing", "--help").stdout


def test_staffing_what_if_error_quotes_data_safely(hostile_dataset):
    result = run_kpi(
        "staffing", "--data", hostile_dataset, "--every", "8h", "--what-if", "agents[team=Nope]=+1"
    )
    line = assert_one_error(result, "staffing", "no team 'Nope'", rc=2)
    assert "Bil\\x1b[2J" in line


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_explain_outputs_are_safe(hostile_dataset, fmt):
    result = run_kpi(
        "explain", "--data", hostile_dataset, "--metric", "contacts_offered",
        "--baseline", "2026-01", "--current", "2026-02", "--dims", "team,queue,topic",
        "--format", fmt,
    )  # fmt: skip
    assert result.rc == 0, result.stderr
    assert_no_traceback(result.stderr)
    assert_terminal_safe(result.stdout + result.stderr)
    if fmt == "json":
        json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


def test_metrics_outputs_are_safe():
    for fmt in ("table", "json"):
        result = run_kpi("metrics", "--format", fmt)
        assert result.rc == 0, result.stderr
        assert_terminal_safe(result.stdout)


# ---------------------------------------------------------------------- file-system faults


def _small_file_limit() -> None:
    """A "full disk" for the child: writes past 4 KiB fail with EFBIG (SIGXFSZ ignored)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


#: Commands whose output is larger than 4 KiB: (arguments without --out, file name).
BIG_OUTPUTS = [
    (
        [
            "compute",
            "--data",
            str(SAMPLES),
            "--metrics",
            "all",
            "--by",
            "team",
            "--every",
            "1d",
            "--format",
            "csv",
        ],
        "out.csv",
    ),
    (
        [
            "compute",
            "--data",
            str(SAMPLES),
            "--metrics",
            "all",
            "--by",
            "queue",
            "--every",
            "1h",
            "--format",
            "parquet",
        ],
        "out.parquet",
    ),
    (["staffing", "--data", str(SAMPLES), "--format", "json"], "out.json"),
    (
        [
            "explain",
            "--data",
            str(SAMPLES),
            "--metric",
            "contacts_handled",
            "--baseline",
            "2026-01",
            "--current",
            "2026-02",
            "--format",
            "json",
            "--max-segments",
            "1000",
        ],
        "out.json",
    ),
]


@pytest.mark.parametrize(("args", "name"), BIG_OUTPUTS, ids=lambda x: str(x)[:40])
def test_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, args, name):
    target = tmp_path / name
    target.write_text("old\n")
    result = run_kpi(*args, "--out", target, preexec_fn=_small_file_limit)
    if result.rc == 0:
        pytest.skip(f"{args[0]} wrote less than 4 KiB: {target.stat().st_size} bytes")
    assert_one_error(result, args[0], str(target), "File too large", rc=1)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_out_in_a_missing_directory_is_created(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.csv"
    result = run_kpi(
        "compute", "--data", SAMPLES, "--metrics", "aht", "--format", "csv", "--out", target
    )
    assert result.rc == 0, result.stderr
    assert target.read_text().startswith("aht\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_unwritable_out_directory_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_kpi(
            "compute", "--data", SAMPLES, "--metrics", "aht", "--out", locked / "out.txt"
        )
    finally:
        locked.chmod(0o755)
    assert_one_error(result, "compute", str(locked), "Permission denied", rc=1)


def test_devices_and_links_are_written_in_place(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    args = ["compute", "--data", SAMPLES, "--metrics", "aht", "--format", "csv"]
    assert run_kpi(*args, "--out", link).rc == 0
    assert link.is_symlink()
    assert real.read_text().startswith("aht\n")
    assert run_kpi(*args, "--out", os.devnull).rc == 0
    assert Path(os.devnull).is_char_device()


def test_unreadable_data_is_one_line(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "dataset.json").write_text((SAMPLES / "dataset.json").read_text())
    (bad / "contacts.parquet").write_bytes(b"not parquet at all")
    result = run_kpi("compute", "--data", bad, "--metrics", "aht")
    # named when the dataset is opened: the file and why (a mistake in the input: exit 2)
    assert_one_error(
        result, "compute", f"{bad / 'contacts.parquet'} cannot be read as Parquet", rc=2
    )
    table = tmp_path / "t.parquet"
    table.write_bytes(b"PAR1 damaged")
    result = run_kpi(
        "explain", "--table", table, "--dims", "a", "--baseline-col", "x", "--current-col", "y"
    )
    assert_one_error(result, "explain", f"cannot read {table}", rc=2)


def test_closed_pipe_is_quiet():
    """A reader that stops early (``kpi staffing ... | head -1``): exit 0, nothing on stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("KPI_DEBUG", None)
    with subprocess.Popen(
        [sys.executable, "-m", "kpi", "staffing", "--data", str(SAMPLES), "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline().startswith(b"interval_start,")
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
    assert "Error" not in err
    assert_no_traceback(err)


# ---- damaged dataset directories -----------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("table", "cannot be read as Parquet"),
        ("meta_list", "must hold a JSON object"),
        ("meta_json", "is not valid JSON"),
    ],
)
def test_a_damaged_dataset_is_named_in_one_line(tmp_path, damage, fragment):
    ds = tmp_path / "ds"
    ds.mkdir()
    shutil.copy(SAMPLES / "agents.parquet", ds / "agents.parquet")
    (ds / "dataset.json").write_text('{"timezone": "Europe/London"}')
    if damage == "table":
        (ds / "contacts.parquet").write_bytes(b"not parquet at all")
    elif damage == "meta_list":
        (ds / "dataset.json").write_text("[1, 2]")
    else:
        (ds / "dataset.json").write_text("{oops")
    result = run_kpi("compute", "--data", str(ds), "--metrics", "aht")
    assert_one_error(result, "compute", fragment, rc=2)


def test_a_table_file_given_as_the_data_directory(tmp_path):
    result = run_kpi("compute", "--data", str(SAMPLES / "contacts.parquet"), "--metrics", "aht")
    assert_one_error(result, "compute", "is a file, not a dataset directory", rc=2)


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--threshold-s", "inf", "from 0 to 86400 seconds"),
        ("--short-abandon-s", "nan", "from 0 to 86400 seconds"),
        ("--interval-min", "0", "from 1 to 1440 minutes"),
        ("--interval-min", "1e-300", "from 1 to 1440 minutes"),
    ],
)
def test_import_numbers_are_finite_and_in_range(tmp_path, option, value, fragment):
    args = ["--input", str(tmp_path / "x.csv"), "--preset", "interval", "--out", str(tmp_path)]
    result = run_kpi("import", *args, option, value)
    assert_one_error(result, "import", option, fragment, rc=2)
