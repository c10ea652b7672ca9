"""Bring your own data: import call logs, interval reports and ticket logs as canonical tables.

``kpi import`` (:mod:`kpi.cli.import_cmd`) is the command-line face of :func:`import_file`:

- presets for known formats: ``technion`` (the Technion "Anonymous Bank" call log),
  ``tickets`` (ticket logs such as the NYC Council casework), ``interval`` (ACD interval
  reports) and ``contacts`` (call logs with common column names);
- ``--mapping FILE.toml`` (:func:`load_mapping`) for any other export.

Every import accounts for every row: ``read = loaded + quarantined``. Rows that cannot be
used go to ``quarantine/<table>.csv`` with their row number in the source file and the
reason; repairs, inferences (time zone, midnight crossings, date formats) and assumptions are
listed in ``import_report.json``. ``docs/importing.md`` is the guide.
"""

from __future__ import annotations

from kpi.io._intervals import contacts_to_intervals
from kpi.io._mapping import Mapping, load_mapping
from kpi.io._read import Source, read_source
from kpi.io._report import ImportReport
from kpi.io._run import PRESETS, ImportResult, import_file

__all__ = [
    "PRESETS",
    "ImportReport",
    "ImportResult",
    "Mapping",
    "Source",
    "contacts_to_intervals",
    "import_file",
    "load_mapping",
    "read_source",
]
