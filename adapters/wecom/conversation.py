"""Text commands sent to the app: parse, act or answer, in plain text (or a card for ``show``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.wecom.acting import LANG, WecomActors
from adapters.wecom.sender import TEXT_MAX_BYTES, card_for
from cards.build import Viewer, build_card
from cards.lines import list_lines, who_lines
from cards.model import ELLIPSIS
from cards.render.wecom import task_id
from gateway import commands, messages, queries
from gateway.commands import Command, CommandError
from gateway.domain import Incident, JSONObject, Verb
from gateway.errors import ActionRefused, NotFound
from gateway.oncall import OnCall, on_call_now
from gateway.selflink import issue_code, mail_link
from gateway.wire import card_json

LIST_LIMIT = 20
# Anyone in the corp may ask these; everything else needs a linked account.
OPEN_COMMANDS = frozenset({"help", "link"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: a text message, or (``show``) the incident's card."""

    text: str
    incident: JSONObject | None = None  # the card's incident JSON
    url: str | None = None  # the link the card opens


def command_text(text: str) -> str:
    """``/ack 42`` → ``ack 42``: a slash in front is welcome, not needed."""
    return text.strip().removeprefix("/")


class Conversation:
    """Answers one text message from a WeCom member."""

    def __init__(self, actors: WecomActors) -> None:
        self.actors = actors
        self.rt = actors.rt

    async def answer(self, text: str, *, user_id: str, callback_id: str | None) -> Reply:
        """The reply to ``text``; refusals and mistakes are answered, never raised."""
        try:
            command = commands.parse(command_text(text))
            if command.name == "link":
                return await self._link(user_id, command.email)
            if command.name in OPEN_COMMANDS:
                return Reply(help_text())
            member = await self.actors.require_member(user_id)
            if command.verb is not None and command.incident is not None:
                return await self._act(
                    command, command.verb, command.incident, user_id, callback_id
                )
            return await self._tell(command, member)
        except CommandError as mistake:
            problem = messages.text(mistake.key, LANG, **mistake.values)
            if mistake.usage is None:
                return Reply(f"{problem}\n{help_text()}")
            return Reply(f"{problem}\n{messages.text('wecom_usage', LANG, usage=mistake.usage)}")
        except (ActionRefused, NotFound) as refusal:
            return Reply(refusal.message)

    async def _tell(self, command: Command, member: str) -> Reply:
        if command.name == "show" and command.incident is not None:
            return await self._show(command.incident, member)
        incidents = await queries.open_incidents(self.rt, LIST_LIMIT)
        if command.name == "list":
            return Reply(list_text(incidents, LANG))
        now = on_call_now(self.rt.settings, self.rt.clock.now())
        return Reply(who_text(incidents, LANG, now))  # "who": the only question left

    async def _act(
        self, command: Command, verb: Verb, number: int, user_id: str, callback_id: str | None
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
                user_id=user_id, incident=number, verb=what, args=what_args, callback_id=key
            )
            return outcome.message

        if verb is Verb.CLOSE and command.text:
            # The note goes first, so the close is the incident's last word (and card update).
            await act(Verb.COMMENT, {"text": command.text}, callback_id and f"{callback_id}:note")
        return Reply(await act(verb, args, callback_id))

    async def _show(self, number: int, member: str) -> Reply:
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return Reply(messages.text("not_found", LANG, number=number))
        doc = card_json(incident)
        text = build_card(doc, Viewer(lang=LANG)).fallback
        return Reply(text, doc, self.actors.link(member, number))

    async def _link(self, user_id: str, email: str | None) -> Reply:
        found = await self.actors.member(user_id)
        if found is not None:
            return Reply(messages.text("wecom_link_linked", LANG, member=found[0]))
        if email is not None:
            # The same sentence whoever's address it is; only its owner gets a mail.
            return Reply(await mail_link(self.rt, "wecom", "", user_id, email, LANG))
        how = messages.text("wecom_link_how", LANG, user=user_id)
        # The app chat is one person and the app: a code said here is seen by them alone.
        code = await issue_code(self.rt, "wecom", "", user_id)
        return Reply(f"{messages.text('link_code_given', LANG, code=code)}\n\n{how}")


def help_text(lang: str = LANG) -> str:
    """The list of commands."""
    return messages.text("wecom_help", lang)


def show_card(reply: Reply, nonce: str) -> tuple[str, JSONObject] | None:
    """``(task_id, template card)`` a ``show`` reply sends; None for a text reply."""
    if reply.incident is None:
        return None
    task = task_id(int(reply.incident["number"]), f"show-{nonce}")
    return task, card_for(reply.incident, task, reply.url)


def list_text(incidents: list[Incident], lang: str) -> str:
    """Open incidents, one line each, worded like their cards."""
    return fit_lines(list_lines(incidents, lang))


def who_text(incidents: list[Incident], lang: str, on_call: Sequence[OnCall] = ()) -> str:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    return fit_lines(who_lines(incidents, lang, on_call))


def fit_lines(lines: Sequence[str], limit: int = TEXT_MAX_BYTES) -> str:
    """As many whole ``lines`` as fit in one text message (``limit`` UTF-8 bytes), then "…"."""
    room = limit - len(f"\n{ELLIPSIS}".encode())
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = len(line.encode()) + (1 if kept else 0)
        if used + cost > room:
            kept.append(ELLIPSIS)
            break
        kept.append(line)
        used += cost
    return "\n".join(kept)
