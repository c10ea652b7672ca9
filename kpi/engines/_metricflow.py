"""The KPI catalogue as dbt MetricFlow YAML (placeholder, filled below)."""

from __future__ import annotations

__all__ = ["metricflow_yaml"]


def metricflow_yaml() -> str:
    """The catalogue as MetricFlow semantic models and metrics."""
    raise NotImplementedError
