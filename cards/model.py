"""The platform-neutral card: what every renderer turns into a message, frozen and plain."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from gateway.domain import Severity, Status, Verb

ELLIPSIS = "…"

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


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was cut."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS
