"""What an explanation is made of: :class:`Driver`, :class:`Segment` and :class:`Explanation`,
typed until the edge that prints them (the narrative, the JSON of ``kpi explain``, the markdown
and :func:`segments_frame`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from kpi._format import format_value
from kpi.periods import Period, parse_period

if TYPE_CHECKING:
    from kpi.rca import RootCause

__all__ = ["DEFAULT_DIMS", "SEGMENT_SCHEMA", "Driver", "Explanation", "Segment", "segments_frame"]

DEFAULT_DIMS = ("team", "channel", "queue", "topic")


@dataclass(frozen=True)
class Driver:
    """One driver's values in both periods and its additive contribution to the change."""

    name: str
    label: str
    unit: str
    baseline: float | None
    current: float | None
    contribution: float
    share: float | None = None


@dataclass(frozen=True)
class Segment:
    """One ranked segment of an explanation: a conjunction of dimension values and what it
    explains (from a :class:`kpi.rca.RootCause`).

    Attributes
    ----------
    dims
        ``{dimension: value}``; ``{}`` is the whole centre (a broad change).
    kind
        ``"additive"``; for a ratio ``"rate"`` or ``"mix"``.
    baseline, current
        The segment's value in each period (for counts over periods of different length the
        baseline as it was; ``expected`` is it at the current period's length).
    contribution, share
        Its part of the change, in KPI units and as a share of the change.
    mix, rate
        Ratio KPIs only: the shift-share effects (``contribution = mix + rate``).
    confidence, selected, evidence
        From :mod:`kpi.rca`.
    expected, pace
        When the periods differ in length (``pace`` = current days / baseline days ≠ 1): the
        baseline at the current period's length, which the search compared with.

    Examples
    --------
    >>> s = Segment({"team": "North"}, "additive", 100.0, 60.0, -40.0, 1.0, confidence=0.99)
    >>> s.label(), s.to_dict()["share"], "mix" in s.to_dict()
    ('team North', 1.0, False)
    """

    dims: dict[str, str]
    kind: Literal["additive", "rate", "mix"]
    baseline: float | None
    current: float | None
    contribution: float
    share: float | None
    mix: float | None = None
    rate: float | None = None
    confidence: float | None = None
    selected: bool = True
    evidence: dict[str, Any] = field(default_factory=dict)
    expected: float | None = None
    pace: float = 1.0

    @classmethod
    def from_cause(cls, cause: RootCause, *, pace: float = 1.0) -> Segment:
        """The segment of a root cause; with ``pace ≠ 1`` the cause's baseline (at the current
        period's length) becomes ``expected`` and the baseline is given back as it was."""
        seg = cls(
            dims=dict(cause.dims),
            kind=cause.kind,
            baseline=cause.baseline,
            current=cause.current,
            contribution=cause.contribution,
            share=cause.share,
            mix=cause.mix,
            rate=cause.rate,
            confidence=cause.confidence,
            evidence=cause.evidence,
        )
        if pace == 1.0:
            return seg
        base = None if cause.baseline is None else cause.baseline / pace
        return replace(seg, baseline=base, expected=cause.baseline, pace=pace)

    def label(self) -> str:
        """``team North, topic billing`` (``all`` for the whole centre)."""
        return ", ".join(f"{k} {v}" for k, v in self.dims.items()) or "all"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the ``segments`` entries of ``kpi explain --format json``)."""
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
        out["selected"] = self.selected
        out["evidence"] = self.evidence
        if self.pace != 1.0:
            out["expected"] = self.expected
        return out


#: Columns of :func:`segments_frame`, declared once.
SEGMENT_SCHEMA: dict[str, pl.DataType] = {
    "rank": pl.Int64(),
    "segment": pl.String(),
    "kind": pl.String(),
    "baseline": pl.Float64(),
    "current": pl.Float64(),
    "contribution": pl.Float64(),
    "share": pl.Float64(),
    "mix": pl.Float64(),
    "rate": pl.Float64(),
}


def _float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def segments_frame(explanation: Explanation | Sequence[Segment]) -> pl.DataFrame:
    """Ranked segments of an explanation as a table: ``rank``, ``segment``, ``kind``,
    ``baseline``, ``current``, ``contribution``, ``share``, ``mix``, ``rate`` (null for
    additive KPIs); see :data:`SEGMENT_SCHEMA`.

    Notes
    -----
    For a ratio KPI a segment's contribution splits into a mix effect (its share of the
    denominator moved) and a rate effect (its own ratio moved): ``contribution = mix + rate``.

    Examples
    --------
    >>> seg = Segment({"team": "North"}, "rate", 0.7, 0.1, -0.3, 0.9, mix=0.01, rate=-0.31)
    >>> segments_frame([seg]).row(0)
    (1, 'team North', 'rate', 0.7, 0.1, -0.3, 0.9, 0.01, -0.31)
    """
    segs = explanation.segments if isinstance(explanation, Explanation) else explanation
    rows = [
        {
            "rank": i,
            "segment": s.label(),
            "kind": s.kind,
            "baseline": _float(s.baseline),
            "current": _float(s.current),
            "contribution": _float(s.contribution),
            "share": _float(s.share),
            "mix": _float(s.mix),
            "rate": _float(s.rate),
        }
        for i, s in enumerate(segs or [], 1)
    ]
    return pl.DataFrame(rows, schema=SEGMENT_SCHEMA)


@dataclass
class Explanation:
    """The answer to "why did this KPI move?" (see :func:`kpi.explain.explain`)."""

    metric: str
    label: str
    unit: str
    direction: str
    definition: str
    baseline: dict[str, Any]
    current: dict[str, Any]
    change: dict[str, float | None]
    drivers: list[Driver]
    segments: list[Segment]
    narrative: list[str]
    dims: list[str] = field(default_factory=list)
    method: dict[str, Any] = field(default_factory=dict)
    segment_drivers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with the documented JSON keys."""
        out = asdict(self)
        out["drivers"] = [asdict(d) for d in self.drivers]
        out["segments"] = [s.to_dict() for s in self.segments]
        return out

    def to_markdown(self) -> str:
        """A readable report: narrative, drivers table, segments table."""
        lines = [f"# Why {self.label} changed", ""]
        lines += [f"- {s}" for s in self.narrative]
        lines += ["", f"Definition: {self.definition}", ""]
        if self.drivers:
            lines += [
                "## Drivers",
                "",
                "| driver | baseline | current | contribution | share |",
                "|---|---|---|---|---|",
            ]
            for d in self.drivers:
                lines.append(
                    f"| {d.label} | {format_value(d.baseline, d.unit)} | {format_value(d.current, d.unit)} "
                    f"| {format_value(d.contribution, self.unit, signed=True)} | {_pct(d.share)} |"
                )
            lines.append("")
        if self.segments:
            lines += [
                "## Segments",
                "",
                "| segment | baseline | current | contribution | share |",
                "|---|---|---|---|---|",
            ]
            for s in self.segments:
                name = ", ".join(f"{k} = {v}" for k, v in s.dims.items()) or "all (no one segment)"
                lines.append(
                    f"| {name} | {format_value(s.baseline, self.unit)} | "
                    f"{format_value(s.current, self.unit)} | "
                    f"{format_value(s.contribution, self.unit, signed=True)} | {_pct(s.share)} |"
                )
        return "\n".join(lines) + "\n"


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.0f}%"


def _div(a: float | None, b: float | None, scale: float = 1.0) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return scale * a / b


def _period(p: str | Period) -> Period:
    return p if isinstance(p, Period) else parse_period(p)
