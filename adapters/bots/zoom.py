"""Zoom Team Chat incoming webhooks: one notice (or a digest) as a ``format=full`` head/body
message in plain text, and Zoom's answers read as platform errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from adapters.bots.message import BotMessage, BotTarget, Digest, HttpRequest, Mention, RateLimit
from adapters.bots.text import header
from adapters.retry_after import retry_after_s
from cards.model import ELLIPSIS, clip
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable

# Our notes give no limit for incoming webhooks; the chatbot API's lowest published rate
# (2 messages/s on a Free account) is above this, so one per second is a safe floor.
MESSAGES_PER_WINDOW = 1
WINDOW_S = 1.0
RETRY_AFTER_DEFAULT_S = 60.0  # a 429 without Retry-After: Zoom's limits are per second or per day
# Zoom publishes no cap for incoming-webhook text; this is the template budget for Zoom
# (``gateway.template_defaults.ZOOM_BUDGET``), applied to everything the body says.
TEXT_MAX = 4_000
HEAD_MAX = 150  # the bot template cuts titles at 150 too
LINE_TITLE_MAX = 150
DIGEST_LINES_MAX = 25
MENTIONS_MAX = 20
NAME_MAX = 64
BODY_EXCERPT_MAX = 200
FORMAT = "full"  # the head/body card; ``message`` would show our JSON as text
OPEN_LABEL = "Open incident"

# Substrings of Zoom's answers that mean the token or the webhook is no good.
AUTH_MARKERS = ("invalid authorization token", "invalid webhook")
AUTH_HINT = (
    "the webhook's verification token changed or its creator left the Zoom account: "
    "recreate the webhook with a shared account"
)
GONE_HINT = (
    "the webhook no longer exists (deleted, or its creator left the Zoom account): "
    "recreate the webhook with a shared account"
)


class ZoomBot:
    """A Zoom "Incoming Webhook" app connection (``/inc connect``) in one channel.

    Zoom shows this text as written (no markdown) and the webhook cannot @mention anyone:
    people are named as plain ``@Name`` text and the incident link is shown as a URL.
    """

    name = "zoom_bot"
    limit = RateLimit(MESSAGES_PER_WINDOW, WINDOW_S)

    def requests(
        self,
        target: BotTarget,
        message: BotMessage | Digest,
        now: datetime,  # noqa: ARG002 - the verification token is sent as is, nothing is signed
    ) -> list[HttpRequest]:
        """One POST of the ``{head, body}`` message to the endpoint, with ``format=full``.

        Args:
            target: The endpoint URL and, in ``secret``, the connection's verification token.
            message: One notice, or a digest of several.
            now: Unused: the token is not a signature.

        Returns:
            The single request.

        Raises:
            AuthFailed: The destination has no verification token (Zoom would refuse it).
        """
        if not target.secret:
            raise AuthFailed(f"zoom destination {target.name!r} has no verification token")
        body = _digest(message) if isinstance(message, Digest) else _notice(message)
        headers = {"Authorization": target.secret}
        return [HttpRequest("POST", endpoint(target.url), body, headers)]

    def check(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Accept a 2xx, or raise what Zoom's answer means for us.

        Args:
            status: The HTTP status.
            body: The answer: empty, a sentence, or JSON with a ``message``.
            headers: The answer's headers (``Retry-After`` on 429).

        Raises:
            RateLimited: 429, after ``Retry-After`` seconds (60 without one).
            Unavailable: 5xx.
            AuthFailed: The token was refused or the webhook is gone.
            Rejected: Any other 4xx: this message will never be taken.
        """
        words = _words(body)
        said = f"zoom webhook answered {status}: {clip(words, BODY_EXCERPT_MAX) or 'no body'}"
        if status == 429:
            given = header(headers, "Retry-After")
            wait = retry_after_s(given, datetime.now(UTC)) if given else RETRY_AFTER_DEFAULT_S
            raise RateLimited(said, wait)
        if status >= 500:
            raise Unavailable(said)
        if status == 404:
            raise AuthFailed(f"{said} — {GONE_HINT}")
        # Checked before the 2xx test: a message that says the token is wrong was not posted.
        if status in (401, 403) or any(marker in words.lower() for marker in AUTH_MARKERS):
            raise AuthFailed(f"{said} — {AUTH_HINT}")
        if 200 <= status < 300:
            return
        raise Rejected(said, str(status))


def endpoint(url: str) -> str:
    """``url`` with ``format=full`` (replacing any other format); other parameters are kept.

    The query is edited as text, so the other parameters keep their exact encoding.
    """
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != "format"]
    return urlunsplit(parts._replace(query="&".join([*kept, f"format={FORMAT}"])))


def _notice(message: BotMessage) -> JSONObject:
    mentions = _mentions(message.mentions, at_all=message.at_all)
    link = f"{OPEN_LABEL}: {message.url}" if message.url else ""
    room = max(1, TEXT_MAX - len(link) - len(mentions))
    text = message.text.strip()
    body = [_item(clip(text, room))] if text else []  # Zoom needs text in every item
    if mentions:
        body.append(_item(mentions))
    if link:
        body.append(_item(link))
    return {
        "head": _head(message.title, f"{message.severity.upper()} · {message.status}"),
        "body": body,
    }


def _digest(digest: Digest) -> JSONObject:
    mention_list = [m for message in digest.messages for m in message.mentions]
    mentions = _mentions(mention_list, at_all=any(m.at_all for m in digest.messages))
    count = len(digest.messages)
    lines = _digest_lines(digest.messages, TEXT_MAX - len(mentions))
    body = [_item(lines)] if lines else []
    if mentions:
        body.append(_item(mentions))
    return {
        "head": _head(digest.headline, f"{count} incident{'' if count == 1 else 's'}"),
        "body": body,
    }


def _head(text: str, sub_head: str) -> JSONObject:
    return {"text": clip(text, HEAD_MAX), "sub_head": {"text": clip(sub_head, HEAD_MAX)}}


def _item(text: str) -> JSONObject:
    return {"type": "message", "text": text}


def _digest_lines(messages: tuple[BotMessage, ...], budget: int) -> str:
    """One line per incident, as many as fit ``budget``, then "… and N more"."""
    lines: list[str] = []
    size = 0
    for index, message in enumerate(messages):
        line = _digest_line(message)
        left = len(messages) - index - 1
        reserve = len(_more(left)) + 1 if left else 0  # room for "… and N more"
        if index >= DIGEST_LINES_MAX or size + len(line) + 1 + reserve > budget:
            lines.append(_more(len(messages) - index))
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def _digest_line(message: BotMessage) -> str:
    """``#42 [CRITICAL] HighErrorRate on checkout — triggered (https://…)``."""
    prefix = f"#{message.number} "
    title = message.title.removeprefix(prefix)
    severity = clip(message.severity.upper(), NAME_MAX)
    line = f"#{message.number} [{severity}] {clip(title, LINE_TITLE_MAX)} — {message.status}"
    return f"{line} ({message.url})" if message.url else line


def _more(count: int) -> str:
    return f"{ELLIPSIS} and {count} more"


def _mentions(mentions: Iterable[Mention], *, at_all: bool) -> str:
    """``@Name`` per member, once each; text only, since the webhook cannot notify anyone."""
    names: list[str] = []
    seen: set[str] = set()
    for mention in mentions:
        if mention.member not in seen:
            seen.add(mention.member)
            names.append("@" + clip(mention.name, NAME_MAX))
    shown = names[:MENTIONS_MAX]
    if len(names) > MENTIONS_MAX:
        shown.append(_more(len(names) - MENTIONS_MAX))
    if at_all:
        shown.append("@all")
    return " ".join(shown)


def _words(body: bytes) -> str:
    """What Zoom said: the ``message`` of a JSON answer, else the text itself."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    return text
