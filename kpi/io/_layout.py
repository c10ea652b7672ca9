"""Report layout around the records: title lines above the header, totals rows below the data.

Exports made for people put a title (``Daily Call Report``, ``Generated 2025-03-05``) above
the header and a ``Total`` row under the data. :func:`find_header` finds the header line a
mapping's column names are on when they are not on the first line; :func:`drop_totals` sets
aside the rows that sum the records (first filled cell ``Total``, ``Grand total``, ``Sum``,
``Summe``, ``Gesamt``, ...) so they are neither loaded as a record nor counted as a
quarantined one: like a blank line they are not records, and the report lists them.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path
from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.io._mapping import norm
from kpi.io._read import DELIMITERS, ROW, Source

__all__ = [
    "HEADER_AGAIN",
    "HEADER_SEARCH_ROWS",
    "drop_totals",
    "find_header",
    "refuse_state_log",
]

#: Label of a row that repeats the header (paged reports), in :func:`drop_totals`'s list.
HEADER_AGAIN = "(the header again)"

#: Rows of a file searched for the header when the first one is not it.
HEADER_SEARCH_ROWS = 30

_TOTALS = (
    r"(?i)^(grand[ _-]?total|sub[ _-]?total|totals?|total general|sum|summe|gesamt(summe)?|"
    r"insgesamt|totaal|totale|totaux?|overall)\s*:?$"
)


def drop_totals(source: Source) -> tuple[Source, list[dict[str, Any]]]:
    """The source without its totals rows and repeated headers, and those rows (row, label).

    A totals row has a first filled cell that is a totals word (a whole cell: ``Total``,
    ``Grand Total``, ``Totals:``, ``Summe``; not ``Total loss``) and at least one empty cell
    (the key columns a total has no value for). A row whose filled cells (at least half of
    them) each hold their column's name repeats the header, as paged reports do.

    Examples
    --------
    >>> import polars as pl
    >>> from pathlib import Path
    >>> frame = pl.DataFrame(
    ...     {
    ...         "Id": ["A1", "A2", "Total"],
    ...         "Wait": ["5", "7", "12"],
    ...         "Agent": ["x", "y", None],
    ...         "__row": [2, 3, 5],
    ...     }
    ... )
    >>> src = Source(Path("x.csv"), frame, pl.DataFrame())
    >>> kept, totals = drop_totals(src)
    >>> kept.frame["Id"].to_list(), totals
    (['A1', 'A2'], [{'row': 5, 'label': 'Total'}])
    """
    cols = [c for c in source.frame.columns if c != ROW]
    if not cols or source.frame.height == 0:
        return source, []
    frame = source.frame
    strings = [c for c in cols if frame.schema[c] == pl.String]
    if not strings:
        return source, []
    bare = {c: re.sub(r"_\d+$", "", c) for c in strings}  # Caller_1 repeats as "Caller"
    # cheap pass: a totals row has an empty cell, a repeated header a cell holding its name
    maybe = pl.any_horizontal([pl.col(c).is_null() for c in cols]) | pl.any_horizontal(
        [pl.col(c).is_in([c, b]) for c, b in bare.items()]
    )
    rows = frame.filter(maybe)
    if rows.height == 0:
        return source, []
    # the reader strips cells and reads empty ones as null; a typed cell (a number, a date)
    # is filled but never a totals word
    text = [
        pl.col(c) if c in bare else pl.when(pl.col(c).is_not_null()).then(pl.lit("#"))
        for c in cols
    ]
    first = pl.coalesce(text)
    has_empty = pl.any_horizontal([t.is_null() for t in text])
    names = [
        t.is_null() | t.is_in([c, bare[c]]) if c in bare else t.is_null()
        for t, c in zip(text, cols, strict=True)
    ]
    filled = pl.sum_horizontal([t.is_not_null() for t in text])
    header = pl.all_horizontal(names) & (filled >= max(2, (len(cols) + 1) // 2))
    label = pl.when(header).then(pl.lit(HEADER_AGAIN)).otherwise(first)
    marked = rows.select(
        pl.col(ROW),
        label.alias("label"),
        (header | (label.str.contains(_TOTALS) & has_empty)).fill_null(False).alias("drop"),
    ).filter(pl.col("drop"))
    if marked.height == 0:
        return source, []
    kept = frame.filter(~pl.col(ROW).is_in(marked[ROW].implode()))
    found = [{"row": int(r), "label": str(v)} for r, v in marked.select(ROW, "label").rows()]
    info = {**source.info, "rows_not_records": found}
    return Source(source.path, kept, source.malformed, info), found


def find_header(source: Source, names: list[str]) -> int | None:
    """Rows above the line holding every one of ``names`` (a header under a title), or None.

    Only the first :data:`HEADER_SEARCH_ROWS` rows are looked at, as text for CSV and TSV
    (in the encoding and delimiter the reader found) and as cells for Excel.
    """
    wanted = {norm(n) for n in names}
    if not wanted:
        return None
    for i, candidates in enumerate(_head_rows(source)):
        if i and any(wanted <= {norm(f.strip("\ufeff")) for f in c} for c in candidates):
            return i
    return None


def _head_rows(source: Source) -> list[list[list[str]]]:
    """The first rows of the file, each as its possible lists of fields."""
    info = source.info
    if info.get("format") == "excel":
        import fastexcel

        try:
            reader = fastexcel.read_excel(source.path)
            sheet = reader.sheet_names.index(info["sheet"])
            head = reader.load_sheet(
                sheet, header_row=None, n_rows=HEADER_SEARCH_ROWS, dtypes="string"
            ).to_polars()
        except Exception:  # the sheet was read once already: no header search then
            return []
        return [[["" if v is None else str(v) for v in row]] for row in head.rows()]
    if "encoding" not in info:
        return []
    with Path(source.path).open("rb") as fh:
        data = fh.read(1 << 16)
    text = data.decode(codecs.lookup(info["encoding"]).name, errors="replace")
    # the delimiter was sniffed on the title: try each one on every line
    return [
        [_fields(line, d) for d in DELIMITERS] for line in text.splitlines()[:HEADER_SEARCH_ROWS]
    ]


def _fields(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    except csv.Error:  # a NUL byte, a broken quote: not the header
        return []


#: Column names (normalised) of an agent-state log: one row per state change, not per interval.
_STATE_COLUMNS = ("state", "agent_state", "status", "agent_status", "activity", "aux_reason")


def refuse_state_log(source: Source, resolved: dict[str, list[str]], repeats: int) -> None:
    """An agent_time source with a state column (several states, or rows repeating agent and
    start) is a state log: loading it per row would invent intervals; refused in one line."""
    used = {s for srcs in resolved.values() for s in srcs}
    state = [c for c in source.columns if c not in used and norm(c) in _STATE_COLUMNS]
    if state and (repeats or source.frame[state[0]].drop_nulls().n_unique() > 1):
        raise KpiError(
            f"{source.path}: column {state[0]!r} names a state"
            + (f" and {repeats:,} rows repeat an agent and start time" if repeats else "")
            + ": this looks like an agent-state log (one row per state "
            "change): map it with a [states] section (docs/importing.md), which sums the time "
            "in each state per agent and interval"
        )
