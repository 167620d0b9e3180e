"""Card → WeCom ``template_card`` of ``card_type: button_interaction`` (an app message to one
member), within the limits WeCom documents for it.

The card is sent with ``message/send`` and replaced, whole, with ``update_template_card``.
Its ``task_id`` names this copy of the card for good: clicks carry it back as ``TaskId``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cards import callback
from cards.model import ELLIPSIS, Button, Card, Field, Link, Tone, clip
from gateway import messages
from gateway.domain import JSONObject, Verb
from gateway.errors import MalformedPayload

CARD_TYPE = "button_interaction"
SOURCE = "ackgate"
# WeCom's documented sizes ("suggested" ones are cut here rather than left to WeCom).
TITLE_MAX = 36  # main_title.title
DESC_MAX = 44  # main_title.desc
SUB_TITLE_MAX = 160  # sub_title_text
HORIZONTAL_MAX = 6  # horizontal_content_list entries
VALUE_MAX = 30  # horizontal_content_list[].value
# keyname: 5 Chinese characters suggested; English labels need twice the letters.
KEYNAME_MAX = 10
BUTTONS_MAX = 6  # button_list entries
# text: 10 Chinese characters suggested; "Acknowledge" is 11 narrow letters.
BUTTON_TEXT_MAX = 16
# button_list[].key: unique within the card, no charset rule (unlike task_id), so
# cards.callback's "v1:ack:42" is the key as it is.
KEY_MAX_BYTES = 1024
TASK_ID_MAX_BYTES = 128  # task_id: [0-9A-Za-z_-@], unique per app
URL_MAX = 2048  # not published; an over-long URL is left out rather than refused
# The template area shows at most 8 lines (the core's budget for a WeCom card body too):
# the summary's lines and one line per horizontal entry share them.
TEMPLATE_LINES_MAX = 8
SUMMARY_LINES_MAX = 2  # when there are fields to show as well

TASK_PREFIX = "ackgate"
REFRESH = "refresh"  # the key's verb for the Refresh button (no incident verb)
CALLBACK_BUTTON = 0
URL_BUTTON = 1
URL_ACTION = 1
# WeCom takes button styles 1-4 (1 when absent) and draws them its own way: 1 for the
# primary action, 2 for the others, 3 for a destructive one.
_STYLES = {"primary": 1, "default": 2, "danger": 3}
# source.desc_color: 0 grey, 1 black, 2 red, 3 green.
_COLORS = {
    Tone.DANGER: 2,
    Tone.WARNING: 1,
    Tone.INFO: 0,
    Tone.SUCCESS: 3,
    Tone.NEUTRAL: 0,
}
_TASK_ID = re.compile(r"[0-9A-Za-z_\-@]+")


def task_id(incident: int, nonce: str) -> str:
    """The ``task_id`` of one copy of incident ``incident``'s card: ``ackgate-<n>-<nonce>``.

    Raises:
        ValueError: ``nonce`` has characters WeCom refuses, or the id is over 128 bytes.
    """
    value = f"{TASK_PREFIX}-{incident}-{nonce}"
    if not nonce or _TASK_ID.fullmatch(nonce) is None:
        raise ValueError(f"a task_id nonce takes only [0-9A-Za-z_-@], got {nonce!r}")
    if len(value.encode()) > TASK_ID_MAX_BYTES:
        raise ValueError(f"a task_id is at most {TASK_ID_MAX_BYTES} bytes: {value!r}")
    return value


def refresh_key(incident: int) -> str:
    """The Refresh button's key: ``v1:refresh:<n>`` (pressing it only redraws the card)."""
    return f"{callback.VERSION}:{REFRESH}:{incident}"


def read_key(key: str) -> tuple[Verb | None, int]:
    """The verb (None for Refresh) and incident of a pressed button's ``EventKey``.

    Raises:
        MalformedPayload: Not a key of ours.
    """
    prefix = f"{callback.VERSION}:{REFRESH}:"
    if key.startswith(prefix):
        number = key[len(prefix) :]
        if not number.isdigit() or number.startswith("0") or len(number) > 19:
            raise MalformedPayload("must look like v1:refresh:<incident>", "EventKey")
        return None, int(number)
    return callback.decode(key)


def render_card(card: Card, task: str, lang: str = "en") -> JSONObject:
    """The card as a ``button_interaction`` template card whose ``task_id`` is ``task``.

    Its verb buttons, then Refresh (a click is what lets WeCom's card be updated again),
    then link buttons, six at most; the whole card opens the first link (the incident page).
    ``lang`` words the Refresh button.

    Raises:
        ValueError: A button's key is over WeCom's 1,024 bytes (WeCom would refuse the card).
    """
    links = [link for link in card.links if len(link.url) <= URL_MAX]
    buttons = [_button(b) for b in card.buttons[: BUTTONS_MAX - 1]]
    buttons.append(
        {
            "type": CALLBACK_BUTTON,
            "text": clip(messages.text("wecom_button_refresh", lang), BUTTON_TEXT_MAX),
            "style": _STYLES["default"],
            "key": refresh_key(card.incident),
        }
    )
    room = BUTTONS_MAX - len(buttons)
    buttons.extend(_link_button(link) for link in links[1 : 1 + room])
    summary = _summary(card.summary, bool(card.fields))
    doc: JSONObject = {
        "card_type": CARD_TYPE,
        "source": {"desc": SOURCE, "desc_color": _COLORS[card.tone]},
        "main_title": {
            "title": clip(f"{card.emoji} {card.title}", TITLE_MAX),
            "desc": clip(card.status_line, DESC_MAX),
        },
    }
    if summary:
        doc["sub_title_text"] = summary
    room_lines = TEMPLATE_LINES_MAX - (summary.count("\n") + 1 if summary else 0)
    fields = list(_horizontal(card.fields[: min(HORIZONTAL_MAX, room_lines)]))
    if fields:
        doc["horizontal_content_list"] = fields
    if links:
        doc["card_action"] = {"type": URL_ACTION, "url": links[0].url}
    doc["task_id"] = task
    doc["button_list"] = buttons
    return doc


def _summary(text: str, fields: bool) -> str:
    """The summary's non-blank lines, as many as the template area leaves room for."""
    kept = [" ".join(line.split()) for line in text.splitlines()]
    kept = [line for line in kept if line]
    most = SUMMARY_LINES_MAX if fields else TEMPLATE_LINES_MAX
    if len(kept) > most:
        kept = [*kept[: most - 1], kept[most - 1] + ELLIPSIS]
    return clip("\n".join(kept), SUB_TITLE_MAX)


def _horizontal(fields: tuple[Field, ...]) -> Iterator[JSONObject]:
    for field in fields:
        yield {"keyname": clip(field.label, KEYNAME_MAX), "value": clip(field.value, VALUE_MAX)}


def _button(button: Button) -> JSONObject:
    if len(button.data.encode()) > KEY_MAX_BYTES:
        raise ValueError(f"a button key is at most {KEY_MAX_BYTES} bytes: {button.data!r}")
    return {
        "type": CALLBACK_BUTTON,
        "text": clip(button.label, BUTTON_TEXT_MAX),
        "style": _STYLES[button.style],
        "key": button.data,
    }


def _link_button(link: Link) -> JSONObject:
    return {
        "type": URL_BUTTON,
        "text": clip(link.label, BUTTON_TEXT_MAX),
        "style": _STYLES["default"],
        "url": link.url,
    }
