"""kpi-workbench: contact-centre and customer-service KPIs on polars.

``import kpi`` needs only polars (and numpy/scipy); charts, widgets and report rendering import
their heavy dependencies when first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from kpi.data import Dataset, load, save
from kpi.errors import KpiError

__all__ = ["Dataset", "KpiError", "__version__", "load", "save"]
