"""What must not act: forged or stale requests, other workspaces, people nobody linked."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from tests.adapters.slack.conftest import CHANNEL, SlackGateway, signed
from tests.fakes.slack import FakeSlack


async def test_a_forged_signature_is_refused_and_changes_nothing(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    r = await gateway.interact(gateway.click_payload("ack", number), secret="not-the-secret")
    assert r.status == 401
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_tampered_body_is_refused(gateway: SlackGateway, slack: FakeSlack) -> None:
    number = await gateway.ingest()
    body = urlencode({"payload": json.dumps(gateway.click_payload("ack", number))})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    tampered = body.replace("UALICE", "UBOB")
    r = await gateway.client.post("/hooks/slack", data=tampered.encode(), headers=headers)
    assert r.status == 401
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_six_minute_old_request_is_refused(gateway: SlackGateway, slack: FakeSlack) -> None:
    number = await gateway.ingest()
    stale = int(time.time()) - 6 * 60
    r = await gateway.interact(gateway.click_payload("ack", number), timestamp=stale)
    assert r.status == 401
    r = await gateway.command(f"ack {number}")  # the same request, fresh, works
    assert r.status == 200
    assert (await gateway.incident(number))["status"] == "acknowledged"


async def test_another_workspace_is_refused(gateway: SlackGateway, slack: FakeSlack) -> None:
    number = await gateway.ingest()
    await gateway.card()
    r = await gateway.click("ack", number, team="T2")
    assert r.status == 200
    [told] = slack.called("chat.postEphemeral")
    assert "not connected" in told.args["text"]
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_an_unlinked_stranger_is_told_and_nothing_changes(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.card()
    r = await gateway.click("ack", number, user="UNOBODY")
    assert r.status == 200
    [looked_up] = slack.called("users.info")
    assert looked_up.args["user"] == "UNOBODY"
    [told] = slack.called("chat.postEphemeral")
    assert (told.args["channel"], told.args["user"]) == (CHANNEL, "UNOBODY")
    assert "Your Slack account is not linked" in told.args["text"]
    assert (await gateway.incident(number))["status"] == "triggered"

    # Nor can they open a modal.
    assert (await gateway.click("comment", number, user="UNOBODY")).status == 200
    assert slack.views == []
    assert len(slack.called("chat.postEphemeral")) == 2


async def test_a_slack_email_matching_a_member_links_the_account_and_acts(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.card()
    r = await gateway.click("ack", number, user="UBOB")
    assert r.status == 200
    doc = await gateway.incident(number)
    assert doc["acked_by"] == "bob"
    assert not slack.called("chat.postEphemeral")

    # Linked for good: the next action does not ask Slack again.
    assert (await gateway.click("close", number, user="UBOB")).status == 200
    assert len(slack.called("users.info")) == 1
    assert (await gateway.incident(number))["closed_by"] == "bob"


async def test_an_unconfirmed_email_does_not_link(gateway: SlackGateway, slack: FakeSlack) -> None:
    slack.add_user("UBOB", "bob@example.com", email_confirmed=False)
    number = await gateway.ingest()
    await gateway.card()
    assert (await gateway.click("ack", number, user="UBOB")).status == 200
    assert (await gateway.incident(number))["status"] == "triggered"
    [told] = slack.called("chat.postEphemeral")
    assert "not linked" in told.args["text"]


async def test_an_out_of_date_button_is_answered(gateway: SlackGateway, slack: FakeSlack) -> None:
    number = await gateway.ingest()
    await gateway.card()
    r = await gateway.click("ack", number, value="v0:ack:1")
    assert r.status == 200
    [told] = slack.called("chat.postEphemeral")
    assert "no longer valid" in told.args["text"]
    assert (await gateway.incident(number))["status"] == "triggered"
