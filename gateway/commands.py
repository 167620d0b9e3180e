"""The text-command language of every chat platform: slash commands, DMs to the bot,
@mentions, SMS replies (``ack 42``, ``close 42 note``, ``list``, ``who``, …).

Pure: text in, a Command (or a CommandError that says what was wrong and how to write it) out.
A platform passes how its user mentions look (Slack's ``<@U123>``) and how it escapes text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway import messages
from gateway.domain import Verb

MAX_NUMBER_DIGITS = 18  # what a BIGINT holds, and what cards.callback accepts

USAGE = {
    "ack": "ack <number>",
    "close": "close <number> [note]",
    "reopen": "reopen <number>",
    "comment": "comment <number> <text>",
    "escalate": "escalate <number> [@person]",
    "snooze": "snooze <number> [30m]",
    "show": "show <number>",
    "list": "list",
    "who": "who",
    "link": "link [email]",
    "help": "help",
}
ALIASES = {"acknowledge": "ack", "resolve": "close", "status": "show", "ls": "list"}
VERBS = {
    "ack": Verb.ACK,
    "close": Verb.CLOSE,
    "reopen": Verb.REOPEN,
    "comment": Verb.COMMENT,
    "escalate": Verb.ESCALATE,
    "snooze": Verb.SNOOZE,
}

_SPLIT = re.compile(r"(?P<word>\S+)(?:\s+(?P<number>\S+))?(?:\s+(?P<rest>.*))?", re.DOTALL)
_NUMBER = re.compile(rf"#?(?P<n>[1-9][0-9]{{0,{MAX_NUMBER_DIGITS - 1}}})")
_MEMBER = re.compile(r"@?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
# An address, bare or as chat apps wrap what looks like one: Slack ``<mailto:a@b.c|a@b.c>``,
# HTML ``<a href="mailto:a@b.c">a@b.c</a>``, Markdown ``[a@b.c](mailto:a@b.c)``.
_ADDRESS = r"[^\s<>|()\[\]\"'@,;:]+@[^\s<>|()\[\]\"'@,;:]+\.[^\s<>|()\[\]\"'@,;:]+"
_EMAIL_FORMS = tuple(
    re.compile(form.replace("ADDR", _ADDRESS), re.IGNORECASE)
    for form in (
        r"(?P<a>ADDR)",
        r"mailto:(?P<a>ADDR)",
        r"<mailto:(?P<a>ADDR)(?:\|(?P<b>ADDR))?>",
        r"<a\s[^<>]*href=\"mailto:(?P<a>ADDR)\"[^<>]*>(?P<b>ADDR)</a>",
        r"\[(?P<b>ADDR)\]\(mailto:(?P<a>ADDR)\)",
    )
)
_DURATION = re.compile(r"(?:(?P<h>\d{1,3})\s*h)?\s*(?:(?P<m>\d{1,5})\s*m(?:in)?)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed command; ``name`` is a key of USAGE."""

    name: str
    incident: int | None = None
    text: str = ""  # the comment, or the note a close carries
    minutes: int | None = None  # snooze length; None means the core's default
    user: str | None = None  # a platform user named with a mention (escalate)
    member: str | None = None  # a member named in plain text (escalate)
    email: str | None = None  # the address ``link`` names (linking by email)

    @property
    def verb(self) -> Verb | None:
        """The action this command performs, or None for a question (show, list, ...)."""
        return VERBS.get(self.name)


class CommandError(Exception):
    """The text is not a command we understand; ``key``/``values`` word the problem."""

    def __init__(
        self, key: str, values: dict[str, Any] | None = None, usage: str | None = None
    ) -> None:
        super().__init__(key)
        self.key = key
        self.values = values or {}
        self.usage = usage  # the usage line to show, or None for the whole help

    def answer(self, lang: str, command: str) -> str:
        """The reply: what was wrong, then how to write it."""
        problem = messages.text(self.key, lang, **self.values)
        if self.usage is None:
            return f"{problem}\n{messages.text('slack_help', lang, command=command)}"
        return f"{problem}\n{messages.text('slack_usage', lang, usage=self.usage)}"


def _as_is(text: str) -> str:
    return text


def parse(
    text: str,
    *,
    user_mention: re.Pattern[str] | None = None,
    unescape: Callable[[str], str] = _as_is,
) -> Command:
    """The command in ``text``; raises CommandError. Empty text asks for help.

    ``user_mention`` matches a whole mention of a platform user, its ``id`` group the user's
    id; ``unescape`` undoes the platform's escaping of free text (comments, notes).
    """
    match = _SPLIT.fullmatch(text.strip())
    if match is None:
        return Command("help")
    word = match["word"].lower()
    name = ALIASES.get(word, word)
    if name not in USAGE:
        raise CommandError("slack_unknown_command", {"word": match["word"]})
    usage = USAGE[name]
    number_text, rest = match["number"], (match["rest"] or "").strip()
    if name == "help":
        return Command("help")
    extra = " ".join(p for p in (number_text, rest) if p)
    if name == "link":
        return Command(name, email=_email(unescape(extra), usage)) if extra else Command(name)
    if name in ("list", "who"):
        if extra:
            raise CommandError("slack_unexpected", {"value": extra}, usage)
        return Command(name)
    incident = _number(number_text, usage)
    if name == "close":
        return Command(name, incident, text=unescape(rest))
    if name == "comment":
        if not rest:
            raise CommandError("slack_needs_text", usage=usage)
        return Command(name, incident, text=unescape(rest))
    if name == "escalate":
        return _escalate(incident, rest, usage, user_mention)
    if name == "snooze":
        return Command(name, incident, minutes=_minutes(rest, usage) if rest else None)
    if rest:
        raise CommandError("slack_unexpected", {"value": rest}, usage)
    return Command(name, incident)


def _number(text: str | None, usage: str) -> int:
    if not text:
        raise CommandError("slack_needs_number", usage=usage)
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise CommandError("slack_bad_number", {"value": text}, usage)
    return int(match["n"])


def _email(text: str, usage: str) -> str:
    """The one address in ``text`` (bare, or wrapped the way chat apps wrap one)."""
    for form in _EMAIL_FORMS:
        match = form.fullmatch(text.strip())
        if match is None:
            continue
        shown = match.groupdict().get("b")  # a link whose text is another address: no
        if shown is None or shown.lower() == match["a"].lower():
            return str(match["a"])
    raise CommandError("link_needs_email", {"value": text}, usage)


def _escalate(
    incident: int, rest: str, usage: str, user_mention: re.Pattern[str] | None
) -> Command:
    if not rest:
        return Command("escalate", incident)
    user = user_mention.fullmatch(rest) if user_mention is not None else None
    if user is not None:
        return Command("escalate", incident, user=user["id"])
    member = _MEMBER.fullmatch(rest)
    if member is None:
        raise CommandError("slack_unexpected", {"value": rest}, usage)
    return Command("escalate", incident, member=member["name"])


def _minutes(text: str, usage: str) -> int:
    if text.isdigit() and len(text) <= 5:
        return int(text)
    match = _DURATION.fullmatch(text)
    if match is None or not (match["h"] or match["m"]):
        raise CommandError("slack_bad_duration", {"value": text}, usage)
    return int(match["h"] or 0) * 60 + int(match["m"] or 0)
