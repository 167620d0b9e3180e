"""python-telegram-bot's errors mapped to our platform errors, so the outbox knows what to do."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

T = TypeVar("T")

FORBIDDEN_HINT = (
    "the bot was blocked by the user, removed from the group, or never started by this user "
    "(a person must open the bot and press Start before it can message them)"
)
CHAT_NOT_FOUND_HINT = "check the chat id (ackgate telegram chats lists the ones the bot has seen)"
TOKEN_HINT = "the bot token is wrong or revoked (@BotFather), or api_base_url is wrong"  # noqa: S105 - a hint, not a token
WEBHOOK_SET_HINT = 'a webhook is set: getUpdates works only without one (mode = "polling")'
NOT_MODIFIED = "message is not modified"


async def call(request: Awaitable[T]) -> T:
    """Await one Bot API call; any failure comes out as a PlatformError subclass."""
    try:
        return await request
    except TelegramError as exc:
        raise platform_error(exc) from exc


def platform_error(exc: TelegramError) -> PlatformError:
    """The error a failed Bot API call means for us."""
    text = f"telegram: {type(exc).__name__}: {exc.message}"
    if isinstance(exc, RetryAfter):
        return RateLimited(text, retry_after_s(exc))
    if isinstance(exc, InvalidToken):
        return AuthFailed(f"{text} — {TOKEN_HINT}")
    if isinstance(exc, Forbidden):
        return Rejected(f"{text} — {FORBIDDEN_HINT}", code="forbidden")
    if isinstance(exc, ChatMigrated):
        hint = f"the group became a supergroup: use chat id {exc.new_chat_id}"
        return Rejected(f"{text} — {hint}", code="chat_migrated")
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return Rejected(f"{text} — {CHAT_NOT_FOUND_HINT}", code="chat_not_found")
        return Rejected(text, code="bad_request")
    if isinstance(exc, Conflict):
        return Rejected(f"{text} — {WEBHOOK_SET_HINT}", code="conflict")
    # NetworkError, TimedOut, 5xx and answers PTB could not read: worth another try.
    return Unavailable(text)


def not_modified(exc: PlatformError) -> bool:
    """Whether an edit failed only because the message already says exactly this."""
    return isinstance(exc, Rejected) and NOT_MODIFIED in str(exc).lower()


def retry_after_s(exc: RetryAfter) -> float:
    """Seconds to wait: PTB 22 gives an int (deprecated) or, opted in, a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(0.0, seconds)
