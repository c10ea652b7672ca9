"""Trends of any KPI: change against earlier periods and targets, rolling values, anomalies,
change points, and events attached to a series.

Every function returns a :class:`Trend`: a LazyFrame plus the definitions of the KPIs behind it
(the formula text of the variants in force, from :func:`kpi.compute.evaluate`) and a note of
how each added column was computed, so a chart or a report can always say which definition
produced a number. The functions that take a series accept the :class:`~kpi.compute.Result` of
``evaluate`` (best: it carries the definitions, variants and group columns), a ``Trend``, or a
plain (Lazy)DataFrame shaped like the output of :func:`kpi.compute.compute` (group columns,
``period``, KPI columns, measure columns).

- :func:`change`: each period's value against the previous period, the same period a year
  before and the target (one row per group, period and KPI).
- :func:`rolling`: rolling values over a time window; for ratio KPIs the exact ratio of the
  window sums of numerator and denominator.
- :func:`anomalies`: seasonal robust z-scores (against the median of the same weekday and
  time of day in earlier weeks, with a spread pooled over the series) with flags, expected
  values and bands, and whether the surprise is good or bad.
- :func:`change_points`: where the level of a series changes (exact PELT, numpy); collects.
- :func:`attach_events`: the labels of overlapping events per period, and a tidy events frame.

Everything is lazy except :func:`change_points`, which collects the short series it segments.

The package, one module per concern: ``_series`` (the :class:`Trend` and the series input all
functions share), ``_compare`` (:func:`change`, :func:`rolling`), ``_anomalies``,
``_change_points`` and ``_events``.
"""

from __future__ import annotations

from kpi.trends._anomalies import ANOMALY_METHODS, anomalies
from kpi.trends._change_points import change_points
from kpi.trends._compare import COMPARISONS, YEAR_SHIFT, change, rolling
from kpi.trends._events import attach_events
from kpi.trends._series import Trend

__all__ = [
    "ANOMALY_METHODS",
    "COMPARISONS",
    "YEAR_SHIFT",
    "Trend",
    "anomalies",
    "attach_events",
    "change",
    "change_points",
    "rolling",
]
