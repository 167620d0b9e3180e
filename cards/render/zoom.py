"""Card → a Zoom Team Chat chatbot message ``content`` (``head`` and ``body``), within budget.

Zoom shows this text as written: ``is_markdown_support`` is never set, so nothing from an
alert can format, mention or link. Zoom publishes no size limit for a chatbot message; the
card keeps to TEXT_MAX characters (the Zoom template budget), counted over every text, key,
value and link in it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cards import callback
from cards.model import Button, Card, Link, Tone, clip
from gateway.domain import JSONObject

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

# Zoom's button colours: Primary is blue, Danger red, Default white.
STYLES: Mapping[str, str] = {"primary": "Primary", "danger": "Danger", "default": "Default"}
SIDEBAR_COLORS: Mapping[Tone, str] = {
    Tone.DANGER: "#D92D20",
    Tone.WARNING: "#F79009",
    Tone.INFO: "#2E90FA",
    Tone.SUCCESS: "#12B76A",
    Tone.NEUTRAL: "#98A2B3",
}


def render_content(card: Card) -> JSONObject:
    """The chatbot message ``content`` for ``card``.

    ``head`` holds the title and, as ``sub_head``, the status line; ``body`` holds a section
    (sidebar in the card's colour) with the summary, the fields and the timeline, then an
    ``actions`` element of verb buttons (``value`` = ``cards.callback`` data), then the links.
    The head, the buttons and the first link (the incident page) always stay; what does not
    fit after them is left out: first the other links, then the timeline, then fields, and
    the summary is cut.

    Raises:
        ValueError: A button's callback data is over ``cards.callback.MAX_BYTES``.
    """
    head: JSONObject = {
        "text": clip(f"{card.emoji} {card.title}", HEAD_MAX),
        "sub_head": {"text": clip(card.status_line, SUB_HEAD_MAX)},
    }
    buttons = [_button(b) for b in card.buttons[:BUTTONS_MAX]]
    links = [_link(link) for link in card.links if len(link.url) <= URL_MAX][:LINKS_MAX]
    room = TEXT_MAX - size(head) - size(buttons) - size(links[:1])
    # Holds by the limits above (150 + 300 + 8 × 128 + 64 + 2,048 < 4,000); kept as a guard.
    assert room >= 0, room

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
    body.extend(shown_links)
    return {"head": head, "body": body}


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


def _button(button: Button) -> JSONObject:
    if len(button.data.encode()) > callback.MAX_BYTES:
        raise ValueError(f"callback data over {callback.MAX_BYTES} bytes: {button.data!r}")
    return {
        "text": clip(button.label, BUTTON_TEXT_MAX),
        "value": button.data,
        "style": STYLES[button.style],
    }


def _link(link: Link) -> JSONObject:
    return {"type": "message", "text": clip(link.label, BUTTON_TEXT_MAX), "link": link.url}
