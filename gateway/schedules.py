"""On-call schedules: the config models and who is on call at any instant or over a range.

A schedule is a list of rotation layers in priority order plus overrides. At an instant, the
members of every override running then are on call; failing that, the first layer with someone
on call (started, and inside its ``restrict`` windows) decides.

Rotation arithmetic: a shift length that is a whole number of days (``shift_h`` a multiple of
24) hands off at the ``handoff`` wall-clock time in the layer's zone, so a daily or weekly
rotation hands off at 09:00 local also across daylight-saving changes (that shift is 23 or 25
hours long). Any other length counts elapsed hours from the first handoff: a 12 h rotation that
hands off at 09:00/21:00 in winter does so at 10:00/22:00 in summer. Wall-clock half days are two
daily layers with ``restrict`` windows.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator, model_validator

from gateway.strict import Strict
from gateway.timewindow import TimeWindow, check_zone, in_any, parse_clock

_MIN_SHIFT_H = 1 / 60  # shorter shifts are a typo, and would make a timeline huge


class LayerSettings(Strict):
    """One rotation: ``members`` take turns, one shift of ``shift_h`` hours each.

    The first member's first shift starts on ``start`` at ``handoff`` local time in ``timezone``
    (inside a schedule, the schedule's zone unless set). ``restrict`` limits when the layer has
    anyone on call; the rotation keeps turning outside those windows. A window written without
    a ``timezone`` takes the layer's.
    """

    name: str = Field(min_length=1)
    members: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    shift_h: float = Field(gt=0)
    start: date
    handoff: str = "09:00"
    timezone: str | None = None
    restrict: list[TimeWindow] = Field(default_factory=list)

    @field_validator("members")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for member in value:
            if member in seen:
                raise ValueError(f"{member!r} is listed twice")
            seen.add(member)
        return value

    @field_validator("shift_h")
    @classmethod
    def _at_least_a_minute(cls, value: float) -> float:
        if 0 < value < _MIN_SHIFT_H:
            raise ValueError("must be at least one minute (1/60)")
        return value

    @field_validator("handoff")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)


class OverrideSettings(Strict):
    """``member`` covers from ``start`` (inclusive) to ``end`` (exclusive), ahead of every layer.

    Times without an offset are wall-clock times in ``timezone`` (inside a schedule, the
    schedule's zone unless set; UTC otherwise). A local time that happens twice when the clocks
    go back means the first. Both are stored in UTC.
    """

    member: str = Field(min_length=1)
    timezone: str | None = None
    start: datetime
    end: datetime

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime, info: ValidationInfo) -> datetime:
        if value.utcoffset() is None:
            # A bad zone is reported on its own key; UTC keeps the rest of the checks going.
            value = value.replace(tzinfo=ZoneInfo(info.data.get("timezone") or "UTC"))
        value = value.astimezone(UTC)
        start = info.data.get("start")
        if info.field_name == "end" and start is not None and value <= start:
            raise ValueError("must be after start")
        return value


class ScheduleSettings(Strict):
    """Rotation layers in priority order, and overrides that beat every layer."""

    timezone: str = "UTC"
    description: str = ""
    layers: list[LayerSettings] = Field(min_length=1)
    overrides: list[OverrideSettings] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _inherit_zone(cls, data: Any) -> Any:
        # Filled in before validation so that the stored models are self-contained: a window
        # or override read on its own says which zone it means.
        if not isinstance(data, dict):
            return data
        zone = data.get("timezone", "UTC")
        if not _valid_zone(zone):
            return data  # reported once, on the schedule's own key
        out = dict(data)
        if isinstance(layers := data.get("layers"), list):
            out["layers"] = [_layer_with_zone(layer, zone) for layer in layers]
        if isinstance(overrides := data.get("overrides"), list):
            out["overrides"] = [
                {"timezone": zone, **item} if isinstance(item, dict) else item for item in overrides
            ]
        return out

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("layers")
    @classmethod
    def _unique_names(cls, value: list[LayerSettings]) -> list[LayerSettings]:
        seen: set[str] = set()
        for layer in value:
            if layer.name in seen:
                raise ValueError(f"two layers are named {layer.name!r}")
            seen.add(layer.name)
        return value


def _valid_zone(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        check_zone(value)
    except ValueError:
        return False
    return True


def _layer_with_zone(layer: Any, zone: str) -> Any:
    if not isinstance(layer, dict):
        return layer
    layer = {"timezone": zone, **layer}
    restrict = layer.get("restrict")
    if _valid_zone(layer["timezone"]) and isinstance(restrict, list):
        layer["restrict"] = [
            {"timezone": layer["timezone"], **window} if isinstance(window, dict) else window
            for window in restrict
        ]
    return layer


@dataclass(frozen=True, slots=True)
class Shift:
    """One stretch of duty, in UTC; ``layer`` is None when an override put the member there."""

    member: str
    start: datetime
    end: datetime
    layer: str | None


def on_call(schedule: ScheduleSettings, at: datetime) -> tuple[str, ...]:
    """Who is on call at an instant.

    Args:
        schedule: The schedule.
        at: A timezone-aware instant.

    Returns:
        The members of every override running at ``at`` (in listed order) if there is one;
        otherwise the member of the first layer with someone on call; otherwise nobody.

    Raises:
        ValueError: ``at`` is naive.
    """
    _require_aware(at, "at")
    return tuple(member for member, _ in _Plan(schedule).who(at.astimezone(UTC)))


def shifts(schedule: ScheduleSettings, start: datetime, end: datetime) -> list[Shift]:
    """The effective on-call timeline from ``start`` to ``end``.

    Layer priority, restrictions and overrides are applied; a member's consecutive stretches
    from the same layer (or from overrides) are merged into one shift. Shifts running at
    ``start`` or ``end`` are cut there. Only the instants where the answer can change (handoffs,
    window edges, override edges, clock changes) are evaluated, so long ranges stay cheap.

    Args:
        schedule: The schedule.
        start: A timezone-aware instant, inclusive.
        end: A timezone-aware instant, exclusive.

    Returns:
        Shifts in UTC, ordered by start then member; they overlap only where overrides do.

    Raises:
        ValueError: ``start`` or ``end`` is naive.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    plan = _Plan(schedule)
    done: list[Shift] = []
    running: dict[tuple[str, str | None], datetime] = {}
    for edge in plan.edges(start, end):
        now = set(plan.who(edge))
        ended = [key for key in running if key not in now]
        done.extend(Shift(key[0], running.pop(key), edge, key[1]) for key in ended)
        for key in now:
            running.setdefault(key, edge)
    done.extend(Shift(member, since, end, layer) for (member, layer), since in running.items())
    done.sort(key=lambda shift: (shift.start, shift.member))
    return done


def check_members(name: str, schedule: ScheduleSettings, members: Collection[str]) -> list[str]:
    """References from a schedule to members that do not exist.

    Args:
        name: The schedule's key under ``[schedules]``.
        schedule: The schedule.
        members: The configured member names.

    Returns:
        One message per unknown name, prefixed with its key path.
    """
    problems: list[str] = []
    for li, layer in enumerate(schedule.layers):
        for mi, member in enumerate(layer.members):
            if member not in members:
                problems.append(
                    f"schedules.{name}.layers[{li}].members[{mi}]: no member named {member!r}"
                )
    for oi, override in enumerate(schedule.overrides):
        if override.member not in members:
            problems.append(
                f"schedules.{name}.overrides[{oi}].member: no member named {override.member!r}"
            )
    return problems


def _require_aware(value: datetime, what: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


class _Rotation:
    """Shift ``i`` of a layer runs from ``boundary(i)`` to ``boundary(i + 1)``; 0 is the first."""

    def __init__(self, layer: LayerSettings, zone: ZoneInfo) -> None:
        self._zone = zone
        self._start = layer.start
        self._handoff = parse_clock(layer.handoff)
        self._days = int(layer.shift_h // 24) if layer.shift_h % 24 == 0 else 0
        self._length = timedelta(hours=layer.shift_h)
        self._first = self._local(layer.start)

    def _local(self, day: date) -> datetime:
        return datetime.combine(day, self._handoff, tzinfo=self._zone).astimezone(UTC)

    def boundary(self, index: int) -> datetime:
        """When shift ``index`` starts, in UTC."""
        if self._days:
            return self._local(self._start + timedelta(days=index * self._days))
        return self._first + index * self._length

    def index_at(self, at: datetime) -> int:
        """The shift running at ``at``; negative before the rotation starts."""
        if self._days:
            index = (at.astimezone(self._zone).date() - self._start).days // self._days
        else:
            index = (at - self._first) // self._length
        # The estimate is off by one around handoff time; the boundaries decide.
        while self.boundary(index) > at:
            index -= 1
        while self.boundary(index + 1) <= at:
            index += 1
        return index

    def boundaries(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Handoffs from the one at or before ``start`` (or the first) until ``end``."""
        index = max(self.index_at(start), 0)
        while (edge := self.boundary(index)) < end:
            yield edge
            index += 1


@dataclass(frozen=True, slots=True)
class _Layer:
    name: str
    members: tuple[str, ...]
    rotation: _Rotation
    windows: list[TimeWindow]

    def member_at(self, at: datetime) -> str | None:
        index = self.rotation.index_at(at)
        if index < 0 or not in_any(self.windows, at):
            return None
        return self.members[index % len(self.members)]


class _Plan:
    """A schedule with its zones resolved and override times in UTC."""

    def __init__(self, schedule: ScheduleSettings) -> None:
        self.layers: list[_Layer] = []
        for layer in schedule.layers:
            zone = ZoneInfo(layer.timezone or schedule.timezone)
            rotation = _Rotation(layer, zone)
            self.layers.append(_Layer(layer.name, tuple(layer.members), rotation, layer.restrict))
        self.overrides = [(o.member, o.start, o.end) for o in schedule.overrides]

    def who(self, at: datetime) -> tuple[tuple[str, str | None], ...]:
        """``(member, layer)`` pairs on call at the UTC instant ``at``."""
        covering = dict.fromkeys(m for m, start, end in self.overrides if start <= at < end)
        if covering:
            return tuple((member, None) for member in covering)
        for layer in self.layers:
            member = layer.member_at(at)
            if member is not None:
                return ((member, layer.name),)
        return ()

    def edges(self, start: datetime, end: datetime) -> list[datetime]:
        """Every instant in ``[start, end)`` where ``who`` may change, with ``start``, sorted."""
        found = {start}
        for override in self.overrides:
            found.update(override[1:])
        for layer in self.layers:
            found.update(layer.rotation.boundaries(start, end))
            for window in layer.windows:
                found.update(_window_edges(window, start, end))
        return sorted(edge for edge in found if start <= edge < end)


def _window_edges(window: TimeWindow, start: datetime, end: datetime) -> Iterator[datetime]:
    zone = ZoneInfo(window.timezone)
    clocks = {parse_clock(window.start), parse_clock(window.end), time(0)}
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        for clock in clocks:
            # Both folds: a wall-clock edge inside the repeated hour happens twice.
            for fold in (0, 1):
                yield datetime.combine(day, clock, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        day += timedelta(days=1)
    # An edge inside the skipped hour takes effect at the jump itself, which no wall-clock
    # time names.
    yield from _offset_changes(zone, start, end)


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    step = timedelta(days=1)
    lo = start
    while lo < end:
        hi = min(lo + step, end)
        if lo.astimezone(zone).utcoffset() != hi.astimezone(zone).utcoffset():
            yield _first_with_offset_of(zone, lo, hi)
        lo = hi


def _first_with_offset_of(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The earliest whole second after ``lo`` with ``hi``'s UTC offset (offsets change on one)."""
    before = lo.astimezone(zone).utcoffset()
    lo_s, hi_s = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    while hi_s - lo_s > 1:
        mid_s = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid_s, zone).utcoffset() == before:
            lo_s = mid_s
        else:
            hi_s = mid_s
    return datetime.fromtimestamp(hi_s, UTC)
