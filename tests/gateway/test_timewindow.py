"""Weekly time windows: daytime, overnight, whole days, DST edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gateway.timewindow import TimeWindow, in_any

BERLIN_OFFICE = TimeWindow(
    timezone="Europe/Berlin", days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="18:00"
)
NIGHTS = TimeWindow(timezone="Europe/Berlin", days=["fri"], start="22:00", end="06:00")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        # Winter (CET, UTC+1): 09:00 Berlin is 08:00 UTC.
        ("2026-01-05T07:59", False),
        ("2026-01-05T08:00", True),
        ("2026-01-05T16:59", True),
        ("2026-01-05T17:00", False),
        ("2026-01-10T10:00", False),  # Saturday
        # Summer (CEST, UTC+2): 09:00 Berlin is 07:00 UTC.
        ("2026-07-06T07:00", True),
        ("2026-07-06T06:59", False),
        ("2026-07-06T15:59", True),
        ("2026-07-06T16:00", False),
        # The Monday after the spring change (29 March 2026) is already on summer time.
        ("2026-03-30T07:00", True),
        # The Monday after the autumn change (25 October 2026) is back on winter time.
        ("2026-10-26T07:30", False),
        ("2026-10-26T08:00", True),
    ],
)
def test_office_hours_follow_local_time_across_dst(at: str, inside: bool) -> None:
    assert BERLIN_OFFICE.contains(utc(at)) is inside


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2026-11-27T20:59", False),  # Friday 21:59 Berlin
        ("2026-11-27T21:00", True),  # Friday 22:00
        ("2026-11-28T04:59", True),  # Saturday 05:59: the night that began on Friday
        ("2026-11-28T05:00", False),  # Saturday 06:00
        ("2026-11-28T21:30", False),  # Saturday 22:30: Saturday is not listed
        ("2026-11-27T02:00", False),  # Friday 03:00: Thursday night is not listed
    ],
)
def test_overnight_window_belongs_to_the_day_it_starts(at: str, inside: bool) -> None:
    assert NIGHTS.contains(utc(at)) is inside


def test_whole_days_and_no_windows() -> None:
    weekend = TimeWindow(timezone="Asia/Shanghai", days=["sat", "sun"])
    assert weekend.contains(utc("2026-11-27T16:00"))  # Saturday 00:00 in Shanghai
    assert not weekend.contains(utc("2026-11-27T15:59"))
    assert in_any([], utc("2026-11-27T15:59"))
    assert in_any([BERLIN_OFFICE, weekend], utc("2026-11-28T12:00"))
    assert not in_any([BERLIN_OFFICE, weekend], utc("2026-11-26T19:00"))  # Thursday


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"start": "9:00"}, "must be HH:MM"),
        ({"end": "24:00"}, "must be HH:MM"),
        ({"days": ["mon", "mon"]}, "listed twice"),
        ({"days": ["monday"]}, "days.0"),
        ({"days": []}, "at least 1"),
    ],
)
def test_bad_windows_are_refused(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TimeWindow.model_validate(doc)
