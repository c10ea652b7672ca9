"""Argument helpers and outputs shared by the subcommands.

Arguments are checked when they are parsed: numbers are finite and inside a documented range
(:func:`number`), dates and periods fall in the years of :data:`kpi.periods.YEARS`
(:func:`period_arg`), and an ``--out`` file is not a directory (:func:`out_file`); argparse then
prints one ``error: argument --x: ...`` line naming the option, the value and the range.

Outputs are written with :func:`write_output`: atomically through :mod:`kpi._fs` (a reader sees
the old file or the new one, never half of one), or straight to a device or pipe such as
``/dev/stdout``. Text from data is made inert on the way out (:mod:`kpi._sanitize`): control
characters are escaped in tables and narratives, CSV text cells that a spreadsheet would run as
formulas get a leading apostrophe unless ``--raw-csv`` is given, and JSON has ``null`` where a
number is not finite.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "add_definitions",
    "add_raw_csv",
    "csv_list",
    "date_arg",
    "emit_text",
    "json_text",
    "number",
    "out_file",
    "period_arg",
    "positive_int",
    "sidecar",
    "write_batches",
    "write_frame",
    "write_output",
]

#: Help of ``--raw-csv`` (compute, staffing).
RAW_CSV_HELP = (
    "with --format csv: write text cells exactly as they are in the data; by default a cell "
    "that starts with = + - @ (or a tab or carriage return) gets a leading apostrophe so that "
    "spreadsheets show it as text instead of running it as a formula (OWASP CSV injection)"
)


def add_raw_csv(parser: argparse.ArgumentParser | Any) -> None:
    """Add ``--raw-csv`` (see :data:`RAW_CSV_HELP`) to a parser or argument group."""
    parser.add_argument("--raw-csv", action="store_true", help=RAW_CSV_HELP)


def csv_list(text: str) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]`` (empty items dropped).

    Examples
    --------
    >>> csv_list("a,b, c,")
    ['a', 'b', 'c']
    """
    return [part.strip() for part in text.split(",") if part.strip()]


def positive_int(text: str) -> int:
    """argparse type: a whole number from 1 to 1,000,000.

    Examples
    --------
    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a whole number from 1 to 1000000, got '0'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to 1000000, got {text!r}"
        )
    return value


def _bound(value: float) -> str:
    return f"{value:g}"


def number(
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    unit: str = "",
) -> Callable[[str], float]:
    """An argparse type: a finite number inside a range, or an error naming value and range.

    Parameters
    ----------
    low, high
        The bounds (None: unbounded on that side).
    low_open, high_open
        Exclude the bound itself.
    unit
        Shown after the range, e.g. ``"seconds"``.

    Examples
    --------
    >>> share = number(low=0, high=1, low_open=True, high_open=True)
    >>> share("0.8")
    0.8
    >>> share("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number above 0 and below 1, got '1'
    >>> number(low=0, high=1e7, unit="contacts")("inf")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number from 0 to 1e+07 contacts, got 'inf'
    """
    if low is not None and high is not None and not low_open and not high_open:
        text_range = f"from {_bound(low)} to {_bound(high)}"
    else:
        parts = []
        if low is not None:
            parts.append(f"above {_bound(low)}" if low_open else f"{_bound(low)} or more")
        if high is not None:
            parts.append(f"below {_bound(high)}" if high_open else f"at most {_bound(high)}")
        text_range = " and ".join(parts) or "that is finite"
    expected = f"expected a number {text_range}" + (f" {unit}" if unit else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def period_arg(text: str) -> str:
    """argparse type: a date, date-time or period in the supported years (returned as given).

    Examples
    --------
    >>> period_arg("2026-02")
    '2026-02'
    >>> period_arg("9999-12-31")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: date '9999-12-31' is out of range: years 1900 to 2100 are supported
    """
    from kpi.errors import KpiError
    from kpi.periods import to_timestamp

    try:
        to_timestamp(text, "UTC")
    except KpiError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def date_arg(text: str) -> str:
    """argparse type: an ISO date (``2026-01-01``) in the supported years (returned as given).

    Examples
    --------
    >>> date_arg("2026-01-01")
    '2026-01-01'
    >>> date_arg("9999-12-01")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: date '9999-12-01' is out of range: years 1900 to 2100 are supported
    """
    from kpi.errors import KpiError
    from kpi.periods import parse_period

    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-01, got {text!r}")
    try:
        parse_period(text)
    except KpiError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def out_file(text: str) -> str:
    """argparse type: an output file path that is not a directory and not inside a file.

    A missing parent directory is created when the file is written.

    Examples
    --------
    >>> out_file("/")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: '/' is a directory; give a file name, e.g. /out.csv
    """
    path = Path(text)
    if not text or path.is_dir():
        hint = str(path / "out.csv") if text else "out.csv"
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file name, e.g. {hint}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{text!r}: {parent} is a file, not a directory")
            break
    return text


_SYSTEM = (("dev",), ("proc",))


def _destination(out: str | os.PathLike[str]) -> tuple[Path, bool]:
    """Where ``out`` really is, and whether to write it atomically.

    Symbolic links are followed hop by hop, so that a link to a data file is kept and the file
    it points to is replaced. Anything under ``/dev`` or ``/proc`` on the way (``/dev/stdout``,
    ``/dev/null``, ``/proc/self/fd/1``) or a target that is not a regular file (a pipe, a
    device) is written in place: renaming over it would replace the device or the link itself.
    """
    path = Path(os.path.abspath(out))
    for _ in range(40):
        path = Path(os.path.realpath(path.parent)) / path.name
        if path.parts[1:2] in _SYSTEM:
            return path, False
        if not path.is_symlink():
            break
        path = Path(os.path.abspath(path.parent / os.readlink(path)))
    try:
        mode = path.stat().st_mode
    except OSError:
        return path, True
    return path, stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def write_output(out: str | os.PathLike[str], write: Callable[[Path], Any]) -> None:
    """Write an output file with ``write(path)``: atomically, or in place for a device or pipe.

    A file-system error names ``out`` (not the temporary file beside it), so the CLI prints
    ``kpi CMD: error: OUT: No space left on device``; the old ``out``, if any, is untouched.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "new" / "a.txt"
    >>> write_output(target, lambda p: p.write_text("x"))
    >>> target.read_text()
    'x'
    >>> write_output("/dev/null", lambda p: p.write_text("x"))  # in place, never replaced
    >>> Path("/dev/null").is_char_device()
    True
    """
    from kpi._fs import atomic_write

    path, atomic = _destination(out)
    try:
        if atomic:
            atomic_write(path, write)
        else:
            write(path)
    except OSError as exc:
        if exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(out)) from exc
    except pl.exceptions.PolarsError as exc:  # polars reports a failed write as its own error
        found = re.search(r"os error (\d+)", str(exc))
        code = int(found[1]) if found else errno.EIO
        raise OSError(code, os.strerror(code), str(out)) from exc


def emit_text(text: str, out: str | os.PathLike[str] | None) -> None:
    """Print ``text`` (newline-ended) to standard output, or write it to ``out`` atomically.

    On a terminal every format (CSV too) has its control characters escaped.
    """
    from kpi._sanitize import terminal_safe

    text = text if text.endswith("\n") else text + "\n"
    if out:
        write_output(out, lambda p: p.write_text(text, encoding="utf-8", newline=""))
    elif sys.stdout.isatty():
        sys.stdout.write(terminal_safe(text))
    else:
        sys.stdout.write(text)


def _finite(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


#: C1 control characters: JSON allows them raw, terminals may act on them (``\\x9b`` is CSI).
_C1 = {i: f"\\u{i:04x}" for i in range(0x7F, 0xA0)}


def json_text(obj: Any, *, ensure_ascii: bool = True, indent: int | None = 2) -> str:
    """Strict JSON for people and programs: non-finite numbers as ``null``, dates as text,
    control characters escaped.

    Examples
    --------
    >>> json_text({"a": float("nan"), "b": [1.5, float("inf")], "c": "x\\x9by"})
    '{\\n  "a": null,\\n  "b": [\\n    1.5,\\n    null\\n  ],\\n  "c": "x\\\\u009by"\\n}'
    """
    text = json.dumps(
        _finite(obj), indent=indent, default=str, ensure_ascii=ensure_ascii, allow_nan=False
    )
    return text if ensure_ascii else text.translate(_C1)


#: Help of ``--definitions`` (compute).
DEFINITIONS_HELP = (
    "write the definitions in force (and the variants and methods) to this JSON file, in any "
    "format; CSV holds only rows, so with --format csv --out FILE.csv they go beside it in "
    "FILE.definitions.json unless this option names another file"
)


def add_definitions(parser: argparse.ArgumentParser | Any) -> None:
    """Add ``--definitions FILE`` (see :data:`DEFINITIONS_HELP`) to a parser."""
    parser.add_argument("--definitions", type=out_file, metavar="FILE", help=DEFINITIONS_HELP)


def sidecar(out: str | os.PathLike[str]) -> Path | None:
    """The definitions file beside a CSV written to ``out``: ``x.csv`` -> ``x.definitions.json``
    (``None`` for a device or pipe such as ``/dev/stdout``).

    Examples
    --------
    >>> sidecar("reports/kpis.csv").as_posix(), sidecar("/dev/stdout")
    ('reports/kpis.definitions.json', None)
    """
    path = Path(out)
    if not _destination(path)[1]:
        return None
    return path.with_name(f"{path.stem if path.suffix else path.name}.definitions.json")


def write_frame(
    frame: pl.DataFrame,
    fmt: str,
    out: str | None,
    *,
    meta: dict[str, Any] | None = None,
    raw_csv: bool = False,
    definitions: str | os.PathLike[str] | None = None,
) -> None:
    """Print or write a result table as table, csv, json or parquet.

    ``meta`` (definitions, parameters) goes under the table in ``table`` format, into a top-level
    object in ``json`` (``{"meta": ..., "rows": [...]}``) and into the file metadata in
    ``parquet``. CSV is plain CSV, a header line and rows (no ``#`` lines, on standard output
    or in the file): ``meta`` goes to the JSON file ``definitions`` when given (in every
    format), else, for a CSV written to a file, beside it (:func:`sidecar`). Text from data is
    escaped for the terminal in ``table``; CSV text cells are made inert for spreadsheets
    unless ``raw_csv``.
    """
    from kpi._sanitize import terminal_safe, terminal_safe_frame

    meta = meta or {}
    if fmt != "table":
        write_batches([frame], fmt, out, meta=meta, raw_csv=raw_csv, definitions=definitions)
        return
    with pl.Config(tbl_rows=200, tbl_cols=60, tbl_width_chars=200, fmt_str_lengths=60):
        text = str(terminal_safe_frame(frame))
    lines = [text]
    for key, value in meta.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {v}" for k, v in value.items()]
        else:
            lines.append(f"{key}: {value}")
    emit_text(terminal_safe("\n".join(lines)), out)
    if out:
        print(f"wrote {frame.height} rows to {terminal_safe(str(out))}", file=sys.stderr)
    _write_definitions(meta, definitions, None)


def write_batches(
    batches: Iterable[pl.DataFrame],
    fmt: str,
    out: str | None,
    *,
    meta: dict[str, Any] | None = None,
    raw_csv: bool = False,
    definitions: str | os.PathLike[str] | None = None,
) -> None:
    """:func:`write_frame` for a table given in batches (at least one, empty or not), written
    as they come, in ``csv``, ``json`` or ``parquet``: the output of their concatenation
    (the same bytes in CSV and JSON), without ever holding it.

    Examples
    --------
    >>> import io, contextlib
    >>> parts = [pl.DataFrame({"team": ["=A"], "n": [1]}), pl.DataFrame({"team": ["B"], "n": [2]})]
    >>> with contextlib.redirect_stdout(io.StringIO()) as text:
    ...     write_batches(parts, "csv", None)
    >>> from kpi._sanitize import csv_safe_frame
    >>> text.getvalue() == csv_safe_frame(pl.concat(parts)).write_csv()
    True
    """
    from kpi._sanitize import terminal_safe
    from kpi.errors import KpiError

    meta = meta or {}
    counted = _Counted(batches)
    if fmt == "parquet":
        if not out:
            raise KpiError("--format parquet needs --out FILE (Parquet is not for a terminal)")
        write_output(out, lambda p: _sink_parquet(counted, p, meta))
        print(f"wrote {counted.rows} rows to {terminal_safe(str(out))}", file=sys.stderr)
        return
    pieces = (
        _json_pieces(counted, meta) if fmt == "json" else _csv_pieces(counted, raw_csv=raw_csv)
    )
    if out:
        write_output(out, lambda p: _write_pieces(pieces, p))
        print(f"wrote {counted.rows} rows to {terminal_safe(str(out))}", file=sys.stderr)
    else:
        tty = sys.stdout.isatty()
        for piece in pieces:
            sys.stdout.write(terminal_safe(piece) if tty else piece)
    _write_definitions(meta, definitions, out if fmt == "csv" else None)


class _Counted:
    """The batches, counting their rows as they go by."""

    def __init__(self, batches: Iterable[pl.DataFrame]) -> None:
        self.batches = batches
        self.rows = 0

    def __iter__(self) -> Iterator[pl.DataFrame]:
        for batch in self.batches:
            self.rows += batch.height
            yield batch


def _csv_pieces(batches: Iterable[pl.DataFrame], *, raw_csv: bool) -> Iterator[str]:
    from kpi._sanitize import csv_safe_frame

    for i, batch in enumerate(batches):
        yield (batch if raw_csv else csv_safe_frame(batch)).write_csv(include_header=i == 0)


def _json_pieces(batches: Iterable[pl.DataFrame], meta: dict[str, Any]) -> Iterator[str]:
    """``{"meta": ..., "rows": [...]}`` as :func:`json_text` prints it, a batch at a time."""
    empty = json_text({"meta": meta, "rows": []})
    head = empty.removesuffix("[]\n}")
    first = True
    for batch in batches:
        if batch.height == 0:
            continue
        rows = json_text(batch.to_dicts()).removeprefix("[\n").removesuffix("\n]")
        yield head + "[\n" if first else ",\n"
        yield "\n".join("  " + line for line in rows.split("\n"))
        first = False
    yield empty + "\n" if first else "\n  ]\n}\n"


def _write_pieces(pieces: Iterable[str], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        for piece in pieces:
            f.write(piece)


def _sink_parquet(batches: Iterable[pl.DataFrame], path: Path, meta: dict[str, Any]) -> None:
    """The batches into one Parquet file by polars' streaming sink, ``meta`` as metadata."""
    from polars.io.plugins import register_io_source

    batches = iter(batches)
    first = next(batches)

    def source(*_: Any) -> Iterator[pl.DataFrame]:
        yield first
        yield from batches

    register_io_source(source, schema=first.schema).sink_parquet(
        path, metadata={k: json.dumps(_finite(v), default=str) for k, v in meta.items()}
    )


def _write_definitions(
    meta: dict[str, Any],
    definitions: str | os.PathLike[str] | None,
    csv_out: str | os.PathLike[str] | None,
) -> None:
    """``meta`` as JSON to ``definitions``, else beside a CSV file (after the table: a failed
    write of the table prints its error line alone)."""
    from kpi._sanitize import terminal_safe

    target = Path(definitions) if definitions else (sidecar(csv_out) if csv_out else None)
    if target is None:
        return
    text = json_text(meta, ensure_ascii=False) + "\n"
    write_output(target, lambda p: p.write_text(text, encoding="utf-8"))
    print(f"wrote the definitions to {terminal_safe(str(target))}", file=sys.stderr)
