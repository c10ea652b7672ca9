"""One report: check the request, execute the notebook with papermill in a private work
directory, export it with nbconvert, and publish the HTML, the executed notebook and
``report.json`` atomically under the output lock; then rebuild ``index.html``.

Whatever fails (a cell, the export, a full disk, a directory that cannot be written) fails this
report only, as a :class:`ReportError` of one line, recorded in ``failed.json`` where the disk
allows; the last good report stays in place.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kpi._fs import atomic_write_text, write_json
from kpi.errors import KpiError
from kpi.report._files import (
    check_out_dir,
    locked,
    new_work_dir,
    publishing,
    remove_stale_tmp_files,
    remove_stale_work_dirs,
)
from kpi.report._notebooks import (
    _NUMBERED,
    _REPO,
    plan_periods,
    report_name,
    require_period,
    resolve_notebook,
)
from kpi.report._params import NotebookParam, coerce_params, describe_params, inspect_params

__all__ = [
    "CHART_MODES",
    "MAX_CELL_TIMEOUT_S",
    "Abandoned",
    "ReportError",
    "cell_timeout",
    "rebuild_index",
    "record_failure",
    "render",
]

#: ``interactive``: Vega charts with tooltips (JavaScript embedded once per file);
#: ``svg``: static SVG images (no JavaScript at all: mail clients, print, PDF).
CHART_MODES = ("interactive", "svg")

#: The longest cell time limit accepted, in seconds (a week).
MAX_CELL_TIMEOUT_S = 7 * 86400


class Abandoned(SystemExit):
    """A render gave up before publishing: whoever asked for it is gone (or stopped it)."""


class ReportError(KpiError):
    """A report failed to execute or export; the message names the cell and the error.

    Attributes ``report``, ``period``, ``cell`` (1-based position in the source notebook, or
    ``None``), ``ename``, ``evalue`` and ``failed_notebook`` (the kept executed notebook).
    """

    def __init__(
        self,
        message: str,
        *,
        report: str = "",
        period: str = "",
        cell: int | None = None,
        ename: str = "",
        evalue: str = "",
        failed_notebook: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.report, self.period, self.cell = report, period, cell
        self.ename, self.evalue, self.failed_notebook = ename, evalue, failed_notebook

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the details when the error crosses a process boundary (render_many's workers)
        info = {
            "report": self.report,
            "period": self.period,
            "cell": self.cell,
            "ename": self.ename,
            "evalue": self.evalue,
            "failed_notebook": self.failed_notebook,
        }
        return (_rebuild_report_error, (str(self), info))


def _rebuild_report_error(message: str, info: dict[str, Any]) -> ReportError:
    return ReportError(message, **info)


#: Environment variable that pins the date a render takes for today (``YYYY-MM-DD``): a
#: scheduler re-running a missed day, or a test that must not see midnight pass.
TODAY_ENV = "KPI_TODAY"


def _site_today(data_dir: Path | None) -> date:
    """Today in the dataset's time zone (``dataset.json``), else the machine's local date;
    the date in :data:`TODAY_ENV` when it is set."""
    pinned = os.environ.get(TODAY_ENV, "").strip()
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            raise KpiError(f"{TODAY_ENV}={pinned!r} is not a date (YYYY-MM-DD)") from None
    if data_dir is not None:
        try:
            tz = json.loads((data_dir / "dataset.json").read_text()).get("timezone")
        except (OSError, ValueError):
            tz = None
        if tz:
            from zoneinfo import ZoneInfo

            try:
                return datetime.now(ZoneInfo(tz)).date()
            except (KeyError, ValueError):
                pass
    return date.today()


def _defaults(spec: Mapping[str, NotebookParam]) -> dict[str, Any]:
    return {name: p.default for name, p in spec.items()}


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _failed_cell_number(source_nb: Any, executed_nb: Any) -> int | None:
    """1-based position, in the source notebook, of the executed cell that raised."""
    for cell in executed_nb.cells:
        errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if errored or cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            cell_id = cell.get("id")
            for i, src in enumerate(source_nb.cells):
                if cell_id and src.get("id") == cell_id:
                    return i + 1
            return None
    return None


def _short(line: str, width: int = 70) -> str:
    line = line.strip()
    return line if len(line) <= width else line[: width - 1] + "…"


def _failing_line(source: str, traceback: list[str]) -> tuple[int | None, str]:
    r"""The line of the cell that raised (from IPython's ``---->`` marker in the traceback's
    cell frame), else the cell's first line of code.

    Examples
    --------
    >>> tb = ["KpiError  Traceback", "Cell In[3], line 2\n      1 x = 1\n----> 2 f(x)\n"]
    >>> _failing_line("x = 1\nf(x)", tb)
    (2, 'f(x)')
    >>> _failing_line("# note\ny = 1 / 0", [])
    (None, 'y = 1 / 0')
    """
    for frame in traceback:
        text = _strip_ansi(frame)
        if not text.startswith("Cell In"):
            continue
        marker = re.search(r"^-+> (\d+) (.*)$", text, flags=re.M)
        if marker:
            return int(marker[1]), _short(marker[2])
        break
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return None, _short(lines[0] if lines else source)


def _now() -> tuple[str, str]:
    now = datetime.now().astimezone()
    return now.isoformat(timespec="seconds"), now.strftime("%Y-%m-%d %H:%M %Z").strip()


def cell_timeout(value: Any) -> int | None:
    """Check a cell time limit: a positive number of seconds, fractions rounded up.

    Examples
    --------
    >>> cell_timeout(None), cell_timeout(30), cell_timeout(1800.5), cell_timeout("0.2")
    (None, 30, 1801, 1)
    >>> cell_timeout(0)
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: cell timeout must be a positive number of seconds (at most 604800), got 0
    """
    if value is None:
        return None
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not (0 < seconds <= MAX_CELL_TIMEOUT_S):  # also refuses nan and inf
        raise KpiError(
            "cell timeout must be a positive number of seconds "
            f"(at most {MAX_CELL_TIMEOUT_S}), got {value}"
        )
    return math.ceil(seconds)


def _progress_default(progress: bool | None) -> bool:  # noqa: FBT001
    if progress is not None:
        return progress
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def render(
    name_or_path: str | os.PathLike,
    *,
    params: Mapping[str, Any] | None = None,
    period: str | None = None,
    compare: str | None = None,
    data: str | os.PathLike | None = None,
    out_dir: str | os.PathLike = "reports",
    show_identifiers: bool = False,
    charts: str = "interactive",
    progress: bool | None = None,
    cell_timeout_s: float | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    today: date | None = None,
) -> Path:
    """Execute a report notebook and export it as one self-contained HTML file.

    Parameters
    ----------
    name_or_path
        A report name (``"overview"``, ``"00-overview"``) or the path of a notebook.
    params
        Notebook parameters; strings (from the command line) are parsed into the declared type.
        Checked before execution: unknown names, wrong types and bad dates or periods raise a
        :class:`~kpi.errors.KpiError` listing the valid parameters.
    period, compare
        Shorthands for the ``period`` and ``compare`` parameters: ISO dates and months,
        ``2026-W06``, ``2026-Q1``, ``previous-month``, ``previous-week``, ``yesterday``,
        ``today`` (relative words use the site's date from ``dataset.json``). When ``period``
        is given and ``compare`` is not, the comparison is the period just before.
    data
        The dataset directory (the ``data_dir`` parameter), relative to the current directory.
    out_dir
        Where reports go: ``<out_dir>/<report>/<period>/`` and ``<out_dir>/index.html``.
    show_identifiers
        Show customer identifiers (default: masked). Passed to the notebook's
        ``show_identifiers`` parameter when it has one; when ``False`` the renderer also masks
        e-mail addresses and phone numbers in every text output.
    charts
        ``"interactive"`` (Vega with tooltips, JavaScript embedded once) or ``"svg"`` (static).
    progress
        Show papermill's cell progress bar on standard error (default: when it is a terminal).
    cell_timeout_s
        Fail a cell that runs longer than this many seconds (default: no limit): a positive
        number up to a week, a fraction rounded up to the next whole second; anything else is
        refused before the notebook runs.
    notebooks_dir
        Where report names are looked up (default: the repository's ``notebooks/``).
    today
        Reference date for relative periods (default: today at the site).

    Returns
    -------
    Path
        The published HTML file.

    Raises
    ------
    KpiError
        Bad parameters or an output directory that cannot be written (before anything runs).
    ReportError
        The notebook failed (the message names the cell and the error; the executed notebook
        is kept as ``<name>.failed.ipynb``; the previous report is untouched), could not be
        exported, or could not be written (a full disk).

    Notes
    -----
    Steps: inspect parameters -> coerce -> papermill into a private work directory under
    ``<out_dir>/.work`` -> nbconvert -> under the output lock, ``os.replace`` the notebook, the
    HTML and ``report.json`` into place -> rebuild ``index.html``. A render killed at any point
    before the replace leaves the published files untouched.

    Examples
    --------
    >>> render("no-such-report")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown report 'no-such-report'; valid reports: ...
    """
    plan = _plan(
        name_or_path,
        params=params,
        period=period,
        compare=compare,
        data=data,
        out_dir=out_dir,
        show_identifiers=show_identifiers,
        charts=charts,
        progress=progress,
        cell_timeout_s=cell_timeout_s,
        notebooks_dir=notebooks_dir,
        today=today,
    )
    check_out_dir(out_dir)
    return _run(plan)


@dataclass(frozen=True)
class _Plan:
    """A checked render request: everything decided before execution."""

    nb_path: Path
    report: str
    out: Path
    values: dict[str, Any]
    effective: dict[str, Any]
    show: bool
    charts: str
    period_label: str
    progress: bool
    cell_timeout_s: int | None
    declared: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        return f"{self.report}-{self.period_label}"

    @property
    def target_dir(self) -> Path:
        return self.out / self.report / self.period_label

    @property
    def html_path(self) -> Path:
        return self.target_dir / f"{self.stem}.html"


def _plan(
    name_or_path: str | os.PathLike,
    *,
    params: Mapping[str, Any] | None = None,
    period: str | None = None,
    compare: str | None = None,
    data: str | os.PathLike | None = None,
    out_dir: str | os.PathLike = "reports",
    show_identifiers: bool = False,
    charts: str = "interactive",
    progress: bool | None = None,
    cell_timeout_s: float | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    today: date | None = None,
    only_known: bool = False,
) -> _Plan:
    """Resolve the notebook and check every parameter (``only_known``: drop the ones the
    notebook does not declare, for ``--all``)."""
    if charts not in CHART_MODES:
        raise KpiError(f"bad charts mode {charts!r}; valid: {', '.join(CHART_MODES)}")
    timeout = cell_timeout(cell_timeout_s)
    nb_path = resolve_notebook(name_or_path, notebooks_dir=notebooks_dir)
    report = report_name(nb_path)
    out = Path(out_dir).resolve()
    spec = inspect_params(nb_path)

    given: dict[str, Any] = dict(params or {})
    if only_known:
        given = {k: v for k, v in given.items() if k in spec}
        period = period if "period" in spec else None
        compare = compare if "compare" in spec else None
        data = data if "data_dir" in spec else None
    if data is not None:
        data_path = Path(data).expanduser().resolve()
        if not data_path.is_dir():
            raise KpiError(f"data directory {data} does not exist")
        if "data_dir" not in spec:
            raise KpiError(
                f"{nb_path.name} has no data_dir parameter, so --data cannot be used; "
                f"valid parameters: {describe_params(spec)}"
            )
        given["data_dir"] = str(data_path)
    if period is not None:
        given["period"] = period
    if compare is not None:
        given["compare"] = compare
    if "show_identifiers" in spec and "show_identifiers" not in given:
        given["show_identifiers"] = show_identifiers

    data_dir = given.get("data_dir") or (spec["data_dir"].default if "data_dir" in spec else None)
    if isinstance(data_dir, str):
        data_dir_path = (
            Path(data_dir) if Path(data_dir).is_absolute() else nb_path.parent / data_dir
        )
    else:
        data_dir_path = None
    today = today or _site_today(data_dir_path)
    values = coerce_params(nb_path.name, spec, given, today=today)
    values.update(plan_periods(nb_path.name, spec, values, data_dir_path, today))
    show = bool(values.get("show_identifiers", show_identifiers))

    effective = {**_defaults(spec), **values}
    period_label = str(effective.get("period") or today.isoformat())
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._-]*", period_label):
        raise KpiError(f"period {period_label!r} cannot name a directory")
    if data_dir_path is not None and {"period", "compare"} <= set(spec) and data_dir_path.is_dir():
        # a report of a period of the data (not a plan ahead): a period the data hold nothing
        # of is refused before a kernel starts, not rendered as a report of zeros
        try:
            require_period(data_dir_path, period_label)
        except KpiError as exc:
            raise KpiError(f"{nb_path.name}: bad value for period: {exc}") from None
    return _Plan(
        nb_path=nb_path,
        report=report,
        out=out,
        values=values,
        effective=effective,
        show=show,
        charts=charts,
        period_label=period_label,
        progress=_progress_default(progress),
        cell_timeout_s=timeout,
        declared=tuple(spec),
    )


def _run(plan: _Plan, *, may_publish: Callable[[], bool] | None = None) -> Path:
    """Execute, export and publish a planned report.

    ``may_publish`` is asked, holding the output lock, just before anything is published (the
    report, or the record of its failure); when it says no, the render raises
    :class:`Abandoned` and publishes nothing.
    """
    report, out, period_label = plan.report, plan.out, plan.period_label
    stem = plan.stem
    fail = _Failer(plan, may_publish)
    try:
        remove_stale_work_dirs(out)
        work = new_work_dir(out, stem)
    except OSError as exc:
        raise fail(f"{report} {period_label}: {_os_reason(exc)}", exc=exc) from None
    fail.work_nb = work / f"{stem}.ipynb"
    try:
        return _execute_and_publish(plan, work, fail)
    except OSError as exc:  # a full disk, a directory made read-only meanwhile, ...
        raise fail(f"{report} {period_label}: {_os_reason(exc)}", exc=exc) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _execute_and_publish(plan: _Plan, work: Path, fail: _Failer) -> Path:
    nb_path, report, out, effective = plan.nb_path, plan.report, plan.out, plan.effective
    show, charts, period_label = plan.show, plan.charts, plan.period_label
    target_dir, stem, html_path = plan.target_dir, plan.stem, plan.html_path
    started = time.monotonic()
    executed = _execute(
        nb_path,
        work / f"{stem}.ipynb",
        plan.values,
        report=report,
        period=period_label,
        progress=plan.progress,
        cell_timeout_s=plan.cell_timeout_s,
        fail=fail,
    )
    generated, generated_text = _now()
    from kpi import __version__

    context = {
        "report": report,
        "notebook": _display_path(nb_path),
        "parameters": dict(effective),
        "generated": generated,
        "generated_text": generated_text,
        "version": __version__,
        "show_identifiers": show,
        "charts": charts,
    }
    try:
        from kpi.report._html import export, prepare

        prepared, lifted = prepare(executed, charts=charts, show_identifiers=show)
        text = export(prepared, lifted, context, charts=charts)
        if not show:  # the executed notebook published beside the page is masked like it
            _write_masked(executed, work / f"{stem}.ipynb")
    except Exception as exc:
        raise fail(
            f"{report} {period_label}: executed, but the HTML export failed: "
            f"{type(exc).__name__}: {exc}",
            exc=exc,
        ) from None
    (work / f"{stem}.html").write_text(text, encoding="utf-8")
    title = (lifted.header or {}).get("title") or lifted.title or report
    manifest = {
        **{k: v for k, v in context.items() if k != "generated_text"},
        "generated_text": generated_text,
        "title": title,
        "period": period_label,
        "html": html_path.name,
        "ipynb": f"{stem}.ipynb",
        "order": _order(nb_path),
        "duration_s": round(time.monotonic() - started, 2),
        "charts_count": lifted.charts,
    }
    # every file is complete in the work directory before the first one is published, so that
    # publishing is renames only (a full disk cannot stop it half-way)
    write_json(work / "report.json", manifest)
    with locked(out), publishing():
        fail.check_may_publish()
        target_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_tmp_files(out, target_dir)
        os.replace(work / f"{stem}.ipynb", target_dir / f"{stem}.ipynb")
        os.replace(work / f"{stem}.html", html_path)
        os.replace(work / "report.json", target_dir / "report.json")
        (target_dir / f"{stem}.failed.ipynb").unlink(missing_ok=True)
        (target_dir / "failed.json").unlink(missing_ok=True)
        try:
            _write_index(out)
        except OSError as exc:
            raise ReportError(
                f"{report} {period_label}: published {_rel(html_path)}, but index.html could "
                f"not be updated: {_os_reason(exc)}",
                report=report,
                period=period_label,
                ename=type(exc).__name__,
                evalue=str(exc),
            ) from None
    return html_path


def _os_reason(exc: OSError) -> str:
    """One line for a file-system error: what could not be done, where, and why.

    Examples
    --------
    >>> import errno
    >>> _os_reason(OSError(errno.ENOSPC, "No space left on device", "/r/x.html"))
    'cannot write /r/x.html: No space left on device'
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename:
        return f"cannot write {exc.filename}: {reason}"
    return f"cannot write the report: {reason}"


def _order(nb_path: Path) -> int:
    m = _NUMBERED.match(nb_path.name)
    return int(m[1]) if m else 100


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(_REPO))
    except ValueError:
        return str(path)


def _execute(
    nb_path: Path,
    work_nb: Path,
    values: Mapping[str, Any],
    *,
    report: str,
    period: str,
    progress: bool,
    cell_timeout_s: int | None,
    fail: _Failer,
) -> Any:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from kpi.report._kernel import KERNEL_NAME, kill_kernels, manager_for

    source_nb = nbformat.read(nb_path, as_version=4)
    launched: list[Any] = []
    try:
        return pm.execute_notebook(
            str(nb_path),
            str(work_nb),
            parameters=dict(values),
            kernel_name=KERNEL_NAME,
            kernel_manager_class=manager_for(nb_path.parent, launched=launched),
            progress_bar=progress,
            execution_timeout=cell_timeout_s,
            start_timeout=120,
            shutdown_kernel="immediate",
        )
    except PapermillExecutionError as exc:
        executed = nbformat.read(work_nb, as_version=4) if work_nb.exists() else None
        number = _failed_cell_number(source_nb, executed) if executed is not None else None
        where = f"cell {number}" if number else f"cell In [{exc.exec_count}]"
        line_no, line = _failing_line(exc.source, list(exc.traceback or []))
        if line_no is not None and len(exc.source.splitlines()) > 1:
            where += f", line {line_no}"
        evalue = _strip_ansi(str(exc.evalue)).strip()
        message = f"{report} {period} failed in {where} (`{line}`): {exc.ename}: {evalue}"
        raise fail(message, cell=number, ename=exc.ename, evalue=evalue) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except OSError as exc:
        raise fail(f"{report} {period}: {_os_reason(exc)}", exc=exc) from None
    except Exception as exc:
        text = " ".join(_strip_ansi(str(exc)).split()) or "(no message)"
        raise fail(f"{report} {period} failed: {type(exc).__name__}: {text}", exc=exc) from None
    finally:
        # a kernel papermill could not shut down (a stopped render, an error while starting)
        kill_kernels(launched)


class _Failer:
    """Records the failure of one render and builds its :class:`ReportError`.

    The executed notebook is kept next to the report as ``<name>.failed.ipynb`` and the
    failure recorded in ``failed.json`` (listed by the index), where the disk allows: a
    failure to record the failure is said in the same line, never raised.
    """

    def __init__(self, plan: _Plan, may_publish: Callable[[], bool] | None) -> None:
        self.plan, self.may_publish = plan, may_publish
        self.work_nb: Path | None = None

    def check_may_publish(self) -> None:
        if self.may_publish is not None and not self.may_publish():
            raise Abandoned(1)

    def __call__(
        self,
        message: str,
        *,
        exc: BaseException | None = None,
        cell: int | None = None,
        ename: str = "",
        evalue: str = "",
    ) -> ReportError:
        plan, target_dir = self.plan, self.plan.target_dir
        failed = target_dir / f"{plan.stem}.failed.ipynb"
        # a notebook cut short by a full disk is not kept: nothing half-written is published
        keep = self.work_nb is not None and _complete_json(self.work_nb)
        kept: Path | None = None
        note = ""
        try:
            with locked(plan.out), publishing():
                self.check_may_publish()
                target_dir.mkdir(parents=True, exist_ok=True)
                remove_stale_tmp_files(plan.out, target_dir)
                if keep and not plan.show:  # a traceback may quote a customer id
                    keep = self.work_nb is not None and _mask_file(self.work_nb)
                if keep and self.work_nb is not None:
                    os.replace(self.work_nb, failed)
                    kept = failed
                generated, generated_text = _now()
                try:
                    write_json(
                        target_dir / "failed.json",
                        {
                            "time": generated,
                            "time_text": generated_text,
                            "error": message,
                            "notebook": failed.name if kept else None,
                        },
                    )
                except OSError as error:
                    note = f"; failed.json not written ({error.strerror or error})"
                _write_index(plan.out)
        except OSError as error:
            note = note or f"; the failure not recorded ({_os_reason(error)})"
        previous = plan.html_path.exists()
        tail = f"; failed notebook kept at {_rel(kept)}" if kept else ""
        tail += note
        tail += "; the previous report is untouched" if previous else "; no previous report"
        if exc is not None and not ename:
            ename, evalue = type(exc).__name__, str(exc)
        return ReportError(
            message + tail,
            report=plan.report,
            period=plan.period_label,
            cell=cell,
            ename=ename,
            evalue=evalue,
            failed_notebook=kept,
        )


def _complete_json(path: Path) -> bool:
    """Whether ``path`` holds a whole JSON document (a notebook not cut short)."""
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def record_failure(
    plan: _Plan, message: str, *, may_publish: Callable[[], bool] | None = None
) -> ReportError:
    """Record a report that failed outside its render (its worker process died, a bug)."""
    return _Failer(plan, may_publish)(message)


def _rel(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _write_index(out: Path) -> Path:
    from kpi.report._html import index_page

    entries = []
    for manifest in sorted(out.glob("*/*/report.json")) + sorted(out.glob("*/*/failed.json")):
        d = manifest.parent
        if any(part.startswith(".") for part in d.relative_to(out).parts):
            continue
        if manifest.name == "failed.json" and (d / "report.json").exists():
            continue  # listed with its report
        try:
            info = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        rel = d.relative_to(out).as_posix()
        entry: dict[str, Any] = {"report": d.parent.name, "period": d.name, "order": 100}
        if manifest.name == "report.json":
            entry.update(
                title=info.get("title"),
                generated=info.get("generated"),
                generated_text=info.get("generated_text"),
                order=info.get("order", 100),
                href=f"{rel}/{info.get('html')}",
                notebook_href=f"{rel}/{info.get('ipynb')}",
            )
        failed_file = d / "failed.json"
        if failed_file.exists():
            try:
                failed_info = json.loads(failed_file.read_text())
            except (OSError, ValueError):
                failed_info = {"error": "unreadable failed.json"}
            entry["failed"] = failed_info
            if failed_info.get("notebook"):
                entry["failed_href"] = f"{rel}/{failed_info['notebook']}"
        entries.append(entry)
    entries.sort(key=lambda e: (e["order"], e["report"], _neg(e["period"])))
    _, generated_text = _now()
    return atomic_write_text(
        out / "index.html", index_page(entries, generated_text=generated_text)
    )


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def rebuild_index(out_dir: str | os.PathLike = "reports") -> Path:
    """Rebuild ``<out_dir>/index.html`` from the published reports (under the output lock).

    Examples
    --------
    >>> import tempfile
    >>> index = rebuild_index(tempfile.mkdtemp())
    >>> "No reports yet" in index.read_text()
    True
    """
    out = Path(out_dir)
    with locked(out):
        return _write_index(out)


def _write_masked(nb: Any, path: Path) -> None:
    """Write ``nb`` to ``path`` with customer identifiers masked in every output."""
    import nbformat

    from kpi.report._html import mask_notebook

    nbformat.write(mask_notebook(nb), path)


def _mask_file(path: Path) -> bool:
    """Mask the notebook stored at ``path`` in place; False when it cannot be (then it is not
    kept: a failure record is never published unmasked)."""
    import nbformat

    try:
        _write_masked(nbformat.read(path, as_version=4), path)
    except Exception:
        return False
    return True
