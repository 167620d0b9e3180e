"""DingTalk fixtures: a fake DingTalk, and the real gateway wired to it, spoken to as DingTalk.

The app is ``create_app(..., workers=False)`` with the DingTalk routes added, and the outbox
is driven by hand (``deliver``) with a Dispatcher holding the real DingtalkSender, so no test
waits on a timer. In Stream mode the gateway opens its websocket to the fake, which pushes
frames and records the answers; in HTTP mode every request is signed here with DingTalk's
algorithm, written out again rather than taken from ``adapters.dingtalk.inbound``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.dingtalk.handlers import HANDLERS
from adapters.dingtalk.inbound import PATH, SETTINGS
from adapters.dingtalk.inbound import add_routes as add_dingtalk_routes
from adapters.dingtalk.sender import DingtalkSender
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.domain import JSONObject
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.fakes.dingtalk import CLIENT_ID, CLIENT_SECRET, ROBOT_CODE, Card, FakeDingtalk
from tests.support import fixture, make_settings, settings_doc

GROUP = "cidOnCallGroup0123=="
ALICE = "staff-alice"
BOB = "staff-bob"
STRANGER = "staff-stranger"
BOB_PHONE = "+8613800000002"
BOB_MOBILE = "13800000002"  # as DingTalk knows it: mainland numbers without +86
CHATBOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
WAIT_S = 10
DRAIN_MAX = 50  # outbox batches per drain: far more than any test needs


def sign(timestamp: str, secret: str = CLIENT_SECRET) -> str:
    """The ``sign`` header: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def dingtalk_section(fake: FakeDingtalk, **overrides: Any) -> dict[str, Any]:
    """A ``[dingtalk]`` section pointing at ``fake``."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "robot_code": ROBOT_CODE,
        "api_base_url": fake.url,
        **overrides,
    }


def gateway_settings(tmp_path: Path, fake: FakeDingtalk, **dingtalk: Any) -> Settings:
    """The test settings with DingTalk on: cards in GROUP, alice linked, bob by phone only."""
    doc = settings_doc()
    doc["services"]["default"]["notify"] = [{"kind": "dingtalk", "chat": GROUP}]
    doc["members"]["alice"]["identities"].append({"platform": "dingtalk", "user_id": ALICE})
    doc["members"]["bob"]["phone"] = BOB_PHONE
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        dingtalk=dingtalk_section(fake, **dingtalk),
        services=doc["services"],
        members=doc["members"],
    )


def shown(card_doc: JSONObject) -> str:
    """Everything a StandardCard says, zero-width spaces dropped."""
    return json.dumps(card_doc, ensure_ascii=False).replace("\u200b", "")


class DingtalkGateway:
    """The real app and an outbox drained by hand, with helpers that talk like DingTalk."""

    def __init__(
        self, client: TestClient[Any, Any], fake: FakeDingtalk, dispatcher: Dispatcher
    ) -> None:
        self.client = client
        self.fake = fake
        self.dispatcher = dispatcher
        self.clock: ManualClock = client.app[RUNTIME].clock
        self._ids = itertools.count(1)

    async def wait(self, predicate: Callable[[], bool]) -> None:
        """Until the fake has seen what ``predicate`` wants (10 s at most)."""
        async with asyncio.timeout(WAIT_S):
            await self.fake.wait_for(predicate)

    async def deliver(self) -> None:
        """Send every delivery that is due now, and those that sending makes due."""
        for _ in range(DRAIN_MAX):
            if not await self.dispatcher.run_once():
                return
        pytest.fail("the outbox did not run dry")

    async def ingest(self) -> int:
        """Post the Alertmanager fixture; the number of the incident it opened."""
        body = fixture("alertmanager", "firing.json")
        r = await self.client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        [number] = (await r.json())["opened"]
        return int(number)

    async def opened(self) -> tuple[int, Card]:
        """An incident opened and its card delivered to GROUP: its number and the card."""
        number = await self.ingest()
        await self.deliver()
        [card] = self.fake.cards_in(GROUP)
        return number, card

    async def incident(self, number: int) -> dict[str, Any]:
        """``GET /v1/incidents/{number}`` as alice's API token."""
        r = await self.client.get(f"/v1/incidents/{number}", headers=API)
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = (await r.json())["incident"]
        return doc

    async def quiet(self) -> None:
        """Until the gateway has answered every message it accepted."""
        await self.client.app[HANDLERS].quiet()

    # --- what DingTalk sends ------------------------------------------------------------

    def message(
        self,
        text: str,
        *,
        user: str = ALICE,
        group: bool = False,
        at: tuple[str, ...] = (),
        msg_id: str | None = None,
        webhook: str | None = None,
        msgtype: str = "text",
    ) -> JSONObject:
        """A chatbot message: ``user`` wrote ``text`` to the robot (in GROUP, @mentioning it)."""
        n = next(self._ids)
        now_ms = int(self.clock.now().timestamp() * 1000)
        at_users: list[JSONObject] = [{"dingtalkId": "$:LWCP_v1:$robot"}]
        at_users += [{"dingtalkId": f"$:LWCP_v1:${u}", "staffId": u} for u in at]
        return {
            "conversationId": GROUP if group else f"cidDirect{user}",
            "conversationType": "2" if group else "1",
            "senderStaffId": user,
            "senderId": f"$:LWCP_v1:${user}",
            "senderNick": user,
            "senderCorpId": self.fake.corp_id,
            "chatbotUserId": "$:LWCP_v1:$robot",
            "chatbotCorpId": self.fake.corp_id,
            "robotCode": ROBOT_CODE,
            "msgId": msg_id or f"msgid-{n}",
            "msgtype": msgtype,
            "text": {"content": text},
            "atUsers": at_users if group else [],
            "isInAtList": group,
            "isAdmin": False,
            "createAt": now_ms,
            "sessionWebhook": webhook or self.fake.session_webhook(f"s{n}"),
            "sessionWebhookExpiredTime": now_ms + 3_600_000,
        }

    def click(
        self, verb: str, number: int, *, user: str = ALICE, card: Card | None = None
    ) -> JSONObject:
        """A card click: ``user`` pressed the ``verb`` button of incident ``number``'s card."""
        private = {"actionIds": [f"v1:{verb}:{number}"], "params": {}}
        return {
            "corpId": self.fake.corp_id,
            "userId": user,
            "userIdType": 1,
            "outTrackId": card.biz_id if card else "ackgate-unknown",
            "spaceType": "IM_GROUP",
            "spaceId": GROUP,
            "type": "actionCallback",
            "content": json.dumps({"cardPrivateData": private}),
            "extension": "{}",
        }

    # --- Stream mode ----------------------------------------------------------------------

    async def connected(self) -> None:
        """Until the gateway's Stream websocket is open."""
        await self.wait(lambda: self.fake.connected)

    async def callback(self, topic: str, data: JSONObject) -> JSONObject:
        """Push a CALLBACK frame; the gateway's answer frame."""
        await self.connected()
        frame = self.fake.frame("CALLBACK", topic, json.dumps(data, ensure_ascii=False))
        message_id = await self.fake.push(frame)
        async with asyncio.timeout(WAIT_S):
            return await self.fake.response(message_id)

    async def say(self, text: str, **kwargs: Any) -> str:
        """``user`` writes ``text`` to the robot over Stream; the reply it gets."""
        data = self.message(text, **kwargs)
        before = len(self.fake.texts)
        answer = await self.callback(CHATBOT_TOPIC, data)
        assert answer["code"] == 200, answer
        await self.wait(lambda: len(self.fake.texts) > before)
        return self.fake.texts[before].content

    async def press(self, verb: str, number: int, **kwargs: Any) -> JSONObject:
        """Press a button over Stream; the ``response`` the gateway answered the frame with."""
        answer = await self.callback(CARD_TOPIC, self.click(verb, number, **kwargs))
        assert answer["code"] == 200, answer
        response: JSONObject = json.loads(answer["data"])["response"]
        return response

    # --- HTTP mode ------------------------------------------------------------------------

    async def post(
        self,
        doc: JSONObject,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        secret: str = CLIENT_SECRET,
    ) -> ClientResponse:
        """POST ``doc`` to /hooks/dingtalk as DingTalk does: signed with ``secret``, at
        ``timestamp`` (ms; the clock's now by default)."""
        ts = str(int(self.clock.now().timestamp() * 1000) if timestamp is None else timestamp)
        headers = {"timestamp": ts, "sign": signature or sign(ts, secret)}
        return await self.client.post(PATH, json=doc, headers=headers)


def card_in_answer(response: JSONObject) -> JSONObject:
    """The StandardCard a click's answer puts in place of the clicked one."""
    full: str = response["cardData"]["cardParamMap"]["sys_full_json_obj"]
    doc: JSONObject = json.loads(full)
    return doc


def build_gateway(settings: Settings) -> Callable[[Any, FakeDingtalk], Any]:
    """A coroutine function making the DingtalkGateway for ``settings``."""

    async def make(aiohttp_client: Any, fake: FakeDingtalk) -> AsyncIterator[DingtalkGateway]:
        app = create_app(settings, clock=ManualClock(NOW), workers=False)
        if SETTINGS not in app:
            assert settings.dingtalk is not None
            add_dingtalk_routes(app, settings.dingtalk)  # until the registry knows DingTalk
        client = await aiohttp_client(app)
        rt = app[RUNTIME]

        async def on_posted(conn: AsyncConnection, cards: Any, now: datetime) -> bool:
            return await catch_up(conn, rt.settings, cards, now)

        async with aiohttp.ClientSession() as session:
            assert settings.dingtalk is not None
            dispatcher = Dispatcher(
                rt.db,
                {"dingtalk": DingtalkSender(settings.dingtalk, session)},
                settings.outbox,
                rt.clock,
                rt.metrics,
                on_posted=on_posted,
            )
            yield DingtalkGateway(client, fake, dispatcher)

    return make


@pytest.fixture
async def dingtalk(aiohttp_server: Any) -> FakeDingtalk:
    """A fake DingTalk with GROUP, alice, bob (his mobile as configured) and a stranger."""
    fake = FakeDingtalk()
    fake.add_group(GROUP)
    fake.add_user(ALICE, "13800000001")
    fake.add_user(BOB, BOB_MOBILE)
    fake.add_user(STRANGER, "13900000009")
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def gateway(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[DingtalkGateway]:
    """The real app in Stream mode pointed at the fake.

    ``dingtalk`` comes first: the app stops before the fake does, as it would in life.
    """
    make = build_gateway(gateway_settings(tmp_path, dingtalk))
    async for made in make(aiohttp_client, dingtalk):
        yield made


@pytest.fixture
async def http_gateway(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[DingtalkGateway]:
    """The real app in HTTP mode (``POST /hooks/dingtalk``) pointed at the fake."""
    make = build_gateway(gateway_settings(tmp_path, dingtalk, mode="http"))
    async for made in make(aiohttp_client, dingtalk):
        yield made
