"""Column mappings: any export to a canonical table (``--mapping FILE.toml`` and alias presets).

A :class:`Mapping` names, for each canonical column, the source column(s) it comes from, how
to read times and durations, value maps, defaults for columns the export lacks, and the site
time zone. The presets ``contacts``, ``tickets`` and ``interval`` are mappings that look for
common column names instead of fixed ones. ``docs/importing.md`` documents the format.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.io._parse import (
    DURATION_FORMATS,
    MAX_SECONDS,
    check_timezone,
    detect_ts_formats,
    localize,
    parse_bool,
    parse_duration,
    parse_int,
    parse_ts,
    sane_seconds,
    within_years,
)
from kpi.io._read import ROW, Source
from kpi.io._report import ImportReport
from kpi.io._rules import TICKET_STATUSES, check_rows
from kpi.schema import OUTCOMES, TABLES, TS

__all__ = [
    "IMPORTABLE",
    "KEYS",
    "Mapping",
    "Staged",
    "check_scalar",
    "convert_mapped",
    "load_mapping",
    "norm",
]

#: Tables an import can write.
IMPORTABLE = ("contacts", "tickets", "intervals")

#: Columns identifying a row; rows repeating a key are duplicates.
KEYS: dict[str, tuple[str, ...]] = {
    "contacts": ("contact_id",),
    "tickets": ("ticket_id",),
    "intervals": ("queue", "channel", "interval_start"),
}

_TOP_KEYS = (
    "table",
    "description",
    "timezone",
    "interval_threshold_s",
    "interval_short_abandon_s",
    "read",
    "columns",
    "formats",
    "values",
    "defaults",
    "fill_null",
    "extra",
    "keep_unmapped",
)
_READ_KEYS = ("format", "delimiter", "encoding", "sheet", "skip_rows", "null_values")
_TS_SPECIAL = ("auto", "epoch_s", "epoch_ms")

#: Outcome words understood without a value map (any case).
OUTCOME_SYNONYMS = {o: o for o in OUTCOMES}

#: Ticket status words understood without a value map (any case).
STATUS_SYNONYMS = {
    **{s: s for s in TICKET_STATUSES},
    "new": "open",
    "in progress": "open",
    "assigned": "open",
    "reopened": "open",
    "on hold": "pending",
    "on-hold": "pending",
    "waiting": "pending",
    "hold": "pending",
    "resolved": "solved",
    "done": "solved",
    "completed": "solved",
}


def norm(name: str) -> str:
    """Normalise a column name for matching: lower case, runs of other characters -> ``_``.

    Examples
    --------
    >>> norm("  Talk Time (s) ")
    'talk_time_s'
    """
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


@dataclass
class Mapping:
    """How to turn a source file into one canonical table.

    Attributes
    ----------
    table
        Target table: ``contacts``, ``tickets`` or ``intervals``.
    columns
        Canonical column -> source column, or a list of source columns joined with a space
        (a date column and a time column).
    aliases
        Canonical column -> candidate source names (presets): the first present is used; a
        tuple of names is a date column and a time column joined.
    alias_formats
        Candidate name -> format to use when that name matched (``interval_min`` is minutes).
    formats
        Canonical column -> time format(s) (strftime, ``auto``, ``epoch_s``, ``epoch_ms``) or
        duration format (see :data:`kpi.io._parse.DURATION_FORMATS`).
    values
        Canonical column -> {source value: canonical value}.
    defaults
        Canonical column -> constant for columns the source lacks.
    fill_null
        Canonical column -> value replacing nulls in a mapped column (counted as repairs).
    extra
        New column name -> source column, kept after the canonical columns.
    keep_unmapped
        Keep every unmapped source column as an extra column (snake_case names).
    timezone
        Site time zone (``--tz`` overrides).
    interval_threshold_s, interval_short_abandon_s
        Thresholds an interval report used (``intervals`` only).
    read
        Reader options: format, delimiter, encoding, sheet, skip_rows, null_values.
    name
        Where the mapping came from, for messages.
    preset
        The preset's name when this mapping is a preset.
    """

    table: str
    columns: dict[str, str | list[str]] = field(default_factory=dict)
    aliases: dict[str, tuple[str | tuple[str, ...], ...]] = field(default_factory=dict)
    alias_formats: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str | list[str]] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    fill_null: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    keep_unmapped: bool = False
    timezone: str | None = None
    interval_threshold_s: float | None = None
    interval_short_abandon_s: float | None = None
    read: dict[str, Any] = field(default_factory=dict)
    name: str = "mapping"
    preset: str | None = None


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def load_mapping(spec: str | Path | AbcMapping[str, Any]) -> Mapping:
    """Read and check a mapping from a TOML file or a dictionary of the same shape.

    Parameters
    ----------
    spec
        Path of a ``.toml`` file, or the parsed dictionary.

    Raises
    ------
    KpiError
        Unreadable TOML, unknown keys or tables, unknown canonical columns, bad formats,
        defaults of the wrong type; each message names the key to fix.

    Examples
    --------
    >>> m = load_mapping(
    ...     {
    ...         "table": "contacts",
    ...         "timezone": "Europe/London",
    ...         "columns": {"arrival_ts": "Start", "queue": "Skill", "wait_s": "Wait"},
    ...         "formats": {"wait_s": "m:ss"},
    ...         "values": {"outcome": {"ANS": "answered"}},
    ...         "defaults": {"channel": "voice"},
    ...     }
    ... )
    >>> m.table, m.columns["queue"], m.formats["wait_s"]
    ('contacts', 'Skill', 'm:ss')
    >>> load_mapping({"table": "calls"})
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: mapping: table = 'calls' is not importable; valid: contacts, tickets, intervals
    """
    if isinstance(spec, AbcMapping):
        raw, name = dict(spec), "mapping"
    else:
        path = Path(spec)
        name = str(path)
        if not path.exists():
            raise KpiError(f"mapping file {path} does not exist")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as exc:
            raise KpiError(f"{path}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise KpiError(f"{path}: not a UTF-8 text file") from None
    for key in raw:
        if key not in _TOP_KEYS:
            raise KpiError(
                f"{name}: unknown key {key!r}{_suggest(key, _TOP_KEYS)}; valid keys: "
                + ", ".join(_TOP_KEYS)
            )
    table = raw.get("table")
    if table is None:
        raise KpiError(f'{name}: missing `table = "..."`; valid: {", ".join(IMPORTABLE)}')
    if table not in IMPORTABLE:
        raise KpiError(
            f"{name}: table = {table!r} is not importable; valid: {', '.join(IMPORTABLE)}"
        )
    canon = TABLES[table].names
    m = Mapping(table=table, name=name)

    def section(key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise KpiError(f"{name}: [{key}] must be a table of key = value pairs")
        return value

    def check_canon(key: str, col: str, *, allow_extra: bool = False) -> None:
        if col in canon or (allow_extra and col in m.extra):
            return
        raise KpiError(
            f"{name}: {key}.{col}: {col!r} is not a column of {table}{_suggest(col, canon)}; "
            f"columns: {', '.join(canon)}"
        )

    for key in section("read"):
        if key not in _READ_KEYS:
            raise KpiError(f"{name}: unknown key read.{key}{_suggest(key, _READ_KEYS)}")
    m.read = section("read")
    for col, src in section("columns").items():
        check_canon("columns", col)
        ok = (isinstance(src, str) and src) or (
            isinstance(src, list) and src and all(isinstance(s, str) for s in src)
        )
        if not ok:
            raise KpiError(
                f"{name}: columns.{col} must be a source column name or a list of names"
            )
        m.columns[col] = src
    for new, src in section("extra").items():
        if not isinstance(src, str):
            raise KpiError(f"{name}: extra.{new} must be a source column name")
        if new in canon:
            raise KpiError(
                f"{name}: extra.{new}: {new!r} is a canonical column; use columns.{new}"
            )
        if new in ("source_row", "source_file") or new.startswith("__"):
            raise KpiError(f"{name}: extra.{new}: the name {new!r} is reserved; choose another")
        m.extra[new] = src
    for col, fmt in section("formats").items():
        check_canon("formats", col)
        _check_format(name, table, col, fmt)
        m.formats[col] = fmt
    for col, vmap in section("values").items():
        check_canon("values", col)
        if not isinstance(vmap, dict):
            raise KpiError(
                f'{name}: [values.{col}] must map source values to values, e.g. "Y" = true'
            )
        if col == "outcome":
            bad = [v for v in vmap.values() if v not in OUTCOMES]
            if bad:
                raise KpiError(
                    f"{name}: values.outcome maps to {bad[0]!r}; valid outcomes: {', '.join(OUTCOMES)}"
                )
        m.values[col] = {str(k): v for k, v in vmap.items()}
    for key in ("defaults", "fill_null"):
        for col, value in section(key).items():
            check_canon(key, col)
            _check_constant(name, key, table, col, value)
            getattr(m, key)[col] = value
    if "timezone" in raw:
        m.timezone = check_timezone(str(raw["timezone"]))
    for key in ("interval_threshold_s", "interval_short_abandon_s"):
        if key in raw:
            if table != "intervals":
                raise KpiError(f'{name}: {key} applies to table = "intervals" only')
            value = raw[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise KpiError(f"{name}: {key} must be a number of seconds >= 0, got {value!r}")
            setattr(m, key, float(value))
    m.keep_unmapped = bool(raw.get("keep_unmapped", False))
    return m


def _check_format(name: str, table: str, col: str, fmt: Any) -> None:
    column = TABLES[table].column(col)
    if column.dtype == TS:
        fmts = fmt if isinstance(fmt, list) else [fmt]
        zoned = {isinstance(f, str) and ("%z" in f or "%#z" in f) for f in fmts}
        if len(zoned) > 1:
            raise KpiError(
                f"{name}: formats.{col} mixes formats with and without a UTC offset (%z); "
                "one column is either zoned or local time"
            )
        for f in fmts:
            if not isinstance(f, str) or not (f in _TS_SPECIAL or "%" in f):
                raise KpiError(
                    f"{name}: formats.{col} = {f!r}: give a strftime format such as "
                    f'"%d/%m/%Y %H:%M:%S", a list of them, or one of {", ".join(_TS_SPECIAL)}'
                )
    elif column.unit == "s":
        if fmt not in DURATION_FORMATS:
            raise KpiError(
                f"{name}: formats.{col} = {fmt!r} is not a duration format; valid: "
                + ", ".join(DURATION_FORMATS)
            )
    else:
        raise KpiError(f"{name}: formats.{col}: only time and duration columns take a format")


def _check_constant(name: str, key: str, table: str, col: str, value: Any) -> None:
    column = TABLES[table].column(col)
    dtype = column.dtype
    if dtype == pl.Boolean:
        ok = isinstance(value, bool)
    elif dtype in (pl.Float64, pl.Int64):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif dtype == TS:
        ok = False
    else:
        ok = isinstance(value, str)
    if not ok:
        kind = {pl.Boolean: "true or false", pl.Float64: "a number", pl.Int64: "a whole number"}
        raise KpiError(
            f"{name}: {key}.{col} = {value!r}: expected "
            + (kind.get(dtype, "a string") if dtype != TS else "no constant (time stamps vary)")
        )
    if column.unit == "s" and ok and not abs(value) <= MAX_SECONDS:
        raise KpiError(f"{name}: {key}.{col} = {value!r}: seconds must be at most {MAX_SECONDS:g}")
    if col == "outcome" and value not in OUTCOMES:
        raise KpiError(f"{name}: {key}.outcome = {value!r}; valid: {', '.join(OUTCOMES)}")


# ------------------------------------------------------------------------------- conversion


@dataclass
class Staged:
    """A converted table before writing: rows loaded and rows rejected (with reasons)."""

    table: str
    frame: pl.DataFrame
    rejected: pl.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def rejected_frame(rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """An empty (or normalised) rejected-rows frame: ``__row``, ``reason``, ``detail``."""
    schema = {ROW: pl.Int64, "reason": pl.String, "detail": pl.String}
    if rows is None:
        return pl.DataFrame(schema=schema)
    return rows.select(
        pl.col(ROW).cast(pl.Int64), pl.col("reason"), pl.col("detail").cast(pl.String)
    )


# Essential columns per table: without them the table is useless, so a missing one is an error.
_ESSENTIAL = {
    "contacts": ("arrival_ts", "queue"),
    "tickets": ("ticket_id", "created_ts"),
    "intervals": ("interval_start", "queue", "offered", "answered", "abandoned"),
}


def _resolve(source: Source, m: Mapping, report: ImportReport) -> dict[str, list[str]]:
    cols = source.columns
    exact = set(cols)
    by_norm: dict[str, str] = {}
    for c in cols:
        by_norm.setdefault(norm(c), c)
    resolved: dict[str, list[str]] = {}
    matched_loosely = {}

    def find(name: str, key: str) -> str:
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
    from kpi.io._presets import TABLE_PRESETS, preset_mapping

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


def convert_mapped(
    source: Source,
    m: Mapping,
    *,
    tz: str,
    report: ImportReport,
    threshold_s: float | None = None,
    short_abandon_s: float | None = None,
    interval_s: float | None = None,
) -> Staged:
    """Convert a read source file into a canonical table with a mapping.

    Parameters
    ----------
    source
        From :func:`kpi.io.read_source`.
    m
        The mapping (a preset's or the user's).
    tz
        Site time zone for naive times.
    report
        Filled with what was inferred, assumed, repaired and rejected (rejections are counted
        by the caller).
    threshold_s, short_abandon_s, interval_s
        Interval reports: the SL threshold and short-abandon threshold the report used, and the
        interval length when the file has no such column.

    Returns
    -------
    Staged
        The canonical table (plus extras and ``__row``) and the rejected rows with reasons.
    """
    table = TABLES[m.table]
    resolved = _resolve(source, m, report)
    frame = source.frame
    if report.preset and any(col in resolved for col in m.aliases):
        report.inferred["columns"] = {
            col: " + ".join(src) for col, src in resolved.items() if col not in m.columns
        }
    # interval thresholds carried in column names (answered_within_20s)
    if m.table == "intervals":
        resolved, threshold_s, short_abandon_s = _interval_threshold_columns(
            source, resolved, m, report, threshold_s, short_abandon_s
        )
    present = set(resolved) | set(m.defaults)
    derivable = _derivable(m.table, present)
    for col in _ESSENTIAL[m.table]:
        if col not in present and col not in derivable:
            raise missing_column_error(source, m, col)
    # stage 1: each mapped column parsed once (time stamps still naive where the source is)
    parse_exprs: list[pl.Expr] = []
    checks: list[tuple[str, str, int]] = []  # (reason, canonical column, raw index)
    labels: list[str] = []
    naive: list[str] = []
    for i, (col, srcs) in enumerate(resolved.items()):
        column = table.column(col)
        for src in srcs:
            check_scalar(source, src, f"columns.{col}")
        raw = _apply_value_map(_source_expr(frame, srcs), m.values.get(col), frame, srcs)
        labels.append(" + ".join(repr(s) for s in srcs))
        if column.dtype == TS:
            value, aware = _ts_expr(frame, raw, srcs, col, m, report, tz)
            if aware:
                value = value.dt.convert_time_zone(tz).dt.cast_time_unit("us")
            else:
                naive.append(col)
        elif col == "outcome":
            value = _enum_expr(raw, OUTCOME_SYNONYMS)
        elif col == "status" and m.table == "tickets":
            value = _enum_expr(raw, STATUS_SYNONYMS)
        else:
            value = _typed_expr(raw, column, col, m, frame, srcs)
        parse_exprs += [raw.cast(pl.String).alias(f"__raw{i}"), value.alias(col)]
        if col == "outcome":
            reason = "unknown outcome value"
        elif col == "status" and m.table == "tickets":
            reason = "unknown status value"
        else:
            reason = f"unparseable {col}"
        checks.append((reason, col, i))
    parsed = frame.lazy().select(pl.col(ROW), *parse_exprs).collect()
    # stage 2: naive local times get the site time zone (DST rule in kpi.io._parse.localize)
    local = []
    for col in naive:
        aware, gap, fold = localize(pl.col(col), tz)
        local += [aware.alias(col), gap.alias(f"__gap_{col}"), fold.alias(f"__fold_{col}")]
    if local:
        parsed = parsed.with_columns(local)
    # rows with unparseable values
    rejected = rejected_frame()
    if checks:
        err = [pl.col(f"__raw{i}").is_not_null() & pl.col(c).is_null() for _, c, i in checks]
        reason_list = pl.concat_list(
            [pl.when(e).then(pl.lit(r)) for e, (r, _, _) in zip(err, checks, strict=True)]
        ).list.drop_nulls()
        detail_list = pl.concat_list(
            [
                pl.when(e).then(pl.format("{} = '{}'", pl.lit(labels[i]), pl.col(f"__raw{i}")))
                for e, (_, _, i) in zip(err, checks, strict=True)
            ]
        ).list.drop_nulls()
        bad = parsed.filter(
            pl.any_horizontal(err)
        ).select(  # reasons are spelled out for bad rows only
            pl.col(ROW),
            reason_list.list.first().alias("reason"),
            detail_list.list.join("; ").alias("detail"),
        )
        rejected = rejected_frame(bad)
    parsed = parsed.join(rejected.select(ROW), on=ROW, how="anti", maintain_order="left")
    for col in naive:
        gaps = int(parsed[f"__gap_{col}"].sum() or 0)
        folds = int(parsed[f"__fold_{col}"].sum() or 0)
        if gaps or folds:
            report.inferred.setdefault("daylight-saving changes", {})[col] = (
                f"{gaps} non-existent time(s) read with the offset before the change, "
                f"{folds} ambiguous time(s) read as the first occurrence"
            )
    staged = parsed.select(pl.col(ROW), *resolved)
    # defaults, fill_null
    for col, value in m.defaults.items():
        if col not in resolved:
            staged = staged.with_columns(
                pl.lit(value, dtype=table.column(col).polars_dtype(tz)).alias(col)
            )
            report.assumed.append(
                f"{col} = {value!r} for every row (defaults.{col}; not in the source)"
            )
    filled = []
    for col, value in m.fill_null.items():
        if col in staged.columns and staged[col].null_count():
            staged = staged.with_columns(
                pl.col(col).is_null().alias(f"__fill_{col}"), pl.col(col).fill_null(value)
            )
            filled.append((col, value))
    # extras
    extras = _extra_columns(source, m, resolved)
    if extras:
        staged = staged.join(
            frame.select(pl.col(ROW), *[pl.col(src).alias(new) for new, src in extras.items()]),
            on=ROW,
            how="left",
        )
    meta: dict[str, Any] = {}
    if m.table == "contacts":
        staged = _derive_contacts(staged, present, report, source)
    elif m.table == "tickets":
        staged = _derive_tickets(staged, present, report)
    else:
        staged, meta = _derive_intervals(
            staged, present, report, source, m, threshold_s, short_abandon_s, interval_s
        )
    staged = _fill_absent(staged, m.table, tz, report)
    passed, failed = check_rows(m.table, staged, row=ROW)
    rejected = pl.concat([rejected, rejected_frame(failed)])
    passed, dups = drop_duplicates(passed, m.table)
    rejected = pl.concat([rejected, dups])
    for col, value in filled:  # counted on the rows loaded
        report.repair(f"null {col}", f"set to {value!r}", int(passed[f"__fill_{col}"].sum()))
        passed = passed.drop(f"__fill_{col}")
    if m.table == "tickets":
        n_open = passed["solved_ts"].null_count()
        report.inferred["open tickets (no solve/close time, kept)"] = n_open
    return Staged(m.table, passed, rejected, meta)


def check_scalar(source: Source, name: str, key: str) -> None:
    """Refuse source columns holding lists, structs, binary data or Python objects."""
    dtype = source.frame.schema[name]
    if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        raise KpiError(
            f"{source.path}: column {name!r} (used by {key}) holds {dtype} values, not single "
            "values; flatten it before importing"
        )


def _source_expr(frame: pl.DataFrame, srcs: list[str]) -> pl.Expr:
    if len(srcs) == 1:
        return pl.col(srcs[0])
    return pl.concat_str(
        [pl.col(s).cast(pl.String).str.strip_chars() for s in srcs], separator=" "
    )


def _apply_value_map(
    raw: pl.Expr, vmap: dict[str, Any] | None, frame: pl.DataFrame, srcs: list[str]
) -> pl.Expr:
    if not vmap:
        return raw
    text = raw.cast(pl.String).str.strip_chars()
    as_text = {k: _const_text(v) for k, v in vmap.items()}
    lower = {k.lower(): v for k, v in as_text.items()}
    exact = text.replace_strict(as_text, default=None, return_dtype=pl.String)
    loose = text.str.to_lowercase().replace_strict(lower, default=None, return_dtype=pl.String)
    return pl.coalesce(exact, loose, text)


def _const_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _enum_expr(raw: pl.Expr, synonyms: dict[str, str]) -> pl.Expr:
    text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
    valid = {**synonyms}
    return text.replace_strict(valid, default=None, return_dtype=pl.String)


def _ts_expr(
    frame: pl.DataFrame,
    raw: pl.Expr,
    srcs: list[str],
    col: str,
    m: Mapping,
    report: ImportReport,
    tz: str,
) -> tuple[pl.Expr, bool]:
    """(expression, is_aware) for a time-stamp column."""
    what = f"column {' + '.join(repr(s) for s in srcs)} ({col})"
    key = f"formats.{col}"
    dtype = frame.select(raw).dtypes[0]
    fmt = m.formats.get(col)
    formats_used = report.inferred.setdefault("time formats", {})
    if isinstance(dtype, pl.Datetime):
        formats_used[col] = "stored as date-time" + (
            f" ({dtype.time_zone})" if dtype.time_zone else ""
        )
        if dtype.time_zone:
            return raw, True
        return raw.dt.cast_time_unit("us"), False
    if dtype == pl.Date:
        formats_used[col] = "dates without times: midnight of the site time zone"
        return raw.cast(pl.Datetime("us")), False
    if fmt in ("epoch_s", "epoch_ms"):
        unit = "s" if fmt == "epoch_s" else "ms"
        num = raw.cast(pl.Float64, strict=False) if dtype == pl.String else raw.cast(pl.Float64)
        formats_used[col] = f"Unix time ({unit})"
        factor = 1_000_000 if unit == "s" else 1_000
        micros = pl.when(num.abs() < 4e9).then(num * factor).cast(pl.Int64, strict=False)
        return within_years(micros.cast(pl.Datetime("us", "UTC"))), True
    if dtype.is_numeric():
        raise KpiError(
            f'{what} holds numbers, not times; if they are Unix times set {key} = "epoch_s" '
            '(or "epoch_ms")'
        )
    text = raw.cast(pl.String).str.strip_chars()
    if fmt is None or fmt == "auto":
        values = frame.select(text.alias("v"))["v"]
        family, fmts, aware = detect_ts_formats(values, what=what, key=key)
        formats_used[col] = family
    else:
        fmts = tuple(fmt) if isinstance(fmt, list) else (fmt,)
        aware = any("%z" in f or "%#z" in f for f in fmts)
        formats_used[col] = " or ".join(fmts)
    if aware:
        return parse_ts(text, fmts), True
    return parse_ts(text, fmts), False


def _typed_expr(
    raw: pl.Expr, column: Any, col: str, m: Mapping, frame: pl.DataFrame, srcs: list[str]
) -> pl.Expr:
    dtype = frame.select(raw).dtypes[0]
    target = column.dtype
    if target == pl.String:
        if dtype == pl.String:
            return raw.str.strip_chars().replace("", None)
        if dtype.is_float():
            return (
                pl.when(raw == raw.round(0))
                .then(raw.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(raw.cast(pl.String))
            )
        return raw.cast(pl.String, strict=False)
    if target == pl.Boolean:
        if dtype == pl.Boolean:
            return raw
        if dtype.is_numeric():
            return raw != 0
        return parse_bool(raw.cast(pl.String))
    if target == pl.Int64:
        if dtype.is_integer():
            return raw.cast(pl.Int64)
        if dtype.is_float():
            return pl.when(raw == raw.round(0)).then(raw.cast(pl.Int64, strict=False))
        return parse_int(raw.cast(pl.String))
    if target == pl.Float64 and column.unit == "s":
        fmt = str(m.formats.get(col, "auto"))
        unit = DURATION_FORMATS[fmt][0]
        if isinstance(dtype, pl.Duration):
            return sane_seconds(raw.dt.total_microseconds().cast(pl.Float64) / 1e6)
        if dtype == pl.Time:
            return (raw.cast(pl.Int64) / 1e9).cast(pl.Float64)
        if dtype.is_numeric():
            return sane_seconds(raw.cast(pl.Float64) * unit)
        return parse_duration(raw.cast(pl.String), fmt)
    if target == pl.Float64:
        if dtype.is_numeric():
            return raw.cast(pl.Float64)
        s = raw.cast(pl.String).str.strip_chars().str.replace_all(r"[\s$€£]", "")
        return pl.when(s.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")).then(
            s.cast(pl.Float64, strict=False)
        )
    return raw.cast(target, strict=False)


def _extra_columns(source: Source, m: Mapping, resolved: dict[str, list[str]]) -> dict[str, str]:
    extras: dict[str, str] = {}
    canon = set(TABLES[m.table].names)
    for new, src in m.extra.items():
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


def _derivable(table: str, present: set[str]) -> set[str]:
    out: set[str] = set()
    if table == "contacts":
        if present & {"answer_ts", "talk_s", "agent_id"}:
            out.add("outcome")
        if "answer_ts" in present or "wait_s" in present:
            out.add("wait_s")
        if "contact_id" not in present:
            out.add("contact_id")
    elif table == "tickets":
        out.add("status")
    elif table == "intervals":
        out.add("interval_s")
    return out


def _seconds(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Seconds from b to a."""
    return (a - b).dt.total_microseconds().cast(pl.Float64) / 1e6


def _derive_contacts(
    df: pl.DataFrame, present: set[str], report: ImportReport, source: Source
) -> pl.DataFrame:
    cols = set(df.columns)

    def have(c: str) -> bool:
        return c in cols

    if not have("contact_id"):
        stem = source.path.stem
        df = df.with_columns(pl.format("{}-{}", pl.lit(stem), pl.col(ROW)).alias("contact_id"))
        report.assumed.append(
            f"contact_id = '<file name>-<row>' (e.g. '{stem}-2'): the source has no contact id"
        )
        cols.add("contact_id")
    if not have("outcome"):
        if have("answer_ts"):
            answered = pl.col("answer_ts").is_not_null()
            basis = "answer_ts present"
        elif have("talk_s"):
            answered = pl.col("talk_s").fill_null(0) > 0
            basis = "talk_s > 0"
        elif have("agent_id"):
            answered = pl.col("agent_id").is_not_null()
            basis = "agent_id present"
        else:
            raise KpiError(
                f"{source.path}: no outcome column and nothing to infer it from (answer time, "
                "talk time or agent); set columns.outcome and a [values.outcome] map"
            )
        df = df.with_columns(
            pl.when(answered)
            .then(pl.lit("answered"))
            .otherwise(pl.lit("abandoned_queue"))
            .alias("outcome")
        )
        report.assumed.append(
            f"outcome = answered when {basis}, else abandoned_queue (the source has no outcome)"
        )
        cols.add("outcome")
    answered = pl.col("outcome") == "answered"
    queued = pl.col("outcome").is_in(["answered", "abandoned_queue", "flowout"])
    if not have("ivr_s"):
        if have("queue_ts"):
            df = df.with_columns(
                _seconds(pl.col("queue_ts"), pl.col("arrival_ts"))
                .clip(lower_bound=0)
                .alias("ivr_s")
            )
            report.assumed.append("ivr_s = queue_ts - arrival_ts (no IVR time column)")
        else:
            df = df.with_columns(pl.lit(0.0).alias("ivr_s"))
            report.assumed.append("ivr_s = 0 (no IVR time in the source; arrival = queue entry)")
        cols.add("ivr_s")
    if not have("queue_ts"):
        df = df.with_columns(
            pl.when(queued)
            .then(
                pl.col("arrival_ts")
                + pl.duration(microseconds=(pl.col("ivr_s").fill_null(0) * 1e6).cast(pl.Int64))
            )
            .alias("queue_ts")
        )
        report.assumed.append("queue_ts = arrival_ts + ivr_s for contacts that reached a queue")
        cols.add("queue_ts")
    if not have("wait_s"):
        if not have("answer_ts"):
            raise KpiError(
                f"{source.path}: missing required column 'wait_s' (seconds waiting in queue) and "
                "no answer time to derive it from; set columns.wait_s or columns.answer_ts"
            )
        wait_end = pl.when(answered).then(pl.col("answer_ts"))
        if have("end_ts"):
            wait_end = wait_end.when(pl.col("outcome").is_in(["abandoned_queue", "flowout"])).then(
                pl.col("end_ts")
            )
        df = df.with_columns(_seconds(wait_end, pl.col("queue_ts")).alias("wait_s"))
        report.assumed.append("wait_s = answer_ts (or end_ts if not answered) - queue_ts")
        cols.add("wait_s")
    if not have("answer_ts"):
        df = df.with_columns(
            pl.when(answered)
            .then(
                pl.col("queue_ts")
                + pl.duration(microseconds=(pl.col("wait_s") * 1e6).cast(pl.Int64))
            )
            .alias("answer_ts")
        )
        report.assumed.append("answer_ts = queue_ts + wait_s for answered contacts")
        cols.add("answer_ts")
    for c in ("hold_s", "acw_s"):
        if not have(c):
            df = df.with_columns(pl.lit(0.0).alias(c))
            report.assumed.append(
                f"{c} = 0 (not in the source; AHT counts talk and what is given)"
            )
            cols.add(c)
    if not have("talk_s"):
        if not have("end_ts"):
            raise KpiError(
                f"{source.path}: missing required column 'talk_s' (talk seconds) and no end time "
                "to derive it from; set columns.talk_s or columns.end_ts"
            )
        df = df.with_columns(
            pl.when(answered)
            .then(
                (_seconds(pl.col("end_ts"), pl.col("answer_ts")) - pl.col("hold_s")).clip(
                    lower_bound=0
                )
            )
            .otherwise(0.0)
            .alias("talk_s")
        )
        report.assumed.append("talk_s = end_ts - answer_ts - hold_s for answered contacts")
        cols.add("talk_s")
    else:
        n = df.filter(~answered & pl.col("talk_s").is_null()).height
        df = df.with_columns(
            pl.when(~answered).then(pl.col("talk_s").fill_null(0.0)).otherwise(pl.col("talk_s"))
        )
        if n:
            report.inferred["talk_s of unanswered contacts"] = f"{n} empty values read as 0"
    if not have("end_ts"):
        us = lambda e: pl.duration(microseconds=(e.fill_null(0) * 1e6).cast(pl.Int64))  # noqa: E731
        df = df.with_columns(
            pl.when(answered)
            .then(pl.col("answer_ts") + us(pl.col("talk_s") + pl.col("hold_s")))
            .when(pl.col("outcome").is_in(["abandoned_queue", "flowout"]))
            .then(pl.col("queue_ts") + us(pl.col("wait_s")))
            .otherwise(pl.col("arrival_ts") + us(pl.col("ivr_s")))
            .alias("end_ts")
        )
        report.assumed.append(
            "end_ts = answer + talk + hold (answered), queue entry + wait (abandoned)"
        )
    for c, v in (("channel", "voice"), ("direction", "inbound")):
        if not have(c):
            df = df.with_columns(pl.lit(v).alias(c))
            report.assumed.append(f"{c} = {v!r} (not in the source)")
    return df


def _derive_tickets(df: pl.DataFrame, present: set[str], report: ImportReport) -> pl.DataFrame:
    cols = set(df.columns)
    if "solved_ts" not in cols and "closed_ts" in cols:
        df = df.with_columns(pl.col("closed_ts").alias("solved_ts"))
        report.assumed.append("solved_ts = closed_ts (the source has only a close time)")
    if "status" not in cols:
        solved = pl.col("solved_ts").is_not_null() if "solved_ts" in df.columns else pl.lit(False)
        closed = pl.col("closed_ts").is_not_null() if "closed_ts" in df.columns else pl.lit(False)
        df = df.with_columns(
            pl.when(closed)
            .then(pl.lit("closed"))
            .when(solved)
            .then(pl.lit("solved"))
            .otherwise(pl.lit("open"))
            .alias("status")
        )
        report.assumed.append("status = closed / solved / open from the close and solve times")
    return df


_WITHIN = re.compile(
    r"^(?:answered|answers|ans|calls_answered|handled)_(?:within|in|under|lt|le|before)_?(\d+(?:\.\d+)?)_?s(?:ec|ecs|econds)?$"
)
_ABAND_WITHIN = re.compile(
    r"^(?:abandoned|abandons|aband|abn)_(?:within|in|under|lt|le|before)_?(\d+(?:\.\d+)?)_?s(?:ec|ecs|econds)?$"
)
_SHORT = re.compile(
    r"^short_?(?:abandoned|abandons|abandon|aband|abn)(?:_(?:within|in|under|lt|le))?(?:_?(\d+(?:\.\d+)?)_?s(?:ec|ecs|econds)?)?$"
)


def _interval_threshold_columns(
    source: Source,
    resolved: dict[str, list[str]],
    m: Mapping,
    report: ImportReport,
    threshold_s: float | None,
    short_abandon_s: float | None,
) -> tuple[dict[str, list[str]], float | None, float | None]:
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


def _derive_intervals(
    df: pl.DataFrame,
    present: set[str],
    report: ImportReport,
    source: Source,
    m: Mapping,
    threshold_s: float | None,
    short_abandon_s: float | None,
    interval_s: float | None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    meta: dict[str, Any] = {}
    if "interval_s" not in df.columns:
        if interval_s is None:
            gaps = (
                df.select("queue", "interval_start")
                .unique()
                .sort("queue", "interval_start")
                .select(
                    _seconds(pl.col("interval_start"), pl.col("interval_start").shift(1))
                    .over("queue")
                    .alias("gap")
                )
                .filter(pl.col("gap") > 0)
            )
            if gaps.height == 0:
                raise missing_column_error(
                    source,
                    m,
                    "interval_s",
                    why="and the spacing of interval starts cannot tell it (one interval per queue)",
                    also=("interval_min", "interval_minutes", "length"),
                )
            interval_s = float(gaps["gap"].mode().min())
            report.assumed.append(
                f"interval_s = {interval_s:g} (the most common spacing of interval starts)"
            )
        else:
            report.assumed.append(f"interval_s = {interval_s:g} (given)")
        df = df.with_columns(pl.lit(float(interval_s)).alias("interval_s"))
    for c in ("hold_s", "acw_s"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(0.0).alias(c))
            report.assumed.append(f"{c} = 0 (not in the report)")
    if "answered_within_threshold" in df.columns:
        meta["interval_threshold_s"] = threshold_s
    else:
        report.warnings.append(
            "no answered-within-threshold column: service level cannot be computed from this report"
        )
    if short_abandon_s is not None:
        meta["interval_short_abandon_s"] = short_abandon_s
    flow = pl.col("flowout").fill_null(0) if "flowout" in df.columns else pl.lit(0)
    over = df.filter(pl.col("answered") + pl.col("abandoned") + flow > pl.col("offered")).height
    if over:
        report.warnings.append(
            f"{over} interval(s) with answered + abandoned (+ flow-out) above offered: the report "
            "counts these differently (kept as given)"
        )
    for c in ("talk_s", "wait_answered_s"):
        if c not in df.columns:
            report.warnings.append(f"{c} not in the report: KPIs needing it will be null")
    return df, meta


def _fill_absent(df: pl.DataFrame, table: str, tz: str, report: ImportReport) -> pl.DataFrame:
    """Add canonical columns the source lacks as nulls and say so."""
    missing = [c for c in TABLES[table].names if c not in df.columns]
    if missing:
        report.inferred["not in the source (left null)"] = missing
        df = df.with_columns(
            pl.lit(None, dtype=TABLES[table].column(c).polars_dtype(tz)).alias(c) for c in missing
        )
    return df


def drop_duplicates(frame: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep one row per key: the one with the most non-null values, the first in the file on ties.

    Returns
    -------
    tuple of pl.DataFrame
        ``(kept, rejected)``; rejected rows have reason ``duplicate <key>`` and a detail naming
        the kept row.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {"__row": [2, 3, 4], "ticket_id": ["a", "a", "b"], "team": [None, "x", "y"]}
    ... )
    >>> kept, dup = drop_duplicates(df, "tickets")
    >>> kept["__row"].to_list(), dup.rows()
    ([3, 4], [(2, 'duplicate ticket_id', 'same ticket_id as row 3 (kept: more complete)')])
    """
    key = list(KEYS[table])
    key = [k for k in key if k in frame.columns]
    if not key or frame.height == 0:
        return frame, rejected_frame()
    canon = [c for c in frame.columns if c != ROW]
    dup_mask = frame.select(pl.struct(key).is_duplicated()).to_series()
    if not dup_mask.any():
        return frame, rejected_frame()
    score = pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in canon])
    ranked = frame.with_columns(score.alias("__score")).sort(
        ["__score", ROW], descending=[True, False]
    )
    kept_keys = ranked.unique(subset=key, keep="first", maintain_order=True)
    kept = frame.join(kept_keys.select(ROW), on=ROW, how="semi", maintain_order="left")
    dups = frame.join(kept_keys.select(ROW), on=ROW, how="anti", maintain_order="left")
    label = " + ".join(key)
    rej = (
        dups.select(ROW, *key)
        .join(
            kept_keys.select(*key, ROW, "__score").rename({ROW: "__kept", "__score": "__kscore"}),
            on=key,
            how="left",
            nulls_equal=True,
        )
        .join(ranked.select(ROW, "__score"), on=ROW, how="left")
    )
    rej = rej.select(
        pl.col(ROW),
        pl.lit(f"duplicate {label}").alias("reason"),
        pl.format(
            "same {} as row {} (kept: {})",
            pl.lit(label),
            pl.col("__kept"),
            pl.when(pl.col("__kscore") > pl.col("__score"))
            .then(pl.lit("more complete"))
            .otherwise(pl.lit("first in the file")),
        ).alias("detail"),
    ).sort(ROW)
    return kept, rejected_frame(rej)
