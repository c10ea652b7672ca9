"""What a report notebook displays for the renderer: its header, its findings, safe tables.

The contract between a notebook and :func:`kpi.report.render` is a pair of custom MIME types.
``kpi.report.header(...)`` displays a JSON document of type :data:`HEADER_MIME` (title, period,
comparison, data source, KPI definitions and targets); ``kpi.report.findings(...)`` displays one
of type :data:`FINDINGS_MIME` (the narrative). In JupyterLab both also carry an escaped
``text/html`` view. The renderer lifts them out of the executed notebook into the report's
header and the findings box at the top, escaping every string, and drops them from the body.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from kpi._format import MINUS, format_change, format_value
from kpi._mask import mask_identifiers

__all__ = [
    "FINDINGS_MIME",
    "HEADER_MIME",
    "Findings",
    "ReportHeader",
    "Table",
    "findings",
    "header",
    "scorecard_findings",
    "table",
]

HEADER_MIME = "application/vnd.kpi.report-header+json"
FINDINGS_MIME = "application/vnd.kpi.report-findings+json"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _period_dict(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    from kpi.periods import Period, parse_period

    p = value if isinstance(value, Period) else parse_period(value)
    return {"label": p.label, "start": p.start.isoformat(), "end": p.end.isoformat()}


def _data_dict(data: Any) -> dict[str, Any] | None:
    if data is None:
        return None
    from kpi.data import Dataset

    if isinstance(data, Dataset):
        meta = data.meta or {}
        return {
            "path": str(data.path) if data.path else None,
            "name": str(meta["name"]) if meta.get("name") else None,
            "source": str(meta["source"]) if meta.get("source") else None,
            "timezone": data.tz,
            "tables": sorted(data.tables),
        }
    if isinstance(data, Mapping):
        return {str(k): v for k, v in data.items()}
    return {"path": str(Path(data)) if isinstance(data, Path) else str(data)}


def _kpi_dicts(
    kpis: Iterable[Any], params: Mapping[str, Any] | None, targets: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    items: list[Any] = []
    for k in [kpis] if isinstance(kpis, str) else kpis:
        items += [x.strip() for x in k.split(",") if x.strip()] if isinstance(k, str) else [k]
    out: list[dict[str, Any]] = []
    ids = [k for k in items if isinstance(k, str) or hasattr(k, "build")]
    resolved: dict[str, dict[str, Any]] = {}
    if ids:
        from kpi.metrics import resolve

        for metric, p in resolve(ids, params):
            t = metric.target_for(p)  # a variant may change the unit, and so the target
            resolved[metric.id] = {
                "id": metric.id,
                "label": metric.label,
                "formula": metric.build(p).formula,
                "unit": metric.unit_for(p),
                "direction": metric.direction,
                "target": t.target if t else None,
                "red": t.red if t else None,
            }
    for k in items:
        if isinstance(k, Mapping):
            out.append({str(key): v for key, v in k.items()})
        else:
            kid = k if isinstance(k, str) else k.id
            out.extend(v for key, v in resolved.items() if key == kid or kid == "all")
    for entry in out:
        override = (targets or {}).get(entry.get("id"))
        if isinstance(override, Mapping):
            entry.update({k: v for k, v in override.items() if k in ("target", "red")})
        elif isinstance(override, (int, float)):
            entry["target"] = override
    return out


class _Display:
    mime = ""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def _html(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {self.mime: self.payload, "text/html": self._html(), "text/plain": self._text()}

    def __repr__(self) -> str:
        return self._text()


class ReportHeader(_Display):
    """The header of a report (see :func:`header`)."""

    mime = HEADER_MIME

    def _text(self) -> str:
        p = self.payload
        lines = [p.get("title") or "", f"period: {(p.get('period') or {}).get('label', '-')}"]
        if p.get("compare"):
            lines.append(f"compared with: {p['compare']['label']}")
        lines += [f"{k['id']}: {k.get('formula', '')}" for k in p.get("kpis", [])]
        return "\n".join(lines)

    def _html(self) -> str:
        p = self.payload
        rows = "".join(
            f"<tr><td>{_esc(k.get('label') or k.get('id'))}</td><td>{_esc(k.get('formula'))}</td>"
            f"<td>{_esc(k.get('target'))}</td></tr>"
            for k in p.get("kpis", [])
        )
        period = (p.get("period") or {}).get("label", "")
        return (
            f"<div><h1>{_esc(p.get('title'))}</h1><p>{_esc(p.get('subtitle'))}</p>"
            f"<p>Period: {_esc(period)}</p>"
            + (
                f"<table><tr><th>KPI</th><th>Definition</th><th>Target</th></tr>{rows}</table>"
                if rows
                else ""
            )
            + "</div>"
        )


class Findings(_Display):
    """The findings (narrative) of a report (see :func:`findings`)."""

    mime = FINDINGS_MIME

    def _text(self) -> str:
        return "\n".join(f"- {item}" for item in self.payload["items"])

    def _html(self) -> str:
        items = "".join(f"<li>{_esc(item)}</li>" for item in self.payload["items"])
        return f"<div><strong>{_esc(self.payload['title'])}</strong><ul>{items}</ul></div>"


def header(
    title: str,
    *,
    subtitle: str | None = None,
    period: Any = None,
    compare: Any = None,
    data: Any = None,
    kpis: Iterable[Any] = (),
    kpi_params: Mapping[str, Any] | None = None,
    targets: Mapping[str, Any] | None = None,
    notes: Iterable[str] = (),
) -> ReportHeader:
    """Declare the report header; display the result (the last expression of a cell).

    Parameters
    ----------
    title, subtitle
        Report title and the one-line question it answers.
    period, compare
        Period labels (``"2026-02"``) or :class:`kpi.periods.Period` objects.
    data
        The :class:`kpi.Dataset` (its path, source and time zone are shown) or a path.
    kpis
        KPI ids from :mod:`kpi.metrics` (their formula under ``kpi_params`` and their target
        are listed) or mappings with ``id``, ``label``, ``formula``, ``unit``, ``target``.
    kpi_params
        Definition variants, ``{"service_level.threshold_s": 30}``.
    targets
        Target overrides per KPI id: a number or ``{"target": ..., "red": ...}``.
    notes
        Further lines for the header (data caveats).

    Returns
    -------
    ReportHeader
        Displays as :data:`HEADER_MIME` JSON (lifted by the renderer) and escaped HTML.

    Examples
    --------
    >>> h = header("Overview", period="2026-02", kpis=[{"id": "x", "formula": "a / b"}])
    >>> h.payload["period"]
    {'label': '2026-02', 'start': '2026-02-01', 'end': '2026-03-01'}
    >>> sorted(h._repr_mimebundle_())
    ['application/vnd.kpi.report-header+json', 'text/html', 'text/plain']
    """
    payload = {
        "title": str(title),
        "subtitle": None if subtitle is None else str(subtitle),
        "period": _period_dict(period),
        "compare": _period_dict(compare),
        "data": _data_dict(data),
        "kpis": _kpi_dicts(kpis, kpi_params, targets),
        "notes": [str(n) for n in notes],
    }
    return ReportHeader(payload)


def findings(items: str | Iterable[Any], *, title: str = "Findings") -> Findings:
    """Declare the report's findings (the narrative shown at the top of the report).

    Parameters
    ----------
    items
        One string (split into lines) or an iterable of strings (or objects with a ``text``
        attribute); each becomes a bullet. Text from data is escaped when rendered.
    title
        Heading of the findings box.

    Examples
    --------
    >>> findings("Volume fell 25%.\\nTeam B lost 6 agents.").payload["items"]
    ['Volume fell 25%.', 'Team B lost 6 agents.']
    """
    if isinstance(items, str):
        lines = [line.strip() for line in items.splitlines()]
    else:
        lines = [str(getattr(i, "text", i)).strip() for i in items]
    return Findings({"title": str(title), "items": [line for line in lines if line]})


_STATUS = ("green", "amber", "red")


def _fmt(
    value: Any, *, percent: bool, decimals: int, unit: str | None = None, signed: bool = False
) -> str:
    """One cell's text: numbers with a unit by :func:`kpi._format.format_value` (as findings
    print them), percentages by its ratio rule with ``decimals`` places, other values as is.

    Examples
    --------
    >>> (
    ...     _fmt(0.8123, percent=True, decimals=1),
    ...     _fmt(-0.031, percent=False, decimals=1, unit="ratio", signed=True),
    ... )
    ('81.2%', '−3.1 pp')
    >>> (
    ...     _fmt(312.4, percent=False, decimals=1, unit="s"),
    ...     _fmt(9622.0, percent=False, decimals=1, unit="count"),
    ... )
    ('5 min 12 s', '9,622')
    >>> [_fmt(v, percent=False, decimals=1, unit="count") for v in (0.4286, 12.46, 1234.5)]
    ['0.43', '12.5', '1,234']
    >>> _fmt(-0.124, percent=True, decimals=1, signed=True), _fmt(3, percent=False, decimals=1)
    ('−12.4%', '3')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    sign = "+" if signed else ""
    if isinstance(value, (int, float)) and unit:
        return format_value(value, unit, signed=signed, missing="–")
    if percent and isinstance(value, (int, float)):
        mark = MINUS if value < 0 else ("+" if signed and value > 0 else "")
        return f"{mark}{abs(value) * 100:.{decimals}f}%"
    if isinstance(value, int):
        return f"{value:{sign},}"
    if isinstance(value, float):
        return f"{value:{sign},.{decimals}f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Table:
    """An escaped HTML table of a small frame (see :func:`table`)."""

    def __init__(self, frame: pl.DataFrame, options: dict[str, Any], *, more: bool) -> None:
        self.frame, self.options, self.more = frame, options, more
        shown = options["columns"] or [c for c in frame.columns if c != options["unit_column"]]
        self.columns = list(shown)

    def _unit(self, row: Mapping[str, Any], column: str) -> str | None:
        o = self.options
        if column in o["unit_map"]:
            return o["unit_map"][column]
        if o["unit_column"] and column in o["unit_columns"]:
            return row.get(o["unit_column"])
        return None

    def _cells(self) -> list[list[str]]:
        o = self.options
        return [
            [
                _fmt(
                    row[c],
                    percent=c in o["percent"],
                    decimals=o["decimals"],
                    unit=self._unit(row, c),
                    signed=c in o["signed"],
                )
                for c in self.columns
            ]
            for row in self.frame.iter_rows(named=True)
        ]

    def _labels(self) -> list[str]:
        return [self.options["labels"].get(c, c) for c in self.columns]

    def _repr_html_(self) -> str:
        numeric = [self.frame.schema[c].is_numeric() for c in self.columns]
        head = "".join(
            f'<th class="{"num" if n else "txt"}">{_esc(label)}</th>'
            for label, n in zip(self._labels(), numeric, strict=True)
        )
        rows = []
        for cells in self._cells():
            tds = []
            for v, n, c in zip(cells, numeric, self.columns, strict=True):
                cls = "num" if n else "txt"
                if c == "status" and v in _STATUS:
                    cls += f" kpi-status kpi-status-{v}"
                tds.append(f'<td class="{cls}">{_esc(v)}</td>')
            rows.append("<tr>" + "".join(tds) + "</tr>")
        caption = self.options["caption"]
        cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
        more = '<p class="kpi-more">(more rows not shown)</p>' if self.more else ""
        return (
            f'<table class="kpi-table">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>{more}"
        )

    def __repr__(self) -> str:
        labels = self._labels()
        cells = self._cells()
        widths = [len(c) for c in labels]
        for row in cells:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(labels, widths, strict=True)).rstrip()]
        lines += [
            "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        ]
        caption = self.options["caption"]
        return "\n".join(([caption] if caption else []) + lines)


def table(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    caption: str | None = None,
    columns: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    percent: Iterable[str] = (),
    units: str | Mapping[str, str] | None = None,
    unit_columns: Iterable[str] = (),
    column_units: Mapping[str, str] | None = None,
    signed: Iterable[str] = (),
    decimals: int = 1,
    max_rows: int = 50,
    show_identifiers: bool = False,
) -> Table:
    """A readable, escaped table of an aggregated frame for a report.

    Parameters
    ----------
    frame
        The (small, aggregated) frame; a LazyFrame is collected here, at most ``max_rows + 1``
        rows.
    caption
        Table caption.
    columns, labels
        Columns to show, in order (default: all but the ``units`` column), and header texts.
    percent
        Columns holding fractions in [0, 1], shown as percentages.
    units
        A mapping column -> unit, or the name of a column that holds each row's unit (for a
        scorecard mixing ratios, seconds and counts); units are those of :mod:`kpi.metrics`:
        ``ratio`` (shown as %, differences as percentage points), ``s``, ``h``, ``count``,
        ``currency``, ``points``, ``erlang``.
    unit_columns
        With a unit column: the columns formatted by each row's unit.
    column_units
        Column -> unit for columns in one unit beside a unit column (the drivers of a KPI:
        each driver's value in its own unit, its contribution in the KPI's).
    signed
        Columns shown with a sign (changes).
    decimals
        Decimals of floats and percentages.
    max_rows
        Rows shown; a note says when there are more.
    show_identifiers
        Show customer identifiers unmasked (default: masked with
        :func:`kpi.report.mask_identifiers`).

    Notes
    -----
    Every cell is HTML-escaped: a topic called ``<img src=x onerror=alert(1)>`` shows as text.
    Nulls show as an en dash. A ``status`` column with ``green``/``amber``/``red`` gets a
    coloured cell (the word stays, so colour is never the only signal).

    Examples
    --------
    >>> import polars as pl
    >>> t = table(pl.DataFrame({"team": ["<b>A</b>", "B"], "sl": [0.8123, None]}), percent=["sl"])
    >>> t
    team      sl
    <b>A</b>  81.2%
    B         –
    >>> "&lt;b&gt;A&lt;/b&gt;" in t._repr_html_()
    True
    >>> card = pl.DataFrame(
    ...     {
    ...         "kpi": ["SL", "AHT"],
    ...         "unit": ["ratio", "s"],
    ...         "value": [0.81, 312.4],
    ...         "change": [-0.031, 12.0],
    ...     }
    ... )
    >>> table(card, units="unit", unit_columns=["value", "change"], signed=["change"])
    kpi  value       change
    SL   81.0%       −3.1 pp
    AHT  5 min 12 s  +12 s
    >>> drivers = pl.DataFrame(
    ...     {"driver": ["rate"], "unit": ["s"], "value": [312.4], "contribution": [-0.008]}
    ... )
    >>> table(
    ...     drivers,
    ...     units="unit",
    ...     unit_columns=["value"],
    ...     column_units={"contribution": "ratio"},
    ...     signed=["contribution"],
    ... )
    driver  value       contribution
    rate    5 min 12 s  −0.8 pp
    """
    unit_column = units if isinstance(units, str) else None
    options = {
        "caption": caption,
        "columns": list(columns) if columns is not None else None,
        "labels": dict(labels or {}),
        "percent": set(percent),
        "unit_column": unit_column,
        "unit_map": {
            **(dict(units) if isinstance(units, Mapping) else {}),
            **(column_units or {}),
        },
        "unit_columns": set(unit_columns),
        "signed": set(signed),
        "decimals": decimals,
    }
    lf = mask_identifiers(frame.lazy(), show=show_identifiers)
    df = lf.head(max_rows + 1).collect()
    from kpi.errors import KpiError

    wanted = [*(options["columns"] or []), *([unit_column] if unit_column else [])]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise KpiError(
            f"table: no column {', '.join(map(repr, missing))}; the frame has: {', '.join(df.columns)}"
        )
    return Table(df.head(max_rows), options, more=df.height > max_rows)


def scorecard_findings(
    card: pl.DataFrame | pl.LazyFrame,
    *,
    period: str | None = None,
    compare: str | None = None,
    max_items: int = 5,
    min_change: float = 0.05,
) -> list[str]:
    """Plain sentences about the KPIs of a scorecard that moved most or miss their target.

    Parameters
    ----------
    card
        A scorecard frame (:func:`kpi.scorecard.scorecard`): ``label``, ``unit``, ``value``,
        ``previous``, ``change``, ``change_rel``, ``status`` (``target`` optional).
    period, compare
        Period labels to name in the sentences.
    max_items
        At most this many sentences.
    min_change
        Relative change below which a KPI is only mentioned when its status is red.

    Returns
    -------
    list[str]
        Red KPIs first, then the largest relative changes.

    Notes
    -----
    Ratios move in percentage points, ``pp`` (``value − previous``), everything else in per cent of
    the previous value (``change_rel``). Counts that add up over time (contacts offered, tickets
    handled: a sum with no denominator) are compared at daily pace when the two periods differ
    in length (a 28-day month against a 31-day one), and the sentence says so:
    ``rate = (value / days) / (previous / days before) − 1``. No sentence is made on an unknown
    value (null), and a change needs both values.

    Examples
    --------
    >>> import polars as pl
    >>> card = pl.DataFrame(
    ...     {
    ...         "label": ["Contacts handled", "Service level", "AHT"],
    ...         "unit": ["count", "ratio", "s"],
    ...         "value": [9622.0, 0.498, 505.0],
    ...         "previous": [10983.0, 0.675, 467.0],
    ...         "change": [-1361.0, -0.177, 38.0],
    ...         "change_rel": [-0.124, -0.262, 0.081],
    ...         "target": [None, 0.8, None],
    ...         "status": [None, "red", None],
    ...     }
    ... )
    >>> for s in scorecard_findings(card, period="2026-02", compare="2026-01"):
    ...     print(s)
    Service level fell 17.7 pp, from 67.5% in 2026-01 to 49.8% in 2026-02; red against its target of 80.0%.
    Contacts handled fell 12.4%, from 10,983 in 2026-01 to 9,622 in 2026-02.
    AHT rose 8.1%, from 7 min 47 s in 2026-01 to 8 min 25 s in 2026-02.

    Contacts over months of different lengths, at daily pace:

    >>> offered = pl.DataFrame(
    ...     {
    ...         "id": ["contacts_offered"],
    ...         "label": ["Contacts offered"],
    ...         "unit": ["count"],
    ...         "value": [28000.0],
    ...         "previous": [31310.0],
    ...         "change": [-3310.0],
    ...         "change_rel": [-0.1057],
    ...         "status": [None],
    ...     }
    ... )
    >>> scorecard_findings(offered, period="2026-02", compare="2026-01", min_change=0.0)
    ['Contacts offered: 1,000 a day in 2026-02 against 1,010 in 2026-01 (−1.0%; 2026-02 has 28 days, 2026-01 has 31).']
    """
    df = card.collect() if isinstance(card, pl.LazyFrame) else card
    days = _days(period), _days(compare)
    records = [_at_daily_pace(r, *days) for r in df.iter_rows(named=True)]
    rows = sorted(
        records,
        key=lambda r: (r.get("status") != "red", -abs(r.get("change_rel") or 0.0)),
    )
    now = f" in {period}" if period else ""
    before = f" in {compare}" if compare else ""
    out: list[str] = []
    for r in rows:
        if len(out) >= max_items:
            break
        value, previous, unit = r.get("value"), r.get("previous"), r.get("unit")
        rel, status = r.get("change_rel"), r.get("status")
        if value is None:
            continue
        moved = rel is not None and abs(rel) >= min_change
        if not moved and status != "red":
            continue
        text = functools.partial(_fmt, percent=False, decimals=1, unit=unit)
        if r.get("_daily"):
            now_d, before_d = days
            sentence = (
                f"{r['label']}: {text(r['_daily'][0])} a day{now} against "
                f"{text(r['_daily'][1])}{before} ({_fmt(rel, percent=True, decimals=1, signed=True)}"
                f"; {period} has {now_d} days, {compare} has {before_d})"
            )
        elif previous is None or r.get("change") is None or r["change"] == 0:
            sentence = f"{r['label']} was {text(value)}{now}"
        else:
            verb = "rose" if r["change"] > 0 else "fell"
            size = (
                format_change(r["change"], unit)
                if unit == "ratio"
                else (f"{abs(rel):.1%}" if rel is not None else format_change(r["change"], unit))
            )
            sentence = (
                f"{r['label']} {verb} {size}, from {text(previous)}{before} to {text(value)}{now}"
            )
        if status == "red" and r.get("target") is not None:
            sentence += f"; red against its target of {text(r['target'])}"
        out.append(sentence + ".")
    return out


def _days(label: str | None) -> int | None:
    """Days in a period label (``2026-02``: 28); None without one or for a bad label."""
    if not label:
        return None
    from kpi.errors import KpiError
    from kpi.periods import parse_period

    try:
        p = parse_period(str(label))
    except KpiError:
        return None
    return (p.end - p.start).days


def _additive_count(kpi_id: Any) -> bool:
    """A count that adds up over time (a sum with no denominator): contacts, tickets."""
    from kpi.metrics import METRICS

    m = METRICS.get(kpi_id) if isinstance(kpi_id, str) else None
    if m is None or m.unit != "count":
        return False
    b = m.build()
    return b.denominator is None and b.numerator.kind == "sum"


def _at_daily_pace(r: dict[str, Any], now_days: int | None, before_days: int | None) -> dict:
    """A scorecard row whose count is compared per day when the periods differ in length."""
    value, previous = r.get("value"), r.get("previous")
    if (
        now_days
        and before_days
        and now_days != before_days
        and value is not None
        and previous
        and _additive_count(r.get("id"))
    ):
        a, b = value / now_days, previous / before_days
        return {**r, "change": a - b, "change_rel": a / b - 1, "_daily": (a, b)}
    return r
