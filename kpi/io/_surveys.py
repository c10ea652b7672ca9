"""One source, two tables: the surveys a contacts mapping's ``[surveys]`` section fills.

A call log often carries the post-call survey on the call's row (a "Satisfaction rating"
column). :func:`surveys_from_contacts` turns the loaded contact rows that carry a score into
``surveys`` rows: the scores mapped in ``[surveys]`` (``csat``, ``nps``, ``ces``), the
response time (``survey_ts``, the contact's end when not mapped) and the keys both tables
share, carried over from the contact as loaded (ids, defaults and value maps applied).
"""

from __future__ import annotations

import polars as pl

from kpi.io._convert import Staged, convert_mapped
from kpi.io._mapping import SURVEY_SHARED, Mapping
from kpi.io._read import ROW, Source
from kpi.io._report import ImportReport

__all__ = ["CARRIED", "survey_source"]

#: Prefix of the contact values carried into the survey rows (dropped from the quarantine).
CARRIED = "__contact_"


def survey_source(
    source: Source, contacts: pl.DataFrame, m: Mapping
) -> tuple[Source, Mapping] | None:
    """The rows and mapping of the surveys a contacts import carries, or None if no row has a
    score.

    Parameters
    ----------
    source
        The contacts import's source file, as read.
    contacts
        The contact rows loaded (canonical, with ``source_row``).
    m
        The contacts mapping, with its ``[surveys]`` section.
    """
    scores = [src for col, src in m.surveys.items() if col in ("csat", "nps", "ces")]
    keys = [k for k in SURVEY_SHARED if k in contacts.columns]
    carried = contacts.select(
        pl.col("source_row").alias(ROW),
        *[pl.col(k).alias(CARRIED + k) for k in keys],
        pl.coalesce("end_ts", "arrival_ts").alias(CARRIED + "end_ts"),
    )
    frame = source.frame.join(carried, on=ROW, how="inner", maintain_order="left")
    frame = frame.filter(pl.any_horizontal(pl.col(s).is_not_null() for s in scores))
    if frame.height == 0:
        return None
    columns: dict[str, str | list[str]] = dict(m.surveys)
    columns.update({k: CARRIED + k for k in keys})
    columns.setdefault("survey_ts", CARRIED + "end_ts")
    sm = Mapping(
        table="surveys",
        columns=columns,
        timezone=m.timezone,
        name=f"{m.name} [surveys]",
        scale_max=m.scale_max,
    )
    empty = source.malformed.clear()
    return Source(source.path, frame, empty, dict(source.info)), sm


def convert_surveys(sub: Source, sm: Mapping, *, tz: str, report: ImportReport) -> Staged:
    """Convert the survey rows; say where the time stamp came from."""
    if sm.columns.get("survey_ts") == CARRIED + "end_ts":
        report.assumed.append(
            "survey_ts = the contact's end (else its arrival): the source has no response time "
            "(set surveys.survey_ts)"
        )
    report.inferred["carried over from the contact"] = [
        c
        for c, s in sm.columns.items()
        if isinstance(s, str) and s.startswith(CARRIED) and c != "survey_ts"
    ]
    return convert_mapped(sub, sm, tz=tz, report=report)
