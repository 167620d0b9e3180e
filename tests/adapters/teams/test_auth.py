"""What must not act: requests without the Bot Connector's token, forged or stale tokens,
other tenants, replays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.adapters.teams.conftest import (
    ALICE,
    TeamsGateway,
    gateway_settings,
    start_gateway,
)
from tests.fakes.teams import APP_ID, CHANNEL, FakeTeams, other_key

Forge = Callable[[FakeTeams], str]

FORGED: dict[str, Forge] = {
    "another key, same kid": lambda f: f.bearer(key=other_key()),
    "an unknown kid": lambda f: f.bearer(key=other_key(), kid="someone-elses"),
    "expired": lambda f: f.bearer(expires_in_s=-600),
    "another bot's audience": lambda f: f.bearer(audience="99999999-0000-4000-8000-000000000000"),
    "another issuer": lambda f: f.bearer(issuer="https://evil.example.com"),
    "an emulator issuer": lambda f: f.bearer(
        issuer="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
    ),
    "another service URL": lambda f: f.bearer(service_url="https://smba.example.com/amer/"),
    "not a JWT": lambda _f: "Bearer not.a.jwt",
    "another scheme": lambda f: f.bearer().replace("Bearer", "Basic"),
    "two words too many": lambda f: f.bearer() + " extra words",
}


@pytest.mark.parametrize("forge", FORGED.values(), ids=FORGED.keys())
async def test_a_forged_token_is_refused_and_changes_nothing(
    gateway: TeamsGateway, teams: FakeTeams, forge: Forge
) -> None:
    number, card = await gateway.opened()
    calls = len(teams.connector_calls())
    press = teams.invoke(ALICE, card, "ack", {"a": f"v1:ack:{number}"})
    response = await gateway.hook(press, authorization=forge(teams))
    assert response.status == 401, await response.text()
    message = await gateway.hook(teams.message(ALICE, f"ack {number}"), authorization=forge(teams))
    assert message.status == 401
    assert (await gateway.incident(number))["status"] == "triggered"
    assert len(teams.connector_calls()) == calls  # not even a reply


async def test_a_request_without_a_token_is_refused_before_it_is_read(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, card = await gateway.opened()
    fetches = teams.key_fetches
    press = teams.invoke(ALICE, card, "ack", {"a": f"v1:ack:{number}"})
    assert (await gateway.hook(press, authorization="")).status == 401
    assert (await gateway.hook(press, authorization="Bearer ")).status == 401
    raw = await gateway.client.post("/hooks/teams", data=b"not json")
    assert raw.status == 401
    assert teams.key_fetches == fetches  # nothing was looked at
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_token_for_another_channel_is_refused(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    """The key is endorsed for msteams only: a token for a "webchat" activity is refused."""
    number, card = await gateway.opened()
    press = teams.invoke(ALICE, card, "ack", {"a": f"v1:ack:{number}"})
    press["channelId"] = "webchat"
    assert (await gateway.hook(press)).status == 401
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_body_that_is_not_an_activity_is_refused(gateway: TeamsGateway) -> None:
    token = gateway.fake.bearer()
    for body in ([1, 2], {"type": "message"}, {"type": "message", "serviceUrl": "x"}):
        r = await gateway.client.post("/hooks/teams", json=body, headers={"Authorization": token})
        assert r.status == 400, await r.text()


async def test_another_tenant_is_refused(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, card = await gateway.opened()
    press = teams.invoke(ALICE, card, "ack", {"a": f"v1:ack:{number}"})
    press["conversation"]["tenantId"] = "22222222-0000-4000-8000-000000000000"
    press["channelData"]["tenant"]["id"] = "22222222-0000-4000-8000-000000000000"
    assert (await gateway.hook(press)).status == 403
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_keys_out_of_reach_is_a_503_not_a_500(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    teams.metadata_status = 500
    response = await gateway.hook(teams.message(ALICE, "help"))
    assert response.status == 503
    teams.metadata_status = 200  # the next request fetches them again
    assert (await gateway.hook(teams.message(ALICE, "help"))).status == 200


async def test_the_keys_are_fetched_once(gateway: TeamsGateway, teams: FakeTeams) -> None:
    for _ in range(3):
        await gateway.say(ALICE, "help")
    assert teams.key_fetches == 1


async def test_a_replayed_message_is_answered_once(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, _card = await gateway.opened()
    activity = teams.message(ALICE, f"ack {number}")
    for _ in range(2):  # the Bot Connector sends an activity again when it missed our answer
        assert (await gateway.hook(activity)).status == 200
    assert teams.replies(teams.personal_chat(ALICE)) == ["Acknowledged by alice"]


async def test_a_misconfigured_app_id_refuses_every_token(
    teams: FakeTeams, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    settings = gateway_settings(tmp_path, teams, app_id="12345678-0000-4000-8000-000000000000")
    gateway = await start_gateway(aiohttp_client, teams, http, settings)
    response = await gateway.hook(teams.message(ALICE, "help", conversation=CHANNEL))
    assert response.status == 401
    assert APP_ID not in await response.text()
