"""DingTalk Stream mode: the websocket the gateway opens to DingTalk (no public URL needed),
speaking the Stream protocol's small frame format itself.

``POST /v1.0/gateway/connections/open`` (client id and secret, the topics wanted) gives an
endpoint and a ticket; the websocket at ``endpoint?ticket=…`` then carries JSON frames
``{specVersion, type, headers{messageId, topic, …}, data: "<json>"}``. Every frame is
answered with ``{code, headers{messageId, contentType}, message, data: "<json>"}``: a SYSTEM
``ping`` with its own ``data`` echoed, a CALLBACK with ``{"response": …}``. A SYSTEM
``disconnect`` (or a dropped connection) means: open a new one. Callbacks not answered are
delivered again, so handlers dedupe.

dingtalk-stream is not used: its client makes blocking HTTP calls on the event loop, reads
its host from the environment at import, probes 8.8.8.8 for an IP and swallows the first
cancellation. One replica at a time holds the connection (``gateway.leader``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from adapters.dingtalk.api import DingtalkApi
from adapters.dingtalk.handlers import CARD_TOPIC, CHATBOT_TOPIC, HANDLERS, DingtalkHandlers
from gateway.config import DingtalkSettings
from gateway.domain import JSONObject
from gateway.errors import MalformedPayload, PlatformError
from gateway.leader import run_as_single
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

LOCK_NAME = "dingtalk-stream"
SUBSCRIPTIONS = (
    {"type": "CALLBACK", "topic": CHATBOT_TOPIC},
    {"type": "CALLBACK", "topic": CARD_TOPIC},
)
RETRY_MIN_S = 1.0
RETRY_MAX_S = 60.0
OPEN_TIMEOUT_S = 10.0  # the websocket handshake
HEARTBEAT_S = 30.0  # websocket pings; a connection that stops answering is dropped
CALL_TIMEOUT_S = 3.0  # API calls made while a click waits for its answer
CONTENT_TYPE = "application/json"
OK, BAD_REQUEST, NOT_FOUND, FAILED = 200, 400, 404, 500


class StreamConnection:
    """Keeps one Stream websocket open and answers every frame; ``run`` until cancelled."""

    def __init__(
        self,
        api: DingtalkApi,
        handlers: DingtalkHandlers,
        session: aiohttp.ClientSession,
        *,
        retry_min_s: float = RETRY_MIN_S,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        self.api = api
        self.handlers = handlers
        self._session = session
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()  # set while a websocket is open

    async def run(self) -> None:
        """Connect, serve, reconnect: at once after a connection that carried frames, with
        growing waits after failures. Returns only by being cancelled."""
        delay_s = self._retry_min_s
        while True:
            try:
                opened = await self.api.open_connection(SUBSCRIPTIONS)
                served = await self._serve(str(opened["endpoint"]), str(opened["ticket"]))
            except (PlatformError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("dingtalk stream: %s; connecting again in %.0fs", exc, delay_s)
            else:
                if served:
                    delay_s = self._retry_min_s
                    continue
                log.warning("dingtalk stream closed at once; connecting again in %.0fs", delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, self._retry_max_s)

    async def close(self) -> None:
        """Cancel the answers still being worked on (their frames will be delivered again)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, endpoint: str, ticket: str) -> bool:
        """One websocket until it closes; whether any frame came through it."""
        url = URL(endpoint).update_query(ticket=ticket)
        async with asyncio.timeout(OPEN_TIMEOUT_S):
            ws = await self._session.ws_connect(url, heartbeat=HEARTBEAT_S, autoping=True)
        served = False
        self.connected.set()
        log.info("dingtalk stream connected")
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                served = True
                if await self._receive(ws, msg.data):
                    log.info("dingtalk stream: DingTalk asked to reconnect")
                    break
        finally:
            self.connected.clear()
            await ws.close()
        return served

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse, raw: str) -> bool:
        """Answer one frame (callbacks in the background); whether to reconnect now."""
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("dingtalk stream: a frame that is not JSON was ignored")
            return False
        if not isinstance(frame, dict):
            log.warning("dingtalk stream: a frame that is not an object was ignored")
            return False
        headers = _obj(frame.get("headers"))
        message_id, topic = headers.get("messageId"), headers.get("topic")
        if not isinstance(message_id, str) or not message_id:
            log.warning("dingtalk stream: a %s frame without messageId was ignored", topic)
            return False
        kind = frame.get("type")
        if kind == "CALLBACK":
            task = asyncio.create_task(
                self._callback(ws, message_id, str(topic), frame.get("data")),
                name=f"dingtalk-frame-{message_id}",
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return False
        # A SYSTEM ping is answered with its own data (the "opaque" DingTalk checks).
        data = frame.get("data") if kind == "SYSTEM" else None
        await self._send(ws, _ack(message_id, OK, "OK", data if isinstance(data, str) else "{}"))
        return kind == "SYSTEM" and topic == "disconnect"

    async def _callback(
        self, ws: aiohttp.ClientWebSocketResponse, message_id: str, topic: str, raw: object
    ) -> None:
        """Run one callback through its handler and answer it; a bad one never ends the stream.

        This is the stream's error boundary: an unexpected error is logged once and answered
        as a failure, so DingTalk delivers the callback again later.
        """
        code, said, response = OK, "OK", None
        try:
            if topic in (CARD_TOPIC, CHATBOT_TOPIC):
                response = await self._dispatch(message_id, topic, raw)
            else:
                code, said = NOT_FOUND, f"no handler for topic {topic!r}"
        except MalformedPayload as exc:
            log.warning("dingtalk stream: callback %s refused: %s", message_id, exc)
            code, said = BAD_REQUEST, str(exc)
        except Exception:  # the boundary: logged once, answered as failed
            log.exception("dingtalk stream: callback %s on %s failed", message_id, topic)
            code, said = FAILED, "failed"
        data = json.dumps({"response": response}, ensure_ascii=False)
        await self._send(ws, _ack(message_id, code, said, data))

    async def _dispatch(self, message_id: str, topic: str, raw: object) -> JSONObject | None:
        try:
            data = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise MalformedPayload("must be a JSON object", "data")
        if topic == CARD_TOPIC:
            return await self.handlers.card_callback(data, f"card:{message_id}")
        self.handlers.chatbot_message(data)
        return None

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, doc: JSONObject) -> None:
        """One answer frame; a connection that closed meanwhile loses it (DingTalk resends)."""
        async with self._send_lock:
            if ws.closed:
                log.info("dingtalk stream: closed before %s was answered", _id(doc))
                return
            try:
                await ws.send_str(json.dumps(doc, ensure_ascii=False))
            except (ConnectionError, aiohttp.ClientError) as exc:
                log.info("dingtalk stream: answer to %s lost: %s", _id(doc), exc)


STREAM = web.AppKey("dingtalk_stream", StreamConnection)


def _ack(message_id: str, code: int, message: str, data: str) -> JSONObject:
    return {
        "code": code,
        "headers": {"messageId": message_id, "contentType": CONTENT_TYPE},
        "message": message,
        "data": data,
    }


def _id(doc: JSONObject) -> object:
    return _obj(doc.get("headers")).get("messageId")


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


async def stream(app: web.Application, *, settings: DingtalkSettings) -> AsyncIterator[None]:
    """A cleanup_ctx: the Stream connection in the background while the app runs.

    Started in the background, so the gateway comes up even while DingTalk is unreachable;
    DingTalk spreads a topic's frames over an app's connections, so one replica at a time
    holds one (the others wait for its lock).
    """
    rt = app[RUNTIME]
    # No session-wide timeout: the websocket lives for hours; each call sets its own.
    session = aiohttp.ClientSession()
    api = DingtalkApi(settings, session, timeout_s=CALL_TIMEOUT_S)
    handlers = DingtalkHandlers(rt, settings, api)
    connection = StreamConnection(api, handlers, session)
    app[HANDLERS] = handlers
    app[STREAM] = connection
    task = asyncio.create_task(run_as_single(rt, LOCK_NAME, connection.run), name=LOCK_NAME)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await connection.close()
    await handlers.close()
    await session.close()


def add_stream(app: web.Application, settings: DingtalkSettings) -> None:
    """Register the Stream connection with ``app``'s startup and shutdown."""
    app.cleanup_ctx.append(partial(stream, settings=settings))
