"""Column mappings, the spec: which source column feeds each canonical column, and how to read it.

A :class:`Mapping` names, for each canonical column, the source column(s) it comes from, how
to read times and durations, value maps, defaults for columns the export lacks, and the site
time zone. :func:`load_mapping` reads one from TOML (``--mapping FILE.toml``) and checks it.
The presets ``contacts``, ``tickets`` and ``interval`` (:mod:`kpi.io._presets`) are mappings
that look for common column names instead of fixed ones; :mod:`kpi.io._convert` applies a
mapping to a file. ``docs/importing.md`` documents the format.
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
from kpi.io._parse import DURATION_FORMATS, MAX_SECONDS, check_timezone
from kpi.schema import OUTCOMES, TABLES, TS

__all__ = [
    "AVERAGED",
    "IMPORTABLE",
    "KEYS",
    "SCALES",
    "STATE_TARGETS",
    "SURVEY_SHARED",
    "Mapping",
    "load_mapping",
    "norm",
]

#: Tables an import can write.
IMPORTABLE = ("contacts", "tickets", "intervals", "surveys", "qa_evaluations", "agent_time")

#: Columns a contacts mapping's ``[surveys]`` section carries over from each contact.
SURVEY_SHARED = ("contact_id", "agent_id", "queue", "team", "topic", "channel")

#: Interval-report columns a mapping may give as an average (``[averages]``), and the count
#: each is an average over: the total is the average times that count.
AVERAGED = {
    "talk_s": "answered",
    "hold_s": "answered",
    "acw_s": "answered",
    "wait_answered_s": "answered",
    "wait_abandoned_s": "abandoned",
    "wait_flowout_s": "flowout",
}

#: Where the time of each state of an agent-state log (``[states.seconds]``) goes: an agent_time
#: state column, ``logged_in`` (logged in, in no other column: counted in logged_in_s only) or
#: ``logged_out`` (not counted).
STATE_TARGETS = (
    "handle_s",
    "acw_s",
    "available_s",
    "break_s",
    "training_s",
    "meeting_s",
    "absence_s",
    "logged_in",
    "logged_out",
)
_STATE_KEYS = ("state", "start", "end", "duration", "interval_min", "seconds")

#: Survey scales the CSAT variants know (``csat.scale_max``).
SCALES = (5, 10)

#: Columns identifying a row; rows repeating a key are duplicates.
KEYS: dict[str, tuple[str, ...]] = {
    "contacts": ("contact_id",),
    "tickets": ("ticket_id",),
    "intervals": ("queue", "channel", "interval_start"),
    "surveys": ("contact_id", "survey_ts"),
    "qa_evaluations": ("evaluation_id",),
    "agent_time": ("agent_id", "interval_start"),
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
    "max_quarantine_share",
    "scale_max",
    "assume_local",
    "surveys",
    "averages",
    "states",
    "after",
)
_READ_KEYS = ("format", "delimiter", "encoding", "sheet", "skip_rows", "null_values", "decimal")
_TS_SPECIAL = ("auto", "epoch_s", "epoch_ms", "excel_serial")


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
    max_quarantine_share
        Refuse an import quarantining more than this share of its rows (``--max-quarantine-share``
        overrides; 0.05 when neither says).
    surveys
        A contacts mapping's ``[surveys]`` section: surveys column -> source column (``csat``,
        ``nps``, ``ces``, ``survey_ts``), written to the ``surveys`` table beside the contacts.
    scale_max
        The CSAT scale's top (5 or 10), from ``scale_max`` (table = "surveys") or
        ``surveys.scale_max``; written to ``dataset.json`` as ``csat_scale_max``.
    averages
        Interval reports: canonical total column -> the count its source column is an average
        over (``[averages] talk_s = "Avg Talk"``: talk_s = Avg Talk x answered).
    after
        Time column -> ``{"from": time column, "add": source column, "unit": duration
        format}``: a time given as an elapsed time since another (``[after]``, e.g. a first
        reply "in minutes" after creation).
    states
        ``table = "agent_time"`` from an agent-state log (``[states]``): ``state``, ``start``,
        ``end`` or ``duration`` (source columns), ``interval_min`` and ``seconds`` (state
        value -> one of :data:`STATE_TARGETS`).
    assume_local
        Time stamps written with ``Z`` or an offset hold the site's local clock: the offset is
        dropped and the time read as local (some exports stamp every time ``Z``).
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
    max_quarantine_share: float | None = None
    surveys: dict[str, str | list[str]] = field(default_factory=dict)
    scale_max: int | None = None
    assume_local: bool = False
    averages: dict[str, str] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)
    after: dict[str, dict[str, str]] = field(default_factory=dict)


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
    kpi.errors.KpiError: mapping: table = 'calls' is not importable; valid: contacts, tickets, intervals, surveys, qa_evaluations, agent_time
    """
    raw, name = _read_spec(spec)
    spec_ = _Spec(raw, name, _check_top(raw, name))
    m = Mapping(table=spec_.table, name=name)
    _load_sources(m, spec_)
    _load_averages(m, spec_)
    _load_after(m, spec_)
    _load_rules(m, spec_)
    if "timezone" in raw:
        m.timezone = check_timezone(str(raw["timezone"]))
    for key in ("interval_threshold_s", "interval_short_abandon_s"):
        if key in raw:
            if spec_.table != "intervals":
                raise KpiError(f'{name}: {key} applies to table = "intervals" only')
            value = raw[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise KpiError(f"{name}: {key} must be a number of seconds >= 0, got {value!r}")
            setattr(m, key, float(value))
    m.keep_unmapped = bool(raw.get("keep_unmapped", False))
    if "assume_local" in raw:
        if not isinstance(raw["assume_local"], bool):
            raise KpiError(f"{name}: assume_local must be true or false")
        m.assume_local = raw["assume_local"]
    _load_surveys(m, spec_)
    _load_states(m, spec_)
    if "max_quarantine_share" in raw:
        share = raw["max_quarantine_share"]
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share <= 1:
            raise KpiError(
                f"{name}: max_quarantine_share must be a number in [0, 1], got {share!r}"
            )
        m.max_quarantine_share = float(share)
    return m


def _read_spec(spec: str | Path | AbcMapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The raw dictionary of a mapping and its name for messages (the file, or ``mapping``)."""
    if isinstance(spec, AbcMapping):
        return dict(spec), "mapping"
    path = Path(spec)
    if not path.exists():
        raise KpiError(f"mapping file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise KpiError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise KpiError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:  # a directory, no permission, an I/O error
        raise KpiError(f"mapping file {path}: cannot read ({exc.strerror or exc})") from None
    return raw, str(path)


def _check_top(raw: dict[str, Any], name: str) -> str:
    """Refuse unknown top-level keys; return the (importable) table."""
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
    return table


@dataclass
class _Spec:
    """A raw mapping being checked: its sections, and the canonical columns they may name."""

    raw: dict[str, Any]
    name: str
    table: str

    def section(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key, {})
        if not isinstance(value, dict):
            raise KpiError(f"{self.name}: [{key}] must be a table of key = value pairs")
        return value

    def check_canon(self, key: str, col: str) -> None:
        canon = TABLES[self.table].names
        if col in canon:
            return
        raise KpiError(
            f"{self.name}: {key}.{col}: {col!r} is not a column of "
            f"{self.table}{_suggest(col, canon)}; columns: {', '.join(canon)}"
        )


def _load_sources(m: Mapping, spec: _Spec) -> None:
    """``[read]``, ``[columns]`` and ``[extra]``: where the values come from."""
    name, canon = spec.name, TABLES[spec.table].names
    for key in spec.section("read"):
        if key not in _READ_KEYS:
            raise KpiError(f"{name}: unknown key read.{key}{_suggest(key, _READ_KEYS)}")
    m.read = spec.section("read")
    for col, src in spec.section("columns").items():
        spec.check_canon("columns", col)
        ok = (isinstance(src, str) and src) or (
            isinstance(src, list) and src and all(isinstance(s, str) for s in src)
        )
        if not ok:
            raise KpiError(
                f"{name}: columns.{col} must be a source column name or a list of names"
            )
        m.columns[col] = src
    for new, src in spec.section("extra").items():
        if not isinstance(src, str):
            raise KpiError(f"{name}: extra.{new} must be a source column name")
        if new in canon:
            raise KpiError(
                f"{name}: extra.{new}: {new!r} is a canonical column; use columns.{new}"
            )
        if new in ("source_row", "source_file") or new.startswith("__"):
            raise KpiError(f"{name}: extra.{new}: the name {new!r} is reserved; choose another")
        m.extra[new] = src


def _load_averages(m: Mapping, spec: _Spec) -> None:
    """``[averages]``: interval columns the report gives per contact, not summed."""
    name = spec.name
    for col, src in spec.section("averages").items():
        if spec.table != "intervals":
            raise KpiError(f'{name}: [averages] applies to table = "intervals" only')
        if col not in AVERAGED:
            raise KpiError(
                f"{name}: averages.{col}: not a column given as an average; "
                f"valid: {', '.join(AVERAGED)}"
            )
        if not isinstance(src, str) or not src:
            raise KpiError(f"{name}: averages.{col} must be a source column name")
        if col in m.columns:
            raise KpiError(f"{name}: {col} is in [columns] and in [averages]; keep one")
        per = AVERAGED[col]
        if per not in m.columns:
            raise KpiError(
                f"{name}: averages.{col} is an average per {per} contact: map columns.{per} "
                "too (the total is the average times it)"
            )
        m.columns[col] = src
        m.averages[col] = per


def _load_rules(m: Mapping, spec: _Spec) -> None:
    """``[formats]``, ``[values.*]``, ``[defaults]`` and ``[fill_null]``: how to read them."""
    name, table = spec.name, spec.table
    for col, fmt in spec.section("formats").items():
        spec.check_canon("formats", col)
        _check_format(name, table, col, fmt)
        m.formats[col] = fmt
    for col, vmap in spec.section("values").items():
        spec.check_canon("values", col)
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
        for col, value in spec.section(key).items():
            spec.check_canon(key, col)
            _check_constant(name, key, table, col, value)
            getattr(m, key)[col] = value


def _load_surveys(m: Mapping, spec: _Spec) -> None:
    """``scale_max`` (table = "surveys") and a contacts mapping's ``[surveys]`` section."""
    name, raw = spec.name, spec.raw
    section = spec.section("surveys")
    if section and spec.table != "contacts":
        raise KpiError(
            f'{name}: [surveys] belongs in a table = "contacts" mapping (it fills the surveys '
            'table from the same rows); for a survey export use table = "surveys"'
        )
    scale = None
    if "scale_max" in raw:
        if spec.table != "surveys":
            raise KpiError(
                f'{name}: scale_max applies to table = "surveys"; in a contacts mapping write it '
                "in [surveys]"
            )
        scale = raw["scale_max"]
    canon = TABLES["surveys"].names
    for col, src in section.items():
        if col == "scale_max":
            scale = src
            continue
        if col not in canon:
            raise KpiError(
                f"{name}: surveys.{col}: {col!r} is not a column of surveys"
                f"{_suggest(col, canon)}; columns: {', '.join(canon)}, or scale_max"
            )
        if col in SURVEY_SHARED:
            raise KpiError(
                f"{name}: surveys.{col}: {col} is carried over from the contact (set "
                f"columns.{col} for the contacts)"
            )
        if not (isinstance(src, str) and src):
            raise KpiError(f"{name}: surveys.{col} must be a source column name")
        m.surveys[col] = src
    if section and not (set(m.surveys) & {"csat", "nps", "ces"}):
        raise KpiError(
            f'{name}: [surveys] maps no score; set csat = "<source column>" (or nps, ces)'
        )
    if scale is not None:
        if scale not in SCALES or isinstance(scale, bool):
            raise KpiError(
                f"{name}: scale_max = {scale!r}: the CSAT scale is 1-5 or 1-10 (scale_max = 5 "
                "or 10)"
            )
        m.scale_max = int(scale)


def _load_after(m: Mapping, spec: _Spec) -> None:
    """``[after]``: a time column written as the time elapsed since another one."""
    name, table = spec.name, TABLES[spec.table]
    for col, given in spec.section("after").items():
        spec.check_canon("after", col)
        if table.column(col).dtype != TS:
            raise KpiError(f"{name}: after.{col}: {col} is not a time column")
        if not isinstance(given, dict) or not {"from", "add"} <= set(given):
            raise KpiError(
                f'{name}: after.{col} must be {{ from = "<time column>", add = "<source '
                'column>", unit = "minutes" }'
            )
        extra = set(given) - {"from", "add", "unit"}
        if extra:
            raise KpiError(f"{name}: after.{col}: unknown key {sorted(extra)[0]}")
        base, add, unit = given["from"], given["add"], given.get("unit", "auto")
        if base not in table.names or table.column(base).dtype != TS:
            raise KpiError(
                f"{name}: after.{col}.from = {base!r} is not a time column of {table.name}"
            )
        if base not in m.columns:
            raise KpiError(f"{name}: after.{col}.from = {base!r} must be mapped in [columns]")
        if not isinstance(add, str) or not add:
            raise KpiError(f"{name}: after.{col}.add must be a source column name")
        if unit not in DURATION_FORMATS:
            raise KpiError(
                f"{name}: after.{col}.unit = {unit!r}; valid: {', '.join(DURATION_FORMATS)}"
            )
        if col in m.columns:
            raise KpiError(f"{name}: {col} is in [columns] and in [after]; keep one")
        m.after[col] = {"from": base, "add": add, "unit": unit}


def _load_states(m: Mapping, spec: _Spec) -> None:
    """``[states]``: an agent-state log (one row per state) summed into agent_time intervals."""
    name, section = spec.name, spec.section("states")
    if not section:
        return
    if spec.table != "agent_time":
        raise KpiError(f'{name}: [states] applies to table = "agent_time" only')
    for key in section:
        if key not in _STATE_KEYS:
            raise KpiError(f"{name}: unknown key states.{key}{_suggest(key, _STATE_KEYS)}")
    for key in ("state", "start", "end", "duration"):
        src = section.get(key)
        if src is not None and not (isinstance(src, str) and src):
            raise KpiError(f"{name}: states.{key} must be a source column name")
    if "state" not in section or "start" not in section:
        raise KpiError(f'{name}: [states] needs state = "<state column>" and start = "<column>"')
    if ("end" in section) == ("duration" in section):
        raise KpiError(
            f'{name}: [states] needs one of end = "<end column>" or duration = "<column>"'
        )
    if "interval_s" in m.columns or "interval_start" in m.columns:
        raise KpiError(
            f"{name}: with [states] the intervals are cut from the log: drop columns."
            "interval_start and columns.interval_s (states.interval_min sets the length)"
        )
    minutes = section.get("interval_min", 30)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes:
        raise KpiError(f"{name}: states.interval_min must be a positive number of minutes")
    if 1440 % minutes:
        raise KpiError(f"{name}: states.interval_min = {minutes}: must divide a day (15, 30, 60)")
    seconds = section.get("seconds")
    if not isinstance(seconds, dict) or not seconds:
        raise KpiError(
            f'{name}: [states.seconds] must say where each state goes, e.g. "On Call" = '
            f'"handle_s"; targets: {", ".join(STATE_TARGETS)}'
        )
    for word, target in seconds.items():
        if target not in STATE_TARGETS:
            raise KpiError(
                f"{name}: states.seconds.{word!r} = {target!r}{_suggest(str(target), STATE_TARGETS)}"
                f"; targets: {', '.join(STATE_TARGETS)}"
            )
    m.states = {**section, "interval_min": float(minutes), "seconds": dict(seconds)}


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
