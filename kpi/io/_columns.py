"""Finding the source columns of a mapping: names matched, thresholds read from names, errors.

:func:`resolve_columns` finds, for each canonical column, the source column(s) a mapping names
(or, for presets, the first alias present); :func:`interval_threshold_columns` reads the
thresholds an interval report carries in its column names (``Answered within 20s``);
:func:`missing_column_error` is the one message for a required column nothing provides.
"""

from __future__ import annotations

import difflib
import re

from kpi.errors import KpiError
from kpi.io._mapping import Mapping, norm
from kpi.io._presets import TABLE_PRESETS, preset_mapping
from kpi.io._read import ROW, Source
from kpi.io._report import ImportReport
from kpi.schema import TABLES, TS

__all__ = [
    "ESSENTIAL",
    "extra_columns",
    "interval_threshold_columns",
    "missing_column_error",
    "resolve_columns",
]

#: Columns an import cannot do without: the table's required columns that are not derived or
#: defaulted (``kpi.schema``: every other column may be absent, which means unknown).
ESSENTIAL = {
    "contacts": ("arrival_ts", "queue"),
    "tickets": ("ticket_id", "created_ts"),
    "intervals": ("interval_start", "queue", "offered"),
    "surveys": ("survey_ts",),
    "qa_evaluations": ("evaluated_ts", "agent_id", "team", "score"),
    "agent_time": ("agent_id", "team", "interval_start"),
}


def resolve_columns(source: Source, m: Mapping, report: ImportReport) -> dict[str, list[str]]:
    """Canonical column -> the source column(s) feeding it (mapped names, then preset aliases)."""
    cols = source.columns
    exact = set(cols)
    by_norm: dict[str, str] = {}
    for c in cols:
        by_norm.setdefault(norm(c), c)
    resolved: dict[str, list[str]] = {}
    matched_loosely = {}

    def find(name: str, key: str) -> str:
        unambiguous(source, name, key)
        if name in exact:
            return name
        hit = by_norm.get(norm(name))
        if hit is not None:
            matched_loosely[name] = hit
            return hit
        close = difflib.get_close_matches(name, cols, n=3, cutoff=0.5)
        raise KpiError(
            f"{source.path}: column {name!r} (set by {key}) is not in the file"
            + (f"; closest: {', '.join(repr(c) for c in close)}" if close else "")
            + f"; columns in the file: {_list_cols(cols)}"
        )

    for col, src in m.columns.items():
        names = src if isinstance(src, list) else [src]
        resolved[col] = [find(n, f"columns.{col}") for n in names]
    for col, names in m.aliases.items():
        if col in resolved:
            continue
        for alias in names:
            parts = alias if isinstance(alias, tuple) else (alias,)
            for part in parts:
                unambiguous(source, part, f"the preset's column for {col}")
            hits = [by_norm.get(norm(p)) for p in parts]
            if all(h is not None for h in hits):
                resolved[col] = [h for h in hits if h is not None]
                fmt = m.alias_formats.get(parts[0])
                if fmt and col not in m.formats:
                    m.formats[col] = fmt
                break
    if matched_loosely:
        report.inferred["column names matched ignoring case/spacing"] = dict(matched_loosely)
    return resolved


def unambiguous(source: Source, name: str, key: str) -> str:
    """``name``, unless the header gives it to more than one column: then refuse the mapping.

    Examples
    --------
    >>> import polars as pl
    >>> from pathlib import Path
    >>> dups = {"duplicate_columns": {"Caller": ["Caller_1", "Caller_2"]}}
    >>> src = Source(Path("x.csv"), pl.DataFrame(), pl.DataFrame(), dups)
    >>> unambiguous(src, "Caller_2", "columns.customer_id")
    'Caller_2'
    >>> unambiguous(src, "caller", "columns.customer_id")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: x.csv: column 'caller' (set by columns.customer_id) is ambiguous: the header names 2 columns 'Caller', read as 'Caller_1', 'Caller_2'; map the one you mean by that name, or rename a column in the file
    """
    dups = source.info.get("duplicate_columns", {})
    for given, names in dups.items():
        if name == given or norm(name) == norm(given):
            raise KpiError(
                f"{source.path}: column {name!r} (set by {key}) is ambiguous: the header "
                f"names {len(names)} columns {given!r}, read as "
                + ", ".join(repr(n) for n in names)
                + "; map the one you mean by that name, or rename a column in the file"
            )
    return name


def _list_cols(cols: list[str], n: int = 20) -> str:
    shown = ", ".join(repr(c) for c in cols[:n])
    return shown + (f", ... ({len(cols)} in all)" if len(cols) > n else "")


def missing_column_error(
    source: Source, m: Mapping, col: str, *, why: str = "", also: tuple[str, ...] = ()
) -> KpiError:
    """The error for a required canonical column nothing provides."""
    table = TABLES[m.table]
    desc = table.column(col).description
    cols = source.columns
    hints = m.aliases.get(col) or preset_mapping(TABLE_PRESETS[m.table]).aliases.get(col, ())
    candidates = [col, *[a for a in hints if isinstance(a, str)], *also]
    by_norm = {norm(c): c for c in cols}
    close: list[str] = []
    for cand in candidates:
        for hit in difflib.get_close_matches(norm(cand), list(by_norm), n=3, cutoff=0.55):
            if by_norm[hit] not in close:
                close.append(by_norm[hit])
    hint = (
        f"closest columns in the file: {', '.join(repr(c) for c in close[:4])}"
        if close
        else (f"columns in the file: {_list_cols(cols, 12)}")
    )
    if m.preset:
        names = [a if isinstance(a, str) else " + ".join(a) for a in m.aliases.get(col, (col,))]
        looked = ", ".join(names[:8])
        fix = (
            f"the {m.preset} preset looks for a column named {looked}; rename the column or "
            f'import with --mapping FILE.toml setting columns.{col} = "<source column>"'
        )
    else:
        fix = f'set columns.{col} = "<source column>" in {m.name}'
        if table.column(col).dtype != TS:
            fix += f" (or defaults.{col} for a constant)"
    why = f" {why}" if why else ""
    return KpiError(
        f"{source.path}: missing required column {col!r} for {m.table} ({desc}){why}; "
        f"{hint}; {fix}"
    )


def extra_columns(source: Source, m: Mapping, resolved: dict[str, list[str]]) -> dict[str, str]:
    """New column name -> source column kept after the canonical ones (``extra``, ``keep_unmapped``)."""
    extras: dict[str, str] = {}
    canon = set(TABLES[m.table].names)
    for new, src in m.extra.items():
        unambiguous(source, src, f"extra.{new}")
        if src not in source.columns:
            close = difflib.get_close_matches(src, source.columns, n=3, cutoff=0.5)
            raise KpiError(
                f"{source.path}: column {src!r} (set by extra.{new}) is not in the file"
                + (f"; closest: {', '.join(repr(c) for c in close)}" if close else "")
            )
        extras[new] = src
    if m.keep_unmapped:
        used = {s for srcs in resolved.values() for s in srcs} | set(extras.values())
        for src in source.columns:
            if src in used:
                continue
            new = norm(src) or "column"
            if new in canon or new in extras or new in (ROW, "source_row", "source_file"):
                new = f"source_{new}"
            extras[new] = src
    return extras


_WITHIN = re.compile(
    r"^(?:answered|answers|ans|calls_answered|handled)_(?:within|in|under|lt|le|before)_?(\d+(?:\.\d+)?)_?s(?:ec|ecs|econds)?$"
)
_ABAND_WITHIN = re.compile(
    r"^(?:abandoned|abandons|aband|abn)_(?:within|in|under|lt|le|before)_?(\d+(?:\.\d+)?)_?s(?:ec|ecs|econds)?$"
)
_SHORT = re.compile(
    r"^short_?(?:abandoned|abandons|abandon|aband|abn)(?:_(?:within|in|under|lt|le))?(?:_?(\d+(?:\.\d+)?)_?s(?:ec|ecs|econds)?)?$"
)


def interval_threshold_columns(
    source: Source,
    resolved: dict[str, list[str]],
    m: Mapping,
    report: ImportReport,
    threshold_s: float | None,
    short_abandon_s: float | None,
) -> tuple[dict[str, list[str]], float | None, float | None]:
    """Resolve threshold-count columns named like ``Answered within 20s`` and their thresholds.

    Returns
    -------
    tuple
        ``(resolved, threshold_s, short_abandon_s)``: the resolved columns with the threshold
        counts added, and the thresholds (given, from the mapping, or read from the names).
    """
    threshold = threshold_s if threshold_s is not None else m.interval_threshold_s
    short = short_abandon_s if short_abandon_s is not None else m.interval_short_abandon_s
    for src in source.columns:
        n = norm(src)
        if "answered_within_threshold" not in resolved and (hit := _WITHIN.match(n)):
            resolved["answered_within_threshold"] = [src]
            t = float(hit.group(1))
            if threshold is None:
                threshold = t
                report.inferred["service-level threshold"] = f"{t:g} s (from column {src!r})"
            elif threshold != t:
                raise KpiError(
                    f"{source.path}: column {src!r} counts answers within {t:g} s but the "
                    f"threshold given is {threshold:g} s; drop --threshold-s or fix it"
                )
    for src in source.columns:
        n = norm(src)
        hit_short = _SHORT.match(n)
        hit_ab = _ABAND_WITHIN.match(n)
        if (
            hit_ab
            and "abandoned_within_threshold" not in resolved
            and threshold is not None
            and float(hit_ab.group(1)) == threshold
        ):
            resolved["abandoned_within_threshold"] = [src]
        elif (hit_short or hit_ab) and "abandoned_short" not in resolved:
            resolved["abandoned_short"] = [src]
            num = (hit_short or hit_ab).group(1)  # type: ignore[union-attr]
            if num is not None and short is None:
                short = float(num)
                report.inferred["short-abandon threshold"] = f"{short:g} s (from column {src!r})"
    if "answered_within_threshold" in resolved and threshold is None:
        raise KpiError(
            f"{source.path}: column {resolved['answered_within_threshold'][0]!r} counts answers "
            "within the service-level threshold, but its value is unknown: pass --threshold-s "
            "SECONDS (or set interval_threshold_s in the mapping)"
        )
    if "abandoned_short" in resolved and short is None:
        raise KpiError(
            f"{source.path}: column {resolved['abandoned_short'][0]!r} counts short abandons, but "
            "the short-abandon threshold is unknown: pass --short-abandon-s SECONDS (or set "
            "interval_short_abandon_s in the mapping)"
        )
    return resolved, threshold, short
