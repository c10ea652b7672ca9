"""Service objectives per channel and queue: what each queue's required agents are planned for.

Defaults, as centres commonly set them (``../shared/kpi_dictionary.md`` B.17): voice 80 % of
contacts answered within 20 s, chat 80 % within 60 s (Erlang C), e-mail a first response
within 4 hours and tickets within 8 hours (deferred work: staffed from workload, not Erlang).
A targets file overrides them in an ``[objectives]`` table, per channel and then per queue::

    [objectives.voice]
    service_level = 0.8
    threshold_s = 20
    max_occupancy = 0.9       # optional
    patience_s = 120          # optional: Erlang A instead of Erlang C

    [objectives.email]
    response_h = 24

    [objectives.queue."West Sales"]   # one queue, stricter than its channel
    service_level = 0.9
    threshold_s = 15

A queue's objective is its own table if any, else its channel's, else the voice default (an
unknown channel is planned as a queue served in real time).

The objectives drive staffing and schedules (:mod:`kpi.schedule`, which re-exports these names)
and two KPIs: ``service_level`` under ``threshold_s=objective`` (each real-time contact answered
within its own queue's threshold) and ``response_within_objective`` (deferred work answered
within its response objective in hours). A KPI variant carries the thresholds as text, the
``objectives`` parameter (:meth:`Objectives.spec`, :func:`objectives_from_spec`):
``"chat=30s; email=24h; queue:West Sales=15s"``, what differs from the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kpi.errors import KpiError

__all__ = [
    "DEFAULTS",
    "DEFERRED_CHANNELS",
    "Objective",
    "Objectives",
    "objectives_from",
    "objectives_from_spec",
]

#: Channels whose work waits in a backlog (staffed from workload over the response window).
DEFERRED_CHANNELS = ("email", "ticket", "tickets", "letter", "social")


@dataclass(frozen=True)
class Objective:
    """One queue's service objective.

    ``kind="erlang"``: ``service_level`` of contacts answered within ``threshold_s`` (Erlang C,
    or Erlang A with ``patience_s``), optionally capped by ``max_occupancy``.
    ``kind="deferred"``: each contact answered within ``response_h`` hours: its handle time is
    spread evenly over the response window from its arrival.
    """

    kind: str = "erlang"
    service_level: float | None = 0.8
    threshold_s: float | None = 20.0
    response_h: float | None = None
    max_occupancy: float | None = None
    patience_s: float | None = None

    def text(self) -> str:
        """A short human label, e.g. ``80% in 20 s`` or ``response in 4 h``.

        Examples
        --------
        >>> Objective().text(), Objective(kind="deferred", response_h=4).text()
        ('80% in 20 s', 'response in 4 h')
        """
        if self.kind == "deferred":
            return f"response in {self.response_h:g} h"
        text = f"{self.service_level * 100:g}% in {self.threshold_s:g} s"  # type: ignore[operator]
        if self.max_occupancy is not None:
            text += f", occupancy ≤ {self.max_occupancy * 100:g}%"
        return text


VOICE = Objective(service_level=0.8, threshold_s=20.0)
CHAT = Objective(service_level=0.8, threshold_s=60.0)
EMAIL = Objective(kind="deferred", service_level=None, threshold_s=None, response_h=4.0)
TICKETS = Objective(kind="deferred", service_level=None, threshold_s=None, response_h=8.0)

#: Built-in objectives per channel.
DEFAULTS: dict[str, Objective] = {
    "voice": VOICE,
    "callback": VOICE,
    "chat": CHAT,
    "messaging": CHAT,
    "email": EMAIL,
    "letter": EMAIL,
    "social": EMAIL,
    "ticket": TICKETS,
    "tickets": TICKETS,
}

_KEYS = {"service_level", "threshold_s", "response_h", "max_occupancy", "patience_s"}


@dataclass(frozen=True)
class Objectives:
    """Objectives per channel with per-queue overrides.

    Examples
    --------
    >>> obj = objectives_from({"queue": {"VIP": {"service_level": 0.9, "threshold_s": 10}}})
    >>> obj.for_queue("VIP", "voice").text(), obj.for_queue("Sales", "voice").text()
    ('90% in 10 s', '80% in 20 s')
    >>> obj.for_queue("Email", "email").text()
    'response in 4 h'
    """

    by_channel: Mapping[str, Objective]
    by_queue: Mapping[str, Objective]

    def for_queue(self, queue: str | None, channel: str | None) -> Objective:
        """The objective of ``queue`` (its own, else its channel's, else voice's)."""
        if queue is not None and queue in self.by_queue:
            return self.by_queue[queue]
        return self.by_channel.get(str(channel), self.by_channel.get("voice", VOICE))

    def with_changes(self, **changes: float | None) -> Objectives:
        """The same objectives with fields changed everywhere they apply (a what-if):
        ``service_level``/``threshold_s``/``max_occupancy`` change the Erlang objectives,
        ``response_h`` the deferred ones; None leaves a field as it is."""

        def change(o: Objective) -> Objective:
            fields = {"response_h"} if o.kind == "deferred" else _KEYS - {"response_h"}
            new = {k: v for k, v in changes.items() if v is not None and k in fields}
            return _checked(replace(o, **new), "what-if")  # type: ignore[arg-type]

        return Objectives(
            {k: change(v) for k, v in self.by_channel.items()},
            {k: change(v) for k, v in self.by_queue.items()},
        )

    def spec(self) -> str:
        """The thresholds as the text of a KPI's ``objectives`` variant: each channel whose
        threshold differs from the default, then each queue's own (``""``: the defaults).
        Only thresholds travel (``20s`` answered within, ``4h`` a response in hours): the
        share to reach, occupancy and patience are staffing's, not the KPI's.

        Examples
        --------
        >>> objectives_from().spec()
        ''
        >>> objectives_from(
        ...     {"chat": {"threshold_s": 30}, "queue": {"VIP": {"response_h": 2}}}
        ... ).spec()
        'chat=30s; queue:VIP=2h'
        """
        parts = [
            f"{ch}={_threshold_text(o)}"
            for ch, o in sorted(self.by_channel.items())
            if ch not in DEFAULTS or _threshold_text(DEFAULTS[ch]) != _threshold_text(o)
        ]
        parts += [f"queue:{q}={_threshold_text(o)}" for q, o in sorted(self.by_queue.items())]
        for part in parts:
            if ";" in part:
                raise KpiError(f"objectives: a channel or queue name may not hold ';': {part!r}")
        return "; ".join(parts)

    def thresholds(
        self, kind: str
    ) -> tuple[float | None, dict[str, float | None], dict[str, float | None]]:
        """Per-row thresholds in seconds for objectives of ``kind`` (``erlang``: answered
        within ``threshold_s``; ``deferred``: ``response_h`` × 3600): the default (an unknown
        channel's), per channel and per queue; None where the objective is of the other kind.

        Examples
        --------
        >>> d, ch, q = objectives_from().thresholds("erlang")
        >>> d, ch["chat"], ch["email"], q
        (20.0, 60.0, None, {})
        >>> objectives_from().thresholds("deferred")[1]["email"]
        14400.0
        """

        def value(o: Objective) -> float | None:
            if o.kind != kind:
                return None
            v = o.threshold_s if kind == "erlang" else o.response_h * 3600  # type: ignore[operator]
            return float(v)  # type: ignore[arg-type]

        default = value(self.by_channel.get("voice", VOICE))
        return (
            default,
            {c: value(o) for c, o in self.by_channel.items()},
            {q: value(o) for q, o in self.by_queue.items()},
        )

    def words(self, kind: str) -> str:
        """The thresholds of ``kind`` in words, channels sharing a threshold together.

        Examples
        --------
        >>> objectives_from().words("erlang")
        'voice, callback 20 s; chat, messaging 60 s'
        >>> objectives_from({"queue": {"VIP": {"threshold_s": 10}}}).words("erlang")
        'voice, callback 20 s; chat, messaging 60 s; queue VIP 10 s'
        >>> objectives_from().words("deferred")
        'email, letter, social 4 h; ticket, tickets 8 h'
        """
        groups: dict[str, list[str]] = {}
        for ch, o in self.by_channel.items():
            if o.kind == kind:
                groups.setdefault(_threshold_words(o), []).append(ch)
        out = [f"{', '.join(chs)} {t}" for t, chs in groups.items()]
        out += [
            f"queue {q} {_threshold_words(o)}" for q, o in self.by_queue.items() if o.kind == kind
        ]
        return "; ".join(out)


def _threshold_text(o: Objective) -> str:
    return f"{o.response_h:g}h" if o.kind == "deferred" else f"{o.threshold_s:g}s"


def _threshold_words(o: Objective) -> str:
    return f"{o.response_h:g} h" if o.kind == "deferred" else f"{o.threshold_s:g} s"


def _checked(o: Objective, where: str) -> Objective:
    def bad(msg: str) -> KpiError:
        return KpiError(f"{where}: {msg}")

    for key in _KEYS:
        v = getattr(o, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or v != v):
            raise bad(f"{key} must be a number, got {v!r}")
    if o.kind == "deferred":
        if o.response_h is None or not 0 < o.response_h <= 24 * 14:
            raise bad(f"response_h must be above 0 and at most 336 hours, got {o.response_h!r}")
        return o
    if o.service_level is None or not 0 < o.service_level < 1:
        raise bad(f"service_level must be above 0 and below 1, got {o.service_level!r}")
    if o.threshold_s is None or not 0 <= o.threshold_s <= 3600:
        raise bad(f"threshold_s must be from 0 to 3600 seconds, got {o.threshold_s!r}")
    if o.max_occupancy is not None and not 0 < o.max_occupancy <= 1:
        raise bad(f"max_occupancy must be above 0 and at most 1, got {o.max_occupancy!r}")
    if o.patience_s is not None and not 0 < o.patience_s <= 86_400:
        raise bad(f"patience_s must be above 0 and at most a day, got {o.patience_s!r}")
    return o


def _objective(spec: Any, base: Objective, where: str) -> Objective:
    if not isinstance(spec, Mapping):
        raise KpiError(f"{where} must be a table of service_level, threshold_s or response_h")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise KpiError(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(_KEYS))}")
    if "response_h" in spec:
        o = Objective(
            kind="deferred", service_level=None, threshold_s=None, response_h=spec["response_h"]
        )
    elif base.kind == "deferred" and not (set(spec) & {"service_level", "threshold_s"}):
        o = base
    else:
        start = VOICE if base.kind == "deferred" else base
        o = replace(start, **{k: v for k, v in spec.items() if k != "response_h"})
    return _checked(o, where)


def objectives_from(
    spec: Mapping[str, Any] | None = None, *, source: str = "objectives"
) -> Objectives:
    """Objectives from the ``[objectives]`` table of a targets file (None: the defaults).

    Raises
    ------
    KpiError
        For a key that is not an objective, or a value out of range, naming the table.
    """
    by_channel = dict(DEFAULTS)
    by_queue: dict[str, Objective] = {}
    for key, value in (spec or {}).items():
        if key == "queue":
            if not isinstance(value, Mapping):
                raise KpiError(f"{source}: [objectives.queue] must hold one table per queue")
            for queue, sub in value.items():
                # a queue starts from the voice objective unless its table says otherwise
                by_queue[str(queue)] = _objective(
                    sub, VOICE, f"{source} [objectives.queue.{queue}]"
                )
        else:
            channel = str(key)
            by_channel[channel] = _objective(
                value, DEFAULTS.get(channel, VOICE), f"{source} [objectives.{channel}]"
            )
    return Objectives(by_channel, by_queue)


def objectives_from_spec(text: str, *, source: str = "objectives") -> Objectives:
    """Objectives from the text of a KPI's ``objectives`` variant (:meth:`Objectives.spec`):
    ``<channel>=<n>s``, ``<channel>=<n>h`` or ``queue:<name>=...``, separated by ``;``
    (a bare number is seconds). ``""``: the defaults.

    Examples
    --------
    >>> o = objectives_from_spec("chat=30s; email=24h; queue:West Sales=15")
    >>> o.for_queue("North Chat", "chat").text(), o.for_queue("Email", "email").text()
    ('80% in 30 s', 'response in 24 h')
    >>> o.for_queue("West Sales", "voice").text(), o.spec()
    ('80% in 15 s', 'chat=30s; email=24h; queue:West Sales=15s')
    >>> objectives_from_spec("chat=soon")
    Traceback (most recent call last):
    kpi.errors.KpiError: objectives: 'chat=soon' is not <channel>=<seconds>s, <channel>=<hours>h or queue:<name>=...
    """
    spec: dict[str, Any] = {}
    for part in (p.strip() for p in str(text).split(";")):
        if not part:
            continue
        name, eq, value = part.rpartition("=")
        name, value = name.strip(), value.strip().lower()
        unit = value[-1:] if value[-1:] in ("s", "h") else "s"
        try:
            number = float(value[:-1] if value[-1:] in ("s", "h") else value)
        except ValueError:
            number = None
        if not eq or not name or number is None or name == "queue:":
            raise KpiError(
                f"{source}: {part!r} is not <channel>=<seconds>s, <channel>=<hours>h or "
                "queue:<name>=..."
            )
        key = "response_h" if unit == "h" else "threshold_s"
        if name.startswith("queue:"):
            spec.setdefault("queue", {})[name[len("queue:") :].strip()] = {key: number}
        else:
            spec[name] = {key: number}
    return objectives_from(spec, source=source)
