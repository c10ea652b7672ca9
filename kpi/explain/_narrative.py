"""The narrative: three to six plain sentences from the drivers and segments."""

from __future__ import annotations

from kpi._format import format_change, format_value
from kpi.explain._model import Explanation, Segment, _pct

__all__ = ["narrative"]


def _dimension_word(column: str) -> str:
    """``agent_id`` reads as "agent" in a sentence; other columns with spaces for underscores."""
    return {"agent_id": "agent"}.get(column, column.replace("_", " "))


def _segment_name(seg: Segment, *, starts_sentence: bool = True) -> str:
    """``Team North and topic billing``: dimension words, values exactly as in the data (only
    the first letter of a sentence is capitalised, never a value)."""
    name = " and ".join(f"{_dimension_word(k)} {v}" for k, v in seg.dims.items())
    return name[:1].upper() + name[1:] if starts_sentence else name


def _segment_sentences(exp: Explanation) -> list[str]:
    """What the segments say, honestly: a broad change, one or a few causes, or offsetting parts."""
    u = exp.unit
    ranked = [s for s in exp.segments if s.selected] or exp.segments
    broad: list[str] = []
    if ranked and not ranked[0].dims:
        broad = [
            "Part of the change is broad: every team, channel, queue and topic moved together "
            "(a centre-wide cause, or a shorter or longer period)."
        ]
    named = [s for s in ranked if s.dims]
    if broad and not any(0 < (s.share or 0) <= 1.5 for s in named):
        return broad
    helping = [s for s in named if 0 < (s.share or 0) <= 1.5]
    if not helping:
        if named:
            top = named[0]
            return [
                f"{_segment_name(top)} moved most ({format_value(top.baseline, u)} to "
                f"{format_value(top.current, u)}), but other segments moved the opposite "
                "way, so the total changed little."
            ]
        return [
            "No small set of teams, channels or topics explains most of the change: it is spread "
            "across the centre, so look at centre-wide causes."
        ]
    top = helping[0]
    seg_method = exp.method.get("segments")
    what = "the rest" if isinstance(seg_method, dict) and seg_method.get("pace") else "the change"
    sentence = f"{_segment_name(top)} explains {_pct(top.share)} of {what}"
    if top.baseline is not None and top.current is not None:
        sentence += f" ({format_value(top.baseline, u)} to {format_value(top.current, u)})"
    if top.mix is not None and top.baseline is None:
        sentence += f"; it is new in {exp.current['period']}"
    elif top.mix is not None and top.rate is not None:
        kind = (
            "its own rate changed"
            if abs(top.rate) >= abs(top.mix)
            else "its share of the volume changed (mix)"
        )
        sentence += f"; mostly because {kind}"
    out = [*broad, sentence + "."]
    others = [s for s in helping[1:3] if (s.share or 0) >= 0.1]
    if others:
        out.append(
            "Also: "
            + "; ".join(
                f"{_segment_name(s, starts_sentence=False)} ({_pct(s.share)})" for s in others
            )
            + "."
        )
    explained = sum(s.share or 0.0 for s in helping)
    if explained < 0.5:
        out.append(
            f"Together these explain only {_pct(explained)}: the rest is spread across the centre."
        )
    return out


def _segment_driver_sentence(exp: Explanation) -> list[str]:
    """``Within team North: agents staffed 27 to 12 (...), average handle time ...``."""
    sd = exp.segment_drivers
    if not sd or not sd.get("drivers"):
        return []
    main = sorted(sd["drivers"], key=lambda d: -abs(d["contribution"]))[:3]
    parts = [
        f"{d['label']} {format_value(d['baseline'], d['unit'])} to {format_value(d['current'], d['unit'])}"
        for d in main
        if d["baseline"] is not None
        and d["current"] is not None
        and abs(d.get("share") or 0) >= 0.1
    ]
    if not parts:
        return []
    name = " and ".join(f"{k} {v}" for k, v in sd["dims"].items())
    return [f"Within {name}: " + "; ".join(parts) + "."]


def narrative(exp: Explanation) -> list[str]:
    """Three to six plain sentences a manager can act on.

    Examples
    --------
    >>> e = Explanation(
    ...     "contacts_handled",
    ...     "Contacts handled",
    ...     "count",
    ...     "higher",
    ...     "d",
    ...     {"period": "2026-01", "value": 12410.0},
    ...     {"period": "2026-02", "value": 9330.0},
    ...     {"absolute": -3080.0, "relative": -0.248},
    ...     [],
    ...     [],
    ...     [],
    ... )
    >>> narrative(e)[0]
    'Contacts handled fell 24.8% from 2026-01 to 2026-02 (12,410 to 9,330).'
    """
    u = exp.unit
    v0, v1 = exp.baseline["value"], exp.current["value"]
    d = exp.change["absolute"] or 0.0
    rel = exp.change["relative"]
    scale = max(abs(v0), abs(v1), 1e-12)
    if abs(d) <= 1e-9 * scale:
        return [
            f"{exp.label} did not change from {exp.baseline['period']} to {exp.current['period']} ({format_value(v0, u)})."
        ]
    verb = "rose" if d > 0 else "fell"
    how = (
        f" {abs(rel) * 100:.1f}%"
        if rel is not None and u not in ("ratio",)
        else (f" {format_change(d, u)}" if u == "ratio" else "")
    )
    out = [
        f"{exp.label} {verb}{how} from {exp.baseline['period']} to {exp.current['period']} "
        f"({format_value(v0, u)} to {format_value(v1, u)})."
    ]
    pace = (
        exp.method.get("segments", {}).get("pace")
        if isinstance(exp.method.get("segments"), dict)
        else None
    )
    if pace and exp.unit == "count":
        days0, days1 = exp.method["segments"]["days"]
        calendar = v0 * pace - v0
        has = "holds data for" if exp.method["segments"].get("covered") else "has"
        out.append(
            f"{exp.current['period']} {has} {days1} days against {days0}: at the same daily pace that "
            f"alone is {format_value(calendar, u, signed=True)}; the segments below explain the rest "
            f"({format_value(v1 - v0 * pace, u, signed=True)})."
        )
    out += _segment_sentences(exp)
    out += _segment_driver_sentence(exp)
    main = sorted(
        (x for x in exp.drivers if x.share is not None), key=lambda x: -abs(x.contribution)
    )
    for drv in main[:2]:
        if abs(drv.share or 0) < 0.1:
            continue
        share = drv.share or 0.0
        effect = (
            f"accounting for {_pct(share)} of the change"
            if share > 0
            else f"offsetting {_pct(-share)} of the change"
        )
        if drv.baseline is not None and drv.current is not None:
            moved = "up" if drv.current > drv.baseline else "down"
            out.append(
                f"Driver: {drv.label} went {moved} from {format_value(drv.baseline, drv.unit)} "
                f"to {format_value(drv.current, drv.unit)}, {effect}."
            )
        else:
            out.append(f"Driver: {drv.label}, {effect}.")
    return out[:6]
