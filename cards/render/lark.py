"""Card → Feishu/Lark card JSON 2.0, escaped and cut to fit the 30 KB a card message may take."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cards.model import Button, Card, DigestCard, DigestEntry, Field, Link, Tone, clip, shortened
from gateway import messages
from gateway.domain import JSONObject, Verb

SCHEMA = "2.0"
# A card message's body (the card JSON, as it travels inside the request) is at most 30 KB.
# Measured as the JSON-encoded ``content`` string, with room left for the request around it.
CARD_MAX_BYTES = 28_000
HEADER_MAX = 150
SUBTITLE_MAX = 300
SUMMARY_MAX = 2000
SUMMARY_MIN = 100  # shorter than this says nothing: the summary goes instead
FIELD_LABEL_MAX = 64
FIELD_VALUE_MAX = 300
FIELDS_MAX = 20
ENTRY_MAX = 200
BUTTON_TEXT_MAX = 40  # not published; longer labels are cut on phones anyway
LINKS_MAX = 6
URL_MAX = 2048  # an over-long URL is left out (the incident page carries every link)
INPUT_MAX = 1000  # the ``input`` element's largest ``max_length``
PREVIEW_MAX = 100  # ``config.summary``: the line a chat list and a notification show

DIGEST_TEMPLATE = "orange"  # a storm: many incidents, of any severity
# A markdown link's URL ends at the first ")": the incident page's never has one, but an
# escaped one cannot end the link early.
_LINK_URL = str.maketrans({"(": "%28", ")": "%29"})

CALLBACK_KEY = "a"  # behaviors[].value = {"a": cards.callback.encode(verb, n)}
# Verbs that need words first: a form with one input, submitted by the verb's button.
FORM_INPUTS = {Verb.COMMENT: "text", Verb.ESCALATE: "member"}
_PLACEHOLDERS = {
    Verb.COMMENT: "lark_placeholder_comment",
    Verb.ESCALATE: "lark_placeholder_escalate",
}
_TEMPLATES = {
    Tone.DANGER: "red",
    Tone.WARNING: "orange",
    Tone.INFO: "blue",
    Tone.SUCCESS: "green",
    Tone.NEUTRAL: "grey",
}
# What Feishu's markdown would read as syntax (mentions, links, emphasis, emoji codes), as
# the HTML entities its rich-text documentation lists.
_ENTITIES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&#60;",
        ">": "&#62;",
        "~": "&sim;",
        "-": "&#45;",
        "!": "&#33;",
        "*": "&#42;",
        "/": "&#47;",
        "\\": "&#92;",
        "[": "&#91;",
        "]": "&#93;",
        "(": "&#40;",
        ")": "&#41;",
        "#": "&#35;",
        ":": "&#58;",
        "+": "&#43;",
        '"': "&#34;",
        "'": "&#39;",
        "`": "&#96;",
        "$": "&#36;",
        "_": "&#95;",
        "|": "&#124;",
    }
)


@dataclass(frozen=True, slots=True)
class _Parts:
    """What of a card's body is shown; shrunk, in order, until the card fits."""

    summary: str
    fields: tuple[Field, ...]
    timeline: tuple[str, ...]
    links: tuple[Link, ...]


def render_card(card: Card, lang: str = "en") -> JSONObject:
    """The card as Feishu card JSON 2.0 (a shared card: every copy can be updated).

    Text from the incident is escaped, so an alert cannot ``<at id=all>`` anyone or forge a
    link. When the card would be over CARD_MAX_BYTES, the oldest timeline lines go first,
    then links after the first, then fields from the end, then the summary is cut; the
    header and the buttons always stay. ``lang`` words the form placeholders.
    """
    links = tuple(link for link in card.links if len(link.url) <= URL_MAX)[:LINKS_MAX]
    parts = _Parts(
        summary=clip(card.summary, SUMMARY_MAX) if card.summary else "",
        fields=card.fields[:FIELDS_MAX],
        timeline=card.timeline,
        links=links,
    )
    doc = _document(card, parts, lang)
    while size(doc) > CARD_MAX_BYTES:
        smaller = _shrink(parts)
        if smaller is None:
            break  # only the header and buttons are left, far below the limit
        parts = smaller
        doc = _document(card, parts, lang)
    return doc


def render_digest(digest: DigestCard) -> JSONObject:
    """A digest card as Feishu card JSON 2.0 (shared: it is updated in place as it grows).

    The headline is the header; one markdown line per incident, its number linked to its
    page and its title escaped like an alert's text; the hint below, small. When the card
    would be over CARD_MAX_BYTES, titles are cut shorter, then left out.
    """
    doc: JSONObject = {}
    for shown in shortened(digest):
        doc = _digest_document(shown)
        if size(doc) <= CARD_MAX_BYTES:
            break
    return doc


def size(doc: JSONObject) -> int:
    """Bytes the card takes as a message's ``content``: a JSON string inside the request."""
    content = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


def escape(text: str) -> str:
    """``text`` shown as written in a Feishu ``markdown`` element."""
    return text.translate(_ENTITIES)


def _shrink(parts: _Parts) -> _Parts | None:
    if parts.timeline:
        return replace(parts, timeline=parts.timeline[1:])
    if len(parts.links) > 1:
        return replace(parts, links=parts.links[:-1])
    if parts.fields:
        return replace(parts, fields=parts.fields[:-1])
    if len(parts.summary) > SUMMARY_MIN:
        return replace(parts, summary=clip(parts.summary, len(parts.summary) // 2))
    if parts.summary:
        return replace(parts, summary="")
    if parts.links:
        return replace(parts, links=())
    return None


def _document(card: Card, parts: _Parts, lang: str) -> JSONObject:
    elements: list[JSONObject] = []
    if parts.summary:
        elements.append(_markdown(escape(parts.summary)))
    if parts.fields:
        elements.append(_markdown("\n".join(_field_line(f) for f in parts.fields)))
    if parts.timeline:
        lines = [escape(clip(entry, ENTRY_MAX)) for entry in parts.timeline]
        elements.append({**_markdown("\n".join(lines)), "text_size": "notation"})
    at_once = [b for b in card.buttons if b.verb not in FORM_INPUTS]
    if at_once:
        elements.append(_row([_button(b) for b in at_once]))
    elements.extend(_form(b, lang) for b in card.buttons if b.verb in FORM_INPUTS)
    if parts.links:
        elements.append(_row([_link_button(i, link) for i, link in enumerate(parts.links)]))
    return {
        "schema": SCHEMA,
        "config": {
            "update_multi": True,  # shared: a PATCH or a click's answer changes every view
            "summary": {"content": clip(card.fallback, PREVIEW_MAX)},
        },
        "header": {
            "title": _plain(clip(f"{card.emoji} {card.title}", HEADER_MAX)),
            "subtitle": _plain(clip(card.status_line, SUBTITLE_MAX)),
            "template": _TEMPLATES[card.tone],
        },
        "body": {"elements": elements},
    }


def _digest_document(digest: DigestCard) -> JSONObject:
    lines = "\n".join(_digest_line(entry) for entry in digest.entries)
    return {
        "schema": SCHEMA,
        "config": {
            "update_multi": True,  # shared: the PATCH that adds to it changes every view
            "summary": {"content": clip(digest.headline, PREVIEW_MAX)},
        },
        "header": {
            "title": _plain(clip(digest.headline, HEADER_MAX)),
            "template": DIGEST_TEMPLATE,
        },
        "body": {
            "elements": [
                _markdown(lines),
                {**_markdown(escape(clip(digest.hint, SUMMARY_MAX))), "text_size": "notation"},
            ]
        },
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


def _row(buttons: Sequence[JSONObject]) -> JSONObject:
    """Buttons side by side, wrapping onto more lines on a narrow screen."""
    return {
        "tag": "column_set",
        "flex_mode": "flow",
        "horizontal_spacing": "8px",
        "columns": [{"tag": "column", "width": "auto", "elements": [button]} for button in buttons],
    }


def _button(button: Button) -> JSONObject:
    return {
        "tag": "button",
        "name": button.verb.value,
        "text": _plain(clip(button.label, BUTTON_TEXT_MAX)),
        "type": button.style,
        "behaviors": [{"type": "callback", "value": {CALLBACK_KEY: button.data}}],
    }


def _form(button: Button, lang: str) -> JSONObject:
    """One input and the verb's button, which submits it (``action.form_value``)."""
    field = FORM_INPUTS[button.verb]
    return {
        "tag": "form",
        "name": f"{button.verb.value}_form",
        "elements": [
            {
                "tag": "input",
                "name": field,
                "required": button.verb is Verb.COMMENT,
                "max_length": INPUT_MAX,
                "width": "fill",
                "placeholder": _plain(messages.text(_PLACEHOLDERS[button.verb], lang)),
            },
            {**_button(button), "form_action_type": "submit"},
        ],
    }


def _link_button(index: int, link: Link) -> JSONObject:
    return {
        "tag": "button",
        "name": f"link_{index}",
        "text": _plain(clip(link.label, BUTTON_TEXT_MAX)),
        "type": "default",
        "behaviors": [{"type": "open_url", "default_url": link.url}],
    }


def _plain(text: str) -> JSONObject:
    """Text Feishu shows as is: no markdown, no mentions."""
    return {"tag": "plain_text", "content": text}


def _markdown(content: str) -> JSONObject:
    return {"tag": "markdown", "content": content}
