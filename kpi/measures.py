"""COMPAT (issue 13), delete after the merge: measures moved to :mod:`kpi.metrics`.

``kpi.explain`` still imports ``Measure`` from here; the lead changes it to
``from kpi.metrics import Measure`` and deletes this module.
"""

from __future__ import annotations

from kpi.metrics import KINDS, Measure, Source

__all__ = ["KINDS", "Measure", "Source"]
