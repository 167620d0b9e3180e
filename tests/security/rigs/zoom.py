"""``POST /hooks/zoom``: a card button (``interactive_message_actions``), signed with
``x-zm-signature`` = ``v0=`` HMAC-SHA256 over ``v0:{timestamp}:{raw body}``."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from adapters.zoom.inbound import ZOOM
from tests.adapters.zoom.conftest import (
    ALICE,
    CHANNEL,
    SECRET_TOKEN,
    STRANGER,
    USER_IDS,
    ZoomGateway,
    gateway_settings,
    sign,
    start_gateway,
)
from tests.fakes.zoom import FakeZoom, Message
from tests.security.rigs import STALE_S, Case, Env, Req, Rig, Variant


class ZoomClick(Rig):
    """Acknowledge pressed on the card in the channel."""

    name = "zoom click"
    platform = "zoom"

    async def start(self, env: Env) -> None:
        fake = FakeZoom()
        fake.add_channel(CHANNEL)
        fake.add_user(ALICE, USER_IDS[ALICE], "Alice")
        fake.add_user(STRANGER, USER_IDS[STRANGER], "Mallory")
        fake.url = await env.serve(fake.app)
        self.settings = gateway_settings(env.tmp_path, fake)
        made = asynccontextmanager(start_gateway)(env.aiohttp_client, fake, self.settings)
        self.gateway: ZoomGateway = await env.stack.enter_async_context(made)
        self.client = self.gateway.client
        self.clock = self.gateway.clock
        self.fake = fake

    async def open(self) -> None:
        self.number, card = await self.gateway.opened()
        self.card: Message = card

    async def quiet(self) -> None:
        await self.app[ZOOM].quiet()

    def doc(self, number: int, *, user: str = ALICE, account: str | None = None) -> dict[str, Any]:
        doc = self.fake.click(user, self.card, f"v1:ack:{number}")
        if account is not None:
            doc["payload"]["accountId"] = account
        return doc

    def request(
        self,
        body: bytes,
        *,
        signed_body: bytes | None = None,
        timestamp: int | None = None,
        secret: str = SECRET_TOKEN,
    ) -> Req:
        ts = str(int(self.clock.now().timestamp()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-zm-request-timestamp": ts,
            "x-zm-signature": sign(body if signed_body is None else signed_body, ts, secret),
        }
        return Req("POST", "/hooks/zoom", headers, body)

    def act(self) -> Req:
        return self.request(self.encode(self.doc(self.number)))

    def forged(self) -> Case:
        body = self.encode(self.doc(self.number))
        return Case(
            (
                Variant(
                    "signed with another secret token", self.request(body, secret="x" * 24), 401
                ),
                Variant(
                    "a signature of zeros",
                    self.request(body).with_headers(x_zm_signature="v0=" + "0" * 64),
                    401,
                ),
            ),
            self.request(body),
        )

    def changed_body(self) -> Case:
        meant = self.encode(self.doc(self.number, user=STRANGER))
        sent = self.encode(self.doc(self.number))
        return Case(
            (
                Variant(
                    "a stranger's click, re-addressed to alice",
                    self.request(sent, signed_body=meant),
                    401,
                ),
            ),
            self.request(sent),
        )

    def stale(self) -> Case:
        body = self.encode(self.doc(self.number))
        old = int(self.clock.now().timestamp()) - STALE_S
        return Case(
            (
                Variant("signed 6 minutes ago", self.request(body, timestamp=old), 401),
                Variant(
                    "signed 6 minutes ago, in ms", self.request(body, timestamp=old * 1000), 401
                ),
            ),
            self.request(body),
        )

    def wrong_app(self) -> Case:
        # Signed with our secret token, for another account: ignored (200, nothing done).
        other = self.encode(self.doc(self.number, account="another-zoom-account"))
        return Case(
            (Variant("for another account (accountId)", self.request(other), 200),),
            self.request(self.encode(self.doc(self.number))),
        )

    def missing_headers(self) -> Case:
        req = self.act()
        return Case(
            (
                Variant("no signature", req.without("x-zm-signature"), 401),
                Variant("no timestamp", req.without("x-zm-request-timestamp"), 401),
            ),
            req,
        )

    def template(self) -> Any:
        return self.doc(self.number)

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain)

    def forge(self, plain: bytes) -> Req:
        return self.request(plain, secret="not-the-secret-token")
