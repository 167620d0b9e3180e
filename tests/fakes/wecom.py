"""A fake WeCom (企业微信) server API for one self-built app: stateful, on an ephemeral loopback
port, answering HTTP 200 with WeCom's ``{"errcode", "errmsg", …}`` bodies.

Point ``wecom.api_base_url`` at ``fake.url``. It hands out access tokens for the right corp
id and secret only (40013, 40001), checks the token of every call (40014 unknown, 42001
expired: ``expire_tokens()``), and keeps what it was sent:

- ``message/send``: a ``template_card`` goes to members only (``touser``; ``toparty``,
  ``totag`` and ``@all`` are refused for it here, as ackgate must never use them), must
  be ``button_interaction`` with a ``task_id`` of [0-9A-Za-z_-@] up to 128 bytes, unique per
  app (42014), 1-6 buttons with unique keys up to 1,024 bytes; unknown members are 81013.
  Each card gets a ``response_code``.
- ``message/update_template_card``: spends one ``response_code`` (from the send, or from a
  click made with ``click``): each works once, and only for its card's member.
- ``user/getuserid`` and ``user/get_userid_by_email``: the members' mobiles and emails
  (``email_type`` 1, the default, is the corporate mailbox ``biz_mail``; 2 the profile's
  ``email``); a lookup that finds nobody is 46004 and is counted in ``lookup_misses``.

``fail_next`` scripts the next call's failure (any errcode, e.g. 45009, or HTTP 500).
``limit`` makes it keep an app's cap on messages to one member as WeCom does: what goes past
it is answered as sent and then dropped, never shown (counted in ``limited``).

It also plays WeCom towards the gateway: ``callback`` encrypts and signs an event the way
WeCom does, with the algorithm written out again here (``tests/adapters/wecom/test_crypto``
checks it against Tencent's published vectors too), so the gateway's crypto is never
checked against itself.

40013, 40001, 40014, 42001, 42014, 45009, 81013 and 60020 are from our notes; 40058
(invalid parameter), 46004 (no such member) and 40095 for a spent or unknown response_code
are modelled, as are the ``errmsg`` wordings.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.clock import Clock, SystemClock
from tests.fakes.limits import Limits

CORP_ID = "ww1436e0e65a779aee"
AGENT_ID = 1000002
SECRET = "wecom-app-secret-0123456789"
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"  # the callback's token
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"  # its EncodingAESKey
TOKEN_TTL_S = 7200

CODE_INVALID_CORP = 40013
CODE_INVALID_SECRET = 40001
CODE_TOKEN_INVALID = 40014
CODE_TOKEN_EXPIRED = 42001
CODE_DUPLICATE_TASK = 42014
CODE_FREQUENCY = 45009
CODE_NO_USER = 81013
CODE_UNTRUSTED_IP = 60020
CODE_INVALID = 40058
CODE_NOT_MEMBER = 46004
CODE_BAD_RESPONSE_CODE = 40095
EMAIL_CORPORATE, EMAIL_PROFILE = 1, 2  # get_userid_by_email's email_type
TEXT_MAX_BYTES = 2048
BUTTONS_MAX = 6
KEY_MAX_BYTES = 1024
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
HELP = "more info at https://open.work.weixin.qq.com/devtool/query?e="


@dataclass
class Member:
    """A member of the corp in the app's visible range."""

    user_id: str
    mobile: str = ""
    email: str = ""  # the profile's email (email_type 2)
    biz_mail: str = ""  # the corporate mailbox (email_type 1)


@dataclass
class Card:
    """A template card sent to one member, and what it shows now."""

    user: str
    task_id: str
    sent: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def now(self) -> dict[str, Any]:
        """The card as the member sees it now."""
        return self.updates[-1] if self.updates else self.sent

    def text(self) -> str:
        """Everything the card says now, one part per line."""
        card = self.now
        title = card.get("main_title") or {}
        parts = [str(title.get("title", "")), str(title.get("desc", ""))]
        parts.append(str(card.get("sub_title_text", "")))
        parts.extend(
            f"{h['keyname']}: {h['value']}" for h in card.get("horizontal_content_list", ())
        )
        parts.extend(str(b["text"]) for b in card.get("button_list", ()))
        return "\n".join(parts)

    def button_keys(self) -> list[str]:
        """The callback buttons' keys, in order."""
        return [b["key"] for b in self.now.get("button_list", ()) if b.get("type", 0) == 0]


@dataclass(frozen=True)
class Call:
    """One API request as it arrived."""

    path: str
    query: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Fault:
    """A scripted failure: HTTP ``status`` (500 and up: a bare error page) or an ``errcode``."""

    status: int = 200
    errcode: int | None = None


@dataclass
class _Code:
    task_id: str
    used: bool = False


class FakeWecom:
    """One corp with one self-built app, its members, and everything sent to them."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.corp_id = CORP_ID
        self.agent_id = AGENT_ID
        self.secret = SECRET
        self.clock: Clock = clock or SystemClock()
        self.url = ""  # set by whoever serves the app
        self.members: dict[str, Member] = {}
        self.calls: list[Call] = []
        self.cards: list[Card] = []
        self.texts: list[tuple[str, str]] = []  # (user, content)
        self.tokens: list[str] = []
        self.lookup_misses = 0  # lookups by mobile or email that found nobody
        self._live: set[str] = set()
        self._expired: set[str] = set()
        self._codes: dict[str, _Code] = {}
        self._faults: list[Fault] = []
        self._limits = Limits()
        self._limits.clock = lambda: self.clock.now().timestamp()
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        self.app.router.add_post("/cgi-bin/message/send", self._send)
        self.app.router.add_post("/cgi-bin/message/update_template_card", self._update)
        self.app.router.add_post("/cgi-bin/user/getuserid", self._by_mobile)
        self.app.router.add_post("/cgi-bin/user/get_userid_by_email", self._by_email)

    # --- set-up and inspection ---------------------------------------------------------

    def add_member(
        self, user_id: str, mobile: str = "", email: str = "", biz_mail: str = ""
    ) -> None:
        """A member the app can reach."""
        self.members[user_id] = Member(user_id, mobile, email, biz_mail)

    def share(self, card: Card, user: str) -> Card:
        """``user`` has ``card`` too, as when one ``message/send`` went to several members
        (``touser`` ``"a|b"``): one task id, a copy each."""
        copy = Card(user, card.task_id, card.sent)
        self.cards.append(copy)
        return copy

    def lookups(self) -> list[Call]:
        """The lookups by mobile and by email, in order."""
        return [c for c in self.calls if c.path.endswith(("/getuserid", "/get_userid_by_email"))]

    def fail_next(self, *, status: int = 200, errcode: int | None = None) -> None:
        """Fail the next call (after the token check) with ``status`` or ``errcode``."""
        self._faults.append(Fault(status, errcode))

    def limit(self, count: int, per_s: float) -> None:
        """Drop messages to one member past ``count`` in any ``per_s`` seconds of ``clock``."""
        self._limits.add("member", count, per_s)

    @property
    def limited(self) -> int:
        """Messages dropped for going over a member's cap."""
        return self._limits.refused

    def expire_tokens(self) -> None:
        """Every token handed out so far is expired from now on (42001)."""
        self._expired |= self._live
        self._live.clear()

    def cards_of(self, user: str) -> list[Card]:
        """The template cards sent to ``user``, oldest first."""
        return [card for card in self.cards if card.user == user]

    def texts_of(self, user: str) -> list[str]:
        """The text messages sent to ``user``, oldest first."""
        return [content for who, content in self.texts if who == user]

    def called(self, path: str) -> list[Call]:
        """The calls to paths ending in ``path``."""
        return [c for c in self.calls if c.path.endswith(path)]

    def unused_codes(self, card: Card) -> int:
        """How many response codes of ``card`` WeCom would still honour."""
        return sum(1 for c in self._codes.values() if c.task_id == card.task_id and not c.used)

    # --- playing WeCom towards the gateway ------------------------------------------------

    def click(self, user: str, card: Card, key: str, *, create_time: int | None = None) -> bytes:
        """The decrypted ``template_card_event`` for ``user`` pressing ``key`` on ``card``."""
        code = self._new_code(card.task_id)
        return xml(
            {
                "ToUserName": self.corp_id,
                "FromUserName": user,
                "CreateTime": create_time if create_time is not None else self._now(),
                "MsgType": "event",
                "Event": "template_card_event",
                "EventKey": key,
                "TaskId": card.task_id,
                "CardType": "button_interaction",
                "ResponseCode": code,
                "AgentID": self.agent_id,
            }
        )

    def text_message(self, user: str, content: str, *, msg_id: int | None = None) -> bytes:
        """The decrypted message ``user`` sends to the app."""
        return xml(
            {
                "ToUserName": self.corp_id,
                "FromUserName": user,
                "CreateTime": self._now(),
                "MsgType": "text",
                "Content": content,
                "MsgId": msg_id if msg_id is not None else next(self._ids) + 10**15,
                "AgentID": self.agent_id,
            }
        )

    def callback(
        self,
        message: bytes,
        *,
        receive_id: str | None = None,
        aes_key: str = AES_KEY,
        token: str = TOKEN,
        timestamp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """``(query, body)`` of the POST WeCom makes to deliver ``message``."""
        encrypt = wecom_encrypt(message, aes_key, receive_id or self.corp_id)
        ts = str(timestamp if timestamp is not None else self._now())
        nonce = str(next(self._ids) * 7919)
        query = {"msg_signature": wecom_sign(token, ts, nonce, encrypt), "timestamp": ts,
                 "nonce": nonce}  # fmt: skip
        body = xml({"ToUserName": self.corp_id, "Encrypt": encrypt, "AgentID": self.agent_id})
        return query, body

    def url_check(self, echostr: str, *, token: str = TOKEN) -> str:
        """The query string of WeCom's GET that checks the callback URL."""
        encrypt = wecom_encrypt(echostr.encode(), AES_KEY, self.corp_id)
        ts, nonce = str(self._now()), str(next(self._ids))
        signature = wecom_sign(token, ts, nonce, encrypt)
        return urlencode(
            {"msg_signature": signature, "timestamp": ts, "nonce": nonce, "echostr": encrypt}
        )

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def _new_code(self, task_id: str) -> str:
        code = base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=")
        self._codes[code] = _Code(task_id)
        return code

    # --- the API --------------------------------------------------------------------------

    async def _gettoken(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.calls.append(Call(request.path, query, None))
        if query.get("corpid") != self.corp_id:
            return _error(CODE_INVALID_CORP, "invalid corpid")
        if query.get("corpsecret") != self.secret:
            return _error(CODE_INVALID_SECRET, "invalid credential")
        token = f"token-{next(self._ids)}-{os.urandom(4).hex()}"
        self.tokens.append(token)
        self._live.add(token)
        return _ok(access_token=token, expires_in=TOKEN_TTL_S)

    async def _authorized(self, request: web.Request) -> tuple[Any, web.Response | None]:
        """The request's JSON body, or the answer refusing it."""
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.calls.append(Call(request.path, dict(request.query), body))
        token = request.query.get("access_token", "")
        if token in self._expired:
            return body, _error(CODE_TOKEN_EXPIRED, "access_token expired")
        if token not in self._live:
            return body, _error(CODE_TOKEN_INVALID, "invalid access_token")
        if self._faults:
            fault = self._faults.pop(0)
            if fault.status >= 500:
                return body, web.Response(status=fault.status, text="Internal Server Error")
            return body, _error(fault.errcode or CODE_INVALID, "scripted failure")
        if not isinstance(body, dict):
            return body, _error(CODE_INVALID, "invalid json")
        return body, None

    async def _send(self, request: web.Request) -> web.Response:
        body, refused = await self._authorized(request)
        if refused is not None:
            return refused
        if body.get("agentid") != self.agent_id:
            return _error(40056, "invalid agentid")
        kind = body.get("msgtype")
        if kind == "text":
            content = str((body.get("text") or {}).get("content") or "")
            if not content or len(content.encode()) > TEXT_MAX_BYTES:
                return _error(CODE_INVALID, "invalid text content")
            users = self._users(body)
            if isinstance(users, web.Response):
                return users
            self.texts.extend((user, content) for user in self._within_cap(users))
            return _ok(msgid=f"msg-{next(self._ids)}")
        if kind != "template_card":
            return _error(40008, "invalid message type")
        if body.get("toparty") or body.get("totag") or body.get("touser") == "@all":
            return _error(CODE_INVALID, "template cards go to members only in this fake")
        card = body.get("template_card") or {}
        problem = _card_problem(card)
        if problem:
            return _error(CODE_INVALID, problem)
        task = str(card["task_id"])
        if any(c.task_id == task for c in self.cards):
            return _error(CODE_DUPLICATE_TASK, "task_id duplicated")
        users = self._users(body)
        if isinstance(users, web.Response):
            return users
        self.cards.extend(Card(user, task, card) for user in self._within_cap(users))
        return _ok(msgid=f"msg-{next(self._ids)}", response_code=self._new_code(task))

    def _within_cap(self, users: list[str]) -> list[str]:
        """The members a message reaches: WeCom drops it, unannounced, for those past the cap."""
        return [user for user in users if self._limits.take("member", user) is None]

    async def _update(self, request: web.Request) -> web.Response:
        body, refused = await self._authorized(request)
        if refused is not None:
            return refused
        code = self._codes.get(str(body.get("response_code") or ""))
        if code is None or code.used:
            return _error(CODE_BAD_RESPONSE_CODE, "invalid response_code")
        card = body.get("template_card")
        problem = _card_problem(card) if isinstance(card, dict) else "no template_card"
        if problem:
            return _error(CODE_INVALID, problem)
        targets = [c for c in self.cards if c.task_id == code.task_id]
        users = set(body.get("userids") or ())
        if not users or not users <= {c.user for c in targets}:
            return _error(CODE_NO_USER, "invalid userids for this card")
        code.used = True
        for target in targets:
            if target.user in users:
                target.updates.append(card)
        return _ok(invaliduser=[])

    async def _by_mobile(self, request: web.Request) -> web.Response:
        body, refused = await self._authorized(request)
        if refused is not None:
            return refused
        for member in self.members.values():
            if member.mobile and member.mobile == body.get("mobile"):
                return _ok(userid=member.user_id)
        self.lookup_misses += 1
        return _error(CODE_NOT_MEMBER, "user not found")

    async def _by_email(self, request: web.Request) -> web.Response:
        body, refused = await self._authorized(request)
        if refused is not None:
            return refused
        wanted = str(body.get("email") or "").lower()
        kind = body.get("email_type", EMAIL_CORPORATE)
        if kind not in (EMAIL_CORPORATE, EMAIL_PROFILE):
            return _error(CODE_INVALID, "invalid email_type")
        for member in self.members.values():
            held = member.biz_mail if kind == EMAIL_CORPORATE else member.email
            if held and held.lower() == wanted:
                return _ok(userid=member.user_id)
        self.lookup_misses += 1
        return _error(CODE_NOT_MEMBER, "user not found")

    def _users(self, body: Mapping[str, Any]) -> list[str] | web.Response:
        named = [u for u in str(body.get("touser") or "").split("|") if u]
        known = [u for u in named if u in self.members]
        if not known:
            return _error(CODE_NO_USER, "all touser invalid")
        return known


def _card_problem(card: Mapping[str, Any]) -> str | None:
    """Why WeCom would refuse ``card`` as a button_interaction template card, if it would."""
    if card.get("card_type") != "button_interaction":
        return "card_type must be button_interaction here"
    if not TASK_ID.fullmatch(str(card.get("task_id") or "")):
        return "invalid task_id"
    if not (card.get("main_title") or {}).get("title"):
        return "main_title.title is required"
    buttons = card.get("button_list") or []
    if not 1 <= len(buttons) <= BUTTONS_MAX:
        return "button_list takes 1 to 6 buttons"
    keys = [b.get("key") for b in buttons if b.get("type", 0) == 0]
    if any(not k or len(str(k).encode()) > KEY_MAX_BYTES for k in keys):
        return "invalid button key"
    if len(keys) != len(set(keys)):
        return "button keys must be unique"
    if len(card.get("horizontal_content_list") or ()) > BUTTONS_MAX:
        return "horizontal_content_list takes at most 6 entries"
    return None


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **fields})


def _error(errcode: int, errmsg: str) -> web.Response:
    text = f"{errmsg}, hint: [1700000000_{errcode}_fake], {HELP}{errcode}"
    return web.json_response({"errcode": errcode, "errmsg": text})


def xml(fields: Mapping[str, str | int]) -> bytes:
    """``<xml>`` with text in CDATA and numbers bare, the way WeCom writes its callbacks."""
    inner = "".join(
        f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>"
        for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>".encode()


def wecom_sign(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``msg_signature``: SHA-1 over the four values sorted and joined."""
    joined = "".join(sorted((token, timestamp, nonce, encrypt)))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeCom's algorithm


def _aes(aes_key: str) -> Cipher[modes.CBC]:
    key = base64.b64decode(aes_key + "=")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def wecom_encrypt(message: bytes, aes_key: str, receive_id: str) -> str:
    """``Encrypt``: random16 | len(msg) big-endian | msg | receive id, padded to 32, AES-CBC."""
    plain = os.urandom(16) + struct.pack(">I", len(message)) + message + receive_id.encode()
    amount = 32 - len(plain) % 32
    encryptor = _aes(aes_key).encryptor()
    padded = plain + bytes([amount]) * amount
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def wecom_decrypt(encrypt: str, aes_key: str) -> tuple[bytes, str]:
    """``(message, receive id)`` inside ``encrypt`` (what WeCom does with a passive reply)."""
    decryptor = _aes(aes_key).decryptor()
    plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length], plain[20 + length :].decode()
