"""Feishu's event decryption and request signature, pinned by test vectors."""

from __future__ import annotations

import base64

import pytest

from adapters.lark.crypto import decrypt, encrypt, signature, signed
from gateway.errors import Unauthorized

# Feishu's own example (its event-encryption docs, every language's sample): "test key"
# decrypts this to "hello world".
OFFICIAL_KEY = "test key"
OFFICIAL_ENVELOPE = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
# Computed once from the notes' algorithm, sha256_hex(timestamp + nonce + key + body), with
# hashlib by hand: a change to how we sign would break it.
BODY = b'{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}'
SIGNATURE = "002a272a435d056759149cce18e88064ff320d38d91a09432445c344c4296949"


def test_feishus_published_example_decrypts() -> None:
    assert decrypt(OFFICIAL_KEY, OFFICIAL_ENVELOPE) == b"hello world"


def test_the_signature_vector() -> None:
    assert signature("1700000000", "nonce-1", OFFICIAL_KEY, BODY) == SIGNATURE
    assert signed("1700000000", "nonce-1", OFFICIAL_KEY, BODY, SIGNATURE)
    assert signed("1700000000", "nonce-1", OFFICIAL_KEY, BODY, SIGNATURE.upper())


@pytest.mark.parametrize(
    ("timestamp", "nonce", "key", "body"),
    [
        ("1700000001", "nonce-1", OFFICIAL_KEY, BODY),
        ("1700000000", "nonce-2", OFFICIAL_KEY, BODY),
        ("1700000000", "nonce-1", "other key", BODY),
        ("1700000000", "nonce-1", OFFICIAL_KEY, BODY + b" "),
    ],
)
def test_any_change_breaks_the_signature(timestamp: str, nonce: str, key: str, body: bytes) -> None:
    assert not signed(timestamp, nonce, key, body, SIGNATURE)


def test_encrypt_round_trips_with_the_same_iv_as_feishu() -> None:
    iv = base64.b64decode(OFFICIAL_ENVELOPE)[:16]
    assert encrypt(OFFICIAL_KEY, b"hello world", iv) == OFFICIAL_ENVELOPE
    text = b'{"challenge":"ch-xyz","token":"t","type":"url_verification"}'
    assert decrypt("k", encrypt("k", text)) == text


@pytest.mark.parametrize(
    "envelope",
    ["!!!not base64!!!", base64.b64encode(b"short").decode(), base64.b64encode(b"x" * 33).decode()],
)
def test_garbage_is_unauthorized(envelope: str) -> None:
    with pytest.raises(Unauthorized):
        decrypt(OFFICIAL_KEY, envelope)


def test_another_key_is_unauthorized() -> None:
    # The padding check fails for (almost) every wrong key; this one is checked to.
    with pytest.raises(Unauthorized):
        decrypt("wrong key", OFFICIAL_ENVELOPE)
