"""The calendar of special days: public holidays, their eves and the days after, and events.

Public holidays come from the ``holidays`` package (its ``public`` category) for the site's
country: ``country=`` (``--country``), else ``country`` in ``dataset.json``. A day before a
public holiday that is not one itself is an ``eve``, the day after one an ``after`` day
(catch-up volume). Rows of the ``events`` table mark the local dates they cover with their
label (an event with a team applies only to groups of that team).

Each special day carries a kind and a name. :mod:`kpi.forecast._methods` estimates the effect
of each name (and, for a name never seen before, of its kind) from the history, and leaves the
special days out when it estimates ordinary days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.errors import KpiError

__all__ = ["KINDS", "Calendar", "country_of", "public_holidays"]

#: Kinds of special day, strongest first: a day with two takes the first.
KINDS = ("holiday", "event", "eve", "after")


def public_holidays(country: str | None, years: Iterable[int]) -> dict[date, str]:
    """Public holidays of ``country`` (ISO 3166 code) in ``years``: date -> name.

    Examples
    --------
    >>> h = public_holidays("IL", [1999])
    >>> h[date(1999, 9, 20)]
    'Yom Kippur'
    >>> public_holidays(None, [1999])
    {}
    """
    if not country:
        return {}
    import holidays

    years = sorted(set(years))
    try:
        found = holidays.country_holidays(country.upper(), years=years)
    except NotImplementedError:
        raise KpiError(
            f"unknown country {country!r} for public holidays: give an ISO 3166 code such as "
            "GB, US, IL, DE"
        ) from None
    return {d: str(name) for d, name in sorted(found.items())}


def country_of(ds: Dataset, country: str | None) -> str | None:
    """The country whose holidays apply: ``country`` if given, else ``dataset.json``'s."""
    if country:
        return country
    found = ds.meta.get("country")
    return str(found) if found else None


@dataclass(frozen=True)
class Calendar:
    """Special days by local date: ``(kind, name)``; every other day is ordinary."""

    days: Mapping[date, tuple[str, str]]

    @classmethod
    def build(
        cls,
        first: date,
        last: date,
        *,
        country: str | None,
        events: pl.DataFrame | None = None,
        team: str | None = None,
    ) -> Calendar:
        """The calendar of ``[first, last]`` for one group (``team``: its team, if known).

        Examples
        --------
        >>> cal = Calendar.build(date(1999, 9, 18), date(1999, 9, 22), country="IL")
        >>> [(d.isoformat(), *v) for d, v in sorted(cal.days.items())]
        [('1999-09-19', 'eve', 'eve of Yom Kippur'), ('1999-09-20', 'holiday', 'Yom Kippur'), ('1999-09-21', 'after', 'after Yom Kippur')]
        """
        years = range(first.year - 1, last.year + 2)
        found: dict[date, tuple[str, str]] = {}

        def mark(d: date, kind: str, name: str) -> None:
            old = found.get(d)
            if old is None or KINDS.index(kind) < KINDS.index(old[0]):
                found[d] = (kind, name)

        hol = public_holidays(country, years)
        for d, name in hol.items():
            mark(d, "holiday", name)
            if d - timedelta(days=1) not in hol:
                mark(d - timedelta(days=1), "eve", f"eve of {name}")
            if d + timedelta(days=1) not in hol:
                mark(d + timedelta(days=1), "after", f"after {name}")
        if events is not None:
            for start, end, label, ev_team in events.iter_rows():
                if start is None or (ev_team is not None and ev_team != team):
                    continue
                d, stop = start, end if end is not None and end >= start else start
                while d <= stop:
                    mark(d, "event", str(label))
                    d += timedelta(days=1)
        return cls({d: v for d, v in found.items() if first <= d <= last})

    def kinds(self, dates: Iterable[date]) -> list[tuple[str, str] | None]:
        """``(kind, name)`` or None for each date."""
        return [self.days.get(d) for d in dates]


def event_days(ds: Dataset) -> pl.DataFrame | None:
    """The events table as local dates: ``start``, ``end``, ``label``, ``team`` (None if absent)."""
    if "events" not in ds:
        return None
    return (
        ds["events"]
        .select(
            pl.col("start_ts").dt.date().alias("start"),
            pl.col("end_ts").dt.date().alias("end"),
            pl.col("label"),
            pl.col("team"),
        )
        .collect()
    )


def team_of(keys: Mapping[str, Any]) -> str | None:
    """The group's team, when ``team`` is one of its keys."""
    value = keys.get("team")
    return None if value is None else str(value)
