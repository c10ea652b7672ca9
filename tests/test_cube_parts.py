"""A cube built in parts (``kpi.cube.PARTS``): the core first, the agents' bit sets, FCR's
repeat flags, the customers' counts, the queue sweeps and the busiest hours when a KPI first
needs them.

Built apart, the parts store the same cells as one build of all; a pending part's KPIs read the
rows (same values); an explorer's first use builds the core and the parts its KPI needs, and
says so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import kpi
import kpi.views
from kpi import cube
from kpi.cli import main
from kpi.metrics import METRICS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _contacts_gen import TZ, generate_contacts

LATER = ("agents", "fcr", "customers", "sweeps", "peaks")


@pytest.fixture(autouse=True)
def _few_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bit sets for at most 500 values: the generated agents (401) in bit sets, the customers
    (900 and more) counted from first contacts."""
    monkeypatch.setattr(kpi.cube._build, "MAX_DISTINCT", 500)


def _dir(tmp: Path, n: int = 6_000, *, seed: int = 5) -> Path:
    root = tmp / "data"
    kpi.save(kpi.Dataset({"contacts": generate_contacts(n, seed=seed)}, tz=TZ), root)
    return root


def _cells(root: Path) -> dict[tuple, tuple[dict, pl.DataFrame]]:
    where = cube.info(root)["where"]
    meta = json.loads((Path(where) / "cube.json").read_text())
    out = {}
    for lv in meta["levels"]:
        frame = pl.read_parquet([Path(where) / f for f in lv["files"]])
        key = (lv["table"], lv["time"], lv["level"], lv["grain"], tuple(lv["dims"]))
        out[key] = (lv, frame.sort(frame.columns))
    return out


@pytest.fixture(scope="module")
def core_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated contacts (queue times and waits, agents, 3,600 customers) with the core
    alone."""
    root = _dir(tmp_path_factory.mktemp("core"), 12_000, seed=8)
    cube.build(root, parts=())
    return root


def test_parts_built_apart_store_the_same_cells(tmp_path: Path) -> None:
    root = _dir(tmp_path)
    cube.build(root)
    whole = _cells(root)
    built = cube.info(root)
    assert set(built["parts"]) == {"core", *LATER}
    assert built["pending"] == []
    # built with the core, the agents' bit sets and FCR's flags are in its cells
    assert {lv["part"] for lv in built["levels"]} == {"core", "customers", "sweeps", "peaks"}
    assert not any(".core" in f for lv, _ in whole.values() for f in lv["files"])

    cube.build(root, parts=())  # the core alone: the others pending
    got = cube.info(root)
    assert list(got["parts"]) == ["core"]
    assert got["pending"] == list(LATER)
    assert {lv["part"] for lv in got["levels"]} == {"core"}
    done = ["core"]
    for part in ("sweeps", "customers", "fcr", "peaks", "agents"):  # one at a time, any order
        assert cube.complete(root, [part])
        done.append(part)
        assert list(cube.info(root)["parts"]) == done
    apart = _cells(root)
    # the bit sets and FCR's flags built apart: levels of their own, named after the core's,
    # the same cells as the whole build's
    n_core = sum(lv["part"] == "core" for lv, _ in whole.values())
    for part, suffix in (("fcr", ", FCR's repeats"), ("agents", ", agents' sets")):
        own = {k: v for k, v in apart.items() if v[0]["part"] == part}
        assert len(own) == n_core > 20
        for (table, time, name, grain, dims), (lv, frame) in own.items():
            assert name.endswith(suffix)
            assert all(f".{part}." in f for f in lv["files"])
            core, cells = whole[table, time, name.removesuffix(suffix), grain, dims]
            held = list(lv["kinds"])
            assert held == (
                ["b0"]
                if part == "fcr"
                else [c for c in core["kinds"] if core["kinds"][c] == "distinct"]
            )
            assert lv["columns"].items() <= core["columns"].items()
            stored = [c for c in frame.columns if c not in (*dims, "_bin", "_rows")]
            assert any((frame[c] != 0).any() for c in stored)
            keys = [*dims, "_bin"]
            assert_frame_equal(
                frame.select(*keys, "_rows", *stored).sort(keys),
                cells.select(*keys, "_rows", *stored).sort(keys),
            )
    assert {k for k, v in apart.items() if v[0]["part"] not in ("fcr", "agents")} == whole.keys()
    for key, (lv, frame) in whole.items():
        other, again = apart[key]
        if lv["part"] == "core":  # without the bit sets and FCR's flags
            gone = {c for c, k in lv["kinds"].items() if c == "b0" or k == "distinct"}
            lv = {**lv, "columns": {k: v for k, v in lv["columns"].items() if v not in gone}}
            lv["kinds"] = {k: v for k, v in lv["kinds"].items() if k not in gone}
            lv["words"] = {}
            frame = frame.drop(c for c in frame.columns if c == "b0" or c.split("_")[0] in gone)
            frame = frame.sort(frame.columns)
            assert all(".core." in f for f in other["files"])
        assert {k: v for k, v in lv.items() if k != "files"} == {
            k: v for k, v in other.items() if k != "files"
        }
        assert_frame_equal(frame, again)
    assert cube.complete(root)  # nothing pending: nothing to do
    assert cube.info(root)["pending"] == []


def test_a_part_the_data_cannot_fill_is_not_pending(tmp_path: Path) -> None:
    """Without waits there is no queue sweep to store: the part is not pending, and most
    contacts waiting needs no part (the rows refuse it)."""
    root = tmp_path / "data"
    df = generate_contacts(3_000, seed=2).drop("wait_s", "answer_ts")
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    cube.build(root, parts=())
    pending = cube.info(root)["pending"]
    assert "sweeps" not in pending
    assert "customers" in pending
    c = cube.find(root)
    assert cube.needed_parts(c, "max_in_queue") == []
    assert cube.needed_parts(c, ["aht", "contacts_per_customer"]) == ["customers"]


def test_the_kpis_each_part_answers(core_dir: Path) -> None:
    c = cube.find(core_dir)
    assert c is not None
    need = {k: cube.needed_parts(c, k) for k in sorted(METRICS)}
    assert need["fcr"] == ["fcr"]
    assert need["handled_per_agent"] == need["sales_per_agent"] == ["agents"]
    assert need["contacts_per_customer"] == ["customers"]
    assert need["max_in_queue"] == ["sweeps"]
    assert need["peak_hour_traffic"] == ["peaks"]
    # every other KPI of the catalogue is answered by the core (or by the rows)
    assert {k for k, v in need.items() if v} == {
        "fcr",
        "handled_per_agent",
        "sales_per_agent",
        "contacts_per_customer",
        "max_in_queue",
        "peak_hour_traffic",
    }
    assert cube.needed_parts(
        c, ["max_in_queue", "contacts_per_customer", "fcr", "handled_per_agent"]
    ) == ["agents", "fcr", "customers", "sweeps"]


def _explain(ds: kpi.Dataset, kpi_id: str, **kw: object) -> str:
    return kpi.evaluate(ds, kpi_id, **kw).frame.explain()


@pytest.mark.parametrize(
    ("kpi_id", "kw"),
    [
        ("fcr", {"every": "1mo", "by": ["team"]}),
        ("fcr", {"every": "15m", "by": ["topic"]}),
        ("handled_per_agent", {"every": "1h", "by": ["queue"]}),
        ("sales_per_agent", {"every": "1w", "by": ["agent_id"]}),
        ("contacts_per_customer", {"every": "1w", "by": ["team"]}),
        ("contacts_per_customer", {"every": "1d", "by": ["channel", "topic"]}),
        ("max_in_queue", {"every": "1h", "by": ["queue"]}),
        ("max_in_queue", {"every": "1d", "by": ["agent_id"]}),
        ("peak_hour_traffic", {"every": "1w", "by": ["agent_id"]}),
        ("peak_hour_traffic", {"every": "1d", "by": ["team", "topic"]}),
    ],
)
def test_a_pending_part_reads_the_rows_alike(
    core_dir: Path, kpi_id: str, kw: dict[str, object]
) -> None:
    ds = kpi.load(core_dir)
    rows = kpi.evaluate(ds, kpi_id, cube=False, **kw).frame.collect()
    got = kpi.evaluate(ds, kpi_id, **kw)
    assert "contacts.parquet" in got.frame.explain()  # the rows, not a cube level
    assert_frame_equal(rows, got.frame.collect(), check_exact=False, rel_tol=1e-9)
    assert cube.info(core_dir)["pending"] == list(LATER)  # a query never builds a part


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kpi_id=st.sampled_from(sorted(METRICS)),
    every=st.sampled_from(["15m", "1h", "1d", "1w", "1mo"]),
    by=st.sampled_from([[], ["team"], ["queue"], ["agent_id"], ["channel", "topic"]]),
)
def test_the_core_alone_equals_the_rows(
    core_dir: Path, kpi_id: str, every: str, by: list[str]
) -> None:
    ds = kpi.load(core_dir)
    kw = {"every": every, "by": by, "start": "2025-03-01", "end": "2025-04-30"}
    try:
        rows = kpi.evaluate(ds, kpi_id, cube=False, **kw)
    except kpi.KpiError as exc:
        refused = str(exc)
    else:
        refused = None
    if refused is not None:  # refused alike, for the same reason
        with pytest.raises(kpi.KpiError) as again:
            kpi.evaluate(ds, kpi_id, **kw)
        assert str(again.value) == refused
        return
    fast = kpi.evaluate(ds, kpi_id, **kw)
    assert fast.notes == rows.notes
    assert_frame_equal(
        rows.frame.collect(), fast.frame.collect(), check_exact=False, rel_tol=1e-9, abs_tol=1e-12
    )


def test_first_use_builds_the_core_then_each_part_a_kpi_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 3_000)
    root = _dir(tmp_path, 4_000)
    kpi.views.trend_frame(kpi.load(root), "aht", every="1w").collect()
    got = cube.info(root)
    assert list(got["parts"]) == ["core"]
    assert got["pending"] == list(LATER)
    capsys.readouterr()
    frame = kpi.views.trend_frame(kpi.load(root), "max_in_queue", every="1d", by="queue")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "kpi cube: adding the queue sweeps to the measure cube once, for max_in_queue"
    assert err[-1].startswith("kpi cube: added sweeps in ")
    assert cube.info(root)["pending"] == ["agents", "fcr", "customers", "peaks"]
    assert ".kpi-cube" in frame.explain()
    assert "contacts.parquet" not in frame.explain()
    kpi.views.trend_frame(kpi.load(root), "max_in_queue", every="1w").collect()
    assert capsys.readouterr().err == ""  # built: nothing more to say
    kpi.views.trend_frame(kpi.load(root), "contacts_per_customer", every="1w").collect()
    assert "customers' first contacts" in capsys.readouterr().err
    kpi.views.trend_frame(kpi.load(root), "fcr", every="1mo", by="team").collect()
    assert "FCR's repeat flags" in capsys.readouterr().err
    kpi.views.trend_frame(kpi.load(root), "handled_per_agent", every="1d").collect()
    assert "adding the bit sets of distinct values (agents)" in capsys.readouterr().err
    assert cube.info(root)["pending"] == ["peaks"]


def test_evaluate_with_cube_true_completes_the_cube(tmp_path: Path) -> None:
    root = _dir(tmp_path, 3_000)
    cube.build(root, parts=())
    ds = kpi.load(root)
    got = kpi.evaluate(ds, "max_in_queue", every="1d", cube=True)
    assert cube.info(root)["pending"] == []
    assert ".kpi-cube" in got.frame.explain()


def test_cli_info_names_the_pending_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _dir(tmp_path, 3_000)
    cube.build(root, parts=())
    assert main(["cube", "info", "--data", str(root)]) == 0
    out = capsys.readouterr().out
    assert "not built yet: agents, fcr, customers, sweeps, peaks" in out
    assert "their KPIs read the rows" in out
    assert main(["cube", "info", "--data", str(root), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["pending"] == list(LATER)
    assert main(["cube", "build", "--data", str(root), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["cube", "info", "--data", str(root)]) == 0
    assert "not built yet" not in capsys.readouterr().out


def test_cli_build_for_some_kpis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``kpi cube build --metrics``: the core and the parts those KPIs need, then only what a
    fresh cube lacks; the cube answers them as the rows do."""
    root = _dir(tmp_path, 3_000)
    args = ["cube", "build", "--data", str(root), "--quiet", "--metrics"]
    assert main([*args, "aht,fcr"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(".kpi-cube")
    assert out[1] == (
        "parts built: core, fcr; not built yet (until a KPI needs them): agents, customers, "
        "sweeps, peaks"
    )
    assert list(cube.info(root)["parts"]) == ["core", "fcr"]
    built = cube.info(root)["levels"]
    assert main([*args, "fcr"]) == 0  # nothing to add: the cube is not rebuilt
    assert "no part to add for fcr;" in capsys.readouterr().out
    assert cube.info(root)["levels"] == built
    assert main([*args, "contacts_per_customer,fcr"]) == 0
    assert "parts added: customers;" in capsys.readouterr().out
    assert cube.info(root)["pending"] == ["agents", "sweeps", "peaks"]
    ds = kpi.load(root)
    for kpi_id in ("fcr", "contacts_per_customer", "aht"):
        got = kpi.evaluate(ds, kpi_id, every="1w", by="team")
        assert ".kpi-cube" in got.frame.explain()  # from the cube, not the rows
        rows = kpi.evaluate(ds, kpi_id, every="1w", by="team", cube=False)
        assert_frame_equal(got.frame.collect(), rows.frame.collect())
    assert main([*args, "all"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "parts added: agents, sweeps, peaks"
    assert cube.info(root)["pending"] == []


def test_build_for_adds_what_the_data_says_a_kpi_needs(tmp_path: Path) -> None:
    """Before a build, a distinct count's part is guessed from its column (customers: counts);
    with few customers they are bit sets (the agents' part), added in the same call, so the
    cube answers at once. A cube of other definition variants is built again."""
    root = _dir(tmp_path, 1_000)
    ds = kpi.load(root)
    few = ds["contacts"].select(pl.col("customer_id").n_unique()).collect().item()
    assert few <= 500  # bit sets (MAX_DISTINCT is 500 here)
    assert cube.needed_parts(None, "contacts_per_customer") == ["customers"]  # the guess
    assert cube.build_for(root, "contacts_per_customer") == ["core", "agents"]
    assert cube.build_for(root, "contacts_per_customer") == []
    got = kpi.evaluate(kpi.load(root), "contacts_per_customer", every="1w", by="team")
    assert ".kpi-cube" in got.frame.explain()
    params = {"fcr.window_days": 3}
    assert cube.build_for(root, "fcr", params=params) == ["core", "fcr"]
    assert cube.info(root)["params"] == params
    got = kpi.evaluate(kpi.load(root), "fcr", every="1w", by="team", params=params)
    assert ".kpi-cube" in got.frame.explain()
    rows = kpi.evaluate(kpi.load(root), "fcr", every="1w", by="team", params=params, cube=False)
    assert_frame_equal(got.frame.collect(), rows.frame.collect())


def test_first_use_adds_what_the_data_says_and_refuses_unknown_kpis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 500)
    root = _dir(tmp_path, 1_000)  # few customers: bit sets, not the guessed counts
    with pytest.raises(kpi.errors.KpiError, match="unknown KPI 'speed'"):
        cube.prepare(kpi.load(root), metrics="speed")
    assert not cube.info(root)["exists"]
    frame = kpi.views.trend_frame(kpi.load(root), "contacts_per_customer", every="1w")
    assert list(cube.info(root)["parts"]) == ["core", "agents"]
    assert "contacts.parquet" not in frame.explain()  # the first chart from the cube


def test_cli_build_for_refuses_unknown_kpis_and_other_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _dir(tmp_path, 1_000)
    assert main(["cube", "build", "--data", str(root), "--metrics", "speed"]) == 2
    assert "unknown KPI 'speed'" in capsys.readouterr().err
    assert main(["cube", "build", "--data", str(root), "--metrics", ","]) == 2
    assert "--metrics names no KPI" in capsys.readouterr().err
    assert not cube.info(root)["exists"]  # refused before anything was built
    assert main(["cube", "info", "--data", str(root), "--metrics", "aht"]) == 2
    err = capsys.readouterr().err
    assert "--metrics applies to `kpi cube build`, not `kpi cube info`" in err
    assert main(["cube", "build", "--data", str(root), "--quiet"]) == 0  # nothing pending
    capsys.readouterr()
    for ids in ("speed", "aht,speed", "AHT"):
        assert main(["cube", "build", "--data", str(root), "--metrics", ids]) == 2
        assert "unknown KPI" in capsys.readouterr().err
    assert main(["cube", "build", "--data", str(root), "--metrics", "aht,aht,fcr"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "no part to add for aht, fcr"


def test_unknown_parts_are_refused(tmp_path: Path) -> None:
    root = _dir(tmp_path, 1_000)
    with pytest.raises(ValueError, match="unknown cube parts"):
        cube.build(root, parts=("core", "nonesuch"))


def test_a_part_is_not_added_to_a_stale_cube(tmp_path: Path) -> None:
    root = _dir(tmp_path, 2_000)
    cube.build(root, parts=())
    kpi.save(kpi.Dataset({"contacts": generate_contacts(2_500, seed=9)}, tz=TZ), root)
    assert not cube.complete(root, ["sweeps"])  # the data changed: the cube is stale
    assert not cube.info(root)["fresh"]


def test_first_use_for_a_kpi_with_a_part_builds_both_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 3_000)
    root = _dir(tmp_path, 4_000)
    assert cube.needed_parts(None, "fcr") == ["fcr"]  # before any build: by the KPI alone
    assert cube.needed_parts(None, ["aht", "asa"]) == []
    assert cube.needed_parts(None, "handled_per_agent") == ["agents"]  # few: bit sets
    assert cube.needed_parts(None, "contacts_per_customer") == ["customers"]  # many: counts
    frame = kpi.views.trend_frame(kpi.load(root), "fcr", every="1mo", by="team")
    err = capsys.readouterr().err
    assert "adding" not in err  # one build: the core with FCR's flags in its cells
    got = cube.info(root)
    assert list(got["parts"]) == ["core", "fcr"]
    assert got["pending"] == ["agents", "customers", "sweeps", "peaks"]
    assert "contacts.parquet" not in frame.explain()
    rows = kpi.evaluate(kpi.load(root), "fcr", every="1mo", by="team", cube=False)
    assert_frame_equal(
        rows.frame.collect(),
        kpi.evaluate(kpi.load(root), "fcr", every="1mo", by="team").frame.collect(),
        check_exact=False,
        rel_tol=1e-9,
    )


@pytest.mark.parametrize(
    ("part", "kpi_id", "kw"),
    [
        ("fcr", "fcr", {"every": "1mo", "by": ["team"]}),
        ("fcr", "fcr", {"every": "15m", "by": ["topic"]}),
        ("agents", "handled_per_agent", {"every": "1h", "by": ["queue"]}),
        ("agents", "sales_per_agent", {"every": "1mo", "by": ["team", "agent_id"]}),
        ("agents", "handled_per_agent", {"every": "1d", "by": ["channel", "topic"]}),
        ("customers", "contacts_per_customer", {"every": "1w", "by": ["team"]}),
        ("sweeps", "max_in_queue", {"every": "1h", "by": ["queue"]}),
        ("peaks", "peak_hour_traffic", {"every": "1w", "by": ["agent_id"]}),
    ],
)
def test_a_part_once_added_answers_from_the_cube(
    tmp_path: Path, part: str, kpi_id: str, kw: dict[str, object]
) -> None:
    root = _dir(tmp_path, 4_000, seed=12)
    cube.build(root, parts=())
    where = Path(cube.info(root)["where"])
    if part in ("fcr", "agents"):  # the core alone: files named apart from a core with them
        assert all(".core." in f.name for f in where.glob("contacts.arrival_ts.*.parquet"))
    assert cube.complete(root, [part])
    ds = kpi.load(root)
    got = kpi.evaluate(ds, kpi_id, **kw)
    plan = got.frame.explain()
    assert ".kpi-cube" in plan
    assert "contacts.parquet" not in plan
    if part in ("fcr", "agents"):
        assert f".{part}." in plan  # the part's own levels
    rows = kpi.evaluate(ds, kpi_id, cube=False, **kw).frame.collect()
    assert_frame_equal(rows, got.frame.collect(), check_exact=False, rel_tol=1e-9)


def test_parts_added_at_once_are_all_kept(tmp_path: Path) -> None:
    """Two completions at the same time (two notebooks on one directory): the second waits for
    the first, then adds its part to the cube as the first left it; no file of either is
    lost."""
    import threading

    root = _dir(tmp_path, 4_000, seed=13)
    cube.build(root, parts=())
    done: list[bool] = []
    threads = [
        threading.Thread(target=lambda p=p: done.append(cube.complete(root, [p])))
        for p in ("customers", "sweeps")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done == [True, True]
    got = cube.info(root)
    assert "customers" in got["parts"]
    assert "sweeps" in got["parts"]
    where = Path(got["where"])
    meta = json.loads((where / "cube.json").read_text())
    assert all((where / f).exists() for lv in meta["levels"] for f in lv["files"])
    ds = kpi.load(root)
    for kpi_id in ("contacts_per_customer", "max_in_queue"):
        frame = kpi.evaluate(ds, kpi_id, every="1d", by=["team"]).frame
        assert "contacts.parquet" not in frame.explain()
        frame.collect()


def test_an_unknown_kpi_does_not_stop_the_first_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cube, "PREPARE_MIN_ROWS", 1_000)
    root = _dir(tmp_path, 2_000, seed=14)
    ds = kpi.load(root)
    with pytest.raises(kpi.KpiError):
        cube.prepare(ds, metrics="no_such_kpi", progress=False)
    assert cube.prepare(ds, metrics="aht", progress=False) is None  # built, not a note
    assert cube.info(root)["fresh"]


def test_two_parts_of_the_core_levels_added_in_one_pass(tmp_path: Path) -> None:
    """The agents' bit sets and FCR's flags added together: one pass, levels holding both,
    named by what they hold; both KPIs then read them, with the rows' values."""
    root = _dir(tmp_path, 4_000, seed=15)
    cube.build(root, parts=())
    assert cube.complete(root, ["fcr", "agents"])
    where = Path(cube.info(root)["where"])
    meta = json.loads((where / "cube.json").read_text())
    both = [lv for lv in meta["levels"] if lv["part"] == "agents+fcr"]
    assert len(both) > 20
    assert all(lv["level"].endswith(", agents' sets and FCR's repeats") for lv in both)
    assert all(".agents-fcr." in f for lv in both for f in lv["files"])
    assert cube.info(root)["pending"] == ["customers", "sweeps", "peaks"]
    ds = kpi.load(root)
    for kpi_id in ("fcr", "handled_per_agent"):
        kw = {"every": "1w", "by": ["team"]}
        got = kpi.evaluate(ds, kpi_id, **kw)
        assert ".agents-fcr." in got.frame.explain()
        rows = kpi.evaluate(ds, kpi_id, cube=False, **kw).frame.collect()
        assert_frame_equal(rows, got.frame.collect(), check_exact=False, rel_tol=1e-9)


@pytest.fixture(scope="module")
def agents_apart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Contacts with unknown teams, queues and topics (every 17th, 23rd, 29th row), the core
    built, then the agents' bit sets on their own."""
    df = generate_contacts(5_000, seed=3).with_row_index("_i")
    df = df.with_columns(
        pl.when(pl.col("_i") % n == 0).then(None).otherwise(pl.col(c)).alias(c)
        for c, n in (("team", 17), ("queue", 23), ("topic", 29))
    ).drop("_i")
    root = tmp_path_factory.mktemp("apart") / "data"
    kpi.save(kpi.Dataset({"contacts": df}, tz=TZ), root)
    cube.build(root, parts=())
    assert cube.complete(root, ["agents"])
    return root


@pytest.mark.parametrize("every", [None, "15m", "1d", "1mo"])
@pytest.mark.parametrize("by", [[], ["team"], ["team", "agent_id"], ["channel", "topic"]])
@pytest.mark.parametrize(
    ("start", "end"), [(None, None), ("2025-03-01", "2025-11-01"), ("2025-03-30 05:00", None)]
)
def test_agents_apart_join_the_core_with_unknown_groups_and_ranges(
    agents_apart: Path, every: str | None, by: list[str], start: str | None, end: str | None
) -> None:
    """The agents' count joined to the core's roll-up: groups of unknown team, queue or topic
    (null keys), the whole range as one bin, ranges on and off the cube's bins (the rows)."""
    ds = kpi.load(agents_apart)
    kw = {"every": every, "by": by, "start": start, "end": end}
    for kpi_id in ("handled_per_agent", ["sales_per_agent", "aht", "contacts_per_customer"]):
        got = kpi.evaluate(ds, kpi_id, **kw)
        rows = kpi.evaluate(ds, kpi_id, cube=False, **kw).frame.collect()
        assert_frame_equal(rows, got.frame.collect(), check_exact=False, rel_tol=1e-9)
    if every in ("1d", "1mo") and start != "2025-03-30 05:00":  # on the cube's bins
        assert ".agents." in kpi.evaluate(ds, "handled_per_agent", **kw).frame.explain()


def test_a_set_alone_takes_its_groups_from_the_core(agents_apart: Path) -> None:
    """A query of the agents' count alone: the groups' row counts from a core level, the
    count from the agents' levels, as a cube built in one pass gives."""
    from kpi.cube._build import signature
    from kpi.metrics import resolve

    c = cube.find(agents_apart)
    assert c is not None
    ((m, p),) = resolve("handled_per_agent", {})
    (meas,) = [x for x in m.build(p).measures if x.kind == "distinct"]
    (src,) = meas.sources
    kw = {"by": ["team"], "every": "1w", "start": None, "end": None, "rows": "_n", "known": {}}
    got = c.rollup("contacts", "arrival_ts", [("agents", src)], **kw)
    assert got is not None
    got = got.collect().sort("team", "_bin", nulls_last=True)
    assert signature("contacts", "arrival_ts", src) not in {
        s for lv in c.meta["levels"] if lv["part"] == "core" for s in lv["columns"]
    }
    rows = kpi.load(agents_apart)["contacts"]
    assert got["_n"].sum() == rows.select(pl.len()).collect().item()
    weekly = (
        rows.group_by("team", pl.col("arrival_ts").dt.truncate("1w").alias("_bin"))
        .agg(src.agg.alias("agents"), pl.len().alias("_n"))
        .collect()
        .sort("team", "_bin", nulls_last=True)
    )
    assert_frame_equal(got.select("team", "agents", "_n"), weekly.select("team", "agents", "_n"))


def test_sweeps_built_alone_over_many_chunks_equal_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built alone, each chunk's queue sweep runs beside the next one's (two at a time): the
    same cells, in the same order of chunks, as the sweeps made beside the core's groupings."""
    monkeypatch.setattr(kpi.cube._build, "CHUNK_ROWS", 400)  # a chunk per month: 12 of them
    root = _dir(tmp_path)
    cube.build(root, parts=("core", "sweeps"))
    whole = {k: v for k, v in _cells(root).items() if v[0]["part"] == "sweeps"}
    cube.build(root, parts=())
    assert cube.complete(root, ["sweeps"])
    apart = {k: v for k, v in _cells(root).items() if v[0]["part"] == "sweeps"}
    assert apart.keys() == whole.keys()
    assert len(whole) >= 10
    for key, (lv, frame) in whole.items():
        assert frame.height > 0
        assert {k: v for k, v in lv.items() if k != "files"} == {
            k: v for k, v in apart[key][0].items() if k != "files"
        }
        assert_frame_equal(frame, apart[key][1])
    # and the chunks were many: a level's cells span the year
    hours = next(f for (*_, grain, dims), (_, f) in whole.items() if grain == "1h" and not dims)
    assert (hours["_bin"].max() - hours["_bin"].min()).days > 300
