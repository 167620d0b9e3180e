"""Who a REST or web request acts as: an API token bound to a member."""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway.config import Settings
from gateway.errors import Unauthorized


def bearer(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def member_for_token(settings: Settings, token: str | None) -> str | None:
    """The member an API token acts as, compared in constant time."""
    if not token:
        return None
    found = None
    for api in settings.api_tokens:
        if hmac.compare_digest(api.token.get_secret_value().encode(), token.encode()):
            found = api.member
    return found


def require_api_member(request: web.Request, settings: Settings) -> str:
    """The member behind the request's API token; raises Unauthorized."""
    member = member_for_token(settings, bearer(request))
    if member is None:
        raise Unauthorized("a valid API token is required (Authorization: Bearer …)")
    return member
