"""Unlinked WeCom users found by the members' mobiles and emails: WeCom is asked (with the
access token), the one member it points at is linked and acts, anyone else is refused with
nothing changed, and every answer is kept so a stranger's presses cost no further lookups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.directory import Answers, directory_mobile
from adapters.wecom.directory import MISS_TTL
from gateway import mapping
from gateway.web.keys import RUNTIME
from tests.adapters.wecom.conftest import (
    ALICE,
    BOB,
    STRANGER,
    WecomGateway,
    start_gateway,
    wecom_section,
)
from tests.fakes.wecom import CODE_FREQUENCY, CORP_ID, FakeWecom
from tests.support import make_settings, settings_doc

CAROL = "carol.zhao"  # found by her mobile
DAVE = "dave.sun"  # found by the email on his profile
# erin has a mobile and an email in the config, and no account in this corp at all.


@pytest.fixture
async def linking(
    wecom: FakeWecom, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[WecomGateway]:
    """alice and bob configured with their UserIDs; carol, dave and erin with a phone or an
    email only; carol and dave are in the corp."""
    wecom.add_member(CAROL, mobile="13800000003")
    wecom.add_member(DAVE, email="dave@example.com")
    doc = settings_doc()
    members = doc["members"]
    members["alice"]["identities"].append({"platform": "wecom", "user_id": ALICE})
    members["alice"]["phone"] = "+86 138 0000 0001"  # configured: never looked up
    members["bob"]["identities"] = [{"platform": "wecom", "workspace": CORP_ID, "user_id": BOB}]
    members["carol"] = {"name": "Carol", "phone": "+86 138-0000-0003"}
    members["dave"] = {"name": "Dave", "email": "dave@example.com"}
    members["erin"] = {"name": "Erin", "phone": "+8613900000005", "email": "erin@example.com"}
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        wecom=wecom_section(wecom),
        members=members,
        services=doc["services"],
    )
    async with aiohttp.ClientSession() as session:
        yield await start_gateway(aiohttp_client, wecom, session, settings)


async def links(gateway: WecomGateway) -> list[list[str]]:
    """``ackgate mapping list`` without the configuration's own: platform, account, member,
    origin of every link written since."""
    lines = await mapping.listing(gateway.client.app[RUNTIME])
    return [line.split()[:4] for line in lines if line.split()[3] != "config"]


def looked_up(wecom: FakeWecom) -> list[tuple[str, Any]]:
    """Each lookup WeCom was asked: ``("mobile", number)`` or ``("email:N", address)``."""
    return [
        ("mobile", c.body["mobile"])
        if c.path.endswith("/getuserid")
        else (f"email:{c.body['email_type']}", c.body["email"])
        for c in wecom.lookups()
    ]


EVERY_LOOKUP = [
    ("mobile", "13800000003"),
    ("email:1", "dave@example.com"),
    ("email:2", "dave@example.com"),
    ("mobile", "13900000005"),
    ("email:1", "erin@example.com"),
    ("email:2", "erin@example.com"),
]


async def test_a_member_with_a_matching_mobile_clicks_and_is_linked(
    linking: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await linking.opened()
    carols = wecom.share(card, CAROL)  # the card reached carol too

    await linking.press(CAROL, carols, f"v1:ack:{number}")

    doc = await linking.incident(number)
    assert (doc["status"], doc["acked_by"]) == ("acknowledged", "carol")
    assert carols.now["main_title"]["desc"].startswith("Acknowledged by carol")
    assert wecom.texts_of(CAROL) == []
    assert sorted(looked_up(wecom)) == sorted(EVERY_LOOKUP)  # alice and bob: configured
    # Every lookup carried one access token, fetched once (the outbox has its own).
    [token] = {c.query["access_token"] for c in wecom.lookups()}
    assert token in wecom.tokens
    assert len(wecom.called("/gettoken")) == 2
    assert await links(linking) == [["wecom", CAROL, "carol", "import"]]

    # Linked now: her next action asks WeCom nothing.
    before = len(wecom.lookups())
    assert await linking.say(CAROL, "link") == "Your WeCom account is linked to the member carol."
    linking.clock.advance(seconds=1)
    await linking.press(CAROL, carols, f"v1:close:{number}")
    assert (await linking.incident(number))["status"] == "closed"
    assert len(wecom.lookups()) == before


async def test_a_member_found_by_email_acts_by_command(
    linking: WecomGateway, wecom: FakeWecom
) -> None:
    number, _card = await linking.opened()

    assert await linking.say(DAVE, f"ack {number}") == "Acknowledged by dave"

    assert (await linking.incident(number))["acked_by"] == "dave"
    # Not his corporate mailbox (a miss), then his profile's email: found.
    dave = [q for q in looked_up(wecom) if q[1] == "dave@example.com"]
    assert dave == [("email:1", "dave@example.com"), ("email:2", "dave@example.com")]
    assert await links(linking) == [["wecom", DAVE, "dave", "email"]]


async def test_a_stranger_is_refused_and_not_looked_up_again_within_the_ttl(
    linking: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await linking.opened()
    theirs = wecom.share(card, STRANGER)

    await linking.press(STRANGER, theirs, f"v1:ack:{number}")

    [said] = wecom.texts_of(STRANGER)
    assert said.startswith(f"Your WeCom account (UserID {STRANGER}) is not linked")
    assert (await linking.incident(number))["status"] == "triggered"
    assert theirs.updates == []
    assert await links(linking) == []
    asked = len(wecom.lookups())
    assert sorted(looked_up(wecom)) == sorted(EVERY_LOOKUP)
    misses = wecom.lookup_misses

    # Pressing again, or writing, asks WeCom nothing more while the answers are kept.
    for key in (f"v1:ack:{number}", f"v1:close:{number}"):
        linking.clock.advance(minutes=10)
        await linking.press(STRANGER, theirs, key)
    refused = await linking.say(STRANGER, f"ack {number}")
    assert refused.startswith(f"Your WeCom account (UserID {STRANGER}) is not linked")
    assert len(wecom.lookups()) == asked
    assert (await linking.incident(number))["status"] == "triggered"

    # Once they are stale, WeCom is asked again.
    linking.clock.advance(seconds=MISS_TTL.total_seconds())
    await linking.press(STRANGER, theirs, f"v1:ack:{number}")
    assert len(wecom.lookups()) > asked
    assert wecom.lookup_misses > misses
    assert (await linking.incident(number))["status"] == "triggered"


async def test_throttled_lookups_refuse_now_and_wait_before_asking_again(
    linking: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await linking.opened()
    carols = wecom.share(card, CAROL)
    wecom.fail_next(errcode=CODE_FREQUENCY)

    await linking.press(CAROL, carols, f"v1:ack:{number}")

    [said] = wecom.texts_of(CAROL)
    assert "is not linked" in said
    assert (await linking.incident(number))["status"] == "triggered"
    assert await links(linking) == []
    asked = len(wecom.lookups())
    linking.clock.advance(seconds=30)  # WeCom asked for a minute's pause
    await linking.press(CAROL, carols, f"v1:ack:{number}")
    assert len(wecom.lookups()) == asked
    linking.clock.advance(seconds=31)
    await linking.press(CAROL, carols, f"v1:ack:{number}")
    assert (await linking.incident(number))["acked_by"] == "carol"


async def test_two_members_with_one_mobile_are_neither_linked(
    wecom: FakeWecom, aiohttp_client: Any, tmp_path: Path
) -> None:
    wecom.add_member(CAROL, mobile="13800000003")
    doc = settings_doc()
    members = doc["members"]
    members["alice"]["identities"].append({"platform": "wecom", "user_id": ALICE})
    members["carol"] = {"phone": "+8613800000003"}
    members["caroline"] = {"phone": "138 0000 0003"}
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        wecom=wecom_section(wecom),
        members=members,
        services=doc["services"],
    )
    async with aiohttp.ClientSession() as session:
        gateway = await start_gateway(aiohttp_client, wecom, session, settings)
        number, _card = await gateway.opened()
        refused = await gateway.say(CAROL, f"ack {number}")
        assert refused.startswith(f"Your WeCom account (UserID {CAROL}) is not linked")
        assert (await gateway.incident(number))["status"] == "triggered"
        assert await links(gateway) == []
        # One question for the one number both members have.
        asked = [c.body for c in wecom.lookups() if "mobile" in c.body]
        assert asked == [{"mobile": "13800000003"}]


@pytest.mark.parametrize(
    ("written", "held"),
    [
        ("+86 138 0013 8000", "13800138000"),
        ("+86-138-0013-8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("13800138000", "13800138000"),
        ("(138) 0013 8000", "13800138000"),
        ("+1 (555) 010-0001", "+15550100001"),
        ("+852 6123 4567", "+85261234567"),
        ("5550100001", None),  # a national number of somewhere else: not guessed at
        ("+86 138 0013 800", None),  # a digit short
        ("0138 0013 8000", None),
        ("+12", None),
        ("call me", None),
    ],
)
def test_mobiles_are_written_as_the_directory_holds_them(written: str, held: str | None) -> None:
    assert directory_mobile(written) == held


def test_answers_are_believed_for_their_ttl() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    clock = [now]
    answers: Answers[str, str] = Answers(
        lambda: clock[0], hit_ttl=timedelta(hours=1), miss_ttl=timedelta(hours=2), size=2
    )
    answers.put("hit", "u1")
    answers.put("miss", None)
    found, missed = answers.get("hit"), answers.get("miss")
    assert found is not None
    assert found.value == "u1"
    assert missed is not None
    assert missed.value is None
    clock[0] = now + timedelta(hours=1)
    assert answers.get("hit") is None
    assert answers.get("miss") is not None
    answers.put("a", "x")
    answers.put("b", "y")  # the oldest ("miss") goes past size
    assert answers.get("miss") is None
