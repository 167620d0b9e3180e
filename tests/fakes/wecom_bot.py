"""A fake WeCom group robot that checks its key, the content's size and the rate limit.

Serve ``app`` (e.g. with ``aiohttp_server``) and POST to ``PATH?key=…``. Like WeCom it
answers HTTP 200 with ``{"errcode", "errmsg"}``: 93000 for an unknown key, 45009 once 20
messages came in a minute, 44004 for empty content and 40058 for markdown over 4096 bytes or
text over 2048 bytes (UTF-8). Accepted bodies are kept in ``accepted``; ``fail_next``
scripts an HTTP 500 or any error code for the next call.

93000 and 45009 are from our notes (93000 marked "from memory"); 40058/44004 as size and
empty-content answers, 40008 (unknown msgtype) and the ``errmsg`` wordings are modelled.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.clock import Clock, SystemClock

PATH = "/cgi-bin/webhook/send"
KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
PER_MINUTE = 20
MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048

CODE_BAD_KEY = 93000
CODE_FREQUENCY = 45009
CODE_INVALID = 40058
CODE_EMPTY = 44004
CODE_BAD_TYPE = 40008
HELP = "more info at https://open.work.weixin.qq.com/devtool/query?e="
MESSAGES = {
    CODE_BAD_KEY: f"invalid webhook url, hint: [1700000000_1_fake], {HELP}93000",
    CODE_FREQUENCY: f"api freq out of limit, hint: [1700000000_2_fake], {HELP}45009",
    CODE_EMPTY: f"empty content, hint: [1700000000_3_fake], {HELP}44004",
    CODE_BAD_TYPE: f"invalid message type, hint: [1700000000_4_fake], {HELP}40008",
}


@dataclass(frozen=True)
class Fault:
    """A scripted failure: HTTP ``status`` (500 and up: a bare error page) or an ``errcode``."""

    status: int = 200
    errcode: int | None = None
    errmsg: str | None = None


class FakeWecomBot:
    """One group robot with its webhook ``key``."""

    def __init__(self, key: str = KEY, *, clock: Clock | None = None) -> None:
        self.key = key
        self.clock: Clock = clock or SystemClock()
        self.url = ""  # set by whoever serves the app, with ?key=
        self.received: list[Any] = []  # every body, parsed (None if not JSON)
        self.accepted: list[dict[str, Any]] = []
        self._sent_at: deque[float] = deque()
        self._faults: deque[Fault] = deque()
        self.app = web.Application()
        self.app.router.add_post(PATH, self._handle)

    def fail_next(
        self, status: int = 200, errcode: int | None = None, errmsg: str | None = None
    ) -> None:
        """Answer the next call with HTTP ``status``, or HTTP 200 and ``errcode``."""
        self._faults.append(Fault(status, errcode, errmsg))

    def reset_rate_limit(self) -> None:
        """Forget the messages counted against the rate limit."""
        self._sent_at.clear()

    def of_type(self, msgtype: str) -> list[dict[str, Any]]:
        """The ``msgtype`` part (``markdown``, ``text``) of every accepted message of it."""
        return [body[msgtype] for body in self.accepted if body.get("msgtype") == msgtype]

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        self.received.append(body)
        if self._faults:
            fault = self._faults.popleft()
            if fault.status >= 500:
                return web.Response(status=fault.status, text="upstream error")
            code = fault.errcode if fault.errcode is not None else CODE_BAD_TYPE
            return web.json_response(_error(code, fault.errmsg), status=fault.status)
        refusal = self._refusal(request.query.get("key"), body)
        if refusal is not None:
            return web.json_response(_error(*refusal))
        self._sent_at.append(self.clock.now().timestamp())
        self.accepted.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _refusal(self, key: str | None, body: Any) -> tuple[int, str | None] | None:
        if key != self.key:
            return CODE_BAD_KEY, None
        problem = _content_problem(body)
        if problem is not None:
            return problem
        if self._too_fast():
            return CODE_FREQUENCY, None
        return None

    def _too_fast(self) -> bool:
        now = self.clock.now().timestamp()
        while self._sent_at and self._sent_at[0] <= now - 60:
            self._sent_at.popleft()
        return len(self._sent_at) >= PER_MINUTE


def _error(code: int, msg: str | None = None) -> dict[str, Any]:
    return {"errcode": code, "errmsg": msg if msg is not None else MESSAGES.get(code, "")}


def _content_problem(body: Any) -> tuple[int, str | None] | None:
    kind = body.get("msgtype") if isinstance(body, dict) else None
    if kind not in ("markdown", "text"):
        return CODE_BAD_TYPE, None
    part = body.get(kind)
    content = part.get("content") if isinstance(part, dict) else None
    if not isinstance(content, str) or not content:
        return CODE_EMPTY, None
    limit = MARKDOWN_MAX_BYTES if kind == "markdown" else TEXT_MAX_BYTES
    if len(content.encode()) > limit:
        return CODE_INVALID, f"{kind}.content exceed max length {limit}"
    if kind == "text":
        for field in ("mentioned_list", "mentioned_mobile_list"):
            listed = part.get(field, [])
            if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
                return CODE_INVALID, f"invalid {field}"
    return None
