"""Unlinked DingTalk accounts found by the members' mobiles and emails: the person's profile
(``user/get``) is asked once, a member whose mobile or email it shows is linked and acts, and
when DingTalk hides the mobile each member's mobile is asked about (``getbymobile``); anyone
else is refused with nothing changed and not asked about again for a while."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.dingtalk.directory import MISS_TTL
from gateway import mapping
from gateway.config import Settings
from gateway.web.keys import RUNTIME
from tests.adapters.dingtalk.conftest import (
    ALICE,
    BOB,
    BOB_MOBILE,
    GROUP,
    STRANGER,
    DingtalkGateway,
    build_gateway,
    card_in_answer,
    dingtalk_section,
    shown,
)
from tests.fakes.dingtalk import FakeDingtalk
from tests.support import make_settings, settings_doc

CAROL = "staff-carol"  # found by her organization mailbox
CAROL_MAIL = "carol@example.com"


async def links(gateway: DingtalkGateway) -> list[list[str]]:
    """``ackgate mapping list`` without the configuration's own: platform, account, member,
    origin of every link written since."""
    lines = await mapping.listing(gateway.client.app[RUNTIME])
    return [line.split()[:4] for line in lines if line.split()[3] != "config"]


def settings_with_carol(
    tmp_path: Path,
    fake: FakeDingtalk,
    *,
    twin: bool = False,
    hongkong: str | None = None,
    **dingtalk: Any,
) -> Settings:
    """alice configured with her staff id; bob with a phone, carol with an email only (and,
    with ``twin``, caroline with carol's email; with ``hongkong``, hk with that phone)."""
    doc = settings_doc()
    doc["services"]["default"]["notify"] = [{"kind": "dingtalk", "chat": GROUP}]
    members = doc["members"]
    members["alice"]["identities"].append({"platform": "dingtalk", "user_id": ALICE})
    members["alice"]["phone"] = "+8613800000001"  # configured: never matched by it
    members["bob"]["phone"] = "+86 138 0000 0002"
    members["carol"] = {"name": "Carol", "email": "Carol@Example.com"}
    if twin:
        members["caroline"] = {"name": "Caroline", "email": CAROL_MAIL}
    if hongkong is not None:
        members["hk"] = {"name": "HK", "phone": hongkong}
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        dingtalk=dingtalk_section(fake, **dingtalk),
        services=doc["services"],
        members=members,
    )


@pytest.fixture
async def linking(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[DingtalkGateway]:
    """Stream mode; carol is in the organization with her mailbox."""
    dingtalk.add_user(CAROL, "13700000003", org_email=CAROL_MAIL)
    make = build_gateway(settings_with_carol(tmp_path, dingtalk))
    async for made in make(aiohttp_client, dingtalk):
        yield made


async def test_a_member_found_by_email_acts_by_command(
    linking: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, _card = await linking.opened()

    assert await linking.say(f"ack {number}", user=CAROL) == "Acknowledged by carol"

    assert (await linking.incident(number))["acked_by"] == "carol"
    [profile] = dingtalk.called("/topapi/v2/user/get")
    assert profile.body["userid"] == CAROL
    assert profile.query["access_token"] in dingtalk.valid_tokens
    assert await links(linking) == [["dingtalk", CAROL, "carol", "email"]]
    # Linked: DingTalk is asked nothing more.
    assert await linking.say("link", user=CAROL) == (
        "Your DingTalk account is linked to the member carol."
    )
    assert len(dingtalk.called("/topapi/v2/user/get")) == 1


async def test_a_member_found_by_mobile_clicks_and_is_linked(
    linking: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await linking.opened()

    response = await linking.press("ack", number, user=BOB, card=card)

    assert "Acknowledged by bob" in shown(card_in_answer(response))
    assert (await linking.incident(number))["acked_by"] == "bob"
    assert await links(linking) == [["dingtalk", BOB, "bob", "import"]]
    assert dingtalk.called("/getbymobile") == []


async def test_a_hidden_mobile_is_asked_about_member_by_member(
    linking: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    dingtalk.hidden_fields.add("mobile")  # the app may not read mobiles
    number, card = await linking.opened()

    response = await linking.press("ack", number, user=BOB, card=card)

    assert "Acknowledged by bob" in shown(card_in_answer(response))
    # bob's is the only phone of a member with no DingTalk identity configured.
    assert [c.body for c in dingtalk.called("/getbymobile")] == [{"mobile": BOB_MOBILE}]
    assert await links(linking) == [["dingtalk", BOB, "bob", "import"]]


async def test_a_stranger_is_refused_and_not_asked_about_again_for_a_while(
    linking: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    dingtalk.hidden_fields.add("mobile")
    number, card = await linking.opened()

    assert await linking.press("ack", number, user=STRANGER, card=card) == {}

    [told] = dingtalk.texts_to("user", STRANGER)
    assert f"staff id {STRANGER}" in told
    assert (await linking.incident(number))["status"] == "triggered"
    assert await links(linking) == []
    profiles, by_mobile = (len(dingtalk.called(p)) for p in ("/user/get", "/getbymobile"))
    assert (profiles, by_mobile) == (1, 1)

    # Pressing again, or writing, within MISS_TTL: DingTalk is asked nothing.
    linking.clock.advance(minutes=5)
    assert await linking.press("close", number, user=STRANGER, card=card) == {}
    refused = await linking.say(f"ack {number}", user=STRANGER)
    assert f"staff id {STRANGER}" in refused
    assert len(dingtalk.called("/user/get")) == profiles
    assert len(dingtalk.called("/getbymobile")) == by_mobile
    assert (await linking.incident(number))["status"] == "triggered"

    # Later the person is asked about again; the mobiles' answers are still believed.
    linking.clock.advance(seconds=MISS_TTL.total_seconds())
    assert await linking.press("ack", number, user=STRANGER, card=card) == {}
    assert len(dingtalk.called("/user/get")) == profiles + 1
    assert len(dingtalk.called("/getbymobile")) == by_mobile
    assert await links(linking) == []


async def test_two_members_with_one_email_are_neither_linked(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path
) -> None:
    dingtalk.add_user(CAROL, org_email=CAROL_MAIL)
    make = build_gateway(settings_with_carol(tmp_path, dingtalk, twin=True))
    async for gateway in make(aiohttp_client, dingtalk):
        number, _card = await gateway.opened()
        refused = await gateway.say(f"ack {number}", user=CAROL)
        assert f"staff id {CAROL}" in refused
        assert (await gateway.incident(number))["status"] == "triggered"
        assert await links(gateway) == []


async def test_a_signed_http_message_links_its_sender(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path
) -> None:
    dingtalk.add_user(CAROL, org_email=CAROL_MAIL)
    make = build_gateway(settings_with_carol(tmp_path, dingtalk, mode="http"))
    async for gateway in make(aiohttp_client, dingtalk):
        number, _card = await gateway.opened()
        r = await gateway.post(gateway.message(f"ack {number}", user=CAROL))
        assert r.status == 200, await r.text()
        await gateway.quiet()
        assert dingtalk.texts_to("session") == ["Acknowledged by carol"]
        assert await links(gateway) == [["dingtalk", CAROL, "carol", "email"]]


async def test_a_mobile_abroad_is_matched_with_its_country_code(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path
) -> None:
    dingtalk.add_user("staff-hk", "61234567", state_code="852")
    settings = settings_with_carol(tmp_path, dingtalk, hongkong="+852 6123 4567")
    make = build_gateway(settings)
    async for gateway in make(aiohttp_client, dingtalk):
        number, _card = await gateway.opened()
        assert await gateway.say(f"ack {number}", user="staff-hk") == "Acknowledged by hk"
        assert await links(gateway) == [["dingtalk", "staff-hk", "hk", "import"]]
