"""The measure cube: measures aggregated once, so any roll-up of them is a small query.

Every KPI is a function of measures. The measures that roll up exactly, aggregated once by
quarter hour in the site's local time and the slicing dimensions (:data:`LEVELS`), answer every
coarser grain, any subset of those dimensions and any range whose bounds fall on the cube's
bins, exactly, and the engine's rule for unknown groups (a group whose rows are all null in a
column a measure reads is null, not 0) is kept by storing each such column's non-null count.
:mod:`kpi.compute` asks the cube first (:meth:`Cube.rollup`) and reads the rows for the rest,
so results are the same either way (``tests/test_cube.py`` compares them over KPIs, grains,
dimensions, ranges and DST days).

Levels. Four are aggregated from the rows: quarter hours by site, team, queue and channel;
quarter hours by topic, direction and priority (:data:`kpi.cube._build.TOPICAL`, the views'
dimensions of few values); days by site, team, queue, channel and topic; days by team and
agent. The others are aggregated from them: hours by those, hours and quarter hours by
nothing, hours by each single dimension, days by each single dimension and by nothing, months
by team and agent (agent scorecards and the agent explorer), days by agent alone (views by
agent: an agent who works for several teams in a day has one cell).
The rows are read in chunks of whole local months (every cell lies in one), grouped in
partitions of about :data:`PARTITION_ROWS` rows for FCR's repeat test; a level whose cells
outgrow a memory budget is written in parts. A query reads the smallest level that has its
dimensions, a grain its grain is a multiple of and its range's bounds on its bins (``1h by
queue``: hours by queue, 24 queues × 8,760 hours).

Each measure's strategy:

- ``sum`` measures (counts and totals: offered, answered, waits, handle times, sales, ...):
  the cell's sum, rolled up as a sum. Exact.
- ``max`` measures (``longest_wait``'s longest wait): the cell's maximum, rolled up as a
  maximum of cell maxima. Exact.
- ``distinct`` measures (agents who handled contacts, for ``handled_per_agent`` and
  ``sales_per_agent``): a bit set of the cell's values, one ``UInt64`` word per 64 values,
  rolled up with a bitwise or and counted with a population count. Exact, for columns of at
  most :data:`kpi.cube._build.MAX_DISTINCT` values (2,048).
- FCR's numerator under its default window and key: each contact's repeat flag is computed
  once per partition (its contacts and the next window's days decide it: the test looks
  forward only) and counted like a ``sum`` in every level. Exact.
- Peak-hour traffic (``peak_hour_traffic``, by calls or Erlangs): the busiest clock hour of a
  bin ranks hourly sums of contacts offered and of answered handle time, which add up over
  the dimensions, so hours by the dimensions asked for (quarter hours for 15- and 30-minute
  bins) answer it exactly: any ``by`` the hourly levels hold. Agents have no hours: each
  local day's busiest hour by agent (by each ranking, the earliest of equals) is stored, and
  a day or longer bin's busiest hour is the busiest of its days'. So it is for topic with
  each intraday dimension (:data:`kpi.cube._build.PEAK_DAILY`; no hourly level holds topic
  with another dimension), from one hourly grouping of each chunk by all of them.
- Most contacts waiting at once (``max_in_queue``): the queue level is a property of the
  groups swept, so it is stored per dimension set, swept by quarter hour (and rolled up to
  hours) by nothing and by each one of :data:`kpi.cube._build.SWEEP_DIMS`; a query by
  exactly one of those sets takes the maximum of its quarter-hour (or hour) maxima. By agent
  (the contacts each agent answered, and those no agent did) it is stored per local day only
  (:data:`kpi.cube._build.SWEEP_DAILY`), and so it is by each pair of
  :data:`kpi.cube._build.DIMENSIONS` (each pair's values as one code): days and longer bins
  by agent or by a pair take the maximum of its days'. Exact; a pair finer than a day, or
  with direction or priority, and agents finer than a day, read the rows.
- ``distinct`` measures of too many values for bit sets (customers contacting, for
  ``contacts_per_customer``: a week's count is not the sum of its days'):
  a whole bin's distinct customers is the number of customers whose *first* counted contact
  of that bin falls in it. The build flags each customer's first contact per bin of every
  grain (local days, weeks, months, quarters, years; quarter hours, half hours, hours), by
  nothing and by each single dimension (agents by day and more), and by each pair of
  :data:`DIMENSIONS` for days and more, and stores the flags' counts per local day (``n_1d``
  ... ``n_1y``) and per quarter hour and hour (``n_15m``, ``n_30m``, ``n_1h``): a query by
  nothing, one dimension or such a pair whose range holds whole bins sums them
  (:mod:`kpi.cube._counts`). Others (a range that cuts a week, other pairs) count the
  distinct 64-bit hashes of the stored sets, one row per (day, :data:`DIMENSIONS`, value's
  hash), marked when the value has other rows that day (so a count by day compares only
  those). Exact: both are stored only when no two values share a hash (checked when building
  with a second hash).
- Left to the rows: distinct customers by agent finer than a day, by two dimensions finer
  than a day or by agent with a range that cuts a bin, medians
  and other statistics, stocks, other variants (a service-level threshold of 30 s, another
  FCR window), ``agent_id`` finer than a day or with a dimension other than team, other columns,
  topic, direction or priority with a dimension of the first level finer than a day, contacts
  attributed by answer or completion time, ``bin_offset``, ranges whose bounds
  are not on a cube bin, chunked evaluation, and datasets that are not a directory (or whose
  tables were filtered or swapped after loading).

Parts (:data:`PARTS`). The levels above with their sums and maxima are the *core*; the bit
sets (agents), FCR's repeat flags, the customers' counts and sets, the queue sweeps and each
day's busiest hours are each a part of their own, built with the core by :func:`build`
(``kpi cube build``; the bit sets and FCR's flags then sit in the core's cells) or later, on
their own (:func:`complete`; the bit sets and flags then in levels of their own, named
after the core's, whose cells they match one for one). An explorer's first use
(:func:`prepare`) builds the core and the parts its KPI needs (:func:`needed_parts`) in one
pass over the rows, and another part when a KPI first needs it, so the first chart of most
KPIs waits for the core only (at 10 million contacts, about a third of the whole build). A
part not built yet (``pending`` in ``cube.json``, with the signatures it would store) leaves
its KPIs to the rows, with the same values; a query never builds one (``evaluate(cube=True)``
builds them all).

Kept in ``DIR/.kpi-cube/`` keyed by the data's files (:mod:`kpi.cube._store`); stale cubes are
never used. ``kpi cube build|info|clear --data DIR``; ``evaluate(..., cube=True)`` builds one
when there is none, ``cube=False`` reads the rows; :func:`prepare` builds one before an
explorer's first redraw and turns a cube that cannot be written into a note.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from kpi._fs import atomic_write
from kpi._progress import reporter
from kpi.cube._build import (
    AGENT_DIMS,
    DIMENSIONS,
    EXACT_BUILDERS,
    LEVELS,
    PARTITION_ROWS,
    PARTS,
    PEAK_BUILDERS,
    SWEEP_BUILDERS,
    build_levels,
    cube_measures,
    signature,
)
from kpi.cube._plan import distinct_input
from kpi.cube._query import Cube
from kpi.cube._store import (
    FORMAT,
    LOCK,
    cube_dir,
    data_key,
    locked,
    plan_fingerprint,
    read_meta,
    remove,
    write_meta,
)
from kpi.data import Dataset, load
from kpi.errors import KpiError
from kpi.metrics import Measure, resolve
from kpi.schema import time_column

__all__ = [
    "AGENT_DIMS",
    "DIMENSIONS",
    "LEVELS",
    "PARTITION_ROWS",
    "PARTS",
    "PREPARE_MIN_ROWS",
    "Cube",
    "CubeWarning",
    "build",
    "build_for",
    "clear",
    "complete",
    "find",
    "info",
    "needed_parts",
    "prepare",
    "progress_to",
]

_OPEN: dict[Path, tuple[str, Cube]] = {}
_PLANS: dict[tuple[str, str], dict[str, str]] = {}


#: :func:`prepare` builds a cube for data of at least this many rows (smaller data is quick
#: from the rows, and a sample directory is left as it is).
PREPARE_MIN_ROWS = 1_000_000


class CubeWarning(UserWarning):
    """A note that the rows answer where a cube was wanted (it could not be written)."""


#: Where :func:`prepare` reports a build's progress when not told (:func:`progress_to`).
_PROGRESS: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "kpi_cube_progress", default=None
)


@contextlib.contextmanager
def progress_to(report: Callable[[str], None]) -> Iterator[None]:
    """Within the block, a cube built on first use (:func:`prepare`) reports its progress to
    ``report`` (an explorer's status line) instead of standard error.

    Examples
    --------
    >>> said = []
    >>> with progress_to(said.append):
    ...     _PROGRESS.get() is not None
    True
    >>> _PROGRESS.get() is None
    True
    """
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


#: (data directory, data key) to the note of a build that failed, so it is not retried on every
#: redraw (a new key, after the data changed, tries again).
_FAILED: dict[tuple[Path, str], str] = {}


def _fresh(where: Path, key: str) -> Cube | None:
    """The cube in ``where`` when it was built from the data of key ``key`` (kept open)."""
    meta = read_meta(where)
    if meta is None or meta.get("key") != key:
        return None
    hit = _OPEN.get(where)
    if hit is not None and hit[0] == meta["built"]:
        return hit[1]
    cube = Cube(where, meta)
    _OPEN[where] = (meta["built"], cube)
    return cube


def _loaded_plans(path: Path, key: str) -> dict[str, str]:
    """The plan fingerprint of each table of ``path`` as :func:`kpi.data.load` opens it (kept
    per path, as given, and data key: a plan names its files by the path it was loaded by)."""
    hit = _PLANS.get((str(path), key))
    if hit is None:
        fresh = load(path, check=False)
        hit = {t: plan_fingerprint(lf) for t, lf in fresh.tables.items()}
        _PLANS[(str(path), key)] = hit
    return hit


def _own_tables(ds: Dataset, cube: Cube, key: str) -> bool:
    """Whether ``ds`` holds the directory's tables as loaded (not filtered or swapped), by
    whichever path it was loaded (relative or absolute)."""
    if ds.tz != cube.tz or ds.path is None:
        return False
    plans = _loaded_plans(Path(ds.path), key)
    for table in cube.meta["fingerprints"]:
        if table not in ds.tables or plan_fingerprint(ds.tables[table]) != plans.get(table):
            return False
    return True


def find(
    data: Dataset | str | Path,
    *,
    build_missing: bool = False,
    params: dict[str, Any] | None = None,
    progress: bool | Callable[[str], None] = False,
) -> Cube | None:
    """The fresh cube of a dataset directory, or None (no directory, none built, stale, or the
    dataset's tables are not the directory's as loaded). ``build_missing``: build it when it
    is missing or stale (``params``, ``progress`` as for :func:`build`)."""
    ds = data if isinstance(data, Dataset) else load(data, check=False)
    if ds.path is None:
        return None
    where = cube_dir(ds.path)
    key = data_key(ds.path)
    cube = _fresh(where, key)
    if cube is None and build_missing:
        build(ds.path, params=params, progress=progress)
        cube = _fresh(where, key)
    elif cube is not None and build_missing and cube.meta.get("pending"):
        complete(ds.path, progress=progress)
        cube = _fresh(where, key)
    return cube if cube is not None and _own_tables(ds, cube, key) else None


def prepare(
    data: Dataset,
    *,
    params: dict[str, Any] | None = None,
    progress: bool | Callable[[str], None] | None = None,
    metrics: str | Sequence[str] | None = None,
) -> str | None:
    """Make sure a dataset directory's cube is there before an explorer's first redraw.

    Builds it (``params``, ``progress`` as for :func:`build`; ``None``: to the callable of
    :func:`progress_to` around the call, else as lines on standard error, since a build of
    millions of rows takes a while) when ``data`` holds the tables of its directory as
    loaded, has at least :data:`PREPARE_MIN_ROWS` rows and there is no fresh cube; does
    nothing for data that is not a directory or was filtered (the cube could not answer for
    it), or is small (the rows answer in a blink). ``metrics``: the KPIs about to be drawn;
    the core (:data:`PARTS`) and the parts they need are built (:func:`needed_parts`), the
    others when a KPI first needs them. ``None``: every part. A cube that cannot be written
    (a read-only place, a full disk) or built is not an error: the queries read the rows, and
    the returned line says so (once per directory and data key; the build is not retried).

    Returns
    -------
    str | None
        None when the cube is ready or not needed; else one line on why the rows are read.

    Examples
    --------
    >>> import polars as pl
    >>> prepare(Dataset({"contacts": pl.LazyFrame({"wait_s": [1.0]})})) is None
    True
    """
    if data.path is None:
        return None
    root = Path(data.path)
    key = data_key(root)
    if (root.resolve(), key) in _FAILED:
        return None
    fresh = load(root, check=False)
    plans = _loaded_plans(root, key)
    if data.tz != fresh.tz or any(
        t not in data.tables or plan_fingerprint(data.tables[t]) != fp for t, fp in plans.items()
    ):
        return None  # filtered or swapped tables: a cube of the directory cannot answer
    where = cube_dir(root)
    cube = _fresh(where, key)
    todo = []
    if cube is not None:
        todo = (
            needed_parts(cube, metrics, params)
            if metrics is not None
            else [*cube.meta.get("pending", {})]
        )
        if not todo:
            return None
    else:
        rows = sum(lf.select(pl.len()).collect().item() for lf in fresh.tables.values())
        if rows < PREPARE_MIN_ROWS:
            return None
    if progress is None:
        progress = _PROGRESS.get() or True
    say = reporter(progress, "kpi cube")
    if say is not None and cube is None:
        say(f"{rows:,} rows: building the measure cube once, so that later redraws are quick")
    elif say is not None:
        named = ", ".join(_PART_TEXT[p] for p in todo)
        whom = f", for {_listed(metrics)}" if metrics is not None else ""
        say(f"adding {named} to the measure cube once{whom}")
    # the core and the parts the KPIs need, in one pass over the rows (an unknown KPI is the
    # caller's error, raised here, not a cube that could not be built)
    if metrics is not None:
        resolve(metrics, dict(params or {}))
    try:
        if cube is None and metrics is not None:
            build_for(root, metrics, params=params, progress=progress)
        elif cube is None:
            build(root, params=params, progress=progress)
        elif todo:
            complete(root, todo, progress=progress)
    except OSError as exc:
        why = exc.strerror or str(exc)
        note = f"{where}: the measure cube could not be written ({why}); reading the rows"
    except (KpiError, pl.exceptions.PolarsError) as exc:  # the rows may still answer
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        note = f"{root}: the measure cube could not be built ({first}); reading the rows"
    else:
        return None
    _FAILED[(root.resolve(), key)] = note
    return note


#: What each part holds, for progress lines.
_PART_TEXT = {
    "core": "the core",
    "agents": "the bit sets of distinct values (agents)",
    "fcr": "FCR's repeat flags",
    "customers": "customers' first contacts",
    "sweeps": "the queue sweeps",
    "peaks": "the busiest hours",
}


def _listed(metrics: str | Sequence[str] | None) -> str:
    return metrics if isinstance(metrics, str) else ", ".join(metrics or ())


def _writer(where: Path, key: str) -> Callable[[str, pl.DataFrame], str]:
    """How a build writes a level (or a part of one): atomically, named by the data's key."""

    def write(name: str, frame: pl.DataFrame) -> str:
        file = f"{name}.{key}.parquet"
        atomic_write(
            where / file,
            lambda p: frame.write_parquet(p, compression="lz4", row_group_size=65_536),
        )
        return file

    return write


def _levels(
    ds: Dataset,
    measures: list[Measure],
    where: Path,
    key: str,
    report: Callable[[str], None],
    partition_rows: int,
    todo: list[str],
) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """The levels of parts ``todo`` written into ``where`` (:func:`build_levels`), each with
    its ``read``: the columns its stored measures read; and the parts that apply."""
    write = _writer(where, key)
    levels, applies = build_levels(
        ds, measures, write, report, partition_rows=partition_rows, parts=todo
    )
    for lv in levels:
        # the core's cells count the nulls of what the bit sets read too, built or not
        sets = applies.get("agents", set()) if lv["part"] == "core" else set()
        stored = {*lv["columns"], *sets}
        lv["read"] = sorted(
            {
                c
                for m in measures
                for s in m.sources
                if s.table == lv["table"] and signature(lv["table"], lv["time"], s) in stored
                for c in s.columns
            }
        )
    return levels, applies


def build(
    data_dir: str | Path,
    *,
    params: dict[str, Any] | None = None,
    progress: bool | Callable[[str], None] = False,
    partition_rows: int = PARTITION_ROWS,
    parts: Collection[str] | None = None,
) -> Path:
    """Build the cube of a dataset directory (always from its files) and publish it.

    ``params``: definition variants the cube stores instead of the defaults (the dataset's
    own facts, such as ``csat.scale_max``, belong here). ``partition_rows``: FCR's repeat
    test sorts partitions of whole local months of about this many rows (and the days its
    window looks ahead); the rows are aggregated in smaller chunks of whole months, so memory
    follows a partition's sort, a chunk and the cells held, not the table. ``parts``: the
    parts to build (:data:`PARTS`, the core always; default: all); the others that apply to
    the data are left pending, for :func:`complete` (until then their KPIs read the rows).
    Returns the cube directory.
    """
    wanted = {"core", *(PARTS if parts is None else parts)}
    if wanted - set(PARTS):
        raise ValueError(f"unknown cube parts {sorted(wanted - set(PARTS))}; the parts: {PARTS}")
    root = Path(data_dir)
    where = cube_dir(root)
    todo = [p for p in PARTS if p in wanted]
    with locked(where):  # one build or completion at a time
        _run_build(
            root, where, params, reporter(progress, "kpi cube"), partition_rows, todo, parts
        )
    return where


def build_for(
    data_dir: str | Path,
    metrics: str | Sequence[str],
    *,
    params: dict[str, Any] | None = None,
    progress: bool | Callable[[str], None] = False,
) -> list[str]:
    """Make a directory's cube ready for ``metrics`` (KPI ids, or ``"all"``): with no fresh
    cube, build the core and the parts those KPIs need in one pass (the others are left
    pending, as after an explorer's first use); with one, add only the parts it lacks. A
    scheduler prepares in this way what its notebooks draw, at the cost of the core (about
    one scorecard) and those parts, not every part (:func:`build`). A cube built with other
    ``params`` is built again.

    Returns
    -------
    list[str]
        The parts built or added (:data:`PARTS`), in that order; empty when the cube already
        had them.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import datetime
    >>> from kpi.data import save
    >>> t = [datetime(2026, 3, 2, 9), datetime(2026, 3, 3, 9)]
    >>> rows = pl.LazyFrame(
    ...     {
    ...         "contact_id": ["a", "b"],
    ...         "customer_id": ["x", "x"],
    ...         "arrival_ts": t,
    ...         "answer_ts": t,
    ...         "wait_s": [20.0, 5.0],
    ...         "talk_s": [300.0, 200.0],
    ...         "outcome": ["answered", "answered"],
    ...     }
    ... )
    >>> root = Path(tempfile.mkdtemp()) / "d"
    >>> _ = save(Dataset({"contacts": rows}, tz="Europe/London"), root)
    >>> build_for(root, "aht")
    ['core']
    >>> build_for(root, ["aht", "fcr"])
    ['fcr']
    >>> build_for(root, "fcr")
    []
    """
    resolve(metrics, dict(params or {}))  # unknown KPIs: an error, whatever is built
    root = Path(data_dir)
    where, key = cube_dir(root), data_key(root)
    cube = _fresh(where, key)
    done: list[str] = []
    if cube is None or (cube.meta.get("params") or {}) != (params or {}):
        build(root, params=params, progress=progress, parts=needed_parts(None, metrics, params))
        cube = _fresh(where, key)
        done = [*(cube.meta.get("parts", {}) if cube is not None else ())]
    # before a build, a distinct count's part is guessed from its column (agents: bit sets;
    # customers: counts); the data may say otherwise, so what is still needed is added now
    todo = needed_parts(cube, metrics, params) if cube is not None else []
    if todo:
        complete(root, todo, progress=progress)
    return [p for p in PARTS if p in {*done, *todo}]


def _run_build(
    root: Path,
    where: Path,
    params: dict[str, Any] | None,
    say: Callable[[str], None] | None,
    partition_rows: int,
    todo: list[str],
    parts: Collection[str] | None,
) -> None:
    """:func:`build`'s work, under the cube directory's lock."""
    report = say or (lambda msg: None)
    began = time.perf_counter()
    key = data_key(root)  # before reading: a change meanwhile leaves the cube stale
    ds = load(root, check=False)
    measures = cube_measures(params)
    report(
        f"building the cube of {root} ({len(measures)} additive measures"
        + ("" if parts is None else f"; parts: {', '.join(todo)}")
        + f") in {where}"
    )
    levels, applies = _levels(ds, measures, where, key, report, partition_rows, todo)
    tables = sorted({lv["table"] for lv in levels})
    seconds = round(time.perf_counter() - began, 2)
    meta = {
        "format": FORMAT,
        "key": key,
        "built": time.time_ns(),
        "tz": ds.tz,
        "data": str(root.resolve()),
        "params": params or {},
        "seconds": seconds,
        "parts": {p: seconds for p in todo if p in applies},
        "pending": {p: sorted(applies[p]) for p in PARTS if p in applies and p not in todo},
        "fingerprints": {t: plan_fingerprint(ds.tables[t]) for t in tables},
        "levels": levels,
    }
    write_meta(where, meta)
    report(f"built in {meta['seconds']:.1f} s")


def complete(
    data_dir: str | Path,
    parts: Collection[str] | None = None,
    *,
    progress: bool | Callable[[str], None] = False,
    partition_rows: int = PARTITION_ROWS,
) -> bool:
    """Build the pending ``parts`` (default: all) of a directory's fresh cube and add their
    levels to it; the parts already built stay as they are. False when there is no fresh
    cube (or the data changed meanwhile), else True.
    """
    root = Path(data_dir)
    where = cube_dir(root)
    key = data_key(root)
    meta = read_meta(where)
    if meta is None or meta.get("key") != key:
        return False
    if not any(p in meta.get("pending", {}) for p in parts or PARTS):
        return True
    say = reporter(progress, "kpi cube")
    with locked(where):  # one build or completion at a time: the cube as it is now
        return _complete(root, where, key, parts, say, partition_rows)


def _complete(
    root: Path,
    where: Path,
    key: str,
    parts: Collection[str] | None,
    say: Callable[[str], None] | None,
    partition_rows: int,
) -> bool:
    """:func:`complete`'s work, under the cube directory's lock."""
    meta = read_meta(where)
    if meta is None or meta.get("key") != key or data_key(root) != key:
        return False
    todo = [p for p in PARTS if p in meta.get("pending", {}) and (parts is None or p in parts)]
    if not todo:
        return True
    report = say or (lambda msg: None)
    began = time.perf_counter()
    report(f"adding {', '.join(todo)} to the cube of {root}")
    ds = load(root, check=False)
    measures = cube_measures(meta["params"] or None)
    levels, _ = _levels(ds, measures, where, key, report, partition_rows, todo)
    seconds = round(time.perf_counter() - began, 2)
    if data_key(root) != key:  # the data changed meanwhile: the cube is stale anyway
        return False
    added = [lv for lv in levels if set(lv["part"].split("+")) <= set(todo)]
    meta["levels"] = [*meta["levels"], *added]
    meta["parts"] = {**meta.get("parts", {}), **dict.fromkeys(todo, seconds)}
    meta["pending"] = {p: v for p, v in meta["pending"].items() if p not in todo}
    meta["built"] = time.time_ns()
    for t in {lv["table"] for lv in levels} - set(meta["fingerprints"]):
        meta["fingerprints"][t] = plan_fingerprint(ds.tables[t])
    write_meta(where, meta)
    report(f"added {', '.join(todo)} in {seconds:.1f} s")
    return True


def needed_parts(
    cube: Cube | None, metrics: str | Sequence[str], params: dict[str, Any] | None = None
) -> list[str]:
    """The pending parts of ``cube`` that would answer some measure of ``metrics``: those
    storing one of its signatures (``cube.json`` lists each pending part's), and the busiest
    hours for peak-hour traffic. Without a cube (before the first build): the parts that
    would, should the data fill them (FCR's flags, distinct counts, the sweeps, the busiest
    hours); the core is not named."""
    if cube is None:
        names = {"fcr": EXACT_BUILDERS, "sweeps": SWEEP_BUILDERS, "peaks": PEAK_BUILDERS}
        pending = {p: set() for p in PARTS if p != "core"}
    else:
        names = {"peaks": PEAK_BUILDERS}
        pending = {p: set(sigs) for p, sigs in cube.meta.get("pending", {}).items()}
    if not pending:
        return []
    need = set()
    for m, p in resolve(metrics, dict(params or {})):
        for meas in m.build(p).measures:
            need.update(part for part, start in names.items() if meas.name.startswith(start))
            if cube is None and meas.kind == "distinct":  # bit sets, or counts of many
                # agents are few (bit sets), customers many (counts); should either not be,
                # the next redraw finds the other part pending and adds it
                columns = [c[0] for s in meas.sources if (c := distinct_input(s.agg))]
                need.update("agents" if c == "agent_id" else "customers" for c in columns)
            if meas.builder is not None and meas.tables:
                table = meas.tables[0]
                sigs = {signature(table, time_column(table) or "", meas)}
            else:
                sigs = {
                    signature(s.table, s.time or time_column(s.table) or "", s)
                    for s in meas.sources
                }
            # the busiest hours' sums are the core's too (contacts offered): named, not matched
            need.update(
                part for part, stored in pending.items() if part != "peaks" and sigs & stored
            )
    return [p for p in PARTS if p in need and p in pending]


def info(data_dir: str | Path) -> dict[str, Any]:
    """What is known of a directory's cube: where, whether it is fresh, levels and sizes."""
    root = Path(data_dir)
    where = cube_dir(root)
    meta = read_meta(where)
    out: dict[str, Any] = {"where": str(where), "exists": meta is not None}
    if meta is None:
        return out
    out["fresh"] = meta.get("key") == data_key(root)
    out["seconds"] = meta.get("seconds")
    out["params"] = meta.get("params")
    out["parts"] = meta.get("parts", {})
    out["pending"] = [*meta.get("pending", {})]
    out["levels"] = [
        {
            "table": lv["table"],
            "time": lv["time"],
            "level": lv["level"],
            "part": lv.get("part", "core"),
            "grain": lv["grain"],
            "dims": lv["dims"],
            "measures": len(lv["columns"]),
            "cells": lv["rows"],
            "bytes": sum((where / f).stat().st_size for f in lv["files"] if (where / f).exists()),
        }
        for lv in meta["levels"]
    ]
    return out


def clear(data_dir: str | Path) -> bool:
    """Remove a directory's cube; True if there was one."""
    where = cube_dir(Path(data_dir))
    _OPEN.pop(where, None)
    if not where.exists():
        return False
    others = [p for p in where.iterdir() if p.name != LOCK]
    if (where / "cube.json").exists() or not others or where.name == ".kpi-cube":
        return remove(where)
    raise KpiError(f"{where} does not look like a cube directory; not removed")
