"""The slash command, DMs and @mentions against the real app: one vocabulary, three doors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from gateway.links import LinkSigner
from tests.adapters.slack.conftest import ALICE_DM, CHANNEL, SlackGateway, text_of
from tests.fakes.slack import FakeSlack
from tests.support import BASE


async def test_slash_command_acts_and_answers_inline(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    card = await gateway.card()

    r = await gateway.command(f"ack {number}")
    assert r.status == 200
    assert (await r.json())["text"] == "Acknowledged by alice"
    assert (await gateway.incident(number))["status"] == "acknowledged"
    await gateway.wait(lambda: "Acknowledged by alice" in text_of(card.blocks))

    r = await gateway.command(f"snooze #{number} 1h30m")
    assert (await r.json())["text"].startswith("Snoozed by alice until")
    assert (await gateway.incident(number))["snoozed_until"] is not None

    r = await gateway.command(f"close {number} rolled back the deploy")
    assert (await r.json())["text"] == "Closed by alice"
    doc = await gateway.incident(number)
    assert doc["status"] == "closed"
    assert [e["kind"] for e in doc["timeline"][-2:]] == ["commented", "closed"]
    assert doc["timeline"][-2]["data"] == {"text": "rolled back the deploy"}


async def test_slash_command_mistakes_are_answered_with_usage(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()

    answers = {}
    for text in ("ack", "ack forty-two", "frobnicate 1", "", f"comment {number}", "ack 999"):
        r = await gateway.command(text)
        assert r.status == 200, text
        answers[text] = (await r.json())["text"]
    assert answers["ack"] == "Which incident? Give its number.\nUsage: `ack <number>`"
    assert "“forty-two” is not an incident number" in answers["ack forty-two"]
    assert "“frobnicate”" in answers["frobnicate 1"]
    assert "`/oncall …`" in answers["frobnicate 1"]  # the whole help follows
    assert "`snooze 42 30m`" in answers[""]
    assert "Usage: `comment <number> <text>`" in answers[f"comment {number}"]
    assert answers["ack 999"] == "Incident #999 does not exist"
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_questions_show_list_who_and_link(gateway: SlackGateway, slack: FakeSlack) -> None:
    number = await gateway.ingest()

    r = await gateway.command(f"show {number}")
    shown = await r.json()
    assert shown["blocks"][0]["type"] == "header"
    assert "?t=" in text_of(shown["blocks"])  # alice is linked: her link is signed

    r = await gateway.command("list")
    listed = (await r.json())["text"]
    assert listed.startswith("Open incidents (1):")
    assert f"#{number} 5xx ratio above 5% on checkout" in listed

    r = await gateway.command("who")
    assert (await r.json())["text"] == (
        f"On call now:\n• service default: alice\nAssigned to open incidents:\n• alice: #{number}"
    )

    r = await gateway.command("link")
    assert (await r.json())["text"] == "Your Slack account is linked to the member alice."
    r = await gateway.command("link", user="UBOB")
    assert "now linked to the member bob" in (await r.json())["text"]
    r = await gateway.command("link", user="UNOBODY")
    assert 'user_id = "UNOBODY"' in (await r.json())["text"]


async def test_a_direct_message_runs_the_command_once_despite_retries(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.wait(lambda: bool(slack.posts(ALICE_DM)))

    r = await gateway.dm(f"close {number}", event_id="Ev001")
    assert r.status == 200
    replies = [m for m in slack.posts(ALICE_DM) if m.text == "Closed by alice"]
    assert len(replies) == 1
    assert (await gateway.incident(number))["status"] == "closed"

    # The retry is not run again: no second answer in the DM (thread replies the outbox
    # posts under the cards meanwhile are not answers).
    answers = len(slack.posts(ALICE_DM))
    r = await gateway.dm(f"close {number}", event_id="Ev001", retry=1)
    assert r.status == 200
    assert len(slack.posts(ALICE_DM)) == answers

    r = await gateway.dm("close", event_id="Ev002")
    assert r.status == 200
    assert slack.posts(ALICE_DM)[-1].text.endswith("Usage: `close <number> [note]`")


async def test_the_bot_ignores_its_own_and_edited_messages(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.wait(lambda: bool(slack.posts(ALICE_DM)))
    posted = len(slack.called("chat.postMessage"))
    own = {
        "type": "message",
        "channel": ALICE_DM,
        "user": "UBOT",
        "bot_id": "BBOT",
        "text": f"ack {number}",
        "ts": "1.2",
        "channel_type": "im",
    }
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "channel": ALICE_DM,
        "channel_type": "im",
        "ts": "1.3",
    }
    for event_id, event in (("Ev010", own), ("Ev011", edited)):
        assert (await gateway.event(event, event_id=event_id)).status == 200
    assert len(slack.called("chat.postMessage")) == posted
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_an_app_mention_answers_the_sender_only(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.card()
    event = {
        "type": "app_mention",
        "channel": CHANNEL,
        "user": "UALICE",
        "text": f"<@UBOT> ack {number}",
        "ts": "1700000100.000100",
    }
    r = await gateway.event(event, event_id="Ev020")
    assert r.status == 200
    [told] = slack.called("chat.postEphemeral")
    assert told.args["channel"] == CHANNEL
    assert told.args["user"] == "UALICE"
    assert told.args["text"] == "Acknowledged by alice"
    assert (await gateway.incident(number))["acked_by"] == "alice"


async def test_an_unlinked_user_links_with_a_code_on_their_page(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    r = await gateway.command("link", user="UNOBODY")
    text = (await r.json())["text"]
    match = re.search(r"`([A-Z0-9]{8})`", text)
    assert match is not None, text
    signer = LinkSigner(BASE["server"]["secret_key"])
    now = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    token = signer.url("", "bob", number, now, timedelta(hours=1)).split("?t=", 1)[1]
    form = {"t": token, "verb": "link", "code": match.group(1)}
    page = await gateway.client.post(f"/incidents/{number}/actions", data=form)
    assert "Your slack account is now linked to bob." in await page.text()
    r = await gateway.command("link", user="UNOBODY")
    assert (await r.json())["text"] == "Your Slack account is linked to the member bob."
