"""Reference implementations of the contacts scorecard in pandas and in DuckDB SQL.

``bench/bench_compute.py`` times them against ``kpi.compute``; ``tests/test_bench_reference.py``
checks that all three agree, so the benchmark compares like with like. Both follow the
definitions of the default variants in :mod:`kpi.metrics` (catalogue and measure factories) exactly:

* group by ``team`` and the local calendar month of ``arrival_ts`` (site time zone);
* counts and sums per group (zero-filled in groups that only the sweep produces), distinct counts,
  the longest wait;
* FCR's repeat window: the next contact of the same customer and topic (ordered by arrival time,
  then contact id) arrives more than 7 days later, or never;
* ``max_in_queue``: a sweep over queue entries (+1 at ``queue_ts``) and exits (−1 at
  ``queue_ts + wait_s``, truncated to microseconds), exits before entries at the same instant,
  the level before and after each event, placed in the month of the event;
* ``peak_hour_traffic``: the clock hour with the most offered contacts (earliest on ties) and its
  carried Erlangs (handle seconds of handled contacts / 3600).

Each function returns a plain table (``dict`` of column lists, see :func:`to_columns`) with
``team``, ``period`` (``YYYY-MM``) and one column per KPI id in :data:`KPIS`, sorted by team and
period, so the three results compare with :func:`compare`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "KPIS",
    "PARAMS",
    "compare",
    "duckdb_scorecard",
    "pandas_scorecard",
    "polars_scorecard",
]

#: The contacts KPIs (every KPI whose tables are contacts only), default variants.
KPIS = (
    "contacts_offered",
    "contacts_answered",
    "contacts_abandoned",
    "contacts_handled",
    "handled_per_agent",
    "answer_rate",
    "abandon_rate",
    "service_level",
    "asa",
    "avg_wait",
    "longest_wait",
    "max_in_queue",
    "peak_hour_traffic",
    "aht",
    "avg_talk",
    "avg_hold",
    "avg_acw",
    "transfer_rate",
    "fcr",
    "resolution_rate",
    "contacts_per_customer",
    "sales_per_agent",
    "conversion_rate",
    "revenue_per_successful_call",
)

#: The variants the hand-written pandas and DuckDB scorecards implement, where they are not
#: the catalogue's defaults: one 20 s threshold and the waits of every queue (the defaults judge
#: each queue by its own objective and leave deferred e-mail out of the waits).
PARAMS = {
    "service_level.threshold_s": 20,
    "asa.queues": "all",
    "avg_wait.queues": "all",
    "longest_wait.queues": "all",
}

#: Additive measures: zero in a (team, month) that only the queue sweep produces.
_SUMS = (
    "offered",
    "answered",
    "abandoned",
    "handled",
    "answered_within_20s",
    "answered_plus_abandoned",
    "wait_answered_s",
    "wait_queued_s",
    "handle_s",
    "talk_s",
    "hold_s",
    "acw_s",
    "transferred",
    "fcr_resolved",
    "fcr_base",
    "resolved",
    "identified_contacts",
    "converted",
    "revenue",
)

#: KPI id to (numerator, denominator) measure; a None denominator: the numerator itself.
_RATIOS: dict[str, tuple[str, str | None]] = {
    "contacts_offered": ("offered", None),
    "contacts_answered": ("answered", None),
    "contacts_abandoned": ("abandoned", None),
    "contacts_handled": ("handled", None),
    "handled_per_agent": ("handled", "agents_handling"),
    "answer_rate": ("answered", "offered"),
    "abandon_rate": ("abandoned", "offered"),
    "service_level": ("answered_within_20s", "answered_plus_abandoned"),
    "asa": ("wait_answered_s", "answered"),
    "avg_wait": ("wait_queued_s", "offered"),
    "longest_wait": ("max_wait_all_s", None),
    "max_in_queue": ("max_in_queue", None),
    "peak_hour_traffic": ("peak_hour_erlangs", None),
    "aht": ("handle_s", "handled"),
    "avg_talk": ("talk_s", "handled"),
    "avg_hold": ("hold_s", "handled"),
    "avg_acw": ("acw_s", "handled"),
    "transfer_rate": ("transferred", "handled"),
    "fcr": ("fcr_resolved", "fcr_base"),
    "resolution_rate": ("resolved", "handled"),
    "contacts_per_customer": ("identified_contacts", "customers_contacting"),
    "sales_per_agent": ("converted", "agents_handling"),
    "conversion_rate": ("converted", "handled"),
    "revenue_per_successful_call": ("revenue", "converted"),
}

FCR_WINDOW_DAYS = 7
SL_THRESHOLD_S = 20


def _value(x: Any) -> float | None:
    """A plain float, or None for null / NaN / pandas NA."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def to_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows (with ``team``, ``period`` and the KPI ids) as sorted plain column lists."""
    rows = sorted(records, key=lambda r: (str(r["team"]), str(r["period"])))
    out: dict[str, list[Any]] = {
        "team": [str(r["team"]) for r in rows],
        "period": [str(r["period"]) for r in rows],
    }
    for k in KPIS:
        out[k] = [_value(r[k]) for r in rows]
    return out


# --------------------------------------------------------------------------------------------
# polars: the engine under test
# --------------------------------------------------------------------------------------------


def polars_scorecard(
    path: str, *, engine: str = "auto", chunk: str | None = None
) -> dict[str, list[Any]]:
    """``kpi.compute`` of :data:`KPIS` by team and month on the dataset directory ``path``,
    under the variants the references implement (:data:`PARAMS`).

    ``chunk`` (e.g. ``"1y"``) evaluates chunk by chunk with bounded memory
    (``kpi.compute(..., chunk=...)``, which collects its chunks with the streaming engine).
    """
    import polars as pl

    import kpi

    df = kpi.compute(
        path, list(KPIS), by="team", every="1mo", measures=False, chunk=chunk, params=PARAMS
    ).collect(engine=engine)
    df = df.with_columns(pl.col("period").dt.strftime("%Y-%m"))
    return to_columns(df.to_dicts())


# --------------------------------------------------------------------------------------------
# pandas
# --------------------------------------------------------------------------------------------

_COLUMNS = [
    "contact_id",
    "topic",
    "customer_id",
    "agent_id",
    "team",
    "arrival_ts",
    "queue_ts",
    "wait_s",
    "talk_s",
    "hold_s",
    "acw_s",
    "outcome",
    "transferred",
    "resolved",
    "converted",
    "revenue",
]


def read_pandas(path: str, tz: str) -> Any:
    """The contacts table as a pandas DataFrame.

    ``pd.read_parquet`` when pyarrow or fastparquet is installed; otherwise DuckDB's Parquet
    reader converts it (the project does not depend on pyarrow).
    """
    import pandas as pd

    file = f"{path}/contacts.parquet"
    try:
        return pd.read_parquet(file, columns=_COLUMNS)
    except ImportError:
        import warnings

        import duckdb

        con = duckdb.connect()
        con.execute(f"SET TimeZone = '{tz}'")
        cols = ", ".join(_COLUMNS)
        with warnings.catch_warnings():
            # DuckDB's converter calls DataFrame.drop(inplace=True), deprecated in pandas 3.1
            warnings.filterwarnings("ignore", "The inplace keyword", category=Warning)
            return con.execute(f"SELECT {cols} FROM read_parquet(?)", [file]).df()


def pandas_scorecard(path: str, tz: str) -> dict[str, list[Any]]:
    """The scorecard with idiomatic pandas: boolean masks, ``groupby().agg()``, shift, cumsum."""
    import pandas as pd

    df = read_pandas(path, tz)
    df = df[df["arrival_ts"].notna()]
    out = df["outcome"]
    ans = out.eq("answered")
    aband = out.eq("abandoned_queue")
    outb = out.eq("outbound")
    offered = ans | aband | out.eq("flowout")
    handled = ans | outb
    inbound = out.notna() & ~outb
    identified = df["customer_id"].notna()
    wait = df["wait_s"].fillna(0.0)
    talk, hold, acw = (df[c].fillna(0.0) for c in ("talk_s", "hold_s", "acw_s"))
    handle = talk + hold + acw
    period = df["arrival_ts"].dt.tz_convert(tz).dt.tz_localize(None).dt.to_period("M")

    # FCR: the next contact of the same customer and topic, by arrival time then contact id
    order = df.sort_values(["customer_id", "topic", "arrival_ts", "contact_id"])
    following = order.groupby(["customer_id", "topic"], sort=False)["arrival_ts"].shift(-1)
    window = pd.Timedelta(days=FCR_WINDOW_DAYS)
    no_repeat = following.isna() | (following - order["arrival_ts"] > window)
    no_repeat = no_repeat.reindex(df.index)

    rows = pd.DataFrame(
        {
            "team": df["team"],
            "period": period,
            "offered": offered,
            "answered": ans,
            "abandoned": aband,
            "handled": handled,
            "answered_within_20s": ans & (df["wait_s"] <= SL_THRESHOLD_S),
            "answered_plus_abandoned": ans | aband,
            "wait_answered_s": wait.where(ans, 0.0),
            "wait_queued_s": wait.where(offered, 0.0),
            "max_wait_all_s": df["wait_s"].where(offered),
            "handle_s": handle.where(handled, 0.0),
            "talk_s": talk.where(handled, 0.0),
            "hold_s": hold.where(handled, 0.0),
            "acw_s": acw.where(handled, 0.0),
            "transferred": handled & df["transferred"].fillna(False).astype(bool),
            "fcr_resolved": ans & identified & no_repeat,
            "fcr_base": ans & identified,
            "resolved": handled & df["resolved"].fillna(False).astype(bool),
            "identified_contacts": inbound & identified,
            "converted": handled & df["converted"].fillna(False).astype(bool),
            "revenue": df["revenue"].fillna(0.0).where(handled, 0.0),
            "agent_handling": df["agent_id"].where(handled),
            "customer_contacting": df["customer_id"].where(inbound),
        }
    )
    keys = ["team", "period"]
    agg = rows.groupby(keys, observed=True).agg(
        **{name: (name, "sum") for name in _SUMS},
        max_wait_all_s=("max_wait_all_s", "max"),
        agents_handling=("agent_handling", "nunique"),
        customers_contacting=("customer_contacting", "nunique"),
    )

    # busiest clock hour (UTC hours: the site's offsets are whole hours)
    hours = (
        pd.DataFrame(
            {
                "team": df["team"],
                "period": period,
                "hour": df["arrival_ts"].dt.tz_convert("UTC").dt.floor("h"),
                "erlangs": handle.where(handled, 0.0),
            }
        )[offered]
        .groupby([*keys, "hour"], observed=True)
        .agg(calls=("erlangs", "size"), erlangs=("erlangs", "sum"))
        .reset_index()
    )
    hours["erlangs"] = hours["erlangs"] / 3600
    peak = (
        hours.sort_values(["calls", "hour"], ascending=[False, True])
        .groupby(keys, observed=True)
        .head(1)
        .set_index(keys)[["erlangs"]]
        .rename(columns={"erlangs": "peak_hour_erlangs"})
    )

    # calls waiting at once: sweep over queue entries and exits
    q = df[df["queue_ts"].notna() & df["wait_s"].notna()]
    exit_ts = q["queue_ts"] + pd.to_timedelta((q["wait_s"] * 1e6).astype("int64"), unit="us")
    events = pd.DataFrame(
        {
            "team": pd.concat([q["team"], q["team"]], ignore_index=True),
            "t": pd.concat([q["queue_ts"], exit_ts], ignore_index=True),
            "d": [1] * len(q) + [-1] * len(q),
        }
    ).sort_values(["team", "t", "d"])
    events["level"] = events.groupby("team")["d"].cumsum()
    # the level after each event and before it (an exit's "before" is one higher)
    events["top"] = (events["level"] - events["d"]).clip(lower=events["level"])
    events["period"] = events["t"].dt.tz_convert(tz).dt.tz_localize(None).dt.to_period("M")
    mq = events.groupby(keys, observed=True)["top"].max().rename("max_in_queue")

    res = agg.join([peak, mq], how="outer")
    res[list(_SUMS)] = res[list(_SUMS)].fillna(0)
    for kpi, (num, den) in _RATIOS.items():
        if den is None:
            res[kpi] = res[num].astype("float64")
        else:
            d = res[den].astype("float64")
            res[kpi] = (res[num].astype("float64") / d).where(d > 0)
    res = res.reset_index()
    res["period"] = res["period"].astype(str)
    return to_columns(res[["team", "period", *KPIS]].to_dict("records"))


# --------------------------------------------------------------------------------------------
# DuckDB
# --------------------------------------------------------------------------------------------

_SQL = """
WITH c AS (
    SELECT
        team,
        strftime(date_trunc('month', timezone($tz, arrival_ts)), '%Y-%m') AS period,
        arrival_ts, customer_id, agent_id, wait_s,
        coalesce(talk_s, 0) + coalesce(hold_s, 0) + coalesce(acw_s, 0) AS handle,
        coalesce(talk_s, 0) AS talk, coalesce(hold_s, 0) AS hold, coalesce(acw_s, 0) AS acw,
        outcome = 'answered' AS ans,
        outcome = 'abandoned_queue' AS aband,
        outcome IN ('answered', 'abandoned_queue', 'flowout') AS offered,
        outcome IN ('answered', 'outbound') AS handled,
        outcome <> 'outbound' AS inbound,
        transferred, resolved, converted, revenue,
        customer_id IS NOT NULL AND coalesce(
            epoch_us(lead(arrival_ts) OVER (
                PARTITION BY customer_id, topic ORDER BY arrival_ts, contact_id
            )) - epoch_us(arrival_ts) > $window_us,
            true
        ) AS no_repeat
    FROM read_parquet($file)
    WHERE arrival_ts IS NOT NULL
),
agg AS (
    SELECT
        team, period,
        count_if(offered) AS offered,
        count_if(ans) AS answered,
        count_if(aband) AS abandoned,
        count_if(handled) AS handled,
        count(DISTINCT agent_id) FILTER (WHERE handled) AS agents_handling,
        count_if(ans AND wait_s <= $threshold) AS answered_within_20s,
        count_if(ans OR aband) AS answered_plus_abandoned,
        sum(CASE WHEN ans THEN coalesce(wait_s, 0) ELSE 0 END) AS wait_answered_s,
        sum(CASE WHEN offered THEN coalesce(wait_s, 0) ELSE 0 END) AS wait_queued_s,
        max(wait_s) FILTER (WHERE offered) AS max_wait_all_s,
        sum(CASE WHEN handled THEN handle ELSE 0 END) AS handle_s,
        sum(CASE WHEN handled THEN talk ELSE 0 END) AS talk_s,
        sum(CASE WHEN handled THEN hold ELSE 0 END) AS hold_s,
        sum(CASE WHEN handled THEN acw ELSE 0 END) AS acw_s,
        count_if(handled AND transferred) AS transferred,
        count_if(ans AND no_repeat) AS fcr_resolved,
        count_if(ans AND customer_id IS NOT NULL) AS fcr_base,
        count_if(handled AND resolved) AS resolved,
        count_if(inbound AND customer_id IS NOT NULL) AS identified_contacts,
        count(DISTINCT customer_id) FILTER (WHERE inbound) AS customers_contacting,
        count_if(handled AND converted) AS converted,
        sum(CASE WHEN handled THEN coalesce(revenue, 0) ELSE 0 END) AS revenue
    FROM c
    GROUP BY team, period
),
hours AS (
    SELECT
        team, period, date_trunc('hour', arrival_ts) AS hour, count(*) AS calls,
        sum(CASE WHEN handled THEN handle ELSE 0 END) / 3600 AS erlangs
    FROM c
    WHERE offered
    GROUP BY team, period, hour
),
peak AS (
    SELECT team, period, erlangs AS peak_hour_erlangs
    FROM hours
    QUALIFY row_number() OVER (PARTITION BY team, period ORDER BY calls DESC, hour) = 1
),
q AS (
    SELECT team, epoch_us(queue_ts) AS t_in, CAST(trunc(wait_s * 1e6) AS BIGINT) AS wait_us
    FROM read_parquet($file)
    WHERE queue_ts IS NOT NULL AND wait_s IS NOT NULL
),
events AS (
    SELECT team, t_in AS t, 1 AS d FROM q
    UNION ALL
    SELECT team, t_in + wait_us AS t, -1 AS d FROM q
),
levels AS (
    SELECT team, t, d, sum(d) OVER (
        PARTITION BY team ORDER BY t, d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS level
    FROM events
),
mq AS (
    SELECT
        team,
        strftime(
            date_trunc('month', timezone($tz, timezone('UTC', make_timestamp(t)))), '%Y-%m'
        ) AS period,
        max(greatest(level, level - d)) AS max_in_queue
    FROM levels
    GROUP BY ALL
),
res AS (
    SELECT * FROM agg
    FULL JOIN peak USING (team, period)
    FULL JOIN mq USING (team, period)
)
SELECT team, period, {values}
FROM res
ORDER BY team, period
"""


def _sql_value(kpi: str) -> str:
    num, den = _RATIOS[kpi]
    num_sql = f"coalesce({num}, 0)" if num in _SUMS else num
    if den is None:
        return f"CAST({num_sql} AS DOUBLE) AS {kpi}"
    den_sql = f"CAST(coalesce({den}, 0) AS DOUBLE)" if den in _SUMS else f"CAST({den} AS DOUBLE)"
    return f"CASE WHEN {den_sql} > 0 THEN CAST({num_sql} AS DOUBLE) / {den_sql} END AS {kpi}"


def duckdb_sql() -> str:
    """The scorecard query (parameters ``$file``, ``$tz``, ``$window_us``, ``$threshold``)."""
    return _SQL.replace("{values}", ",\n       ".join(_sql_value(k) for k in KPIS))


def duckdb_scorecard(path: str, tz: str) -> dict[str, list[Any]]:
    """The scorecard in DuckDB SQL: window functions for FCR and the queue sweep."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        duckdb_sql(),
        {
            "file": f"{path}/contacts.parquet",
            "tz": tz,
            "window_us": FCR_WINDOW_DAYS * 86_400_000_000,
            "threshold": SL_THRESHOLD_S,
        },
    ).fetchall()
    names = ["team", "period", *KPIS]
    return to_columns([dict(zip(names, r, strict=True)) for r in rows])


# --------------------------------------------------------------------------------------------
# agreement
# --------------------------------------------------------------------------------------------


def compare(
    expected: Mapping[str, list[Any]], actual: Mapping[str, list[Any]], *, rel: float = 1e-9
) -> list[str]:
    """Differences between two scorecards (empty when they agree to ``rel``, nulls equal)."""
    problems = []
    for key in ("team", "period"):
        if list(expected[key]) != list(actual[key]):
            return [f"different groups: {key} {expected[key][:5]}... vs {actual[key][:5]}..."]
    for k in KPIS:
        for i, (a, b) in enumerate(zip(expected[k], actual[k], strict=True)):
            if a is None or b is None:
                ok = a is None and b is None
            else:
                ok = math.isclose(a, b, rel_tol=rel, abs_tol=0.0)
            if not ok:
                problems.append(
                    f"{k} at team {expected['team'][i]} {expected['period'][i]}: {a!r} vs {b!r}"
                )
    return problems
