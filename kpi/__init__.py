"""kpi-workbench: contact-centre and customer-service KPIs on polars.

``import kpi`` needs only polars (and numpy/scipy); charts, widgets and report rendering import
their heavy dependencies when first used.
"""

from __future__ import annotations

from kpi import _allocator  # noqa: F401  (first: before polars is loaded)

__version__ = "0.1.0"

from kpi.compute import compute, evaluate
from kpi.data import Dataset, load, save
from kpi.errors import KpiError
from kpi.metrics import METRICS, catalogue, definitions

__all__ = [
    "METRICS",
    "Dataset",
    "KpiError",
    "__version__",
    "catalogue",
    "compute",
    "definitions",
    "evaluate",
    "load",
    "save",
]
