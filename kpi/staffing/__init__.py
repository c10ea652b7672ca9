"""Staffing what-ifs with Erlang C and Erlang A, driven by the actual interval data.

Two layers:

* **Formulas** (numpy, vectorised over any number of intervals and queues): the wait
  probability, service level, ASA, abandonment probability and occupancy of ``agents`` agents
  facing ``load_erlangs`` Erlangs, and the agents required for a service-level target, an ASA
  target, an abandonment cap and an occupancy cap. ``patience_s=None`` is Erlang C (M/M/n,
  nobody abandons); a mean patience in seconds is Erlang A (M/M/n+M, exponential patience).
* **From the data** (polars, lazy): :func:`staffing_table` gives, per interval and queue or
  team, the offered volume, AHT, load, required agents, agents actually staffed, over- and
  under-staffing, and the service level the actual staffing should have produced next to the
  achieved one; :func:`project` applies a what-if (agents, AHT, volume up or down).

Numerics: no factorials. Erlang B is computed as ``1/E(n, a) = Γ(n+1, a)·e^a·a^(−n)`` through
``scipy.special.gammaincc`` in log space (its analytic continuation to real ``n``, Jagerman
1974); Erlang A uses the closed forms of Mandelbaum & Zeltyn (2007) and Garnett, Mandelbaum &
Reiman (2002) in the incomplete gamma function ``γ(x, y)``; where a regularised incomplete gamma
underflows a short positive series replaces it. Loads of many thousands of Erlangs are fine.

Rounding: required agents are *fractional*: the smallest real ``n`` at which the formulas,
continued to real ``n``, meet every target. They agree with the textbook values at whole
``n``, and ``ceil`` of the fractional value is the whole number of agents a single queue needs.
Round once, at the end: sum fractional requirements across queues or intervals, then
:func:`round_up` the total (rounding each queue up first overstates the total).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from kpi import _erlang
from kpi.data import Dataset
from kpi.errors import KpiError

__all__ = [
    "DENOMINATORS",
    "Change",
    "WhatIf",
    "abandon_probability",
    "asa",
    "estimate_patience",
    "load_erlangs",
    "occupancy",
    "parse_what_if",
    "project",
    "required_agents",
    "required_staff",
    "round_up",
    "scheduled_agents",
    "service_level",
    "staffing_table",
    "wait_probability",
]

#: Service-level denominators (the names of ``service_level.denominator`` in ``kpi.metrics``).
#: In the queueing model every offered contact is answered or abandons, so ``offered`` and
#: ``answered_plus_abandoned`` give the same model value; they differ in data with flow-outs.
DENOMINATORS = _erlang.DENOMINATORS

Denominator = Literal[
    "offered",
    "answered_plus_abandoned",
    "answered",
    "ignore_abandons_within_threshold",
    "abandons_within_threshold_met",
]

# ----------------------------------------------------------------------------- validation


def _array(name: str, value: Any, *, low: float, low_open: bool, high: float | None = None,
           high_open: bool = False) -> np.ndarray:  # fmt: skip
    arr = np.asarray(value, dtype=float)
    if np.any(np.isnan(arr)):
        raise KpiError(f"{name} must be a number, got NaN")
    bad = (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad = bad | ((arr >= high) if high_open else (arr > high))
    if np.any(bad):
        first = arr[bad].flat[0] if arr.ndim else float(arr)
        lo = f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f" and {'<' if high_open else '<='} {high:g}"
        raise KpiError(f"{name} must be {lo}{hi}, got {first:g}")
    return arr


def _patience(patience_s: Any) -> Any:
    if patience_s is None:
        return None
    arr = np.asarray(patience_s, dtype=float)
    if np.any(~np.isnan(arr) & (arr <= 0)):
        raise KpiError("patience_s must be > 0 seconds (or None for Erlang C)")
    return np.where(np.isnan(arr), np.inf, arr)  # NaN (unknown patience) -> Erlang C


def _denominator(denominator: str) -> str:
    if denominator not in DENOMINATORS:
        raise KpiError(
            f"unknown service-level denominator {denominator!r}; valid: {', '.join(DENOMINATORS)}"
        )
    return denominator


def _out(value: np.ndarray, *inputs: Any) -> Any:
    """A float when every input was a scalar, else the array."""
    if all(np.ndim(v) == 0 for v in inputs if v is not None):
        return float(np.asarray(value).reshape(()))
    return value


def _model(load_erlangs, agents, aht_s, threshold_s, patience_s, *, with_asa=True):
    load = _array("load_erlangs", load_erlangs, low=0, low_open=False)
    n = _array("agents", agents, low=0, low_open=False)
    aht = _array("aht_s", aht_s, low=0, low_open=True)
    thr = _array("threshold_s", threshold_s, low=0, low_open=False)
    return _erlang.evaluate(
        load, n, aht_s=aht, threshold_s=thr, patience_s=_patience(patience_s), with_asa=with_asa
    )


# ----------------------------------------------------------------------------- formulas


def load_erlangs(volume, *, aht_s, interval_s):
    """Offered load in Erlangs: contacts per interval × AHT / interval length.

    Parameters
    ----------
    volume
        Contacts offered in the interval (scalar or array).
    aht_s
        Average handle time in seconds, including after-call work.
    interval_s
        Interval length in seconds.

    Returns
    -------
    float or numpy.ndarray
        ``A = volume · aht_s / interval_s``.

    Notes
    -----
    A = λ·h (arrival rate × mean handle time, same time unit): one Erlang is one agent kept busy
    for the whole interval. Agent load uses AHT *with* wrap-up (kpi dictionary B.14).

    Examples
    --------
    >>> load_erlangs(100, aht_s=180, interval_s=1800)
    10.0
    """
    v = _array("volume", volume, low=0, low_open=False)
    h = _array("aht_s", aht_s, low=0, low_open=True)
    i = _array("interval_s", interval_s, low=0, low_open=True)
    return _out(v * h / i, volume, aht_s, interval_s)


def wait_probability(load_erlangs, agents, *, aht_s=None, patience_s=None):
    """Probability that a contact has to wait (all agents busy on arrival).

    Parameters
    ----------
    load_erlangs
        Offered load ``A`` in Erlangs.
    agents
        Agents on the queue ``n``; may be fractional (the formulas are continued to real ``n``).
    aht_s
        Average handle time (s); needed only with ``patience_s``.
    patience_s
        Mean patience (s) for Erlang A; None for Erlang C.

    Returns
    -------
    float or numpy.ndarray
        In [0, 1]; 1 when ``n <= A`` under Erlang C; NaN with no load and no agents.

    Notes
    -----
    Erlang C: ``C = n·E / (n − A·(1 − E))`` with Erlang B ``E = (A^n/n!) / Σ_{k≤n} A^k/k!``,
    evaluated as ``1/E = Γ(n+1, A)·e^A·A^(−n)``. Erlang A: ``P(W > 0) = 𝒜·E / (1 + (𝒜 − 1)·E)``
    with ``𝒜 = x·e^y·y^(−x)·γ(x, y)``, ``x = n·patience/AHT``, ``y = A·patience/AHT``
    (Mandelbaum & Zeltyn 2007).

    Examples
    --------
    >>> round(wait_probability(10, 14), 4)
    0.1741
    >>> round(wait_probability(10, 14, aht_s=180, patience_s=120), 4)
    0.127
    """
    aht = 1.0 if aht_s is None else aht_s
    if patience_s is not None and aht_s is None:
        raise KpiError("wait_probability with patience_s (Erlang A) needs aht_s")
    parts = _model(load_erlangs, agents, aht, 0.0, patience_s, with_asa=False)
    return _out(parts["wait_probability"], load_erlangs, agents, aht_s, patience_s)


def service_level(
    load_erlangs,
    agents,
    *,
    aht_s,
    threshold_s,
    patience_s=None,
    denominator: Denominator = "offered",
):
    """Expected service level: the share of contacts answered within ``threshold_s``.

    Parameters
    ----------
    load_erlangs
        Offered load in Erlangs.
    agents
        Agents (may be fractional).
    aht_s
        Average handle time (s).
    threshold_s
        Service-level threshold ``T`` (s).
    patience_s
        Mean patience (s) for Erlang A; None for Erlang C.
    denominator
        How abandoners count (Erlang A; with Erlang C nobody abandons and all agree):
        ``"offered"`` (default) and ``"answered_plus_abandoned"``: abandoners are misses,
        ``P(answered within T)``; ``"answered"``: abandoners excluded, ``P(answered ≤ T) /
        P(answered)``; ``"ignore_abandons_within_threshold"``: ``P(answered ≤ T) / (1 −
        P(abandoned ≤ T))``; ``"abandons_within_threshold_met"``: ``P(answered ≤ T) +
        P(abandoned ≤ T)`` (= P(wait ≤ T)).

    Returns
    -------
    float or numpy.ndarray
        In [0, 1]; 0 when ``n <= A`` under Erlang C; NaN with no load and no agents.

    Notes
    -----
    Erlang C: ``SL = 1 − C·exp(−(n − A)·T / AHT)``. Erlang A, with ``θ = 1/patience`` and
    ``s = e^(−θT)``: ``P(answered ≤ T) = 1 − P(W>0) + P(W>0)·[γ(x+1, y) − γ(x+1, y·s)] /
    (y·γ(x, y))`` and ``P(W > T | W > 0) = s·γ(x, y·s) / γ(x, y)`` (Mandelbaum & Zeltyn 2007).

    Examples
    --------
    >>> round(service_level(10, 14, aht_s=180, threshold_s=20), 4)
    0.8884
    >>> round(service_level(10, 14, aht_s=180, threshold_s=20, patience_s=120), 4)
    0.9327
    """
    parts = _model(load_erlangs, agents, aht_s, threshold_s, patience_s, with_asa=False)
    sl = _erlang.service_level_from(parts, _denominator(denominator))
    return _out(sl, load_erlangs, agents, aht_s, threshold_s, patience_s)


def asa(load_erlangs, agents, *, aht_s, patience_s=None):
    """Expected average speed of answer (s): the mean wait of answered contacts.

    Parameters
    ----------
    load_erlangs
        Offered load in Erlangs.
    agents
        Agents (may be fractional).
    aht_s
        Average handle time (s).
    patience_s
        Mean patience (s) for Erlang A; None for Erlang C.

    Returns
    -------
    float or numpy.ndarray
        Seconds, including the zero waits of contacts answered at once; ``inf`` when
        ``n <= A`` under Erlang C (the queue grows without bound); NaN when nothing is answered.

    Notes
    -----
    Erlang C: ``ASA = C·AHT / (n − A)``. Erlang A: ``ASA = P(W>0)·P(served | W>0)·
    E[V | served, V>0] / P(served)`` with ``E[V | served, V>0] = patience·E[ln(y/G) | G ≤ y]``,
    ``G ~ Gamma(x+1)``, computed as ``−patience·∂/∂c log(γ(c, y)·e^y·y^(−c))`` at ``c = x+1``.

    Examples
    --------
    >>> round(asa(10, 14, aht_s=180), 2)
    7.84
    >>> round(asa(10, 14, aht_s=180, patience_s=120), 2)
    2.35
    """
    parts = _model(load_erlangs, agents, aht_s, 0.0, patience_s)
    return _out(parts["asa_s"], load_erlangs, agents, aht_s, patience_s)


def abandon_probability(load_erlangs, agents, *, aht_s, patience_s):
    """Expected share of offered contacts that abandon (Erlang A).

    Parameters
    ----------
    load_erlangs
        Offered load in Erlangs.
    agents
        Agents (may be fractional).
    aht_s
        Average handle time (s).
    patience_s
        Mean patience (s); None (Erlang C) gives 0.

    Returns
    -------
    float or numpy.ndarray
        In [0, 1].

    Notes
    -----
    ``P(Ab) = P(W>0)·(1/(ρ·𝒜) + 1 − 1/ρ)`` with ``ρ = A/n`` (Mandelbaum & Zeltyn 2007); by
    Little's law the mean wait of all contacts is ``P(Ab)·patience``.

    Examples
    --------
    >>> round(abandon_probability(10, 14, aht_s=180, patience_s=120), 4)
    0.0228
    """
    parts = _model(load_erlangs, agents, aht_s, 0.0, patience_s, with_asa=False)
    return _out(parts["abandon_probability"], load_erlangs, agents, aht_s, patience_s)


def occupancy(load_erlangs, agents, *, aht_s=None, patience_s=None):
    """Expected occupancy: the share of agents' time spent handling contacts.

    Parameters
    ----------
    load_erlangs
        Offered load in Erlangs.
    agents
        Agents (may be fractional).
    aht_s
        Average handle time (s); needed only with ``patience_s``.
    patience_s
        Mean patience (s) for Erlang A; None for Erlang C.

    Returns
    -------
    float or numpy.ndarray
        In [0, 1]; NaN with no agents.

    Notes
    -----
    Erlang C: ``A / n`` (capped at 1). Erlang A: carried load over agents,
    ``A·(1 − P(Ab)) / n``.

    Examples
    --------
    >>> round(occupancy(10, 14), 3)
    0.714
    """
    if patience_s is not None and aht_s is None:
        raise KpiError("occupancy with patience_s (Erlang A) needs aht_s")
    aht = 1.0 if aht_s is None else aht_s
    parts = _model(load_erlangs, agents, aht, 0.0, patience_s, with_asa=False)
    return _out(parts["occupancy"], load_erlangs, agents, aht_s, patience_s)


def required_agents(
    load_erlangs,
    *,
    aht_s,
    target_sl=None,
    threshold_s=None,
    target_asa_s=None,
    max_occupancy=None,
    max_abandon=None,
    patience_s=None,
    denominator: Denominator = "offered",
):
    """Fractional agents needed to meet every given target.

    Parameters
    ----------
    load_erlangs
        Offered load in Erlangs (scalar or array: one value per interval and queue).
    aht_s
        Average handle time (s).
    target_sl
        Service-level target in (0, 1), with ``threshold_s``.
    threshold_s
        Service-level threshold (s).
    target_asa_s
        Largest acceptable ASA (s).
    max_occupancy
        Occupancy cap in (0, 1]: at least ``A / max_occupancy`` agents.
    max_abandon
        Abandonment cap in (0, 1) (Erlang A; needs ``patience_s``).
    patience_s
        Mean patience (s) for Erlang A; None for Erlang C.
    denominator
        Service-level definition, see :func:`service_level`.

    Returns
    -------
    float or numpy.ndarray
        Fractional agents, 0 for zero load; :func:`round_up` gives whole agents.

    Notes
    -----
    The smallest whole ``N`` is found first: Erlang C searches from the smallest whole number
    above the load, ``floor(A) + 1`` (never ``round(A + 1)``, which can skip the answer);
    Erlang A from 1 (with abandonment fewer agents than the load can do). The fractional value
    is then the root, in ``(N − 1, N]``, of the binding target with the formulas continued to
    real ``n``, so ``ceil(result) == N``. Finally ``max(result, A / max_occupancy)``.

    Examples
    --------
    >>> n = required_agents(10, aht_s=180, target_sl=0.8, threshold_s=20)
    >>> round(n, 3), round_up(n)
    (13.037, 14)
    >>> [round_up(v) for v in required_agents([10, 20], aht_s=180, target_asa_s=15)]
    [14, 24]
    """
    load = _array("load_erlangs", load_erlangs, low=0, low_open=False)
    aht = _array("aht_s", aht_s, low=0, low_open=True)
    targets = [target_sl, target_asa_s, max_occupancy, max_abandon]
    if all(t is None for t in targets):
        raise KpiError(
            "required_agents needs a target: target_sl, target_asa_s, max_occupancy or max_abandon"
        )
    if target_sl is not None:
        _array("target_sl", target_sl, low=0, low_open=True, high=1, high_open=True)
        if threshold_s is None:
            raise KpiError("target_sl needs threshold_s (the service-level threshold in seconds)")
    thr = _array("threshold_s", 0.0 if threshold_s is None else threshold_s, low=0, low_open=False)
    if target_asa_s is not None:
        _array("target_asa_s", target_asa_s, low=0, low_open=True)
    if max_occupancy is not None:
        _array("max_occupancy", max_occupancy, low=0, low_open=True, high=1)
    if max_abandon is not None:
        _array("max_abandon", max_abandon, low=0, low_open=True, high=1, high_open=True)
        if patience_s is None:
            raise KpiError("max_abandon needs patience_s: nobody abandons under Erlang C")
    result = _erlang.solve_agents(
        load,
        aht_s=aht,
        threshold_s=thr,
        patience_s=_patience(patience_s),
        target_sl=target_sl,
        target_asa_s=target_asa_s,
        max_occupancy=max_occupancy,
        max_abandon=max_abandon,
        denominator=_denominator(denominator),
    )
    return _out(result, load_erlangs, aht_s, threshold_s, patience_s)


def round_up(agents, *, tol: float = 1e-6):
    """Whole agents from fractional ones: ``ceil(agents − tol)``.

    Apply it once, to a final figure or total; ``tol`` absorbs floating-point noise so that
    14.0000000001 stays 14.

    Examples
    --------
    >>> round_up(13.04), round_up(14.0000000001)
    (14, 14)
    >>> round_up([13.04, 0.0, 5.2]).tolist()
    [14, 0, 6]
    """
    arr = np.ceil(np.asarray(agents, dtype=float) - tol).astype(np.int64)
    arr = np.maximum(arr, 0)
    return int(arr) if arr.ndim == 0 else arr


def scheduled_agents(agents, *, shrinkage):
    """Scheduled staff needed so that ``agents`` remain on the phones after shrinkage.

    Parameters
    ----------
    agents
        Agents needed on queue (fractional or whole).
    shrinkage
        Share of scheduled time not available for contacts, in [0, 1).

    Returns
    -------
    float or numpy.ndarray
        ``agents / (1 − shrinkage)``, unrounded.

    Notes
    -----
    Scheduled = required / (1 − S) (kpi dictionary B.10). The textbook convention rounds the
    whole agents first and then the scheduled staff: ``ceil(14 / 0.7) = 20``.

    Examples
    --------
    >>> scheduled_agents(14, shrinkage=0.3)
    20.0
    """
    n = _array("agents", agents, low=0, low_open=False)
    s = _array("shrinkage", shrinkage, low=0, low_open=False, high=1, high_open=True)
    return _out(n / (1.0 - s), agents, shrinkage)


def required_staff(
    volume,
    *,
    interval_min,
    aht_s,
    target_sl=0.8,
    threshold_s=20.0,
    target_asa_s=None,
    max_occupancy=None,
    shrinkage=0.0,
    patience_s=None,
    max_abandon=None,
    denominator: Denominator = "offered",
) -> dict[str, Any]:
    """The whole staffing answer for one queue and interval (or arrays of them).

    Parameters
    ----------
    volume
        Contacts offered in the interval.
    interval_min
        Interval length in minutes.
    aht_s
        Average handle time (s).
    target_sl, threshold_s
        Service-level target (fraction) and threshold (s); ``target_sl=None`` drops it.
    target_asa_s, max_occupancy, max_abandon
        Further targets, see :func:`required_agents`.
    shrinkage
        Share of scheduled time off the phones, in [0, 1).
    patience_s
        Mean patience (s) for Erlang A; None for Erlang C.
    denominator
        Service-level definition, see :func:`service_level`.

    Returns
    -------
    dict
        ``load_erlangs``; ``agents_fractional`` and ``agents`` (whole: ``ceil``);
        ``scheduled_fractional`` (fractional agents / (1 − shrinkage)) and
        ``scheduled_agents`` (``ceil(agents / (1 − shrinkage))``, the textbook figure); and,
        at the whole ``agents``: ``service_level``, ``asa_s``, ``wait_probability``,
        ``occupancy`` and, with patience, ``abandon_probability``. Sum the ``*_fractional``
        values across queues and round the total once.

    Examples
    --------
    >>> r = required_staff(
    ...     100, interval_min=30, aht_s=180, target_sl=0.8, threshold_s=20, shrinkage=0.3
    ... )
    >>> r["agents"], r["scheduled_agents"], round(r["service_level"], 3), round(r["occupancy"], 3)
    (14, 20, 0.888, 0.714)
    """
    vol = _array("volume", volume, low=0, low_open=False)
    minutes = _array("interval_min", interval_min, low=0, low_open=True)
    aht = _array("aht_s", aht_s, low=0, low_open=True)
    s = _array("shrinkage", shrinkage, low=0, low_open=False, high=1, high_open=True)
    load = vol * aht / (minutes * 60.0)
    frac = required_agents(
        load,
        aht_s=aht,
        target_sl=target_sl,
        threshold_s=threshold_s if target_sl is not None else None,
        target_asa_s=target_asa_s,
        max_occupancy=max_occupancy,
        max_abandon=max_abandon,
        patience_s=patience_s,
        denominator=denominator,
    )
    whole = round_up(frac)
    thr = 20.0 if threshold_s is None else threshold_s
    parts = _model(load, whole, aht, thr, patience_s)
    scalar = all(np.ndim(v) == 0 for v in (volume, interval_min, aht_s, shrinkage, patience_s))

    def out(v):
        return float(np.asarray(v).reshape(())) if scalar else np.asarray(v)

    result = {
        "load_erlangs": out(load),
        "agents_fractional": out(frac),
        "agents": whole,
        "scheduled_fractional": out(np.asarray(frac) / (1.0 - s)),
        "scheduled_agents": round_up(np.asarray(whole) / (1.0 - s)),
        "service_level": out(_erlang.service_level_from(parts, _denominator(denominator))),
        "asa_s": out(parts["asa_s"]),
        "wait_probability": out(parts["wait_probability"]),
        "occupancy": out(parts["occupancy"]),
    }
    if patience_s is not None:
        result["abandon_probability"] = out(parts["abandon_probability"])
    return result


# ----------------------------------------------------------------------------- what-ifs

_QUANTITIES = ("agents", "aht", "volume")
_CHANGE = re.compile(
    r"^(?P<what>[a-z_]+)(?:\[(?P<col>\w+)=(?P<val>[^\]]+)\])?="
    r"(?P<sign>[+-]?)(?P<num>\d+(?:\.\d*)?|\.\d+)(?P<unit>%|s)?$"
)


@dataclass(frozen=True)
class Change:
    """One what-if change: ``quantity`` (agents, aht, volume) changed by ``op`` and ``value``.

    ``op`` is ``"add"`` (``+2``, ``-30s``), ``"scale"`` (``+10%`` is ×1.10, ``90%`` is ×0.90) or
    ``"set"`` (``15``). ``scope`` limits it to rows where each column equals the value.

    Examples
    --------
    >>> Change("agents", "add", 2.0, text="agents=+2")
    Change(quantity='agents', op='add', value=2.0, scope=(), text='agents=+2')
    """

    quantity: str
    op: str
    value: float
    scope: tuple[tuple[str, str], ...] = ()
    text: str = ""


@dataclass(frozen=True)
class WhatIf:
    """An ordered list of :class:`Change`; build it with :func:`parse_what_if`.

    Examples
    --------
    >>> parse_what_if(["agents=+2", "aht=-10%"]).describe()
    'agents=+2, aht=-10%'
    >>> bool(WhatIf())
    False
    """

    changes: tuple[Change, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def describe(self) -> str:
        """The changes as typed, e.g. ``"agents=+2, aht=-10%"``."""
        return ", ".join(c.text for c in self.changes) or "none"


def parse_what_if(items: Sequence[str] | str) -> WhatIf:
    """Parse what-if changes such as ``agents=+2``, ``aht=-10%``, ``volume[queue=Sales]=+5%``.

    Parameters
    ----------
    items
        One change per item (or one comma-separated string). Syntax
        ``QUANTITY[COLUMN=VALUE]=CHANGE`` with QUANTITY ``agents``, ``aht`` or ``volume`` and an
        optional scope; CHANGE ``+n``/``-n`` adds (``aht`` in seconds, ``s`` allowed),
        ``+x%``/``-x%`` scales, ``x%`` scales to x percent and a bare ``n`` sets the value.

    Returns
    -------
    WhatIf

    Raises
    ------
    KpiError
        On any other form, naming the item and the valid syntax.

    Examples
    --------
    >>> w = parse_what_if(["agents=+2", "aht=-10%", "volume[team=Sales]=120"])
    >>> [(c.quantity, c.op, c.value, c.scope) for c in w.changes]
    [('agents', 'add', 2.0, ()), ('aht', 'scale', 0.9, ()), ('volume', 'set', 120.0, (('team', 'Sales'),))]
    """
    if isinstance(items, str):
        items = [p for p in items.split(",") if p.strip()]
    changes = []
    for raw in items:
        text = raw.strip().replace(" ", "")
        m = _CHANGE.match(text)
        if not m or m["what"] not in _QUANTITIES:
            raise KpiError(
                f"bad what-if {raw!r}: use QUANTITY=CHANGE with QUANTITY one of "
                f"{', '.join(_QUANTITIES)} and CHANGE like +2, -1, +10%, -5%, 90% or 15 "
                "(optionally scoped: agents[team=Sales]=+2)"
            )
        num = float(m["num"])
        if m["unit"] == "s" and m["what"] != "aht":
            raise KpiError(f"bad what-if {raw!r}: the 's' suffix is for aht seconds only")
        if m["unit"] == "%":
            factor = 1.0 + num / 100.0 if m["sign"] == "+" else 1.0 - num / 100.0
            if not m["sign"]:
                factor = num / 100.0
            op, value = "scale", factor
        elif m["sign"]:
            op, value = "add", num if m["sign"] == "+" else -num
        else:
            op, value = "set", num
        if m["what"] == "aht" and ((op == "scale" and value <= 0) or (op == "set" and value <= 0)):
            raise KpiError(f"bad what-if {raw!r}: handle time must stay above 0 seconds")
        scope = ((m["col"], m["val"]),) if m["col"] else ()
        changes.append(Change(m["what"], op, value, scope, text))
    return WhatIf(tuple(changes))


def _apply_changes(base: pl.Expr, quantity: str, what_if: WhatIf, schema: pl.Schema) -> pl.Expr:
    expr = base
    for c in what_if.changes:
        if c.quantity != quantity:
            continue
        if c.op == "add":
            new = expr + c.value
        elif c.op == "scale":
            new = expr * c.value
        else:
            new = pl.lit(c.value, dtype=pl.Float64)
        if c.scope:
            cond = pl.lit(value=True)
            for col, val in c.scope:
                if col not in schema:
                    raise KpiError(
                        f"what-if {c.text!r}: no column {col!r} in the staffing table; "
                        f"it has: {', '.join(schema.names())}"
                    )
                cond = cond & (pl.col(col).cast(pl.String) == val)
            new = pl.when(cond).then(new).otherwise(expr)
        expr = new
    return expr.clip(lower_bound=0.0)


# ----------------------------------------------------------------------------- polars glue

_MODEL_FIELDS = {
    "service_level": pl.Float64,
    "asa_s": pl.Float64,
    "abandon_probability": pl.Float64,
    "occupancy": pl.Float64,
    "wait_probability": pl.Float64,
}


def _numpy(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy().astype(float, copy=True)


def _model_expr(
    load: pl.Expr,
    agents: pl.Expr,
    aht: pl.Expr,
    patience: pl.Expr,
    *,
    threshold_s: float,
    denominator: str,
) -> pl.Expr:
    """A struct of model outcomes per row; null where an input is null."""

    def run(s: pl.Series) -> pl.Series:
        df = s.struct.unnest()
        a, n, h, p = (_numpy(df[c]) for c in ("a", "n", "h", "p"))
        ok = np.isfinite(a) & np.isfinite(n) & np.isfinite(h) & (h > 0) & (a >= 0) & (n >= 0)
        out = {k: np.full(len(df), np.nan) for k in _MODEL_FIELDS}
        if np.any(ok):
            pp = np.where(np.isfinite(p[ok]) & (p[ok] > 0), p[ok], np.inf)
            parts = _erlang.evaluate(a[ok], n[ok], aht_s=h[ok], threshold_s=threshold_s,
                                     patience_s=pp)  # fmt: skip
            out["service_level"][ok] = _erlang.service_level_from(parts, denominator)
            out["asa_s"][ok] = parts["asa_s"]
            out["abandon_probability"][ok] = parts["abandon_probability"]
            out["occupancy"][ok] = parts["occupancy"]
            out["wait_probability"][ok] = parts["wait_probability"]
        frame = pl.DataFrame(out, schema=_MODEL_FIELDS).with_columns(
            pl.all().fill_nan(None).replace([float("inf")], [None])
        )
        return frame.to_struct(s.name)

    return pl.struct(
        load.alias("a"), agents.alias("n"), aht.alias("h"), patience.alias("p")
    ).map_batches(run, return_dtype=pl.Struct(_MODEL_FIELDS), is_elementwise=True)


def _required_expr(
    load: pl.Expr, aht: pl.Expr, patience: pl.Expr, *, targets: dict[str, Any]
) -> pl.Expr:
    def run(s: pl.Series) -> pl.Series:
        df = s.struct.unnest()
        a, h, p = (_numpy(df[c]) for c in ("a", "h", "p"))
        ok = np.isfinite(a) & np.isfinite(h) & (h > 0) & (a >= 0)
        out = np.full(len(df), np.nan)
        if np.any(ok):
            pp = np.where(np.isfinite(p[ok]) & (p[ok] > 0), p[ok], np.inf)
            out[ok] = _erlang.solve_agents(a[ok], aht_s=h[ok], patience_s=pp, **targets)
        return pl.Series(s.name, out, dtype=pl.Float64).fill_nan(None)

    return pl.struct(load.alias("a"), aht.alias("h"), patience.alias("p")).map_batches(
        run, return_dtype=pl.Float64, is_elementwise=True
    )


def _every_seconds(every: str) -> int:
    m = re.fullmatch(r"(\d+)(m|h)", every.strip())
    if not m or int(m[1]) == 0:
        raise KpiError(
            f"bad interval {every!r} for staffing: use minutes or hours such as 15m, 30m, 1h "
            "(Erlang load is per interval; days and weeks are too long)"
        )
    return int(m[1]) * (60 if m[2] == "m" else 3600)


_BY_CHOICES = ("queue", "team", "site", "channel")
_STAFF_KEYS = ("team", "site")


def _achieved_sl(denominator: str) -> pl.Expr:
    ans_t, ab_t = pl.col("answered_within"), pl.col("abandoned_within")
    num, den = {
        "offered": (ans_t, pl.col("offered")),
        "answered_plus_abandoned": (ans_t, pl.col("answered") + pl.col("abandoned")),
        "answered": (ans_t, pl.col("answered")),
        "ignore_abandons_within_threshold": (ans_t, pl.col("offered") - ab_t),
        "abandons_within_threshold_met": (ans_t + ab_t, pl.col("offered")),
    }[denominator]
    return _ratio(num, den)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den)


def _demand_from_contacts(
    contacts: pl.LazyFrame, keys: list[str], *, every: str, threshold_s: float
) -> pl.LazyFrame:
    answered = pl.col("outcome") == "answered"
    abandoned = pl.col("outcome") == "abandoned_queue"
    within = pl.col("wait_s").fill_null(0.0) <= threshold_s
    handle = (
        pl.col("talk_s").fill_null(0.0)
        + pl.col("hold_s").fill_null(0.0)
        + pl.col("acw_s").fill_null(0.0)
    )
    return (
        contacts.filter(pl.col("queue_ts").is_not_null(), pl.col("direction") == "inbound")
        .group_by(pl.col("queue_ts").dt.truncate(every).alias("interval_start"), *keys)
        .agg(
            offered=pl.len().cast(pl.Int64),
            answered=answered.sum().cast(pl.Int64),
            abandoned=abandoned.sum().cast(pl.Int64),
            answered_within=(answered & within).sum().cast(pl.Int64),
            abandoned_within=(abandoned & within).sum().cast(pl.Int64),
            handle_s=handle.filter(answered).sum(),
            wait_answered_s=pl.col("wait_s").filter(answered).sum(),
            source_interval_s=pl.lit(0.0),
        )
    )


def _demand_from_intervals(
    intervals: pl.LazyFrame, keys: list[str], *, every: str
) -> pl.LazyFrame:
    schema = intervals.collect_schema()

    def opt(name: str) -> pl.Expr:
        return pl.col(name) if name in schema else pl.lit(None, dtype=pl.Float64)

    return intervals.group_by(
        pl.col("interval_start").dt.truncate(every).alias("interval_start"), *keys
    ).agg(
        offered=pl.col("offered").sum().cast(pl.Int64),
        answered=pl.col("answered").sum().cast(pl.Int64),
        abandoned=pl.col("abandoned").sum().cast(pl.Int64),
        answered_within=pl.col("answered_within_threshold").sum().cast(pl.Int64),
        abandoned_within=pl.when(opt("abandoned_within_threshold").is_not_null().all())
        .then(opt("abandoned_within_threshold").sum())
        .cast(pl.Int64),
        handle_s=(pl.col("talk_s") + pl.col("hold_s") + pl.col("acw_s")).sum(),
        wait_answered_s=pl.col("wait_answered_s").sum(),
        source_interval_s=pl.col("interval_s").max(),
        staffed_from_intervals_s=opt("staffed_s").sum()
        if "staffed_s" in schema
        else pl.lit(None, dtype=pl.Float64),
    )


def estimate_patience(
    data: Dataset | Mapping[str, Any] | str, *, by: Sequence[str] = ()
) -> pl.LazyFrame:
    """Mean patience per group, estimated from abandons and the time everybody waited.

    Parameters
    ----------
    data
        A :class:`kpi.data.Dataset` (or mapping / directory) with ``contacts``, or else an
        ``intervals`` table with ``wait_abandoned_s``.
    by
        Group columns (e.g. ``("queue",)``); ``()`` for one estimate over everything.

    Returns
    -------
    polars.LazyFrame
        ``by`` columns, ``queued``, ``abandoned``, ``total_wait_s`` and ``patience_s`` (null
        without abandons: no evidence of impatience, use Erlang C).

    Notes
    -----
    ``patience = Σ wait of all queued contacts (answered, abandoned, flowed out) / abandons``.
    This is the maximum-likelihood estimate of the mean of an exponential patience from
    censored data: an abandon reveals the patience, every other queued contact only shows that
    its patience exceeded its wait, so ``θ̂ = abandons / total time at risk`` (Mandelbaum &
    Zeltyn; the same estimator Koole's CCmath documents for Erlang X).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> t = datetime(2024, 1, 8, 9, tzinfo=__import__("zoneinfo").ZoneInfo("UTC"))
    >>> contacts = pl.LazyFrame(
    ...     {
    ...         "queue": ["a", "a", "a"],
    ...         "direction": ["inbound"] * 3,
    ...         "queue_ts": [t] * 3,
    ...         "wait_s": [30.0, 90.0, 60.0],
    ...         "outcome": ["answered", "abandoned_queue", "answered"],
    ...     }
    ... )
    >>> estimate_patience({"contacts": contacts}, by=["queue"]).collect()
    shape: (1, 5)
    ┌───────┬────────┬───────────┬──────────────┬────────────┐
    │ queue ┆ queued ┆ abandoned ┆ total_wait_s ┆ patience_s │
    │ ---   ┆ ---    ┆ ---       ┆ ---          ┆ ---        │
    │ str   ┆ i64    ┆ i64       ┆ f64          ┆ f64        │
    ╞═══════╪════════╪═══════════╪══════════════╪════════════╡
    │ a     ┆ 3      ┆ 1         ┆ 180.0        ┆ 180.0      │
    └───────┴────────┴───────────┴──────────────┴────────────┘
    """
    ds = Dataset.coerce(data)
    keys = list(by)
    if "contacts" in ds:
        lf = ds["contacts"].filter(
            pl.col("queue_ts").is_not_null(), pl.col("direction") == "inbound"
        )
        agg = {
            "queued": pl.len().cast(pl.Int64),
            "abandoned": (pl.col("outcome") == "abandoned_queue").sum().cast(pl.Int64),
            "total_wait_s": pl.col("wait_s").fill_null(0.0).sum().cast(pl.Float64),
        }
    elif "intervals" in ds:
        lf = ds["intervals"]
        if "wait_abandoned_s" not in lf.collect_schema():
            raise KpiError(
                "cannot estimate patience: the intervals table has no wait_abandoned_s column; "
                "give --patience-s / patience_s instead"
            )
        agg = {
            "queued": pl.col("offered").sum().cast(pl.Int64),
            "abandoned": pl.col("abandoned").sum().cast(pl.Int64),
            "total_wait_s": (
                pl.col("wait_answered_s").fill_null(0.0)
                + pl.col("wait_abandoned_s").fill_null(0.0)
            )
            .sum()
            .cast(pl.Float64),
        }
    else:
        raise KpiError("estimating patience needs a contacts or an intervals table")
    grouped = lf.group_by(keys, maintain_order=True) if keys else lf.select()
    out = grouped.agg(**agg) if keys else lf.select(**agg)
    return out.with_columns(patience_s=_ratio(pl.col("total_wait_s"), pl.col("abandoned")))


def staffing_table(
    data: Dataset | Mapping[str, Any] | str,
    *,
    every: str = "30m",
    by: Sequence[str] = ("team",),
    threshold_s: float | None = None,
    target_sl: float | None = 0.8,
    target_asa_s: float | None = None,
    max_occupancy: float | None = None,
    max_abandon: float | None = None,
    shrinkage: float | None = None,
    patience_s: float | Literal["estimate"] | None = None,
    denominator: Denominator = "offered",
    what_if: WhatIf | Sequence[str] | None = None,
) -> pl.LazyFrame:
    """Required against actual agents per interval, with expected and achieved service.

    Parameters
    ----------
    data
        A :class:`kpi.data.Dataset` (or mapping / directory). Demand comes from ``contacts``
        (inbound contacts that entered a queue, binned by ``queue_ts``) or, without contacts,
        from ``intervals``; staffing from ``agent_time`` (else ``intervals.staffed_s``).
    every
        Interval length, ``15m``, ``30m``, ``1h``...; bins are cut in the dataset's local time
        with ``dt.truncate``, so a 23-hour day has 46 half-hours. Source intervals longer than
        ``every`` keep their own length.
    by
        Any of ``queue``, ``team``, ``site``, ``channel``; ``()`` for the whole centre. Agents
        are staffed per team (and site); with ``queue`` or ``channel`` in ``by``, a team's
        agents are shared among its rows in proportion to their load, and ``team`` is added
        to the output (use ``by=("team",)`` for the pooled view that Erlang assumes).
    threshold_s
        Service-level threshold (s); default 20, or for ``intervals`` data the
        ``interval_threshold_s`` of ``dataset.json`` (a different value is an error, since the
        counts were made with it).
    target_sl, target_asa_s, max_occupancy, max_abandon
        Targets for the required agents, see :func:`required_agents`.
    shrinkage
        Turns required agents into ``required_scheduled``; None uses each row's measured
        shrinkage ``1 − on-queue time / scheduled time`` from ``agent_time``.
    patience_s
        None for Erlang C; a mean patience (s) for Erlang A; ``"estimate"`` for Erlang A with
        the patience of each group estimated from the whole dataset (:func:`estimate_patience`;
        groups without abandons fall back to Erlang C).
    denominator
        Service-level definition for both the expected and the achieved value, see
        :func:`service_level`.
    what_if
        Optional changes (:func:`parse_what_if`) projected by :func:`project`.

    Returns
    -------
    polars.LazyFrame
        One row per interval and group: ``interval_start``, the groups, ``interval_s``,
        ``offered``, ``answered``, ``abandoned``, ``aht_s``, ``load_erlangs``, ``patience_s``,
        ``required_agents`` (fractional), ``required_scheduled``, ``staffed_agents`` (on-queue:
        ``Σ (handle_s + acw_s + available_s) / interval_s``), ``scheduled_agents``,
        ``staffing_gap`` (staffed − required: negative is under-staffed), then
        ``expected_*`` (the model at the staffed agents) beside ``achieved_*`` for
        ``service_level``, ``asa_s``, ``abandon_rate`` and ``occupancy``, and
        ``expected_wait_probability``. Ratios are null where their denominator is zero.

    Notes
    -----
    ``AHT = Σ (talk + hold + acw) / answered`` in the interval (the group's AHT over the whole
    data when the interval answered nothing); ``load = offered × AHT / interval_s``;
    achieved SL per ``denominator`` (default ``answered within T / offered``, flow-outs count
    as misses); achieved ASA = Σ wait of answered / answered; achieved abandon rate =
    abandoned / offered; achieved occupancy = (handle + acw) / (handle + acw + available).
    Sum ``required_agents`` across rows and :func:`round_up` the total once.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> t = datetime(2024, 1, 8, 9, 5, tzinfo=ZoneInfo("Europe/London"))
    >>> contacts = pl.DataFrame(
    ...     {
    ...         "queue": ["q"] * 4,
    ...         "team": ["A"] * 4,
    ...         "direction": ["inbound"] * 4,
    ...         "queue_ts": [t] * 4,
    ...         "wait_s": [5.0, 10.0, 40.0, 30.0],
    ...         "outcome": ["answered", "answered", "answered", "abandoned_queue"],
    ...         "talk_s": [200.0, 250.0, 300.0, 0.0],
    ...         "hold_s": [0.0] * 4,
    ...         "acw_s": [50.0, 50.0, 50.0, 0.0],
    ...     }
    ... )
    >>> agent_time = pl.DataFrame(
    ...     {
    ...         "team": ["A"],
    ...         "interval_start": [t.replace(minute=0)],
    ...         "interval_s": [1800.0],
    ...         "handle_s": [750.0],
    ...         "acw_s": [150.0],
    ...         "available_s": [2700.0],
    ...         "scheduled_s": [3600.0],
    ...     }
    ... )
    >>> ds = {"contacts": contacts, "agent_time": agent_time}
    >>> out = staffing_table(ds, target_sl=0.8, threshold_s=20).collect()
    >>> out.select("team", "offered", "aht_s", "staffed_agents", "achieved_service_level")
    shape: (1, 5)
    ┌──────┬─────────┬───────┬────────────────┬────────────────────────┐
    │ team ┆ offered ┆ aht_s ┆ staffed_agents ┆ achieved_service_level │
    │ ---  ┆ ---     ┆ ---   ┆ ---            ┆ ---                    │
    │ str  ┆ i64     ┆ f64   ┆ f64            ┆ f64                    │
    ╞══════╪═════════╪═══════╪════════════════╪════════════════════════╡
    │ A    ┆ 4       ┆ 300.0 ┆ 2.0            ┆ 0.5                    │
    └──────┴─────────┴───────┴────────────────┴────────────────────────┘
    """
    ds = Dataset.coerce(data)
    every_s = _every_seconds(every)
    keys = list(dict.fromkeys(by))
    unknown = [k for k in keys if k not in _BY_CHOICES]
    if unknown:
        raise KpiError(
            f"cannot staff by {', '.join(map(repr, unknown))}; valid: {', '.join(_BY_CHOICES)}"
        )
    denominator = _denominator(denominator)
    targets = {
        "target_sl": target_sl,
        "target_asa_s": target_asa_s,
        "max_occupancy": max_occupancy,
        "max_abandon": max_abandon,
    }
    if target_sl is not None:
        _array("target_sl", target_sl, low=0, low_open=True, high=1, high_open=True)
    if target_asa_s is not None:
        _array("target_asa_s", target_asa_s, low=0, low_open=True)
    if max_occupancy is not None:
        _array("max_occupancy", max_occupancy, low=0, low_open=True, high=1)
    if max_abandon is not None:
        _array("max_abandon", max_abandon, low=0, low_open=True, high=1, high_open=True)
        if patience_s is None:
            raise KpiError("max_abandon needs patience (Erlang A): give patience_s or 'estimate'")
    if all(v is None for v in targets.values()):
        raise KpiError("staffing_table needs a target: target_sl, target_asa_s, ...")
    if shrinkage is not None:
        _array("shrinkage", shrinkage, low=0, low_open=False, high=1, high_open=True)
    if isinstance(patience_s, str) and patience_s != "estimate":
        raise KpiError(f"patience_s must be seconds, None or 'estimate', got {patience_s!r}")
    if patience_s is not None and not isinstance(patience_s, str):
        _patience(patience_s)

    # --- demand
    if "contacts" in ds:
        source = ds["contacts"]
        threshold = 20.0 if threshold_s is None else float(threshold_s)
    elif "intervals" in ds:
        source = ds["intervals"]
        meta_t = ds.meta.get("interval_threshold_s")
        if threshold_s is not None and meta_t is not None and float(threshold_s) != float(meta_t):
            raise KpiError(
                f"threshold_s={threshold_s:g} but the intervals table counts answers within "
                f"{float(meta_t):g} s (dataset.json interval_threshold_s); use {float(meta_t):g}"
            )
        threshold = float(threshold_s if threshold_s is not None else (meta_t or 20.0))
    else:
        raise KpiError("staffing needs a contacts or an intervals table in the dataset")
    _array("threshold_s", threshold, low=0, low_open=False)
    schema = source.collect_schema()
    missing = [k for k in keys if k not in schema]
    if missing:
        raise KpiError(
            f"cannot staff by {', '.join(missing)}: no such column in the "
            f"{'contacts' if 'contacts' in ds else 'intervals'} table"
        )
    has_staff = "agent_time" in ds
    split = any(k not in _STAFF_KEYS for k in keys) and has_staff and keys != []
    if split and "team" not in keys:
        if "team" not in schema:
            raise KpiError("staffing by queue needs a team column to share agents among queues")
        keys = [*keys, "team"]
    staff_keys = [k for k in keys if k in _STAFF_KEYS]

    if "contacts" in ds:
        demand = _demand_from_contacts(source, keys, every=every, threshold_s=threshold)
    else:
        demand = _demand_from_intervals(source, keys, every=every)
    demand_schema = demand.collect_schema()

    # --- staff
    if has_staff:
        at = ds["agent_time"]
        staff = at.group_by(
            pl.col("interval_start").dt.truncate(every).alias("interval_start"), *staff_keys
        ).agg(
            on_queue_s=(pl.col("handle_s") + pl.col("acw_s") + pl.col("available_s")).sum(),
            busy_s=(pl.col("handle_s") + pl.col("acw_s")).sum(),
            sched_s=pl.col("scheduled_s").sum(),
            staff_interval_s=pl.col("interval_s").max(),
        )
        on = ["interval_start", *staff_keys]
        if split:
            table = demand.join(staff, on=on, how="left", nulls_equal=True)
        else:
            table = demand.join(staff, on=on, how="full", coalesce=True, nulls_equal=True)
    else:
        table = demand.with_columns(
            on_queue_s=pl.col("staffed_from_intervals_s")
            if "staffed_from_intervals_s" in demand_schema
            else pl.lit(None, dtype=pl.Float64),
            busy_s=pl.lit(None, dtype=pl.Float64),
            sched_s=pl.lit(None, dtype=pl.Float64),
            staff_interval_s=pl.lit(None, dtype=pl.Float64),
        )
    counts = ["offered", "answered", "abandoned", "answered_within"]
    table = table.with_columns(
        *(pl.col(c).fill_null(0) for c in counts),
        pl.col("handle_s").fill_null(0.0),
        interval_s=pl.max_horizontal(
            pl.lit(float(every_s)),
            pl.col("source_interval_s").fill_null(0.0),
            pl.col("staff_interval_s").fill_null(0.0),
        ),
    )

    # --- AHT (with the group's overall AHT as fallback) and load
    overall_keys = [k for k in keys if k != "interval_start"]
    fallback = (
        table.group_by(overall_keys).agg(
            _fallback_aht=pl.col("handle_s").sum() / pl.col("answered").sum()
        )
        if overall_keys
        else table.select(_fallback_aht=pl.col("handle_s").sum() / pl.col("answered").sum())
    )
    if overall_keys:
        table = table.join(fallback, on=overall_keys, how="left", nulls_equal=True)
    else:
        table = table.join(fallback, how="cross")
    table = table.with_columns(
        aht_s=pl.coalesce(
            _ratio(pl.col("handle_s"), pl.col("answered")),
            pl.when(pl.col("_fallback_aht").is_finite()).then(pl.col("_fallback_aht")),
        )
    ).with_columns(
        load_erlangs=pl.when(pl.col("offered") == 0)
        .then(0.0)
        .otherwise(pl.col("offered") * pl.col("aht_s") / pl.col("interval_s"))
    )

    # --- patience
    if patience_s == "estimate":
        est = estimate_patience(ds, by=overall_keys).select(*overall_keys, "patience_s")
        if overall_keys:
            table = table.join(est, on=overall_keys, how="left", nulls_equal=True)
        else:
            table = table.join(est, how="cross")
    else:
        table = table.with_columns(
            patience_s=pl.lit(None if patience_s is None else float(patience_s), dtype=pl.Float64)
        )

    # --- staffed agents (shared by load within a team when splitting)
    staffed = pl.col("on_queue_s") / pl.col("interval_s")
    scheduled = pl.col("sched_s") / pl.col("interval_s")
    if split:
        grp = ["interval_start", *staff_keys]
        share = (
            pl.when(pl.col("load_erlangs").sum().over(grp) > 0)
            .then(pl.col("load_erlangs") / pl.col("load_erlangs").sum().over(grp))
            .otherwise(1.0 / pl.len().over(grp))
        )
        staffed, scheduled = staffed * share, scheduled * share
    table = table.with_columns(staffed_agents=staffed, scheduled_agents=scheduled)

    # --- required and expected
    solve_targets = {**targets, "threshold_s": threshold, "denominator": denominator}
    required = _required_expr(
        pl.col("load_erlangs"), pl.col("aht_s"), pl.col("patience_s"), targets=solve_targets
    )
    measured_shrinkage = 1.0 - _ratio(pl.col("on_queue_s"), pl.col("sched_s"))
    shrink = measured_shrinkage if shrinkage is None else pl.lit(float(shrinkage))
    expected = _model_expr(
        pl.col("load_erlangs"),
        pl.col("staffed_agents"),
        pl.col("aht_s").fill_null(1.0),
        pl.col("patience_s"),
        threshold_s=threshold,
        denominator=denominator,
    )
    table = (
        table.with_columns(required_agents=required, _expected=expected)
        .with_columns(
            required_scheduled=pl.when(shrink < 1).then(pl.col("required_agents") / (1 - shrink)),
            staffing_gap=pl.col("staffed_agents") - pl.col("required_agents"),
            expected_service_level=pl.col("_expected").struct.field("service_level"),
            achieved_service_level=_achieved_sl(denominator),
            expected_asa_s=pl.col("_expected").struct.field("asa_s"),
            achieved_asa_s=_ratio(pl.col("wait_answered_s"), pl.col("answered")),
            expected_abandon_rate=pl.col("_expected").struct.field("abandon_probability"),
            achieved_abandon_rate=_ratio(pl.col("abandoned"), pl.col("offered")),
            expected_occupancy=pl.col("_expected").struct.field("occupancy"),
            achieved_occupancy=_ratio(pl.col("busy_s"), pl.col("on_queue_s")),
            expected_wait_probability=pl.col("_expected").struct.field("wait_probability"),
        )
        .select(
            "interval_start",
            *keys,
            "interval_s",
            "offered",
            "answered",
            "abandoned",
            "aht_s",
            "load_erlangs",
            "patience_s",
            "required_agents",
            "required_scheduled",
            "staffed_agents",
            "scheduled_agents",
            "staffing_gap",
            "expected_service_level",
            "achieved_service_level",
            "expected_asa_s",
            "achieved_asa_s",
            "expected_abandon_rate",
            "achieved_abandon_rate",
            "expected_occupancy",
            "achieved_occupancy",
            "expected_wait_probability",
        )
        .sort("interval_start", *keys, nulls_last=True)
    )
    if what_if:
        table = project(table, what_if, threshold_s=threshold, denominator=denominator)
    return table


def project(
    table: pl.LazyFrame | pl.DataFrame,
    what_if: WhatIf | Sequence[str] | str,
    *,
    threshold_s: float = 20.0,
    denominator: Denominator = "offered",
) -> pl.LazyFrame:
    """Project service level, ASA, abandonment and occupancy under a what-if.

    Parameters
    ----------
    table
        A :func:`staffing_table` result (needs ``staffed_agents``, ``aht_s``, ``offered``,
        ``interval_s`` and ``patience_s``).
    what_if
        Changes, parsed by :func:`parse_what_if` (e.g. ``["agents=+2", "aht=-10%"]``).
    threshold_s
        Service-level threshold (s).
    denominator
        Service-level definition, see :func:`service_level`.

    Returns
    -------
    polars.LazyFrame
        The table with ``what_if_agents``, ``what_if_aht_s``, ``what_if_offered``,
        ``what_if_load_erlangs``, ``what_if_service_level``, ``what_if_asa_s``,
        ``what_if_abandon_rate``, ``what_if_occupancy`` and ``what_if_wait_probability``.

    Notes
    -----
    Each change applies in the order given to the rows its scope selects; agents, AHT and
    volume never go below 0. The projection is the Erlang C (or, with ``patience_s``, Erlang
    A) model at the changed agents and load ``offered × AHT / interval_s``.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame(
    ...     {
    ...         "team": ["A", "B"],
    ...         "staffed_agents": [13.0, 13.0],
    ...         "aht_s": [180.0, 180.0],
    ...         "offered": [100, 100],
    ...         "interval_s": [1800.0, 1800.0],
    ...         "patience_s": [None, None],
    ...     }
    ... )
    >>> out = project(t, ["agents[team=B]=+1"]).collect()
    >>> out.select("team", "what_if_agents", pl.col("what_if_service_level").round(3))
    shape: (2, 3)
    ┌──────┬────────────────┬───────────────────────┐
    │ team ┆ what_if_agents ┆ what_if_service_level │
    │ ---  ┆ ---            ┆ ---                   │
    │ str  ┆ f64            ┆ f64                   │
    ╞══════╪════════════════╪═══════════════════════╡
    │ A    ┆ 13.0           ┆ 0.796                 │
    │ B    ┆ 14.0           ┆ 0.888                 │
    └──────┴────────────────┴───────────────────────┘
    """
    if not isinstance(what_if, WhatIf):
        what_if = parse_what_if(what_if)
    lf = table.lazy()
    schema = lf.collect_schema()
    need = ["staffed_agents", "aht_s", "offered", "interval_s", "patience_s"]
    missing = [c for c in need if c not in schema]
    if missing:
        raise KpiError(
            f"a what-if needs the staffing table columns {', '.join(need)}; "
            f"missing: {', '.join(missing)}"
        )
    agents = _apply_changes(pl.col("staffed_agents").cast(pl.Float64), "agents", what_if, schema)
    aht = _apply_changes(pl.col("aht_s").cast(pl.Float64), "aht", what_if, schema)
    volume = _apply_changes(pl.col("offered").cast(pl.Float64), "volume", what_if, schema)
    lf = lf.with_columns(
        what_if_agents=agents, what_if_aht_s=aht, what_if_offered=volume
    ).with_columns(
        what_if_load_erlangs=pl.when(pl.col("what_if_offered") == 0)
        .then(0.0)
        .otherwise(pl.col("what_if_offered") * pl.col("what_if_aht_s") / pl.col("interval_s"))
    )
    model = _model_expr(
        pl.col("what_if_load_erlangs"),
        pl.col("what_if_agents"),
        pl.col("what_if_aht_s").fill_null(1.0),
        pl.col("patience_s").cast(pl.Float64),
        threshold_s=float(threshold_s),
        denominator=_denominator(denominator),
    )
    return (
        lf.with_columns(_what_if=model)
        .with_columns(
            what_if_service_level=pl.col("_what_if").struct.field("service_level"),
            what_if_asa_s=pl.col("_what_if").struct.field("asa_s"),
            what_if_abandon_rate=pl.col("_what_if").struct.field("abandon_probability"),
            what_if_occupancy=pl.col("_what_if").struct.field("occupancy"),
            what_if_wait_probability=pl.col("_what_if").struct.field("wait_probability"),
        )
        .drop("_what_if")
    )
