"""The ``ackgate`` command: serve, check-config, db upgrade, link, simulate."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.config import Settings, load_settings, split_listen
from gateway.errors import ConfigError, MalformedPayload

DEFAULT_CONFIG = os.environ.get("ACKGATE_CONFIG", "ackgate.toml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ackgate", description="Chat-first on-call gateway.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", default=DEFAULT_CONFIG, help="TOML file (default %(default)s)")
        p.add_argument("--database-url", help="overrides database.url")
        return p

    serve = with_config(sub.add_parser("serve", help="run the gateway"))
    serve.add_argument("--listen", help="HOST:PORT, overrides server.listen")
    with_config(sub.add_parser("check-config", help="validate the configuration file"))
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    with_config(db_sub.add_parser("upgrade", help="apply pending migrations"))
    link = with_config(sub.add_parser("link", help="print a signed link to an incident page"))
    link.add_argument("incident", help="incident number, e.g. 42")
    link.add_argument("--member", required=True, help="the member the link acts as")
    link.add_argument("--ttl", default=None, help="lifetime, e.g. 90m, 24h, 7d")
    test = with_config(sub.add_parser("send-test", help="send a test notice to a destination"))
    test.add_argument("destination", help="e.g. services.default.notify[0]")
    sim = with_config(sub.add_parser("simulate", help="show what an alert payload would do"))
    sim.add_argument("alert", type=Path, help="JSON file as the monitoring tool would send it")
    sim.add_argument("--integration", help="integration name (default: the only one)")
    sim.add_argument("--at", help="when the alert arrives (RFC 3339; default now)")
    sim.add_argument("--until", default="2h", help="how far ahead to list notices (2h)")
    preview = with_config(sub.add_parser("preview", help="render a notification template"))
    preview.add_argument("--event", default="triggered", help="event type (triggered)")
    preview.add_argument("--channel", default="slack", help="channel kind (slack, sms, …)")
    preview.add_argument("--service", help="use this service's templates (default: built-in)")
    preview.add_argument("--alert", type=Path, help="render this alert payload, not a sample")
    preview.add_argument("--integration", help="the integration --alert comes from")
    preview.add_argument(
        "--json", action="store_true", help="print what the platform would get (slack)"
    )
    mapping = sub.add_parser("mapping", help="IM accounts of members (for @mentions)")
    mapping_sub = mapping.add_subparsers(dest="mapping_command", required=True)
    imp = with_config(mapping_sub.add_parser("import", help="link accounts from a CSV file"))
    imp.add_argument("file", type=Path, help="CSV: email, platform, im_id, phone")
    imp.add_argument("--workspace", default="", help="the team/tenant id the ids belong to")
    with_config(mapping_sub.add_parser("list", help="every linked account"))
    telegram = sub.add_parser("telegram", help="Telegram helpers")
    telegram_sub = telegram.add_subparsers(dest="telegram_command", required=True)
    with_config(telegram_sub.add_parser("chats", help="chat ids the bot has seen lately"))
    oncall = with_config(sub.add_parser("oncall", help="who is on call on a schedule"))
    oncall.add_argument("schedule", help="the schedule's name")
    oncall.add_argument("--at", help="at this time (RFC 3339; default now)")
    oncall.add_argument("--days", type=int, default=7, help="list the shifts of this many days")
    oncall.add_argument(
        "--feed", action="store_true", help="print the iCal feed URL to subscribe to"
    )
    oncall.add_argument(
        "--import-ics",
        type=Path,
        metavar="FILE",
        help="read a calendar's events as overrides and print them as TOML to add",
    )
    oncall.add_argument("--days-ahead", type=int, default=90, help="for --import-ics (90)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database.url"] = args.database_url
    if getattr(args, "listen", None):
        overrides["server.listen"] = args.listen
    return load_settings(Path(args.config), overrides)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        if args.command == "check-config":
            for line in exc.errors:
                print(line)
        else:
            print("ackgate: invalid configuration:", file=sys.stderr)
            for line in exc.errors:
                print(f"  {line}", file=sys.stderr)
        return 1
    if args.command == "check-config":
        print("OK")
        return 0
    if args.command == "serve":
        return _serve(settings)
    if args.command == "db":
        from storage.migrate import upgrade  # noqa: PLC0415

        asyncio.run(upgrade(settings.database.url, settings.database.schema_name))
        print("database is up to date")
        return 0
    if args.command == "link":
        return _link(settings, args)
    if args.command == "send-test":
        return _send_test(settings, args.destination)
    if args.command == "oncall":
        return _oncall(settings, args)
    if args.command == "mapping":
        return asyncio.run(_mapping(settings, args))
    if args.command == "telegram":
        return _telegram_chats(settings)
    if args.command == "preview":
        return _preview(settings, args)
    return _simulate(settings, args)


async def _mapping(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.mapping import import_csv, listing  # noqa: PLC0415
    from gateway.runtime import Runtime  # noqa: PLC0415
    from gateway.web.app import sync_members  # noqa: PLC0415
    from storage.engine import Database  # noqa: PLC0415
    from storage.migrate import upgrade  # noqa: PLC0415

    text = ""
    if args.mapping_command == "import":
        try:
            text = args.file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"ackgate: cannot read {args.file}: {exc}", file=sys.stderr)
            return 1
    db_settings = settings.database
    await upgrade(db_settings.url, db_settings.schema_name)
    rt = Runtime(settings=settings, db=Database(db_settings.url, schema=db_settings.schema_name))
    try:
        await sync_members(rt)
        if args.mapping_command == "list":
            for line in await listing(rt):
                print(line)
            return 0
        report = await import_csv(rt, text, args.workspace)
    finally:
        await rt.close()
        await rt.db.dispose()
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    print(report.summary())
    return 0 if not report.problems else 1


def _telegram_chats(settings: Settings) -> int:
    if settings.telegram is None:
        print("ackgate: [telegram] is not configured", file=sys.stderr)
        return 1
    from adapters.telegram.chats import list_chats  # noqa: PLC0415
    from gateway.errors import PlatformError  # noqa: PLC0415

    try:
        lines = asyncio.run(list_chats(settings.telegram))
    except PlatformError as exc:
        print(f"ackgate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    if not lines:
        print("no chats seen: add the bot to a group or message it, then run this again")
    return 0


def _preview(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.templates import CHANNEL_KINDS, render, sample_incident, variables  # noqa: PLC0415

    if args.channel not in CHANNEL_KINDS:
        print(f"ackgate: --channel: one of {', '.join(CHANNEL_KINDS)}", file=sys.stderr)
        return 1
    templates = None
    if args.service is not None:
        service = settings.services.get(args.service)
        if service is None:
            print(f"ackgate: no service named {args.service!r}", file=sys.stderr)
            return 1
        templates = service.templates
    now = datetime.now(UTC)
    incident = sample_incident(now, args.event)
    if args.alert is not None:
        try:
            incident = _incident_from_alert(settings, args, now)
        except (OSError, ValueError, MalformedPayload) as exc:
            print(f"ackgate: {args.alert}: {exc}", file=sys.stderr)
            return 1
    names = {m: s.name or m for m, s in settings.members.items()}
    url = f"{settings.server.base_url}/incidents/{incident.number}"
    try:
        done = render(
            templates,
            args.channel,
            args.event,
            variables(incident, event=args.event, detail_url=url, member_names=names, now=now),
        )
    except ValueError as exc:
        print(f"ackgate: {exc}", file=sys.stderr)
        return 1
    if args.json:
        if args.channel != "slack":
            print("ackgate: --json is for --channel slack", file=sys.stderr)
            return 1
        from cards.build import Viewer, build_card  # noqa: PLC0415
        from cards.render.slack import render_message  # noqa: PLC0415
        from gateway.wire import card_json  # noqa: PLC0415

        card = {**card_json(incident), "body": done.text}
        message = render_message(build_card(card, Viewer(link=url)))
        print(json.dumps(message, indent=2, ensure_ascii=False))
    else:
        print(done.text)
    if done.truncated:
        print(f"(cut to the {args.channel} budget)", file=sys.stderr)
    if done.error:
        print(f"ackgate: template failed, built-in used: {done.error}", file=sys.stderr)
        return 1
    return 0


def _incident_from_alert(settings: Settings, args: argparse.Namespace, now: datetime) -> Any:
    """An incident as the first alert of ``--alert`` would open it (nothing is stored)."""
    from dataclasses import replace  # noqa: PLC0415

    from gateway.domain import Status  # noqa: PLC0415
    from gateway.ingest.formats import parse  # noqa: PLC0415
    from gateway.routing import route  # noqa: PLC0415
    from gateway.templates import sample_incident  # noqa: PLC0415

    name = args.integration or next(iter(settings.integrations), None)
    if name is None or name not in settings.integrations:
        raise ValueError("name the integration with --integration")
    integ = settings.integrations[name]
    batch = parse(integ.format, json.loads(args.alert.read_text(encoding="utf-8")), integ)
    if not batch.events:
        raise ValueError("no alerts in it")
    first = batch.events[0]
    sample = sample_incident(now)
    alerts = tuple(
        replace(
            sample.alerts[0],
            dedup_key=e.dedup_key,
            title=e.title,
            description=e.description,
            severity=e.severity,
            labels=dict(e.labels),
            details=dict(e.details),
            starts_at=e.starts_at,
            source_url=e.source_url,
        )
        for e in batch.events
    )
    return replace(
        sample,
        number=1,
        title=first.title,
        description=first.description,
        severity=first.severity,
        status=Status.TRIGGERED,
        service=route(settings, name, first),
        integration=name,
        labels=dict(first.labels),
        alerts=alerts,
        alert_count=len(alerts),
        timeline=sample.timeline[:1],
        acked_by=None,
        acked_at=None,
    )


def _import_ics(settings: Settings, args: argparse.Namespace, zone: str) -> int:
    from gateway.ical import overrides_from_ical  # noqa: PLC0415

    people = {name: name for name in settings.members} | {
        m.email: name for name, m in settings.members.items() if m.email
    }
    now = datetime.now(UTC)
    try:
        found = overrides_from_ical(
            args.import_ics.read_bytes(),
            people,
            start=now,
            end=now + timedelta(days=args.days_ahead),
            timezone=zone,
        )
    except (OSError, ValueError) as exc:
        print(f"ackgate: {args.import_ics}: {exc}", file=sys.stderr)
        return 1
    for problem in found.problems:
        print(f"# skipped: {problem}", file=sys.stderr)
    for o in found.overrides:
        print(f"[[schedules.{args.schedule}.overrides]]")
        print(f'member = "{o.member}"')
        print(f'start = "{o.start.isoformat()}"')
        print(f'end = "{o.end.isoformat()}"')
        print()
    return 0


def _instant(text: str | None) -> datetime:
    """``--at``: RFC 3339 (naive means UTC), or now; raises ValueError."""
    if not text:
        return datetime.now(UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _oncall(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.links import feed_token  # noqa: PLC0415
    from gateway.schedules import on_call, shifts  # noqa: PLC0415

    schedule = settings.schedules.get(args.schedule)
    if schedule is None:
        known = ", ".join(sorted(settings.schedules)) or "none"
        print(f"ackgate: no schedule named {args.schedule!r} (known: {known})", file=sys.stderr)
        return 1
    if args.import_ics is not None:
        return _import_ics(settings, args, schedule.timezone)
    if args.feed:
        token = feed_token(settings.server.secret_key.get_secret_value(), args.schedule)
        print(f"{settings.server.base_url}/v1/schedules/{args.schedule}.ics?token={token}")
        return 0
    try:
        at = _instant(args.at)
    except ValueError:
        print(f"ackgate: --at {args.at!r}: use e.g. 2026-11-27T09:00:00+01:00", file=sys.stderr)
        return 1
    now = on_call(schedule, at)
    print(f"{args.schedule} at {at.isoformat()}: {', '.join(now) or 'nobody'}")
    for shift in shifts(schedule, at, at + timedelta(days=max(args.days, 0))):
        span = f"{shift.start:%Y-%m-%d %H:%M} – {shift.end:%Y-%m-%d %H:%M} UTC"
        print(f"  {span}  {shift.member} ({shift.layer or 'override'})")
    return 0


def _serve(settings: Settings) -> int:
    from aiohttp import web  # noqa: PLC0415 - keep check-config fast

    from gateway.logsetup import configure  # noqa: PLC0415
    from gateway.web.app import create_app  # noqa: PLC0415

    configure(settings.logging.level, settings.logging.json_lines)
    host, port = split_listen(settings.server.listen)
    logging.getLogger("gateway").info(
        "ackgate listening on %s:%s (public URL %s)", host, port, settings.server.base_url
    )
    app = create_app(settings)
    app.on_startup.append(_settle_memory)
    web.run_app(app, host=host, port=port, print=None, access_log=None, shutdown_timeout=10)
    return 0


async def _settle_memory(_app: object) -> None:
    """Move everything loaded at start-up out of the collector's way.

    Without this, every full collection walks the whole import graph and pauses the event
    loop for tens of milliseconds: the tail of every request latency.
    """
    gc.collect()
    gc.freeze()


def _send_test(settings: Settings, destination: str) -> int:
    from gateway.sendtest import send_test  # noqa: PLC0415

    try:
        line = asyncio.run(send_test(settings, destination))
    except ValueError as exc:
        print(f"ackgate: {destination}: {exc}", file=sys.stderr)
        return 1
    print(line)
    return 0 if line.startswith("OK") else 1


def _link(settings: Settings, args: argparse.Namespace) -> int:

    from gateway.clock import SystemClock  # noqa: PLC0415
    from gateway.links import LinkSigner, parse_ttl  # noqa: PLC0415

    if args.member not in settings.members:
        print(f"ackgate: no member named {args.member!r}", file=sys.stderr)
        return 1
    number = args.incident.lstrip("#")
    if not number.isdigit():
        print(f"ackgate: {args.incident!r} is not an incident number", file=sys.stderr)
        return 1
    try:
        ttl = parse_ttl(args.ttl) if args.ttl else timedelta(hours=settings.server.link_ttl_h)
    except ValueError:
        print(f"ackgate: --ttl {args.ttl!r}: use e.g. 90m, 24h, 7d", file=sys.stderr)
        return 1
    signer = LinkSigner(settings.server.secret_key.get_secret_value())
    print(
        signer.url(
            settings.server.base_url,
            args.member,
            int(number),
            SystemClock().now(),
            ttl,
        )
    )
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.ingest.simulate import Horizon, simulate  # noqa: PLC0415
    from gateway.links import parse_ttl  # noqa: PLC0415

    name = args.integration
    if name is None:
        if len(settings.integrations) != 1:
            print("ackgate: name the integration with --integration", file=sys.stderr)
            return 1
        name = next(iter(settings.integrations))
    if name not in settings.integrations:
        print(f"ackgate: no integration named {name!r}", file=sys.stderr)
        return 1
    try:
        horizon = Horizon(_instant(args.at), parse_ttl(args.until))
    except ValueError:
        print("ackgate: --at takes RFC 3339, --until e.g. 90m, 2h, 1d", file=sys.stderr)
        return 1
    try:
        body = json.loads(args.alert.read_text(encoding="utf-8"))
        report = asyncio.run(simulate(settings, name, body, horizon))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"ackgate: cannot read {args.alert}: {exc}", file=sys.stderr)
        return 1
    except MalformedPayload as exc:
        print(f"ackgate: {args.alert}: {exc.message}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
