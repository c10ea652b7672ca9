"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["csv_list", "write_frame"]


def csv_list(text: str) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]`` (empty items dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def write_frame(
    frame: pl.DataFrame,
    fmt: str,
    out: str | None,
    *,
    meta: dict[str, Any] | None = None,
) -> None:
    """Print or write a result table as table, csv, json or parquet.

    ``meta`` (definitions, parameters) goes under the table in ``table`` format, into a top-level
    object in ``json`` (``{"meta": ..., "rows": [...]}``), into the file metadata in ``parquet``, and
    to standard error in ``csv`` so the CSV itself stays clean.
    """
    meta = meta or {}
    if fmt == "parquet":
        if not out:
            raise ValueError("--format parquet needs --out FILE")
        frame.write_parquet(out, metadata={k: json.dumps(v) for k, v in meta.items()})
        print(f"wrote {frame.height} rows to {out}", file=sys.stderr)
        return
    if fmt == "json":
        text = json.dumps({"meta": meta, "rows": frame.to_dicts()}, indent=2, default=str)
    elif fmt == "csv":
        text = frame.write_csv()
        for key, value in meta.items():
            print(f"# {key}: {json.dumps(value, default=str)}", file=sys.stderr)
    else:
        with pl.Config(tbl_rows=200, tbl_cols=60, tbl_width_chars=200, fmt_str_lengths=60):
            text = str(frame)
        lines = [text]
        for key, value in meta.items():
            if isinstance(value, dict):
                lines.append(f"{key}:")
                lines += [f"  {k}: {v}" for k, v in value.items()]
            else:
                lines.append(f"{key}: {value}")
        text = "\n".join(lines)
    if out:
        Path(out).write_text(text if text.endswith("\n") else text + "\n")
        print(f"wrote {frame.height} rows to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
