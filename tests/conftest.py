"""Shared fixtures: eager/lazy frames, the shared real datasets, the sample data, the SQL
engines (DuckDB in memory; local Spark with 2 cores, skipped with the reason without Java or
PySpark)."""

from __future__ import annotations

import shutil
import warnings
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


@pytest.fixture(scope="session")
def spark():
    """A local SparkSession (``local[2]``), or the test skipped with what is missing."""
    if shutil.which("java") is None:
        pytest.skip("Spark tests need Java 17+ (Debian: apt-get install openjdk-17-jre-headless)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("Spark tests need PySpark: pip install 'kpi-workbench[spark]'")
    from kpi.engines import local_spark

    return local_spark(2)


@pytest.fixture(scope="session")
def duck():
    """An in-memory DuckDB engine."""
    from kpi.engines import open_engine

    return open_engine("duckdb")
