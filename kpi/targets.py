"""Targets and green/amber/red status, with per-team or per-queue overrides from a TOML file.

A targets file sets, per KPI id, ``target`` (green when met) and ``red`` (red when worse), and
may override them for values of a dimension column::

    [service_level]
    target = 0.85
    red = 0.75

    [service_level.team.North]  # North is measured against a stricter goal
    target = 0.9
    red = 0.8

    [aht.queue.sales]
    target = 300
    red = 420

Values between ``target`` and ``red`` are amber; "better" follows the KPI's direction.

The same file may hold service objectives per channel and queue in an ``[objectives]`` table
(``[objectives.voice]``, ``[objectives.queue."West Sales"]``: ``service_level``,
``threshold_s``, ``response_h``, ``max_occupancy``, ``patience_s``), checked when the file is
read. They are kept as they are in ``TargetSet.objectives`` for :mod:`kpi.schedule` (required
agents and shift plans), parsed in :meth:`TargetSet.service_objectives`, and handed to the KPIs
judged against each queue's objective by :meth:`TargetSet.with_objectives`: with
``service_level.threshold_s=objective`` each real-time contact counts against its own queue's
threshold, and ``response_within_objective`` judges e-mail and tickets by their response
objective in hours.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.metrics import METRICS, Objectives, Target, objectives_from, resolve

__all__ = ["OBJECTIVES", "TargetSet", "load_targets", "status_columns", "variants"]

#: The table of a targets file that holds service objectives per channel and queue.
OBJECTIVES = "objectives"


@dataclass(frozen=True)
class TargetSet:
    """Targets per KPI: a default and overrides keyed by (column, value).

    Examples
    --------
    >>> ts = TargetSet.from_mapping(
    ...     {"aht": {"target": 300, "red": 400, "team": {"B": {"target": 350}}}}
    ... )
    >>> ts.default("aht"), ts.overrides("aht")
    (Target(target=300.0, red=400.0), {('team', 'B'): Target(target=350.0, red=400.0)})
    """

    defaults: dict[str, Target] = field(default_factory=dict)
    by_value: dict[str, dict[tuple[str, str], Target]] = field(default_factory=dict)
    source: str = "built-in defaults"
    #: The ``[objectives]`` table of the file, unparsed (see :mod:`kpi.schedule`).
    objectives: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "mapping") -> TargetSet:
        """Build from parsed TOML (see the module docstring)."""
        defaults: dict[str, Target] = {}
        by_value: dict[str, dict[tuple[str, str], Target]] = {}
        objectives = data.get(OBJECTIVES, {})
        if not isinstance(objectives, Mapping):
            raise KpiError(f"{source}: [{OBJECTIVES}] must be a table of tables per channel")
        objectives_from(objectives, source=source)  # a bad objective is refused on reading
        for kpi_id, spec in data.items():
            if kpi_id == OBJECTIVES:
                continue
            if kpi_id not in METRICS:
                raise KpiError(
                    f"{source}: unknown KPI {kpi_id!r}; valid KPIs: {', '.join(METRICS)}"
                )
            if not isinstance(spec, Mapping):
                raise KpiError(f"{source}: [{kpi_id}] must be a table with target and red")
            base = METRICS[kpi_id].target
            default = _target(spec, base, where=f"{source} [{kpi_id}]")
            defaults[kpi_id] = default
            for column, values in spec.items():
                if column in ("target", "red"):
                    continue
                if not isinstance(values, Mapping):
                    raise KpiError(
                        f"{source}: [{kpi_id}] key {column!r} is not target, red or a "
                        f"dimension table such as [{kpi_id}.team.North]"
                    )
                for value, sub in values.items():
                    by_value.setdefault(kpi_id, {})[(column, str(value))] = _target(
                        sub, default, where=f"{source} [{kpi_id}.{column}.{value}]"
                    )
        return cls(defaults, by_value, source, dict(objectives))

    def default(self, kpi_id: str, params: Mapping[str, Any] | None = None) -> Target | None:
        """The KPI's target: from the file, else the catalogue default for the variants in
        ``params`` (as for :func:`kpi.compute.compute`: a variant may change the unit, and so
        the default target: CSAT as a mean score on 1-5 is judged against 4.2, not 80 %).

        Examples
        --------
        >>> TargetSet().default("csat"), TargetSet().default("csat", {"csat.method": "mean"})
        (Target(target=0.8, red=0.7), Target(target=4.2, red=3.8))
        """
        if kpi_id in self.defaults:
            return self.defaults[kpi_id]
        return METRICS[kpi_id].target_for(variants(kpi_id, params))

    def overrides(self, kpi_id: str) -> dict[tuple[str, str], Target]:
        """Overrides for values of a dimension column."""
        return self.by_value.get(kpi_id, {})

    def service_objectives(self) -> Objectives:
        """The service objectives per channel and queue: the file's ``[objectives]`` over the
        defaults (voice 80 % in 20 s, chat 80 % in 60 s, e-mail 4 h, tickets 8 h).

        Examples
        --------
        >>> ts = TargetSet.from_mapping({"objectives": {"chat": {"threshold_s": 30}}})
        >>> ts.service_objectives().for_queue("North Chat", "chat").text()
        '80% in 30 s'
        """
        return objectives_from(self.objectives, source=self.source)

    def with_objectives(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``params`` (flat ``<kpi>.<param>``) with the file's objective thresholds set as the
        ``objectives`` variant of every KPI that has one (``service_level``,
        ``response_within_objective``, and the waits of real-time queues: ``asa``,
        ``avg_wait``, ``longest_wait``), unless ``params`` already sets it. Service level uses
        them under its default ``threshold_s=objective``.

        Examples
        --------
        >>> ts = TargetSet.from_mapping({"objectives": {"chat": {"threshold_s": 30}}})
        >>> p = ts.with_objectives({"service_level.threshold_s": "objective"})
        >>> p["service_level.objectives"], p["response_within_objective.objectives"]
        ('chat=30s', 'chat=30s')
        >>> sorted(k for k in p if k.endswith(".objectives"))
        ['asa.objectives', 'avg_wait.objectives', 'longest_wait.objectives', 'response_within_objective.objectives', 'service_level.objectives']
        >>> TargetSet().with_objectives({"aht.components": "talk_hold"})
        {'aht.components': 'talk_hold'}
        """
        out = dict(params or {})
        spec = self.service_objectives().spec()
        if not spec:
            return out
        for kpi_id, metric in METRICS.items():
            key = f"{kpi_id}.objectives"
            if any(p.name == "objectives" for p in metric.params) and key not in out:
                out[key] = spec
        return out


def _target(spec: Mapping[str, Any], base: Target | None, *, where: str) -> Target:
    try:
        target = float(spec.get("target", base.target if base else None))  # type: ignore[arg-type]
        red = float(spec.get("red", base.red if base else target))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise KpiError(f"{where}: target and red must be numbers") from None
    return Target(target, red)


def variants(kpi_id: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variant values of one KPI in force under ``params`` (flat ``<kpi>.<param>`` or
    nested by KPI id, as for :func:`kpi.compute.compute`), defaults filled in.

    Examples
    --------
    >>> variants("csat", {"csat.method": "mean", "aht.components": "talk_hold"})
    {'method': 'mean', 'scale_max': 5}
    """
    return resolve(kpi_id, params)[0][1]


def load_targets(path: str | Path | None) -> TargetSet:
    """Read a targets TOML file (``None``: the catalogue defaults).

    Raises
    ------
    KpiError
        For a missing file, bad TOML, unknown KPI ids or non-numeric values.
    """
    if path is None:
        return TargetSet()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise KpiError(f"targets file {p} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise KpiError(f"targets file {p} is not valid TOML: {exc}") from None
    return TargetSet.from_mapping(data, source=str(p))


def status_columns(
    frame: pl.LazyFrame,
    metrics: Iterable[str],
    targets: TargetSet | None = None,
    *,
    params: Mapping[str, Any] | None = None,
) -> pl.LazyFrame:
    """Add ``<kpi>_target`` and ``<kpi>_status`` (green, amber, red) columns.

    Overrides apply where the frame has the override's column (e.g. ``team``). ``params`` are
    the variants the values were computed under (their unit decides the default target).

    Examples
    --------
    >>> lf = pl.LazyFrame({"team": ["A", "B"], "abandon_rate": [0.04, 0.07]})
    >>> ts = TargetSet.from_mapping({"abandon_rate": {"team": {"B": {"target": 0.08}}}})
    >>> status_columns(lf, ["abandon_rate"], ts).collect()["abandon_rate_status"].to_list()
    ['green', 'green']
    """
    targets = targets or TargetSet()
    names = frame.collect_schema().names()
    cols = []
    for kpi_id in metrics:
        base = targets.default(kpi_id, params)
        if base is None or kpi_id not in names:
            continue
        t_expr: Any = pl.lit(base.target)
        r_expr: Any = pl.lit(base.red)
        for (column, value), t in targets.overrides(kpi_id).items():
            if column in names:
                hit = pl.col(column).cast(pl.String) == value
                t_expr = pl.when(hit).then(pl.lit(t.target)).otherwise(t_expr)
                r_expr = pl.when(hit).then(pl.lit(t.red)).otherwise(r_expr)
        sign = 1.0 if METRICS[kpi_id].direction == "higher" else -1.0
        v = pl.col(kpi_id)
        status = (
            pl.when(v.is_null())
            .then(None)
            .when((v - t_expr) * sign >= 0)
            .then(pl.lit("green"))
            .when((v - r_expr) * sign < 0)
            .then(pl.lit("red"))
            .otherwise(pl.lit("amber"))
        )
        cols += [t_expr.alias(f"{kpi_id}_target"), status.alias(f"{kpi_id}_status")]
    return frame.with_columns(cols) if cols else frame
