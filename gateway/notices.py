"""Which notices an incident event writes to the outbox, in the same transaction.

Webhooks get every event. Chat destinations get a card when the incident opens; the people
paged get it as a direct message on every chat platform they are linked on; and every later
event updates every card already posted, on every platform at once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.bots import bot_message, bot_platforms, bots_for
from gateway.config import BOT_KINDS, Destination, Settings
from gateway.direct import DIRECT, direct_notice
from gateway.domain import Incident, JSONObject, TimelineEntry
from gateway.escalation import level_of
from gateway.links import LinkSigner
from gateway.policies import EscalateIf, LevelSettings, PreferenceStep
from gateway.templates import event_type, render, variables
from gateway.wire import card_json, entry_json, incident_json
from storage import repo
from storage.repo import MessageRef

# Events that page the incident's assignees directly.
PAGING_EVENTS = frozenset(
    {"triggered", "paged", "escalated", "assigned", "reopened", "snooze_expired", "reminded"}
)
# Events that start a policy level: its group chats get the card.
LEVEL_EVENTS = frozenset({"triggered", "paged", "escalated", "reopened", "snooze_expired"})


@dataclass(frozen=True)
class Audience:
    """What a transaction knows about where cards already are and who can get a DM."""

    refs: Mapping[int, Sequence[MessageRef]] = field(default_factory=dict)
    accounts: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)


NOBODY = Audience()


async def load_audience(
    conn: AsyncConnection, settings: Settings, incidents: Iterable[int], members: Iterable[str]
) -> Audience:
    """Cards posted for ``incidents`` and the chat accounts of ``members`` (two queries)."""
    platforms = sorted(settings.chat_platforms() | bot_platforms(settings))
    if not platforms:
        return NOBODY
    return Audience(
        refs=await repo.message_refs_for(conn, sorted(set(incidents))),
        accounts=await repo.accounts_for_members(conn, sorted(set(members)), platforms),
    )


def notices_for(
    settings: Settings,
    incident: Incident,
    entry: TimelineEntry,
    now: datetime,
    audience: Audience = NOBODY,
) -> list[dict[str, Any]]:
    """Delivery rows for one incident event."""
    service = settings.services.get(incident.service)
    if service is None:
        return []
    base = settings.server.base_url
    page = f"{base}/incidents/{incident.number}"
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "event": f"incident.{entry.kind}",
        "entry": entry_json(entry),
    }
    rows: list[dict[str, Any]] = []

    def add(
        channel: str,
        destination: dict[str, Any],
        payload: dict[str, Any],
        target: str | None = None,
        delay_min: float = 0.0,
        page_while: EscalateIf | None = None,
    ) -> None:
        # Worded for whoever reads it: a member's own language in their DM, else the server's.
        reader = destination.get("member") or destination.get("reader")
        lang = settings.language_of(reader if isinstance(reader, str) else None)
        rows.append(
            {
                "incident_id": incident.number,
                "channel": channel,
                "destination": destination,
                "payload": {"lang": lang, **payload},
                "state": "pending",
                "attempts": 0,
                "due_at": now + timedelta(minutes=delay_min),
                "created_at": now,
                "target": target,
                "page_while": page_while if delay_min else None,
            }
        )

    cards: dict[str, JSONObject] = {}
    failed: dict[str, str] = {}

    def card_for(platform: str) -> JSONObject:
        """The card JSON for ``platform``, with the service's templated body if it has one."""
        if platform not in cards:
            base = cards.get("") or card_json(incident)
            cards[""] = base
            cards[platform] = base
            source = (
                service.templates.source(platform, event_type(entry.kind))
                if (
                    service.templates is not None
                    and platform in type(service.templates).model_fields
                )
                else None
            )
            if source is not None:
                names = {m: s.name or m for m, s in settings.members.items()}
                done = render(
                    service.templates,
                    platform,
                    event_type(entry.kind),
                    variables(
                        incident,
                        event=entry.kind,
                        detail_url=page,
                        actor=entry.actor,
                        member_names=names,
                        is_reminder=entry.kind == "reminded",
                        now=now,
                    ),
                )
                cards[platform] = {**base, "body": done.text}
                if done.error:
                    failed[platform] = done.error
        return cards[platform]

    if service.card_buttons is not None:
        event["buttons"] = [verb.value for verb in service.card_buttons]
    platforms = settings.chat_platforms()
    level = level_of(incident)
    chats: list[tuple[str, Destination, bool]] = [
        (f"services.{incident.service}.notify[{i}]", d, entry.kind == "triggered")
        for i, d in enumerate(service.notify)
    ]
    if level is not None and entry.kind in LEVEL_EVENTS:
        chats += [
            (f"destinations.{name}", settings.destinations[name], True)
            for name in level.chats
            if name in settings.destinations
        ]
    carded = {(r.platform, r.chat_id) for r in audience.refs.get(incident.number, ())}
    for ref, dest, post in chats:
        if dest.kind in BOT_KINDS:
            continue  # below: bots hear of every event, not only of openings
        if dest.severities is not None and incident.severity not in dest.severities:
            continue
        if dest.kind == "webhook":
            add(
                "webhook",
                {"url": str(dest.url), "ref": ref},
                {**event, "incident": incident_json(incident), "url": page},
            )
        elif post and dest.kind in platforms and (dest.kind, dest.chat) not in carded:
            carded.add((dest.kind, str(dest.chat)))
            add(
                dest.kind,
                {"chat": dest.chat, "ref": ref},
                {**event, "op": "post", "incident": card_for(dest.kind), "url": page},
            )
    for ref, dest in bots_for(settings, service, incident):
        message = bot_message(
            settings, service, incident, entry, dest, audience.accounts, page, now
        )
        if message is None:
            continue
        # A bot posting to several chats sends one delivery each: a retry reaches only the
        # chat that failed, and each chat keeps to its own cap.
        chats_of_bot: list[str | None] = [*dest.chat_ids] or [None]
        for chat in chats_of_bot:
            where = {"ref": ref, "alias": dest.alias, **({"chat": chat} if chat else {})}
            flagged = (
                {"template_error": message["template_error"]} if "template_error" in message else {}
            )
            add(dest.kind, where, {**event, "message": message, **flagged})

    def member_link(member: str) -> str:
        return personal_link(settings, member, incident.number, now)

    if entry.kind in PAGING_EVENTS:
        # A person taken off the policy's path (assigned by hand) follows their own ways.
        paging_level = level if entry.kind != "assigned" else None
        page_while: EscalateIf = paging_level.escalate_if if paging_level else "unacked"
        if entry.kind == "reminded":
            event["reminder"] = True
        for member in incident.assignees:
            accounts = dict(audience.accounts.get(member, ()))
            for step in reach(settings, incident, member, paging_level):
                if step.channel in DIRECT:
                    found = direct_notice(
                        settings,
                        service,
                        incident,
                        entry,
                        member,
                        step.channel,
                        member_link(member),
                        now,
                    )
                    if found is not None:
                        add(
                            step.channel,
                            found[0],
                            {**event, **found[1]},
                            delay_min=step.delay_min,
                            page_while=page_while,
                        )
                    continue
                user_id = accounts.get(step.channel)
                if user_id is None or not _platform_flag(settings, step.channel, "dm_assignees"):
                    continue
                card = card_for(step.channel)
                add(
                    step.channel,
                    {"dm": user_id, "member": member},
                    {**event, "op": "post", "incident": card, "url": member_link(member)},
                    delay_min=step.delay_min,
                    page_while=page_while,
                )
    for posted in audience.refs.get(incident.number, ()):
        url = member_link(posted.member) if posted.member else page
        # In a direct message, say whose: updates and replies share that chat's cap.
        reader = {"reader": posted.member} if posted.member else {}
        add(
            posted.platform,
            {"chat": posted.chat_id, "message": posted.message_id, **reader},
            {**event, "op": "update", "incident": card_for(posted.platform), "url": url},
            target=f"{posted.platform}:{posted.chat_id}:{posted.message_id}",
        )
        if _platform_flag(settings, posted.platform, "thread_replies"):
            add(
                posted.platform,
                {"chat": posted.chat_id, "message": posted.message_id, **reader},
                {**event, "op": "reply"},
            )
    # A template that failed fell back to the built-in wording; the card says so on the
    # incident's timeline once it is delivered (see the outbox).
    for row in rows:
        error = failed.get(row["channel"])
        if error and row["payload"].get("op") in ("post", "update"):
            row["payload"] = {**row["payload"], "template_error": error}
    return rows


@functools.lru_cache(maxsize=4)
def _signer(secret_key: str) -> LinkSigner:
    return LinkSigner(secret_key)


def personal_link(settings: Settings, member: str, number: int, now: datetime) -> str:
    """The incident page signed for ``member``: it acts as them, without a login."""
    signer = _signer(settings.server.secret_key.get_secret_value())
    ttl = timedelta(hours=settings.server.link_ttl_h)
    return signer.url(settings.server.base_url, member, number, now, ttl)


def reach(
    settings: Settings, incident: Incident, member: str, level: LevelSettings | None
) -> list[PreferenceStep]:
    """How ``member`` is paged for ``incident``: the level's channels, else their preferences
    for its severity, else the service's, else every chat platform they are linked on."""
    if level is not None and level.channels is not None:
        return [PreferenceStep(channel=c) for c in level.channels]
    person = settings.members.get(member)
    mine = person.preferences.get(incident.severity) if person else None
    if mine:
        return mine
    service = settings.services.get(incident.service)
    shared = service.preferences.get(incident.severity) if service else None
    if shared:
        return shared
    return [PreferenceStep(channel=c) for c in sorted(settings.chat_platforms())]


def _platform_flag(settings: Settings, platform: str, flag: str) -> bool:
    """A chat platform's on/off setting (``dm_assignees``, ``thread_replies``); on if absent."""
    section = getattr(settings, platform, None)
    return bool(getattr(section, flag, True))


def _drawn_before(incident: Incident, shown: JSONObject) -> bool:
    """Whether the card ``shown`` predates a change to ``incident`` (its row, no details)."""
    now = incident_json(incident)
    return any(
        now.get(key) != shown.get(key)
        for key in (
            "status",
            "severity",
            "title",
            "acked_by",
            "closed_by",
            "assignees",
            "alert_count",
            "snoozed_until",
            "updated_at",
        )
    )


async def catch_up(
    conn: AsyncConnection,
    settings: Settings,
    posted: Sequence[tuple[JSONObject, JSONObject]],
    now: datetime,
) -> bool:
    """Cards that landed after their incident changed again get an update right away.

    The change's own notices could not reach them: the card's message id was not known yet.
    """
    wrote = False
    # One query tells which incidents changed since their card was drawn; only those are
    # loaded in full (a storm posts hundreds of cards a second, nearly all still current).
    current = await repo.load_incidents(conn, sorted({ref["incident_id"] for ref, _ in posted}))
    for ref, payload in posted:
        shown = payload.get("incident") or {}
        found = current.get(ref["incident_id"])
        if found is None or not _drawn_before(found, shown):
            continue
        incident = await repo.load_incident(conn, ref["incident_id"], details=True)
        if incident is None or card_json(incident) == shown:
            continue
        latest = incident.timeline[-1]
        audience = Audience(
            refs={
                incident.number: [
                    MessageRef(ref["platform"], ref["chat_id"], ref["message_id"], ref["member"])
                ]
            }
        )
        rows = [
            r
            for r in notices_for(settings, incident, latest, now, audience)
            if r["payload"].get("op") == "update"
        ]
        await repo.add_deliveries(conn, rows)
        wrote = wrote or bool(rows)
    return wrote
