"""User-facing errors: the CLI prints them as one line and exits non-zero, never a traceback."""

from __future__ import annotations

__all__ = ["KpiError"]


class KpiError(ValueError):
    """A mistake in the user's input (arguments, files, data) with a readable message.

    Examples
    --------
    >>> str(KpiError("unknown KPI 'x'; valid: aht, asa"))
    "unknown KPI 'x'; valid: aht, asa"
    """
