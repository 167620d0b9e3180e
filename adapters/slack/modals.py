"""The two modals a button opens (escalate, comment) and reading what was submitted in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cards import callback
from cards.model import clip
from gateway import messages
from gateway.actions import MAX_COMMENT_CHARS
from gateway.domain import JSONObject, Verb

CALLBACK_ID = "ackgate:modal"
MODAL_VERBS = frozenset({Verb.ESCALATE, Verb.COMMENT})
TITLE_MAX = 24  # Slack's limit for a modal's title, submit and close labels
LABEL_MAX = 2000
HINT_MAX = 2000
PLACEHOLDER_MAX = 150
COMMENT_BLOCK, COMMENT_INPUT = "comment", "text"
TARGET_BLOCK, TARGET_INPUT = "target", "user"


@dataclass(frozen=True, slots=True)
class Submission:
    """What a modal sent back: the verb and incident it was opened for, and the input."""

    verb: Verb
    incident: int
    text: str = ""  # the comment
    user: str | None = None  # the Slack user picked to escalate to; None = next level

    @property
    def input_block(self) -> str:
        """The block an error message belongs under."""
        return COMMENT_BLOCK if self.verb is Verb.COMMENT else TARGET_BLOCK


def modal(verb: Verb, incident: int, lang: str) -> JSONObject:
    """The ``views.open`` view asking for what ``verb`` needs on ``incident``."""
    if verb is Verb.COMMENT:
        title = messages.text("slack_modal_comment_title", lang, number=incident)
        submit = messages.text("web_button_comment", lang)
        block: JSONObject = {
            "type": "input",
            "block_id": COMMENT_BLOCK,
            "label": _plain(messages.text("web_comment_label", lang), LABEL_MAX),
            "element": {
                "type": "plain_text_input",
                "action_id": COMMENT_INPUT,
                "multiline": True,
                "max_length": MAX_COMMENT_CHARS,
            },
        }
    elif verb is Verb.ESCALATE:
        title = messages.text("slack_modal_escalate_title", lang, number=incident)
        submit = messages.text("web_button_escalate", lang)
        block = {
            "type": "input",
            "block_id": TARGET_BLOCK,
            "optional": True,
            "label": _plain(messages.text("web_escalate_to", lang), LABEL_MAX),
            "hint": _plain(messages.text("slack_modal_escalate_hint", lang), HINT_MAX),
            "element": {
                "type": "users_select",
                "action_id": TARGET_INPUT,
                "placeholder": _plain(messages.text("web_next_level", lang), PLACEHOLDER_MAX),
            },
        }
    else:
        raise ValueError(f"{verb} needs no modal")
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": callback.encode(verb, incident),
        "title": _plain(title, TITLE_MAX),
        "submit": _plain(submit, TITLE_MAX),
        "close": _plain(messages.text("slack_modal_cancel", lang), TITLE_MAX),
        "blocks": [block],
    }


def read_submission(view: JSONObject) -> Submission:
    """What the person entered; raises MalformedPayload when the view is not one of ours."""
    verb, incident = callback.decode(str(view.get("private_metadata") or ""))
    values: dict[str, Any] = (view.get("state") or {}).get("values") or {}
    if verb is Verb.COMMENT:
        text = _field(values, COMMENT_BLOCK, COMMENT_INPUT, "value")
        return Submission(verb, incident, text=text or "")
    user = _field(values, TARGET_BLOCK, TARGET_INPUT, "selected_user")
    return Submission(verb, incident, user=user or None)


def _field(values: dict[str, Any], block: str, action: str, key: str) -> str | None:
    value = (values.get(block) or {}).get(action) or {}
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def _plain(text: str, limit: int) -> JSONObject:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}
