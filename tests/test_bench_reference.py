"""The benchmark's pandas and DuckDB scorecards agree with ``kpi.compute`` (like with like).

``bench/bench_compute.py`` times three implementations of the contacts scorecard by team and
month; these tests check on small data that they compute the same numbers: the hand-checkable
``fixtures_small`` contacts (expected values worked out below) and a generated table that
exercises repeat contacts, overlapping waits, DST months and busiest hours.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fixtures_small import contacts

from kpi.data import save

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import reference_impls as ref
from _contacts_gen import TZ, generate_contacts

FIXTURE_TZ = "Europe/London"


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("small")
    save({"contacts": contacts()}, path)
    return str(path)


@pytest.fixture(scope="module")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("generated")
    save({"contacts": generate_contacts(20_000, seed=7)}, path, meta={"timezone": TZ})
    return str(path)


@pytest.fixture(scope="module")
def small_results(small_dir: str) -> dict[str, dict]:
    return {
        "polars": ref.polars_scorecard(small_dir),
        "pandas": ref.pandas_scorecard(small_dir, FIXTURE_TZ),
        "duckdb": ref.duckdb_scorecard(small_dir, FIXTURE_TZ),
    }


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_small_fixture_agrees(small_results: dict[str, dict], engine: str) -> None:
    assert ref.compare(small_results["polars"], small_results[engine]) == []


@pytest.mark.parametrize("engine", ["polars", "pandas", "duckdb"])
def test_small_fixture_hand_values(small_results: dict[str, dict], engine: str) -> None:
    res = small_results[engine]
    assert res["team"] == ["A", "B"]
    assert res["period"] == ["2026-01", "2026-01"]

    def v(kpi: str) -> list[float | None]:
        return res[kpi]

    # team A: c1, c2, c3 answered, c4, c5 abandoned in queue, c6 abandoned in the IVR
    # team B: c7, c8 answered, c9 flow-out, c10 outbound
    assert v("contacts_offered") == [5, 3]
    assert v("contacts_handled") == [3, 3]
    assert v("abandon_rate") == pytest.approx([2 / 5, 0])
    # SL: answered within 20 s (A: c1 5 s, c3 15 s; B: c8 10 s) / (answered + abandoned)
    assert v("service_level") == pytest.approx([2 / 5, 1 / 2])
    assert v("longest_wait") == [50, 120]
    assert v("max_in_queue") == [1, 1]  # no two waits overlap
    # FCR: A: c1 is repeated by c2 two days later, c2 and c3 are not; B: c8 comes 14 days
    # after c7 (outside the 7-day window)
    assert v("fcr") == pytest.approx([2 / 3, 1.0])
    # busiest hour by offered contacts: A 5 Jan 09h (c1, c3, c4, c5 offered; handled c1 120 s
    # + c3 300 s); B 6 Jan 10h (c7 500 s and the flow-out c9; c8 is alone on 20 Jan)
    assert v("peak_hour_traffic") == pytest.approx([420 / 3600, 500 / 3600])
    assert v("revenue_per_successful_call") == pytest.approx([100.0, None])


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_generated_agrees(generated_dir: str, engine: str) -> None:
    expected = ref.polars_scorecard(generated_dir)
    actual = (
        ref.pandas_scorecard(generated_dir, TZ)
        if engine == "pandas"
        else ref.duckdb_scorecard(generated_dir, TZ)
    )
    assert len(expected["team"]) >= 8 * 12  # 8 teams x 12 months (a sweep-only month may add)
    assert ref.compare(expected, actual) == []


def test_polars_streaming_engine_agrees(generated_dir: str) -> None:
    in_memory = ref.polars_scorecard(generated_dir, engine="in-memory")
    assert ref.compare(in_memory, ref.polars_scorecard(generated_dir, engine="streaming")) == []


def test_compare_reports_differences() -> None:
    a = {"team": ["A"], "period": ["2026-01"], **{k: [1.0] for k in ref.KPIS}}
    b = {**a, "fcr": [1.0 + 1e-6], "asa": [None]}
    problems = ref.compare(a, b)
    assert len(problems) == 2
    assert problems[0].startswith("asa at team A 2026-01")
    assert ref.compare(a, {**a, "period": ["2026-02"]})[0].startswith("different groups")


def test_chunked_compute_agrees(generated_dir: str) -> None:
    # chunks of a quarter: FCR looks 7 days past each chunk, the sweep carries waits across
    expected = ref.polars_scorecard(generated_dir)
    assert ref.compare(expected, ref.polars_scorecard(generated_dir, chunk="1q")) == []


def test_bench_engines_smoke(tmp_path: Path) -> None:
    """``bench/bench_engines.py`` runs end to end on 20,000 contacts and its engines agree.

    polars and DuckDB only (the Spark parity is ``tests/test_engines.py``'s, and a JVM start
    would make this test slow); the script exits 1 when the engines disagree.
    """
    import json
    import os
    import subprocess

    script = Path(__file__).resolve().parents[1] / "bench" / "bench_engines.py"
    out = tmp_path / "run.json"
    env = {**os.environ, "PYTHONPATH": str(script.parents[1])}
    cmd = [sys.executable, str(script), "--rows", "20000", "--repeats", "1"]
    cmd += ["--engines", "polars,duckdb", "--data-dir", str(tmp_path), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "agree on" in proc.stderr
    record = json.loads(out.read_text())
    runs = record["sizes"]["20000"]["runs"]
    assert set(runs) == {"polars", "duckdb"}
    assert "service_level" in record["kpis"]
    assert all(r["cpu_s"] >= 0 and r["rss_mib"] > 0 for rs in runs.values() for r in rs)
    assert "| 20,000 | duckdb |" in proc.stdout
