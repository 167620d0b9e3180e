"""Text commands from private chats and groups: parse, act or answer, reply in Telegram HTML."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from adapters.telegram.acting import TelegramActors
from cards.build import Viewer, build_card
from cards.lines import list_lines, who_lines
from cards.model import ELLIPSIS
from cards.render.telegram import CUT_MARK, TEXT_MAX, escape, render_message, size
from gateway import messages, queries
from gateway.commands import Command, CommandError, parse
from gateway.domain import Incident, JSONObject, Verb
from gateway.errors import ActionRefused, NotFound
from gateway.links import LinkSigner
from gateway.oncall import OnCall, on_call_now
from gateway.selflink import issue_code, mail_link
from gateway.wire import card_json

log = logging.getLogger(__name__)

LIST_LIMIT = 20
RECENT_UPDATES = 10_000  # update ids remembered; Telegram retries a failed webhook for a while
# Questions anyone may ask; everything else needs a linked account (a bot is open to anyone
# on Telegram, so open incidents are not shown to strangers).
OPEN_COMMANDS = frozenset({"help", "link"})
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?=\s|$)")


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: Telegram HTML, and an inline keyboard when the answer is a card."""

    text: str
    keyboard: list[list[JSONObject]] | None = None


def command_text(text: str) -> str:
    """``/ack@ackgate_bot 42`` → ``ack 42``; ``/start`` (opening the bot) asks for help."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return text
    name = match["name"].lower()
    rest = text.strip()[match.end() :]
    return ("help" if name == "start" else name) + rest


class Conversation:
    """Answers one line of text from a Telegram user."""

    def __init__(self, actors: TelegramActors) -> None:
        self.actors = actors
        self.rt = actors.rt
        server = self.rt.settings.server
        self._signer = LinkSigner(server.secret_key.get_secret_value())
        self._link_ttl = timedelta(hours=server.link_ttl_h)

    async def answer(
        self,
        text: str,
        *,
        user_id: str,
        lang: str,
        bot_name: str,
        callback_id: str | None,
        private: bool = False,
    ) -> Reply:
        """The reply to ``text``; refusals and mistakes are answered, never raised."""
        try:
            command = parse(text)
            if command.name == "link":
                return await self._link(user_id, lang, command.email, private=private)
            if command.name in OPEN_COMMANDS:
                return Reply(messages.text("telegram_help", lang, bot=escape(bot_name)))
            member = await self.actors.require_member(user_id, lang)
            if command.verb is not None and command.incident is not None:
                return await self._act(
                    command, command.verb, command.incident, user_id, lang, callback_id
                )
            return await self._tell(command, member, lang)
        except CommandError as mistake:
            return Reply(mistake_text(mistake, lang, bot_name))
        except (ActionRefused, NotFound) as refusal:
            return Reply(escape(refusal.message))

    async def _tell(self, command: Command, member: str, lang: str) -> Reply:
        if command.name == "show" and command.incident is not None:
            return await self._show(command.incident, member, lang)
        incidents = await queries.open_incidents(self.rt, LIST_LIMIT)
        if command.name == "list":
            return Reply(list_text(incidents, lang))
        now = on_call_now(self.rt.settings, self.rt.clock.now())
        return Reply(who_text(incidents, lang, now))  # "who": the only question left

    async def _act(
        self,
        command: Command,
        verb: Verb,
        number: int,
        user_id: str,
        lang: str,
        callback_id: str | None,
    ) -> Reply:
        args: dict[str, Any] = {}
        if verb is Verb.COMMENT:
            args["text"] = command.text
        elif verb is Verb.SNOOZE and command.minutes is not None:
            args["minutes"] = command.minutes
        elif verb is Verb.ESCALATE and command.member is not None:
            args["member"] = command.member

        async def act(what: Verb, what_args: dict[str, Any], key: str | None) -> str:
            outcome = await self.actors.perform(
                user_id=user_id,
                incident=number,
                verb=what,
                lang=lang,
                args=what_args,
                callback_id=key,
            )
            return outcome.message

        if verb is Verb.CLOSE and command.text:
            # The note goes first, so the close is the incident's last word (and card update).
            await act(Verb.COMMENT, {"text": command.text}, callback_id and f"{callback_id}:note")
        return Reply(escape(await act(verb, args, callback_id)))

    async def _show(self, number: int, member: str, lang: str) -> Reply:
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return Reply(escape(messages.text("not_found", lang, number=number)))
        base = self.rt.settings.server.base_url
        link = self._signer.url(base, member, number, self.rt.clock.now(), self._link_ttl)
        card = render_message(build_card(card_json(incident), Viewer(lang=lang, link=link)))
        return Reply(card.text, card.keyboard)

    async def _link(self, user_id: str, lang: str, email: str | None, *, private: bool) -> Reply:
        member = await self.actors.linked(user_id)
        if member is not None:
            return Reply(escape(messages.text("telegram_link_linked", lang, member=member)))
        if email is not None:
            # The same sentence whoever's address it is; only its owner gets a mail.
            return Reply(escape(await mail_link(self.rt, "telegram", "", user_id, email, lang)))
        how = messages.text("telegram_link_how", lang, user=escape(user_id))
        if self.rt.settings.email is not None:
            how = f"{how}\n\n{escape(messages.text('link_email_hint', lang))}"
        if not private:
            return Reply(how)  # a code said in a group could be used by anyone who reads it
        code = await issue_code(self.rt, "telegram", "", user_id)
        given = messages.text("link_code_given", lang, code=f"<code>{code}</code>")
        return Reply(f"{given}\n\n{how}")


def mistake_text(mistake: CommandError, lang: str, bot_name: str) -> str:
    """What was wrong with a command, then how to write it (or the whole help)."""
    problem = escape(messages.text(mistake.key, lang, **mistake.values))
    if mistake.usage is None:
        return f"{problem}\n{messages.text('telegram_help', lang, bot=escape(bot_name))}"
    usage = escape(f"/{mistake.usage}")
    return f"{problem}\n{messages.text('telegram_usage', lang, usage=usage)}"


def list_text(incidents: list[Incident], lang: str) -> str:
    """Open incidents, one line each, worded like their cards."""
    return fit_lines(list_lines(incidents, lang))


def who_text(incidents: list[Incident], lang: str, on_call: Sequence[OnCall] = ()) -> str:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    return fit_lines(who_lines(incidents, lang, on_call))


def fit_lines(lines: Sequence[str]) -> str:
    """Plain ``lines`` as Telegram HTML, as many as fit in one message, then "…"."""
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = size(line) + (1 if kept else 0)
        if used + cost > TEXT_MAX - size(CUT_MARK):
            kept.append(ELLIPSIS)
            break
        kept.append(line)
        used += cost
    return escape("\n".join(kept))
