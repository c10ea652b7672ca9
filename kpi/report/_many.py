"""Several reports in one call: all parameters checked first, then rendered one after another or
in worker processes, a failure never stopping the others.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kpi.errors import KpiError
from kpi.report._render import ReportError, _Plan, _plan, _run

__all__ = ["render_many"]


def _worker_init() -> None:
    # A render worker never validates IRIs; skip rfc3987-syntax's slow grammar build (see
    # kpi.cli.report_cmd). Only these private worker processes are affected.
    sys.modules.setdefault("rfc3987_syntax", None)
    # SIGTERM unwinds the render (work directory and kernel removed) instead of killing it.
    import signal

    signal.signal(signal.SIGTERM, _raise_system_exit)


def _raise_system_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _timed_run(plan: _Plan) -> tuple[Path, float]:
    t0 = time.monotonic()
    return _run(plan), time.monotonic() - t0


def render_many(
    names: Iterable[str | os.PathLike],
    *,
    jobs: int = 1,
    on_start: Callable[[int, int, str], None] | None = None,
    on_done: Callable[[int, int, str, Path | None, BaseException | None, float], None]
    | None = None,
    **kwargs: Any,
) -> tuple[list[Path], list[ReportError]]:
    """Render several reports; a failed report does not stop the others.

    All parameters are checked for every notebook before the first one runs. Each notebook
    receives only the parameters it declares; a parameter that no notebook declares is an
    error.

    Parameters
    ----------
    names
        Report names or notebook paths.
    jobs
        Reports rendered at the same time, each in its own worker process (and kernel).
    on_start, on_done
        Progress callbacks: ``on_start(i, n, name)`` when report ``i`` of ``n`` starts,
        ``on_done(i, n, name, html_or_None, error_or_None, seconds)`` when it ends.
    **kwargs
        The options of :func:`render`.

    Returns
    -------
    tuple[list[Path], list[ReportError]]
        The HTML files rendered (in report order) and the failures.

    Examples
    --------
    >>> render_many(["overview"], params={"perod": "2026-02"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: 00-overview.ipynb: unknown parameter 'perod'. Valid parameters: data_dir ...
    """
    items = list(names)
    plans = [_plan(name, only_known=len(items) > 1, **kwargs) for name in items]
    if len(items) > 1:
        declared: set[str] = set()
        for plan in plans:
            declared |= set(plan.declared)
        asked = set(kwargs.get("params") or {})
        asked |= {k for k in ("period", "compare") if kwargs.get(k) is not None}
        asked |= {"data_dir"} if kwargs.get("data") is not None else set()
        unknown = sorted(asked - declared)
        if unknown:
            raise KpiError(
                f"no report has the parameter(s) {', '.join(unknown)}; "
                f"parameters of these reports: {', '.join(sorted(declared)) or 'none'}"
            )
    n = len(plans)
    results: dict[int, Path] = {}
    failed: list[ReportError] = []

    def finish(i: int, plan: _Plan, path: Path | None, exc: ReportError | None, s: float) -> None:
        if path is not None:
            results[i] = path
        if exc is not None:
            failed.append(exc)
        if on_done:
            on_done(i, n, plan.report, path, exc, s)

    if jobs <= 1 or n <= 1:
        for i, plan in enumerate(plans, 1):
            if on_start:
                on_start(i, n, plan.report)
            t0 = time.monotonic()
            try:
                finish(i, plan, _run(plan), None, time.monotonic() - t0)
            except ReportError as exc:
                finish(i, plan, None, exc, time.monotonic() - t0)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(min(jobs, n), mp_context=context, initializer=_worker_init)
        try:
            futures = {}
            for i, plan in enumerate(plans, 1):
                if on_start:
                    on_start(i, n, plan.report)
                # papermill's progress bars of several workers would interleave: none
                quiet = dataclasses.replace(plan, progress=False)
                futures[pool.submit(_timed_run, quiet)] = (i, plan, time.monotonic())
            for future in as_completed(futures):
                i, plan, t0 = futures[future]
                try:
                    path, seconds = future.result()
                    finish(i, plan, path, None, seconds)
                except ReportError as exc:
                    finish(i, plan, None, exc, time.monotonic() - t0)
        except BaseException:
            # interrupted (SIGTERM, Ctrl-C): stop the workers; each unwinds, removing its work
            # directory and its kernel, and publishes nothing
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return [results[i] for i in sorted(results)], failed
