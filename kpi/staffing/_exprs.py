"""The polars glue: the numpy formulas run on the columns of a staffing table."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from kpi import _erlang

__all__: list[str] = []

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
