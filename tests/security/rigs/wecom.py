"""``/hooks/wecom``: a card button (``template_card_event``) POSTed in the AES envelope, and the
URL check (GET), both signed by ``msg_signature`` (SHA-1 of token, timestamp, nonce, Encrypt);
the envelope names the corp it is for (the receive id)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from aiohttp import ClientResponse

from adapters.wecom.wire import read
from gateway.clock import ManualClock
from tests.adapters.wecom.conftest import (
    ALICE,
    STRANGER,
    WecomGateway,
    gateway_settings,
    start_gateway,
)
from tests.fakes.wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    TOKEN,
    Card,
    FakeWecom,
    wecom_encrypt,
    wecom_sign,
    xml,
)
from tests.security.rigs import NOW, STALE_S, Case, Env, Req, Rig, Variant

OTHER_CORP = "wwanothercorp000001"
ECHO = "1288432023552776189"


class WecomClick(Rig):
    """Acknowledge pressed on the card WeCom showed alice."""

    name = "wecom click"
    platform = "wecom"

    async def start(self, env: Env) -> None:
        fake = FakeWecom(clock=ManualClock(NOW))
        fake.add_member(ALICE, mobile="13800000001", email="alice@example.com")
        fake.add_member(STRANGER)
        fake.url = await env.serve(fake.app)
        self.settings = gateway_settings(env.tmp_path, fake)
        self.gateway: WecomGateway = await start_gateway(
            env.aiohttp_client, fake, env.http, self.settings
        )
        self.client = self.gateway.client
        self.clock = self.gateway.clock
        self.fake = fake
        self.nonces = itertools.count(1)

    async def open(self) -> None:
        self.number, card = await self.gateway.opened()
        self.card: Card = card

    async def quiet(self) -> None:
        await self.gateway.quiet()

    def message(self, number: int, *, user: str = ALICE, agent: int = AGENT_ID) -> bytes:
        """The decrypted event: ``user`` pressed Acknowledge."""
        click = self.fake.click(user, self.card, f"v1:ack:{number}")
        return click.replace(
            f"<AgentID>{AGENT_ID}</AgentID>".encode(), f"<AgentID>{agent}</AgentID>".encode()
        )

    def query(
        self,
        encrypt: str,
        *,
        timestamp: int | None = None,
        token: str = TOKEN,
        **extra: str,
    ) -> dict[str, str]:
        ts = str(int(self.clock.now().timestamp()) if timestamp is None else timestamp)
        nonce = str(next(self.nonces) * 7919)
        return {"msg_signature": wecom_sign(token, ts, nonce, encrypt), "timestamp": ts,
                "nonce": nonce, **extra}  # fmt: skip

    def request(
        self,
        message: bytes,
        *,
        signed_message: bytes | None = None,
        receive_id: str = CORP_ID,
        drop: tuple[str, ...] = (),
        **signing: Any,
    ) -> Req:
        encrypt = wecom_encrypt(message, AES_KEY, receive_id)
        signed = (
            encrypt if signed_message is None else wecom_encrypt(signed_message, AES_KEY, CORP_ID)
        )
        query = {k: v for k, v in self.query(signed, **signing).items() if k not in drop}
        body = xml({"ToUserName": CORP_ID, "Encrypt": encrypt, "AgentID": AGENT_ID})
        return Req("POST", f"/hooks/wecom?{urlencode(query)}", {"Content-Type": "text/xml"}, body)

    def act(self) -> Req:
        return self.request(self.message(self.number))

    def forged(self) -> Case:
        message = self.message(self.number)
        return Case(
            (
                Variant(
                    "signed with another token", self.request(message, token="guessed-token"), 401
                ),
                Variant("encrypted with another app's key", self._other_key(message), 401),
            ),
            self.request(message),
        )

    def _other_key(self, message: bytes) -> Req:
        other = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
        encrypt = wecom_encrypt(message, other, CORP_ID)
        body = xml({"ToUserName": CORP_ID, "Encrypt": encrypt, "AgentID": AGENT_ID})
        return Req("POST", f"/hooks/wecom?{urlencode(self.query(encrypt))}", {}, body)

    def changed_body(self) -> Case:
        meant = self.message(self.number, user=STRANGER)
        sent = self.message(self.number)
        return Case(
            (
                Variant(
                    "a stranger's click, re-addressed to alice",
                    self.request(sent, signed_message=meant),
                    401,
                ),
            ),
            self.request(sent),
        )

    def stale(self) -> Case:
        message = self.message(self.number)
        old = int(self.clock.now().timestamp()) - STALE_S
        return Case(
            (Variant("signed 6 minutes ago", self.request(message, timestamp=old), 401),),
            self.request(message),
        )

    def wrong_app(self) -> Case:
        return Case(
            (
                Variant(
                    "for another corp (receive id)",
                    self.request(self.message(self.number), receive_id=OTHER_CORP),
                    401,
                ),
                # Signed and sealed for our corp, but for another of its apps: ignored.
                Variant(
                    "for another agent of our corp",
                    self.request(self.message(self.number, agent=AGENT_ID + 1)),
                    200,
                ),
            ),
            self.request(self.message(self.number)),
        )

    def missing_headers(self) -> Case:
        message = self.message(self.number)
        return Case(
            tuple(
                Variant(f"no {name}", self.request(message, drop=(name,)), 401)
                for name in ("msg_signature", "timestamp", "nonce")
            ),
            self.request(message),
        )

    def template(self) -> Any:
        return read(self.message(self.number), "click")

    def encode(self, doc: Any) -> bytes:
        if isinstance(doc, bytes):
            return doc
        if isinstance(doc, dict):
            inner = "".join(
                f"<{k}>{escape(str(v))}</{k}>" for k, v in doc.items() if str(k).isidentifier()
            )
            return f"<xml>{inner}</xml>".encode(errors="surrogatepass")
        return escape(str(doc)).encode(errors="surrogatepass")

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain)

    def forge(self, plain: bytes) -> Req:
        return self.request(plain, token="guessed-token")


class WecomUrlCheck(WecomClick):
    """WeCom's check of the callback URL: answered with the decrypted ``echostr``."""

    name = "wecom url check"
    changes_state = False
    not_applicable: ClassVar[Mapping[str, str]] = {
        "replay": "the URL check changes nothing: its answer is the echostr",
    }

    async def open(self) -> None:
        self.number = 0  # nothing to act on: the check answers, it changes nothing

    def check(
        self,
        echo: str = ECHO,
        *,
        signed_echo: str | None = None,
        receive_id: str = CORP_ID,
        drop: tuple[str, ...] = (),
        **signing: Any,
    ) -> Req:
        encrypt = wecom_encrypt(echo.encode(), AES_KEY, receive_id)
        signed = (
            encrypt
            if signed_echo is None
            else wecom_encrypt(signed_echo.encode(), AES_KEY, CORP_ID)
        )
        query = self.query(signed, **signing, echostr=encrypt)
        query = {k: v for k, v in query.items() if k not in drop}
        return Req("GET", f"/hooks/wecom?{urlencode(query)}")

    async def accepted(self, response: ClientResponse) -> bool:
        return await response.text() == ECHO

    def act(self) -> Req:
        return self.check()

    def forged(self) -> Case:
        return Case(
            (Variant("signed with another token", self.check(token="guessed"), 401),), self.check()
        )

    def changed_body(self) -> Case:
        return Case(
            (
                Variant(
                    "another echostr under the signature", self.check("4242", signed_echo=ECHO), 401
                ),
            ),
            self.check(),
        )

    def stale(self) -> Case:
        old = int(self.clock.now().timestamp()) - STALE_S
        return Case(
            (Variant("signed 6 minutes ago", self.check(timestamp=old), 401),), self.check()
        )

    def wrong_app(self) -> Case:
        return Case(
            (Variant("for another corp (receive id)", self.check(receive_id=OTHER_CORP), 401),),
            self.check(),
        )

    def missing_headers(self) -> Case:
        return Case(
            tuple(
                Variant(f"no {name}", self.check(drop=(name,)), status)
                for name, status in (
                    ("msg_signature", 401),
                    ("timestamp", 401),
                    ("nonce", 401),
                    ("echostr", 400),
                )
            ),
            self.check(),
        )

    def template(self) -> Any:
        return ECHO

    def encode(self, doc: Any) -> bytes:
        return str(doc).encode(errors="surrogatepass")

    def wrap(self, plain: bytes) -> Req:
        return self._echo(plain, TOKEN)

    def forge(self, plain: bytes) -> Req:
        return self._echo(plain, "guessed-token")

    def _echo(self, plain: bytes, token: str) -> Req:
        encrypt = wecom_encrypt(plain, AES_KEY, CORP_ID)
        return Req(
            "GET", f"/hooks/wecom?{urlencode(self.query(encrypt, token=token, echostr=encrypt))}"
        )
