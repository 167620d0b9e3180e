"""A fake Feishu/Lark long-connection gateway, added to a FakeLark's app (same base URL).

``POST /callback/ws/endpoint`` checks ``AppID``/``AppSecret`` and answers
``{code, msg, data{URL, ClientConfig}}`` with a loopback ``ws://…/callback/ws?device_id=…
&service_id=…&ticket=…`` (a ticket opens one connection, as Lark's does); the websocket speaks
protobuf ``pbbp2.Frame``: it answers the client's ping with a pong (carrying a ClientConfig
when told to), pushes DATA frames of type ``event`` (split into ``sum`` parts when asked) and
records the answer to each, by message id. It can refuse the app (a non-zero ``code``, as
for a wrong secret) and drop the connection.

The frames are written and read here with a second, minimal protobuf codec rather than
``adapters.lark.frames``, so a mistake in one is not hidden by the same mistake in the other.
Error codes: 514 (auth failed) is from lark-oapi's constants; 10014 and the wordings are
modelled on the tenant-token API's.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.lark import FakeLark

ENDPOINT_PATH = "/callback/ws/endpoint"
WS_PATH = "/callback/ws"
SERVICE_ID = 7
CODE_BAD_SECRET = 10014
CONTROL, DATA = 0, 1


@dataclass
class Frame:
    """A pbbp2.Frame as the fake builds and reads it."""

    seq_id: int = 0
    log_id: int = 0
    service: int = 0
    method: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload: bytes | None = None

    def header(self, key: str) -> str | None:
        return next((v for k, v in self.headers if k == key), None)

    def to_bytes(self) -> bytes:
        out = b""
        for number, value in enumerate((self.seq_id, self.log_id, self.service, self.method), 1):
            out += _key(number, 0) + _varint(value)
        for key, text in self.headers:
            inner = _key(1, 2) + _blob(key.encode()) + _key(2, 2) + _blob(text.encode())
            out += _key(5, 2) + _blob(inner)
        if self.payload is not None:
            out += _key(8, 2) + _blob(self.payload)
        return out

    @classmethod
    def parse(cls, raw: bytes) -> Frame:
        frame = cls()
        for number, value in _read(raw):
            if number in (1, 2, 3, 4):
                assert isinstance(value, int)
                name = ("seq_id", "log_id", "service", "method")[number - 1]
                setattr(frame, name, value)
            elif number == 5:
                assert isinstance(value, bytes)
                pair = dict(_read(value))
                assert isinstance(pair[1], bytes)
                assert isinstance(pair[2], bytes)
                frame.headers.append((pair[1].decode(), pair[2].decode()))
            elif number == 8:
                assert isinstance(value, bytes)
                frame.payload = value
        return frame


@dataclass(frozen=True)
class Answer:
    """The client's answer to one pushed event."""

    frame: Frame
    code: int
    data: dict[str, Any] | None  # ``data`` base64-decoded and parsed; None when absent


class FakeLarkWs:
    """Lark's long-connection gateway for the app of ``lark``."""

    def __init__(
        self,
        lark: FakeLark,
        *,
        ping_interval_s: float = 120,
        reconnect_nonce_s: float = 0,
    ) -> None:
        self.lark = lark
        self.client_config: dict[str, Any] = {
            "PingInterval": ping_interval_s,
            "ReconnectCount": -1,
            "ReconnectInterval": 1,
            "ReconnectNonce": reconnect_nonce_s,
        }
        self.pong_config: dict[str, Any] | None = None  # sent with every pong when set
        self.endpoint_calls: list[Any] = []
        self.connections = 0  # websockets accepted so far
        self.sockets_open = 0
        self.pings: list[Frame] = []
        self.answers: dict[str, list[Answer]] = {}  # message id → answers, in order
        self.unknown_frames: list[Frame] = []
        self._refusals: list[tuple[int, int, str]] = []
        self._tickets: set[str] = set()
        self._ws: web.WebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        lark.app.router.add_post(ENDPOINT_PATH, self._endpoint)
        lark.app.router.add_get(WS_PATH, self._websocket)
        lark.app.on_shutdown.append(self._hang_up)

    # --- for tests ----------------------------------------------------------------------

    def refuse_next(self, code: int = CODE_BAD_SECRET, *, status: int = 200, msg: str = "") -> None:
        """Answer the next endpoint call with ``code`` (and HTTP ``status``)."""
        self._refusals.append((status, code, msg or "app secret invalid"))

    @property
    def connected(self) -> bool:
        """Whether a client's websocket is open."""
        return self._ws is not None and not self._ws.closed

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; checked after every change the fake sees."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def push(
        self,
        doc: dict[str, Any],
        *,
        parts: int = 1,
        order: Iterator[int] | None = None,
        kind: str = "event",
    ) -> str:
        """Send ``doc`` as a DATA frame (or ``parts`` frames, sent in ``order``); its id."""
        message_id = f"msg-{next(self._ids)}"
        payload = json.dumps(doc, ensure_ascii=False).encode()
        size = -(-len(payload) // parts)
        chunks = [payload[i * size : (i + 1) * size] for i in range(parts)]
        for seq in order if order is not None else range(parts):
            await self.send(
                Frame(
                    seq_id=next(self._ids),
                    log_id=next(self._ids),
                    service=SERVICE_ID,
                    method=DATA,
                    headers=[
                        ("type", kind),
                        ("message_id", message_id),
                        ("trace_id", f"trace-{message_id}"),
                        ("sum", str(parts)),
                        ("seq", str(seq)),
                    ],
                    payload=chunks[seq],
                )
            )
        return message_id

    async def send(self, frame: Frame | bytes) -> None:
        """Send a frame (or raw bytes) over the open websocket."""
        if self._ws is None or self._ws.closed:
            raise AssertionError("no long connection is open")
        await self._ws.send_bytes(frame if isinstance(frame, bytes) else frame.to_bytes())

    async def answer(self, message_id: str) -> Answer:
        """The (first) answer to ``message_id``, once it came."""
        await self.wait_for(lambda: bool(self.answers.get(message_id)))
        return self.answers[message_id][0]

    async def drop(self) -> None:
        """Close the open connection, as Lark does now and then."""
        assert self._ws is not None
        await self._ws.close()

    # --- the gateway --------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.endpoint_calls.append(body)
        await self._notify()
        if self._refusals:
            status, code, msg = self._refusals.pop(0)
            return web.json_response({"code": code, "msg": msg, "data": {}}, status=status)
        if body.get("AppID") != self.lark.app_id or body.get("AppSecret") != self.lark.app_secret:
            return web.json_response({"code": CODE_BAD_SECRET, "msg": "app secret invalid"})
        n = next(self._ids)
        ticket = f"tk-{n}"
        self._tickets.add(ticket)
        base = self.lark.url.replace("http://", "ws://", 1)
        url = f"{base}{WS_PATH}?device_id=dev-{n}&service_id={SERVICE_ID}&ticket={ticket}"
        data = {"URL": url, "ClientConfig": self.client_config}
        return web.json_response({"code": 0, "msg": "ok", "data": data})

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets or request.query.get("service_id") != str(SERVICE_ID):
            return web.Response(
                status=403, headers={"handshake-status": "403", "handshake-msg": "bad ticket"}
            )
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        self.sockets_open += 1
        await self._notify()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.BINARY:
                    await self._received(ws, Frame.parse(msg.data))
        finally:
            self.sockets_open -= 1
            await self._notify()
        return ws

    async def _received(self, ws: web.WebSocketResponse, frame: Frame) -> None:
        kind = frame.header("type")
        if frame.method == CONTROL and kind == "ping":
            self.pings.append(frame)
            pong = Frame(service=frame.service, method=CONTROL, headers=[("type", "pong")])
            if self.pong_config is not None:
                pong.payload = json.dumps(self.pong_config).encode()
            await ws.send_bytes(pong.to_bytes())
        elif frame.method == DATA and frame.header("message_id"):
            doc = json.loads(frame.payload or b"{}")
            raw = doc.get("data")
            data = json.loads(base64.b64decode(raw)) if raw is not None else None
            answer = Answer(frame, int(doc["code"]), data)
            self.answers.setdefault(str(frame.header("message_id")), []).append(answer)
        else:
            self.unknown_frames.append(frame)
        await self._notify()

    async def _hang_up(self, _app: web.Application) -> None:
        if self._ws is not None:
            await self._ws.close()


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _blob(value: bytes) -> bytes:
    return _varint(len(value)) + value


def _read(raw: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        while True:
            byte = raw[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return result

    while pos < len(raw):
        key = varint()
        if key & 7 == 0:
            yield key >> 3, varint()
        elif key & 7 == 2:
            size = varint()
            yield key >> 3, raw[pos : pos + size]
            pos += size
        else:
            raise AssertionError(f"wire type {key & 7} in a pbbp2 frame")
