"""The search: :func:`localize` and its dictionary form :func:`explain_leaves`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from kpi._rca_search import Found, LeafModel, SearchParams, search
from kpi.errors import KpiError
from kpi.rca._leaves import (
    _check,
    _columns,
    _div,
    _js,
    _Leaves,
    _leaves,
    _shift_share,
    _spec,
    _Totals,
)
from kpi.rca._result import RcaResult, RootCause, _narrative

__all__ = ["explain_leaves", "localize"]

# ---- the search ----------------------------------------------------------------------------


def localize(
    table: pl.DataFrame | pl.LazyFrame,
    *,
    dims: Sequence[str],
    baseline: str,
    current: str,
    ratio: Sequence[str] | None = None,
    scale: float = 1.0,
    metric: str | None = None,
    max_elements: int = 10,
    max_layer: int | None = None,
    params: SearchParams | None = None,
) -> RcaResult:
    """Find the segments (conjunctions of dimension values) that explain a change.

    Parameters
    ----------
    table
        Leaf-level table (DataFrame or LazyFrame): one row per combination of the dimension
        values; duplicate combinations are summed. Collected once (the search is iterative).
    dims
        Dimension columns (any dtype; values are reported as strings, nulls as ``"(null)"``).
    baseline, current
        Measure columns of the baseline (or forecast) and current (or actual) period. For a ratio
        KPI, the numerator columns. Nulls count as 0.
    ratio
        For a ratio KPI ``sum(num) / sum(den)``: the denominator columns ``(baseline, current)``.
    scale
        Ratio only: factor applied to rates in the output (100 for percent, 1/60 for minutes).
    metric
        Name used in the narrative (default: the current column, or ``num / den``).
    max_elements
        Most root-cause elements returned.
    max_layer
        Most dimensions in one element (default: all).
    params
        Search constants (:class:`kpi._rca_search.SearchParams`); the defaults rarely need change.

    Returns
    -------
    RcaResult
        Ranked causes with contribution, share, mix and rate (ratios), confidence and evidence;
        the total change; the share explained; a narrative. Empty ``causes`` when nothing stands
        out from noise.

    Notes
    -----
    Leaf deviation ``d = (v - f) / ((|v| + |f|) / 2)``; noise ``sigma(m)^2 = a^2 + b^2 / m`` fitted
    robustly on size classes (``m`` the leaf size; for counts ``sigma >= 1 / sqrt(m)``). An element
    ``e`` with aggregate deviation ``d_e`` (at least ``min_deviation``) has evidence
    ``LLR(e) = sum over its unexplained leaves of [log N*(d; d_e, sigma^2 + (0.25 d_e)^2) -
    log N*(d; 0, sigma^2)]``, where ``N*`` is a Gaussian floored at ``z = 8`` and a leaf beyond 3
    standard deviations of ``d_e`` may only lower it; cost
    ``C(e) = 15 + log(#elements of its cuboid) + log(#cuboids of its layer)`` nats. Greedy:
    take ``argmax LLR - C`` while positive, mark its leaves explained, repeat.

    For a ratio ``R = N / D`` the search runs on ``f = d_c * n_b / d_b`` (the numerator expected
    at the leaf's baseline rate; the total baseline rate for new leaves) against ``v = n_c``, then
    on the volumes ``f = d_b * g`` against ``v = d_c`` (``g`` the volume-weighted median leaf
    ratio ``d_c / d_b``) for mix causes whose mix effect is at least 10% of the change. Contributions are the shift-share effects of the segment:
    ``rate = s_c (r_c - r_b)``, ``mix = (s_c - s_b)(r_b - R_b)`` with ``s`` the segment's share of
    the denominator; over any partition they sum exactly to ``R_c - R_b``.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame(
    ...     {
    ...         "team": ["N", "N", "S", "S", "E", "E"] * 3,
    ...         "channel": ["call", "chat"] * 9,
    ...         "site": ["x"] * 6 + ["y"] * 6 + ["z"] * 6,
    ...         "expected": [100, 80, 120, 90, 60, 70] * 3,
    ...         "actual": [
    ...             50,
    ...             40,
    ...             121,
    ...             89,
    ...             61,
    ...             70,
    ...             51,
    ...             41,
    ...             119,
    ...             90,
    ...             59,
    ...             71,
    ...             49,
    ...             39,
    ...             120,
    ...             91,
    ...             60,
    ...             69,
    ...         ],
    ...     }
    ... )
    >>> r = localize(t, dims=["team", "channel", "site"], baseline="expected", current="actual")
    >>> [(c.dims, c.contribution, c.share, round(c.confidence, 3)) for c in r.causes]
    [({'team': 'N'}, -270.0, 1.0, 1.0)]
    >>> r.narrative[:2]
    ['actual fell 17.3% (1,560 to 1,290; −270).', 'team = N explains 100.0% of the change (−270): it fell 50.0%, from 540 to 270; 6 of its 6 leaves moved beyond noise (confidence 100%).']
    """
    lf, schema = _columns(table)
    measures, den = _spec(baseline, current, ratio)
    dims = _check(schema, dims, measures)
    if max_elements < 1:
        raise KpiError(f"max_elements must be 1 or more, got {max_elements}")
    if max_layer is not None and max_layer < 1:
        raise KpiError(f"max_layer must be 1 or more, got {max_layer}")
    params = params or SearchParams()
    params = SearchParams(**{**params.__dict__, "max_elements": max_elements})
    leaves = _leaves(lf, dims, measures)
    prob = _problem(leaves, baseline=baseline, current=current, den=den, scale=scale)
    change_abs = prob.v1 - prob.v0
    change_rel = change_abs / abs(prob.v0) if prob.v0 != 0 else None
    cards = _cards(leaves.labels)
    found, model = search(
        leaves.codes, cards, prob.expected, prob.actual, params, max_layer=max_layer
    )
    ctx = _Context(leaves.codes, leaves.labels, dims, *prob.measures(), scale, change_abs)
    causes = [ctx.cause(fo, "additive" if den is None else "rate") for fo in found]
    if den is not None:
        causes += _mix_causes(ctx, causes, params, max_layer=max_layer)
    causes.sort(key=lambda cm: (-abs(cm[0].contribution), -cm[0].evidence["score_nats"]))
    causes = causes[:max_elements]
    union = np.zeros(len(leaves.codes), dtype=bool)
    for _, m in causes:
        union |= m
    explained = ctx.contribution(union)
    kind: Literal["additive", "ratio"] = "additive" if den is None else "ratio"
    res = RcaResult(
        metric=metric or (current if den is None else f"{current} / {den[1]}"),
        kind=kind,
        baseline={
            "column": baseline if den is None else f"{baseline} / {den[0]}",
            "value": prob.v0,
        },
        current={
            "column": current if den is None else f"{current} / {den[1]}",
            "value": prob.v1,
        },
        change={"absolute": change_abs, "relative": change_rel},
        causes=[c for c, _ in causes],
        explained_share=None if change_abs == 0 else explained / change_abs,
        narrative=[],
        method=_method(leaves.n, model, params, max_layer=max_layer or len(dims)),
    )
    v0, v1 = prob.v0, prob.v1
    percent = den is not None and scale == 1.0 and 0 <= min(v0, v1) and max(v0, v1) <= 1
    res._unit = "ratio" if percent else None
    res.narrative = _narrative(res, percent=percent, noise=model.noise_relative)
    return res


@dataclass
class _Comparison:
    """What the search compares: per-leaf expected and actual values, measures and totals."""

    f: np.ndarray
    v: np.ndarray
    db: np.ndarray | None
    dc: np.ndarray | None
    tot: _Totals
    v0: float
    v1: float
    expected: np.ndarray
    actual: np.ndarray

    def measures(self) -> tuple[Any, ...]:
        """Baseline and current measures, denominators and totals, as :class:`_Context` takes."""
        return self.f, self.v, self.db, self.dc, self.tot


def _problem(
    leaves: _Leaves, *, baseline: str, current: str, den: Sequence[str] | None, scale: float
) -> _Comparison:
    """The KPI's baseline and current values, and each leaf's expected and actual value.

    Additive: expected is the baseline. Ratio: the numerator expected at the leaf's baseline
    rate (the total baseline rate for new leaves), against the current numerator.
    """
    f_col = leaves.measures[baseline]
    v_col = leaves.measures[current]
    if den is None:
        tot = _Totals(float(f_col.sum()), float(v_col.sum()))
        return _Comparison(f_col, v_col, None, None, tot, tot.f, tot.v, f_col, v_col)
    db = leaves.measures[den[0]]
    dc = leaves.measures[den[1]]
    if (db < 0).any() or (dc < 0).any():
        raise KpiError(f"denominator columns {den[0]!r}, {den[1]!r} must not be negative")
    tot = _Totals(float(f_col.sum()), float(v_col.sum()), float(db.sum()), float(dc.sum()))
    if tot.db == 0 or tot.dc == 0:
        which = den[0] if tot.db == 0 else den[1]
        raise KpiError(f"the denominator {which!r} sums to 0: the ratio is undefined")
    v0, v1 = tot.f / tot.db * scale, tot.v / tot.dc * scale
    rb_tot = tot.f / tot.db
    rb = np.divide(f_col, db, out=np.full(len(db), rb_tot), where=db > 0)
    return _Comparison(f_col, v_col, db, dc, tot, v0, v1, dc * rb, v_col)


def _mix_causes(
    ctx: _Context,
    causes: list[tuple[RootCause, np.ndarray]],
    params: SearchParams,
    *,
    max_layer: int | None,
) -> list[tuple[RootCause, np.ndarray]]:
    """Mix causes of a ratio: segments whose share of the volume moved enough to matter.

    A second search on the denominators (against the typical volume trend); a segment already
    found as a rate cause is skipped, and a mix effect under 10% of the change is dropped.
    """
    db, dc = ctx.db, ctx.dc
    assert db is not None
    assert dc is not None
    vol, _ = search(
        ctx.codes, _cards(ctx.labels), db * _volume_trend(db, dc), dc, params, max_layer=max_layer
    )
    seen = {tuple(sorted(c.dims.items())) for c, _ in causes}
    out = []
    for fo in vol:
        c, m = ctx.cause(fo, "mix")
        if tuple(sorted(c.dims.items())) in seen or c.mix is None:
            continue
        if abs(ctx.change) > 0 and abs(c.mix) >= 0.1 * abs(ctx.change):
            out.append((c, m))
    return out


def _method(
    n_leaves: int, model: LeafModel, params: SearchParams, *, max_layer: int
) -> dict[str, Any]:
    """The ``method`` entry of the result: the search, its leaves, noise and parameters."""
    return {
        "name": "kpi.rca: greedy minimum-description-length search under the ripple effect",
        "leaves": n_leaves,
        "active_leaves": int(model.active.sum()),
        "noise": {
            "relative": model.noise_relative,
            "small_leaves": model.noise_small,
            "counts": model.counts,
        },
        "parameters": dict(params.__dict__),
        "max_layer": max_layer,
    }


def _volume_trend(db: np.ndarray, dc: np.ndarray) -> float:
    """Typical volume ratio current / baseline of a leaf (median weighted by baseline volume).

    The mix search compares each leaf's volume with its baseline volume times this trend, so a
    segment whose volume doubles does not make every other segment look as if it shrank.
    """
    ok = (db > 0) & (dc >= 0)
    if not ok.any():
        return 1.0
    r, w = dc[ok] / db[ok], db[ok]
    order = np.argsort(r)
    cw = np.cumsum(w[order])
    return float(r[order][np.searchsorted(cw, cw[-1] / 2.0)])


def _cards(labels: list[list[str]]) -> list[int]:
    """Number of values of each dimension."""
    return [len(x) for x in labels]


@dataclass
class _Context:
    """What is needed to describe a found element: codes, labels, measures and totals."""

    codes: np.ndarray
    labels: list[list[str]]
    dims: list[str]
    f: np.ndarray
    v: np.ndarray
    db: np.ndarray | None
    dc: np.ndarray | None
    tot: _Totals
    scale: float
    change: float

    def mask(self, fo: Found) -> np.ndarray:
        m = np.ones(len(self.codes), dtype=bool)
        for d, val in zip(fo.cuboid, fo.values, strict=True):
            m &= self.codes[:, d] == val
        return m

    def segment(self, m: np.ndarray) -> _Totals:
        seg = _Totals(float(self.f[m].sum()), float(self.v[m].sum()))
        if self.db is not None and self.dc is not None:
            seg.db, seg.dc = float(self.db[m].sum()), float(self.dc[m].sum())
        return seg

    def contribution(self, m: np.ndarray) -> float:
        """Contribution of a set of leaves to the change (no double counting of overlaps)."""
        seg = self.segment(m)
        if self.db is None:
            return seg.v - seg.f
        return float(_shift_share(seg, self.tot, self.scale)["contribution"] or 0.0)

    def name(self, cuboid: tuple[int, ...], values: tuple[int, ...]) -> dict[str, str]:
        return {self.dims[d]: self.labels[d][x] for d, x in zip(cuboid, values, strict=True)}

    def cause(
        self, fo: Found, kind: Literal["additive", "rate", "mix"]
    ) -> tuple[RootCause, np.ndarray]:
        m = self.mask(fo)
        seg, tot = self.segment(m), self.tot
        evidence: dict[str, Any] = {
            "score_nats": fo.score,
            "log_likelihood_ratio_nats": fo.llr,
            "cost_nats": fo.cost,
            "leaves": fo.n_leaves,
            "leaves_moved": fo.n_moved,
            "consistency": fo.n_moved / fo.n_leaves if fo.n_leaves else None,
            "common_deviation": fo.deviation,
        }
        mix = rate = None
        if self.db is None:
            b, c = seg.f, seg.v
            contribution = seg.v - seg.f
            evidence["relative_change"] = _div(seg.v - seg.f, abs(seg.f))
            p_b, p_c = _div(seg.f, tot.f) or 0.0, _div(seg.v, tot.v) or 0.0
        else:
            ss = _shift_share(seg, tot, self.scale)
            b, c, mix, rate = ss["baseline"], ss["current"], ss["mix"], ss["rate"]
            contribution = float(ss["contribution"] or 0.0)
            rb, rc = _div(seg.f, seg.db), _div(seg.v, seg.dc)
            evidence["relative_change"] = None if rb in (None, 0) or rc is None else rc / rb - 1
            p_b, p_c = _div(seg.db, tot.db) or 0.0, _div(seg.dc, tot.dc) or 0.0
            evidence["volume_share"] = {"baseline": p_b, "current": p_c}
        evidence["explanatory_power"] = _div(contribution, self.change)
        evidence["surprise"] = _js(min(max(p_b, 0.0), 1.0), min(max(p_c, 0.0), 1.0))
        evidence["runners_up"] = [
            {"dims": self.name(cub, vals), "score_nats": s} for cub, vals, s in fo.runners_up
        ]
        cause = RootCause(
            dims=self.name(fo.cuboid, fo.values),
            kind=kind,
            baseline=b,
            current=c,
            contribution=contribution,
            share=_div(contribution, self.change),
            confidence=1.0 / (1.0 + math.exp(-min(fo.score, 700.0))),
            mix=mix,
            rate=rate,
            evidence=evidence,
        )
        return cause, m


def explain_leaves(
    table: pl.DataFrame | pl.LazyFrame,
    *,
    dims: Sequence[str],
    baseline: str,
    current: str,
    ratio: Sequence[str] | None = None,
    scale: float = 1.0,
    max_segments: int = 10,
    metric: str | None = None,
    max_layer: int | None = None,
) -> dict[str, Any]:
    """:func:`localize` as plain data: the JSON shape of ``kpi explain``.

    Keys: ``metric``, ``baseline`` and ``current`` (``{"column", "value"}``), ``change``
    (``{"absolute", "relative"}``), ``drivers`` (empty for a table), ``segments`` (ranked causes,
    each ``{"dims", "kind", "baseline", "current", "contribution", "share", ["mix", "rate"],
    "confidence", "selected", "evidence"}``), ``explained_share``, ``narrative``, ``method``.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame(
    ...     {"q": ["a", "b", "c", "d"], "f": [10.0, 10, 10, 10], "v": [10.0, 10, 10, 10]}
    ... )
    >>> out = explain_leaves(t, dims=["q"], baseline="f", current="v")
    >>> out["segments"], out["change"]
    ([], {'absolute': 0.0, 'relative': 0.0})
    >>> out["narrative"]
    ['v did not change (40 in both).']
    """
    return localize(
        table,
        dims=dims,
        baseline=baseline,
        current=current,
        ratio=ratio,
        scale=scale,
        metric=metric,
        max_elements=max_segments,
        max_layer=max_layer,
    ).to_dict()
