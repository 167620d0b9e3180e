"""WecomSender and its API client against the fake: what they send, the update rule, how the
access token is kept, and how WeCom's errcodes map to the outbox's errors."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.wecom.api import WecomApi
from adapters.wecom.codes import CODE_TTL_S, ResponseCodes
from adapters.wecom.sender import WecomSender, fit_bytes, nonce, reply_line
from gateway.config import WecomSettings
from gateway.domain import Incident, Severity, Status
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from gateway.wire import card_json
from tests.adapters.wecom.conftest import ALICE, BOB, wecom_section
from tests.fakes.wecom import (
    CODE_FREQUENCY,
    CODE_UNTRUSTED_IP,
    FakeWecom,
)

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
EVENT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def job(
    destination: dict[str, Any],
    op: str = "post",
    delivery: int = 1,
    incident: Incident = INCIDENT,
    **payload: Any,
) -> Job:
    doc = {
        "op": op,
        "event_id": EVENT,
        "incident": card_json(incident),
        "url": "https://ackgate.example.invalid/incidents/7?t=signed",
        **payload,
    }
    return Job(delivery_id=delivery, incident_id=7, channel="wecom", destination=destination,
               payload=doc, attempt=1)  # fmt: skip


def settings(fake: FakeWecom, **overrides: Any) -> WecomSettings:
    return WecomSettings.model_validate(wecom_section(fake, **overrides))


@pytest.fixture
async def wecom(aiohttp_server: Any) -> FakeWecom:
    fake = FakeWecom()
    fake.add_member(ALICE, mobile="13800000001", email="Alice@Example.com")
    fake.add_member(BOB)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


def sender(fake: FakeWecom, http: aiohttp.ClientSession, **overrides: Any) -> WecomSender:
    return WecomSender(settings(fake, **overrides), http, codes=ResponseCodes())


async def test_posts_the_card_to_the_member(wecom: FakeWecom, http: aiohttp.ClientSession) -> None:
    result = await sender(wecom, http).send(job({"dm": ALICE, "member": "alice"}))

    [card] = wecom.cards_of(ALICE)
    assert result == SendResult(message_ref=card.task_id, chat_id=ALICE)
    assert card.task_id == f"ackgate-7-1-{EVENT[:12]}"
    assert card.now["main_title"] == {"title": "🔴 #7 Disk full on db-1", "desc": "Triggered"}
    assert card.now["card_action"] == {
        "type": 1,
        "url": "https://ackgate.example.invalid/incidents/7?t=signed",
    }
    [send] = wecom.called("/message/send")
    assert send.body["touser"] == ALICE
    assert send.body["msgtype"] == "template_card"
    assert "toparty" not in send.body
    [token_call] = wecom.called("/gettoken")
    assert token_call.query == {"corpid": wecom.corp_id, "corpsecret": wecom.secret}
    assert send.query == {"access_token": wecom.tokens[0]}


async def test_a_group_destination_is_refused_with_what_to_use_instead(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(Rejected, match='kind = "wecom_bot"') as refused:
        await sender(wecom, http).send(job({"chat": "wrSomeGroup", "ref": "x"}))
    assert not refused.value.retryable
    assert wecom.calls == []


async def test_dm_assignees_off_sends_nothing(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    result = await sender(wecom, http, dm_assignees=False).send(job({"dm": ALICE}))
    assert result == SendResult()
    assert wecom.calls == []


async def test_a_retry_of_a_delivered_post_finds_its_card(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    """The task id is the delivery's: a retry after a lost answer is the same card (42014)."""
    post = sender(wecom, http)
    first = await post.send(job({"dm": ALICE}, delivery=9))
    again = await post.send(job({"dm": ALICE}, delivery=9))
    assert first == again
    assert len(wecom.cards_of(ALICE)) == 1
    assert nonce(job({"dm": ALICE}, delivery=9)) == f"9-{EVENT[:12]}"


async def test_an_update_spends_the_send_code_once_then_leaves_the_card(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    wecom_sender = sender(wecom, http)
    posted = await wecom_sender.send(job({"dm": ALICE}))
    where = {"chat": posted.chat_id, "message": posted.message_ref}
    [card] = wecom.cards_of(ALICE)

    # The card shows this already: no code is spent on drawing it again.
    assert await wecom_sender.send(job(where, op="update")) == SendResult()
    assert card.updates == []

    acked = job(where, op="update", incident=_acked())
    assert await wecom_sender.send(acked) == SendResult()
    [update] = wecom.called("/update_template_card")
    assert update.body["userids"] == [ALICE]
    assert update.body["agentid"] == wecom.agent_id
    assert card.now["main_title"]["desc"].startswith("Acknowledged by alice")

    closed = job(where, op="update", incident=_closed())
    assert await wecom_sender.send(closed) == SendResult()  # done, though not drawn
    assert len(wecom.called("/update_template_card")) == 1


async def test_a_refused_update_is_not_retried_and_a_failed_one_keeps_its_code(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    codes = ResponseCodes()
    wecom_sender = WecomSender(settings(wecom), http, codes=codes)
    posted = await wecom_sender.send(job({"dm": ALICE}))
    where = {"chat": posted.chat_id, "message": posted.message_ref}
    task = str(posted.message_ref)

    wecom.fail_next(status=500)
    with pytest.raises(Unavailable):
        await wecom_sender.send(job(where, op="update", incident=_acked()))
    await wecom_sender.send(job(where, op="update", incident=_acked()))  # the kept code
    [card] = wecom.cards_of(ALICE)
    assert card.now["main_title"]["desc"].startswith("Acknowledged")

    codes.keep(task, "spent-or-forged")
    assert await wecom_sender.send(job(where, op="update", incident=_closed())) == SendResult()
    assert len(card.updates) == 1


async def test_a_reply_is_a_text_line_to_the_member(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    entry = {"at": "2026-03-01T10:02:00Z", "kind": "acknowledged", "actor": "bob",
             "source": "web", "data": {}}  # fmt: skip
    result = await sender(wecom, http).send(
        job({"chat": ALICE, "message": "ackgate-7-1"}, op="reply", entry=entry)
    )
    assert result == SendResult()
    assert wecom.texts_of(ALICE) == ["#7: 10:02 bob acknowledged (web)"]
    assert reply_line(7, {"kind": "triggered"}) is None


async def test_the_token_is_cached_and_replaced_when_wecom_expires_it(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    wecom_sender = sender(wecom, http)
    await wecom_sender.send(job({"dm": ALICE}, delivery=1))
    await wecom_sender.send(job({"dm": ALICE}, delivery=2))
    assert len(wecom.called("/gettoken")) == 1

    wecom.expire_tokens()  # 42001 once: a new token, the call repeated
    await wecom_sender.send(job({"dm": ALICE}, delivery=3))
    assert len(wecom.called("/gettoken")) == 2
    assert len(wecom.cards_of(ALICE)) == 3
    assert wecom.called("/message/send")[-1].query == {"access_token": wecom.tokens[-1]}


async def test_errcodes_map_to_the_outboxs_errors(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    wecom_sender = sender(wecom, http)
    wecom.fail_next(errcode=CODE_FREQUENCY)
    with pytest.raises(RateLimited) as limited:
        await wecom_sender.send(job({"dm": ALICE}, delivery=1))
    assert limited.value.retry_after_s == 60.0
    assert "hint:" not in str(limited.value)  # WeCom's boilerplate is dropped

    wecom.fail_next(errcode=CODE_UNTRUSTED_IP)
    with pytest.raises(AuthFailed, match="trusted IPs"):
        await wecom_sender.send(job({"dm": ALICE}, delivery=2))

    with pytest.raises(Rejected, match="visible range") as unknown:
        await wecom_sender.send(job({"dm": "nobody.here"}, delivery=3))
    assert unknown.value.code == "81013"

    wecom.fail_next(status=500)
    with pytest.raises(Unavailable):
        await wecom_sender.send(job({"dm": ALICE}, delivery=4))


async def test_wrong_credentials_are_not_retried(
    wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(AuthFailed, match=r"wecom\.secret"):
        await sender(wecom, http, secret="not-the-secret-1").send(job({"dm": ALICE}))
    with pytest.raises(AuthFailed, match=r"wecom\.corp_id"):
        await sender(wecom, http, corp_id="wwnotourcorp").send(job({"dm": ALICE}))


async def test_an_unreachable_wecom_is_unavailable_and_the_token_stays_out_of_it(
    http: aiohttp.ClientSession, wecom: FakeWecom
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = WecomApi(settings(wecom, api_base_url=f"http://127.0.0.1:{port}"), http)
    with pytest.raises(Unavailable) as down:
        await api.send_text(ALICE, "hello")
    assert wecom.secret not in str(down.value)
    assert "127.0.0.1" not in str(down.value)


async def test_user_lookups(wecom: FakeWecom, http: aiohttp.ClientSession) -> None:
    api = WecomApi(settings(wecom), http)
    assert await api.userid_by_mobile("13800000001") == ALICE
    assert await api.userid_by_email("alice@example.com", corporate=False) == ALICE
    # Her profile's email, not a corporate mailbox: nobody (WeCom's 46004), not an error.
    assert await api.userid_by_email("alice@example.com") is None
    assert [c.body for c in wecom.called("/get_userid_by_email")] == [
        {"email": "alice@example.com", "email_type": 2},
        {"email": "alice@example.com", "email_type": 1},
    ]
    assert await api.userid_by_mobile("13900000000") is None
    assert wecom.lookup_misses == 2
    wecom.fail_next(errcode=CODE_FREQUENCY)
    with pytest.raises(RateLimited):
        await api.userid_by_mobile("13800000001")
    wecom.fail_next(errcode=CODE_UNTRUSTED_IP)
    with pytest.raises(AuthFailed):
        await api.userid_by_email("alice@example.com")


def test_texts_are_cut_to_wecoms_bytes() -> None:
    assert fit_bytes("短", 2048) == "短"
    cut = fit_bytes("认领" * 1000, 2048)
    assert len(cut.encode()) <= 2048
    assert cut.endswith("…")


def test_codes_are_spent_newest_first_and_expire() -> None:
    now = [0.0]
    codes = ResponseCodes(clock=lambda: now[0], size=2)
    codes.keep("a", "old")
    now[0] = 10.0
    codes.keep("a", "new")
    assert codes.take("a") == "new"
    now[0] = CODE_TTL_S + 5.0  # "old" is past WeCom's 72 h (less our margin)
    assert codes.take("a") is None
    codes.keep("b", "x")
    codes.keep("c", "y")  # only two cards are remembered: "a" goes
    codes.keep("b", "z")
    assert codes.take("a") is None
    assert codes.take("b") == "z"
    assert codes.take("unknown") is None


def _acked() -> Incident:
    return _with(status=Status.ACKNOWLEDGED, acked_by="alice", acked_at=NOW)


def _closed() -> Incident:
    return _with(status=Status.CLOSED, closed_by="alice", closed_at=NOW)


def _with(**changes: Any) -> Incident:
    return replace(INCIDENT, **changes)
