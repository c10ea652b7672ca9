"""Several reports in one call: all parameters checked first, then rendered one after another or
in worker processes, a failure never stopping the others.

The worker processes belong to the ``kpi report`` process that started them, and so do their
kernels:

- a worker dies with its parent: on Linux it asks for ``SIGTERM`` when the parent ends
  (``PR_SET_PDEATHSIG``); everywhere a thread watches a pipe from the parent and ends the
  worker when the pipe closes, which happens however the parent ends, ``kill -9`` included;
- a worker ending kills its kernel (and each kernel asks for ``SIGKILL`` when its own parent
  ends, see :mod:`kpi.report._kernel`);
- a worker publishes only while its parent is alive: it asks, holding the output lock, just
  before the first rename;
- a worker takes one report at a time from its parent, so a stopped run leaves no report
  queued inside a worker;
- when the parent is stopped (``SIGTERM``, ``Ctrl-C``) it takes the output lock, so that no
  worker is publishing, stops every worker and its kernel, removes their work directories and
  only then lets the stop go on (``kpi report`` prints its message after this);
- any failure of one report, a full disk included, or a worker that dies, is that report's
  failure: recorded, reported in one line, and the others go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kpi.errors import KpiError
from kpi.report._files import (
    check_out_dir,
    locked,
    remove_own_work_dirs,
    remove_stale_work_dirs,
)
from kpi.report._render import Abandoned, ReportError, _Plan, _plan, _run, record_failure

__all__ = ["render_many"]

#: How long a stopped worker may take to end before it is killed, in seconds.
STOP_GRACE_S = 5.0


# --------------------------------------------------------------------------------------------
# In the worker process
# --------------------------------------------------------------------------------------------


#: The output directory of the report this worker renders (its work directory is there).
_OUT: list[Path] = []


def _end_worker(code: int) -> None:
    """End this worker now: kill its kernels (its children) and remove its work directory."""
    from kpi.report._kernel import kill_kernels

    with contextlib.suppress(BaseException):
        kill_kernels()
    for out in _OUT:
        with contextlib.suppress(BaseException):
            remove_own_work_dirs(out)
    os._exit(code)


def _on_stop(signum: int, frame: Any) -> None:
    # held back while publishing (kpi.report._files.publishing): all or nothing is published
    _end_worker(128 + signum)


def _watch_parent(lifeline: Any) -> None:
    """Block on the pipe from the parent; when it closes, the parent is gone: stop."""
    with contextlib.suppress(BaseException):
        lifeline.recv()  # the parent never sends: this returns only by EOFError
    os.kill(os.getpid(), signal.SIGTERM)  # through _on_stop, after any publish
    time.sleep(STOP_GRACE_S)
    _end_worker(1)  # pragma: no cover - the handler ends the process first


def _worker(jobs: Any, lifeline: Any, parent_pid: int) -> None:
    """A render worker: takes one plan at a time, sends back ``(path, error, seconds)``."""
    from kpi.report._kernel import die_with_parent

    die_with_parent(parent_pid, signal.SIGTERM)
    # A render worker never validates IRIs; skip rfc3987-syntax's slow grammar build (see
    # kpi.cli.report_cmd). Only these private worker processes are affected.
    sys.modules.setdefault("rfc3987_syntax", None)
    # a failure is reported once, in the report's one line: not also by papermill's logger
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    # Ctrl-C reaches the whole foreground process group: the parent decides, workers ignore it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_stop)
    threading.Thread(target=_watch_parent, args=(lifeline,), daemon=True).start()

    def parent_alive() -> bool:
        return os.getppid() == parent_pid

    while True:
        try:
            plan = jobs.recv()
        except (EOFError, OSError):
            return
        if plan is None:
            return
        _OUT[:] = [plan.out]
        t0 = time.monotonic()
        path: Path | None = None
        error: ReportError | None = None
        try:
            try:
                path = _run(plan, may_publish=parent_alive)
            except ReportError as exc:
                error = exc
            except Exception as exc:  # a bug: this report fails, the others go on
                error = record_failure(plan, _unexpected(plan, exc), may_publish=parent_alive)
        except Abandoned:  # the parent is gone: publish nothing, end
            _end_worker(1)
        try:
            jobs.send((path, error, time.monotonic() - t0))
        except (EOFError, OSError):
            return


def _unexpected(plan: _Plan, exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{plan.report} {plan.period_label} failed: {type(exc).__name__}: {text}"


# --------------------------------------------------------------------------------------------
# In the parent process
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Slot:
    """One worker process, its job pipe, its lifeline and the report it is rendering."""

    process: Any
    jobs: Any
    lifeline: Any
    busy: tuple[int, _Plan, float] | None = None


class _Workers:
    """At most ``size`` render workers, each given one report at a time."""

    def __init__(self, size: int) -> None:
        import multiprocessing

        self.context = multiprocessing.get_context("spawn")
        self.size = size
        self.slots: list[_Slot] = []

    def start(self) -> _Slot:
        ours, theirs = self.context.Pipe()
        their_end, our_end = self.context.Pipe(duplex=False)  # never written: closed at death
        process = self.context.Process(
            target=_worker, args=(theirs, their_end, os.getpid()), name="kpi-report-worker"
        )
        process.start()
        theirs.close()
        their_end.close()
        slot = _Slot(process, ours, our_end)
        self.slots.append(slot)
        return slot

    def idle(self) -> _Slot | None:
        for slot in self.slots:
            if slot.busy is None:
                return slot
        if len(self.slots) < self.size:
            return self.start()
        return None

    def busy(self) -> list[_Slot]:
        return [slot for slot in self.slots if slot.busy is not None]

    def drop(self, slot: _Slot) -> None:
        self.slots.remove(slot)
        for end in (slot.jobs, slot.lifeline):
            with contextlib.suppress(OSError):
                end.close()
        slot.process.join(timeout=STOP_GRACE_S)

    def close(self) -> None:
        """Let idle workers end by themselves (the normal end of a run)."""
        for slot in list(self.slots):
            with contextlib.suppress(OSError):
                slot.jobs.send(None)
            self.drop(slot)

    def stop(self, out: Path) -> None:
        """Stop every worker and its kernel; nothing is published once this returns."""
        with _ignoring_stops(), contextlib.ExitStack() as stack:
            # no worker is publishing while the lock is held, and none can start to
            with contextlib.suppress(OSError):
                stack.enter_context(locked(out, timeout_s=STOP_GRACE_S))
            for slot in self.slots:
                with contextlib.suppress(OSError):
                    slot.process.terminate()  # the worker kills its kernel and exits
            deadline = time.monotonic() + STOP_GRACE_S
            for slot in self.slots:
                slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
                if slot.process.is_alive():
                    slot.process.kill()  # its kernel dies with it (see kpi.report._kernel)
                    slot.process.join(timeout=STOP_GRACE_S)
            for slot in list(self.slots):
                self.drop(slot)
            with contextlib.suppress(OSError):
                remove_stale_work_dirs(out)


@contextlib.contextmanager
def _ignoring_stops() -> Any:
    """While stopping, a second SIGTERM or Ctrl-C must not cut the stop short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


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

    All parameters are checked for every notebook, and the output directory for being
    writable, before the first report runs. Each notebook receives only the parameters it
    declares; a parameter that no notebook declares is an error.

    Parameters
    ----------
    names
        Report names or notebook paths.
    jobs
        Reports rendered at the same time, each in its own worker process (and kernel).
        Workers die with the calling process and never publish after it.
    on_start, on_done
        Progress callbacks: ``on_start(i, n, name)`` when report ``i`` of ``n`` starts,
        ``on_done(i, n, name, html_or_None, error_or_None, seconds)`` when it ends.
    **kwargs
        The options of :func:`render`.

    Returns
    -------
    tuple[list[Path], list[ReportError]]
        The HTML files rendered (in report order) and the failures (a full disk, a worker
        that died: each is one report's failure).

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
    check_out_dir(kwargs.get("out_dir", "reports"))
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
                path, error = _run(plan), None
            except ReportError as exc:
                path, error = None, exc
            except Exception as exc:  # a bug: this report fails, the others go on
                path, error = None, record_failure(plan, _unexpected(plan, exc))
            finish(i, plan, path, error, time.monotonic() - t0)
    else:
        _render_in_workers(plans, min(jobs, n), on_start, finish)
    return [results[i] for i in sorted(results)], failed


def _render_in_workers(
    plans: list[_Plan],
    size: int,
    on_start: Callable[[int, int, str], None] | None,
    finish: Callable[[int, _Plan, Path | None, ReportError | None, float], None],
) -> None:
    from multiprocessing.connection import wait

    n = len(plans)
    todo = list(enumerate(plans, 1))
    workers = _Workers(size)
    try:
        while todo or workers.busy():
            while todo and (slot := workers.idle()) is not None:
                i, plan = todo.pop(0)
                if on_start:
                    on_start(i, n, plan.report)
                # papermill's progress bars of several workers would interleave: none
                slot.jobs.send(dataclasses.replace(plan, progress=False))
                slot.busy = (i, plan, time.monotonic())
            ready = wait(
                [s.jobs for s in workers.busy()] + [s.process.sentinel for s in workers.busy()]
            )
            for slot in workers.busy():
                if slot.jobs not in ready and slot.process.sentinel not in ready:
                    continue
                i, plan, t0 = slot.busy  # type: ignore[misc]
                slot.busy = None
                try:
                    path, error, seconds = slot.jobs.recv()
                except (EOFError, OSError):  # the worker died (killed, out of memory, ...)
                    slot.process.join(timeout=STOP_GRACE_S)
                    workers.drop(slot)
                    code = slot.process.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"code {code}"
                    message = (
                        f"{plan.report} {plan.period_label} failed: its worker process ended "
                        f"unexpectedly ({how})"
                    )
                    path, error, seconds = None, record_failure(plan, message), None
                finish(i, plan, path, error, time.monotonic() - t0 if seconds is None else seconds)
        workers.close()
    except BaseException:
        # stopped (SIGTERM, Ctrl-C) or broken: no worker, kernel or publish outlives this
        workers.stop(plans[0].out)
        raise
