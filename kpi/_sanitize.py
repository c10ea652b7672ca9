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


def csv_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``frame`` made inert for a spreadsheet (see the module docstring).

    Examples
    --------
    >>> df = pl.DataFrame({"queue": ["=1+1", "@SUM(A1)", "ok", None], "n": [-1, 2, 3, 4]})
    >>> csv_safe_frame(df).rows()
    [("'=1+1", -1), ("'@SUM(A1)", 2), ('ok', 3), (None, 4)]
    """
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch, f"\\x{ord(ch):02x}")


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


def terminal_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``frame`` with control characters shown as escapes (one line each).

    Examples
    --------
    >>> terminal_safe_frame(pl.DataFrame({"q": ["a\\x1b[2Jb", None]}))["q"].to_list()
    ['a\\\\x1b[2Jb', None]
    """
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.col(c).map_elements(
            lambda v: terminal_safe(v, one_line=True), return_dtype=pl.String, skip_nulls=True
        )
        for c in text
    )
