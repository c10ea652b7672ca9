"""The contact-centre simulator behind :mod:`kpi.samples` (private; use ``kpi.samples``).

Modules, in pipeline order: ``clock`` (15-minute slots in absolute time, labelled in site
time), ``config`` (sites, teams, queues, topics, scenarios), ``demand`` (forecast and actual
arrivals, per-contact draws), ``plan`` (Erlang C requirements, roster, shifts), ``engine`` (the
FCFS queue loop), ``worker`` (one queue end to end), ``queues`` (jobs and worker processes),
``tables`` (canonical tables), ``truth`` (``scenario.json``) and ``run`` (orchestration).
"""

from __future__ import annotations

__all__: list[str] = []
