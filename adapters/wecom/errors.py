"""WeCom API failures (HTTP status and the ``errcode`` in its JSON) mapped to our errors."""

from __future__ import annotations

from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable

CODE_OK = 0
CODE_BUSY = -1  # "system busy": try again
# The access token is invalid or expired: fetch a new one and try once more.
TOKEN_INVALID = frozenset({40014, 42001})
CODE_FREQUENCY = 45009
# 45009 says nothing of when to come back; WeCom's caps are per minute.
RATE_LIMIT_RETRY_S = 60.0
CODE_DUPLICATE_TASK = 42014  # a template card's task_id was used before by this app
USER_NOT_FOUND = frozenset({81013, 60111})
# A lookup by mobile or email that found nobody the app may see: no such member (46004,
# 60111), a number WeCom calls no mobile (60103), a member outside the app's visible range
# (60011). Codes as ``Rejected.code`` carries them.
NO_SUCH_MEMBER = frozenset({"46004", "60111", "60103", "60011"})
TRUSTED_IP = frozenset({48002, 60020})
CREDENTIALS = frozenset({40001, 40013, 40091})  # bad secret, corp id, secret format
CODE_BAD_AGENT = 40056

USER_HINT = (
    "the UserID is unknown to WeCom or outside the app's visible range: check the member's "
    'wecom identity (the UserID in the admin console) and the app\'s "visible range"'
)
TRUSTED_IP_HINT = (
    "WeCom refused the call from this server's IP: add it to the app's trusted IPs "
    "(企业可信IP) in the admin console"
)
CREDENTIALS_HINT = "check wecom.corp_id and wecom.secret (the app's Secret, not the corp's)"
AGENT_HINT = "check wecom.agent_id (the app's AgentId)"


def platform_error(what: str, status: int, errcode: int | None, errmsg: str) -> PlatformError:
    """The error a failed WeCom answer means for us; ``what`` names the call."""
    code = "-" if errcode is None else str(errcode)
    text = f"wecom {what} answered {status}: {code} {_short(errmsg)}".rstrip()
    if errcode == CODE_FREQUENCY or status == 429:
        return RateLimited(
            f"{text} (WeCom caps messages per member and per minute)", RATE_LIMIT_RETRY_S
        )
    if status >= 500 or errcode == CODE_BUSY:
        return Unavailable(text)
    if errcode in TRUSTED_IP:
        return AuthFailed(f"{text} — {TRUSTED_IP_HINT}")
    if errcode in CREDENTIALS or errcode in TOKEN_INVALID:
        return AuthFailed(f"{text} — {CREDENTIALS_HINT}")
    if errcode == CODE_BAD_AGENT:
        return AuthFailed(f"{text} — {AGENT_HINT}")
    if errcode in USER_NOT_FOUND:
        return Rejected(f"{text} — {USER_HINT}", code=code)
    return Rejected(text, code=code)


def _short(errmsg: str) -> str:
    """WeCom's errmsg without its trailing "hint: […], more info at https://…" boilerplate."""
    return errmsg.split(", hint:")[0].strip()[:200]
