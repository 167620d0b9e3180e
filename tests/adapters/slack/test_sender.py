"""SlackSender against the fake Web API: what it posts, and how Slack's failures map."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.retry_after import retry_after_s
from adapters.slack.sender import SlackSender, thread_reply
from gateway.config import SlackSettings
from gateway.domain import Incident, Severity, Status
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from gateway.wire import card_json
from tests.adapters.slack.conftest import ALICE_DM, CHANNEL, TOKEN, slack_settings, text_of
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
INCIDENT = Incident(
    number=7,
    title="Disk full on db-1",
    description="",
    severity=Severity.CRITICAL,
    status=Status.TRIGGERED,
    service="default",
    integration="prometheus",
    created_at=NOW,
    updated_at=NOW,
    assignees=("alice",),
)
ACK_ENTRY = {"at": "2026-03-01T10:02:00Z", "kind": "acknowledged", "actor": "alice",
             "source": "slack", "data": {}}  # fmt: skip


def job(destination: dict[str, Any], op: str = "post", **payload: Any) -> Job:
    doc = {
        "op": op,
        "incident": card_json(INCIDENT),
        "url": "https://ackgate.example.invalid/incidents/7",
        **payload,
    }
    return Job(
        delivery_id=1, incident_id=7, channel="slack", destination=destination, payload=doc,
        attempt=1,
    )  # fmt: skip


def sender(fake: FakeSlack, session: aiohttp.ClientSession, **overrides: Any) -> SlackSender:
    return SlackSender(SlackSettings.model_validate(slack_settings(fake, **overrides)), session)


async def test_posts_the_card_to_a_channel(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
    result = await sender(slack, http).send(job({"chat": CHANNEL, "ref": "x"}))

    [card] = slack.posts(CHANNEL)
    assert result == SendResult(message_ref=card.ts, chat_id=CHANNEL)
    assert "#7 Disk full on db-1" in card.text  # the notification fallback
    assert "#7 Disk full on db-1" in card.blocks[0]["text"]["text"]
    [call] = slack.called("chat.postMessage")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_dm_opens_the_conversation_and_returns_its_channel(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    result = await sender(slack, http).send(job({"dm": "UALICE", "member": "alice"}))

    assert [c.args["users"] for c in slack.called("conversations.open")] == ["UALICE"]
    [card] = slack.posts(ALICE_DM)
    assert result == SendResult(message_ref=card.ts, chat_id=ALICE_DM)


async def test_no_dm_when_the_workspace_turned_them_off(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    result = await sender(slack, http, dm_assignees=False).send(job({"dm": "UALICE"}))
    assert result == SendResult()
    assert slack.calls == []


async def test_an_update_rewrites_the_card_and_a_reply_goes_in_its_thread(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    posted = await sender(slack, http).send(job({"chat": CHANNEL}))
    acked = card_json(INCIDENT)
    acked.update(status="acknowledged", acked_by="alice", acked_at="2026-03-01T10:02:00Z")
    update = job(
        {"chat": CHANNEL, "message": posted.message_ref}, "update", incident=acked, entry=ACK_ENTRY
    )

    assert await sender(slack, http).send(update) == SendResult()

    [card] = slack.posts(CHANNEL)
    assert len(card.updates) == 1
    assert "Acknowledged by alice" in text_of(card.blocks)
    assert slack.replies(CHANNEL, card.ts) == []  # the reply is its own delivery
    reply = job({"chat": CHANNEL, "message": posted.message_ref}, "reply", entry=ACK_ENTRY)
    assert await sender(slack, http).send(reply) == SendResult()
    [line] = slack.replies(CHANNEL, card.ts)
    assert line.text == "Acknowledged by alice"
    assert len(card.updates) == 1


async def test_rate_limited_carries_retry_after(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    slack.fail_next(429, retry_after="7")
    with pytest.raises(RateLimited) as caught:
        await sender(slack, http).send(job({"chat": CHANNEL}))
    assert caught.value.retry_after_s == 7.0
    assert "429" in str(caught.value)


async def test_ratelimited_error_code_is_rate_limited_too(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    slack.fail_next(200, "ratelimited", retry_after="3")
    with pytest.raises(RateLimited) as caught:
        await sender(slack, http).send(job({"chat": CHANNEL}))
    assert caught.value.retry_after_s == 3.0


@pytest.mark.parametrize(
    ("destination", "code"),
    [({"chat": "CNOPE"}, "channel_not_found"), ({"chat": "CARCHIVED"}, "is_archived")],
)
async def test_a_bad_channel_is_rejected_for_good(
    slack: FakeSlack, http: aiohttp.ClientSession, destination: dict[str, Any], code: str
) -> None:
    slack.add_channel("CARCHIVED")
    slack.archived.add("CARCHIVED")
    with pytest.raises(Rejected) as caught:
        await sender(slack, http).send(job(destination))
    assert caught.value.code == code
    assert not caught.value.retryable


async def test_updating_an_unknown_message_is_rejected(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(Rejected) as caught:
        await sender(slack, http).send(job({"chat": CHANNEL, "message": "1.2"}, "update"))
    assert caught.value.code == "message_not_found"


async def test_a_wrong_token_is_auth_failed(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
    with pytest.raises(AuthFailed) as caught:
        await sender(slack, http, bot_token="xoxb-wrong-token").send(job({"chat": CHANNEL}))
    assert "invalid_auth" in str(caught.value)
    assert not caught.value.retryable


@pytest.mark.parametrize(
    "error", ["token_revoked", "account_inactive", "not_authed", "missing_scope"]
)
async def test_revoked_tokens_are_auth_failed(
    slack: FakeSlack, http: aiohttp.ClientSession, error: str
) -> None:
    slack.fail_next(200, error)
    with pytest.raises(AuthFailed):
        await sender(slack, http).send(job({"chat": CHANNEL}))


async def test_a_server_error_is_unavailable(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
    slack.fail_next(500)
    with pytest.raises(Unavailable) as caught:
        await sender(slack, http).send(job({"chat": CHANNEL}))
    assert caught.value.retryable
    assert "500" in str(caught.value)


@pytest.mark.parametrize("error", ["internal_error", "fatal_error", "service_unavailable"])
async def test_slack_side_trouble_is_worth_a_retry(
    slack: FakeSlack, http: aiohttp.ClientSession, error: str
) -> None:
    slack.fail_next(200, error)
    with pytest.raises(Unavailable):
        await sender(slack, http).send(job({"chat": CHANNEL}))


@pytest.mark.parametrize("error", ["not_in_channel", "msg_too_long", "invalid_blocks"])
async def test_other_refusals_are_rejected_with_their_code(
    slack: FakeSlack, http: aiohttp.ClientSession, error: str
) -> None:
    slack.fail_next(200, error)
    with pytest.raises(Rejected) as caught:
        await sender(slack, http).send(job({"chat": CHANNEL}))
    assert caught.value.code == error


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 30.0), ("", 30.0), ("12", 12.0), ("-3", 0.0), ("soon", 30.0),
     ("Sun, 01 Mar 2026 10:00:45 GMT", 45.0)],
)  # fmt: skip
def test_retry_after(header: str | None, seconds: float) -> None:
    assert retry_after_s(header, now=NOW) == seconds


async def test_a_failed_thread_reply_is_unavailable_so_it_is_retried(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    posted = await sender(slack, http).send(job({"chat": CHANNEL}))
    reply = job({"chat": CHANNEL, "message": posted.message_ref}, "reply", entry=ACK_ENTRY)
    slack.fail_next(503, method="chat.postMessage")
    with pytest.raises(Unavailable):
        await sender(slack, http).send(reply)


async def test_an_unreachable_slack_is_unavailable(http: aiohttp.ClientSession) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    fake = FakeSlack(TOKEN)
    fake.url = f"http://127.0.0.1:{port}/api/"
    with pytest.raises(Unavailable):
        await sender(fake, http).send(job({"chat": CHANNEL}))


async def test_an_unknown_op_is_rejected(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
    with pytest.raises(Rejected) as caught:
        await sender(slack, http).send(job({"chat": CHANNEL}, "delete"))
    assert caught.value.code == "bad_op"


@pytest.mark.parametrize(
    ("kind", "actor", "data", "expected"),
    [
        ("triggered", None, {}, None),
        ("acknowledged", "alice", {}, "Acknowledged by alice"),
        ("closed", "bob", {}, "Closed by bob"),
        ("closed", None, {"reason": "resolved"}, "Closed: all alerts resolved"),
        ("reopened", "alice", {}, "Reopened by alice"),
        ("escalated", "alice", {"assignees": ["bob"]}, "Escalated by alice to bob"),
        ("escalated", None, {"assignees": ["bob"], "step": 1}, "Escalated to bob"),
        ("commented", "bob", {"text": "rolled\nback <!channel>"},
         "bob commented: rolled back &lt;!channel&gt;"),
        ("snoozed", "alice", {"minutes": 30.0, "until": "2026-03-01T10:32:00+00:00"},
         "Snoozed by alice until 2026-03-01 10:32 UTC"),
        ("snooze_expired", None, {"assignees": ["alice"]}, "Snooze ended; paging alice"),
        ("escalation_exhausted", None, {},
         "No more escalation levels: nobody else will be paged"),
        ("severity_changed", "bob", {"from": "warning", "to": "critical"},
         "Severity set to critical by bob"),
        ("something_new", None, {}, "Something new (prometheus)"),
    ],
)  # fmt: skip
def test_thread_reply_wording(
    kind: str, actor: str | None, data: dict[str, Any], expected: str | None
) -> None:
    entry = {"at": "2026-03-01T10:00:00Z", "kind": kind, "actor": actor,
             "source": "prometheus", "data": data}  # fmt: skip
    assert thread_reply(entry) == expected
