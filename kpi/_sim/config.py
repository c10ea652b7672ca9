"""The simulated contact centre: sites, teams, queues, topics, scales and scenarios."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ABANDONMENT_BY_WAIT_MEASURED",
    "ABANDON_PER_MINUTE_WAITED",
    "CHANNELS",
    "PATIENCE_MEASURED",
    "PATIENCE_SURVIVAL_MEASURED",
    "QUEUES",
    "SCENARIOS",
    "TEAMS",
    "TOPICS",
    "Patience",
    "QueueSpec",
    "Scenario",
    "TeamSpec",
    "TopicSpec",
]


@dataclass(frozen=True)
class TopicSpec:
    """A contact reason: how long it takes, how often it is resolved, transferred, sold."""

    name: str
    complexity: float  # multiplies the channel's median talk time
    resolve_p: float
    transfer_p: float
    hold_p: float
    conv_p: float = 0.0
    revenue_median: float = 0.0


TOPICS: dict[str, TopicSpec] = {
    t.name: t
    for t in (
        TopicSpec("billing", 1.0, 0.86, 0.04, 0.25, conv_p=0.02, revenue_median=60),
        TopicSpec("account", 0.85, 0.89, 0.03, 0.15),
        TopicSpec("technical", 1.6, 0.72, 0.12, 0.45),
        TopicSpec("moving_home", 1.35, 0.80, 0.05, 0.35, conv_p=0.08, revenue_median=90),
        TopicSpec("complaint", 1.8, 0.62, 0.15, 0.40),
        TopicSpec("refund", 1.1, 0.82, 0.05, 0.30),
        TopicSpec("delivery", 0.9, 0.84, 0.04, 0.25),
        TopicSpec("upgrade", 1.2, 0.90, 0.03, 0.20, conv_p=0.30, revenue_median=120),
        TopicSpec("new_subscription", 1.9, 0.90, 0.02, 0.25, conv_p=0.38, revenue_median=240),
        TopicSpec("retention", 1.5, 0.76, 0.06, 0.30, conv_p=0.22, revenue_median=80),
        # the scenario's new contact reason: long calls, often not settled at first contact
        TopicSpec("price_change", 2.7, 0.58, 0.10, 0.55),
    )
}


@dataclass(frozen=True)
class Patience:
    """How long callers wait before hanging up: a two-phase hyper-exponential mixture.

    A share ``p_impatient`` of callers has exponential patience of mean ``mean_impatient_s``
    (they hang up at the first announcement or within a minute), the rest of mean
    ``mean_patient_s``. Its hazard falls with the time waited, as measured on real call logs
    (Brown et al. 2005, figure 10), unlike a single exponential.
    """

    p_impatient: float
    mean_impatient_s: float
    mean_patient_s: float

    @property
    def mean_s(self) -> float:
        """Mean patience in seconds."""
        q = self.p_impatient
        return q * self.mean_impatient_s + (1 - q) * self.mean_patient_s

    def survival(self, t_s: float) -> float:
        """P(patience > ``t_s``)."""
        q = self.p_impatient
        return q * math.exp(-t_s / self.mean_impatient_s) + (1 - q) * math.exp(
            -t_s / self.mean_patient_s
        )

    def scaled(self, factor: float) -> Patience:
        """The same shape with every mean multiplied by ``factor``."""
        return Patience(
            self.p_impatient, self.mean_impatient_s * factor, self.mean_patient_s * factor
        )

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` patiences in whole seconds (at least 1)."""
        mean = np.where(
            rng.random(n) < self.p_impatient, self.mean_impatient_s, self.mean_patient_s
        )
        return np.maximum(1.0, np.round(rng.exponential(mean)))


#: Callers' patience measured on a real call log: the Technion "Anonymous Bank" (Israel),
#: February 1999, every queue (``../shared/datasets/technion_bank_1999_02``; 31,125 calls
#: reached the queue, 3,963 abandoned there, 12.7%; mean wait 44 s; longest 908 s). Measured by
#: ``bench/calibrate_patience.py`` (results in ``bench/results-simulate.md``) as Brown et al.,
#: "Statistical Analysis of a Telephone Call Center", JASA 2005, section 6, do: answered calls
#: are censored at their wait, abandons show the patience; censored maximum likelihood. The
#: mixture fits the Kaplan-Meier survival within 0.035 up to 10 minutes (AIC 54,109, against
#: 54,159 for a Weibull of shape 0.89 and 54,244 for one exponential of mean 345 s).
PATIENCE_MEASURED = Patience(p_impatient=0.117, mean_impatient_s=57.0, mean_patient_s=491.0)

#: The measured curves the simulator is checked against (``tests/test_samples.py``), same log
#: and script. Kaplan-Meier survival of patience, P(patience > t), at t seconds:
PATIENCE_SURVIVAL_MEASURED = (
    (15, 0.942), (30, 0.898), (60, 0.820), (120, 0.709), (180, 0.609), (300, 0.486),
    (450, 0.347), (600, 0.263),
)  # fmt: skip
#: Abandonment against waiting (Brown et al. 2005, figure 9): per hour of each day with at least
#: 30 queued calls, share abandoned against the mean wait of all queued calls, pooled by band of
#: mean wait: (mean wait s, abandon rate). A line through the origin fits the 370 hours with
#: slope 0.166 per minute of mean wait (R² 0.71): 1 / slope = 361 s of mean patience.
ABANDONMENT_BY_WAIT_MEASURED = (
    (7, 0.027), (23, 0.065), (44, 0.129), (72, 0.211), (100, 0.290), (138, 0.342),
)  # fmt: skip
ABANDON_PER_MINUTE_WAITED = 0.166
#: The longest wait in the real log (908 s) is the voicemail flow-out below (``max_wait_s``).


@dataclass(frozen=True)
class ChannelSpec:
    """Durations and behaviour common to a channel."""

    name: str
    direction: str
    talk_median_s: float
    talk_sigma: float
    acw_median_s: float
    hold_median_s: float  # 0: no hold on this channel
    ivr_median_s: float  # IVR / bot time before the queue; 0: none
    ivr_abandon_p: float
    patience: Patience | None  # None: waits for ever (e-mail, callback requests)
    max_wait_s: float  # flow-out (voicemail / offline message) after this wait; inf: none
    survey_p: float
    redial_p: tuple[float, ...]


CHANNELS: dict[str, ChannelSpec] = {
    c.name: c
    for c in (
        ChannelSpec(
            "voice",
            "inbound",
            230,
            0.55,
            38,
            55,
            38,
            0.035,
            PATIENCE_MEASURED,
            900,
            0.12,
            (0.55, 0.4, 0.25),
        ),
        # chat customers do other things while they wait: an assumption (no public chat log to
        # measure), the measured shape with every mean a quarter longer
        ChannelSpec(
            "chat",
            "inbound",
            400,
            0.5,
            25,
            0,
            20,
            0.05,
            PATIENCE_MEASURED.scaled(1.25),
            900,
            0.15,
            (0.4, 0.25),
        ),
        ChannelSpec("email", "inbound", 290, 0.55, 45, 0, 0, 0.0, None, float("inf"), 0.08, ()),
        ChannelSpec(
            "callback",
            "outbound",
            220,
            0.55,
            38,
            50,
            0,
            0.0,
            None,
            float("inf"),
            0.10,
            (),
        ),
    )
}


@dataclass(frozen=True)
class TeamSpec:
    """A team: its site and its team leaders."""

    name: str
    site: str
    leaders: tuple[str, ...]
    absence_p: float  # unplanned absence per scheduled day


SITES = ("Leeds", "Bristol")

TEAMS: dict[str, TeamSpec] = {
    t.name: t
    for t in (
        TeamSpec("North", "Leeds", ("Priya Shah", "Tom Hughes", "Aisha Khan"), 0.045),
        TeamSpec("South", "Bristol", ("Megan Price", "Owen Davies", "Lucy Evans"), 0.040),
        TeamSpec("West", "Bristol", ("Rhys Morgan", "Hannah Lewis"), 0.040),
        TeamSpec("Email", "Leeds", ("Grace Wood",), 0.035),
        TeamSpec("Tickets", "Leeds", ("Daniel Reid", "Sophie Turner"), 0.035),
    )
}

# opening hours per weekday (Mon..Sun) in local hours; None: closed
_PHONE_HOURS = ((8, 20),) * 5 + ((9, 17), (10, 16))
_OFFICE_HOURS = ((8, 18),) * 5 + ((9, 17), None)
_TICKET_HOURS = ((8, 18),) * 5 + (None, None)
_ALWAYS = ((0, 24),) * 7


@dataclass(frozen=True)
class QueueSpec:
    """A queue (skill): its team, channel, volume, topic mix, hours and service objective.

    The service objective is the one real centres set for the channel (voice 80% answered in
    20 s, chat 80% in 60 s): for deferred work (``objective="response_time"``: e-mail, tickets)
    it is a share answered (first response) within ``sl_threshold_s`` hours, never a 20-second
    service level. Erlang planning sizes real-time queues to it; deferred work is planned from
    its work load. ``scenario.json`` states each objective and what the data achieve.
    """

    name: str
    team: str
    channel: str  # voice, chat, email, callback; "ticket" for the ticket log
    daily: float  # contacts on an average weekday at scale 1
    topics: dict[str, float]
    arrival_hours: tuple[tuple[int, int] | None, ...]
    staff_hours: tuple[tuple[int, int] | None, ...]
    profile: str  # intraday shape
    weekly: tuple[float, ...]  # Mon..Sun volume factors
    sl_threshold_s: float = 20.0  # the objective: a share sl_target within this time
    sl_target: float = 0.8
    objective: str = "service_level"  # or "response_time" (deferred work)
    planning: str = "erlang"  # erlang or workload
    night_agents: float = 0.0  # agents on a night shift (22:00-06:00) at scale 1
    sales: bool = False
    work_first_s: float = 0.0  # tickets: median work of the first touch
    work_follow_s: float = 0.0  # tickets: median work of a follow-up touch


_W_PHONE = (1.18, 1.06, 1.0, 0.98, 0.95, 0.55, 0.32)
_W_CHAT = (1.06, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6)
_W_EMAIL = (1.12, 1.05, 1.0, 1.0, 0.95, 0.6, 0.5)
_W_TICKET = (1.15, 1.05, 1.0, 1.0, 0.95, 0.4, 0.3)

_SERVICE_MIX = {
    "billing": 0.33,
    "account": 0.19,
    "technical": 0.22,
    "moving_home": 0.11,
    "complaint": 0.08,
    "upgrade": 0.07,
}
_CHAT_MIX = {
    "billing": 0.34,
    "account": 0.26,
    "technical": 0.24,
    "moving_home": 0.10,
    "upgrade": 0.06,
}

QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("North Voice", "North", "voice", 400, _SERVICE_MIX, _PHONE_HOURS, _PHONE_HOURS,
              "phone", _W_PHONE),
    QueueSpec("North Chat", "North", "chat", 160, _CHAT_MIX, _PHONE_HOURS, _PHONE_HOURS, "chat",
              _W_CHAT, sl_threshold_s=60),
    QueueSpec("South Voice", "South", "voice", 200, _SERVICE_MIX, _PHONE_HOURS, _PHONE_HOURS,
              "phone", _W_PHONE),
    QueueSpec("South Chat", "South", "chat", 80, _CHAT_MIX, _PHONE_HOURS, _PHONE_HOURS, "chat",
              _W_CHAT, sl_threshold_s=60),
    QueueSpec("Callback", "South", "callback", 55,
              {"billing": 0.4, "technical": 0.35, "account": 0.25}, _PHONE_HOURS, _PHONE_HOURS,
              "phone", _W_PHONE, sl_threshold_s=1800),
    QueueSpec("West Sales", "West", "voice", 130,
              {"new_subscription": 0.42, "upgrade": 0.30, "retention": 0.18, "billing": 0.10},
              _PHONE_HOURS, _PHONE_HOURS, "phone", _W_PHONE, sales=True),
    QueueSpec("West Chat", "West", "chat", 55,
              {"new_subscription": 0.5, "upgrade": 0.32, "billing": 0.18}, _PHONE_HOURS,
              _PHONE_HOURS, "chat", _W_CHAT, sl_threshold_s=60, sales=True),
    QueueSpec("Email", "Email", "email", 140,
              {"billing": 0.3, "account": 0.27, "refund": 0.25, "complaint": 0.18}, _ALWAYS,
              _OFFICE_HOURS, "email", _W_EMAIL, planning="workload", night_agents=1.0,
              objective="response_time", sl_threshold_s=24 * 3600, sl_target=0.9),
    QueueSpec("Tickets", "Tickets", "ticket", 250,
              {"refund": 0.3, "delivery": 0.26, "account": 0.18, "complaint": 0.14,
               "technical": 0.12},
              _ALWAYS, _TICKET_HOURS, "ticket", _W_TICKET, planning="workload",
              work_first_s=600, work_follow_s=300, objective="response_time",
              sl_threshold_s=24 * 3600, sl_target=0.8),
)  # fmt: skip


def intraday(profile: str, hour: np.ndarray) -> np.ndarray:
    """Relative arrival intensity by local hour (float) for an intraday profile."""
    h = np.asarray(hour, dtype=np.float64)
    if profile == "phone":
        return 0.55 + np.exp(-(((h - 10.5) / 1.6) ** 2)) + 0.8 * np.exp(-(((h - 14.5) / 2.0) ** 2))
    if profile == "chat":
        return (
            0.5 + 0.9 * np.exp(-(((h - 13) / 3.0) ** 2)) + 0.7 * np.exp(-(((h - 19) / 1.6) ** 2))
        )
    if profile == "email":
        return 0.25 + np.exp(-(((h - 11.5) / 3.5) ** 2)) + 0.4 * np.exp(-(((h - 20) / 2.5) ** 2))
    if profile == "ticket":
        return 0.15 + np.exp(-(((h - 12) / 4.0) ** 2))
    raise ValueError(profile)


@dataclass(frozen=True)
class Scenario:
    """Changes injected into the steady centre (months count from 0 = the first month).

    ``attrition``: (team, fraction of the team's agents who leave on the last working day of
    ``attrition_month``). ``new_topic``: a contact reason that appears from ``new_topic_month``
    in ``new_topic_queues`` with volume shares by month (relative to the queue's own volume).
    ``hiring``: (team, fraction of the leavers replaced) starting on the first Monday of
    ``hiring_month``.
    """

    name: str
    description: str
    attrition: tuple[tuple[str, float], ...] = ()
    attrition_month: int = 0
    new_topic: str | None = None
    new_topic_share: dict[str, tuple[float, ...]] = field(default_factory=dict)
    new_topic_month: int = 1
    hiring: tuple[tuple[str, float], ...] = ()
    hiring_month: int = 2
    metric_periods: tuple[int, int] = (0, 1)
    responsible: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def new_topic_queues(self) -> tuple[str, ...]:
        """Queues the new topic appears in."""
        return tuple(self.new_topic_share)


SCENARIOS: dict[str, Scenario] = {
    "default": Scenario(
        name="default",
        description=(
            "Leeds loses staff: on the last working day of the first month team North loses "
            "about half of its agents and team Tickets a fifth (agents.left, leave_reason "
            "voluntary); in the second month a price change brings a new, long contact reason "
            "(price_change) into North's voice and chat queues and the ticket log. Contacts "
            "handled and tickets handled fall by about a quarter from the first month to the "
            "second; South, West and Email hold steady (February is only shorter). Replacements "
            "start training on the first Monday of the third month and North partly recovers."
        ),
        attrition=(("North", 0.55), ("Tickets", 0.2)),
        attrition_month=0,
        new_topic="price_change",
        new_topic_share={
            "North Voice": (0.35, 0.18),
            "North Chat": (0.35, 0.18),
            "Tickets": (0.08, 0.04),
        },
        new_topic_month=1,
        hiring=(("North", 0.85), ("Tickets", 1.0)),
        hiring_month=2,
        responsible={"contacts_handled": ("North",), "tickets_handled": ("Tickets",)},
    ),
    "steady": Scenario(
        name="steady",
        description="No injected change: only calendar, seasonality, noise and normal churn.",
    ),
}
