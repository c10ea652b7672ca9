"""kpi.trends: change, rolling, anomalies, change points and events, with hand-computed values.

Every expected number is worked out in the comment beside it from the rows in the test.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from fixtures_small import small_dataset

from kpi import KpiError, compute, evaluate
from kpi.metrics import METRICS
from kpi.targets import TargetSet
from kpi.trends import (
    Trend,
    anomalies,
    attach_events,
    change,
    change_points,
    rolling,
)
from kpi.trends._change_points import _pelt

TZ = "Europe/London"
Z = ZoneInfo(TZ)
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def t(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, tzinfo=Z)


def contacts(rows: list[tuple[str, datetime, float, float]]) -> pl.DataFrame:
    """Answered contacts: (team, arrival, handle seconds (talk), wait seconds)."""
    return pl.DataFrame(
        {
            "team": [r[0] for r in rows],
            "arrival_ts": [r[1] for r in rows],
            "outcome": ["answered"] * len(rows),
            "talk_s": [r[2] for r in rows],
            "hold_s": [0.0] * len(rows),
            "acw_s": [0.0] * len(rows),
            "wait_s": [r[3] for r in rows],
        }
    )


# team A: Dec 2025 120 s; Jan 100 + 200 s; no February; Mar 300 s; Mar 2025 200 s.
# team B: Feb 2025 100 s; Jan 60 s; Feb 90 + 150 s; Mar 100 s.
ROWS = [
    ("A", t(2025, 3, 10), 200.0, 5.0),
    ("A", t(2025, 12, 10), 120.0, 5.0),
    ("A", t(2026, 1, 5), 100.0, 10.0),
    ("A", t(2026, 1, 6), 200.0, 30.0),
    ("A", t(2026, 3, 2), 300.0, 10.0),
    ("B", t(2025, 2, 10), 100.0, 5.0),
    ("B", t(2026, 1, 7), 60.0, 10.0),
    ("B", t(2026, 2, 3), 90.0, 10.0),
    ("B", t(2026, 2, 4), 150.0, 40.0),
    ("B", t(2026, 3, 3), 100.0, 10.0),
]


def months(frame: pl.DataFrame) -> list[str]:
    return frame["period"].dt.strftime("%Y-%m").to_list()


# --------------------------------------------------------------------------------------------
# change
# --------------------------------------------------------------------------------------------


def test_change_previous_year_with_a_missing_month():
    tr = change(
        {"contacts": contacts(ROWS)},
        "aht",
        by="team",
        start="2026-01",
        end="2026-03",
        compare=("previous", "year"),
    )
    df = tr.frame.collect()
    assert df["team"].to_list() == ["A", "A", "B", "B", "B"]
    assert months(df) == ["2026-01", "2026-03", "2026-01", "2026-02", "2026-03"]
    assert df["value"].to_list() == [150.0, 300.0, 60.0, 120.0, 100.0]
    # A Jan against Dec 2025 (read before start): 150 vs 120; A Mar: February is missing, so
    # no previous value (not January's 150); B Feb 120 vs 60; B Mar 100 vs 120.
    assert df["previous"].to_list() == [120.0, None, None, 60.0, 120.0]
    assert df["previous_change"].to_list() == [30.0, None, None, 60.0, -20.0]
    rel = df["previous_change_rel"].to_list()
    assert rel[0] == pytest.approx(0.25)
    assert rel[3] == pytest.approx(1.0)
    assert rel[4] == pytest.approx(-1 / 6)
    assert rel[1] is None
    assert rel[2] is None
    # AHT: lower is better
    assert df["previous_improved"].to_list() == [False, None, None, False, True]
    assert months(df.select(pl.col("previous_period").alias("period")))[0] == "2025-12"
    # a year before: A Mar 2025 200 s, B Feb 2025 100 s
    assert df["year_ago"].to_list() == [None, 200.0, None, 100.0, None]
    assert df["year_ago_change"].to_list() == [None, 100.0, None, 20.0, None]
    assert df["year_ago_change_rel"].to_list()[1] == pytest.approx(0.5)
    assert df["year_ago_change_rel"].to_list()[3] == pytest.approx(0.2)
    assert df["year_ago_improved"].to_list() == [None, False, None, False, None]
    assert df["metric"].unique().to_list() == ["aht"]
    assert df["definition"][0] == "AHT = (talk + hold + after-call work) / handled"
    assert tr.definitions == {"aht": "AHT = (talk + hold + after-call work) / handled"}
    # measures of the KPI travel with it: numerator and denominator
    assert df["numerator"].to_list() == [300.0, 300.0, 60.0, 240.0, 100.0]
    assert df["denominator"].to_list() == [2.0, 1.0, 1.0, 2.0, 1.0]
    assert "target" not in df.columns


def test_change_values_are_exact_ratios_from_measures():
    # service level per month = Σ answered ≤ 20 s / Σ (answered + abandoned), never a mean of
    # daily values: B in February has 90 s at 10 s wait and 150 s at 40 s wait: 1/2.
    tr = change({"contacts": contacts(ROWS)}, "service_level,contacts_handled", by="team")
    df = tr.frame.filter(pl.col("metric") == "service_level").collect()
    direct = (
        compute({"contacts": contacts(ROWS)}, "service_level", by="team", every="1mo")
        .collect()
        .rename({"service_level": "value"})
    )
    joined = df.join(direct, on=["team", "period"])
    assert joined.height == df.height == direct.height
    assert (joined["value"] == joined["value_right"]).all()
    jan_a = df.filter((pl.col("team") == "A") & (pl.col("period").dt.month() == 1))
    assert jan_a["value"].item() == 0.5  # waits 10 s and 30 s
    assert jan_a["numerator"].item() == 1.0
    assert jan_a["denominator"].item() == 2.0
    # both KPIs are there, in the order asked, per group and period
    both = tr.frame.collect()
    assert both["metric"].to_list()[:2] == ["service_level", "contacts_handled"]
    assert set(tr.definitions) == {"service_level", "contacts_handled"}


def test_change_target_with_team_override():
    targets = TargetSet.from_mapping(
        {"service_level": {"target": 0.8, "red": 0.4, "team": {"B": {"target": 0.5}}}}
    )
    tr = change(
        {"contacts": contacts(ROWS)},
        "service_level",
        by="team",
        start="2026-01",
        end="2026-03",
        compare="target",
        targets=targets,
    )
    df = tr.frame.collect()
    # values: A Jan 0.5, A Mar 1.0, B Jan 1.0, B Feb 0.5, B Mar 1.0
    assert df["value"].to_list() == [0.5, 1.0, 1.0, 0.5, 1.0]
    assert df["target"].to_list() == [0.8, 0.8, 0.5, 0.5, 0.5]
    assert df["target_change"].to_list() == pytest.approx([-0.3, 0.2, 0.5, 0.0, 0.5])
    assert df["target_change_rel"].to_list() == pytest.approx([-0.375, 0.25, 1.0, 0.0, 1.0])
    # met when value >= target (higher is better); 0.5 against 0.8 with red 0.4: amber
    assert df["target_met"].to_list() == [False, True, True, True, True]
    assert df["status"].to_list() == ["amber", "green", "green", "green", "green"]
    assert "previous" not in df.columns


def test_change_target_from_toml_file(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text("[aht]\ntarget = 200\nred = 250\n")
    df = (
        change(
            {"contacts": contacts(ROWS)},
            "aht",
            start="2026-01",
            end="2026-03",
            compare="target",
            targets=path,
        )
        .frame.collect()
        .sort("period")
    )
    # whole centre: Jan (100 + 200 + 60) / 3 = 120, Feb 120, Mar (300 + 100) / 2 = 200
    assert df["value"].to_list() == [120.0, 120.0, 200.0]
    assert df["target_met"].to_list() == [True, True, True]  # lower is better, 200 <= 200


def test_change_relative_change_uses_absolute_base_for_negative_kpis():
    surveys = pl.DataFrame(
        {
            "survey_ts": [
                t(2026, 1, 5),
                t(2026, 1, 6),
                t(2026, 1, 7),
                t(2026, 2, 2),
                t(2026, 2, 3),
            ],
            "nps": [0, 0, 10, 10, 0],
        }
    )
    df = change({"surveys": surveys}, "nps", compare="previous").frame.collect()
    # Jan: 1 promoter, 2 detractors of 3: -33.3; Feb: 1 and 1 of 2: 0
    assert df["value"].to_list() == pytest.approx([-100 / 3, 0.0])
    assert df["previous_change"][1] == pytest.approx(100 / 3)
    assert df["previous_change_rel"][1] == pytest.approx(1.0)  # +33.3 / |-33.3|
    assert df["previous_improved"][1] is True


def test_change_zero_base_gives_null_relative_change():
    rows = [("A", t(2026, 1, 5), 100.0, 30.0), ("A", t(2026, 2, 5), 100.0, 10.0)]
    df = change({"contacts": contacts(rows)}, "service_level", compare="previous").frame.collect()
    # Jan SL 0 (30 s wait), Feb 1: change +1, relative change null (zero base)
    assert df["value"].to_list() == [0.0, 1.0]
    assert df["previous_change"][1] == 1.0
    assert df["previous_change_rel"][1] is None
    assert df["previous_improved"][1] is True


def test_change_weekly_year_ago_keeps_the_weekday():
    rows = [
        ("A", t(2025, 1, 6), 100.0, 5.0),  # Monday 2025-01-06, ISO week 2025-W02
        ("A", t(2026, 1, 5), 150.0, 5.0),  # Monday 2026-01-05, 52 weeks later
    ]
    df = change(
        {"contacts": contacts(rows)}, "aht", every="1w", start="2026-01-05", compare="year"
    ).frame.collect()
    assert df.height == 1
    assert df["year_ago"].item() == 100.0
    assert df["year_ago_period"].dt.strftime("%Y-%m-%d").item() == "2025-01-06"


def test_change_partial_start_reports_whole_periods():
    # start inside February reports all of February (both B contacts), compared with January
    df = change(
        {"contacts": contacts(ROWS)},
        "contacts_handled",
        by="team",
        start="2026-02-04",
        end="2026-02-10",
        compare="previous",
    ).frame.collect()
    assert months(df) == ["2026-02"]
    assert df["team"].to_list() == ["B"]
    assert df["value"].item() == 2.0
    assert df["previous"].item() == 1.0


def test_change_with_the_small_fixture_dataset():
    tr = change(small_dataset(), "aht,abandon_rate", by="team", every="1d")
    df = tr.frame.collect()
    # team A on 5 Jan: c1 120 s and c3 300 s; on 7 Jan c2 240 s: previous day (6 Jan) empty
    a = df.filter((pl.col("team") == "A") & (pl.col("metric") == "aht")).sort("period")
    assert a["value"].to_list() == [210.0, 240.0]
    assert a["previous"].to_list() == [None, None]
    assert tr.every == "1d"
    assert tr.by == ("team",)


def test_change_is_lazy_and_stays_lazy():
    tr = change({"contacts": contacts(ROWS)}, "aht")
    assert isinstance(tr.frame, pl.LazyFrame)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": None}, "change needs a grain"),
        ({"every": "2mo"}, "unknown grain '2mo'"),
        ({"compare": "last_year"}, "unknown comparison 'last_year'; valid: previous, year"),
        ({"by": "region"}, "unknown column 'region'"),
    ],
)
def test_change_bad_input(kwargs, message):
    with pytest.raises(KpiError, match=message):
        change({"contacts": contacts(ROWS)}, "aht", **kwargs)


def test_change_empty_range_gives_an_empty_frame():
    df = change(
        {"contacts": contacts(ROWS)}, "aht", start="2024-01", end="2024-02"
    ).frame.collect()
    assert df.height == 0
    assert "previous_change_rel" in df.columns


# --------------------------------------------------------------------------------------------
# rolling
# --------------------------------------------------------------------------------------------


def daily(values: dict[str, list], days: list[int], **extra: list) -> pl.DataFrame:
    return pl.DataFrame(
        {"period": [datetime(2026, 1, d) for d in days], **values, **extra}
    ).with_columns(pl.col("period").dt.replace_time_zone(TZ))


def test_rolling_exact_ratio_and_missing_day():
    frame = daily(
        {
            "aht": [100.0, 400.0, 200.0],
            "handle_s": [1000.0, 400.0, 2000.0],
            "handled": [10, 1, 10],
        },
        [1, 2, 4],  # 3 January missing
    )
    tr = rolling(frame, "aht", window="2d")
    df = tr.frame.collect()
    # 1 Jan: 1000 / 10; 2 Jan: 1400 / 11 (not the mean 250); 4 Jan: window (2 Jan, 4 Jan] holds
    # only 4 Jan (3 Jan is missing, 2 Jan is out): 2000 / 10
    assert df["aht_rolling"].to_list() == pytest.approx([100.0, 1400 / 11, 200.0])
    assert df["aht_rolling_n"].to_list() == [1, 2, 1]
    assert "exact rolling ratio" in tr.methods["aht_rolling"]
    mean = rolling(frame, "aht", window="2d", method="mean").frame.collect()
    assert mean["aht_rolling"].to_list() == pytest.approx([100.0, 250.0, 200.0])
    # min_periods: a window with fewer values gives null
    strict = rolling(frame, "aht", window="2d", min_periods=2).frame.collect()
    assert strict["aht_rolling"].to_list() == [None, pytest.approx(1400 / 11), None]
    # the measure columns are left as they were
    assert df["handle_s"].to_list() == [1000.0, 400.0, 2000.0]


def test_rolling_groups_do_not_mix():
    frame = daily(
        {"aht": [100.0, 200.0, 300.0, 500.0]},
        [1, 2, 1, 2],
        handle_s=[100.0, 400.0, 300.0, 500.0],
        handled=[1, 2, 1, 1],
        team=["A", "A", "B", "B"],
    )
    df = rolling(frame, "aht", window="7d", by="team").frame.collect()
    # A: 100 / 1, 500 / 3; B: 300 / 1, 800 / 2
    assert df["team"].to_list() == ["A", "A", "B", "B"]
    assert df["aht_rolling"].to_list() == pytest.approx([100.0, 500 / 3, 300.0, 400.0])


def test_rolling_ratio_over_the_whole_range_equals_the_total():
    ds = small_dataset()
    r = evaluate(ds, "service_level,aht", every="1d", start="2026-01-01", end="2026-01-31")
    tr = rolling(r, "service_level", window="31d")
    last = tr.frame.collect().sort("period")["service_level_rolling"][-1]
    total = compute(
        ds, "service_level", start="2026-01-01", end="2026-01-31", measures=False
    ).collect()
    assert last == pytest.approx(total["service_level"].item())  # 3 / 7
    assert last == pytest.approx(3 / 7)
    assert tr.definitions["service_level"] == METRICS["service_level"].build().formula
    assert tr.definitions["service_level"].startswith("SL = answered ≤ each queue's objective")


def test_rolling_follows_the_variant_of_a_result():
    ds = small_dataset()
    r = evaluate(ds, "service_level", every="1d", params={"service_level.threshold_s": 30})
    tr = rolling(r, "service_level", window="31d")
    assert tr.frame.collect().sort("period")["service_level_rolling"][-1] == pytest.approx(5 / 7)
    assert "answered_within_30s" in tr.methods["service_level_rolling"]


def test_rolling_falls_back_to_mean_and_says_why():
    frame = daily(
        {"handled_per_agent": [2.0, 4.0]}, [1, 2], handled=[2, 8], agents_handling=[1, 2]
    )
    tr = rolling(frame, "handled_per_agent", window="2d")
    assert tr.frame.collect()["handled_per_agent_rolling"].to_list() == [2.0, 3.0]
    assert "distinct" in tr.methods["handled_per_agent_rolling"]
    with pytest.raises(KpiError, match="no exact rolling ratio for handled_per_agent"):
        rolling(frame, "handled_per_agent", window="2d", method="ratio")
    # counts are rolled as means
    counts = daily({"contacts_handled": [10.0, 20.0]}, [1, 2])
    out = rolling(counts, "contacts_handled", window="7d").frame.collect()
    assert out["contacts_handled_rolling"].to_list() == [10.0, 15.0]


def test_rolling_without_measures_uses_the_mean():
    frame = daily({"aht": [100.0, 300.0]}, [1, 2])
    tr = rolling(frame, "aht", window="2d")
    assert tr.frame.collect()["aht_rolling"].to_list() == [100.0, 200.0]
    assert "no measure column 'handle_s'" in tr.methods["aht_rolling"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": "7"}, "bad window '7'"),
        ({"window": "0d"}, "bad window '0d'"),
        ({"window": "7d", "method": "median"}, "unknown rolling method 'median'"),
        ({"window": "7d", "min_periods": 0}, "bad min_periods 0"),
        ({"window": "7d", "by": "team"}, "no column 'team'"),
    ],
)
def test_rolling_bad_input(kwargs, message):
    frame = daily({"aht": [1.0]}, [1])
    with pytest.raises(KpiError, match=message):
        rolling(frame, "aht", **kwargs)


def test_rolling_unknown_metric_names_the_columns():
    with pytest.raises(KpiError, match="no column 'asa'; its columns: period, aht"):
        rolling(daily({"aht": [1.0]}, [1]), "asa", window="7d")


# --------------------------------------------------------------------------------------------
# anomalies
# --------------------------------------------------------------------------------------------


def weekly(values: list[float], metric: str = "qa_score") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period": [datetime(2026, 1, 5) + timedelta(weeks=i) for i in range(len(values))],
            metric: values,
        }
    ).with_columns(pl.col("period").dt.replace_time_zone(TZ))


def test_anomaly_score_hand_computed():
    tr = anomalies(weekly([10.0, 12.0, 11.0, 13.0, 20.0]), "qa_score", lookback=4, min_history=4)
    last = tr.frame.collect().row(-1, named=True)
    # reference 10, 12, 11, 13: median 11.5, |dev| 1.5, 0.5, 0.5, 1.5, MAD 1, σ 1.4826
    assert last["qa_score_expected"] == 11.5
    assert last["qa_score_score"] == pytest.approx(8.5 / 1.4826)
    assert last["qa_score_lower"] == pytest.approx(11.5 - 3.5 * 1.4826)
    assert last["qa_score_upper"] == pytest.approx(11.5 + 3.5 * 1.4826)
    assert last["qa_score_history_n"] == 4
    assert last["qa_score_anomaly"] is True
    assert last["qa_score_effect"] == "good"  # QA score up: higher is better
    assert "robust z-score" in tr.methods["qa_score_anomaly"]


def test_anomaly_mad_zero_uses_mean_absolute_deviation():
    df = anomalies(weekly([10.0, 10.0, 10.0, 12.0, 11.0]), "qa_score", lookback=4).frame.collect()
    # median 10, MAD 0, mean |dev| 0.5: σ = 1.2533 × 0.5
    assert df["qa_score_score"][-1] == pytest.approx(1 / (1.2533 * 0.5))
    assert df["qa_score_anomaly"][-1] is False


def test_anomaly_constant_history():
    df = anomalies(weekly([10.0] * 4 + [10.0, 9.0]), "qa_score", lookback=4).frame.collect()
    # 5th week: equal to the constant reference, score 0; 6th: σ 0, any change is infinite
    assert df["qa_score_score"][4] == 0.0
    assert df["qa_score_score"][5] == -math.inf
    assert df["qa_score_anomaly"][5] is True
    assert df["qa_score_effect"][5] == "bad"  # QA score down


def test_anomaly_count_floor_and_min_scale():
    # a count with a constant reference of 4, scored on the √(x + 3/8) scale with the Poisson
    # floor σ = ½: z = (√7.375 − √4.375) / 0.5 = 1.248, no flag
    df = anomalies(
        weekly([4.0, 4.0, 4.0, 4.0, 7.0], "contacts_offered"), "contacts_offered", lookback=4
    ).frame.collect()
    assert df["contacts_offered_score"][-1] == pytest.approx(2 * (7.375**0.5 - 4.375**0.5))
    assert df["contacts_offered_expected"][-1] == 4.0
    # the band is given back in counts, (√4.375 ∓ 3.5 × 0.5)² − 3/8, not below 0
    assert df["contacts_offered_lower"][-1] == 0.0  # (2.092 − 1.75)² − 0.375 < 0
    assert df["contacts_offered_upper"][-1] == pytest.approx((4.375**0.5 + 1.75) ** 2 - 0.375)
    assert df["contacts_offered_anomaly"][-1] is False
    df = anomalies(
        weekly([10.0] * 4 + [12.0]), "qa_score", lookback=4, min_scale=1.0
    ).frame.collect()
    assert df["qa_score_score"][-1] == pytest.approx(2.0)


POOLED = [10.0, 11.0, 10.0, 12.0, 10.0, 13.0, 10.0, 11.0, 10.0, 12.0, 10.0, 30.0]


def test_anomaly_durations_on_the_log_scale():
    # AHT is a time: scored on ln(1 + x). Reference 100, 120, 110, 130 s: median 115 s; on
    # the log scale the deviations from ln 116 give the MAD
    refs = [100.0, 120.0, 110.0, 130.0]
    df = anomalies(weekly([*refs, 200.0], "aht"), "aht", lookback=4).frame.collect()
    logs = [math.log1p(v) for v in refs]
    centre = (logs[1] + logs[2]) / 2  # median of the four logs
    mad = sorted(abs(v - centre) for v in logs)
    sigma = 1.4826 * (mad[1] + mad[2]) / 2
    last = df.row(-1, named=True)
    assert last["aht_expected"] == pytest.approx(115.0)
    assert last["aht_score"] == pytest.approx(
        (math.log1p(200) - math.log1p(115)) / sigma, rel=1e-3
    )
    assert last["aht_upper"] == pytest.approx(math.expm1(math.log1p(115) + 3.5 * sigma))
    assert last["aht_anomaly"] is True
    assert last["aht_effect"] == "bad"  # AHT up: lower is better


def test_anomaly_pooled_spread_hand_computed():
    # lookback 1: each week is expected to equal the week before; eleven scored weeks (>= 10)
    # pool their deviations 1, -1, 2, -2, 3, -3, 1, -1, 2, -2, 20: median |e| = 2
    df = anomalies(weekly(POOLED), "qa_score", lookback=1, min_history=1).frame.collect()
    sigma = 1.4826 * 2
    assert df["qa_score_score"][5] == pytest.approx(3 / sigma)  # 13 after 10
    assert df["qa_score_score"][-1] == pytest.approx(20 / sigma)  # 30 after 10: 6.745
    assert df["qa_score_anomaly"].to_list() == [None] + [False] * 10 + [True]


def test_anomaly_weights_by_the_denominator():
    # QA average of 4 evaluations a week, the last week of 1: u = e √n gives
    # 2, -2, 4, -4, 6, -6, 2, -2, 4, -4, 20; median |u| = 4, s = 1.4826 × 4; the last week's
    # σ = s / √1, so its jump of 20 points is z = 3.37, no anomaly on a single evaluation
    frame = weekly(POOLED).with_columns(qa_evaluations=pl.Series([4] * 11 + [1]))
    df = anomalies(frame, "qa_score", lookback=1, min_history=1).frame.collect()
    s = 1.4826 * 4
    assert df["qa_score_score"][-1] == pytest.approx(20 / s)
    assert df["qa_score_score"][5] == pytest.approx(3 / (s / 2))
    assert df["qa_score_anomaly"][-1] is False


def test_anomaly_binomial_floor_for_fractions():
    # service level 1.0 four weeks running, then 2 of 3 in time: MAD 0, but the binomial
    # floor with p̃ = (1 × 3 + 1) / (3 + 2) = 0.8 is √(0.8 × 0.2 / 3) = 0.2309: z = -1.44
    frame = weekly([1.0] * 4 + [2 / 3], "service_level").with_columns(
        # the default variant's denominator: answered + abandoned of real-time queues
        pl.Series(METRICS["service_level"].build().denominator.name, [5, 5, 5, 5, 3])
    )
    df = anomalies(frame, "service_level", lookback=4).frame.collect()
    assert df["service_level_score"][-1] == pytest.approx((2 / 3 - 1) / (0.16 / 3) ** 0.5)
    assert df["service_level_anomaly"][-1] is False


def test_anomaly_injected_spike_flagged_weekly_pattern_not():
    # hourly offered contacts for ten weeks across the DST change of 29 March 2026, with a
    # strong weekday x hour pattern and small noise; one spike injected in week 9
    rng = np.random.default_rng(5)
    stamps = pl.datetime_range(
        datetime(2026, 2, 2), datetime(2026, 4, 13), "1h", time_zone=TZ, closed="left", eager=True
    )
    local = stamps.dt.replace_time_zone(None)
    hour = local.dt.hour().to_numpy()
    weekday = local.dt.weekday().to_numpy()
    day_shape = np.where((hour >= 8) & (hour < 20), 200.0, 10.0)
    base = day_shape * np.where(weekday >= 6, 0.3, 1.0) * np.where(weekday == 1, 1.5, 1.0)
    values = rng.poisson(base).astype(float)
    spike = int(np.flatnonzero(local.to_numpy() == np.datetime64("2026-04-01T11:00"))[0])
    values[spike] += 120.0
    frame = pl.DataFrame({"period": stamps, "contacts_offered": values})
    df = anomalies(frame, "contacts_offered").frame.collect()
    flagged = df.filter(pl.col("contacts_offered_anomaly"))
    assert flagged["period"].dt.strftime("%Y-%m-%d %H:%M").to_list() == ["2026-04-01 11:00"]
    assert flagged["contacts_offered_effect"].to_list() == ["good"]  # more offered: higher
    # history: weeks 1-4 have fewer than 4 earlier weeks, so no score there
    first_scored = df.filter(pl.col("contacts_offered_score").is_not_null())["period"].min()
    assert first_scored.date() == datetime(2026, 3, 2).date()
    # after the DST change the same local hour is compared: 09:00 BST against 09:00 GMT
    row = df.filter(pl.col("period") == datetime(2026, 4, 7, 9, tzinfo=Z)).row(0, named=True)
    assert row["contacts_offered_expected"] == pytest.approx(200.0, abs=10)


def test_anomaly_by_group_and_missing_weeks():
    frame = pl.concat(
        [
            weekly([10.0, 11.0, 12.0, 11.0, 30.0]).with_columns(team=pl.lit("A")),
            weekly([50.0, 51.0, 49.0, 50.0, 50.0]).with_columns(team=pl.lit("B")),
        ]
    )
    frame = frame.filter(~((pl.col("team") == "B") & (pl.col("period").dt.day() == 12)))
    df = anomalies(frame, "qa_score", by="team", lookback=4, min_history=3).frame.collect()
    a = df.filter(pl.col("team") == "A")
    b = df.filter(pl.col("team") == "B")
    assert a["qa_score_anomaly"].to_list() == [None, None, None, False, True]
    # B lost its second week: its weeks 3, 4, 5 have 1, 2 and 3 earlier values
    assert b["qa_score_history_n"].to_list() == [0, 1, 2, 3]
    assert b["qa_score_anomaly"].to_list() == [None, None, None, False]


@pytest.mark.parametrize("metric", ["aht", "contacts_offered", "qa_score"])
def test_anomaly_null_values_are_neither_scored_nor_history(metric):
    # a week without a value (no contacts handled) is no point and no reference, on every
    # scoring scale (log for times, √ for counts, plain)
    df = anomalies(
        weekly([10.0, None, 12.0, 11.0, None, 13.0], metric), metric, lookback=4, min_history=1
    ).frame.collect()
    assert df[f"{metric}_score"].is_null().to_list() == [True, True, False, False, True, False]
    assert df[f"{metric}_history_n"].to_list() == [0, 1, 1, 2, 3, 2]
    assert df[f"{metric}_anomaly"].null_count() == 3


def test_anomaly_bad_input():
    frame = weekly([1.0])
    with pytest.raises(KpiError, match="unknown anomaly method 'iforest'"):
        anomalies(frame, "aht", method="iforest")
    with pytest.raises(KpiError, match="bad season 'week'"):
        anomalies(frame, "aht", season="week")
    with pytest.raises(KpiError, match="bad min_history 9"):
        anomalies(frame, "aht", min_history=9)
    with pytest.raises(KpiError, match="bad threshold 0"):
        anomalies(frame, "aht", threshold=0)


# --------------------------------------------------------------------------------------------
# change points
# --------------------------------------------------------------------------------------------


def _brute_pelt(x: np.ndarray, beta: float, ms: int) -> list[int]:
    """Optimal partitioning by trying every last change (no pruning)."""
    n = len(x)
    c1 = np.concatenate([[0], np.cumsum(x - x.mean())]).tolist()
    c2 = np.concatenate([[0], np.cumsum((x - x.mean()) ** 2)]).tolist()
    best = [math.inf] * (n + 1)
    best[0] = -beta
    last = [0] * (n + 1)
    for end in range(1, n + 1):
        for s in range(end - ms + 1):
            if (s == 0 or s >= ms) and best[s] < math.inf:
                cost = c2[end] - c2[s] - (c1[end] - c1[s]) ** 2 / (end - s)
                if best[s] + cost + beta < best[end]:
                    best[end], last[end] = best[s] + cost + beta, s
    out, k = [], n
    while k > 0:
        k = last[k]
        if k > 0:
            out.append(k)
    return sorted(out)


def test_pelt_matches_brute_force():
    rng = np.random.default_rng(3)
    brute = _brute_pelt
    for _ in range(60):
        n = int(rng.integers(4, 40))
        ms = int(rng.integers(1, 4))
        x = rng.normal(size=n) + np.repeat(rng.normal(scale=3, size=4), -(-n // 4))[:n]
        beta = float(rng.uniform(0.5, 8))
        assert _pelt(x, beta, ms) == brute(x, beta, ms)


def test_pelt_matches_brute_force_on_long_series():
    """Long series keep hundreds of candidates, which expire and are compacted away."""
    rng = np.random.default_rng(5)
    for case in range(12):
        n = int(rng.integers(150, 420))
        ms = int(rng.integers(1, 13))
        x = rng.normal(size=n)
        if case % 3 == 1:
            x += np.repeat(rng.normal(scale=2, size=5), -(-n // 5))[:n]
        elif case % 3 == 2:
            x = np.round(x)  # ties
        beta = float(rng.choice([2.0, 3 * math.log(n), 40.0]))
        assert _pelt(x, beta, ms) == _brute_pelt(x, beta, ms)


def test_level_shift_found_at_the_right_period():
    rng = np.random.default_rng(11)
    days = [datetime(2026, 1, 1) + timedelta(days=i) for i in range(60)]
    values = np.r_[rng.normal(300, 5, 30), rng.normal(330, 5, 30)]  # shift on 31 January
    frame = pl.DataFrame(
        {
            "team": ["A"] * 60 + ["B"] * 60,
            "period": days * 2,
            "aht": np.r_[values, rng.normal(250, 5, 60)],
        }
    ).with_columns(pl.col("period").dt.replace_time_zone(TZ))
    tr = change_points(frame, "aht", by="team")
    cps = tr.frame.collect()
    assert cps["team"].to_list() == ["A"]
    assert cps["period"].dt.strftime("%Y-%m-%d").to_list() == ["2026-01-31"]
    row = cps.row(0, named=True)
    assert row["mean_before"] == pytest.approx(values[:30].mean())
    assert row["mean_after"] == pytest.approx(values[30:].mean())
    assert row["change"] == pytest.approx(values[30:].mean() - values[:30].mean())
    assert row["improved"] is False  # AHT up
    segs = tr.segments.collect()
    assert segs["team"].to_list() == ["A", "A", "B"]
    assert segs["n_periods"].to_list() == [30, 30, 60]
    assert segs["last_period"].dt.strftime("%m-%d").to_list() == ["01-30", "03-01", "03-01"]
    assert "PELT" in tr.methods["change_points"]


def test_change_point_levels_of_a_ratio_come_from_its_measures():
    aht = [300.0, 310.0, 290.0, 305.0, 295.0, 360.0, 370.0, 350.0, 365.0, 355.0]
    handled = [10, 1, 10, 1, 10, 1, 10, 1, 10, 1]
    frame = daily(
        {"aht": aht},
        list(range(1, 11)),
        handle_s=[a * h for a, h in zip(aht, handled, strict=True)],
        handled=handled,
    )
    tr = change_points(frame, "aht", min_size=2)
    row = tr.frame.collect().row(0, named=True)
    assert row["period"].day == 6
    # Σ handle_s / Σ handled: (3000 + 310 + 2900 + 305 + 2950) / 32, not the mean 300
    assert row["mean_before"] == pytest.approx(9465 / 32)
    assert row["mean_after"] == pytest.approx((360 + 3700 + 350 + 3650 + 355) / 23)
    assert "Σ handle_s / Σ handled over each segment" in tr.methods["change_points"]
    # without the measures: the mean of the daily values
    plain = change_points(frame.select("period", "aht"), "aht", min_size=2).frame.collect()
    assert plain["mean_before"].item() == pytest.approx(300.0)


def test_change_points_seasonal_series():
    # daily contacts with low weekends and a 20 % rise from 2 March; a weekly pattern alone
    # must not be read as level changes
    rng = np.random.default_rng(4)
    days = [datetime(2026, 1, 5) + timedelta(days=i) for i in range(84)]
    weekday = np.array([d.weekday() for d in days])
    level = np.where(np.arange(84) >= 56, 1200.0, 1000.0)
    values = level * np.where(weekday >= 5, 0.3, 1.0) + rng.normal(0, 15, 84)
    frame = pl.DataFrame({"period": days, "contacts_handled": values}).with_columns(
        pl.col("period").dt.replace_time_zone(TZ)
    )
    cps = change_points(frame, "contacts_handled", season="1w").frame.collect()
    assert cps["period"].dt.strftime("%Y-%m-%d").to_list() == ["2026-03-02"]
    assert cps["improved"].to_list() == [True]
    flat = frame.with_columns(
        pl.Series(
            "contacts_handled", 1000.0 * np.where(weekday >= 5, 0.3, 1.0) + rng.normal(0, 15, 84)
        )
    )
    assert change_points(flat, "contacts_handled", season="1w").frame.collect().height == 0


def test_change_points_constant_short_and_null_series():
    one = daily({"aht": [5.0]}, [1])
    assert change_points(one, "aht").frame.collect().height == 0
    segs = change_points(one, "aht").segments.collect()
    assert segs["n_periods"].to_list() == [1]
    assert segs["mean"].to_list() == [5.0]
    const = daily({"aht": [5.0] * 10}, list(range(1, 11)))
    assert change_points(const, "aht").frame.collect().height == 0
    nulls = daily({"aht": [None, None]}, [1, 2]).with_columns(pl.col("aht").cast(pl.Float64))
    assert change_points(nulls, "aht").frame.collect().height == 0
    assert change_points(nulls, "aht").segments.collect().height == 0


# The 1999 arrivals of the Technion bank call centre, by day: a strong weekly pattern (Friday
# closes at 14:00, Saturday opens at 20:00), holidays, and stretches with a stable level.
ARRIVALS_6MIN = "technion_bank_1999_6min/arrivals_6min_1999.csv"


@pytest.fixture(scope="module")
def arrivals_daily(shared_datasets) -> pl.DataFrame:
    raw = pl.read_csv(shared_datasets / ARRIVALS_6MIN, try_parse_dates=True)
    return (
        raw.group_by("date")
        .agg(pl.col("calls").sum().alias("contacts_offered"))
        .sort("date")
        .select(
            pl.col("date")
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("Asia/Jerusalem")
            .alias("period"),
            "contacts_offered",
        )
    )


def _window(frame: pl.DataFrame, first: str, end: str) -> pl.DataFrame:
    day = pl.col("period").dt.date()
    return frame.filter((day >= date.fromisoformat(first)) & (day < date.fromisoformat(end)))


def _found(frame: pl.DataFrame, **kwargs: Any) -> list[str]:
    cps = change_points(frame, "contacts_offered", season="1w", **kwargs).frame.collect()
    return cps["period"].dt.strftime("%Y-%m-%d").to_list()


@pytest.mark.shared
def test_no_change_point_on_stable_stretches_of_real_weekly_data(arrivals_daily):
    weekday = arrivals_daily.group_by(pl.col("period").dt.weekday().alias("d")).agg(
        pl.col("contacts_offered").median()
    )
    levels = dict(weekday.iter_rows())
    assert levels[6] < 0.5 * levels[1]  # Saturday: a fraction of a Monday (strongly weekly)
    # every calendar month and two-month window of stable stretches: no "new level"
    for first, end in [
        ("1999-02-01", "1999-04-01"),
        ("1999-03-01", "1999-05-01"),
        ("1999-09-01", "1999-11-01"),
        ("1999-10-01", "1999-12-01"),
        ("1999-11-01", "1999-12-31"),
        ("1999-10-01", "1999-11-01"),  # found a 3.6 % "new level" before the materiality rule
    ]:
        assert _found(_window(arrivals_daily, first, end)) == [], (first, end)
    # the same month without the rule: the search alone does announce a small move
    october = _window(arrivals_daily, "1999-10-01", "1999-11-01")
    cps = change_points(
        october, "contacts_offered", season="1w", min_size=3, min_change=0, min_effect=0
    ).frame.collect()
    assert cps.height == 1
    assert abs(cps["change_rel"].item()) < 0.05


@pytest.mark.shared
def test_material_shifts_of_real_weekly_data_are_still_found(arrivals_daily):
    stretch = _window(arrivals_daily, "1999-11-01", "1999-12-31")
    step = pl.col("period").dt.date() >= date(1999, 12, 1)
    for factor, rel in ((1.2, 0.2), (1.03, None)):
        stepped = stretch.with_columns(
            pl.when(step)
            .then(pl.col("contacts_offered") * factor)
            .otherwise(pl.col("contacts_offered"))
        )
        found = change_points(stepped, "contacts_offered", season="1w").frame.collect()
        if rel is None:  # +3 %: not material
            assert found.height == 0
            continue
        (row,) = found.rows(named=True)
        assert abs((row["period"].date() - date(1999, 12, 1)).days) <= 1
        assert row["change_rel"] > 0.15
    # a real shift: the August holidays lower the level by a quarter from mid-month
    (day,) = _found(_window(arrivals_daily, "1999-08-01", "1999-09-01"))
    assert abs((date.fromisoformat(day) - date(1999, 8, 15)).days) <= 2


def test_materiality_options_are_checked_and_stated():
    frame = daily({"aht": [1.0]}, [1])
    with pytest.raises(KpiError, match="bad min_change -1"):
        change_points(frame, "aht", min_change=-1)
    with pytest.raises(KpiError, match="bad min_effect nan"):
        change_points(frame, "aht", min_effect=math.nan)
    text = change_points(frame, "aht").methods["change_points"]
    assert "at least 5% and 1 σ_w" in text


def test_change_points_bad_input():
    frame = daily({"aht": [1.0]}, [1])
    with pytest.raises(KpiError, match="unknown penalty 'aic'"):
        change_points(frame, "aht", penalty="aic")
    with pytest.raises(KpiError, match="bad min_size 0"):
        change_points(frame, "aht", min_size=0)
    with pytest.raises(KpiError, match="bad season '1mo'"):
        change_points(frame, "aht", season="1mo")


# --------------------------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------------------------


def events_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "start_ts": [t(2026, 1, 2, 9), t(2026, 1, 3, 22), t(2026, 1, 1, 0), t(2026, 2, 1, 0)],
            "end_ts": [None, t(2026, 1, 5, 0), t(2026, 1, 2, 0), None],
            "label": ["price rise", "outage", "new year", "later"],
            "team": [None, "B", None, "A"],
        }
    )


def team_series() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "team": ["A"] * 5 + ["B"] * 5,
            "period": [datetime(2026, 1, d) for d in range(1, 6)] * 2,
            "aht": [float(i) for i in range(10)],
        }
    ).with_columns(pl.col("period").dt.replace_time_zone(TZ))


def test_events_attached_to_the_right_periods_and_teams():
    tr = attach_events(team_series(), events_table(), every="1d", by="team")
    df = tr.frame.collect()
    # "new year" covers 1 Jan only (ends at midnight, exclusive); "price rise" is a point on
    # 2 Jan; the B outage runs from 22:00 on 3 Jan to midnight on 5 Jan (3 and 4 Jan)
    assert df["events"].to_list() == [
        "new year",
        "price rise",
        None,
        None,
        None,
        "new year",
        "price rise",
        "outage",
        "outage",
        None,
    ]
    assert df["aht"].to_list() == [float(i) for i in range(10)]
    tidy = tr.events.collect()
    # within 1-5 January: "later" (February) is left out; events for all teams appear per team
    assert tidy.select("label", "team").rows() == [
        ("new year", "A"),
        ("new year", "B"),
        ("price rise", "A"),
        ("price rise", "B"),
        ("outage", "B"),
    ]
    outage = tidy.filter(pl.col("label") == "outage").row(0, named=True)
    assert outage["end_ts"] == t(2026, 1, 5, 0)
    price = tidy.filter(pl.col("label") == "price rise").row(0, named=True)
    assert price["end_ts"] == price["start_ts"]  # a point event


def test_events_on_a_centre_series_name_the_team():
    series = team_series().filter(pl.col("team") == "A").drop("team")
    tr = attach_events(series, {"events": events_table()}, every="1d")
    assert tr.frame.collect()["events"].to_list() == [
        "new year",
        "price rise",
        "outage (B)",
        "outage (B)",
        None,
    ]
    assert tr.events.collect()["team"].to_list() == [None, None, "B"]


def test_events_several_in_one_period_in_order_of_start():
    df = attach_events(team_series(), events_table(), every="1mo", by="team").frame.collect()
    # monthly bins: every January row holds all January events, in order of start
    assert df["events"][0] == "new year; price rise"
    assert df["events"][5] == "new year; price rise; outage"


def test_events_travel_with_the_trend():
    r = evaluate(small_dataset(), "aht", by="team", every="1d")
    ev = pl.DataFrame(
        {"start_ts": [t(2026, 1, 5, 8)], "end_ts": [None], "label": ["go-live"], "team": ["A"]}
    )
    tr = attach_events(r, ev, every="1d")
    tr2 = anomalies(tr, "aht", season="1d", lookback=2, min_history=1)
    assert tr2.events is not None
    assert "events" in tr2.methods
    assert "aht_anomaly" in tr2.methods
    df = tr2.frame.collect()
    assert df.filter(pl.col("events").is_not_null())[["team", "events"]].rows() == [
        ("A", "go-live")
    ]
    assert tr2.definitions == {"aht": "AHT = (talk + hold + after-call work) / handled"}


def test_events_need_a_grain_and_the_columns():
    with pytest.raises(KpiError, match="needs the grain of the series"):
        attach_events(team_series(), events_table())
    with pytest.raises(KpiError, match="no column 'label'"):
        attach_events(team_series(), events_table().drop("label"), every="1d")
    with pytest.raises(KpiError, match="no 'events' table"):
        attach_events(team_series(), {"contacts": events_table()}, every="1d")


def test_change_trend_carries_grain_to_events():
    tr = change({"contacts": contacts(ROWS)}, "aht", by="team", start="2026-01", end="2026-03")
    ev = pl.DataFrame(
        {"start_ts": [t(2026, 2, 10)], "end_ts": [None], "label": ["reorg"], "team": ["B"]}
    )
    df = attach_events(tr, ev).frame.collect()
    assert df.filter(pl.col("events").is_not_null())[["team", "events"]].rows() == [("B", "reorg")]


# --------------------------------------------------------------------------------------------
# degenerate inputs: one period, all null, empty
# --------------------------------------------------------------------------------------------


def empty_series() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "team": pl.String,
            "period": pl.Datetime("us", TZ),
            "aht": pl.Float64,
            "handle_s": pl.Float64,
            "handled": pl.Int64,
        }
    )


@pytest.mark.parametrize("kind", ["empty", "one", "nulls"])
def test_degenerate_series_give_nulls_not_errors(kind):
    if kind == "empty":
        frame = empty_series()
    elif kind == "one":
        frame = pl.DataFrame(
            {
                "team": ["A"],
                "period": [t(2026, 1, 1, 0)],
                "aht": [100.0],
                "handle_s": [100.0],
                "handled": [1],
            }
        )
    else:
        frame = pl.DataFrame(
            {
                "team": ["A", "A"],
                "period": [t(2026, 1, 1, 0), t(2026, 1, 2, 0)],
                "aht": [None, None],
                "handle_s": [0.0, 0.0],
                "handled": [0, 0],
            },
            schema_overrides={"aht": pl.Float64},
        )
    n = frame.height
    roll = rolling(frame, "aht", window="7d", by="team").frame.collect()
    assert roll.height == n
    expected_roll = [100.0] if kind == "one" else [None] * n
    assert roll["aht_rolling"].to_list() == expected_roll
    an = anomalies(frame, "aht", by="team").frame.collect()
    assert an.height == n
    assert an["aht_anomaly"].null_count() == n
    assert an["aht_score"].null_count() == n
    cp = change_points(frame, "aht", by="team")
    assert cp.frame.collect().height == 0
    ev = attach_events(frame, events_table(), every="1d", by="team").frame.collect()
    assert ev.height == n


def test_change_one_period_and_all_null():
    one = [("A", t(2026, 1, 5), 100.0, 10.0)]
    df = change({"contacts": contacts(one)}, "aht,service_level").frame.collect()
    assert df.height == 2
    assert df["previous"].to_list() == [None, None]
    assert df["year_ago"].to_list() == [None, None]
    # only abandoned contacts: AHT has no handled contacts, so it is null, and so is its change
    aband = contacts(one).with_columns(pl.lit("abandoned_queue").alias("outcome"))
    df = change({"contacts": aband}, "aht", compare="previous,target").frame.collect()
    assert df["value"].to_list() == [None]
    assert df["previous_change"].to_list() == [None]
    assert df["target_met"].to_list() == [None]


# --------------------------------------------------------------------------------------------
# Trend, and the sample data
# --------------------------------------------------------------------------------------------


def test_trend_meta_includes_definitions_and_methods():
    tr = change({"contacts": contacts(ROWS)}, "aht", compare="previous")
    meta = tr.meta()
    assert meta["definitions"] == {"aht": "AHT = (talk + hold + after-call work) / handled"}
    assert meta["methods"]["previous"] == "the value of the same group in period − 1mo"
    assert isinstance(tr, Trend)


def test_sample_dataset(request):
    if not (SAMPLES / "contacts.parquet").exists():
        pytest.skip(
            f"sample data not generated yet in {SAMPLES} (another engineer's `make sample`)"
        )
    samples_dir = request.getfixturevalue("samples_dir")
    import json

    from kpi.data import load

    ds = load(samples_dir)
    scenario = json.loads((samples_dir / "scenario.json").read_text())
    tr = change(ds, "contacts_handled,aht,service_level", by="team", every="1mo")
    df = tr.frame.collect()
    direct = compute(ds, "contacts_handled", by="team", every="1mo", measures=False).collect()
    handled = df.filter(pl.col("metric") == "contacts_handled").join(direct, on=["team", "period"])
    assert handled.height == direct.height > 0
    assert (handled["value"] == handled["contacts_handled"]).all()
    # previous month's value is the value of the month before, per team
    prev = handled.sort("team", "period").with_columns(
        pl.col("value").shift(1).over("team").alias("_shifted")
    )
    consecutive = prev.filter(pl.col("previous").is_not_null())
    assert (consecutive["previous"] == consecutive["_shifted"]).all()

    # the scenario's causes: a team that loses agents handles fewer contacts the next month,
    # and its daily series has a downward change point within days of the departure
    daily = evaluate(ds, "contacts_handled,aht", by="team", every="1d")
    cps = change_points(daily, "contacts_handled", season="1w").frame.collect()
    teams_with_contacts = set(handled["team"].to_list())
    losses = [
        c
        for c in scenario["causes"]
        if c["kind"] == "attrition" and c["segment"].get("team") in teams_with_contacts
    ]
    assert losses, "the default scenario has an attrition cause on a contact team"
    for cause in losses:
        team = cause["segment"]["team"]
        day = datetime.fromisoformat(cause["date"]).date()
        after = handled.filter(
            (pl.col("team") == team) & (pl.col("period").dt.month() == day.month % 12 + 1)
        ).row(0, named=True)
        assert after["previous_change_rel"] < -0.1
        assert after["previous_improved"] is False
        near = cps.filter(
            (pl.col("team") == team)
            & ((pl.col("period").dt.date() - pl.lit(day)).dt.total_days().abs() <= 3)
        )
        assert near.height == 1
        assert near["improved"].item() is False

    # events: the departure is attached to that team's series on that day, and to no other
    ev = attach_events(daily, ds, every="1d")
    on_day = ev.frame.filter(pl.col("events").is_not_null()).collect()
    for cause in losses:
        day = datetime.fromisoformat(cause["date"]).date()
        rows = on_day.filter(pl.col("period").dt.date() == day)
        labelled = rows.filter(pl.col("events").str.contains(cause["segment"]["team"]))
        assert labelled["team"].unique().to_list() == [cause["segment"]["team"]]

    # anomalies on 30-minute contacts offered: a regular sample, very few flags
    r = evaluate(ds, "contacts_offered,aht", every="30m", by="team")
    an = anomalies(r, "contacts_offered").frame.collect()
    assert an["contacts_offered_anomaly"].sum() < 0.005 * an.height
    roll = rolling(r, "aht", window="7d").frame.collect()
    assert roll["aht_rolling"].null_count() < roll.height


def test_anomalies_keep_one_row_per_input_row_when_periods_repeat():
    """Two teams' rows scored as one series (no ``by``): each period has two rows, and each row
    is scored once against both teams' earlier weeks."""
    days = pl.datetime_range(
        datetime(2026, 1, 5), datetime(2026, 3, 2), "1d", time_zone=TZ, eager=True
    )
    frame = pl.concat(
        [
            pl.DataFrame({"period": days, "team": "a", "contacts_offered": 100.0}),
            pl.DataFrame({"period": days, "team": "b", "contacts_offered": 50.0}),
        ]
    )
    out = anomalies(frame, "contacts_offered", season="1w", by=[]).frame.collect()
    assert out.height == frame.height
    last = out.filter(pl.col("period") == days[-1])
    assert last["contacts_offered_history_n"].to_list() == [16, 16]  # 8 weeks, 2 rows each
    assert last["contacts_offered_expected"].to_list() == pytest.approx([75.0, 75.0], abs=1.0)


def test_second_pass_of_a_half_hour_clock_change():
    """Lord Howe Island turns its clocks back half an hour (5 April 2026, 02:00 -> 01:30)."""
    from kpi.trends._series import _second_pass

    stamps = pl.datetime_range(
        datetime(2026, 4, 4, 14, 0),
        datetime(2026, 4, 4, 16, 0),
        "15m",
        time_zone="UTC",
        eager=True,
    ).dt.convert_time_zone("Australia/Lord_Howe")
    df = pl.DataFrame({"t": stamps}).with_columns(_second_pass(pl.col("t")).alias("again"))
    again = df.filter("again")["t"].dt.strftime("%H:%M").to_list()
    assert again == ["01:30", "01:45"]  # the second 01:30-01:59, not the first
    assert df.height - len(again) == df["t"].dt.replace_time_zone(None).n_unique()


def test_shifts_across_dst_keep_unique_keys():
    # 15-minute bins through the repeated hour of 25 October 2026 (01:00-01:59 twice)
    stamps = pl.datetime_range(
        datetime(2026, 10, 18, 0), datetime(2026, 10, 18, 3), "15m", time_zone=TZ, eager=True
    )
    stamps = pl.concat(
        [
            stamps,
            pl.datetime_range(
                datetime(2026, 10, 25, 0, tzinfo=Z),
                datetime(2026, 10, 25, 3, tzinfo=Z),
                "15m",
                eager=True,
            ).dt.convert_time_zone(TZ),
        ]
    )
    frame = pl.DataFrame({"period": stamps, "qa_score": [float(i) for i in range(len(stamps))]})
    df = anomalies(frame, "qa_score", lookback=1, min_history=1).frame.collect()
    assert df.height == frame.height  # no row doubled by the join
    # the first pass through 01:15 on the 25th is compared with 01:15 a week before (value
    # 5); the second pass (GMT) has no week-earlier point
    first = df.filter(pl.col("period").dt.strftime("%d %H:%M %Z") == "25 01:15 BST")
    second = df.filter(pl.col("period").dt.strftime("%d %H:%M %Z") == "25 01:15 GMT")
    assert first["qa_score_expected"].item() == 5.0
    assert second["qa_score_history_n"].item() == 0
    # and a week later, 01:15 sees only the first pass of the repeated hour
    nxt = pl.DataFrame(
        {"period": [datetime(2026, 11, 1, 1, 15, tzinfo=Z)], "qa_score": [0.0]}
    ).with_columns(pl.col("period").dt.convert_time_zone(TZ))
    both = pl.concat([frame.filter(pl.col("period").dt.day() == 25), nxt])
    out = anomalies(both, "qa_score", lookback=1, min_history=1).frame.collect()
    first_pass = frame.filter(pl.col("period").dt.strftime("%d %H:%M %Z") == "25 01:15 BST")
    assert out["qa_score_expected"][-1] == first_pass["qa_score"].item()


def test_functions_chain_and_carry_definitions():
    # the trends notebook's chain: evaluate -> rolling -> anomalies -> events -> change points
    r = evaluate(
        small_dataset(), "aht", by="team", every="1d", params={"aht.components": "talk_hold"}
    )
    ev = pl.DataFrame(
        {"start_ts": [t(2026, 1, 6, 8)], "end_ts": [None], "label": ["x"], "team": [None]}
    )
    tr = rolling(r, "aht", window="7d")
    tr = anomalies(tr, "aht", season="1d", lookback=2, min_history=1)
    tr = attach_events(tr, ev, every="1d")
    df = tr.frame.collect()
    assert {"aht_rolling", "aht_score", "events"} <= set(df.columns)
    assert set(tr.methods) == {"aht_rolling", "aht_anomaly", "events"}
    assert tr.definitions == {"aht": "AHT = (talk + hold) / handled (no after-call work)"}
    assert tr.params["aht"] == {"components": "talk_hold"}
    assert tr.by == ("team",)
    assert tr.every == "1d"
    cp = change_points(tr, "aht")
    assert cp.events is not None  # the events frame travels on
    assert cp.definitions == tr.definitions
    # team A on 5 Jan: (100 + 300) / 2 talk + hold; 7 Jan: (200 + 30) / 1
    a = df.filter(pl.col("team") == "A").sort("period")
    assert a["aht"].to_list() == [200.0, 230.0]
    assert a["aht_rolling"].to_list() == pytest.approx([200.0, 630 / 3])
