"""Notebook-level views: the small frames and charts the report notebooks show.

The notebooks in ``notebooks/`` stay a few calls long: everything that shapes data for a table,
a chart or a sentence lives here, as plain functions of a dataset or of frames made by the
library (:mod:`kpi.compute`, :mod:`kpi.scorecard`, :mod:`kpi.trends`, :mod:`kpi.explain`,
:mod:`kpi.staffing`). Frames go in and out lazily; functions that return text (``*_findings``,
:func:`status_summary`, :func:`ticket_overview`) take collected frames or collect, since a
sentence is made at the edge; chart functions return altair charts built by :mod:`kpi.charts`.

One module per report notebook, over a shared floor (:mod:`kpi.views._common`); every name
below is importable from :mod:`kpi.views` itself.

- Data (``_common``): :func:`filter_teams`, :func:`available_metrics`, :func:`metric_table`,
  :func:`dimensions`, :func:`variant_options`, :func:`metric_params`, :func:`units`,
  :func:`labels`, :func:`unavailable_lines`, :func:`unit_of`, :func:`header_targets`, :func:`attempt`, :func:`to_long`,
  :func:`comparison_columns`.
- Scorecard (``scorecard``): :func:`status_counts`, :func:`status_summary`, :func:`scorecard_bars`,
  :func:`objectives_by_queue`, :func:`objective_findings`, :func:`without_empty`.
- Trends (``trends``): :func:`trend_frame`, :func:`trend_figure`, :func:`trend_findings`,
  :func:`shift_findings`, :func:`heatmap_frame`.
- Drill-down (``drilldown``): :func:`change_frame`, :func:`drivers_frame`, :func:`driver_waterfall`,
  :func:`segments_frame`, :func:`effects_frame`, :func:`segment_options`,
  :func:`choose_segment`, :func:`segment_breakdown`, :func:`segment_rows`.
- Staffing (``staffing``): :func:`what_if_items`, :func:`staffing_view`, :func:`centre_staffing`,
  :func:`service_by`, :func:`team_staffing`, :func:`day_slice`, :func:`staffing_day_chart`,
  :func:`shortfall_heatmap_frame`, :func:`staffing_findings`.
- Tickets (``tickets``): :func:`ticket_flow`, :func:`ticket_times`, :func:`ticket_summary`,
  :func:`ticket_findings`, :func:`ticket_overview`.
"""

from __future__ import annotations

from kpi.views._common import (
    DIMENSIONS,
    GRAIN_NAMES,
    Outcome,
    attempt,
    available_metrics,
    comparison_columns,
    dimensions,
    filter_teams,
    header_targets,
    labels,
    metric_params,
    metric_table,
    to_long,
    unavailable_lines,
    unit_of,
    units,
    variant_options,
)
from kpi.views.drilldown import (
    change_frame,
    choose_segment,
    driver_waterfall,
    drivers_frame,
    effects_frame,
    segment_breakdown,
    segment_name,
    segment_options,
    segment_rows,
    segments_frame,
)
from kpi.views.scorecard import (
    objective_findings,
    objectives_by_queue,
    scorecard_bars,
    status_counts,
    status_summary,
    without_empty,
)
from kpi.views.staffing import (
    centre_staffing,
    day_slice,
    service_by,
    shortfall_heatmap_frame,
    staffing_day_chart,
    staffing_findings,
    staffing_view,
    team_staffing,
    what_if_items,
)
from kpi.views.tickets import (
    ticket_findings,
    ticket_flow,
    ticket_overview,
    ticket_summary,
    ticket_times,
)
from kpi.views.trends import (
    MAX_LEVEL_POINTS,
    MAX_LINES,
    heatmap_frame,
    shift_findings,
    trend_figure,
    trend_findings,
    trend_frame,
)

__all__ = [
    "DIMENSIONS",
    "GRAIN_NAMES",
    "MAX_LEVEL_POINTS",
    "MAX_LINES",
    "Outcome",
    "attempt",
    "available_metrics",
    "centre_staffing",
    "change_frame",
    "choose_segment",
    "comparison_columns",
    "day_slice",
    "dimensions",
    "driver_waterfall",
    "drivers_frame",
    "effects_frame",
    "filter_teams",
    "header_targets",
    "heatmap_frame",
    "labels",
    "metric_params",
    "metric_table",
    "objective_findings",
    "objectives_by_queue",
    "scorecard_bars",
    "segment_breakdown",
    "segment_name",
    "segment_options",
    "segment_rows",
    "segments_frame",
    "service_by",
    "shift_findings",
    "shortfall_heatmap_frame",
    "staffing_day_chart",
    "staffing_findings",
    "staffing_view",
    "status_counts",
    "status_summary",
    "team_staffing",
    "ticket_findings",
    "ticket_flow",
    "ticket_overview",
    "ticket_summary",
    "ticket_times",
    "to_long",
    "trend_figure",
    "trend_findings",
    "trend_frame",
    "unavailable_lines",
    "unit_of",
    "units",
    "variant_options",
    "what_if_items",
    "without_empty",
]
