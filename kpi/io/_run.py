"""Running an import end to end: read, convert, account for every row, write the dataset."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpi._fs import Staging, settle_dir, staged_dir
from kpi._sanitize import csv_safe_frame
from kpi.data import Dataset, save
from kpi.errors import KpiError
from kpi.io._convert import Staged, as_text, convert_mapped, rejected_frame
from kpi.io._layout import HEADER_AGAIN, drop_totals, find_header
from kpi.io._mapping import KEYS, Mapping, load_mapping, norm
from kpi.io._parse import check_timezone
from kpi.io._presets import PRESET_TIMEZONES, preset_mapping
from kpi.io._read import ROW, Source, read_source
from kpi.io._report import ImportReport
from kpi.io._states import convert_states
from kpi.io._surveys import CARRIED, convert_surveys, survey_source
from kpi.io._technion import convert_technion
from kpi.schema import TABLES, conform

__all__ = ["PRESETS", "ImportResult", "import_file"]

#: Built-in presets: name -> what it reads.
PRESETS = {
    "technion": "Technion 'Anonymous Bank' call log (17 tab-separated fields) -> contacts",
    "tickets": "ticket log with created/closed dates or times, status, topic, team -> tickets",
    "interval": "ACD interval report (offered, answered, abandoned ... per queue) -> intervals",
    "contacts": "call log with common column names (or the canonical ones) -> contacts",
}

REPORT_FILE = "import_report.json"
QUARANTINE_DIR = "quarantine"
#: Where a refused import (too many rows quarantined) leaves its quarantine and report.
REFUSED_DIR = "refused"
#: Default of ``--max-quarantine-share``: an import setting aside more rows is refused.
MAX_QUARANTINE_SHARE = 0.05


@dataclass
class ImportResult:
    """The outcome of an import.

    Attributes
    ----------
    table
        Canonical table written (``contacts``, ``tickets`` or ``intervals``).
    frame
        The loaded rows in canonical order, plus extras, ``source_file`` and ``source_row``.
    quarantine
        Rows set aside: ``source_file``, ``source_row``, ``reason``, ``detail``, the source
        columns as text, and ``raw`` (the line, for records that could not be split).
    report
        The :class:`ImportReport`.
    meta
        Facts for ``dataset.json`` (thresholds of interval reports, the CSAT scale, source).
    also
        Further tables the same source fed (the ``surveys`` of a contacts mapping's
        ``[surveys]`` section), each with its own rows, quarantine and report.
    """

    table: str
    frame: pl.DataFrame
    quarantine: pl.DataFrame
    report: ImportReport
    meta: dict[str, Any] = field(default_factory=dict)
    also: list[ImportResult] = field(default_factory=list)


def _existing_meta(out: Path) -> dict[str, Any]:
    path = out / "dataset.json"
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise KpiError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError:
        raise KpiError(f"{path} is not valid JSON; fix or remove it") from None
    if not isinstance(doc, dict):
        raise KpiError(f"{path} is not a JSON object; fix or remove it")
    return doc


def import_file(
    path: str | os.PathLike,
    *,
    preset: str | None = None,
    mapping: str | os.PathLike | dict[str, Any] | Mapping | None = None,
    out: str | os.PathLike | None = None,
    tz: str | None = None,
    append: bool = False,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    skip_rows: int | None = None,
    threshold_s: float | None = None,
    short_abandon_s: float | None = None,
    interval_min: float | None = None,
    raw_csv: bool = False,
    max_quarantine_share: float | None = None,
) -> ImportResult:
    r"""Import a CSV/TSV, Parquet or Excel export into a canonical table (and write it).

    Parameters
    ----------
    path
        The export.
    preset
        One of :data:`PRESETS`; or give ``mapping``.
    mapping
        A mapping TOML file, its dictionary, or a :class:`Mapping`.
    out
        Dataset directory to write (``<table>.parquet``, ``dataset.json``,
        ``import_report.json``, ``quarantine/<table>.csv``); nothing is written if None.
    tz
        Site time zone of naive times; else the mapping's, the preset's default, or (with
        ``append``) the dataset's.
    append
        Add to the table already in ``out``; rows whose key (``contact_id``, ``ticket_id``, or
        queue + channel + interval start) is already there replace the old rows.
    delimiter, encoding, sheet, skip_rows
        Reader options (detected when omitted; see :func:`kpi.io.read_source`).
    threshold_s, short_abandon_s
        Interval reports: the service-level and short-abandon thresholds the report used.
    interval_min
        Interval reports without an interval-length column: the length in minutes.
    raw_csv
        Write ``quarantine/<table>.csv`` with the values as read; by default a text cell a
        spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR) gets a leading
        apostrophe (:func:`kpi._sanitize.csv_safe_frame`).
    max_quarantine_share
        Refuse an import that quarantines more than this share of the rows read (default: the
        mapping's ``max_quarantine_share``, else 0.05; 1 never refuses): a KpiError names the share and the top cause, after
        ``refused/<table>.csv`` and ``refused/import_report.json`` are written in ``out`` for
        inspection. The dataset in ``out`` (tables, quarantine, report) is left as it was.

    Returns
    -------
    ImportResult

    Raises
    ------
    KpiError
        For every user mistake: bad arguments, unreadable files, missing columns, a file in
        which no row could be loaded.

    Notes
    -----
    Accounting identity: ``read = loaded + quarantined`` (rows, not lines: blank lines are not
    rows). Presets, mapping keys and the rules applied are documented in
    ``docs/importing.md``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "calls.csv").write_text(
    ...     "call_id,start_time,skill,disposition,wait_time,talk_time\n"
    ...     "1,2025-01-06 09:00:00,sales,handled,0:12,00:03:20\n"
    ...     "2,2025-01-06 09:01:00,sales,abandoned,1:05,\n"
    ...     "3,2025-01-06 09:02:00,sales,handled,soon,00:01:00\n"
    ... )
    >>> import_file(d / "calls.csv", preset="contacts", tz="Europe/London", out=d / "ds")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: ...calls.csv: 33.3% of rows quarantined (1 of 3; at most 5% allowed, --max-quarantine-share); top cause: unparseable wait_s (1 rows, e.g. row 4: 'wait_time' = 'soon'); quarantine written to .../ds/refused/contacts.csv, the dataset in .../ds is unchanged
    >>> result = import_file(
    ...     d / "calls.csv",
    ...     preset="contacts",
    ...     tz="Europe/London",
    ...     out=d / "ds",
    ...     max_quarantine_share=0.5,
    ... )
    >>> r = result.report
    >>> r.read, r.loaded, r.quarantined, r.quarantined_by_reason
    (3, 2, 1, {'unparseable wait_s': 1})
    >>> result.frame.select("contact_id", "outcome", "wait_s", "talk_s").rows()
    [('1', 'answered', 12.0, 200.0), ('2', 'abandoned_queue', 65.0, 0.0)]
    >>> sorted(p.name for p in (d / "ds").iterdir())
    ['contacts.parquet', 'dataset.json', 'import_report.json', 'quarantine', 'refused']
    """
    if (preset is None) == (mapping is None):
        raise KpiError(
            "choose one of --preset NAME (" + ", ".join(PRESETS) + ") or --mapping FILE.toml"
        )
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        _check_out(out_dir)
        if out_dir.is_dir():
            try:  # an import killed while switching its files in is completed first
                settle_dir(out_dir)
            except OSError as exc:
                raise KpiError(f"{out_dir}: {exc.strerror}") from None
    existing = _existing_meta(out_dir) if out_dir is not None else {}
    m, default_tz = _chosen_mapping(preset, mapping)
    zone, how = _site_zone(tz, m, default_tz, existing, out_dir)
    if interval_min is not None and interval_min <= 0:
        raise KpiError(f"--interval-min must be positive, got {interval_min}")
    for name, value in (("--threshold-s", threshold_s), ("--short-abandon-s", short_abandon_s)):
        if value is not None and value < 0:
            raise KpiError(f"{name} must be 0 or more, got {value}")
    rd = m.read
    options: dict[str, Any] = {
        "delimiter": delimiter if delimiter is not None else rd.get("delimiter"),
        "encoding": encoding if encoding is not None else rd.get("encoding"),
        "sheet": sheet if sheet is not None else rd.get("sheet"),
        "null_values": rd.get("null_values"),
        "file_format": rd.get("format"),
    }
    given_skip = skip_rows if skip_rows is not None else rd.get("skip_rows")
    source = read_source(path, skip_rows=int(given_skip or 0), **options)
    title_rows, other_sheet = None, None
    if given_skip is None and preset is None:
        title_rows = _title_rows(source, m)
        if title_rows:
            source = read_source(path, skip_rows=title_rows, **options)
        elif options["sheet"] is None and source.info.get("format") == "excel":
            found = _sheet_with_columns(path, source, m, options)
            if found is not None:
                source, title_rows, other_sheet = found
    source, totals = drop_totals(source)
    report = ImportReport(
        input=str(path),
        table=m.table,
        timezone=zone,
        preset=preset,
        mapping=None if preset else m.name,
        source=dict(source.info),
    )
    report.read = source.read
    report.inferred["time zone"] = f"{zone} ({how})"
    if other_sheet is not None:
        report.inferred["sheet"] = (
            f"{other_sheet!r}: the mapping's columns are not on the first sheet "
            f"{source.info['sheets'][0]!r} (read.sheet = {other_sheet!r} says so)"
        )
    if title_rows:
        unit = "line" if "delimiter" in source.info else "row"
        report.inferred["header"] = (
            f"{unit} {title_rows + 1}: the {title_rows} {unit}(s) above it are a title, not read "
            f"(read.skip_rows = {title_rows} says so)"
        )
    again = [t for t in totals if t["label"] == HEADER_AGAIN]
    sums = [t for t in totals if t["label"] != HEADER_AGAIN]
    if sums:
        report.inferred["totals rows (not records, not read)"] = ", ".join(
            f"row {t['row']} ({t['label']!r})" for t in sums
        )
    if again:
        report.inferred["header repeated (not records, not read)"] = ", ".join(
            f"row {t['row']}" for t in again
        )
    for given, names in source.info.get("duplicate_columns", {}).items():
        report.warnings.append(
            f"the header names {len(names)} columns {given!r}; they are read as "
            + ", ".join(repr(n) for n in names)
            + " and a mapping must name the one it means (a column it does not name is not "
            "imported)"
        )
    if preset == "technion":
        staged = convert_technion(source, tz=zone, report=report)
    elif m.states:
        staged = convert_states(source, m, tz=zone, report=report)
    else:
        staged = convert_mapped(
            source,
            m,
            tz=zone,
            report=report,
            threshold_s=threshold_s,
            short_abandon_s=short_abandon_s,
            interval_s=interval_min * 60 if interval_min is not None else None,
        )
    result = _account(source, staged, report)
    if m.surveys:
        result.also += _surveys(source, result, m, zone)
    if max_quarantine_share is None:
        max_quarantine_share = m.max_quarantine_share
    if max_quarantine_share is None:
        max_quarantine_share = MAX_QUARANTINE_SHARE
    if not 0 <= max_quarantine_share <= 1:
        raise KpiError(f"--max-quarantine-share must be in [0, 1], got {max_quarantine_share}")
    for part in (result, *result.also):
        rep = part.report
        share = rep.quarantined / rep.read if rep.read else 0.0
        if share <= max_quarantine_share:
            continue
        where = ""
        if out_dir is not None:
            _publish_refused(part, out_dir, raw_csv=raw_csv)
            where = (
                f"; quarantine written to {out_dir / REFUSED_DIR / (part.table + '.csv')}, the "
                f"dataset in {out_dir} is unchanged"
            )
        what = "" if part is result else f" for {part.table}"
        raise KpiError(
            f"{source.path}: {share:.1%} of rows{what} quarantined ({rep.quarantined:,} of "
            f"{rep.read:,}; at most {max_quarantine_share:.0%} allowed, "
            f"--max-quarantine-share); top cause: {_top_cause(rep)}{where}"
        )
    if out_dir is not None:
        _publish(result, out_dir, append=append, raw_csv=raw_csv)
    return result


def _surveys(source: Source, result: ImportResult, m: Mapping, zone: str) -> list[ImportResult]:
    """The surveys table a contacts mapping's ``[surveys]`` section fills (none if no row of
    the loaded contacts carries a score)."""
    found = survey_source(source, result.frame, m)
    if found is None:
        result.report.warnings.append(
            "[surveys]: no loaded contact carries a score; no surveys table written"
        )
        return []
    sub, sm = found
    report = ImportReport(
        input=result.report.input,
        table="surveys",
        timezone=zone,
        mapping=f"{result.report.mapping} [surveys]",
        source=dict(result.report.source),
    )
    report.read = sub.read
    report.inferred["rows"] = "the loaded contacts that carry a score"
    staged = convert_surveys(sub, sm, tz=zone, report=report)
    part = _account(sub, staged, report)
    part.quarantine = part.quarantine.select(pl.exclude(f"^{CARRIED}.*$"))
    part.frame = part.frame.select(pl.exclude(f"^{CARRIED}.*$"))
    result.report.inferred["surveys"] = (
        f"{report.loaded:,} survey rows from the same file (see tables.surveys)"
    )
    return [part]


def _names(m: Mapping) -> list[str]:
    names: list[str] = []
    for src in (*m.columns.values(), *m.extra.values()):
        names += src if isinstance(src, list) else [src]
    return names


def _has_columns(source: Source, m: Mapping) -> bool:
    have = {norm(c) for c in source.columns}
    return all(norm(n) in have for n in _names(m))


def _title_rows(source: Source, m: Mapping) -> int | None:
    """Title rows above the header, when the mapping's columns are on a later row."""
    if not _names(m) or _has_columns(source, m):
        return None
    return find_header(source, _names(m))


def _sheet_with_columns(
    path: Path, first: Source, m: Mapping, options: dict[str, Any]
) -> tuple[Source, int | None, str] | None:
    """The first later sheet holding the mapping's columns (a workbook opening on a cover or
    summary sheet): its source, title rows and name."""
    if not _names(m) or _has_columns(first, m):
        return None
    for sheet in first.info.get("sheets", [])[1:]:
        try:
            source = read_source(path, skip_rows=0, **{**options, "sheet": sheet})
            if _has_columns(source, m):
                return source, None, sheet
            rows = find_header(source, _names(m))
            if rows:
                return (
                    read_source(path, skip_rows=rows, **{**options, "sheet": sheet}),
                    rows,
                    sheet,
                )
        except KpiError:  # an empty or unreadable sheet: not this one
            continue
    return None


def _top_cause(report: ImportReport) -> str:
    """The most common quarantine reason, its count and the first example."""
    reason, n = max(report.quarantined_by_reason.items(), key=lambda kv: kv[1])
    ex = [e for e in report.quarantine_examples.get(reason, []) if e.get("detail")][:1]
    eg = f", e.g. row {ex[0]['row']}: {ex[0]['detail']}" if ex else ""
    return f"{reason} ({n:,} rows{eg})"


def _publish_refused(result: ImportResult, out: Path, *, raw_csv: bool) -> None:
    """Write a refused import's quarantine and report to ``out/refused/``, nothing else."""
    try:
        with staged_dir(out) as staging:
            quarantine = result.quarantine.cast(pl.String)
            shown = quarantine if raw_csv else csv_safe_frame(quarantine)
            name = f"{REFUSED_DIR}/{result.table}.csv"
            staging.write(name, lambda p: shown.write_csv(p))
            result.report.output["refused"] = True
            result.report.output["quarantine"] = str(out / name)
            staging.write_text(
                f"{REFUSED_DIR}/{REPORT_FILE}",
                json.dumps(result.report.to_dict(), indent=2, default=str) + "\n",
            )
    except OSError as exc:
        where = exc.filename or out
        raise KpiError(
            f"{where}: cannot write ({exc.strerror or type(exc).__name__}); the dataset in "
            f"{out} is unchanged"
        ) from None


def _chosen_mapping(
    preset: str | None, mapping: str | os.PathLike | dict[str, Any] | Mapping | None
) -> tuple[Mapping, str | None]:
    """The mapping of a preset (and its default time zone) or the user's mapping, checked."""
    if preset is not None:
        if preset not in PRESETS:
            raise KpiError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
        m = (
            Mapping(table="contacts", name="preset technion", preset="technion")
            if (preset == "technion")
            else preset_mapping(preset)
        )
        return m, PRESET_TIMEZONES.get(preset)
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)  # type: ignore[arg-type]
    return m, None


def _site_zone(
    tz: str | None,
    m: Mapping,
    default_tz: str | None,
    existing: dict[str, Any],
    out_dir: Path | None,
) -> tuple[str, str]:
    """The site time zone and where it came from; refuse one that differs from the dataset's."""
    if tz is not None:
        zone, how = check_timezone(tz), "given (--tz)"
    elif m.timezone:
        zone, how = m.timezone, ("preset default" if m.preset else f"from {m.name}")
    elif default_tz:
        zone, how = default_tz, "preset default"
    elif existing.get("timezone"):
        zone, how = existing["timezone"], f"from {out_dir}/dataset.json"
    else:
        raise KpiError(
            "the site time zone is unknown: pass --tz ZONE (e.g. Europe/London) or set "
            "timezone in the mapping"
        )
    if out_dir is not None:
        _same_zone(zone, existing, out_dir)
    return zone, how


def _same_zone(zone: str, existing: dict[str, Any], out_dir: Path) -> None:
    """Refuse an import in another zone than the dataset it goes into."""
    if existing.get("timezone") and existing["timezone"] != zone:
        others = [t for t in TABLES if (out_dir / f"{t}.parquet").exists()]
        if others:
            raise KpiError(
                f"{out_dir} holds a dataset in time zone {existing['timezone']} "
                f"({', '.join(others)}); this import is in {zone}. A dataset has one site time "
                "zone: use another --out or the same --tz"
            )


def _account(source: Source, staged: Staged, report: ImportReport) -> ImportResult:
    """Tally loaded and quarantined rows; build the quarantine table; check the identity."""
    malformed = source.malformed
    rejected = pl.concat(
        [rejected_frame(malformed.select(ROW, "reason", "detail")), staged.rejected]
    )
    report.loaded = staged.frame.height if staged.loaded is None else staged.loaded
    for reason, group in rejected.sort(ROW).group_by("reason", maintain_order=True):
        examples = [
            {"row": int(r), "detail": d}
            for r, d in group.select(ROW, "detail").head(5).iter_rows()
        ]
        report.quarantine(str(reason[0]), examples, group.height)
    report.check()
    if report.read == 0:
        raise KpiError(f"{source.path}: the file has no rows to import")
    if report.loaded == 0:
        top = sorted(report.quarantined_by_reason.items(), key=lambda kv: -kv[1])[:3]
        parts = []
        for reason, n in top:
            ex = report.quarantine_examples.get(reason, [])[:2]
            where = "; ".join(f"row {e['row']}: {e['detail']}" for e in ex if e.get("detail"))
            parts.append(f"{reason} ({n:,} rows{', e.g. ' + where if where else ''})")
        raise KpiError(
            f"{source.path}: no row could be loaded from {report.read:,} read: " + "; ".join(parts)
        )
    name = source.path.name
    frame = staged.frame.with_columns(
        pl.lit(name).alias("source_file"), pl.col(ROW).alias("source_row")
    ).drop(ROW)
    frame = conform(staged.table, frame.lazy(), report.timezone).collect()
    text_cols = []
    for c in source.columns:
        dtype = source.frame.schema[c]
        if dtype.is_nested():
            continue
        text_cols.append(as_text(pl.col(c), dtype).alias(c))
    originals = source.frame.select(pl.col(ROW), *text_cols)
    quarantine = rejected.join(originals, on=ROW, how="left")
    if malformed.height:
        quarantine = quarantine.join(malformed.select(ROW, "raw"), on=ROW, how="left")
    quarantine = quarantine.sort(ROW).select(
        pl.lit(name).alias("source_file"),
        pl.col(ROW).alias("source_row"),
        pl.exclude(ROW),
    )
    return ImportResult(staged.table, frame, quarantine, report, dict(staged.meta))


def _check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot become a dataset directory, before any work."""
    if out.exists() and not out.is_dir():
        raise KpiError(f"--out {out} is a file; give a directory (created if missing)")
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise KpiError(f"--out {out}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise KpiError(f"--out {out}: cannot write in {probe} (permission denied or read-only)")


def _publish(result: ImportResult, out: Path, *, append: bool, raw_csv: bool) -> None:
    """Write table, ``dataset.json``, report and quarantine aside; switch them in together."""
    try:
        with staged_dir(out) as staging:
            existing = _existing_meta(out)
            if existing.get("timezone"):
                _same_zone(result.report.timezone, existing, out)
            records = _earlier_reports(out)
            meta = existing
            for part in (*result.also, result):  # the main table's record last: on top
                meta = _write(
                    part,
                    out,
                    staging,
                    append=append,
                    existing_meta=meta,
                    records=records,
                    raw_csv=raw_csv,
                )
    except OSError as exc:
        where = exc.filename or out
        reason = exc.strerror or type(exc).__name__
        raise KpiError(
            f"{where}: cannot write ({reason}); the dataset in {out} is unchanged"
        ) from None


def _earlier_reports(out: Path) -> dict[str, dict[str, Any]]:
    """The per-table records of ``import_report.json`` (an old single report becomes one)."""
    rfile = out / REPORT_FILE
    if not rfile.exists():
        return {}
    try:
        doc = json.loads(rfile.read_text())
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    tables = doc.get("tables")
    if isinstance(tables, dict):
        return {k: v for k, v in tables.items() if isinstance(v, dict)}
    if isinstance(doc.get("table"), str):  # written before per-table records
        return {doc["table"]: doc}
    return {}


def _write(
    result: ImportResult,
    out: Path,
    staging: Staging,
    *,
    append: bool,
    existing_meta: dict[str, Any],
    records: dict[str, dict[str, Any]],
    raw_csv: bool = False,
) -> dict[str, Any]:
    """Stage one table, its quarantine and record; return ``dataset.json`` as written (the
    next table of the same import starts from it)."""
    table = result.table
    report = result.report
    tz = report.timezone
    target = out / f"{table}.parquet"
    new = conform(table, result.frame.lazy(), tz).collect()
    replaced = 0
    if target.exists() and append:
        try:
            old = pl.read_parquet(target)
        except Exception as exc:
            raise KpiError(f"{target}: cannot read the existing table to append ({exc})") from None
        old = conform(table, old.lazy(), tz).collect()
        key = [k for k in KEYS[table] if k in old.columns]
        kept = old.join(new.select(key).unique(), on=key, how="anti", nulls_equal=True)
        replaced = old.height - kept.height
        combined = pl.concat([kept, new], how="diagonal_relaxed")
        report.output["appended_to"] = old.height
    else:
        combined = new
        if target.exists():
            report.warnings.append(f"replaced the existing {target.name} (no --append)")
    meta = {k: v for k, v in existing_meta.items() if k not in ("timezone",)}
    for key in ("interval_threshold_s", "interval_short_abandon_s", "csat_scale_max"):
        if key in result.meta and key in meta and append and meta[key] != result.meta[key]:
            raise KpiError(
                f"{out}/dataset.json: {key} = {meta[key]} but this report used "
                f"{result.meta[key]}; reports with different thresholds or scales cannot share "
                "a dataset"
            )
    meta.update(result.meta)
    meta.setdefault("name", out.name)
    # one record per table: a replaced table drops only its own sources
    sources = [
        s
        for s in meta.get("sources", [])
        if append or not (isinstance(s, dict) and s.get("table") == table)
    ]
    sources.append(
        {
            "table": table,
            "file": str(report.input),
            "preset": report.preset,
            "mapping": report.mapping,
        }
    )
    meta["sources"] = sources
    report.output.update(
        {
            "dir": str(out),
            "table_file": str(target),
            "rows_in_table": combined.height,
            "replaced": replaced,
        }
    )
    qname = f"{QUARANTINE_DIR}/{table}.csv"
    qfile = out / qname
    quarantine = result.quarantine.cast(pl.String)
    if append and qfile.exists():
        try:
            before = pl.read_csv(qfile, infer_schema=False)
        except Exception:
            before = None
        if before is not None:
            quarantine = pl.concat([before, quarantine], how="diagonal_relaxed")
    if quarantine.height:
        shown = quarantine if raw_csv else csv_safe_frame(quarantine)
        staging.write(qname, lambda p: shown.write_csv(p))
        report.output["quarantine"] = str(qfile)
    elif not append:
        staging.delete(qname)
    if (out / REFUSED_DIR / f"{table}.csv").exists():
        staging.delete(f"{REFUSED_DIR}/{table}.csv")
    rfile = out / REPORT_FILE
    report.output["report"] = str(rfile)
    doc = report.to_dict()
    earlier = records.get(table)
    if append and earlier is not None:
        history = earlier.pop("earlier_imports", [])
        earlier.pop("tables", None)
        doc["earlier_imports"] = [*history, earlier]
    records[table] = doc
    save(Dataset({table: combined}, tz=tz, meta=meta), out, into=staging)
    staging.write_text(
        REPORT_FILE,
        json.dumps({**doc, "tables": records}, indent=2, default=str) + "\n",
    )
    return {"timezone": tz, **meta}
