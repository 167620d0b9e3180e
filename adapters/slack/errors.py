"""Slack Web API failures mapped to our platform errors, so the outbox knows what to do."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.retry_after import retry_after_s
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

# The token is no good: retrying with it cannot help.
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
# ``ok: false`` answers Slack documents as its own trouble, worth another try.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


async def call(request: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
    """Await one Web API call; any failure comes out as a PlatformError subclass."""
    try:
        return await request
    except SlackApiError as exc:
        raise platform_error(exc) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable(f"slack unreachable: {type(exc).__name__}: {exc}") from exc


def platform_error(exc: SlackApiError) -> PlatformError:
    """The error a failed Web API answer means for us."""
    response = exc.response
    status = response.status_code
    data = response.data
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    method = str(response.api_url).rsplit("/", 1)[-1]
    text = f"slack {method} answered {status}: {code or 'no error code'}"
    if status == 429 or code == "ratelimited":
        return RateLimited(
            text, retry_after_s(response.headers.get("Retry-After"), datetime.now(UTC))
        )
    if status >= 500 or code in TRANSIENT_ERRORS:
        return Unavailable(text)
    if code in AUTH_ERRORS or status in (401, 403):
        return AuthFailed(text)
    return Rejected(text, code=code or str(status))
