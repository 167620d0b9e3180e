"""Our small aiohttp client for the Bot Connector REST API: the bot's token (client
credentials), and sending, replying to and updating activities, and opening a 1:1 chat.

Plain HTTP rather than botframework-connector's ConnectorClient: that one goes through msrest
and ``requests`` in a thread (proxies, no timeout of ours, a second HTTP stack), while these
five calls are simple JSON. The token is cached and fetched again under an ``asyncio.Lock`` a
while before it runs out; a call Teams answers 401 gets a new token and is sent once more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import quote

import aiohttp
from yarl import URL

from adapters.teams.addresses import Address
from adapters.teams.errors import connector_error, token_error
from gateway.config import TeamsSettings
from gateway.domain import JSONObject
from gateway.errors import Rejected, Unavailable

log = logging.getLogger(__name__)

LOGIN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
MULTI_TENANT = "botframework.com"  # the token authority of multi-tenant bots
SCOPE = "https://api.botframework.com/.default"
# An AAD token lasts about an hour; it is fetched again this long before it would run out.
REFRESH_MARGIN_S = 5 * 60
DEFAULT_EXPIRES_S = 3600.0


def token_url(settings: TeamsSettings) -> str:
    """Where the bot's token comes from: ``teams.token_url``, else its tenant's login URL."""
    if settings.token_url is not None:
        return str(settings.token_url)
    return LOGIN_URL.format(tenant=settings.tenant_id or MULTI_TENANT)


def bot_id(app_id: str) -> str:
    """The bot's Teams id (its MRI) for an app id."""
    return f"28:{app_id}"


class ConnectorApi:
    """One bot's Bot Connector client over ``session``; every call returns JSON or raises.

    Raises PlatformError subclasses only (see ``adapters.teams.errors``).
    """

    def __init__(
        self,
        settings: TeamsSettings,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float | None = None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        self._token_url = token_url(settings)
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic() after which the token is fetched again

    # --- the bot's token -----------------------------------------------------------------

    async def token(self) -> str:
        """The bot's access token, fetched once for every caller waiting on it."""
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
        """Drop ``token`` (Teams refused it), unless another caller already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.app_id,
            "client_secret": self._settings.app_password.get_secret_value(),
            "scope": SCOPE,
        }
        status, raw, headers = await self._http("POST", URL(self._token_url), "token", data=form)
        doc = _json(raw)
        token, expires = doc.get("access_token"), doc.get("expires_in")
        if status == 200 and isinstance(token, str) and token:
            seconds = float(expires) if isinstance(expires, int | float) else DEFAULT_EXPIRES_S
            log.debug("teams bot token fetched (%ss)", seconds)
            return token, seconds
        if status == 200:
            raise Unavailable("teams token endpoint answered 200 without an access_token")
        raise token_error(status, raw, headers)

    # --- activities ----------------------------------------------------------------------

    async def send(self, conversation: Address, activity: JSONObject) -> str:
        """``POST …/v3/conversations/{id}/activities``: a new message; its activity id."""
        doc = await self._call(
            "POST", _url(conversation.service_url, conversation.id, "activities"), "send", activity
        )
        return _id(doc, "send")

    async def reply(self, conversation: Address, reply_to: str, activity: JSONObject) -> str:
        """``POST …/activities/{replyToId}``: a message answering ``reply_to``; its id."""
        url = _url(conversation.service_url, conversation.id, "activities", reply_to)
        doc = await self._call("POST", url, "reply", {**activity, "replyToId": reply_to})
        return _id(doc, "reply")

    async def update(self, conversation: Address, activity_id: str, activity: JSONObject) -> None:
        """``PUT …/activities/{activityId}``: the message ``activity_id`` says this now."""
        url = _url(conversation.service_url, conversation.id, "activities", activity_id)
        await self._call("PUT", url, "update", {**activity, "id": activity_id})

    async def personal_chat(self, service_url: str, user_id: str, tenant_id: str | None) -> str:
        """``POST /v3/conversations``: the 1:1 chat between the bot and ``user_id``; its id.

        Teams answers with the existing chat when there is one. The bot must be installed for
        the user (personally, or in a team they are in).
        """
        body: JSONObject = {
            "isGroup": False,
            "bot": {"id": bot_id(self._settings.app_id)},
            "members": [{"id": user_id}],
        }
        if tenant_id:
            body["tenantId"] = tenant_id
            body["channelData"] = {"tenant": {"id": tenant_id}}
        doc = await self._call("POST", _url(service_url), "createConversation", body)
        return _id(doc, "createConversation")

    async def member(self, conversation: Address, user_id: str) -> JSONObject:
        """``GET …/members/{userId}``: a member's profile (email, UPN, aadObjectId)."""
        url = _url(conversation.service_url, conversation.id, "members", user_id)
        return await self._call("GET", url, "getMember")

    # --- HTTP ----------------------------------------------------------------------------

    async def _call(
        self, method: str, url: URL, what: str, body: JSONObject | None = None
    ) -> JSONObject:
        """One authenticated call; a refused token is replaced once."""
        token = await self.token()
        status, raw, headers = await self._authorized(method, url, what, body, token)
        if status == 401:
            self._forget(token)
            log.info("teams %s answered 401: fetching a new token", what)
            status, raw, headers = await self._authorized(
                method, url, what, body, await self.token()
            )
        if 200 <= status < 300:
            return _json(raw)
        raise connector_error(what, status, raw, headers)

    async def _authorized(
        self, method: str, url: URL, what: str, body: JSONObject | None, token: str
    ) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Authorization": f"Bearer {token}"}
        return await self._http(method, url, what, json_body=body, headers=headers)

    async def _http(
        self,
        method: str,
        url: URL,
        what: str,
        *,
        json_body: JSONObject | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        try:
            async with self._session.request(
                method, url, json=json_body, data=data, headers=headers, timeout=self._timeout
            ) as response:
                return response.status, await response.read(), dict(response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"teams {what} unreachable: {type(exc).__name__}: {exc}") from exc


def _url(
    service_url: str,
    conversation: str | None = None,
    collection: str | None = None,
    item: str | None = None,
) -> URL:
    """``{serviceUrl}/v3/conversations[/{id}[/{collection}[/{item}]]]``, each id encoded whole
    (conversation and activity ids hold ``:;@=``), as the Bot Framework SDK encodes them."""
    path = "/v3/conversations"
    if conversation is not None:
        path += "/" + quote(conversation, safe="")
    if collection is not None:
        path += "/" + collection
    if item is not None:
        path += "/" + quote(item, safe="")
    return URL(service_url.rstrip("/") + path, encoded=True)


def _id(doc: JSONObject, what: str) -> str:
    found = doc.get("id")
    if not isinstance(found, str) or not found:
        # Sent, but with nothing to update it by: another try would post it twice.
        raise Rejected(f"teams {what} answered without an id", code="no_id")
    return found


def _json(raw: bytes) -> JSONObject:
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}
