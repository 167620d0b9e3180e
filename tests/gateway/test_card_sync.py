"""Card updates: only the newest state of a card is ever sent, whatever order retries take."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.clock import ManualClock
from gateway.config import OutboxSettings
from gateway.errors import Unavailable
from gateway.metrics import Metrics
from gateway.outbox import Dispatcher, Job, SendResult
from gateway.runtime import Runtime
from storage import repo
from tests.support import make_settings, running


class RecordingSender:
    """A chat sender double: records what it was asked to send, fails when told to."""

    channel = "chat"

    def __init__(self) -> None:
        self.sent: list[Job] = []
        self.fail_next = 0

    async def send(self, job: Job) -> SendResult:
        if self.fail_next:
            self.fail_next -= 1
            raise Unavailable("chat is down")
        self.sent.append(job)
        return SendResult(message_ref=f"m{job.delivery_id}", chat_id="C1")


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db")) as runtime:
        yield runtime


async def add(rt: Runtime, op: str, status: str, target: str | None) -> None:
    now = rt.clock.now()
    async with rt.db.write() as conn:
        if not await repo.load_incident(conn, 1):
            await conn.exec_driver_sql(
                "INSERT INTO incidents (id, title, description, severity, status, service,"
                " created_at, updated_at, assignees, escalation_step, escalation_round,"
                " alert_count, labels) VALUES (1, 't', '', 'critical', 'triggered', 'default',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00', '[]', 0, 0, 1, '{}')"
            )
        await repo.add_deliveries(
            conn,
            [
                {
                    "incident_id": 1,
                    "channel": "chat",
                    "destination": {"chat": "C1"},
                    "payload": {"op": op, "incident": {"status": status}},
                    "state": "pending",
                    "attempts": 0,
                    "due_at": now,
                    "created_at": now,
                    "target": target,
                }
            ],
        )


def dispatcher(rt: Runtime, sender: RecordingSender) -> Dispatcher:
    settings = OutboxSettings(base_delay_s=1, max_delay_s=1)
    return Dispatcher(rt.db, {"chat": sender}, settings, rt.clock, Metrics())


async def test_only_the_newest_queued_update_of_a_card_is_sent(rt: Runtime) -> None:
    await add(rt, "post", "triggered", None)
    for status in ("acknowledged", "closed"):
        await add(rt, "update", status, "chat:C1:m1")
    sender = RecordingSender()
    await dispatcher(rt, sender).run_once()
    assert [j.payload["incident"]["status"] for j in sender.sent] == ["triggered", "closed"]
    async with rt.db.read() as conn:
        states = [d["state"] for d in await repo.deliveries_for(conn, 1)]
    assert states == ["sent", "superseded", "sent"]


async def test_an_old_update_retried_after_a_newer_one_is_dropped(rt: Runtime) -> None:
    clock = rt.clock
    assert isinstance(clock, ManualClock)
    await add(rt, "update", "acknowledged", "chat:C1:m1")
    sender = RecordingSender()
    sender.fail_next = 1
    worker = dispatcher(rt, sender)
    await worker.run_once()  # the ack's update fails and waits for its retry
    await add(rt, "update", "closed", "chat:C1:m1")
    clock.advance(seconds=5)
    await worker.run_once()
    assert [j.payload["incident"]["status"] for j in sender.sent] == ["closed"]
    async with rt.db.read() as conn:
        states = [d["state"] for d in await repo.deliveries_for(conn, 1)]
    assert states == ["superseded", "sent"]


async def test_a_posted_card_is_remembered_for_later_updates(rt: Runtime) -> None:
    await add(rt, "post", "triggered", None)
    await dispatcher(rt, RecordingSender()).run_once()
    async with rt.db.read() as conn:
        refs = await repo.message_refs_for(conn, [1])
    assert refs == {1: [repo.MessageRef("chat", "C1", "m1", None)]}
