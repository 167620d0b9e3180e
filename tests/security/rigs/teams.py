"""``POST /hooks/teams``: an Adaptive Card's Action.Execute (an ``invoke`` activity) with the
Bot Connector's JWT: signature (the OpenID keys), issuer, audience = our app id, expiry,
the ``serviceurl`` claim = the activity's serviceUrl, and ``teams.tenant_id``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from adapters.teams.addresses import KNOWN
from tests.adapters.teams.conftest import ALICE, TeamsGateway, gateway_settings, start_gateway
from tests.fakes.teams import FakeTeams, Person, Posted, other_key
from tests.security.rigs import Case, Env, Req, Rig, Variant

JSON = {"Content-Type": "application/json"}
OTHER_SERVICE = "https://smba.trafficmanager.net/emea/"
OTHER_TENANT = "22222222-0000-4000-8000-000000000000"


class TeamsInvoke(Rig):
    """Acknowledge pressed on the card in the channel."""

    name = "teams invoke"
    platform = "teams"
    protocol_5xx: ClassVar[Mapping[int, str]] = {
        501: "the Bot Framework's answer to an invoke a bot does not handle (only "
        "adaptiveCard/action is ours), which Teams expects",
    }

    async def start(self, env: Env) -> None:
        KNOWN.clear()  # what earlier tests' activities taught this process
        env.stack.callback(KNOWN.clear)
        fake = FakeTeams()
        fake.add_person(Person(ALICE.id, ALICE.aad_object_id, ALICE.name))
        fake.url = await env.serve(fake.app)
        self.settings = gateway_settings(env.tmp_path, fake)
        self.gateway: TeamsGateway = await start_gateway(
            env.aiohttp_client, fake, env.http, self.settings
        )
        self.client = self.gateway.client
        self.clock = self.gateway.clock
        self.fake = fake

    async def open(self) -> None:
        self.number, card = await self.gateway.opened()
        self.card: Posted = card

    def activity(self, number: int, *, tenant: str | None = None) -> dict[str, Any]:
        doc = self.fake.invoke(ALICE, self.card, "ack", {"a": f"v1:ack:{number}"})
        if tenant is not None:
            doc["conversation"]["tenantId"] = tenant
            doc["channelData"]["tenant"]["id"] = tenant
        return doc

    def request(self, body: bytes, authorization: str | None = None) -> Req:
        token = self.fake.bearer() if authorization is None else authorization
        headers = {**JSON, "Authorization": token} if token else JSON
        return Req("POST", "/hooks/teams", headers, body)

    def act(self) -> Req:
        return self.request(self.encode(self.activity(self.number)))

    def forged(self) -> Case:
        body = self.encode(self.activity(self.number))
        f = self.fake
        return Case(
            (
                Variant(
                    "signed by another key, same kid",
                    self.request(body, f.bearer(key=other_key())),
                    401,
                ),
                Variant(
                    "signed by an unknown key",
                    self.request(body, f.bearer(key=other_key(), kid="someone-elses")),
                    401,
                ),
                Variant("not a JWT", self.request(body, "Bearer not.a.jwt"), 401),
            ),
            self.request(body),
        )

    def changed_body(self) -> Case:
        # The JWT covers one field of the body, its serviceUrl: the token of an activity
        # from another service URL does not carry this one.
        body = self.encode(self.activity(self.number))
        theirs = self.fake.bearer(service_url=OTHER_SERVICE)
        return Case(
            (
                Variant(
                    "the token of an activity from another service URL",
                    self.request(body, theirs),
                    401,
                ),
            ),
            self.request(body),
        )

    def stale(self) -> Case:
        body = self.encode(self.activity(self.number))
        expired = self.fake.bearer(expires_in_s=-600)
        return Case(
            (Variant("a token expired 10 minutes ago", self.request(body, expired), 401),),
            self.request(body),
        )

    def wrong_app(self) -> Case:
        body = self.encode(self.activity(self.number))
        f = self.fake
        return Case(
            (
                Variant(
                    "another bot's audience",
                    self.request(body, f.bearer(audience="99999999-0000-4000-8000-000000000000")),
                    401,
                ),
                Variant(
                    "another issuer",
                    self.request(body, f.bearer(issuer="https://evil.example.com")),
                    401,
                ),
                Variant(
                    "another serviceurl claim",
                    self.request(body, f.bearer(service_url=OTHER_SERVICE)),
                    401,
                ),
                Variant(
                    "another tenant (teams.tenant_id)",
                    self.request(self.encode(self.activity(self.number, tenant=OTHER_TENANT))),
                    403,
                ),
            ),
            self.request(body),
        )

    def missing_headers(self) -> Case:
        body = self.encode(self.activity(self.number))
        return Case(
            (
                Variant("no Authorization", self.request(body, ""), 401),
                Variant("Bearer and nothing", self.request(body, "Bearer "), 401),
            ),
            self.request(body),
        )

    def template(self) -> Any:
        return self.activity(self.number)

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain)

    def forge(self, plain: bytes) -> Req:
        return self.request(plain, self.fake.bearer(key=other_key()))
