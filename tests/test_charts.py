"""kpi.charts: builders checked on their Vega-Lite specs (``chart.to_dict()``), never pixels."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from kpi import _vega, charts
from kpi.errors import KpiError

LONDON = ZoneInfo("Europe/London")


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def _mark(layer: dict) -> str:
    mark = layer["mark"]
    return mark["type"] if isinstance(mark, dict) else mark


def _values(spec: dict, layer: dict | None = None) -> list[dict]:
    """Inline data of a layer, or the chart's shared data."""
    data = (layer or {}).get("data") or spec.get("data")
    if "values" in data:
        return data["values"]
    return spec["datasets"][data["name"]]


def _assert_tooltips_everywhere(spec: dict) -> None:
    for layer in _layers(spec):
        assert layer["encoding"].get("tooltip"), f"no tooltip on a {_mark(layer)} layer"


@pytest.fixture
def monthly(frame):
    return frame(
        {
            "month": [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)],
            "service_level": [0.82, 0.64, 0.79],
            "contacts_handled": [12410.0, 9330.0, 9800.0],
            "anomaly": [False, True, False],
        }
    )


# ---- theme and renderer -------------------------------------------------------------------


def test_theme_is_registered_enabled_and_colour_blind_safe():
    import altair as alt

    charts.enable()
    charts.enable()  # idempotent
    assert alt.theme.active == "kpi"
    assert "kpi" in alt.theme.names()
    config = alt.theme.get()()["config"]
    assert config["range"]["category"] == list(charts.PALETTE)
    # Okabe-Ito: the eight colours of Okabe & Ito (2008)
    assert charts.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert config["range"]["heatmap"] == {"scheme": "viridis"}


def test_chart_specs_carry_the_theme(monthly):
    spec = charts.trend_chart(monthly, x="month", y="service_level").to_dict()
    assert spec["config"]["range"]["category"] == list(charts.PALETTE)
    assert spec["config"]["mark"]["color"] == charts.PALETTE[0]


def test_renderer_emits_the_spec_and_html_only_outside_reports(monkeypatch):
    spec = {"title": "SL", "mark": "point"}
    monkeypatch.setenv("KPI_REPORT_RENDER", "1")
    bundle = _vega.renderer(spec)
    assert set(bundle) == {charts.SPEC_MIME, "text/plain"}
    assert bundle[charts.SPEC_MIME] is spec
    assert bundle["text/plain"] == "<chart: SL>"
    monkeypatch.delenv("KPI_REPORT_RENDER")
    bundle = _vega.renderer(spec)
    assert "text/html" in bundle  # JupyterLab shows this; reports use the spec


def test_import_kpi_charts_does_not_import_altair():
    code = "import sys, kpi.charts; print('altair' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- trend ------------------------------------------------------------------------------


def test_trend_line_points_percent_axis_and_tooltips(monthly):
    spec = charts.trend_chart(monthly, x="month", y="service_level", title="SL").to_dict()
    assert [_mark(layer) for layer in spec["layer"]] == ["line", "point"]
    line = spec["layer"][0]["encoding"]
    assert line["x"] == {
        "axis": {"format": "%b %Y", "tickCount": {"interval": "month", "step": 1}},
        "field": "month",
        "title": None,
        "type": "temporal",
    }
    assert line["y"]["field"] == "service_level"
    assert line["y"]["axis"]["format"] == ".0%"  # a ratio KPI of the catalogue
    assert line["y"]["title"] == "Service level"
    assert [t["field"] for t in line["tooltip"]] == ["month", "service_level"]
    assert line["tooltip"][1]["format"] == ".1%"
    assert spec["title"] == "SL"
    _assert_tooltips_everywhere(spec)


def test_trend_counts_are_not_percentages(monthly):
    spec = charts.trend_chart(monthly, x="month", y="contacts_handled").to_dict()
    assert "format" not in spec["layer"][0]["encoding"]["y"]["axis"]
    spec = charts.trend_chart(monthly, x="month", y="contacts_handled", percent=True).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["axis"]["format"] == ".0%"


def test_trend_target_band_and_anomalies(monthly):
    spec = charts.trend_chart(
        monthly, x="month", y="service_level", target=0.8, band=(0.7, 0.8), anomaly="anomaly"
    ).to_dict()
    marks = [_mark(layer) for layer in spec["layer"]]
    assert marks == ["rect", "rule", "line", "point", "point"]
    band, target = spec["layer"][0], spec["layer"][1]
    assert _values(spec, band) == [{"low": 0.7, "high": 0.8}]
    assert band["encoding"]["y"]["field"] == "low"
    assert band["encoding"]["y2"]["field"] == "high"
    assert _values(spec, target) == [{"target": 0.8}]
    assert target["mark"]["strokeDash"] == [6, 4]
    anomalies = spec["layer"][4]
    assert anomalies["transform"] == [{"filter": 'datum["anomaly"] == true'}]
    assert anomalies["mark"]["color"] == charts.STATUS_COLOURS["bad"]
    _assert_tooltips_everywhere(spec)


def test_trend_segments_get_a_colour_per_segment(frame):
    df = frame(
        {
            "day": [date(2026, 2, 1), date(2026, 2, 1), date(2026, 2, 2), date(2026, 2, 2)],
            "team": ["A", "B", "A", "B"],
            "aht": [300.0, 320.0, 310.0, 330.0],
        }
    )
    spec = charts.trend_chart(df, x="day", y="aht", color="team").to_dict()
    enc = spec["layer"][0]["encoding"]
    assert enc["color"]["field"] == "team"
    assert enc["tooltip"][0]["field"] == "team"
    assert enc["x"]["axis"] == {"format": "%d %b"}  # daily bins


def test_trend_levels_are_dashed_steps_between_change_points():
    weeks = [
        datetime(2026, 1, 5, tzinfo=LONDON) + i * (datetime(2026, 1, 12) - datetime(2026, 1, 5))
        for i in range(8)
    ]
    df = pl.DataFrame(
        {"period": weeks, "team": ["A"] * 8, "aht": [300.0, 302, 298, 300, 360, 362, 358, 360]}
    )
    levels = pl.DataFrame(
        {
            "team": ["A", "A"],
            "first_period": [weeks[0], weeks[4]],
            "last_period": [weeks[3], weeks[7]],
            "mean": [300.0, 360.0],
        }
    )
    spec = charts.trend_chart(df, x="period", y="aht", color="team", levels=levels).to_dict()
    steps = [layer for layer in _layers(spec) if "x2" in layer.get("encoding", {})]
    assert len(steps) == 1
    assert _mark(steps[0]) == "rule"
    assert steps[0]["mark"]["strokeDash"] == [8, 4]
    assert [v["mean"] for v in _values(spec, steps[0])] == [300.0, 360.0]
    assert steps[0]["encoding"]["color"]["field"] == "team"
    _assert_tooltips_everywhere(spec)
    with pytest.raises(KpiError, match="mean"):
        charts.trend_chart(df, x="period", y="aht", levels=levels.drop("mean"))


def test_trend_events_inside_the_range_become_rules_spans_and_labels(monthly):
    june = datetime(2026, 6, 1, tzinfo=LONDON)
    events = pl.DataFrame(
        {
            "start_ts": [
                datetime(2025, 12, 1, tzinfo=LONDON),  # before the range: left out
                datetime(2026, 1, 30, 17, tzinfo=LONDON),
                datetime(2026, 2, 1, tzinfo=LONDON),
                datetime(2026, 2, 1, tzinfo=LONDON),  # same event, another team: merged
                datetime(2026, 3, 20, tzinfo=LONDON),  # in the last (March) bin: kept
                datetime(2026, 4, 2, tzinfo=LONDON),  # after the last bin: left out
            ],
            "end_ts": [None, None, june, june, None, None],
            "label": ["old", "3 agents leave", "price letters", "price letters", "late", "x"],
            "team": [None, "North", "North", "Tickets", None, None],
        }
    )
    spec = charts.trend_chart(monthly, x="month", y="service_level", events=events).to_dict()
    marks = [_mark(layer) for layer in spec["layer"]]
    assert marks == ["rect", "rule", "line", "point", "text", "text", "text", "text"]
    rules = _values(spec, spec["layer"][1])
    assert [e["label"] for e in rules] == ["3 agents leave", "price letters", "late"]
    assert [e["team"] for e in rules] == ["North", "North, Tickets", ""]
    # wall-clock times without an offset; the span is clipped to the end of the March bin
    assert rules[1]["start_ts"] == "2026-02-01T00:00:00"
    assert rules[1]["end_ts"] == "2026-04-01T00:00:00"
    assert [e["lane"] for e in rules] == [0, 1, 2]
    labels = spec["layer"][4]
    assert labels["encoding"]["text"]["field"] == "label"
    assert labels["transform"] == [{"filter": "datum.lane == 0"}]
    assert [spec["layer"][i]["mark"]["dy"] for i in range(4, 8)] == [2, 16, 30, 44]
    _assert_tooltips_everywhere(spec)


def test_trend_times_are_site_wall_clock_across_dst():
    # 29 March 2026: clocks go forward in London; 00:30 GMT and 03:00 BST keep their wall clock
    stamps = [datetime(2026, 3, 29, 0, 30), datetime(2026, 3, 29, 3, 0)]
    df = pl.DataFrame({"interval_start": stamps, "offered": [3, 7]}).with_columns(
        pl.col("interval_start").dt.replace_time_zone("Europe/London")
    )
    spec = charts.trend_chart(df, x="interval_start", y="offered").to_dict()
    assert [r["interval_start"] for r in _values(spec)] == [
        "2026-03-29T00:30:00",
        "2026-03-29T03:00:00",
    ]


def test_trend_only_ships_the_columns_it_draws(monthly):
    spec = charts.trend_chart(monthly, x="month", y="service_level").to_dict()
    assert set(_values(spec)[0]) == {"month", "service_level"}


def test_missing_column_is_a_clear_error(monthly):
    with pytest.raises(KpiError, match="trend_chart: no column 'sl'; the frame has: month"):
        charts.trend_chart(monthly, x="month", y="sl")


# ---- bars -------------------------------------------------------------------------------


def test_bar_chart_sorted_with_previous_ticks_and_target(frame):
    df = frame({"team": ["A", "B", "C"], "sl": [0.7, 0.9, None], "sl_prev": [0.8, 0.85, 0.5]})
    spec = charts.bar_chart(
        df, category="team", value="sl", previous="sl_prev", target=0.8, percent=True
    ).to_dict()
    assert [_mark(layer) for layer in spec["layer"]] == ["bar", "tick", "rule"]
    bars, ticks = spec["layer"][0], spec["layer"][1]
    assert bars["encoding"]["y"]["sort"] == ["B", "A", "C"]  # descending, nulls last
    assert ticks["encoding"]["y"]["sort"] == ["B", "A", "C"]  # same order: no sort conflict
    assert bars["encoding"]["x"]["axis"]["format"] == ".0%"
    assert ticks["encoding"]["x"]["field"] == "sl_prev"
    assert spec["title"]["subtitle"] == "bars: this period; ticks: comparison period"
    assert [t["title"] for t in bars["encoding"]["tooltip"]] == ["Team", "Sl", "comparison period"]
    _assert_tooltips_everywhere(spec)


def test_bar_chart_sort_options(frame):
    df = frame({"team": ["A", "B"], "n": [2, 1]})
    assert charts.bar_chart(df, category="team", value="n", sort="ascending").to_dict()["layer"][
        0
    ]["encoding"]["y"]["sort"] == ["B", "A"]
    assert charts.bar_chart(df, category="team", value="n", sort="none").to_dict()["layer"][0][
        "encoding"
    ]["y"]["sort"] == ["A", "B"]
    with pytest.raises(KpiError, match="bad sort 'up'; valid: descending, ascending, none"):
        charts.bar_chart(df, category="team", value="n", sort="up")


# ---- waterfall --------------------------------------------------------------------------


def test_waterfall_running_totals_colours_and_labels(frame):
    df = frame(
        {"driver": ["attrition", "new topic", "other"], "contribution": [-900.0, -400.0, 60.0]}
    )
    spec = charts.waterfall_chart(
        df, start=("January", 10983.0), end=("February", 9743.0)
    ).to_dict()
    rows = [(r["step"], r["before"], r["after"], r["kind"], r["text"]) for r in _values(spec)]
    # hand-computed: 10983 - 900 = 10083; 10083 - 400 = 9683; 9683 + 60 = 9743
    assert rows == [
        ("January", 0.0, 10983.0, "total", "10,983"),
        ("attrition", 10983.0, 10083.0, "decrease", "−900"),
        ("new topic", 10083.0, 9683.0, "decrease", "−400"),
        ("other", 9683.0, 9743.0, "increase", "+60"),
        ("February", 0.0, 9743.0, "total", "9,743"),
    ]
    bars = spec["layer"][0]["encoding"]
    assert bars["x"]["sort"] == ["January", "attrition", "new topic", "other", "February"]
    assert bars["color"]["scale"] == {
        "domain": ["increase", "decrease", "total"],
        "range": ["#0072B2", "#D55E00", "#7B8794"],
    }
    assert spec["layer"][1]["encoding"]["text"]["field"] == "text"
    _assert_tooltips_everywhere(spec)


def test_waterfall_without_totals_starts_at_zero_and_formats_points(frame):
    df = frame({"driver": ["mix", "rate"], "contribution": [0.02, -0.05]})
    spec = charts.waterfall_chart(df, percent=True).to_dict()
    rows = [(r["before"], r["after"], r["text"]) for r in _values(spec)]
    # changes of a ratio in percentage points, as findings and tables print them
    assert rows == [(0.0, 0.02, "+2.0 pp"), (0.02, pytest.approx(-0.03), "−5.0 pp")]


# ---- heatmap ----------------------------------------------------------------------------


def test_heatmap_weekday_numbers_and_times(frame):
    df = frame(
        {
            "weekday": [1, 1, 7],
            "interval": [time(8, 30), time(8, 0), time(8, 0)],
            "service_level": [0.8, 0.9, 0.5],
        }
    )
    spec = charts.heatmap_chart(df, value="service_level").to_dict()
    assert _mark(spec) == "rect"
    enc = spec["encoding"]
    assert enc["y"]["sort"] == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    assert enc["x"]["sort"] == ["08:00", "08:30"]
    assert enc["color"]["scale"] == {"scheme": "viridis"}
    assert enc["color"]["legend"]["format"] == ".0%"
    values = {(r["weekday"], r["interval"]): r["service_level"] for r in _values(spec)}
    assert values == {("Monday", "08:30"): 0.8, ("Monday", "08:00"): 0.9, ("Sunday", "08:00"): 0.5}
    _assert_tooltips_everywhere(spec)


# ---- staffing ---------------------------------------------------------------------------


def test_staffing_required_against_actual(frame):
    df = frame(
        {
            "interval_start": [datetime(2026, 2, 2, 8), datetime(2026, 2, 2, 8, 30)],
            "required": [10.4, 12.0],
            "actual": [11.0, 9.0],
        }
    )
    spec = charts.staffing_chart(df, title="Monday").to_dict()
    assert [_mark(layer) for layer in spec["layer"]] == ["area", "line", "point"]
    area, line, short = spec["layer"]
    assert area["encoding"]["y"]["field"] == "actual"
    assert line["encoding"]["y"]["field"] == "required"
    assert line["mark"]["interpolate"] == "step-after"
    assert short["transform"] == [{"filter": "datum.gap < 0"}]
    assert [r["gap"] for r in _values(spec)] == [0.6, -3.0]  # actual - required
    assert [t["title"] for t in area["encoding"]["tooltip"]] == [
        "interval",
        "required agents",
        "actual agents",
        "gap (actual − required)",
    ]
    _assert_tooltips_everywhere(spec)


def test_empty_frames_give_empty_charts(frame):
    df = frame({"team": [], "n": []}, schema={"team": pl.String, "n": pl.Int64})
    spec = charts.bar_chart(df, category="team", value="n").to_dict()
    assert _values(spec) == []


def test_notebook_display_draws_offline(monkeypatch):
    """In JupyterLab a chart carries the Vega bundle itself: no CDN, drawn with vegaEmbed."""
    import polars as pl

    from kpi import _vega, charts

    monkeypatch.delenv("KPI_REPORT_RENDER", raising=False)
    chart = charts.trend_chart(pl.DataFrame({"x": [1, 2], "aht": [300.0, 320.0]}), x="x", y="aht")
    charts.enable()
    html = _vega.renderer(chart.to_dict())["text/html"]
    assert "cdn." not in html
    assert "jsdelivr" not in html
    assert "window.vegaEmbed" in html
    assert len(html) > 100_000  # the embedded bundle
