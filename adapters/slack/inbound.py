"""``POST /hooks/slack``: everything Slack sends (interactivity, slash command, events) goes
through one Bolt AsyncApp, which checks the signature and its 5-minute timestamp first."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.acting import SlackActors
from adapters.slack.listeners import SlackListeners
from adapters.slack.socket import SocketMode
from gateway.config import SlackSettings
from gateway.errors import MalformedPayload
from gateway.runtime import Runtime
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/slack"
# Slack shows an error after 3 s; calls made while it waits (views.open, users.info, an
# ephemeral answer) must leave room for the rest of the request.
CALL_TIMEOUT_S = 2.0

BOLT = web.AppKey("slack_bolt", AsyncApp)


def add_routes(app: web.Application, settings: SlackSettings) -> None:
    """Register ``POST /hooks/slack``; the Bolt app is built when ``app`` starts.

    With an app-level token, the same Bolt app also gets a Socket Mode connection.
    """
    app.cleanup_ctx.append(partial(_bolt_app, settings=settings))
    if settings.app_token is not None:
        app.cleanup_ctx.append(partial(_socket_mode, settings=settings))
    app.router.add_post(PATH, handle)


async def handle(request: web.Request) -> web.Response:
    """Hand the request to Bolt and its answer back to aiohttp."""
    bolt = request.app[BOLT]
    try:
        incoming = await to_bolt_request(request)
        # Bolt decodes (UTF-8, JSON) and reads the payload's shape before it checks the
        # signature: a body it cannot even read (``payload=1.5``) is not from Slack. After
        # the check, a payload of another shape fails in Bolt's matchers (see ``_failed``).
        answer = await bolt.async_dispatch(incoming)
    except _UNREADABLE:
        raise MalformedPayload("not a Slack request body") from None
    return await to_aiohttp_response(answer)


def build_bolt(rt: Runtime, settings: SlackSettings, session: aiohttp.ClientSession) -> AsyncApp:
    """The Bolt app with every listener, calling Slack through ``session``."""
    client = AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=str(settings.api_base_url),
        session=session,
        timeout=int(CALL_TIMEOUT_S),
        retry_handlers=[],  # nothing is retried while Slack waits for our answer
    )
    bolt = AsyncApp(
        client=client,
        signing_secret=settings.signing_secret.get_secret_value(),
        process_before_response=True,  # the HTTP answer carries the action's result
        name="ackgate",
        logger=logging.getLogger("adapters.slack.bolt"),
    )
    SlackListeners(SlackActors(rt, settings)).register(bolt)
    bolt.error(_failed)
    return bolt


# What reading a payload of the wrong shape raises (in Bolt's matchers or in our listeners).
_UNREADABLE = (KeyError, IndexError, TypeError, AttributeError, ValueError, MalformedPayload)


async def _failed(error: Exception) -> BoltResponse | None:
    """Bolt's error handler: a signed body that is not shaped as Slack's is a 400, anything
    else stays Bolt's 500 (logged here once, with its traceback). Bolt reads the payload
    again to call it; a payload it cannot read fails there, and ``handle`` answers 400."""
    if isinstance(error, _UNREADABLE):
        log.warning("slack request not understood: %s: %s", type(error).__name__, error)
        return BoltResponse(status=400, body="not a payload Slack sends")
    log.error("slack listener failed", exc_info=error)
    return None


async def _bolt_app(app: web.Application, *, settings: SlackSettings) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S))
    app[BOLT] = build_bolt(app[RUNTIME], settings, session)
    yield
    await session.close()


async def _socket_mode(app: web.Application, *, settings: SlackSettings) -> AsyncIterator[None]:
    """Connect (in the background) after the Bolt app is built; close before it goes."""
    assert settings.app_token is not None
    socket = SocketMode(
        app[BOLT], settings.app_token.get_secret_value(), str(settings.api_base_url)
    )
    socket.start()
    yield
    await socket.stop()
