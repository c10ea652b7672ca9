"""A contact-centre simulator: realistic sample data with a known story (``kpi sample``).

:func:`simulate` builds every canonical table of :mod:`kpi.schema` except ``intervals``
(``contacts``, ``tickets``, ``agent_time``, ``agents``, ``surveys``, ``qa_evaluations``,
``coaching``, ``agent_surveys``, ``customers``, ``finance``, ``events``) from a simulated centre;
:func:`write_sample` saves them as a dataset directory (:func:`kpi.data.save`) with the ground
truth ``scenario.json``, a spreadsheet-friendly ``contacts.csv`` and a ``README.md``.

The centre
----------
Two sites (Leeds, Bristol) and five teams: North (voice and chat, the largest), South (voice,
chat and web callback requests), West (sales line and sales chat, with conversions and revenue),
Email (24/7 mailbox, a small night shift) and Tickets (a ticket log worked in office hours).
Contact reasons (topics) have their own handle-time distributions (lognormal), hold, transfer,
resolution and conversion rates. Arrivals are a non-homogeneous Poisson process: an intraday
profile per channel, weekday factors, mild seasonality, day- and slot-level noise, in the site's
local time with correct daylight saving (29 March 2026 is a 23-hour day).

Agents work shifts from a staffing plan: Erlang C requirements per 15 minutes for the forecast
(work-load planning for e-mail and tickets), head counts sized from the first month with real
shortfalls, days off and shift starts fitted to the requirement, breaks placed in quiet slots,
team meetings, coaching, training, new-hire classroom weeks and slower nesting, unplanned
absence, late log-ins and calls that overrun a break.

Each queue is a first-come-first-served multi-server queue (longest-idle agent first). Waits and
abandonment come out of the queueing: a caller abandons when the offered wait exceeds their
patience, flows out (voicemail) after 15 minutes, and may redial minutes later; IVR time and IVR
abandons come first. Patience is measured on a real call log (the Technion bank, February 1999,
by ``bench/calibrate_patience.py``, as Brown et al. 2005 do): a hyper-exponential mixture whose
hazard falls with the time waited, so abandonment rises with the mean wait as in the real log
and waits stay bounded by what callers will stand (``kpi._sim.config.PATIENCE_MEASURED``).
E-mails wait for office hours and tickets for a first response: deferred work with response
objectives in hours. Answered contacts have talk, hold and after-call work, may be transferred,
are resolved or not (agent skill, topic, transfer), and unresolved customers come back on later
days (repeat contacts, so FCR by repeat window is meaningful). Surveys (CSAT 1-5, NPS 0-10,
CES 1-7) fall with the wait and rise with resolution; QA evaluations (about 4 per agent and
month); customers join and churn (more after a bad last experience); finance per month. Tickets
get a first response, may wait on the customer (pending) or be reopened, are solved and closed
four days later; tickets still open at the end keep null ``solved_ts``.

Everything is drawn from ``numpy`` generators seeded by ``seed``: the same arguments give
identical tables (also when the queues run in parallel worker processes).

The default scenario
--------------------
At the end of the first month team North loses about half of its agents and team Tickets a
fifth (``agents.left`` on the last working day, ``leave_reason`` voluntary); in the second month
a price change brings a new, long contact reason ``price_change`` into North's queues and the
ticket log. Contacts handled (outcome answered or outbound) and tickets handled (``solved_ts``)
fall by about 25% from the first month to the second; South, West and Email hold steady (they
only lose the calendar: February is shorter). Replacements hired in the third month start to
recover North. The ``steady`` scenario injects nothing.

``scenario.json``
-----------------
Written next to the data; keys are stable (``schema_version`` 1):

``schema_version``, ``scenario``, ``description``, ``seed``, ``scale``, ``start``, ``months``,
``timezone``, ``staffing``
    how the data was made.
``periods``
    ``baseline``, ``current`` (and ``recovery``): ``{"label": "2026-01", "start": "2026-01-01",
    "end": "2026-02-01"}`` (``end`` exclusive, local dates).
``causes``
    what was injected: ``{"kind": "attrition", "segment": {"team": "North"}, "date", "count",
    "agents", "headcount_before"}``, ``{"kind": "new_topic", "segment": {"topic":
    "price_change"}, "teams", "queues", "from", "volume_share_by_month", "handle_time_factor"}``,
    ``{"kind": "hiring", "segment": {"team": ...}, "date", "count", "agents"}``.
``metrics``
    ``contacts_handled`` and ``tickets_handled``, each with ``definition``, ``table``,
    ``time_column``, ``baseline``, ``current``, ``change``, ``change_pct`` (a fraction);
    ``responsible`` (segments behind the change, e.g. ``[{"team": "North"}, {"topic":
    "price_change"}]``); ``segments`` (the responsible teams with ``baseline``, ``current``,
    ``change``, ``change_pct`` and ``share_of_change`` = segment change / total change);
    ``by`` (the same for every value of each dimension: team, site, channel, queue, topic for
    contacts; team, topic, priority, channel for tickets); ``drivers`` (per responsible team)
    and ``drivers_total`` (whole centre): ``factors`` of the identity ``handled = agents ×
    productive_hours_per_agent × 3600 × occupancy / work_per_handled_s``, each with
    ``baseline``, ``current``, ``change``, ``change_pct`` and an exact log-mean Divisia
    ``contribution`` (they add up to the change), measured from ``agent_time``; for contacts
    also ``aht_s``; for the new topic its ``share_of_handled`` and current AHT against the
    team's other topics.
``objectives``
    per queue: ``queue``, ``team``, ``channel``, ``kind`` (``service_level`` for voice and
    chat, ``response_time`` for deferred work: e-mail and tickets), ``objective`` (e.g. "80%
    answered within 20 s", "90% answered within 24 h"), ``threshold_s``, ``target`` and
    ``achieved`` by month (the share that met it; null where the data hold no request time).

Every number is measured from the generated tables, never copied from the settings.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from kpi._fs import staged_dir
from kpi._progress import reporter
from kpi.errors import KpiError

__all__ = [
    "CSV_LIMIT_BYTES",
    "SCALES",
    "SCENARIOS",
    "Sample",
    "fcfs_queue",
    "simulate",
    "write_sample",
]

#: Named scales (multipliers of the default volumes; ``default`` is about 40,000 contacts a
#: month). A whole number instead is a target count of contacts over the whole run.
SCALES = {"tiny": 0.05, "small": 0.2, "default": 1.0, "large": 10.0, "bench": 71.0}
#: Scenarios: ``default`` tells the attrition and new-topic story, ``steady`` injects nothing.
SCENARIOS = ("default", "steady")
#: ``contacts.csv`` stays under this size: all months if they fit, else the first month, else
#: the first days.
CSV_LIMIT_BYTES = 8_000_000
_MIN_CONTACTS = 1_000


class Sample(dict):
    """The simulated tables (``name -> polars.DataFrame``) with their ground truth and facts.

    A plain mapping of canonical tables, so it can be passed to :func:`kpi.data.save` or
    ``kpi.data.Dataset.coerce``. ``truth`` is the content of ``scenario.json``; ``meta`` holds
    the arguments and ``timings`` the seconds spent per stage.

    Examples
    --------
    >>> s = Sample({"events": None}, truth={"scenario": "steady"}, meta={"tz": "UTC"})
    >>> sorted(s), s.truth["scenario"], s.tz
    (['events'], 'steady', 'UTC')
    """

    def __init__(
        self,
        tables: Mapping[str, Any],
        *,
        truth: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        timings: dict[str, float] | None = None,
    ) -> None:
        super().__init__(tables)
        self.truth = truth or {}
        self.meta = meta or {}
        self.timings = timings or {}

    @property
    def tz(self) -> str:
        """The site time zone of every time stamp."""
        return self.meta.get("tz", "UTC")


def _parse_start(start: str | dt.date) -> dt.date:
    if isinstance(start, dt.datetime):
        return start.date()
    if isinstance(start, dt.date):
        return start
    try:
        return dt.date.fromisoformat(str(start))
    except ValueError:
        raise KpiError(f"bad --start {start!r}: expected a date like 2026-01-01") from None


def _parse_scale(scale: str | int | float) -> tuple[str, float | None, int | None]:
    """(name, multiplier or None, target contacts or None)."""
    if isinstance(scale, str):
        text = scale.strip()
        if text in SCALES:
            return text, SCALES[text], None
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.replace("_", "").replace(",", ""))
        if not m:
            raise KpiError(
                f"unknown scale {scale!r}; valid: {', '.join(SCALES)} or a number of contacts "
                "such as 250000 or 10M"
            )
        value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
        scale = value
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise KpiError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)} or a contact count")
    n = round(scale)
    if n < _MIN_CONTACTS:
        raise KpiError(f"scale {scale!r} is too small: ask for at least {_MIN_CONTACTS} contacts")
    return str(n), None, n


def _check(
    seed: int,
    start: str | dt.date,
    months: int,
    tz: str,
    scenario: str,
    staffing: float,
    interval_min: int,
) -> dt.date:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise KpiError(f"bad --seed {seed!r}: expected a whole number 0 or more")
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise KpiError(f"bad --months {months!r}: expected a whole number 1 or more")
    if months > 60:
        raise KpiError(f"bad --months {months!r}: at most 60 months")
    day = _parse_start(start)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise KpiError(
            f"unknown time zone {tz!r}: use an IANA name such as Europe/London"
        ) from None
    if scenario not in SCENARIOS:
        raise KpiError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")
    if not (isinstance(staffing, (int, float)) and math.isfinite(staffing) and staffing > 0):
        raise KpiError(f"bad staffing {staffing!r}: expected a positive multiplier such as 1.2")
    if interval_min not in (15, 30):
        raise KpiError(f"bad interval {interval_min!r}: agent_time intervals are 15 or 30 minutes")
    return day


def _expected_contacts(day: dt.date, months: int, tz: str, scenario: str = "steady") -> float:
    """Contacts rows at scale 1 for this calendar (forecast arrivals plus repeat contacts).

    Measured ratios of contacts rows to forecast first contacts: 1.21 in a steady centre; the
    default scenario's overloaded months add redials worth about 0.6 months of that ratio.
    """
    from kpi._sim.clock import make_clock
    from kpi._sim.config import QUEUES
    from kpi._sim.demand import day_kind, forecast_rates

    clock = make_clock(tz, day, months, 0)
    kind = day_kind(clock)
    horizon = np.arange(clock.n_slots) * 900 < clock.t_end
    total = sum(
        float((forecast_rates(clock, q, 1.0, kind) * horizon).sum())
        for q in QUEUES
        if q.channel != "ticket"
    )
    ratio = 1.21 + (0.6 / months if scenario == "default" and months >= 2 else 0.0)
    return total * ratio


def simulate(
    *,
    seed: int = 7,
    start: str | dt.date = "2026-01-01",
    months: int = 3,
    scale: str | int = "default",
    tz: str = "Europe/London",
    scenario: str = "default",
    staffing: float = 1.0,
    interval_min: int = 30,
    progress: bool | Callable[[str], None] = False,
    workers: int | None = None,
) -> Sample:
    """Simulate a contact centre and return every canonical table but ``intervals``.

    Parameters
    ----------
    seed
        Seed of every random draw; the same arguments give identical tables.
    start
        First local day (a date or ``"YYYY-MM-DD"``); months are calendar months from it.
    months
        Number of months simulated (1 or more).
    scale
        ``tiny``, ``small``, ``default`` (about 40,000 contacts a month), ``large`` or
        ``bench`` (about 10 million contacts in three months), or a whole number: the
        approximate number of contacts over the run.
    tz
        IANA time zone of the sites; every time stamp carries it.
    scenario
        ``default`` (attrition and a new contact reason in month 2, see the module doc) or
        ``steady``.
    staffing
        Multiplier of every queue's head count on the same arrivals (1.2: 20% more agents).
    interval_min
        ``agent_time`` interval length, 15 or 30 minutes.
    progress
        True to print progress lines on standard error, or a callable taking a message.
    workers
        Processes for the queue simulation; default: 2 when there are at least 400,000
        contacts, else 1 (in process).

    Returns
    -------
    Sample
        ``dict`` of polars DataFrames keyed by table name; ``.truth`` is the ground truth
        written to ``scenario.json`` and ``.meta`` the arguments.

    Raises
    ------
    KpiError
        For a bad seed, date, month count, scale, time zone, scenario or interval.

    Notes
    -----
    Waits come from the queueing: a contact entering the queue at ``t`` is answered at
    ``max(t, earliest free agent)``; it abandons at ``t + patience`` if that comes first, or
    flows out after 15 minutes of waiting. Occupancy = (handle + ACW) / (handle + ACW +
    available) in ``agent_time`` is therefore the load against the staffing.

    Examples
    --------
    >>> s = simulate(scale="tiny", months=1)
    >>> sorted(s)[:4]
    ['agent_surveys', 'agent_time', 'agents', 'coaching']
    >>> s["contacts"].select("outcome").unique().sort("outcome")["outcome"].to_list()
    ['abandoned_ivr', 'abandoned_queue', 'answered', 'flowout', 'outbound']
    """
    from kpi._sim.config import SCENARIOS as _SCENARIOS
    from kpi._sim.run import generate

    day = _check(seed, start, months, tz, scenario, staffing, interval_min)
    name, mult, target = _parse_scale(scale)
    if mult is None:
        mult = float(target) / _expected_contacts(day, months, tz, scenario)  # type: ignore[arg-type]
    gen = generate(
        seed=int(seed),
        start=day,
        months=int(months),
        scale=mult,
        scale_name=name,
        tz=tz,
        scenario=_SCENARIOS[scenario],
        staffing=float(staffing),
        interval_min=int(interval_min),
        progress=reporter(progress, "kpi sample"),
        workers=workers,
    )
    meta = {
        "seed": int(seed),
        "start": day.isoformat(),
        "months": int(months),
        "scale": name,
        "scale_factor": round(mult, 6),
        "scenario": scenario,
        "staffing": float(staffing),
        "interval_min": int(interval_min),
        "tz": tz,
    }
    return Sample(gen.tables, truth=gen.truth, meta=meta, timings=gen.timings)


def _writable_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise KpiError(f"--out {out} is a file; give a directory (created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".kpi-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise KpiError(f"cannot write to output directory {out}: {reason}") from None


def _csv_frame(contacts: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Spreadsheet-friendly contacts: local wall-clock times, whole seconds as integers."""
    times = [c for c, t in contacts.schema.items() if isinstance(t, pl.Datetime)]
    secs = ["ivr_s", "wait_s", "talk_s", "hold_s", "acw_s"]
    return contacts.with_columns(
        *(pl.col(c).dt.replace_time_zone(None) for c in times),
        *(pl.col(c).round(0).cast(pl.Int64) for c in secs),
    )


def _csv_bytes(contacts: pl.DataFrame, tz: str, periods: dict) -> tuple[bytes, str]:
    """``contacts.csv`` under :data:`CSV_LIMIT_BYTES`, and what it holds (a phrase).

    Everything if it fits, else the first month, else the first whole days of it.
    """
    frame = _csv_frame(contacts, tz)
    fmt = "%Y-%m-%d %H:%M:%S"
    head = min(frame.height, 20_000)
    per_row = max(len(frame.head(head).write_csv(datetime_format=fmt)) / max(head, 1), 1.0)

    def fits(f: pl.DataFrame) -> bytes | None:
        if f.height * per_row > 1.3 * CSV_LIMIT_BYTES:  # clearly too big: do not render it
            return None
        data = f.write_csv(datetime_format=fmt).encode()
        return data if len(data) <= CSV_LIMIT_BYTES else None

    what = "every contact of the sample"
    data = fits(frame)
    if data is None:
        day = pl.col("arrival_ts").dt.date()
        base = periods.get("baseline")
        if base:
            a, b = dt.date.fromisoformat(base["start"]), dt.date.fromisoformat(base["end"])
            frame = frame.filter((day >= a) & (day < b))
            what = f"the first month only ({base['label']})"
            data = fits(frame)
        if data is None:
            days = frame.group_by(day.alias("d")).len().sort("d")
            cum = days["len"].cum_sum()
            n_days = max(1, int((cum <= CSV_LIMIT_BYTES / per_row).sum()))
            while data is None and n_days >= 1:
                last = days["d"][n_days - 1]
                part = frame.filter(day <= last)
                data = fits(part)
                n_days -= 1
            if data is None:  # a single day is larger than the limit: its first rows
                part = frame.head(int(CSV_LIMIT_BYTES / per_row * 0.9))
                data = part.write_csv(datetime_format=fmt).encode()
                last = part["arrival_ts"].max().date()  # type: ignore[union-attr]
            what = f"the contacts arriving from {days['d'][0]} to {last} only"
    return data, what


def _readme(sample: Sample, csv_what: str | None, name: str) -> str:
    from kpi._sim.truth import objective_lines

    t = sample.truth
    m = sample.meta
    rows = {k: v.height for k, v in sample.items()}
    lines = [
        f"# {name}",
        "",
        "Simulated contact-centre data made by `kpi sample` "
        f"(seed {m['seed']}, scale {m['scale']}, {m['months']} month(s) from {m['start']}, "
        f"time zone {m['tz']}, scenario `{m['scenario']}`). Regenerate with "
        f"`kpi sample --out DIR --seed {m['seed']} --start {m['start']} --months {m['months']} "
        f"--scale {m['scale']}`; the same arguments give identical tables.",
        "",
        "## The story",
        "",
        t.get("description", ""),
        "",
    ]
    metrics = t.get("metrics", {})
    periods = t.get("periods", {})
    for key, label in (
        ("contacts_handled", "Contacts handled"),
        ("tickets_handled", "Tickets handled"),
    ):
        e = metrics.get(key)
        if not e:
            continue
        seg = ", ".join(
            f"{next(iter(s['segment'].values()))} {s['change']:+,} ({s['share_of_change']:.0%} of "
            "the change)"
            for s in e["segments"]
        )
        lines.append(
            f"- {label}: {e['baseline']:,} in {periods['baseline']['label']} -> {e['current']:,} "
            f"in {periods['current']['label']} ({e['change_pct']:+.1%}); {seg}."
        )
    for c in t.get("causes", []):
        if c["kind"] == "attrition":
            lines.append(
                f"- Cause: team {c['segment']['team']} loses {c['count']} of "
                f"{c['headcount_before']} agents on {c['date']} (`agents.left`)."
            )
        elif c["kind"] == "new_topic":
            lines.append(
                f"- Cause: new contact reason `{c['segment']['topic']}` from {c['from']} in "
                f"{', '.join(c['queues'])} (about {c['handle_time_factor']}x the usual handle "
                "time)."
            )
        elif c["kind"] == "hiring":
            lines.append(
                f"- Recovery: team {c['segment']['team']} hires {c['count']} agents starting "
                f"{c['date']} (two weeks of training, then slower while nesting)."
            )
    lines += objective_lines(t.get("objectives", []), periods)
    lines += [
        "",
        "`scenario.json` holds this ground truth in full, measured from the tables: periods, "
        "causes, each metric's value per period, its change by team, site, channel, queue and "
        "topic with each segment's share of the change, and the drivers (agents, productive "
        "hours per agent, occupancy, work per handled contact, AHT) with exact contributions. "
        "Its keys are documented in `kpi/samples.py`.",
        "",
        "## Files",
        "",
        "| file | rows | what |",
        "|---|---|---|",
    ]
    from kpi.schema import TABLES

    for k in TABLES:
        if k in rows:
            lines.append(f"| `{k}.parquet` | {rows[k]:,} | {TABLES[k].grain} |")
    lines += [
        "| `dataset.json` | | time zone and how the data was made |",
        "| `scenario.json` | | the ground truth of the story |",
    ]
    if csv_what:
        lines.append(
            f"| `contacts.csv` | | {csv_what}, for spreadsheets: times are local "
            f"wall-clock times in {m['tz']} without offset, durations in whole seconds |"
        )
    lines += [
        "",
        "Columns, dtypes and units are described in `docs/data-model.md`. Every time stamp in "
        f"the Parquet files is time-zone aware ({m['tz']}).",
        "",
    ]
    return "\n".join(lines)


def write_sample(
    out_dir: str | os.PathLike,
    *,
    seed: int = 7,
    start: str | dt.date = "2026-01-01",
    months: int = 3,
    scale: str | int = "default",
    tz: str = "Europe/London",
    scenario: str = "default",
    staffing: float = 1.0,
    interval_min: int = 30,
    csv: bool = True,
    readme: bool = True,
    progress: bool | Callable[[str], None] = False,
    workers: int | None = None,
) -> Path:
    """Simulate (see :func:`simulate`) and write a dataset directory.

    Writes ``<table>.parquet`` and ``dataset.json`` (:func:`kpi.data.save`; ``source`` is
    ``"kpi sample"``), ``scenario.json`` (the ground truth, keys in the module doc),
    ``contacts.csv`` (at most :data:`CSV_LIMIT_BYTES`: all months, or the first month, or its
    first days) and ``README.md`` describing the story and the files.

    Returns
    -------
    Path
        The output directory.

    Raises
    ------
    KpiError
        For bad arguments or an output directory that cannot be written (checked before
        simulating).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = write_sample(tempfile.mkdtemp(), scale="tiny", months=1, csv=False)
    >>> sorted(p.name for p in out.iterdir())[:4]
    ['README.md', 'agent_surveys.parquet', 'agent_time.parquet', 'agents.parquet']
    """
    from kpi.data import Dataset, save

    day = _check(seed, start, months, tz, scenario, staffing, interval_min)
    _parse_scale(scale)
    out = Path(out_dir)
    _writable_dir(out)
    report = reporter(progress, "kpi sample")
    sample = simulate(
        seed=seed,
        start=day,
        months=months,
        scale=scale,
        tz=tz,
        scenario=scenario,
        staffing=staffing,
        interval_min=interval_min,
        progress=report or False,
        workers=workers,
    )
    m = sample.meta
    meta = {
        "name": f"kpi sample ({m['scenario']} scenario, seed {m['seed']})",
        "source": "kpi sample",
        "seed": m["seed"],
        "scale": m["scale"],
        "start": m["start"],
        "months": m["months"],
        "scenario": m["scenario"],
        "staffing": m["staffing"],
        "interval_min": m["interval_min"],
    }
    from kpi.schema import TABLES

    try:  # every file written aside and switched in together: a kill leaves the old sample
        with staged_dir(out) as staging:
            for name in TABLES:  # no stale table of an earlier dataset may stay behind
                if name not in sample:
                    staging.delete(f"{name}.parquet")
            save(Dataset(dict(sample), tz=tz), out, meta=meta, into=staging)
            text = json.dumps(sample.truth, indent=2, ensure_ascii=False) + "\n"
            staging.write_text("scenario.json", text)
            csv_what = None
            if csv:
                data, csv_what = _csv_bytes(
                    sample["contacts"], tz, sample.truth.get("periods", {})
                )
                staging.write("contacts.csv", lambda p: p.write_bytes(data))
            else:
                staging.delete("contacts.csv")
            if readme:
                staging.write_text("README.md", _readme(sample, csv_what, "Sample data"))
    except OSError as exc:
        where = exc.filename or out
        raise KpiError(
            f"{where}: cannot write ({exc.strerror or exc}); the dataset in {out} is unchanged"
        ) from None
    if report:
        total = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
        report(f"wrote {len(sample)} tables to {out} ({total / 1e6:.1f} MB)")
    return out


def fcfs_queue(
    arrival_s: Any,
    service_s: Any,
    patience_s: Any = None,
    *,
    agents: int | None = None,
    shift_start_s: Any = None,
    shift_end_s: Any = None,
    shift_agent: Any = None,
    max_wait_s: float = math.inf,
    staffing: float = 1.0,
) -> pl.DataFrame:
    """Run one first-come-first-served multi-server queue with abandonment on given arrivals.

    The same engine as :func:`simulate`, exposed for what-if tests: fixed arrivals, service
    times and patience, and either ``agents`` always present or shift windows
    (``shift_start_s``, ``shift_end_s``, ``shift_agent``). ``staffing`` scales the number of
    always-present agents (rounded, at least 1).

    Parameters
    ----------
    arrival_s
        Queue-entry times in seconds (any order; whole seconds are exact).
    service_s
        Agent busy seconds per contact (talk + hold + after-call work).
    patience_s
        Seconds each caller is willing to wait; ``None``: infinite.
    agents
        Number of agents present the whole time (instead of shifts).
    shift_start_s, shift_end_s, shift_agent
        Availability windows: start, end and an agent number per window.
    max_wait_s
        Flow-out (voicemail) after this wait; ``inf``: none.

    Returns
    -------
    polars.DataFrame
        One row per contact in the input order: ``arrival_s``, ``answer_s`` (null unless
        answered), ``wait_s`` (to answer, abandon or flow-out), ``outcome`` (answered,
        abandoned_queue, flowout, unserved) and ``agent``.

    Notes
    -----
    Kiefer-Wolfowitz recursion with abandonment: contact *i* is offered the wait
    ``V = max(0, F - t_i)`` where ``F`` is the earliest time an agent is free; it is answered if
    ``V <= min(patience, max_wait)``, else it leaves without using an agent.

    Examples
    --------
    >>> fcfs_queue([0, 10, 20], [100, 100, 100], [1000, 50, 1000], agents=1)
    shape: (3, 5)
    ┌───────────┬──────────┬────────┬─────────────────┬───────┐
    │ arrival_s ┆ answer_s ┆ wait_s ┆ outcome         ┆ agent │
    │ ---       ┆ ---      ┆ ---    ┆ ---             ┆ ---   │
    │ f64       ┆ f64      ┆ f64    ┆ str             ┆ i64   │
    ╞═══════════╪══════════╪════════╪═════════════════╪═══════╡
    │ 0.0       ┆ 0.0      ┆ 0.0    ┆ answered        ┆ 0     │
    │ 10.0      ┆ null     ┆ 50.0   ┆ abandoned_queue ┆ null  │
    │ 20.0      ┆ 100.0    ┆ 80.0   ┆ answered        ┆ 0     │
    └───────────┴──────────┴────────┴─────────────────┴───────┘
    """
    from kpi._sim.engine import ABANDONED, ANSWERED, FLOWOUT, run_queue

    # the engine keys its heaps on whole time units: work in milliseconds
    t = np.round(np.asarray(arrival_s, dtype=np.float64) * 1000)
    svc = np.round(np.asarray(service_s, dtype=np.float64) * 1000)
    n = len(t)
    pat = np.full(n, np.inf) if patience_s is None else np.asarray(patience_s, np.float64) * 1000
    if len(svc) != n or len(pat) != n:
        raise KpiError("arrival_s, service_s and patience_s must have the same length")
    if n and (not np.isfinite(t).all() or (svc < 0).any() or (pat < 0).any()):
        raise KpiError("arrival times must be finite; service and patience must be >= 0")
    pat = np.where(np.isfinite(pat), np.round(pat), pat)
    ws, we, wa = _agent_windows(t, svc, agents, staffing, shift_start_s, shift_end_s, shift_agent)
    spec = _fcfs_spec(t, svc, pat, ws, we, wa, max_wait_s=max_wait_s)
    res = run_queue(spec)
    code = res["code"]
    start = res["start"]
    ans = code == ANSWERED
    wait = (
        np.select(
            [ans, code == ABANDONED, code == FLOWOUT],
            [start - t, pat, np.full(n, float(max_wait_s) * 1000)],
            np.nan,
        )
        / 1000
    )
    outcome = np.select([ans, code == ABANDONED, code == FLOWOUT], [0, 1, 2], 3)
    return pl.DataFrame(
        {
            "arrival_s": t / 1000,
            "answer_s": pl.Series(np.where(ans, start / 1000, np.nan)).fill_nan(None),
            "wait_s": pl.Series(wait).fill_nan(None),
            "outcome": pl.Series(["answered", "abandoned_queue", "flowout", "unserved"]).gather(
                outcome.astype(np.uint32)
            ),
            "agent": pl.Series(np.where(ans, res["agent"], -1).astype(np.int64)).replace(-1, None),
        }
    )


def _agent_windows(
    t: np.ndarray,
    svc: np.ndarray,
    agents: int | None,
    staffing: float,
    shift_start_s: Any,
    shift_end_s: Any,
    shift_agent: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Availability windows in ms (start, end, agent): ``agents`` always present, or the shifts."""
    if agents is not None:
        k = max(1, round(agents * staffing))
        ws = np.full(k, min(0.0, t.min(initial=0.0)))
        we = np.full(k, t.max(initial=0.0) + svc.sum() + 1000.0)
        return ws, we, np.arange(k)
    if shift_start_s is None or shift_end_s is None or shift_agent is None:
        raise KpiError("give either agents=N or shift_start_s, shift_end_s and shift_agent")
    ws = np.round(np.asarray(shift_start_s, np.float64) * 1000)
    we = np.round(np.asarray(shift_end_s, np.float64) * 1000)
    wa = np.asarray(shift_agent, np.int64)
    if not (len(ws) == len(we) == len(wa)) or (we < ws).any() or (wa < 0).any():
        raise KpiError("shift windows need start <= end and agent numbers >= 0")
    return ws, we, wa


def _fcfs_spec(
    t: np.ndarray,
    svc: np.ndarray,
    pat: np.ndarray,
    ws: np.ndarray,
    we: np.ndarray,
    wa: np.ndarray,
    *,
    max_wait_s: float,
) -> dict[str, Any]:
    """The engine input of one plain queue: no IVR, no redials, windows sorted by agent."""
    n = len(t)
    order_w = np.lexsort((ws, wa))
    ws, we, wa = ws[order_w], we[order_w], wa[order_w]
    n_agents = int(wa.max(initial=-1)) + 1
    idx = np.arange(n_agents)
    order = np.lexsort((np.arange(n), t))
    return {
        "mode": "contact",
        "base_t": t[order],
        "base_row": order.astype(np.int64),
        "patience": pat,
        "talk": svc,
        "other": np.zeros(n),
        "ivr": np.zeros(n),
        "ivrab": np.zeros(n, np.int8),
        "q_res": np.zeros(n),
        "u_sp": np.ones(n),
        "del0": np.zeros(n),
        "del1": np.zeros(n),
        "u_tod": np.zeros(n),
        "topic": np.zeros(n, np.int64),
        "cursor": np.array([n]),
        "pool_end": np.array([n]),
        "ws_act": ws,
        "ws": ws,
        "we": we,
        "gap": np.zeros(len(ws), np.int8),
        "w_speed": np.ones(len(ws)),
        "w_rfac": np.ones(len(ws)),
        "wfirst": np.searchsorted(wa, idx, side="left"),
        "wend": np.searchsorted(wa, idx, side="right"),
        "max_wait_s": float(max_wait_s) * 1000,
        "t_end": math.inf,
        "slot_s": 900.0,
        "cum": np.zeros(2),
        "slot_day": np.zeros(1, np.int64),
        "day_slot0": np.zeros(2, np.int64),
        "next_open_day": np.zeros(1, np.int64),
        "open_slot": np.zeros(1, np.int8),
    }
