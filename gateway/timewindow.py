"""Weekly time windows in a time zone ("Mon–Fri 09:00–18:00 Europe/Berlin"), DST-aware."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from gateway.strict import Strict

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_clock(value: str) -> time:
    """``"09:30"`` → ``time(9, 30)``; raises ValueError on anything else."""
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(f"must be HH:MM (00:00–23:59), got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def check_zone(value: str) -> str:
    """``value`` if it names an IANA time zone; raises ValueError otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class TimeWindow(Strict):
    """Wall-clock hours on some weekdays, in one time zone.

    ``start`` before ``end`` is a daytime window; ``end`` at or before ``start`` runs overnight
    into the next day (``22:00``–``06:00``), and the day it starts on is the one listed;
    ``start == end`` (the default, 00:00–00:00) means whole days. Times are local wall-clock
    times, so a window keeps its local hours across daylight-saving changes.
    """

    timezone: str = "UTC"
    days: list[Day] = Field(default_factory=lambda: list(DAYS), min_length=1)
    start: str = "00:00"
    end: str = "00:00"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @model_validator(mode="after")
    def _unique_days(self) -> TimeWindow:
        if len(set(self.days)) != len(self.days):
            raise ValueError("days: a day is listed twice")
        return self

    def contains(self, at: datetime) -> bool:
        """Whether the aware instant ``at`` falls inside the window."""
        local = at.astimezone(ZoneInfo(self.timezone))
        start, end = parse_clock(self.start), parse_clock(self.end)
        now = local.time().replace(second=0, microsecond=0, tzinfo=None)
        today = DAYS[local.weekday()] in self.days
        if start == end:
            return today
        if start < end:
            return today and start <= now < end
        yesterday = DAYS[(local.date() - timedelta(days=1)).weekday()] in self.days
        return (today and now >= start) or (yesterday and now < end)


def in_any(windows: list[TimeWindow], at: datetime) -> bool:
    """True when there are no windows (always) or ``at`` falls in one of them."""
    return not windows or any(w.contains(at) for w in windows)
