"""Output that cannot attack its reader: text from data is made inert before it reaches a
spreadsheet or a terminal.

- **Spreadsheets (CSV formula injection).** A text cell that starts with ``=``, ``+``, ``-`` or
  ``@`` (also after leading tabs, carriage returns or spaces), or with a tab or carriage return,
  is read by Excel, LibreOffice and Google Sheets as a formula. As OWASP recommends, such a cell
  is written with a leading apostrophe (``'=HYPERLINK(...)``), which spreadsheets show as text
  and which a person can see. Only text columns are touched: numbers stay numbers (``-5`` in an
  integer column is not text). Machine consumers that need the raw values ask for them
  (``--raw-csv`` on the commands that write CSV).
- **Terminals.** Control characters in data (ESC sequences that clear the screen or recolour
  it, backspaces, bells, C1 controls) are shown as visible escapes (``\\x1b``) instead of being
  sent to the terminal; newlines and tabs in free text are shown as ``\\n`` and ``\\t`` where a
  value must stay on one line.
"""

from __future__ import annotations

import re

import polars as pl

__all__ = ["FORMULA_START", "csv_safe", "csv_safe_frame", "terminal_safe", "terminal_safe_frame"]

#: A text cell a spreadsheet would evaluate: a formula sign after optional blanks, or a leading
#: tab or carriage return.
FORMULA_START = r"^(?:[\t\r ]*[=+\-@\uff1d\uff0b\uff0d\uff20]|[\t\r])"
_FORMULA = re.compile(FORMULA_START)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def csv_safe(value: object) -> object:
    """``value`` made inert for a spreadsheet (text only; other values unchanged).

    Examples
    --------
    >>> csv_safe("=HYPERLINK(\\"http://x\\")"), csv_safe("\\t+1"), csv_safe("Billing"), csv_safe(-5)
    ('\\'=HYPERLINK("http://x")', "'\\t+1", 'Billing', -5)
    """
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def _text_columns(frame: pl.DataFrame) -> list[str]:
    """Columns that hold text: strings, categoricals and enums (written and shown as text)."""
    return [
        c
        for c, t in frame.schema.items()
        if t == pl.String or isinstance(t, (pl.Categorical, pl.Enum))
    ]


def csv_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``frame`` made inert for a spreadsheet (see the module docstring).

    Categorical and enum columns are text in a CSV file too: they come back as strings.

    Examples
    --------
    >>> df = pl.DataFrame({"queue": ["=1+1", "@SUM(A1)", "ok", None], "n": [-1, 2, 3, 4]})
    >>> csv_safe_frame(df).rows()
    [("'=1+1", -1), ("'@SUM(A1)", 2), ('ok', 3), (None, 4)]
    >>> csv_safe_frame(pl.DataFrame({"t": ["-x"]}, schema={"t": pl.Categorical})).rows()
    [("'-x",)]

    The header is a row of cells too: a column named from the data (a source file's header
    kept in a quarantine file) is made inert the same way.

    >>> csv_safe_frame(pl.DataFrame({"=cmd|' /C calc'!A0": [1], "ok": [2]})).columns
    ["'=cmd|' /C calc'!A0", 'ok']
    """
    text = _text_columns(frame)
    if text:
        frame = frame.with_columns(
            pl.when(pl.col(c).cast(pl.String).str.contains(FORMULA_START))
            .then(pl.lit("'") + pl.col(c).cast(pl.String))
            .otherwise(pl.col(c).cast(pl.String))
            .alias(c)
            for c in text
        )
    names = {c: str(csv_safe(c)) for c in frame.columns}
    changed = {c: n for c, n in names.items() if n != c}
    if changed:
        taken = set(frame.columns)
        # a safe name already taken (both "=x" and "'=x" in one header) gets more apostrophes
        for c, n in changed.items():
            while n in taken:
                n = "'" + n
            taken.add(n)
            changed[c] = n
        frame = frame.rename(changed)
    return frame


def _escape_char(ch: str) -> str:
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch, f"\\x{ord(ch):02x}")


def _escape(match: re.Match[str]) -> str:
    return _escape_char(match.group(0))


def terminal_safe(text: str, *, one_line: bool = False) -> str:
    """``text`` with control characters shown as escapes, never sent to the terminal.

    Parameters
    ----------
    text
        Text that may come from data.
    one_line
        Also escape newlines and tabs (for a value inside a table row).

    Examples
    --------
    >>> terminal_safe("Bil\\x1b[2J\\x1b[31mling")
    'Bil\\\\x1b[2J\\\\x1b[31mling'
    >>> terminal_safe("a\\nb"), terminal_safe("a\\nb", one_line=True)
    ('a\\nb', 'a\\\\nb')
    """
    return (_LINE if one_line else _CONTROL).sub(_escape, text)


#: Every character :func:`terminal_safe` escapes on one line, with its visible escape.
_LINE_CHARS = [chr(i) for i in (*range(0x20), *range(0x7F, 0xA0))]
_LINE_ESCAPES = [_escape_char(ch) for ch in _LINE_CHARS]


def terminal_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column (and column name) of ``frame`` with control characters shown as
    escapes, one line each.

    Examples
    --------
    >>> terminal_safe_frame(pl.DataFrame({"q": ["a\\x1b[2Jb", None]}))["q"].to_list()
    ['a\\\\x1b[2Jb', None]
    >>> terminal_safe_frame(pl.DataFrame({"a\\x07": [1]})).columns
    ['a\\\\x07']
    """
    names = {c: terminal_safe(c, one_line=True) for c in frame.columns}
    if any(k != v for k, v in names.items()):
        frame = frame.rename(names)
    text = _text_columns(frame)
    if not text:
        return frame
    return frame.with_columns(
        pl.col(c).cast(pl.String).str.replace_many(_LINE_CHARS, _LINE_ESCAPES) for c in text
    )
