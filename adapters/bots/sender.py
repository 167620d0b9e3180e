"""The one sender for every bot kind: looks up the bot's webhook, has its kind write the
requests, sends them, and lets the kind read the answers."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters.bots.message import BotKind, BotMessage, BotTarget, Digest, Mention
from gateway.config import BOT_KINDS, TELEGRAM_API, Destination, Settings
from gateway.errors import Rejected, Unavailable
from gateway.outbox import Job, Pace, SendResult

# kind → (module, class): each kind is imported only when a bot of that kind is configured.
KINDS = {
    "lark_bot": ("adapters.bots.lark", "LarkBot"),
    "dingtalk_bot": ("adapters.bots.dingtalk", "DingtalkBot"),
    "wecom_bot": ("adapters.bots.wecom", "WecomBot"),
    "slack_bot": ("adapters.bots.slack", "SlackBot"),
    "zoom_bot": ("adapters.bots.zoom", "ZoomBot"),
    "telegram_bot": ("adapters.bots.telegram", "TelegramBot"),
}


def load_kind(name: str) -> BotKind:
    """The protocol object for bot kind ``name``."""
    module, cls = KINDS[name]
    kind: BotKind = getattr(importlib.import_module(module), cls)()
    return kind


def bot_destinations(settings: Settings) -> Iterator[tuple[str, Destination]]:
    """Every configured bot with the ref deliveries name it by."""
    for name, dest in settings.destinations.items():
        if dest.kind in BOT_KINDS:
            yield f"destinations.{name}", dest
    for service, svc in settings.services.items():
        for i, dest in enumerate(svc.notify):
            if dest.kind in BOT_KINDS:
                yield f"services.{service}.notify[{i}]", dest


def target_of(ref: str, dest: Destination) -> BotTarget:
    """Where ``dest`` posts, with its secrets, as the kinds take it."""
    url = str(dest.url) if dest.url is not None else TELEGRAM_API
    return BotTarget(
        name=dest.alias or ref,
        url=url.rstrip("/") if dest.kind == "telegram_bot" else url,
        secret=dest.secret.get_secret_value() if dest.secret else None,
        token=dest.token.get_secret_value() if dest.token else None,
        chat_ids=tuple(dest.chat_ids),
    )


def message_of(doc: Mapping[str, Any]) -> BotMessage:
    """A delivery's ``message`` back as the kinds take it."""
    return BotMessage(
        number=int(doc["number"]),
        title=str(doc["title"]),
        text=str(doc["text"]),
        severity=str(doc["severity"]),
        status=str(doc["status"]),
        event=str(doc["event"]),
        url=str(doc["url"]),
        mentions=tuple(
            Mention(
                member=str(m["member"]),
                name=str(m.get("name") or m["member"]),
                user_id=m.get("user_id"),
                phone=m.get("phone"),
            )
            for m in doc.get("mentions") or ()
        ),
        at_all=bool(doc.get("at_all")),
    )


class BotSender:
    """Sends one bot kind's deliveries (``channel`` is the kind, e.g. ``wecom_bot``)."""

    def __init__(self, kind: str, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.channel = kind
        self._kind = load_kind(kind)
        self._session = session
        self._targets = {
            ref: target_of(ref, dest)
            for ref, dest in bot_destinations(settings)
            if dest.kind == kind
        }

    def pace(self, job: Job) -> Pace:
        """Each bot (each of its chats) is capped on its own, at its platform's limit."""
        limit = self._kind.limit
        destination = job.destination
        key = f"{self.channel}:{destination.get('ref')}:{destination.get('chat') or ''}"
        return Pace(key, limit.count, limit.per_s, burst=limit.burst)

    async def send(self, job: Job) -> SendResult:
        """Post the job's message (or digest) to its bot; raises PlatformError subclasses."""
        ref = str(job.destination.get("ref"))
        target = self._targets.get(ref)
        if target is None:
            raise Rejected(f"{ref} is no longer configured", code="unknown_destination")
        chat = job.destination.get("chat")
        if chat:
            target = replace(target, chat_ids=(str(chat),))
        payload = job.payload
        message: BotMessage | Digest
        if "digest" in payload:
            message = Digest(
                messages=tuple(message_of(m) for m in payload["digest"]),
                headline=str(payload.get("headline") or ""),
            )
        else:
            message = message_of(payload["message"])
        for request in self._kind.requests(target, message, datetime.now(UTC)):
            try:
                async with self._session.request(
                    request.method,
                    request.url,
                    json=dict(request.json),
                    headers=dict(request.headers),
                ) as answer:
                    body = await answer.read()
                    status, headers = answer.status, dict(answer.headers)
            except aiohttp.ClientError as exc:
                raise Unavailable(f"{self.channel}: {type(exc).__name__}: {exc}") from None
            self._kind.check(status, body, headers)
        return SendResult()
