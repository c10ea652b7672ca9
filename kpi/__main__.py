"""``python -m kpi`` runs the command line."""

from __future__ import annotations

from kpi.cli import main

raise SystemExit(main())
