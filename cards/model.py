"""The platform-neutral card: what every renderer turns into a message, frozen and plain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from gateway.domain import Severity, Status, Verb

ELLIPSIS = "…"
# A digest card too big for its platform shows shorter titles, then none: every incident keeps
# its line (its number, linked to its page), so none drops out of sight.
DIGEST_TITLE_STEPS = (80, 40, 16, 0)

ButtonStyle = Literal["primary", "danger", "default"]


class Tone(StrEnum):
    """The card's colour: the severity's, neutral while snoozed, success once closed."""

    DANGER = "danger"
    WARNING = "warning"
    INFO = "info"
    SUCCESS = "success"
    NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class Field:
    """One labelled value; ``short`` fields may sit side by side."""

    label: str
    value: str
    short: bool = True


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled http(s) URL."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Button:
    """An action button; ``data`` is the callback payload (see ``cards.callback``)."""

    verb: Verb
    label: str
    data: str
    style: ButtonStyle = "default"
    needs_input: bool = False


@dataclass(frozen=True, slots=True)
class Card:
    """Everything a message about one incident says, already worded in the viewer's language."""

    incident: int
    title: str
    severity: Severity
    tone: Tone
    emoji: str
    status: Status
    status_line: str
    summary: str
    fields: tuple[Field, ...]
    links: tuple[Link, ...]
    buttons: tuple[Button, ...]
    timeline: tuple[str, ...]  # the last few timeline lines, already worded, newest last
    fallback: str  # plain text for notifications and accessibility


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One incident in a digest card."""

    incident: int
    emoji: str
    title: str
    url: str | None


@dataclass(frozen=True, slots=True)
class DigestCard:
    """Many incidents in one message: what a chat gets during a storm instead of a card each."""

    headline: str
    entries: tuple[DigestEntry, ...]
    hint: str


def shortened(digest: DigestCard) -> Iterator[DigestCard]:
    """``digest``, then the same with every title cut shorter, down to none: a renderer
    shows the first that fits its platform's limits."""
    yield digest
    for limit in DIGEST_TITLE_STEPS:
        entries = tuple(
            replace(entry, title=clip(entry.title, limit) if limit else "")
            for entry in digest.entries
        )
        yield replace(digest, entries=entries)


def code_spans(text: str) -> list[tuple[str, bool]]:
    """``text`` split at its backticks, the way ``gateway.messages`` marks a command: each part,
    and whether it is code. Unbalanced backticks mark nothing."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return [(text, False)] if text else []
    return [(part, index % 2 == 1) for index, part in enumerate(parts) if part]


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was cut."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS
