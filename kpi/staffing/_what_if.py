"""What-ifs: changes of agents, handle time and volume, parsed from text and applied to a
staffing table's columns."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from kpi.errors import KpiError

__all__ = ["Change", "WhatIf", "parse_what_if"]

_QUANTITIES = ("agents", "aht", "volume")
_CHANGE = re.compile(
    r"^(?P<what>[a-z_]+)(?:\[(?P<col>\w+)=(?P<val>[^\]]+)\])?="
    r"(?P<sign>[+-]?)(?P<num>\d+(?:\.\d*)?|\.\d+)(?P<unit>%|s)?$"
)


@dataclass(frozen=True)
class Change:
    """One what-if change: ``quantity`` (agents, aht, volume) changed by ``op`` and ``value``.

    ``op`` is ``"add"`` (``+2``, ``-30s``), ``"scale"`` (``+10%`` is ×1.10, ``90%`` is ×0.90) or
    ``"set"`` (``15``). ``scope`` limits it to rows where each column equals the value.

    Examples
    --------
    >>> Change("agents", "add", 2.0, text="agents=+2")
    Change(quantity='agents', op='add', value=2.0, scope=(), text='agents=+2')
    """

    quantity: str
    op: str
    value: float
    scope: tuple[tuple[str, str], ...] = ()
    text: str = ""


@dataclass(frozen=True)
class WhatIf:
    """An ordered list of :class:`Change`; build it with :func:`parse_what_if`.

    Examples
    --------
    >>> parse_what_if(["agents=+2", "aht=-10%"]).describe()
    'agents=+2, aht=-10%'
    >>> bool(WhatIf())
    False
    """

    changes: tuple[Change, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def describe(self) -> str:
        """The changes as typed, e.g. ``"agents=+2, aht=-10%"``."""
        return ", ".join(c.text for c in self.changes) or "none"


def parse_what_if(items: Sequence[str] | str) -> WhatIf:
    """Parse what-if changes such as ``agents=+2``, ``aht=-10%``, ``volume[queue=Sales]=+5%``.

    Parameters
    ----------
    items
        One change per item (or one comma-separated string). Syntax
        ``QUANTITY[COLUMN=VALUE]=CHANGE`` with QUANTITY ``agents``, ``aht`` or ``volume`` and an
        optional scope; CHANGE ``+n``/``-n`` adds (``aht`` in seconds, ``s`` allowed),
        ``+x%``/``-x%`` scales, ``x%`` scales to x percent and a bare ``n`` sets the value.

    Returns
    -------
    WhatIf

    Raises
    ------
    KpiError
        On any other form, naming the item and the valid syntax.

    Examples
    --------
    >>> w = parse_what_if(["agents=+2", "aht=-10%", "volume[team=Sales]=120"])
    >>> [(c.quantity, c.op, c.value, c.scope) for c in w.changes]
    [('agents', 'add', 2.0, ()), ('aht', 'scale', 0.9, ()), ('volume', 'set', 120.0, (('team', 'Sales'),))]
    """
    if isinstance(items, str):
        items = [p for p in items.split(",") if p.strip()]
    changes = []
    for raw in items:
        text = raw.strip().replace(" ", "")
        m = _CHANGE.match(text)
        if not m or m["what"] not in _QUANTITIES:
            raise KpiError(
                f"bad what-if {raw!r}: use QUANTITY=CHANGE with QUANTITY one of "
                f"{', '.join(_QUANTITIES)} and CHANGE like +2, -1, +10%, -5%, 90% or 15 "
                "(optionally scoped: agents[team=Sales]=+2)"
            )
        num = float(m["num"])
        if m["unit"] == "s" and m["what"] != "aht":
            raise KpiError(f"bad what-if {raw!r}: the 's' suffix is for aht seconds only")
        if m["unit"] == "%":
            factor = 1.0 + num / 100.0 if m["sign"] == "+" else 1.0 - num / 100.0
            if not m["sign"]:
                factor = num / 100.0
            op, value = "scale", factor
        elif m["sign"]:
            op, value = "add", num if m["sign"] == "+" else -num
        else:
            op, value = "set", num
        if m["what"] == "aht" and ((op == "scale" and value <= 0) or (op == "set" and value <= 0)):
            raise KpiError(f"bad what-if {raw!r}: handle time must stay above 0 seconds")
        scope = ((m["col"], m["val"]),) if m["col"] else ()
        changes.append(Change(m["what"], op, value, scope, text))
    return WhatIf(tuple(changes))


def _apply_changes(base: pl.Expr, quantity: str, what_if: WhatIf, schema: pl.Schema) -> pl.Expr:
    expr = base
    for c in what_if.changes:
        if c.quantity != quantity:
            continue
        if c.op == "add":
            new = expr + c.value
        elif c.op == "scale":
            new = expr * c.value
        else:
            new = pl.lit(c.value, dtype=pl.Float64)
        if c.scope:
            cond = pl.lit(value=True)
            for col, val in c.scope:
                if col not in schema:
                    raise KpiError(
                        f"what-if {c.text!r}: no column {col!r} in the staffing table; "
                        f"it has: {', '.join(schema.names())}"
                    )
                cond = cond & (pl.col(col).cast(pl.String) == val)
            new = pl.when(cond).then(new).otherwise(expr)
        expr = new
    return expr.clip(lower_bound=0.0)
