"""WeCom's one-shot card update codes, and what each card shows now, kept in this process.

A template card can be changed only with a ``response_code``: ``message/send`` returns one
for the new card, and every click on it brings another; each works once, for 72 hours.
The sender (outbox) and the callback (clicks) share one ``ResponseCodes`` per app, so that
whichever has a card to draw uses a code the other left, and neither spends one to draw
what the card already shows.

Memory only, on purpose: a code is worth little (the next click brings a new one), and a
card whose codes were lost with a restart is brought up to date by its next click, the
Refresh button included.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.domain import JSONObject

CODE_TTL_S = 71 * 3600  # WeCom honours a code for 72 h; an hour is kept in hand
CARDS_MAX = 50_000  # cards remembered; the least recently touched go first
CODES_PER_CARD = 4  # more unused codes than this for one card are never needed


@dataclass(slots=True)
class _Card:
    codes: list[tuple[str, float]] = field(default_factory=list)  # (code, got at), oldest first
    shown: str | None = None  # digest of what the card shows now, as far as we drew it


class ResponseCodes:
    """Update codes and drawn-card digests by ``task_id``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, size: int = CARDS_MAX) -> None:
        self._clock = clock
        self._size = size
        self._cards: OrderedDict[str, _Card] = OrderedDict()

    def keep(self, task_id: str, code: str) -> None:
        """Remember an unused ``code`` for the card ``task_id``."""
        card = self._card(task_id)
        card.codes.append((code, self._clock()))
        del card.codes[:-CODES_PER_CARD]

    def take(self, task_id: str) -> str | None:
        """The newest unexpired code for the card, now spent; None when there is none."""
        card = self._cards.get(task_id)
        if card is None:
            return None
        now = self._clock()
        card.codes = [(c, at) for c, at in card.codes if now - at < CODE_TTL_S]
        return card.codes.pop()[0] if card.codes else None

    def shows(self, task_id: str, template_card: JSONObject) -> bool:
        """Whether the card was last drawn as ``template_card`` (links aside)."""
        card = self._cards.get(task_id)
        return card is not None and card.shown == digest(template_card)

    def drew(self, task_id: str, template_card: JSONObject) -> None:
        """The card now shows ``template_card``."""
        self._card(task_id).shown = digest(template_card)

    def _card(self, task_id: str) -> _Card:
        card = self._cards.get(task_id)
        if card is None:
            card = self._cards[task_id] = _Card()
            while len(self._cards) > self._size:
                self._cards.popitem(last=False)
        else:
            self._cards.move_to_end(task_id)
        return card


def digest(template_card: JSONObject) -> str:
    """What a card says, as a short hash, its links left out: each drawing signs the
    incident page's link anew, and an update may carry fewer alert links than a click's
    drawing (the incident it was written from had no alerts loaded); neither is a reason
    to spend a code."""
    said = {key: value for key, value in template_card.items() if key != "card_action"}
    said["button_list"] = [
        button for button in said.get("button_list") or () if "url" not in button
    ]
    text = json.dumps(said, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


_SHARED: dict[tuple[str, int], ResponseCodes] = {}


def shared(corp_id: str, agent_id: int) -> ResponseCodes:
    """The process's ResponseCodes for one app (task ids are unique per app)."""
    key = (corp_id, agent_id)
    codes = _SHARED.get(key)
    if codes is None:
        codes = _SHARED[key] = ResponseCodes()
    return codes
