"""The one number formatter: findings, tables, narratives and chart tooltips print a value of a
given unit the same way, so a report never says "−3.1 pts" in its findings and "-3.1 pp" in its
table for the same number.

Units are those of :class:`kpi.metrics.Metric` (``count``, ``ratio``, ``s``, ``h``, ``points``,
``currency``, ``erlang``) plus ``agents``; any other unit (or ``None``) is a plain number.

Rules
-----
- missing (``None``, NaN): ``missing`` (``"n/a"`` in sentences, ``"–"`` in tables);
- ratio: a percentage, ``81.2%``; a signed change of a ratio is in percentage points, ``+3.1 pp``;
- seconds: ``9.5 s`` below 10 s, ``45 s`` below 90 s, ``5 min 12 s`` from 90 s;
- counts and agents: whole values with separators (``12,410``); averages of counts keep the
  digits that matter (``0.43``, ``2.5``, ``12.5``, ``1,234``);
- hours ``1,234.5 h``, points ``85.2``, erlangs ``12.3 E``, currency ``1,234.50``;
- negative values take the minus sign ``−`` (U+2212); ``signed=True`` adds ``+`` to positives.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MINUS", "d3_format", "format_change", "format_value"]

MINUS = "\u2212"


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _count(v: float) -> str:
    if abs(v - round(v)) < 1e-9:
        return f"{round(v):,}"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}".rstrip("0")  # 0.43, 2.5


def _seconds(v: float) -> str:
    if v >= 90:
        m, s = divmod(round(v), 60)
        return f"{m} min {s} s"
    return f"{v:.0f} s" if v >= 10 else f"{v:.1f} s"


def format_value(
    value: float | None, unit: str | None, *, signed: bool = False, missing: str = "n/a"
) -> str:
    """A number as a manager reads it, by unit.

    Parameters
    ----------
    value
        The number (``None`` or NaN when unknown).
    unit
        The KPI's unit (see the module docstring); ``None`` for a plain number.
    signed
        Format a change: ``+`` on positives, ratio changes in percentage points.
    missing
        Text for an unknown value.

    Returns
    -------
    str

    Examples
    --------
    >>> format_value(12410, "count"), format_value(0.8123, "ratio"), format_value(312.4, "s")
    ('12,410', '81.2%', '5 min 12 s')
    >>> format_value(-0.031, "ratio", signed=True), format_value(-312.4, "s", signed=True)
    ('−3.1 pp', '−5 min 12 s')
    >>> [format_value(v, "count") for v in (0.4286, 2.5, 12.46, 1234.5, 1772.0)]
    ['0.43', '2.5', '12.5', '1,234', '1,772']
    >>> format_value(2.5, "agents"), format_value(1234.5, "h")
    ('2.5', '1,234.5 h')
    >>> format_value(None, "ratio"), format_value(float("nan"), "s", missing="–")
    ('n/a', '–')
    >>> format_value(85.24, "points"), format_value(12.34, "erlang"), format_value(1.5, "h")
    ('85.2', '12.3 E', '1.5 h')
    >>> format_value(1234.5, "currency"), format_value(7, None, signed=True)
    ('1,234.50', '+7')
    """
    if _is_missing(value):
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    v = float(value)
    sign = MINUS if v < 0 else ("+" if signed and v > 0 else "")
    a = abs(v)
    if unit == "ratio":
        text = f"{a * 100:.1f} pp" if signed else f"{a * 100:.1f}%"
    elif unit == "s":
        text = _seconds(a)
    elif unit == "h":
        text = f"{a:,.1f} h"
    elif unit == "erlang":
        text = f"{a:.1f} E"
    elif unit == "points":
        text = f"{a:,.1f}"
    elif unit == "currency":
        text = f"{a:,.2f}"
    elif unit in ("count", "agents"):
        text = _count(a)
    elif abs(a - round(a)) < 1e-9:
        text = f"{round(a):,}"
    else:
        text = f"{a:,.0f}" if a >= 100 else f"{a:,.2f}"
    return sign + text


def format_change(delta: float | None, unit: str | None, *, missing: str = "n/a") -> str:
    """The size of a change, without its sign, for a sentence that says "rose" or "fell":
    ratio changes in percentage points, other units as :func:`format_value`.

    Examples
    --------
    >>> format_change(-0.177, "ratio"), format_change(38.0, "s"), format_change(-1361, "count")
    ('17.7 pp', '38 s', '1,361')
    """
    if _is_missing(delta):
        return missing
    return format_value(abs(float(delta)), unit, signed=True).lstrip("+")


def d3_format(unit: str | None) -> str:
    """The d3-format string for axes and tooltips of a value in ``unit`` (Vega-Lite ``format``).

    Examples
    --------
    >>> d3_format("ratio"), d3_format("count"), d3_format("s")
    ('.1%', ',.2~f', ',.0f')
    """
    if unit == "ratio":
        return ".1%"
    if unit in ("s", "currency"):
        return ",.0f" if unit == "s" else ",.2f"
    return ",.2~f"
