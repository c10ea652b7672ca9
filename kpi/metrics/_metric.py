"""The types of the semantic layer: a KPI (:class:`Metric`), its variants and its builds.

A :class:`Metric` is declared once, by keyword, in :mod:`kpi.metrics._catalogue`.
``Metric.build(params)`` turns a choice of variants into a :class:`Build`: the numerator and
denominator :class:`~kpi.metrics.Measure` objects, the value expression over their columns and
the formula text every output prints. Nothing here reads data: the engine
(:mod:`kpi.compute`) aggregates the measures and evaluates :meth:`Build.value_expr`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.metrics._measure import Measure

__all__ = ["PERSPECTIVES", "Build", "Metric", "Param", "Target"]

#: Balanced-scorecard perspectives, in reading order.
PERSPECTIVES = ("customer", "financial", "internal operations", "learning and growth")


@dataclass(frozen=True)
class Param:
    """A definition variant of a KPI, set as ``<kpi>.<name>=value``.

    ``keywords``: words a numeric variant also takes as they are (``threshold_s=objective``).
    """

    name: str
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    type: type = str
    minimum: float | None = None
    maximum: float | None = None
    keywords: tuple[str, ...] = ()

    def coerce(self, value: Any, *, metric: str) -> Any:
        """Parse (from CLI text) and check a value, or raise a KpiError listing the valid ones.

        Examples
        --------
        >>> p = Param("threshold_s", default=20, doc="T", type=int, minimum=0, maximum=86400)
        >>> p.coerce("30", metric="service_level")
        30
        >>> Param("t", default=20, doc="T", type=int, keywords=("objective",)).coerce(
        ...     " Objective", metric="service_level"
        ... )
        'objective'
        >>> p.coerce("1e400", metric="service_level")
        Traceback (most recent call last):
        kpi.errors.KpiError: bad value '1e400' for service_level.threshold_s: expected a finite int
        >>> p.coerce(10**18, metric="service_level")
        Traceback (most recent call last):
        kpi.errors.KpiError: bad value 1e+18 for service_level.threshold_s: must be a number from 0 to 86400
        """
        key = f"{metric}.{self.name}"
        if isinstance(value, str) and value.strip().lower() in self.keywords:
            return value.strip().lower()
        if isinstance(value, str) and self.type is not str:
            text = value.strip().lower()
            try:
                value = (
                    text in ("1", "true", "yes", "on")
                    if self.type is bool
                    else self.type(float(text) if self.type is int else text)
                )
            except (ValueError, OverflowError):  # "x", "nan", "inf", "1e400" for an int
                also = "".join(f" or {k!r}" for k in self.keywords)
                raise KpiError(
                    f"bad value {value!r} for {key}: expected a finite {self.type.__name__}{also}"
                ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise KpiError(f"bad value {value!r} for {key}: expected a finite number")
        if self.type is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if self.choices is not None and value not in self.choices:
            raise KpiError(
                f"bad value {value!r} for {key}; valid values: "
                + ", ".join(str(c) for c in self.choices)
            )
        low, high = self.minimum, self.maximum
        if (low is not None or high is not None) and (
            not isinstance(value, (int, float))
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            shown = (
                f"{value:.3g}"
                if isinstance(value, (int, float)) and abs(value) >= 1e9
                else repr(value)
            )
            if high is None:
                raise KpiError(f"bad value {shown} for {key}: must be a number >= {low}")
            raise KpiError(f"bad value {shown} for {key}: must be a number from {low} to {high}")
        return value


@dataclass(frozen=True)
class Target:
    """Default target: ``green`` when the value meets ``target``, ``red`` when it is worse than
    ``red``, ``amber`` in between (direction-aware)."""

    target: float
    red: float


@dataclass(frozen=True)
class Build:
    """A KPI under one choice of variants: its measures, value and formula text.

    ``value`` defaults to ``scale * numerator / denominator`` (null when the denominator is 0),
    or ``scale * numerator`` when there is no denominator. :meth:`ratio` writes the formula
    from the measures' own texts; the constructor takes it as given, for wording that cannot be
    composed from them.

    ``unit`` and ``target``, when given, replace the KPI's declared ones under this variant: a
    variant that changes what the number is (CSAT as a mean score instead of a top-2-box
    share) changes its unit and the default target in that unit
    (:meth:`Metric.unit_for`, :meth:`Metric.target_for`).
    """

    formula: str
    numerator: Measure
    denominator: Measure | None = None
    scale: float = 1.0
    value: pl.Expr | None = None
    extra: tuple[Measure, ...] = ()
    unit: str | None = None
    target: Target | None = None

    @classmethod
    def ratio(
        cls,
        name: str,
        numerator: Measure,
        denominator: Measure | None = None,
        *,
        note: str = "",
        scale: float = 1.0,
        value: pl.Expr | None = None,
        extra: tuple[Measure, ...] = (),
    ) -> Build:
        """A build whose formula is composed from its measures' texts.

        ``"<name> = [<scale> × ]<numerator.text>[ / <denominator.text>]<note>"``, so the text
        states exactly the measures (threshold, short-abandon limit, window...) that compute
        the value.

        Examples
        --------
        >>> num = Measure("a", "a", text="answered ≤ 20 s")
        >>> den = Measure("o", "o", text="offered")
        >>> Build.ratio("SL", num, den).formula
        'SL = answered ≤ 20 s / offered'
        >>> Build.ratio("NPS", num, den, scale=100.0, note=" (sic)").formula
        'NPS = 100 × answered ≤ 20 s / offered (sic)'
        """
        terms = [m for m in (numerator, denominator) if m is not None]
        untold = [m.name for m in terms if not m.text]
        if untold:
            raise ValueError(f"{name}: measure {untold[0]!r} has no formula text")
        prefix = f"{scale:g} × " if scale != 1 else ""
        formula = f"{name} = {prefix}" + " / ".join(m.text for m in terms) + note
        return cls(formula, numerator, denominator, scale=scale, value=value, extra=extra)

    @property
    def measures(self) -> tuple[Measure, ...]:
        """All measures this build needs."""
        return tuple(m for m in (self.numerator, self.denominator, *self.extra) if m is not None)

    def value_expr(self) -> pl.Expr:
        """The KPI value from the measure columns."""
        if self.value is not None:
            return self.value
        num = pl.col(self.numerator.name).cast(pl.Float64)
        if self.denominator is None:
            return num * self.scale if self.scale != 1 else num
        den = pl.col(self.denominator.name).cast(pl.Float64)
        return pl.when(den > 0).then(num * self.scale / den).otherwise(None)


@dataclass(frozen=True, kw_only=True)
class Metric:
    """A KPI declared once, by keyword: what it means, how it is built and judged.

    Parameters
    ----------
    id, label
        Stable id (``service_level``) and display label.
    perspective, kra
        Balanced-scorecard perspective (one of :data:`PERSPECTIVES`) and key result area.
    unit, direction
        Unit of the value (``ratio``, ``s``, ``count``...) and which way is better
        (``"higher"`` or ``"lower"``).
    description
        One sentence for catalogues and tooltips.
    builder
        Variant values (every :class:`Param`, defaults filled in) to a :class:`Build`.
    params
        The definition variants, set as ``<id>.<param>``.
    target
        Default target and red threshold, if any.
    tl
        A team-leader KPI.

    Examples
    --------
    >>> m = Metric(
    ...     id="answered",
    ...     label="Answered",
    ...     perspective="internal operations",
    ...     kra="volume",
    ...     unit="count",
    ...     direction="higher",
    ...     description="Contacts answered.",
    ...     builder=lambda p: Build("answered", Measure("answered", "answered", kind="sum")),
    ... )
    >>> m.build().formula, m.tables
    ('answered', ())
    """

    id: str
    label: str
    perspective: str
    kra: str
    unit: str
    direction: str  # "higher" or "lower" is better
    description: str
    builder: Callable[[Mapping[str, Any]], Build]
    params: tuple[Param, ...] = ()
    target: Target | None = None
    tl: bool = False  # a team-leader KPI

    @cached_property
    def tables(self) -> tuple[str, ...]:
        """The tables the default build reads (sorted)."""
        return tuple(sorted({t for m in self.build().measures for t in m.source_tables}))

    def resolve_params(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``given`` (short names), each checked."""
        given = dict(given or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(f"{self.id}.{p}" for p in known) or "none"
            raise KpiError(
                f"unknown parameter {self.id}.{unknown[0]}; valid parameters of {self.id}: {valid}"
            )
        return {
            name: (p.coerce(given[name], metric=self.id) if name in given else p.default)
            for name, p in known.items()
        }

    def build(self, params: Mapping[str, Any] | None = None) -> Build:
        """The measures, value and formula for ``params`` (short names)."""
        return self.builder(self.resolve_params(params))

    def unit_for(self, params: Mapping[str, Any] | None = None) -> str:
        """The unit of the value under ``params`` (short names): the variant's, else declared.

        Examples
        --------
        >>> from kpi.metrics import METRICS
        >>> METRICS["csat"].unit_for(), METRICS["csat"].unit_for({"method": "mean"})
        ('ratio', 'points')
        """
        return self.build(params).unit or self.unit

    def target_for(self, params: Mapping[str, Any] | None = None) -> Target | None:
        """The default target under ``params``, in :meth:`unit_for`'s unit.

        Examples
        --------
        >>> from kpi.metrics import METRICS
        >>> METRICS["csat"].target_for(), METRICS["csat"].target_for({"method": "mean"})
        (Target(target=0.8, red=0.7), Target(target=4.2, red=3.8))
        """
        return self.build(params).target or self.target

    def status(
        self,
        value: float | None,
        target: Target | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> str | None:
        """``green``, ``amber`` or ``red`` against ``target`` (default: the one for ``params``).

        Examples
        --------
        >>> from kpi.metrics import METRICS
        >>> METRICS["abandon_rate"].status(0.07)
        'amber'
        >>> METRICS["csat"].status(4.0, params={"method": "mean"})
        'amber'
        """
        t = target or self.target_for(params)
        if value is None or t is None:
            return None
        sign = 1 if self.direction == "higher" else -1
        if sign * (value - t.target) >= 0:
            return "green"
        if sign * (value - t.red) < 0:
            return "red"
        return "amber"

    def to_dict(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The declaration as plain data (for ``kpi metrics --format json``)."""
        b = self.build(params)
        target = b.target or self.target
        return {
            "id": self.id,
            "label": self.label,
            "perspective": self.perspective,
            "kra": self.kra,
            "unit": b.unit or self.unit,
            "direction": self.direction,
            "team_leader": self.tl,
            "formula": b.formula,
            "description": self.description,
            "tables": sorted({t for m in b.measures for t in m.source_tables}),
            "numerator": b.numerator.name,
            "denominator": b.denominator.name if b.denominator else None,
            "measures": {
                m.name: {"kind": m.kind, "description": m.description} for m in b.measures
            },
            "params": [
                {
                    "name": f"{self.id}.{p.name}",
                    "default": p.default,
                    "choices": list(p.choices) if p.choices else None,
                    "doc": p.doc,
                }
                for p in self.params
            ],
            "target": None if target is None else {"target": target.target, "red": target.red},
        }
