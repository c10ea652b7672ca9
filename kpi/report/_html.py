"""The HTML side of the report renderer: an executed notebook to one self-contained HTML file.

``prepare`` rewrites the executed notebook for managers: code cells without output go, stderr
and JavaScript outputs go, the header and findings the notebook displayed are lifted out, each
Vega-Lite chart becomes a ``<div>`` plus its spec as inert JSON (or a static SVG), and, unless
identifiers are to be shown, they are masked in every output (:func:`mask_notebook`: identifier
columns and their values in chart data, e-mail addresses and phone numbers in all text).
``export`` runs nbconvert's HTML exporter with a template derived from JupyterLab's (no code, no
prompts, no require.js / MathJax / widget loaders from a CDN), then inserts the header, the
findings, a table of contents built from the headings, the Vega/Vega-Lite/vega-embed bundle of
``vl-convert-python`` (once per file, only when there are charts) and a Content-Security-Policy
that lets only those scripts run: an ``onerror=`` smuggled in through data cannot execute and
nothing can be fetched from the network.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from kpi._format import format_value
from kpi._mask import identifier_columns, mask_identifiers, mask_text
from kpi._vega import script_json, spec_title, to_svg, vega_bundle
from kpi.report._display import FINDINGS_MIME, HEADER_MIME
from kpi.report._notebooks import PERIODS_MIME

__all__ = [
    "CHART_MIME",
    "Lifted",
    "export",
    "index_page",
    "mask_chart",
    "mask_notebook",
    "prepare",
]

CHART_MIME = "application/vnd.kpi.chart-html"
_VEGALITE = re.compile(r"^application/vnd\.vegalite\.v\d+(\.\d+)*(\+json|\.json)$")
_PRIORITY = [
    CHART_MIME,
    "text/html",
    "text/markdown",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/plain",
]
_REMOVE_TAGS = {"remove-cell", "remove_cell", "hide-cell"}
_REMOVE_OUTPUT_TAGS = {"remove-output", "remove_output", "hide-output"}

_LOADER_JS = """(function () {
  var options = {actions: false, renderer: "svg"};
  document.querySelectorAll("div.kpi-chart").forEach(function (el) {
    var node = document.getElementById(el.id + "-spec");
    if (!node) { return; }
    vegaEmbed(el, JSON.parse(node.textContent), options).catch(function (err) {
      el.textContent = "This chart could not be drawn: " + err;
      console.error(err);
    });
  });
})();"""


def _script_hash(js: str) -> str:
    digest = hashlib.sha256(js.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@dataclass
class Lifted:
    """What ``prepare`` took out of the notebook for the header."""

    header: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    title: str | None = None
    subtitle: str | None = None
    charts: int = 0
    #: notes on the periods (:class:`kpi.report.DataPeriods`): no data to compare with, ...
    notes: list[str] = field(default_factory=list)


_TOKEN = re.compile(r"[\w-]+")


def _mask_str(text: str, seen: Mapping[str, Any] | None = None) -> str:
    """A string masked: identifiers seen in chart data (``seen``: original -> masked) wherever
    they stand as a word, then e-mail addresses and phone numbers (:func:`mask_text`).

    Examples
    --------
    >>> _mask_str("K0012345 mailed jo@example.com", {"K0012345": "***345"})
    '***345 mailed ***@***'
    """
    if seen:
        text = _TOKEN.sub(lambda m: str(seen.get(m[0], m[0])), text)
    return mask_text(text)


def _mask_obj(obj: Any, seen: Mapping[str, Any] | None = None) -> Any:
    """Every string of a JSON-like object masked with :func:`_mask_str`."""
    if isinstance(obj, str):
        return _mask_str(obj, seen)
    if isinstance(obj, list):
        return [_mask_obj(v, seen) for v in obj]
    if isinstance(obj, dict):
        return {k: _mask_obj(v, seen) for k, v in obj.items()}
    return obj


def _row_lists(spec: Any) -> list[list[Any]]:
    """The inline data of a Vega-Lite spec: ``datasets`` and every ``data.values`` (layers,
    facets and concatenations included)."""
    found: list[list[Any]] = []
    if isinstance(spec, dict):
        datasets = spec.get("datasets")
        if isinstance(datasets, dict):
            found += [rows for rows in datasets.values() if isinstance(rows, list)]
        data = spec.get("data")
        if isinstance(data, dict) and isinstance(data.get("values"), list):
            found.append(data["values"])
        for key, value in spec.items():
            if key not in ("datasets", "data"):
                found += _row_lists(value)
    elif isinstance(spec, list):
        for value in spec:
            found += _row_lists(value)
    return found


def mask_chart(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A Vega-Lite spec with customer identifiers masked wherever they occur.

    Identifier columns of its data (by name, :func:`kpi._mask.identifier_columns`) are masked
    as :func:`kpi._mask.mask_identifiers` masks them; then every string of the spec equal to
    one of those identifiers (sort lists, titles, tooltips, conditions) is replaced by its
    mask, and e-mail addresses and phone numbers are masked in every other string.

    Examples
    --------
    >>> spec = {
    ...     "data": {"values": [{"customer_id": "C0012345", "n": 2}]},
    ...     "encoding": {"x": {"field": "customer_id", "sort": ["C0012345"]}},
    ... }
    >>> out = mask_chart(spec)
    >>> out["data"]["values"], out["encoding"]["x"]["sort"]
    ([{'customer_id': '***345', 'n': 2}], ['***345'])
    """
    spec = copy.deepcopy(dict(spec))
    seen = _identifiers_in(spec)
    return _mask_obj(spec, seen)


def _identifiers_in(spec: Any) -> dict[str, Any]:
    """Mask the identifier columns of a spec's inline data in place; return original -> mask."""
    import polars as pl

    seen: dict[str, Any] = {}
    for rows in _row_lists(spec):
        records = [r for r in rows if isinstance(r, dict)]
        columns = identifier_columns(dict.fromkeys(k for r in records for k in r))
        for column in columns:
            originals = [r.get(column) for r in records]
            texts = [None if v is None else str(v) for v in originals]
            masked = mask_identifiers(
                pl.DataFrame({column: texts}, schema={column: pl.String}), columns=[column]
            )[column].to_list()
            for record, text, new in zip(records, texts, masked, strict=True):
                if column in record:
                    record[column] = new
                if text is not None and new is not None:
                    seen[text] = new
    return seen


def mask_notebook(nb: Any) -> Any:
    """A copy of an executed notebook with customer identifiers masked in every output.

    Charts go through :func:`mask_chart`; text, HTML, markdown, JSON outputs (the report
    header and findings), printed text and error tracebacks through
    :func:`kpi._mask.mask_text`. This is the safety net behind the notebooks' own masking
    (:func:`kpi.report.table`, :func:`kpi.report.mask_identifiers`) for the page and for the
    executed notebook stored beside it, when identifiers are not to be shown.
    """
    nb = copy.deepcopy(nb)
    outputs = [
        out
        for cell in nb.cells
        if cell.get("cell_type") == "code"
        for out in cell.get("outputs", [])
    ]
    seen: dict[str, Any] = {}  # identifiers of every chart, masked in every output
    for out in outputs:
        data = out.get("data", {}) if isinstance(out.get("data"), dict) else {}
        for key, value in list(data.items()):
            if _VEGALITE.match(key):
                spec = json.loads(value) if isinstance(value, str) else value
                seen |= _identifiers_in(spec)
                data[key] = json.dumps(spec) if isinstance(value, str) else spec
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            out["text"] = _mask_str(_joined(out.get("text", "")), seen)
        elif kind == "error":
            out["evalue"] = _mask_str(str(out.get("evalue", "")), seen)
            out["traceback"] = [_mask_str(t, seen) for t in out.get("traceback", [])]
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            for key, value in list(data.items()):
                if _VEGALITE.match(key) and isinstance(value, str):
                    data[key] = json.dumps(_mask_obj(json.loads(value), seen))
                elif isinstance(value, (str, list)) and (
                    key.startswith("text/") or key == "image/svg+xml"
                ):
                    data[key] = _mask_str(_joined(value), seen)
                elif isinstance(value, dict):
                    data[key] = _mask_obj(value, seen)
    return nb


def _joined(text: str | list[str]) -> str:
    return "".join(text) if isinstance(text, list) else text


def _chart_html(spec: dict[str, Any], n: int, *, charts: str) -> str:
    cid = f"kpi-chart-{n}"
    title = spec_title(spec)
    label = _esc(title if title is not None else f"Chart {n}")
    if charts == "svg":
        svg = to_svg(spec)
        return f'<figure class="kpi-chart-static" id="{cid}" role="img" aria-label="{label}">{svg}</figure>'
    return (
        f'<div class="kpi-chart" id="{cid}" role="img" aria-label="{label}"></div>'
        f'<script type="application/json" id="{cid}-spec">{script_json(spec)}</script>'
    )


def _title_cell(source: str) -> tuple[str | None, str | None, str]:
    """Split a leading ``# Title`` and ``> subtitle`` off a markdown cell."""
    lines = source.strip().splitlines()
    if not lines or not re.match(r"^#\s+\S", lines[0]):
        return None, None, source
    title = re.sub(r"^#\s+", "", lines[0]).strip()
    rest = lines[1:]
    subtitle_lines = []
    while rest and (rest[0].startswith(">") or not rest[0].strip()):
        line = rest.pop(0)
        if line.startswith(">"):
            subtitle_lines.append(line.lstrip("> ").strip())
        elif subtitle_lines:
            break
    subtitle = " ".join(subtitle_lines) or None
    return title, subtitle, "\n".join(rest)


def prepare(
    nb: Any, *, charts: str = "interactive", show_identifiers: bool = False
) -> tuple[Any, Lifted]:
    """Rewrite an executed notebook for export (see the module docstring); returns a copy.

    Raises
    ------
    ValueError
        If a cell shows an altair chart through a renderer that loads JavaScript from a CDN.
    """
    nb = copy.deepcopy(nb) if show_identifiers else mask_notebook(nb)
    lifted = Lifted()
    nb.metadata.pop("widgets", None)
    cells = []
    seen_title = False
    for index, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _REMOVE_TAGS:
            continue
        if cell.cell_type == "markdown":
            if not seen_title:
                title, subtitle, rest = _title_cell(cell.source)
                if title:
                    seen_title = True
                    lifted.title, lifted.subtitle = title, subtitle
                    if not rest.strip():
                        continue
                    cell.source = rest
            cells.append(cell)
            continue
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in [] if tags & _REMOVE_OUTPUT_TAGS else cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                if out.get("name") == "stdout" and out.get("text", "").strip():
                    outputs.append(out)
                continue
            if kind not in ("display_data", "execute_result"):
                continue  # errors only occur in failed runs, which are not exported
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                continue  # widgets are for JupyterLab; a report never depends on their state
            if HEADER_MIME in data:
                lifted.header = dict(data[HEADER_MIME])
                continue
            if PERIODS_MIME in data:
                lifted.notes += [str(n) for n in data[PERIODS_MIME].get("notes", [])]
                continue
            if FINDINGS_MIME in data:
                lifted.findings.append(dict(data[FINDINGS_MIME]))
                continue
            spec_key = next((k for k in data if _VEGALITE.match(k)), None)
            if spec_key is not None:
                spec = data[spec_key]
                if isinstance(spec, str):
                    spec = json.loads(spec)
                lifted.charts += 1
                out["data"] = {CHART_MIME: _chart_html(spec, lifted.charts, charts=charts)}
                out["metadata"] = {}
                outputs.append(out)
                continue
            html_text = data.get("text/html", "")
            if isinstance(html_text, list):
                html_text = "".join(html_text)
            if "vegaEmbed" in html_text or "cdn.jsdelivr" in html_text:
                raise ValueError(
                    f"cell {index} shows a chart through altair's default renderer, which loads "
                    "its JavaScript from a CDN; build charts with kpi.charts (or run "
                    "`kpi.charts.enable()` first) so the report can embed them offline"
                )
            kept = {k: v for k, v in data.items() if k in _PRIORITY}
            if "text/html" in kept and "<script" in html_text.lower():
                kept.pop("text/html")  # scripts from outputs never reach the report
            if not kept:
                continue
            out["data"] = kept
            outputs.append(out)
        if outputs:
            cell.outputs = outputs
            cells.append(cell)
    nb.cells = cells
    return nb, lifted


_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head -%}
<meta charset="utf-8">
<!--KPI-CSP-->
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="generator" content="kpi-workbench">
<title>{{ resources.kpi.title_text }}</title>
<style>{{ resources.kpi.css }}</style>
{%- endblock html_head -%}
{%- block body_header -%}
<body class="kpi-report">
<main>
{{ resources.kpi.header_html }}
<!--KPI-TOC-->
<!--KPI-BODY-START-->
<div class="kpi-body jp-Notebook">
{%- endblock body_header -%}
{% block body_footer %}
</div>
<!--KPI-BODY-END-->
{{ resources.kpi.footer_html }}
</main>
<!--KPI-SCRIPTS-->
</body>
{% endblock body_footer %}
{% block footer_js %}{% endblock footer_js %}
{%- block data_other scoped -%}
{%- if 'application/vnd.kpi.chart-html' in output.data -%}
<div class="jp-OutputArea-output kpi-chart-output">{{ output.data['application/vnd.kpi.chart-html'] }}</div>
{%- endif -%}
{%- endblock data_other -%}
"""

CSS = """
:root { --ink:#1f2933; --muted:#5f6b7a; --line:#d9dee5; --soft:#f5f7fa; --accent:#0b5cad; }
* { box-sizing: border-box; }
body.kpi-report { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 32px 48px; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.4em 0 .5em; }
h1 { font-size: 1.9em; margin-top: .2em; } h2 { font-size: 1.4em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
h3 { font-size: 1.15em; }
a { color: var(--accent); } a.anchor-link { display: none; }
.kpi-header { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 16px; }
.kpi-header .kpi-subtitle { color: var(--muted); font-size: 1.1em; margin: 0 0 12px; }
.kpi-meta { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0; }
.kpi-meta div { min-width: 120px; } .kpi-meta dt { color: var(--muted); font-size: .8em; text-transform: uppercase; letter-spacing: .04em; }
.kpi-meta dd { margin: 0; font-weight: 600; }
.kpi-notes { color: var(--muted); margin: 8px 0 0; padding-left: 18px; }
.kpi-findings { background: #eef5fc; border-left: 4px solid var(--accent); padding: 4px 20px 8px; margin: 16px 0; }
.kpi-findings h2 { border: 0; margin-top: .6em; font-size: 1.2em; } .kpi-findings li { margin: .25em 0; }
.kpi-toc { margin: 16px 0; } .kpi-toc h2 { font-size: 1em; border: 0; margin: 0 0 .3em; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.kpi-toc ol { margin: 0; padding-left: 20px; } .kpi-toc li.lvl3 { margin-left: 18px; list-style: circle; }
details.kpi-details { margin: 10px 0; border: 1px solid var(--line); border-radius: 4px; padding: 6px 12px; background: var(--soft); }
details.kpi-details summary { cursor: pointer; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: .92em; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #9aa5b1; background: var(--soft); }
td.num, th.num { text-align: right; } caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; }
.kpi-more { color: var(--muted); font-size: .85em; }
td.kpi-status { font-weight: 600; text-align: center; }
td.kpi-status-green { background: #e3f1fb; color: #004c7a; }
td.kpi-status-amber { background: #fff1d6; color: #7a4b00; }
td.kpi-status-red { background: #fde3d7; color: #8f2d00; }
.jp-Cell { margin: 0; } .jp-OutputArea-output { margin: 6px 0; overflow-x: auto; }
.jp-RenderedText pre, pre { background: var(--soft); padding: 8px 12px; border-radius: 4px; font-size: .85em; white-space: pre-wrap; }
.jp-RenderedHTMLCommon small { color: var(--muted); }
.kpi-chart, .kpi-chart-static { margin: 12px 0 20px; min-height: 40px; }
.kpi-chart-static svg { max-width: 100%; height: auto; }
.vega-embed { max-width: 100%; }
#vg-tooltip-element { font: 13px system-ui, sans-serif; }
footer.kpi-footer { color: var(--muted); font-size: .8em; border-top: 1px solid var(--line); margin-top: 40px; padding-top: 8px; }
@media print { main { max-width: none; padding: 0; } details.kpi-details { border: 0; } details.kpi-details > * { display: block; }
  .kpi-toc { display: none; } h2 { break-after: avoid; } .kpi-chart, .kpi-chart-static, table { break-inside: avoid; } }
"""


def _fmt_target(entry: Mapping[str, Any]) -> str:
    """``≥ 80.0%``, ``≤ 5 min 0 s``: the target as findings and tables print it."""
    target = entry.get("target")
    if target is None:
        return "–"
    unit = entry.get("unit")
    if unit in ("fraction", "share", "%"):
        unit = "ratio"
    text = (
        format_value(target, unit)
        if isinstance(target, (int, float)) and not isinstance(target, bool)
        else str(target)
    )
    sign = {"higher": "≥ ", "lower": "≤ "}.get(str(entry.get("direction")), "")
    return sign + text


def _period_text(p: Mapping[str, Any] | None) -> str:
    if not p:
        return "–"
    from datetime import date, timedelta

    try:
        start = date.fromisoformat(p["start"])
        last = date.fromisoformat(p["end"]) - timedelta(days=1)
    except (KeyError, TypeError, ValueError):
        return str(p.get("label", "–"))
    span = start.isoformat() if start == last else f"{start.isoformat()} to {last.isoformat()}"
    return f"{p.get('label')} ({span})" if p.get("label") != start.isoformat() else span


def header_html(context: Mapping[str, Any], lifted: Lifted) -> str:
    """The report header, findings and the definitions/parameters boxes (all escaped)."""
    h = lifted.header or {}
    title = h.get("title") or lifted.title or context["report"]
    subtitle = h.get("subtitle") or lifted.subtitle
    params = context.get("parameters", {})
    period = h.get("period") or ({"label": params["period"]} if params.get("period") else None)
    compare = h.get("compare") or ({"label": params["compare"]} if params.get("compare") else None)
    data = h.get("data") or {}
    parts_of_source = [data.get("name") or data.get("source"), data.get("path")]
    source = " · ".join(str(p) for p in parts_of_source if p) or params.get("data_dir") or "–"
    if data.get("timezone"):
        source = f"{source} (time zone {data['timezone']})"
    meta = [
        ("Period", _period_text(period)),
        ("Compared with", _period_text(compare) if compare else None),
        ("Data", source),
        ("Generated", context["generated_text"]),
        ("Customer identifiers", "shown" if context.get("show_identifiers") else "masked"),
    ]
    parts = [
        '<header class="kpi-header" id="report-header">',
        f"<h1>{_esc(title)}</h1>",
        f'<p class="kpi-subtitle">{_esc(subtitle)}</p>' if subtitle else "",
        '<dl class="kpi-meta">',
        *(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>" for k, v in meta if v),
        "</dl>",
    ]
    notes = list(dict.fromkeys([*lifted.notes, *(h.get("notes") or [])]))
    if notes:
        parts.append(
            '<ul class="kpi-notes">' + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>"
        )
    parts.append("</header>")
    for box in lifted.findings:
        items = "".join(f"<li>{_esc(i)}</li>" for i in box.get("items", []))
        if items:
            parts.append(
                f'<section class="kpi-findings" id="findings"><h2>{_esc(box.get("title") or "Findings")}</h2>'
                f"<ul>{items}</ul></section>"
            )
    kpis = h.get("kpis") or []
    if kpis:
        rows = "".join(
            f"<tr><td>{_esc(k.get('label') or k.get('id'))}</td><td>{_esc(k.get('formula') or k.get('definition'))}</td>"
            f"<td>{_esc(_fmt_target(k))}</td></tr>"
            for k in kpis
        )
        parts.append(
            f'<details class="kpi-details" id="definitions"><summary>KPI definitions and targets ({len(kpis)})</summary>'
            f"<table><thead><tr><th>KPI</th><th>Definition</th><th>Target</th></tr></thead><tbody>{rows}</tbody></table></details>"
        )
    else:
        parts.append(
            '<details class="kpi-details" id="definitions"><summary>KPI definitions and targets</summary>'
            "<p>This report does not state the KPI definitions it uses.</p></details>"
        )
    if params:
        rows = "".join(
            f"<tr><td>{_esc(k)}</td><td>{_esc(json.dumps(v, default=str) if not isinstance(v, str) else v)}</td></tr>"
            for k, v in params.items()
        )
        parts.append(
            '<details class="kpi-details" id="parameters"><summary>Report parameters</summary>'
            f"<table><thead><tr><th>Parameter</th><th>Value</th></tr></thead><tbody>{rows}</tbody></table></details>"
        )
    return "\n".join(p for p in parts if p)


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str, str]] = []
        self._current: tuple[int, str] | None = None
        self._text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3"):
            ident = dict(attrs).get("id")
            if ident:
                self._current, self._text = (int(tag[1]), ident), []
        elif self._current and tag == "a" and "anchor-link" in (dict(attrs).get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._skip:
            self._skip -= 1
        elif self._current and tag == f"h{self._current[0]}":
            text = " ".join("".join(self._text).split())
            if text:
                self.found.append((self._current[0], self._current[1], text))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current and not self._skip:
            self._text.append(data)


def toc_html(body: str) -> str:
    """A table of contents from the ``h2``/``h3`` headings (with ids) of the report body.

    Examples
    --------
    >>> toc_html(
    ...     '<h2 id="A">A &amp; B<a class="anchor-link" href="#A">¶</a></h2><h3 id="c">C</h3>'
    ... )
    '<nav class="kpi-toc" aria-label="Contents"><h2>Contents</h2><ol><li class="lvl2"><a href="#A">A &amp; B</a></li><li class="lvl3"><a href="#c">C</a></li></ol></nav>'
    """
    parser = _Headings()
    parser.feed(body)
    if not parser.found:
        return ""
    items = "".join(
        f'<li class="lvl{level}"><a href="#{_esc(ident)}">{_esc(text)}</a></li>'
        for level, ident, text in parser.found
    )
    return f'<nav class="kpi-toc" aria-label="Contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def csp(scripts: Sequence[str]) -> str:
    """The Content-Security-Policy: only the given inline scripts run; nothing is fetched.

    Vega compiles its expressions with ``Function``, hence ``'unsafe-eval'`` when there are
    scripts at all.
    """
    if scripts:
        script_src = " ".join(_script_hash(s) for s in scripts) + " 'unsafe-eval'"
    else:
        script_src = "'none'"
    return (
        "default-src 'none'; "
        f"script-src {script_src}; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def export(
    nb: Any, lifted: Lifted, context: Mapping[str, Any], *, charts: str = "interactive"
) -> str:
    """The self-contained HTML report of a prepared notebook."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    title = (lifted.header or {}).get("title") or lifted.title or context["report"]
    period = context.get("parameters", {}).get("period")
    kpi_resources = {
        "title_text": _esc(f"{title} – {period}" if period else title),
        "css": CSS,
        "header_html": header_html(context, lifted),
        "footer_html": (
            f'<footer class="kpi-footer">Generated {_esc(context["generated_text"])} by '
            f"kpi-workbench {_esc(context.get('version', ''))} from {_esc(context.get('notebook', ''))}.</footer>"
        ),
    }
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"kpi_report.html.j2": _TEMPLATE})],
        template_file="kpi_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
        config=Config({"NbConvertBase": {"display_data_priority": list(_PRIORITY)}}),
    )
    body, _ = exporter.from_notebook_node(nb, resources={"kpi": kpi_resources})
    start, end = body.find("<!--KPI-BODY-START-->"), body.find("<!--KPI-BODY-END-->")
    body = body.replace("<!--KPI-TOC-->", toc_html(body[start:end]), 1)
    scripts: list[str] = []
    if lifted.charts and charts == "interactive":
        scripts = [vega_bundle(), _LOADER_JS]
    meta = script_json({k: v for k, v in context.items() if k != "generated_text"})
    tags = "".join(f"<script>{s}</script>" for s in scripts)
    tags += f'<script type="application/json" id="kpi-report-meta">{meta}</script>'
    body = body.replace("<!--KPI-SCRIPTS-->", tags, 1)
    body = body.replace(
        "<!--KPI-CSP-->",
        f'<meta http-equiv="Content-Security-Policy" content="{csp(scripts)}">',
        1,
    )
    return body


def index_page(entries: Sequence[Mapping[str, Any]], *, generated_text: str) -> str:
    """``reports/index.html``: every report with its period, generation time and status."""
    rows = []
    for e in entries:
        status = "ok"
        if e.get("failed"):
            status = f"last run failed {e['failed'].get('time_text', '')}: {e['failed'].get('error', '')}"
        link = (
            f'<a href="{_esc(e["href"])}">{_esc(e.get("title") or e["report"])}</a>'
            if e.get("href")
            else _esc(e.get("title") or e["report"])
        )
        nb = (
            f' · <a href="{_esc(e["notebook_href"])}">notebook</a>'
            if e.get("notebook_href")
            else ""
        )
        failed_nb = (
            f' · <a href="{_esc(e["failed_href"])}">failed notebook</a>'
            if e.get("failed_href")
            else ""
        )
        rows.append(
            f"<tr><td>{link}{nb}{failed_nb}</td><td>{_esc(e['report'])}</td><td>{_esc(e['period'])}</td>"
            f"<td>{_esc(e.get('generated_text') or '–')}</td><td>{_esc(status)}</td></tr>"
        )
    body = (
        "".join(rows)
        or '<tr><td colspan="5">No reports yet: run <code>kpi report --all</code>.</td></tr>'
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp([])}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">'
        f"<title>Reports</title><style>{CSS}</style></head>"
        '<body class="kpi-report"><main><header class="kpi-header"><h1>Reports</h1>'
        f'<p class="kpi-subtitle">Index updated {_esc(generated_text)}</p></header>'
        "<table><thead><tr><th>Report</th><th>Name</th><th>Period</th><th>Generated</th><th>Status</th></tr></thead>"
        f"<tbody>{body}</tbody></table></main></body></html>\n"
    )
