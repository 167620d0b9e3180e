"""A fake webhook receiver: records every request and answers from a script."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

PATH = "/hook"


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None  # JSON-encoded unless it is a str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any


class FakeWebhook:
    """Serve ``app`` (e.g. with ``aiohttp_server``) and POST to ``PATH``.

    Answers come from ``script(...)`` in order, then ``default`` (200 with an ``id``).
    ``hold_until(n)`` keeps every request waiting until ``n`` are in flight at once.
    With a ``secret`` it checks the signature as a receiver should and answers 401 if wrong.
    """

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.url = ""  # set by whoever serves the app
        self.received: list[Received] = []
        self.default = Reply(200)
        self._script: deque[Reply] = deque()
        self._barrier: int | None = None
        self._in_flight = 0
        self._released = asyncio.Event()
        self._arrived = asyncio.Condition()
        self.app = web.Application()
        self.app.router.add_post(PATH, self._handle)

    def script(self, *replies: int | Reply) -> None:
        """Answer the next requests with these (a bare int is a status with an empty body)."""
        self._script.extend(Reply(r) if isinstance(r, int) else r for r in replies)

    def hold_until(self, in_flight: int) -> None:
        """Keep requests waiting until ``in_flight`` of them are waiting together."""
        self._barrier = in_flight

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` requests have arrived (answered or not)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)

    def delivery_ids(self) -> list[int]:
        """The ``X-Ackgate-Delivery`` of every request, in arrival order."""
        return [int(r.headers["X-Ackgate-Delivery"]) for r in self.received]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        self.received.append(Received(request.headers, body, parsed))
        number = len(self.received)
        async with self._arrived:
            self._arrived.notify_all()
        if self._barrier is not None:
            self._in_flight += 1
            if self._in_flight >= self._barrier:
                self._released.set()
            await self._released.wait()
        if self.secret is not None and not self._signed(request.headers, body):
            return web.Response(status=401, text="bad signature")
        reply = self._script.popleft() if self._script else self.default
        return _response(reply, number)

    def _signed(self, headers: Mapping[str, str], body: bytes) -> bool:
        assert self.secret is not None
        message = headers.get("X-Ackgate-Timestamp", "").encode() + b"." + body
        expected = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("X-Ackgate-Signature", ""), f"sha256={expected}")


def _response(reply: Reply, number: int) -> web.Response:
    body = reply.body
    if body is None and 200 <= reply.status < 300:
        body = {"id": f"msg-{number}"}
    if body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    if isinstance(body, str):
        return web.Response(status=reply.status, text=body, headers=reply.headers)
    return web.json_response(body, status=reply.status, headers=reply.headers)
