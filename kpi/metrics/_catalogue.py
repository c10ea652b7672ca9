"""The KPI catalogue: every KPI declared once, with its definition variants and target.

Each :class:`Metric` states its id, label, balanced-scorecard perspective, key result area (KRA),
unit, direction, the tables it reads, the additive measures it is built from and its variant
parameters (``<kpi>.<param>``, documented defaults). ``Metric.build(params)`` turns a choice of
variants into a :class:`Build`: numerator and denominator :class:`~kpi.measures.Measure` objects,
the value expression and the formula text that every output prints ("which definition produced
this number"). Sources for each formula and variant: ``../shared/kpi_dictionary.md`` (Part B).

Examples
--------
>>> m = METRICS["service_level"]
>>> m.build({"threshold_s": 30}).formula
'SL = answered ≤ 30 s / (answered + abandoned)'
>>> definitions(["abandon_rate"], {"abandon_rate.denominator": "offered"})
{'abandon_rate': 'abandon rate = abandoned in queue / offered'}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kpi import _builders as B
from kpi.errors import KpiError
from kpi.measures import Measure

__all__ = [
    "METRICS",
    "PERSPECTIVES",
    "Build",
    "Metric",
    "Param",
    "Target",
    "catalogue",
    "definitions",
    "resolve",
]

PERSPECTIVES = ("customer", "financial", "internal operations", "learning and growth")


@dataclass(frozen=True)
class Param:
    """A definition variant of a KPI, set as ``<kpi>.<name>=value``."""

    name: str
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    type: type = str
    minimum: float | None = None

    def coerce(self, value: Any, *, metric: str) -> Any:
        """Parse (from CLI text) and check a value, or raise a KpiError listing the valid ones."""
        key = f"{metric}.{self.name}"
        if isinstance(value, str) and self.type is not str:
            text = value.strip().lower()
            try:
                value = (
                    text in ("1", "true", "yes", "on")
                    if self.type is bool
                    else self.type(float(text) if self.type is int else text)
                )
            except ValueError:
                raise KpiError(
                    f"bad value {value!r} for {key}: expected {self.type.__name__}"
                ) from None
        if self.type is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if self.choices is not None and value not in self.choices:
            raise KpiError(
                f"bad value {value!r} for {key}; valid values: "
                + ", ".join(str(c) for c in self.choices)
            )
        if self.minimum is not None and (
            not isinstance(value, (int, float)) or value < self.minimum
        ):
            raise KpiError(f"bad value {value!r} for {key}: must be a number >= {self.minimum}")
        return value


@dataclass(frozen=True)
class Target:
    """Default target: ``green`` when the value meets ``target``, ``red`` when it is worse than
    ``red``, ``amber`` in between (direction-aware)."""

    target: float
    red: float


@dataclass(frozen=True)
class Build:
    """A KPI under one choice of variants: its measures, value and formula text.

    ``value`` defaults to ``scale * numerator / denominator`` (null when the denominator is 0),
    or ``scale * numerator`` when there is no denominator.
    """

    formula: str
    numerator: Measure
    denominator: Measure | None = None
    scale: float = 1.0
    value: pl.Expr | None = None
    extra: tuple[Measure, ...] = ()

    @property
    def measures(self) -> tuple[Measure, ...]:
        """All measures this build needs."""
        return tuple(m for m in (self.numerator, self.denominator, *self.extra) if m is not None)

    def value_expr(self) -> pl.Expr:
        """The KPI value from the measure columns."""
        if self.value is not None:
            return self.value
        num = pl.col(self.numerator.name).cast(pl.Float64)
        if self.denominator is None:
            return num * self.scale if self.scale != 1 else num
        den = pl.col(self.denominator.name).cast(pl.Float64)
        return pl.when(den > 0).then(num * self.scale / den).otherwise(None)


@dataclass(frozen=True)
class Metric:
    """A KPI declared once. See the module docstring."""

    id: str
    label: str
    perspective: str
    kra: str
    unit: str
    direction: str  # "higher" or "lower" is better
    description: str
    builder: Callable[[Mapping[str, Any]], Build]
    params: tuple[Param, ...] = ()
    target: Target | None = None
    tl: bool = False  # a team-leader KPI
    tables: tuple[str, ...] = field(default=())

    def resolve_params(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``given`` (short names), each checked."""
        given = dict(given or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(f"{self.id}.{p}" for p in known) or "none"
            raise KpiError(
                f"unknown parameter {self.id}.{unknown[0]}; valid parameters of {self.id}: {valid}"
            )
        return {
            name: (p.coerce(given[name], metric=self.id) if name in given else p.default)
            for name, p in known.items()
        }

    def build(self, params: Mapping[str, Any] | None = None) -> Build:
        """The measures, value and formula for ``params`` (short names)."""
        return self.builder(self.resolve_params(params))

    def status(self, value: float | None, target: Target | None = None) -> str | None:
        """``green``, ``amber`` or ``red`` against ``target`` (default: the declared one).

        Examples
        --------
        >>> METRICS["abandon_rate"].status(0.07)
        'amber'
        """
        t = target or self.target
        if value is None or t is None:
            return None
        sign = 1 if self.direction == "higher" else -1
        if sign * (value - t.target) >= 0:
            return "green"
        if sign * (value - t.red) < 0:
            return "red"
        return "amber"

    def to_dict(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The declaration as plain data (for ``kpi metrics --format json``)."""
        b = self.build(params)
        return {
            "id": self.id,
            "label": self.label,
            "perspective": self.perspective,
            "kra": self.kra,
            "unit": self.unit,
            "direction": self.direction,
            "team_leader": self.tl,
            "formula": b.formula,
            "description": self.description,
            "tables": sorted({t for m in b.measures for t in m.source_tables}),
            "numerator": b.numerator.name,
            "denominator": b.denominator.name if b.denominator else None,
            "measures": {
                m.name: {"kind": m.kind, "description": m.description} for m in b.measures
            },
            "params": [
                {
                    "name": f"{self.id}.{p.name}",
                    "default": p.default,
                    "choices": list(p.choices) if p.choices else None,
                    "doc": p.doc,
                }
                for p in self.params
            ],
            "target": None
            if self.target is None
            else {"target": self.target.target, "red": self.target.red},
        }


# --------------------------------------------------------------------------------------------
# Variant parameters shared by several KPIs
# --------------------------------------------------------------------------------------------

_T = Param("threshold_s", 20, "service-level answer threshold T, seconds", type=int, minimum=0)
_S = Param(
    "short_abandon_s",
    0,
    "abandons waiting less than S seconds are short abandons and left out (0: keep all)",
    type=int,
    minimum=0,
)


def _short(p: Mapping[str, Any]) -> str:
    return f" − short abandons < {p['short_abandon_s']} s" if p.get("short_abandon_s") else ""


def _count(id_: str, label: str, measure: Callable[[Mapping[str, Any]], Measure], formula: str):
    def build(p: Mapping[str, Any]) -> Build:
        return Build(formula.format(**p), measure(p))

    return build


# --------------------------------------------------------------------------------------------
# Builders, one per KPI (the formula text states the variant in force)
# --------------------------------------------------------------------------------------------


def _contacts_offered(p: Mapping[str, Any]) -> Build:
    return Build(
        f"offered = answered + abandoned in queue + flow-outs{_short(p)}",
        B.offered(p["short_abandon_s"]),
    )


def _contacts_abandoned(p: Mapping[str, Any]) -> Build:
    return Build(
        f"abandoned = abandoned in queue{_short(p)}"
        + (" + abandoned in IVR" if p["stages"] == "queue_and_ivr" else ""),
        B.abandoned(p["short_abandon_s"], include_ivr=p["stages"] == "queue_and_ivr"),
    )


def _contacts_handled(p: Mapping[str, Any]) -> Build:
    if p["direction"] == "inbound":
        return Build("handled = inbound contacts answered by an agent", B.answered())
    return Build("handled = inbound answered + outbound handled", B.handled())


def _tickets_handled(p: Mapping[str, Any]) -> Build:
    if p["basis"] == "closed":
        return Build("tickets handled = tickets closed in the period", B.tickets_closed())
    return Build("tickets handled = tickets solved in the period", B.tickets_solved())


def _handled_per_agent(p: Mapping[str, Any]) -> Build:
    if p["basis"] == "logged_in_hour":
        return Build(
            "handled per logged-in hour = handled / (logged-in s / 3600)",
            B.handled(),
            B.agent_time_sum("logged_in_s"),
            scale=3600.0,
        )
    return Build(
        "handled per agent = handled / distinct agents who handled contacts",
        B.handled(),
        B.agents_handling(),
    )


def _answer_rate(p: Mapping[str, Any]) -> Build:
    den = {"offered": B.offered(0), "queued": B.queued(), "arrived": B.arrived()}[p["basis"]]
    return Build(f"answer rate = answered / {p['basis']}", B.answered(), den)


def _abandon_rate(p: Mapping[str, Any]) -> Build:
    s = p["short_abandon_s"]
    den = {
        "offered": B.offered(s),
        "queued": B.queued(s),
        "answered_plus_abandoned": B.answered_plus_abandoned(s),
    }[p["denominator"]]
    den_text = {
        "offered": "offered",
        "queued": "queued (offered + re-queued transfers)",
        "answered_plus_abandoned": "(answered + abandoned)",
    }[p["denominator"]]
    return Build(
        f"abandon rate = abandoned in queue{_short(p)} / {den_text}{_short(p) if s else ''}",
        B.abandoned(s),
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
        B.answered_or_abandoned_within(t)
        if d == "abandons_within_threshold_met"
        else B.answered_within(t)
    )
    num_text = (
        f"(answered ≤ {t} s + abandoned ≤ {t} s)"
        if d == "abandons_within_threshold_met"
        else f"answered ≤ {t} s"
    )
    den_text = _SL_DEN_TEXT[d].format(t=t)
    if s and d != "answered":
        den_text = f"({den_text} − short abandons < {s} s)"
    return Build(f"SL = {num_text} / {den_text}", num, B.sl_denominator(d, t, s))


def _asa(p: Mapping[str, Any]) -> Build:
    if p["timer_start"] == "arrival":
        return Build(
            "ASA = Σ (IVR + queue wait) of answered / answered",
            B.wait_answered(ivr=True),
            B.answered(),
        )
    return Build("ASA = Σ queue wait of answered / answered", B.wait_answered(), B.answered())


def _avg_wait(p: Mapping[str, Any]) -> Build:
    if p["population"] == "answered":
        return Build(
            "average wait = Σ wait of answered / answered", B.wait_answered(), B.answered()
        )
    return Build(
        "average wait = Σ wait of all queued (answered, abandoned, flow-out) / queued",
        B.wait_queued(),
        B.offered(0),
    )


def _longest_wait(p: Mapping[str, Any]) -> Build:
    return Build(
        f"longest wait = max queue wait of {p['population']} contacts", B.max_wait(p["population"])
    )


def _max_in_queue(p: Mapping[str, Any]) -> Build:
    return Build(
        "max in queue = most contacts waiting at once (sweep over queue entries and exits)",
        B.max_in_queue(),
    )


def _peak_hour_traffic(p: Mapping[str, Any]) -> Build:
    m = B.peak_hour(p["rank_by"])
    return Build(
        f"peak-hour traffic = Erlangs (handle s / 3600) of the busiest clock hour by {p['rank_by']}",
        m,
        extra=(B.peak_hour_calls(p["rank_by"]),),
    )


def _aht(p: Mapping[str, Any]) -> Build:
    if p["components"] == "talk_hold":
        return Build(
            "AHT = (talk + hold) / handled (no after-call work)",
            B.handle_time(acw=False),
            B.handled(),
        )
    return Build("AHT = (talk + hold + after-call work) / handled", B.handle_time(), B.handled())


def _avg_component(col: str, name: str) -> Callable[[Mapping[str, Any]], Build]:
    def build(p: Mapping[str, Any]) -> Build:
        if p["denominator"] == "with_component":
            return Build(
                f"average {name} = Σ {name} / handled contacts with {name} > 0",
                B.contact_sum(col),
                B.handled_with(col),
            )
        return Build(f"average {name} = Σ {name} / handled", B.contact_sum(col), B.handled())

    return build


def _transfer_rate(p: Mapping[str, Any]) -> Build:
    return Build("transfer rate = transferred / handled", B.transferred(), B.handled())


def _fcr(p: Mapping[str, Any]) -> Build:
    if p["method"] == "agent_resolved":
        return Build(
            "FCR = handled contacts marked resolved and not transferred / handled",
            B.agent_resolved_first(),
            B.handled(),
        )
    key = "customer and topic" if p["key"] == "customer_topic" else "customer"
    return Build(
        f"FCR = handled inbound contacts with no repeat contact (same {key}) within "
        f"{p['window_days']} days / handled inbound contacts of identified customers",
        B.fcr_resolved(p["window_days"], p["key"]),
        B.fcr_base(),
    )


def _resolution_rate(p: Mapping[str, Any]) -> Build:
    return Build(
        "resolution rate = handled contacts marked resolved / handled", B.resolved(), B.handled()
    )


def _avg_resolution_time(p: Mapping[str, Any]) -> Build:
    return Build(
        f"resolution time = {p['aggregator']} of (solved − created) in hours, tickets by {p['cohort']} time",
        B.resolution_hours(p["aggregator"], p["cohort"]),
    )


def _first_response_time(p: Mapping[str, Any]) -> Build:
    return Build(
        f"first response time = {p['aggregator']} of (first response − created) in hours, by created time",
        B.first_response_hours(p["aggregator"]),
    )


def _backlog(p: Mapping[str, Any]) -> Build:
    return Build(
        "backlog = tickets created and not yet solved at the end of the period", B.backlog()
    )


def _occupancy(p: Mapping[str, Any]) -> Build:
    if p["denominator"] == "logged_in":
        return Build(
            "occupancy = (handle + after-call work) / logged-in time",
            B.agent_busy(),
            B.agent_time_sum("logged_in_s"),
        )
    return Build(
        "occupancy = (handle + after-call work) / (handle + after-call work + available)",
        B.agent_busy(),
        B.agent_busy(available=True),
    )


def _utilization(p: Mapping[str, Any]) -> Build:
    d = p["definition"]
    if d == "logged_in_over_scheduled":
        return Build(
            "utilisation = logged-in time / scheduled (paid) time",
            B.agent_time_sum("logged_in_s"),
            B.agent_time_sum("scheduled_s"),
        )
    if d == "productive_over_scheduled":
        return Build(
            "utilisation = (handle + after-call work + available) / scheduled (paid) time",
            B.agent_busy(available=True),
            B.agent_time_sum("scheduled_s"),
        )
    return Build(
        "utilisation = time on contacts (handle + after-call work) / scheduled (paid) time",
        B.agent_busy(),
        B.agent_time_sum("scheduled_s"),
    )


def _shrinkage(p: Mapping[str, Any]) -> Build:
    parts = {
        "all": ("break_s", "training_s", "meeting_s", "absence_s"),
        "planned": ("break_s", "training_s", "meeting_s"),
        "unplanned": ("absence_s",),
    }[p["scope"]]
    return Build(
        "shrinkage = (" + " + ".join(c[:-2] for c in parts) + ") / scheduled (paid) time",
        B.agent_time_sum(*parts),
        B.agent_time_sum("scheduled_s"),
    )


def _adherence(p: Mapping[str, Any]) -> Build:
    return Build(
        "adherence = time in the scheduled activity at the scheduled time / scheduled time",
        B.agent_time_sum("adherent_s"),
        B.agent_time_sum("scheduled_s"),
    )


def _attendance(p: Mapping[str, Any]) -> Build:
    return Build(
        "attendance = (scheduled − unplanned absence) / scheduled time",
        B.attended(),
        B.agent_time_sum("scheduled_s"),
    )


def _qa_score(p: Mapping[str, Any]) -> Build:
    return Build("QA score = Σ evaluation scores / evaluations", B.qa_sum(), B.qa_count())


def _coaching_per_agent(p: Mapping[str, Any]) -> Build:
    return Build(
        "coaching per agent = coaching sessions / distinct scheduled agents",
        B.coaching_sessions(),
        B.agents_scheduled(),
    )


def _csat(p: Mapping[str, Any]) -> Build:
    if p["method"] == "mean":
        return Build("CSAT = mean score (1-5)", B.survey_sum("csat"), B.survey_count("csat"))
    return Build(
        "CSAT = responses rated 4 or 5 / responses (top-2-box)",
        B.survey_at_least("csat", 4),
        B.survey_count("csat"),
    )


def _nps(p: Mapping[str, Any]) -> Build:
    return Build(
        "NPS = 100 × (promoters 9-10 − detractors 0-6) / responses",
        B.net_promoters("surveys", "nps"),
        B.survey_count("nps"),
        scale=100.0,
    )


def _ces(p: Mapping[str, Any]) -> Build:
    if p["method"] == "agree_share":
        return Build(
            "CES = responses agreeing (5-7) / responses",
            B.survey_at_least("ces", 5),
            B.survey_count("ces"),
        )
    return Build("CES = mean score (1-7, 7 easiest)", B.survey_sum("ces"), B.survey_count("ces"))


def _customer_churn(p: Mapping[str, Any]) -> Build:
    return Build(
        "churn = customers lost in the period / customers at its start",
        B.customers_lost(),
        B.customers_start(),
    )


def _customer_retention(p: Mapping[str, Any]) -> Build:
    lost, start = B.customers_lost(), B.customers_start()
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
        B.identified_contacts(),
        B.customers_contacting(),
    )


def _sales_per_agent(p: Mapping[str, Any]) -> Build:
    if p["basis"] == "revenue":
        return Build(
            "sales per agent = revenue / distinct agents who handled contacts",
            B.revenue(),
            B.agents_handling(),
        )
    return Build(
        "sales per agent = sales / distinct agents who handled contacts",
        B.converted(),
        B.agents_handling(),
    )


def _conversion_rate(p: Mapping[str, Any]) -> Build:
    return Build(
        "conversion rate = contacts with a sale / handled (gross)", B.converted(), B.handled()
    )


def _revenue_per_successful_call(p: Mapping[str, Any]) -> Build:
    return Build(
        "revenue per successful call = revenue / contacts with a sale", B.revenue(), B.converted()
    )


def _cost_per_contact(p: Mapping[str, Any]) -> Build:
    return Build(
        "cost per contact = centre cost / contacts handled", B.finance("centre_cost"), B.handled()
    )


def _cost_per_order(p: Mapping[str, Any]) -> Build:
    if p["orders"] == "centre":
        return Build(
            "cost per order = centre cost / orders taken by the centre (contacts with a sale)",
            B.finance("centre_cost"),
            B.converted(),
        )
    return Build(
        "cost per order = centre cost / all company orders",
        B.finance("centre_cost"),
        B.finance("company_orders"),
    )


def _sac(p: Mapping[str, Any]) -> Build:
    return Build(
        "SAC = acquisition spend / new subscribers",
        B.finance("acquisition_spend"),
        B.finance("new_subscribers"),
    )


def _agent_attrition(p: Mapping[str, Any]) -> Build:
    sep, hc, months = B.separations(), B.headcount(p["headcount"]), B.bin_months()
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
        B.net_promoters("agent_surveys", "score"),
        B.agent_survey_count(),
        scale=100.0,
    )


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------

CUS, FIN, OPS, LNG = PERSPECTIVES


def _m(
    id_: str,
    label: str,
    perspective: str,
    kra: str,
    unit: str,
    direction: str,
    description: str,
    builder: Callable,
    *params: Param,
    target: Target | None = None,
    tl: bool = False,
) -> Metric:
    return Metric(
        id_, label, perspective, kra, unit, direction, description, builder, params, target, tl
    )


_METRICS = [
    _m(
        "contacts_offered",
        "Contacts offered",
        OPS,
        "volume",
        "count",
        "higher",
        "Contacts routed to a queue for an agent.",
        _contacts_offered,
        _S,
    ),
    _m(
        "contacts_answered",
        "Contacts answered",
        OPS,
        "volume",
        "count",
        "higher",
        "Inbound contacts an agent answered.",
        _count(
            "contacts_answered",
            "",
            lambda p: B.answered(),
            "answered = inbound contacts answered by an agent",
        ),
    ),
    _m(
        "contacts_abandoned",
        "Contacts abandoned",
        OPS,
        "volume",
        "count",
        "lower",
        "Customers who hung up before an agent answered.",
        _contacts_abandoned,
        _S,
        Param(
            "stages",
            "queue",
            "where an abandon counts: in queue only, or in the IVR too",
            ("queue", "queue_and_ivr"),
        ),
    ),
    _m(
        "contacts_handled",
        "Contacts handled",
        OPS,
        "volume",
        "count",
        "higher",
        "Contacts an agent worked.",
        _contacts_handled,
        Param(
            "direction",
            "all",
            "count outbound contacts too (all) or inbound only",
            ("all", "inbound"),
        ),
    ),
    _m(
        "tickets_handled",
        "Tickets handled",
        OPS,
        "volume",
        "count",
        "higher",
        "Tickets solved (or closed) in the period.",
        _tickets_handled,
        Param("basis", "solved", "which event counts a ticket as handled", ("solved", "closed")),
    ),
    _m(
        "handled_per_agent",
        "Handled per agent",
        OPS,
        "productivity",
        "count",
        "higher",
        "Contacts handled per agent (or per logged-in hour).",
        _handled_per_agent,
        Param(
            "basis",
            "agent",
            "per distinct agent in the period, or per logged-in hour",
            ("agent", "logged_in_hour"),
        ),
    ),
    _m(
        "answer_rate",
        "Answer rate",
        CUS,
        "accessibility",
        "ratio",
        "higher",
        "Share of contacts a person answered.",
        _answer_rate,
        Param("basis", "offered", "denominator", ("offered", "queued", "arrived")),
        target=Target(0.95, 0.9),
    ),
    _m(
        "abandon_rate",
        "Abandonment rate",
        CUS,
        "accessibility",
        "ratio",
        "lower",
        "Share of contacts abandoned in queue.",
        _abandon_rate,
        Param(
            "denominator",
            "offered",
            "denominator variant",
            ("offered", "queued", "answered_plus_abandoned"),
        ),
        _S,
        target=Target(0.05, 0.08),
    ),
    _m(
        "service_level",
        "Service level",
        CUS,
        "speed",
        "ratio",
        "higher",
        "Share of contacts answered within the threshold.",
        _service_level,
        _T,
        Param(
            "denominator", "answered_plus_abandoned", "denominator variant", tuple(_SL_DEN_TEXT)
        ),
        _S,
        target=Target(0.8, 0.7),
    ),
    _m(
        "asa",
        "Average speed of answer",
        CUS,
        "speed",
        "s",
        "lower",
        "Mean queue wait of answered contacts.",
        _asa,
        Param(
            "timer_start", "queue_entry", "when the wait timer starts", ("queue_entry", "arrival")
        ),
        target=Target(30, 60),
    ),
    _m(
        "avg_wait",
        "Average wait",
        CUS,
        "speed",
        "s",
        "lower",
        "Mean queue wait.",
        _avg_wait,
        Param("population", "all", "whose waits count", ("all", "answered")),
        target=Target(30, 60),
    ),
    _m(
        "longest_wait",
        "Longest wait",
        CUS,
        "speed",
        "s",
        "lower",
        "Longest queue wait in the period (historical maximum).",
        _longest_wait,
        Param("population", "all", "whose waits count", ("all", "answered", "abandoned")),
        target=Target(300, 600),
    ),
    _m(
        "max_in_queue",
        "Most contacts waiting",
        OPS,
        "speed",
        "count",
        "lower",
        "Peak number of contacts waiting at once.",
        _max_in_queue,
    ),
    _m(
        "peak_hour_traffic",
        "Peak-hour traffic",
        OPS,
        "volume",
        "erlang",
        "higher",
        "Traffic of the busiest hour in Erlangs (and its calls).",
        _peak_hour_traffic,
        Param("rank_by", "calls", "what makes an hour the busiest", ("calls", "erlangs")),
    ),
    _m(
        "aht",
        "Average handle time",
        OPS,
        "efficiency",
        "s",
        "lower",
        "Mean handle time per handled contact.",
        _aht,
        Param(
            "components",
            "talk_hold_acw",
            "what handle time includes",
            ("talk_hold_acw", "talk_hold"),
        ),
        tl=True,
    ),
    _m(
        "avg_talk",
        "Average talk time",
        OPS,
        "efficiency",
        "s",
        "lower",
        "Mean talk time.",
        _avg_component("talk_s", "talk"),
        Param(
            "denominator",
            "handled",
            "per handled contact or per contact with talk",
            ("handled", "with_component"),
        ),
    ),
    _m(
        "avg_hold",
        "Average hold time",
        OPS,
        "efficiency",
        "s",
        "lower",
        "Mean hold time.",
        _avg_component("hold_s", "hold"),
        Param(
            "denominator",
            "handled",
            "per handled contact or per contact with hold",
            ("handled", "with_component"),
        ),
    ),
    _m(
        "avg_acw",
        "Average after-call work",
        OPS,
        "efficiency",
        "s",
        "lower",
        "Mean wrap-up time.",
        _avg_component("acw_s", "acw"),
        Param(
            "denominator",
            "handled",
            "per handled contact or per contact with after-call work",
            ("handled", "with_component"),
        ),
    ),
    _m(
        "transfer_rate",
        "Transfer rate",
        OPS,
        "quality",
        "ratio",
        "lower",
        "Share of handled contacts transferred.",
        _transfer_rate,
        target=Target(0.1, 0.15),
    ),
    _m(
        "fcr",
        "First contact resolution",
        CUS,
        "quality",
        "ratio",
        "higher",
        "Share of issues resolved at the first contact.",
        _fcr,
        Param(
            "method",
            "repeat_window",
            "how resolution is detected",
            ("repeat_window", "agent_resolved"),
        ),
        Param("window_days", 7, "repeat-contact window in days", type=int, minimum=1),
        Param(
            "key",
            "customer_topic",
            "what makes a later contact a repeat",
            ("customer_topic", "customer"),
        ),
        target=Target(0.75, 0.65),
    ),
    _m(
        "resolution_rate",
        "Resolution rate",
        CUS,
        "quality",
        "ratio",
        "higher",
        "Share of handled contacts resolved.",
        _resolution_rate,
        target=Target(0.85, 0.75),
    ),
    _m(
        "avg_resolution_time",
        "Resolution time",
        CUS,
        "speed",
        "h",
        "lower",
        "Time from ticket creation to solution.",
        _avg_resolution_time,
        Param("aggregator", "median", "statistic", ("median", "mean", "p90")),
        Param(
            "cohort", "solved", "tickets placed by solved or created time", ("solved", "created")
        ),
        target=Target(48, 120),
    ),
    _m(
        "first_response_time",
        "First response time",
        CUS,
        "speed",
        "h",
        "lower",
        "Time from ticket creation to first response.",
        _first_response_time,
        Param("aggregator", "median", "statistic", ("median", "mean", "p90")),
        target=Target(8, 24),
    ),
    _m(
        "backlog",
        "Backlog",
        OPS,
        "volume",
        "count",
        "lower",
        "Open tickets at the end of the period.",
        _backlog,
    ),
    _m(
        "occupancy",
        "Occupancy",
        OPS,
        "workforce",
        "ratio",
        "higher",
        "Share of available time spent on contacts.",
        _occupancy,
        Param(
            "denominator",
            "available_plus_handling",
            "denominator",
            ("available_plus_handling", "logged_in"),
        ),
        target=Target(0.75, 0.6),
    ),
    _m(
        "utilization",
        "Utilisation",
        OPS,
        "workforce",
        "ratio",
        "higher",
        "Time on contacts against paid time.",
        _utilization,
        Param(
            "definition",
            "handling_over_scheduled",
            "which utilisation",
            ("handling_over_scheduled", "logged_in_over_scheduled", "productive_over_scheduled"),
        ),
    ),
    _m(
        "shrinkage",
        "Shrinkage",
        OPS,
        "workforce",
        "ratio",
        "lower",
        "Paid time not available for contacts.",
        _shrinkage,
        Param("scope", "all", "which shrinkage", ("all", "planned", "unplanned")),
        target=Target(0.3, 0.35),
    ),
    _m(
        "adherence",
        "Schedule adherence",
        OPS,
        "workforce",
        "ratio",
        "higher",
        "Time in the scheduled activity at the scheduled time.",
        _adherence,
        target=Target(0.9, 0.85),
        tl=True,
    ),
    _m(
        "attendance",
        "Attendance",
        LNG,
        "workforce",
        "ratio",
        "higher",
        "Scheduled time actually worked.",
        _attendance,
        target=Target(0.95, 0.9),
        tl=True,
    ),
    _m(
        "qa_score",
        "Quality score",
        OPS,
        "quality",
        "points",
        "higher",
        "Mean internal quality evaluation score (0-100).",
        _qa_score,
        target=Target(85, 75),
        tl=True,
    ),
    _m(
        "coaching_per_agent",
        "Coaching per agent",
        LNG,
        "development",
        "count",
        "higher",
        "Coaching sessions per scheduled agent.",
        _coaching_per_agent,
        tl=True,
    ),
    _m(
        "csat",
        "Customer satisfaction",
        CUS,
        "satisfaction",
        "ratio",
        "higher",
        "Customer satisfaction from post-contact surveys.",
        _csat,
        Param("method", "top2", "top-2-box share or mean score", ("top2", "mean")),
        target=Target(0.8, 0.7),
    ),
    _m(
        "nps",
        "Net promoter score",
        CUS,
        "satisfaction",
        "points",
        "higher",
        "Promoters minus detractors (−100 to 100).",
        _nps,
        target=Target(30, 0),
    ),
    _m(
        "ces",
        "Customer effort score",
        CUS,
        "satisfaction",
        "points",
        "higher",
        "Ease of getting the issue handled.",
        _ces,
        Param("method", "mean", "mean score or agree share", ("mean", "agree_share")),
    ),
    _m(
        "customer_churn",
        "Customer churn",
        CUS,
        "retention",
        "ratio",
        "lower",
        "Customers lost in the period.",
        _customer_churn,
    ),
    _m(
        "customer_retention",
        "Customer retention",
        CUS,
        "retention",
        "ratio",
        "higher",
        "Customers kept through the period.",
        _customer_retention,
    ),
    _m(
        "contacts_per_customer",
        "Contacts per customer",
        CUS,
        "activity",
        "count",
        "lower",
        "Contacts per contacting customer.",
        _contacts_per_customer,
    ),
    _m(
        "sales_per_agent",
        "Sales per agent",
        FIN,
        "sales",
        "count",
        "higher",
        "Sales per agent who handled contacts.",
        _sales_per_agent,
        Param("basis", "count", "count sales or sum revenue", ("count", "revenue")),
    ),
    _m(
        "conversion_rate",
        "Conversion rate",
        FIN,
        "sales",
        "ratio",
        "higher",
        "Share of handled contacts with a sale.",
        _conversion_rate,
    ),
    _m(
        "revenue_per_successful_call",
        "Revenue per successful call",
        FIN,
        "sales",
        "currency",
        "higher",
        "Revenue per contact with a sale.",
        _revenue_per_successful_call,
    ),
    _m(
        "cost_per_contact",
        "Cost per contact",
        FIN,
        "cost",
        "currency",
        "lower",
        "Centre cost per handled contact.",
        _cost_per_contact,
    ),
    _m(
        "cost_per_order",
        "Cost per order",
        FIN,
        "cost",
        "currency",
        "lower",
        "Centre cost per order.",
        _cost_per_order,
        Param(
            "orders",
            "company",
            "all company orders or orders taken by the centre",
            ("company", "centre"),
        ),
    ),
    _m(
        "subscriber_acquisition_cost",
        "Subscriber acquisition cost",
        FIN,
        "cost",
        "currency",
        "lower",
        "Acquisition spend per new subscriber.",
        _sac,
    ),
    _m(
        "agent_attrition",
        "Agent attrition",
        LNG,
        "retention",
        "ratio",
        "lower",
        "Agents who left against headcount.",
        _agent_attrition,
        Param(
            "annualize",
            "none",
            "report the period's rate, or annualise it",
            ("none", "simple", "compounded"),
        ),
        Param("headcount", "average", "denominator", ("average", "start")),
        target=Target(0.03, 0.06),
        tl=True,
    ),
    _m(
        "agent_enps",
        "Agent eNPS",
        LNG,
        "engagement",
        "points",
        "higher",
        "Agent experience survey, promoters minus detractors.",
        _agent_enps,
        target=Target(10, -10),
    ),
]

#: Every declared KPI by id, in catalogue order.
METRICS: dict[str, Metric] = {m.id: m for m in _METRICS}


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


def _source_tables(metric: Metric) -> tuple[str, ...]:
    return tuple(sorted({t for m in metric.build().measures for t in m.source_tables}))


for _metric in _METRICS:  # the tables each KPI reads, from its default build
    object.__setattr__(_metric, "tables", _source_tables(_metric))
