"""How each KPI's variants choose its measures: one build function per KPI.

A build function takes the variant values in force (every :class:`~kpi.metrics.Param` of its
KPI, defaults filled in) and returns a :class:`~kpi.metrics.Build`: the measures (from
:mod:`kpi.metrics._factories` and :mod:`kpi.metrics._stateful`) and the formula text every
output prints. The declarations that name these functions are in
:mod:`kpi.metrics._catalogue`.

Where it can, a build writes its formula with :meth:`Build.ratio <kpi.metrics.Build.ratio>`,
from the ``text`` of the measures it chose: the factory that builds a measure from a threshold
or a short-abandon limit also writes its words, so text and computation cannot drift. A
formula whose wording is not the measures' own is given as a string (``Build("...")``), next
to the measures it describes.

Examples
--------
>>> aht({"components": "talk_hold"}).formula
'AHT = (talk + hold) / handled (no after-call work)'
>>> service_level({"threshold_s": 30, "denominator": "offered", "short_abandon_s": 5}).formula
'SL = answered ≤ 30 s / (offered − short abandons < 5 s)'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import polars as pl

from kpi.metrics import _factories as F
from kpi.metrics import _forecasts as FC
from kpi.metrics import _service as SV
from kpi.metrics import _stateful as S
from kpi.metrics._metric import Build, Target
from kpi.metrics._objectives import objectives_from_spec

#: The variant values in force, by short name (every Param of the KPI, defaults filled in).
Variants = Mapping[str, Any]


def _short(p: Variants) -> str:
    return f" − short abandons < {p['short_abandon_s']} s" if p.get("short_abandon_s") else ""


def _spec(p: Variants, kpi_id: str) -> str:
    """The ``objectives`` variant in its canonical text (one measure column per meaning)."""
    text = p.get("objectives", "")
    return objectives_from_spec(text, source=f"{kpi_id}.objectives").spec() if text else ""


# ---- volume ---------------------------------------------------------------------------------


def contacts_offered(p: Variants) -> Build:
    return Build(
        f"offered = answered + abandoned in queue + flow-outs{_short(p)}",
        F.offered(p["short_abandon_s"]),
    )


def contacts_answered(p: Variants) -> Build:
    return Build("answered = inbound contacts answered by an agent", F.answered())


def contacts_abandoned(p: Variants) -> Build:
    ivr = p["stages"] == "queue_and_ivr"
    return Build.ratio("abandoned", F.abandoned(p["short_abandon_s"], include_ivr=ivr))


def contacts_handled(p: Variants) -> Build:
    if p["direction"] == "inbound":
        return Build("handled = inbound contacts answered by an agent", F.answered())
    return Build("handled = inbound answered + outbound handled", F.handled())


def tickets_handled(p: Variants) -> Build:
    m = F.tickets_closed() if p["basis"] == "closed" else F.tickets_solved()
    return Build.ratio("tickets handled", m)


def handled_per_agent(p: Variants) -> Build:
    if p["basis"] == "logged_in_hour":
        return Build(
            "handled per logged-in hour = handled / (logged-in s / 3600)",
            F.handled(),
            F.agent_time_sum("logged_in_s"),
            scale=3600.0,
        )
    return Build.ratio("handled per agent", F.handled(), F.agents_handling())


def max_in_queue(p: Variants) -> Build:
    return Build.ratio("max in queue", S.max_in_queue())


def peak_hour_traffic(p: Variants) -> Build:
    rank_by = p["rank_by"]
    return Build.ratio(
        "peak-hour traffic", S.peak_hour(rank_by), extra=(S.peak_hour_calls(rank_by),)
    )


def backlog(p: Variants) -> Build:
    return Build.ratio("backlog", S.backlog())


# ---- accessibility and speed ----------------------------------------------------------------


def answer_rate(p: Variants) -> Build:
    den = {"offered": F.offered(0), "queued": F.queued(), "arrived": F.arrived()}[p["basis"]]
    # "answered / queued", not the queued measure's longer words
    return Build(f"answer rate = answered / {p['basis']}", F.answered(), den)


def abandon_rate(p: Variants) -> Build:
    s = p["short_abandon_s"]
    den = {
        "offered": F.offered(s),
        "queued": F.queued(s),
        "answered_plus_abandoned": F.answered_plus_abandoned(s),
    }[p["denominator"]]
    return Build.ratio("abandon rate", F.abandoned(s), den)


def service_level(p: Variants) -> Build:
    """Answered within T over the denominator variant; under ``threshold_s=objective`` each
    contact is judged against its own queue's objective (``objectives``: what differs from
    voice 20 s, chat 60 s), and deferred queues (e-mail: a response in hours) are left out,
    for :func:`response_within_objective`.

    Examples
    --------
    >>> service_level(
    ...     {
    ...         "threshold_s": "objective",
    ...         "denominator": "answered_plus_abandoned",
    ...         "short_abandon_s": 0,
    ...         "objectives": "",
    ...     }
    ... ).formula
    "SL = answered ≤ each queue's objective (voice, callback 20 s; chat, messaging 60 s) / (answered + abandoned) of real-time queues (deferred queues: response_within_objective)"
    """
    t, s, d = p["threshold_s"], p["short_abandon_s"], p["denominator"]
    if t == "objective":
        spec = _spec(p, "service_level")
        num = (
            SV.answered_or_abandoned_within_objective(spec)
            if d == "abandons_within_threshold_met"
            else SV.answered_within_objective(spec)
        )
        den = SV.sl_objective_denominator(d, spec, s)
        note = " (deferred queues: response_within_objective)"
        return Build(f"SL = {num.text} / {den.text}{note}", num, den)
    num = (
        F.answered_or_abandoned_within(t)
        if d == "abandons_within_threshold_met"
        else F.answered_within(t)
    )
    den = F.sl_denominator(d, t, s)
    # a denominator less short abandons is bracketed as one term
    den_text = f"({den.text})" if s and d != "answered" else den.text
    return Build(f"SL = {num.text} / {den_text}", num, den)


def response_within_objective(p: Variants) -> Build:
    """Deferred work (e-mail, tickets) answered within its response objective, in hours.

    Examples
    --------
    >>> response_within_objective({"objectives": "", "table": "contacts"}).formula
    "response within objective = answered ≤ each queue's response objective (email, letter, social 4 h; ticket, tickets 8 h) / deferred contacts answered"
    >>> response_within_objective({"objectives": "tickets=24h", "table": "tickets"}).formula
    'response within objective = tickets first responded ≤ 24 h / tickets with a first response'
    """
    spec, table = _spec(p, "response_within_objective"), p.get("table", "contacts")
    return Build.ratio(
        "response within objective",
        SV.responded_within_objective(spec, table),
        SV.responded(spec, table),
    )


def _realtime_only(p: Variants) -> bool:
    """``queues=realtime`` (the default): waits in seconds of the queues served in real time,
    deferred work (e-mail, tickets: a response in hours) left to response_within_objective."""
    return p.get("queues", "all") == "realtime"


def asa(p: Variants) -> Build:
    """Σ wait of answered / answered, of the real-time queues unless ``queues=all``.

    Examples
    --------
    >>> asa({"timer_start": "queue_entry", "queues": "realtime", "objectives": ""}).formula
    'ASA = Σ queue wait of answered in real-time queues / answered in real-time queues'
    >>> asa({"timer_start": "queue_entry", "queues": "all", "objectives": ""}).formula
    'ASA = Σ queue wait of answered / answered'
    """
    ivr = p["timer_start"] == "arrival"
    if _realtime_only(p):
        spec = _spec(p, "asa")
        return Build.ratio(
            "ASA", SV.realtime_wait_answered(spec, ivr=ivr), SV.realtime_answered(spec)
        )
    return Build.ratio("ASA", F.wait_answered(ivr=ivr), F.answered())


def avg_wait(p: Variants) -> Build:
    if _realtime_only(p):
        spec = _spec(p, "avg_wait")
        if p["population"] == "answered":
            return Build.ratio(
                "average wait", SV.realtime_wait_answered(spec), SV.realtime_answered(spec)
            )
        return Build.ratio("average wait", SV.realtime_wait_queued(spec), SV.realtime_queued(spec))
    if p["population"] == "answered":
        return Build(
            "average wait = Σ wait of answered / answered", F.wait_answered(), F.answered()
        )
    return Build(
        "average wait = Σ wait of all queued (answered, abandoned, flow-out) / queued",
        F.wait_queued(),
        F.offered(0),
    )


def longest_wait(p: Variants) -> Build:
    if _realtime_only(p):
        return Build.ratio(
            "longest wait", SV.realtime_max_wait(p["population"], _spec(p, "longest_wait"))
        )
    return Build.ratio("longest wait", F.max_wait(p["population"]))


# ---- efficiency -------------------------------------------------------------------------------


def aht(p: Variants) -> Build:
    if p["components"] == "talk_hold":
        return Build.ratio(
            "AHT", F.handle_time(acw=False), F.handled(), note=" (no after-call work)"
        )
    return Build.ratio("AHT", F.handle_time(), F.handled())


def avg_component(col: str, name: str) -> Callable[[Variants], Build]:
    """The build of ``average <name>``: Σ ``col`` per handled contact (or per one with it)."""

    def build(p: Variants) -> Build:
        den = F.handled_with(col) if p["denominator"] == "with_component" else F.handled()
        return Build.ratio(f"average {name}", F.contact_sum(col), den)

    return build


# ---- quality --------------------------------------------------------------------------------


def transfer_rate(p: Variants) -> Build:
    return Build.ratio("transfer rate", F.transferred(), F.handled())


def fcr(p: Variants) -> Build:
    if p["method"] == "agent_resolved":
        return Build.ratio("FCR", F.agent_resolved_first(), F.handled())
    return Build.ratio("FCR", S.fcr_resolved(p["window_days"], p["key"]), F.fcr_base())


def resolution_rate(p: Variants) -> Build:
    return Build.ratio("resolution rate", F.resolved(), F.handled())


def avg_resolution_time(p: Variants) -> Build:
    return Build.ratio("resolution time", F.resolution_hours(p["aggregator"], p["cohort"]))


def first_response_time(p: Variants) -> Build:
    return Build.ratio("first response time", F.first_response_hours(p["aggregator"]))


def qa_score(p: Variants) -> Build:
    return Build.ratio("QA score", F.qa_sum(), F.qa_count())


# ---- workforce and development --------------------------------------------------------------


def occupancy(p: Variants) -> Build:
    den = (
        F.agent_time_sum("logged_in_s")
        if p["denominator"] == "logged_in"
        else F.agent_busy(available=True)
    )
    return Build.ratio("occupancy", F.agent_busy(), den)


def utilization(p: Variants) -> Build:
    d, scheduled = p["definition"], F.agent_time_sum("scheduled_s")
    if d == "logged_in_over_scheduled":
        return Build.ratio("utilisation", F.agent_time_sum("logged_in_s"), scheduled)
    if d == "productive_over_scheduled":
        return Build.ratio("utilisation", F.agent_busy(available=True), scheduled)
    busy = F.agent_busy()
    return Build(f"utilisation = time on contacts {busy.text} / {scheduled.text}", busy, scheduled)


def shrinkage(p: Variants) -> Build:
    parts = {
        "all": ("break_s", "training_s", "meeting_s", "absence_s"),
        "planned": ("break_s", "training_s", "meeting_s"),
        "unplanned": ("absence_s",),
    }[p["scope"]]
    # bracketed even for one part: "(absence)"
    return Build(
        "shrinkage = (" + " + ".join(c[:-2] for c in parts) + ") / scheduled (paid) time",
        F.agent_time_sum(*parts),
        F.agent_time_sum("scheduled_s"),
    )


def adherence(p: Variants) -> Build:
    return Build(
        "adherence = time in the scheduled activity at the scheduled time / scheduled time",
        F.agent_time_sum("adherent_s"),
        F.agent_time_sum("scheduled_s"),
    )


def attendance(p: Variants) -> Build:
    return Build(
        "attendance = (scheduled − unplanned absence) / scheduled time",
        F.attended(),
        F.agent_time_sum("scheduled_s"),
    )


def coaching_per_agent(p: Variants) -> Build:
    return Build.ratio("coaching per agent", F.coaching_sessions(), F.agents_scheduled())


def agent_attrition(p: Variants) -> Build:
    sep, hc, months = S.separations(), S.headcount(p["headcount"]), S.bin_months()
    rate = pl.when(pl.col(hc.name) > 0).then(pl.col(sep.name) / pl.col(hc.name)).otherwise(None)
    per_year = 12.0 / pl.col(months.name)
    note, value = {
        "none": ("", rate),
        "simple": (f", annualised × 12 / {months.text}", rate * per_year),
        "compounded": (
            f", annualised 1 − (1 − rate)^(12 / {months.text})",
            1 - (1 - rate).pow(per_year),
        ),
    }[p["annualize"]]
    return Build.ratio("attrition", sep, hc, note=note, value=value, extra=(months,))


def agent_enps(p: Variants) -> Build:
    return Build.ratio(
        "eNPS",
        F.net_promoters("agent_surveys", "score"),
        F.agent_survey_count(),
        scale=100.0,
    )


# ---- satisfaction, retention, activity ------------------------------------------------------


#: CSAT's default target under each method and scale (see :func:`csat`).
CSAT_TARGETS = {
    ("top2", 5): Target(0.8, 0.7),
    ("top2", 10): Target(0.8, 0.7),
    ("mean", 5): Target(4.2, 3.8),
    ("mean", 10): Target(8.2, 7.3),
}


def csat(p: Variants) -> Build:
    """CSAT as a top-2-box share (a ratio) or a mean score (points on the survey's scale).

    Targets (kpi dictionary B.12 and the Part B benchmarks): top-2-box 80 % (75-85 % is
    typical), red 70 %. The dictionary gives no benchmark for a mean (it says the mean is not
    CSAT), so the mean's defaults translate the top-2-box ones onto the 1-5 scale: 80 % of
    responses at 4-5 (4.5 on average) and the rest at a neutral 3 is 0.8 × 4.5 + 0.2 × 3 = 4.2;
    70 % with the rest at 2 is 0.7 × 4.5 + 0.3 × 2 ≈ 3.8. On a 1-10 scale the top two boxes
    are 9 and 10 and the mean's targets map linearly (1 + (x − 1) × 9 / 4): 8.2 and 7.3.

    Examples
    --------
    >>> b = csat({"method": "mean", "scale_max": 5})
    >>> b.formula, b.unit, b.target
    ('CSAT = mean score (1-5)', 'points', Target(target=4.2, red=3.8))
    >>> csat({"method": "top2", "scale_max": 10}).formula
    'CSAT = responses rated 9 or 10 / responses (top-2-box, 1-10 scale)'
    """
    top, scale = p.get("method", "top2"), p.get("scale_max", 5)
    target = CSAT_TARGETS[(top, scale)]
    if top == "mean":
        return Build(
            f"CSAT = mean score (1-{scale})",
            F.survey_sum("csat"),
            F.survey_count("csat"),
            unit="points",
            target=target,
        )
    if scale == 10:
        return Build(
            "CSAT = responses rated 9 or 10 / responses (top-2-box, 1-10 scale)",
            F.survey_at_least("csat", 9),
            F.survey_count("csat"),
            unit="ratio",
            target=target,
        )
    return Build(
        "CSAT = responses rated 4 or 5 / responses (top-2-box)",
        F.survey_at_least("csat", 4),
        F.survey_count("csat"),
        unit="ratio",
        target=target,
    )


def nps(p: Variants) -> Build:
    return Build.ratio(
        "NPS", F.net_promoters("surveys", "nps"), F.survey_count("nps"), scale=100.0
    )


def ces(p: Variants) -> Build:
    if p["method"] == "agree_share":
        return Build(
            "CES = responses agreeing (5-7) / responses",
            F.survey_at_least("ces", 5),
            F.survey_count("ces"),
            unit="ratio",
        )
    return Build("CES = mean score (1-7, 7 easiest)", F.survey_sum("ces"), F.survey_count("ces"))


def customer_churn(p: Variants) -> Build:
    return Build.ratio("churn", S.customers_lost(), S.customers_start())


def customer_retention(p: Variants) -> Build:
    lost, start = S.customers_lost(), S.customers_start()
    den = pl.col(start.name).cast(pl.Float64)
    return Build(
        f"retention = 1 − {lost.text} / {start.text}",
        lost,
        start,
        value=pl.when(den > 0).then(1 - pl.col(lost.name) / den).otherwise(None),
    )


def contacts_per_customer(p: Variants) -> Build:
    return Build.ratio("contacts per customer", F.identified_contacts(), F.customers_contacting())


# ---- sales and cost -------------------------------------------------------------------------


def sales_per_agent(p: Variants) -> Build:
    if p["basis"] == "revenue":
        b = Build.ratio("sales per agent", F.revenue(), F.agents_handling())
        return replace(b, unit="currency")
    return Build(
        "sales per agent = sales / distinct agents who handled contacts",
        F.converted(),
        F.agents_handling(),
    )


def conversion_rate(p: Variants) -> Build:
    return Build.ratio("conversion rate", F.converted(), F.handled(), note=" (gross)")


def revenue_per_successful_call(p: Variants) -> Build:
    return Build.ratio("revenue per successful call", F.revenue(), F.converted())


def cost_per_contact(p: Variants) -> Build:
    return Build(
        "cost per contact = centre cost / contacts handled", F.finance("centre_cost"), F.handled()
    )


def cost_per_order(p: Variants) -> Build:
    if p["orders"] == "centre":
        return Build(
            "cost per order = centre cost / orders taken by the centre (contacts with a sale)",
            F.finance("centre_cost"),
            F.converted(),
        )
    return Build(
        "cost per order = centre cost / all company orders",
        F.finance("centre_cost"),
        F.finance("company_orders"),
    )


def sac(p: Variants) -> Build:
    return Build.ratio("SAC", F.finance("acquisition_spend"), F.finance("new_subscribers"))


# ---- planning -------------------------------------------------------------------------------


def forecast_accuracy(p: Variants) -> Build:
    err, act = FC.forecast_abs_error(), FC.forecast_actual()
    return Build(
        "forecast accuracy = 1 − Σ |offered − forecast| / Σ offered (1 − WAPE; the latest "
        "stored forecast of each interval that has happened)",
        err,
        act,
        value=pl.when(pl.col(act.name) > 0)
        .then(1.0 - pl.col(err.name).cast(pl.Float64) / pl.col(act.name))
        .otherwise(None),
        # the actuals come from contact rows or an interval report: without either the KPI is
        # unknown, as contacts_offered is (the engine's availability reads extra measures too)
        extra=(F.offered(0),),
    )
