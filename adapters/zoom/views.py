"""What the bot shows on Zoom: an incident's card, with the members its Escalate dropdown
offers."""

from __future__ import annotations

from collections.abc import Mapping

from cards.build import Viewer, build_card
from cards.render.zoom import Member, render_content
from gateway.config import MemberSettings
from gateway.domain import JSONObject


def choices(members: Mapping[str, MemberSettings]) -> list[Member]:
    """The members the Escalate dropdown offers: ``(name, "Display name (name)")``, by name."""
    return [
        (name, f"{member.name} ({name})" if member.name and member.name != name else name)
        for name, member in sorted(members.items())
    ]


def card_content(
    incident: JSONObject, viewer: Viewer, members: Mapping[str, MemberSettings]
) -> JSONObject:
    """``incident`` (``card_json`` shape) as a chatbot message's ``content``."""
    card = build_card(incident, viewer)
    return render_content(card, members=choices(members), lang=viewer.lang)
