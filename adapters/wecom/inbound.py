"""``GET /hooks/wecom`` (the callback URL check) and ``POST /hooks/wecom`` (every event and
message WeCom sends): signature, 5-minute timestamp window, AES envelope, corp id, and a
message seen before, all checked before anything is acted on.

Clicks and commands are acted on before the answer (a failure makes WeCom send the
callback again); what is said back to WeCom (a redrawn card, a text reply) goes after it,
in the background: WeCom waits 5 s at most, and our answer to it is always empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from adapters.recent import Recent
from adapters.wecom import wire
from adapters.wecom.acting import WecomActors
from adapters.wecom.api import WecomApi
from adapters.wecom.clicks import CardClicks, Click
from adapters.wecom.codes import ResponseCodes, shared
from adapters.wecom.conversation import Conversation, Reply, show_card
from adapters.wecom.crypto import WecomCrypto
from adapters.wecom.directory import WecomDirectory
from adapters.wecom.sender import TEXT_MAX_BYTES, fit_bytes
from gateway import messages
from gateway.config import WecomSettings
from gateway.errors import ConfigError, MalformedPayload, PlatformError, Unauthorized
from gateway.runtime import Runtime
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/wecom"
CALL_TIMEOUT_S = 5.0
MAX_SKEW_S = 5 * 60  # a callback signed longer ago (or ahead) than this is a replay
RECENT = 10_000  # callbacks remembered; WeCom resends an unanswered one up to 3 times
CARD_EVENT = "template_card_event"
LANG = "en"


class WecomInbound:
    """Checks what arrives at the callback URL and hands each event to its handler."""

    def __init__(
        self, rt: Runtime, settings: WecomSettings, api: WecomApi, codes: ResponseCodes
    ) -> None:
        self.rt = rt
        self.settings = settings
        self.api = api
        self.codes = codes
        self.crypto = WecomCrypto(
            settings.token.get_secret_value(),
            settings.encoding_aes_key.get_secret_value(),
            settings.corp_id,
        )
        actors = WecomActors(rt, settings, WecomDirectory(rt, api))
        self.clicks = CardClicks(actors, api, codes)
        self.conversation = Conversation(actors)
        self.recent: Recent[str] = Recent(RECENT)
        self._tasks: set[asyncio.Task[None]] = set()

    def verify_url(self, query: Mapping[str, str]) -> str:
        """The answer to WeCom's URL check: the decrypted ``echostr``, if signed by WeCom."""
        signature, timestamp, nonce = _signed_by(query)
        self._check_time(timestamp)
        echostr = query.get("echostr")
        if not echostr:
            raise MalformedPayload("is missing", "echostr")
        try:
            return self.crypto.open(signature, timestamp, nonce, echostr).decode()
        except UnicodeDecodeError:
            raise MalformedPayload("is not text", "echostr") from None

    async def receive(self, query: Mapping[str, str], body: bytes) -> None:
        """Check and act on one callback; raises Unauthorized and MalformedPayload (4xx)."""
        signature, timestamp, nonce = _signed_by(query)
        self._check_time(timestamp)
        encrypt = wire.read(body, "body").get("Encrypt")
        if not encrypt:
            raise MalformedPayload("has no Encrypt", "body")
        event = wire.read(self.crypto.open(signature, timestamp, nonce, encrypt), "Encrypt")
        if event.get("AgentID", "").strip() != str(self.settings.agent_id):
            log.info("wecom callback for agent %s ignored", event.get("AgentID"))
            return
        kind = event.get("MsgType")
        if kind == "event" and event.get("Event") == CARD_EVENT:
            await self._click(event)
        elif kind == "text":
            await self._text(event)
        elif kind != "event":
            await self._other(event)
        else:
            log.debug("wecom event %s ignored", event.get("Event"))

    async def _click(self, event: Mapping[str, str]) -> None:
        user = event.get("FromUserName", "")
        if not user:
            raise MalformedPayload("has no FromUserName", "Encrypt")
        click = Click(
            user_id=user,
            task_id=event.get("TaskId", ""),
            key=event.get("EventKey", ""),
            code=event.get("ResponseCode") or None,
            create_time=event.get("CreateTime", ""),
        )
        key = click.callback_id
        if not self.recent.claim(key):
            log.info("wecom click %s seen before: ignored", key)
            return
        try:
            todo = await self.clicks.press(click)
        except BaseException:
            self.recent.forget(key)
            raise
        self._spawn(self.clicks.follow(todo), key)

    async def _text(self, event: Mapping[str, str]) -> None:
        user, msg_id = event.get("FromUserName", ""), event.get("MsgId", "")
        if not user or not msg_id:
            raise MalformedPayload("has no FromUserName or MsgId", "Encrypt")
        key = f"msg:{msg_id}"
        if not self.recent.claim(key):
            log.info("wecom message %s seen before: ignored", msg_id)
            return
        try:
            reply = await self.conversation.answer(
                event.get("Content", ""), user_id=user, callback_id=key
            )
        except BaseException:
            self.recent.forget(key)
            raise
        self._spawn(self._say(user, reply, msg_id), key)

    async def _other(self, event: Mapping[str, str]) -> None:
        """An image, voice, … message: the app reads text only, and says so."""
        user, msg_id = event.get("FromUserName", ""), event.get("MsgId", "")
        if user and msg_id and self.recent.claim(f"msg:{msg_id}"):
            text = messages.text("wecom_text_only", LANG)
            self._spawn(self._say(user, Reply(text), msg_id), f"msg:{msg_id}")

    async def _say(self, user: str, reply: Reply, msg_id: str) -> None:
        """Send ``reply`` to ``user``; a refused one is logged (there is no one else to tell)."""
        nonce = "".join(c for c in msg_id if c.isalnum()) or "0"
        shown = show_card(reply, nonce)
        try:
            if shown is None:
                await self.api.send_text(user, fit_bytes(reply.text, TEXT_MAX_BYTES))
                return
            task, card = shown
            sent = await self.api.send_card(user, card)
            if sent.response_code:
                self.codes.keep(task, sent.response_code)
            self.codes.drew(task, card)
        except PlatformError as exc:
            log.warning("wecom answer to %s failed: %s", user, exc)

    def _check_time(self, timestamp: str) -> None:
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise Unauthorized("wecom: the timestamp is not a number") from None
        if abs(self.rt.clock.now().timestamp() - sent_at) > MAX_SKEW_S:
            raise Unauthorized("wecom: the timestamp is outside the 5-minute window")

    def _spawn(self, work: Coroutine[Any, Any, None], key: str) -> None:
        task = asyncio.create_task(work, name=f"wecom-{key}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("wecom follow-up %s failed", task.get_name(), exc_info=task.exception())

    async def quiet(self) -> None:
        """Until every answer being sent now has been sent (or failed)."""
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


WECOM = web.AppKey("wecom_inbound", WecomInbound)


def add_routes(app: web.Application, settings: WecomSettings) -> None:
    """Register ``GET`` and ``POST /hooks/wecom``; what answers them is built at startup.

    Raises:
        ConfigError: ``wecom.encoding_aes_key`` is not an EncodingAESKey.
    """
    try:
        WecomCrypto(
            settings.token.get_secret_value(),
            settings.encoding_aes_key.get_secret_value(),
            settings.corp_id,
        )
    except ValueError as exc:
        raise ConfigError([f"wecom.encoding_aes_key: {exc}"]) from None
    app.cleanup_ctx.append(partial(_inbound, settings=settings))
    app.router.add_get(PATH, verify_url)
    app.router.add_post(PATH, receive)


async def verify_url(request: web.Request) -> web.Response:
    """Answer WeCom's URL check with the plaintext of ``echostr`` (no quotes, no newline)."""
    return web.Response(text=request.app[WECOM].verify_url(request.query))


async def receive(request: web.Request) -> web.Response:
    """Act on one callback; an empty 200 (no passive reply) unless it is refused."""
    await request.app[WECOM].receive(request.query, await request.read())
    return web.Response(text="")


async def _inbound(app: web.Application, *, settings: WecomSettings) -> AsyncIterator[None]:
    session = aiohttp.ClientSession()
    api = WecomApi(settings, session, timeout_s=CALL_TIMEOUT_S)
    inbound = WecomInbound(app[RUNTIME], settings, api, shared(settings.corp_id, settings.agent_id))
    app[WECOM] = inbound
    yield
    await inbound.close()
    await session.close()


def _signed_by(query: Mapping[str, str]) -> tuple[str, str, str]:
    values = tuple(query.get(name, "") for name in ("msg_signature", "timestamp", "nonce"))
    if not all(values):
        raise Unauthorized("wecom: the callback is not signed")
    return values[0], values[1], values[2]
