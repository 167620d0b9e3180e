"""When a page to a person fails for good — a token revoked, a user gone, a call unanswered —
the same notice goes out on the person's next channel, and the timeline says so."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.config import Settings
from gateway.direct import DIRECT, direct_notice
from gateway.domain import Incident, JSONObject, Status, TimelineEntry
from gateway.notices import personal_link
from gateway.runtime import Runtime
from storage import repo

log = logging.getLogger(__name__)

DEFAULT_FALLBACK = ("sms", "email")


@dataclass(frozen=True, slots=True)
class Failure:
    """A delivery to a person that will not arrive."""

    delivery_id: int
    incident_id: int
    channel: str
    destination: JSONObject
    payload: JSONObject
    error: str


def next_channels(
    settings: Settings, incident: Incident, member: str, tried: Sequence[str]
) -> list[str]:
    """The member's fallback channels (theirs, else the service's, else SMS then email) that
    are set up here and not tried yet for this notice, in order."""
    person = settings.members.get(member)
    service = settings.services.get(incident.service)
    order: Sequence[str] = DEFAULT_FALLBACK
    if service is not None and service.fallback is not None:
        order = service.fallback
    if person is not None and person.fallback is not None:
        order = person.fallback
    available = settings.direct_channels()
    return [c for c in order if c in available and c not in tried]


async def after_failures(
    conn: AsyncConnection, settings: Settings, failed: Sequence[Failure], now: datetime
) -> bool:
    """Write, for each failed page, the notice on the member's next channel and a timeline
    entry saying what failed and how the person is reached instead; returns whether it wrote
    any delivery."""
    wrote = False
    for failure in failed:
        member = failure.destination.get("member")
        if not member or failure.payload.get("op") not in (None, "post"):
            continue  # not a page to a person (a group chat, a card update)
        incident = await repo.load_incident(conn, failure.incident_id, details=True)
        if incident is None or incident.status is Status.CLOSED:
            continue
        tried = [*failure.payload.get("tried", ()), failure.channel]
        row = await _next_notice(conn, settings, incident, str(member), failure, tried, now)
        entry: JSONObject = {
            "incident_id": incident.number,
            "at": now,
            "kind": "fallback",
            "actor": None,
            "source": failure.channel,
            "data": {
                "member": member,
                "failed": failure.channel,
                "error": failure.error[:300],
                "sent_by": row["channel"] if row else None,
            },
        }
        await repo.add_timeline(conn, [entry])
        if row is not None:
            await repo.add_deliveries(conn, [row])
            wrote = True
        log.warning(
            "%s to %s failed for incident #%s (%s); %s",
            failure.channel,
            member,
            incident.number,
            failure.error,
            f"sent by {row['channel']}" if row else "no other way to reach them",
        )
    return wrote


async def _next_notice(
    conn: AsyncConnection,
    settings: Settings,
    incident: Incident,
    member: str,
    failure: Failure,
    tried: list[str],
    now: datetime,
) -> dict[str, Any] | None:
    """The delivery row on the first fallback channel that can reach ``member``."""
    accounts = dict(
        (await repo.accounts_for_members(conn, [member], sorted(settings.chat_platforms()))).get(
            member, ()
        )
    )
    url = personal_link(settings, member, incident.number, now)
    entry = (
        incident.timeline[-1]
        if incident.timeline
        else TimelineEntry(at=incident.created_at, kind="triggered", actor=None, source="fallback")
    )
    keep = {k: failure.payload[k] for k in ("event_id", "event") if k in failure.payload}
    for channel in next_channels(settings, incident, member, tried):
        if channel in DIRECT:
            found = direct_notice(
                settings,
                settings.services.get(incident.service),
                incident,
                entry,
                member,
                channel,
                url,
                now,
            )
            if found is None:
                tried.append(channel)
                continue
            destination, payload = found
        elif channel in accounts:
            destination = {"dm": accounts[channel], "member": member}
            payload = {"op": "post", "incident": failure.payload.get("incident"), "url": url}
        else:
            tried.append(channel)
            continue
        return {
            "incident_id": incident.number,
            "channel": channel,
            "destination": destination,
            "payload": {**keep, **payload, "tried": tried},
            "state": "pending",
            "attempts": 0,
            "due_at": now,
            "created_at": now,
            "target": None,
            "page_while": None,
        }
    return None


async def not_reached(rt: Runtime, delivery_id: int, reason: str) -> None:
    """A delivery the platform took but the person never got (an unanswered call, an SMS the
    carrier dropped): mark it and reach the person the next way."""
    async with rt.db.write() as conn:
        row = await repo.get_delivery(conn, delivery_id)
        if row is None or row["state"] == "not_reached":
            return  # unknown, or a repeated callback
        await repo.mark_not_reached(conn, delivery_id, reason)
        failure = Failure(
            delivery_id,
            row["incident_id"],
            row["channel"],
            dict(row["destination"] or {}),
            dict(row["payload"] or {}),
            reason,
        )
        wrote = await after_failures(conn, rt.settings, [failure], rt.clock.now())
    if wrote:
        rt.wake_outbox()
