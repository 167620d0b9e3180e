"""On-call schedules: rotation order, DST handoffs, layer priority, overrides, the timeline."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from gateway.config import key_path
from gateway.schedules import (
    LayerSettings,
    OverrideSettings,
    ScheduleSettings,
    Shift,
    check_members,
    on_call,
    shifts,
)
from gateway.timewindow import TimeWindow

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def schedule(
    *layers: dict[str, Any],
    timezone: str = "Europe/Berlin",
    overrides: list[dict[str, Any]] | None = None,
) -> ScheduleSettings:
    return ScheduleSettings.model_validate(
        {"timezone": timezone, "layers": list(layers), "overrides": overrides or []}
    )


def layer(name: str, members: list[str], shift_h: float, start: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "members": members, "shift_h": shift_h, "start": start, **more}


# The shape of the config.example.toml section, as tomllib hands it over.
PRIMARY = schedule(
    layer(
        "business-hours",
        ["alice", "bob"],
        24,
        "2026-01-05",
        restrict=[{"days": WEEKDAYS, "start": "09:00", "end": "18:00"}],
    ),
    layer("follow-the-sun", ["carol"], 168, "2026-01-05"),
    overrides=[{"member": "dave", "start": "2026-11-27T18:00", "end": "2026-11-28T09:00"}],
)


def test_daily_rotation_goes_round_in_order_for_many_shifts() -> None:
    members = ["a", "b", "c"]
    sched = schedule(layer("l", members, 24, "2026-01-05"), timezone="UTC")
    first = utc("2026-01-05T09:00")
    for day in range(100):
        handoff = first + timedelta(days=day)
        assert on_call(sched, handoff) == (members[day % 3],)
        assert on_call(sched, handoff + timedelta(hours=23, minutes=59)) == (members[day % 3],)


@pytest.mark.parametrize(
    ("at", "who"),
    [
        ("2026-01-05T08:59:59", ()),  # before the first handoff on the start date
        ("2026-01-05T09:00", ("a",)),
        ("2026-01-12T08:59", ("a",)),
        ("2026-01-12T09:00", ("b",)),
        ("2026-01-19T09:00", ("a",)),
        ("2027-01-04T09:00", ("a",)),  # 52 shifts on
        ("2027-01-11T09:00", ("b",)),
        ("2025-12-31T12:00", ()),
    ],
)
def test_weekly_rotation_and_nobody_before_the_start(at: str, who: tuple[str, ...]) -> None:
    sched = schedule(layer("l", ["a", "b"], 168, "2026-01-05"), timezone="UTC")
    assert on_call(sched, utc(at)) == who


DAILY_BERLIN = schedule(layer("l", ["alice", "bob"], 24, "2026-03-27"))


@pytest.mark.parametrize(
    ("at", "who"),
    [
        # Winter time (UTC+1): 09:00 Berlin is 08:00 UTC.
        ("2026-03-27T07:59", ()),
        ("2026-03-27T08:00", ("alice",)),
        ("2026-03-28T07:59", ("alice",)),
        ("2026-03-28T08:00", ("bob",)),
        # Clocks go forward on Sunday 29 March at 02:00: 09:00 Berlin is now 07:00 UTC, and
        # Saturday's shift was 23 hours long.
        ("2026-03-29T06:59", ("bob",)),
        ("2026-03-29T07:00", ("alice",)),
        ("2026-03-30T07:00", ("bob",)),
    ],
)
def test_daily_handoff_stays_at_nine_local_across_spring_forward(
    at: str, who: tuple[str, ...]
) -> None:
    assert on_call(DAILY_BERLIN, utc(at)) == who


@pytest.mark.parametrize(
    ("at", "who"),
    [
        ("2026-10-24T06:59", ("alice",)),  # summer time: 09:00 Berlin is 07:00 UTC
        ("2026-10-24T07:00", ("bob",)),
        # Clocks go back on Sunday 25 October at 03:00: Saturday's shift lasts 25 hours.
        ("2026-10-25T07:00", ("bob",)),
        ("2026-10-25T07:59", ("bob",)),
        ("2026-10-25T08:00", ("alice",)),
        ("2026-10-26T08:00", ("bob",)),
    ],
)
def test_daily_handoff_stays_at_nine_local_across_fall_back(at: str, who: tuple[str, ...]) -> None:
    # 2026-03-27 + 211 days = 2026-10-24, an odd shift index: bob.
    assert on_call(DAILY_BERLIN, utc(at)) == who


def test_dst_shifts_are_23_and_25_hours_long() -> None:
    spring = shifts(DAILY_BERLIN, utc("2026-03-28T08:00"), utc("2026-03-30T07:00"))
    assert [(s.member, s.end - s.start) for s in spring] == [
        ("bob", timedelta(hours=23)),
        ("alice", timedelta(hours=24)),
    ]
    autumn = shifts(DAILY_BERLIN, utc("2026-10-24T07:00"), utc("2026-10-26T08:00"))
    assert [(s.member, s.end - s.start) for s in autumn] == [
        ("bob", timedelta(hours=25)),
        ("alice", timedelta(hours=24)),
    ]


def test_weekly_handoff_after_spring_forward_is_nine_local() -> None:
    sched = schedule(layer("l", ["a", "b"], 168, "2026-03-23"))
    assert on_call(sched, berlin("2026-03-30T08:59")) == ("a",)
    assert on_call(sched, berlin("2026-03-30T09:00")) == ("b",)
    assert on_call(sched, utc("2026-03-30T07:00")) == ("b",)


def test_shifts_that_are_not_whole_days_count_elapsed_hours() -> None:
    sched = schedule(layer("l", ["day", "night"], 12, "2026-03-28"))
    # First handoff 09:00 CET = 08:00 UTC; then every 12 h whatever the clocks do, so after
    # the change the handoffs are at 10:00 and 22:00 Berlin time.
    assert on_call(sched, utc("2026-03-28T07:59")) == ()
    assert on_call(sched, utc("2026-03-28T08:00")) == ("day",)
    assert on_call(sched, utc("2026-03-28T20:00")) == ("night",)
    assert on_call(sched, berlin("2026-03-29T09:59")) == ("night",)
    assert on_call(sched, berlin("2026-03-29T10:00")) == ("day",)


def test_a_layer_can_have_its_own_zone_and_handoff() -> None:
    sched = schedule(
        layer("l", ["a", "b"], 24, "2026-01-05", timezone="America/New_York", handoff="17:30")
    )
    assert sched.layers[0].timezone == "America/New_York"
    assert on_call(sched, utc("2026-01-05T22:29")) == ()
    assert on_call(sched, utc("2026-01-05T22:30")) == ("a",)
    assert on_call(sched, utc("2026-01-06T22:30")) == ("b",)


@pytest.mark.parametrize(
    ("at", "who"),
    [
        ("2026-11-24T10:00", ("bob",)),  # Tuesday business hours: the top layer
        ("2026-11-25T10:00", ("alice",)),
        ("2026-11-24T08:59", ("carol",)),  # before business hours: the next layer
        ("2026-11-24T18:00", ("carol",)),  # the window's end is exclusive
        ("2026-11-28T12:00", ("carol",)),  # Saturday
    ],
)
def test_the_first_layer_with_someone_on_call_wins(at: str, who: tuple[str, ...]) -> None:
    # 24 November is 323 days after the rotation began with alice: an odd shift, bob's.
    assert on_call(PRIMARY, berlin(at)) == who


def test_restrict_windows_take_the_schedules_zone_unless_given() -> None:
    assert PRIMARY.layers[0].restrict[0].timezone == "Europe/Berlin"
    sched = schedule(
        layer("l", ["a"], 24, "2026-01-05", restrict=[{"timezone": "UTC", "start": "09:00"}])
    )
    assert sched.layers[0].restrict[0].timezone == "UTC"
    window = TimeWindow(start="09:00")  # built in Python: its own default, UTC
    built = ScheduleSettings(
        timezone="Europe/Berlin",
        layers=[LayerSettings(name="l", members=["a"], shift_h=24, start=date(2026, 1, 5),
                              restrict=[window])],
    )  # fmt: skip
    assert built.layers[0].restrict[0].timezone == "UTC"


def test_nobody_when_every_layer_is_restricted_away() -> None:
    sched = schedule(
        layer("office", ["a"], 24, "2026-01-05", restrict=[{"days": WEEKDAYS}]),
    )
    assert on_call(sched, berlin("2026-11-28T12:00")) == ()
    assert on_call(sched, berlin("2026-11-27T23:59")) == ("a",)


@pytest.mark.parametrize(
    ("at", "who"),
    [
        ("2026-11-27T17:59:59", ("alice",)),
        ("2026-11-27T18:00", ("dave",)),  # start inclusive, beats the layer
        ("2026-11-28T08:59:59", ("dave",)),
        ("2026-11-28T09:00", ("carol",)),  # end exclusive
    ],
)
def test_overrides_beat_every_layer(at: str, who: tuple[str, ...]) -> None:
    assert on_call(PRIMARY, berlin(at)) == who


def test_override_times_with_offsets_and_overlaps() -> None:
    sched = schedule(
        layer("l", ["a"], 24, "2026-01-05"),
        overrides=[
            {"member": "x", "start": "2026-02-01T10:00Z", "end": "2026-02-01T12:00Z"},
            {"member": "y", "start": "2026-02-01T11:00+00:00", "end": "2026-02-01T13:00+00:00"},
            {"member": "x", "start": "2026-02-01T11:30", "end": "2026-02-01T12:30"},
            {"member": "z", "timezone": "Asia/Tokyo", "start": "2026-02-02T09:00",
             "end": "2026-02-02T10:00"},
        ],
    )  # fmt: skip
    assert on_call(sched, utc("2026-02-01T10:59")) == ("x",)
    assert on_call(sched, utc("2026-02-01T11:00")) == ("x", "y")  # both cover
    assert on_call(sched, utc("2026-02-01T11:29")) == ("x", "y")
    assert on_call(sched, utc("2026-02-01T12:00")) == ("y",)  # both of x's have ended
    assert on_call(sched, utc("2026-02-02T00:00")) == ("z",)
    assert on_call(sched, utc("2026-02-02T01:00")) == ("a",)
    assert sched.overrides[2].start == utc("2026-02-01T10:30")  # 11:30 Berlin


def test_on_call_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call(PRIMARY, datetime(2026, 1, 5, 12))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        shifts(PRIMARY, datetime(2026, 1, 5, 12), utc("2026-02-01T00:00"))  # noqa: DTZ001


def test_shifts_merge_a_members_stretches_and_cut_at_the_range() -> None:
    sched = schedule(layer("solo", ["carol"], 168, "2026-01-05"), timezone="UTC")
    assert shifts(sched, utc("2026-01-01T00:00"), utc("2026-02-01T00:00")) == [
        Shift("carol", utc("2026-01-05T09:00"), utc("2026-02-01T00:00"), "solo")
    ]
    assert shifts(sched, utc("2026-02-01T00:00"), utc("2026-02-01T00:00")) == []


def test_shifts_through_a_week_of_the_primary_schedule() -> None:
    timeline = shifts(PRIMARY, berlin("2026-11-26T00:00"), berlin("2026-11-30T12:00"))
    got = [(s.member, s.start.astimezone(BERLIN).isoformat()[:16], s.layer) for s in timeline]
    assert got == [
        ("carol", "2026-11-26T00:00", "follow-the-sun"),
        ("bob", "2026-11-26T09:00", "business-hours"),
        ("carol", "2026-11-26T18:00", "follow-the-sun"),
        ("alice", "2026-11-27T09:00", "business-hours"),
        ("dave", "2026-11-27T18:00", None),
        ("carol", "2026-11-28T09:00", "follow-the-sun"),
        ("bob", "2026-11-30T09:00", "business-hours"),
    ]
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in timeline)
    assert [s.end for s in timeline[:-1]] == [s.start for s in timeline[1:]]
    assert timeline[-1].end == berlin("2026-11-30T12:00")


TANGLED = schedule(
    layer("office", ["alice", "bob", "erin"], 24, "2026-02-02", handoff="08:30",
          restrict=[{"days": WEEKDAYS, "start": "08:00", "end": "18:30"}]),
    # A window inside the hour skipped in spring and repeated in autumn.
    layer("odd-hours", ["frank"], 24, "2026-02-02",
          restrict=[{"start": "02:30", "end": "03:15"}, {"days": ["sun"], "start": "23:00",
                                                          "end": "01:00"}]),
    layer("tokyo", ["gina"], 24, "2026-02-02",
          restrict=[{"timezone": "Asia/Tokyo", "days": ["sat"], "start": "10:10", "end": "16:00"}]),
    layer("nights", ["carol", "dave"], 12, "2026-02-02", handoff="19:15"),
    overrides=[
        {"member": "dave", "start": "2026-03-28T20:00", "end": "2026-03-29T01:30"},
        {"member": "erin", "start": "2026-10-25T01:45Z", "end": "2026-10-25T03:00Z"},
        {"member": "carol", "start": "2026-10-25T02:00Z", "end": "2026-10-25T04:00Z"},
    ],
)  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-01-20T00:00", "2026-04-20T00:00"), ("2026-09-15T13:17", "2026-12-14T00:00")],
)
def test_shifts_agree_with_on_call_everywhere(start: str, end: str) -> None:
    begin, finish = utc(start), utc(end)
    timeline = shifts(TANGLED, begin, finish)
    for a, b in itertools.pairwise(timeline):
        assert (a.start, a.member) <= (b.start, b.member)
    for a in timeline:
        assert begin <= a.start < a.end <= finish
        # Merged: the same member never restarts on the same layer where they stopped.
        assert not any(
            b.start == a.end and (b.member, b.layer) == (a.member, a.layer) for b in timeline
        )

    def expected(at: datetime) -> list[str]:
        return sorted(s.member for s in timeline if s.start <= at < s.end)

    rng = random.Random(7)
    samples = {begin + timedelta(seconds=rng.uniform(0, (finish - begin).total_seconds()))
               for _ in range(2000)}  # fmt: skip
    for s in timeline:
        samples |= {s.start, s.end - timedelta(seconds=1), s.end}
    step = timedelta(minutes=11)
    samples |= {begin + step * i for i in range((finish - begin) // step)}
    for at in sorted(samples):
        if begin <= at < finish:
            assert sorted(on_call(TANGLED, at)) == expected(at), at


def test_the_skipped_hour_starts_a_window_at_the_jump() -> None:
    # 02:30 Berlin does not exist on 29 March; the clocks jump from 02:00 to 03:00 (01:00 UTC).
    # A window from 02:30 is entered at the jump, and shifts() must see that instant.
    window = {"start": "02:30", "end": "04:00"}
    sched = schedule(layer("l", ["frank"], 24, "2026-01-05", restrict=[window]))
    timeline = shifts(sched, utc("2026-03-28T12:00"), utc("2026-03-29T12:00"))
    assert [(s.start, s.end) for s in timeline] == [
        (utc("2026-03-29T01:00"), utc("2026-03-29T02:00"))
    ]


def test_a_ninety_day_timeline_is_computed_from_boundaries() -> None:
    timeline = shifts(PRIMARY, utc("2026-01-01T00:00"), utc("2026-04-01T00:00"))
    # Every weekday two handoffs to/from business hours, plus weekends merged into one.
    assert 120 < len(timeline) < 160


@pytest.mark.parametrize(
    ("doc", "where", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"layers": []}, "layers", "at least 1"),
        ({"layers": [layer("l", [], 24, "2026-01-05")]}, "layers[0].members", "at least 1"),
        ({"layers": [layer("l", ["a", "b", "a"], 24, "2026-01-05")]}, "layers[0].members",
         "'a' is listed twice"),
        ({"layers": [layer("l", [""], 24, "2026-01-05")]}, "layers[0].members[0]", "at least 1"),
        ({"layers": [layer("l", ["a"], 0, "2026-01-05")]}, "layers[0].shift_h", "greater than 0"),
        ({"layers": [layer("l", ["a"], 0.001, "2026-01-05")]}, "layers[0].shift_h", "one minute"),
        ({"layers": [layer("l", ["a"], 24, "2026-01-05", handoff="9:00")]}, "layers[0].handoff",
         "must be hh:mm"),
        ({"layers": [layer("l", ["a"], 24, "2026-13-05")]}, "layers[0].start", "valid date"),
        ({"layers": [layer("l", ["a"], 24, "2026-01-05", timezone="Nope")]}, "layers[0].timezone",
         "unknown time zone"),
        ({"layers": [layer("l", ["a"], 24, "2026-01-05", restrict=[{"start": "25:00"}])]},
         "layers[0].restrict[0].start", "must be hh:mm"),
        ({"layers": [layer("l", ["a"], 24, "2026-01-05", shifts=3)]}, "layers[0].shifts",
         "extra inputs"),
        ({"layers": [layer("l", ["a"], 24, "2026-01-05"), layer("l", ["b"], 24, "2026-01-05")]},
         "layers", "two layers are named 'l'"),
        ({"overrides": [{"member": "a", "start": "2026-01-05T10:00", "end": "2026-01-05T10:00"}]},
         "overrides[0].end", "must be after start"),
        ({"overrides": [{"member": "a", "start": "2026-01-05T10:00Z", "end": "2026-01-05T10:30"}]},
         "overrides[0].end", "must be after start"),  # 10:30 Berlin is 09:30 UTC
        ({"overrides": [{"member": "a", "start": "soon", "end": "2026-01-05T10:00"}]},
         "overrides[0].start", "valid datetime"),
        ({"overrides": [{"member": "a", "timezone": "Nope", "start": "2026-01-05T10:00",
                         "end": "2026-01-05T11:00"}]}, "overrides[0].timezone",
         "unknown time zone"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_key(doc: dict[str, Any], where: str, message: str) -> None:
    full = {"timezone": "Europe/Berlin", "layers": [layer("l", ["a"], 24, "2026-01-05")], **doc}
    with pytest.raises(ValidationError) as err:
        ScheduleSettings.model_validate(full)
    problems = [(key_path(e["loc"]), e["msg"].lower()) for e in err.value.errors()]
    assert len(problems) == 1, problems
    assert problems[0][0] == where
    assert message in problems[0][1]


def test_a_bad_schedule_zone_is_reported_once() -> None:
    doc = {
        "timezone": "Nope",
        "layers": [layer("l", ["a"], 24, "2026-01-05", restrict=[{"start": "09:00"}])],
        "overrides": [{"member": "a", "start": "2026-01-05T10:00", "end": "2026-01-05T11:00"}],
    }
    with pytest.raises(ValidationError) as err:
        ScheduleSettings.model_validate(doc)
    assert [key_path(e["loc"]) for e in err.value.errors()] == ["timezone"]


def test_an_override_on_its_own_reads_naive_times_as_utc() -> None:
    override = OverrideSettings.model_validate(
        {"member": "a", "start": "2026-01-05T10:00", "end": "2026-01-05T11:00"}
    )
    assert override.start == utc("2026-01-05T10:00")


def test_check_members_names_every_unknown_reference() -> None:
    assert check_members("primary", PRIMARY, {"alice", "bob", "carol", "dave"}) == []
    assert check_members("primary", PRIMARY, {"alice", "carol"}) == [
        "schedules.primary.layers[0].members[1]: no member named 'bob'",
        "schedules.primary.overrides[0].member: no member named 'dave'",
    ]
