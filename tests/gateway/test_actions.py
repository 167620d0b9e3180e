"""perform(): every transition, idempotent repeats, identities, duplicate callbacks, races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.actions import perform
from gateway.clock import ManualClock
from gateway.domain import ActionRequest, AlertBatch, Outcome, Status, Verb
from gateway.errors import ActionRefused
from gateway.ingest.formats import parse
from gateway.ingest.service import ingest
from gateway.lifecycle import TRANSITIONS, Effect
from gateway.runtime import Runtime
from gateway.timers import run_due
from storage import repo
from tests.support import fixture, make_settings, pg_schema, pg_url, running

ARGS: dict[Verb, dict[str, Any]] = {
    Verb.COMMENT: {"text": "looking"},
    Verb.SNOOZE: {"minutes": 30},
    Verb.ASSIGN: {"member": "bob"},
    Verb.SEVERITY: {"severity": "info"},
    Verb.ESCALATE: {},
}


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db")) as runtime:
        yield runtime


def firing_batch(rt: Runtime) -> AlertBatch:
    integ = rt.settings.integrations["prometheus"]
    return parse("alertmanager", fixture("alertmanager", "firing.json"), integ)


async def open_incident(rt: Runtime) -> int:
    return (await ingest(rt, "prometheus", firing_batch(rt))).opened[0]


async def status_of(rt: Runtime, number: int) -> Status:
    async with rt.db.read() as conn:
        incident = await repo.load_incident(conn, number)
    assert incident is not None
    return incident.status


async def put_in(rt: Runtime, number: int, status: Status) -> None:
    if status is Status.ACKNOWLEDGED:
        await perform(rt, ActionRequest(number, Verb.ACK, "api", member="alice"))
    elif status is Status.CLOSED:
        await perform(rt, ActionRequest(number, Verb.CLOSE, "api", member="alice"))


CASES = [
    (verb, status, result) for verb, row in TRANSITIONS.items() for status, result in row.items()
]


@pytest.mark.parametrize(
    ("verb", "start", "result"), CASES, ids=[f"{v.value}-{s.value}" for v, s, _ in CASES]
)
async def test_transition_table(
    rt: Runtime, verb: Verb, start: Status, result: Status | Effect
) -> None:
    number = await open_incident(rt)
    await put_in(rt, number, start)
    async with rt.db.read() as conn:
        before = await repo.load_timeline(conn, number)
    req = ActionRequest(number, verb, "api", args=ARGS.get(verb, {}), member="alice")
    if result is Effect.REFUSE:
        with pytest.raises(ActionRefused):
            await perform(rt, req)
        changed_expected = False
        expected = start
    else:
        outcome = await perform(rt, req)
        changed_expected = result is not Effect.REPEAT
        assert outcome.changed is changed_expected
        expected = start if isinstance(result, Effect) else result
    assert await status_of(rt, number) is expected
    async with rt.db.read() as conn:
        after = await repo.load_timeline(conn, number)
    assert len(after) == len(before) + (1 if changed_expected else 0)
    if changed_expected:
        assert after[-1].actor == "alice"
        assert after[-1].source == "api"


async def test_repeat_ack_says_who_and_when(rt: Runtime) -> None:
    number = await open_incident(rt)
    first = await perform(rt, ActionRequest(number, Verb.ACK, "api", member="alice"))
    assert first.message == "Acknowledged by alice"
    again = await perform(rt, ActionRequest(number, Verb.ACK, "api", member="bob"))
    assert not again.changed
    assert again.message.startswith(f"#{number} is already acknowledged by alice at 2026-01-01")
    zh = await perform(rt, ActionRequest(number, Verb.ACK, "api", member="bob"), "zh")
    assert "已由 alice" in zh.message


async def test_racing_acks_on_sqlite_one_wins(rt: Runtime) -> None:
    await racing_acks(rt)


async def racing_acks(rt: Runtime) -> None:
    number = await open_incident(rt)
    outcomes = await asyncio.gather(
        *(
            perform(rt, ActionRequest(number, Verb.ACK, "api", member=m))
            for m in ("alice", "bob") * 4
        )
    )
    winners = [o for o in outcomes if o.changed]
    assert len(winners) == 1
    winner = winners[0].message.removeprefix("Acknowledged by ")
    for loser in outcomes:
        if not loser.changed:
            assert f"already acknowledged by {winner}" in loser.message
    async with rt.db.read() as conn:
        kinds = [e.kind for e in await repo.load_timeline(conn, number)]
    assert kinds.count("acknowledged") == 1


async def test_racing_acks_on_postgres_one_wins() -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    async with pg_schema(url) as schema, running(make_settings(url, schema)) as runtime:
        await racing_acks(runtime)


async def test_unknown_chat_user_is_told_to_link_and_nothing_changes(rt: Runtime) -> None:
    number = await open_incident(rt)
    req = ActionRequest(
        number, Verb.ACK, "slack", platform="slack", workspace="T1", platform_user_id="USTRANGER"
    )
    with pytest.raises(ActionRefused) as err:
        await perform(rt, req)
    assert err.value.code == "unknown_user"
    assert "not linked" in err.value.message
    assert await status_of(rt, number) is Status.TRIGGERED


async def test_linked_chat_user_acts_as_member(rt: Runtime) -> None:
    number = await open_incident(rt)
    req = ActionRequest(
        number,
        Verb.ACK,
        "slack",
        platform="slack",
        workspace="T1",
        platform_user_id="UALICE",
        callback_id="cb-1",
    )
    outcome = await perform(rt, req)
    assert outcome.message == "Acknowledged by alice"


async def test_duplicate_callback_gets_first_outcome(rt: Runtime) -> None:
    number = await open_incident(rt)
    req = ActionRequest(
        number,
        Verb.COMMENT,
        "slack",
        args={"text": "on it"},
        platform="slack",
        workspace="T1",
        platform_user_id="UALICE",
        callback_id="retry-me",
    )
    first = await perform(rt, req)
    second = await perform(rt, req)
    assert first.changed
    assert not second.changed
    assert second.message == first.message
    async with rt.db.read() as conn:
        kinds = [e.kind for e in await repo.load_timeline(conn, number)]
    assert kinds.count("commented") == 1


@pytest.mark.parametrize(
    ("verb", "args"),
    [
        (Verb.COMMENT, {}),
        (Verb.COMMENT, {"text": "x" * 5000}),
        (Verb.SNOOZE, {"minutes": 0}),
        (Verb.SNOOZE, {"minutes": "soon"}),
        (Verb.ASSIGN, {"member": "carol"}),
        (Verb.SEVERITY, {"severity": "huge"}),
    ],
)
async def test_bad_arguments_are_refused(rt: Runtime, verb: Verb, args: dict[str, Any]) -> None:
    number = await open_incident(rt)
    with pytest.raises(ActionRefused) as err:
        await perform(rt, ActionRequest(number, verb, "api", args=args, member="alice"))
    assert err.value.code in ("bad_args", "unknown_member")


async def test_escalation_pages_next_level_when_nobody_acks(rt: Runtime) -> None:
    clock = rt.clock
    assert isinstance(clock, ManualClock)
    number = await open_incident(rt)
    clock.advance(minutes=4)
    assert await run_due(rt) == 0
    clock.advance(minutes=1)
    assert await run_due(rt) == 1
    async with rt.db.read() as conn:
        incident = await repo.load_incident(conn, number, details=True)
    assert incident is not None
    assert incident.assignees == ("bob",)
    assert incident.timeline[-1].kind == "escalated"
    clock.advance(minutes=5)
    assert await run_due(rt) == 1  # no more levels: recorded once, then the timer stops
    clock.advance(minutes=50)
    assert await run_due(rt) == 0


async def test_ack_stops_escalation_and_snooze_expiry_retriggers(rt: Runtime) -> None:
    clock = rt.clock
    assert isinstance(clock, ManualClock)
    number = await open_incident(rt)
    await perform(
        rt, ActionRequest(number, Verb.SNOOZE, "api", args={"minutes": 30}, member="alice")
    )
    clock.advance(minutes=10)
    assert await run_due(rt) == 0
    clock.advance(minutes=21)
    assert await run_due(rt) == 1
    assert await status_of(rt, number) is Status.TRIGGERED


async def test_manual_escalate_walks_levels_then_refuses(rt: Runtime) -> None:
    number = await open_incident(rt)
    out = await perform(rt, ActionRequest(number, Verb.ESCALATE, "api", member="alice"))
    assert out.incident is not None
    assert out.incident.assignees == ("bob",)
    with pytest.raises(ActionRefused) as err:
        await perform(rt, ActionRequest(number, Verb.ESCALATE, "api", member="alice"))
    assert err.value.code == "no_next_step"
    out = await perform(
        rt, ActionRequest(number, Verb.ESCALATE, "api", args={"member": "alice"}, member="bob")
    )
    assert out.incident is not None
    assert out.incident.assignees == ("alice",)


async def test_actions_arriving_together_apply_in_order_and_refusals_stay_alone(
    rt: Runtime,
) -> None:
    number = await open_incident(rt)
    stranger = ActionRequest(
        number,
        Verb.COMMENT,
        "slack",
        args={"text": "hi"},
        platform="slack",
        workspace="T1",
        platform_user_id="UNOBODY",
    )
    retry = ActionRequest(
        number,
        Verb.COMMENT,
        "slack",
        args={"text": "once"},
        platform="slack",
        workspace="T1",
        platform_user_id="UALICE",
        callback_id="same-click",
    )
    outcomes = await asyncio.gather(
        perform(rt, ActionRequest(number, Verb.ACK, "api", member="bob")),
        perform(rt, stranger),
        perform(rt, retry),
        perform(rt, retry),
        perform(rt, ActionRequest(number, Verb.CLOSE, "api", member="alice")),
        perform(rt, ActionRequest(number, Verb.ACK, "api", member="alice")),
        return_exceptions=True,
    )
    ack, refused, first, second, close, late_ack = outcomes
    assert isinstance(ack, Outcome)
    assert ack.changed
    assert isinstance(refused, ActionRefused)
    assert refused.code == "unknown_user"
    assert isinstance(first, Outcome)
    assert isinstance(second, Outcome)
    assert first.changed != second.changed
    assert isinstance(close, Outcome)
    assert close.changed
    assert isinstance(late_ack, ActionRefused)  # closed by the action queued before it
    async with rt.db.read() as conn:
        incident = await repo.load_incident(conn, number, details=True)
    assert incident is not None
    assert incident.status is Status.CLOSED
    assert (incident.acked_by, incident.closed_by) == ("bob", "alice")
    kinds = [e.kind for e in incident.timeline]
    assert kinds == ["triggered", "acknowledged", "commented", "closed"]


async def test_racing_acks_from_two_replicas_on_postgres_one_wins() -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    async with pg_schema(url) as schema:
        settings = make_settings(url, schema)
        async with running(settings) as one, running(settings) as two:
            number = await open_incident(one)
            outcomes = await asyncio.gather(
                *(
                    perform(replica, ActionRequest(number, Verb.ACK, "api", member=member))
                    for replica, member in [(one, "alice"), (two, "bob")] * 5
                )
            )
            assert sum(o.changed for o in outcomes) == 1
            async with two.db.read() as conn:
                kinds = [e.kind for e in await repo.load_timeline(conn, number)]
            assert kinds.count("acknowledged") == 1


async def test_two_replicas_ingesting_one_group_open_one_incident_on_postgres() -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    async with pg_schema(url) as schema:
        settings = make_settings(url, schema)
        async with running(settings) as one, running(settings) as two:
            batch = firing_batch(one)
            results = await asyncio.gather(
                *(ingest(replica, "prometheus", batch) for replica in (one, two) * 5)
            )
            assert sum(len(r.opened) for r in results) == 1
            async with one.db.read() as conn:
                _, total = await repo.list_incidents(conn)
            assert total == 1
