"""``POST /hooks/dingtalk`` (``mode = "http"``): a card button, with DingTalk's ``timestamp``
(ms) and ``sign`` = base64 HMAC-SHA256 of ``"{timestamp}\\n{app secret}"``. The signature
covers the time and the secret, not the body."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from adapters.dingtalk.handlers import HANDLERS
from tests.adapters.dingtalk.conftest import (
    ALICE,
    GROUP,
    STRANGER,
    DingtalkGateway,
    build_gateway,
    gateway_settings,
    sign,
)
from tests.fakes.dingtalk import CLIENT_ID, Card, FakeDingtalk, ddpaas_sign
from tests.security.rigs import STALE_S, Case, Env, Req, Rig, Variant

JSON = {"Content-Type": "application/json"}
ROUTE = f"ackgate-{CLIENT_ID}"


class DingtalkClick(Rig):
    """Acknowledge pressed on the card in the group, called back over HTTP."""

    name = "dingtalk click"
    platform = "dingtalk"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "changed_body": "DingTalk's sign covers the timestamp and the app secret, not the body: "
        "a body changed in transit cannot be told (TLS protects it; the 5-minute window bounds "
        "how long captured headers work)",
        "wrong_app": "the sign is keyed by this app's secret: another app's request is the "
        "forged case, and the body names no app the sign covers",
    }

    async def start(self, env: Env) -> None:
        fake = FakeDingtalk()
        fake.add_group(GROUP)
        fake.add_user(ALICE, "13800000001")
        fake.add_user(STRANGER, "13900000009")
        fake.url = await env.serve(fake.app)
        self.settings = gateway_settings(env.tmp_path, fake, mode="http")
        make = asynccontextmanager(build_gateway(self.settings))
        self.gateway: DingtalkGateway = await env.stack.enter_async_context(
            make(env.aiohttp_client, fake)
        )
        self.client = self.gateway.client
        self.clock = self.gateway.clock
        self.ms = itertools.count()

    async def open(self) -> None:
        self.number, card = await self.gateway.opened()
        self.card: Card = card

    async def quiet(self) -> None:
        await self.app[HANDLERS].quiet()

    def doc(self, number: int) -> dict[str, Any]:
        return self.gateway.click("ack", number, card=self.card)

    def request(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        signature: str | None = None,
    ) -> Req:
        # A new millisecond for every request, as DingTalk's would be.
        now_ms = int(self.clock.now().timestamp() * 1000) - next(self.ms)
        ts = str(now_ms if timestamp is None else timestamp)
        given = signature or (sign(ts) if secret is None else sign(ts, secret))
        return Req("POST", "/hooks/dingtalk", {**JSON, "timestamp": ts, "sign": given}, body)

    def act(self) -> Req:
        return self.request(self.encode(self.doc(self.number)))

    def forged(self) -> Case:
        body = self.encode(self.doc(self.number))
        return Case(
            (
                Variant("signed with another secret", self.request(body, secret="x" * 28), 401),
                Variant(
                    "a made-up sign", self.request(body, signature="c2lnbmVkIGJ5IG5vYm9keQ=="), 401
                ),
            ),
            self.request(body),
        )

    def stale(self) -> Case:
        body = self.encode(self.doc(self.number))
        old = int(self.clock.now().timestamp() * 1000) - STALE_S * 1000
        return Case(
            (
                Variant("signed 6 minutes ago", self.request(body, timestamp=old), 401),
                Variant(
                    "signed 6 minutes ahead",
                    self.request(body, timestamp=old + 2 * STALE_S * 1000),
                    401,
                ),
            ),
            self.request(body),
        )

    def missing_headers(self) -> Case:
        req = self.act()
        return Case(
            (
                Variant("no sign", req.without("sign"), 401),
                Variant("no timestamp", req.without("timestamp"), 401),
            ),
            req,
        )

    def template(self) -> Any:
        return self.doc(self.number)

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain)

    def forge(self, plain: bytes) -> Req:
        return self.request(plain, secret="not-the-app-secret-0")


class DingtalkCardHook(DingtalkClick):
    """The same click posted to the card's callback route (``POST /hooks/dingtalk/card``),
    signed with the route's ``apiSecret`` (``x-ddpaas-signature`` over the timestamp)."""

    name = "dingtalk card route"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "wrong_app": "the route's apiSecret is this app's: another app's request is the forged "
        "case, and the body names no app the signature covers",
    }

    async def start(self, env: Env) -> None:
        fake = FakeDingtalk()
        fake.add_group(GROUP)
        fake.add_user(ALICE, "13800000001")
        fake.add_user(STRANGER, "13900000009")
        fake.url = await env.serve(fake.app)
        self.settings = gateway_settings(
            env.tmp_path, fake, mode="http", card_callback_url=f"{fake.url}/card-callback"
        )
        make = asynccontextmanager(build_gateway(self.settings))
        self.gateway = await env.stack.enter_async_context(make(env.aiohttp_client, fake))
        await self.gateway.wait(lambda: ROUTE in fake.routes)  # registered at start
        self.client = self.gateway.client
        self.clock = self.gateway.clock
        self.fake = fake
        self.ms = itertools.count()

    def request(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        signature: str | None = None,
    ) -> Req:
        now_ms = int(self.clock.now().timestamp() * 1000) - next(self.ms)
        ts = now_ms if timestamp is None else timestamp
        key = self.fake.routes[ROUTE].api_secret if secret is None else secret
        headers = {
            **JSON,
            "x-ddpaas-signature-timestamp": str(ts),
            "x-ddpaas-signature": signature or ddpaas_sign(key, ts),
        }
        return Req("POST", "/hooks/dingtalk/card", headers, body)

    def forged(self) -> Case:
        case = super().forged()
        assert self.settings.dingtalk is not None
        app_secret = self.settings.dingtalk.client_secret.get_secret_value()
        own = Variant(
            "signed with the app secret", self.request(case.control.body, secret=app_secret), 401
        )
        return Case((*case.variants, own), case.control)

    def changed_body(self) -> Case:
        # What DingTalk really sent (a stranger's click: refused, nothing changes), then its
        # headers with another body: a signature is taken with one body only.
        meant = self.request(
            self.encode(self.gateway.click("ack", self.number, user=STRANGER, card=self.card))
        )
        sent = self.encode(self.doc(self.number))
        reused = Req(meant.method, meant.path, meant.headers, sent)
        return Case(
            (Variant("its headers, with another body", reused, 401),),
            self.request(sent),
            setup=(meant,),
        )

    def missing_headers(self) -> Case:
        req = self.act()
        return Case(
            (
                Variant("no signature", req.without("x-ddpaas-signature"), 401),
                Variant("no timestamp", req.without("x-ddpaas-signature-timestamp"), 401),
            ),
            req,
        )
