"""Posts incident cards to Feishu/Lark group chats and DMs, and keeps every card up to date."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.lark.api import LarkApi
from cards.build import Viewer, build_card, digest_of
from cards.lines import event_line
from cards.render.lark import render_card, render_digest
from gateway.config import LarkSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import Rejected, Unavailable
from gateway.outbox import Cap, Job, Pace, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
# ``post`` content is keyed by locale; one locale is shown to everyone.
POST_LOCALES = {"feishu": "zh_cn", "lark": "en_us"}
# Feishu's published limits (im/v1/messages create and patch, in our platform notes): 5
# messages a second to one group chat (shared by every bot in it) and 5 to one user, and,
# per API, 50 a second and 1,000 a minute for the app. A chat keeps to its 5 a second,
# cards and replies together (up to DIGEST_AFTER cards wait their turn, past that a digest
# card takes them); a person's DM never merges. Updates (PATCH) keep to the app's rate for
# that API: 50 at once, and no more than 1,000 a minute (50 in any 3 s). The per-message
# cap of a PATCH (5 a second) is never near: each card is updated once per change. New
# messages and replies also count against the app's 50 a second and 1,000 a minute for
# sending, which every chat shares.
CHAT_PACE = (5, 1.0)
SEND_CAPS = (Cap("lark:send:second", 50, 1.0), Cap("lark:send:minute", 1000, 60.0))
DIGEST_AFTER = 5
UPDATE_PACE = (50, 3.0)


class LarkSender:
    """The outbox's sender for ``channel = "lark"``: ``op`` ``post``, ``update`` or ``reply``.

    No retries here: a failure is raised as a PlatformError and the outbox retries it.
    """

    channel = "lark"

    def __init__(self, settings: LarkSettings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._api = LarkApi(settings, session)

    def pace(self, job: Job) -> Pace | None:
        """Messages count against their chat's (or person's) cap, updates against the app's."""
        op, dest = job.payload.get("op"), job.destination
        if op == "update":
            return Pace("lark:update", *UPDATE_PACE, digest_after=None)
        if dest.get("dm") is not None:
            if op != "post" or not self._settings.dm_assignees:
                return None  # nothing is sent
            who = dest.get("member") or dest["dm"]
            return Pace(f"lark:dm:{who}", *CHAT_PACE, digest_after=None, shared=SEND_CAPS)
        if op == "reply" and dest.get("reader"):  # under a card in a direct message
            return Pace(
                f"lark:dm:{dest['reader']}", *CHAT_PACE, digest_after=None, shared=SEND_CAPS
            )
        if op in ("post", "reply", "digest") and dest.get("chat"):
            return Pace(
                f"lark:chat:{dest['chat']}",
                *CHAT_PACE,
                digest_after=DIGEST_AFTER,
                shared=SEND_CAPS,
            )
        return None

    async def send(self, job: Job) -> SendResult:
        """Post, update or answer one card, or post or add to a digest card; raises a
        PlatformError subclass when Feishu says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        if op == "digest":
            return await self._digest(job)
        raise Rejected(f"lark delivery has no known op: {op!r}", code="bad_op")

    async def _digest(self, job: Job) -> SendResult:
        """Post a storm's digest card, or PATCH the one already there to add to it."""
        chat = _text(job.destination.get("chat"), "chat")
        digest = digest_of(job.payload, job.lang)
        card = render_digest(digest)
        message_id = job.destination.get("message")
        if isinstance(message_id, str) and message_id:
            await self._api.update_card(message_id, card)
            return SendResult(message_ref=message_id, chat_id=chat)
        # The uuid names this digest (its first notice's event, which is random) and what it
        # shows: a retry of it is not posted twice, and one showing more is never taken for it.
        numbers = [str(entry.incident) for entry in digest.entries]
        named = ",".join([str(job.payload.get("event_id") or ""), *numbers])
        uuid = "ackgate-digest-" + hashlib.sha256(named.encode()).hexdigest()[:24]
        data = await self._api.send("chat_id", chat, "interactive", card, uuid=uuid)
        posted, where = data.get("message_id"), data.get("chat_id")
        if not isinstance(posted, str) or not isinstance(where, str):
            raise Unavailable("lark im.message.create answered without message_id and chat_id")
        return SendResult(message_ref=posted, chat_id=where)

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
        line = reply_line(entry, job.lang) if isinstance(entry, Mapping) else None
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
        lang=job.lang,
        link=url if isinstance(url, str) else None,
        buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
    )
    return render_card(build_card(incident, viewer), viewer.lang)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"lark destination has no {field}", code=f"no_{field}")
    return value


def reply_line(entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """The plain line posted under a card for a timeline entry (None: the card says it all)."""
    return event_line(entry, lang, max_chars=REPLY_MAX)
