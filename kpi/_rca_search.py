"""Numerical core of :mod:`kpi.rca`: leaf noise model, cuboid encoding and the element search.

Private: works on numpy arrays (dimension codes, expected and actual value per leaf). The public
wrapper in :mod:`kpi.rca` turns polars tables into these arrays and the result back into names.

The method, in one paragraph: every leaf gets a deviation score ``d = (v - f) / ((|v| + |f|) / 2)``
(bounded in [-2, 2]) and a noise scale ``sigma(m)`` that depends on its size ``m`` (fitted
robustly as ``sigma^2 = a^2 + b^2 / m`` over size classes, so small leaves may be noisier). An
element (a conjunction ``dim = value`` over one to all dimensions) is a hypothesis: "the leaves
under me all moved by one common deviation ``d_e``" (the generalised ripple effect of Squeeze,
with ``d_e`` the element's aggregate deviation). Its evidence is the log-likelihood ratio of that
hypothesis against the noise model, summed over its leaves, with each leaf's contribution capped
(a leaf far from both models is an outlier to both) and a leaf counted as explained only when it
lies within ``window`` standard deviations of ``d_e``; leaves of the element that did not move cost
evidence. The cost of an element is its description length: a fixed part plus the log of the
number of elements it was chosen from. A greedy search takes the element with the largest net
evidence, marks its leaves explained, and repeats until no element pays for itself. Every number
is a log-likelihood in nats, so the evidence can be shown to an analyst as is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Found", "LeafModel", "SearchParams", "leaf_model", "search"]


@dataclass(frozen=True)
class SearchParams:
    """Constants of the search (tuned on the synthetic S, L and ratio settings, not on B0)."""

    #: within-cause spread of leaf deviations, relative to the cause's own deviation
    spread_rel: float = 0.25
    #: fixed cost of naming one more element, per log(number of non-zero leaves) (nats)
    penalty_base: float = 1.4
    #: weight of log(number of candidates of the element's cuboid and layer) in the cost
    penalty_scale: float = 1.0
    #: z-score beyond which a leaf's likelihood stops falling (caps each leaf's evidence)
    z_cap: float = 8.0
    #: a leaf counts as explained by an element only within this many standard deviations
    window: float = 3.0
    #: smallest |deviation| of an element (0.05 is about a 5% relative change)
    min_deviation: float = 0.05
    #: lowest noise scale assumed for a leaf (deviation units)
    sigma_floor: float = 0.002
    #: number of size classes for the noise model
    noise_bins: int = 10
    #: an element is split into finer ones only if fewer of its leaves moved than this share
    refine_below: float = 0.9
    #: most elements returned
    max_elements: int = 10
    #: alternatives kept per selected element, for the explanation
    runners_up: int = 3
    #: above this many non-zero leaves, normal-looking leaves (|z| < 3) are sampled, weighted
    sample_above: int = 1_000_000
    #: share of the normal-looking leaves kept when sampling
    sample_rate: float = 0.02
    #: most leaves used to fit the noise model (a random subset beyond)
    noise_sample: int = 400_000


@dataclass
class LeafModel:
    """Per-leaf deviation score and noise scale."""

    deviation: np.ndarray  # d = (v - f) / ((|v| + |f|) / 2); 0 where both are 0
    sigma: np.ndarray  # noise scale of d for the leaf's size
    active: np.ndarray  # the leaf is non-zero in at least one of the two periods
    noise_relative: float  # a: relative noise of large leaves
    noise_small: float  # b: extra noise of small leaves, sigma^2 = a^2 + b^2 / m
    counts: bool  # the actual values are whole numbers (a Poisson floor applies)


def leaf_model(expected: np.ndarray, actual: np.ndarray, params: SearchParams) -> LeafModel:
    """Deviation score of each leaf and its noise scale.

    The noise of a size class is the half-width of the shortest interval holding half of its
    leaves' deviations (the "shorth": it ignores up to half of the leaves, however far they
    moved, and any common offset), turned into a standard deviation; and ``sigma^2 = a^2 + b^2 / m`` is fitted over the
    classes by non-negative least squares. When the actual values are counts, the estimate is
    made on values jittered by U(-0.5, 0.5) when both are counts (a point mass of unchanged small counts is not zero
    noise) and ``sigma`` never goes below the Poisson level ``1 / sqrt(m)``.
    """
    mag = (np.abs(expected) + np.abs(actual)) / 2.0
    active = mag > 0
    dev = np.zeros_like(mag)
    np.divide(actual - expected, mag, out=dev, where=active)
    sizes = mag[active]
    n_act = sizes.size
    v_a = actual[active]
    counts = bool(n_act) and bool(np.all(v_a == np.round(v_a)) and np.all(v_a >= 0))
    if n_act == 0:
        return LeafModel(dev, np.ones_like(dev), active, 1.0, 0.0, counts)
    f_a = expected[active]
    if n_act > params.noise_sample:  # a random subset is plenty for ten size classes
        pick = np.random.default_rng(1).choice(n_act, params.noise_sample, replace=False)
        sizes, f_a, v_a, n_act = sizes[pick], f_a[pick], v_a[pick], params.noise_sample
    else:
        pick = None
    if counts and np.all(f_a == np.round(f_a)):
        rng = np.random.default_rng(0)
        fj = f_a + rng.uniform(-0.5, 0.5, n_act)
        vj = v_a + rng.uniform(-0.5, 0.5, n_act)
        dev_est = (vj - fj) / np.maximum((np.abs(fj) + np.abs(vj)) / 2.0, 0.5)
    else:
        dev_est = dev[active] if pick is None else dev[active][pick]
    n_bins = int(max(1, min(params.noise_bins, n_act // 100)))
    inner = np.quantile(sizes, np.linspace(0, 1, n_bins + 1)[1:-1]) if n_bins > 1 else []
    edges = np.append(np.asarray(inner, dtype=float), np.inf)
    cls = np.minimum(np.searchsorted(edges, sizes, side="left"), n_bins - 1)
    var, mid, cnt = [], [], []
    order = np.argsort(cls, kind="stable")
    bounds = np.searchsorted(cls[order], np.arange(n_bins + 1))
    for b in range(n_bins):
        sel = order[bounds[b] : bounds[b + 1]]
        if sel.size:
            var.append(_shorth(dev_est[sel]) ** 2)
            mid.append(float(np.median(sizes[sel])))
            cnt.append(sel.size)
    a2, b2 = _noise_curve(np.array(var), np.array(mid), np.array(cnt, dtype=float))
    inv_mag = np.divide(1.0, mag, out=np.zeros_like(mag), where=active)
    sigma = np.maximum(np.sqrt(a2 + b2 * inv_mag), params.sigma_floor)
    if counts:  # counts vary at least like Poisson: var(v - f) >= f, so sd(d) >= 1 / sqrt(m)
        sigma = np.maximum(sigma, np.sqrt(inv_mag))
    sigma = np.where(active, sigma, 1.0)
    return LeafModel(dev, sigma, active, math.sqrt(a2), math.sqrt(b2), counts)


def _noise_curve(var: np.ndarray, size: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Fit ``var = a2 + b2 / size`` with ``a2, b2 >= 0`` by weighted least squares."""
    if var.size == 0:
        return 1.0, 0.0
    x = 1.0 / size
    w = weight / weight.sum()
    candidates = [(float(np.sum(w * var)), 0.0)]  # constant only
    xx = float(np.sum(w * x * x))
    if xx > 0:
        candidates.append((0.0, float(np.sum(w * x * var)) / xx))  # 1/size only
    xm, vm = float(np.sum(w * x)), float(np.sum(w * var))
    sxx = float(np.sum(w * (x - xm) ** 2))
    if sxx > 0:
        b2 = float(np.sum(w * (x - xm) * (var - vm))) / sxx
        if b2 >= 0 and vm - b2 * xm >= 0:
            candidates.append((vm - b2 * xm, b2))
    return min(candidates, key=lambda ab: float(np.sum(w * (var - ab[0] - ab[1] * x) ** 2)))


def _shorth(x: np.ndarray) -> float:
    """Standard deviation from the shortest interval holding half the values (0.674 sd wide each side)."""
    n = x.size
    if n < 2:
        return float(np.abs(x).max()) if n else 0.0
    s = np.sort(x)
    h = n // 2 + 1
    width = float(np.min(s[h - 1 :] - s[: n - h + 1]))
    return width / 2.0 / 0.6744897501960817


@dataclass
class Found:
    """One selected element, with the evidence for it (log-likelihoods in nats)."""

    cuboid: tuple[int, ...]  # dimension positions
    values: tuple[int, ...]  # value codes, one per dimension of the cuboid
    score: float  # net evidence: llr - cost
    llr: float  # log-likelihood ratio of "common deviation" against "noise"
    cost: float  # description length of the element
    deviation: float  # common deviation d_e of the leaves it explains
    n_leaves: int  # active leaves it explains (not explained by an earlier element)
    n_moved: int  # of which deviate by more than 3 sigma in the direction of d_e
    runners_up: list[tuple[tuple[int, ...], tuple[int, ...], float]] = field(default_factory=list)


def _loglik(d: np.ndarray, mu: np.ndarray | float, s2: np.ndarray, floor: np.ndarray):
    """``max(log N(d; mu, s2), floor)``: a Gaussian log-density that never drops below a floor."""
    gauss = -0.5 * ((d - mu) ** 2 / s2 + np.log(2.0 * np.pi * s2))
    return np.maximum(gauss, floor)


class _Cuboid:
    """Element index of every (kept) leaf in one cuboid."""

    def __init__(self, dims: tuple[int, ...], codes: np.ndarray, cards: list[int]) -> None:
        self.dims = dims
        self.cards = [cards[d] for d in dims]
        self.size = math.prod(self.cards)  # possible elements
        n = len(codes)
        key = np.zeros(n, dtype=np.int64)
        for d in dims:
            key = key * cards[d] + codes[:, d]
        if self.size <= 2 * n + 4096:  # dense: the key is the element index
            self.index = key
            self.keys: np.ndarray | None = None
            self.n_el = self.size
        else:
            self.keys, inv = np.unique(key, return_inverse=True)
            self.index = inv.reshape(-1).astype(np.int64)
            self.n_el = len(self.keys)

    def values(self, j: int) -> tuple[int, ...]:
        """Value codes of element ``j``."""
        key = int(self.keys[j]) if self.keys is not None else j
        out = []
        for card in reversed(self.cards):
            out.append(key % card)
            key //= card
        return tuple(reversed(out))


def _sample(model: LeafModel, params: SearchParams, n_act: int) -> tuple[np.ndarray, np.ndarray]:
    """Leaves kept for the search and their weights (all, weight 1, unless the table is huge)."""
    if n_act <= params.sample_above:
        return np.ones(n_act, dtype=bool), np.ones(n_act)
    z = np.abs(model.deviation[model.active] / model.sigma[model.active])
    rng = np.random.default_rng(0)
    normal = z < 3.0
    keep = ~normal | (rng.uniform(size=n_act) < params.sample_rate)
    weight = np.where(normal, 1.0 / params.sample_rate, 1.0)[keep]
    return keep, weight


def search(
    codes: np.ndarray,
    cards: list[int],
    expected: np.ndarray,
    actual: np.ndarray,
    params: SearchParams,
    *,
    max_layer: int | None = None,
) -> tuple[list[Found], LeafModel]:
    """Greedy minimum-description-length search for the elements that explain the deviations.

    Parameters
    ----------
    codes
        (n_leaves, n_dims) integer value codes, ``0 <= code < cards[dim]``.
    cards
        Number of values of each dimension.
    expected, actual
        Baseline (forecast) and current value of each leaf.
    params
        Constants of the search.
    max_layer
        Most dimensions in one element (default: all).

    Returns
    -------
    The selected elements in the order found (largest net evidence first) and the leaf model.
    """
    model = leaf_model(expected, actual, params)
    act = model.active
    n_act = int(act.sum())
    keep, weight = _sample(model, params, n_act)
    n_dims = len(cards)
    top = n_dims if max_layer is None else max(0, min(max_layer, n_dims))
    codes_act = np.asfortranarray(codes[act])
    prob = _Problem(
        model.deviation[act][keep],
        model.sigma[act][keep] ** 2,
        expected[act][keep] * weight,
        actual[act][keep] * weight,
        weight,
        codes_act[keep],
        cards,
        top,
        n_act,
        params,
    )
    if not keep.all():  # sampled: every pick is checked on all of its leaves
        prob.full = _Full(
            codes_act,
            model.deviation[act],
            model.sigma[act] ** 2,
            expected[act],
            actual[act],
            params,
        )
    everything = np.arange(len(prob.d))
    found = _greedy(prob, everything, range(len(prob.cuboids)), params.max_elements)
    refined: list[tuple[Found, np.ndarray]] = []
    for fo, members in found:
        refined += _refine(prob, fo, members, depth=2)
    refined.sort(key=lambda fm: -fm[0].score)
    return [fo for fo, _ in refined[: params.max_elements]], model


def _gain(
    d: np.ndarray,
    s2: np.ndarray,
    floor: np.ndarray,
    null: np.ndarray,
    mu: np.ndarray | float,
    tau2: np.ndarray | float,
    params: SearchParams,
) -> np.ndarray:
    """Per-leaf evidence for "the leaf moved by ``mu``" against "the leaf is noise" (nats)."""
    s2_alt = s2 + tau2
    gain = _loglik(d, mu, s2_alt, floor) - null
    outside = (d - mu) ** 2 > params.window**2 * s2_alt
    return np.where(outside, np.minimum(gain, 0.0), gain)


class _Full:
    """All non-zero leaves, for exact checks of elements picked on a sample of a huge table."""

    def __init__(
        self,
        codes: np.ndarray,
        d: np.ndarray,
        s2: np.ndarray,
        f: np.ndarray,
        v: np.ndarray,
        params: SearchParams,
    ) -> None:
        self.codes, self.d, self.s2, self.f, self.v = codes, d, s2, f, v
        self.params = params
        self.floor = -0.5 * (params.z_cap**2 + np.log(2.0 * np.pi * s2))
        self.null = _loglik(d, 0.0, s2, self.floor)
        self.explained = np.zeros(len(d), dtype=bool)
        # positions of the leaves by value of the two most selective dimensions
        self.index: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        cards = codes.max(axis=0) + 1 if len(codes) else []
        for dim in np.argsort(cards)[::-1][:2]:
            if cards[dim] >= 8:
                order = np.argsort(codes[:, dim], kind="stable").astype(np.int64)
                bounds = np.searchsorted(codes[order, dim], np.arange(cards[dim] + 1))
                self.index[int(dim)] = (order, bounds)

    def positions(self, dims: tuple[int, ...], values: tuple[int, ...]) -> np.ndarray:
        """Positions of the element's leaves."""
        indexed = [(dim, val) for dim, val in zip(dims, values, strict=True) if dim in self.index]
        if indexed:
            dim0, val0 = indexed[0]
            order, bounds = self.index[dim0]
            pos = order[bounds[val0] : bounds[val0 + 1]]
        else:
            pos = np.arange(len(self.d))
        keep = np.ones(len(pos), dtype=bool)
        for dim, val in zip(dims, values, strict=True):
            if not indexed or dim != indexed[0][0]:
                keep &= self.codes[pos, dim] == val
        return pos[keep]

    def mask(self, dims: tuple[int, ...], values: tuple[int, ...]) -> np.ndarray:
        m = np.zeros(len(self.d), dtype=bool)
        m[self.positions(dims, values)] = True
        return m

    def exact(
        self, dims: tuple[int, ...], values: tuple[int, ...]
    ) -> tuple[np.ndarray, float, float, int, int]:
        """Unexplained leaves (positions), LLR, deviation, leaves and moved leaves of an element."""
        pos = self.positions(dims, values)
        pos = pos[~self.explained[pos]]
        if not pos.size:
            return pos, -np.inf, 0.0, 0, 0
        fs, vs = float(self.f[pos].sum()), float(self.v[pos].sum())
        mag = (abs(fs) + abs(vs)) / 2.0
        d_e = (vs - fs) / mag if mag > 0 else 0.0
        n = int(pos.size)
        tau2 = (self.params.spread_rel * d_e) ** 2 * (n - 1) / n
        d, s2 = self.d[pos], self.s2[pos]
        llr = float(_gain(d, s2, self.floor[pos], self.null[pos], d_e, tau2, self.params).sum())
        if abs(d_e) < self.params.min_deviation:
            llr = -np.inf
        z = d / np.sqrt(s2)
        moved = int(np.sum((np.abs(z) > 3) & (np.sign(z) == np.sign(d_e))))
        return pos, llr, d_e, n, moved


class _Problem:
    """The kept leaves, their noise model and the cuboids, shared by every greedy run."""

    def __init__(
        self,
        d: np.ndarray,
        s2: np.ndarray,
        f: np.ndarray,
        v: np.ndarray,
        w: np.ndarray,
        leaf_codes: np.ndarray,
        cards: list[int],
        top: int,
        n_active: int,
        params: SearchParams,
    ) -> None:
        self.d, self.s2, self.f, self.v, self.w = d, s2, f, v, w
        self.params = params
        n_dims = len(cards)
        self.cuboids = [
            _Cuboid(c, leaf_codes, cards)
            for layer in range(top + 1)
            for c in itertools.combinations(range(n_dims), layer)
        ]
        per_layer: dict[int, int] = {}
        for c in self.cuboids:
            per_layer[len(c.dims)] = per_layer.get(len(c.dims), 0) + 1
        base = params.penalty_base * math.log(max(n_active, 2))
        self.costs = [
            base + params.penalty_scale * (math.log(c.size) + math.log(per_layer[len(c.dims)]))
            for c in self.cuboids
        ]
        self.floor = -0.5 * (params.z_cap**2 + np.log(2.0 * np.pi * s2))
        self.null = _loglik(d, 0.0, s2, self.floor)
        self.full: _Full | None = None


def _refine(
    prob: _Problem, fo: Found, members: np.ndarray, depth: int
) -> list[tuple[Found, np.ndarray]]:
    """Replace an element by a set of its descendants when that set explains its leaves better.

    Greedy search can take a coarse element that covers several true causes plus some leaves
    that did not move (its gain outweighs each cause alone). When a share of its leaves did not
    move (consistency below ``refine_below``), the search runs again within its leaves among
    strictly finer elements, and the finer set replaces it if its summed net evidence is larger;
    the leaves no descendant claims return to the unexplained pool. Elements whose leaves all
    moved are kept: splitting them would only fit the spread of their deviations.
    """
    finer = [k for k, c in enumerate(prob.cuboids) if set(c.dims) > set(fo.cuboid)]
    if depth == 0 or not finer or members.size < 2:
        return [(fo, members)]
    if fo.n_moved >= prob.params.refine_below * fo.n_leaves:
        return [(fo, members)]  # its leaves moved together: nothing to carve out
    full = prob.full
    saved = None
    if full is not None:
        saved = full.explained.copy()
        full.explained &= ~full.mask(fo.cuboid, fo.values)
    subs = _greedy(prob, members, finer, prob.params.max_elements, within=fo)
    if not subs or sum(s.score for s, _ in subs) <= fo.score:
        if full is not None and saved is not None:
            full.explained = saved
        return [(fo, members)]
    out: list[tuple[Found, np.ndarray]] = []
    for s, m in subs:
        out += _refine(prob, s, m, depth - 1)
    return out


def _greedy(
    prob: _Problem,
    sel: np.ndarray,
    cuboid_ids: Sequence[int],
    limit: int,
    *,
    within: Found | None = None,
) -> list[tuple[Found, np.ndarray]]:
    """Greedy selection over the leaves ``sel`` (positions) and the cuboids ``cuboid_ids``."""
    params = prob.params
    d, s2, f, v, w = prob.d[sel], prob.s2[sel], prob.f[sel], prob.v[sel], prob.w[sel]
    floor, null = prob.floor[sel], prob.null[sel]
    pos = sel
    cubs = [(k, prob.cuboids[k], prob.cuboids[k].index[sel]) for k in cuboid_ids]
    found: list[tuple[Found, np.ndarray]] = []
    banned: dict[int, list[int]] = {}  # elements the exact check rejected (sampled tables)
    n_banned = 0
    while len(found) < limit and len(d):
        scored: list[tuple[float, int, int, float, float]] = []  # score, cuboid, element, llr, d_e
        for k, c, idx in cubs:
            fs = np.bincount(idx, weights=f, minlength=c.n_el)
            vs = np.bincount(idx, weights=v, minlength=c.n_el)
            cnt = np.bincount(idx, minlength=c.n_el)
            mag = (np.abs(fs) + np.abs(vs)) / 2.0
            d_e = np.divide(vs - fs, mag, out=np.zeros(c.n_el), where=mag > 0)
            shrink = np.divide(cnt - 1, cnt, out=np.zeros(c.n_el), where=cnt > 0)
            tau2 = (params.spread_rel * d_e) ** 2 * shrink
            gain = _gain(d, s2, floor, null, d_e[idx], tau2[idx], params) * w
            llr = np.bincount(idx, weights=gain, minlength=c.n_el)
            llr[(np.abs(d_e) < params.min_deviation) | (cnt == 0)] = -np.inf
            for j in banned.get(k, ()):
                llr[j] = -np.inf
            n_top = min(params.runners_up + 1, c.n_el)
            for j in np.argpartition(-llr, n_top - 1)[:n_top]:
                if np.isfinite(llr[j]):
                    scored.append(
                        (float(llr[j] - prob.costs[k]), k, int(j), float(llr[j]), d_e[j])
                    )
        if not scored:
            break
        scored.sort(key=lambda t: -t[0])
        pick = None
        for rank, (score, k, j, llr_j, d_j) in enumerate(scored):
            if score <= 0:
                break
            cub = prob.cuboids[k]
            members = next(idx for k2, _, idx in cubs if k2 == k) == j
            z_m = d[members] / np.sqrt(s2[members])
            moved = (np.abs(z_m) > 3) & (np.sign(z_m) == np.sign(d_j))
            n_leaves = int(np.round(w[members].sum()))
            n_moved = int(np.round(w[members][moved].sum()))
            if prob.full is not None:  # sampled: check on every leaf of the element
                p_full, llr_j, d_j, n_leaves, n_moved = prob.full.exact(cub.dims, cub.values(j))
                score = llr_j - prob.costs[k]
                if not score > 0:
                    banned.setdefault(k, []).append(j)
                    n_banned += 1
                    continue
                prob.full.explained[p_full] = True
            pick = (rank, score, k, j, llr_j, d_j, members, n_leaves, n_moved)
            break
        if pick is None:
            # nothing positive left, or every listed candidate failed its exact check
            listed_all_failed = bool(scored) and scored[-1][0] > 0 and n_banned
            if listed_all_failed and n_banned <= 20 * limit:
                continue
            break
        rank, score, k, j, llr_j, d_j, members, n_leaves, n_moved = pick
        cub = prob.cuboids[k]
        others = [
            s for s in scored[:rank] + scored[rank + 1 :] if s[2] not in banned.get(s[1], ())
        ]
        found.append(
            (
                Found(
                    cuboid=cub.dims,
                    values=cub.values(j),
                    score=score,
                    llr=llr_j,
                    cost=prob.costs[k],
                    deviation=float(d_j),
                    n_leaves=n_leaves,
                    n_moved=n_moved,
                    runners_up=[
                        (prob.cuboids[k2].dims, prob.cuboids[k2].values(j2), sc)
                        for sc, k2, j2, _, _ in others[: params.runners_up]
                    ]
                    + (
                        [(within.cuboid, within.values, within.score)]
                        if within is not None
                        else []
                    ),
                ),
                pos[members],
            )
        )
        rest = ~members
        d, s2, f, v, w, floor, null, pos = (a[rest] for a in (d, s2, f, v, w, floor, null, pos))
        cubs = [(k2, c, idx[rest]) for k2, c, idx in cubs]
    return found
