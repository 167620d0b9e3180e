"""Card → Adaptive Card 1.5 JSON for Microsoft Teams: Universal Actions (``Action.Execute``),
forms in ``Action.ShowCard``s, cut to fit the 28 KB a bot message may safely carry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cards.model import (
    Button,
    ButtonStyle,
    Card,
    DigestCard,
    DigestEntry,
    Field,
    Link,
    Tone,
    clip,
    code_spans,
    shortened,
)
from gateway import messages
from gateway.domain import JSONObject, Verb

VERSION = "1.5"  # Universal Actions (Action.Execute, refresh) need 1.5 in Teams
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams takes bot messages up to about 100 KB now, but Workflows webhooks and older clients
# stop at 28 KB: the card stays within that, leaving 1 KB for the activity around it.
CARD_MAX_BYTES = 27 * 1024
MESSAGE_MAX_BYTES = 28 * 1024
TITLE_MAX = 256
STATUS_MAX = 300
SUMMARY_MAX = 2000
SUMMARY_MIN = 100  # shorter than this says nothing: the summary goes instead
FACT_TITLE_MAX = 64
FACT_VALUE_MAX = 300
FACTS_MAX = 20
ENTRY_MAX = 200
BUTTON_TITLE_MAX = 40  # not published; longer titles are cut on phones anyway
ACTIONS_MAX = 6  # what Teams shows of one action set (desktop and web show no more)
LINKS_MAX = 6
URL_MAX = 2048  # an over-long URL is left out (the incident page carries every link)
CHOICES_MAX = 100
CHOICE_TITLE_MAX = 80
COMMENT_MAX = 4000  # the core's longest comment
FALLBACK_MAX = 300

DATA_KEY = "a"  # Action.Execute data = {"a": cards.callback.encode(verb, n)}
REFRESH_VERB = "refresh"  # the refresh action's verb; its data = {"n": incident number}
INCIDENT_KEY = "n"
COMMENT_INPUT = "comment"
MEMBER_INPUT = "member"
# Verbs that need words first: a ShowCard with one input, submitted by the verb's action.
FORM_INPUTS = {Verb.COMMENT: COMMENT_INPUT, Verb.ESCALATE: MEMBER_INPUT}

_STYLES = {
    Tone.DANGER: "attention",
    Tone.WARNING: "warning",
    Tone.INFO: "accent",
    Tone.SUCCESS: "good",
    Tone.NEUTRAL: "emphasis",
}
_ACTION_STYLES: dict[ButtonStyle, str] = {"primary": "positive", "danger": "destructive"}
# Teams reads FactSet titles and values as Markdown: links and emphasis are escaped the
# CommonMark way. Everything else from the incident goes into TextRuns, which are never
# read as Markdown.
_MARKDOWN = str.maketrans({char: "\\" + char for char in "\\*[]`"})

Member = tuple[str, str]  # (member name: the value sent back, what the list shows)


@dataclass(frozen=True, slots=True)
class _Parts:
    """What of a card's body is shown; shrunk, in order, until the card fits."""

    summary: str
    fields: tuple[Field, ...]
    timeline: tuple[str, ...]
    links: tuple[Link, ...]
    members: tuple[Member, ...]


def render_card(
    card: Card,
    lang: str = "en",
    *,
    members: Sequence[Member] = (),
    refresh: bool = False,
) -> JSONObject:
    """The card as an Adaptive Card 1.5 (the ``content`` of a message's attachment).

    Acknowledge, Close and Reopen are ``Action.Execute`` (an ``adaptiveCard/action`` invoke,
    with ``Action.Submit`` as the fallback for old clients); Escalate and Comment open an
    ``Action.ShowCard`` holding their input: a list of ``members`` (``(name, shown)``; none:
    a text box) or a comment box. With ``refresh``, a Teams user can ask for the card as it
    is now from the card's menu (``userIds`` is empty: nobody's client refreshes by itself).

    When the card would be over CARD_MAX_BYTES, the oldest timeline lines go first, then
    links after the first, then members to choose from, then fields from the end, then the
    summary is cut; the title, status and buttons always stay.
    """
    parts = _Parts(
        summary=clip(card.summary, SUMMARY_MAX) if card.summary else "",
        fields=card.fields[:FACTS_MAX],
        timeline=card.timeline,
        links=tuple(link for link in card.links if len(link.url) <= URL_MAX)[:LINKS_MAX],
        members=tuple(members[:CHOICES_MAX]),
    )
    doc = _document(card, parts, lang, refresh=refresh)
    while size(doc) > CARD_MAX_BYTES:
        smaller = _shrink(parts)
        if smaller is None:
            break  # only the title, status and buttons are left, far below the limit
        parts = smaller
        doc = _document(card, parts, lang, refresh=refresh)
    return doc


def render_digest(digest: DigestCard) -> JSONObject:
    """A digest card as an Adaptive Card: the headline, one line per incident (its number
    and title, which open its page), the hint with its commands in monospace. Everything is
    in TextRuns, never read as Markdown. No actions: each incident is acted on from its page.

    When the card would be over CARD_MAX_BYTES, titles are cut shorter, then left out.
    """
    doc: JSONObject = {}
    for shown in shortened(digest):
        body: list[JSONObject] = [
            {
                "type": "Container",
                "style": _STYLES[Tone.WARNING],
                "bleed": True,
                "items": [_text(clip(digest.headline, TITLE_MAX), weight="Bolder", size="Medium")],
            }
        ]
        body.extend(
            {**_digest_line(entry), "spacing": "Small" if index == 0 else "None"}
            for index, entry in enumerate(shown.entries)
        )
        hint = [
            {"type": "TextRun", "text": part, "size": "Small", "isSubtle": True}
            | ({"fontType": "Monospace"} if code else {})
            for part, code in code_spans(clip(digest.hint, SUMMARY_MAX))
        ]
        body.append({"type": "RichTextBlock", "inlines": hint, "spacing": "Medium"})
        doc = {
            "type": "AdaptiveCard",
            "$schema": SCHEMA,
            "version": VERSION,
            "fallbackText": clip(digest.headline, FALLBACK_MAX),
            "msteams": {"width": "Full"},
            "body": body,
        }
        if size(doc) <= CARD_MAX_BYTES:
            break
    return doc


def attachment(content: JSONObject) -> JSONObject:
    """An Adaptive Card as a message attachment."""
    return {"contentType": CONTENT_TYPE, "content": content}


def size(doc: JSONObject) -> int:
    """Bytes ``doc`` takes as compact UTF-8 JSON, the way it travels."""
    return len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def escape(text: str) -> str:
    """``text`` shown as written where Teams reads Markdown (a FactSet)."""
    return text.translate(_MARKDOWN)


def _shrink(parts: _Parts) -> _Parts | None:
    if parts.timeline:
        return replace(parts, timeline=parts.timeline[1:])
    if len(parts.links) > 1:
        return replace(parts, links=parts.links[:-1])
    if parts.members:
        return replace(parts, members=parts.members[: len(parts.members) // 2])
    if parts.fields:
        return replace(parts, fields=parts.fields[:-1])
    if len(parts.summary) > SUMMARY_MIN:
        return replace(parts, summary=clip(parts.summary, len(parts.summary) // 2))
    if parts.summary:
        return replace(parts, summary="")
    if parts.links:
        return replace(parts, links=())
    return None


def _document(card: Card, parts: _Parts, lang: str, *, refresh: bool) -> JSONObject:
    body: list[JSONObject] = [
        {
            "type": "Container",
            "style": _STYLES[card.tone],
            "bleed": True,
            "items": [
                _text(
                    clip(f"{card.emoji} {card.title}", TITLE_MAX), weight="Bolder", size="Medium"
                ),
                {**_text(clip(card.status_line, STATUS_MAX)), "spacing": "None"},
            ],
        }
    ]
    if parts.summary:
        body.append(_text(parts.summary))
    if parts.fields:
        body.append({"type": "FactSet", "facts": [_fact(f) for f in parts.fields]})
    for index, entry in enumerate(parts.timeline):
        line = _text(clip(entry, ENTRY_MAX), size="Small", isSubtle=True)
        body.append({**line, "spacing": "Medium" if index == 0 else "None"})
    if parts.links:
        body.append({"type": "ActionSet", "actions": [_open_url(link) for link in parts.links]})
    actions = [
        _show_card(b, parts.members, lang) if b.verb in FORM_INPUTS else _execute(b)
        for b in card.buttons[:ACTIONS_MAX]
    ]
    doc: JSONObject = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "fallbackText": clip(card.fallback, FALLBACK_MAX),
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        doc["actions"] = actions
    if refresh:
        doc["refresh"] = {
            "action": {
                "type": "Action.Execute",
                "verb": REFRESH_VERB,
                "data": {INCIDENT_KEY: card.incident},
            },
            "userIds": [],
        }
    return doc


def _text(text: str, **style: object) -> JSONObject:
    """Text shown as written: a RichTextBlock's TextRun is never read as Markdown."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def _digest_line(entry: DigestEntry) -> JSONObject:
    """``🔴 #42 title``, the number and title opening the incident's page."""
    run: JSONObject = {"type": "TextRun", "text": f"#{entry.incident} {entry.title}".rstrip()}
    if entry.url and len(entry.url) <= URL_MAX:
        run["selectAction"] = {"type": "Action.OpenUrl", "url": entry.url}
    return {
        "type": "RichTextBlock",
        "inlines": [{"type": "TextRun", "text": f"{entry.emoji} "}, run],
    }


def _fact(field: Field) -> JSONObject:
    return {
        "title": escape(clip(field.label, FACT_TITLE_MAX)),
        "value": escape(clip(field.value, FACT_VALUE_MAX)),
    }


def _execute(button: Button) -> JSONObject:
    """The verb's Universal Action; old clients that lack it send an Action.Submit instead."""
    data = {DATA_KEY: button.data}
    shown = clip(button.label, BUTTON_TITLE_MAX)
    action: JSONObject = {
        "type": "Action.Execute",
        "title": shown,
        "verb": button.verb.value,
        "data": data,
    }
    style = _ACTION_STYLES.get(button.style)
    if style is not None:
        action["style"] = style
    action["fallback"] = {"type": "Action.Submit", "title": shown, "data": data}
    return action


def _show_card(button: Button, members: Sequence[Member], lang: str) -> JSONObject:
    """A button that opens a small form: its input, and the verb's action to send it."""
    if button.verb is Verb.COMMENT:
        field: JSONObject = {
            "type": "Input.Text",
            "id": COMMENT_INPUT,
            "label": messages.text("web_comment_label", lang),
            "placeholder": messages.text("teams_placeholder_comment", lang),
            "isMultiline": True,
            "maxLength": COMMENT_MAX,
            "isRequired": True,
            "errorMessage": messages.text("web_comment_empty", lang),
        }
    elif members:
        field = {
            "type": "Input.ChoiceSet",
            "id": MEMBER_INPUT,
            "label": messages.text("web_escalate_to", lang),
            "placeholder": messages.text("teams_placeholder_escalate", lang),
            "style": "filtered",
            "choices": [
                {"title": clip(shown, CHOICE_TITLE_MAX), "value": name} for name, shown in members
            ],
        }
    else:
        field = {
            "type": "Input.Text",
            "id": MEMBER_INPUT,
            "label": messages.text("web_escalate_to", lang),
            "placeholder": messages.text("teams_placeholder_escalate", lang),
        }
    return {
        "type": "Action.ShowCard",
        "title": clip(button.label, BUTTON_TITLE_MAX),
        "card": {"type": "AdaptiveCard", "body": [field], "actions": [_execute(button)]},
    }


def _open_url(link: Link) -> JSONObject:
    return {"type": "Action.OpenUrl", "title": clip(link.label, BUTTON_TITLE_MAX), "url": link.url}
