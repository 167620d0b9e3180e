"""A fake Microsoft Teams for the Teams bot, as one aiohttp app on an ephemeral loopback port:
the Bot Connector service, the Entra ID (AAD) token endpoint, and the Bot Framework's OpenID
metadata and signing keys.

- **Token endpoint** (``token_url``): client credentials, checked like AAD checks them (401
  ``invalid_client`` for a wrong secret); hands out bearer tokens it remembers.
- **Bot Connector** (``service_url``): ``POST /v3/conversations`` opens a 1:1 chat with a
  person the bot is installed for (403 otherwise), ``POST …/activities[/{id}]`` sends or
  replies, ``PUT …/activities/{id}`` updates, ``GET …/members/{userId}`` answers a person's
  profile with their email and UPN; every call must carry a token it issued (401
  otherwise), names a conversation it knows (404 ``ConversationNotFound``) and, to update,
  an activity in it (404 ``ActivityNotFoundInConversation``). It records everything and can
  be told to fail the next call (429 with Retry-After, 500, anything), and to keep the per
  bot per conversation limits (``limit``: sends, replies and updates in one conversation,
  its threads included): 429 with Retry-After, counted in ``limited``.
- **OpenID metadata and keys** (``openid_url``): an RSA key made here, with a ``kid`` and
  ``"endorsements": ["msteams"]``, so tests sign the tokens the Bot Connector would send —
  and forged ones (another key, audience, issuer, service URL, or expired).

It also plays the people: ``message``, ``invoke`` and ``added`` make the activities Teams
would POST to the bot.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.limits import Limits

APP_ID = "00000000-0000-4000-8000-0000000a99ea"
APP_PASSWORD = "teams-app-password-1"
TENANT = "11111111-1111-4111-8111-111111111111"
ISSUER = "https://api.botframework.com"
SCOPE = "https://api.botframework.com/.default"
BOT = f"28:{APP_ID}"
CHANNEL = "19:oncall0000000000000000@thread.tacv2"
THREAD_MARK = ";messageid="
KID = "fake-bf-key-1"


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    """The Bot Framework's key in this fake (made once: RSA keys take a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def other_key() -> rsa.RSAPrivateKey:
    """A key nobody trusts, for forged tokens."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Person:
    """A Teams user; the bot can open a 1:1 chat with them when it is installed for them."""

    id: str  # 29:…
    aad_object_id: str
    name: str
    installed: bool = True
    email: str | None = None  # the roster's email; default: <first name>@example.com
    upn: str | None = None  # the roster's userPrincipalName; default: the email

    @property
    def address(self) -> str:
        """The email the roster gives for them."""
        return self.email or f"{self.name.split()[0].lower()}@example.com"

    def account(self) -> dict[str, Any]:
        """The ``from`` of their activities."""
        return {"id": self.id, "aadObjectId": self.aad_object_id, "name": self.name}


@dataclass
class Posted:
    """An activity the bot sent, with every update of it."""

    conversation: str  # as addressed (a channel thread's id includes ``;messageid=``)
    id: str
    activity: dict[str, Any]
    reply_to: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        """The activity as it reads now."""
        return self.updates[-1] if self.updates else self.activity

    @property
    def card(self) -> dict[str, Any] | None:
        """The Adaptive Card it shows now, if it is a card."""
        for item in self.current.get("attachments") or ():
            if item.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: dict[str, Any] = item["content"]
                return content
        return None

    @property
    def text(self) -> str:
        """Its text (a card's: every TextRun and fact, one per line)."""
        card = self.card
        if card is None:
            return str(self.current.get("text") or "")
        return "\n".join(card_texts(card))

    def verbs(self) -> list[str]:
        """The verbs of the card's actions (ShowCards' included), in order."""
        card = self.card or {}
        found = []
        for action in card.get("actions") or ():
            inner = action.get("card", {}).get("actions", []) if "card" in action else [action]
            found += [a["verb"] for a in inner if a.get("type") == "Action.Execute"]
        return found


def card_texts(card: dict[str, Any]) -> list[str]:
    """What a card says: TextRuns and facts, in order."""
    out: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("type") == "RichTextBlock":
                out.append("".join(i["text"] for i in item["inlines"]))
            elif item.get("type") == "FactSet":
                out.extend(f"{f['title']}: {f['value']}" for f in item["facts"])
            walk(item.get("items") or [])

    walk(card.get("body") or [])
    return out


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it."""

    method: str
    path: str
    body: Any
    authorization: str


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next Bot Connector call."""

    status: int
    code: str
    message: str
    retry_after: str | None = None


class FakeTeams:
    """The fake's state and its aiohttp app; set ``url`` once it is served."""

    def __init__(self) -> None:
        self.url = ""
        # A path of its own: the SDK caches OpenID metadata by URL, for the whole process.
        self.prefix = f"/bf-{uuid.uuid4().hex[:12]}"
        self.people: dict[str, Person] = {}
        self.conversations: dict[str, str] = {CHANNEL: "channel"}  # id → conversationType
        self.posted: list[Posted] = []
        self.calls: list[Call] = []
        self.tokens: list[str] = []
        self.key_fetches = 0
        self.metadata_status = 200
        self.faults: deque[Fault] = deque()
        self._limits = Limits()
        self._ids = itertools.count(1_700_000_000_001)
        self._token_numbers = itertools.count(1)
        self._changed = asyncio.Condition()
        self.app = web.Application()
        self.app.router.add_get(f"{self.prefix}/openid", self._openid)
        self.app.router.add_get(f"{self.prefix}/keys", self._keys)
        self.app.router.add_post("/login/{tenant}/oauth2/v2.0/token", self._token)
        self.app.router.add_post("/v3/conversations", self._create)
        self.app.router.add_post("/v3/conversations/{conv}/activities", self._send)
        self.app.router.add_post("/v3/conversations/{conv}/activities/{id}", self._send)
        self.app.router.add_put("/v3/conversations/{conv}/activities/{id}", self._update)
        self.app.router.add_get("/v3/conversations/{conv}/members/{user}", self._member)

    # --- addresses -------------------------------------------------------------------------

    @property
    def service_url(self) -> str:
        """The Bot Connector's service URL, as Teams writes it (with a trailing slash)."""
        return f"{self.url}/"

    @property
    def openid_url(self) -> str:
        """Where the OpenID metadata is (``teams.openid_metadata_url``)."""
        return f"{self.url}{self.prefix}/openid"

    @property
    def token_url(self) -> str:
        """The token endpoint (``teams.token_url``)."""
        return f"{self.url}/login/{TENANT}/oauth2/v2.0/token"

    def chat(self, conversation: str = CHANNEL) -> str:
        """A destination's ``chat``: ``"<serviceUrl>|<conversationId>"``."""
        return f"{self.service_url}|{conversation}"

    # --- setting the scene -----------------------------------------------------------------

    def add_person(self, person: Person) -> Person:
        """A Teams user in the tenant."""
        self.people[person.id] = person
        return person

    def personal_chat(self, person: Person) -> str:
        """The id of the 1:1 chat between the bot and ``person``."""
        return f"a:1{person.aad_object_id}"

    def fail_next(
        self, status: int, code: str = "", message: str = "", retry_after: str | None = None
    ) -> None:
        """Make the next Bot Connector call fail this way."""
        self.faults.append(Fault(status, code, message, retry_after))

    def limit(
        self, count: int, per_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Refuse sends, replies and updates past ``count`` in any ``per_s`` seconds in one
        conversation (several limits may hold at once), as ``clock`` tells the seconds."""
        self._limits.add("conversation", count, per_s)
        self._limits.clock = clock

    @property
    def limited(self) -> int:
        """Calls refused for going over a conversation's limit."""
        return self._limits.refused

    # --- what the bot did ------------------------------------------------------------------

    def in_conversation(self, conversation: str) -> list[Posted]:
        """What the bot sent to ``conversation`` (its threads included), in order."""
        return [p for p in self.posted if p.conversation.split(THREAD_MARK)[0] == conversation]

    def cards(self, conversation: str) -> list[Posted]:
        """The cards the bot posted in ``conversation`` (not replies)."""
        return [
            p
            for p in self.in_conversation(conversation)
            if p.card is not None and p.reply_to is None
        ]

    def replies(self, conversation: str) -> list[str]:
        """The text the bot sent in ``conversation`` besides cards, in order."""
        return [p.text for p in self.in_conversation(conversation) if p.card is None]

    def connector_calls(self) -> list[Call]:
        """Calls to the Bot Connector (not the token endpoint or the keys)."""
        return [c for c in self.calls if c.path.startswith("/v3/")]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds; it is checked after every call the fake answers."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    # --- the tokens the Bot Connector signs ------------------------------------------------

    def bearer(
        self,
        *,
        service_url: str | None = None,
        audience: str = APP_ID,
        issuer: str = ISSUER,
        expires_in_s: float = 3600,
        key: rsa.RSAPrivateKey | None = None,
        kid: str = KID,
    ) -> str:
        """An ``Authorization`` header as the Bot Connector sends it (every part overridable)."""
        now = time.time()
        claims = {
            "iss": issuer,
            "aud": audience,
            "serviceurl": service_url if service_url is not None else self.service_url,
            "nbf": int(now) - 60,
            "iat": int(now) - 60,
            "exp": int(now + expires_in_s),
        }
        token = jwt.encode(claims, key or signing_key(), algorithm="RS256", headers={"kid": kid})
        return f"Bearer {token}"

    # --- people doing things: the activities Teams would send ------------------------------

    def message(
        self,
        person: Person,
        text: str,
        *,
        conversation: str | None = None,
        mentions: tuple[Person | str, ...] = (),
        value: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``person`` writes ``text`` in ``conversation`` (their 1:1 chat by default).

        ``mentions``: the people (or ``"bot"``) whose ``<at>name</at>`` is in ``text``.
        """
        where = conversation or self.personal_chat(person)
        doc = self._activity("message", person, where)
        doc["text"] = text
        doc["textFormat"] = "plain"
        entities = []
        for named in mentions:
            mentioned = (
                {"id": BOT, "name": "ackgate"}
                if named == "bot"
                else {"id": named.id, "name": named.name}
                if isinstance(named, Person)
                else {}
            )
            entities.append(
                {"type": "mention", "text": f"<at>{mentioned['name']}</at>", "mentioned": mentioned}
            )
        if entities:
            doc["entities"] = entities
        if value is not None:
            doc["value"] = value
        return doc

    def invoke(
        self,
        person: Person,
        card: Posted,
        verb: str,
        data: dict[str, Any],
    ) -> dict[str, Any]:
        """``person`` presses an Action.Execute of ``card``: the ``adaptiveCard/action``."""
        doc = self._activity("invoke", person, card.conversation)
        doc["name"] = "adaptiveCard/action"
        doc["replyToId"] = card.id
        doc["value"] = {
            "action": {"type": "Action.Execute", "verb": verb, "data": data},
            "trigger": "manual",
        }
        return doc

    def added(self, person: Person, conversation: str = CHANNEL) -> dict[str, Any]:
        """The bot is added to ``conversation`` by ``person``: a ``conversationUpdate``."""
        doc = self._activity("conversationUpdate", person, conversation)
        doc["membersAdded"] = [{"id": BOT}]
        return doc

    def _activity(self, kind: str, person: Person, conversation: str) -> dict[str, Any]:
        # Someone writing in their 1:1 chat with the bot: that chat exists from then on.
        kind_of = self.conversations.setdefault(conversation.split(THREAD_MARK)[0], "personal")
        return {
            "type": kind,
            "id": f"f:{uuid.uuid4().hex[:16]}",
            "timestamp": "2026-03-01T10:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": person.account(),
            "recipient": {"id": BOT, "name": "ackgate"},
            "conversation": {
                "id": conversation,
                "conversationType": kind_of,
                "tenantId": TENANT,
            },
            "channelData": {"tenant": {"id": TENANT}},
            "locale": "en-US",
        }

    # --- the handlers ----------------------------------------------------------------------

    async def _openid(self, request: web.Request) -> web.Response:
        self._record(request, None)
        if self.metadata_status != 200:
            return web.json_response({"error": "unavailable"}, status=self.metadata_status)
        return web.json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.url}{self.prefix}/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self._record(request, None)
        self.key_fetches += 1
        jwk = RSAAlgorithm.to_jwk(signing_key().public_key(), as_dict=True)
        return web.json_response(
            {"keys": [{**jwk, "kid": KID, "use": "sig", "endorsements": ["msteams"]}]}
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self._record(request, {k: v for k, v in form.items() if k != "client_secret"})
        if request.match_info["tenant"] != TENANT:
            return _aad_error(400, "invalid_request", "AADSTS90002: Tenant not found.")
        if form.get("grant_type") != "client_credentials" or form.get("scope") != SCOPE:
            return _aad_error(400, "invalid_request", "AADSTS900144: bad grant or scope.")
        if form.get("client_id") != APP_ID or form.get("client_secret") != APP_PASSWORD:
            return _aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret.")
        token = f"fake-outbound-token-{next(self._token_numbers)}"
        self.tokens.append(token)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        )

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._check(request, body)
        if refused is not None:
            return refused
        [member] = body.get("members") or [{}]
        person = next(
            (p for p in self.people.values() if member.get("id") in (p.id, p.aad_object_id)),
            None,
        )
        if body.get("tenantId") != TENANT or body.get("bot", {}).get("id") != BOT:
            return _bf_error(400, "BadArgument", "Invalid tenant or bot.")
        if person is None:
            return _bf_error(404, "NotFound", "User not found.")
        if not person.installed:
            return _bf_error(403, "Forbidden", "The bot is not installed for this user.")
        conversation = self.personal_chat(person)
        self.conversations[conversation] = "personal"
        return await self._done(web.json_response({"id": conversation}, status=201))

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._check(request, body)
        if refused is not None:
            return refused
        conversation = request.match_info["conv"]
        if conversation.split(THREAD_MARK)[0] not in self.conversations:
            return _bf_error(404, "ConversationNotFound", "Conversation not found.")
        reply_to = request.match_info.get("id")
        if reply_to is not None and body.get("replyToId") != reply_to:
            return _bf_error(400, "BadArgument", "replyToId does not match the path.")
        posted = Posted(conversation, str(next(self._ids)), body, reply_to)
        self.posted.append(posted)
        return await self._done(web.json_response({"id": posted.id}, status=201))

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._check(request, body)
        if refused is not None:
            return refused
        conversation, activity_id = request.match_info["conv"], request.match_info["id"]
        found = next(
            (p for p in self.posted if p.conversation == conversation and p.id == activity_id),
            None,
        )
        if found is None:
            return _bf_error(404, "ActivityNotFoundInConversation", "Activity not found.")
        if body.get("id") != activity_id:
            return _bf_error(400, "BadArgument", "The activity id does not match the path.")
        found.updates.append(body)
        return await self._done(web.json_response({"id": activity_id}))

    async def _member(self, request: web.Request) -> web.Response:
        """``GET …/members/{userId}``: a member of a known conversation's roster (everyone in
        the tenant is in every conversation here), as ``TeamsChannelAccount``."""
        refused = self._check(request, None)
        if refused is not None:
            return refused
        if request.match_info["conv"].split(THREAD_MARK)[0] not in self.conversations:
            return _bf_error(404, "ConversationNotFound", "Conversation not found.")
        wanted = request.match_info["user"]
        person = next((p for p in self.people.values() if wanted in (p.id, p.aad_object_id)), None)
        if person is None:
            return _bf_error(404, "MemberNotFoundInConversation", "Member not found.")
        return web.json_response(
            {
                **person.account(),
                "givenName": person.name.split()[0],
                "email": person.address,
                "userPrincipalName": person.upn or person.address,
                "tenantId": TENANT,
                "userRole": "user",
            }
        )

    def roster_lookups(self) -> list[Call]:
        """The calls to the members endpoint, in order."""
        return [c for c in self.calls if "/members/" in c.path]

    def _check(self, request: web.Request, body: Any) -> web.Response | None:
        """Record the call, then refuse it as the Bot Connector would, if it would."""
        self._record(request, body)
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or given.removeprefix("Bearer ") not in self.tokens:
            return web.json_response(
                {"message": "Authorization has been denied for this request."}, status=401
            )
        if self.faults:
            fault = self.faults.popleft()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return _bf_error(fault.status, fault.code, fault.message, headers)
        conversation = request.match_info.get("conv")
        if conversation is not None and request.method in ("POST", "PUT"):
            wait_s = self._limits.take("conversation", conversation.split(THREAD_MARK)[0])
            if wait_s is not None:
                return _bf_error(
                    429,
                    "Throttled",
                    "Too many requests to this conversation.",
                    {"Retry-After": str(wait_s)},
                )
        return None

    def _record(self, request: web.Request, body: Any) -> None:
        self.calls.append(
            Call(request.method, request.path, body, request.headers.get("Authorization", ""))
        )

    async def _done(self, response: web.Response) -> web.Response:
        async with self._changed:
            self._changed.notify_all()
        return response


def _bf_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def _aad_error(status: int, code: str, description: str) -> web.Response:
    return web.json_response(
        {"error": code, "error_description": description, "error_codes": [7000215]},
        status=status,
    )
