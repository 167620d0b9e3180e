"""Members by phone number, and the incident a phone last heard about: what an SMS reply
("a" for acknowledge) or a keypad press needs to know who is acting on what."""

from __future__ import annotations

from gateway.config import Settings
from gateway.runtime import Runtime
from storage import repo

# The national part of a number: "+86 138 0013 8000" and "13800138000" are one mobile.
SIGNIFICANT_DIGITS = 9


def digits(phone: str) -> str:
    """Only the digits of ``phone``."""
    return "".join(ch for ch in phone if ch.isdigit())


def same_phone(a: str, b: str) -> bool:
    """Whether two ways of writing a number are the same number (trailing digits agree)."""
    da, db = digits(a), digits(b)
    if len(da) < SIGNIFICANT_DIGITS or len(db) < SIGNIFICANT_DIGITS:
        return bool(da) and da == db
    return da.endswith(db[-SIGNIFICANT_DIGITS:]) and db.endswith(da[-SIGNIFICANT_DIGITS:])


def member_by_phone(settings: Settings, phone: str) -> str | None:
    """The one member with this phone number; None if nobody (or more than one) has it."""
    found = [n for n, m in settings.members.items() if m.phone and same_phone(m.phone, phone)]
    return found[0] if len(found) == 1 else None


async def last_incident(rt: Runtime, channel: str, to: str) -> int | None:
    """The incident whose notice went to ``to`` on ``channel`` most recently."""
    async with rt.db.read() as conn:
        return await repo.last_incident_sent_to(conn, channel, to)
