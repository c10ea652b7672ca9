"""Vega-Lite specs as the browser gets them, in one place: the script-safe JSON escaper, the
offline Vega JavaScript bundle, a spec as HTML, SVG or a display bundle, the JupyterLab
renderer, and a chart's title read out of its spec.

The chart layer (:mod:`kpi.charts`) builds specs; the explorers (:mod:`kpi.widgets`) and the
report renderer (:mod:`kpi.report`) show them. All three come here for the HTML, so none of them
reaches into another. Nothing is fetched from a CDN: the Vega, Vega-Lite and vega-embed
JavaScript is the bundle that ships with ``vl-convert-python``.

altair and vl-convert are imported inside the functions that need them, so importing this
module costs nothing.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "SPEC_MIME",
    "chart_bundle",
    "chart_html",
    "enable_renderer",
    "loader_html",
    "mimebundle",
    "renderer",
    "script_json",
    "spec_title",
    "to_svg",
    "vega_bundle",
]

#: MIME type of a Vega-Lite spec in a notebook output (what the report renderer embeds).
SPEC_MIME = "application/vnd.vegalite.v6+json"

_IDS = itertools.count(1)


def script_json(obj: Any) -> str:
    """JSON that cannot close its ``<script>`` element: ``<``, ``>``, ``&`` and the JavaScript
    line separators are escaped, so data cannot end the script or start markup.

    Examples
    --------
    >>> script_json({"t": "</script><b>&"})
    '{"t":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def spec_title(spec: Mapping[str, Any]) -> str | None:
    """The title text of a Vega-Lite spec (``title`` as text or as ``{"text": ...}``).

    Returns
    -------
    str or None
        ``None`` when the spec has no title; lines of a multi-line title are joined.

    Examples
    --------
    >>> spec_title({"title": "AHT"}), spec_title({"title": {"text": "SL", "subtitle": "x"}})
    ('AHT', 'SL')
    >>> spec_title({"mark": "bar"}) is None, spec_title({"title": ["a", "b"]})
    (True, 'a b')
    """
    title = spec.get("title")
    if isinstance(title, Mapping):
        title = title.get("text")
    if isinstance(title, (list, tuple)):
        title = " ".join(str(t) for t in title)
    return title if isinstance(title, str) else None


@functools.cache
def vega_bundle() -> str:
    """The Vega, Vega-Lite and vega-embed JavaScript (from vl-convert-python).

    Building the bundle takes a few seconds, so it is cached per vl-convert version in
    ``$XDG_CACHE_HOME/kpi-workbench/`` (``~/.cache``) when that directory is writable.
    """
    import vl_convert

    version = getattr(vl_convert, "__version__", "unknown")
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kpi-workbench"
    cache = root / f"vega-bundle-vl-convert-{version}.js"
    try:
        text = cache.read_text(encoding="utf-8")
        if len(text) > 100_000 and "vegaEmbed" in text:
            return text
    except OSError:
        pass
    text = vl_convert.javascript_bundle()
    try:
        from kpi._fs import atomic_write_text

        atomic_write_text(cache, text)
    except OSError:
        pass
    return text


def loader_html() -> str:
    """A script that defines ``vegaEmbed`` from :func:`vega_bundle` unless the page has it."""
    return "<script>if (!window.vegaEmbed) {\n" + vega_bundle() + "\n}</script>"


def chart_html(spec: Mapping[str, Any], *, element_id: str | None = None) -> str:
    """HTML that draws a Vega-Lite spec with ``vegaEmbed`` (loaded once per page, offline).

    The script waits (up to 10 s) for ``window.vegaEmbed`` and draws SVG into a ``div`` of
    class ``kpi-widget-chart``; its ``aria-label`` is the chart title.

    Examples
    --------
    >>> out = chart_html({"title": "AHT </script>", "mark": "bar"}, element_id="c1")
    >>> out.startswith(
    ...     '<div class="kpi-widget-chart" id="c1" role="img" aria-label="AHT &lt;/script&gt;">'
    ... )
    True
    >>> "</script>\\"" in out
    False
    """
    cid = element_id or f"kpi-widget-chart-{next(_IDS)}"
    label = html.escape(spec_title(spec) or "chart", quote=True)
    return (
        f'<div class="kpi-widget-chart" id="{cid}" role="img" aria-label="{label}"></div>'
        "<script>(function () {"
        f"var spec = {script_json(dict(spec))}; var id = {json.dumps(cid)}; var tries = 0;"
        "function draw() {"
        "  var el = document.getElementById(id);"
        "  if (el && window.vegaEmbed) {"
        '    window.vegaEmbed(el, spec, {actions: false, renderer: "svg"}).catch(function (e) {'
        '      el.textContent = "This chart could not be drawn: " + e; });'
        "  } else if (tries++ < 200) { setTimeout(draw, 50); }"
        '  else if (el) { el.textContent = "The chart library did not load."; }'
        "}"
        "draw(); })();</script>"
    )


def to_svg(spec: Mapping[str, Any]) -> str:
    """A static SVG of a Vega-Lite spec (vl-convert), without the XML declaration."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(dict(spec))
    return re.sub(r"^<\?xml[^>]*>\s*", "", svg)


def mimebundle(
    spec: Mapping[str, Any], *, html_view: bool = True, loader: bool = False
) -> dict[str, Any]:
    """The display bundle of a spec: the spec itself, a plain-text line and, when
    ``html_view``, the offline HTML of :func:`chart_html` (after :func:`loader_html` when
    ``loader``: for a page that has not loaded the Vega bundle yet).

    Examples
    --------
    >>> b = mimebundle({"title": "AHT", "mark": "bar"}, html_view=False)
    >>> sorted(b), b["text/plain"]
    (['application/vnd.vegalite.v6+json', 'text/plain'], '<chart: AHT>')
    """
    title = spec_title(spec)
    bundle: dict[str, Any] = {
        SPEC_MIME: spec,
        "text/plain": f"<chart: {title}>" if title else "<chart>",
    }
    if html_view:
        bundle["text/html"] = (loader_html() if loader else "") + chart_html(spec)
    return bundle


def chart_bundle(chart: Any) -> dict[str, Any]:
    """The display bundle of an altair chart for an explorer's output area.

    ``text/html`` draws it offline (see :func:`chart_html`; the explorer loads the Vega
    bundle once); the Vega-Lite spec and a plain text line travel with it.

    Examples
    --------
    >>> import polars as pl
    >>> from kpi.charts import SPEC_MIME, bar_chart
    >>> b = chart_bundle(
    ...     bar_chart(
    ...         pl.DataFrame({"t": ["A"], "aht": [300.0]}), category="t", value="aht", title="AHT"
    ...     )
    ... )
    >>> sorted(b), b["text/plain"]
    (['application/vnd.vegalite.v6+json', 'text/html', 'text/plain'], '<chart: AHT>')
    """
    spec = chart.to_dict()
    return {"text/html": chart_html(spec), **mimebundle(spec, html_view=False)}


def renderer(spec: dict, **metadata: Any) -> dict[str, Any]:
    """altair's ``kpi`` renderer: the spec for the report renderer, plus offline HTML in
    JupyterLab (not under the report renderer, ``KPI_REPORT_RENDER=1``, which embeds the spec
    itself).
    """
    # in JupyterLab: draw offline with the Vega bundle shipped by vl-convert (loaded once per
    # page, never from a CDN), exactly as the widget explorers do
    return mimebundle(spec, html_view=os.environ.get("KPI_REPORT_RENDER") != "1", loader=True)


_registered = False


def enable_renderer() -> None:
    """Register (once) and enable :func:`renderer` as altair's ``kpi`` renderer.

    Examples
    --------
    >>> import altair as alt
    >>> enable_renderer()
    >>> alt.renderers.active
    'kpi'
    """
    global _registered
    import altair as alt

    if not _registered:
        alt.renderers.register("kpi", renderer)
        _registered = True
    alt.renderers.enable("kpi")
