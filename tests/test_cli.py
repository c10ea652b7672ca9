"""The command line: --help everywhere, one-line errors, compute and metrics outputs."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest
from conftest import SAMPLES
from fixtures_small import small_dataset

from kpi import save
from kpi.cli import COMMANDS, build_parser, main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kpi", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("small")
    save(small_dataset(), path)
    return path


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("kpi-workbench ")


def test_every_registered_command_has_help(capsys):
    parser = build_parser()
    names = list(parser._subparsers._group_actions[0].choices)
    assert names == list(COMMANDS)
    for name in names:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: kpi " + name in capsys.readouterr().out


def test_metrics_json_lists_catalogue():
    out = run("metrics", "--format", "json")
    entries = json.loads(out.stdout)
    assert {e["id"] for e in entries} >= {"service_level", "aht", "agent_enps"}
    sl = next(e for e in entries if e["id"] == "service_level")
    assert "service_level.threshold_s" in [p["name"] for p in sl["params"]]


def test_compute_table_prints_definitions(data_dir):
    out = run(
        "compute",
        "--data",
        str(data_dir),
        "--metrics",
        "service_level,aht",
        "--by",
        "team",
        "--param",
        "service_level.threshold_s=30",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
    )
    assert out.returncode == 0, out.stderr
    assert "SL = answered ≤ 30 s / (answered + abandoned)" in out.stdout
    table = out.stdout.split("definitions:")[0]
    assert "│ A    ┆ 0.6 " in table  # c1, c2, c3 within 30 s of 3 answered + 2 abandoned
    assert "│ B    ┆ 1.0 " in table


def test_compute_json_and_csv(data_dir, tmp_path):
    out = run(
        "compute",
        "--data",
        str(data_dir),
        "--metrics",
        "contacts_handled",
        "--by",
        "team",
        "--every",
        "1mo",
        "--format",
        "json",
    )
    doc = json.loads(out.stdout)
    assert doc["meta"]["definitions"]["contacts_handled"].startswith("handled = ")
    rows = {(r["team"], r["period"][:7]): r["contacts_handled"] for r in doc["rows"]}
    assert rows[("A", "2026-01")] == 3.0
    target = tmp_path / "out.csv"
    out = run(
        "compute",
        "--data",
        str(data_dir),
        "--metrics",
        "aht",
        "--format",
        "csv",
        "--out",
        str(target),
    )
    assert out.returncode == 0
    assert pl.read_csv(target).columns == ["aht"]
    # plain CSV: no comment lines in the file; the definitions go beside it, as JSON
    assert not [line for line in target.read_text().splitlines() if line.startswith("#")]
    assert "#" not in out.stderr
    beside = json.loads((tmp_path / "out.definitions.json").read_text())
    assert beside["definitions"]["aht"].startswith("AHT = ")
    assert "wrote the definitions to" in out.stderr


def test_compute_csv_is_plain_csv_with_definitions_in_a_file(data_dir, tmp_path):
    args = ["compute", "--data", str(data_dir), "--metrics", "aht,abandon_rate"]
    args += ["--by", "team", "--format", "csv"]
    piped = run(*args)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert lines[0] == "team,aht,abandon_rate"
    assert not [line for line in lines if line.startswith("#")]
    assert piped.stderr == ""  # no sidecar for standard output, nothing that looks like data
    defs = tmp_path / "defs" / "kpis.json"
    named = run(*args, "--definitions", str(defs))
    assert named.returncode == 0, named.stderr
    assert named.stdout == piped.stdout
    meta = json.loads(defs.read_text())
    assert set(meta["definitions"]) == {"aht", "abandon_rate"}
    out = tmp_path / "kpis.csv"
    both = run(*args, "--out", str(out), "--definitions", str(defs))
    assert both.returncode == 0, both.stderr
    assert not (tmp_path / "kpis.definitions.json").exists()  # --definitions names the file
    assert out.read_text() == piped.stdout
    same = run(*args, "--out", str(out), "--definitions", str(out))
    assert same.returncode == 2
    assert "name the same file" in same.stderr
    helped = run("compute", "--help")
    assert "--definitions FILE" in helped.stdout
    assert "FILE.definitions.json" in " ".join(helped.stdout.split())


def test_compute_chunk_gives_the_same_json(data_dir):
    args = ["compute", "--data", str(data_dir), "--metrics", "all", "--by", "team"]
    args += ["--every", "1w", "--format", "json"]
    whole = json.loads(run(*args).stdout)
    chunked = run(*args, "--chunk", "1mo")
    assert chunked.returncode == 0, chunked.stderr
    assert json.loads(chunked.stdout) == whole
    assert whole["rows"]
    refused = run("compute", "--data", str(data_dir), "--metrics", "fcr", "--chunk", "1mo")
    assert refused.returncode == 2
    assert "chunk needs every" in refused.stderr


def test_compute_parquet_keeps_definitions(data_dir, tmp_path):
    target = tmp_path / "out.parquet"
    out = run(
        "compute",
        "--data",
        str(data_dir),
        "--metrics",
        "abandon_rate",
        "--format",
        "parquet",
        "--out",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    meta = pl.read_parquet_metadata(target)
    assert "abandon rate = abandoned in queue / offered" in meta["definitions"]


def test_compute_targets_status(data_dir, tmp_path):
    toml = tmp_path / "targets.toml"
    toml.write_text("[aht]\ntarget = 240\nred = 300\n\n[aht.team.B]\ntarget = 200\nred = 230\n")
    out = run(
        "compute",
        "--data",
        str(data_dir),
        "--metrics",
        "aht",
        "--by",
        "team",
        "--targets",
        str(toml),
        "--format",
        "json",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
    )
    rows = {r["team"]: r for r in json.loads(out.stdout)["rows"]}
    assert rows["A"]["aht_status"] == "green"  # 220 s against 240
    assert rows["B"]["aht_target"] == 200.0
    assert rows["B"]["aht_status"] == "red"  # 256.7 s against red 230


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics", "aht,nope"], "unknown KPI 'nope'; valid KPIs: contacts_offered"),
        (
            ["--metrics", "aht", "--by", "colour"],
            "unknown column 'colour' for --by; columns in the data:",
        ),
        (
            ["--metrics", "aht", "--param", "aht.components=all"],
            "bad value 'all' for aht.components; valid values:",
        ),
        (
            ["--metrics", "aht", "--param", "aht.speed=1"],
            "unknown parameter aht.speed; valid parameters of aht:",
        ),
        (
            ["--metrics", "aht", "--param", "nonsense"],
            "bad --param 'nonsense': write KPI.PARAM=VALUE",
        ),
        (["--metrics", "aht", "--start", "2026-13-01"], "bad period '2026-13-01'"),
        (
            ["--metrics", "aht", "--targets", "/no/such.toml"],
            "targets file /no/such.toml does not exist",
        ),
    ],
)
def test_compute_errors_are_one_line(data_dir, args, message):
    out = run("compute", "--data", str(data_dir), *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("kpi compute: error: ")
    assert message in lines[0]


def test_unknown_grain_is_an_argparse_error(data_dir):
    out = run("compute", "--data", str(data_dir), "--metrics", "aht", "--every", "2d")
    assert out.returncode == 2
    assert "invalid choice: '2d'" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_interrupt_raised_again_while_handled_is_one_line(monkeypatch, capsys):
    # polars can hand Ctrl-C back as KeyboardInterrupt with the signal still pending, so the
    # next Python call raises it again: here, the first call that quiets the signal
    import argparse
    import signal

    import kpi.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    class Parser:
        def parse_args(self, argv=None):
            return argparse.Namespace(func=interrupted, debug=False, command="cube")

    calls = []

    def pending_once(signum, handler):
        if signum != signal.SIGINT:  # SIGTERM's handler, installed and quieted: not here
            return signal.getsignal(signum)
        calls.append((signum, handler))
        if len(calls) == 1:
            raise KeyboardInterrupt  # the pending signal, raised on the way in
        return signal.getsignal(signum)  # not installed: pytest's process keeps its own

    monkeypatch.setattr(cli, "build_parser", Parser)
    monkeypatch.setattr(cli.signal, "signal", pending_once)
    assert cli.main(["cube"]) == 130
    assert capsys.readouterr().err == "kpi: interrupted\n"
    assert [c[0] for c in calls] == [signal.SIGINT, signal.SIGINT]
    assert calls[-1][1] is cli._ignore_signal


def test_sigterm_during_a_chunked_compute_leaves_nothing_behind(tmp_path):
    """A scheduler's stop (SIGTERM) runs the same clean-up as Ctrl-C: no output file, no
    temporary file beside it, no spill in TMPDIR; exit 143 with one line."""
    import os
    import signal
    import subprocess
    import sys
    import time

    spill = tmp_path / "tmp"
    spill.mkdir()
    out = tmp_path / "out" / "kpis.parquet"
    out.parent.mkdir()
    cmd = [sys.executable, "-m", "kpi", "compute", "--data", str(SAMPLES), "--metrics", "all"]
    cmd += ["--by", "agent_id", "--every", "15m", "--chunk", "1w", "--format", "parquet"]
    cmd += ["--out", str(out), "--quiet"]
    env = {**os.environ, "TMPDIR": str(spill)}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(spill.iterdir()) and time.monotonic() < deadline:  # the spill has begun
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be stopped: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "kpi: terminated"
    assert "Traceback" not in err
    assert list(spill.iterdir()) == []
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("chunk", [[], ["--every", "1d", "--chunk", "1mo"]])
def test_a_kpi_null_throughout_for_want_of_rows_says_why(data_dir, chunk):
    """Voice only: no deferred contact to judge a response objective by. The KPI is null and
    the notes say why, with and without chunks (the same output)."""
    out = run(
        "compute",
        *("--data", str(data_dir), "--metrics", "response_within_objective,contacts_offered"),
        *("--format", "json", "--quiet", *chunk),
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {r["response_within_objective"] for r in doc["rows"]} == {None}
    assert doc["meta"]["notes"] == {
        "response_within_objective": "null: none of the rows it divides by (deferred contacts "
        "answered) is in the data or range asked for"
    }
