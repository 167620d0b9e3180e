"""Bot Connector and token endpoint answers mapped to our platform errors, so the outbox knows
what to do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from adapters.retry_after import retry_after_s
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

NOT_FOUND_HINT = (
    'check the chat id ("<serviceUrl>|<conversationId>", as the bot says when it joins a chat '
    "and in its help), or the bot was removed from that chat"
)
FORBIDDEN_HINT = (
    "the bot is not installed for this user or team, was removed, or the user blocked it; "
    "or teams.app_id and teams.app_password do not belong to the bot"
)
TOKEN_HINT = "check teams.app_id, teams.app_password and teams.tenant_id (single-tenant bots)"  # noqa: S105 - a hint, not a token
TOO_BIG_HINT = "the message is larger than Teams takes"
# Retried as Microsoft advises (412, 502, 504 among them): every 5xx, and these.
TRANSIENT = frozenset({408, 409, 412, 425})


def connector_error(
    what: str, status: int, raw: bytes, headers: Mapping[str, str]
) -> PlatformError:
    """The error a failed Bot Connector call means for us."""
    code, message = _error_body(raw)
    text = f"teams {what} answered {status}: {code or 'no error code'}"
    if message:
        text = f"{text} ({message[:200]})"
    if status == 429:
        return RateLimited(text, retry_after_s(headers.get("Retry-After"), datetime.now(UTC)))
    if status >= 500 or status in TRANSIENT:
        return Unavailable(text)
    if status in (401, 403):
        return AuthFailed(f"{text} — {FORBIDDEN_HINT}")
    if status == 404:
        return Rejected(f"{text} — {NOT_FOUND_HINT}", code=code or "not_found")
    if status == 413:
        return Rejected(f"{text} — {TOO_BIG_HINT}", code=code or "too_large")
    return Rejected(text, code=code or str(status))


def token_error(status: int, raw: bytes, headers: Mapping[str, str]) -> PlatformError:
    """The error a refused client-credentials request means for us."""
    doc = _json(raw)
    code = str(doc.get("error") or "")
    text = f"teams token endpoint answered {status}: {code or 'no error code'}"
    if status == 429:
        return RateLimited(text, retry_after_s(headers.get("Retry-After"), datetime.now(UTC)))
    if status >= 500:
        return Unavailable(text)
    return AuthFailed(f"{text} — {TOKEN_HINT}")


def _error_body(raw: bytes) -> tuple[str, str]:
    """``{"error": {"code", "message"}}``, the Bot Connector's error body."""
    error = _json(raw).get("error")
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def _json(raw: bytes) -> dict[str, object]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}
