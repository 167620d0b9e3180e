"""What a group bot is sent for an incident event: which bots hear of it, the worded message,
and who is @mentioned (through each member's linked accounts and phone)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from gateway.config import BOT_EVENTS, BOT_KINDS, Destination, ServiceSettings, Settings
from gateway.domain import Incident, JSONObject, TimelineEntry
from gateway.templates import render, variables

# Timeline kinds a bot posts about, as the bot event they count as; the rest (snoozes,
# reminders, severity edits, failures) stay off group chats.
BOT_EVENT_OF = {
    "triggered": "triggered",
    "acknowledged": "acknowledged",
    "closed": "closed",
    "reopened": "reopened",
    "snooze_expired": "reopened",
    "escalated": "escalated",
    "paged": "escalated",
    "assigned": "escalated",
    "commented": "commented",
}


def bot_platform(kind: str) -> str:
    """The platform whose account ids a bot kind mentions (``wecom_bot`` → ``wecom``)."""
    return kind.removesuffix("_bot")


def bot_platforms(settings: Settings) -> set[str]:
    """Platforms whose linked accounts some configured bot may @mention."""
    dests = [*settings.destinations.values()]
    dests += [d for s in settings.services.values() for d in s.notify]
    return {bot_platform(d.kind) for d in dests if d.kind in BOT_KINDS and d.mentions != "none"}


def bots_for(
    settings: Settings, service: ServiceSettings, incident: Incident
) -> Iterator[tuple[str, Destination]]:
    """The bots that follow ``incident``: its service's, and those of every level reached."""
    for i, dest in enumerate(service.notify):
        if dest.kind in BOT_KINDS:
            yield f"services.{incident.service}.notify[{i}]", dest
    levels: Sequence[Mapping[str, Any]] = (incident.policy or {}).get("levels") or ()
    seen: set[str] = set()
    for level in levels[: max(incident.escalation_step, -1) + 1]:
        for name in level.get("chats") or ():
            chat = settings.destinations.get(name)
            if chat is not None and chat.kind in BOT_KINDS and name not in seen:
                seen.add(name)
                yield f"destinations.{name}", chat


def bot_message(
    settings: Settings,
    service: ServiceSettings,
    incident: Incident,
    entry: TimelineEntry,
    dest: Destination,
    accounts: Mapping[str, Sequence[tuple[str, str]]],
    url: str,
    now: datetime,
) -> JSONObject | None:
    """The message for one bot, or None when its filters leave this event out.

    ``template_error`` is set when a template failed and the built-in wording was used.
    """
    event = BOT_EVENT_OF.get(entry.kind)
    if event is None or event not in (dest.events or BOT_EVENTS):
        return None
    if dest.severities is not None and incident.severity not in dest.severities:
        return None
    names = {m: s.name or m for m, s in settings.members.items()}
    done = render(
        dest.templates or service.templates,
        dest.kind,
        event,
        variables(
            incident,
            event=entry.kind,
            detail_url=url,
            actor=entry.actor,
            member_names=names,
            now=now,
        ),
    )
    platform = bot_platform(dest.kind)
    mentioned: Sequence[str] = ()
    if dest.mentions == "paged":
        mentioned = incident.assignees
    elif dest.mentions == "assignee":
        mentioned = (incident.acked_by,) if incident.acked_by else incident.assignees
    mentions = []
    for member in mentioned:
        person = settings.members.get(member)
        ids = [uid for p, uid in accounts.get(member, ()) if p == platform]
        mentions.append(
            {
                "member": member,
                "name": names.get(member, member),
                "user_id": ids[0] if ids else None,
                "phone": person.phone if person else None,
            }
        )
    text = done.text
    if dest.keyword and dest.keyword not in text and dest.keyword not in incident.title:
        text = f"{text}\n{dest.keyword}"
    message: JSONObject = {
        "number": incident.number,
        "title": f"#{incident.number} {incident.title}",
        "text": text,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "event": event,
        "url": url,
        "mentions": mentions,
        "at_all": dest.at_all,
    }
    if done.error:
        message["template_error"] = done.error
    return message
