"""Zoom's webhook crypto, pinned by values computed outside Python (``openssl dgst -sha256
-hmac``), since Zoom publishes no test vectors of its own."""

from __future__ import annotations

from adapters.zoom.signature import encrypted_token, sign, signed

SECRET = "zoom-secret-token-0123"
TIMESTAMP = "1772359200"
BODY = b'{"event":"bot_notification","payload":{"cmd":"ack 42"}}'
# printf '%s' 'v0:1772359200:<BODY>' | openssl dgst -sha256 -hmac 'zoom-secret-token-0123'
SIGNATURE = "v0=0e282f1731a93e47ed768f7cd453799b61a7f03132dc52f0c61f9f3f1fe084c7"
PLAIN_TOKEN = "qgg8vlvZRS6UYooatFL8Aw"
# printf '%s' 'qgg8vlvZRS6UYooatFL8Aw' | openssl dgst -sha256 -hmac 'zoom-secret-token-0123'
ENCRYPTED = "63ad8ff090dce5f9413e05465deb06799082f8ef2bc67a2b5583398ad245b945"


def test_signature_matches_the_known_value() -> None:
    assert sign(SECRET, TIMESTAMP, BODY) == SIGNATURE
    assert signed(SECRET, TIMESTAMP, BODY, SIGNATURE)


def test_any_change_breaks_the_signature() -> None:
    assert not signed(SECRET, "1772359201", BODY, SIGNATURE)
    assert not signed(SECRET, TIMESTAMP, BODY + b" ", SIGNATURE)
    assert not signed("another-secret-token", TIMESTAMP, BODY, SIGNATURE)
    assert not signed(SECRET, TIMESTAMP, BODY, SIGNATURE.upper())
    assert not signed(SECRET, TIMESTAMP, BODY, SIGNATURE.removeprefix("v0="))
    assert not signed(SECRET, TIMESTAMP, BODY, "")


def test_url_validation_token_matches_the_known_value() -> None:
    assert encrypted_token(SECRET, PLAIN_TOKEN) == ENCRYPTED
