"""Self-service linking: an unlinked Telegram user asks the bot for a code in a private chat,
then enters it on an incident page opened through their own signed link."""

from __future__ import annotations

import re
from datetime import timedelta

from gateway.links import LinkSigner
from tests.adapters.telegram.conftest import GROUP, STRANGER, TelegramGateway
from tests.fakes.telegram import FakeTelegram
from tests.support import BASE

CODE = re.compile(r"<code>([A-Z0-9]{8})</code>")


def bob_link(gateway: TelegramGateway, number: int) -> str:
    signer = LinkSigner(BASE["server"]["secret_key"])
    url = signer.url("", "bob", number, gateway.clock.now(), timedelta(hours=1))
    return url.split("?t=", 1)[1]


async def test_a_code_from_the_bot_links_the_account_on_the_page(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, _card = await gateway.opened()
    await gateway.say(STRANGER, STRANGER, f"/ack {number}")
    assert "not linked" in gateway.replies(STRANGER)[-1]
    await gateway.say(STRANGER, STRANGER, "/link")
    given = telegram.posts(STRANGER)[-1].text
    match = CODE.search(given)
    assert match is not None, given
    code = match.group(1)

    # In a group the bot never hands out a code: anyone there could use it.
    await gateway.say(STRANGER, GROUP, "/link")
    assert CODE.search(telegram.posts(GROUP)[-1].text) is None

    token = bob_link(gateway, number)
    form = {"t": token, "verb": "link", "code": code.lower()}
    r = await gateway.client.post(f"/incidents/{number}/actions", data=form, allow_redirects=False)
    assert r.status == 303
    page = await gateway.client.get(r.headers["Location"])
    assert "Your telegram account is now linked to bob." in await page.text()

    # The code worked once.
    r = await gateway.client.post(f"/incidents/{number}/actions", data=form)
    assert "That code is not valid" in await r.text()

    await gateway.say(STRANGER, STRANGER, f"/ack {number}")
    assert (await gateway.incident(number))["acked_by"] == "bob"


async def test_a_wrong_code_links_nothing(gateway: TelegramGateway) -> None:
    number, _card = await gateway.opened()
    form = {"t": bob_link(gateway, number), "verb": "link", "code": "ZZZZZZZZ"}
    r = await gateway.client.post(f"/incidents/{number}/actions", data=form)
    assert "That code is not valid" in await r.text()
    await gateway.say(STRANGER, STRANGER, f"/ack {number}")
    assert (await gateway.incident(number))["status"] == "triggered"
