"""Text commands from a direct message to the robot or an @mention in a group: parse, act or
answer, in plain text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from adapters.dingtalk.acting import LANG, DingtalkActors
from cards.build import Viewer, build_card
from cards.lines import list_lines, who_lines
from cards.model import clip
from cards.render.text import render_text
from gateway import commands, messages, queries
from gateway.commands import Command, CommandError
from gateway.domain import Incident, Verb
from gateway.errors import ActionRefused, NotFound
from gateway.links import LinkSigner
from gateway.oncall import OnCall, on_call_now
from gateway.selflink import issue_code, mail_link
from gateway.wire import card_json

LIST_LIMIT = 20
REPLY_MAX = 4_000  # a text message's limit is not in our notes; a card's worth of text
# DingTalk writes an @mention into a message's text as ``@Name``; which person it was comes
# separately (``atUsers``). A group message starts with the robot's own mention.
_LEADING_MENTIONS = re.compile(r"^\s*(?:@\S+\s+)+")
_TRAILING_MENTION = re.compile(r"@\S+\s*$")
_ESCALATE = re.compile(r"escalate\s", re.IGNORECASE)
_USER = re.compile(r"<at:(?P<id>[^<>\s]+)>")


def command_text(text: str, *, group: bool, mentioned: Sequence[str] = ()) -> str:
    """The command in a message's text.

    In a group the leading @mentions (the robot's) are dropped. When one person (staff id)
    was @mentioned, an ``@Name`` ending an escalate command is that person
    (``escalate 42 @Bob``); elsewhere (a comment) the text stays as written.
    """
    if group:
        text = _LEADING_MENTIONS.sub("", text, count=1)
    if len(mentioned) == 1 and _ESCALATE.match(text.lstrip()):
        text = _TRAILING_MENTION.sub(f"<at:{mentioned[0]}>", text.rstrip(), count=1)
    return text.strip()


class Conversation:
    """Answers one line of text from a DingTalk user."""

    def __init__(self, actors: DingtalkActors) -> None:
        self.actors = actors
        self.rt = actors.rt
        server = self.rt.settings.server
        self._signer = LinkSigner(server.secret_key.get_secret_value())
        self._link_ttl = timedelta(hours=server.link_ttl_h)

    async def answer(
        self, text: str, *, staff_id: str, callback_id: str | None, private: bool = False
    ) -> str:
        """The reply to ``text``; refusals and mistakes are answered, never raised."""
        try:
            command = commands.parse(text, user_mention=_USER)
            if command.verb is not None and command.incident is not None:
                said = await self._act(
                    command, command.verb, command.incident, staff_id, callback_id
                )
            else:
                said = await self._tell(command, staff_id, private=private)
        except CommandError as mistake:
            problem = messages.text(mistake.key, LANG, **mistake.values)
            if mistake.usage is None:
                said = f"{problem}\n{help_text()}"
            else:
                said = f"{problem}\n{messages.text('dingtalk_usage', LANG, usage=mistake.usage)}"
        except (ActionRefused, NotFound) as refusal:
            said = refusal.message
        return clip(said, REPLY_MAX)

    async def _tell(self, command: Command, staff_id: str, *, private: bool = False) -> str:
        if command.name == "show" and command.incident is not None:
            return await self._show(command.incident, staff_id)
        if command.name == "list":
            return list_text(await queries.open_incidents(self.rt, LIST_LIMIT), LANG)
        if command.name == "who":
            incidents = await queries.open_incidents(self.rt, LIST_LIMIT)
            now = on_call_now(self.rt.settings, self.rt.clock.now())
            return who_text(incidents, LANG, now)
        if command.name == "link":
            return await self._link(staff_id, command.email, private=private)
        return help_text()

    async def _act(
        self,
        command: Command,
        verb: Verb,
        number: int,
        staff_id: str,
        callback_id: str | None,
    ) -> str:
        args: dict[str, Any] = {}
        if verb is Verb.COMMENT:
            args["text"] = command.text
        elif verb is Verb.SNOOZE and command.minutes is not None:
            args["minutes"] = command.minutes
        elif verb is Verb.ESCALATE and command.user is not None:
            member = await self.actors.member(command.user)
            if member is None:
                return messages.text("dingtalk_target_not_linked", LANG, name=command.user)
            args["member"] = member
        elif verb is Verb.ESCALATE and command.member is not None:
            args["member"] = command.member

        async def act(what: Verb, what_args: dict[str, Any], key: str | None) -> str:
            outcome = await self.actors.perform(
                staff_id=staff_id, incident=number, verb=what, args=what_args, callback_id=key
            )
            return outcome.message

        if verb is Verb.CLOSE and command.text:
            # The note goes first, so the close is the incident's last word (and card update).
            await act(Verb.COMMENT, {"text": command.text}, callback_id and f"{callback_id}:note")
        return await act(verb, args, callback_id)

    async def _show(self, number: int, staff_id: str) -> str:
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return messages.text("not_found", LANG, number=number)
        member = await self.actors.linked(staff_id)
        base = self.rt.settings.server.base_url
        link = (
            self._signer.url(base, member, number, self.rt.clock.now(), self._link_ttl)
            if member
            else f"{base}/incidents/{number}"
        )
        card = build_card(card_json(incident), Viewer(lang=LANG, link=link))
        return render_text(card, max_chars=REPLY_MAX)

    async def _link(self, staff_id: str, email: str | None, *, private: bool) -> str:
        member = await self.actors.linked(staff_id)
        if member is not None:
            return messages.text("dingtalk_link_linked", LANG, member=member)
        member = await self.actors.link(staff_id)
        if member is not None:
            return messages.text("dingtalk_link_done", LANG, member=member)
        if email is not None:
            # The same sentence whoever's address it is; only its owner gets a mail.
            return await mail_link(self.rt, "dingtalk", "", staff_id, email, LANG)
        how = messages.text("dingtalk_link_how", LANG, user=staff_id)
        if not private:
            return how  # a code said in a group could be used by anyone who reads it
        code = await issue_code(self.rt, "dingtalk", "", staff_id)
        return f"{messages.text('link_code_given', LANG, code=code)}\n\n{how}"


def help_text() -> str:
    """The list of commands."""
    return messages.text("dingtalk_help", LANG)


def list_text(incidents: list[Incident], lang: str) -> str:
    """Open incidents, one line each, worded like their cards."""
    return "\n".join(list_lines(incidents, lang))


def who_text(incidents: list[Incident], lang: str, on_call: Sequence[OnCall] = ()) -> str:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    return "\n".join(who_lines(incidents, lang, on_call))
