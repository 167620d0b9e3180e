"""Callback data: every verb round-trips within 64 bytes; anything else is refused."""

from __future__ import annotations

from typing import cast

import pytest

from cards.callback import MAX_BYTES, MAX_INCIDENT, decode, encode
from gateway.domain import Verb
from gateway.errors import MalformedPayload

IDS = [1, 42, 10**6, 2**31, MAX_INCIDENT]


def test_example() -> None:
    assert encode(Verb.ACK, 42) == "v1:ack:42"
    assert decode("v1:ack:42") == (Verb.ACK, 42)


@pytest.mark.parametrize("verb", list(Verb))
@pytest.mark.parametrize("incident", IDS)
def test_round_trip_within_limit(verb: Verb, incident: int) -> None:
    data = encode(verb, incident)
    assert len(data.encode()) <= MAX_BYTES
    assert decode(data) == (verb, incident)


@pytest.mark.parametrize("incident", [0, -1, MAX_INCIDENT + 1])
def test_encode_refuses_impossible_numbers(incident: int) -> None:
    with pytest.raises(ValueError, match="incident must be"):
        encode(Verb.ACK, incident)


MALFORMED = {
    "empty": "",
    "missing id": "v1:ack",
    "missing verb": "v1::42",
    "extra part": "v1:ack:42:x",
    "wrong version": "v2:ack:42",
    "no version": "ack:42",
    "unknown verb": "v1:delete:42",
    "verb in capitals": "v1:ACK:42",
    "non-numeric id": "v1:ack:abc",
    "negative id": "v1:ack:-1",
    "signed id": "v1:ack:+42",
    "zero id": "v1:ack:0",
    "leading zero": "v1:ack:042",
    "float id": "v1:ack:4.2",
    "exponent": "v1:ack:1e3",
    "fullwidth digits": "v1:ack:４２",
    "superscript digit": "v1:ack:²",
    "id over bigint": f"v1:ack:{MAX_INCIDENT + 1}",
    "twenty digits": "v1:ack:" + "1" * 20,
    "leading space": " v1:ack:42",
    "trailing newline": "v1:ack:42\n",
    "too long": "v1:ack:" + "1" * 60,
    "too long in bytes": "v1:ack:42:" + "é" * 30,
    "nul byte": "v1:ack:42\x00",
    "json": '{"verb": "ack", "incident": 42}',
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_refused(data: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        decode(data)
    assert caught.value.field == "callback"


@pytest.mark.parametrize("value", [None, 42, b"v1:ack:42"])
def test_non_string_refused(value: object) -> None:
    with pytest.raises(MalformedPayload, match="must be a string"):
        decode(cast("str", value))


def test_length_checked_before_parsing() -> None:
    with pytest.raises(MalformedPayload, match=f"longer than {MAX_BYTES} bytes"):
        decode("v1:ack:" + "1" * 60)
