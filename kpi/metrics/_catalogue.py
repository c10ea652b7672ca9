"""The KPI catalogue: every KPI declared once, by keyword, with its variants and target.

Read it as data, like a dbt MetricFlow metrics file: one :class:`~kpi.metrics.Metric` per KPI
(id, label, perspective, KRA, unit, direction, description, builder, variant parameters,
target). A builder turns the variant values in force into a :class:`~kpi.metrics.Build`: the
measures (from :mod:`kpi.metrics._factories` and :mod:`kpi.metrics._stateful`) and the formula
text every output prints, chosen together in one place so the text states the variant that
computed the number. Sources for each formula and variant: ``../shared/kpi_dictionary.md``
(Part B). A new KPI goes here: a builder, then a declaration.

Examples
--------
>>> METRICS["aht"].build({"components": "talk_hold"}).formula
'AHT = (talk + hold) / handled (no after-call work)'
>>> METRICS["service_level"].tables
('contacts', 'intervals')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import polars as pl

from kpi.errors import KpiError
from kpi.metrics import _factories as F
from kpi.metrics import _stateful as S
from kpi.metrics._metric import PERSPECTIVES, Build, Metric, Param, Target

__all__ = ["METRICS", "SHORT_ABANDON", "THRESHOLD", "catalogue", "definitions", "resolve"]

# --------------------------------------------------------------------------------------------
# Variant parameters shared by several KPIs
# --------------------------------------------------------------------------------------------

THRESHOLD = Param(
    "threshold_s",
    default=20,
    doc="service-level answer threshold T, seconds",
    type=int,
    minimum=0,
)
SHORT_ABANDON = Param(
    "short_abandon_s",
    default=0,
    doc="abandons waiting less than S seconds are short abandons and left out (0: keep all)",
    type=int,
    minimum=0,
)


def _short(p: Mapping[str, Any]) -> str:
    return f" − short abandons < {p['short_abandon_s']} s" if p.get("short_abandon_s") else ""


# --------------------------------------------------------------------------------------------
# Builders, one per KPI (the formula text states the variant in force)
# --------------------------------------------------------------------------------------------


def _contacts_offered(p: Mapping[str, Any]) -> Build:
    return Build(
        f"offered = answered + abandoned in queue + flow-outs{_short(p)}",
        F.offered(p["short_abandon_s"]),
    )


def _contacts_answered(p: Mapping[str, Any]) -> Build:
    return Build("answered = inbound contacts answered by an agent", F.answered())


def _contacts_abandoned(p: Mapping[str, Any]) -> Build:
    return Build(
        f"abandoned = abandoned in queue{_short(p)}"
        + (" + abandoned in IVR" if p["stages"] == "queue_and_ivr" else ""),
        F.abandoned(p["short_abandon_s"], include_ivr=p["stages"] == "queue_and_ivr"),
    )


def _contacts_handled(p: Mapping[str, Any]) -> Build:
    if p["direction"] == "inbound":
        return Build("handled = inbound contacts answered by an agent", F.answered())
    return Build("handled = inbound answered + outbound handled", F.handled())


def _tickets_handled(p: Mapping[str, Any]) -> Build:
    if p["basis"] == "closed":
        return Build("tickets handled = tickets closed in the period", F.tickets_closed())
    return Build("tickets handled = tickets solved in the period", F.tickets_solved())


def _handled_per_agent(p: Mapping[str, Any]) -> Build:
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


def _answer_rate(p: Mapping[str, Any]) -> Build:
    den = {"offered": F.offered(0), "queued": F.queued(), "arrived": F.arrived()}[p["basis"]]
    return Build(f"answer rate = answered / {p['basis']}", F.answered(), den)


def _abandon_rate(p: Mapping[str, Any]) -> Build:
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


def _service_level(p: Mapping[str, Any]) -> Build:
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


def _asa(p: Mapping[str, Any]) -> Build:
    if p["timer_start"] == "arrival":
        return Build(
            "ASA = Σ (IVR + queue wait) of answered / answered",
            F.wait_answered(ivr=True),
            F.answered(),
        )
    return Build("ASA = Σ queue wait of answered / answered", F.wait_answered(), F.answered())


def _avg_wait(p: Mapping[str, Any]) -> Build:
    if p["population"] == "answered":
        return Build(
            "average wait = Σ wait of answered / answered", F.wait_answered(), F.answered()
        )
    return Build(
        "average wait = Σ wait of all queued (answered, abandoned, flow-out) / queued",
        F.wait_queued(),
        F.offered(0),
    )


def _longest_wait(p: Mapping[str, Any]) -> Build:
    return Build(
        f"longest wait = max queue wait of {p['population']} contacts", F.max_wait(p["population"])
    )


def _max_in_queue(p: Mapping[str, Any]) -> Build:
    return Build(
        "max in queue = most contacts waiting at once (sweep over queue entries and exits)",
        S.max_in_queue(),
    )


def _peak_hour_traffic(p: Mapping[str, Any]) -> Build:
    m = S.peak_hour(p["rank_by"])
    return Build(
        f"peak-hour traffic = Erlangs (handle s / 3600) of the busiest clock hour by {p['rank_by']}",
        m,
        extra=(S.peak_hour_calls(p["rank_by"]),),
    )


def _aht(p: Mapping[str, Any]) -> Build:
    if p["components"] == "talk_hold":
        return Build(
            "AHT = (talk + hold) / handled (no after-call work)",
            F.handle_time(acw=False),
            F.handled(),
        )
    return Build("AHT = (talk + hold + after-call work) / handled", F.handle_time(), F.handled())


def _avg_component(col: str, name: str) -> Callable[[Mapping[str, Any]], Build]:
    def build(p: Mapping[str, Any]) -> Build:
        if p["denominator"] == "with_component":
            return Build(
                f"average {name} = Σ {name} / handled contacts with {name} > 0",
                F.contact_sum(col),
                F.handled_with(col),
            )
        return Build(f"average {name} = Σ {name} / handled", F.contact_sum(col), F.handled())

    return build


def _transfer_rate(p: Mapping[str, Any]) -> Build:
    return Build("transfer rate = transferred / handled", F.transferred(), F.handled())


def _fcr(p: Mapping[str, Any]) -> Build:
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


def _resolution_rate(p: Mapping[str, Any]) -> Build:
    return Build(
        "resolution rate = handled contacts marked resolved / handled", F.resolved(), F.handled()
    )


def _avg_resolution_time(p: Mapping[str, Any]) -> Build:
    return Build(
        f"resolution time = {p['aggregator']} of (solved − created) in hours, tickets by {p['cohort']} time",
        F.resolution_hours(p["aggregator"], p["cohort"]),
    )


def _first_response_time(p: Mapping[str, Any]) -> Build:
    return Build(
        f"first response time = {p['aggregator']} of (first response − created) in hours, by created time",
        F.first_response_hours(p["aggregator"]),
    )


def _backlog(p: Mapping[str, Any]) -> Build:
    return Build(
        "backlog = tickets created and not yet solved at the end of the period", S.backlog()
    )


def _occupancy(p: Mapping[str, Any]) -> Build:
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


def _utilization(p: Mapping[str, Any]) -> Build:
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


def _shrinkage(p: Mapping[str, Any]) -> Build:
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


def _adherence(p: Mapping[str, Any]) -> Build:
    return Build(
        "adherence = time in the scheduled activity at the scheduled time / scheduled time",
        F.agent_time_sum("adherent_s"),
        F.agent_time_sum("scheduled_s"),
    )


def _attendance(p: Mapping[str, Any]) -> Build:
    return Build(
        "attendance = (scheduled − unplanned absence) / scheduled time",
        F.attended(),
        F.agent_time_sum("scheduled_s"),
    )


def _qa_score(p: Mapping[str, Any]) -> Build:
    return Build("QA score = Σ evaluation scores / evaluations", F.qa_sum(), F.qa_count())


def _coaching_per_agent(p: Mapping[str, Any]) -> Build:
    return Build(
        "coaching per agent = coaching sessions / distinct scheduled agents",
        F.coaching_sessions(),
        F.agents_scheduled(),
    )


def _csat(p: Mapping[str, Any]) -> Build:
    if p["method"] == "mean":
        return Build("CSAT = mean score (1-5)", F.survey_sum("csat"), F.survey_count("csat"))
    return Build(
        "CSAT = responses rated 4 or 5 / responses (top-2-box)",
        F.survey_at_least("csat", 4),
        F.survey_count("csat"),
    )


def _nps(p: Mapping[str, Any]) -> Build:
    return Build(
        "NPS = 100 × (promoters 9-10 − detractors 0-6) / responses",
        F.net_promoters("surveys", "nps"),
        F.survey_count("nps"),
        scale=100.0,
    )


def _ces(p: Mapping[str, Any]) -> Build:
    if p["method"] == "agree_share":
        return Build(
            "CES = responses agreeing (5-7) / responses",
            F.survey_at_least("ces", 5),
            F.survey_count("ces"),
        )
    return Build("CES = mean score (1-7, 7 easiest)", F.survey_sum("ces"), F.survey_count("ces"))


def _customer_churn(p: Mapping[str, Any]) -> Build:
    return Build(
        "churn = customers lost in the period / customers at its start",
        S.customers_lost(),
        S.customers_start(),
    )


def _customer_retention(p: Mapping[str, Any]) -> Build:
    lost, start = S.customers_lost(), S.customers_start()
    den = pl.col(start.name).cast(pl.Float64)
    return Build(
        "retention = 1 − customers lost in the period / customers at its start",
        lost,
        start,
        value=pl.when(den > 0).then(1 - pl.col(lost.name) / den).otherwise(None),
    )


def _contacts_per_customer(p: Mapping[str, Any]) -> Build:
    return Build(
        "contacts per customer = inbound contacts of identified customers / distinct customers",
        F.identified_contacts(),
        F.customers_contacting(),
    )


def _sales_per_agent(p: Mapping[str, Any]) -> Build:
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


def _conversion_rate(p: Mapping[str, Any]) -> Build:
    return Build(
        "conversion rate = contacts with a sale / handled (gross)", F.converted(), F.handled()
    )


def _revenue_per_successful_call(p: Mapping[str, Any]) -> Build:
    return Build(
        "revenue per successful call = revenue / contacts with a sale", F.revenue(), F.converted()
    )


def _cost_per_contact(p: Mapping[str, Any]) -> Build:
    return Build(
        "cost per contact = centre cost / contacts handled", F.finance("centre_cost"), F.handled()
    )


def _cost_per_order(p: Mapping[str, Any]) -> Build:
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


def _sac(p: Mapping[str, Any]) -> Build:
    return Build(
        "SAC = acquisition spend / new subscribers",
        F.finance("acquisition_spend"),
        F.finance("new_subscribers"),
    )


def _agent_attrition(p: Mapping[str, Any]) -> Build:
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


def _agent_enps(p: Mapping[str, Any]) -> Build:
    return Build(
        "eNPS = 100 × (promoters 9-10 − detractors 0-6) / responses",
        F.net_promoters("agent_surveys", "score"),
        F.agent_survey_count(),
        scale=100.0,
    )


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------

CUS, FIN, OPS, LNG = PERSPECTIVES

_DECLARED = [
    Metric(
        id="contacts_offered",
        label="Contacts offered",
        perspective=OPS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Contacts routed to a queue for an agent.",
        builder=_contacts_offered,
        params=(SHORT_ABANDON,),
    ),
    Metric(
        id="contacts_answered",
        label="Contacts answered",
        perspective=OPS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Inbound contacts an agent answered.",
        builder=_contacts_answered,
    ),
    Metric(
        id="contacts_abandoned",
        label="Contacts abandoned",
        perspective=OPS,
        kra="volume",
        unit="count",
        direction="lower",
        description="Customers who hung up before an agent answered.",
        builder=_contacts_abandoned,
        params=(
            SHORT_ABANDON,
            Param(
                "stages",
                default="queue",
                doc="where an abandon counts: in queue only, or in the IVR too",
                choices=("queue", "queue_and_ivr"),
            ),
        ),
    ),
    Metric(
        id="contacts_handled",
        label="Contacts handled",
        perspective=OPS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Contacts an agent worked.",
        builder=_contacts_handled,
        params=(
            Param(
                "direction",
                default="all",
                doc="count outbound contacts too (all) or inbound only",
                choices=("all", "inbound"),
            ),
        ),
    ),
    Metric(
        id="tickets_handled",
        label="Tickets handled",
        perspective=OPS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Tickets solved (or closed) in the period.",
        builder=_tickets_handled,
        params=(
            Param(
                "basis",
                default="solved",
                doc="which event counts a ticket as handled",
                choices=("solved", "closed"),
            ),
        ),
    ),
    Metric(
        id="handled_per_agent",
        label="Handled per agent",
        perspective=OPS,
        kra="productivity",
        unit="count",
        direction="higher",
        description="Contacts handled per agent (or per logged-in hour).",
        builder=_handled_per_agent,
        params=(
            Param(
                "basis",
                default="agent",
                doc="per distinct agent in the period, or per logged-in hour",
                choices=("agent", "logged_in_hour"),
            ),
        ),
    ),
    Metric(
        id="answer_rate",
        label="Answer rate",
        perspective=CUS,
        kra="accessibility",
        unit="ratio",
        direction="higher",
        description="Share of contacts a person answered.",
        builder=_answer_rate,
        params=(
            Param(
                "basis",
                default="offered",
                doc="denominator",
                choices=("offered", "queued", "arrived"),
            ),
        ),
        target=Target(0.95, 0.9),
    ),
    Metric(
        id="abandon_rate",
        label="Abandonment rate",
        perspective=CUS,
        kra="accessibility",
        unit="ratio",
        direction="lower",
        description="Share of contacts abandoned in queue.",
        builder=_abandon_rate,
        params=(
            Param(
                "denominator",
                default="offered",
                doc="denominator variant",
                choices=("offered", "queued", "answered_plus_abandoned"),
            ),
            SHORT_ABANDON,
        ),
        target=Target(0.05, 0.08),
    ),
    Metric(
        id="service_level",
        label="Service level",
        perspective=CUS,
        kra="speed",
        unit="ratio",
        direction="higher",
        description="Share of contacts answered within the threshold.",
        builder=_service_level,
        params=(
            THRESHOLD,
            Param(
                "denominator",
                default="answered_plus_abandoned",
                doc="denominator variant",
                choices=tuple(_SL_DEN_TEXT),
            ),
            SHORT_ABANDON,
        ),
        target=Target(0.8, 0.7),
    ),
    Metric(
        id="asa",
        label="Average speed of answer",
        perspective=CUS,
        kra="speed",
        unit="s",
        direction="lower",
        description="Mean queue wait of answered contacts.",
        builder=_asa,
        params=(
            Param(
                "timer_start",
                default="queue_entry",
                doc="when the wait timer starts",
                choices=("queue_entry", "arrival"),
            ),
        ),
        target=Target(30, 60),
    ),
    Metric(
        id="avg_wait",
        label="Average wait",
        perspective=CUS,
        kra="speed",
        unit="s",
        direction="lower",
        description="Mean queue wait.",
        builder=_avg_wait,
        params=(
            Param(
                "population", default="all", doc="whose waits count", choices=("all", "answered")
            ),
        ),
        target=Target(30, 60),
    ),
    Metric(
        id="longest_wait",
        label="Longest wait",
        perspective=CUS,
        kra="speed",
        unit="s",
        direction="lower",
        description="Longest queue wait in the period (historical maximum).",
        builder=_longest_wait,
        params=(
            Param(
                "population",
                default="all",
                doc="whose waits count",
                choices=("all", "answered", "abandoned"),
            ),
        ),
        target=Target(300, 600),
    ),
    Metric(
        id="max_in_queue",
        label="Most contacts waiting",
        perspective=OPS,
        kra="speed",
        unit="count",
        direction="lower",
        description="Peak number of contacts waiting at once.",
        builder=_max_in_queue,
    ),
    Metric(
        id="peak_hour_traffic",
        label="Peak-hour traffic",
        perspective=OPS,
        kra="volume",
        unit="erlang",
        direction="higher",
        description="Traffic of the busiest hour in Erlangs (and its calls).",
        builder=_peak_hour_traffic,
        params=(
            Param(
                "rank_by",
                default="calls",
                doc="what makes an hour the busiest",
                choices=("calls", "erlangs"),
            ),
        ),
    ),
    Metric(
        id="aht",
        label="Average handle time",
        perspective=OPS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean handle time per handled contact.",
        builder=_aht,
        params=(
            Param(
                "components",
                default="talk_hold_acw",
                doc="what handle time includes",
                choices=("talk_hold_acw", "talk_hold"),
            ),
        ),
        tl=True,
    ),
    Metric(
        id="avg_talk",
        label="Average talk time",
        perspective=OPS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean talk time.",
        builder=_avg_component("talk_s", "talk"),
        params=(
            Param(
                "denominator",
                default="handled",
                doc="per handled contact or per contact with talk",
                choices=("handled", "with_component"),
            ),
        ),
    ),
    Metric(
        id="avg_hold",
        label="Average hold time",
        perspective=OPS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean hold time.",
        builder=_avg_component("hold_s", "hold"),
        params=(
            Param(
                "denominator",
                default="handled",
                doc="per handled contact or per contact with hold",
                choices=("handled", "with_component"),
            ),
        ),
    ),
    Metric(
        id="avg_acw",
        label="Average after-call work",
        perspective=OPS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean wrap-up time.",
        builder=_avg_component("acw_s", "acw"),
        params=(
            Param(
                "denominator",
                default="handled",
                doc="per handled contact or per contact with after-call work",
                choices=("handled", "with_component"),
            ),
        ),
    ),
    Metric(
        id="transfer_rate",
        label="Transfer rate",
        perspective=OPS,
        kra="quality",
        unit="ratio",
        direction="lower",
        description="Share of handled contacts transferred.",
        builder=_transfer_rate,
        target=Target(0.1, 0.15),
    ),
    Metric(
        id="fcr",
        label="First contact resolution",
        perspective=CUS,
        kra="quality",
        unit="ratio",
        direction="higher",
        description="Share of issues resolved at the first contact.",
        builder=_fcr,
        params=(
            Param(
                "method",
                default="repeat_window",
                doc="how resolution is detected",
                choices=("repeat_window", "agent_resolved"),
            ),
            Param(
                "window_days", default=7, doc="repeat-contact window in days", type=int, minimum=1
            ),
            Param(
                "key",
                default="customer_topic",
                doc="what makes a later contact a repeat",
                choices=("customer_topic", "customer"),
            ),
        ),
        target=Target(0.75, 0.65),
    ),
    Metric(
        id="resolution_rate",
        label="Resolution rate",
        perspective=CUS,
        kra="quality",
        unit="ratio",
        direction="higher",
        description="Share of handled contacts resolved.",
        builder=_resolution_rate,
        target=Target(0.85, 0.75),
    ),
    Metric(
        id="avg_resolution_time",
        label="Resolution time",
        perspective=CUS,
        kra="speed",
        unit="h",
        direction="lower",
        description="Time from ticket creation to solution.",
        builder=_avg_resolution_time,
        params=(
            Param(
                "aggregator", default="median", doc="statistic", choices=("median", "mean", "p90")
            ),
            Param(
                "cohort",
                default="solved",
                doc="tickets placed by solved or created time",
                choices=("solved", "created"),
            ),
        ),
        target=Target(48, 120),
    ),
    Metric(
        id="first_response_time",
        label="First response time",
        perspective=CUS,
        kra="speed",
        unit="h",
        direction="lower",
        description="Time from ticket creation to first response.",
        builder=_first_response_time,
        params=(
            Param(
                "aggregator", default="median", doc="statistic", choices=("median", "mean", "p90")
            ),
        ),
        target=Target(8, 24),
    ),
    Metric(
        id="backlog",
        label="Backlog",
        perspective=OPS,
        kra="volume",
        unit="count",
        direction="lower",
        description="Open tickets at the end of the period.",
        builder=_backlog,
    ),
    Metric(
        id="occupancy",
        label="Occupancy",
        perspective=OPS,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Share of available time spent on contacts.",
        builder=_occupancy,
        params=(
            Param(
                "denominator",
                default="available_plus_handling",
                doc="denominator",
                choices=("available_plus_handling", "logged_in"),
            ),
        ),
        target=Target(0.75, 0.6),
    ),
    Metric(
        id="utilization",
        label="Utilisation",
        perspective=OPS,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Time on contacts against paid time.",
        builder=_utilization,
        params=(
            Param(
                "definition",
                default="handling_over_scheduled",
                doc="which utilisation",
                choices=(
                    "handling_over_scheduled",
                    "logged_in_over_scheduled",
                    "productive_over_scheduled",
                ),
            ),
        ),
    ),
    Metric(
        id="shrinkage",
        label="Shrinkage",
        perspective=OPS,
        kra="workforce",
        unit="ratio",
        direction="lower",
        description="Paid time not available for contacts.",
        builder=_shrinkage,
        params=(
            Param(
                "scope",
                default="all",
                doc="which shrinkage",
                choices=("all", "planned", "unplanned"),
            ),
        ),
        target=Target(0.3, 0.35),
    ),
    Metric(
        id="adherence",
        label="Schedule adherence",
        perspective=OPS,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Time in the scheduled activity at the scheduled time.",
        builder=_adherence,
        target=Target(0.9, 0.85),
        tl=True,
    ),
    Metric(
        id="attendance",
        label="Attendance",
        perspective=LNG,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Scheduled time actually worked.",
        builder=_attendance,
        target=Target(0.95, 0.9),
        tl=True,
    ),
    Metric(
        id="qa_score",
        label="Quality score",
        perspective=OPS,
        kra="quality",
        unit="points",
        direction="higher",
        description="Mean internal quality evaluation score (0-100).",
        builder=_qa_score,
        target=Target(85, 75),
        tl=True,
    ),
    Metric(
        id="coaching_per_agent",
        label="Coaching per agent",
        perspective=LNG,
        kra="development",
        unit="count",
        direction="higher",
        description="Coaching sessions per scheduled agent.",
        builder=_coaching_per_agent,
        tl=True,
    ),
    Metric(
        id="csat",
        label="Customer satisfaction",
        perspective=CUS,
        kra="satisfaction",
        unit="ratio",
        direction="higher",
        description="Customer satisfaction from post-contact surveys.",
        builder=_csat,
        params=(
            Param(
                "method",
                default="top2",
                doc="top-2-box share or mean score",
                choices=("top2", "mean"),
            ),
        ),
        target=Target(0.8, 0.7),
    ),
    Metric(
        id="nps",
        label="Net promoter score",
        perspective=CUS,
        kra="satisfaction",
        unit="points",
        direction="higher",
        description="Promoters minus detractors (−100 to 100).",
        builder=_nps,
        target=Target(30, 0),
    ),
    Metric(
        id="ces",
        label="Customer effort score",
        perspective=CUS,
        kra="satisfaction",
        unit="points",
        direction="higher",
        description="Ease of getting the issue handled.",
        builder=_ces,
        params=(
            Param(
                "method",
                default="mean",
                doc="mean score or agree share",
                choices=("mean", "agree_share"),
            ),
        ),
    ),
    Metric(
        id="customer_churn",
        label="Customer churn",
        perspective=CUS,
        kra="retention",
        unit="ratio",
        direction="lower",
        description="Customers lost in the period.",
        builder=_customer_churn,
    ),
    Metric(
        id="customer_retention",
        label="Customer retention",
        perspective=CUS,
        kra="retention",
        unit="ratio",
        direction="higher",
        description="Customers kept through the period.",
        builder=_customer_retention,
    ),
    Metric(
        id="contacts_per_customer",
        label="Contacts per customer",
        perspective=CUS,
        kra="activity",
        unit="count",
        direction="lower",
        description="Contacts per contacting customer.",
        builder=_contacts_per_customer,
    ),
    Metric(
        id="sales_per_agent",
        label="Sales per agent",
        perspective=FIN,
        kra="sales",
        unit="count",
        direction="higher",
        description="Sales per agent who handled contacts.",
        builder=_sales_per_agent,
        params=(
            Param(
                "basis",
                default="count",
                doc="count sales or sum revenue",
                choices=("count", "revenue"),
            ),
        ),
    ),
    Metric(
        id="conversion_rate",
        label="Conversion rate",
        perspective=FIN,
        kra="sales",
        unit="ratio",
        direction="higher",
        description="Share of handled contacts with a sale.",
        builder=_conversion_rate,
    ),
    Metric(
        id="revenue_per_successful_call",
        label="Revenue per successful call",
        perspective=FIN,
        kra="sales",
        unit="currency",
        direction="higher",
        description="Revenue per contact with a sale.",
        builder=_revenue_per_successful_call,
    ),
    Metric(
        id="cost_per_contact",
        label="Cost per contact",
        perspective=FIN,
        kra="cost",
        unit="currency",
        direction="lower",
        description="Centre cost per handled contact.",
        builder=_cost_per_contact,
    ),
    Metric(
        id="cost_per_order",
        label="Cost per order",
        perspective=FIN,
        kra="cost",
        unit="currency",
        direction="lower",
        description="Centre cost per order.",
        builder=_cost_per_order,
        params=(
            Param(
                "orders",
                default="company",
                doc="all company orders or orders taken by the centre",
                choices=("company", "centre"),
            ),
        ),
    ),
    Metric(
        id="subscriber_acquisition_cost",
        label="Subscriber acquisition cost",
        perspective=FIN,
        kra="cost",
        unit="currency",
        direction="lower",
        description="Acquisition spend per new subscriber.",
        builder=_sac,
    ),
    Metric(
        id="agent_attrition",
        label="Agent attrition",
        perspective=LNG,
        kra="retention",
        unit="ratio",
        direction="lower",
        description="Agents who left against headcount.",
        builder=_agent_attrition,
        params=(
            Param(
                "annualize",
                default="none",
                doc="report the period's rate, or annualise it",
                choices=("none", "simple", "compounded"),
            ),
            Param("headcount", default="average", doc="denominator", choices=("average", "start")),
        ),
        target=Target(0.03, 0.06),
        tl=True,
    ),
    Metric(
        id="agent_enps",
        label="Agent eNPS",
        perspective=LNG,
        kra="engagement",
        unit="points",
        direction="higher",
        description="Agent experience survey, promoters minus detractors.",
        builder=_agent_enps,
        target=Target(10, -10),
    ),
]

#: Every declared KPI by id, in catalogue order.
METRICS: dict[str, Metric] = {m.id: m for m in _DECLARED}


def resolve(
    metrics: str | Iterable[str | Metric], params: Mapping[str, Any] | None = None
) -> list[tuple[Metric, dict[str, Any]]]:
    """Look up KPI ids (``"all"`` for every KPI) and split ``<kpi>.<param>`` values among them.

    ``params`` may be flat (``{"service_level.threshold_s": 30}``) or nested
    (``{"service_level": {"threshold_s": 30}}``). Unknown ids and parameters raise a KpiError
    that lists the valid choices.

    Examples
    --------
    >>> [(m.id, p) for m, p in resolve("aht", {"aht.components": "talk_hold"})]
    [('aht', {'components': 'talk_hold'})]
    >>> resolve(["speed"])
    Traceback (most recent call last):
    ...
    kpi.errors.KpiError: unknown KPI 'speed'; valid KPIs: contacts_offered, contacts_answered, ...
    """
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    ids: list[str] = []
    for m in metrics:
        if isinstance(m, Metric):
            ids.append(m.id)
        elif m == "all":
            ids.extend(METRICS)
        else:
            ids.extend(x.strip() for x in str(m).split(",") if x.strip())
    flat: dict[str, dict[str, Any]] = {}
    for key, value in (params or {}).items():
        if isinstance(value, Mapping):
            for k, v in value.items():
                flat.setdefault(key, {})[k] = v
            continue
        kpi_id, _, name = key.partition(".")
        if not name:
            raise KpiError(
                f"parameter {key!r} must be written <kpi>.<param>, e.g. service_level.threshold_s"
            )
        flat.setdefault(kpi_id, {})[name] = value
    for kpi_id in flat:
        if kpi_id not in METRICS:
            raise KpiError(
                f"unknown KPI {kpi_id!r} in a parameter; valid KPIs: {', '.join(METRICS)}"
            )
    out = []
    for kpi_id in dict.fromkeys(ids):
        if kpi_id not in METRICS:
            raise KpiError(f"unknown KPI {kpi_id!r}; valid KPIs: {', '.join(METRICS)}")
        metric = METRICS[kpi_id]
        out.append((metric, metric.resolve_params(flat.get(kpi_id))))
    return out


def definitions(
    metrics: str | Iterable[str | Metric], params: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The formula text of each KPI under the given variants.

    Examples
    --------
    >>> definitions("aht")
    {'aht': 'AHT = (talk + hold + after-call work) / handled'}
    """
    return {m.id: m.build(p).formula for m, p in resolve(metrics, params)}


def catalogue(params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every KPI declaration as plain data (see :meth:`Metric.to_dict`).

    Examples
    --------
    >>> entry = catalogue()[0]
    >>> entry["id"], entry["perspective"], entry["unit"]
    ('contacts_offered', 'internal operations', 'count')
    """
    return [m.to_dict(p) for m, p in resolve("all", params)]
