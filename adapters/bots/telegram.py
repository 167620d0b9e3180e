"""Telegram bots: one notice (or a digest) as an HTML ``sendMessage`` per chat, and the Bot
API's error answers read as platform errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.bots.message import BotMessage, BotTarget, Digest, HttpRequest, Mention, RateLimit
from adapters.bots.text import header
from adapters.retry_after import retry_after_s
from cards.model import ELLIPSIS, clip
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable

# Telegram's Bot FAQ: at most 20 messages a minute in one group (and about one a second per
# chat, in short bursts). The limit is per destination, so each of its chats stays under it.
MESSAGES_PER_WINDOW = 20
WINDOW_S = 60.0
# Also in the FAQ: about 30 messages a second across all chats. Not enforced here: a
# destination with more chats than this sends one message's requests faster than that.
BULK_MESSAGES_PER_S = 30
# ``text`` may be 1–4096 characters after entity parsing. Counted here in UTF-16 code units
# (an emoji counts twice), which is never less than Telegram's count.
TEXT_MAX = 4_096
TITLE_MAX = 256
LINE_TITLE_MAX = 150
DIGEST_LINES_MAX = 25  # each line is a link entity; this keeps a digest's entities few
MENTIONS_MAX = 20
NAME_MAX = 64
BODY_EXCERPT_MAX = 200
OPEN_LABEL = "Open incident"
LINK_LABEL = "link"
PARSE_MODE = "HTML"
METHOD = "sendMessage"

KICKED_MARKERS = ("bot was kicked", "bot is not a member")
KICKED_HINT = "add the bot back to the chat, or remove the chat id"
CHAT_NOT_FOUND_HINT = "check the chat id (ackgate telegram chats lists the ones the bot has seen)"
UNAUTHORIZED_HINT = "the bot token is wrong or revoked (@BotFather)"
# The Bot API answers 404 to a token that is not even shaped like one, or to a wrong base URL.
NOT_FOUND_HINT = "the bot token is malformed or the Bot API URL is wrong"


class TelegramBot:
    """A Telegram bot posting to the group chats in ``target.chat_ids``.

    Buttons are URL buttons only: no callback data, since nothing here receives updates.
    ``at_all`` adds nothing: Telegram has no @all, and a group message already notifies every
    member who has not muted the chat.
    """

    name = "telegram_bot"
    limit = RateLimit(MESSAGES_PER_WINDOW, WINDOW_S)

    def requests(
        self,
        target: BotTarget,
        message: BotMessage | Digest,
        now: datetime,  # noqa: ARG002 - the token is in the path, nothing is signed
    ) -> list[HttpRequest]:
        """One ``sendMessage`` per chat id, in the configured order, all with the same text.

        Args:
            target: The Bot API base URL, the bot ``token`` and the ``chat_ids``.
            message: One notice, or a digest of several.
            now: Unused: Bot API calls carry no signature.

        Returns:
            One request per chat id.

        Raises:
            AuthFailed: The destination has no bot token.
            Rejected: The destination has no chat ids, so the message would go nowhere.
        """
        if not target.token:
            raise AuthFailed(f"telegram destination {target.name!r} has no bot token")
        if not target.chat_ids:
            raise Rejected(f"telegram destination {target.name!r} has no chat ids", "no_chat_ids")
        url = f"{target.url.rstrip('/')}/bot{target.token}/{METHOD}"
        if isinstance(message, Digest):
            text, markup = _digest(message), None
        else:
            text, markup = _notice(message), _keyboard(message.url)
        requests = []
        for chat_id in target.chat_ids:
            body: JSONObject = {
                "chat_id": _chat_id(chat_id),
                "text": text,
                "parse_mode": PARSE_MODE,
                "disable_web_page_preview": True,  # the incident page would preview as a card
            }
            if markup is not None:
                body["reply_markup"] = markup
            requests.append(HttpRequest("POST", url, body))
        return requests

    def check(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Accept a 2xx, or raise what one chat's Bot API error means for us.

        Args:
            status: The HTTP status.
            body: The Bot API's JSON (``ok``, ``error_code``, ``description``, ``parameters``).
            headers: The answer's headers.

        Raises:
            RateLimited: 429, after ``parameters.retry_after`` seconds.
            Unavailable: 5xx.
            AuthFailed: The token was refused (401) or does not reach a bot (404).
            Rejected: The chat will not take this message (kicked, unknown chat, bad text).
        """
        answer = _answer(body)
        if 200 <= status < 300 and answer.ok is not False:
            return  # sent; an unreadable success body is still a sent message
        said = f"telegram {METHOD} answered {status}: {answer.description or 'no description'}"
        code = answer.error_code or status
        if code == 429 or status == 429:
            wait = answer.retry_after
            if wait is None:
                wait = retry_after_s(header(headers, "Retry-After"), datetime.now(UTC))
            raise RateLimited(said, wait)
        if status >= 500 or code >= 500:
            raise Unavailable(said)
        lowered = answer.description.lower()
        if code == 401:
            raise AuthFailed(f"{said} — {UNAUTHORIZED_HINT}")
        if code == 404:
            raise AuthFailed(f"{said} — {NOT_FOUND_HINT}")
        if code == 403 and any(marker in lowered for marker in KICKED_MARKERS):
            raise Rejected(f"{said} — {KICKED_HINT}", "bot_not_in_chat")
        if "chat not found" in lowered:
            raise Rejected(f"{said} — {CHAT_NOT_FOUND_HINT}", "chat_not_found")
        if answer.migrate_to_chat_id is not None:
            hint = f"the group became a supergroup: use chat id {answer.migrate_to_chat_id}"
            raise Rejected(f"{said} — {hint}", "chat_migrated")
        raise Rejected(said, str(code))


@dataclass(frozen=True, slots=True)
class _Answer:
    """The parts of a Bot API answer that decide what a failure means."""

    ok: bool | None = None
    error_code: int | None = None
    description: str = ""
    retry_after: float | None = None
    migrate_to_chat_id: int | None = None


def _answer(body: bytes) -> _Answer:
    try:
        doc: Any = json.loads(body)  # the JSON edge: checked field by field below
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return _Answer(description=clip(text, BODY_EXCERPT_MAX) if text else "")
    if not isinstance(doc, dict):
        return _Answer()
    params = doc.get("parameters")
    params = params if isinstance(params, dict) else {}
    retry_after = params.get("retry_after")
    migrate = params.get("migrate_to_chat_id")
    code = doc.get("error_code")
    ok = doc.get("ok")
    description = doc.get("description")
    return _Answer(
        ok=ok if isinstance(ok, bool) else None,
        error_code=code if isinstance(code, int) else None,
        description=clip(description, BODY_EXCERPT_MAX) if isinstance(description, str) else "",
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        migrate_to_chat_id=migrate if isinstance(migrate, int) else None,
    )


def _chat_id(chat_id: str) -> int | str:
    """Numeric ids as integers, as the Bot API documents them; ``@channel`` names as given."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def _keyboard(url: str) -> JSONObject | None:
    if not url:
        return None
    return {"inline_keyboard": [[{"text": OPEN_LABEL, "url": url}]]}


# --- the text -----------------------------------------------------------------------------
#
# Telegram counts the text after parsing: tags and entities do not count, the characters they
# show do. Every piece is therefore measured as shown (``_size``) and escaped only when placed.


def _notice(message: BotMessage) -> str:
    title = clip(message.title, TITLE_MAX)
    mentions = _mentions(message.mentions)
    tail = [mentions.html] if mentions.html else []
    tail_size = _size(mentions.shown) + 1 if mentions.html else 0
    link = f'<a href="{_attr(message.url)}">{OPEN_LABEL}</a>' if message.url else ""
    # Shown: title, "\n", body, "\n\n", [mentions, "\n"], label.
    fixed = _size(title) + 1 + 2 + tail_size + (_size(OPEN_LABEL) if link else 0)
    body = _cut(message.text.strip(), TEXT_MAX - fixed)
    return "\n".join([f"<b>{_escape(title)}</b>", _escape(body), "", *tail, link]).strip()


def _digest(digest: Digest) -> str:
    headline = clip(digest.headline, TITLE_MAX)
    mentions = _mentions(m for message in digest.messages for m in message.mentions)
    budget = TEXT_MAX - _size(headline) - 1 - (_size(mentions.shown) + 1 if mentions.html else 0)
    parts = [f"<b>{_escape(headline)}</b>", *_digest_lines(digest.messages, budget)]
    if mentions.html:
        parts.append(mentions.html)
    return "\n".join(parts)


def _digest_lines(messages: tuple[BotMessage, ...], budget: int) -> list[str]:
    """One HTML line per incident, as many as ``budget`` (shown characters) allows."""
    lines: list[str] = []
    size = 0
    for index, message in enumerate(messages):
        shown, html = _digest_line(message)
        left = len(messages) - index - 1
        reserve = _size(_more(left)) + 1 if left else 0  # room for "… and N more"
        if index >= DIGEST_LINES_MAX or size + _size(shown) + 1 + reserve > budget:
            lines.append(_more(len(messages) - index))
            break
        lines.append(html)
        size += _size(shown) + 1
    return lines


def _digest_line(message: BotMessage) -> tuple[str, str]:
    """``#42 [CRITICAL] HighErrorRate on checkout — triggered (link)``: as shown, as HTML."""
    title = clip(message.title.removeprefix(f"#{message.number} "), LINE_TITLE_MAX)
    head = f"#{message.number} [{clip(message.severity.upper(), NAME_MAX)}] {title} — "
    head += clip(message.status, NAME_MAX)
    if not message.url:
        return head, _escape(head)
    link = f'<a href="{_attr(message.url)}">{LINK_LABEL}</a>'
    return f"{head} ({LINK_LABEL})", f"{_escape(head)} ({link})"


def _more(count: int) -> str:
    return f"{ELLIPSIS} and {count} more"


@dataclass(frozen=True, slots=True)
class _Mentions:
    """The mentions line twice: as the reader sees it, and as the HTML that shows it."""

    shown: str  # what the reader sees, for measuring
    html: str


def _mentions(mentions: Iterable[Mention]) -> _Mentions:
    """A text mention for numeric Telegram user ids, ``@Name`` otherwise; once per member."""
    shown: list[str] = []
    html: list[str] = []
    seen: set[str] = set()
    for mention in mentions:
        if mention.member in seen:
            continue
        seen.add(mention.member)
        if len(html) == MENTIONS_MAX:
            continue
        name = clip(mention.name, NAME_MAX)
        if mention.user_id and mention.user_id.isascii() and mention.user_id.isdigit():
            shown.append(name)
            html.append(f'<a href="tg://user?id={mention.user_id}">{_escape(name)}</a>')
        else:
            shown.append("@" + name)
            html.append("@" + _escape(name))
    if len(seen) > len(html):
        more = _more(len(seen) - len(html))
        shown.append(more)
        html.append(more)
    return _Mentions(" ".join(shown), " ".join(html))


def _size(text: str) -> int:
    """Length in UTF-16 code units: Telegram's own unit for offsets, and never below its count."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 units, ending in "…" when it was cut."""
    if _size(text) <= limit:
        return text
    room = max(0, limit - _size(ELLIPSIS))
    kept: list[str] = []
    for char in text:
        room -= _size(char)
        if room < 0:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


def _escape(text: str) -> str:
    """The three characters Telegram's HTML mode requires as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    """``text`` as a double-quoted attribute value."""
    return _escape(text).replace('"', "&quot;")
