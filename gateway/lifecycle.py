"""The incident state machine: one explicit table of what each verb does in each status."""

from __future__ import annotations

from enum import StrEnum

from gateway.domain import Status, Verb


class Effect(StrEnum):
    """What a verb does in a status, when it does not simply move to another status."""

    KEEP = "keep"  # allowed; the status stays as it is
    REPEAT = "repeat"  # the incident is already where the verb would take it: not an error
    REFUSE = "refuse"  # not allowed in this status


Result = Status | Effect

T, A, C = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.CLOSED

TRANSITIONS: dict[Verb, dict[Status, Result]] = {
    Verb.ACK: {T: A, A: Effect.REPEAT, C: Effect.REFUSE},
    Verb.CLOSE: {T: C, A: C, C: Effect.REPEAT},
    Verb.REOPEN: {T: Effect.REPEAT, A: Effect.REPEAT, C: T},
    Verb.ESCALATE: {T: T, A: T, C: Effect.REFUSE},
    Verb.SNOOZE: {T: A, A: A, C: Effect.REFUSE},
    Verb.ASSIGN: {T: Effect.KEEP, A: Effect.KEEP, C: Effect.REFUSE},
    Verb.COMMENT: {T: Effect.KEEP, A: Effect.KEEP, C: Effect.KEEP},
    Verb.SEVERITY: {T: Effect.KEEP, A: Effect.KEEP, C: Effect.KEEP},
}


def decide(verb: Verb, status: Status) -> Result:
    """What ``verb`` does to an incident in ``status``."""
    return TRANSITIONS[verb][status]
