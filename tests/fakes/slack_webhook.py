"""A fake Slack incoming-webhook host: stateful, on an ephemeral loopback port, answering in
Slack's plain text.

``add_hook()`` makes a ``/services/T…/B…/…`` URL bound to one channel; a POST to an unknown
one answers 404 ``no_service``. Messages are checked against Block Kit's published limits
(400 ``invalid_blocks`` / ``invalid_payload`` / ``no_text``) and kept per hook. A hook can be
archived (410 ``channel_is_archived``), and the next call can be scripted to fail (429 with
Retry-After, 500, any status and body).
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

TEAM_ID = "T0FAKE"
PATH = "/services/{team}/{bot}/{secret}"

# Block Kit limits the fake enforces (the ones our notes record).
MAX_BLOCKS = 50
HEADER_MAX = 150
TEXT_MAX = 3000
ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
MESSAGE_TEXT_MAX = 40_000


@dataclass(frozen=True)
class Posted:
    """One message a hook accepted."""

    text: str | None
    blocks: list[Any]
    headers: CIMultiDictProxy[str]


@dataclass
class Hook:
    """An incoming webhook, bound to one channel."""

    path: str
    channel: str
    archived: bool = False
    posted: list[Posted] = field(default_factory=list)


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next call."""

    status: int
    body: str
    retry_after: str | None = None


class FakeSlackWebhook:
    """Serve ``app`` (e.g. with ``aiohttp_server``), then set ``base`` to the server's root."""

    def __init__(self) -> None:
        self.base = ""
        self.hooks: dict[str, Hook] = {}
        self.calls: list[tuple[str, bytes]] = []  # every POST: path and raw body
        self._faults: deque[Fault] = deque()
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_post(PATH, self._handle)

    def add_hook(self, channel: str = "C0INC") -> str:
        """A new webhook posting to ``channel``; its full URL."""
        n = next(self._ids)
        path = f"/services/{TEAM_ID}/B{n:08d}/secret{n}x"
        self.hooks[path] = Hook(path, channel)
        return self.base + path

    def hook(self, url: str) -> Hook:
        """The hook behind ``url``."""
        return self.hooks[url.removeprefix(self.base)]

    def archive(self, url: str) -> None:
        """Archive the hook's channel: Slack answers 410 ``channel_is_archived`` from now on."""
        self.hook(url).archived = True

    def revoke(self, url: str) -> None:
        """Remove the hook, as when the app is uninstalled."""
        del self.hooks[url.removeprefix(self.base)]

    def fail_next(self, status: int, body: str = "", *, retry_after: str | None = None) -> None:
        """Answer the next call with ``status`` and ``body`` (Retry-After if given)."""
        self._faults.append(Fault(status, body, retry_after))

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.calls.append((request.path, raw))
        if self._faults:
            fault = self._faults.popleft()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return web.Response(status=fault.status, text=fault.body, headers=headers)
        hook = self.hooks.get(request.path)
        if hook is None:
            return _plain(404, "no_service")
        if hook.archived:
            return _plain(410, "channel_is_archived")
        try:
            doc = json.loads(raw)
        except ValueError:
            return _plain(400, "invalid_payload")
        if not isinstance(doc, dict):
            return _plain(400, "invalid_payload")
        text, blocks = doc.get("text"), doc.get("blocks")
        if not text and not blocks:
            return _plain(400, "no_text")
        if text is not None and (not isinstance(text, str) or len(text) > MESSAGE_TEXT_MAX):
            return _plain(400, "invalid_payload")
        if blocks is not None and not _valid_blocks(blocks):
            return _plain(400, "invalid_blocks")
        hook.posted.append(Posted(text, blocks or [], request.headers))
        return _plain(200, "ok")


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def _valid_blocks(blocks: Any) -> bool:
    if not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_BLOCKS:
        return False
    return all(isinstance(b, dict) and _valid_block(b) for b in blocks)


def _valid_block(block: dict[str, Any]) -> bool:
    kind = block.get("type")
    if kind == "header":
        return _valid_text(block.get("text"), HEADER_MAX, plain=True)
    if kind == "section":
        return _valid_text(block.get("text"), TEXT_MAX)
    if kind == "context":
        elements = block.get("elements")
        return isinstance(elements, list) and all(_valid_text(e, TEXT_MAX) for e in elements)
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= ELEMENTS_MAX:
            return False
        return all(_valid_button(e) for e in elements)
    return False  # the fake knows only the blocks a webhook notice needs


def _valid_text(obj: Any, limit: int, *, plain: bool = False) -> bool:
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return False
    text = obj.get("text")
    return isinstance(text, str) and 0 < len(text) <= limit


def _valid_button(obj: Any) -> bool:
    if not isinstance(obj, dict) or obj.get("type") != "button":
        return False
    url = obj.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > URL_MAX):
        return False
    return _valid_text(obj.get("text"), BUTTON_TEXT_MAX, plain=True)
