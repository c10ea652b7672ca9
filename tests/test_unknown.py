"""Unknown is never zero: a KPI whose inputs the data lack is null, with a reason, everywhere.

Hand-made data: an arrivals-only interval report, contacts without handle times, a dataset
without surveys, one team without a column; and a property over the small complete dataset:
every optional column and table removed in turn leaves every KPI either exactly as it was or
null with a reason, never a number built on the missing input.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from fixtures_small import TZ, Z, small_dataset, ts

from kpi import compute, evaluate
from kpi.compute import Availability, availability
from kpi.compute import _known as known
from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.metrics import METRICS
from kpi.periods import parse_period
from kpi.schema import TABLES, conform

JAN = {"period": parse_period("2026-01")}


def _arrivals_only() -> Dataset:
    """Five-minute rows of one queue: offered only, as a real arrivals export."""
    t0 = datetime(2026, 1, 5, 9, tzinfo=Z)
    frame = pl.DataFrame(
        {
            "interval_start": [t0 + timedelta(minutes=5 * i) for i in range(12)],
            "interval_s": [300.0] * 12,
            "queue": ["sales"] * 12,
            "offered": [3, 0, 5, 2, 0, 0, 7, 1, 4, 2, 2, 1],
        }
    )
    return Dataset({"intervals": frame}, tz=TZ)


def test_arrivals_only_intervals_offered_known_the_rest_null_with_reasons():
    ds = _arrivals_only()
    kpis = ["contacts_offered", "aht", "asa", "service_level", "answer_rate", "abandon_rate"]
    r = evaluate(ds, kpis, every="30m")
    out = r.frame.collect()
    assert out["contacts_offered"].to_list() == [10.0, 17.0]
    for k in kpis[1:]:
        assert out[k].is_null().all(), k
        assert r.notes[k].startswith("unavailable: no contacts table; intervals has no "), k
    assert r.notes["asa"] == (
        "unavailable: no contacts table; intervals has no wait_answered_s values; intervals "
        "has no answered values; needs wait_s in contacts, or wait_answered_s, answered in "
        "intervals"
    )
    # the unknown measures are not in the frame as zeros
    assert "answered" not in out.columns
    assert r.availability["contacts_offered"].ok
    assert not r.availability["aht"].ok


def test_arrivals_only_compute_alone_raises_with_the_reason():
    with pytest.raises(KpiError, match=r"cannot compute aht from this data: no contacts table"):
        compute(_arrivals_only(), "aht")


def test_availability_matches_evaluate():
    ds = _arrivals_only()
    found = availability(ds)
    assert set(found) == set(METRICS)
    assert [k for k, a in found.items() if a.ok] == ["contacts_offered"]
    line = found["aht"].line("Average handle time")
    assert line.startswith("Average handle time: unavailable: no contacts table; ")
    assert "\n" not in line
    r = evaluate(ds, ["contacts_offered", "aht", "csat"])
    assert {k: a.ok for k, a in r.availability.items()} == {
        k: found[k].ok for k in ("contacts_offered", "aht", "csat")
    }


def test_availability_is_an_availability_per_kpi():
    found = availability(small_dataset(), "aht,csat")
    assert found["aht"] == Availability(
        True,
        None,
        "talk_s, hold_s, acw_s in contacts, or talk_s, hold_s, acw_s, answered in intervals",
    )
    assert found["csat"].ok
    assert found["csat"].message == ""


def _without(ds: Dataset, table: str, col: str) -> Dataset:
    """The dataset with one column of one table null on every row (the same as absent)."""
    lf = ds.tables[table]
    dtype = lf.collect_schema()[col]
    return ds.replace(**{table: lf.with_columns(pl.lit(None, dtype).alias(col))})


def test_contacts_with_talk_all_null_give_null_aht():
    ds = _without(small_dataset(), "contacts", "talk_s")
    r = evaluate(ds, "aht,avg_talk,avg_hold,contacts_handled", **JAN)
    out = r.frame.collect()
    assert out["aht"].to_list() == [None]
    assert out["avg_talk"].to_list() == [None]
    assert out["avg_hold"].item() is not None
    assert out["contacts_handled"].item() > 0
    assert r.notes["aht"].startswith("unavailable: contacts has no talk_s values")


def test_dataset_without_surveys_gives_null_csat():
    ds = small_dataset()
    ds = Dataset({k: v for k, v in ds.tables.items() if k != "surveys"}, tz=ds.tz)
    r = evaluate(ds, "csat,nps,aht", **JAN)
    out = r.frame.collect()
    assert out["csat"].is_null().all()
    assert out["nps"].is_null().all()
    assert out["aht"].item() is not None
    assert r.notes["csat"] == "unavailable: no surveys table; needs csat in surveys"
    assert availability(ds, "csat")["csat"].message == r.notes["csat"]


def test_surveys_with_only_csat():
    frame = pl.DataFrame({"survey_ts": [ts(5, 9), ts(6, 9), ts(7, 9)], "csat": [5, 4, 2]})
    r = evaluate({"surveys": conform("surveys", frame.lazy(), TZ)}, "csat,nps,ces")
    out = r.frame.collect()
    assert out["csat"].item() == pytest.approx(2 / 3)
    assert out["nps"].is_null().all()
    assert out["ces"].is_null().all()
    assert "surveys has no nps values" in r.notes["nps"]


def _two_teams(sample: int | None = None) -> Dataset:
    """Team A with handle times, team B with none (its export lacked them)."""
    rows = []
    for i in range(6):
        a = i % 2 == 0
        rows.append(
            {
                "contact_id": f"c{i}",
                "team": "A" if a else "B",
                "arrival_ts": ts(5 + i // 2, 9),
                "outcome": "answered",
                "wait_s": 10.0 * (i + 1),
                "talk_s": 100.0 * (i + 1) if a else None,
                "hold_s": 10.0 if a else None,
                "acw_s": 20.0 if a else None,
            }
        )
    return Dataset({"contacts": conform("contacts", pl.DataFrame(rows).lazy(), TZ)}, tz=TZ)


@pytest.mark.parametrize("sample", [known._SAMPLE, 1])
def test_one_team_unknown_the_other_exact(monkeypatch, sample):
    # a sample of 1 row: the engine's per-group check (not the table's null count) decides
    monkeypatch.setattr(known, "_SAMPLE", sample)
    ds = _two_teams()
    out = compute(ds, "aht,asa,contacts_handled", by="team", measures=False).collect()
    assert out.rows() == [
        ("A", (130 + 330 + 530) / 3, (10 + 30 + 50) / 3, 3.0),
        ("B", None, (20 + 40 + 60) / 3, 3.0),
    ]
    # roll-ups exact where known: team A's days sum to its month
    daily = compute(ds, "aht", by="team", every="1d").collect()
    a = daily.filter(pl.col("team") == "A")
    assert a["handle_s"].sum() / a["handled"].sum() == pytest.approx(out["aht"][0])
    b = daily.filter(pl.col("team") == "B")
    assert b["aht"].is_null().all()
    assert b["handle_s"].is_null().all()
    assert b["handled"].to_list() == [1, 1, 1]


def test_empty_bins_of_known_measures_are_zero():
    # a day with no contacts between two that have some: 0 handled, not unknown
    ds = small_dataset()
    out = compute(ds, "contacts_handled", every="1d", start="2026-01-05", end="2026-01-07")
    counts = out.collect()["contacts_handled"].to_list()
    assert None not in counts


# ---- the property: remove each optional column and table in turn ---------------------------

FULL = small_dataset()


def _values(ds: Dataset) -> tuple[dict[str, float | None], dict[str, str]]:
    r = evaluate(ds, "all", measures=False, **JAN)
    row = r.frame.collect().row(0, named=True)
    return {k: row[k] for k in r.metrics}, r.notes


BASE, BASE_NOTES = _values(FULL)

REMOVALS = [
    (table, col.name) for table in FULL.tables for col in TABLES[table].columns if not col.required
] + [(table, None) for table in FULL.tables]


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return b == pytest.approx(a, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("table", "col"), REMOVALS, ids=lambda x: str(x))
def test_removing_an_input_gives_the_same_value_or_null_with_a_reason(table, col):
    if col is None:
        ds = Dataset({k: v for k, v in FULL.tables.items() if k != table}, tz=FULL.tz)
    else:
        ds = _without(FULL, table, col)
    values, notes = _values(ds)
    found = availability(ds)
    for kpi_id, before in BASE.items():
        after = values[kpi_id]
        if _same(before, after):
            continue
        # changed: it must be unknown, and say why
        assert after is None, f"{kpi_id} = {after} (was {before}) without {table}.{col}"
        assert kpi_id in notes, kpi_id
        assert not found[kpi_id].ok
        assert notes[kpi_id] == found[kpi_id].message


# ---- findings never rest on an unknown -----------------------------------------------------


def test_explain_refuses_an_unavailable_kpi_in_one_line():
    from kpi.explain import explain

    ds = _without(small_dataset(), "contacts", "acw_s")
    with pytest.raises(KpiError) as exc:
        explain(ds, "aht", baseline="2026-01", current="2026-02")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("cannot explain aht: contacts has no acw_s values; ")
    assert msg.endswith(
        "it needs talk_s, hold_s, acw_s in contacts, or talk_s, hold_s, acw_s in intervals"
    )


def _weekly_with_unknown_weeks() -> Dataset:
    """Twelve weeks of contacts of one team; talk_s unknown in weeks 6 to 8."""
    rows = []
    for week in range(12):
        for i in range(5):
            unknown = 6 <= week <= 8
            rows.append(
                {
                    "contact_id": f"c{week}_{i}",
                    "team": "A",
                    "arrival_ts": ts(5, 9 + i) + timedelta(weeks=week),
                    "outcome": "answered",
                    "wait_s": 10.0,
                    "talk_s": None if unknown else 100.0 + i,
                    "hold_s": None if unknown else 0.0,
                    "acw_s": None if unknown else 10.0,
                }
            )
    return Dataset({"contacts": conform("contacts", pl.DataFrame(rows).lazy(), TZ)}, tz=TZ)


def test_trends_build_nothing_on_unknown_weeks():
    from kpi.trends import anomalies, change, change_points

    ds = _weekly_with_unknown_weeks()
    r = evaluate(ds, "aht", every="1w")
    values = r.frame.collect()["aht"]
    assert values.null_count() == 3
    flagged = anomalies(r, "aht", season="1w", lookback=4, min_history=2).frame.collect()
    unknown = flagged.filter(pl.col("aht").is_null())
    assert unknown["aht_anomaly"].is_null().all()
    assert unknown["aht_effect"].is_null().all()
    # the known weeks are flat (the same contacts every week): no change point, no anomaly
    assert change_points(r, "aht").frame.collect().height == 0
    assert not flagged["aht_anomaly"].fill_null(False).any()
    tr = change(ds, "aht", every="1w").frame.collect()
    after = tr.filter(pl.col("value").is_not_null() & pl.col("previous").is_null())
    assert after.height == 2  # the first week, and the first known week after the gap
    assert after["previous_improved"].is_null().all()


# ---- scores in their own units ---------------------------------------------------------------


def _surveys(scores: list[int]) -> Dataset:
    frame = pl.DataFrame(
        {
            "survey_ts": [ts(5 + i % 20, 9) for i in range(len(scores))],
            "team": ["A"] * len(scores),
            "csat": scores,
        }
    )
    return Dataset({"surveys": conform("surveys", frame.lazy(), TZ)}, tz=TZ)


MEAN = {"csat.method": "mean"}


def test_csat_mean_is_a_score_on_its_scale_not_a_percentage():
    from kpi._format import format_value
    from kpi.scorecard import scorecard

    ds = _surveys([5, 4, 4, 4, 4])
    r = evaluate(ds, "csat", params=MEAN, **JAN)
    value = r.frame.collect()["csat"].item()
    assert value == pytest.approx(4.2)
    assert r.units == {"csat": "points"}
    assert format_value(value, r.units["csat"]) == "4.2"
    card, defs = scorecard(ds, period="2026-01", metrics=["csat"], params=MEAN)
    row = card.collect().row(0, named=True)
    assert (row["unit"], row["target"], row["red"], row["status"]) == ("points", 4.2, 3.8, "green")
    assert defs == {"csat": "CSAT = mean score (1-5)"}
    for scores, status in (([5, 4, 4, 3, 4], "amber"), ([3, 4, 4, 3, 4], "red")):
        card, _ = scorecard(_surveys(scores), period="2026-01", metrics=["csat"], params=MEAN)
        assert card.collect()["status"].to_list() == [status]


def test_csat_top2_unchanged():
    from kpi._format import format_value
    from kpi.scorecard import scorecard

    ds = _surveys([5, 4, 4, 4, 2])
    card, defs = scorecard(ds, period="2026-01", metrics=["csat"])
    row = card.collect().row(0, named=True)
    assert (row["unit"], row["target"], row["red"], row["status"]) == ("ratio", 0.8, 0.7, "green")
    assert format_value(row["value"], row["unit"]) == "80.0%"
    assert defs == {"csat": "CSAT = responses rated 4 or 5 / responses (top-2-box)"}


def test_csat_on_a_ten_point_scale():
    ds = _surveys([10, 9, 8, 7, 10])
    p = {"csat.scale_max": 10}
    assert evaluate(ds, "csat", params=p, **JAN).frame.collect()["csat"].item() == 0.6
    mean = evaluate(ds, "csat", params={**p, **MEAN}, **JAN)
    assert mean.frame.collect()["csat"].item() == pytest.approx(8.8)
    assert METRICS["csat"].target_for({"method": "mean", "scale_max": 10}).target == 8.2
    assert METRICS["csat"].status(8.8, params={"method": "mean", "scale_max": 10}) == "green"


def test_scores_units_and_targets_by_variant():
    from kpi.targets import TargetSet, status_columns

    assert METRICS["nps"].unit_for() == "points"
    assert METRICS["qa_score"].unit_for() == "points"
    assert METRICS["ces"].unit_for() == "points"
    assert METRICS["ces"].unit_for({"method": "agree_share"}) == "ratio"
    assert METRICS["sales_per_agent"].unit_for({"basis": "revenue"}) == "currency"
    lf = pl.LazyFrame({"csat": [4.5, 4.0]})
    out = status_columns(lf, ["csat"], TargetSet(), params=MEAN).collect()
    assert out["csat_status"].to_list() == ["green", "amber"]
    assert out["csat_target"].to_list() == [4.2, 4.2]


def test_explain_csat_mean_in_points():
    from kpi.explain import explain

    ds = _surveys([5, 4, 4, 4, 4, 3, 3])
    frame = ds["surveys"].collect()
    later = frame.with_columns(
        pl.col("survey_ts").dt.offset_by("1mo"), pl.lit(5, pl.Int64).alias("csat")
    )
    ds = ds.replace(surveys=pl.concat([frame, later]))
    exp = explain(
        ds, "csat", baseline="2026-01", current="2026-02", dims=["team"], params={"method": "mean"}
    )
    assert exp.unit == "points"
    text = " ".join(exp.narrative)
    assert "(3.9 to 5.0)" in text  # the scores on their scale, the relative change in percent
    assert "390" not in text


def test_a_dimension_null_on_every_row_cuts_nothing(tmp_path):
    """A file loaded without topic has it null on every row. By topic, each KPI of that table
    is unavailable with the reason, with and without the cube (one unknown group holding every
    row would pass the totals off as a cut by topic); a KPI of a table with topic values is
    still cut by it, and the explorers do not offer topic for the first."""
    import kpi
    from kpi import cube, views

    ds = _without(small_dataset(), "contacts", "topic")
    kpi.save(ds, tmp_path)
    cube.build(tmp_path)
    saved = kpi.load(tmp_path)
    assert evaluate(saved, "aht", every="1d").frame.explain().count(".kpi-cube") > 0
    for data, use in ((ds, False), (saved, False), (saved, None)):
        with pytest.raises(KpiError, match=r"by topic: contacts has no topic values"):
            evaluate(data, "aht", by=("topic",), cube=use, **JAN)
    r = evaluate(ds, "aht,csat", by=("topic",), **JAN)
    out = r.frame.collect()
    assert out["aht"].is_null().all()
    assert r.notes["aht"].startswith("unavailable: contacts has no topic values")
    whole = evaluate(small_dataset(), "csat", by=("topic",), **JAN).frame.collect()
    assert (
        out.select("topic", "csat")
        .sort("topic")
        .equals(whole.select("topic", "csat").sort("topic"))
    )
    assert out["csat"].drop_nulls().len() > 0
    assert "topic" not in views.dimensions(ds, "aht")
    assert "topic" in views.dimensions(ds, "csat")
    assert "topic" in views.dimensions(ds)  # surveys and tickets have it
    assert "topic" in views.dimensions(small_dataset(), "aht")
