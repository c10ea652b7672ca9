"""A chunked result larger than memory: spilled to disk chunk by chunk, read back in order,
written batch by batch with the same bytes as a result written whole."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi import evaluate, save
from kpi._sanitize import csv_safe_frame
from kpi.cli._common import json_text, write_batches, write_frame
from kpi.compute import Spill

T0 = datetime(2026, 3, 1, tzinfo=UTC)

group = st.sampled_from(["A", "B", "C", "=D", None])
chunk_rows = st.lists(st.tuples(group, st.sampled_from([1, 2]), st.floats(-5, 5)), max_size=30)


@settings(max_examples=80, deadline=None)
@given(
    chunks=st.lists(chunk_rows, min_size=1, max_size=6),
    rows=st.integers(1, 50),
    row_group=st.integers(1, 12),
    in_memory=st.booleans(),
)
def test_spill_reads_back_the_sorted_concatenation(
    chunks, rows, row_group, in_memory, tmp_path_factory
):
    """Parts (later chunks, later periods; groups missing from some, nulls, empty parts) come
    back as their concatenation sorted by group then period: read whole, or in windows of
    about ``rows`` rows across row groups of ``row_group`` rows."""
    frames = []
    for i, chunk in enumerate(chunks):
        df = pl.DataFrame(
            {
                "team": [g for g, _, _ in chunk],
                "period": [T0 + timedelta(days=7 * i + d) for _, d, _ in chunk],
                "v": [v for _, _, v in chunk],
            },
            schema={"team": pl.String, "period": pl.Datetime("us", "UTC"), "v": pl.Float64},
        )
        # a chunk has one row per group and period
        frames.append(df.unique(["team", "period"]).sort("team", "period", nulls_last=True))
    spill = Spill(["team"], tmp_path_factory.mktemp("spill"), parts=1, row_group=row_group)
    for df in frames:
        spill.add(df)
    batches = list(spill.batches(rows=rows, in_memory_bytes=1 << 30 if in_memory else 0))
    expected = pl.concat(frames).sort("team", "period", nulls_last=True)
    assert_frame_equal(pl.concat(batches), expected)
    assert spill.height == expected.height
    if not in_memory:  # a batch is at most ``rows`` rows, or one run (a chunk's group)
        longest = max(df.group_by("team").len()["len"].max() or 0 for df in frames)
        assert all(b.height < rows + longest for b in batches)
    fractional = (expected["v"] % 1 != 0).any()
    assert spill.whole(["v"]) == ([] if fractional else ["v"])


def test_spill_without_groups_is_the_parts_in_order(tmp_path):
    spill = Spill([], tmp_path, parts=3)
    for i in range(3):
        spill.add(pl.DataFrame({"period": [2 * i, 2 * i + 1], "n": [1.0, 2.0]}))
    for whole in (1 << 30, 0):
        batches = list(spill.batches(rows=3, in_memory_bytes=whole))
        assert pl.concat(batches)["period"].to_list() == [0, 1, 2, 3, 4, 5]
    assert spill.whole(["n"]) == ["n"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("cuts", [[0], [1], [1, 2], [0, 0, 3]])
def test_write_batches_gives_the_bytes_of_the_whole_table(fmt, cuts, tmp_path):
    """Batches (some empty) written as they come are byte for byte the table written whole:
    on standard output and in a file (formulas made inert, nulls, dates, non-finite)."""
    df = pl.DataFrame(
        {
            "team": ["=cmd", "B", None, "C"],
            "period": ["2026-03-01 00:00 GMT"] * 4,
            "aht": [300.5, float("nan"), None, 1e-7],
            "n": [1, 2, 3, 4],
        }
    )
    edges = [0, *cuts, df.height]
    batches = [df.slice(a, max(b - a, 0)) for a, b in pairwise(edges)]
    meta = {"definitions": {"aht": "(talk + hold + acw) / handled"}, "params": {"aht": {}}}
    if fmt == "json":
        whole = json_text({"meta": meta, "rows": df.to_dicts()}) + "\n"
    else:
        whole = csv_safe_frame(df).write_csv()
    out = tmp_path / f"batch.{fmt}"
    write_batches(iter(batches), fmt, str(out), meta=meta)
    assert out.read_text() == whole
    with redirect_stdout(io.StringIO()) as text:
        write_batches(iter(batches), fmt, None, meta=meta)
    assert text.getvalue() == whole
    with redirect_stdout(io.StringIO()) as text:
        write_frame(df, fmt, None, meta=meta)
    assert text.getvalue() == whole
    if fmt == "json":
        assert json.loads(whole)["rows"][0]["aht"] == 300.5
        assert json.loads(whole)["rows"][1]["aht"] is None


def test_write_batches_of_no_rows_keeps_the_header(tmp_path):
    empty = pl.DataFrame(schema={"team": pl.String, "aht": pl.Float64})
    for fmt in ("csv", "json"):
        write_batches([empty], fmt, str(tmp_path / f"b.{fmt}"), meta={"params": {}})
    assert (tmp_path / "b.csv").read_text() == "team,aht\n"
    assert (tmp_path / "b.json").read_text() == json_text(
        {"meta": {"params": {}}, "rows": []}
    ) + "\n"


def test_write_batches_parquet_is_one_file_with_the_definitions(tmp_path):
    parts = [pl.DataFrame({"team": ["A"], "n": [1.5]}), pl.DataFrame({"team": ["B"], "n": [2.0]})]
    target = tmp_path / "out.parquet"
    write_batches(parts, "parquet", str(target), meta={"definitions": {"n": "a / b"}})
    assert_frame_equal(pl.read_parquet(target), pl.concat(parts))
    assert json.loads(pl.read_parquet_metadata(target)["definitions"]) == {"n": "a / b"}


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """Three months of contacts for four teams, 10 a day each."""
    rows = []
    for day in range(90):
        for team in ("North", "South", "East", "=West"):
            for k in range(10):
                t = T0 + timedelta(days=day, minutes=37 * k + 5 * len(team))
                rows.append(
                    {
                        "contact_id": f"{team}{day}-{k}",
                        "team": team,
                        "arrival_ts": t,
                        "queue_ts": t,
                        "wait_s": float(k * 7),
                        "talk_s": 120.0 + k,
                        "outcome": "answered" if k % 4 else "abandoned",
                    }
                )
    path = tmp_path_factory.mktemp("months")
    save({"contacts": pl.DataFrame(rows)}, path, meta={"timezone": "Europe/London"})
    return path


def test_chunked_frame_streams_and_pushes_down(months, tmp_path):
    """The chunked frame is a source: sunk to Parquet it is the collected table; a projection,
    a filter and a head give the same rows as on the collected table."""
    kw = {"by": ["team"], "every": "1d", "chunk": "1mo", "progress": False}
    metrics = ["contacts_offered", "aht", "service_level"]
    whole = evaluate(months, metrics, by=["team"], every="1d").frame.collect()
    result = evaluate(months, metrics, **kw)
    collected = result.frame.collect()
    assert_frame_equal(collected, whole, check_exact=False, rel_tol=1e-12)
    result.frame.sink_parquet(tmp_path / "out.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "out.parquet"), collected)
    picked = result.frame.filter(pl.col("team") == "South").select("period", "aht").head(40)
    assert_frame_equal(
        picked.collect(), collected.filter(pl.col("team") == "South").select("period", "aht")[:40]
    )
    first = result.frame.head(50).filter(pl.col("team") == "South")  # the first 50 are =West
    assert first.collect().height == 0
    assert_frame_equal(result.frame.slice(85, 10).collect(), collected.slice(85, 10))
    with result.spill() as spill:
        batches = list(spill.batches(rows=50, in_memory_bytes=0))  # runs of 30 rows
        directory = spill.directory
        assert len(list(directory.glob("*.parquet"))) == 3  # a part a month
    assert not directory.exists()  # removed on exit
    assert len(batches) >= 6
    assert all(b.height <= 50 + 31 for b in batches)  # rows, or one run more
    assert_frame_equal(pl.concat(batches), collected)


def _kpi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kpi", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_compute_chunk_writes_what_the_whole_run_writes(months, tmp_path, fmt):
    """`kpi compute --chunk` writes batch by batch: the values of the run without chunks,
    counts as integers where all are whole, formulas inert, targets' columns included."""
    targets = tmp_path / "targets.toml"
    targets.write_text("[aht]\ntarget = 125\nred = 140\n")
    args = ["compute", "--data", str(months), "--metrics", "contacts_offered,aht,answer_rate"]
    args += ["--by", "team", "--every", "1d", "--targets", str(targets), "--format", fmt]
    whole, chunked = tmp_path / f"whole.{fmt}", tmp_path / f"chunked.{fmt}"
    assert _kpi(*args, "--out", str(whole)).returncode == 0
    done = _kpi(*args, "--chunk", "1mo", "--out", str(chunked))
    assert done.returncode == 0, done.stderr
    assert "chunk 3 of 3" in done.stderr
    assert "wrote 360 rows to" in done.stderr
    if fmt == "json":
        a, b = json.loads(whole.read_text()), json.loads(chunked.read_text())
        assert a["meta"] == b["meta"]
        a, b = pl.DataFrame(a["rows"]), pl.DataFrame(b["rows"])
    else:
        read = pl.read_csv if fmt == "csv" else pl.read_parquet
        a, b = read(whole), read(chunked)
    assert_frame_equal(b, a, check_exact=False, rel_tol=1e-12)
    assert b.height == 360
    assert {"aht_target", "aht_status"} <= set(b.columns)
    if fmt != "parquet":
        assert b["contacts_offered"].dtype == pl.Int64
    if fmt == "csv":  # inert for spreadsheets; stdout is the file's bytes
        assert "'=West" in b["team"].to_list()
        assert _kpi(*args, "--chunk", "1mo", "--quiet").stdout == chunked.read_text()


def test_spill_counts_a_constant_column_at_its_full_width(tmp_path):
    """A KPI null throughout a chunk is one value in memory but 8 bytes a row read back: the
    spill's size (which chooses reading whole or in batches, and the batches' rows) counts
    it at its width."""
    part = pl.DataFrame({"period": range(10_000)}).with_columns(
        pl.lit(None, pl.Float64).alias(f"kpi{i}") for i in range(20)
    )
    assert part.estimated_size() < 100_000  # polars' own measure: the nulls are one value
    spill = Spill([], tmp_path, parts=1)
    spill.add(part)
    assert spill.size_bytes == 10_000 * 21 * 8
    assert spill.whole(["kpi0"]) == ["kpi0"]


def test_a_second_interrupt_while_cleaning_up_still_removes_the_file(tmp_path, monkeypatch):
    """Ctrl-C during a write, then again during the clean-up (polars can hand an interrupt back
    while the signal is pending): the temporary file goes, the old output stays."""
    from pathlib import Path

    from kpi._fs import atomic_write

    target = tmp_path / "out.csv"
    target.write_text("old\n")
    unlink = Path.unlink
    calls = []

    def interrupted_once(self, missing_ok=False):
        calls.append(self)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return unlink(self, missing_ok=missing_ok)

    def write(p):
        p.write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "unlink", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write)
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert target.read_text() == "old\n"


def test_a_full_temporary_directory_is_named(tmp_path, monkeypatch):
    from kpi.errors import KpiError

    def full(*args, **kwargs):
        raise pl.exceptions.ComputeError("parquet: Invalid thrift: transport error")

    spill = Spill(["team"], tmp_path, parts=2)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(KpiError, match=r"chunk 1's rows to the temporary directory") as caught:
        spill.add(pl.DataFrame({"team": ["A"], "period": [1]}))
    assert "MiB free" in str(caught.value)
    assert "set TMPDIR" in str(caught.value)
    assert spill.height == 0
