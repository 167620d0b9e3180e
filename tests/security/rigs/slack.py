"""``POST /hooks/slack``: a button click (interactivity) and the slash command, signed with
Slack's v0 HMAC over the timestamp and the raw body, checked by Bolt (5-minute window)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from gateway.clock import ManualClock
from gateway.web.app import create_app
from tests.adapters.slack.conftest import SECRET, TEAM, TOKEN, SlackGateway, gateway_settings
from tests.fakes.slack import API_PREFIX, FakeSlack
from tests.security.rigs import NOW, STALE_S, Case, Env, Req, Rig, Variant

FORM = "application/x-www-form-urlencoded"
_TRIGGERS = itertools.count(1)


def sign(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's headers for ``body``: ``v0=`` hex HMAC-SHA256 of ``v0:{ts}:{body}`` (written
    out here rather than taken from Bolt)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest()}


class SlackClick(Rig):
    """An Acknowledge button pressed on a card (a ``block_actions`` payload in a form)."""

    name = "slack click"
    platform = "slack"

    async def start(self, env: Env) -> None:
        fake = FakeSlack(TOKEN, TEAM)
        fake.add_channel("C0INC")
        fake.add_user("UALICE", "alice@example.com")
        fake.add_user("UNOBODY", "nobody@elsewhere.example")
        fake.url = await env.serve(fake.app) + API_PREFIX
        self.settings = gateway_settings(env.tmp_path, fake)
        self.clock = ManualClock(NOW)
        client = await env.client(create_app(self.settings, clock=self.clock, workers=False))
        self.client = client
        self.gateway = SlackGateway(client, fake)

    def doc(self, number: int, *, user: str = "UALICE", team: str = TEAM) -> dict[str, Any]:
        """The interactivity payload (fresh action_ts each time)."""
        return self.gateway.click_payload("ack", number, user=user, team=team)

    def encode(self, doc: Any) -> bytes:
        return urlencode({"payload": json.dumps(doc, default=str)}).encode()

    def request(
        self,
        body: bytes,
        *,
        signed_body: bytes | None = None,
        timestamp: int | None = None,
        secret: str = SECRET,
    ) -> Req:
        """``body`` with Slack's headers for ``signed_body`` (``body`` itself by default)."""
        headers = sign(
            body if signed_body is None else signed_body, timestamp=timestamp, secret=secret
        )
        return Req("POST", "/hooks/slack", {"Content-Type": FORM, **headers}, body)

    def act(self) -> Req:
        return self.request(self.encode(self.doc(self.number)))

    def forged(self) -> Case:
        body = self.encode(self.doc(self.number))
        return Case(
            (
                Variant("signed with another secret", self.request(body, secret="x" * 32), 401),
                Variant(
                    "a signature of zeros",
                    self.request(body).with_headers(X_Slack_Signature="v0=" + "0" * 64),
                    401,
                ),
            ),
            self.request(body),
        )

    def changed_body(self) -> Case:
        meant = self.encode(self.doc(self.number, user="UNOBODY"))
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
        old = int(time.time()) - STALE_S
        return Case(
            (Variant("signed 6 minutes ago", self.request(body, timestamp=old), 401),),
            self.request(body),
        )

    def wrong_app(self) -> Case:
        # Told in Slack (ephemeral "not connected to this workspace"), HTTP 200 to Slack.
        other = self.encode(self.doc(self.number, team="T2OTHER"))
        return Case(
            (Variant("from another workspace (team id)", self.request(other), 200),),
            self.request(self.encode(self.doc(self.number))),
        )

    def missing_headers(self) -> Case:
        req = self.act()
        return Case(
            (
                Variant("no signature", req.without("X-Slack-Signature"), 401),
                Variant("no timestamp", req.without("X-Slack-Request-Timestamp"), 401),
                Variant(
                    "neither", req.without("X-Slack-Signature", "X-Slack-Request-Timestamp"), 401
                ),
            ),
            req,
        )

    def template(self) -> Any:
        return self.doc(self.number)

    def wrap(self, plain: bytes) -> Req:
        return self.request(plain)

    def forge(self, plain: bytes) -> Req:
        return self.request(plain, secret="not-the-signing-secret")


class SlackCommand(SlackClick):
    """``/oncall ack 42``: the slash command, a signed form."""

    name = "slack command"

    def doc(self, number: int, *, user: str = "UALICE", team: str = TEAM) -> dict[str, Any]:
        n = next(_TRIGGERS)
        return {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "fake",
            "channel_id": "C0INC",
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/oncall",
            "text": f"ack {number}",
            "api_app_id": "A1",
            "response_url": "https://hooks.slack.invalid/commands/T1/1/x",
            "trigger_id": f"{n}.{n}.command",
        }

    def encode(self, doc: Any) -> bytes:
        pairs = doc.items() if isinstance(doc, dict) else [("text", doc)]
        return urlencode({str(k): _flat(v) for k, v in pairs}, errors="surrogatepass").encode()


def _flat(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
