"""``perform()``: the only way anything changes an incident, whoever asks and from wherever.

Actions that arrive together are applied in order, each to the incident as the one before
left it, and written in one transaction (see ``gateway.batching``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import messages, permission
from gateway.config import Settings
from gateway.domain import (
    ActionRequest,
    Incident,
    Outcome,
    Severity,
    Status,
    TimelineEntry,
    Verb,
)
from gateway.errors import ActionRefused, InboundError, NotFound
from gateway.escalation import after_ack, following, progress_of, restart
from gateway.lifecycle import Effect, decide
from gateway.notices import NOBODY, Audience, load_audience, notices_for
from gateway.runtime import Runtime
from gateway.wire import incident_json
from storage import repo

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 4000
MAX_SNOOZE_MIN = 24 * 60

# Verb → the timeline kind it writes and the sentence that tells the actor it worked.
_KINDS = {
    Verb.ACK: ("acknowledged", "acked"),
    Verb.CLOSE: ("closed", "closed"),
    Verb.REOPEN: ("reopened", "reopened"),
    Verb.ESCALATE: ("escalated", "escalated"),
    Verb.COMMENT: ("commented", "commented"),
    Verb.SNOOZE: ("snoozed", "snoozed"),
    Verb.ASSIGN: ("assigned", "assigned"),
    Verb.SEVERITY: ("severity_changed", "severity_changed"),
}


@dataclass(frozen=True, slots=True)
class _Change:
    values: dict[str, Any]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Item:
    req: ActionRequest
    args: dict[str, Any]
    lang: str | None  # None: the actor's language


@dataclass
class _Writes:
    incidents: dict[int, Incident] = field(default_factory=dict)  # as the last action left them
    changed: set[int] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    processed: list[dict[str, Any]] = field(default_factory=list)
    callbacks: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    audience: Audience = NOBODY
    # Per incident whose service limits who may act: the people involved with it so far.
    involved: dict[int, set[str]] = field(default_factory=dict)


async def perform(rt: Runtime, req: ActionRequest, lang: str | None = None) -> Outcome:
    """Apply ``req`` idempotently and return what happened, after it is committed; the
    answer is worded in ``lang``, by default the acting member's language.

    Raises ActionRefused (unknown user, not allowed by the service's ``may_act``, invalid
    transition, bad arguments) and NotFound; in both cases nothing changed.
    """
    try:
        item = _Item(req, check_args(rt.settings, req), lang)
        outcome: Outcome = await rt.batcher(
            "actions", lambda items: _perform_many(rt, items)
        ).submit(item)
    except ActionRefused:
        rt.metrics.actions.labels(req.verb.value, req.source, "refused").inc()
        raise
    # Logged here, in the request's own context, so the line carries its request id.
    rt.metrics.actions.labels(
        req.verb.value, req.source, "changed" if outcome.changed else "repeat"
    ).inc()
    if outcome.changed:
        log.info(
            "incident #%s %s by %s via %s", req.incident, req.verb.value, outcome.actor, req.source
        )
    return outcome


async def _perform_many(rt: Runtime, items: Sequence[_Item]) -> list[Outcome | Exception]:
    settings = rt.settings
    writes = _Writes()
    results: list[Outcome | Exception] = []
    async with rt.db.write() as conn:
        now = rt.clock.now()
        prior = await repo.processed_outcomes(
            conn,
            [
                (i.req.platform, i.req.callback_id)
                for i in items
                if i.req.platform and i.req.callback_id
            ],
        )
        linked = await repo.members_for_identities(
            conn,
            [
                (i.req.platform, i.req.workspace, i.req.platform_user_id)
                for i in items
                if i.req.member is None and i.req.platform and i.req.platform_user_id
            ],
        )
        writes.incidents = await repo.load_incidents(
            conn, sorted({i.req.incident for i in items}), lock=True
        )
        # Any configured member may end up paged by an escalate or assign in this batch.
        writes.audience = await load_audience(conn, settings, writes.incidents, settings.members)
        writes.involved = await permission.load_involved(conn, settings, writes.incidents)
        for item in items:
            try:
                results.append(_one(settings, item, prior, linked, writes, now))
            except (ActionRefused, InboundError) as refusal:
                results.append(refusal)
        await _write(conn, writes)
    if writes.deliveries:
        rt.wake_outbox()
    return results


def _one(
    settings: Settings,
    item: _Item,
    prior: dict[tuple[str, str], dict[str, Any]],
    linked: dict[tuple[str, str, str], str],
    writes: _Writes,
    now: datetime,
) -> Outcome:
    req = item.req
    lang = item.lang or settings.language_of(req.member)
    callback = (req.platform, req.callback_id) if req.platform and req.callback_id else None
    if callback is not None:
        if callback in prior:
            return Outcome(changed=False, message=prior[callback]["message"], code="duplicate")
        if callback in writes.callbacks:
            first = writes.callbacks[callback]
            return Outcome(changed=False, message=first.message, code="duplicate")
    actor = resolve_actor(settings, req, linked, lang)
    lang = item.lang or settings.language_of(actor)
    incident = writes.incidents.get(req.incident)
    if incident is None:
        raise NotFound(messages.text("not_found", lang, number=req.incident))
    people = writes.involved.get(incident.number)
    if people is not None:
        permission.check(settings, incident, actor, people, lang)
    outcome = _apply(settings, req, incident, actor, item.args, now, lang, writes)
    if people is not None and outcome.incident is not None:
        # Whoever this action paged, assigned or made the acknowledger may act next in the batch.
        people |= permission.involved(outcome.incident)
    if callback is not None:
        writes.callbacks[callback] = outcome
        writes.processed.append(
            {
                "platform": callback[0],
                "callback_id": callback[1],
                "outcome": {"message": outcome.message, "changed": outcome.changed},
                "at": now,
            }
        )
    return outcome


async def _write(conn: AsyncConnection, writes: _Writes) -> None:
    await repo.save_incidents(conn, [writes.incidents[n] for n in sorted(writes.changed)])
    if writes.closed:
        await repo.release_open_keys(conn, sorted(writes.closed))
    await repo.add_timeline(conn, writes.timeline)
    await repo.add_deliveries(conn, writes.deliveries)
    await repo.record_processed(conn, writes.processed)


def check_args(settings: Settings, req: ActionRequest) -> dict[str, Any]:
    """The verb's arguments, validated; raises ActionRefused(code="bad_args")."""
    args = dict(req.args)

    def bad(detail: str) -> ActionRefused:
        return ActionRefused(detail, "bad_args")

    if req.verb is Verb.COMMENT:
        text = args.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad("comment needs args.text")
        if len(text) > MAX_COMMENT_CHARS:
            raise bad(f"args.text is longer than {MAX_COMMENT_CHARS} characters")
        return {"text": text.strip()}
    if req.verb is Verb.SNOOZE:
        minutes = args.get("minutes", 60)
        if isinstance(minutes, bool) or not isinstance(minutes, int | float):
            raise bad("args.minutes must be a number")
        if not 1 <= minutes <= MAX_SNOOZE_MIN:
            raise bad(f"args.minutes must be between 1 and {MAX_SNOOZE_MIN}")
        return {"minutes": float(minutes)}
    if req.verb in (Verb.ASSIGN, Verb.ESCALATE):
        member = args.get("member")
        if member is None and req.verb is Verb.ESCALATE:
            return {}
        if not isinstance(member, str) or member not in settings.members:
            raise bad(messages.text("unknown_member", member=member))
        return {"member": member}
    if req.verb is Verb.SEVERITY:
        value = args.get("severity")
        try:
            return {"severity": Severity(str(value).lower())}
        except ValueError:
            raise bad("args.severity must be one of critical, warning, info") from None
    return {}


def resolve_actor(
    settings: Settings,
    req: ActionRequest,
    linked: dict[tuple[str, str, str], str],
    lang: str,
) -> str:
    """The member acting: given directly, or found through the chat account's identity link."""
    if req.member is not None:
        if req.member not in settings.members:
            raise ActionRefused(
                messages.text("unknown_member", lang, member=req.member), "unknown_member"
            )
        return req.member
    member = None
    if req.platform and req.platform_user_id:
        member = linked.get((req.platform, req.workspace, req.platform_user_id))
    if member is None:
        platform = req.platform or req.source
        raise ActionRefused(messages.text("unknown_user", lang, platform=platform), "unknown_user")
    return member


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "?"


def _apply(
    settings: Settings,
    req: ActionRequest,
    incident: Incident,
    actor: str,
    args: dict[str, Any],
    now: datetime,
    lang: str,
    writes: _Writes,
) -> Outcome:
    effect = decide(req.verb, incident.status)
    n = incident.number
    if effect is Effect.REPEAT:
        if incident.status is Status.ACKNOWLEDGED:
            text = messages.text(
                "already_acked", lang, number=n, who=incident.acked_by, at=_when(incident.acked_at)
            )
        elif incident.status is Status.CLOSED:
            text = messages.text(
                "already_closed",
                lang,
                number=n,
                who=incident.closed_by or incident.integration or "system",
                at=_when(incident.closed_at),
            )
        else:
            text = messages.text("not_closed", lang, number=n)
        return Outcome(changed=False, message=text, incident=incident, code="repeat")
    if effect is Effect.REFUSE:
        raise ActionRefused(messages.text("refused_closed", lang, number=n), "invalid_transition")
    change = _change(settings, req.verb, incident, actor, args, now, lang)
    updated = _evolve(incident, {"updated_at": now, **change.values})
    writes.incidents[n] = updated
    writes.changed.add(n)
    if req.verb is Verb.CLOSE:
        writes.closed.add(n)
    kind, sentence = _KINDS[req.verb]
    writes.timeline.append(
        {
            "incident_id": n,
            "at": now,
            "kind": kind,
            "actor": actor,
            "source": req.source,
            "data": change.data,
        }
    )
    entry = TimelineEntry(at=now, kind=kind, actor=actor, source=req.source, data=change.data)
    writes.deliveries.extend(notices_for(settings, updated, entry, now, writes.audience))
    text = messages.text(
        sentence,
        lang,
        actor=actor,
        targets=", ".join(updated.assignees) or "-",
        until=_when(updated.snoozed_until),
        severity=updated.severity.value,
    )
    return Outcome(changed=True, message=text, incident=updated, actor=actor)


def _evolve(incident: Incident, values: dict[str, Any]) -> Incident:
    """``incident`` with column ``values`` applied, typed as the domain object wants them."""
    fields = {k: v for k, v in values.items() if k != "open_key"}
    if "status" in fields:
        fields["status"] = Status(fields["status"])
    if "severity" in fields:
        fields["severity"] = Severity(fields["severity"])
    if "assignees" in fields:
        fields["assignees"] = tuple(fields["assignees"])
    return replace(incident, **fields)


def _change(
    settings: Settings,
    verb: Verb,
    incident: Incident,
    actor: str,
    args: dict[str, Any],
    now: datetime,
    lang: str,
) -> _Change:
    if verb is Verb.ACK:
        return _Change(
            {
                "status": Status.ACKNOWLEDGED.value,
                "acked_by": actor,
                "acked_at": now,
                # Reminders stop; the escalation too, unless the level waits for a close.
                "escalate_at": after_ack(progress_of(incident)).due_at,
                "snoozed_until": None,
            },
            {},
        )
    if verb is Verb.CLOSE:
        return _Change(
            {
                "status": Status.CLOSED.value,
                "closed_by": actor,
                "closed_at": now,
                "open_key": None,
                "escalate_at": None,
                "snoozed_until": None,
            },
            {},
        )
    if verb is Verb.REOPEN:
        progress = restart(settings, progress_of(incident), now)
        return _Change(
            {
                "status": Status.TRIGGERED.value,
                "acked_by": None,
                "acked_at": None,
                "closed_by": None,
                "closed_at": None,
                **progress.values(),
            },
            {"assignees": list(progress.assignees)},
        )
    if verb is Verb.ESCALATE:
        return _escalate(settings, incident, args, now, lang)
    if verb is Verb.SNOOZE:
        until = now + timedelta(minutes=args["minutes"])
        return _Change(
            {
                "status": Status.ACKNOWLEDGED.value,
                "acked_by": incident.acked_by or actor,
                "acked_at": incident.acked_at or now,
                "snoozed_until": until,
                "escalate_at": None,
            },
            {"minutes": args["minutes"], "until": until.isoformat()},
        )
    if verb is Verb.ASSIGN:
        return _Change(
            {"assignees": [args["member"]], "escalate_at": None}, {"assignees": [args["member"]]}
        )
    if verb is Verb.SEVERITY:
        return _Change(
            {"severity": args["severity"].value},
            {"from": incident.severity.value, "to": args["severity"].value},
        )
    return _Change({}, {"text": args["text"]})


def _escalate(
    settings: Settings, incident: Incident, args: dict[str, Any], now: datetime, lang: str
) -> _Change:
    reset = {
        "status": Status.TRIGGERED.value,
        "acked_by": None,
        "acked_at": None,
        "snoozed_until": None,
    }
    if "member" in args:
        return _Change(
            {**reset, "assignees": [args["member"]], "escalate_at": None},
            {"assignees": [args["member"]]},
        )
    progress = following(settings, progress_of(incident), now)
    if progress is None:
        raise ActionRefused(
            messages.text("no_next_step", lang, number=incident.number), "no_next_step"
        )
    return _Change(
        {**reset, **progress.values()},
        {"assignees": list(progress.assignees), "step": progress.step},
    )


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The REST shape of an outcome."""
    return {
        "changed": outcome.changed,
        "code": outcome.code,
        "message": outcome.message,
        "incident": incident_json(outcome.incident) if outcome.incident else None,
    }
