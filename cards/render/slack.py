"""Card → Slack Block Kit blocks, within Slack's published limits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cards.model import ELLIPSIS, Button, Card, DigestCard, Field, Link, clip
from gateway.domain import JSONObject

MAX_BLOCKS = 50
HEADER_MAX = 150
TEXT_MAX = 3000  # section and context text
FIELD_MAX = 2000
FIELD_LABEL_MAX = 200  # a label is a word or two; the rest of a field is its value
FIELDS_PER_SECTION = 10
MAX_FIELDS = 20  # Slack refuses messages whose blocks hold much over ~13k characters
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
ELEMENTS_MAX = 25
MESSAGE_TEXT_MAX = 40_000
ACTION_PREFIX = "ackgate:"
LINK_ACTION_PREFIX = "ackgate-link:"  # URL buttons still send an action: ack it, nothing more


def render_message(card: Card) -> JSONObject:
    """The ``chat.postMessage`` / ``chat.update`` arguments: fallback text and blocks."""
    return {"text": _mrkdwn(card.fallback, MESSAGE_TEXT_MAX), "blocks": render_blocks(card)}


def render_blocks(card: Card) -> list[JSONObject]:
    """The card as Block Kit blocks.

    Severity colour needs legacy attachments, so the header carries the card's emoji instead.
    Text that came from alerts is escaped, so an annotation cannot ping ``<!channel>``.
    """
    blocks: list[JSONObject] = [
        {"type": "header", "text": _plain(f"{card.emoji} {card.title}", HEADER_MAX)},
        {"type": "section", "text": _markdown(f"*{_mrkdwn(card.status_line, TEXT_MAX - 2)}*")},
    ]
    if card.summary:
        blocks.append({"type": "section", "text": _markdown(_mrkdwn(card.summary, TEXT_MAX))})
    blocks.extend(_field_sections(card.fields[:MAX_FIELDS]))
    if card.timeline:
        lines = _mrkdwn("\n".join(card.timeline), TEXT_MAX)
        blocks.append({"type": "context", "elements": [_markdown(lines)]})
    if card.buttons:
        elements = [_button(b) for b in card.buttons[:ELEMENTS_MAX]]
        blocks.append({"type": "actions", "elements": elements})
    links = [link for link in card.links if len(link.url) <= URL_MAX][:ELEMENTS_MAX]
    if links:
        blocks.append({"type": "actions", "elements": list(_link_buttons(links))})
    return blocks  # at most 6 + MAX_FIELDS blocks, well under MAX_BLOCKS


def render_digest(digest: DigestCard) -> JSONObject:
    """A digest card's ``chat.postMessage`` / ``chat.update`` arguments: one line per
    incident, linked to its page, as many lines to a section as fit."""
    blocks: list[JSONObject] = [{"type": "header", "text": _plain(digest.headline, HEADER_MAX)}]
    section: list[str] = []
    size = 0
    for entry in digest.entries:
        title = _mrkdwn(f"#{entry.incident} {entry.title}", 300)
        url = entry.url if entry.url and len(entry.url) <= URL_MAX else None
        line = f"{entry.emoji} <{url}|{title}>" if url else f"{entry.emoji} {title}"
        if section and size + len(line) + 1 > TEXT_MAX:
            blocks.append({"type": "section", "text": _markdown("\n".join(section))})
            section, size = [], 0
        section.append(line)
        size += len(line) + 1
    if section:
        blocks.append({"type": "section", "text": _markdown("\n".join(section))})
    blocks.append({"type": "context", "elements": [_markdown(_mrkdwn(digest.hint, TEXT_MAX))]})
    # 50 entries of at most ~330 characters need at most 6 sections: well under MAX_BLOCKS.
    return {"text": _mrkdwn(digest.headline, MESSAGE_TEXT_MAX), "blocks": blocks[:MAX_BLOCKS]}


def _field_sections(fields: Sequence[Field]) -> Iterator[JSONObject]:
    """Short fields two to a row, ten to a section; a long field gets a section to itself."""
    row: list[JSONObject] = []
    for field in fields:
        if field.short:
            row.append(_markdown(_field_text(field)))
            if len(row) == FIELDS_PER_SECTION:
                yield {"type": "section", "fields": row}
                row = []
            continue
        if row:
            yield {"type": "section", "fields": row}
            row = []
        yield {"type": "section", "text": _markdown(_field_text(field, TEXT_MAX))}
    if row:
        yield {"type": "section", "fields": row}


def _field_text(field: Field, limit: int = FIELD_MAX) -> str:
    label = f"*{_mrkdwn(field.label, FIELD_LABEL_MAX)}*\n"
    return label + _mrkdwn(field.value, limit - len(label))


def _button(button: Button) -> JSONObject:
    element: JSONObject = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{button.verb.value}",
        "text": _plain(button.label, BUTTON_TEXT_MAX),
        "value": button.data,  # cards.callback keeps it far below Slack's 2,000
    }
    if button.style != "default":
        element["style"] = button.style
    return element


def _link_buttons(links: Sequence[Link]) -> Iterator[JSONObject]:
    for index, link in enumerate(links):
        yield {
            "type": "button",
            "action_id": f"{LINK_ACTION_PREFIX}{index}",
            "text": _plain(link.label, BUTTON_TEXT_MAX),
            "url": link.url,
        }


def _plain(text: str, limit: int) -> JSONObject:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _markdown(text: str) -> JSONObject:
    return {"type": "mrkdwn", "text": text}


def _mrkdwn(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn and cut to fit ``limit``, never inside an entity."""
    escaped = _escape(text)
    if len(escaped) <= limit:
        return escaped
    pieces: list[str] = []
    size = 0
    for char in text:
        piece = _ESCAPES.get(char, char)
        if size + len(piece) > limit - len(ELLIPSIS):
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces).rstrip() + ELLIPSIS


_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return "".join(_ESCAPES.get(char, char) for char in text)
