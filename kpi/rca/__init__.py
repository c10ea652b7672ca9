"""Which segments explain a change? Multi-dimensional root-cause localisation and segment deltas.

Input is a leaf-level table: dimension columns (team, channel, topic, ...) and, per leaf, the value
of a measure in a baseline and in a current period (or a forecast and an actual). The measure is
either additive (contacts, talk seconds) or a ratio of two additive measures (answered within
threshold / offered, talk seconds / contacts), given as numerator and denominator columns.

* :func:`localize` searches every conjunction ``dim = value`` over one to all dimensions for the
  smallest set of elements that explains the deviations, and returns them ranked with how much of
  the change each explains, a mix-versus-rate split for ratios, a confidence and the evidence
  behind it (:class:`RcaResult`).
* :func:`segments` returns the deltas of every segment of one, two or three dimensions (for ratios
  a mix/rate split that sums exactly to the total change), as a LazyFrame.
* :func:`explain_leaves` is the dictionary form of :func:`localize` used by :mod:`kpi.explain`
  and ``kpi explain --table``.

How the search works (details in :mod:`kpi._rca_search`): each leaf gets a deviation score
``d = (v - f) / ((|v| + |f|) / 2)`` and a noise scale fitted on all leaves (smaller leaves may be
noisier; counts are at least Poisson-noisy). An element claims that all of its leaves moved by one
common deviation (the *generalised ripple effect* of Squeeze); its evidence is the
log-likelihood ratio of that claim against noise, in nats, and its cost the description length of
naming it. Elements are taken greedily while the evidence pays for the cost. Unlike Adtributor it
finds causes over several dimensions at once; unlike Squeeze and HotSpot it needs no clustering
threshold and no search budget; unlike RiskLoc its stopping rule is a likelihood, so "nothing
found" is an answer. For a ratio, the search runs on the numerator expected at the baseline rate
(``den_current * num_baseline / den_baseline``), so volume changes (mix) do not pass for rate
changes; a second search on the denominators finds segments whose share of the volume moved
enough to shift the ratio (mix causes). Tables of more than a million non-zero leaves are searched
on every deviating leaf plus a weighted 2% sample of the others, and each pick is confirmed on all
of its leaves before it is accepted (24 million leaves: about 1.5 minutes on 2 busy cores).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from kpi._rca_search import Found, SearchParams, search
from kpi.errors import KpiError

__all__ = ["RcaResult", "RootCause", "explain_leaves", "localize", "segments"]

NULL_LABEL = "(null)"


@dataclass
class RootCause:
    """One root-cause element: a conjunction of dimension values and what it explains.

    Attributes
    ----------
    dims
        ``{dimension: value}`` (values as strings); ``{}`` is the whole table.
    kind
        ``"additive"``; for a ratio ``"rate"`` (its own rate moved) or ``"mix"`` (its share of the
        volume moved).
    baseline, current
        The segment's value in each period: a sum (additive) or its rate times ``scale`` (ratio).
    contribution
        Additive: ``current - baseline`` of the segment. Ratio: ``mix + rate``.
    share
        ``contribution / total change``; ``None`` when the total did not change.
    mix, rate
        Ratio only, shift-share effects of the segment, in KPI units (see :func:`segments`).
    confidence
        ``1 / (1 + exp(-score))``: the posterior probability that the element is a real cause
        rather than noise, with the description length as prior (a net evidence of 3 nats gives
        0.95).
    evidence
        What the choice rests on: net ``score_nats`` = ``log_likelihood_ratio_nats`` -
        ``cost_nats``; ``leaves`` (non-zero leaves it explains) and ``leaves_moved`` (of which
        deviate beyond 3 sigma in its direction), ``consistency`` = moved / leaves (the ripple
        effect: all leaves move together); ``relative_change`` of the segment;
        ``explanatory_power`` and ``surprise`` (Adtributor's: share of the change, and the
        Jensen-Shannon divergence of its share of the total between the periods);
        ``runners_up`` (the best alternatives at the step it was chosen, with their score).

    Examples
    --------
    >>> c = RootCause({"team": "N"}, "additive", 540.0, 270.0, -270.0, 1.0, 0.99)
    >>> c.label(), c.to_dict()["share"]
    ('team = N', 1.0)
    """

    dims: dict[str, str]
    kind: Literal["additive", "rate", "mix"]
    baseline: float | None
    current: float | None
    contribution: float
    share: float | None
    confidence: float
    mix: float | None = None
    rate: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        """``"team = North & channel = chat"``, or ``"all segments"`` for the whole table."""
        return " & ".join(f"{k} = {v}" for k, v in self.dims.items()) or "all segments"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the shared ``segments`` entry of ``kpi explain``."""
        out: dict[str, Any] = {
            "dims": dict(self.dims),
            "kind": self.kind,
            "baseline": self.baseline,
            "current": self.current,
            "contribution": self.contribution,
            "share": self.share,
        }
        if self.kind != "additive":
            out["mix"] = self.mix
            out["rate"] = self.rate
        out["confidence"] = self.confidence
        out["selected"] = True
        out["evidence"] = self.evidence
        return out


@dataclass
class RcaResult:
    """The answer of :func:`localize`.

    ``causes`` are ranked by the size of their contribution. ``explained_share`` is the share of
    the total change explained by the union of their leaves (``None`` when the total did not
    change); it may exceed 1 when the rest of the table moved the other way.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame({"q": ["a", "b", "c"], "f": [10.0, 10, 10], "v": [10.0, 10, 10]})
    >>> r = localize(t, dims=["q"], baseline="f", current="v")
    >>> r.to_frame().columns[:4], r.to_dict()["segments"]
    (['segment', 'kind', 'baseline', 'current'], [])
    >>> print(r.to_markdown())
    # Why v changed
    <BLANKLINE>
    - v did not change (30 in both).
    <BLANKLINE>
    """

    metric: str
    kind: Literal["additive", "ratio"]
    baseline: dict[str, Any]
    current: dict[str, Any]
    change: dict[str, float | None]
    causes: list[RootCause]
    explained_share: float | None
    narrative: list[str]
    method: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with the JSON keys shared with the contacts explanation."""
        return {
            "metric": self.metric,
            "baseline": dict(self.baseline),
            "current": dict(self.current),
            "change": dict(self.change),
            "drivers": [],
            "segments": [c.to_dict() for c in self.causes],
            "explained_share": self.explained_share,
            "narrative": list(self.narrative),
            "method": self.method,
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per cause: segment label, values, contribution, share, mix, rate, evidence."""
        rows = [
            {
                "segment": c.label(),
                "kind": c.kind,
                "baseline": c.baseline,
                "current": c.current,
                "contribution": c.contribution,
                "share": c.share,
                "mix": c.mix,
                "rate": c.rate,
                "confidence": c.confidence,
                "score_nats": c.evidence.get("score_nats"),
                "leaves": c.evidence.get("leaves"),
                "leaves_moved": c.evidence.get("leaves_moved"),
            }
            for c in self.causes
        ]
        schema = {
            "segment": pl.String,
            "kind": pl.String,
            "baseline": pl.Float64,
            "current": pl.Float64,
            "contribution": pl.Float64,
            "share": pl.Float64,
            "mix": pl.Float64,
            "rate": pl.Float64,
            "confidence": pl.Float64,
            "score_nats": pl.Float64,
            "leaves": pl.Int64,
            "leaves_moved": pl.Int64,
        }
        return pl.DataFrame(rows, schema=schema)

    def to_markdown(self) -> str:
        """A readable report: narrative, then the causes with their evidence."""
        lines = [f"# Why {self.metric} changed", ""]
        lines += [f"- {s}" for s in self.narrative]
        if self.causes:
            ratio = self.kind == "ratio"
            head = "| segment | baseline | current | contribution | share |"
            head += " mix | rate |" if ratio else ""
            head += " confidence | leaves moved | evidence (nats) |"
            lines += ["", "## Segments", "", head, "|" + "---|" * (head.count("|") - 1)]
            for c in self.causes:
                ev = c.evidence
                row = (
                    f"| {c.label()} | {_num(c.baseline)} | {_num(c.current)} "
                    f"| {_num(c.contribution, signed=True)} | {_pct(c.share)} |"
                )
                if ratio:
                    row += f" {_num(c.mix, signed=True)} | {_num(c.rate, signed=True)} |"
                row += (
                    f" {c.confidence:.0%} | {ev.get('leaves_moved')}/{ev.get('leaves')} "
                    f"| {ev.get('score_nats', 0.0):,.1f} |"
                )
                lines.append(row)
        return "\n".join(lines) + "\n"


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


# ---- narrative -----------------------------------------------------------------------------


def _num(x: float | None, *, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    sign = "+" if signed and x > 0 else ""
    ax = abs(x)
    if ax >= 100 or ax == 0 or float(x).is_integer():
        return f"{sign}{x:,.0f}"
    if ax >= 1:
        return f"{sign}{x:,.2f}".rstrip("0").rstrip(".")
    return f"{sign}{x:.3g}"


def _pct(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x * 100:.{digits}f}%"


def _value(x: float | None, *, percent: bool) -> str:
    if x is None:
        return "n/a"
    return f"{x * 100:.1f}%" if percent else _num(x)


def _narrative(res: RcaResult, *, percent: bool, noise: float) -> list[str]:
    """Plain sentences: the change, the main causes with numbers, and what is left unexplained."""
    name = res.metric
    v0, v1 = res.baseline["value"], res.current["value"]
    d = res.change["absolute"] or 0.0
    rel = res.change["relative"]
    scale = max(abs(v0 or 0.0), abs(v1 or 0.0), 1e-12)
    if abs(d) <= 1e-12 * scale:
        out = [f"{name} did not change ({_value(v0, percent=percent)} in both)."]
        if res.causes:
            out.append(
                "Some segments moved but offset each other exactly: "
                + "; ".join(
                    f"{c.label()} ({_num(c.contribution, signed=True)})" for c in res.causes[:3]
                )
                + "."
            )
        return out
    verb = "rose" if d > 0 else "fell"
    if percent:
        head = f"{name} {verb} from {_value(v0, percent=True)} to {_value(v1, percent=True)} ({d * 100:+.1f} points)."
    elif rel is not None:
        head = f"{name} {verb} {abs(rel):.1%} ({_num(v0)} to {_num(v1)}; {_num(d, signed=True)})."
    else:
        head = f"{name} {verb} from {_num(v0)} to {_num(v1)} ({_num(d, signed=True)})."
    out = [head]
    causes = res.causes
    if not causes:
        out.append(
            "No segment or combination of segments explains the change: no group of leaves "
            "moved together beyond their noise "
            f"(typical relative noise of a leaf: ±{noise:.0%})."
        )
        out.append(
            "The change is spread across the table, or lies in leaves too small to tell apart "
            "from noise; look for causes that act on everything at once."
        )
        return out
    for c in causes[:3]:
        if not c.dims:
            out.append(
                "The whole table moved together: no particular segment stands out, every "
                f"segment changed by about {_pct(c.evidence.get('relative_change'))}."
            )
            continue
        s = f"{c.label()} explains {_pct(c.share)} of the change ({_num(c.contribution, signed=True)}"
        s += " points)" if percent else ")"
        if c.kind == "additive":
            rc = c.evidence.get("relative_change")
            moved = "" if rc is None else f" it {'rose' if rc > 0 else 'fell'} {abs(rc):.0%},"
            s += f":{moved} from {_num(c.baseline)} to {_num(c.current)}"
        elif c.kind == "rate":
            s += (
                f": its own rate went from {_value(c.baseline, percent=percent)} to "
                f"{_value(c.current, percent=percent)} (rate effect {_fmt_eff(c.rate, percent=percent)}, "
                f"mix effect {_fmt_eff(c.mix, percent=percent)})"
            )
        else:
            vs = c.evidence.get("volume_share", {})
            s += (
                f": its share of the volume went from {_pct(vs.get('baseline'), 1)} to "
                f"{_pct(vs.get('current'), 1)} while its rate ({_value(c.baseline, percent=percent)}) "
                f"differs from the average (mix effect {_fmt_eff(c.mix, percent=percent)})"
            )
        ev = c.evidence
        s += f"; {ev.get('leaves_moved')} of its {ev.get('leaves')} leaves moved beyond noise"
        s += f" (confidence {c.confidence:.0%})."
        out.append(s)
    if len(causes) > 3:
        rest = sum(c.share or 0.0 for c in causes[3:])
        out.append(f"{len(causes) - 3} further segment(s) explain {_pct(rest)} together.")
    ex = res.explained_share
    if ex is not None:
        if ex < 0.5:
            out.append(
                f"Together these segments explain only {_pct(ex)} of the change; the rest is "
                "spread thinly across the table with no further segment standing out from noise."
            )
        elif ex > 1.2:
            out.append(
                f"Together they account for {_pct(ex)} of the change: the rest of the table moved "
                "the other way and offset part of it."
            )
        else:
            out.append(f"Together these segments explain {_pct(ex)} of the change.")
    return out[:6]


def _fmt_eff(x: float | None, *, percent: bool) -> str:
    if x is None:
        return "n/a"
    return f"{x * 100:+.2f} points" if percent else _num(x, signed=True)


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
    ['actual fell 17.3% (1,560 to 1,290; -270).', 'team = N explains 100% of the change (-270): it fell 50%, from 540 to 270; 6 of its 6 leaves moved beyond noise (confidence 100%).']
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
    codes, labels = leaves.codes, leaves.labels
    f_col = leaves.measures[baseline]
    v_col = leaves.measures[current]
    if den is None:
        tot = _Totals(float(f_col.sum()), float(v_col.sum()))
        name = metric or current
        v0, v1 = tot.f, tot.v
        expected, actual = f_col, v_col
        db = dc = None
    else:
        db = leaves.measures[den[0]]
        dc = leaves.measures[den[1]]
        if (db < 0).any() or (dc < 0).any():
            raise KpiError(f"denominator columns {den[0]!r}, {den[1]!r} must not be negative")
        tot = _Totals(float(f_col.sum()), float(v_col.sum()), float(db.sum()), float(dc.sum()))
        if tot.db == 0 or tot.dc == 0:
            which = den[0] if tot.db == 0 else den[1]
            raise KpiError(f"the denominator {which!r} sums to 0: the ratio is undefined")
        name = metric or f"{current} / {den[1]}"
        v0, v1 = tot.f / tot.db * scale, tot.v / tot.dc * scale
        rb_tot = tot.f / tot.db
        rb = np.divide(f_col, db, out=np.full(len(db), rb_tot), where=db > 0)
        expected, actual = dc * rb, v_col
    change_abs = v1 - v0
    change_rel = change_abs / abs(v0) if v0 != 0 else None
    found, model = search(codes, _cards(labels), expected, actual, params, max_layer=max_layer)
    kind: Literal["additive", "ratio"] = "additive" if den is None else "ratio"
    ctx = _Context(codes, labels, dims, f_col, v_col, db, dc, tot, scale, change_abs)
    causes = [ctx.cause(fo, "additive" if den is None else "rate") for fo in found]
    if den is not None:
        assert db is not None
        assert dc is not None
        vol, _ = search(
            codes, _cards(labels), db * _volume_trend(db, dc), dc, params, max_layer=max_layer
        )
        seen = {tuple(sorted(c.dims.items())) for c, _ in causes}
        for fo in vol:
            c, m = ctx.cause(fo, "mix")
            if tuple(sorted(c.dims.items())) in seen or c.mix is None:
                continue
            if abs(change_abs) > 0 and abs(c.mix) >= 0.1 * abs(change_abs):
                causes.append((c, m))
    causes.sort(key=lambda cm: (-abs(cm[0].contribution), -cm[0].evidence["score_nats"]))
    causes = causes[:max_elements]
    union = np.zeros(len(codes), dtype=bool)
    for _, m in causes:
        union |= m
    explained = ctx.contribution(union)
    res = RcaResult(
        metric=name,
        kind=kind,
        baseline={"column": baseline if den is None else f"{baseline} / {den[0]}", "value": v0},
        current={"column": current if den is None else f"{current} / {den[1]}", "value": v1},
        change={"absolute": change_abs, "relative": change_rel},
        causes=[c for c, _ in causes],
        explained_share=None if change_abs == 0 else explained / change_abs,
        narrative=[],
        method={
            "name": "kpi.rca: greedy minimum-description-length search under the ripple effect",
            "leaves": leaves.n,
            "active_leaves": int(model.active.sum()),
            "noise": {
                "relative": model.noise_relative,
                "small_leaves": model.noise_small,
                "counts": model.counts,
            },
            "parameters": dict(params.__dict__),
            "max_layer": max_layer or len(dims),
        },
    )
    percent = den is not None and scale == 1.0 and 0 <= min(v0, v1) and max(v0, v1) <= 1
    res.narrative = _narrative(res, percent=percent, noise=model.noise_relative)
    return res


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


# ---- segment deltas ------------------------------------------------------------------------


def segments(
    table: pl.DataFrame | pl.LazyFrame,
    *,
    dims: Sequence[str],
    baseline: str,
    current: str,
    ratio: Sequence[str] | None = None,
    scale: float = 1.0,
    max_order: int = 2,
) -> pl.LazyFrame:
    """Deltas of every segment of one to ``max_order`` dimensions, with a mix/rate split for ratios.

    Parameters
    ----------
    table
        Leaf-level or row-level table (DataFrame or LazyFrame).
    dims
        Dimension columns.
    baseline, current
        Measure columns (numerators for a ratio). Nulls count as 0.
    ratio
        For a ratio KPI, the denominator columns ``(baseline, current)``.
    scale
        Ratio only: factor applied to rates and effects (100 for percent).
    max_order
        Largest number of dimensions in a segment (1, 2 or 3 usually).

    Returns
    -------
    pl.LazyFrame
        One row per segment: ``segment`` (``"team=N & channel=chat"``), ``order``, ``dims``
        (list of the dimension names of the segment), one String column per dimension (null when
        the segment does not fix it), ``baseline``, ``current`` (sums; for ratios the segment's
        rates), ``contribution`` and ``share`` of the total change; for ratios also
        ``baseline_volume``, ``current_volume`` (denominators), ``mix`` and ``rate``. Within one
        combination of dimensions the contributions sum exactly to the total change. Shares are
        null when the total did not change; rates are null for a zero denominator.

    Notes
    -----
    Additive: ``contribution = current - baseline``. Ratio (shift-share): with ``s`` the
    segment's share of the total denominator, ``r`` its rate and ``R_b`` the total baseline
    rate, ``rate = s_c (r_c - r_b)`` and ``mix = (s_c - s_b)(r_b - R_b)``; a segment absent in
    the baseline takes ``r_b = R_b``. Summed over a partition: ``sum(mix + rate) = R_c - R_b``.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame(
    ...     {
    ...         "team": ["N", "S"],
    ...         "ok_b": [80.0, 45],
    ...         "n_b": [100.0, 50],
    ...         "ok_c": [60.0, 90],
    ...         "n_c": [100.0, 100],
    ...     }
    ... )
    >>> out = segments(
    ...     t, dims=["team"], baseline="ok_b", current="ok_c", ratio=("n_b", "n_c"), max_order=1
    ... ).collect()
    >>> out.select("segment", "baseline", "current", "mix", "rate", "contribution")
    shape: (2, 6)
    ┌─────────┬──────────┬─────────┬──────────┬──────┬──────────────┐
    │ segment ┆ baseline ┆ current ┆ mix      ┆ rate ┆ contribution │
    │ ---     ┆ ---      ┆ ---     ┆ ---      ┆ ---  ┆ ---          │
    │ str     ┆ f64      ┆ f64     ┆ f64      ┆ f64  ┆ f64          │
    ╞═════════╪══════════╪═════════╪══════════╪══════╪══════════════╡
    │ team=N  ┆ 0.8      ┆ 0.6     ┆ 0.005556 ┆ -0.1 ┆ -0.094444    │
    │ team=S  ┆ 0.9      ┆ 0.9     ┆ 0.011111 ┆ 0.0  ┆ 0.011111     │
    └─────────┴──────────┴─────────┴──────────┴──────┴──────────────┘
    >>> round(out["contribution"].sum(), 12) == round(0.75 - 125 / 150, 12)
    True
    """
    lf, schema = _columns(table)
    measures, den = _spec(baseline, current, ratio)
    dims = _check(schema, dims, measures)
    if max_order < 1:
        raise KpiError(f"max_order must be 1 or more, got {max_order}")
    names = ["_f", "_v"] + (["_db", "_dc"] if den else [])
    base = lf.select(
        *[pl.col(d).cast(pl.String).fill_null(NULL_LABEL) for d in dims],
        *[
            pl.col(m).cast(pl.Float64).fill_null(0.0).alias(n)
            for m, n in zip(measures, names, strict=True)
        ],
    )
    totals = base.select([pl.col(n).sum().alias(f"{n}_tot") for n in names])
    parts = []
    combos = [
        combo
        for order in range(1, min(max_order, len(dims)) + 1)
        for combo in itertools.combinations(dims, order)
    ]
    for i, combo in enumerate(combos):
        order = len(combo)
        if True:
            label = pl.concat_str(
                [pl.lit(f"{d}=") + pl.col(d) for d in combo], separator=" & "
            ).alias("segment")
            parts.append(
                base.group_by(list(combo))
                .agg(pl.col(names).sum())
                .select(
                    label,
                    pl.lit(order, dtype=pl.UInt8).alias("order"),
                    pl.lit(i, dtype=pl.UInt32).alias("_combo"),
                    pl.lit(list(combo), dtype=pl.List(pl.String)).alias("dims"),
                    *[
                        (pl.col(d) if d in combo else pl.lit(None, dtype=pl.String)).alias(d)
                        for d in dims
                    ],
                    *names,
                )
            )
    out = pl.concat(parts, how="vertical").join(totals, how="cross")
    if den is None:
        change = pl.col("_v_tot") - pl.col("_f_tot")
        out = out.with_columns(
            pl.col("_f").alias("baseline"),
            pl.col("_v").alias("current"),
            (pl.col("_v") - pl.col("_f")).alias("contribution"),
        ).with_columns(pl.when(change != 0).then(pl.col("contribution") / change).alias("share"))
        cols = ["baseline", "current", "contribution", "share"]
    else:
        rb_tot = pl.col("_f_tot") / pl.col("_db_tot")
        rc_tot = pl.col("_v_tot") / pl.col("_dc_tot")
        rb = pl.when(pl.col("_db") != 0).then(pl.col("_f") / pl.col("_db"))
        rc = pl.when(pl.col("_dc") != 0).then(pl.col("_v") / pl.col("_dc"))
        out = (
            out.with_columns(
                rb.alias("_rb"),
                rc.alias("_rc"),
                (pl.col("_db") / pl.col("_db_tot")).alias("_sb"),
                (pl.col("_dc") / pl.col("_dc_tot")).alias("_sc"),
            )
            .with_columns(
                pl.coalesce("_rb", rb_tot).alias("_rb_eff"),
            )
            .with_columns(
                (pl.col("_rb") * scale).alias("baseline"),
                (pl.col("_rc") * scale).alias("current"),
                pl.col("_db").alias("baseline_volume"),
                pl.col("_dc").alias("current_volume"),
                ((pl.col("_sc") - pl.col("_sb")) * (pl.col("_rb_eff") - rb_tot) * scale).alias(
                    "mix"
                ),
                (
                    pl.col("_sc") * (pl.coalesce("_rc", "_rb_eff") - pl.col("_rb_eff")) * scale
                ).alias("rate"),
            )
            .with_columns(
                (pl.col("mix") + pl.col("rate")).alias("contribution"),
            )
            .with_columns(
                pl.when(rc_tot != rb_tot)
                .then(pl.col("contribution") / ((rc_tot - rb_tot) * scale))
                .alias("share")
            )
        )
        cols = [
            "baseline",
            "current",
            "baseline_volume",
            "current_volume",
            "mix",
            "rate",
            "contribution",
            "share",
        ]
    return out.sort(
        ["_combo", pl.col("contribution").abs()], descending=[False, True], maintain_order=True
    ).select("segment", "order", "dims", *dims, *cols)
