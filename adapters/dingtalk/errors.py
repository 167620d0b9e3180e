"""DingTalk API failures (HTTP status, the new API's ``code`` string, the old API's ``errcode``)
mapped to our errors, so the outbox knows what to do."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from adapters.retry_after import retry_after_s
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

# The new API (api.dingtalk.com) answers ``{"code": "…", "message": "…", "requestid": …}``.
TOKEN_INVALID = frozenset({"InvalidAuthentication"})  # refused token: fetch a new one once
STAFF_NOT_FOUND = "staffId.notExisted"
ROBOT_NOT_FOUND = "resource.not.found"
# The old API (oapi.dingtalk.com) answers ``{"errcode": n, "errmsg": "…"}``.
OAPI_TOKEN_INVALID = frozenset({40014, 42001})  # invalid / expired access_token
OAPI_THROTTLED = frozenset({90002, 90018, 90019, 130101})
OAPI_USER_NOT_FOUND = 60121
PUNISH_DENY = "deny"  # the gateway's block page: {"status": 1111, "punish": "deny"}
# DingTalk's QPS limits are per second; its answer carries no wait of its own.
THROTTLE_RETRY_S = 1.0
OAPI_THROTTLE_RETRY_S = 60.0  # the old API's windows are not published

# What a person can do about a refusal, added to the error a delivery keeps.
HINTS = {
    STAFF_NOT_FOUND: (
        "no such user in the organization: the member's dingtalk user_id must be the staff id "
        "(userid), not a nickname, unionId or mobile"
    ),
    ROBOT_NOT_FOUND: "check dingtalk.robot_code (the app's robot code, usually its client_id)",
}
ROBOT_NOT_IN_GROUP_HINT = (
    "add the app's robot to the group (group settings → robots), and check the chat's "
    "openConversationId"
)
PERMISSION_HINT = "grant the app the API's permission in the DingTalk developer console"
CREDENTIALS_HINT = "check dingtalk.client_id and dingtalk.client_secret (AppKey and AppSecret)"


def throttled(status: int, code: str) -> bool:
    """Whether a new-API answer says to slow down."""
    return status == 429 or "QpsLimit" in code or code.startswith("Throttling")


def platform_error(
    what: str, status: int, code: str, message: str, headers: Mapping[str, str]
) -> PlatformError:
    """The error a failed new-API answer means for us; ``what`` names the call."""
    text = f"dingtalk {what} answered {status}: {code or '-'} {message}".rstrip()
    hint = HINTS.get(code)
    if hint is None and _robot_not_in_group(code, message):
        hint = ROBOT_NOT_IN_GROUP_HINT
    if hint:
        text = f"{text} ({hint})"
    if throttled(status, code):
        wait = headers.get("Retry-After")
        wait_s = retry_after_s(wait, datetime.now(UTC)) if wait else THROTTLE_RETRY_S
        return RateLimited(text, wait_s)
    if status >= 500:
        return Unavailable(text)
    if code in TOKEN_INVALID or status == 401:
        return AuthFailed(f"{text} ({CREDENTIALS_HINT})")
    if "AccessTokenPermissionDenied" in code or status == 403:
        return AuthFailed(f"{text} ({PERMISSION_HINT})")
    return Rejected(text, code=code or str(status))


def oapi_error(what: str, status: int, errcode: int | None, errmsg: str) -> PlatformError:
    """The error a failed old-API (``oapi``) answer means for us."""
    text = f"dingtalk {what} answered {status}: {errcode if errcode is not None else '-'} {errmsg}"
    if errcode in OAPI_THROTTLED or status == 429:
        return RateLimited(text.rstrip(), OAPI_THROTTLE_RETRY_S)
    if status >= 500:
        return Unavailable(text.rstrip())
    if errcode in OAPI_TOKEN_INVALID or status in (401, 403):
        return AuthFailed(text.rstrip())
    return Rejected(text.rstrip(), code=str(errcode if errcode is not None else status))


def _robot_not_in_group(code: str, message: str) -> bool:
    """DingTalk's wording for a group the robot is not in (the code is not in our notes)."""
    said = f"{code} {message}".lower()
    return ("robot" in said or "机器人" in said) and (
        "group" in said or "conversation" in said or "群" in said
    )
