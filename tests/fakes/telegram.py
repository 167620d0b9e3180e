"""A fake Telegram Bot API for the Telegram app: stateful, on an ephemeral loopback port,
answering with the Bot API's JSON and error descriptions.

Point python-telegram-bot at it with ``base_url=f"{fake.url}/bot"`` (``telegram.api_base_url =
fake.url``). It checks the token in ``/bot<token>/<method>`` (404 for a token not shaped like
one, 401 for a wrong one), knows its chats and users (400 ``chat not found``; 403 when a user
never started the bot or blocked it), parses ``parse_mode=HTML`` in outline (400 for bad tags),
refuses text over 4,096 characters as shown and callback data over 64 bytes (400
``BUTTON_DATA_INVALID``, which python-telegram-bot does not check), keeps every message with
its keyboard and every edit, and can be told to fail the next call (429 with
``parameters.retry_after``, 500, anything) and to keep a chat's rate limit (``limit``: a
group's, a private chat's) as the Bot API does: 429 ``Too Many Requests: retry after N`` with
``parameters.retry_after``, counted in ``limited``.

It also plays the people: ``write`` and ``press`` make the updates Telegram would send when
someone writes in a chat or presses a button, for the webhook or for ``getUpdates`` (which
long-polls: it answers once an update is queued or its ``timeout`` runs out).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.limits import Limits
from tests.fakes.telegram_bot import parse_html

TOKEN = "123456:ABC-ackgate-test-token"
BOT_ID = 123456
BOT_USERNAME = "ackgate_bot"
TEXT_MAX = 4096  # as shown, in UTF-16 code units
CALLBACK_DATA_MAX_BYTES = 64
ANSWER_TEXT_MAX = 200
PLACEHOLDER_MAX = 64
LONG_POLL_MAX_S = 50.0
# Form fields that hold JSON (objects, arrays, booleans) rather than text.
JSON_FIELDS = (
    "reply_markup",
    "reply_parameters",
    "link_preview_options",
    "allowed_updates",
    "show_alert",
    "drop_pending_updates",
    "disable_notification",
)
# What counts against a chat's rate limit: a new message, and an edit of one.
LIMITED_METHODS = ("sendMessage", "editMessageText")


@dataclass
class User:
    """A Telegram account."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str = "en"
    started: bool = True  # opened the bot and pressed Start: the bot may message them
    blocked: bool = False

    def json(self) -> dict[str, Any]:
        """The ``User`` object in updates."""
        doc: dict[str, Any] = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.username:
            doc["username"] = self.username
        return doc


@dataclass
class Chat:
    """A group the bot is in, or a private chat with one user (its id is theirs)."""

    id: int
    type: str  # private | group | supergroup
    title: str | None = None

    def json(self, users: dict[int, User]) -> dict[str, Any]:
        """The ``Chat`` object in messages."""
        doc: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            doc["first_name"] = users[self.id].first_name
        else:
            doc["title"] = self.title or f"chat {self.id}"
        return doc


@dataclass
class Message:
    """A message in a chat: the bot's (with what it was sent and every edit) or a person's."""

    chat_id: int
    message_id: int
    sender: int  # a user id, or BOT_ID
    text: str  # as sent (HTML for the bot's)
    shown: str  # as a reader sees it
    keyboard: list[list[dict[str, Any]]] | None = None
    force_reply: dict[str, Any] | None = None
    reply_to: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)

    def buttons(self) -> list[dict[str, Any]]:
        """Every inline button, row by row."""
        return [b for row in self.keyboard or () for b in row]

    def callback_data(self) -> list[str]:
        """The callback data of the buttons that have it."""
        return [str(b["callback_data"]) for b in self.buttons() if "callback_data" in b]


@dataclass(frozen=True)
class Call:
    """One Bot API call as the fake saw it."""

    method: str
    params: dict[str, Any]


class Refusal(Exception):
    """The Bot API's error answer, raised from anywhere in a method's handling."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.response = _error(status, description, retry_after)


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next call (of ``method``, or of any method)."""

    status: int
    description: str
    retry_after: int | None = None
    method: str | None = None


class FakeTelegram:
    """Serve ``app`` (e.g. with ``aiohttp_server``), then set ``url`` to the server's root."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.url = ""
        self.calls: list[Call] = []
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], Message] = {}
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery parameters, in order
        self.webhook: dict[str, Any] | None = None
        self.updates: list[dict[str, Any]] = []  # waiting for getUpdates
        self._next_id: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(1000)
        self._query_ids = itertools.count(1)
        self._faults: deque[Fault] = deque()
        self._limits = Limits()
        self._changed = asyncio.Condition()
        self._closing = False
        self.app = web.Application()
        self.app.router.add_post("/bot{token}/{method}", self._handle)
        self.app.on_shutdown.append(self._release_pollers)
        self._methods: dict[str, Callable[[dict[str, Any]], web.Response]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "answerCallbackQuery": self._answer_callback_query,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
        }

    # --- set-up and inspection for tests ----------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        language_code: str = "en",
        started: bool = True,
    ) -> User:
        """A Telegram user, with the private chat the bot has with them."""
        user = User(user_id, first_name, username, language_code, started)
        self.users[user_id] = user
        self.chats[user_id] = Chat(user_id, "private")
        return user

    def add_group(self, chat_id: int, title: str, kind: str = "supergroup") -> Chat:
        """A group the bot was added to."""
        chat = Chat(chat_id, kind, title)
        self.chats[chat_id] = chat
        return chat

    def fail_next(
        self,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next call (of ``method``) with ``{"ok": false, "error_code": status}``."""
        self._faults.append(Fault(status, description, retry_after, method))

    def limit(
        self,
        count: int,
        per_s: float,
        *,
        private: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Refuse messages and edits past ``count`` in any ``per_s`` seconds in one group (or,
        with ``private``, one private chat), as ``clock`` tells the seconds."""
        self._limits.add("private" if private else "group", count, per_s)
        self._limits.clock = clock

    @property
    def limited(self) -> int:
        """Calls refused for going over a chat's limit."""
        return self._limits.refused

    def called(self, method: str) -> list[Call]:
        """The calls of ``method``, in order."""
        return [c for c in self.calls if c.method == method]

    def posts(self, chat_id: int) -> list[Message]:
        """What the bot posted in ``chat_id``, in order."""
        found = [m for (c, _), m in sorted(self.messages.items()) if c == chat_id]
        return [m for m in found if m.sender == BOT_ID]

    def cards(self, chat_id: int) -> list[Message]:
        """The bot's messages in ``chat_id`` that have buttons: incident cards."""
        return [m for m in self.posts(chat_id) if m.callback_data()]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; it is checked after every call the fake answers."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    # --- people doing things: the updates Telegram would send ------------------------------

    def write(
        self, user_id: int, chat_id: int, text: str, *, reply_to: Message | None = None
    ) -> dict[str, Any]:
        """``user_id`` writes ``text`` in ``chat_id``: the message update (kept in the chat)."""
        message = self._store(chat_id, user_id, text, text)
        doc = self._message_json(message)
        doc["from"] = self.users[user_id].json()
        if text.startswith("/"):
            command = text.split()[0]
            doc["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to is not None:
            message.reply_to = reply_to.message_id
            doc["reply_to_message"] = self._message_json(reply_to)
        return self._update({"message": doc})

    def press(self, user_id: int, message: Message, data: str) -> dict[str, Any]:
        """``user_id`` presses the button carrying ``data`` on ``message``."""
        query = {
            "id": f"{next(self._query_ids)}{user_id}",
            "from": self.users[user_id].json(),
            "message": self._message_json(message),
            "chat_instance": f"ci{message.chat_id}",
            "data": data,
        }
        return self._update({"callback_query": query})

    async def queue(self, update: dict[str, Any]) -> None:
        """Hand ``update`` to the next getUpdates (long polling)."""
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **body}

    # --- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        params = await _parameters(request)
        method = request.match_info["method"]
        self.calls.append(Call(method, params))
        try:
            return await self._answer(request.match_info["token"], method, params)
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _answer(self, token: str, method: str, params: dict[str, Any]) -> web.Response:
        fault = self._take_fault(method)
        if fault is not None:
            return _error(fault.status, fault.description, fault.retry_after)
        if ":" not in token:
            return _error(404, "Not Found")
        if token != self.token:
            return _error(401, "Unauthorized")
        wait_s = self._over_limit(method, params)
        if wait_s is not None:
            return _error(429, f"Too Many Requests: retry after {wait_s}", wait_s)
        try:
            if method == "getUpdates":
                return await self._get_updates(params)
            handler = self._methods.get(method)
            if handler is None:
                return _error(404, "Not Found: method not found")
            return handler(params)
        except Refusal as refusal:
            return refusal.response

    def _over_limit(self, method: str, params: dict[str, Any]) -> int | None:
        """Seconds to wait when this call goes over its chat's limit; else it is counted."""
        raw = str(params.get("chat_id", ""))
        chat = self.chats.get(int(raw)) if raw.lstrip("-").isdigit() else None
        if method not in LIMITED_METHODS or chat is None:
            return None
        return self._limits.take("private" if chat.type == "private" else "group", str(chat.id))

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in (None, method):
                self._faults.remove(fault)
                return fault
        return None

    def _get_me(self, _params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "ackgate",
                "username": BOT_USERNAME,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat = self._chat(params)
        text, shown = _text(params)
        keyboard, force_reply = _markup(params.get("reply_markup"))
        reply_to = _reply_to(params)
        if reply_to is not None and (chat.id, reply_to[0]) not in self.messages and not reply_to[1]:
            raise Refusal(400, "Bad Request: message to be replied not found")
        message = self._store(chat.id, BOT_ID, text, shown)
        message.keyboard, message.force_reply = keyboard, force_reply
        message.reply_to = reply_to[0] if reply_to else None
        return _ok(self._message_json(message))

    def _edit_message_text(self, params: dict[str, Any]) -> web.Response:
        chat = self._chat(params, editing=True)
        message = self.messages.get((chat.id, int(params.get("message_id", 0))))
        if message is None or message.sender != BOT_ID:
            raise Refusal(400, "Bad Request: message to edit not found")
        text, shown = _text(params)
        keyboard, force_reply = _markup(params.get("reply_markup"))
        if force_reply is not None:
            raise Refusal(400, "Bad Request: inline keyboard expected")
        if (shown, keyboard) == (message.shown, message.keyboard):
            raise Refusal(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.text, message.shown, message.keyboard = text, shown, keyboard
        message.edits.append({"text": text, "shown": shown, "keyboard": keyboard})
        return _ok(self._message_json(message))

    def _answer_callback_query(self, params: dict[str, Any]) -> web.Response:
        if not params.get("callback_query_id"):
            return _error(400, "Bad Request: QUERY_ID_INVALID")
        if len(str(params.get("text", ""))) > ANSWER_TEXT_MAX:
            return _error(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answers.append(params)
        return _ok(True)

    def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            return _error(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        self.webhook = params if url else None
        return _ok(True)

    def _delete_webhook(self, _params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0))
        if offset:
            # Asking from ``offset`` confirms everything before it: Telegram forgets those.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        wait_s = min(float(params.get("timeout", 0)), LONG_POLL_MAX_S)

        def ready() -> bool:
            return self._closing or any(u["update_id"] >= offset for u in self.updates)

        if wait_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s), self._changed:
                    await self._changed.wait_for(ready)
        return _ok([u for u in self.updates if u["update_id"] >= offset])

    async def _release_pollers(self, _app: web.Application) -> None:
        """A long poll held open would hold up the server's shutdown: answer it now."""
        async with self._changed:
            self._closing = True
            self._changed.notify_all()

    # --- helpers ---------------------------------------------------------------------------

    def _chat(self, params: dict[str, Any], *, editing: bool = False) -> Chat:
        raw = str(params.get("chat_id", ""))
        if not raw:
            raise Refusal(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(int(raw)) if raw.lstrip("-").isdigit() else None
        if chat is None:
            raise Refusal(400, "Bad Request: chat not found")
        if chat.type == "private" and not editing:
            user = self.users[chat.id]
            if user.blocked:
                raise Refusal(403, "Forbidden: bot was blocked by the user")
            if not user.started:
                raise Refusal(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _store(self, chat_id: int, sender: int, text: str, shown: str) -> Message:
        ids = self._next_id.setdefault(chat_id, itertools.count(1))
        message = Message(chat_id, next(ids), sender, text, shown)
        self.messages[(chat_id, message.message_id)] = message
        return message

    def _message_json(self, message: Message) -> dict[str, Any]:
        sender = (
            {"id": BOT_ID, "is_bot": True, "first_name": "ackgate", "username": BOT_USERNAME}
            if message.sender == BOT_ID
            else self.users[message.sender].json()
        )
        doc: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": self.chats[message.chat_id].json(self.users),
            "from": sender,
            "text": message.shown,
        }
        if message.keyboard:
            doc["reply_markup"] = {"inline_keyboard": message.keyboard}
        return doc


def _text(params: dict[str, Any]) -> tuple[str, str]:
    """The text as sent and as shown; raises Refusal as the Bot API would answer."""
    text = params.get("text")
    if not isinstance(text, str):
        raise Refusal(400, "Bad Request: message text is empty")
    parse_mode = params.get("parse_mode")
    if parse_mode not in (None, "", "HTML"):
        raise Refusal(400, f"Bad Request: parse_mode {parse_mode!r} is not in this fake")
    shown = text
    if parse_mode == "HTML":
        shown, problem = parse_html(text)
        if problem:
            raise Refusal(400, f"Bad Request: can't parse entities: {problem}")
    shown = shown.strip()
    if not shown:
        raise Refusal(400, "Bad Request: message text is empty")
    if len(shown.encode("utf-16-le")) // 2 > TEXT_MAX:
        raise Refusal(400, "Bad Request: message is too long")
    return text, shown


def _markup(markup: Any) -> tuple[list[list[dict[str, Any]]] | None, dict[str, Any] | None]:
    """An inline keyboard or a ForceReply, checked the way the Bot API does."""
    if markup is None:
        return None, None
    if isinstance(markup, dict) and markup.get("force_reply") is True:
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and not 1 <= len(str(placeholder)) <= PLACEHOLDER_MAX:
            raise Refusal(400, "Bad Request: input field placeholder is too long")
        return None, markup
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise Refusal(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise Refusal(400, "Bad Request: can't parse inline keyboard button")
        if len([k for k in ("url", "callback_data") if k in button]) != 1:
            raise Refusal(400, "Bad Request: can't parse inline keyboard button: one action")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_MAX_BYTES:
            raise Refusal(400, "Bad Request: BUTTON_DATA_INVALID")
        url = button.get("url")
        if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
            raise Refusal(400, "Bad Request: BUTTON_URL_INVALID")
    return rows, None


def _reply_to(params: dict[str, Any]) -> tuple[int, bool] | None:
    """The message replied to, and whether sending without it is allowed."""
    reply = params.get("reply_parameters")
    if isinstance(reply, dict):
        return int(reply["message_id"]), bool(reply.get("allow_sending_without_reply"))
    if "reply_to_message_id" in params:
        allowed = str(params.get("allow_sending_without_reply")).lower() == "true"
        return int(params["reply_to_message_id"]), allowed
    return None


async def _parameters(request: web.Request) -> dict[str, Any]:
    """A form (as PTB sends) or JSON; nested objects arrive as JSON strings in a form."""
    if request.content_type == "application/json":
        doc = await request.json()
        return doc if isinstance(doc, dict) else {}
    params: dict[str, Any] = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    for key in JSON_FIELDS:
        if key in params:
            params[key] = json.loads(params[key])
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
