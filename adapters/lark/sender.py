"""Posts incident cards to Feishu/Lark group chats and DMs, and keeps every card up to date."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.lark.api import LarkApi
from cards.build import Viewer, build_card
from cards.lines import event_line
from cards.render.lark import render_card
from gateway.config import LarkSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import Rejected, Unavailable
from gateway.outbox import Job, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
# ``post`` content is keyed by locale; one locale is shown to everyone.
POST_LOCALES = {"feishu": "zh_cn", "lark": "en_us"}


class LarkSender:
    """The outbox's sender for ``channel = "lark"``: ``op`` ``post``, ``update`` or ``reply``.

    No retries here: a failure is raised as a PlatformError and the outbox retries it.
    """

    channel = "lark"

    def __init__(self, settings: LarkSettings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._api = LarkApi(settings, session)

    async def send(self, job: Job) -> SendResult:
        """Post, update or answer one card; raises a PlatformError subclass when Feishu says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        raise Rejected(f"lark delivery has no known op: {op!r}", code="bad_op")

    async def _post(self, job: Job) -> SendResult:
        dest = job.destination
        user = dest.get("dm")
        if user is not None:
            if not self._settings.dm_assignees:
                # The core writes a DM for everyone paged; this app asked for none.
                log.debug("delivery %s: lark.dm_assignees is off, DM skipped", job.delivery_id)
                return SendResult()
            kind, target = "open_id", _text(user, "dm")
        else:
            kind, target = "chat_id", _text(dest.get("chat"), "chat")
        # The same uuid within an hour makes Feishu keep one message: a retry after a lost
        # answer does not post the card twice.
        data = await self._api.send(
            kind, target, "interactive", _card(job), uuid=f"ackgate-{job.delivery_id}"
        )
        message_id, chat_id = data.get("message_id"), data.get("chat_id")
        if not isinstance(message_id, str) or not isinstance(chat_id, str):
            raise Unavailable("lark im.message.create answered without message_id and chat_id")
        return SendResult(message_ref=message_id, chat_id=chat_id)

    async def _update(self, job: Job) -> SendResult:
        message_id = _text(job.destination.get("message"), "message")
        await self._api.update_card(message_id, _card(job))
        return SendResult()

    async def _reply(self, job: Job) -> SendResult:
        """One short line in the card's thread saying what changed (never superseded)."""
        message_id = _text(job.destination.get("message"), "message")
        entry = job.payload.get("entry")
        line = reply_line(entry, LANG) if isinstance(entry, Mapping) else None
        if line:
            content = post(line, POST_LOCALES[self._settings.region])
            await self._api.reply(
                message_id, "post", content, in_thread=True, uuid=f"ackgate-{job.delivery_id}"
            )
        return SendResult()


def post(text: str, locale: str = "zh_cn") -> JSONObject:
    """A ``post`` message showing ``text`` exactly as written, one paragraph per line.

    A post's ``text`` elements are literal: no mention, link or markup in ``text`` works.
    """
    # An empty paragraph would be an empty text element: a space keeps the blank line.
    lines = [line or " " for line in text.split("\n")]
    return {locale: {"title": "", "content": [[{"tag": "text", "text": line}] for line in lines]}}


def _card(job: Job) -> JSONObject:
    incident = job.payload.get("incident")
    if not isinstance(incident, dict):
        raise Rejected("lark delivery has no incident card", code="no_incident")
    url = job.payload.get("url")
    buttons = job.payload.get("buttons")
    viewer = Viewer(
        lang=LANG,
        link=url if isinstance(url, str) else None,
        buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
    )
    return render_card(build_card(incident, viewer), LANG)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"lark destination has no {field}", code=f"no_{field}")
    return value


def reply_line(entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """The plain line posted under a card for a timeline entry (None: the card says it all)."""
    return event_line(entry, lang, max_chars=REPLY_MAX)
