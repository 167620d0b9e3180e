"""A fake Feishu/Lark Open API: stateful, on an ephemeral loopback port, answering like Feishu.

Serve ``app`` (e.g. with ``aiohttp_server``) and point ``lark.api_base_url`` at ``url``. It
hands out tenant access tokens (checking app_id and app_secret), checks the Bearer token on
every call, keeps the messages it was sent (cards parsed, ``uuid`` honoured), applies PATCHes
and replies to them, answers ``batch_get_id`` from its users, and can be told to fail the next
call: HTTP 429 with ``x-ogw-ratelimit-reset``, any Feishu ``code``, or a token that expired.
``limit`` makes it keep Feishu's rate limits: messages to one chat (a group, or a person's
DM), refused with 230020 as the message API answers; and an API's rate for the app (PATCH),
refused with HTTP 429, 99991400 and ``x-ogw-ratelimit-reset``. Both count in ``limited``.

Feishu's bodies are ``{"code", "msg", "data"}``; the codes used here are from our verified
notes (99991400, 99991663, 230002, 230013) and the message API's reference (230020); the
``msg`` wordings are modelled.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from tests.fakes.limits import Limits

APP_ID = "cli_fake_app"
APP_SECRET = "fake-app-secret-0123"
TOKEN_EXPIRE_S = 7200
CARD_MAX_BYTES = 30 * 1024

CODE_RATE_LIMITED = 99991400
CODE_TOKEN_INVALID = 99991663
CODE_BAD_REQUEST = 230001
CODE_BOT_NOT_IN_CHAT = 230002
CODE_NO_AVAILABILITY = 230013
CODE_BAD_CARD = 230099
CODE_CHAT_RATE_LIMITED = 230020
MESSAGES = {
    CODE_CHAT_RATE_LIMITED: "This operation triggers the frequency limit.",
    CODE_RATE_LIMITED: "request trigger frequency limit",
    CODE_TOKEN_INVALID: "Invalid access token for authorization.",
    CODE_BAD_REQUEST: "Your request contains an invalid request parameter.",
    CODE_BOT_NOT_IN_CHAT: "Bot is not in the chat.",
    CODE_NO_AVAILABILITY: "Bot has NO availability to this user.",
    CODE_BAD_CARD: "Failed to create card content.",
}
MSG_TYPES = frozenset({"text", "post", "interactive"})


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: CIMultiDictProxy[str]


@dataclass
class Message:
    """A message the app sent, with every PATCH applied in order (``content`` is parsed)."""

    message_id: str
    chat_id: str
    msg_type: str
    content: dict[str, Any]
    receive_id: str = ""
    parent_id: str | None = None
    in_thread: bool = False
    from_person: bool = False
    updates: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        """Everything the message says, for asserting on it."""
        return json.dumps(self.content, ensure_ascii=False)


@dataclass(frozen=True)
class Fault:
    """A scripted failure for the next call (to ``path``, or to any path but the token's)."""

    status: int = 200
    code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None


class FakeLark:
    """One app in one tenant: its chats (with the bot in them) and its users."""

    def __init__(self, app_id: str = APP_ID, app_secret: str = APP_SECRET) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.url = ""  # set by whoever serves the app
        self.token_expire_s = TOKEN_EXPIRE_S
        self.calls: list[Call] = []
        self.tokens: list[str] = []  # every token handed out, in order
        self.valid_tokens: set[str] = set()
        self.chats: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {}  # open_id → {"email", "name"}
        self.messages: dict[str, Message] = {}
        self._uuids: dict[str, str] = {}
        self._faults: deque[Fault] = deque()
        self._limits = Limits()
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self.app = web.Application()
        self.app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", self._token)
        self.app.router.add_post("/open-apis/im/v1/messages", self._create)
        self.app.router.add_patch("/open-apis/im/v1/messages/{id}", self._patch)
        self.app.router.add_post("/open-apis/im/v1/messages/{id}/reply", self._reply)
        self.app.router.add_post("/open-apis/contact/v3/users/batch_get_id", self._batch_get_id)

    # --- set-up and inspection for tests ----------------------------------------------------

    def add_chat(self, *chat_ids: str) -> None:
        """Group chats the bot is in."""
        self.chats.update(chat_ids)

    def add_user(self, open_id: str, email: str | None = None, name: str = "") -> None:
        """A person in the app's availability scope (``email`` as batch_get_id knows it)."""
        self.users[open_id] = {"email": email, "name": name or open_id}

    def add_incoming(self, message_id: str, chat_id: str, text: str) -> None:
        """A message a person sent (that the app may reply to); not one of ``posts()``."""
        self.messages[message_id] = Message(
            message_id, chat_id, "text", {"text": text}, from_person=True
        )

    def fail_next(
        self,
        status: int = 200,
        code: int | None = None,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next call (to ``path``) with HTTP ``status`` and Feishu ``code``."""
        self._faults.append(Fault(status, code, dict(headers or {}), path))

    def limit(
        self,
        what: str,
        count: int,
        per_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Refuse past ``count`` calls in any ``per_s`` seconds, as ``clock`` tells them:
        ``what = "chat"`` counts the messages sent to one chat (replies included), ``"patch"``
        every card update the app makes."""
        if what not in ("chat", "patch"):
            raise ValueError(f"no such limit in this fake: {what!r}")
        self._limits.add(what, count, per_s)
        self._limits.clock = clock

    @property
    def limited(self) -> int:
        """Calls refused for going over a limit."""
        return self._limits.refused

    def expire_tokens(self) -> None:
        """Every token handed out so far stops working (as after its two hours)."""
        self.valid_tokens.clear()

    def called(self, path_end: str, method: str | None = None) -> list[Call]:
        """Calls whose path ends with ``path_end`` (and of ``method``), in order."""
        return [
            c
            for c in self.calls
            if c.path.endswith(path_end) and (method is None or c.method == method)
        ]

    def posts(self, chat_id: str | None = None) -> list[Message]:
        """Top-level messages (not replies) in ``chat_id``, in order."""
        return [
            m
            for m in self.messages.values()
            if m.parent_id is None
            and not m.from_person
            and (chat_id is None or m.chat_id == chat_id)
        ]

    def replies(self, message_id: str) -> list[Message]:
        """Replies to the message ``message_id``, in order."""
        return [m for m in self.messages.values() if m.parent_id == message_id]

    @staticmethod
    def p2p_chat(open_id: str) -> str:
        """The chat id of the app's DM with ``open_id``."""
        return f"oc_p2p_{open_id}"

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; it is checked after every call the fake answers."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    # --- the API ---------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> tuple[Call, Any]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(request.method, request.path, dict(request.query), body, request.headers)
        self.calls.append(call)
        return call, body

    async def _answered(self, response: web.Response) -> web.Response:
        async with self._changed:
            self._changed.notify_all()
        return response

    def _fault(self, path: str) -> web.Response | None:
        for fault in self._faults:
            if fault.path is None or path.endswith(fault.path):
                self._faults.remove(fault)
                if fault.status >= 500 and fault.code is None:
                    return web.Response(status=fault.status, text="upstream error")
                code = fault.code if fault.code is not None else CODE_RATE_LIMITED
                return _error(code, fault.status, fault.headers)
        return None

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The fault scripted for this call, else Feishu's answer to a missing or bad token."""
        fault = self._fault(request.path)
        if fault is not None:
            return fault
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.valid_tokens:
            return _error(CODE_TOKEN_INVALID, 400)
        return None

    async def _token(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        if not isinstance(body, dict):
            return await self._answered(_error(CODE_BAD_REQUEST, 400))
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            refused = web.json_response({"code": 10014, "msg": "app secret invalid"}, status=400)
            return await self._answered(refused)
        token = f"t-fake-{next(self._ids)}"
        self.tokens.append(token)
        self.valid_tokens.add(token)
        doc = {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": self.token_expire_s}
        return await self._answered(web.json_response(doc))

    async def _create(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        kind = request.query.get("receive_id_type")
        if not isinstance(body, dict) or kind not in ("chat_id", "open_id"):
            return await self._answered(_error(CODE_BAD_REQUEST, 400))
        receive_id = str(body.get("receive_id") or "")
        if kind == "chat_id" and receive_id not in self.chats:
            return await self._answered(_error(CODE_BOT_NOT_IN_CHAT, 400))
        if kind == "open_id" and receive_id not in self.users:
            return await self._answered(_error(CODE_NO_AVAILABILITY, 400))
        chat_id = receive_id if kind == "chat_id" else self.p2p_chat(receive_id)
        refused = self._over_limit("chat", chat_id)
        if refused is not None:
            return await self._answered(refused)
        uuid = body.get("uuid")
        if isinstance(uuid, str) and uuid in self._uuids:
            return await self._answered(_ok(self._data(self.messages[self._uuids[uuid]])))
        made = self._message(body, chat_id)
        if isinstance(made, web.Response):
            return await self._answered(made)
        made.receive_id = receive_id
        if isinstance(uuid, str):
            self._uuids[uuid] = made.message_id
        return await self._answered(_ok(self._data(made)))

    async def _patch(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        refused = self._over_limit("patch", self.app_id)
        if refused is not None:
            return await self._answered(refused)
        message = self.messages.get(request.match_info["id"])
        if message is None or message.msg_type != "interactive" or not isinstance(body, dict):
            return await self._answered(_error(CODE_BAD_REQUEST, 400))
        card = _card(body.get("content"))
        # Only a shared card (update_multi) may be updated for everyone.
        if card is None or not (card.get("config") or {}).get("update_multi"):
            return await self._answered(_error(CODE_BAD_CARD, 400))
        message.content = card
        message.updates.append(card)
        return await self._answered(_ok({}))

    async def _reply(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        parent = self.messages.get(request.match_info["id"])
        if parent is None or not isinstance(body, dict):
            return await self._answered(_error(CODE_BAD_REQUEST, 400))
        refused = self._over_limit("chat", parent.chat_id)
        if refused is not None:
            return await self._answered(refused)
        made = self._message(body, parent.chat_id)
        if isinstance(made, web.Response):
            return await self._answered(made)
        made.parent_id = parent.message_id
        made.in_thread = bool(body.get("reply_in_thread"))
        return await self._answered(_ok(self._data(made)))

    async def _batch_get_id(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        emails = body.get("emails") if isinstance(body, dict) else None
        if request.query.get("user_id_type") != "open_id" or not isinstance(emails, list):
            return await self._answered(_error(CODE_BAD_REQUEST, 400))
        if len(emails) > 50:
            return await self._answered(_error(CODE_BAD_REQUEST, 400))
        found = []
        for email in emails:
            user = next(
                (
                    open_id
                    for open_id, u in self.users.items()
                    if (u["email"] or "").lower() == str(email).lower()
                ),
                None,
            )
            found.append({"email": email, **({"user_id": user} if user else {})})
        return await self._answered(_ok({"user_list": found}))

    def _over_limit(self, what: str, key: str) -> web.Response | None:
        """Feishu's refusal when this call goes over a limit; else the call is counted."""
        wait_s = self._limits.take(what, key)
        if wait_s is None:
            return None
        if what == "chat":
            return _error(CODE_CHAT_RATE_LIMITED, 400)
        return _error(CODE_RATE_LIMITED, 429, {"x-ogw-ratelimit-reset": str(wait_s)})

    def _message(self, body: dict[str, Any], chat_id: str) -> Message | web.Response:
        msg_type, content = body.get("msg_type"), body.get("content")
        if msg_type not in MSG_TYPES or not isinstance(content, str):
            return _error(CODE_BAD_REQUEST, 400)
        parsed = _card(content) if msg_type == "interactive" else _json(content)
        if parsed is None:
            return _error(CODE_BAD_CARD if msg_type == "interactive" else CODE_BAD_REQUEST, 400)
        message_id = f"om_{next(self._ids)}"
        message = Message(message_id, chat_id, str(msg_type), parsed)
        self.messages[message_id] = message
        return message

    @staticmethod
    def _data(message: Message) -> dict[str, Any]:
        return {
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "msg_type": message.msg_type,
            "body": {"content": json.dumps(message.content, ensure_ascii=False)},
        }


def _json(content: object) -> dict[str, Any] | None:
    try:
        doc = json.loads(content) if isinstance(content, str) else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _card(content: object) -> dict[str, Any] | None:
    """A card JSON 2.0 within the size limit, or None (Feishu refuses the message)."""
    if not isinstance(content, str) or len(content.encode()) > CARD_MAX_BYTES:
        return None
    card = _json(content)
    if card is None or card.get("schema") != "2.0":
        return None
    if not isinstance((card.get("body") or {}).get("elements"), list):
        return None
    return card


def _ok(data: dict[str, Any]) -> web.Response:
    return web.json_response({"code": 0, "msg": "success", "data": data})


def _error(code: int, status: int = 400, headers: dict[str, str] | None = None) -> web.Response:
    body = {"code": code, "msg": MESSAGES.get(code, "error"), "data": {}}
    return web.json_response(body, status=status, headers=headers)
