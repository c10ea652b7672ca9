"""The input of a search: the leaf table checked and gathered, and the statistics of a segment."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi.errors import KpiError

__all__ = ["NULL_LABEL"]

NULL_LABEL = "(null)"


# ---- input ---------------------------------------------------------------------------------


def _columns(table: pl.DataFrame | pl.LazyFrame) -> tuple[pl.LazyFrame, dict[str, pl.DataType]]:
    if not isinstance(table, (pl.DataFrame, pl.LazyFrame)):
        raise KpiError(
            f"table must be a polars DataFrame or LazyFrame, got {type(table).__name__}"
        )
    lf = table.lazy()
    return lf, dict(lf.collect_schema())


def _check(
    schema: Mapping[str, pl.DataType],
    dims: Sequence[str],
    measures: Sequence[str],
) -> list[str]:
    """Validate dimension and measure column names and dtypes; returns dims as a list."""
    if isinstance(dims, str):
        dims = [dims]
    dims = list(dims)
    names = list(schema)
    if not dims:
        raise KpiError(f"no dimension given; columns of the table: {', '.join(names)}")
    dup = sorted({d for d in dims if dims.count(d) > 1})
    if dup:
        raise KpiError(f"dimension(s) given twice: {', '.join(dup)}")
    for role, cols in (("dimension", dims), ("measure", measures)):
        missing = [c for c in cols if c not in schema]
        if missing:
            raise KpiError(
                f"unknown {role} column(s) {', '.join(map(repr, missing))}; "
                f"columns of the table: {', '.join(names)}"
            )
    twice = sorted({c for c in measures if measures.count(c) > 1})
    if twice:  # the baseline and the current period in one column: nothing to compare
        raise KpiError(
            f"measure column(s) {', '.join(map(repr, twice))} given for two roles (the baseline and the current period)"
        )
    both = sorted(set(dims) & set(measures))
    if both:
        raise KpiError(f"column(s) {', '.join(both)} used both as dimension and as measure")
    for c in measures:
        if not schema[c].is_numeric():
            raise KpiError(
                f"measure column {c!r} is {schema[c]}, not numeric; convert it or pick another column"
            )
    return dims


def _spec(
    baseline: str | None, current: str | None, ratio: Sequence[str] | None
) -> tuple[list[str], tuple[str, str] | None]:
    if baseline is None or current is None:
        raise KpiError("give both baseline= and current= (the measure columns of the two periods)")
    if ratio is None:
        return [baseline, current], None
    if isinstance(ratio, str) or len(ratio) != 2:
        raise KpiError(
            "ratio= takes two denominator columns (baseline, current); baseline= and current= "
            f"are then the numerators; got {ratio!r}"
        )
    return [baseline, current, ratio[0], ratio[1]], (ratio[0], ratio[1])


@dataclass
class _Leaves:
    """The leaf table as arrays: value codes per dimension (Fortran order) and measures."""

    codes: np.ndarray  # (n_leaves, n_dims) int32
    labels: list[list[str]]  # per dimension, the label of each code
    measures: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(self.codes)


def _leaves(lf: pl.LazyFrame, dims: list[str], measures: list[str]) -> _Leaves:
    """Collect once, encode the dimensions and sum rows that share a leaf.

    Null dimension values become ``"(null)"``, null measures 0. Enum dimensions keep their
    categories; other dimensions are cast to strings and coded in sorted order.
    """
    schema = lf.collect_schema()
    enum = {d for d in dims if isinstance(schema[d], pl.Enum)}
    coded = [
        pl.col(d).to_physical().cast(pl.Int32).fill_null(len(schema[d].categories))
        if d in enum
        else (pl.col(d).cast(pl.String).fill_null(NULL_LABEL).rank("dense") - 1).cast(pl.Int32)
        for d in dims
    ]
    labels_q = [
        pl.col(d).cast(pl.String).fill_null(NULL_LABEL).unique().sort().implode().alias(d)
        for d in dims
        if d not in enum
    ]
    values = [pl.col(m).cast(pl.Float64).fill_null(0.0) for m in measures]
    df = lf.select(*coded, *values).collect()
    if df.height == 0:
        raise KpiError("the table is empty: there is no change to explain")
    lab = lf.select(labels_q).collect().row(0, named=True) if labels_q else {}
    labels = [
        [*map(str, schema[d].categories.to_list()), NULL_LABEL] if d in enum else list(lab[d])
        for d in dims
    ]
    codes = np.empty((df.height, len(dims)), dtype=np.int32, order="F")
    for j, d in enumerate(dims):
        codes[:, j] = df[d].to_numpy()
    arrays = {m: df[m].to_numpy() for m in measures}
    bad = [m for m, a in arrays.items() if not np.isfinite(a).all()]
    if bad:
        raise KpiError(f"measure column(s) {', '.join(bad)} hold infinite or NaN values")
    cards = [len(x) for x in labels]
    if math.prod(cards) < 2**62:
        key = np.zeros(df.height, dtype=np.int64)
        for j, card in enumerate(cards):
            key = key * card + codes[:, j]
        size = math.prod(cards)
        if size <= 4 * df.height + 4096:
            dup = bool((np.bincount(key, minlength=size) > 1).any())
        else:
            dup = len(np.unique(key)) < df.height
        if dup:
            uniq, inv = np.unique(key, return_inverse=True)
            arrays = {
                m: np.bincount(inv, weights=a, minlength=len(uniq)) for m, a in arrays.items()
            }
            codes = np.empty((len(uniq), len(dims)), dtype=np.int32, order="F")
            rest = uniq
            for j in range(len(dims) - 1, -1, -1):
                codes[:, j] = rest % cards[j]
                rest = rest // cards[j]
    else:  # too many combinations for an integer key: let polars group
        grouped = df.group_by(dims).agg(pl.col(measures).sum())
        codes = np.empty((grouped.height, len(dims)), dtype=np.int32, order="F")
        for j, d in enumerate(dims):
            codes[:, j] = grouped[d].to_numpy()
        arrays = {m: grouped[m].to_numpy() for m in measures}
    return _Leaves(codes, labels, arrays)


# ---- statistics of a segment ----------------------------------------------------------------


@dataclass
class _Totals:
    f: float  # additive: baseline sum; ratio: numerator baseline
    v: float  # additive: current sum; ratio: numerator current
    db: float = 0.0  # ratio: denominator baseline
    dc: float = 0.0  # ratio: denominator current


def _div(a: float, b: float) -> float | None:
    return a / b if b != 0 else None


def _shift_share(seg: _Totals, tot: _Totals, scale: float) -> dict[str, float | None]:
    """Segment-level mix and rate effects on the total ratio; they sum to its contribution."""
    rb_tot = _div(tot.f, tot.db) or 0.0
    rb = _div(seg.f, seg.db)
    rc = _div(seg.v, seg.dc)
    rb_eff = rb if rb is not None else rb_tot
    sb = _div(seg.db, tot.db) or 0.0
    sc = _div(seg.dc, tot.dc) or 0.0
    rate = sc * ((rc if rc is not None else rb_eff) - rb_eff)
    mix = (sc - sb) * (rb_eff - rb_tot)
    return {
        "baseline": None if rb is None else rb * scale,
        "current": None if rc is None else rc * scale,
        "mix": mix * scale,
        "rate": rate * scale,
        "contribution": (mix + rate) * scale,
    }


def _js(p: float, q: float) -> float:
    """Jensen-Shannon divergence of the two-outcome distributions (p, 1-p) and (q, 1-q)."""

    def h(a: float, b: float) -> float:
        return a * math.log(2 * a / (a + b)) if a > 0 else 0.0

    out = 0.0
    for a, b in ((p, q), (1 - p, 1 - q)):
        out += 0.5 * (h(a, b) + h(b, a))
    return max(out, 0.0)
