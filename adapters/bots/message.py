"""What every bot kind is given (a platform-neutral message and where to send it) and what
it must provide: the HTTP requests that deliver it, and how to read the platform's answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Mention:
    """A person to @mention: their member name, and the platform id or phone if known."""

    member: str
    name: str  # display name ("Alice Chen")
    user_id: str | None = None  # the platform's user id from the mapping table
    phone: str | None = None  # E.164, for platforms that mention by mobile number


@dataclass(frozen=True, slots=True)
class BotMessage:
    """One notice about one incident, already worded (``text`` fits the kind's budget)."""

    number: int
    title: str  # "#42 HighErrorRate on checkout"
    text: str  # the rendered template body (plain text or the kind's markdown flavour)
    severity: str  # critical | warning | info
    status: str  # triggered | acknowledged | closed
    event: str  # triggered, acknowledged, closed, reopened, escalated, commented, reminder
    url: str  # the incident page, where the reader can act
    mentions: tuple[Mention, ...] = ()
    at_all: bool = False


@dataclass(frozen=True, slots=True)
class Digest:
    """Several notices merged into one because the bot's rate limit was reached."""

    messages: tuple[BotMessage, ...]
    headline: str  # "7 more incidents changed in checkout"


@dataclass(frozen=True, slots=True)
class BotTarget:
    """Where a bot destination posts: its webhook URL and secret (or token), from config."""

    name: str  # the destination's name under [destinations]
    url: str  # the webhook URL (for Telegram: the Bot API base, e.g. https://api.telegram.org)
    secret: str | None = None  # Feishu/DingTalk signing secret, Zoom verification token
    token: str | None = None  # Telegram bot token
    chat_ids: tuple[str, ...] = ()  # Telegram chat ids


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request a kind needs sent."""

    method: str
    url: str
    json: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The platform's published cap for one bot: ``count`` messages per ``per_s`` seconds."""

    count: int
    per_s: float
    burst: tuple[int, float] | None = None  # a shorter cap beside it: (count, per_s)


class BotKind(Protocol):
    """One platform's webhook protocol."""

    name: str  # "wecom_bot", …
    limit: RateLimit

    def requests(
        self, target: BotTarget, message: BotMessage | Digest, now: datetime
    ) -> list[HttpRequest]:
        """The requests that deliver ``message`` (signed at ``now`` where the kind signs)."""
        ...

    def check(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Accept the platform's answer, or raise a ``gateway.errors.PlatformError`` subclass
        (RateLimited, Unavailable, AuthFailed, Rejected) carrying the platform's own words and
        a hint for the operator; only retryable failures may be retried."""
        ...
