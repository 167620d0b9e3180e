"""iCalendar: the exported feed parses back to the timeline; overrides import from a calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar, Event, vCalAddress

from gateway.ical import overrides_from_ical, shift_uid, to_ical
from gateway.schedules import ScheduleSettings, shifts

PRIMARY = ScheduleSettings.model_validate(
    {
        "timezone": "Europe/Berlin",
        "description": "Payments on call",
        "layers": [
            {
                "name": "business-hours",
                "members": ["alice", "bob"],
                "shift_h": 24,
                "start": "2026-01-05",
                "restrict": [{"days": ["mon", "tue", "wed", "thu", "fri"], "end": "18:00",
                              "start": "09:00"}],
            },
            {"name": "follow-the-sun", "members": ["carol"], "shift_h": 168, "start": "2026-01-05"},
        ],
        "overrides": [{"member": "dave", "start": "2026-11-27T18:00", "end": "2026-11-28T09:00"}],
    }
)  # fmt: skip
MEMBERS = {
    "alice": "alice",
    "bob": "bob",
    "carol": "carol",
    "dave": "dave",
    "Dave.Ops@Example.com": "dave",
    "erin@example.com": "erin",
}
STAMP = datetime(2026, 11, 1, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def events_of(data: bytes) -> list[Event]:
    return [c for c in Calendar.from_ical(data).walk("VEVENT") if isinstance(c, Event)]


def test_every_shift_becomes_one_event_in_utc() -> None:
    start, end = utc("2026-11-23T00:00"), utc("2026-12-07T00:00")
    data = to_ical("primary", PRIMARY, start, end, stamp=STAMP)
    calendar = Calendar.from_ical(data)
    assert str(calendar["PRODID"]) == "-//ackgate//schedules//EN"
    assert str(calendar["X-WR-CALNAME"]) == "On call: primary"
    expected = shifts(PRIMARY, start, end)
    events = events_of(data)
    assert len(events) == len(expected)
    for event, shift in zip(events, expected, strict=True):
        assert event.decoded("DTSTART") == shift.start
        assert event.decoded("DTEND") == shift.end
        assert event.decoded("DTSTART").utcoffset() == timedelta(0)
        assert str(event["SUMMARY"]) == f"On call: {shift.member} (primary)"
        assert str(event["UID"]) == shift_uid("primary", shift)
        assert event.decoded("DTSTAMP") == STAMP
    assert len({str(e["UID"]) for e in events}) == len(events)
    assert b"DTSTART:20261127T170000Z" in data  # dave's override, 18:00 Berlin
    dave = next(e for e in events if "dave" in str(e["SUMMARY"]))
    assert str(dave["DESCRIPTION"]) == "override"


def test_uids_are_stable_across_exports() -> None:
    first = to_ical("primary", PRIMARY, utc("2026-11-23T00:00"), utc("2026-12-07T00:00"))
    again = to_ical("primary", PRIMARY, utc("2026-11-23T00:00"), utc("2026-12-07T00:00"))
    assert [str(e["UID"]) for e in events_of(first)] == [str(e["UID"]) for e in events_of(again)]
    # A feed that moved on a day keeps the UID of every shift that starts inside both ranges.
    later = to_ical("primary", PRIMARY, utc("2026-11-24T00:00"), utc("2026-12-08T00:00"))
    starts_old = {e.decoded("DTSTART"): str(e["UID"]) for e in events_of(first)}
    starts_new = {e.decoded("DTSTART"): str(e["UID"]) for e in events_of(later)}
    shared = [t for t in starts_new if t in starts_old and t > utc("2026-11-24T00:00")]
    assert len(shared) > 10
    assert all(starts_old[t] == starts_new[t] for t in shared)
    other = to_ical("secondary", PRIMARY, utc("2026-11-23T00:00"), utc("2026-12-07T00:00"))
    assert not {str(e["UID"]) for e in events_of(other)} & set(starts_old.values())


def test_an_empty_range_is_an_empty_calendar() -> None:
    data = to_ical("primary", PRIMARY, utc("2025-01-01T00:00"), utc("2025-02-01T00:00"))
    assert events_of(data) == []
    assert Calendar.from_ical(data)["VERSION"] == "2.0"


def calendar_with(*events: Event) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//test//EN")
    calendar.add("version", "2.0")
    for i, event in enumerate(events):
        event.add("uid", f"e{i}@test")
        event.add("dtstamp", STAMP)
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def event(summary: str, start: object, end: object | None = None, **props: object) -> Event:
    out = Event()
    out.add("summary", summary)
    out.add("dtstart", start)
    if end is not None:
        out.add("dtend", end)
    for key, value in props.items():
        out.add(key, value)
    return out


def attendee(email: str, name: str = "") -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    return address


START, END = utc("2026-01-01T00:00"), utc("2026-03-01T00:00")


def test_attendees_by_email_then_the_summary_name_the_member() -> None:
    data = calendar_with(
        event("Cover", utc("2026-01-10T18:00"), utc("2026-01-11T09:00"),
              attendee=attendee("dave.ops@example.com")),
        event("carol", utc("2026-01-12T18:00"), utc("2026-01-13T09:00")),
        event("On call: bob (primary)", utc("2026-01-14T18:00"), utc("2026-01-15T09:00")),
        event("Swap", utc("2026-01-16T18:00"), utc("2026-01-17T09:00"),
              attendee=[attendee("nobody@example.com", "Alice"), attendee("erin@example.com")]),
    )  # fmt: skip
    imported = overrides_from_ical(data, MEMBERS, start=START, end=END)
    assert imported.problems == []
    assert [(o.member, o.start, o.end) for o in imported.overrides] == [
        ("dave", utc("2026-01-10T18:00"), utc("2026-01-11T09:00")),
        ("carol", utc("2026-01-12T18:00"), utc("2026-01-13T09:00")),
        ("bob", utc("2026-01-14T18:00"), utc("2026-01-15T09:00")),
        ("alice", utc("2026-01-16T18:00"), utc("2026-01-17T09:00")),  # by CN
        ("erin", utc("2026-01-16T18:00"), utc("2026-01-17T09:00")),
    ]


def test_recurring_events_expand_within_the_horizon_in_their_zone() -> None:
    data = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:fridays@test\r
DTSTAMP:20260101T000000Z\r
DTSTART;TZID=Europe/Berlin:20260306T180000\r
DTEND;TZID=Europe/Berlin:20260307T090000\r
RRULE:FREQ=WEEKLY;BYDAY=FR\r
SUMMARY:Friday nights\r
ATTENDEE;CN=Erin:mailto:ERIN@example.com\r
END:VEVENT\r
END:VCALENDAR\r
"""
    imported = overrides_from_ical(
        data, MEMBERS, start=utc("2026-03-01T00:00"), end=utc("2026-04-01T00:00")
    )
    assert imported.problems == []
    assert [(o.member, o.start, o.end) for o in imported.overrides] == [
        ("erin", utc("2026-03-06T17:00"), utc("2026-03-07T08:00")),
        ("erin", utc("2026-03-13T17:00"), utc("2026-03-14T08:00")),
        ("erin", utc("2026-03-20T17:00"), utc("2026-03-21T08:00")),
        # 27 March is still winter time; the clocks change on the Sunday after.
        ("erin", utc("2026-03-27T17:00"), utc("2026-03-28T08:00")),
    ]


def test_all_day_and_floating_events_are_read_in_the_given_zone() -> None:
    data = calendar_with(
        event("carol", date(2026, 2, 2)),  # no end: one day
        event("bob", datetime(2026, 2, 5, 18, 0), datetime(2026, 2, 6, 9, 0)),  # noqa: DTZ001
        event("alice", utc("2026-02-10T08:00"), duration=timedelta(hours=3)),
    )
    imported = overrides_from_ical(data, MEMBERS, timezone="Europe/Berlin", start=START, end=END)
    assert [(o.member, o.start, o.end) for o in imported.overrides] == [
        ("carol", utc("2026-02-01T23:00"), utc("2026-02-02T23:00")),
        ("bob", utc("2026-02-05T17:00"), utc("2026-02-06T08:00")),
        ("alice", utc("2026-02-10T08:00"), utc("2026-02-10T11:00")),
    ]


def test_unknown_people_and_unusable_events_are_reported_not_imported() -> None:
    data = calendar_with(
        event("Dinner", utc("2026-01-10T18:00"), utc("2026-01-10T20:00"),
              attendee=attendee("zed@example.com")),
        event("zed", utc("2026-01-11T18:00"), utc("2026-01-11T20:00")),
        event("carol", utc("2026-01-12T18:00")),  # a moment, not a cover
        event("carol", utc("2026-01-13T18:00"), utc("2026-01-13T20:00"), status="CANCELLED"),
        event("carol", utc("2026-05-01T18:00"), utc("2026-05-01T20:00")),  # beyond the horizon
    )  # fmt: skip
    imported = overrides_from_ical(data, MEMBERS, start=START, end=END)
    assert imported.overrides == []
    assert sorted(imported.problems) == [
        "event 'Dinner' at 2026-01-10 18:00 UTC: no member matches 'zed@example.com', 'Dinner'",
        "event 'carol': has no end",
        "event 'zed' at 2026-01-11 18:00 UTC: no member matches 'zed'",
    ]


def test_an_exported_feed_reads_back_as_overrides() -> None:
    start, end = utc("2026-11-23T00:00"), utc("2026-11-30T00:00")
    imported = overrides_from_ical(
        to_ical("primary", PRIMARY, start, end), MEMBERS, start=start, end=end
    )
    assert imported.problems == []
    assert [(o.member, o.start, o.end) for o in imported.overrides] == [
        (s.member, s.start, s.end) for s in shifts(PRIMARY, start, end)
    ]


def test_import_rejects_what_it_cannot_read() -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        overrides_from_ical(calendar_with(), MEMBERS, start=naive, end=END)
    with pytest.raises(ValueError, match="unknown time zone"):
        overrides_from_ical(calendar_with(), MEMBERS, timezone="Nope", start=START, end=END)
    with pytest.raises(ValueError):  # noqa: PT011
        overrides_from_ical(b"not a calendar", MEMBERS, start=START, end=END)
