"""The KPI catalogue: every KPI declared once, by keyword, with its variants and target.

Read it as data, like a dbt MetricFlow metrics file: one :class:`~kpi.metrics.Metric` per KPI
(id, label, perspective, KRA, unit, direction, description, build, variant parameters,
target), grouped by key result area. How a KPI's variants choose its measures and formula text
is its build function, in :mod:`kpi.metrics._builds`. Sources for each formula and variant:
``../shared/kpi_dictionary.md`` (Part B). A new KPI goes here: a build function, then a
declaration.

Examples
--------
>>> METRICS["aht"].build({"components": "talk_hold"}).formula
'AHT = (talk + hold) / handled (no after-call work)'
>>> METRICS["service_level"].tables
('contacts', 'intervals')
"""

from __future__ import annotations

from kpi.metrics import _builds as B
from kpi.metrics._metric import PERSPECTIVES, Metric, Param, Target

__all__ = ["AGGREGATOR", "METRICS", "OBJECTIVES", "QUEUES", "SHORT_ABANDON", "THRESHOLD"]

# --------------------------------------------------------------------------------------------
# Variant parameters shared by several KPIs
# --------------------------------------------------------------------------------------------

THRESHOLD = Param(
    "threshold_s",
    default="objective",
    doc="service-level answer threshold: 'objective' (default): each queue's own objective "
    "(voice 20 s, chat 60 s; the targets file's [objectives]), deferred queues (e-mail, "
    "tickets: response_within_objective) left out; or T seconds for every contact",
    type=int,
    minimum=0,
    maximum=86_400,  # a day
    keywords=("objective",),
)
OBJECTIVES = Param(
    "objectives",
    default="",
    doc="thresholds per channel or queue that differ from the defaults (voice 20 s, chat 60 s, "
    "email 4 h, tickets 8 h), e.g. 'chat=30s; email=24h; queue:VIP=10s'; a targets file's "
    "[objectives] sets it (kpi.targets.TargetSet.with_objectives)",
)
SHORT_ABANDON = Param(
    "short_abandon_s",
    default=0,
    doc="abandons waiting less than S seconds are short abandons and left out (0: keep all)",
    type=int,
    minimum=0,
    maximum=86_400,  # a day
)
QUEUES = Param(
    "queues",
    default="realtime",
    doc="whose waits count: 'realtime' (default): queues answered within seconds (voice, "
    "chat); deferred work (e-mail, tickets: a response in hours, response_within_objective) "
    "left out, as the objectives variant sets; 'all': every queue",
    choices=("realtime", "all"),
)
AGGREGATOR = Param(
    "aggregator", default="median", doc="statistic", choices=("median", "mean", "p90")
)


# --------------------------------------------------------------------------------------------
# The catalogue, in the order `kpi metrics` lists and `compute("all")` returns
# --------------------------------------------------------------------------------------------

CUSTOMER, FINANCIAL, OPERATIONS, LEARNING = PERSPECTIVES

_DECLARED = [
    # ---- volume and productivity: what came in, what was handled, by whom --------------------
    Metric(
        id="contacts_offered",
        label="Contacts offered",
        perspective=OPERATIONS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Contacts routed to a queue for an agent.",
        builder=B.contacts_offered,
        params=(SHORT_ABANDON,),
    ),
    Metric(
        id="contacts_answered",
        label="Contacts answered",
        perspective=OPERATIONS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Inbound contacts an agent answered.",
        builder=B.contacts_answered,
    ),
    Metric(
        id="contacts_abandoned",
        label="Contacts abandoned",
        perspective=OPERATIONS,
        kra="volume",
        unit="count",
        direction="lower",
        description="Customers who hung up before an agent answered.",
        builder=B.contacts_abandoned,
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
        perspective=OPERATIONS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Contacts an agent worked.",
        builder=B.contacts_handled,
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
        perspective=OPERATIONS,
        kra="volume",
        unit="count",
        direction="higher",
        description="Tickets solved (or closed) in the period.",
        builder=B.tickets_handled,
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
        perspective=OPERATIONS,
        kra="productivity",
        unit="count",
        direction="higher",
        description="Contacts handled per agent (or per logged-in hour).",
        builder=B.handled_per_agent,
        params=(
            Param(
                "basis",
                default="agent",
                doc="per distinct agent in the period, or per logged-in hour",
                choices=("agent", "logged_in_hour"),
            ),
        ),
    ),
    # ---- accessibility and speed: reaching an agent, and how soon ----------------------------
    Metric(
        id="answer_rate",
        label="Answer rate",
        perspective=CUSTOMER,
        kra="accessibility",
        unit="ratio",
        direction="higher",
        description="Share of contacts a person answered.",
        builder=B.answer_rate,
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
        perspective=CUSTOMER,
        kra="accessibility",
        unit="ratio",
        direction="lower",
        description="Share of contacts abandoned in queue.",
        builder=B.abandon_rate,
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
        perspective=CUSTOMER,
        kra="speed",
        unit="ratio",
        direction="higher",
        description="Share of contacts answered within the threshold.",
        builder=B.service_level,
        params=(
            THRESHOLD,
            Param(
                "denominator",
                default="answered_plus_abandoned",
                doc="denominator variant",
                choices=(
                    "offered",
                    "answered_plus_abandoned",
                    "answered",
                    "ignore_abandons_within_threshold",
                    "abandons_within_threshold_met",
                ),
            ),
            SHORT_ABANDON,
            OBJECTIVES,
        ),
        target=Target(0.8, 0.7),
    ),
    Metric(
        id="response_within_objective",
        label="Response within objective",
        perspective=CUSTOMER,
        kra="speed",
        unit="ratio",
        direction="higher",
        description="Share of deferred work (e-mail, tickets) answered within its response "
        "objective in hours.",
        builder=B.response_within_objective,
        params=(
            OBJECTIVES,
            Param(
                "table",
                default="contacts",
                doc="contacts of deferred queues (e-mail: answered within the queue's "
                "response_h) or tickets (first response within the tickets objective)",
                choices=("contacts", "tickets"),
            ),
        ),
        target=Target(0.8, 0.7),
    ),
    Metric(
        id="asa",
        label="Average speed of answer",
        perspective=CUSTOMER,
        kra="speed",
        unit="s",
        direction="lower",
        description="Mean queue wait of answered contacts.",
        builder=B.asa,
        params=(
            Param(
                "timer_start",
                default="queue_entry",
                doc="when the wait timer starts",
                choices=("queue_entry", "arrival"),
            ),
            QUEUES,
            OBJECTIVES,
        ),
        target=Target(30, 60),
    ),
    Metric(
        id="avg_wait",
        label="Average wait",
        perspective=CUSTOMER,
        kra="speed",
        unit="s",
        direction="lower",
        description="Mean queue wait.",
        builder=B.avg_wait,
        params=(
            Param(
                "population", default="all", doc="whose waits count", choices=("all", "answered")
            ),
            QUEUES,
            OBJECTIVES,
        ),
        target=Target(30, 60),
    ),
    Metric(
        id="longest_wait",
        label="Longest wait",
        perspective=CUSTOMER,
        kra="speed",
        unit="s",
        direction="lower",
        description="Longest queue wait in the period (historical maximum).",
        builder=B.longest_wait,
        params=(
            Param(
                "population",
                default="all",
                doc="whose waits count",
                choices=("all", "answered", "abandoned"),
            ),
            QUEUES,
            OBJECTIVES,
        ),
        target=Target(300, 600),
    ),
    Metric(
        id="max_in_queue",
        label="Most contacts waiting",
        perspective=OPERATIONS,
        kra="speed",
        unit="count",
        direction="lower",
        description="Peak number of contacts waiting at once.",
        builder=B.max_in_queue,
    ),
    # ---- load: the busiest hour --------------------------------------------------------------
    Metric(
        id="peak_hour_traffic",
        label="Peak-hour traffic",
        perspective=OPERATIONS,
        kra="volume",
        unit="erlang",
        direction="higher",
        description="Traffic of the busiest hour in Erlangs (and its calls).",
        builder=B.peak_hour_traffic,
        params=(
            Param(
                "rank_by",
                default="calls",
                doc="what makes an hour the busiest",
                choices=("calls", "erlangs"),
            ),
        ),
    ),
    # ---- efficiency: handle time and its parts -----------------------------------------------
    Metric(
        id="aht",
        label="Average handle time",
        perspective=OPERATIONS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean handle time per handled contact.",
        builder=B.aht,
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
        perspective=OPERATIONS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean talk time.",
        builder=B.avg_component("talk_s", "talk"),
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
        perspective=OPERATIONS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean hold time.",
        builder=B.avg_component("hold_s", "hold"),
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
        perspective=OPERATIONS,
        kra="efficiency",
        unit="s",
        direction="lower",
        description="Mean wrap-up time.",
        builder=B.avg_component("acw_s", "acw"),
        params=(
            Param(
                "denominator",
                default="handled",
                doc="per handled contact or per contact with after-call work",
                choices=("handled", "with_component"),
            ),
        ),
    ),
    # ---- quality: resolving the issue --------------------------------------------------------
    Metric(
        id="transfer_rate",
        label="Transfer rate",
        perspective=OPERATIONS,
        kra="quality",
        unit="ratio",
        direction="lower",
        description="Share of handled contacts transferred.",
        builder=B.transfer_rate,
        target=Target(0.1, 0.15),
    ),
    Metric(
        id="fcr",
        label="First contact resolution",
        perspective=CUSTOMER,
        kra="quality",
        unit="ratio",
        direction="higher",
        description="Share of issues resolved at the first contact.",
        builder=B.fcr,
        params=(
            Param(
                "method",
                default="repeat_window",
                doc="how resolution is detected",
                choices=("repeat_window", "agent_resolved"),
            ),
            Param(
                "window_days",
                default=7,
                doc="repeat-contact window in days",
                type=int,
                minimum=1,
                maximum=366,
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
        perspective=CUSTOMER,
        kra="quality",
        unit="ratio",
        direction="higher",
        description="Share of handled contacts resolved.",
        builder=B.resolution_rate,
        target=Target(0.85, 0.75),
    ),
    # ---- tickets: how fast, and what is left open --------------------------------------------
    Metric(
        id="avg_resolution_time",
        label="Resolution time",
        perspective=CUSTOMER,
        kra="speed",
        unit="h",
        direction="lower",
        description="Time from ticket creation to solution.",
        builder=B.avg_resolution_time,
        params=(
            AGGREGATOR,
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
        perspective=CUSTOMER,
        kra="speed",
        unit="h",
        direction="lower",
        description="Time from ticket creation to first response.",
        builder=B.first_response_time,
        params=(AGGREGATOR,),
        target=Target(8, 24),
    ),
    Metric(
        id="backlog",
        label="Backlog",
        perspective=OPERATIONS,
        kra="volume",
        unit="count",
        direction="lower",
        description="Open tickets at the end of the period.",
        builder=B.backlog,
    ),
    # ---- workforce: how agents' paid time is spent -------------------------------------------
    Metric(
        id="occupancy",
        label="Occupancy",
        perspective=OPERATIONS,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Share of available time spent on contacts.",
        builder=B.occupancy,
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
        perspective=OPERATIONS,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Time on contacts against paid time.",
        builder=B.utilization,
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
        perspective=OPERATIONS,
        kra="workforce",
        unit="ratio",
        direction="lower",
        description="Paid time not available for contacts.",
        builder=B.shrinkage,
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
        perspective=OPERATIONS,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Time in the scheduled activity at the scheduled time.",
        builder=B.adherence,
        target=Target(0.9, 0.85),
        tl=True,
    ),
    Metric(
        id="attendance",
        label="Attendance",
        perspective=LEARNING,
        kra="workforce",
        unit="ratio",
        direction="higher",
        description="Scheduled time actually worked.",
        builder=B.attendance,
        target=Target(0.95, 0.9),
        tl=True,
    ),
    # ---- agents' quality and development -----------------------------------------------------
    Metric(
        id="qa_score",
        label="Quality score",
        perspective=OPERATIONS,
        kra="quality",
        unit="points",
        direction="higher",
        description="Mean internal quality evaluation score (0-100).",
        builder=B.qa_score,
        target=Target(85, 75),
        tl=True,
    ),
    Metric(
        id="coaching_per_agent",
        label="Coaching per agent",
        perspective=LEARNING,
        kra="development",
        unit="count",
        direction="higher",
        description="Coaching sessions per scheduled agent.",
        builder=B.coaching_per_agent,
        tl=True,
    ),
    # ---- customers: satisfaction, retention, activity ----------------------------------------
    Metric(
        id="csat",
        label="Customer satisfaction",
        perspective=CUSTOMER,
        kra="satisfaction",
        unit="ratio",
        direction="higher",
        description="Customer satisfaction from post-contact surveys.",
        builder=B.csat,
        params=(
            Param(
                "method",
                default="top2",
                doc="top-2-box share (a ratio) or mean score (points on the survey's scale)",
                choices=("top2", "mean"),
            ),
            Param(
                "scale_max",
                default=5,
                doc="the survey's scale, 1-5 or 1-10 (top two boxes: 4-5 or 9-10)",
                choices=(5, 10),
                type=int,
            ),
        ),
        target=Target(0.8, 0.7),
    ),
    Metric(
        id="nps",
        label="Net promoter score",
        perspective=CUSTOMER,
        kra="satisfaction",
        unit="points",
        direction="higher",
        description="Promoters minus detractors (−100 to 100).",
        builder=B.nps,
        target=Target(30, 0),
    ),
    Metric(
        id="ces",
        label="Customer effort score",
        perspective=CUSTOMER,
        kra="satisfaction",
        unit="points",
        direction="higher",
        description="Ease of getting the issue handled.",
        builder=B.ces,
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
        perspective=CUSTOMER,
        kra="retention",
        unit="ratio",
        direction="lower",
        description="Customers lost in the period.",
        builder=B.customer_churn,
    ),
    Metric(
        id="customer_retention",
        label="Customer retention",
        perspective=CUSTOMER,
        kra="retention",
        unit="ratio",
        direction="higher",
        description="Customers kept through the period.",
        builder=B.customer_retention,
    ),
    Metric(
        id="contacts_per_customer",
        label="Contacts per customer",
        perspective=CUSTOMER,
        kra="activity",
        unit="count",
        direction="lower",
        description="Contacts per contacting customer.",
        builder=B.contacts_per_customer,
    ),
    # ---- money: sales and cost ---------------------------------------------------------------
    Metric(
        id="sales_per_agent",
        label="Sales per agent",
        perspective=FINANCIAL,
        kra="sales",
        unit="count",
        direction="higher",
        description="Sales per agent who handled contacts.",
        builder=B.sales_per_agent,
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
        perspective=FINANCIAL,
        kra="sales",
        unit="ratio",
        direction="higher",
        description="Share of handled contacts with a sale.",
        builder=B.conversion_rate,
    ),
    Metric(
        id="revenue_per_successful_call",
        label="Revenue per successful call",
        perspective=FINANCIAL,
        kra="sales",
        unit="currency",
        direction="higher",
        description="Revenue per contact with a sale.",
        builder=B.revenue_per_successful_call,
    ),
    Metric(
        id="cost_per_contact",
        label="Cost per contact",
        perspective=FINANCIAL,
        kra="cost",
        unit="currency",
        direction="lower",
        description="Centre cost per handled contact.",
        builder=B.cost_per_contact,
    ),
    Metric(
        id="cost_per_order",
        label="Cost per order",
        perspective=FINANCIAL,
        kra="cost",
        unit="currency",
        direction="lower",
        description="Centre cost per order.",
        builder=B.cost_per_order,
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
        perspective=FINANCIAL,
        kra="cost",
        unit="currency",
        direction="lower",
        description="Acquisition spend per new subscriber.",
        builder=B.sac,
    ),
    # ---- planning: how good the stored forecasts were ----------------------------------------
    Metric(
        id="forecast_accuracy",
        label="Forecast accuracy",
        perspective=OPERATIONS,
        kra="planning",
        unit="ratio",
        direction="higher",
        description="Stored volume forecasts against contacts offered: 1 − WAPE (kpi forecast "
        "--store).",
        builder=B.forecast_accuracy,
    ),
    # ---- agents: retention and engagement ----------------------------------------------------
    Metric(
        id="agent_attrition",
        label="Agent attrition",
        perspective=LEARNING,
        kra="retention",
        unit="ratio",
        direction="lower",
        description="Agents who left against headcount.",
        builder=B.agent_attrition,
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
        perspective=LEARNING,
        kra="engagement",
        unit="points",
        direction="higher",
        description="Agent experience survey, promoters minus detractors.",
        builder=B.agent_enps,
        target=Target(10, -10),
    ),
]

#: Every declared KPI by id, in catalogue order.
METRICS: dict[str, Metric] = {m.id: m for m in _DECLARED}
