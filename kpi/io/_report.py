"""The import report: every row accounted for, every repair and inference stated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ImportReport"]


@dataclass
class ImportReport:
    """What an import read, loaded, quarantined, repaired, inferred and assumed.

    ``read == loaded + quarantined`` always holds; :meth:`check` asserts it.

    Examples
    --------
    >>> r = ImportReport(input="calls.csv", table="contacts", timezone="Europe/London")
    >>> r.read, r.loaded = 3, 2
    >>> r.quarantine("unparseable wait_s", [{"row": 4, "detail": "'x'"}], 1)
    >>> r.repair("null topic", "set to 'unknown'", 1)
    >>> r.check()
    >>> print(r.summary())  # doctest: +NORMALIZE_WHITESPACE
    kpi import: calls.csv -> contacts (time zone Europe/London)
      read            3
      loaded          2
      quarantined     1
        unparseable wait_s  1  (row 4)
      repaired
        null topic: 1 row, set to 'unknown'
    """

    input: str
    table: str
    timezone: str = "UTC"
    preset: str | None = None
    mapping: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    quarantine_examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    inferred: dict[str, Any] = field(default_factory=dict)
    assumed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)

    def quarantine(self, reason: str, examples: list[dict[str, Any]], rows: int) -> None:
        """Count ``rows`` quarantined for ``reason`` (with a few example rows)."""
        if rows <= 0:
            return
        self.quarantined += rows
        self.quarantined_by_reason[reason] = self.quarantined_by_reason.get(reason, 0) + rows
        have = self.quarantine_examples.setdefault(reason, [])
        have.extend(examples[: max(0, 5 - len(have))])

    def repair(self, what: str, how: str, rows: int) -> None:
        """Record that ``rows`` rows had ``what`` wrong and were repaired by ``how``."""
        if rows > 0:
            self.repaired.append({"what": what, "how": how, "rows": int(rows)})

    def check(self) -> None:
        """Assert the accounting identity read = loaded + quarantined."""
        total = sum(self.quarantined_by_reason.values())
        if self.read != self.loaded + self.quarantined or total != self.quarantined:
            raise AssertionError(
                f"import accounting broken: read {self.read} != loaded {self.loaded} + "
                f"quarantined {self.quarantined} (by reason {total})"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``import_report.json``)."""
        return {
            "input": self.input,
            "table": self.table,
            "preset": self.preset,
            "mapping": self.mapping,
            "timezone": self.timezone,
            "source": self.source,
            "read": self.read,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "quarantined_by_reason": dict(
                sorted(self.quarantined_by_reason.items(), key=lambda kv: -kv[1])
            ),
            "quarantine_examples": self.quarantine_examples,
            "repaired": self.repaired,
            "inferred": self.inferred,
            "assumed": self.assumed,
            "warnings": self.warnings,
            "output": self.output,
        }

    def summary(self) -> str:
        """A readable summary for the terminal."""
        how = f" with preset {self.preset}" if self.preset else ""
        how += f" with mapping {self.mapping}" if self.mapping else ""
        src = self.source
        fmt = ", ".join(
            str(src[k])
            for k in ("format", "encoding", "delimiter_name", "line_ending", "sheet")
            if src.get(k)
        )
        fmt = f" ({fmt})" if fmt else ""
        lines = [
            f"kpi import: {self.input}{fmt}{how} -> {self.table} (time zone {self.timezone})",
            f"  read        {self.read:>9,}",
            f"  loaded      {self.loaded:>9,}",
            f"  quarantined {self.quarantined:>9,}"
            + (f"  -> {self.output['quarantine']}" if self.output.get("quarantine") else ""),
        ]
        width = max((len(r) for r in self.quarantined_by_reason), default=0)
        for reason, n in sorted(self.quarantined_by_reason.items(), key=lambda kv: -kv[1]):
            rows = [str(e["row"]) for e in self.quarantine_examples.get(reason, [])]
            more = ", ..." if n > len(rows) else ""
            where = f"  (row{'s' if n > 1 else ''} {', '.join(rows)}{more})" if rows else ""
            lines.append(f"    {reason:<{width}}  {n:>7,}{where}")
        if self.repaired:
            lines.append("  repaired")
            for r in self.repaired:
                s = "s" if r["rows"] != 1 else ""
                lines.append(f"    {r['what']}: {r['rows']:,} row{s}, {r['how']}")
        if self.inferred:
            lines.append("  inferred")
            for key, value in self.inferred.items():
                lines.append(f"    {key}: {_fmt(value)}")
        if self.assumed:
            lines.append("  assumed")
            lines += [f"    {a}" for a in self.assumed]
        if self.warnings:
            lines.append("  warnings")
            lines += [f"    {w}" for w in self.warnings]
        out = self.output
        if out.get("table_file"):
            lines.append(
                f"  wrote {out['table_file']} ({out.get('rows_in_table', self.loaded):,} rows"
                + (f", {out['replaced']:,} existing rows replaced" if out.get("replaced") else "")
                + ")"
            )
        if out.get("report"):
            lines.append(f"  report: {out['report']}")
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k} = {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value[:12]]
        return ", ".join(items) + (f", ... ({len(value)} in all)" if len(value) > 12 else "")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
