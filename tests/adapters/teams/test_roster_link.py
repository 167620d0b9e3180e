"""A Teams user nobody linked yet is linked on first use by the email the chat's roster gives
(``GET …/members/{userId}``), when it is exactly one member's; strangers are refused, and
asked about once per MISS_TTL however often they press."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.teams.acting import MISS_TTL
from gateway.web.keys import RUNTIME
from storage import repo
from tests.adapters.teams.conftest import (
    MALLORY,
    TeamsGateway,
    gateway_settings,
    start_gateway,
)
from tests.fakes.teams import FakeTeams, Person

CAROL = Person(
    "29:1carol-teams-id",
    "dddddddd-0000-4000-8000-0000000ca201",
    "Carol Chen",
    email="Carol.Chen@Example.COM",
)
# Two people whose roster says carol's address one way but not the other.
CAROL_BY_MAIL_ONLY = Person(
    "29:1carol2-teams-id",
    "eeeeeeee-0000-4000-8000-0000000ca202",
    "Carol Two",
    email="carol.chen@example.com",
    upn="carol.chen_example.com#EXT#@contoso.onmicrosoft.com",
)
DAVE = Person(
    "29:1dave-teams-id",
    "ffffffff-0000-4000-8000-00000000da7e",
    "Dave Doe",
    email="not-dave@contoso.example",
    upn="dave@example.com",
)
MEMBERS = {
    "carol": {"name": "Carol", "email": "carol.chen@example.com"},
    "dave": {"name": "Dave", "email": "dave@example.com"},
}


async def identities(gateway: TeamsGateway) -> list[dict[str, Any]]:
    """Every linked account, as stored."""
    rt = gateway.client.app[RUNTIME]
    async with rt.db.read() as conn:
        return await repo.all_identities(conn)


async def teams_identities(gateway: TeamsGateway) -> set[tuple[str, str, str]]:
    """The Teams accounts linked, with their member and how."""
    return {
        (row["platform_user_id"], row["member"], row["origin"])
        for row in await identities(gateway)
        if row["platform"] == "teams"
    }


@pytest.fixture
async def roster_gateway(
    teams: FakeTeams, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> TeamsGateway:
    """The gateway with carol and dave configured by email only (no Teams identity)."""
    for person in (CAROL, CAROL_BY_MAIL_ONLY, DAVE):
        teams.add_person(person)
    settings = gateway_settings(tmp_path, teams, members=MEMBERS)
    return await start_gateway(aiohttp_client, teams, http, settings)


async def test_a_click_by_someone_with_a_members_email_links_them_and_acts(
    roster_gateway: TeamsGateway, teams: FakeTeams
) -> None:
    gateway = roster_gateway
    number, card = await gateway.opened()
    before = await teams_identities(gateway)

    answer = await gateway.press(CAROL, card, "ack", number)

    assert answer["type"] == "application/vnd.microsoft.card.adaptive"  # acted: the new card
    assert (await gateway.incident(number))["acked_by"] == "carol"
    assert await teams_identities(gateway) == before | {(CAROL.aad_object_id, "carol", "email")}
    [lookup] = teams.roster_lookups()
    assert lookup.method == "GET"
    assert lookup.path.endswith(f"/members/{CAROL.id}")
    assert lookup.authorization.startswith("Bearer fake-outbound-token-")

    # From now on the link is known: no more questions to the roster.
    await gateway.press(CAROL, card, "close", number)
    assert (await gateway.incident(number))["closed_by"] == "carol"
    assert len(teams.roster_lookups()) == 1


async def test_a_command_by_someone_with_a_members_email_links_them_too(
    roster_gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, _card = await roster_gateway.opened()
    await roster_gateway.say(CAROL, f"ack {number}")
    assert teams.replies(teams.personal_chat(CAROL)) == ["Acknowledged by carol"]


async def test_link_links_by_the_roster_email(
    roster_gateway: TeamsGateway, teams: FakeTeams
) -> None:
    await roster_gateway.say(CAROL, "link")
    await roster_gateway.say(CAROL, "link")
    assert teams.replies(teams.personal_chat(CAROL)) == [
        "Your Teams account is now linked to the member carol: your email matched.",
        "Your Teams account is linked to the member carol.",
    ]


async def test_a_stranger_is_refused_and_the_roster_asked_once_in_a_while(
    roster_gateway: TeamsGateway, teams: FakeTeams
) -> None:
    gateway = roster_gateway
    number, card = await gateway.opened()
    before = await identities(gateway)
    for _ in range(3):
        answer = await gateway.press(MALLORY, card, "ack", number)
        assert answer["type"] == "application/vnd.microsoft.activity.message"
        assert f"Your Teams account ({MALLORY.aad_object_id}) is not linked" in answer["value"]
    await gateway.say(MALLORY, f"ack {number}")
    assert "is not linked" in teams.replies(teams.personal_chat(MALLORY))[-1]
    assert len(teams.roster_lookups()) == 1  # mallory@example.com is nobody's

    gateway.clock.advance(seconds=MISS_TTL.total_seconds() + 1)
    await gateway.press(MALLORY, card, "ack", number)
    assert len(teams.roster_lookups()) == 2

    doc = await gateway.incident(number)
    assert (doc["status"], [e["kind"] for e in doc["timeline"]]) == ("triggered", ["triggered"])
    assert await identities(gateway) == before
    assert await gateway.deliver() == 0


async def test_a_roster_that_fails_links_nobody_and_changes_nothing(
    roster_gateway: TeamsGateway, teams: FakeTeams
) -> None:
    gateway = roster_gateway
    number, card = await gateway.opened()
    before = await identities(gateway)
    teams.fail_next(500, "ServiceError", "Unknown error")
    answer = await gateway.press(CAROL, card, "ack", number)
    assert "is not linked" in answer["value"]
    assert (await gateway.incident(number))["status"] == "triggered"
    assert await identities(gateway) == before


async def test_the_upn_counts_even_without_a_pinned_tenant_the_email_does_not(
    teams: FakeTeams, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A multi-tenant bot hears from any tenant, whose admins can write any mail attribute;
    a UPN's domain is one its tenant verified."""
    for person in (CAROL_BY_MAIL_ONLY, DAVE):
        teams.add_person(person)
    settings = gateway_settings(tmp_path, teams, members=MEMBERS, tenant_id=None)
    gateway = await start_gateway(aiohttp_client, teams, http, settings)
    number, card = await gateway.opened()

    answer = await gateway.press(CAROL_BY_MAIL_ONLY, card, "ack", number)
    assert "is not linked" in answer["value"]
    assert (await gateway.incident(number))["status"] == "triggered"

    answer = await gateway.press(DAVE, card, "ack", number)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert (await gateway.incident(number))["acked_by"] == "dave"


async def test_with_a_pinned_tenant_the_email_counts(
    roster_gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, card = await roster_gateway.opened()
    answer = await roster_gateway.press(CAROL_BY_MAIL_ONLY, card, "ack", number)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert (await roster_gateway.incident(number))["acked_by"] == "carol"
