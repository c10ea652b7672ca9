"""Reports: parameterised notebooks rendered to self-contained, offline HTML for managers.

:func:`render` checks the parameters against the notebook's ``parameters`` cell, executes the
notebook with papermill on the current interpreter, and exports one HTML file with nbconvert: no
code, no prompts, a header (title, period, data source, generation time, the KPI definitions and
targets the notebook declared with :func:`header`), the findings (:func:`findings`) at the top, a
table of contents, interactive charts whose JavaScript is embedded once (no CDN, no network), and
customer identifiers masked unless asked for. Output goes to ``<out_dir>/<report>/<period>/``
(the HTML, the executed notebook and ``report.json``), each file written atomically, and
``<out_dir>/index.html`` lists every report. A failed run raises :class:`ReportError` naming the
cell and the error, keeps the executed notebook as ``<name>.failed.ipynb`` and leaves the last
good report as it was.

Notebooks use the display helpers of this module::

    periods = kpi.report.data_periods(data_dir, period, compare)  # "latest", no-data compare
    kpi.report.header("Overview", period=period, compare=compare, data=ds, kpis=["aht"])
    kpi.report.findings(["Contacts handled fell 25% ..."])
    kpi.report.table(frame, percent=["service_level"])  # escaped, identifiers masked
    kpi.report.mask_identifiers(rows, show=show_identifiers)

``import kpi.report`` itself needs only polars; papermill, nbconvert and vl-convert are imported
when a report is rendered.
"""

from __future__ import annotations

from kpi._mask import identifier_columns, mask_identifiers, mask_text
from kpi.report._display import (
    FINDINGS_MIME,
    HEADER_MIME,
    Findings,
    ReportHeader,
    Table,
    findings,
    header,
    scorecard_findings,
    table,
)
from kpi.report._many import render_many
from kpi.report._notebooks import (
    PERIODS_MIME,
    DataPeriods,
    data_periods,
    list_reports,
    notebook_parameters,
    report_name,
    require_period,
    resolve_notebook,
)
from kpi.report._render import CHART_MODES, ReportError, rebuild_index, render

__all__ = [
    "CHART_MODES",
    "FINDINGS_MIME",
    "HEADER_MIME",
    "PERIODS_MIME",
    "DataPeriods",
    "Findings",
    "ReportError",
    "ReportHeader",
    "Table",
    "data_periods",
    "findings",
    "header",
    "identifier_columns",
    "list_reports",
    "mask_identifiers",
    "mask_text",
    "notebook_parameters",
    "rebuild_index",
    "render",
    "render_many",
    "report_name",
    "require_period",
    "resolve_notebook",
    "scorecard_findings",
    "table",
]
