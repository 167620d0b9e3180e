"""The one place that knows every sender: built lazily from what the configuration enables."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

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
    }
    return {"webhook": WebhookSender(session, secrets)}
