"""Built-in presets: mappings that look for common column names.

``technion`` is not here: that format needs its own logic (:mod:`kpi.io._technion`).
"""

from __future__ import annotations

from kpi.io._mapping import Mapping

__all__ = ["PRESET_TIMEZONES", "TABLE_PRESETS", "preset_mapping"]

#: Default site time zone of a preset (``--tz`` overrides).
PRESET_TIMEZONES = {"technion": "Asia/Jerusalem", "tickets": "America/New_York"}

_OUTCOME_WORDS = {
    "handled": "answered",
    "agent": "answered",
    "connected": "answered",
    "completed": "answered",
    "answer": "answered",
    "abandoned": "abandoned_queue",
    "abandon": "abandoned_queue",
    "abandoned in queue": "abandoned_queue",
    "hang": "abandoned_queue",
    "hangup": "abandoned_queue",
    "hung up": "abandoned_queue",
    "lost": "abandoned_queue",
    "ivr": "abandoned_ivr",
    "abandoned in ivr": "abandoned_ivr",
    "ivr abandon": "abandoned_ivr",
    "overflow": "flowout",
    "flow-out": "flowout",
    "voicemail": "flowout",
    "callback": "flowout",
}


def _contacts() -> Mapping:
    return Mapping(
        table="contacts",
        name="preset contacts",
        preset="contacts",
        aliases={
            "contact_id": ("contact_id", "call_id", "interaction_id", "id", "call_key"),
            "channel": ("channel", "media", "media_type"),
            "direction": ("direction", "call_direction"),
            "queue": ("queue", "queue_name", "skill", "split", "acd_group", "service"),
            "topic": (
                "topic",
                "reason",
                "call_reason",
                "category",
                "wrap_code",
                "disposition_code",
            ),
            "customer_id": (
                "customer_id",
                "customer",
                "caller_id",
                "caller",
                "ani",
                "account_id",
                "client_id",
            ),
            "agent_id": ("agent_id", "agent", "agent_name", "user", "operator"),
            "team": ("team", "group", "team_name"),
            "site": ("site", "location", "centre", "center"),
            "arrival_ts": (
                ("date", "time"),
                ("call_date", "call_time"),
                ("date", "start_time"),
                "arrival_ts",
                "arrival_time",
                "start_time",
                "call_start",
                "started_at",
                "start",
                "date_time",
                "timestamp",
            ),
            "queue_ts": (
                "queue_ts",
                "queue_time_start",
                "queued_at",
                "enqueue_time",
                "queue_start",
            ),
            "answer_ts": (
                "answer_ts",
                "answered_at",
                "answer_time",
                "connect_time",
                "connected_at",
            ),
            "end_ts": ("end_ts", "end_time", "ended_at", "call_end", "disconnect_time"),
            "ivr_s": ("ivr_s", "ivr_time", "ivr_duration", "ivr"),
            "wait_s": (
                "wait_s",
                "wait_time",
                "queue_time",
                "wait",
                "time_in_queue",
                "queue_wait_time",
                "queue_wait",
                "delay",
            ),
            "talk_s": ("talk_s", "talk_time", "talk", "talk_duration", "conversation_time"),
            "hold_s": ("hold_s", "hold_time", "hold", "hold_duration"),
            "acw_s": (
                "acw_s",
                "acw",
                "acw_time",
                "wrap_up",
                "wrap_up_time",
                "wrap_time",
                "after_call_work",
                "after_call_work_time",
            ),
            "outcome": ("outcome", "disposition", "result", "call_result", "call_outcome"),
            "transferred": ("transferred", "is_transferred", "transfer"),
            "resolved": ("resolved", "is_resolved"),
            "converted": ("converted", "sale", "is_sale"),
            "revenue": ("revenue", "sale_amount", "amount"),
        },
        values={"outcome": dict(_OUTCOME_WORDS)},
    )


def _tickets() -> Mapping:
    return Mapping(
        table="tickets",
        name="preset tickets",
        preset="tickets",
        timezone=PRESET_TIMEZONES["tickets"],
        aliases={
            "ticket_id": (
                "ticket_id",
                "unique_key",
                "case_id",
                "case_number",
                "id",
                "ticket",
                "key",
            ),
            "created_ts": (
                "created_ts",
                "opendate",
                "open_date",
                "created",
                "created_at",
                "created_date",
                "opened",
                "opened_at",
                "date_opened",
                "creation_date",
            ),
            "first_response_ts": ("first_response_ts", "first_response_at", "first_reply_at"),
            "solved_ts": ("solved_ts", "solved_at", "solved", "resolved_at", "resolution_date"),
            "closed_ts": (
                "closed_ts",
                "closedate",
                "close_date",
                "closed_at",
                "closed",
                "date_closed",
            ),
            "status": ("status", "state", "ticket_status"),
            "reopens": ("reopens", "reopen_count", "reopened"),
            "agent_id": ("agent_id", "owner", "assignee", "agent", "assigned_to"),
            "team": ("team", "account", "group", "group_name", "office", "department"),
            "channel": ("channel", "via", "source_channel"),
            "priority": ("priority",),
            "topic": ("topic", "complaint_type", "category", "issue_type", "type", "reason"),
            "customer_id": ("customer_id", "requester_id", "requester", "client_id"),
        },
        fill_null={"topic": "unknown", "team": "unknown"},
        keep_unmapped=True,
    )


def _interval() -> Mapping:
    return Mapping(
        table="intervals",
        name="preset interval",
        preset="interval",
        aliases={
            "interval_start": (
                ("date", "interval"),
                ("date", "time"),
                ("date", "start_time"),
                ("date", "interval_start"),
                "interval_start",
                "interval_start_time",
                "start_time",
                "period_start",
                "interval",
                "start",
                "date_time",
                "datetime",
                "timestamp",
            ),
            "interval_s": (
                "interval_s",
                "interval_seconds",
                "interval_length_s",
                "length_s",
                "interval_min",
                "interval_minutes",
                "interval_length_min",
                "length_min",
            ),
            "queue": ("queue", "queue_name", "skill", "split", "acd_group", "service", "queue_id"),
            "channel": ("channel", "media", "media_type"),
            "team": ("team", "group"),
            "offered": (
                "offered",
                "calls_offered",
                "contacts_offered",
                "acd_calls_offered",
                "offered_calls",
                "presented",
                "incoming",
            ),
            "answered": (
                "answered",
                "calls_answered",
                "answered_calls",
                "acd_calls",
                "handled",
                "calls_handled",
            ),
            "abandoned": ("abandoned", "abandons", "calls_abandoned", "abandoned_calls", "aband"),
            "abandoned_short": ("abandoned_short", "short_abandons", "short_abandoned"),
            "answered_within_threshold": (
                "answered_within_threshold",
                "answered_within_sl",
                "answered_in_sl",
                "ans_in_sl",
                "within_sl",
                "sl_answered",
            ),
            "abandoned_within_threshold": ("abandoned_within_threshold", "abandoned_within_sl"),
            "flowout": ("flowout", "flow_out", "flowouts", "overflow", "interflowed"),
            "wait_answered_s": (
                "wait_answered_s",
                "total_answer_time",
                "answer_wait_s",
                "total_wait_answered",
                "total_delay",
                "total_speed_of_answer",
            ),
            "wait_abandoned_s": ("wait_abandoned_s", "total_abandon_time", "total_wait_abandoned"),
            "wait_flowout_s": ("wait_flowout_s", "total_flowout_time", "total_wait_flowout"),
            "max_wait_s": ("max_wait_s", "max_wait", "longest_wait", "max_delay"),
            "talk_s": ("talk_s", "talk_time", "total_talk", "total_talk_time", "acd_time"),
            "hold_s": ("hold_s", "hold_time", "total_hold", "total_hold_time"),
            "acw_s": ("acw_s", "acw", "acw_time", "total_acw", "wrap_up", "after_call_work"),
            "transferred": ("transferred", "transfers", "transferred_calls"),
            "staffed_s": (
                "staffed_s",
                "staffed_time",
                "staffed",
                "total_staffed",
                "staffed_seconds",
            ),
        },
        alias_formats={
            "interval_min": "minutes",
            "interval_minutes": "minutes",
            "interval_length_min": "minutes",
            "length_min": "minutes",
        },
    )


_PRESETS = {"contacts": _contacts, "tickets": _tickets, "interval": _interval}

#: The alias preset of each importable table (its names hint at columns a mapping lacks).
TABLE_PRESETS = {"contacts": "contacts", "tickets": "tickets", "intervals": "interval"}


def preset_mapping(name: str) -> Mapping:
    """A fresh copy of a preset's mapping (``contacts``, ``tickets`` or ``interval``).

    Examples
    --------
    >>> m = preset_mapping("tickets")
    >>> m.table, m.timezone, m.fill_null["topic"]
    ('tickets', 'America/New_York', 'unknown')
    """
    return _PRESETS[name]()
