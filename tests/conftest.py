"""Shared fixtures: eager/lazy frames, the shared real datasets, the sample data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(params=["eager", "lazy"])
def frame(request: pytest.FixtureRequest):
    """Build a frame from a dict, eager or lazy: every metric is checked on both."""

    def make(data: dict, **kwargs: object) -> pl.DataFrame | pl.LazyFrame:
        df = pl.DataFrame(data, **kwargs)
        return df if request.param == "eager" else df.lazy()

    return make


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets``; tests using it skip with a reason in a clone without it."""
    if not SHARED.is_dir():
        pytest.skip(
            f"real datasets not available: {SHARED} does not exist (a clone outside the workspace)"
        )
    return SHARED


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The committed sample dataset."""
    if not (SAMPLES / "contacts.parquet").exists():
        pytest.fail(f"sample data missing in {SAMPLES}: run `make sample`")
    return SAMPLES
