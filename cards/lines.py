"""Short lines every chat platform words alike: the reply under a card for each event, the list
of open incidents, and who is on call. Plain text; a platform passes ``escape`` for the parts
that come from alerts and people (titles, names, comments)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cards.build import Viewer, build_card
from cards.model import clip
from gateway import messages
from gateway.domain import Incident
from gateway.oncall import OnCall
from gateway.wire import incident_json

EVENT_LINE_MAX = 500  # one short line under the card, not a second card

Escape = Callable[[str], str]


def _same(text: str) -> str:
    return text


def event_line(
    entry: Mapping[str, Any],
    lang: str,
    *,
    escape: Escape = _same,
    max_chars: int = EVENT_LINE_MAX,
) -> str | None:
    """The one line posted under a card for a timeline entry (None: the card says it all)."""
    kind = str(entry.get("kind") or "")
    actor = entry.get("actor")
    data: Mapping[str, Any] = entry.get("data") or {}
    targets = ", ".join(str(t) for t in data.get("assignees") or ()) or "-"
    if kind == "triggered":
        return None
    if kind == "acknowledged" and actor:
        text = messages.text("acked", lang, actor=actor)
    elif kind == "closed":
        text = (
            messages.text("closed", lang, actor=actor)
            if actor
            else messages.text("card_closed_resolved", lang)
        )
    elif kind == "reopened" and actor:
        text = messages.text("reopened", lang, actor=actor)
    elif kind == "escalated":
        text = (
            messages.text("escalated", lang, actor=actor, targets=targets)
            if actor
            else messages.text("slack_thread_escalated", lang, targets=targets)
        )
    elif kind == "commented" and actor:
        comment = " ".join(str(data.get("text") or "").split())
        text = messages.text("slack_thread_commented", lang, actor=actor, text=comment)
    elif kind == "snoozed" and actor:
        until = str(data.get("until") or "?").replace("T", " ")[:16] + " UTC"
        text = messages.text("snoozed", lang, actor=actor, until=until)
    elif kind == "assigned" and actor:
        text = messages.text("assigned", lang, actor=actor, targets=targets)
    elif kind == "severity_changed" and actor:
        text = messages.text("severity_changed", lang, actor=actor, severity=data.get("to", "?"))
    elif kind == "snooze_expired":
        text = messages.text("slack_thread_snooze_expired", lang, targets=targets)
    elif kind == "escalation_exhausted":
        text = messages.text("slack_thread_exhausted", lang)
    else:
        text = _generic(kind, actor, str(entry.get("source") or "?"), lang)
    return escape(clip(text, max_chars))


def _generic(kind: str, actor: object, source: str, lang: str) -> str:
    try:
        word = messages.text(f"card_kind_{kind}", lang)
    except KeyError:
        word = kind.replace("_", " ")
    word = word[:1].upper() + word[1:]
    if actor:
        return messages.text("slack_thread_event_by", lang, kind=word, actor=actor)
    return messages.text("slack_thread_event", lang, kind=word, source=source)


def list_lines(incidents: Sequence[Incident], lang: str, *, escape: Escape = _same) -> list[str]:
    """Open incidents, a header then one line each, worded like their cards."""
    if not incidents:
        return [messages.text("slack_no_open", lang)]
    lines = [messages.text("slack_list_header", lang, count=len(incidents))]
    for incident in incidents:
        card = build_card(incident_json(incident), Viewer(lang=lang))
        assignees = ", ".join(incident.assignees)
        lines.append(
            messages.text(
                "slack_list_line",
                lang,
                emoji=card.emoji,
                title=escape(card.title),
                status=escape(card.status_line),
                assignees=f" · {escape(assignees)}" if assignees else "",
            )
        )
    return lines


def who_lines(
    incidents: Sequence[Incident],
    lang: str,
    on_call: Sequence[OnCall] = (),
    *,
    escape: Escape = _same,
) -> list[str]:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    lines: list[str] = []
    if on_call:
        lines.append(messages.text("slack_who_oncall_header", lang))
    nobody = messages.text("slack_who_nobody_paged", lang)
    lines.extend(
        messages.text(
            f"slack_who_{entry.kind}",
            lang,
            name=escape(entry.name),
            policy=f" ({escape(entry.policy)})" if entry.policy else "",
            members=escape(", ".join(entry.members)) or nobody,
        )
        for entry in on_call
    )
    by_member: dict[str, list[str]] = {}
    for incident in incidents:
        for member in incident.assignees:
            by_member.setdefault(member, []).append(f"#{incident.number}")
    if not by_member:
        lines.append(messages.text("slack_who_nobody", lang))
        return lines
    lines.append(messages.text("slack_who_header", lang))
    lines.extend(
        messages.text("slack_who_line", lang, member=escape(member), incidents=", ".join(numbers))
        for member, numbers in sorted(by_member.items())
    )
    return lines
