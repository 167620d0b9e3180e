"""Slack's side of the text commands: its user mentions and its escaping of message text."""

from __future__ import annotations

import re

from gateway import commands
from gateway.commands import Command, CommandError

__all__ = ["Command", "CommandError", "parse", "strip_mention", "unescape"]

_USER = re.compile(r"<@(?P<id>[UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LEADING_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")


def strip_mention(text: str) -> str:
    """``<@UBOT> ack 42`` → ``ack 42``: an @mention starts with the bot's own name."""
    return _LEADING_MENTION.sub("", text, count=1)


def unescape(text: str) -> str:
    """Undo Slack's escaping of ``&``, ``<`` and ``>`` in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse(text: str) -> Command:
    """The command in Slack message ``text``; raises CommandError."""
    return commands.parse(text, user_mention=_USER, unescape=unescape)
