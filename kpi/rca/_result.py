"""What a search finds: :class:`RootCause`, :class:`RcaResult` and its plain sentences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from kpi._format import format_value

__all__ = ["RcaResult", "RootCause"]


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
    >>> from kpi.rca import localize
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
    #: Unit of the KPI's values for the text (``"ratio"``: a ratio in [0, 1], read as percent).
    _unit: str | None = field(default=None, repr=False, compare=False)

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
            u = self._unit
            for c in self.causes:
                ev = c.evidence
                row = (
                    f"| {c.label()} | {_num(c.baseline, unit=u)} | {_num(c.current, unit=u)} "
                    f"| {_num(c.contribution, signed=True, unit=u)} | {_pct(c.share)} |"
                )
                if ratio:
                    row += (
                        f" {_num(c.mix, signed=True, unit=u)} "
                        f"| {_num(c.rate, signed=True, unit=u)} |"
                    )
                row += (
                    f" {c.confidence:.0%} | {ev.get('leaves_moved')}/{ev.get('leaves')} "
                    f"| {ev.get('score_nats', 0.0):,.1f} |"
                )
                lines.append(row)
        return "\n".join(lines) + "\n"


# ---- narrative -----------------------------------------------------------------------------


def _num(x: float | None, *, signed: bool = False, unit: str | None = None) -> str:
    """A value, a change (``signed``) or an effect as text, by :func:`kpi._format.format_value`."""
    return format_value(x, unit, signed=signed)


def _pct(x: float | None) -> str:
    """A share or a relative change as a percentage."""
    return format_value(x, "ratio")


def _narrative(res: RcaResult, *, percent: bool, noise: float) -> list[str]:
    """Plain sentences: the change, the main causes with numbers, and what is left unexplained.

    ``percent``: the KPI is a ratio in [0, 1], so values read as percentages and changes and
    effects in percentage points.
    """
    unit = "ratio" if percent else None
    d = res.change["absolute"] or 0.0
    v0, v1 = res.baseline["value"], res.current["value"]
    scale = max(abs(v0 or 0.0), abs(v1 or 0.0), 1e-12)
    if abs(d) <= 1e-12 * scale:
        return _no_change(res, unit)
    out = [_headline(res, unit)]
    if not res.causes:
        return [*out, *_nothing_found(noise)]
    out += [_cause_sentence(c, unit) for c in res.causes[:3]]
    if len(res.causes) > 3:
        rest = sum(c.share or 0.0 for c in res.causes[3:])
        out.append(f"{len(res.causes) - 3} further segment(s) explain {_pct(rest)} together.")
    out += _coverage_sentence(res.explained_share)
    return out[:6]


def _no_change(res: RcaResult, unit: str | None) -> list[str]:
    """The sentences for a total that did not move, naming segments that offset each other."""
    out = [f"{res.metric} did not change ({_num(res.baseline['value'], unit=unit)} in both)."]
    if res.causes:
        out.append(
            "Some segments moved but offset each other exactly: "
            + "; ".join(
                f"{c.label()} ({_num(c.contribution, signed=True, unit=unit)})"
                for c in res.causes[:3]
            )
            + "."
        )
    return out


def _headline(res: RcaResult, unit: str | None) -> str:
    """The first sentence: how much the KPI rose or fell, from what to what."""
    name = res.metric
    v0, v1 = res.baseline["value"], res.current["value"]
    d = res.change["absolute"] or 0.0
    rel = res.change["relative"]
    verb = "rose" if d > 0 else "fell"
    change = _num(d, signed=True, unit=unit)
    if unit == "ratio":
        return f"{name} {verb} from {_num(v0, unit=unit)} to {_num(v1, unit=unit)} ({change})."
    if rel is not None:
        return f"{name} {verb} {_pct(abs(rel))} ({_num(v0)} to {_num(v1)}; {change})."
    return f"{name} {verb} from {_num(v0)} to {_num(v1)} ({change})."


def _nothing_found(noise: float) -> list[str]:
    """The honest answer when no segment stands out from noise."""
    return [
        "No segment or combination of segments explains the change: no group of leaves "
        "moved together beyond their noise "
        f"(typical relative noise of a leaf: ±{noise:.0%}).",
        "The change is spread across the table, or lies in leaves too small to tell apart "
        "from noise; look for causes that act on everything at once.",
    ]


def _cause_sentence(c: RootCause, unit: str | None) -> str:
    """One cause: its share of the change, how it moved, and the evidence behind it."""
    if not c.dims:
        return (
            "The whole table moved together: no particular segment stands out, every "
            f"segment changed by about {_pct(c.evidence.get('relative_change'))}."
        )
    s = (
        f"{c.label()} explains {_pct(c.share)} of the change "
        f"({_num(c.contribution, signed=True, unit=unit)})"
    )
    if c.kind == "additive":
        rc = c.evidence.get("relative_change")
        moved = "" if rc is None else f" it {'rose' if rc > 0 else 'fell'} {_pct(abs(rc))},"
        s += f":{moved} from {_num(c.baseline)} to {_num(c.current)}"
    elif c.kind == "rate":
        s += (
            f": its own rate went from {_num(c.baseline, unit=unit)} to "
            f"{_num(c.current, unit=unit)} (rate effect {_num(c.rate, signed=True, unit=unit)}, "
            f"mix effect {_num(c.mix, signed=True, unit=unit)})"
        )
    else:
        vs = c.evidence.get("volume_share", {})
        s += (
            f": its share of the volume went from {_pct(vs.get('baseline'))} to "
            f"{_pct(vs.get('current'))} while its rate ({_num(c.baseline, unit=unit)}) "
            f"differs from the average (mix effect {_num(c.mix, signed=True, unit=unit)})"
        )
    ev = c.evidence
    s += f"; {ev.get('leaves_moved')} of its {ev.get('leaves')} leaves moved beyond noise"
    return s + f" (confidence {c.confidence:.0%})."


def _coverage_sentence(explained: float | None) -> list[str]:
    """How much of the change the causes explain together, and what that means."""
    if explained is None:
        return []
    if explained < 0.5:
        return [
            f"Together these segments explain only {_pct(explained)} of the change; the rest is "
            "spread thinly across the table with no further segment standing out from noise."
        ]
    if explained > 1.2:
        return [
            f"Together they account for {_pct(explained)} of the change: the rest of the table "
            "moved the other way and offset part of it."
        ]
    return [f"Together these segments explain {_pct(explained)} of the change."]
