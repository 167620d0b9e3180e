"""Group bots in the core: which events reach which bot, who is @mentioned, and a burst past
a bot's cap merged into a digest without one request over it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.actions import perform
from gateway.clock import ManualClock
from gateway.domain import (
    ActionRequest,
    AlertAction,
    AlertBatch,
    AlertEvent,
    JSONObject,
    Severity,
    Verb,
)
from gateway.ingest.service import ingest
from gateway.metrics import Metrics
from gateway.outbox import Dispatcher, Job, Pace, SendResult
from gateway.runtime import Runtime
from storage import repo
from tests.support import make_settings, running

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
MEMBERS = {
    "alice": {
        "name": "Alice",
        "phone": "+8613800000001",
        "identities": [{"platform": "wecom", "user_id": "zhang.alice"}],
    },
    "bob": {"name": "Bob", "phone": "+8613800000002"},
}


@asynccontextmanager
async def gateway(tmp_path: Path, bot: dict[str, Any]) -> AsyncIterator[Runtime]:
    service = {
        "escalation": {"levels": [{"targets": ["alice", "bob"], "wait_min": 10}]},
        "notify": [{"kind": "wecom_bot", "url": WECOM_URL, **bot}],
    }
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db", services={"default": service}, members=MEMBERS
    )
    async with running(settings, ManualClock(START)) as rt:
        yield rt


async def fire(rt: Runtime, key: str = "k", severity: Severity = Severity.CRITICAL) -> int:
    event = AlertEvent(key, AlertAction.TRIGGER, "DiskFull", severity)
    return (await ingest(rt, "prometheus", AlertBatch(events=(event,)))).opened[0]


async def bot_messages(rt: Runtime, number: int) -> list[JSONObject]:
    async with rt.db.read() as conn:
        rows = await repo.deliveries_for(conn, number)
    return [r["payload"]["message"] for r in rows if r["channel"] == "wecom_bot"]


async def walk(rt: Runtime, number: int) -> None:
    """ack, comment, close, reopen: every event a bot may hear of."""
    steps: list[tuple[Verb, dict[str, Any]]] = [
        (Verb.ACK, {}),
        (Verb.COMMENT, {"text": "on it"}),
        (Verb.SNOOZE, {"minutes": 30}),
        (Verb.CLOSE, {}),
        (Verb.REOPEN, {}),
    ]
    for verb, args in steps:
        await perform(rt, ActionRequest(number, verb, "api", args=args, member="bob"))


@pytest.mark.parametrize(
    ("bot", "severity", "events"),
    [
        ({}, Severity.CRITICAL, ["triggered", "acknowledged", "commented", "closed", "reopened"]),
        ({"events": ["triggered", "closed"]}, Severity.CRITICAL, ["triggered", "closed"]),
        ({"severities": ["critical"]}, Severity.WARNING, []),
        ({"severities": ["warning"], "events": ["closed"]}, Severity.WARNING, ["closed"]),
    ],
)
async def test_events_and_severities_filter_what_a_bot_hears(
    tmp_path: Path, bot: dict[str, Any], severity: Severity, events: list[str]
) -> None:
    async with gateway(tmp_path, bot) as rt:
        n = await fire(rt, severity=severity)
        await walk(rt, n)
        assert [m["event"] for m in await bot_messages(rt, n)] == events


async def test_mentions_follow_the_mapping_table_and_phones(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"alias": "ops group", "at_all": True}) as rt:
        n = await fire(rt)
        first = (await bot_messages(rt, n))[0]
        assert first["mentions"] == [
            {
                "member": "alice",
                "name": "Alice",
                "user_id": "zhang.alice",
                "phone": "+8613800000001",
            },
            {"member": "bob", "name": "Bob", "user_id": None, "phone": "+8613800000002"},
        ]
        assert first["at_all"] is True
        assert first["title"] == f"#{n} DiskFull"
        assert f"/incidents/{n}" in first["url"]
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    async with gateway(tmp_path / "b", {"mentions": "assignee"}) as rt:
        n = await fire(rt)
        await perform(rt, ActionRequest(n, Verb.ACK, "api", member="bob"))
        acked = (await bot_messages(rt, n))[-1]
        assert [m["member"] for m in acked["mentions"]] == ["bob"]
    async with gateway(tmp_path / "c", {"mentions": "none"}) as rt:
        n = await fire(rt)
        assert (await bot_messages(rt, n))[0]["mentions"] == []


async def test_a_bot_template_words_its_messages(tmp_path: Path) -> None:
    template = {"triggered": "{{ title }} needs {{ assigned_to | join(' and ') }}"}
    async with gateway(tmp_path, {"template": template}) as rt:
        n = await fire(rt)
        await perform(rt, ActionRequest(n, Verb.ACK, "api", member="bob"))
        texts = [m["text"] for m in await bot_messages(rt, n)]
        assert texts[0] == "DiskFull needs Alice and Bob"
        assert "DiskFull" in texts[1]  # acknowledged: the built-in wording


class Recorder:
    """A bot sender with a cap that records what it was asked to send, when."""

    channel = "wecom_bot"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, JSONObject]] = []

    def pace(self, job: Job) -> Pace:
        return Pace(str(job.destination["ref"]), 20, 60.0)

    async def send(self, job: Job) -> SendResult:
        self.sent.append((self.clock.now(), job.payload))
        return SendResult()


async def test_a_burst_past_the_cap_becomes_a_digest_and_nothing_is_lost(tmp_path: Path) -> None:
    async with gateway(tmp_path, {}) as rt:
        clock = rt.clock
        assert isinstance(clock, ManualClock)
        numbers = [await fire(rt, key=f"k{i}") for i in range(50)]
        recorder = Recorder(clock)
        dispatcher = Dispatcher(
            rt.db, {"wecom_bot": recorder}, rt.settings.outbox, clock, Metrics()
        )
        while await dispatcher.run_once():
            pass
        # The cap allows 20 now, enough for all 50: 18 alone, 32 in two digests of 16.
        assert len(recorder.sent) == 20
        for n in numbers[:31]:  # a burst of acks: they must wait for the window
            await perform(rt, ActionRequest(n, Verb.ACK, "api", member="bob"))
        while await dispatcher.run_once():
            pass
        assert len(recorder.sent) == 20
        clock.advance(seconds=67)  # the minute, and the tenth kept in reserve
        while await dispatcher.run_once():
            pass
        # The window is free again: of the 31 acks waiting, 19 alone and 12 in a digest.
        assert len(recorder.sent) == 40
        times = [at for at, _ in recorder.sent]
        for at in times:  # never more than 20 inside any 60 s
            assert sum(1 for t in times if at <= t < at + timedelta(seconds=60)) <= 20
        told: Counter[tuple[int, str]] = Counter()
        for _, payload in recorder.sent:
            for message in payload.get("digest") or [payload["message"]]:
                told[(message["number"], message["event"])] += 1
        assert told == Counter(
            {(n, "triggered"): 1 for n in numbers} | {(n, "acknowledged"): 1 for n in numbers[:31]}
        )
        digests = [p for _, p in recorder.sent if "digest" in p]
        assert [len(d["digest"]) for d in digests] == [16, 16, 12]
        assert digests[0]["headline"].startswith("16 incident notices")
        async with rt.db.read() as conn:
            rows = [r for n in numbers for r in await repo.deliveries_for(conn, n)]
        states = Counter(r["state"] for r in rows if r["channel"] == "wecom_bot")
        assert states == Counter({"sent": 81})


async def test_a_keyword_the_bot_requires_is_added_when_missing(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"keyword": "[oncall]"}) as rt:
        n = await fire(rt)
        assert (await bot_messages(rt, n))[0]["text"].endswith("\n[oncall]")
    (tmp_path / "b").mkdir()
    template = {"default": "[oncall] {{ title }}"}
    async with gateway(tmp_path / "b", {"keyword": "[oncall]", "template": template}) as rt:
        n = await fire(rt)
        assert (await bot_messages(rt, n))[0]["text"] == "[oncall] DiskFull"
