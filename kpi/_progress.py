"""Progress lines for long work (simulation, chunked computation) on standard error."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["reporter"]


def reporter(progress: object, prefix: str) -> Callable[[str], None] | None:
    """The callable that reports a message: ``progress`` itself when callable, a printer of
    ``"<prefix>: <message>"`` lines on standard error when true, else None.

    Examples
    --------
    >>> reporter(False, "kpi sample") is None
    True
    >>> reporter(print, "kpi sample") is print
    True
    """
    if callable(progress):
        return progress  # type: ignore[return-value]
    if progress:
        return lambda msg: print(f"{prefix}: {msg}", file=sys.stderr, flush=True)
    return None
