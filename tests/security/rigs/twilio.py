"""Twilio's webhooks: an SMS reply, a keypad press, and the two status callbacks, each signed
with ``X-Twilio-Signature`` (HMAC-SHA1 of the public URL and the sorted form, keyed by the
account's auth token). Twilio signs no timestamp."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa

from adapters.twilio import SMS_PATH, SMS_STATUS_PATH, VOICE_PATH, VOICE_STATUS_PATH
from gateway.clock import ManualClock
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from storage import repo, tables
from tests.fakes.twilio import ACCOUNT_SID, API_VERSION, AUTH_TOKEN, FakeTwilio
from tests.security.rigs import NOW, Case, Env, Req, Rig, Variant
from tests.support import make_settings, settings_doc

PUBLIC = "https://oncall.example.com"  # what Twilio is told; the test client listens elsewhere
ELSEWHERE = "https://another-gateway.example.com"
OUR_NUMBER = "+15005550006"
ALICE = "+15550100001"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
NO_TIMESTAMP = "Twilio signs no timestamp"


class TwilioSms(Rig):
    """alice texts ``ack 42`` back to our number."""

    name = "twilio sms"
    platform = "twilio"
    path: ClassVar[str] = SMS_PATH
    not_applicable: ClassVar[Mapping[str, str]] = {
        "stale": f"{NO_TIMESTAMP}; a message sent again is caught by its MessageSid (see replay)",
    }

    async def start(self, env: Env) -> None:
        self.fake = FakeTwilio()
        self.fake.url = await env.serve(self.fake.app) + "/"
        account = {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": OUR_NUMBER,
            "api_base_url": self.fake.url,
        }
        doc = settings_doc()
        doc["members"]["alice"]["phone"] = ALICE
        self.settings = make_settings(
            f"sqlite+aiosqlite:///{env.tmp_path}/t.db",
            server={**doc["server"], "public_url": PUBLIC + "/"},
            members=doc["members"],
            sms={"provider": "twilio", "twilio": account},
            voice={"provider": "twilio", "twilio": account},
        )
        self.clock = ManualClock(NOW)
        self.client = await env.client(create_app(self.settings, clock=self.clock, workers=False))
        self.sids = itertools.count(1)

    def sid(self, prefix: str) -> str:
        return f"{prefix}{next(self.sids):032x}"

    def form(self, *, text: str | None = None) -> dict[str, str]:
        """What Twilio posts for alice's text (``ack {number}`` unless ``text``)."""
        sid = self.sid("SM")
        return {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": f"ack {self.number}" if text is None else text,
            "To": OUR_NUMBER,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": ALICE,
            "ApiVersion": API_VERSION,
        }

    def query(self) -> str:
        """The query string of the URL Twilio calls (none for replies)."""
        return ""

    def request(
        self,
        form: dict[str, str],
        *,
        signed_form: dict[str, str] | None = None,
        signed_url: str | None = None,
        token: str | None = None,
        query: str = "",
    ) -> Req:
        path = self.path + query
        url = PUBLIC + path if signed_url is None else signed_url
        signature = self.fake.sign(url, form if signed_form is None else signed_form, token)
        body = urlencode(form).encode()
        return Req("POST", path, {**FORM, "X-Twilio-Signature": signature}, body)

    def act(self) -> Req:
        return self.request(self.form(), query=self.query())

    def harmless(self) -> dict[str, str]:
        """A form the signer meant, that changes nothing."""
        return self.form(text="help")

    def forged(self) -> Case:
        form, query = self.form(), self.query()
        return Case(
            (
                Variant(
                    "signed with another auth token",
                    self.request(form, token="x" * 32, query=query),
                    403,
                ),
                Variant(
                    "a made-up signature",
                    self.request(form, query=query).with_headers(X_Twilio_Signature="AAAA"),
                    403,
                ),
            ),
            self.request(form, query=query),
        )

    def changed_body(self) -> Case:
        form, query = self.form(), self.query()
        meant = self.harmless()
        return Case(
            (
                Variant(
                    "the form changed under its signature",
                    self.request(form, signed_form=meant, query=query),
                    403,
                ),
            ),
            self.request(form, query=query),
        )

    def wrong_app(self) -> Case:
        form, query = self.form(), self.query()
        other = ELSEWHERE + self.path + query
        return Case(
            (
                Variant(
                    "signed for another gateway's URL",
                    self.request(form, signed_url=other, query=query),
                    403,
                ),
            ),
            self.request(form, query=query),
        )

    def missing_headers(self) -> Case:
        req = self.act()
        return Case(
            (Variant("no X-Twilio-Signature", req.without("X-Twilio-Signature"), 403),), req
        )

    def template(self) -> Any:
        return self.form()

    def encode(self, doc: Any) -> bytes:
        pairs = doc.items() if isinstance(doc, dict) else [("Body", doc)]
        form = {str(k): _text(v) for k, v in pairs}
        return urlencode(form, errors="surrogatepass").encode()

    def wrap(self, plain: bytes) -> Req:
        """Signed over the form Twilio would have posted (a body that is no form is signed as
        an empty one, as Twilio signs what it sends)."""
        try:
            pairs = dict(parse_qsl(plain.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            pairs = {}
        path = self.path + self.query()
        signature = self.fake.sign(PUBLIC + path, pairs)
        return Req("POST", path, {**FORM, "X-Twilio-Signature": signature}, plain)

    def forge(self, plain: bytes) -> Req:
        return Req("POST", self.path + self.query(), {**FORM, "X-Twilio-Signature": "AAAA"}, plain)


class TwilioVoice(TwilioSms):
    """alice presses 1 (acknowledge) during the call that pages her."""

    name = "twilio voice"
    path = VOICE_PATH
    not_applicable: ClassVar[Mapping[str, str]] = {
        "stale": f"{NO_TIMESTAMP}; a key press sent again is caught by its CallSid (see replay)",
    }

    def form(self, *, text: str | None = None) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid("CA"),
            "CallStatus": "in-progress",
            "Called": ALICE,
            "Caller": OUR_NUMBER,
            "Direction": "outbound-api",
            "From": OUR_NUMBER,
            "To": ALICE,
            "Digits": "1" if text is None else text,
            "FinishedOnKey": "",
            "msg": "Gather End",
        }

    def query(self) -> str:
        return f"?n={self.number}&d=1"

    def harmless(self) -> dict[str, str]:
        return self.form(text="3")  # "say it again"

    def changed_body(self) -> Case:
        case = super().changed_body()
        form = self.form()
        other_incident = self.request(
            form, signed_url=f"{PUBLIC}{self.path}?n=999&d=1", query=self.query()
        )
        return Case(
            (*case.variants, Variant("the URL's incident changed", other_incident, 403)),
            case.control,
        )


class TwilioSmsStatus(TwilioSms):
    """Twilio reports that the SMS paging alice was undelivered."""

    name = "twilio sms status"
    path = SMS_STATUS_PATH
    channel: ClassVar[str] = "sms"
    failed: ClassVar[str] = "undelivered"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "stale": f"{NO_TIMESTAMP}; a status sent again finds its delivery already marked "
        "(see replay)",
    }

    async def open(self) -> None:
        await super().open()
        self.delivery = await self.sent()

    async def sent(self) -> int:
        """A page to alice recorded as sent on this channel; its delivery id."""
        rt = self.app[RUNTIME]
        async with rt.db.write() as conn:
            await repo.add_deliveries(
                conn,
                [
                    {
                        "incident_id": self.number,
                        "channel": self.channel,
                        "destination": {"member": "alice", "to": ALICE},
                        "payload": {"number": self.number, "text": f"Incident {self.number}"},
                        "state": "sent",
                        "attempts": 1,
                        "due_at": NOW,
                        "created_at": NOW,
                        "sent_at": NOW,
                    }
                ],
            )
        async with rt.db.read() as conn:
            newest = await conn.execute(sa.select(sa.func.max(tables.deliveries.c.id)))
            return int(newest.scalar_one())

    def query(self) -> str:
        return f"?d={self.delivery}"

    def form(self, *, text: str | None = None) -> dict[str, str]:
        status = self.failed if text is None else text
        sid = self.sid("SM")
        return {
            "SmsSid": sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": ALICE,
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": OUR_NUMBER,
            "ApiVersion": API_VERSION,
            "ErrorCode": "30003",
        }

    def harmless(self) -> dict[str, str]:
        return self.form(text="delivered")

    async def reset(self) -> None:
        """Nothing to undo: a delivery reported lost stays lost."""

    async def fresh(self) -> Req:
        self.delivery = await self.sent()
        return self.act()


class TwilioVoiceStatus(TwilioSmsStatus):
    """Twilio reports that the call paging alice was not answered."""

    name = "twilio voice status"
    path = VOICE_STATUS_PATH
    channel = "voice"
    failed = "no-answer"

    def form(self, *, text: str | None = None) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid("CA"),
            "CallStatus": self.failed if text is None else text,
            "Called": ALICE,
            "Caller": OUR_NUMBER,
            "Direction": "outbound-api",
            "From": OUR_NUMBER,
            "To": ALICE,
            "CallDuration": "0",
            "Duration": "0",
            "SequenceNumber": "0",
            "CallbackSource": "call-progress-events",
            "Timestamp": "Sun, 01 Mar 2026 10:00:30 +0000",
        }

    def harmless(self) -> dict[str, str]:
        return self.form(text="completed")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
