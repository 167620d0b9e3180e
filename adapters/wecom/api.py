"""Our own small aiohttp client for the few WeCom server API calls ackgate makes.

There is no maintained async SDK for WeCom. The access token is cached per client, fetched
under an ``asyncio.Lock`` (one ``gettoken`` for every caller waiting), refreshed before it
runs out, and replaced once when WeCom calls it invalid or expired (40014, 42001). The token
travels in the query string, so no URL is ever logged or put in an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from adapters.wecom.errors import CODE_OK, NO_SUCH_MEMBER, TOKEN_INVALID, platform_error
from gateway.config import WecomSettings
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable

log = logging.getLogger(__name__)

TOKEN_PATH = "/cgi-bin/gettoken"  # noqa: S105 - a path
SEND_PATH = "/cgi-bin/message/send"
UPDATE_CARD_PATH = "/cgi-bin/message/update_template_card"
USERID_BY_MOBILE_PATH = "/cgi-bin/user/getuserid"
USERID_BY_EMAIL_PATH = "/cgi-bin/user/get_userid_by_email"
CALL_TIMEOUT_S = 5.0
# A token lives 7,200 s; one is fetched again this long before it runs out.
REFRESH_MARGIN_S = 5 * 60
EMAIL_CORPORATE = 1
EMAIL_PERSONAL = 2


@dataclass(frozen=True, slots=True)
class SentCard:
    """What ``message/send`` answered for a template card: its ids and one update's code."""

    msgid: str
    response_code: str | None


class WecomApi:
    """One app's server API client over ``session``; every call returns its JSON or raises.

    Raises PlatformError subclasses only (see ``adapters.wecom.errors``).
    """

    def __init__(
        self,
        settings: WecomSettings,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        self._base = str(settings.api_base_url).rstrip("/")
        self._corp_id = settings.corp_id
        self._secret = settings.secret
        self.agent_id = settings.agent_id
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the token is fetched again

    # --- the access token ----------------------------------------------------------------

    async def token(self) -> str:
        """The access token, fetched once for every caller waiting on it."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()
            if token is None:
                token, expires_s = await self._fetch_token()
                self._token = token
                self._refresh_at = time.monotonic() + max(expires_s - REFRESH_MARGIN_S, 0.0)
            return token

    def _fresh(self) -> str | None:
        if self._token is not None and time.monotonic() < self._refresh_at:
            return self._token
        return None

    def _forget(self, token: str) -> None:
        """Drop ``token`` (WeCom refused it), unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self._corp_id, "corpsecret": self._secret.get_secret_value()}
        status, doc = await self._http("GET", TOKEN_PATH, "gettoken", params=params)
        errcode = _errcode(doc)
        token, expires = doc.get("access_token"), doc.get("expires_in")
        if errcode == CODE_OK and isinstance(token, str) and token:
            log.debug("wecom access token for corp %s fetched", self._corp_id)
            return token, float(expires) if isinstance(expires, int | float) else 7200.0
        error = platform_error("gettoken", status, errcode, str(doc.get("errmsg") or ""))
        if isinstance(error, RateLimited | Unavailable):
            raise error
        # Anything else is our corp id or secret (or this server's IP): retrying won't help.
        raise AuthFailed(str(error))

    # --- calls ---------------------------------------------------------------------------

    async def call(self, path: str, what: str, body: JSONObject) -> JSONObject:
        """One authenticated POST; a refused token is replaced once and the call repeated."""
        token = await self.token()
        status, doc = await self._http("POST", path, what, {"access_token": token}, body)
        if _errcode(doc) in TOKEN_INVALID:
            log.info("wecom %s: the access token was refused, fetching a new one", what)
            self._forget(token)
            token = await self.token()
            status, doc = await self._http("POST", path, what, {"access_token": token}, body)
        errcode = _errcode(doc)
        if status == 200 and errcode == CODE_OK:
            return doc
        if errcode is None and status < 400:
            raise Unavailable(f"wecom {what} answered {status} without an errcode")
        raise platform_error(what, status, errcode, str(doc.get("errmsg") or ""))

    async def send_card(self, user_id: str, template_card: JSONObject) -> SentCard:
        """``message/send`` of a template card to one member (app cards go to people only)."""
        doc = await self.call(
            SEND_PATH,
            "message/send",
            {
                "touser": user_id,
                "msgtype": "template_card",
                "agentid": self.agent_id,
                "template_card": template_card,
            },
        )
        code = doc.get("response_code")
        return SentCard(
            msgid=str(doc.get("msgid") or ""),
            response_code=code if isinstance(code, str) and code else None,
        )

    async def send_text(self, user_id: str, text: str) -> None:
        """``message/send`` of a text message to one member."""
        body = {
            "touser": user_id,
            "msgtype": "text",
            "agentid": self.agent_id,
            "text": {"content": text},
        }
        await self.call(SEND_PATH, "message/send", body)

    async def update_card(
        self, user_id: str, response_code: str, template_card: JSONObject
    ) -> None:
        """``message/update_template_card``: ``user_id``'s copy of a card becomes this one.

        ``response_code`` (from the send, or from a click on the card) works once, for 72 h.
        """
        body = {
            "userids": [user_id],
            "agentid": self.agent_id,
            "response_code": response_code,
            "template_card": template_card,
        }
        await self.call(UPDATE_CARD_PATH, "message/update_template_card", body)

    async def userid_by_mobile(self, mobile: str) -> str | None:
        """``user/getuserid``: the UserID of the member with this mobile number (mainland
        numbers without ``+86``), None when WeCom knows nobody by it the app may see."""
        return await self._lookup(USERID_BY_MOBILE_PATH, "user/getuserid", {"mobile": mobile})

    async def userid_by_email(self, email: str, *, corporate: bool = True) -> str | None:
        """``user/get_userid_by_email``: the UserID of the member with this email (their
        corporate mailbox, or with ``corporate=False`` the email on their profile), None when
        WeCom knows nobody by it the app may see.

        WeCom blocks the lookup APIs for a day once the lookups that miss pass a fifth of
        the corp's seats: look up the few people you mean, never a whole directory.
        """
        body = {"email": email, "email_type": EMAIL_CORPORATE if corporate else EMAIL_PERSONAL}
        return await self._lookup(USERID_BY_EMAIL_PATH, "user/get_userid_by_email", body)

    async def _lookup(self, path: str, what: str, body: JSONObject) -> str | None:
        try:
            doc = await self.call(path, what, body)
        except Rejected as exc:
            if exc.code in NO_SUCH_MEMBER:
                return None
            raise
        return _userid(doc, what)

    async def _http(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str],
        body: JSONObject | None = None,
    ) -> tuple[int, JSONObject]:
        extra: dict[str, Any] = {}
        if body is not None:
            extra["data"] = json.dumps(body, ensure_ascii=False).encode()
            extra["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        try:
            async with self._session.request(
                method, self._base + path, params=dict(params), timeout=self._timeout, **extra
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The exception's text may hold the URL, and with it the token: name it only.
            raise Unavailable(f"wecom {what} unreachable: {type(exc).__name__}") from None
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {}
        return status, doc if isinstance(doc, dict) else {}


def _errcode(doc: Mapping[str, Any]) -> int | None:
    code = doc.get("errcode")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _userid(doc: Mapping[str, Any], what: str) -> str:
    userid = doc.get("userid")
    if not isinstance(userid, str) or not userid:
        raise Unavailable(f"wecom {what} answered without a userid")
    return userid
