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
    except ValueError:
        # Bolt decodes (UTF-8, JSON) before it checks the signature: a body it cannot even
        # read is not from Slack.
        raise MalformedPayload("not a Slack request body") from None
    return await to_aiohttp_response(await bolt.async_dispatch(incoming))


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
    return bolt


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
