"""WeCom group robot: post each notice as one markdown (or, to mention by phone, text) message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.bots.message import BotMessage, BotTarget, Digest, HttpRequest, Mention, RateLimit
from adapters.bots.text import fit, is_int, json_object, md_url, mobile, most, union
from adapters.retry_after import retry_after_s
from cards.model import ELLIPSIS, clip
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

NAME = "wecom_bot"
LIMIT = RateLimit(20, 60.0)  # 20 messages a minute per robot
MARKDOWN_MAX_BYTES = 4096  # markdown.content, UTF-8
TEXT_MAX_BYTES = 2048  # text.content, UTF-8
MAX_TITLE_CHARS = 150
DIGEST_TITLE_CHARS = 32  # 25 incidents (the outbox's most per digest) fit in a text message
MAX_ERROR_EXCERPT = 200
RATE_LIMIT_RETRY_S = 60.0  # 45009 says nothing of when; one minute clears the window

CODE_OK = 0
CODE_FREQUENCY = 45009
CODE_BAD_KEY = 93000
CODES_BAD_CONTENT = frozenset({40058, 44004})  # content invalid / too long; empty content
AT_ALL = "@all"

HINT_FREQUENCY = "the robot takes 20 messages a minute"
HINT_BAD_KEY = (
    "the bot was removed from the group, or its key is wrong: "
    "create a new bot and update the destination's url"
)
HINT_BAD_CONTENT = "WeCom refused the content as empty or too long: check the bot's template"

LINK_LABEL = "Open incident"
NEEDS_ATTENTION = "needs attention"


class WecomBot:
    """WeCom group robot (``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``).

    Each notice is one message, so it costs one of the robot's 20 a minute:
    ``msgtype: markdown`` (content ≤ 4096 bytes: the notice, the mentions, then
    ``[Open incident](url)``), mentioning by user id (``<@userid>``). Markdown cannot
    mention by mobile number nor @all (and a ``template_card`` takes no mentions), so when
    someone is known only by phone, or ``at_all`` is set, the notice goes as ``text``
    instead (≤ 2048 bytes, the link written out) with ``mentioned_list`` (user ids, "@all")
    and ``mentioned_mobile_list`` (``+86`` dropped). People with neither id nor phone are
    written as plain ``@Name``. No signature: the ``key`` in the URL is the secret.
    """

    name = NAME
    limit = LIMIT

    def requests(
        self, target: BotTarget, message: BotMessage | Digest, now: datetime
    ) -> list[HttpRequest]:
        """The markdown request for ``message``, then a text ping if phones or @all need it.

        Args:
            target: The robot's webhook URL (with its ``key``).
            message: One notice, or a digest of several.
            now: Unused: WeCom robots are not signed.

        Returns:
            One or two POSTs, each within its message type's byte cap.
        """
        del now  # part of the BotKind protocol; nothing here is time-dependent
        if isinstance(message, Digest):
            messages = message.messages
            mentions = union(messages)
            at_all = any(m.at_all for m in messages)
            content = _digest_markdown(message.headline, messages, mentions)
        else:
            mentions = list(message.mentions)
            at_all = message.at_all
            content = _markdown(message)
        phones = [mobile(m.phone) for m in mentions if not m.user_id and m.phone]
        if not phones and not at_all:
            markdown = {"msgtype": "markdown", "markdown": {"content": content}}
            return [HttpRequest("POST", target.url, markdown)]
        # Markdown cannot mention by mobile number nor @all; a text message can, and one
        # message keeps each notice at one of the robot's 20 a minute.
        text: dict[str, Any] = {"content": _fit_bytes(_plain(message), TEXT_MAX_BYTES)}
        ids = [m.user_id for m in mentions if m.user_id]
        if ids or at_all:
            text["mentioned_list"] = [*ids, *([AT_ALL] if at_all else [])]
        if phones:
            text["mentioned_mobile_list"] = phones
        return [HttpRequest("POST", target.url, {"msgtype": "text", "text": text})]

    def check(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Accept ``{"errcode": 0}``; raise the PlatformError its code or HTTP status means.

        Args:
            status: The HTTP status.
            body: The raw response body.
            headers: The response headers (``Retry-After`` is honoured on HTTP 429).

        Raises:
            Unavailable: HTTP 5xx/408, or an answer that is not WeCom's JSON.
            RateLimited: 45009 or HTTP 429.
            AuthFailed: 93000 (bad key) or HTTP 401/403.
            Rejected: 40058/44004 (content) and every other refusal.
        """
        excerpt = body[:MAX_ERROR_EXCERPT].decode("utf-8", errors="replace")
        if status >= 500 or status == 408:
            raise Unavailable(f"{NAME}: HTTP {status} {excerpt}".rstrip())
        data = json_object(body) or {}
        code = data.get("errcode")
        if is_int(code) and code != CODE_OK:
            raise _code_error(code, str(data.get("errmsg") or ""))
        if status == 429:
            header = headers.get("Retry-After")
            wait = retry_after_s(header, datetime.now(UTC)) if header else RATE_LIMIT_RETRY_S
            raise RateLimited(f"{NAME}: HTTP 429 {excerpt}".rstrip(), wait)
        if status in (401, 403):
            raise AuthFailed(f"{NAME}: HTTP {status} {excerpt}".rstrip())
        if not 200 <= status < 300:
            raise Rejected(f"{NAME}: HTTP {status} {excerpt}".rstrip(), code=str(status))
        if code != CODE_OK:
            # Not WeCom's answer (a proxy's page?): we cannot tell whether it was delivered,
            # and a repeated notice is better than a lost one.
            raise Unavailable(f"{NAME}: unexpected answer {excerpt!r}")


def _markdown(message: BotMessage) -> str:
    tail = [_mentions(message.mentions), f"[{LINK_LABEL}]({md_url(message.url)})"]

    def content_for(text: str) -> str:
        return "\n\n".join(p for p in (text, *tail) if p)

    text = fit(message.text, lambda t: _size(content_for(t)) <= MARKDOWN_MAX_BYTES)
    return content_for(text)


def _digest_markdown(
    headline: str, messages: Sequence[BotMessage], mentions: Sequence[Mention]
) -> str:
    head = f"**{clip(headline, MAX_TITLE_CHARS)}**"
    lines = [_digest_line(m) for m in messages]
    shown_mentions = _mentions(mentions)

    def content_for(shown: int) -> str:
        parts = [head, *lines[:shown]]
        if shown < len(lines):
            parts.append(f"{ELLIPSIS} and {len(lines) - shown} more")
        text = "\n".join(parts)
        return f"{text}\n\n{shown_mentions}" if shown_mentions else text

    shown = most(len(lines), lambda n: _size(content_for(n)) <= MARKDOWN_MAX_BYTES)
    return content_for(shown)


def _plain(message: BotMessage | Digest) -> str:
    """The notice as plain text (the mentions travel in the message's lists)."""
    if isinstance(message, Digest):
        # No link per line: every incident must fit in 2,048 bytes; the page lists them.
        lines = [
            f"#{m.number} {m.severity.upper()} "
            f"{clip(m.title.removeprefix(f'#{m.number} '), DIGEST_TITLE_CHARS)} ({m.status})"
            for m in message.messages
        ]
        return _fit_bytes(
            "\n".join([clip(message.headline, MAX_TITLE_CHARS), *lines]), TEXT_MAX_BYTES
        )
    head, tail = clip(message.title, MAX_TITLE_CHARS), f"{LINK_LABEL}: {message.url}"
    room = TEXT_MAX_BYTES - _size(head) - _size(tail) - 2
    body = _fit_bytes(message.text, room) if room > len(ELLIPSIS.encode()) else ""
    return "\n".join(part for part in (head, body, tail) if part)


def _mentions(mentions: Sequence[Mention]) -> str:
    # Phone-only people are pinged by the text message; here they are named.
    return " ".join(f"<@{m.user_id}>" if m.user_id else f"@{m.name}" for m in mentions)


def _digest_line(message: BotMessage) -> str:
    """``#42 [CRITICAL] HighErrorRate on checkout — triggered ([open](url))``."""
    title = clip(message.title.removeprefix(f"#{message.number} "), MAX_TITLE_CHARS)
    return (
        f"#{message.number} [{message.severity.upper()}] {title} — {message.status} "
        f"([open]({md_url(message.url)}))"
    )


def _code_error(code: int, msg: str) -> PlatformError:
    said = f"{NAME}: {code} {msg}".rstrip()
    if code == CODE_FREQUENCY:
        return RateLimited(f"{said} ({HINT_FREQUENCY})", RATE_LIMIT_RETRY_S)
    if code == CODE_BAD_KEY:
        return AuthFailed(f"{said} ({HINT_BAD_KEY})")
    if code in CODES_BAD_CONTENT:
        return Rejected(f"{said} ({HINT_BAD_CONTENT})", code=str(code))
    return Rejected(said, code=str(code))


def _fit_bytes(text: str, max_bytes: int) -> str:
    return fit(text, lambda t: _size(t) <= max_bytes)


def _size(text: str) -> int:
    return len(text.encode())
