"""The outbox dispatcher on a real database with the real webhook sender and a fake receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy import RowMapping

from adapters.webhook import WebhookSender
from gateway.clock import ManualClock
from gateway.config import OutboxSettings
from gateway.metrics import Metrics
from gateway.outbox import Cap, Dispatcher, Job, Pace, Sender, SendResult
from storage import repo
from storage import tables as t
from storage.engine import Database
from tests.fakes.webhook import FakeWebhook, Reply

REF = "services.ops.notify[0]"
SECRET = "webhook-signing-secret"
PAYLOAD = {"event": "incident.triggered", "incident": {"number": 1, "title": "Disk full"}}
WAIT_S = 10  # a bound on waiting for the other side, so a bug fails instead of hanging


# --- helpers --------------------------------------------------------------------------------


async def add_incident(db: Database, now: datetime) -> int:
    row = {
        "title": "Disk full",
        "severity": "critical",
        "status": "triggered",
        "service": "ops",
        "created_at": now,
        "updated_at": now,
        "assignees": [],
        "labels": {},
    }
    async with db.write() as conn:
        result = await conn.execute(t.incidents.insert().returning(t.incidents.c.id), row)
        return int(result.scalar_one())


async def add_deliveries(
    db: Database, now: datetime, url: str, count: int = 1, **values: Any
) -> list[int]:
    """Pending webhook deliveries for a new incident (``values`` overrides columns)."""
    incident_id = await add_incident(db, now)
    row = {
        "incident_id": incident_id,
        "channel": "webhook",
        "destination": {"url": url, "ref": REF},
        "payload": PAYLOAD,
        "state": "pending",
        "attempts": 0,
        "due_at": now,
        "created_at": now,
    } | values
    insert = t.deliveries.insert().returning(t.deliveries.c.id, sort_by_parameter_order=True)
    async with db.write() as conn:
        return list((await conn.execute(insert, [row] * count)).scalars())


async def delivery(db: Database, delivery_id: int) -> RowMapping:
    async with db.read() as conn:
        result = await conn.execute(sa.select(t.deliveries).where(t.deliveries.c.id == delivery_id))
        return result.mappings().one()


async def attempts(db: Database, delivery_id: int) -> list[RowMapping]:
    async with db.read() as conn:
        a = t.delivery_attempts.c
        result = await conn.execute(
            sa.select(t.delivery_attempts).where(a.delivery_id == delivery_id).order_by(a.id)
        )
        return list(result.mappings())


def count(metrics: Metrics, state: str, channel: str = "webhook") -> float:
    labels = {"channel": channel, "state": state}
    return metrics.registry.get_sample_value("ackgate_deliveries_total", labels) or 0.0


class Harness:
    """A dispatcher wired to the fake receiver, with the clock and metrics at hand."""

    def __init__(
        self,
        db: Database,
        http: aiohttp.ClientSession,
        *,
        clock: ManualClock | None = None,
        metrics: Metrics | None = None,
        extra: Mapping[str, Sender] | None = None,
        **settings: Any,
    ) -> None:
        self.clock = clock or ManualClock()
        self.metrics = metrics or Metrics()
        senders = {"webhook": WebhookSender(http, {REF: SECRET}, clock=self.clock), **(extra or {})}
        self.settings = OutboxSettings(**settings)
        self.dispatcher = Dispatcher(db, senders, self.settings, self.clock, self.metrics)

    @property
    def now(self) -> datetime:
        return self.clock.now()


class Crashing:
    """A sender with a bug."""

    channel = "crashing"

    async def send(self, job: Job) -> SendResult:
        raise RuntimeError(f"bug while sending {job.delivery_id}")


class LogSignal(logging.Handler):
    """Sets an event when a record matching ``wanted`` is logged."""

    def __init__(self, wanted: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__()
        self.wanted = wanted
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.wanted(record):
            self.seen.set()


# --- SQLite ---------------------------------------------------------------------------------


async def test_success_marks_sent_and_sends_signed_payload(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http)
    [did] = await add_deliveries(db, h.now, webhook.url)

    assert await h.dispatcher.run_once() == 1

    row = await delivery(db, did)
    assert row["state"] == "sent"
    assert row["attempts"] == 1
    assert row["message_ref"] == "msg-1"
    assert row["sent_at"] == h.now
    assert row["lease_until"] is None
    assert row["last_error"] is None
    [attempt] = await attempts(db, did)
    assert attempt["ok"] is True
    assert attempt["error"] is None
    [got] = webhook.received
    assert got.json == PAYLOAD
    assert got.headers["X-Ackgate-Delivery"] == str(did)
    assert got.headers["X-Ackgate-Attempt"] == "1"
    timestamp = got.headers["X-Ackgate-Timestamp"]
    assert timestamp == str(int(h.now.timestamp()))
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256)
    assert got.headers["X-Ackgate-Signature"] == f"sha256={mac.hexdigest()}"
    assert count(h.metrics, "sent") == 1
    samples = {"channel": "webhook"}
    assert h.metrics.registry.get_sample_value("ackgate_delivery_seconds_count", samples) == 1
    assert await h.dispatcher.run_once() == 0


async def test_server_error_is_retried_after_backoff(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http, base_delay_s=60)
    [did] = await add_deliveries(db, h.now, webhook.url)
    webhook.script(Reply(500, "upstream down"), 200)

    assert await h.dispatcher.run_once() == 1
    row = await delivery(db, did)
    assert row["state"] == "pending"
    assert row["attempts"] == 1
    assert h.now < row["due_at"] <= h.now + timedelta(seconds=60)
    assert row["last_error"] == "Unavailable: webhook answered 500: upstream down"
    assert row["lease_until"] is None
    assert count(h.metrics, "retry") == 1

    assert await h.dispatcher.run_once() == 0  # not due yet
    h.clock.advance(seconds=(row["due_at"] - h.now).total_seconds() + 1)
    assert await h.dispatcher.run_once() == 1

    row = await delivery(db, did)
    assert row["state"] == "sent"
    assert row["attempts"] == 2
    assert row["last_error"] is None
    assert [a["ok"] for a in await attempts(db, did)] == [False, True]
    assert [r.headers["X-Ackgate-Attempt"] for r in webhook.received] == ["1", "2"]
    assert webhook.delivery_ids() == [did, did]


async def test_permanent_rejection_fails_without_retry(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http)
    [did] = await add_deliveries(db, h.now, webhook.url)
    webhook.script(Reply(400, {"error": "unknown field"}))

    assert await h.dispatcher.run_once() == 1

    row = await delivery(db, did)
    assert row["state"] == "failed"
    assert row["attempts"] == 1
    assert row["last_error"] == 'Rejected: webhook answered 400: {"error": "unknown field"}'
    async with db.read() as conn:
        timeline = await repo.load_timeline(conn, row["incident_id"])
    assert [(e.kind, e.source, e.data["error"]) for e in timeline] == [
        ("delivery_failed", "webhook", row["last_error"])
    ]
    h.clock.advance(days=1)
    assert await h.dispatcher.run_once() == 0
    assert len(webhook.received) == 1
    assert count(h.metrics, "failed") == 1


async def test_gives_up_after_max_attempts(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http, max_attempts=3, base_delay_s=1, max_delay_s=5)
    [did] = await add_deliveries(db, h.now, webhook.url)
    webhook.default = Reply(500)

    for _ in range(3):
        assert await h.dispatcher.run_once() == 1
        h.clock.advance(seconds=6)

    row = await delivery(db, did)
    assert row["state"] == "failed"
    assert row["attempts"] == 3
    assert row["last_error"] == "Unavailable: webhook answered 500: "
    assert [a["ok"] for a in await attempts(db, did)] == [False, False, False]
    assert await h.dispatcher.run_once() == 0
    assert (count(h.metrics, "retry"), count(h.metrics, "failed")) == (2, 1)


async def test_rate_limit_waits_at_least_retry_after(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http, base_delay_s=1)
    [did] = await add_deliveries(db, h.now, webhook.url)
    webhook.script(Reply(429, {"error": "slow down"}, headers={"Retry-After": "120"}))

    assert await h.dispatcher.run_once() == 1
    row = await delivery(db, did)
    assert row["state"] == "pending"
    assert row["due_at"] >= h.now + timedelta(seconds=120)

    h.clock.advance(seconds=119)
    assert await h.dispatcher.run_once() == 0
    h.clock.advance(seconds=2)
    assert await h.dispatcher.run_once() == 1
    assert (await delivery(db, did))["state"] == "sent"


async def test_expired_lease_is_reclaimed_and_a_live_one_is_not(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http)
    claimed: dict[str, Any] = {"state": "sending", "attempts": 1}
    expired, live = h.now - timedelta(seconds=1), h.now + timedelta(seconds=30)
    [crashed] = await add_deliveries(db, h.now, webhook.url, **claimed, lease_until=expired)
    [working] = await add_deliveries(db, h.now, webhook.url, **claimed, lease_until=live)

    assert await h.dispatcher.run_once() == 1

    row = await delivery(db, crashed)
    assert row["state"] == "sent"
    assert row["attempts"] == 2
    assert webhook.delivery_ids() == [crashed]
    assert (await delivery(db, working))["state"] == "sending"


async def test_unknown_channel_fails_for_good(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http)
    [did] = await add_deliveries(db, h.now, webhook.url, channel="pigeon")

    assert await h.dispatcher.run_once() == 1

    row = await delivery(db, did)
    assert row["state"] == "failed"
    assert row["last_error"] == "Rejected: no sender for channel pigeon"
    assert webhook.received == []
    assert count(h.metrics, "failed", channel="pigeon") == 1


async def test_a_crashing_sender_does_not_sink_the_batch(
    db: Database,
    http: aiohttp.ClientSession,
    webhook: FakeWebhook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness(db, http, extra={"crashing": Crashing()})
    [good] = await add_deliveries(db, h.now, webhook.url)
    [bad] = await add_deliveries(db, h.now, webhook.url, channel="crashing")

    assert await h.dispatcher.run_once() == 2

    assert (await delivery(db, good))["state"] == "sent"
    row = await delivery(db, bad)
    assert row["state"] == "pending"
    assert row["last_error"] == f"Unavailable: RuntimeError('bug while sending {bad}')"
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.exc_info is not None


async def test_send_timeout_counts_as_unavailable(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    h = Harness(db, http, send_timeout_s=0.05)
    [did] = await add_deliveries(db, h.now, webhook.url)
    webhook.hold_until(2)  # only one request comes: it is never answered

    assert await h.dispatcher.run_once() == 1

    row = await delivery(db, did)
    assert row["state"] == "pending"
    assert row["last_error"] == "Unavailable: no answer within 0.05s"


async def test_late_result_does_not_overwrite_the_new_claim(
    db: Database, http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    clock, metrics = ManualClock(), Metrics()
    slow = Harness(db, http, clock=clock, metrics=metrics, lease_s=60)
    fresh = Harness(db, http, clock=clock, metrics=metrics, lease_s=60)
    [did] = await add_deliveries(db, clock.now(), webhook.url)
    webhook.hold_until(2)  # the slow worker's request waits until the fresh one's arrives

    async with asyncio.timeout(WAIT_S):
        first = asyncio.create_task(slow.dispatcher.run_once())
        await webhook.wait_for(1)
        clock.advance(seconds=61)
        assert await fresh.dispatcher.run_once() == 1
        assert await first == 1

    row = await delivery(db, did)
    assert row["state"] == "sent"
    assert row["attempts"] == 2
    assert row["message_ref"] == "msg-2"  # the fresh claim's answer, whichever finished last
    assert len(await attempts(db, did)) == 2  # both tries are history
    assert count(metrics, "sent") == 1


async def test_run_wakes_on_demand_survives_errors_and_stops_on_cancel(
    db: Database,
    http: aiohttp.ClientSession,
    webhook: FakeWebhook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.outbox")
    h = Harness(db, http, poll_interval_s=3600, lease_s=60)
    failed = LogSignal(lambda r: r.levelno == logging.ERROR)
    sent = LogSignal(lambda r: r.getMessage().endswith(" sent"))
    outbox_log = logging.getLogger("gateway.outbox")
    outbox_log.addHandler(failed)
    outbox_log.addHandler(sent)
    try:
        async with db.write() as conn:  # the results cannot be recorded: the batch fails
            await conn.run_sync(t.delivery_attempts.drop)
        task = asyncio.create_task(h.dispatcher.run())
        async with asyncio.timeout(WAIT_S):
            [did] = await add_deliveries(db, h.now, webhook.url)
            h.dispatcher.wake()
            await failed.seen.wait()

            async with db.write() as conn:
                await conn.run_sync(t.delivery_attempts.create)
            h.clock.advance(seconds=61)  # the failed batch's lease runs out
            h.dispatcher.wake()
            await sent.seen.wait()
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        outbox_log.removeHandler(failed)
        outbox_log.removeHandler(sent)

    assert (await delivery(db, did))["state"] == "sent"
    assert webhook.delivery_ids() == [did, did]  # at least once: the receiver dedupes by id


# --- PostgreSQL -----------------------------------------------------------------------------


async def test_two_replicas_never_send_a_delivery_twice(
    pg_databases: Callable[[], Database], http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    first_db, second_db = pg_databases(), pg_databases()
    clock, batch = ManualClock(), 10
    ids = await add_deliveries(first_db, clock.now(), webhook.url, count=200)
    workers = [
        Harness(database, http, clock=clock, batch_size=batch).dispatcher
        for database in (first_db, second_db)
    ]
    # Each worker's first batch is held until both are in flight, so neither can take it all.
    webhook.hold_until(2 * batch)

    async def drain(dispatcher: Dispatcher) -> int:
        claimed = 0
        while n := await dispatcher.run_once():
            claimed += n
        return claimed

    async with asyncio.timeout(WAIT_S * 3):
        claimed = await asyncio.gather(*(drain(w) for w in workers))

    assert sorted(webhook.delivery_ids()) == ids
    assert sum(claimed) == len(ids)
    assert all(n > 0 for n in claimed), claimed
    async with first_db.read() as conn:
        states = await conn.execute(
            sa.select(t.deliveries.c.state, sa.func.count()).group_by(t.deliveries.c.state)
        )
        assert dict(states.all()) == {"sent": 200}


async def test_a_claim_skips_rows_another_replica_has_locked(
    pg_databases: Callable[[], Database], http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    first_db, second_db = pg_databases(), pg_databases()
    clock = ManualClock()
    ids = await add_deliveries(first_db, clock.now(), webhook.url, count=20)
    second = Harness(second_db, http, clock=clock, batch_size=10).dispatcher

    async with first_db.write() as conn:  # a replica in the middle of claiming the first ten
        d = t.deliveries.c
        await conn.execute(sa.select(d.id).order_by(d.id).limit(10).with_for_update())
        async with asyncio.timeout(WAIT_S):
            assert await second.run_once() == 10

    assert sorted(webhook.delivery_ids()) == ids[10:]


class Capped:
    """A sender under a cap of 20 a minute that never merges: what it sent, and when."""

    channel = "capped"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, int]] = []

    def pace(self, job: Job) -> Pace:
        return Pace(f"{job.channel}:chat", 20, 60.0, digest_after=None)

    async def send(self, job: Job) -> SendResult:
        self.sent.append((self.clock.now(), job.delivery_id))
        await asyncio.sleep(0.001)  # let the other replica run in between
        return SendResult()


async def test_two_replicas_share_a_destinations_cap(
    pg_databases: Callable[[], Database], http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    first_db, second_db = pg_databases(), pg_databases()
    clock = ManualClock()
    ids = await add_deliveries(first_db, clock.now(), webhook.url, count=50, channel="capped")
    capped = Capped(clock)
    workers = [
        Harness(database, http, clock=clock, batch_size=5, extra={"capped": capped}).dispatcher
        for database in (first_db, second_db)
    ]

    async def drain(dispatcher: Dispatcher) -> None:
        while await dispatcher.run_once():
            pass

    for _ in range(3):
        async with asyncio.timeout(WAIT_S * 3):
            await asyncio.gather(*(drain(w) for w in workers))
        clock.advance(seconds=67)  # the minute, and the tenth kept in reserve

    assert sorted(d for _, d in capped.sent) == ids  # each once, none lost
    times = [at for at, _ in capped.sent]
    for at in times:  # never more than 20 inside any 60 s, whichever replica sent them
        assert sum(1 for other in times if at <= other < at + timedelta(seconds=60)) <= 20
    assert [sum(1 for at in times if at == start) for start in sorted(set(times))] == [20, 20, 10]


class TwoChats:
    """A sender with two chats, each capped at 5 a second, sharing a bot-wide 6 a second."""

    channel = "chats"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, str]] = []

    def pace(self, job: Job) -> Pace:
        chat = str(job.destination["chat"])
        return Pace(f"chats:{chat}", 5, 1.0, digest_after=None, shared=(Cap("chats:bot", 6, 1.0),))

    async def send(self, job: Job) -> SendResult:
        self.sent.append((self.clock.now(), str(job.destination["chat"])))
        return SendResult()


async def test_a_shared_cap_holds_sends_to_every_chat_under_it(
    db: Database, http: aiohttp.ClientSession
) -> None:
    clock = ManualClock()
    ids = [
        *await add_deliveries(
            db, clock.now(), "-", count=8, channel="chats", destination={"chat": "A"}
        ),
        *await add_deliveries(
            db, clock.now(), "-", count=8, channel="chats", destination={"chat": "B"}
        ),
    ]
    chats = TwoChats(clock)
    dispatcher = Harness(db, http, clock=clock, extra={"chats": chats}).dispatcher
    for _ in range(4):
        while await dispatcher.run_once():
            pass
        clock.advance(seconds=1.2)
    assert len(chats.sent) == len(ids)  # every one, once
    times = [at for at, _ in chats.sent]
    for at in times:  # the bot-wide 6 a second held, whichever chat it went to
        assert sum(1 for other in times if at <= other < at + timedelta(seconds=1)) <= 6
    first = [chat for at, chat in chats.sent if at == times[0]]
    assert sorted(first) == ["A"] * 5 + ["B"]  # A under its own 5, B gets what is left
    async with db.read() as conn:
        states = await conn.execute(sa.select(t.deliveries.c.state).distinct())
        assert set(states.scalars()) == {"sent"}
