"""Slack Socket Mode: for gateways without a public URL, Slack delivers the same interactivity,
slash commands and events over a websocket the gateway opens with the app-level token.

Every envelope goes to the very AsyncApp that serves ``POST /hooks/slack``; its answer goes
back as the envelope's acknowledgement. Signatures do not apply here (Bolt skips the check
for ``socket_mode`` requests): the ``xapp-`` token authenticates the connection itself.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# How often the connection is pinged, and how long a failed connect waits before retrying.
PING_INTERVAL_S = 10.0
# ``apps.connections.open`` is not answering a waiting user: a longer timeout is fine.
OPEN_TIMEOUT_S = 10


class SocketMode:
    """One Socket Mode connection for ``bolt``; ``start`` returns at once, ``stop`` closes it."""

    def __init__(self, bolt: AsyncApp, app_token: str, api_base_url: str) -> None:
        web_client = AsyncWebClient(token=app_token, base_url=api_base_url, timeout=OPEN_TIMEOUT_S)
        self.handler = AsyncSocketModeHandler(
            bolt,
            app_token,
            logger=logging.getLogger("adapters.slack.socket_mode"),
            web_client=web_client,
            ping_interval=PING_INTERVAL_S,
        )
        self._connecting: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Connect in the background: the SDK logs failures and retries until it is connected."""
        self._connecting = asyncio.create_task(self._connect(), name="slack-socket-mode")

    async def stop(self) -> None:
        """Stop connecting (if still trying), then close the connection and its session."""
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.wait([self._connecting])  # its own cancellation is not ours
            self._connecting = None
        try:
            await self.handler.close_async()  # type: ignore[no-untyped-call]
        except Exception:
            log.exception("closing the Slack Socket Mode connection failed")

    async def _connect(self) -> None:
        try:
            await self.handler.connect_async()  # type: ignore[no-untyped-call]
        except Exception:  # the SDK retries by itself; anything escaping it must not crash us
            log.exception("the Slack Socket Mode connection could not be opened")
        else:
            log.info("Slack Socket Mode connected")
