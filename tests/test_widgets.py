"""kpi.widgets: the explorers build their controls, re-call the pure functions on every change
and draw offline (no kernel or browser needed: outputs are set on the Output widget)."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

import kpi
from kpi import views, widgets
from kpi.charts import SPEC_MIME

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def sample(samples_dir):
    return kpi.load(samples_dir)


def title(chart) -> str:
    t = chart.to_dict()["title"]
    return t["text"] if isinstance(t, dict) else t


def html_outputs(ex: widgets.Explorer) -> list[str]:
    return [o["data"].get("text/html", "") for o in ex.output.outputs]


# ---- offline chart output ------------------------------------------------------------------


def test_chart_html_embeds_the_spec_safely():
    spec = {"title": {"text": "</script><img src=x onerror=alert(1)>"}, "mark": "bar"}
    out = widgets.chart_html(spec, element_id="kpi-c")
    assert out.count("<script>") == 1
    assert out.count("</script>") == 1  # the title cannot close the script element
    assert 'aria-label="&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"' in out
    payload = re.search(r"var spec = (.*?); var id", out)[1]
    assert json.loads(payload) == spec  # \\u003c escapes decode to the same spec
    assert 'window.vegaEmbed(el, spec, {actions: false, renderer: "svg"})' in out
    assert "cdn" not in out.lower()
    assert "http" not in out.lower()
    ids = {re.search(r'id="([^"]+)"', widgets.chart_html(spec))[1] for _ in range(3)}
    assert len(ids) == 3  # one element per drawing


def test_explorer_loads_vega_once_offline_and_renders_items():
    import ipywidgets as w

    def render(v):
        if v["n"] < 0:
            raise kpi.KpiError("n must be 0 or more")
        frame = pl.DataFrame({"team": ["A", "B"], "aht": [300.0 + v["n"], 400.0]})
        return [
            kpi.charts.bar_chart(frame, category="team", value="aht", title=f"n={v['n']}"),
            frame,
            "a note",
        ]

    ex = widgets.Explorer("Test", {"n": w.IntSlider(value=1, min=-5, max=5)}, render, note="help")
    loader = ex.loader.outputs[0]["data"]["text/html"]
    assert "window.vegaEmbed" in loader
    assert len(loader) > 100_000
    assert "cdn.jsdelivr" not in loader
    first = ex.output.outputs
    assert [sorted(o["data"]) for o in first] == [
        [SPEC_MIME, "text/html", "text/plain"],
        ["text/html", "text/plain"],
        ["text/html", "text/plain"],
    ]
    assert first[0]["data"][SPEC_MIME]["title"] == "n=1"
    assert "kpi-table" in first[1]["data"]["text/html"]  # frames through kpi.report.table
    ex.controls["n"].value = 3
    assert ex.renders == 2
    assert title(ex.charts[0]) == "n=3"
    ex.controls["n"].value = -1  # a user error is shown, not raised
    assert ex.error == "n must be 0 or more"
    assert ex.output.outputs[0]["data"]["text/plain"] == "n must be 0 or more"
    assert ex.charts == []
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# ---- trend explorer ------------------------------------------------------------------------


def test_trend_explorer_redraws_on_every_control(sample):
    ex = widgets.trend_explorer(
        sample, metric="service_level", every="1d", start="2026-01", end="2026-02"
    )
    c = ex.controls
    assert c["start"].value == date(2026, 1, 1)
    assert c["end"].value == date(2026, 2, 28)
    assert title(ex.charts[0]) == "Service level by day"
    base = ex.charts[0].to_dict()
    # the KPI control
    c["metric"].value = "aht"
    assert title(ex.charts[0]) == "Average handle time by day"
    assert ex.renders == 2  # one redraw even though dependent controls were updated
    # the grain
    c["every"].value = "1w"
    assert title(ex.charts[0]) == "Average handle time by week"
    # the dimension: one line per team
    c["by"].value = "team"
    spec = ex.charts[0].to_dict()
    line = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
    assert line["encoding"]["color"]["field"] == "team"
    # the definition variant gives other values, through the same pure function
    c["metric"].value = "service_level"
    assert c["by"].value == "team"  # kept where the new KPI can be cut that way
    assert [label for label, _ in c["variant"].options][1] == "threshold_s=10"
    default = _values(ex.charts[0], "service_level")
    c["variant"].value = "threshold_s=120"
    longer = _values(ex.charts[0], "service_level")
    assert sum(longer) > sum(default)  # answering within 120 s is easier than within 20 s
    expected = views.trend_frame(
        sample,
        "service_level",
        every="1w",
        by="team",
        start="2026-01-01",
        end="2026-02-28",
        params={"service_level.threshold_s": 120},
    ).collect()
    assert sorted(longer) == pytest.approx(
        sorted(expected["service_level"].drop_nulls().to_list())
    )
    assert base != ex.charts[0].to_dict()


def test_trend_explorer_by_agent_draws_the_busiest_and_the_others(sample):
    """84 agents: the chart draws 8 lines, the last the other agents together, and its values
    are those of trend_frame(max_lines=8)."""
    ex = widgets.trend_explorer(sample, metric="aht", every="1w", by="agent_id")
    spec = ex.charts[0].to_dict()
    rows = layer_values(spec, "line")
    agents = list(dict.fromkeys(r["agent_id"] for r in rows))
    assert len(agents) == views.MAX_LINES
    assert agents[-1].endswith(" others")
    f = views.trend_frame(sample, "aht", every="1w", by="agent_id", max_lines=8).collect()
    assert [r["aht"] for r in rows] == f["aht"].to_list()
    assert "the 7 busiest of" in spec["title"]["subtitle"]


def _values(chart, field: str) -> list[float]:
    """The values of ``field`` in the data of the chart's line layer."""
    return [r[field] for r in layer_values(chart.to_dict(), "line") if r.get(field) is not None]


def layer_values(spec: dict, mark: str) -> list[dict]:
    layer = next(x for x in spec.get("layer", [spec]) if x["mark"]["type"] == mark)
    data = layer.get("data") or spec["data"]
    return data["values"] if "values" in data else spec["datasets"][data["name"]]


def test_trend_explorer_dimension_options_follow_the_kpi(sample):
    ex = widgets.trend_explorer(sample, metric="aht", start="2026-02", end="2026-02")
    dims = [v for _, v in ex.controls["by"].options]
    assert "queue" in dims
    assert "priority" not in dims
    ex.controls["by"].value = "queue"
    ex.controls["metric"].value = "backlog"  # tickets have priority but no queue
    dims = [v for _, v in ex.controls["by"].options]
    assert "priority" in dims
    assert "queue" not in dims
    assert ex.controls["by"].value == ""  # reset: the ticket log has no queue
    assert title(ex.charts[0]) == "Backlog by day"


def test_trend_explorer_guards_the_range(sample):
    ex = widgets.trend_explorer(sample, metric="contacts_offered", start="2026-01", end="2026-03")
    ex.controls["every"].value = "30m"
    assert "at most 31 days" in ex.error
    ex.controls["start"].value = date(2026, 3, 20)
    assert ex.error is None
    assert title(ex.charts[0]) == "Contacts offered by half-hour"
    ex.controls["end"].value = date(2026, 3, 1)
    assert ex.error == "the last day is before the first day"
    with pytest.raises(kpi.KpiError, match="supports no KPI"):
        widgets.trend_explorer({"events": pl.DataFrame({"label": ["x"]})})


# ---- other explorers -----------------------------------------------------------------------


def test_agent_explorer_ranks_within_the_chosen_team(sample):
    ex = widgets.agent_explorer(sample, period="2026-02", rank_by="aht", min_contacts=50)
    teams = list(ex.controls["team"].options)
    assert "North" in teams
    ex.controls["team"].value = "North"
    card = ex.items[0]
    assert set(card["team"]) == {"North"}
    ranked = card.filter(pl.col("rank").is_not_null())
    assert (ranked["contacts_handled"] >= 50).all()
    assert ranked.sort("rank")["aht"].is_sorted()  # lower AHT ranks first
    ex.controls["min_contacts"].value = 200
    assert (ex.items[0].filter(pl.col("rank").is_not_null())["contacts_handled"] >= 200).all()
    assert title(ex.charts[0]) == "Average handle time by agent, team North, 2026-02"


def test_segment_explorer_switches_segment_and_breakdown(sample):
    from kpi.explain import explain

    exp = explain(sample, "contacts_handled", baseline="2026-01", current="2026-02")
    ex = widgets.segment_explorer(sample, exp, show_rows=True, max_rows=4)
    top = views.choose_segment(exp)
    assert ex.controls["segment"].value == views.segment_name(top)
    by = ex.controls["by"].value
    assert by not in top
    frame, _chart, rows = ex.items
    expected = views.segment_breakdown(
        sample, "contacts_handled", top, baseline="2026-01", current="2026-02", by=by
    ).collect()
    assert frame.equals(expected)
    assert rows.height == 4
    assert rows["customer_id"].drop_nulls().str.starts_with("***").all()
    options = list(ex.controls["by"].options)
    other = next(o for o in options if o != by)
    ex.controls["by"].value = other
    assert ex.items[0].columns[0] == other


def test_staffing_explorer_sliders_project_the_what_if(sample):
    table = views.staffing_view(sample, period="2026-02").collect()
    ex = widgets.staffing_explorer(table)
    c = ex.controls
    assert ex.items[-1].startswith("What-if (no change)")
    c["agents"].value = 3.0
    sentence = ex.items[-1]
    assert sentence.startswith("What-if (agents=+3)")
    from kpi.staffing import project

    centre = views.centre_staffing(project(table, ["agents=+3"])).collect()
    assert sentence == views.staffing_findings(centre, what_if=["agents=+3"])[-1]
    more = float(re.search(r"service level of ([\d.]+)%", sentence)[1])
    c["volume_pct"].value = 20
    busier = float(re.search(r"service level of ([\d.]+)%", ex.items[-1])[1])
    assert busier < more  # more calls, same agents: worse service
    assert ex.items[-1].startswith("What-if (agents=+3, volume=+20%)")
    assert title(ex.charts[1]).startswith("Required against what-if agents on the busiest day")
    with pytest.raises(kpi.KpiError, match="no intervals"):
        widgets.staffing_explorer(table.clear())


def test_ticket_explorer(sample):
    ex = widgets.ticket_explorer(sample, start="2026-01", end="2026-02")
    assert title(ex.charts[0]) == "Tickets opened by day"
    ex.controls["series"].value = "backlog"
    ex.controls["every"].value = "1w"
    assert title(ex.charts[0]) == "Backlog (open tickets at the end) by week"
    ex.controls["by"].value = "topic"
    spec = ex.charts[0].to_dict()
    assert spec["title"]["text"] == "Backlog (open tickets at the end) by week and topic"
    assert 1 < len({v["topic"] for v in layer_values(spec, "line")}) <= 8
    with pytest.raises(kpi.KpiError, match="no tickets table"):
        widgets.ticket_explorer({"contacts": pl.DataFrame({"team": ["A"]})})


def test_widgets_module_imports_ipywidgets_lazily():
    import subprocess
    import sys

    code = "import sys, kpi.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_trend_explorer_on_a_tiny_frame():
    t = datetime(2026, 2, 2, 9, tzinfo=LONDON)
    c = pl.DataFrame(
        {
            "arrival_ts": [t + timedelta(days=d) for d in range(3)],
            "outcome": ["answered"] * 3,
            "wait_s": [5.0, 30.0, 10.0],
            "team": ["A", "B", "A"],
        }
    )
    ex = widgets.trend_explorer(
        {"contacts": c}, metric="service_level", start="2026-02", end="2026-02"
    )
    assert ex.error is None
    assert "No unusual values in this range." in ex.items
    assert any("vegaEmbed" in h for h in html_outputs(ex))


def test_staffing_explorer_says_why_it_cannot_be_built(sample):
    """Without agents on queue there is no staffing to change: the explorer says so."""
    table = views.staffing_view(sample, period="2026-02").collect()
    unknown = table.with_columns(pl.lit(None, pl.Float64).alias("staffed_agents"))
    with pytest.raises(kpi.KpiError, match="agents on queue: needs agent time"):
        widgets.staffing_explorer(unknown)


def test_trend_explorer_offers_agents_and_only_computable_kpis(sample):
    no_surveys = kpi.Dataset(
        {k: v for k, v in sample.tables.items() if k != "surveys"}, tz=sample.tz
    )
    ex = widgets.trend_explorer(no_surveys, metric="csat", start="2026-02", end="2026-02")
    assert "csat" not in [v for _, v in ex.controls["metric"].options]
    assert "Not offered: Customer satisfaction: unavailable: no surveys table" in html.unescape(
        "".join(html_outputs(ex)) + ex.widget.children[0].value
    )
    ex.controls["metric"].value = "aht"
    assert "agent_id" in [v for _, v in ex.controls["by"].options]


# ---- forecast explorer ---------------------------------------------------------------------


def _forecast_rows(chart) -> list[dict]:
    """The forecast rows of a forecast chart (the band's layer holds both series)."""
    return [r for r in layer_values(chart.to_dict(), "area") if r["series"] == "forecast"]


def test_forecast_explorer_redraws_horizon_method_level_and_group(sample):
    import kpi.forecast as F

    ex = widgets.forecast_explorer(sample, every="1h", by=["queue"], until="2026-03-16")
    c = ex.controls
    assert ex.values() == {
        "horizon": 7,
        "method": "auto",
        "level": 80,
        "group": "queue North Voice",
    }
    assert list(c["method"].options) == ["auto", *F.METHODS]
    first = ex.charts[0]
    spec = first.to_dict()
    assert (
        spec["title"]["text"]
        == "Contacts offered, queue North Voice: last 14 days and 7 days ahead"
    )
    # what is drawn is what kpi.forecast.run gives for the group, and the output carries it
    direct = F.run(sample, every="1h", by=["queue"], until="2026-03-16", level=80)
    mine = direct.table.filter(pl.col("queue") == "North Voice")
    chosen = mine["method"][0]
    assert spec["title"]["subtitle"] == (
        f"method {chosen} (auto: lowest backtest WAPE); 80% prediction interval"
    )
    rows = _forecast_rows(first)
    assert [r["value"] for r in rows] == pytest.approx(mine["forecast"].round(2).to_list())
    assert ex.output.outputs[0]["data"][SPEC_MIME] == spec  # unvalidated to_dict: the same spec
    assert ex.items[1].startswith("Queue North Voice, next 7 days: ")
    assert all(i.startswith(("Queue North Voice", "queue=North Voice")) for i in ex.items[1:])
    last = max(r["t"] for r in rows)
    # the horizon: the forecast ends a week later
    c["horizon"].value = 14
    assert "14 days ahead" in title(ex.charts[0])
    later = max(r["t"] for r in _forecast_rows(ex.charts[0]))
    assert (datetime.fromisoformat(later) - datetime.fromisoformat(last)) == timedelta(days=7)
    assert ex.items[1].startswith("Queue North Voice, next 14 days: ")
    # the method: in the subtitle, in the findings and in the forecast itself
    c["method"].value = "same_slot_last_week"
    sub = ex.charts[0].to_dict()["title"]["subtitle"]
    assert sub == "method same_slot_last_week; 80% prediction interval"
    assert "method same_slot_last_week" in ex.items[1]
    same = [r["value"] for r in _forecast_rows(ex.charts[0])]
    c["method"].value = "mean_of_4_weeks"
    assert [r["value"] for r in _forecast_rows(ex.charts[0])] != same

    # the level: a wider band, named in the tooltips
    def width(chart) -> float:
        return sum(r["upper"] - r["lower"] for r in _forecast_rows(chart))

    narrow = width(ex.charts[0])
    c["level"].value = 95
    assert width(ex.charts[0]) > narrow
    assert "95% interval: from" in json.dumps(ex.charts[0].to_dict())
    assert "(95% interval " in ex.items[1]
    assert ex.error is None
    # the group: another queue, no new run
    runs = len(ex.cache)
    c["group"].value = "queue North Chat"
    assert title(ex.charts[0]).startswith("Contacts offered, queue North Chat: ")
    assert ex.items[1].startswith("Queue North Chat, next 14 days: ")
    assert len(ex.cache) == runs
    # back to a setting seen before: no new run, the same chart
    c["group"].value = "queue North Voice"
    c["level"].value = 80
    c["method"].value = "auto"
    c["horizon"].value = 7
    assert len(ex.cache) == runs
    assert ex.charts[0] is first
    assert ex.renders == 10


def test_forecast_explorer_says_why_it_cannot_be_built(sample):
    with pytest.raises(kpi.KpiError, match="too little history for all: 4 day"):
        widgets.forecast_explorer(sample, until="2026-01-05")
    empty = {"contacts": sample["contacts"].collect().clear()}
    outcome = views.attempt(widgets.forecast_explorer, empty)
    assert not outcome.ok
    assert "\n" not in outcome.error
    with pytest.raises(kpi.KpiError, match="unknown method 'prophet'"):
        widgets.forecast_explorer(sample, method="prophet")
