"""Reading a ``Retry-After`` header, the one way every adapter does it."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

DEFAULT_RETRY_AFTER_S = 30.0


def retry_after_s(header: str | None, now: datetime) -> float:
    """Seconds to wait: the header's number, or its HTTP date minus ``now``.

    Missing or unreadable means ``DEFAULT_RETRY_AFTER_S``; never negative.
    """
    if not header:
        return DEFAULT_RETRY_AFTER_S
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S
    if when.tzinfo is None:
        return DEFAULT_RETRY_AFTER_S
    return max(0.0, (when - now).total_seconds())
