"""A fake Slack Web API: stateful, on an ephemeral loopback port, answering like Slack does.

Point ``AsyncWebClient(base_url=fake.url)`` (or ``slack.api_base_url``) at it. It checks the
bot token, keeps the messages it was sent (with generated ``ts``), records every call, and
can be told to fail the next call (429 with Retry-After, 500, or any ``ok: false`` error),
and to enforce a method's rate limit (per channel or per workspace) as Slack does: 429,
``ratelimited`` and Retry-After, counted in ``limited``.

For Socket Mode, ``apps.connections.open`` (with ``app_token``) hands out ``ws://…/socket``;
tests ``push`` envelopes down that websocket and read the client's ``acks``.
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
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from multidict import CIMultiDictProxy
from yarl import URL

from tests.fakes.limits import Limits

API_PREFIX = "/api/"
TEAM_ID = "T1"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_TOKEN = "xapp-1-A1-test-app-token"
SOCKET_PATH = "/socket"


@dataclass(frozen=True)
class Call:
    """One Web API call as the fake saw it: the method and its arguments, merged."""

    method: str
    args: dict[str, Any]
    headers: CIMultiDictProxy[str]


@dataclass
class Message:
    """A message the bot posted, with every ``chat.update`` applied to it in order."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Fault:
    """A scripted failure for the next call (of ``method``, or of any method)."""

    status: int = 200
    error: str | None = None
    retry_after: str | None = None
    method: str | None = None


class FakeSlack:
    """Serve ``app`` (e.g. with ``aiohttp_server``), then set ``url`` to its ``/api/`` base."""

    def __init__(self, token: str, team_id: str = TEAM_ID, app_token: str = APP_TOKEN) -> None:
        self.token = token
        self.app_token = app_token
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: list[dict[str, Any]] = []
        self._envelopes = itertools.count(1)
        self.team_id = team_id
        self.url = ""
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: set[str] = set()
        self.archived: set[str] = set()
        self.messages: dict[tuple[str, str], Message] = {}
        self.views: list[dict[str, Any]] = []
        self._faults: deque[Fault] = deque()
        self._limits = Limits()
        self._per_channel: dict[str, bool] = {}  # per method: counted per channel, or in all
        self._seq = 0
        self._changed = asyncio.Condition()
        self.app = web.Application()
        # Before the generic route: this one method takes the app-level token.
        self.app.router.add_post(API_PREFIX + "apps.connections.open", self._connections_open)
        self.app.router.add_get(SOCKET_PATH, self._socket)
        self.app.on_shutdown.append(self._close_sockets)
        self.app.router.add_route("*", API_PREFIX + "{method}", self._handle)
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._views_open,
        }

    # --- set-up and inspection for tests ----------------------------------------------------

    def add_user(
        self,
        user_id: str,
        email: str | None = None,
        *,
        deleted: bool = False,
        is_bot: bool = False,
        email_confirmed: bool = True,
    ) -> None:
        """A workspace member ``users.info`` knows (``email`` in ``profile.email``)."""
        profile: dict[str, Any] = {"real_name": user_id.title()}
        if email is not None:
            profile["email"] = email
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": user_id.lower(),
            "deleted": deleted,
            "is_bot": is_bot,
            "is_email_confirmed": email_confirmed,
            "profile": profile,
        }

    def add_channel(self, *channel_ids: str) -> None:
        """Channels the bot may post in."""
        self.channels.update(channel_ids)

    def fail_next(
        self,
        status: int = 200,
        error: str | None = None,
        *,
        retry_after: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next call (of ``method``) with ``status`` and ``{"ok": false, error}``."""
        self._faults.append(Fault(status, error, retry_after, method))

    def limit(
        self,
        method: str,
        count: int,
        per_s: float,
        *,
        per_channel: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Refuse ``method`` past ``count`` calls in any ``per_s`` seconds (of one channel),
        as ``clock`` tells the seconds (a test's manual clock, say)."""
        self._limits.add(method, count, per_s)
        self._limits.clock = clock
        self._per_channel[method] = per_channel

    @property
    def limited(self) -> int:
        """Calls refused for going over a limit."""
        return self._limits.refused

    def called(self, method: str) -> list[Call]:
        """The calls of ``method``, in order."""
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[Message]:
        """Top-level messages the bot posted (in ``channel``), in order."""
        return [
            m
            for m in self.messages.values()
            if m.thread_ts is None and (channel is None or m.channel == channel)
        ]

    def replies(self, channel: str, ts: str) -> list[Message]:
        """Thread replies under the message ``ts`` in ``channel``."""
        return [m for m in self.messages.values() if m.channel == channel and m.thread_ts == ts]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; it is checked after every call the fake answers."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def push(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Send a Socket Mode envelope of ``kind`` down the newest connection; its id."""
        envelope_id = f"env-{next(self._envelopes)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        await self.sockets[-1].send_json(envelope)
        return envelope_id

    def ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        """The client's acknowledgement of ``envelope_id``, once it has sent one."""
        return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

    # --- Socket Mode ---------------------------------------------------------------------

    async def _connections_open(self, request: web.Request) -> web.Response:
        args = await _arguments(request)
        self.calls.append(Call("apps.connections.open", args, request.headers))
        try:
            if _token(request.headers, args) != self.app_token:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            url = URL(self.url).with_scheme("ws").with_path(SOCKET_PATH)
            return web.json_response({"ok": True, "url": str(url)})
        finally:
            await self._notify()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {}})
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
                    await self._notify()
        finally:
            self.sockets.remove(ws)
            await self._notify()
        return ws

    async def _close_sockets(self, _app: web.Application) -> None:
        """Open websockets would hold up the server's shutdown: close them first."""
        for ws in list(self.sockets):
            await ws.close()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        self.calls.append(Call(method, args, request.headers))
        try:
            return self._answer(method, args, request.headers)
        finally:
            async with self._changed:
                self._changed.notify_all()

    def _answer(
        self, method: str, args: dict[str, Any], headers: CIMultiDictProxy[str]
    ) -> web.Response:
        fault = self._take_fault(method)
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.error is None and fault.status >= 500:
                return web.Response(status=fault.status, text="upstream error", headers=extra)
            body = {"ok": False, "error": fault.error or "ratelimited"}
            return web.json_response(body, status=fault.status, headers=extra)
        if _token(headers, args) != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = self._methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        channel = str(args.get("channel") or "") if self._per_channel.get(method) else ""
        wait_s = self._limits.take(method, channel)
        if wait_s is not None:
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(body, status=429, headers={"Retry-After": str(wait_s)})
        return web.json_response(handler(args))

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in (None, method):
                self._faults.remove(fault)
                return fault
        return None

    def _next_ts(self) -> str:
        self._seq += 1
        return f"{1_700_000_000 + self._seq}.{self._seq:06d}"

    def _auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.example/",
            "team": "Fake",
            "user": "ackgate",
            "team_id": self.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "")
        if users not in self.users:
            return {"ok": False, "error": "user_not_found"}
        channel = _dm_channel(users)
        self.channels.add(channel)
        return {"ok": True, "channel": {"id": channel}}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel in self.users:  # a user id posts to the bot's DM with them
            channel = _dm_channel(channel)
            self.channels.add(channel)
        problem = self._channel_problem(channel)
        if problem:
            return {"ok": False, "error": problem}
        blocks = _blocks(args.get("blocks"))
        text = str(args.get("text") or "")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        thread_ts = args.get("thread_ts")
        if thread_ts is not None and (channel, thread_ts) not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        ts = self._next_ts()
        self.messages[(channel, ts)] = Message(channel, ts, text, blocks, thread_ts)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts}}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        problem = self._channel_problem(channel)
        if problem:
            return {"ok": False, "error": problem}
        message = self.messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.text = str(args.get("text") or "")
        message.blocks = _blocks(args.get("blocks"))  # text without blocks removes them
        message.updates.append({"text": message.text, "blocks": message.blocks})
        return {"ok": True, "channel": channel, "ts": ts, "text": message.text}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        problem = self._channel_problem(str(args.get("channel") or ""))
        if problem:
            return {"ok": False, "error": problem}
        if str(args.get("user")) not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not args.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        self._seq += 1
        opened = {**view, "id": f"V{self._seq:08d}", "hash": f"h{self._seq}"}
        self.views.append(opened)
        return {"ok": True, "view": opened}

    def _channel_problem(self, channel: str) -> str | None:
        if channel in self.archived:
            return "is_archived"
        if channel not in self.channels:
            return "channel_not_found"
        return None


async def _arguments(request: web.Request) -> dict[str, Any]:
    """Query string, then a JSON or form body: slack_sdk uses all three."""
    args: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if not raw:
        return args
    if request.content_type == "application/json":
        body = json.loads(raw)
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(parse_qsl(raw.decode(), keep_blank_values=True))
    return args


def _token(headers: CIMultiDictProxy[str], args: dict[str, Any]) -> str | None:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer" and token:
        return token
    value = args.get("token")
    return value if isinstance(value, str) else None


def _blocks(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value) if isinstance(value, list) else []


def _dm_channel(user_id: str) -> str:
    return "D" + user_id[1:]
