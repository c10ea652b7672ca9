"""Every KPI and every variant on the hand-checkable dataset of ``fixtures_small``.

Each expected value is worked out in the comment beside it from the rows in fixtures_small.py.
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from fixtures_small import small_dataset

import kpi
from kpi import KpiError, compute, evaluate
from kpi.data import Dataset
from kpi.metrics import METRICS, catalogue, definitions, resolve

JAN = {"start": "2026-01-01", "end": "2026-01-31"}
MONTHS_JAN = 31 / 30.436875

CASES = [
    # (kpi, params, expected)  -- contacts c1..c10 in January
    ("contacts_offered", {}, 8),  # 5 answered + 2 abandoned + 1 flow-out
    ("contacts_offered", {"short_abandon_s": 5}, 7),  # c4 waited 3 s: a short abandon
    ("contacts_answered", {}, 5),
    ("contacts_abandoned", {}, 2),
    ("contacts_abandoned", {"short_abandon_s": 5}, 1),
    ("contacts_abandoned", {"stages": "queue_and_ivr"}, 3),  # + c6 in the IVR
    ("contacts_handled", {}, 6),  # 5 answered + outbound c10
    ("contacts_handled", {"direction": "inbound"}, 5),
    ("tickets_handled", {}, 2),  # t1, t2 solved in January (t4 in February)
    ("tickets_handled", {"basis": "closed"}, 2),
    ("handled_per_agent", {}, 6 / 4),  # a1, a2, b1, b2
    ("handled_per_agent", {"basis": "logged_in_hour"}, 6 / (51000 / 3600)),
    ("answer_rate", {}, 5 / 8),
    ("answer_rate", {"basis": "queued"}, 5 / 9),  # offered 8 + c2 transferred
    ("answer_rate", {"basis": "arrived"}, 5 / 9),  # c1..c9 inbound arrivals
    ("abandon_rate", {}, 2 / 8),
    ("abandon_rate", {"denominator": "queued"}, 2 / 9),
    ("abandon_rate", {"denominator": "answered_plus_abandoned"}, 2 / 7),
    ("abandon_rate", {"short_abandon_s": 5}, 1 / 7),
    ("service_level", {}, 3 / 7),  # c1 5 s, c3 15 s, c8 10 s within 20 s
    ("service_level", {"threshold_s": 30}, 5 / 7),  # + c2 30 s, c7 25 s
    ("service_level", {"denominator": "offered"}, 3 / 8),
    ("service_level", {"denominator": "answered"}, 3 / 5),
    ("service_level", {"denominator": "ignore_abandons_within_threshold"}, 3 / 7),  # 8 - c4
    ("service_level", {"denominator": "abandons_within_threshold_met"}, 4 / 8),  # + c4
    ("service_level", {"short_abandon_s": 5}, 3 / 6),  # 7 - c4
    # every contact is voice: its objective is 20 s, the same 3 / 7; a 30 s voice objective
    # is threshold 30 (c2, c7 join); a 30 s objective for queue "help" only adds c7
    ("service_level", {"threshold_s": "objective"}, 3 / 7),
    ("service_level", {"threshold_s": "objective", "objectives": "voice=30s"}, 5 / 7),
    ("service_level", {"threshold_s": "objective", "objectives": "queue:help=30s"}, 4 / 7),
    # no e-mail in the contacts: unknown, not 0; tickets' first responses 1, 4, 2 h (8 h: all)
    ("response_within_objective", {}, None),
    ("response_within_objective", {"table": "tickets"}, 3 / 3),
    ("response_within_objective", {"table": "tickets", "objectives": "tickets=3h"}, 2 / 3),
    ("asa", {}, (5 + 30 + 15 + 25 + 10) / 5),
    ("asa", {"timer_start": "arrival"}, (15 + 40 + 25 + 30 + 15) / 5),  # + IVR seconds
    ("avg_wait", {}, (85 + 3 + 50 + 120) / 8),
    ("avg_wait", {"population": "answered"}, 17),
    ("longest_wait", {}, 120),  # c9 flowed out after 120 s
    ("longest_wait", {"population": "answered"}, 30),
    ("longest_wait", {"population": "abandoned"}, 50),
    # waits are of the real-time queues: all are here (voice), so queues=all is the same;
    # a queue whose objective is a response in hours (deferred work) leaves the waits
    ("asa", {"queues": "all"}, (5 + 30 + 15 + 25 + 10) / 5),
    ("asa", {"objectives": "queue:sales=4h"}, (25 + 10) / 2),  # help: c7, c8
    ("avg_wait", {"queues": "all"}, (85 + 3 + 50 + 120) / 8),
    ("avg_wait", {"objectives": "queue:sales=4h"}, (25 + 10 + 120) / 3),  # + c9 flowed out
    ("longest_wait", {"queues": "all"}, 120),
    ("longest_wait", {"objectives": "queue:help=4h"}, 50),  # sales: c5 abandoned at 50 s
    ("max_in_queue", {}, 1),  # no two waits overlap
    ("peak_hour_traffic", {}, 420 / 3600),  # 5 Jan 09h: 4 calls, c1 120 s + c3 300 s
    ("peak_hour_traffic", {"rank_by": "erlangs"}, 500 / 3600),  # 6 Jan 10h: c7 500 s
    ("aht", {}, 1430 / 6),  # 120 + 240 + 300 + 500 + 120 + 150
    ("aht", {"components": "talk_hold"}, 1310 / 6),
    ("avg_talk", {}, 1220 / 6),
    ("avg_talk", {"denominator": "with_component"}, 1220 / 6),
    ("avg_hold", {}, 90 / 6),
    ("avg_hold", {"denominator": "with_component"}, 90 / 2),  # c2, c7
    ("avg_acw", {}, 120 / 6),
    ("avg_acw", {"denominator": "with_component"}, 120 / 5),  # c3 has none
    ("transfer_rate", {}, 1 / 6),
    ("fcr", {}, 4 / 5),  # c1 repeated by c2 two days later
    ("fcr", {"window_days": 14}, 3 / 5),  # c7 -> c8 is exactly 14 days: a repeat
    ("fcr", {"key": "customer"}, 4 / 5),
    ("fcr", {"method": "agent_resolved"}, 5 / 6),  # resolved, not transferred
    ("resolution_rate", {}, 5 / 6),
    ("avg_resolution_time", {}, 36),  # median of 24 h and 48 h
    ("avg_resolution_time", {"aggregator": "mean"}, 36),
    ("avg_resolution_time", {"aggregator": "p90"}, 24 + 0.9 * 24),
    ("avg_resolution_time", {"cohort": "created"}, 48),  # 24, 48, 144 (t4, created in Jan)
    ("first_response_time", {}, 2),  # 1, 4, 2 hours
    ("first_response_time", {"aggregator": "mean"}, 7 / 3),
    ("first_response_time", {"aggregator": "p90"}, 3.6),
    ("backlog", {}, 2),  # t3 open, t4 solved in February
    ("occupancy", {}, 32000 / 43000),
    ("occupancy", {"denominator": "logged_in"}, 32000 / 51000),
    ("utilization", {}, 32000 / 57600),
    ("utilization", {"definition": "logged_in_over_scheduled"}, 51000 / 57600),
    ("utilization", {"definition": "productive_over_scheduled"}, 43000 / 57600),
    ("shrinkage", {}, 14200 / 57600),
    ("shrinkage", {"scope": "planned"}, 10200 / 57600),
    ("shrinkage", {"scope": "unplanned"}, 4000 / 57600),
    ("adherence", {}, 50000 / 57600),
    ("attendance", {}, 53600 / 57600),
    ("qa_score", {}, 80),
    ("coaching_per_agent", {}, 1 / 2),
    ("forecast_accuracy", {}, 1 - 2 / 7),  # daily forecasts 5, 2, 0 against 4, 2, 1 offered
    ("csat", {}, 2 / 4),  # 5, 2, 4, 3 (one null)
    ("csat", {"method": "mean"}, 14 / 4),
    ("csat", {"scale_max": 10}, 0.0),  # top two boxes of 1-10 are 9 and 10: none here
    ("csat", {"method": "mean", "scale_max": 10}, 14 / 4),
    ("nps", {}, 0),  # 10, 9 promoters; 3, 6 detractors; 7 passive
    ("ces", {}, 24 / 5),
    ("ces", {"method": "agree_share"}, 3 / 5),
    ("customer_churn", {}, 1 / 5),  # u2 churned; u6 joined during January
    ("customer_retention", {}, 4 / 5),
    ("contacts_per_customer", {}, 8 / 6),
    ("sales_per_agent", {}, 2 / 4),
    ("sales_per_agent", {"basis": "revenue"}, 200 / 4),
    ("conversion_rate", {}, 2 / 6),
    ("revenue_per_successful_call", {}, 100),
    ("cost_per_contact", {}, 1200 / 6),
    ("cost_per_order", {}, 1200 / 40),
    ("cost_per_order", {"orders": "centre"}, 1200 / 2),
    ("subscriber_acquisition_cost", {}, 300),
    ("agent_attrition", {}, 1 / 4),  # a3 left; 4 at the start and 4 (with b2) at the end
    ("agent_attrition", {"headcount": "start"}, 1 / 4),
    ("agent_attrition", {"annualize": "simple"}, 0.25 * 12 / MONTHS_JAN),
    ("agent_attrition", {"annualize": "compounded"}, 1 - 0.75 ** (12 / MONTHS_JAN)),
    ("agent_enps", {}, 25),  # 10, 9 promoters; 5 detractor; 8 passive
]


@pytest.fixture(params=["eager", "lazy"])
def dataset(request):
    ds = small_dataset()
    if request.param == "eager":
        return {name: lf.collect() for name, lf in ds.tables.items()}
    return ds


def test_every_kpi_and_variant_has_a_case():
    covered = {(k, tuple(sorted(p))) for k, p, _ in CASES}
    for m in METRICS.values():
        assert (m.id, ()) in covered, f"no hand-computed case for {m.id}"
        for p in m.params:
            assert any(k == m.id and p.name in params for k, params, _ in CASES), (
                f"no case for {m.id}.{p.name}"
            )


@pytest.mark.parametrize(("kpi_id", "params", "expected"), CASES)
def test_hand_computed(dataset, kpi_id, params, expected):
    full = {f"{kpi_id}.{k}": v for k, v in params.items()}
    out = compute(dataset, kpi_id, params=full, **JAN).collect()
    assert out.height == 1
    if expected is None:
        assert out[kpi_id][0] is None
    else:
        assert out[kpi_id][0] == pytest.approx(expected, rel=1e-9)


def test_all_kpis_in_one_pass(dataset):
    out = compute(dataset, "all", measures=False, **JAN).collect()
    assert out.columns == list(METRICS)
    expected = {k: v for k, p, v in CASES if not p}
    for kpi_id, value in expected.items():
        if value is None:
            assert out[kpi_id][0] is None, kpi_id
        else:
            assert out[kpi_id][0] == pytest.approx(value), kpi_id


def test_by_team_sums_to_total():
    ds = small_dataset()
    by_team = compute(
        ds, "contacts_offered,contacts_handled,service_level", by="team", **JAN
    ).collect()
    total = compute(ds, "contacts_offered,contacts_handled,service_level", **JAN).collect()
    assert by_team["offered"].sum() == total["offered"][0]
    b = METRICS["service_level"].build()
    sl = by_team.select(pl.col(b.numerator.name).sum() / pl.col(b.denominator.name).sum())
    assert sl.item() == pytest.approx(total["service_level"][0])


def test_definitions_follow_variants():
    assert definitions(
        "service_level", {"service_level.threshold_s": 30, "service_level.short_abandon_s": 5}
    ) == {
        "service_level": "SL = answered ≤ 30 s / ((answered + abandoned) − short abandons < 5 s)"
    }
    r = evaluate(small_dataset(), "abandon_rate,fcr", params={"fcr": {"window_days": 3}})
    assert "within 3 days" in r.definitions["fcr"]
    assert r.params["fcr"] == {
        "method": "repeat_window",
        "window_days": 3,
        "key": "customer_topic",
    }


# ---- the formula text is written from the measures that compute the value -------------------

#: A spread of KPIs and variants whose formula is composed from the measures' own texts.
FROM_MEASURES = [
    ("service_level", {"threshold_s": 30}),
    ("service_level", {"threshold_s": 45, "denominator": "answered"}),
    ("abandon_rate", {"denominator": "queued", "short_abandon_s": 5}),
    ("abandon_rate", {"denominator": "answered_plus_abandoned", "short_abandon_s": 3}),
    ("contacts_abandoned", {"short_abandon_s": 3, "stages": "queue_and_ivr"}),
    ("fcr", {"window_days": 3, "key": "customer"}),
    ("fcr", {"method": "agent_resolved"}),
    ("avg_resolution_time", {"aggregator": "p90", "cohort": "created"}),
    ("longest_wait", {"population": "abandoned"}),
    ("peak_hour_traffic", {"rank_by": "erlangs"}),
    ("occupancy", {"denominator": "logged_in"}),
    ("avg_hold", {"denominator": "with_component"}),
    ("agent_attrition", {"headcount": "start", "annualize": "simple"}),
    ("nps", {}),
]


@pytest.mark.parametrize(("kpi_id", "params"), FROM_MEASURES)
def test_formula_is_written_from_its_measures(kpi_id, params):
    b = METRICS[kpi_id].build(params)
    _, _, rhs = b.formula.partition(" = ")
    rhs = rhs.removeprefix(f"{b.scale:g} × ")
    assert rhs.startswith(b.numerator.text)
    rest = rhs[len(b.numerator.text) :]
    if b.denominator is not None:
        den = b.denominator.text
        # SL brackets a denominator less short abandons as one term
        assert rest.startswith((f" / {den}", f" / ({den})"))


def test_a_threshold_moves_text_and_computation_together():
    sl = METRICS["service_level"]
    b20, b30 = sl.build({"threshold_s": 20}), sl.build({"threshold_s": 30})
    assert (b20.numerator.text, b30.numerator.text) == ("answered ≤ 20 s", "answered ≤ 30 s")
    assert b30.formula.startswith("SL = answered ≤ 30 s / ")
    contacts20, intervals20 = b20.numerator.sources
    contacts30, intervals30 = b30.numerator.sources
    assert str(contacts20.agg) != str(contacts30.agg)
    assert (intervals20.meta, intervals30.meta) == (
        {"interval_threshold_s": 20},
        {"interval_threshold_s": 30},
    )
    # the number the text names: c1, c3, c8 within 20 s; + c2 (30 s) and c7 (25 s) within 30 s
    out = compute(
        small_dataset(), "service_level", params={"service_level.threshold_s": 30}, **JAN
    )
    assert out.collect()[b30.numerator.name].to_list() == [5]

    fcr = METRICS["fcr"].build({"window_days": 3, "key": "customer"})
    assert fcr.numerator.lookahead_days == 3
    assert "no repeat contact (same customer) within 3 days" in fcr.numerator.text
    assert fcr.numerator.text in fcr.formula

    ab = METRICS["abandon_rate"].build({"short_abandon_s": 5})
    assert ab.formula == f"abandon rate = {ab.numerator.text} / {ab.denominator.text}"
    assert ab.denominator.sources[1].meta == {"interval_short_abandon_s": 5}
    assert ab.numerator.text.endswith("− short abandons < 5 s")


def test_every_measure_of_every_variant_has_formula_text():
    for m in METRICS.values():
        variants = [{}] + [{p.name: c} for p in m.params for c in p.choices or ()]
        for v in variants:
            for meas in m.build(v).measures:
                assert meas.text, f"{m.id} {v}: measure {meas.name} has no text"


def test_ratio_refuses_a_measure_without_text():
    bare = kpi.metrics.Measure("x", "x")
    with pytest.raises(ValueError, match="measure 'x' has no formula text"):
        kpi.metrics.Build.ratio("X", bare)


@pytest.mark.parametrize(
    ("metrics", "params", "message"),
    [
        ("speed_of_light", None, "unknown KPI 'speed_of_light'; valid KPIs: contacts_offered"),
        (
            "aht",
            {"aht.color": "red"},
            "unknown parameter aht.color; valid parameters of aht: aht.components",
        ),
        (
            "aht",
            {"aht.components": "talk"},
            "bad value 'talk' for aht.components; valid values: talk_hold_acw, talk_hold",
        ),
        (
            "service_level",
            {"service_level.threshold_s": "soon"},
            "bad value 'soon' for service_level.threshold_s",
        ),
        ("service_level", {"service_level.threshold_s": -5}, "must be a number from 0 to 86400"),
        ("service_level", {"service_level.threshold_s": 1e18}, "must be a number from 0 to 86400"),
        ("service_level", {"service_level.threshold_s": "1e400"}, "expected a finite int"),
        ("service_level", {"service_level.threshold_s": float("nan")}, "expected a finite number"),
        ("fcr", {"fcr.window_days": "inf"}, "expected a finite int"),
        ("fcr", {"fcr.window_days": 10**18}, "must be a number from 1 to 366"),
        ("aht", {"threshold_s": 20}, "must be written <kpi>.<param>"),
    ],
)
def test_bad_names_and_values(metrics, params, message):
    with pytest.raises(KpiError, match=message.replace("(", r"\(").replace(".", r"\.")):
        resolve(metrics, params)


def test_unknown_column_lists_columns():
    with pytest.raises(
        KpiError, match=r"unknown column 'tem' for --by; columns in the data: .*team"
    ):
        compute(small_dataset(), "aht", by="tem")


def test_dimension_missing_in_a_table_gives_null_with_note():
    r = evaluate(small_dataset(), "aht,customer_churn", by="team", **JAN)
    assert r.notes == {
        "customer_churn": "unavailable: customers has no column 'team'; needs customers"
    }
    out = r.frame.collect()
    assert out["customer_churn"].is_null().all()
    with pytest.raises(KpiError, match="cannot compute customer_churn from this data by team"):
        compute(small_dataset(), "customer_churn", by="team")


def test_missing_table_is_named():
    with pytest.raises(KpiError, match=r"cannot compute qa_score.*no qa_evaluations table"):
        compute({"contacts": small_dataset()["contacts"]}, "qa_score")


def test_catalogue_declares_everything():
    entries = catalogue()
    assert len(entries) == len(METRICS) >= 45
    for e in entries:
        assert e["perspective"] in kpi.metrics.PERSPECTIVES
        assert e["direction"] in ("higher", "lower")
        assert e["formula"]
        assert e["tables"], e["id"]
        assert e["numerator"]


# ---- degenerate cases: null, never NaN or an exception ----------------------------------


def _contacts(rows: list[dict]) -> pl.DataFrame:
    from fixtures_small import TZ, ts

    from kpi.schema import conform

    base = {"arrival_ts": ts(5, 9), "team": "A", "channel": "voice"}
    frame = (
        pl.DataFrame([{**base, **r} for r in rows])
        if rows
        else pl.DataFrame(schema={"arrival_ts": pl.Datetime("us", TZ)})
    )
    return conform("contacts", frame.lazy(), TZ).collect()


RATES = [
    "answer_rate",
    "abandon_rate",
    "service_level",
    "transfer_rate",
    "fcr",
    "resolution_rate",
    "conversion_rate",
]


def test_zero_offered_gives_null():
    out = compute(
        {"contacts": _contacts([{"outcome": "abandoned_ivr"}])},
        [*RATES, "asa", "aht"],
        measures=False,
    ).collect()
    assert out.row(0) == (None,) * len(out.columns)


def test_all_abandoned():
    rows = [
        {"outcome": "abandoned_queue", "wait_s": 30.0},
        {"outcome": "abandoned_queue", "wait_s": 90.0},
    ]
    out = compute(
        {"contacts": _contacts(rows)},
        "service_level,answer_rate,abandon_rate,asa,aht",
        measures=False,
    ).collect()
    assert out.row(0, named=True) == {
        "service_level": 0.0,
        "answer_rate": 0.0,
        "abandon_rate": 1.0,
        "asa": None,
        "aht": None,
    }


def test_a_null_duration_beside_known_ones_counts_as_zero():
    rows = [
        {"outcome": "answered", "wait_s": 5.0, "talk_s": 100.0, "hold_s": 30.0, "acw_s": None},
        {"outcome": "answered", "wait_s": 5.0, "talk_s": 100.0, "hold_s": None, "acw_s": 10.0},
    ]
    out = compute({"contacts": _contacts(rows)}, "aht,avg_hold", measures=False).collect()
    assert out.row(0) == (120.0, 15.0)


def test_durations_null_on_every_row_are_unknown_not_zero():
    rows = [{"outcome": "answered", "wait_s": 5.0, "talk_s": 100.0, "hold_s": None, "acw_s": None}]
    r = evaluate({"contacts": _contacts(rows)}, "aht,avg_hold,avg_talk", measures=False)
    assert r.frame.collect().row(0) == (None, None, 100.0)
    assert r.notes["aht"] == (
        "unavailable: contacts has no hold_s values; no intervals table; "
        "needs talk_s, hold_s, acw_s in contacts, or talk_s, hold_s, acw_s in intervals"
    )


def test_empty_input_gives_empty_frame():
    out = compute({"contacts": _contacts([])}, "service_level,aht", by="team").collect()
    assert out.height == 0
    assert out.columns[:3] == ["team", "service_level", "aht"]


def test_one_row():
    out = compute(
        {
            "contacts": _contacts(
                [{"outcome": "answered", "wait_s": 21.0, "talk_s": 60.0, "hold_s": 0, "acw_s": 0}]
            )
        },
        "service_level,aht",
        measures=False,
    ).collect()
    assert out.row(0) == (0.0, 60.0)


def test_no_nan_anywhere():
    out = compute(small_dataset(), "all", by="team", every="1d").collect()
    floats = [c for c, t in out.schema.items() if t == pl.Float64]
    assert not any(out[c].is_nan().any() for c in floats)


def test_dataset_object_and_directory_round_trip(tmp_path):
    ds = small_dataset()
    kpi.save(ds, tmp_path)
    a = compute(tmp_path, "all", **JAN).collect()
    b = compute(Dataset(ds.tables, tz=ds.tz), "all", **JAN).collect()
    assert a.equals(b)


def test_attribution_moves_contacts_between_days():
    from fixtures_small import TZ, ts

    from kpi.schema import conform

    # arrives 23:59:50, answered after 20 s (next day), talks 10 min, wraps 5 min
    frame = pl.DataFrame(
        {
            "arrival_ts": [ts(5, 23, 59, 50)],
            "outcome": ["answered"],
            "wait_s": [20.0],
            "answer_ts": [ts(6, 0, 0, 10)],
            "end_ts": [ts(6, 0, 10, 10)],
            "acw_s": [300.0],
            "talk_s": [600.0],
        }
    )
    data = {"contacts": conform("contacts", frame.lazy(), TZ).collect()}
    days = {
        a: compute(data, "contacts_handled", every="1d", attribution=a)
        .collect()["period"]
        .dt.day()
        .to_list()
        for a in ("arrival", "answer", "completion")
    }
    assert days == {"arrival": [5], "answer": [6], "completion": [6]}
    with pytest.raises(KpiError, match="unknown attribution"):
        compute(data, "aht", attribution="queue")


def test_value_is_exactly_sum_of_numerator_over_denominator():
    out = compute(small_dataset(), "service_level,aht", by="team", **JAN).collect()
    b = METRICS["service_level"].build()
    for row in out.iter_rows(named=True):
        assert math.isclose(row["service_level"], row[b.numerator.name] / row[b.denominator.name])
        assert math.isclose(row["aht"], row["handle_s"] / row["handled"])


def test_max_in_queue_sweeps_each_group_in_time_order():
    from datetime import timedelta

    from fixtures_small import TZ, ts

    from kpi.schema import conform

    # team A: waits [0, 100), [10, 60), [20, 30) -> 3 at once; team B: [5, 50), [40, 45) -> 2;
    # rows deliberately out of time order and interleaved between teams
    rows = [("A", 20, 10), ("B", 40, 5), ("A", 0, 100), ("B", 5, 45), ("A", 10, 50), ("A", 200, 5)]
    frame = pl.DataFrame(
        {
            "team": [r[0] for r in rows],
            "arrival_ts": [ts(5, 9) + timedelta(seconds=r[1]) for r in rows],
            "queue_ts": [ts(5, 9) + timedelta(seconds=r[1]) for r in rows],
            "wait_s": [float(r[2]) for r in rows],
            "outcome": ["answered"] * len(rows),
        }
    )
    data = {"contacts": conform("contacts", frame.lazy(), TZ).collect()}
    out = compute(data, "max_in_queue", by="team", measures=False).collect().sort("team")
    assert out["max_in_queue"].to_list() == [3.0, 2.0]
    total = compute(data, "max_in_queue", measures=False).collect()
    assert total["max_in_queue"][0] == 4.0  # 20-30 s: A three and B one; 40-45 s: two and two


def test_max_in_queue_of_a_range_equals_the_whole_sweep_cut_to_it():
    """The sweep of a range reads only the contacts waiting during it; the levels are those of
    the whole table's sweep: waits across the range's edges, ending exactly at its start,
    negative waits, and the spring-forward day (2026-03-29 in London)."""
    import random
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from fixtures_small import TZ

    from kpi.schema import conform

    rnd = random.Random(7)
    start = datetime(2026, 3, 27, tzinfo=ZoneInfo(TZ)).astimezone(UTC)
    rows = []
    for _ in range(400):
        at = start + timedelta(seconds=rnd.randrange(0, 4 * 86400))
        wait = rnd.choice([0.0, 1.5, 30.0, 600.0, 7200.0, 30000.0, -20.0])
        rows.append((rnd.choice("AB"), at, wait))
    edge = datetime(2026, 3, 28, tzinfo=ZoneInfo(TZ)).astimezone(UTC)
    rows += [("A", edge - timedelta(seconds=60), 60.0), ("B", edge - timedelta(hours=30), 2e5)]
    frame = pl.DataFrame(
        {
            "team": [r[0] for r in rows],
            "arrival_ts": [r[1] for r in rows],
            "queue_ts": [r[1] for r in rows],
            "wait_s": [r[2] for r in rows],
            "outcome": ["answered"] * len(rows),
        }
    )
    data = {"contacts": conform("contacts", frame.lazy(), TZ).collect()}
    kw = {"measures": False}
    for by, every in (("team", "1h"), ((), "15m"), ("team", "1d")):
        whole = compute(data, "max_in_queue", by=by, every=every, **kw).collect()
        cut = compute(
            data, "max_in_queue", by=by, every=every, start="2026-03-28", end="2026-03-29", **kw
        ).collect()
        keys = [c for c in cut.columns if c != "max_in_queue"]
        joined = cut.join(whole, on=keys, how="left", suffix="_whole")
        assert cut.height > 0
        assert joined.height == cut.height
        assert joined["max_in_queue"].to_list() == joined["max_in_queue_whole"].to_list()


# ---- period= (half-open) against start=/end= (inclusive end date) ---------------------------


def _two_days() -> dict[str, pl.DataFrame]:
    """Four contacts around the end of January in Europe/London (UTC+0 in winter)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/London")
    return {
        "contacts": pl.DataFrame(
            {
                "arrival_ts": [
                    datetime(2026, 1, 30, 23, 59, tzinfo=tz),  # before the period
                    datetime(2026, 1, 31, 0, 0, tzinfo=tz),  # first instant: in
                    datetime(2026, 1, 31, 23, 59, tzinfo=tz),  # last minute: in
                    datetime(2026, 2, 1, 0, 0, tzinfo=tz),  # the excluded end: out
                ],
                "outcome": ["answered", "answered", "abandoned_queue", "answered"],
                "wait_s": [5.0, 10.0, 30.0, 5.0],
            }
        )
    }


def test_period_equals_start_end_by_hand():
    from datetime import date, timedelta

    from kpi.periods import Period

    p = Period("2026-01-31", date(2026, 1, 31), date(2026, 2, 1), "1d")
    data = _two_days()
    by_period = evaluate(data, "contacts_offered,service_level", period=p, measures=False)
    by_dates = evaluate(
        data,
        "contacts_offered,service_level",
        start=p.start,
        end=p.end - timedelta(days=1),
        measures=False,
    )
    # in the period: the answered contact at 00:00 (10 s wait) and the abandon at 23:59
    assert by_period.frame.collect().rows() == [(2.0, 0.5)]
    assert by_period.frame.collect().equals(by_dates.frame.collect())
    assert compute(data, "contacts_offered", period=p).collect()["contacts_offered"][0] == 2.0


def test_period_with_grain_and_measure_frame():
    from datetime import date

    from kpi.compute import measure_frame
    from kpi.metrics import factories
    from kpi.periods import Period

    p = Period("jan-end", date(2026, 1, 30), date(2026, 2, 1), "1d")
    data = _two_days()
    daily = evaluate(data, "contacts_offered", every="1d", period=p, measures=False)
    assert daily.frame.collect()["contacts_offered"].to_list() == [1.0, 2.0]
    frame, _ = measure_frame(data, [factories.offered()], period=p)
    assert frame.collect()["offered"].to_list() == [3]


def test_period_and_start_end_refused():
    from kpi.periods import parse_period

    with pytest.raises(KpiError, match="either period= or start=/end="):
        evaluate(_two_days(), "aht", period=parse_period("2026-01"), start="2026-01-01")
    with pytest.raises(KpiError, match="not both"):
        compute(_two_days(), "aht", period=parse_period("2026-01"), end="2026-01-31")


def test_time_columns_declared_once_in_schema():
    from kpi.compute import Context
    from kpi.schema import ATTRIBUTIONS, TABLES, time_column

    ctx = Context(Dataset({}), (), None, None, None)
    for name, table in TABLES.items():
        if table.time_column is not None:
            assert time_column(name) == table.time_column == ctx.time_column(name)
    assert time_column("finance") == "_period_ts"
    assert [time_column("contacts", attribution=a) for a in ATTRIBUTIONS] == [
        "arrival_ts",
        "_answer_ts",
        "_completion_ts",
    ]


def test_catalogue_declarations_are_keyword_data():
    for m in METRICS.values():
        assert m.tables == tuple(sorted({t for x in m.build().measures for t in x.source_tables}))
    with pytest.raises(TypeError):
        kpi.metrics.Metric("x", "X", "customer", "speed", "s", "lower", "d", lambda p: None)


def test_the_dataset_states_its_survey_scale():
    """``dataset.json`` ``csat_scale_max = 10`` (written by the importer for 1-10 surveys) sets
    ``csat.scale_max`` unless the caller sets it: top-2-box is 9-10, not 4-5."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    t = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("Europe/London"))
    surveys = pl.DataFrame({"survey_ts": [t] * 4, "csat": [10, 9, 5, 4]})
    ten = Dataset({"surveys": surveys}, tz="Europe/London", meta={"csat_scale_max": 10})
    assert evaluate(ten, "csat").frame.collect()["csat"].item() == pytest.approx(0.5)
    five = evaluate(ten, "csat", params={"csat.scale_max": 5}).frame.collect()["csat"].item()
    assert five == pytest.approx(1.0)  # the caller's word wins: 10, 9, 5 and 4 are all ≥ 4


def test_a_bound_the_clock_skips_is_the_instant_after_the_gap():
    """01:00 on London's spring-forward day does not exist on the wall clock: as a range bound
    it is 02:00 summer time (found by the cube's property test; it used to fail in polars)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    z = ZoneInfo("Europe/London")
    ds = small_dataset()
    gap = evaluate(ds, "contacts_offered", start=datetime(2026, 3, 29, 1, 0, tzinfo=z))
    after = evaluate(ds, "contacts_offered", start=datetime(2026, 3, 29, 2, 0, tzinfo=z))
    assert gap.frame.collect().equals(after.frame.collect())


def test_a_range_starting_on_a_skipped_midnight():
    """America/Santiago skips 00:00-01:00 on 2026-09-06: the day starts at 01:00 (it failed)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = "America/Santiago"
    stamps = [
        datetime(2026, 9, 5, 12, tzinfo=ZoneInfo(tz)),
        datetime(2026, 9, 6, 12, tzinfo=ZoneInfo(tz)),
    ]
    c = pl.DataFrame(
        {"arrival_ts": stamps, "outcome": ["answered", "answered"], "wait_s": [5.0, 50.0]}
    ).with_columns(pl.col("arrival_ts").dt.convert_time_zone(tz))
    out = compute({"contacts": c}, "contacts_offered,asa", start="2026-09-06", every="1d")
    rows = out.collect().select("period", "contacts_offered", "asa").rows()
    assert [(p.isoformat(), n, a) for p, n, a in rows] == [("2026-09-06T01:00:00-03:00", 1, 50.0)]
