"""``/hooks/zoom`` as a door: only what Zoom signed, lately and once, gets in; the endpoint
validation is answered; anything else is refused before it changes a thing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.adapters.zoom.conftest import (
    ALICE,
    CHANNEL,
    SECRET_TOKEN,
    USER_IDS,
    ZoomGateway,
    sign,
)
from tests.fakes.zoom import ACCOUNT_ID, FakeZoom

SIX_MINUTES_S = 6 * 60


async def unchanged(gateway: ZoomGateway, zoom: FakeZoom, number: int) -> None:
    """The incident is as it opened, and the bot said nothing."""
    doc = await gateway.incident(number)
    assert doc["status"] == "triggered"
    assert [e["kind"] for e in doc["timeline"]] == ["triggered"]
    assert zoom.answers(CHANNEL) == []
    assert await gateway.drain() == 0


async def test_url_validation_is_answered_with_the_hmac_of_the_plain_token(
    gateway: ZoomGateway,
) -> None:
    r = await gateway.post(FakeZoom.url_validation("qgg8vlvZRS6UYooatFL8Aw"))
    assert r.status == 200
    expected = hmac.new(SECRET_TOKEN.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256)
    assert await r.json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected.hexdigest(),
    }


async def test_an_unsigned_url_validation_is_refused(gateway: ZoomGateway) -> None:
    # Answering it would hand anyone an HMAC of any text, valid signatures included.
    body = json.dumps(FakeZoom.url_validation("v0:1772359200:{}")).encode()
    r = await gateway.client.post("/hooks/zoom", data=body)
    assert r.status == 401
    assert "encryptedToken" not in await r.text()


async def test_a_forged_signature_changes_nothing(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, card = await gateway.opened()
    doc = zoom.click(ALICE, card, f"v1:ack:{number}")
    r = await gateway.post(doc, secret="not-the-secret-token")
    assert r.status == 401
    r = await gateway.post(doc, signature="v0=" + "0" * 64)
    assert r.status == 401
    await unchanged(gateway, zoom, number)


async def test_a_request_without_signature_headers_is_refused(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    body = json.dumps(zoom.click(ALICE, card, f"v1:ack:{number}")).encode()
    r = await gateway.client.post("/hooks/zoom", data=body)
    assert r.status == 401
    ts = str(int(gateway.clock.now().timestamp()))
    r = await gateway.client.post(
        "/hooks/zoom", data=body, headers={"x-zm-signature": sign(body, ts)}
    )
    assert r.status == 401  # signed, but the timestamp it was signed with is not sent
    await unchanged(gateway, zoom, number)


async def test_a_six_minute_old_request_changes_nothing(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    now = int(gateway.clock.now().timestamp())
    doc = zoom.click(ALICE, card, f"v1:ack:{number}")
    r = await gateway.post(doc, timestamp=now - SIX_MINUTES_S)
    assert r.status == 401
    assert "5-minute" in (await r.json())["error"]
    r = await gateway.post(doc, timestamp=now + SIX_MINUTES_S)  # or from the future
    assert r.status == 401
    await unchanged(gateway, zoom, number)
    # Four minutes old is inside the window (in seconds or, as some send, milliseconds).
    r = await gateway.post(doc, timestamp=(now - 4 * 60) * 1000)
    assert r.status == 200
    assert (await gateway.incident(number))["status"] == "acknowledged"


async def test_a_replayed_event_runs_once(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, card = await gateway.opened()
    doc = zoom.click(ALICE, card, f"v1:ack:{number}")
    assert (await gateway.post(doc)).status == 200
    await gateway.drain()
    assert (await gateway.incident(number))["status"] == "acknowledged"
    # Freshly signed, as Zoom's retry would be: ignored, not answered "already acknowledged".
    gateway.clock.advance(seconds=30)
    assert (await gateway.post(doc)).status == 200
    assert zoom.answers(CHANNEL) == []
    timeline = (await gateway.incident(number))["timeline"]
    assert [e["kind"] for e in timeline] == ["triggered", "acknowledged"]
    assert await gateway.drain() == 0


async def test_a_replayed_command_runs_once(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, _card = await gateway.opened()
    doc = zoom.command(ALICE, ALICE, f"comment {number} looking into it")
    assert (await gateway.post(doc)).status == 200
    assert (await gateway.post(doc)).status == 200
    timeline = (await gateway.incident(number))["timeline"]
    assert [e["kind"] for e in timeline] == ["triggered", "commented"]
    assert len(zoom.answers(ALICE)) == 1


async def test_events_from_another_account_are_ignored(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    doc = zoom.click(ALICE, card, f"v1:ack:{number}")
    doc["payload"]["accountId"] = "someone-else"
    assert (await gateway.post(doc)).status == 200
    await unchanged(gateway, zoom, number)


async def test_other_events_are_acknowledged_and_ignored(gateway: ZoomGateway) -> None:
    r = await gateway.post({"event": "bot_installed", "payload": {"accountId": "x"}})
    assert r.status == 200
    assert await r.json() == {}


async def test_malformed_bodies_are_refused_with_400(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, card = await gateway.opened()
    ts = str(int(gateway.clock.now().timestamp()))
    for body in (b"not json", b"[1, 2]"):
        headers = {"x-zm-request-timestamp": ts, "x-zm-signature": sign(body, ts)}
        r = await gateway.client.post("/hooks/zoom", data=body, headers=headers)
        assert r.status == 400, body
    doc = zoom.click(ALICE, card, f"v1:ack:{number}")
    del doc["payload"]["userJid"]
    assert (await gateway.post(doc)).status == 400
    validation = FakeZoom.url_validation("")
    assert (await gateway.post(validation)).status == 400
    await unchanged(gateway, zoom, number)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["v1:ack:1", "v1:close:99999999999999999999", "ack 1", "list", ALICE])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
FIELDS = ["timestamp", "messageId", "cmd"]
PAYLOADS = st.fixed_dictionaries(
    {"accountId": st.just(ACCOUNT_ID), "userJid": st.sampled_from([ALICE, "x@xmpp.zoom.us"])},
    optional={
        **dict.fromkeys(FIELDS, VALUES),
        "toJid": st.sampled_from([ALICE, CHANNEL, "nowhere@xmpp.zoom.us"]),
        "userId": st.sampled_from([USER_IDS[ALICE], "nobody"]),
        "actionItem": st.fixed_dictionaries({"value": VALUES}),
        "plainToken": VALUES,
    },
)
EVENTS = st.sampled_from(
    ["interactive_message_actions", "bot_notification", "endpoint.url_validation", "other"]
)


async def test_signed_junk_is_answered_2xx_or_4xx_never_5xx(
    gateway: ZoomGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """~300 generated events, signed as Zoom would: understood or refused, never a 500."""
    examples: list[dict[str, Any]] = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(EVENTS, PAYLOADS)
    def collect(event: str, payload: dict[str, Any]) -> None:
        examples.append({"event": event, "payload": payload})

    collect()
    await gateway.opened()  # incident 1, for the generated "v1:ack:1" and "ack 1" to act on
    statuses: set[int] = set()
    for doc in examples:
        r = await gateway.post(doc)
        assert r.status in (200, 400), (doc, r.status, await r.text())
        statuses.add(r.status)
    assert statuses == {200, 400}  # both understood and refused bodies were generated
    # Nor did anything fail after the answer (the bot's own messages are sent then).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
