"""Feishu/Lark's long connection (``mode = "long_connection"``): the websocket the gateway opens
to Lark, so events and card callbacks arrive without a public URL.

``POST {api}/callback/ws/endpoint`` with the app id and secret gives the websocket's URL
(carrying ``device_id`` and ``service_id``) and a ``ClientConfig`` (ping interval and
reconnect advice, in seconds). The websocket carries protobuf frames (``adapters.lark.frames``):
DATA frames of type ``event`` (card.action.trigger among them) whose payload is the event's
plaintext JSON, split into ``sum`` parts when large, each answered on the same frame with the
payload ``{"code": 200, "data": base64(json(answer))}`` and a ``biz_rt`` header; CONTROL
frames: the client's ``ping`` every ping interval, Lark's ``pong`` (maybe with a new
ClientConfig). Lark checked who we are when the connection opened, so events are not signed.

Events go through ``LarkInbound.dispatch``, as the webhook's do: the same dedupe, the same
click answers and text commands. lark-oapi's ``ws.Client`` is not used: its ``start()``
blocks forever on a loop captured at import, fetches the endpoint with blocking HTTP and runs
handlers synchronously. One replica at a time holds the connection (``gateway.leader``):
Lark hands each event to one of an app's connections, and only one replica needs it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from adapters.lark import frames
from adapters.lark.api import LarkApi
from adapters.lark.frames import BIZ_RT, CONTROL, DATA, MESSAGE_ID, SEQ, SUM, TYPE, Frame
from adapters.lark.inbound import LARK, LarkInbound
from gateway.config import LarkSettings
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, MalformedPayload, PlatformError, Unavailable
from gateway.leader import run_as_single
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

LOCK_NAME = "lark-long-connection"
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0  # also the wait after Lark refused the app: a config fix takes a while
OPEN_TIMEOUT_S = 10.0  # the endpoint call, and the websocket handshake
HEARTBEAT_S = 30.0  # websocket pings; a connection that stops answering is dropped
PING_MIN_S = 5.0  # the fastest ping a ClientConfig can ask for
RECONNECT_JITTER_MAX_S = 2.0  # at most this long between a dropped connection and the next
OK, FAILED = 200, 500  # the answer's ``code``, as lark-oapi sends them
# A failed handshake says why in these headers; these statuses mean "not this app".
HANDSHAKE_STATUS, HANDSHAKE_MSG = "handshake-status", "handshake-msg"
HANDSHAKE_REFUSED = frozenset({"403", "514"})


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What Lark asks of its client (lark-oapi's defaults until it says otherwise)."""

    ping_interval_s: float = 120.0
    reconnect_nonce_s: float = 30.0  # reconnect after a random wait up to this long

    def updated(self, doc: object) -> ClientConfig:
        """With what ``doc`` (a ``ClientConfig`` from Lark) says; odd values are ignored."""
        if not isinstance(doc, Mapping):
            return self
        ping, nonce = _seconds(doc.get("PingInterval")), _seconds(doc.get("ReconnectNonce"))
        found = self
        if ping is not None and ping > 0:
            found = replace(found, ping_interval_s=ping)
        if nonce is not None:
            found = replace(found, reconnect_nonce_s=nonce)
        return found


class LongConnection:
    """Keeps one long connection open and answers every event; ``run`` until cancelled."""

    def __init__(
        self,
        api: LarkApi,
        inbound: LarkInbound,
        session: aiohttp.ClientSession,
        *,
        retry_min_s: float = RETRY_MIN_S,
        retry_max_s: float = RETRY_MAX_S,
        ping_min_s: float = PING_MIN_S,
    ) -> None:
        self.api = api
        self.inbound = inbound
        self.config = ClientConfig()
        self._session = session
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._ping_min_s = ping_min_s
        self._parts = frames.Parts()
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()  # set while a websocket is open

    async def run(self) -> None:
        """Connect, serve, reconnect: soon after a connection that carried frames, with
        growing waits after failures. Returns only by being cancelled.

        This is the connection's error boundary: whatever goes wrong is logged and the
        connection tried again, so Lark's events never stop for good while the app runs.
        """
        delay_s = self._retry_min_s
        while True:
            try:
                served = await self._serve(*await self._open())
            except AuthFailed as exc:
                log.error(  # noqa: TRY400 - Lark's answer is the reason; no traceback helps
                    "lark long connection refused: %s. Check lark.app_id and lark.app_secret, "
                    "and in the developer console that the app is a self-built app whose "
                    "events and callbacks are received through the persistent connection; "
                    "trying again in %.0fs",
                    exc,
                    self._retry_max_s,
                )
                delay_s = self._retry_max_s
            except (PlatformError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("lark long connection: %s; connecting again in %.0fs", exc, delay_s)
            except Exception:  # the boundary: logged once, then connected again
                log.exception("lark long connection failed; connecting again in %.0fs", delay_s)
            else:
                if served:
                    delay_s = self._retry_min_s
                    # Lark advises a random wait of up to ReconnectNonce (often 30 s) so that
                    # an app's many clients do not all come back at once. Here one replica
                    # holds the app's only client, and a click made while it is away is lost:
                    # a short jitter is enough.
                    nonce_s = min(self.config.reconnect_nonce_s, RECONNECT_JITTER_MAX_S)
                    wait_s = random.uniform(0, nonce_s)  # noqa: S311 - jitter, not a secret
                    log.info("lark long connection closed; connecting again in %.1fs", wait_s)
                    await asyncio.sleep(wait_s)
                    continue
                log.warning("lark long connection closed at once; again in %.0fs", delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self._retry_max_s)

    async def close(self) -> None:
        """Cancel the events still being answered (Lark pushes an unanswered event again)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _open(self) -> tuple[URL, int]:
        """Ask Lark where to connect: the websocket's URL and the service id pings carry."""
        data = await self.api.ws_endpoint()
        raw = data.get("URL")
        if not isinstance(raw, str) or not raw:
            raise Unavailable("lark callback/ws/endpoint answered without a URL")
        url = URL(raw, encoded=True)
        try:
            service_id = int(url.query.get("service_id", ""))
        except ValueError:
            raise Unavailable("lark's long connection URL has no service_id") from None
        self.config = self.config.updated(data.get("ClientConfig"))
        return url, service_id

    async def _serve(self, url: URL, service_id: int) -> bool:
        """One websocket until it closes; whether any frame came through it."""
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                ws = await self._session.ws_connect(url, heartbeat=HEARTBEAT_S, autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            raise _handshake_error(exc) from None  # its text holds the URL, with its ticket
        served = False
        self.connected.set()
        log.info("lark long connection open (device %s)", url.query.get("device_id", "?"))
        pinger = asyncio.create_task(self._ping(ws, service_id), name="lark-long-connection-ping")
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.BINARY:
                    served = True
                    self._receive(ws, msg.data)
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    log.info("lark long connection: %s", ws.exception())
                    break
        finally:
            self.connected.clear()
            pinger.cancel()
            try:
                await ws.close()
            finally:
                await asyncio.wait({pinger})
        return served

    async def _ping(self, ws: aiohttp.ClientWebSocketResponse, service_id: int) -> None:
        """A CONTROL ping now and every ping interval (Lark's pong may change the interval)."""
        ping = Frame(service=service_id, method=CONTROL, headers=((TYPE, "ping"),))
        while True:
            await self._send(ws, ping)
            await asyncio.sleep(max(self.config.ping_interval_s, self._ping_min_s))

    def _receive(self, ws: aiohttp.ClientWebSocketResponse, raw: bytes) -> None:
        """Take one frame: a pong's config is kept, an event is answered in the background."""
        try:
            frame = frames.decode(raw)
        except MalformedPayload as exc:
            log.warning("lark long connection: a frame was ignored: %s", exc)
            return
        kind = frame.header(TYPE)
        if frame.method == CONTROL:
            if kind == "pong" and frame.payload:
                self.config = self.config.updated(_json_or_none(frame.payload))
            return  # Lark's own pings need no answer (lark-oapi sends none)
        if frame.method != DATA:
            return
        payload = self._whole(frame)
        if payload is None:
            return
        if kind != "event":
            # "card" frames carry the legacy card callback, which ackgate does not take.
            log.debug("lark long connection: a %s frame was ignored", kind)
            return
        message_id = frame.header(MESSAGE_ID) or "?"
        task = asyncio.create_task(
            self._answer(ws, frame, payload), name=f"lark-long-connection-{message_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _whole(self, frame: Frame) -> bytes | None:
        """The frame's payload, or the whole payload once its last part is in (else None)."""
        part = frame.payload or b""
        try:
            total, seq = int(frame.header(SUM) or 1), int(frame.header(SEQ) or 0)
        except ValueError:
            total, seq = 0, 0
        if total == 1 and seq == 0:
            return part
        message_id = frame.header(MESSAGE_ID)
        if not message_id or not 1 <= total <= frames.PARTS_MAX or not 0 <= seq < total:
            log.warning("lark long connection: a frame with part %s of %s was ignored", seq, total)
            return None
        return self._parts.add(message_id, total, seq, part)

    async def _answer(
        self, ws: aiohttp.ClientWebSocketResponse, frame: Frame, payload: bytes
    ) -> None:
        """Hand one event to the inbound handling and send its answer on the same frame.

        A bad event never ends the connection: it is logged and answered as failed.
        """
        started = time.monotonic()
        message_id = frame.header(MESSAGE_ID)
        code, answer = OK, None
        try:
            answer = await self.inbound.dispatch(_event(payload))
        except MalformedPayload as exc:
            log.warning("lark long connection: event %s refused: %s", message_id, exc)
            code = FAILED
        except Exception:  # the boundary: logged once, answered as failed
            log.exception("lark long connection: event %s failed", message_id)
            code = FAILED
        body: JSONObject = {"code": code}
        if answer is not None:
            data = json.dumps(answer, ensure_ascii=False).encode()
            body["data"] = base64.b64encode(data).decode()
        took_ms = str(int((time.monotonic() - started) * 1000))
        await self._send(ws, frame.answer(json.dumps(body).encode(), (BIZ_RT, took_ms)))

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, frame: Frame) -> None:
        """One frame; a connection that closed meanwhile loses it (Lark pushes events again)."""
        async with self._send_lock:
            if ws.closed:
                log.info("lark long connection closed before a %s was sent", frame.header(TYPE))
                return
            try:
                await ws.send_bytes(frames.encode(frame))
            except (ConnectionError, aiohttp.ClientError) as exc:
                log.info("lark long connection: a %s was lost: %s", frame.header(TYPE), exc)


LONG_CONNECTION = web.AppKey("lark_long_connection", LongConnection)


async def long_connection(app: web.Application, *, settings: LarkSettings) -> AsyncIterator[None]:
    """A cleanup_ctx: the long connection in the background while the app runs.

    Started in the background, so the gateway comes up even while Lark is unreachable; one
    replica at a time holds it (the others wait for its lock). Needs ``app[LARK]``, made by
    the inbound context registered before this one (and closed after it).
    """
    # No session-wide timeout: the websocket lives for hours; each call sets its own.
    session = aiohttp.ClientSession()
    api = LarkApi(settings, session, timeout_s=OPEN_TIMEOUT_S)
    connection = LongConnection(api, app[LARK], session)
    app[LONG_CONNECTION] = connection
    task = asyncio.create_task(
        run_as_single(app[RUNTIME], LOCK_NAME, connection.run), name=LOCK_NAME
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await connection.close()
    await session.close()


def add_long_connection(app: web.Application, settings: LarkSettings) -> None:
    """Register the long connection with ``app``'s startup and shutdown."""
    app.cleanup_ctx.append(partial(long_connection, settings=settings))


def _handshake_error(exc: aiohttp.WSServerHandshakeError) -> PlatformError:
    headers: Mapping[str, str] = exc.headers or {}
    status = headers.get(HANDSHAKE_STATUS) or str(exc.status)
    said = headers.get(HANDSHAKE_MSG) or exc.message
    text = f"lark long connection handshake answered {status}: {said}"
    return AuthFailed(text) if status in HANDSHAKE_REFUSED else Unavailable(text)


def _event(payload: bytes) -> JSONObject:
    doc = _json_or_none(payload)
    if not isinstance(doc, dict):
        raise MalformedPayload("is not a JSON object", "payload")
    return doc


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _seconds(value: object) -> float | None:
    """A ClientConfig duration: a number of seconds, not negative; else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
