"""Words exports use for the canonical values of ``outcome``, ``direction`` and ``channel``.

Exports write ``Inbound``, ``IN`` or ``Incoming`` for an inbound call and ``Phone``,
``E-mail`` or ``Web chat`` for a channel. The KPIs compare canonical words (an ``Outbound``
call is outbound only when it says ``outbound``; an ``Email`` queue gets the e-mail response
objective only when its channel is ``email``), so the importer maps the common words, in any
case. An unknown direction is quarantined (it decides whether a contact was offered); an
unknown channel is kept and warned about (it only chooses the service objective).
"""

from __future__ import annotations

import polars as pl

from kpi.io._report import ImportReport

__all__ = [
    "CHANNELS",
    "CHANNEL_SYNONYMS",
    "DIRECTION_SYNONYMS",
    "OUTCOME_WORDS",
    "channel_expr",
    "warn_channels",
]

#: Outcome words (lower case) any mapping understands; ``[values.outcome]`` adds others.
OUTCOME_WORDS = {
    **dict.fromkeys(("answered", "answer", "handled", "connected"), "answered"),
    **dict.fromkeys(("abandoned_queue", "abandoned", "abandon"), "abandoned_queue"),
    **dict.fromkeys(("abandoned in queue", "queue abandon"), "abandoned_queue"),
    **dict.fromkeys(("abandoned_ivr", "abandoned in ivr", "ivr abandon"), "abandoned_ivr"),
    **dict.fromkeys(("flowout", "flow-out", "flow out", "overflow", "overflowed"), "flowout"),
    "outbound": "outbound",
}

#: Direction words (lower case) -> canonical direction.
DIRECTION_SYNONYMS = {
    **dict.fromkeys(("inbound", "in", "incoming", "ib", "i", "inbound call", "acd"), "inbound"),
    **dict.fromkeys(("outbound", "out", "outgoing", "ob", "o", "outbound call"), "outbound"),
    **dict.fromkeys(("dialer", "dialler", "manual outbound", "preview", "callout"), "outbound"),
}

#: Channels the service objectives know (``kpi.metrics`` objectives by channel).
CHANNELS = ("voice", "callback", "chat", "messaging", "email", "letter", "social", "ticket")

#: Channel words (lower case) -> canonical channel.
CHANNEL_SYNONYMS = {
    **{c: c for c in CHANNELS},
    "tickets": "tickets",
    **dict.fromkeys(("phone", "call", "calls", "telephone", "telephony", "inbound call"), "voice"),
    **dict.fromkeys(("voice call", "ivr", "pstn", "telefon", "téléphone"), "voice"),
    **dict.fromkeys(("e-mail", "mail", "emails", "e-mails", "inbound email", "web form"), "email"),
    **dict.fromkeys(("web chat", "webchat", "live chat", "livechat", "chat bot"), "chat"),
    **dict.fromkeys(("sms", "text", "whatsapp", "messenger", "message", "messages"), "messaging"),
    **dict.fromkeys(("call back", "call-back", "callbacks", "scheduled callback"), "callback"),
    **dict.fromkeys(("facebook", "twitter", "x", "instagram", "social media"), "social"),
    **dict.fromkeys(("post", "paper", "fax"), "letter"),
}


def channel_expr(raw: pl.Expr) -> pl.Expr:
    """Canonical channel for known words (any case), the value as given otherwise.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["Phone", "E-mail", "Web Chat", "WhatsApp", "Kiosk"]).to_frame("c")
    >>> s.select(channel_expr(pl.col("c"))).to_series().to_list()
    ['voice', 'email', 'chat', 'messaging', 'Kiosk']
    """
    text = raw.cast(pl.String).str.strip_chars()
    known = text.str.to_lowercase().replace_strict(
        CHANNEL_SYNONYMS, default=None, return_dtype=pl.String
    )
    return pl.coalesce(known, text.replace("", None))


def warn_channels(frame: pl.DataFrame, report: ImportReport) -> None:
    """Warn about channel values the objectives do not know (they get the voice objective)."""
    if "channel" not in frame.columns:
        return
    known = (*CHANNELS, "tickets")
    odd = (
        frame.filter(pl.col("channel").is_not_null() & ~pl.col("channel").is_in(known))
        .group_by("channel")
        .len()
        .sort("len", descending=True)
    )
    if odd.height:
        listed = ", ".join(f"{c!r} ({n:,} rows)" for c, n in odd.head(5).rows())
        report.warnings.append(
            f"channel values not known to the service objectives: {listed}; they get the voice "
            "objective (80% in 20 s): map them with [values.channel], e.g. "
            f'"{odd["channel"][0]}" = "email" (known: {", ".join(CHANNELS)})'
        )
