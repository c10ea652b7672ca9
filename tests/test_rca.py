"""kpi.rca: root-cause localisation and segment deltas, checked against hand-computed tables."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from kpi import rca
from kpi.cli import main
from kpi.errors import KpiError

ROOT = Path(__file__).resolve().parents[1]

# 3 teams x 2 channels x 3 sites = 18 leaves
TEAMS = ["N", "N", "S", "S", "E", "E"] * 3
CHANNELS = ["call", "chat"] * 9
SITES = ["x"] * 6 + ["y"] * 6 + ["z"] * 6


def additive_table() -> dict:
    """Team N halves (-270 in all), every other leaf moves by at most one unit."""
    return {
        "team": TEAMS,
        "channel": CHANNELS,
        "site": SITES,
        "expected": [100, 80, 120, 90, 60, 70] * 3,
        "actual": [50, 40, 121, 89, 61, 70, 51, 41, 119, 90, 59, 71, 49, 39, 120, 91, 60, 69],
    }


def rate_table() -> dict:
    """Service level: 100 offered per leaf in both periods; team N answers 50 instead of 80."""
    return {
        "team": TEAMS,
        "channel": CHANNELS,
        "site": SITES,
        "ok_b": [80] * 18,
        "n_b": [100] * 18,
        "ok_c": [50 if t == "N" else 80 for t in TEAMS],
        "n_c": [100] * 18,
    }


def mix_table() -> dict:
    """Team N (rate 0.5) doubles its volume; teams S and E (rate 0.9) do not move at all."""
    return {
        "team": TEAMS,
        "channel": CHANNELS,
        "site": SITES,
        "ok_b": [50 if t == "N" else 90 for t in TEAMS],
        "n_b": [100] * 18,
        "ok_c": [100 if t == "N" else 90 for t in TEAMS],
        "n_c": [200 if t == "N" else 100 for t in TEAMS],
    }


# ---- additive ------------------------------------------------------------------------------


def test_additive_cause_found_with_hand_computed_numbers(frame):
    r = rca.localize(
        frame(additive_table()),
        dims=["team", "channel", "site"],
        baseline="expected",
        current="actual",
    )
    # totals: 3 * 520 = 1560 expected, 1290 actual; team N: 540 -> 270
    assert r.baseline["value"] == 1560.0
    assert r.current["value"] == 1290.0
    assert r.change == {"absolute": -270.0, "relative": pytest.approx(-270 / 1560)}
    assert [c.dims for c in r.causes] == [{"team": "N"}]
    c = r.causes[0]
    assert (c.baseline, c.current, c.contribution, c.share) == (540.0, 270.0, -270.0, 1.0)
    assert c.kind == "additive"
    assert c.evidence["leaves"] == 6
    assert c.evidence["leaves_moved"] == 6
    assert c.evidence["relative_change"] == pytest.approx(-0.5)
    assert c.confidence > 0.99
    assert r.explained_share == 1.0
    assert r.narrative[0] == "actual fell 17.3% (1,560 to 1,290; \u2212270)."
    assert "team = N explains 100.0% of the change" in r.narrative[1]


def test_additive_segments_sum_exactly_to_the_change(frame):
    seg = rca.segments(
        frame(additive_table()),
        dims=["team", "channel", "site"],
        baseline="expected",
        current="actual",
        max_order=3,
    ).collect()
    assert seg.height == 3 + 2 + 3 + 6 + 9 + 6 + 18
    sums = seg.group_by("dims").agg(pl.col("contribution").sum(), pl.col("share").sum())
    assert sums["contribution"].to_list() == [-270.0] * 7
    assert sums["share"].to_list() == pytest.approx([1.0] * 7)
    north = seg.filter(pl.col("segment") == "team=N").row(0, named=True)
    assert north["baseline"] == 540.0
    assert north["current"] == 270.0
    assert north["contribution"] == -270.0
    assert north["share"] == 1.0
    assert north["order"] == 1
    assert north["dims"] == ["team"]
    assert north["channel"] is None
    pair = seg.filter(pl.col("segment") == "team=S & channel=call").row(0, named=True)
    assert (pair["baseline"], pair["current"], pair["contribution"]) == (360.0, 360.0, 0.0)
    # within a combination, ranked by |contribution|
    assert seg.filter(pl.col("dims") == ["team"])["segment"].to_list()[0] == "team=N"


# ---- ratio ---------------------------------------------------------------------------------


def test_ratio_rate_cause_with_mix_and_rate_effects(frame):
    r = rca.localize(
        frame(rate_table()),
        dims=["team", "channel", "site"],
        baseline="ok_b",
        current="ok_c",
        ratio=("n_b", "n_c"),
        metric="Service level",
    )
    # R_b = 1440 / 1800 = 0.8, R_c = 1260 / 1800 = 0.7
    assert r.baseline["value"] == pytest.approx(0.8)
    assert r.current["value"] == pytest.approx(0.7)
    assert r.change["absolute"] == pytest.approx(-0.1)
    assert [c.dims for c in r.causes] == [{"team": "N"}]
    c = r.causes[0]
    assert c.kind == "rate"
    # N: shares 1/3 -> 1/3, rate 0.8 -> 0.5: rate = 1/3 * -0.3 = -0.1, mix = 0
    assert c.baseline == pytest.approx(0.8)
    assert c.current == pytest.approx(0.5)
    assert c.rate == pytest.approx(-0.1)
    assert c.mix == pytest.approx(0.0)
    assert c.contribution == pytest.approx(-0.1)
    assert c.share == pytest.approx(1.0)
    assert r.narrative[0] == "Service level fell from 80.0% to 70.0% (\u221210.0 pp)."


def test_ratio_segments_mix_and_rate_by_hand(frame):
    t = {"team": ["N", "S"], "ok_b": [80.0, 45], "n_b": [100.0, 50], "ok_c": [60.0, 90]}
    t["n_c"] = [100.0, 100]
    seg = rca.segments(
        frame(t), dims=["team"], baseline="ok_b", current="ok_c", ratio=("n_b", "n_c")
    ).collect()
    # R_b = 125/150 = 5/6, R_c = 150/200 = 3/4, change = -1/12
    n = seg.filter(pl.col("segment") == "team=N").row(0, named=True)
    s = seg.filter(pl.col("segment") == "team=S").row(0, named=True)
    assert n["rate"] == pytest.approx(0.5 * (0.6 - 0.8))  # s_c (r_c - r_b)
    assert n["mix"] == pytest.approx((0.5 - 2 / 3) * (0.8 - 5 / 6))  # (s_c - s_b)(r_b - R_b)
    assert s["rate"] == pytest.approx(0.0)
    assert s["mix"] == pytest.approx((0.5 - 1 / 3) * (0.9 - 5 / 6))
    assert n["contribution"] + s["contribution"] == pytest.approx(-1 / 12, abs=1e-15)
    assert n["share"] + s["share"] == pytest.approx(1.0)
    assert (n["baseline_volume"], n["current_volume"]) == (100.0, 100.0)


def test_ratio_segments_sum_exactly_over_every_partition(frame):
    rng = np.random.default_rng(3)
    n = 60
    t = {
        "a": rng.choice(["a1", "a2", "a3"], n).tolist(),
        "b": rng.choice(["b1", "b2", "b3", "b4"], n).tolist(),
        "c": rng.choice(["c1", "c2"], n).tolist(),
        "n_b": rng.integers(0, 50, n).astype(float).tolist(),
        "n_c": rng.integers(0, 50, n).astype(float).tolist(),
    }
    t["ok_b"] = [x * p for x, p in zip(t["n_b"], rng.uniform(0, 1, n), strict=True)]
    t["ok_c"] = [x * p for x, p in zip(t["n_c"], rng.uniform(0, 1, n), strict=True)]
    total = sum(t["ok_c"]) / sum(t["n_c"]) - sum(t["ok_b"]) / sum(t["n_b"])
    seg = rca.segments(
        frame(t),
        dims=["a", "b", "c"],
        baseline="ok_b",
        current="ok_c",
        ratio=("n_b", "n_c"),
        max_order=3,
    ).collect()
    sums = seg.group_by("dims").agg((pl.col("mix") + pl.col("rate")).sum())
    assert sums.height == 7
    assert sums["mix"].to_list() == pytest.approx([total] * 7, abs=1e-12)


def test_ratio_mix_cause_when_only_volume_moves(frame):
    r = rca.localize(
        frame(mix_table()),
        dims=["team", "channel", "site"],
        baseline="ok_b",
        current="ok_c",
        ratio=("n_b", "n_c"),
    )
    # R_b = 1380/1800, R_c = 1680/2400 = 0.7; N: shares 1/3 -> 1/2 at rate 0.5 (unchanged)
    rb = 1380 / 1800
    assert r.change["absolute"] == pytest.approx(0.7 - rb)
    assert [c.dims for c in r.causes] == [{"team": "N"}]
    c = r.causes[0]
    assert c.kind == "mix"
    assert c.rate == pytest.approx(0.0)
    assert c.mix == pytest.approx((1 / 2 - 1 / 3) * (0.5 - rb))
    assert c.share == pytest.approx(c.mix / (0.7 - rb))
    assert "share of the volume went from 33.3% to 50.0%" in " ".join(r.narrative)


def test_scale_multiplies_rates(frame):
    r = rca.localize(
        frame(rate_table()),
        dims=["team", "channel", "site"],
        baseline="ok_b",
        current="ok_c",
        ratio=("n_b", "n_c"),
        scale=100.0,
    )
    assert r.baseline["value"] == pytest.approx(80.0)
    assert r.causes[0].rate == pytest.approx(-10.0)


# ---- honesty -------------------------------------------------------------------------------


def test_no_cause_in_pure_noise_is_reported_honestly():
    rng = np.random.default_rng(7)
    n_a, n_b, n_c = 8, 10, 6
    idx = np.indices((n_a, n_b, n_c)).reshape(3, -1)
    expected = rng.uniform(50, 500, idx.shape[1])
    t = pl.DataFrame(
        {
            "a": [f"a{i}" for i in idx[0]],
            "b": [f"b{i}" for i in idx[1]],
            "c": [f"c{i}" for i in idx[2]],
            "f": expected,
            "v": expected * (1 + rng.normal(0, 0.05, idx.shape[1])),
        }
    )
    r = rca.localize(t, dims=["a", "b", "c"], baseline="f", current="v")
    assert r.causes == []
    assert r.narrative[1].startswith("No segment or combination of segments explains the change")
    assert r.to_dict()["segments"] == []
    assert 0.04 < r.method["noise"]["relative"] < 0.06


def test_uniform_shift_is_the_whole_table():
    t = pl.DataFrame(
        {"q": [f"q{i}" for i in range(40)], "f": [100.0 + i for i in range(40)]}
    ).with_columns(v=pl.col("f") * 0.8)
    r = rca.localize(t, dims=["q"], baseline="f", current="v")
    assert [c.dims for c in r.causes] == [{}]
    assert r.causes[0].share == pytest.approx(1.0)
    assert "The whole table moved together" in r.narrative[1]


def test_identical_periods_did_not_change():
    t = pl.DataFrame({"q": ["a", "b"], "f": [3.0, 4.0]}).with_columns(v=pl.col("f"))
    r = rca.localize(t, dims=["q"], baseline="f", current="v")
    assert r.causes == []
    assert r.change == {"absolute": 0.0, "relative": 0.0}
    assert r.explained_share is None
    assert r.narrative == ["v did not change (7 in both)."]


def test_zero_baseline_has_no_relative_change():
    t = pl.DataFrame({"q": ["a", "b"], "f": [0.0, 0.0], "v": [5.0, 0.0]})
    r = rca.localize(t, dims=["q"], baseline="f", current="v")
    assert r.change == {"absolute": 5.0, "relative": None}
    assert r.narrative[0] == "v rose from 0 to 5 (+5)."


def test_duplicate_leaves_are_summed_and_nulls_labelled():
    t = pl.DataFrame({"q": ["a", "a", None], "f": [1.0, 2.0, 4.0], "v": [1.0, None, 4.0]})
    seg = rca.segments(t, dims=["q"], baseline="f", current="v").collect()
    assert dict(zip(seg["q"], seg["contribution"], strict=True)) == {"a": -2.0, "(null)": 0.0}


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dims": ["team", "zone"]}, "unknown dimension column(s) 'zone'; columns of the table"),
        ({"dims": []}, "no dimension given"),
        ({"dims": ["team", "team"]}, "dimension(s) given twice: team"),
        ({"baseline": "nope"}, "unknown measure column(s) 'nope'"),
        ({"baseline": "site"}, "measure column 'site' is String, not numeric"),
        ({"dims": ["team", "expected"]}, "used both as dimension and as measure"),
        ({"current": "expected"}, "measure column(s) 'expected' given for two roles"),
        ({"max_elements": 0}, "max_elements must be 1 or more"),
        ({"ratio": ("n",)}, "ratio= takes two denominator columns"),
    ],
)
def test_bad_input_gives_clear_errors(kwargs, message):
    args = {"dims": ["team", "channel"], "baseline": "expected", "current": "actual"}
    with pytest.raises(KpiError, match=None) as exc:
        rca.localize(pl.DataFrame(additive_table()), **{**args, **kwargs})
    assert message in str(exc.value)


def test_empty_table_and_zero_denominator():
    empty = pl.DataFrame(schema={"q": pl.String, "f": pl.Float64, "v": pl.Float64})
    with pytest.raises(KpiError, match="the table is empty"):
        rca.localize(empty, dims=["q"], baseline="f", current="v")
    t = pl.DataFrame({"q": ["a"], "f": [1.0], "v": [1.0], "d0": [0.0], "d1": [2.0]})
    with pytest.raises(KpiError, match="the denominator 'd0' sums to 0"):
        rca.localize(t, dims=["q"], baseline="f", current="v", ratio=("d0", "d1"))
    with pytest.raises(KpiError, match="must not be negative"):
        rca.localize(
            t.with_columns(d0=pl.lit(-1.0)),
            dims=["q"],
            baseline="f",
            current="v",
            ratio=("d0", "d1"),
        )
    with pytest.raises(KpiError, match="polars DataFrame or LazyFrame"):
        rca.localize({"q": [1]}, dims=["q"], baseline="f", current="v")


# ---- real benchmark instance ---------------------------------------------------------------


@pytest.mark.shared
def test_b0_instance_true_causes_found(shared_datasets):
    base = shared_datasets / "rca_b0_dev" / "B_cuboid_layer_3_n_ele_2"
    table = pl.read_csv(base / "1450692600.csv.gz")
    info = pl.read_csv(base / "injection_info.csv").filter(pl.col("timestamp") == 1450692600)
    truth = {
        frozenset(tuple(kv.split("=")) for kv in el.split("&"))
        for el in info["set"].item().split(";")
    }
    r = rca.localize(table, dims=["a", "b", "c", "d"], baseline="predict", current="real")
    assert {frozenset(c.dims.items()) for c in r.causes} == truth
    assert truth == {
        frozenset({("a", "a4"), ("b", "b30"), ("c", "c8")}),
        frozenset({("a", "a3"), ("b", "b15"), ("c", "c1")}),
    }
    for c in r.causes:
        assert c.evidence["consistency"] > 0.8
        assert c.confidence > 0.99
    assert r.method["leaves"] == 21_600


def test_synthetic_generators_run_and_are_found():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import rca_generators as gen
    finally:
        sys.path.remove(str(ROOT / "bench"))
    small = gen.Setting("t", (6, 5, 4), noise=(0.02, 0.02), severity=(0.6, 0.6))
    inst = gen.generate(small, seed=5)
    assert inst.table.height == 120
    r = rca.localize(inst.table, dims=inst.dims, baseline="predict", current="real")
    assert {frozenset(c.dims.items()) for c in r.causes} == {
        frozenset(c.items()) for c in inst.causes
    }
    ratio = gen.generate(gen.Setting("r", (6, 5, 4), noise=(0.0, 0.0), ratio=True), seed=2)
    assert set(ratio.table.columns) >= {"num_b", "den_b", "num_c", "den_c"}


# ---- command line --------------------------------------------------------------------------


@pytest.fixture
def table_csv(tmp_path):
    path = tmp_path / "leaves.csv"
    pl.DataFrame(additive_table()).write_csv(path)
    return path


def test_cli_json_shape(table_csv, capsys):
    code = main(
        [
            "explain",
            "--table",
            str(table_csv),
            "--dims",
            "team,channel,site",
            "--baseline-col",
            "expected",
            "--current-col",
            "actual",
            "--format",
            "json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:7] == [
        "metric",
        "baseline",
        "current",
        "change",
        "drivers",
        "segments",
        "explained_share",
    ]
    assert out["baseline"] == {"column": "expected", "value": 1560.0}
    assert out["current"] == {"column": "actual", "value": 1290.0}
    assert out["change"]["absolute"] == -270.0
    assert out["drivers"] == []
    seg = out["segments"][0]
    assert seg["dims"] == {"team": "N"}
    assert (seg["contribution"], seg["share"], seg["selected"]) == (-270.0, 1.0, True)
    assert {"confidence", "evidence"} <= set(seg)
    assert {"score_nats", "leaves", "leaves_moved", "runners_up"} <= set(seg["evidence"])
    assert isinstance(out["narrative"], list)
    assert out["narrative"][0].startswith("actual fell")


def test_cli_ratio_forms_markdown_and_file_types(tmp_path, capsys):
    wide = pl.DataFrame(rate_table())
    wide.write_parquet(tmp_path / "sl.parquet")
    stems = wide.rename({"ok_b": "ok_jan", "n_b": "n_jan", "ok_c": "ok_feb", "n_c": "n_feb"})
    with gzip.open(tmp_path / "sl.csv.gz", "wb") as fh:
        fh.write(stems.write_csv().encode())
    common = ["explain", "--dims", "team,channel,site", "--label", "SL"]
    parquet = ["--table", str(tmp_path / "sl.parquet"), "--baseline-col", "ok_b"]
    assert main([*common, *parquet, "--current-col", "ok_c", "--ratio", "n_b,n_c"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Why SL changed")
    assert "| team = N |" in md
    assert "| mix | rate |" in md
    out = tmp_path / "out.json"
    gz = ["--table", str(tmp_path / "sl.csv.gz"), "--baseline-col", "jan", "--current-col", "feb"]
    code = main([*common, *gz, "--ratio", "ok,n", "--format", "json", "--out", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["segments"][0]["rate"] == pytest.approx(-0.1)
    assert doc["baseline"]["column"] == "ok_jan / n_jan"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "somewhere"], "--metric, --baseline, --current required with --data"),
        (["--table", "missing.csv", "--dims", "a"], "no such file: missing.csv"),
        (["--table", "x.xlsx", "--dims", "a"], "unsupported table file 'x.xlsx'"),
        (
            ["--dims", "team,zone", "--baseline-col", "expected", "--current-col", "actual"],
            "unknown dimension column(s) 'zone'",
        ),
        (
            ["--dims", "team", "--baseline-col", "site", "--current-col", "actual"],
            "measure column 'site' is String, not numeric",
        ),
        (["--dims", "team"], "--baseline-col and --current-col are required"),
        (["--baseline-col", "expected", "--current-col", "actual"], "--dims is required"),
        (
            [
                "--dims",
                "team",
                "--baseline-col",
                "expected",
                "--current-col",
                "actual",
                "--ratio",
                "x,y",
            ],
            "--ratio x,y: expected either the columns",
        ),
    ],
)
def test_cli_errors_are_one_line(table_csv, capsys, args, message):
    if "--table" not in args and "--data" not in args:
        args = ["--table", str(table_csv), *args]
    assert main(["explain", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("kpi explain: error: ")
    assert message in err


def test_cli_table_and_data_are_exclusive(table_csv, capsys):
    assert main(["explain", "--table", str(table_csv), "--data", "d"]) == 2
    err = capsys.readouterr().err
    assert "not allowed with argument" in err
    assert len(err.strip().splitlines()) == 1  # one line, no usage block


def test_sampled_search_checks_every_pick_on_all_leaves():
    """The huge-table path (sample of normal leaves + exact checks) finds the same causes."""
    from kpi._rca_search import SearchParams

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import rca_generators as gen
    finally:
        sys.path.remove(str(ROOT / "bench"))
    inst = gen.generate(gen.Setting("t", (10, 8, 6, 5), noise=(0.05, 0.05)), seed=11)
    args = {"dims": inst.dims, "baseline": "predict", "current": "real"}
    full = rca.localize(inst.table, **args)
    sampled = rca.localize(inst.table, **args, params=SearchParams(sample_above=100))
    truth = {frozenset(c.items()) for c in inst.causes}
    assert {frozenset(c.dims.items()) for c in full.causes} == truth
    assert {frozenset(c.dims.items()) for c in sampled.causes} == truth
    for a, b in zip(
        sorted(full.causes, key=lambda c: c.label()),
        sorted(sampled.causes, key=lambda c: c.label()),
        strict=True,
    ):
        assert a.contribution == b.contribution
        assert b.evidence["leaves"] == a.evidence["leaves"]  # counted on all leaves
