"""Service objectives per channel and queue: re-exported from :mod:`kpi.metrics`.

The data type lives on the semantic floor (``kpi/metrics/_objectives.py``) because the
``service_level`` KPI (``service_level.threshold_s=objective``) and ``response_within_objective``
judge each contact against its own queue's objective; staffing and schedules read the same
objectives here.
"""

from __future__ import annotations

from kpi.metrics import (
    DEFERRED_CHANNELS,
    OBJECTIVE_DEFAULTS,
    Objective,
    Objectives,
    objectives_from,
)

#: Built-in objectives per channel.
DEFAULTS = OBJECTIVE_DEFAULTS

__all__ = ["DEFAULTS", "DEFERRED_CHANNELS", "Objective", "Objectives", "objectives_from"]
