"""``ackgate send-test``: send one made-up incident to a destination, now, and say what happened."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import aiohttp

from gateway.bots import bot_message
from gateway.clock import SystemClock
from gateway.config import BOT_KINDS, Destination, ServiceSettings, Settings
from gateway.direct import DIRECT, address, direct_notice
from gateway.domain import Incident, Severity, Status, TimelineEntry
from gateway.errors import PlatformError
from gateway.masking import remember
from gateway.outbox import Job
from gateway.wire import card_json, entry_json, incident_json

_REF = re.compile(r"^services\.([^.\[\]]+)\.notify\[(\d+)\]$")
TEST_NUMBER = 0  # never a real incident's number


def parse_ref(settings: Settings, ref: str) -> tuple[str, Destination]:
    """``services.NAME.notify[N]``, ``destinations.NAME`` or just ``NAME`` (a destination)
    → (its service, or "" for a named one; the destination); raises ValueError saying why."""
    name = ref.removeprefix("destinations.")
    if name in settings.destinations:
        return "", settings.destinations[name]
    match = _REF.match(ref)
    if match is None:
        known = ", ".join(sorted(settings.destinations)) or "none"
        raise ValueError(
            "name a destination as services.<service>.notify[<n>] or by its name under "
            f"[destinations] (known: {known})"
        )
    service, index = match.group(1), int(match.group(2))
    if service not in settings.services:
        raise ValueError(f"no service named {service!r}")
    if index >= len(settings.services[service].notify):
        raise ValueError(
            f"services.{service} has {len(settings.services[service].notify)} destination(s)"
        )
    return service, settings.services[service].notify[index]


def canonical_ref(settings: Settings, ref: str) -> str:
    """The ref deliveries use for ``ref`` (``destinations.NAME`` for a bare name)."""
    name = ref.removeprefix("destinations.")
    return f"destinations.{name}" if name in settings.destinations else ref


def _test_incident(service: str, now: datetime) -> Incident:
    return Incident(
        number=TEST_NUMBER,
        title="ackgate test notice: nothing is wrong",
        description="Sent by `ackgate send-test` to check this destination.",
        severity=Severity.INFO,
        status=Status.TRIGGERED,
        service=service or "send-test",
        integration=None,
        created_at=now,
        updated_at=now,
        timeline=(TimelineEntry(at=now, kind="triggered", actor=None, source="send-test"),),
    )


def _person(settings: Settings, ref: str) -> tuple[str, str] | None:
    """``sms:alice`` / ``voice:alice`` / ``email:alice`` → (channel, member), else None."""
    channel, sep, member = ref.partition(":")
    if not sep or channel not in DIRECT:
        return None
    if channel not in settings.direct_channels():
        raise ValueError(f"[{channel}] is not configured")
    if member not in settings.members:
        raise ValueError(f"no member named {member!r}")
    if not address(settings, member, channel):
        what = "email" if channel == "email" else "phone"
        raise ValueError(f"members.{member} has no {what}")
    return channel, member


async def send_test(settings: Settings, ref: str) -> str:
    """Send the test notice to ``ref``; returns a line to print. Raises ValueError for bad refs.

    ``ref`` is a destination (``NAME``, ``destinations.NAME``, ``services.S.notify[N]``) or a
    person on a direct channel (``sms:alice``, ``voice:alice``, ``email:alice``).
    """
    remember(settings)  # a refusal is printed as the platform worded it, secrets masked
    now = SystemClock().now()
    person = _person(settings, ref)
    if person is not None:
        channel, member = person
        incident = _test_incident("", now)
        found = direct_notice(
            settings,
            None,
            incident,
            incident.timeline[0],
            member,
            channel,
            f"{settings.server.base_url}/incidents",
            now,
        )
        assert found is not None
        to, notice = found
        test = {"event_id": "send-test", "event": "incident.test", "test": True}
        return await _send(settings, channel, to, {**notice, **test}, ref)
    service, dest = parse_ref(settings, ref)
    ref = canonical_ref(settings, ref)
    label = f"{ref} [{dest.alias}]" if dest.alias else ref
    incident = _test_incident(service, now)
    page = f"{settings.server.base_url}/incidents"
    if dest.kind in BOT_KINDS:
        destination: dict[str, object] = {"ref": ref, "alias": dest.alias}
        if dest.chat_ids:
            destination["chat"] = dest.chat_ids[0]
        entry = incident.timeline[0]
        # A test goes out whatever the bot's filters say: it is asked for by hand.
        unfiltered = dest.model_copy(update={"events": None, "severities": None})
        message = bot_message(
            settings, ServiceSettings(), incident, entry, unfiltered, {}, page, now
        )
        assert message is not None
        payload: dict[str, object] = {
            "event_id": "send-test",
            "event": "incident.test",
            "message": message,
        }
    elif dest.kind == "webhook":
        destination = {"url": str(dest.url), "ref": ref}
        payload = {
            "event_id": "send-test",
            "event": "incident.test",
            "incident": incident_json(incident),
            "entry": entry_json(incident.timeline[0]),
            "url": page,
        }
    else:
        destination = {"chat": dest.chat or "", "ref": ref}
        payload = {
            "event_id": "send-test",
            "event": "incident.test",
            "op": "post",
            "incident": card_json(incident),
            "entry": entry_json(incident.timeline[0]),
            "url": page,
            "buttons": [],  # a test card acts on nothing (and number 0 is no incident)
        }
    return await _send(settings, dest.kind, destination, payload, label)


async def _send(
    settings: Settings,
    channel: str,
    destination: dict[str, object],
    payload: dict[str, object],
    label: str,
) -> str:
    from adapters.registry import build_senders  # noqa: PLC0415 - adapters load lazily

    timeout = aiohttp.ClientTimeout(total=settings.outbox.send_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        sender = build_senders(settings, session).get(channel)
        if sender is None:
            return f"FAILED {label} ({channel}): no sender for {channel} is set up"
        job = Job(
            delivery_id=0,
            incident_id=TEST_NUMBER,
            channel=channel,
            destination=destination,
            payload=payload,
            attempt=1,
        )
        started = SystemClock().now()
        try:
            result = await sender.send(job)
        except PlatformError as exc:
            return f"FAILED {label} ({channel}): {type(exc).__name__}: {exc}"
        finally:
            close = getattr(sender, "close", None)
            if close is not None:
                await close()
        took = (SystemClock().now() - started) / timedelta(milliseconds=1)
    where = f" in {result.chat_id}" if result.chat_id else ""
    return f"OK {label} ({channel}){where} in {took:.0f} ms"
