"""TeamsSender against the fake Bot Connector: what it sends, and how failures come out."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.teams.sender import TeamsSender
from gateway.config import Settings
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job
from tests.adapters.teams.conftest import ALICE, BOB, gateway_settings
from tests.cards import samples
from tests.fakes.teams import CHANNEL, FakeTeams


@pytest.fixture
def settings(teams: FakeTeams, tmp_path: Path) -> Settings:
    return gateway_settings(tmp_path, teams)


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[TeamsSender]:
    async with aiohttp.ClientSession() as session:
        yield TeamsSender(settings, session)


def job(destination: JSONObject, op: str = "post", **payload: Any) -> Job:
    body: JSONObject = {"op": op, "incident": samples.triggered(), "url": "https://a.example/i/42"}
    return Job(1, 42, "teams", destination, {**body, **payload}, attempt=1)


async def test_post_update_and_reply_in_a_channel(sender: TeamsSender, teams: FakeTeams) -> None:
    chat = teams.chat(CHANNEL)
    result = await sender.send(job({"chat": chat}))
    [card] = teams.cards(CHANNEL)
    assert (result.message_ref, result.chat_id) == (card.id, chat)
    assert card.text.startswith("🔴 #42 HighErrorRate on checkout\nTriggered")

    acked = samples.acknowledged()
    await sender.send(job({"chat": chat, "message": card.id}, "update", incident=acked))
    assert "Acknowledged by alice" in card.text
    assert [c.method for c in teams.connector_calls()] == ["POST", "PUT"]

    entry = acked["timeline"][-1]
    await sender.send(job({"chat": chat, "message": card.id}, "reply", entry=entry))
    assert teams.replies(CHANNEL) == ["Acknowledged by alice"]
    # A triggered entry says nothing the card does not.
    await sender.send(job({"chat": chat, "message": card.id}, "reply", entry={"kind": "triggered"}))
    assert len(teams.replies(CHANNEL)) == 1


async def test_a_dm_opens_the_1_1_chat_and_reports_it_as_the_chat(
    sender: TeamsSender, teams: FakeTeams
) -> None:
    user = f"{teams.service_url}|{ALICE.aad_object_id}"
    result = await sender.send(job({"dm": user, "member": "alice"}))
    [card] = teams.cards(teams.personal_chat(ALICE))
    assert result.message_ref == card.id
    assert result.chat_id == teams.chat(teams.personal_chat(ALICE))  # updates need no lookup
    await sender.send(
        job({"chat": result.chat_id, "message": card.id}, "update", incident=samples.closed())
    )
    assert "Closed by alice" in card.text


async def test_dms_can_be_switched_off(
    teams: FakeTeams, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(tmp_path, teams, dm_assignees=False)
    result = await TeamsSender(settings, http).send(
        job({"dm": f"{teams.service_url}|{ALICE.aad_object_id}", "member": "alice"})
    )
    assert result.message_ref is None
    assert teams.calls == []


async def test_the_token_is_fetched_once_and_replaced_when_refused(
    sender: TeamsSender, teams: FakeTeams
) -> None:
    for _ in range(3):
        await sender.send(job({"chat": teams.chat(CHANNEL)}))
    assert teams.tokens == ["fake-outbound-token-1"]
    teams.tokens.clear()  # the Bot Connector stops taking it (revoked, expired early)
    await sender.send(job({"chat": teams.chat(CHANNEL)}))
    assert len(teams.cards(CHANNEL)) == 4
    assert teams.tokens == ["fake-outbound-token-2"]


@pytest.mark.parametrize(
    ("status", "code", "error", "retry_after"),
    [
        (429, "", RateLimited, "7"),
        (500, "ServiceError", Unavailable, None),
        (502, "", Unavailable, None),
        (412, "PreconditionFailed", Unavailable, None),
        (403, "Forbidden", AuthFailed, None),
        (404, "ConversationNotFound", Rejected, None),
        (413, "MessageSizeTooBig", Rejected, None),
        (400, "BadArgument", Rejected, None),
    ],
)
async def test_failures_come_out_as_platform_errors(
    sender: TeamsSender,
    teams: FakeTeams,
    status: int,
    code: str,
    error: type[Exception],
    retry_after: str | None,
) -> None:
    teams.fail_next(status, code, "no", retry_after)
    with pytest.raises(error) as caught:
        await sender.send(job({"chat": teams.chat(CHANNEL)}))
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after_s == 7.0
    if isinstance(caught.value, Rejected):
        assert caught.value.code == code
    assert teams.cards(CHANNEL) == []


async def test_a_missing_conversation_says_what_to_check(
    sender: TeamsSender, teams: FakeTeams
) -> None:
    hint = re.escape('"<serviceUrl>|<conversationId>"')
    with pytest.raises(Rejected, match=hint) as caught:
        await sender.send(job({"chat": teams.chat("19:nope@thread.tacv2")}))
    assert caught.value.code == "ConversationNotFound"
    with pytest.raises(Rejected, match="ActivityNotFoundInConversation"):
        await sender.send(job({"chat": teams.chat(CHANNEL), "message": "1"}, "update"))


async def test_a_user_without_the_bot_cannot_be_messaged(
    sender: TeamsSender, teams: FakeTeams
) -> None:
    teams.people[BOB.id].installed = False
    with pytest.raises(AuthFailed, match="not installed"):
        await sender.send(job({"dm": f"{teams.service_url}|{BOB.aad_object_id}"}))


async def test_wrong_credentials_fail_for_good(
    teams: FakeTeams, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(tmp_path, teams, app_password="not-the-password")
    with pytest.raises(AuthFailed, match="app_password"):
        await TeamsSender(settings, http).send(job({"chat": teams.chat(CHANNEL)}))
    assert teams.connector_calls() == []


async def test_an_unreachable_connector_is_worth_another_try(
    sender: TeamsSender, teams: FakeTeams
) -> None:
    with pytest.raises(Unavailable):
        await sender.send(job({"chat": "http://127.0.0.1:9/|19:x@thread.tacv2"}))


async def test_a_job_without_a_card_or_a_known_op_is_rejected(
    sender: TeamsSender, teams: FakeTeams
) -> None:
    with pytest.raises(Rejected, match="no incident"):
        await sender.send(job({"chat": teams.chat(CHANNEL)}, incident=None))
    with pytest.raises(Rejected, match="no known op"):
        await sender.send(job({"chat": teams.chat(CHANNEL)}, "delete"))
    with pytest.raises(Rejected, match="no chat"):
        await sender.send(job({}))


async def test_a_huge_incident_still_fits_one_message(
    sender: TeamsSender, teams: FakeTeams
) -> None:
    doc = samples.triggered()
    doc["description"] = "d" * 50_000
    doc["labels"] = {f"label{i:02}": "v" * 5_000 for i in range(60)}
    doc["timeline"] = [samples.entry("2026-03-01T10:00:00Z", "commented", "m" * 900, "web")] * 60
    await sender.send(job({"chat": teams.chat(CHANNEL)}, incident=doc))
    [card] = teams.cards(CHANNEL)
    sent = json.dumps(card.activity, ensure_ascii=False, separators=(",", ":")).encode()
    assert len(sent) <= 28 * 1024
