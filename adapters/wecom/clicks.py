"""``template_card_event``: a button pressed on a card, acted on at once, then the card redrawn
with the click's own ``ResponseCode`` (and the presser told what a card cannot show)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from adapters.wecom.acting import LANG, WecomActors, not_linked
from adapters.wecom.api import WecomApi
from adapters.wecom.codes import ResponseCodes
from adapters.wecom.sender import card_for
from cards.render.wecom import read_key
from gateway import messages, queries
from gateway.domain import JSONObject, Verb
from gateway.errors import ActionRefused, MalformedPayload, NotFound, PlatformError, Rejected
from gateway.wire import card_json

log = logging.getLogger(__name__)

PLATFORM = "wecom"


@dataclass(frozen=True, slots=True)
class Click:
    """One decrypted ``template_card_event``."""

    user_id: str  # FromUserName
    task_id: str  # TaskId: which copy of which card
    key: str  # EventKey: the button
    code: str | None  # ResponseCode: one update of this card
    create_time: str

    @property
    def callback_id(self) -> str:
        """The click's idempotency key in the core (WeCom resends an unanswered callback)."""
        raw = "|".join((self.user_id, self.create_time, self.task_id, self.key))
        return f"card:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What is left to do after the click was acted on: talk to WeCom."""

    click: Click
    incident: int | None = None  # the card to redraw
    member: str | None = None  # whose signed link the card opens
    text: str | None = None  # a sentence for the presser


class CardClicks:
    """Acts on a click (``press``), then redraws the card and answers (``follow``)."""

    def __init__(self, actors: WecomActors, api: WecomApi, codes: ResponseCodes) -> None:
        self.actors = actors
        self.rt = actors.rt
        self.api = api
        self.codes = codes

    async def press(self, click: Click) -> FollowUp:
        """Act on the click; what to tell WeCom afterwards. Refusals become a sentence."""
        try:
            verb, number = read_key(click.key)
        except MalformedPayload as exc:
            log.info("wecom click on a key not ours (%s) from %s", exc, click.user_id)
            return FollowUp(click, text=messages.text("wecom_bad_button", LANG))
        found = await self.actors.member(click.user_id)
        if found is None:
            return FollowUp(click, text=not_linked(click.user_id))
        member = found[0]
        if verb is None:  # Refresh: the redraw is the whole point
            return FollowUp(click, number, member)
        if verb is Verb.COMMENT:
            # A card takes no text: the comment comes as a command.
            return FollowUp(
                click, number, member, messages.text("wecom_comment_how", LANG, number=number)
            )
        try:
            # Escalate from a card pages the next level: there is nowhere to name a member.
            await self.actors.perform(
                user_id=click.user_id, incident=number, verb=verb, callback_id=click.callback_id
            )
        except (ActionRefused, NotFound) as refusal:
            return FollowUp(click, number, member, refusal.message)
        # The redrawn card says what happened ("Acknowledged by …"): no sentence needed.
        return FollowUp(click, number, member)

    async def follow(self, todo: FollowUp) -> None:
        """Redraw the card with the click's code (unless it shows this already), then answer.

        A code not needed now is kept for the card's next update by the outbox.
        """
        click = todo.click
        card = (
            await self._card(todo.incident, todo.member, click.task_id)
            if todo.incident is not None and todo.member is not None
            else None
        )
        if click.code is not None:
            if card is None or self.codes.shows(click.task_id, card):
                self.codes.keep(click.task_id, click.code)
            else:
                await self._draw(click, card)
        if todo.text:
            try:
                await self.api.send_text(click.user_id, todo.text)
            except PlatformError as exc:
                log.warning("wecom answer to %s failed: %s", click.user_id, exc)

    async def _draw(self, click: Click, card: JSONObject) -> None:
        assert click.code is not None
        try:
            await self.api.update_card(click.user_id, click.code, card)
        except Rejected as exc:
            log.warning("wecom card %s not redrawn: %s", click.task_id, exc)
            return
        except PlatformError as exc:
            self.codes.keep(click.task_id, click.code)  # perhaps not spent: the outbox may try
            log.warning("wecom card %s not redrawn: %s", click.task_id, exc)
            return
        self.codes.drew(click.task_id, card)

    async def _card(self, number: int, member: str, task: str) -> JSONObject | None:
        """The card as the incident is now, for ``member``; None when the outbox must draw it.

        A service with its own card wording for WeCom gets no card here: that wording is
        rendered by the core, and the outbox's update (which will find the click's code)
        has it.
        """
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return None
        service = self.rt.settings.services.get(incident.service)
        if service is None or (
            service.templates is not None and service.templates.for_channel(PLATFORM)
        ):
            return None
        buttons = (
            [verb.value for verb in service.card_buttons]
            if service.card_buttons is not None
            else None
        )
        return card_for(card_json(incident), task, self.actors.link(member, number), buttons)
