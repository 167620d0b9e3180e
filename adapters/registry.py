"""The one place that knows every sender: built lazily from what the configuration enables."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from aiohttp import web

from gateway.config import Settings
from gateway.outbox import Sender


def build_senders(settings: Settings, session: aiohttp.ClientSession) -> Mapping[str, Sender]:
    """Senders for every channel the configuration uses."""
    from adapters.webhook import WebhookSender  # noqa: PLC0415 - adapters load only when used

    secrets = {
        f"services.{name}.notify[{i}]": dest.secret.get_secret_value()
        for name, service in settings.services.items()
        for i, dest in enumerate(service.notify)
        if dest.secret is not None
    } | {
        f"destinations.{name}": dest.secret.get_secret_value()
        for name, dest in settings.destinations.items()
        if dest.secret is not None
    }
    senders: dict[str, Sender] = {"webhook": WebhookSender(session, secrets)}
    if settings.slack is not None:
        from adapters.slack.sender import SlackSender  # noqa: PLC0415

        senders["slack"] = SlackSender(settings.slack, session)
    from adapters.bots.sender import BotSender, bot_destinations  # noqa: PLC0415

    for kind in sorted({dest.kind for _ref, dest in bot_destinations(settings)}):
        senders[kind] = BotSender(kind, settings, session)
    return senders


def add_routes(app: web.Application, settings: Settings) -> None:
    """Register the inbound routes of every configured chat platform."""
    if settings.slack is not None:
        from adapters.slack.inbound import add_routes as add_slack_routes  # noqa: PLC0415

        add_slack_routes(app, settings.slack)
