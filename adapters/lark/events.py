"""``im.message.receive_v1``: a DM to the bot or an @mention in a group, answered as a reply."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from adapters.lark.acting import LANG, LarkActors
from adapters.lark.api import LarkApi
from adapters.lark.conversation import Conversation, Reply, command_text, mention_names
from adapters.lark.sender import POST_LOCALES, post
from gateway import messages
from gateway.errors import PlatformError

log = logging.getLogger(__name__)


class MessageEvents:
    """Reads the command in a message and replies to that message with the answer."""

    def __init__(self, actors: LarkActors, api: LarkApi) -> None:
        self.conversation = Conversation(actors)
        self.api = api
        self.locale = POST_LOCALES[actors.settings.region]

    async def handle(self, event: Mapping[str, Any], event_id: str) -> None:
        """Act on one message event; messages from apps and non-commands are left alone."""
        sender = _obj(event.get("sender"))
        open_id = _obj(sender.get("sender_id")).get("open_id")
        message = _obj(event.get("message"))
        message_id = message.get("message_id")
        if sender.get("sender_type") != "user":
            return  # a bot's message (ours too): never a command
        if not isinstance(open_id, str) or not open_id or not isinstance(message_id, str):
            log.warning("lark message event %s has no sender or message id", event_id)
            return
        group = message.get("chat_type") != "p2p"
        mentions = [m for m in message.get("mentions") or () if isinstance(m, Mapping)]
        if message.get("message_type") != "text":
            if not group:
                await self._reply(
                    message_id, event_id, Reply(messages.text("lark_text_only", LANG))
                )
            return
        text = command_text(_text(message.get("content")), mentions, group=group)
        if text is None:
            return
        reply = await self.conversation.answer(
            text,
            open_id=open_id,
            callback_id=f"event:{event_id}",
            names=mention_names(mentions),
            private=not group,
        )
        await self._reply(message_id, event_id, reply)

    async def _reply(self, message_id: str, event_id: str, reply: Reply) -> None:
        """Answer under the person's message; a refused answer is logged (no one else to tell)."""
        # One uuid per event: a re-pushed event that got this far is not answered twice.
        uuid = f"ackgate-{event_id}"
        try:
            if reply.card is not None:
                await self.api.reply(message_id, "interactive", reply.card, uuid=uuid)
            else:
                await self.api.reply(message_id, "post", post(reply.text, self.locale), uuid=uuid)
        except PlatformError as exc:
            log.warning("lark reply to %s failed: %s", message_id, exc)


def _text(content: object) -> str:
    """The text of a text message's ``content`` (``{"text": "…"}`` as a JSON string)."""
    try:
        doc = json.loads(content) if isinstance(content, str) else None
    except ValueError:
        return ""
    text = doc.get("text") if isinstance(doc, dict) else None
    return text if isinstance(text, str) else ""


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
