"""Our own small aiohttp client for the few Feishu/Lark Open API calls ackgate makes.

lark-oapi is not used for these on purpose: even its async methods fetch the tenant access
token with blocking ``requests`` calls (stalling the event loop, and deadlocking against a
server on the same loop), and it keeps that token in a process-global cache. Here the token
is cached per client and refreshed under an ``asyncio.Lock`` before it runs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from adapters.lark.errors import RATE_LIMITED, TOKEN_INVALID, platform_error
from gateway.config import LarkSettings
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, Rejected, Unavailable

log = logging.getLogger(__name__)

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"  # noqa: S105 - a path
MESSAGES_PATH = "/open-apis/im/v1/messages"
BATCH_GET_ID_PATH = "/open-apis/contact/v3/users/batch_get_id"
WS_ENDPOINT_PATH = "/callback/ws/endpoint"
# The long connection's "try again later" codes: system busy (1, and 1000040345 seen in the
# field) and internal error; any other non-zero code is a refusal of this app.
WS_BUSY = frozenset({1, 1000040343, 1000040345})
# Feishu hands out a new token only when the old one has less than 30 minutes left; asking
# then means the token in use is never near its end.
REFRESH_MARGIN_S = 30 * 60
BATCH_GET_ID_MAX = 50  # emails (and mobiles) per batch_get_id call
UUID_MAX = 50  # the ``uuid`` that makes a send idempotent for an hour


class LarkApi:
    """One app's Open API client over ``session``; every call returns ``data`` or raises.

    Raises PlatformError subclasses only (see ``adapters.lark.errors``).
    """

    def __init__(
        self,
        settings: LarkSettings,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float | None = None,
    ) -> None:
        self._base = settings.base_url
        self._app_id = settings.app_id
        self._app_secret = settings.app_secret
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the token is fetched again

    # --- the tenant access token ---------------------------------------------------------

    async def token(self) -> str:
        """The tenant access token, fetched once for every caller waiting on it."""
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
        """Drop ``token`` (Feishu refused it), unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch_token(self) -> tuple[str, float]:
        body = {"app_id": self._app_id, "app_secret": self._app_secret.get_secret_value()}
        status, doc, headers = await self._http("POST", TOKEN_PATH, "tenant_access_token", body)
        code, msg = _code(doc), str(doc.get("msg") or "")
        token, expire = doc.get("tenant_access_token"), doc.get("expire")
        if code == 0 and isinstance(token, str) and token and isinstance(expire, int | float):
            log.debug("lark tenant access token for %s fetched (%ss)", self._app_id, expire)
            return token, float(expire)
        error = platform_error("tenant_access_token", status, code, msg, headers)
        if status == 429 or code in RATE_LIMITED or status >= 500:
            raise error
        # Anything else is our app_id/app_secret: no retry will change that.
        raise AuthFailed(str(error))

    # --- calls ---------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        body: JSONObject | None = None,
    ) -> JSONObject:
        """One authenticated call; a refused token is replaced once and the call repeated."""
        token = await self.token()
        status, doc, headers = await self._http(method, path, what, body, params, token)
        if _code(doc) in TOKEN_INVALID:
            log.info("lark %s: the tenant access token was refused, fetching a new one", what)
            self._forget(token)
            token = await self.token()
            status, doc, headers = await self._http(method, path, what, body, params, token)
        code = _code(doc)
        if status == 200 and code == 0:
            data = doc.get("data")
            return data if isinstance(data, dict) else {}
        if code is None and status < 400:
            raise Unavailable(f"lark {what} answered {status} without a JSON body")
        raise platform_error(what, status, code, str(doc.get("msg") or ""), headers)

    async def send(
        self,
        receive_id_type: str,
        receive_id: str,
        msg_type: str,
        content: JSONObject,
        *,
        uuid: str | None = None,
    ) -> JSONObject:
        """``POST /im/v1/messages``: a new message to a chat (``chat_id``) or a person."""
        body: JSONObject = {
            "receive_id": receive_id,
            "msg_type": msg_type,
            "content": _content(content),
        }
        if uuid:
            body["uuid"] = uuid[:UUID_MAX]
        return await self.call(
            "POST",
            MESSAGES_PATH,
            "im.message.create",
            params={"receive_id_type": receive_id_type},
            body=body,
        )

    async def update_card(self, message_id: str, card: JSONObject) -> None:
        """``PATCH /im/v1/messages/:id``: every view of a shared card shows ``card``."""
        path = f"{MESSAGES_PATH}/{_segment(message_id)}"
        await self.call("PATCH", path, "im.message.patch", body={"content": _content(card)})

    async def reply(
        self,
        message_id: str,
        msg_type: str,
        content: JSONObject,
        *,
        in_thread: bool = False,
        uuid: str | None = None,
    ) -> JSONObject:
        """``POST /im/v1/messages/:id/reply``: an answer to a message (in its thread)."""
        body: JSONObject = {"msg_type": msg_type, "content": _content(content)}
        if in_thread:
            body["reply_in_thread"] = True
        if uuid:
            body["uuid"] = uuid[:UUID_MAX]
        path = f"{MESSAGES_PATH}/{_segment(message_id)}/reply"
        return await self.call("POST", path, "im.message.reply", body=body)

    async def open_ids_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """``POST /contact/v3/users/batch_get_id``: the open_id of each email Feishu knows.

        Keys are lower-cased emails; people outside the app's data permissions are absent.
        """
        wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
        found: dict[str, str] = {}
        for start in range(0, len(wanted), BATCH_GET_ID_MAX):
            chunk = wanted[start : start + BATCH_GET_ID_MAX]
            data = await self.call(
                "POST",
                BATCH_GET_ID_PATH,
                "contact.user.batch_get_id",
                params={"user_id_type": "open_id"},
                body={"emails": chunk, "include_resigned": False},
            )
            for user in data.get("user_list") or ():
                if not isinstance(user, dict):
                    continue
                email, open_id = user.get("email"), user.get("user_id")
                if isinstance(email, str) and isinstance(open_id, str) and open_id:
                    found[email.strip().lower()] = open_id
        return found

    async def ws_endpoint(self) -> JSONObject:
        """``POST /callback/ws/endpoint``: where this app's long connection is to be opened.

        Answers ``data``: ``URL`` (the websocket, with ``device_id`` and ``service_id``) and
        ``ClientConfig``. The app id and secret are the only credentials; no token is used.
        Raises Unavailable (unreachable, busy) or AuthFailed (this app was refused: wrong
        credentials, not a self-built app, or not set to receive events this way).
        """
        what = "callback/ws/endpoint"
        body = {"AppID": self._app_id, "AppSecret": self._app_secret.get_secret_value()}
        status, doc, _headers = await self._http("POST", WS_ENDPOINT_PATH, what, body)
        code, msg = _code(doc), str(doc.get("msg") or "")
        data = doc.get("data")
        if status == 200 and code == 0 and isinstance(data, dict):
            return data
        text = f"lark {what} answered {status}: {code if code is not None else '-'} {msg}".rstrip()
        busy = status >= 500 or status == 429 or code in WS_BUSY or code in RATE_LIMITED
        if not busy and (status >= 400 or code not in (None, 0)):
            raise AuthFailed(text)
        raise Unavailable(text)

    async def _http(
        self,
        method: str,
        path: str,
        what: str,
        body: JSONObject | None = None,
        params: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> tuple[int, JSONObject, Mapping[str, str]]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        extra: dict[str, Any] = {"timeout": self._timeout} if self._timeout else {}
        try:
            async with self._session.request(
                method,
                self._base + path,
                params=dict(params or {}),
                data=json.dumps(body or {}, ensure_ascii=False).encode(),
                headers=headers,
                **extra,
            ) as response:
                raw = await response.read()
                status, answered = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"lark {what} unreachable: {type(exc).__name__}: {exc}") from exc
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {}
        return status, doc if isinstance(doc, dict) else {}, answered


def _code(doc: Mapping[str, Any]) -> int | None:
    code = doc.get("code")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _content(doc: JSONObject) -> str:
    """A message's ``content``: its JSON, as a string."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _segment(message_id: str) -> str:
    """A message id as one URL path segment (ids look like ``om_…``; anything else is refused)."""
    if not message_id or "/" in message_id or "?" in message_id or "#" in message_id:
        raise Rejected(f"lark: {message_id!r} is not a message id", code="bad_message_id")
    return message_id
