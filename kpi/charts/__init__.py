"""Altair chart builders for KPI reports, with one registered theme.

Every builder takes an *already aggregated* polars frame (eager or lazy; it is collected here,
at the edge) and returns an ``altair`` chart that the caller can keep chaining. All charts share
the ``kpi`` theme (registered with altair's theme API and enabled on first use): a colour-blind
safe palette (Okabe-Ito), readable fonts, tooltips on every mark, and percentage axes for
ratios (fractions in [0, 1]; a KPI id from :mod:`kpi.metrics` with unit ``ratio`` is formatted
as a percentage automatically).

Time stamps are sent to the browser as the site's wall-clock time without an offset, so a chart
reads the same in every viewer's time zone.

The module imports altair only when a chart is built, so ``import kpi.charts`` stays cheap.
:func:`enable` also registers a ``kpi`` renderer: in a notebook it shows the chart through
altair's HTML renderer and also carries the Vega-Lite spec (``application/vnd.vegalite.v6+json``)
that :func:`kpi.report.render` embeds offline; under the report renderer (``KPI_REPORT_RENDER=1``)
it emits only the spec.
"""

from __future__ import annotations

from kpi._vega import SPEC_MIME
from kpi.charts._builders import (
    bar_chart,
    effects_chart,
    heatmap_chart,
    staffing_chart,
    status_chart,
    waterfall_chart,
)
from kpi.charts._common import chart_rows
from kpi.charts._forecast import forecast_chart
from kpi.charts._theme import PALETTE, STATUS_COLOURS, THEME, enable
from kpi.charts._trend import trend_chart

__all__ = [
    "PALETTE",
    "SPEC_MIME",
    "STATUS_COLOURS",
    "THEME",
    "bar_chart",
    "chart_rows",
    "effects_chart",
    "enable",
    "forecast_chart",
    "heatmap_chart",
    "staffing_chart",
    "status_chart",
    "trend_chart",
    "waterfall_chart",
]
