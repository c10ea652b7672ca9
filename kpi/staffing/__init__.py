"""Staffing what-ifs with Erlang C and Erlang A, driven by the actual interval data.

Two layers:

* **Formulas** (numpy, vectorised over any number of intervals and queues): the wait
  probability, service level, ASA, abandonment probability and occupancy of ``agents`` agents
  facing ``load_erlangs`` Erlangs, and the agents required for a service-level target, an ASA
  target, an abandonment cap and an occupancy cap. ``patience_s=None`` is Erlang C (M/M/n,
  nobody abandons); a mean patience in seconds is Erlang A (M/M/n+M, exponential patience).
* **From the data** (polars, lazy): :func:`staffing_table` gives, per interval and queue or
  team, the offered volume, AHT, load, required agents, agents actually staffed, over- and
  under-staffing, and the service level the actual staffing should have produced next to the
  achieved one; :func:`project` applies a what-if (agents, AHT, volume up or down).

Numerics: no factorials. Erlang B is computed as ``1/E(n, a) = Γ(n+1, a)·e^a·a^(−n)`` through
``scipy.special.gammaincc`` in log space (its analytic continuation to real ``n``, Jagerman
1974); Erlang A uses the closed forms of Mandelbaum & Zeltyn (2007) and Garnett, Mandelbaum &
Reiman (2002) in the incomplete gamma function ``γ(x, y)``; where a regularised incomplete gamma
underflows a short positive series replaces it. Loads of many thousands of Erlangs are fine.

Rounding: required agents are *fractional*: the smallest real ``n`` at which the formulas,
continued to real ``n``, meet every target. They agree with the textbook values at whole
``n``, and ``ceil`` of the fractional value is the whole number of agents a single queue needs.
Round once, at the end: sum fractional requirements across queues or intervals, then
:func:`round_up` the total (rounding each queue up first overstates the total).

The package, one module per concern: ``_formulas`` (the numpy layer), ``_what_if``, ``_demand``
(demand and staff per interval from what the data know, :func:`staffing_notes`), ``_table``
(:func:`staffing_table`, :func:`estimate_patience`) and ``_project``; the incomplete-gamma
numerics are in :mod:`kpi._erlang`.
"""

from __future__ import annotations

from kpi.staffing._demand import NEEDS as STAFFING_NEEDS
from kpi.staffing._demand import staffing_notes
from kpi.staffing._formulas import (
    DENOMINATORS,
    abandon_probability,
    asa,
    load_erlangs,
    occupancy,
    required_agents,
    required_staff,
    round_up,
    scheduled_agents,
    service_level,
    wait_probability,
)
from kpi.staffing._project import project
from kpi.staffing._table import estimate_patience, staffing_table
from kpi.staffing._what_if import Change, WhatIf, parse_what_if

__all__ = [
    "DENOMINATORS",
    "STAFFING_NEEDS",
    "Change",
    "WhatIf",
    "abandon_probability",
    "asa",
    "estimate_patience",
    "load_erlangs",
    "occupancy",
    "parse_what_if",
    "project",
    "required_agents",
    "required_staff",
    "round_up",
    "scheduled_agents",
    "service_level",
    "staffing_notes",
    "staffing_table",
    "wait_probability",
]
