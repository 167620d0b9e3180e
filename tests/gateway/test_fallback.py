"""Reaching people outside chat: SMS, calls and mail from preferences and policies, and the
fallback when a chat page fails for good (or a call goes unanswered)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.clock import ManualClock
from gateway.domain import AlertAction, AlertBatch, AlertEvent, Incident, Severity
from gateway.errors import PlatformError, Rejected
from gateway.fallback import not_reached
from gateway.ingest.service import ingest
from gateway.metrics import Metrics
from gateway.outbox import Dispatcher, Job, SendResult
from gateway.runtime import Runtime
from gateway.web.pages import delivery_note
from storage import repo
from tests.support import make_settings, running

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SLACK = {"bot_token": "xoxb-test-token", "signing_secret": "test-signing-secret"}
TWILIO = {"account_sid": "AC123", "auth_token": "twilio-token-1", "from_number": "+15550000000"}
SMS = {"provider": "twilio", "twilio": TWILIO}
EMAIL = {"host": "127.0.0.1", "from_address": "oncall@example.com"}
ALICE = {
    "name": "Alice",
    "phone": "+15550100001",
    "email": "alice@example.com",
    "identities": [{"platform": "slack", "user_id": "UALICE"}],
}


@dataclass
class Channel:
    """A sender that records jobs, or fails them all with ``error``."""

    channel: str
    error: PlatformError | None = None
    jobs: list[Job] = field(default_factory=list)

    async def send(self, job: Job) -> SendResult:
        self.jobs.append(job)
        if self.error is not None:
            raise self.error
        return SendResult(message_ref=f"{self.channel}-{len(self.jobs)}")


@dataclass
class Rig:
    rt: Runtime
    clock: ManualClock
    senders: dict[str, Channel]

    async def drain(self) -> None:
        dispatcher = Dispatcher(
            self.rt.db,
            self.senders,
            self.rt.settings.outbox,
            self.clock,
            Metrics(),
            on_failed=self.on_failed,
        )
        while await dispatcher.run_once():
            pass

    async def on_failed(self, conn: Any, lost: Any, now: datetime) -> bool:
        from gateway.fallback import Failure, after_failures  # noqa: PLC0415

        return await after_failures(conn, self.rt.settings, [Failure(*f) for f in lost], now)


@asynccontextmanager
async def rig(
    tmp_path: Path, level: dict[str, Any], alice: dict[str, Any] = ALICE
) -> AsyncIterator[Rig]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        services={"default": {"escalation": {"levels": [{"targets": ["alice"], **level}]}}},
        members={"alice": alice, "bob": {"name": "Bob"}},
        slack=SLACK,
        sms=SMS,
        email=EMAIL,
    )
    clock = ManualClock(START)
    async with running(settings, clock) as rt:
        senders = {c: Channel(c) for c in ("slack", "sms", "voice", "email")}
        yield Rig(rt, clock, senders)


async def fire(rt: Runtime) -> int:
    event = AlertEvent("k", AlertAction.TRIGGER, "DiskFull on db-1", Severity.CRITICAL)
    return (await ingest(rt, "prometheus", AlertBatch(events=(event,)))).opened[0]


async def incident(rt: Runtime, n: int) -> Incident:
    async with rt.db.read() as conn:
        found = await repo.load_incident(conn, n, details=True)
    assert found is not None
    return found


async def fallback_notes(rt: Runtime, n: int, lang: str) -> list[str]:
    timeline = (await incident(rt, n)).timeline
    return [delivery_note(e, lang) for e in timeline if e.kind == "fallback"]


async def test_a_failed_slack_dm_falls_back_to_sms_then_email(tmp_path: Path) -> None:
    async with rig(tmp_path, {}) as r:
        r.senders["slack"].error = Rejected("channel_not_found", code="channel_not_found")
        n = await fire(r.rt)
        await r.drain()
        [sms] = r.senders["sms"].jobs
        assert sms.destination == {"member": "alice", "to": "+15550100001"}
        assert "DiskFull on db-1" in sms.payload["text"]
        assert sms.payload["tried"] == ["slack"]
        notes = [
            delivery_note(e, "en")
            for e in (await incident(r.rt, n)).timeline
            if e.kind == "fallback"
        ]
        assert notes == ["Slack DM to alice failed (Rejected: channel_not_found); sent by SMS"]
        # The carrier drops the text: the next way is mail.
        async with r.rt.db.read() as conn:
            rows = await repo.deliveries_for(conn, n)
        sms_id = next(row["id"] for row in rows if row["channel"] == "sms")
        await not_reached(r.rt, sms_id, "sms undelivered (30003)")
        await not_reached(r.rt, sms_id, "sms undelivered (30003)")  # a repeated callback
        await r.drain()
        [mail] = r.senders["email"].jobs
        assert mail.destination == {"member": "alice", "to": "alice@example.com"}
        assert mail.payload["tried"] == ["slack", "sms"]
        assert mail.payload["subject"]
        notes = [
            delivery_note(e, "zh")
            for e in (await incident(r.rt, n)).timeline
            if e.kind == "fallback"
        ]
        assert notes[-1] == "发给 alice 的短信失败（sms undelivered (30003)），已改用邮件"
        assert len(notes) == 2


async def test_nothing_left_says_so(tmp_path: Path) -> None:
    alice = {**ALICE, "fallback": ["voice"]}  # voice is not set up here
    async with rig(tmp_path, {}, alice) as r:
        r.senders["slack"].error = Rejected("user_not_found", code="user_not_found")
        n = await fire(r.rt)
        await r.drain()
        assert r.senders["sms"].jobs == []
        [entry] = [e for e in (await incident(r.rt, n)).timeline if e.kind == "fallback"]
        assert delivery_note(entry, "en") == (
            "Slack DM to alice failed (Rejected: user_not_found); no other way to reach them"
        )


async def test_level_channels_and_preferences_reach_phones_and_mailboxes(tmp_path: Path) -> None:
    async with rig(tmp_path, {"channels": ["sms", "email"]}) as r:
        await fire(r.rt)
        await r.drain()
        assert [j.destination["to"] for j in r.senders["sms"].jobs] == ["+15550100001"]
        assert [j.destination["to"] for j in r.senders["email"].jobs] == ["alice@example.com"]
        assert r.senders["slack"].jobs == []
    (tmp_path / "p").mkdir()
    prefs = {"critical": [{"channel": "slack"}, {"channel": "sms", "delay_min": 2}]}
    async with rig(tmp_path / "p", {}, {**ALICE, "preferences": prefs}) as r:
        await fire(r.rt)
        await r.drain()
        assert len(r.senders["slack"].jobs) == 1
        assert r.senders["sms"].jobs == []
        r.clock.advance(minutes=2)
        await r.drain()
        assert len(r.senders["sms"].jobs) == 1


async def test_no_phone_means_no_sms_row(tmp_path: Path) -> None:
    alice = {k: v for k, v in ALICE.items() if k != "phone"}
    async with rig(tmp_path, {"channels": ["sms"]}, alice) as r:
        n = await fire(r.rt)
        async with r.rt.db.read() as conn:
            rows = await repo.deliveries_for(conn, n)
        assert [row["channel"] for row in rows] == []
