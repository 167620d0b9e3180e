"""Card → Telegram ``sendMessage`` text (HTML parse mode) and inline keyboard, within the
Bot API's limits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from cards import callback
from cards.model import ELLIPSIS, Button, Card, DigestCard, DigestEntry, Link, code_spans, shortened
from gateway.domain import JSONObject

# ``text`` may be 1–4096 characters after entity parsing. Measured here as shown (tags and
# entities do not count) in UTF-16 code units, Telegram's own unit: never below its count.
TEXT_MAX = 4096
TITLE_MAX = 256
STATUS_MAX = 300
SUMMARY_MAX = 1000
FIELD_LABEL_MAX = 64
FIELD_VALUE_MAX = 300
ENTRY_MAX = 200
MIN_CLIPPED = 16  # a line cut shorter than this says nothing: "…" stands in for it
CUT_MARK = "\n" + ELLIPSIS
BUTTON_TEXT_MAX = 64  # not a published limit; longer labels are cut on phones anyway
BUTTONS_PER_ROW = 2
LINK_BUTTONS_MAX = 6
# Not a published limit either: an over-long URL would make Telegram refuse the whole card,
# so such a link is left out (the incident page carries every link).
URL_MAX = 2048
PARSE_MODE = "HTML"

Segment = tuple[str | None, str]  # an HTML tag (None for none) and the plain text it wraps
Line = tuple[Segment, ...]


class TelegramMessage(NamedTuple):
    """What ``sendMessage``/``editMessageText`` take: HTML text and inline keyboard rows."""

    text: str
    keyboard: list[list[JSONObject]]


def render_message(card: Card) -> TelegramMessage:
    """The card as Telegram HTML (``parse_mode="HTML"``) and inline keyboard rows.

    Everything from the incident is escaped, so an alert cannot add tags or links. When the
    text would be longer than TEXT_MAX as shown, the timeline goes first, then fields, then
    the summary is cut; the title and status line always stay.

    Raises:
        ValueError: A button's callback data is over Telegram's 64 bytes (the Bot API would
            refuse the whole message).
    """
    sections: list[list[Line]] = [
        [
            ((None, f"{card.emoji} "), ("b", _clip(card.title, TITLE_MAX))),
            (("i", _clip(card.status_line, STATUS_MAX)),),
        ]
    ]
    if card.summary:
        sections.append([((None, _clip(card.summary, SUMMARY_MAX)),)])
    if card.fields:
        sections.append(
            [
                (
                    ("b", _clip(field.label, FIELD_LABEL_MAX) + ":"),
                    (None, " " + _clip(field.value, FIELD_VALUE_MAX)),
                )
                for field in card.fields
            ]
        )
    if card.timeline:
        sections.append([(("i", _clip(entry, ENTRY_MAX)),) for entry in card.timeline])
    return TelegramMessage(_fit(sections), keyboard(card))


def render_digest(digest: DigestCard) -> str:
    """A digest card as Telegram HTML: the headline in bold, one line per incident (its
    number and title linked to its page), the hint in italics, its commands as code.

    Titles are escaped like an alert's text. When the message would be over TEXT_MAX as
    shown, titles are cut shorter, then left out: every incident keeps its line.
    """
    text = ""
    for shown in shortened(digest):
        lines = [_digest_line(entry) for entry in shown.entries]
        head = _clip(digest.headline, TITLE_MAX)
        hint = _clip(digest.hint, SUMMARY_MAX)
        used = sum(size(t) for t in (head, hint, *(s for s, _ in lines)))
        used += size("\n\n") * 2 + size("\n") * max(len(lines) - 1, 0)
        text = "\n\n".join(
            [f"<b>{escape(head)}</b>", "\n".join(h for _, h in lines), f"<i>{_code(hint)}</i>"]
        )
        if used <= TEXT_MAX:
            break
    return text


def keyboard(card: Card) -> list[list[JSONObject]]:
    """Verb buttons two to a row, then URL buttons for the card's links."""
    verbs = [_button(b) for b in card.buttons]
    links = [_link_button(link) for link in card.links if len(link.url) <= URL_MAX]
    return [*_rows(verbs), *_rows(links[:LINK_BUTTONS_MAX])]


def escape(text: str) -> str:
    """The characters Telegram's HTML mode requires as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _digest_line(entry: DigestEntry) -> tuple[str, str]:
    """One incident's line in a digest: as shown, and as HTML."""
    label = f"#{entry.incident} {entry.title}".rstrip()
    shown = f"{entry.emoji} {label}"
    if entry.url and len(entry.url) <= URL_MAX:
        href = escape(entry.url).replace('"', "&quot;")
        return shown, f'{entry.emoji} <a href="{href}">{escape(label)}</a>'
    return shown, escape(shown)


def _code(text: str) -> str:
    """``text`` as HTML, its commands (between backticks) as code."""
    return "".join(
        f"<code>{escape(part)}</code>" if code else escape(part) for part, code in code_spans(text)
    )


def size(text: str) -> int:
    """Length in UTF-16 code units, as the Bot API counts."""
    return len(text.encode("utf-16-le")) // 2


def _fit(sections: Sequence[Sequence[Line]]) -> str:
    """Sections joined by blank lines, lines by newlines, cut to fit TEXT_MAX as shown.

    The first line that does not fit is cut to what is left (or, when too little is left,
    replaced by "…"), and nothing follows it.
    """
    out: list[str] = []
    used = 0
    for section in sections:
        for number, line in enumerate(section):
            gap = ("\n\n" if number == 0 else "\n") if out else ""
            line_size = sum(size(text) for _tag, text in line)
            if used + size(gap) + line_size <= TEXT_MAX:
                out.append(gap + _html(line))
                used += size(gap) + line_size
                continue
            clipped = _clip_line(line, TEXT_MAX - used - size(gap))
            if clipped is not None:
                out.append(gap + _html(clipped))
            elif used + size(CUT_MARK) <= TEXT_MAX:
                out.append(CUT_MARK)
            return "".join(out)
    return "".join(out)


def _clip_line(line: Line, room: int) -> Line | None:
    """``line`` cut to ``room`` units by cutting its last segment; None if that is not enough."""
    *head, (tag, text) = line
    head_size = sum(size(t) for _tag, t in head)
    if room - head_size < MIN_CLIPPED:
        return None
    return (*head, (tag, _clip(text, room - head_size)))


def _html(line: Line) -> str:
    return "".join(f"<{tag}>{escape(text)}</{tag}>" if tag else escape(text) for tag, text in line)


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 units, ending in "…" when it was cut."""
    if size(text) <= limit:
        return text
    room = limit - size(ELLIPSIS)
    kept: list[str] = []
    for char in text:
        room -= size(char)
        if room < 0:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


def _button(button: Button) -> JSONObject:
    data = button.data
    if len(data.encode()) > callback.MAX_BYTES:
        raise ValueError(f"callback data over {callback.MAX_BYTES} bytes: {data!r}")
    return {"text": _clip(button.label, BUTTON_TEXT_MAX), "callback_data": data}


def _link_button(link: Link) -> JSONObject:
    return {"text": _clip(link.label, BUTTON_TEXT_MAX), "url": link.url}


def _rows(buttons: Sequence[JSONObject]) -> Iterator[list[JSONObject]]:
    for start in range(0, len(buttons), BUTTONS_PER_ROW):
        yield list(buttons[start : start + BUTTONS_PER_ROW])
