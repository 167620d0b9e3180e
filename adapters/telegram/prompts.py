"""Escalate and Comment buttons ask with a ForceReply message; the reply to it is the input.

Nothing is stored between the question and the answer: the prompt's own text says what it
asks about, and is read back from the reply's ``reply_to_message``. So an answer still works
after a restart, and on any replica behind the webhook.
"""

from __future__ import annotations

import re
import string
from functools import cache

from cards.render.telegram import escape
from gateway import messages
from gateway.commands import Command, parse
from gateway.domain import Verb

PROMPT_VERBS = frozenset({Verb.COMMENT, Verb.ESCALATE})
# Answers to the Escalate prompt that name nobody: page the next level.
NEXT_LEVEL = frozenset({"next", "-", "下一级"})
PLACEHOLDER_MAX = 64  # ForceReply.input_field_placeholder: 1–64 characters
LANGS = ("en", "zh")


def prompt_html(verb: Verb, number: int, lang: str, user_id: int, name: str) -> str:
    """The question, addressed to the person who pressed the button (a ForceReply with
    ``selective`` goes to the people a message mentions)."""
    mention = f'<a href="tg://user?id={user_id}">{escape(name)}</a>'
    # The sentence itself holds no markup; only the mention is HTML.
    return messages.text(f"telegram_prompt_{verb.value}", lang, user=mention, number=number)


def placeholder(verb: Verb, number: int, lang: str) -> str:
    """The hint shown in the reply box."""
    return messages.text(f"telegram_placeholder_{verb.value}", lang, number=number)[
        :PLACEHOLDER_MAX
    ]


def read_prompt(text: str) -> tuple[Verb, int] | None:
    """The verb and incident a prompt's text (as Telegram shows it) asks about, if it is one."""
    for verb in PROMPT_VERBS:
        for pattern in _patterns(verb):
            match = pattern.fullmatch(text.strip())
            if match is not None:
                return verb, int(match["number"])
    return None


def escalation(number: int, answer: str) -> Command:
    """The escalate command an answer to the Escalate prompt means; raises CommandError."""
    word = answer.strip()
    if word.lower() in NEXT_LEVEL:
        return Command("escalate", number)
    return parse(f"escalate {number} {word}")


@cache
def _patterns(verb: Verb) -> tuple[re.Pattern[str], ...]:
    """The prompt sentence in every language, with the name and the number as groups."""
    found = []
    for lang in LANGS:
        source = _template(f"telegram_prompt_{verb.value}", lang)
        parts: list[str] = []
        for literal, field, _spec, _conversion in string.Formatter().parse(source):
            parts.append(re.escape(literal))
            if field == "number":
                parts.append(r"(?P<number>[1-9][0-9]{0,17})")
            elif field is not None:
                parts.append(r".+?")
        found.append(re.compile("".join(parts), re.DOTALL))
    return tuple(found)


def _template(key: str, lang: str) -> str:
    """A message with its fields left in place, to read filled-in copies back."""
    return messages.text(key, lang, user="{user}", number="{number}")
