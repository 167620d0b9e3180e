"""Twilio's signed webhooks: SMS replies and keypad presses act on incidents, status callbacks
report pages that never reached their person."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml import TwiML  # type: ignore[import-untyped]
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from adapters.twilio import SMS_PATH, SMS_STATUS_PATH, VOICE_PATH, VOICE_STATUS_PATH
from adapters.twilio.sender import keypad_twiml
from gateway import messages, queries
from gateway.actions import perform
from gateway.config import Settings
from gateway.contacts import last_incident, member_by_phone
from gateway.domain import ActionRequest, Verb
from gateway.errors import ActionRefused, Forbidden, InboundError, MalformedPayload, NotFound
from gateway.fallback import not_reached
from gateway.runtime import Runtime
from gateway.templates import render, variables
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

LANG = "en"
PLATFORM = "twilio"  # the namespace of the callback ids that make a repeated webhook a no-op
SIGNATURE_HEADER = "X-Twilio-Signature"
FAILED_SMS = frozenset({"undelivered", "failed"})
# A call that ended like this never reached its person; "completed" did, key or no key.
FAILED_CALL = frozenset({"busy", "no-answer", "failed", "canceled"})
_SMS_VERBS = {"ack": Verb.ACK, "a": Verb.ACK, "acknowledge": Verb.ACK}
_SMS_VERBS |= {"close": Verb.CLOSE, "c": Verb.CLOSE}
_KEYS = {"1": Verb.ACK, "2": Verb.ESCALATE}
REPEAT_KEY = "3"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_routes(app: web.Application, settings: Settings) -> None:
    """Register the Twilio webhooks of the channels that use Twilio.

    SMS (``settings.sms`` with provider ``twilio``): ``POST /hooks/sms/twilio`` (replies)
    and ``POST /hooks/sms/twilio/status``. Voice: ``POST /hooks/voice/twilio`` (the key
    pressed) and ``POST /hooks/voice/twilio/status``. Each checks ``X-Twilio-Signature``
    against its account's auth token.
    """
    hooks = TwilioHooks(settings)
    if hooks.sms_token is not None:
        app.router.add_post(SMS_PATH, _never_500("sms_error")(hooks.sms))
        app.router.add_post(SMS_STATUS_PATH, _never_500(None)(hooks.sms_status))
    if hooks.voice_token is not None:
        app.router.add_post(VOICE_PATH, _never_500("voice_error")(hooks.voice))
        app.router.add_post(VOICE_STATUS_PATH, _never_500(None)(hooks.voice_status))


def _twilio_token(section: object) -> str | None:
    """The auth token of an ``[sms]``/``[voice]`` section that uses Twilio."""
    twilio = getattr(section, "twilio", None)
    if getattr(section, "provider", None) != "twilio" or twilio is None:
        return None
    token: str = twilio.auth_token.get_secret_value()
    return token


@dataclass(frozen=True, slots=True)
class SmsCommand:
    """A text reply, understood: ``help``, or a verb on an incident (None: the last one)."""

    verb: Verb | None
    number: int | None = None


def parse_sms(body: str) -> SmsCommand | None:
    """``ack 42``, ``close #42``, ``a``, ``c``, ``help`` (any case); None if not understood."""
    words = body.strip().lower().split()
    if not words or (len(words) == 1 and words[0] in ("help", "h", "?")):
        return SmsCommand(None)
    verb = _SMS_VERBS.get(words[0])
    if verb is None or len(words) > 2:
        return None
    if len(words) == 1:
        return SmsCommand(verb)
    number = words[1].removeprefix("#")
    if not number.isdigit() or len(number) > 12:
        return None
    return SmsCommand(verb, int(number))


def _answer(twiml: TwiML | str) -> web.Response:
    return web.Response(text=str(twiml), content_type="text/xml")


def _sms_reply(text: str) -> web.Response:
    response = MessagingResponse()
    response.message(text)
    return _answer(response)


def _spoken(*texts: str, hang_up: bool = True) -> web.Response:
    response = VoiceResponse()
    for text in texts:
        response.say(text)
    if hang_up:
        response.hangup()
    return _answer(response)


def _never_500(apology: str | None) -> Callable[[Handler], Handler]:
    """Answer TwiML (``apology`` said or texted, else an empty ``<Response/>``) when the
    handler fails unexpectedly: Twilio shows a 500 to nobody, and the person hears why."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except (InboundError, web.HTTPException):
                raise
            except Exception:  # the webhook must still answer TwiML
                log.exception("twilio webhook %s failed", request.path)
                if apology is None:
                    return _answer(MessagingResponse())
                text = messages.text(apology, LANG)
                if request.path.startswith(VOICE_PATH):
                    return _spoken(text)
                return _sms_reply(text)

        return guarded

    return wrap


class TwilioHooks:
    """The handlers; the runtime comes from the app, the tokens from the configuration."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.server.base_url
        self.sms_token = _twilio_token(settings.sms)
        self.voice_token = _twilio_token(settings.voice)

    async def _verified(self, request: web.Request, token: str | None) -> MultiDictProxy[str]:
        """The form Twilio posted, once its signature over the public URL checks out."""
        try:
            posted = await request.post()
        except ValueError as exc:  # a body that is no form at all
            raise MalformedPayload(f"not a form: {exc}") from None
        form = MultiDictProxy(MultiDict((k, v) for k, v in posted.items() if isinstance(v, str)))
        signature = request.headers.get(SIGNATURE_HEADER)
        # Twilio signed the URL it was given (public_url based), not the one we see behind
        # a proxy.
        url = self.base_url + request.raw_path
        if not token or not signature or not RequestValidator(token).validate(url, form, signature):
            log.warning("twilio webhook %s: missing or invalid signature", request.path)
            raise Forbidden("invalid X-Twilio-Signature")
        return form

    # --- text messages -----------------------------------------------------------------------

    async def sms(self, request: web.Request) -> web.Response:
        """A text to our number: act as the member whose phone sent it, answer in a reply.

        Strangers get an empty ``<Response/>``: they learn nothing, nothing changes.
        """
        form = await self._verified(request, self.sms_token)
        sender, body = form.get("From"), form.get("Body")
        if not sender or body is None:
            raise MalformedPayload("From and Body are required")
        rt = request.app[RUNTIME]
        member = member_by_phone(rt.settings, sender)
        if member is None:
            log.info("sms from a number no member has; ignored")
            return _answer(MessagingResponse())
        return _sms_reply(await self._sms_answer(rt, member, sender, body, form.get("MessageSid")))

    async def _sms_answer(
        self, rt: Runtime, member: str, sender: str, body: str, message_sid: str | None
    ) -> str:
        command = parse_sms(body)
        if command is None:
            return messages.text("sms_unknown_command", LANG, text=body.strip()[:40])
        if command.verb is None:
            return messages.text("sms_help", LANG)
        number = command.number
        if number is None:
            number = await self._last_sent(rt, member, sender)
            if number is None:
                return messages.text("sms_no_recent", LANG)
        request = ActionRequest(
            number,
            command.verb,
            source="sms",
            member=member,
            platform=PLATFORM if message_sid else None,
            callback_id=message_sid,
        )
        try:
            return (await perform(rt, request, LANG)).message
        except (ActionRefused, NotFound) as refusal:
            return refusal.message

    async def _last_sent(self, rt: Runtime, member: str, sender: str) -> int | None:
        """The incident last texted to the member (their number as configured, else as
        Twilio writes it)."""
        phone = rt.settings.members[member].phone
        for to in dict.fromkeys(p for p in (phone, sender) if p):
            found = await last_incident(rt, "sms", to)
            if found is not None:
                return found
        return None

    async def sms_status(self, request: web.Request) -> web.Response:
        """A message's status: undelivered or failed means its person was not reached."""
        form = await self._verified(request, self.sms_token)
        delivery = _delivery_id(request)
        status = form.get("MessageStatus") or form.get("SmsStatus")
        if not status:
            raise MalformedPayload("MessageStatus is required")
        if status in FAILED_SMS:
            code = form.get("ErrorCode")
            reason = f"sms {status}" + (f" ({code})" if code else "")
            await not_reached(request.app[RUNTIME], delivery, reason)
        return _answer(MessagingResponse())

    # --- phone calls ---------------------------------------------------------------------------

    async def voice(self, request: web.Request) -> web.Response:
        """The key pressed during a call: 1 acknowledge, 2 escalate, 3 repeat, else the menu.

        The callee's number (``To``) says who acts; ``?n=`` which incident.
        """
        form = await self._verified(request, self.voice_token)
        number = _int(request.query.get("n"))
        callee = form.get("To")
        if number is None or not callee:
            raise MalformedPayload("the query needs n and the form To")
        rt = request.app[RUNTIME]
        member = member_by_phone(rt.settings, callee)
        if member is None:
            return _spoken(messages.text("voice_not_linked", LANG))
        action = self.base_url + request.raw_path  # listen again at the same URL
        digits = form.get("Digits", "").strip()
        if digits == REPEAT_KEY:
            script = await self._script(rt, number)
            if script is None:
                return _spoken(messages.text("not_found", LANG, number=number))
            return _answer(keypad_twiml(script, action))
        verb = _KEYS.get(digits)
        if verb is None:
            menu = messages.text("voice_menu", LANG)
            if digits:
                menu = f"{messages.text('voice_bad_key', LANG, digits=digits)} {menu}"
            return _answer(keypad_twiml(menu, action))
        call_sid = form.get("CallSid")
        request_ = ActionRequest(
            number,
            verb,
            source="voice",
            member=member,
            platform=PLATFORM if call_sid else None,
            callback_id=f"{call_sid}:{digits}" if call_sid else None,
        )
        try:
            outcome = await perform(rt, request_, LANG)
        except NotFound as missing:
            return _spoken(missing.message)
        except ActionRefused as refusal:
            menu = messages.text("voice_menu", LANG)
            return _answer(keypad_twiml(f"{refusal.message.rstrip('.')}. {menu}", action))
        return _spoken(outcome.message, messages.text("voice_goodbye", LANG))

    async def _script(self, rt: Runtime, number: int) -> str | None:
        """What the call reads for the incident as it is now (the service's voice template)."""
        incident = await queries.incident(rt, number)
        if incident is None:
            return None
        service = rt.settings.services.get(incident.service)
        names = {m: s.name or m for m, s in rt.settings.members.items()}
        values = variables(
            incident,
            event="triggered",
            detail_url=f"{self.base_url}/incidents/{number}",
            member_names=names,
            now=rt.clock.now(),
        )
        templates = service.templates if service is not None else None
        return render(templates, "voice", "triggered", values).text

    async def voice_status(self, request: web.Request) -> web.Response:
        """A call ended: busy, no answer, failed or canceled means its person was not
        reached; a completed call did reach them (whether or not a key was pressed)."""
        form = await self._verified(request, self.voice_token)
        delivery = _delivery_id(request)
        status = form.get("CallStatus")
        if not status:
            raise MalformedPayload("CallStatus is required")
        if status in FAILED_CALL:
            await not_reached(request.app[RUNTIME], delivery, f"call {status}")
        return _answer(VoiceResponse())


def _int(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _delivery_id(request: web.Request) -> int:
    delivery = _int(request.query.get("d"))
    if delivery is None:
        raise MalformedPayload("the query needs d, the delivery id")
    return delivery
