"""How each KPI's variants choose its measures: one build function per KPI.

A build function takes the variant values in force (every :class:`~kpi.metrics.Param` of its
KPI, defaults filled in) and returns a :class:`~kpi.metrics.Build`: the measures (from
:mod:`kpi.metrics._factories` and :mod:`kpi.metrics._stateful`) and the formula text every
output prints, chosen together in one place so the text states the variant that computed the
number. The declarations that name these functions are in :mod:`kpi.metrics._catalogue`.

Examples
--------
>>> aht({"components": "talk_hold"}).formula
'AHT = (talk + hold) / handled (no after-call work)'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from kpi.metrics import _factories as F
from kpi.metrics import _stateful as S
from kpi.metrics._metric import Build


def _short(p: Mapping[str, Any]) -> str:
    return f" − short abandons < {p['short_abandon_s']} s" if p.get("short_abandon_s") else ""


# --------------------------------------------------------------------------------------------
# Builders, one per KPI (the formula text states the variant in force)
# --------------------------------------------------------------------------------------------


def contacts_offered(p: Mapping[str, Any]) -> Build:
    return Build(
        f"offered = answered + abandoned in queue + flow-outs{_short(p)}",
        F.offered(p["short_abandon_s"]),
    )


def contacts_answered(p: Mapping[str, Any]) -> Build:
    return Build("answered = inbound contacts answered by an agent", F.answered())


def contacts_abandoned(p: Mapping[str, Any]) -> Build:
    return Build(
        f"abandoned = abandoned in queue{_short(p)}"
        + (" + abandoned in IVR" if p["stages"] == "queue_and_ivr" else ""),
        F.abandoned(p["short_abandon_s"], include_ivr=p["stages"] == "queue_and_ivr"),
    )


def contacts_handled(p: Mapping[str, Any]) -> Build:
    if p["direction"] == "inbound":
        return Build("handled = inbound contacts answered by an agent", F.answered())
    return Build("handled = inbound answered + outbound handled", F.handled())


def tickets_handled(p: Mapping[str, Any]) -> Build:
    if p["basis"] == "closed":
        return Build("tickets handled = tickets closed in the period", F.tickets_closed())
    return Build("tickets handled = tickets solved in the period", F.tickets_solved())


def handled_per_agent(p: Mapping[str, Any]) -> Build:
    if p["basis"] == "logged_in_hour":
        return Build(
            "handled per logged-in hour = handled / (logged-in s / 3600)",
            F.handled(),
            F.agent_time_sum("logged_in_s"),
            scale=3600.0,
        )
    return Build(
        "handled per agent = handled / distinct agents who handled contacts",
        F.handled(),
        F.agents_handling(),
    )


def answer_rate(p: Mapping[str, Any]) -> Build:
    den = {"offered": F.offered(0), "queued": F.queued(), "arrived": F.arrived()}[p["basis"]]
    return Build(f"answer rate = answered / {p['basis']}", F.answered(), den)


def abandon_rate(p: Mapping[str, Any]) -> Build:
    s = p["short_abandon_s"]
    den = {
        "offered": F.offered(s),
        "queued": F.queued(s),
        "answered_plus_abandoned": F.answered_plus_abandoned(s),
    }[p["denominator"]]
    den_text = {
        "offered": "offered",
        "queued": "queued (offered + re-queued transfers)",
        "answered_plus_abandoned": "(answered + abandoned)",
    }[p["denominator"]]
    return Build(
        f"abandon rate = abandoned in queue{_short(p)} / {den_text}{_short(p) if s else ''}",
        F.abandoned(s),
        den,
    )


_SL_DEN_TEXT = {
    "offered": "offered",
    "answered_plus_abandoned": "(answered + abandoned)",
    "answered": "answered",
    "ignore_abandons_within_threshold": "(offered − abandoned ≤ {t} s)",
    "abandons_within_threshold_met": "offered",
}


def service_level(p: Mapping[str, Any]) -> Build:
    t, s, d = p["threshold_s"], p["short_abandon_s"], p["denominator"]
    num = (
        F.answered_or_abandoned_within(t)
        if d == "abandons_within_threshold_met"
        else F.answered_within(t)
    )
    num_text = (
        f"(answered ≤ {t} s + abandoned ≤ {t} s)"
        if d == "abandons_within_threshold_met"
        else f"answered ≤ {t} s"
    )
    den_text = _SL_DEN_TEXT[d].format(t=t)
    if s and d != "answered":
        den_text = f"({den_text} − short abandons < {s} s)"
    return Build(f"SL = {num_text} / {den_text}", num, F.sl_denominator(d, t, s))


def asa(p: Mapping[str, Any]) -> Build:
    if p["timer_start"] == "arrival":
        return Build(
            "ASA = Σ (IVR + queue wait) of answered / answered",
            F.wait_answered(ivr=True),
            F.answered(),
        )
    return Build("ASA = Σ queue wait of answered / answered", F.wait_answered(), F.answered())


def avg_wait(p: Mapping[str, Any]) -> Build:
    if p["population"] == "answered":
        return Build(
            "average wait = Σ wait of answered / answered", F.wait_answered(), F.answered()
        )
    return Build(
        "average wait = Σ wait of all queued (answered, abandoned, flow-out) / queued",
        F.wait_queued(),
        F.offered(0),
    )


def longest_wait(p: Mapping[str, Any]) -> Build:
    return Build(
        f"longest wait = max queue wait of {p['population']} contacts", F.max_wait(p["population"])
    )


def max_in_queue(p: Mapping[str, Any]) -> Build:
    return Build(
        "max in queue = most contacts waiting at once (sweep over queue entries and exits)",
        S.max_in_queue(),
    )


def peak_hour_traffic(p: Mapping[str, Any]) -> Build:
    m = S.peak_hour(p["rank_by"])
    return Build(
        f"peak-hour traffic = Erlangs (handle s / 3600) of the busiest clock hour by {p['rank_by']}",
        m,
        extra=(S.peak_hour_calls(p["rank_by"]),),
    )


def aht(p: Mapping[str, Any]) -> Build:
    if p["components"] == "talk_hold":
        return Build(
            "AHT = (talk + hold) / handled (no after-call work)",
            F.handle_time(acw=False),
            F.handled(),
        )
    return Build("AHT = (talk + hold + after-call work) / handled", F.handle_time(), F.handled())


def avg_component(col: str, name: str) -> Callable[[Mapping[str, Any]], Build]:
    def build(p: Mapping[str, Any]) -> Build:
        if p["denominator"] == "with_component":
            return Build(
                f"average {name} = Σ {name} / handled contacts with {name} > 0",
                F.contact_sum(col),
                F.handled_with(col),
            )
        return Build(f"average {name} = Σ {name} / handled", F.contact_sum(col), F.handled())

    return build


def transfer_rate(p: Mapping[str, Any]) -> Build:
    return Build("transfer rate = transferred / handled", F.transferred(), F.handled())


def fcr(p: Mapping[str, Any]) -> Build:
    if p["method"] == "agent_resolved":
        return Build(
            "FCR = handled contacts marked resolved and not transferred / handled",
            F.agent_resolved_first(),
            F.handled(),
        )
    key = "customer and topic" if p["key"] == "customer_topic" else "customer"
    return Build(
        f"FCR = handled inbound contacts with no repeat contact (same {key}) within "
        f"{p['window_days']} days / handled inbound contacts of identified customers",
        S.fcr_resolved(p["window_days"], p["key"]),
        F.fcr_base(),
    )


def resolution_rate(p: Mapping[str, Any]) -> Build:
    return Build(
        "resolution rate = handled contacts marked resolved / handled", F.resolved(), F.handled()
    )


def avg_resolution_time(p: Mapping[str, Any]) -> Build:
    return Build(
        f"resolution time = {p['aggregator']} of (solved − created) in hours, tickets by {p['cohort']} time",
        F.resolution_hours(p["aggregator"], p["cohort"]),
    )


def first_response_time(p: Mapping[str, Any]) -> Build:
    return Build(
        f"first response time = {p['aggregator']} of (first response − created) in hours, by created time",
        F.first_response_hours(p["aggregator"]),
    )


def backlog(p: Mapping[str, Any]) -> Build:
    return Build(
        "backlog = tickets created and not yet solved at the end of the period", S.backlog()
    )


def occupancy(p: Mapping[str, Any]) -> Build:
    if p["denominator"] == "logged_in":
        return Build(
            "occupancy = (handle + after-call work) / logged-in time",
            F.agent_busy(),
            F.agent_time_sum("logged_in_s"),
        )
    return Build(
        "occupancy = (handle + after-call work) / (handle + after-call work + available)",
        F.agent_busy(),
        F.agent_busy(available=True),
    )


def utilization(p: Mapping[str, Any]) -> Build:
    d = p["definition"]
    if d == "logged_in_over_scheduled":
        return Build(
            "utilisation = logged-in time / scheduled (paid) time",
            F.agent_time_sum("logged_in_s"),
            F.agent_time_sum("scheduled_s"),
        )
    if d == "productive_over_scheduled":
        return Build(
            "utilisation = (handle + after-call work + available) / scheduled (paid) time",
            F.agent_busy(available=True),
            F.agent_time_sum("scheduled_s"),
        )
    return Build(
        "utilisation = time on contacts (handle + after-call work) / scheduled (paid) time",
        F.agent_busy(),
        F.agent_time_sum("scheduled_s"),
    )


def shrinkage(p: Mapping[str, Any]) -> Build:
    parts = {
        "all": ("break_s", "training_s", "meeting_s", "absence_s"),
        "planned": ("break_s", "training_s", "meeting_s"),
        "unplanned": ("absence_s",),
    }[p["scope"]]
    return Build(
        "shrinkage = (" + " + ".join(c[:-2] for c in parts) + ") / scheduled (paid) time",
        F.agent_time_sum(*parts),
        F.agent_time_sum("scheduled_s"),
    )


def adherence(p: Mapping[str, Any]) -> Build:
    return Build(
        "adherence = time in the scheduled activity at the scheduled time / scheduled time",
        F.agent_time_sum("adherent_s"),
        F.agent_time_sum("scheduled_s"),
    )


def attendance(p: Mapping[str, Any]) -> Build:
    return Build(
        "attendance = (scheduled − unplanned absence) / scheduled time",
        F.attended(),
        F.agent_time_sum("scheduled_s"),
    )


def qa_score(p: Mapping[str, Any]) -> Build:
    return Build("QA score = Σ evaluation scores / evaluations", F.qa_sum(), F.qa_count())


def coaching_per_agent(p: Mapping[str, Any]) -> Build:
    return Build(
        "coaching per agent = coaching sessions / distinct scheduled agents",
        F.coaching_sessions(),
        F.agents_scheduled(),
    )


def csat(p: Mapping[str, Any]) -> Build:
    if p["method"] == "mean":
        return Build("CSAT = mean score (1-5)", F.survey_sum("csat"), F.survey_count("csat"))
    return Build(
        "CSAT = responses rated 4 or 5 / responses (top-2-box)",
        F.survey_at_least("csat", 4),
        F.survey_count("csat"),
    )


def nps(p: Mapping[str, Any]) -> Build:
    return Build(
        "NPS = 100 × (promoters 9-10 − detractors 0-6) / responses",
        F.net_promoters("surveys", "nps"),
        F.survey_count("nps"),
        scale=100.0,
    )


def ces(p: Mapping[str, Any]) -> Build:
    if p["method"] == "agree_share":
        return Build(
            "CES = responses agreeing (5-7) / responses",
            F.survey_at_least("ces", 5),
            F.survey_count("ces"),
        )
    return Build("CES = mean score (1-7, 7 easiest)", F.survey_sum("ces"), F.survey_count("ces"))


def customer_churn(p: Mapping[str, Any]) -> Build:
    return Build(
        "churn = customers lost in the period / customers at its start",
        S.customers_lost(),
        S.customers_start(),
    )


def customer_retention(p: Mapping[str, Any]) -> Build:
    lost, start = S.customers_lost(), S.customers_start()
    den = pl.col(start.name).cast(pl.Float64)
    return Build(
        "retention = 1 − customers lost in the period / customers at its start",
        lost,
        start,
        value=pl.when(den > 0).then(1 - pl.col(lost.name) / den).otherwise(None),
    )


def contacts_per_customer(p: Mapping[str, Any]) -> Build:
    return Build(
        "contacts per customer = inbound contacts of identified customers / distinct customers",
        F.identified_contacts(),
        F.customers_contacting(),
    )


def sales_per_agent(p: Mapping[str, Any]) -> Build:
    if p["basis"] == "revenue":
        return Build(
            "sales per agent = revenue / distinct agents who handled contacts",
            F.revenue(),
            F.agents_handling(),
        )
    return Build(
        "sales per agent = sales / distinct agents who handled contacts",
        F.converted(),
        F.agents_handling(),
    )


def conversion_rate(p: Mapping[str, Any]) -> Build:
    return Build(
        "conversion rate = contacts with a sale / handled (gross)", F.converted(), F.handled()
    )


def revenue_per_successful_call(p: Mapping[str, Any]) -> Build:
    return Build(
        "revenue per successful call = revenue / contacts with a sale", F.revenue(), F.converted()
    )


def cost_per_contact(p: Mapping[str, Any]) -> Build:
    return Build(
        "cost per contact = centre cost / contacts handled", F.finance("centre_cost"), F.handled()
    )


def cost_per_order(p: Mapping[str, Any]) -> Build:
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


def sac(p: Mapping[str, Any]) -> Build:
    return Build(
        "SAC = acquisition spend / new subscribers",
        F.finance("acquisition_spend"),
        F.finance("new_subscribers"),
    )


def agent_attrition(p: Mapping[str, Any]) -> Build:
    sep, hc, months = S.separations(), S.headcount(p["headcount"]), S.bin_months()
    rate = pl.when(pl.col(hc.name) > 0).then(pl.col(sep.name) / pl.col(hc.name)).otherwise(None)
    per_year = 12.0 / pl.col(months.name)
    text = {
        "none": "",
        "simple": ", annualised × 12 / months in the period",
        "compounded": ", annualised 1 − (1 − rate)^(12 / months in the period)",
    }[p["annualize"]]
    value = {
        "none": rate,
        "simple": rate * per_year,
        "compounded": 1 - (1 - rate).pow(per_year),
    }[p["annualize"]]
    hc_text = (
        "average headcount ((start + end) / 2)"
        if p["headcount"] == "average"
        else "headcount at the start"
    )
    return Build(
        f"attrition = agents who left / {hc_text}{text}", sep, hc, value=value, extra=(months,)
    )


def agent_enps(p: Mapping[str, Any]) -> Build:
    return Build(
        "eNPS = 100 × (promoters 9-10 − detractors 0-6) / responses",
        F.net_promoters("agent_surveys", "score"),
        F.agent_survey_count(),
        scale=100.0,
    )
