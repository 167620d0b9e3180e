"""Feishu/Lark custom group bot: post each notice as a signed card and read the answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.bots.message import BotMessage, BotTarget, Digest, HttpRequest, Mention, RateLimit
from adapters.bots.text import (
    fit,
    is_int,
    json_object,
    json_size,
    md_url,
    most,
    union,
)
from adapters.retry_after import retry_after_s
from cards.model import ELLIPSIS, clip
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

NAME = "lark_bot"
# Feishu caps a custom bot at 100 messages a minute AND 5 a second; the outbox keeps to both.
MAX_PER_SECOND = 5
LIMIT = RateLimit(100, 60.0, burst=(MAX_PER_SECOND, 1.0))
MAX_BODY_BYTES = 20 * 1024  # Feishu refuses a request body over 20 KB
# Kept well under the cap, and measured with every non-ASCII character \u-escaped (the
# largest form any JSON encoder gives it), so the sender's encoder cannot push us over.
BODY_BUDGET_BYTES = 18_000
MAX_TITLE_CHARS = 150  # a card header is one line; the template truncates titles there too
MAX_ERROR_EXCERPT = 200
RATE_LIMIT_RETRY_S = 60.0  # 11232 says nothing of when; one minute clears the 100/min window

CODE_OK = 0
CODE_SIGN = 19021  # signature mismatch, or timestamp more than 1 h off
CODE_IP = 19022  # the caller's IP is not on the bot's allow-list (code unverified)
CODE_KEYWORD = 19024  # none of the bot's keywords is in the message
CODE_FREQUENCY = 11232  # frequency limited

HINT_SIGN = "check the bot's signing secret and this server's clock"
HINT_KEYWORD = (
    "the bot's keyword setting requires a word the notice lacks: "
    "add it to the template or remove the keyword"
)
HINT_IP = (
    "the bot's IP allow-list does not include this server's address: "
    "add it or remove the allow-list"
)
HINT_FREQUENCY = f"the bot takes {LIMIT.count} messages a minute and {MAX_PER_SECOND} a second"

# Card header colours (Feishu's header ``template`` names).
COLOUR_BY_SEVERITY = {"critical": "red", "warning": "orange", "info": "blue"}
COLOUR_CLOSED = "green"
COLOUR_OTHER = "grey"
SEVERITY_ORDER = ("critical", "warning", "info")

LINK_LABEL = "Open incident"


class LarkBot:
    """Feishu/Lark custom group bot (``POST …/open-apis/bot/v2/hook/<token>``).

    One request per notice: ``msg_type: interactive`` with a card 1.0 body (header coloured
    by severity, green once closed; one markdown element with the text, the mentions and an
    "Open incident" link). Mentions are ``<at id=USER_ID></at>``; people without a user id
    are written as plain ``@Name`` (custom bots cannot mention by phone); ``at_all`` is
    ``<at id=all></at>``. With a signing secret the body carries ``timestamp`` (unix seconds)
    and ``sign``.
    """

    name = NAME
    limit = LIMIT

    def requests(
        self, target: BotTarget, message: BotMessage | Digest, now: datetime
    ) -> list[HttpRequest]:
        """The one request that posts ``message`` as a card, signed at ``now`` if keyed.

        Args:
            target: The bot's webhook URL and optional signing secret.
            message: One notice, or a digest of several.
            now: The signing time.

        Returns:
            A single POST whose JSON stays under ``BODY_BUDGET_BYTES``.
        """
        envelope: dict[str, Any] = {}
        if target.secret:
            timestamp = int(now.timestamp())
            envelope = {"timestamp": str(timestamp), "sign": sign(timestamp, target.secret)}

        def body(card: dict[str, Any]) -> dict[str, Any]:
            return {**envelope, "msg_type": "interactive", "card": card}

        def size(card: dict[str, Any]) -> int:
            return json_size(body(card))

        card = _digest_card(message, size) if isinstance(message, Digest) else _card(message, size)
        return [HttpRequest("POST", target.url, body(card))]

    def check(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Accept ``{"code": 0}``; raise the PlatformError its code or HTTP status means.

        Args:
            status: The HTTP status.
            body: The raw response body.
            headers: The response headers (``Retry-After`` is honoured on HTTP 429).

        Raises:
            Unavailable: HTTP 5xx/408, or an answer that is not Feishu's JSON.
            RateLimited: 11232 or HTTP 429.
            AuthFailed: 19021 (signature/clock), 19022 (IP allow-list), HTTP 401/403.
            Rejected: 19024 (keyword) and every other refusal.
        """
        excerpt = body[:MAX_ERROR_EXCERPT].decode("utf-8", errors="replace")
        if status >= 500 or status == 408:
            raise Unavailable(f"{NAME}: HTTP {status} {excerpt}".rstrip())
        data = json_object(body) or {}
        # Older hook versions answer {"StatusCode", "StatusMessage"} (from memory, not in our
        # verified notes): read them too, or every such success would look unknown.
        code = data.get("code", data.get("StatusCode"))
        if is_int(code) and code != CODE_OK:
            raise _code_error(code, str(data.get("msg", data.get("StatusMessage")) or ""))
        if status == 429:
            raise RateLimited(f"{NAME}: HTTP 429 {excerpt}".rstrip(), _retry_after(headers))
        if status in (401, 403):
            raise AuthFailed(f"{NAME}: HTTP {status} {excerpt}".rstrip())
        if not 200 <= status < 300:
            raise Rejected(f"{NAME}: HTTP {status} {excerpt}".rstrip(), code=str(status))
        if code != CODE_OK:
            # Not Feishu's answer (a proxy's page?): we cannot tell whether it was delivered,
            # and a repeated notice is better than a lost one.
            raise Unavailable(f"{NAME}: unexpected answer {excerpt!r}")


def sign(timestamp: int, secret: str) -> str:
    """Feishu's custom-bot signature: base64 HMAC-SHA256 keyed by ``"{timestamp}\\n{secret}"``.

    The string is the HMAC *key* and the message is empty (DingTalk does the opposite).

    Args:
        timestamp: Unix seconds, sent alongside as ``timestamp``.
        secret: The bot's signing secret.

    Returns:
        The ``sign`` field's value.
    """
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _card(message: BotMessage, size: Callable[[dict[str, Any]], int]) -> dict[str, Any]:
    colour = COLOUR_CLOSED if message.status == "closed" else _colour(message.severity)
    title = clip(message.title, MAX_TITLE_CHARS)
    tail = [_mentions(message.mentions, message.at_all), f"[{LINK_LABEL}]({md_url(message.url)})"]

    def card_for(text: str) -> dict[str, Any]:
        return _make_card(title, colour, "\n\n".join(p for p in (text, *tail) if p))

    text = fit(message.text, lambda t: size(card_for(t)) <= BODY_BUDGET_BYTES)
    return card_for(text)


def _digest_card(digest: Digest, size: Callable[[dict[str, Any]], int]) -> dict[str, Any]:
    messages = digest.messages
    if messages and all(m.status == "closed" for m in messages):
        colour = COLOUR_CLOSED
    else:
        open_ = [m.severity for m in messages if m.status != "closed"]
        colour = _colour(next((s for s in SEVERITY_ORDER if s in open_), ""))
    title = clip(digest.headline, MAX_TITLE_CHARS)
    mentions = _mentions(union(messages), any(m.at_all for m in messages))
    lines = [_digest_line(m) for m in messages]

    def card_for(shown: int) -> dict[str, Any]:
        body = lines[:shown]
        if shown < len(lines):
            body.append(f"{ELLIPSIS} and {len(lines) - shown} more")
        return _make_card(title, colour, "\n".join(body) + (f"\n\n{mentions}" if mentions else ""))

    shown = most(len(lines), lambda n: size(card_for(n)) <= BODY_BUDGET_BYTES)
    return card_for(shown)


def _make_card(title: str, colour: str, content: str) -> dict[str, Any]:
    return {
        "header": {"template": colour, "title": {"tag": "plain_text", "content": title}},
        "elements": [{"tag": "markdown", "content": content}],
    }


def _digest_line(message: BotMessage) -> str:
    """``#42 [CRITICAL] HighErrorRate on checkout — triggered ([open](url))``."""
    title = message.title.removeprefix(f"#{message.number} ")
    title = clip(title, MAX_TITLE_CHARS)
    return (
        f"#{message.number} [{message.severity.upper()}] {title} — {message.status} "
        f"([open]({md_url(message.url)}))"
    )


def _mentions(mentions: Sequence[Mention], at_all: bool) -> str:
    parts = [f"<at id={m.user_id}></at>" if m.user_id else f"@{m.name}" for m in mentions]
    if at_all:
        parts.append("<at id=all></at>")
    return " ".join(parts)


def _colour(severity: str) -> str:
    return COLOUR_BY_SEVERITY.get(severity, COLOUR_OTHER)


def _code_error(code: int, msg: str) -> PlatformError:
    said = f"{NAME}: {code} {msg}".rstrip()
    if code == CODE_SIGN:
        return AuthFailed(f"{said} ({HINT_SIGN})")
    if code == CODE_IP:
        return AuthFailed(f"{said} ({HINT_IP})")
    if code == CODE_KEYWORD:
        return Rejected(f"{said} ({HINT_KEYWORD})", code=str(code))
    if code == CODE_FREQUENCY:
        return RateLimited(f"{said} ({HINT_FREQUENCY})", RATE_LIMIT_RETRY_S)
    return Rejected(said, code=str(code))


def _retry_after(headers: Mapping[str, str]) -> float:
    # Feishu's API gateway names its wait x-ogw-ratelimit-reset (seconds); plain HTTP uses
    # Retry-After. Without either, wait out the minute window.
    header = headers.get("Retry-After") or headers.get("x-ogw-ratelimit-reset")
    if not header:
        return RATE_LIMIT_RETRY_S
    return retry_after_s(header, datetime.now(UTC))
