"""Schedules over HTTP: who is on call (JSON) and the rota as an iCal feed to subscribe to."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from aiohttp import web

from gateway.auth import bearer, member_for_token
from gateway.config import Settings
from gateway.errors import MalformedPayload, NotFound, Unauthorized
from gateway.ical import to_ical
from gateway.links import check_feed_token
from gateway.schedules import ScheduleSettings, on_call, shifts
from gateway.web.keys import RUNTIME
from gateway.wire import iso

# The feed covers a week back and a quarter ahead, from midnight UTC so that event ids stay
# the same between two fetches on the same day.
FEED_BACK = timedelta(days=7)
FEED_AHEAD = timedelta(days=90)
NEXT_SHIFTS = timedelta(days=14)


def add_routes(app: web.Application) -> None:
    """Register the schedule routes."""
    app.router.add_get("/v1/schedules", list_schedules)
    app.router.add_get("/v1/schedules/{name}.ics", feed)
    app.router.add_get("/v1/schedules/{name}", get_schedule)


def _schedule(request: web.Request, settings: Settings) -> tuple[str, ScheduleSettings]:
    name = request.match_info["name"]
    found = settings.schedules.get(name)
    if found is None:
        raise NotFound(f"no schedule named {name!r}")
    return name, found


def _require_token(request: web.Request, settings: Settings) -> None:
    if member_for_token(settings, bearer(request)) is None:
        raise Unauthorized("a valid API token is required (Authorization: Bearer …)")


async def list_schedules(request: web.Request) -> web.Response:
    """``GET /v1/schedules``: every schedule and who is on call now."""
    rt = request.app[RUNTIME]
    _require_token(request, rt.settings)
    now = rt.clock.now()
    return web.json_response(
        {
            "schedules": [
                {"name": name, "description": s.description, "on_call": list(on_call(s, now))}
                for name, s in sorted(rt.settings.schedules.items())
            ]
        }
    )


async def get_schedule(request: web.Request) -> web.Response:
    """``GET /v1/schedules/{name}[?at=T]``: who is on call at T (now) and the next shifts."""
    rt = request.app[RUNTIME]
    _require_token(request, rt.settings)
    name, schedule = _schedule(request, rt.settings)
    at = _instant(request.query.get("at")) or rt.clock.now()
    return web.json_response(
        {
            "name": name,
            "at": iso(at),
            "on_call": list(on_call(schedule, at)),
            "shifts": [
                {"member": s.member, "start": iso(s.start), "end": iso(s.end), "layer": s.layer}
                for s in shifts(schedule, at, at + NEXT_SHIFTS)
            ],
        }
    )


async def feed(request: web.Request) -> web.Response:
    """``GET /v1/schedules/{name}.ics``: an API token, or the feed's own ``?token=``."""
    rt = request.app[RUNTIME]
    name, schedule = _schedule(request, rt.settings)
    secret = rt.settings.server.secret_key.get_secret_value()
    token = request.query.get("token")
    if not (token and check_feed_token(secret, name, token)):
        _require_token(request, rt.settings)
    today = datetime.combine(rt.clock.now().date(), time(), tzinfo=rt.clock.now().tzinfo)
    body = to_ical(name, schedule, today - FEED_BACK, today + FEED_AHEAD)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}.ics"'},
    )


def _instant(text: str | None) -> datetime | None:
    """An RFC 3339 ``?at=`` (naive means UTC); raises MalformedPayload."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedPayload("must be an RFC 3339 time", field="at") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
