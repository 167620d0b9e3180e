"""A fake Telegram Bot API (``sendMessage`` only): stateful, on an ephemeral loopback port,
answering with the Bot API's JSON and error descriptions.

It checks the token in ``/bot<token>/<method>`` (401 ``Unauthorized``; 404 ``Not Found`` for a
token not shaped like one), knows its chats (400 ``chat not found``; 403 when the bot was
kicked or is not a member), holds each chat to 20 messages a minute (429 with
``parameters.retry_after``), parses ``parse_mode=HTML`` the way Telegram does in outline
(400 ``can't parse entities`` for an unknown tag or an unbalanced one), refuses text over
4,096 characters as shown, checks inline keyboards, and keeps every message it accepted.

Time comes from ``clock`` (seconds, monotonic), so tests can move it without sleeping.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:ABC-fake-bot-token"
PER_CHAT_PER_MINUTE = 20  # the Bot FAQ's cap for one group
WINDOW_S = 60.0
TEXT_MAX = 4096  # counted as shown, in UTF-16 code units (the Bot API's unit for offsets)
CALLBACK_DATA_MAX_BYTES = 64
# The tags Telegram's HTML mode knows.
TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "tg-emoji", "code", "pre", "blockquote",
    }
)  # fmt: skip
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


@dataclass
class Chat:
    """A chat the bot was added to (``kicked`` / ``left`` when it no longer is)."""

    chat_id: str
    kind: str = "supergroup"
    state: str = "member"  # member | kicked | left
    sent_at: deque[float] = field(default_factory=deque)


@dataclass(frozen=True)
class Sent:
    """One message the fake accepted."""

    chat_id: str
    message_id: int
    text: str  # as sent (HTML)
    shown: str  # as a reader sees it
    parse_mode: str | None
    reply_markup: Any
    disable_web_page_preview: bool


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next call."""

    status: int
    description: str
    retry_after: int | None = None


class FakeTelegramBot:
    """Serve ``app`` (e.g. with ``aiohttp_server``), then set ``base`` to the server's root."""

    def __init__(self, token: str = TOKEN, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.clock = clock
        self.base = ""
        self.chats: dict[str, Chat] = {}
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []  # method and parameters
        self._faults: deque[Fault] = deque()
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_post("/bot{token}/{method}", self._handle)

    def add_chat(self, chat_id: str, *, state: str = "member") -> None:
        """A chat the bot knows; ``state`` ``kicked`` or ``left`` makes sends fail with 403."""
        self.chats[chat_id] = Chat(chat_id, state=state)

    def kick(self, chat_id: str) -> None:
        """Someone removed the bot from the group."""
        self.chats[chat_id].state = "kicked"

    def fail_next(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        """Answer the next call with ``{"ok": false, "error_code": status, description}``."""
        self._faults.append(Fault(status, description, retry_after))

    def messages(self, chat_id: str) -> list[Sent]:
        """What the bot posted in ``chat_id``, in order."""
        return [m for m in self.sent if m.chat_id == chat_id]

    async def _handle(self, request: web.Request) -> web.Response:
        params = await _parameters(request)
        method = request.match_info["method"]
        self.calls.append((method, params))
        if self._faults:
            fault = self._faults.popleft()
            return _error(fault.status, fault.description, fault.retry_after)
        token = request.match_info["token"]
        if ":" not in token:
            return _error(404, "Not Found")
        if token != self.token:
            return _error(401, "Unauthorized")
        if method != "sendMessage":
            return _error(404, "Not Found")
        return self._send_message(params)

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = str(params.get("chat_id", ""))
        if not chat_id:
            return _error(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(chat_id)
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        if chat.state == "kicked":
            return _error(403, f"Forbidden: bot was kicked from the {chat.kind} chat")
        if chat.state == "left":
            return _error(403, f"Forbidden: bot is not a member of the {chat.kind} chat")
        now = self.clock()
        while chat.sent_at and chat.sent_at[0] <= now - WINDOW_S:
            chat.sent_at.popleft()
        if len(chat.sent_at) >= PER_CHAT_PER_MINUTE:
            wait = max(1, math.ceil(chat.sent_at[0] + WINDOW_S - now))
            return _error(429, f"Too Many Requests: retry after {wait}", wait)
        text = params.get("text")
        if not isinstance(text, str):
            return _error(400, "Bad Request: message text is empty")
        parse_mode = params.get("parse_mode")
        if parse_mode not in (None, "", "HTML"):
            return _error(400, f"Bad Request: unsupported parse_mode {parse_mode!r} in this fake")
        if parse_mode == "HTML":
            shown, problem = parse_html(text)
            if problem:
                return _error(400, f"Bad Request: can't parse entities: {problem}")
        else:
            shown = text
        shown = shown.strip()
        if not shown:
            return _error(400, "Bad Request: message text is empty")
        if _utf16(shown) > TEXT_MAX:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        problem = _keyboard_problem(markup)
        if problem:
            return _error(400, f"Bad Request: {problem}")
        chat.sent_at.append(now)
        sent = Sent(
            chat_id=chat_id,
            message_id=next(self._ids),
            text=text,
            shown=shown,
            parse_mode=parse_mode or None,
            reply_markup=markup,
            disable_web_page_preview=bool(params.get("disable_web_page_preview")),
        )
        self.sent.append(sent)
        result = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {
                "id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
                "type": chat.kind,
            },
            "text": shown,
        }
        return web.json_response({"ok": True, "result": result})


def parse_html(text: str) -> tuple[str, str | None]:
    """The text as shown, and what Telegram would refuse in it (None when it parses).

    Known tags must balance; a ``<`` that starts no known tag is refused, as Telegram does;
    the entities ``&lt; &gt; &amp; &quot;`` and numeric ones are decoded.
    """
    shown: list[str] = []
    stack: list[str] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char == "<":
            offset = len(text[:at].encode())
            tag = _TAG.match(text, at)
            if tag is None:
                return "", f"unexpected character '<' at byte offset {offset}"
            closing, name = tag.group(1) == "/", tag.group(2).lower()
            if name not in TAGS:
                kind = "end" if closing else "start"
                return "", f'Unsupported {kind} tag "{name}" at byte offset {offset}'
            if not closing:
                stack.append(name)
            elif not stack or stack.pop() != name:
                return "", f'Unmatched end tag at byte offset {offset}, expected "{name}"'
            at = tag.end()
        elif char == "&" and (entity := _ENTITY.match(text, at)):
            shown.append(html.unescape(entity.group(0)))
            at = entity.end()
        else:
            shown.append(char)
            at += 1
    if stack:
        return "", f'Can\'t find end tag corresponding to start tag "{stack[-1]}"'
    return "".join(shown), None


def _keyboard_problem(markup: Any) -> str | None:
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return "can't parse reply keyboard markup JSON object"
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not button.get("text"):
            return "can't parse inline keyboard button: Text buttons are unallowed"
        actions = [k for k in ("url", "callback_data") if k in button]
        if len(actions) != 1:
            return "can't parse inline keyboard button: exactly one action is required"
        url = button.get("url")
        if url is not None and not re.match(r"(https?|tg)://", str(url)):
            return f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol"
        data = button.get("callback_data")
        if data is not None and len(str(data).encode()) > CALLBACK_DATA_MAX_BYTES:
            return "BUTTON_DATA_INVALID"
    return None


async def _parameters(request: web.Request) -> dict[str, Any]:
    """JSON bodies as they are; forms (as PTB sends) with ``reply_markup`` decoded."""
    if request.content_type == "application/json":
        doc = await request.json()
        return doc if isinstance(doc, dict) else {}
    form = dict(await request.post())
    params: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    if "reply_markup" in params:
        params["reply_markup"] = json.loads(params["reply_markup"])
    return params


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
