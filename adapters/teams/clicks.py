"""Card buttons: an ``Action.Execute`` (the ``adaptiveCard/action`` invoke), answered inline
with the card as it is now, and the ``Action.Submit`` old clients send instead."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from adapters.teams.acting import LANG, TeamsActors
from adapters.teams.activity import Incoming, Sender
from adapters.teams.views import current_card
from cards import callback
from cards.render.teams import (
    COMMENT_INPUT,
    CONTENT_TYPE,
    DATA_KEY,
    INCIDENT_KEY,
    MEMBER_INPUT,
    REFRESH_VERB,
)
from gateway import messages
from gateway.domain import JSONObject, Outcome, Verb
from gateway.errors import ActionRefused, MalformedPayload, NotFound

log = logging.getLogger(__name__)

MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


def card_answer(card: JSONObject) -> JSONObject:
    """An invoke's answer that replaces the clicked card with ``card``."""
    return {"statusCode": 200, "type": CONTENT_TYPE, "value": card}


def message_answer(text: str) -> JSONObject:
    """An invoke's answer that shows ``text`` to the person who clicked (the card stays)."""
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


class CardActions:
    """Turns a card action into ``gateway.actions.perform`` and its outcome into the answer."""

    def __init__(self, actors: TeamsActors) -> None:
        self.actors = actors
        self.rt = actors.rt

    async def execute(self, activity: Incoming) -> JSONObject:
        """The invoke's answer: the refreshed card, or a sentence when nothing changed.

        The card carries the incident page's plain link: Teams may show the answer to
        everyone in the chat, so no member's signed link may be in it (the outbox's update
        of a 1:1 copy puts that member's link back). Other copies are refreshed by the outbox.
        """
        user = _sender(activity)
        action = _obj(_obj(activity.value).get("action"))
        data = _obj(action.get("data"))
        if action.get("verb") == REFRESH_VERB:
            return await self._refresh(data.get(INCIDENT_KEY))
        try:
            verb, number = _decode(data)
        except MalformedPayload as exc:
            log.info("teams card action not ours (%s) from %s", exc, user.id)
            return message_answer(messages.text("teams_bad_button", LANG))
        try:
            outcome = await self._act(activity, user, verb, number, data)
        except (ActionRefused, NotFound) as refusal:
            return message_answer(refusal.message)
        card = await current_card(self.rt, number, self._page(number))
        return card_answer(card) if card is not None else message_answer(outcome.message)

    async def submit(self, activity: Incoming) -> str:
        """An ``Action.Submit`` (a message whose ``value`` holds the data): what to reply."""
        user = _sender(activity)
        data = _obj(activity.value)
        try:
            verb, number = _decode(data)
        except MalformedPayload:
            return messages.text("teams_bad_button", LANG)
        try:
            outcome = await self._act(activity, user, verb, number, data)
        except (ActionRefused, NotFound) as refusal:
            return refusal.message
        return outcome.message

    async def _act(
        self, activity: Incoming, user: Sender, verb: Verb, number: int, data: Mapping[str, Any]
    ) -> Outcome:
        return await self.actors.perform(
            user=user,
            activity=activity,
            incident=number,
            verb=verb,
            args=_args(verb, data),
            callback_id=activity.id or None,
        )

    async def _refresh(self, number: object) -> JSONObject:
        """The card as it is now, for whoever sees it (nothing changes)."""
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            return message_answer(messages.text("teams_bad_button", LANG))
        card = await current_card(self.rt, number, self._page(number))
        if card is None:
            return message_answer(messages.text("not_found", LANG, number=number))
        return card_answer(card)

    def _page(self, number: int) -> str:
        return f"{self.rt.settings.server.base_url}/incidents/{number}"


def _decode(data: Mapping[str, Any]) -> tuple[Verb, int]:
    """The verb and incident a button's data names; raises MalformedPayload."""
    value = data.get(DATA_KEY)
    return callback.decode(value if isinstance(value, str) else "")


def _args(verb: Verb, data: Mapping[str, Any]) -> dict[str, Any]:
    """The verb's arguments from the card's inputs: the comment, or the member to page."""
    if verb is Verb.COMMENT:
        text = data.get(COMMENT_INPUT)
        return {"text": text.strip() if isinstance(text, str) else ""}
    if verb is Verb.ESCALATE:
        member = data.get(MEMBER_INPUT)
        name = member.strip().removeprefix("@") if isinstance(member, str) else ""
        return {"member": name} if name else {}
    return {}


def _sender(activity: Incoming) -> Sender:
    if activity.sender is None:
        raise MalformedPayload("is missing", "from.id")
    return activity.sender


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
