"""kpi.views (the notebooks' helpers) and the chart builders added for the notebooks
(kpi.charts.status_chart, kpi.charts.effects_chart): hand-computed values on tiny frames,
relations that must hold on the sample data, Vega-Lite specs."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import kpi
import kpi.report
from kpi import charts, views
from kpi.errors import KpiError
from kpi.metrics import METRICS
from kpi.periods import parse_period
from kpi.targets import TargetSet

LONDON = ZoneInfo("Europe/London")


def at(day: int, hour: int = 10, minute: int = 0, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture(scope="module")
def sample(samples_dir):
    return kpi.load(samples_dir)


# ---- data helpers --------------------------------------------------------------------------


def test_filter_teams_cuts_every_team_table_and_keeps_the_rest():
    tables = {
        "contacts": pl.DataFrame(
            {"team": ["A", "B", "B"], "arrival_ts": [at(2)] * 3, "talk_s": [1.0, 2.0, 3.0]}
        ),
        "events": pl.DataFrame(
            {"start_ts": [at(2)] * 3, "label": ["a", "all", "b"], "team": ["A", None, "B"]}
        ),
        "customers": pl.DataFrame({"customer_id": ["c1", "c2"]}),
        "finance": pl.DataFrame({"team": [None, "A"], "centre_cost": [100.0, 40.0]}),
    }
    ds = views.filter_teams(tables, ["A"])
    assert ds["contacts"].collect()["talk_s"].to_list() == [1.0]
    assert ds["events"].collect()["label"].to_list() == ["a", "all"]  # team-less events stay
    assert ds["customers"].collect().height == 2  # no team column: whole
    assert ds["finance"].collect()["centre_cost"].to_list() == [40.0]  # centre row dropped
    assert ds.meta["teams"] == ["A"]
    # a comma-separated string works too; nothing chosen keeps everything
    assert views.filter_teams(tables, "A, B")["contacts"].collect().height == 3
    assert views.filter_teams(tables, [])["contacts"].collect().height == 3


def test_filter_teams_names_the_valid_teams():
    c = pl.DataFrame({"team": ["North", "South"]})
    with pytest.raises(
        KpiError, match=r"unknown teams 'East', 'West'; teams in the data: North, South"
    ):
        views.filter_teams({"contacts": c}, ["East", "North", "West"])
    with pytest.raises(KpiError, match="no table of the data has a team column"):
        views.filter_teams({"customers": pl.DataFrame({"customer_id": ["c"]})}, ["A"])


def test_available_metrics_leaves_out_missing_tables_and_empty_columns():
    c = pl.DataFrame(
        {
            "arrival_ts": [at(2)],
            "outcome": ["answered"],
            "wait_s": [5.0],
            "talk_s": [100.0],
            "resolved": [None],  # the source does not record resolution
        },
        schema_overrides={"resolved": pl.Boolean},
    )
    got = views.available_metrics({"contacts": c})
    assert "service_level" in got
    assert "resolution_rate" not in got  # would read 0 % from a column with no value
    # the engine's rule (kpi.compute.availability): AHT needs hold and wrap-up times too
    assert "aht" not in got
    assert "avg_hold" not in got
    assert "avg_talk" in got
    assert "qa_score" not in got
    assert "backlog" not in got
    assert "resolution_rate" in views.available_metrics({"contacts": c}, check_data=False)
    full = c.with_columns(hold_s=pl.lit(0.0), acw_s=pl.lit(10.0))
    assert views.available_metrics({"contacts": full}, "aht,backlog") == ["aht"]
    # catalogue order whatever the order asked
    assert views.available_metrics({"contacts": full}, ["aht", "service_level"]) == [
        "service_level",
        "aht",
    ]
    lines = views.unavailable_lines({"contacts": c}, ["aht", "service_level"])
    assert lines == [
        "Average handle time: unavailable: contacts has no hold_s values; no intervals "
        "table; needs talk_s, hold_s, acw_s in contacts, or talk_s, hold_s, acw_s in intervals"
    ]


def test_dimensions_and_metric_table():
    t = pl.DataFrame({"ticket_id": ["t"], "team": ["A"], "topic": ["x"], "priority": ["p1"]})
    c = pl.DataFrame({"team": ["A"], "queue": ["q"]})
    ds = {"tickets": t, "contacts": c}
    # the columns with values (channel is in the tickets' schema, null on every row here)
    assert views.dimensions(ds, "backlog") == ["team", "topic", "priority"]
    assert views.dimensions(ds, "aht") == ["team", "queue"]
    assert views.dimensions(ds) == [d for d in views.DIMENSIONS if d in {*t.columns, *c.columns}]
    assert views.metric_table("tickets_handled", ds) == "tickets"
    assert views.metric_table("qa_score", ds) is None


@pytest.mark.parametrize("kpi_id", list(METRICS))
def test_every_variant_option_is_a_valid_definition(kpi_id):
    options = views.variant_options(kpi_id)
    assert options[0][0].startswith("default")
    assert options[0][1] == {}
    labels = [label for label, _ in options]
    assert len(labels) == len(set(labels))
    for _, params in options:
        # every option resolves and changes exactly one variant from its default
        ((metric, resolved),) = kpi.metrics.resolve([kpi_id], params)
        changed = {k for k, v in resolved.items() if v != metric.resolve_params()[k]}
        assert len(changed) == len(params)


def test_variant_params_units_labels_and_header_targets():
    assert (
        views.metric_params("service_level", {"service_level.threshold_s": 30})["threshold_s"]
        == 30
    )
    assert views.metric_params("aht") == {"components": "talk_hold_acw"}
    with pytest.raises(KpiError, match=r"unknown parameter aht\.window"):
        views.metric_params("aht", {"aht.window": 3})
    assert views.units(["team", "service_level", "aht"]) == {"service_level": "ratio", "aht": "s"}
    assert views.labels(["aht"], team="Team") == {"aht": "Average handle time", "team": "Team"}
    ts = TargetSet.from_mapping({"service_level": {"target": 0.9, "red": 0.8}})
    assert views.header_targets(ts, ["service_level", "aht"]) == {
        "service_level": {"target": 0.9, "red": 0.8}
    }
    assert views.header_targets(None, ["aht"]) == {}


def test_attempt_keeps_user_errors_only():
    ok = views.attempt(views.what_if_items, agents=1)
    assert ok.ok
    assert ok.value == ["agents=+1"]
    bad = views.attempt(views.filter_teams, {"contacts": pl.DataFrame({"team": ["A"]})}, ["Z"])
    assert not bad.ok
    assert "unknown team 'Z'" in bad.error
    with pytest.raises(ZeroDivisionError):  # a bug is not hidden
        views.attempt(lambda: 1 / 0)


# ---- scorecard -----------------------------------------------------------------------------


def test_status_counts_and_summary():
    card = pl.DataFrame(
        {
            "perspective": ["customer", "customer", "customer", "financial", "financial"],
            "status": ["red", "green", "red", None, "amber"],
        }
    )
    assert views.status_counts(card).collect().rows() == [
        ("customer", "green", 1),
        ("customer", "red", 2),
        ("financial", "amber", 1),
    ]
    assert (
        views.status_summary(card) == "1 of the 4 KPIs with a target are green, 1 amber and 2 red."
    )
    assert views.status_summary(card.head(1)) == "The one KPI with a target is red."
    assert views.status_summary(card.filter(pl.col("status").is_null())) == (
        "No KPI of this data has a target."
    )


def test_scorecard_bars_one_chart_per_kpi_with_previous_and_target():
    card = pl.DataFrame(
        {
            "team": ["A", "B", "A", "B", "A"],
            "id": ["service_level", "service_level", "aht", "aht", "qa_score"],
            "label": ["Service level", "Service level", "AHT", "AHT", "QA"],
            "unit": ["ratio", "ratio", "s", "s", "points"],
            "value": [0.8, 0.6, 300.0, 420.0, None],
            "previous": [0.7, 0.65, None, None, None],
            "target": [0.8, 0.8, None, None, None],
        }
    )
    out = views.scorecard_bars(card, period="2026-02", compare="2026-01")
    specs = [c.to_dict() for c in out]
    assert [s["title"]["text"] if isinstance(s["title"], dict) else s["title"] for s in specs] == [
        "Service level by team, 2026-02",
        "AHT by team, 2026-02",
    ]  # QA has no value: no chart
    sl = specs[0]
    assert [layer["mark"]["type"] for layer in sl["layer"]] == ["bar", "tick", "rule"]
    assert sl["layer"][0]["encoding"]["x"]["axis"]["format"] == ".0%"
    assert [layer["mark"]["type"] for layer in specs[1]["layer"]] == ["bar"]  # no previous


def test_a_scorecard_without_comparison_has_null_comparison_columns(sample):
    """``compare=None`` (no comparison period with data): the values of the period alone, the
    comparison columns null, and the tables and bars of the notebooks leave them out."""
    from kpi.scorecard import scorecard

    ids = ["contacts_offered", "service_level", "aht"]
    alone, _ = scorecard(sample, period="2026-02", compare=None, metrics=ids, by=["team"])
    alone = alone.collect()
    both, _ = scorecard(sample, period="2026-02", metrics=ids, by=["team"])
    both = both.collect()
    assert alone.columns == both.columns
    assert alone["value"].to_list() == both["value"].to_list()
    assert alone["status"].to_list() == both["status"].to_list()
    for column in ("previous", "change", "change_rel", "improved"):
        assert alone[column].is_null().all(), column
    # a value has a previous value (the e-mail team has no real-time service level at all)
    assert both.filter(pl.col("value").is_not_null())["previous"].is_not_null().all()
    assert both.filter(pl.col("value").is_null())["id"].unique().to_list() == ["service_level"]
    # "" is no comparison too; the default is the period before
    empty, _ = scorecard(sample, period="2026-02", compare="", metrics=ids)
    assert empty.collect()["previous"].is_null().all()
    before, _ = scorecard(sample, period="2026-02", compare="2026-01", metrics=ids)
    assert before.collect().equals(scorecard(sample, period="2026-02", metrics=ids)[0].collect())
    # the notebooks' tables and bars
    cols = ["label", "team", "value", "previous", "change", "change_rel", "target", "status"]
    assert views.comparison_columns(cols, "") == ["label", "team", "value", "target", "status"]
    assert views.comparison_columns(cols, None) == views.comparison_columns(cols, "")
    assert views.comparison_columns(cols, "2026-01") == cols
    table = repr(
        kpi.report.table(
            alone,
            columns=views.comparison_columns(cols, ""),
            units="unit",
            unit_columns=["value", "target"],
        )
    )
    assert "change" not in table.splitlines()[0]
    for chart in views.scorecard_bars(alone, period="2026-02", compare=""):
        spec = chart.to_dict()
        assert "tick" not in [layer["mark"]["type"] for layer in spec.get("layer", [spec])]
        assert "ticks" not in spec["title"]["subtitle"]
    # the findings name the period alone: no "from ... to"
    for line in kpi.report.scorecard_findings(
        alone.filter(pl.col("team") == "North"), period="2026-02", compare=""
    ):
        assert not [w for w in (" from ", "rose", "fell") if w in line], line


def test_explain_needs_a_comparison_period(sample):
    from kpi.explain import explain

    for none in (None, ""):
        with pytest.raises(
            KpiError,
            match=r"^no comparison period with data, so there is no "
            r"change of contacts handled \(contacts_handled\) to explain$",
        ):
            explain(sample, "contacts_handled", baseline=none, current="2026-02")
    # in a notebook: one line, through views.attempt
    outcome = views.attempt(explain, sample, "aht", baseline=None, current="2026-02")
    assert not outcome.ok
    assert outcome.error == (
        "no comparison period with data, so there is no change of average handle time (aht) "
        "to explain"
    )


def test_ticket_views_without_comparison(sample):
    summary = views.ticket_summary(sample, period="2026-02", compare=None).collect()
    assert "handled_previous" not in summary.columns
    assert (
        "handled_previous"
        in views.ticket_summary(sample, period="2026-02", compare="2026-01")
        .collect_schema()
        .names()
    )
    lines = views.ticket_overview(sample, period="2026-02", compare=None)
    assert lines
    assert not [x for x in lines if "2026-01" in x or " from " in x]


# ---- trends --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daily_spike() -> dict:
    """100 answered contacts a day for six weeks from Monday 5 January, 300 on 14 February,
    each answered after 10 s in queue (without waits, service level would be unknown)."""
    rows = []
    for d in range(42):
        day = datetime(2026, 1, 5, 10, tzinfo=LONDON) + timedelta(days=d)
        rows += [day] * (300 if d == 40 else 100)
    n = len(rows)
    return {
        "contacts": pl.DataFrame(
            {"arrival_ts": rows, "outcome": ["answered"] * n, "wait_s": [10.0] * n}
        )
    }


def test_trend_frame_scores_the_shown_range_from_earlier_weeks(daily_spike):
    f = views.trend_frame(
        daily_spike, "contacts_answered", every="1d", start="2026-02-09", end="2026-02-15"
    ).collect()
    assert f["period"].dt.day().to_list() == list(range(9, 16))
    assert f["contacts_answered_anomaly"].to_list() == [False] * 5 + [True, False]
    spike = f.row(5, named=True)
    assert spike["contacts_answered"] == 300.0
    assert spike["contacts_answered_expected"] == pytest.approx(100.0)
    assert spike["contacts_answered_effect"] == "good"  # more answered is better
    assert views.trend_findings(f, "contacts_answered", every="1d") == [
        "Contacts answered: 1 unusual day; the largest on Sat 14 Feb: 300 against an "
        "expected 100."  # a volume: no verdict
    ]
    # findings only from the start asked
    assert views.trend_findings(f, "contacts_answered", start="2026-02-15") == []


def test_shift_findings_name_a_lasting_change_of_level():
    days = [datetime(2026, 1, 5, tzinfo=LONDON) + timedelta(days=i) for i in range(56)]
    # a weekly pattern (quiet Sundays) and a fall from 80 % to 50 % on Monday 2 February
    level = [0.8 if d < datetime(2026, 2, 2, tzinfo=LONDON) else 0.5 for d in days]
    sl = [v - (0.1 if d.weekday() == 6 else 0.0) for v, d in zip(level, days, strict=True)]
    f = pl.DataFrame({"period": days, "service_level": sl})
    assert views.shift_findings(f, "service_level", every="1d") == [
        "Service level moved to a new level from Mon 2 Feb: 48.6% on average, "
        "from 78.6% before (worse)."
    ]
    flat = f.with_columns(pl.lit(0.8).alias("service_level"))
    assert views.shift_findings(flat, "service_level") == []
    assert views.shift_findings(f.head(4), "service_level") == []  # too short to tell


def test_trend_figure_draws_target_anomalies_and_events(daily_spike):
    events = pl.DataFrame({"start_ts": [at(11, 9)], "label": ["IVR change"]})
    ds = kpi.Dataset({**daily_spike, "events": events}, tz="Europe/London")
    spec = views.trend_figure(
        ds, "contacts_answered", every="1d", start="2026-02-01", end="2026-02-15"
    ).to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks.count("point") == 2  # points and circled anomalies
    assert "rule" in marks  # the event
    assert spec["title"]["text"] == "Contacts answered by day"
    assert any(
        "IVR change" == v.get("label")
        for layer in spec["layer"]
        for v in layer.get("data", {}).get("values", [])
    )
    sl = views.trend_figure(ds, "service_level", every="1w", events=False).to_dict()
    assert sl["layer"][0]["mark"]["type"] == "rule"  # the 80 % target
    assert sl["layer"][0]["data"]["values"] == [{"target": 0.8}]


def test_trend_figure_draws_levels_where_the_series_shifts(samples_dir):
    """The sample's team North loses 15 of its 27 agents in February: its weekly handled
    contacts step down, and the figure draws the levels of the teams that shifted."""
    spec = views.trend_figure(
        samples_dir, "contacts_handled", every="1w", by="team", events=False
    ).to_dict()
    steps = [layer for layer in spec["layer"] if "x2" in layer["encoding"]]
    assert len(steps) == 1
    north = [v for v in steps[0]["data"]["values"] if v["team"] == "North"]
    assert len(north) >= 2
    assert north[0]["first_period"].startswith("2025-12-29")
    assert north[1]["first_period"].startswith("2026-02")  # the step down in February
    assert north[1]["mean"] < 0.8 * north[0]["mean"]
    assert "dashed: the level between change points" in spec["title"]["subtitle"]


# ---- the lines of a trend chart by a dimension ------------------------------------------------


def _others_truth(sample, metric: str, kept: list[str], every: str) -> pl.DataFrame:
    """The KPI of every contact whose agent is not kept (abandoned ones, without an agent,
    included), from the rows: by ``site`` overwritten to name those contacts ``others`` (FCR's
    repeats are still found across all contacts)."""
    named = [k for k in kept if k is not None]
    agent = pl.col("agent_id")
    mine = agent.is_in(named).fill_null(False) | (agent.is_null() if None in kept else False)
    contacts = sample.tables["contacts"].with_columns(
        pl.when(mine).then(pl.lit("kept")).otherwise(pl.lit("others")).alias("site")
    )
    ds = kpi.Dataset({**sample.tables, "contacts": contacts}, tz=sample.tz, meta=sample.meta)
    r = kpi.evaluate(ds, metric, every=every, by="site").frame.collect()
    return r.filter(pl.col("site") == "others")


@pytest.mark.parametrize("metric", ["aht", "service_level", "contacts_handled", "fcr"])
def test_trend_frame_max_lines_keeps_the_busiest_and_the_others_exactly(sample, metric):
    """84 agents by week, at most 8 lines: the 7 with the most contacts in the KPI's
    denominator (its count for a count), and one line whose KPI is the KPI of every other
    contact, computed from the rows of those contacts alone."""
    lf = views.trend_frame(sample, metric, every="1w", by="agent_id", max_lines=8)
    f = lf.collect()
    full = views.trend_frame(sample, metric, every="1w", by="agent_id").collect()
    groups = full["agent_id"].n_unique()
    assert groups >= 84  # the agents (and the contacts without one, where the KPI has them)
    lines = f["agent_id"].unique(maintain_order=True).to_list()
    assert len(lines) == 8
    assert lines[-1] == f"{groups - 7} others"
    assert f.filter(pl.col("combined"))["agent_id"].unique().to_list() == [lines[-1]]
    assert set(f["groups"].to_list()) == {groups}
    build = METRICS[metric].build()
    weight = (build.denominator or build.numerator).name
    busiest = (
        full.group_by("agent_id")
        .agg(pl.col(weight).sum())
        .sort(weight, "agent_id", descending=[True, False], nulls_last=True)
        .head(7)["agent_id"]
        .to_list()
    )
    assert lines[:7] == busiest
    for agent in busiest:  # a kept line is the group's own series, scored the same
        assert_frame_equal(
            f.filter(pl.col("agent_id").eq_missing(agent)).select(full.columns),
            full.filter(pl.col("agent_id").eq_missing(agent)),
        )
    got = f.filter(pl.col("combined")).select("period", metric).sort("period")
    want = _others_truth(sample, metric, busiest, "1w").select("period", metric)
    assert_frame_equal(got, want.filter(pl.col("period").is_in(got["period"].implode())))
    assert got.height == want.height


def test_trend_frame_max_lines_without_a_sum_keeps_the_busiest_alone(sample):
    """Handled per agent divides by a distinct count: the other teams' line cannot be added
    up from the lines, so only the busiest are kept; with enough lines, every group."""
    f = views.trend_frame(
        sample, "handled_per_agent", every="1w", by="team", max_lines=2
    ).collect()
    assert f["team"].n_unique() == 2
    assert not f["combined"].any()
    assert set(f["groups"].to_list()) == {4}
    spec = views.trend_figure(sample, "handled_per_agent", every="1w", by="team", frame=f)
    subtitle = spec.to_dict()["title"]["subtitle"]
    assert "the 2 busiest of 4 (the others do not add up to one line)" in subtitle
    every = views.trend_frame(sample, "aht", every="1w", by="team", max_lines=4).collect()
    assert every["team"].n_unique() == 4
    assert not every["combined"].any()
    with pytest.raises(KpiError, match="bad max_lines 0"):
        views.trend_frame(sample, "aht", every="1w", by="team", max_lines=0)
    one = views.trend_frame(sample, "aht", every="1w", by="team", max_lines=1).collect()
    assert one["team"].unique().to_list() == [one["team"][0]]  # the busiest team, alone
    assert not one["combined"].any()
    spec = views.trend_figure(sample, "aht", every="1w", by="team", frame=one).to_dict()
    assert "the 1 busiest of 4 (no line for the others)" in spec["title"]["subtitle"]
    named = sample.tables["contacts"].with_columns(pl.col("team").alias("groups"))
    clash = kpi.Dataset({**sample.tables, "contacts": named}, tz=sample.tz)
    with pytest.raises(KpiError, match="a column named 'groups' cannot split a trend"):
        views.trend_frame(clash, "aht", every="1w", by="groups", max_lines=2)


def test_trend_figure_draws_the_busiest_lines_and_the_others_in_grey(sample):
    f = views.trend_frame(sample, "aht", every="1w", by="agent_id", max_lines=8).collect()
    groups = f["groups"][0]
    spec = views.trend_figure(sample, "aht", every="1w", by="agent_id", events=False).to_dict()
    line = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
    scale = line["encoding"]["color"]["scale"]
    assert scale["domain"] == f["agent_id"].unique(maintain_order=True).to_list()
    assert len(scale["domain"]) == views.MAX_LINES
    assert scale["domain"][-1] == f"{groups - 7} others"
    assert scale["range"][:-1] == list(charts.PALETTE[:7])
    assert scale["range"][-1] not in charts.PALETTE  # grey
    assert (
        f"by agent_id: the 7 busiest of {groups}, the other {groups - 7} as one line"
        in (spec["title"]["subtitle"])
    )
    # the figure chose the same lines as trend_frame(max_lines=...), with the same values
    rows = pl.DataFrame(charts.chart_rows(spec, 1))
    assert rows.height == f.height
    assert rows["aht"].to_list() == f["aht"].to_list()
    by_team = views.trend_figure(sample, "aht", every="1w", by="team", events=False).to_dict()
    team_line = next(layer for layer in by_team["layer"] if layer["mark"]["type"] == "line")
    assert "scale" not in team_line["encoding"]["color"]  # 4 teams: every one, default colours


def test_trend_findings_name_the_combined_line(sample):
    f = views.trend_frame(sample, "contacts_handled", every="1d", by="agent_id", max_lines=3)
    f = f.collect().with_columns(  # one unusual day for the other agents together
        pl.when(pl.col("combined") & (pl.col("period") == pl.col("period").max()))
        .then(pl.lit(True))
        .otherwise(pl.lit(False))
        .alias("contacts_handled_anomaly"),
        pl.lit(9.0).alias("contacts_handled_score"),
    )
    (text,) = views.trend_findings(f, "contacts_handled", by="agent_id", every="1d")
    assert f"in the {f['groups'][0] - 2} others (agent_id):" in text


def test_shift_findings_name_the_combined_line():
    """Three small teams together step up in the week of 9 February."""
    days = [at(1) + timedelta(days=i) for i in range(28)]
    rows = [
        (team, d, 10.0 if team in "AB" else (9.0 if d < at(9) else 27.0) / 3)
        for team in "ABCDE"
        for d in days
    ]
    frame = pl.DataFrame(rows, schema=["team", "period", "contacts_answered"], orient="row")
    frame = frame.with_columns(pl.col("period").dt.convert_time_zone("Europe/London"))
    combined = (
        frame.with_columns(
            pl.when(pl.col("team").is_in(["A", "B"]))
            .then(pl.col("team"))
            .otherwise(pl.lit("3 others")),
        )
        .group_by("team", "period")
        .agg(pl.col("contacts_answered").sum())
    )
    combined = combined.with_columns((pl.col("team") == "3 others").alias("combined")).sort(
        "team", "period"
    )
    (text,) = views.shift_findings(combined, "contacts_answered", by="team", every="1d")
    assert text.startswith("Contacts answered in the 3 others (team) moved to a new level")


def test_trend_figure_searches_levels_only_for_few_points(samples_dir):
    """A month of 15-minute intervals (2,976 points) is past MAX_LEVEL_POINTS: no dashed
    steps; half hours (1,488) are searched."""
    kw = {"start": "2026-03-01", "end": "2026-03-31", "events": False}
    quarter = views.trend_figure(samples_dir, "contacts_offered", every="15m", **kw).to_dict()
    assert len(charts.chart_rows(quarter, 1)) > views.MAX_LEVEL_POINTS
    assert not [layer for layer in quarter["layer"] if "x2" in layer["encoding"]]
    assert "dashed" not in quarter["title"]["subtitle"]
    half = views.trend_frame(samples_dir, "contacts_offered", every="30m", start=kw["start"])
    assert half.collect().height <= views.MAX_LEVEL_POINTS


def test_trend_frame_bad_grain():
    with pytest.raises(KpiError, match="unknown grain '2d'"):
        views.trend_frame({"contacts": pl.DataFrame({"arrival_ts": [at(2)]})}, "aht", every="2d")


def test_heatmap_frame_is_exact_for_ratios_and_averages_counts_per_day():
    c = pl.DataFrame(
        {
            "arrival_ts": [
                at(5, 9, 10, month=1),  # Monday 5 January: 1 answered in 5 s
                at(12, 9, 5, month=1),  # Monday 12 January: 1 answered late, 2 abandoned
                at(12, 9, 15, month=1),
                at(12, 9, 20, month=1),
                at(6, 9, 0, month=1),  # Tuesday 6 January: 3 answered
                at(6, 9, 1, month=1),
                at(6, 9, 2, month=1),
            ],
            "outcome": ["answered", "answered", "abandoned_queue", "abandoned_queue"]
            + ["answered"] * 3,
            "wait_s": [5.0, 50.0, 30.0, 40.0, 1.0, 1.0, 1.0],
        }
    )
    ds = {"contacts": c}
    span = {"start": "2026-01-05", "end": "2026-01-18"}  # two of each weekday
    sl = views.heatmap_frame(ds, "service_level", **span).collect()
    # Monday 09:00: 1 within 20 s of 4 answered or abandoned (not the mean of 1/1 and 0/3)
    assert sl.rows() == [(1, "09:00", 0.25), (2, "09:00", 1.0)]
    n = views.heatmap_frame(ds, "contacts_answered", **span).collect()
    assert n.rows() == [(1, "09:00", 1.0), (2, "09:00", 1.5)]  # per day: 2/2 and 3/2
    assert views.heatmap_frame(ds, "contacts_answered", how="mean", **span).collect()[
        "contacts_answered"
    ].to_list() == [1.0, 3.0]  # mean of the intervals with contacts
    assert views.heatmap_frame(ds, "contacts_answered", how="max", every="1h", **span).collect()[
        "contacts_answered"
    ].to_list() == [1.0, 3.0]
    with pytest.raises(KpiError, match="intraday grain"):
        views.heatmap_frame(ds, "aht", every="1d", **span)
    with pytest.raises(KpiError, match="bad how"):
        views.heatmap_frame(ds, "aht", how="median", **span)


def test_to_long_keeps_labels_and_index():
    f = pl.DataFrame({"period": [1], "a_h": [2.0], "b_h": [3.0]})
    out = views.to_long(f, {"a_h": "median", "b_h": "p90"}, value="hours").collect()
    assert out.columns == ["period", "series", "hours"]
    assert out.rows() == [(1, "median", 2.0), (1, "p90", 3.0)]


# ---- drill-down ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handled(sample):
    from kpi.explain import explain

    return explain(sample, "contacts_handled", baseline="2026-01", current="2026-02")


@pytest.fixture(scope="module")
def service(sample):
    from kpi.explain import explain

    return explain(sample, "service_level", baseline="2026-01", current="2026-02")


def test_change_and_drivers_frames_add_up(handled):
    change = views.change_frame(handled).row(0, named=True)
    assert change["baseline_period"] == "2026-01"
    assert change["current_period"] == "2026-02"
    assert change["change"] == pytest.approx(change["current"] - change["baseline"])
    drivers = views.drivers_frame(handled)
    assert drivers["contribution"].sum() == pytest.approx(change["change"], rel=1e-9)
    assert drivers.columns == ["driver", "unit", "baseline", "current", "contribution", "share"]
    inner = views.drivers_frame(handled.segment_drivers["drivers"])  # plain dicts work too
    assert inner.height == len(handled.segment_drivers["drivers"])
    assert views.drivers_frame([]).is_empty()


def test_driver_waterfall_runs_from_baseline_to_current(handled):
    spec = views.driver_waterfall(handled).to_dict()
    steps = spec["data"]["values"]
    assert (steps[0]["step"], steps[0]["after"]) == ("2026-01", handled.baseline["value"])
    assert (steps[-1]["step"], steps[-1]["after"]) == ("2026-02", handled.current["value"])
    assert steps[-2]["after"] == pytest.approx(handled.current["value"])  # exact attribution
    inner = views.driver_waterfall(handled, segment=True).to_dict()
    dims = handled.segment_drivers["dims"]
    assert (
        inner["title"]
        == f"Why Contacts handled changed within {views.segment_name(dims)}: drivers"
    )


def test_segments_and_effects(handled, service):
    seg = views.segments_frame(handled)
    assert seg["rank"].to_list() == list(range(1, seg.height + 1))
    assert seg["mix"].is_null().all()  # a count has no mix/rate split
    eff = views.effects_frame(seg).collect()
    assert set(eff["effect"]) == {"change"}
    assert eff["value"].to_list() == seg["contribution"].to_list()
    ratio = views.segments_frame(service)
    eff = views.effects_frame(ratio).collect()
    assert set(eff["effect"]) <= {"mix", "rate", "change"}
    totals = eff.group_by("segment", maintain_order=True).agg(pl.col("value").sum())
    expected = ratio.select("segment", "contribution")
    joined = totals.join(expected, on="segment")
    assert joined["value"].to_list() == pytest.approx(joined["contribution"].to_list())


def test_segment_choice_breakdown_and_rows(sample, handled):
    top = views.choose_segment(handled)
    assert top == handled.segments[0].dims
    assert views.choose_segment(handled, {"topic": "billing"}) == {"topic": "billing"}
    assert views.segment_options(handled)[0] == (views.segment_name(top), top)
    inside = views.segment_breakdown(
        sample, "contacts_handled", top, baseline="2026-01", current="2026-02", by="channel"
    ).collect()
    seg = handled.segments[0]
    assert inside["baseline"].sum() == pytest.approx(seg.baseline)
    assert inside["current"].sum() == pytest.approx(seg.current)
    assert inside["change"].abs().to_list() == sorted(
        inside["change"].abs().to_list(), reverse=True
    )
    rows = views.segment_rows(
        sample, "contacts_handled", top, period="2026-02", max_rows=7
    ).collect()
    assert rows.height == 7
    assert rows["arrival_ts"].is_sorted()
    assert rows["arrival_ts"].min() >= datetime(2026, 2, 1, tzinfo=LONDON)
    for col, value in top.items():
        assert set(rows[col]) == {value}
    assert rows["customer_id"].drop_nulls().str.starts_with("***").all()
    shown = views.segment_rows(
        sample, "contacts_handled", top, period="2026-02", max_rows=3, show_identifiers=True
    ).collect()
    assert not shown["customer_id"].drop_nulls().str.starts_with("***").any()


def test_segment_breakdown_counts_absent_as_zero_and_ratios_as_null():
    j, f = at(5, month=1), at(5)
    c = pl.DataFrame(
        {
            "arrival_ts": [j, j, f, f],
            "outcome": ["answered", "answered", "answered", "abandoned_queue"],
            "wait_s": [5.0, 5.0, 50.0, 10.0],
            "team": ["A"] * 4,
            "topic": ["x", "y", "x", "x"],
        }
    )
    n = views.segment_breakdown(
        {"contacts": c},
        "contacts_answered",
        {"team": "A"},
        baseline="2026-01",
        current="2026-02",
        by="topic",
    ).collect()
    assert n.rows() == [("y", 1.0, 0.0, -1.0, -1.0), ("x", 1.0, 1.0, 0.0, 0.0)]
    sl = views.segment_breakdown(
        {"contacts": c},
        "service_level",
        {"team": "A"},
        baseline="2026-01",
        current="2026-02",
        by="topic",
    ).collect()
    assert sl.rows() == [("x", 1.0, 0.0, -1.0, -1.0), ("y", 1.0, None, None, None)]


# ---- staffing ------------------------------------------------------------------------------


def test_what_if_items_round_trip_through_the_parser():
    from kpi.staffing import parse_what_if

    items = views.what_if_items(agents=-1.5, aht_pct=10, volume_pct=-5)
    assert items == ["agents=-1.5", "aht=+10%", "volume=-5%"]
    changes = parse_what_if(items).changes
    assert [(c.quantity, c.op, c.value) for c in changes] == [
        ("agents", "add", -1.5),
        ("aht", "scale", pytest.approx(1.1)),
        ("volume", "scale", pytest.approx(0.95)),
    ]


STAFF = pl.DataFrame(
    {
        "interval_start": [at(2, 9), at(2, 9), at(2, 9, 30), at(2, 9, 30), at(3, 9), at(3, 9)],
        "team": ["A", "B"] * 3,
        "offered": [10, 30, 0, 5, 20, 20],
        "answered": [10, 27, 0, 5, 18, 20],
        "required_agents": [2.5, 6.0, 0.0, 1.5, 4.0, 4.0],
        "staffed_agents": [3.0, 5.0, 1.0, 2.0, 4.0, 5.0],
        "expected_service_level": [0.9, 0.5, None, 0.9, 0.7, 0.9],
        "achieved_service_level": [1.0, 0.6, None, 0.8, 0.5, 0.8],
    }
)


def test_centre_staffing_sums_agents_and_weights_service_by_offered():
    c = views.centre_staffing(STAFF).collect()
    first = c.row(0, named=True)
    assert first["offered"] == 40
    assert first["required_agents"] == 8.5
    assert first["staffed_agents"] == 8.0
    assert first["staffing_gap"] == -0.5
    assert first["achieved_service_level"] == pytest.approx((10 * 1.0 + 30 * 0.6) / 40)
    assert first["expected_service_level"] == pytest.approx((10 * 0.9 + 30 * 0.5) / 40)
    # 09:30 on day 2: team A had no contacts (null SL); B alone counts
    assert c.row(1, named=True)["achieved_service_level"] == 0.8


def test_service_by_day_and_team_staffing():
    daily = views.service_by(STAFF).collect()
    achieved = daily.filter(pl.col("series") == "achieved")["service_level"].to_list()
    assert achieved == pytest.approx([(10 + 18 + 4) / 45, (10 + 16) / 40])
    teams = views.team_staffing(STAFF).collect().rows(named=True)
    a = teams[0]
    assert a["team"] == "A"
    assert a["offered"] == 30
    assert a["required_agents"] == pytest.approx((2.5 + 4.0) / 2)  # intervals with contacts
    assert a["understaffed"] == 0.0
    assert teams[1]["understaffed"] == pytest.approx(1 / 3)  # B short at 09:00 on day 2


def test_day_slice_and_shortfall_heatmap():
    c = views.centre_staffing(STAFF)
    busiest = views.day_slice(c).collect()
    assert busiest["interval_start"].dt.day().unique().to_list() == [2]  # 45 contacts vs 40
    assert views.day_slice(c, "2026-02-03").collect().height == 1
    assert views.day_slice(c, "2026-02-09").collect().is_empty()
    short = views.shortfall_heatmap_frame(c).collect()
    assert short.rows() == [(1, "09:00", 0.5), (1, "09:30", 0.0), (2, "09:00", 0.0)]
    with pytest.raises(KpiError, match="no staffing intervals on 2026-02-09"):
        views.staffing_day_chart(c, "2026-02-09")
    spec = views.staffing_day_chart(c, actual="staffed_agents").to_dict()
    assert spec["title"] == "Required against actual agents, Mon 2 Feb 2026"


def test_staffing_findings_sentences():
    c = views.centre_staffing(STAFF).collect()
    got = views.staffing_findings(c, threshold_s=30)
    assert got[0] == (
        "1 of 3 half-hours with contacts (33%) had fewer agents on queue than required; "
        "the largest shortfall was 0.5 agents on Mon 2 Feb 09:00."
    )
    # (40 × 0.70 + 5 × 0.80 + 40 × 0.65) / 85 and (40 × 0.60 + 5 × 0.90 + 40 × 0.80) / 85
    assert got[1] == (
        "Service level achieved 68.2% (answered within 30 s / offered); "
        "the staffing on queue should have given 71.2%."
    )
    unknown = c.with_columns(pl.lit(None, pl.Float64).alias("staffed_agents"))
    got = views.staffing_findings(unknown)
    assert not any("fewer agents" in g for g in got)
    assert any(g.startswith("Not in the data: agents on queue: needs agent time") for g in got)
    assert views.staffing_findings(c.with_columns(pl.lit(0).alias("offered"))) == [
        "No contacts were offered in the period."
    ]


def test_staffing_view_on_the_sample(sample):
    table = views.staffing_view(sample, period="2026-02", what_if=["agents=+1"]).collect()
    assert table["interval_start"].min() >= datetime(2026, 2, 1, tzinfo=LONDON)
    assert table["interval_start"].max() < datetime(2026, 3, 1, tzinfo=LONDON)
    teams_with_contacts = set(sample["contacts"].select("team").unique().collect()["team"])
    assert set(table["team"]) <= teams_with_contacts  # the ticket team is not on the phones
    assert (table["what_if_agents"] - table["staffed_agents"]).drop_nulls().round(
        9
    ).unique().to_list() == [1.0]
    centre = views.centre_staffing(table).collect()
    assert centre["staffed_agents"].sum() == pytest.approx(table["staffed_agents"].sum())
    assert centre["offered"].sum() == table["offered"].sum()


def test_staffing_view_leaves_out_teams_without_contacts():
    t = at(2, 9, 5)
    contacts = pl.DataFrame(
        {
            "team": ["A"],
            "queue": ["q"],
            "direction": ["inbound"],
            "queue_ts": [t],
            "wait_s": [5.0],
            "outcome": ["answered"],
            "talk_s": [300.0],
        }
    )
    agent_time = pl.DataFrame(
        {
            "team": ["A", "T"],
            "interval_start": [t.replace(minute=0)] * 2,
            "interval_s": [1800.0] * 2,
            "handle_s": [300.0, 1800.0],
            "acw_s": [0.0, 0.0],
            "available_s": [1500.0, 0.0],
            "scheduled_s": [1800.0] * 2,
        }
    )
    v = views.staffing_view({"contacts": contacts, "agent_time": agent_time}, period="2026-02")
    assert v.collect().select("team", "staffed_agents").rows() == [("A", 1.0)]


# ---- tickets -------------------------------------------------------------------------------


@pytest.fixture
def tickets() -> dict:
    return {
        "tickets": pl.DataFrame(
            {
                "ticket_id": ["t1", "t2", "t3", "t4"],
                "team": ["A", "A", "B", "B"],
                "created_ts": [at(30, month=1), at(2, 9), at(3, 9), at(3, 12)],
                "first_response_ts": [None, at(2, 10), at(3, 11), at(4, 9)],
                "solved_ts": [at(2, 10), at(2, 13), None, at(4, 12)],
            }
        )
    }


def test_ticket_flow_by_day(tickets):
    f = views.ticket_flow(tickets, every="1d", start="2026-02-02", end="2026-02-04").collect()
    assert f.select(pl.col("period").dt.day(), "opened", "handled", "backlog").rows() == [
        (2, 1, 2.0, 0.0),  # t1 (opened in January) and t2 solved
        (3, 2, 0.0, 2.0),
        (4, 0, 1.0, 1.0),  # t3 still open
    ]
    by = views.ticket_flow(tickets, every=None, by="team", start="2026-02-02", end="2026-02-04")
    assert by.collect().rows() == [("A", 1, 2.0, 0.0), ("B", 2, 1.0, 1.0)]


def test_ticket_times_median_and_p90(tickets):
    t = views.ticket_times(tickets, every=None, start="2026-02-02", end="2026-02-04").collect()
    # solved in range: 72 h, 4 h, 24 h; first responses of tickets created in range: 1, 2, 21 h
    assert t.row(0, named=True) == pytest.approx(
        {
            "resolution_median_h": 24.0,
            "resolution_p90_h": 24.0 + 0.8 * 48.0,
            "first_response_median_h": 2.0,
            "first_response_p90_h": 2.0 + 0.8 * 19.0,
        }
    )
    by_created = views.ticket_times(
        tickets,
        every=None,
        start="2026-02-02",
        end="2026-02-04",
        params={"avg_resolution_time.cohort": "created", "avg_resolution_time.aggregator": "mean"},
    ).collect()
    # created in range and solved: 4 h and 24 h (the aggregator variant is replaced)
    assert by_created["resolution_median_h"][0] == 14.0


def test_ticket_summary_and_findings(tickets):
    s = views.ticket_summary(tickets, period="2026-02", compare="2026-01", by="team").collect()
    assert s.select("team", "opened", "handled", "backlog", "handled_previous").rows() == [
        ("B", 2, 1.0, 1.0, 0.0),
        ("A", 1, 2.0, 0.0, 0.0),
    ]
    total = views.ticket_summary(tickets, period="2026-02", by=None).collect()
    assert total.height == 1
    assert total["opened"][0] == 3
    text = views.ticket_overview(tickets, period="2026-02", compare="2026-01")
    assert text[0] == "3 tickets opened and 3 handled in 2026-02 (1 and 0 in 2026-01)."
    assert text[1] == "The backlog stayed at 1 open ticket."
    assert text[-1].startswith("Median first response took 2.0 h")


def test_ticket_findings_without_a_comparison():
    got = views.ticket_findings(
        {"opened": 10, "handled": 8, "backlog": 2, "resolution_median_h": 1500.0},
        period="2026-02",
    )
    assert got == [
        "10 tickets opened and 8 handled in 2026-02.",
        "2 tickets were open at the end of the period.",
        "Median resolution time was 1,500.0 h.",
        "The data has no first-response times.",
    ]
    assert views.ticket_findings({}) == ["The data has no tickets."]


# ---- chart builders added for the notebooks ------------------------------------------------


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_status_chart_spec():
    df = pl.DataFrame(
        {
            "perspective": ["financial", "customer", "customer", "customer"],
            "status": ["amber", "red", "green", "amber"],
            "kpis": [1, 2, 3, 1],
        }
    )
    spec = charts.status_chart(df, title="On target").to_dict()
    enc = spec["encoding"]
    assert spec["mark"]["type"] == "bar"
    assert spec["title"] == "On target"
    assert enc["y"]["sort"] == ["financial", "customer"]  # frame order
    assert enc["color"]["scale"] == {
        "domain": ["green", "amber", "red"],
        "range": [
            charts.STATUS_COLOURS["good"],
            charts.STATUS_COLOURS["warning"],
            charts.STATUS_COLOURS["bad"],
        ],
    }
    assert enc["order"]["field"] == "status_order"
    assert [t["field"] for t in enc["tooltip"]] == ["perspective", "status", "kpis"]
    orders = {v["status"]: v["status_order"] for v in charts.chart_rows(spec)}
    assert orders == {"green": 0, "amber": 1, "red": 2}
    assert spec["config"]["range"]["category"] == list(charts.PALETTE)  # the kpi theme
    with pytest.raises(KpiError, match="status_chart: no column 'kpis'"):
        charts.status_chart(df.drop("kpis"))


def test_effects_chart_spec():
    df = pl.DataFrame(
        {
            "segment": ["team B", "team B", "team A"],
            "effect": ["mix", "rate", "change"],
            "value": [0.01, -0.3, 120.0],
        }
    )
    spec = charts.effects_chart(df, title="Effects").to_dict()
    bars, zero = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    assert zero["mark"]["type"] == "rule"
    assert bars["encoding"]["y"]["sort"] == ["team B", "team A"]
    assert bars["encoding"]["color"]["scale"]["domain"] == ["mix", "rate", "change"]
    assert bars["encoding"]["color"]["scale"]["range"] == list(charts.PALETTE[:3])
    assert "axis" not in bars["encoding"]["x"] or bars["encoding"]["x"]["axis"] == {}
    for layer in _layers(spec):
        assert layer["encoding"]["tooltip"], layer["mark"]
    pct = charts.effects_chart(df, percent=True).to_dict()
    assert pct["layer"][0]["encoding"]["x"]["axis"]["format"] == ".0%"
    assert pct["layer"][0]["encoding"]["tooltip"][2]["format"] == ".2%"


def test_ticket_times_the_data_cannot_give_are_null_not_zero():
    """Tickets without first-response stamps: resolution times are computed, first response
    is unknown (null), by team and for the whole centre."""
    c = datetime(2026, 2, 2, 9, tzinfo=LONDON)
    t = pl.DataFrame(
        {
            "ticket_id": ["a", "b", "c"],
            "team": ["A", "A", "B"],
            "created_ts": [c] * 3,
            "solved_ts": [c + timedelta(hours=h) for h in (2, 4, 10)],
        }
    )
    by_team = views.ticket_summary({"tickets": t}, period="2026-02", by="team").collect()
    assert by_team.sort("team")["resolution_median_h"].to_list() == [3.0, 10.0]
    first = ["first_response_median_h", "first_response_p90_h"]
    assert all(by_team[c].null_count() == by_team.height for c in first)
    whole = views.ticket_times({"tickets": t}, every=None).collect()
    assert all(whole[c].null_count() == 1 for c in first)


def test_agent_scorecard_of_a_ticket_log_alone():
    """Tickets and no contacts: agents are scored on ticket KPIs, with no contacts column."""
    from kpi.scorecard import agent_scorecard

    c = datetime(2026, 2, 2, 9, tzinfo=LONDON)
    t = pl.DataFrame(
        {
            "ticket_id": ["a", "b", "c"],
            "team": ["T", "T", "T"],
            "agent_id": ["x", "x", "y"],
            "created_ts": [c] * 3,
            "solved_ts": [c + timedelta(hours=h) for h in (2, 4, 10)],
        }
    )
    card = agent_scorecard({"tickets": t}, period="2026-02", min_contacts=1).collect()
    assert "contacts_handled" not in card.columns
    assert dict(zip(card["agent_id"], card["tickets_handled"], strict=True)) == {"x": 2, "y": 1}


# ---- the queue sweep over a period: only the contacts in queue then are read ---------------


def _waiting_across_midnight() -> pl.DataFrame:
    # one contact queues at 23:59:50 on 31 January and waits 10 minutes (into February);
    # two queue at 00:05 on 1 February and wait a minute; one queues on 10 January
    queued = [
        datetime(2026, 1, 31, 23, 59, 50, tzinfo=LONDON),
        at(1, 0, 5),
        at(1, 0, 5),
        datetime(2026, 1, 10, 9, tzinfo=LONDON),
    ]
    return pl.DataFrame(
        {
            "arrival_ts": queued,
            "queue_ts": queued,
            "wait_s": [600.0, 60.0, 60.0, 30.0],
            "outcome": ["answered"] * 4,
            "team": ["A", "A", "A", "A"],
        }
    )


def test_scorecard_queue_sweep_counts_who_waits_from_before_the_period():
    from kpi.scorecard import scorecard

    ds = {"contacts": _waiting_across_midnight()}
    card, defs = scorecard(
        ds, period="2026-02", metrics=["contacts_offered", "max_in_queue"], compare="2026-01"
    )
    rows = {r["id"]: (r["value"], r["previous"]) for r in card.collect().iter_rows(named=True)}
    # February: at 00:05 three wait (the one from January and the two new ones); January: one
    assert rows == {"contacts_offered": (2.0, 2.0), "max_in_queue": (3.0, 1.0)}
    assert list(defs) == ["contacts_offered", "max_in_queue"]
    # the same as one evaluation of the period, which reads every row
    whole = kpi.evaluate(ds, "max_in_queue", period=parse_period("2026-02"))
    assert whole.frame.collect()["max_in_queue"].to_list() == [3.0]
    # a period without rows: one row per KPI, null, as before
    card, _ = scorecard(ds, period="2026-04", metrics=["max_in_queue"], compare=None)
    assert card.collect().select("id", "value").rows() == [("max_in_queue", None)]
    # KPIs the data cannot support are left out, the sweep's or the others'
    card, _ = scorecard(ds, period="2026-02", metrics=["csat", "max_in_queue"], compare=None)
    assert card.collect().select("id", "value").rows() == [("max_in_queue", 3.0)]
    no_waits = {"contacts": _waiting_across_midnight().drop("wait_s")}
    card, _ = scorecard(no_waits, period="2026-02", metrics=["contacts_offered", "max_in_queue"])
    assert card.collect().select("id", "value", "previous").rows() == [
        ("contacts_offered", 2.0, 2.0)
    ]


def test_queue_sweep_of_a_month_is_the_chunked_one_on_the_sample(sample):
    # the sweep of a range reads the contacts waiting during it; chunked, the same frame
    for metric, every in [("max_in_queue", "1d"), ("max_in_queue", "30m"), ("aht", "1d")]:
        kw = {"every": every, "start": "2026-02", "end": "2026-02"}
        got = kpi.compute(sample, metric, chunk="1y", **kw)
        want = kpi.compute(sample, metric, **kw)
        assert_frame_equal(got.collect(), want.collect())
    # the heatmap of the sweep against the half-hours, averaged
    heat = views.heatmap_frame(sample, "max_in_queue", start="2026-02", end="2026-02")
    rows = kpi.compute(sample, "max_in_queue", every="30m", start="2026-02", end="2026-02")
    want = (
        rows.group_by(
            pl.col("period").dt.weekday().cast(pl.Int64).alias("weekday"),
            pl.col("period").dt.strftime("%H:%M").alias("interval"),
        )
        .agg(pl.col("max_in_queue").mean())
        .sort("weekday", "interval")
    )
    assert_frame_equal(heat.collect(), want.collect())
