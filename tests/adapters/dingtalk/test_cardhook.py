"""``mode = "http"``: card clicks at ``POST /hooks/dingtalk/card``. At start the gateway
registers its callback route with DingTalk; each card names it; a click comes signed with the
route's apiSecret (``x-ddpaas-signature``), is acted on once, and is answered with the card."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from adapters.dingtalk.cardhook import PATH, api_secret
from gateway.config import DingtalkSettings
from gateway.errors import ConfigError
from tests.adapters.dingtalk.conftest import (
    ALICE,
    DingtalkGateway,
    build_gateway,
    card_in_answer,
    gateway_settings,
    shown,
)
from tests.fakes.dingtalk import CLIENT_ID, CLIENT_SECRET, Card, FakeDingtalk, ddpaas_sign

CALLBACK_URL = "https://oncall.example.com/hooks/dingtalk/card"
ROUTE = f"ackgate-{CLIENT_ID}"
MINUTE_MS = 60_000


@pytest.fixture
async def http_cards(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[DingtalkGateway]:
    """HTTP mode with ``card_callback_url``; returns once the route is registered."""
    settings = gateway_settings(tmp_path, dingtalk, mode="http", card_callback_url=CALLBACK_URL)
    make = build_gateway(settings)
    async for made in make(aiohttp_client, dingtalk):
        await made.wait(lambda: ROUTE in dingtalk.routes)
        yield made


def now_ms(gateway: DingtalkGateway) -> int:
    return int(gateway.clock.now().timestamp() * 1000)


async def click(
    gateway: DingtalkGateway,
    doc: dict[str, Any],
    card: Card,
    *,
    at_ms: int | None = None,
    headers: dict[str, str] | None = None,
) -> ClientResponse:
    """POST a click on ``card`` as DingTalk does: signed with the route's secret at ``at_ms``."""
    if headers is None:
        headers = gateway.fake.card_callback_headers(card, at_ms or now_ms(gateway))
    return await gateway.client.post(PATH, json=doc, headers=headers)


async def test_the_route_is_registered_and_every_card_names_it(
    http_cards: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    [registered] = dingtalk.called("/v1.0/card/callbacks/register")
    assert registered.body["callbackRouteKey"] == ROUTE
    assert registered.body["callbackUrl"] == CALLBACK_URL
    assert registered.body["forceUpdate"] is True
    assert registered.headers["x-acs-dingtalk-access-token"] in dingtalk.valid_tokens
    secret = dingtalk.routes[ROUTE].api_secret
    assert len(secret) >= 32
    assert CLIENT_SECRET not in secret

    _number, card = await http_cards.opened()
    assert (card.callback_url, card.route_key) == (CALLBACK_URL, ROUTE)
    assert all(c.route_key == ROUTE for c in dingtalk.cards.values())


async def test_a_signed_click_acts_answers_with_the_card_and_updates_every_copy(
    http_cards: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await http_cards.opened()

    r = await click(http_cards, http_cards.click("ack", number, card=card), card)

    assert r.status == 200, await r.text()
    assert "Acknowledged by alice" in shown(card_in_answer(await r.json()))
    doc = await http_cards.incident(number)
    assert (doc["status"], doc["acked_by"]) == ("acknowledged", "alice")
    await http_cards.deliver()
    assert "Acknowledged by alice" in card.text()  # the group's card, PUT by the outbox
    [dm] = dingtalk.cards_to(ALICE)
    assert "Acknowledged by alice" in dm.text()


async def test_a_click_sent_again_changes_nothing_twice(
    http_cards: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await http_cards.opened()
    body = http_cards.click("close", number, card=card)
    headers = dingtalk.card_callback_headers(card, now_ms(http_cards))

    answers = []
    for _ in range(2):
        r = await click(http_cards, body, card, headers=headers)
        assert r.status == 200, await r.text()
        answers.append(await r.json())

    assert answers[0] == answers[1]
    doc = await http_cards.incident(number)
    assert [e["kind"] for e in doc["timeline"]].count("closed") == 1

    # The same signature with another body is not DingTalk's.
    reopen = http_cards.click("reopen", number, card=card)
    r = await click(http_cards, reopen, card, headers=headers)
    assert r.status == 401
    assert (await http_cards.incident(number))["status"] == "closed"


@pytest.mark.parametrize(
    "how",
    ["forged", "app-secret", "unsigned", "six-minutes-old", "six-minutes-ahead", "not-a-time"],
)
async def test_a_click_not_signed_by_dingtalk_just_now_is_refused(
    http_cards: DingtalkGateway, dingtalk: FakeDingtalk, how: str
) -> None:
    number, card = await http_cards.opened()
    at = now_ms(http_cards)
    headers = dingtalk.card_callback_headers(card, at)
    if how == "forged":
        headers["x-ddpaas-signature"] = ddpaas_sign("someone else's secret", at)
    elif how == "app-secret":  # the app secret signs robot messages, not card clicks
        headers["x-ddpaas-signature"] = ddpaas_sign(CLIENT_SECRET, at)
    elif how == "unsigned":
        headers = {}
    elif how == "not-a-time":
        headers["x-ddpaas-signature-timestamp"] = "soon"
    else:
        shift = 6 * MINUTE_MS if how.endswith("ahead") else -6 * MINUTE_MS
        headers = dingtalk.card_callback_headers(card, at + shift)

    r = await click(http_cards, http_cards.click("ack", number, card=card), card, headers=headers)

    assert r.status == 401
    assert (await http_cards.incident(number))["status"] == "triggered"
    assert dingtalk.texts == []


async def test_a_signature_within_five_minutes_is_accepted(
    http_cards: DingtalkGateway,
) -> None:
    number, card = await http_cards.opened()
    at = now_ms(http_cards) - 5 * MINUTE_MS + 1_000
    r = await click(http_cards, http_cards.click("ack", number, card=card), card, at_ms=at)
    assert r.status == 200, await r.text()
    assert (await http_cards.incident(number))["status"] == "acknowledged"


async def test_a_signed_body_that_is_no_click_is_malformed(
    http_cards: DingtalkGateway,
) -> None:
    number, card = await http_cards.opened()
    for body in (b"not json", b"[]", json.dumps({"type": "other"}).encode()):
        headers = http_cards.fake.card_callback_headers(card, now_ms(http_cards))
        r = await http_cards.client.post(PATH, data=body, headers=headers)
        assert r.status == 400, body
        http_cards.clock.advance(seconds=1)
    assert (await http_cards.incident(number))["status"] == "triggered"


async def test_without_a_callback_url_cards_carry_none_and_the_gateway_says_so(
    dingtalk: FakeDingtalk,
    aiohttp_client: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.dingtalk.cardhook")
    make = build_gateway(gateway_settings(tmp_path, dingtalk, mode="http"))
    async for gateway in make(aiohttp_client, dingtalk):
        _number, card = await gateway.opened()
        assert (card.callback_url, card.route_key) == (None, None)
        assert dingtalk.called("/callbacks/register") == []
        assert "without dingtalk.card_callback_url" in caplog.text
        r = await gateway.client.post(PATH, json={})
        assert r.status == 401  # the route exists; nothing unsigned gets through it


async def test_a_refused_registration_is_reported_and_not_retried(
    dingtalk: FakeDingtalk,
    aiohttp_client: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="adapters.dingtalk.cardhook")
    dingtalk.fail_next(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", path="/register")
    settings = gateway_settings(tmp_path, dingtalk, mode="http", card_callback_url=CALLBACK_URL)
    make = build_gateway(settings)
    async for gateway in make(aiohttp_client, dingtalk):
        await gateway.wait(lambda: len(dingtalk.called("/callbacks/register")) == 1)
        await gateway.opened()  # time for a retry, were there one
        assert len(dingtalk.called("/callbacks/register")) == 1
        assert "Card.Instance.Write" in caplog.text
        assert dingtalk.routes == {}


def test_a_callback_url_outside_http_mode_is_a_config_error(
    dingtalk: FakeDingtalk, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="card_callback_url is for mode"):
        gateway_settings(tmp_path, dingtalk, card_callback_url=CALLBACK_URL)


def test_the_route_secret_is_the_same_on_every_replica_and_not_the_app_secret() -> None:
    def settings(secret: str) -> DingtalkSettings:
        return DingtalkSettings.model_validate(
            {"client_id": CLIENT_ID, "client_secret": secret, "robot_code": CLIENT_ID}
        )

    assert api_secret(settings(CLIENT_SECRET)) == api_secret(settings(CLIENT_SECRET))
    assert api_secret(settings(CLIENT_SECRET)) != api_secret(settings("another-secret-0123"))
    assert CLIENT_SECRET not in api_secret(settings(CLIENT_SECRET))
