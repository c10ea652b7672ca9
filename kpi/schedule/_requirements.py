"""Required agents per interval and queue, from the data's own intervals or from a forecast.

Every queue is planned for its own objective (:mod:`kpi.schedule._objectives`):

* real-time queues (voice, chat): ``required_agents`` of :mod:`kpi.staffing` (Erlang C, or
  Erlang A with a patience), with the queue's service level, threshold and occupancy cap;
* deferred work (e-mail, tickets): workload, each contact's handle time spread evenly over the
  response window from the interval it arrives in: ``required(u) = Σ_{u−k < t ≤ u} offered(t)
  × AHT(t) / (k × interval_s)`` with ``k`` the window in intervals. A contact arriving in the
  last hours of the week spills into the next intervals (with ``wrap``, into the first
  intervals of the same week, as the weekly plan repeats).

Then ``required_scheduled = required_agents / (1 − shrinkage)``, the shrinkage being what the
shift templates do not already plan (absence, training, meetings: breaks are in the shifts).
Fractional requirements are summed per skill (a skill is a channel) and rounded up once
(:func:`skill_matrix`).

Times are site wall-clock times without a zone (``interval_start``), one slot per
``every`` of a 24-hour day: the hour a spring clock change skips has no demand, and the hour an
autumn change repeats adds up its two halves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from kpi.data import Dataset
from kpi.errors import KpiError
from kpi.schedule._objectives import Objectives, objectives_from
from kpi.staffing import required_agents, staffing_table

__all__ = [
    "REQUIREMENT_COLUMNS",
    "every_seconds",
    "read_forecast",
    "required_from_data",
    "required_from_forecast",
    "skill_matrix",
    "week_start",
]

#: Columns of a requirements table, in order.
REQUIREMENT_COLUMNS = (
    "interval_start",
    "queue",
    "channel",
    "offered",
    "aht_s",
    "load_erlangs",
    "objective",
    "required_agents",
    "required_scheduled",
)

_DAY_S = 86_400


def every_seconds(every: str) -> int:
    """Seconds of a planning interval: 15m, 30m or 1h (it must divide the day).

    Examples
    --------
    >>> every_seconds("15m"), every_seconds("1h")
    (900, 3600)
    >>> every_seconds("7m")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: bad interval '7m': use 15m, 30m or 1h
    """
    found = re.fullmatch(r"\s*(15m|30m|60m|1h)\s*", str(every))
    if not found:
        raise KpiError(f"bad interval {every!r}: use 15m, 30m or 1h")
    return {"15m": 900, "30m": 1800, "60m": 3600, "1h": 3600}[found[1]]


def week_start(week: str) -> datetime:
    """Monday 00:00 (wall clock, no zone) of an ISO week such as ``2026-W07``.

    Examples
    --------
    >>> week_start("2026-W07")
    datetime.datetime(2026, 2, 9, 0, 0)
    >>> week_start("2026-07")
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: bad week '2026-07': write an ISO week such as 2026-W07
    """
    found = re.fullmatch(r"\s*(\d{4})-?W(\d{1,2})\s*", str(week), flags=re.IGNORECASE)
    if not found:
        raise KpiError(f"bad week {week!r}: write an ISO week such as 2026-W07")
    year, num = int(found[1]), int(found[2])
    try:
        day = date.fromisocalendar(year, num, 1)
    except ValueError:
        raise KpiError(f"bad week {week!r}: {year} has no week {num}") from None
    return datetime(day.year, day.month, day.day)


def _grid(start: datetime, end: datetime, every_s: int) -> pl.Series:
    n = int((end - start).total_seconds() // every_s)
    return pl.Series(
        "interval_start", [start + timedelta(seconds=every_s * i) for i in range(n)]
    ).cast(pl.Datetime("us"))


def _wall(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        frame = frame.with_columns(pl.col(column).dt.replace_time_zone(None))
    return frame.with_columns(pl.col(column).cast(pl.Datetime("us")))


def required_from_data(
    data: Dataset | Mapping[str, Any] | str,
    *,
    week: str,
    every: str = "15m",
    objectives: Objectives | Mapping[str, Any] | None = None,
    shrinkage: float = 0.0,
    aht_s: float | None = None,
    notes: list[str] | None = None,
) -> pl.DataFrame:
    """Required agents per interval and queue of one ISO week, from the data's own contacts.

    Demand (offered and AHT per interval and queue) is what :func:`kpi.staffing.staffing_table`
    counts (inbound contacts that entered a queue, binned by ``queue_ts``; or the ``intervals``
    report); required agents follow each queue's objective (see the module docstring).

    Parameters
    ----------
    data
        A :class:`kpi.data.Dataset` (or mapping / directory).
    week
        ISO week such as ``2026-W07``; every day of it must be inside the data (a day the
        data do not reach has unknown demand, never zero).
    every
        Planning interval: 15m, 30m or 1h.
    objectives, shrinkage
        As for :func:`required_from_forecast`.
    aht_s
        Assumed average handle time (s) for the queues whose contacts have no handle times
        in the data; None (the default): such contacts are a :class:`~kpi.errors.KpiError`,
        never a workload of zero.
    notes
        A list to which a line is appended for each planning assumption used (the assumed
        AHT and how many intervals took it).

    Returns
    -------
    polars.DataFrame
        :data:`REQUIREMENT_COLUMNS`, one row per interval of the week and queue.

    Raises
    ------
    KpiError
        For a week without contacts in the data, a week not wholly inside the data (naming
        the days the data cover), or contacts with no handle time and no ``aht_s``.
    """
    ds = Dataset.coerce(data)
    every_s = every_seconds(every)
    start = week_start(week)
    end = start + timedelta(days=7)
    if "contacts" in ds:
        sub = Dataset({"contacts": ds["contacts"]}, tz=ds.tz, meta=ds.meta)
        schema = ds["contacts"].collect_schema()
    elif "intervals" in ds:
        sub, schema = ds, ds["intervals"].collect_schema()
    else:
        raise KpiError("the data has no contacts or intervals table to plan from")
    by = tuple(k for k in ("queue", "channel") if k in schema)
    table = staffing_table(
        sub,
        every=every,
        by=by,
        target_sl=0.8,
        threshold_s=20.0,
        aht_s=aht_s,
        estimate_agents=False,  # offered and load only: agents on queue are not read
    )
    whole = _wall(
        table.select("interval_start", *by, "offered", "load_erlangs", "assumed").collect(),
        "interval_start",
    )
    demand = whole.filter(pl.col("interval_start") >= start, pl.col("interval_start") < end)
    if demand.is_empty() or demand["offered"].sum() == 0:
        raise KpiError(
            f"no contacts in week {week} ({start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d})"
            " in the data: choose a week the data covers, or plan from a forecast (--forecast)"
        )
    _check_week_inside(whole["interval_start"], week=week, start=start)
    busy = demand.filter(pl.col("offered") > 0)
    unknown = busy.filter(pl.col("load_erlangs").is_null())
    if unknown.height:
        queues = sorted({str(q) for q in unknown["queue"]}) if "queue" in by else []
        where = f" (queue {', '.join(queues)})" if queues else ""
        n, of = int(unknown["offered"].sum()), int(busy["offered"].sum())
        share = f"all {n:,}" if n == of else f"{n:,} of the {of:,}"
        raise KpiError(
            f"AHT (handle time) is unknown in this data: {share} contacts offered in week "
            f"{week} have no handle times{where}, so their workload is unknown; give an "
            "assumed AHT in seconds "
            "(--aht-s, used only where the data have no handle times; aht_s in Python), or "
            "data with handle times (talk_s, with hold_s and acw_s, in contacts or the "
            "interval report)"
        )
    n_assumed = int(busy["assumed"].fill_null("").str.contains("aht_s", literal=True).sum())
    if n_assumed and notes is not None:
        notes.append(
            f"AHT assumed {float(aht_s):g} s ("  # type: ignore[arg-type]
            + (
                "the data has no handle times"
                if n_assumed == busy.height
                else f"the data has no handle times for {n_assumed:,} of {busy.height:,} "
                "intervals with contacts"
            )
            + "); the workload of those intervals is offered x the assumed AHT."
        )
    demand = demand.drop("assumed")
    # no queue or channel (absent, or null as in a report without them): one queue, voice
    demand = demand.with_columns(
        queue=pl.col("queue").cast(pl.String).fill_null("all") if "queue" in by else pl.lit("all"),
        channel=pl.col("channel").cast(pl.String).fill_null("voice")
        if "channel" in by
        else pl.lit("voice"),
    )
    demand = (
        demand.group_by("interval_start", "queue", "channel")
        .agg(pl.col("offered").sum().cast(pl.Float64), pl.col("load_erlangs").sum())
        .with_columns(
            aht_s=pl.when(pl.col("offered") > 0).then(
                pl.col("load_erlangs") * every_s / pl.col("offered")
            )
        )
    )
    return _required(
        demand,
        grid=_grid(start, end, every_s),
        every_s=every_s,
        objectives=objectives,
        shrinkage=shrinkage,
        wrap=True,
    )


def _days_text(days: list[date]) -> str:
    """Consecutive days as ranges: ``Wed 2026-04-01 to Sun 2026-04-05``.

    Examples
    --------
    >>> _days_text([date(2026, 3, 30), date(2026, 4, 1), date(2026, 4, 2)])
    'Mon 2026-03-30, Wed 2026-04-01 to Thu 2026-04-02'
    """
    runs: list[list[date]] = []
    for d in sorted(days):
        if runs and d - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(
        f"{r[0]:%a %Y-%m-%d}" + (f" to {r[-1]:%a %Y-%m-%d}" if len(r) > 1 else "") for r in runs
    )


def _check_week_inside(times: pl.Series, *, week: str, start: datetime) -> None:
    """Refuse a week with days before the data's first day or after its last: their demand
    is unknown (never zero). Days inside the data without contacts (a closed Sunday) count
    as no contacts."""
    first: datetime = times.min()  # type: ignore[assignment]
    last: datetime = times.max()  # type: ignore[assignment]
    lo, hi = first.date(), last.date()
    days = [start.date() + timedelta(days=i) for i in range(7)]
    outside = [d for d in days if d < lo or d > hi]
    if not outside:
        return
    first_monday = lo + timedelta(days=(7 - lo.weekday()) % 7)
    last_monday = hi - timedelta(days=hi.weekday() + (0 if hi.weekday() == 6 else 7))
    if first_monday > last_monday:
        inside = "the data cover no whole week, so plan from a forecast (--forecast)"
    else:
        near = last_monday if days[0] > hi or days[-1] > hi else first_monday
        iso = near.isocalendar()
        inside = (
            f"choose a week inside the data (e.g. {iso.year}-W{iso.week:02d}) or plan from a "
            "forecast (--forecast)"
        )
    raise KpiError(
        f"week {week} ({days[0]:%a %Y-%m-%d} to {days[-1]:%a %Y-%m-%d}) is not all in the "
        f"data: the data cover {lo:%a %Y-%m-%d} to {hi:%a %Y-%m-%d}, so the demand of "
        f"{_days_text(outside)} is unknown; {inside}"
    )


def _quantile_column(frame: pl.DataFrame, quantile: float | None, level: float) -> pl.Expr:
    """The planned volume: the forecast, or an upper (or lower) quantile of it.

    The table's ``lower`` and ``upper`` bound the central ``level`` % interval; a quantile
    ``q`` scales the distance from the forecast to the bound on its side by
    ``z(q) / z((1 + level) / 2)`` (normal quantiles), so ``q = (1 + level) / 2`` is ``upper``.
    """
    if quantile is None or quantile == 0.5:
        return pl.col("forecast")
    if isinstance(quantile, bool) or not isinstance(quantile, int | float) or not 0 < quantile < 1:
        raise KpiError(f"quantile must be above 0 and below 1, got {quantile!r}")
    if not 1 <= level < 100:
        raise KpiError(f"level must be a percentage from 1 to below 100, got {level!r}")
    missing = [c for c in ("lower", "upper") if c not in frame.columns]
    if missing:
        raise KpiError(f"a quantile needs the forecast's {missing[0]} column")
    z = NormalDist().inv_cdf(float(quantile)) / NormalDist().inv_cdf((1 + level / 100) / 2)
    side = (
        pl.col("upper") - pl.col("forecast")
        if quantile > 0.5
        else pl.col("forecast") - pl.col("lower")
    )
    return (pl.col("forecast") + z * side).clip(lower_bound=0.0)


def required_from_forecast(
    table: pl.DataFrame,
    *,
    aht_s: float | Mapping[str, float],
    every: str = "15m",
    channels: Mapping[str, str] | None = None,
    objectives: Objectives | Mapping[str, Any] | None = None,
    shrinkage: float = 0.0,
    quantile: float | None = None,
    level: float = 80.0,
    wrap: bool = False,
) -> pl.DataFrame:
    """Required agents per interval and queue from a forecast table (what ``kpi staffing
    --forecast`` and ``kpi schedule --forecast`` plan on).

    Parameters
    ----------
    table
        The output of :func:`kpi.forecast.forecast` (or ``kpi forecast --format csv|json``):
        ``period``, optional ``queue``/``channel`` columns, ``forecast``, ``lower``, ``upper``.
        ``period`` may be text such as ``2026-03-02 09:00 GMT`` (the zone name is dropped:
        times are site wall-clock times).
    aht_s
        Average handle time (s): one number, or one per queue (``{"North Voice": 420, ...}``).
    every
        The forecast's interval: 15m, 30m or 1h.
    channels
        Channel of each queue (for its objective and skill); default: the ``channel`` column,
        else ``voice``.
    objectives
        :class:`~kpi.schedule.Objectives` or the ``[objectives]`` table of a targets file.
    shrinkage
        Shrinkage in [0, 1) not planned in the shifts: ``required_scheduled = required / (1 −
        shrinkage)``.
    quantile
        Plan on this quantile of the forecast instead of its mean, e.g. 0.9 (with ``level``,
        the forecast's central prediction interval in %, 80 by default: 0.9 is then ``upper``).
    wrap
        Spread deferred work past the last interval into the first ones (a repeating week).

    Returns
    -------
    polars.DataFrame
        :data:`REQUIREMENT_COLUMNS`: one row per interval and queue.

    Examples
    --------
    >>> fc = pl.DataFrame(
    ...     {
    ...         "period": ["2026-03-02 09:00 GMT"],
    ...         "queue": ["Sales"],
    ...         "forecast": [40.0],
    ...         "lower": [30.0],
    ...         "upper": [50.0],
    ...     }
    ... )
    >>> req = required_from_forecast(fc, aht_s=180, every="15m", channels={"Sales": "voice"})
    >>> [round(v, 3) for v in req.select("offered", "load_erlangs", "required_agents").row(0)]
    [40.0, 8.0, 10.797]
    >>> req = required_from_forecast(fc, aht_s=180, channels={"Sales": "voice"}, quantile=0.9)
    >>> req["offered"].round(3).to_list()
    [50.0]
    """
    every_s = every_seconds(every)
    if not isinstance(table, pl.DataFrame):
        raise KpiError("the forecast must be a polars DataFrame (see kpi.forecast.forecast)")
    missing = [c for c in ("period", "forecast") if c not in table.columns]
    if missing:
        raise KpiError(
            f"the forecast has no {missing[0]!r} column: expected the output of kpi forecast "
            "(period, forecast, lower, upper)"
        )
    frame = table
    if frame.schema["period"] == pl.String:
        frame = frame.with_columns(
            pl.col("period")
            .str.replace(r"\s+[A-Za-z][A-Za-z0-9+\-:]*$", "")
            .str.to_datetime("%Y-%m-%d %H:%M", strict=False)
        )
        if frame["period"].null_count():
            raise KpiError("the forecast's period column has times that are not YYYY-MM-DD HH:MM")
    frame = _wall(frame.rename({"period": "interval_start"}), "interval_start")
    starts = frame["interval_start"].unique().sort()
    gaps = starts.diff().drop_nulls().dt.total_seconds()
    step = int(gaps.mode().min()) if gaps.len() else every_s
    if step > every_s:  # an hourly forecast does not say how its hour splits into quarters
        coarse = f"{step // 3600}h" if step % 3600 == 0 else f"{step // 60}m"
        raise KpiError(
            f"the forecast's intervals are {coarse} apart and the plan's are {every}: forecast "
            f"at the plan's interval (kpi forecast --every {every}) or plan at the forecast's "
            f"(--every {coarse})"
        )
    if "queue" not in frame.columns:
        frame = frame.with_columns(
            queue=pl.col("channel") if "channel" in frame.columns else pl.lit("all")
        )
    if "channel" not in frame.columns:
        mapping = dict(channels or {})
        frame = frame.with_columns(
            channel=pl.col("queue")
            .cast(pl.String)
            .replace_strict(mapping, default="voice", return_dtype=pl.String)
        )
    frame = frame.with_columns(
        pl.col("queue").cast(pl.String),
        offered=_quantile_column(frame, quantile, level).cast(pl.Float64),
    )
    if isinstance(aht_s, Mapping):
        unknown = sorted(set(frame["queue"].unique().to_list()) - set(aht_s))
        if unknown:
            raise KpiError(f"no AHT for queue {unknown[0]!r}: give aht_s for every queue")
        aht = pl.col("queue").replace_strict(dict(aht_s), return_dtype=pl.Float64)
    else:
        aht = pl.lit(aht_s, dtype=pl.Float64)
    frame = frame.with_columns(aht_s=aht)
    bad = frame.filter(~(pl.col("aht_s") > 0) | ~pl.col("aht_s").is_finite())
    if bad.height:
        raise KpiError(f"AHT must be a positive number of seconds, got {bad['aht_s'][0]!r}")
    if frame.filter(~pl.col("offered").is_finite() | (pl.col("offered") < 0)).height:
        raise KpiError("the forecast has negative or non-finite values")
    demand = (
        frame.group_by("interval_start", "queue", "channel")
        .agg(
            pl.col("offered").sum(),
            (pl.col("offered") * pl.col("aht_s")).sum().alias("_work"),
        )
        .with_columns(
            load_erlangs=pl.col("_work") / every_s,
            aht_s=pl.when(pl.col("offered") > 0).then(pl.col("_work") / pl.col("offered")),
        )
        .drop("_work")
    )
    start, end = demand["interval_start"].min(), demand["interval_start"].max()
    grid = _grid(start, end + timedelta(seconds=every_s), every_s)  # type: ignore[operator]
    return _required(
        demand, grid=grid, every_s=every_s, objectives=objectives, shrinkage=shrinkage, wrap=wrap
    )


def _required(
    demand: pl.DataFrame,
    *,
    grid: pl.Series,
    every_s: int,
    objectives: Objectives | Mapping[str, Any] | None,
    shrinkage: float,
    wrap: bool,
) -> pl.DataFrame:
    """Fill the grid per queue and compute required agents per the queue's objective."""
    if (
        isinstance(shrinkage, bool)
        or not isinstance(shrinkage, int | float)
        or not 0 <= shrinkage < 1
    ):
        raise KpiError(f"shrinkage must be from 0 to below 1, got {shrinkage!r}")
    obj = objectives if isinstance(objectives, Objectives) else objectives_from(objectives)
    # a null queue or channel would join no interval of the grid (its demand read as zero)
    demand = demand.with_columns(
        pl.col("queue").cast(pl.String).fill_null("all"),
        pl.col("channel").cast(pl.String).fill_null("voice"),
    )
    queues = demand.select("queue", "channel").unique().sort("queue", "channel")
    full = (
        grid.to_frame()
        .join(queues, how="cross")
        .join(demand, on=["interval_start", "queue", "channel"], how="left")
        .with_columns(pl.col("offered").fill_null(0.0), pl.col("load_erlangs").fill_null(0.0))
        .sort("queue", "channel", "interval_start")
    )
    parts = []
    for (queue, channel), part in full.group_by(["queue", "channel"], maintain_order=True):
        o = obj.for_queue(queue, channel)  # type: ignore[arg-type]
        load = part["load_erlangs"].to_numpy().astype(float)
        if o.kind == "deferred":
            k = max(1, round(o.response_h * 3600 / every_s))  # type: ignore[operator]
            req = _spread(load, k, wrap=wrap)
            if o.max_occupancy is not None:
                req = req / o.max_occupancy
        else:
            known = part["aht_s"].drop_nulls()
            fallback = float(known.mean()) if known.len() else 1.0  # type: ignore[arg-type]
            aht = part["aht_s"].fill_null(fallback).to_numpy().astype(float)
            req = np.zeros_like(load)
            busy = load > 0
            if busy.any():
                req[busy] = required_agents(
                    load[busy],
                    aht_s=aht[busy],
                    target_sl=o.service_level,
                    threshold_s=o.threshold_s,
                    max_occupancy=o.max_occupancy,
                    patience_s=o.patience_s,
                )
        parts.append(
            part.with_columns(
                objective=pl.lit(o.text()),
                required_agents=pl.Series(req, dtype=pl.Float64),
            )
        )
    out = pl.concat(parts).with_columns(
        required_scheduled=pl.col("required_agents") / (1.0 - float(shrinkage))
    )
    return out.select(REQUIREMENT_COLUMNS).sort("interval_start", "queue")


def _spread(load: np.ndarray, k: int, *, wrap: bool) -> np.ndarray:
    """Agents for deferred work: each interval's workload spread over the next ``k`` intervals.

    Examples
    --------
    >>> _spread(np.array([8.0, 0, 0, 0]), 2, wrap=False).tolist()
    [4.0, 4.0, 0.0, 0.0]
    >>> _spread(np.array([0, 0, 0, 8.0]), 2, wrap=True).tolist()
    [4.0, 0.0, 0.0, 4.0]
    """
    n = load.size
    out = np.zeros(n + k)
    for lag in range(k):
        out[lag : lag + n] += load / k
    if wrap:
        out[:k] += out[n : n + k]
    return out[:n]


def skill_matrix(requirements: pl.DataFrame) -> tuple[list[str], list[datetime], np.ndarray]:
    """Skills (channels), interval starts and whole required agents (skills × intervals):
    ``round_up`` of the sum of each channel's fractional ``required_scheduled``, once.

    Examples
    --------
    >>> req = pl.DataFrame(
    ...     {
    ...         "interval_start": [datetime(2026, 1, 5, 9)] * 2,
    ...         "queue": ["a", "b"],
    ...         "channel": ["voice"] * 2,
    ...         "required_scheduled": [1.2, 1.3],
    ...     }
    ... )
    >>> skills, times, r = skill_matrix(req)
    >>> skills, r.tolist()
    (['voice'], [[3]])
    """
    from kpi.staffing import round_up

    wide = (
        requirements.group_by("interval_start", "channel")
        .agg(pl.col("required_scheduled").sum())
        .pivot(on="channel", index="interval_start", values="required_scheduled")
        .sort("interval_start")
        .fill_null(0.0)
    )
    skills = sorted(c for c in wide.columns if c != "interval_start")
    values = wide.select(skills).to_numpy().T.astype(float)
    whole = np.asarray(round_up(values), dtype=np.int64).reshape(values.shape)
    return skills, wide["interval_start"].to_list(), whole


def read_forecast(path: str | Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A ``kpi forecast --format csv|json`` file: its rows and its meta (``{}`` for CSV).

    Raises
    ------
    KpiError
        For a missing file or one that is not a forecast table.
    """
    p = Path(path)
    if not p.is_file():
        raise KpiError(f"forecast file {p} does not exist")
    text = p.read_text(encoding="utf-8", errors="replace")
    try:
        if text.lstrip().startswith("{"):
            doc = json.loads(text)
            rows, meta = doc.get("rows"), doc.get("meta") or {}
            if not isinstance(rows, list) or not rows:
                raise ValueError("no rows")
            frame = pl.DataFrame(rows, infer_schema_length=None)
        else:
            import io

            frame, meta = pl.read_csv(io.StringIO(text), infer_schema_length=10_000), {}
    except (ValueError, pl.exceptions.PolarsError) as exc:
        raise KpiError(f"forecast file {p} is not a kpi forecast table: {exc}") from None
    for column in ("period", "forecast"):
        if column not in frame.columns:
            raise KpiError(
                f"forecast file {p} has no {column!r} column: write it with kpi forecast "
                "--format csv or json"
            )
    if meta.get("metric") not in (None, "contacts_offered"):
        raise KpiError(
            f"forecast file {p} forecasts {meta['metric']}; plan from a contacts_offered forecast"
        )
    if frame.schema["forecast"] not in (pl.Float64, pl.Int64, pl.Float32, pl.Int32):
        raise KpiError(f"forecast file {p}: the forecast column is not numeric")
    frame = frame.with_columns(pl.col("period").cast(pl.String))
    for c in ("forecast", "lower", "upper"):
        if c in frame.columns:
            frame = frame.with_columns(pl.col(c).cast(pl.Float64))
    return frame, meta
