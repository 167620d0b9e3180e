"""``POST /hooks/telegram``: every update Telegram sends, checked against the webhook's secret
token and handed to one python-telegram-bot Application (or, with ``mode = "polling"``, the
same Application fed by long polling instead)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
from aiohttp import web
from telegram import Bot, Update
from telegram.ext import ApplicationBuilder

from adapters.telegram.acting import TelegramActors
from adapters.telegram.errors import call
from adapters.telegram.listeners import ALLOWED_UPDATES, TelegramApp, TelegramListeners
from adapters.telegram.transport import make_bot
from gateway.config import TelegramSettings
from gateway.errors import MalformedPayload, PlatformError, Unauthorized
from gateway.runtime import Runtime
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Telegram waits for the answer before it sends the chat's next update: calls made meanwhile
# (answering a button, replying to a command) are kept short.
CALL_TIMEOUT_S = 3.0


class TelegramInbound:
    """The Application updates go through; initialized (``getMe``) once, on first need."""

    def __init__(self, application: TelegramApp, secret: str | None) -> None:
        self.application = application
        self._secret = secret.encode() if secret else None
        self._lock = asyncio.Lock()
        self._ready = False

    def authentic(self, token: str | None) -> bool:
        """Whether ``token`` is the webhook's secret (compared in constant time)."""
        if self._secret is None or token is None:
            return False
        return hmac.compare_digest(token.encode(), self._secret)

    async def ready(self) -> None:
        """Initialize the Application once; raises PlatformError while Telegram is out of reach.

        Not at startup: a gateway must start even when Telegram cannot be reached.
        """
        async with self._lock:
            if not self._ready:
                await call(self.application.initialize())
                self._ready = True

    async def process(self, doc: object) -> None:
        """Decode one update and run it through the handlers (which answer in the chat)."""
        if not isinstance(doc, dict):
            raise MalformedPayload("must be a JSON object", "update")
        await self.ready()
        try:
            update = Update.de_json(doc, self.application.bot)
            # Handlers' own failures are logged by the error handler; PTB's bookkeeping
            # after them (hashing a user id that is a list) still raises.
            await self.application.process_update(update)
        # PTB's decoders trust the Bot API's shapes; anything else fails in one of these ways
        # (OverflowError: a date far outside what a timestamp can be).
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
            raise MalformedPayload(f"not a Telegram update: {exc}", "update") from exc

    async def close(self) -> None:
        """Release what ``ready`` set up."""
        async with self._lock:
            if self._ready:
                await self.application.shutdown()
                self._ready = False


TELEGRAM = web.AppKey("telegram", TelegramInbound)


def add_routes(app: web.Application, settings: TelegramSettings) -> None:
    """Register ``POST /hooks/telegram`` (webhook mode) or the polling loop (polling mode)."""
    if settings.mode == "polling":
        from adapters.telegram.polling import polling  # noqa: PLC0415 - only in polling mode

        app.cleanup_ctx.append(partial(polling, settings=settings))
        return
    app.cleanup_ctx.append(partial(_webhook, settings=settings))
    app.router.add_post(PATH, handle)


async def handle(request: web.Request) -> web.Response:
    """Check the secret token, then process the update; 200 unless the request is refused.

    Handlers answer people themselves and log what fails; a 2xx also stops Telegram from
    sending the update again.
    """
    inbound = request.app[TELEGRAM]
    if not inbound.authentic(request.headers.get(SECRET_HEADER)):
        raise Unauthorized(f"missing or wrong {SECRET_HEADER}")
    try:
        doc = await request.json()
    except ValueError as exc:
        raise MalformedPayload("the body is not JSON") from exc
    try:
        await inbound.process(doc)
    except PlatformError as exc:
        # getMe failed: nothing was done, so Telegram may as well send it again later.
        log.warning("telegram update not processed, Telegram unreachable: %s", exc)
        return web.Response(status=503, text="telegram unreachable, retry later")
    return web.Response()


def build_application(rt: Runtime, bot: Bot, *, polling: bool = False) -> TelegramApp:
    """The Application with every handler; with ``polling``, also its getUpdates Updater."""
    builder = ApplicationBuilder().bot(bot).job_queue(None)
    if not polling:
        builder = builder.updater(None)
    application: TelegramApp = builder.build()
    TelegramListeners(TelegramActors(rt)).register(application)
    return application


async def _webhook(app: web.Application, *, settings: TelegramSettings) -> AsyncIterator[None]:
    session = aiohttp.ClientSession()
    bot = make_bot(
        settings.bot_token, str(settings.api_base_url), session, timeout_s=CALL_TIMEOUT_S
    )
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    inbound = TelegramInbound(build_application(app[RUNTIME], bot), secret)
    app[TELEGRAM] = inbound
    public = app[RUNTIME].settings.server.public_url
    registering = None
    if public and secret:
        registering = asyncio.create_task(
            _set_webhook(inbound, f"{public.rstrip('/')}{PATH}", secret), name="telegram-webhook"
        )
    else:
        log.info("telegram: server.public_url is not set, so setWebhook is left to you (%s)", PATH)
    yield
    if registering is not None:
        registering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await registering
    await inbound.close()
    await session.close()


async def _set_webhook(inbound: TelegramInbound, url: str, secret: str) -> None:
    """Point Telegram at this gateway (idempotent: Telegram keeps one webhook per bot)."""
    try:
        await inbound.ready()
        await call(
            inbound.application.bot.set_webhook(
                url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)
            )
        )
    except PlatformError as exc:
        log.warning("telegram setWebhook to %s failed: %s", url, exc)
        return
    log.info("telegram webhook set to %s", url)
