"""Looking KPIs up in the catalogue: ids and ``<kpi>.<param>`` values to metrics and variants.

Examples
--------
>>> definitions("abandon_rate", {"abandon_rate.denominator": "queued"})
{'abandon_rate': 'abandon rate = abandoned in queue / queued (offered + re-queued transfers)'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kpi.errors import KpiError
from kpi.metrics._catalogue import METRICS
from kpi.metrics._metric import Metric

__all__ = ["catalogue", "definitions", "resolve"]


def resolve(
    metrics: str | Iterable[str | Metric], params: Mapping[str, Any] | None = None
) -> list[tuple[Metric, dict[str, Any]]]:
    """Look up KPI ids (``"all"`` for every KPI) and split ``<kpi>.<param>`` values among them.

    ``params`` may be flat (``{"service_level.threshold_s": 30}``) or nested
    (``{"service_level": {"threshold_s": 30}}``). Unknown ids and parameters raise a KpiError
    that lists the valid choices.

    Examples
    --------
    >>> [(m.id, p) for m, p in resolve("aht", {"aht.components": "talk_hold"})]
    [('aht', {'components': 'talk_hold'})]
    >>> resolve(["speed"])
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown KPI 'speed'; valid KPIs: contacts_offered, contacts_answered, ...

    A parameter of a KPI not asked for is checked all the same (a typo is not ignored):

    >>> resolve("aht", {"service_level.threshold_s": "abc"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: ...service_level.threshold_s...
    """
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    ids: list[str] = []
    for m in metrics:
        if isinstance(m, Metric):
            ids.append(m.id)
        elif m == "all":
            ids.extend(METRICS)
        else:
            ids.extend(x.strip() for x in str(m).split(",") if x.strip())
    flat: dict[str, dict[str, Any]] = {}
    for key, value in (params or {}).items():
        if isinstance(value, Mapping):
            for k, v in value.items():
                flat.setdefault(key, {})[k] = v
            continue
        kpi_id, _, name = key.partition(".")
        if not name:
            raise KpiError(
                f"parameter {key!r} must be written <kpi>.<param>, e.g. service_level.threshold_s"
            )
        flat.setdefault(kpi_id, {})[name] = value
    for kpi_id in flat:
        if kpi_id not in METRICS:
            raise KpiError(
                f"unknown KPI {kpi_id!r} in a parameter; valid KPIs: {', '.join(METRICS)}"
            )
        METRICS[kpi_id].resolve_params(flat[kpi_id])  # checked even when not asked for
    out = []
    for kpi_id in dict.fromkeys(ids):
        if kpi_id not in METRICS:
            raise KpiError(f"unknown KPI {kpi_id!r}; valid KPIs: {', '.join(METRICS)}")
        metric = METRICS[kpi_id]
        out.append((metric, metric.resolve_params(flat.get(kpi_id))))
    return out


def definitions(
    metrics: str | Iterable[str | Metric], params: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The formula text of each KPI under the given variants.

    Examples
    --------
    >>> definitions("aht")
    {'aht': 'AHT = (talk + hold + after-call work) / handled'}
    """
    return {m.id: m.build(p).formula for m, p in resolve(metrics, params)}


def catalogue(params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every KPI declaration as plain data (see :meth:`Metric.to_dict`).

    Examples
    --------
    >>> entry = catalogue()[0]
    >>> entry["id"], entry["perspective"], entry["unit"]
    ('contacts_offered', 'internal operations', 'count')
    """
    return [m.to_dict(p) for m, p in resolve("all", params)]
