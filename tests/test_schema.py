from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from kpi import Dataset, KpiError, load, save
from kpi.schema import TABLES, SchemaError, conform, data_model_markdown, empty_frame, validate

ROOT = Path(__file__).resolve().parents[1]


def test_docs_in_step_with_schema():
    doc = (ROOT / "docs" / "data-model.md").read_text()
    assert doc.strip() == data_model_markdown().strip(), (
        "run: python -m kpi.schema > docs/data-model.md"
    )


@pytest.mark.parametrize("name", list(TABLES))
def test_empty_frames_validate(name):
    validate(name, empty_frame(name, "Europe/London"))


def test_naive_timestamps_rejected():
    df = pl.DataFrame({"start_ts": [datetime(2026, 1, 1)], "label": ["x"]})
    with pytest.raises(SchemaError, match="time-zone-aware"):
        validate("events", df)


def test_wrong_dtype_named():
    df = empty_frame("agent_surveys").with_columns(pl.col("score").cast(pl.String))
    with pytest.raises(SchemaError, match="'score' must be Int64"):
        validate("agent_surveys", df)


def test_conform_converts_zone_and_orders():
    lf = pl.LazyFrame({"label": ["a"], "start_ts": [datetime(2026, 1, 1, 12, tzinfo=UTC)]})
    out = conform("events", lf, "America/New_York").collect()
    assert out.columns == TABLES["events"].names
    assert out["start_ts"].dtype == pl.Datetime("us", "America/New_York")


def test_save_load_round_trip(tmp_path):
    ev = empty_frame("events", "Europe/London")
    save(Dataset({"events": ev}, tz="Europe/London", meta={"name": "t"}), tmp_path)
    ds = load(tmp_path)
    assert ds.tz == "Europe/London"
    assert ds.meta["name"] == "t"
    assert ds["events"].collect().columns == TABLES["events"].names
    with pytest.raises(KpiError, match="no 'contacts' table"):
        ds["contacts"]


def test_load_missing_dir(tmp_path):
    with pytest.raises(KpiError, match="does not exist"):
        load(tmp_path / "nope")
    with pytest.raises(KpiError, match="holds no dataset"):
        load(tmp_path)
