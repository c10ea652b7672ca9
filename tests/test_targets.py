from __future__ import annotations

import polars as pl
import pytest

from kpi import KpiError
from kpi.metrics import METRICS, Target
from kpi.targets import TargetSet, load_targets, status_columns


@pytest.mark.parametrize(
    ("kpi_id", "value", "status"),
    [
        ("service_level", 0.85, "green"),  # target 0.8, red 0.7, higher is better
        ("service_level", 0.8, "green"),
        ("service_level", 0.75, "amber"),
        ("service_level", 0.69, "red"),
        ("abandon_rate", 0.04, "green"),  # target 0.05, red 0.08, lower is better
        ("abandon_rate", 0.06, "amber"),
        ("abandon_rate", 0.09, "red"),
        ("abandon_rate", None, None),
    ],
)
def test_status_direction_aware(kpi_id, value, status):
    assert METRICS[kpi_id].status(value) == status
    out = status_columns(
        pl.LazyFrame({kpi_id: [value]}, schema={kpi_id: pl.Float64}), [kpi_id]
    ).collect()
    assert out[f"{kpi_id}_status"][0] == status


def test_file_overrides_per_team(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text(
        "[service_level]\ntarget = 0.9\nred = 0.8\n[service_level.team.North]\ntarget = 0.7\n"
    )
    ts = load_targets(f)
    assert ts.default("service_level") == Target(0.9, 0.8)
    assert ts.overrides("service_level") == {("team", "North"): Target(0.7, 0.8)}
    lf = pl.LazyFrame({"team": ["North", "South"], "service_level": [0.75, 0.75]})
    out = status_columns(lf, ["service_level"], ts).collect()
    assert out["service_level_status"].to_list() == ["green", "red"]
    assert out["service_level_target"].to_list() == [0.7, 0.9]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[speed]\ntarget = 1\n", "unknown KPI 'speed'"),
        ("[aht]\ntarget = 'fast'\n", "target and red must be numbers"),
        ("[aht\n", "is not valid TOML"),
        ("[service_level]\ncolour = 3\n", "key 'colour' is not target, red or a dimension table"),
    ],
)
def test_bad_files(tmp_path, text, message):
    f = tmp_path / "t.toml"
    f.write_text(text)
    with pytest.raises(KpiError, match=message):
        load_targets(f)


def test_kpi_without_default_target_needs_one():
    with pytest.raises(KpiError, match="must be numbers"):
        TargetSet.from_mapping({"backlog": {"red": 10}})
