"""Numbers written for people: decimal commas, thousands separators, one convention per file.

European exports write ``12,5`` seconds and ``1.234,50`` euros; US exports ``1,234.50``. A
file keeps one convention, so :func:`detect_decimal` reads it from the number columns of the
file (``read.decimal`` in a mapping says it outright) and :func:`number_text` rewrites each
value to plain ``1234.5`` before it is parsed as a count, a duration or an amount. A value
that reads two ways (``1,234``: one thousand two hundred and thirty-four, or 1.234) with no
other number in the file to tell is an error asking for ``read.decimal``, never a guess.
"""

from __future__ import annotations

import polars as pl

from kpi.errors import KpiError
from kpi.io._mapping import Mapping
from kpi.io._parse import DURATION_FORMATS, parse_duration, sane_seconds
from kpi.io._read import Source
from kpi.io._report import ImportReport
from kpi.schema import TABLES

__all__ = [
    "DECIMALS",
    "dashes_missing",
    "decimal_mark",
    "detect_decimal",
    "duration_units",
    "elapsed_seconds",
    "number_text",
    "scored_text",
]

#: Accepted values of ``read.decimal``.
DECIMALS = ("auto", ".", ",")

# blanks (also no-break and thin spaces) and apostrophes group thousands; currency signs go
_NOISE = r"[\s\u00a0\u202f'’$€£¥]"
# a decimal mark followed by other than exactly three digits is a decimal mark
_VOTE = {
    ",": r"^[+-]?[\d.:]*\d,\d+$",
    ".": r"^[+-]?[\d,:]*\d\.\d+$",
}
_THREE = {",": r",\d{3}$", ".": r"\.\d{3}$"}
# thousands grouped with the other mark, optionally followed by a decimal part
_GROUPED = {
    ".": r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$",
    ",": r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$",
}


def _clean(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().str.replace_all(_NOISE, "")


def _sample(values: pl.Series, n: int = 20_000) -> pl.Series:
    """The head of a long column and a fixed random sample of the rest: a file's convention
    shows in its first values; a stray value later is quarantined with its text."""
    if values.len() <= 2 * n:
        return values
    return pl.concat([values.head(n), values.slice(n).sample(n, seed=0)])


def _votes(values: pl.Series, mark: str) -> pl.Series:
    """Values that show ``mark`` as the decimal mark (``12,5``, ``1.234,50``; not ``1,234``)."""
    other = "." if mark == "," else ","
    v = _sample(values.filter(values.str.contains(mark, literal=True)))
    v = v.to_frame("v").select(_clean(pl.col("v"))).to_series()
    plain = v.str.contains(_VOTE[mark]) & ~v.str.contains(_THREE[mark])
    both = v.str.contains(_GROUPED[mark]) & v.str.contains(_VOTE[mark]) & v.str.contains(other)
    return v.filter((plain | both).fill_null(False))


def detect_decimal(
    columns: dict[str, pl.Series],
    *,
    given: str,
    what: str,
    whole: set[str] | frozenset[str] = frozenset(),
) -> tuple[str, str]:
    """The file's decimal mark and how it was found.

    Parameters
    ----------
    columns
        Source column name -> its text values, for every number column the import reads.
    given
        ``read.decimal``: ``"."`` or ``","`` (used as is), or ``"auto"``.
    what
        The file, for error messages.
    whole
        Columns of counts: ``1,234`` there is a thousand and more, not a reason to ask.

    Returns
    -------
    tuple of str
        ``(mark, evidence)``: ``"."`` or ``","``, and a phrase for the import report (empty
        when nothing in the file needed the choice).

    Raises
    ------
    KpiError
        When the file writes decimals both ways, or only values that read two ways.

    Examples
    --------
    >>> import polars as pl
    >>> detect_decimal({"Wait": pl.Series(["12,5", "3"])}, given="auto", what="f.csv")
    (',', "decimal comma (e.g. 'Wait' = '12,5')")
    >>> detect_decimal({"Revenue": pl.Series(["1,234.50"])}, given="auto", what="f.csv")
    ('.', "decimal point (e.g. 'Revenue' = '1,234.50')")
    >>> detect_decimal({"Wait": pl.Series(["12", "7"])}, given="auto", what="f.csv")
    ('.', '')

    A count cannot be 1.25 calls: ``1.250`` in a column of counts groups thousands with a
    point, so the file writes decimals with a comma.

    >>> detect_decimal(
    ...     {"Offered": pl.Series(["40", "1.250"])}, given="auto", what="f.csv", whole={"Offered"}
    ... )
    (',', "decimal comma (e.g. 'Offered' = '1.250')")
    """
    if given not in DECIMALS:
        raise KpiError(f'{what}: read.decimal must be ".", "," or "auto", got {given!r}')
    if given in (".", ","):
        return given, f"decimal {'comma' if given == ',' else 'point'} (read.decimal)"
    found: dict[str, tuple[str, str]] = {}
    for mark in (",", "."):
        for name, values in columns.items():
            hits = _votes(values.drop_nulls(), mark)
            if hits.len():
                found[mark] = (name, hits[0])
                break
    for name in sorted(whole):  # a count grouped by points (1.250 calls): a decimal comma
        if "," in found:
            break
        v = _sample(
            columns[name].drop_nulls().filter(columns[name].str.contains(".", literal=True))
        )
        v = v.to_frame("v").select(_clean(pl.col("v"))).to_series()
        grouped = v.filter(v.str.contains(r"^[+-]?\d{1,3}(?:\.\d{3})+$"))
        if grouped.len():
            found[","] = (name, grouped[0])
    if len(found) == 2:
        (nc, vc), (nd, vd) = found[","], found["."]
        raise KpiError(
            f"{what}: numbers are written with a decimal comma ({nc!r} = {vc!r}) and with a "
            f'decimal point ({nd!r} = {vd!r}); set read.decimal = "," or "." in the mapping'
        )
    if found:
        mark, (name, value) = next(iter(found.items()))
        word = "comma" if mark == "," else "point"
        return mark, f"decimal {word} (e.g. {name!r} = {value!r})"
    for name, values in columns.items():
        if name in whole:
            continue
        v = values.drop_nulls()
        v = _sample(v.filter(v.str.contains(",", literal=True)))
        v = v.to_frame("v").select(_clean(pl.col("v"))).to_series()
        two_way = v.filter(v.str.contains(r"^[+-]?\d{1,3}(?:,\d{3})+$"))
        if two_way.len():
            example = two_way[0]
            raise KpiError(
                f"{what}: column {name!r} has numbers such as {example!r} that read as "
                f"{example.replace(',', '')} (comma between thousands) or "
                f"{example.replace(',', '.', 1)} (decimal comma), and no other number in the "
                'file tells which; set read.decimal = "." or "," in the mapping'
            )
    return ".", ""


def number_text(text: pl.Expr, mark: str) -> pl.Expr:
    """Number text rewritten with a decimal point and no thousands separators.

    Values that are not numbers in the file's convention pass with only blanks removed, so
    they stay unparseable and are quarantined with their original value.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["1.234,50", "12,5", "0:01:12,5", "€ 3", "1.5.6"]).to_frame("t")
    >>> s.select(number_text(pl.col("t"), ",")).to_series().to_list()
    ['1234.50', '12.5', '0:01:12.5', '3', '1.5.6']
    >>> s = pl.Series(["1,234.50", "12.5", "1 234"]).to_frame("t")
    >>> s.select(number_text(pl.col("t"), ".")).to_series().to_list()
    ['1234.50', '12.5', '1234']
    """
    v = _clean(text)
    other = "." if mark == "," else ","
    grouped = v.str.contains(_GROUPED[mark])
    ungrouped = pl.when(grouped).then(v.str.replace_all(other, "", literal=True)).otherwise(v)
    if mark == ".":
        return ungrouped
    # a single decimal comma (in a number or the seconds of h:mm:ss,f) becomes a point
    single = ungrouped.str.count_matches(",", literal=True) == 1
    no_point = ~ungrouped.str.contains(".", literal=True)
    return (
        pl.when(single & no_point)
        .then(ungrouped.str.replace(",", ".", literal=True))
        .otherwise(ungrouped)
    )


def decimal_mark(
    source: Source, m: Mapping, resolved: dict[str, list[str]], report: ImportReport
) -> str:
    """The file's decimal mark, from its number columns written as text (``read.decimal``)."""
    table = TABLES[m.table]
    texts: dict[str, pl.Series] = {}
    whole: set[str] = set()
    numbers = {**resolved, **{f"__after_{c}": [a["add"]] for c, a in m.after.items()}}
    for col, srcs in numbers.items():
        target = pl.Float64 if col.startswith("__after_") else table.column(col).dtype
        if target not in (pl.Int64, pl.Float64) or len(srcs) != 1:
            continue
        if source.frame.schema[srcs[0]] == pl.String:
            texts[srcs[0]] = source.frame[srcs[0]]
            if target == pl.Int64:
                whole.add(srcs[0])
    mark, evidence = detect_decimal(
        texts, given=str(m.read.get("decimal", "auto")), what=str(source.path), whole=whole
    )
    if evidence:
        report.inferred["numbers"] = evidence
    return mark


def dashes_missing(frame: pl.DataFrame, raw: pl.Expr, col: str, report: ImportReport) -> pl.Expr:
    """A number cell holding only a dash (``-``, ``--``, ``–``) is a report's "none": missing."""
    bare = raw.str.strip_chars()
    dash = ((bare != "") & (bare.str.strip_chars("-–—") == "")).fill_null(False)
    n = int(frame.select(dash.sum()).item() or 0)
    if not n:
        return raw
    report.inferred.setdefault("dashes read as missing", {})[col] = n
    return pl.when(dash).then(None).otherwise(raw)


def elapsed_seconds(raw: pl.Expr, dtype: pl.DataType, unit: str, mark: str) -> pl.Expr:
    """Seconds of an elapsed-time column (``[after]``): a duration cell, a number, or text."""
    if isinstance(dtype, pl.Duration):
        return raw.dt.total_microseconds().cast(pl.Float64) / 1e6
    if dtype.is_numeric():
        return sane_seconds(raw.cast(pl.Float64) * DURATION_FORMATS[unit][0])
    return parse_duration(number_text(raw.cast(pl.String), mark), unit)


#: Score columns whose cells may carry their label (``10 - Extremely likely``).
SCORES = {"surveys": ("csat", "nps", "ces"), "qa_evaluations": ("score",)}
_LABELLED = r"^\s*([+-]?\d+(?:[.,]\d+)?)\s*(?:[-–—:=(/]\s*|\s+)[^\d\s].*$"


def scored_text(
    frame: pl.DataFrame, raw: pl.Expr, table: str, col: str, report: ImportReport
) -> pl.Expr:
    """A score written with its label (``10 - Extremely likely``, ``4 (Satisfied)``) as its
    number; counted in the report. Other values pass unchanged.

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"s": ["10 - Extremely likely", "4 (Satisfied)", "7", "Good"]})
    >>> r = ImportReport(input="s.csv", table="surveys")
    >>> f.select(scored_text(f, pl.col("s"), "surveys", "nps", r)).to_series().to_list()
    ['10', '4', '7', 'Good']
    >>> r.inferred["scores written with their label"]
    {'nps': "2 values such as '10 - Extremely likely' read as their number"}
    """
    if col not in SCORES.get(table, ()):
        return raw
    labelled = raw.str.contains(_LABELLED).fill_null(False)
    hits = frame.select(raw.filter(labelled)).to_series()
    if hits.len() == 0:
        return raw
    report.inferred.setdefault("scores written with their label", {})[col] = (
        f"{hits.len()} values such as {hits[0]!r} read as their number"
    )
    return pl.when(labelled).then(raw.str.extract(_LABELLED, 1)).otherwise(raw)


#: Contact durations checked for a unit that does not fit (a median per answered call).
_PER_CONTACT = ("wait_s", "talk_s", "hold_s", "acw_s", "ivr_s")


def duration_units(frame: pl.DataFrame, m: Mapping, report: ImportReport) -> None:
    """Warn when a contact duration read as seconds looks like another unit.

    Talk times whose median is under a second are Excel fractions of a day or hours; over
    six hours, milliseconds. Nothing is changed: the warning names the format to set.

    Examples
    --------
    >>> import polars as pl
    >>> from kpi.io._mapping import load_mapping
    >>> m = load_mapping({"table": "contacts", "columns": {"talk_s": "Talk"}})
    >>> r = ImportReport(input="c.csv", table="contacts")
    >>> duration_units(pl.DataFrame({"talk_s": [0.0028, 0.0017, 0.0035, 0.0]}), m, r)
    >>> r.warnings[0][:80]
    'talk_s: the typical value is 0.0028 s (median of values above 0), implausible fo'
    """
    for col in _PER_CONTACT:
        if col not in frame.columns or col not in m.columns or col in m.formats:
            continue
        values = frame[col].drop_nulls().filter(frame[col].drop_nulls() > 0)
        if values.len() < 3:
            continue
        median = float(values.median())
        if median < 1:
            hint = '"days" (Excel fractions of a day: 0.0028 is 4 min) or "hours"'
        elif median > 6 * 3600:
            hint = '"milliseconds"'
        else:
            continue
        typical = f"{median:.4g}" if median < 1 else f"{median:,.0f}"
        report.warnings.append(
            f"{col}: the typical value is {typical} s (median of values above 0), "
            f"implausible for a contact; if the column is in another unit set "
            f"formats.{col} = {hint}"
        )
