"""The long connection's wire format: protobuf ``pbbp2.Frame`` messages, read and written.

One message type, nine fields (proto2, from lark-oapi's ``pbbp2.proto``)::

    message Header { required string key = 1; required string value = 2; }
    message Frame {
      required uint64 SeqID = 1;  required uint64 LogID = 2;
      required int32 service = 3; required int32 method = 4;   // 0 CONTROL, 1 DATA
      repeated Header headers = 5;
      optional string payload_encoding = 6; optional string payload_type = 7;
      optional bytes payload = 8;  optional string LogIDNew = 9;
    }

Written out here rather than taken from lark-oapi (``lark_oapi.ws.pb.pbbp2_pb2``): ackgate
does not depend on lark-oapi (see ``adapters.lark.api``), and a protobuf runtime plus
generated code is a lot for one small message. The bytes are pinned by vectors that the
SDK's generated class produced (tests/adapters/lark/test_frames.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from gateway.errors import MalformedPayload

CONTROL = 0  # ``method`` of a ping or pong
DATA = 1  # ``method`` of an event (and a card callback) and of its answer

TYPE = "type"  # header: event, card, ping, pong
MESSAGE_ID = "message_id"
TRACE_ID = "trace_id"
SUM = "sum"  # how many frames one payload was split into
SEQ = "seq"  # which of them this is, from 0
BIZ_RT = "biz_rt"  # header of an answer: how long handling took, in milliseconds

PARTS_MAX = 64  # parts one payload may have; Lark splits only large payloads in a few
PARTS_TTL_S = 5.0
PARTS_PENDING_MAX = 100

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_U64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Frame:
    """One ``pbbp2.Frame``; an optional field that is ``None`` is absent on the wire."""

    seq_id: int = 0
    log_id: int = 0
    service: int = 0
    method: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    payload_encoding: str | None = None
    payload_type: str | None = None
    payload: bytes | None = None
    log_id_new: str | None = None

    def header(self, key: str) -> str | None:
        """The first header called ``key``, or None."""
        return next((v for k, v in self.headers if k == key), None)

    def answer(self, payload: bytes, *headers: tuple[str, str]) -> Frame:
        """This frame sent back with ``payload`` and ``headers`` added: how Lark is answered."""
        return replace(self, headers=self.headers + headers, payload=payload)


def encode(frame: Frame) -> bytes:
    """The frame's protobuf bytes, fields in number order (as protobuf writes them)."""
    out = bytearray()
    _field(out, 1, _VARINT, _varint(frame.seq_id & _U64))
    _field(out, 2, _VARINT, _varint(frame.log_id & _U64))
    _field(out, 3, _VARINT, _varint(frame.service & _U64))  # int32: negatives take 10 bytes
    _field(out, 4, _VARINT, _varint(frame.method & _U64))
    for key, value in frame.headers:
        header = bytearray()
        _bytes(header, 1, key.encode())
        _bytes(header, 2, value.encode())
        _bytes(out, 5, bytes(header))
    if frame.payload_encoding is not None:
        _bytes(out, 6, frame.payload_encoding.encode())
    if frame.payload_type is not None:
        _bytes(out, 7, frame.payload_type.encode())
    if frame.payload is not None:
        _bytes(out, 8, frame.payload)
    if frame.log_id_new is not None:
        _bytes(out, 9, frame.log_id_new.encode())
    return bytes(out)


def decode(raw: bytes) -> Frame:
    """The frame in ``raw``; unknown fields are skipped. Raises MalformedPayload."""
    ints = {1: 0, 2: 0, 3: 0, 4: 0}
    texts: dict[int, str] = {}
    headers: list[tuple[str, str]] = []
    payload: bytes | None = None
    for number, value in _fields(raw):
        if isinstance(value, int):
            if number in ints:
                ints[number] = value
        elif number == 5:
            headers.append(_header(value))
        elif number in (6, 7, 9):
            texts[number] = _text(value)
        elif number == 8:
            payload = value
    return Frame(
        seq_id=ints[1],
        log_id=ints[2],
        service=_int32(ints[3]),
        method=_int32(ints[4]),
        headers=tuple(headers),
        payload_encoding=texts.get(6),
        payload_type=texts.get(7),
        payload=payload,
        log_id_new=texts.get(9),
    )


def _header(raw: bytes) -> tuple[str, str]:
    key = value = ""
    for number, found in _fields(raw):
        if number == 1 and isinstance(found, bytes):
            key = _text(found)
        elif number == 2 and isinstance(found, bytes):
            value = _text(found)
    return key, value


def _fields(raw: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of every field in ``raw``, in order: numbers are ints (varint or
    fixed width), strings, bytes and messages are bytes."""
    found: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(raw):
        tag, at = _read_varint(raw, at)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == _VARINT:
            value, at = _read_varint(raw, at)
        elif wire == _LEN:
            size, at = _read_varint(raw, at)
            value, at = raw[at : at + size], at + size
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            value, at = int.from_bytes(raw[at : at + size], "little"), at + size
        else:
            raise MalformedPayload(f"has wire type {wire}, which protobuf does not use", "frame")
        if at > len(raw) or number == 0:
            raise MalformedPayload("is cut short", "frame")
        found.append((number, value))
    return found


def _read_varint(raw: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(raw) or shift > 63:
            raise MalformedPayload("has a broken varint", "frame")
        byte = raw[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & _U64, at
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(out: bytearray, number: int, wire: int, value: bytes) -> None:
    out += _varint(number << 3 | wire)
    out += value


def _bytes(out: bytearray, number: int, value: bytes) -> None:
    _field(out, number, _LEN, _varint(len(value)) + value)


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise MalformedPayload("has a string that is not UTF-8", "frame") from None


class Parts:
    """Payloads Lark split over several DATA frames (``sum`` > 1), put back together.

    Parts are kept ``ttl_s`` (lark-oapi keeps them 5 s) and at most ``most`` payloads wait
    at once, so parts whose siblings never come cannot pile up.
    """

    def __init__(self, ttl_s: float = PARTS_TTL_S, most: int = PARTS_PENDING_MAX) -> None:
        self._ttl_s = ttl_s
        self._most = most
        self._waiting: dict[str, tuple[float, list[bytes | None]]] = {}

    def add(self, message_id: str, total: int, seq: int, part: bytes) -> bytes | None:
        """The whole payload once this ``part`` (number ``seq`` of ``total``) completes it."""
        now = time.monotonic()
        for key in [k for k, (at, _) in self._waiting.items() if now - at > self._ttl_s]:
            del self._waiting[key]
        found = self._waiting.get(message_id)
        if found is None or len(found[1]) != total:
            while len(self._waiting) >= self._most:
                del self._waiting[next(iter(self._waiting))]
            found = self._waiting[message_id] = (now, [None] * total)
        parts = found[1]
        parts[seq] = part
        if any(p is None for p in parts):
            return None
        del self._waiting[message_id]
        return b"".join(p for p in parts if p is not None)
