"""``mode = "polling"``: getUpdates long polling in the background, for gateways Telegram
cannot reach; updates go through the same Application and handlers as the webhook's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from telegram.error import InvalidToken, TelegramError

from adapters.telegram.inbound import CALL_TIMEOUT_S, build_application
from adapters.telegram.listeners import ALLOWED_UPDATES, TelegramApp
from adapters.telegram.transport import POLL_TIMEOUT_S, make_bot
from gateway.config import TelegramSettings
from gateway.leader import run_as_single
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0


async def polling(app: web.Application, *, settings: TelegramSettings) -> AsyncIterator[None]:
    """A cleanup_ctx: start polling in the background, stop it (and the Application) after."""
    session = aiohttp.ClientSession()
    bot = make_bot(
        settings.bot_token, str(settings.api_base_url), session, timeout_s=CALL_TIMEOUT_S
    )
    rt = app[RUNTIME]
    application = build_application(rt, bot, polling=True)
    # Started in the background, so the gateway comes up even while Telegram is unreachable;
    # Telegram serves getUpdates to one poller only, so one replica at a time polls.
    task = asyncio.create_task(
        run_as_single(rt, "telegram-polling", lambda: _held(application)),
        name="telegram-polling",
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await session.close()


async def _held(application: TelegramApp) -> None:
    """Poll while this replica holds the polling lock; stop when it is taken away."""
    try:
        await start(application)
        await asyncio.Event().wait()
    finally:
        await stop(application)


async def start(application: TelegramApp) -> None:
    """``getMe`` (retried until Telegram answers), then deleteWebhook and the getUpdates loop.

    PTB's Updater removes any webhook first (getUpdates refuses to work while one is set),
    retries failed polls itself, and queues updates for ``Application.start`` to process.
    """
    delay_s = RETRY_MIN_S
    while True:
        try:
            await application.initialize()
            break
        except InvalidToken:
            log.exception("telegram polling not started: the bot token was refused")
            return
        except TelegramError as exc:
            log.warning("telegram unreachable (%s); trying again in %.0fs", exc, delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, RETRY_MAX_S)
    updater = application.updater
    assert updater is not None, "built with polling=True"
    await updater.start_polling(
        timeout=POLL_TIMEOUT_S,
        bootstrap_retries=-1,  # keep trying deleteWebhook until it works
        allowed_updates=list(ALLOWED_UPDATES),
        drop_pending_updates=False,  # what people pressed while we were down still counts
    )
    await application.start()
    log.info("telegram polling started")


async def stop(application: TelegramApp) -> None:
    """Stop polling, then processing; each only if it got that far."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
