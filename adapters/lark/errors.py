"""Feishu Open API failures (HTTP status and the ``code`` in its JSON) mapped to our errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from adapters.retry_after import retry_after_s
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

RATE_LIMITED = frozenset(
    {
        99991400,  # request trigger frequency limit (per app / per API)
        230020,  # too many messages to this chat or user (5 QPS)
    }
)
# The tenant access token is missing, invalid or expired: fetch a new one and try once more.
TOKEN_INVALID = frozenset({99991661, 99991663, 99991668, 99991677})
# The app lacks a scope the API needs: retrying cannot help until an admin grants it.
AUTH = frozenset({99991672})
BOT_NOT_IN_CHAT = 230002
# What a person can do about a refusal, added to the error a delivery keeps.
HINTS = {
    BOT_NOT_IN_CHAT: "add the app's bot to the chat",
    230013: "the user is outside the app's availability scope: widen it in the developer console",
    230001: "the message or its receiver is invalid",
    230099: "Feishu could not build the card from its JSON",
    230011: "the message was recalled",
}


def platform_error(
    what: str, status: int, code: int | None, msg: str, headers: Mapping[str, str]
) -> PlatformError:
    """The error a failed Open API answer means for us; ``what`` names the call."""
    text = f"lark {what} answered {status}: {code if code is not None else '-'} {msg}".rstrip()
    hint = HINTS.get(code) if code is not None else None
    if hint:
        text = f"{text} ({hint})"
    if status == 429 or code in RATE_LIMITED:
        # x-ogw-ratelimit-reset is the seconds to wait; Retry-After where a proxy added one.
        wait = headers.get("x-ogw-ratelimit-reset") or headers.get("Retry-After")
        return RateLimited(text, retry_after_s(wait, datetime.now(UTC)) if wait else 1.0)
    if status >= 500:
        return Unavailable(text)
    if code in AUTH or code in TOKEN_INVALID or status in (401, 403):
        return AuthFailed(text)
    return Rejected(text, code=str(code if code is not None else status))
