"""Posts incident cards to DingTalk groups and members as the app's robot, and keeps every
posted card up to date."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.dingtalk.api import DingtalkApi
from cards.build import Viewer, build_card
from cards.lines import event_line
from cards.render.dingtalk import card_data, render_card
from gateway.config import DingtalkSettings
from gateway.domain import Verb
from gateway.errors import Rejected
from gateway.outbox import Job, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
CALL_TIMEOUT_S = 5.0  # per API call; the outbox bounds the whole send too
# A card sent to one person is "in" the robot's chat with them: its chat id says whose.
USER_CHAT_PREFIX = "user:"


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

    async def send(self, job: Job) -> SendResult:
        """Post, update or answer one card; raises a PlatformError when DingTalk says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        raise Rejected(f"dingtalk delivery has no known op: {op!r}", code="bad_op")

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
        line = reply_line(entry, LANG) if isinstance(entry, Mapping) else None
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
        lang=LANG,
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
