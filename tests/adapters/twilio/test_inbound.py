"""Twilio calling the gateway, played by the fake with real signatures: SMS replies, keypad
presses and status callbacks, behind a public URL that differs from the one we listen on."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from adapters.twilio import SMS_PATH, SMS_STATUS_PATH, VOICE_PATH, VOICE_STATUS_PATH
from adapters.twilio.inbound import add_routes, parse_sms
from adapters.twilio.sender import TwilioVoice
from gateway import queries
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.domain import AlertAction, AlertBatch, AlertEvent, Incident, Severity, Status, Verb
from gateway.ingest.service import ingest
from gateway.outbox import Job
from gateway.runtime import Runtime
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from storage import repo, tables
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, PlacedCall
from tests.support import make_settings, settings_doc

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
PUBLIC = "https://oncall.example.com"  # what Twilio is told; the test client listens elsewhere
OUR_NUMBER = "+15005550006"
ALICE = "+15550100001"
BOB = "+15550100002"
STRANGER = "+15550199999"
TITLE = "Disk <full> on db-1"


@dataclass
class Rig:
    client: TestClient[Any, Any]
    twilio: FakeTwilio
    rt: Runtime

    async def text(self, body: str, from_: str = ALICE, **kwargs: Any) -> ClientResponse:
        """``from_`` texts ``body`` to our number."""
        params = self.twilio.incoming_sms(from_, OUR_NUMBER, body)
        return await self.twilio.call_back(self.client, PUBLIC + SMS_PATH, params, **kwargs)

    async def press(self, call: PlacedCall, digits: str, **kwargs: Any) -> ClientResponse:
        """The callee presses ``digits`` while ``call`` listens."""
        params = self.twilio.key_press(call, digits)
        return await self.twilio.call_back(self.client, call.gather_action, params, **kwargs)

    async def fire(self, key: str = "disk") -> int:
        event = AlertEvent(key, AlertAction.TRIGGER, TITLE, Severity.CRITICAL)
        return (await ingest(self.rt, "prometheus", AlertBatch(events=(event,)))).opened[0]

    async def incident(self, number: int) -> Incident:
        found = await queries.incident(self.rt, number)
        assert found is not None
        return found

    async def sent(self, number: int, channel: str, to: str = ALICE, **payload: Any) -> int:
        """Record a page to ``to`` as sent by ``channel``; its delivery id."""
        async with self.rt.db.write() as conn:
            await repo.add_deliveries(
                conn,
                [
                    {
                        "incident_id": number,
                        "channel": channel,
                        "destination": {"member": "alice", "to": to},
                        "payload": {"number": number, "text": f"Incident {number}", **payload},
                        "state": "sent",
                        "attempts": 1,
                        "due_at": NOW,
                        "created_at": NOW,
                        "sent_at": NOW,
                    }
                ],
            )
        async with self.rt.db.read() as conn:
            newest = await repo.last_incident_sent_to(conn, channel, to)
        assert newest == number
        return await self._newest_delivery()

    async def _newest_delivery(self) -> int:
        async with self.rt.db.read() as conn:
            found = await conn.execute(sa.select(sa.func.max(tables.deliveries.c.id)))
            return int(found.scalar_one())

    async def call(self, number: int) -> PlacedCall:
        """Page alice by phone through the real sender, to the fake; the call it placed."""
        delivery = await self.sent(number, "voice")
        settings = self.rt.settings
        assert settings.voice is not None
        assert settings.voice.twilio is not None
        sender = TwilioVoice(settings.voice.twilio, settings.server.base_url)
        payload = {"number": number, "text": f"Incident {number}: {TITLE}. Press 1 to ack."}
        try:
            await sender.send(Job(delivery, number, "voice", {"to": ALICE}, payload, 1))
        finally:
            await sender.close()
        return self.twilio.calls[-1]

    async def timeline(self, number: int, kind: str) -> list[dict[str, Any]]:
        entries = (await self.incident(number)).timeline
        return [dict(e.data) for e in entries if e.kind == kind]


def gateway_settings(tmp_path: Path, twilio: FakeTwilio) -> Settings:
    account = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": OUR_NUMBER,
        "api_base_url": twilio.url,
    }
    doc = settings_doc()
    doc["members"]["alice"]["phone"] = "+1 (555) 010-0001"  # written as people write it
    doc["members"]["bob"]["phone"] = BOB
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        server={**doc["server"], "public_url": PUBLIC + "/"},
        members=doc["members"],
        sms={"provider": "twilio", "twilio": account},
        voice={"provider": "twilio", "twilio": account},
    )


@pytest.fixture
async def rig(tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient) -> Rig:
    twilio = FakeTwilio()
    server = await aiohttp_server(twilio.app)
    twilio.url = str(server.make_url("/"))
    settings = gateway_settings(tmp_path, twilio)
    app = create_app(settings, clock=ManualClock(NOW), workers=False)
    if not any(r.canonical == SMS_PATH for r in app.router.resources()):
        add_routes(app, settings)  # until the registry wires Twilio in
    client = await aiohttp_client(app)
    return Rig(client, twilio, app[RUNTIME])


async def twiml(resp: ClientResponse) -> ET.Element:
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/xml"
    root = ET.fromstring(await resp.text())  # noqa: S314 - the gateway's own answer
    assert root.tag == "Response"
    return root


def texts(root: ET.Element, tag: str) -> list[str]:
    return [node.text or "" for node in root.iter(tag)]


# --- text messages --------------------------------------------------------------------------


async def test_ack_by_number_acts_as_the_member_whose_phone_sent_it(rig: Rig) -> None:
    n = await rig.fire()

    root = await twiml(await rig.text(f"  ACK {n} "))

    assert texts(root, "Message") == ["Acknowledged by alice"]
    incident = await rig.incident(n)
    assert (incident.status, incident.acked_by) == (Status.ACKNOWLEDGED, "alice")
    [entry] = [e for e in incident.timeline if e.kind == "acknowledged"]
    assert entry.source == "sms"


async def test_close_with_a_hash(rig: Rig) -> None:
    n = await rig.fire()
    root = await twiml(await rig.text(f"close #{n}", from_=BOB))
    assert texts(root, "Message") == ["Closed by bob"]
    assert (await rig.incident(n)).status is Status.CLOSED


async def test_a_acts_on_the_last_incident_texted_to_that_number(rig: Rig) -> None:
    first, second = await rig.fire("one"), await rig.fire("two")
    await rig.sent(first, "sms", to="+1 (555) 010-0001")
    await rig.sent(second, "sms", to="+1 (555) 010-0001")

    root = await twiml(await rig.text("a"))

    assert texts(root, "Message") == ["Acknowledged by alice"]
    assert (await rig.incident(second)).status is Status.ACKNOWLEDGED
    assert (await rig.incident(first)).status is Status.TRIGGERED
    root = await twiml(await rig.text("C"))
    assert texts(root, "Message") == ["Closed by alice"]
    assert (await rig.incident(second)).status is Status.CLOSED


async def test_a_with_nothing_sent_yet_asks_for_the_number(rig: Rig) -> None:
    await rig.fire()
    root = await twiml(await rig.text("a"))
    [reply] = texts(root, "Message")
    assert "like ACK 42" in reply


async def test_refusals_and_repeats_are_replied(rig: Rig) -> None:
    n = await rig.fire()
    await twiml(await rig.text(f"close {n}"))
    root = await twiml(await rig.text(f"ack {n}"))
    assert texts(root, "Message") == [f"#{n} is closed; reopen it first"]
    root = await twiml(await rig.text("ack 999"))
    assert texts(root, "Message") == ["Incident #999 does not exist"]


async def test_the_same_message_delivered_twice_acts_once(rig: Rig) -> None:
    n = await rig.fire()
    params = rig.twilio.incoming_sms(ALICE, OUR_NUMBER, f"ack {n}")
    url = PUBLIC + SMS_PATH
    first = await twiml(await rig.twilio.call_back(rig.client, url, params))
    again = await twiml(await rig.twilio.call_back(rig.client, url, params))
    assert texts(first, "Message") == texts(again, "Message") == ["Acknowledged by alice"]
    acks = [e for e in (await rig.incident(n)).timeline if e.kind == "acknowledged"]
    assert len(acks) == 1


async def test_help_and_gibberish_are_answered(rig: Rig) -> None:
    [help_text] = texts(await twiml(await rig.text("Help")), "Message")
    assert "ACK 42" in help_text
    [unknown] = texts(await twiml(await rig.text("please fix it")), "Message")
    assert unknown == 'I did not understand "please fix it". Reply HELP for the commands.'


async def test_a_stranger_gets_an_empty_answer_and_nothing_changes(rig: Rig) -> None:
    n = await rig.fire()
    root = await twiml(await rig.text(f"ack {n}", from_=STRANGER))
    assert list(root) == []
    assert (await rig.incident(n)).status is Status.TRIGGERED


@pytest.mark.parametrize(
    "forgery",
    [
        {"token": "someone-elses-token"},
        {"signature": ""},
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
    ],
)
async def test_forged_signatures_are_refused_and_change_nothing(
    rig: Rig, forgery: dict[str, str]
) -> None:
    n = await rig.fire()
    resp = await rig.text(f"ack {n}", **forgery)
    assert resp.status == 403
    assert (await rig.incident(n)).status is Status.TRIGGERED


async def test_a_signature_over_the_address_we_listen_on_is_refused(rig: Rig) -> None:
    """Twilio signs the public URL: one signed over the local address is not Twilio's."""
    n = await rig.fire()
    params = rig.twilio.incoming_sms(ALICE, OUR_NUMBER, f"ack {n}")
    local = str(rig.client.make_url(SMS_PATH))
    resp = await rig.twilio.call_back(rig.client, local, params)
    assert resp.status == 403
    assert (await rig.incident(n)).status is Status.TRIGGERED


async def test_a_changed_parameter_breaks_the_signature(rig: Rig) -> None:
    n = await rig.fire()
    params = rig.twilio.incoming_sms(STRANGER, OUR_NUMBER, f"ack {n}")
    signature = rig.twilio.sign(PUBLIC + SMS_PATH, params)
    params["From"] = ALICE
    resp = await rig.twilio.call_back(rig.client, PUBLIC + SMS_PATH, params, signature=signature)
    assert resp.status == 403
    assert (await rig.incident(n)).status is Status.TRIGGERED


async def test_a_signed_form_without_from_or_body_is_malformed(rig: Rig) -> None:
    params = {"MessageSid": "SM1", "AccountSid": ACCOUNT_SID, "To": OUR_NUMBER}
    resp = await rig.twilio.call_back(rig.client, PUBLIC + SMS_PATH, params)
    assert resp.status == 400


def test_sms_commands() -> None:
    assert parse_sms(" ACK  42 ") is not None
    assert parse_sms("ack 42") == parse_sms("Acknowledge #42")
    command = parse_sms("c")
    assert command is not None
    assert (command.verb, command.number) == (Verb.CLOSE, None)
    assert parse_sms("HELP") == parse_sms("")
    for nonsense in ("ack forty-two", "ack 4 2", "reopen 42", "acked"):
        assert parse_sms(nonsense) is None


# --- phone calls ----------------------------------------------------------------------------


async def test_pressing_1_acknowledges(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)
    assert call.gather_action.startswith(f"{PUBLIC}{VOICE_PATH}?n={n}&d=")

    root = await twiml(await rig.press(call, "1"))

    assert texts(root, "Say") == ["Acknowledged by alice", "Goodbye."]
    assert root.find("Hangup") is not None
    incident = await rig.incident(n)
    assert (incident.status, incident.acked_by) == (Status.ACKNOWLEDGED, "alice")
    [entry] = [e for e in incident.timeline if e.kind == "acknowledged"]
    assert entry.source == "voice"


async def test_pressing_2_escalates_to_the_next_level(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)

    root = await twiml(await rig.press(call, "2"))

    assert texts(root, "Say")[0] == "Escalated by alice to bob"
    assert (await rig.incident(n)).assignees == ("bob",)


async def test_pressing_3_reads_the_incident_again_and_listens(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)

    root = await twiml(await rig.press(call, "3"))

    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("action") == call.gather_action
    [script] = texts(gather, "Say")
    assert f"incident {n}" in script
    assert "Disk" in script
    assert "db-1" in script
    assert "Press 1 to acknowledge" in script
    assert (await rig.incident(n)).status is Status.TRIGGERED


async def test_another_key_offers_the_menu_again(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)
    root = await twiml(await rig.press(call, "9"))
    gather = root.find("Gather")
    assert gather is not None
    assert texts(gather, "Say") == [
        "9 is not an option. Press 1 to acknowledge, 2 to escalate, 3 to repeat."
    ]
    assert (await rig.incident(n)).status is Status.TRIGGERED


async def test_a_refused_key_is_read_out_and_the_menu_offered(rig: Rig) -> None:
    n = await rig.fire()
    await twiml(await rig.press(await rig.call(n), "2"))  # to bob, the last level
    call = await rig.call(n)
    root = await twiml(await rig.press(call, "2"))
    gather = root.find("Gather")
    assert gather is not None
    [said] = texts(gather, "Say")
    assert said.startswith(f"#{n} has no further escalation level")


async def test_a_forged_key_press_is_refused(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)
    resp = await rig.press(call, "1", token="someone-elses-token")
    assert resp.status == 403
    assert (await rig.incident(n)).status is Status.TRIGGERED


async def test_a_key_press_without_an_incident_is_malformed(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)
    params = rig.twilio.key_press(call, "1")
    resp = await rig.twilio.call_back(rig.client, PUBLIC + VOICE_PATH, params)
    assert resp.status == 400
    assert (await rig.incident(n)).status is Status.TRIGGERED


# --- status callbacks -----------------------------------------------------------------------


async def test_an_unanswered_call_was_not_reached(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)
    assert call.status_callback is not None

    root = await twiml(
        await rig.twilio.call_back(
            rig.client, call.status_callback, rig.twilio.call_status(call, "no-answer")
        )
    )

    assert list(root) == []
    [note] = await rig.timeline(n, "fallback")
    assert (note["failed"], note["error"], note["sent_by"]) == ("voice", "call no-answer", "sms")


async def test_a_completed_call_without_a_key_is_no_failure(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)
    assert call.status_callback is not None
    params = rig.twilio.call_status(call, "completed", duration=24)
    await twiml(await rig.twilio.call_back(rig.client, call.status_callback, params))
    assert await rig.timeline(n, "fallback") == []


async def test_an_undelivered_sms_was_not_reached(rig: Rig) -> None:
    n = await rig.fire()
    delivery = await rig.sent(n, "sms")
    url = f"{PUBLIC}{SMS_STATUS_PATH}?d={delivery}"
    message = rig.twilio.incoming_sms(OUR_NUMBER, ALICE, "")  # only for its sid and numbers
    params = {
        "MessageSid": message["MessageSid"],
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "To": ALICE,
        "From": OUR_NUMBER,
        "AccountSid": ACCOUNT_SID,
    }
    await twiml(await rig.twilio.call_back(rig.client, url, params))
    [note] = await rig.timeline(n, "fallback")
    assert (note["failed"], note["error"]) == ("sms", "sms undelivered (30003)")


async def test_a_delivered_sms_changes_nothing(rig: Rig) -> None:
    n = await rig.fire()
    delivery = await rig.sent(n, "sms")
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    url = f"{PUBLIC}{SMS_STATUS_PATH}?d={delivery}"
    await twiml(await rig.twilio.call_back(rig.client, url, params))
    assert await rig.timeline(n, "fallback") == []


async def test_status_callbacks_need_a_signature_and_a_delivery(rig: Rig) -> None:
    n = await rig.fire()
    call = await rig.call(n)
    assert call.status_callback is not None
    params = rig.twilio.call_status(call, "busy")
    forged = await rig.twilio.call_back(rig.client, call.status_callback, params, token="x" * 12)
    assert forged.status == 403
    no_delivery = await rig.twilio.call_back(rig.client, PUBLIC + VOICE_STATUS_PATH, params)
    assert no_delivery.status == 400
    assert await rig.timeline(n, "fallback") == []


async def test_send_test_texts_and_calls_a_member(rig: Rig) -> None:
    from gateway.sendtest import send_test  # noqa: PLC0415

    settings = rig.rt.settings
    line = await send_test(settings, "sms:alice")
    assert line.startswith("OK sms:alice (sms) in ")
    assert "test notice" in rig.twilio.messages[-1].body
    line = await send_test(settings, "voice:alice")
    assert line.startswith("OK voice:alice (voice) in ")
    assert rig.twilio.calls
    rig.twilio.fail_next(400, 21211, "The 'To' number is not a valid phone number.")
    line = await send_test(settings, "sms:alice")
    assert line == "FAILED sms:alice (sms): Rejected: The 'To' number is not a valid phone number."
    with pytest.raises(ValueError, match="no member named 'zed'"):
        await send_test(settings, "sms:zed")
