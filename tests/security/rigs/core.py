"""The gateway's own endpoints: alert ingest (the integration's token), REST actions (an API
token) and the incident page's form (a signed, expiring link). Tokens are bearer secrets, not
signatures over a body, and carry no timestamp: what they cannot be attacked with is said."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from aiohttp import ClientResponse
from itsdangerous import URLSafeSerializer

from gateway.clock import ManualClock
from gateway.links import LinkSigner
from gateway.web.app import create_app
from gateway.web.keys import SIGNER
from tests.security.rigs import API, INGEST, NOW, Case, Env, Req, Rig, Variant
from tests.support import fixture, make_settings

BEARER_ONLY = "a bearer token, not a signature over the body"
NO_TIME = "a token carries no timestamp"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Ingest(Rig):
    """Alertmanager posting a firing alert to ``/v1/alerts/prometheus``."""

    name = "alert ingest"
    platform = "ingest"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "changed_body": BEARER_ONLY,
        "stale": NO_TIME,
        "replay": "an alert sent again is how Alertmanager repeats and resolves: it updates the "
        "open incident by design (deduplicated by fingerprint)",
    }

    async def start(self, env: Env) -> None:
        self.settings = make_settings(f"sqlite+aiosqlite:///{env.tmp_path}/t.db")
        self.clock = ManualClock(NOW)
        self.client = await env.client(create_app(self.settings, clock=self.clock, workers=False))
        self.alerts = itertools.count(1)

    def alert(self) -> bytes:
        """A firing alert never seen before (its own fingerprint)."""
        doc = fixture("alertmanager", "firing.json")
        n = next(self.alerts)
        for alert in doc["alerts"]:
            alert["fingerprint"] = f"{alert['fingerprint'][:8]}{n:08x}"
        return self.encode(doc)

    def request(self, body: bytes, headers: dict[str, str] | None = None, query: str = "") -> Req:
        auth = INGEST if headers is None else headers
        return Req("POST", f"/v1/alerts/prometheus{query}", {**JSON, **auth}, body)

    def act(self) -> Req:
        return self.request(self.alert())

    def forged(self) -> Case:
        body = self.alert()
        wrong = base64.b64encode(b"grafana:not-the-token").decode()
        return Case(
            (
                Variant(
                    "a wrong bearer token",
                    self.request(body, {"Authorization": "Bearer wrong-token"}),
                    401,
                ),
                Variant("a wrong ?token=", self.request(body, {}, "?token=wrong-token"), 401),
                Variant(
                    "a wrong basic-auth password",
                    self.request(body, {"Authorization": f"Basic {wrong}"}),
                    401,
                ),
            ),
            self.request(body),
        )

    def wrong_app(self) -> Case:
        body = self.alert()
        return Case(
            (
                Variant(
                    "another integration's token",
                    self.request(body, {"Authorization": "Bearer grafana-token-1"}),
                    401,
                ),
                Variant("an API token", self.request(body, API), 401),
            ),
            self.request(body),
        )

    def missing_headers(self) -> Case:
        body = self.alert()
        return Case((Variant("no token at all", self.request(body, {}), 401),), self.request(body))

    def template(self) -> Any:
        return fixture("alertmanager", "firing.json")

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain)

    def forge(self, plain: bytes) -> Req:
        return self.request(plain, {"Authorization": "Bearer guessed-token"})


class RestAction(Ingest):
    """``POST /v1/incidents/{n}/actions`` ``{"verb": "ack"}`` with alice's API token."""

    name = "rest action"
    platform = "rest api"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "changed_body": BEARER_ONLY,
        "stale": NO_TIME,
        "replay": "a REST call is a command, not a platform callback: the same call again is a "
        "new request (a second ack is answered 'already acknowledged')",
    }

    def request(self, body: bytes, headers: dict[str, str] | None = None, query: str = "") -> Req:
        auth = API if headers is None else headers
        return Req("POST", f"/v1/incidents/{self.number}/actions{query}", {**JSON, **auth}, body)

    def act(self) -> Req:
        return self.request(self.encode({"verb": "ack"}))

    def forged(self) -> Case:
        body = self.encode({"verb": "ack"})
        return Case(
            (
                Variant(
                    "a wrong bearer token",
                    self.request(body, {"Authorization": "Bearer wrong-token"}),
                    401,
                ),
                Variant(
                    "the token as ?token=", self.request(body, {}, "?token=example-api-token"), 401
                ),
            ),
            self.request(body),
        )

    def wrong_app(self) -> Case:
        body = self.encode({"verb": "ack"})
        return Case(
            (Variant("an integration's token", self.request(body, INGEST), 401),),
            self.request(body),
        )

    def missing_headers(self) -> Case:
        body = self.encode({"verb": "ack"})
        return Case((Variant("no token", self.request(body, {}), 401),), self.request(body))

    def template(self) -> Any:
        return {"verb": "ack", "args": {}, "member": "alice"}


class WebLink(Ingest):
    """The incident page's Acknowledge button, pressed through alice's signed link."""

    name = "signed link"
    platform = "web page"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "replay": "a link is a pass for one member and incident until it expires, not a "
        "one-time callback (tests/security/test_links.py: reuse after close)",
    }

    async def open(self) -> None:
        await super().open()
        self.signer: LinkSigner = self.app[SIGNER]

    async def accepted(self, response: ClientResponse) -> bool:
        return response.status == 303  # back to the page, with the notice

    def token(self, *, member: str = "alice", number: int | None = None, ttl_h: float = 1) -> str:
        expires = self.clock.now() + timedelta(hours=ttl_h)
        return self.signer.token(member, self.number if number is None else number, expires)

    def request(self, body: bytes, headers: dict[str, str] | None = None, query: str = "") -> Req:
        return Req(
            "POST", f"/incidents/{self.number}/actions{query}", {**FORM, **(headers or {})}, body
        )

    def form(self, token: str | None) -> bytes:
        return urlencode({"verb": "ack", **({"t": token} if token is not None else {})}).encode()

    def act(self) -> Req:
        return self.request(self.form(self.token()))

    def forged(self) -> Case:
        token = self.token()
        payload, _, signature = token.rpartition(".")
        flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
        return Case(
            (
                Variant(
                    "its signature changed", self.request(self.form(f"{payload}.{flipped}")), 401
                ),
                Variant("no signature", self.request(self.form(payload)), 401),
            ),
            self.request(self.form(token)),
        )

    def changed_body(self) -> Case:
        # The link is the signed body here: what it says, edited under its signature.
        token = self.token()
        _payload, _, signature = token.rpartition(".")
        expires = int((self.clock.now() + timedelta(hours=1)).timestamp())

        def edited(member: str, incident: int, until: int) -> str:
            raw = json.dumps([member, incident, until], separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + signature

        return Case(
            (
                Variant(
                    "its member changed",
                    self.request(self.form(edited("bob", self.number, expires))),
                    401,
                ),
                Variant(
                    "its expiry pushed back",
                    self.request(self.form(edited("alice", self.number, expires + 86_400))),
                    401,
                ),
                Variant(
                    "a genuine link to another incident",
                    self.request(self.form(self.token(number=self.number + 1))),
                    401,
                ),
            ),
            self.request(self.form(token)),
        )

    def stale(self) -> Case:
        return Case(
            (
                Variant("expired an hour ago", self.request(self.form(self.token(ttl_h=-1))), 401),
                Variant(
                    "expiring this very second", self.request(self.form(self.token(ttl_h=0))), 401
                ),
            ),
            self.request(self.form(self.token())),
        )

    def wrong_app(self) -> Case:
        theirs = LinkSigner("another-gateways-secret-key-0123")
        other = theirs.token("alice", self.number, self.clock.now() + timedelta(hours=1))
        session = URLSafeSerializer("another-gateways-secret-key-0123", salt="ackgate.session.v1")
        return Case(
            (
                Variant(
                    "signed by another gateway's secret key", self.request(self.form(other)), 401
                ),
                Variant(
                    "another gateway's console cookie, no link",
                    self.request(
                        self.form(None), {"Cookie": f"ackgate_session={session.dumps('alice')}"}
                    ),
                    401,
                ),
            ),
            self.request(self.form(self.token())),
        )

    def missing_headers(self) -> Case:
        return Case(
            (
                Variant("no link and no login", self.request(self.form(None)), 401),
                Variant("an empty link", self.request(self.form("")), 401),
            ),
            self.request(self.form(self.token())),
        )

    def template(self) -> Any:
        return {"verb": "ack", "text": "x", "minutes": "60", "member": "bob", "severity": "info"}

    def encode(self, doc: Any) -> bytes:
        pairs = doc.items() if isinstance(doc, dict) else [("verb", doc)]
        form = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in pairs}
        return urlencode(form, errors="surrogatepass").encode()

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain + b"&t=" + self.token().encode())

    def forge(self, plain: bytes) -> Req:
        return self.request(plain + b"&t=" + self.token()[:-3].encode() + b"xyz")
