"""Our small aiohttp client for the Zoom chatbot API: the client-credentials token, and sending
and editing chatbot messages.

The token is cached per client and fetched again under an ``asyncio.Lock`` a while before it
runs out; a call Zoom answers 401 gets a new token and is sent once more.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.zoom.errors import platform_error, token_error
from gateway.config import ZoomSettings
from gateway.domain import JSONObject
from gateway.errors import Rejected, Unavailable

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path
MESSAGES_PATH = "/v2/im/chat/messages"
# Zoom's chatbot token lasts an hour and cannot be refreshed, only requested again: it is,
# this long before it would run out.
REFRESH_MARGIN_S = 5 * 60
DEFAULT_EXPIRES_S = 3600.0


class ZoomApi:
    """One chatbot's API client over ``session``; every call returns Zoom's JSON or raises.

    Raises PlatformError subclasses only (see ``adapters.zoom.errors``).
    """

    def __init__(
        self,
        settings: ZoomSettings,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float | None = None,
    ) -> None:
        self._settings = settings
        self._api = str(settings.api_base_url).rstrip("/")
        self._oauth = str(settings.oauth_url).rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the token is fetched again

    # --- the chatbot token ---------------------------------------------------------------

    async def token(self) -> str:
        """The chatbot token, fetched once for every caller waiting on it."""
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
        """Drop ``token`` (Zoom refused it), unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch_token(self) -> tuple[str, float]:
        secret = self._settings.client_secret.get_secret_value()
        # Written out rather than aiohttp.BasicAuth, which aiohttp 3.14 deprecates.
        pair = base64.b64encode(f"{self._settings.client_id}:{secret}".encode()).decode()
        status, raw, headers = await self._http(
            "POST",
            self._oauth + TOKEN_PATH,
            "oauth/token",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {pair}"},
        )
        doc = _json(raw)
        token, expires = doc.get("access_token"), doc.get("expires_in")
        if status == 200 and isinstance(token, str) and token:
            seconds = float(expires) if isinstance(expires, int | float) else DEFAULT_EXPIRES_S
            log.debug("zoom chatbot token fetched (%ss)", seconds)
            return token, seconds
        if status == 200:
            raise Unavailable("zoom oauth/token answered 200 without an access_token")
        raise token_error(status, raw, headers)

    # --- chatbot messages ----------------------------------------------------------------

    async def send(
        self,
        to_jid: str,
        content: JSONObject,
        *,
        reply_to: str | None = None,
        visible_to_user: str | None = None,
    ) -> JSONObject:
        """``POST /v2/im/chat/messages``: a new message to a channel or a user (a DM)."""
        body: JSONObject = {
            "robot_jid": self._settings.bot_jid,
            "to_jid": to_jid,
            "account_id": self._settings.account_id,
            "content": content,
        }
        if reply_to:
            body["reply_to"] = reply_to
        if visible_to_user:
            body["visible_to_user"] = visible_to_user
        return await self.call("POST", MESSAGES_PATH, "im.chat.messages.send", body)

    async def edit(self, message_id: str, content: JSONObject) -> None:
        """``PUT /v2/im/chat/messages/{message_id}``: the message now shows ``content``."""
        body: JSONObject = {
            "robot_jid": self._settings.bot_jid,
            "account_id": self._settings.account_id,
            "content": content,
        }
        path = f"{MESSAGES_PATH}/{_segment(message_id)}"
        await self.call("PUT", path, "im.chat.messages.edit", body)

    async def call(self, method: str, path: str, what: str, body: JSONObject) -> JSONObject:
        """One call with the chatbot token; a 401 gets a new token and one more try."""
        token = await self.token()
        status, raw, headers = await self._authorized(method, path, what, body, token)
        if status == 401:
            log.info("zoom %s: the chatbot token was refused, fetching a new one", what)
            self._forget(token)
            token = await self.token()
            status, raw, headers = await self._authorized(method, path, what, body, token)
        if 200 <= status < 300:
            return _json(raw)
        raise platform_error(what, status, raw, headers)

    async def _authorized(
        self, method: str, path: str, what: str, body: JSONObject, token: str
    ) -> tuple[int, bytes, Mapping[str, str]]:
        return await self._http(
            method,
            self._api + path,
            what,
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
            },
        )

    async def _http(
        self, method: str, url: str, what: str, **kwargs: Any
    ) -> tuple[int, bytes, Mapping[str, str]]:
        if self._timeout is not None:
            kwargs["timeout"] = self._timeout
        try:
            async with self._session.request(method, url, **kwargs) as response:
                return response.status, await response.read(), response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"zoom {what} unreachable: {type(exc).__name__}: {exc}") from exc


def _json(raw: bytes) -> JSONObject:
    try:
        doc = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _segment(message_id: str) -> str:
    """A message id as one URL path segment; anything that could leave it is refused."""
    if not message_id or any(c in message_id for c in "/?#%") or message_id in (".", ".."):
        raise Rejected(f"zoom: {message_id!r} is not a message id", code="bad_message_id")
    return message_id
