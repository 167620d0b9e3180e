"""Posts incident cards to Telegram chats and private chats, and keeps every posted card up to
date."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
)

from adapters.telegram.errors import call, not_modified
from adapters.telegram.transport import make_bot
from cards.build import Viewer, build_card, digest_of
from cards.lines import event_line
from cards.render.telegram import (
    PARSE_MODE,
    TelegramMessage,
    escape,
    render_digest,
    render_message,
)
from gateway.config import TelegramSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import PlatformError, Rejected
from gateway.outbox import Cap, Job, Pace, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
CALL_TIMEOUT_S = 5.0  # per Bot API call; the outbox bounds the whole send too
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a link in a card must not unfold below it
# Telegram's published limits (Bot FAQ, in our platform notes): about one message a second
# to one chat (short bursts allowed), 20 a minute to one group, about 30 a second in all;
# editMessageText counts against its chat like a new message. A group keeps to its 20 a
# minute in short bursts, 5 in any 15 s, cards, edits and replies together: a storm is
# seen after 5 cards, not 20 (up to DIGEST_AFTER cards wait their turn, past that a digest
# card takes them). A private chat keeps to one a second in bursts of 3 (as Slack's channels
# do: its limit is worded the same), and never merges. Every send also counts against the
# bot's 30 a second in all (a cap all its chats share).
GROUP_PACE = (5, 15.0)
BOT_CAP = Cap("telegram:bot", 30, 1.0)
PRIVATE_PACE = (3, 3.0)
DIGEST_AFTER = 5


class TelegramSender:
    """The outbox's sender for ``channel = "telegram"``: ``op`` ``post``, ``update``, ``reply``.

    No retries here: a failure is raised as a PlatformError and the outbox retries it.
    """

    channel = "telegram"

    def __init__(self, settings: TelegramSettings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._bot = make_bot(
            settings.bot_token, str(settings.api_base_url), session, timeout_s=CALL_TIMEOUT_S
        )

    def pace(self, job: Job) -> Pace | None:
        """Every message and edit counts against its chat's cap: a group's or a person's."""
        op, dest = job.payload.get("op"), job.destination
        if op not in ("post", "update", "reply", "digest"):
            return None
        if dest.get("dm") is not None:
            if op != "post" or not self._settings.dm_assignees:
                return None  # nothing is sent
            chat = str(dest["dm"])  # a private chat's id is the user's
        else:
            chat = str(dest.get("chat") or "")
            if not chat:
                return None
        if private(chat):
            return Pace(
                f"telegram:chat:{chat}", *PRIVATE_PACE, digest_after=None, shared=(BOT_CAP,)
            )
        # Edits and replies share the group's cap, and its pace: the outbox keeps one pace a
        # key (it never merges them into the digest anyway).
        return Pace(
            f"telegram:chat:{chat}", *GROUP_PACE, digest_after=DIGEST_AFTER, shared=(BOT_CAP,)
        )

    async def send(self, job: Job) -> SendResult:
        """Post, update or reply to one card, or post or add to a digest card; raises a
        PlatformError when Telegram says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        if op == "digest":
            return await self._digest(job)
        raise Rejected(f"telegram delivery has no known op: {op!r}", code="bad_op")

    async def _digest(self, job: Job) -> SendResult:
        """Post a storm's digest card, or edit the one already there to add to it."""
        chat = chat_id(_text(job.destination.get("chat"), "chat"))
        text = render_digest(digest_of(job.payload, job.lang))
        message = job.destination.get("message")
        if isinstance(message, str) and message:
            try:
                await call(
                    self._bot.edit_message_text(
                        text=text,
                        chat_id=chat,
                        message_id=_message_id(message),
                        parse_mode=PARSE_MODE,
                        link_preview_options=NO_PREVIEW,
                    )
                )
            except PlatformError as exc:
                if not not_modified(exc):  # a retry finds it added to already
                    raise
            return SendResult(message_ref=message, chat_id=str(chat))
        sent = await call(
            self._bot.send_message(
                chat_id=chat, text=text, parse_mode=PARSE_MODE, link_preview_options=NO_PREVIEW
            )
        )
        return SendResult(message_ref=str(sent.message_id), chat_id=str(sent.chat.id))

    async def _post(self, job: Job) -> SendResult:
        dest = job.destination
        user = dest.get("dm")
        if user is not None:
            if not self._settings.dm_assignees:
                # The core writes a DM for everyone paged; this gateway asked for none.
                log.debug("delivery %s: telegram.dm_assignees is off, DM skipped", job.delivery_id)
                return SendResult()
            # A private chat's id is the user's id.
            chat = chat_id(_text(user, "dm"))
        else:
            chat = chat_id(_text(dest.get("chat"), "chat"))
        card = _card(job)
        sent = await call(
            self._bot.send_message(
                chat_id=chat,
                text=card.text,
                parse_mode=PARSE_MODE,
                reply_markup=inline_markup(card.keyboard),
                link_preview_options=NO_PREVIEW,
            )
        )
        return SendResult(message_ref=str(sent.message_id), chat_id=str(sent.chat.id))

    async def _update(self, job: Job) -> SendResult:
        chat = chat_id(_text(job.destination.get("chat"), "chat"))
        message_id = _message_id(job.destination.get("message"))
        card = _card(job)
        try:
            await call(
                self._bot.edit_message_text(
                    text=card.text,
                    chat_id=chat,
                    message_id=message_id,
                    parse_mode=PARSE_MODE,
                    reply_markup=inline_markup(card.keyboard),
                    link_preview_options=NO_PREVIEW,
                )
            )
        except PlatformError as exc:
            # An older notice arriving after a newer one finds the card already right.
            if not not_modified(exc):
                raise
            log.debug("delivery %s: the card already says this", job.delivery_id)
        return SendResult()

    async def _reply(self, job: Job) -> SendResult:
        """One short line answering the card, saying what changed."""
        chat = chat_id(_text(job.destination.get("chat"), "chat"))
        message_id = _message_id(job.destination.get("message"))
        entry = job.payload.get("entry")
        line = reply_line(entry, job.lang) if isinstance(entry, Mapping) else None
        if line:
            await call(
                self._bot.send_message(
                    chat_id=chat,
                    text=escape(line),
                    parse_mode=PARSE_MODE,
                    reply_parameters=ReplyParameters(
                        message_id=message_id, allow_sending_without_reply=True
                    ),
                    link_preview_options=NO_PREVIEW,
                )
            )
        return SendResult()


def inline_markup(rows: Sequence[Sequence[JSONObject]]) -> InlineKeyboardMarkup | None:
    """The renderer's keyboard rows as PTB's markup; None when there is no button."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    str(button["text"]),
                    callback_data=button.get("callback_data"),
                    url=button.get("url"),
                )
                for button in row
            ]
            for row in rows
        ]
    )


def private(chat: str) -> bool:
    """Whether ``chat`` is a private chat: its id is the user's, a positive number (a group's
    is negative; ``@name`` is a public group or channel)."""
    return chat.isdigit()


def chat_id(value: str) -> int | str:
    """Numeric chat ids as integers, as the Bot API documents them; ``@channel`` as given."""
    try:
        return int(value)
    except ValueError:
        return value


def _card(job: Job) -> TelegramMessage:
    incident = job.payload.get("incident")
    if not isinstance(incident, dict):
        raise Rejected("telegram delivery has no incident card", code="no_incident")
    url = job.payload.get("url")
    buttons = job.payload.get("buttons")
    viewer = Viewer(
        lang=job.lang,
        link=url if isinstance(url, str) else None,
        buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
    )
    return render_message(build_card(incident, viewer))


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"telegram destination has no {field}", code=f"no_{field}")
    return value


def _message_id(value: object) -> int:
    text = _text(value, "message")
    if not text.isdigit():
        raise Rejected(f"telegram message id must be a number, got {text!r}", code="no_message")
    return int(text)


def reply_line(entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """The plain line posted under a card for a timeline entry (None: the card says it all)."""
    return event_line(entry, lang, max_chars=REPLY_MAX)
