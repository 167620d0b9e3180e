"""Escalation policy and personal-preference settings: who is paged, how, and for how long."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.domain import Severity
from gateway.matching import Conditions
from gateway.strict import Strict
from gateway.timewindow import TimeWindow

# A level's target: a member's name, ``schedule:NAME`` (whoever is on call when the level
# fires) or ``group:NAME`` (every member of a group).
TARGET = re.compile(r"^(?:(schedule|group):)?([A-Za-z0-9_.@-]+)$")
# Direct channels that are not chat platforms; each needs its own section once it exists.
DIRECT_CHANNELS = ("sms", "voice", "email")

EscalateIf = Literal["unacked", "open"]


def split_target(target: str) -> tuple[str, str]:
    """``"schedule:primary"`` → ``("schedule", "primary")``; a bare name is a member."""
    match = TARGET.match(target)
    if match is None:
        raise ValueError(f"not a member, schedule:NAME or group:NAME: {target!r}")
    return match.group(1) or "member", match.group(2)


class LevelSettings(Strict):
    """One level of a policy.

    ``targets`` are paged when the level starts, on the channels in ``channels`` (every one
    of them, at once) or, when that is absent, on each person's own preferences; ``chats``
    names destinations (``[destinations.NAME]``) that get the card too. The next level
    starts ``wait_min`` minutes later if the incident is still unacknowledged
    (``escalate_if = "unacked"``) or still open (``"open"``). With ``loop_every_min``, the
    same people are paged again every so often, at most ``loop_times`` times, while the
    incident is unacknowledged.
    """

    targets: list[str] = Field(default_factory=list)
    channels: list[str] | None = None
    chats: list[str] = Field(default_factory=list)
    wait_min: float = Field(default=30.0, gt=0)
    escalate_if: EscalateIf = "unacked"
    loop_every_min: float | None = Field(default=None, ge=0.5)
    loop_times: int = Field(default=0, ge=0)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for target in value:
            split_target(target)
        return value

    @model_validator(mode="after")
    def _someone(self) -> LevelSettings:
        if not self.targets and not self.chats:
            raise ValueError("a level needs targets or chats")
        if self.channels is not None and not self.channels:
            raise ValueError("channels: leave it out to follow personal preferences")
        if self.loop_times and self.loop_every_min is None:
            raise ValueError("loop_times needs loop_every_min")
        if self.loop_every_min is not None and not self.loop_times:
            raise ValueError("loop_every_min needs loop_times (how many times at most)")
        if self.loop_every_min is not None and self.loop_every_min * 2 != int(
            self.loop_every_min * 2
        ):
            raise ValueError("loop_every_min must be a multiple of 0.5")
        return self


class EscalationSettings(Conditions):
    """An escalation policy: ordered levels, optionally repeated, for matching incidents.

    A service may hold several (``[[services.NAME.policies]]``), tried top to bottom when an
    incident opens: the first enabled one whose conditions (``severity``, ``labels``,
    ``title``, ``description``, ``integration``: see ``Conditions``) match and whose
    ``windows`` contain the opening time is frozen onto the incident.
    """

    name: str | None = None
    enabled: bool = True
    windows: list[TimeWindow] = Field(default_factory=list)
    delay_s: int = Field(default=0, ge=0, le=3600)
    repeat: int = Field(default=0, ge=0)
    levels: list[LevelSettings] = Field(min_length=1)


class PreferenceStep(Strict):
    """Reach a member on ``channel`` ``delay_min`` minutes after they are paged."""

    channel: str
    delay_min: float = Field(default=0.0, ge=0, le=24 * 60)


# Per severity, the ordered steps that reach a member ("critical: Slack now, voice at 2 min").
Preferences = dict[Severity, list[PreferenceStep]]
