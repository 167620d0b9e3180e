"""What the bot shows: message activities carrying a card or a line of text, and an
incident's card as it is now."""

from __future__ import annotations

from collections.abc import Mapping

from cards.build import Viewer, build_card
from cards.model import clip
from cards.render.teams import Member, attachment, render_card
from gateway import queries
from gateway.config import MemberSettings
from gateway.domain import JSONObject, Verb
from gateway.runtime import Runtime
from gateway.wire import card_json

LANG = "en"
SUMMARY_MAX = 100  # the notification preview of a card message
TEXT_MAX = 4000  # a reply is a line or a short list, never a wall


def choices(members: Mapping[str, MemberSettings]) -> list[Member]:
    """The members an Escalate form offers: ``(name, "Display name (name)")``, by name."""
    return [
        (name, f"{member.name} ({name})" if member.name and member.name != name else name)
        for name, member in sorted(members.items())
    ]


def card_message(card: JSONObject, summary: str) -> JSONObject:
    """A message activity holding one Adaptive Card."""
    return {
        "type": "message",
        "summary": clip(summary, SUMMARY_MAX),
        "attachments": [attachment(card)],
    }


def text_message(text: str) -> JSONObject:
    """A message activity of plain text (nothing in it is read as Markdown or a mention)."""
    return {"type": "message", "text": clip(text, TEXT_MAX), "textFormat": "plain"}


def incident_card(
    incident: JSONObject,
    *,
    link: str | None,
    members: Mapping[str, MemberSettings],
    buttons: frozenset[Verb] | None = None,
    lang: str = LANG,
) -> tuple[JSONObject, str]:
    """``incident`` (``card_json`` shape) as an Adaptive Card, and its one-line fallback."""
    card = build_card(incident, Viewer(lang=lang, link=link, buttons=buttons))
    return render_card(card, lang, members=choices(members), refresh=True), card.fallback


async def current_card(rt: Runtime, number: int, link: str | None) -> JSONObject | None:
    """The card of incident ``number`` as it is now; None when there is no such incident, or
    when its service words Teams cards itself (the outbox's update brings that wording)."""
    incident = await queries.incident(rt, number)
    if incident is None:
        return None
    service = rt.settings.services.get(incident.service)
    if service is None or (
        service.templates is not None and service.templates.for_channel("teams")
    ):
        return None
    buttons = frozenset(service.card_buttons) if service.card_buttons is not None else None
    card, _fallback = incident_card(
        card_json(incident), link=link, members=rt.settings.members, buttons=buttons
    )
    return card
