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
    if settings.telegram is not None:
        from adapters.telegram.sender import TelegramSender  # noqa: PLC0415

        senders["telegram"] = TelegramSender(settings.telegram, session)
    if settings.lark is not None:
        from adapters.lark.sender import LarkSender  # noqa: PLC0415

        senders["lark"] = LarkSender(settings.lark, session)
    if settings.wecom is not None:
        from adapters.wecom.sender import WecomSender  # noqa: PLC0415

        senders["wecom"] = WecomSender(settings.wecom, session)
    if settings.zoom is not None:
        from adapters.zoom.sender import ZoomSender  # noqa: PLC0415

        senders["zoom"] = ZoomSender(
            settings.zoom, session, members=settings.members, plan=settings.zoom.plan
        )
    if settings.teams is not None:
        from adapters.teams.sender import TeamsSender  # noqa: PLC0415

        senders["teams"] = TeamsSender(settings, session)
    if settings.dingtalk is not None:
        from adapters.dingtalk.sender import DingtalkSender  # noqa: PLC0415

        senders["dingtalk"] = DingtalkSender(settings.dingtalk, session)
    if settings.email is not None:
        from adapters.email.sender import EmailSender  # noqa: PLC0415

        senders["email"] = EmailSender(settings.email)
    senders.update(_phone_senders(settings, session))
    from adapters.bots.sender import BotSender, bot_destinations  # noqa: PLC0415

    for kind in sorted({dest.kind for _ref, dest in bot_destinations(settings)}):
        senders[kind] = BotSender(kind, settings, session)
    return senders


def _phone_senders(settings: Settings, session: aiohttp.ClientSession) -> dict[str, Sender]:
    """SMS and voice senders: Twilio (one client when both use one account) or HTTP."""
    found: dict[str, Sender] = {}
    twilio_api: dict[str, object] = {}
    for channel, section in (("sms", settings.sms), ("voice", settings.voice)):
        if section is None:
            continue
        if section.provider == "http":
            from adapters.http_provider import HttpSms  # noqa: PLC0415

            assert section.http is not None
            found[channel] = HttpSms(section.http, session, channel)
            continue
        from adapters.twilio.sender import TwilioApi, TwilioSms, TwilioVoice  # noqa: PLC0415

        account = section.twilio
        assert account is not None
        api = twilio_api.get(account.account_sid)
        if not isinstance(api, TwilioApi):
            api = TwilioApi(account, session=session)
            twilio_api[account.account_sid] = api
        kind = TwilioSms if channel == "sms" else TwilioVoice
        found[channel] = kind(account, settings.server.base_url, api=api)
    return found


def add_routes(app: web.Application, settings: Settings) -> None:
    """Register the inbound routes of every configured chat platform."""
    if settings.slack is not None:
        from adapters.slack.inbound import add_routes as add_slack_routes  # noqa: PLC0415

        add_slack_routes(app, settings.slack)
    if settings.telegram is not None:
        from adapters.telegram.inbound import add_routes as add_telegram_routes  # noqa: PLC0415

        add_telegram_routes(app, settings.telegram)
    if settings.lark is not None:
        from adapters.lark.inbound import add_routes as add_lark_routes  # noqa: PLC0415

        add_lark_routes(app, settings.lark)
    if settings.wecom is not None:
        from adapters.wecom.inbound import add_routes as add_wecom_routes  # noqa: PLC0415

        add_wecom_routes(app, settings.wecom)
    if settings.zoom is not None:
        from adapters.zoom.inbound import add_routes as add_zoom_routes  # noqa: PLC0415

        add_zoom_routes(app, settings.zoom)
    if settings.teams is not None:
        from adapters.teams.inbound import add_routes as add_teams_routes  # noqa: PLC0415

        add_teams_routes(app, settings.teams)
    if settings.dingtalk is not None:
        from adapters.dingtalk.inbound import add_routes as add_dingtalk_routes  # noqa: PLC0415

        add_dingtalk_routes(app, settings.dingtalk)
    twilio = any(
        section is not None and section.provider == "twilio"
        for section in (settings.sms, settings.voice)
    )
    if twilio:
        from adapters.twilio.inbound import add_routes as add_twilio_routes  # noqa: PLC0415

        add_twilio_routes(app, settings)
