"""Secrets masked in platform errors and log records (the end-to-end check, every platform
echoing every call, is ``tests/security/test_secrets.py``)."""

from __future__ import annotations

import base64
import logging

import pytest

from gateway.errors import Rejected, Unavailable
from gateway.masking import MASK, MaskingFilter, mask, remember
from tests.support import make_settings

BOT_HOOK = "maskme-hook-0a1b2c3d"
HEADER_KEY = "maskme-header-4e5f"
SQL_PASSWORD = "maskme-sql-6789"


@pytest.fixture(autouse=True)
def remembered() -> None:
    settings = make_settings(
        f"postgresql+asyncpg://ackgate:{SQL_PASSWORD}@db/ackgate",
        telegram={"bot_token": "4242:maskme-telegram-token", "webhook_secret": "maskme-secret"},
        destinations={
            "ops": {"kind": "slack_bot", "url": f"https://hooks.slack.com/services/T/B/{BOT_HOOK}"}
        },
        sms={
            "provider": "http",
            "http": {
                "url": "https://sms.example.com/send?key=maskme-query-key",
                "headers": {"X-Api-Key": HEADER_KEY, "Content-Type": "application/json"},
            },
        },
    )
    remember(settings)


def test_what_settings_hold_is_masked_in_every_form() -> None:
    said = (
        f"POST /bot4242:maskme-telegram-token/sendMessage ?key=maskme-query-key {BOT_HOOK} "
        f"{HEADER_KEY} postgresql://ackgate:{SQL_PASSWORD}@db 4242%3Amaskme-telegram-token "
        + base64.b64encode(b"maskme-secret").decode()
    )
    assert "maskme" not in mask(said)
    assert mask(said).count(MASK) == 7
    assert mask("Content-Type: application/json; the database ackgate") == (
        "Content-Type: application/json; the database ackgate"  # not secrets
    )


def test_credentials_are_masked_whoever_they_belong_to_but_words_are_not() -> None:
    assert mask("Authorization: Bearer ya29.a0Af-runtime") == f"Authorization: Bearer {MASK}"
    assert mask("535 refused: AUTH PLAIN AGFja2dhdGUAc2VrcmV0") == f"535 refused: AUTH PLAIN {MASK}"
    assert mask("Basic authentication is required") == "Basic authentication is required"


def test_platform_errors_are_masked_when_made() -> None:
    assert (
        str(Rejected(f"404 for /services/T/B/{BOT_HOOK}", "404")) == f"404 for /services/T/B/{MASK}"
    )
    assert "maskme" not in str(Unavailable(f"X-Api-Key: {HEADER_KEY}"))


def test_the_filter_masks_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    masking = MaskingFilter()
    caplog.handler.addFilter(masking)  # pytest keeps one capture handler for every test
    try:
        try:
            _echo()
        except ValueError:
            logging.getLogger("some.sdk").exception(
                "calling %s", "https://api.telegram.org/bot4242:maskme-telegram-token"
            )
    finally:
        caplog.handler.removeFilter(masking)
    assert "maskme" not in caplog.text
    assert "calling https://api.telegram.org/bot****" in caplog.text
    assert "ValueError: echo ****" in caplog.text


def _echo() -> None:
    raise ValueError(f"echo {HEADER_KEY}")
