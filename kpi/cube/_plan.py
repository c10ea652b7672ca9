"""How each catalogue source is stored in a cube's cells, read from its aggregation expression.

A source's aggregation is recognised by its shape (:func:`plan_source`), so that a coarser cell
is exactly a roll-up of finer ones:

- ``X.sum()`` (or ``X.sum().cast(T)``): the per-row ``X`` summed per cell; rolls up as a sum.
- ``X.filter(P).max()``: ``when(P).then(X)``'s maximum per cell; rolls up as a maximum.
- ``pl.col(C).filter(P).drop_nulls().n_unique()``: a bit set of ``C``'s values per cell, as
  ``UInt64`` words, when ``C`` has few values; rolls up as a bitwise or, counted with a
  population count.

Anything else is not stored (the rows answer it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kpi.metrics import Source

__all__ = [
    "Stored",
    "bit_words",
    "distinct_input",
    "max_input",
    "plan_source",
    "rollup_exprs",
    "sum_input",
]


@dataclass
class Stored:
    """One source as stored: its kind, the per-row values, the cell aggregations and the
    stored columns (``words`` for a bit set)."""

    kind: str
    rows: list[pl.Expr]
    cells: list[pl.Expr]
    words: list[str] = field(default_factory=list)
    first: list[pl.Expr] = field(default_factory=list)


def _same(a: pl.Expr, b: pl.Expr) -> bool:
    try:
        return bool(a.meta.eq(b))
    except Exception:  # pragma: no cover - an expression meta cannot compare
        return False


def _inputs(e: pl.Expr) -> list[pl.Expr]:
    try:
        return e.meta.pop()
    except Exception:  # pragma: no cover - a leaf
        return []


def sum_input(agg: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """``X`` when ``agg`` is ``X.sum()`` or ``X.sum().cast(dtype)``, else None."""
    for top in (agg, *_inputs(agg)):
        for x in _inputs(top)[:1]:
            if _same(agg, x.sum()) or _same(agg, x.sum().cast(dtype)):
                return x
    return None


def max_input(agg: pl.Expr) -> pl.Expr | None:
    """``when(P).then(X)`` when ``agg`` is ``X.filter(P).max()``; ``X`` for ``X.max()``."""
    inner = _inputs(agg)
    if len(inner) != 1:
        return None
    x = inner[0]
    if _same(agg, x.max()):
        parts = _inputs(x)
        if len(parts) == 2:
            pred, val = parts
            if _same(x, val.filter(pred)):
                return pl.when(pred).then(val)
        return x
    return None


def distinct_input(agg: pl.Expr) -> tuple[str, pl.Expr] | None:
    """``(C, P)`` when ``agg`` is ``pl.col(C).filter(P).drop_nulls().n_unique().cast(Int64)``."""
    e = agg
    for _ in range(3):
        inner = _inputs(e)
        if len(inner) != 1:
            return None
        e = inner[0]
    parts = _inputs(e)
    if len(parts) != 2:
        return None
    pred, col = parts
    if not col.meta.is_column():
        return None
    name = col.meta.output_name()
    want = pl.col(name).filter(pred).drop_nulls().n_unique().cast(pl.Int64)
    return (name, pred) if _same(agg, want) else None


def bit_words(i: int, col: str, pred: pl.Expr, values: list[Any]) -> Stored:
    """The bit set of the values of ``col`` among the rows where ``pred`` holds."""
    code = pl.col(col).replace_strict(
        values, list(range(len(values))), default=None, return_dtype=pl.Int64
    )
    # the value's code where the row counts, else null (computed once, before the words)
    first = pl.when(pred.fill_null(False)).then(code).alias(f"_c{i}")
    c = pl.col(f"_c{i}")
    bit = (c % 64).replace_strict(
        list(range(64)), [1 << k for k in range(64)], return_dtype=pl.UInt64
    )
    n = (len(values) + 63) // 64
    words = [f"m{i}_{k}" for k in range(n)]
    rows = [
        pl.when(c // 64 == k).then(bit).otherwise(pl.lit(0, pl.UInt64)).alias(w)
        for k, w in enumerate(words)
    ]
    cells = [pl.col(w).bitwise_or().alias(w) for w in words]
    return Stored("distinct", rows, cells, words, first=[first])


def plan_source(
    i: int, src: Source, kind: str, schema: pl.Schema, values: dict[str, list[Any] | None]
) -> Stored | None:
    """How source ``i`` is stored (None: not in the cube)."""
    name = f"m{i}"
    if kind == "sum":
        dtype = pl.LazyFrame(schema=schema).select(src.agg).collect_schema().dtypes()[0]
        x = sum_input(src.agg, dtype)
        if x is None:  # any other additive aggregation: computed per cell as it is
            return Stored("sum", [], [src.agg.alias(name)])
        cell = pl.col(f"_v{i}").sum().cast(dtype).alias(name)
        return Stored("sum", [x.alias(f"_v{i}")], [cell])
    if kind == "max":
        x = max_input(src.agg)
        if x is None:
            return None
        return Stored("max", [x.alias(f"_v{i}")], [pl.col(f"_v{i}").max().alias(name)])
    found = distinct_input(src.agg)
    if found is None or values.get(found[0]) is None:
        return None
    return bit_words(i, found[0], found[1], values[found[0]] or [])


def rollup_exprs(kind: str, col: str, words: list[str] | None) -> list[pl.Expr]:
    """The aggregation of a stored column over cells: a sum, a maximum, a bitwise or."""
    if kind == "distinct":
        return [pl.col(w).bitwise_or().alias(w) for w in words or []]
    return [pl.col(col).max() if kind == "max" else pl.col(col).sum()]
