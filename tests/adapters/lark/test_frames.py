"""The long connection's pbbp2 frames, pinned by bytes lark-oapi 1.7.5's generated class wrote
(``lark_oapi.ws.pb.pbbp2_pb2.Frame.SerializeToString``), and the reassembly of split payloads."""

from __future__ import annotations

import pytest

from adapters.lark import frames
from adapters.lark.frames import CONTROL, DATA, Frame, Parts
from gateway.errors import MalformedPayload

# lark-oapi's own ping: SeqID 0, LogID 0, service 7, CONTROL, type=ping.
PING = "08001000180720002a0c0a0474797065120470696e67"
# An event: SeqID 300, LogID 2**40 + 5, service 7, DATA, the five headers, a UTF-8 payload,
# LogIDNew "ln-1".
EVENT = (
    "08ac0210858080808020180720012a0d0a047479706512056576656e742a110a0a6d6573736167655f6964"
    "12036d2d312a0f0a0874726163655f69641203742d312a080a0373756d1201312a080a0373657112013042"
    "0a7b2261223a22c3a9227d4a046c6e2d31"
)
# EVENT answered as lark-oapi answers it: biz_rt added, the payload replaced.
ANSWER = (
    "08ac0210858080808020180720012a0d0a047479706512056576656e742a110a0a6d6573736167655f696412"
    "036d2d312a0f0a0874726163655f69641203742d312a080a0373756d1201312a080a037365711201302a0b0a"
    "0662697a5f7274120133421d7b22636f6465223a203230302c202264617461223a20226533303d227d4a046c"
    "6e2d31"
)
# A negative int32 (service -3) takes ten bytes.
NEGATIVE = "0801100118fdffffffffffffffff012000"
# Every integer at its largest, an explicitly empty payload_encoding, a payload_type.
WIDE = (
    "08ffffffffffffffffff01100118ffffffff0720012a0a0a016b1205767676767632003a046a736f6e4203000000"
)

HEADERS = (
    ("type", "event"),
    ("message_id", "m-1"),
    ("trace_id", "t-1"),
    ("sum", "1"),
    ("seq", "0"),
)


def test_the_sdks_frames_are_read() -> None:
    assert frames.decode(bytes.fromhex(PING)) == Frame(
        service=7, method=CONTROL, headers=(("type", "ping"),)
    )
    event = frames.decode(bytes.fromhex(EVENT))
    assert event == Frame(
        seq_id=300,
        log_id=2**40 + 5,
        service=7,
        method=DATA,
        headers=HEADERS,
        payload='{"a":"é"}'.encode(),
        log_id_new="ln-1",
    )
    assert event.header("message_id") == "m-1"
    assert event.header("biz_rt") is None
    assert frames.decode(bytes.fromhex(NEGATIVE)).service == -3
    wide = frames.decode(bytes.fromhex(WIDE))
    assert (wide.seq_id, wide.log_id, wide.service) == (2**64 - 1, 1, 2**31 - 1)
    assert (wide.payload_encoding, wide.payload_type, wide.payload) == ("", "json", b"\0\0\0")


@pytest.mark.parametrize("vector", [PING, EVENT, NEGATIVE, WIDE])
def test_frames_are_written_byte_for_byte_as_the_sdk_writes_them(vector: str) -> None:
    assert frames.encode(frames.decode(bytes.fromhex(vector))).hex() == vector


def test_an_answer_is_the_frame_with_biz_rt_and_a_new_payload() -> None:
    event = frames.decode(bytes.fromhex(EVENT))
    answer = event.answer(b'{"code": 200, "data": "e30="}', ("biz_rt", "3"))
    assert frames.encode(answer).hex() == ANSWER


def test_unknown_fields_are_skipped() -> None:
    extra = bytes.fromhex("5005" + "5d01020304" + "590102030405060708")  # fields 10, 11, 11
    assert frames.decode(bytes.fromhex(PING) + extra) == frames.decode(bytes.fromhex(PING))


@pytest.mark.parametrize(
    "raw",
    [
        "0a",  # a tag, then nothing
        "08ff",  # a varint cut short
        "2a05" + "0a01",  # a header longer than what is left
        "0b",  # wire type 3 (a group): never in pbbp2
        "00",  # field number 0
        "2a040a02ffff",  # a header key that is not UTF-8
    ],
)
def test_broken_frames_are_refused(raw: str) -> None:
    with pytest.raises(MalformedPayload):
        frames.decode(bytes.fromhex(raw))


def test_parts_come_together_in_any_order() -> None:
    parts = Parts()
    assert parts.add("m", 3, 2, b"c") is None
    assert parts.add("m", 3, 0, b"a") is None
    assert parts.add("other", 2, 1, b"y") is None
    assert parts.add("m", 3, 1, b"b") == b"abc"
    assert parts.add("m", 3, 1, b"b") is None  # a complete payload is forgotten
    assert parts.add("other", 2, 0, b"x") == b"xy"


def test_parts_do_not_wait_forever_or_pile_up() -> None:
    stale = Parts(ttl_s=0)
    assert stale.add("m", 2, 0, b"a") is None
    assert stale.add("m", 2, 1, b"b") is None  # its sibling had expired
    few = Parts(most=2)
    for name in ("m1", "m2", "m3"):
        assert few.add(name, 2, 0, name.encode()) is None
    assert few.add("m1", 2, 1, b"!") is None  # the oldest made room for m3
    assert few.add("m3", 2, 1, b"!") == b"m3!"
