"""``card.action.trigger``: a button or form on a card, acted on and answered within 3 seconds
with a toast and, for the person who clicked, the card as it is now."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from adapters.lark.acting import LANG, LarkActors
from cards import callback
from cards.build import Viewer, build_card
from cards.render.lark import CALLBACK_KEY, FORM_INPUTS, render_card
from gateway import messages, queries
from gateway.domain import JSONObject, Verb
from gateway.errors import ActionRefused, MalformedPayload, NotFound
from gateway.wire import card_json

log = logging.getLogger(__name__)


def toast(kind: str, text: str) -> JSONObject:
    """A callback answer that only shows ``text`` to the clicker (``{}`` would show nothing)."""
    return {"toast": {"type": kind, "content": text}}


class CardActions:
    """Turns a card callback into ``gateway.actions.perform`` and its outcome into the answer."""

    def __init__(self, actors: LarkActors) -> None:
        self.actors = actors
        self.rt = actors.rt

    async def answer(self, event: Mapping[str, Any], event_id: str | None) -> JSONObject:
        """The callback's answer: a toast (``success``/``info``/``error``) and the new card.

        Refusals are answered as an error toast; other copies of the card are refreshed by
        the outbox. Raises MalformedPayload when the callback has no operator.
        """
        operator = _obj(event.get("operator"))
        open_id = operator.get("open_id")
        if not isinstance(open_id, str) or not open_id:
            raise MalformedPayload("has no open_id", "event.operator")
        action = _obj(event.get("action"))
        data = _obj(action.get("value")).get(CALLBACK_KEY)
        try:
            verb, number = callback.decode(data if isinstance(data, str) else "")
        except MalformedPayload as exc:
            log.info("lark card callback not ours (%s) from %s", exc, open_id)
            return toast("error", messages.text("lark_bad_button", LANG))
        try:
            outcome = await self.actors.perform(
                open_id=open_id,
                incident=number,
                verb=verb,
                args=_args(verb, _obj(action.get("form_value"))),
                callback_id=event_id and f"card:{event_id}",
            )
        except (ActionRefused, NotFound) as refusal:
            return toast("error", refusal.message)
        answer = toast("success" if outcome.changed else "info", outcome.message)
        card = await self._card(number)
        if card is not None:
            answer["card"] = {"type": "raw", "data": card}
        return answer

    async def _card(self, number: int) -> JSONObject | None:
        """The card as the incident is now, or None when the outbox must bring it.

        It carries the incident page's plain link: a shared card's answer is shown to every
        viewer, so no member's signed link may be in it (the outbox's update of a DM copy
        puts that member's link back). A service with its own card wording for chat gets
        no card here: that wording is rendered by the core, and the outbox's update has it.
        """
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return None
        service = self.rt.settings.services.get(incident.service)
        if service is None or (
            service.templates is not None and service.templates.for_channel("lark")
        ):
            return None
        buttons = frozenset(service.card_buttons) if service.card_buttons is not None else None
        link = f"{self.rt.settings.server.base_url}/incidents/{number}"
        card = build_card(card_json(incident), Viewer(lang=LANG, link=link, buttons=buttons))
        return render_card(card, LANG)


def _args(verb: Verb, form: Mapping[str, Any]) -> dict[str, Any]:
    """The verb's arguments from the card's form: the comment, or the member to page."""
    field = FORM_INPUTS.get(verb)
    value = form.get(field) if field else None
    text = value.strip() if isinstance(value, str) else ""
    if verb is Verb.COMMENT:
        return {"text": text}
    if verb is Verb.ESCALATE and text:
        return {"member": text.removeprefix("@")}
    return {}


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
