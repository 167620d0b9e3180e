"""DingTalk custom group bot: post each notice as signed markdown and read the answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from adapters.bots.message import BotMessage, BotTarget, Digest, HttpRequest, Mention, RateLimit
from adapters.bots.text import (
    fit,
    is_int,
    json_object,
    json_size,
    md_url,
    mobile,
    most,
    union,
)
from adapters.retry_after import retry_after_s
from cards.model import ELLIPSIS, clip
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

NAME = "dingtalk_bot"
LIMIT = RateLimit(20, 60.0)  # 20 messages a minute per bot; more gets the bot throttled
# DingTalk's size cap for a custom-bot message is not in our verified notes, so we hold the
# body to the same budget as Feishu's documented 20 KB, measured with every non-ASCII
# character \u-escaped (the largest form any JSON encoder gives it).
BODY_BUDGET_BYTES = 18_000
MAX_TITLE_CHARS = 150  # the title is the one-line preview in the chat list
MAX_ERROR_EXCERPT = 200
THROTTLE_RETRY_S = 600.0  # after 130101 DingTalk throttles the bot for 10 minutes
API_THROTTLE_RETRY_S = 60.0  # oapi's QPS throttles (90002/90018/90019): window not published

CODE_OK = 0
CODE_SECURITY = 310000  # keyword missing, signature mismatch or IP not allowed: errmsg says
CODE_TOO_FAST = 130101
CODES_BAD_TOKEN = frozenset({300001, 400013})  # no such access_token / bot gone
CODES_API_THROTTLE = frozenset({90002, 90018, 90019})
PUNISH_DENY = "deny"  # oapi's block page: {"status": 1111, "punish": "deny"}

HINT_SIGN = "check the bot's signing secret and this server's clock"
HINT_KEYWORD = (
    "the bot's keyword setting requires a word the notice lacks: "
    "add it to the template or remove the keyword"
)
HINT_IP = (
    "the bot's IP allow-list does not include this server's address: "
    "add it or remove the allow-list"
)
HINT_SECURITY = "the bot's security settings (keywords, signature or IP list) refused it"
HINT_TOO_FAST = "the bot takes 20 messages a minute, then DingTalk throttles it for 10 minutes"
HINT_BOT_GONE = (
    "the bot was removed or its access_token changed: "
    "create a new bot and update the destination's url"
)
_IP_WORD = re.compile(r"\bip\b", re.IGNORECASE)

LINK_LABEL = "Open incident"


class DingtalkBot:
    """DingTalk custom group bot (``POST https://oapi.dingtalk.com/robot/send?access_token=…``).

    One request per notice: ``msgtype: markdown`` with ``title`` (the preview) and ``text``
    (the notice, the mentions, then ``[Open incident](url)`` last). Mentions go in ``at``:
    ``atUserIds`` for people with a user id, else ``atMobiles`` for people with a phone
    (a leading ``+86`` is dropped; other numbers are sent as given), ``isAtAll`` for @all;
    DingTalk only shows a mention whose ``@id``/``@mobile`` is also in the text, so it is.
    People with neither are written as plain ``@Name``. With a signing secret, ``timestamp``
    (ms) and ``sign`` are appended to the URL's query.
    """

    name = NAME
    limit = LIMIT

    def requests(
        self, target: BotTarget, message: BotMessage | Digest, now: datetime
    ) -> list[HttpRequest]:
        """The one request that posts ``message`` as markdown, signed at ``now`` if keyed.

        Args:
            target: The bot's webhook URL (with ``access_token``) and optional secret.
            message: One notice, or a digest of several.
            now: The signing time.

        Returns:
            A single POST whose JSON stays under ``BODY_BUDGET_BYTES``.
        """
        url = target.url
        if target.secret:
            timestamp = int(now.timestamp() * 1000)
            separator = "&" if "?" in url else "?"
            url += f"{separator}timestamp={timestamp}&sign={sign(timestamp, target.secret)}"
        body = _digest_body(message) if isinstance(message, Digest) else _body(message)
        return [HttpRequest("POST", url, body)]

    def check(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Accept ``{"errcode": 0}``; raise the PlatformError its code or HTTP status means.

        Args:
            status: The HTTP status.
            body: The raw response body.
            headers: The response headers (``Retry-After`` is honoured on HTTP 429).

        Raises:
            Unavailable: HTTP 5xx/408, or an answer that is not DingTalk's JSON.
            RateLimited: 130101 (600 s), oapi throttles, HTTP 429.
            AuthFailed: 310000 for a signature or IP, a bad access_token, HTTP 401/403.
            Rejected: 310000 for a keyword, and every other refusal.
        """
        excerpt = body[:MAX_ERROR_EXCERPT].decode("utf-8", errors="replace")
        if status >= 500 or status == 408:
            raise Unavailable(f"{NAME}: HTTP {status} {excerpt}".rstrip())
        data = json_object(body) or {}
        code = data.get("errcode")
        if is_int(code) and code != CODE_OK:
            raise _code_error(code, str(data.get("errmsg") or ""))
        if data.get("punish") == PUNISH_DENY:
            raise RateLimited(f"{NAME}: blocked by DingTalk {excerpt}", THROTTLE_RETRY_S)
        if status == 429:
            header = headers.get("Retry-After")
            wait = retry_after_s(header, datetime.now(UTC)) if header else API_THROTTLE_RETRY_S
            raise RateLimited(f"{NAME}: HTTP 429 {excerpt}".rstrip(), wait)
        if status in (401, 403):
            raise AuthFailed(f"{NAME}: HTTP {status} {excerpt}".rstrip())
        if not 200 <= status < 300:
            raise Rejected(f"{NAME}: HTTP {status} {excerpt}".rstrip(), code=str(status))
        if code != CODE_OK:
            # Not DingTalk's answer (a proxy's page?): we cannot tell whether it was
            # delivered, and a repeated notice is better than a lost one.
            raise Unavailable(f"{NAME}: unexpected answer {excerpt!r}")


def sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's custom-bot signature, URL-encoded for the query string.

    base64 of HMAC-SHA256 keyed by ``secret`` over ``"{timestamp_ms}\\n{secret}"`` (Feishu
    does the opposite: the string is its key).

    Args:
        timestamp_ms: Unix milliseconds, sent alongside as ``timestamp``.
        secret: The bot's signing secret (``SEC…``).

    Returns:
        The ``sign`` query value, already percent-encoded.
    """
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def _body(message: BotMessage) -> dict[str, Any]:
    title = clip(message.title, MAX_TITLE_CHARS)
    at, shown = _at(message.mentions, message.at_all)
    tail = [shown, f"[{LINK_LABEL}]({md_url(message.url)})"]

    def body_for(text: str) -> dict[str, Any]:
        content = "\n\n".join(p for p in (text, *tail) if p)
        return {"msgtype": "markdown", "markdown": {"title": title, "text": content}, "at": at}

    return body_for(fit(message.text, lambda t: json_size(body_for(t)) <= BODY_BUDGET_BYTES))


def _digest_body(digest: Digest) -> dict[str, Any]:
    messages = digest.messages
    title = clip(digest.headline, MAX_TITLE_CHARS)
    at, shown_mentions = _at(union(messages), any(m.at_all for m in messages))
    # List items: DingTalk's markdown runs single-newline lines together.
    lines = [f"- {_digest_line(m)}" for m in messages]

    def body_for(shown: int) -> dict[str, Any]:
        parts = lines[:shown]
        if shown < len(lines):
            parts.append(f"- {ELLIPSIS} and {len(lines) - shown} more")
        text = f"**{title}**\n\n" + "\n".join(parts)
        if shown_mentions:
            text += f"\n\n{shown_mentions}"
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at}

    shown = most(len(lines), lambda n: json_size(body_for(n)) <= BODY_BUDGET_BYTES)
    return body_for(shown)


def _at(mentions: Sequence[Mention], at_all: bool) -> tuple[dict[str, Any], str]:
    """The ``at`` object and the ``@…`` words the text must carry for it to show."""
    user_ids: list[str] = []
    mobiles: list[str] = []
    words: list[str] = []
    for mention in mentions:
        if mention.user_id:
            user_ids.append(mention.user_id)
            words.append(f"@{mention.user_id}")
        elif mention.phone:
            mobiles.append(mobile(mention.phone))
            words.append(f"@{mobiles[-1]}")
        else:
            words.append(f"@{mention.name}")
    at = {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": at_all}
    return at, " ".join(words)


def _digest_line(message: BotMessage) -> str:
    """``#42 [CRITICAL] HighErrorRate on checkout — triggered ([open](url))``."""
    title = clip(message.title.removeprefix(f"#{message.number} "), MAX_TITLE_CHARS)
    return (
        f"#{message.number} [{message.severity.upper()}] {title} — {message.status} "
        f"([open]({md_url(message.url)}))"
    )


def _code_error(code: int, msg: str) -> PlatformError:
    said = f"{NAME}: {code} {msg}".rstrip()
    if code == CODE_SECURITY:
        # One code for three settings; the errmsg names the one that refused.
        lowered = msg.lower()
        if "keyword" in lowered:
            return Rejected(f"{said} ({HINT_KEYWORD})", code=str(code))
        if _IP_WORD.search(msg):
            return AuthFailed(f"{said} ({HINT_IP})")
        if "sign" in lowered:
            return AuthFailed(f"{said} ({HINT_SIGN})")
        return AuthFailed(f"{said} ({HINT_SECURITY})")
    if code == CODE_TOO_FAST:
        return RateLimited(f"{said} ({HINT_TOO_FAST})", THROTTLE_RETRY_S)
    if code in CODES_API_THROTTLE:
        return RateLimited(said, API_THROTTLE_RETRY_S)
    if code in CODES_BAD_TOKEN:
        return AuthFailed(f"{said} ({HINT_BOT_GONE})")
    return Rejected(said, code=str(code))
