"""Signed, expiring links that let a member open and act on one incident without logging in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from gateway.errors import Unauthorized

_SALT = "ackgate.incident-link.v1"


class LinkExpired(Unauthorized):
    """The link was genuine but its time is up."""


@dataclass(frozen=True, slots=True)
class LinkGrant:
    """What a valid link allows: ``member`` may act on incident ``incident`` until ``expires``."""

    member: str
    incident: int
    expires: datetime


class LinkSigner:
    """Makes and checks link tokens: HMAC over member, incident and expiry."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)

    def token(self, member: str, incident: int, expires: datetime) -> str:
        """A token for the ``t`` query parameter."""
        return self._serializer.dumps([member, incident, int(expires.timestamp())])

    def url(self, base_url: str, member: str, incident: int, now: datetime, ttl: timedelta) -> str:
        """The full link to an incident page."""
        return f"{base_url}/incidents/{incident}?t={self.token(member, incident, now + ttl)}"

    def check(self, token: str, incident: int, now: datetime) -> LinkGrant:
        """The grant in ``token`` for ``incident``; raises Unauthorized or LinkExpired."""
        try:
            member, number, expires_ts = self._serializer.loads(token)
        except (BadSignature, ValueError, TypeError):
            raise Unauthorized("link_invalid") from None
        if not isinstance(member, str) or number != incident or not isinstance(expires_ts, int):
            raise Unauthorized("link_invalid")
        expires = datetime.fromtimestamp(expires_ts, tz=now.tzinfo)
        if expires <= now:
            raise LinkExpired("link_expired")
        return LinkGrant(member=member, incident=incident, expires=expires)


_FEED_SALT = "ackgate.schedule-feed.v1"


def feed_token(secret_key: str, schedule: str) -> str:
    """The ``?token=`` of a schedule's calendar feed: calendar apps cannot send headers."""
    return URLSafeSerializer(secret_key, salt=_FEED_SALT).dumps(schedule)


def check_feed_token(secret_key: str, schedule: str, token: str) -> bool:
    """Whether ``token`` opens ``schedule``'s feed."""
    try:
        return bool(URLSafeSerializer(secret_key, salt=_FEED_SALT).loads(token) == schedule)
    except BadSignature:
        return False


def parse_ttl(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d`` (or plain seconds) → timedelta; raises ValueError."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    unit = text[-1] if text and text[-1] in units else "s"
    number = text[:-1] if text and text[-1] in units else text
    seconds = float(number) * units[unit]
    if seconds <= 0:
        raise ValueError("must be positive")
    return timedelta(seconds=seconds)


_EMAIL_LINK_SALT = "ackgate.email-link.v1"


@dataclass(frozen=True, slots=True)
class EmailLinkGrant:
    """What a mailed self-link confirms: chat account ``(platform, workspace, user_id)`` is
    ``member``'s, with the one-time ``secret`` the gateway stored (hashed) for it."""

    secret: str
    member: str
    platform: str
    workspace: str
    user_id: str
    expires: datetime


class EmailLinkSigner:
    """Makes and checks the tokens of mailed self-link confirmations (HMAC, with an expiry)."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=_EMAIL_LINK_SALT)

    def token(self, grant: EmailLinkGrant) -> str:
        """The ``t`` of the confirmation page's URL."""
        g = grant
        expires = int(g.expires.timestamp())
        return self._serializer.dumps(
            [g.secret, g.member, g.platform, g.workspace, g.user_id, expires]
        )

    def check(self, token: str, now: datetime) -> EmailLinkGrant:
        """The grant in ``token``; raises Unauthorized or LinkExpired."""
        try:
            secret, member, platform, workspace, user_id, expires_ts = self._serializer.loads(token)
        except (BadSignature, ValueError, TypeError):
            raise Unauthorized("link_invalid") from None
        texts = (secret, member, platform, workspace, user_id)
        if not all(isinstance(v, str) for v in texts) or not isinstance(expires_ts, int):
            raise Unauthorized("link_invalid")
        expires = datetime.fromtimestamp(expires_ts, tz=now.tzinfo)
        if expires <= now:
            raise LinkExpired("link_expired")
        return EmailLinkGrant(secret, member, platform, workspace, user_id, expires)
