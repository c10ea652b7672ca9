"""Masking of customer identifiers (ids, phone numbers, e-mail addresses, personal names).

Two layers. :func:`mask_identifiers` masks whole columns whose *name* says they hold an
identifier, and masks e-mail addresses and phone numbers found inside any other text column;
notebooks call it before displaying rows. :func:`mask_text` applies the pattern masking to a
plain string; the renderer runs it over every text output of a report as a safety net when
identifiers are not to be shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

import polars as pl

__all__ = [
    "EMAIL_PATTERN",
    "PHONE_PATTERN",
    "identifier_columns",
    "mask_identifiers",
    "mask_text",
]

#: An e-mail address (the same syntax for Python ``re`` and polars' Rust regex).
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
#: A phone number: international (``+44 20 7946 0958``), North-American style
#: (``(555) 123-4567``, ``555-123-4567``) or a national number with a trunk zero (``02079460958``).
PHONE_PATTERN = (
    r"\+\d[\d ().-]{6,}\d"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}\b"
    r"|\b\d{3}[ .-]\d{3}[ .-]\d{4}\b"
    r"|\b0\d{9,10}\b"
)
F = TypeVar("F", pl.DataFrame, pl.LazyFrame)
_EMAIL_MASK = "***@***"
_PHONE_MASK = "***phone***"

_PHONE_NAMES = re.compile(
    r"^(phone|phone_number|telephone|mobile|msisdn|ani|cli|caller_number)$|_(phone|mobile|msisdn)$"
)
_EMAIL_NAMES = re.compile(r"(^|_)(e_?mail|email_address)$")
_ID_NAMES = re.compile(r"^(customer|caller|client|account|subscriber)(_id|_key|_number|_no)?$")
_PERSON_NAMES = re.compile(r"^(name|agent_name|customer_name|full_name|first_name|last_name)$")

_EMAIL_RE = re.compile(EMAIL_PATTERN)
_PHONE_RE = re.compile(PHONE_PATTERN)


def identifier_columns(names: Iterable[str]) -> list[str]:
    """The column names that hold customer identifiers or personal names.

    Examples
    --------
    >>> identifier_columns(["contact_id", "customer_id", "topic", "email", "caller_phone", "name"])
    ['customer_id', 'email', 'caller_phone', 'name']
    """
    patterns = (_ID_NAMES, _PHONE_NAMES, _EMAIL_NAMES, _PERSON_NAMES)
    return [n for n in names if any(p.search(n.lower()) for p in patterns)]


def mask_text(text: str) -> str:
    """Replace e-mail addresses and phone numbers inside a string.

    Examples
    --------
    >>> mask_text("call +44 20 7946 0958 or mail jo.bloggs@example.co.uk on 2026-02-03")
    'call ***phone*** or mail ***@*** on 2026-02-03'
    """
    return _PHONE_RE.sub(_PHONE_MASK, _EMAIL_RE.sub(_EMAIL_MASK, text))


def _mask_id(expr: pl.Expr) -> pl.Expr:
    # an id masked already ("***345") stays as it is: masking twice keeps rows apart
    s = expr.cast(pl.String)
    return (
        pl.when(s.str.starts_with("***"))
        .then(s)
        .when(s.str.len_chars() > 6)
        .then(pl.lit("***") + s.str.slice(-3))
        .otherwise(pl.when(s.is_not_null()).then(pl.lit("***")))
    )


def _mask_person(expr: pl.Expr) -> pl.Expr:
    # "Jane Q. Smith" -> "J. Q. S."
    s = expr.cast(pl.String)
    return s.str.replace_all(r"(\p{L})[\p{L}'-]*\.?", "$1.")


def _mask_patterns(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all(EMAIL_PATTERN, _EMAIL_MASK).str.replace_all(
        PHONE_PATTERN, _PHONE_MASK
    )


def mask_identifiers(
    frame: F,
    *,
    show: bool = False,
    columns: Iterable[str] | None = None,
) -> F:
    """Mask customer identifiers in a frame before it is shown in a report.

    Parameters
    ----------
    frame
        Any frame (eager or lazy; the result has the same kind).
    show
        ``True`` returns the frame unchanged (the report's ``show_identifiers`` parameter).
    columns
        Identifier columns to mask; default: those :func:`identifier_columns` recognises by name.

    Returns
    -------
    The frame with identifier columns masked (ids keep their last 3 characters, personal names
    become initials, e-mail and phone columns are replaced) and e-mail addresses and phone
    numbers masked inside every other text column. Nulls stay null.

    Notes
    -----
    Masking is for display: an id's last characters let a reader tell rows apart without
    recovering the customer. Reports show aggregates; rows belong in a report only on request.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame(
    ...     {
    ...         "customer_id": ["C0012345", None],
    ...         "name": ["Jane Smith", "Li"],
    ...         "subject": ["call back on 555-123-4567", "refund"],
    ...     }
    ... )
    >>> mask_identifiers(df)
    shape: (2, 3)
    ┌─────────────┬───────┬──────────────────────────┐
    │ customer_id ┆ name  ┆ subject                  │
    │ ---         ┆ ---   ┆ ---                      │
    │ str         ┆ str   ┆ str                      │
    ╞═════════════╪═══════╪══════════════════════════╡
    │ ***345      ┆ J. S. ┆ call back on ***phone*** │
    │ null        ┆ L.    ┆ refund                   │
    └─────────────┴───────┴──────────────────────────┘

    Masking is idempotent: a masked frame masked again is unchanged.

    >>> twice = mask_identifiers(mask_identifiers(df))
    >>> twice.equals(mask_identifiers(df))
    True
    """
    if show:
        return frame
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    ids = list(columns) if columns is not None else identifier_columns(schema.names())
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if name in ids:
            low = name.lower()
            if _PERSON_NAMES.match(low):
                exprs.append(_mask_person(col).alias(name))
            elif _EMAIL_NAMES.search(low):
                exprs.append(pl.when(col.is_not_null()).then(pl.lit(_EMAIL_MASK)).alias(name))
            elif _PHONE_NAMES.search(low):
                exprs.append(pl.when(col.is_not_null()).then(pl.lit(_PHONE_MASK)).alias(name))
            else:
                exprs.append(_mask_id(col).alias(name))
        elif dtype == pl.String:
            exprs.append(_mask_patterns(col).alias(name))
    return frame.with_columns(exprs) if exprs else frame
