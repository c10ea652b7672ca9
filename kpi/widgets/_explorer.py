"""The explorer: controls above an output area, and the offline drawing of its items.

Charts are drawn offline: the explorer loads the Vega, Vega-Lite and vega-embed JavaScript that
ships with ``vl-convert-python`` once (no CDN), and each chart output calls ``vegaEmbed`` on
its Vega-Lite spec. ipywidgets is imported inside the functions.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from kpi._vega import chart_html, loader_html, mimebundle
from kpi.cube import CubeWarning, progress_to
from kpi.errors import KpiError

# --------------------------------------------------------------------------------------------
# Offline chart output
# --------------------------------------------------------------------------------------------


def _is_chart(item: Any) -> bool:
    return type(item).__module__.startswith("altair") and hasattr(item, "to_dict")


def _bundle(item: Any) -> dict[str, Any]:
    """Any displayable item as a display-data output."""
    if _is_chart(item):
        # not validated against the Vega-Lite schema on every redraw (most of a redraw's time
        # with a thousand inline rows); kpi.charts' own tests validate what they build
        spec = item.to_dict(validate=False)
        data = {"text/html": chart_html(spec), **mimebundle(spec, html_view=False)}
    elif isinstance(item, str):
        data = {"text/html": f"<p>{html.escape(item)}</p>", "text/plain": item}
    elif isinstance(item, pl.DataFrame | pl.LazyFrame):
        from kpi.report import table

        t = table(item)
        data = {"text/html": t._repr_html_(), "text/plain": repr(t)}
    elif hasattr(item, "_repr_mimebundle_"):
        raw = item._repr_mimebundle_()
        data = raw[0] if isinstance(raw, tuple) else raw
        data = {k: v for k, v in data.items() if k in ("text/html", "text/plain")}
    elif hasattr(item, "_repr_html_"):
        data = {"text/html": item._repr_html_(), "text/plain": repr(item)}
    else:
        data = {"text/plain": str(item)}
    return {"output_type": "display_data", "data": data, "metadata": {}}


# --------------------------------------------------------------------------------------------
# The explorer
# --------------------------------------------------------------------------------------------


class Explorer:
    """Controls above an output area; any change re-renders the output.

    Parameters
    ----------
    title
        Heading shown above the controls.
    controls
        Name to ipywidgets control (its ``value`` is passed to ``render``).
    render
        ``render(values) -> list`` of items to show: altair charts, strings, frames (shown
        with :func:`kpi.report.table`), or objects with an HTML representation. A
        :class:`~kpi.errors.KpiError` is shown as a message instead.
    update
        Optional ``update(name, explorer)`` called when control ``name`` changed, before the
        redraw (to change the options of dependent controls).
    note
        A line of help under the title.

    Attributes
    ----------
    widget
        The ipywidgets box (what the notebook displays).
    items
        What the last render produced (charts, frames, text).
    error
        The message of the last failed render, else ``None``.
    notes
        The :class:`kpi.cube.CubeWarning` renders raised (each once), shown under the
        controls: a note, not a failure (a measure cube could not be written; the rows answer).
    """

    def __init__(
        self,
        title: str,
        controls: Mapping[str, Any],
        render: Callable[[dict[str, Any]], list[Any]],
        *,
        update: Callable[[str, Explorer], None] | None = None,
        note: str = "",
    ) -> None:
        import ipywidgets as w

        self.controls = dict(controls)
        self._render = render
        self._update = update
        self._quiet = False
        self.items: list[Any] = []
        self.error: str | None = None
        self.notes: list[str] = []
        self.renders = 0
        self.output = w.Output(layout=w.Layout(min_height="120px"))
        self.loader = w.Output(layout=w.Layout(display="none"))
        self.loader.outputs = (
            {
                "output_type": "display_data",
                "data": {"text/html": loader_html(), "text/plain": ""},
                "metadata": {},
            },
        )
        self.status = w.HTML()
        head = f"<h3 class='kpi-explorer-title'>{html.escape(title)}</h3>"
        if note:
            head += f"<p class='kpi-explorer-note'>{html.escape(note)}</p>"
        box = w.Box(
            list(self.controls.values()),
            layout=w.Layout(display="flex", flex_flow="row wrap", grid_gap="4px 16px"),
        )
        self.widget = w.VBox([w.HTML(head), box, self.status, self.output, self.loader])
        self.widget.add_class("kpi-explorer")
        for name, control in self.controls.items():
            control.observe(self._changed(name), names="value")
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The current value of every control."""
        return {name: c.value for name, c in self.controls.items()}

    def quietly(self, change: Callable[[], None]) -> None:
        """Change controls without a redraw per change (``update`` hooks use it)."""
        was, self._quiet = self._quiet, True
        try:
            change()
        finally:
            self._quiet = was

    def _changed(self, name: str) -> Callable[[Any], None]:
        def handler(_: Any) -> None:
            if self._quiet:
                return
            if self._update is not None:
                self.quietly(lambda: self._update(name, self))  # type: ignore[misc]
            self.refresh()

        return handler

    def refresh(self) -> None:
        """Render with the current values and replace the output."""
        self.status.value = "<em>updating…</em>"

        def building(message: str) -> None:  # a measure cube built on first use
            self.status.value = f"<em>updating… {html.escape(message)}</em>"

        with warnings.catch_warnings(record=True) as caught, progress_to(building):
            warnings.simplefilter("always")
            try:
                items = list(self._render(self.values()))
                self.error = None
            except KpiError as exc:
                items, self.error = [], str(exc)
        for w in caught:
            if not issubclass(w.category, CubeWarning):  # not ours to show: passed on
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
            elif str(w.message) not in self.notes:
                self.notes.append(str(w.message))
        self.items = items
        outputs = [_bundle(x) for x in items]
        if self.error:
            outputs.insert(0, _bundle(self.error))
        self.output.outputs = tuple(outputs)
        self.renders += 1
        self.status.value = "".join(
            f"<p class='kpi-explorer-note'>Note: {html.escape(n)}</p>" for n in self.notes
        )

    @property
    def charts(self) -> list[Any]:
        """The altair charts of the last render."""
        return [x for x in self.items if _is_chart(x)]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _dropdown(label: str, options: Sequence[Any], value: Any) -> Any:
    import ipywidgets as w

    values = [o[1] if isinstance(o, tuple) else o for o in options]
    return w.Dropdown(
        options=list(options),
        value=value if value in values else values[0],
        description=label,
        style={"description_width": "initial"},
    )
