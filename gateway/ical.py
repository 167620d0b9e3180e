"""Schedules as iCalendar: export the on-call timeline as a feed, read overrides from a calendar."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Event

from gateway.schedules import OverrideSettings, ScheduleSettings, Shift, shifts
from gateway.timewindow import check_zone

# What to_ical writes in SUMMARY; reading it back lets an exported feed round-trip.
_SUMMARY = re.compile(r"^\s*(?:on[ -]call:\s*)?(?P<who>.*?)\s*(?:\([^()]*\))?\s*$", re.IGNORECASE)


class ImportedOverrides(NamedTuple):
    """What ``overrides_from_ical`` made of a calendar."""

    overrides: list[OverrideSettings]
    problems: list[str]  # one readable line per event that names nobody known or has no end


def to_ical(
    name: str,
    schedule: ScheduleSettings,
    start: datetime,
    end: datetime,
    *,
    prodid: str = "-//ackgate//schedules//EN",
    stamp: datetime | None = None,
) -> bytes:
    """The schedule's effective timeline from ``start`` to ``end`` as an iCalendar feed.

    One VEVENT per ``Shift``, in UTC, marked transparent so that on-call time does not show as
    busy. A UID is derived from the schedule name, the member and the shift's start, so a
    subscribed calendar updates an event in place when a later export changes its end. A shift
    already running at ``start`` is cut there and gets a UID from that cut: serve a feed from a
    fixed point (such as today's midnight) to keep that first event's UID stable too.

    Args:
        name: The schedule's key under ``[schedules]``.
        schedule: The schedule.
        start: A timezone-aware instant, inclusive.
        end: A timezone-aware instant, exclusive.
        prodid: The calendar's PRODID.
        stamp: DTSTAMP of every event; now when not given.

    Returns:
        The calendar as iCalendar bytes.

    Raises:
        ValueError: ``start`` or ``end`` is naive.
    """
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"On call: {name}")
    if schedule.description:
        calendar.add("x-wr-caldesc", schedule.description)
    stamp_utc = (stamp or datetime.now(UTC)).astimezone(UTC)
    for shift in shifts(schedule, start, end):
        event = Event()
        event.add("uid", shift_uid(name, shift))
        event.add("dtstamp", stamp_utc)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"On call: {shift.member} ({name})")
        event.add("description", f"layer {shift.layer}" if shift.layer else "override")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def shift_uid(name: str, shift: Shift) -> str:
    """The UID of a shift's event: the same for the same schedule, member and start."""
    key = f"{name}\n{shift.member}\n{shift.start.astimezone(UTC).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@ackgate"


def overrides_from_ical(
    data: bytes,
    members_by_email_or_name: Mapping[str, str],
    *,
    start: datetime,
    end: datetime,
    timezone: str = "UTC",
) -> ImportedOverrides:
    """Overrides from the events of a calendar ("Dave covers Friday night").

    Recurring events are expanded between ``start`` and ``end``; every occurrence that overlaps
    that range becomes overrides, uncut. Cancelled events are left out. The member is found from
    each ATTENDEE (its mailto address, then its CN), and only when no attendee is known from the
    SUMMARY (``"dave"``, or ``"On call: dave (primary)"`` as ``to_ical`` writes it); every known
    attendee gets an override. Keys of ``members_by_email_or_name`` match case-insensitively.
    Events that name nobody known, or that have no end, are not overrides but problems.

    Args:
        data: iCalendar bytes.
        members_by_email_or_name: Email addresses and names, each to a member name.
        start: A timezone-aware instant: occurrences ending before it are ignored.
        end: A timezone-aware instant: occurrences starting after it are ignored.
        timezone: The zone of all-day events and of times without one.

    Returns:
        The overrides, ordered by start then member, and the problems.

    Raises:
        ValueError: ``data`` is not iCalendar, ``timezone`` is unknown, or ``start`` or ``end``
            is naive.
    """
    zone = ZoneInfo(check_zone(timezone))
    for value, what in ((start, "start"), (end, "end")):
        if value.utcoffset() is None:
            raise ValueError(f"{what} must be timezone-aware")
    known = {key.casefold(): member for key, member in members_by_email_or_name.items()}
    calendar = Calendar.from_ical(data)
    occurrences = recurring_ical_events.of(calendar).between(
        start.astimezone(UTC), end.astimezone(UTC)
    )
    overrides: list[OverrideSettings] = []
    problems: list[str] = []
    for event in occurrences:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        summary = str(event.get("SUMMARY", ""))
        span = _span(event, zone)
        if span is None:
            problems.append(f"event {summary!r}: has no end")
            continue
        members, tried = _members(event, summary, known)
        if not members:
            names = ", ".join(repr(name) for name in tried) or "no attendee or summary"
            problems.append(
                f"event {summary!r} at {span[0]:%Y-%m-%d %H:%M} UTC: no member matches {names}"
            )
        overrides.extend(
            OverrideSettings(member=member, start=span[0], end=span[1]) for member in members
        )
    overrides.sort(key=lambda o: (o.start, o.member))
    return ImportedOverrides(overrides, problems)


def _span(event: Event, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    first = _instant(event.decoded("DTSTART"), zone)
    if "DTEND" in event:
        last = _instant(event.decoded("DTEND"), zone)
    elif "DURATION" in event:
        last = first + event.decoded("DURATION")
    elif not isinstance(event.decoded("DTSTART"), datetime):
        last = first + timedelta(days=1)  # RFC 5545: an all-day event without an end is a day
    else:
        return None
    return (first, last) if last > first else None


def _instant(value: date, zone: ZoneInfo) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.combine(value, time(0))
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _members(event: Event, summary: str, known: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Members the event names, and every name tried (for the problem report)."""
    raw = event.get("ATTENDEE", [])
    attendees = raw if isinstance(raw, list) else [raw]
    found: list[str] = []
    tried: list[str] = []
    for attendee in attendees:
        address = re.sub(r"^mailto:", "", str(attendee), flags=re.IGNORECASE)
        names = [address, str(attendee.params.get("CN", ""))]
        names = [name for name in names if name]
        tried.extend(names)
        member = next((known[n.casefold()] for n in names if n.casefold() in known), None)
        if member is not None and member not in found:
            found.append(member)
    if found:
        return found, tried
    match = _SUMMARY.match(summary)
    for name in dict.fromkeys(n for n in (summary.strip(), match and match["who"]) if n):
        tried.append(name)
        if name.casefold() in known:
            return [known[name.casefold()]], tried
    return [], tried
