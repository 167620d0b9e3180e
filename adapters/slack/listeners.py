"""Bolt listeners: buttons, modals, the slash command, DMs and @mentions, each translated into
``gateway`` calls and answered inside Slack's 3-second deadline."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.say.async_say import AsyncSay
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.recent import Recent
from adapters.slack.acting import LANG, SlackActors
from adapters.slack.commands import strip_mention
from adapters.slack.conversation import RECENT_EVENTS, Conversation, Reply
from adapters.slack.errors import call
from adapters.slack.modals import CALLBACK_ID, MODAL_VERBS, modal, read_submission
from cards import callback
from cards.render.slack import ACTION_PREFIX, LINK_ACTION_PREFIX
from gateway import messages
from gateway.domain import JSONObject, Verb
from gateway.errors import ActionRefused, MalformedPayload, NotFound, PlatformError

log = logging.getLogger(__name__)

VERB_ACTION = re.compile(rf"^{re.escape(ACTION_PREFIX)}[a-z_]+$")
LINK_ACTION = re.compile(rf"^{re.escape(LINK_ACTION_PREFIX)}")


class SlackListeners:
    """Everything Bolt dispatches to; ``register`` attaches it to an AsyncApp."""

    def __init__(self, actors: SlackActors) -> None:
        self.actors = actors
        self.conversation = Conversation(actors)
        self.recent: Recent[str] = Recent(RECENT_EVENTS)

    def register(self, bolt: AsyncApp) -> None:
        """Attach every listener to ``bolt``."""
        # Bolt tries listeners in order: the one every click needs goes first.
        bolt.action(VERB_ACTION)(self.on_button)
        bolt.action(LINK_ACTION)(self.on_link_button)
        bolt.view_submission(CALLBACK_ID)(self.on_submission)
        bolt.command(self.actors.settings.command)(self.on_command)
        bolt.event("message")(self.on_message)
        bolt.event("app_mention")(self.on_mention)

    # --- buttons and modals ---------------------------------------------------------------

    async def on_link_button(self, ack: AsyncAck) -> None:
        """A URL button: Slack opens the link itself and still tells us; nothing to do."""
        await ack()

    async def on_button(
        self, ack: AsyncAck, body: JSONObject, action: JSONObject, client: AsyncWebClient
    ) -> None:
        """Acknowledge/Close/Reopen act at once; Escalate/Comment open a modal."""
        user_id = str(body["user"]["id"])
        team_id = _team(body)
        try:
            verb, number = callback.decode(str(action.get("value") or ""))
        except MalformedPayload:
            await ack()
            await self._tell(client, body, messages.text("slack_bad_button", LANG))
            return
        if verb in MODAL_VERBS:
            await self._open_modal(ack, body, client, verb, number, user_id, team_id)
            return
        try:
            outcome = await self.actors.perform(
                client,
                user_id=user_id,
                team_id=team_id,
                incident=number,
                verb=verb,
                callback_id=_str(action.get("action_ts")),
            )
        except (ActionRefused, NotFound) as refusal:
            await ack()
            await self._tell(client, body, refusal.message)
            return
        # The card is refreshed by the outbox; the clicker only hears about a no-op.
        await ack()
        if not outcome.changed and outcome.code != "duplicate":
            await self._tell(client, body, outcome.message)

    async def _open_modal(
        self,
        ack: AsyncAck,
        body: JSONObject,
        client: AsyncWebClient,
        verb: Verb,
        number: int,
        user_id: str,
        team_id: str | None,
    ) -> None:
        try:
            await self.actors.require_member(client, user_id, team_id)
        except ActionRefused as refusal:
            await ack()
            await self._tell(client, body, refusal.message)
            return
        try:
            # trigger_id lives 3 s from the click: open first, acknowledge after.
            view = modal(verb, number, LANG)
            await call(client.views_open(trigger_id=str(body["trigger_id"]), view=view))
        except PlatformError as exc:
            log.warning("slack views.open for #%s failed: %s", number, exc)
            await ack()
            text = messages.text(
                "slack_modal_failed",
                LANG,
                command=self.actors.settings.command,
                verb=verb.value,
                number=number,
            )
            await self._tell(client, body, text)
            return
        await ack()

    async def on_submission(
        self, ack: AsyncAck, body: JSONObject, view: JSONObject, client: AsyncWebClient
    ) -> None:
        """A modal's Submit: comment, or escalate to the picked person (or the next level)."""
        try:
            sent = read_submission(view)
        except MalformedPayload as exc:
            log.warning("slack view_submission not understood: %s", exc)
            await ack()
            return
        args: dict[str, Any] = {}
        if sent.verb is Verb.COMMENT:
            args["text"] = sent.text
        elif sent.user is not None:
            member = await self.actors.member(client, sent.user)
            if member is None:
                text = messages.text("slack_target_not_linked", LANG, user=sent.user)
                await ack(response_action="errors", errors={sent.input_block: text})
                return
            args["member"] = member
        try:
            await self.actors.perform(
                client,
                user_id=str(body["user"]["id"]),
                team_id=_team(body),
                incident=sent.incident,
                verb=sent.verb,
                args=args,
                callback_id=f"view:{view.get('id')}",
            )
        except (ActionRefused, NotFound) as refusal:
            await ack(response_action="errors", errors={sent.input_block: refusal.message})
            return
        await ack()

    # --- text commands ----------------------------------------------------------------------

    async def on_command(self, ack: AsyncAck, command: JSONObject, client: AsyncWebClient) -> None:
        """``/oncall ack 42``: answered in the HTTP response, seen only by who typed it."""
        trigger = _str(command.get("trigger_id"))
        reply = await self.conversation.answer(
            client,
            str(command.get("text") or ""),
            user_id=str(command["user_id"]),
            team_id=_str(command.get("team_id")),
            callback_id=trigger and f"command:{trigger}",
        )
        answer: JSONObject = {"response_type": "ephemeral", "text": reply.text}
        if reply.blocks:
            answer["blocks"] = reply.blocks
        await ack(answer)

    async def on_message(
        self, body: JSONObject, event: JSONObject, say: AsyncSay, client: AsyncWebClient
    ) -> None:
        """A direct message to the bot; every other message event is acknowledged and dropped."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        event_id = _str(body.get("event_id"))
        with self.recent.running(event_id) as fresh:
            if not fresh:
                return
            reply = await self._answer_event(client, body, event, str(event.get("text") or ""))
            await _quietly(say(text=reply.text, blocks=reply.blocks), "chat.postMessage")

    async def on_mention(self, body: JSONObject, event: JSONObject, client: AsyncWebClient) -> None:
        """``@ackgate ack 42`` in a channel: the answer is shown to the sender only."""
        event_id = _str(body.get("event_id"))
        with self.recent.running(event_id) as fresh:
            if not fresh:
                return
            text = strip_mention(str(event.get("text") or ""))
            reply = await self._answer_event(client, body, event, text)
            ephemeral = client.chat_postEphemeral(
                channel=str(event.get("channel")),
                user=str(event.get("user")),
                text=reply.text,
                blocks=reply.blocks,
                thread_ts=_str(event.get("thread_ts")),
            )
            await _quietly(ephemeral, "chat.postEphemeral")

    async def _answer_event(
        self, client: AsyncWebClient, body: JSONObject, event: JSONObject, text: str
    ) -> Reply:
        event_id = _str(body.get("event_id"))
        return await self.conversation.answer(
            client,
            text,
            user_id=str(event.get("user")),
            team_id=_str(body.get("team_id")),
            callback_id=event_id and f"event:{event_id}",
        )

    async def _tell(self, client: AsyncWebClient, body: JSONObject, text: str) -> None:
        """An ephemeral line to the person who clicked, where they clicked."""
        channel = _str((body.get("channel") or {}).get("id"))
        if channel is None:
            log.warning("slack: nowhere to answer %s (no channel in the payload)", body.get("type"))
            return
        request = client.chat_postEphemeral(
            channel=channel, user=str(body["user"]["id"]), text=text
        )
        await _quietly(request, "chat.postEphemeral")


async def _quietly(request: Awaitable[AsyncSlackResponse], method: str) -> None:
    """Send an answer; one that Slack refuses is logged, there is no one else to tell."""
    try:
        await call(request)
    except PlatformError as exc:
        log.warning("slack %s failed: %s", method, exc)


def _team(body: JSONObject) -> str | None:
    team = body.get("team") or {}
    return _str(team.get("id")) or _str((body.get("user") or {}).get("team_id"))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
