"""Drivers of the queueing KPIs: a Shapley split of an Erlang model over volume, handle time and
staffing (see :func:`queue_drivers`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from kpi.compute import measure_frame
from kpi.data import Dataset
from kpi.explain._model import Driver, _div
from kpi.metrics import Measure, Metric, objectives_from_spec
from kpi.metrics import factories as B
from kpi.periods import Period

__all__ = ["QUEUE_KPIS", "queue_drivers"]


#: KPIs explained by the Erlang model.
QUEUE_KPIS = {"service_level", "asa", "abandon_rate", "avg_wait"}

_FACTORS = ("volume", "aht", "staffing")


class _Measures(NamedTuple):
    """The measures the model reads, per half-hour."""

    off: Measure
    h: Measure
    hs: Measure
    staff: Measure
    ab: Measure
    wq: Measure


def _measures() -> _Measures:
    return _Measures(
        B.offered(0),
        B.handled(),
        B.handle_time(),
        B.agent_busy(available=True),
        B.abandoned(0),
        B.wait_queued(),
    )


@dataclass(frozen=True)
class _Part:
    """One team's baseline half-hours and how each factor scales to the current period."""

    offered: np.ndarray
    agents: np.ndarray
    aht: float
    scale: dict[str, float]
    patience: float | None
    levels: tuple[dict[str, float], dict[str, float], int, int]


def queue_drivers(
    ds: Dataset,
    metric: Metric,
    params: Mapping[str, Any],
    p0: Period,
    p1: Period,
    v0: float,
    v1: float,
) -> list[Driver] | None:
    """Shapley split of an Erlang model over volume, handle time and staffing.

    Each team's baseline half-hours are replayed with that team's volume, handle time and
    staffing scaled to their current-period levels, one factor at a time in every order
    (Shapley values of the three factors); Erlang A uses the patience estimated from the
    baseline (total wait of queued contacts / abandons). What the model does not reproduce of
    the actual change is reported as "other".
    """
    if "agent_time" not in ds or "contacts" not in ds:
        return None
    ms = _measures()
    frames = _half_hours(ds, ms, p0, p1)
    if frames is None:
        return None
    parts = _parts(*frames, ms)
    if not parts:
        return None
    threshold = params.get("threshold_s", 20)
    if threshold == "objective":
        # the model has one threshold per team: the default (voice) objective's; what the
        # queues' own thresholds change is left in "other"
        threshold = objectives_from_spec(params.get("objectives", "")).thresholds("erlang")[0]
        if threshold is None:
            return None
    cache = {
        frozenset(s): _model(metric.id, parts, frozenset(s), threshold)
        for r in range(len(_FACTORS) + 1)
        for s in itertools.combinations(_FACTORS, r)
    }
    if any(v is None for v in cache.values()):
        return None
    phi = _shapley(cache)
    return [
        *_factor_drivers(parts, ms, phi),
        Driver(
            "other",
            "other (intraday pattern, patience, model error)",
            metric.unit_for(params),
            None,
            None,
            (v1 - v0) - sum(phi.values()),
        ),
    ]


def _half_hours(
    ds: Dataset, ms: _Measures, p0: Period, p1: Period
) -> tuple[pl.DataFrame, pl.DataFrame, tuple[str, ...]] | None:
    """The measures by (team and) half-hour in each period, and the group columns."""
    by = (
        ("team",)
        if all("team" in ds[t].collect_schema().names() for t in ("contacts", "agent_time"))
        else ()
    )
    frames = []
    for p in (p0, p1):
        lf, missing = measure_frame(ds, list(ms), by=by, every="30m", period=p)
        if missing:
            return None
        frames.append(lf.collect())
    return frames[0], frames[1], by


def _parts(
    base: pl.DataFrame, cur: pl.DataFrame, by: tuple[str, ...], ms: _Measures
) -> list[_Part]:
    """One :class:`_Part` per team with volume, handle time and staffing in both periods."""
    off, h, hs, staff, ab, wq = list(ms)
    groups = base.partition_by(list(by), as_dict=True) if by else {(): base}
    cur_groups = cur.partition_by(list(by), as_dict=True) if by else {(): cur}
    parts = []
    for key, b in groups.items():
        c = cur_groups.get(key)
        if c is None or b[off.name].sum() == 0 or b[staff.name].sum() == 0:
            continue
        t0 = {m.name: b[m.name].sum() for m in list(ms)}
        t1 = {m.name: c[m.name].sum() for m in list(ms)}
        aht0, aht1 = _div(t0[hs.name], t0[h.name]), _div(t1[hs.name], t1[h.name])
        if not aht0 or not aht1 or not t1[staff.name]:
            continue
        nb, nc = b.height, c.height
        parts.append(
            _Part(
                offered=b[off.name].to_numpy().astype(float),
                agents=b[staff.name].to_numpy().astype(float) / 1800,
                aht=aht0,
                scale={
                    "volume": (t1[off.name] / nc) / (t0[off.name] / nb),
                    "aht": aht1 / aht0,
                    "staffing": (t1[staff.name] / nc) / (t0[staff.name] / nb),
                },
                patience=_div(t0[wq.name], t0[ab.name]),
                levels=(t0, t1, nb, nc),
            )
        )
    return parts


def _model(
    metric_id: str, parts: list[_Part], on: frozenset[str], threshold: float
) -> float | None:
    """The KPI the Erlang model gives with the factors ``on`` at their current levels."""
    from kpi import staffing

    num = den = 0.0
    for part in parts:
        sc = part.scale
        v = part.offered * (sc["volume"] if "volume" in on else 1)
        a = part.aht * (sc["aht"] if "aht" in on else 1)
        n = part.agents * (sc["staffing"] if "staffing" in on else 1)
        ok = (v > 0) & (n > 0)
        if not ok.any():
            continue
        v, n = v[ok], n[ok]
        load = v * a / 1800
        patience = part.patience
        if metric_id == "service_level":
            y = staffing.service_level(
                load, n, aht_s=a, threshold_s=threshold, patience_s=patience
            )
        elif metric_id == "abandon_rate":
            if patience is None:
                y = np.zeros_like(v)
            else:
                y = staffing.abandon_probability(load, n, aht_s=a, patience_s=patience)
        else:
            y = staffing.asa(load, n, aht_s=a, patience_s=patience)
        y = np.asarray(y, dtype=float)
        if not np.isfinite(y).all():
            return None
        num += float((y * v).sum())
        den += float(v.sum())
    return num / den if den else None


def _shapley(cache: Mapping[frozenset[str], Any]) -> dict[str, float]:
    """Shapley value of each factor from the model's value on every subset of factors."""
    phi = {}
    for i in _FACTORS:
        others = [x for x in _FACTORS if x != i]
        total = 0.0
        for r in range(3):
            for s in itertools.combinations(others, r):
                w = math.factorial(r) * math.factorial(2 - r) / math.factorial(3)
                total += w * (cache[frozenset((*s, i))] - cache[frozenset(s)])
        phi[i] = total
    return phi


def _factor_drivers(parts: list[_Part], ms: _Measures, phi: Mapping[str, float]) -> list[Driver]:
    """The three factor drivers with their levels over all teams in both periods."""
    off, h, hs, staff = ms.off, ms.h, ms.hs, ms.staff
    t0s = [p.levels for p in parts]
    vol0 = sum(x[0][off.name] for x in t0s) / max(x[2] for x in t0s)
    vol1 = sum(x[1][off.name] for x in t0s) / max(x[3] for x in t0s)
    ag0 = sum(x[0][staff.name] for x in t0s) / max(x[2] for x in t0s) / 1800
    ag1 = sum(x[1][staff.name] for x in t0s) / max(x[3] for x in t0s) / 1800
    aht0 = sum(x[0][hs.name] for x in t0s) / max(sum(x[0][h.name] for x in t0s), 1)
    aht1 = sum(x[1][hs.name] for x in t0s) / max(sum(x[1][h.name] for x in t0s), 1)
    return [
        Driver("volume", "contacts offered per half-hour", "count", vol0, vol1, phi["volume"]),
        Driver("aht", "average handle time", "s", aht0, aht1, phi["aht"]),
        Driver("staffing", "agents staffed per half-hour", "agents", ag0, ag1, phi["staffing"]),
    ]
