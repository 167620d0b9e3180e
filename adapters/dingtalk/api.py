"""Our own small aiohttp client for the DingTalk calls ackgate makes.

dingtalk-stream is not used for these on purpose: its helpers call blocking ``requests``
without a timeout from async code (stalling the event loop, and deadlocking against a server
on the same loop), read the API host from the environment at import, and keep the access
token per client object. Here the token is cached per client and refreshed under an
``asyncio.Lock`` before it runs out, and every call has a timeout.

The new API lives at ``dingtalk.api_base_url``. The old-API calls (a user's profile, a user
by mobile) go to ``https://oapi.dingtalk.com`` when the new API is DingTalk's own host, else
to the same base URL (a proxy, or a fake in tests).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import aiohttp

from adapters.dingtalk.errors import (
    CREDENTIALS_HINT,
    OAPI_TOKEN_INVALID,
    OAPI_USER_NOT_FOUND,
    PUNISH_DENY,
    THROTTLE_RETRY_S,
    TOKEN_INVALID,
    oapi_error,
    platform_error,
)
from cards.render.dingtalk import TEMPLATE_ID
from gateway.config import DingtalkSettings
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable

log = logging.getLogger(__name__)

TOKEN_PATH = "/v1.0/oauth2/accessToken"  # noqa: S105 - a path
CARD_SEND_PATH = "/v1.0/im/v1.0/robot/interactiveCards/send"
CARD_UPDATE_PATH = "/v1.0/im/robots/interactiveCards"
GROUP_SEND_PATH = "/v1.0/robot/groupMessages/send"
USER_SEND_PATH = "/v1.0/robot/oToMessages/batchSend"
OPEN_CONNECTION_PATH = "/v1.0/gateway/connections/open"
CARD_CALLBACK_REGISTER_PATH = "/v1.0/card/callbacks/register"
BY_MOBILE_PATH = "/topapi/v2/user/getbymobile"
USER_PATH = "/topapi/v2/user/get"
API_HOST = "api.dingtalk.com"
OAPI_BASE = "https://oapi.dingtalk.com"
# Hosts a message's ``sessionWebhook`` may point at; anything else is never POSTed to.
DINGTALK_DOMAIN = "dingtalk.com"
TOKEN_HEADER = "x-acs-dingtalk-access-token"  # noqa: S105 - a header name
# A token is fetched again this long before DingTalk's ``expireIn`` runs out.
REFRESH_MARGIN_S = 5 * 60
USERS_PER_SEND = 20  # oToMessages/batchSend takes at most 20 user ids
TEXT_KEY = "sampleText"
UA = "ackgate-dingtalk/1"


class DingtalkApi:
    """One app's DingTalk client over ``session``; every call returns the answer or raises.

    Raises PlatformError subclasses only (see ``adapters.dingtalk.errors``).
    """

    def __init__(
        self,
        settings: DingtalkSettings,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float | None = None,
    ) -> None:
        self.settings = settings
        self._base = str(settings.api_base_url).rstrip("/")
        parts = urlsplit(self._base)
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self._oapi = OAPI_BASE if parts.hostname == API_HOST else self._base
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the token is fetched again

    # --- the access token ----------------------------------------------------------------

    async def token(self) -> str:
        """The app's access token, fetched once for every caller waiting on it."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()
            if token is None:
                token, expire_s = await self._fetch_token()
                self._token = token
                self._refresh_at = time.monotonic() + max(expire_s - REFRESH_MARGIN_S, 0.0)
            return token

    def _fresh(self) -> str | None:
        if self._token is not None and time.monotonic() < self._refresh_at:
            return self._token
        return None

    def _forget(self, token: str) -> None:
        """Drop ``token`` (DingTalk refused it), unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch_token(self) -> tuple[str, float]:
        body = {
            "appKey": self.settings.client_id,
            "appSecret": self.settings.client_secret.get_secret_value(),
        }
        status, doc, headers = await self._http("POST", self._base + TOKEN_PATH, "token", body)
        token, expire = doc.get("accessToken"), doc.get("expireIn")
        if status == 200 and isinstance(token, str) and token and _seconds(expire):
            log.debug("dingtalk access token for %s fetched (%ss)", self.settings.client_id, expire)
            return token, float(expire)
        error = platform_error("accessToken", status, _code(doc), _message(doc), headers)
        if isinstance(error, RateLimited | Unavailable):
            raise error
        # Anything else is our client_id/client_secret: no retry will change that.
        if isinstance(error, AuthFailed):
            raise error
        raise AuthFailed(f"{error} ({CREDENTIALS_HINT})")

    # --- new API calls -------------------------------------------------------------------

    async def call(self, method: str, path: str, what: str, body: JSONObject) -> JSONObject:
        """One authenticated call; a refused token is replaced once and the call repeated."""
        token = await self.token()
        url = self._base + path
        status, doc, headers = await self._http(method, url, what, body, token=token)
        if status == 401 or (status == 400 and _code(doc) in TOKEN_INVALID):
            log.info("dingtalk %s: the access token was refused, fetching a new one", what)
            self._forget(token)
            token = await self.token()
            status, doc, headers = await self._http(method, url, what, body, token=token)
        if status == 200:
            return doc
        raise platform_error(what, status, _code(doc), _message(doc), headers)

    async def send_card(
        self,
        card_biz_id: str,
        card: str,
        *,
        conversation: str | None = None,
        user_id: str | None = None,
    ) -> JSONObject:
        """``interactiveCards/send``: a StandardCard (``card`` as a JSON string) to a group
        (``conversation``, an openConversationId) or to one person (``user_id``, a staff id)."""
        body: JSONObject = {
            "cardTemplateId": TEMPLATE_ID,
            "cardBizId": card_biz_id,
            "robotCode": self.settings.robot_code,
            "cardData": card,
            "sendOptions": {},
        }
        if self.settings.mode == "http" and self.settings.card_callback_url is not None:
            # Where this card's clicks go: the URL itself, and the route registered for it
            # with the secret DingTalk signs them with (``register_card_callback``).
            body["callbackUrl"] = str(self.settings.card_callback_url)
            body["callbackRouteKey"] = card_route_key(self.settings)
        if conversation is not None:
            body["openConversationId"] = conversation
        elif user_id is not None:
            body["singleChatReceiver"] = json.dumps({"userId": user_id})
        else:
            raise ValueError("a card goes to a conversation or to a user")
        return await self.call("POST", CARD_SEND_PATH, "interactiveCards.send", body)

    async def update_card(self, card_biz_id: str, card: str) -> None:
        """``PUT interactiveCards``: every copy of the card ``card_biz_id`` now shows ``card``."""
        body = {"cardBizId": card_biz_id, "cardData": card}
        await self.call("PUT", CARD_UPDATE_PATH, "interactiveCards.update", body)

    async def send_group_text(self, conversation: str, text: str) -> None:
        """``groupMessages/send``: a plain text from the robot to a group it is in."""
        body = {
            "robotCode": self.settings.robot_code,
            "openConversationId": conversation,
            "msgKey": TEXT_KEY,
            "msgParam": json.dumps({"content": text}, ensure_ascii=False),
        }
        await self.call("POST", GROUP_SEND_PATH, "groupMessages.send", body)

    async def send_user_text(self, user_ids: Sequence[str], text: str) -> None:
        """``oToMessages/batchSend``: a plain text from the robot to each person (staff ids)."""
        wanted = list(dict.fromkeys(u for u in user_ids if u))
        for start in range(0, len(wanted), USERS_PER_SEND):
            body = {
                "robotCode": self.settings.robot_code,
                "userIds": wanted[start : start + USERS_PER_SEND],
                "msgKey": TEXT_KEY,
                "msgParam": json.dumps({"content": text}, ensure_ascii=False),
            }
            await self.call("POST", USER_SEND_PATH, "oToMessages.batchSend", body)

    async def open_connection(self, subscriptions: Sequence[Mapping[str, str]]) -> JSONObject:
        """``gateway/connections/open``: the Stream websocket's ``endpoint`` and ``ticket``.

        Authenticated by the client id and secret in the body, not by a token.
        """
        body: JSONObject = {
            "clientId": self.settings.client_id,
            "clientSecret": self.settings.client_secret.get_secret_value(),
            "subscriptions": [dict(s) for s in subscriptions],
            "ua": UA,
        }
        url = self._base + OPEN_CONNECTION_PATH
        status, doc, headers = await self._http("POST", url, "connections.open", body)
        endpoint, ticket = doc.get("endpoint"), doc.get("ticket")
        if status == 200 and isinstance(endpoint, str) and isinstance(ticket, str):
            return doc
        if status == 200:
            raise Unavailable("dingtalk connections.open answered without endpoint and ticket")
        raise platform_error("connections.open", status, _code(doc), _message(doc), headers)

    async def register_card_callback(self, route_key: str, url: str, api_secret: str) -> None:
        """``card/callbacks/register``: card clicks routed by ``route_key`` are POSTed to
        ``url``, signed with ``api_secret`` (``x-ddpaas-signature``). Replaces an earlier
        registration of the key (``forceUpdate``): every start registers again."""
        body: JSONObject = {
            "callbackRouteKey": route_key,
            "callbackUrl": url,
            "apiSecret": api_secret,
            "forceUpdate": True,
        }
        doc = await self.call("POST", CARD_CALLBACK_REGISTER_PATH, "card.callbacks.register", body)
        if doc.get("success") is False:
            raise Rejected("dingtalk card.callbacks.register answered success: false")

    # --- the old API and the session webhook ---------------------------------------------

    async def user_id_by_mobile(self, mobile: str) -> str | None:
        """``topapi/v2/user/getbymobile``: the staff id with this mobile, None if nobody."""
        result = await self._oapi_result(BY_MOBILE_PATH, "user.getbymobile", {"mobile": mobile})
        user_id = result.get("userid") if result is not None else None
        return user_id if isinstance(user_id, str) and user_id else None

    async def user_profile(self, staff_id: str) -> JSONObject | None:
        """``topapi/v2/user/get``: a person's profile (``mobile``, ``email``, ``org_email``,
        ``unionid``, …), None if the organization has nobody by that staff id.

        DingTalk leaves out the fields the app may not read (the mobile and the emails each
        need their own permission), so any of them may be missing.
        """
        body: JSONObject = {"userid": staff_id, "language": "en_US"}
        return await self._oapi_result(USER_PATH, "user.get", body)

    async def _oapi_result(self, path: str, what: str, body: JSONObject) -> JSONObject | None:
        """An old-API call's ``result``, None when DingTalk knows no such user; a refused
        token is replaced once."""
        token = await self.token()
        doc = await self._oapi_call(path, what, body, token)
        if doc.get("errcode") in OAPI_TOKEN_INVALID:
            self._forget(token)
            token = await self.token()
            doc = await self._oapi_call(path, what, body, token)
        if doc.get("errcode") == OAPI_USER_NOT_FOUND:
            return None
        _check_oapi(what, 200, doc)
        result = doc.get("result")
        return result if isinstance(result, dict) else None

    def may_post_to(self, url: str) -> bool:
        """Whether ``url`` (a message's ``sessionWebhook``) is DingTalk's, or our API's host.

        It came in a message: POSTing to any URL it names would let whoever can send us a
        message make the gateway call inside our network.
        """
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return False
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and (
            host == DINGTALK_DOMAIN or host.endswith("." + DINGTALK_DOMAIN)
        ):
            return True
        return (parts.scheme, host, port) == self._origin

    async def reply_in_session(
        self, url: str, text: str, *, at_user_ids: Sequence[str] = ()
    ) -> None:
        """POST a text to a message's ``sessionWebhook`` (its own token is in the URL).

        Raises Rejected when ``url`` is not one ``may_post_to`` allows.
        """
        if not self.may_post_to(url):
            raise Rejected("dingtalk sessionWebhook is not a DingTalk URL", code="bad_webhook")
        body: JSONObject = {"msgtype": "text", "text": {"content": text}}
        if at_user_ids:
            body["at"] = {"atUserIds": list(at_user_ids)}
        status, doc, _headers = await self._http("POST", url, "sessionWebhook", body)
        _check_oapi("sessionWebhook", status, doc)

    async def _oapi_call(self, path: str, what: str, body: JSONObject, token: str) -> JSONObject:
        status, doc, _headers = await self._http(
            "POST", self._oapi + path, what, body, params={"access_token": token}
        )
        if status != 200 or not isinstance(doc.get("errcode"), int):
            _check_oapi(what, status, doc)
        return doc

    # --- the wire ------------------------------------------------------------------------

    async def _http(
        self,
        method: str,
        url: str,
        what: str,
        body: JSONObject,
        *,
        token: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[int, JSONObject, Mapping[str, str]]:
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if token is not None:
            headers[TOKEN_HEADER] = token
        extra: dict[str, Any] = {"timeout": self._timeout} if self._timeout else {}
        try:
            async with self._session.request(
                method,
                url,
                params=dict(params or {}),
                data=json.dumps(body, ensure_ascii=False).encode(),
                headers=headers,
                **extra,
            ) as response:
                raw = await response.read()
                status, answered = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"dingtalk {what} unreachable: {type(exc).__name__}: {exc}") from exc
        try:
            doc = json.loads(raw) if raw else {}
        except (ValueError, UnicodeDecodeError):
            doc = {}
        if isinstance(doc, dict) and doc.get("punish") == PUNISH_DENY:
            raise RateLimited(f"dingtalk {what}: blocked by DingTalk's gateway", THROTTLE_RETRY_S)
        return status, doc if isinstance(doc, dict) else {}, answered


def card_route_key(settings: DingtalkSettings) -> str:
    """The ``callbackRouteKey`` this app's card clicks are routed by (one per app)."""
    return f"ackgate-{settings.client_id}"


def _check_oapi(what: str, status: int, doc: Mapping[str, Any]) -> None:
    """Raise unless an old-API (or session webhook) answer is ``errcode: 0``."""
    errcode = doc.get("errcode")
    if status == 200 and errcode == 0:
        return
    code = errcode if isinstance(errcode, int) and not isinstance(errcode, bool) else None
    raise oapi_error(what, status, code, str(doc.get("errmsg") or doc.get("message") or ""))


def _code(doc: Mapping[str, Any]) -> str:
    code = doc.get("code")
    return code if isinstance(code, str) else ""


def _message(doc: Mapping[str, Any]) -> str:
    message = doc.get("message")
    return message if isinstance(message, str) else ""


def _seconds(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
