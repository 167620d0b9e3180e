"""python-telegram-bot's ``Bot`` speaking over an aiohttp session that someone else owns.

PTB's own ``HTTPXRequest`` opens an httpx client that must be shut down by whoever made it;
the outbox hands its senders an aiohttp session and closes it itself, and the inbound side
owns one per app. ``BaseRequest`` is PTB's documented place for another HTTP library, so the
Bot gets one small implementation over that session and the session's owner closes it.
"""

from __future__ import annotations

import aiohttp
from pydantic import SecretStr
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# getUpdates waits this long for updates (long polling); its read timeout allows for it.
POLL_TIMEOUT_S = 25


class AiohttpRequest(BaseRequest):
    """Bot API requests over ``session``, with a default timeout per phase.

    aiohttp has no write timeout of its own: it is folded into the request's total. The
    session is never closed here (``shutdown`` is a no-op): its owner closes it.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        write_timeout_s: float = 5.0,
        pool_timeout_s: float = 1.0,
    ) -> None:
        self._session = session
        self._connect_s = connect_timeout_s
        self._read_s = read_timeout_s
        self._write_s = write_timeout_s
        self._pool_s = pool_timeout_s

    @property
    def read_timeout(self) -> float:
        """The default read timeout; PTB adds a long poll's ``timeout`` to it."""
        return self._read_s

    async def initialize(self) -> None:
        """Nothing to open: the session exists already."""

    async def shutdown(self) -> None:
        """Nothing to close: the session belongs to whoever passed it in."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP request; the status and body, or TimedOut / NetworkError."""
        if request_data is not None and request_data.multipart_data:
            # ackgate sends text only; an upload would need a multipart body.
            raise NetworkError("file uploads are not supported by this transport")
        read_s = _seconds(read_timeout, self._read_s)
        connect_s = _seconds(connect_timeout, self._connect_s)
        pool_s = _seconds(pool_timeout, self._pool_s)
        write_s = _seconds(write_timeout, self._write_s)
        phases = (connect_s, pool_s, write_s, read_s)
        timeout = aiohttp.ClientTimeout(
            total=None if None in phases else sum(p for p in phases if p is not None),
            connect=None if connect_s is None or pool_s is None else connect_s + pool_s,
            sock_connect=connect_s,
            sock_read=read_s,
        )
        form = request_data.json_parameters if request_data is not None else None
        try:
            async with self._session.request(
                method, url, data=form or None, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are asyncio.TimeoutError subclasses
            raise TimedOut(f"no answer from the Bot API in time: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _seconds(value: object, default: float) -> float | None:
    """A timeout PTB passed: its default marker, None (wait forever) or seconds."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"timeout must be seconds or None, got {value!r}")


def make_bot(
    token: SecretStr,
    api_base_url: str,
    session: aiohttp.ClientSession,
    *,
    timeout_s: float,
) -> Bot:
    """A Bot calling ``<api_base_url>/bot<token>/<method>`` through ``session``.

    Every call but getUpdates gets ``timeout_s`` to read its answer; getUpdates gets
    ``timeout_s`` on top of the long poll's own wait (PTB adds it).
    """
    calls = AiohttpRequest(session, read_timeout_s=timeout_s, write_timeout_s=timeout_s)
    updates = AiohttpRequest(session, read_timeout_s=timeout_s, write_timeout_s=timeout_s)
    return Bot(
        token.get_secret_value(),
        base_url=f"{api_base_url.rstrip('/')}/bot",
        request=calls,
        get_updates_request=updates,
    )
