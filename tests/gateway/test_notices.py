"""Which notices the core writes: cards to chats, DMs to the people paged, updates everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.actions import perform
from gateway.domain import ActionRequest, Verb
from gateway.errors import ConfigError
from gateway.ingest.formats import parse
from gateway.ingest.service import ingest
from gateway.notices import catch_up
from gateway.runtime import Runtime
from storage import repo
from tests.support import fixture, make_settings, running, settings_doc

SLACK = {"bot_token": "xoxb-test-token", "signing_secret": "signing-secret-1"}


def services(*notify: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = settings_doc()["services"]
    doc["default"]["notify"] = list(notify)
    return doc


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        slack=SLACK,
        services=services(
            {"kind": "slack", "chat": "C0INC"},
            {"kind": "webhook", "url": "http://127.0.0.1:9/hook"},
        ),
    )
    async with running(settings) as runtime:
        yield runtime


async def open_incident(rt: Runtime, name: str = "firing.json") -> int:
    """Ingest an Alertmanager fixture; the number of the incident it opened."""
    integ = rt.settings.integrations["prometheus"]
    batch = parse("alertmanager", fixture("alertmanager", name), integ)
    return (await ingest(rt, "prometheus", batch)).opened[0]


async def deliveries(rt: Runtime, number: int) -> list[dict[str, Any]]:
    async with rt.db.read() as conn:
        return await repo.deliveries_for(conn, number)


async def test_new_incident_posts_to_chat_dms_the_paged_and_calls_webhooks(rt: Runtime) -> None:
    rows = await deliveries(rt, await open_incident(rt))
    shapes = sorted((d["channel"], tuple(sorted(d["destination"]))) for d in rows)
    assert shapes == [
        ("slack", ("chat", "ref")),
        ("slack", ("dm", "member")),
        ("webhook", ("ref", "url")),
    ]
    dm = next(d for d in rows if "dm" in d["destination"])
    assert dm["destination"] == {"dm": "UALICE", "member": "alice"}
    assert dm["payload"]["op"] == "post"
    assert "?t=" in dm["payload"]["url"]  # a signed link: alice acts without logging in
    card = dm["payload"]["incident"]
    assert card["alerts"][0]["dedup_key"] == "f7ca8b2ae37f4b50"


async def test_every_change_updates_every_posted_card(rt: Runtime) -> None:
    number = await open_incident(rt)
    posted = await deliveries(rt, number)
    async with rt.db.write() as conn:
        await repo.add_message_refs(
            conn,
            [
                {
                    "incident_id": number,
                    "platform": "slack",
                    "chat_id": "C0INC",
                    "message_id": "1700000000.000100",
                    "member": None,
                    "delivery_id": posted[0]["id"],
                    "created_at": rt.clock.now(),
                },
                {
                    "incident_id": number,
                    "platform": "slack",
                    "chat_id": "D0ALICE",
                    "message_id": "1700000000.000200",
                    "member": "alice",
                    "delivery_id": posted[1]["id"],
                    "created_at": rt.clock.now(),
                },
            ],
        )
    await perform(rt, ActionRequest(number, Verb.ACK, "api", member="bob"))
    later = [d for d in await deliveries(rt, number) if d["id"] > posted[-1]["id"]]
    replies = [d for d in later if d["payload"].get("op") == "reply"]
    assert sorted(d["destination"]["chat"] for d in replies) == ["C0INC", "D0ALICE"]
    assert all(d["target"] is None for d in replies)  # never superseded: no reply is lost
    updates = [d for d in later if d["payload"].get("op") == "update"]
    assert sorted(d["destination"]["chat"] for d in updates) == ["C0INC", "D0ALICE"]
    for update in updates:
        assert update["payload"]["incident"]["status"] == "acknowledged"
        assert update["payload"]["incident"]["acked_by"] == "bob"
        assert update["payload"]["event"] == "incident.acknowledged"
    assert sorted(d["target"] for d in updates) == [
        "slack:C0INC:1700000000.000100",
        "slack:D0ALICE:1700000000.000200",
    ]
    dm_update = next(d for d in updates if d["destination"]["chat"] == "D0ALICE")
    assert "?t=" in dm_update["payload"]["url"]
    assert not any(
        d["payload"].get("op") == "post" and d["id"] > posted[-1]["id"]
        for d in await deliveries(rt, number)
    )


async def test_escalation_dms_the_next_level_only_when_linked(rt: Runtime) -> None:
    number = await open_incident(rt)
    before = len(await deliveries(rt, number))
    await perform(rt, ActionRequest(number, Verb.ESCALATE, "api", member="alice"))
    new = (await deliveries(rt, number))[before:]
    # bob has no chat identity: only the webhook hears of it.
    assert [d["channel"] for d in new] == ["webhook"]


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        (
            {"kind": "slack", "chat": "C1"},
            "services.default.notify[0].kind: 'slack' is not configured",
        ),
        ({"kind": "webhook"}, "services.default.notify[0]: a webhook destination needs url"),
        ({"kind": "slack"}, "needs chat"),
        ({"kind": "webhook", "url": "http://127.0.0.1:9/", "chat": "C1"}, "takes url, not chat"),
    ],
)
def test_destination_mistakes_are_named(dest: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_settings("sqlite+aiosqlite:///x.db", services=services(dest))
    assert any(message in e for e in err.value.errors), err.value.errors


async def test_a_card_that_landed_after_a_change_catches_up(rt: Runtime) -> None:
    number = await open_incident(rt)
    post = next(d for d in await deliveries(rt, number) if "chat" in d["destination"])
    # The ack happens while the card is still on its way: nobody knows its message id yet.
    await perform(rt, ActionRequest(number, Verb.ACK, "api", member="bob"))
    ref = {
        "incident_id": number,
        "platform": "slack",
        "chat_id": "C0INC",
        "message_id": "1700000000.000100",
        "member": None,
    }
    async with rt.db.write() as conn:
        assert await catch_up(conn, rt.settings, [(ref, post["payload"])], rt.clock.now())
    update = (await deliveries(rt, number))[-1]
    assert update["payload"]["op"] == "update"
    assert update["payload"]["incident"]["status"] == "acknowledged"
    assert update["destination"] == {"chat": "C0INC", "message": "1700000000.000100"}
    async with rt.db.write() as conn:
        fresh = {**post["payload"], "incident": update["payload"]["incident"]}
        assert not await catch_up(conn, rt.settings, [(ref, fresh)], rt.clock.now())


async def test_dms_can_be_switched_off_per_platform(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        slack={**SLACK, "dm_assignees": False},
        services=services({"kind": "slack", "chat": "C0INC"}),
    )
    async with running(settings) as rt:
        number = await open_incident(rt)
        rows = await deliveries(rt, number)
    assert [d["destination"] for d in rows] == [
        {"chat": "C0INC", "ref": "services.default.notify[0]"}
    ]


async def test_a_card_posted_with_nothing_changed_since_needs_no_update(rt: Runtime) -> None:
    number = await open_incident(rt, "firing-2alerts.json")
    post = next(d for d in await deliveries(rt, number) if "chat" in d["destination"])
    ref = {
        "incident_id": number,
        "platform": "slack",
        "chat_id": "C0INC",
        "message_id": "1700000000.000100",
        "member": None,
    }
    async with rt.db.write() as conn:
        assert not await catch_up(conn, rt.settings, [(ref, post["payload"])], rt.clock.now())


async def test_thread_replies_can_be_switched_off_per_platform(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        slack={**SLACK, "thread_replies": False},
        services=services({"kind": "slack", "chat": "C0INC"}),
    )
    async with running(settings) as rt:
        number = await open_incident(rt)
        async with rt.db.write() as conn:
            await repo.add_message_refs(
                conn,
                [
                    {
                        "incident_id": number,
                        "platform": "slack",
                        "chat_id": "C0INC",
                        "message_id": "1.2",
                        "member": None,
                        "delivery_id": None,
                        "created_at": rt.clock.now(),
                    }
                ],
            )
        await perform(rt, ActionRequest(number, Verb.ACK, "api", member="bob"))
        ops = [d["payload"].get("op") for d in await deliveries(rt, number)]
    assert ops == ["post", "post", "update"]
