"""Segment deltas: every segment of one, two or three dimensions, with a mix/rate split."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import polars as pl

from kpi.errors import KpiError
from kpi.rca._leaves import NULL_LABEL, _check, _columns, _spec

__all__ = ["segments"]

# ---- segment deltas ------------------------------------------------------------------------


def segments(
    table: pl.DataFrame | pl.LazyFrame,
    *,
    dims: Sequence[str],
    baseline: str,
    current: str,
    ratio: Sequence[str] | None = None,
    scale: float = 1.0,
    max_order: int = 2,
) -> pl.LazyFrame:
    """Deltas of every segment of one to ``max_order`` dimensions, with a mix/rate split for ratios.

    Parameters
    ----------
    table
        Leaf-level or row-level table (DataFrame or LazyFrame).
    dims
        Dimension columns.
    baseline, current
        Measure columns (numerators for a ratio). Nulls count as 0.
    ratio
        For a ratio KPI, the denominator columns ``(baseline, current)``.
    scale
        Ratio only: factor applied to rates and effects (100 for percent).
    max_order
        Largest number of dimensions in a segment (1, 2 or 3 usually).

    Returns
    -------
    pl.LazyFrame
        One row per segment: ``segment`` (``"team=N & channel=chat"``), ``order``, ``dims``
        (list of the dimension names of the segment), one String column per dimension (null when
        the segment does not fix it), ``baseline``, ``current`` (sums; for ratios the segment's
        rates), ``contribution`` and ``share`` of the total change; for ratios also
        ``baseline_volume``, ``current_volume`` (denominators), ``mix`` and ``rate``. Within one
        combination of dimensions the contributions sum exactly to the total change. Shares are
        null when the total did not change; rates are null for a zero denominator.

    Notes
    -----
    Additive: ``contribution = current - baseline``. Ratio (shift-share): with ``s`` the
    segment's share of the total denominator, ``r`` its rate and ``R_b`` the total baseline
    rate, ``rate = s_c (r_c - r_b)`` and ``mix = (s_c - s_b)(r_b - R_b)``; a segment absent in
    the baseline takes ``r_b = R_b``. Summed over a partition: ``sum(mix + rate) = R_c - R_b``.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame(
    ...     {
    ...         "team": ["N", "S"],
    ...         "ok_b": [80.0, 45],
    ...         "n_b": [100.0, 50],
    ...         "ok_c": [60.0, 90],
    ...         "n_c": [100.0, 100],
    ...     }
    ... )
    >>> out = segments(
    ...     t, dims=["team"], baseline="ok_b", current="ok_c", ratio=("n_b", "n_c"), max_order=1
    ... ).collect()
    >>> out.select("segment", "baseline", "current", "mix", "rate", "contribution")
    shape: (2, 6)
    ┌─────────┬──────────┬─────────┬──────────┬──────┬──────────────┐
    │ segment ┆ baseline ┆ current ┆ mix      ┆ rate ┆ contribution │
    │ ---     ┆ ---      ┆ ---     ┆ ---      ┆ ---  ┆ ---          │
    │ str     ┆ f64      ┆ f64     ┆ f64      ┆ f64  ┆ f64          │
    ╞═════════╪══════════╪═════════╪══════════╪══════╪══════════════╡
    │ team=N  ┆ 0.8      ┆ 0.6     ┆ 0.005556 ┆ -0.1 ┆ -0.094444    │
    │ team=S  ┆ 0.9      ┆ 0.9     ┆ 0.011111 ┆ 0.0  ┆ 0.011111     │
    └─────────┴──────────┴─────────┴──────────┴──────┴──────────────┘
    >>> round(out["contribution"].sum(), 12) == round(0.75 - 125 / 150, 12)
    True
    """
    lf, schema = _columns(table)
    measures, den = _spec(baseline, current, ratio)
    dims = _check(schema, dims, measures)
    if max_order < 1:
        raise KpiError(f"max_order must be 1 or more, got {max_order}")
    names = ["_f", "_v"] + (["_db", "_dc"] if den else [])
    base = lf.select(
        *[pl.col(d).cast(pl.String).fill_null(NULL_LABEL) for d in dims],
        *[
            pl.col(m).cast(pl.Float64).fill_null(0.0).alias(n)
            for m, n in zip(measures, names, strict=True)
        ],
    )
    totals = base.select([pl.col(n).sum().alias(f"{n}_tot") for n in names])
    out = _segment_sums(base, dims, names, max_order=max_order).join(totals, how="cross")
    if den is None:
        out, cols = _additive_effects(out)
    else:
        out, cols = _ratio_effects(out, scale=scale)
    return out.sort(
        ["_combo", pl.col("contribution").abs()], descending=[False, True], maintain_order=True
    ).select("segment", "order", "dims", *dims, *cols)


def _segment_sums(
    base: pl.LazyFrame, dims: list[str], names: list[str], *, max_order: int
) -> pl.LazyFrame:
    """The measure sums of every segment of one to ``max_order`` dimensions, with its label."""
    combos = [
        combo
        for order in range(1, min(max_order, len(dims)) + 1)
        for combo in itertools.combinations(dims, order)
    ]
    parts = []
    for i, combo in enumerate(combos):
        label = pl.concat_str([pl.lit(f"{d}=") + pl.col(d) for d in combo], separator=" & ").alias(
            "segment"
        )
        parts.append(
            base.group_by(list(combo))
            .agg(pl.col(names).sum())
            .select(
                label,
                pl.lit(len(combo), dtype=pl.UInt8).alias("order"),
                pl.lit(i, dtype=pl.UInt32).alias("_combo"),
                pl.lit(list(combo), dtype=pl.List(pl.String)).alias("dims"),
                *[
                    (pl.col(d) if d in combo else pl.lit(None, dtype=pl.String)).alias(d)
                    for d in dims
                ],
                *names,
            )
        )
    return pl.concat(parts, how="vertical")


def _additive_effects(out: pl.LazyFrame) -> tuple[pl.LazyFrame, list[str]]:
    """Baseline, current, contribution (their difference) and share of the total change."""
    change = pl.col("_v_tot") - pl.col("_f_tot")
    out = out.with_columns(
        pl.col("_f").alias("baseline"),
        pl.col("_v").alias("current"),
        (pl.col("_v") - pl.col("_f")).alias("contribution"),
    ).with_columns(pl.when(change != 0).then(pl.col("contribution") / change).alias("share"))
    return out, ["baseline", "current", "contribution", "share"]


def _ratio_effects(out: pl.LazyFrame, *, scale: float) -> tuple[pl.LazyFrame, list[str]]:
    """Rates, volumes and the shift-share split: ``mix``, ``rate``, contribution and share."""
    rb_tot = pl.col("_f_tot") / pl.col("_db_tot")
    rc_tot = pl.col("_v_tot") / pl.col("_dc_tot")
    rb = pl.when(pl.col("_db") != 0).then(pl.col("_f") / pl.col("_db"))
    rc = pl.when(pl.col("_dc") != 0).then(pl.col("_v") / pl.col("_dc"))
    out = (
        out.with_columns(
            rb.alias("_rb"),
            rc.alias("_rc"),
            (pl.col("_db") / pl.col("_db_tot")).alias("_sb"),
            (pl.col("_dc") / pl.col("_dc_tot")).alias("_sc"),
        )
        .with_columns(
            pl.coalesce("_rb", rb_tot).alias("_rb_eff"),
        )
        .with_columns(
            (pl.col("_rb") * scale).alias("baseline"),
            (pl.col("_rc") * scale).alias("current"),
            pl.col("_db").alias("baseline_volume"),
            pl.col("_dc").alias("current_volume"),
            ((pl.col("_sc") - pl.col("_sb")) * (pl.col("_rb_eff") - rb_tot) * scale).alias("mix"),
            (pl.col("_sc") * (pl.coalesce("_rc", "_rb_eff") - pl.col("_rb_eff")) * scale).alias(
                "rate"
            ),
        )
        .with_columns(
            (pl.col("mix") + pl.col("rate")).alias("contribution"),
        )
        .with_columns(
            pl.when(rc_tot != rb_tot)
            .then(pl.col("contribution") / ((rc_tot - rb_tot) * scale))
            .alias("share")
        )
    )
    cols = [
        "baseline",
        "current",
        "baseline_volume",
        "current_volume",
        "mix",
        "rate",
        "contribution",
        "share",
    ]
    return out, cols
