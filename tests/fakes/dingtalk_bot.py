"""A fake DingTalk custom group bot that checks token, signature, keywords, IPs and rate.

Serve ``app`` (e.g. with ``aiohttp_server``) and POST to ``PATH?access_token=…``. Like
DingTalk it answers HTTP 200 with ``{"errcode", "errmsg"}``: 300001 for an unknown
access_token; 310000 (errmsg says which) when the signature in the query is missing, wrong
or more than an hour from the fake's ``clock``, when none of the ``keywords`` is in the
text, or when ``allowed_ips`` is set and the caller is not on it; 130101 once 20 messages
came in a minute, after which the bot stays throttled for 10 minutes. Accepted bodies are
kept in ``accepted``; ``fail_next`` scripts an HTTP 500 or any error code for the next call.

Codes 310000 and 130101 are from our verified notes; 300001 and 40035 (malformed body) and
the ``errmsg`` wordings are modelled, not verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.clock import Clock, SystemClock

PATH = "/robot/send"
TOKEN = "dt-access-token-1"
SIGN_WINDOW_MS = 3_600_000  # DingTalk accepts a signature timestamp within an hour
PER_MINUTE = 20
THROTTLE_S = 600  # over the limit, the bot is throttled for 10 minutes

CODE_BAD_TOKEN = 300001
CODE_SECURITY = 310000
CODE_TOO_FAST = 130101
CODE_BAD_REQUEST = 40035
MORE = "more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
MESSAGES = {
    CODE_BAD_TOKEN: "token is not exist",
    CODE_TOO_FAST: "send too fast, exceed 20 times per minute",
    CODE_BAD_REQUEST: "missing parameter",
}
SIGN_MISMATCH = f"sign not match, {MORE}"
SIGN_STALE = f"sign not match, timestamp is not within one hour, {MORE}"
NO_KEYWORD = f"keywords not in content, {MORE}"


@dataclass(frozen=True)
class Fault:
    """A scripted failure: HTTP ``status`` (500 and up: a bare error page) or an ``errcode``."""

    status: int = 200
    errcode: int | None = None
    errmsg: str | None = None


class FakeDingtalkBot:
    """One custom robot with its ``access_token`` and security settings (all optional)."""

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
        self.url = ""  # set by whoever serves the app, with ?access_token=
        self.received: list[tuple[dict[str, str], Any]] = []  # (query, parsed body)
        self.accepted: list[dict[str, Any]] = []
        self._sent_at: deque[float] = deque()
        self._throttled_until = 0.0
        self._faults: deque[Fault] = deque()
        self.app = web.Application()
        self.app.router.add_post(PATH, self._handle)

    def fail_next(
        self, status: int = 200, errcode: int | None = None, errmsg: str | None = None
    ) -> None:
        """Answer the next call with HTTP ``status``, or HTTP 200 and ``errcode``."""
        self._faults.append(Fault(status, errcode, errmsg))

    def reset_rate_limit(self) -> None:
        """Forget the messages counted against the rate limit, and any throttle."""
        self._sent_at.clear()
        self._throttled_until = 0.0

    async def _handle(self, request: web.Request) -> web.Response:
        query = dict(request.query)  # percent-decoded, as DingTalk reads it
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        self.received.append((query, body))
        if self._faults:
            fault = self._faults.popleft()
            if fault.status >= 500:
                return web.Response(status=fault.status, text="upstream error")
            code = fault.errcode if fault.errcode is not None else CODE_BAD_REQUEST
            return web.json_response(_error(code, fault.errmsg), status=fault.status)
        refusal = self._refusal(request, query, body)
        if refusal is not None:
            return web.json_response(_error(*refusal))
        self._sent_at.append(self.clock.now().timestamp())
        self.accepted.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _refusal(
        self, request: web.Request, query: dict[str, str], body: Any
    ) -> tuple[int, str | None] | None:
        if query.get("access_token") != self.token:
            return CODE_BAD_TOKEN, None
        if not _well_formed(body):
            return CODE_BAD_REQUEST, None
        if self.allowed_ips and request.remote not in self.allowed_ips:
            return CODE_SECURITY, f"ip {request.remote} not in whitelist, {MORE}"
        if self.secret is not None:
            problem = self._sign_problem(query)
            if problem is not None:
                return CODE_SECURITY, problem
        if self.keywords and not any(k in _text(body) for k in self.keywords):
            return CODE_SECURITY, NO_KEYWORD
        if self._too_fast():
            return CODE_TOO_FAST, None
        return None

    def _sign_problem(self, query: dict[str, str]) -> str | None:
        """Recompute the signature as DingTalk does: key = secret, message = "ts\\nsecret"."""
        assert self.secret is not None
        timestamp, signature = query.get("timestamp", ""), query.get("sign", "")
        try:
            ms = int(timestamp)
        except ValueError:
            return SIGN_MISMATCH
        if abs(self.clock.now().timestamp() * 1000 - ms) > SIGN_WINDOW_MS:
            return SIGN_STALE
        message = f"{timestamp}\n{self.secret}".encode()
        digest = hmac.new(self.secret.encode(), message, hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode()
        return None if hmac.compare_digest(expected, signature) else SIGN_MISMATCH

    def _too_fast(self) -> bool:
        now = self.clock.now().timestamp()
        if now < self._throttled_until:
            return True
        while self._sent_at and self._sent_at[0] <= now - 60:
            self._sent_at.popleft()
        if len(self._sent_at) >= PER_MINUTE:
            self._throttled_until = now + THROTTLE_S
            return True
        return False


def _error(code: int, msg: str | None = None) -> dict[str, Any]:
    return {"errcode": code, "errmsg": msg if msg is not None else MESSAGES.get(code, "")}


def _well_formed(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    kind = body.get("msgtype")
    if kind == "markdown":
        markdown = body.get("markdown")
        return (
            isinstance(markdown, dict)
            and bool(markdown.get("title"))
            and bool(markdown.get("text"))
        )
    if kind == "text":
        text = body.get("text")
        return isinstance(text, dict) and bool(text.get("content"))
    return False


def _text(body: dict[str, Any]) -> str:
    """The words searched for keywords: the markdown text (not its title: the stricter
    reading, since where DingTalk looks is not in our notes) or the text message."""
    if body.get("msgtype") == "markdown":
        return str(body["markdown"].get("text", ""))
    return str(body["text"].get("content", ""))
