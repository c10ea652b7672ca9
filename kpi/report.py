"""Reports: parameterised notebooks rendered to self-contained, offline HTML for managers.

:func:`render` checks the parameters against the notebook's ``parameters`` cell, executes the
notebook with papermill on the current interpreter, and exports one HTML file with nbconvert: no
code, no prompts, a header (title, period, data source, generation time, the KPI definitions and
targets the notebook declared with :func:`header`), the findings (:func:`findings`) at the top, a
table of contents, interactive charts whose JavaScript is embedded once (no CDN, no network), and
customer identifiers masked unless asked for. Output goes to ``<out_dir>/<report>/<period>/``
(the HTML, the executed notebook and ``report.json``), each file written atomically, and
``<out_dir>/index.html`` lists every report. A failed run raises :class:`ReportError` naming the
cell and the error, keeps the executed notebook as ``<name>.failed.ipynb`` and leaves the last
good report as it was.

Notebooks use the display helpers of this module::

    kpi.report.header("Overview", period=period, compare=compare, data=ds, kpis=["aht"])
    kpi.report.findings(["Contacts handled fell 25% ..."])
    kpi.report.table(frame, percent=["service_level"])  # escaped, identifiers masked
    kpi.report.mask_identifiers(rows, show=show_identifiers)

``import kpi.report`` itself needs only polars; papermill, nbconvert and vl-convert are imported
when a report is rendered.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from kpi._report_display import (
    FINDINGS_MIME,
    HEADER_MIME,
    Findings,
    ReportHeader,
    Table,
    findings,
    header,
    scorecard_findings,
    table,
)
from kpi._report_files import (
    atomic_write_text,
    locked,
    new_work_dir,
    remove_stale_work_dirs,
    write_json,
)
from kpi._mask import identifier_columns, mask_identifiers, mask_text
from kpi._report_params import NotebookParam, coerce_params, describe_params, inspect_params
from kpi.errors import KpiError

__all__ = [
    "CHART_MODES",
    "FINDINGS_MIME",
    "HEADER_MIME",
    "Findings",
    "ReportError",
    "ReportHeader",
    "Table",
    "findings",
    "header",
    "identifier_columns",
    "list_reports",
    "mask_identifiers",
    "mask_text",
    "notebook_parameters",
    "rebuild_index",
    "render",
    "render_many",
    "report_name",
    "require_period",
    "resolve_notebook",
    "scorecard_findings",
    "table",
]

#: ``interactive``: Vega charts with tooltips (JavaScript embedded once per file);
#: ``svg``: static SVG images (no JavaScript at all: mail clients, print, PDF).
CHART_MODES = ("interactive", "svg")

_REPO = Path(__file__).resolve().parents[1]
_NUMBERED = re.compile(r"^(\d{2})-(.+)\.ipynb$")


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


# --------------------------------------------------------------------------------------------
# Finding notebooks
# --------------------------------------------------------------------------------------------


def _notebook_dirs(notebooks_dir: str | os.PathLike | None) -> list[Path]:
    if notebooks_dir is not None:
        return [Path(notebooks_dir)]
    dirs: dict[Path, Path] = {}
    for d in (_REPO / "notebooks", Path.cwd() / "notebooks"):
        if d.is_dir():
            dirs.setdefault(d.resolve(), d)
    return list(dirs.values())


def list_reports(notebooks_dir: str | os.PathLike | None = None) -> list[Path]:
    """The standard reports: every ``NN-name.ipynb`` of the notebooks directory, in order.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("01-trends.ipynb", "00-overview.ipynb", "scratch.ipynb"):
    ...     _ = (d / name).write_text("{}")
    >>> [p.name for p in list_reports(d)]
    ['00-overview.ipynb', '01-trends.ipynb']
    """
    found: dict[str, Path] = {}
    for d in _notebook_dirs(notebooks_dir):
        for p in sorted(d.glob("[0-9][0-9]-*.ipynb")):
            found.setdefault(p.name, p)
    return [found[k] for k in sorted(found)]


def report_name(path: str | os.PathLike) -> str:
    """The report name of a notebook: its file stem without the ``NN-`` prefix.

    Examples
    --------
    >>> report_name("notebooks/00-overview.ipynb"), report_name("tests/notebooks/xss.ipynb")
    ('overview', 'xss')
    """
    name = Path(path).name
    m = _NUMBERED.match(name)
    return m[2] if m else Path(name).stem


def resolve_notebook(
    name_or_path: str | os.PathLike, *, notebooks_dir: str | os.PathLike | None = None
) -> Path:
    """Find a report notebook by path, by name (``overview``) or by file stem (``00-overview``).

    Raises
    ------
    KpiError
        Listing the available reports when nothing matches.

    Examples
    --------
    >>> resolve_notebook("overview").name
    '00-overview.ipynb'
    >>> resolve_notebook("00").name
    '00-overview.ipynb'
    """
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".ipynb" or os.sep in text or "/" in text:
        if path.is_file():
            return path.resolve()
        raise KpiError(f"notebook {path} does not exist")
    reports = list_reports(notebooks_dir)
    for p in reports:
        if text in (p.stem, report_name(p), p.stem[:2]):
            return p.resolve()
    valid = ", ".join(report_name(p) for p in reports) or "none found"
    where = ", ".join(str(d) for d in _notebook_dirs(notebooks_dir)) or "no notebooks directory"
    raise KpiError(f"unknown report {text!r}; valid reports: {valid} (in {where})")


def notebook_parameters(path: str | os.PathLike) -> dict[str, NotebookParam]:
    """The parameters a notebook declares (name -> :class:`NotebookParam`).

    Examples
    --------
    >>> params = notebook_parameters(resolve_notebook("overview"))
    >>> params["period"].describe()
    'period (period, default "2026-02"): reporting period: 2026-02, 2026-W06, 2026-02-03, 2026-Q1'
    """
    return inspect_params(path)


def require_period(
    data: Any,
    period: Any,
    *,
    tables: Iterable[str] = ("contacts", "tickets", "intervals"),
) -> None:
    """Fail early, and clearly, when the data holds nothing in a report's period.

    A scheduled run whose data import did not happen would otherwise fail deep inside a
    computation ("there is no change to explain"); this says which period is empty and what
    the data covers.

    Parameters
    ----------
    data
        A :class:`kpi.Dataset`, a mapping of tables, or a dataset directory.
    period
        A period label (``"2026-02"``, ``"previous-month"``) or :class:`kpi.periods.Period`.
    tables
        The activity tables to look at (those the dataset has); the period needs rows in one.

    Raises
    ------
    KpiError
        Naming the period, its dates and the dates the data covers.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> import polars as pl
    >>> c = pl.DataFrame({"arrival_ts": [datetime(2026, 1, 5, tzinfo=UTC)]})
    >>> require_period({"contacts": c}, "2026-01")
    >>> require_period({"contacts": c}, "2026-03")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: no data in 2026-03 (2026-03-01 to 2026-03-31): contacts cover 2026-01-05 to 2026-01-05
    """
    import polars as pl

    from kpi.data import Dataset
    from kpi.periods import Period, parse_period
    from kpi.schema import TABLES

    ds = Dataset.coerce(data)
    p = period if isinstance(period, Period) else parse_period(period)
    covered = []
    for name in tables:
        if name not in ds.tables:
            continue
        column = TABLES[name].time_column
        lf = ds[name]
        dtype = lf.collect_schema()[column]
        tz = getattr(dtype, "time_zone", None) or ds.tz
        start, end = p.start_ts(tz), p.end_ts(tz)
        if getattr(dtype, "time_zone", None) is None:
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        found = lf.filter((pl.col(column) >= start) & (pl.col(column) < end)).head(1).collect()
        if found.height:
            return
        span = lf.select(
            pl.col(column).min().alias("lo"), pl.col(column).max().alias("hi")
        ).collect()
        lo, hi = span.row(0)
        covered.append(
            f"{name} cover {lo.date().isoformat()} to {hi.date().isoformat()}"
            if lo is not None
            else f"{name} is empty"
        )
    last = (p.end - timedelta(days=1)).isoformat()
    raise KpiError(
        f"no data in {p.label} ({p.start.isoformat()} to {last}): "
        + ("; ".join(covered) or f"the data has none of the tables {', '.join(tables)}")
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _site_today(data_dir: Path | None) -> date:
    """Today in the dataset's time zone (``dataset.json``), else the machine's local date."""
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
        Fail a cell that runs longer than this (default: no limit).
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
        Bad parameters (before anything runs).
    ReportError
        The notebook failed (the message names the cell and the error; the executed notebook
        is kept as ``<name>.failed.ipynb``; the previous report is untouched) or could not be
        exported.

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
    return _run(
        _plan(
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
    )


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
    cell_timeout_s: float | None
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
    if "period" in values and "compare" in spec and "compare" not in values:
        from kpi.periods import parse_period, previous_period

        values["compare"] = previous_period(parse_period(values["period"])).label
    show = bool(values.get("show_identifiers", show_identifiers))

    effective = {**_defaults(spec), **values}
    period_label = str(effective.get("period") or today.isoformat())
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._-]*", period_label):
        raise KpiError(f"period {period_label!r} cannot name a directory")
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
        cell_timeout_s=cell_timeout_s,
        declared=tuple(spec),
    )


def _run(plan: _Plan) -> Path:
    """Execute, export and publish a planned report."""
    nb_path, report, out, values, effective = (
        plan.nb_path,
        plan.report,
        plan.out,
        plan.values,
        plan.effective,
    )
    show, charts, period_label = plan.show, plan.charts, plan.period_label
    target_dir, stem, html_path = plan.target_dir, plan.stem, plan.html_path
    remove_stale_work_dirs(out)
    work = new_work_dir(out, stem)
    started = time.monotonic()
    try:
        executed = _execute(
            nb_path,
            work / f"{stem}.ipynb",
            values,
            report=report,
            period=period_label,
            target_dir=target_dir,
            html_path=html_path,
            out=out,
            progress=plan.progress,
            cell_timeout_s=plan.cell_timeout_s,
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
            from kpi._report_html import export, prepare

            prepared, lifted = prepare(executed, charts=charts, show_identifiers=show)
            text = export(prepared, lifted, context, charts=charts)
        except Exception as exc:
            raise _fail(
                out,
                target_dir,
                stem,
                work / f"{stem}.ipynb",
                f"{report} {period_label}: executed, but the HTML export failed: "
                f"{type(exc).__name__}: {exc}",
                report=report,
                period=period_label,
                ename=type(exc).__name__,
                evalue=str(exc),
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
        with locked(out):
            target_dir.mkdir(parents=True, exist_ok=True)
            os.replace(work / f"{stem}.ipynb", target_dir / f"{stem}.ipynb")
            os.replace(work / f"{stem}.html", html_path)
            write_json(target_dir / "report.json", manifest)
            (target_dir / f"{stem}.failed.ipynb").unlink(missing_ok=True)
            (target_dir / "failed.json").unlink(missing_ok=True)
            _write_index(out)
        return html_path
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


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
    target_dir: Path,
    html_path: Path,
    out: Path,
    progress: bool,
    cell_timeout_s: float | None,
) -> Any:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from kpi._report_kernel import KERNEL_NAME, manager_for

    source_nb = nbformat.read(nb_path, as_version=4)
    try:
        return pm.execute_notebook(
            str(nb_path),
            str(work_nb),
            parameters=dict(values),
            kernel_name=KERNEL_NAME,
            kernel_manager_class=manager_for(nb_path.parent),
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
        raise _fail(
            out,
            target_dir,
            html_path.stem,
            work_nb,
            message,
            report=report,
            period=period,
            cell=number,
            ename=exc.ename,
            evalue=evalue,
        ) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        message = (
            f"{report} {period} failed: {type(exc).__name__}: {_strip_ansi(str(exc)).strip()}"
        )
        raise _fail(
            out,
            target_dir,
            html_path.stem,
            work_nb,
            message,
            report=report,
            period=period,
            ename=type(exc).__name__,
            evalue=str(exc),
        ) from None


def _fail(
    out: Path,
    target_dir: Path,
    stem: str,
    work_nb: Path,
    message: str,
    **info: Any,
) -> ReportError:
    """Keep the failed notebook next to the report, record the failure, build the error."""
    failed = target_dir / f"{stem}.failed.ipynb"
    kept: Path | None = None
    with locked(out):
        target_dir.mkdir(parents=True, exist_ok=True)
        if work_nb.exists():
            os.replace(work_nb, failed)
            kept = failed
        generated, generated_text = _now()
        write_json(
            target_dir / "failed.json",
            {
                "time": generated,
                "time_text": generated_text,
                "error": message,
                "notebook": failed.name if kept else None,
            },
        )
        _write_index(out)
    previous = (target_dir / f"{stem}.html").exists()
    tail = f"; failed notebook kept at {_rel(kept)}" if kept else ""
    tail += "; the previous report is untouched" if previous else "; no previous report"
    return ReportError(message + tail, failed_notebook=kept, **info)


def _rel(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _write_index(out: Path) -> Path:
    from kpi._report_html import index_page

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
