"""Synthetic root-cause localisation instances: RiskLoc's S, L and H settings, and a ratio variant.

Written from the description of the synthetic datasets in Kalander, "RiskLoc: Localization of
Multi-dimensional Root Causes by Weighted Risk" (arXiv:2205.10004, 2022), section "Datasets", and
the parameter table of that paper (dimension sizes, ranges of noise, severity, deviation, number of
anomalies and of elements per anomaly):

1. Leaves are every combination of the dimension values (``a1..a10`` x ``b1..b12`` x ...).
2. The normal value of a leaf is ``100 * Weibull(alpha)``, ``alpha ~ U(0.5, 1.0)``; a share
   ``zero_rate ~ U(0, 0.25)`` of the leaves is set to zero.
3. The forecast has a relative error ``N(0, noise)`` with ``noise ~ U(noise range)``; which of the two
   (real, forecast) carries the error is drawn per leaf, so errors are symmetric.
4. ``k ~ U{num_anomaly}`` anomalies. Each lies in a random cuboid of ``layer ~ U{1..D}`` dimensions
   (always ``D`` for L), not used by an earlier anomaly, and holds ``m ~ U{elements}`` distinct
   elements of that cuboid. Root-cause elements never share a leaf (stricter than "no shared
   value": two causes in different cuboids may not cross either). In the last layer an element must
   be a non-zero leaf.
5. The severity of an anomaly is ``s ~ U(severity range) + noise`` (never drowned by the noise) and
   its deviation ``t ~ U(deviation range)``; each leaf under it gets ``r ~ N(s, t)`` and its value
   becomes ``max(expected * (1 - r), 0)`` with the noise removed, i.e. the generalised ripple effect.
   The anomaly moves in the direction of the normal forecast error so that it is not cancelled by it.

The ratio variant (``R``) has, per leaf, a volume (denominator) and a rate (numerator/volume) in a
baseline and a current period. Volumes get relative noise and, as decoys, whole segments change
volume by 30-100% without their rate moving; rates get relative noise; root-cause elements have
their rate lowered by the ripple rule above. The ground truth is the set of rate root causes.

The code is this project's own (vectorised numpy), not the paper's.
"""

from __future__ import annotations

import argparse
import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

__all__ = ["SETTINGS", "Instance", "Setting", "generate"]


@dataclass(frozen=True)
class Setting:
    """Parameters of one synthetic dataset (ranges are inclusive ``(low, high)``)."""

    name: str
    dims: tuple[int, ...]
    weibull_alpha: tuple[float, float] = (0.5, 1.0)
    zero_rate: tuple[float, float] = (0.0, 0.25)
    noise: tuple[float, float] = (0.0, 0.25)
    severity: tuple[float, float] = (0.2, 1.0)
    deviation: tuple[float, float] = (0.0, 0.1)
    num_anomaly: tuple[int, int] = (1, 3)
    num_elements: tuple[int, int] = (1, 3)
    only_last_layer: bool = False
    ratio: bool = False
    #: ratio variant only: relative volume noise, and number of volume-shift decoy segments
    volume_noise: tuple[float, float] = (0.0, 0.2)
    decoys: tuple[int, int] = (1, 3)


SETTINGS: dict[str, Setting] = {
    "S": Setting("S", (10, 12, 10, 8, 5)),
    "L": Setting(
        "L",
        (10, 24, 10, 15),
        noise=(0.0, 0.1),
        severity=(0.5, 1.0),
        deviation=(0.0, 0.0),
        num_anomaly=(1, 5),
        num_elements=(1, 1),
        only_last_layer=True,
    ),
    "H": Setting("H", (10, 5, 250, 20, 8, 12)),
    "R": Setting("R", (10, 12, 10, 8), noise=(0.0, 0.15), ratio=True),
}


@dataclass
class Instance:
    """One generated case: the leaf table and its true root-cause elements."""

    table: pl.DataFrame
    causes: list[dict[str, str]]
    dims: list[str]
    meta: dict[str, Any] = field(default_factory=dict)


def _leaf_codes(sizes: tuple[int, ...]) -> np.ndarray:
    """All combinations of value codes, shape (n_leaves, n_dims), last dimension fastest."""
    grids = np.indices(sizes, dtype=np.int32).reshape(len(sizes), -1)
    return grids.T


def _pick_causes(
    rng: np.random.Generator,
    codes: np.ndarray,
    sizes: tuple[int, ...],
    expected: np.ndarray,
    s: Setting,
    n_anomalies: int,
) -> list[tuple[tuple[int, ...], list[tuple[int, ...]]]]:
    """Choose (cuboid, elements) per anomaly: unused cuboids, disjoint leaves, non-zero leaves."""
    n_dims = len(sizes)
    taken = np.zeros(len(codes), dtype=bool)
    used_cuboids: set[tuple[int, ...]] = set()
    anomalies: list[tuple[tuple[int, ...], list[tuple[int, ...]]]] = []
    strides = np.cumprod((1, *sizes[::-1][:-1]))[::-1]  # leaf index = codes @ strides
    for _ in range(n_anomalies):
        for _attempt in range(200):
            layer = n_dims if s.only_last_layer else int(rng.integers(1, n_dims, endpoint=True))
            cuboid = tuple(sorted(rng.choice(n_dims, size=layer, replace=False).tolist()))
            if cuboid in used_cuboids and layer < n_dims:
                continue
            n_el = int(rng.integers(s.num_elements[0], s.num_elements[1], endpoint=True))
            elements: list[tuple[int, ...]] = []
            mask = np.zeros(len(codes), dtype=bool)
            ok = True
            for _e in range(n_el):
                for _try in range(50):
                    values = tuple(int(rng.integers(0, sizes[d])) for d in cuboid)
                    if values in elements:
                        continue
                    if layer == n_dims:
                        leaf = int(np.dot(values, strides))
                        if taken[leaf] or mask[leaf] or expected[leaf] == 0:
                            continue
                        m = np.zeros(len(codes), dtype=bool)
                        m[leaf] = True
                    else:
                        m = np.logical_and.reduce(
                            [codes[:, d] == v for d, v in zip(cuboid, values, strict=True)]
                        )
                        if (m & taken).any() or not (expected[m] > 0).any():
                            continue
                    elements.append(values)
                    mask |= m
                    break
                else:
                    ok = False
                    break
            if ok:
                taken |= mask
                used_cuboids.add(cuboid)
                anomalies.append((cuboid, elements))
                break
        else:
            raise RuntimeError("could not place a non-overlapping anomaly; use larger dimensions")
    return anomalies


def _masks(codes: np.ndarray, cuboid: tuple[int, ...], elements: list[tuple[int, ...]]):
    return np.logical_or.reduce(
        [
            np.logical_and.reduce([codes[:, d] == v for d, v in zip(cuboid, el, strict=True)])
            for el in elements
        ]
    )


def generate(setting: str | Setting, seed: int) -> Instance:
    """Generate one instance of a setting (``"S"``, ``"L"``, ``"H"``, ``"R"`` or a ``Setting``).

    Returns an :class:`Instance` whose table has the dimension columns (``a``, ``b``, ...; values
    ``a1``, ``a2``, ... as ``pl.Enum``) and ``predict``/``real`` (additive settings) or
    ``num_b``, ``den_b``, ``num_c``, ``den_c`` (ratio setting).
    """
    s = SETTINGS[setting] if isinstance(setting, str) else setting
    rng = np.random.default_rng(seed)
    names = list(string.ascii_lowercase[: len(s.dims)])
    codes = _leaf_codes(s.dims)
    n = len(codes)
    uni = rng.uniform
    zero_rate = uni(*s.zero_rate)
    noise = uni(*s.noise)
    alpha = uni(*s.weibull_alpha)
    base = rng.weibull(alpha, n) * 100.0
    base *= rng.uniform(size=n) >= zero_rate

    n_anom = int(rng.integers(s.num_anomaly[0], s.num_anomaly[1], endpoint=True))
    anomalies = _pick_causes(rng, codes, s.dims, base, s, n_anom)
    props = [(uni(*s.severity) + noise, uni(*s.deviation)) for _ in anomalies]

    columns: dict[str, Any] = {}
    if not s.ratio:
        noisy = np.maximum(base * (1.0 + rng.normal(0.0, noise, n)), 0.0) if noise else base
        swap = rng.integers(0, 2, n).astype(bool)
        real = np.where(swap, noisy, base)
        predict = np.where(swap, base, noisy)
        up = real.sum() > predict.sum()  # anomalies follow the normal error direction
        for (cuboid, elements), (sev, dev) in zip(anomalies, props, strict=True):
            m = _masks(codes, cuboid, elements)
            r = rng.normal(sev, dev, int(m.sum())) if dev > 0 else np.full(int(m.sum()), sev)
            if up:
                predict[m] = np.maximum(real[m] * (1.0 - r), 0.0)
            else:
                real[m] = np.maximum(predict[m] * (1.0 - r), 0.0)
        columns = {"real": real, "predict": predict}
    else:
        vol_noise = uni(*s.volume_noise)
        rate_b = rng.beta(8.0, 2.0, n)
        den_b = np.round(base)
        den_c = np.maximum(np.round(den_b * (1.0 + rng.normal(0.0, vol_noise, n))), 0.0)
        # decoys: whole segments whose volume moves while their rate does not
        n_decoys = int(rng.integers(s.decoys[0], s.decoys[1], endpoint=True))
        cause_mask = np.logical_or.reduce(
            [_masks(codes, c, e) for c, e in anomalies] + [np.zeros(n, bool)]
        )
        decoys = []
        for _ in range(n_decoys):
            d = int(rng.integers(0, len(s.dims)))
            v = int(rng.integers(0, s.dims[d]))
            factor = 1.0 + rng.choice([-1.0, 1.0]) * uni(0.3, 1.0)
            m = (codes[:, d] == v) & ~cause_mask
            den_c[m] = np.round(den_c[m] * factor)
            decoys.append({names[d]: f"{names[d]}{v + 1}"})
        rate_noisy = rate_b * (1.0 + rng.normal(0.0, noise, n))
        rate_c = np.clip(rate_noisy, 0.0, 1.0)
        for (cuboid, elements), (sev, dev) in zip(anomalies, props, strict=True):
            m = _masks(codes, cuboid, elements)
            r = rng.normal(sev, dev, int(m.sum())) if dev > 0 else np.full(int(m.sum()), sev)
            rate_c[m] = np.clip(rate_b[m] * (1.0 - np.minimum(r, 1.0)), 0.0, 1.0)
        num_b = np.round(den_b * rate_b)
        num_c = np.round(den_c * rate_c)
        columns = {"num_b": num_b, "den_b": den_b, "num_c": num_c, "den_c": den_c}
        props_meta: dict[str, Any] = {"volume_noise": vol_noise, "decoys": decoys}

    dim_cols = {name: _labels(name, codes[:, j], s.dims[j]) for j, name in enumerate(names)}
    table = pl.DataFrame({**dim_cols, **columns})
    causes = [
        {names[d]: f"{names[d]}{v + 1}" for d, v in zip(cuboid, el, strict=True)}
        for cuboid, elements in anomalies
        for el in elements
    ]
    meta: dict[str, Any] = {
        "setting": s.name,
        "seed": seed,
        "noise": noise,
        "zero_rate": zero_rate,
        "severity": [p[0] for p in props],
        "deviation": [p[1] for p in props],
        "layers": [len(c) for c, _ in anomalies],
    }
    if s.ratio:
        meta.update(props_meta)
    return Instance(table=table, causes=causes, dims=names, meta=meta)


def _labels(prefix: str, code: np.ndarray, size: int) -> pl.Series:
    """Codes 0..size-1 as an Enum series of labels ``prefix1..prefixN`` (no per-row Python)."""
    labels = [f"{prefix}{i + 1}" for i in range(size)]
    return (
        pl.Series(prefix, code.astype(np.uint32))
        .cast(pl.UInt32)
        .replace_strict(list(range(size)), labels, return_dtype=pl.Enum(labels))
    )


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("setting", choices=sorted(SETTINGS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    inst = generate(args.setting, args.seed)
    print(inst.table.head())
    print(inst.table.height, "leaves; causes:", inst.causes)
    print(inst.meta)


if __name__ == "__main__":
    _main()
