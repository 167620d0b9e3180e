"""Card → DingTalk's template-free interactive card (``cardTemplateId = "StandardCard"``): the
``cardData`` JSON a robot sends with ``interactiveCards/send`` and replaces with a PUT."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from cards import callback
from cards.model import (
    Button,
    ButtonStyle,
    Card,
    DigestCard,
    DigestEntry,
    Field,
    Link,
    clip,
    shortened,
)
from gateway.domain import JSONObject

TEMPLATE_ID = "StandardCard"
# Not published in our notes: the robot APIs take about 20 KB of request, and the card
# travels inside it as a JSON string. The same budget as the DingTalk bots' messages.
CARD_MAX_BYTES = 18_000
TITLE_MAX = 150
STATUS_MAX = 300
SUMMARY_MAX = 2_000
SUMMARY_MIN = 100  # shorter than this says nothing: the summary goes instead
FIELD_LABEL_MAX = 64
FIELD_VALUE_MAX = 300
FIELDS_MAX = 20
ENTRY_MAX = 200
BUTTON_TEXT_MAX = 20  # not published; DingTalk's buttons are narrow on phones
LINKS_MAX = 6
URL_MAX = 2_048  # an over-long URL is left out (the incident page carries every link)

# The ``status`` a StandardCard button takes: primary (blue), warning (red), normal (grey).
STATUSES: Mapping[ButtonStyle, str] = {
    "primary": "primary",
    "danger": "warning",
    "default": "normal",
}
DIGEST_ID = "incidents"
HINT_ID = "hint"
# A markdown link's URL ends at the first ")": the incident page's never has one, but an
# escaped one cannot end the link early.
_LINK_URL = str.maketrans({"(": "%28", ")": "%29"})
ACTIONS_ID = "actions"  # the row of verb buttons; each button's ``id`` is its callback data
LINKS_ID = "links"

# DingTalk's markdown escaping rules are not documented, so no escape sequence can be
# trusted to be undone when shown. A zero-width space after each character that opens a
# link, image, tag, entity or code span breaks the syntax while looking the same: an alert
# cannot forge a link (``[x](…)``), style text with ``<font>`` or ``&`` entities.
_ZWSP = "\u200b"
_SYNTAX = re.compile(r"([\[\]<>&`\\!|*_~#])")


@dataclass(frozen=True, slots=True)
class _Parts:
    """What of a card's body is shown; shrunk, in order, until the card fits."""

    summary: str
    fields: tuple[Field, ...]
    timeline: tuple[str, ...]
    links: tuple[Link, ...]


def render_card(card: Card) -> JSONObject:
    """The card as StandardCard ``cardData`` (a JSON object; the API takes it as a string).

    The header is plain text. The status line, summary, fields and timeline are markdown
    with everything from the incident defused (see ``escape``). The verb buttons are
    ``actionType: "request"`` buttons whose ``id`` is ``cards.callback`` data (a click
    comes back with it in ``actionIds``); links are ``openLink`` buttons, the incident page
    first. When the card is over CARD_MAX_BYTES, the oldest timeline lines go first, then
    links after the first, then fields from the end, then the summary is cut; the header,
    the status line and the buttons always stay.

    Raises:
        ValueError: A button's callback data is over ``cards.callback.MAX_BYTES``.
    """
    links = tuple(link for link in card.links if len(link.url) <= URL_MAX)[:LINKS_MAX]
    parts = _Parts(
        summary=clip(card.summary, SUMMARY_MAX) if card.summary else "",
        fields=card.fields[:FIELDS_MAX],
        timeline=card.timeline,
        links=links,
    )
    doc = _document(card, parts)
    while size(doc) > CARD_MAX_BYTES:
        smaller = _shrink(parts)
        if smaller is None:
            break  # only the header, status and buttons are left, far below the limit
        parts = smaller
        doc = _document(card, parts)
    return doc


def render_digest(digest: DigestCard) -> JSONObject:
    """A digest card as StandardCard ``cardData``: the headline as the header, one markdown
    list item per incident (its number linked to its page, its title defused like an
    alert's text), the hint below. No buttons: each incident is acted on from its page.

    When the card would be over CARD_MAX_BYTES, titles are cut shorter, then left out.
    """
    doc: JSONObject = {}
    for shown in shortened(digest):
        doc = {
            "config": {"autoLayout": True, "enableForward": False},
            "header": {"title": _text(clip(digest.headline, TITLE_MAX))},
            "contents": [
                _markdown(DIGEST_ID, _list(_digest_line(e) for e in shown.entries)),
                _markdown(HINT_ID, escape(clip(digest.hint, SUMMARY_MAX))),
            ],
        }
        if size(doc) <= CARD_MAX_BYTES:
            break
    return doc


def card_data(doc: JSONObject) -> str:
    """``cardData`` as the robot card APIs take it: the card's JSON, as a string."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def size(doc: JSONObject) -> int:
    """Bytes the card takes inside a request: its JSON string, JSON-encoded again."""
    return len(json.dumps(card_data(doc), ensure_ascii=False).encode("utf-8"))


def escape(text: str) -> str:
    """``text`` shown as written in a DingTalk ``markdown`` element, one line.

    Line breaks become spaces (each field or timeline entry is one list item).
    """
    return _SYNTAX.sub(rf"\1{_ZWSP}", " ".join(text.split()))


def escape_block(text: str) -> str:
    """``text`` shown as written in a ``markdown`` element, its lines kept apart."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n\n".join(_SYNTAX.sub(rf"\1{_ZWSP}", line) for line in lines if line)


def _shrink(parts: _Parts) -> _Parts | None:
    if parts.timeline:
        return replace(parts, timeline=parts.timeline[1:])
    if len(parts.links) > 1:
        return replace(parts, links=parts.links[:1])
    if parts.fields:
        return replace(parts, fields=parts.fields[:-1])
    if len(parts.summary) > SUMMARY_MIN:
        return replace(parts, summary=clip(parts.summary, len(parts.summary) // 2))
    if parts.summary:
        return replace(parts, summary="")
    if parts.links:
        return replace(parts, links=())
    return None


def _document(card: Card, parts: _Parts) -> JSONObject:
    contents: list[JSONObject] = [
        _markdown("status", f"**{escape(clip(card.status_line, STATUS_MAX))}**")
    ]
    if parts.summary:
        contents.append(_markdown("summary", escape_block(parts.summary)))
    if parts.fields:
        contents.append({"type": "divider", "id": "divider"})
        contents.append(_markdown("fields", _list(_field_line(f) for f in parts.fields)))
    if parts.timeline:
        lines = (escape(clip(entry, ENTRY_MAX)) for entry in parts.timeline)
        contents.append(_markdown("timeline", _list(lines)))
    if card.buttons:
        actions = [_button(b) for b in card.buttons]
        contents.append({"type": "action", "actions": actions, "id": ACTIONS_ID})
    if parts.links:
        links = [_link_button(i, link) for i, link in enumerate(parts.links)]
        contents.append({"type": "action", "actions": links, "id": LINKS_ID})
    return {
        # Forwarding is off: a forwarded copy is never updated, its buttons would go stale.
        "config": {"autoLayout": True, "enableForward": False},
        "header": {"title": _text(clip(f"{card.emoji} {card.title}", TITLE_MAX))},
        "contents": contents,
    }


def _digest_line(entry: DigestEntry) -> str:
    """``🔴 [#42](page) title``: the number is the link, so the title is only ever text."""
    number = f"#{entry.incident}"
    if entry.url and len(entry.url) <= URL_MAX:
        number = f"[{number}]({entry.url.translate(_LINK_URL)})"
    return f"{entry.emoji} {number} {escape(entry.title)}".rstrip()


def _field_line(field: Field) -> str:
    label = escape(clip(field.label, FIELD_LABEL_MAX))
    return f"**{label}**: {escape(clip(field.value, FIELD_VALUE_MAX))}"


def _list(lines: Iterable[str]) -> str:
    """Markdown list items: each on its own line, whatever the renderer does with ``\\n``."""
    return "\n".join(f"- {line}" for line in lines)


def _button(button: Button) -> JSONObject:
    data = button.data
    if len(data.encode()) > callback.MAX_BYTES:
        raise ValueError(f"callback data over {callback.MAX_BYTES} bytes: {data!r}")
    return {
        "type": "button",
        "label": _text(clip(button.label, BUTTON_TEXT_MAX)),
        "actionType": "request",
        "status": STATUSES[button.style],
        "id": data,
    }


def _link_button(index: int, link: Link) -> JSONObject:
    return {
        "type": "button",
        "label": _text(clip(link.label, BUTTON_TEXT_MAX)),
        "actionType": "openLink",
        "url": {"all": link.url},
        "status": "normal",
        "id": f"link_{index}",
    }


def _text(text: str) -> JSONObject:
    """Text DingTalk shows as is: no markdown."""
    return {"type": "text", "text": text}


def _markdown(element_id: str, text: str) -> JSONObject:
    return {"type": "markdown", "text": text, "id": element_id}
