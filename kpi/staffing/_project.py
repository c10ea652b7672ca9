"""Projection of a staffing table under a what-if."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kpi.errors import KpiError
from kpi.staffing._exprs import _model_expr
from kpi.staffing._formulas import Denominator, _denominator
from kpi.staffing._what_if import WhatIf, _apply_changes, parse_what_if

__all__ = ["project"]


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
    _check_scopes(lf, what_if, schema)
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


def _check_scopes(lf: pl.LazyFrame, what_if: WhatIf, schema: pl.Schema) -> None:
    """Refuse a scoped change whose value is not in the table (it would change nothing).

    Examples
    --------
    >>> t = pl.LazyFrame({"team": ["A", "B"]})
    >>> _check_scopes(t, parse_what_if(["agents[team=Nope]=+1"]), t.collect_schema())
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: what-if 'agents[team=Nope]=+1': no team 'Nope' in the staffing table; teams: A, B
    """
    scoped = {col for c in what_if.changes for col, _ in c.scope if col in schema}
    if not scoped:
        return
    values = lf.select(pl.col(c).cast(pl.String).unique().implode() for c in sorted(scoped))
    present = {c: set(v) for c, v in values.collect().row(0, named=True).items()}
    for change in what_if.changes:
        for col, val in change.scope:
            if col in present and val not in present[col]:
                shown = sorted(v for v in present[col] if v is not None)
                more = f" and {len(shown) - 20} more" if len(shown) > 20 else ""
                raise KpiError(
                    f"what-if {change.text!r}: no {col} {val!r} in the staffing table; "
                    f"{col}s: {', '.join(shown[:20]) or 'none'}{more}"
                )
