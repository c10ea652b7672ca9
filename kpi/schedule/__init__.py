"""From forecast to rosters: required agents per interval with service objectives per queue,
and a weekly shift plan that covers them.

* **Objectives** (:mod:`~kpi.schedule._objectives`): per channel and queue, from the
  ``[objectives]`` table of the targets file; defaults voice 80 % in 20 s, chat 80 % in 60 s,
  e-mail a response in 4 h, tickets in 8 h.
* **Requirements** (:mod:`~kpi.schedule._requirements`): :func:`required_from_data` (a week of
  the data's own intervals, demand as :func:`kpi.staffing.staffing_table` counts it) and
  :func:`required_from_forecast` (a :func:`kpi.forecast.forecast` table, optionally on an upper
  quantile); Erlang C/A for real-time queues, workload over the response window for deferred
  work, shrinkage and an occupancy cap.
* **Shifts** (:mod:`~kpi.schedule._shifts`): templates (start times, lengths, breaks, across
  midnight), days off per agent, groups by skill set, named agents with availability.
* **Solve** (:mod:`~kpi.schedule._solve`): a mixed-integer programme solved by HiGHS through
  ``scipy.optimize.milp``; :func:`plan` returns a :class:`Plan` with shifts, roster, coverage
  and the plan's service level per interval, over/under-staffing, the LP bound and the gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.schedule._objectives import DEFAULTS, Objective, Objectives, objectives_from
from kpi.schedule._plan import Plan, build_plan
from kpi.schedule._requirements import (
    REQUIREMENT_COLUMNS,
    every_seconds,
    read_forecast,
    required_from_data,
    required_from_forecast,
    skill_matrix,
    week_start,
)
from kpi.schedule._shifts import Group, ShiftSpec, load_shifts, shifts_from
from kpi.schedule._solve import build_columns, capacity_problems, solve

__all__ = [
    "DEFAULTS",
    "REQUIREMENT_COLUMNS",
    "Objective",
    "Objectives",
    "Plan",
    "ShiftSpec",
    "coverage_summary",
    "load_objectives",
    "load_shifts",
    "objectives_from",
    "plan",
    "plan_controls",
    "plan_findings",
    "queue_history",
    "read_forecast",
    "required_from_data",
    "required_from_forecast",
    "requirements_for_week",
    "requirements_from_forecast",
    "requirements_summary",
    "shifts_frame",
    "shifts_from",
    "week_requirements",
]


def load_objectives(targets: str | Path | None) -> Objectives:
    """The objectives of a targets file's ``[objectives]`` table (None: the defaults)."""
    from kpi.targets import load_targets

    ts = load_targets(targets)
    return objectives_from(ts.objectives, source=ts.source)


def week_requirements(
    requirements: pl.DataFrame, week: str, *, every: str = "15m"
) -> pl.DataFrame:
    """The rows of one ISO week, refusing a table that does not cover all of it."""
    start = week_start(week)
    end = start + timedelta(days=7)
    got = requirements.filter(pl.col("interval_start") >= start, pl.col("interval_start") < end)
    slots = 7 * 86_400 // every_seconds(every)
    have = got["interval_start"].n_unique() if got.height else 0
    if have < slots:
        lo = requirements["interval_start"].min() if requirements.height else None
        hi = requirements["interval_start"].max() if requirements.height else None
        raise KpiError(
            f"the requirements cover {have} of the {slots} intervals of week {week} "
            f"({start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}); the forecast runs from "
            f"{lo} to {hi}: forecast the whole week (e.g. --until {start:%Y-%m-%d} --horizon 7d)"
        )
    return got


def plan(
    requirements: pl.DataFrame,
    *,
    week: str,
    every: str = "15m",
    shifts: ShiftSpec | str | Path | None = None,
    objectives: Objectives | Mapping[str, Any] | None = None,
    shrinkage: float = 0.0,
    time_limit_s: float = 60.0,
    allow_understaffing: bool = False,
    progress: bool | Callable[[str], None] = False,
    notes: Sequence[str] = (),
) -> Plan:
    """A weekly shift plan covering ``requirements`` (from :func:`required_from_data` or
    :func:`required_from_forecast`) in ISO ``week``.

    Parameters
    ----------
    requirements
        :data:`REQUIREMENT_COLUMNS` rows; each channel is a skill.
    week
        ISO week such as ``2026-W07``: the plan's Monday to Sunday.
    every
        Interval of the requirements: 15m, 30m or 1h.
    shifts
        :class:`ShiftSpec`, a shifts TOML path, or None for the built-in templates.
    objectives, shrinkage
        As the requirements were computed with (for the plan's service level per interval).
    time_limit_s
        Wall-clock limit of the solve, in seconds.
    allow_understaffing
        Return a plan even when the requirements cannot all be met (the shortfall is in
        ``understaffed_intervals``); by default that is a :class:`~kpi.errors.KpiError` naming
        the constraint that binds.
    progress
        True for progress lines on standard error, or a callable taking each message.
    notes
        Lines on how the requirements were made (e.g. an assumed AHT, from the ``notes`` of
        :func:`requirements_for_week`), first in the plan's notes.
    """
    from kpi._progress import reporter

    if (
        isinstance(time_limit_s, bool)
        or not isinstance(time_limit_s, int | float)
        or not (1 <= time_limit_s <= 86_400)
    ):
        raise KpiError(f"time limit must be from 1 to 86400 seconds, got {time_limit_s!r}")
    say = reporter(progress, "kpi schedule")
    every_min = every_seconds(every) // 60
    spec = shifts if isinstance(shifts, ShiftSpec) else load_shifts(shifts, every=every)
    obj = objectives if isinstance(objectives, Objectives) else objectives_from(objectives)
    req = week_requirements(requirements, week, every=every)
    skills, _, required = skill_matrix(req)
    notes: list[str] = list(notes)
    groups = spec.groups
    unused = sorted({s for g in groups for s in g.skills} - set(skills))
    if unused:
        notes.append(f"no requirement for skill {', '.join(unused)} this week")
    check_groups = groups or tuple(Group(s, (s,)) for s in skills)
    problems = capacity_problems(
        skills, required, check_groups, build_columns(spec, check_groups, every_min), every_min
    )
    if problems and not allow_understaffing:
        raise KpiError("the plan is infeasible: " + "; ".join(problems))
    notes += [f"infeasible: {p}" for p in problems]
    sol = solve(
        skills, required, spec, every_min=every_min, time_limit_s=time_limit_s, progress=say
    )
    result = build_plan(
        sol,
        req,
        required,
        start=week_start(week),
        every_min=every_min,
        objectives=obj,
        shrinkage=shrinkage,
        notes=notes,
    )
    if result.understaffed_intervals and not allow_understaffing:
        first = result.understaffed_intervals[0]
        raise KpiError(
            f"the plan is infeasible: headcount (max_agents) and days off bind: "
            f"{len(result.understaffed_intervals)} intervals stay under-staffed, first "
            f"{first['skill']} at {first['start']} ({first['scheduled']:g} of "
            f"{first['required']} agents); raise max_agents or days_per_week, or "
            "allow under-staffing"
        )
    return result


def requirements_for_week(
    data: Dataset | Mapping[str, Any] | str,
    *,
    week: str,
    every: str = "15m",
    forecast: pl.DataFrame | None = None,
    quantile: float | None = None,
    level: float = 80.0,
    objectives: Objectives | Mapping[str, Any] | None = None,
    shrinkage: float = 0.0,
    aht_s: float | None = None,
    notes: list[str] | None = None,
) -> pl.DataFrame:
    """Required agents per interval and queue of ``week``: from the data's own contacts, or
    from ``forecast`` (a :func:`kpi.forecast.forecast` table by queue) with each queue's AHT
    and channel from the data (Σ handle / Σ answered over the four weeks before the week, else
    the whole data; a queue the data does not know takes the mean of the others; no handle
    times at all is an error, never an invented AHT).

    ``aht_s`` is an assumed AHT in seconds for what the data have no handle times for (the
    contacts of the week, or the forecast's queues); ``notes``, when given, collects a line
    for each assumption or estimate used. A week not wholly inside the data, planned from the
    data, is an error naming the days the data cover (see :func:`required_from_data`)."""
    ds = Dataset.coerce(data)
    if forecast is None:
        if quantile is not None:
            raise KpiError("a quantile needs a forecast (a quantile of the forecast)")
        return required_from_data(
            ds,
            week=week,
            every=every,
            objectives=objectives,
            shrinkage=shrinkage,
            aht_s=aht_s,
            notes=notes,
        )
    return requirements_from_forecast(
        ds,
        forecast,
        start=week_start(week),
        every=every,
        quantile=quantile,
        level=level,
        objectives=objectives,
        shrinkage=shrinkage,
        aht_s=aht_s,
        wrap=True,
        notes=notes,
    )


def requirements_from_forecast(
    data: Dataset | Mapping[str, Any] | str | None,
    forecast: pl.DataFrame,
    *,
    start: Any = None,
    every: str = "15m",
    quantile: float | None = None,
    level: float = 80.0,
    objectives: Objectives | Mapping[str, Any] | None = None,
    shrinkage: float = 0.0,
    aht_s: float | None = None,
    wrap: bool = False,
    notes: list[str] | None = None,
) -> pl.DataFrame:
    """Required agents per interval and queue from a :func:`kpi.forecast.forecast` table (what
    ``kpi staffing --forecast`` prints): each queue's AHT and channel from the data
    (:func:`queue_history` over the four weeks before ``start``, default the forecast's first
    interval), ``aht_s`` for queues the data does not know (else the mean of the known
    queues; with no handle times in the data and no ``aht_s``, a KpiError: never an invented
    AHT).
    Without data, every queue takes ``aht_s`` and is a voice queue unless the forecast has a
    ``channel`` column. ``notes``, when given, collects a line for each queue whose AHT was
    assumed (``aht_s``) or taken as the mean of the others."""
    if data is None:
        if aht_s is None:
            raise KpiError(
                "required agents from a forecast need each queue's handle time: give the "
                "dataset the forecast came from, or an AHT in seconds (--aht-s)"
            )
        channels: dict[str, str] = {}
        aht: dict[str, float] | float = float(aht_s)
    else:
        ds = Dataset.coerce(data)
        if start is None:
            first = forecast["period"].min()
            start = (
                first.replace(tzinfo=None)
                if isinstance(first, datetime)
                else datetime.fromisoformat(str(first)[:16])
            )
        channels, aht = queue_history(ds, start)
    if isinstance(aht, dict):
        known = dict(aht)
        mean = sum(known.values()) / len(known) if known else None
        if mean is None and aht_s is None:  # unknown is never a number: no invented AHT
            raise KpiError(
                "AHT (handle time) is unknown in this data: it has no handle times to turn "
                "the forecast into workload; give an assumed AHT in seconds (--aht-s, used "
                "only where the data have no handle times; aht_s in Python)"
            )
        fallback = float(aht_s) if aht_s is not None else mean
        how = "assumed" if aht_s is not None else "the mean of the other queues"
        if "queue" not in forecast.columns:  # one forecast for the centre: the centre's AHT
            aht = mean if mean is not None else fallback
            if mean is None and notes is not None:
                notes.append(f"AHT assumed {fallback:g} s (the data has no handle times).")
        else:
            missing = sorted(
                str(q) for q in forecast["queue"].cast(pl.String).unique() if str(q) not in known
            )
            for q in missing:
                known[q] = fallback  # type: ignore[assignment]
            if missing and notes is not None:
                notes.append(
                    f"AHT {fallback:g} s ({how}) for queue {', '.join(missing)}: the data has "
                    "no handle times for it."
                )
            aht = known
    return required_from_forecast(
        forecast,
        aht_s=aht,
        every=every,
        channels=channels,
        objectives=objectives,
        shrinkage=shrinkage,
        quantile=quantile,
        level=level,
        wrap=wrap,
    )


def queue_history(
    data: Dataset | Mapping[str, Any] | str, start: Any
) -> tuple[dict[str, str], dict[str, float]]:
    """Channel and AHT (s) per queue from the data's contacts, the AHT as Σ handle / Σ
    answered over the four weeks before ``start`` (a naive site-local datetime), else the
    whole data: what :func:`required_from_forecast` needs for ``channels`` and ``aht_s``.

    A queue whose contacts came on several channels takes the channel with the most contacts
    offered (the first by name on a tie), so the plan is the same on every run."""
    from kpi.staffing import staffing_table

    ds = Dataset.coerce(data)
    if "contacts" not in ds or "queue" not in ds["contacts"].collect_schema():
        return {}, {}
    schema = ds["contacts"].collect_schema()
    by = ("queue", "channel") if "channel" in schema else ("queue",)
    sub = Dataset({"contacts": ds["contacts"]}, tz=ds.tz, meta=ds.meta)
    hist = (
        # offered and load only: agents on queue (estimated from the log) are not read
        staffing_table(sub, every="1h", by=by, estimate_agents=False)
        .select(
            pl.col("interval_start").dt.replace_time_zone(None), *by, "offered", "load_erlangs"
        )
        .collect()
    )
    channels = {}
    if len(by) == 2:
        ranked = (
            hist.group_by("queue", "channel")
            .agg(pl.col("offered").sum())
            .sort(["queue", "offered", "channel"], descending=[False, True, False])
        )
        first = ranked.unique("queue", keep="first", maintain_order=True)
        channels = {q: c for q, c in first.select("queue", "channel").iter_rows() if c}
    recent = hist.filter(
        pl.col("interval_start") >= start - timedelta(days=28), pl.col("interval_start") < start
    )
    recent = recent if recent["offered"].sum() else hist
    per = (
        recent.group_by("queue")
        .agg(aht=(pl.col("load_erlangs") * 3600).sum() / pl.col("offered").sum())
        .filter(pl.col("aht") > 0)
    )
    return channels, dict(per.iter_rows())


def plan_findings(p: Plan) -> list[str]:
    """The plan's headline findings, for a report."""
    d = p.to_dict()
    out = [
        f"{d['agents']} agents on {len(d['shifts'])} shift patterns, {d['paid_hours']:,} paid "
        f"hours; {d['overstaffing']:.1%} of scheduled agent-intervals are above the requirement.",
        f"The plan is within {d['gap']:.2%} of the least paid time any plan could have (the LP "
        f"bound), solved in {d['solve_s']:.1f} s.",
    ]
    if d["understaffed_intervals"]:
        out.append(f"{len(d['understaffed_intervals'])} intervals stay under-staffed.")
    sl = p.coverage.filter(pl.col("service_level").is_not_null())
    for skill, low in sl.group_by("skill").agg(pl.col("service_level").min()).sort("skill").rows():
        out.append(f"{skill}: the plan gives at least {low:.0%} service level in every interval.")
    return out + list(p.notes)


def requirements_summary(requirements: pl.DataFrame) -> pl.DataFrame:
    """Per queue: channel, objective, contacts and peak required agents (after shrinkage)."""
    return (
        requirements.group_by("channel", "queue", "objective")
        .agg(
            offered=pl.col("offered").sum().round(1),
            peak_required=pl.col("required_scheduled").max().round(2),
        )
        .sort("channel", "queue")
    )


def shifts_frame(p: Plan) -> pl.DataFrame:
    """The plan's shifts as a table: group, template, start, end, breaks, days, agents."""
    rows = [
        {
            **{k: s[k] for k in ("group", "template", "start", "end")},
            "breaks": ", ".join(f"{b['start']}-{b['end']}" for b in s["breaks"]),
            "days": " ".join(s["days"]),
            "agents": s["agents"],
        }
        for s in p.shifts
    ]
    schema = dict.fromkeys(("group", "template", "start", "end", "breaks", "days"), pl.String)
    return pl.DataFrame(rows, schema={**schema, "agents": pl.Int64})


def coverage_summary(p: Plan) -> pl.DataFrame:
    """Per skill and day: required and scheduled agent-hours, over- and under-staffing, and
    the lowest and mean service level the plan gives."""
    hours = p.every_min / 60
    return (
        p.coverage.group_by(
            "skill", pl.col("interval_start").dt.strftime("%Y-%m-%d %a").alias("day")
        )
        .agg(
            required_hours=(pl.col("required").sum() * hours).round(1),
            scheduled_hours=(pl.col("scheduled").sum() * hours).round(1),
            over_hours=(pl.col("over").sum() * hours).round(1),
            under_hours=(pl.col("under").sum() * hours).round(1),
            lowest_service_level=pl.col("service_level").min().round(3),
            mean_service_level=pl.col("service_level").mean().round(3),
        )
        .sort("skill", "day")
    )


def plan_controls(
    data: Dataset | Mapping[str, Any] | str,
    *,
    week: str,
    every: str = "15m",
    forecast: pl.DataFrame | None = None,
    time_limit_s: float = 20.0,
) -> Any:
    """What-if controls for a notebook (ipywidgets): service level and threshold, e-mail
    response time, shrinkage, the forecast quantile and a shift template's length; each
    change solves the plan again and shows its headline numbers and coverage."""
    import ipywidgets as w
    from IPython.display import display

    ds = Dataset.coerce(data)
    sl = w.FloatSlider(value=0.8, min=0.5, max=0.99, step=0.01, description="service level")
    thr = w.IntSlider(value=20, min=5, max=120, step=5, description="threshold s")
    resp = w.FloatSlider(value=4.0, min=1.0, max=48.0, step=1.0, description="e-mail resp. h")
    shrink = w.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.05, description="shrinkage")
    quant = w.FloatSlider(value=0.5, min=0.5, max=0.95, step=0.05, description="quantile")
    full = w.Dropdown(
        options=["8h30m", "9h", "10h", "8h"], value="8h30m", description="full shift"
    )
    out = w.Output()

    def run(_change: object = None) -> None:
        obj = objectives_from(None).with_changes(
            service_level=sl.value, threshold_s=float(thr.value), response_h=resp.value
        )
        req = requirements_for_week(
            ds,
            week=week,
            every=every,
            forecast=forecast,
            quantile=None if forecast is None or quant.value == 0.5 else quant.value,
            objectives=obj,
            shrinkage=shrink.value,
        )
        spec = shifts_from(
            {
                "shift": [
                    {
                        "name": "full",
                        "length": full.value,
                        "start": "00:00-23:45",
                        "breaks": [{"length": "30m", "earliest": "3h30m", "latest": "5h"}],
                    },
                    {"name": "part", "length": "4h", "start": "00:00-23:45"},
                ]
            },
            every=every,
        )
        with out:
            out.clear_output(wait=True)
            try:
                p = plan(
                    req,
                    week=week,
                    every=every,
                    shifts=spec,
                    objectives=obj,
                    shrinkage=shrink.value,
                    time_limit_s=time_limit_s,
                    allow_understaffing=True,
                )
            except KpiError as exc:
                print(f"error: {exc}")
                return
            print(
                f"{p.agents} agents, {p.to_dict()['paid_hours']:,} paid hours, "
                f"overstaffing {p.overstaffing:.1%}, gap {p.gap:.2%}, {p.solve_s:.1f} s"
            )
            display(
                p.coverage.group_by("skill").agg(
                    pl.col("required").sum(),
                    pl.col("scheduled").sum(),
                    pl.col("service_level").mean().alias("mean_service_level"),
                )
            )

    for control in (sl, thr, resp, shrink, quant, full):
        control.observe(run, names="value")
    run()
    return w.VBox([w.HBox([sl, thr, resp]), w.HBox([shrink, quant, full]), out])
