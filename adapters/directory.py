"""Finding which member a chat account is through the platform's directory: who may be looked
up, mobiles as Chinese directories want them, answers kept for a while, and the link written.

Used by the adapters whose platforms answer "mobile or email → account" (WeCom, DingTalk);
the kept answers (`Answers`) also keep Feishu's and Teams' misses.
Every lookup that misses costs something there (WeCom blocks the lookup APIs for a day once
misses pass a fifth of the corp's seats), so each answer, a miss too, is kept and a lookup is
made only for members who have no account on that platform in the configuration.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from gateway import mapping
from gateway.config import MemberSettings, Settings
from gateway.identity import link_by_email
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

CHINA_CODE = "86"
MAINLAND_DIGITS = 11  # 1xx xxxx xxxx
E164_MIN_DIGITS, E164_MAX_DIGITS = 6, 15
_SEPARATORS = str.maketrans("", "", " -().\u00a0")

K = TypeVar("K")
V = TypeVar("V")


def directory_mobile(phone: str) -> str | None:
    """``phone`` as WeCom and DingTalk directories hold it, or None when it cannot be one.

    Mainland numbers go without the country code (``+86 138 0000 0001`` → ``13800000001``);
    other numbers keep theirs as ``+<digits>`` (how those directories write foreign numbers
    is not in our notes). A number that is neither (a bare national number of another
    country, a typo) is never sent: a lookup that misses counts against the platform's
    daily allowance.
    """
    raw = phone.strip().translate(_SEPARATORS)
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("+" + CHINA_CODE):
        raw = raw[1 + len(CHINA_CODE) :]
    elif raw.startswith("+"):
        digits = raw[1:]
        plausible = digits.isdigit() and E164_MIN_DIGITS <= len(digits) <= E164_MAX_DIGITS
        return raw if plausible else None
    if raw.isdigit() and len(raw) == MAINLAND_DIGITS and raw.startswith("1"):
        return raw
    return None


def candidates(settings: Settings, platform: str) -> dict[str, MemberSettings]:
    """Members worth looking up: a phone or an email, and no ``platform`` identity in the
    configuration (a member already configured there needs no directory to be found)."""
    return {
        name: member
        for name, member in settings.members.items()
        if (member.phone or member.email)
        and not any(i.platform == platform for i in member.identities)
    }


@dataclass(frozen=True, slots=True)
class Answer(Generic[V]):
    """What the directory said (None: nobody), and until when it is believed."""

    value: V | None
    until: datetime


class Answers(Generic[K, V]):
    """Directory answers by question, each kept ``hit_ttl`` (found) or ``miss_ttl`` (nobody),
    the least recently asked forgotten first past ``size``."""

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        hit_ttl: timedelta,
        miss_ttl: timedelta,
        size: int = 10_000,
    ) -> None:
        self._now = now
        self._hit_ttl = hit_ttl
        self._miss_ttl = miss_ttl
        self._size = size
        self._kept: OrderedDict[K, Answer[V]] = OrderedDict()

    def get(self, key: K) -> Answer[V] | None:
        """The answer still believed for ``key``, if any."""
        found = self._kept.get(key)
        if found is None:
            return None
        if self._now() >= found.until:
            del self._kept[key]
            return None
        self._kept.move_to_end(key)
        return found

    def put(self, key: K, value: V | None) -> None:
        """Keep what the directory said about ``key``."""
        ttl = self._miss_ttl if value is None else self._hit_ttl
        self._kept[key] = Answer(value, self._now() + ttl)
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def forget(self, key: K) -> None:
        """Ask again next time."""
        self._kept.pop(key, None)


def only_match(matches: Mapping[str, str]) -> tuple[str, str] | None:
    """``(member, how)`` when exactly one member matched, else None (nobody, or ambiguous)."""
    if len(matches) != 1:
        return None
    [(member, how)] = matches.items()
    return member, how


async def link_found(
    rt: Runtime, platform: str, workspace: str, user_id: str, member: str, how: str
) -> str | None:
    """Link ``user_id`` to ``member``, found by its ``how`` (``"email"`` or ``"mobile"``).

    By email through ``gateway.identity`` (origin ``email``); by mobile as ``ackgate mapping
    import`` writes a row (origin ``import``: the core has no phone link of its own yet),
    after checking that the row's phone names no other member. Returns the member, or None
    when nothing was written.
    """
    person = rt.settings.members[member]
    if how == "email" and person.email:
        linked = await link_by_email(rt, platform, workspace, user_id, person.email)
        if linked != member:
            log.warning("%s account %s not linked to %s by email", platform, user_id, member)
            return None
        return member
    phone = person.phone or ""
    if mapping.member_by(rt.settings, person.email or "", phone) != member:
        log.warning("%s account %s: %s's phone is another member's too", platform, user_id, member)
        return None
    row = io.StringIO()
    csv.writer(row).writerow([person.email or "", platform, user_id, phone])
    report = await mapping.import_csv(rt, row.getvalue(), workspace)
    if not (report.added or report.kept):
        problems = report.problems
        log.warning("%s account %s not linked to %s: %s", platform, user_id, member, problems)
        return None
    log.info("%s account %s linked to %s by mobile", platform, user_id, member)
    return member
