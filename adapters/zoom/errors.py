"""Zoom's HTTP answers mapped to our platform errors, so the outbox knows what to do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from adapters.retry_after import retry_after_s
from cards.model import clip
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

BODY_EXCERPT_MAX = 200
# A 429 without Retry-After: Zoom's chatbot limits are per second or per day.
RETRY_AFTER_DEFAULT_S = 60.0

CREDENTIALS_HINT = (
    "zoom.client_id or zoom.client_secret is wrong, or zoom.oauth_url does not point at Zoom"
)
REFUSED_HINT = (
    "a fresh chatbot token was refused too: check that the app has the imchat:bot scope and "
    "is installed on account zoom.account_id"
)
FORBIDDEN_HINT = (
    "check zoom.bot_jid and zoom.account_id, and that the chatbot is installed on that account"
)
NOT_FOUND_HINT = (
    "the message was deleted, or the channel or user JID is wrong or the bot is not in it"
)


def platform_error(
    what: str, status: int, body: bytes, headers: Mapping[str, str]
) -> PlatformError:
    """The error a non-2xx answer to ``what`` means for us (401 is handled by the caller)."""
    code, words = _said(body)
    text = f"zoom {what} answered {status}"
    if code is not None:
        text += f" (code {code})"
    text += f": {clip(words, BODY_EXCERPT_MAX) or 'no body'}"
    if status == 429:
        header = headers.get("Retry-After")
        wait = retry_after_s(header, datetime.now(UTC)) if header else RETRY_AFTER_DEFAULT_S
        return RateLimited(text, wait)
    if status >= 500:
        return Unavailable(text)
    if status == 401:
        return AuthFailed(f"{text} — {REFUSED_HINT}")
    if status == 403:
        return AuthFailed(f"{text} — {FORBIDDEN_HINT}")
    if status == 404:
        return Rejected(f"{text} — {NOT_FOUND_HINT}", code="not_found")
    return Rejected(text, code=str(code if code is not None else status))


def token_error(status: int, body: bytes, headers: Mapping[str, str]) -> PlatformError:
    """The error a refused ``/oauth/token`` means: our credentials, unless Zoom is in trouble."""
    error = platform_error("oauth/token", status, body, headers)
    if isinstance(error, RateLimited | Unavailable):
        return error
    return AuthFailed(f"{error} — {CREDENTIALS_HINT}")


def _said(body: bytes) -> tuple[object, str]:
    """Zoom's ``code`` and sentence: ``{"code", "message"}``, or OAuth's ``{"error", "reason"}``."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return None, text
    if not isinstance(doc, dict):
        return None, text
    code = doc.get("code", doc.get("error"))
    words = doc.get("message", doc.get("reason"))
    return code, str(words) if words is not None else text
