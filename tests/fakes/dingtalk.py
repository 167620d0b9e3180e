"""A fake DingTalk for an internal app's robot: stateful, on an ephemeral loopback port.

Serve ``app`` (e.g. with ``aiohttp_server``) and point ``dingtalk.api_base_url`` at ``url``.
It hands out access tokens (checking appKey and appSecret) and checks the
``x-acs-dingtalk-access-token`` header on every new-API call; keeps the StandardCards sent
(``cardData`` parsed, per ``cardBizId``) and applies PUTs to them; keeps the robot's texts
(group and one-to-one) and what was POSTed to a message's ``sessionWebhook``; answers
``getbymobile`` and ``user/get`` (a profile, less the fields named in ``hidden_fields``) from
its users; keeps the card callback routes registered (``card/callbacks/register``) and signs
a card click for one as DingTalk does (``card_callback_headers``); and plays the Stream
gateway: ``connections/open`` hands out
a ticket for its websocket, which can push frames (SYSTEM ping and disconnect, chatbot
messages, card clicks) and records the answer to each. ``fail_next`` scripts a failure for
the next call: HTTP 429 with Retry-After, a bare 500, or any error ``code``. ``limit`` makes
it keep rate limits: what the robot says in one chat (a group, or one person), and the
app's card updates; past them it answers HTTP 403 with the QPS-limit code (modelled),
counted in ``limited``.

New-API error bodies are ``{"code", "message", "requestid"}``; ``staffId.notExisted`` and
``resource.not.found`` are from public reports, the other codes and every wording modelled.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from multidict import CIMultiDictProxy

from tests.fakes.limits import Limits

CLIENT_ID = "dingfakeclientid"
CLIENT_SECRET = "fake-client-secret-0123456789"
ROBOT_CODE = "dingfakeclientid"
TOKEN_EXPIRE_S = 7200
TICKET = "tk/+1="  # characters a URL query must carry escaped
CARD_MAX_BYTES = 20_000  # modelled: the fake refuses a larger cardData

CODE_TOKEN_INVALID = "InvalidAuthentication"
CODE_BAD_SECRET = "invalidClientIdOrSecret"
CODE_THROTTLED = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
CODE_STAFF_NOT_FOUND = "staffId.notExisted"
CODE_ROBOT_NOT_FOUND = "resource.not.found"
CODE_NOT_IN_GROUP = "robot.notInGroup"
CODE_BAD_PARAM = "InvalidParameter"
MESSAGES = {
    CODE_TOKEN_INVALID: "不合法的access_token",
    CODE_BAD_SECRET: "appKey or appSecret is invalid",
    CODE_THROTTLED: "QPS limit exceeded",
    CODE_STAFF_NOT_FOUND: "staffId not existed",
    CODE_ROBOT_NOT_FOUND: "robot does not exist",
    CODE_NOT_IN_GROUP: "the robot is not in the group conversation",
    CODE_BAD_PARAM: "invalid parameter",
}
OAPI_USER_NOT_FOUND = 60121
OAPI_TOKEN_INVALID = 40014


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: CIMultiDictProxy[str]


@dataclass
class Card:
    """A StandardCard the robot sent, with every PUT applied in order."""

    biz_id: str
    conversation: str | None
    user: str | None
    data: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)
    callback_url: str | None = None  # where its clicks go (HTTP mode)
    route_key: str | None = None  # the registered callback route it names

    def text(self) -> str:
        """Everything the card says now, for asserting on it (zero-width spaces dropped)."""
        return (
            json.dumps(self.data, ensure_ascii=False).replace("\\u200b", "").replace("\u200b", "")
        )

    def button_ids(self) -> list[str]:
        """The ids of its ``request`` buttons (the callback data)."""
        return [
            str(action["id"])
            for element in self.data.get("contents", [])
            if element.get("type") == "action"
            for action in element.get("actions", [])
            if action.get("actionType") == "request"
        ]


@dataclass(frozen=True)
class Text:
    """A plain text the robot sent: to a group, to people, or through a session webhook."""

    kind: str  # "group", "user" or "session"
    to: str  # openConversationId, staff id, or the session
    content: str
    at: tuple[str, ...] = ()


@dataclass(frozen=True)
class User:
    """A person in the organization, as ``user/get`` shows them."""

    staff_id: str
    mobile: str | None = None
    email: str | None = None  # the profile's email
    org_email: str | None = None  # the organization's mailbox
    state_code: str = "86"  # the mobile's country code, shown beside it


@dataclass(frozen=True)
class Route:
    """A card callback route: where clicks go and the secret that signs them."""

    url: str
    api_secret: str


@dataclass(frozen=True)
class Fault:
    """A scripted failure for the next call (to a path ending with ``path``, or to any)."""

    status: int
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None


class FakeDingtalk:
    """One organization with one internal app: its groups (the robot in them) and its users."""

    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = ROBOT_CODE
        self.corp_id = "dingcorpfake"
        self.url = ""  # set by whoever serves the app
        self.calls: list[Call] = []
        self.tokens: list[str] = []
        self.valid_tokens: set[str] = set()
        self.groups: set[str] = set()
        self.users: dict[str, str | None] = {}  # staff id → mobile
        self.profiles: dict[str, User] = {}
        self.hidden_fields: set[str] = set()  # profile fields the app may not read
        self.routes: dict[str, Route] = {}  # callbackRouteKey → where and how clicks go
        self.cards: dict[str, Card] = {}
        self.texts: list[Text] = []
        self.subscriptions: list[list[dict[str, str]]] = []  # per connections/open
        self.responses: dict[str, dict[str, Any]] = {}  # messageId → the client's answer
        self.connections = 0  # websockets accepted so far
        self.sockets_open = 0
        self._ws: web.WebSocketResponse | None = None
        self._tickets: set[str] = set()
        self._faults: deque[Fault] = deque()
        self._limits = Limits()
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self.app = web.Application()
        router = self.app.router
        router.add_post("/v1.0/oauth2/accessToken", self._token)
        router.add_post("/v1.0/im/v1.0/robot/interactiveCards/send", self._send_card)
        router.add_put("/v1.0/im/robots/interactiveCards", self._update_card)
        router.add_post("/v1.0/robot/groupMessages/send", self._group_text)
        router.add_post("/v1.0/robot/oToMessages/batchSend", self._user_text)
        router.add_post("/v1.0/gateway/connections/open", self._open)
        router.add_post("/topapi/v2/user/getbymobile", self._by_mobile)
        router.add_post("/topapi/v2/user/get", self._user)
        router.add_post("/v1.0/card/callbacks/register", self._register_callback)
        router.add_post("/robot/sendBySession", self._session)
        router.add_get("/ws", self._websocket)
        self.app.on_shutdown.append(self._hang_up)

    # --- set-up and inspection for tests ----------------------------------------------------

    def add_group(self, *conversations: str) -> None:
        """Group conversations (openConversationId) the robot is in."""
        self.groups.update(conversations)

    def add_user(
        self,
        staff_id: str,
        mobile: str | None = None,
        *,
        email: str | None = None,
        org_email: str | None = None,
        state_code: str = "86",
    ) -> None:
        """A person in the organization."""
        self.users[staff_id] = mobile
        self.profiles[staff_id] = User(staff_id, mobile, email, org_email, state_code)

    def card_callback_headers(self, card: Card, timestamp_ms: int) -> dict[str, str]:
        """The headers DingTalk signs a click on ``card`` with: its route's ``apiSecret``
        keys an HMAC-SHA256 of the timestamp (``x-ddpaas-signature``, base64)."""
        route = self.routes[str(card.route_key)]
        return {
            "x-ddpaas-signature-timestamp": str(timestamp_ms),
            "x-ddpaas-signature": ddpaas_sign(route.api_secret, timestamp_ms),
        }

    def fail_next(
        self,
        status: int,
        code: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next call (to ``path``) with HTTP ``status`` and error ``code``."""
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
        ``what = "chat"`` counts what the robot sends to one chat (cards and texts, to a group
        or to one person), ``"update"`` every card update the app makes."""
        if what not in ("chat", "update"):
            raise ValueError(f"no such limit in this fake: {what!r}")
        self._limits.add(what, count, per_s)
        self._limits.clock = clock

    @property
    def limited(self) -> int:
        """Calls refused for going over a limit."""
        return self._limits.refused

    def expire_tokens(self) -> None:
        """Every token handed out so far stops working."""
        self.valid_tokens.clear()

    def called(self, path_end: str, method: str | None = None) -> list[Call]:
        """Calls whose path ends with ``path_end`` (and of ``method``), in order."""
        return [
            c
            for c in self.calls
            if c.path.endswith(path_end) and (method is None or c.method == method)
        ]

    def cards_in(self, conversation: str) -> list[Card]:
        """Cards sent to a group, in order."""
        return [c for c in self.cards.values() if c.conversation == conversation]

    def cards_to(self, user: str) -> list[Card]:
        """Cards sent to one person, in order."""
        return [c for c in self.cards.values() if c.user == user]

    def texts_to(self, kind: str, to: str | None = None) -> list[str]:
        """What the robot wrote (``kind`` group, user or session), in order."""
        return [t.content for t in self.texts if t.kind == kind and (to is None or t.to == to)]

    def session_webhook(self, session: str) -> str:
        """A ``sessionWebhook`` URL for a message, served by this fake."""
        return f"{self.url}/robot/sendBySession?session={session}"

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; it is checked after every change the fake sees."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    @property
    def connected(self) -> bool:
        """Whether the gateway's Stream websocket is open."""
        return self._ws is not None and not self._ws.closed

    # --- Stream frames ----------------------------------------------------------------------

    def message_id(self) -> str:
        """A fresh frame ``messageId``."""
        return f"msg-{next(self._ids)}"

    async def push(self, frame: dict[str, Any]) -> str:
        """Send ``frame`` over the open websocket; its messageId."""
        if self._ws is None or self._ws.closed:
            raise RuntimeError("no Stream connection is open")
        await self._ws.send_str(json.dumps(frame, ensure_ascii=False))
        return str(frame["headers"]["messageId"])

    async def push_raw(self, text: str) -> None:
        """Send any text as a frame (to see that a broken one does no harm)."""
        assert self._ws is not None
        await self._ws.send_str(text)

    async def response(self, message_id: str) -> dict[str, Any]:
        """The gateway's answer to the frame ``message_id``, once it came."""
        await self.wait_for(lambda: message_id in self.responses)
        return self.responses[message_id]

    def frame(self, kind: str, topic: str, data: str, message_id: str | None = None) -> Any:
        """A frame as DingTalk's Stream gateway writes it."""
        return {
            "specVersion": "1.0",
            "type": kind,
            "headers": {
                "appId": "fake-app",
                "connectionId": "conn-1",
                "contentType": "application/json",
                "messageId": message_id or self.message_id(),
                "time": "1772359200000",
                "topic": topic,
            },
            "data": data,
        }

    def ping(self, opaque: str) -> Any:
        """A SYSTEM ping carrying ``opaque``."""
        return self.frame("SYSTEM", "ping", json.dumps({"opaque": opaque}))

    def disconnect(self) -> Any:
        """A SYSTEM disconnect: the client should open a new connection."""
        return self.frame("SYSTEM", "disconnect", json.dumps({"reason": "server restart"}))

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
        await self._notify()
        return response

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _fault(self, path: str) -> web.Response | None:
        for fault in self._faults:
            if fault.path is None or path.endswith(fault.path):
                self._faults.remove(fault)
                if fault.code is None:
                    return web.Response(
                        status=fault.status, text="upstream error", headers=fault.headers
                    )
                return _error(fault.code, fault.status, fault.headers)
        return None

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The fault scripted for this call, else DingTalk's answer to a bad token."""
        fault = self._fault(request.path)
        if fault is not None:
            return fault
        if request.headers.get("x-acs-dingtalk-access-token") not in self.valid_tokens:
            return _error(CODE_TOKEN_INVALID, 401)
        return None

    def _over_limit(self, what: str, keys: list[str]) -> web.Response | None:
        """DingTalk's refusal when this call goes over a limit for any of ``keys``; else the
        call is counted against each."""
        for key in keys:
            if self._limits.take(what, key) is not None:
                return _error(CODE_THROTTLED, 403)
        return None

    async def _token(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        fault = self._fault(request.path)
        if fault is not None:
            return await self._answered(fault)
        if not isinstance(body, dict):
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return await self._answered(_error(CODE_BAD_SECRET, 400))
        token = f"dt-fake-{next(self._ids)}"
        self.tokens.append(token)
        self.valid_tokens.add(token)
        doc = {"accessToken": token, "expireIn": TOKEN_EXPIRE_S}
        return await self._answered(web.json_response(doc))

    async def _send_card(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        if not isinstance(body, dict) or body.get("cardTemplateId") != "StandardCard":
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        if body.get("robotCode") != self.robot_code:
            return await self._answered(_error(CODE_ROBOT_NOT_FOUND, 404))
        biz_id, data = body.get("cardBizId"), _card(body.get("cardData"))
        if not isinstance(biz_id, str) or not biz_id or data is None:
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        conversation, receiver = body.get("openConversationId"), body.get("singleChatReceiver")
        user = None
        if isinstance(conversation, str):
            if conversation not in self.groups:
                return await self._answered(_error(CODE_NOT_IN_GROUP, 400))
        elif isinstance(receiver, str):
            user = str(json.loads(receiver).get("userId"))
            if user not in self.users:
                return await self._answered(_error(CODE_STAFF_NOT_FOUND, 400))
            conversation = None
        else:
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        refused = self._over_limit("chat", [conversation or f"user:{user}"])
        if refused is not None:
            return await self._answered(refused)
        if biz_id not in self.cards:  # the same cardBizId again: the card it already is
            url, key = body.get("callbackUrl"), body.get("callbackRouteKey")
            self.cards[biz_id] = Card(
                biz_id,
                conversation,
                user,
                data,
                callback_url=url if isinstance(url, str) else None,
                route_key=key if isinstance(key, str) else None,
            )
        return await self._answered(web.json_response({"processQueryKey": f"pqk-{biz_id}"}))

    async def _update_card(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        if not isinstance(body, dict):
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        card = self.cards.get(str(body.get("cardBizId")))
        data = _card(body.get("cardData"))
        if card is None or data is None:
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        refused = self._over_limit("update", [self.client_id])
        if refused is not None:
            return await self._answered(refused)
        card.data = data
        card.updates.append(data)
        return await self._answered(web.json_response({"success": True}))

    async def _group_text(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        conversation = body.get("openConversationId") if isinstance(body, dict) else None
        if conversation not in self.groups:
            return await self._answered(_error(CODE_NOT_IN_GROUP, 400))
        refused = self._over_limit("chat", [str(conversation)])
        if refused is not None:
            return await self._answered(refused)
        self.texts.append(Text("group", str(conversation), _content(body)))
        return await self._answered(web.json_response({"processQueryKey": "pqk"}))

    async def _user_text(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        users = body.get("userIds") if isinstance(body, dict) else None
        if not isinstance(users, list) or not users or len(users) > 20:
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        if any(u not in self.users for u in users):
            return await self._answered(_error(CODE_STAFF_NOT_FOUND, 400))
        refused = self._over_limit("chat", [f"user:{u}" for u in users])
        if refused is not None:
            return await self._answered(refused)
        self.texts.extend(Text("user", str(u), _content(body)) for u in users)
        return await self._answered(web.json_response({"processQueryKey": "pqk"}))

    async def _by_mobile(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        fault = self._fault(request.path)
        if fault is not None:
            return await self._answered(fault)
        if request.query.get("access_token") not in self.valid_tokens:
            return await self._answered(_oapi(OAPI_TOKEN_INVALID, "不合法的access_token"))
        wanted = body.get("mobile") if isinstance(body, dict) else None
        found = next((u for u, m in self.users.items() if m and m == wanted), None)
        if found is None:
            return await self._answered(_oapi(OAPI_USER_NOT_FOUND, "找不到该用户"))
        doc = {"errcode": 0, "errmsg": "ok", "result": {"userid": found}}
        return await self._answered(web.json_response(doc))

    async def _user(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        fault = self._fault(request.path)
        if fault is not None:
            return await self._answered(fault)
        if request.query.get("access_token") not in self.valid_tokens:
            return await self._answered(_oapi(OAPI_TOKEN_INVALID, "不合法的access_token"))
        wanted = body.get("userid") if isinstance(body, dict) else None
        profile = self.profiles.get(str(wanted))
        if profile is None:
            return await self._answered(_oapi(OAPI_USER_NOT_FOUND, "找不到该用户"))
        result: dict[str, Any] = {
            "userid": profile.staff_id,
            "unionid": f"union-{profile.staff_id}",
            "name": profile.staff_id,
            "active": True,
        }
        shown = {"mobile": profile.mobile, "email": profile.email, "org_email": profile.org_email}
        result.update(
            {k: v for k, v in shown.items() if v is not None and k not in self.hidden_fields}
        )
        if "mobile" in result:
            result["state_code"] = profile.state_code
        doc = {"errcode": 0, "errmsg": "ok", "result": result, "request_id": "req-fake"}
        return await self._answered(web.json_response(doc))

    async def _register_callback(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return await self._answered(refusal)
        if not isinstance(body, dict):
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        key, url = body.get("callbackRouteKey"), body.get("callbackUrl")
        if not isinstance(key, str) or not key:
            return await self._answered(_error("param.callbackRouteKeyEmpty", 400))
        if not isinstance(url, str) or not url:
            return await self._answered(_error("param.callbackUrlEmpty", 400))
        secret = body.get("apiSecret")
        route = Route(url, secret if isinstance(secret, str) else "")
        known = self.routes.get(key)
        if known is None or body.get("forceUpdate") is True:
            self.routes[key] = route
        else:
            route = known  # not forced: DingTalk answers with what was registered before
        result = {"callbackUrl": route.url, "apiSecret": route.api_secret}
        return await self._answered(web.json_response({"success": True, "result": result}))

    async def _session(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        fault = self._fault(request.path)
        if fault is not None:
            return await self._answered(fault)
        text = (body or {}).get("text") or {}
        at = tuple((body or {}).get("at", {}).get("atUserIds") or ())
        session = request.query.get("session", "")
        self.texts.append(Text("session", session, str(text.get("content")), at))
        return await self._answered(web.json_response({"errcode": 0, "errmsg": "ok"}))

    async def _open(self, request: web.Request) -> web.Response:
        _call, body = await self._record(request)
        fault = self._fault(request.path)
        if fault is not None:
            return await self._answered(fault)
        if not isinstance(body, dict):
            return await self._answered(_error(CODE_BAD_PARAM, 400))
        if body.get("clientId") != self.client_id or body.get("clientSecret") != (
            self.client_secret
        ):
            return await self._answered(_error(CODE_BAD_SECRET, 401))
        self.subscriptions.append(list(body.get("subscriptions") or []))
        ticket = f"{TICKET}{next(self._ids)}"
        self._tickets.add(ticket)
        endpoint = self.url.replace("http://", "ws://", 1) + "/ws"
        return await self._answered(web.json_response({"endpoint": endpoint, "ticket": ticket}))

    async def _hang_up(self, _app: web.Application) -> None:
        """On shutdown, close the Stream connection (as DingTalk's gateway would)."""
        if self._ws is not None:
            await self._ws.close()

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="bad ticket")
        self._tickets.discard(ticket)  # a ticket opens one connection
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        self.sockets_open += 1
        await self._notify()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    answer = json.loads(msg.data)
                    self.responses[str(answer["headers"]["messageId"])] = answer
                    await self._notify()
        finally:
            self.sockets_open -= 1
            await self._notify()
        return ws


def _card(value: object) -> dict[str, Any] | None:
    """A StandardCard's JSON string within the size limit, parsed; else None."""
    if not isinstance(value, str) or len(value.encode()) > CARD_MAX_BYTES:
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("contents"), list):
        return None
    if not isinstance((doc.get("header") or {}).get("title"), dict):
        return None
    return doc


def _content(body: Any) -> str:
    if not isinstance(body, dict) or body.get("msgKey") != "sampleText":
        return ""
    return str(json.loads(str(body.get("msgParam") or "{}")).get("content", ""))


def _error(code: str, status: int = 400, headers: dict[str, str] | None = None) -> web.Response:
    body = {"code": code, "message": MESSAGES.get(code, "error"), "requestid": "req-fake"}
    return web.json_response(body, status=status, headers=headers)


def ddpaas_sign(api_secret: str, timestamp_ms: int) -> str:
    """``x-ddpaas-signature``: base64 of HMAC-SHA256 keyed by the route's ``apiSecret`` over
    the timestamp's decimal digits (DingTalk's card callback docs, "回调签名验证")."""
    mac = hmac.new(api_secret.encode(), str(timestamp_ms).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _oapi(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})
