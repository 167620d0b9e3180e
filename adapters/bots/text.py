"""What every bot kind needs to fit a message into its platform's limits and read answers:
cutting text cleanly, finding how many lines fit, merging mentions, reading JSON bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeGuard

from adapters.bots.message import BotMessage, Mention
from cards.model import ELLIPSIS

CHINA_PREFIX = "+86"  # mainland numbers are written without the country code


def fit(text: str, fits: Callable[[str], bool]) -> str:
    """``text``, or its longest prefix plus "…" that ``fits``.

    Cuts between code points, so a UTF-8 character is never split.
    """
    if fits(text):
        return text
    low, high = 0, len(text)  # the longest fitting prefix length lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(text[:middle].rstrip() + ELLIPSIS):
            low = middle
        else:
            high = middle
    return text[:low].rstrip() + ELLIPSIS


def most(count: int, fits: Callable[[int], bool]) -> int:
    """The largest ``n`` in ``0..count`` for which ``fits(n)`` holds (0 if none does)."""
    if fits(count):
        return count
    low, high = 0, count
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def md_url(url: str) -> str:
    """``url`` safe inside a markdown link: a bare parenthesis would end the link early."""
    return url.replace("(", "%28").replace(")", "%29")


def json_size(body: Mapping[str, Any]) -> int:
    """The bytes of ``body`` as JSON, every non-ASCII character escaped (the largest form)."""
    return len(json.dumps(body).encode())


def json_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object in ``body``, or None when it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def is_int(value: object) -> TypeGuard[int]:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def union(messages: Sequence[BotMessage]) -> list[Mention]:
    """Every message's mentions, once per member (a user id beats a phone beats neither)."""
    by_member: dict[str, Mention] = {}
    for message in messages:
        for mention in message.mentions:
            known = by_member.get(mention.member)
            if known is None or _reach(mention) > _reach(known):
                by_member[mention.member] = mention
    return list(by_member.values())


def _reach(mention: Mention) -> int:
    return 2 if mention.user_id else 1 if mention.phone else 0


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the case of the mapping's keys."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def mobile(phone: str) -> str:
    """The number as DingTalk and WeCom mention it: mainland numbers without ``+86``; any
    other number unchanged (their form for foreign numbers is not in our notes)."""
    return phone.removeprefix(CHINA_PREFIX)
