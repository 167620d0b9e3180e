"""Card → a Zoom Team Chat chatbot message ``content`` (``head`` and ``body``), within budget.

Zoom shows this text as written: ``is_markdown_support`` is never set, so nothing from an
alert can format, mention or link. Zoom publishes no size limit for a chatbot message; the
card keeps to TEXT_MAX characters (the Zoom template budget), counted over every text, key,
value and link in it.

A digest card (``render_digest``: a storm's incidents in one message, edited in place as it
grows) keeps to the same budget and is shown as written too.

A chatbot card takes input two ways, each sent to the bot as soon as it is used: an editable
form field (``fields`` item with ``"editable": true``, sent as the
``interactive_message_fields_editable`` event with the field's ``key`` and ``newValue``) and
a dropdown (``select`` with ``select_items``, sent as ``interactive_message_select`` with the
chosen ``value``). Comment is the first, Escalate-to-a-member the second; what each event
names is read back with ``comment_incident`` and ``escalate_choice``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cards import callback
from cards.model import Button, Card, DigestCard, DigestEntry, Link, Tone, clip, shortened
from gateway import messages
from gateway.domain import JSONObject, Verb
from gateway.errors import MalformedPayload

TEXT_MAX = 4_000
HEAD_MAX = 150
SUB_HEAD_MAX = 300
SUMMARY_MAX = 1_000
FIELD_KEY_MAX = 64
FIELD_VALUE_MAX = 300
ENTRY_MAX = 200
BUTTON_TEXT_MAX = 64  # not a published limit: longer labels do not fit a button anyway
BUTTONS_MAX = 8  # one per verb at most
LINKS_MAX = 6
# Not published either: a longer URL is left out (the incident page carries every link).
URL_MAX = 2_048
MIN_CLIPPED = 16  # a summary cut shorter than this says nothing: it is left out
COUNTED = frozenset({"text", "key", "value", "link"})
# Zoom takes a blank editable field as one space ("pass in a space to make it blank").
BLANK = " "
SELECT_MAX = 1_200  # characters the Escalate dropdown may take: about 30 members
CHOICES_MAX = 50
CHOICE_TEXT_MAX = 64
# The incident a comment field is for: its key ends in " #<number>".
_COMMENT_KEY = re.compile(r".* #(?P<n>[1-9][0-9]{0,18})", re.DOTALL)

Member = tuple[str, str]  # (member name: sent back as the choice, what the dropdown shows)

# Zoom's button colours: Primary is blue, Danger red, Default white.
STYLES: Mapping[str, str] = {"primary": "Primary", "danger": "Danger", "default": "Default"}
SIDEBAR_COLORS: Mapping[Tone, str] = {
    Tone.DANGER: "#D92D20",
    Tone.WARNING: "#F79009",
    Tone.INFO: "#2E90FA",
    Tone.SUCCESS: "#12B76A",
    Tone.NEUTRAL: "#98A2B3",
}


def render_content(card: Card, *, members: Sequence[Member] = (), lang: str = "en") -> JSONObject:
    """The chatbot message ``content`` for ``card``.

    ``head`` holds the title and, as ``sub_head``, the status line; ``body`` holds a section
    (sidebar in the card's colour) with the summary, the fields and the timeline, then an
    ``actions`` element of verb buttons (``value`` = ``cards.callback`` data), then the
    inputs — Comment as an editable field instead of a button, and, when Escalate is offered
    and there are ``members`` (``(name, shown)``), an "Escalate to" dropdown of them — then
    the links. The head, the buttons, the comment field and the first link (the incident
    page) always stay; the dropdown takes what room it needs up to SELECT_MAX; what does not
    fit after them is left out: first the other links, then the timeline, then fields, and
    the summary is cut.

    Raises:
        ValueError: A button's callback data is over ``cards.callback.MAX_BYTES``.
    """
    head: JSONObject = {
        "text": clip(f"{card.emoji} {card.title}", HEAD_MAX),
        "sub_head": {"text": clip(card.status_line, SUB_HEAD_MAX)},
    }
    verbs = {b.verb for b in card.buttons}
    buttons = [_button(b) for b in card.buttons if b.verb is not Verb.COMMENT][:BUTTONS_MAX]
    comment = _comment_field(card.incident, lang) if Verb.COMMENT in verbs else None
    links = [_link(link) for link in card.links if len(link.url) <= URL_MAX][:LINKS_MAX]
    room = TEXT_MAX - size(head) - size(buttons) - size(comment) - size(links[:1])
    # Holds by the limits above (150 + 300 + 8 × 128 + 85 + 64 + 2,048 < 4,000); a guard.
    assert room >= 0, room
    select = (
        _escalate_select(card.incident, members, lang, min(room, SELECT_MAX))
        if Verb.ESCALATE in verbs
        else None
    )
    room -= size(select)

    parts: list[JSONObject] = []
    if card.summary and room >= MIN_CLIPPED:
        summary = clip(card.summary, min(SUMMARY_MAX, room))
        parts.append({"type": "message", "text": summary})
        room -= len(summary)
    items: list[JSONObject] = []
    for item in _fields(card):
        if size(item) > room:
            room = 0  # nothing after a field that did not fit: the card reads in order
            break
        items.append(item)
        room -= size(item)
    if items:
        parts.append({"type": "fields", "items": items})
    lines: list[str] = []
    for entry in card.timeline:
        line = clip(entry, ENTRY_MAX)
        cost = len(line) + (1 if lines else 0)
        if cost > room:
            room = 0
            break
        lines.append(line)
        room -= cost
    if lines:
        parts.append({"type": "message", "text": "\n".join(lines)})
    shown_links = links[:1]
    for link in links[1:]:
        if size(link) > room:
            break
        shown_links.append(link)
        room -= size(link)

    body: list[JSONObject] = []
    if parts:
        body.append(
            {"type": "section", "sidebar_color": SIDEBAR_COLORS[card.tone], "sections": parts}
        )
    if buttons:
        body.append({"type": "actions", "items": buttons, "limit": len(buttons)})
    if comment is not None:
        body.append(comment)
    if select is not None:
        body.append(select)
    body.extend(shown_links)
    return {"head": head, "body": body}


def render_digest(digest: DigestCard) -> JSONObject:
    """A digest card as chatbot message ``content``: the headline as the head; one ``message``
    per incident ("🔴 #7 title", the whole line a link to its page when it has one) in a
    section with the warning colour; the hint below it, in italics.

    Shown as written, like a card: no Markdown, so a title cannot format, mention or link.
    When the content would be over TEXT_MAX, titles are cut shorter, then left out, then (if
    the pages' links are that long) the links: every incident keeps its line.
    """
    head: JSONObject = {"text": clip(digest.headline, HEAD_MAX)}
    hint: JSONObject = {
        "type": "message",
        "text": clip(digest.hint, SUMMARY_MAX),
        "style": {"italic": True},
    }
    content: JSONObject = {}
    for linked in (True, False):
        for shown in shortened(digest):
            lines = [_digest_line(entry, linked=linked) for entry in shown.entries]
            section = {
                "type": "section",
                "sidebar_color": SIDEBAR_COLORS[Tone.WARNING],
                "sections": lines,
            }
            content = {"head": head, "body": [section, hint] if lines else [hint]}
            if size(content) <= TEXT_MAX:
                return content
    # Unlinked and untitled, a digest's CARD_DIGEST_MAX lines take about 1,200 characters.
    return content


def comment_key(incident: int, lang: str = "en") -> str:
    """The label of incident ``incident``'s comment field, which its event sends back."""
    return f"{messages.text('web_comment_label', lang)} #{incident}"


def comment_incident(key: object) -> int:
    """The incident a comment field's ``key`` is for; raises MalformedPayload."""
    match = _COMMENT_KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise MalformedPayload("is not a comment field of ours", "fieldEditItem.key")
    number = int(match["n"])
    if number > callback.MAX_INCIDENT:
        raise MalformedPayload("names no incident", "fieldEditItem.key")
    return number


def escalate_value(incident: int, member: str) -> str:
    """A dropdown choice: escalate ``incident`` to ``member`` (``v1:escalate:42:<member>``)."""
    return f"{callback.encode(Verb.ESCALATE, incident)}:{member}"


def escalate_choice(value: object) -> tuple[int, str]:
    """The incident and member a dropdown choice names; raises MalformedPayload."""
    text = value if isinstance(value, str) else ""
    parts = text.split(":", 3)
    if len(parts) != 4 or not parts[3] or len(text.encode()) > callback.MAX_BYTES:
        raise MalformedPayload("is not a choice of ours", "selectedItems[0].value")
    verb, incident = callback.decode(":".join(parts[:3]))
    if verb is not Verb.ESCALATE:
        raise MalformedPayload("is not a choice of ours", "selectedItems[0].value")
    return incident, parts[3]


def size(content: Any) -> int:
    """Characters of every text, key, value and link in ``content`` (what TEXT_MAX bounds)."""
    return sum(len(text) for text in _texts(content))


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in COUNTED and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(node, Sequence) and not isinstance(node, str):
        for item in node:
            yield from _texts(item)


def _fields(card: Card) -> Iterator[JSONObject]:
    for field in card.fields:
        yield {
            "key": clip(field.label, FIELD_KEY_MAX),
            # Zoom wants a value in every field; an empty one is shown as a dash.
            "value": clip(field.value, FIELD_VALUE_MAX) or "-",
            "short": field.short,
        }


def _comment_field(incident: int, lang: str) -> JSONObject:
    """One editable, empty field: what is typed in it is sent to the bot as the comment."""
    item = {"key": comment_key(incident, lang), "value": BLANK, "editable": True, "short": False}
    return {"type": "fields", "items": [item]}


def _escalate_select(
    incident: int, members: Sequence[Member], lang: str, budget: int
) -> JSONObject | None:
    """The "Escalate to" dropdown: the members that fit in ``budget`` characters, in order
    (a member whose choice would be over 64 bytes is left out); None when none fits."""
    select: JSONObject = {
        "type": "select",
        "text": messages.text("web_escalate_to", lang),
        "select_items": [],
    }
    room = budget - size(select)
    items: list[JSONObject] = []
    for name, shown in members[:CHOICES_MAX]:
        value = escalate_value(incident, name)
        if len(value.encode()) > callback.MAX_BYTES:
            continue
        item = {"text": clip(shown, CHOICE_TEXT_MAX) or name, "value": value}
        if size(item) > room:
            break
        items.append(item)
        room -= size(item)
    if not items:
        return None
    select["select_items"] = items
    return select


def _button(button: Button) -> JSONObject:
    if len(button.data.encode()) > callback.MAX_BYTES:
        raise ValueError(f"callback data over {callback.MAX_BYTES} bytes: {button.data!r}")
    return {
        "text": clip(button.label, BUTTON_TEXT_MAX),
        "value": button.data,
        "style": STYLES[button.style],
    }


def _digest_line(entry: DigestEntry, *, linked: bool) -> JSONObject:
    line: JSONObject = {
        "type": "message",
        "text": f"{entry.emoji} #{entry.incident} {entry.title}".rstrip(),
    }
    if linked and entry.url and len(entry.url) <= URL_MAX:
        line["link"] = entry.url
    return line


def _link(link: Link) -> JSONObject:
    return {"type": "message", "text": clip(link.label, BUTTON_TEXT_MAX), "link": link.url}
