"""Slack incoming webhooks: one notice (or a digest) as Block Kit, and Slack's plain-text answers
read as platform errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from adapters.bots.message import BotMessage, BotTarget, Digest, HttpRequest, Mention, RateLimit
from adapters.bots.text import header
from adapters.retry_after import retry_after_s
from cards.model import ELLIPSIS, clip
from cards.render.slack import (
    BUTTON_TEXT_MAX,
    HEADER_MAX,
    LINK_ACTION_PREFIX,
    TEXT_MAX,
    URL_MAX,
)
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable

# Slack takes about one message per second per incoming webhook (its channel); short bursts
# pass, anything faster is answered 429.
MESSAGES_PER_WINDOW = 1
WINDOW_S = 1.0
OPEN_LABEL = "Open incident"
DIGEST_LINES_MAX = 25  # one section block holds about this many incident lines at TEXT_MAX
DIGEST_TITLE_MAX = 150  # the template cuts titles here too
# Our incident URLs are far shorter; a longer one is left out rather than crowd out the lines.
DIGEST_URL_MAX = 1_000
MENTIONS_MAX = 20  # more pings than this in one notice is noise, and keeps the block small
NAME_MAX = 64
BODY_EXCERPT_MAX = 200  # of an unexpected answer (an HTML error page), for the log

# Slack's plain-text error codes, by what retrying can do about them.
REJECTED_CODES = frozenset(
    {
        "invalid_payload",
        "invalid_blocks",
        "invalid_blocks_format",
        "no_text",
        "too_many_attachments",
    }
)
AUTH_CODES = frozenset({"invalid_token", "action_prohibited", "posting_to_general_channel_denied"})
GONE_CODES = frozenset(
    {"no_service", "no_service_id", "channel_not_found", "no_team", "team_disabled"}
)
GONE_HINT = "the webhook was revoked or the app uninstalled: create a new incoming webhook"
ARCHIVED_HINT = (
    "the webhook's channel is archived: unarchive it, or create a webhook for another channel"
)
AUTH_HINT = "the webhook may not post there any more: create a new incoming webhook"

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


class SlackBot:
    """A Slack incoming webhook (``hooks.slack.com/services/T/B/X``), bound to one channel.

    The webhook cannot receive clicks, so the only button is a link to the incident page.
    """

    name = "slack_bot"
    limit = RateLimit(MESSAGES_PER_WINDOW, WINDOW_S)

    def requests(
        self,
        target: BotTarget,
        message: BotMessage | Digest,
        now: datetime,  # noqa: ARG002 - incoming webhooks are not signed: the URL is the secret
    ) -> list[HttpRequest]:
        """One POST of ``{text, blocks}`` to the webhook URL.

        Args:
            target: The destination; only its ``url`` is used.
            message: One notice, or a digest of several.
            now: Unused: Slack webhooks carry no signature.

        Returns:
            The single request.
        """
        body = _digest(message) if isinstance(message, Digest) else _notice(message)
        return [HttpRequest("POST", target.url, body)]

    def check(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Accept a 2xx, or raise what Slack's plain-text error means for us.

        Args:
            status: The HTTP status.
            body: The answer, ``ok`` or an error code such as ``invalid_payload``.
            headers: The answer's headers (``Retry-After`` on 429).

        Raises:
            RateLimited: 429, after ``Retry-After`` seconds.
            Unavailable: 5xx.
            AuthFailed: The webhook was refused, revoked or its app uninstalled.
            Rejected: The payload or the channel (archived) will not take this message.
        """
        if 200 <= status < 300:
            return  # the message is posted; a retry would post it twice, whatever the body
        code = body.decode("utf-8", "replace").strip()
        said = f"slack webhook answered {status}: {clip(code, BODY_EXCERPT_MAX) or 'no body'}"
        if status == 429:
            raise RateLimited(
                said, retry_after_s(header(headers, "Retry-After"), datetime.now(UTC))
            )
        if status >= 500:
            raise Unavailable(said)
        if code == "channel_is_archived" or status == 410:
            raise Rejected(f"{said} — {ARCHIVED_HINT}", "channel_is_archived")
        if code in GONE_CODES or status == 404:
            raise AuthFailed(f"{said} — {GONE_HINT}")
        if code in AUTH_CODES or status in (401, 403):
            raise AuthFailed(f"{said} — {AUTH_HINT}")
        if code in REJECTED_CODES:
            raise Rejected(said, code)
        raise Rejected(said, str(status))


def _notice(message: BotMessage) -> JSONObject:
    mentions = _mentions(message.mentions, at_all=message.at_all)
    blocks: list[JSONObject] = [{"type": "header", "text": _plain(message.title, HEADER_MAX)}]
    if message.text.strip():  # Slack refuses an empty section
        blocks.append({"type": "section", "text": _markdown(_escaped(message.text, TEXT_MAX))})
    if mentions:
        blocks.append({"type": "section", "text": _markdown(mentions)})
    facts = f"{message.severity.upper()} · {message.status}"
    blocks.append({"type": "context", "elements": [_markdown(_escaped(facts, TEXT_MAX))]})
    # A URL button is the one element a webhook message can usefully carry: it opens the
    # page and needs no interactivity endpoint. The action id matches the Slack app's link
    # buttons, so an app that does have interactivity acks the click and nothing more.
    if message.url and len(message.url) <= URL_MAX:
        button = {
            "type": "button",
            "action_id": f"{LINK_ACTION_PREFIX}0",
            "text": _plain(OPEN_LABEL, BUTTON_TEXT_MAX),
            "url": message.url,
        }
        blocks.append({"type": "actions", "elements": [button]})
    fallback = f"{_escaped(message.title, HEADER_MAX)} — {_escaped(facts, TEXT_MAX)}"
    return {"text": _fallback(fallback, mentions), "blocks": blocks}


def _digest(digest: Digest) -> JSONObject:
    mention_list = [m for message in digest.messages for m in message.mentions]
    mentions = _mentions(mention_list, at_all=any(m.at_all for m in digest.messages))
    blocks: list[JSONObject] = [{"type": "header", "text": _plain(digest.headline, HEADER_MAX)}]
    if digest.messages:  # Slack refuses an empty section
        blocks.append({"type": "section", "text": _markdown(_digest_lines(digest.messages))})
    if mentions:
        blocks.append({"type": "section", "text": _markdown(mentions)})
    return {"text": _fallback(_escaped(digest.headline, HEADER_MAX), mentions), "blocks": blocks}


def _digest_lines(messages: tuple[BotMessage, ...]) -> str:
    """One line per incident, as many as fit one section, then "… and N more"."""
    lines: list[str] = []
    size = 0
    for index, message in enumerate(messages):
        line = _digest_line(message)
        left = len(messages) - index - 1
        # Keep room for the "… and N more" line whenever something could still follow.
        reserve = len(_more(left)) + 1 if left else 0
        if index >= DIGEST_LINES_MAX or size + len(line) + 1 + reserve > TEXT_MAX:
            lines.append(_more(len(messages) - index))
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def _digest_line(message: BotMessage) -> str:
    """``#42 [CRITICAL] HighErrorRate on checkout — triggered (link)``, escaped for mrkdwn."""
    title = _escaped(_bare_title(message), DIGEST_TITLE_MAX)
    link = f" (<{message.url}|link>)" if _linkable(message.url) else ""
    severity = _escaped(message.severity.upper(), NAME_MAX)
    status = _escaped(message.status, NAME_MAX)
    return f"#{message.number} [{severity}] {title} — {status}{link}"


def _more(count: int) -> str:
    return f"{ELLIPSIS} and {count} more"


def _bare_title(message: BotMessage) -> str:
    """The title without its leading ``#42`` (the digest line shows the number itself)."""
    prefix = f"#{message.number} "
    return message.title.removeprefix(prefix) if message.title.startswith(prefix) else message.title


def _linkable(url: str) -> bool:
    # ``<url|label>`` ends at the first ``|`` or ``>``; a URL holding either would break it.
    return bool(url) and len(url) <= DIGEST_URL_MAX and not any(c in url for c in "|<> ")


def _mentions(mentions: Iterable[Mention], *, at_all: bool) -> str:
    """``<@U123>`` for a known Slack user, ``@Name`` otherwise, once per member."""
    tokens: list[str] = []
    seen: set[str] = set()
    for mention in mentions:
        if mention.member in seen:
            continue
        seen.add(mention.member)
        if len(tokens) == MENTIONS_MAX:
            continue
        if mention.user_id and _is_user_id(mention.user_id):
            tokens.append(f"<@{mention.user_id}>")
        else:
            tokens.append("@" + _escaped(mention.name, NAME_MAX))
    hidden = len(seen) - len(tokens)
    if hidden:
        tokens.append(_more(hidden))
    if at_all:
        tokens.append("<!channel>")
    return " ".join(tokens)


def _is_user_id(user_id: str) -> bool:
    # Slack ids are upper-case letters and digits (U…/W…); anything else would be injected
    # into ``<@…>`` and could form another control sequence.
    return user_id.isascii() and user_id.isalnum() and user_id.isupper()


def _fallback(text: str, mentions: str) -> str:
    """The notification text; mentions go here too, so the notification names who is called.

    Built from pieces already cut to size, so it stays far below ``MESSAGE_TEXT_MAX``.
    """
    return f"{text} {mentions}" if mentions else text


def _plain(text: str, limit: int) -> JSONObject:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _markdown(text: str) -> JSONObject:
    return {"type": "mrkdwn", "text": text}


def _escaped(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn and cut to ``limit`` characters, never inside an entity.

    Alert text is escaped so it cannot ping ``<!channel>`` or forge a link.
    """
    pieces: list[str] = []
    size = 0
    escaped = [_ESCAPES.get(char, char) for char in text]
    if sum(len(piece) for piece in escaped) <= limit:
        return "".join(escaped)
    for piece in escaped:
        if size + len(piece) > limit - len(ELLIPSIS):
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces).rstrip() + ELLIPSIS
