"""``/hooks/wecom``: the URL check, and every way a callback that is not WeCom's (or not new)
is refused or ignored without changing anything, never with a 500."""

from __future__ import annotations

from tests.adapters.wecom.conftest import ALICE, API, STRANGER, WecomGateway
from tests.fakes.wecom import FakeWecom, xml

OTHER_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # another app's EncodingAESKey


async def test_the_url_check_answers_the_decrypted_echostr(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    r = await gateway.client.get(f"/hooks/wecom?{wecom.url_check('1288432023552776189')}")
    assert r.status == 200
    assert await r.read() == b"1288432023552776189"  # bare: no quotes, no newline

    forged = wecom.url_check("1288432023552776189", token="not-our-token")
    r = await gateway.client.get(f"/hooks/wecom?{forged}")
    assert r.status == 401
    r = await gateway.client.get("/hooks/wecom?echostr=abc")
    assert r.status == 401


async def test_a_forged_signature_is_refused_and_changes_nothing(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    query, body = wecom.callback(wecom.click(ALICE, card, f"v1:ack:{number}"), token="guess")
    r = await gateway.post(query, body)
    assert r.status == 401
    query, body = wecom.callback(wecom.click(ALICE, card, f"v1:ack:{number}"))
    r = await gateway.post({k: v for k, v in query.items() if k != "msg_signature"}, body)
    assert r.status == 401
    await gateway.quiet()
    assert (await gateway.incident(number))["status"] == "triggered"
    assert wecom.called("/update_template_card") == []


async def test_a_body_signed_right_but_for_another_corp_or_key_is_refused(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    click = wecom.click(ALICE, card, f"v1:ack:{number}")
    r = await gateway.deliver_callback(click, receive_id="wwanothercorp000001")
    assert r.status == 401
    assert "another corp" in await r.text()
    r = await gateway.deliver_callback(click, aes_key=OTHER_KEY)
    assert r.status == 401
    await gateway.quiet()
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_replayed_click_acts_once(gateway: WecomGateway, wecom: FakeWecom) -> None:
    number, card = await gateway.opened()
    query, body = wecom.callback(wecom.click(ALICE, card, f"v1:close:{number}"))
    r = await gateway.post(query, body)
    assert r.status == 200
    await gateway.quiet()
    assert (await gateway.incident(number))["status"] == "closed"
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "reopen"}, headers=API
    )
    assert r.status == 200

    # WeCom resending it (or anyone replaying it) changes nothing: 200, and no effect.
    for _ in range(2):
        r = await gateway.post(query, body)
        assert r.status == 200
    await gateway.quiet()
    doc = await gateway.incident(number)
    assert doc["status"] == "triggered"
    assert [e["kind"] for e in doc["timeline"]].count("closed") == 1
    assert len(wecom.called("/update_template_card")) == 1


async def test_an_old_callback_is_a_replay(gateway: WecomGateway, wecom: FakeWecom) -> None:
    number, card = await gateway.opened()
    click = wecom.click(ALICE, card, f"v1:ack:{number}")
    stale = int(gateway.clock.now().timestamp()) - 10 * 60
    r = await gateway.deliver_callback(click, timestamp=stale)
    assert r.status == 401
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_xml_that_declares_entities_is_refused_before_anything(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'
    )
    query, _body = wecom.callback(b"<xml/>")
    r = await gateway.post(query, bomb)
    assert r.status == 400

    # Inside the envelope too: a DOCTYPE in the decrypted message is refused.
    inner = b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><A>&x;</A></xml>'
    r = await gateway.deliver_callback(inner)
    assert r.status == 400
    r = await gateway.post(query, b"not xml at all")
    assert r.status == 400


async def test_callbacks_for_another_agent_or_of_other_kinds_are_ignored(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    other = wecom.click(ALICE, card, f"v1:ack:{number}").replace(
        f"<AgentID>{wecom.agent_id}</AgentID>".encode(), b"<AgentID>42</AgentID>"
    )
    r = await gateway.deliver_callback(other)
    assert r.status == 200
    entered = xml(
        {"ToUserName": wecom.corp_id, "FromUserName": ALICE, "CreateTime": 1, "MsgType": "event",
         "Event": "enter_agent", "AgentID": wecom.agent_id}
    )  # fmt: skip
    r = await gateway.deliver_callback(entered)
    assert r.status == 200
    await gateway.quiet()
    assert (await gateway.incident(number))["status"] == "triggered"
    assert wecom.texts_of(ALICE) == []


async def test_an_unlinked_member_is_told_how_to_link_and_nothing_changes(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    await gateway.press(STRANGER, card, f"v1:ack:{number}")
    [said] = wecom.texts_of(STRANGER)
    assert said.startswith(f"Your WeCom account (UserID {STRANGER}) is not linked")
    assert (await gateway.incident(number))["status"] == "triggered"
    assert card.updates == []


async def test_a_button_that_is_not_ours_is_answered(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    await gateway.press(ALICE, card, "v9:launch:1")
    await gateway.press(ALICE, card, "v1:ack:999")
    assert wecom.texts_of(ALICE) == [
        "This button is no longer valid. Send help to me to act by command.",
        "Incident #999 does not exist",
    ]
    assert (await gateway.incident(number))["status"] == "triggered"
