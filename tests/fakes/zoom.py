"""A fake Zoom chatbot API: stateful, on an ephemeral loopback port, answering like Zoom.

Serve ``app`` (e.g. with ``aiohttp_server``) and point both ``zoom.api_base_url`` and
``zoom.oauth_url`` at ``url``. It hands out chatbot tokens at ``POST /oauth/token`` (Basic
client_id:client_secret, ``grant_type=client_credentials``), checks the Bearer token on every
``/v2/im/chat/messages`` call (401 code 124 otherwise), knows its channels and users (404 for
any other ``to_jid``), checks the robot JID, the account and the shape of ``content``, keeps
every message with every edit, and can be told to fail the next call (429 with Retry-After,
401, 404, 5xx, anything). ``limit`` makes it keep the account's rate limit for its "Medium"
calls (send and edit together), refused as Zoom documents (developers.zoom.us/docs/api/
rate-limits): HTTP 429, ``code`` 429, "You have reached the maximum per-second rate limit
for this API…" with ``X-RateLimit-Category/Type/Limit/Remaining`` (Zoom sends no
Retry-After for it), or, over the daily limit (reset at 00:00 UTC), the daily sentence with
``X-RateLimit-Type: Daily-limit`` and ``Retry-After`` the next midnight (ISO 8601, as in
Zoom's example). Both count in ``limited``.

It also plays the people: ``click``, ``edit_field``, ``choose``, ``command`` and
``url_validation`` make the events Zoom would POST to the Bot Endpoint URL (the caller signs
them).

From our notes and Zoom's docs (customizing-messages: form field, dropdown; the event types of
Zoom's Rivet SDK): the endpoints, the token's shape, ``content`` types, button styles, editable
fields (blank is one space), dropdowns (``select_items`` or ``static_source``, not both) and
the ``interactive_message_fields_editable`` / ``interactive_message_select`` events. Modelled
(not in our notes): Zoom's error ``code`` numbers other than 124 and their sentences, the 201
on send, and the 4,000-character cap on a message (our budget, enforced here to hold us to it).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from tests.fakes.limits import Limits

CLIENT_ID = "zoom-client-id"
CLIENT_SECRET = "zoom-client-secret-0123"
BOT_JID = "v1botackgate@xmpp.zoom.us"
ACCOUNT_ID = "zoom-account-1"
TOKEN_EXPIRES_S = 3599
TEXT_MAX = 4_000
BODY_TYPES = frozenset({"message", "fields", "actions", "section", "select"})
STATIC_SOURCES = frozenset({"members", "channels"})
STYLES = frozenset({"Primary", "Default", "Danger", "Disabled"})
BUTTON_VALUE_MAX = 64  # ours (cards.callback), restated: Zoom's own cap is not in our notes
COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
COUNTED = frozenset({"text", "key", "value", "link"})

CODE_INVALID_TOKEN = 124
CODE_BAD_REQUEST = 300
CODE_RATE_LIMITED = 429
CODE_NOT_FOUND = 7001
# Zoom's refusals for going over a rate limit (the error table of its rate-limits page).
PER_SECOND_LIMITED = (
    "You have reached the maximum per-second rate limit for this API. Try again later."
)
DAILY_LIMITED = (
    "You have reached the maximum daily rate limit for this API. Refer to the response header "
    "for details on when you can make another request."
)


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
    """A chatbot message, with what every edit replaced its ``content`` with, in order."""

    message_id: str
    to_jid: str
    content: dict[str, Any]
    reply_to: str | None = None
    visible_to_user: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        """Everything the message says now (its content as JSON), for asserting on it."""
        return json.dumps(self.content, ensure_ascii=False)

    def buttons(self) -> list[dict[str, Any]]:
        """Every button of every ``actions`` element."""
        return [
            item
            for element in self.content.get("body", [])
            if element.get("type") == "actions"
            for item in element["items"]
        ]

    def values(self) -> list[str]:
        """The ``value`` of each button, in order."""
        return [str(b["value"]) for b in self.buttons()]

    def editable_keys(self) -> list[str]:
        """The ``key`` of every editable form field (top level and in sections)."""
        return [
            str(item["key"])
            for element in _elements(self.content)
            if element.get("type") == "fields"
            for item in element["items"]
            if item.get("editable")
        ]

    def choices(self) -> list[dict[str, str]]:
        """The ``select_items`` of every dropdown, in order."""
        return [
            item
            for element in _elements(self.content)
            if element.get("type") == "select"
            for item in element.get("select_items", [])
        ]


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next call (to ``path``: "token", "send", "edit"; None: any
    chatbot-message call)."""

    status: int
    code: int | str | None
    message: str
    retry_after: str | None
    path: str | None


class FakeZoom:
    """One chatbot installed on one account, with its channels and users."""

    def __init__(self) -> None:
        self.url = ""  # set by whoever serves the app
        self.token_expires_s = TOKEN_EXPIRES_S
        self.calls: list[Call] = []
        self.tokens: list[str] = []  # every token handed out, in order
        self.valid_tokens: set[str] = set()
        self.channels: set[str] = set()
        self.users: dict[str, dict[str, str]] = {}  # user JID → {"id", "name"}
        self.messages: dict[str, Message] = {}
        self._faults: deque[Fault] = deque()
        self._limits = Limits()
        self._per_second: int | None = None
        self._per_day: int | None = None
        self._days: Counter[date] = Counter()  # Medium calls let through, per UTC day
        self._daily_refused = 0
        self._ids = itertools.count(1)
        self._moments = itertools.count(1_772_359_200_000)  # ms; event timestamps
        self.app = web.Application()
        self.app.router.add_post("/oauth/token", self._token)
        self.app.router.add_post("/v2/im/chat/messages", self._send)
        self.app.router.add_put("/v2/im/chat/messages/{message_id}", self._edit)

    # --- set-up and inspection for tests ----------------------------------------------------

    def add_channel(self, jid: str) -> None:
        """A channel the bot is in."""
        self.channels.add(jid)

    def add_user(self, jid: str, user_id: str, name: str) -> None:
        """A person on the account (the bot can DM them at ``jid``)."""
        self.users[jid] = {"id": user_id, "name": name}

    def fail_next(
        self,
        status: int,
        message: str = "",
        *,
        code: int | str | None = None,
        retry_after: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next call (to ``path``) with ``status`` and ``{code, message}``."""
        self._faults.append(Fault(status, code, message, retry_after, path))

    def limit(
        self, per_second: int, per_day: int | None = None, *, clock: Callable[[], float]
    ) -> None:
        """Keep the account's limit for send and edit (both "Medium"): ``per_second`` in any
        second and, if given, ``per_day`` in a UTC day, counted on ``clock`` (epoch seconds)."""
        self._limits.add("medium", per_second, 1.0)
        self._limits.clock = clock
        self._per_second, self._per_day = per_second, per_day

    @property
    def limited(self) -> int:
        """Calls refused for going over a rate limit."""
        return self._limits.refused + self._daily_refused

    def expire_tokens(self) -> None:
        """Every token handed out so far stops working (as after its hour)."""
        self.valid_tokens.clear()

    def called(self, path: str, method: str | None = None) -> list[Call]:
        """Calls to ``path`` (and of ``method``), in order."""
        return [c for c in self.calls if c.path == path and method in (None, c.method)]

    def posts(self, to_jid: str) -> list[Message]:
        """What the bot sent to ``to_jid``, in order."""
        return [m for m in self.messages.values() if m.to_jid == to_jid]

    def cards(self, to_jid: str) -> list[Message]:
        """The bot's messages to ``to_jid`` that have buttons: incident cards."""
        return [m for m in self.posts(to_jid) if m.buttons()]

    def answers(self, to_jid: str) -> list[Message]:
        """The bot's messages to ``to_jid`` other than cards (and replies under them)."""
        return [m for m in self.posts(to_jid) if not m.buttons() and m.reply_to is None]

    # --- people doing things: the events Zoom would send -------------------------------------

    def click(
        self, user_jid: str, message: Message, value: str, *, moment_ms: int | None = None
    ) -> dict[str, Any]:
        """``user_jid`` presses the button carrying ``value`` on ``message``."""
        text = next((b["text"] for b in message.buttons() if b["value"] == value), value)
        payload = {
            **self._person(user_jid, message.to_jid, moment_ms),
            "messageId": message.message_id,
            "original": message.content,
            "actionItem": {"text": text, "value": value},
        }
        return {"event": "interactive_message_actions", "payload": payload}

    def edit_field(
        self,
        user_jid: str,
        message: Message,
        key: str,
        new_value: str,
        *,
        moment_ms: int | None = None,
    ) -> dict[str, Any]:
        """``user_jid`` types ``new_value`` into the editable field ``key`` of ``message``."""
        current = next(
            (
                str(item.get("value", ""))
                for element in _elements(message.content)
                if element.get("type") == "fields"
                for item in element["items"]
                if item.get("key") == key
            ),
            "",
        )
        payload = {
            **self._person(user_jid, message.to_jid, moment_ms),
            "messageId": message.message_id,
            "original": message.content,
            "fieldEditItem": {"currentValue": current.strip(), "key": key, "newValue": new_value},
        }
        return {"event": "interactive_message_fields_editable", "payload": payload}

    def choose(
        self, user_jid: str, message: Message, value: str, *, moment_ms: int | None = None
    ) -> dict[str, Any]:
        """``user_jid`` picks the dropdown option carrying ``value`` on ``message``."""
        payload = {
            **self._person(user_jid, message.to_jid, moment_ms),
            "messageId": message.message_id,
            "original": message.content,
            "selectedItems": [{"value": value}],
        }
        return {"event": "interactive_message_select", "payload": payload}

    def command(
        self, user_jid: str, to_jid: str, cmd: str, *, moment_ms: int | None = None
    ) -> dict[str, Any]:
        """``user_jid`` types ``cmd`` after the slash command in ``to_jid`` (or DMs the bot)."""
        payload = {
            **self._person(user_jid, to_jid, moment_ms),
            "cmd": cmd,
            "name": "ackgate",
            "triggerId": f"trigger-{next(self._ids)}",
        }
        return {"event": "bot_notification", "payload": payload}

    @staticmethod
    def url_validation(plain_token: str) -> dict[str, Any]:
        """Zoom checking the Bot Endpoint URL (when it is saved, then every 72 hours)."""
        return {"event": "endpoint.url_validation", "payload": {"plainToken": plain_token}}

    def _person(self, user_jid: str, to_jid: str, moment_ms: int | None) -> dict[str, Any]:
        user = self.users[user_jid]
        moment = next(self._moments) if moment_ms is None else moment_ms
        return {
            "accountId": ACCOUNT_ID,
            "channelName": to_jid.split("@", 1)[0] if to_jid in self.channels else "",
            "robotJid": BOT_JID,
            "timestamp": moment,
            "toJid": to_jid,
            "userId": user["id"],
            "userJid": user_jid,
            "userName": user["name"],
        }

    # --- the API ---------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.calls.append(
            Call(request.method, request.path, dict(request.query), body, request.headers)
        )
        return body

    def _fault(self, path: str) -> web.Response | None:
        for fault in self._faults:
            if fault.path == path or (fault.path is None and path != "token"):
                self._faults.remove(fault)
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                code = fault.code if fault.code is not None else fault.status
                doc = {"code": code, "message": fault.message or f"scripted {fault.status}"}
                return web.json_response(doc, status=fault.status, headers=headers)
        return None

    async def _token(self, request: web.Request) -> web.Response:
        await self._record(request)
        fault = self._fault("token")
        if fault is not None:
            return fault
        if request.query.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _oauth_error(401, "invalid_client", "Invalid client_id or client_secret")
        token = f"zoom-token-{next(self._ids)}"
        self.tokens.append(token)
        self.valid_tokens.add(token)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_expires_s,
                "scope": "imchat:bot",
            }
        )

    async def _send(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        refused = self._fault("send") or self._check(request, body) or self._over_limit()
        if refused is not None:
            return refused
        to_jid = body.get("to_jid")
        if to_jid not in self.channels and to_jid not in self.users:
            return _error(404, CODE_NOT_FOUND, f"Channel or user does not exist: {to_jid}.")
        reply_to = body.get("reply_to")
        if reply_to is not None:
            parent = self.messages.get(reply_to)
            if parent is None or parent.to_jid != to_jid:
                return _error(404, CODE_NOT_FOUND, "The message to reply to does not exist.")
        visible = body.get("visible_to_user")
        if visible is not None and visible not in {u["id"] for u in self.users.values()}:
            return _error(400, CODE_BAD_REQUEST, "Invalid visible_to_user.")
        message_id = f"msg-{next(self._ids):06d}"
        self.messages[message_id] = Message(
            message_id, str(to_jid), body["content"], reply_to, visible
        )
        return web.json_response(
            {
                "message_id": message_id,
                "robot_jid": BOT_JID,
                "sent_time": "2026-03-01 10:00:00",
                "to_jid": to_jid,
            },
            status=201,
        )

    async def _edit(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        refused = self._fault("edit") or self._check(request, body) or self._over_limit()
        if refused is not None:
            return refused
        message = self.messages.get(request.match_info["message_id"])
        if message is None:
            return _error(404, CODE_NOT_FOUND, "Message does not exist.")
        message.content = body["content"]
        message.edits.append(body["content"])
        return web.json_response(
            {"message_id": message.message_id, "robot_jid": BOT_JID, "to_jid": message.to_jid}
        )

    def _check(self, request: web.Request, body: Any) -> web.Response | None:
        """The token, the sender and the content, as Zoom checks them; None when all is well."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.valid_tokens:
            return _error(401, CODE_INVALID_TOKEN, "Invalid access token.")
        if not isinstance(body, dict):
            return _error(400, CODE_BAD_REQUEST, "Request body must be JSON.")
        if body.get("robot_jid") != BOT_JID:
            return _error(400, CODE_BAD_REQUEST, "Invalid robot_jid.")
        if body.get("account_id") != ACCOUNT_ID:
            return _error(400, CODE_BAD_REQUEST, "Invalid account_id.")
        problem = content_problem(body.get("content"))
        if problem is not None:
            return _error(400, CODE_BAD_REQUEST, problem)
        return None

    def _over_limit(self) -> web.Response | None:
        """Zoom's refusal when this call goes over the account's limit; else it is counted."""
        if self._per_second is None:
            return None
        now = datetime.fromtimestamp(self._limits.clock(), UTC)
        day = now.date()
        # The daily limit is looked at first, so that a call it refuses is not counted.
        if self._per_day is not None and self._days[day] >= self._per_day:
            self._daily_refused += 1
            midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
            headers = _rate_headers("Daily-limit", self._per_day)
            headers["Retry-After"] = midnight.strftime("%Y-%m-%dT%H:%M:%SZ")
            return _error(429, CODE_RATE_LIMITED, DAILY_LIMITED, headers)
        if self._limits.take("medium", ACCOUNT_ID) is not None:
            return _error(
                429, CODE_RATE_LIMITED, PER_SECOND_LIMITED, _rate_headers("QPS", self._per_second)
            )
        self._days[day] += 1
        return None


def _rate_headers(kind: str, limit: int) -> dict[str, str]:
    """The ``X-RateLimit-*`` headers of a refusal (Zoom's rate-limits page)."""
    return {
        "X-RateLimit-Category": "Medium",
        "X-RateLimit-Type": kind,
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
    }


def content_problem(content: Any) -> str | None:
    """What is wrong with a chatbot message's ``content``, or None."""
    if not isinstance(content, dict) or not isinstance(content.get("body"), list):
        return "content.body must be a list"
    head = content.get("head")
    if head is not None:
        if not isinstance(head, dict) or not _text(head.get("text")):
            return "content.head.text is required"
        sub = head.get("sub_head")
        if sub is not None and not (isinstance(sub, dict) and _text(sub.get("text"))):
            return "content.head.sub_head.text is required"
    if not content["body"]:
        return "content.body must not be empty"
    for item in content["body"]:
        problem = _item_problem(item, nested=False)
        if problem is not None:
            return problem
    if size(content) > TEXT_MAX:
        return f"content is longer than {TEXT_MAX} characters"
    return None


def size(content: Any) -> int:
    """Characters of every text, key, value and link (what the cap counts)."""
    if isinstance(content, dict):
        return sum(
            len(v) if k in COUNTED and isinstance(v, str) else size(v) for k, v in content.items()
        )
    if isinstance(content, list):
        return sum(size(v) for v in content)
    return 0


def _item_problem(item: Any, *, nested: bool) -> str | None:
    kind = item.get("type") if isinstance(item, dict) else None
    if kind not in BODY_TYPES:
        return f"unknown body type {kind!r}"
    if kind == "message":
        if not _text(item.get("text")):
            return "a message needs text"
        link = item.get("link")
        if link is not None and not (
            isinstance(link, str) and link.startswith(("https://", "http://"))
        ):
            return "a link must be an http(s) URL"
    elif kind == "fields":
        items = item.get("items")
        if not isinstance(items, list) or not items:
            return "fields need items"
        for entry in items:
            if not _text(entry.get("key")) or not isinstance(entry.get("value"), str):
                return "a field needs key and value"
            # A blank value is one space, and only an editable field may show none.
            if not _text(entry["value"]) and not (entry.get("editable") and entry["value"]):
                return "a field needs key and value"
    elif kind == "select":
        return _select_problem(item)
    elif kind == "actions":
        return _actions_problem(item)
    elif kind == "section":
        if nested:
            return "a section cannot hold a section"
        color = item.get("sidebar_color")
        if color is not None and not COLOR.fullmatch(str(color)):
            return "sidebar_color must be #RRGGBB"
        parts = item.get("sections")
        if not isinstance(parts, list) or not parts:
            return "a section needs sections"
        for part in parts:
            problem = _item_problem(part, nested=True)
            if problem is not None:
                return problem
    return None


def _actions_problem(item: dict[str, Any]) -> str | None:
    buttons = item.get("items")
    if not isinstance(buttons, list) or not buttons:
        return "actions need items"
    for button in buttons:
        if not _text(button.get("text")) or not _text(button.get("value")):
            return "a button needs text and value"
        if len(str(button["value"]).encode()) > BUTTON_VALUE_MAX:
            return "a button value is too long"
        if button.get("style", "Default") not in STYLES:
            return f"unknown button style {button.get('style')!r}"
    limit = item.get("limit")
    if limit is not None and not (isinstance(limit, int) and limit >= 1):
        return "limit must be a positive number"
    return None


def _select_problem(item: dict[str, Any]) -> str | None:
    if not _text(item.get("text")):
        return "a select needs text"
    options, source = item.get("select_items"), item.get("static_source")
    if (options is None) == (source is None):
        return "a select needs select_items or static_source, not both"
    if source is not None:
        return None if source in STATIC_SOURCES else f"unknown static_source {source!r}"
    if not isinstance(options, list) or not options:
        return "select_items must not be empty"
    for option in options:
        if not _text(option.get("text")) or not _text(option.get("value")):
            return "a select item needs text and value"
        if len(str(option["value"]).encode()) > BUTTON_VALUE_MAX:
            return "a select item value is too long"
    return None


def _elements(content: dict[str, Any]) -> list[dict[str, Any]]:
    """The body's elements, those inside sections included."""
    found: list[dict[str, Any]] = []
    for element in content.get("body", []):
        found.append(element)
        found.extend(element.get("sections", []) if element.get("type") == "section" else [])
    return found


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


def _oauth_error(status: int, error: str, reason: str) -> web.Response:
    return web.json_response({"reason": reason, "error": error}, status=status)
