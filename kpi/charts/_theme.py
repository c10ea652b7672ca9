"""The ``kpi`` chart theme: a colour-blind safe palette (Okabe-Ito), readable fonts, and the
``config`` every chart gets; :func:`enable` also enables the offline ``kpi`` renderer.
"""

from __future__ import annotations

from typing import Any

from kpi._vega import enable_renderer

__all__ = ["PALETTE", "STATUS_COLOURS", "THEME", "enable"]

#: Okabe-Ito colour-blind safe palette (blue, orange, bluish green, reddish purple, sky blue,
#: vermillion, yellow, black).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Good / warning / bad / neutral, distinguishable without red-green vision.
STATUS_COLOURS = {"good": "#0072B2", "warning": "#E69F00", "bad": "#D55E00", "neutral": "#7B8794"}
_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

#: The ``kpi`` theme: the ``config`` every chart gets.
THEME: dict[str, Any] = {
    "config": {
        "font": _FONT,
        "background": "#ffffff",
        "view": {"stroke": None, "continuousWidth": 720, "continuousHeight": 260},
        "range": {
            "category": list(PALETTE),
            "ordinal": {"scheme": "blues"},
            "heatmap": {"scheme": "viridis"},
            "ramp": {"scheme": "viridis"},
            "diverging": {"scheme": "blueorange"},
        },
        "title": {
            "anchor": "start",
            "fontSize": 15,
            "fontWeight": 600,
            "color": "#1f2933",
            "subtitleColor": "#5f6b7a",
            "subtitleFontSize": 12,
            "offset": 10,
        },
        "axis": {
            "labelFontSize": 12,
            "titleFontSize": 12,
            "titleFontWeight": 500,
            "labelColor": "#3e4c59",
            "titleColor": "#3e4c59",
            "gridColor": "#e4e7eb",
            "domainColor": "#9aa5b1",
            "tickColor": "#9aa5b1",
        },
        "axisX": {"grid": False, "labelAngle": 0},
        "legend": {
            "orient": "bottom",
            "labelFontSize": 12,
            "titleFontSize": 12,
            "symbolType": "circle",
        },
        "header": {"labelFontSize": 12, "titleFontSize": 12},
        "line": {"strokeWidth": 2.2},
        "mark": {"color": PALETTE[0]},
        "point": {"size": 45, "filled": True},
        "bar": {"cornerRadiusEnd": 2},
        "text": {"fontSize": 11, "color": "#3e4c59"},
    }
}

_enabled = False


def enable() -> None:
    """Register and enable the ``kpi`` theme and renderer (idempotent; builders call it).

    Examples
    --------
    >>> import altair as alt
    >>> enable()
    >>> alt.theme.active, alt.renderers.active
    ('kpi', 'kpi')
    """
    global _enabled
    import altair as alt

    if not _enabled:
        alt.theme.register("kpi", enable=False)(_theme)
        _enabled = True
    alt.theme.enable("kpi")
    # charts' rows are frames (kpi.charts._common._frame), written whole: no 5,000-row limit
    alt.data_transformers.enable("default", max_rows=None)
    enable_renderer()


def _theme() -> dict[str, Any]:
    return THEME
