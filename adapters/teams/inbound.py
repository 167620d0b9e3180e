"""``POST /hooks/teams``: every activity the Bot Connector service sends (the bot's messaging
endpoint), checked by the Bot Framework's JWT validation before anything is read further.

The HTTP layer is ours rather than botbuilder's ``CloudAdapter.process()``, which answers 500
to every ``Action.Execute`` invoke (it serializes the invoke's body twice) and 500 instead of
401 to a request without an ``Authorization`` header. Card actions (``adaptiveCard/action``)
are answered inline with the card as it is now; messages are answered with a reply.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from functools import partial

import aiohttp
from aiohttp import web

from adapters.recent import Recent
from adapters.teams.acting import LANG, TeamsActors
from adapters.teams.activity import CARD_ACTION, CHANNEL_ID, Incoming, read
from adapters.teams.addresses import KNOWN, conversation_root
from adapters.teams.clicks import CardActions
from adapters.teams.connector import ConnectorApi, token_url
from adapters.teams.conversation import Conversation, Reply
from adapters.teams.transport import ChannelAuth
from adapters.teams.views import card_message, text_message
from cards.render.teams import DATA_KEY
from gateway import messages
from gateway.config import TeamsSettings
from gateway.domain import JSONObject
from gateway.errors import Forbidden, MalformedPayload, PlatformError, Unauthorized, Unavailable
from gateway.runtime import Runtime
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/teams"
# Teams waits about 15 s for an answer; a reply sent while it waits must leave room.
CALL_TIMEOUT_S = 5.0
RECENT_ACTIVITIES = 10_000  # activity ids remembered; the Bot Connector retries a failed POST


class TeamsInbound:
    """Checks what arrives and hands each activity to its handler."""

    def __init__(
        self, rt: Runtime, settings: TeamsSettings, auth: ChannelAuth, api: ConnectorApi
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.api = api
        actors = TeamsActors(rt, api)
        self.clicks = CardActions(actors)
        self.conversation = Conversation(actors, api)
        self.recent: Recent[str] = Recent(RECENT_ACTIVITIES)

    async def receive(self, body: bytes, authorization: str) -> web.Response:
        """The answer to one request.

        Raises Unauthorized (401: no token, or a token that fails any check), MalformedPayload
        (400) and Forbidden (403: another tenant than ``teams.tenant_id``).
        """
        activity = read(_json(body))
        try:
            await self.auth.check(authorization, activity.channel_id, activity.service_url)
        except Unavailable as exc:
            log.warning("teams activity not checked, so not processed: %s", exc)
            return web.Response(status=503, text="cannot check the token now, retry later")
        if activity.channel_id != CHANNEL_ID:
            raise MalformedPayload(f"{activity.channel_id!r} is not Teams", "channelId")
        tenant = self.settings.tenant_id
        if tenant and activity.tenant_id != tenant:
            raise Forbidden(f"teams: tenant {activity.tenant_id} is not teams.tenant_id")
        _learn(activity)
        if activity.type == "invoke":
            if activity.name != CARD_ACTION:
                log.debug("teams invoke %s not handled", activity.name)
                return web.Response(status=501)
            # Not deduplicated: a retried click is answered again (its action acts once).
            return web.json_response(await self.clicks.execute(activity))
        key = f"{activity.conversation_id}|{activity.id}"
        if activity.id and not self.recent.claim(key):
            log.info("teams activity %s seen before: ignored", activity.id)
            return web.Response()
        try:
            if activity.type == "message":
                await self._message(activity)
            elif activity.type == "conversationUpdate":
                await self._joined(activity)
        except BaseException:
            self.recent.forget(key)
            raise
        return web.Response()

    async def _message(self, activity: Incoming) -> None:
        """A command, or an old client's Action.Submit; answered with a reply."""
        user = activity.sender
        if user is None or user.id == activity.recipient_id:
            return
        if isinstance(activity.value, Mapping) and DATA_KEY in activity.value:
            reply = Reply(await self.clicks.submit(activity))
        elif activity.text.strip():
            reply = await self.conversation.answer(activity, user)
        else:
            return
        await self._reply(activity, reply)

    async def _joined(self, activity: Incoming) -> None:
        """The bot was added to a chat or team: say hello, and the chat id to configure."""
        if activity.recipient_id not in activity.members_added:
            return
        text = messages.text("teams_welcome", LANG)
        if not activity.personal:
            text = f"{text}\n\n{messages.text('teams_chat_id', LANG, chat=activity.chat)}"
        await self._reply(activity, Reply(text))

    async def _reply(self, activity: Incoming, reply: Reply) -> None:
        """Answer in the activity's conversation; a refusal is logged (no one else to tell)."""
        message = (
            card_message(reply.card, reply.text)
            if reply.card is not None
            else text_message(reply.text)
        )
        try:
            if activity.id and activity.type == "message":
                await self.api.reply(activity.conversation, activity.id, message)
            else:
                await self.api.send(activity.conversation, message)
        except PlatformError as exc:
            log.warning("teams reply in %s failed: %s", activity.conversation_id, exc)


def _learn(activity: Incoming) -> None:
    """Where this user and chat are served: the sender needs it to reach them later."""
    user = activity.sender
    ids: list[str | None] = [activity.conversation_id, conversation_root(activity.conversation_id)]
    if user is not None:
        ids += [user.id, user.aad_object_id]
    KNOWN.learn(ids, activity.service_url, activity.tenant_id)


TEAMS = web.AppKey("teams_inbound", TeamsInbound)


def add_routes(app: web.Application, settings: TeamsSettings) -> None:
    """Register ``POST /hooks/teams``; what answers it is built when ``app`` starts."""
    app.cleanup_ctx.append(partial(_inbound, settings=settings))
    app.router.add_post(PATH, handle)


async def handle(request: web.Request) -> web.Response:
    """Refuse a request without a token before reading it; hand the rest to TeamsInbound."""
    authorization = request.headers.get("Authorization", "")
    if not authorization:
        raise Unauthorized("teams: no Authorization header")
    return await request.app[TEAMS].receive(await request.read(), authorization)


async def _inbound(app: web.Application, *, settings: TeamsSettings) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S))
    auth = ChannelAuth(settings, token_url(settings))
    app[TEAMS] = TeamsInbound(
        app[RUNTIME], settings, auth, ConnectorApi(settings, session, timeout_s=CALL_TIMEOUT_S)
    )
    yield
    auth.close()
    await session.close()


def _json(raw: bytes) -> JSONObject:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload("is not JSON", "body") from None
    if not isinstance(doc, dict):
        raise MalformedPayload("must be a JSON object", "body")
    return doc
