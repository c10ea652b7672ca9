"""The queueing formulas, numpy and vectorised: Erlang C and Erlang A performance of a staffing
level, and the agents required for a set of targets (see :mod:`kpi.staffing`)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from kpi import _erlang
from kpi.errors import KpiError

__all__ = [
    "DENOMINATORS",
    "Denominator",
    "abandon_probability",
    "asa",
    "load_erlangs",
    "occupancy",
    "required_agents",
    "required_staff",
    "round_up",
    "scheduled_agents",
    "service_level",
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
