"""Notices to one person outside chat — a text message, a phone call, an email — worded by the
service's templates and addressed to the member's phone or email."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.config import ServiceSettings, Settings
from gateway.domain import Incident, TimelineEntry
from gateway.templates import event_type, render, variables
from gateway.wire import card_json

DIRECT = ("sms", "voice", "email")


def address(settings: Settings, member: str, channel: str) -> str | None:
    """Where ``member`` is reached on ``channel``: their phone, or their email."""
    person = settings.members.get(member)
    if person is None:
        return None
    if channel == "email":
        return person.email
    if not person.phone:
        return None
    # "+1 (555) 010-0001" as people write it; providers want E.164: "+15550100001".
    digits = "".join(ch for ch in person.phone if ch.isdigit())
    return f"+{digits}" if person.phone.strip().startswith("+") else digits


def direct_notice(
    settings: Settings,
    service: ServiceSettings | None,
    incident: Incident,
    entry: TimelineEntry,
    member: str,
    channel: str,
    url: str,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(destination, payload)`` of one notice to ``member`` on ``channel``, or None when the
    member has no phone (or email) to reach them by."""
    to = address(settings, member, channel)
    if not to:
        return None
    names = {m: s.name or m for m, s in settings.members.items()}
    values = variables(
        incident,
        event=entry.kind,
        detail_url=url,
        actor=entry.actor,
        member_names=names,
        is_reminder=entry.kind == "reminded",
        now=now,
    )
    event = "reminder" if entry.kind == "reminded" else event_type(entry.kind)
    templates = service.templates if service is not None else None
    payload: dict[str, Any] = {
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "url": url,
        "thread": f"incident-{incident.number}",
        "lang": settings.language_of(member),
    }
    errors: list[str] = []
    if channel == "email":
        subject = render(templates, "email_subject", event, values)
        body = render(templates, "email_text", event, values)
        payload.update(subject=subject.text, body_text=body.text, incident=card_json(incident))
        errors += [e for e in (subject.error, body.error) if e]
    else:
        text = render(templates, channel, event, values)
        payload["text"] = text.text
        errors += [text.error] if text.error else []
    if errors:
        payload["template_error"] = "; ".join(errors)
    return {"member": member, "to": to}, payload
