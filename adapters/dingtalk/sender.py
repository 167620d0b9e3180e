"""Posts incident cards to DingTalk groups and members as the app's robot, and keeps every
posted card up to date."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.dingtalk.api import DingtalkApi
from cards.build import Viewer, build_card, digest_of
from cards.lines import event_line
from cards.render.dingtalk import card_data, render_card, render_digest
from gateway.config import DingtalkSettings
from gateway.domain import Verb
from gateway.errors import Rejected
from gateway.outbox import Job, Pace, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
CALL_TIMEOUT_S = 5.0  # per API call; the outbox bounds the whole send too
# A card sent to one person is "in" the robot's chat with them: its chat id says whose.
USER_CHAT_PREFIX = "user:"
# DingTalk publishes no per-chat cap for an app's robot (our platform notes, §2.4); the cap it
# publishes for its robots (a custom robot: 20 messages a minute to a group, then throttled
# for 10 minutes) is kept here for everything the robot says in one chat, cards and lines
# alike, in short bursts, 5 in any 15 s: a storm is seen after 5 cards, not 20. In a group
# up to DIGEST_AFTER cards wait their turn, past that a digest card takes them; a person's
# chat never merges. Card updates (PUT) say nothing new in a chat: they keep to the app's
# API rate (20 a second on the standard edition, same notes).
CHAT_PACE = (5, 15.0)
DIGEST_AFTER = 5
UPDATE_PACE = (20, 1.0)


def card_biz_id(job: Job) -> str:
    """The card's id at DingTalk (``cardBizId``), ours to choose; it is the message ref.

    The same for every attempt of a delivery, so DingTalk can tell a retry from a new card.
    """
    return f"ackgate-{job.incident_id}-{job.delivery_id}"


class DingtalkSender:
    """The outbox's sender for ``channel = "dingtalk"``: ``op`` ``post``, ``update``, ``reply``.

    No retries here: a failure is raised as a PlatformError and the outbox retries it.
    """

    channel = "dingtalk"

    def __init__(self, settings: DingtalkSettings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._api = DingtalkApi(settings, session, timeout_s=CALL_TIMEOUT_S)

    def pace(self, job: Job) -> Pace | None:
        """What the robot says counts against its chat's cap, card updates against the app's."""
        op, dest = job.payload.get("op"), job.destination
        if op == "update":
            return Pace("dingtalk:update", *UPDATE_PACE, digest_after=None)
        if dest.get("dm") is not None:
            if op != "post" or not self._settings.dm_assignees:
                return None  # nothing is sent
            chat = USER_CHAT_PREFIX + str(dest["dm"])
        else:
            chat = str(dest.get("chat") or "")
        if op not in ("post", "reply", "digest") or not chat:
            return None
        if chat.startswith(USER_CHAT_PREFIX):
            return Pace(f"dingtalk:chat:{chat}", *CHAT_PACE, digest_after=None)
        return Pace(f"dingtalk:chat:{chat}", *CHAT_PACE, digest_after=DIGEST_AFTER)

    async def send(self, job: Job) -> SendResult:
        """Post, update or answer one card, or post or add to a digest card; raises a
        PlatformError when DingTalk says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        if op == "digest":
            return await self._digest(job)
        raise Rejected(f"dingtalk delivery has no known op: {op!r}", code="bad_op")

    async def _digest(self, job: Job) -> SendResult:
        """Send a storm's digest card to its group, or replace the one there to add to it."""
        conversation = _text(job.destination.get("chat"), "chat")
        digest = digest_of(job.payload, job.lang)
        card = card_data(render_digest(digest))
        biz_id = job.destination.get("message")
        if isinstance(biz_id, str) and biz_id:
            await self._api.update_card(biz_id, card)
            return SendResult(message_ref=biz_id, chat_id=conversation)
        # The card's id names this digest (its first notice's event, which is random) and what
        # it shows: DingTalk keeps one card per id, so a retry of it is not sent twice, and
        # one showing more is never taken for it.
        numbers = [str(entry.incident) for entry in digest.entries]
        named = ",".join([str(job.payload.get("event_id") or ""), *numbers])
        biz_id = "ackgate-digest-" + hashlib.sha256(named.encode()).hexdigest()[:24]
        await self._api.send_card(biz_id, card, conversation=conversation)
        return SendResult(message_ref=biz_id, chat_id=conversation)

    async def _post(self, job: Job) -> SendResult:
        dest = job.destination
        biz_id = card_biz_id(job)
        user = dest.get("dm")
        if user is not None:
            if not self._settings.dm_assignees:
                # The core writes a DM for everyone paged; this app asked for none.
                log.debug("delivery %s: dingtalk.dm_assignees is off, DM skipped", job.delivery_id)
                return SendResult()
            staff_id = _text(user, "dm")
            await self._api.send_card(biz_id, _card(job), user_id=staff_id)
            return SendResult(message_ref=biz_id, chat_id=USER_CHAT_PREFIX + staff_id)
        conversation = _text(dest.get("chat"), "chat")
        await self._api.send_card(biz_id, _card(job), conversation=conversation)
        return SendResult(message_ref=biz_id, chat_id=conversation)

    async def _update(self, job: Job) -> SendResult:
        biz_id = _text(job.destination.get("message"), "message")
        await self._api.update_card(biz_id, _card(job))
        return SendResult()

    async def _reply(self, job: Job) -> SendResult:
        """One short line where the card is, saying what changed (never superseded).

        DingTalk robots cannot quote a card: the line follows it in the same chat.
        """
        chat = _text(job.destination.get("chat"), "chat")
        entry = job.payload.get("entry")
        line = reply_line(entry, job.lang) if isinstance(entry, Mapping) else None
        if not line:
            return SendResult()
        if chat.startswith(USER_CHAT_PREFIX):
            await self._api.send_user_text([chat.removeprefix(USER_CHAT_PREFIX)], line)
        else:
            await self._api.send_group_text(chat, line)
        return SendResult()


def _card(job: Job) -> str:
    incident = job.payload.get("incident")
    if not isinstance(incident, dict):
        raise Rejected("dingtalk delivery has no incident card", code="no_incident")
    url = job.payload.get("url")
    buttons = job.payload.get("buttons")
    viewer = Viewer(
        lang=job.lang,
        link=url if isinstance(url, str) else None,
        buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
    )
    return card_data(render_card(build_card(incident, viewer)))


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"dingtalk destination has no {field}", code=f"no_{field}")
    return value


def reply_line(entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """The plain line posted under a card for a timeline entry (None: the card says it all)."""
    return event_line(entry, lang, max_chars=REPLY_MAX)
