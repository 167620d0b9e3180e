"""``POST /hooks/telegram``: a button pressed on a card, with the webhook's secret token in
``X-Telegram-Bot-Api-Secret-Token``: Telegram signs nothing and sends no timestamp."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tests.adapters.telegram.conftest import (
    ALICE,
    GROUP,
    SECRET,
    SECRET_HEADER,
    STRANGER,
    TelegramGateway,
    gateway_settings,
    start_gateway,
)
from tests.fakes.telegram import FakeTelegram, Message
from tests.security.rigs import Case, Env, Req, Rig, Variant

JSON = {"Content-Type": "application/json"}


class TelegramPress(Rig):
    """Acknowledge pressed on the card in the group (a ``callback_query`` update)."""

    name = "telegram press"
    platform = "telegram"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "changed_body": "Telegram signs no body: the secret token proves the sender, TLS "
        "protects the body",
        "stale": "Telegram sends no timestamp; a press sent again is caught by its callback "
        "query id (see replay)",
        "wrong_app": "the secret token is per bot: another bot's request is the forged case",
    }

    async def start(self, env: Env) -> None:
        fake = FakeTelegram()
        fake.add_group(GROUP, "On-call")
        fake.add_user(ALICE, "Alice", username="alice_tg")
        fake.add_user(STRANGER, "Mallory", username="mallory")
        fake.url = await env.serve(fake.app)
        self.settings = gateway_settings(env.tmp_path, fake)
        self.gateway: TelegramGateway = await start_gateway(
            env.aiohttp_client, fake, env.http, self.settings
        )
        self.client = self.gateway.client
        self.clock = self.gateway.clock
        self.fake = fake

    async def open(self) -> None:
        self.number, card = await self.gateway.opened()
        self.card: Message = card

    def request(self, body: bytes, secret: str | None = SECRET) -> Req:
        headers = {**JSON, SECRET_HEADER: secret} if secret is not None else JSON
        return Req("POST", "/hooks/telegram", headers, body)

    def update(self, number: int) -> dict[str, Any]:
        return self.fake.press(ALICE, self.card, f"v1:ack:{number}")

    def act(self) -> Req:
        return self.request(self.encode(self.update(self.number)))

    def forged(self) -> Case:
        body = self.encode(self.update(self.number))
        return Case(
            (
                Variant("another secret token", self.request(body, "not-the-secret-0"), 401),
                Variant(
                    "the secret with a character changed",
                    self.request(body, SECRET[:-1] + "2"),
                    401,
                ),
                Variant("an empty secret token", self.request(body, ""), 401),
            ),
            self.request(body),
        )

    def missing_headers(self) -> Case:
        body = self.encode(self.update(self.number))
        return Case(
            (Variant("no secret token", self.request(body, None), 401),), self.request(body)
        )

    def template(self) -> Any:
        return self.update(self.number)

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain)

    def forge(self, plain: bytes) -> Req:
        return self.request(plain, "guessed-secret-token")
