"""Numerical core of :mod:`kpi.staffing`: Erlang C and Erlang A (M/M/n+M) in log space.

Everything here is vectorised over numpy arrays that broadcast together, works for real
(fractional) numbers of agents and stays finite for loads of many thousands of Erlangs: no
factorials, only ``scipy.special`` incomplete gamma functions combined in log space, with short
series where those functions underflow.

Notation (Mandelbaum & Zeltyn 2007; Garnett, Mandelbaum & Reiman 2002): ``a`` = offered load in
Erlangs (arrival rate × AHT), ``n`` = agents, ``r`` = mean patience / AHT (μ/θ), ``x = n·r``,
``y = a·r``. Two scaled incomplete gamma functions carry all the formulas:

* ``1/E(n, a) = Γ(n+1, a)·e^a·a^(−n) = Σ_k n(n−1)…(n−k+1)/a^k``: the inverse of Erlang B; its
  incomplete-gamma form is the analytic continuation of Erlang B to real ``n`` (Jagerman 1974).
* ``S(s, z) = γ(s, z)·e^z·z^(−s) = Σ_j z^j / (s(s+1)…(s+j))``: the lower one.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "DENOMINATORS",
    "evaluate",
    "log_inv_erlang_b",
    "log_scaled_lower_gamma",
    "solve_agents",
]

#: Service-level denominators, named as in ``kpi.metrics`` (``service_level.denominator``).
DENOMINATORS = (
    "offered",
    "answered_plus_abandoned",
    "answered",
    "ignore_abandons_within_threshold",
    "abandons_within_threshold_met",
)

_TINY = 1e-280  # below this, an incomplete gamma value is replaced by its series
_SERIES_TERMS = 20000


def _series(first: np.ndarray, ratio) -> np.ndarray:
    """Sum ``first·(1 + r_1 + r_1·r_2 + …)`` where ``ratio(k)`` gives ``r_k`` (all positive)."""
    total = np.array(first, dtype=float, copy=True)
    term = total.copy()
    for k in range(1, _SERIES_TERMS):
        term = term * ratio(k)
        total = total + term
        if np.all(term <= 1e-17 * total):
            break
    return total


def log_scaled_lower_gamma(s, z) -> np.ndarray:
    """``log S(s, z)`` with ``S(s, z) = γ(s, z)·e^z·z^(−s) = Σ_j z^j / (s(s+1)…(s+j))``.

    ``s > 0``, ``z >= 0``. Uses ``gammainc`` and ``gammaln``; where the regularised lower gamma
    underflows (``z`` far below ``s``) the positive series is summed instead.
    """
    s, z = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(z, dtype=float))
    out = np.empty(s.shape)
    p = special.gammainc(s, z)
    ok = (p > _TINY) & (z > 0)
    with np.errstate(divide="ignore"):
        out[ok] = special.gammaln(s[ok]) + np.log(p[ok]) + z[ok] - s[ok] * np.log(z[ok])
    bad = ~ok
    if np.any(bad):
        sb, zb = s[bad], z[bad]
        out[bad] = np.log(_series(1.0 / sb, lambda k: zb / (sb + k)))
    return out


def log_inv_erlang_b(n, a) -> np.ndarray:
    """``log(1/E(n, a))`` where ``E`` is Erlang B, continued to real ``n >= 0``.

    ``1/E = Γ(n+1, a)·e^a·a^(−n)``; ``+inf`` when ``a == 0 < n`` (nothing is ever blocked),
    ``0`` when ``n == 0``. Where the regularised upper gamma underflows (``a`` far above ``n``)
    the convergent series ``Σ_k n(n−1)…(n−k+1)/a^k`` is summed instead.
    """
    n, a = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(a, dtype=float))
    out = np.zeros(n.shape)
    pos = (a > 0) & (n > 0)
    out[(a <= 0) & (n > 0)] = np.inf
    q = np.where(pos, special.gammaincc(n + 1.0, np.where(pos, a, 1.0)), 1.0)
    ok = pos & (q > _TINY)
    out[ok] = special.gammaln(n[ok] + 1.0) + np.log(q[ok]) + a[ok] - n[ok] * np.log(a[ok])
    bad = pos & ~ok
    if np.any(bad):
        nb, ab = n[bad], a[bad]
        # terms n(n-1)…(n-k+1)/a^k; |ratio| = |n-k+1|/a < 1 here, so they fall off quickly
        total = np.ones(nb.shape)
        term = np.ones(nb.shape)
        for k in range(1, _SERIES_TERMS):
            term = term * (nb - k + 1.0) / ab
            total = total + term
            if np.all(np.abs(term) <= 1e-17 * total):
                break
        out[bad] = np.log(total)
    return out


def _exp(x: np.ndarray) -> np.ndarray:
    """``exp`` without overflow warnings (values above ~1e308 become inf, as intended)."""
    with np.errstate(over="ignore"):
        return np.exp(x)


def _erlang_c_parts(a, n, aht_s, t_s):
    """Erlang C (M/M/n): wait probability, P(wait <= t), ASA (s), occupancy."""
    stable = n > a
    log_inv_e = log_inv_erlang_b(n, a)
    e = _exp(-log_inv_e)  # Erlang B, underflows gracefully to 0
    rho = np.divide(a, n, out=np.zeros_like(a), where=n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(stable, e / ((1.0 - rho) + rho * e), 1.0)
        decay = _exp(-(n - a) * t_s / aht_s)
        sl = np.where(stable, 1.0 - c * decay, 0.0)
        asa = np.where(stable, c * aht_s / (n - a), np.inf)
        occ = np.where(n > 0, np.minimum(rho, 1.0), np.nan)
    c = np.where(a <= 0, 0.0, c)
    sl = np.where(a <= 0, np.where(n > 0, 1.0, np.nan), sl)
    asa = np.where(a <= 0, np.where(n > 0, 0.0, np.nan), asa)
    occ = np.where((a <= 0) & (n > 0), 0.0, occ)
    return {
        "wait_probability": c,
        "answered_within": sl,
        "abandoned_within": np.zeros_like(sl),
        "answered": np.where(np.isnan(sl), np.nan, 1.0),
        "abandon_probability": np.where(np.isnan(sl), np.nan, 0.0),
        "asa_s": asa,
        "occupancy": occ,
    }


def _d_log_s(c: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``∂/∂c log S(c, y)`` by a Richardson-extrapolated central difference (c >= 1)."""
    h = 1e-2 * np.sqrt(c)

    def central(step):
        return (log_scaled_lower_gamma(c + step, y) - log_scaled_lower_gamma(c - step, y)) / (
            2.0 * step
        )

    return (4.0 * central(h / 2.0) - central(h)) / 3.0


def _erlang_a_parts(a, n, aht_s, t_s, patience_s, *, with_asa=True):
    """Erlang A (M/M/n+M) with exponential patience of mean ``patience_s``."""
    r = patience_s / aht_s
    x, y = n * r, a * r
    pos = (n > 0) & (a > 0)
    xs = np.where(pos, x, 1.0)
    ys = np.where(pos, y, 1.0)
    log_s0 = log_scaled_lower_gamma(xs, ys)
    log_s1 = log_scaled_lower_gamma(xs + 1.0, ys)
    log_big_a = np.log(xs) + log_s0  # A(x, y) = x·S(x, y) >= 1
    log_inv_e = log_inv_erlang_b(np.where(pos, n, 1.0), np.where(pos, a, 1.0))
    # P(W > 0) = A·E / (1 + (A − 1)·E) = 1 / (1 − 1/A + 1/(A·E))
    inv_a = _exp(-log_big_a)
    inv_ae = _exp(np.minimum(log_inv_e - log_big_a, 700.0))
    p_wait = 1.0 / ((1.0 - inv_a) + inv_ae)
    # P(served | W > 0) = γ(x+1, y) / (y·γ(x, y)) = S(x+1, y) / S(x, y)
    served_w = np.clip(_exp(log_s1 - log_s0), 0.0, 1.0)
    # waiting-time laws with s = e^(−θt): P(V > t | V > 0) = γ(x, y·s) / γ(x, y);
    # P(served, V <= t | V > 0) = [γ(x+1, y) − γ(x+1, y·s)] / (y·γ(x, y))
    log_sv = -t_s / patience_s
    sv = np.exp(log_sv)
    g1 = _exp(
        (xs + 1.0) * log_sv + ys * (1.0 - sv) + log_scaled_lower_gamma(xs + 1.0, ys * sv) - log_s1
    )
    answered_w_t = served_w * (1.0 - np.clip(g1, 0.0, 1.0))
    g0 = _exp(
        (xs + 1.0) * log_sv + ys * (1.0 - sv) + log_scaled_lower_gamma(xs, ys * sv) - log_s0
    )  # P(W > t | W > 0) = e^(−θt)·P(V > t | V > 0)
    waited_w_t = 1.0 - np.clip(g0, 0.0, 1.0)  # P(W <= t | W > 0): answered or abandoned by t
    answered_within = (1.0 - p_wait) + p_wait * answered_w_t
    abandoned_within = np.clip(p_wait * (waited_w_t - answered_w_t), 0.0, 1.0)
    abandon = p_wait * (1.0 - served_w)
    answered = 1.0 - abandon
    # E[V | served, V > 0] = patience · E[ln(y/G) | G <= y], G ~ Gamma(x+1), = −∂c log S(c, y)
    if with_asa:
        mean_served_wait = patience_s * np.maximum(-_d_log_s(xs + 1.0, ys), 0.0)
    else:
        mean_served_wait = np.full(xs.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        asa = p_wait * served_w * mean_served_wait / answered
        occ = a * answered / n
    # edges: no load -> nobody waits; no agents -> everybody abandons
    none = (a <= 0) & (n <= 0)
    idle = (a <= 0) & (n > 0)
    empty = (a > 0) & (n <= 0)

    def fix(v, idle_v, empty_v):
        v = np.where(idle, idle_v, v)
        v = np.where(empty, empty_v, v)
        return np.where(none, np.nan, v)

    return {
        "wait_probability": fix(p_wait, 0.0, 1.0),
        "answered_within": fix(answered_within, 1.0, 0.0),
        "abandoned_within": fix(
            abandoned_within, 0.0, -np.expm1(-t_s / patience_s) * np.ones_like(a)
        ),
        "answered": fix(answered, 1.0, 0.0),
        "abandon_probability": fix(abandon, 0.0, 1.0),
        "asa_s": fix(asa, 0.0, np.nan),
        "occupancy": fix(occ, 0.0, np.nan),
    }


def evaluate(
    load, agents, *, aht_s, threshold_s, patience_s=None, with_asa=True
) -> dict[str, np.ndarray]:
    """Every model quantity for each (load, agents) pair, broadcast together.

    ``patience_s`` None or ``inf`` (elementwise) selects Erlang C. Keys: ``wait_probability``,
    ``answered_within`` (P(answered within the threshold), all arrivals), ``abandoned_within``,
    ``answered`` (P(answered)), ``abandon_probability``, ``asa_s`` (mean wait of answered
    contacts), ``occupancy``. NaN where undefined (no load and no agents). ``with_asa=False``
    skips the Erlang A mean wait (its numerical derivative costs four more gamma evaluations).
    """
    if patience_s is None:
        patience_s = np.inf
    a, n, h, t, p = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (load, agents, aht_s, threshold_s, patience_s))
    )
    a, n, h, t, p = (v.ravel() for v in (a, n, h, t, p))
    finite = np.isfinite(p)
    out = {k: np.empty(a.shape) for k in _KEYS}
    if np.any(~finite):
        m = ~finite
        for k, v in _erlang_c_parts(a[m], n[m], h[m], t[m]).items():
            out[k][m] = v
    if np.any(finite):
        m = finite
        parts = _erlang_a_parts(a[m], n[m], h[m], t[m], p[m], with_asa=with_asa)
        for k, v in parts.items():
            out[k][m] = v
    shape = np.broadcast_shapes(
        *(np.shape(v) for v in (load, agents, aht_s, threshold_s, patience_s))
    )
    return {k: v.reshape(shape) for k, v in out.items()}


_KEYS = (
    "wait_probability",
    "answered_within",
    "abandoned_within",
    "answered",
    "abandon_probability",
    "asa_s",
    "occupancy",
)


def service_level_from(parts: dict[str, np.ndarray], denominator: str) -> np.ndarray:
    """The model service level under one of :data:`DENOMINATORS`.

    Offered contacts are answered or abandoned in the model, so ``offered`` and
    ``answered_plus_abandoned`` coincide.
    """
    ans_t, ab_t = parts["answered_within"], parts["abandoned_within"]
    with np.errstate(invalid="ignore", divide="ignore"):
        if denominator in ("offered", "answered_plus_abandoned"):
            return ans_t
        if denominator == "answered":
            return np.where(parts["answered"] > 0, ans_t / parts["answered"], np.nan)
        if denominator == "ignore_abandons_within_threshold":
            rest = 1.0 - ab_t
            return np.where(rest > 0, ans_t / rest, np.nan)
        if denominator == "abandons_within_threshold_met":
            return np.minimum(ans_t + ab_t, 1.0)
    raise ValueError(f"unknown denominator {denominator!r}; valid: {', '.join(DENOMINATORS)}")


def _shortfall(x, a, h, t, p, targets) -> np.ndarray:
    """Largest criterion violation at agents ``x`` (<= 0 means every target is met).

    Each criterion is scaled to be increasing in ``x`` and finite at ``x = a``.
    """
    parts = evaluate(a, x, aht_s=h, threshold_s=t, patience_s=p, with_asa=targets[1] is not None)
    worst = np.full(np.shape(x), -np.inf)
    sl_target, asa_target, ab_cap, denominator = targets
    if sl_target is not None:
        sl = np.nan_to_num(service_level_from(parts, denominator), nan=0.0)
        worst = np.maximum(worst, sl_target - sl)
    if asa_target is not None:
        with np.errstate(divide="ignore"):
            speed = np.where(parts["asa_s"] > 0, 1.0 / parts["asa_s"], np.inf)
        speed = np.nan_to_num(speed, nan=0.0, posinf=1e300)
        worst = np.maximum(worst, (1.0 / asa_target - speed) * asa_target)
    if ab_cap is not None:
        worst = np.maximum(worst, np.nan_to_num(parts["abandon_probability"], nan=1.0) - ab_cap)
    return worst


def solve_agents(
    load,
    *,
    aht_s,
    threshold_s=20.0,
    patience_s=None,
    target_sl=None,
    target_asa_s=None,
    max_occupancy=None,
    max_abandon=None,
    denominator="offered",
    tol=1e-9,
) -> np.ndarray:
    """Smallest real number of agents meeting every given target (vectorised).

    1. Integer search: the smallest whole ``N`` meeting all targets, by bisection between the
       smallest whole number above the load (Erlang C: ``floor(a) + 1``; Erlang A: 1, since
       with abandonment fewer agents than the load can meet a target) and an
       upper bound grown by doubling.
    2. Fractional refinement: on ``[max(N − 1, lower), N]`` the continuous-in-``n`` formulas
       are solved for the binding target by bisection to ``tol`` agents, so that
       ``ceil(result) == N``.
    3. Occupancy cap: ``max(result, a / max_occupancy)``.
    Zero load needs zero agents.
    """
    if patience_s is None:
        patience_s = np.inf
    a, h, t, p = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (load, aht_s, threshold_s, patience_s))
    )
    shape = a.shape
    a, h, t, p = (v.ravel().copy() for v in (a, h, t, p))
    targets = (target_sl, target_asa_s, max_abandon, denominator)
    result = np.zeros(a.shape)
    active = a > 0
    has_queue_target = any(v is not None for v in targets[:3])
    if has_queue_target and np.any(active):
        idx = np.flatnonzero(active)
        aa, hh, tt, pp = a[idx], h[idx], t[idx], p[idx]
        erlang_c = ~np.isfinite(pp)
        lower = np.where(erlang_c, aa, 0.0)  # infeasible (or not above the load) at `lower`
        lo_int = np.floor(lower)  # largest whole number known to fail
        # upper bound: square-root staffing guess, doubled until every target is met
        hi_int = np.floor(aa + 2.0 * np.sqrt(aa) + 2.0)
        for _ in range(200):
            bad = _shortfall(hi_int, aa, hh, tt, pp, targets) > 0
            if not np.any(bad):
                break
            lo_int = np.where(bad, hi_int, lo_int)
            hi_int = np.where(bad, np.floor(aa + 2.0 * (hi_int - aa) + 1.0), hi_int)
        else:  # pragma: no cover - targets are validated to be attainable
            raise ArithmeticError("no staffing meets the targets")
        while np.any(hi_int - lo_int > 1):
            go = hi_int - lo_int > 1
            mid = np.floor((lo_int + hi_int) / 2.0)
            ok = _shortfall(mid, aa, hh, tt, pp, targets) <= 0
            hi_int = np.where(go & ok, mid, hi_int)
            lo_int = np.where(go & ~ok, mid, lo_int)
        # fractional refinement inside (max(N − 1, lower), N]: Illinois regula falsi on the
        # (continuous, increasing) largest shortfall, falling back to bisection steps
        lo_x = np.maximum(hi_int - 1.0, lower)
        hi_x = hi_int.copy()
        f_lo = _shortfall(lo_x, aa, hh, tt, pp, targets)
        f_hi = _shortfall(hi_x, aa, hh, tt, pp, targets)
        hi_x = np.where(f_lo <= 0, lo_x, hi_x)  # only when `lower` itself is enough
        go = (hi_x - lo_x > tol) & (f_lo > 0)
        side = np.zeros(hi_x.shape)
        for _ in range(100):
            if not np.any(go):
                break
            k = np.flatnonzero(go)
            lw, u, fl, fu = lo_x[k], hi_x[k], f_lo[k], f_hi[k]
            mid = np.where(
                np.isfinite(fl) & np.isfinite(fu) & (fl > fu),
                u - fu * (u - lw) / (fu - fl),
                0.5 * (lw + u),
            )
            mid = np.clip(mid, lw + 0.01 * tol, u - 0.01 * tol)
            fm = _shortfall(mid, aa[k], hh[k], tt[k], pp[k], targets)
            ok = fm <= 0
            # Illinois: halve the retained end's value when the same end is kept twice
            same_hi = ok & (side[k] > 0)
            same_lo = ~ok & (side[k] < 0)
            f_lo[k] = np.where(ok, np.where(same_hi, fl / 2.0, fl), fm)
            f_hi[k] = np.where(ok, fm, np.where(same_lo, fu / 2.0, fu))
            lo_x[k] = np.where(ok, lw, mid)
            hi_x[k] = np.where(ok, mid, u)
            side[k] = np.where(ok, 1.0, -1.0)
            go[k] = (hi_x[k] - lo_x[k] > tol) & ~((fm <= 0) & (fm > -1e-13))
        result[idx] = hi_x
    if max_occupancy is not None:
        result = np.maximum(result, a / max_occupancy)
    return result.reshape(shape)
