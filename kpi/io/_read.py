"""Reading source files (CSV/TSV, Parquet, Excel) into string columns with source row numbers.

Text files are split into records by this module rather than by a CSV engine, so that every
physical line is accounted for: a truncated line, a stray quote or undecodable bytes damage
only the record they are in, which is set aside as *malformed* with its line number, and
``read = good records + malformed records`` holds whatever the file contains.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl

from kpi.errors import KpiError

__all__ = ["DELIMITERS", "ROW", "Source", "read_source"]

#: Name of the source-row column carried through the import.
ROW = "__row"

#: Delimiters tried, in order of preference on ties.
DELIMITERS = (",", "\t", ";", "|")
_DELIM_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}

#: Values read as null in text files unless the mapping says otherwise.
NULL_VALUES = ("", "NULL", "null", "NA", "N/A", "n/a", "None", "NaN", "nan", "#N/A")

#: A quoted field may span at most this many lines before the quote is judged stray.
MAX_RECORD_LINES = 50

#: What a reader of a corrupt file may raise (a Rust panic is not an ``Exception``).
_READ_ERRORS = (Exception, pl.exceptions.PanicException)

_TEXT_EXT = {".csv", ".tsv", ".txt", ".tab", ".dat", ".psv"}
_EXCEL_EXT = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
_PARQUET_EXT = {".parquet", ".pq"}


@dataclass
class Source:
    """A source file read into memory.

    Attributes
    ----------
    path
        The file.
    frame
        One row per well-formed record: the source columns (strings for text and Excel files,
        the stored dtypes for Parquet) and ``__row``, the record's row number in the file.
    malformed
        Records that could not be split into the header's columns: ``__row``, ``reason``,
        ``detail`` and ``raw`` (the record's text).
    info
        What the reader found or was told: format, encoding, delimiter, line ending, sheet,
        header row, blank lines skipped.
    """

    path: Path
    frame: pl.DataFrame
    malformed: pl.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Source column names (without ``__row``)."""
        return [c for c in self.frame.columns if c != ROW]

    @property
    def read(self) -> int:
        """Records read: well-formed plus malformed."""
        return self.frame.height + self.malformed.height


def _malformed_frame(rows: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={ROW: pl.Int64, "reason": pl.String, "detail": pl.String, "raw": pl.String},
        orient="row",
    )


def read_source(
    path: str | Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    skip_rows: int = 0,
    null_values: tuple[str, ...] | list[str] | None = None,
    file_format: str | None = None,
) -> Source:
    """Read a CSV/TSV, Parquet or Excel file into string columns with source row numbers.

    Parameters
    ----------
    path
        The file. Its format comes from ``file_format``, else its first bytes (Parquet and
        Excel signatures), else its extension; anything else is read as delimited text.
    delimiter
        Field separator of a text file; detected among comma, tab, semicolon and pipe if
        omitted (``"\\t"`` or ``"tab"`` for tabs).
    encoding
        Text encoding; detected if omitted (UTF-8 with or without BOM, UTF-16 with BOM, else
        Windows-1252).
    sheet
        Excel sheet name or 0-based index; the first sheet if omitted.
    skip_rows
        Lines (rows) above the header to skip, e.g. a report title.
    null_values
        Text values read as null; :data:`NULL_VALUES` by default.
    file_format
        ``"csv"``, ``"parquet"`` or ``"excel"`` to override detection.

    Returns
    -------
    Source
        ``frame`` (good records), ``malformed`` (records set aside) and ``info``.

    Raises
    ------
    KpiError
        Missing or empty file, a file of another kind (binary, compressed), an unreadable
        Parquet or Excel file, a wrong delimiter, an unknown encoding.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "calls.csv"
    >>> _ = p.write_text("id;wait\\r\\n1;12\\r\\n2;x;y\\r\\n\\r\\n3;7\\r\\n")
    >>> src = read_source(p)
    >>> src.info["delimiter"], src.info["line_ending"], src.read
    (';', 'CRLF', 3)
    >>> src.frame.rows()
    [('1', '12', 2), ('3', '7', 5)]
    >>> src.malformed.select("__row", "reason").rows()
    [(3, 'wrong field count')]
    """
    path = Path(path)
    if not path.exists():
        raise KpiError(f"input file {path} does not exist")
    if path.is_dir():
        raise KpiError(f"input {path} is a directory; give a file (csv, tsv, parquet, xlsx)")
    if skip_rows < 0:
        raise KpiError(f"skip_rows must be 0 or more, got {skip_rows}")
    try:
        if path.stat().st_size == 0:
            raise KpiError(f"{path}: the file is empty")
        with path.open("rb") as fh:
            head = fh.read(8)
        kind = _detect_kind(path, head, file_format)
        if kind in ("parquet", "json"):
            return _read_typed(path, kind)
        if kind == "excel":
            return _read_excel(path, sheet=sheet, skip_rows=skip_rows)
        return _read_text(
            path,
            delimiter=_delimiter_arg(delimiter),
            encoding=encoding,
            skip_rows=skip_rows,
            null_values=tuple(NULL_VALUES if null_values is None else null_values),
        )
    except OSError as exc:  # no permission, an I/O error, a file that vanished
        raise KpiError(f"input file {path}: cannot read ({exc.strerror or exc})") from None


def _delimiter_arg(delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    names = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    d = names.get(delimiter.lower(), delimiter)
    if len(d) != 1 or d in '\r\n"':
        raise KpiError(
            f"delimiter must be one character (or tab, comma, semicolon, pipe), got {delimiter!r}"
        )
    return d


def _detect_kind(path: Path, head: bytes, file_format: str | None) -> str:
    if file_format:
        fmt = file_format.lower()
        alias = {"tsv": "csv", "text": "csv", "xlsx": "excel", "xls": "excel", "pq": "parquet"}
        fmt = alias.get(fmt, fmt)
        if fmt not in ("csv", "parquet", "excel", "json"):
            raise KpiError(
                f"unknown file format {file_format!r}; valid: csv, tsv, parquet, xlsx, json"
            )
        return fmt
    ext = path.suffix.lower()
    starts = head.removeprefix(codecs.BOM_UTF8).lstrip()[:1]
    if ext in (".json", ".jsonl", ".ndjson") or (ext not in _TEXT_EXT and starts in (b"[", b"{")):
        return "json"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        if ext in _EXCEL_EXT or ext not in _TEXT_EXT | _PARQUET_EXT:
            return "excel"
        raise KpiError(
            f"{path}: this is a ZIP archive (an .xlsx workbook or a compressed export), not "
            f"{ext or 'delimited'} text; rename it to .xlsx if it is a workbook, or unzip it"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "excel"  # legacy .xls (OLE2)
    if head.startswith(b"\x1f\x8b"):
        raise KpiError(f"{path}: the file is gzip-compressed; decompress it first (gunzip)")
    if head.startswith(b"%PDF"):
        raise KpiError(f"{path}: this is a PDF document, not a data table")
    if ext in _PARQUET_EXT:
        raise KpiError(f"{path}: not a Parquet file (it lacks the PAR1 signature)")
    if ext in {".xlsx", ".xlsm", ".xlsb", ".ods"}:
        raise KpiError(f"{path}: not an Excel workbook (it is not a ZIP/OLE container)")
    return "csv"


# --------------------------------------------------------------------------------- parquet


def _read_typed(path: Path, kind: str) -> Source:
    """Parquet, or JSON records (an array, JSON lines, or an API reply wrapping one array):
    stored types kept, nested objects flattened to ``parent.child`` columns."""
    name = "Parquet" if kind == "parquet" else "JSON records"
    try:
        if kind == "parquet":
            frame = pl.read_parquet(path)
        else:
            data = path.read_bytes().removeprefix(codecs.BOM_UTF8).lstrip()
            lines = data[:1] == b"{" and b"\n{" in data.rstrip()
            frame = pl.read_ndjson(io.BytesIO(data)) if lines else pl.read_json(io.BytesIO(data))
            lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
            if frame.height == 1 and len(lists) == 1:  # {"calls": [...], "next_page": ...}
                frame = frame.select(pl.col(lists[0]).explode())
                if isinstance(frame.schema[lists[0]], pl.Struct):
                    frame = frame.unnest(lists[0])
            while structs := [c for c, t in frame.schema.items() if isinstance(t, pl.Struct)]:
                frame = frame.with_columns(
                    pl.col(c).name.prefix_fields(f"{c}.") for c in structs
                ).unnest(structs)
    except _READ_ERRORS as exc:  # polars raises several exception types for corrupt files
        raise KpiError(f"{path}: cannot read as {name} ({_first_line(exc)})") from None
    if frame.height == 0:
        cols = ", ".join(frame.columns[:6]) + (", ..." if frame.width > 6 else "")
        raise KpiError(f"{path}: the {name} file has no rows (columns: {cols or 'none'})")
    names = _unique_names(frame.columns)
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    frame = frame.select(*[c for c in frame.columns if c != ROW], ROW)
    info = {"format": kind, "rows_are": "record number (1 = first record)"}
    _note_duplicates(info, frame.columns[:-1], names)
    return Source(path, frame, _malformed_frame([]), info)


# ----------------------------------------------------------------------------------- excel


def _read_excel(path: Path, *, sheet: str | int | None, skip_rows: int) -> Source:
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
    except _READ_ERRORS as exc:
        raise KpiError(f"{path}: cannot read as an Excel workbook ({_first_line(exc)})") from None
    names = list(reader.sheet_names)
    if not names:
        raise KpiError(f"{path}: the workbook has no sheets")
    if sheet is None:
        idx = 0
    elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit()):
        idx = int(sheet)
        if not 0 <= idx < len(names):
            raise KpiError(f"{path}: no sheet number {idx}; sheets: {', '.join(names)}")
    elif sheet in names:
        idx = names.index(sheet)
    else:
        close = difflib.get_close_matches(sheet, names, n=3)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise KpiError(f"{path}: no sheet {sheet!r}{hint}; sheets: {', '.join(names)}")
    sheet_name = names[idx]
    try:
        frame = reader.load_sheet(idx, header_row=skip_rows, dtypes="string").to_polars()
        # the header's cells as written: fastexcel numbers a repeated name itself (Caller,
        # Caller_1) and names a blank one __UNNAMED__n; read as a CSV header is, instead
        header = reader.load_sheet(
            idx, header_row=None, skip_rows=skip_rows, n_rows=1, dtypes="string"
        ).to_polars()
        # a column with no cells has no type to find (fastexcel says so on stderr): text
        empty = [i for i, c in enumerate(frame.columns) if frame[c].null_count() == frame.height]
        typed = _typed_sheet(reader, idx, skip_rows, frame.width, text=empty)
    except _READ_ERRORS as exc:
        raise KpiError(f"{path}: cannot read sheet {sheet_name!r} ({_first_line(exc)})") from None
    if frame.width == 0:
        raise KpiError(f"{path}: sheet {sheet_name!r} is empty")
    cells_ = header.row(0) if header.height == 1 and header.width == frame.width else None
    given = [("" if v is None else str(v)).strip() for v in cells_ or frame.columns]
    col_names = _unique_names(given)
    frame = frame.rename(dict(zip(frame.columns, col_names, strict=True)))
    frame = frame.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in frame.columns
    )
    cells: dict[str, str] = {}
    if typed is not None and typed.shape == frame.shape:
        typed = typed.rename(dict(zip(typed.columns, col_names, strict=True)))
        frame = _excel_cell_types(frame, typed, cells)
    # sheet row numbers: the header is on row skip_rows + 1, records follow
    frame = frame.with_row_index(ROW, offset=skip_rows + 2).with_columns(
        pl.col(ROW).cast(pl.Int64)
    )
    blank = pl.all_horizontal(pl.exclude(ROW).is_null())
    n_blank = frame.select(blank.sum()).item()
    frame = frame.filter(~blank)
    frame = frame.select(*[c for c in frame.columns if c != ROW], ROW)
    if frame.height == 0:
        raise KpiError(f"{path}: sheet {sheet_name!r} has a header but no data rows")
    info: dict[str, Any] = {
        "format": "excel",
        "sheet": sheet_name,
        "sheets": names,
        "header_row": skip_rows + 1,
        "blank_rows_skipped": int(n_blank),
        "rows_are": "sheet row number",
    }
    if cells:
        info["cell_types"] = cells
    _note_duplicates(info, given, col_names)
    return Source(path, frame, _malformed_frame([]), info)


#: Excel's time-only epoch: a time-of-day or duration cell (a fraction of a day, or more than
#: a day) reads as a date-time on 1899-12-30 or 1899-12-31 (the day before serial 1), or early
#: January 1900 for durations of a day or more. Dates before 1900-03-01 are no call-centre
#: data: they are the time-only epoch.
_EXCEL_TIME_ONLY_BEFORE = datetime(1900, 3, 1)
_EXCEL_EPOCH_TEXT = re.compile(
    r"^(1899-12-3[01]|1900-0[12]-\d\d)[ T](\d\d):(\d\d):(\d\d(?:\.\d+)?)$"
)


def _typed_sheet(
    reader: Any, idx: int, skip_rows: int, width: int, *, text: Sequence[int] = ()
) -> pl.DataFrame | None:
    """The sheet with the dtype of each column's cells (fastexcel reads it from the cell types
    and number formats); a column mixing types fastexcel cannot combine (duration and text
    cells), and the columns ``text``, are read as text. None if the sheet cannot be read typed
    at all."""
    dtypes = dict.fromkeys(text, "string") or None
    try:
        return reader.load_sheet(
            idx, header_row=skip_rows, schema_sample_rows=None, dtypes=dtypes
        ).to_polars()
    except _READ_ERRORS:
        pass
    cols = []
    for i in range(width):
        try:
            kw = {"dtypes": "string"} if i in text else {"schema_sample_rows": None}
            col = reader.load_sheet(idx, header_row=skip_rows, use_columns=[i], **kw).to_polars()
        except _READ_ERRORS:
            col = reader.load_sheet(
                idx, header_row=skip_rows, use_columns=[i], dtypes="string"
            ).to_polars()
        if col.width != 1:
            return None
        cols.append(col.to_series().rename(f"c{i}"))
    if len({len(c) for c in cols}) > 1:
        return None
    return pl.DataFrame(cols)


def _excel_cell_types(
    frame: pl.DataFrame, typed: pl.DataFrame, cells: dict[str, str]
) -> pl.DataFrame:
    """Columns of date, time-of-day and duration cells, read by their cell type and format.

    ``frame`` holds every cell as text; ``typed`` the same sheet with the dtype fastexcel reads
    from the cells and their number formats. A column whose cells are all dates or date-times
    becomes a ``Datetime``; a column of time cells (``hh:mm:ss``, which Excel stores as a
    fraction of a day and fastexcel reads on the time-only epoch 1899-12-31) and a column of
    duration cells (``[h]:mm:ss``) become a ``Duration`` (time of day, or elapsed time). A
    column mixing cells of another type keeps its text (a stray text cell is quarantined, not
    lost), and time-only-epoch text in it (``1899-12-31 00:02:23``) is rewritten ``0:02:23``.
    What was read how is recorded in ``cells`` (column -> description).
    """
    out = []
    for c in frame.columns:
        text, cell = frame[c], typed[c]
        same = cell.null_count() == text.null_count()
        if same and isinstance(cell.dtype, pl.Duration):
            out.append(_to_ms(cell).alias(c))
            cells[c] = "duration cells"
            continue
        if (
            same
            and isinstance(cell.dtype, (pl.Datetime, pl.Date))
            and cell.null_count() < len(cell)
        ):
            stamp = cell.cast(pl.Datetime("us"))
            early = stamp < _EXCEL_TIME_ONLY_BEFORE
            if early.all() or not early.any():
                if early.all():
                    first = stamp.min()
                    epoch = datetime(1899, 12, 30 if first.day == 30 else 31)  # type: ignore[union-attr]
                    out.append(_to_ms(stamp - epoch).alias(c))
                    cells[c] = (
                        f"time cells (time of day or duration; time-only epoch {epoch:%Y-%m-%d})"
                    )
                else:
                    midnight = (stamp.dt.time() == time(0)).all()
                    out.append(stamp.alias(c))
                    cells[c] = "date cells" if midnight else "date-time cells"
                continue
        fixed = _epoch_text(text)
        if fixed is not None:
            out.append(fixed)
            cells[c] = "text and time cells (time cells read as h:mm:ss)"
        else:
            out.append(text)
    return pl.DataFrame(out)


def _to_ms(duration: pl.Series) -> pl.Series:
    """A duration rounded to Excel's precision, the millisecond (a cell holds a fraction of a
    day: 0.001 days is 86.4 s, not 86.39999)."""
    us = duration.cast(pl.Duration("us")).dt.total_microseconds()
    return ((us / 1000).round(0) * 1000).cast(pl.Int64).cast(pl.Duration("us"))


def _epoch_text(text: pl.Series) -> pl.Series | None:
    """Time-only-epoch text (``1899-12-31 00:02:23``) as ``h:mm:ss``, or None if there is none."""
    if text.dtype != pl.String:
        return None
    g = text.str.extract_groups(_EXCEL_EPOCH_TEXT.pattern).struct.unnest()
    hit = g["1"].is_not_null()
    if not hit.any():
        return None
    day = g["1"].str.to_date("%Y-%m-%d", strict=False)
    base = pl.Series([date(1899, 12, 31)]).item()
    days = (day - base).dt.total_days().clip(lower_bound=0)
    hours = days * 24 + g["2"].cast(pl.Int64)
    rewritten = (
        pl.DataFrame({"h": hours, "m": g["3"], "s": g["4"]})
        .select(pl.format("{}:{}:{}", "h", "m", "s"))
        .to_series()
    )
    return pl.Series(
        text.name, pl.select(pl.when(hit).then(rewritten).otherwise(text)).to_series()
    )


# ------------------------------------------------------------------------------------ text


def _decode(data: bytes, encoding: str | None, path: Path) -> tuple[str, str, bool]:
    """Decode bytes; returns (text, encoding name, had_undecodable_bytes)."""
    if encoding:
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            common = ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "iso-8859-8", "cp1255"]
            close = difflib.get_close_matches(encoding.lower(), common, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KpiError(f"unknown encoding {encoding!r}{hint}") from None
        text = data.decode(codec.name, errors="replace")
        bad = "\ufffd" in text and b"\xef\xbf\xbd" not in data
        return text, codec.name, bad
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            text = data.decode(name, errors="replace")
            return text, name, "\ufffd" in text
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(b"\x00") > len(sample) // 3:
        even = sample[0::2].count(b"\x00")
        odd = sample[1::2].count(b"\x00")
        name = "utf-16-le" if odd > even else "utf-16-be"
        text = data.decode(name, errors="replace")
        return text, name, "\ufffd" in text
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, ("ascii" if text.isascii() else "utf-8"), False
    # Not valid UTF-8. Valid multi-byte UTF-8 sequences are evidence of a UTF-8 file with some
    # bad bytes; without any, the file is in a legacy single-byte encoding.
    multibyte = len(re.findall(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}", data))
    if multibyte:
        return data.decode("utf-8", errors="replace"), "utf-8", True
    text = data.decode("cp1252", errors="replace")
    return text, "cp1252", "\ufffd" in text


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    if not sample:
        return False
    ctrl = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    return ctrl > max(8, len(sample) // 10)


def _split_fields(text: str, delim: str) -> list[str] | None:
    """Fields of one record (None when its quoting cannot be parsed as a single record)."""
    if '"' not in text:
        return text.split(delim)
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delim, quotechar='"', strict=False))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _sniff_delimiter(lines: list[str]) -> tuple[str, dict[str, tuple[float, int]]]:
    scores: dict[str, tuple[float, int]] = {}
    for d in DELIMITERS:
        counts = [len(_split_fields(line, d) or ()) for line in lines]
        n = counts[0]
        same = sum(1 for c in counts if c == n) / len(counts)
        scores[d] = (same if n > 1 else 0.0, n)
    best = max(DELIMITERS, key=lambda d: (scores[d][0], scores[d][1] > 1, scores[d][1]))
    return best, scores


def _line_ending(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    kinds = {"CRLF": crlf, "LF": lf, "CR": cr}
    used = [k for k, v in kinds.items() if v]
    if not used:
        return "none"
    if len(used) == 1:
        return used[0]
    return "mixed (" + ", ".join(f"{k} {kinds[k]}" for k in used) + ")"


def _read_text(
    path: Path,
    *,
    delimiter: str | None,
    encoding: str | None,
    skip_rows: int,
    null_values: tuple[str, ...],
) -> Source:
    data = path.read_bytes()
    text, enc, had_bad = _decode(data, encoding, path)
    if _looks_binary(text):
        raise KpiError(
            f"{path}: this does not look like a text table (binary content); "
            "supported formats: csv, tsv, parquet, xlsx"
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise KpiError(f"{path}: the file is empty (no header, no rows)")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # Excel's "sep=;" line names the delimiter; it is not the header
    hint = re.fullmatch(r"sep=(.)", lines[0].strip()) if lines and not skip_rows else None
    if hint and delimiter is None:
        delimiter = hint.group(1)
    # header: first non-blank line after skip_rows (and the sep= line)
    h = skip_rows + (1 if hint else 0)
    while h < len(lines) and not lines[h].strip():
        h += 1
    if h >= len(lines):
        raise KpiError(f"{path}: no header line after skipping {skip_rows} line(s)")
    sample = [ln for ln in lines[h : h + 200] if ln.strip()][:50]
    sniffed, scores = _sniff_delimiter(sample)
    if delimiter is None:
        delim = sniffed
        delim_how = "detected"
    elif hint and delimiter == hint.group(1):
        delim = delimiter
        delim_how = "sep= line"
    else:
        delim = delimiter
        delim_how = "given"
        own = len(_split_fields(lines[h], delim) or ())
        if own == 1 and scores[sniffed][1] > 1 and sniffed != delim:
            raise KpiError(
                f"{path}: with delimiter {_DELIM_NAMES.get(delim, repr(delim))} the header is a "
                f"single column, but {_DELIM_NAMES[sniffed]} splits it into "
                f"{scores[sniffed][1]} columns; pass --delimiter "
                f"{'tab' if sniffed == chr(9) else repr(sniffed)} or omit --delimiter"
            )
    header = [c.strip().strip("\ufeff") for c in _split_fields(lines[h], delim) or [lines[h]]]
    while len(header) > 1 and header[-1] == "":
        header.pop()  # trailing delimiter on the header line
    given = header
    header = _unique_names(header)
    frame, bad, blank = _split_records(lines, h + 1, delim, header, had_bad=had_bad, enc=enc)
    nulls = list(null_values)
    frame = frame.with_columns(
        pl.when(pl.col(c).str.strip_chars().is_in(nulls))
        .then(None)
        .otherwise(pl.col(c).str.strip_chars())
        .alias(c)
        for c in header
    )
    info = {
        "format": "tsv" if delim == "\t" else "csv",
        "encoding": enc,
        "delimiter": delim,
        "delimiter_name": _DELIM_NAMES.get(delim, repr(delim)),
        "delimiter_how": delim_how,
        "line_ending": _line_ending(text),
        "header_line": h + 1,
        "blank_lines_skipped": blank,
        "rows_are": "line number in the file (the header is line " + str(h + 1) + ")",
    }
    if had_bad:
        info["undecodable_bytes"] = True
    _note_duplicates(info, given, header)
    if frame.height == 0 and bad.height == 0:
        raise KpiError(f"{path}: the file has a header ({', '.join(header[:6])}) but no rows")
    return Source(path, frame, bad, info)


def _split_records(
    lines: list[str], start: int, delim: str, header: list[str], *, had_bad: bool, enc: str
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Split ``lines[start:]`` into records of ``len(header)`` fields.

    Lines without quotes are split by polars; lines with quotes go through :mod:`csv`, and a line
    with an odd number of quotes may join the next lines (at most :data:`MAX_RECORD_LINES`)
    when that gives exactly one record with the header's width. Returns the records (strings
    plus ``__row``, the line number), the malformed records and the number of blank lines.
    """
    n = len(header)
    body = pl.DataFrame({"l": lines[start:]}, schema={"l": pl.String}).with_row_index(
        ROW, offset=start + 1
    )
    body = body.with_columns(pl.col(ROW).cast(pl.Int64))
    kind = body.select(
        blank=pl.col("l").str.strip_chars() == "",
        quotes=pl.col("l").str.count_matches('"', literal=True),
        undecodable=pl.lit(had_bad) & pl.col("l").str.contains("\ufffd", literal=True),
    )
    blank = kind["blank"].to_list()
    quotes = kind["quotes"].to_list()
    undecodable = kind["undecodable"].to_list()
    total = len(lines) - start
    consumed = [False] * total
    py_rows: list[list[str]] = []
    py_nums: list[int] = []
    bad: list[tuple[int, str, str, str]] = []

    def add(k: int, text: str, split: list[str] | None) -> None:
        if split is None:
            bad.append((start + k + 1, "unparseable quotes", "quoted fields do not close", text))
            return
        fields = _trim(split, n)
        if len(fields) != n:
            detail = f"{len(fields)} fields, header has {n}"
            if text.count('"') % 2 == 1:
                detail += " (unbalanced quote)"
            bad.append((start + k + 1, "wrong field count", detail, text))
        else:
            py_rows.append(fields)
            py_nums.append(start + k + 1)

    for k in range(total):
        if consumed[k] or blank[k] or not quotes[k]:
            continue
        consumed[k] = True
        line = lines[start + k]
        if undecodable[k]:
            bad.append((start + k + 1, "undecodable bytes", f"not valid {enc}", line))
            continue
        if quotes[k] % 2 == 1:
            # a quoted field may continue on the next lines; join until quotes balance
            joined, j, count = line, k + 1, quotes[k]
            while j < total and j - k < MAX_RECORD_LINES and count % 2 == 1:
                joined += "\n" + lines[start + j]
                count += quotes[j]
                j += 1
            if count % 2 == 0:
                fields = _split_fields(joined, delim)
                if fields is not None and len(_trim(fields, n)) == n:
                    for m in range(k + 1, j):
                        consumed[m] = True
                    add(k, joined, fields)
                    continue
        add(k, line, _split_fields(line, delim))
    n_blank = sum(1 for k in range(total) if blank[k] and not consumed[k])
    plain_mask = pl.Series(
        [not (c or b) for c, b in zip(consumed, blank, strict=True)], dtype=pl.Boolean
    )
    plain = body.filter(plain_mask & ~kind["undecodable"])
    for row, line in body.filter(plain_mask & kind["undecodable"]).select(ROW, "l").iter_rows():
        bad.append((row, "undecodable bytes", f"not valid {enc}", line))
    parts = plain.select(ROW, "l", pl.col("l").str.split(delim).alias("p"))
    width = pl.col("p").list.len()
    extra_empty = (
        pl.col("p").list.slice(n).list.eval(pl.element().str.strip_chars() == "").list.all()
    )
    parts = parts.with_columns(ok=(width == n) | ((width > n) & extra_empty))
    for row, line in parts.filter(~pl.col("ok")).select(ROW, "l").iter_rows():
        fields = _trim(line.split(delim), n)
        bad.append((row, "wrong field count", f"{len(fields)} fields, header has {n}", line))
    good = parts.filter(pl.col("ok")).select(
        *[pl.col("p").list.get(i, null_on_oob=True).alias(name) for i, name in enumerate(header)],
        pl.col(ROW),
    )
    cols = list(zip(*py_rows, strict=True)) if py_rows else [() for _ in header]
    quoted = pl.DataFrame(
        {
            **{
                name: pl.Series(name, list(col), dtype=pl.String)
                for name, col in zip(header, cols, strict=True)
            },
            ROW: pl.Series(ROW, py_nums, dtype=pl.Int64),
        }
    )
    frame = pl.concat([good, quoted]).sort(ROW) if quoted.height else good
    return frame, _malformed_frame(bad).sort(ROW), n_blank


def _trim(fields: list[str], n: int) -> list[str]:
    """Drop empty trailing fields beyond the header's width (a trailing delimiter)."""
    while len(fields) > n and fields[-1].strip() == "":
        fields = fields[:-1]
    return fields


def _unique_names(names: list[str]) -> list[str]:
    """Distinct, non-empty column names that polars reads literally (``*``, ``^...$`` are
    wildcard and regex selectors in ``pl.col``, so they are bracketed).

    A name the header gives to several columns is numbered in each of them (``Caller_1``,
    ``Caller_2``), so that a mapping can name either; the bare name then names none.

    Examples
    --------
    >>> _unique_names(["id", "Caller", "Caller", "", "*"])
    ['id', 'Caller_1', 'Caller_2', 'column_4', '[*]']
    """
    bases = []
    for i, name in enumerate(names):
        base = name or f"column_{i + 1}"
        if base == "*" or (base.startswith("^") and base.endswith("$")):
            base = f"[{base}]"
        bases.append(base)
    repeated = {b for b in bases if bases.count(b) > 1}
    taken = {ROW, *(b for b in bases if b not in repeated)}
    counter: dict[str, int] = {}
    out = []
    for base in bases:
        if base in repeated or base in out or base == ROW:
            k = counter.get(base, 0)
            while True:
                k += 1
                name = f"{base}_{k + (1 if base == ROW else 0)}"
                if name not in taken:
                    break
            counter[base] = k
            base = name
        taken.add(base)
        out.append(base)
    return out


def _note_duplicates(info: dict[str, Any], given: list[str], names: list[str]) -> None:
    """Record header names given more than once and the names their columns are read as
    (``info["duplicate_columns"]``: ``{"Caller": ["Caller_1", "Caller_2"]}``).

    Examples
    --------
    >>> info = {}
    >>> _note_duplicates(info, ["id", "Caller", "Caller"], ["id", "Caller_1", "Caller_2"])
    >>> info
    {'duplicate_columns': {'Caller': ['Caller_1', 'Caller_2']}}
    """
    seen: dict[str, list[str]] = {}
    for g, n in zip(given, names, strict=True):
        seen.setdefault(g, []).append(n)
    dups = {g: ns for g, ns in seen.items() if len(ns) > 1}
    if dups:
        info["duplicate_columns"] = dups


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
