"""A fake Zoom "Incoming Webhook" app endpoint: stateful, on an ephemeral loopback port.

``add_webhook(token)`` makes a ``/chat/webhooks/incomingwebhook/<id>`` URL with its verification
token. A POST must carry exactly that token in ``Authorization`` (else 401 "Invalid
authorization token"), name a known webhook (else 404 "Invalid webhook"), ask for
``format=full`` and send a ``{head, body}`` message (else 400). Accepted messages are kept
per webhook and answered 200 with an empty body. The next call can be scripted to fail.

Zoom's exact answers are not in our notes: the sentences and the empty 200 are this fake's
assumption, in the shapes ``ZoomBot.check`` must understand.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

PREFIX = "/chat/webhooks/incomingwebhook/"


@dataclass(frozen=True)
class Received:
    """One message a webhook accepted, with the query it came with."""

    message: dict[str, Any]
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]


@dataclass
class Webhook:
    """One connection made with ``/inc connect``."""

    webhook_id: str
    token: str
    received: list[Received] = field(default_factory=list)


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next call."""

    status: int
    body: str = ""
    retry_after: str | None = None


class FakeZoomWebhook:
    """Serve ``app`` (e.g. with ``aiohttp_server``), then set ``base`` to the server's root."""

    def __init__(self) -> None:
        self.base = ""
        self.webhooks: dict[str, Webhook] = {}
        self.calls = 0
        self._faults: deque[Fault] = deque()
        self.app = web.Application()
        self.app.router.add_post(PREFIX + "{webhook_id}", self._handle)

    def add_webhook(self, token: str | None = None) -> tuple[str, str]:
        """A new connection: its endpoint URL (without ``format``) and verification token."""
        webhook_id = secrets.token_urlsafe(16)
        token = token or secrets.token_urlsafe(24)
        self.webhooks[webhook_id] = Webhook(webhook_id, token)
        return f"{self.base}{PREFIX}{webhook_id}", token

    def webhook(self, url: str) -> Webhook:
        """The connection behind ``url`` (query ignored)."""
        return self.webhooks[url.split("?", 1)[0].rsplit("/", 1)[-1]]

    def fail_next(self, status: int, body: str = "", *, retry_after: str | None = None) -> None:
        """Answer the next call with ``status`` and ``body`` (Retry-After if given)."""
        self._faults.append(Fault(status, body, retry_after))

    async def _handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        raw = await request.read()
        if self._faults:
            fault = self._faults.popleft()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return web.Response(status=fault.status, text=fault.body, headers=headers)
        webhook = self.webhooks.get(request.match_info["webhook_id"])
        if webhook is None:
            return web.Response(status=404, text="Invalid webhook")
        if request.headers.get("Authorization") != webhook.token:
            return web.Response(status=401, text="Invalid authorization token")
        if request.query.getall("format", []) != ["full"]:
            return web.json_response({"message": "this fake takes format=full only"}, status=400)
        try:
            message = json.loads(raw)
        except ValueError:
            return web.json_response({"message": "Invalid JSON"}, status=400)
        problem = _problem(message)
        if problem:
            return web.json_response({"message": problem}, status=400)
        webhook.received.append(Received(message, request.query, request.headers))
        return web.Response(status=200)


def _problem(message: Any) -> str | None:
    """What is wrong with a ``format=full`` message, or None."""
    if not isinstance(message, dict):
        return "the message must be an object"
    head = message.get("head")
    if not isinstance(head, dict) or not isinstance(head.get("text"), str) or not head["text"]:
        return "head.text is required"
    sub_head = head.get("sub_head")
    if sub_head is not None and not (isinstance(sub_head, dict) and "text" in sub_head):
        return "head.sub_head must have text"
    body = message.get("body", [])
    if not isinstance(body, list):
        return "body must be a list"
    for item in body:
        if not isinstance(item, dict) or item.get("type") != "message":
            return "this fake knows only body items of type message"
        if not isinstance(item.get("text"), str) or not item["text"]:
            return "a message item needs text"
    return None
