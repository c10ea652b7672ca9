"""COMPAT (issue 13), delete after the merge: the measure factories moved to
``kpi.metrics.factories`` (module ``kpi.metrics._factories``).

``kpi.explain`` (``B.agents_scheduled``) and ``kpi.views`` (``_builders.tickets_created``) still
import this module; the lead changes them to ``from kpi.metrics import factories`` and deletes it.
"""

from __future__ import annotations

from typing import Any

from kpi.metrics import factories as _factories

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    return getattr(_factories, name)
