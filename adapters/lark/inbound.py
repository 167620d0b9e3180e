"""Feishu/Lark's events and card callbacks, in either mode: ``POST /hooks/lark`` (decrypted and
checked: signature, 5-minute timestamp window, verification token) or the long connection
(``adapters.lark.longconn``). Either way an event id seen before is not acted on again,
card clicks are answered with the toast and card, and messages are answered after it."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from adapters.lark import crypto
from adapters.lark.acting import LarkActors
from adapters.lark.api import LarkApi
from adapters.lark.clicks import CardActions
from adapters.lark.events import MessageEvents
from adapters.recent import Recent
from gateway.config import LarkSettings
from gateway.domain import JSONObject
from gateway.errors import MalformedPayload, Unauthorized
from gateway.runtime import Runtime
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/lark"
# Feishu shows an error after 3 s; calls made while it waits leave room for the rest.
CALL_TIMEOUT_S = 2.0
MAX_SKEW_S = 5 * 60  # a request signed longer ago (or ahead) than this is a replay
RECENT_EVENTS = 10_000  # event ids remembered; Feishu re-pushes an event for a while
TIMESTAMP_HEADER = "X-Lark-Request-Timestamp"
NONCE_HEADER = "X-Lark-Request-Nonce"
SIGNATURE_HEADER = "X-Lark-Signature"
CARD_ACTION = "card.action.trigger"
MESSAGE_RECEIVED = "im.message.receive_v1"


class LarkInbound:
    """Checks what arrives and hands each event to its handler."""

    def __init__(self, rt: Runtime, settings: LarkSettings, api: LarkApi) -> None:
        self.rt = rt
        self.settings = settings
        actors = LarkActors(rt, settings, api)
        self.clicks = CardActions(actors)
        self.messages = MessageEvents(actors, api)
        self.recent: Recent[str] = Recent(RECENT_EVENTS)
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> JSONObject:
        """The answer to one request; raises Unauthorized and MalformedPayload (4xx)."""
        # A signed request is checked before anything of it is decrypted or read: a body
        # encrypted with another key is refused as forged (401), not as unreadable.
        signed = bool(headers.get(SIGNATURE_HEADER))
        if signed:
            self._check_signature(body, headers)
        doc = self.open(body)
        if doc.get("type") == "url_verification":
            self._check_token(doc.get("token"))
            challenge = doc.get("challenge")
            if not isinstance(challenge, str):
                raise MalformedPayload("must be a string", "challenge")
            return {"challenge": challenge}
        if not signed:
            self._check_signature(body, headers)
        header = _obj(doc.get("header"))
        self._check_token(header.get("token") if header else doc.get("token"))
        return await self.dispatch(doc) or {}

    async def dispatch(self, doc: JSONObject) -> JSONObject | None:
        """Act on one event whose sender is already proven (by the request's checks, or by
        the long connection it came over); its answer, None when there is nothing to say.

        A card click is answered with the toast and card; a message is acted on after the
        answer. Raises MalformedPayload (an event without an id, a click without operator).
        """
        header = _obj(doc.get("header"))
        event_type, event_id = header.get("event_type"), header.get("event_id")
        if event_type not in (CARD_ACTION, MESSAGE_RECEIVED):
            log.debug("lark event %s ignored", event_type)
            return None
        if not isinstance(event_id, str) or not event_id:
            raise MalformedPayload("has no event_id", "header")
        if not self.recent.claim(event_id):
            log.info("lark event %s (%s) seen before: ignored", event_id, event_type)
            return {} if event_type == CARD_ACTION else None
        event = _obj(doc.get("event"))
        if event_type == CARD_ACTION:
            try:
                return await self.clicks.answer(event, event_id)
            except BaseException:
                self.recent.forget(event_id)
                raise
        # Feishu re-pushes an event it has no answer to within 3 s: answer first, then act.
        self._spawn(self.messages.handle(event, event_id), event_id)
        return None

    def open(self, body: bytes) -> JSONObject:
        """The request's JSON, decrypted; an encrypt key means every body must be encrypted."""
        doc = _json(body, "body")
        key = self.settings.encrypt_key
        envelope = doc.get("encrypt")
        if key is None:
            if envelope is not None:
                raise Unauthorized("lark: an encrypted body, but lark.encrypt_key is not set")
            return doc
        if not isinstance(envelope, str):
            raise Unauthorized("lark: lark.encrypt_key is set, but the body is not encrypted")
        return _json(crypto.decrypt(key.get_secret_value(), envelope), "encrypt")

    def _check_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """The signature (with an encrypt key) and the timestamp window."""
        timestamp = headers.get(TIMESTAMP_HEADER)
        key = self.settings.encrypt_key
        if key is not None:
            nonce, given = headers.get(NONCE_HEADER), headers.get(SIGNATURE_HEADER)
            if not timestamp or nonce is None or not given:
                raise Unauthorized("lark: the request is not signed")
            if not crypto.signed(timestamp, nonce, key.get_secret_value(), body, given):
                raise Unauthorized("lark: bad signature")
        if timestamp is None:
            return
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise Unauthorized("lark: the request timestamp is not a number") from None
        if abs(self.rt.clock.now().timestamp() - sent_at) > MAX_SKEW_S:
            raise Unauthorized("lark: the request timestamp is outside the 5-minute window")

    def _check_token(self, token: object) -> None:
        expected = self.settings.verification_token
        if expected is None:
            return  # the encrypt key (required then) already proved who sent it
        given = token if isinstance(token, str) else ""
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            raise Unauthorized("lark: wrong verification token")

    def _spawn(self, work: Coroutine[Any, Any, None], event_id: str) -> None:
        task = asyncio.create_task(work, name=f"lark-event-{event_id}")
        self._tasks.add(task)
        task.add_done_callback(partial(self._done, event_id=event_id))

    def _done(self, task: asyncio.Task[None], *, event_id: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.recent.forget(event_id)  # Feishu's re-push may succeed
            log.error("lark event %s failed", event_id, exc_info=error)

    async def quiet(self) -> None:
        """Until every message being answered now has been answered (or failed)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Finish what is being answered (briefly), then cancel the rest."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=CALL_TIMEOUT_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


LARK = web.AppKey("lark_inbound", LarkInbound)


def add_routes(app: web.Application, settings: LarkSettings) -> None:
    """Register what receives Lark's events; what answers them is built when ``app`` starts.

    Webhook mode: ``POST /hooks/lark``. Long-connection mode: the connection, plus
    ``POST /hooks/lark`` only when a verification token or encrypt key is configured (so a
    move from one mode to the other loses nothing); without them the route does not exist
    (404), since nothing could prove who posted to it. ``LarkSettings`` has already refused
    a webhook with neither.
    """
    app.cleanup_ctx.append(partial(_inbound, settings=settings))
    if settings.mode == "long_connection":
        from adapters.lark.longconn import add_long_connection  # noqa: PLC0415 - only then

        add_long_connection(app, settings)
    if settings.webhook_guarded:
        app.router.add_post(PATH, handle)


async def handle(request: web.Request) -> web.Response:
    """Hand the raw body and headers (case-insensitive) to LarkInbound; JSON back."""
    answer = await request.app[LARK].receive(await request.read(), request.headers)
    return web.json_response(answer)


async def _inbound(app: web.Application, *, settings: LarkSettings) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S))
    inbound = LarkInbound(app[RUNTIME], settings, LarkApi(settings, session))
    app[LARK] = inbound
    yield
    await inbound.close()
    await session.close()


def _json(raw: bytes, field: str) -> JSONObject:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload("is not JSON", field) from None
    if not isinstance(doc, dict):
        raise MalformedPayload("must be a JSON object", field)
    return doc


def _obj(value: object) -> JSONObject:
    return value if isinstance(value, dict) else {}
