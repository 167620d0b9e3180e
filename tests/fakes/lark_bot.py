"""A fake Feishu/Lark custom group bot that checks token, signature, keywords, IPs and rate.

Serve ``app`` (e.g. with ``aiohttp_server``) and POST to ``HOOK_PREFIX + token``. Like
Feishu it answers HTTP 200 with ``{"code", "msg", "data"}``: 19021 for a bad or stale
signature (timestamp more than an hour from the fake's ``clock``), 19024 when none of the
``keywords`` is in the card, 19022 when ``allowed_ips`` is set and the caller is not on it,
11232 over 5 messages a second or 100 a minute. Accepted bodies are kept in ``accepted``;
``fail_next`` scripts an HTTP 500 or any error code for the next call.

Error codes 19021/19024/11232 are from our verified notes; 19022 (IP), 19001 (bad token),
9499 (malformed or oversized body) and the ``msg`` wordings are modelled, not verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.clock import Clock, SystemClock

HOOK_PREFIX = "/open-apis/bot/v2/hook/"
TOKEN = "hook-token-1"
SIGN_WINDOW_S = 3600  # Feishu accepts a signature timestamp within an hour of its clock
PER_SECOND = 5
PER_MINUTE = 100
MAX_BODY_BYTES = 20 * 1024
MSG_TYPES = frozenset({"text", "post", "interactive", "image", "share_chat"})
NOT_TEXT = frozenset({"timestamp", "sign", "msg_type", "tag", "template"})  # not read for keywords

CODE_BAD_TOKEN = 19001
CODE_SIGN = 19021
CODE_IP = 19022
CODE_KEYWORD = 19024
CODE_FREQUENCY = 11232
CODE_BAD_REQUEST = 9499
MESSAGES = {
    CODE_BAD_TOKEN: "param invalid: incoming webhook access token invalid",
    CODE_SIGN: "sign match fail or timestamp is not within one hour from current time",
    CODE_IP: "ip not allowed",
    CODE_KEYWORD: "Key Words Not Found",
    CODE_FREQUENCY: "frequency limited",
    CODE_BAD_REQUEST: "Bad Request",
}


@dataclass(frozen=True)
class Fault:
    """A scripted failure: HTTP ``status`` (500 and up: a bare error page) or a ``code``."""

    status: int = 200
    code: int | None = None
    msg: str | None = None


class FakeLarkBot:
    """One custom bot with its webhook ``token`` and security settings (all optional)."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        secret: str | None = None,
        keywords: tuple[str, ...] = (),
        allowed_ips: tuple[str, ...] = (),
        clock: Clock | None = None,
    ) -> None:
        self.token = token
        self.secret = secret
        self.keywords = keywords
        self.allowed_ips = allowed_ips
        self.clock: Clock = clock or SystemClock()
        self.url = ""  # set by whoever serves the app
        self.received: list[Any] = []  # every body, parsed (None if not JSON)
        self.accepted: list[dict[str, Any]] = []
        self._sent_at: deque[float] = deque()
        self._faults: deque[Fault] = deque()
        self.app = web.Application()
        self.app.router.add_post(HOOK_PREFIX + "{token}", self._handle)

    def fail_next(self, status: int = 200, code: int | None = None, msg: str | None = None) -> None:
        """Answer the next call with HTTP ``status``, or HTTP 200 and error ``code``."""
        self._faults.append(Fault(status, code, msg))

    def reset_rate_limit(self) -> None:
        """Forget the messages counted against the rate limit."""
        self._sent_at.clear()

    def cards(self) -> list[dict[str, Any]]:
        """The ``card`` of every accepted interactive message, in order."""
        return [body["card"] for body in self.accepted if body.get("msg_type") == "interactive"]

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.received.append(body)
        if self._faults:
            fault = self._faults.popleft()
            if fault.status >= 500:
                return web.Response(status=fault.status, text="upstream error")
            code = fault.code if fault.code is not None else CODE_BAD_REQUEST
            return web.json_response(_error(code, fault.msg), status=fault.status)
        refusal = self._refusal(request, raw, body)
        if refusal is not None:
            return web.json_response(_error(refusal))
        self._sent_at.append(self.clock.now().timestamp())
        self.accepted.append(body)
        return web.json_response({"code": 0, "data": {}, "msg": "success"})

    def _refusal(self, request: web.Request, raw: bytes, body: Any) -> int | None:
        if request.match_info["token"] != self.token:
            return CODE_BAD_TOKEN
        if len(raw) > MAX_BODY_BYTES or not _well_formed(body):
            return CODE_BAD_REQUEST
        if self.allowed_ips and request.remote not in self.allowed_ips:
            return CODE_IP
        if self.secret is not None and not self._signed(body):
            return CODE_SIGN
        if self.keywords and not any(k in text for k in self.keywords for text in _texts(body)):
            return CODE_KEYWORD
        if self._too_fast():
            return CODE_FREQUENCY
        return None

    def _signed(self, body: dict[str, Any]) -> bool:
        """Recompute the signature as Feishu does: the string is the key, the message empty."""
        assert self.secret is not None
        timestamp, signature = body.get("timestamp"), body.get("sign")
        if not isinstance(timestamp, str) or not isinstance(signature, str):
            return False
        try:
            seconds = int(timestamp)
        except ValueError:
            return False
        if abs(self.clock.now().timestamp() - seconds) > SIGN_WINDOW_S:
            return False
        key = f"{timestamp}\n{self.secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, signature)

    def _too_fast(self) -> bool:
        now = self.clock.now().timestamp()
        while self._sent_at and self._sent_at[0] <= now - 60:
            self._sent_at.popleft()
        last_second = sum(1 for t in self._sent_at if t > now - 1)
        return last_second >= PER_SECOND or len(self._sent_at) >= PER_MINUTE


def _error(code: int, msg: str | None = None) -> dict[str, Any]:
    return {"code": code, "data": {}, "msg": msg if msg is not None else MESSAGES.get(code, "")}


def _well_formed(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("msg_type") not in MSG_TYPES:
        return False
    if body["msg_type"] == "interactive":
        return isinstance(body.get("card"), dict)
    return isinstance(body.get("content"), dict)


def _texts(value: Any) -> Iterator[str]:
    """Every string in the message's content or card (where Feishu looks for keywords)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in NOT_TEXT:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
