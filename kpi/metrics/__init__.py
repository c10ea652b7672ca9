"""The semantic layer: what each KPI means, as data, independent of the engine that computes it.

Bottom up:

- :class:`Measure` and :class:`Source` (``_measure``): an aggregation over the rows of a table,
  placed in time by one time column. Additive measures (counts, sums) roll up exactly to any
  grain and dimension; they are what :func:`kpi.compute.measure_frame` returns and what a cube
  of measures by time bin and dimensions stores.
- :class:`MeasureContext` (``_context``): what a builder measure (stock, sweep, sorted pass) needs
  from the engine. The polars engine, :class:`kpi.compute.Context`, implements it; this package
  never imports the engine.
- The measure factories (``_factories``: row declarations; ``_stateful``: builder measures),
  publicly reachable as ``kpi.metrics.factories`` for analyses that need a measure no KPI names.
- :class:`Metric`, :class:`Param`, :class:`Target`, :class:`Build` (``_metric``): a KPI, its
  definition variants, its default target, and its measures and formula under one choice of
  variants.
- The build functions (``_builds``): how each KPI's variants choose its measures, and its
  formula text, composed where the wording allows from the measures' own ``text``.
- :class:`Objective`, :class:`Objectives`, :func:`objectives_from` (``_objectives``): service
  objectives per channel and queue (voice 80 % in 20 s, chat 80 % in 60 s, e-mail a response in
  4 h, tickets in 8 h), read from a targets file's ``[objectives]`` by :mod:`kpi.targets`; the
  thresholds ``service_level.threshold_s=objective`` and ``response_within_objective`` judge
  each contact by, and what :mod:`kpi.schedule` staffs for.
- :data:`METRICS` (``_catalogue``): every KPI declared once, by keyword, as data.
- :func:`resolve`, :func:`definitions`, :func:`catalogue` (``_lookup``): ids and
  ``<kpi>.<param>`` values to metrics and their variants.

``Metric.build(params)`` turns a choice of variants into a :class:`Build`: numerator and
denominator measures, the value expression and the formula text that every output prints
("which definition produced this number"). Sources for each formula and variant:
``../shared/kpi_dictionary.md`` (Part B).

Examples
--------
>>> m = METRICS["service_level"]
>>> m.build({"threshold_s": 30}).formula
'SL = answered ≤ 30 s / (answered + abandoned)'
>>> definitions(["abandon_rate"], {"abandon_rate.denominator": "offered"})
{'abandon_rate': 'abandon rate = abandoned in queue / offered'}
>>> factories.tickets_created().source_tables
('tickets',)
"""

from __future__ import annotations

from kpi.metrics import _factories as factories
from kpi.metrics._catalogue import METRICS
from kpi.metrics._context import MeasureContext
from kpi.metrics._lookup import catalogue, definitions, resolve
from kpi.metrics._measure import KINDS, Measure, Source
from kpi.metrics._metric import PERSPECTIVES, Build, Metric, Param, Target
from kpi.metrics._objectives import DEFAULTS as OBJECTIVE_DEFAULTS
from kpi.metrics._objectives import (
    DEFERRED_CHANNELS,
    Objective,
    Objectives,
    objectives_from,
    objectives_from_spec,
)

__all__ = [
    "DEFERRED_CHANNELS",
    "KINDS",
    "METRICS",
    "OBJECTIVE_DEFAULTS",
    "PERSPECTIVES",
    "Build",
    "Measure",
    "MeasureContext",
    "Metric",
    "Objective",
    "Objectives",
    "Param",
    "Source",
    "Target",
    "catalogue",
    "definitions",
    "factories",
    "objectives_from",
    "objectives_from_spec",
    "resolve",
]
