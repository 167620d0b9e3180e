"""``POST /hooks/lark``: a card button (``card.action.trigger``), encrypted with the encrypt key
and signed (SHA-256 of timestamp + nonce + key + body), with the verification token inside."""

from __future__ import annotations

import itertools
import json
from contextlib import asynccontextmanager
from typing import Any

from adapters.lark.inbound import LARK
from tests.adapters.lark.conftest import (
    ALICE,
    CHAT,
    ENCRYPT_KEY,
    STRANGER,
    LarkGateway,
    build_gateway,
    encrypt,
    gateway_settings,
    sign,
)
from tests.fakes.lark import FakeLark
from tests.security.rigs import STALE_S, Case, Env, Req, Rig, Variant

OTHER_KEY = "another-apps-encrypt-key"


class LarkClick(Rig):
    """Acknowledge pressed on a card in the group."""

    name = "lark click"
    platform = "lark"

    async def start(self, env: Env) -> None:
        fake = FakeLark()
        fake.add_chat(CHAT)
        fake.add_user(ALICE, "alice@example.com", "Alice")
        fake.add_user(STRANGER, "nobody@elsewhere.example", "Stranger")
        fake.url = await env.serve(fake.app)
        self.settings = gateway_settings(env.tmp_path, fake)
        make = asynccontextmanager(build_gateway(self.settings))
        self.gateway: LarkGateway = await env.stack.enter_async_context(
            make(env.aiohttp_client, fake)
        )
        self.client = self.gateway.client
        self.clock = self.gateway.clock
        self.nonces = itertools.count(1)

    def doc(self, number: int, *, user: str = ALICE, token: str = "") -> dict[str, Any]:
        return self.gateway.click_doc("ack", number, user=user, token=token)

    def sealed(self, doc: Any, key: str = ENCRYPT_KEY) -> bytes:
        """The body Feishu posts: ``{"encrypt": …}``."""
        return json.dumps({"encrypt": encrypt(self.encode(doc), key)}).encode()

    def request(
        self,
        body: bytes,
        *,
        signed_body: bytes | None = None,
        timestamp: int | None = None,
        key: str = ENCRYPT_KEY,
    ) -> Req:
        ts = str(int(self.clock.now().timestamp()) if timestamp is None else timestamp)
        nonce = f"nonce-{next(self.nonces)}"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Lark-Request-Timestamp": ts,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": sign(ts, nonce, body if signed_body is None else signed_body, key),
        }
        return Req("POST", "/hooks/lark", headers, body)

    def act(self) -> Req:
        return self.request(self.sealed(self.doc(self.number)))

    async def quiet(self) -> None:
        await self.app[LARK].quiet()

    def forged(self) -> Case:
        doc = self.doc(self.number)
        body = self.sealed(doc)
        return Case(
            (
                Variant(
                    "a signature of zeros",
                    self.request(body).with_headers(X_Lark_Signature="0" * 64),
                    401,
                ),
                Variant(
                    "encrypted and signed with another app's key",
                    self.request(self.sealed(doc, OTHER_KEY), key=OTHER_KEY),
                    401,
                ),
            ),
            self.request(body),
        )

    def changed_body(self) -> Case:
        meant = self.sealed(self.doc(self.number, user=STRANGER))
        sent = self.sealed(self.doc(self.number))
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
        body = self.sealed(self.doc(self.number))
        old = int(self.clock.now().timestamp()) - STALE_S
        return Case(
            (Variant("signed 6 minutes ago", self.request(body, timestamp=old), 401),),
            self.request(body),
        )

    def wrong_app(self) -> Case:
        # The encrypt key proves the sender; the verification token names the app.
        other = self.sealed(self.doc(self.number, token="another-apps-verification-token"))
        return Case(
            (Variant("another app's verification token", self.request(other), 401),),
            self.request(self.sealed(self.doc(self.number))),
        )

    def missing_headers(self) -> Case:
        req = self.act()
        return Case(
            (
                Variant("no signature", req.without("X-Lark-Signature"), 401),
                Variant("no timestamp", req.without("X-Lark-Request-Timestamp"), 401),
                Variant("no nonce", req.without("X-Lark-Request-Nonce"), 401),
            ),
            req,
        )

    def template(self) -> Any:
        return self.doc(self.number)

    def wrap(self, plain: bytes) -> Req:
        return self.request(json.dumps({"encrypt": encrypt(plain)}).encode())

    def forge(self, plain: bytes) -> Req:
        return self.request(
            json.dumps({"encrypt": encrypt(plain, OTHER_KEY)}).encode(), key=OTHER_KEY
        )
